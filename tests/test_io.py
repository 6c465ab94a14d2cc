"""fastlr.io: reading .csv, .npy, .npz and svmlight files into (X, y)."""

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import dump_svmlight_file

from fastlr import io
from fastlr.io import DataError, FeatureMismatchError, read_dataset, read_xy


@contextlib.contextmanager
def no_blocking_on(fifo, seconds=10):
    """Fail (rather than hang) if opening ``fifo`` for reading blocks: after
    ``seconds``, writers keep opening it, which releases blocked readers."""
    done = threading.Event()
    blocked = []

    def release():
        if done.wait(seconds):
            return
        blocked.append(True)
        while not done.wait(0.05):
            try:  # succeeds only while a reader waits in open()
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        assert not blocked, f"opening {fifo} blocked"


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)).round(6)
    y = (X[:, 0] > 0).astype(np.int64)
    return X, y


def csv_text(X, labels, header="a,b,c,label"):
    lines = [header] + [",".join(f"{v!r}" for v in row) + f",{lab}"
                        for row, lab in zip(X.tolist(), labels, strict=True)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# CSV


def test_csv_numeric_labels(tmp_path, table):
    X, y = table
    Xr, yr = read_xy(write(tmp_path / "d.csv", csv_text(X, y)))
    np.testing.assert_array_equal(Xr, X)
    assert Xr.dtype == np.float64 and Xr.flags.c_contiguous
    np.testing.assert_array_equal(yr, y)
    assert yr.dtype == np.int64


def test_csv_string_labels_use_exact_reader(tmp_path, table):
    X, y = table
    labels = np.array(["no", "yes"])[y]
    Xr, yr = read_xy(write(tmp_path / "d.csv", csv_text(X, labels)))
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, labels)
    assert yr.dtype.kind == "U"


def test_csv_whole_float_labels_become_int_and_fractional_stay_float(tmp_path, table):
    X, _ = table
    whole = ["1.0", "0.0"] * 25
    _, y = read_xy(write(tmp_path / "w.csv", csv_text(X, whole)))
    assert y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    frac = ["0.5", "1.5"] * 25
    _, y = read_xy(write(tmp_path / "f.csv", csv_text(X, frac)))
    assert y.dtype == np.float64 and set(y.tolist()) == {0.5, 1.5}


def test_csv_integer_labels_beyond_2_53_stay_apart(tmp_path, table):
    """2**53 + 1 parsed as float64 is 2**53: the whole-file fast path merged
    the two classes (the chunked reader kept them apart); both now parse
    such labels as integers."""
    X, _ = table
    big = ["5", str(2**53), str(2**53 + 1)] * 16 + ["5", "5"]
    path = write(tmp_path / "big.csv", csv_text(X, big))
    _, y = read_xy(path)
    assert y.dtype == np.int64
    assert sorted(set(y.tolist())) == [5, 2**53, 2**53 + 1]
    chunked = np.concatenate([c[1] for c in io.iter_chunks(path, 7)])
    np.testing.assert_array_equal(chunked, y)


@pytest.mark.parametrize("target, feats, label_col", [
    (None, [0, 1, 2], 3), ("label", [0, 1, 2], 3), ("b", [0, 2, 3], 1),
    ("0", [1, 2, 3], 0), ("-2", [0, 1, 3], 2), (1, [0, 2, 3], 1),
], ids=["default_last", "by_name", "by_name_middle", "index", "negative_index",
        "int_index"])
def test_csv_target_selection(tmp_path, table, target, feats, label_col):
    X, y = table
    full = np.column_stack([X, y])
    Xr, yr = read_xy(write(tmp_path / "d.csv", csv_text(X, y)), target=target)
    np.testing.assert_array_equal(Xr, full[:, feats])
    np.testing.assert_array_equal(yr, full[:, label_col])


def test_csv_quotes_bom_blank_lines_and_spaces(tmp_path):
    text = '\ufeff"x 1", x2 ,"label"\n\n"1.5", 2 ,"cat, black"\n3,4,dog\n\n'
    data = read_dataset(write(tmp_path / "d.csv", text))
    assert data.feature_names == ["x 1", "x2"] and data.target == "label"
    np.testing.assert_array_equal(data.X, [[1.5, 2.0], [3.0, 4.0]])
    assert data.y.tolist() == ["cat, black", "dog"]


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolon", "tab"])
def test_csv_delimiter(tmp_path, delimiter):
    text = delimiter.join(["a", "b", "y"]) + "\n" + delimiter.join(["1", "2", "0"]) \
        + "\n" + delimiter.join(["3", "4", "1"]) + "\n"
    X, y = read_xy(write(tmp_path / "d.csv", text), delimiter=delimiter)
    assert X.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]


@pytest.mark.parametrize("delimiter", ['"', "\n", "\r"])
def test_csv_delimiter_that_cannot_separate_is_refused(tmp_path, delimiter):
    path = write(tmp_path / "d.csv", "a,y\n1,0\n2,1\n")
    for read in (read_xy, io.read_header, lambda p, delimiter: list(
            io.iter_chunks(p, 10, delimiter=delimiter))):
        with pytest.raises(ValueError, match="^delimiter must not be the quote"):
            read(path, delimiter=delimiter)


def test_csv_fast_and_exact_readers_agree(tmp_path, table, monkeypatch):
    X, y = table
    path = write(tmp_path / "d.csv", csv_text(X, y))
    fast = read_xy(path)
    monkeypatch.setattr(io, "_csv_fast", lambda *args: None)
    monkeypatch.setattr(io, "_CHUNK_ROWS", 7)  # several chunks
    exact = read_xy(path)
    np.testing.assert_array_equal(fast[0], exact[0])
    np.testing.assert_array_equal(fast[1], exact[1])


@pytest.mark.parametrize("body, line, words", [
    ("1,2,3,0\n4,5,0\n", 3, ["expected 4 fields", "got 3"]),
    ("1,2,3,0\n4,5,6,1,9\n", 3, ["expected 4 fields", "got 5"]),
    ("1,2,3,0\n4,abc,6,1\n", 3, ["column 'b'", "'abc' is not a number"]),
    ("1,2,3,0\n4,,6,1\n", 3, ["empty value in column 'b'"]),
    ("1,2,3,0\n\n4,nan,6,1\n", 4, ["column 'b'", "not a finite number"]),
    ("1,2,3,0\n4,5,inf,1\n", 3, ["column 'c'", "not a finite number"]),
    ("1,2,3,0\n4,5,6,\n", 3, ["empty value in the target column 'label'"]),
    ("1,2,3,0\n4,5,6,nan\n", 3, ["label 'nan'", "not a finite number"]),
], ids=["short_row", "long_row", "not_a_number", "empty", "nan_after_blank",
        "inf", "empty_label", "nan_label"])
def test_csv_malformed_line_names_file_and_line(tmp_path, body, line, words):
    path = write(tmp_path / "bad.csv", "a,b,c,label\n" + body)
    with pytest.raises(DataError) as exc:
        read_xy(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}, line {line}: "), msg
    assert exc.value.line == line and exc.value.path == str(path)
    for word in words:
        assert word in msg


def test_csv_bad_line_in_a_later_chunk(tmp_path, table, monkeypatch):
    X, y = table
    labels = np.array(["no", "yes"])[y]
    text = csv_text(X, labels).splitlines()
    text[41] = text[41].replace(",", ",x", 1)  # line 42 of the file
    monkeypatch.setattr(io, "_CHUNK_ROWS", 8)
    with pytest.raises(DataError, match=r"line 42: column 'b': 'x.*' is not a number"):
        read_xy(write(tmp_path / "d.csv", "\n".join(text) + "\n"))


