"""`fastlr train`'s options: one per estimator parameter, each reaching the
model, each checked; warm starts from a model file."""

import re

import numpy as np
import pytest

import fastlr
from fastlr import cli, persist

# models trained on a CSV have feature_names_in_; the tests predict on arrays
pytestmark = pytest.mark.filterwarnings(
    "ignore:X does not have valid feature names:UserWarning")


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(result, *words):
    code, out, err = result
    assert code == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastlr: error: "), err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def csv3(tmp_path_factory):
    """Three classes (text labels), four features, an ID and a text column."""
    d = tmp_path_factory.mktemp("params")
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(3, 4)) * 3
    y = np.repeat(np.arange(3), 60)
    X = centers[y] + rng.normal(size=(180, 4))
    labels = np.array(["ant", "bee", "cat"])[y]
    path = d / "zoo.csv"
    with open(path, "w") as f:
        f.write("key,w,x,y,z,comment,kind\n")
        for i, (row, label) in enumerate(zip(X.tolist(), labels, strict=True)):
            f.write(f"k{i},{','.join(map(repr, row))},\"seen, {i % 7}\",{label}\n")
    return {"dir": d, "csv": path, "X": X, "labels": labels}


# --------------------------------------------------------------------------
# the table of options


def test_every_estimator_parameter_has_an_option(capsys):
    """Generic: a parameter added to the estimator without an entry in
    cli.TRAIN_PARAMS fails here."""
    params = set(fastlr.LogisticRegression().get_params())
    table = {p.name for p in cli.TRAIN_PARAMS}
    assert not params - table, f"estimator parameters without an option: " \
        f"{sorted(params - table)} (add them to fastlr.cli.TRAIN_PARAMS)"
    assert not table - params, f"options for no parameter: {sorted(table - params)}"
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    for p in cli.TRAIN_PARAMS:
        entry = re.search(rf"^  {re.escape(p.flags[0])}\b.*?(?=^  -|\Z)", text,
                          flags=re.M | re.S)
        assert entry, f"{p.flags[0]} missing from train --help"
        assert len(entry.group(0).split()) > 6, f"{p.flags[0]} has no real help"


def test_defaults_are_the_estimators_unless_said_why():
    estimator = fastlr.LogisticRegression().get_params()
    for p in cli.TRAIN_PARAMS:
        if p.own_default:
            assert p.default != estimator[p.name], p.name
        else:
            assert p.default == estimator[p.name], \
                f"{p.name}: the CLI's default {p.default!r} is not the " \
                f"estimator's {estimator[p.name]!r}; give own_default a reason"


def test_every_example_reaches_the_saved_model(csv3, tmp_path, capsys):
    """One training with every option's example value: each lands in the
    saved model's parameters."""
    argv, expected = [], {}
    for p in cli.TRAIN_PARAMS:
        if p.example:
            argv += p.example[0]
            expected[p.name] = p.example[1]
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                         "--model", model, *argv)
    assert code == 0, err
    saved = fastlr.load(model).get_params()
    for name, value in expected.items():
        assert saved[name] == value, name
    untested = {p.name for p in cli.TRAIN_PARAMS} - set(expected)
    assert untested <= {"warm_start"}  # a file: tested below


def test_defaults_reach_the_saved_model(csv3, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                       "--epochs", "3", "--model", model)
    assert code == 0, err
    saved = fastlr.load(model).get_params()
    assert saved == {**cli.default_params(), "max_iter": 3}


