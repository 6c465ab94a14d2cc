"""The kernels with numba's bounds checks on.

The kernels compile without bounds checks: an index past the end of an
array reads or writes whatever memory is there, and nothing in the other
tests need notice. Here a process with ``NUMBA_BOUNDSCHECK=1`` runs the
kernels' paths on small data, where any access out of bounds raises
IndexError, and its results must match those of this process's normal
build: the dense and CSR epochs (two classes, three, many models at once;
L2, L1, elastic net, averaging, AdaGrad; batch sizes that leave a partial
last batch; one thread and two), prediction, the validation and
statistics passes, and the L-BFGS loss and gradient of one model and of
many. The model paths run on float64 X (the statistics on float32 too)
and CSR X with 32-bit indices: each more input type compiles every kernel
again, and the index arithmetic does not depend on it.

That process gets a cache directory of its own: the kernel cache keys its
directory by numba's code settings (``NUMBA_BOUNDSCHECK`` among them,
:data:`fastlr._kernels.cache.CODE_SETTINGS`), while numba's own index does
not tell bounds-checked code from unchecked; a fresh directory can neither
serve it unchecked kernels nor leave checked ones in the shared cache.

Not covered by the checks: the lane loads and stores, atomics and
prefetches of :mod:`fastlr._kernels.intrinsics` address memory themselves,
and numba checks only its own indexing.

Sizes: the threaded dense epoch, the CSR team and the row-block passes
(prediction, validation, statistics) engage only above the thresholds of
:mod:`fastlr._dispatch` (PARALLEL_MIN_TRAIN_ELEMENTS elements, a batch of
PARALLEL_MIN_BATCH rows, more rows than a block of BLOCK_ELEMENTS); the
large X below are sized for them, and the test checks that they still do.
"""

import json
import os
import subprocess
import sys
import traceback
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastlr
from fastlr import _dispatch

#: group -> {name: function() returning {label: array}}: the paths run
#: checked. Each group runs in a process of its own (the groups compile
#: different kernels, and run beside each other under pytest-xdist).
SCENARIOS = {}


def scenario(group):
    def add(func):
        SCENARIOS.setdefault(group, {})[func.__name__] = func
        return func
    return add


def _arrays(prefix, res):
    """The array fields of a result (a named tuple), as float64 arrays."""
    return {f"{prefix}.{name}": np.asarray(value, dtype=np.float64)
            for name, value in res._asdict().items()
            if isinstance(value, (np.ndarray, float, np.floating))}


