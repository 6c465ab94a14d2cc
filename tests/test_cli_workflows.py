"""The installed ``fastlr`` console script on files the tests write: a
multiclass CSV from train to evaluate, renamed headers, ID columns, output
paths that cannot be written, misspelt columns and delimiters, ONNX export."""

import csv
import os
import re
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import (
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

import fastlr

pytestmark = pytest.mark.filterwarnings(
    "ignore:X does not have valid feature names:UserWarning")

#: The console script pip installed next to this Python.
FASTLR = shutil.which("fastlr", path=os.path.dirname(sys.executable)) or \
    shutil.which("fastlr")


def fastlr_cmd(*argv, cwd=None):
    assert FASTLR, "the fastlr console script is not installed (pip install -e .)"
    return subprocess.run([FASTLR, *map(str, argv)], capture_output=True,
                          text=True, cwd=cwd, timeout=1200)


def clean_error(res, *words):
    assert res.returncode == 1, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastlr: error: "), res.stderr
    assert "Traceback" not in res.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def fields(text):
    return dict(re.findall(r"^([A-Za-z -]+):\s+(.*)$", text, flags=re.M))


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    """iris as a CSV with an ID column, a free-text column and text labels,
    and a model trained on it by the console script."""
    d = tmp_path_factory.mktemp("iris")
    data = load_iris()
    X, names = data.data, list(data.feature_names)
    labels = data.target_names[data.target]
    path = d / "iris.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["plant", *names, "note", "species"])
        for i, (row, label) in enumerate(zip(X.tolist(), labels, strict=True)):
            w.writerow([f"p-{i:03d}", *row, f"seen on day {i % 5}, late", label])
    model = d / "iris.npz"
    res = fastlr_cmd("train", path, "--target", "species", "--drop", "note",
                     "--id", "plant", "--lr", "0.1", "--epochs", "200",
                     "--validation-fraction", "0.2", "--model", model,
                     "--plot", d / "plots")
    assert res.returncode == 0, res.stderr
    return {"dir": d, "csv": path, "X": X, "labels": labels, "names": names,
            "model": model, "train_out": res.stdout}


def test_multiclass_train_summary(iris):
    f = fields(iris["train_out"])
    assert f["classes"] == ("setosa, versicolor, virginica (3 classes: "
                            "multinomial (softmax) model)")
    assert f["rows"] == "120 training + 30 held out (stratified)"
    assert f["features"] == "4"
    assert f["not features"] == "note, plant (--id)"
    held = re.match(r"accuracy (\S+), log-loss (\S+)", f["held-out"])
    assert float(held.group(1)) > 0.85 and 0 < float(held.group(2)) < 0.6
    clf = fastlr.load(iris["model"])
    assert clf.coef_.shape == (3, 4)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    # loaded in Python, the model knows its columns
    assert clf.feature_names_in_.tolist() == iris["names"]
    assert (iris["dir"] / "plots" / "loss.png").stat().st_size > 5_000


def test_multiclass_evaluate_equals_scikit_learn(iris):
    plots = iris["dir"] / "eval"
    res = fastlr_cmd("evaluate", "--model", iris["model"], iris["csv"],
                     "--plot", plots)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    clf = fastlr.load(iris["model"])
    X, y = iris["X"], iris["labels"]
    proba = clf.predict_proba(X)
    pred = clf.predict(X)
    f = fields(out)
    assert float(f["accuracy"]) == pytest.approx(np.mean(pred == y), abs=1e-4)
    assert float(f["log-loss"]) == pytest.approx(
        log_loss(y, proba, labels=clf.classes_), rel=1e-5)
    auc = re.match(r"(\S+) \(macro average of one-vs-rest over 3 classes\)$",
                   f["ROC AUC"])
    assert float(auc.group(1)) == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr", average="macro"), abs=1e-4)
    p, r, f1, support = precision_recall_fscore_support(y, pred,
                                                        labels=clf.classes_)
    table = out.split("per class (one vs rest)\n")[1].split("\n\n")[0].splitlines()
    assert table[0].split() == ["precision", "recall", "F1", "rows"]
    for k, label in enumerate(clf.classes_):
        row = table[1 + k].split()
        assert row[0] == label
        np.testing.assert_allclose([float(v) for v in row[1:4]],
                                   [p[k], r[k], f1[k]], atol=1e-4)
        assert int(row[4]) == support[k]
    assert table[4].split()[:2] == ["macro", "average"]
    cm = confusion_matrix(y, pred, labels=clf.classes_)
    matrix = out.split("columns: predicted label)\n")[1].splitlines()
    assert matrix[0].split() == clf.classes_.tolist()
    for k in range(3):
        assert [int(v) for v in matrix[1 + k].split()[1:]] == cm[k].tolist()
    for name in ("roc.png", "calibration.png"):
        assert (plots / name).stat().st_size > 5_000


def test_predict_carries_the_id_column(iris, tmp_path):
    out = tmp_path / "p.csv"
    res = fastlr_cmd("predict", "--model", iris["model"], iris["csv"], "--proba",
                     "--out", out)
    assert res.returncode == 0, res.stderr
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["plant", "proba_setosa", "proba_versicolor",
                       "proba_virginica"]
    assert [r[0] for r in rows[1:]] == [f"p-{i:03d}" for i in range(150)]
    clf = fastlr.load(iris["model"])
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], dtype=float),
                                  clf.predict_proba(iris["X"]))
    # an ID column named on the command line, on data without labels
    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ref", *iris["names"][::-1]])  # other order: matched by name
        for i, row in enumerate(iris["X"][:5].tolist()):
            w.writerow([f"r,{i}", *row[::-1]])
    res = fastlr_cmd("predict", "--model", iris["model"], new, "--id", "ref")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(res.stdout.splitlines()))
    assert rows[0] == ["ref", "label"]
    assert rows[1:] == [[f"r,{i}", label] for i, label in
                        enumerate(clf.predict(iris["X"][:5]).tolist())]


