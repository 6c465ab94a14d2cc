"""fastlr.precompile and ``fastlr compile``: after them, real calls compile
nothing, in the same process or a new one.

The checks run in fresh processes on the suite's kernel cache (whatever
earlier tests left there is loaded instead of compiled, which changes
nothing below: a signature counts whether it was compiled or loaded).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastlr
from fastlr import _precompile

#: Real calls, deliberately unlike precompile's own: other shapes, batch
#: sizes and options, input that is converted before the kernels (lists,
#: Fortran order, integers, CSC, a read-only memmap, CSR with read-only
#: values), threads, the
#: estimator's options and methods. Each adds a kernel signature if
#: precompile missed a type.
REAL_CALLS = """
import os, tempfile, warnings
import numpy as np
import scipy.sparse as sp
import fastlr
from fastlr import LogisticRegression, LogisticRegressionCV, _dispatch
warnings.simplefilter("ignore")
rng = np.random.default_rng(5)
X = rng.normal(size=(300, 7)); y = (X[:, 0] > 0).astype(int)
Y = np.array(["a", "b", "c", "d"])[rng.integers(0, 4, 300)]
sw = rng.uniform(0.5, 2.0, 300)
for dt in (np.float32, np.float64):
    Xd = X.astype(dt)
    mm = os.path.join(tempfile.mkdtemp(), "X.npy")
    np.save(mm, Xd)
    ro = np.load(mm, mmap_mode="r")
    csr = sp.csr_matrix(Xd * (np.abs(Xd) > 0.5))
    wide = sp.random(300, 5000, density=0.01, format="csr", dtype=dt,
                     random_state=1)
    csr64 = sp.csr_matrix(csr, dtype=dt)
    csr64.indices = csr64.indices.astype(np.int64)
    csr64.indptr = csr64.indptr.astype(np.int64)
    rof = np.asfortranarray(Xd)
    rof.setflags(write=False)   # a DataFrame's array under copy-on-write
    rocsr = csr.copy()
    rocsr.data.setflags(write=False)   # the values joblib hands a worker
    for data in (Xd, np.asfortranarray(Xd), rof, Xd[::2], ro, csr, csr.tocsc(),
                 csr.tocoo(), wide, csr64, rocsr):
        m = data.shape[0]
        for opts in ({}, {"penalty": "l1", "alpha": 1e-3},
                     {"penalty": "elasticnet", "learning_rate": "adagrad"},
                     {"average": 2, "learning_rate": "invscaling",
                      "sample_weight": sw[:m], "epoch_loss": "full"},
                     {"standardize": False, "fit_intercept": False,
                      "shuffle": "rows", "batch_size": 1, "epoch_loss": None}):
            res = fastlr.train(data, y[:m], epochs=1, random_state=0, **opts)
            fastlr.train_multinomial(data, Y[:m], epochs=1, random_state=0,
                                     **opts)
        for labels in (y[:m], Y[:m]):
            fastlr.train_many(data, labels, alphas=[0.0, 1e-3, 0.1], folds=3,
                              penalty="elasticnet", l1_ratios=[0.2, 0.9],
                              epochs=2, random_state=0, average=True,
                              learning_rate="adagrad", tol=1e-3)
            fastlr.train_many(data, labels, alphas=[1e-2, 1e-3], batch_size=1,
                              fit_intercept=False, epochs=1, random_state=0)
        fastlr.predict(data, res.w, res.b, threshold=0.3)
        p = fastlr.predict_proba(data, res.w, res.b)
        fastlr.gradients(data, y[:m], p)
        fastlr.log_loss(y[:m], p)
        fastlr.sigmoid(p)
        for labels in (y[:m], Y[:m]):
            clf = LogisticRegression(max_iter=3, tol=1e-3, penalty="l1",
                                     class_weight="balanced", random_state=0,
                                     warm_start=True).fit(data, labels)
            clf.fit(data, labels)
            clf.score(data, labels)
            clf.predict_log_proba(data)
            clf.decision_function(data)
            LogisticRegression(max_iter=5, early_stopping=True, average=True,
                               learning_rate="adaptive").fit(data, labels)
            LogisticRegression().partial_fit(data, labels, classes=np.unique(
                labels)).partial_fit(data, labels)
            LogisticRegression(solver="lbfgs", max_iter=3).fit(
                data, labels, sample_weight=np.linspace(0.5, 1.5, m))
            LogisticRegressionCV(alphas=2, cv=3, max_iter=3).fit(
                data, labels, sample_weight=np.linspace(0.5, 1.5, m))
