"""Row visiting order, shared by the kernels' driver and the reference.

Kernels never draw random numbers: Python computes each epoch's order here
and passes it in, so :func:`fastlr.train` and :func:`fastlr.reference.train`
see the same batches in the same order for the same ``random_state``.
"""

import numpy as np


def make_rng(random_state):
    """A ``numpy.random.Generator`` from None, an int, or a Generator."""
    if isinstance(random_state, np.random.RandomState):
        # scikit-learn style RandomState: derive a seed from it
        random_state = int(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


class EpochOrder:
    """Yields one row order per epoch.

    Parameters
    ----------
    m : int
        Number of rows.
    shuffle : bool
        False: natural order every epoch (one ``arange``, reused).
        True: a fresh ``rng.permutation(m)`` each epoch.
    rng : numpy.random.Generator
    """

    def __init__(self, m, shuffle, rng):
        self.m = m
        self.shuffle = shuffle
        self.rng = rng
        self._natural = None if shuffle else np.arange(m, dtype=np.int64)

    def next(self):
        if self.shuffle:
            return self.rng.permutation(self.m).astype(np.int64, copy=False)
        return self._natural