def test_predict_with_another_id_leaves_train_s_id_out(iris, tmp_path):
    """--id naming another column at predict: train's --id column is still
    not a feature (it was taken as one, and the column count refused)."""
    res = fastlr_cmd("predict", "--model", iris["model"], iris["csv"], "--id", "note")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(res.stdout.splitlines()))
    assert rows[0] == ["note", "label"]
    clf = fastlr.load(iris["model"])
    assert [r[1] for r in rows[1:]] == clf.predict(iris["X"]).tolist()


def test_npz_id_is_recorded_and_written_by_predict(tmp_path):
    """train --id on an .npz names an ID array: recorded in the model like a
    CSV's, so predict writes it; the feature matrix or the labels are
    refused as IDs, and so is an array the file does not have."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    path = tmp_path / "ids.npz"
    np.savez(path, X=X, y=(X[:, 0] > 0).astype(int),
             case=np.array([f"c{i}" for i in range(60)]))
    model = tmp_path / "m.npz"
    res = fastlr_cmd("train", path, "--id", "case", "--model", model, "--quiet",
                     "--solver", "sgd", "--epochs", "3")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(fastlr_cmd("predict", "--model", model, path).stdout
                           .splitlines()))
    assert rows[0] == ["case", "label"]
    assert [r[0] for r in rows[1:]] == [f"c{i}" for i in range(60)]
    for bad, words in (("X", "'X' is the feature matrix"),
                       ("y", "'y' is the label array"),
                       ("nope", "no array 'nope' in the file")):
        clean_error(fastlr_cmd("train", path, "--id", bad, "--quiet"), words)


def test_whole_number_ids_of_a_float_table_are_written_as_integers(tmp_path):
    """An .npy table trained in place is float, its ID column too: predict
    writes IDs that are whole numbers as those integers (it wrote
    20240101.0 and 1e+16), and any other float ID as before; each ID by
    itself (decided over the whole column, a file read in parts was
    written as its parts happened to fall)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    ids = np.arange(40) + 20240101.0
    ids[1] = 1e16
    path = tmp_path / "t.npy"
    np.save(path, np.column_stack([ids, X, (X[:, 0] > 0).astype(float)]))
    model = tmp_path / "m.npz"
    res = fastlr_cmd("train", path, "--id", "0", "--model", model, "--quiet",
                     "--epochs", "2")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(fastlr_cmd("predict", "--model", model, path).stdout
                           .splitlines()))
    assert [r[0] for r in rows[1:4]] == ["20240101", "10000000000000000", "20240103"]
    ids[2] = 0.5
    np.save(path, np.column_stack([ids, X, (X[:, 0] > 0).astype(float)]))
    rows = list(csv.reader(fastlr_cmd("predict", "--model", model, path).stdout
                           .splitlines()))
    assert [r[0] for r in rows[1:4]] == ["20240101", "10000000000000000", "0.5"]


