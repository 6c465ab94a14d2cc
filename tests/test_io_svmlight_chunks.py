"""svmlight files read in parts (fastlr.io.open_chunks) as they are read
whole, and the scan that finds a file's width and index base
(fastlr.io.svmlight_features): bit-identical rows, the same chunk
boundaries, and each error with its message and line, at the chunk that
holds it, on files with everything the format allows."""

import re

import numpy as np
import pytest
from scipy import sparse

import fastlr.io as fio
from fastlr.io import DataError, open_chunks, read_dataset, svmlight_features

#: Lines of everything the readers take: comments (any bytes, ``_`` and
#: ``qid`` in them), blank and whitespace-only lines, qid, CRLF, ``+``
#: signs, exponents, explicit zeros, labels of several spellings.
TRICKY = [
    b"# a header comment: caf\xe9 \xff_qid -0:1\n",
    b"1 qid:3 1:0.5 7:2.5 # a comment after the features\n",
    b"\n",
    b"  \t \n",
    b"-1 2:1e-3 3:-0.0 5:3\r\n",
    b"+1 1:1 2:0 # 3:4 is commented out\n",
    b" \t 0.0 4:7\r\n",
    b"# a line of comment only\n",
    b"2 6:1.5 10:1_0\n",
    b"1.0 +2:1 3:-2.5E+2\n",
    b"\r\n",
    b"-1e0 1:.5\n",
    b"1\n",
    b"0 9:1\n",
]


def tricky_bytes(rows=100, crlf=False, final_newline=True, zero=False):
    out = b"".join(TRICKY[i % len(TRICKY)] for i in range(rows))
    if zero:   # an index 0 far from the start: the file is 0-based
        out += b"1 0:4 2:1\n"
    if crlf:
        out = out.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return out if final_newline else out.rstrip(b"\r\n")


def parts_of(path, chunk_rows, **kw):
    dataset, parts = open_chunks(path, chunk_rows, **kw)
    return dataset, list(parts)


def assert_same_csr(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype == np.float64
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.data.tobytes() == b.data.tobytes()   # (-0.0 would not be dropped)


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("final_newline", [True, False])
@pytest.mark.parametrize("zero", [False, True])
def test_chunks_are_the_whole_read(tmp_path, crlf, final_newline, zero):
    path = tmp_path / "t.svm"
    path.write_bytes(tricky_bytes(150, crlf, final_newline, zero))
    whole = read_dataset(path)
    assert whole.zero_based is zero
    assert svmlight_features(path) == (whole.X.shape[1], zero)
    data_lines = whole.X.shape[0]
    for chunk_rows in (1, 2, 7, 64, data_lines - 1, data_lines, 10**6):
        dataset, parts = parts_of(path, chunk_rows)
        assert dataset.zero_based is zero
        assert len(dataset.feature_names) == whole.X.shape[1]
        sizes = [p[0].shape[0] for p in parts]
        assert sizes == [min(chunk_rows, data_lines - s)
                         for s in range(0, data_lines, chunk_rows)]
        assert all(p[0].has_canonical_format for p in parts)
        assert_same_csr(sparse.vstack([p[0] for p in parts], format="csr"),
                        whole.X)
        y = np.concatenate([p[1] for p in parts])
        assert y.dtype == whole.y.dtype == np.int64
        np.testing.assert_array_equal(y, whole.y)


@pytest.mark.parametrize("zero_based", [False, True])
@pytest.mark.parametrize("n_features", [11, 40])
def test_chunks_for_a_model_are_the_whole_read_for_it(tmp_path, zero_based,
                                                       n_features):
    """A model's width (as wide as the file, or wider: zero columns) and
    index base, as a whole read for that model takes them."""
    path = tmp_path / "t.svm"
    path.write_bytes(tricky_bytes(60))
    whole = read_dataset(path, n_features=n_features, zero_based=zero_based,
                         labels="optional")
    for chunk_rows in (3, 1000):
        _, parts = parts_of(path, chunk_rows, n_features=n_features,
                            zero_based=zero_based, labels="optional")
        assert_same_csr(sparse.vstack([p[0] for p in parts], format="csr"),
                        whole.X)
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]),
                                      whole.y)
        _, parts = parts_of(path, chunk_rows, n_features=n_features,
                            zero_based=zero_based, labels="ignore")
        assert all(p[1] is None for p in parts)