def test_csv_unknown_column_lists_columns(tmp_path, table):
    X, y = table
    path = write(tmp_path / "d.csv", csv_text(X, y))
    with pytest.raises(DataError, match=r"unknown target column 'price'; the "
                       r"columns are: a, b, c, label"):
        read_xy(path, target="price")
    with pytest.raises(DataError, match="index 4 is out of range for 4 columns"):
        read_xy(path, target="4")


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("\n\n", "is empty"),
    ("a,b,label\n", "no data rows"),
    ("1,2,3\n4,5,6\n", "line 1: the first line looks like data, not a header"),
    ("label\n1\n0\n", "no feature columns"),
], ids=["empty", "blank", "header_only", "no_header", "only_target"])
def test_csv_structural_errors(tmp_path, text, words):
    path = write(tmp_path / "d.csv", text)
    with pytest.raises(DataError, match=words):
        read_xy(path)


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,b,label\n1,2,\xff\xfe\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_xy(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file") as exc:
        read_xy(tmp_path / "nope.csv")
    assert exc.value.filename == str(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(IsADirectoryError):
        read_xy(tmp_path / "dir.csv")
    # whatever the name: a directory (or a missing path) without a known
    # extension was a DataError about the extension
    (tmp_path / "data").mkdir()
    for call in (lambda p: read_xy(p), lambda p: io.read_column(p, 0),
                 lambda p: next(io.iter_chunks(p)), io.feature_columns):
        with pytest.raises(IsADirectoryError):
            call(tmp_path / "data")
        with pytest.raises(FileNotFoundError):
            call(tmp_path / "nope")
    with pytest.raises(ValueError, match="fmt must be one of"):   # checked first
        read_xy(tmp_path / "nope", fmt="excel")


def test_unknown_extension_asks_for_format(tmp_path, table):
    X, y = table
    path = write(tmp_path / "d.txt", csv_text(X, y))
    with pytest.raises(DataError, match=r"cannot tell the format.*'\.txt'"):
        read_xy(path)
    Xr, _ = read_xy(path, fmt="csv")
    np.testing.assert_array_equal(Xr, X)
    with pytest.raises(ValueError, match="fmt must be one of"):
        read_xy(path, fmt="excel")


# --------------------------------------------------------------------------
# CSV problems named with what to do about them


def csv_error(read, path, **kw):
    """The one-line message of the DataError ``read(path, **kw)`` raises."""
    with pytest.raises(DataError) as exc:
        read(path, **kw)
    message = str(exc.value)
    assert "\n" not in message, message
    return message


READS = {"whole": read_dataset,
         "parts": lambda p, **kw: list(io.open_chunks(p, 2, **kw)[1])}


@pytest.mark.parametrize("read", list(READS.values()), ids=list(READS))
@pytest.mark.parametrize("field, words", [
    ("NA", ["column 'a': 'NA' is not a number", "'NA' marks a missing value",
            "fill them in, or drop those rows"]),
    ("N/A", ["'N/A' marks a missing value"]),
    ("NULL", ["'NULL' marks a missing value"]),
    ("#N/A", ["'#N/A' marks a missing value"]),
    ("NaN", ["column 'a': 'NaN' is not a finite number", "'NaN' marks a missing value",
             "fill them in, or drop those rows"]),
    ("", ["empty value in column 'a' (missing values are not supported)",
          "fill in the missing values, or drop those rows"]),
    ("red", ["column 'a': 'red' is not a number", "text columns are not features",
             "drop=['a'] (--drop a on the command line), or encode them as numbers"]),
    ("True", ["'True' is not a number", "text columns are not features"]),
    ('"0,5"', ["column 'a': '0,5' is not a number", "decimal comma",
               "'.' as the decimal separator (a locale setting)"]),
], ids=["NA", "N/A", "NULL", "#N/A", "NaN", "empty", "text", "boolean", "decimal_comma"])
def test_csv_a_field_that_is_not_a_number_says_what_to_do(tmp_path, read, field, words):
    """'NA' was only "not a number", a text column got no hint of --drop, a
    decimal comma none of the locale: each now says what to do, whole as in
    parts, on one line."""
    path = write(tmp_path / "d.csv", f"a,b,label\n1.0,2.0,1\n{field},3.0,0\n"
                 "2.0,1.0,1\n")
    message = csv_error(read, path, target="label")
    assert message.startswith(f"{path}, line 3: "), message
    for word in words:
        assert word.casefold() in message.casefold(), message
    if field not in ("red", "True"):
        assert "drop=" not in message and "text" not in message


TITANIC = ("PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,"
           "Embarked\n"
           '1,0,3,"Braund, Mr. Owen",male,,1,0,A/5 21171,7.25,C85,S\n'
           '2,1,1,"Cumings, Mrs. John",female,38,1,0,PC 17599,71.28,,C\n')


@pytest.mark.parametrize("read", list(READS.values()), ids=list(READS))
def test_csv_every_field_of_the_line_that_is_not_a_number_is_named(tmp_path, read):
    """A Kaggle-style file took seven runs to find its six columns that are
    not numbers, one a run: the first bad line's others are named too, and
    the text columns given as the drop= (--drop) to pass."""
    path = write(tmp_path / "titanic.csv", TITANIC)
    message = csv_error(read, path, target="Survived", drop=["PassengerId"])
    assert message.startswith(f"{path}, line 2: column 'Name': 'Braund, Mr. Owen' "
                              "is not a number; on this line also: 'Sex' ('male'), "
                              "'Age' (empty), 'Ticket' ('A/5 21171'), 'Cabin' "
                              "('C85'), 'Embarked' ('S')"), message
    assert "drop=['Name', 'Sex', 'Ticket', 'Cabin', 'Embarked'] (--drop " \
        "Name,Sex,Ticket,Cabin,Embarked on the command line)" in message
    assert "fill in the missing values, or drop those rows" in message.casefold()
    # dropped as told, the next problem is the missing ages
    message = csv_error(read, path, target="Survived",
                        drop=["PassengerId", "Name", "Sex", "Ticket", "Cabin",
                              "Embarked"])
    assert message.startswith(f"{path}, line 2: empty value in column 'Age'")
    assert "drop=" not in message


def test_csv_text_in_a_models_feature_is_not_told_to_drop_it(tmp_path):
    """For a model, a feature cannot be left out: the hint is to encode it."""
    path = write(tmp_path / "d.csv", "a,b\n1,2\nred,3\n")
    message = csv_error(read_dataset, path, labels="ignore", n_features=2,
                        feature_names=["a", "b"])
    assert "'red' is not a number" in message and "drop" not in message
    assert "the model's features are numbers" in message.casefold()


def test_csv_a_column_name_with_a_comma_is_given_whole(tmp_path):
    """``--drop`` takes a column's name that holds a comma whole; with other
    columns, each by itself (joined, its comma would split it)."""
    path = write(tmp_path / "d.csv", '"Customer, ID",x,label\nabc,1,0\n')
    message = csv_error(read_dataset, path)
    assert "drop=['Customer, ID'] (--drop 'Customer, ID' on the command line)" \
        in message
    path = write(tmp_path / "e.csv", '"Customer, ID",name,x,label\nabc,Ann,1,0\n')
    message = csv_error(read_dataset, path)
    assert ("drop=['Customer, ID', 'name'] (--drop 'Customer, ID' --drop name on "
            "the command line)") in message


@pytest.mark.parametrize("read", list(READS.values()), ids=list(READS))
def test_csv_a_line_of_only_delimiters_is_named_as_such(tmp_path, read):
    """Excel's ',,,' rows were "empty value in the target column"."""
    path = write(tmp_path / "d.csv", "a,b,label\n1,2,0\n,,\n")
    message = csv_error(read, path)
    assert message.startswith(f"{path}, line 3: empty value in the target column "
                              "'label'"), message
    assert "the line holds only delimiters" in message and "delete it" in message
    message = csv_error(read, path, labels="ignore", n_features=2)
    assert message.startswith(f"{path}, line 3: empty value in column 'a'"), message
    assert "this line's features are all empty" in message and "delete" in message
    path = write(tmp_path / "d.csv", "a,b,label\n1,2,0\n   \n")
    message = csv_error(read, path)
    assert message.startswith(f"{path}, line 3: expected 3 fields (as in the header), "
                              "got 1"), message
    assert "the line holds only spaces" in message


@pytest.mark.parametrize("first, delimiter, words", [
    ("sep=;", ",", ["line 1: the first line is Excel's 'sep=;' line", "delete it",
                    "delimiter=';' (--delimiter ';' on the command line)"]),
    ("sep=;", ";", ["line 1: the first line is Excel's 'sep=;' line", "delete it"]),
    ("sep=\t", ",", ["Excel's 'sep=\\t' line", "--delimiter tab"]),
    ("sep=,", ",", ["Excel's 'sep=,' line: delete it"]),
], ids=["semicolon", "semicolon_given", "tab", "comma"])
def test_csv_excels_sep_line_is_named(tmp_path, first, delimiter, words):
    """Excel's ``sep=;`` first line was taken for a header of one column
    (with --delimiter ';', of the columns 'sep=' and '')."""
    sep = first[-1]
    path = write(tmp_path / "d.csv", f"{first}\nx{sep}label\n1{sep}0\n2{sep}1\n")
    for read in (read_dataset, io.read_header, lambda p, **kw: next(
            io.iter_chunks(p, 1, **kw))):
        message = csv_error(read, path, delimiter=delimiter)
        for word in words:
            assert word in message, message
        if sep == delimiter:
            assert "--delimiter" not in message


def test_csv_latin1_and_utf16_are_told_to_save_as_utf8(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("caf\xe9,label\n1.0,1\n2.0,0\n".encode("latin-1"))
    message = csv_error(read_dataset, path)
    assert message.startswith(f"{path}, line 1: is not UTF-8 text (invalid "
                              "continuation byte at byte 3 of the file)"), message
    assert "save it as UTF-8" in message and "really CSV" not in message
    path.write_bytes("a,label\n1.0,1\n2.0,0\n".encode("utf-16"))
    message = csv_error(read_dataset, path)
    assert "UTF-16" in message and "save it as UTF-8" in message
    # (past the decoder's first buffer, which the header's read decodes)
    path.write_bytes(b"a,label\n" + b"1.0,1\n" * 3000 + b"r\xe9d,1\n")
    message = csv_error(io.read_column, path, column="a")
    assert message.startswith(f"{path}, line 3002: is not UTF-8 text"), message
    assert "save it as UTF-8" in message


@pytest.mark.parametrize("name, words", [
    ("d.tsv", ["fmt='csv', delimiter='\\t' (--format csv --delimiter tab on the "
               "command line)"]),
    ("d.txt", ["fmt='csv' (--format csv on the command line",
               "--delimiter tab if tabs separate its fields"]),
    ("d.dat", ["fmt='csv' (--format csv on the command line"]),
    ("d.xyz", ["(--format csv, npy, npz or svmlight on the command line)"]),
])
def test_an_unknown_extension_names_the_option(tmp_path, name, words):
    path = write(tmp_path / name, "a\tlabel\n1.0\t1\n")
    message = csv_error(read_dataset, path)
    assert "cannot tell the format" in message
    for word in words:
        assert word in message, message


# --------------------------------------------------------------------------
# .npy and .npz


def test_npy_target_column(tmp_path, table):
    X, y = table
    np.save(tmp_path / "d.npy", np.column_stack([X, y]).astype(np.float32))
    Xr, yr = read_xy(tmp_path / "d.npy")
    assert Xr.dtype == np.float32  # float32 files stay float32
    np.testing.assert_array_equal(Xr, X.astype(np.float32))
    assert yr.dtype == np.int64 and (yr == y).all()
    Xr, yr = read_xy(tmp_path / "d.npy", target=0)
    np.testing.assert_array_equal(yr, X[:, 0].astype(np.float32))
    with pytest.raises(DataError, match="has no column names; give the target as "
                       "a column index"):
        read_xy(tmp_path / "d.npy", target="label")


def test_npy_integer_table_keeps_its_labels_and_ids(tmp_path):
    """An int64 table was made float64 whole before its columns were taken:
    labels and IDs beyond 2**53 lost their last digits (two classes 2**53 +
    1 and + 3 became 2**53 and 2**53 + 4), IDs came back as '1000.0'."""
    rng = np.random.default_rng(0)
    X = rng.integers(-9, 9, size=(40, 2))
    ids = np.arange(40) + 2**53 + 1
    y = np.array([2**53 + 1, 2**53 + 3])[(X[:, 0] > 0).astype(int)]
    np.save(tmp_path / "d.npy", np.column_stack([ids, X, y]).astype(np.int64))
    data = read_dataset(tmp_path / "d.npy", drop=[0])
    Xr, yr = data.X, data.y
    assert Xr.dtype == np.float64
    np.testing.assert_array_equal(Xr, X)
    assert yr.dtype == np.int64 and yr.tolist() == y.tolist()
    got = io.read_column(tmp_path / "d.npy", 0)
    assert got.dtype == np.int64 and got.tolist() == ids.tolist()
    chunks = list(io.iter_chunks(tmp_path / "d.npy", 16, drop=[0]))
    assert np.concatenate([c[1] for c in chunks]).tolist() == y.tolist()


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.bool_, np.dtype(">f8"),
                                   np.float16])
def test_npy_table_to_convert_is_one_copy(tmp_path, traced_peak, dtype):
    """An integer (or bool, big-endian, float16) table was read whole, then
    converted: the table and its float64 features alive at once (2.2 times
    the features for int64). Memory-mapped, a block of rows is converted at
    a time: one copy, the same values and labels."""
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.integers(-9, 9, size=(100_000, 10)),
                             rng.integers(0, 2, size=100_000)]).astype(dtype)
    np.save(tmp_path / "d.npy", table)
    data, peak = traced_peak(lambda: read_dataset(tmp_path / "d.npy", drop=[3]))
    want = np.delete(table[:, :10], 3, axis=1).astype(np.float64)
    assert data.X.dtype == np.float64 and data.X.flags.c_contiguous
    np.testing.assert_array_equal(data.X, want)
    assert data.y.tolist() == table[:, 10].astype(np.int64).tolist()
    assert peak < 1.3 * want.nbytes, peak / want.nbytes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("drop, cut", [(None, slice(0, 24)), ([0], slice(1, 24)),
                                       (list(range(1, 24, 2)), slice(0, 24, 2)),
                                       ([2], None)])
