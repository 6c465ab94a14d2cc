"""The deterministic finisher: the regularized objective of a model,
minimized by L-BFGS (OWL-QN with an L1 term) over full passes of the data.

Plain NumPy, written against a ``loss_grad(W, B) -> (loss_sum, G, S)``
callable: the kernels' side passes :meth:`fastlr._dispatch.Data.loss_grad`
(one threaded read of X per call), :mod:`fastlr.reference` passes its NumPy
twin :func:`fastlr.reference.loss_grad`, and both run :func:`finish`, so
the solver's control flow is one and only the arithmetic differs (as with
the SGD epochs and :func:`fastlr._driver.run_epochs`).

The objective
-------------
On the standardized features ``(x - mean) / scale``, for the model ``W``
(k, n), ``B`` (k,) (k = 1: the binary sigmoid model; else softmax)::

    F(W, B) = sum_i sw_i loss_i(W, B) / sum_i sw_i
              + l2 / 2 ||W||^2 + l1 ||W||_1

with ``l2 = alpha`` (``penalty="l2"``), ``l1 = alpha`` (``"l1"``), or
``l2 = alpha (1 - l1_ratio)``, ``l1 = alpha l1_ratio`` (``"elasticnet"``),
as in the SGD update; the intercepts are never penalized. scikit-learn's
``LogisticRegression(C=C)`` minimizes ``C sum_i sw_i loss_i + ||w||^2 / 2``:
the same ``F`` multiplied by ``C sum_i sw_i`` when ``alpha = 1 / (C sum_i
sw_i)``, hence the same minimizer on the same features.
"""

import functools
import math
import threading
import warnings
from typing import NamedTuple

import numpy as np

from . import _lbfgs
from ._process import Held
from ._validation import check_real

#: The solvers of :func:`fastlr.train`, :func:`fastlr.train_multinomial`,
#: :class:`fastlr.LogisticRegression` and ``fastlr train --solver``.
SOLVERS = ("auto", "sgd", "lbfgs")

#: SGD epochs that ``solver="auto"`` runs before the finisher takes over.
#: One epoch of mini-batch SGD from zero costs about what one finisher
#: iteration costs (a read of X) and gets much further on large data;
#: more epochs only move around SGD's noise floor, which the finisher
#: then has to undo.
AUTO_EPOCHS = 1

#: Smallest batch of the warm-up epoch of ``solver="auto"`` (a larger
#: ``batch_size`` is used as is). On 1M x 100, lr 0.01, alpha 1/m: batches
#: of 256 share the epoch between threads and end 10x closer to the optimum
#: than batches of 32 (relative suboptimality 2.7e-4 against 2.7e-3), from
#: where one L-BFGS iteration reaches 6e-8 (against 9e-6).
AUTO_MIN_BATCH = 256


#: Bytes the curvature pairs of a stack's L-BFGS runs may take together
#: (:func:`finish`): each run keeps ``_lbfgs.MEMORY`` pairs of two vectors
#: of its model's size, and 40 models of a million weights would keep 6.4
#: GB; past this budget each run keeps fewer pairs (at least 3).
STACK_PAIRS_BYTES = 1 << 30


