"""fastlr train / predict / evaluate / verify, driven as a user drives them."""

import contextlib
import csv
import io
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import dump_svmlight_file
from sklearn.metrics import confusion_matrix, log_loss, roc_auc_score

import fastlr
from fastlr import _progress, cli, demo, persist, reference

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# A model trained on a CSV has feature_names_in_ (the header), so scikit-learn
# warns when it is given an array without names; the tests compare with the
# saved model's predictions on plain arrays.
pytestmark = pytest.mark.filterwarnings(
    "ignore:X does not have valid feature names:UserWarning")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_png(path):
    """A real PNG with a picture in it, not an empty canvas."""
    import matplotlib.image

    with open(path, "rb") as f:
        data = f.read()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    img = matplotlib.image.imread(path)
    assert img.shape[0] >= 300 and img.shape[1] >= 300
    assert img[..., :3].std() > 0.05  # lines, labels and markers, not one colour


def run(capsys, *argv):
    """``fastlr ARGV`` in process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path, X, y, names):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            w.writerow([*row, label])
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two-feature data with string labels, as CSV, plus a trained model."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)) * [1.0, 3.0] + [0.5, -1.0]
    y01 = (X[:, 0] - 0.3 * X[:, 1] + 0.5 * rng.logistic(size=300) > 0.5)
    labels = np.array(["ham", "spam"])[y01.astype(int)]
    data = write_csv(d / "mail.csv", X, labels, ["length", "links", "kind"])
    model = d / "model.npz"
    code = cli.main(["train", str(data), "--target", "kind", "--model", str(model),
                     "--epochs", "300", "--lr", "0.05", "--quiet"])
    assert code == 0
    return {"dir": d, "X": X, "labels": labels, "csv": data, "model": model}


# --------------------------------------------------------------------------
# train


def test_train_prints_summary_and_writes_model_and_plots(files, tmp_path, capsys):
    model, plots = tmp_path / "m.npz", tmp_path / "plots"
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--model", model, "--plot", plots, "--epochs", "200",
                         "--random-state", "4")
    assert code == 0, err
    fields = dict(re.findall(r"^([a-z -]+):\s+(.*)$", out, flags=re.M))
    assert fields["rows"] == "300"
    assert fields["features"] == "2"
    assert fields["standardize"].startswith("centered and scaled")
    assert fields["classes"] == "ham, spam (positive: spam)"
    epochs = int(fields["passes run"].split()[0])   # the default solver, auto
    assert 1 <= epochs <= 200
    assert "1 SGD epoch + " in fields["passes run"]
    assert "converged: relative decrease below tol=0.0001" in fields["passes run"]
    clf = fastlr.load(model)
    assert clf.n_iter_ == epochs
    assert float(fields["final loss"].split()[0]) == pytest.approx(
        clf.loss_curve_[-1], rel=1e-5)
    acc = float(fields["train accuracy"])
    assert acc == pytest.approx(clf.score(files["X"], files["labels"]), abs=1e-4)
    assert acc > 0.8
    assert re.fullmatch(r"\d+\.\d{3} s \(JIT compilation excluded\)", fields["time"])
    assert re.match(r"[\d,]+ rows/s", fields["throughput"])
    assert fields["model"] == str(model)
    for name in ("loss.png", "boundary.png"):
        assert_png(plots / name)
    meta = persist.read_metadata(model)
    assert meta["params"]["random_state"] == 4 and meta["params"]["max_iter"] == 200
    assert meta["metadata"]["data"]["feature_names"] == ["length", "links"]
    assert meta["metadata"]["data"]["target"] == "kind"


def test_train_summary_says_no_intercept_scales_without_centering(files, tmp_path,
                                                                  capsys):
    """Without an intercept the model scales but does not centre (it passes
    through the origin); the summary said "centered and scaled"."""
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--model", tmp_path / "m.npz", "--epochs", "3",
                         "--no-intercept")
    assert code == 0, err
    fields = dict(re.findall(r"^([a-z -]+):\s+(.*)$", out, flags=re.M))
    assert fields["standardize"].startswith("scaled to unit variance, not centered")
    assert not fastlr.load(tmp_path / "m.npz").training_state_.mean.any()


def test_train_options_reach_the_estimator(files, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--model", model, "--lr", "0.2", "--batch-size", "17",
                         "--epochs", "7", "--tol", "none", "--penalty", "none",
                         "--alpha", "0.5", "--no-standardize", "--no-shuffle",
                         "--seed", "9", "--n-iter-no-change", "3", "-q")
    assert code == 0, err
    params = fastlr.load(model).get_params()
    assert params == {**params, "lr": 0.2, "batch_size": 17, "max_iter": 7,
                      "tol": None, "penalty": None, "alpha": 0.5,
                      "standardize": False, "shuffle": False, "random_state": 9,
                      "n_iter_no_change": 3}
    assert "7 of at most 7" in out
    assert re.search(r"^standardize:\s+no \(raw features\)$", out, re.M)
    assert "model:" in out and "not saved" not in out


def test_train_validation_fraction_is_stratified_and_reported(files, capsys):
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--validation-fraction", "0.25", "-q")
    assert code == 0, err
    assert "225 training + 75 held out (stratified)" in out
    held = re.search(r"held-out:\s+accuracy (\S+), log-loss (\S+)", out)
    assert 0.7 < float(held.group(1)) <= 1.0 and 0 < float(held.group(2)) < 0.7
    assert "model:" in out and "not saved (use --model FILE)" in out


@pytest.mark.parametrize("fmt", ["npy", "npz", "svmlight"])
def test_train_predict_evaluate_other_formats(files, tmp_path, capsys, fmt):
    X, labels = files["X"], files["labels"]
    y = (labels == "spam").astype(int)
    if fmt == "npy":
        path = tmp_path / "d.npy"
        np.save(path, np.column_stack([X, y]))
    elif fmt == "npz":
        path = tmp_path / "d.npz"
        np.savez(path, X=X.astype(np.float32), y=labels)
    else:
        path = tmp_path / "d.svm"
        dump_svmlight_file(X, np.where(y == 1, 1, -1), str(path), zero_based=False)
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", path, "--model", model, "-q",
                         "--plot", tmp_path / "plots")
    assert code == 0, err
    assert f"({fmt}, labels from" in out
    assert_png(tmp_path / "plots" / "boundary.png")  # 2 features, even if sparse
    assert ("sparse CSR" in out) == (fmt == "svmlight")
    clf = fastlr.load(model)
    expected = {"npy": [0, 1], "npz": ["ham", "spam"], "svmlight": [-1, 1]}[fmt]
    assert clf.classes_.tolist() == expected
    code, out, err = run(capsys, "predict", "--model", model, path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "label" and len(lines) == 301
    code, out, err = run(capsys, "evaluate", "--model", model, path)
    assert code == 0, err
    assert float(re.search(r"accuracy:\s+(\S+)", out).group(1)) > 0.8


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


@pytest.fixture(scope="module")
def wide_svm(tmp_path_factory):
    """300 rows x 100,000 features, ~10 non-zeros a row (240 MB if
    densified, ~40 kB as svmlight), labels -1/1 from a sparse linear model;
    the CSR built here, independently of fastlr.io."""
    rng = np.random.default_rng(7)
    m, n, k = 300, 100_000, 10
    indices = np.concatenate([np.sort(rng.choice(n, k, replace=False))
                              for _ in range(m)])
    indices[-1] = n - 1  # the last feature occurs: the file is n wide
    data = rng.normal(size=m * k).round(6)
    data[data == 0] = 1.0
    X = sparse.csr_matrix((data, indices, np.arange(0, m * k + 1, k)), shape=(m, n))
    X.sort_indices()
    w = np.zeros(n)
    w[rng.choice(n, 5000, replace=False)] = rng.normal(size=5000) * 3
    y = np.where(X @ w + 0.3 * rng.logistic(size=m) > 0, 1, -1)
    path = tmp_path_factory.mktemp("wide") / "clicks.svm"
    dump_svmlight_file(X, y, str(path), zero_based=False)
    return path, X, y


def test_svmlight_many_features_round_trip(wide_svm, tmp_path, capsys):
    """train, predict and evaluate on a 100,000-feature svmlight file: the
    data stays a CSR matrix (any densification fails), and the predictions
    are the saved model's on the CSR."""
    path, X, y = wide_svm
    model = tmp_path / "clicks.npz"
    with no_densify():
        code, out, err = run(capsys, "train", path, "--model", model, "-q",
                             "--epochs", "30", "--lr", "0.1", "--plot",
                             tmp_path / "plots")
        assert code == 0, err
        fields = dict(re.findall(r"^([a-z -]+):\s+(.*)$", out, flags=re.M))
        assert fields["rows"] == "300"
        assert fields["features"].startswith("100,000 (sparse CSR, never "
                                             "densified: 3,000 stored values")
        assert fields["standardize"] == ("no (raw features: by default sparse "
                                         "data is trained on as it is)")
        assert_png(tmp_path / "plots" / "loss.png")
        code, out, err = run(capsys, "predict", "--model", model, path)
        assert code == 0, err
        labels = out.splitlines()
        code, out_p, err = run(capsys, "predict", "--model", model, path, "--proba",
                               "--out", tmp_path / "p.csv")
        assert code == 0, err
        assert "wrote 300 predictions" in err
        code, out_e, err = run(capsys, "evaluate", "--model", model, path)
        assert code == 0, err
    clf = fastlr.load(model)
    assert clf.n_features_in_ == 100_000 and clf.classes_.tolist() == [-1, 1]
    assert float(fields["train accuracy"]) == pytest.approx(clf.score(X, y),
                                                            abs=1e-4)
    assert labels[0] == "label"
    assert [int(v) for v in labels[1:]] == clf.predict(X).tolist()
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["proba_-1", "proba_1"]
    np.testing.assert_array_equal(np.array(rows[1:], dtype=np.float64),
                                  clf.predict_proba(X))
    acc = float(re.search(r"^accuracy:\s+(\S+)", out_e, re.M).group(1))
    assert acc == pytest.approx(clf.score(X, y), abs=1e-4) and acc > 0.9
    # a file holding only the first features is padded to the model's width
    short = tmp_path / "short.svm"
    dump_svmlight_file(X[:5, :50_000], y[:5], str(short), zero_based=False)
    code, out, err = run(capsys, "predict", "--model", model, short)
    assert code == 0, err
    padded = sparse.hstack([X[:5, :50_000], sparse.csr_matrix((5, 50_000))])
    assert [int(v) for v in out.splitlines()[1:]] == \
        clf.predict(padded.tocsr()).tolist()


