"""The functional API: validation and dispatch in front of the Numba kernels.

Data flows one way: user input -> validation (:mod:`fastlr._validation`,
:func:`fastlr._dispatch.as_data`) -> kernels, chosen by
:mod:`fastlr._dispatch` -> results. Nothing here loops over rows, picks a
kernel or holds training state (:mod:`fastlr._state`, :mod:`fastlr._sgd`).
"""

import math

import numpy as np

from ._dispatch import as_data
from ._driver import (
    DivergedError,
    ManyResult,
    MultinomialResult,
    TrainResult,
    check_fit_intercept,
    check_run,
    check_sgd_options,
    check_train_params,
    warn_weight_scale,
)
from ._kernels import predict as _predict
from ._kernels.update import hyperparameters
from ._lbfgs import MEMORY
from ._order import check_random_state, make_rng
from ._sgd import sgd_many, written_arrays
from ._solver import (
    AUTO_EPOCHS,
    AUTO_MIN_BATCH,
    check_solver,
    stack_pairs,
    warn_unconverged,
)
from ._state import ModelStack, ModelState
from ._train import finish_stack, path_stages, train_state
from ._validation import (
    FINISHER_BYTES_PER_WEIGHT,
    MODEL_BYTES,
    MODEL_BYTES_PER_WEIGHT,
    TRAIN_BYTES_PER_CLASS,
    TRAIN_BYTES_PER_COLUMN,
    _as_numeric_array,
    check_class_labels,
    check_folds,
    check_grid,
    check_label_pair,
    check_labels01,
    check_log_loss_args,
    check_memory,
    check_proba,
    check_real,
    check_rows,
    check_same_length,
    check_sample_weight,
    check_standardize,
    check_weighted_rows,
    check_weights,
    check_width,
    float_dtype_of,
    standardize_option,
    weights_as,
)

__all__ = [
    "ManyResult",
    "MultinomialResult",
    "TrainResult",
    "accuracy",
    "decision_function",
    "gradients",
    "log_loss",
    "predict",
    "predict_proba",
    "sigmoid",
    "softmax",
    "train",
    "train_many",
    "train_multinomial",
]


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
    _predict.sigmoid_array(flat, out)
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
        Clipping bound, 2**-53 (1.1e-16) <= eps < 0.5.

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
    return _predict.log_loss_sum(y01, pv, eps) / y01.shape[0]



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
    data = as_data(X)
    y01 = check_labels01(y, "y", m=data.m)
    # p in float64 whatever its dtype: one kernel specialization per X dtype
    pv = check_proba(p, "p").astype(np.float64, copy=False)
    check_same_length(pv, data.X, "p", "X")
    dw, db = data.gradients(y01, pv)
    return dw.astype(data.dtype, copy=False), db


# --------------------------------------------------------------------------
# prediction


def _binary_model(X, w, b, link="logits"):
    """``X @ w + b`` through ``link`` (:meth:`fastlr._dispatch.Data.decision`),
    X validated and checked finite in the same read."""
    data = as_data(X, check=False, any_layout=True)
    w, b = check_weights(w, b, data.n)
    return data.decision(w.reshape(1, -1), np.array([b]), link=link)[:, 0]


