"""Plain vectorized NumPy twin of fastlr's public functions (no Numba).

Same names, signatures and semantics as :mod:`fastlr.core`, and the same
input validation; :func:`train` visits the same batches in the same order for
the same ``random_state``. Use it to check the kernels line by line::

    >>> import numpy as np, fastlr
    >>> from fastlr import reference
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 4)); y = (X[:, 0] > 0).astype(int)
    >>> a = fastlr.train(X, y, epochs=5, random_state=1)
    >>> b = reference.train(X, y, epochs=5, random_state=1)
    >>> bool(np.allclose(a.w, b.w, rtol=1e-10, atol=1e-12))
    True

It is written for clarity, not speed: it forms the standardized batch and
the vectors of size m that the kernels avoid.
"""

import functools
import math

import numpy as np

from . import _stats
from ._driver import (
    AdaptiveRate,
    DivergedError,
    HeldCalls,
    ManyResult,
    MultinomialResult,
    TrainResult,
    batch_rows,
    check_fit_intercept,
    check_optimal_alpha,
    check_run,
    check_sgd_options,
    check_train_params,
    many_diverged_message,
    run_epochs,
    standardization,
    warn_weight_scale,
    weight_mean,
)
from ._order import EpochOrder, block_rows, check_random_state, make_rng, rows_of
from ._solver import (
    AUTO_EPOCHS,
    AUTO_MIN_BATCH,
    CurvatureSample,
    check_solver,
    class_totals,
    finish,
    lone_class,
    lone_class_intercepts,
    penalty_strengths,
    raw_centred,
    solver_coordinates,
    warn_unconverged,
    worse_than_zero,
)
from ._validation import (
    _as_numeric_array,
    check_class_labels,
    check_folds,
    check_grid,
    check_label_pair,
    check_labels01,
    check_log_loss_args,
    check_proba,
    check_real,
    check_rows,
    check_same_length,
    check_sample_weight,
    check_standardize,
    check_weighted_rows,
    check_weights,
    check_X,
    float_dtype_of,
    is_sparse,
    raw_model,
    row_bytes,
    weights_as,
)

__all__ = ["sigmoid", "log_loss", "gradients", "train", "decision_function",
           "predict_proba",
           "predict", "accuracy", "softplus", "row_losses", "column_stats",
           "train_multinomial", "train_many", "loss_grad"]


