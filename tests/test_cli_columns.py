"""The command line on CSV columns without names (a spreadsheet's trailing
empty columns, the index pandas' ``to_csv()`` writes, R's row names) and on
numbers that are column names (pandas' header ``,0,1,2,3``): which column
each option and each of a model's features means."""

import csv

import numpy as np
import pytest
from test_cli_params import run

import fastlr
from fastlr import cli

pytestmark = pytest.mark.filterwarnings(
    "ignore:X does not have valid feature names:UserWarning")


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def fields(text):
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """300 rows of x0, x1, x2 and a 0/1 label (x0 and x1 matter, x2 little),
    and a model trained on them as 'x0,x1,x2,label'."""
    d = tmp_path_factory.mktemp("columns")
    rng = np.random.default_rng(13)
    X = np.round(rng.normal(size=(300, 3)), 6)
    y = (2 * X[:, 0] - X[:, 1] + rng.logistic(size=300) > 0).astype(int)
    train = write(d / "train.csv", ["x0", "x1", "x2", "label"],
                  [[*x, t] for x, t in zip(X.tolist(), y.tolist(), strict=True)])
    model = d / "m.npz"
    assert cli.main(["train", str(train), "--target", "label", "--model",
                     str(model), "--quiet"]) == 0
    return {"dir": d, "X": X, "y": y, "train": train, "model": model}


def proba(capsys, model, path, *extra):
    code, out, err = run(capsys, "predict", "--model", model, path, "--proba", *extra)
    assert code == 0, err
    return out


# --------------------------------------------------------------------------
# F1: a model's features are found by name among the named columns


@pytest.mark.parametrize("chunk_rows", ["0", "2"])
def test_predict_matches_by_name_beside_unnamed_columns(data, capsys, chunk_rows):
    """Excel's trailing empty columns ('x2,x1,x0,,'), dropped by index, and
    pandas' two-level index (',,x2,x1,x0'): the features were taken in file
    order, x2 for x0, whenever two columns had no name; a clean reordered
    file shows the right probabilities."""
    d, X = data["dir"], data["X"][:5]
    plain = write(d / "plain.csv", ["x2", "x1", "x0"], X[:, [2, 1, 0]].tolist())
    excel = write(d / "excel.csv", ["x2", "x1", "x0", "", ""],
                  [[*x, "", ""] for x in X[:, [2, 1, 0]].tolist()])
    multi = write(d / "multi.csv", ["", "", "x2", "x1", "x0"],
                  [["g", i, *x] for i, x in enumerate(X[:, [2, 1, 0]].tolist())])
    want = proba(capsys, data["model"], plain, "--chunk-rows", chunk_rows)
    assert proba(capsys, data["model"], excel, "--drop", "3,4",
                 "--chunk-rows", chunk_rows) == want
    assert proba(capsys, data["model"], excel, "--drop", "Unnamed: 3,Unnamed: 4",
                 "--chunk-rows", chunk_rows) == want
    assert proba(capsys, data["model"], multi, "--drop", "0,1",
                 "--chunk-rows", chunk_rows) == want
    # left over, an unnamed column is an extra column, named readably
    code, _, err = run(capsys, "predict", "--model", data["model"], excel,
                       "--chunk-rows", chunk_rows)
    assert code == 1
    assert "not in the model: 'Unnamed: 3', 'Unnamed: 4'" in err


@pytest.mark.parametrize("chunk_rows", ["0", "7"])
def test_evaluate_matches_by_name_beside_unnamed_columns(data, capsys, chunk_rows):
    """The training rows saved as 'x2,label,x1,x0,,' were evaluated with
    x2 and x0 swapped: accuracy 0.55 instead of 0.85."""
    d, X, y = data["dir"], data["X"], data["y"]
    path = write(d / "more.csv", ["x2", "label", "x1", "x0", "", ""],
                 [[x[2], t, x[1], x[0], "", ""]
                  for x, t in zip(X.tolist(), y.tolist(), strict=True)])
    code, want, err = run(capsys, "evaluate", "--model", data["model"],
                          data["train"], "--chunk-rows", chunk_rows)
    assert code == 0, err
    code, out, err = run(capsys, "evaluate", "--model", data["model"], path,
                         "--drop", "4,5", "--chunk-rows", chunk_rows)
    assert code == 0, err
    for key in ("accuracy", "log-loss", "ROC AUC"):
        assert fields(out)[key] == fields(want)[key]