@pytest.mark.parametrize("argv, words", [
    (["--average=0"], ["argument --average", "must be >= 1"]),
    (["--average=x"], ["argument --average", "--average=N"]),
    (["--power-t", "-1"], ["argument --power-t", "must be >= 0"]),
    (["--class-weight", "ant:x"], ["argument --class-weight", "'ant' is not a number"]),
    (["--class-weight", "ant:-1"], ["argument --class-weight", "finite number >= 0"]),
    (["--class-weight", "heavy"], ["argument --class-weight", "LABEL:WEIGHT"]),
    (["--class-weight", "ant:1,ant:2"], ["argument --class-weight", "given twice"]),
    (["--validation-fraction", "0"], ["argument --validation-fraction", "> 0"]),
    (["--validation-fraction", "1"], ["argument --validation-fraction", "< 1"]),
    (["--standardize", "maybe"], ["argument --standardize", "invalid choice"]),
    (["--shuffle", "always"], ["argument --shuffle", "invalid choice"]),
    (["--verbose", "-1"], ["argument --verbose", "must be >= 0"]),
    (["--n-threads", "0"], ["argument --n-threads", "must be >= 1"]),
    (["--drop", "a,,b"], ["argument --drop", "names separated by commas"]),
    (["--drop", "a,a"], ["argument --drop", "named twice"]),
    (["--id", " "], ["argument --id"]),
    (["--epochs", "0"], ["argument --epochs", "must be >= 1"]),
    # the solver's rule (a relative decrease), in the option's terms: it
    # exited 1 naming Python's tol and solver='auto'
    (["--tol", "0"], ["argument --tol", "must be > 0 with --solver auto", "got 0",
                      "--solver sgd takes 0"]),
    (["--tol", "0", "--solver", "lbfgs"], ["argument --tol", "--solver lbfgs"]),
    # the held-out rows are train_test_split's, which takes 32-bit seeds: it
    # exited 1 after reading the data, blaming --validation-fraction
    (["--seed", str(2**32), "--validation-fraction", "0.25"],
     ["argument --random-state/--seed", "below 2**32 with --validation-fraction",
      "train_test_split", f"got {2**32}"]),
    (["--random-state", str(2**64), "--validation-fraction", "0.25"],
     ["argument --random-state/--seed", f"got {2**64}"]),
])
def test_bad_values_are_usage_errors_naming_the_option(csv3, capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", str(csv3["csv"]), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, err


def test_class_weight_labels_are_the_datas(csv3, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                       "--class-weight", "bee:3,cat:0.5", "--epochs", "5",
                       "--model", model)
    assert code == 0, err
    assert fastlr.load(model).class_weight == {"bee": 3.0, "cat": 0.5}
    assert_clean_error(run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                           "--class-weight", "bee:3,dog:1"),
                       "--class-weight", "'dog' is not a class", "ant, bee, cat",
                       "not every class is named")
    # a label that is not a class is ignored when every class is named
    code, _, err = run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                       "--class-weight", "ant:1,bee:3,cat:0.5,dog:1", "--epochs",
                       "5", "--model", model)
    assert code == 0, err
    assert fastlr.load(model).class_weight == {"ant": 1.0, "bee": 3.0, "cat": 0.5}
    # numeric labels: "1" and "1.0" name the class 1
    path = tmp_path / "num.csv"
    path.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    code, _, err = run(capsys, "train", path, "--class-weight", "1.0:2",
                       "--epochs", "2", "--model", model)
    assert code == 0, err
    assert fastlr.load(model).class_weight == {1: 2.0}


def test_early_stopping_reports_the_held_out_score(csv3, capsys):
    code, out, err = run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                         "--early-stopping", "--validation-fraction", "0.25",
                         "--lr", "0.1", "--epochs", "400")
    assert code == 0, err
    held = re.search(r"^held-out:\s+log-loss (\S+) at the best epoch \(early "
                     r"stopping on 0.25 of the rows\)$", out, re.M)
    assert held and 0 < float(held.group(1)) < 0.5
    assert re.search(r"^rows:\s+180$", out, re.M)  # the estimator holds out


