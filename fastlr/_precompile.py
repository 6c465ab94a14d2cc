"""Compile every kernel ahead of use: :func:`precompile`, behind
``fastlr compile`` (``python -m fastlr compile``).

A kernel compiles on its first call with each new combination of argument
types, a few seconds each, and is then kept in the on-disk kernel cache
(:mod:`fastlr._kernels.cache`). :func:`precompile` makes those first calls
ahead of time, so that no later process compiles anything: at Docker image
build time (the image then serves users who cannot write to the cache), in
a CI job before the tests, or before a :class:`~sklearn.model_selection.GridSearchCV`
whose workers would each compile otherwise.

It does not name kernels or signatures: it makes the *public* calls that
real use makes, on tiny data, for every input type fastlr accepts, so the
signatures compiled are exactly those real calls need, and a kernel added
behind an existing call is covered without a change here. The calls and
the inputs are two tables:

* :data:`INPUTS`: X as real calls pass it to the kernels, for every dtype
  (float32, float64) and storage: dense C-ordered; dense read-only (an
  ``np.memmap`` opened with mode "r", or blocks that joblib or Dask hand
  over, are a distinct type to numba: X is never copied to make it
  writable); dense Fortran-ordered, writable and read-only (a DataFrame's
  array: prediction reads it as it is; training converts it to C order);
  CSR with int32 column indices (the kernels view them as uint32) and with
  int64 ones (writable or read-only alike: the kernels always get CSR
  arrays as read-only views, so the CSR that joblib hands a worker, whose
  values are a read-only memmap, needs no kernel of its own). Other input
  (lists, strided views, float16, integers, CSC/COO) is converted to one of
  these before any kernel runs.
* :data:`CALLS`: one entry per way into the kernels: binary and k-class
  training (one thread, and two on data large enough for the threaded
  epoch, even where the process may use one: :func:`_team_of_two`), many
  models from one pass (:func:`fastlr.train_many`), the
  full-data loss, prediction, the estimator's ``fit``,
  ``partial_fit`` and ``predict_proba``, and the functional helpers.

**Extending it**: a new public path that runs kernels (a solver, a
many-models trainer) is one more entry in :data:`CALLS`, for example
``"LogisticRegression(solver='lbfgs')": lambda X, y, Y:
LogisticRegression(solver="lbfgs", max_iter=2).fit(X, y)``; a new kind of
input is one more entry in :data:`INPUTS`. ``tests/test_precompile.py``
then checks that a set of real calls compiles nothing after
:func:`precompile`: give it a real call of the new path too.
"""

import contextlib
import time
from typing import NamedTuple

import numpy as np

from . import _dispatch

__all__ = ["CALLS", "INPUTS", "PrecompileReport", "precompile"]

#: Rows and columns of the tiny training data (several batches of 8 rows).
ROWS, COLS = 40, 3

#: The dtypes of X every call is made with.
DTYPES = (np.float32, np.float64)


def _dense(X):
    return X


def _read_only(X):
    X = X.copy()
    X.setflags(write=False)
    return X


def _fortran(X):
    return np.asfortranarray(X)


def _fortran_read_only(X):
    X = np.asfortranarray(X)
    X.setflags(write=False)
    return X


def _csr(index_dtype):
    def make(X):
        import scipy.sparse as sp

        A = sp.csr_matrix(X)
        A.indices = A.indices.astype(index_dtype)
        A.indptr = A.indptr.astype(index_dtype)
        return A
    return make


#: Storage of X -> a function of dense C-ordered X (ROWS x COLS, of one of
#: DTYPES) that returns X stored that way.
INPUTS = {
    "dense": _dense,
    "dense read-only": _read_only,
    "dense Fortran": _fortran,
    "dense Fortran read-only": _fortran_read_only,
    "CSR int32": _csr(np.int32),
    "CSR int64": _csr(np.int64),
}