def test_svmlight_validation_split_stays_sparse(wide_svm, tmp_path, capsys):
    path, X, y = wide_svm
    model = tmp_path / "m.npz"
    with no_densify():
        code, out, err = run(capsys, "train", path, "--validation-fraction", "0.2",
                             "--epochs", "5", "--tol", "none", "--penalty", "l1",
                             "--learning-rate", "adagrad", "--model", model, "-q")
    assert code == 0, err
    assert "240 training + 60 held out (stratified)" in out
    assert "sparse CSR" in out and re.search(r"held-out:\s+accuracy", out)
    clf = fastlr.load(model)
    assert clf.n_iter_ == 5 and clf.penalty == "l1"


def test_svmlight_no_standardize_and_sparse_model_metadata(wide_svm, tmp_path,
                                                            capsys):
    path, X, y = wide_svm
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", path, "--no-standardize", "--epochs", "3",
                         "--model", model, "-q")
    assert code == 0, err
    assert re.search(r"^standardize:\s+no \(raw features\)$", out, re.M)
    meta = persist.read_metadata(model)["metadata"]["data"]
    assert meta["format"] == "svmlight" and meta["zero_based"] is False


# --------------------------------------------------------------------------
# predict


def test_predict_labels_to_stdout(files, capsys):
    code, out, err = run(capsys, "predict", "--model", files["model"], files["csv"])
    assert code == 0, err
    clf = fastlr.load(files["model"])
    lines = out.splitlines()
    assert lines[0] == "label"
    assert lines[1:] == clf.predict(files["X"]).tolist()


