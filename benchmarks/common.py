"""What the asv suites share: thread settings, workloads, warm-up and timing.

Every suite imports from here (``from .common import ...``), and
``benchmarks/__init__.py`` imports this module first, so the thread counts
below are set before any suite imports numpy or numba.

Thread counts: ``asv.conf.json`` sets them through ``matrix.env`` (also
applied by ``asv run --python=same``), but ``-E existing`` and a plain
``import`` ignore the matrix, so they are defaulted here; a value already in
the environment wins. README.md in this folder says why they are fixed.
"""

import os

#: The thread settings of every benchmark process (as in asv.conf.json).
THREADS = {"NUMBA_NUM_THREADS": "2", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
for _name, _value in THREADS.items():
    os.environ.setdefault(_name, _value)

import functools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import fastlr  # noqa: E402
from fastlr import _dispatch, reference  # noqa: E402

# fastlr.bench's workloads (the ones `fastlr bench` times), for the suites
# that compare with its figures
from fastlr.bench import (  # noqa: E402, F401
    make_sparse_workload,
    make_workload,
    stream_sum,
)

# the rcv1-shaped workload of the sparse targets (S2-S5)
from fastlr.bench_sparse import (  # noqa: E402, F401
    make_rcv1_workload,
    rcv1_classes,
)

SEED = 0
N_FEATURES = 100

#: One-epoch settings shared by the epoch timings: a plain pass over the rows.
EPOCH = {"epochs": 1, "lr": 0.1, "shuffle": False}

#: The implementations of ``fastlr.train``'s contract.
IMPLS = {"fastlr": fastlr.train, "reference": reference.train}

#: Where the fastlr being benchmarked was imported from. The child process of
#: a timeraw_ benchmark does not inherit the path an uninstalled checkout was
#: found on (``ASV_PYTHONPATH=$PWD asv run --python=same``), so it is told.
FASTLR_PATH = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))

#: The memory floor: one thread reading X once (fastlr's own vectorized
#: kernel, with the same fast-math flags as the epoch kernels). No epoch,
#: which must read X once, can be faster.
read_once = stream_sum


# --------------------------------------------------------------------------
# workloads


@functools.lru_cache(maxsize=2)
def make_data(n_samples, dtype="float64", n_features=N_FEATURES, seed=SEED):
    """The dense workload: X ~ N(0, 1), C-contiguous, of ``dtype``;
    y ~ Bernoulli(sigmoid(X @ w* + 0.5)) as float64 0/1, w* ~ N(0, 1/n).

    float32 data is the float64 data cast down, so both dtypes see the same
    numbers. Cached per process; callers must not modify the arrays.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    w_star = rng.standard_normal(n_features) / np.sqrt(n_features)
    z = X @ w_star + 0.5
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    X = np.ascontiguousarray(X, dtype=dtype)
    return X, y


def make_dask_data(n_samples, n_blocks, n_features=N_FEATURES, seed=SEED):
    """The dense workload's distribution as dask arrays of ``n_blocks`` row
    blocks: ``(X, y)``, X ~ N(0, 1) float64, y ~ Bernoulli(sigmoid(X @ w* +
    0.5)) as float64 0/1, w* ~ N(0, 1/n).

    The graph holds only dask's and NumPy's own functions, so Dask workers
    build their blocks themselves: a function of this folder would reach
    them as a reference to the module ``benchmarks``, which they cannot
    import (asv imports it from the checkout; it is not installed).
    Computing the arrays gives the same numbers on a cluster, in threads or
    in this process.
    """
    import dask.array as da

    w_star = np.random.default_rng(seed).standard_normal(n_features)
    w_star /= np.sqrt(n_features)
    rng = da.random.default_rng(seed)
    rows = -(-n_samples // n_blocks)
    X = rng.standard_normal((n_samples, n_features), chunks=(rows, n_features))
    z = X @ w_star + 0.5
    u = rng.random(n_samples, chunks=rows)
    y = (u < 1.0 / (1.0 + da.exp(-z))).astype(np.float64)
    return X, y


@functools.lru_cache(maxsize=4)
def make_multinomial_data(workload, dtype):
    """``(X, y)`` for a k-class workload: ``"digits"`` (1797 x 64, k = 10) or
    ``"synthetic_200k_x100_k5"`` (X ~ N(0, 1), labels drawn from a softmax of
    X @ W* with Gumbel noise). Cached per process; not to be modified."""
    if workload == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    else:
        rng = np.random.default_rng(SEED)
        X = rng.standard_normal((200_000, 100))
        W = rng.standard_normal((100, 5)) / np.sqrt(100)
        y = (X @ W + rng.gumbel(size=(200_000, 5))).argmax(axis=1)
    return np.ascontiguousarray(X, dtype=dtype), y.astype(np.int64)


# --------------------------------------------------------------------------
# warm-up: keep JIT compilation (or loading it from numba's cache) out of
# every timing; cold start is measured on its own by timeraw_ benchmarks


def warm_up(X, y, batch_size=32, impl="fastlr"):
    """Compile (or load) everything one epoch of ``impl`` uses on X's dtype.

    The warm-up holds at least one full batch, so that fastlr picks the same
    kernel as in the timed call (large batches on large X use the threaded
    epoch).
    """
    train = IMPLS[impl]
    # fastlr: all of X, since the threaded kernel is only chosen on large X
    rows = X.shape[0] if impl == "fastlr" else max(256, batch_size)
    for standardize in (False, True):
        train(X[:rows], y[:rows], batch_size=batch_size, standardize=standardize,
              **EPOCH)


def threaded_rows(n_features):
    """The fewest rows of ``n_features`` columns that fastlr trains on
    several threads: X of ``fastlr._dispatch.PARALLEL_MIN_TRAIN_ELEMENTS``
    values (at batches of at least ``PARALLEL_MIN_BATCH`` rows)."""
    return -(-_dispatch.PARALLEL_MIN_TRAIN_ELEMENTS // n_features)


def sklearn_sgd():
    """scikit-learn's peer: plain SGD (batch size 1), one epoch, no penalty."""
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", penalty=None, max_iter=1, tol=None,
                         learning_rate="constant", eta0=0.1, shuffle=False,
                         random_state=SEED)