def test_warm_start_matches_by_name_beside_unnamed_columns(data, capsys):
    """train --warm-start on a reordered file with unnamed columns attached
    the weights to the wrong features (x0's to x2)."""
    d, X, y = data["dir"], data["X"], data["y"]
    rows = [[x[2], t, x[1], x[0]] for x, t in zip(X.tolist(), y.tolist(), strict=True)]
    plain = write(d / "ws_plain.csv", ["x2", "label", "x1", "x0"], rows)
    excel = write(d / "ws_excel.csv", ["x2", "label", "x1", "x0", "", ""],
                  [[*r, "", ""] for r in rows])
    models = []
    for path, extra in ((plain, []), (excel, ["--drop", "4,5"])):
        out = d / f"ws_{path.stem}.npz"
        code, _, err = run(capsys, "train", path, "--target", "label", *extra,
                           "--warm-start", data["model"], "--solver", "sgd",
                           "--epochs", "1", "--tol", "none", "--quiet",
                           "--model", out)
        assert code == 0, err
        models.append(fastlr.load(out))
    assert list(models[1].feature_names_in_) == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(models[1].coef_, models[0].coef_)


def test_unnamed_columns_left_out_in_training_are_left_out_again(data, capsys):
    """A model trained on a spreadsheet export with its empty columns
    dropped could not predict on another such file, even with them dropped
    again ("column to drop '': the header has 2 columns without a name");
    the summary showed the dropped columns as nothing ('not features: , ')."""
    d, X, y = data["dir"], data["X"], data["y"]
    path = write(d / "xl.csv", ["x0", "x1", "x2", "label", "", ""],
                 [[*x, t, "", ""] for x, t in zip(X.tolist(), y.tolist(), strict=True)])
    model = d / "xl.npz"
    code, out, err = run(capsys, "train", path, "--target", "label", "--drop", "4,5",
                         "--model", model)
    assert code == 0, err
    assert fields(out)["not features"].strip() == "'Unnamed: 4', 'Unnamed: 5'"
    new = write(d / "xl_new.csv", ["x2", "x1", "x0", "", ""],
                [[*x, "", ""] for x in X[:5, [2, 1, 0]].tolist()])
    plain = write(d / "xl_plain.csv", ["x2", "x1", "x0"], X[:5, [2, 1, 0]].tolist())
    want = proba(capsys, model, plain)
    assert proba(capsys, model, new) == want
    assert proba(capsys, model, new, "--drop", "3,4") == want
    assert proba(capsys, model, new, "--chunk-rows", "2") == want


def test_an_old_models_unnamed_feature_matches_the_only_unnamed_column(tmp_path,
                                                                       capsys):
    """A model an older version trained with an unnamed column among its
    features ('' in feature_names_in_) still finds it: the file's only
    unnamed column."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    clf = fastlr.LogisticRegression(random_state=0).fit(
        pd.DataFrame(X, columns=["", "b"]), y)
    fastlr.save(clf, tmp_path / "old.npz")
    path = write(tmp_path / "new.csv", ["b", ""], X[:4, ::-1].tolist())
    code, out, err = run(capsys, "predict", "--model", tmp_path / "old.npz", path)
    assert code == 0, err
    assert out.splitlines()[1:] == [str(v) for v in clf.predict(X[:4]).tolist()]


# --------------------------------------------------------------------------
# F2: a number that names one column and indexes another is refused


def test_a_number_naming_one_column_and_indexing_another_is_refused(tmp_path, capsys):
    """pd.DataFrame(array).to_csv() writes ',0,1,2,3': '--drop 0' dropped
    the feature named '0' and kept the index as a feature; the message says
    how to give each column unambiguously."""
    rng = np.random.default_rng(14)
    X = rng.normal(size=(100, 3))
    y = (2 * X[:, 0] - X[:, 1] + rng.logistic(size=100) > 0).astype(int)
    path = write(tmp_path / "arr.csv", ["", "0", "1", "2", "3"],
                 [[i, *x, t] for i, (x, t) in enumerate(zip(X.tolist(), y.tolist(),
                                                            strict=True))])
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", path, "--target=-1", "--drop", "0",
                       "--model", model)
    assert code == 1 and not model.exists()
    assert "'0' is ambiguous" in err
    assert "--drop=-4" in err and "--drop 'Unnamed: 0'" in err
    code, _, err = run(capsys, "train", path, "--target", "3", "--drop",
                       "Unnamed: 0", "--model", model)
    assert code == 1 and "'3' is ambiguous" in err and "--target=-1" in err
    code, out, err = run(capsys, "train", path, "--target=-1", "--drop",
                         "Unnamed: 0", "--model", model)
    assert code == 0, err
    assert list(fastlr.load(model).feature_names_in_) == ["0", "1", "2"]
    # and for predict's --id
    code, _, err = run(capsys, "predict", "--model", model, path, "--id", "1")
    assert code == 1 and "'1' is ambiguous" in err and "--id=-3" in err


def test_a_number_that_names_the_column_it_indexes_is_not_ambiguous(tmp_path, capsys):
    """pd.DataFrame(array).to_csv(index=False): '0,1,2,3'."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    path = write(tmp_path / "arr.csv", ["0", "1", "2", "3"],
                 [[*x, t] for x, t in zip(X.tolist(), y.tolist(), strict=True)])
    code, out, err = run(capsys, "train", path, "--target", "3", "--drop", "1",
                         "--model", tmp_path / "m.npz")
    assert code == 0, err
    assert list(fastlr.load(tmp_path / "m.npz").feature_names_in_) == ["0", "2"]