def test_predict_proba_to_file(files, tmp_path, capsys):
    out_file = tmp_path / "p.csv"
    code, out, err = run(capsys, "predict", "--model", files["model"], files["csv"],
                         "--proba", "--out", out_file)
    assert code == 0, err
    assert out == "" and "wrote 300 predictions" in err
    with open(out_file, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["proba_ham", "proba_spam"]
    proba = np.array(rows[1:], dtype=np.float64)
    clf = fastlr.load(files["model"])
    np.testing.assert_array_equal(proba, clf.predict_proba(files["X"]))


def test_predict_reads_the_model_file_once(tmp_path, capsys, monkeypatch):
    """The weights and the column layout recorded at training come from one
    read: a model file replaced between two reads (a retraining saving over
    it) gave one model's weights on the other's columns."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X @ [1.0, -2.0, 0.5] > 0).astype(float)
    np.save(tmp_path / "a.npy", np.column_stack([X, y]))      # label last
    np.save(tmp_path / "b.npy", np.column_stack([y, -X]))     # label first
    a, b, m = tmp_path / "A.npz", tmp_path / "B.npz", tmp_path / "M.npz"
    for data, model, target in (("a.npy", a, "-1"), ("b.npy", b, "0")):
        code, _, err = run(capsys, "train", tmp_path / data, "--target", target,
                           "--model", model, "--epochs", "5", "--quiet")
        assert code == 0, err
    m.write_bytes(a.read_bytes())
    reads = []
    read_archive = persist._read_archive

    def read_then_replaced(path, f):
        reads.append(path)
        found = read_archive(path, f)
        m.write_bytes(b.read_bytes())   # a new model saved over the file
        return found

    monkeypatch.setattr(persist, "_read_archive", read_then_replaced)
    code, out, err = run(capsys, "predict", "--model", m, tmp_path / "a.npy",
                         "--proba")
    assert code == 0, err
    assert reads == [str(m)]
    monkeypatch.undo()
    proba = np.array([r.split(",") for r in out.splitlines()[1:]], dtype=float)
    np.testing.assert_array_equal(proba, fastlr.load(a).predict_proba(X))


def test_predict_on_data_without_labels_and_reordered_columns(files, tmp_path,
                                                              capsys):
    X = files["X"]
    path = tmp_path / "new.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["links", "length"])  # other order, no label column
        w.writerows(X[:, ::-1].tolist())
    code, out, err = run(capsys, "predict", "--model", files["model"], path)
    assert code == 0, err
    clf = fastlr.load(files["model"])
    assert out.splitlines()[1:] == clf.predict(X).tolist()


# --------------------------------------------------------------------------
# evaluate


def test_evaluate_metrics_confusion_matrix_and_plots(files, tmp_path, capsys):
    plots = tmp_path / "eval"
    code, out, err = run(capsys, "evaluate", "--model", files["model"], files["csv"],
                         "--plot", plots)
    assert code == 0, err
    clf = fastlr.load(files["model"])
    X, y = files["X"], files["labels"]
    p = clf.predict_proba(X)[:, 1]
    y01 = (y == "spam").astype(int)
    acc = float(re.search(r"^accuracy:\s+(\S+)", out, re.M).group(1))
    assert acc == pytest.approx(clf.score(X, y), abs=1e-4)
    ll = float(re.search(r"^log-loss:\s+(\S+)", out, re.M).group(1))
    assert ll == pytest.approx(log_loss(y01, p), rel=1e-5)
    auc = float(re.search(r"^ROC AUC:\s+(\S+)", out, re.M).group(1))
    assert auc == pytest.approx(roc_auc_score(y01, p), abs=1e-4)
    cm = confusion_matrix(y, clf.predict(X), labels=["ham", "spam"])
    table = out.split("confusion matrix (rows: true label, columns: predicted "
                      "label)\n")[1].splitlines()
    assert table[0].split() == ["ham", "spam"]
    assert table[1].split() == ["ham", str(cm[0, 0]), str(cm[0, 1])]
    assert table[2].split() == ["spam", str(cm[1, 0]), str(cm[1, 1])]
    assert_png(plots / "roc.png")
    assert_png(plots / "calibration.png")


def test_evaluate_many_classes_keeps_the_report_readable(tmp_path, capsys):
    """Past EVALUATE_CONFUSION_CLASSES classes the confusion matrix (298
    classes: lines of 3,887 characters, 1.2 MB of report) is left out of
    the report, which says how to get it; with --plot it is written to
    confusion.csv, the counts of scikit-learn's confusion_matrix. The ROC
    plot then draws the micro and macro averages, not a curve and legend
    entry per class."""
    k = cli.EVALUATE_CONFUSION_CLASSES + 5
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(k, 2)) * 4
    labels = np.array([f"c{i:02d}" for i in range(k)])
    codes = np.arange(20 * k) % k
    X = centres[codes] + rng.normal(size=(codes.shape[0], 2))
    data = write_csv(tmp_path / "many.csv", X, labels[codes], ["a", "b", "kind"])
    model = tmp_path / "many.npz"
    code, out, err = run(capsys, "train", data, "--target", "kind", "--model", model)
    assert code == 0, err
    # (the count once: the list cut short gives it)
    assert re.search(rf"^classes: +c00, c01, c02, c03, c04, c05, \.\.\. \({k} in all\) "
                     r"\(multinomial \(softmax\) model\)$", out, re.M)
    code, out, err = run(capsys, "evaluate", "--model", model, data)
    assert code == 0, err
    assert "confusion matrix (rows" not in out
    assert (f"confusion matrix: {k} x {k}, not shown past "
            f"{cli.EVALUATE_CONFUSION_CLASSES} classes; --plot DIR writes it to "
            "DIR/confusion.csv") in out
    assert max(len(line) for line in out.splitlines()) < 200
    code, out, err = run(capsys, "evaluate", "--model", model, data, "--plot",
                         tmp_path / "p")
    assert code == 0, err
    path = tmp_path / "p" / "confusion.csv"
    assert f"confusion matrix: {k} x {k}, written to {path}" in out
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["true label", *labels]
    assert [r[0] for r in rows[1:]] == labels.tolist()
    clf = fastlr.load(model)
    cm = confusion_matrix(labels[codes], clf.predict(X), labels=labels)
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], dtype=int), cm)
    assert_png(tmp_path / "p" / "roc.png")
    assert "warning" not in err


def test_evaluate_single_class_data(files, tmp_path, capsys):
    keep = files["labels"] == "spam"
    path = write_csv(tmp_path / "spam.csv", files["X"][keep], files["labels"][keep],
                     ["length", "links", "kind"])
    code, out, err = run(capsys, "evaluate", "--model", files["model"], path,
                         "--plot", tmp_path / "p")
    assert code == 0, err
    assert "undefined (the data holds a single class)" in out
    assert "no ROC curve" in err
    assert_png(tmp_path / "p" / "calibration.png")
    assert not (tmp_path / "p" / "roc.png").exists()


# --------------------------------------------------------------------------
# verify


def test_verify_passes(capsys):
    code, out, err = run(capsys, "verify")
    assert code == 0, out + err
    assert "60000x100" in out  # the threaded kernels' size was checked
    rows = [ln for ln in out.splitlines() if ln.endswith(("  ok", "MISMATCH"))]
    names = {(ln.split()[0], ln.split()[1]) for ln in rows}
    for fname in ("gradients", "predict_proba", "predict", "train",
                  "train_multinomial"):
        # the CSR kernels that svmlight data trains on are checked too
        assert {(fname, "dense"), (fname, "csr")} <= names
    assert {("sigmoid", "dense"), ("log_loss", "dense")} <= names
    assert sum("float32" in ln for ln in rows) == sum("float64" in ln for ln in rows)
    assert re.search(r"all \d+ checks within tolerance", out)
    assert "1e-10" in out and "1e-06" in out


def test_verify_reports_a_mismatch(capsys, monkeypatch):
    from fastlr import verify

    real = reference.train

    def off(*args, **kwargs):
        res = real(*args, **kwargs)
        return res._replace(w=res.w * (1 + 1e-6))

    monkeypatch.setitem(verify.FUNCTIONS, "train",
                        verify.FUNCTIONS["train"]._replace(reference=off))
    code, out, err = run(capsys, "verify", "--quick")
    assert code == 1
    bad = [ln for ln in out.splitlines() if ln.endswith("MISMATCH")]
    assert bad and all(ln.startswith("train ") and " .w " in ln for ln in bad)
    assert "checks FAILED" in out and "outside tolerance" in err


# --------------------------------------------------------------------------
# errors: one line on stderr, exit 1, no traceback


def assert_clean_error(code, out, err, *words):
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastlr: error: "), err
    for word in words:
        assert word in lines[0], lines[0]


def test_error_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert_clean_error(*run(capsys, "train", missing), str(missing),
                       "No such file or directory")


def test_error_missing_model(files, tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    assert_clean_error(*run(capsys, "predict", "--model", missing, files["csv"]),
                       str(missing), "No such file or directory")


@pytest.mark.parametrize("length", [237, 238, 255])
def test_every_name_the_file_system_holds_can_be_written(files, tmp_path, capsys,
                                                         length):
    """The temporary name added 18 characters to the target's: a legal
    name of 238 to 255 bytes failed after the work ('File name too long')."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    assert limit >= 255
    out = tmp_path / ("p" * (length - 4) + ".csv")
    code, _, err = run(capsys, "predict", "--model", files["model"], files["csv"],
                       "--out", out)
    assert code == 0, err
    code, expected, err = run(capsys, "predict", "--model", files["model"],
                              files["csv"])
    assert out.read_text() == expected
    model = tmp_path / ("m" * (length - 4) + ".npz")
    fastlr.save(fastlr.load(files["model"]), model)
    assert fastlr.load(model).coef_.tolist() == \
        fastlr.load(files["model"]).coef_.tolist()
    assert sorted(os.listdir(tmp_path)) == sorted([out.name, model.name])


def test_a_name_too_long_is_refused_before_any_work(files, tmp_path, capsys,
                                                    monkeypatch):
    too_long = tmp_path / ("p" * 252 + ".csv")   # 256 bytes
    monkeypatch.setattr(cli, "_load_model", lambda *a, **k: pytest.fail("worked"))
    assert_clean_error(*run(capsys, "predict", "--model", files["model"],
                            files["csv"], "--out", too_long),
                       f"--out {too_long}: File name too long")
    with pytest.raises(OSError, match="cannot write the model file: File name"):
        fastlr.save(fastlr.load(files["model"]), tmp_path / ("m" * 256))
    assert os.listdir(tmp_path) == []


def test_error_unknown_column(files, capsys):
    assert_clean_error(*run(capsys, "train", files["csv"], "--target", "price"),
                       "unknown target column 'price'", "length, links, kind")


def test_error_malformed_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n5,x7,0\n")
    assert_clean_error(*run(capsys, "train", path), f"{path}, line 4",
                       "column 'b'", "'x7' is not a number")


def test_error_different_number_of_features(files, tmp_path, capsys):
    path = tmp_path / "three.csv"
    path.write_text("length,links,extra,kind\n1,2,3,ham\n")
    assert_clean_error(*run(capsys, "predict", "--model", files["model"], path),
                       "trained on 2 features", "3 feature columns", "extra")
    np.save(tmp_path / "five.npy", np.ones((4, 5)))
    assert_clean_error(*run(capsys, "evaluate", "--model", files["model"],
                            tmp_path / "five.npy"),
                       "trained on 2 features", "this file has 5")


def test_error_svmlight_non_finite_and_malformed(tmp_path, capsys):
    path = tmp_path / "bad.svm"
    path.write_text("1 1:0.5 3:2\n# comment\n-1 2:1.5\n1 1:2 3:inf\n")
    assert_clean_error(*run(capsys, "train", path), f"{path}, line 4",
                       "feature 3 is inf")
    path.write_text("1 1:0.5 3:2\n-1 2:1.5\n1 1:x\n")
    assert_clean_error(*run(capsys, "train", path), f"{path}, line 3",
                       "'x' is not a number")


def test_error_single_class_and_unknown_labels(files, tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("a,label\n1,x\n2,x\n")
    assert_clean_error(*run(capsys, "train", path), "a single class (x)")
    path = tmp_path / "other.csv"
    path.write_text("length,links,kind\n1,2,ham\n3,4,eggs\n")
    assert_clean_error(*run(capsys, "evaluate", "--model", files["model"], path),
                       "labels the model was not trained on: eggs")


def test_error_corrupted_model(files, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(files["model"].read_bytes()[:300])
    assert_clean_error(*run(capsys, "predict", "--model", bad, files["csv"]),
                       str(bad), "not a valid fastlr model file")


@pytest.mark.parametrize("chunk_rows", ["0", "7"], ids=["whole", "chunks"])
def test_error_diverged_training(files, capsys, chunk_rows):
    """The advice names the command's options, not the estimator's
    parameters; read in parts, the solver needs the file read whole."""
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--lr", "1e6", "--no-standardize", "--penalty", "none",
                         "--solver", "sgd", "--chunk-rows", chunk_rows)
    assert_clean_error(code, out, err, "diverged", "lower the learning rate --lr "
                       "(now 1e+06)", "(--standardize yes;", "or --solver lbfgs")
    assert ("--solver lbfgs with the file read whole (--chunk-rows 0)" in err) == \
        (chunk_rows != "0")
    assert "solver='lbfgs'" not in err and "standardize=True" not in err


@pytest.mark.parametrize("chunk_rows", ["0", "7"], ids=["whole", "chunks"])
def test_error_diverged_training_gives_the_class_weights_mean(files, capsys,
                                                              chunk_rows):
    """Weights scale SGD's steps: the message gives their mean, read whole
    or in parts (where the rows' weights are their classes'), after the
    warning of their scale."""
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--class-weight", "ham:1e8,spam:1e8", "--solver", "sgd",
                         "--chunk-rows", chunk_rows)
    warning, error = err.strip().splitlines()
    assert warning.startswith("fastlr: warning: --class-weight has mean 1e+08 ")
    assert_clean_error(code, out, error, "diverged", "their mean over the rows "
                       "of positive weight is 1e+08)")



    """Read in chunks (the out-of-core epochs), "optimal" was told to lower
    the lr it ignores; its steps are set by alpha."""
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--learning-rate", "optimal", "--penalty", "l2",
                         "--alpha", "1e-16", "--no-standardize", "--solver", "sgd",
                         "--batch-size", "1", "--chunk-rows", "7")
    assert_clean_error(code, out, err, "diverged", "raise --alpha or choose "
                       "another --learning-rate")
    assert "lower the learning rate" not in err


