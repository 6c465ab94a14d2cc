"""Distributed training on Dask: parameter averaging over row blocks.

``fastlr.distributed.train`` trains on a ``dask.array`` where its blocks
live. The algorithm is iterative parameter mixing (McDonald, Hall and Mann,
2010, "Distributed Training Strategies for the Structured Perceptron", NAACL),
the iterated form of the one-shot parameter averaging analysed by Zinkevich,
Weinberger, Smola and Li (2010, "Parallelized Stochastic Gradient Descent",
NIPS):

1. two passes over the blocks, on the workers, check them (finite X, 0/1
   labels) and compute the standardization as :func:`fastlr.train` does:
   the largest ``|x|`` of each column, then the sums of the shifted, scaled
   columns, added on the client and finished by the same rule
   (:mod:`fastlr._stats`);
2. each epoch, every row block runs one epoch of fastlr's serial SGD kernel
   (``epochs=1``) on its own rows, starting from
   the current model; the client averages the returned weights and
   intercepts weighted by the blocks' row counts, and records the
   row-weighted mean of the blocks' running losses.

For a convex loss such as the log-loss, the average of the block models is
no worse (in loss) than the average of their losses (Jensen), and iterating
the mixing converges (McDonald et al., Theorem 3, for the perceptron;
Zinkevich et al. for SGD with a small constant step). With one block the
algorithm is exactly :func:`fastlr.train`.

The blocks are converted once (C-contiguous float32/float64 X, int64 0/1
y) and kept in the workers' memory for the whole run; each epoch only sends
the model (``w``, ``b``, a random generator state) to every block and gets a
model back. X never travels to the client.

dask is an optional dependency (``pip install "fastlr-numba[dask]"``); only
this module imports it.
"""

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised without dask
    raise ImportError(
        "fastlr.distributed needs dask: pip install \"fastlr-numba[dask]\" "
        "(dask[array] and distributed)"
    ) from exc

from . import _stats
from ._dispatch import Data, as_data
from ._driver import TrainResult, check_train_params, run_epochs
from ._kernels.stats import finish
from ._order import make_rng
from ._sgd import sgd
from ._state import ModelState
from ._validation import (
    _as_numeric_array,
    check_dtype_kind,
    check_labels01,
    check_positive_int,
)

__all__ = ["train", "column_stats"]


# --------------------------------------------------------------------------
# tasks that run on the workers, one per row block


def _prepare_block(Xb, yb, index, row0):
    """Validate and convert one block; kept in worker memory for the run."""
    try:
        data = as_data(Xb, "X", accept_sparse=False)
    except ValueError as exc:
        rows = f"rows {row0} to {row0 + np.shape(Xb)[0] - 1}"
        raise ValueError(f"{exc} (row block {index}, {rows})") from None
    y = check_labels01(yb, "y", m=data.m).astype(np.int64)
    return data.X, y   # plain arrays: a block may travel between workers


def _block_absmax(block):
    """``(rows, largest |x| per column, first row, positive labels)``."""
    X, y = block
    amax, shift = Data(X).absmax()
    return X.shape[0], amax, shift, int(y.sum())


def _block_sums(block, inv, shift):
    s1, s2 = Data(block[0]).shifted_sums(inv, shift)
    return s1[0], s2[0]


def _block_epoch(block, rng, mean, scale, w, b, params, first_epoch):
    """One epoch of fastlr's serial SGD on one block, from ``(w, b)``.

    Returns ``(w, b, loss_sum, n_rows, rng)``: the block's model, the sum of
    its rows' running losses, and the advanced random generator.
    """
    data, y = Data(block[0]), block[1]
    state = ModelState(mean, scale)
    state.W[0] = w   # a copy: threads may share w
    state.B[0] = b
    losses, _ = sgd(data, y, np.empty(0), state, epochs=1, rng=rng,
                    epoch_loss="running", tol=None, n_iter_no_change=1,
                    first_epoch=first_epoch, **params)
    return state.W[0], float(state.B[0]), float(losses[0]) * data.m, data.m, rng