def test_npy_features_in_place_with_copy_false(tmp_path, traced_peak, dtype,
                                               order, drop, cut):
    """copy=False (prediction reads the features once): a C-ordered float
    table's features that are a slice of its columns are a read-only view
    of the memory-mapped file, not a copy of it into the process's memory;
    other columns (column 2 left out), and a Fortran-ordered table (whose
    rows prediction would sum in another order), are copied as before.
    Values, labels and the NaN message are the same either way."""
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.normal(size=(40_000, 24)),
                             rng.integers(0, 2, size=40_000)]).astype(dtype)
    np.save(tmp_path / "d.npy", np.asarray(table, order=order))
    copied = read_dataset(tmp_path / "d.npy", drop=drop)
    mapped, peak = traced_peak(lambda: read_dataset(tmp_path / "d.npy", drop=drop,
                                                    copy=False))
    np.testing.assert_array_equal(mapped.X, copied.X)
    assert mapped.X.dtype == copied.X.dtype == dtype
    np.testing.assert_array_equal(mapped.y, copied.y)
    assert copied.X.flags.writeable and copied.X.flags.c_contiguous
    if cut is None or order == "F":
        assert mapped.X.flags.writeable and mapped.X.flags.c_contiguous
        assert peak > 0.9 * copied.X.nbytes
        return
    assert not mapped.X.flags.writeable and type(mapped.X) is np.ndarray
    assert peak < 0.3 * copied.X.nbytes, peak / copied.X.nbytes   # (the labels)
    table[123, cut.start + (cut.step or 1)] = np.nan   # feature 2
    np.save(tmp_path / "d.npy", np.asarray(table, order=order))
    with pytest.raises(DataError) as copy_error:
        read_dataset(tmp_path / "d.npy", drop=drop)
    with pytest.raises(DataError) as map_error:
        read_dataset(tmp_path / "d.npy", drop=drop, copy=False)
    assert str(map_error.value) == str(copy_error.value)
    assert "row 124, feature 2" in str(map_error.value)


def test_npy_nan_past_the_first_block_is_named_by_its_row(tmp_path):
    """The finiteness check reads X a block of rows at a time: a NaN in a
    later block is named by its own row, read whole or in place."""
    step = io._COPY_BYTES // (24 * 8)
    table = np.column_stack([np.ones((3 * step, 24)), np.zeros(3 * step)])
    table[2 * step + 5, 3] = np.nan
    np.save(tmp_path / "d.npy", table)
    for copy in (True, False):
        with pytest.raises(DataError, match=f"row {2 * step + 6}, feature 4 "):
            read_dataset(tmp_path / "d.npy", copy=copy)


def test_csv_text_labels_on_request(tmp_path):
    """text_labels keeps CSV labels as written (a model's text classes)."""
    (tmp_path / "d.csv").write_text("a,y\n1,007\n2,012\n3,7\n")
    assert read_xy(tmp_path / "d.csv")[1].tolist() == [7, 12, 7]
    assert read_dataset(tmp_path / "d.csv", text_labels=True).y.tolist() == \
        ["007", "012", "7"]
    got = [c[1].tolist() for c in io.iter_chunks(tmp_path / "d.csv", 2,
                                                  text_labels=True)]
    assert got == [["007", "012"], ["7"]]


@pytest.mark.parametrize("text, number", [
    ("1_5", "15"), ("1e5_0", "1e50"), ("\u0661\u0662", "12"), ("\uff11", "1"),
], ids=["digit_groups", "exponent_groups", "arabic_indic", "full_width"])
def test_csv_digit_groups_and_other_scripts_digits_are_not_numbers(tmp_path, text,
                                                                    number):
    """float(), behind the exact reader (whatever np.loadtxt refuses, and
    every chunk), takes PEP 515's digit groups and any script's digits: a
    feature '1_5' was read as 15, '1e5_0' as 1e50, Arabic-Indic '١٢' as
    12 and full-width '１' as 1, and a label '1_0' was the class 10, where
    np.loadtxt refuses them and pandas keeps them as text."""
    path = write(tmp_path / "x.csv", f"a,b,label\n2,{text},0\n3,4,1\n")
    for read in (lambda: read_xy(path), lambda: list(io.iter_chunks(path, 1))):
        with pytest.raises(DataError, match=f"x.csv, line 2: column 'b': '{text}' "
                           "is not a number"):
            read()
    # a label so written is text, not the class of the number
    path = write(tmp_path / "y.csv", f"a,label\n1,{text}\n2,{number}\n3,7\n4,7\n")
    assert read_xy(path)[1].tolist() == [text, number, "7", "7"]
    # (iter_chunks types each chunk's labels)
    assert [c[1].tolist() for c in io.iter_chunks(path, 2)] == \
        [[text, number], [7, 7]]
    # header detection counts numbers alike: such a first line is a header
    path = write(tmp_path / "h.csv", f"{text},b,label\n1,2,0\n3,4,1\n")
    assert read_dataset(path).feature_names == [text, "b"]
    # whitespace around a number, ASCII or not, is still no part of it
    path = write(tmp_path / "s.csv", "a,b,label\n\u00a02,1.5\u2003,0\n3,4,1\n")
    assert read_xy(path)[0].tolist() == [[2.0, 1.5], [3.0, 4.0]]
    assert next(io.iter_chunks(path, 1))[0].tolist() == [[2.0, 1.5]]


def test_npz_member_that_is_not_npy_data_is_named(tmp_path):
    """A member stored without the .npy suffix (or a text file in the
    archive named as the target) crashed with AttributeError on its bytes."""
    import io as bytes_io
    import zipfile
    buf = bytes_io.BytesIO()
    np.save(buf, np.arange(6) % 2)
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as z:
        z.writestr("X", "not an array")
        z.writestr("y.npy", buf.getvalue())
    with pytest.raises(DataError, match="array 'X': is not NumPy array data"):
        read_xy(tmp_path / "raw.npz")
    np.savez(tmp_path / "extra.npz", X=np.ones((6, 2)), y=np.arange(6) % 2)
    with zipfile.ZipFile(tmp_path / "extra.npz", "a") as z:
        z.writestr("README.txt", "hello")
    with pytest.raises(DataError, match="^[^(]*'README.txt': is not NumPy"):
        io.read_column(tmp_path / "extra.npz", "README.txt")
    with pytest.raises(DataError, match="'README.txt': is not NumPy"):
        read_xy(tmp_path / "extra.npz", target="README.txt")


@pytest.mark.parametrize("name", ["d.svm.gz", "d.csv.bz2", "d.xz"])
def test_compressed_files_are_named_as_such(tmp_path, name):
    """A .gz file asked for its format, then, named, was 'not text'."""
    (tmp_path / name).write_bytes(b"\x1f\x8b\x08\x00")
    with pytest.raises(DataError, match=r"is compressed \(\.\w+\); fastlr reads plain"):
        read_xy(tmp_path / name)


#: The first bytes of a compressed file, the extension it is named with, and
#: the command the message names for a file of that name.
COMPRESSED = {
    "gzip": (b"\x1f\x8b\x08\x00", ".gz", "gunzip -k"),
    "bzip2": (b"BZh91AY&SY\xff\x80", ".bz2", "bunzip2 -k"),
    "xz": (b"\xfd7zXZ\x00\x00\x04", ".xz", "xz -dk"),
    "zstd": (b"\x28\xb5\x2f\xfd\x24\x00", ".zst", "zstd -d"),
    "zip": (b"PK\x03\x04\x14\x00\x00\x00", ".zip", "unzip"),
}


