"""Side-by-side speed measurements on this machine (``fastlr bench``).

Everything is quoted as a ratio measured in one run: implementations are
timed in interleaved repetitions (A, B, C, A, B, C, ...) and the medians are
compared, so load from other processes hits them alike. The *floor* is one
thread reading X once (:func:`stream_sum`): no epoch can be
faster than streaming X from memory.

:func:`quick_table` is what ``fastlr bench`` prints by default;
:func:`performance_table` measures every row of the performance targets
(``fastlr bench --full`` and ``benchmarks/compare.py``), the solver's
(O1-O4, :mod:`fastlr.bench_solvers`) included.
"""

import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

from . import core, reference
from ._kernels import team
from ._kernels.stats import multiply_adds, stream_sum
from ._validation import first_repeated

__all__ = ["concurrent_training_seconds", "interleaved", "k_scan",
           "make_correlated_workload", "make_imbalanced_workload",
           "make_sparse_workload", "make_workload", "many_epoch_fn",
           "many_models_table", "marginal_epoch_fn", "multiply_adds_fn",
           "performance_table", "quick_table", "stats_pass_fns", "stream_sum",
           "train_call_fn"]

#: Default workload of the performance targets: X ~ N(0, 1), 1M x 100.
FULL_ROWS, FULL_FEATURES = 1_000_000, 100


def cpus_note():
    """How many CPUs this run may use (its affinity), for the title of a
    benchmark figure: "2 CPUs"."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:   # (not on every platform)
        n = os.cpu_count() or 1
    return f"{n} CPU{'' if n == 1 else 's'}"


def make_workload(m, n, dtype=np.float64, seed=0):
    """X ~ N(0, 1) of shape (m, n), C-contiguous; y ~ Bernoulli(sigmoid(X w* + 0.5)).

    ``w*`` ~ N(0, 1/n), so the logits have unit scale.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n), dtype=np.float64)
    w = rng.normal(size=n) / np.sqrt(n)
    z = X @ w + 0.5
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return np.ascontiguousarray(X, dtype=dtype), y


def make_sparse_workload(m, n, nnz_per_row=20, seed=0, return_model=False):
    """A CSR X of shape (m, n) with ``nnz_per_row`` N(0, 1) entries per row
    at uniformly random columns (duplicates summed), and labels
    y ~ Bernoulli(sigmoid(X w* + 0.5)), ``w*`` ~ N(0, 1 / nnz_per_row).

    Like text or one-hot click logs: most columns appear in a handful of
    rows, so a batch touches a tiny fraction of the weights.
    ``return_model``: return ``(X, y, w*, b*)``, with the true model (the
    best any fit can do on average: the Bayes log-loss's model), not
    ``(X, y)``.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, size=(m, nnz_per_row))
    vals = rng.standard_normal((m, nnz_per_row))
    indptr = np.arange(0, m * nnz_per_row + 1, nnz_per_row)
    X = sp.csr_matrix((vals.reshape(-1), cols.reshape(-1), indptr), shape=(m, n))
    X.sum_duplicates()
    w, b = rng.normal(size=n) / np.sqrt(nnz_per_row), 0.5
    z = X @ w + b
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return (X, y, w, b) if return_model else (X, y)


def make_imbalanced_workload(m, n, positive_rate=0.01, seed=0):
    """Rare positives on features of mixed scales, like a click or fraud
    log: X (m, n) float64 with column ``j`` ``N(0, 1) * s_j + o_j`` (``s_j``
    log-normal over three orders of magnitude, ``o_j`` up to a few ``s_j``),
    y ~ Bernoulli(sigmoid(z w* + b0)) on the unit-scale ``z``, ``w*`` ~
    N(0, 4 / n) and ``b0`` set so that about ``positive_rate`` of the rows
    are positive."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((m, n))
    w = rng.normal(size=n) * 2.0 / np.sqrt(n)
    z = Z @ w
    lo, hi = -30.0, 30.0           # bisect b0 for the positive rate
    for _ in range(60):
        b0 = 0.5 * (lo + hi)
        if np.mean(1.0 / (1.0 + np.exp(-(z + b0)))) > positive_rate:
            hi = b0
        else:
            lo = b0
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-(z + b0)))).astype(np.int64)
    s = np.exp(rng.uniform(-3.5, 3.5, size=n))
    o = rng.uniform(-3.0, 3.0, size=n) * s
    X = Z
    X *= s
    X += o
    return np.ascontiguousarray(X), y


def interleaved(funcs, repeats=5, warmup=1, settle=0.0, report=None):
    """Median seconds of each callable, timed in interleaved rounds.

    Parameters
    ----------
    funcs : dict of name -> callable() or (callable(), callable())
        A pair ``(more, less)`` is timed as ``more``'s seconds minus
        ``less``'s, called one after the other in each round: the marginal
        cost of what ``more`` does beyond ``less`` (one more epoch of a
        whole training call, its validation and set-up left out as
        :func:`epoch_time_fn` leaves them out of fastlr's).
    repeats : int
        Timed rounds (each round calls every function once).
    warmup : int
        Untimed rounds first (JIT compilation, caches).
    settle : float
        Seconds to sleep before each timed call. OpenBLAS's threads keep
        spinning for about 0.1 s after a large matrix product (NumPy's
        reference implementation), slowing whatever runs next on the same
        cores; a pause lets them go idle.
    report : callable(name, round, seconds) or None
        Called after each timed call, outside the timing, with the round
        (from 1): progress for rows whose calls take minutes.

    Returns
    -------
    dict of name -> median seconds
    """
    for _ in range(warmup):
        for f in funcs.values():
            for g in (f if isinstance(f, tuple) else (f,)):
                g()
    times = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            spans = []
            for g in (f if isinstance(f, tuple) else (f,)):
                if settle:
                    time.sleep(settle)
                t0 = time.perf_counter()
                g()
                spans.append(time.perf_counter() - t0)
            times[k].append(spans[0] - sum(spans[1:]))
            if report is not None:
                report(k, len(times[k]), times[k][-1])
    return {k: float(np.median(v)) for k, v in times.items()}