def test_a_renamed_header_is_refused_unless_by_position(iris, tmp_path):
    renamed = tmp_path / "renamed.csv"
    lines = iris["csv"].read_text().splitlines()
    renamed.write_text("\n".join(["plant,a,b,c,d,note,species", *lines[1:]]) + "\n")
    line = clean_error(fastlr_cmd("predict", "--model", iris["model"], renamed),
                       "none of its columns (plant, a, b, c, d, note, species)",
                       "is a feature of the model (sepal length (cm), sepal width "
                       "(cm), petal length (cm), petal width (cm))", "--by-position")
    assert "renamed.csv" in line
    res = fastlr_cmd("predict", "--model", iris["model"], renamed, "--by-position")
    assert res.returncode == 0, res.stderr
    clf = fastlr.load(iris["model"])
    assert [r.split(",")[1] for r in res.stdout.splitlines()[1:]] == \
        clf.predict(iris["X"]).tolist()
    res = fastlr_cmd("evaluate", "--model", iris["model"], renamed, "--by-position")
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_an_npz_id_on_a_fifo_is_refused(tmp_path, capsys):
    """``predict --id COL`` on an .npz path looked for COL with
    zipfile.ZipFile(path) before any check that the path is a regular file:
    a FIFO there was read forever. Refused at once, as without --id."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    data, model = tmp_path / "d.npz", tmp_path / "m.npz"
    np.savez(data, X=X, y=(X[:, 0] > 0).astype(int))
    assert in_process(capsys, "train", data, "--model", model, "--quiet").returncode == 0
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    res = fastlr_cmd("predict", "--model", model, fifo, "--id", "ids")
    clean_error(res, "fifo.npz", "is a FIFO")


def test_a_model_without_feature_names_takes_a_csv_only_by_position(iris, tmp_path):
    """A model fitted on an array has no feature names: a CSV's columns
    cannot be matched to its features by name, and were taken in order
    without a word (a CSV in another column order predicted from the wrong
    features; scikit-learn warns). Refused unless --by-position."""
    model = tmp_path / "array.npz"
    clf = fastlr.LogisticRegression(random_state=0).fit(iris["X"], iris["labels"])
    fastlr.save(clf, model)
    for command in ("predict", "evaluate"):
        clean_error(fastlr_cmd(command, "--model", model, iris["csv"], "--target",
                               "species", "--drop", "note", "--id", "plant"),
                    "iris.csv", "the model has no feature names", "--by-position")
    res = fastlr_cmd("predict", "--model", model, iris["csv"], "--target", "species",
                     "--drop", "note", "--id", "plant", "--by-position")
    assert res.returncode == 0, res.stderr
    assert [r.split(",")[1] for r in res.stdout.splitlines()[1:]] == \
        clf.predict(iris["X"]).tolist()


def in_process(capsys, *argv):
    """``fastlr ARGV`` through cli.main (faster than a new process)."""
    from types import SimpleNamespace

    from fastlr import cli

    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def test_output_paths_are_checked_before_training(iris, tmp_path, capsys):
    missing = tmp_path / "no-such-folder" / "m.npz"
    res = fastlr_cmd("train", iris["csv"], "--drop", "note,plant", "--model",
                     missing, "--epochs", "100000", "--tol", "none")
    clean_error(res, f"--model {missing}", "does not exist")
    assert res.stdout == ""  # no training summary: it stopped first
    through_a_file = iris["csv"] / "m.npz"
    clean_error(in_process(capsys, "train", iris["csv"], "--model", through_a_file),
                "is a file, not a folder")
    clean_error(in_process(capsys, "train", iris["csv"], "--model", tmp_path),
                "is a folder; give a file name")
    # a folder that does not exist yet, as a path ending with a separator:
    # refused after training, as the write found it
    for option in ("--model", "--out"):
        argv = (["train", iris["csv"], "--drop", "note,plant"] if option == "--model"
                else ["predict", "--model", iris["model"], iris["csv"]])
        res = in_process(capsys, *argv, option, f"{tmp_path}/new/")
        clean_error(res, f"{option} {tmp_path}/new/", "ends with a separator")
        assert res.stdout == ""
    clean_error(in_process(capsys, "predict", "--model", iris["model"], iris["csv"],
                           "--out", missing), "--out", "does not exist")
    clean_error(in_process(capsys, "train", iris["csv"], "--plot", iris["csv"]),
                "--plot", "exists and is not a folder")
    clean_error(in_process(capsys, "export", "--model", iris["model"], "--out",
                           tmp_path), "--out", "is a folder")
    assert not list(tmp_path.glob(".fastlr-write-check*"))
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        clean_error(in_process(capsys, "train", iris["csv"], "--model",
                               locked / "m.npz"), "cannot write in",
                    "Permission denied")


def test_output_paths_through_symbolic_links_are_checked_before_training(
        iris, tmp_path, capsys):
    """An output path that is a symbolic link is checked where the write
    goes (the folder of the file it names), before training: a link into a
    missing folder ran the training, then failed to write the model; a loop
    of links was replaced by a regular file (exit 0)."""
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "nowhere" / "m.npz")
    res = fastlr_cmd("train", iris["csv"], "--drop", "note,plant", "--model",
                     dangling, "--epochs", "100000", "--tol", "none")
    clean_error(res, f"--model {dangling}", "nowhere", "does not exist")
    assert res.stdout == ""
    loop_a, loop_b = tmp_path / "loopA", tmp_path / "loopB"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    for argv in (("train", iris["csv"], "--model", loop_a),
                 ("predict", "--model", iris["model"], iris["csv"], "--out", loop_a)):
        clean_error(in_process(capsys, *argv), f"{loop_a}",
                    "Too many levels of symbolic links")
    assert loop_a.is_symlink() and loop_b.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.npz", "loopA",
                                                          "loopB"]


def test_an_output_never_replaces_an_input_or_a_special_file(iris, tmp_path, capsys):
    """An output path that names a file the command reads (DATA, --model)
    or a FIFO is refused before any work and the file is left as it was
    (train --model DATA, predict --out DATA, export --out MODEL had
    replaced the data or the model, exit 0; export replaced a FIFO, and as
    root /dev/null). --warm-start M --model M still continues M in place.
    Outputs go through the atomic writer: a replaced file keeps its mode and
    no temporary file is left."""
    data = tmp_path / "iris.csv"
    shutil.copy(iris["csv"], data)
    model = tmp_path / "m.npz"
    shutil.copy(iris["model"], model)
    before = {p: p.read_bytes() for p in (data, model)}
    drop = ("--drop", "note,plant")
    clean_error(in_process(capsys, "train", data, *drop, "--model", data),
                f"--model {data}", "is the DATA file")
    clean_error(in_process(capsys, "predict", "--model", model, data, "--out", data),
                f"--out {data}", "is the DATA file")
    clean_error(in_process(capsys, "predict", "--model", model, data, "--out", model),
                f"--out {model}", "is the --model file")
    link = tmp_path / "link.csv"
    link.symlink_to(data)   # the same file under another name
    clean_error(in_process(capsys, "predict", "--model", model, link, "--out", data),
                "is the DATA file")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        clean_error(in_process(capsys, "predict", "--model", model, data, "--out",
                               fifo), f"--out {fifo}", "is a FIFO")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    try:
        import onnx  # noqa: F401
    except ImportError:
        pass
    else:
        clean_error(in_process(capsys, "export", "--model", model, "--out", model),
                    "is the --model file")
        if hasattr(os, "mkfifo"):
            clean_error(in_process(capsys, "export", "--model", model, "--out", fifo),
                        "is a FIFO")
    assert {p: p.read_bytes() for p in (data, model)} == before
    out = tmp_path / "p.csv"
    out.write_text("old")
    os.chmod(out, 0o600)
    assert in_process(capsys, "predict", "--model", model, data, "--out",
                      out).returncode == 0
    assert out.read_text().startswith("plant,label")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    os.chmod(model, 0o600)
    assert in_process(capsys, "train", data, *drop, "--warm-start", model,
                      "--model", model, "--epochs", "2").returncode == 0
    assert model.read_bytes() != before[model]
    assert stat.S_IMODE(os.stat(model).st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_continuous_labels_are_refused_however_the_file_is_read(tmp_path, capsys):
    """Labels that are not whole numbers (or not within int64's range) are
    refused by a whole read and by a chunked one alike, naming the file and
    a label (a chunked read had trained a model with one class per distinct
    value)."""
    # whole numbers beyond int64's range are continuous to scikit-learn
    # (they do not survive its cast to int): a whole read had raised its
    # message without the file, a chunked read had trained on them
    for label, shown in ((1.5, "1.5"), (1e20, "1e+20")):
        path = tmp_path / f"{shown}.csv"
        path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{(i % 2) * label}\n"
                                             for i in range(40)))
        for extra in ((), ("--chunk-rows", "8", "--solver", "sgd")):
            clean_error(in_process(capsys, "train", path, *extra), f"{path}",
                        "Unknown label type: continuous", shown)


def test_misspelt_columns_and_delimiters(iris, tmp_path, capsys):
    clean_error(fastlr_cmd("train", iris["csv"], "--target", "specis"),
                "unknown target column 'specis' (--target); did you mean "
                "'species'?", "plant, sepal length (cm)")
    clean_error(in_process(capsys, "train", iris["csv"], "--target", "SPECIES"),
                "did you mean 'species'?")
    clean_error(in_process(capsys, "train", iris["csv"], "--drop", "nots"),
                "unknown column 'nots' (--drop); did you mean 'note'?")
    clean_error(in_process(capsys, "predict", "--model", iris["model"], iris["csv"],
                           "--id", "plnt"),
                "unknown column 'plnt' (--id); did you mean 'plant'?")
    clean_error(in_process(capsys, "train", iris["csv"], "--target", "zzz"),
                "unknown target column 'zzz' (--target); the columns are:")
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b;label\n1;2;x\n3;4;y\n")
    clean_error(fastlr_cmd("train", semi), "one column, 'a;b;label'",
                "semicolons", "--delimiter ';'")
    tabs = tmp_path / "tabs.csv"
    tabs.write_text("a\tb\tlabel\n1\t2\tx\n3\t4\ty\n")
    clean_error(in_process(capsys, "train", tabs), "tabs", "--delimiter tab")
    res = in_process(capsys, "train", tabs, "--delimiter", "tab", "--epochs", "3")
    assert res.returncode == 0, res.stderr
    spaces = tmp_path / "spaces.csv"   # np.savetxt's default separator
    spaces.write_text("a b label\n1 2 0\n3 4 1\n")
    clean_error(in_process(capsys, "train", spaces), "spaces", "--delimiter ' '")
    res = in_process(capsys, "train", spaces, "--delimiter", " ", "--epochs", "3")
    assert res.returncode == 0, res.stderr


def test_two_feature_multiclass_boundary_plot(tmp_path, capsys):
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 4.0], [4.0, 0.0], [-4.0, -2.0]])
    y = np.repeat(np.arange(3), 30)
    X = centers[y] + rng.normal(size=(90, 2))
    path = tmp_path / "blobs.csv"
    with open(path, "w") as f:
        f.write("u,v,blob\n")
        for row, label in zip(X.tolist(), np.array(["r", "g", "b"])[y], strict=True):
            f.write(f"{row[0]},{row[1]},{label}\n")
    res = in_process(capsys, "train", path, "--plot", tmp_path / "plots",
                     "--lr", "0.1", "--epochs", "50")
    assert res.returncode == 0, res.stderr
    assert "boundary.png" in fields(res.stdout)["plots"]
    import matplotlib.image

    img = matplotlib.image.imread(tmp_path / "plots" / "boundary.png")
    assert img.shape[1] > 500 and img[..., :3].std() > 0.05


def test_export_onnx(iris, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not "
                              "installed: pip install 'fastlr-numba[onnx]'")
    out = tmp_path / "iris.onnx"
    res = fastlr_cmd("export", "--model", iris["model"], "--out", out)
    assert res.returncode == 0, res.stderr
    f = fields(res.stdout)
    assert f["input"] == "X: float32 [rows, 4]"
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    X = iris["X"].astype(np.float32)
    label, proba = sess.run(None, {"X": X})
    clf = fastlr.load(iris["model"])
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(label, clf.predict(X))


@pytest.mark.parametrize("train_args, new_cols, feats", [
    (("--drop", "0,-2"), [0, 1, 2, 3], [1, 2]),          # a negative index
    (("--drop", "0", "--drop", "-2"), [0, 1, 2, 3], [1, 2]),   # --drop twice
    (("--target", "1", "--drop", "3"), [0, 2, 3, 4], [0, 2, 4]),   # after the label
], ids=["negative", "twice", "after-label"])
def test_npy_columns_left_out_are_found_again_without_the_label(
        tmp_path, capsys, train_args, new_cols, feats):
    """train records the .npy columns it left out where they are (negative
    indices counted from the end); predict on rows without the label column
    (one column fewer) leaves out the same columns. It used to apply the
    recorded index to the narrower file: another column left out, the
    model fed the wrong features, silently. ``--drop`` given twice adds up
    (the last one alone counted)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5)) * [1.0, 1.0, 1.0, 100.0, 1.0]
    label_col = 1 if "--target" in train_args else 4
    feat_cols = [j for j in range(5) if j != label_col]
    z = X[:, feat_cols[0]] - X[:, feat_cols[1]]
    X[:, label_col] = (z > 0).astype(float)
    np.save(tmp_path / "train.npy", X)
    new = np.delete(X[:5], label_col, axis=1)
    np.save(tmp_path / "new.npy", new)
    model = tmp_path / "m.npz"
    res = in_process(capsys, "train", tmp_path / "train.npy", *train_args,
                     "--model", model, "--solver", "lbfgs")
    assert res.returncode == 0, res.stderr
    res = in_process(capsys, "predict", "--model", model, tmp_path / "new.npy",
                     "--proba")
    assert res.returncode == 0, res.stderr
    got = np.array([[float(v) for v in line.split(",")[-2:]]
                    for line in res.stdout.splitlines()[1:]])
    clf = fastlr.load(model)
    kept = [j for j, c in enumerate(new_cols) if c in feats]
    np.testing.assert_allclose(got, clf.predict_proba(new[:, kept]), rtol=1e-12)


