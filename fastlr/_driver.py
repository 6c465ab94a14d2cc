"""The epoch loop around one epoch of SGD, shared by kernels and reference.

Both :func:`fastlr.train` and :func:`fastlr.reference.train` hand this loop a
function that runs one epoch in place; the stopping rules (tolerance,
divergence) are therefore the same control flow for both, and only the
arithmetic differs (Numba kernel versus vectorized NumPy).
"""

import math
import warnings
from typing import NamedTuple

import numpy as np

from ._choices import LEARNING_RATES, PENALTIES
from ._order import check_shuffle
from ._validation import check_positive_int, check_real, user_stacklevel

EPOCH_LOSS_MODES = ("running", "full", None)

#: ``learning_rate="adaptive"`` divides the rate by this after
#: ``n_iter_no_change`` epochs without improvement (scikit-learn's rule) ...
ADAPTIVE_DIVISOR = 5.0
#: ... as long as the rate is above this; a stall below it stops training.
ADAPTIVE_MIN_LR = 1e-6

#: An epoch whose mean loss exceeds this is treated as divergence: the model
#: w = 0, b = 0 already scores log(2), and any optimum scores less, so a loss
#: a thousand times larger means the steps overshoot. A model that did not
#: start at zero (``warm_start``, ``partial_fit``) may score worse than that
#: on new rows before any step: its epoch diverged only if the loss is also
#: DIVERGED_FACTOR times its starting loss.
DIVERGED_LOSS = 1e3 * math.log(2.0)
DIVERGED_FACTOR = 1e3


class TrainResult(NamedTuple):
    """What :func:`fastlr.train` returns.

    Attributes
    ----------
    w : ndarray of shape (n_features,)
        Weights in the space of the raw input features, dtype of X.
    b : float
        Intercept in raw feature space.
    losses : ndarray of shape (epochs_run,)
        One training loss per epoch (see ``epoch_loss`` in :func:`fastlr.train`).
    """

    w: np.ndarray
    b: float
    losses: np.ndarray


class MultinomialResult(NamedTuple):
    """What :func:`fastlr.train_multinomial` returns.

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


class ManyResult(NamedTuple):
    """What :func:`train_many` returns: K models, one per fold, l1_ratio and
    alpha (in that order of nesting: ``alphas`` varies fastest).

    Attributes
    ----------
    W : ndarray of shape (K, n) (two classes) or (K, k, n) (k > 2 classes)
        Weights in raw feature space, dtype of X. Also ``w``, the name
        :func:`train`'s result uses. NaN for a diverged model (``diverged``:
        :func:`train` raises :class:`DivergedError` for it alone).
    b : ndarray of shape (K,) or (K, k)
        Intercepts in raw feature space, float64 (NaN for a diverged model).
    losses : ndarray of shape (K, epochs_run)
        Each model's running training loss per epoch (NaN once it stopped,
        without ``epoch_loss``, or for a diverged model).
    heldout : ndarray of shape (K, epochs_run)
        Each model's running held-out loss per epoch: the mean loss of the
        rows of its fold, each scored when the pass reached it, at the
        weights then in force (NaN without folds, once it stopped, or for a
        diverged model).
    alphas, l1_ratios : ndarray of shape (K,)
    folds : ndarray of shape (K,)
        The fold each model holds out (index into the distinct values of
        ``folds``, from 1; 0: none).
    n_iter : ndarray of shape (K,)
        Epochs each model trained (0 for a diverged model).
    converged, diverged : ndarray of shape (K,), bool
        Stopped by ``tol``; stopped because its loss exploded.
    classes : ndarray
        The sorted labels; row ``c`` of a k-class model scores ``classes[c]``.
    """

    W: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    heldout: np.ndarray
    alphas: np.ndarray
    l1_ratios: np.ndarray
    folds: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray
    classes: np.ndarray

    @property
    def w(self):
        """``W``, under the name of :func:`train`'s ``res.w``."""
        return self.W