def test_debug_shows_the_traceback(files, tmp_path, capsys):
    with pytest.raises(cli.CLIError, match="unknown target column"):
        cli.main(["train", str(files["csv"]), "--target", "price", "--debug"])
    with pytest.raises(cli.CLIError):
        cli.main(["--debug", "train", str(files["csv"]), "--target", "price"])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,x,0\n")
    with pytest.raises(fastlr.io.DataError, match="'x' is not a number"):
        cli.main(["--debug", "train", str(bad)])


def test_bad_option_values_are_usage_errors(files, capsys):
    for argv in (["--lr", "-1"], ["--batch-size", "0"], ["--validation-fraction", "1"],
                 ["--tol", "abc"], ["--penalty", "l3"], ["--learning-rate", "fast"],
                 ["--l1-ratio", "2"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["train", str(files["csv"]), *argv])
        assert exc.value.code == 2
        assert f"argument {argv[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["train", "DATA", "--model", ""], ["train", "DATA", "--plot", ""],
    ["train", "DATA", "--warm-start", ""], ["predict", "--model", "", "DATA"],
    ["predict", "--model", "MODEL", "DATA", "--out", ""],
    ["evaluate", "--model", "MODEL", "DATA", "--plot", ""],
    ["evaluate", "--model", "", "DATA"], ["export", "--model", "", "--out", "x.onnx"],
    ["export", "--model", "MODEL", "--out", ""], ["demo", "--out", ""]])