@pytest.mark.parametrize("how", [("--solver", "sgd"), ("--solver", "sgd",
                                                          "--chunk-rows", "500")],
                         ids=["in-place", "chunks"])
def test_warm_start_in_parts_takes_the_model_s_label_column(tmp_path, capsys, how):
    """A warm start on a file read in parts (an .npy in place, or in
    chunks) takes the label column the model was trained with, as a read
    of the whole file does. It took the last column: a 0/1 feature became
    the labels (train accuracy 0.50) and the label column a feature."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2))
    flag = (rng.random(2000) < 0.5).astype(float)
    label = (X[:, 0] - X[:, 1] > 0).astype(float)
    np.save(tmp_path / "t.npy", np.column_stack([label, X, flag]))
    model = tmp_path / "m.npz"
    res = in_process(capsys, "train", tmp_path / "t.npy", "--target", "0",
                     "--model", model)
    assert res.returncode == 0, res.stderr
    again = tmp_path / "m2.npz"
    res = in_process(capsys, "train", tmp_path / "t.npy", "--warm-start", model,
                     *how, "--epochs", "2", "--model", again)
    assert res.returncode == 0, res.stderr
    assert "labels from column 0" in res.stdout
    accuracy = float(re.search(r"train accuracy:\s+([0-9.]+)", res.stdout)[1])
    assert accuracy > 0.95
    data = fastlr.persist.read_metadata(again)["metadata"]["data"]
    assert data["target"] == 0


@pytest.mark.parametrize("chunks", [[], ["--chunk-rows", "20"]], ids=["whole", "chunks"])
def test_text_classes_that_look_like_numbers_are_read_as_text(tmp_path, capsys, chunks):
    """A model whose CSV labels are text ('007', '012', 'other') met a file
    whose labels all look like numbers: they were parsed as 7 and 12, and
    evaluate and --warm-start said the model was not trained on them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    lab = np.array(["007", "012", "other"])[np.digitize(X[:, 0], [-0.4, 0.4])]

    def write(path, keep):
        with open(path, "w") as f:
            f.write("a,b,code\n")
            for x, label in zip(X[keep], lab[keep], strict=True):
                f.write(f"{x[0]},{x[1]},{label}\n")

    write(tmp_path / "train.csv", slice(None))
    write(tmp_path / "test.csv", lab != "other")
    model = tmp_path / "m.npz"
    res = in_process(capsys, "train", tmp_path / "train.csv", "--model", model)
    assert res.returncode == 0, res.stderr
    res = in_process(capsys, "evaluate", "--model", model, tmp_path / "test.csv")
    assert res.returncode == 0, res.stderr
    assert re.search(r"^accuracy:\s+0\.\d+|^accuracy:\s+1\.0", res.stdout, flags=re.M)
    # the classes match; the file lacks one of them, which a warm start needs
    res = in_process(capsys, "train", tmp_path / "test.csv", "--warm-start", model,
                     *chunks)
    assert res.returncode == 1
    assert "the model's classes [other] is not in its labels" in res.stderr
    assert "not trained on" not in res.stderr


