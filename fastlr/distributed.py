"""Training on Dask: iterative parameter mixing, and a finisher over
blockwise gradient sums.

:class:`fastlr.LogisticRegression` hands a ``dask.array`` (or dask
DataFrame) to this module; :func:`train` is the functional form for the
binary model. X never travels to the client: its row blocks are converted
once on the workers (C-contiguous float32/float64 or canonical CSR,
class codes, sample weights times class weights, the held-out mask of
``early_stopping``) and stay there for the whole fit. What travels is the
model.

Algorithm
---------
1. Two passes over the blocks compute the (weighted) standardization as
   the in-memory fit does: the largest ``|x|`` of each column, then the
   sums of the shifted, scaled columns, added on the client in block order
   and finished by the same rule (:mod:`fastlr._stats`). A pass before them
   collects the labels of every block (only the distinct labels and their
   counts travel).
2. SGD epochs by *iterative parameter mixing* (McDonald, Hall and Mann,
   2010, "Distributed Training Strategies for the Structured Perceptron";
   the iterated form of Zinkevich et al. 2010, "Parallelized Stochastic
   Gradient Descent"): each epoch every block runs one epoch of fastlr's
   SGD kernels (:func:`fastlr._sgd.sgd`: binary or softmax, dense or CSR,
   any penalty, schedule, averaging) on its rows, starting from the
   current model *and its optimizer state*; the client then averages every
   array of the state (weights, intercepts, AdaGrad sums, averaged
   iterates, the cumulative L1 penalty of Tsuruoka et al.), weighted by
   the blocks' training weights, in block order. The L1 totals therefore
   carry across epochs as in one process. With one block this is the
   in-memory SGD: bit for bit without standardization, to rounding with it
   (the blockwise statistics are summed in another order, about 1e-15
   relative, which the epochs carry into the weights' last bits).
3. Optionally (``solver="lbfgs"`` or ``"auto"``) the deterministic finisher
   of :mod:`fastlr._solver`: each L-BFGS iteration maps
   :meth:`fastlr._dispatch.Data.loss_grad` over the blocks and adds the
   results on the client, so only ``k (n + 1) + 1`` numbers travel per
   block per iteration, and the optimum does not depend on the block count.

Each block makes 1/B of the steps an epoch makes in one process, so
parameter mixing needs more epochs than one machine as B grows (and its
model is the average of B models each fitted to 1/B of the data); use the
finisher when the exact optimum matters.

Fault tolerance: the model state lives on the client between epochs and
every task is a pure function of its inputs (the block, the model, the
block's random generator state), so a task lost with its worker is rerun
from the same inputs and the blocks are recomputed from the graph: the
result equals the run without a failure.

dask is an optional dependency (``pip install "fastlr-numba[dask]"``); only
this module imports it, and the estimator imports this module only when it
is given a Dask collection.
"""

import contextlib
import copy
import math
import numbers
import sys

import numpy as np
import scipy.sparse as sp

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised without dask
    raise ImportError(
        "fastlr.distributed needs dask: pip install \"fastlr-numba[dask]\" "
        "(dask[array] and distributed)"
    ) from exc

from . import _stats
from ._dispatch import Data, as_data, check_finite, link_columns, merge_finish
from ._driver import (
    STREAM_ALPHA,
    AdaptiveRate,
    TrainResult,
    alpha_value,
    check_fit_intercept,
    check_run,
    check_sgd_options,
    check_train_params,
    is_auto_alpha,
    keep_best,
    run_epochs,
    standardization,
    warn_weight_mean,
)
from ._kernels.stats import finish_columns
from ._order import check_random_state, make_rng
from ._progress import epoch_progress
from ._sgd import sgd, written_arrays
from ._solver import (
    CurvatureSample,
    check_solver,
    curvature_rows,
    warn_unconverged,
)
from ._state import ModelStack, ModelState, counted_moments
from ._train import run_solver
from ._validation import (
    TRAIN_BYTES_PER_CLASS,
    TRAIN_BYTES_PER_COLUMN,
    _as_numeric_array,
    check_dtype_kind,
    check_label_pair,
    check_standardize,
    check_weight_total,
    check_width,
    float_dtype_of,
    is_dask,
    is_sparse,
    is_text,
    numeric_input,
    refuse_continuous,
    refuse_one_class,
    refuse_unseen,
    shown,
    standardize_option,
    unique_labels,
    weights_name,
    zero_weights_message,
)
from .core import check_model_memory

__all__ = ["ClientClosedError", "train"]


# --------------------------------------------------------------------------
# tasks that run on the workers, one per row block


def _where(index, row0, m):
    return f"row block {index}, rows {row0} to {row0 + m - 1}"


def _check_lengths(index, row0, size, **lengths):
    """ValueError naming the arguments when the real lengths of a row
    block's parts (``X=``, ``y=``, ``sample_weight=``; None: not given)
    differ from the ``size`` rows X's chunks declare for it (chunk sizes
    are metadata: ``da.from_delayed`` of a file that lost or gained rows),
    before any kernel pairs rows with labels."""
    given = {k: v for k, v in lengths.items() if v is not None}
    if any(v != size for v in given.values()):
        held = " and ".join(f"{v} rows of {k}" for k, v in given.items())
        raise ValueError(f"row block {index} (rows {row0} to {row0 + size - 1} by "
                         f"X.chunks) has {held}; the blocks of "
                         f"{' and '.join(given)} must have the {size} rows their "
                         "chunks declare")


def _check_pair(index, row0, size, paired, **lengths):
    """ValueError naming y or sample_weight when its row block ``index``
    (lengths in ``lengths``, None: not given) has not the ``size`` rows of
    X's: as :func:`_check_lengths`, or, ``paired`` (some chunk sizes
    unknown: blocks paired one to one), saying so."""
    if not paired:
        _check_lengths(index, row0, size, **lengths)
        return
    bad = {k: v for k, v in lengths.items() if v is not None and v != size}
    if bad:
        where = "" if row0 is None else f" (rows {row0} to {row0 + size - 1})"
        held = " and ".join(f"{name}'s has {v}" for name, v in bad.items())
        raise ValueError(
            f"X's row block {index}{where} has {size} rows but {held}; with chunk "
            f"sizes unknown, the blocks of X and {' and '.join(bad)} are paired one "
            f"to one and must have the same rows (as X[mask] and "
            f"{next(iter(bad))}[mask] of the same mask have)")


def _check_columns(index, row0, size, columns, declared):
    """ValueError naming X when a row block's real width is not X's."""
    if columns != declared:
        where = "" if row0 is None else f" (rows {row0} to {row0 + size - 1})"
        raise ValueError(f"X's row block {index}{where} has {columns} columns, but "
                         f"X declares {declared}")


def _block_labels(yb, swb, index, row0, size):
    """Distinct labels of a y block, their counts and, with sample weights
    ``swb`` (else None), their rows' summed weights (else the counts)."""
    y = np.asarray(yb)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got a block of shape {y.shape} "
                         f"({_where(index, row0, len(y))})")
    sw = None if swb is None else np.asarray(swb)
    _check_lengths(index, row0, size, y=len(y),
                   sample_weight=None if sw is None else len(sw))
    _refuse_missing(y, "y", index, row0)
    labels, inverse, counts = unique_labels(y, return_inverse=True,
                                            return_counts=True)
    sums = counts
    if swb is not None:
        sw = _block_weights(sw, index, row0)
        sums = np.bincount(inverse, weights=sw, minlength=labels.shape[0])
    return labels, counts, sums


def _block_weights(swb, index, row0):
    """A block of sample weights as float64, NaN, infinity and pandas' NA
    (an object block of a nullable column) refused as in memory, naming the
    block and row."""
    sw = np.asarray(swb)
    _refuse_missing(sw, "sample_weight", index, row0)
    sw = _as_numeric_array(sw, "sample_weight").astype(np.float64, copy=False)
    _refuse_missing(sw, "sample_weight", index, row0)
    return sw


def _refuse_missing(a, name, index, row0):
    """ValueError naming ``name``, the block and the first row when the
    block ``a`` holds NaN or infinity (floats) or pandas' NA (an object
    array: a nullable column's values), as in memory. None among labels is
    left to :func:`unique_labels`, which names it as in memory too."""
    bad = None
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a)
    elif a.dtype == object and sys.modules.get("pandas") is not None:
        import pandas  # (waits for another thread's import; see is_sparse)

        na = pandas.NA
        bad = np.fromiter((v is na for v in a.ravel()), dtype=bool, count=a.size)
    if bad is not None and bad.any():
        first = int(np.flatnonzero(bad)[0])
        if row0 is None:   # (X's chunk sizes unknown: rows from the block's start)
            raise ValueError(f"{name}'s row block {index} contains NaN or infinity "
                             f"(first at row {first})")
        raise ValueError(f"{name} contains NaN or infinity ({_where(index, row0, len(a))}"
                         f"; first at row {row0 + first})")


