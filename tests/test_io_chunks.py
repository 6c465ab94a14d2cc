"""Out-of-core: fastlr.io.iter_chunks, partial_fit over chunks, memmaps."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import dump_svmlight_file

import fastlr
from fastlr.io import DataError, iter_chunks, read_xy


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4)) * [1, 2, 3, 4] + [0, 1, -1, 2]
    y = (X @ [1.0, -0.5, 0.25, 0.1] + rng.logistic(size=1000) > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def files(tmp_path_factory, data):
    X, y = data
    d = tmp_path_factory.mktemp("chunks")
    paths = {}
    paths["npy"] = d / "data.npy"
    np.save(paths["npy"], np.column_stack([X, y]))
    paths["csv"] = d / "data.csv"
    with open(paths["csv"], "w") as f:
        f.write("a,b,c,d,label\n")
        for row, label in zip(X, y, strict=True):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    paths["svmlight"] = d / "data.svm"
    dump_svmlight_file(X, y, str(paths["svmlight"]), zero_based=False)
    paths["npz"] = d / "data.npz"
    np.savez(paths["npz"], X=X, y=y)
    return paths


@pytest.mark.parametrize("fmt", ["npy", "csv", "svmlight", "npz"])
@pytest.mark.parametrize("chunk_rows", [1, 64, 333, 5000])
def test_chunks_concatenate_to_read_xy(files, fmt, chunk_rows):
    Xa, ya = read_xy(files[fmt])
    chunks = list(iter_chunks(files[fmt], chunk_rows))
    assert all(X.shape[0] <= chunk_rows for X, _ in chunks)
    assert len(chunks) == -(-Xa.shape[0] // chunk_rows)
    if fmt == "svmlight":  # sparse all the way: CSR chunks of a CSR file
        assert sparse.isspmatrix_csr(Xa)
        assert all(sparse.isspmatrix_csr(X) for X, _ in chunks)
        joined = sparse.vstack([X for X, _ in chunks], format="csr")
        np.testing.assert_array_equal(joined.toarray(), Xa.toarray())
    else:
        np.testing.assert_array_equal(np.concatenate([X for X, _ in chunks]), Xa)
    np.testing.assert_array_equal(np.concatenate([y for _, y in chunks]), ya)


@pytest.fixture(scope="module")
def wide_svm(tmp_path_factory):
    """200 rows x 50,000 features, ~8 non-zeros a row, 1-based, with comment
    and blank lines: 80 MB if densified, a few kB as written."""
    rng = np.random.default_rng(3)
    m, n = 200, 50_000
    rows = [np.sort(rng.choice(n, rng.integers(0, 16), replace=False))
            for _ in range(m)]
    vals = [rng.normal(size=r.shape[0]).round(5) + 0.0 for r in rows]
    y = rng.integers(0, 2, m)
    path = tmp_path_factory.mktemp("wide") / "wide.svm"
    lines = ["# wide, sparse"]
    for i in range(m):
        pairs = " ".join(f"{j + 1}:{float(v)!r}"
                         for j, v in zip(rows[i], vals[i], strict=True) if v != 0)
        lines.append(f"{y[i]} {pairs}".rstrip())
        if i % 37 == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n")
    dense = np.zeros((m, n))
    for i in range(m):
        dense[i, rows[i]] = vals[i]
    return path, dense, y


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 200, 1000])
def test_svmlight_chunks_are_csr_and_stack_to_the_file(wide_svm, chunk_rows):
    path, dense, y = wide_svm
    chunks = list(iter_chunks(path, chunk_rows, n_features=dense.shape[1],
                              zero_based=False))
    whole = read_xy(path)[0]
    assert whole.shape == (200, max(j + 1 for j in np.nonzero(dense)[1]))
    for X, _ in chunks:
        assert sparse.isspmatrix_csr(X) and X.dtype == np.float64
        assert X.has_canonical_format and X.shape[1] == dense.shape[1]
        assert X.shape[0] <= chunk_rows
    joined = sparse.vstack([X for X, _ in chunks], format="csr")
    assert joined.shape == dense.shape and joined.nnz == np.count_nonzero(dense)
    np.testing.assert_array_equal(joined.toarray(), dense)
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), y)
    # without n_features the scan finds the widest row, as read_xy does
    scanned = sparse.vstack([X for X, _ in iter_chunks(path, chunk_rows)])
    assert scanned.shape == whole.shape
    assert (scanned != whole).nnz == 0


def test_partial_fit_over_svmlight_chunks_equals_fit(wide_svm):
    """CSR chunks train as the whole CSR file does (batches never straddle
    chunks when the chunk size is a multiple of batch_size)."""
    path, dense, _ = wide_svm
    X, y = read_xy(path)
    kw = dict(lr=0.1, batch_size=10, standardize=False, shuffle=False, penalty=None,
              tol=None, solver="sgd")
    fit = fastlr.LogisticRegression(max_iter=3, **kw).fit(X, y)
    stream = fastlr.LogisticRegression(**kw)
    for _ in range(3):
        for Xc, yc in iter_chunks(path, 40, n_features=X.shape[1]):
            stream.partial_fit(Xc, yc, classes=[0, 1])
    np.testing.assert_allclose(stream.coef_, fit.coef_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(stream.intercept_, fit.intercept_, rtol=1e-12)


def test_partial_fit_over_chunks_equals_fit(files, data):
    """Same batches in the same order: partial_fit over chunks (whose size is
    a multiple of batch_size) is fit on the loaded data, epoch for epoch."""
    X, y = data
    kw = dict(lr=0.05, batch_size=25, standardize=False, shuffle=False, penalty=None,
              tol=None, solver="sgd")
    fit = fastlr.LogisticRegression(max_iter=3, **kw).fit(X, y)
    stream = fastlr.LogisticRegression(**kw)
    for _ in range(3):
        for Xc, yc in iter_chunks(files["csv"], 200, target="label"):
            stream.partial_fit(Xc, yc, classes=[0, 1])
    np.testing.assert_allclose(stream.coef_, fit.coef_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(stream.intercept_, fit.intercept_, rtol=1e-12)


def test_memmap_trains_without_copy(tmp_path, data):
    """train on a read-only np.memmap: same model as in memory, X not copied."""
    X, y = data
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    assert isinstance(Xm, np.memmap) and not Xm.flags.writeable
    a = fastlr.train(Xm, y, epochs=3, random_state=0)
    b = fastlr.train(X, y, epochs=3, random_state=0)
    np.testing.assert_array_equal(a.w, b.w)
    assert a.b == b.b
    from fastlr._validation import check_X
    assert np.shares_memory(check_X(Xm), Xm)


def test_streaming_peak_memory_is_bounded_by_the_chunk(tmp_path):
    """Train on a file several times larger than the chunk; the process's peak
    RSS grows by far less than the file (measured in a fresh process, with the
    peak reset after imports and kernel loading)."""
    m, n = 1_000_000, 10
    path = tmp_path / "big.npy"
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:  # written in parts: this process stays small too
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (m, n + 1)})
        for _ in range(10):
            part = rng.normal(size=(m // 10, n + 1))
            part[:, -1] = part[:, 0] > 0
            part.tofile(f)
    size = os.path.getsize(path)
    code = textwrap.dedent(f"""
        import gc, numpy as np, fastlr
        from fastlr.io import iter_chunks
        def hwm():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) * 1024
        clf = fastlr.LogisticRegression(batch_size=100, random_state=0)
        X0, y0 = next(iter_chunks({str(path)!r}, 1000))
        clf.partial_fit(X0, y0, classes=[0, 1])   # load kernels, sklearn
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = hwm()
        for X, y in iter_chunks({str(path)!r}, 20_000):
            clf.partial_fit(X, y)
        print(hwm() - before, clf.score(X, y))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    added, score = int(out[0]), float(out[1])
    chunk_bytes = 20_000 * (n + 1) * 8
    assert score > 0.95  # it really trained
    assert added < 10 * chunk_bytes  # a few chunk-sized temporaries at most
    assert added < size / 10  # and nowhere near the file (88 MB)


