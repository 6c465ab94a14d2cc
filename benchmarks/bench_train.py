"""asv benchmarks for fastlr.train: one SGD epoch against the NumPy reference,
scikit-learn's SGDClassifier and the memory floor (one read of X).

Workload (README, "Performance"): X ~ N(0, 1), C-contiguous, 100
features; y ~ Bernoulli(sigmoid(X @ w* + 0.5)) with a fixed seed. float32 data
is the float64 data cast down, so both dtypes see the same numbers.

Every ``setup`` makes a small warm-up call, so JIT compilation (or loading it
from numba's cache) stays out of the timings; cold start is measured on its
own by the ``timeraw_`` benchmarks, in a fresh process.
"""

import os

# Thread counts. asv.conf.json sets these through matrix.env (also applied by
# `asv run --python=same`), but `-E existing` and a plain `import` ignore the
# matrix, so default them here, before numpy and numba are imported. A value
# already in the environment wins. benchmarks/README.md says why they are fixed.
for _name, _value in (("NUMBA_NUM_THREADS", "2"), ("OMP_NUM_THREADS", "1"),
                      ("OPENBLAS_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1")):
    os.environ.setdefault(_name, _value)

import functools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import fastlr  # noqa: E402
from fastlr import _kernels, reference  # noqa: E402

N_FEATURES = 100
SEED = 0
#: One-epoch settings shared by every timing: a plain pass over the rows.
EPOCH = {"epochs": 1, "lr": 0.1, "shuffle": False}
IMPLS = {"fastlr": fastlr.train, "reference": reference.train}

#: Where the fastlr being benchmarked was imported from. The child process of
#: a timeraw_ benchmark does not inherit the path an uninstalled checkout was
#: found on (`ASV_PYTHONPATH=$PWD asv run --python=same`), so it is told.
FASTLR_PATH = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))


@functools.lru_cache(maxsize=2)
def make_data(n_samples, dtype="float64", n_features=N_FEATURES, seed=SEED):
    """The benchmark workload: ``(X, y)``, X C-contiguous of ``dtype``, y float64 0/1.

    Cached per process; callers must not modify the arrays.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    w_star = rng.standard_normal(n_features) / np.sqrt(n_features)
    z = X @ w_star + 0.5
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    X = np.ascontiguousarray(X, dtype=dtype)
    return X, y


def warm_up(X, y, batch_size=32, impl="fastlr"):
    """Compile (or load from the numba cache) everything one epoch uses, for X's dtype.

    The warm-up data holds at least one full batch, so that fastlr picks the
    same kernel as in the timed call (large batches use a threaded kernel,
    which is not cached on disk and compiles in every new process).
    """
    train = IMPLS[impl]
    # fastlr: all of X, since the threaded kernel is only chosen on large X
    rows = X.shape[0] if impl == "fastlr" else max(256, batch_size)
    for standardize in (False, True):
        train(X[:rows], y[:rows], batch_size=batch_size, standardize=standardize,
              **EPOCH)


# The memory floor: reading X once (one thread, vectorized; fastlr's own
# kernel, with the same fast-math flags as the epoch kernels).
read_once = _kernels.stream_sum


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


def sklearn_sgd():
    """scikit-learn's peer: plain SGD (batch size 1), one epoch, no penalty."""
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", penalty=None, max_iter=1, tol=None,
                         learning_rate="constant", eta0=0.1, shuffle=False,
                         random_state=SEED)