def _sigmoid(z):
    """Stable sigmoid of a float64 array (no overflow warnings)."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def softplus(z):
    """``log(1 + exp(z))``, stable (``np.logaddexp(0, z)``)."""
    return np.logaddexp(0.0, z)


def row_losses(z, y):
    """Per-row log-loss from logits: softplus(-z) where y = 1, softplus(z) where 0.

    A logit that is not finite gives ``inf``, as in the kernels
    (:func:`fastlr._kernels.scalar.overflowed`): past the float64 range its
    sign depends on the order of the additions, so training counts it as
    divergence.
    """
    with np.errstate(invalid="ignore"):
        out = np.where(y == 1.0, softplus(-z), softplus(z))
    return np.where(np.isfinite(z), out, np.inf)


def sigmoid(z):
    """Stable logistic function; see :func:`fastlr.sigmoid`."""
    arr = _as_numeric_array(z, "z")
    dtype = float_dtype_of(arr)
    z64 = np.asarray(arr, dtype=np.float64)
    if np.isnan(z64).any():
        raise ValueError("z contains NaN")
    out = _sigmoid(z64.reshape(-1)).reshape(arr.shape).astype(dtype)
    return out[()] if arr.ndim == 0 else out


def log_loss(y, p, eps=1e-15):
    """Mean binary cross-entropy with clipped ``p``; see :func:`fastlr.log_loss`."""
    y01, pv, eps = check_log_loss_args(y, p, eps)
    pc = np.clip(pv.astype(np.float64), eps, 1.0 - eps)
    return float(-np.mean(y01 * np.log(pc) + (1.0 - y01) * np.log1p(-pc)))


def gradients(X, y, p):
    """``(X.T @ (p - y) / m, mean(p - y))``; see :func:`fastlr.gradients`."""
    X = check_X(X, accept_sparse=True)
    y01 = check_labels01(y, "y", m=X.shape[0])
    pv = check_proba(p, "p")
    check_same_length(pv, X, "p", "X")
    r = pv.astype(np.float64) - y01
    dw = X.astype(np.float64).T @ r / X.shape[0]
    return dw.astype(X.dtype), float(r.mean())


def column_stats(X, rows=None, sample_weight=None):
    """Column means and standard deviations (zero spread -> 1; a spread lost
    to rounding -> the largest ``|x|``: :func:`fastlr._stats.finish`),
    overflow-safe.

    The kernels' two passes in NumPy (largest ``|x|``, then sums of the
    shifted, scaled column; see :mod:`fastlr._stats`), finished by the same
    rule. For a scipy.sparse X, over all rows (implicit zeros included)
    without densifying. With ``rows`` (a boolean mask), the statistics of
    those rows, divided by their largest values (as :func:`fastlr.train`
    with ``rows``; rows of weight 0 do not count either). The sums are
    shifted by a row they count (:func:`fastlr._stats.shift_row`; on sparse
    X only in the columns that every counted row stores).
    With ``sample_weight`` (validated, (m,) float64), the weighted
    statistics: each row counts as often as its weight.
    """
    m = X.shape[0]
    sw = None if sample_weight is None or len(sample_weight) == 0 else sample_weight
    keep = np.ones(m, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    first, counted = _stats.shift_row(keep, sw)
    counts = np.flatnonzero(keep if sw is None else keep & (sw > 0))
    if is_sparse(X):
        X64 = X.astype(np.float64).tocsr()[counts]
        amax = np.asarray(abs(X64).max(axis=0).todense()).reshape(-1)
        stored = np.diff(X64.tocsc().indptr)
        shift = _stats.shift(X[[first]].astype(np.float64).toarray().reshape(-1),
                             stored, counted)
    else:
        amax = np.abs(X[counts].astype(np.float64)).max(axis=0, initial=0.0)
        shift = _stats.shift(X[first])
    s, inv = _stats.scaling(amax)
    if rows is not None:
        X = X[np.flatnonzero(keep)]
        sw = None if sw is None else sw[keep]
    s1, s2 = _stats.numpy_sums(X, inv, shift, sw)
    total = float(X.shape[0] if sw is None else sw.sum())
    return _stats.finish(total, s, inv, shift, s1, s2)


#: AdaGrad's denominator guard: the kernels' ``ADAGRAD_EPS``
#: (:mod:`fastlr._kernels.update`), written again here because the twin
#: imports no kernel module; a test checks that the two are equal.
ADAGRAD_EPS = 1e-8


class _Update:
    """The kernels' update rule (:func:`fastlr._kernels.update.step`) in
    NumPy, for weights of any shape: ``(n,)`` with a float intercept
    (binary) or ``(k, n)`` with ``(k,)`` intercepts (multinomial). In the
    kernel's order: gradient with its L2 part, step size (constant, inverse
    scaling, "optimal", or AdaGrad with its own accumulator for the
    intercept(s)), step
    (the L2 shrink factor floored at 0), Tsuruoka et al.'s cumulative L1
    truncation, then averaging. ``"adaptive"`` lowers ``rate.lr`` between
    epochs."""

    def __init__(self, w_shape, b_zero, lr, learning_rate, power_t, penalty,
                 alpha, l1_ratio, average_start, fit_intercept):
        self.learning_rate, self.power_t = learning_rate, power_t
        self.average_start = average_start
        self.fit_intercept = fit_intercept
        self.l2, self.l1 = penalty_strengths(penalty, alpha, l1_ratio)
        self.rate = AdaptiveRate(lr)
        self.t = 0                        # steps taken
        self.gsq = np.zeros(w_shape)      # AdaGrad: sums of squared gradients ...
        self.gsq_b = b_zero               # ... and the intercept's
        self.l1_u = np.zeros(w_shape)     # L1: total penalty each weight could get
        self.l1_q = np.zeros(w_shape)     # L1: penalty each weight did get
        self.k_avg = 0                    # averaged iterates
        self.w_avg = np.zeros(w_shape)
        self.b_avg = b_zero

    def step(self, w, b, grad_data, grad_b):
        """New ``(w, b)`` after one step on the data gradient ``grad_data``
        (the L2 part is added here) and the intercept gradient ``grad_b``."""
        self.t += 1
        grad = grad_data + self.l2 * w
        eta0 = self.rate.lr
        if self.learning_rate == "adagrad":
            self.gsq = self.gsq + grad * grad
            eta = eta0 / (ADAGRAD_EPS + np.sqrt(self.gsq))
            if self.fit_intercept:
                self.gsq_b = self.gsq_b + grad_b * grad_b
                eta_b = eta0 / (ADAGRAD_EPS + np.sqrt(self.gsq_b))
        else:
            if self.learning_rate == "invscaling":
                # in float64, as the kernels: a power beyond the largest
                # float is inf and the step 0 (Python floats raise)
                with np.errstate(over="ignore"):
                    eta = eta0 / np.float64(self.t) ** self.power_t
            elif self.learning_rate == "optimal":
                # scikit-learn's: 1 / (alpha * (t0 + t - 1)), its t0 making
                # the first step typw (log-loss's |dloss| < 1), t0 + (t - 1)
                # summed as the kernels sum it
                alpha = self.l2 + self.l1
                typw = np.sqrt(1.0 / np.sqrt(alpha))
                t0 = 1.0 / (typw * alpha)
                eta = 1.0 / (alpha * (t0 + np.float64(self.t - 1)))
            elif self.learning_rate in ("constant", "adaptive"):
                eta = eta0
            else:   # a schedule named in fastlr._choices with no step here
                raise NotImplementedError(
                    f"the NumPy twin has no step size for learning_rate="
                    f"{self.learning_rate!r}")
            eta_b = eta
        if self.learning_rate != "adagrad" and eta * self.l2 >= 1.0:
            w = -eta * grad_data   # the shrink 1 - eta * l2 floored at 0
        else:
            w = w - eta * grad
        if self.fit_intercept:
            b = b - eta_b * grad_b
        if self.l1 > 0.0:
            # Tsuruoka et al. 2009: pull each weight toward zero by the
            # penalty it could have had minus what it had, clip at zero
            self.l1_u = self.l1_u + eta * self.l1
            before = w
            w = np.where(before > 0, np.maximum(0.0, before - (self.l1_u + self.l1_q)),
                         np.where(before < 0,
                                  np.minimum(0.0, before + (self.l1_u - self.l1_q)),
                                  before))
            self.l1_q = self.l1_q + (w - before)
        if self.average_start > 0 and self.t >= self.average_start:
            self.k_avg += 1
            self.w_avg = self.w_avg + (w - self.w_avg) / self.k_avg
            self.b_avg = self.b_avg + (b - self.b_avg) / self.k_avg
        return w, b

    def model(self, w, b):
        """The model: the averaged weights once averaging has begun."""
        return (self.w_avg, self.b_avg) if self.k_avg > 0 else (w, b)


def _standardization_stats(X, standardize, fit_intercept, train, sw):
    """The ``(mean, scale)`` a model of :func:`_fit` standardizes ``X`` by:
    ``standardize`` checked, ``train`` the mask of the rows it trains on
    (None: all), ``sw`` (m,) their weights."""
    n = X.shape[1]
    standardize = check_standardize(standardize, is_sparse(X))   # "auto" resolved
    if standardize and not fit_intercept:
        standardize = "scale"   # no intercept: through the origin in raw space
    if not standardize:
        return np.zeros(n), np.ones(n)
    mean, scale = column_stats(X, train, sw)
    if is_sparse(X) or standardize == "scale":
        mean = np.zeros(n)
    return mean, scale


def _fit(X, y, softmax, *, batch_size, epochs, lr, standardize, shuffle,
         random_state, penalty, alpha, epoch_loss, tol, n_iter_no_change,
         sample_weight, callback, learning_rate, power_t, l1_ratio, average,
         fit_intercept, solver="sgd", rows=None, stop_on_heldout=False,
         start=None, n_threads=None, offers_full=True, warn_weights=True):
    """The batch loop of :func:`train`, :func:`train_multinomial` and
    :func:`train_many` (``offers_full=False``: it takes no
    ``epoch_loss="full"``), for k rows of weights (k = 1: the binary model),
    and the finisher after it (``solver``, as in :mod:`fastlr._train`);
    with ``start``, a raw-space ``(W, B)``, the finisher starts there and
    no epoch runs (the next model of a warm-started path).
    Returns ``(W, B, losses, heldout, converged, classes, dtype, model)``
    in raw space (``W``, ``B`` float64; ``model`` the ``(W, B)`` returned:
    ``W`` in X's dtype and ``B`` for it, :func:`fastlr._validation.raw_model`);
    ``heldout`` is the running held-out loss of each epoch (the
    rows not in ``rows``, each scored at the weights of its batch), and the
    ``tol`` criterion with ``stop_on_heldout``. SGD warns of the training
    rows' weights as :func:`fastlr.train` does (``warn_weights=False``: the
    caller has)."""
    solver, finish_tol = check_solver(solver, tol)
    params = check_train_params(batch_size, epochs, lr, penalty, alpha,
                                epoch_loss, tol if solver == "sgd" else None,
                                n_iter_no_change, shuffle, offers_full)
    batch_size, epochs, lr, alpha, tol, n_iter_no_change = params
    learning_rate, power_t, l1_ratio, average_start = check_sgd_options(
        learning_rate, power_t, l1_ratio, average, penalty, alpha)
    check_run(n_threads, callback)   # n_threads validated as the kernels', unused
    fit_intercept = check_fit_intercept(fit_intercept)
    check_random_state(random_state)   # drawn from once the input is checked
    standardize = check_standardize(standardize)
    X = check_X(X, accept_sparse=True)
    if softmax:
        classes, codes = check_class_labels(y, X.shape[0])
        k = classes.shape[0]
    else:
        classes = None
        codes = check_labels01(y, "y", m=X.shape[0], require_both=True)
        k = 1
    sw = check_sample_weight(sample_weight, X.shape[0])
    m, n = X.shape
    batch_size = batch_rows(batch_size, m)   # larger than m: one full batch
    row_fold = check_rows(rows, m)
    check_weighted_rows(sw, row_fold, (1,), "rows", heldout=False)
    train = np.ones(m, dtype=bool) if row_fold is None else row_fold == 0
    if np.unique(codes[train]).shape[0] < 2:
        raise ValueError("y contains a single class among the rows given by rows; "
                         "training needs at least two")
    if solver == "sgd" and warn_weights:
        warn_weight_scale(sw if row_fold is None or sw.shape[0] == 0
                          else sw[train], "sample_weight")
    rng = make_rng(random_state)   # (as the kernels' train: the input checked)
    sparse = is_sparse(X)
    weighted = sw.shape[0] > 0
    if not weighted:
        sw = np.ones(m)
    mean, scale = _standardization_stats(X, standardize, fit_intercept,
                                         None if row_fold is None else train, sw)

    def batch(idx):
        if sparse:
            return X[idx].astype(np.float64).multiply(1.0 / scale).tocsr()
        return (X[idx].astype(np.float64) - mean) / scale

    def residuals(z, idx):
        """Weighted residuals (b, k), row losses and loss bounds (b,). A row
        with a logit that is not finite has no residual and an infinite
        loss and bound (see :func:`row_losses`)."""
        swb = sw[idx]
        ok = np.isfinite(z).all(axis=1)
        if softmax:
            yb = codes[idx]
            zs, lse, R = _softmax_parts(np.where(ok[:, None], z, 0.0), yb)
            zy = zs[np.arange(yb.shape[0]), yb]          # z_y - max(z)
            R = R * swb[:, None] * ok[:, None]
            return (R, swb * np.where(ok, lse - zy, np.inf),
                    swb * np.where(ok, -zy, np.inf))
        yb, z0 = codes[idx], z[:, 0]
        r = np.where(ok, _sigmoid(z0) - yb, 0.0) * swb
        bound = swb * np.where(ok, np.maximum(np.where(yb == 0, z0, -z0), 0.0),
                               np.inf)
        return r[:, None], swb * row_losses(z0, yb), bound

    W = np.zeros((k, n))
    b = np.zeros(k)
    upd = _Update((k, n), np.zeros(k), lr, learning_rate, power_t, penalty, alpha,
                  l1_ratio, average_start, fit_intercept)

    denom = sw[train].sum()
    heldout = []

    def run_one(blocks, block):
        nonlocal W, b
        order = rows_of(blocks, block, m)
        total = 0.0
        bound = 0.0
        held = held_w = 0.0
        for start in range(0, m, batch_size):
            idx = order[start:start + batch_size]
            out = idx[~train[idx]]   # held out: scored at the batch's weights
            if out.size:
                _, losses, _ = residuals(np.asarray(batch(out) @ W.T) + b, out)
                held += losses.sum()
                held_w += sw[out].sum()
            idx = idx[train[idx]]
            if idx.size == 0:
                continue   # no row of the batch is trained on: no step
            Xb = batch(idx)
            R, losses, bounds = residuals(np.asarray(Xb @ W.T) + b, idx)
            total += losses.sum()
            bound += bounds.sum()
            W, b = upd.step(W, b, np.asarray(Xb.T @ R).T / len(idx), R.mean(axis=0))
        heldout.append(held / held_w if held_w > 0 else math.nan)
        bound /= denom
        if epoch_loss == "running":
            return total / denom, bound
        if epoch_loss == "full":
            Wr, br = raw()
            _, losses, _ = residuals(np.asarray(X.astype(np.float64) @ Wr.T) + br,
                                     np.arange(m))
            return float(losses[train].sum() / denom), bound
        return math.nan, bound

    def raw(dtype=np.float64):
        Wm, bm = upd.model(W, b)
        return raw_model(Wm, bm, mean, scale, dtype)

    def finite():
        return bool(np.isfinite(W).all() and np.isfinite(b).all())

    if solver == "auto":
        batch_size = max(batch_size, AUTO_MIN_BATCH)
    block = block_rows(row_bytes(X), batch_size)
    sgd_epochs = {"sgd": epochs, "auto": min(AUTO_EPOCHS, epochs)}.get(solver, 0)
    # the rows of positive weight hold one class: no pass, the kernels' model
    # (fastlr._train.run_solver)
    totals = class_totals(codes.astype(np.int64), np.where(train, sw, 0.0), k)
    lone = None if solver == "sgd" or not fit_intercept else lone_class(totals)
    if lone is not None:
        sgd_epochs = 0
    if start is not None:
        sgd_epochs = 0
        Wr, br = (np.asarray(v, dtype=np.float64) for v in start)
        W, b = Wr.reshape(k, n) * scale, br.reshape(k) + Wr.reshape(k, n) @ mean
    losses = np.empty(0)
    # the solver's warm-up is reported once it is kept, as in the kernels'
    # (fastlr._train.run_solver)
    held = HeldCalls(callback)
    diverged = False
    # a diverging run overflows before it is stopped: no warnings, the
    # DivergedError says what happened
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            losses, converged = run_epochs(
                run_one, finite, EpochOrder(m, shuffle, rng, block),
                epochs=sgd_epochs, lr=lr, learning_rate=learning_rate,
                tol=tol if solver == "sgd" else None,
                n_iter_no_change=n_iter_no_change,
                track=epoch_loss is not None,
                callback=callback if solver == "sgd" else held,
                monitor=(lambda: heldout[-1]) if stop_on_heldout else None,
                on_stall=upd.rate.on_stall if learning_rate == "adaptive" else None,
                n_classes=k if softmax else 2,
                weighted=(lambda: weight_mean(np.where(train, sw, 0.0)))
                if weighted else None,
                standardized=lambda: standardization(mean, scale))
        except DivergedError:
            if solver == "sgd":
                raise
            # "auto": the finisher starts from zero instead; the epoch is a
            # pass all the same, its loss the zero model's
            # (fastlr._train.run_solver)
            losses = np.array([math.log(max(k, 2))])
            held.drop()
            held(1, losses[0])
            diverged = True
            W, b = np.zeros((k, n)), np.zeros(k)
            upd = _Update((k, n), np.zeros(k), lr, learning_rate, power_t,
                          penalty, alpha, l1_ratio, average_start, fit_intercept)
    if lone is not None:
        W, b = np.zeros((k, n)), lone_class_intercepts(lone, max(k, 2), softmax,
                                                       finish_tol)
        if upd.k_avg > 0:
            upd.w_avg, upd.b_avg = W, b
        converged = True
    elif solver != "sgd":
        W0, b0 = upd.model(W, b)
        sw_train = np.where(train, sw, 0.0)   # held-out rows weigh 0

        center, mean_dir, bound, spread = solver_coordinates(
            mean, scale, fit_intercept, penalty_strengths(penalty, alpha, l1_ratio)[1],
            lambda: column_stats(X, sample_weight=sw_train))
        shift = (center - mean) / scale

        def evaluate(W_, b_):
            return loss_grad(X, codes, sw_train, center, scale, W_, b_, softmax)

        with np.errstate(over="ignore", invalid="ignore"):
            worse = solver == "auto" and start is None and not diverged and \
                losses.shape[0] and worse_than_zero(
                    evaluate(W0, b0 + W0 @ shift)[0] / float(sw_train.sum()),
                    W0, penalty, alpha, l1_ratio)
        if worse:
            # a warm-up that ends worse than the model 0 is dropped, its pass
            # counted, as the kernels' (fastlr._train.run_solver)
            W0, b0 = np.zeros((k, n)), np.zeros(k)
        held.release()
        done = losses.shape[0]
        res = finish(
            evaluate,
            W0, b0 + W0 @ shift, denom=float(sw_train.sum()), penalty=penalty,
            alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
            softmax=softmax, tol=finish_tol, max_iter=epochs - done,
            callback=callback, first_iteration=done,
            curvature=functools.partial(
                CurvatureSample.of(X, codes, sw_train).along, center, scale,
                softmax=softmax), mean_dir=mean_dir,
            bound=bound, spread=spread, frequencies=totals)
        W, b = res.W, res.B - res.W @ shift
        if softmax and fit_intercept:
            b = raw_centred(W, b, mean, scale)
        if upd.k_avg > 0:
            upd.w_avg, upd.b_avg = W, b
        losses = np.concatenate([losses, res.losses])
        converged = res.converged
    Wr, br = raw()
    return (Wr, br, losses, np.array(heldout), converged, classes, X.dtype,
            raw(X.dtype))


def train(X, y, batch_size=100, epochs=100, lr=0.01, *, standardize="auto",
          shuffle=True, random_state=None, penalty=None, alpha=1e-4,
          epoch_loss="running", tol=None, n_iter_no_change=5, sample_weight=None,
          n_threads=None, callback=None, learning_rate="constant", power_t=0.5,
          l1_ratio=0.15, average=False, fit_intercept=True, solver="sgd",
          rows=None):
    """Mini-batch SGD for logistic regression; see :func:`fastlr.train`.

    The standardized batch ``(X[rows] - mean) / scale`` is formed explicitly
    here, where the kernel folds mean and scale into its loop. ``n_threads``
    is accepted for signature compatibility and ignored. Every update rule
    (penalties, schedules, averaging) is written out in the batch loop in
    the kernel's order.

    Sparse X: the batch is the sparse ``X[rows] / scale`` (no centering, as
    in :func:`fastlr.train`), and every step updates all n weights
    eagerly: the twin of the sparse kernel's lazy updates.

    ``solver="lbfgs"`` or ``"auto"``: the same solver control flow as the
    kernels' (:func:`fastlr._solver.finish`, plain NumPy) iterating on
    :func:`loss_grad`, which forms the standardized X, its logits and
    residuals with NumPy instead of the threaded kernel pass.
    """
    _, _, losses, _, converged, _, dtype, (W, b) = _fit(
        X, y, False, batch_size=batch_size, epochs=epochs, lr=lr,
        standardize=standardize, shuffle=shuffle, random_state=random_state,
        penalty=penalty, alpha=alpha, epoch_loss=epoch_loss, tol=tol,
        n_iter_no_change=n_iter_no_change, sample_weight=sample_weight,
        callback=callback, learning_rate=learning_rate, power_t=power_t,
        l1_ratio=l1_ratio, average=average, fit_intercept=fit_intercept,
        solver=solver, rows=rows, n_threads=n_threads)
    warn_unconverged(solver, losses, converged, epochs, tol, "epochs")
    return TrainResult(weights_as(W[0], dtype), float(b[0]), losses)


def train_multinomial(X, y, batch_size=100, epochs=100, lr=0.01, *,
                      standardize="auto", shuffle=True, random_state=None,
                      penalty=None, alpha=1e-4, epoch_loss="running", tol=None,
                      n_iter_no_change=5, sample_weight=None, callback=None,
                      learning_rate="constant", power_t=0.5, l1_ratio=0.15,
                      average=False, n_threads=None, fit_intercept=True,
                      solver="sgd", rows=None):
    """Mini-batch softmax regression; see :func:`fastlr.train_multinomial`.

    Plain NumPy: the standardized batch, its (b, k) logits, softmax and
    one-hot residuals are formed explicitly; same batches and order as the
    kernel for the same ``random_state``, and the update rules of
    :func:`train` applied to every (class, feature) weight. ``n_threads``
    is accepted and ignored.
    """
    _, _, losses, _, converged, classes, dtype, (W, b) = _fit(
        X, y, True, batch_size=batch_size, epochs=epochs, lr=lr,
        standardize=standardize, shuffle=shuffle, random_state=random_state,
        penalty=penalty, alpha=alpha, epoch_loss=epoch_loss, tol=tol,
        n_iter_no_change=n_iter_no_change, sample_weight=sample_weight,
        callback=callback, learning_rate=learning_rate, power_t=power_t,
        l1_ratio=l1_ratio, average=average, fit_intercept=fit_intercept,
        solver=solver, rows=rows, n_threads=n_threads)
    warn_unconverged(solver, losses, converged, epochs, tol, "epochs")
    return MultinomialResult(weights_as(W, dtype), b, losses, classes)


def loss_grad(X, y, sw, mean, scale, W, B, softmax):
    """Summed loss and its gradient at a standardized-space model; the twin
    of :meth:`fastlr._dispatch.Data.loss_grad` (same arguments, without
    ``n_threads``; X validated, dense or scipy.sparse).

    Forms the standardized X explicitly, ``(X - mean) / scale``; for sparse
    X the scaled matrix ``X / scale``, with the mean (if any) moved into the
    bias and out of the gradient, which keeps it sparse.

    Returns
    -------
    loss : float
        ``sum_i sw_i loss_i`` (log-loss, or cross-entropy with ``softmax``).
    G : (k, n) float64, S : (k,) float64
        Its gradient with respect to ``W`` and ``B``.
    """
    m = X.shape[0]
    wt = sw if sw.shape[0] else np.ones(m)
    W = np.asarray(W, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64).reshape(W.shape[0])
    if is_sparse(X):
        Xs = X.astype(np.float64).tocsr().multiply(1.0 / scale).tocsr()
        shift = mean / scale
        Z = np.asarray(Xs @ W.T) + (B - W @ shift)
    else:
        Xs = (X.astype(np.float64) - mean) / scale
        shift = None
        Z = Xs @ W.T + B
    if softmax:
        zs, lse, R = _softmax_parts(Z, y)
        losses = lse - zs[np.arange(y.shape[0]), y]
        R = R * wt[:, None]
    else:
        z = Z[:, 0]
        losses = row_losses(z, y)
        R = ((_sigmoid(z) - y) * wt)[:, None]
    S = R.sum(axis=0)
    G = np.asarray(Xs.T @ R).T
    if shift is not None:
        G = G - np.outer(S, shift)
    return float(wt @ losses), np.ascontiguousarray(G), S


def _decision(X, w, b):
    """``X @ w + b`` in float64, rounded to X's dtype as the kernels store it.

    Like the kernels, extreme weights or values (|x w| beyond the dtype's
    range) give +-inf (or NaN for inf - inf) without a warning; the kernels
    add each row's products in order, numpy's matmul in its own order, so
    the two may differ only where the logit overflows.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return (X.astype(np.float64) @ w + b).astype(X.dtype)