def test_float_labels_in_chunks_are_the_whole_read(tmp_path):
    path = tmp_path / "f.svm"
    path.write_bytes(b"".join(b"%r 1:1 %d:2\n" % (i / 4, i % 5 + 2)
                              for i in range(41)))
    whole = read_dataset(path)
    _, parts = parts_of(path, 8)
    y = np.concatenate([p[1] for p in parts])
    assert y.dtype == whole.y.dtype == np.float64
    np.testing.assert_array_equal(y, whole.y)


#: A bad line, the 27th data line (in the fourth chunk of 8 rows), and what a
#: read in parts for a model of 10 features, 1-based, says of it.
BAD_LINES = {
    "value": (b"1 3:abc\n", "feature 3: 'abc' is not a number"),
    "token": (b"1 3:1 oops\n", "'oops' is not of the form index:value"),
    "label": (b"yes 3:1\n", "the label 'yes' is not a number"),
    "labels": (b"1,2 3:1\n", "the label '1,2' lists several labels"),
    "unsorted": (b"1 5:1 3:1\n", "feature index 3 after 5: indices on a line "
                 "must be sorted and unique (not in increasing order)"),
    "repeated": (b"1 3:1 3:1\n", "feature index 3 after 3: indices on a line "
                 "must be sorted and unique (repeated)"),
    "too large": (b"1 2147483648:1\n", "feature index 2147483648 is too large"),
    "negative": (b"1 -3:1\n", "bad feature index '-3' in '-3:1'"),
    "not utf-8": (b"1 3:\xff\n", "not text (is it really an svmlight file?)"),
    "index 0": (b"1 0:1\n", "has feature index 0 in a file read with 1-based "
                "indices"),
    "wider": (b"1 3:1 11:1\n", "the model was trained on 10 features but this "
              "file has 11 features"),
    "nan": (b"1 3:nan\n", "feature 3 is nan; fastlr needs finite numbers"),
    "inf label": (b"inf 3:1\n", "the label is inf; labels must be finite"),
    "nbsp": (b"1 3:1\xc2\xa0\n", "feature 3: '1\\xa0' is not a number"),
}


def with_bad_line(tmp_path, bad, spaced=False):
    """A file of 40 data lines, the 27th ``bad``, and with ``spaced``
    comment and blank lines between them: (path, data line numbers)."""
    path = tmp_path / "bad.svm"
    lines, numbers = [], []
    for i in range(40):
        if spaced and i % 3 == 0:
            lines += [b"# comment %d\n" % i, b"\n" if i % 2 else b" \t\r\n"]
        lines.append(bad if i == 26 else b"%d 1:1 %d:0.5\n" % (i % 2, i % 9 + 2))
        numbers.append(len(lines))
    path.write_bytes(b"".join(lines))
    return path, numbers


@pytest.mark.parametrize("block", [None, 16])
@pytest.mark.parametrize("spaced", [False, True])
@pytest.mark.parametrize("case", list(BAD_LINES))
def test_an_error_in_a_chunk_names_its_line(tmp_path, monkeypatch, case, spaced,
                                            block):
    if block is not None:   # many blocks of lines
        monkeypatch.setattr(fio, "_SCAN_BYTES", block, raising=False)
    bad, message = BAD_LINES[case]
    path, numbers = with_bad_line(tmp_path, bad, spaced)
    _, parts = open_chunks(path, 8, n_features=10, zero_based=False)
    for _ in range(3):   # the chunks before the bad line's are read
        next(parts)
    with pytest.raises(DataError) as info:
        next(parts)
    assert message in str(info.value) and info.value.line == numbers[26]