def epoch_time_fn(X, y, batch_size, lr=0.1, **kwargs):
    """A callable running one epoch of :func:`fastlr.train` on validated input.

    Times the epoch itself, as it runs inside ``train``: validation of X
    (one pass) and standardization statistics are computed once per
    ``train`` call, not per epoch, and are left out by timing
    the training loop (:func:`fastlr._sgd.sgd`) directly.
    """
    from ._dispatch import as_data
    from ._order import make_rng
    from ._sgd import sgd
    from ._state import ModelState
    from ._validation import check_labels01, check_sample_weight

    data = as_data(X)
    y01 = check_labels01(y, m=data.m, require_both=True, dtype=np.int64)
    sw = check_sample_weight(None, data.m)
    standardize = kwargs.pop("standardize", True)
    mean, scale = (a[0] for a in data.standardization(standardize))
    opts = dict(batch_size=batch_size, epochs=1, lr=lr, shuffle=False,
                penalty=None, alpha=0.0, epoch_loss="running", tol=None,
                n_iter_no_change=5)
    opts.update(kwargs)

    def run():
        state = ModelState(mean, scale)
        sgd(data, y01, sw, state, rng=make_rng(0), **opts)
        return state

    return run


def marginal_epoch_fn(X, y, batch_size, lr=0.1, **kwargs):
    """One epoch of fastlr's training loop measured as the reference's and
    scikit-learn's are, for :func:`interleaved`: the pair of
    :func:`epoch_time_fn` calls of one epoch and of none, so that the loop's
    fixed cost per call (its state, the start of the loop: half of a
    one-epoch call on 1000 x 1) cancels as theirs does."""
    return (epoch_time_fn(X, y, batch_size, lr=lr, **kwargs),
            epoch_time_fn(X, y, batch_size, lr=lr, **{**kwargs, "epochs": 0}))