def test_held_out_split_refuses_single_row_classes_saying_what_to_do(tmp_path, capsys):
    """--validation-fraction passed scikit-learn's message on a class of one
    row ("The least populated classes in y have only 1 member...", no hint
    what to do); --early-stopping the estimator's, in its parameters' names.
    Both now name the classes (the first few) and the options to change."""
    path = tmp_path / "rare.csv"
    labels = [f"sp {i % 20:02d}" for i in range(200)] + [f"rare {i}" for i in range(8)]
    path.write_text("a,b,label\n" + "".join(f"{i % 7},{i % 3},{lab}\n"
                                            for i, lab in enumerate(labels)))
    for option in (["--validation-fraction", "0.25"], ["--early-stopping"]):
        assert_clean_error(
            run(capsys, "train", path, *option, "--epochs", "2",
                "--model", tmp_path / "m.npz"),
            f"{option[0]}: {path}: the classes rare 0, rare 1, rare 2, rare 3, "
            "rare 4, rare 5, ... (8 in all) have a single row",
            "drop those rows or merge",
            f"or train without {option[0]}")
    assert not (tmp_path / "m.npz").exists()


def test_n_threads(csv3, capsys):
    import numba

    code, out, err = run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                         "--n-threads", "1", "--epochs", "2")
    assert code == 0, err
    assert re.search(r"^threads:\s+1$", out, re.M)
    # above the threads this process may use: capped, as n_threads= of the
    # functions is (a command line from a larger machine runs here), with a
    # note, and the summary names the count used
    most = numba.config.NUMBA_NUM_THREADS
    code, out, err = run(capsys, "train", csv3["csv"], "--drop", "key,comment",
                         "--n-threads", most + 1, "--epochs", "2")
    assert code == 0, err
    assert re.search(rf"^threads:\s+{most}$", out, re.M), out
    note = [line for line in err.splitlines() if "--n-threads" in line]
    assert len(note) == 1 and note[0].startswith(
        f"fastlr: note: --n-threads {most + 1}: this process may use at most "
        f"{most} thread"), err
    assert "NUMBA_NUM_THREADS" in note[0]


# --------------------------------------------------------------------------
# warm start from a model file


def test_warm_start_continues_the_saved_model(csv3, tmp_path, capsys):
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    code, _, err = run(capsys, "train", csv3["csv"], "--drop", "comment",
                       "--id", "key", "--epochs", "5", "--tol", "none",
                       "--penalty", "l1", "--alpha", "0.001", "--model", first)
    assert code == 0, err
    code, out, err = run(capsys, "train", csv3["csv"], "--warm-start", first,
                         "--epochs", "4", "--model", second)
    assert code == 0, err
    assert re.search(r"^warm start:\s+from .*first\.npz$", out, re.M)
    # the columns the first model left out are left out again
    assert re.search(r"^not features:\s+comment, key \(--id\)$", out, re.M)
    a, b = fastlr.load(first), fastlr.load(second)
    # the saved model's parameters are the defaults; options override them
    params = b.get_params()
    assert (params["penalty"], params["alpha"], params["tol"], params["max_iter"],
            params["warm_start"]) == ("l1", 0.001, None, 4, True)
    # it continued: the same as five more epochs in Python on the loaded model
    X, y = csv3["X"], csv3["labels"]
    again = fastlr.load(first).set_params(warm_start=True, max_iter=4)
    again.fit(X, y)
    np.testing.assert_allclose(b.coef_, again.coef_, rtol=1e-12, atol=1e-14)
    assert not np.allclose(a.coef_, b.coef_)