# --------------------------------------------------------------------------
# client side


def column_stats(runner, blocks):
    """Standardization of all blocks, as :func:`fastlr.train` computes it on
    one array: per-block largest ``|x|`` (maximum over blocks) and sums of
    the shifted, scaled columns (added in block order), finished by the
    rule of :func:`fastlr._stats.finish`. The shift is the first row of block 0.

    Returns ``(mean, scale, rows, positive labels, rows per block)``.
    """
    first = runner.map(_block_absmax, blocks)
    counts = [f[0] for f in first]
    amax = np.max([f[1] for f in first], axis=0)
    shift = first[0][2]
    s, inv = _stats.scaling(amax)
    s1 = np.zeros_like(amax)
    s2 = np.zeros_like(amax)
    for a, b in runner.map(_block_sums, blocks, inv, shift):
        s1 += a
        s2 += b
    m = sum(counts)
    mean, scale = finish(m, s, inv, shift, s1, s2)
    return mean, scale, m, sum(f[3] for f in first), counts


class _ClientRunner:
    """Runs block tasks on a ``distributed.Client``: blocks stay as futures."""

    def __init__(self, client):
        self.client = client

    def persist(self, func, *args_per_block):
        from distributed import wait

        keyed = [dask.delayed(func, pure=False)(*args)
                 for args in zip(*args_per_block, strict=True)]
        futures = self.client.compute(keyed)
        wait(futures)  # in memory (or failed) before placing tasks next to them
        return futures

    def map(self, func, blocks, *args, per_block=None):
        per_block = per_block or [()] * len(blocks)
        # Run each block's task on the worker holding the block. The scheduler
        # would otherwise balance queues by moving blocks (it assumes unknown
        # tasks take 0.5 s); the restriction is loose, so a block that was
        # lost with its worker (and recomputed elsewhere) still runs.
        holders = self.client.who_has(blocks)
        futures = []
        for blk, extra in zip(blocks, per_block, strict=True):
            where = list(holders.get(blk.key, ()))
            place = {"workers": where, "allow_other_workers": True} if where else {}
            futures.append(self.client.submit(func, blk, *extra, *args, pure=False,
                                              **place))
        try:
            return self.client.gather(futures)
        finally:
            for fut in futures:
                fut.release()

    def release(self, blocks):
        for fut in blocks:
            fut.release()


class _LocalRunner:
    """Runs block tasks with dask's default scheduler (no distributed client)."""

    def persist(self, func, *args_per_block):
        keyed = [dask.delayed(func, pure=False)(*args)
                 for args in zip(*args_per_block, strict=True)]
        return list(dask.persist(*keyed))

    def map(self, func, blocks, *args, per_block=None):
        per_block = per_block or [()] * len(blocks)
        tasks = [dask.delayed(func, pure=False)(blk, *extra, *args)
                 for blk, extra in zip(blocks, per_block, strict=True)]
        return list(dask.compute(*tasks))

    def release(self, blocks):
        pass


def _runner(client):
    if client is not None:
        return _ClientRunner(client)
    try:
        from distributed import get_client
    except ImportError:
        return _LocalRunner()
    try:
        return _ClientRunner(get_client())
    except ValueError:  # no client running
        return _LocalRunner()


def _as_dask(a, name, ndim):
    """A dask array from a dask array or a numpy array (one chunk)."""
    if isinstance(a, np.ndarray):
        a = da.from_array(a, chunks=a.shape)
    elif not isinstance(a, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array or a numpy.ndarray, "
                        f"got {type(a).__name__}")
    if a.ndim != ndim:
        want = "2-D of shape (n_samples, n_features)" if ndim == 2 else "1-D"
        raise ValueError(f"{name} must be {want}, got {a.ndim}-D with shape "
                         f"{a.shape}")
    if any(np.isnan(c) for dim in a.chunks for c in dim):
        raise ValueError(f"{name} has unknown chunk sizes (NaN in {name}.chunks, as "
                         "after boolean indexing or from dask.dataframe); call "
                         f"{name}.compute_chunk_sizes() first")
    check_dtype_kind(a.dtype, name)  # object arrays: converted block by block
    return a


