"""asv suite for the performance targets, on the exact workload of the
performance table in README: X ~ N(0, 1), 1,000,000 x 100, one epoch from w = 0,
lr 0.1, loss tracked unless said otherwise.

Each ``track_`` value is a ratio measured inside one call from interleaved
repetitions (``fastlr.bench.interleaved``), the same code as
``fastlr bench --full``, so load from other processes hits both sides alike.
The raw epoch times are in ``bench_train.py``.
"""

import os

for _name, _value in (("NUMBA_NUM_THREADS", "2"), ("OMP_NUM_THREADS", "1"),
                      ("OPENBLAS_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1")):
    os.environ.setdefault(_name, _value)

import numba  # noqa: E402
import numpy as np  # noqa: E402

from fastlr import _kernels  # noqa: E402
from fastlr.bench import (  # noqa: E402
    FULL_FEATURES,
    FULL_ROWS,
    epoch_time_fn,
    interleaved,
    make_workload,
)

REPEATS = 5


class Targets:
    """P1, P2, P3, P6: one thread, batch 256; ratios to the floor or to each other."""

    unit = "ratio"
    timeout = 600
    number = 1
    repeat = 1

    def setup(self):
        self.X, self.y = make_workload(FULL_ROWS, FULL_FEATURES, np.float64)
        self.X32 = self.X.astype(np.float32)
        self.t = interleaved({
            "floor": lambda: _kernels.stream_sum(self.X),
            "loss": epoch_time_fn(self.X, self.y, 256, n_threads=1),
            "noloss": epoch_time_fn(self.X, self.y, 256, n_threads=1,
                                    epoch_loss=None),
            "f32": epoch_time_fn(self.X32, self.y, 256, n_threads=1),
            "shuffled": epoch_time_fn(self.X, self.y, 256, n_threads=1,
                                      shuffle=True),
        }, repeats=REPEATS)

    def track_p1_epoch_over_floor(self):
        return self.t["loss"] / self.t["floor"]

    def track_p2_epoch_no_loss_over_floor(self):
        return self.t["noloss"] / self.t["floor"]

    def track_p3_float32_over_float64(self):
        return self.t["f32"] / self.t["loss"]

    def track_p6_shuffled_over_natural(self):
        return self.t["shuffled"] / self.t["loss"]


class Threads:
    """P7, P8: all numba threads over one thread, by batch size (the kernel
    choice is automatic: small batches stay on one thread)."""

    unit = "ratio"
    timeout = 600
    number = 1
    repeat = 1
    params = [32, 256, 4096, 16384]
    param_names = ["batch_size"]

    def setup(self, batch_size):
        if numba.get_num_threads() < 2:
            raise NotImplementedError("needs at least 2 numba threads")
        self.X, self.y = make_workload(FULL_ROWS, FULL_FEATURES, np.float64)

    def track_threads_over_one(self, batch_size):
        t = interleaved({
            "1": epoch_time_fn(self.X, self.y, batch_size, n_threads=1),
            "n": epoch_time_fn(self.X, self.y, batch_size,
                               n_threads=numba.get_num_threads()),
        }, repeats=REPEATS)
        return t["n"] / t["1"]