# --------------------------------------------------------------------------
# F3: an unnamed column is never silently a feature in training


@pytest.mark.parametrize("chunk_rows", ["0", "50"])
def test_train_refuses_an_unnamed_index_column_as_a_feature(tmp_path, capsys,
                                                            chunk_rows):
    """df.to_csv() with its index (',x0,x1,x2,label'): the row numbers were
    a feature, leaking the label of a file sorted by class (training
    accuracy 0.995, 0.52 on new rows)."""
    rng = np.random.default_rng(10)
    X = rng.normal(size=(200, 3))
    y = np.sort((X[:, 0] + rng.logistic(size=200) > 0).astype(int))
    path = write(tmp_path / "idx.csv", ["", "x0", "x1", "x2", "label"],
                 [[i, *x, t] for i, (x, t) in enumerate(zip(X.tolist(), y.tolist(),
                                                            strict=True))])
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", path, "--target", "label", "--model", model,
                       "--chunk-rows", chunk_rows)
    assert code == 1 and not model.exists()
    assert "the column at index 0 has no name" in err
    assert "index=False" in err and "row.names" in err
    assert "--drop 'Unnamed: 0'" in err
    for drop in ("Unnamed: 0", "0"):
        code, _, err = run(capsys, "train", path, "--target", "label", "--drop", drop,
                           "--model", model, "--chunk-rows", chunk_rows)
        assert code == 0, err
        assert list(fastlr.load(model).feature_names_in_) == ["x0", "x1", "x2"]
    # R's write.csv: row names under the name ""
    r = tmp_path / "r.csv"
    r.write_text('"","x0","label"\n' + "".join(f'"{i + 1}",{X[i, 0]!r},{y[i]}\n'
                                                for i in range(200)))
    code, _, err = run(capsys, "train", r, "--target", "label", "--model", model,
                       "--chunk-rows", chunk_rows)
    assert code == 1 and "--drop 'Unnamed: 0'" in err


def test_messages_count_columns_from_zero_as_the_options_do(tmp_path, capsys):
    """'column 5 has no name' meant --drop 4; '--drop 5,6' then failed."""
    path = write(tmp_path / "xl.csv", ["x0", "x1", "x2", "label", "", ""],
                 [[0.5, 1, 2, 0, "", ""], [1.5, 0, 1, 1, "", ""],
                  [2.5, 1, 0, 0, "", ""], [0.1, 0, 2, 1, "", ""]])
    code, _, err = run(capsys, "train", path, "--target", "label")
    assert code == 1
    assert "the columns at index 4 and 5 have no name" in err
    assert "--drop 'Unnamed: 4,Unnamed: 5'" in err
    dup = write(tmp_path / "dup.csv", ["a", "b", "a", "label"], [[1, 2, 3, 0]])
    code, _, err = run(capsys, "train", dup, "--target", "label")
    assert code == 1 and "(at index 0 and 2)" in err


# --------------------------------------------------------------------------
# F5: a column's name that holds a comma (an export's "Income, USD")