def _check_inputs(X, y):
    X = _as_dask(X, "X", 2)
    m, n = X.shape
    if m == 0 or n == 0:
        raise ValueError(f"X is empty: shape {X.shape}")
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.shape[0] == m:
        y = da.from_array(y, chunks=(X.chunks[0],))
    y = _as_dask(y, "y", 1)
    if y.shape[0] != m:
        raise ValueError(f"y has {y.shape[0]} entries but X has {m} rows; they "
                         "must match")
    if X.dtype == object:  # each block converted, with named errors
        X = X.map_blocks(_as_numeric_array, "X", dtype=np.float64)
    elif X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:  # blocks hold whole rows
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk((X.chunks[0],))
    return X, y


class _Epochs:
    """The ``orders`` argument of :func:`fastlr._driver.run_epochs`: the
    per-block orders are drawn on the workers, so there is nothing to pass."""

    def next(self):
        return ()


def train(X, y, batch_size=100, epochs=100, lr=0.01, *, standardize=True,
          shuffle=True, random_state=None, penalty=None, alpha=1e-4, client=None,
          tol=None, n_iter_no_change=5, n_threads=1, callback=None):
    """Fit binary logistic regression on a dask array by parameter averaging.

    Each epoch, every row block of X runs one epoch of fastlr's mini-batch
    SGD kernel on its own rows, where it lives, starting from the current
    model; the client then averages the block models weighted by their row
    counts (iterative parameter mixing, McDonald et al. 2010; one-shot
    parameter averaging, Zinkevich et al. 2010, "Parallelized Stochastic
    Gradient Descent"). See the module docstring.

    Parameters
    ----------
    X : dask.array.Array or numpy.ndarray of shape (m, n)
        Features, chunked by rows (column chunks are merged into one:
        a block must hold whole rows). A numpy array is one block. Chunk
        sizes must be known. Each block is converted once (C-contiguous,
        float32 kept, other dtypes to float64) and held by the workers.
    y : dask.array.Array or numpy.ndarray of shape (m,)
        Labels 0 or 1, both present; rechunked to X's row chunks.
    batch_size, epochs, lr, standardize, penalty, alpha, tol, n_iter_no_change
        As in :func:`fastlr.train`, applied within each block (the last
        batch of each block may be smaller). ``standardize`` uses the
        statistics of all of X, computed on the workers: each block sends
        its row count, column means, largest ``|x|`` and the standard
        deviation of ``x / max|x|``; the client merges them with Chan et
        al.'s formula in units of the largest ``|x|`` (no overflow for
        finite data).
    shuffle : {True, False, "blocks", "rows"}, default True
        As in :func:`fastlr.train`, within each block. Block ``k`` draws its
        orders from its own generator: block 0 from the generator
        :func:`fastlr.train` would use for ``random_state``, block ``k > 0``
        from the ``k``-th child (``Generator.spawn``) of that generator;
        epoch ``e`` of block ``k`` uses the ``e``-th draw. The generator
        state travels with the task, so orders depend only on
        ``random_state``, the epoch and the block index, never on which
        worker ran what. With a single block this is exactly
        :func:`fastlr.train`.
    random_state : None, int, numpy Generator or RandomState
    client : distributed.Client or None
        Where to run. None uses the current client (``distributed.get_client()``)
        if there is one, else dask's default scheduler (``dask.compute``).
    n_threads : int, default 1
        Numba threads per block task (one worker thread per core is the usual
        dask layout, hence 1).
    callback : callable(epoch, loss) or None

    Returns
    -------
    fastlr.TrainResult
        ``(w, b, losses)`` in raw feature space, ``w`` in X's dtype;
        ``losses[e]`` is the row-weighted mean over the blocks of their
        running losses in epoch ``e`` (each block's rows scored by that
        block's own model at the time).

    Raises
    ------
    TypeError, ValueError
        Bad input, naming the argument (NaN/inf in X and non-binary labels
        are found in the statistics pass and name the row block).
    fastlr.DivergedError
        The loss became inf/NaN or exploded.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastlr.distributed
    >>> X = da.from_array(np.array([[0.0], [1.0], [2.0], [3.0]] * 2), chunks=4)
    >>> y = da.from_array(np.array([0, 0, 1, 1] * 2), chunks=4)
    >>> w, b, losses = fastlr.distributed.train(X, y, batch_size=2, epochs=200,
    ...                                         lr=0.5, random_state=0)
    >>> fastlr.predict(np.array([[0.0], [3.0]]), w, b).tolist()
    [0, 1]
    """
    if penalty not in (None, "l2"):
        # an L1 part is applied by cumulative truncation whose running totals
        # live in each block's optimizer state, which is rebuilt every epoch
        raise ValueError(f"penalty must be None or 'l2' for distributed "
                         f"training, got {penalty!r}")
    params = check_train_params(batch_size, epochs, lr, penalty, alpha, "running",
                                tol, n_iter_no_change, shuffle)
    batch_size, epochs, lr, alpha, tol, n_iter_no_change = params
    n_threads = check_positive_int(n_threads, "n_threads")
    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be True or False, got {standardize!r}")
    rng = make_rng(random_state)
    X, y = _check_inputs(X, y)
    runner = _runner(client)

    # row blocks, skipping empty ones
    sizes = X.chunks[0]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    keep = [k for k, s in enumerate(sizes) if s > 0]
    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    blocks = runner.persist(_prepare_block, [xs[k] for k in keep],
                            [ys[k] for k in keep], keep,
                            [int(starts[k]) for k in keep])
    try:
        mean, scale, m, ones, counts = column_stats(runner, blocks)
        if ones == 0 or ones == m:
            raise ValueError(f"y contains a single class ({int(ones > 0)}); "
                             "training needs both labels 0 and 1")
        if not standardize:
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        return _fit(runner, blocks, counts, mean, scale, rng, X.dtype, dict(
            batch_size=batch_size, lr=lr, shuffle=shuffle, penalty=penalty,
            alpha=alpha, n_threads=n_threads), epochs=epochs, lr=lr, tol=tol,
            n_iter_no_change=n_iter_no_change, callback=callback)
    finally:
        runner.release(blocks)