def test_an_empty_path_is_a_usage_error(files, tmp_path, capsys, monkeypatch, argv):
    """An empty path (--model "$OUT" with OUT unset) was taken for the
    option not given: training ran, saved nothing and exited 0, predictions
    went to stdout. It names no file: a usage error naming the option."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "run", lambda **kw: pytest.fail("an experiment ran"))
    given = {"DATA": str(files["csv"]), "MODEL": str(files["model"])}
    option = argv[argv.index("") - 1]
    with pytest.raises(SystemExit) as exc:
        cli.main([given.get(a, a) for a in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: an empty path names no file or folder" in err
    assert os.listdir(tmp_path) == []


def test_warnings_become_one_line(files, capsys):
    code, out, err = run(capsys, "train", files["csv"], "--target", "kind",
                         "--epochs", "2", "--tol", "0.5", "--n-iter-no-change", "5",
                         "--solver", "sgd")
    assert code == 0
    assert err.startswith("fastlr: warning: Maximum number of epochs (2)")
    assert "increase --epochs or --lr" in err


def test_deprecations_stay_silent_even_as_user_warnings(capsys):
    """Other libraries' deprecations are not fastlr's warnings: pyparsing
    3.3's (a UserWarning and a DeprecationWarning), raised by matplotlib
    before 3.11 as the demo draws, were printed as ``fastlr: warning:``."""

    class Both(UserWarning, DeprecationWarning):
        pass

    with cli._warnings_to_stderr():
        warnings.warn("an old call", Both, stacklevel=1)
        warnings.warn("a plain note", UserWarning, stacklevel=1)
    assert capsys.readouterr().err == "fastlr: warning: a plain note\n"


# --------------------------------------------------------------------------
# subprocess: the installed entry point, as a shell runs it


def run_module(*argv, cwd=None):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "fastlr", *map(str, argv)],
                          capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=1200)


def test_subprocess_train_then_predict(files, tmp_path):
    model = tmp_path / "m.npz"
    res = run_module("train", files["csv"], "--target", "kind", "--model", model)
    assert res.returncode == 0, res.stderr
    assert "train accuracy:" in res.stdout
    assert res.stderr == ""  # not a terminal: no progress bar
    res = run_module("predict", "--model", model, files["csv"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "label" and len(res.stdout.splitlines()) == 301


def test_subprocess_errors_have_no_traceback(tmp_path):
    res = run_module("train", tmp_path / "missing.csv")
    assert res.returncode == 1
    assert res.stderr.strip() == (f"fastlr: error: {tmp_path / 'missing.csv'}: No "
                                  "such file or directory")


# --------------------------------------------------------------------------
# progress bars


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_only(files, monkeypatch, capsys):
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    argv = ["train", str(files["csv"]), "--target", "kind", "--epochs", "30",
            "--tol", "none", "--solver", "sgd"]   # exactly 30 passes
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(argv) == 0
    bar = terminal.getvalue()
    assert "30/30" in bar and "epoch" in bar and "loss=" in bar and "rows/s" in bar
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main([*argv, "--quiet"]) == 0
    assert terminal.getvalue() == ""
    monkeypatch.undo()
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    assert cli.main(argv) == 0  # capsys: not a terminal
    assert capsys.readouterr().err == ""


def test_progress_bar_waits_for_slow_runs(files, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["train", str(files["csv"]), "--target", "kind",
                     "--epochs", "3", "--tol", "none"]) == 0
    assert terminal.getvalue() == ""  # well under a second: no bar


def test_estimator_verbose_uses_the_same_bar(files, capsys):
    X, y = files["X"], files["labels"]
    fastlr.LogisticRegression(max_iter=12, tol=None, verbose=2).fit(X, y)
    err = capsys.readouterr().err
    assert "12/12" in err and "loss=" in err and "rows/s" in err
    fastlr.LogisticRegression(max_iter=12, tol=None, verbose=1).fit(X, y)
    fastlr.LogisticRegression(max_iter=12, tol=None).fit(X, y)
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="verbose must be >= 0"):
        fastlr.LogisticRegression(verbose=-1).fit(X, y)
    with pytest.raises(TypeError, match="verbose must be an integer"):
        fastlr.LogisticRegression(verbose="loud").fit(X, y)


def test_a_count_of_rows_is_shown_whole():
    """The bar of a pass over streamed data counts rows with tqdm's
    unit_scale, which wrote 23 rows as "23.0 rows" and 5 as "5.00 rows";
    counts are whole below 1000 and scaled from there on."""
    for rows, shown in ((0, "first pass: 0 rows ["), (5, "first pass: 5 rows ["),
                        (23, "first pass: 23 rows ["), (999, ": 999 rows ["),
                        (23_456, ": 23.5k rows ["), (1_234_567, ": 1.23M rows [")):
        out = io.StringIO()
        with _progress.pass_progress(2, "first pass", file=out) as seen:
            seen(rows)
        last = out.getvalue().split("\r")[-1]
        assert shown in last and "rows/s]" in last, last
    out = io.StringIO()
    with _progress.PassProgress("", show=True, file=out) as seen:
        seen(7)
    assert out.getvalue().split("\r")[-1].startswith("7 rows ["), out.getvalue()


def test_progress_bar_closes_on_early_stop_and_errors():
    out = io.StringIO()
    with _progress.EpochProgress(100, n_rows=10, show=True, file=out) as callback:
        callback(1, 0.5)
        callback(2, 0.4)
    assert out.getvalue().endswith("\n") and "2/100" in out.getvalue()
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with _progress.EpochProgress(5, n_rows=10, show=True, file=out) as callback:
            callback(1, 0.5)
            raise RuntimeError
    assert out.getvalue().endswith("\n")
    with pytest.raises(ValueError, match="show must be"):
        _progress.EpochProgress(5, 10, show="sometimes")


def test_a_bound_bar_ends_full_when_the_run_ends():
    """LogisticRegressionCV's bar counts passes against a bound (max_iter for
    every strength of every path: 3001) that a run never nears: a finished
    run showed "24/3001, 1%", as if abandoned. A bound bar ends at what ran;
    stopped by an error, it shows how far it got."""
    out = io.StringIO()
    with _progress.EpochProgress(3001, n_rows=10, show=True, file=out,
                                 bound=True) as callback:
        for e in range(24):
            callback(e + 1, 0.5)
    assert "24/24" in out.getvalue() and "100%" in out.getvalue()
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with _progress.EpochProgress(3001, n_rows=10, show=True, file=out,
                                     bound=True) as callback:
            callback(1, 0.5)
            raise RuntimeError
    assert "1/3001" in out.getvalue()


# --------------------------------------------------------------------------
# the new plotting functions


def test_roc_and_calibration_plots_check_input():
    from fastlr.plotting import plot_calibration, plot_roc_curve

    with pytest.raises(ValueError, match="single class"):
        plot_roc_curve([1, 1, 1], [0.2, 0.5, 0.9])
    with pytest.raises(ValueError, match="y_true .* must match|they must match"):
        plot_roc_curve([0, 1, 1], [0.2, 0.5])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        plot_calibration([0, 1], [0.2, 1.5])
    with pytest.raises(ValueError, match="n_bins must be >= 2"):
        plot_calibration([0, 1], [0.2, 0.5], n_bins=1)
    fig = plot_calibration([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3], n_bins=5)
    assert len(fig.axes) == 2


def usage_error(capsys, *argv):
    """``fastlr ARGV``'s usage error: its stderr lines."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in argv])
    assert exc.value.code == 2
    return capsys.readouterr().err.strip().splitlines()


