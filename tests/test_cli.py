"""The command line: `fastlr demo` as a user runs it."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastlr
from fastlr import cli, demo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_demo_rows_meet_seed_claims():
    rows = {r["data"]: r for r in demo.run(plots=False)}
    assert rows["classification"]["fastlr_acc"] == 1.0
    assert rows["moons"]["fastlr_acc"] >= 0.85
    assert rows["breast_cancer"]["fastlr_acc"] >= 0.95
    for r in rows.values():
        # the two implementations train the same model
        assert r["fastlr_acc"] == r["reference_acc"]
        assert r["fastlr_s"] > 0 and r["reference_s"] > 0


def test_demo_refuses_a_negative_seed_as_its_option(capsys, monkeypatch):
    """--random-state -1 was refused after parsing (exit 1, naming the
    Python parameter random_state); verify --seed -1 is an argparse error."""
    monkeypatch.setattr(demo, "run", lambda **kw: pytest.fail("an experiment ran"))
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--random-state", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--random-state" in err and "must be >= 0" in err


def test_demo_out_that_is_a_file_is_refused_before_any_experiment(tmp_path, capsys,
                                                                    monkeypatch):
    """--out naming an existing file is refused up front (it ran the first
    experiment, then failed with 'File exists' naming neither --out nor why)."""
    from fastlr import demo

    monkeypatch.setattr(demo, "run", lambda **kw: pytest.fail("an experiment ran"))
    afile = tmp_path / "afile"
    afile.write_text("")
    assert cli.main(["demo", "--out", str(afile)]) == 1
    err = capsys.readouterr().err
    assert "--out" in err and "exists and is not a folder" in err


def test_demo_output_files_are_checked_before_any_experiment(tmp_path, capsys,
                                                             monkeypatch):
    """A folder where a plot goes was found after two experiments had run
    and written theirs ('Is a directory'); now before the first, naming
    the file."""
    from fastlr import demo

    monkeypatch.setattr(demo, "run", lambda **kw: pytest.fail("an experiment ran"))
    out = tmp_path / "plots"
    (out / "moons_boundary.png").mkdir(parents=True)
    assert cli.main(["demo", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--out" in err and "moons_boundary.png" in err and "folder" in err


def test_demo_out_through_a_dangling_link_is_refused_before_any_experiment(
        tmp_path, capsys, monkeypatch):
    """--out naming a symbolic link to a folder not created yet passed the
    check; the first experiment ran, then "plots: File exists"."""
    monkeypatch.setattr(demo, "run", lambda **kw: pytest.fail("an experiment ran"))
    out = tmp_path / "plots"
    out.symlink_to(tmp_path / "results" / "plots")
    assert cli.main(["demo", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err
    assert f"is a symbolic link to {tmp_path / 'results' / 'plots'}" in err
    assert "does not exist" in err


@pytest.mark.parametrize("out", ["plots", "plots/"])
def test_demo_names_its_folder_with_one_separator(tmp_path, capsys, monkeypatch,
                                                  out):
    """`demo --out plots/` printed "plots written to plots//"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "run", lambda **kw: [])
    monkeypatch.setattr(demo, "format_table", lambda rows: "")
    assert cli.main(["demo", "--out", out]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "plots written to plots/"


def test_demo_writes_each_plot_atomically(tmp_path, monkeypatch):
    """A plot whose write fails (a full disk) leaves the file it replaces
    as it was, and no partial or temporary file: the demo wrote its PNGs
    in place (a full disk left a truncated one)."""
    from matplotlib.figure import Figure

    from fastlr import demo

    out = tmp_path / "plots"
    out.mkdir()
    old = {name: f"old {name}".encode() for name in demo.PLOTS}
    for name, data in old.items():
        (out / name).write_bytes(data)

    def full_disk(self, f, **kw):
        if isinstance(f, str | os.PathLike):   # written in place
            with open(f, "wb") as g:
                g.write(b"\x89PNG partial")
        else:
            f.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError, match="No space left"):
        demo.run(out_dir=str(out), settings={"epochs": 2})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old


def test_demo_cli_writes_table_and_pngs(tmp_path, capsys):
    out = tmp_path / "plots"
    assert cli.main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("classification", "moons", "breast_cancer", "speedup"):
        assert name in text
    lines = text.splitlines()
    # the accuracy and time columns are labelled, and say "reference" as the
    # plots do (not "numpy")
    assert "accuracy" in lines[0] and "time (s)" in lines[0]
    assert lines[1].split() == ["data", "rows", "features", "epochs", "on", "fastlr",
                                "reference", "fastlr", "reference", "speedup"]
    assert "numpy" not in text.lower().replace("the numpy twin", "")
    row = next(ln for ln in lines if ln.startswith("breast_cancer")).split()
    assert row[4] == "held-out" and row[-1].endswith("x")
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["breast_cancer_loss.png", "classification_boundary.png",
                    "classification_loss.png", "moons_boundary.png", "moons_loss.png"]
    assert pngs == sorted(demo.PLOTS)   # what --out is checked for
    for p in out.glob("*.png"):
        data = p.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000