def _data(m, n, dtype, density=None, seed=0):
    """X (dense, or CSR with about ``density`` of its entries stored), binary
    labels and three-class labels."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    X[:, 1] *= 30.0   # unequal scales: standardization does something
    X[:, 2] += 5.0
    y = (X[:, 0] + X[:, 1] / 30.0 - (X[:, 2] - 5.0) + 0.5 * rng.normal(size=m)
         > 0).astype(np.int64)
    Y = np.digitize(X[:, 0] + 0.5 * rng.normal(size=m), [-0.5, 0.5])
    if density is not None:
        X[rng.random((m, n)) > density] = 0.0
        X = sp.csr_matrix(X.astype(dtype))
    else:
        X = np.ascontiguousarray(X, dtype=dtype)
    return X, y, Y


#: dtypes of X of the model paths (the statistics take both).
EPOCH_DTYPES = (np.float64,)

#: Large enough for the threaded dense epoch and for two row blocks.
BIG = (4_000, 500)
#: Stored entries enough for the CSR team (half the entries stored).
BIG_CSR = dict(m=4_000, n=1_000, density=0.5)


@scenario("dense")
def dense_epochs():
    out = {}
    for dt in EPOCH_DTYPES:
        X, y, Y = _data(700, 9, dt)
        name = np.dtype(dt).name
        # 700 rows: every batch size leaves a last partial batch (and a
        # partial chunk of team.CHUNK rows), batch 1 and one batch of all
        for bs in (1, 7, 64, 100, 300, 1000):
            out.update(_arrays(f"{name}.binary.{bs}", fastlr.train(
                X, y, batch_size=bs, epochs=2, random_state=0, epoch_loss="full")))
            out.update(_arrays(f"{name}.k3.{bs}", fastlr.train_multinomial(
                X, Y, batch_size=bs, epochs=2, random_state=0, epoch_loss="full")))
        sw = np.linspace(0.5, 2.0, X.shape[0])
        for opts in (dict(penalty="l2", average=True),
                     dict(penalty="l1", learning_rate="adagrad"),
                     dict(penalty="elasticnet", learning_rate="invscaling"),
                     dict(standardize=False, sample_weight=sw),
                     dict(shuffle=False)):
            tag = "-".join(f"{k}={v}" for k, v in opts.items() if k != "sample_weight")
            out.update(_arrays(f"{name}.binary.{tag}", fastlr.train(
                X, y, batch_size=50, epochs=2, random_state=1, **opts)))
            out.update(_arrays(f"{name}.k3.{tag}", fastlr.train_multinomial(
                X, Y, batch_size=50, epochs=2, random_state=1, **opts)))
    return out


@scenario("dense")
def dense_threaded_epochs():
    out = {}
    X, y, Y = _data(*BIG, np.float64)
    # 4000 rows: 4000 % 128 = 32 (a last batch below one chunk), 4000 % 300
    # = 100 (a partial chunk in every batch and a short last batch)
    for threads in (1, 2):
        for bs in (128, 300):
            out.update(_arrays(f"binary.{threads}.{bs}", fastlr.train(
                X, y, batch_size=bs, epochs=2, random_state=0, n_threads=threads)))
            out.update(_arrays(f"k3.{threads}.{bs}", fastlr.train_multinomial(
                X, Y, batch_size=bs, epochs=2, random_state=0, n_threads=threads,
                penalty="l1")))
        for labels in (y, Y):
            out.update(_arrays(f"many.{threads}.{labels.max()}", fastlr.train_many(
                X, labels, alphas=[1e-4, 1e-3, 1e-2], folds=2, batch_size=200,
                epochs=2, random_state=0, n_threads=threads)))
    return out


@scenario("dense")
def dense_many_models():
    """train_many past the many-models threshold (dense.OUTER_MIN_MODELS)
    and past one block of models (dense.BLOCK_MODELS)."""
    out = {}
    X, y, Y = _data(600, 11, np.float64)
    alphas = np.logspace(-5, -1, 9)
    for labels in (y, Y):
        k = labels.max() + 1
        out.update(_arrays(f"path.{k}", fastlr.train_many(
            X, labels, alphas=alphas, l1_ratios=[0.0, 0.5], penalty="elasticnet",
            batch_size=64, epochs=2, random_state=0)))
        out.update(_arrays(f"folds.{k}", fastlr.train_many(
            X, labels, alphas=alphas[:3], folds=3, batch_size=50, epochs=2,
            random_state=0, average=True)))
    return out


@scenario("csr")
def csr_epochs():
    out = {}
    for dt in EPOCH_DTYPES:
        X, y, Y = _data(700, 40, dt, density=0.2)
        name = np.dtype(dt).name
        for opts in (dict(),   # the lean epoch
                     dict(penalty="l2"),
                     dict(penalty="l1"),
                     dict(penalty="elasticnet", l1_ratio=0.5),
                     dict(penalty="l2", average=True),
                     dict(learning_rate="adagrad"),
                     dict(penalty="l1", learning_rate="adagrad", average=True)):
            tag = "-".join(f"{k}={v}" for k, v in opts.items()) or "plain"
            for bs in (1, 64, 300):
                out.update(_arrays(f"{name}.binary.{tag}.{bs}", fastlr.train(
                    X, y, batch_size=bs, epochs=2, random_state=0, **opts)))
            out.update(_arrays(f"{name}.k3.{tag}", fastlr.train_multinomial(
                X, Y, batch_size=64, epochs=2, random_state=0, **opts)))
        for labels in (y, Y):
            out.update(_arrays(f"{name}.many.{labels.max()}", fastlr.train_many(
                X, labels, alphas=[1e-4, 1e-2], folds=2, batch_size=64, epochs=2,
                random_state=0)))
    return out


@scenario("csr")
def csr_threaded_epochs():
    X, y, _ = _data(dtype=np.float64, **BIG_CSR)
    out = {}
    for threads in (1, 2):
        for bs in (256, 700):   # 4000 % 700 = 500: a short last batch
            out.update(_arrays(f"{threads}.{bs}", fastlr.train(
                X, y, batch_size=bs, epochs=2, random_state=0, n_threads=threads,
                standardize=False)))
    return out


@scenario("passes")
def prediction():
    """Logits and their links, one model and three, on two threads: dense
    X in C and Fortran order, CSR X."""
    out = {}
    for dt in EPOCH_DTYPES:
        name = np.dtype(dt).name
        X, y, _ = _data(*BIG, dt)
        Xs = _data(dtype=dt, **BIG_CSR)[0]
        for kind, A in (("dense", X), ("fortran", np.asfortranarray(X)), ("csr", Xs)):
            rng = np.random.default_rng(1)
            data = _dispatch.as_data(A, check=False, any_layout=True)
            for k, links in ((1, ("logits", "sigmoid", "proba", "log_proba")),
                             (3, ("logits", "softmax"))):
                W, B = rng.normal(size=(k, A.shape[1])) / 10, rng.normal(size=k)
                for link in links:
                    out[f"{name}.{kind}.{k}.{link}"] = data.decision(
                        W, B, n_threads=2, link=link)
            w = rng.normal(size=A.shape[1]) / 10
            out[f"{name}.{kind}.decision"] = fastlr.decision_function(A, w, 0.3)
            p = out[f"{name}.{kind}.proba"] = fastlr.predict_proba(A, w, 0.3)
            if kind != "fortran":
                out[f"{name}.{kind}.grad"] = np.concatenate(
                    [np.ravel(g) for g in fastlr.gradients(A, y, p)])
        # a few rows of wide CSR X, fewer stored entries than columns: the
        # k-class kernels' per-class branch (no by-column weight table)
        few = _dispatch.as_data(Xs[:1], check=False)
        assert few.size < few.n
        rng = np.random.default_rng(2)
        W, B = rng.normal(size=(3, Xs.shape[1])) / 10, rng.normal(size=3)
        for link in ("logits", "softmax"):
            out[f"{name}.csr-few.3.{link}"] = few.decision(W, B, link=link)
        out[f"{name}.csr-few.3.loss"] = np.array(
            few.loss_sum(np.array([2]), np.empty(0), W, B, True))
    return out


@scenario("passes")
def statistics():
    """The validation and statistics passes (the fused pass of dense X,
    the two passes of CSR X), in blocks on two threads, with weights and
    per fold, and the merge of running statistics (partial_fit's)."""
    out = {}
    for dt in (np.float64, np.float32):
        name = np.dtype(dt).name
        for kind, (X, _, _) in (("dense", _data(*BIG, dt)),
                                ("dense-small", _data(300, 7, dt)),
                                ("csr", _data(dtype=dt, **BIG_CSR))):
            tag = f"{name}.{kind}"
            row_fold = np.arange(X.shape[0]) % 3
            sw = np.linspace(0.0, 2.0, X.shape[0])
            for threads in (1, 2):
                _dispatch.as_data(X, n_threads=threads)   # the finiteness check
                data = _dispatch.as_data(X, with_stats=True, n_threads=threads)
                for label, stats in (("all", data.column_stats()),
                                     ("folds", data.column_stats(row_fold, (1, 2), sw))):
                    for i, a in enumerate(stats):
                        out[f"{tag}.{threads}.{label}.{i}"] = a
            # running statistics (partial_fit): the moments of two parts merged
            half = X.shape[0] // 3
            parts = [_dispatch.as_data(part, with_stats=True).row_moments()
                     for part in (X[:half], X[half:])]
            merged, mean, scale = _dispatch.merge_finish(*parts)
            out.update(_arrays(f"{tag}.merged", merged))
            out[f"{tag}.merged.mean"], out[f"{tag}.merged.scale"] = mean, scale
    return out


@scenario("passes")
def lbfgs():
    out = {}
    for dt in EPOCH_DTYPES:
        name = np.dtype(dt).name
        for kind, (X, y, Y) in (("dense", _data(*BIG, dt)),
                                ("csr", _data(dtype=dt, **BIG_CSR))):
            sw = np.linspace(0.5, 1.5, X.shape[0])
            for labels in (y, Y):
                tag = f"{name}.{kind}.{labels.max()}"
                train = fastlr.train if labels is y else fastlr.train_multinomial
                for penalty in ("l2", "l1"):
                    for threads in (1, 2):
                        out.update(_arrays(f"{tag}.{penalty}.{threads}", train(
                            X, labels, solver="lbfgs", epochs=3, penalty=penalty,
                            alpha=1e-3, sample_weight=sw, n_threads=threads)))
                res = fastlr.train_many(X, labels, alphas=[1e-4, 1e-2], folds=2,
                                        solver="lbfgs", epochs=3, n_threads=2)
                out.update(_arrays(f"{tag}.many", res))
    return out


def _recording(calls):
    """Make team.run and team.map_rows add ``(kernel, threads)`` to ``calls``
    (the threads a map can use: at most one per block)."""
    from fastlr._kernels import team

    run, map_rows = team.run, team.map_rows

    def recorded_run(n, kernel, args, ctl=None):
        calls.add((kernel.py_func.__name__, n))
        return run(n, kernel, args, ctl)

    def recorded_map(n, m, rows, kernel, args):
        calls.add((kernel.py_func.__name__, min(n, -(-m // rows))))
        return map_rows(n, m, rows, kernel, args)

    team.run, team.map_rows = recorded_run, recorded_map


def run_all(group):
    """Every scenario of ``group``: ``(results, errors)``, results keyed
    ``"scenario:label"``, errors ``{scenario: traceback}``."""
    results, errors = {}, {}
    for name, func in SCENARIOS[group].items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # two epochs do not converge
                for label, value in func().items():
                    results[f"{name}:{label}"] = np.asarray(value)
        except Exception:
            errors[name] = traceback.format_exc()
    return results, errors


def _canary():
    """Whether numba's bounds checks are on in this process: an index past
    the end raises IndexError (compiled as the kernels are: without numba's
    runtime, no GIL, NumPy's error model; not cached)."""
    from numba import njit

    @njit(_nrt=False, nogil=True, error_model="numpy")
    def read(a, i):
        return a[i]

    try:
        read(np.zeros(3), 3)
    except IndexError:
        return True
    return False


#: Per group, the kernels that must have run on two threads (team.run or
#: team.map_rows).
THREADED = {
    "dense": {"epoch", "moment_sums"},
    "csr": {"lean_worker", "row_splits"},
    "passes": {"decision", "decision_columns", "csr_decision", "moment_sums",
               "all_finite", "loss_grad", "csr_loss_grad", "loss_grad_many",
               "csr_loss_grad_many"},
}


@pytest.mark.slow
@pytest.mark.parametrize("group", sorted(SCENARIOS))
def test_the_kernels_stay_in_bounds(group, tmp_path):
    """The scenarios of ``group``, run with bounds checks in a process of
    their own, raise nothing and give this process's results (to rounding:
    code with bounds checks vectorizes some sums otherwise)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_NUM_THREADS": "2",
           "FASTLR_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(
               [root] + ([os.environ["PYTHONPATH"]] if "PYTHONPATH" in os.environ
                         else []))}
    env.pop("FASTLR_NUMBA_CACHE", None)
    out = tmp_path / "checked.npz"
    proc = subprocess.run([sys.executable, __file__, str(out), group], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["canary"], "NUMBA_BOUNDSCHECK=1 did not turn bounds checks on"
    assert report["cache"].startswith(str(tmp_path)), report["cache"]
    assert not report["errors"], "\n".join(report["errors"].values())
    two = {kernel for kernel, n in report["threads"] if n >= 2}
    assert THREADED[group] <= two, \
        f"not run on two threads: {sorted(THREADED[group] - two)}"

    expected, errors = run_all(group)
    assert not errors, "\n".join(errors.values())
    with np.load(out) as checked:
        assert sorted(checked.files) == sorted(expected)
        for label in checked.files:
            np.testing.assert_allclose(checked[label], expected[label], rtol=1e-9,
                                       atol=1e-12, err_msg=label)


if __name__ == "__main__":
    import time

    from fastlr._kernels import cache

    t = time.perf_counter()
    calls = set()
    _recording(calls)
    results, errors = run_all(sys.argv[2])
    np.savez(sys.argv[1], **results)
    print(json.dumps({"errors": errors, "canary": _canary(), "cache": cache.DIRECTORY,
                      "threads": sorted(calls), "seconds": time.perf_counter() - t,
                      "cpu_seconds": time.process_time()}))
