"""The functional API: validation and dispatch in front of the Numba kernels.

Data flows one way: user input -> :mod:`fastlr._validation` -> kernels in
:mod:`fastlr._kernels` -> results. Nothing here loops over rows.
"""

import math
from typing import NamedTuple

import numba
import numpy as np

from . import _kernels, _kernels_multinomial, _kernels_sparse
from ._driver import (
    ADAPTIVE_DIVISOR,
    ADAPTIVE_MIN_LR,
    check_sgd_options,
    check_train_params,
    run_epochs,
)
from ._order import EpochOrder, block_rows, make_rng
from ._team import sgd_epoch_multinomial_threaded, sgd_epoch_threaded
from ._validation import (
    _as_numeric_array,
    check_labels01,
    check_log_loss_args,
    check_positive_int,
    check_proba,
    check_real,
    check_same_length,
    check_sample_weight,
    check_standardize,
    check_weights,
    check_X,
    float_dtype_of,
    is_sparse,
    row_bytes,
)

__all__ = [
    "TrainResult",
    "sigmoid",
    "log_loss",
    "gradients",
    "train",
    "predict_proba",
    "predict",
    "accuracy",
]

#: Below this many elements of X, one thread beats launching a parallel region.
PARALLEL_MIN_ELEMENTS = 200_000

#: Smallest batch trained on several threads: two chunks, one per thread
#: (:func:`fastlr._team.sgd_epoch_threaded`; measured on 1M x 100, two
#: threads: 0.70-0.82x the time of one at batch 128, 0.66-0.75x at 256; with
#: one chunk per batch there is nothing to share).
PARALLEL_MIN_BATCH = 2 * _kernels.CHUNK

#: Smallest X (elements) trained on several threads: below it, waking the
#: threads costs more than an epoch's share saves (two threads / one, batch
#: 256: 1.85 on 2000 x 100, 1.17 on 10000 x 100, 0.79 on 20000 x 100, 0.66
#: on 100000 x 10; ``n_threads`` 1 vs 2, interleaved, one run).
PARALLEL_MIN_TRAIN_ELEMENTS = 2_000_000

_PENALTY_CODES = {None: _kernels.PENALTY_NONE, "l2": _kernels.PENALTY_L2,
                  "l1": _kernels.PENALTY_L1,
                  "elasticnet": _kernels.PENALTY_ELASTICNET}