def test_python_m_fastlr_help():
    res = subprocess.run([sys.executable, "-m", "fastlr", "--help"],
                         capture_output=True, text=True, check=True)
    assert "demo" in res.stdout


def test_train_help_explains_sparse_svmlight(capsys):
    """svmlight stays sparse, trained as it is by default; on sparse data
    standardizing does not center."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "kept sparse, never densified" in text
    assert "auto (yes on dense data, no on sparse svmlight data" in text
    assert "sparse data is scaled to unit variance but not centered" in text


def test_every_help_states_the_exit_statuses(capsys):
    """Each --help ends with the exit statuses (README and the module said
    0 and 1 only, or 0, 1 and 2), and they are the ones main returns: 130
    when interrupted, 1 with nothing printed on a broken pipe."""
    for argv in ([], *([name] for name in cli.build_parser()._subparsers
                       ._group_actions[0].choices)):
        with pytest.raises(SystemExit):
            cli.main([*argv, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert " ".join(cli.EXIT_STATUS.split()) in text, argv
    for status in ("0 on success", "1 when the command fails", "2 for a usage error",
                   "130 when interrupted", "stops quietly, nothing on stderr, "
                   "with status 1"):
        assert status in cli.EXIT_STATUS
    script = ("import sys; from fastlr import cli\n"
              "def stop(args): raise {}\n"
              "cli._demo = stop\n"
              "sys.exit(cli.main(['demo', '--no-plots']))")
    for raised, code, err in (("BrokenPipeError", 1, ""),
                              ("KeyboardInterrupt", 130, "fastlr: interrupted\n")):
        res = subprocess.run([sys.executable, "-c", script.format(raised)],
                             capture_output=True, text=True)
        assert (res.returncode, res.stderr) == (code, err), res


@pytest.fixture
def predict_files(tmp_path):
    """A model and an .npy to predict on, and an empty folder for the output."""
    X = np.arange(8.0).reshape(4, 2)
    np.save(tmp_path / "d.npy", np.column_stack([X, [0, 1, 0, 1]]))
    fastlr.save(fastlr.LogisticRegression(max_iter=2, tol=None).fit(
        X, [0, 1, 0, 1]), tmp_path / "m.npz")
    (tmp_path / "out").mkdir()
    return tmp_path


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_a_command_as_ctrl_c_does(predict_files, capsys,
                                                         monkeypatch, name):
    """SIGTERM (kill, timeout, a cancelled CI job) and SIGHUP ended the
    process at once, leaving a hidden temporary file as large as the output.
    They now take Ctrl-C's way out: the temporary file removed, the old
    output kept, one line, 128 + the signal; only while the command runs."""
    sig = getattr(signal, name)
    received = []
    before = signal.signal(sig, lambda signum, frame: received.append(signum))
    installed = signal.getsignal(sig)
    out = predict_files / "out" / "p.csv"
    out.write_text("old\n")
    write_csv = cli._write_csv

    def write_then_signalled(*args):
        write_csv(*args)
        signal.raise_signal(sig)   # while the temporary file is open

    monkeypatch.setattr(cli, "_write_csv", write_then_signalled)
    try:
        code = cli.main(["predict", "--model", str(predict_files / "m.npz"),
                         str(predict_files / "d.npy"), "--out", str(out)])
        assert signal.getsignal(sig) is installed   # restored
    finally:
        signal.signal(sig, before)
    assert received == []
    assert code == 128 + sig
    assert capsys.readouterr().err == f"fastlr: interrupted ({name})\n"
    assert os.listdir(out.parent) == ["p.csv"] and out.read_text() == "old\n"


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_an_ignored_hangup_stays_ignored(predict_files, capsys, monkeypatch):
    """Under nohup SIGHUP is ignored: the command runs on."""
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    write_csv = cli._write_csv

    def write_then_signalled(*args):
        write_csv(*args)
        signal.raise_signal(signal.SIGHUP)

    monkeypatch.setattr(cli, "_write_csv", write_then_signalled)
    out = predict_files / "out" / "p.csv"
    try:
        code = cli.main(["predict", "--model", str(predict_files / "m.npz"),
                         str(predict_files / "d.npy"), "--out", str(out)])
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
    assert code == 0, capsys.readouterr().err
    assert out.read_text().splitlines()[0] == "label"


def test_importing_fastlr_installs_no_signal_handler():
    """The handlers are the command's (main's), not the library's. (Compared
    with the child's own before the import: a suite started under nohup
    hands its children SIGHUP ignored, and this test, asking for SIG_DFL,
    failed there.)"""
    script = ("import signal\n"
              "def handlers():\n"
              "    return [signal.getsignal(getattr(signal, s)) for s in "
              "('SIGTERM', 'SIGHUP') if hasattr(signal, s)]\n"
              "before = handlers()\n"
              "import fastlr, fastlr.cli\n"
              "print(handlers() == before)")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True,
                         text=True, check=True)
    assert res.stdout.strip() == "True", res


@pytest.mark.parametrize("command", [["train"], ["predict", "--model", "m.npz"]])
def test_a_missing_or_directory_data_is_named_as_such(tmp_path, capsys, monkeypatch,
                                                      command):
    """DATA without a known extension that is missing, or a directory, was
    refused for its extension ("cannot tell the format")."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    if command[0] == "predict":
        X = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]
        fastlr.save(fastlr.LogisticRegression(max_iter=2, tol=None).fit(
            X, [0, 1, 0, 1]), "m.npz")
    for data, why in (("adir", "Is a directory"), ("nope", "No such file")):
        assert cli.main([*command, data, "-q"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"fastlr: error: {data}: {why}"), err


def test_unknown_command_exits_nonzero(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bench_quick_table(capsys):
    code = cli.main(["bench", "--rows", "3000", "--features", "5",
                     "--batch-sizes", "32,256", "--repeats", "1"])
    assert code == 0
    out = capsys.readouterr().out
    for word in ("floor", "fastlr", "reference", "sklearn SGDClassifier", "rows/s"):
        assert word in out
    # one line per implementation and batch size, plus the floor and sklearn
    assert sum(line.startswith("fastlr ") for line in out.splitlines()) == 2
    # columns never run together ("59.4428.9x faster"): each row splits into
    # its fields at runs of two or more spaces
    import re

    for line in out.splitlines():
        if line.startswith(("reference ", "sklearn SGDClassifier ")):
            fields = re.split(r"\s{2,}", line.strip())
            assert len(fields) == 6, line
            # (a marginal epoch of 3000 rows may drown in the noise)
            assert re.fullmatch(r"-?\d+\.\d{2}", fields[4]), line
            assert re.fullmatch(r"\d+\.\dx (faster|slower)|\(below the noise\)",
                                fields[5]), line


def test_bench_rejects_bad_batch_sizes(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--batch-sizes", "0,32"])
    assert exc.value.code == 2
    assert "batch sizes" in capsys.readouterr().err


@pytest.mark.parametrize("sizes, said", [
    ("32,32", "batch size 32 is given twice in '32,32'"),
    ("32,256,0032", "batch size 32 is given twice in '32,256,0032'"),
    ("32,,256", "expected comma-separated integers, got '32,,256'"),
    ("32,", "expected comma-separated integers, got '32,'"),
])
def test_bench_refuses_a_batch_size_twice_or_an_empty_one(capsys, sizes, said):
    """A repeated size was measured once and shown once, and an empty item
    skipped, silently; they are usage errors, as --drop's and
    --class-weight's repeated or empty items are."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--batch-sizes", sizes])
    assert exc.value.code == 2
    assert f"argument --batch-sizes: {said}" in capsys.readouterr().err


@pytest.fixture
def bench_tables(monkeypatch):
    """``bench --full`` and ``bench --dask`` with their measurements replaced:
    records the keywords each table was asked for (nothing runs for
    minutes, whatever the command line)."""
    from fastlr import bench, dask_bench

    calls = {}

    def record(name, value):
        def fake(*args, **kwargs):
            calls[name] = kwargs
            return value
        return fake

    monkeypatch.setattr(bench, "performance_table", record("full", []))
    monkeypatch.setattr(bench, "format_performance", lambda table: "full table")
    monkeypatch.setattr(dask_bench, "cost_table", record("dask", {}))
    monkeypatch.setattr(dask_bench, "paper_estimate", lambda cost: None)
    monkeypatch.setattr(dask_bench, "accuracy_table", lambda: None)
    monkeypatch.setattr(dask_bench, "format_tables", lambda *a: "dask tables")
    return calls


@pytest.mark.parametrize("argv, named", [
    (["--full", "--rows", "5000"], ["--rows"]),
    (["--full", "--features", "3", "--dtype", "float32"], ["--features", "--dtype"]),
    (["--full", "--batch-sizes", "64", "--no-sklearn", "--no-reference"],
     ["--batch-sizes", "--no-sklearn", "--no-reference"]),
    (["--dask", "--dtype", "float32"], ["--dtype"]),
    (["--dask", "--batch-sizes", "64", "--no-sklearn"],
     ["--batch-sizes", "--no-sklearn"]),
    (["--dask", "--full"], ["--full", "--dask"]),
])
def test_bench_refuses_options_its_table_would_ignore(capsys, bench_tables, argv,
                                                      named):
    """--full and --dask used to drop the quick table's options silently
    (--full --rows 10000 ran the 1M-row table; --dask --full only the Dask
    one)."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "fastlr bench: error:" in err
    for opt in named:
        assert opt in err
    assert bench_tables == {}


@pytest.mark.parametrize("argv, table, want", [
    (["--full"], "full", {"repeats": 5}),
    (["--full", "--repeats", "1"], "full", {"repeats": 1}),
    (["--dask"], "dask", {"rows": 200_000, "features": 100, "repeats": 5}),
    (["--dask", "--rows", "5000", "--features", "3", "--repeats", "2"], "dask",
     {"rows": 5000, "features": 3, "repeats": 2}),
])
def test_bench_full_and_dask_honour_their_options(capsys, bench_tables, argv, table,
                                                  want):
    """--repeats is honoured, not raised to 5 (the default stays 5)."""
    assert cli.main(["bench", *argv]) == 0
    assert bench_tables == {table: want}


def test_bench_help_says_which_options_apply_where(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--full takes only --repeats" in text
    assert text.count("not with --full or --dask") == 4


def test_train_cli_new_options_round_trip(tmp_path, capsys):
    """--penalty l1 / --learning-rate / --average reach the saved model."""
    import numpy as np

    import fastlr

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + 0.5 * rng.logistic(size=300) > 0).astype(int)
    data = tmp_path / "d.npy"
    np.save(data, np.column_stack([X, y]))
    model = tmp_path / "m.npz"
    assert cli.main(["--quiet", "train", str(data), "--penalty", "l1", "--alpha",
                     "0.05", "--learning-rate", "adagrad", "--average",
                     "--model", str(model)]) == 0
    clf = fastlr.load(model)
    assert (clf.penalty, clf.learning_rate, clf.average) == ("l1", "adagrad", True)
    assert (clf.coef_[0, 1:] == 0.0).any()  # L1 zeroes some irrelevant features


@pytest.mark.parametrize("parts", [[], ["--chunk-rows", "2"]], ids=["whole", "parts"])
@pytest.mark.parametrize("index", [200_000_000, 2_000_000_000])
def test_an_svmlight_index_wider_than_memory_is_refused_before_training(
        tmp_path, capsys, monkeypatch, index, parts):
    """A few-byte line with a large feature index declares a model of that
    width: the training and the save of 200M features outgrew memory (the
    process was killed at 24 GB, leaving an 11 GB temporary file), 2G
    without a word. The width is weighed against the memory available
    before anything is allocated (here 4 GiB, so that the test means the
    same on any machine). Read whole, the default solver's L-BFGS finisher
    counts too (10 curvature pairs and six vectors, 208 bytes a weight); in
    parts, SGD alone trains."""
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 4 << 30)
    need = index * 300 + (0 if parts else 208 * (index + 1))
    data = tmp_path / "d.svm"
    data.write_text("1 1:0.5 3:1\n0 2:1\n" + f"1 {index}:1.5\n")
    model = tmp_path / "m.npz"
    model.write_bytes(b"old")
    assert cli.main(["train", str(data), "--model", str(model), *parts]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"fastlr: error: out of memory: {data} has {index:,} columns "
                   "(a sparse matrix's width, an svmlight file's largest feature "
                   f"index): training a model that wide would need about "
                   f"{need / 2**30:,.1f} GiB of memory, more than the 4.0 "
                   "GiB available")
    assert model.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.svm", "m.npz"]


def test_out_of_memory_is_reported_as_such(tmp_path, capsys, monkeypatch):
    """A model too large for memory (an svmlight file's largest index sets
    its features) is an error of the input, not a bug to report."""
    data = tmp_path / "d.svm"
    data.write_text("1 1:0.5 3:1\n0 2:1\n")

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 16.0 GiB")

    monkeypatch.setattr(fastlr.LogisticRegression, "fit", no_memory)
    assert cli.main(["train", str(data), "--model", str(tmp_path / "m.npz")]) == 1
    err = capsys.readouterr().err
    assert "out of memory: Unable to allocate 16.0 GiB" in err
    assert "largest feature index" in err and "please report" not in err
    assert not (tmp_path / "m.npz").exists()


def test_bench_out_of_memory_has_no_file_hint(capsys, monkeypatch):
    """bench --rows 100000000 --features 100000000 ran out of memory with a
    hint about svmlight files' feature indices, which bench (it makes its
    own data, of the size asked for) has nothing to do with."""
    from fastlr import bench

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 72.8 PiB")

    monkeypatch.setattr(bench, "quick_table", no_memory)
    assert cli.main(["bench", "--rows", "100000000", "--features", "100000000"]) == 1
    assert capsys.readouterr().err == \
        "fastlr: error: out of memory: Unable to allocate 72.8 PiB\n"