def test_warm_start_needs_the_models_features_and_classes(csv3, tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert run(capsys, "train", csv3["csv"], "--drop", "key,comment", "--epochs",
               "2", "--model", model)[0] == 0
    two = tmp_path / "two.csv"
    keep = csv3["labels"] != "cat"
    with open(two, "w") as f:
        f.write("w,x,y,z,kind\n")
        for row, label in zip(csv3["X"][keep].tolist(), csv3["labels"][keep],
                              strict=True):
            f.write(f"{','.join(map(repr, row))},{label}\n")
    assert_clean_error(run(capsys, "train", two, "--warm-start", model),
                       "--warm-start", "lacks classes of the model (the "
                       "model's classes [cat] is not in its labels)")
    other = tmp_path / "other.csv"
    other.write_text("p,q,kind\n1,2,ant\n3,4,bee\n5,6,cat\n")
    assert_clean_error(run(capsys, "train", other, "--warm-start", model),
                       "none of its columns (p, q, kind) is a feature of the "
                       "model (w, x, y, z)", "--by-position")


@pytest.mark.parametrize("chunks", [(), ("--chunk-rows", "7")])
def test_warm_start_matches_csv_columns_as_predict_does(csv3, tmp_path, capsys,
                                                        chunks):
    """train --warm-start on a CSV takes its columns by the model's feature
    names, or in order with --by-position (the remedy its error names; train
    had no such option): a model without feature names (from an .npy) is
    refused a CSV without it, as predict refuses it (it was trained on the
    CSV's columns by position: in another order, every weight continued on
    the wrong feature without a word)."""
    X, labels = csv3["X"], csv3["labels"]
    npy = tmp_path / "d.npy"
    codes = np.searchsorted(np.unique(labels), labels).astype(np.float64)
    np.save(npy, np.column_stack([X, codes]))
    model = tmp_path / "m.npz"
    assert run(capsys, "train", npy, "--epochs", "2", "--model", model)[0] == 0
    shuffled = tmp_path / "s.csv"
    with open(shuffled, "w") as f:
        f.write("z,w,x,y,kind\n")
        for row, c in zip(X.tolist(), codes.astype(int).tolist(), strict=True):
            f.write(f"{row[3]!r},{row[0]!r},{row[1]!r},{row[2]!r},{c}\n")
    out = tmp_path / "out.npz"
    assert_clean_error(run(capsys, "train", shuffled, "--warm-start", model,
                           "--model", out, *chunks),
                       "the model has no feature names", "--by-position")
    assert not out.exists()
    code, _, err = run(capsys, "train", shuffled, "--warm-start", model,
                       "--by-position", "--epochs", "1", "--model", out, *chunks)
    assert code == 0, err
    assert fastlr.load(out).feature_names_in_.tolist() == ["z", "w", "x", "y"]
    assert_clean_error(run(capsys, "train", shuffled, "--by-position", *chunks),
                       "--by-position matches DATA's columns to --warm-start's")


def test_model_records_its_columns(csv3, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "train", csv3["csv"], "--drop", "comment",
                       "--id", "key", "--epochs", "2", "--model", model)
    assert code == 0, err
    data = persist.read_metadata(model)["metadata"]["data"]
    assert data["ignored"] == ["comment"] and data["id"] == "key"
    assert data["feature_names"] == ["w", "x", "y", "z"]
    clf = fastlr.load(model)
    assert clf.feature_names_in_.tolist() == ["w", "x", "y", "z"]
    assert clf.feature_names_in_.dtype == object


def test_a_model_with_text_classes_from_pandas(tmp_path, capsys):
    """A model fitted in Python on a pandas text label column has classes_
    of dtype object (fastlr.load restores them so): evaluate and train
    --warm-start take it as the same model with NumPy string classes (they
    refused it: "the labels are text (no, yes) but the model's classes are
    numbers (no, yes)")."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    # labels that would be one number, 1, if read as numbers
    df["label"] = np.where(df["a"] + 0.5 * rng.normal(size=200) > 0, "01", "1")
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    model = tmp_path / "m.npz"
    fastlr.save(fastlr.LogisticRegression(random_state=0).fit(df[["a", "b"]],
                                                          df["label"]),
                model)
    assert fastlr.load(model).classes_.dtype == object
    code, out, err = run(capsys, "evaluate", "--model", model, data, "--target",
                         "label")
    assert code == 0, err
    assert re.search(r"^classes:\s+01, 1", out, re.M)
    for chunks in ((), ("--chunk-rows", "50")):
        code, _, err = run(capsys, "train", data, "--target", "label",
                           "--warm-start", model, "--epochs", "1", "--model",
                           tmp_path / "m2.npz", *chunks)
        assert code == 0, err
        assert fastlr.load(tmp_path / "m2.npz").classes_.tolist() == ["01", "1"]


def test_the_svmlight_index_base_can_be_given(tmp_path, capsys):
    """A model fitted in Python on 0-based svmlight rows records no index
    base: new rows without index 0 were read as 1-based, every feature
    shifted by one without a word. Such a guess (both bases fit the model's
    width) is now said, and --zero-based gives the base (train records it;
    a base at odds with the model's is refused)."""
    from sklearn.datasets import load_svmlight_file

    rng = np.random.default_rng(3)
    lines = []
    for _ in range(40):
        idx = sorted(rng.choice(4, 2, replace=False))
        v = rng.normal(size=2)
        lines.append(f"{int(v[0] * (idx[0] == 0) + rng.normal() > 0)} "
                     + " ".join(f"{j}:{x:.3f}" for j, x in zip(idx, v, strict=True)))
    train = tmp_path / "train.svm"
    train.write_text("\n".join(lines) + "\n")
    X, y = load_svmlight_file(str(train), zero_based=True)
    clf = fastlr.LogisticRegression(random_state=0).fit(X, y.astype(int))
    model = tmp_path / "m.npz"
    fastlr.save(clf, model)
    new = tmp_path / "new.svm"
    new.write_text("0 1:2.0 3:-1.5\n0 2:0.5 3:1.0\n")
    Xn, _ = load_svmlight_file(str(new), zero_based=True, n_features=4)
    want = clf.predict_proba(Xn)[:, 1]

    def proba(*extra, model=model):
        code, out, err = run(capsys, "predict", "--model", model, new, "--proba",
                             *extra)
        assert code == 0, err
        return np.array([float(r.split(",")[1]) for r in out.splitlines()[1:]]), err

    got, err = proba()
    assert "no feature index is 0" in err and "--zero-based yes" in err
    assert not np.allclose(got, want)
    got, err = proba("--zero-based", "yes")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert err == ""
    # train records the base given; predict then needs none
    trained = tmp_path / "t.npz"
    assert run(capsys, "train", train, "--zero-based", "yes", "--model", trained,
               "--quiet")[0] == 0
    got, err = proba(model=trained)
    assert err == ""
    assert_clean_error(run(capsys, "predict", "--model", trained, new,
                           "--zero-based", "no"),
                       "--zero-based no: the model was trained on 0-based")
    # ... and says what to do for data of the other base
    assert "train the model again with --zero-based no" in run(
        capsys, "predict", "--model", trained, new, "--zero-based", "no")[2]
    assert_clean_error(run(capsys, "predict", "--model", trained, tmp_path / "x.csv",
                           "--zero-based", "no"), "--zero-based is for svmlight")
    # a warm start read whole or in chunks says the guess too
    more = tmp_path / "more.svm"
    more.write_text("0 1:2.0 3:-1.5\n1 2:0.5 3:1.0\n" * 4)
    for chunks in ((), ("--chunk-rows", "3")):
        code, _, err = run(capsys, "train", more, "--warm-start", model, "--epochs",
                           "1", *chunks)
        assert code == 0, err
        assert "no feature index is 0" in err, (chunks, err)


def test_feature_names_with_spaces_from_pandas_match_the_csv(tmp_path, capsys):
    """A model fitted on pd.read_csv of a CSV written "a, b, label" has the
    feature name ' b' (pandas keeps the space); fastlr's CSV reader strips
    header names, so predict on that same file said column ' b' was
    missing. The model's names are matched without their spaces."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "s.csv"
    path.write_text("a, b, label\n" + "".join(
        f"{u!r}, {v!r}, {t}\n" for (u, v), t in zip(X.tolist(), y, strict=True)))
    df = pd.read_csv(path)
    assert list(df.columns) == ["a", " b", " label"]
    clf = fastlr.LogisticRegression(random_state=0).fit(df[["a", " b"]], df[" label"])
    model = tmp_path / "m.npz"
    fastlr.save(clf, model)
    code, out, err = run(capsys, "predict", "--model", model, path, "--target",
                         "label")
    assert code == 0, err
    assert [int(v) for v in out.splitlines()[1:]] == clf.predict(df[["a", " b"]]).tolist()