def test_an_unknown_option_is_reported_by_its_command_with_the_closest(
        files, tmp_path, capsys, monkeypatch):
    """`fastlr train DATA --out m.fastlr` printed the top-level usage line,
    which lists no option of train, and 'fastlr: error: unrecognized
    arguments'; the command's own parser reports it now, with the option
    meant when one is close (train writes the model with --model)."""
    monkeypatch.chdir(tmp_path)
    data, model = files["csv"], files["model"]
    for argv, unknown, closest in [
            (["train", data, "--target", "kind", "--out", "m.fastlr"],
             "--out m.fastlr", "--model"),
            (["train", data, "--output=m.fastlr"], "--output=m.fastlr", "--model"),
            (["predict", "--model", model, data, "--output", "p.csv"],
             "--output p.csv", "--out"),
            (["train", data, "--learningrate", "optimal"], "--learningrate optimal",
             "--learning-rate"),
            (["evaluate", "--model", model, data, "--zzzz"], "--zzzz", None)]:
        lines = usage_error(capsys, *argv)
        assert lines[0].startswith(f"usage: fastlr {argv[0]} "), lines
        assert lines[-1].startswith(f"fastlr {argv[0]}: error: unrecognized "
                                    f"arguments: {unknown}"), lines
        if closest:
            assert f"did you mean {closest}" in lines[-1], lines
        else:
            assert "did you mean" not in lines[-1], lines
    assert os.listdir(tmp_path) == []