def test_a_dropped_npy_column_may_hold_nan_when_trained_in_place(tmp_path, capsys):
    """Columns left out (--drop, --id) are never parsed, so they may hold
    anything: an .npy that would train in place, but whose dropped column
    holds NaN, is read in parts instead (training in place reads every
    column of the table). It failed with an internal TypeError."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2))
    ids = np.arange(2000.0)
    ids[5] = np.nan
    label = (X[:, 0] - X[:, 1] > 0).astype(float)
    np.save(tmp_path / "t.npy", np.column_stack([ids, X, label]))
    for opt in ("--drop", "--id"):
        res = in_process(capsys, "train", tmp_path / "t.npy", opt, "0", "--solver",
                         "sgd", "--epochs", "3")
        assert res.returncode == 0, res.stderr
        assert "in 1 chunk of at most" in res.stdout
        accuracy = float(re.search(r"train accuracy:\s+([0-9.]+)", res.stdout)[1])
        assert accuracy > 0.95


@pytest.mark.parametrize("command, name", [("train", "loss.png"),
                                           ("evaluate", "roc.png")])
def test_plot_files_are_checked_before_any_work(iris, tmp_path, capsys, command,
                                                name):
    """The files --plot DIR will hold are checked with the folder, before
    any work (a folder or a FIFO at DIR/loss.png was found only after
    training, and a FIFO failed with "File or stream is not seekable"
    naming no path); plots are written atomically."""
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / name).mkdir()
    model = tmp_path / "m.npz"
    argv = (["train", iris["csv"], "--drop", "note,plant", "--model", model]
            if command == "train" else ["evaluate", "--model", iris["model"],
                                        iris["csv"]])
    res = in_process(capsys, *argv, "--plot", plots)
    clean_error(res, "--plot", name, "is a folder")
    assert res.stdout == "" and not model.exists()
    (plots / name).rmdir()
    os.mkfifo(plots / name)
    res = in_process(capsys, *argv, "--plot", plots)
    clean_error(res, "--plot", name, "not a regular file")
    assert res.stdout == "" and not model.exists()
    (plots / name).unlink()
    res = in_process(capsys, *argv, "--plot", plots)
    assert res.returncode == 0, res.stderr
    assert (plots / name).read_bytes().startswith(b"\x89PNG")
    assert not list(plots.glob(".*.tmp"))


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("under", [False, True], ids=["link", "under-link"])
def test_a_plot_folder_through_a_dangling_link_is_refused_before_any_work(
        iris, tmp_path, capsys, command, under):
    """--plot DIR that is (or lies under) a symbolic link to a folder not
    created yet: it passed the check, the training ran and saved the model,
    then the plot failed with "plots: File exists" (exit 1)."""
    link = tmp_path / "plots"
    link.symlink_to("results/plots")   # relative, as a user makes it
    plots = link / "run1" if under else link
    model = tmp_path / "m.npz"
    argv = (["train", iris["csv"], "--drop", "note,plant", "--model", model]
            if command == "train" else ["evaluate", "--model", iris["model"],
                                        iris["csv"]])
    res = in_process(capsys, *argv, "--plot", plots)
    line = clean_error(res, "--plot", "is a symbolic link to results/plots",
                       "which does not exist")
    assert (f"{link} is" in line) == under
    assert res.stdout == "" and not model.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots"]
    (tmp_path / "results" / "plots").mkdir(parents=True)   # the target made
    res = in_process(capsys, *argv, "--plot", plots)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in plots.glob("*.png")) == (
        ["loss.png"] if command == "train" else ["calibration.png", "roc.png"])


def test_an_lbfgs_loss_curve_is_drawn_against_passes(iris, tmp_path, capsys,
                                                     monkeypatch):
    """train --plot labelled the x axis of an L-BFGS fit's loss curve
    "epoch"; its points are L-BFGS iterations, after an SGD epoch for
    --solver auto."""
    from fastlr import plotting

    labels = []
    real = plotting.plot_loss_curve

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        labels.append(fig.axes[0].get_xlabel())
        return fig

    monkeypatch.setattr(plotting, "plot_loss_curve", spy)
    for solver in ("lbfgs", "auto", "sgd"):
        res = in_process(capsys, "train", iris["csv"], "--drop", "note,plant",
                         "--model", tmp_path / "m.npz", "--solver", solver,
                         "--epochs", "5", "--plot", tmp_path / solver)
        assert res.returncode == 0, res.stderr
    assert labels == ["L-BFGS iteration", "pass (1 SGD epoch, then L-BFGS "
                      "iterations)", "epoch"]


def test_predict_does_not_parse_the_label_column_it_ignores(iris, tmp_path, capsys):
    """New rows often have no label yet: predict finds the label column
    (not a feature) but never parses it, so a blank or NaN label is fine,
    in a CSV and in an .npz (it refused them: "empty value in the target
    column", "labels must be finite")."""
    with open(iris["csv"], newline="") as f:
        rows = list(csv.reader(f))
    label = rows[0].index("species")
    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as f:
        csv.writer(f).writerows([rows[0]] + [r[:label] + [""] + r[label + 1:]
                                             for r in rows[1:6]])
    res = in_process(capsys, "predict", "--model", iris["model"], new)
    assert res.returncode == 0, res.stderr
    full = in_process(capsys, "predict", "--model", iris["model"], iris["csv"])
    assert res.stdout.splitlines() == full.stdout.splitlines()[:6]
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(float)
    np.savez(tmp_path / "t.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    assert in_process(capsys, "train", tmp_path / "t.npz", "--model",
                      model).returncode == 0
    np.savez(tmp_path / "new.npz", X=X[:4], y=np.full(4, np.nan))
    res = in_process(capsys, "predict", "--model", model, tmp_path / "new.npz")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1:] == [
        str(v) for v in fastlr.load(model).predict(X[:4]).tolist()]