def sklearn_epoch_fn(X, y, lr=0.1, penalty=None, alpha=1e-4):
    """One epoch of scikit-learn ``SGDClassifier(loss="log_loss")``, for
    :func:`interleaved`: the pair of ``fit`` calls of two epochs and of one
    (its input validation and set-up, 14 ms of a one-epoch fit on 200k x
    100, cancel)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    def fit(epochs):
        clf = SGDClassifier(loss="log_loss", penalty=penalty, alpha=alpha,
                            max_iter=epochs, tol=None,
                            learning_rate="constant", eta0=lr, shuffle=False,
                            random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        return clf

    return (lambda: fit(2)), (lambda: fit(1))


def reference_epoch_fn(X, y, batch_size, lr=0.1):
    """One epoch of :func:`fastlr.reference.train`, same options, for
    :func:`interleaved`: the pair of calls of one epoch and of none on a
    standardized copy of X made here, with ``standardize=False``, so that
    its validation cancels and its standardization statistics are not
    timed (three times its epoch on 200k x 100; on 1M x 100 their
    temporaries' page faults made the call vary by seconds), nor its
    per-batch standardization: a lower bound of its epoch. The copy has
    X's dtype (the statistics are float64, and would make it float64)."""
    mean, scale = reference.column_stats(X)
    Xs = ((X - mean) / scale).astype(X.dtype, copy=False)

    def run(epochs):
        return reference.train(Xs, y, batch_size=batch_size, epochs=epochs, lr=lr,
                               shuffle=False, standardize=False)
    return (lambda: run(1)), (lambda: run(0))


def quick_table(rows=200_000, features=100, batch_sizes=(32, 256, 4096),
                dtype="float64", repeats=3, sklearn=True, ref=True):
    """Epoch time and rows/s of fastlr, the NumPy reference and scikit-learn.

    Every epoch is marginal, timed the same way for the three: a call of
    one more epoch minus a call of one less (:func:`marginal_epoch_fn`,
    :func:`reference_epoch_fn`, :func:`sklearn_epoch_fn`), all three on
    ``dtype`` data.

    Returns a list of dicts: ``impl``, ``batch_size``, ``seconds``,
    ``rows_per_s``, ``vs_floor`` (time / floor) and ``speedup`` (how many
    times faster fastlr is than this row: the reference's against fastlr at
    the same batch size, scikit-learn's (per-sample SGD, batch size 1)
    against fastlr's fastest batch size; 1 for fastlr itself; NaN when
    fastlr's epoch drowned in the noise).

    A batch size given twice is refused (a row each: it was measured once,
    silently).
    """
    twice = first_repeated(batch_sizes)
    if twice is not None:
        raise ValueError(f"batch_sizes must list each batch size once, got "
                         f"{twice!r} twice in {tuple(batch_sizes)!r}")
    X, y = make_workload(rows, features, np.dtype(dtype))
    funcs = {("floor", None): lambda: stream_sum(X)}
    for bs in batch_sizes:
        funcs[("fastlr", bs)] = marginal_epoch_fn(X, y, bs)
        if ref:
            funcs[("reference", bs)] = reference_epoch_fn(X, y, bs)
    if sklearn:
        funcs[("sklearn SGDClassifier", 1)] = sklearn_epoch_fn(X, y)
    t = interleaved(funcs, repeats=repeats)
    floor = t[("floor", None)]
    # (a marginal epoch lost in the noise is no best: NaN if all are)
    best = min((t[("fastlr", bs)] for bs in batch_sizes if t[("fastlr", bs)] > 0),
               default=np.nan)
    out = []
    for (impl, bs), sec in t.items():
        fast = {"floor": sec, "fastlr": sec, "reference": t.get(("fastlr", bs))}.get(
            impl, best)
        out.append({"impl": impl, "batch_size": bs, "seconds": sec,
                    "rows_per_s": rows / sec if sec > 0 else np.nan,
                    "vs_floor": sec / floor,
                    "speedup": sec / fast if fast > 0 else np.nan})
    return out


def _ms(seconds):
    """Milliseconds to three significant digits, whole from 100 ms: at a
    fixed 0.1 ms the floor of a small --rows read "0.0"."""
    ms = seconds * 1e3
    return "0.0" if ms == 0.0 else f"{ms:.0f}" if abs(ms) >= 100 else f"{ms:.3g}"


def format_quick(table, rows, features, dtype):
    """The table of :func:`quick_table` as text, one row per implementation
    and batch size; columns are separated by at least two spaces."""
    cols = [("implementation", "<", 22), ("batch", ">", 5), ("epoch ms", ">", 9),
            ("rows/s", ">", 9), ("time / floor", ">", 12),
            ("fastlr is", "<", 18)]
    def line(values):
        return "  ".join(f"{v:{a}{w}}" for v, (_, a, w) in
                         zip(values, cols, strict=True)).rstrip()

    head = line([c[0] for c in cols])
    lines = [f"one epoch on {rows:,} x {features} {dtype} (X ~ N(0,1)); "
             "medians of interleaved runs", head, "-" * len(head)]
    for r in table:
        bs = "-" if r["batch_size"] is None else str(r["batch_size"])
        faster = "" if r["impl"] in ("floor", "fastlr") else (
            # a marginal epoch, this one or fastlr's, within the noise
            "(below the noise)" if not (r["seconds"] > 0.0 and r["speedup"] > 0.0)
            else f"{r['speedup']:.1f}x faster" if r["speedup"] >= 1.0
            else f"{1.0 / r['speedup']:.1f}x slower")
        lines.append(line([r["impl"], bs, _ms(r["seconds"]),
                           f"{r['rows_per_s']:.3g}", f"{r['vs_floor']:.2f}",
                           faster]))
    lines.append("Every epoch is marginal, fastlr's too: a call of one more "
                 "epoch minus a call of one less,")
    impls = {r["impl"] for r in table}
    what = ["fastlr's training loop on validated X"]
    if "reference" in impls:
        what.append("the reference on a standardized copy")
    if any(impl.startswith("sklearn") for impl in impls):
        what.append("sklearn's fit")
    lines.append(f"all on {dtype} X ({', '.join(what)}).")
    if any(r["impl"].startswith("sklearn") for r in table):
        lines.append("sklearn runs per-sample SGD; its 'fastlr is' column "
                     "compares with fastlr's fastest batch size above.")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# the full table of the performance targets


def _peak_rss_of(m, n, dtype, warmup, call, setup=""):
    """Peak RSS added by the Python statement ``call`` in a fresh
    subprocess, on ``X, y = make_workload(m, n, dtype)`` (C-contiguous) and
    what ``setup`` defines, bytes; and X's bytes.

    The kernel's peak is reset (Linux ``/proc/self/clear_refs``) after the
    data are built and the kernels compiled or loaded by ``warmup``
    (``call`` on a small slice; compilation memory is numba's, once per
    process), so only the call's own allocations count.
    """
    code = f"""
import gc, numpy as np, fastlr
from fastlr.bench import make_workload
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
X, y = make_workload({m}, {n}, np.{dtype})
{setup}
# compile / load every kernel the call will use, the threaded one included, on
# a small slice, so that no large block is freed and reused before measuring
import fastlr._dispatch as d
limit = d.PARALLEL_MIN_TRAIN_ELEMENTS
d.PARALLEL_MIN_TRAIN_ELEMENTS = 0
{warmup}
d.PARALLEL_MIN_TRAIN_ELEMENTS = limit
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                                  # reset the peak to the current RSS
before = hwm()
{call}
print(hwm() - before, X.nbytes)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


def _peak_rss_added(m, n, dtype):
    """Peak RSS added by train() on C-contiguous X (fresh subprocess,
    :func:`_peak_rss_of`), bytes; and X's bytes."""
    return _peak_rss_of(
        m, n, dtype,
        "fastlr.train(X[:2000], y[:2000], batch_size=256, epochs=1, standardize=True)",
        "fastlr.train(X, y, batch_size=256, epochs=2, lr=0.1, standardize=True)")


def _cold_start_seconds(code, repeats=3):
    """Median wall time of a new process running ``code`` (after one warm-up
    run that fills numba's cache)."""
    subprocess.run([sys.executable, "-c", code], check=True)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


#: A new process importing fastlr and training once on 1000 x 10.
COLD_FASTLR = ("import numpy as np, fastlr; r = np.random.default_rng(0); "
               "X = r.normal(size=(1000, 10)); y = (X[:, 0] > 0).astype(int); "
               "fastlr.train(X, y, epochs=1)")

#: numba's own floor: import numba and call one trivial cached kernel.
COLD_NUMBA = ("import numpy as np, fastlr._kernels.scalar as k; "
              "k.sigmoid(0.0)")


#: Rows and columns of the first-call measurement (P15).
FIRST_CALL_SHAPE = (2_000_000, 20)

#: A new process: the same call twice on X ~ N(0, 1) float64 (built before
#: the timing), printing the seconds of the first and of the second call.
#: The labels are built without BLAS: OpenBLAS's threads spin for about 0.1
#: s after ``X @ w``, and on two cores they took a core from the first
#: timed call (30-40 ms of it), a cost of the set-up, not of fastlr.
FIRST_CALL = """
import time, warnings
import numpy as np, fastlr
warnings.simplefilter("ignore")
rows, cols = {rows}, {cols}
X = np.random.default_rng(0).standard_normal((rows, cols))
w = np.linspace(-1.0, 1.0, cols)
y = (np.einsum("ij,j->i", X, w) > 0).astype(np.int64)
call = {call}
t0 = time.perf_counter(); call()
t1 = time.perf_counter(); call()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

#: The calls of FIRST_CALL: prediction, a one-epoch training run, and
#: NumPy filling a new array of prediction's output size: memory a process
#: has not used before costs page faults (and, in a virtual machine, the
#: host's backing of it) on its first use, a cost of the first call that
#: is neither fastlr's nor a compile.
FIRST_CALLS = {
    "predict_proba": "lambda: fastlr.predict_proba(X, w, 0.1)",
    "train": "lambda: fastlr.train(X, y, batch_size=256, epochs=1, random_state=0)",
    "fresh output": "lambda: np.full(rows, 0.5)",
}


def first_call_times(call="predict_proba", shape=FIRST_CALL_SHAPE, repeats=5):
    """``(first, second)``: medians over ``repeats`` new processes of the
    seconds of the first and of the second ``call`` (a key of
    :data:`FIRST_CALLS`) in that process, and the median of their ratios
    ``first / second`` per process, after one untimed process that fills
    the kernel cache: so the first call loads its kernels, it does not
    compile them."""
    code = FIRST_CALL.format(rows=shape[0], cols=shape[1], call=FIRST_CALLS[call])
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], check=True,
                             capture_output=True, text=True).stdout.split()
        runs.append((float(out[-2]), float(out[-1])))
    first, second = np.median(np.array(runs), axis=0)
    return float(first), float(second), float(np.median([a / b for a, b in runs]))


def _time_to_quality(X, y, repeats=1):
    """Seconds for fastlr to reach a held-out log-loss within 0.5% of
    scikit-learn's LogisticRegression (lbfgs), and lbfgs's own fit time."""
    from sklearn.linear_model import LogisticRegression

    cut = int(0.8 * X.shape[0])
    Xtr, Xte, ytr, yte = X[:cut], X[cut:], y[:cut], y[cut:]
    t0 = time.perf_counter()
    sk = LogisticRegression().fit(Xtr, ytr)
    t_lbfgs = time.perf_counter() - t0
    target = core.log_loss(yte, sk.predict_proba(Xte)[:, 1]) * 1.005
    for epochs in range(1, 21):
        t0 = time.perf_counter()
        res = core.train(Xtr, ytr, batch_size=256, epochs=epochs, lr=0.05,
                         random_state=0)
        t = time.perf_counter() - t0
        loss = core.log_loss(yte, core.predict_proba(Xte, res.w, res.b))
        if loss <= target:
            return t, t_lbfgs, epochs, loss / target * 1.005
    return float("nan"), t_lbfgs, None, loss / target * 1.005


def train_call_fn(X, y, batch_size=256, **kwargs):
    """One whole :func:`fastlr.train` call of one epoch (validation,
    standardization statistics, the epoch, the raw-space model)."""
    def run():
        return core.train(X, y, batch_size=batch_size, epochs=1, lr=0.1,
                          random_state=0, **kwargs)
    return run


def stats_pass_fns(X):
    """``{"fused": ..., "passes": ...}``: what precedes the first epoch of a
    standardized ``train`` on dense X (validation and the column
    statistics), as one fused read (what ``train`` runs) and as the three
    separate passes it replaced (the finiteness check, the largest ``|x|``,
    the shifted sums; still the path of ``rows=``/``folds``)."""
    from . import _stats
    from ._dispatch import Data, as_data, check_finite

    def passes():
        data = Data(X)
        check_finite(data)
        amax, shift = data.absmax()
        data.shifted_sums(_stats.scaling(amax)[1], shift)

    return {"fused": lambda: as_data(X, with_stats=True), "passes": passes}


#: A child of :func:`concurrent_training_seconds`: builds its data, waits for
#: "go" on stdin, trains, prints its start and end times.
_CONCURRENT_CHILD = """
import sys, time, numpy as np, fastlr
from fastlr.bench import make_workload
X, y = make_workload({rows}, {features}, np.float64, seed={seed})
fastlr.train(X[:5000], y[:5000], batch_size={batch}, epochs=1, n_threads={threads})
print("ready", flush=True)
sys.stdin.readline()
t0 = time.time()
fastlr.train(X, y, batch_size={batch}, epochs={epochs}, lr=0.1, random_state=0,
             n_threads={threads})
print(t0, time.time(), flush=True)
"""


def concurrent_training_seconds(threads, processes=2, rows=500_000,
                                features=100, batch=256, epochs=2):
    """Wall time of ``processes`` processes training at once (each a whole
    ``train`` call, ``n_threads=threads``): from the first start to the last
    end, data built and kernels loaded beforehand."""
    # the children import this fastlr, installed or not
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [here, *filter(None, [os.environ.get("PYTHONPATH")])]))
    procs = [subprocess.Popen(
        [sys.executable, "-c", _CONCURRENT_CHILD.format(
            rows=rows, features=features, seed=s, batch=batch, threads=threads,
            epochs=epochs)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for s in range(processes)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a training process failed to start")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        spans = [tuple(map(float, p.stdout.readline().split())) for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
            p.wait()
    return max(e for _, e in spans) - min(s for s, _ in spans)


def performance_table(rows=FULL_ROWS, features=FULL_FEATURES, repeats=5,
                      progress=print):
    """Measure every performance target; returns a list of dicts
    ``(id, what, value, target, ok)`` (``value`` a ratio or seconds)."""

    X, y = make_workload(rows, features, np.float64)
    X32 = X.astype(np.float32)
    out = []

    def add(pid, what, value, target, ok):
        out.append({"id": pid, "what": what, "value": value, "target": target,
                    "ok": bool(ok)})
        progress(f"{pid:<4}{what:<58}{value:>8.3f}  target {target}")

    threads = team.threads()
    progress(f"workload {rows:,} x {features}, {threads} numba threads, "
             f"{repeats} interleaved repeats")
    # P1-P3, P6: batch 256, numba's thread count (one thread: information)
    f = {
        "floor64": lambda: stream_sum(X),
        "floor32": lambda: stream_sum(X32),
        "loss": epoch_time_fn(X, y, 256),
        "noloss": epoch_time_fn(X, y, 256, epoch_loss=None),
        "loss1": epoch_time_fn(X, y, 256, n_threads=1),
        "noloss1": epoch_time_fn(X, y, 256, n_threads=1, epoch_loss=None),
        "f32": epoch_time_fn(X32, y, 256),
        "shuffled": epoch_time_fn(X, y, 256, shuffle=True),
    }
    t = interleaved(f, repeats=repeats)
    add("P1", "float64 epoch, batch 256, loss tracked / floor", t["loss"] / t["floor64"],
        "<= 1.5", t["loss"] / t["floor64"] <= 1.5)
    add("P1", "  the same on one thread / floor", t["loss1"] / t["floor64"],
        "(info)", True)
    add("P2", "float64 epoch, batch 256, no loss / floor", t["noloss"] / t["floor64"],
        "<= 1.25", t["noloss"] / t["floor64"] <= 1.25)
    add("P2", "  the same on one thread / floor", t["noloss1"] / t["floor64"],
        "(info)", True)
    add("P3", "float32 epoch / float64 epoch, batch 256", t["f32"] / t["loss"],
        "<= 0.7", t["f32"] / t["loss"] <= 0.7)
    add("P6", "shuffled (blocks) epoch / natural-order epoch", t["shuffled"] / t["loss"],
        "<= 1.5", t["shuffled"] / t["loss"] <= 1.5)
    progress(f"    (floor: float64 {t['floor64'] * 1e3:.1f} ms, float32 "
             f"{t['floor32'] * 1e3:.1f} ms; epoch float64 {t['loss'] * 1e3:.1f} ms)")
    # P4: vs the reference
    for bs, target in ((32, 12), (256, 5), (4096, 4)):
        t = interleaved({"fast": marginal_epoch_fn(X, y, bs),
                         "ref": reference_epoch_fn(X, y, bs)},
                        repeats=max(1, repeats // 2))
        add("P4", f"reference / fastlr, float64, batch {bs}", t["ref"] / t["fast"],
            f">= {target}", t["ref"] / t["fast"] >= target)
    # P5: vs scikit-learn SGDClassifier
    t = interleaved({"fast": marginal_epoch_fn(X, y, 256),
                     "fast1": marginal_epoch_fn(X, y, 1),
                     "sk": sklearn_epoch_fn(X, y)}, repeats=max(1, repeats // 2))
    add("P5", "sklearn SGDClassifier epoch / fastlr epoch (batch 256)",
        t["sk"] / t["fast"], ">= 5", t["sk"] / t["fast"] >= 5)
    add("P5", "  the same, fastlr at batch 1 (scikit-learn's step)",
        t["sk"] / t["fast1"], "(info)", True)
    # P7, P8: threads
    if threads > 1:
        for bs in (4096, 16384):
            t = interleaved({"1": epoch_time_fn(X, y, bs, n_threads=1),
                             "n": epoch_time_fn(X, y, bs, n_threads=threads)},
                            repeats=repeats)
            add("P7", f"{threads} threads / 1 thread, batch {bs}", t["n"] / t["1"],
                "<= 0.65", t["n"] / t["1"] <= 0.65)
        a = epoch_time_fn(X, y, 4096, n_threads=1)().W[0]
        b = epoch_time_fn(X, y, 4096, n_threads=threads)().W[0]
        add("P7", "max |w(1 thread) - w(n threads)| (identical: 0)",
            float(np.max(np.abs(a - b))), "== 0", np.array_equal(a, b))
        for bs in (32, 64, 256):
            t = interleaved({"1": epoch_time_fn(X, y, bs, n_threads=1),
                             "n": epoch_time_fn(X, y, bs, n_threads=threads)},
                            repeats=repeats)
            add("P8", f"{threads} threads / 1 thread, batch {bs} (auto)",
                t["n"] / t["1"], "<= 1 +noise", t["n"] / t["1"] <= 1.1)
    # P9: memory
    added, nbytes = _peak_rss_added(rows, features, "float64")
    add("P9", "peak RSS added by train (standardize on) / X bytes",
        added / nbytes, "<= 0.05", added / nbytes <= 0.05)
    # P10: cold start, and numba's own floor for it
    cold = _cold_start_seconds(COLD_FASTLR)
    floor = _cold_start_seconds(COLD_NUMBA)
    add("P10", "new process: import + first train 1000x10, seconds", cold,
        "<= 1.0", cold <= 1.0)
    add("P10", "  numba floor: new process, 1st call of 1 cached kernel, s",
        floor, "(info)", True)
    # P15: the first call of a new process (kernels loaded, not compiled)
    rows15, cols15 = FIRST_CALL_SHAPE
    for call, pid, target in (("predict_proba", "P15", 1.2), ("train", "P15", None)):
        first, second, ratio = first_call_times(call, repeats=repeats)
        what = (f"new process: first / second {call}, {rows15 // 10**6}M x "
                f"{cols15}" + ("" if call == "predict_proba" else ", 1 epoch"))
        add(pid, what, ratio, f"<= {target}" if target else "(info)",
            ratio <= target if target else True)
        progress(f"    (first {first * 1e3:.0f} ms, second {second * 1e3:.0f} ms)")
    first, second, _ = first_call_times("fresh output", repeats=repeats)
    add("P15", f"  NumPy alone: 1st - 2nd fill of a new {rows15:,} array, ms",
        (first - second) * 1e3, "(info)", True)
    # S1: sparse CSR epoch vs scikit-learn on the same CSR matrix
    Xs, ys = make_sparse_workload(200_000, 1_000_000, 20)
    for bs, pen in ((1, "l2"), (32, "l2"), (32, "l1")):
        # raw features for both (what SGDClassifier trains on)
        t = interleaved({"fast": epoch_time_fn(Xs, ys, bs, penalty=pen, alpha=1e-5,
                                               standardize=False),
                         "sk": sklearn_epoch_fn(Xs, ys, penalty=pen, alpha=1e-5)},
                        repeats=max(1, repeats // 2))
        add("S1", f"sklearn / fastlr, CSR 200k x 1M, {pen}, fastlr batch {bs}",
            t["sk"] / t["fast"], "(info)", True)
    del Xs, ys
    # P12, P13: a whole one-epoch train call, and what precedes its epoch
    f = {"floor": lambda: stream_sum(X), "call": train_call_fn(X, y),
         **stats_pass_fns(X)}
    t = interleaved(f, repeats=repeats)
    add("P12", "one train(epochs=1) call, standardized, batch 256 / floor",
        t["call"] / t["floor"], "<= 2.0", t["call"] / t["floor"] <= 2.0)
    add("P13", "validation + standardization statistics / floor",
        t["fused"] / t["floor"], "<= 1.0", t["fused"] / t["floor"] <= 1.0)
    add("P13", "  the same as three separate passes / floor",
        t["passes"] / t["floor"], "(info)", True)
    # P14: two processes at once, 2 threads each / 1 thread each
    if threads > 1:
        times = {1: [], 2: []}
        for _ in range(repeats):
            for n in (2, 1):
                times[n].append(concurrent_training_seconds(n))
        ratio = float(np.median(times[2]) / np.median(times[1]))
        add("P14", "2 processes at once: 2 threads each / 1 thread each",
            ratio, "<= 1.1", ratio <= 1.1)
    # S2-S5: the sparse targets at rcv1's shape
    from .bench_sparse import sparse_targets
    sparse_targets(add, repeats, progress)
    # P11: time to quality vs lbfgs
    t_fast, t_lbfgs, epochs, _ = _time_to_quality(X, y)
    add("P11", f"time to lbfgs loss +0.5% / lbfgs fit ({epochs} epochs)",
        t_fast / t_lbfgs, "<= 0.3", t_fast / t_lbfgs <= 0.3)
    out.extend(many_models_table(X, y, repeats=repeats, progress=progress))
    # O1-O4: the deterministic solver against scikit-learn's
    from .bench_solvers import solver_targets

    out += solver_targets(X, y, repeats=max(1, repeats // 2), progress=progress)
    return out


def format_performance(table):
    # a label longer than the column pushed its value out of line
    width = max([58, *(len(r["what"]) for r in table)])
    head = f"{'id':<5}{'measure':<{width}}{'value':>9}  {'target':<9}{'met':>4}"
    lines = [head, "-" * len(head)]
    for r in table:
        # an information row has no target to meet
        met = "-" if r["target"] == "(info)" else "yes" if r["ok"] else "NO"
        lines.append(f"{r['id']:<5}{r['what']:<{width}}{r['value']:>9.3f}  "
                     f"{r['target']:<9}{met:>4}")
    # the CPUs the run may use, as the figures name them: os.cpu_count()
    # is the host's, and called a run limited to one CPU a 2-core machine
    cpus = cpus_note()
    host = os.cpu_count()
    if host and host != int(cpus.split()[0]):
        cpus += f" of the host's {host}"
    lines.append(f"machine: {cpus}, numba "
                 f"{__import__('numba').__version__}, numpy {np.__version__}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# many models from one pass: train_many and LogisticRegressionCV (M1-M5)

#: Models of the M1 / M4 joint runs (16 L2 strengths, no folds).
MANY_K = 16
#: The K of the epoch-cost scan (:func:`k_scan`).
K_SCAN = (1, 2, 4, 8, 16, 32, 64)
#: Rows x features of the M2 / M3 cross-validation workload.
CV_ROWS, CV_FEATURES = 200_000, 100
#: The fastlr side of M2 / M3 (besides alphas=8, cv=5): the default solver
#: ("auto": one joint SGD epoch in batches of 256 at a constant rate of
#: 0.05, then each model's L-BFGS run to a relative decrease of 1e-4, the
#: refit too; n_iter_no_change applies to solver="sgd" only).
CV_FASTLR = dict(batch_size=256, lr=0.05, tol=1e-4, n_iter_no_change=3,
                 random_state=0)


def many_epoch_fn(X, y, K, batch_size=256, lr=0.1, n_threads=None, standardize=True,
                  penalty="l2"):
    """A callable running one epoch of :func:`fastlr.train_many`'s joint run
    of K models (K strengths log-spaced over 1e-6..1e-2, no folds) on
    validated input.

    As :func:`epoch_time_fn`, it times the epoch itself: validation and the
    standardization statistics are computed once, outside the timed call;
    each call starts the K models at zero. K = 1 runs the same kernel as
    :func:`epoch_time_fn` does for one model.
    """
    from ._dispatch import as_data
    from ._kernels.update import hyperparameters
    from ._order import make_rng
    from ._sgd import sgd_many
    from ._state import ModelStack
    from ._validation import check_class_labels, check_sample_weight

    data = as_data(X)
    classes, codes = check_class_labels(y, data.m)
    softmax = classes.shape[0] > 2
    sw = check_sample_weight(None, data.m)
    mean, scale = data.standardization(standardize)
    hyper = [hyperparameters(penalty, a, 0.15, lr) for a in np.logspace(-6, -2, K)]

    def run():
        stack = ModelStack(mean, scale, classes.shape[0] if softmax else 1, softmax,
                           hyper, stat=np.zeros(K, dtype=np.int64))
        sgd_many(data, codes, sw, stack, batch_size=batch_size, epochs=1,
                 shuffle=False, rng=make_rng(0), epoch_loss="running", tol=None,
                 n_iter_no_change=5, n_threads=n_threads)
        return stack

    return run


#: Rounds of :func:`multiply_adds_fn`: 22 ms on one thread of a Zen 4 EPYC.
FMA_ROUNDS = 10_000_000


def multiply_adds_fn(n_threads=1, rounds=FMA_ROUNDS):
    """A callable running :func:`fastlr._kernels.stats.multiply_adds`
    (``rounds`` rounds of 64 multiply-adds) on each of ``n_threads`` threads
    of the team at once: ``n_threads * rounds * 64`` divided by its time is
    the arithmetic floor's rate. On the machine these figures were first
    measured on (2 vCPUs of a Zen 4 EPYC) two threads did 1.0-1.7x what one
    did, from run to run: at times the two shared one core's FMA units.
    The callable returns the kernel's ``out`` (each thread's is the same).
    Each thread's share is fixed: every one waits until all have started
    (a call does not wait for a helper that has not started, and the count
    would then be wrong: :func:`fastlr._kernels.team._join`)."""
    out = np.zeros(8)

    # (no more threads than the team has: the others would never start)
    n_threads = team.threads(n_threads)

    def run():
        ready = threading.Barrier(n_threads, timeout=60)

        def share():
            try:
                ready.wait()
            except BaseException:
                ready.abort()   # a Ctrl-C here: the others stop waiting
                raise
            multiply_adds(rounds, out)

        team.run(n_threads, share, ())
        return out

    return run


def k_scan(X, y, Ks=K_SCAN, batch_size=256, repeats=3, n_threads=None, **kwargs):
    """Epoch seconds of the joint run of K models for each K of ``Ks``,
    beside one model trained by :func:`fastlr.train` and the floor (dense X
    only), timed in interleaved rounds.

    Returns a dict: ``K -> seconds``, plus ``"train"`` (one model) and
    ``"floor"`` (one read of X; dense X only).
    """
    funcs = {K: many_epoch_fn(X, y, K, batch_size, n_threads=n_threads, **kwargs)
             for K in Ks}
    funcs["train"] = epoch_time_fn(X, y, batch_size, n_threads=n_threads,
                                   penalty=kwargs.get("penalty", "l2"), alpha=1e-4,
                                   standardize=kwargs.get("standardize", True))
    if isinstance(X, np.ndarray):
        funcs["floor"] = lambda: stream_sum(X)
    return interleaved(funcs, repeats=repeats)


def format_k_scan(t, what):
    """The table of :func:`k_scan`: per K the epoch time, its ratio to one
    model's epoch and to the floor (one read of X), and the time per model."""
    base = t["train"]
    floor = t.get("floor")
    lines = [f"one epoch of K models from one pass, {what}; medians of "
             "interleaved runs",
             f"{'K':>5}  {'epoch ms':>9}  {'/ 1 model':>9}  {'/ floor':>7}  "
             f"{'ms per model':>12}"]

    def row(name, sec, per_model):
        vs_floor = f"{sec / floor:>7.2f}" if floor else f"{'-':>7}"
        lines.append(f"{name:>5}  {sec * 1e3:>9.1f}  {sec / base:>9.2f}  "
                     f"{vs_floor}  {per_model}")

    if floor:
        row("floor", floor, "")
    row("train", base, f"{base * 1e3:>12.1f}")
    for K in sorted(k for k in t if isinstance(k, int)):
        row(str(K), t[K], f"{t[K] / K * 1e3:>12.1f}")
    return "\n".join(lines)