@pytest.mark.parametrize("fmt, content, line", [
    ("csv", "a,b,label\n1,2,0\n3,x,1\n", 3),
    ("csv", "a,b,label\n1,2,0\n3,4\n", 3),
    ("svmlight", "0 1:1.0 2:2.0\n1 1:oops\n", 2),
], ids=["csv-not-a-number", "csv-wrong-width", "svmlight-bad-value"])
def test_malformed_line_named(tmp_path, fmt, content, line):
    path = tmp_path / ("bad." + ("svm" if fmt == "svmlight" else fmt))
    path.write_text(content)
    with pytest.raises(DataError, match=f"line {line}") as exc:
        list(iter_chunks(path, 1))
    assert str(path) in str(exc.value)


def test_truncated_npy_named(tmp_path):
    path = tmp_path / "t.npy"
    np.save(path, np.zeros((100, 3)))
    raw = path.read_bytes()
    path.write_bytes(raw[:-100])
    with pytest.raises(DataError, match="truncated"):
        list(iter_chunks(path, 10))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 1000])
def test_fortran_npy_chunks_are_the_c_tables(tmp_path, dtype, chunk_rows):
    """A table in Fortran order (np.save of a DataFrame's to_numpy()) was
    refused in chunks: each chunk's rows are read a column at a time, to
    the chunks the table in C order gives (features, labels, kept IDs)."""
    rng = np.random.default_rng(3)
    table = np.column_stack([np.arange(100) + 1000, rng.normal(size=(100, 4)) * 10,
                             rng.integers(0, 3, 100)]).astype(dtype)
    np.save(tmp_path / "c.npy", table)
    np.save(tmp_path / "f.npy", np.asfortranarray(table))

    def parts(name):
        return list(fastlr.io.open_chunks(tmp_path / name, chunk_rows, drop=[0],
                                          keep=0)[1])

    c, f = parts("c.npy"), parts("f.npy")
    assert len(f) == len(c) == -(-100 // chunk_rows)
    for got, want in zip(f, c, strict=True):
        assert got[0].flags.c_contiguous
        for u, v in zip(got, want, strict=True):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_cut_shorter_while_read_in_chunks_is_named(tmp_path, order):
    """A table cut shorter after its header was checked: the chunk that
    reaches past its end is an error naming it, not a short chunk."""
    path = tmp_path / "t.npy"
    np.save(path, np.asarray(np.ones((100, 3)), order=order))
    parts = fastlr.io.open_chunks(path, 60)[1]
    os.truncate(path, os.path.getsize(path) - 8 * 50)
    with pytest.raises(DataError, match="is truncated: the header promises 100 "
                       "rows but the data end after row"):
        list(parts)


def test_bad_chunk_rows(files):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="chunk_rows"):
            list(iter_chunks(files["npy"], bad))