def test_many_classes_train_without_the_warm_up_warnings(tmp_path, capsys):
    """The kernels' warm-up before the timed fit runs on made-up rows
    (``cli._warm_up``): with more than 16 classes and the default batch, too
    few rows per class made scikit-learn's label check warn of a regression
    target that the user's labels (100 rows per class) are not."""
    rng = np.random.default_rng(0)
    path = tmp_path / "many.csv"
    labels = np.repeat(np.arange(26), 100)
    X = rng.normal(size=(labels.size, 3)) + labels[:, None] * 0.1
    path.write_text("a,b,c,label\n" + "".join(
        f"{a},{b},{c},{chr(97 + t)}\n"
        for (a, b, c), t in zip(X.tolist(), labels, strict=True)))
    res = in_process(capsys, "train", path, "--epochs", "2", "--solver", "sgd",
                     "--tol", "none", "--model", tmp_path / "m.npz")
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr, res.stderr


def test_the_per_class_table_keeps_its_columns_apart_for_millions_of_rows():
    """The rows column was 9 characters wide: from 1,000,000 rows a count
    ran into the F1 column ('0.89208,001,414')."""
    from fastlr.cli import _format_per_class

    table = _format_per_class(np.array([0, 1]), [0.9, 0.8], [0.7, 0.6],
                              [0.78125, 0.68571], np.array([8_001_414, 12_345]))
    lines = table.splitlines()
    assert [line.split() for line in lines[1:]] == [
        ["0", "0.9000", "0.7000", "0.7812", "8,001,414"],
        ["1", "0.8000", "0.6000", "0.6857", "12,345"],
        ["macro", "average", "0.8500", "0.6500", "0.7335", "8,013,759"]]
    assert len({len(line) for line in lines}) == 1   # aligned