def _prepare_block(Xb, yb, swb, index, row0, shape, classes, class_weight,
                   holdout):
    """Validate and convert one block, whose chunks declare ``shape`` (rows,
    columns); kept in worker memory for the run. ``holdout``: None, or the
    block's held-out rows of each class (:func:`_holdout_counts`) and the
    seed of the generator that picks them.

    Returns ``(X, codes, sw, row_fold, held)``: X as the kernels take it,
    int64 class codes, float64 weights (empty: all ones), the int8 mask of
    held-out rows (None without ``early_stopping``) and the held-out rows
    ``(X, codes, sw)`` (or None).
    """
    m = (np.shape(Xb) or shape)[0]
    try:
        # on one thread, as the block's epochs and passes (see train's n_threads)
        data = as_data(Xb, "X", accept_sparse=True, check=False, n_threads=1)
        check_finite(data, "X", n_threads=1, row0=row0)   # rows named as rows of X
    except (TypeError, ValueError) as exc:
        msg = f"{exc} ({_where(index, row0, m)}"
        if not hasattr(Xb, "tocsr"):
            with np.errstate(invalid="ignore"):
                Xa = np.asarray(Xb)
                if Xa.dtype.kind in "fc" and Xa.ndim == 2:   # (else not 2-D)
                    bad = np.flatnonzero(~np.isfinite(Xa).all(axis=1))
                    if bad.size:
                        msg += f"; rows {(row0 + bad[:5]).tolist()}"
        raise ValueError(msg + ")") from None
    _check_columns(index, row0, shape[0], data.n, shape[1])
    y = np.asarray(yb)
    _check_lengths(index, row0, shape[0], X=m, y=len(y),
                   sample_weight=None if swb is None else len(swb))
    if classes.shape[0] == 2:
        codes = (y == classes[1]).astype(np.int64)
    else:
        codes = np.searchsorted(classes, y).astype(np.int64)
    sw = np.empty(0)
    if swb is not None:
        sw = np.asarray(swb, dtype=np.float64)
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError(f"sample_weight must be finite and non-negative "
                             f"({_where(index, row0, m)})")
    if class_weight is not None:
        row = class_weight[codes]   # codes index classes (0/1 for two)
        with np.errstate(over="ignore"):
            sw = row if sw.shape[0] == 0 else sw * row
        if not np.isfinite(sw).all():
            raise ValueError(f"sample_weight times class_weight is beyond float64 "
                             f"({_where(index, row0, m)}); scale the weights down")
    row_fold = held = None
    if holdout is not None:
        takes, seed = holdout   # held-out rows of each class (_holdout_counts)
        rng = np.random.default_rng(seed)
        row_fold = np.zeros(m, dtype=np.int8)
        for c in np.unique(codes):
            idx = np.flatnonzero(codes == c)
            row_fold[rng.permutation(idx)[:takes[c]]] = 1
        out = np.flatnonzero(row_fold)
        held = (data.X[out], codes[out], sw[out] if sw.shape[0] else sw)
    return data.X, codes, sw, row_fold, held


def _block_is_sparse(block):
    return is_sparse(block[0])


def _train_weights(block, weighted=True):
    """The block's weights over its training rows (ones without weights, or
    not ``weighted``: every training row counts alike, a row of weight 0
    too)."""
    X, _, sw, row_fold, _ = block
    w = sw if weighted and sw.shape[0] else np.ones(X.shape[0])
    return w if row_fold is None else np.where(row_fold == 0, w, 0.0)


def _block_absmax(block, weighted=True):
    """``(largest |x| per column, (weight, values) of the block's candidate
    row for the shift, counted rows storing each column (None for dense X),
    counted rows)`` (:meth:`fastlr._dispatch.Data.shift_parts` of the
    block's training rows, weighted or not: :func:`_train_weights`)."""
    w = _train_weights(block, weighted)
    amax, first, stored, [(i, counted)] = Data(block[0]).shift_parts(sw=w)
    return (amax[0], (w[i] if w.shape[0] else -np.inf, first[0]),
            None if stored is None else stored[0], counted)


def _block_weight_sum(block, weighted=True):
    """The total weight of the block's training rows, and how many of them
    weigh more than 0 (weighted or not: :func:`_train_weights`)."""
    w = _train_weights(block, weighted)
    return float(w.sum()), int(np.count_nonzero(w > 0))


def _weight_total(blocks, weighted=True):
    """``(total weight, counted rows)`` of the training rows of all blocks
    (:func:`_block_weight_sum`), summed in block order, as
    :func:`_column_moments` sums them; one pass over the weights."""
    total, counted = 0.0, 0
    for t, c in blocks.map(_block_weight_sum, weighted):
        total += t
        counted += c
    return total, counted


def _weight_mean(blocks):
    """The mean weight of the training rows of positive weight of all
    blocks (:func:`fastlr._driver.weight_mean`), one pass over the
    weights."""
    total, counted = _weight_total(blocks)
    return total / counted if counted > 0 else None


def _block_sums(block, inv, shift, weighted):
    """Sums of the shifted, scaled columns over the block's training rows,
    weighted (``weighted``) or not, and the total weight (not weighted: the
    number of training rows, those of weight 0 included, as the sums)."""
    X, _, sw, row_fold, _ = block
    w = _train_weights(block, weighted)
    data = Data(X)
    if weighted or row_fold is not None:
        s1, s2 = data.shifted_sums(inv, shift, sw=w)
    else:
        s1, s2 = data.shifted_sums(inv, shift)
    return s1[0], s2[0], float(w.sum()) if weighted else float(np.count_nonzero(w))


def _block_epoch(block, rng, arrays, meta, params, first_epoch, lr):
    """One SGD epoch of the model ``arrays`` (those :func:`_travelling`
    names, in ``meta``) on one block (its training rows).

    Returns ``(arrays, loss_sum, weight, rng)``: the block's state (the same
    arrays), the sum of its rows' weighted running losses, its training
    weight and the advanced random generator.
    """
    X, y, sw, row_fold, _ = block
    weight = float(_train_weights(block).sum())
    state = _state_from(arrays, meta)
    if weight <= 0.0:   # nothing to train on: the model passes through
        return _state_arrays(state, meta[3]), 0.0, 0.0, rng
    losses, _ = sgd(Data(X), y, sw, state, epochs=1, rng=rng, lr=lr,
                    epoch_loss="running", tol=None, n_iter_no_change=1,
                    first_epoch=first_epoch, row_fold=row_fold, n_threads=1,
                    **params)
    return _state_arrays(state, meta[3]), float(losses[0]) * weight, weight, rng


def _block_heldout(block, W, B, softmax):
    """Weighted held-out loss sum and weight of the raw-space model."""
    held = block[4]
    if held is None or held[1].shape[0] == 0:
        return 0.0, 0.0
    X, y, sw = held
    weight = float(sw.sum()) if sw.shape[0] else float(y.shape[0])
    return Data(X).loss_sum(y, sw, W, B, softmax, 1), weight


def _block_train_loss(block, W, B, softmax):
    """Weighted loss sum and weight of the raw-space model over the block's
    training rows."""
    w = _train_weights(block)
    return Data(block[0]).loss_sum(block[1], w, W, B, softmax, 1), float(w.sum())


def _block_loss_grad(block, center, scale, W, B, softmax):
    X, y, _, _, _ = block
    w = _train_weights(block)
    return Data(X).loss_grad(y, w, center, scale, W, B, softmax, 1)


def _block_sample(block, local):
    """The block's rows ``local`` of the finisher's curvature sample."""
    X, y, _, _, _ = block
    return X[local], y[local], _train_weights(block)[local]


def _curvature_sample(blocks):
    """:class:`fastlr._solver.CurvatureSample` of the blocks' rows: the
    rows the in-memory fit samples (the same steps), gathered in block
    order (a few thousand rows)."""
    rows = curvature_rows(blocks.m, blocks.n)
    parts = blocks.map(_block_sample, per_block=[
        (rows[(rows >= s) & (rows < s + z)] - s,) for s, z in blocks.spans])
    Xs = [p[0] for p in parts]
    X = sp.vstack(Xs, format="csr") if is_sparse(Xs[0]) else np.concatenate(Xs)
    return CurvatureSample(X, np.concatenate([p[1] for p in parts]),
                           np.concatenate([p[2] for p in parts]))


def _block_decision(Xb, W, B, dtype, link="logits", block_info=None):
    """The logits of one row block through ``link`` (as in memory: see
    :meth:`fastlr._dispatch.Data.decision`), 2-D; an empty block (a filtered
    DataFrame's partition) gives an empty one. A NaN in X is named by its
    row of X; a block whose real shape is not the one X's chunks declare
    is refused, naming X. X of unknown chunk sizes (a DataFrame's array
    without lengths, a filtered array): the block is named by its number,
    its rows counted from its start."""
    name, row0, where = "X", 0, None
    shape = np.shape(Xb)   # (of a list too: converted below)
    if block_info:
        (start, stop), _ = block_info[0]["array-location"]
        index = block_info[0]["chunk-location"][0]
        if math.isnan(stop):   # nothing declared: no length to check
            name = f"X's row block {index}"
            if len(shape) == 2:
                _check_columns(index, None, shape[0], shape[1], W.shape[1])
        else:
            row0 = start
            where = _where(index, row0, stop - row0)
            if len(shape) == 2:
                _check_columns(index, row0, stop - row0, shape[1], W.shape[1])
                _check_lengths(index, row0, stop - row0, X=shape[0])
    if len(shape) == 2 and shape[0] == 0:
        return np.empty((0, link_columns(link, W.shape[0])), dtype=dtype)
    try:
        data = as_data(Xb, name, accept_sparse=True, check=False, any_layout=True,
                       n_threads=1)
    except ValueError as exc:
        if len(shape) == 2 or where is None:
            raise
        # not 2-D, whatever X's chunks declare (a loader that returns a
        # column): as_data's refusal, the block named as fit names it
        raise ValueError(f"{exc} ({where})") from None
    return data.decision(W, B, 1, link=link, dtype=dtype, row0=row0)