class AdaptiveRate:
    """The step size of ``learning_rate="adaptive"`` (scikit-learn's rule):
    ``lr`` until the loss stalls, then divided by ADAPTIVE_DIVISOR at each
    stall while above ADAPTIVE_MIN_LR; a stall below it stops training.
    :meth:`on_stall` is :func:`run_epochs`'s ``on_stall``."""

    def __init__(self, lr):
        self.lr = float(lr)

    def on_stall(self):
        if self.lr > ADAPTIVE_MIN_LR:
            self.lr /= ADAPTIVE_DIVISOR
            return True
        return False


class DivergedError(FloatingPointError):
    """Training diverged (loss became inf/NaN or exploded).

    Raised instead of returning NaN weights; lowering ``lr`` or
    standardizing the features (``standardize=True``) is the usual cure.
    """


class WeightScaleWarning(UserWarning):
    """Row weights whose mean lies outside :data:`WEIGHT_MEAN_BAND` given to
    SGD, whose step on a row is ``lr`` times the row's weight (see
    :func:`warn_weight_scale`)."""


#: The band of the mean row weight (over the rows of positive weight) inside
#: which SGD takes the steps of about the ``lr`` it is given: outside it,
#: :func:`warn_weight_scale` warns. A factor 16 either way is the change of
#: ``lr`` one makes on purpose; measured with the defaults (``lr=0.01``,
#: ``tol=1e-4``) on 5,000 x 10 and breast-cancer rows, a mean of 16 ended
#: at the mean-1 fit's loss or below, 1/16 at 11% and 69% above it, 1/256
#: at 75% and 275% above, and weights normalized to sum 1 (a mean of 1/m)
#: at the zero model, reported as converged.
WEIGHT_MEAN_BAND = (1.0 / 16.0, 16.0)


def warn_weight_scale(sw, name, counts=None):
    """Warn (:class:`WeightScaleWarning`) when the row weights ``sw`` (the
    training rows'; empty: none) that SGD is about to train with have a
    mean, over the rows of positive weight (a row of weight 0 is a row
    left out), outside :data:`WEIGHT_MEAN_BAND`. ``name`` says where the
    weights came from (:func:`fastlr._validation.weights_name`). With
    ``counts``, ``sw[i]`` is the weight of ``counts[i]`` rows (a class's
    weight and its row count, for rows not held in memory). Once per
    training call; not from ``partial_fit``, whose chunks' weights are
    relative to each other's."""
    mean = weight_mean(sw, counts)
    if mean is not None:
        warn_weight_mean(mean, name)


def weight_mean(sw, counts=None):
    """The mean of the row weights ``sw`` over the rows of positive weight
    (None: no weights, or none positive); with ``counts``, ``sw[i]`` is
    the weight of ``counts[i]`` rows."""
    if sw.shape[0] == 0:
        return None
    if counts is None:
        total, counted = float(sw.sum()), np.count_nonzero(sw > 0)
    else:
        counts = np.asarray(counts, dtype=np.float64)
        total, counted = float(sw @ counts), float(counts[sw > 0].sum())
    return total / counted if counted > 0 else None


def warn_weight_mean(mean, name):
    """:func:`warn_weight_scale` from the weights' ``mean`` over the rows of
    positive weight (Dask's blockwise sums give it)."""
    lo, hi = WEIGHT_MEAN_BAND
    if lo <= mean <= hi:
        return
    effect = ("much smaller: tol may stop a model that has barely moved"
              if mean < lo else "much larger: the model may be noisy, or diverge")
    warnings.warn(
        f"{name} has mean {mean:.3g} (over the rows of positive weight), "
        f"outside [1/16, 16]: SGD's step on a row is lr times its weight, so "
        f"these rows take steps {mean:.3g} times those of unweighted rows "
        f"({effect}); "
        f"rescaling the weights to mean 1 leaves the objective (their "
        f"weighted mean loss) unchanged, and solver='auto' (the estimator's "
        f"default) or 'lbfgs' does "
        f"not depend on their scale", WeightScaleWarning,
        stacklevel=user_stacklevel())


