"""``fastlr train`` on a file larger than memory: CSV and svmlight read a
chunk of rows at a time (``--chunk-rows N``, or by itself above a size), a
float .npy table memory-mapped and trained on in place.

Streamed training is compared with training on the file read whole:

* one chunk holding every row, and an .npy table in place, are ``fit``
  itself (same statistics, same batches in the same order): equal to
  float64 rounding (``rtol=1e-10``);
* several chunks shuffle rows within each chunk only, so the batches
  differ from ``fit``'s and the models are close, not equal: after enough
  epochs to converge, the log-loss on the file is within 1% of the whole
  read's. The column statistics of the first pass are those of every row
  (merged per-chunk moments), equal to ``fit``'s to ``rtol=1e-12``.
"""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import sparse
from sklearn.metrics import log_loss

import fastlr
from fastlr import cli

pytestmark = pytest.mark.filterwarnings(
    "ignore:X does not have valid feature names:UserWarning",
    "ignore:Maximum number of epochs:sklearn.exceptions.ConvergenceWarning")

TOL = {"rtol": 1e-10, "atol": 1e-12}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_table(m=3000, n=4, classes=2, seed=0):
    """Features of different scale and offset, the label last."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    t = Z[:, 0] - 0.5 * Z[:, 1] + 0.5 * rng.logistic(size=m)
    y = np.digitize(t, np.quantile(t, np.linspace(0, 1, classes + 1)[1:-1]))
    X = Z * np.linspace(0.5, 30.0, n) + np.linspace(-5.0, 5.0, n)
    return X, y


def write_files(d, X, y):
    """The same rows as CSV (header, label column 'label'), svmlight and
    a float64 .npy table (label last)."""
    n = X.shape[1]
    with open(d / "t.csv", "w") as f:
        f.write(",".join([f"f{j}" for j in range(n)] + ["label"]) + "\n")
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            f.write(",".join(repr(v) for v in row) + f",{label}\n")
    with open(d / "t.svm", "w") as f:
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            f.write(f"{label} " + " ".join(f"{j + 1}:{v!r}" for j, v in
                                           enumerate(row)) + "\n")
    np.save(d / "t.npy", np.column_stack([X, y]).astype(np.float64))
    return {"csv": d / "t.csv", "svm": d / "t.svm", "npy": d / "t.npy"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    X, y = make_table()
    return {"X": X, "y": y, "dir": d, **write_files(d, X, y)}


def train(capsys, path, model, *extra, solver="sgd"):
    """``fastlr train`` in process: (summary fields, loaded model). SGD
    unless said otherwise: a file read in parts is trained by SGD epochs,
    so that is what a whole read is compared with."""
    argv = ["train", str(path), "--model", str(model), "--random-state", "3",
            "--epochs", "8", "--quiet", "--solver", solver, *map(str, extra)]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return dict(re.findall(r"^([a-z -]+):\s+(.*)$", out, flags=re.M)), \
        fastlr.load(model)


def assert_same_model(a, b, tol=TOL):
    np.testing.assert_allclose(a.coef_, b.coef_, **tol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, **tol)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, **tol)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.classes_, b.classes_)


# --------------------------------------------------------------------------
# equal to the whole read


@pytest.mark.parametrize("kind", ["csv", "svm", "npy"])
def test_one_chunk_is_the_whole_read(files, tmp_path, capsys, kind):
    """A chunk as large as the file: the statistics and batches of fit."""
    whole, w = train(capsys, files[kind], tmp_path / "w.npz", "--chunk-rows", 0)
    part, p = train(capsys, files[kind], tmp_path / "p.npz", "--chunk-rows", 10**6)
    assert "reading" not in whole
    assert part["reading"].startswith("in 1 chunk of at most 1,000,000 rows")
    assert_same_model(p, w)
    np.testing.assert_allclose(p.training_state_.mean, w.training_state_.mean, **TOL)
    np.testing.assert_allclose(p.training_state_.scale, w.training_state_.scale,
                               **TOL)
    for key in ("rows", "features", "standardize", "classes", "epochs run",
                "final loss", "train accuracy"):
        assert part[key] == whole[key], key


def test_solvers_on_a_file_read_in_parts(files, tmp_path, capsys):
    """lbfgs needs every row at each iteration: refused with chunks, before
    any reading; auto runs its SGD phase (epochs) on chunks; a small .npy
    table is read whole for the solver (in place trains by SGD epochs)."""
    model = tmp_path / "l.npz"
    code = cli.main(["train", str(files["csv"]), "--model", str(model),
                     "--solver", "lbfgs", "--chunk-rows", "500", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "--chunk-rows: --solver lbfgs" in err, err
    assert not model.exists()
    auto, _ = train(capsys, files["csv"], tmp_path / "a.npz", "--chunk-rows", 500,
                    solver="auto")
    assert "epochs run" in auto and "passes run" not in auto
    npy, m = train(capsys, files["npy"], tmp_path / "n.npz", solver="auto")
    assert "reading" not in npy
    assert "L-BFGS" in npy["passes run"] and m.solver == "auto"


@pytest.mark.parametrize("kind", ["chunks", "in_place"])
def test_auto_on_a_file_read_in_parts_is_sgd(files, tmp_path, capsys, monkeypatch,
                                              kind):
    """Where only SGD epochs can run (chunks; an .npy table in place, here
    as for a table larger than a quarter of memory), solver auto, the
    default, trains as sgd does: stopped by --tol and --n-iter-no-change
    (it ran every --epochs, whatever --tol), with a warning when --epochs
    runs out first. The same model as --solver sgd's, bit for bit."""
    if kind == "chunks":
        path, extra = files["csv"], ["--chunk-rows", "500"]
    else:
        monkeypatch.setattr(cli, "stream_threshold", lambda: 1000)
        path, extra = files["npy"], []

    def run(solver, epochs, tol):
        model = tmp_path / f"{solver}-{epochs}.npz"
        code = cli.main(["train", str(path), "--model", str(model), "--quiet",
                         "--random-state", "3", "--epochs", str(epochs), "--tol",
                         str(tol), "--solver", solver, *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        summary = dict(re.findall(r"^([a-z -]+):\s+(.*)$", out, flags=re.M))
        return summary, err, fastlr.load(model)

    auto, err, a = run("auto", 200, 0.01)
    assert auto["reading"].startswith("in 6 chunks" if kind == "chunks" else
                                      "memory-mapped")
    assert auto["epochs run"].endswith(
        "(stopped early: loss no longer improving by tol=0.01)"), auto
    assert a.n_iter_ < 200 and "warning" not in err, err
    sgd, _, s = run("sgd", 200, 0.01)
    assert auto["epochs run"] == sgd["epochs run"]
    np.testing.assert_array_equal(a.coef_, s.coef_)
    np.testing.assert_array_equal(a.intercept_, s.intercept_)
    np.testing.assert_array_equal(a.loss_curve_, s.loss_curve_)
    _, err, a = run("auto", 2, 1e-9)
    assert a.n_iter_ == 2
    assert "fastlr: warning: Maximum number of epochs (2) reached before the loss " \
        "stopped improving by tol=1e-09" in err, err


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("drop", [False, True], ids=["label_last", "dropped_column"])
def test_npy_table_in_place_is_the_whole_read(tmp_path, capsys, classes, drop):
    """Memory-mapped, with the label (and a dropped column) between the
    features kept out of the model by an infinite scale: fit's model on the
    feature columns, read whole."""
    X, y = make_table(classes=classes, seed=1)
    T = np.column_stack([X[:, :2], y, X[:, 2:]])
    extra = ["--target", "2"]
    if drop:
        T = np.column_stack([T, np.arange(T.shape[0], dtype=np.float64)])
        extra += ["--drop", str(T.shape[1] - 1)]
    np.save(tmp_path / "t.npy", T)
    whole, w = train(capsys, tmp_path / "t.npy", tmp_path / "w.npz", "--chunk-rows",
                     0, *extra)
    part, p = train(capsys, tmp_path / "t.npy", tmp_path / "p.npz", *extra)
    assert part["reading"].startswith("memory-mapped and trained on in place")
    assert p.n_features_in_ == w.n_features_in_ == X.shape[1]
    assert_same_model(p, w)
    assert part["train accuracy"] == whole["train accuracy"]
    if drop:
        assert part["not features"] == whole["not features"] == str(T.shape[1] - 1)


@pytest.mark.parametrize("value", [np.nan, 1.5e308], ids=["nan", "huge"])
def test_a_dropped_column_in_place_can_only_be_read_in_chunks(tmp_path, capsys,
                                                              value):
    """A dropped column of NaN, or of values whose sums overflow float64
    (1.5e308: the column's weight became NaN in place and the training
    "diverged"), sends the table to the chunked reader, which never parses
    that column: the model of the feature columns, as read whole."""
    X, y = make_table(seed=2)
    col = np.arange(X.shape[0], dtype=np.float64)
    col[::2] = value
    np.save(tmp_path / "t.npy", np.column_stack([col, X, y]))
    whole, w = train(capsys, tmp_path / "t.npy", tmp_path / "w.npz", "--chunk-rows",
                     0, "--drop", 0)
    part, p = train(capsys, tmp_path / "t.npy", tmp_path / "p.npz", "--drop", 0)
    assert part["reading"].startswith("in 1 chunk of at most")
    assert_same_model(p, w)


@pytest.mark.parametrize("how", ["small", "chunk_rows", "large"])
def test_a_fortran_npy_is_trained_as_its_c_table_and_says_how(tmp_path, capsys,
                                                              monkeypatch, how):
    """A float table in Fortran order (np.save of a DataFrame's to_numpy())
    cannot be trained on in place: read whole it was copied without a word
    (the C table's summary says 'memory-mapped ... not copied'), and read
    in chunks (--chunk-rows, or larger than a quarter of memory) it was
    refused. The summary now says it was copied, and its chunks are read a
    column at a time, to the C table's model."""
    X, y = make_table()
    table = np.column_stack([X, y])
    np.save(tmp_path / "c.npy", table)
    np.save(tmp_path / "f.npy", np.asfortranarray(table))
    extra = ("--chunk-rows", 700) if how == "chunk_rows" else ()
    if how == "large":
        monkeypatch.setattr(cli, "stream_threshold", lambda: 10)
    got, model = train(capsys, tmp_path / "f.npy", tmp_path / "f.npz", *extra)
    if how == "small":
        assert got["reading"].startswith("whole, copied to C order: the table is "
                                         "stored in Fortran (column) order")
        extra = ("--chunk-rows", 0)
    elif how == "large":
        assert got["reading"].startswith("in 1 chunk of at most"), got["reading"]
        extra = ("--chunk-rows", 0)
    else:
        assert got["reading"].startswith("in 5 chunks of at most 700 rows")
    want, c_model = train(capsys, tmp_path / "c.npy", tmp_path / "c.npz", *extra)
    assert_same_model(model, c_model)


def test_npy_in_place_copies_no_table(tmp_path, monkeypatch):
    """The table reaches the kernels as the read-only memory map itself."""
    X, y = make_table()
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    from fastlr import _stream

    seen = []
    real = _stream.TableInPlace.__init__

    def spy(self, table, y, features, **kwargs):
        real(self, table, y, features, **kwargs)
        seen.append(self.data.X)

    monkeypatch.setattr(_stream.TableInPlace, "__init__", spy)
    assert cli.main(["train", str(tmp_path / "t.npy"), "--epochs", "2", "-q",
                     "--solver", "sgd"]) == 0
    (X_used,) = seen
    assert isinstance(X_used, np.memmap) or isinstance(X_used.base, np.memmap)
    assert not X_used.flags.writeable and not X_used.flags.owndata


# --------------------------------------------------------------------------
# several chunks: close to the whole read


@pytest.mark.parametrize("kind", ["csv", "svm", "npy"])
def test_chunks_are_close_to_the_whole_read(files, tmp_path, capsys, kind):
    """Averaged SGD (the last iterate of constant-step SGD on the
    uncentered svmlight features swings with the last rows it saw, which
    differ between the two orders; the average does not)."""
    X, y = files["X"], files["y"]
    args = ["--epochs", 40, "--tol", "none", "--lr", "0.05", "--average"]
    _, w = train(capsys, files[kind], tmp_path / "w.npz", "--chunk-rows", 0, *args)
    part, p = train(capsys, files[kind], tmp_path / "p.npz", "--chunk-rows", 700,
                    *args)
    assert part["reading"].startswith("in 5 chunks of at most 700 rows")
    assert part["rows"] == f"{X.shape[0]:,}"
    # the first pass: the statistics of every row, as fit computes them
    np.testing.assert_allclose(p.training_state_.mean, w.training_state_.mean,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p.training_state_.scale, w.training_state_.scale,
                               rtol=1e-12)
    want = log_loss(y, w.predict_proba(X))
    got = log_loss(y, p.predict_proba(X))
    assert abs(got - want) <= 0.01 * want
    assert p.loss_curve_.shape == (40,)


def test_text_labels_and_three_classes_in_chunks(tmp_path, capsys):
    X, y = make_table(classes=3, seed=2)
    labels = np.array(["ant", "bee", "cat"])[y]
    with open(tmp_path / "t.csv", "w") as f:
        f.write("a,b,c,d,kind\n")
        for row, label in zip(X.tolist(), labels.tolist(), strict=True):
            f.write(",".join(map(repr, row)) + f",{label}\n")
    args = ["--target", "kind", "--epochs", 30, "--tol", "none"]
    _, w = train(capsys, tmp_path / "t.csv", tmp_path / "w.npz", "--chunk-rows", 0,
                 *args)
    part, p = train(capsys, tmp_path / "t.csv", tmp_path / "p.npz", "--chunk-rows",
                    500, *args)
    assert part["classes"].startswith("ant, bee, cat (3 classes")
    assert p.classes_.tolist() == ["ant", "bee", "cat"]
    assert list(p.feature_names_in_) == ["a", "b", "c", "d"]
    want = log_loss(labels, w.predict_proba(X), labels=w.classes_)
    assert abs(log_loss(labels, p.predict_proba(X), labels=p.classes_) - want) \
        <= 0.01 * want


def test_csv_labels_are_typed_over_the_whole_file_in_chunks(tmp_path, capsys):
    """Each chunk typed its CSV labels by itself: with the labels '1', '2'
    and 'other' in a file sorted by class, a chunk of only '1' and '2'
    was numbers and one holding 'other' text, and training in chunks (as
    a file above a quarter of memory is, by itself) was refused with 'read
    the file whole', where the classes were '1', '2' and 'other'. The
    first pass now types them over the whole file, as the whole read does
    (and '1' and '1.0', all numbers, are one class there, 1)."""
    X, y = make_table(m=300, classes=3, seed=4)
    order = np.argsort(y, kind="stable")   # rows grouped by class
    X, y = X[order], y[order]
    path = tmp_path / "sorted.csv"
    for names, classes in [(["1", "2", "other"], ["1", "2", "other"]),
                           (["10", "1_0", "2"], ["10", "1_0", "2"]),
                           (["1", "1.0", "2"], [1, 2])]:
        with open(path, "w") as f:
            f.write("a,b,c,d,label\n")
            for row, label in zip(X.tolist(), np.array(names)[y], strict=True):
                f.write(",".join(map(repr, row)) + f",{label}\n")
        _, whole = train(capsys, path, tmp_path / "w.npz", "--chunk-rows", 0)
        assert whole.classes_.tolist() == classes
        _, one = train(capsys, path, tmp_path / "1.npz", "--chunk-rows", 300)
        assert_same_model(one, whole)
        part, parts = train(capsys, path, tmp_path / "p.npz", "--chunk-rows", 40)
        assert part["reading"].startswith("in 8 chunks")
        np.testing.assert_array_equal(parts.classes_, whole.classes_)


def _rewrite_after_first_pass(monkeypatch, rewrite):
    """Make ``rewrite()`` replace the data file once the first pass over
    it (fastlr.io.iter_chunks, read once per pass) has ended."""
    from fastlr import io as fio

    original = fio.iter_chunks
    passes = [0]

    def rewriting(*args, **kwargs):
        yield from original(*args, **kwargs)
        passes[0] += 1
        if passes[0] == 1:
            rewrite()

    monkeypatch.setattr(fio, "iter_chunks", rewriting)


def test_labels_turned_text_between_passes_are_named_by_a_text_label(
        tmp_path, capsys, monkeypatch):
    """A file whose labels turn text after the first pass (numbers in part
    1, '2' and 'x' in part 2) was named by the first label of part 2, '2'
    (the text of a number, as if it were one), and 'read the file whole'
    was advised; the first pass types the labels over the file, so only a
    file changed since can hold both."""

    path = tmp_path / "live.csv"

    def write(labels):
        rows = [f"{j % 7},{j % 5},{t}" for j, t in enumerate(labels)]
        path.write_text("a,b,label\n" + "\n".join(rows) + "\n")

    write([0, 1, 2] * 50)
    # (a change the file's identity cannot show: the parts are checked)
    monkeypatch.setattr("fastlr._stream._identity", lambda path: "same")
    _rewrite_after_first_pass(monkeypatch,
                              lambda: write([0, 1, 2] * 20 + ["2", "x"] * 45))
    code = cli.main(["train", str(path), "--chunk-rows", "50", "--solver", "sgd",
                     "--class-weight", "balanced", "--model", str(tmp_path / "m.npz"),
                     "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "part 1 has 0, part 2 has 'x'" in err and "train again" in err, err


def test_chunked_model_predicts_from_the_cli(files, tmp_path, capsys):
    """The model file of a streamed run is a model like any other."""
    train(capsys, files["csv"], tmp_path / "p.npz", "--chunk-rows", 1000)
    code = cli.main(["evaluate", "--model", str(tmp_path / "p.npz"),
                     str(files["csv"])])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"^accuracy:\s+0\.\d+", out, flags=re.M)


def test_warm_start_in_chunks_continues_the_model(files, tmp_path, capsys):
    _, first = train(capsys, files["csv"], tmp_path / "a.npz", "--chunk-rows", 1000)
    part, more = train(capsys, files["csv"], tmp_path / "b.npz", "--chunk-rows",
                       1000, "--warm-start", tmp_path / "a.npz")
    assert part["warm start"].startswith("from ")
    # the same rows, the same statistics; training went on
    np.testing.assert_array_equal(more.training_state_.mean,
                                  first.training_state_.mean)
    assert not np.allclose(more.coef_, first.coef_, rtol=1e-6)


# --------------------------------------------------------------------------
# choosing to stream


def test_files_above_the_threshold_stream_by_themselves(files, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setattr(cli, "stream_threshold", lambda: 1000)
    part, _ = train(capsys, files["csv"], tmp_path / "p.npz")
    assert part["reading"].startswith("in 1 chunk of at most")
    part, _ = train(capsys, files["svm"], tmp_path / "p.npz")
    assert part["reading"].startswith("in 1 chunk of at most")
    # --chunk-rows 0 reads the file whole anyway
    whole, _ = train(capsys, files["csv"], tmp_path / "w.npz", "--chunk-rows", 0)
    assert "reading" not in whole
    # a held-out split cannot be streamed, nor taken from a table in place
    # (an .npy was read whole whatever its size): refused, naming the way out
    for kind in ("csv", "npy"):
        for split in (["--validation-fraction", "0.2"], ["--early-stopping"]):
            code = cli.main(["train", str(files[kind]), *split])
            _, err = capsys.readouterr()
            assert code == 1
            assert err.startswith("fastlr: error: ") and "--chunk-rows 0" in err
            assert f"which {split[0]} cannot do" in err, err


def test_files_below_the_threshold_are_read_whole(files, tmp_path, capsys):
    whole, _ = train(capsys, files["csv"], tmp_path / "w.npz")
    assert "reading" not in whole


@pytest.mark.parametrize("argv, words", [
    (["--chunk-rows", "-1"], ["--chunk-rows"]),
    (["--chunk-rows", "ten"], ["--chunk-rows"]),
    (["--chunk-rows", "100", "--early-stopping"], ["--chunk-rows", "--early-stopping"]),
    (["--chunk-rows", "100", "--validation-fraction", "0.2"],
     ["--chunk-rows", "--validation-fraction"]),
], ids=["negative", "text", "early_stopping", "validation_fraction"])
def test_bad_chunk_settings_are_one_clear_error(files, tmp_path, capsys, argv,
                                                words):
    model = tmp_path / "m.npz"
    try:
        code = cli.main(["train", str(files["csv"]), "--model", str(model), *argv])
    except SystemExit as exc:   # argparse's usage errors exit 2
        code = exc.code
    _, err = capsys.readouterr()
    assert code == (2 if argv[1] in ("-1", "ten") else 1)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    for word in words:
        assert word in last, last
    assert not model.exists()


@pytest.mark.parametrize("trained, words", [
    (["--solver", "lbfgs"], "--solver lbfgs (the --warm-start model's"),
    (["--early-stopping"], "--early-stopping (the --warm-start model's"),
], ids=["lbfgs", "early_stopping"])
def test_a_warm_start_models_option_refused_in_parts_is_said_to_be_the_models(
        files, tmp_path, capsys, trained, words):
    """A --warm-start model's solver or early stopping, which reading in parts
    cannot do: the refusal says the option is the model's (the user typed
    none) and names the way out."""
    model = tmp_path / "m.npz"
    assert cli.main(["train", str(files["csv"]), "--model", str(model), "--quiet",
                     *trained]) == 0
    capsys.readouterr()
    code = cli.main(["train", str(files["csv"]), "--warm-start", str(model),
                     "--chunk-rows", "500", "--quiet"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and words in last, last
    assert "--chunk-rows 0" in last


def test_warm_start_in_parts_takes_a_csvs_columns_by_name(files, tmp_path, capsys):
    """A CSV whose columns come in another order continues a model read in
    parts as read whole: by name (it was refused); a model's column missing
    from the file is refused as a whole read refuses it."""
    _, first = train(capsys, files["csv"], tmp_path / "m.npz")
    lines = files["csv"].read_text().splitlines()
    order = [2, 0, 3, 1, 4]
    shuffled = tmp_path / "cols.csv"
    shuffled.write_text("\n".join(",".join(line.split(",")[j] for j in order)
                                  for line in lines) + "\n")
    assert shuffled.read_text().startswith("f2,f0,f3,f1,label\n")
    opts = ("--warm-start", tmp_path / "m.npz", "--chunk-rows", 500)
    _, same = train(capsys, files["csv"], tmp_path / "a.npz", *opts)
    _, other = train(capsys, shuffled, tmp_path / "b.npz", *opts)
    np.testing.assert_array_equal(other.coef_, same.coef_)
    np.testing.assert_array_equal(other.intercept_, same.intercept_)
    assert list(other.feature_names_in_) == list(first.feature_names_in_)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(shuffled.read_text().replace("f1", "g1", 1))
    for rows in ("0", "500"):
        code = cli.main(["train", str(renamed), "--warm-start", str(tmp_path / "m.npz"),
                         "--chunk-rows", rows, "--quiet"])
        err = capsys.readouterr().err
        assert code == 1 and "the model's feature columns f1 are missing" in err, err


@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_a_single_class_read_in_parts_names_the_label_column(tmp_path, capsys, kind):
    """One class in the file: the error names the file's label column, as a
    whole read does, not the Python argument y."""
    X, y = make_table()
    paths = write_files(tmp_path, X, np.ones_like(y))
    code = cli.main(["train", str(paths[kind]), "--chunk-rows", "500", "--quiet"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    where = "column 'label'" if kind == "csv" else "column 4"
    assert code == 1 and f"t.{kind} ({where}) contains only one class (1)" in last, \
        last


def test_labels_grouped_in_the_file_are_warned_of_in_parts(files, tmp_path, capsys):
    """Parts are visited in file order, rows shuffled within each: a file
    sorted by label trains a model that follows each part's classes. The
    first pass sees it and says so, naming the part; a file in random order
    (the fixture's) says nothing, whatever the part size."""
    X, y = make_table()
    order = np.argsort(y, kind="stable")
    paths = write_files(tmp_path, X[order], y[order])

    def warned(path, rows):
        code = cli.main(["train", str(path), "--chunk-rows", str(rows), "--solver",
                         "sgd", "--epochs", "1", "--quiet"])
        err = capsys.readouterr().err
        assert code == 0, err
        return [line for line in err.splitlines() if "grouped" in line]

    said = warned(paths["csv"], 500)
    assert len(said) == 1 and "part 1 of 6 holds 100% of class 0, the file 50%" in \
        said[0], said
    assert "shuffle the file's rows first" in said[0]
    for rows in (10, 100, 1000):
        assert warned(files["csv"], rows) == []
    assert warned(paths["csv"], 3000) == []   # one part: the whole read


def test_npz_cannot_be_chunked(tmp_path, capsys):
    X, y = make_table()
    np.savez(tmp_path / "t.npz", X=X, y=y)
    code = cli.main(["train", str(tmp_path / "t.npz"), "--chunk-rows", "100"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("fastlr: error: --chunk-rows") and ".npz" in err


def test_a_bad_line_deep_in_a_chunked_file_is_named(files, tmp_path, capsys):
    text = files["csv"].read_text().splitlines()
    text[2501] = text[2501].replace(",", ",oops", 1)
    (tmp_path / "bad.csv").write_text("\n".join(text) + "\n")
    model = tmp_path / "m.npz"
    code = cli.main(["train", str(tmp_path / "bad.csv"), "--chunk-rows", "1000",
                     "--model", str(model)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "line 2502" in err and "bad.csv" in err
    assert not model.exists()


@pytest.mark.parametrize("chunk_rows", ["0", "2"], ids=["whole", "chunks"])
def test_a_digit_group_is_not_a_number_however_the_file_is_read(tmp_path, capsys,
                                                                chunk_rows):
    """A feature written '1_5' (PEP 515's digit groups, which float()
    takes) was trained on as 15, read whole (np.loadtxt refused it, the
    exact reader did not) or in chunks."""
    path = tmp_path / "u.csv"
    path.write_text("a,b,label\n4,2,0\n3,4,1\n1_5,6,0\n7,8,1\n")
    model = tmp_path / "m.npz"
    code = cli.main(["train", str(path), "--chunk-rows", chunk_rows, "--solver",
                     "sgd", "--model", str(model)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "u.csv, line 4: column 'a': '1_5' is not a number" in err
    assert not model.exists()


def test_pandas_column_numbers_are_a_header_with_target_whole_or_in_chunks(
        tmp_path, capsys):
    """The header 0,1,...,k-1 that pd.DataFrame(array).to_csv(index=False)
    writes was refused by train ('the first line looks like data'),
    whatever --target said. Named by --target, it is a header, read whole
    or in chunks, and predict finds the model's features (0, 1, ...) by
    name; unnamed, the refusal says what to pass."""
    X, y = make_table(m=200, n=3)
    path = tmp_path / "frame.csv"
    with open(path, "w") as f:
        f.write("0,1,2,3\n")
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            f.write(",".join(map(repr, row)) + f",{label}\n")
    code = cli.main(["train", str(path), "--model", str(tmp_path / "m.npz")])
    _, err = capsys.readouterr()
    assert code == 1 and "line 1: the first line looks like data" in err
    assert "--target 3" in err
    _, whole = train(capsys, path, tmp_path / "w.npz", "--target", "3",
                     "--chunk-rows", 0)
    _, one = train(capsys, path, tmp_path / "1.npz", "--target", "3",
                   "--chunk-rows", 200)
    assert_same_model(one, whole)
    assert list(whole.feature_names_in_) == ["0", "1", "2"]
    code = cli.main(["predict", "--model", str(tmp_path / "w.npz"), str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[1:] == [str(v) for v in whole.predict(X).tolist()]


# --------------------------------------------------------------------------
# memory


PEAK = textwrap.dedent("""
    import sys, tracemalloc
    from fastlr import cli
    warm, argv = sys.argv[1], sys.argv[2:]
    # load the compiled kernels (and everything else imported once) first
    assert cli.main(["train", warm, "--epochs", "1", "-q"] + argv[2:]) == 0
    tracemalloc.start()
    code = cli.main(argv + ["--epochs", "1", "-q"])
    print(code, tracemalloc.get_traced_memory()[1])
""")


def traced_peak(warm, *argv):
    """Peak bytes NumPy and Python allocate in ``fastlr train ARGV`` (a
    fresh process, after a run on the small file ``warm``; memory-mapped
    pages are the operating system's, not counted)."""
    res = subprocess.run([sys.executable, "-c", PEAK, str(warm), "train",
                          *map(str, argv)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    code, peak = res.stdout.split()[-2:]
    assert code == "0", res.stdout
    return int(peak)


@pytest.mark.slow
def test_csv_memory_is_bounded_by_the_chunk_not_the_file(tmp_path):
    """Read whole, training a CSV allocates more than its values; in chunks
    of 500 rows, as much for a file five times as large: the memory is that
    of a chunk, the model and the class counts, whatever the file's size."""
    n = 10
    paths = {}
    for m in (4_000, 20_000):
        (tmp_path / str(m)).mkdir()
        X, y = make_table(m=m, n=n, seed=4)
        paths[m] = write_files(tmp_path / str(m), X, y)["csv"]
    warm = paths[4_000]
    values = 20_000 * (n + 1) * 8   # the large table as float64
    small = traced_peak(warm, paths[4_000], "--chunk-rows", 500)
    large = traced_peak(warm, paths[20_000], "--chunk-rows", 500)
    whole = traced_peak(warm, paths[20_000], "--chunk-rows", 0)
    assert whole > values, (whole, values)    # the test can tell a whole read
    assert large < small + 0.1 * values, (small, large, values)


@pytest.mark.slow
def test_npy_in_place_allocates_the_labels_not_the_table(tmp_path):
    """A 32 MB .npy table trained on in place: what is allocated is the
    label column and its codes (a few arrays of m values), never a copy of
    the table or of its feature columns."""
    m, n = 200_000, 20
    rng = np.random.default_rng(5)
    T = rng.normal(size=(m, n + 1))
    T[:, -1] = T[:, 0] + rng.logistic(size=m) > 0
    np.save(tmp_path / "t.npy", T)
    np.save(tmp_path / "warm.npy", T[:1000])
    peak = traced_peak(tmp_path / "warm.npy", tmp_path / "t.npy", "--solver", "sgd")
    assert peak < 6 * m * 8, (peak, T.nbytes)
    assert peak < 0.25 * T.nbytes


# --------------------------------------------------------------------------
# README


def readme_block(title):
    """The ```bash blocks of README's section ``title``, in order."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split(f"### {title}\n", 1)[1].split("\n#", 1)[0]
    return "".join(block.split("```", 1)[0]
                   for block in section.split("```bash\n")[1:])


def test_readme_larger_than_memory_commands_work(tmp_path):
    script = readme_block("Training on a file larger than memory")
    assert "--chunk-rows" in script
    res = subprocess.run(["bash", "-euo", "pipefail", "-c",
                          script.replace("python ", f"{sys.executable} ")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("reading:") == 3
    assert res.stdout.count("memory-mapped and trained on in place") == 2
    assert re.search(r"reading:\s+in \d+ chunks of at most 20,000 rows", res.stdout)
    # convert's table holds the CSV's rows
    assert "written: big-table.npy: 50,000 x 9 float64" in res.stdout
    table = np.load(tmp_path / "big-table.npy")
    np.testing.assert_array_equal(table, np.loadtxt(tmp_path / "big.csv",
                                                    delimiter=",", skiprows=1))
    for name in ("big.npy", "big.csv", "big-npy.npz", "big-csv.npz", "big-table.npz"):
        assert (tmp_path / name).exists(), name
    # predict and evaluate, in parts
    assert "wrote 50,000 predictions to big-predictions.csv" in res.stderr
    assert len((tmp_path / "big-predictions.csv").read_text().splitlines()) == 50_001
    assert re.search(r"^accuracy:\s+0\.\d+", res.stdout, flags=re.M)


def test_warm_start_in_place_is_the_whole_read(files, tmp_path, capsys):
    """Continuing a model on an .npy table in place: the label column is
    put back into the model's state (weight 0, infinite scale) and taken
    out again, so the result is the whole read's."""
    train(capsys, files["npy"], tmp_path / "a.npz")
    part, p = train(capsys, files["npy"], tmp_path / "p.npz", "--warm-start",
                    tmp_path / "a.npz")
    _, w = train(capsys, files["npy"], tmp_path / "w.npz", "--chunk-rows", 0,
                 "--warm-start", tmp_path / "a.npz")
    assert part["reading"].startswith("memory-mapped")
    assert_same_model(p, w)
    np.testing.assert_array_equal(p.training_state_.scale, w.training_state_.scale)


@pytest.mark.parametrize("fmt", ["csv", "npy"])
def test_warm_start_in_parts_standardizes_the_new_file(files, tmp_path, capsys, fmt):
    """A warm start on a file whose columns moved standardizes it as a new
    model is (it kept the model's standardization, skipping the
    statistics), read in parts as read whole: one chunk of the CSV, the
    .npy table memory-mapped in place (its label column put back into the
    model's state at infinite scale)."""
    train(capsys, files[fmt], tmp_path / "a.npz")
    X2 = files["X"] * np.array([1.5, 0.8, 1.0, 2.0]) + np.array([1.0, -2.0, 0.5, 3.0])
    new = write_files(tmp_path, X2, files["y"])[fmt]
    part, p = train(capsys, new, tmp_path / "p.npz", "--warm-start", tmp_path / "a.npz",
                    *(["--chunk-rows", 10**6] if fmt == "csv" else []))
    _, w = train(capsys, new, tmp_path / "w.npz", "--chunk-rows", 0,
                 "--warm-start", tmp_path / "a.npz")
    assert part["reading"].startswith(("in 1 chunk", "memory-mapped"))
    want = fastlr.reference.column_stats(X2)
    for got in (p, w):
        np.testing.assert_allclose(got.training_state_.mean, want[0], rtol=1e-12)
        np.testing.assert_allclose(got.training_state_.scale, want[1], rtol=1e-10)
    assert_same_model(p, w)


@pytest.mark.parametrize("weights", [("--class-weight", "1:5"),
                                     ("--class-weight", "balanced")],
                         ids=["pairs", "balanced"])
@pytest.mark.parametrize("kind", ["csv", "svm", "npy"])
def test_class_weights_in_one_chunk_are_the_whole_read(files, tmp_path, capsys, kind,
                                                       weights):
    """--class-weight on a file read in parts: LABEL:W pairs were refused
    there ('class_weight must be a dict'), and the column statistics were
    not weighted by class as fit's are, so one chunk (or an .npy in place)
    was not fit's model. A second pass weighs them."""
    idx = {"csv": 0, "svm": 1, "npy": 2}[kind]
    y = files["y"]
    skewed = tmp_path / f"skewed_{kind}"
    skewed.mkdir()
    keep = (y == 0) | (np.arange(y.shape[0]) % 4 == 0)   # classes 3:1 or so
    path = list(write_files(skewed, files["X"][keep], y[keep]).values())[idx]
    # (standardized: the default trains the sparse svmlight file as it is)
    weights = (*weights, "--standardize", "yes")
    whole, w = train(capsys, path, tmp_path / "w.npz", "--chunk-rows", 0, *weights)
    part, p = train(capsys, path, tmp_path / "p.npz", *weights,
                    *(() if kind == "npy" else ("--chunk-rows", 10**6)))
    assert "reading" not in whole
    assert ("in place" if kind == "npy" else "weighted by class in a second") \
        in part["reading"]
    assert_same_model(p, w)
    np.testing.assert_allclose(p.training_state_.mean, w.training_state_.mean, **TOL)
    np.testing.assert_allclose(p.training_state_.scale, w.training_state_.scale,
                               **TOL)


@pytest.mark.parametrize("chunk_rows", [0, 1000], ids=["whole", "parts"])
def test_class_weights_scale_warns_read_whole_or_in_parts(files, tmp_path, capsys,
                                                          chunk_rows):
    """SGD's steps scale with the row weights: fit warns of a mean outside
    [1/16, 16], and so does training on a file read in parts (its rows'
    weights are their classes'), once; balanced weights (mean 1) do not."""
    for weights, warns in [("0:0.01,1:0.01", True), ("balanced", False)]:
        argv = ["train", str(files["csv"]), "--model", str(tmp_path / "m.npz"),
                "--epochs", "2", "--quiet", "--solver", "sgd", "--chunk-rows",
                str(chunk_rows), "--class-weight", weights]
        assert cli.main(argv) == 0
        err = capsys.readouterr().err
        got = re.findall(r"^fastlr: warning: --class-weight has mean (\S+) ", err,
                         flags=re.M)
        assert got == (["0.01"] if warns else []), err
        # the solver the warning names needs the file read whole
        assert not warns or ("on the file read whole (--chunk-rows 0), --solver "
                             "auto (the default) or lbfgs" in err) == (chunk_rows > 0)


@pytest.mark.parametrize("change, words", [
    ("wider", "a part has 6 columns, the first pass found 3"),
    ("narrower", "a part has 2 columns, the first pass found 3"),
    ("new_label", "a part holds the label 9, which the first pass did not find"),
    ("weighted", "the file changed between the first two passes")])
def test_a_file_that_changes_between_passes_is_refused(tmp_path, capsys, monkeypatch,
                                                       change, words):
    """Each epoch reads the file again: one replaced after the first pass
    (a writer, an mv) trained silently on other columns, or coded an unseen
    label past the model's classes (kernels without bounds checks: garbage
    weights, a negative loss, exit 0). Every pass now checks its columns
    and labels against the first; no model file is written."""

    rng = np.random.default_rng(0)
    path = tmp_path / "live.csv"

    def write(ncol, labels=(0, 1, 2), nrows=200):
        X = rng.normal(size=(nrows, ncol))
        y = np.array(labels)[rng.integers(0, len(labels), nrows)]
        lines = [",".join([f"f{j}" for j in range(ncol)] + ["label"])]
        lines += [",".join(map(str, r)) + f",{t}" for r, t in zip(X, y, strict=True)]
        path.write_text("\n".join(lines) + "\n")

    write(3)
    # what the file's identity cannot show (a rewrite of the same size and
    # time): the parts themselves are checked
    monkeypatch.setattr("fastlr._stream._identity", lambda path: "same")
    _rewrite_after_first_pass(monkeypatch, {
        "wider": lambda: write(6), "narrower": lambda: write(2),
        "new_label": lambda: write(3, labels=(0, 1, 2, 9)),
        "weighted": lambda: write(3, labels=(0, 1))}[change])
    model = tmp_path / "m.npz"
    extra = ["--class-weight", "balanced"] if change == "weighted" else []
    code = cli.main(["train", str(path), "--chunk-rows", "50", "--solver", "sgd",
                     "--epochs", "3", "--model", str(model), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 1, err
    assert words in err and "train again" in err, err
    assert not model.exists()


@pytest.mark.parametrize("change", ["truncated", "extended", "replaced", "during",
                                    "cut_during"])
def test_a_file_changed_between_passes_is_refused_by_its_identity(
        tmp_path, capsys, monkeypatch, change):
    """A file read in parts is opened again by every pass; cut to half,
    appended to, or replaced (mv) by one with its labels swapped after the
    first pass, it was trained on with exit 0 (a summary of the first file's
    rows, a model predicting the opposite class). Its device, inode, size
    and modification time are now checked as every pass starts and ends,
    and when reading fails during one: cut mid-line while the first pass
    read it, it failed where the reader met the cut ("line 1501: expected 4
    fields (as in the header), got 1", a bad line the file never held);
    that error now follows the refusal."""
    rng = np.random.default_rng(0)
    path = tmp_path / "live.csv"
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] > 0).astype(int)

    def lines(labels):
        return ["a,b,c,label"] + [",".join(map(str, r)) + f",{t}"
                                  for r, t in zip(X, labels, strict=True)]

    path.write_text("\n".join(lines(y)) + "\n")

    def truncated():
        path.write_text("\n".join(lines(y)[:101]) + "\n")

    def extended():
        with open(path, "a") as f:
            f.write("\n".join(lines(y)[1:51]) + "\n")

    def replaced():
        other = tmp_path / "new.csv"
        other.write_text("\n".join(lines(1 - y)) + "\n")   # the same size
        os.replace(other, path)

    from fastlr import io as fio

    def cut():   # within a line past the middle
        text = path.read_text()
        os.truncate(path, text.index("\n", len(text) // 2) + 8)

    if change in ("during", "cut_during"):   # while the first pass reads the file
        original = fio.iter_chunks

        def changing(*args, **kwargs):
            for i, chunk in enumerate(original(*args, **kwargs)):
                if i == 1:
                    (replaced if change == "during" else cut)()
                yield chunk

        monkeypatch.setattr(fio, "iter_chunks", changing)
    else:
        _rewrite_after_first_pass(monkeypatch, {
            "truncated": truncated, "extended": extended,
            "replaced": replaced}[change])
    model = tmp_path / "m.npz"
    code = cli.main(["train", str(path), "--chunk-rows", "50", "--solver", "sgd",
                     "--epochs", "3", "--tol", "none", "--model", str(model),
                     "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    refusal = (f"fastlr: error: {path}: the file changed while training (it "
               "was replaced, or its size or modification time differ from "
               "the first pass's); train again")
    if change == "cut_during":
        assert err.startswith(f"{refusal}; reading it then failed: {path}, line "), err
        assert err.endswith("expected 4 fields (as in the header), got 1\n"), err
    else:
        assert err == refusal + "\n"
    assert not model.exists()


@pytest.mark.parametrize("label_first", [False, True], ids=["label_last", "label_first"])
@pytest.mark.parametrize("chunk_rows", [None, "0", "5"], ids=["in_place", "whole",
                                                              "chunks"])
def test_a_nan_in_an_npy_is_named_alike_however_it_is_read(tmp_path, capsys,
                                                          chunk_rows, label_first):
    """The same cell, named by file, 1-based row and feature number on every
    reading path (in place it was 'X contains NaN or infinity (first at row
    3, column 1)': no file, 0-based), and by its column index in the table
    when that is not the feature's (the label first: 'feature 2' was column
    index 2, which --target and --drop count)."""
    X = np.random.default_rng(0).normal(size=(10, 2))
    X[3, 1] = np.nan
    path = tmp_path / "nanx.npy"
    y = np.arange(10) % 2
    np.save(path, np.column_stack([y, X] if label_first else [X, y]))
    extra = ["--solver", "sgd"] if chunk_rows is None else ["--chunk-rows", chunk_rows]
    extra += ["--target", "0"] if label_first else []
    code = cli.main(["train", str(path), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 1
    where = " (column index 2 of the table)" if label_first else ""
    assert f"fastlr: error: {path}: row 4, feature 2{where} is nan" in err, err


def test_svmlight_warm_start_in_parts_keeps_the_model_index_base(tmp_path, capsys):
    """A model trained on a 0-based svmlight file, continued on a file
    whose rows happen to hold no index 0: a whole read takes the model's
    base (index j is feature j); in parts the base was found again from
    the new file (1-based), so the widths disagreed and the run was
    refused. Both reads now agree, with one chunk equal to the whole
    read; and a model's width is kept when the new file's largest index
    is smaller."""
    X, y = make_table(m=400, n=4)
    with open(tmp_path / "zero.svm", "w") as f:
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            f.write(f"{label} " + " ".join(f"{j}:{v!r}" for j, v in
                                           enumerate(row)) + "\n")
    X2 = X.copy()
    X2[:, 0] = 0.0
    X2[:, 3] = 0.0
    with open(tmp_path / "next.svm", "w") as f:   # indices 1 and 2 only
        for row, label in zip(X2.tolist(), y.tolist(), strict=True):
            f.write(f"{label} " + " ".join(f"{j}:{v!r}" for j, v in
                                           enumerate(row) if v) + "\n")
    train(capsys, tmp_path / "zero.svm", tmp_path / "a.npz")
    _, whole = train(capsys, tmp_path / "next.svm", tmp_path / "w.npz",
                     "--chunk-rows", 0, "--warm-start", tmp_path / "a.npz")
    part, parts = train(capsys, tmp_path / "next.svm", tmp_path / "p.npz",
                        "--chunk-rows", 1000, "--warm-start", tmp_path / "a.npz")
    assert part["reading"].startswith("in 1 chunk"), part["reading"]
    assert parts.n_features_in_ == whole.n_features_in_ == 4
    assert_same_model(parts, whole)


def test_warm_start_in_parts_on_rows_scored_badly_is_not_divergence(tmp_path, capsys):
    """A model continued in parts, with a negligible step, on a file it
    scores badly (drifted rows: a mean loss far above 1000 log 2 before
    any step) raised DivergedError: each part, and the pass, were judged
    by the absolute bound alone. Both are now judged against the starting
    model's loss, as fit and partial_fit are."""
    X, y = make_table(m=400, n=3)
    write_files(tmp_path, X, y)
    train(capsys, tmp_path / "t.csv", tmp_path / "a.npz")
    rng = np.random.default_rng(1)
    drifted = tmp_path / "drift"
    drifted.mkdir()
    X2 = X.copy()
    X2[:, 0] += 1e5
    write_files(drifted, X2, rng.integers(0, 2, 400))
    out, model = train(capsys, drifted / "t.csv", tmp_path / "b.npz", "--lr", "1e-300",
                       "--chunk-rows", 100, "--warm-start", tmp_path / "a.npz")
    assert out["reading"].startswith("in 4 chunks"), out["reading"]
    assert model.loss_curve_[-1] > 1000 * np.log(2)


# --------------------------------------------------------------------------
# predict and evaluate on a file read in parts


def cli_run(capsys, *argv):
    """``fastlr ARGV`` in process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Three classes of text labels with a text ID column (CSV), a float ID
    column (.npy) and svmlight; a model trained on each."""
    d = tmp_path_factory.mktemp("scored")
    X, y = make_table(m=2000, classes=3, seed=4)
    names = np.array(["ant", "bee", "cat"])[y]
    with open(d / "s.csv", "w") as f:
        f.write("key,f0,f1,f2,f3,label\n")
        for i, (row, label) in enumerate(zip(X.tolist(), names.tolist(),
                                             strict=True)):
            f.write(f"k{i:05d}," + ",".join(repr(v) for v in row) + f",{label}\n")
    np.save(d / "s.npy", np.column_stack([20240101.0 + np.arange(2000), X, y]))
    files = write_files(d, X, y)
    out = {"csv": (d / "s.csv", ["--id", "key"]),
           "npy": (d / "s.npy", ["--id", "0"]), "svm": (files["svm"], [])}
    for kind, (path, extra) in out.items():
        code = cli.main(["train", str(path), "--model", str(d / f"{kind}.npz"),
                         "--quiet", *extra])
        assert code == 0
    return {kind: (path, d / f"{kind}.npz") for kind, (path, _) in out.items()}


@pytest.mark.parametrize("command", [["predict"], ["predict", "--proba"],
                                     ["evaluate"]],
                         ids=["labels", "proba", "evaluate"])
@pytest.mark.parametrize("kind", ["csv", "npy", "svm"])
def test_predict_and_evaluate_in_parts_are_the_whole_read(scored, capsys, kind,
                                                          command):
    """Each part is predicted as the rows of the whole file are: the same
    bytes out, IDs (text, and whole-number floats as integers) included,
    and the same scores (evaluate keeps the labels and probabilities)."""
    path, model = scored[kind]
    whole = cli_run(capsys, *command, path, "--model", model, "--chunk-rows", 0)
    parts = cli_run(capsys, *command, path, "--model", model, "--chunk-rows", 333)
    assert whole[0] == 0, whole[2]
    assert parts == whole
    if command == ["predict"] and kind != "svm":
        lines = whole[1].splitlines()
        assert len(lines) == 2001
        assert lines[1].split(",")[0] == ("k00000" if kind == "csv" else "20240101")


@pytest.mark.parametrize("command", [["predict"], ["predict", "--proba"],
                                     ["evaluate"]],
                         ids=["labels", "proba", "evaluate"])
def test_predict_and_evaluate_read_a_float_npy_in_place(scored, capsys,
                                                        monkeypatch, command):
    """A float .npy table read whole for predict or evaluate: its feature
    columns (here 1-4 of 6) are predicted as the memory-mapped file's
    columns, not copied into the process's memory first (a 320 MB table
    took 340 MiB of anonymous memory more than read in parts)."""
    from fastlr import io as fio

    path, model = scored["npy"]
    copied = []
    real = fio._as_float_X
    monkeypatch.setattr(fio, "_as_float_X",
                        lambda *a, **k: copied.append(a[0]) or real(*a, **k))
    code, _, err = cli_run(capsys, *command, path, "--model", model,
                           "--chunk-rows", 0)
    assert code == 0, err
    assert copied == []


@pytest.fixture(scope="module")
def many_classes(tmp_path_factory):
    """A 300-class model of 4 features, a 20,000-row .npy table for it
    (label last) and the bytes of the table's (m, k) float64
    probabilities."""
    d = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(5)
    k, m = 300, 20_000
    centres = rng.normal(size=(k, 4)) * 3
    codes = np.arange(3 * k) % k
    clf = fastlr.LogisticRegression(max_iter=2, tol=None, random_state=0).fit(
        centres[codes] + rng.normal(size=(3 * k, 4)), codes)
    fastlr.save(clf, d / "m.npz")
    y = rng.integers(0, k, m)
    np.save(d / "t.npy", np.column_stack([centres[y] + rng.normal(size=(m, 4)), y]))
    return d / "t.npy", d / "m.npz", m * k * 8


@pytest.mark.parametrize("chunk_rows", [0, 3000])
def test_evaluate_keeps_one_copy_of_the_probabilities(many_classes, capsys,
                                                      chunk_rows):
    """evaluate of a 500-class model on 100,000 rows (381 MiB of
    probabilities) peaked at 2.6 GB read whole and 3.0 GB in parts: the
    labels predicted in a second pass, the parts' probabilities
    concatenated, scikit-learn's log_loss's one-hot and clipped copies."""
    import tracemalloc

    path, model, kept = many_classes
    tracemalloc.start()
    try:
        code, out, err = cli_run(capsys, "evaluate", path, "--model", model,
                                 "--target=-1", "--chunk-rows", chunk_rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0, err
    assert peak < 1.3 * kept, f"{peak / kept:.2f} times the probabilities"


def test_evaluate_scores_equal_scikit_learns(tmp_path):
    """The labels and probabilities are those of predict and predict_proba
    (one pass for both), and the log-loss and ROC AUC of the parts kept
    are scikit-learn's to rounding: float32 probabilities, tied scores, a
    class absent from the data, classes kept in any order."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(6)
    X = rng.normal(size=(600, 3))
    for k, dtype in [(2, np.float64), (5, np.float64), (5, np.float32)]:
        y = rng.integers(0, k, 600)
        clf = fastlr.LogisticRegression(max_iter=3, tol=None, random_state=0).fit(X, y)
        Xd = X.astype(dtype)
        for data in (Xd, sparse.csr_matrix(Xd)):
            pred, proba = cli._predicted(clf, data)
            np.testing.assert_array_equal(pred, clf.predict(data))
            np.testing.assert_array_equal(proba, clf.predict_proba(data))
            assert proba.dtype == clf.predict_proba(data).dtype
        if k > 2:
            y[y == k - 1] = 0   # (class k - 1: no rows)
        parts = [proba[:250], proba[250:251], proba[251:]]
        codes = cli._class_index(y, clf.classes_)
        assert cli._log_loss(parts, codes) == pytest.approx(
            log_loss(y, proba, labels=clf.classes_), rel=1e-6 if
            dtype == np.float32 else 1e-14)
        tied = [np.round(p, 1) for p in parts]
        for scores in (parts, tied):
            auc, how = cli._roc_auc(codes, scores, clf.classes_)
            whole = np.concatenate(scores)
            expect = roc_auc_score(y == 1, whole[:, 1]) if k == 2 else np.mean(
                [roc_auc_score(y == c, whole[:, c]) for c in range(k - 1)])
            assert auc == pytest.approx(expect, rel=1e-14)
            assert (how == "") == (k == 2)
            if k > 2:
                assert f"over {k - 1} classes; without {k - 1}: no rows" in how
    classes = np.array(["b", "c", "a"])
    np.testing.assert_array_equal(
        cli._class_index(np.array(["a", "b", "a", "c"]), classes), [2, 0, 2, 1])


def _parts_read(monkeypatch):
    """A list to which every read of DATA in parts adds its rows a part
    (:func:`fastlr.io.open_chunks`, which runs as usual)."""
    from fastlr import io

    read = []
    real = io.open_chunks

    def spy(*args, **kwargs):
        read.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(io, "open_chunks", spy)
    return read


def test_files_above_the_threshold_are_predicted_in_parts(scored, capsys,
                                                          monkeypatch):
    path, model = scored["csv"]
    whole = cli_run(capsys, "predict", path, "--model", model)
    read = _parts_read(monkeypatch)
    monkeypatch.setattr(cli, "stream_threshold", lambda: 1000)
    assert cli_run(capsys, "predict", path, "--model", model) == whole
    assert len(read) == 1 and read[0] >= 1000   # (_auto_chunk_rows' least)
    # --chunk-rows 0 reads the file whole anyway
    read.clear()
    assert cli_run(capsys, "predict", path, "--model", model, "--chunk-rows",
                   0) == whole
    assert not read


def test_a_bad_row_in_a_later_part_writes_no_predictions_file(scored, tmp_path,
                                                              capsys):
    path, model = scored["csv"]
    text = path.read_text().splitlines()
    text[1501] = text[1501].replace(",", ",oops", 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n")
    out = tmp_path / "p.csv"
    out.write_text("kept\n")
    code, _, err = cli_run(capsys, "predict", bad, "--model", model, "--out", out,
                           "--chunk-rows", 500)
    assert code == 1
    assert "bad.csv, line 1502" in err
    assert out.read_text() == "kept\n"   # written atomically, or not at all
    code, _, err = cli_run(capsys, "evaluate", bad, "--model", model,
                           "--chunk-rows", 500)
    assert code == 1 and "line 1502" in err


def test_evaluate_in_parts_refuses_a_label_of_a_later_part(scored, tmp_path, capsys):
    path, model = scored["csv"]
    text = path.read_text().splitlines()
    text[1800] = text[1800].rsplit(",", 1)[0] + ",dog"
    other = tmp_path / "other.csv"
    other.write_text("\n".join(text) + "\n")
    code, _, err = cli_run(capsys, "evaluate", other, "--model", model,
                           "--chunk-rows", 500)
    assert code == 1
    assert "labels the model was not trained on: dog" in err


def test_a_wider_svmlight_row_in_a_part_is_named_as_a_whole_read_names_it(
        scored, tmp_path, capsys):
    """A row wider than a model trained on an svmlight file has its entries
    beyond the model's width ignored, as LIBSVM ignores them (it was
    refused), with the same warning whole and in parts."""
    path, model = scored["svm"]
    text = path.read_text().splitlines()
    text[1200] += " 9:1.5"
    wide = tmp_path / "wide.svm"
    wide.write_text("\n".join(text) + "\n")
    whole = cli_run(capsys, "predict", wide, "--model", model, "--chunk-rows", 0)
    parts = cli_run(capsys, "predict", wide, "--model", model, "--out",
                    tmp_path / "p.csv", "--chunk-rows", 500)
    assert whole[0] == parts[0] == 0
    assert "ignored 1 entry in 1 row at feature indices beyond the model's 4 " \
        "features (this file has 9)" in whole[2]
    assert parts[2].startswith(whole[2])   # (then: "wrote 2,000 predictions")
    assert whole[2].count("\n") == 1
    assert (tmp_path / "p.csv").read_text() == whole[1]


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_npz_cannot_be_scored_in_parts(scored, tmp_path, capsys, command):
    X, y = make_table()
    np.savez(tmp_path / "t.npz", X=X, y=y)
    code, _, err = cli_run(capsys, command, tmp_path / "t.npz", "--model",
                           scored["svm"][1], "--chunk-rows", 100)
    assert code == 1
    assert err.startswith("fastlr: error: --chunk-rows") and ".npz" in err


def test_the_passes_that_are_not_epochs_count_their_rows(files, tmp_path, capsys):
    """A first pass over a large file takes as long as an epoch: it shows
    the rows read, as the epochs show their bar (--verbose 2: always; the
    default: on a terminal only; --quiet: never), and so does the accuracy
    pass at the end."""
    argv = ["train", str(files["csv"]), "--chunk-rows", "1000", "--solver", "sgd",
            "--epochs", "2", "--class-weight", "balanced", "--model",
            str(tmp_path / "m.npz")]
    assert cli.main([*argv, "--verbose", "2"]) == 0
    err = capsys.readouterr().err
    for desc in ("first pass", "class-weighted statistics", "accuracy"):
        assert re.search(desc + r": 3\.00k rows \[", err), (desc, err)
    assert cli.main([*argv, "--quiet"]) == 0
    assert "rows [" not in capsys.readouterr().err


def test_a_file_changed_while_predicted_in_parts_is_refused(scored, tmp_path,
                                                           capsys, monkeypatch):
    """Each reader of a file read in parts opens it again: rewritten after
    the first part, its later parts came from the new file, and predict
    and evaluate mixed two files' rows with exit status 0."""
    from fastlr import io

    path, model = scored["npy"]
    copy = tmp_path / "s.npy"
    copy.write_bytes(path.read_bytes())
    real = io.open_chunks

    def rewritten_after_the_first_part(*args, **kwargs):
        dataset, parts = real(*args, **kwargs)

        def changed():
            for i, part in enumerate(parts):
                yield part
                if i == 0:
                    table = np.load(copy)
                    np.save(copy, table[::-1])   # same size: a new mtime
                    st = os.stat(copy)
                    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        return dataset, changed()

    monkeypatch.setattr(io, "open_chunks", rewritten_after_the_first_part)
    out = tmp_path / "p.csv"
    for command in (["predict", "--out", out], ["evaluate"]):
        np.save(copy, np.load(path))
        code, _, err = cli_run(capsys, *command, copy, "--model", model,
                               "--chunk-rows", 500)
        assert code == 1
        assert "s.npy: the file changed while it was read" in err, err
    assert not out.exists()


def test_a_wide_file_is_predicted_in_parts_of_about_the_chunk_bytes(tmp_path,
                                                                   monkeypatch):
    """Training keeps 1,000 rows a chunk at least (it shuffles within a
    chunk); predict and evaluate need no such floor: 1,000 rows of a wide
    CSV held about 400 MB, not 64."""
    n = 4000
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"f{j}" for j in range(n)) + ",label\n" +
                    ",".join(["0.5"] * n) + ",1\n")
    monkeypatch.setattr(cli, "stream_threshold", lambda: 10)
    args = cli.build_parser().parse_args(["predict", str(path), "--model", "m"])
    rows = cli._scoring_parts(args, 2)
    assert rows == cli._CHUNK_BYTES // (100 * (n + 1) + 8 * 2)
    args = cli.build_parser().parse_args(["train", str(path)])
    assert cli._auto_chunk_rows(str(path), "csv", args) == 1000


def test_the_parts_make_room_for_the_values_predicted_a_row(many_classes,
                                                           capsys, monkeypatch):
    """A 500-class model's prediction holds 500 values of 8 bytes a row
    (its logits or probabilities): predict read any file under a quarter
    of memory whole, 800,000 rows of 21 columns (128 MiB) into 3 GiB of
    logits. The file and those values are weighed together, and a part
    holds about _CHUNK_BYTES of both."""
    path, model, kept = many_classes
    size = os.path.getsize(path)
    args = cli.build_parser().parse_args(["predict", str(path), "--model",
                                          str(model)])
    monkeypatch.setattr(cli, "stream_threshold", lambda: size + kept)
    assert cli._scoring_parts(args, 300) is None
    assert cli._scoring_parts(args, 2) is None
    monkeypatch.setattr(cli, "stream_threshold", lambda: size + kept - 1)
    assert cli._scoring_parts(args, 300) == cli._CHUNK_BYTES // (8 * 5 + 8 * 300)
    assert cli._scoring_parts(args, 2) is None
    # a text file's rows are estimated from its first lines
    text = path.with_suffix(".svm")
    with open(text, "w") as f:
        for row in np.load(path)[:5000]:
            f.write(f"{int(row[-1])} " + " ".join(f"{j + 1}:{v:.6f}" for j, v in
                                                  enumerate(row[:-1])) + "\n")
    assert cli._estimated_rows(str(text), "svmlight") == pytest.approx(5000, rel=0.01)
    whole = cli_run(capsys, "predict", "--target=-1", path, "--model", model,
                    "--chunk-rows", 0)
    assert whole[0] == 0, whole[2]
    read = _parts_read(monkeypatch)
    assert cli_run(capsys, "predict", "--target=-1", path, "--model", model) == whole
    assert read == [cli._CHUNK_BYTES // (8 * 5 + 8 * 300)]


@pytest.mark.parametrize("free, ram, budget", [
    (16 << 30, 24 << 30, 4 << 30),
    (40 << 30, 24 << 30, 6 << 30),      # (free swap counted in free)
    (1 << 30, 24 << 30, 256 << 20),     # (a container's limit, ulimit -v)
    (None, 24 << 30, 6 << 30),
    (None, None, 4 << 30),
], ids=["free", "swap", "limited", "ram_only", "unknown"])
def test_the_threshold_is_a_quarter_of_the_memory_available(monkeypatch, free,
                                                            ram, budget):
    """The commands read DATA in parts by themselves above a quarter of the
    memory this process may allocate (free memory, a container's limit,
    ulimit -v: available_memory), at most a quarter of the RAM: a quarter
    of the machine's RAM alone read a file whole into a container or under
    ulimit -v that could not hold it."""
    from fastlr import _validation

    def sysconf(name):
        if ram is None:
            raise ValueError(name)
        return {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": ram // 4096}[name]

    monkeypatch.setattr(_validation, "available_memory", lambda: free)
    monkeypatch.setattr(os, "sysconf", sysconf)
    assert cli.stream_threshold() == budget


def test_every_automatic_read_in_parts_weighs_the_memory_available(
        many_classes, files, tmp_path, capsys, monkeypatch):
    """With less memory available than the machine has (a container's
    limit; ulimit -v), predict, evaluate and train read in parts what it
    cannot hold whole: a 300-class prediction of 20,000 rows (46 MiB),
    a CSV file (train refuses --early-stopping there, naming the
    budget)."""
    from fastlr import _validation

    path, model, kept = many_classes
    size = os.path.getsize(path)
    whole = cli_run(capsys, "predict", "--target=-1", path, "--model", model)
    scores = cli_run(capsys, "evaluate", "--target=-1", path, "--model", model)
    assert whole[0] == scores[0] == 0
    monkeypatch.setattr(_validation, "available_memory",
                        lambda: 4 * (size + kept) - 4)
    read = _parts_read(monkeypatch)
    assert cli_run(capsys, "predict", "--target=-1", path, "--model", model) == whole
    assert cli_run(capsys, "evaluate", "--target=-1", path, "--model",
                   model) == scores
    assert read == 2 * [cli._CHUNK_BYTES // (8 * 5 + 8 * 300)]
    csv = files["csv"]
    monkeypatch.setattr(_validation, "available_memory",
                        lambda: 4 * os.path.getsize(csv) - 4)
    args = cli.build_parser().parse_args(["train", str(csv)])
    assert cli._how_to_read(args, {"early_stopping": False})[0] == "chunks"
    code, _, err = cli_run(capsys, "train", csv, "--early-stopping")
    assert code == 1
    assert err == (f"fastlr: error: {csv}: the file "
                   f"({cli._bytes(os.path.getsize(csv))}) is larger than a "
                   "quarter of the memory available (free memory, or less under "
                   "a container's memory limit or ulimit -v): "
                   f"{cli._bytes(os.path.getsize(csv) - 1)}, so fastlr train "
                   "reads it in parts, which --early-stopping cannot do (it "
                   "holds rows out in memory); pass --chunk-rows 0 to read the "
                   "file whole anyway\n")


_THRESHOLD_IN_A_BOX = """
import resource, sys
import fastlr.cli
from fastlr._validation import available_memory
with open("/proc/self/status") as f:
    used = next(int(line.split()[1]) * 1024 for line in f
                if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))
print(available_memory(), fastlr.cli.stream_threshold())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_AS and /proc")
def test_ulimit_v_bounds_the_threshold():
    """Under ulimit -v (RLIMIT_AS) an allocation beyond it fails with
    MemoryError: the memory available is the limit less the address space
    mapped already (here 1 GiB), and the threshold a quarter of that."""
    proc = subprocess.run([sys.executable, "-c", _THRESHOLD_IN_A_BOX],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    available, threshold = map(int, proc.stdout.split())
    assert 0.9 * (1 << 30) < available <= 1 << 30
    assert threshold == available // 4

@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_out_of_memory_while_predicting_names_the_values_a_row(
        many_classes, capsys, monkeypatch, command):
    """Out of memory while predicting for a 500-class model, the message
    spoke of the model's weights and svmlight feature indices; it names
    what takes the memory, and --chunk-rows for predict (evaluate keeps the
    probabilities of every row anyway)."""
    path, model, _ = many_classes

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 45.8 MiB")

    monkeypatch.setattr(fastlr.LogisticRegression, "decision_function", no_memory)
    monkeypatch.setattr(fastlr.LogisticRegression, "_decision", no_memory)
    code, out, err = cli_run(capsys, command, "--target=-1", path, "--model", model)
    assert code == 1 and out == ""
    said = ("fastlr: error: out of memory: Unable to allocate 45.8 MiB: predicting "
            "20,000 rows of a 300-class model (300 values of 8 bytes a row); ")
    assert err == said + (
        "evaluate keeps the 300 probabilities of every row, whether DATA is "
        "read whole or in parts: score a sample of its rows\n"
        if command == "evaluate" else
        f"pass --chunk-rows N to read and predict DATA N rows at a time "
        f"(--chunk-rows {cli._CHUNK_BYTES // (8 * 5 + 8 * 300)}: parts of about "
        "64 MB)\n")
    # refused before the allocation when more than the memory available
    monkeypatch.undo()

    def short(need, what):
        raise cli.NotEnoughMemory(f"{what} would need about {need / 2**20:.1f} MiB")

    monkeypatch.setattr(cli, "check_memory", short)
    code, _, err = cli_run(capsys, "predict", "--target=-1", path, "--model", model)
    assert code == 1
    assert err.startswith("fastlr: error: out of memory: predicting 20,000 rows of "
                          "a 300-class model (300 values of 8 bytes a row) would "
                          "need about 45.8 MiB; pass --chunk-rows N")
    # parts given too large: a smaller --chunk-rows, not the automatic one
    code, _, err = cli_run(capsys, "predict", "--target=-1", path, "--model", model,
                           "--chunk-rows", 5000)
    assert code == 1
    assert err.endswith("; pass a smaller --chunk-rows than 5,000 (parts of 5,000 "
                        "rows need 11.4 MiB for their values alone)\n"), err


def test_out_of_memory_on_a_fortran_table_says_how_to_read_it_in_parts(
        many_classes, tmp_path, capsys, monkeypatch):
    """A Fortran-ordered .npy table is read whole by default: out of memory
    while predicting, the hint says to pass --chunk-rows, which reads its
    parts a column at a time (it once refused them, and the hint said to
    save the table in C order first)."""
    path, model, _ = many_classes
    fortran = tmp_path / "f.npy"
    np.save(fortran, np.asfortranarray(np.load(path)))

    def short(need, what):
        raise cli.NotEnoughMemory(f"{what} would need about {need / 2**20:.1f} MiB")

    monkeypatch.setattr(cli, "check_memory", short)
    code, _, err = cli_run(capsys, "predict", "--target=-1", fortran, "--model", model)
    assert code == 1
    assert re.search(r"; pass --chunk-rows N to read and predict DATA N rows at "
                     r"a time \(--chunk-rows [\d,]+: parts of about \d+ MB\)\n$",
                     err), err
    code, _, err = cli_run(capsys, "predict", "--target=-1", fortran, "--model",
                           model, "--chunk-rows", 1000)   # (read in parts)
    assert code == 1 and "pass a smaller --chunk-rows than 1,000 (parts" in err


def test_a_fortran_table_is_predicted_in_parts_as_its_c_table(scored, tmp_path, capsys,
                                                              monkeypatch):
    """A Fortran-ordered .npy table above the memory budget is predicted in
    parts (read a column at a time), by default and with --chunk-rows, the
    same bytes as its C table read whole (it was once read whole whatever
    its size)."""
    path, model = scored["npy"]
    fortran = tmp_path / "f.npy"
    np.save(fortran, np.asfortranarray(np.load(path)))
    # read whole, it is copied to C order (prediction sums a row's terms in
    # another order on Fortran X: a view of it in place gave other last bits)
    assert cli_run(capsys, "predict", fortran, "--model", model, "--proba") == \
        cli_run(capsys, "predict", path, "--model", model, "--proba")
    whole = cli_run(capsys, "predict", path, "--model", model, "--chunk-rows", 0)
    read = _parts_read(monkeypatch)
    monkeypatch.setattr(cli, "stream_threshold", lambda: 10)
    assert cli_run(capsys, "predict", fortran, "--model", model) == whole
    assert len(read) == 1, read
    assert cli_run(capsys, "predict", fortran, "--model", model,
                   "--chunk-rows", 100) == \
        cli_run(capsys, "predict", path, "--model", model, "--chunk-rows", 0)


def test_an_npy_models_label_index_is_not_a_csvs(scored, tmp_path, capsys):
    """A model trained on an .npy records its label's column index (5 here);
    a CSV given to it by position took that index, modulo its width, for
    its own label column (column 0, a feature) and predicted from the
    label. The CSV's label is found as for any model: the last column."""
    path, model = scored["npy"]   # columns: id, f0..f3, label (index 5)
    table = np.load(path)
    trained = fastlr.load(model)
    csv_path = tmp_path / "by_position.csv"
    with open(csv_path, "w") as f:
        f.write("a,b,c,d,label\n")
        for row in table[:50].tolist():
            f.write(",".join(map(repr, row[1:5])) + f",{int(row[5])}\n")
    code, out, err = cli_run(capsys, "predict", csv_path, "--model", model,
                             "--by-position")
    assert code == 0, err
    want = trained.predict(table[:50, 1:5])
    assert [int(r) for r in out.splitlines()[1:]] == want.tolist()


@pytest.mark.parametrize("chunks", [[], ["--chunk-rows", "7"]])
def test_a_label_before_the_features_is_not_taken_for_one_by_position(
        scored, tmp_path, capsys, chunks):
    """By position, a CSV with one column more than the model's features
    had its last column left out as the label: with the label first, the
    label was taken for a feature and the last feature dropped, and predict
    printed wrong predictions without a word. Refused unless the last
    column holds the model's classes (or blanks); --target names the label."""
    path, model = scored["npy"]   # columns: id, f0..f3, label (index 5)
    table = np.load(path)[:40]
    trained = fastlr.load(model)
    first = tmp_path / "label_first.csv"
    with open(first, "w") as f:
        f.write("label,a,b,c,d\n")
        for row in table.tolist():
            f.write(f"{int(row[5])}," + ",".join(map(repr, row[1:5])) + "\n")
    out = tmp_path / "p.csv"
    for command in (["predict", "--out", out], ["evaluate"],
                    ["train", "--warm-start", model, "--model", out]):
        code, _, err = cli_run(capsys, *command, first, *chunks, *(
            ["--model", model] if command[0] != "train" else []), "--by-position")
        assert code == 1
        assert "the last ('d') is taken for the label" in err
        assert "--target COL" in err
        assert not out.exists()
    code, text, err = cli_run(capsys, "predict", first, "--model", model,
                              "--by-position", "--target", "label", *chunks)
    assert code == 0, err
    assert [int(r) for r in text.splitlines()[1:]] == \
        trained.predict(table[:, 1:5]).tolist()
    # the label last, blank where unknown: taken and left out, as before
    last = tmp_path / "label_last.csv"
    with open(last, "w") as f:
        f.write("a,b,c,d,label\n")
        for i, row in enumerate(table.tolist()):
            label = "" if i % 3 else int(row[5])
            f.write(",".join(map(repr, row[1:5])) + f",{label}\n")
    code, text2, err = cli_run(capsys, "predict", last, "--model", model,
                               "--by-position", *chunks)
    assert code == 0, err
    assert text2 == text


def test_a_last_label_column_of_text_or_bools_passes_by_position(tmp_path, capsys):
    """The by-position check of the last column refused a bool model's 1/0
    labels and labels marked missing as R marks them (NA), which predict
    leaves out unparsed: only numbers that are not classes are refused."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 2))
    y = X[:, 0] > 0
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    clf = fastlr.LogisticRegression(random_state=0).fit(X, y)   # bool classes
    fastlr.save(clf, tmp_path / "m.npz")
    for labels, command in ((["1" if v else "0" for v in y], "evaluate"),
                            (["NA"] * 60, "predict"), (["?"] * 60, "predict")):
        path = tmp_path / f"{command}.csv"
        path.write_text("a,b,label\n" + "".join(
            f"{a!r},{b!r},{t}\n" for (a, b), t in zip(X.tolist(), labels,
                                                    strict=True)))
        code, out, err = cli_run(capsys, command, path, "--model",
                                 tmp_path / "m.npz", "--by-position")
        assert code == 0, err
        if command == "evaluate":
            assert "accuracy:" in out


def test_evaluate_in_parts_names_every_unknown_label_and_an_empty_csv(
        scored, tmp_path, capsys):
    path, model = scored["csv"]
    text = path.read_text().splitlines()
    text[100] = text[100].rsplit(",", 1)[0] + ",dog"
    text[1900] = text[1900].rsplit(",", 1)[0] + ",eel"
    other = tmp_path / "other.csv"
    other.write_text("\n".join(text) + "\n")
    whole = cli_run(capsys, "evaluate", other, "--model", model, "--chunk-rows", 0)
    parts = cli_run(capsys, "evaluate", other, "--model", model, "--chunk-rows", 500)
    assert "labels the model was not trained on: dog, eel" in whole[2]
    assert parts == whole
    empty = tmp_path / "empty.csv"
    empty.write_text(text[0] + "\n")
    whole = cli_run(capsys, "predict", empty, "--model", model, "--chunk-rows", 0)
    assert "has a header but no data rows" in whole[2]
    assert cli_run(capsys, "predict", empty, "--model", model,
                   "--chunk-rows", 500) == whole


def test_train_plot_draws_the_same_sample_of_every_row_however_read(
        tmp_path, capsys, monkeypatch):
    """Read in parts, boundary.png drew the first 100,000 rows (of a file
    sorted by label: one class); read whole, every row (5,000,000: 15 s and
    0.9 GB more). Both draw a seeded sample of every row, each class in it,
    the same rows whatever the reading."""
    from fastlr import plotting

    drawn = []

    def regions(X, y, *args, **kwargs):
        drawn.append((np.asarray(X), np.asarray(y), kwargs["title"]))
        return original(X, y, *args, **kwargs)

    original = plotting.plot_decision_regions
    monkeypatch.setattr(plotting, "plot_decision_regions", regions)
    monkeypatch.setattr(cli, "PLOT_ROWS", 1000)
    monkeypatch.setattr(cli, "PLOT_CLASS_ROWS", 30)
    X, y = make_table(m=3000, n=2, classes=3)
    y[np.argsort(X[:, 0])[:40]] = 3   # a rare class
    order = np.argsort(y, kind="stable")   # the file sorted by label
    paths = write_files(tmp_path, X[order], y[order])
    runs = [(paths["csv"], "--chunk-rows", "0"), (paths["csv"], "--chunk-rows", "700"),
            (paths["svm"], "--chunk-rows", "700"), (paths["npy"], "--solver", "sgd")]
    for path, *how in runs:
        code = cli.main(["train", str(path), "--epochs", "2", "--quiet", *how,
                         "--plot", str(tmp_path / "plots")])
        assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert len(drawn) == len(runs)
    first_X, first_y, title = drawn[0]
    assert title.endswith(f"\n{first_y.shape[0]:,} of 3,000 rows drawn (a random "
                          "sample)")
    counts = np.bincount(first_y.astype(int))
    assert 1000 <= first_y.shape[0] <= 1000 + 4 * 30
    assert (counts >= np.minimum(np.bincount(y), 30)).all()   # every class
    assert counts[3] == 30 and counts[:3].min() > 200
    for X_drawn, y_drawn, _ in drawn[1:]:
        np.testing.assert_array_equal(X_drawn, first_X)
        np.testing.assert_array_equal(y_drawn.astype(int), first_y.astype(int))


def test_alpha_auto_read_in_parts_is_the_whole_reads(files, tmp_path, capsys):
    """``--alpha auto`` (the default) is 1 / the rows' total weight read in
    parts as read whole: the class weights times each class's rows."""
    cw = ("--class-weight", "0:2,1:0.5")
    whole, w = train(capsys, files["csv"], tmp_path / "w.npz", "--chunk-rows", 0, *cw)
    part, p = train(capsys, files["csv"], tmp_path / "p.npz", "--chunk-rows", 10**6,
                    *cw)
    assert w.alpha == p.alpha == "auto"
    assert_same_model(p, w)
    y = files["y"]
    total = float(np.where(y == 0, 2.0, 0.5).sum())
    _, f = train(capsys, files["csv"], tmp_path / "f.npz", "--chunk-rows", 10**6, *cw,
                 "--alpha", 1.0 / total)
    assert_same_model(p, f)


def test_a_part_whose_rows_all_weigh_zero_trains_as_the_whole_read(tmp_path, capsys):
    """Rows sorted by label and a class weight of 0 for the first class: the
    first parts weigh 0 in all. They have no mean loss (it was NaN, and the
    training stopped as diverged); their batches step as in the whole read,
    so the model equals it (parts of whole batches, file order)."""
    X, y = make_table()
    order = np.argsort(y, kind="stable")
    paths = write_files(tmp_path, X[order], y[order])
    opts = ("--class-weight", "0:0", "--shuffle", "no", "--batch-size", 50)
    _, w = train(capsys, paths["csv"], tmp_path / "w.npz", "--chunk-rows", 0, *opts)
    _, p = train(capsys, paths["csv"], tmp_path / "p.npz", "--chunk-rows", 500, *opts)
    assert_same_model(p, w, {"rtol": 1e-9, "atol": 1e-12})