# --------------------------------------------------------------------------
# the model state as it travels


def _travelling(state):
    """The names of the state's arrays an epoch sends to each block and
    averages back: W, B, steps and the optimizer arrays it may write, not
    those it shares (:attr:`fastlr._state.ModelState.shared`: zeros that
    training with its options never writes, placeholders when the state was
    made with only the arrays its options write). On a wide model the
    others were most of the traffic: 2**20 columns, plain SGD, 42 MB a
    block and way where 8 MB are needed."""
    return tuple(name for name in ModelStack.STATE if name not in state.shared)


def _state_arrays(state, names):
    return tuple(getattr(state, name) for name in names)


def _state_from(arrays, meta):
    """A block's own state: copies of the ``arrays`` named in ``meta``, the
    optimizer arrays not among them placeholders (which the epoch, with
    the options that made them idle, never indexes)."""
    mean, scale, softmax, names = meta
    state = ModelState(mean, scale, arrays[0].shape[0], softmax,
                       written=[name for name in names if name in ModelState.IDLE])
    for name, value in zip(names, arrays, strict=True):
        setattr(state, name, np.array(value))   # a copy: the task's own
    return state


def _mix(state, outs, names):
    """Average the blocks' states (their arrays ``names``) into ``state``,
    weighted by their training weights, in block order. Returns the epoch's
    mean running loss."""
    weights = np.array([o[2] for o in outs])
    total = weights.sum()
    if not total > 0.0:
        raise ValueError("sample_weight (times class_weight) is zero for every "
                         "training row of every block; at least one must be "
                         "positive")
    for j, name in enumerate(names):
        acc = np.zeros(getattr(state, name).shape)
        for (arrays, *_), wk in zip(outs, weights, strict=True):
            if wk > 0.0:
                acc += (wk / total) * arrays[j]
        if name == "steps":
            acc = np.rint(acc).astype(np.int64)
        getattr(state, name)[...] = acc
    return sum(o[1] for o in outs) / total


# --------------------------------------------------------------------------
# where the tasks run


class ClientClosedError(RuntimeError):
    """The ``distributed.Client`` a call ran on was closed (or lost its
    scheduler) while the call ran: its tasks were cancelled. The call
    changed nothing (a fitted estimator keeps its model); run it again on a
    running client."""


#: A map's argument of at least this many bytes (the model and its
#: standardization on a wide model) is sent to each worker once, not with
#: each block's task (on 2**20 columns, 8 blocks, plain SGD: the epoch took
#: 356 ms with the arrays in every task, 193-222 ms broadcast).
_BROADCAST_BYTES = 1 << 20


def _nbytes(a):
    """The bytes of the arrays in ``a`` (an array, or a tuple or list of
    them, nested)."""
    if isinstance(a, np.ndarray):
        return a.nbytes
    if isinstance(a, (tuple, list)):
        return sum(_nbytes(v) for v in a)
    return 0