def check_train_params(batch_size, epochs, lr, penalty, alpha, epoch_loss, tol,
                       n_iter_no_change, shuffle=False, offers_full=True):
    """Validate the training hyperparameters; returns them normalized.
    ``offers_full``: the caller takes ``epoch_loss="full"`` (train_many
    does not), which the message for ``tol`` without a loss then names."""
    check_shuffle(shuffle)
    batch_size = check_positive_int(batch_size, "batch_size", minimum=1)
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    lr = check_real(lr, "lr", positive=True)
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
    alpha = check_real(alpha, "alpha", nonnegative=True)
    if epoch_loss not in EPOCH_LOSS_MODES:
        raise ValueError(
            f"epoch_loss must be one of {EPOCH_LOSS_MODES}, got {epoch_loss!r}"
        )
    if tol is not None:
        tol = check_real(tol, "tol", nonnegative=True)
        if epoch_loss is None:
            full = " or 'full'" if offers_full else ""
            raise ValueError(f"tol needs a tracked loss; set epoch_loss to "
                             f"'running' (the default){full}, or tol=None")
    n_iter_no_change = check_positive_int(n_iter_no_change, "n_iter_no_change")
    return batch_size, epochs, lr, alpha, tol, n_iter_no_change


#: What ``alpha="auto"`` means for a ``partial_fit`` stream, whose total
#: weight no call knows: scikit-learn's ``SGDClassifier`` default.
STREAM_ALPHA = 1e-4


def is_auto_alpha(alpha):
    """Whether ``alpha`` is ``"auto"`` (see :func:`alpha_value`)."""
    return isinstance(alpha, str) and alpha == "auto"


def alpha_value(alpha, weight):
    """The strength ``alpha`` means for a training on rows of total weight
    ``weight`` (their count without weights): ``"auto"`` is ``1 /
    weight``, the strength of scikit-learn's ``LogisticRegression(C=1)``
    (whose objective ``sum_i sw_i loss_i + ||w||^2 / 2`` is fastlr's
    mean-loss objective times ``sum_i sw_i`` at that ``alpha``); a number
    is itself."""
    return 1.0 / float(weight) if is_auto_alpha(alpha) else alpha


def batch_rows(batch_size, m):
    """Rows per SGD step on ``m`` rows: ``batch_size``, or ``m`` when it is
    larger.

    The one definition of a batch larger than the data, for every path
    (dense and CSR, binary and k-class, any thread count, the reference,
    each Dask block): one batch of all ``m`` rows per epoch, i.e. gradient
    descent on the full (shuffled) data, exactly as ``batch_size = m``.
    Any integer is accepted, however large (2**63 and beyond): the kernels
    only ever see the clamped value, so nothing downstream overflows.
    """
    return int(min(int(batch_size), max(int(m), 1)))


#: ``l1_ratio``'s default (scikit-learn's ``SGDClassifier``'s).
L1_RATIO = 0.15


def check_optimal_alpha(learning_rate, penalty, alpha):
    """Refuse ``learning_rate="optimal"`` without a penalty of strength above
    0 (``alpha``: one strength or a grid of them): its step size ``1 /
    (alpha * (t0 + t - 1))`` is undefined there (scikit-learn refuses
    ``alpha=0``; with ``penalty=None`` it still uses ``alpha``, fastlr has
    no strength to use)."""
    if learning_rate != "optimal":
        return
    alpha = np.asarray(alpha, dtype=np.float64)
    if penalty is None or not (alpha > 0.0).all():
        raise ValueError(
            f"learning_rate='optimal' needs a penalty with alpha > 0 (its step "
            f"size is 1 / (alpha * (t0 + t - 1))), got penalty={penalty!r}, "
            f"alpha={alpha.tolist()!r}: pass penalty='l2' (or 'l1', "
            f"'elasticnet') and alpha > 0, or another learning_rate")