@pytest.mark.parametrize("kind", list(COMPRESSED))
def test_compressed_content_is_named_whatever_the_format_given(tmp_path, kind):
    """With the format given (fmt='svmlight', as an extension-less LIBSVM
    file needs), a compressed file was 'line 1: not text (is it really an
    svmlight file?)', and as CSV 'is not UTF-8 text'. Every reader now says
    it is compressed, naming the command that decompresses it, as the
    message from its extension does (which names the command too)."""
    head, ext, command = COMPRESSED[kind]
    path = tmp_path / f"a9a{ext}"
    path.write_bytes(head + bytes(range(128, 256)) * 4)
    said = f"is compressed ({kind} data); fastlr reads plain files: " \
        f"decompress it first: {command} {path}"
    reads = [lambda: read_xy(path, fmt="svmlight"),
             lambda: list(io.iter_chunks(path, 10, fmt="svmlight")),
             lambda: io.open_chunks(path, 10, fmt="svmlight", n_features=3,
                                    zero_based=False)[1].__next__(),
             lambda: io.svmlight_features(path),
             lambda: io.feature_columns(path, fmt="svmlight"),
             lambda: read_xy(path, fmt="csv"),
             lambda: list(io.iter_chunks(path, 10, fmt="csv")),
             lambda: io.read_header(path)]
    for read in reads:
        with pytest.raises(DataError) as info:
            read()
        assert str(info.value) == f"{path}: {said}"
    with pytest.raises(DataError) as info:
        read_xy(path)
    assert str(info.value) == (f"{path}: is compressed ({ext}); fastlr reads "
                               f"plain files (and .npz archives): decompress it "
                               f"first: {command} {path}")
    other = tmp_path / "a9a.svm"   # named otherwise: decompressed to a new file
    other.write_bytes(path.read_bytes())
    with pytest.raises(DataError, match=re.escape(
            f"decompress it first: {command.split()[0]} -")):
        read_xy(other)
    assert f"{other} > {tmp_path / 'a9a_plain.svm'}" in str(
        pytest.raises(DataError, read_xy, other).value)


@pytest.mark.parametrize("name", ["a9a", "a9a.t", "rcv1_train.binary",
                                  "australian_scale", "usps.scale"])
def test_a_file_without_a_known_extension_that_looks_like_svmlight_is_told_so(
        tmp_path, name):
    """LIBSVM's files have no extension (a9a, usps) or one fastlr does not
    know (.t, .binary, .scale): the message said "if it is CSV, read it with
    fmt='csv'" or named every format. A file whose first data line (after
    comments and blank lines) is an svmlight line is now told to be read
    with fmt='svmlight'; a file that does not look like one keeps the old
    hint."""
    path = tmp_path / name
    path.write_bytes(b"# from LIBSVM\n\n-1 3:1 11:1 14:1\n+1 5:1 7:0.5\n")
    with pytest.raises(DataError, match=re.escape(
            "its first line looks like svmlight/libsvm (label index:value ...): "
            "read it with fmt='svmlight' (--format svmlight on the command "
            "line)")):
        read_xy(path)
    assert read_xy(path, fmt="svmlight")[0].shape == (2, 14)
    path.write_bytes(b"a,b,y\n1,2,0\n")
    with pytest.raises(DataError) as info:
        read_xy(path)
    assert "looks like svmlight" not in str(info.value)


def test_unnamed_columns_of_a_spreadsheet_export_can_be_dropped(tmp_path):
    """A header 'a,b,y,,' (trailing empty columns) was refused as naming two
    columns '', even with both dropped by index; other repeated names
    still are."""
    path = tmp_path / "xl.csv"
    path.write_text("a,b,y,,\n1,2,0,,\n3,4,1,,\n5,1,0,,\n")
    data = read_dataset(path, target="y", drop=[3, 4])
    assert data.feature_names == ["a", "b"]
    assert data.y.tolist() == [0, 1, 0]
    assert [c[0].shape for c in io.iter_chunks(path, 2, target="y", drop=[3, 4])] \
        == [(2, 2), (1, 2)]
    with pytest.raises(DataError, match="2 columns without a name; give the column "
                       "by its index"):
        read_dataset(path, target="y", drop=[""])
    # kept as features they would be features without names: refused
    with pytest.raises(DataError, match="the columns at index 3 and 4 have no name"):
        read_dataset(path, target="y")
    (tmp_path / "dup.csv").write_text("a,a,y\n1,2,0\n")
    with pytest.raises(DataError, match="names two columns 'a'"):
        read_dataset(tmp_path / "dup.csv")


def test_a_header_less_csv_with_text_labels_is_refused(tmp_path):
    """UCI's iris.data has no header: its first row became the header, a
    row lost and the labels taken from a column named 'Iris-setosa'."""
    path = tmp_path / "iris.data"
    path.write_text("5.1,3.5,1.4,0.2,Iris-setosa\n4.9,3.0,1.4,0.2,Iris-setosa\n"
                    "7.0,3.2,4.7,1.4,Iris-versicolor\n6.4,3.2,4.5,1.5,Iris-versicolor\n")
    with pytest.raises(DataError, match="line 1: the first line looks like data"):
        read_dataset(path, fmt="csv")
    with pytest.raises(DataError, match="line 1: the first line looks like data"):
        list(io.iter_chunks(path, 2, fmt="csv"))
    # numeric feature names with a named label column are a header
    (tmp_path / "named.csv").write_text("0,1,y\n1.5,2,a\n3,4,b\n")
    data = read_dataset(tmp_path / "named.csv")
    assert data.feature_names == ["0", "1"] and data.y.tolist() == ["a", "b"]


def test_pandas_column_numbers_are_a_header_once_a_column_is_named_by_one(tmp_path):
    """pd.DataFrame(array).to_csv(index=False) writes the header 0,1,...,k-1,
    which was refused as a first line of data whatever target said: a
    NumPy user's plainest export could not be read. It is a header once the
    target (a string, as --target gives it) or a model's target or feature
    names name its columns: a file without a header would need its first
    row to be these very numbers and such a name. Other lines of numbers,
    and these numbers unnamed, are still refused."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    y = np.array([0, 1, 0, 1, 1, 0])
    frame = pd.DataFrame(X)
    frame[3] = y
    path = tmp_path / "frame.csv"
    frame.to_csv(path, index=False)
    assert path.read_text().startswith("0,1,2,3\n")
    for target in (None, 3, "-1"):   # (an index names no column of the header)
        with pytest.raises(DataError, match="line 1: the first line looks like "
                           "data.*target='3', --target 3"):
            read_xy(path, target=target)
    data = read_dataset(path, target="3")
    np.testing.assert_array_equal(data.X, X)
    assert data.y.tolist() == y.tolist()
    assert (data.feature_names, data.target) == (["0", "1", "2"], "3")
    chunks = list(io.iter_chunks(path, 4, target="3"))
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X)
    assert io.feature_columns(path, target="3") == (["0", "1", "2"], "3")
    # a model trained on it names them: predicting on new rows, label or not
    model = dict(n_features=3, feature_names=["0", "1", "2"], model_target="3")
    np.testing.assert_array_equal(read_dataset(path, labels="ignore", **model).X, X)
    frame.drop(columns=[3]).to_csv(tmp_path / "new.csv", index=False)
    np.testing.assert_array_equal(
        read_dataset(tmp_path / "new.csv", labels="ignore", **model).X, X)
    # text labels, one of them the label column's number: still a header
    frame[3] = np.array(["3", "x"])[y]
    frame.to_csv(path, index=False)
    assert read_xy(path, target="3")[1].tolist() == ["3", "x", "3", "x", "x", "3"]
    # numbers that are not 0, 1, ..., k-1 are a row of data, named or not
    path.write_text("0,2,1,3\n1,2,3,0\n4,5,6,1\n")
    with pytest.raises(DataError, match="line 1: the first line looks like data, "
                       "not a header; the CSV needs a header line with column "
                       "names$"):
        read_xy(path, target="3")


def test_bytes_paths_are_read(tmp_path, table):
    """os.PathLike, str and bytes name files alike (a bytes path was told
    its extension b'.csv' was unknown)."""
    X, y = table
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    Xr, yr = read_xy(os.fsencode(tmp_path / "d.npy"))
    np.testing.assert_array_equal(Xr, X)
    assert yr.tolist() == y.tolist()


def test_csv_integer_labels_beyond_int64_stay_apart(tmp_path):
    """2**64 - 1 and 2**64 - 2 were parsed as one float64 class."""
    (tmp_path / "d.csv").write_text(
        "a,y\n1,18446744073709551615\n2,18446744073709551614\n3,5\n")
    y = read_xy(tmp_path / "d.csv")[1]
    assert y.dtype == np.uint64
    assert y.tolist() == [2**64 - 1, 2**64 - 2, 5]


def test_npz_uint64_labels_beyond_int64_stay_apart(tmp_path):
    """uint64 labels (hashed class IDs) at or above 2**63 were cast to int64
    and wrapped to negative numbers."""
    X = np.random.default_rng(1).normal(size=(30, 2))
    classes = np.array([2**64 - 1, 2**63 + 5], dtype=np.uint64)
    y = classes[(X[:, 0] > 0).astype(int)]
    np.savez(tmp_path / "d.npz", X=X, y=y)
    _, yr = read_xy(tmp_path / "d.npz")
    assert yr.dtype == np.uint64 and yr.tolist() == y.tolist()
    np.savez(tmp_path / "small.npz", X=X, y=np.uint64(7) * (X[:, 0] > 0))
    assert read_xy(tmp_path / "small.npz")[1].dtype == np.int64   # as before


@pytest.mark.parametrize("array, words", [
    (np.arange(5.0), "must be a 2-D array"),
    (np.array([["a", "b"], ["c", "d"]]), "must hold numbers"),
    (np.array([[1.0, np.nan, 0.0], [2.0, 1.0, 1.0]]), "row 1, feature 2 is nan"),
    (np.array([[1.0, 0.0], [2.0, np.inf]]), "the label of row 2 is inf"),
    (np.array([[1, {}], [2, 3]], dtype=object), "pickled data"),
], ids=["1d", "strings", "nan", "inf_label", "object"])
def test_npy_bad_arrays(tmp_path, array, words):
    np.save(tmp_path / "d.npy", array, allow_pickle=True)
    with pytest.raises(DataError, match=words):
        read_xy(tmp_path / "d.npy")
    if array.ndim == 2 and array.dtype.kind == "f":
        # read in parts of one row, the bad row is the file's, not the part's
        with pytest.raises(DataError, match=words):
            list(io.iter_chunks(tmp_path / "d.npy", 1))


def test_npy_that_is_not_numpy(tmp_path):
    write(tmp_path / "d.npy", "a,b\n1,2\n")
    with pytest.raises(DataError, match="is not a NumPy .npy file"):
        read_xy(tmp_path / "d.npy")
    np.savez(tmp_path / "z.npz", X=np.ones((2, 2)))
    (tmp_path / "z.npz").rename(tmp_path / "z.npy")
    with pytest.raises(DataError, match="is an .npz file, not an .npy file"):
        read_xy(tmp_path / "z.npy")


def test_npz_arrays(tmp_path, table):
    X, y = table
    labels = np.array(["neg", "pos"])[y]
    np.savez(tmp_path / "d.npz", X=X, y=labels, other=y)
    Xr, yr = read_xy(tmp_path / "d.npz")
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, labels)
    _, yr = read_xy(tmp_path / "d.npz", target="other")
    np.testing.assert_array_equal(yr, y)


@pytest.mark.parametrize("arrays, target, words", [
    ({"data": np.ones((3, 2)), "y": np.arange(3)}, None, r"has no array 'X' \(it "
     r"has: data, y\)"),
    ({"X": np.ones((3, 2))}, None, "has no labels array 'y'"),
    ({"X": np.ones((3, 2)), "y": np.arange(3)}, "label", "unknown target array "
     "'label'"),
    ({"X": np.ones((3, 2)), "y": np.arange(4)}, None, r"one entry per row of X "
     r"\(3\), got shape \(4,\)"),
    ({"X": np.ones((3, 2)), "y": np.array([0, None, 1])}, None, "pickled data"),
], ids=["no_X", "no_y", "unknown_target", "y_length", "object_y"])
def test_npz_errors(tmp_path, arrays, target, words):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=words):
        read_xy(tmp_path / "d.npz", target=target)


# --------------------------------------------------------------------------
# svmlight


@pytest.fixture
def sparse_table():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4)).round(4)
    X[X < 0.3] = 0.0
    X[:, -1] = X[:, -1] + 1.0  # the last feature always present
    y = np.where(X[:, 0] > 0.2, 1, -1)
    return X, y


@pytest.mark.parametrize("zero_based", [False, True], ids=["one_based", "zero_based"])
def test_svmlight(tmp_path, sparse_table, zero_based):
    X, y = sparse_table
    X[0, 0] = 1.0  # feature 0 occurs, so the base is detectable
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"), zero_based=zero_based)
    data = read_dataset(tmp_path / "d.svm")
    assert data.zero_based is zero_based
    assert_canonical_csr(data.X)
    np.testing.assert_allclose(data.X.toarray(), X)
    assert data.y.dtype == np.int64 and (data.y == y).all()
    # a prediction file without the last features is padded: a wider CSR
    dump_svmlight_file(X[:, :2], y, str(tmp_path / "p.svm"), zero_based=zero_based)
    pred = read_dataset(tmp_path / "p.svm", labels="optional", n_features=4,
                        zero_based=zero_based)
    assert_canonical_csr(pred.X)
    assert pred.X.shape == (30, 4) and pred.X[:, 2:].nnz == 0
    np.testing.assert_array_equal(pred.X.toarray()[:, :2], X[:, :2])


def assert_canonical_csr(X):
    assert sparse.isspmatrix_csr(X), type(X)
    assert X.dtype == np.float64
    assert X.has_canonical_format  # sorted indices, no duplicates
    assert (X.data != 0).all()  # no stored zeros


@contextlib.contextmanager
def no_densify():
    """Inside: any densification of a scipy.sparse matrix fails the test."""
    def refuse(self, *args, **kwargs):
        raise AssertionError("a sparse matrix was densified")

    with pytest.MonkeyPatch.context() as mp:
        for cls in (sparse.csr_matrix, sparse.csc_matrix, sparse.coo_matrix):
            mp.setattr(cls, "toarray", refuse)
            mp.setattr(cls, "todense", refuse)
        yield


def test_svmlight_stays_sparse(tmp_path):
    """Comments, blank lines, explicit zeros, qid and 1-based indices: the CSR
    holds exactly the file's non-zeros, and is never densified on the way."""
    write(tmp_path / "s.libsvm", "# made by hand\n"
          "1 qid:3 2:0.5 7:-1.25\n"
          "\n"
          "-1 1:2 3:0 7:4e-3  # a trailing comment\n"
          "1\n"
          "-1 5:1e6\n")
    with no_densify():
        data = read_dataset(tmp_path / "s.libsvm")
        X, y = read_xy(tmp_path / "s.libsvm")
        # wider than the file, for a model with more features; zero-based
        wide = read_dataset(tmp_path / "s.libsvm", labels="optional",
                            n_features=1_000_000, zero_based=True)
    assert data.format == "svmlight" and data.zero_based is False
    expected = np.zeros((4, 7))
    expected[0, [1, 6]] = [0.5, -1.25]
    expected[1, [0, 6]] = [2.0, 4e-3]
    expected[3, 4] = 1e6
    for got in (data.X, X):
        assert_canonical_csr(got)
        assert got.shape == (4, 7) and got.nnz == 5  # "3:0" is not stored
        np.testing.assert_array_equal(got.toarray(), expected)
    assert y.tolist() == [1, -1, 1, -1]
    assert_canonical_csr(wide.X)
    assert wide.X.shape == (4, 1_000_000) and wide.X.nnz == 5
    shifted = np.zeros((4, 8))  # read zero-based, index k is column k
    shifted[:, 1:] = expected
    np.testing.assert_array_equal(wide.X[:, :8].toarray(), shifted)