class _ClientRunner:
    """Runs block tasks on a ``distributed.Client``: blocks stay as futures."""

    def __init__(self, client):
        self.client = client

    @contextlib.contextmanager
    def _running(self):
        """Say so when a call fails because the client was closed under it
        (dask's own errors then speak of futures "cancelled for reason:
        unknown", or a closed stream, naming fastlr's task keys)."""
        try:
            yield
        except Exception as exc:
            status = getattr(self.client, "status", "running")
            if status == "running":
                raise
            raise ClientClosedError(
                f"the Dask client was closed while this call ran (its status is "
                f"now {status!r}), which cancelled its tasks; nothing was changed: "
                f"run it again on a running client ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc

    def persist(self, func, *args_per_block):
        from distributed import wait

        keyed = [dask.delayed(func, pure=False)(*args)
                 for args in zip(*args_per_block, strict=True)]
        with self._running():
            futures = self.client.compute(keyed)
        try:
            # (wait() asks the default client: this one may not be it)
            with self._running(), self.client.as_current():
                wait(futures)  # in memory (or failed) before placing tasks next to them
                for fut in futures:
                    if fut.status == "error":
                        fut.result()   # raises the block's error
        except BaseException:
            # a refused block (or an interrupt): the others' converted copies
            # of X must not stay on the workers
            self.release(futures)
            raise
        return futures

    def map(self, func, blocks, *args, per_block=None):
        per_block = per_block or [()] * len(blocks)
        # Run each block's task on the worker holding the block. The scheduler
        # would otherwise balance queues by moving blocks (it assumes unknown
        # tasks take 0.5 s); the restriction is loose, so a block that was
        # lost with its worker (and recomputed elsewhere) still runs.
        futures = []
        big = [i for i, a in enumerate(args) if _nbytes(a) >= _BROADCAST_BYTES]
        args = list(args)
        scattered = []
        try:
            with self._running():
                holders = self.client.who_has(blocks)
                workers = {w for blk in blocks for w in holders.get(blk.key, ())}
                if big and len(blocks) > len(workers):
                    # a worker runs several blocks: the large arguments go
                    # to each such worker once, not with each of its tasks
                    scattered = self.client.scatter(
                        [args[i] for i in big], workers=sorted(workers) or None,
                        broadcast=True, hash=False)
                    for i, fut in zip(big, scattered, strict=True):
                        args[i] = fut
                for blk, extra in zip(blocks, per_block, strict=True):
                    where = list(holders.get(blk.key, ()))
                    place = {"workers": where, "allow_other_workers": True} \
                        if where else {}
                    futures.append(self.client.submit(func, blk, *extra, *args,
                                                      pure=False, **place))
                return self.client.gather(futures)
        finally:
            self.release(futures)
            self.release(scattered)

    def compute(self, tasks):
        # released explicitly, as map's: the error a failed task raises here
        # is the one its future keeps, and its traceback holds this frame's
        # futures, so nothing would ever release them: a refused fit (a NaN
        # among the labels) left its label tasks on the scheduler for the
        # client's lifetime
        with self._running():
            futures = self.client.compute(tasks)
        try:
            with self._running():
                return list(self.client.gather(futures))
        finally:
            self.release(futures)

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

    def compute(self, tasks):
        return list(dask.compute(*tasks))

    def release(self, blocks):
        pass


def _runner(client, name="client"):
    if client is not None:
        status = getattr(client, "status", None)
        if not hasattr(client, "submit"):
            raise TypeError(f"client must be a distributed.Client or None, got "
                            f"{type(client).__name__}")
        if status != "running":
            raise ValueError(f"{name} is {status} (client.close() was called or "
                             "its cluster is gone); pass a running "
                             "distributed.Client, or None for the current one")
        if getattr(client, "asynchronous", False):
            # its calls would return coroutines to await (a TypeError about
            # a coroutine came out of the first compute)
            raise ValueError(f"{name} is asynchronous and this call runs on its "
                             "event loop, where fastlr cannot wait for results: "
                             "call it from a thread (await asyncio.to_thread("
                             "estimator.fit, X, y)) or use a synchronous Client")
        return _ClientRunner(client)
    try:
        from distributed import get_client
    except ImportError:
        return _LocalRunner()
    try:
        current = get_client()
    except ValueError:  # no client running
        return _LocalRunner()
    return _runner(current, "the current client (distributed.get_client())")


# --------------------------------------------------------------------------
# input checks (client side, nothing computed but chunk lengths)


def _is_frame(a):
    return type(a).__name__ in ("DataFrame", "Series") and hasattr(a, "to_dask_array")


def _partition_lengths(X, *cols, runner=None):
    """The partition lengths of each dask DataFrame or Series in ``(X,
    *cols)`` (None for anything else), computed together: one pass over
    their graphs, in which the tasks they share (a frame and its label
    column read from the same files) run once, by ``runner`` (None: dask's
    current scheduler). A DataFrame X whose dtypes
    are refused (:func:`fastlr._validation.numeric_input`) is refused
    first, from its meta: nothing computed."""
    if _is_frame(X) and X.ndim == 2:
        numeric_input(X._meta, "X")
    cols = (X, *cols)
    tasks = [a.map_partitions(len) for a in cols if _is_frame(a)]
    done = iter((runner or _LocalRunner()).compute(tasks) if tasks else ())
    return [tuple(int(v) for v in next(done)) if _is_frame(a) else None for a in cols]


def _as_dask(a, name, ndim, lengths=None):
    """A dask array from a dask array, DataFrame or Series. ``lengths``: a
    DataFrame's or Series's partition lengths (:func:`_partition_lengths`;
    None: computed here); False (an array, for prediction, which needs no
    row positions): its unknown chunk sizes accepted."""
    if _is_frame(a):
        if ndim == 2 and type(a).__name__ == "DataFrame":
            return _as_dask(_frame_array(a, name, lengths), name, ndim, lengths)
        if getattr(a.dtype, "name", None) == "category":
            # the categories' values, as numpy reads a pandas categorical in
            # memory (integer categories stay integers: classes_ int64)
            a = a.map_partitions(_category_values, meta=_category_values(a._meta))
        elif type(a).__name__ == "Series" and not isinstance(a.dtype, np.dtype):
            # a pandas extension dtype: pandas' nullable numbers (Int64,
            # Float64, boolean, pyarrow's) as float64 with NaN for NA, as the
            # in-memory fit reads them; text ("string") as objects, which
            # dask converts to an array without a warning
            numeric = getattr(a.dtype, "kind", "O") in "biuf"
            a = a.astype(np.float64 if numeric else object)
        # only the partition lengths travel
        a = a.to_dask_array(lengths=True if lengths is None else lengths)
    if isinstance(a, np.ndarray):   # the functional form: one block
        a = da.from_array(a, chunks=a.shape)
    if not isinstance(a, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array, a dask DataFrame / "
                        f"Series or a numpy.ndarray, got {type(a).__name__}")
    if a.ndim != ndim:
        want = "2-D of shape (n_samples, n_features)" if ndim == 2 else "1-D"
        raise ValueError(f"{name} must be {want}, got {a.ndim}-D with shape "
                         f"{a.shape}")
    if lengths is not False and any(isinstance(c, float) and math.isnan(c)
                                    for dim in a.chunks for c in dim):
        raise ValueError(f"{name} has unknown chunk sizes (NaN in {name}.chunks, as "
                         "after boolean indexing or from dask.dataframe); call "
                         f"{name}.compute_chunk_sizes() first")
    if name == "X":
        check_dtype_kind(a.dtype, name)  # object arrays: converted block by block
    return a


def _category_values(s):
    """A partition of a categorical Series as numpy reads it (the values in
    the categories' dtype; float with NaN for a missing one)."""
    return type(s)(np.asarray(s), index=s.index, name=s.name)


def _frame_array(X, name, lengths=None):
    """The dask array of a dask DataFrame of features, refused or converted
    as the in-memory fit does a pandas one, by the same rule
    (:func:`fastlr._validation.numeric_input`): its dtypes, read from X's
    empty meta before anything is computed, refuse dates, durations and
    complex; columns that are not numpy numbers (text, categories, pandas'
    nullable and sparse dtypes) are converted to float64 partition by
    partition, where the rule names a column with a non-numeric value (and
    the partition's row block). ``lengths``: its partition lengths (None:
    computed here)."""
    numeric_input(X._meta, name)
    if lengths is None:
        lengths = _partition_lengths(X)[0]   # only the lengths travel
    if not all(isinstance(t, np.dtype) and t.kind in "biuf" for t in X.dtypes):
        starts = dask.delayed(np.cumsum([0, *lengths[:-1]]), pure=True)
        meta = type(X._meta)(np.empty((0, len(X.columns))), columns=X.columns)
        X = X.map_partitions(_numeric_partition, name, starts, meta=meta)
    return X.to_dask_array(lengths=lengths)


def _numeric_partition(df, name, starts, partition_info=None):
    """One partition of a dask DataFrame X (a pandas DataFrame) as float64
    (pandas' NA as NaN), checked by the in-memory rule."""
    try:
        numeric_input(df, name)
    except (TypeError, ValueError) as exc:
        if partition_info is None:
            raise
        k = partition_info["number"]
        raise type(exc)(f"{exc} ({_where(k, int(starts[k]), len(df))})") from None
    return type(df)(df.to_numpy(np.float64, na_value=np.nan), index=df.index,
                    columns=df.columns)


def _check_width(n, n_features):
    if n_features is not None and n != n_features:
        raise ValueError(f"X has {n} features, but the model was fitted with "
                         f"{n_features} features")


def _check_X(X, n_features=None, lengths=None):
    X = _as_dask(X, "X", 2, lengths)
    m, n = X.shape
    if m == 0 or n == 0:
        raise ValueError(f"X is empty: shape {X.shape}")
    _check_width(n, n_features)
    if X.dtype == object:  # each block converted, with named errors
        X = X.map_blocks(_as_numeric_array, "X", dtype=np.float64)
    elif X.dtype not in (np.float32, np.float64):
        # (float32 of the other byte order stays float32, as in memory)
        X = X.astype(float_dtype_of(X))
    if len(X.chunks[1]) > 1:
        # blocks must hold whole rows: merge the column chunks (a block of
        # rows of all columns is what one task trains on)
        X = X.rechunk({1: -1})
    return X


def _column_vector(a, name):
    """y of one column (an (m, 1) array, a one-column DataFrame) as 1-D, with
    the DataConversionWarning that scikit-learn's ``column_or_1d`` gives for
    it in memory; anything else as it is."""
    if name != "y" or getattr(a, "ndim", None) != 2 or a.shape[1] != 1:
        return a
    from sklearn.utils.validation import column_or_1d

    column_or_1d(np.empty((0, 1)), warn=True)   # its warning, in its words
    return a.iloc[:, 0] if hasattr(a, "iloc") else a[:, 0]


def _unknown(a):
    """Whether the dask array ``a`` has unknown row chunk sizes."""
    return any(math.isnan(c) for c in a.chunks[0])


def _check_rows(a, name, X, lengths=None, paired=False):
    """y or sample_weight: a dask array/Series chunked as X's rows (a numpy
    array is chunked to match); ``lengths`` as :func:`_as_dask` takes them.
    A column vector y is taken as 1-D, as in memory. ``paired`` (score):
    when X's or this array's row chunk sizes are unknown (X[mask],
    y[mask]), a dask array of as many row blocks as X is taken, its blocks
    paired with X's one to one (each pair's lengths are checked in its
    task: :func:`_check_pair`)."""
    a = _column_vector(a, name)
    if paired and _unknown(X) and not is_dask(a):
        raise ValueError(
            "X has unknown chunk sizes (NaN in X.chunks, as after boolean indexing "
            "or from dask.dataframe), and a numpy " + name + " cannot be cut into "
            "its blocks; call X.compute_chunk_sizes() first, or give " + name +
            " as a dask array with X's number of row blocks (X[mask] and "
            f"{name}[mask] of the same mask)")
    if paired and is_dask(a):
        b = _as_dask(a, name, 1, lengths if _is_frame(a) else False)
        if _unknown(X) or _unknown(b):
            if len(b.chunks[0]) != len(X.chunks[0]):
                unknown = [v for v, arr in (("X", X), (name, b)) if _unknown(arr)]
                has = (f"{unknown[0]} has" if len(unknown) == 1
                       else f"X and {name} have")
                calls = " and ".join(f"{v}.compute_chunk_sizes()" for v in unknown)
                raise ValueError(
                    f"{has} unknown chunk sizes (NaN in .chunks, as after boolean "
                    f"indexing or from dask.dataframe), and {name}'s "
                    f"{len(b.chunks[0])} row blocks cannot be paired with X's "
                    f"{len(X.chunks[0])}; call {calls} first, or take X and "
                    f"{name} with the same boolean mask")
            return b
    if isinstance(a, np.ndarray) or (not is_dask(a) and not np.isscalar(a)):
        a = _column_vector(np.asarray(a), name)
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
        if a.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {a.shape[0]} entries but X has "
                             f"{X.shape[0]} rows; they must match")
        return da.from_array(a, chunks=(X.chunks[0],))
    # a dask Series has partitions (no rechunk): the advice names its method
    fix = (f"take X and {name} from one dask DataFrame (X = df[columns], "
           f"{name} = df[column]: the same partitions), or repartition {name} "
           f"as X's rows are ({name}.repartition(divisions=X.divisions) where "
           f"X's divisions are known)" if _is_frame(a)
           else f"rechunk {name} to X.chunks[0]")
    a = _as_dask(a, name, 1, lengths)
    if a.shape[0] != X.shape[0]:
        raise ValueError(f"{name} has {a.shape[0]} entries but X has {X.shape[0]} "
                         "rows; they must match")
    if a.chunks[0] != X.chunks[0]:
        raise ValueError(f"{name}'s blocks are not aligned with X's row blocks "
                         f"({name}.chunks[0]={a.chunks[0][:6]}..., "
                         f"X.chunks[0]={X.chunks[0][:6]}...); {fix}")
    return a


def _shared_source(*arrays):
    """Whether some of ``arrays`` (dask arrays or None) share tasks: cut
    from one collection (``arr[:, :-1]`` and ``arr[:, -1]``)."""
    layers = [set(getattr(a.dask, "layers", a.dask)) for a in arrays
              if a is not None]
    return any(layers[i] & layers[j] for i in range(len(layers))
               for j in range(i + 1, len(layers)))


def _row_blocks(*arrays, shared=None):
    """The row blocks of each of ``arrays`` (None passes through, as a list
    of Nones the length of the first's) as lists of delayed objects.
    Arrays that share their source tasks (``shared``; None:
    :func:`_shared_source` of these) are taken from their graphs as they
    are, so that a pass over them computes each source block once: each
    one's graph optimized on its own fuses the source into its own tasks
    under new keys, and a fit of ``arr[:, :-1]``, ``arr[:, -1]`` in 4 row
    blocks loaded 8 source blocks where 4 are needed (score too). The
    others are optimized each. (Every pass of a call takes the same
    choice: a key computed optimized in one pass and not in the next has
    two definitions, which the scheduler warns about.)"""
    if shared is None:
        shared = _shared_source(*arrays)
    count = len(next(a for a in arrays if a is not None).chunks[0])
    return [[None] * count if a is None
            else list(a.to_delayed(optimize_graph=not shared).ravel())
            for a in arrays]