def decision_function(X, w, b):
    """``X @ w + b``, dtype of X; see :func:`fastlr.decision_function`."""
    X = check_X(X, accept_sparse=True)
    w, b = check_weights(w, b, X.shape[1])
    return _decision(X, w, b)


def predict_proba(X, w, b):
    """``sigmoid(X @ w + b)``, dtype of X; see :func:`fastlr.predict_proba`."""
    X = check_X(X, accept_sparse=True)
    w, b = check_weights(w, b, X.shape[1])
    return _sigmoid(_decision(X, w, b).astype(np.float64)).astype(X.dtype)


def predict(X, w, b, threshold=0.5):
    """1 where the probability exceeds ``threshold``; see :func:`fastlr.predict`."""
    threshold = check_real(threshold, "threshold", open01=True)
    X = check_X(X, accept_sparse=True)
    w, b = check_weights(w, b, X.shape[1])
    z = _decision(X, w, b)
    return (z > math.log(threshold / (1.0 - threshold))).astype(np.int64)


def accuracy(y_true, y_pred):
    """Fraction of equal labels; see :func:`fastlr.accuracy`."""
    yt, yp = check_label_pair(y_true, y_pred)
    return float(np.mean(yt == yp))


def _softmax_parts(z, y):
    """``(z - max, logsumexp(z) - max, softmax(z) - onehot(y))`` per row of
    the logits ``z`` (m, k), for classes ``y`` (m,), stable.

    The other classes' ``exp(z - max)`` are summed apart from the maximum's
    1, so that a row classified with a large margin keeps its loss
    (``log1p`` of that sum) and its residual, as the kernels do, instead of
    rounding both to 0 once the sum is below the float64 epsilon.
    """
    rows = np.arange(z.shape[0])
    top = np.argmax(z, axis=1)
    zs = z - z[rows, top][:, None]
    e = np.exp(zs)
    others = e.copy()
    others[rows, top] = 0.0
    rest = others.sum(axis=1)
    R = e / (1.0 + rest)[:, None]
    R[rows, y] -= 1.0
    own = top == y
    R[rows[own], y[own]] = -rest[own] / (1.0 + rest[own])
    return zs, np.log1p(rest), R