fastlr.sigmoid(3)
fastlr.sigmoid([1, 2])
fastlr.log_loss([0, 1], [0.2, 0.7])
# threads: dense X large enough for the threaded epoch
n = 50
big = rng.normal(size=(_dispatch.PARALLEL_MIN_TRAIN_ELEMENTS // n + 1, n))
yb = (big[:, 0] > 0).astype(int)
for dt in (np.float32, np.float64):
    Xb = big.astype(dt)
    res = fastlr.train(Xb, yb, batch_size=512, epochs=1, n_threads=2)
    fastlr.predict_proba(Xb, res.w, res.b)
    fastlr.train_multinomial(Xb, yb + (big[:, 1] > 0), batch_size=512,
                             epochs=1, n_threads=2)
    fastlr.train_many(Xb, yb, alphas=[1e-3, 1e-2, 0.1], folds=2, batch_size=512,
                      epochs=1, n_threads=2)
    # CSR: the lean epoch's team (two threads on request)
    Sb = sp.random(200_000, 1_000, density=0.011, format="csr", dtype=dt,
                   random_state=2)
    fastlr.train(Sb, (rng.random(Sb.shape[0]) > 0.5).astype(int), batch_size=256,
                 epochs=1, standardize=False, n_threads=2)
"""

SCRIPT = """
import json, sys
import fastlr
from fastlr import _precompile
from numba.core import event

def counts():
    return {f"{d.py_func.__module__}.{d.py_func.__name__}": len(d.signatures)
            for d in _precompile._dispatchers()}

report = (fastlr.precompile(n_jobs=2)._asdict() if sys.argv[1] == "precompile"
          else {})
info = fastlr._kernels.cache.info()
before = counts()
compiled = []

class Listener(event.Listener):
    def on_start(self, ev):
        d = ev.data["dispatcher"]
        compiled.append(f"{d.py_func.__module__}.{d.py_func.__name__} "
                        f"{ev.data['args']}")

    def on_end(self, ev):
        pass

event.register("numba:compile", Listener())
exec(compile(sys.argv[2], "real_calls", "exec"))
after = counts()
new = {k: after[k] - before[k] for k in after if after[k] != before[k]}
print(json.dumps({"new": new, "compiled": compiled, "report": report,
                  "info": info, "signatures": sum(after.values())}))
"""


def _run(*args, timeout=1200):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_real_calls_compile_nothing_after_precompile():
    """In the process that ran precompile (in two worker processes, then
    loading in this one), the real calls add no signature to any kernel and
    compile nothing; a new process on the same cache compiles nothing
    either (every signature was saved)."""
    same = _run("precompile", REAL_CALLS)
    assert same["new"] == {} and same["compiled"] == [], same
    assert same["signatures"] > 20
    report, info = same["report"], same["info"]
    assert (report["directory"], report["mode"]) == (info["directory"], info["mode"])
    assert report["compiled"] + report["loaded"] >= same["signatures"] > 0
    assert report["seconds"] > 0 and report["cpu"]
    fresh = _run("load", REAL_CALLS)
    assert fresh["compiled"] == [], fresh


@pytest.mark.parametrize("n_jobs, error", [(0, ValueError), (-2, ValueError),
                                           (2.0, TypeError), (-1.0, TypeError),
                                           (True, TypeError), ("2", TypeError)])
def test_bad_n_jobs_is_refused_before_any_work(n_jobs, error, monkeypatch):
    monkeypatch.setattr(_precompile, "_run_calls", None)   # would fail if called
    with pytest.raises(error, match="n_jobs"):
        fastlr.precompile(n_jobs=n_jobs)


def test_n_jobs_none_is_one_process_as_in_scikit_learn(monkeypatch):
    """``n_jobs=None`` compiles in this process, as ``n_jobs=1`` does
    (scikit-learn's None); the CLI's ``--jobs -1`` is precompile's -1."""
    from fastlr import cli

    ran = []
    monkeypatch.setattr(_precompile, "_run_calls", lambda *a: ran.append(a))
    monkeypatch.setattr(_precompile, "_functions", lambda: None)
    monkeypatch.setattr(_precompile, "_in_workers", None)   # would fail if called
    fastlr.precompile(n_jobs=None)
    assert len(ran) == len(_precompile.DTYPES) * len(_precompile.INPUTS)
    parser = cli.build_parser()
    assert parser.parse_args(["compile", "--jobs", "-1"]).jobs == -1
    assert parser.parse_args(["compile"]).jobs == -1
    with pytest.raises(SystemExit):
        parser.parse_args(["compile", "--jobs", "0"])


def test_every_input_and_call_is_in_the_tables():
    """The tables cover the dtypes, storages and models the brief of
    ``fastlr compile`` names (one place to extend)."""
    assert set(_precompile.INPUTS) == {"dense", "dense read-only", "dense Fortran",
                                       "dense Fortran read-only", "CSR int32",
                                       "CSR int64"}
    assert {np.dtype(d).name for d in _precompile.DTYPES} == {"float32", "float64"}
    names = " ".join(_precompile.CALLS)
    for word in ("binary", "3 classes", "train_many", "threads", "predict",
                 "LogisticRegression", "solver"):
        assert word in names


@pytest.mark.parametrize("make", list(_precompile.INPUTS.values()),
                         ids=list(_precompile.INPUTS))
def test_inputs_reach_the_kernels_as_they_are(make):
    """Each input of the table reaches the kernels in its own storage (the
    validation neither copies read-only X nor changes the index dtype, and
    prediction keeps Fortran order), so the table really compiles a
    distinct variant for each."""
    from fastlr._dispatch import as_data

    X = make(np.ascontiguousarray(np.eye(4)[:, :3], dtype=np.float32))
    data = as_data(X, check=False, any_layout=True)
    assert data.dtype == np.float32
    if data.sparse:
        assert data.args[1].dtype.itemsize == X.indices.dtype.itemsize
        # one type whatever the caller's flags (read-only CSR is not an input)
        assert not any(a.flags.writeable for a in data.args)
    else:
        assert data.X.flags.writeable == X.flags.writeable
        assert data.X.flags.f_contiguous == X.flags.f_contiguous


FASTLR = shutil.which("fastlr", path=os.path.dirname(sys.executable)) or \
    shutil.which("fastlr")


@pytest.mark.slow
def test_fastlr_compile_command():
    """The console script prints a line per input, the cache directory and
    mode, and how long it took; exit 0 when the cache holds every kernel."""
    assert FASTLR, "the fastlr console script is not installed (pip install -e .)"
    proc = subprocess.run([FASTLR, "compile"], capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for storage in _precompile.INPUTS:
        assert f"float32 {storage}" in out and f"float64 {storage}" in out
    info = fastlr._kernels.cache.info()
    assert f"cache: {info['directory']} (read-write)" in out
    assert "kernel signatures" in out and " s\n" in out


@pytest.mark.parametrize("mode, compiled, message, unsaved", [
    ("off", 3, "the kernel cache is off (FASTLR_NUMBA_CACHE=0)", 0),
    ("none", 3, "set FASTLR_CACHE_DIR to a writable folder", 0),
    ("ro", 3, "is read-only and lacked 3 kernel signatures", 0),
    ("ro", 0, None, 0),
    ("rw", 5, None, 0),
    ("rw", 5, "could not keep 2 kernel signatures", 2),
], ids=["off", "none", "read-only-incomplete", "read-only-complete", "writable",
        "writable-unsaved"])
def test_fastlr_compile_exit_status(monkeypatch, capsys, mode, compiled, message,
                                    unsaved):
    """Exit 0 when the cache holds every kernel afterwards; otherwise one
    error line that says why nothing (or not everything) was kept, exit 1;
    with no cache at all ("off", "none") at once, before compiling for
    minutes. (precompile and the mode are replaced: the modes are those of
    other processes.)"""
    from fastlr import cli
    from fastlr._kernels import cache

    report = _precompile.PrecompileReport("/cache/dir", mode, "cpu", compiled,
                                          1, 0.1, unsaved)
    ran = []
    monkeypatch.setattr(_precompile, "precompile",
                        lambda progress=None, n_jobs=1: ran.append(1) or report)
    monkeypatch.setattr(cache, "MODE", mode)
    code = cli.main(["compile", "--quiet"])
    out, err = capsys.readouterr()
    if mode in ("off", "none"):
        assert not ran and out == ""
    else:
        assert f"compiled {compiled} kernel signatures and loaded 1" in out
    if message is None:
        assert code == 0 and err == ""
    else:
        assert code == 1
        assert err.startswith("fastlr: error: ") and message in err
        assert err.count("\n") == 1


ONE_THREAD = """
import json, os
import numba
import numpy as np
from fastlr import _precompile
from fastlr._kernels import sparse
rng = np.random.default_rng(0)
X = rng.normal(size=(_precompile.ROWS, _precompile.COLS))
X[::5, 1] = 0.0
y = (X[:, 0] > 0).astype(np.int64)
for dt in _precompile.DTYPES:
    for storage in ("CSR int32", "CSR int64"):
        _precompile._threaded(_precompile.INPUTS[storage](X.astype(dt)), y,
                              np.arange(_precompile.ROWS) % 3)
print(json.dumps({"lean_worker": len(sparse.lean_worker.signatures),
                  "config": numba.config.NUMBA_NUM_THREADS,
                  "env": os.environ.get("NUMBA_NUM_THREADS")}))
"""


def test_threaded_paths_compile_where_the_process_may_use_one_thread():
    """``fastlr compile`` with one CPU (a 1-CPU image build or CI job) ran
    "train on 2 threads" on one thread (n_threads is capped at
    NUMBA_NUM_THREADS), so the CSR lean epoch's team worker, which only two
    threads run, was left to every later process, while the run reported a
    complete cache. The threaded calls now run on two threads there too,
    and NUMBA_NUM_THREADS is put back afterwards."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(ONE_THREAD)],
                          env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # one per dtype and index width
    assert out == {"lean_worker": 4, "config": 1, "env": "1"}, out


def test_a_process_that_cannot_run_two_threads_reports_an_incomplete_cache(
        monkeypatch, capsys):
    """Where the threaded paths cannot run on two threads (one thread
    allowed and numba's own thread pool already started: numba then refuses
    another count), precompile says so and does not call the cache
    complete; ``fastlr compile`` exits 1 with the reason."""
    import numba
    from numba.np.ufunc import parallel

    from fastlr import cli

    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)
    monkeypatch.setattr(parallel, "_is_initialized", True)
    monkeypatch.setattr(_precompile, "_run_calls", lambda *a: None)
    monkeypatch.setattr(_precompile, "_functions", lambda: None)
    report = fastlr.precompile(n_jobs=1)
    assert report.skipped and "NUMBA_NUM_THREADS" in report.skipped
    assert not report.complete
    assert report._replace(skipped=None).complete == (report.mode == "rw")
    code = cli.main(["compile", "--quiet", "--jobs", "1"])
    err = capsys.readouterr().err
    if report.mode in ("rw", "ro"):
        assert code == 1 and err.startswith("fastlr: error: this process may use "
                                            "one thread"), err


@pytest.mark.parametrize("lacking", [(), ("float32 CSR int64", "float64 dense")],
                         ids=["complete", "two-lacking"])
def test_workers_start_only_for_the_inputs_that_lack_a_kernel(monkeypatch, lacking):
    """With several jobs, a worker process (a new Python that imports numba
    and fastlr and loads the kernels) started for every input even on a
    complete cache, and ``fastlr compile`` took 6x the time of ``--jobs 1``
    to find nothing to do. This process now makes each input's calls first,
    loading; a kernel missing stops that input's calls as its compilation
    starts, and only such inputs go to the workers, after which this
    process makes their calls again."""
    from numba.core import event

    from fastlr._kernels import cache

    compiled, calls, started = set(), [], []

    def run_calls(dt, storage):
        name = f"{np.dtype(dt).name} {storage}"
        calls.append(name)
        if name in lacking and name not in compiled:
            with event.trigger_event("numba:compile", data={"dispatcher": None}):
                compiled.add(name)   # (a compilation in this process)

    def in_workers(jobs, progress, inputs=None):
        started.append([e[0] for e in inputs])
        compiled.update(e[0] for e in inputs)
        return len(inputs)

    monkeypatch.setattr(_precompile, "_run_calls", run_calls)
    monkeypatch.setattr(_precompile, "_functions", lambda: None)
    monkeypatch.setattr(_precompile, "_in_workers", in_workers)
    monkeypatch.setattr(cache, "info", lambda: {"directory": "/c", "mode": "rw"})
    shown = []
    report = fastlr.precompile(n_jobs=2, progress=lambda name, s: shown.append(name))
    names = [e[0] for e in _precompile._inputs()]
    assert started == ([[n for n in names if n in lacking]] if lacking else [])
    assert calls == names + [n for n in names if n in lacking]
    assert compiled == set(lacking)   # none compiled in this process
    # every input shown once: this process's, then the workers' (here none)
    assert shown == [n for n in names if n not in lacking] + ["sigmoid, log_loss"]
    assert report.skipped is None


FIRST_PREDICTION = """
import json, sys
import numpy as np
import fastlr
from fastlr import _precompile, reference
from numba.core.runtime import nrt
rng = np.random.default_rng(3)
X = rng.normal(size=(5000, 20)); w = rng.normal(size=20)
out = {}
for dt in (np.float64, np.float32):
    p = fastlr.predict_proba(X.astype(dt), w, 0.25)
    q = reference.predict_proba(X.astype(dt), w, 0.25)
    out[np.dtype(dt).name] = float(np.max(np.abs(p - q) / q))
out["numba setup"] = [m for m in ("numba.np.arraymath", "scipy.linalg")
                      if m in sys.modules]
out["runtime"] = bool(nrt.rtsys._init)
hits = misses = 0
for d in _precompile._dispatchers():
    hits += sum(d.stats.cache_hits.values())
    misses += sum(d.stats.cache_misses.values())
out["hits"], out["misses"] = hits, misses
# training afterwards loads kernels that use numba's runtime, and compiles
# nothing either
y = (X[:, 0] > 0).astype(int)
a = fastlr.train(X[:500], y[:500], epochs=2, random_state=0)
b = reference.train(X[:500], y[:500], epochs=2, random_state=0)
out["train"] = float(np.max(np.abs(a.w - b.w)))
out["misses after train"] = sum(sum(d.stats.cache_misses.values())
                                for d in _precompile._dispatchers())
print(json.dumps(out))
"""


@pytest.mark.slow
def test_first_prediction_of_a_new_process_only_loads_its_kernels():
    """In a new process on a filled cache, the first ``predict_proba``
    loads its kernels and compiles nothing, without numba's per-process
    setup (numba's full registry, which imports scipy.linalg) and without
    numba's runtime (the prediction kernels allocate nothing); its results
    are the reference's (float64: 1e-12 relative; float32: the kernels
    compute in float64 and round once, 1e-6). Training afterwards, whose
    kernels need the runtime, still works and compiles nothing."""
    fastlr.precompile()
    out = _run_code(FIRST_PREDICTION)
    # one kernel per dtype: logits, sigmoid and the finiteness proof in one pass
    assert out["misses"] == 0 and out["hits"] >= 2, out
    assert out["numba setup"] == [] and out["runtime"] is False, out
    assert out["float64"] <= 1e-12 and out["float32"] <= 1e-6, out
    assert out["train"] <= 1e-10 and out["misses after train"] == 0, out


def _run_code(code, timeout=1200):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_compile_refuses_numbas_debugging_mode(tmp_path):
    """Under NUMBA_DISABLE_JIT=1 nothing is compiled: `fastlr compile` ran
    every call as Python (over 10 minutes), kept nothing, and exited 0
    ("compiled 0 kernel signatures"), so an image build with the variable
    left set shipped an empty cache. It now refuses at once, exit 1, and
    precompile() raises."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", FASTLR_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "fastlr", "compile"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "NUMBA_DISABLE_JIT is set" in out.stderr
    out = subprocess.run([sys.executable, "-c", "import fastlr; fastlr.precompile()"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "RuntimeError: NUMBA_DISABLE_JIT is set" in out.stderr


def test_workers_use_this_process_s_cache_after_a_change_of_directory(
        tmp_path, monkeypatch):
    """A relative FASTLR_CACHE_DIR is made absolute at import; the worker
    processes got the relative value and, after a chdir, compiled for
    minutes into another directory that this process never reads."""
    from fastlr._kernels import cache

    if cache.DIRECTORY is None:
        pytest.skip("no kernel cache in this process")
    seen = []

    class FakePopen:
        returncode = 0

        def __init__(self, argv, env=None, **kwargs):
            seen.append(env["FASTLR_CACHE_DIR"])

        def communicate(self):
            return "[0, 0]\n", ""

    monkeypatch.setenv("FASTLR_CACHE_DIR", "relative-cache")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    _precompile._in_workers(2, None)
    assert seen and set(seen) == {os.path.dirname(cache.DIRECTORY)}


@pytest.mark.skipif(os.name != "posix", reason="a shell script as the worker")
def test_a_worker_that_prints_no_result_is_named(tmp_path, monkeypatch):
    """A worker that exits 0 without printing its counts (killed from
    outside by a signal it traps, say) failed with a bare IndexError of the
    parsing; the error now names the input and says what was missing."""
    worker = tmp_path / "python"
    worker.write_text("#!/bin/sh\nexit 0\n")
    worker.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(worker))
    monkeypatch.setattr(_precompile, "_inputs",
                        lambda: [("float64 C", np.float64, "C")])
    with pytest.raises(RuntimeError, match=r"compiling for float64 C failed in a "
                       r"worker process \(exit status 0, no result printed\)"):
        _precompile._in_workers(1, None)


def test_an_interrupted_parallel_compile_starts_no_more_workers_and_ends_its_own(
        tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM, which the CLI turns into the same exception)
    during ``fastlr compile --jobs 2`` waited for every queued input to
    start and finish, minutes, and SIGTERM left the workers compiling after
    their parent was gone. The queued inputs are now cancelled and the
    running workers ended."""
    import signal
    import threading

    worker = tmp_path / "python"   # a worker that takes long
    worker.write_text("#!/bin/sh\nexec sleep 30\n")
    worker.chmod(0o755)
    started = []
    main = threading.main_thread().ident

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)
            if len(started) == 2:
                # both workers run: a real SIGINT to the main thread (as
                # Ctrl-C's), which wakes its wait. (A timer of 1 s fired
                # before the second worker had started on a busy machine.)
                signal.pthread_kill(main, signal.SIGINT)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    monkeypatch.setattr(sys, "executable", str(worker))
    monkeypatch.setattr(_precompile, "_inputs",
                        lambda: [(f"float64 C {i}", np.float64, "C") for i in range(4)])
    with pytest.raises(KeyboardInterrupt):
        _precompile._in_workers(2, None)
    assert len(started) == 2   # the two queued never started
    assert [p.poll() for p in started] == [-signal.SIGTERM] * 2   # ended