class _Blocks:
    """The converted row blocks of a fit, persisted on the workers."""

    def __init__(self, runner, X, y, sw, classes, class_weight, takes, seed):
        sizes = X.chunks[0]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
        self.keep = [k for k, s in enumerate(sizes) if s > 0]
        xs, ys, sws = _row_blocks(X, y, sw)
        seeds = (None if takes is None
                 else np.random.SeedSequence(seed).spawn(len(sizes)))
        self.runner = runner
        self.futures = runner.persist(
            _prepare_block, [xs[k] for k in self.keep], [ys[k] for k in self.keep],
            [sws[k] for k in self.keep], self.keep,
            [int(starts[k]) for k in self.keep],
            [(int(sizes[k]), int(X.shape[1])) for k in self.keep],
            [classes] * len(self.keep),
            [class_weight] * len(self.keep),
            [None if takes is None else (takes[i], seeds[k])
             for i, k in enumerate(self.keep)])
        self.B = len(self.futures)
        self.m, self.n = int(sum(sizes)), int(X.shape[1])
        self.spans = [(int(starts[k]), int(sizes[k])) for k in self.keep]
        try:
            self.sparse = self._sparse()
        except BaseException:
            self.release()
            raise

    def _sparse(self):
        """Whether the converted blocks are CSR: decided from the blocks,
        not from X's meta (``da.from_delayed`` of CSR blocks declares an
        ndarray meta); blocks of both kinds are refused, naming X."""
        kinds = self.map(_block_is_sparse)
        if len(set(kinds)) > 1:
            sparse = [k for k, s in zip(self.keep, kinds, strict=True) if s]
            dense = [k for k, s in zip(self.keep, kinds, strict=True) if not s]
            raise ValueError(f"X's row blocks mix sparse matrices (row blocks "
                             f"{sparse[:5]}) and dense arrays (row blocks "
                             f"{dense[:5]}); make every block CSR, or every "
                             "block dense")
        return bool(kinds[0])

    def map(self, func, *args, per_block=None):
        return self.runner.map(func, self.futures, *args, per_block=per_block)

    def release(self):
        self.runner.release(self.futures)


def _labels(runner, y, sw=None, shared=None):
    """The sorted distinct labels of y, their counts, their rows' summed
    sample weights ``sw`` (the counts without), and the counts of each
    non-empty block (a row per block), from every block; ``shared``: as
    :func:`_row_blocks` takes it."""
    sizes = y.chunks[0]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    ybs, swbs = _row_blocks(y, sw, shared=shared)
    keep = [k for k, s in enumerate(sizes) if s > 0]
    tasks = [dask.delayed(_block_labels, pure=True)(ybs[k], swbs[k], k, int(starts[k]),
                                                    int(sizes[k]))
             for k in keep]
    parts = runner.compute(tasks)
    labels = [p[0] for p in parts]
    text = [is_text(v) for v in labels]
    mixed = None
    if any(text) and not all(text):
        # text in some blocks, numbers in others (one file's label column
        # read as text): NumPy's concatenation would make the numbers text
        # (1 -> '1'), which no row of their blocks equals; as one array of
        # objects, they are refused by the in-memory rule
        labels = [v.astype(object) for v in labels]
        mixed = (f"the labels of row blocks "
                 f"{[k for k, t in zip(keep, text, strict=True) if t][:5]} are text, "
                 f"of row blocks "
                 f"{[k for k, t in zip(keep, text, strict=True) if not t][:5]} not")
    try:
        classes, inverse = unique_labels(np.concatenate(labels), return_inverse=True)
    except TypeError as exc:
        if mixed is None:
            raise
        raise TypeError(f"{exc} ({mixed})") from None
    refuse_continuous(classes, "y")   # as in memory: a regression target
    sums = np.bincount(inverse, weights=np.concatenate([p[2] for p in parts]),
                       minlength=classes.shape[0])
    per_block = np.zeros((len(parts), classes.shape[0]), dtype=np.int64)
    ends = np.cumsum([p[0].shape[0] for p in parts])
    for row, (p, where) in enumerate(zip(parts, np.split(inverse, ends[:-1]),
                                         strict=True)):
        per_block[row, where] = p[1]
    return classes, per_block.sum(axis=0), sums, per_block


def _holdout_counts(n_val, per_block):
    """The held-out rows of each class in each block (a row per block) for
    ``early_stopping``: ``n_val`` rows in all, the in-memory fit's total
    (:func:`fastlr.estimator.holdout_rows`), of each class its share (at
    least one and at most all but one, for a class of two rows or more:
    :func:`fastlr.estimator.class_holdout_counts`; each class rounded on
    its own held out a third more rows than in memory with ten classes of
    15 rows), spread over the blocks in proportion to their rows of the
    class, the rounding carried from block to block (each block rounding
    its own share held out nothing of a class with few rows per block)."""
    from .estimator import class_holdout_counts

    total = per_block.sum(axis=0)
    want = class_holdout_counts(total, n_val)
    upto = np.floor(want * np.cumsum(per_block, axis=0) / np.maximum(total, 1) + 0.5)
    return np.diff(upto.astype(np.int64), axis=0, prepend=0)


def _standardization(blocks, standardize, n, weighted):
    """``(mean, scale, column_stats, total weight, moments, counted rows)``:
    the standardization of the training rows of all blocks, as the in-memory
    fit computes it on one array (:meth:`fastlr._dispatch.Data.column_stats`),
    ``column_stats()`` giving their (column means, column standard
    deviations), their :class:`fastlr._stats.Moments`, from which running
    statistics start (None without standardization, or without weight),
    and the number of training rows counted (of positive weight, or all of
    them when not ``weighted``: :func:`_column_moments`). Without
    standardization, one pass over the weights alone: the two column
    passes (five n-wide arrays from each block, twice) run only when
    ``column_stats`` is called (the finisher's coordinates)."""
    if not standardize:
        total, counted = _weight_total(blocks, weighted)
        if total > 0.0:   # (as _column_moments checks it)
            check_weight_total(np.array([total]), "sample_weight (times class_weight)")
        return (np.zeros(n), np.ones(n),
                lambda: _column_moments(blocks, n, weighted)[1:3], total, None,
                counted)
    mom, colmean, colscale, total, counted = _column_moments(blocks, n, weighted)
    mean = colmean if standardize is True and not blocks.sparse else np.zeros(n)
    return mean, colscale.copy(), lambda: (colmean, colscale), total, mom, counted


def _column_moments(blocks, n, weighted):
    """``(moments, column means, column scales, total weight, counted
    rows)`` of the training rows of all blocks, weighted (``weighted``: the
    rows of positive weight count) or not (every training row counts, as
    in-memory ``partial_fit``'s unweighted running statistics): two passes,
    summed in block order (``moments`` None when the total weight is 0)."""
    first = blocks.map(_block_absmax, weighted)
    amax = np.max([f[0] for f in first], axis=0)
    # the first block's candidate of the largest weight, as in memory
    pick = max(range(len(first)), key=lambda b: (first[b][1][0], -b))
    stored = np.sum([f[2] for f in first], axis=0) if blocks.sparse else None
    counted = sum(f[3] for f in first)   # the training rows that count
    shift = _stats.shift(first[pick][1][1], stored, counted)
    s, inv = _stats.scaling(amax)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for a, b, t in blocks.map(_block_sums, inv, shift, weighted):
            s1 += a
            s2 += b
            total += t
    if total > 0.0:   # (0: refused by the caller, naming the weights)
        # the in-memory fit's check of the weights' total
        check_weight_total(np.array([total]), "sample_weight (times class_weight)")
    colmean, colscale = np.empty(n), np.empty(n)
    finish_columns(float(total), s, inv, shift, s1, s2, colmean, colscale)
    mom = None
    if total > 0:
        # the mean exactly as finish_columns computed it, as in memory
        mom = _stats.moments(total, amax, shift, s1, s2, mean=colmean.copy())
        if weighted:   # (the rows count as rows, as in memory)
            mom = counted_moments(mom, int(counted))
    return mom, colmean, colscale, total, int(counted)


# --------------------------------------------------------------------------
# training