# "adaptive" is the constant step within an epoch; the driver lowers lr
_SCHEDULE_CODES = {"constant": _kernels.LR_CONSTANT,
                   "adaptive": _kernels.LR_CONSTANT,
                   "invscaling": _kernels.LR_INVSCALING,
                   "adagrad": _kernels.LR_ADAGRAD}


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes
    ----------
    w : ndarray of shape (n_features,)
        Weights in the space of the raw input features, dtype of X.
    b : float
        Intercept in raw feature space.
    losses : ndarray of shape (epochs_run,)
        One training loss per epoch (see ``epoch_loss`` in :func:`train`).
    """

    w: np.ndarray
    b: float
    losses: np.ndarray


# --------------------------------------------------------------------------
# elementwise functions


def sigmoid(z):
    """Numerically stable logistic function ``1 / (1 + exp(-z))``.

    Parameters
    ----------
    z : float or array_like
        Logits; ``+-inf`` are allowed (giving 1 and 0), NaN is not.

    Returns
    -------
    float or ndarray
        Same shape as ``z``. float32 input gives float32 output; every other
        numeric dtype gives float64. No overflow warning for any ``z``.

    Examples
    --------
    >>> import fastlr
    >>> float(fastlr.sigmoid(0.0))
    0.5
    >>> fastlr.sigmoid([-1000.0, 1000.0]).tolist()
    [0.0, 1.0]
    """
    arr = _as_numeric_array(z, "z")
    flat = np.ascontiguousarray(arr, dtype=float_dtype_of(arr)).reshape(-1)
    if np.isnan(flat).any():
        raise ValueError("z contains NaN")
    out = np.empty_like(flat)
    _kernels.sigmoid_array(flat, out)
    out = out.reshape(arr.shape)
    return out[()] if arr.ndim == 0 else out


def log_loss(y, p, eps=1e-15):
    """Mean binary cross-entropy of probabilities ``p`` for labels ``y``.

    ``-mean(y * log(p) + (1 - y) * log(1 - p))`` with ``p`` clipped to
    ``[eps, 1 - eps]`` so that the result is always finite.

    Parameters
    ----------
    y : array_like of shape (m,)
        True labels, 0 or 1.
    p : array_like of shape (m,)
        Predicted probabilities of class 1, in [0, 1].
    eps : float, default 1e-15
        Clipping bound, 0 < eps < 0.5.

    Returns
    -------
    float

    Examples
    --------
    >>> import fastlr
    >>> round(fastlr.log_loss([0, 1], [0.5, 0.5]), 6)
    0.693147
    """
    y01, pv, eps = check_log_loss_args(y, p, eps)
    return _kernels.log_loss_sum(y01, pv, eps) / y01.shape[0]


def gradients(X, y, p):
    """Mean gradient of the log-loss with respect to ``w`` and ``b``.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (m, n)
    y : array_like of shape (m,)
        Labels 0 or 1.
    p : array_like of shape (m,)
        Predicted probabilities of class 1.

    Returns
    -------
    dw : ndarray of shape (n,)
        ``X.T @ (p - y) / m``, dtype of X (float32 or float64).
    db : float
        ``mean(p - y)``.
    """
    X = check_X(X, accept_sparse=True)
    y01 = check_labels01(y, "y", m=X.shape[0])
    # p in float64 whatever its dtype: one kernel specialization per X dtype
    pv = check_proba(p, "p").astype(np.float64, copy=False)
    check_same_length(X, pv, "X", "p")
    dw = np.empty(X.shape[1])
    if is_sparse(X):
        db = _kernels_sparse.csr_gradient_sums(*_csr_arrays(X), y01,
                                               pv, dw)
    else:
        db = _kernels.gradient_sums(X, y01, pv, dw)
    return dw.astype(X.dtype, copy=False), float(db)


# --------------------------------------------------------------------------
# prediction


def _decision(X, w, b):
    """``X @ w + b`` in X's dtype, threaded when X is large enough (X a
    validated dense array or canonical CSR matrix)."""
    out = np.empty(X.shape[0], dtype=X.dtype)
    if is_sparse(X):
        threaded = (X.indptr[-1] >= PARALLEL_MIN_ELEMENTS
                    and numba.get_num_threads() > 1)
        kernel = (_kernels_sparse.csr_decision_parallel if threaded
                  else _kernels_sparse.csr_decision_serial)
        kernel(*_csr_arrays(X), w, b, out)
        return out
    if X.size >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1:
        _kernels.decision_parallel(X, w, b, out)
    else:
        _kernels.decision_serial(X, w, b, out)
    return out


def decision_function(X, w, b):
    """Logits ``X @ w + b``; shape (m,), dtype of X (dense or scipy.sparse)."""
    X = check_X(X, accept_sparse=True)
    w, b = check_weights(w, b, X.shape[1])
    return _decision(X, w, b)


def predict_proba(X, w, b):
    """Probability of class 1 for each row of X.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (m, n)
    w : array_like of shape (n,)
    b : float

    Returns
    -------
    ndarray of shape (m,)
        dtype of X (float32 or float64).
    """
    X = check_X(X, accept_sparse=True)
    w, b = check_weights(w, b, X.shape[1])
    z = _decision(X, w, b)
    _kernels.proba_from_decision(z, z)
    return z


def predict(X, w, b, threshold=0.5):
    """Class labels: 1 where ``predict_proba(X, w, b) > threshold``, else 0.

    The comparison is done on the logit (``z > log(t / (1 - t))``), so at
    the default threshold it agrees exactly with the sign of ``X @ w + b``.

    Returns
    -------
    ndarray of shape (m,), int64
    """
    threshold = check_real(threshold, "threshold", open01=True)
    X = check_X(X, accept_sparse=True)
    w, b = check_weights(w, b, X.shape[1])
    z = _decision(X, w, b)
    return (z > math.log(threshold / (1.0 - threshold))).astype(np.int64)


def accuracy(y_true, y_pred):
    """Fraction of positions where ``y_true == y_pred``.

    Labels may be of any type (numbers, strings); both must be 1-D, of the
    same non-zero length.
    """
    yt = _labels_1d(y_true, "y_true")
    yp = _labels_1d(y_pred, "y_pred")
    check_same_length(yt, yp, "y_true", "y_pred")
    return float(np.mean(yt == yp))


def _labels_1d(y, name):
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


# --------------------------------------------------------------------------
# training


class SGDState:
    """The trainable state: standardization, weights and optimizer state.

    ``w`` and ``b`` are the SGD iterate on ``(x - mean) / scale``;
    :meth:`raw` maps the model back to raw feature space. The optimizer
    state travels with it, so that ``warm_start`` and ``partial_fit``
    continue the schedule where it stopped:

    * ``steps`` (2,) int64: SGD steps (batches) taken, and iterates averaged;
    * ``gsq`` (n + 1,): AdaGrad's sums of squared gradients (last: intercept);
    * ``avg`` (n + 1,): averaged weights and intercept (ASGD);
    * ``l1_u``, ``l1_q`` (n,): cumulative L1 penalty available / applied
      (Tsuruoka et al. 2009).

    The model is the averaged weights once averaging has started
    (``steps[1] > 0``), the iterate otherwise (as in scikit-learn).
    """

    def __init__(self, mean, scale):
        n = mean.shape[0]
        self.mean = mean
        self.scale = scale
        self.w = np.zeros(n)
        self.b = np.zeros(1)
        self.steps = np.zeros(2, dtype=np.int64)
        self.gsq = np.zeros(n + 1)
        self.avg = np.zeros(n + 1)
        self.l1_u = np.zeros(n)
        self.l1_q = np.zeros(n)

    @classmethod
    def for_data(cls, X, standardize):
        """A fresh state for validated X (dense or CSR).

        ``standardize``: False, True (center and scale) or ``"scale"``
        (divide by the standard deviation, no centering). On sparse X, True
        means ``"scale"``: centering would make every zero non-zero.
        """
        n = X.shape[1]
        if not standardize:
            return cls(np.zeros(n), np.ones(n))
        mean, scale = np.empty(n), np.empty(n)
        if is_sparse(X):
            _kernels_sparse.csr_column_stats(*_csr_arrays(X), n, mean,
                                             scale)
            standardize = "scale"
        else:
            _kernels.column_stats(X, mean, scale)
        if standardize == "scale":
            mean[:] = 0.0
        return cls(mean, scale)

    #: the arrays that make up the state (for copies and model files)
    ARRAYS = ("mean", "scale", "w", "b", "steps", "gsq", "avg", "l1_u", "l1_q")

    def copy(self):
        new = SGDState.__new__(SGDState)
        for name in self.ARRAYS:
            setattr(new, name, getattr(self, name).copy())
        return new

    def model(self):
        """Standardized-space ``(w, b)`` of the model: averaged or iterate."""
        if self.steps[1] > 0:
            return self.avg[:-1], float(self.avg[-1])
        return self.w, float(self.b[0])

    def raw(self):
        """Raw-space ``(w, b)`` of the model as float64 array and float."""
        ws, bs = self.model()
        w = ws / self.scale
        return w, float(bs - w @ self.mean)

    def finite(self):
        return bool(np.isfinite(self.w).all() and np.isfinite(self.b[0]))


def sgd(X, y01, sw, state, *, batch_size, epochs, lr, shuffle, rng, penalty,
        alpha, epoch_loss, tol, n_iter_no_change, n_threads=None, callback=None,
        first_epoch=0, learning_rate="constant", power_t=0.5, l1_ratio=0.15,
        average_start=0, monitor=None):
    """Run SGD epochs on validated arrays, updating ``state`` in place.

    Shared by :func:`train` and the estimator; see :func:`train` for the
    parameters (``sw`` is the validated sample weight, empty for none;
    ``average_start`` as returned by
    :func:`fastlr._driver.check_sgd_options`; ``monitor`` as in
    :func:`fastlr._driver.run_epochs`). Returns ``(losses, converged)``.
    """
    # no centering on sparse input: SGDState.for_data left mean at 0
    return _run_sgd(
        X, y01, sw, state,
        (_kernels.sgd_epoch, sgd_epoch_threaded, _kernels_sparse.csr_sgd_epoch),
        full_loss_sum, 2, batch_size=batch_size, epochs=epochs, lr=lr,
        shuffle=shuffle, rng=rng, penalty=penalty, alpha=alpha,
        epoch_loss=epoch_loss, tol=tol, n_iter_no_change=n_iter_no_change,
        n_threads=n_threads, callback=callback, first_epoch=first_epoch,
        learning_rate=learning_rate, power_t=power_t, l1_ratio=l1_ratio,
        average_start=average_start, monitor=monitor)


def _run_sgd(X, y, sw, state, kernels, full_loss, n_classes, *, batch_size,
             epochs, lr, shuffle, rng, penalty, alpha, epoch_loss, tol,
             n_iter_no_change, n_threads, callback, first_epoch, learning_rate,
             power_t, l1_ratio, average_start, monitor):
    """The epoch loop of :func:`sgd` and :func:`sgd_multinomial`.

    ``kernels`` are the (serial dense, threaded dense, CSR) epoch kernels of
    the model, ``full_loss(X, y, sw, w, b)`` its summed loss at raw-space
    weights, ``n_classes`` for the divergence message.
    """
    m = X.shape[0]
    # losses are weighted means: sum(sw * loss) / sum(sw)
    denom = float(sw.sum()) if sw.shape[0] else float(m)
    pcode = _PENALTY_CODES[penalty]
    scode = _SCHEDULE_CODES[learning_rate]
    average_start = int(average_start)
    if average_start == 0:
        state.steps[1] = 0  # averaging off: the iterate is the model
    epoch = _epoch_kernel(X, y, sw, state, batch_size, n_threads, *kernels)
    out2 = np.empty(2)
    track = epoch_loss == "running"
    eta = [float(lr)]  # "adaptive" lowers it between epochs

    def run_one(blocks, block):
        epoch(blocks, block, (track, scode, eta[0], float(power_t), pcode,
                              float(alpha), float(l1_ratio), average_start), out2)
        bound = out2[1] / denom
        if track:
            return out2[0] / denom, bound
        if epoch_loss == "full":
            w, b = state.raw()
            return full_loss(X, y, sw, w, b) / denom, bound
        return math.nan, bound

    on_stall = _adaptive_on_stall(eta) if learning_rate == "adaptive" else None

    block = block_rows(row_bytes(X), batch_size)
    return run_epochs(run_one, state.finite, EpochOrder(m, shuffle, rng, block),
                      epochs=epochs, lr=lr, tol=tol,
                      n_iter_no_change=n_iter_no_change,
                      track=epoch_loss is not None, callback=callback,
                      first_epoch=first_epoch, monitor=monitor, on_stall=on_stall,
                      n_classes=n_classes)


def _epoch_kernel(X, y, sw, state, batch_size, n_threads, dense, threaded,
                  sparse):
    """``epoch(blocks, block, options, out2)``: one epoch on validated X with
    the kernel that fits it (the CSR one, or the dense one on one thread or,
    per :func:`train`'s ``n_threads`` rule, on several). ``options`` are the
    kernels' arguments from ``track_loss`` to ``average_start``."""
    m = X.shape[0]
    if is_sparse(X):
        _check_sparse_state(state)
        csr = _csr_arrays(X)

        def epoch(blocks, block, options, out2):
            sparse(*csr, y, sw, blocks, block, state.scale, batch_size, *options,
                   state.w, state.b, state.steps, state.gsq, state.avg,
                   state.l1_u, state.l1_q, out2)
        return epoch
    threads = _threads(n_threads)
    use_threads = (threads > 1 and min(batch_size, m) >= PARALLEL_MIN_BATCH
                   and X.size >= PARALLEL_MIN_TRAIN_ELEMENTS)

    def epoch(blocks, block, options, out2):
        args = (X, y, sw, blocks, block, state.mean, state.scale, batch_size,
                *options, state.w, state.b, state.steps, state.gsq, state.avg,
                state.l1_u, state.l1_q, out2)
        if use_threads:
            threaded(threads, *args)
        else:
            dense(*args)
    return epoch


def _csr_arrays(X):
    """``(data, indices, indptr)`` of a validated CSR matrix for the sparse
    kernels, int32 column indices viewed as uint32 (no copy).

    numba turns a signed index into ``j + n if j < 0 else j`` at every
    access (Python's negative indexing); an unsigned one is used as is. The
    indices are validated non-negative, so the view changes no value. On
    the 1M-column workload the CSR epoch took 0.92x the time with the view
    (interleaved A/B). int64 indices stay signed: numba computes uint64 mixed
    with int64 in floats.
    """
    indices = X.indices
    if indices.dtype == np.int32:
        indices = indices.view(np.uint32)
    return X.data, indices, X.indptr


def _check_sparse_state(state):
    """Sparse X cannot continue a model that centers its features."""
    if state.mean.any():
        raise ValueError(
            "X is sparse but the model centers its features (it was started on "
            "dense X with standardize=True); sparse input can only be scaled. "
            "Start from sparse X, or use standardize='scale' or False")


def full_loss_sum(X, y01, sw, w, b):
    """Sum of (weighted) row log-losses of the raw-space model on validated
    X, dense or CSR."""
    if is_sparse(X):
        return _kernels_sparse.csr_full_loss_sum(*_csr_arrays(X), y01,
                                                 sw, w, b)
    return _kernels.full_loss_sum(X, y01, sw, w, b)


def _adaptive_on_stall(eta):
    """``"adaptive"``: a callback that divides ``eta[0]`` by 5 when the loss
    stalls, while it is above 1e-6, and otherwise says stop (scikit-learn's
    rule)."""
    def on_stall():
        if eta[0] > ADAPTIVE_MIN_LR:
            eta[0] /= ADAPTIVE_DIVISOR
            return True
        return False
    return on_stall


def _threads(n_threads):
    """Threads to use: None means all numba threads; capped at what numba has."""
    if n_threads is None:
        return numba.get_num_threads()
    n = check_positive_int(n_threads, "n_threads")
    return min(n, numba.config.NUMBA_NUM_THREADS)


def train(X, y, batch_size=100, epochs=100, lr=0.01, *, standardize=True,
          shuffle=True, random_state=None, penalty=None, alpha=1e-4,
          epoch_loss="running", tol=None, n_iter_no_change=5, sample_weight=None,
          n_threads=None, callback=None, learning_rate="constant", power_t=0.5,
          l1_ratio=0.15, average=False):
    """Fit binary logistic regression by mini-batch SGD.

    Each epoch visits every row once, in batches of ``batch_size``; each batch
    is one fused pass (logit, residual, loss, gradient) followed by one step
    ``w -= lr * grad``. Weights start at zero.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (m, n)
        Features. C-contiguous float32/float64 input is used without a copy;
        float32 stays float32 (the arithmetic accumulates in float64).
        Sparse input (CSR, or any scipy.sparse format, converted to CSR
        without densifying) is trained by a kernel that loops over the
        stored entries only and updates only the weights of the columns
        present in each batch (lazy updates; see
        :mod:`fastlr._kernels_sparse`): an epoch costs O(nnz + n). It runs
        on one thread. Results equal the dense path's on ``X.toarray()``
        (with ``standardize="scale"`` for ``standardize=True``) up to
        rounding.
    y : array_like of shape (m,)
        Labels 0 or 1, both present.
    batch_size : int, default 100
        Rows per SGD step (>= 1). The last batch of an epoch may be smaller.
    epochs : int, default 100
        Maximum number of passes over the data (>= 0).
    lr : float, default 0.01
        Base learning rate (> 0, finite): scikit-learn's ``eta0``. How it is
        used depends on ``learning_rate``.
    standardize : {True, False, "scale"}, default True
        Train on ``(X - mean) / std`` (columns with zero spread are left
        unscaled), folded into the kernel so X is never copied. ``"scale"``:
        on ``X / std``, without centering (as scikit-learn's
        ``StandardScaler(with_mean=False)``). **On sparse X, True means
        "scale"**: subtracting the mean would turn every stored zero into a
        non-zero, so sparse features are scaled, not centered (the std is
        still that of the column, implicit zeros included). The returned
        ``w`` and ``b`` are mapped back to raw feature space either way.
    shuffle : {True, False, "blocks", "rows"}, default True
        ``True`` (same as ``"blocks"``): each epoch visits blocks of a few
        consecutive rows (about 16 KiB, and at least 8 blocks per batch) in a
        new random order, which keeps memory access sequential. ``"rows"``:
        an exact random permutation of the rows (several times slower on
        data larger than the caches). ``False``: the natural order.
    random_state : None, int or numpy.random.Generator
        Seeds the row order (the only randomness).
    penalty : {None, "l2", "l1", "elasticnet"}, default None
        Added to the objective, on the standardized weights (never the
        intercept): ``"l2"``: ``alpha / 2 * ||w||^2``; ``"l1"``:
        ``alpha * ||w||_1``; ``"elasticnet"``: ``alpha * (l1_ratio * ||w||_1
        + (1 - l1_ratio) / 2 * ||w||^2)``. The L2 part is a gradient term;
        the L1 part is applied after each step by the cumulative-penalty
        truncation of Tsuruoka, Tsujii and Ananiadou (2009), as scikit-learn's
        SGD does: each weight may be pulled toward zero by the total penalty
        it could have received so far minus what it did receive, and is
        clipped at zero. Unlike a plain proximal step, which zeroes a weight
        only when the last step's gradient noise happens to be smaller than
        ``lr * alpha``, the cumulative form absorbs weights that merely
        fluctuate around zero, so irrelevant features end exactly at 0.0
        (averaging, ``average``, gives up that sparsity: it averages the
        iterates).
    alpha : float, default 1e-4
        Penalty strength, >= 0; ignored when ``penalty`` is None.
    epoch_loss : {"running", "full", None}, default "running"
        What ``losses`` holds. ``"running"``: the mean over the epoch's rows of
        each row's loss at the weights in force when its batch was processed;
        free, computed in the same pass (what scikit-learn's SGD reports).
        ``"full"``: the mean loss over all of X after the epoch, of the
        model ``train`` returns (the averaged one with ``average``); costs a
        second read of X. ``None``: not computed (the ``exp``/``log1p`` work
        is skipped); ``losses`` is then all NaN.
    tol : float or None, default None
        Stop when the loss has not improved by at least ``tol`` on the best
        loss for ``n_iter_no_change`` consecutive epochs.
    n_iter_no_change : int, default 5
    sample_weight : array_like of shape (m,) or None
        Non-negative weight per row: its loss and gradient are multiplied by
        it (the batch gradient is still divided by the batch's row count, as
        in scikit-learn's SGD). ``losses`` are then weighted means.
    n_threads : int or None
        Threads for batches of at least ``PARALLEL_MIN_BATCH`` (128) rows on
        data of at least ``PARALLEL_MIN_TRAIN_ELEMENTS`` (2M) elements;
        smaller work runs on one thread, which is faster there. None uses
        numba's thread count (``numba.get_num_threads()``); larger values are
        capped at ``NUMBA_NUM_THREADS``. The results are bit-identical for any
        value.
    callback : callable(epoch, loss) or None
        Called after every epoch, e.g. for a progress bar.
    learning_rate : {"constant", "invscaling", "adaptive", "adagrad"}, default "constant"
        Step size of each batch update (scikit-learn's names and rules where
        they overlap, with ``eta0 = lr``). ``"constant"``: ``lr``.
        ``"invscaling"``: ``lr / t**power_t``, where ``t`` counts SGD steps
        (batches) from 1, continuing across ``partial_fit``/``warm_start``
        calls (scikit-learn counts samples; with ``batch_size=1`` they agree).
        ``"adaptive"``: ``lr`` until ``n_iter_no_change`` consecutive epochs
        fail to improve the loss by ``tol``, then ``lr / 5``, and so on; a
        stall with the rate at or below 1e-6 stops training (with
        ``tol=None`` nothing stalls and the rate stays ``lr``). ``"adagrad"``:
        per-coordinate ``lr / (1e-8 + sqrt(sum of past squared gradients))``
        (Duchi, Hazan and Singer 2011), the intercept included: each weight's
        step adapts to its own gradient scale, which keeps training stable on
        unscaled features (``standardize=False``); ``lr`` around 0.1-1 suits
        it. The default stays ``"constant"``: with ``standardize=True`` the
        features already share one scale, and it is the fastest update.
    power_t : float, default 0.5
        Exponent of ``"invscaling"``, >= 0.
    l1_ratio : float, default 0.15
        Elastic-net mixing in [0, 1] (scikit-learn's default); only used by
        ``penalty="elasticnet"``.
    average : bool or int, default False
        Averaged SGD (Polyak-Ruppert): the model returned is the running
        mean of the iterates from step ``average`` on (``True``: from the
        first step), which converges faster and with less noise than the
        last iterate at a constant ``lr``. Steps count batches (scikit-learn
        counts samples). The running losses are still those of the iterate.

    Returns
    -------
    TrainResult
        Named tuple ``(w, b, losses)``: ``w`` of shape (n,) in X's dtype, ``b``
        a float, ``losses`` of shape (epochs_run,).

    Raises
    ------
    ValueError, TypeError
        For bad input, naming the argument; nothing has run.
    fastlr.DivergedError
        When the loss becomes inf/NaN or explodes (lower ``lr`` or
        standardize).

    Examples
    --------
    >>> import numpy as np, fastlr
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> w, b, losses = fastlr.train(X, y, batch_size=2, epochs=200, lr=0.5,
    ...                             random_state=0)
    >>> fastlr.predict(X, w, b).tolist()
    [0, 0, 1, 1]
    """
    params = check_train_params(batch_size, epochs, lr, penalty, alpha,
                                epoch_loss, tol, n_iter_no_change, shuffle)
    batch_size, epochs, lr, alpha, tol, n_iter_no_change = params
    learning_rate, power_t, l1_ratio, average_start = check_sgd_options(
        learning_rate, power_t, l1_ratio, average)
    if n_threads is not None:
        check_positive_int(n_threads, "n_threads")
    rng = make_rng(random_state)
    standardize = check_standardize(standardize)
    X = check_X(X, accept_sparse=True)
    y01 = check_labels01(y, "y", m=X.shape[0], require_both=True)
    sw = check_sample_weight(sample_weight, X.shape[0])
    state = SGDState.for_data(X, standardize)
    losses, _ = sgd(X, y01, sw, state, batch_size=batch_size, epochs=epochs, lr=lr,
                    shuffle=shuffle, rng=rng, penalty=penalty, alpha=alpha,
                    epoch_loss=epoch_loss, tol=tol,
                    n_iter_no_change=n_iter_no_change, n_threads=n_threads,
                    callback=callback, learning_rate=learning_rate,
                    power_t=power_t, l1_ratio=l1_ratio,
                    average_start=average_start)
    w, b = state.raw()
    return TrainResult(w.astype(X.dtype, copy=False), b, losses)


# --------------------------------------------------------------------------
# multinomial (softmax) training


class MultinomialResult(NamedTuple):
    """What :func:`train_multinomial` returns.

    Attributes
    ----------
    W : ndarray of shape (n_classes, n_features)
        Weights in raw feature space, dtype of X.
    b : ndarray of shape (n_classes,)
        Intercepts in raw feature space, float64.
    losses : ndarray of shape (epochs_run,)
        One training loss (mean cross-entropy) per epoch.
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels; row ``c`` of ``W`` scores ``classes[c]``.
    """

    W: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    classes: np.ndarray


class MultinomialState:
    """Trainable state of a k-class softmax model (see :class:`SGDState`).

    ``w`` (k, n) and ``b`` (k,) are the SGD iterate on the standardized
    features; ``steps`` (2,) counts steps and averaged iterates; ``gsq``
    (k, n + 1) holds AdaGrad's sums of squared gradients (last column: the
    intercepts'); ``avg`` (k, n + 1) the averaged weights (last column:
    intercepts); ``l1_u``, ``l1_q`` (k, n) the cumulative L1 penalty
    available / applied per (class, feature).
    """

    #: the arrays that make up the state (for copies and model files)
    ARRAYS = ("mean", "scale", "w", "b", "steps", "gsq", "avg", "l1_u", "l1_q")

    def __init__(self, mean, scale, n_classes):
        n = mean.shape[0]
        self.mean = mean
        self.scale = scale
        self.w = np.zeros((n_classes, n))
        self.b = np.zeros(n_classes)
        self.steps = np.zeros(2, dtype=np.int64)
        self.gsq = np.zeros((n_classes, n + 1))
        self.avg = np.zeros((n_classes, n + 1))
        self.l1_u = np.zeros((n_classes, n))
        self.l1_q = np.zeros((n_classes, n))

    @classmethod
    def for_data(cls, X, standardize, n_classes):
        base = SGDState.for_data(X, standardize)
        return cls(base.mean, base.scale, n_classes)

    @property
    def n_classes(self):
        return self.w.shape[0]

    def copy(self):
        new = MultinomialState.__new__(MultinomialState)
        for name in self.ARRAYS:
            setattr(new, name, getattr(self, name).copy())
        return new

    def model(self):
        """Standardized-space ``(W, b)``: averaged or iterate."""
        if self.steps[1] > 0:
            return self.avg[:, :-1], self.avg[:, -1]
        return self.w, self.b

    def raw(self):
        """Raw-space ``(W, b)`` of the model, float64 arrays (k, n) and (k,)."""
        ws, bs = self.model()
        w = ws / self.scale
        return w, bs - w @ self.mean

    def finite(self):
        return bool(np.isfinite(self.w).all() and np.isfinite(self.b).all())


def check_class_labels(y, m):
    """``(classes, y_index)``: sorted distinct labels and int64 indices."""
    y = _labels_1d(y, "y")
    if y.shape[0] != m:
        raise ValueError(f"y has {y.shape[0]} labels but X has {m} rows")
    classes, yidx = np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(f"y contains only one class ({classes[0]!r}); "
                         "training needs at least two")
    return classes, yidx.astype(np.int64).reshape(-1)


def sgd_multinomial(X, yidx, sw, state, *, batch_size, epochs, lr, shuffle, rng,
                    penalty, alpha, epoch_loss, tol, n_iter_no_change,
                    callback=None, first_epoch=0, learning_rate="constant",
                    power_t=0.5, average_start=0, monitor=None, l1_ratio=0.15,
                    n_threads=None):
    """Run softmax SGD epochs on validated arrays, updating ``state`` in place.

    The multinomial counterpart of :func:`sgd`, with the same penalties,
    learning-rate schedules and choice of threads (dense X only; sparse X
    trains on one thread). ``yidx`` holds int64 class indices. Returns
    ``(losses, converged)``.
    """
    return _run_sgd(
        X, yidx, sw, state,
        (_kernels_multinomial.sgd_epoch_multinomial,
         sgd_epoch_multinomial_threaded,
         _kernels_sparse.csr_sgd_epoch_multinomial),
        full_loss_sum_multinomial, state.n_classes, batch_size=batch_size,
        epochs=epochs, lr=lr, shuffle=shuffle, rng=rng, penalty=penalty,
        alpha=alpha, epoch_loss=epoch_loss, tol=tol,
        n_iter_no_change=n_iter_no_change, n_threads=n_threads,
        callback=callback, first_epoch=first_epoch, learning_rate=learning_rate,
        power_t=power_t, l1_ratio=l1_ratio, average_start=average_start,
        monitor=monitor)


def full_loss_sum_multinomial(X, yidx, sw, W, B):
    """Sum of (weighted) row cross-entropies of the raw-space model on
    validated X, dense or CSR."""
    if is_sparse(X):
        return _kernels_sparse.csr_full_loss_sum_multinomial(
            *_csr_arrays(X), yidx, sw, W, B)
    return _kernels_multinomial.full_loss_sum_multinomial(X, yidx, sw, W, B)


def train_multinomial(X, y, batch_size=100, epochs=100, lr=0.01, *,
                      standardize=True, shuffle=True, random_state=None,
                      penalty=None, alpha=1e-4, epoch_loss="running", tol=None,
                      n_iter_no_change=5, sample_weight=None, callback=None,
                      learning_rate="constant", power_t=0.5, l1_ratio=0.15,
                      average=False, n_threads=None):
    """Fit multinomial (softmax) logistic regression by mini-batch SGD.

    The k-class counterpart of :func:`train`, with the same batches, order
    and options (and the same meaning of each: penalties act on every
    (class, feature) weight, AdaGrad keeps one accumulator per weight and
    per class intercept; ``n_threads`` chooses threads as in :func:`train`,
    for dense X, bit-identical for any value). Each row's loss is
    ``logsumexp(z) - z_y`` over its k logits ``z``, computed with the row
    maximum subtracted.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (m, n)
        Sparse input runs the CSR kernel with lazy updates, as in
        :func:`train` (and ``standardize=True`` scales without centering).
    y : array_like of shape (m,)
        Labels of any sortable type, at least two distinct ones (two give
        a softmax model with two rows, not the binary sigmoid model).

    Returns
    -------
    MultinomialResult
        ``(W, b, losses, classes)``: ``W`` (k, n) in X's dtype and ``b``
        (k,) in raw feature space; row ``c`` scores ``classes[c]``.

    Examples
    --------
    >>> import numpy as np, fastlr.core
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    >>> res = fastlr.core.train_multinomial(X, [0, 0, 1, 1, 2, 2], batch_size=2,
    ...                                     epochs=300, lr=0.5, random_state=0)
    >>> (X @ res.W.T + res.b).argmax(axis=1).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    params = check_train_params(batch_size, epochs, lr, penalty, alpha,
                                epoch_loss, tol, n_iter_no_change, shuffle)
    batch_size, epochs, lr, alpha, tol, n_iter_no_change = params
    learning_rate, power_t, l1_ratio, average_start = check_sgd_options(
        learning_rate, power_t, l1_ratio, average)
    if n_threads is not None:
        check_positive_int(n_threads, "n_threads")
    rng = make_rng(random_state)
    standardize = check_standardize(standardize)
    X = check_X(X, accept_sparse=True)
    classes, yidx = check_class_labels(y, X.shape[0])
    sw = check_sample_weight(sample_weight, X.shape[0])
    state = MultinomialState.for_data(X, standardize, classes.shape[0])
    losses, _ = sgd_multinomial(
        X, yidx, sw, state, batch_size=batch_size, epochs=epochs, lr=lr,
        shuffle=shuffle, rng=rng, penalty=penalty, alpha=alpha,
        epoch_loss=epoch_loss, tol=tol, n_iter_no_change=n_iter_no_change,
        callback=callback, learning_rate=learning_rate, power_t=power_t,
        l1_ratio=l1_ratio, average_start=average_start, n_threads=n_threads)
    w, b = state.raw()
    return MultinomialResult(w.astype(X.dtype, copy=False), b, losses, classes)


def softmax(Z):
    """Row-wise stable softmax of a 2-D float array (dtype kept)."""
    out = np.empty_like(Z)
    _kernels_multinomial.softmax_rows(Z, out)
    return out