@pytest.mark.parametrize("proba", [False, True], ids=["labels", "proba"])
def test_predictions_are_written_in_slices_as_whole(tmp_path, monkeypatch, capsys,
                                                    proba):
    """predict makes its output rows a slice at a time (all at once, 16M
    rows of probabilities took 1.9 GB of Python lists): the file is the one
    the whole arrays give, each float ID that is a whole number written as
    that integer, whatever the slice."""
    from fastlr import cli

    rng = np.random.default_rng(2)
    X = rng.normal(size=(10, 2))
    ids = np.arange(10) + 100.0
    ids[9] = 0.5                      # the last slice's only: written as a float
    y = (X[:, 0] > 0).astype(float)
    path = tmp_path / "t.npy"
    np.save(path, np.column_stack([ids, X, y]))
    model = tmp_path / "m.npz"
    assert cli.main(["train", str(path), "--id", "0", "--model", str(model), "--quiet",
                     "--epochs", "2"]) == 0
    monkeypatch.setattr(cli, "OUTPUT_ROWS", 3)
    out = tmp_path / "p.csv"
    assert cli.main(["predict", "--model", str(model), str(path), "--out", str(out),
                     "--quiet", *(["--proba"] if proba else [])]) == 0
    fitted = fastlr.load(model)
    values = fitted.predict_proba(X) if proba else fitted.predict(X)[:, None]
    want = [[repr(int(i) if i == round(i) else i), *map(str, row)]
            for i, row in zip(ids.tolist(), values.tolist(), strict=True)]
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[1:] == want
    assert rows[0][0] == "0" and len(rows[0]) == 1 + values.shape[1]