def every_read(path):
    """How each reader of ``path`` ends: ``"read"``, or its error's
    message: a whole read, a read in parts of 1, 2 and 1000 rows, each with
    the width and index base unknown (found by the scan) and known (a
    model's), and the scan alone."""
    model = {"n_features": 20, "zero_based": False}
    reads = {"whole": lambda: read_dataset(path),
             "whole for a model": lambda: read_dataset(path, **model),
             "scan": lambda: svmlight_features(path)}
    for n in (1, 2, 1000):
        reads[f"parts of {n}"] = lambda n=n: parts_of(path, n)
        reads[f"parts of {n} for a model"] = lambda n=n: parts_of(path, n, **model)
    got = {}
    for name, read in reads.items():
        try:
            read()
            got[name] = "read"
        except ValueError as exc:   # (a bare ValueError too: it should not be)
            got[name] = f"{type(exc).__name__}: {exc}"
    return got


#: A line with a space beyond ASCII (or \x1c-\x1f, which ``str.split``
#: splits at) as its only token or between tokens: scikit-learn's loader
#: splits lines at ASCII whitespace and reads the bytes of their tokens,
#: so it refuses each, and so does fastlr's rule, naming the line.
NON_ASCII_SPACES = {
    "nbsp alone": (b"\xc2\xa0\n", "the label '\\xa0' is not a number"),
    "em space alone": (b" \xe2\x80\x83 \n", "the label '\\u2003' is not a number"),
    "nbsp last": (b"1 2:3 \xc2\xa0\n", "'\\xa0' is not of the form index:value"),
    "nbsp between": (b"1 1:1\xc2\xa02:3\n",
                     "feature 1: '1\\xa02:3' is not a number"),
    "em space after the label": (b"1\xe2\x80\x83 1:2\n",
                                 "the label '1\\u2003' is not a number"),
    "x1c before a value": (b"1 1:\x1c2\n", "feature 1: '\\x1c2' is not a number"),
}


@pytest.mark.parametrize("case", list(NON_ASCII_SPACES))
def test_every_read_refuses_a_space_beyond_ascii_naming_its_line(tmp_path, case):
    """The third of five data lines: every read raises a DataError naming
    the file and the line (a whole read said "not a valid svmlight file"
    without the line, a read in parts a bare ValueError of ``int()``, and
    the scan took the lines whose tokens ``str.split`` splits)."""
    bad, words = NON_ASCII_SPACES[case]
    path = tmp_path / "s.svm"
    path.write_bytes(b"1 1:1 2:2\n0 3:1\n" + bad + b"1 1:1 2:2\n0 3:1\n")
    got = every_read(path)
    assert got == dict.fromkeys(got, f"DataError: {path}, line 3: {words}")


#: Lines scikit-learn's loader takes but fastlr refuses: every read raises
#: them, wherever they are in the file.
LOADER_TAKES = {
    "qid value": (b"1 qid:abc 3:1\n", "bad qid 'abc'"),
    "qid prefix": (b"1 qidx:3 3:1\n", "bad feature index 'qidx' in 'qidx:3'"),
    "underscore index": (b"1 1_0:1\n", "bad feature index '1_0' in '1_0:1'"),
    "minus zero index": (b"1 -0:1 2:1\n", "bad feature index '-0' in '-0:1'"),
    "minus zeros index": (b"1 -00:1\n", "bad feature index '-00' in '-00:1'"),
    "qid run into an index": (b"1 qid:1\x1c30:4 3:1\n", "bad qid '1\\x1c30:4'"),
    "qid sign": (b"1 qid:+3 3:1\n", "bad qid '+3'"),
}


@pytest.mark.parametrize("case", list(LOADER_TAKES))
def test_every_read_refuses_what_the_loader_takes_and_fastlr_does_not(tmp_path,
                                                                      case):
    """One rule on every path: a whole read and a read in parts for a model
    (no scan) took these lines as scikit-learn's loader does (``1_0:1`` as
    index 10, ``-0:1`` as index 0, any qid), where the scan, and so a read
    in parts without a model, refused them: the same file read or refused
    depending on whether its width was known. Each now raises the same
    DataError naming the file and the line."""
    bad, words = LOADER_TAKES[case]
    path = tmp_path / "s.svm"
    path.write_bytes(b"1 1:1 2:2\n0 3:1\n" + bad + b"1 1:1 2:2\n0 3:1\n")
    got = every_read(path)
    assert got == dict.fromkeys(got, f"DataError: {path}, line 3: {words}")


