"""asv suite for out-of-core training: an epoch on a read-only np.memmap
against the same epoch in memory, and streaming a file with
``fastlr.io.iter_chunks`` + ``partial_fit``.

The memmap's file is written in setup and read once before timing, so it
is in the page cache: the figure is the cost of the memmap path itself
(read-only array, page-mapped memory), not of the disk.
"""

import os
import shutil
import tempfile

import numpy as np

import fastlr
from fastlr.io import iter_chunks

from .common import make_workload

ROWS, FEATURES = 200_000, 100


class MemmapEpoch:
    """One epoch of ``fastlr.train`` (batch 256) on X in memory or memmapped."""

    params = ["memory", "memmap"]
    param_names = ["storage"]
    timeout = 120

    def setup(self, storage):
        X, self.y = make_workload(ROWS, FEATURES)
        self.dir = tempfile.mkdtemp()
        if storage == "memmap":
            path = os.path.join(self.dir, "X.npy")
            np.save(path, X)
            X = np.load(path, mmap_mode="r")
        self.X = X
        # warm-up on all of X: compiles (or loads) the kernels for this array
        # type, threaded one included, and pulls the file into the page cache
        fastlr.train(self.X, self.y, batch_size=256, epochs=1)

    def teardown(self, storage):
        self.X = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_epoch(self, storage):
        fastlr.train(self.X, self.y, batch_size=256, epochs=1, lr=0.1)


class StreamChunks:
    """One pass of ``partial_fit`` over a .npy file read in chunks, against
    ``partial_fit`` on the array in memory."""

    params = ["memory", "chunks"]
    param_names = ["source"]
    timeout = 120

    def setup(self, source):
        X, y = make_workload(ROWS, FEATURES)
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "data.npy")
        np.save(self.path, np.column_stack([X, y]))
        self.X, self.y = X, y
        fastlr.LogisticRegression().partial_fit(X[:1000], y[:1000], classes=[0, 1])

    def teardown(self, source):
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_one_pass(self, source):
        clf = fastlr.LogisticRegression(batch_size=256, random_state=0)
        if source == "memory":
            clf.partial_fit(self.X, self.y, classes=[0, 1])
        else:
            for X, y in iter_chunks(self.path, 50_000):
                clf.partial_fit(X, y, classes=[0, 1])