def check_sgd_options(learning_rate="constant", power_t=0.5, l1_ratio=L1_RATIO,
                      average=False, penalty="elasticnet", alpha=None):
    """Validate the options beyond :func:`check_train_params`.

    Returns ``(learning_rate, power_t, l1_ratio, average_start)`` where
    ``average_start`` is 0 (no averaging) or the first averaged step
    (``average=True`` means 1, as in scikit-learn). With ``alpha`` (one
    strength or a grid) and the ``penalty`` it applies to,
    :func:`check_optimal_alpha` too.

    An ``l1_ratio`` other than its default with a ``penalty`` other than
    "elasticnet" (the default here: no check) has no effect: a UserWarning says so, as
    scikit-learn's ``LogisticRegression`` said before 1.8 (from 1.8 on, its
    ``l1_ratio=1`` alone asks for L1: code written for it would otherwise
    train an L2 model without a word).
    """
    if not isinstance(learning_rate, str) or learning_rate not in LEARNING_RATES:
        raise ValueError(f"learning_rate must be one of {LEARNING_RATES}, got "
                         f"{learning_rate!r}")
    if alpha is not None:
        check_optimal_alpha(learning_rate, penalty, alpha)
    power_t = check_real(power_t, "power_t", nonnegative=True)
    l1_ratio = check_real(l1_ratio, "l1_ratio")
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio}")
    if penalty != "elasticnet" and l1_ratio != L1_RATIO:
        import warnings

        from ._validation import user_stacklevel

        warnings.warn(
            f"l1_ratio={l1_ratio!r} has no effect with penalty={penalty!r}: it "
            f"mixes the L1 and L2 parts of penalty='elasticnet' only (for "
            f"scikit-learn 1.8's LogisticRegression(l1_ratio=1), use "
            f"penalty='l1'; for 0 < l1_ratio < 1, penalty='elasticnet')",
            UserWarning, stacklevel=user_stacklevel())
    if isinstance(average, (bool, np.bool_)):
        average_start = 1 if average else 0
    else:
        average_start = check_positive_int(average, "average", minimum=0)
        if average_start > np.iinfo(np.int64).max:
            # the kernels count steps in 64-bit integers
            raise ValueError(f"average must be at most 2**63 - 1 (the step to "
                             f"start averaging at), got {average}")
    return learning_rate, power_t, l1_ratio, average_start


def check_run(n_threads, callback):
    """How a training runs, validated with what it computes: ``n_threads``
    None or an int >= 1, ``callback`` None or a callable(epoch, loss) (one
    that was not failed only after the first epoch, with Python's message
    and the caller's random generator already advanced)."""
    if n_threads is not None:
        if check_positive_int(n_threads, "n_threads", minimum=-2**63) < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads} (None: "
                             "every thread fastlr may use)")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a callable(epoch, loss) or None, got "
                        f"{callback!r}")


def check_fit_intercept(fit_intercept):
    """True or False (numpy bools too)."""
    if not isinstance(fit_intercept, bool | np.bool_):
        raise TypeError(f"fit_intercept must be True or False, got "
                        f"{fit_intercept!r}")
    return bool(fit_intercept)


class Stopper:
    """The stopping rule of one model, epoch by epoch: stop once
    ``n_iter_no_change`` epochs in a row failed to improve the criterion (a
    loss: lower is better) by ``tol`` on the best so far; ``tol`` None never
    stops. ``on_stall`` (callable() -> bool) may keep the model going at a
    stall (``"adaptive"`` lowers its rate), restarting the count."""

    def __init__(self, tol, n_iter_no_change, on_stall=None):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.on_stall = on_stall
        self.best = math.inf
        self.stale = 0

    def stop(self, crit):
        """True when the model should stop after an epoch scoring ``crit``."""
        if self.tol is None:
            return False
        self.stale = self.stale + 1 if crit > self.best - self.tol else 0
        self.best = min(self.best, crit)
        if self.stale < self.n_iter_no_change:
            return False
        if self.on_stall is not None and self.on_stall():
            self.stale = 0
            return False
        return True


def keep_best(best, state, loss):
    """Early stopping's record of a held-out ``loss`` of ``state``: its
    score appended to ``best["scores"]``, and a copy of the state kept when
    the loss is the lowest so far (its placeholder optimizer arrays shared,
    not made k x n arrays of zeros: the kept state is never trained, and a
    later training's :meth:`~fastlr._state.ModelState.copy` gives them their
    shape). Returns ``loss`` (a monitor's value)."""
    best["scores"].append(-loss)
    if loss < best["loss"]:
        best["loss"] = loss
        best["state"] = state.copy(share=state.absent())
    return loss


def diverged(seen, finite, start_loss=None):
    """Whether an epoch whose loss (or loss bound) is ``seen`` diverged:
    the weights or the loss are not finite, or the loss exceeds
    DIVERGED_LOSS and, for a model that did not start at zero,
    DIVERGED_FACTOR times its starting loss (``start_loss()``: asked only
    then)."""
    if not finite or not seen <= DIVERGED_LOSS:
        return not finite or start_loss is None or not seen <= (
            DIVERGED_FACTOR * start_loss())
    return False