def _ipm(blocks, state, rngs, *, epochs, lr, tol, n_iter_no_change, callback,
         first_epoch, monitor, learning_rate, **params):
    """Parameter-mixing epochs of ``state`` in place; the arguments of
    :func:`fastlr._sgd.sgd`. Returns ``(losses, converged)``."""
    rate = AdaptiveRate(lr)
    epoch = [first_epoch]
    names = _travelling(state)
    meta = (state.mean, state.scale, state.softmax, names)

    def run_one():
        outs = blocks.map(_block_epoch, _state_arrays(state, names), meta,
                          dict(params, learning_rate=learning_rate), epoch[0],
                          rate.lr, per_block=[(r,) for r in rngs])
        for k, out in enumerate(outs):
            rngs[k] = out[3]
        loss = _mix(state, outs, names)
        epoch[0] += 1
        return loss, loss

    class _Orders:
        def next(self):
            return ()

    start_loss = None
    warm = state.warm_point()
    if warm is not None:
        # continued training: divergence is judged against the starting
        # model's loss (fastlr._driver.diverged), a pass only when needed
        def start_loss():
            w0, b0 = warm()
            parts = blocks.map(_block_train_loss, w0, b0, state.softmax)
            weight = sum(p[1] for p in parts)
            return sum(p[0] for p in parts) / weight if weight > 0 else math.nan

    return run_epochs(run_one, state.finite, _Orders(), epochs=epochs, lr=lr,
                      learning_rate=learning_rate, tol=tol,
                      n_iter_no_change=n_iter_no_change, track=True,
                      callback=callback, first_epoch=first_epoch, monitor=monitor,
                      on_stall=rate.on_stall if learning_rate == "adaptive" else None,
                      n_classes=state.k if state.softmax else 2,
                      weighted=(lambda: _weight_mean(blocks)) if blocks.weighted
                      else None,
                      standardized=lambda: standardization(state.mean, state.scale),
                      start_loss=start_loss)


def _block_generators(rng, count):
    """The generators of blocks 1 .. ``count`` of a training call: the
    children of a SeedSequence seeded by draws from a copy of ``rng`` (which
    is not advanced), so they depend on ``rng``'s state alone, which a model
    file saves. (``rng.spawn`` took them from the generator's SeedSequence,
    which a file does not hold: a loaded model's blocks shuffled by fresh
    entropy, a different continuation at every load.)"""
    if count <= 0:
        return []
    entropy = copy.deepcopy(rng).integers(0, 2**32, size=8, dtype=np.uint64)
    kind = type(rng.bit_generator)
    return [np.random.Generator(kind(seq)) for seq in
            np.random.SeedSequence(entropy.tolist()).spawn(count)]


def _fit_state(blocks, state, rng, *, solver, finish_tol, epochs, penalty, alpha,
               l1_ratio, fit_intercept, denom, colstats, callback=None,
               first_epoch=0, warm=False, **sgd_options):
    """Train ``state`` on the blocks with ``solver`` (as
    :func:`fastlr._train.train_state`). Returns ``(losses, converged,
    solver_iterations)``; ``state.rng`` is block 0's advanced generator."""
    rngs = [rng, *_block_generators(rng, blocks.B - 1)]
    # a generator before training too: early stopping copies the state
    # (a copy without one broke a later partial_fit)
    state.rng = rngs[0]
    sgd_options.pop("rng", None)
    sgd_options.pop("n_threads", None)
    sgd_options.pop("epoch_loss", None)

    def run_sgd(**kw):
        kw.pop("n_threads", None)
        kw.pop("rng", None)
        kw.pop("epoch_loss", None)
        return _ipm(blocks, state, rngs, **kw)

    def loss_grad(center, W, B):
        outs = blocks.map(_block_loss_grad, center, state.scale, W, B,
                          state.softmax)
        loss = 0.0
        G = np.zeros(W.shape)
        S = np.zeros(W.shape[0])
        for lk, Gk, Sk in outs:   # in block order
            loss += lk
            G += Gk
            S += Sk
        return loss, G, S

    out = run_solver(state, run_sgd, loss_grad, colstats, denom,
                     curvature=None if solver == "sgd" else _curvature_sample(blocks),
                     totals=blocks.class_totals,
                     solver=solver, finish_tol=finish_tol, epochs=epochs,
                     penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
                     fit_intercept=fit_intercept, callback=callback,
                     first_epoch=first_epoch, warm=warm, **sgd_options)
    state.rng = rngs[0]   # advanced: the workers return each block's
    return out


def _spread(a, pos, k):
    """``a``, whose last axis is over the labels seen, over ``k`` classes
    (the seen ones at ``pos``; the others 0)."""
    full = np.zeros(a.shape[:-1] + (k,), dtype=a.dtype)
    full[..., pos] = a
    return full


def _open(X, y, sample_weight, *, client, classes=None, class_weight=None,
          holdout=None, seed=0, n_features=None):
    """Check the inputs, collect the labels and persist the blocks.

    Returns ``(runner, blocks, classes, counts)``; ``classes`` given: the
    labels of y must be among them.
    """
    runner = _runner(client)
    lx, ly, lw = _partition_lengths(X, y, sample_weight, runner=runner)
    X = _check_X(X, n_features, lx)
    y = _check_rows(y, "y", X, ly)
    sw = None
    if sample_weight is not None:
        if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight,
                                                                      bool):
            sample_weight = np.full(X.shape[0], float(sample_weight))
        sw = _check_rows(sample_weight, "sample_weight", X, lw)
    seen, counts, sums, per_block = _labels(runner, y, sw,
                                            shared=_shared_source(X, y, sw))
    if classes is None:
        classes = seen
        if classes.shape[0] == 0:
            raise ValueError("y holds no labels")
        refuse_one_class(classes, " across all its blocks")
    else:
        refuse_unseen(seen, classes)
        pos = np.searchsorted(classes, seen)
        counts, sums, per_block = (_spread(a, pos, classes.shape[0])
                                   for a in (counts, sums, per_block))
    # "balanced" from each class's summed sample weights, as in memory
    cw = None if class_weight is None else np.asarray(
        class_weight(classes, sums), dtype=np.float64)
    takes = None
    if holdout is not None:   # the in-memory fit's rule, before the blocks persist
        from .estimator import holdout_rows

        takes = _holdout_counts(holdout_rows(counts, classes, holdout), per_block)
    blocks = _Blocks(runner, X, y, sw, classes, cw, takes, seed)
    if blocks.sparse:
        # as in memory (as_data(train=True)), before any per-column array:
        # a sparse X of a few entries can declare any width
        try:
            check_width(blocks.n, "X")
        except BaseException:
            blocks.release()
            raise
    blocks.dtype = np.dtype(X.dtype)
    blocks.n = X.shape[1]
    blocks.weighted = sw is not None or cw is not None
    # each class's training weight (lone_class): sums are the counts without sw
    blocks.class_totals = sums * (1.0 if cw is None else cw)
    return runner, blocks, classes, counts


# --------------------------------------------------------------------------
# the estimator on Dask (fastlr.LogisticRegression calls these)


def _heldout_monitor(blocks, state, best):
    """The ``monitor`` of ``early_stopping``: the held-out mean log-loss of
    the mixed model, summed over the blocks' held-out rows where they live;
    records the scores and keeps a copy of the best state."""
    def monitor():
        W, B = state.raw()
        parts = blocks.map(_block_heldout, W, B, state.softmax)
        weight = sum(p[1] for p in parts)
        if weight <= 0.0:
            raise ValueError("early_stopping: the held-out rows all have weight "
                             "zero (or there are none); use more data, another "
                             "validation_fraction or early_stopping=False")
        return keep_best(best, state, sum(p[0] for p in parts) / weight)
    return monitor


def _header(X):
    """What scikit-learn's feature-name check needs of a dask X, computing
    nothing: an empty pandas frame with a DataFrame's column labels, or an
    empty array of its width (no names)."""
    cols = getattr(X, "columns", None)
    if cols is not None:
        import pandas as pd

        return pd.DataFrame(columns=cols)
    # a 1-D X has no width: refused by _check_X (2-D), not an IndexError here
    return np.empty((0, X.shape[1] if np.ndim(X) == 2 else 0))


def _check_names(est, header, reset):
    """scikit-learn's feature-name rules, as ``validate_data`` applies them
    to in-memory X: ``reset`` records the names (or drops old ones); else a
    ValueError for renamed or reordered columns, a warning for names
    missing on one side. ``est=None`` only checks that the labels can be
    names (a TypeError for mixed types, before any work)."""
    from sklearn.utils.validation import validate_data

    from .estimator import LogisticRegression

    validate_data(LogisticRegression() if est is None else est, header,
                  reset=reset, skip_check_array=True)


def _names_first(est, header):
    """Check X's feature names (:func:`_check_names`) before its width when
    both X and the fitted ``est`` have names, as in memory: a column too
    many or too few (the label left in X) is then named, not only counted.
    Returns whether it checked them."""
    if hasattr(est, "feature_names_in_") and hasattr(header, "columns"):
        _check_names(est, header, reset=False)
        return True
    return False


def _new_state(mean, scale, k, moments, standardize, blocks, written):
    """The estimator's fresh state for ``k`` classes, with running
    statistics started from ``moments`` and only the optimizer arrays
    ``written`` (:func:`fastlr._sgd.written_arrays`), as
    :meth:`fastlr.LogisticRegression._new_state` makes it in memory."""
    state = ModelState(mean, scale, k if k > 2 else 1, softmax=k > 2,
                       written=written)
    if moments is not None:
        state.track(moments, standardize is True and not blocks.sparse)
    return state


def _standardize_option(est, blocks, state=None):
    """:meth:`fastlr.LogisticRegression._standardize_option` on the
    blocks."""
    check_fit_intercept(est.fit_intercept)
    return est._standardize_option(blocks.sparse, state)


