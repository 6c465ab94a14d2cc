"""fastlr.io's readers on CSV columns without names and on numbers that are
column names: the rules the command line uses too (test_cli_columns.py)."""

import numpy as np
import pytest

from fastlr import io
from fastlr.io import DataError, read_dataset

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -2.0], [-0.5, 3.0, 1.0]])


def write(path, header, rows):
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    return path


def test_a_models_features_are_found_by_name_beside_unnamed_columns(tmp_path):
    """Two unnamed columns made the readers take the model's features in
    file order: x2 read as x0."""
    path = write(tmp_path / "xl.csv", ["x2", "x1", "x0", "", ""],
                 [[*r, "", ""] for r in X[:, [2, 1, 0]].tolist()])
    kw = dict(labels="ignore", n_features=3, feature_names=["x0", "x1", "x2"])
    for drop in ([3, 4], ["Unnamed: 3", "Unnamed: 4"], [-1, -2]):
        data = read_dataset(path, drop=drop, **kw)
        assert data.feature_names == ["x0", "x1", "x2"]
        np.testing.assert_array_equal(data.X, X)
        read, parts = io.open_chunks(path, 2, drop=drop, **kw)
        assert read.feature_names == ["x0", "x1", "x2"]
        np.testing.assert_array_equal(np.vstack([p[0] for p in parts]), X)
    # not dropped, they are extra columns, shown by the name pandas gives them
    with pytest.raises(io.FeatureMismatchError,
                       match="not in the model: 'Unnamed: 3', 'Unnamed: 4'"):
        read_dataset(path, **kw)


def test_an_unnamed_column_is_never_a_feature_of_a_new_model(tmp_path):
    """df.to_csv() keeps the index as an unnamed first column: it was
    silently a feature."""
    path = write(tmp_path / "idx.csv", ["", "x0", "x1", "label"],
                 [[i, *r[:2], i % 2] for i, r in enumerate(X.tolist())])
    for read in (lambda **kw: read_dataset(path, target="label", **kw),
                 lambda **kw: list(io.iter_chunks(path, 2, target="label", **kw)),
                 lambda **kw: io.feature_columns(path, target="label", **kw)):
        with pytest.raises(DataError, match=r"the column at index 0 has no name.*"
                           r"drop=\['Unnamed: 0'\].*--drop 'Unnamed: 0'"):
            read()
        read(drop=["Unnamed: 0"])
        read(drop=[0])
    data = read_dataset(path, target="label", drop=["Unnamed: 0"])
    assert data.feature_names == ["x0", "x1"]
    np.testing.assert_array_equal(data.X, X[:, :2])
    # 'Unnamed: J' names an unnamed column only
    with pytest.raises(DataError, match="unknown column to drop 'Unnamed: 1'"):
        read_dataset(path, target="label", drop=["Unnamed: 1"])


def test_a_number_naming_one_column_and_indexing_another_is_ambiguous(tmp_path):
    """',0,1,2,3' (pd.DataFrame(array).to_csv()): the string '0' named the
    second column and meant it, though it is the first's index; an int is
    always an index."""
    path = write(tmp_path / "arr.csv", ["", "0", "1", "2", "3"],
                 [[i, *r, i % 2] for i, r in enumerate(X.tolist())])
    with pytest.raises(DataError, match=r"column to drop '0' is ambiguous: it names "
                       r"the column at index 1 and indexes the column at index 0"):
        read_dataset(path, target=-1, drop=["0"])
    with pytest.raises(DataError, match="target column '3' is ambiguous"):
        read_dataset(path, target="3", drop=[0])
    data = read_dataset(path, target=-1, drop=[0])
    assert data.feature_names == ["0", "1", "2"] and data.target == "3"
    np.testing.assert_array_equal(data.X, X)
    assert io.read_column(path, 0).tolist() == ["0", "1", "2"]
    with pytest.raises(DataError, match="column '2' is ambiguous"):
        io.read_column(path, "2")
    # a number that names the column it indexes is that column
    same = write(tmp_path / "same.csv", ["0", "1", "2", "3"],
                 [[*r, i % 2] for i, r in enumerate(X.tolist())])
    assert read_dataset(same, target="3", drop=["1"]).feature_names == ["0", "2"]


def test_messages_count_columns_from_zero(tmp_path):
    path = write(tmp_path / "dup.csv", ["a", "b", "a", "y"], [[1, 2, 3, 0]])
    with pytest.raises(DataError, match=r"names two columns 'a' \(at index 0 and 2\)"):
        read_dataset(path)
    path = write(tmp_path / "xl.csv", ["a", "b", "y", "", ""],
                 [[1, 2, 0, "", ""], [3, 4, 1, "", ""]])
    with pytest.raises(DataError, match=r"the columns at index 3 and 4 have no name.*"
                       r"--drop 'Unnamed: 3,Unnamed: 4'"):
        read_dataset(path, target="y")


def test_a_file_pandas_wrote_twice_names_its_columns_unambiguously(tmp_path):
    """pd.read_csv of df.to_csv() output, written again: the header
    ",Unnamed: 0,..." holds pandas' name of its first column as the second
    one's name. 'Unnamed: 0' was advised for the first and then meant the
    second; it is ambiguous, and the forms the messages advise work."""
    path = write(tmp_path / "twice.csv", ["", "Unnamed: 0", "a", "label"],
                 [[i, i, x, int(x > 0)] for i, x in enumerate([0.5, -1.0, 2.0])])
    with pytest.raises(DataError, match="index 0 has no name.*drop=\\['-4'\\]"):
        read_dataset(path)
    with pytest.raises(DataError, match="'Unnamed: 0' is ambiguous: it names the "
                       "column at index 1 and is pandas' name of the column at "
                       "index 0; give the unnamed column at index 0 as "
                       "drop=\\[0\\]"):
        read_dataset(path, drop=["Unnamed: 0"])
    data = read_dataset(path, drop=["-4", "-3"])
    assert data.feature_names == ["a"] and data.target == "label"