def sklearn_fit(clf, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # max_iter=1 is deliberate: one epoch, like the other timings.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


class SGDEpoch:
    """Wall time of ``train(..., epochs=1)``: validation, optional
    standardization statistics and one epoch, as a user sees it."""

    params = ([10_000, 200_000], [32, 256, 4096], ["float32", "float64"],
              ["fastlr", "reference"])
    param_names = ["n_samples", "batch_size", "dtype", "impl"]
    timeout = 120

    #: Combinations whose timed call would take more than ~2 s; none today
    #: (slowest: reference, 200k rows, batch 32, standardize=True: 1.3 s on
    #: an idle machine, up to 2.2 s under load), kept so a slower reference
    #: can be excluded here.
    TOO_SLOW = frozenset()

    def setup(self, n_samples, batch_size, dtype, impl):
        if (n_samples, batch_size, dtype, impl) in self.TOO_SLOW:
            raise NotImplementedError("too slow to time")
        self.X, self.y = make_data(n_samples, dtype)
        self.train = IMPLS[impl]
        warm_up(self.X, self.y, batch_size, impl)

    def time_epoch(self, n_samples, batch_size, dtype, impl):
        self.train(self.X, self.y, batch_size=batch_size, standardize=False, **EPOCH)

    def time_epoch_standardized(self, n_samples, batch_size, dtype, impl):
        self.train(self.X, self.y, batch_size=batch_size, standardize=True, **EPOCH)


class Floor:
    """Time to read X once (a vectorized @njit sum): what no epoch can beat."""

    params = ([10_000, 200_000], ["float32", "float64"])
    param_names = ["n_samples", "dtype"]

    def setup(self, n_samples, dtype):
        self.X, _ = make_data(n_samples, dtype)
        read_once(self.X[:2])

    def time_read_X(self, n_samples, dtype):
        read_once(self.X)


class SklearnSGD:
    """scikit-learn SGDClassifier, one epoch on the same data (the peer)."""

    params = ([10_000, 200_000], ["float32", "float64"])
    param_names = ["n_samples", "dtype"]

    def setup(self, n_samples, dtype):
        self.X, self.y = make_data(n_samples, dtype)
        sklearn_fit(sklearn_sgd(), self.X[:256], self.y[:256])

    def time_epoch(self, n_samples, dtype):
        sklearn_fit(sklearn_sgd(), self.X, self.y)


class Speedup:
    """Speed ratios measured inside one call, with interleaved repetitions.

    Less sensitive to machine noise than dividing two ``time_`` results taken
    minutes apart. One epoch on 100k x 100, no standardization (neither
    scikit-learn nor the floor has it), running loss on.
    """

    params = ([32, 256, 4096], ["float32", "float64"])
    param_names = ["batch_size", "dtype"]
    n_samples = 100_000
    repeats = 7
    unit = "ratio"
    timeout = 180

    def setup(self, batch_size, dtype):
        self.X, self.y = make_data(self.n_samples, dtype)
        warm_up(self.X, self.y, batch_size)
        read_once(self.X[:2])
        sklearn_fit(sklearn_sgd(), self.X[:256], self.y[:256])

    def _fastlr(self, batch_size):
        return lambda: fastlr.train(self.X, self.y, batch_size=batch_size,
                                    standardize=False, **EPOCH)

    def track_speedup_vs_reference(self, batch_size, dtype):
        """median(reference epoch) / median(fastlr epoch); higher is better."""
        ref = lambda: reference.train(self.X, self.y, batch_size=batch_size,  # noqa: E731
                                      standardize=False, **EPOCH)
        t_fast, t_ref = interleaved_medians([self._fastlr(batch_size), ref],
                                            self.repeats)
        return t_ref / t_fast

    track_speedup_vs_reference.unit = "ratio"

    def track_speedup_vs_sklearn(self, batch_size, dtype):
        """median(SGDClassifier epoch) / median(fastlr epoch); higher is better."""
        skl = lambda: sklearn_fit(sklearn_sgd(), self.X, self.y)  # noqa: E731
        t_fast, t_skl = interleaved_medians([self._fastlr(batch_size), skl],
                                            self.repeats)
        return t_skl / t_fast

    track_speedup_vs_sklearn.unit = "ratio"

    def track_epoch_over_floor(self, batch_size, dtype):
        """median(fastlr epoch) / median(one read of X); lower is better, 1 = floor."""
        floor = lambda: read_once(self.X)  # noqa: E731
        t_fast, t_floor = interleaved_medians([self._fastlr(batch_size), floor],
                                              3 * self.repeats)
        return t_fast / t_floor

    track_epoch_over_floor.unit = "ratio"


class FinalLoss:
    """Training quality: full-data log-loss after 5 shuffled, standardized epochs.

    fastlr and the reference must agree (to ~1e-10 in float64); a change here
    without a change in the reference is a kernel regression.
    """

    params = ([32, 256, 4096], ["float32", "float64"], ["fastlr", "reference"])
    param_names = ["batch_size", "dtype", "impl"]
    n_samples = 20_000
    unit = "log-loss"

    def setup(self, batch_size, dtype, impl):
        self.X, self.y = make_data(self.n_samples, dtype)
        warm_up(self.X, self.y, batch_size, impl)

    def track_final_loss(self, batch_size, dtype, impl):
        res = IMPLS[impl](self.X, self.y, batch_size=batch_size, epochs=5, lr=0.1,
                          standardize=True, shuffle=True, random_state=SEED,
                          epoch_loss="full")
        return float(res.losses[-1])

    track_final_loss.unit = "log-loss"


class PeakMem:
    """Peak memory of training on 200k x 100 float64 (160 MB of X).

    The figure includes X itself; fastlr must not copy X, with or without
    standardization, so its peak should stay near the size of the data while
    the reference's shows its temporaries.
    """

    params = ([False, True], ["fastlr", "reference"])
    param_names = ["standardize", "impl"]

    def setup(self, standardize, impl):
        self.X, self.y = make_data(200_000, "float64")
        warm_up(self.X, self.y, 256, impl)

    def peakmem_train(self, standardize, impl):
        IMPLS[impl](self.X, self.y, batch_size=256, standardize=standardize, **EPOCH)


class ColdStart:
    """A fresh process: import fastlr, then a first small fit (5 epochs).

    ``numba_cache="on"`` is what users see from the second run on (serial
    kernels loaded from numba's on-disk cache); ``"off"`` compiles every
    kernel (FASTLR_NUMBA_CACHE=0), i.e. the first run after an install or an
    edit. The threaded kernel used for large batches is never cached, so
    ``timeraw_first_threaded_train`` compiles it either way.
    """

    params = ["on", "off"]
    param_names = ["numba_cache"]
    timeout = 180

    def setup(self, numba_cache):
        if numba_cache == "on":
            # Fill the on-disk cache, so the timed processes only load it.
            for rows, batch_size in ((1000, 100), (8192, 4096)):
                exec(first_train_code(rows, batch_size), {})

    def timeraw_import_and_first_train(self, numba_cache):
        """1000 x 10, batch 100."""
        return first_train_code(1000, 100), child_setup(numba_cache)

    def timeraw_first_threaded_train(self, numba_cache):
        """8192 x 10, batch 4096: large enough for the threaded epoch kernel."""
        return first_train_code(8192, 4096), child_setup(numba_cache)


def first_train_code(rows, batch_size):
    return f"""
import numpy as np
import fastlr
rng = np.random.default_rng({SEED})
X = rng.standard_normal(({rows}, 10))
y = (X[:, 0] > 0).astype(np.float64)
fastlr.train(X, y, batch_size={batch_size}, epochs=5, random_state={SEED})
"""


def child_setup(numba_cache="on"):
    """Untimed setup of a timeraw_ child: the same fastlr as this process, cache flag."""
    cache = "1" if numba_cache == "on" else "0"
    return "\n".join(["import os, sys",
                      f"sys.path.insert(0, {FASTLR_PATH!r})",
                      f"os.environ['FASTLR_NUMBA_CACHE'] = '{cache}'"])


def timeraw_import():
    """Baseline for ColdStart: ``import fastlr`` alone in a fresh process."""
    return "import fastlr", child_setup()