def test_svmlight_memory_follows_the_entries_not_the_largest_index(tmp_path):
    """Two lines naming feature 2**31 - 1: reading them takes memory for
    their entries, not one name per feature (a list of those was 100 GB);
    the names are made when asked for."""
    import tracemalloc

    from fastlr.io import NumberedNames, feature_columns

    path = tmp_path / "wide.svm"
    write(path, f"1 1:0.5 {2**31 - 1}:1\n0 2:1\n")
    tracemalloc.start()
    try:
        data = read_dataset(path)
        names, _ = feature_columns(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak
    n = 2**31 - 1
    assert data.X.shape == (2, n) and data.X.nnz == 3
    for got in (data.feature_names, names):
        assert got == NumberedNames(n) and len(got) == n
        assert (got[0], got[7], got[-1]) == ("x0", "x7", f"x{n - 1}")
        assert got[:3] == ["x0", "x1", "x2"]
    with pytest.raises(IndexError):
        data.feature_names[n]


def test_svmlight_errors(tmp_path, sparse_table):
    write(tmp_path / "bad.svm", "1 1:0.5 3:2\n# a comment\n-1 2:1.5\n1 1:abc\n")
    with pytest.raises(DataError, match=r"bad.svm, line 4: feature 1: 'abc' is not "
                       "a number"):
        read_xy(tmp_path / "bad.svm")
    write(tmp_path / "tok.svm", "1 1:0.5\n0 2=1.5\n")
    with pytest.raises(DataError, match="line 2: '2=1.5' is not of the form "
                       "index:value"):
        read_xy(tmp_path / "tok.svm")
    write(tmp_path / "nan.svm", "1 1:0.5\n\n0 2:nan\n")
    with pytest.raises(DataError, match="line 3: feature 2 is nan"):
        read_xy(tmp_path / "nan.svm")
    X, y = sparse_table
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"), zero_based=False)
    with pytest.raises(FeatureMismatchError, match="trained on 3 features but this "
                       "file has 4"):
        read_dataset(tmp_path / "d.svm", labels="optional", n_features=3,
                     zero_based=False)
    with pytest.raises(DataError, match="no target column to choose"):
        read_xy(tmp_path / "d.svm", target="label")


def test_n_features_of_the_caller_is_named_as_such(tmp_path):
    """read_xy and iter_chunks take n_features as a plain width, no model
    involved: a file wider than it said "the model was trained on k
    features"; it says n_features. read_dataset's n_features is a model's
    (the command line's reads), and keeps the model's wording."""
    csv = write(tmp_path / "w.csv", "a,b,c,y\n1,2,3,0\n4,5,6,1\n")
    svm = write(tmp_path / "w.svm", "1 1:1 5:2\n0 2:1\n")
    np.save(tmp_path / "w.npy", np.ones((3, 4)))
    for path, k in ((csv, "2 but this file has 4 feature columns"),
                    (svm, "2 but this file has 5 features"),
                    (tmp_path / "w.npy", "2 but this file has 4 feature columns")):
        for read in (lambda p: read_xy(p, n_features=2),
                     lambda p: list(io.iter_chunks(p, 1, n_features=2))):
            with pytest.raises(FeatureMismatchError) as info:
                read(path)
            assert f"n_features is {k}" in str(info.value)
            assert "model" not in str(info.value)
    with pytest.raises(FeatureMismatchError, match="the model was trained on 2 "
                       "features but this file has 4 feature columns"):
        read_dataset(csv, n_features=2)
    with pytest.warns(UserWarning, match=r"beyond n_features=2 \(this file has 5 "
                      r"features\), as unseen_features='ignore' asks$"):
        list(io.iter_chunks(svm, 1, n_features=2, unseen_features="ignore"))
    with pytest.warns(UserWarning, match="beyond the model's 2 features"):
        read_dataset(svm, n_features=2, unseen_features="ignore")


NON_FINITE = ("# comment line\n"
              "1 1:0.5 3:2\n"
              "\n"
              "-1 2:1.5 5:7\n"
              "1\n"
              "0 4:3\n"
              "1 1:1 4:{bad} 6:2\n"
              "-1 2:nan\n")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN", "1e999"])
def test_svmlight_non_finite_names_file_and_line(tmp_path, bad):
    """Found from the CSR's data and indptr (no densifying), past a row
    without features: the first bad value is line 7's feature 4, not line
    8's NaN."""
    path = write(tmp_path / "nf.svm", NON_FINITE.format(bad=bad))
    shown = {"nan": "nan", "NaN": "nan", "-inf": "-inf"}.get(bad, "inf")
    with no_densify():
        with pytest.raises(DataError, match=rf"nf.svm, line 7: feature 4 is "
                           rf"{shown}; fastlr needs finite numbers") as exc:
            read_dataset(path)
        assert exc.value.line == 7 and exc.value.path == str(path)
        # padded for a model, and by chunks of any size
        with pytest.raises(DataError, match=r"nf.svm, line 7: feature 4 is "):
            read_dataset(path, labels="optional", n_features=10, zero_based=False)
        for rows in (1, 2, 3, 100):
            with pytest.raises(DataError, match=r"nf.svm, line 7: feature 4 is "):
                list(io.iter_chunks(path, rows))


def test_svmlight_non_finite_zero_based(tmp_path):
    """The bad value first in its row, right after a row without features
    (equal indptr entries): still the right row and line."""
    path = write(tmp_path / "z.svm", "1 0:1 2:3\n0\n\n1 3:nan 4:1\n")
    with pytest.raises(DataError, match=r"z.svm, line 4: feature 4 is nan"):
        read_dataset(path)
    for rows in (1, 2, 3):
        with pytest.raises(DataError, match=r"z.svm, line 4: feature 4 is nan"):
            list(io.iter_chunks(path, rows))


# --------------------------------------------------------------------------
# reading data for a trained model


def test_model_features_by_name_in_any_order(tmp_path):
    path = write(tmp_path / "d.csv", "id,b,label,a\n1,2,0,3\n2,4,1,5\n")
    with pytest.raises(FeatureMismatchError, match="not in the model: id"):
        read_dataset(path, labels="optional", n_features=2, feature_names=["a", "b"],
                     model_target="label")
    path = write(tmp_path / "e.csv", "b,label,a\n2,0,3\n4,1,5\n")
    data = read_dataset(path, labels="optional", n_features=2,
                        feature_names=["a", "b"], model_target="label")
    assert data.X.tolist() == [[3, 2], [5, 4]] and data.y.tolist() == [0, 1]
    path = write(tmp_path / "f.csv", "b,a\n2,3\n4,5\n")  # no labels: fine
    data = read_dataset(path, labels="optional", n_features=2,
                        feature_names=["a", "b"], model_target="label")
    assert data.X.tolist() == [[3, 2], [5, 4]] and data.y is None
    with pytest.raises(DataError, match="has no target column"):
        read_dataset(path, labels="required", n_features=2,
                     feature_names=["a", "b"], model_target="label")


def test_model_features_missing_or_wrong_count(tmp_path):
    path = write(tmp_path / "d.csv", "a,c,label\n1,2,0\n")
    with pytest.raises(FeatureMismatchError, match="feature columns b are missing"):
        read_dataset(path, labels="optional", n_features=2, feature_names=["a", "b"])
    path = write(tmp_path / "e.csv", "p,q,r\n1,2,0\n")  # no names match: by position
    data = read_dataset(path, labels="optional", n_features=3,
                        feature_names=["a", "b", "c"])
    assert data.X.tolist() == [[1, 2, 0]]
    with pytest.raises(FeatureMismatchError, match="trained on 2 features .* but this "
                       r"file has 3 feature columns \(p, q, r\); if one of them is "
                       "the target"):
        read_dataset(path, labels="optional", n_features=2,
                     feature_names=["a", "b"], model_target="label")
    data = read_dataset(path, labels="optional", n_features=2, target="r")
    assert data.X.tolist() == [[1, 2]] and data.y.tolist() == [0]


def test_model_npy_extra_column_is_the_target(tmp_path, table):
    X, y = table
    np.save(tmp_path / "d.npy", np.column_stack([y, X]))
    data = read_dataset(tmp_path / "d.npy", labels="optional", n_features=3,
                        model_target=0)
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    np.save(tmp_path / "x.npy", X)
    data = read_dataset(tmp_path / "x.npy", labels="optional", n_features=3,
                        model_target=0)
    assert data.y is None
    with pytest.raises(FeatureMismatchError, match="trained on 5 features"):
        read_dataset(tmp_path / "x.npy", labels="optional", n_features=5)


# --------------------------------------------------------------------------
# paths that are not regular files


READERS = {
    "read_xy": lambda p, fmt: read_xy(p, fmt=fmt),
    "read_dataset": lambda p, fmt: read_dataset(p, fmt=fmt, labels="optional"),
    "iter_chunks": lambda p, fmt: next(io.iter_chunks(p, 10, fmt=fmt)),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("fmt", ["csv", "npy", "npz", "svmlight"])
def test_fifo_is_refused_without_blocking(tmp_path, reader, fmt):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    with no_blocking_on(fifo):
        with pytest.raises(DataError, match=r"is a FIFO \(named pipe\), not a "
                           "regular file") as exc:
            READERS[reader](fifo, fmt)
    assert exc.value.path == str(fifo)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_swapped_in_after_the_check_is_refused(tmp_path, monkeypatch):
    """Every open checks what it opened, without blocking on a FIFO."""
    from fastlr import _files

    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    real_stat, regular = os.stat, os.stat(__file__)
    monkeypatch.setattr(_files.os, "stat", lambda p, *a, **k: regular
                        if os.fspath(p) == str(fifo) else real_stat(p, *a, **k))
    for fmt in ("csv", "npy", "npz", "svmlight"):
        with no_blocking_on(fifo), pytest.raises(DataError, match="FIFO"):
            read_xy(fifo, fmt=fmt)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no unix sockets")
def test_socket_is_refused(tmp_path):
    path = tmp_path / "data.svm"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(DataError, match="is a socket"):
            read_xy(path)


_READ_IN_A_BOX = """
import resource, sys
# a regression would read /dev/zero without end: fail at 2 GB instead
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from fastlr.io import DataError, read_xy
for path in sys.argv[1:]:
    try:
        read_xy(path, fmt="csv")
    except DataError as exc:
        print(exc)
"""


@pytest.mark.skipif(not os.path.exists("/dev/zero") or sys.platform != "linux",
                    reason="needs /dev/zero and RLIMIT_AS")
def test_devices_and_links_to_them_are_refused(tmp_path):
    os.symlink("/dev/zero", tmp_path / "zero.csv")
    proc = subprocess.run([sys.executable, "-c", _READ_IN_A_BOX, "/dev/zero",
                           str(tmp_path / "zero.csv")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [line.split(": ", 1) for line in proc.stdout.splitlines()] == [
        [path, "is a character device, not a regular file; fastlr reads only "
         "regular files (a device, pipe or socket may never end or never "
         "answer)"] for path in ("/dev/zero", str(tmp_path / "zero.csv"))]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_cli_refuses_a_fifo_as_data(tmp_path, command):
    os.mkfifo(tmp_path / "d.csv")
    args = [str(tmp_path / "d.csv")]
    if command == "evaluate":
        X = np.array([[0.0], [1.0], [2.0], [3.0]])
        clf = __import__("fastlr").LogisticRegression(max_iter=2, tol=None).fit(
            X, [0, 0, 1, 1])
        __import__("fastlr").save(clf, tmp_path / "m.npz")
        args += ["--model", str(tmp_path / "m.npz")]
    proc = subprocess.run([sys.executable, "-m", "fastlr", command, *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr == (f"fastlr: error: {tmp_path / 'd.csv'}: is a FIFO "
                           "(named pipe), not a regular file; fastlr reads only "
                           "regular files (a device, pipe or socket may never "
                           "end or never answer)\n")


# --------------------------------------------------------------------------
# every error in a text file names its line, in read_xy and iter_chunks


def _csv_with(line6, rows=25):
    """A CSV whose line 6 (the header is line 1) is ``line6``."""
    lines = ["a,b,label"] + [f"{i}.5,{i},{i % 2}" for i in range(rows)]
    lines[5] = line6
    return "\n".join(lines) + "\n"


def _svm_with(line6, rows=25):
    lines = [f"{i % 2} 1:{i}.5 3:{i}" for i in range(rows)]
    lines[5] = line6
    return "\n".join(lines) + "\n"


LINE6 = {
    "csv_unclosed_quote": ("csv", _csv_with('1,"2,1'), "quote .* left open"),
    "csv_label_1e999": ("csv", _csv_with("1,2,1e999"),
                        "label '1e999' in column 'label' is not a finite number"),
    "csv_label_huge": ("csv", _csv_with("1,2," + "9" * 400),
                       r"label '9{40}'\.\.\. in column 'label' is not a finite"),
    "csv_multiline_field": ("csv", _csv_with('1,"2\n3",1'),
                            r"column 'b': '2\\n3' is not a number"),
    # longer than csv's default field limit: read, then refused as a number
    "csv_long_field": ("csv", _csv_with('1,"' + "x" * 200_000 + '",1'),
                       r"column 'b': 'x{40}'\.\.\. is not a number"),
    "svm_index_2_40": ("svmlight", _svm_with(f"1 1:1 {2**40}:1"),
                       "feature index 1099511627776 is too large"),
    "svm_index_2_63": ("svmlight", _svm_with(f"1 {2**63}:1"),
                       "feature index 9223372036854775808 is too large"),
    "svm_unsorted": ("svmlight", _svm_with("1 3:1 2:1"),
                     "feature index 2 after 3: .* sorted and unique"),
    "svm_duplicate": ("svmlight", _svm_with("1 2:1 2:5"),
                      r"feature index 2 after 2: .* \(repeated\)"),
    "svm_label_inf": ("svmlight", _svm_with("inf 2:1"), "the label is inf"),
    "svm_label_1e999": ("svmlight", _svm_with("1e999 2:1"), "the label is inf"),
    "svm_multilabel": ("svmlight", _svm_with("0,1 2:1"), "lists several labels"),
    "svm_qid_late": ("svmlight", _svm_with("1 2:1 qid:3"), "qid must come first"),
}


@pytest.mark.parametrize("case", list(LINE6))
def test_text_file_errors_name_the_line(tmp_path, case):
    fmt, text, words = LINE6[case]
    path = tmp_path / ("d.svm" if fmt == "svmlight" else "d.csv")
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    expected = [rf"^{path}, line 6: .*{words}"]
    with pytest.raises(DataError, match=expected[0]) as exc:
        read_xy(path)
    assert exc.value.line == 6
    for rows in (1, 4, 100):
        with pytest.raises(DataError, match=expected[0]):
            list(io.iter_chunks(path, rows))


def test_svmlight_index_zero_and_width_name_the_line(tmp_path):
    """In a file read as 1-based for a 3-feature model (or iter_chunks'
    n_features=3), line 6 holds index 0 (or index 5): the error names line
    6, in every reader."""
    for line6, words in (("1 0:1", "has feature index 0"),
                         ("1 2:1 5:1",
                          "(trained on 3 features|n_features is 3|beyond the 3)")):
        path = write(tmp_path / "d.svm", _svm_with(line6))
        with pytest.raises(DataError, match=rf"d.svm, line 6: .*{words}"):
            read_dataset(path, labels="optional", n_features=3, zero_based=False)
        for rows in (1, 4, 100):
            with pytest.raises(DataError, match=rf"d.svm, line 6: .*{words}"):
                list(io.iter_chunks(path, rows, n_features=3, zero_based=False))


@pytest.mark.parametrize("line", [6, 4002])
def test_not_utf8_names_the_line_and_the_file_offset(tmp_path, line):
    """The decoder's offset is within its 8 KB buffer; the message gives the
    offset in the file (and the line), also deep into a large file."""
    lines = ["a,b,label"] + [f"{i}.5,{i},{i % 2}" for i in range(4010)]
    lines[line - 1] = "1.5,\udcff,1"
    text = "\n".join(lines) + "\n"
    offset = sum(len(x) + 1 for x in lines[:line - 1]) + 4
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    words = (rf"^{path}, line {line}: is not UTF-8 text \(invalid start byte "
             rf"at byte {offset:,} of the file\)")
    with pytest.raises(DataError, match=words):
        read_xy(path)
    with pytest.raises(DataError, match=words):
        list(io.iter_chunks(path, 100))


def _npy_header(shape, descr="<f8"):
    out = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


@pytest.mark.parametrize("shape, words", [
    ((10_000_000, 3), r"is truncated: its header describes 240,000,128 bytes"),
    ((10**12, 3), r"is truncated: its header describes 24,000,000,000,128 bytes"),
    ((-1, 3), r"has a negative dimension in shape \(-1, 3\)"),
], ids=["200MB", "22TB", "negative"])
def test_npy_header_that_lies_is_refused_before_allocating(tmp_path, shape, words):
    """A 176-byte .npy whose header claims gigabytes: refused from the file's
    size, never allocated (numpy would allocate the header's shape first)."""
    import tracemalloc

    path = tmp_path / "lie.npy"
    path.write_bytes(_npy_header(shape) + bytes(48))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=rf"lie.npy: {words}"):
            read_xy(path)
        with pytest.raises(DataError, match=rf"lie.npy: {words}"):
            list(io.iter_chunks(path, 10))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_npz_member_header_that_lies_is_refused(tmp_path):
    import tracemalloc
    import zipfile

    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", _npy_header((10_000_000, 2)) + bytes(32))
        zf.writestr("y.npy", _npy_header((2,), "<i8") + bytes(16))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"lie.npz: array 'X': the archive "
                           "declares 160 bytes but its header describes "
                           "160,000,128"):
            read_xy(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


# columns that are neither features nor the target: drop, read_column


def test_csv_drop_text_and_id_columns(tmp_path):
    path = write(tmp_path / "d.csv",
                 "id,a,note,b,label\n"
                 "r-1,1.0,\"free, text\",2.0,yes\n"
                 "r-2,3.0,,4.0,no\n"
                 "\n"
                 "r-3,5.0,x,6.0,yes\n")
    data = read_dataset(path, drop=["id", "note"])
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4], [5, 6]])
    assert data.feature_names == ["a", "b"] and data.target == "label"
    assert data.y.tolist() == ["yes", "no", "yes"]
    # by index, and the default target is the last column that is kept
    data = read_dataset(path, drop=[0, 2, 4])
    assert data.feature_names == ["a"] and data.target == "b"
    # the ids, one per data row, unparsed
    assert io.read_column(path, "id").tolist() == ["r-1", "r-2", "r-3"]
    assert io.read_column(path, 2).tolist() == ["free, text", "", "x"]
    assert io.read_header(path) == ["id", "a", "note", "b", "label"]
    # the first rows only (a blank line is no row)
    assert io.read_column(path, "id", max_rows=2).tolist() == ["r-1", "r-2"]
    assert io.read_column(path, "id", max_rows=0).tolist() == []
    assert io.read_column(path, "id", max_rows=9).tolist() == ["r-1", "r-2", "r-3"]
    np.save(tmp_path / "t.npy", np.arange(12.0).reshape(4, 3))
    assert io.read_column(tmp_path / "t.npy", 1, max_rows=2).tolist() == [1.0, 4.0]
    with pytest.raises(ValueError, match="max_rows"):
        io.read_column(path, "id", max_rows=-1)


def test_csv_fields_of_any_length(tmp_path):
    """A free-text column longer than Python csv's field limit (131,072
    characters by default, a process-wide setting) was refused as
    malformed CSV, although dropped columns may hold anything. Every read
    takes it (whole, in chunks, the header, one column), and the limit is
    the caller's again afterwards."""
    import csv

    long = "x" * 300_000
    path = write(tmp_path / "d.csv", f"id,a,note,label\nr1,1.0,{long},1\n"
                 "r2,2.0,short,0\n")
    before = csv.field_size_limit()
    data = read_dataset(path, drop=["id", "note"])
    np.testing.assert_array_equal(data.X, [[1.0], [2.0]])
    chunks = list(io.iter_chunks(path, 1, drop=["id", "note"]))
    assert [c[0].tolist() for c in chunks] == [[[1.0]], [[2.0]]]
    assert io.read_column(path, "note").tolist() == [long, "short"]
    header = write(tmp_path / "h.csv", f"a,{long}\n1,2\n")
    assert io.read_header(header) == ["a", long]
    assert csv.field_size_limit() == before


def test_csv_drop_for_a_model_matches_the_rest_by_name(tmp_path):
    path = write(tmp_path / "d.csv", "b,id,a\n2,x,1\n4,y,3\n")
    data = read_dataset(path, labels="optional", n_features=2,
                        feature_names=["a", "b"], drop=["id"])
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])
    with pytest.raises(FeatureMismatchError, match="not in the model: id"):
        read_dataset(path, labels="optional", n_features=2,
                     feature_names=["a", "b"])
    # a dropped model feature is missing
    with pytest.raises(FeatureMismatchError, match="columns a are missing"):
        read_dataset(path, labels="optional", n_features=2,
                     feature_names=["a", "b"], drop=["id", "a"])
    # by position: the columns left after dropping
    data = read_dataset(path, labels="optional", n_features=2, drop=["id"])
    np.testing.assert_array_equal(data.X, [[2, 1], [4, 3]])