@pytest.mark.parametrize("case", ["svm_plus_index", "svm_bytes_in_comment",
                                  "npy_bool", "npy_float16", "npy_int64"])
def test_chunks_read_what_the_whole_file_reader_reads(tmp_path, case):
    """Whatever the whole-file reader accepts, chunks of it read the same:
    an svmlight index with a + sign and a comment of any bytes (as
    scikit-learn's parser), .npy labels of any numeric dtype converted as
    the table is (bool labels are 0/1, float16 ones compared without
    overflow)."""
    if case.startswith("svm"):
        path = tmp_path / "d.svm"
        comment = "# caf\xe9".encode("latin-1") if case == "svm_bytes_in_comment" \
            else b""
        index = b"+1" if case == "svm_plus_index" else b"1"
        path.write_bytes(b"1 " + index + b":1 " + comment + b"\n0 2:1\n1 1:2\n")
    else:
        path = tmp_path / "d.npy"
        dtype = {"npy_bool": np.bool_, "npy_float16": np.float16,
                 "npy_int64": np.int64}[case]
        np.save(path, np.array([[1, 0, 1], [0, 1, 0], [1, 1, 1]], dtype=dtype))
    X, y = read_xy(path)
    chunks = list(iter_chunks(path, 2))
    Xc = [c[0].toarray() if sparse.issparse(c[0]) else c[0] for c in chunks]
    np.testing.assert_array_equal(np.vstack(Xc),
                                  X.toarray() if sparse.issparse(X) else X)
    yc = np.concatenate([c[1] for c in chunks])
    assert yc.dtype == y.dtype == np.int64 and yc.tolist() == y.tolist()