@pytest.mark.parametrize("block", [None, 64])
@pytest.mark.parametrize("case", list(LOADER_TAKES) + ["not utf-8", "labels"])
def test_the_scan_refuses_each_line_fastlr_refuses(tmp_path, monkeypatch, case,
                                                  block):
    """The scan (a model's width and base unknown) names the first line
    fastlr refuses, where scikit-learn's loader takes some of them."""
    if block is not None:   # many blocks, the line in a late one
        monkeypatch.setattr(fio, "_SCAN_BYTES", block, raising=False)
    bad, message = LOADER_TAKES.get(case) or BAD_LINES[case]
    path, _ = with_bad_line(tmp_path, bad)
    for scan in (lambda: svmlight_features(path), lambda: open_chunks(path, 8)):
        with pytest.raises(DataError) as info:
            scan()
        assert message in str(info.value) and info.value.line == 27


@pytest.mark.parametrize("block", [None, 64])
def test_the_scan_reads_every_line(tmp_path, monkeypatch, block):
    """Width and base from lines anywhere: the largest index and an index 0
    in the last lines, and comments of any bytes."""
    if block is not None:
        monkeypatch.setattr(fio, "_SCAN_BYTES", block, raising=False)
    path = tmp_path / "s.svm"
    head = tricky_bytes(40)
    path.write_bytes(head + b"1 qid:1 3:4\n1 12:1\n")
    assert svmlight_features(path) == (12, False)
    path.write_bytes(head + b"1 12:1\n0 0:1 # last\n")
    assert svmlight_features(path) == (13, True)
    assert svmlight_features(path, zero_based=False) == (12, False)
    path.write_bytes(b"1 5:1 # \xff_ qid -0: \x00\n" * 20 + b"1 2:1")
    assert svmlight_features(path) == (5, False)


@pytest.mark.parametrize("text", ["", "# a comment\n# another\n", "\n  \n\t\n"],
                         ids=["empty", "comments", "blank"])
def test_a_file_without_rows_is_said_so_by_every_reader(tmp_path, text):
    """No line holds a label: "no data rows" from the whole read, the
    chunks and the scan, as a read at a model's width said; lines of
    labels alone are rows without a feature."""
    path = tmp_path / "e.svm"
    path.write_text(text)
    for read in (lambda: read_dataset(path), lambda: list(fio.iter_chunks(path, 2)),
                 lambda: svmlight_features(path),
                 lambda: read_dataset(path, n_features=3),
                 lambda: list(fio.iter_chunks(path, 2, n_features=3))):
        with pytest.raises(DataError) as info:
            read()
        assert str(info.value) == f"{path}: no data rows"
    path.write_text(text + "1\n")
    for read in (lambda: read_dataset(path), lambda: list(fio.iter_chunks(path, 2)),
                 lambda: svmlight_features(path)):
        with pytest.raises(DataError) as info:
            read()
        assert str(info.value) == f"{path}: has no features"