def test_drop_errors(tmp_path, table):
    X, y = table
    path = write(tmp_path / "d.csv", csv_text(X, y))
    with pytest.raises(DataError, match="unknown column to drop 'd'"):
        read_dataset(path, drop=["d"])
    with pytest.raises(DataError, match="target column 'label' is also one of"):
        read_dataset(path, target="label", drop=["label"])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with pytest.raises(DataError, match="npz files have no columns to drop"):
        read_dataset(tmp_path / "d.npz", drop=[0])
    with pytest.raises(DataError, match="unknown column 'zz'"):
        io.read_column(path, "zz")
    bad = write(tmp_path / "bad.csv", "id,a\n1,2\n3\n")
    with pytest.raises(DataError, match=r"line 3: expected 2 fields"):
        io.read_column(bad, "id")


def test_npy_and_npz_drop_and_read_column(tmp_path, table):
    X, y = table
    np.save(tmp_path / "d.npy", np.column_stack([np.arange(50), X, y]))
    data = read_dataset(tmp_path / "d.npy", drop=[0])
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(io.read_column(tmp_path / "d.npy", 0),
                                  np.arange(50))
    np.savez(tmp_path / "d.npz", X=X, y=y, ids=np.arange(50) + 100)
    assert io.read_column(tmp_path / "d.npz", "ids")[0] == 100
    with pytest.raises(DataError, match="no 1-D array 'nope' besides X"):
        io.read_column(tmp_path / "d.npz", "nope")
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"))
    with pytest.raises(DataError, match="svmlight files have no columns"):
        io.read_column(tmp_path / "d.svm", 0)