def test_svmlight_without_features_is_refused_in_chunks_as_whole(tmp_path):
    """Lines with labels and no feature: the whole read says so; chunks
    became a one-column all-zero matrix, and the CLI trained on nothing."""
    path = tmp_path / "labels.svm"
    path.write_text("1\n0\n1 qid:2\n0\n")
    with pytest.raises(DataError, match="has no features"):
        read_xy(path)
    with pytest.raises(DataError, match="has no features"):
        list(iter_chunks(path, 2))
    with pytest.raises(DataError, match="has no features"):
        fastlr.io.svmlight_features(path)
    # a model's width stands in, as for a whole read
    assert [c[0].shape for c in iter_chunks(path, 2, n_features=3)] == [(2, 3), (2, 3)]


@pytest.mark.parametrize("labels", ["required", "ignore"])
@pytest.mark.parametrize("fmt", ["csv", "npy", "svmlight", "npz"])
def test_open_chunks_reads_for_a_model_what_read_dataset_reads(files, fmt, labels):
    """The parts of a file read for a model (its number and names of
    features, the label column ignored or not) join to read_dataset's X and
    y, its columns described alike; the kept column's values are
    read_column's."""
    from fastlr.io import open_chunks, read_column, read_dataset

    path = files[fmt]
    kw = dict(labels=labels, n_features=4)
    keep = {"csv": "a", "npy": 0}.get(fmt)
    if fmt == "csv":
        kw["feature_names"] = ["d", "b", "c"]   # by name, in the model's order
        kw.update(n_features=3, drop=["a"], model_target="label")
    elif fmt == "npy":
        kw.update(n_features=3, drop=[0])
    whole = read_dataset(path, **kw)
    dataset, parts = open_chunks(path, 300, keep=keep, **kw)
    parts = list(parts)
    assert [p[0].shape[0] for p in parts] == [300, 300, 300, 100]
    X = np.concatenate([p[0].toarray() if fmt == "svmlight" else p[0] for p in parts])
    np.testing.assert_array_equal(X, whole.X.toarray() if fmt == "svmlight"
                                  else whole.X)
    if labels == "ignore":
        assert whole.y is None and all(p[1] is None for p in parts)
    else:
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), whole.y)
    for name in ("feature_names", "target", "format", "zero_based"):
        assert list(getattr(dataset, name)) == list(getattr(whole, name)) \
            if name == "feature_names" else getattr(dataset, name) == \
            getattr(whole, name), name
    assert dataset.X is None and dataset.y is None
    if keep is None:
        assert all(p[2] is None for p in parts)
    else:
        np.testing.assert_array_equal(np.concatenate([p[2] for p in parts]),
                                      read_column(path, keep))


@pytest.mark.parametrize("fmt", ["svmlight", "npz"])
def test_open_chunks_keeps_columns_of_tables_only(files, fmt):
    from fastlr.io import open_chunks

    with pytest.raises(ValueError, match="keep: .* no columns besides"):
        open_chunks(files[fmt], 100, keep=0)


def test_a_row_wider_than_the_model_is_named_in_chunks_as_whole(tmp_path):
    from fastlr.io import FeatureMismatchError, open_chunks, read_dataset

    path = tmp_path / "w.svm"
    path.write_text("1 1:0.5 2:1\n0 1:1\n1 1:2 7:3\n")
    with pytest.raises(FeatureMismatchError) as whole:
        read_dataset(path, n_features=2, zero_based=False)
    with pytest.raises(FeatureMismatchError) as parts:
        list(open_chunks(path, 2, n_features=2, zero_based=False)[1])
    assert str(parts.value) == str(whole.value)
    assert "line 3" in str(whole.value) and "7 features" in str(whole.value)


def _parts(path, chunk_rows, **kw):
    """(X, y, kept) of every part of ``path``, or the parts read before an
    error and the error."""
    parts = []
    try:
        for part in fastlr.io.open_chunks(path, chunk_rows, **kw)[1]:
            parts.append(part)
    except DataError as exc:
        return parts, exc
    return parts, None