def stack_pairs(runs, size):
    """``(pairs, bytes)``: the curvature pairs each of ``runs`` L-BFGS runs
    of a stack keeps (:data:`STACK_PAIRS_BYTES`), each point of ``size``
    coordinates, and the bytes they take together."""
    each = 16 * runs * size   # bytes of one pair of every run
    pairs = max(3, min(_lbfgs.MEMORY, STACK_PAIRS_BYTES // max(each, 1)))
    return pairs, pairs * each

#: Entries (rows x features) of the row sample that estimates the
#: curvature of the objective along the finisher's first direction
#: (:class:`CurvatureSample`): 4,096 rows of 100 features, fewer rows of
#: more; a few milliseconds per estimate.
CURVATURE_ENTRIES = 1 << 19

#: Most and fewest rows of that sample.
CURVATURE_ROWS = (4096, 64)


def curvature_rows(m, n):
    """The rows of :class:`CurvatureSample` in data of m rows and n
    features: evenly spaced, fixed by the shape alone."""
    most, fewest = CURVATURE_ROWS
    size = max(fewest, min(most, CURVATURE_ENTRIES // max(n, 1)))
    return np.arange(0, m, max(1, m // size))[:size]


class CurvatureSample:
    """Evenly spaced rows of the training data, from which the finisher
    estimates the curvature of the mean loss along its first search
    direction, so that L-BFGS's first trial step is already the
    minimizer of the quadratic model along it (the second derivative of a
    sum estimated from a subsample of its terms: Byrd, Chin, Neveitt and
    Nocedal 2011, "On the use of stochastic Hessian information in
    optimization methods for machine learning", reduced to one direction).
    Without it the first iteration tries a unit step, then the quadratic
    minimizer (about 4 to 6 times further on standardized features): one
    pass of X more.

    Only the step length depends on the sample (the iterates' values do
    not, beyond which trial is accepted); the rows are fixed by ``m``, so
    the kernels and :mod:`fastlr.reference` take the same steps.

    Parameters
    ----------
    X : (s, n) ndarray or scipy.sparse CSR
        The sample's rows (:func:`curvature_rows` of the data), as stored.
    y : (s,) int64 class codes; w : (s,) float64 training weights.
    """

    def __init__(self, X, y, w, rows=None):
        self.X = X
        self.y = y
        self.w = np.asarray(w, dtype=np.float64)
        self.rows = rows    # their positions in the data (:meth:`of`)

    @classmethod
    def of(cls, X, y, sw):
        """The sample of ``X`` (m, n), codes ``y`` and weights ``sw`` ((m,)
        or (0,): all ones)."""
        rows = curvature_rows(*X.shape)
        w = np.asarray(sw, dtype=np.float64)[rows] if len(sw) else np.ones(rows.shape[0])
        return cls(X[rows], np.asarray(y)[rows], w, rows)

    def held_out(self, train):
        """The same rows (shared, not copied), those ``train`` (m,) bool
        holds out (False) weighing 0: the sample of a model of some folds."""
        return CurvatureSample(self.X, self.y, np.where(train[self.rows], self.w, 0.0),
                               self.rows)

    def along(self, center, scale, W, B, dW, dB, softmax):
        """The weighted mean over the sample of the second derivative of a
        row's loss along ``(dW, dB)`` at ``(W, B)`` (standardized space,
        features ``(x - center) / scale``), or None if the sample weighs 0."""
        total = float(self.w.sum())
        if not total > 0.0:
            return None

        def logits(V, c):
            U = V / scale                       # (k, n), raw space
            return np.asarray(self.X @ U.T) + (c - U @ center)

        z = logits(W, B)
        a = logits(dW, dB)
        if softmax:
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            pa = (p * a).sum(axis=1)
            second = (p * a * a).sum(axis=1) - pa * pa
        else:
            p = 0.5 * (1.0 + np.tanh(0.5 * z[:, 0]))   # the sigmoid, overflow-free
            second = p * (1.0 - p) * a[:, 0] ** 2
        return float(self.w @ second) / total


class FinishResult(NamedTuple):
    """What :func:`finish` returns.

    Attributes
    ----------
    W : (k, n) float64, B : (k,) float64
        The last iterate (the best seen), standardized space.
    losses : (n_iter,) float64
        The mean (weighted) training loss after each iteration, penalty
        excluded (the quantity of ``epoch_loss="full"``).
    objective : float
        ``F`` at ``(W, B)``, penalty included.
    n_iter : int
    converged : bool
        False when ``max_iter`` iterations ran out before the stopping rule.

    For a stack of K models, ``W`` (K, k, n), ``B`` (K, k), ``losses``
    (most iterations, K) (NaN past a model's last), and ``objective``,
    ``n_iter``, ``converged`` (K,) arrays.
    """

    W: np.ndarray
    B: np.ndarray
    losses: np.ndarray
    objective: float
    n_iter: int
    converged: bool


#: Why the finisher stops short of ``tol`` before its budget runs out
#: (:func:`warn_unconverged`; ``LogisticRegressionCV`` says it of its
#: models alike).
STOPPED_EARLY = ("no step lowered the objective measurably although its "
                 "gradient says one should (the problem is too badly "
                 "conditioned for float64 arithmetic: features too large or on "
                 "scales far apart, or a penalty that dwarfs the loss)")


def warn_unconverged(solver, losses, converged, passes, tol, budget):
    """Warn (``ConvergenceWarning``) when the finisher of ``solver``
    ("lbfgs" or "auto") ended short of convergence within ``passes`` passes
    (``budget`` names the parameter that set them: "max_iter", "epochs"):
    when it stopped early, no step lowering the objective measurably; when
    it used every pass with a ``tol`` given, the objective still moving.
    The estimator, :func:`fastlr.train` and the twin say it alike."""
    if solver == "sgd" or converged or passes <= 0:
        return
    from sklearn.exceptions import ConvergenceWarning

    from ._validation import user_stacklevel

    if len(losses) < passes:
        # no measurable decrease where the gradient promised one (with
        # tol=None too: it asks for every pass floating point allows)
        warnings.warn(
            f"solver={solver!r} stopped after {len(losses)} of "
            f"{budget}={passes} passes: {STOPPED_EARLY}; the last iterate is "
            "kept", ConvergenceWarning, stacklevel=user_stacklevel())
    elif tol is not None:
        warnings.warn(
            f"solver={solver!r} used all {budget}={passes} passes "
            f"before the objective's relative decrease fell below "
            f"tol={tol}; the last iterate, the best one seen, is "
            f"kept: increase {budget} (or tol), or alpha if the classes "
            "are separable", ConvergenceWarning, stacklevel=user_stacklevel())


def check_solver(solver, tol, early_stopping=False):
    """Validate ``solver`` (one of :data:`SOLVERS`) against the options it
    is used with; returns ``(solver, finisher_tol)``, the second the
    finisher's relative tolerance (0 for ``tol=None``: iterate until the
    objective stops decreasing).

    ``tol`` must be > 0 (or None) for the finisher: its rule is a relative
    decrease, and 0 would only stop once floating point cannot tell two
    iterates apart (``tol=None`` asks for exactly that).
    """
    if not isinstance(solver, str) or solver not in SOLVERS:
        hint = ""
        if solver in ("newton-cg", "newton-cholesky", "liblinear", "sag", "saga"):
            hint = (" (scikit-learn's solvers reach the optimum 'lbfgs' and "
                    "'auto' reach, L1 and elastic net included)")
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}{hint}")
    if solver == "sgd":
        return solver, None
    if tol is None:
        return solver, 0.0
    tol = check_real(tol, "tol")
    if not tol > 0.0:
        raise ValueError(f"tol must be > 0 with solver={solver!r} (the relative "
                         f"decrease of the objective that stops the solver), "
                         f"got {tol!r}")
    if early_stopping:
        if solver == "lbfgs":
            raise ValueError("early_stopping=True stops SGD epochs on a held-out "
                             "loss; solver='lbfgs' has no epochs to stop: use "
                             "solver='sgd' (or 'auto'), or early_stopping=False")
    return solver, tol


def raw_centred(W, B, mean, scale):
    """``B`` (standardized space, (..., k)) moved by a constant over the
    classes so that the raw-space intercepts ``B - (W / scale) @ mean`` sum
    to 0: the softmax solver returns its intercepts centred (no
    probability changes), but in its own coordinates, and the move back
    from them shifts each class by ``W[c] . shift``, which sums to 0 over
    the classes only when W's columns do (not with an L1 part). ``W``
    (..., k, n); ``mean``, ``scale`` (..., n)."""
    raw = B - np.einsum("...cn,...n->...c", W / scale[..., None, :], mean)
    return B - raw.mean(axis=-1, keepdims=True)


def solver_center(mean, fit_intercept, column_means):
    """The column means the finisher centres the features by.

    With an intercept, the model ``z = (x - mean) / scale . W + B`` is also
    ``(x - c) / scale . W + B_c`` with ``B_c = B + (c - mean) / scale . W``
    for any ``c``, and the penalty (on ``W`` alone) is unchanged, so the
    minimizer is the same in ``(W, B_c)``. Centred features (``c`` the
    weighted column means) decouple the intercepts from the weights, which
    is what L-BFGS needs on features that are scaled but not centred
    (sparse X, ``standardize="scale"`` or ``False``): on all-positive
    features it took several times the iterations and stalled short of the
    optimum. The kernels fold ``c`` into the bias on sparse X (nothing is
    densified). ``column_means()`` is called only when needed (it costs a
    pass over X).
    """
    if not fit_intercept or mean.any():
        return mean
    return column_means()


def mean_direction(center, scale, fit_intercept, l1, column_means):
    """The features' (weighted) column means in the finisher's coordinates,
    ``(column_means() - center) / scale`` ((n,), or (F, n) for the (F, n)
    ``center`` and ``scale`` of a stack's training sets), when
    :func:`finish` needs them: without an intercept, for the models without
    an L1 part (``l1``: their strengths); else None, and ``column_means``
    (a pass over X) is not called.

    With an intercept, centring the features (:func:`solver_center`)
    decouples the intercept from the weights. Without one, nothing moves
    the model's mean logit apart from the weights, and on features whose
    means are many times their spread the objective's curvature along the
    mean direction dwarfs every other: :func:`finish` then works in
    coordinates where that direction acts as an intercept
    (:class:`MeanBasis`)."""
    if fit_intercept or not np.any(np.asarray(l1) == 0.0):
        return None
    return (column_means() - center) / scale


class MeanBasis(NamedTuple):
    """The finisher's weight coordinates for a model without an intercept:
    ``W = T(Y) / r`` (each column ``j`` of ``T(Y)`` divided by ``r_j``,
    the spread of feature ``j``), ``T(Y) = Y + gamma (Y u) u^T``, ``u = c /
    |c|`` the direction of the features' mean in units of their spread,
    ``c = mean / r`` (:func:`mean_direction`), and ``gamma = 1 / |c| - 1``,
    for ``|c| > 1``.

    On features ``x = r (c + d)`` (``d`` centred, of spread 1), a model's
    logits are ``W x = (P Y) d + (Y u)(1 + u . d / |c|)`` with ``P = I - u
    u^T``: the coordinate ``Y u`` multiplies a feature near 1 and acts as
    an intercept, ``P Y`` sees centred features of spread 1. In ``W``, the
    objective's curvature along ``u`` is about ``1 + |c|^2`` times the rest
    (and the rest spread as the ``r_j^2``); in ``Y`` it is about 1. ``T``
    is symmetric, so the gradient in ``Y`` is ``T`` of the gradient in
    ``W`` divided by ``r`` (:meth:`gradient`), and ``T^-1`` is the same
    form with ``|c| - 1``. The objective, its minimizer and the path to it
    (in ``W``) are those of the problem; only L-BFGS's coordinates change.
    Not with an L1 part, which is separable in ``W`` only. Without it, on
    20,000 x 20 features of mean 100 and spread 1 (alpha 1e-4), L-BFGS
    stopped after one iteration at relative suboptimality 0.12; with it, it
    converges as on centred features.

    The mean is measured in units of the spread: on raw features of scales
    1e-3 to 1e3 the raw mean's length (5.4, the sampling noise of the
    widest column) had chosen these coordinates for centred features, and
    with them no preconditioner (:func:`preconditioner`): the default
    ``tol`` stopped 11% above the optimum.
    """
    u: np.ndarray
    gamma: float
    inverse: float
    r: np.ndarray | None = None

    @classmethod
    def of(cls, c, r=None):
        """The basis for the features' mean ``c`` (n,) and spread ``r``
        (n,; None: 1), or None (the identity) when ``|c / r| <= 1``: the
        mean direction then weighs no more than the others, and ``1 / |c|``
        would scale it up instead. A spread that is not positive and finite
        counts as 1, and a spread of all ones as none."""
        if c is None:
            return None
        if r is not None:
            r = np.where((r > 0.0) & np.isfinite(r), r, 1.0)
            if np.all(r == 1.0):
                r = None
            else:
                c = c / r
        norm = float(np.linalg.norm(c))
        if not norm > 1.0 or not math.isfinite(norm):
            return None
        return cls(c / norm, 1.0 / norm - 1.0, norm - 1.0, r)

    def _t(self, Y, factor):
        return Y + factor * np.outer(Y @ self.u, self.u)

    def to_w(self, Y):
        """``W = T(Y) / r`` for ``Y`` (k, n)."""
        W = self._t(Y, self.gamma)
        return W if self.r is None else W / self.r

    def from_w(self, W):
        """``Y = T^-1(W r)``."""
        return self._t(W if self.r is None else W * self.r, self.inverse)

    def gradient(self, G):
        """The gradient in ``Y`` from the gradient ``G`` in ``W``: ``T(G /
        r)`` (``T`` is symmetric)."""
        return self._t(G if self.r is None else G / self.r, self.gamma)


def solver_coordinates(mean, scale, fit_intercept, l1, column_stats):
    """``(center, mean_dir, bound, spread)`` of :func:`finish` for models
    trained on ``(x - mean) / scale`` (``mean``, ``scale`` (n,) or (F, n),
    ``l1`` the models' L1 strengths): :func:`solver_center`,
    :func:`mean_direction`, and for features the standardization does not
    centre (``mean`` all 0: ``standardize=False`` or ``"scale"``)
    :func:`column_curvature` and the features' standard deviations in the
    finisher's coordinates (``colstd / scale``), else None for both
    (centred and scaled: every bound is 1/4, every spread 1).
    The rule reads neither the models' penalties nor ``fit_intercept``, so
    a model of a stack runs the path it runs alone. ``column_stats()``
    gives the (weighted) column means and standard deviations of the
    training rows, shaped as ``mean``; it costs a pass over X (on dense,
    unweighted X the validation pass's) and is called at most once."""
    stats = functools.cache(column_stats)
    center = solver_center(mean, fit_intercept, lambda: stats()[0])
    mean_dir = mean_direction(center, scale, fit_intercept, l1, lambda: stats()[0])
    if np.any(mean):
        return center, mean_dir, None, None
    colmean, colstd = stats()
    return (center, mean_dir, column_curvature(center, scale, colmean, colstd),
            colstd / scale)


#: Spread of the coordinates' curvature bounds (largest / smallest) from
#: which :func:`preconditioner` scales L-BFGS's coordinates: features
#: standardized (every bound 1/4, plus the penalty) or on scales within a
#: factor 10 of each other keep the identity, and their runs are unchanged.
PRECONDITION_SPREAD = 100.0


def column_curvature(center, scale, colmean, colstd):
    """A bound on the mean loss's curvature along each weight of the
    finisher's coordinates (features ``(x - center) / scale``): a row's
    loss curves by at most 1/4 along its logit (``p (1 - p)``; the same for
    each class of the softmax), so along weight ``j`` by at most ``E[z_j^2]
    / 4 = (std_j^2 + (mean_j - center_j)^2) / (4 scale_j^2)``, from the
    (weighted) column means and standard deviations."""
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.25 * (colstd ** 2 + (colmean - center) ** 2) / scale ** 2


def preconditioner(bound, l2, k, fit_intercept):
    """L-BFGS's diagonal preconditioner (:func:`fastlr._lbfgs.minimize`'s
    ``diag``) for a model of k rows of n weights (and k intercepts):
    ``1 / (bound_j + l2)`` for each weight (``bound`` from
    :func:`column_curvature`), 4 for each intercept (its curvature bound
    1/4); or None when the data's bounds (the weights' without the
    penalty, and the intercepts') lie within PRECONDITION_SPREAD of each
    other, or any is not finite. (A strong penalty that sets the weights'
    curvature far above the intercepts' alone keeps the identity:
    :func:`finish`'s ``floor`` is for that.)

    Standardized features have every bound 1/4 and need none. On raw
    features of scales 1e-3 to 1e3 (breast cancer without
    standardization), the default ``tol=1e-4`` stopped the identity's run
    at relative suboptimality 0.1 (probabilities 0.36 off) without a
    warning: its model predicted next to no decrease along the flat
    coordinates."""
    bound = np.asarray(bound, dtype=np.float64)
    data = np.append(bound, 0.25) if fit_intercept else bound
    top = float(data.max(initial=0.0))
    if not (math.isfinite(top) and top > 0.0) or \
            top <= PRECONDITION_SPREAD * float(data[data > 0.0].min()):
        return None
    curv = bound + l2
    # a coordinate without curvature (a constant column, no penalty) has
    # no gradient either: any finite entry serves
    h = np.tile(1.0 / np.where(curv > 0.0, curv, curv.max()), k)
    return np.append(h, np.full(k, 4.0)) if fit_intercept else h


def penalty_strengths(penalty, alpha, l1_ratio):
    """``(l2, l1)`` of the objective (module docstring); ``alpha`` and
    ``l1_ratio`` floats, or arrays of one per model (arrays out)."""
    alpha = np.asarray(alpha, dtype=np.float64)
    zero = np.zeros_like(alpha)
    l2 = {"l2": alpha, "elasticnet": alpha * (1.0 - np.asarray(l1_ratio))}.get(
        penalty, zero)
    l1 = {"l1": alpha, "elasticnet": alpha * np.asarray(l1_ratio)}.get(penalty, zero)
    if alpha.ndim == 0:
        return float(l2), float(l1)
    return l2 * np.ones_like(alpha), l1 * np.ones_like(alpha)


def worse_than_zero(loss_mean, W, penalty, alpha, l1_ratio):
    """Whether a model with mean loss ``loss_mean`` at standardized weights
    ``W`` (k, n) is no better than the model 0 by the objective the
    finisher minimizes (module docstring): every logit 0 has mean loss
    log 2 (log k for k classes) and no penalty. For a stack, ``W`` (K, k,
    n) and ``loss_mean``, ``alpha``, ``l1_ratio`` one per model: a bool
    array. NaN counts as worse. A warm-up epoch that ends there is dropped
    and the finisher starts from zero: from a point that far up, its
    relative-decrease test held at once on a useless model (F 1e294 under
    alpha 1e300: weights of 3e-3 from the epoch's last step)."""
    l2, l1 = penalty_strengths(penalty, alpha, l1_ratio)
    with np.errstate(over="ignore", invalid="ignore"):
        pen = 0.5 * l2 * (W * W).sum(axis=(-2, -1)) + l1 * np.abs(W).sum(axis=(-2, -1))
        return ~(loss_mean + pen <= np.log(max(W.shape[-2], 2)) * (1.0 + ZERO_TIE))


#: Relative slack of :func:`worse_than_zero`: an epoch that ends at the
#: model 0 itself (a strong L1 term, no intercept) has a mean loss of log 2
#: to the rounding of its sum, above or below log 2 by the order of the
#: sum (the reference's rounded 4 ulps above, the kernels' below: one
#: dropped the epoch, the other kept it).
ZERO_TIE = 1e-12


def lone_class(totals):
    """The class whose rows are the only ones of positive weight, from
    each class's summed training weights ``totals`` (sample weights times
    class weights, over the rows trained on; (k,), k >= 2), or None when
    two or more classes weigh anything."""
    present = np.flatnonzero(np.asarray(totals) > 0.0)
    return int(present[0]) if present.shape[0] == 1 else None


def class_totals(y, sw, k):
    """Each of ``k`` classes' summed weight ``sw`` ((m,), or (0,): all
    ones) over the rows of class codes ``y``: :func:`lone_class`'s input."""
    return np.bincount(y, weights=sw if sw.shape[0] else None, minlength=max(k, 2))


def lone_class_intercepts(c, k, softmax, tol):
    """The solvers' model when the rows of positive weight hold the one
    class ``c`` (:func:`lone_class`) and the model has intercepts: the
    objective then has no minimizer (its infimum 0 is approached as the
    intercepts part, every weight 0), and L-BFGS ran all ``max_iter``
    passes, its relative-decrease test never met, the intercept near -570
    (scikit-learn stops where its gradient is below its ``tol``, near -9.5).
    The model taken instead, without a pass: weights 0 and intercepts
    ``(k,)`` (sigmoid: ``(1,)``) whose mean loss is ``tol`` (the finisher's;
    float64's epsilon for ``tol=None``): within ``tol`` of the infimum, the
    class seen given probability ``exp(-tol)``."""
    t = enough_loss(tol)
    # log(1 + (k - 1) exp(-L)) = t
    L = math.log(max(k - 1, 1)) - math.log(math.expm1(t))
    if not softmax:
        return np.array([L if c == 1 else -L])
    B = np.zeros(k)
    B[c] = L
    return B - B.mean()


def enough_loss(tol):
    """The mean training loss within which of its infimum 0 the solvers
    take a model where the objective has no minimizer (one class alone,
    :func:`lone_class_intercepts`; separable classes without a penalty,
    :func:`finish`): the finisher's ``tol``, float64's epsilon for
    ``tol=None`` (0). The relative decrease of a loss tending to 0
    geometrically never falls below ``tol``."""
    return tol if tol > 0.0 else float(np.finfo(np.float64).eps)


def warn_separated(F, tol, models=1):
    """Warn (``ConvergenceWarning``) that runs without a penalty stopped at
    a training loss ``F`` (the lowest, of ``models`` runs) of at most
    :func:`enough_loss`: the classes are separable, or nearly."""
    from sklearn.exceptions import ConvergenceWarning

    from ._validation import user_stacklevel

    which = "the fit" if models == 1 else f"{models} of the models"
    bound = f"tol={tol:g}" if tol > 0.0 else "float64's epsilon (tol=None)"
    warnings.warn(
        f"without a penalty the training loss of {which} fell to {F:.3g}, "
        f"at most {bound}: the classes are separable (or nearly), so the "
        "objective has no minimizer (the loss tends to 0 as the weights "
        "grow without bound) and the solver stopped there; the weights' "
        "scale is set by tol: give a penalty (penalty='l2' and alpha) for a "
        "model that does not depend on it", ConvergenceWarning,
        stacklevel=user_stacklevel())


def intercept_gain(gb, softmax, f=None):
    """A decrease of the mean loss that a step on the intercepts alone is
    sure to reach from a point where their gradient is ``gb`` ((k,), or
    (1,) for the sigmoid), ``f`` (None, or the classes' shares of the
    training weight, (k,) or (2,), summing to 1) given.

    The intercepts are not penalized and the mean loss's curvature along
    them is at most 1/4 (sigmoid) or 1/2 (softmax): a step on them alone
    lowers it by at least ``|gb|^2 / (2 * that)``. Along one class's
    intercept the curvature is also at most its mean predicted probability
    ``P_c = f_c + g_c``, and on the way to that intercept's own minimizer
    (where ``P_c = f_c``) at most ``f_c + max(g_c, 0)``: a step on it alone
    lowers the loss by at least ``g_c^2 / (2 min(1/4, f_c + max(g_c,
    0)))``, some 500 times the first bound for a class of frequency 1e-3
    (sigmoid: ``g = P_1 - f_1 = f_0 - P_0``, both classes' bounds)."""
    bound = float(gb @ gb) * (1.0 if softmax else 2.0)
    if f is None:
        return bound
    if softmax:
        curv = np.minimum(0.25, f + np.maximum(gb, 0.0))
    else:
        curv = np.minimum(0.25, np.minimum(f[1] + np.maximum(gb, 0.0),
                                           f[0] + np.maximum(-gb, 0.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        one = np.where(curv > 0.0, gb * gb / (2.0 * curv), 0.0)
    return max(bound, float(one.max()))


def intercept_floor(kn, softmax, tol, frequencies=None):
    """:func:`finish`'s ``floor`` (:func:`fastlr._lbfgs.minimize`) for a
    model with intercepts, the coordinates of its point past ``kn``:
    :func:`intercept_gain` of their gradient, with the classes' shares of
    ``frequencies`` ((c,), the classes' summed training weights or a
    multiple) when given.

    Even the second bound leaves a rare class's whole gain a sliver of
    ``F`` (its rows are), below ``tol F`` while its mean probability is
    3-62% off its frequency (3 classes, one of 0.1%, the default
    ``tol``; scikit-learn's default within 1.2%). With ``frequencies`` the
    floor is also ``inf`` (not done) while some class's ``|g_c| = |P_c -
    f_c|`` exceeds ``sqrt(tol) f_c`` (binary: the rarer class's ``f``):
    the accuracy ``sqrt(tol / curvature)`` of an intercept of unit
    curvature. A class of no weight is left out (its intercept runs to
    minus infinity: the gain bound stops that run once it is below
    ``tol F``)."""
    f = None
    if frequencies is not None:
        f = np.asarray(frequencies, dtype=np.float64)
        f = f / f.sum()
        share = f if softmax else np.array([f[:2].min()])
        close = np.maximum(math.sqrt(tol) * share, FREQUENCY_NOISE)

    def floor(g):
        gb = g[kn:]
        if f is not None and ((share > 0.0) & (np.abs(gb) > close)).any():
            return math.inf
        return intercept_gain(gb, softmax, f)
    return floor


#: The rounding of an intercept's gradient, a weighted mean of residuals in
#: [-1, 1]: :func:`intercept_floor` asks no class to be closer than this.
FREQUENCY_NOISE = 1e-14


def _blas_control():
    """``(shared, clear)`` of threadpoolctl's OpenBLAS controller (3.8
    on: only the thread that first set OpenBLAS's limit may change it,
    the others are ignored silently; ``shared.controlling_thread`` is that
    thread), or None where it has no such rule."""
    import threadpoolctl

    cls = getattr(threadpoolctl, "OpenBLASController", None)
    shared = getattr(cls, "_SHARED_STATE", None)
    clear = getattr(cls, "clear_controlling_thread", None)
    if shared is None or clear is None:
        return None
    return shared, clear


#: The thread whose fit set the one-thread limit now held (see
#: :data:`_ONE_BLAS_THREAD`).
_SETTER = [None]


def _one_blas_thread():
    """Set BLAS to one thread; the limiter to restore, or None when the
    limit is a live user thread's (a ``with threadpool_limits(...)`` in
    another thread): it stands, and nothing is restored over it."""
    control = _blas_control()
    if control is not None:
        shared, clear = control
        owner = shared.controlling_thread
        if owner is not None and owner is not _SETTER[0] and owner.is_alive():
            return None
        # a fit's thread (this one or an earlier fit's, often a pool's thread
        # that lives on) or none: this fit takes over
        clear(force=True)
        _SETTER[0] = threading.current_thread()
    return _blas_controller().limit(limits=1, user_api="blas")


def _restore_blas(limiter):
    """Restore what :func:`_one_blas_thread` found, from whichever fit's
    thread is the last out, and leave no thread in control (as a ``with
    threadpool_limits`` block ends); not over a user thread that took
    control meanwhile."""
    if limiter is None:
        return
    control = _blas_control()
    if control is None:
        limiter.restore_original_limits()
        return
    shared, clear = control
    owner = shared.controlling_thread
    if owner is not None and owner is not _SETTER[0] and owner.is_alive():
        return
    clear(force=True)
    limiter.restore_original_limits()
    clear(force=True)
    _SETTER[0] = None


#: BLAS on one thread while any fit is inside (see :func:`finish`): the
#: limit is process-wide, so the first fit in sets it and the last out
#: restores it (two fits in two Python threads each restoring what the
#: other had set left BLAS on one thread for the rest of the process).
#: threadpoolctl 3.8 lets only the thread that set OpenBLAS's limit change
#: it: the last fit out is often not the first in (overlapping fits on a
#: pool's threads, which live on), and its restore was ignored, BLAS
#: staying on one thread; a fit therefore takes control from a fit's
#: thread, never from a live user thread (whose limit stands: a fit that
#: took it restored the user's temporary value after the user's own restore
#: was ignored). A user thread that starts a ``with threadpool_limits``
#: during a fit saves the fit's one thread as the value it restores.
_ONE_BLAS_THREAD = Held(_one_blas_thread, _restore_blas)


@functools.cache
def _blas_controller():
    """The BLAS libraries loaded (NumPy's, SciPy's), found once: limiting
    them through a kept controller costs microseconds, a new search
    milliseconds."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def finish(loss_grad, W0, B0, *, denom, penalty, alpha, l1_ratio, fit_intercept,
           softmax, tol, max_iter, callback=None, first_iteration=0,
           curvature=None, mean_dir=None, bound=None, spread=None,
           frequencies=None):
    """Minimize the objective from ``(W0, B0)`` by L-BFGS / OWL-QN
    (:mod:`fastlr._lbfgs`); or, for a stack of K models, the sum of their
    objectives (each model its own data weights, ``denom`` and strength).

    Parameters
    ----------
    loss_grad : callable(W, B) -> (loss_sum, G, S)
        The summed (weighted) loss over the data and its gradient with
        respect to ``W`` (k, n) and ``B`` (k,), standardized space; for a
        stack, ``loss_grad(W, B, ids)`` with ``W`` (K, k, n), ``B`` (K, k),
        giving each model's loss sum (K,), ``G`` and ``S``, of which those
        of the models ``ids`` are used.
    W0 : (k, n) or (K, k, n); B0 : (k,) or (K, k)
        The start (zeros, or SGD's iterate with ``solver="auto"``).
    denom : float, or (K,) for a stack
        Sum of the sample weights (rows, without) of each model's data.
    penalty, alpha, l1_ratio, fit_intercept, softmax
        As in :func:`fastlr.train`; without ``fit_intercept`` the intercepts
        stay 0. For a stack, ``alpha`` and ``l1_ratio`` may be (K,).
    tol : float >= 0
        The relative decrease that stops the run (:func:`fastlr._lbfgs.minimize`).
        A model without a penalty also stops, converged, once its mean
        loss is at most :func:`enough_loss` (separable classes: no
        minimizer), and :func:`warn_separated` says so.
    max_iter : int >= 0, or for a stack (K,) ints: each model's budget
    callback : callable(iteration, loss) or None
        Called after each iteration with the mean training loss (for a
        stack: after each new most iterations of any model, with the mean
        of the models' last), the iteration counted from
        ``first_iteration + 1``.
    curvature : callable(W, B, dW, dB) -> float or None, or None
        The mean loss's second derivative along ``(dW, dB)`` at ``(W, B)``
        (:meth:`CurvatureSample.along`): the first trial step of L-BFGS
        along a new direction is then the quadratic model's minimizer. For
        a stack, a list of K of them, one for each model.
    mean_dir : (n,) or (K, n) float64, or None
        Without an intercept: each model's features' mean in the
        finisher's coordinates (:func:`mean_direction`). A model without an
        L1 part whose mean is longer than 1 in units of the features'
        ``spread`` runs L-BFGS in the coordinates of :class:`MeanBasis`.
    bound : (n,) or (K, n) float64, or None
        Each model's bound on the mean loss's curvature along each feature's
        weight (:func:`column_curvature`): the runs are preconditioned by it
        where the features' scales are far apart (:func:`preconditioner`).
        Not with :class:`MeanBasis`'s coordinates, which scale each weight
        by its feature's spread instead.
    spread : (n,) or (K, n) float64, or None
        Each model's features' standard deviations in the finisher's
        coordinates (:func:`solver_coordinates`; None: 1).
    frequencies : (c,) or (K, c) float64, or None
        Each model's classes' summed training weights (:func:`class_totals`
        over its rows, c >= 2; any positive multiple): with an intercept the
        run goes on while a class's mean predicted probability is off its
        share (:func:`intercept_floor`).

    Returns
    -------
    FinishResult
        ``W``, ``B`` of the shapes of ``W0``, ``B0``; ``losses`` (n_iter,),
        or (n_iter, K) for a stack. For the softmax model the intercepts
        are centred (sum 0), and so is each feature's column of ``W``
        without a penalty, the convention of scikit-learn: neither changes
        a probability, and the objective has no other way to tell those
        models apart.

    Notes
    -----
    A stack's models are K runs of L-BFGS, each with its own curvature
    pairs, line search and stopping rule (the run one model alone would
    make), advanced in lockstep (:func:`fastlr._lbfgs.minimize_many`):
    each round, ``loss_grad(W, B, ids)`` evaluates the trial points of the
    runs ``ids`` still going, all in one read of the data
    (:meth:`fastlr._dispatch.Data.loss_grad_many`), so a model that has
    converged stops costing arithmetic.
    """
    stack = np.ndim(W0) == 3
    W = np.array(W0, dtype=np.float64).reshape(-1, *np.shape(W0)[-2:])
    K, k, n = W.shape
    kn = k * n
    B = np.zeros((K, k))
    if fit_intercept:
        B[:] = np.asarray(B0, dtype=np.float64).reshape(K, k)
    denom = np.broadcast_to(np.asarray(denom, dtype=np.float64), (K,))
    l2, l1 = penalty_strengths(penalty, np.broadcast_to(alpha, (K,)),
                               np.broadcast_to(l1_ratio, (K,)))
    losses = [[] for _ in range(K)]
    last = np.full(K, math.nan)
    shown = [0]
    dirs = (np.broadcast_to(mean_dir, (K, n)) if mean_dir is not None
            else [None] * K)
    spreads = (np.broadcast_to(spread, (K, n)) if spread is not None
               else [None] * K)
    bases = [MeanBasis.of(dirs[i], spreads[i]) if not fit_intercept and l1[i] == 0.0
             else None for i in range(K)]
    bounds = np.broadcast_to(bound, (K, n)) if bound is not None else [None] * K
    diags = [preconditioner(bounds[i], l2[i], k, fit_intercept)
             if bounds[i] is not None and bases[i] is None else None for i in range(K)]

    def to_w(i, y):
        # model i's weights (k, n) from its L-BFGS coordinates, and the
        # gradient back (T is symmetric)
        Y = y.reshape(k, n)
        return Y if bases[i] is None else bases[i].to_w(Y)

    def evaluate(ids, xs):
        # the points asked for, in the stack's (W, B); the others keep theirs.
        # The start is W0 itself: T(T^-1(W0)) differs from it by rounding,
        # and the caller may hold its evaluation at W0 (one pass over X)
        for i, x in zip(ids, xs, strict=True):
            W[i] = start[i] if np.array_equal(x, x0s[i]) else to_w(i, x[:kn])
            if fit_intercept:
                B[i] = x[kn:]
        if stack:
            loss, G, S = loss_grad(W, B, ids)
        else:
            loss, G, S = loss_grad(W[0], B[0])
            loss, G, S = [loss], [G], [S]
        out = []
        for i, x in zip(ids, xs, strict=True):
            last[i] = loss[i] / denom[i]
            g = np.empty_like(x)
            gw = g[:kn].reshape(k, n)
            np.multiply(G[i], 1.0 / denom[i], out=gw)
            if l2[i]:
                gw += l2[i] * W[i]
            if bases[i] is not None:
                gw[:] = bases[i].gradient(gw)
            if fit_intercept:
                g[kn:] = S[i] / denom[i]
            w = W[i].ravel()
            out.append((last[i] + 0.5 * l2[i] * float(w @ w), g))
        return out

    def record(i):
        def call(it, x, F):
            # the accepted trial point was the last one evaluated
            losses[i].append(last[i])
            if callback is not None and it > shown[0]:
                shown[0] = it
                callback(first_iteration + it, float(np.nanmean(last)))
        return call

    def first_step(i):
        # model i's first trial step along a new direction: the minimizer of
        # its objective's quadratic model there (None: the default step)
        if curvatures[i] is None:
            return None

        def step(x, d, slope):
            dW = to_w(i, d[:kn])
            c = curvatures[i](to_w(i, x[:kn]), x[kn:] if fit_intercept else np.zeros(k),
                              dW, d[kn:] if fit_intercept else np.zeros(k))
            if c is None:
                return None
            c += l2[i] * float(np.sum(dW * dW))
            return -slope / c if c > 0.0 else None
        return step

    curvatures = curvature if isinstance(curvature, list) else [curvature] * K

    x0s = [np.concatenate([(W[i] if bases[i] is None else bases[i].from_w(W[i])).ravel(),
                           B[i] if fit_intercept else np.empty(0)])
           for i in range(K)]
    start = W.copy()
    mask = np.zeros(kn + (k if fit_intercept else 0), dtype=bool)
    mask[:kn] = True
    # the run goes on while a step on the intercepts alone would lower F by
    # more than tol F, or a class's mean probability is off its frequency
    # (intercept_floor), whatever the quasi-Newton model (scaled by the
    # weights' curvature, large under a strong penalty) predicts
    freqs = (np.broadcast_to(frequencies, (K, np.shape(frequencies)[-1]))
             if frequencies is not None else [None] * K)
    floor = [intercept_floor(kn, softmax, tol, freqs[i]) for i in range(K)] \
        if fit_intercept else [None] * K
    # without a penalty, separable classes have no optimum: F tends to 0
    # and its relative decrease stays about constant, so the run stops
    # once F is within enough_loss of 0 (it ran every pass, or stopped
    # where F no longer changed measurably, near 1e-19, silently)
    enough = [enough_loss(tol) if l1[i] == 0.0 and l2[i] == 0.0 else None
              for i in range(K)]
    # The recursion's vector operations (dot, axpy: microseconds each) run
    # on one BLAS thread. OpenBLAS threads them above a few thousand
    # entries, and its threads then wait for cores that numba's threads of
    # the last loss-and-gradient pass still hold: on 2 cores, a CSR fit
    # with 10,000 weights took 20 s instead of 0.07 s.
    # features beyond the float64 range overflow the objective: the caller
    # refuses a non-finite result (errstate keeps the overflow quiet here)
    with _ONE_BLAS_THREAD.held(), np.errstate(over="ignore", invalid="ignore"):
        if stack:
            runs = _lbfgs.minimize_many(
                evaluate, x0s, tol=tol, max_iter=max_iter,
                memory=stack_pairs(K, x0s[0].shape[0])[0],
                l1s=[np.where(mask, l1[i], 0.0) for i in range(K)],
                callbacks=[record(i) for i in range(K)], floor=floor, diags=diags,
                first_steps=[first_step(i) for i in range(K)], enough=enough)
        else:
            runs = [_lbfgs.minimize(lambda x: evaluate([0], [x])[0], x0s[0], tol=tol,
                                    max_iter=max_iter, l1=l1[0], mask=mask,
                                    callback=record(0), floor=floor[0],
                                    first_step=first_step(0),
                                    diag=diags[0], enough=enough[0])]
    for i, run in enumerate(runs):
        W[i] = to_w(i, run.x[:kn])
        B[i] = run.x[kn:] if fit_intercept else 0.0
    if softmax:
        if fit_intercept:
            B -= B.mean(axis=1, keepdims=True)
        free = (l1 == 0.0) & (l2 == 0.0)
        W[free] -= W[free].mean(axis=1, keepdims=True)
    n_iter = np.array([run.n_iter for run in runs])
    converged = np.array([run.converged for run in runs])
    F = np.array([run.f for run in runs])
    separated = [i for i in range(K) if enough[i] is not None and F[i] <= enough[i]]
    if separated:
        warn_separated(float(F[separated].min()), tol, len(separated))
    if not stack:
        return FinishResult(W[0], B[0], np.array(losses[0]), float(F[0]),
                            int(n_iter[0]), bool(converged[0]))
    table = np.full((int(n_iter.max(initial=0)), K), np.nan)
    for i in range(K):
        table[:len(losses[i]), i] = losses[i]
    return FinishResult(W, B, table, F, n_iter, converged)