def _train(X, y, Y):
    import fastlr

    # standardized (on CSR X "auto" is not: its statistics' kernels)
    fastlr.train(X, y, batch_size=8, epochs=1, random_state=0, standardize=True)
    fastlr.train(X, y, batch_size=8, epochs=1, random_state=0, epoch_loss="full")
    # an option the lean CSR epoch does not take: CSR's general epoch
    fastlr.train(X, y, batch_size=8, epochs=1, random_state=0, penalty="l1")


def _train_k(X, y, Y):
    import fastlr

    fastlr.train_multinomial(X, Y, batch_size=8, epochs=1, random_state=0,
                             epoch_loss="full", standardize=True)


def two_threads_blocked():
    """The reason this process cannot run the thread team on two threads
    for :func:`_threaded`, else None: it may use one thread
    (``NUMBA_NUM_THREADS``, the CPUs) and numba's own thread pool has
    started, after which numba refuses another count."""
    import numba
    from numba.np.ufunc import parallel

    if numba.config.NUMBA_NUM_THREADS >= 2 or not parallel._is_initialized:
        return None
    return ("this process may use one thread (NUMBA_NUM_THREADS) and numba's "
            "thread pool has started, so the kernels only threads run were not "
            "compiled; run fastlr compile in a new process")


@contextlib.contextmanager
def _team_of_two():
    """Let ``n_threads=2`` mean two threads while the threaded paths run,
    where this process may use one (a build step or CI job with one CPU):
    their kernels (the CSR lean epoch's worker) are then compiled there too
    instead of by every later process with two threads. The team is correct
    on any number of threads and cores (its threads may run one after
    another), so it only takes longer. ``NUMBA_NUM_THREADS`` is raised to 2
    for that time, in numba's configuration and in the environment (numba's
    compiler reloads the one from the other), then put back; meanwhile the
    other threads of this process may use two threads as well."""
    import os

    import numba

    config = numba.config
    most = config.NUMBA_NUM_THREADS
    if most >= 2 or two_threads_blocked():
        yield
        return
    saved = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = "2"
    config.NUMBA_NUM_THREADS = 2
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = saved
        config.NUMBA_NUM_THREADS = most


def _threaded(X, y, Y):
    """A training run on the threaded epoch and a prediction split over
    threads (CSR X: the lean epoch's team, on request), on two threads
    whatever the threads this process may use (:func:`_team_of_two`)."""
    with _team_of_two():
        _threaded_calls(X, y, Y)


