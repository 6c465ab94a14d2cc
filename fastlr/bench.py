"""Side-by-side speed measurements on this machine (``fastlr bench``).

Everything is quoted as a ratio measured in one run: implementations are
timed in interleaved repetitions (A, B, C, A, B, C, ...) and the medians are
compared, so load from other processes hits them alike. The *floor* is one
thread reading X once (:func:`stream_sum`): no epoch can be
faster than streaming X from memory.

:func:`quick_table` is what ``fastlr bench`` prints by default;
:func:`performance_table` measures every row of the performance targets
(``fastlr bench --full`` and ``benchmarks/compare.py``).
"""

import os
import subprocess
import sys
import time
import warnings

import numpy as np

from . import core, reference
from ._kernels.stats import stream_sum

__all__ = ["interleaved", "make_sparse_workload", "make_workload",
           "performance_table", "quick_table", "stream_sum"]

#: Default workload of the performance targets: X ~ N(0, 1), 1M x 100.
FULL_ROWS, FULL_FEATURES = 1_000_000, 100


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


def make_sparse_workload(m, n, nnz_per_row=20, seed=0):
    """A CSR X of shape (m, n) with ``nnz_per_row`` N(0, 1) entries per row
    at uniformly random columns (duplicates summed), and labels
    y ~ Bernoulli(sigmoid(X w* + 0.5)), ``w*`` ~ N(0, 1 / nnz_per_row).

    Like text or one-hot click logs: most columns appear in a handful of
    rows, so a batch touches a tiny fraction of the weights.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, size=(m, nnz_per_row))
    vals = rng.standard_normal((m, nnz_per_row))
    indptr = np.arange(0, m * nnz_per_row + 1, nnz_per_row)
    X = sp.csr_matrix((vals.reshape(-1), cols.reshape(-1), indptr), shape=(m, n))
    X.sum_duplicates()
    w = rng.normal(size=n) / np.sqrt(nnz_per_row)
    z = X @ w + 0.5
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


def interleaved(funcs, repeats=5, warmup=1, settle=0.0):
    """Median seconds of each callable, timed in interleaved rounds.

    Parameters
    ----------
    funcs : dict of name -> callable()
    repeats : int
        Timed rounds (each round calls every function once).
    warmup : int
        Untimed rounds first (JIT compilation, caches).
    settle : float
        Seconds to sleep before each timed call. OpenBLAS's threads keep
        spinning for about 0.1 s after a large matrix product (NumPy's
        reference implementation), slowing whatever runs next on the same
        cores; a pause lets them go idle.

    Returns
    -------
    dict of name -> median seconds
    """
    for _ in range(warmup):
        for f in funcs.values():
            f()
    times = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            if settle:
                time.sleep(settle)
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
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
    y01 = check_labels01(y, m=data.m, require_both=True).astype(np.int64)
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


def sklearn_epoch_fn(X, y, lr=0.1, penalty=None, alpha=1e-4):
    """One epoch of scikit-learn ``SGDClassifier(loss="log_loss")``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    def run():
        clf = SGDClassifier(loss="log_loss", penalty=penalty, alpha=alpha,
                            max_iter=1, tol=None,
                            learning_rate="constant", eta0=lr, shuffle=False,
                            random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        return clf

    return run


def reference_epoch_fn(X, y, batch_size, lr=0.1):
    """One epoch of :func:`fastlr.reference.train`, same options."""
    def run():
        return reference.train(X, y, batch_size=batch_size, epochs=1, lr=lr,
                               shuffle=False)
    return run


def quick_table(rows=200_000, features=100, batch_sizes=(32, 256, 4096),
                dtype="float64", repeats=3, sklearn=True, ref=True):
    """Epoch time and rows/s of fastlr, the NumPy reference and scikit-learn.

    Returns a list of dicts: ``impl``, ``batch_size``, ``seconds``,
    ``rows_per_s``, ``vs_floor`` (time / floor) and ``speedup`` (how many
    times faster fastlr is than this row; 1 for fastlr itself).
    """
    X, y = make_workload(rows, features, np.dtype(dtype))
    funcs = {("floor", None): lambda: stream_sum(X)}
    for bs in batch_sizes:
        funcs[("fastlr", bs)] = epoch_time_fn(X, y, bs)
        if ref:
            funcs[("reference", bs)] = reference_epoch_fn(X, y, bs)
    if sklearn:
        funcs[("sklearn SGDClassifier", 1)] = sklearn_epoch_fn(X, y)
    t = interleaved(funcs, repeats=repeats)
    floor = t[("floor", None)]
    best = min(t[("fastlr", bs)] for bs in batch_sizes)
    out = []
    for (impl, bs), sec in t.items():
        fast = t.get(("fastlr", bs), best) if impl != "floor" else sec
        out.append({"impl": impl, "batch_size": bs, "seconds": sec,
                    "rows_per_s": rows / sec, "vs_floor": sec / floor,
                    "speedup": sec / fast})
    return out


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
        faster = "" if r["impl"] in ("floor", "fastlr") else \
            f"{r['speedup']:.1f}x faster"
        lines.append(line([r["impl"], bs, f"{r['seconds'] * 1e3:.1f}",
                           f"{r['rows_per_s']:.3g}", f"{r['vs_floor']:.2f}",
                           faster]))
    lines.append("sklearn runs per-sample SGD; its 'fastlr is' column compares "
                 "with fastlr's fastest batch size above.")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# the full table of the performance targets


def _peak_rss_added(m, n, dtype):
    """Peak RSS added by train() on C-contiguous X (fresh subprocess), bytes.

    The kernel's peak is reset (Linux ``/proc/self/clear_refs``) after the
    data are built and the kernels compiled or loaded (compilation memory is
    numba's, once per process), so only train's own allocations count.
    """
    code = f"""
import gc, numpy as np, fastlr
from fastlr.bench import make_workload
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
X, y = make_workload({m}, {n}, np.{dtype})
# compile / load every kernel train will use, the threaded one included, on
# a small slice, so that no large block is freed and reused before measuring
import fastlr._dispatch as d
limit = d.PARALLEL_MIN_TRAIN_ELEMENTS
d.PARALLEL_MIN_TRAIN_ELEMENTS = 0
fastlr.train(X[:2000], y[:2000], batch_size=256, epochs=1, standardize=True)
d.PARALLEL_MIN_TRAIN_ELEMENTS = limit
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                                  # reset the peak to the current RSS
before = hwm()
fastlr.train(X, y, batch_size=256, epochs=2, lr=0.1, standardize=True)
print(hwm() - before, X.nbytes)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


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


def performance_table(rows=FULL_ROWS, features=FULL_FEATURES, repeats=5,
                      progress=print):
    """Measure every performance target; returns a list of dicts
    ``(id, what, value, target, ok)`` (``value`` a ratio or seconds)."""
    import numba

    X, y = make_workload(rows, features, np.float64)
    X32 = X.astype(np.float32)
    out = []

    def add(pid, what, value, target, ok):
        out.append({"id": pid, "what": what, "value": value, "target": target,
                    "ok": bool(ok)})
        progress(f"{pid:<4}{what:<58}{value:>8.3f}  target {target}")

    threads = numba.get_num_threads()
    progress(f"workload {rows:,} x {features}, {threads} numba threads, "
             f"{repeats} interleaved repeats")
    # P1-P3, P6: one thread, batch 256
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
        t = interleaved({"fast": epoch_time_fn(X, y, bs),
                         "ref": reference_epoch_fn(X, y, bs)},
                        repeats=max(1, repeats // 2))
        add("P4", f"reference / fastlr, float64, batch {bs}", t["ref"] / t["fast"],
            f">= {target}", t["ref"] / t["fast"] >= target)
    # P5: vs scikit-learn SGDClassifier
    t = interleaved({"fast": epoch_time_fn(X, y, 256),
                     "sk": sklearn_epoch_fn(X, y)}, repeats=max(1, repeats // 2))
    add("P5", "sklearn SGDClassifier epoch / fastlr epoch (batch 256)",
        t["sk"] / t["fast"], ">= 5", t["sk"] / t["fast"] >= 5)
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
    add("P10", "  numba floor: new process, first call of 1 cached kernel, s",
        floor, "(info)", True)
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
    # S2-S5: the sparse targets at rcv1's shape
    from .bench_sparse import sparse_targets
    sparse_targets(add, repeats, progress)
    # P11: time to quality vs lbfgs
    t_fast, t_lbfgs, epochs, _ = _time_to_quality(X, y)
    add("P11", f"time to lbfgs loss +0.5% / lbfgs fit ({epochs} epochs)",
        t_fast / t_lbfgs, "<= 0.3", t_fast / t_lbfgs <= 0.3)
    return out


def format_performance(table):
    head = f"{'id':<5}{'measure':<58}{'value':>9}  {'target':<9}{'met':>4}"
    lines = [head, "-" * len(head)]
    for r in table:
        lines.append(f"{r['id']:<5}{r['what']:<58}{r['value']:>9.3f}  "
                     f"{r['target']:<9}{'yes' if r['ok'] else 'NO':>4}")
    lines.append(f"machine: {os.cpu_count()} cores, numba "
                 f"{__import__('numba').__version__}, numpy {np.__version__}")
    return "\n".join(lines)