def decision_function(X, w, b):
    """Logits ``X @ w + b`` of the binary model.

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
    return _binary_model(X, w, b)


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
    return _binary_model(X, w, b, link="sigmoid")


def predict(X, w, b, threshold=0.5):
    """Class labels: 1 where ``predict_proba(X, w, b) > threshold``, else 0.

    The comparison is done on the logit (``z > log(t / (1 - t))``), so at
    the default threshold it agrees exactly with the sign of ``X @ w + b``.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (m, n)
    w : array_like of shape (n,)
    b : float
    threshold : float, default 0.5
        Strictly between 0 and 1.

    Returns
    -------
    ndarray of shape (m,), int64
    """
    threshold = check_real(threshold, "threshold", open01=True)
    z = _binary_model(X, w, b)
    return (z > math.log(threshold / (1.0 - threshold))).astype(np.int64)


def accuracy(y_true, y_pred):
    """Fraction of positions where ``y_true == y_pred``.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (m,)
        Labels of any type (numbers, strings); both 1-D, of the same
        non-zero length.

    Returns
    -------
    float
    """
    yt, yp = check_label_pair(y_true, y_pred)
    return float(np.mean(yt == yp))


def softmax(Z):
    """Row-wise stable softmax of 2-D logits ``Z`` (m, k): float32 input
    gives float32, every other numeric dtype float64 (as :func:`sigmoid`);
    ``+-inf`` are allowed, NaN is not."""
    arr = _as_numeric_array(Z, "Z")
    if arr.ndim != 2:
        raise ValueError(f"Z must be 2-D (rows, classes), got shape {arr.shape}")
    Z = np.ascontiguousarray(arr, dtype=float_dtype_of(arr))
    if np.isnan(Z).any():
        raise ValueError("Z contains NaN")
    out = np.empty_like(Z)
    _predict.softmax_rows(Z, out)
    return out


# --------------------------------------------------------------------------
# training


def _fit(X, y, softmax_model, *, batch_size, epochs, lr, standardize, shuffle,
         random_state, penalty, alpha, epoch_loss, tol, n_iter_no_change,
         sample_weight, n_threads, callback, learning_rate, power_t, l1_ratio,
         average, fit_intercept, solver, rows):
    """Validate, standardize and train; shared by :func:`train` and
    :func:`train_multinomial`. Returns ``(data, state, losses, classes)``."""
    solver, finish_tol = check_solver(solver, tol)
    params = check_train_params(batch_size, epochs, lr, penalty, alpha,
                                epoch_loss, tol if solver == "sgd" else None,
                                n_iter_no_change, shuffle)
    batch_size, epochs, lr, alpha, sgd_tol, n_iter_no_change = params
    learning_rate, power_t, l1_ratio, average_start = check_sgd_options(
        learning_rate, power_t, l1_ratio, average, penalty, alpha)
    check_run(n_threads, callback)
    fit_intercept = check_fit_intercept(fit_intercept)
    check_random_state(random_state)   # drawn from once the input is checked
    standardize = check_standardize(standardize)
    # the statistics of all rows come with the finiteness check
    data = as_data(X, with_stats=bool(standardize) and rows is None, train=True,
                   n_threads=n_threads)
    row_fold = check_rows(rows, data.m)
    train_rows = slice(None) if row_fold is None else row_fold == 0
    if softmax_model:
        classes, codes = check_class_labels(y, data.m)
    else:
        classes = None
        codes = check_labels01(y, "y", m=data.m, require_both=True, dtype=np.int64)
    if data.sparse:   # (as_data checked the width of one row of SGD's weights)
        check_model_memory(data.n, classes.shape[0] if softmax_model else 2, solver,
                           TRAIN_BYTES_PER_COLUMN, TRAIN_BYTES_PER_CLASS)
    if row_fold is not None and np.unique(codes[train_rows]).shape[0] < 2:
        raise ValueError("y contains a single class among the rows given by rows; "
                         "training needs at least two")
    sw = check_sample_weight(sample_weight, data.m)
    check_weighted_rows(sw, row_fold, (1,), "rows", heldout=False)
    if solver == "sgd":
        warn_weight_scale(sw if row_fold is None or sw.shape[0] == 0
                          else sw[row_fold == 0], "sample_weight")
    mean, scale = data.standardization(
        standardize_option(standardize, fit_intercept, data.sparse), row_fold, (1,), sw)
    # (only the optimizer arrays these options write: on 1M columns the
    # other three were 24 MB a class of zeros)
    state = ModelState(mean[0], scale[0], classes.shape[0] if softmax_model else 1,
                       softmax_model, written=written_arrays(
                           penalty, alpha, l1_ratio, learning_rate, average_start))
    # made now: a call refused above leaves the caller's RandomState (or
    # NumPy's global one, for None) as it was
    rng = make_rng(random_state)
    losses, converged, _ = train_state(
        data, codes, sw, state, solver=solver, finish_tol=finish_tol,
        epochs=epochs, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
        fit_intercept=fit_intercept, n_threads=n_threads, callback=callback,
        batch_size=batch_size, lr=lr, shuffle=shuffle, rng=rng,
        epoch_loss=epoch_loss, tol=sgd_tol, n_iter_no_change=n_iter_no_change,
        learning_rate=learning_rate, power_t=power_t,
        average_start=average_start, row_fold=row_fold)
    warn_unconverged(solver, losses, converged, epochs, tol, "epochs")
    return data, state, losses, classes


def train(X, y, batch_size=100, epochs=100, lr=0.01, *, standardize="auto",
          shuffle=True, random_state=None, penalty=None, alpha=1e-4,
          epoch_loss="running", tol=None, n_iter_no_change=5, sample_weight=None,
          n_threads=None, callback=None, learning_rate="constant", power_t=0.5,
          l1_ratio=0.15, average=False, fit_intercept=True, solver="sgd",
          rows=None):
    """Fit binary logistic regression by mini-batch SGD, or to its optimum.

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
        :mod:`fastlr._kernels.sparse`): an epoch costs O(nnz + n). It runs
        on one thread, or on ``n_threads`` when given for one binary model
        with an L2 penalty or none in batches of at least
        ``SPARSE_PARALLEL_MIN_BATCH`` (256) rows (bit-identical to one
        thread). Results equal the dense path's on ``X.toarray()``
        (with ``standardize="scale"`` for ``standardize=True``) up to
        rounding.
    y : array_like of shape (m,)
        Labels 0 or 1, both present.
    batch_size : int, default 100
        Rows per SGD step (>= 1). The last batch of an epoch may be smaller.
        A batch_size larger than the number of rows m (any integer, 2**63
        and beyond included) means one batch of all m rows per epoch:
        exactly what ``batch_size=m`` does, on every path.
    epochs : int, default 100
        Maximum number of passes over the data (>= 0).
    lr : float, default 0.01
        Base learning rate (> 0, finite): scikit-learn's ``eta0``. How it is
        used depends on ``learning_rate`` (``"optimal"`` ignores it).
    standardize : {"auto", True, False, "scale"}, default "auto"
        ``"auto"``: True on dense X, False on sparse X (tf-idf, counts and
        hashed features train as they are, as scikit-learn's estimators
        take them; scaling a rare column by its small spread inflates it).
        True: train on ``(X - mean) / std`` (columns with zero spread, or a
        spread below 1e-300, are left unscaled; one lost to the rounding of
        their magnitude is divided by their largest ``|x|``), folded into
        the kernel so
        that standardizing never copies X. ``"scale"``: on ``X / std``, without centering
        (as scikit-learn's ``StandardScaler(with_mean=False)``). **On
        sparse X, True means "scale"**: subtracting the mean would turn
        every stored zero into a non-zero, so sparse features are scaled,
        not centered (the std is
        still that of the column, implicit zeros included). The returned
        ``w`` and ``b`` are mapped back to raw feature space either way.
        With ``sample_weight`` the mean and std are weighted (each row counts
        as often as its weight), so that weights of 0 and 2 standardize as
        dropping and repeating rows do.
    shuffle : {True, False, "blocks", "rows"}, default True
        ``True`` (same as ``"blocks"``): each epoch visits blocks of a few
        consecutive rows (about 16 KiB, and at least 8 blocks per batch) in a
        new random order, which keeps memory access sequential. ``"rows"``:
        an exact random permutation of the rows (several times slower on
        data larger than the caches). ``False``: the natural order.
    random_state : None, int, numpy.random.Generator or RandomState
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
        Penalty strength, >= 0; not used when ``penalty`` is None (but
        checked all the same, as every parameter is).
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
        loss for ``n_iter_no_change`` consecutive epochs (>= 0; for the
        solvers see ``solver``).
    n_iter_no_change : int, default 5
        Epochs (>= 1) in a row without an improvement by ``tol`` that stop
        SGD (with ``learning_rate="adaptive"``: that divide the rate by 5).
    sample_weight : array_like of shape (m,) or None
        Non-negative weight per row: its loss and gradient are multiplied by
        it (the batch gradient is still divided by the batch's row count, as
        in scikit-learn's SGD). ``losses`` are then weighted means. So SGD's
        step on a row is ``lr`` times its weight, and the weights' scale
        acts as ``lr`` does, where the objective (their weighted mean loss)
        and the ``"lbfgs"`` and ``"auto"`` solvers ignore it: with
        ``solver="sgd"``, weights whose mean over the rows of positive
        weight (the rows trained on) lies outside [1/16, 16] draw a
        :class:`fastlr.WeightScaleWarning` (normalized to sum 1, they
        take steps ``m`` times smaller, and ``tol`` stops a model that has
        barely moved); divide them by their mean.
    n_threads : int or None
        Threads for batches of at least ``PARALLEL_MIN_BATCH`` (128) rows on
        data of at least ``PARALLEL_MIN_TRAIN_ELEMENTS`` (2M) elements;
        smaller work runs on one thread, which is faster there. None uses
        numba's thread count (``numba.get_num_threads()``); larger values are
        capped at ``NUMBA_NUM_THREADS``. The results are bit-identical for any
        value.
    callback : callable(epoch, loss) or None
        Called after every epoch, e.g. for a progress bar.
    learning_rate : {"constant", "invscaling", "adaptive", "adagrad", "optimal"}, \
default "constant"
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
        it. ``"optimal"``: scikit-learn's ``SGDClassifier`` default, ``1 /
        (alpha * (t0 + t - 1))``, ``t`` as for ``"invscaling"`` and ``t0``
        Bottou's heuristic's (``1 / (typw * alpha)``, ``typw =
        alpha**-0.25`` the first step); ``lr`` is ignored (as scikit-learn
        ignores ``eta0``) and ``alpha`` is the whole strength with
        ``"elasticnet"`` (as there); a penalty with ``alpha > 0`` is
        required (ValueError). The default stays ``"constant"``: with
        ``standardize=True`` the features already share one scale, and it is
        the fastest update.
    power_t : float, default 0.5
        Exponent of ``"invscaling"``, >= 0 (checked whatever the
        ``learning_rate``).
    l1_ratio : float, default 0.15
        Elastic-net mixing in [0, 1] (``SGDClassifier``'s default); only used
        by ``penalty="elasticnet"`` (checked whatever the penalty; another
        value with another penalty warns that it has no effect).
    average : bool or int, default False
        Averaged SGD (Polyak-Ruppert): the model returned is the running
        mean of the iterates from step ``average`` on (``True``: from the
        first step), which converges faster and with less noise than the
        last iterate at a constant ``lr``. Steps count batches (scikit-learn
        counts samples). The running losses are still those of the iterate.
    fit_intercept : bool, default True
        Fit the intercept ``b``. False keeps it at 0: the model passes
        through the origin in raw feature space, so ``standardize=True``
        then scales the features without centering them (as ``"scale"``).
    solver : {"sgd", "lbfgs", "auto"}, default "sgd"
        ``"sgd"``: the mini-batch SGD above (the default here: ``train``'s
        contract is the article's SGD, ``batch_size``/``lr`` included).
        ``"lbfgs"``: minimize the regularized objective to its optimum, on
        the standardized features::

            sum_i sw_i loss_i / sum_i sw_i + penalty (as above, on w, not b)

        by L-BFGS (Liu and Nocedal 1989), OWL-QN (Andrew and Gao 2007) when
        the penalty has an L1 part; every iteration is one threaded
        loss-and-gradient pass over X (dense or CSR; float32 read as
        float32), the result the same for any ``n_threads``. scikit-learn's
        ``LogisticRegression(C=C)`` on the same features is
        ``penalty="l2", alpha=1 / (C * sum_i sw_i)``. ``"auto"``: one SGD
        epoch from zero (in batches of at least 256 rows: they share the
        epoch between threads and end closer to the optimum), then the same
        solver from there. With ``"lbfgs"``
        or ``"auto"``: ``epochs`` bounds the passes (solver iterations, plus
        the SGD epoch), ``tol`` is the relative decrease of the objective
        that stops the solver (> 0; None: until nothing decreases in
        floating point), a bound on the last and the predicted decrease,
        not on the distance to the optimum, which can be far larger where
        the objective is nearly flat along a direction (see
        :class:`fastlr.LogisticRegression`'s ``tol``), ``batch_size``,
        ``lr``, ``shuffle`` and the
        schedule options act on the SGD epoch only, and an SGD epoch that
        diverges is dropped (the solver starts from zero; the epoch is
        still one of the ``epochs``, its loss the zero model's, log 2).
        Running out of
        ``epochs`` first returns the last (best) iterate.
    rows : array_like or None
        Train on these rows of X only (integer indices, each at most once,
        or a boolean mask), without copying X. Each epoch still walks X's
        shuffled order and batches of ``batch_size`` positions; a model
        uses the rows of a batch it trains on (so a batch holds about
        ``batch_size * len(rows) / m`` of them) and skips a batch that has
        none; standardization is over the rows trained on. This is how
        :func:`train_many` trains each cross-validation model, so a model of
        ``train_many`` equals the model trained alone with ``rows``.
        The ``"lbfgs"`` / ``"auto"`` solver minimizes the objective over
        these rows (the others weigh 0).

    Returns
    -------
    TrainResult
        Named tuple ``(w, b, losses)``: ``w`` of shape (n,) in X's dtype, ``b``
        a float, ``losses`` of shape (epochs_run,): one per SGD epoch, then
        one per solver iteration (the mean training loss of its iterate,
        penalty excluded).

    Raises
    ------
    ValueError, TypeError
        For bad input, naming the argument; nothing has run.
    fastlr.DivergedError
        When the loss becomes inf/NaN or explodes (lower ``lr``, with
        ``learning_rate="optimal"`` raise ``alpha``, or standardize). A row
        whose logit is not finite (beyond the float64 range, e.g. ``|x| ~
        1e300`` without standardization) counts as an infinite loss: its
        sign would depend on the order of the additions.

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
    data, state, losses, _ = _fit(
        X, y, False, batch_size=batch_size, epochs=epochs, lr=lr,
        standardize=standardize, shuffle=shuffle, random_state=random_state,
        penalty=penalty, alpha=alpha, epoch_loss=epoch_loss, tol=tol,
        n_iter_no_change=n_iter_no_change, sample_weight=sample_weight,
        n_threads=n_threads, callback=callback, learning_rate=learning_rate,
        power_t=power_t, l1_ratio=l1_ratio, average=average,
        fit_intercept=fit_intercept, solver=solver, rows=rows)
    W, B = state.raw(dtype=data.dtype)
    return TrainResult(W[0], float(B[0]), losses)


# --------------------------------------------------------------------------
# multinomial (softmax) training


def train_multinomial(X, y, batch_size=100, epochs=100, lr=0.01, *,
                      standardize="auto", shuffle=True, random_state=None,
                      penalty=None, alpha=1e-4, epoch_loss="running", tol=None,
                      n_iter_no_change=5, sample_weight=None, callback=None,
                      learning_rate="constant", power_t=0.5, l1_ratio=0.15,
                      average=False, n_threads=None, fit_intercept=True,
                      solver="sgd", rows=None):
    """Fit multinomial (softmax) logistic regression by mini-batch SGD, or
    to its optimum.

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
        Float labels that are not whole numbers (a regression target) are
        refused, as :class:`fastlr.LogisticRegression` refuses them.
    batch_size, epochs, lr, standardize, shuffle, random_state, penalty, \
alpha, epoch_loss, tol, n_iter_no_change, sample_weight, callback, \
learning_rate, power_t, l1_ratio, average, n_threads, fit_intercept, rows
        As in :func:`train`: the same defaults, ranges and meaning, for
        every (class, feature) weight (AdaGrad keeps one accumulator per
        weight and per class intercept; the loss is the cross-entropy).
    solver : {"sgd", "lbfgs", "auto"}, default "sgd"
        As in :func:`train`, for the softmax model: ``"lbfgs"`` minimizes
        the mean cross-entropy plus the penalty. The intercepts are returned
        centred (sum 0), and without a penalty so is every feature's column
        of ``W``: neither changes a probability (scikit-learn's convention).

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
    data, state, losses, classes = _fit(
        X, y, True, batch_size=batch_size, epochs=epochs, lr=lr,
        standardize=standardize, shuffle=shuffle, random_state=random_state,
        penalty=penalty, alpha=alpha, epoch_loss=epoch_loss, tol=tol,
        n_iter_no_change=n_iter_no_change, sample_weight=sample_weight,
        n_threads=n_threads, callback=callback, learning_rate=learning_rate,
        power_t=power_t, l1_ratio=l1_ratio, average=average,
        fit_intercept=fit_intercept, solver=solver, rows=rows)
    W, B = state.raw(dtype=data.dtype)
    return MultinomialResult(W, B, losses, classes)


# --------------------------------------------------------------------------
# many models from one pass over the data


def train_many(X, y, alphas, *, l1_ratios=None, folds=None, penalty="l2",
               batch_size=100, epochs=100, lr=0.01, standardize="auto", shuffle=True,
               random_state=None, epoch_loss="running", tol=None,
               n_iter_no_change=5, sample_weight=None, n_threads=None,
               callback=None, learning_rate="constant", power_t=0.5,
               average=False, fit_intercept=True, solver="sgd"):
    """Train a model per penalty strength (and fold) from one pass over the
    data per epoch: a regularization path, or cross-validation.

    While a chunk of rows is in cache every model that trains on it is
    updated, so K models cost one read of X per epoch instead of K. Each
    model is exactly the model :func:`train` (two classes) or
    :func:`train_multinomial` (more) gives with its ``alpha``,
    ``l1_ratio`` and, for a model holding out fold ``f``, ``rows`` = the
    rows of the other folds, and the same other arguments: bit-identical
    (the same arithmetic), except for two-class models on dense X whose
    column means fold out of the loops (the usual case), where the joint
    run sums each logit and gradient two rows by four models at a time, the
    same sums in another order, so that a chunk is read once for all
    models, for two-class models on CSR X with an L2 penalty or none,
    which alone take the lean sparse epoch (four partial sums per logit,
    libm's exp), and for CSR models with an L1 part or averaging in a
    stack where another model's L2 scale underflows within an epoch (what
    every column owes is then paid, in two parts where alone it is paid
    once): equal to rounding there (1e-12 relative, tested). See
    ``rows`` in :func:`train` for how a row subset is batched. With folds, ``tol``
    and ``learning_rate="adaptive"`` watch each model's held-out loss,
    which :func:`train` does not see: with them, a fold's model stops (or
    lowers its rate) where ``train`` would not, and differs from it.

    Parameters
    ----------
    X, y
        As in :func:`train` / :func:`train_multinomial` (the model kind
        follows the number of distinct labels).
    alphas : array_like of shape (A,)
        Penalty strengths, finite and >= 0.
    l1_ratios : array_like of shape (L,) or None
        Elastic-net mixings in [0, 1] (``penalty="elasticnet"`` only); None
        is ``[l1_ratio]`` of :func:`train`'s default, 0.15.
    folds : None, int or array_like of shape (m,)
        None: every model trains on every row. An int F from 2 to 127: F
        folds, the rows of each class dealt to the folds in turn in row
        order (a stratified split; every fold gets each class at least
        once, so F may not exceed the smallest class's row count, and a
        class of a single row needs fold labels). An array: each row's fold
        label (rows with the same label form a fold, which may lack a class;
        random folds: ``np.random.default_rng(0).permutation(len(y)) % F``),
        2 to 127 distinct labels. (At most 127 folds: the
        joint pass keeps each row's fold in an int8.)
        With folds, a model is trained per fold on the other folds' rows and
        scored on its own (``heldout``).
    penalty : {"l2", "l1", "elasticnet", None}, default "l2"
    solver : {"sgd", "auto", "lbfgs"}, default "sgd"
        As in :func:`train`, for every model: ``"sgd"`` the joint SGD epochs
        above; ``"lbfgs"`` each model taken to the optimum of its objective
        on its training rows by its own L-BFGS run, the runs of a fold (and
        l1_ratio) from the strongest alpha to the weakest, each starting at
        the optimum of the one before it (a warm-started path; the first
        from zero), the folds' runs in lockstep, each round one read of X
        for the models still running; ``"auto"`` one joint SGD epoch in
        batches of at least 256 rows first (the path's first model starts
        from its epoch's). A model is the one :func:`train` with ``rows``
        gives alone to the runs' tolerance (at ``tol=1e-16``, to 1e-6 of the
        largest weight). With the solver, ``epochs`` bounds each
        model's epochs and iterations together, ``tol`` is the runs'
        relative decrease (None: until floating point stops it), a model's
        ``heldout`` is NaN but in its last pass, its held-out loss at the
        optimum, and ``n_iter`` counts its passes (what
        :class:`fastlr.LogisticRegressionCV` runs by default).
    tol : float or None
        With ``solver="sgd"``, each model stops once ``n_iter_no_change``
        epochs in a row did not improve its held-out loss (its training loss
        without folds) by ``tol``; a stopped model costs nothing more, and
        the pass ends when every model has stopped or after ``epochs``.
    epoch_loss : {"running", None}
        ``"full"`` is not offered: it would read X again for every model.
    batch_size, epochs, lr, standardize, shuffle, random_state,
    n_iter_no_change, sample_weight, n_threads, learning_rate, power_t,
    average, fit_intercept
        As in :func:`train` (``"adaptive"`` lowers each model's rate on its
        own). Standardization is computed for each fold's training rows.
    callback : callable(epoch, mean training loss) or None
        Called after each pass over the data of the joint run, numbered
        from 1: the SGD epochs and then, with a solver, the passes of each
        stage of the warm-started paths (the models of one strength, up to
        ``epochs`` passes each), so the count can exceed ``epochs``.

    Returns
    -------
    ManyResult

    Examples
    --------
    >>> import numpy as np, fastlr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 3)); y = (X[:, 0] + rng.normal(size=600) > 0)
    >>> res = fastlr.train_many(X, y, alphas=[1e-4, 1e-2, 1.0], folds=3, epochs=5,
    ...                         random_state=0)
    >>> res.W.shape, res.heldout.shape
    ((9, 3), (9, 5))
    """
    solver, finish_tol = check_solver(solver, tol)
    # with the solver, tol is the runs' (finish_tol), not SGD's: it needs no
    # tracked loss, as in train
    params = check_train_params(batch_size, epochs, lr, penalty, alpha=0.0,
                                epoch_loss=epoch_loss,
                                tol=tol if solver == "sgd" else None,
                                n_iter_no_change=n_iter_no_change, shuffle=shuffle,
                                offers_full=False)
    batch_size, epochs, lr, _, tol, n_iter_no_change = params
    if epoch_loss == "full":
        raise ValueError("epoch_loss='full' is not offered by train_many (it "
                         "would read X once more per model); use 'running' or None")
    alphas = check_grid(alphas, "alphas")
    learning_rate, power_t, _, average_start = check_sgd_options(
        learning_rate, power_t, 0.15, average, penalty, alphas)
    check_run(n_threads, callback)
    fit_intercept = check_fit_intercept(fit_intercept)
    if l1_ratios is not None and penalty != "elasticnet":
        raise ValueError(f"l1_ratios only applies to penalty='elasticnet', got "
                         f"penalty={penalty!r}")
    l1_ratios = check_grid(l1_ratios if l1_ratios is not None else [0.15],
                           "l1_ratios", upper=1.0)
    check_random_state(random_state)   # drawn from once the input is checked
    standardize = check_standardize(standardize)
    data = as_data(X, with_stats=bool(standardize) and folds is None, train=True,
                   n_threads=n_threads)
    standardize = standardize_option(standardize, fit_intercept, data.sparse)
    classes, codes = check_class_labels(y, data.m)
    sw = check_sample_weight(sample_weight, data.m)
    row_fold, fold_ids = check_folds(folds, codes, data.m, classes)
    check_weighted_rows(sw, row_fold, fold_ids, "folds")
    if solver == "sgd":
        warn_weight_scale(sw, "sample_weight")
    check_grid_memory(len(alphas), len(l1_ratios), len(fold_ids), classes.shape[0],
                      data.n, solver, grid_written(penalty, alphas, l1_ratios,
                                                   learning_rate, average_start,
                                                   solver))
    rng = make_rng(random_state)   # (as in _fit: once the input is checked)
    return _run_many(data, codes, classes, sw, row_fold, fold_ids, alphas,
                        l1_ratios, penalty=penalty, batch_size=batch_size,
                        epochs=epochs, lr=lr, standardize=standardize,
                        shuffle=shuffle, rng=rng, epoch_loss=epoch_loss, tol=tol,
                        n_iter_no_change=n_iter_no_change, n_threads=n_threads,
                        callback=callback, learning_rate=learning_rate,
                        power_t=power_t, average_start=average_start,
                        fit_intercept=fit_intercept, solver=solver,
                        finish_tol=finish_tol)


def pairs_bytes(solver, runs, size, alone=False):
    """Bytes of the curvature pairs the L-BFGS finisher keeps (none with
    ``solver="sgd"``): ``runs`` runs at once, each of ``size`` coordinates,
    as :func:`fastlr._solver.stack_pairs` limits a stack's; a model alone
    (``alone``: :func:`fastlr._solver.finish` of one model) keeps
    ``_lbfgs.MEMORY`` pairs whatever its size."""
    if solver == "sgd":
        return 0
    pairs, total = stack_pairs(runs, size)
    return total // pairs * MEMORY if alone else total


def check_model_memory(n, n_classes, solver, per_column, per_class, name="X"):
    """Refuse (:func:`fastlr._validation.check_width`) the training of one
    model of ``n`` columns and ``n_classes`` classes that would not fit in
    the memory available: ``per_column`` and ``per_class`` bytes as its SGD
    needs them, and with the finisher (``solver`` "auto" or "lbfgs") its
    curvature pairs (:func:`pairs_bytes`) and
    :data:`fastlr._validation.FINISHER_BYTES_PER_WEIGHT` a weight."""
    size = (n_classes if n_classes > 2 else 1) * (n + 1)
    extra = 0 if solver == "sgd" else (pairs_bytes(solver, 1, size, alone=True)
                                       + FINISHER_BYTES_PER_WEIGHT * size)
    check_width(n, name, per_column, n_classes, per_class, extra=extra)


def grid_written(penalty, alphas, l1_ratios, learning_rate, average_start, solver):
    """The optimizer arrays the SGD of a joint run (:func:`_run_many`)
    writes for some model of the grid (:func:`fastlr._sgd.written_arrays`;
    none for the solver alone): the stack allocates only these."""
    if solver == "lbfgs":
        return frozenset()
    return frozenset().union(*(
        written_arrays(penalty, a, l1r, learning_rate, average_start)
        for l1r in l1_ratios for a in alphas))


def check_grid_memory(n_alphas, n_l1_ratios, n_folds, n_classes, n, solver,
                      written=frozenset()):
    """Refuse (:class:`fastlr._validation.NotEnoughMemory`), before anything
    is allocated, a joint run (:func:`_run_many`) whose models would not fit
    in the memory available: :data:`fastlr._validation.MODEL_BYTES` a model
    and ``MODEL_BYTES_PER_WEIGHT`` a weight, 8 bytes more a weight for each
    optimizer array SGD writes (``written``, :func:`grid_written`) and for
    the solver's gradient, and with
    a solver the curvature pairs of a stage's runs, one a fold and l1_ratio
    (:func:`fastlr._solver.stack_pairs`)."""
    K = n_alphas * n_l1_ratios * n_folds
    rows = n_classes if n_classes > 2 else 1
    pairs = pairs_bytes(solver, n_folds * n_l1_ratios, rows * (n + 1))
    per_weight = MODEL_BYTES_PER_WEIGHT + 8 * (len(written) + (solver != "sgd"))
    check_memory(K * (MODEL_BYTES + per_weight * rows * n) + pairs,
                 f"alphas={n_alphas:,} x {n_l1_ratios} l1_ratios x {n_folds} "
                 f"folds: training {K:,} models of {rows} x {n:,} weights")


def _run_many(data, codes, classes, sw, row_fold, fold_ids, alphas, l1_ratios, *,
                 penalty, batch_size, epochs, lr, standardize, shuffle, rng,
                 epoch_loss, tol, n_iter_no_change, n_threads, callback,
                 learning_rate, power_t, average_start, fit_intercept,
                 solver="sgd", finish_tol=None):
    """The joint run of :func:`train_many` on validated input (shared with
    :class:`fastlr.LogisticRegressionCV`): a model per fold of ``fold_ids``
    (held out of ``row_fold``; a row of fold 0 is trained on by every model),
    l1_ratio and alpha, ``alphas`` varying fastest. Returns the
    :class:`ManyResult`.

    ``solver`` as in :func:`train`, for every model at once: ``"sgd"`` the
    joint SGD epochs; ``"lbfgs"`` the joint finisher
    (:func:`fastlr._train.finish_stack`, relative tolerance ``finish_tol``:
    warm-started paths, each from zero); ``"auto"``
    :data:`fastlr._solver.AUTO_EPOCHS` joint epochs of the paths' first
    models (the others start from the optimum before them) in batches of
    at least :data:`fastlr._solver.AUTO_MIN_BATCH` rows, then the finisher
    (a diverged model from zero). With the finisher, a model's ``heldout``
    in its last pass is its held-out loss at its optimum (the passes before
    it: NaN), and ``n_iter`` counts its epochs and finisher iterations, as
    ``epochs`` bounds them together.

    """
    softmax_model = classes.shape[0] > 2
    grid = [(f, l1r, a) for f in fold_ids for l1r in l1_ratios for a in alphas]
    K = len(grid)
    mean, scale = data.standardization(standardize, row_fold, fold_ids, sw)
    where = {f: i for i, f in enumerate(fold_ids)}
    # the optimizer arrays SGD writes for some model (none for the solver
    # alone): the others are not allocated (ModelStack)
    written = grid_written(penalty, alphas, l1_ratios, learning_rate,
                           average_start, solver)

    def new_stack():
        return ModelStack(mean, scale, classes.shape[0] if softmax_model else 1,
                          softmax_model,
                          [hyperparameters(penalty, a, l1r, lr) for _, l1r, a in grid],
                          fold=[f for f, _, _ in grid], row_fold=row_fold,
                          stat=[where[f] for f, _, _ in grid], written=written)

    stack = new_stack()
    alpha_of = np.array([a for _, _, a in grid])
    l1_ratio_of = np.array([r for _, r, _ in grid])
    if solver == "auto":
        # the epochs start the paths; the models after a path's first start
        # from the optimum before them (finish_stack)
        stack.active[:] = 0
        stack.active[path_stages(alpha_of, l1_ratio_of, stack.fold)[0][0]] = 1
    sgd_epochs = {"sgd": epochs, "auto": min(AUTO_EPOCHS, epochs), "lbfgs": 0}[solver]
    out = dict(losses=np.empty((K, 0)), heldout=np.empty((K, 0)),
               n_iter=np.zeros(K, dtype=np.int64), converged=np.zeros(K, dtype=bool),
               diverged=np.zeros(K, dtype=bool))
    passes_run = 0   # the joint passes the callback was told of
    warm_diverged = np.zeros(K, dtype=bool)   # "auto"'s models whose epoch diverged
    try:
        if sgd_epochs:
            out = sgd_many(
                data, codes, sw, stack,
                batch_size=batch_size if solver == "sgd" else max(batch_size,
                                                                  AUTO_MIN_BATCH),
                epochs=sgd_epochs, shuffle=shuffle, rng=rng, epoch_loss=epoch_loss,
                tol=tol if solver == "sgd" else None,
                n_iter_no_change=n_iter_no_change, n_threads=n_threads,
                callback=callback, learning_rate=learning_rate, power_t=power_t,
                average_start=average_start, fit_intercept=fit_intercept)
            passes_run = out["passes"]
    except DivergedError:
        if solver == "sgd":
            raise
        stack = new_stack()   # the finisher does not depend on lr: from zero
        # every model diverged in "auto"'s epoch (the paths' first ran it), a
        # pass all the same
        passes_run = sgd_epochs
        warm_diverged[path_stages(alpha_of, l1_ratio_of, stack.fold)[0][0]] = True
    stack.compact()
    if solver != "sgd":
        # a diverged model's weights may be finite but far off: from zero too
        stack.reset(np.flatnonzero(out["diverged"]))
        warm_diverged |= out["diverged"]
        # a model's passes are its own SGD epochs (none but a path's first),
        # then its iterations, ``epochs`` in all, as in the twin's runs; an
        # epoch that diverged (the model starts from zero) is one of them,
        # its loss the zero model's, as for one model alone
        sgd_n = out["n_iter"].copy()
        sgd_n[warm_diverged] += 1
        warm_losses = np.full((K, int(sgd_n.max(initial=0))), np.nan)
        warm_losses[:, :out["losses"].shape[1]] = out["losses"]
        warm_losses[warm_diverged, sgd_n[warm_diverged] - 1] = np.log(
            max(classes.shape[0], 2))
        losses, heldout, n_iter, converged, alone = finish_stack(
            data, codes, sw, stack, tol=finish_tol, max_iter=epochs - sgd_n,
            penalty=penalty, alphas=alpha_of, l1_ratios=l1_ratio_of,
            fit_intercept=fit_intercept, n_threads=n_threads, callback=callback,
            first_iteration=passes_run, warm_epochs=sgd_n)
        # a model whose training rows of positive weight hold one class takes
        # its model without a pass (finish_stack): the joint epoch was not its
        # own, as one model alone runs none
        sgd_n[alone] = 0
        # its held-out loss at its optimum in its last pass; NaN before it
        # (the warm-up epoch's held-out loss is not at an optimum)
        # (a model warm-started at its optimum takes no iteration: its
        # held-out loss there is its one pass; with epochs=0 there is none)
        passes = np.maximum(sgd_n + n_iter, min(epochs, 1))
        held = np.full((K, int(passes.max())), np.nan)
        train_losses = np.full_like(held, np.nan)
        for i in range(K):
            train_losses[i, :sgd_n[i]] = warm_losses[i, :sgd_n[i]]
            train_losses[i, sgd_n[i]:sgd_n[i] + n_iter[i]] = losses[:n_iter[i], i]
            if passes[i]:
                held[i, passes[i] - 1] = heldout[i]
        out = dict(losses=train_losses, heldout=held,
                   n_iter=passes.astype(np.int64),
                   converged=converged, diverged=np.zeros(K, dtype=bool))
    # each model's raw form written as it is computed (a list of them and
    # its stacked copy were two more (K, k, n) arrays at the peak)
    shape = (stack.k,) if softmax_model else ()
    W = np.empty((K, *shape, data.n), dtype=data.dtype)
    b = np.empty((K, *shape))
    for i in range(K):
        w, bb = stack.state(i).raw(dtype=data.dtype)
        W[i], b[i] = (w, bb) if softmax_model else (w[0], bb[0])
    # a diverged model (SGD) has no weights: train raises for it alone, and
    # its exploded ones, finite or not, are no model (the twin's NaN marks)
    W[out["diverged"]] = np.nan
    b[out["diverged"]] = np.nan
    return ManyResult(weights_as(W, data.dtype), b, out["losses"],
                      out["heldout"], alpha_of, l1_ratio_of,
                      np.array([f for f, _, _ in grid]), out["n_iter"],
                      out["converged"], out["diverged"], classes)