def _threaded_calls(X, y, Y):
    import fastlr

    rows = -(-_dispatch.PARALLEL_MIN_TRAIN_ELEMENTS // X.shape[1])
    if not isinstance(X, np.ndarray):
        import scipy.sparse as sp

        rows = -(-rows * X.shape[0] * X.shape[1] // X.nnz)   # stored entries
        big = sp.csr_matrix(np.resize(X.toarray(), (rows, X.shape[1])))
        big.indices = big.indices.astype(X.indices.dtype)
        big.indptr = big.indptr.astype(X.indptr.dtype)
        fastlr.train(big, np.resize(y, rows), standardize=False, epochs=1,
                     batch_size=_dispatch.SPARSE_PARALLEL_MIN_BATCH, random_state=0,
                     n_threads=2, epoch_loss=None)
        return
    big = np.resize(X, (rows, X.shape[1]))
    big.setflags(write=X.flags.writeable)
    yb = np.resize(y, rows)
    for k, train in ((2, fastlr.train), (3, fastlr.train_multinomial)):
        labels = yb if k == 2 else np.resize(Y, rows)
        res = train(big, labels, batch_size=_dispatch.PARALLEL_MIN_BATCH,
                    epochs=1, random_state=0, n_threads=2, epoch_loss=None)
        fastlr.train_many(big, labels, alphas=[1e-4, 1e-2],
                          batch_size=_dispatch.PARALLEL_MIN_BATCH, epochs=1,
                          random_state=0, n_threads=2, epoch_loss=None)
        if k == 2:
            fastlr.predict_proba(big, res.w, res.b)


def _train_many(X, y, Y):
    """Many models from one pass: a path of two (so that the binary models
    share each chunk's reads) and cross-validation folds, 2 and 3 classes."""
    import fastlr

    for labels in (y, Y):
        fastlr.train_many(X, labels, alphas=[1e-4, 1e-2], batch_size=8, epochs=1,
                          random_state=0)
        for standardize in (True, False):   # each fold's statistics, or none
            fastlr.train_many(X, labels, alphas=[1e-4, 1e-2], folds=2, batch_size=8,
                              epochs=1, random_state=0, standardize=standardize)


def _predict(X, y, Y):
    import fastlr

    w = np.ones(X.shape[1])
    p = fastlr.predict_proba(X, w, 0.5)
    fastlr.predict(X, w, 0.5)
    fastlr.decision_function(X, w, 0.5)
    fastlr.gradients(X, y, p)


def _estimator(X, y, Y):
    from fastlr import LogisticRegression

    for labels in (y, Y):
        clf = LogisticRegression(max_iter=1, tol=None, batch_size=8).fit(X, labels)
        clf.predict_proba(X)
        clf.predict(X)
        # X of the other float dtype: a float64 model on float32 X predicts
        # in float64 (the dtype of X @ coef_.T)
        clf.predict_proba(X.astype(np.float32 if X.dtype == np.float64
                                   else np.float64))
        LogisticRegression(tol=None, batch_size=8, early_stopping=True,
                           validation_fraction=0.25).fit(X, labels)
        # twice: the second call merges the running statistics
        LogisticRegression(batch_size=8, standardize=True).partial_fit(
            X, labels, classes=np.unique(labels)).partial_fit(X, labels)


def _solver(X, y, Y):
    """The deterministic solver: the full loss and gradient (L2, and OWL-QN
    with L1), sample-weighted, 2 and 3 classes."""
    import warnings

    from fastlr import LogisticRegression

    sw = np.linspace(0.5, 1.5, y.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # two passes do not converge
        for labels in (y, Y):
            for penalty in ("l2", "l1"):
                LogisticRegression(solver="lbfgs", max_iter=2, tol=None,
                                   penalty=penalty).fit(X, labels, sample_weight=sw)


def _cv(X, y, Y):
    """Cross-validation with the solver: every fold model's loss and
    gradient in one pass (dense X), 2 and 3 classes."""
    import warnings

    from fastlr import LogisticRegressionCV

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # two passes do not converge
        for labels in (y, Y):
            LogisticRegressionCV(alphas=2, cv=2, max_iter=2, batch_size=8,
                                 random_state=0).fit(X, labels)


def _floor(X, y, Y):
    """The memory floor of ``fastlr bench`` (dense X)."""
    if isinstance(X, np.ndarray):
        from .bench import stream_sum

        stream_sum(X)


#: Calls made with every input of :data:`INPUTS`: name -> function(X, y, Y)
#: with ``y`` two classes (0/1) and ``Y`` three (0, 1, 2).
CALLS = {
    "train, binary": _train,
    "train, 3 classes": _train_k,
    "train_many, 2 and 3 classes": _train_many,
    "train on 2 threads": _threaded,
    "predict, gradients": _predict,
    "LogisticRegression, 2 and 3 classes": _estimator,
    "the L-BFGS solver": _solver,
    "LogisticRegressionCV": _cv,
    "bench floor": _floor,
}


def _functions():
    """Kernels reached without an X: elementwise functions, float32 and
    float64 input."""
    import fastlr

    for dt in DTYPES:
        p = np.linspace(0.1, 0.9, 5).astype(dt)
        fastlr.sigmoid(p)
        fastlr.log_loss(np.array([0, 1, 0, 1, 1]), p)


class PrecompileReport(NamedTuple):
    """What :func:`precompile` did."""

    directory: object   # the cache directory (None: no cache)
    mode: str           # "rw", "ro", "off" or "none" (see fastlr._kernels.cache)
    cpu: str            # the CPU model the code was compiled for
    compiled: int       # signatures compiled (not found in the cache)
    loaded: int         # signatures loaded from the cache
    seconds: float      # wall time of precompile
    unsaved: int = 0    # signatures compiled that the cache could not keep
    skipped: object = None   # why some calls could not run as they must, or None

    @property
    def complete(self):
        """True when the cache holds every kernel afterwards (it is
        writable and kept every signature compiled, or read-only and
        nothing was missing, and no call was skipped)."""
        return self.skipped is None and (
            (self.mode == "rw" and self.unsaved == 0) or
            (self.mode == "ro" and self.compiled == 0))


def _dispatchers():
    """Every kernel (numba dispatcher) of every module of the kernel package."""
    import importlib
    import pkgutil

    from . import _kernels

    found = {}
    for info in pkgutil.iter_modules(_kernels.__path__):
        mod = importlib.import_module(f"{_kernels.__name__}.{info.name}")
        for obj in vars(mod).values():
            if hasattr(obj, "stats") and hasattr(obj, "signatures"):
                found[id(obj)] = obj
    return list(found.values())


def _cache_counts():
    compiled = loaded = 0
    for d in _dispatchers():
        compiled += sum(d.stats.cache_misses.values())
        loaded += sum(d.stats.cache_hits.values())
    return compiled, loaded


def _inputs():
    """``(name, dtype, storage)`` of every input of the tables: the CSR
    ones first (they take longest to compile), the dtypes alternating (the
    inputs that run at once in :func:`_in_workers` then compile different
    signatures, which the cache lets processes compile at the same time)."""
    return [(f"{np.dtype(dt).name} {storage}", dt, storage)
            for storage in sorted(INPUTS, key=lambda s: not s.startswith("CSR"))
            for dt in DTYPES]


def _run_calls(dt, storage):
    """Every call of :data:`CALLS` on the tiny input ``storage`` of ``dt``."""
    import warnings

    rng = np.random.default_rng(0)
    X64 = rng.normal(size=(ROWS, COLS))
    X64[::5, 1] = 0.0   # some stored zeros, so that CSR X is sparse
    y = (X64[:, 0] > 0).astype(np.int64)
    Y = np.arange(ROWS) % 3
    with warnings.catch_warnings():
        # a few epochs on 40 rows say nothing about convergence
        warnings.simplefilter("ignore")
        X = INPUTS[storage](np.ascontiguousarray(X64, dtype=dt))
        for call in CALLS.values():
            call(X, y, Y)


#: How long :func:`_in_workers` waits for a worker before it checks for a
#: pending interrupt.
WAKE_SECONDS = 0.5


class _WouldCompile(BaseException):
    """A kernel is not in the cache (:func:`_loading_only`). Not an
    Exception, so that no ``except Exception`` on the way takes it."""


@contextlib.contextmanager
def _loading_only():
    """Within it, a kernel signature that is not in the cache raises
    :class:`_WouldCompile` as its compilation starts (numba's
    ``"numba:compile"`` event, after the cache missed; the signature's
    cache lock is released as on any failed compilation) instead of
    compiling; those found in the cache load as usual. Yields a list that
    gets an item for each compilation stopped (in any thread: the team's
    too)."""
    from numba.core import event

    stopped = []

    class Stop(event.Listener):
        def on_start(self, ev):
            stopped.append(ev.data["dispatcher"])
            raise _WouldCompile

        def on_end(self, ev):
            pass

    listener = Stop()
    event.register("numba:compile", listener)
    try:
        yield stopped
    finally:
        event.unregister("numba:compile", listener)


def _in_workers(jobs, progress, inputs=None):
    """Run each input's calls in a new process (``inputs``: entries of
    :func:`_inputs`, default all of them), ``jobs`` at a time; returns
    the signatures they compiled. Each process saves what it compiles to
    the cache, where the others (and this one) load it: the cache lets one
    process compile a kernel while the others wait for it."""
    import contextlib
    import json
    import os
    import subprocess
    import sys
    import threading
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    import fastlr

    from ._kernels import cache

    env = dict(os.environ)
    if env.get("FASTLR_CACHE_DIR") and cache.DIRECTORY is not None:
        # this process's cache root, made absolute at import: a relative
        # value would name another directory if the process has changed
        # directory since (the workers would compile into it for nothing)
        env["FASTLR_CACHE_DIR"] = os.path.dirname(cache.DIRECTORY)
    # the workers import this fastlr, wherever it was imported from
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))

    # the worker processes running, and whether the run is being stopped: a
    # Ctrl-C or SIGTERM (or a worker's failure) waited for every queued
    # input to start and finish (minutes), and SIGTERM left the workers
    # running after their parent was gone
    lock = threading.Lock()
    running = set()
    stopping = []

    def work(name, dt, storage):
        t = time.perf_counter()
        with lock:
            if stopping:
                return None
            proc = subprocess.Popen(
                [sys.executable, "-m", __name__, np.dtype(dt).name, storage],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            running.add(proc)
        try:
            out, err = proc.communicate()
        finally:
            with lock:
                running.discard(proc)
        lines = out.splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(
                f"compiling for {name} failed in a worker process (exit status "
                f"{proc.returncode}{'' if lines else ', no result printed'}):\n"
                f"{err[-4000:]}")
        return name, time.perf_counter() - t, json.loads(lines[-1])

    compiled = 0
    with ThreadPoolExecutor(jobs) as pool:
        try:
            pending = {pool.submit(work, *e)
                       for e in (_inputs() if inputs is None else inputs)}
            while pending:
                # a timed wait: a Ctrl-C that arrives just before the wait
                # blocks wakes nothing, and an untimed wait then held it
                # until a worker ended (minutes); timed out, the wait
                # returns and the interrupt is raised
                done, pending = wait(pending, timeout=WAKE_SECONDS,
                                     return_when=FIRST_COMPLETED)
                for future in done:
                    name, seconds, counts = future.result()
                    compiled += counts[0]
                    if progress is not None:
                        progress(name, seconds)
        except BaseException:
            # nothing more starts, and the workers running are ended
            with lock:
                stopping.append(True)
                for proc in running:
                    with contextlib.suppress(OSError):
                        proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return compiled


def jit_disabled():
    """The reason nothing can be compiled into the cache when numba's
    debugging mode is on (``NUMBA_DISABLE_JIT=1``: kernels run as Python,
    so a precompile would run every call slowly and keep nothing), else
    None."""
    from numba.core import config

    if config.DISABLE_JIT:
        return ("NUMBA_DISABLE_JIT is set: the kernels run as Python and none "
                "is compiled, so nothing could be kept in the kernel cache; "
                "unset it to compile")
    return None


def precompile(progress=None, n_jobs=1):
    """Compile every kernel for every input type into the kernel cache.

    Runs the public calls of :data:`CALLS` on tiny data in every storage
    and dtype of :data:`INPUTS` (plus the elementwise functions): each
    kernel signature is compiled and saved to the cache, or loaded from it
    when it is already there. Run it where the cache is writable (``fastlr
    compile`` at image build time, as the user who owns the environment);
    afterwards no process compiles a kernel, and a read-only install loads
    them all. It also warms up the calling process. The threaded paths run
    on two threads even where this process may use one (a build with one
    CPU), so that their kernels are compiled there too
    (:func:`_team_of_two`).

    Parameters
    ----------
    progress : callable(name, seconds) or None
        Called after each input (``"float64 dense"``, ...) with its time.
    n_jobs : int or None, default 1
        Processes compiling at once, one input at a time each; -1: as many
        as threads fastlr uses by default (``NUMBA_NUM_THREADS``, the
        CPUs); None: 1, as in scikit-learn. With more than one, this
        process first makes each input's calls loading their kernels, and
        the calls of each input that lacks one run in a new process (this
        fastlr, imported through ``PYTHONPATH``), which compiles; this
        process then makes those calls once more, loading the kernels they
        saved. On a complete cache no process is started. It is used only
        where the cache is writable: elsewhere what the workers compiled
        could not reach this process.

    Returns
    -------
    PrecompileReport
        The cache's directory and mode (:func:`fastlr._kernels.cache.info`),
        the CPU model, signatures compiled (by this process and the
        workers) and loaded (by this process), the time taken, the
        signatures compiled that the cache could not keep, and why calls
        were skipped (:func:`two_threads_blocked`), if any.
        The compiled code is specific to the CPU model: numba keys cached
        code by CPU name and features.

    Raises
    ------
    RuntimeError
        Under ``NUMBA_DISABLE_JIT=1`` (:func:`jit_disabled`).
    ValueError
        For ``n_jobs`` 0 or below -1.
    """
    import warnings

    import llvmlite.binding as llvm
    from numba.core import config

    from ._kernels import cache
    from ._validation import check_positive_int

    if jit_disabled():
        raise RuntimeError(jit_disabled())
    jobs = 1 if n_jobs is None else check_positive_int(n_jobs, "n_jobs", minimum=-1)
    if jobs == 0:
        raise ValueError("n_jobs must be -1 or >= 1, got 0")
    if jobs == -1:
        jobs = config.NUMBA_NUM_THREADS
    jobs = min(jobs, len(DTYPES) * len(INPUTS))
    t0 = time.perf_counter()
    # (the workers are new processes: they can always)
    skipped = two_threads_blocked()
    before = _cache_counts()
    unsaved = len(cache.UNSAVED)
    parallel = jobs > 1 and cache.info()["mode"] == "rw"
    missing = _inputs()
    aborted = []
    if parallel:
        # this process loads each input's kernels first, and the workers
        # (new processes, a few seconds each to start and load) compile
        # only for the inputs that lack one: on a complete cache none
        # starts (a check took 6x the time of one process when every input
        # had its worker)
        missing = []
        for entry in _inputs():
            t = time.perf_counter()
            with _loading_only() as stopped:
                try:
                    _run_calls(*entry[1:])
                except _WouldCompile:
                    pass
                except Exception:
                    if not stopped:
                        raise
                    # (a failure the stop caused: the worker runs it for real)
            aborted += stopped
            if stopped:
                missing.append(entry)
            elif progress is not None:
                progress(entry[0], time.perf_counter() - t)
    workers = _in_workers(jobs, progress, missing) if parallel and missing else 0
    for name, dt, storage in missing:
        t = time.perf_counter()
        _run_calls(dt, storage)
        if progress is not None and not parallel:
            progress(name, time.perf_counter() - t)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _functions()
    if progress is not None:
        progress("sigmoid, log_loss", time.perf_counter() - t)
    after = _cache_counts()
    info = cache.info()
    cpu = config.CPU_NAME or llvm.get_host_cpu_name()
    # (a compilation stopped at its start counts as a cache miss)
    return PrecompileReport(info["directory"], info["mode"], cpu,
                            workers + after[0] - before[0] - len(aborted),
                            after[1] - before[1],
                            time.perf_counter() - t0, len(cache.UNSAVED) - unsaved,
                            skipped)


def _worker(dtype_name, storage):
    """A worker process of :func:`precompile`: one input's calls; prints
    ``[compiled, loaded]``."""
    import json

    before = _cache_counts()
    _run_calls(np.dtype(dtype_name).type, storage)
    after = _cache_counts()
    print(json.dumps([after[0] - before[0], after[1] - before[1]]))


if __name__ == "__main__":
    import sys

    _worker(*sys.argv[1:])
