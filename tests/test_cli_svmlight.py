"""svmlight files as LIBSVM's site gives them, through the CLI: a test
file with indices the training file lacks (a9a and a9a.t), and what the
messages about a file's width say to do."""

import numpy as np
import pytest
from test_cli_params import assert_clean_error, run

import fastlr
from fastlr import cli


def svm_lines(rng, m, width, base=1):
    """``m`` lines of a two-class svmlight file, indices ``base`` up to
    ``width - 1 + base``, each present with probability 1/2."""
    lines = []
    for _ in range(m):
        idx = np.flatnonzero(rng.random(width) < 0.5)
        v = rng.normal(size=idx.size)
        label = 1 if v[:2].sum() + rng.logistic() > 0 else -1
        lines.append(f"{label} " + " ".join(f"{j + base}:{x:.4g}" for j, x in
                                             zip(idx, v, strict=True)))
    return lines


@pytest.fixture(scope="module")
def a9a(tmp_path_factory):
    """A training file of largest index 6 and a test file that also has
    indices 7 and 8 (in some rows), as a9a (119) and a9a.t (123); the test
    file without those entries; a model trained on the training file."""
    d = tmp_path_factory.mktemp("a9a")
    rng = np.random.default_rng(5)
    train = d / "a9a.svm"
    train.write_text("\n".join(svm_lines(rng, 200, 6)) + "\n")
    test = svm_lines(rng, 60, 6)
    wide, cut = [], []
    for i, line in enumerate(test):
        cut.append(line)
        extra = {0: " 7:1.5", 1: " 8:2", 5: " 7:-1 8:0.5"}.get(i % 7, "")
        wide.append(line + extra)
    (d / "a9a.t.svm").write_text("\n".join(wide) + "\n")
    (d / "cut.t.svm").write_text("\n".join(cut) + "\n")
    model = d / "m.npz"
    assert cli.main(["train", str(train), "--model", str(model), "--quiet"]) == 0
    return d, model


@pytest.mark.parametrize("chunks", [(), ("--chunk-rows", "4")])
def test_a_model_trained_on_svmlight_ignores_indices_its_file_lacks(
        a9a, capsys, chunks):
    """The model of a9a was refused a9a.t ("the model was trained on 6
    features but this file has 8 features"), with no way forward. As LIBSVM
    does, the entries beyond the model's width are now left out (the
    training file had no such feature: its weight would be 0), with one
    warning counting them; whole and in parts alike."""
    d, model = a9a
    code, out, err = run(capsys, "predict", d / "a9a.t.svm", "--model", model,
                         "--proba", *chunks)
    assert code == 0, err
    want = run(capsys, "predict", d / "cut.t.svm", "--model", model, "--proba")
    assert want[0] == 0 and want[2] == ""
    assert out == want[1]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0] == (
        f"fastlr: warning: {d / 'a9a.t.svm'}: ignored 34 entries in 26 rows at "
        "feature indices beyond the model's 6 features (this file has 8), as "
        "LIBSVM ignores them: the file the model was trained on had no such "
        "feature, so its weight for each is 0 and leaving them out changes no "
        "prediction")
    code, out, err2 = run(capsys, "evaluate", d / "a9a.t.svm", "--model", model,
                          *chunks)
    assert code == 0 and err2 == err
    assert "accuracy" in out


def test_train_n_features_reads_svmlight_as_wide_as_asked(a9a, tmp_path, capsys):
    """train --n-features N, as load_svmlight_file(n_features=N): the model is
    N features wide (zero weights for the features the file lacks) and
    scores a9a.t without a warning; N below the file's width is refused,
    naming the line; other formats are refused."""
    d, _ = a9a
    wide = tmp_path / "w.npz"
    for chunks in ((), ("--chunk-rows", "50", "--solver", "sgd")):
        code, out, err = run(capsys, "train", d / "a9a.svm", "--n-features", 8,
                             "--model", wide, "--quiet", *chunks)
        assert code == 0, err
        clf = fastlr.load(wide)
        assert clf.n_features_in_ == 8
        np.testing.assert_array_equal(clf.coef_[:, 6:], 0.0)
        code, _, err = run(capsys, "evaluate", d / "a9a.t.svm", "--model", wide)
        assert code == 0 and err == "", err
        assert_clean_error(
            run(capsys, "train", d / "a9a.svm", "--n-features", 5, *chunks),
            "--n-features 5: ", "has a feature index beyond 5 (the file has 6 "
            "features); give --n-features 6 or more")
    np.save(tmp_path / "t.npy", np.ones((4, 3)))
    assert_clean_error(run(capsys, "train", tmp_path / "t.npy", "--n-features", 3),
                       "--n-features is for svmlight files")