def _fit(runner, blocks, counts, mean, scale, rng, dtype, params, **loop):
    counts = np.array(counts, dtype=np.float64)
    frac = counts / counts.sum()
    # block 0 uses train's own generator, block k the k-th spawned child
    rngs = [rng, *rng.spawn(len(blocks) - 1)] if len(blocks) > 1 else [rng]
    state = ModelState(mean, scale)
    epoch = [0]

    def run_one():
        outs = runner.map(_block_epoch, blocks, mean, scale, state.W[0].copy(),
                          float(state.B[0]), params, epoch[0],
                          per_block=[(r,) for r in rngs])
        # average in block order, whatever order the tasks finished in
        w = np.zeros(state.n_features)
        b = 0.0
        loss = 0.0
        for k, (wk, bk, loss_k, _, rng_k) in enumerate(outs):
            w += frac[k] * wk
            b += frac[k] * bk
            loss += loss_k
            rngs[k] = rng_k
        state.W[0] = w
        state.B[0] = b
        epoch[0] += 1
        loss /= counts.sum()
        return loss, loss

    losses, _ = run_epochs(run_one, state.finite, _Epochs(), track=True, **loop)
    W, B = state.raw()
    return TrainResult(W[0].astype(dtype, copy=False), float(B[0]), losses)