def _damage(name, raw):
    """A damaged copy of an .npz or .npy file's bytes ``raw``."""
    b = bytearray(raw)
    if name == "truncated-npz":
        return bytes(b[:30])
    if name in ("crc-npz", "deflate-npz"):
        b[len(b) // 3] ^= 0xFF    # inside the first member's data
        return bytes(b)
    if name == "unbalanced-header-npy":
        i = b.index(b"), }")
        b[i] = ord(" ")            # "(200, 4 , }": numpy's tokenizer fails
        return bytes(b)
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["truncated-npz", "crc-npz", "deflate-npz",
                                  "unbalanced-header-npy"])
def test_a_damaged_numpy_file_is_a_data_error_naming_it(tmp_path, name):
    """A truncated archive, a member whose CRC or compressed stream is broken
    and a header that does not tokenize are refused with a DataError naming
    the file (they raised BadZipFile, zlib.error or TokenError, which the
    CLI reported as unexpected errors)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    src = tmp_path / ("src.npy" if name.endswith("npy") else "src.npz")
    if name.endswith("npy"):
        np.save(src, np.column_stack([X, y]))
    elif name == "deflate-npz":
        np.savez_compressed(src, X=X, y=y)
    else:
        np.savez(src, X=X, y=y)
    bad = tmp_path / ("bad" + src.suffix)
    bad.write_bytes(_damage(name, src.read_bytes()))
    with pytest.raises(DataError, match=r"bad\.np[yz]"):
        read_dataset(bad)


@pytest.mark.parametrize("header, name, cols", [("a,a,c,y", "a", "0 and 1"),
                                                ("y,b,c,y", "y", "0 and 3")])
def test_a_header_naming_two_columns_alike_is_refused(tmp_path, header, name, cols):
    """Columns are matched by name (the target, --drop, --id, a model's
    features on a file with its columns in another order): a header that
    names two columns alike is refused, naming both, where it had trained a
    model that then fed the wrong column on a reordered file, or could not
    read its own training file."""
    path = tmp_path / "dup.csv"
    path.write_text(header + "\n1,2,3,0\n2,3,4,1\n3,1,2,0\n")
    with pytest.raises(DataError, match=rf"dup\.csv, line 1: the header names two "
                                        rf"columns '{name}' \(at index {cols}\)"):
        read_dataset(path)


def test_svmlight_feature_mismatch_gives_no_target_column_hint(tmp_path):
    """An svmlight line's label leads it: a file with one feature more than
    the model is not told to name one of its columns as the target (as a
    CSV or .npy file is)."""
    path = tmp_path / "x.svm"
    path.write_text("1 1:1 2:2 3:3\n0 1:1\n")
    with pytest.raises(FeatureMismatchError) as info:
        read_dataset(path, labels="optional", n_features=2)
    assert "this file has 3 features" in str(info.value)
    assert "target" not in str(info.value)


def test_a_trailing_delimiter_is_named_as_the_likely_cause(tmp_path):
    """Lines that all end with the delimiter (spreadsheet exports) give an
    unnamed, empty last column, the default target: the error says so (it
    reported an empty value in the target column '')."""
    path = tmp_path / "trail.csv"
    path.write_text("a,b,y,\n1,2,0,\n2,3,1,\n")
    with pytest.raises(DataError, match="has no name in the header: does every "
                                        "line end with the delimiter"):
        read_dataset(path)


def test_reading_never_swaps_the_process_warning_filters(tmp_path, table, monkeypatch):
    """warnings.catch_warnings saves and restores the process's filter list,
    so it is not thread-safe: CSV reads in two threads at once left
    "ignore every warning" installed for the rest of the process. The
    readers (and LogisticRegressionCV's choice) no longer use it."""
    import warnings

    import fastlr

    X, y = table
    (tmp_path / "d.csv").write_text("a,b,c,y\n" + "\n".join(
        ",".join(map(str, [*row, label])) for row, label in zip(X, y, strict=True)))
    (tmp_path / "empty.csv").write_text("a,b,c,y\n\n")
    entered = []
    real = warnings.catch_warnings
    package = os.path.dirname(os.path.abspath(fastlr.__file__)) + os.sep

    def watched(*args, **kwargs):
        # (scikit-learn's own uses pass through)
        caller = os.path.abspath(sys._getframe(1).f_code.co_filename)
        if caller.startswith(package):
            entered.append(caller)
        return real(*args, **kwargs)

    monkeypatch.setattr(warnings, "catch_warnings", watched)
    read_xy(tmp_path / "d.csv")
    with pytest.raises(DataError, match="no data rows"):
        read_xy(tmp_path / "empty.csv")
    fastlr.LogisticRegressionCV(alphas=3, cv=3, max_iter=5, tol=None).fit(X, y)
    assert entered == []


@pytest.mark.parametrize("fmt, dtype", [("npy", "<f8"), ("npy", "<f4"), ("npy", ">f8"),
                                        ("npy", ">f4"), ("npy", "<i8"), ("csv", "<f8")])
def test_reading_a_table_copies_the_features_once(tmp_path, fmt, dtype):
    """The features of a table come out C-ordered in one copy: X[:, feats]
    was F-ordered, and ordering it took a second copy (2x the features at
    the peak for a memory-mapped .npy, 3x for CSV or a table read whole);
    the values are the table's, float32 kept in either byte order (">f4"
    became float64, twice the memory)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    m, n = 20_000, 30
    T = np.column_stack([rng.normal(size=(m, n)) * 100, rng.integers(0, 2, m)])
    T = T.astype(dtype)
    if fmt == "npy":
        np.save(tmp_path / "t.npy", T)
    else:
        np.savetxt(tmp_path / "t.csv", T, fmt="%.17g", delimiter=",", comments="",
                   header=",".join([f"x{j}" for j in range(n)] + ["label"]))
    tracemalloc.start()
    try:
        X, y = read_xy(tmp_path / f"t.{fmt}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert X.flags.c_contiguous
    assert X.dtype == (np.float32 if dtype[1:] == "f4" else np.float64)
    np.testing.assert_array_equal(X, T[:, :n].astype(X.dtype))
    # the features, the labels, a block of rows (1 MB); and the whole table
    # where it is read whole (CSV, an .npy table not float32/float64 native)
    whole = fmt == "csv" or dtype in (">f8", ">f4", "<i8")
    limit = X.nbytes * (2.25 if whole else 1.25) + (2 << 20)
    assert peak < limit, (peak / X.nbytes)


def test_reading_a_csv_with_text_labels_holds_a_bounded_block_of_text(tmp_path):
    """Text labels (or any text column) take the exact reader, whose blocks
    hold each field as a Python string: blocks of 65,536 rows whatever the
    width held 24 times the file (1 GB for 42 MB of 300 columns); blocks of
    a bounded number of fields hold about 20 MB, beside X."""
    import tracemalloc

    rng = np.random.default_rng(0)
    m, n = 20_000, 100
    X = np.round(rng.normal(size=(m, n)), 4)
    labels = np.where(rng.random(m) < 0.5, "benign", "malignant")
    body = [",".join(map(str, row)) + "," + lab for row, lab in zip(X.tolist(), labels,
                                                                   strict=True)]
    write(tmp_path / "t.csv", ",".join([f"x{j}" for j in range(n)] + ["label"]) + "\n"
          + "\n".join(body) + "\n")
    tracemalloc.start()
    try:
        got, y = read_xy(tmp_path / "t.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, X)
    assert y.tolist() == labels.tolist()
    assert peak < 2 * got.nbytes + (40 << 20), peak / got.nbytes


@pytest.mark.parametrize("fmt, read", [
    ("npy", lambda p: io.read_dataset(p)), ("npy", lambda p: list(io.iter_chunks(p, 10))),
    ("npy", lambda p: io.feature_columns(p)), ("npy", lambda p: io.map_npy(p)),
    ("npy", lambda p: io.read_column(p, 0)), ("npz", lambda p: io.read_dataset(p)),
    ("npz", lambda p: io.read_xy(p)), ("npz", lambda p: list(io.iter_chunks(p, 10)))])
def test_an_npy_of_no_rows_and_countless_columns_is_refused_at_once(tmp_path, fmt, read):
    """A 129-byte .npy declaring shape (0, 2**40) (or an .npz's X of that
    shape) needs no data bytes, so the check of the header against the file
    passed, and the readers made a name per column (hours, then out of
    memory). No rows: refused first. npy_layout, which only reads the
    header, still answers."""
    head = f"{{'descr': '<f8', 'fortran_order': False, 'shape': (0, {2**40}), }}"
    head = head.ljust(118) + "\n"
    member = b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode()
    path = tmp_path / f"wide.{fmt}"
    if fmt == "npy":
        path.write_bytes(member)
        assert io.npy_layout(path)[0] == (0, 2**40)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("X.npy", member)
            labels = __import__("io").BytesIO()
            np.lib.format.write_array(labels, np.zeros(0))
            archive.writestr("y.npy", labels.getvalue())
    with pytest.raises(DataError, match=f"wide.{fmt}: no data rows"):
        read(path)


def test_an_npy_dimension_beyond_int64_is_refused(tmp_path):
    """It leaked OverflowError out of read_dataset."""
    head = f"{{'descr': '<f8', 'fortran_order': False, 'shape': (1, {2**64}), }}"
    head = head.ljust(118) + "\n"
    path = tmp_path / "huge.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little")
                     + head.encode())
    with pytest.raises(DataError, match="beyond int64"):
        io.read_dataset(path)


@pytest.mark.parametrize("shape, words", [("(3, 4, ", "unreadable .npy header"),
                                          ("(True, 4), ", "not a number")])
def test_read_column_checks_the_header_of_x_and_does_not_read_it(tmp_path, shape,
                                                                  words):
    """read_column on an .npz read the whole X member (its header
    unchecked) to count its rows: a bad header leaked TokenError or
    TypeError, a deflated X was inflated in full. X's header gives the rows."""
    def npy(a):
        out = __import__("io").BytesIO()
        np.lib.format.write_array(out, a)
        return out.getvalue()

    head = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}}}"
    head = head.ljust(118) + "\n"
    bad_x = (b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode()
             + bytes(96))
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", bad_x)
        archive.writestr("id.npy", npy(np.array(["a", "b", "c"])))
    with pytest.raises(DataError, match=f"array 'X': .*{words}"):
        io.read_column(path, "id")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", npy(np.zeros((3, 2))))
        archive.writestr("id.npy", npy(np.array(["a", "b", "c"])))
    real = np.lib.npyio.NpzFile.__getitem__
    read = []

    def spied(self, key):
        read.append(key)
        return real(self, key)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(np.lib.npyio.NpzFile, "__getitem__", spied)
        assert io.read_column(path, "id").tolist() == ["a", "b", "c"]
    assert read == ["id"]