def standardization(mean, scale):
    """How a model's standardization (its ``mean`` and ``scale`` arrays)
    treats the features, for the advice of a divergence message:
    ``"centred"`` (means subtracted), ``"scaled"`` (divided by scales other
    than 1 only: sparse X, or ``standardize="scale"``) or None (neither;
    an infinite scale marks a column left out, not a scale)."""
    if np.asarray(mean).any():
        return "centred"
    scale = np.asarray(scale)
    if ((scale != 1.0) & np.isfinite(scale)).any():
        return "scaled"
    return None


def standardize_advice(how):
    """What a divergence message advises of standardization, given
    :func:`standardization`'s ``how``: nothing when the features are
    centred and scaled already."""
    offset = "subtract a large offset from such a column yourself"
    if how == "centred":
        return None
    if how == "scaled":
        return (f"centre the features (they are scaled, not centred: "
                f"{offset})")
    return (f"standardize the features (standardize=True; on sparse X it "
            f"scales them but cannot centre them: {offset})")


def step_advice(learning_rate, lr=None, alpha="alpha"):
    """What a divergence message advises of the step size under the
    schedule ``learning_rate``: a lower ``lr`` (its value given, when
    ``lr`` is), except for ``"optimal"``, whose steps ``1 / (alpha * (t0 +
    t - 1))`` ignore ``lr``: a larger ``alpha`` (the word for the
    strengths: ``"alpha"``, or a grid's ``"the alphas"``) or another
    schedule."""
    if learning_rate == "optimal":
        return (f"raise {alpha} or choose another learning_rate ('optimal' "
                f"ignores lr: its steps, 1 / (alpha * (t0 + t - 1)), are "
                f"smaller for a larger alpha)")
    return "lower the learning rate lr" + ("" if lr is None else f" (now {lr:g})")


def many_diverged_message(K, learning_rate, standardized):
    """The message of a joint run (``train_many``) all of whose ``K``
    models diverged; ``standardized``: :func:`standardization` of the
    models."""
    advice = standardize_advice(standardized)
    return (f"training diverged for every one of the {K} models ("
            f"{step_advice(learning_rate, alpha='the alphas')}"
            f"{'' if advice is None else ', or ' + advice})")


def diverged_message(epoch, seen, track, n_classes, lr, start=None, finite=True,
                     weighted=False, standardized=None, learning_rate="constant",
                     mean=None):
    """``weighted``: the rows carry weights, whose ``mean`` over the rows of
    positive weight the message gives (when not None);
    ``standardized``: :func:`standardization` of the model;
    ``learning_rate``: its schedule (:func:`step_advice`)."""
    began = (f"near log({n_classes}) = {math.log(n_classes):.3f}" if start is None
             else f"at {start:.6g}")
    # weights that overflowed can leave a finite loss behind (an overflowing
    # logit gives no residual): the message says which of the two it was
    what = ("the loss became" if finite else
            "the weights overflowed to infinity or NaN (the loss was")
    remedies = [step_advice(learning_rate, lr),
                standardize_advice(standardized),
                "fit with solver='lbfgs' (not partial_fit)"]
    remedies = [r for r in remedies if r is not None]
    return (f"training diverged at epoch {epoch}: {what} {seen:.6g}"
            f"{'' if track else ' or more'}{'' if finite else ')'} (it started "
            f"{began}); {', '.join(remedies[:-1])}, or {remedies[-1]}"
            + ("; the features were already standardized (centred and "
               "scaled)" if standardized == "centred" else "")
            + ("; the row weights (sample_weight times class_weight"
               + ("" if mean is None else f"; their mean over the rows of "
                  f"positive weight is {mean:.3g}") + ") scale "
               f"each step{'' if learning_rate == 'optimal' else ' as lr does'}"
               ": divide them by their mean, which leaves "
               "the model the loss defines unchanged (the loss is their "
               "weighted mean)" if weighted else ""))