@pytest.mark.parametrize("chunks", [(), ("--chunk-rows", "4")])
def test_a_wider_svmlight_file_says_what_to_do(a9a, tmp_path, capsys, chunks):
    """A model not trained on an svmlight file (an .npy table here) keeps
    the error, which now says why and what to do; the width it names is
    the file's in parts too (it named the chunk's widest row); a warm start
    on a wider file is refused, saying how to train at the widest width."""
    d, model = a9a
    from sklearn.datasets import load_svmlight_file

    X, y = load_svmlight_file(str(d / "a9a.svm"))
    np.save(tmp_path / "t.npy", np.column_stack([X.toarray(), y]))
    npy_model = tmp_path / "npy.npz"
    assert run(capsys, "train", tmp_path / "t.npy", "--model", npy_model,
               "--quiet")[0] == 0
    assert_clean_error(
        run(capsys, "evaluate", d / "a9a.t.svm", "--model", npy_model, *chunks),
        "line 1: the model was trained on 6 features but this file has 8 "
        "features; the model was trained on npy data, not on an svmlight file",
        "fastlr train FILE --n-features 8")
    words = ["the model was trained on 6 features but this file has 8 features",
             "train it anew at the widest width, as fastlr train FIRST "
             "--n-features 8"]
    assert_clean_error(
        run(capsys, "train", d / "a9a.t.svm", "--warm-start", model,
            *(chunks and ("--chunk-rows", "4", "--solver", "sgd"))),
        "--warm-start: ", *words)


@pytest.mark.parametrize("chunks", [(), ("--chunk-rows", "7")])
def test_the_guessed_base_warning_says_why_the_model_records_none(
        tmp_path, capsys, chunks):
    """A model trained by fastlr train on an .npy table, scoring an
    svmlight file without index 0, was said "not trained by fastlr train".
    The warning now says what is true: it was trained on npy data, not on
    an svmlight file; a model fitted in Python: its file records nothing
    of its data."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 4))   # a file of indices 1-3 fits it either way
    y = (X[:, 0] > 0).astype(int)
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    trained = tmp_path / "npy.npz"
    assert run(capsys, "train", tmp_path / "t.npy", "--model", trained,
               "--quiet")[0] == 0
    fitted = tmp_path / "py.npz"
    fastlr.save(fastlr.LogisticRegression().fit(X, y), fitted)
    new = tmp_path / "new.svm"
    new.write_text("1 1:0.5 3:1\n0 2:1\n" * 10)
    for model, why in ((trained, "it was trained on npy data, not on an svmlight "
                                 "file"),
                       (fitted, "its file records nothing of the data it was "
                                "trained on, as a model fitted in Python")):
        code, _, err = run(capsys, "evaluate", new, "--model", model, *chunks)
        assert code == 0, err
        assert err == (f"fastlr: warning: {new}: no feature index is 0 and the "
                       f"model records no index base ({why}), so the indices "
                       "were read as 1-based; pass --zero-based yes if they "
                       "start at 0\n")


def test_a_file_whose_name_tells_no_format_is_read_as_the_models_svmlight(
        a9a, tmp_path, capsys):
    """LIBSVM names its test files ``a9a.t``: predict, evaluate and a warm
    start of a model trained on an svmlight file asked for --format svmlight
    again, though the model file records the format. Such a file that looks
    like svmlight is now read so; a model fitted in Python (no format
    recorded) and a file that does not look svmlight still need --format."""
    d, model = a9a
    t = tmp_path / "a9a.t"
    t.write_bytes((d / "cut.t.svm").read_bytes())
    for command in (("predict", "--proba"), ("evaluate",)):
        code, out, err = run(capsys, command[0], t, "--model", model, *command[1:])
        assert code == 0, err
        assert out == run(capsys, command[0], t, "--model", model,
                          "--format", "svmlight", *command[1:])[1]
    code, _, err = run(capsys, "train", t, "--warm-start", model, "--epochs", "1",
                       "--model", tmp_path / "w.npz", "--quiet")
    assert code == 0, err
    python = tmp_path / "py.npz"
    fastlr.save(fastlr.load(model), python)   # (records no data format)
    assert_clean_error(run(capsys, "predict", t, "--model", python),
                       "--format svmlight")
    text = tmp_path / "notes"
    text.write_text("a,b\n1,2\n")
    assert_clean_error(run(capsys, "predict", text, "--model", model),
                       "cannot tell the format")
