"""asv benchmarks for fastlr.train: one SGD epoch against the NumPy reference,
scikit-learn's SGDClassifier and the memory floor (one read of X).

Workload (``common.make_data``; README, "Performance"): X ~ N(0, 1),
C-contiguous, 100 features; y ~ Bernoulli(sigmoid(X @ w* + 0.5)) with a fixed
seed. float32 data is the float64 data cast down, so both dtypes see the same
numbers.

Every ``setup`` makes a small warm-up call, so JIT compilation (or loading it
from numba's cache) stays out of the timings; cold start is measured on its
own by the ``timeraw_`` benchmarks, in a fresh process.
"""

import fastlr
from fastlr import reference

from .common import (
    EPOCH,
    IMPLS,
    SEED,
    child_setup,
    first_fit_code,
    first_train_code,
    interleaved_medians,
    make_data,
    read_once,
    sklearn_fit,
    sklearn_sgd,
    threaded_rows,
    warm_up,
)


class SGDEpoch:
    """Wall time of ``train(..., epochs=1)``: validation, optional
    standardization statistics and one epoch, as a user sees it."""

    params = ([10_000, 200_000], [32, 256, 4096], ["float32", "float64"],
              ["fastlr", "reference"])
    param_names = ["n_samples", "batch_size", "dtype", "impl"]
    timeout = 120

    def setup(self, n_samples, batch_size, dtype, impl):
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


class Throughput:
    """Rows per second of a whole one-epoch call on 200,000 x 100, one
    implementation per parameter value, side by side on one graph (higher
    is better).

    Each figure is a whole call as a user sees it (like ``SGDEpoch``):
    ``fastlr.train`` / ``reference.train`` / ``SGDClassifier.fit`` with
    their validation of X and of the labels (float64 0/1 here, which
    fastlr checks and converts: a few ms a call on this data) and set-up,
    not the epoch alone. ``fastlr bench`` and the performance table's P1 time the
    epoch alone (the training loop on validated input), so their figures
    are lower and not comparable with these. ``fastlr`` and the NumPy
    ``reference`` take batches of 256 rows, scikit-learn's
    ``SGDClassifier`` steps per sample (its only mode), and the ``floor``
    is one thread reading X once: the throughput no epoch can exceed. No
    standardization (neither scikit-learn nor the floor has it).
    """

    params = (["fastlr, batch 256", "reference (NumPy), batch 256",
               "scikit-learn SGDClassifier, per sample", "floor: one read of X"],
              ["float32", "float64"])
    param_names = ["implementation", "dtype"]
    n_samples = 200_000
    repeats = 3
    timeout = 180

    def setup(self, implementation, dtype):
        self.X, self.y = make_data(self.n_samples, dtype)
        X, y = self.X, self.y
        if implementation.startswith("fastlr"):
            self.run = lambda: fastlr.train(X, y, batch_size=256,
                                            standardize=False, **EPOCH)
        elif implementation.startswith("reference"):
            self.run = lambda: reference.train(X, y, batch_size=256,
                                               standardize=False, **EPOCH)
        elif implementation.startswith("scikit-learn"):
            self.run = lambda: sklearn_fit(sklearn_sgd(), X, y)
        else:
            self.run = lambda: read_once(X)
        self.run()  # compile (or load) and touch X once

    def time_epoch(self, implementation, dtype):
        self.run()

    def track_rows_per_second(self, implementation, dtype):
        """rows / median time of a whole one-epoch call (of ``repeats``)."""
        (seconds,) = interleaved_medians([self.run], self.repeats)
        return self.n_samples / seconds

    track_rows_per_second.unit = "rows/s"


class Speedup:
    """Speed ratios measured inside one call, with interleaved repetitions;
    each name says which time is divided by which.

    Less sensitive to machine noise than dividing two ``time_`` results taken
    minutes apart. Each time is a whole one-epoch call on 100k x 100, as in
    ``Throughput`` (validation of X and of the float64 labels included, not
    the epoch alone as in ``fastlr bench``), no standardization (neither
    scikit-learn nor the floor has it), running loss on.
    """

    params = ([32, 256, 4096], ["float32", "float64"])
    param_names = ["batch_size", "dtype"]
    n_samples = 100_000
    repeats = 7
    timeout = 180

    def setup(self, batch_size, dtype):
        self.X, self.y = make_data(self.n_samples, dtype)
        warm_up(self.X, self.y, batch_size)
        read_once(self.X[:2])
        sklearn_fit(sklearn_sgd(), self.X[:256], self.y[:256])

    def _fastlr(self, batch_size):
        return lambda: fastlr.train(self.X, self.y, batch_size=batch_size,
                                    standardize=False, **EPOCH)

    def track_reference_time_over_fastlr_time(self, batch_size, dtype):
        """median(reference one-epoch call) / median(fastlr one-epoch call):
        how many times faster fastlr is; higher is better."""
        ref = lambda: reference.train(self.X, self.y, batch_size=batch_size,  # noqa: E731
                                      standardize=False, **EPOCH)
        t_fast, t_ref = interleaved_medians([self._fastlr(batch_size), ref],
                                            self.repeats)
        return t_ref / t_fast

    track_reference_time_over_fastlr_time.unit = "reference time / fastlr time"

    def track_sklearn_time_over_fastlr_time(self, batch_size, dtype):
        """median(SGDClassifier one-epoch fit) / median(fastlr one-epoch
        call): how many times faster fastlr is; higher is better."""
        skl = lambda: sklearn_fit(sklearn_sgd(), self.X, self.y)  # noqa: E731
        t_fast, t_skl = interleaved_medians([self._fastlr(batch_size), skl],
                                            self.repeats)
        return t_skl / t_fast

    track_sklearn_time_over_fastlr_time.unit = "sklearn time / fastlr time"

    def track_fastlr_time_over_floor_time(self, batch_size, dtype):
        """median(fastlr one-epoch call) / median(one read of X); lower is
        better, 1 = the floor (a whole call reads X more than once: its
        validation too, so it stays above bench's epoch / floor)."""
        floor = lambda: read_once(self.X)  # noqa: E731
        t_fast, t_floor = interleaved_medians([self._fastlr(batch_size), floor],
                                              3 * self.repeats)
        return t_fast / t_floor

    track_fastlr_time_over_floor_time.unit = "fastlr time / floor time"