#: CSV bodies (after the header ``a,b,label``) that a chunk may read through
#: its fast path (np.loadtxt) or must not, each with the rows' features.
TRICKY_CSV = {
    "crlf": ("1.5,2,x\r\n3,4e-3,y\r\n5,6,x\r\n", [[1.5, 2], [3, 4e-3], [5, 6]]),
    "cr": ("1.5,2,x\r3,4,y\r5,6,x\r", [[1.5, 2], [3, 4], [5, 6]]),
    "blank_lines": ("\n1,2,x\n\n\r\n3,4,y\n\n5,6,x\n\n", [[1, 2], [3, 4], [5, 6]]),
    "no_final_break": ("1,2,x\n3,4,y\n5,6,x", [[1, 2], [3, 4], [5, 6]]),
    "spaces": (" 1 ,\t2\t, x \n 3,4 ,y\n5, 6 ,  x\n", [[1, 2], [3, 4], [5, 6]]),
    "quoted_numbers": ('"1",2,x\n3,"4",y\n5,6,"x"\n', [[1, 2], [3, 4], [5, 6]]),
    "multiline_label": ('1,2,"x\ny"\n3,4,y\n5,6,"a,\n\nb"\n7,8,x\n',
                        [[1, 2], [3, 4], [5, 6], [7, 8]]),
    "text_labels": ("1,2,1_0\n3,4,\u0661\n5,6,caf\xe9\n", [[1, 2], [3, 4], [5, 6]]),
    "nbsp_around_numbers": ("\xa01,2,x\n3,4\u3000,y\n5,6,x\n", [[1, 2], [3, 4], [5, 6]]),
    "many_digits": ("0.1000000000000000055511151231257827,1e-320,x\n"
                    "9007199254740993,1.7976931348623157e308,y\n-0,.5,x\n",
                    [[0.1, 1e-320], [9007199254740992.0, 1.7976931348623157e308],
                     [-0.0, 0.5]]),
}


@pytest.mark.parametrize("case", list(TRICKY_CSV))
@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_csv_chunks_read_tricky_files_as_a_whole_read(tmp_path, case, chunk_rows):
    """Every part of a CSV, whichever way its rows are parsed (np.loadtxt on
    a plain block, the csv module on one with quotes or beyond ASCII),
    holds the rows of a whole read: the same bits of X, the label and the
    kept column's text, for a BOM, CRLF or CR lines, blank lines, spaces,
    quotes, a text label spanning lines and numbers at float's limits."""
    body, want = TRICKY_CSV[case]
    path = tmp_path / "d.csv"
    path.write_bytes(("\ufeffa,b,label\n" + body).encode())
    whole = fastlr.io.read_dataset(path, text_labels=True)
    parts, exc = _parts(path, chunk_rows, text_labels=True)
    assert exc is None
    assert [p[0].shape[0] for p in parts] == \
        [min(chunk_rows, len(want) - i) for i in range(0, len(want), chunk_rows)]
    X = np.concatenate([p[0] for p in parts])
    assert X.dtype == np.float64 and all(p[0].flags.c_contiguous for p in parts)
    assert X.tobytes() == whole.X.tobytes() == np.array(want, dtype=np.float64).tobytes()
    assert np.concatenate([p[1] for p in parts]).tolist() == whole.y.tolist()
    kept = _parts(path, chunk_rows, labels="ignore", drop=["label"], keep="label")[0]
    assert np.concatenate([p[2] for p in kept]).tolist() == \
        fastlr.io.read_column(path, "label").tolist()
    # the labels typed per part, as a whole read types them
    assert np.concatenate([p[1] for p in _parts(path, 100)[0]]).tolist() == \
        fastlr.io.read_dataset(path).y.tolist()


#: What a message on a text field (in column 'b') and on an empty one add.
TEXT_HINT = (". Text columns are not features: leave them out with drop=['b'] "
             "(--drop b on the command line), or encode them as numbers")
EMPTY_HINT = ". Fill in the missing values, or drop those rows"