def test_drop_takes_a_name_with_a_comma_whole(data, tmp_path, capsys):
    """``--drop 'Customer, ID'`` was split into the unknown columns
    'Customer' and 'ID', and the message listed the columns joined with
    ', ', where the name could not be told apart."""
    X, y = data["X"], data["y"]
    path = write(tmp_path / "c.csv", ["Customer, ID", "x0", "x1", "x2", "label"],
                 [[f"C{i}", *X[i], y[i]] for i in range(len(y))])
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", path, "--target", "label", "--drop",
                       "Customer, ID", "--model", model, "--quiet")
    assert code == 0, err
    assert list(fastlr.load(model).feature_names_in_) == ["x0", "x1", "x2"]
    # the name and another column in one value: split, as before
    code, _, err = run(capsys, "train", path, "--target", "label", "--drop",
                       "Customer, ID,x2", "--model", model, "--quiet")
    assert code == 1 and "unknown column 'Customer' (--drop)" in err
    assert "columns are: 'Customer, ID', x0, x1" in err
    code, _, err = run(capsys, "train", path, "--target", "label", "--drop",
                       "Customer, ID", "--drop", "x2", "--model", model, "--quiet")
    assert code == 0, err
    assert list(fastlr.load(model).feature_names_in_) == ["x0", "x1"]
    # predict leaves the column out again (train recorded it)
    out = proba(capsys, model, path)
    assert len(out.splitlines()) == len(y) + 1


def test_a_comma_value_that_names_no_column_is_still_split(data, tmp_path, capsys):
    X, y = data["X"], data["y"]
    path = write(tmp_path / "d.csv", ["id", "note", "x0", "label"],
                 [[i, "n", X[i, 0], y[i]] for i in range(len(y))])
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", path, "--target", "label", "--drop",
                       "id,note", "--model", model, "--quiet")
    assert code == 0, err
    assert list(fastlr.load(model).feature_names_in_) == ["x0"]


def test_the_text_column_hint_for_a_name_with_a_comma_works_as_typed(data, tmp_path,
                                                                     capsys):
    """The hint said '--drop 0' (the name could not be typed); now the name,
    and the suggested option runs."""
    X, y = data["X"], data["y"]
    path = write(tmp_path / "t.csv", ["Customer, ID", "x0", "label"],
                 [[f"C{i}", X[i, 0], y[i]] for i in range(len(y))])
    code, _, err = run(capsys, "train", path, "--target", "label")
    assert code == 1 and "(--drop 'Customer, ID' on the command line)" in err
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", path, "--target", "label", "--drop",
                       "Customer, ID", "--model", model, "--quiet")
    assert code == 0, err


def test_a_class_with_a_comma_is_quoted_in_lists(data, tmp_path, capsys):
    """'classes: no, yes, sir' read as three classes, not two."""
    X, y = data["X"], data["y"]
    path = write(tmp_path / "c.csv", ["x0", "label"],
                 [[X[i, 0], ["no", "yes, sir"][y[i]]] for i in range(len(y))])
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", path, "--model", model)
    assert code == 0, err
    assert fields(out)["classes"].strip().startswith("no, 'yes, sir'")
    code, out, err = run(capsys, "evaluate", path, "--model", model)
    assert code == 0, err
    assert fields(out)["classes"].strip() == "no, 'yes, sir' (positive: 'yes, sir')"


def test_a_drop_value_that_names_one_column_and_several_is_refused(data, tmp_path,
                                                                   capsys):
    """Header a,b,"a,b": --drop a,b dropped a and b before, and only 'a,b'
    after the rule that takes a name whole, without a word."""
    X, y = data["X"], data["y"]
    path = write(tmp_path / "c.csv", ["a", "b", "a,b", "label"],
                 [[*X[i], y[i]] for i in range(len(y))])
    code, _, err = run(capsys, "train", path, "--drop", "a,b")
    assert code == 1
    assert "--drop a,b: names the column 'a,b' and the columns a, b alike" in err
    assert "(--drop=-2)" in err and "(--drop a --drop b)" in err
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", path, "--drop", "a", "--drop", "b",
                       "--model", model, "--quiet")
    assert code == 0, err
    assert list(fastlr.load(model).feature_names_in_) == ["a,b"]


def test_names_with_empty_or_repeated_parts_are_taken_whole(data, tmp_path, capsys):
    """'Last,' and 'a, a' could not be given by name (argparse refused the
    value before the header was read), and the text-column hint gave them
    so."""
    X, y = data["X"], data["y"]
    path = write(tmp_path / "t.csv", ["Last,", "a, a", "x0", "label"],
                 [["n", "m", X[i, 0], y[i]] for i in range(len(y))])
    code, _, err = run(capsys, "train", path)
    assert code == 1 and "(--drop Last, --drop 'a, a' on the command line)" in err
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", path, "--drop", "Last,", "--drop", "a, a",
                         "--model", model)
    assert code == 0, err
    assert fields(out)["not features"].strip() == "'Last,', 'a, a'"
    # a value that names no column is still checked as a list of names
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", str(path), "--drop", "x0,,label"])
    assert exc.value.code == 2