def make_correlated_workload(m, n, condition=1e4, seed=0):
    """Standardized features with correlated columns, and logistic labels.

    ``X = Z @ A.T`` with Z ~ N(0, 1) and A a random rotation scaled so that
    the covariance has eigenvalues falling as ``1 / j**p`` (``p`` chosen for
    the given condition number), then each column centred and scaled to unit
    variance; y ~ Bernoulli(sigmoid(z)) with ``z = X w* + 0.5`` rescaled to
    standard deviation 2. Features that share most of their information
    are what real tables look like (sums, ratios, one measurement in two
    units); the gradient solvers' iterations grow with the condition
    number, an SGD epoch's cost does not.
    """
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    power = np.log(condition) / np.log(n)
    A = Q * np.sqrt(1.0 / np.arange(1, n + 1) ** power)
    X = rng.standard_normal((m, n)) @ A.T
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    z = X @ (rng.normal(size=n) / np.sqrt(n)) + 0.5
    z *= 2.0 / z.std()
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return np.ascontiguousarray(X), y


def _quiet(fit):
    """Run ``fit()`` without scikit-learn's convergence and future warnings
    (lbfgs at max_iter on the weakest penalties; they are part of its run)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return fit()


#: What :func:`cv_comparison` calls each side in its progress lines.
CV_LABELS = {"fastlr": "fastlr LogisticRegressionCV(alphas=8)",
             "lrcv": "sklearn LogisticRegressionCV(Cs=8)",
             "grid": "sklearn GridSearchCV(SGDClassifier)"}


def cv_comparison(X, y, peers=("lrcv", "grid"), repeats=3, test_fraction=0.2,
                  progress=None):
    """M2 / M3: fastlr's ``LogisticRegressionCV(alphas=8, cv=5)`` end to end
    against scikit-learn's ``LogisticRegressionCV(Cs=8, cv=5)`` (lbfgs) and
    ``GridSearchCV(SGDClassifier(loss="log_loss"), 8 alphas, cv=5,
    n_jobs=1)``, on the first ``1 - test_fraction`` of the rows, timed in
    interleaved rounds; the last rows score the chosen models.

    Every side selects by held-out log-loss (``scoring="neg_log_loss"`` for
    scikit-learn's; fastlr's default) and refits. The SGDClassifier grid is
    fastlr's ``alphas_`` (the same objectives: SGDClassifier's ``alpha`` is
    fastlr's), with its default schedule and stopping rule.

    Returns a dict ``name -> {"seconds", "heldout", "alpha"}`` with the
    held-out log-loss of the final model on the last rows. ``progress``, if
    given, receives a line after each timed fit (scikit-learn's grid
    search takes minutes a round on 200,000 rows).
    """
    from sklearn.linear_model import LogisticRegressionCV as SkLRCV
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import GridSearchCV

    from .estimator_cv import LogisticRegressionCV

    cut = int(round((1.0 - test_fraction) * X.shape[0]))
    Xtr, ytr, Xte, yte = X[:cut], y[:cut], X[cut:], y[cut:]
    alphas = LogisticRegressionCV(alphas=8)._alpha_grid(cut)
    fitted = {}
    # load the kernels (numba's cache) outside the timings
    _quiet(lambda: LogisticRegressionCV(alphas=2, cv=2, max_iter=2, **CV_FASTLR).fit(
        Xtr[:4000], ytr[:4000]))

    def run(name, make):
        def fit():
            fitted[name] = _quiet(lambda: make().fit(Xtr, ytr))
        return fit

    funcs = {"fastlr": run("fastlr", lambda: LogisticRegressionCV(
        alphas=8, cv=5, **CV_FASTLR))}
    if "lrcv" in peers:
        funcs["lrcv"] = run("lrcv", lambda: SkLRCV(
            Cs=8, cv=5, l1_ratios=(0.0,), scoring="neg_log_loss",
            use_legacy_attributes=False))
    if "grid" in peers:
        funcs["grid"] = run("grid", lambda: GridSearchCV(
            SGDClassifier(loss="log_loss", random_state=0), {"alpha": alphas},
            cv=5, n_jobs=1, scoring="neg_log_loss"))
    report = None if progress is None else (
        lambda name, r, sec: progress(f"      round {r}/{repeats}: "
                                      f"{CV_LABELS[name]} {sec:.1f} s"))
    t = interleaved(funcs, repeats=repeats, warmup=0, report=report)
    out = {}
    for name, model in fitted.items():
        p = model.predict_proba(Xte)[:, 1]
        alpha = {"fastlr": lambda m: m.alpha_,
                 "lrcv": lambda m: 1.0 / (m.C_ * cut),
                 "grid": lambda m: m.best_params_["alpha"]}[name](model)
        out[name] = {"seconds": t[name], "heldout": core.log_loss(yte, p),
                     "alpha": float(alpha)}
    return out


def _peak_rss_many(m, n, K, folds):
    """Peak RSS added by :func:`fastlr.train_many` with K models on
    C-contiguous float64 X (fresh subprocess, as :func:`_peak_rss_added`),
    bytes; and X's bytes."""
    return _peak_rss_of(
        m, n, "float64",
        f"fastlr.train_many(X[:4000], y[:4000], alphas, folds={folds}, "
        f"batch_size=256, epochs=1)",
        f"fastlr.train_many(X, y, alphas, folds={folds}, batch_size=256, "
        f"epochs=2, lr=0.1)",
        setup=f"alphas = np.logspace(-6, -2, {K} // ({folds} or 1))")