@pytest.mark.parametrize("bad, words", [
    ("1,3\x1c,0", "column 'b': '3\\x1c' is not a number"),
    ("1,\x1f3,0", "column 'b': '\\x1f3' is not a number"),
    ("1,1_0,0", "column 'b': '1_0' is not a number"),
    ("1,\u0661,0", "column 'b': '\u0661' is not a number"),
    ("1,0x10,0", "column 'b': '0x10' is not a number" + TEXT_HINT),
    ('1,",0', "expected 3 fields (as in the header), got 2; this row runs on to line "
     "31: is a quote (\") left open?"),
    ("1,\x00,0", "column 'b': '\\x00' is not a number"),
    ("1,,0", "empty value in column 'b' (missing values are not supported)"
     + EMPTY_HINT),
    ("1, ,0", "empty value in column 'b' (missing values are not supported)"
     + EMPTY_HINT),
    ("1,nan,0", "column 'b': 'nan' is not a finite number (no NaN, inf or missing "
     "values). 'nan' marks a missing value, and missing values are not "
     "supported: fill them in, or drop those rows"),
    ("1,-inf,0", "column 'b': '-inf' is not a finite number (no NaN, inf or missing "
     "values)"),
    ("1,1e999,0", "column 'b': '1e999' is not a finite number (no NaN, inf or "
     "missing values)"),
    ("1,2,0,3", "expected 3 fields (as in the header), got 4"),
    ("1,2", "expected 3 fields (as in the header), got 2"),
    ("1,2,", "empty value in the target column 'label'"),
    ("1,2,nan", "the label 'nan' in column 'label' is not a finite number"),
    ("1,2,1e999", "the label '1e999' in column 'label' is not a finite number"),
], ids=["x1c", "x1f", "digit_group", "arabic_digit", "hex", "quote", "nul", "empty",
        "blank", "nan", "inf", "overflow", "wide_row", "short_row", "empty_label",
        "nan_label",
        "overflowing_label"])
@pytest.mark.parametrize("chunk_rows", [1, 4, 16])
def test_csv_chunks_raise_what_a_whole_read_raises_in_the_chunk_holding_it(
        tmp_path, bad, words, chunk_rows):
    """A bad field on line 12 of 30 plain rows: raised with the whole read's
    message and line once the parts before its part are read, whether the
    parser of plain blocks or the csv module finds it. (A number next to
    \\x1c-\\x1f, which float() refuses and np.loadtxt strips as
    whitespace, was taken by a whole read of a file of numbers.)"""
    lines = ["a,b,label"] + [f"{i}.25,{i % 7}e-1,{i % 2}" for i in range(30)]
    lines[11] = bad
    path = tmp_path / "d.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    for text_labels in (False, True):
        with pytest.raises(DataError) as whole:
            fastlr.io.read_dataset(path, text_labels=text_labels)
        assert str(whole.value) == f"{path}, line 12: {words}"
        parts, exc = _parts(path, chunk_rows, text_labels=text_labels)
        assert str(exc) == str(whole.value) and exc.line == 12
        assert len(parts) == 10 // chunk_rows   # the parts before row 11's


def test_csv_chunks_after_a_quoted_row_spanning_lines_name_the_lines(tmp_path):
    """Parts read by the csv module (a text label spanning lines) and then
    by the parser of plain blocks: rows and lines stay in step."""
    rows = [f"{i},{i}.5,x" for i in range(12)]
    rows[2] = '2,2.5,"a\nb"'
    rows[9] = "9,oops,x"
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    parts, exc = _parts(path, 3, text_labels=True)
    assert [p[0][:, 0].tolist() for p in parts] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert parts[0][1].tolist() == ["x", "x", "a\nb"]
    assert str(exc) == f"{path}, line 12: column 'b': 'oops' is not a number" + \
        TEXT_HINT


def test_csv_chunks_raise_not_utf8_in_the_chunk_holding_it(tmp_path):
    """A byte that is not UTF-8 on line 1502 of a 44 kB file: the parts up to
    the 8 kB the decoder reads at a time before it are read first."""
    lines = ["a,b,label"] + [f"{i}.5,{i % 10},{i % 2}" for i in range(2000)]
    lines[1501] = "1.5,\udcff,1"
    path = tmp_path / "d.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    parts, exc = _parts(path, 100)
    assert exc.line == 1502 and "is not UTF-8 text" in str(exc)
    assert 5 <= len(parts) <= 15
    assert np.concatenate([p[0] for p in parts])[:, 0].tolist() == \
        [i + 0.5 for i in range(100 * len(parts))]


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
@pytest.mark.parametrize("fmt", ["csv", "npy", "svmlight"])
def test_open_chunks_refuses_a_bad_chunk_size_by_name(files, fmt, bad):
    """(0 gave a bare range() error on .npy, -1 'no data rows'; CSV and
    svmlight took them silently.)"""
    with pytest.raises(ValueError, match=r"chunk_rows must be an integer >= 1"):
        fastlr.io.open_chunks(files[fmt], bad)