def test_a_csv_without_a_header_for_a_model_is_told_it_has_none(files, tmp_path,
                                                                 capsys):
    """predict and evaluate took its first row for column names, none of the
    model's, and advised --by-position, which then refused the file for
    having no header: that is said first now."""
    path = tmp_path / "nohdr.csv"
    path.write_text("0.346,0.822\n1.5,2.5\n")
    for command in ("predict", "evaluate"):
        for extra in ([], ["--by-position"]):
            code, out, err = run(capsys, command, "--model", files["model"], path,
                                 *extra)
            assert_clean_error(code, out, err, f"{path}, line 1: the first line "
                               "looks like data, not a header")
            assert "--by-position" not in err


def test_an_id_or_drop_column_that_is_a_feature_of_the_model_is_named(files, capsys):
    """`predict --id length`, length being a feature, said the model's
    feature 'length' was missing, without a word of --id."""
    for option in ("--id", "--drop"):
        assert_clean_error(*run(capsys, "predict", "--model", files["model"],
                                files["csv"], option, "length"),
                           f"{option} length: 'length' is one of the model's "
                           "features")


def test_evaluate_without_the_label_column_names_the_models(files, tmp_path, capsys):
    """evaluate on a file without the model's label column asked to 'name it
    with target=', naming neither the column the model was trained with nor
    the one column the file has over the features."""
    path = tmp_path / "nolab.csv"
    path.write_text("length,links\n1,2\n3,4\n")
    assert_clean_error(*run(capsys, "evaluate", "--model", files["model"], path),
                       "has no column 'kind', the model's label column",
                       "--target COL")
    path.write_text("length,links,truth\n1,2,ham\n3,4,spam\n")
    assert_clean_error(*run(capsys, "evaluate", "--model", files["model"], path),
                       "has no column 'kind', the model's label column",
                       "--target truth")
    code, out, err = run(capsys, "evaluate", "--model", files["model"], path,
                         "--target", "truth")
    assert code == 0, err


def test_following_the_advice_of_a_csv_message_works(tmp_path, capsys):
    """A text column's message names the --drop to pass, a .tsv file's the
    --format and --delimiter, Excel's sep= line what to delete: each done,
    the file trains."""
    path = tmp_path / "titanic.csv"
    path.write_text("id,Name,Sex,Age,Fare,Survived\n"
                    + "".join(f'{i},"Doe, Mr. {i}",{"mf"[i % 2]},{20 + i},{i * 1.5},'
                              f'{i % 2}\n' for i in range(1, 9)))
    code, out, err = run(capsys, "train", path, "--quiet")
    assert_clean_error(code, out, err, "line 2: column 'Name'",
                       "'Sex' ('f')", "--drop Name,Sex ")
    code, out, err = run(capsys, "train", path, "--drop", "Name,Sex", "--quiet")
    assert code == 0, err
    tsv = tmp_path / "d.tsv"
    tsv.write_text("a\tb\tlabel\n" + "".join(f"{i}\t{i % 3}\t{i % 2}\n"
                                             for i in range(8)))
    code, out, err = run(capsys, "train", tsv, "--quiet")
    assert_clean_error(code, out, err, "--format csv --delimiter tab")
    code, out, err = run(capsys, "train", tsv, "--format", "csv", "--delimiter",
                         "tab", "--quiet")
    assert code == 0, err
    sep = tmp_path / "sep.csv"
    sep.write_text("sep=;\na;b;label\n" + "".join(f"{i};{i % 3};{i % 2}\n"
                                                  for i in range(8)))
    for extra in ([], ["--delimiter", ";"]):
        code, out, err = run(capsys, "train", sep, "--quiet", *extra)
        assert_clean_error(code, out, err, "line 1: the first line is Excel's "
                           "'sep=;' line", "delete it")
    sep.write_text(sep.read_text().split("\n", 1)[1])
    code, out, err = run(capsys, "train", sep, "--delimiter", ";", "--quiet")
    assert code == 0, err