def model_bytes(n, k=1):
    """Bytes of one model's arrays in a :class:`fastlr._state.ModelStack`:
    weights and intercepts, standardization, hyperparameters and optimizer
    state (AdaGrad sums, averages, L1 ledgers, step counters)."""
    from ._state import ModelStack

    stack = ModelStack(np.zeros((1, n)), np.ones((1, n)), k, k > 1,
                       [(0.0, 0.0, 0.1)])
    return sum(a.nbytes for a in (stack.mean, stack.scale, stack.hyper,
                                  *stack.arrays()))


def many_models_table(X, y, repeats=5, progress=print, cv=True):
    """The rows M1-M5 of the performance table (see :func:`performance_table`)
    on the dense workload ``(X, y)``, the CSR workload of
    :func:`make_sparse_workload` (200k x 1M) and, for M2 / M3,
    :func:`make_correlated_workload` (200k x 100)."""
    out = []

    def add(pid, what, value, target, ok):
        out.append({"id": pid, "what": what, "value": value, "target": target,
                    "ok": bool(ok)})
        progress(f"{pid:<4}{what:<58}{value:>8.3f}  target {target}")

    rows, features = X.shape
    # M1: dense, K = 16 vs one model; beside them the arithmetic floor:
    # each row costs each model 2 * features multiply-adds (its logit and
    # its gradient), at the rate the threads reach together
    threads = team.threads()
    rounds = FMA_ROUNDS
    t = interleaved({"1": epoch_time_fn(X, y, 256, penalty="l2", alpha=1e-4),
                     "K": many_epoch_fn(X, y, MANY_K, 256),
                     "1t": epoch_time_fn(X, y, 256, penalty="l2", alpha=1e-4,
                                         n_threads=1),
                     "Kt": many_epoch_fn(X, y, MANY_K, 256, n_threads=1),
                     "fma1": multiply_adds_fn(1, rounds),
                     "fma": multiply_adds_fn(threads, rounds)},
                    repeats=repeats)
    add("M1", f"epoch of {MANY_K} models / of 1 model, batch 256",
        t["K"] / t["1"], "<= 2.5", t["K"] / t["1"] <= 2.5)
    add("M1", "  the same on one thread", t["Kt"] / t["1t"], "(info)", True)
    arith = 2 * MANY_K * rows * features * t["fma"] / (threads * rounds * 64)
    add("M1", f"  multiply-adds a second, {threads} threads / 1 thread",
        threads * t["fma1"] / t["fma"], "(info)", True)
    add("M1", f"  epoch of {MANY_K} models / its multiply-add floor", t["K"] / arith,
        "(info)", True)
    add("M1", "  that floor / epoch of 1 model: the least M1 here", arith / t["1"],
        "(info)", True)
    # the scan
    scan = k_scan(X, y, repeats=repeats)
    for K in K_SCAN:
        add("M1", f"  epoch of {K} models / of 1 model (scan)", scan[K] / scan["train"],
            "(info)", True)
    progress(format_k_scan(scan, f"{rows:,} x {features} float64, batch 256"))
    # M4: CSR
    Xs, ys = make_sparse_workload(200_000, 1_000_000, 20)
    t = interleaved({"1": epoch_time_fn(Xs, ys, 256, penalty="l2", alpha=1e-4),
                     "K": many_epoch_fn(Xs, ys, MANY_K, 256)},
                    repeats=repeats)
    add("M4", f"CSR 200k x 1M: epoch of {MANY_K} models / of 1 model",
        t["K"] / t["1"], "<= 4", t["K"] / t["1"] <= 4)
    del Xs, ys
    # M5: memory of the joint run
    for K, folds in ((MANY_K, None), (40, 5)):
        added, nbytes = _peak_rss_many(rows, features, K, folds)
        bound = K * model_bytes(features) + 0.05 * nbytes
        add("M5", f"peak RSS added, K = {K}{f' ({folds} folds)' if folds else ''}"
            " / bound", added / bound, "<= 1", added <= bound)
    if not cv:
        return out
    # M2, M3: end to end against scikit-learn
    Xc, yc = make_correlated_workload(CV_ROWS, CV_FEATURES)
    # the slowest rows of the table: every repeat fits scikit-learn's
    # 8 x 5 models twice over (GridSearchCV takes minutes a round here)
    progress(f"M2, M3: fastlr's and scikit-learn's cross-validations on "
             f"{CV_ROWS:,} x {CV_FEATURES}, then on X ~ N(0, 1), interleaved "
             f"rounds: {repeats} (most of --full's time: scikit-learn's grid "
             "search takes minutes a round)")
    res = cv_comparison(Xc, yc, repeats=repeats, progress=progress)
    fast = res["fastlr"]
    for pid, peer, label in (("M2", "lrcv", "LogisticRegressionCV(Cs=8)"),
                             ("M3", "grid", "GridSearchCV(SGDClassifier)")):
        ratio = res[peer]["seconds"] / fast["seconds"]
        loss = fast["heldout"] / res[peer]["heldout"]
        add(pid, f"sklearn {label} time / fastlr's", ratio, ">= 10", ratio >= 10)
        add(pid, "  held-out log-loss, fastlr / sklearn", loss, "<= 1.01",
            loss <= 1.01)
    Xn, yn = make_workload(CV_ROWS, CV_FEATURES)
    res = cv_comparison(Xn, yn, peers=("lrcv",), repeats=repeats, progress=progress)
    add("M2", "  on X ~ N(0, 1) (lbfgs's best case), time ratio",
        res["lrcv"]["seconds"] / res["fastlr"]["seconds"], "(info)", True)
    add("M2", "  on X ~ N(0, 1), held-out log-loss ratio",
        res["fastlr"]["heldout"] / res["lrcv"]["heldout"], "(info)", True)
    return out
