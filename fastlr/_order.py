"""Row visiting order, shared by the kernels' driver and the reference.

Kernels never draw random numbers: Python computes each epoch's order here
and passes it in, so :func:`fastlr.train` and :func:`fastlr.reference.train`
see the same batches in the same order for the same ``random_state``.

An order is ``(blocks, block)``: the epoch visits blocks of ``block``
consecutive rows in the order ``blocks``; position ``p`` of the epoch is row
``blocks[p // block] * block + p % block``. Only full blocks are permuted;
the partial tail block (``m % block`` rows) always comes last.
"""

import copy
import numbers

import numpy as np

#: Target bytes of one block of consecutive rows: long enough runs for the
#: hardware prefetcher to stream, short enough to mix a batch well.
BLOCK_BYTES = 16 * 1024

#: A batch draws on at least this many blocks, so that it mixes rows from
#: far-apart parts of the data even when rows are sorted (by label, say).
MIN_BLOCKS_PER_BATCH = 8


def check_random_state(random_state):
    """Refuse (a named error) anything but None, an int >= 0, a numpy
    Generator or RandomState; draws nothing."""
    if random_state is None or isinstance(random_state, (np.random.Generator,
                                                         np.random.RandomState)):
        return
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError("random_state must be None, a non-negative int, a "
                        f"numpy Generator or RandomState, got {random_state!r}")
    if random_state < 0:
        raise ValueError(f"random_state must be non-negative, got {random_state}")


def make_rng(random_state):
    """A ``numpy.random.Generator`` from None, an int >= 0, a Generator or a
    RandomState (:func:`check_random_state`). None draws its seed from
    NumPy's global RandomState, as scikit-learn's ``check_random_state``
    does, so that ``np.random.seed`` makes unseeded runs repeatable."""
    check_random_state(random_state)
    if random_state is None:
        random_state = np.random.mtrand._rand
    if isinstance(random_state, np.random.RandomState):
        # scikit-learn style RandomState: derive a seed from it
        random_state = int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    return np.random.default_rng(int(random_state))


#: NumPy's bit generators, by name: those a model file's ``rng_state`` may
#: name (looked up here, never by getattr on a name read from the file),
#: and those :func:`copied_rng` copies by their state.
BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


def copied_rng(rng):
    """An independent copy of the Generator ``rng`` (None: None) that draws
    what it draws: for NumPy's own bit generators (:data:`BIT_GENERATORS`)
    a new one given its state, which is all that the draws come from (a
    model file keeps no more), else ``copy.deepcopy``, which pickles and
    unpickles it: about 30 us against 10-15 for PCG64, where a
    ``partial_fit`` call on a chunk of 100 x 20 takes about 600 (each call
    trains a copy of the state, generator included)."""
    if rng is None:
        return None
    bits = rng.bit_generator
    kind = type(bits)
    if type(rng) is not np.random.Generator or BIT_GENERATORS.get(
            kind.__name__) is not kind:
        return copy.deepcopy(rng)
    new = kind(0)
    new.state = bits.state
    return np.random.Generator(new)


def kept_rng(rng, random_state):
    """The generator a fitted model keeps to continue its shuffling
    (``partial_fit``, what a model file saves): ``rng``, the one training
    drew from, or an independent copy of it (taken now, as the call ends)
    when it is the caller's own Generator given as ``random_state``.
    Training draws from that Generator, advancing it (NumPy's convention:
    passing one means "draw from this stream"), but a model that kept it
    would continue, and be saved, differently after every later draw of
    the caller's."""
    if rng is not None and rng is random_state:
        return copy.deepcopy(rng)
    return rng


def check_shuffle(shuffle):
    """True/False (numpy bools too), "blocks" or "rows"."""
    if not (isinstance(shuffle, (bool, np.bool_)) or
            (isinstance(shuffle, str) and shuffle in ("blocks", "rows"))):
        raise ValueError(f"shuffle must be True, False, 'blocks' or 'rows', got "
                         f"{shuffle!r}")
    return bool(shuffle) if not isinstance(shuffle, str) else shuffle


def block_rows(row_bytes, batch_size):
    """Rows per shuffled block: about BLOCK_BYTES, and at most
    ``batch_size // MIN_BLOCKS_PER_BATCH`` (at least 1)."""
    return int(max(1, min(BLOCK_BYTES // max(row_bytes, 1),
                          batch_size // MIN_BLOCKS_PER_BATCH)))


class EpochOrder:
    """Yields one ``(blocks, block)`` order per epoch.

    Parameters
    ----------
    m : int
        Number of rows.
    shuffle : {True, "blocks", "rows", False}
        ``False``: natural order. ``True`` or ``"blocks"``: a fresh random
        permutation of blocks of :func:`block_rows` consecutive rows each
        epoch (sequential memory access; see README for the statistics).
        ``"rows"``: a fresh permutation of single rows (exact per-row
        shuffling; each row is a random memory access, several times slower
        on large data).
    rng : numpy.random.Generator
    block : int
        Rows per block for ``"blocks"``.
    """

    def __init__(self, m, shuffle, rng, block=1):
        self.m = m
        self.rng = rng
        if shuffle is False:
            self.block = max(m, 1)
            self._fixed = np.zeros(1, dtype=np.int64)
        else:
            self.block = 1 if shuffle == "rows" else max(1, min(block, m))
            self._fixed = None
        self.n_full = m // self.block
        self.tail = m % self.block

    def next(self):
        if self._fixed is not None:
            return self._fixed, self.block
        blocks = self.rng.permutation(self.n_full)
        if self.tail:
            blocks = np.append(blocks, self.n_full)
        return blocks.astype(np.int64, copy=False), self.block


def rows_of(blocks, block, m):
    """Expand an order to the row index of every position (reference only)."""
    return (blocks[:, None] * block + np.arange(block)).reshape(-1)[:m]