def _once(f):
    """``f`` called at most once (None stays None)."""
    if f is None:
        return None
    seen = []

    def call():
        if not seen:
            seen.append(float(f()))
        return seen[0]
    return call


class HeldCalls:
    """A ``callback(epoch, loss)`` (or None) whose calls wait until the
    epochs they report are known to count: ``solver="auto"``'s warm-up
    epoch is dropped when it ends worse than the zero model, which is
    known only after the epoch, and then it is not in ``losses``, which the
    callback's calls match (one per entry, numbered as they count). Pass
    the instance as the epochs' callback; :meth:`release` makes the held
    calls, :meth:`drop` forgets them."""

    def __init__(self, callback):
        self.callback = callback
        self.calls = []

    def __call__(self, epoch, loss):
        self.calls.append((epoch, loss))

    def release(self):
        calls, self.calls = self.calls, []
        if self.callback is not None:
            for epoch, loss in calls:
                self.callback(epoch, loss)

    def drop(self):
        self.calls = []


def run_epochs(run_one, weights_finite, orders, *, epochs, lr, learning_rate, tol,
               n_iter_no_change, track, callback=None, first_epoch=0,
               monitor=None, on_stall=None, n_classes=2, start_loss=None,
               weighted=None, standardized=None):
    """Run up to ``epochs`` epochs; stop early on ``tol``; raise on divergence.

    Parameters
    ----------
    run_one : callable(blocks, block) -> (float, float)
        Runs one epoch in place and returns its loss (NaN if not tracked)
        and the mean of the loss lower bound ``max(t, 0)`` (within log 2 of
        the loss; it detects divergence when the loss is not tracked).
    weights_finite : callable() -> bool
    orders : fastlr._order.EpochOrder
    epochs, lr, learning_rate, tol, n_iter_no_change
        As in :func:`fastlr.train`; ``lr`` and ``learning_rate`` only feed
        the error message.
    track : bool
        Whether losses are tracked (checked for divergence).
    callback : callable(epoch, loss) or None
        Called after each epoch (progress reporting).
    first_epoch : int
        Epochs already run on this model (for messages, warm starts).
    monitor : callable() -> float or None
        Called after each epoch; when given, its value (lower is better, e.g.
        a held-out loss) replaces the training loss as the ``tol`` criterion.
    n_classes : int
        Classes of the model (the loss of the all-zero start is
        ``log(n_classes)``); only feeds the error message.
    on_stall : callable() -> bool or None
        See :class:`Stopper`.
    start_loss : callable() -> float or None
        For a model that did not start at zero: the mean loss of the model
        it started from (a pass over the data), asked for only when an
        epoch's loss exceeds DIVERGED_LOSS (see :func:`diverged`) or the
        run diverged (for the message).

    weighted : callable() -> float or None, or None
        When rows carry weights (sample or class weights), their mean over
        the rows of positive weight (:func:`weight_mean`); None when they do
        not. Only feeds the error message, which then says that they scale
        each step and gives their mean (asked for only then).
    standardized : callable() -> str or None, or None
        The model's :func:`standardization`, asked for only by the error
        message (which advises standardizing only features that are not).

    Returns
    -------
    losses : (epochs_run,) float64
    converged : bool
        True when ``tol`` stopped the run before ``epochs``.
    """
    # grown epoch by epoch: ``epochs`` may be far more than ``tol`` lets run
    losses = []
    stopper = Stopper(tol, n_iter_no_change, on_stall)
    start_loss = _once(start_loss)
    for e in range(epochs):
        loss, bound = run_one(*orders.next())
        losses.append(loss)
        seen = loss if track else bound
        finite = weights_finite()
        if diverged(seen, finite, start_loss):
            # a continued model's message names its starting loss, also when
            # overflowing weights stopped it before that loss was needed
            raise DivergedError(diverged_message(
                first_epoch + e + 1, seen, track, n_classes, lr,
                start_loss() if start_loss is not None else None, finite,
                weighted is not None,
                None if standardized is None else standardized(), learning_rate,
                None if weighted is None else weighted()))
        if callback is not None:
            callback(first_epoch + e + 1, loss)
        if stopper.stop(loss if monitor is None else monitor()):
            return np.array(losses, dtype=np.float64), True
    return np.array(losses, dtype=np.float64), False