def sklearn_fit(clf, X, y):
    """``clf.fit(X, y)`` without the ConvergenceWarning of max_iter=1 (one
    epoch is deliberate: like the other timings)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


# --------------------------------------------------------------------------
# timing inside one call


def interleaved_medians(funcs, repeats):
    """Median wall time of each function, timed in alternating order.

    Interleaving makes slow drifts of the machine (other load, frequency
    scaling) hit every function alike, so their ratio is stable.
    """
    times = [[] for _ in funcs]
    for r in range(repeats):
        order = range(len(funcs)) if r % 2 == 0 else reversed(range(len(funcs)))
        for k in order:
            t0 = time.perf_counter()
            funcs[k]()
            times[k].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


# --------------------------------------------------------------------------
# fresh processes (timeraw_ benchmarks)


def first_train_code(rows, batch_size):
    """Code for a fresh process: import fastlr, one small fit (5 epochs)."""
    return f"""
import numpy as np
import fastlr
rng = np.random.default_rng({SEED})
X = rng.standard_normal(({rows}, 10))
y = (X[:, 0] > 0).astype(np.float64)
fastlr.train(X, y, batch_size={batch_size}, epochs=5, random_state={SEED})
"""


def first_fit_code(model):
    """Code for a fresh process: import fastlr and its estimator, one first
    ``LogisticRegression().fit`` (5 epochs) on 1000 x 10 dense data with two
    or three classes, or 1000 x 50 CSR data (10% stored) with two."""
    if model == "sparse":
        data = ("import scipy.sparse as sp\n"
                "X = sp.random(1000, 50, density=0.1, format='csr', "
                f"random_state={SEED})\n"
                "z = X @ rng.standard_normal(50)")
    else:
        data = "X = rng.standard_normal((1000, 10))\nz = X[:, 0] + 0.5 * X[:, 1]"
    k = 3 if model == "multiclass" else 2
    return f"""
import numpy as np
from fastlr import LogisticRegression
rng = np.random.default_rng({SEED})
{data}
y = np.digitize(z, np.quantile(z, np.linspace(0, 1, {k + 1})[1:-1]))
LogisticRegression(max_iter=5, tol=None, random_state={SEED}).fit(X, y)
"""


def child_setup(numba_cache="on"):
    """Untimed setup of a timeraw_ child: the same fastlr as this process, and
    the numba cache on or off."""
    cache = "1" if numba_cache == "on" else "0"
    return "\n".join(["import os, sys",
                      f"sys.path.insert(0, {FASTLR_PATH!r})",
                      f"os.environ['FASTLR_NUMBA_CACHE'] = '{cache}'"])