def test_npz_with_an_encrypted_member_is_named(tmp_path):
    """zip -e's flag (bit 0) on the members: zipfile raised a bare
    RuntimeError at the first read of one ('unexpected RuntimeError' in
    the command line)."""
    import io as bytes_io
    import struct
    buf = bytes_io.BytesIO()
    np.savez(buf, X=np.ones((6, 2)), y=np.arange(6) % 2)
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(bytes_io.BytesIO(bytes(raw))) as z:
        infos, pos = z.infolist(), z.start_dir
    for info in infos:   # the local headers' flags, then the central ones'
        struct.pack_into("<H", raw, info.header_offset + 6, info.flag_bits | 1)
    while raw[pos:pos + 4] == b"PK\x01\x02":
        flags = struct.unpack_from("<H", raw, pos + 8)[0]
        struct.pack_into("<H", raw, pos + 8, flags | 1)
        n, m, k = struct.unpack_from("<HHH", raw, pos + 28)
        pos += 46 + n + m + k
    path = tmp_path / "locked.npz"
    path.write_bytes(bytes(raw))
    for read in (read_xy, lambda p: next(io.iter_chunks(p, 2)),
                 lambda p: io.read_column(p, "y")):
        with pytest.raises(DataError, match="its member 'X.npy' is encrypted"):
            read(path)


def test_a_latin1_csv_whose_header_starts_as_bzip2_is_not_called_compressed(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("BZh_score,label\n1,0\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="is not UTF-8 text") as info:
        read_xy(path)
    assert "compressed" not in str(info.value)