def test_a_continuous_label_is_said_alike_whole_and_in_parts(tmp_path, capsys):
    """One wording, whole or in parts: the file with where its labels are,
    and the first label in file order that is not a class (the whole read
    named the smallest, the chunked one the smallest of its chunk, and
    only the whole read said where the labels are)."""
    rng = np.random.default_rng(4)
    labels = np.round(rng.normal(size=30) * 5, 3)
    labels[:7] = np.arange(7) % 2   # whole numbers first
    first = repr(labels[7].item())
    svm = tmp_path / "reg.svm"
    svm.write_text("".join(f"{v!r} 1:{i} 3:1\n" for i, v in
                           enumerate(labels.tolist())))
    csv_path = tmp_path / "reg.csv"
    csv_path.write_text("a,price,b\n" + "".join(
        f"{i},{v!r},1\n" for i, v in enumerate(labels.tolist())))
    npy = tmp_path / "reg.npy"
    np.save(npy, np.column_stack([np.arange(30.0), labels]))
    for path, extra, where in (
            (svm, [], "the first field of each line"),
            (csv_path, ["--target", "price"], "column 'price'"),
            (npy, [], "column 1")):
        said = {clean_error(in_process(capsys, "train", path, *extra, *parts),
                            f"{path} ({where}): Unknown label type: continuous "
                            f"(a label is {first})")
                for parts in ([], ["--chunk-rows", "5", "--solver", "sgd"],
                              ["--chunk-rows", "12", "--solver", "sgd"])}
        assert len(said) == 1, said
    # an .npy table in place
    assert clean_error(in_process(capsys, "train", npy, "--solver", "sgd")) in said


@pytest.mark.parametrize("text", ["", "# a comment\n# another\n", "\n  \n\t\n"],
                         ids=["empty", "comments", "blank"])
def test_an_svmlight_file_without_rows_is_said_alike_by_every_command(
        tmp_path, capsys, text):
    """No line holds a label: "no data rows", as predict said, where train
    and convert said "has no features" (which a file of label-only lines
    still gets: it has rows)."""
    path = tmp_path / "e.svm"
    path.write_text(text)
    ok = tmp_path / "ok.svm"
    ok.write_text("1 1:1 2:1\n0 2:1\n")
    model = tmp_path / "m.npz"
    assert in_process(capsys, "train", ok, "--model", model, "-q").returncode == 0
    for argv in (["train", path], ["train", path, "--chunk-rows", "2", "--solver",
                                   "sgd"],
                 ["convert", path, "--out", tmp_path / "t.npy"],
                 ["predict", path, "--model", model],
                 ["evaluate", path, "--model", model, "--chunk-rows", "2"]):
        res = in_process(capsys, *argv)
        assert res.returncode == 1 and \
            res.stderr == f"fastlr: error: {path}: no data rows\n", (argv, res.stderr)
    path.write_text("1\n0 qid:3\n")
    assert clean_error(in_process(capsys, "train", path)) == \
        f"fastlr: error: {path}: has no features"


def test_the_macro_average_leaves_out_classes_neither_in_the_data_nor_predicted(
        tmp_path, capsys):
    """A 3-class model evaluated on rows of two classes, that never predicts
    the third: the macro average counted that class's zeros (F1 two thirds
    of the right one). It now averages over the classes in the data or
    predicted, as scikit-learn's classification_report does, and says so."""
    from sklearn.metrics import f1_score, precision_score

    from fastlr.cli import _format_per_class

    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 6.0], [6.0, 0.0], [-6.0, -6.0]])
    y = np.repeat([0, 1, 2], 100)
    X = centers[y] + rng.normal(size=(300, 2))
    path = tmp_path / "train.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,label",
               comments="", fmt="%.6g")
    test = tmp_path / "test.csv"
    two = y < 2
    np.savetxt(test, np.column_stack([X[two], y[two]]), delimiter=",",
               header="a,b,label", comments="", fmt="%.6g")
    model = tmp_path / "m.npz"
    assert in_process(capsys, "train", path, "--model", model,
                      "--quiet").returncode == 0
    res = in_process(capsys, "evaluate", "--model", model, test)
    assert res.returncode == 0, res.stderr
    pred = fastlr.load(model).predict(X[two])
    assert set(pred.tolist()) == {0.0, 1.0}
    macro = re.search(r"^macro average\s+(\S+)\s+(\S+)\s+(\S+)", res.stdout, re.M)
    assert float(macro[1]) == pytest.approx(
        precision_score(y[two], pred, average="macro"), abs=1e-4)
    assert float(macro[3]) == pytest.approx(f1_score(y[two], pred, average="macro"),
                                            abs=1e-4)
    assert "leaves out 1 class neither in the data nor predicted" in res.stdout
    # every class seen: no such line
    table = _format_per_class(np.array([0, 1]), [0.9, 0.8], [0.7, 0.6],
                              [0.8, 0.7], np.array([5, 0]), predicted=np.array([4, 1]))
    assert "leaves out" not in table
    assert table.splitlines()[-1].split()[2] == "0.8500"