def train_many(X, y, alphas, *, l1_ratios=None, folds=None, penalty="l2",
               batch_size=100, epochs=100, lr=0.01, standardize="auto", shuffle=True,
               random_state=None, epoch_loss="running", tol=None,
               n_iter_no_change=5, sample_weight=None, n_threads=None,
               callback=None, learning_rate="constant", power_t=0.5,
               average=False, fit_intercept=True, solver="sgd"):
    """Many models, one at a time; see :func:`fastlr.train_many`.

    Each model is trained by :func:`train` / :func:`train_multinomial`'s
    loop with its ``alpha``, ``l1_ratio`` and the rows of the other folds
    (``rows``), stopping on its held-out loss when it holds rows out, which
    is what the kernels compute for all models in one pass; with
    ``solver="auto"`` or ``"lbfgs"``, their solver along each fold's
    warm-started path (strongest alpha first, each model from the optimum
    of the one before it; only the first runs ``"auto"``'s epoch; each
    model's ``epochs`` passes are its own epochs and iterations), and the
    held-out loss at the optimum in the last pass.
    ``n_threads`` is accepted and ignored; so is ``callback`` (checked, never
    called): the twin makes no joint passes over the data to report.
    """
    if epoch_loss == "full":
        raise ValueError("epoch_loss='full' is not offered by train_many (it "
                         "would read X once more per model); use 'running' or None")
    check_run(n_threads, callback)
    alphas = check_grid(alphas, "alphas")
    check_optimal_alpha(learning_rate, penalty, alphas)   # before any alpha trains
    if l1_ratios is not None and penalty != "elasticnet":
        raise ValueError(f"l1_ratios only applies to penalty='elasticnet', got "
                         f"penalty={penalty!r}")
    l1_ratios = check_grid(l1_ratios if l1_ratios is not None else [0.15],
                           "l1_ratios", upper=1.0)
    X = check_X(X, accept_sparse=True)
    classes, codes = check_class_labels(y, X.shape[0])
    softmax = classes.shape[0] > 2
    row_fold, fold_ids = check_folds(folds, codes, X.shape[0], classes)
    sw = check_sample_weight(sample_weight, X.shape[0])
    check_weighted_rows(sw, row_fold, fold_ids, "folds")
    if solver == "sgd":   # (once, for every model: as fastlr.train_many)
        warn_weight_scale(sw, "sample_weight")
    models = []
    # the solver's paths: each fold and l1_ratio's alphas strongest first
    path = np.argsort(-alphas, kind="stable") if solver != "sgd" else \
        np.arange(len(alphas))
    for f in fold_ids:
        for l1r in l1_ratios:
            start = None
            done = []   # in path order
            for a in alphas[path]:
                try:
                    out = _fit(X, codes if softmax else (codes == 1), softmax,
                               offers_full=False,
                               batch_size=batch_size, epochs=epochs, lr=lr,
                               standardize=standardize, shuffle=shuffle,
                               random_state=random_state, penalty=penalty,
                               alpha=a, epoch_loss=epoch_loss, tol=tol,
                               n_iter_no_change=n_iter_no_change,
                               sample_weight=sample_weight, callback=None,
                               learning_rate=learning_rate, power_t=power_t,
                               l1_ratio=l1r, average=average,
                               fit_intercept=fit_intercept,
                               rows=None if row_fold is None else row_fold != f,
                               stop_on_heldout=row_fold is not None, solver=solver,
                               start=start, warn_weights=False)
                    if solver != "sgd":
                        start = out[:2]
                        out = _at_optimum(X, codes, sample_weight, row_fold, f,
                                          softmax, out, epochs)
                    done.append((f, l1r, a, out, False))
                except DivergedError:
                    done.append((f, l1r, a, None, True))
            # back in the order of alphas
            models.extend(done[q] for q in np.argsort(path, kind="stable"))
    if all(bad for *_, bad in models):
        # every fold's standardization, as the joint run's message names
        stats = [_standardization_stats(
            X, check_standardize(standardize), check_fit_intercept(fit_intercept),
            None if row_fold is None else row_fold != f,
            sw if sw.shape[0] else np.ones(X.shape[0])) for f in fold_ids]
        raise DivergedError(many_diverged_message(
            len(models), learning_rate,
            standardization(*(np.stack(v) for v in zip(*stats, strict=True)))))
    n_run = max(len(out[2]) for *_, out, bad in models if not bad)
    n, k = X.shape[1], classes.shape[0] if softmax else 1

    def padded(v):
        return np.concatenate([v, np.full(n_run - len(v), np.nan)])

    nan_model = (np.full((k, n), np.nan), np.full(k, np.nan))
    # (the models in X's dtype, each intercept for its weights as rounded)
    W = np.stack([(out[7][0] if not bad else nan_model[0]) for *_, out, bad in models])
    b = np.stack([(out[7][1] if not bad else nan_model[1]) for *_, out, bad in models])
    if not softmax:
        W, b = W[:, 0], b[:, 0]
    return ManyResult(
        weights_as(W, X.dtype), b,
        np.stack([padded(out[2]) if not bad else np.full(n_run, np.nan)
                  for *_, out, bad in models]),
        np.stack([padded(out[3] if row_fold is not None else np.full(len(out[3]),
                                                                      np.nan))
                  if not bad else np.full(n_run, np.nan) for *_, out, bad in models]),
        np.array([a for _, _, a, _, _ in models]),
        np.array([r for _, r, _, _, _ in models]),
        np.array([f for f, *_ in models]),
        np.array([len(out[2]) if not bad else 0 for *_, out, bad in models]),
        np.array([bool(out[4]) if not bad else False for *_, out, bad in models]),
        np.array([bad for *_, bad in models]), classes)


def _at_optimum(X, codes, sample_weight, row_fold, f, softmax, out, epochs):
    """A solver model's :func:`_fit` output with its held-out record as
    :func:`fastlr.train_many` gives it: NaN in every pass but the last,
    which holds the mean loss of the held-out rows at the final model. A
    model that starts at its optimum takes no iteration: its one pass is
    the evaluation of its start (training loss NaN), which holds its
    held-out loss there, as a fold's score needs; with ``epochs=0`` there
    is none."""
    W, B, losses, _, *rest = out
    if not len(losses) and epochs > 0:
        losses = np.full(1, np.nan)
    held = np.full(len(losses), np.nan)
    if row_fold is not None and len(losses):
        test = row_fold == f
        sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(
            sample_weight, dtype=np.float64)
        sw = np.where(test, sw, 0.0)
        k, n = np.shape(W)[0], X.shape[1]
        total = loss_grad(X, codes, sw, np.zeros(n), np.ones(n),
                          np.reshape(W, (k, n)), np.reshape(B, k), softmax)[0]
        held[-1] = total / sw.sum()
    return (W, B, losses, held, *rest)