def _check_centering(blocks, state):
    """Raise if ``state`` centers its features and the blocks are sparse."""
    if blocks.sparse and state.centers():
        raise ValueError("X is sparse but the model centers its features (it "
                         "was started on dense X, standardized by standardize=True "
                         "or 'auto'); use standardize='scale' or False")


def _untouched_rng(random_state):
    """What :func:`fastlr._order.make_rng` gives for ``random_state`` (None:
    NumPy's global RandomState) without drawing from it: made from a copy."""
    if random_state is None:
        random_state = np.random.mtrand._rand
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        random_state = copy.deepcopy(random_state)
    return make_rng(random_state)


def estimator_fit(est, X, y, sample_weight=None, client=None):
    """:meth:`fastlr.LogisticRegression.fit` on Dask collections."""
    (batch_size, epochs, lr, alpha, tol, n_iter_no_change), options = \
        est._params(est.max_iter)
    learning_rate, power_t, l1_ratio, average_start = options
    solver, finish_tol = est._solver_plan()
    holdout = est.validation_fraction if est.early_stopping else None
    # the held-out split's seed, drawn from a copy: the caller's generator
    # is drawn from once the input is checked (below), so that a refused
    # fit leaves it as it was, as in memory
    seed = int(_untouched_rng(est.random_state).integers(
        np.iinfo(np.int32).max)) if holdout else 0
    cw = None
    if est.class_weight is not None:
        def cw(classes, counts):
            return est._class_weight_values(classes, counts, fitting=True)
    header = _header(X)
    _check_names(None, header, reset=True)
    _, blocks, classes, _ = _open(X, y, sample_weight, client=client,
                                  class_weight=cw, holdout=holdout, seed=seed)
    try:
        n = blocks.n
        old = est._warm_state(n, classes)
        warm = old is not None
        written = written_arrays(est.penalty, alpha, l1_ratio, learning_rate,
                                 average_start)
        if blocks.sparse:   # (_open checked the width of one row of SGD's weights)
            est._check_fit_memory(n, classes, solver, written, old)
        standardize = _standardize_option(est, blocks)
        mean, scale, colstats, denom, mom, counted = _standardization(
            blocks, standardize, n, blocks.weighted)
        if denom <= 0.0:   # (the in-memory fit's message, naming what was given)
            raise ValueError(zero_weights_message(
                weights_name(sample_weight is not None, est.class_weight),
                "training sample"))
        alpha = alpha_value(alpha, denom)   # (the training rows' weight)
        if solver == "sgd" and blocks.weighted:   # (as in memory)
            warn_weight_mean(denom / counted, weights_name(
                sample_weight is not None, est.class_weight))
        k = classes.shape[0]
        state = _new_state(mean, scale, k, mom, standardize, blocks, written)
        if warm:
            state = est._continued(old, state)
        _check_centering(blocks, state)
        rng = make_rng(est.random_state)
        if holdout:
            rng.integers(np.iinfo(np.int32).max)   # the seed's draw (above)
        monitor = best = None
        if holdout:
            best = {"scores": [], "loss": np.inf, "state": None}
            monitor = _heldout_monitor(blocks, state, best)
        # verbose: the in-memory fit's progress bar, a pass of all blocks
        # an epoch
        with epoch_progress(est.verbose, epochs, blocks.m) as progress:
            losses, converged, iters = _fit_state(
                blocks, state, rng, solver=solver, finish_tol=finish_tol,
                epochs=epochs, penalty=est.penalty, alpha=alpha, l1_ratio=l1_ratio,
                fit_intercept=bool(est.fit_intercept), denom=denom,
                colstats=colstats, callback=progress, warm=warm,
                batch_size=batch_size, lr=lr, shuffle=est.shuffle, tol=tol,
                n_iter_no_change=n_iter_no_change, learning_rate=learning_rate,
                power_t=power_t, average_start=average_start, monitor=monitor)
        if best is not None and best["state"] is not None:
            # the kept state continues the advanced generator, as in memory
            # (where the copies share it)
            best["state"].rng = state.rng
    finally:
        blocks.release()
    est._store_fit(state, blocks.dtype, classes, losses, converged, iters, solver,
                   epochs, tol, best)
    est.n_features_in_ = n
    _check_names(est, header, reset=True)
    return est


def estimator_partial_fit(est, X, y, classes=None, sample_weight=None, client=None):
    """:meth:`fastlr.LogisticRegression.partial_fit` on Dask collections: one
    parameter-mixing epoch over the blocks."""
    (batch_size, _, lr, alpha, _, n_iter_no_change), options = est._params(1)
    learning_rate, power_t, l1_ratio, average_start = options
    if is_auto_alpha(alpha):   # (as in memory: no call knows the stream's size)
        alpha = STREAM_ALPHA
    first = not hasattr(est, "classes_")
    classes = est._partial_fit_classes(classes, first)
    old = None if first else est._fitted_state()
    # continues the last fit's state (else starts anew, or from coef_ set by hand)
    resumed = old is not None and old is getattr(est, "training_state_", None)
    cw = None
    if est.class_weight is not None:
        def cw(classes, counts):
            return est._class_weight_values(classes, counts, fitting=False)
    header = _header(X)
    if old is not None:
        # the width first (fastlr's message), then the names; from the
        # header, which converts nothing (a DataFrame's conversion computes
        # its partition lengths)
        _check_width(header.shape[1], old.n_features)
    _check_names(None if first else est, header, reset=first)
    _, blocks, classes, _ = _open(X, y, sample_weight, client=client,
                                  classes=classes, class_weight=cw,
                                  n_features=None if old is None else old.n_features)
    written = written_arrays(est.penalty, alpha, l1_ratio, learning_rate,
                             average_start)
    try:
        if resumed:
            # kept only if the epoch succeeds (the optimizer arrays it does
            # not write, if zeros, shared: as in memory)
            state = old.copy(rng=True, share=old.idle(written))
            if not est.fit_intercept:   # (set since the last call: as fit's)
                state.drop_intercept()
            # the standardization as set now; the chunk's rows join the
            # running statistics, as in memory
            standardize = _standardize_option(est, blocks, state)
            state.follow(standardize, standardize is True and not blocks.sparse,
                         lambda: _column_moments(blocks, blocks.n, False)[0],
                         check=lambda state: _check_centering(blocks, state),
                         rule=merge_finish)
        else:
            standardize = _standardize_option(est, blocks)
            mean, scale, _, _, mom, _ = _standardization(blocks, standardize, blocks.n,
                                                      False)
            state = _new_state(mean, scale, classes.shape[0], mom, standardize, blocks,
                               written)
            if old is not None:
                state = est._continued(old, state)
            if state.rng is None:   # a stream's start (or coef_ set by hand)
                state.rng = make_rng(est.random_state)
        n_iter = est.n_iter_ if resumed else 0
        losses, _, _ = _fit_state(
            blocks, state, state.rng, solver="sgd", finish_tol=None, epochs=1,
            penalty=est.penalty, alpha=alpha, l1_ratio=l1_ratio,
            fit_intercept=bool(est.fit_intercept), denom=1.0, colstats=None,
            first_epoch=n_iter, batch_size=batch_size, lr=lr, shuffle=est.shuffle,
            tol=None, n_iter_no_change=n_iter_no_change, learning_rate=learning_rate,
            power_t=power_t, average_start=average_start, monitor=None)
    finally:
        blocks.release()
    if first:
        est.classes_ = classes
    if not resumed:
        est.n_features_in_ = blocks.n
        _check_names(est, header, reset=True)
    est._store_partial_fit(state, blocks.dtype, n_iter, losses, resumed, written)
    return est


def decision_function(est, X, link="logits", header=None):
    """Logits of a fitted estimator on a dask X, as a dask array computed
    blockwise: (m,) for two classes, (m, k) for more; through ``link``
    (``"proba"`` for two classes, ``"softmax"``: :func:`predict_proba`)
    the class probabilities, (m, 2) or (m, k), or (``"log_proba"``, two
    classes) their logarithms, in the same pass over each block. ``header``:
    X's (:func:`_header`) when X is the checked array of a DataFrame."""
    header = _header(X) if header is None else header
    named = _names_first(est, header)
    # a DataFrame's partition lengths are computed (one pass over its graph),
    # so that the predictions have X's shape, as dask-ml's and in memory;
    # an array of unknown chunk sizes gives predictions of unknown ones
    X = _check_X(X, getattr(est, "n_features_in_", None),
                 lengths=None if _is_frame(X) else False)
    if not named:
        _check_names(est, header, reset=False)
    coef, intercept = est._checked_model(X.shape[1])
    W = coef.astype(np.float64)
    B = intercept.astype(np.float64)
    # as in memory: the dtype of X @ coef_.T
    dtype = np.result_type(X.dtype, coef.dtype)
    cols = link_columns(link, W.shape[0])
    z = X.map_blocks(_block_decision, W, B, dtype, link,
                     chunks=(X.chunks[0], (cols,)), dtype=dtype,
                     meta=np.empty((0, 0), dtype=dtype))
    # the binary logits 1-D: sliced from their column, since map_blocks
    # dropping X's column axis has dask join each block's column chunks
    # first, which fails on a block that is not 2-D (a loader returning one
    # column) before _block_decision can name it
    return z[:, 0] if W.shape[0] == 1 and link == "logits" else z