class FinalLoss:
    """Training quality: full-data log-loss after 5 shuffled, standardized epochs.

    fastlr and the reference must agree (to ~1e-10 in float64); a change here
    without a change in the reference is a kernel regression.
    """

    params = ([32, 256, 4096], ["float32", "float64"], ["fastlr", "reference"])
    param_names = ["batch_size", "dtype", "impl"]
    n_samples = 20_000

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
    """Peak memory of the process training on 200k x 100 float64 (160 MB
    of X): asv's ``peakmem`` is the whole process's, so the figure includes
    the interpreter and its libraries, X itself and, for fastlr, its loaded
    kernels (about 32 MB; the reference's process has none). What training
    itself adds is P9 of ``fastlr bench --full`` (the peak reset after the
    data and the kernels: about 1% of X's bytes with standardization); here
    the reference's temporaries show with ``standardize=True`` (a 743 MB
    peak against fastlr's 315 MB on one run, 264 and 316 without).

    The warm-up (kernels compiled or loaded) trains on the fewest rows
    that run the same kernels (fastlr's threaded epoch: 20,000 x 100), so
    that the measured call, not setup, sets the peak for each parameter
    value: a warm-up on all of X, with and without standardization, set
    fastlr's peak for both values of ``standardize``.
    """

    params = ([False, True], ["fastlr", "reference"])
    param_names = ["standardize", "impl"]

    def setup(self, standardize, impl):
        self.X, self.y = make_data(200_000, "float64")
        rows = threaded_rows(self.X.shape[1])
        warm_up(self.X[:rows], self.y[:rows], 256, impl)

    def peakmem_train(self, standardize, impl):
        IMPLS[impl](self.X, self.y, batch_size=256, standardize=standardize, **EPOCH)


class ColdStart:
    """A fresh process: import fastlr, then a first small fit (5 epochs).

    ``numba_cache="on"`` is what users see from the second run on, or after
    ``fastlr compile`` (kernels loaded from the on-disk cache); ``"off"``
    compiles every kernel the fit needs (FASTLR_NUMBA_CACHE=0), i.e. the
    first run after an install or an edit without ``fastlr compile``.
    ``timeraw_first_threaded_train`` fits X of ``THREADED`` (200,000 x 10
    at batch 4096: X holds ``fastlr._dispatch.PARALLEL_MIN_TRAIN_ELEMENTS``
    values, the least the threaded epoch runs on), so it runs the threaded
    epoch kernel and starts the thread team (its figure also holds drawing
    that X and 5 epochs over it, about 0.1 s more than the 1000-row fit);
    ``timeraw_first_estimator_fit_*`` import scikit-learn with the estimator
    and fit it on dense data with two or three classes, or on CSR data.
    """

    params = ["on", "off"]
    param_names = ["numba_cache"]
    timeout = 180
    #: (rows, batch size) of the threaded first fit: 10 columns, so rows x
    #: 10 at or just above the threaded epoch's limit, batches of 4096 (at
    #: least PARALLEL_MIN_BATCH rows)
    THREADED = (threaded_rows(10), 4096)

    def setup(self, numba_cache):
        if numba_cache == "on":
            # Fill the on-disk cache, so the timed processes only load it.
            for rows, batch_size in ((1000, 100), self.THREADED):
                exec(first_train_code(rows, batch_size), {})
            for model in ("binary", "multiclass", "sparse"):
                exec(first_fit_code(model), {})

    def timeraw_import_and_first_train(self, numba_cache):
        """1000 x 10, batch 100 (one thread)."""
        return first_train_code(1000, 100), child_setup(numba_cache)

    def timeraw_first_threaded_train(self, numba_cache):
        """200,000 x 10, batch 4096: the threaded epoch kernel, the thread
        team's first start in a new process included."""
        return first_train_code(*self.THREADED), child_setup(numba_cache)

    def timeraw_first_estimator_fit_binary(self, numba_cache):
        return first_fit_code("binary"), child_setup(numba_cache)

    def timeraw_first_estimator_fit_multiclass(self, numba_cache):
        return first_fit_code("multiclass"), child_setup(numba_cache)

    def timeraw_first_estimator_fit_sparse(self, numba_cache):
        return first_fit_code("sparse"), child_setup(numba_cache)


def timeraw_import():
    """Baseline for ColdStart: ``import fastlr`` alone in a fresh process."""
    return "import fastlr", child_setup()