def test_train_plot_of_labels_holding_dollars(tmp_path, capsys):
    """A label '#$5#$6' was parsed as mathtext and failed boundary.png after
    the model was saved: no summary."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    labels = np.array(["#$5#$6", "$0-$10"])[(X[:, 0] > 0).astype(int)]
    data = write_csv(tmp_path / "d$$.csv", X, labels, ["cost ($)", "net_$_x$", "kind"])
    code, out, err = run(capsys, "train", data, "--target", "kind", "--model",
                         tmp_path / "m.npz", "--plot", tmp_path / "p", "--epochs", "5")
    assert code == 0, err
    assert_png(tmp_path / "p" / "boundary.png")
    code, out, err = run(capsys, "evaluate", data, "--target", "kind", "--model",
                         tmp_path / "m.npz", "--plot", tmp_path / "e")
    assert code == 0, err
    assert_png(tmp_path / "e" / "roc.png")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_plot_that_fails_is_named_and_the_summary_still_printed(
        files, tmp_path, capsys, monkeypatch, command):
    """A plot that failed after the model was saved ended the command with
    matplotlib's error alone: no summary."""
    from fastlr import plotting

    def broken(*args, **kwargs):
        raise ValueError("cannot draw this")

    monkeypatch.setattr(plotting, "plot_decision_boundary", broken)
    monkeypatch.setattr(plotting, "plot_roc_curve", broken)
    model = tmp_path / "m.npz" if command == "train" else files["model"]
    argv = ["--epochs", "5"] if command == "train" else []
    code, out, err = run(capsys, command, files["csv"], "--target", "kind",
                         "--model", model, "--plot", tmp_path / "p", *argv)
    assert code == 1
    failed = "boundary.png" if command == "train" else "roc.png"
    assert f"fastlr: error: {failed} not written: cannot draw this" in err
    fields = dict(re.findall(r"^([a-z -]+):\s+(.*)$", out, flags=re.M))
    assert fields["plots"].endswith(f"{failed} not written (the error above)")
    assert not (tmp_path / "p" / failed).exists()
    assert (tmp_path / "p" / ("loss.png" if command == "train"
                              else "calibration.png")).exists()
    if command == "train":
        assert fastlr.load(model).n_iter_ >= 1


def test_a_python_model_of_bool_labels_evaluates_and_continues_on_true_false(
        tmp_path, capsys):
    """A bool-label model fitted in Python, on the CSV pandas writes of its
    data (True/False, as predict writes them): the labels are the classes."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] + rng.logistic(size=120) > 0
    clf = fastlr.LogisticRegression(random_state=0).fit(X, y)
    fastlr.save(clf, tmp_path / "m.npz")
    words = np.where(y, "True", "False")
    words[::7] = np.char.lower(words[::7])
    data = write_csv(tmp_path / "d.csv", X, words, ["x0", "x1", "x2", "label"])
    code, out, _ = run(capsys, "evaluate", "--model", tmp_path / "m.npz", data,
                       "--target", "label", "--by-position")
    assert code == 0
    accuracy = float(re.search(r"accuracy:\s*([0-9.]+)", out).group(1))
    assert accuracy == pytest.approx((clf.predict(X) == y).mean(), abs=1e-4)
    code, _, _ = run(capsys, "train", data, "--target", "label", "--warm-start",
                     tmp_path / "m.npz", "--model", tmp_path / "m2.npz",
                     "--max-iter", 2, "--by-position")
    assert code == 0
    assert fastlr.load(tmp_path / "m2.npz").classes_.tolist() == [False, True]
    write_csv(data, X, np.where(y, "yes", "no"), ["x0", "x1", "x2", "label"])
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "m.npz", data,
                       "--target", "label", "--by-position")
    assert code != 0
    assert ("the labels are text (no, yes) but the model's classes are booleans "
            "(False, True): write the labels True and False (or 1 and 0)") in err


def test_plot_files_may_not_be_the_files_the_command_reads_or_writes(
        files, tmp_path, capsys):
    """--plot DIR writes fixed names: one that is the model written, the
    model read or the data read is refused before any work (it was replaced
    by a plot)."""
    import shutil
    plots = tmp_path / "plots"
    plots.mkdir()
    code, _, err = run(capsys, "train", files["csv"], "--target", "kind",
                       "--model", plots / "loss.png", "--plot", plots)
    assert code != 0 and "loss.png, which is the --model file this command writes" in err
    assert not (plots / "loss.png").exists()
    shutil.copy(files["model"], plots / "roc.png")
    code, _, err = run(capsys, "evaluate", "--model", plots / "roc.png", files["csv"],
                       "--plot", plots)
    assert code != 0 and "is the --model file this command reads" in err
    fastlr.load(plots / "roc.png")   # still the model
    shutil.copy(files["csv"], plots / "boundary.png")
    code, _, err = run(capsys, "train", plots / "boundary.png", "--format", "csv",
                       "--target", "kind", "--plot", plots)
    assert code != 0 and "is the DATA file this command reads" in err
    assert (plots / "boundary.png").read_bytes() == files["csv"].read_bytes()


def test_evaluate_of_a_python_model_says_to_name_the_label_column(tmp_path, capsys):
    """A model saved from Python records no target column: the file's extra
    column is the labels, so the hint is --target, not --drop (which led to
    'has no target column')."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    df["label"] = (df.a + rng.logistic(size=100) > 0).astype(int)
    clf = fastlr.LogisticRegression().fit(df[["a", "b", "c"]], df.label)
    fastlr.save(clf, tmp_path / "m.npz")
    df.to_csv(tmp_path / "d.csv", index=False)
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "m.npz",
                       tmp_path / "d.csv")
    assert code != 0
    assert "(name the label column with --target COL: the model records none" in err
    code, _, _ = run(capsys, "evaluate", "--model", tmp_path / "m.npz",
                     tmp_path / "d.csv", "--target", "label")
    assert code == 0