def predict_proba(est, X):
    return decision_function(est, X, "proba" if len(est.classes_) == 2 else "softmax")


def _labels_of(z, classes):
    if z.ndim == 2:
        return classes[z.argmax(axis=1)]
    return classes[(z > 0).astype(np.intp)]


def predict(est, X, header=None):
    z = decision_function(est, X, header=header)
    classes = est.classes_
    return z.map_blocks(_labels_of, classes, drop_axis=1 if z.ndim == 2 else None,
                        dtype=classes.dtype, meta=np.empty((0,), dtype=classes.dtype))


def score(est, X, y, sample_weight=None):
    """Mean accuracy on a dask X (weighted by ``sample_weight``): computed
    blockwise, only the sums travel."""
    # X converted once; the partition lengths of DataFrames and Series
    # computed in one pass over their graphs
    header = _header(X)
    _names_first(est, header)
    lx, ly, lw = _partition_lengths(X, y, sample_weight)
    # an array of unknown chunk sizes (X[mask]) is scored when y's (and
    # sample_weight's) blocks pair with its own (y[mask]): _check_rows
    Xd = _check_X(X, getattr(est, "n_features_in_", None),
                  lx if _is_frame(X) else False)
    labels = predict(est, Xd, header)
    yd = _check_rows(y, "y", Xd, ly, paired=True)
    swd = None if sample_weight is None else _check_rows(
        sample_weight, "sample_weight", Xd, lw, paired=True)
    sizes = Xd.chunks[0]
    known = not any(_unknown(a) for a in (Xd, yd, swd) if a is not None)
    starts = (np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
              if not _unknown(Xd) else [None] * len(sizes))
    lbs, ybs, swbs = _row_blocks(labels, yd, swd)
    tasks = [dask.delayed(_block_score, pure=True)(
                 lb, yb, swbs[k], k, None if starts[k] is None else int(starts[k]),
                 not known)
             for k, (lb, yb) in enumerate(zip(lbs, ybs, strict=True))
             if not known or sizes[k] > 0]
    sums = np.array(dask.compute(*tasks)).reshape(-1, 2)
    num, den = sums.sum(axis=0)
    if not den != 0.0:
        raise ValueError("sample_weight sums to zero; at least one weight must be "
                         "non-zero")
    return float(num / den)


def _block_score(labels, yb, swb, index, row0, paired=False):
    """``(hits, weight)`` of one row block of :func:`score`: the (weighted)
    count of labels equal to ``y``'s and the block's weight, ``y`` and
    ``sample_weight`` refused as scikit-learn's ``score`` refuses them in
    memory (NaN, labels of another kind than the classes'), and blocks of
    another length than X's, naming them. ``row0``: the block's first row,
    None when X's chunk sizes are unknown; ``paired``: some chunk sizes are
    (the blocks are paired one to one)."""
    y = np.asarray(yb)
    _check_pair(index, row0, labels.shape[0], paired, y=y.shape[0],
                sample_weight=None if swb is None else np.shape(swb)[0])
    if labels.shape[0] == 0:   # (a block the mask emptied)
        return 0.0, 0.0
    _refuse_missing(y, "y", index, row0)
    y, labels = check_label_pair(y, labels, ("y", "the predicted labels"))
    hits = (labels == y).astype(np.float64)
    if swb is None:
        return float(hits.sum()), float(y.shape[0])
    sw = _block_weights(swb, index, row0)
    return float(hits @ sw), float(sw.sum())


# --------------------------------------------------------------------------
# the functional form


def train(X, y, batch_size=100, epochs=100, lr=0.01, *, standardize="auto",
          shuffle=True, random_state=None, penalty=None, alpha=1e-4, client=None,
          tol=None, n_iter_no_change=5, n_threads=1, callback=None,
          sample_weight=None, learning_rate="constant", power_t=0.5,
          l1_ratio=0.15, average=False, fit_intercept=True, solver="sgd"):
    """Fit binary logistic regression on a dask array where its blocks live.

    Each epoch, every row block of X runs one epoch of fastlr's mini-batch
    SGD kernel on its own rows, starting from the current model and
    optimizer state; the client then averages the block states weighted by
    their row counts (iterative parameter mixing, McDonald et al. 2010;
    Zinkevich et al. 2010). ``solver="lbfgs"`` / ``"auto"`` finish (or
    replace) the epochs with L-BFGS over blockwise gradient sums. See the
    module docstring; :class:`fastlr.LogisticRegression` does the same for
    every model from ``fit(dask_X, dask_y)``.

    Parameters
    ----------
    X : dask.array.Array or dask DataFrame of shape (m, n)
        Features, chunked by rows (column chunks are merged into one: a
        block must hold whole rows), dense or with scipy.sparse CSR blocks.
        Chunk sizes must be known. Each block is converted once
        (C-contiguous, float32 kept, other dtypes to float64) and held by
        the workers.
    y : dask.array.Array (chunked as X's rows) or numpy.ndarray of shape (m,)
        Labels 0 or 1, both present.
    batch_size, epochs, lr, standardize, penalty, alpha, tol, n_iter_no_change,
    sample_weight, learning_rate, power_t, l1_ratio, average, fit_intercept, solver
        As in :func:`fastlr.train`, applied within each block (the last
        batch of each block may be smaller); ``standardize`` uses the
        statistics of all of X, computed blockwise on the workers.
    shuffle : {True, False, "blocks", "rows"}, default True
        As in :func:`fastlr.train`, within each block. Block 0 draws its
        orders from the generator :func:`fastlr.train` would use for
        ``random_state``, block ``k > 0`` from the ``k``-th child of a
        SeedSequence seeded by that generator's state; the generator state
        travels with the task, so orders depend only on ``random_state``,
        the epoch and the block index, never on which worker ran what (nor,
        for a loaded model, on anything the model file does not hold). With
        a single block this is :func:`fastlr.train`: bit for bit with
        ``standardize=False``, to rounding otherwise (the blockwise
        standardization statistics are summed in another order).
    random_state : None, int, numpy Generator or RandomState
    client : distributed.Client or None
        Where to run. None uses the current client if there is one, else
        dask's default scheduler.
    n_threads : int or None, default 1
        Validated as :func:`fastlr.train`'s and otherwise ignored: block
        tasks run on one thread each (one worker thread per core is the
        usual dask layout).
    callback : callable(epoch, loss) or None

    Returns
    -------
    fastlr.TrainResult
        ``(w, b, losses)`` in raw feature space, ``w`` in X's dtype;
        ``losses[e]`` is the weighted mean over the blocks of their running
        losses in epoch ``e``.

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
    solver, finish_tol = check_solver(solver, tol)
    params = check_train_params(batch_size, epochs, lr, penalty, alpha, "running",
                                tol if solver == "sgd" else None, n_iter_no_change,
                                shuffle)
    batch_size, epochs, lr, alpha, sgd_tol, n_iter_no_change = params
    learning_rate, power_t, l1_ratio, average_start = check_sgd_options(
        learning_rate, power_t, l1_ratio, average, penalty, alpha)
    check_run(n_threads, callback)
    fit_intercept = check_fit_intercept(fit_intercept)
    check_standardize(standardize)
    check_random_state(random_state)   # drawn from once the input is checked
    _, blocks, classes, _ = _open(X, y, sample_weight, client=client,
                                  classes=None)
    standardize = standardize_option(standardize, fit_intercept, blocks.sparse)
    try:
        if not (classes.shape[0] == 2 and set(classes.tolist()) <= {0, 1}):
            raise ValueError(f"y must hold the labels 0 and 1, got "
                             f"[{shown(classes, item=repr)}] (use "
                             "fastlr.LogisticRegression for other labels or more "
                             "classes)")
        if blocks.sparse:   # the solver's needs too, as fastlr.train checks them
            check_model_memory(blocks.n, 2, solver, TRAIN_BYTES_PER_COLUMN,
                               TRAIN_BYTES_PER_CLASS)
        mean, scale, colstats, denom, _, counted = _standardization(
            blocks, standardize, blocks.n, blocks.weighted)
        if denom <= 0.0:   # (fastlr.train's message; else the finisher divides by 0)
            raise ValueError(zero_weights_message("sample_weight"))
        if solver == "sgd" and blocks.weighted and counted:   # (as fastlr.train)
            warn_weight_mean(denom / counted, "sample_weight")
        state = ModelState(mean, scale, written=written_arrays(
            penalty, alpha, l1_ratio, learning_rate, average_start))
        losses, converged, _ = _fit_state(
            blocks, state, make_rng(random_state), solver=solver, finish_tol=finish_tol,
            epochs=epochs, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
            fit_intercept=fit_intercept, denom=denom, colstats=colstats,
            callback=callback, batch_size=batch_size, lr=lr, shuffle=shuffle,
            tol=sgd_tol, n_iter_no_change=n_iter_no_change,
            learning_rate=learning_rate, power_t=power_t,
            average_start=average_start, monitor=None)
    finally:
        blocks.release()
    warn_unconverged(solver, losses, converged, epochs, tol, "epochs")
    W, B = state.raw(dtype=blocks.dtype)
    return TrainResult(W[0], float(B[0]), losses)