def test_unseen_features_are_ignored_as_libsvm_ignores_them(tmp_path):
    """unseen_features="ignore": the entries of an svmlight file beyond
    n_features are left out (the rows are those of the file without them,
    to the bit), with one warning counting the whole file's, whole and in
    parts of any size; "raise" (the default) names the file's width in
    parts as a whole read does, not the widest row of the chunk."""
    wide = tmp_path / "wide.svm"
    wide.write_bytes(b"1 1:1 3:2\n-1 2:1 5:3 6:4 7:1\n# c\n1 4:1\n-1 3:1 6:2\n1 2:2\n")
    cut = tmp_path / "cut.svm"
    cut.write_bytes(b"1 1:1 3:2\n-1 2:1 5:3\n# c\n1 4:1\n-1 3:1\n1 2:2\n")
    want = read_dataset(cut, n_features=5)
    message = (f"{wide}: ignored 3 entries in 2 rows at feature indices beyond "
               "the model's 5 features (this file has 7), as LIBSVM ignores them")
    with pytest.warns(UserWarning) as caught:
        got = read_dataset(wide, n_features=5, unseen_features="ignore")
    assert len(caught) == 1 and str(caught[0].message).startswith(message)
    assert_same_csr(got.X, want.X)
    np.testing.assert_array_equal(got.y, want.y)
    for rows in (1, 2, 1000):
        with pytest.warns(UserWarning) as caught:
            _, parts = parts_of(wide, rows, n_features=5, zero_based=False,
                                unseen_features="ignore")
        assert len(caught) == 1 and str(caught[0].message).startswith(message)
        assert_same_csr(sparse.vstack([X for X, _, _ in parts]).tocsr(), want.X)
        with pytest.raises(fio.FeatureMismatchError,
                           match="trained on 5 features but this file has 7 "
                                 "features") as info:
            parts_of(wide, rows, n_features=5, zero_based=False)
        assert info.value.line == 2 and info.value.n_found == 7
    with pytest.raises(ValueError, match="unseen_features must be 'raise' or "
                                         "'ignore', got 'drop'"):
        read_dataset(wide, n_features=5, unseen_features="drop")


def test_read_xy_takes_n_features(tmp_path):
    """read_xy(n_features=), as load_svmlight_file(n_features=): a training
    and a test file read at one width."""
    path = tmp_path / "t.svm"
    path.write_bytes(b"1 1:1 3:2\n-1 2:1\n")
    X, _ = fio.read_xy(path, n_features=6)
    assert X.shape == (2, 6)
    with pytest.raises(fio.FeatureMismatchError):
        fio.read_xy(path, n_features=2)
    with pytest.raises(ValueError, match="n_features must be an integer >= 1"):
        fio.read_xy(path, n_features="6")


def test_index_zero_in_a_file_read_1_based_says_the_same_and_what_to_do(tmp_path):
    """An index 0 with zero_based=False: a whole read spoke of a model
    ("but the model was trained on a file with 1-based indices") where
    there may be none, a read in parts said otherwise, and neither said
    what to do. Both now say it alike: read it 0-based, or train a model
    trained 1-based again with --zero-based yes."""
    path = tmp_path / "zero.svm"
    path.write_bytes(b"1 1:1\n# c\n-1 0:1 2:1\n")
    said = []
    for read in (lambda: read_dataset(path, zero_based=False),
                 lambda: parts_of(path, 1, zero_based=False),
                 lambda: parts_of(path, 1, zero_based=False, n_features=4)):
        with pytest.raises(DataError) as info:
            read()
        said.append(str(info.value))
        assert info.value.line == 3
    assert said[0] == said[1] == said[2]
    assert "the model" not in said[0]
    assert "has feature index 0 in a file read with 1-based indices: a model " \
        "trained on 1-based indices" in said[0]
    assert "so train it again on 0-based indices (fastlr train --zero-based yes)" \
        in said[0]
    assert "a file whose indices start at 0 is read with zero_based=True " \
        "(--zero-based yes on the command line)" in said[0]


@pytest.mark.parametrize("content, said", [
    (b"\xef\xbb\xbf1 1:0.5 2:1\n-1 3:1\n", "byte order mark (BOM); save it without"),
    (b"1 1:0.5 2:1\r-1 1:1 3:2\r1 2:1\r", "carriage return alone"),
])
def test_a_bom_or_cr_line_ends_are_named(tmp_path, content, said):
    """A svmlight file saved with a BOM (Notepad, Excel) was refused for its
    label '\\ufeff1', and one with classic Mac line ends for a token that is
    the next line's label: the message now names the cause, whole and in
    parts. A CRLF file still reads."""
    path = tmp_path / "odd.svm"
    path.write_bytes(content)
    for read in (lambda: read_dataset(path), lambda: parts_of(path, 1)):
        with pytest.raises(DataError, match=re.escape(said)) as info:
            read()
        assert info.value.line == 1
    crlf = tmp_path / "crlf.svm"
    crlf.write_bytes(b"1 1:0.5 2:1\r\n-1 1:1 3:2\r\n")
    assert read_dataset(crlf).X.shape == (2, 3)
