"""The update rule: one SGD step for every model, penalty, schedule and
averaging setting, and the lazy forms of its parts that the CSR epoch uses.

Model state
-----------
Every model is ``k`` rows of weights on its standardized features: the
binary (sigmoid) model is ``k = 1``, the softmax model one row per class.
The kernels train a stack of ``K`` models at once (``K = 1`` for an
ordinary fit; a regularization path or cross-validation trains one per
candidate and fold from one read of the data). Their state, updated in
place, is

* ``W`` (K, k, n), ``B`` (K, k): weights and intercepts;
* ``steps`` (K, 2) int64: SGD steps (batches) taken, iterates averaged;
* ``gsq`` (K, k, n + 1): AdaGrad's sums of squared gradients (last column:
  the intercepts');
* ``avg`` (K, k, n + 1): averaged weights and intercepts (ASGD);
* ``l1_u``, ``l1_q`` (K, k, n): cumulative L1 penalty each weight could
  have received and did receive (Tsuruoka, Tsujii and Ananiadou 2009).

Beside it, each model has its standardization: ``mean``, ``scale`` (F, n)
hold the stack's F standardizations (one per training set) and ``stat``
(K,) int64 the row of each model's; its hyperparameters ``hyper`` (K, 3:
L2 strength, L1 strength, base learning rate), and the rows it trains on:
``row_fold`` (m,) int8 gives each row a fold, ``fold`` (K,) each model the
fold it holds out (a model trains on the rows of every other fold and
scores its own fold's rows; an empty ``row_fold`` means every model trains
on every row); ``active`` (K,) uint8 says which models still train (early
stopping per model).

Options
-------
The options shared by a training run travel as one :class:`Options` record
(a named tuple of scalars: numba passes it without reference counting).
Adding a schedule or a penalty: README's Development section lists the
places (a schedule's step size is :func:`rate`, the one place every epoch
takes it from; a penalty is its split into L2 and L1 strengths,
:func:`fastlr._solver.penalty_strengths`).
"""

from typing import NamedTuple

import numpy as np

from .._choices import LEARNING_RATES
from .._solver import penalty_strengths
from .jit import jit

LOSS_LOGISTIC = 0   # binary: sigmoid and log-loss, k = 1, labels 0/1
LOSS_SOFTMAX = 1    # k classes: softmax and cross-entropy, labels 0..k-1

# A schedule's code is its position in the one table of names; "adaptive"
# is the constant step within an epoch (its driver lowers lr between epochs).
LR_CONSTANT = LEARNING_RATES.index("constant")
LR_INVSCALING = LEARNING_RATES.index("invscaling")
LR_ADAGRAD = LEARNING_RATES.index("adagrad")
LR_OPTIMAL = LEARNING_RATES.index("optimal")

#: AdaGrad's denominator guard, ``lr / (ADAGRAD_EPS + sqrt(sum g**2))``.
ADAGRAD_EPS = 1e-8

#: Below this ``|s|`` the CSR epoch's L2 scale is folded into the weights
#: (as in scikit-learn).
MIN_SCALE = 1e-9

#: The most steps the CSR epoch's elastic-net history holds (per model:
#: four float64 a step) before every column is paid and it starts again
#: (:func:`pay_elastic`); an epoch of fewer batches never does so.
HISTORY_STEPS = 1 << 14

#: The mean is folded out of the dense loops when no column's |mean| exceeds
#: this many times its scale (:func:`can_fold_mean`).
FOLD_MAX_OFFSET = 4.0


class Options(NamedTuple):
    """What a training run does, as the kernels read it (see :func:`options`)."""

    loss: int            # LOSS_LOGISTIC or LOSS_SOFTMAX
    schedule: int        # position in LEARNING_RATES (schedule_code)
    power_t: float       # exponent of LR_INVSCALING
    average_start: int   # 0: no averaging; else the first averaged step
    fit_intercept: bool  # False: the intercepts stay 0
    track_loss: bool     # compute the training rows' losses (else only a bound)


def options(loss, schedule, power_t, average_start, fit_intercept=True,
            track_loss=True):
    """An :class:`Options` record with every field of its exact type (each
    type combination would compile another specialization)."""
    return Options(int(loss), int(schedule), float(power_t), int(average_start),
                   bool(fit_intercept), bool(track_loss))


def hyperparameters(penalty, alpha, l1_ratio, lr):
    """``(l2, l1, lr)`` of one model: the strengths of the L2 and L1 parts of
    its penalty and its base learning rate (a row of ``hyper``)."""
    l2, l1 = penalty_strengths(penalty, alpha, l1_ratio)
    return float(l2), float(l1), float(lr)


def schedule_code(learning_rate):
    """The kernels' code of a schedule name of ``LEARNING_RATES``."""
    return LEARNING_RATES.index(learning_rate)


@jit()
def lazy_supported(opt, hyper):
    """Whether the CSR epoch can defer the step's work on the columns a
    batch does not touch, exactly, for every model of ``hyper`` (see
    :mod:`fastlr._kernels.sparse`). AdaGrad with L2 has a gradient on
    untouched columns, and the averaged iterate of an L1 weight has no
    closed form: those run the eager :func:`step`."""
    for mm in range(hyper.shape[0]):
        l2 = hyper[mm, 0]
        l1 = hyper[mm, 1]
        if not scalar_rate(opt) and not (opt.schedule == LR_ADAGRAD and l2 == 0.0):
            return False
        if opt.average_start > 0 and l1 > 0.0:
            return False
    return True


@jit()
def can_fold_mean(mean, scale):
    """True if every column's offset is within FOLD_MAX_OFFSET spreads.

    Then the dense epoch may fold the mean into the bias and the gradient
    (``z = (c - u . mean) + x . u``, ``g = sum r x - mean sum r``) instead of
    subtracting it from every element: the rounding error grows by at most a
    factor ``1 + FOLD_MAX_OFFSET`` over centred arithmetic. Columns whose
    mean dwarfs their spread (where folding loses digits) keep the exact
    path.
    """
    for j in range(mean.shape[0]):
        if not abs(mean[j]) <= FOLD_MAX_OFFSET * scale[j]:
            return False
    return True


@jit(exact=True)
def batch_weights(W, B, mean, scale, stat, center, active, U, C, lo, hi):
    """Raw-space weights ``U = W / scale`` of a batch and its biases, for
    the active models ``lo .. hi - 1`` of a stack (``W`` (K, k, n), ``B`` (K, k), model
    ``mm``'s standardization the row ``stat[mm]`` of ``mean`` and
    ``scale``): ``B`` on centred rows, ``B - U . mean`` on raw rows
    (``center[mm]`` False).

    Compiled without ``reassoc``, so each dot product has one order (its
    features in turn) whichever thread computes it. Four models' dot
    products run side by side: one model at a time, each was a chain of n
    dependent multiply-adds, and 16 models' took about a quarter of the
    serial tail of a batch (1M x 100, batch 256).
    """
    k, n = W.shape[1], W.shape[2]
    for mm in range(lo, hi):
        if active[mm]:
            sc = scale[stat[mm]]
            for c in range(k):
                for j in range(n):
                    U[mm, c, j] = W[mm, c, j] / sc[j]
    for c in range(k):
        for m0 in range(lo, hi, 4):
            # four models (the last repeated past hi), computed whether or
            # not they are active or centred, stored where they are active
            m1, m2, m3 = min(m0 + 1, hi - 1), min(m0 + 2, hi - 1), min(m0 + 3, hi - 1)
            u0, u1, u2, u3 = U[m0, c], U[m1, c], U[m2, c], U[m3, c]
            e0, e1 = mean[stat[m0]], mean[stat[m1]]
            e2, e3 = mean[stat[m2]], mean[stat[m3]]
            a0, a1, a2, a3 = B[m0, c], B[m1, c], B[m2, c], B[m3, c]
            for j in range(n):
                a0 -= u0[j] * e0[j]
                a1 -= u1[j] * e1[j]
                a2 -= u2[j] * e2[j]
                a3 -= u3[j] * e3[j]
            for mm, a in ((m0, a0), (m1, a1), (m2, a2), (m3, a3)):
                if active[mm]:
                    C[mm, c] = B[mm, c] if center[mm] else a


@jit(exact=True)
def truncate(z, u, q):
    """Tsuruoka et al.'s cumulative L1 truncation of one weight ``z``, given
    the penalty ``u`` it could have received and ``q`` it did: toward zero
    by the difference, clipped at zero; a zero weight stays zero. The two
    candidates are selected, not branched to, as the weights' signs are
    unpredictable."""
    zp = max(0.0, z - (u + q))
    zn = min(0.0, z + (u - q))
    out = zp if z > 0.0 else zn
    return out if z != 0.0 else z


# The step is inlined into its callers at numba's level, so it is compiled
# with their flags, not with ``exact``'s: the dense epoch's include
# ``reassoc`` (an inlined sum vectorizes there, which it does not under
# ``exact``: checked on the generated code), the CSR epoch's do not. With
# ``reassoc`` LLVM may regroup ``q + (w - z)`` or ``z - (u + q)`` of the L1
# truncation; threaded and serial epochs stay bit-identical because each
# storage's serial and threaded paths run one compiled epoch.
@jit(inline=True)
def scalar_rate(opt):
    """Whether :func:`rate` gives this schedule's step size (one number a
    step): every schedule but AdaGrad, whose size is per weight. The lean
    epochs and the CSR epoch's lazy step take only these; AdaGrad (and a
    schedule with a size per weight added later: list it here) runs
    :func:`step`'s own branch, eagerly."""
    return opt.schedule != LR_ADAGRAD


@jit(exact=True, inline=True)
def rate(opt, l2, l1, lr, t):
    """The step size of the ``t``-th step (counted from 1) for every
    schedule whose size is one number a step: ``lr / t**power_t`` (inverse
    scaling), ``1 / (alpha * (t0 + t - 1))`` ("optimal", scikit-learn's
    default: ``alpha = l2 + l1``, the penalty's strength, and ``lr`` unused;
    see below) or ``lr`` (constant, and "adaptive", whose driver lowers
    ``lr`` between epochs). The one place such a schedule is
    written: :func:`step`, the CSR epoch's lazy step and the lean epochs'
    step (:func:`lean_scalars`) all take it from
    here. AdaGrad's size is per weight: :func:`step`'s own branch, and
    :func:`lazy_supported` and the lean epochs' selectors keep it out of
    the lazy and lean paths.

    "optimal" is scikit-learn's ``SGDClassifier`` schedule: Bottou's
    heuristic sets ``t0 = 1 / (eta0 * alpha)`` so that the first step is
    ``eta0 = typw / max(1, |dloss(1, -typw)|)``, ``typw =
    sqrt(1 / sqrt(alpha))``; the log-loss's and cross-entropy's derivatives
    are below 1 in size, so ``eta0 = typw``. ``t0 + t - 1`` is summed as
    ``t0 + (t - 1)``: one rounding under any caller's flags (scikit-learn's
    ``(t0 + t) - 1`` may differ from it in the last bit)."""
    if opt.schedule == LR_INVSCALING:
        return lr / np.float64(t) ** opt.power_t
    if opt.schedule == LR_OPTIMAL:
        alpha = l2 + l1
        typw = np.sqrt(1.0 / np.sqrt(alpha))
        t0 = 1.0 / (typw * alpha)
        return 1.0 / (alpha * (t0 + np.float64(t - 1)))
    return lr


@jit()
def is_lean(opt, hyper, averaging=False):
    """Whether a lean epoch serves this one-model stack: the binary model
    with an L2 (or no) penalty, a rate of :func:`rate` (not AdaGrad), and no
    averaging unless the epoch keeps the averaged iterate (``averaging``:
    the dense one does, the CSR one does not). The lean epochs:
    :func:`fastlr._kernels.sparse.lean_epoch`,
    :func:`fastlr._kernels.dense.lean_epoch`."""
    return (opt.loss != LOSS_SOFTMAX and hyper.shape[0] == 1 and hyper[0, 1] == 0.0
            and scalar_rate(opt) and (averaging or opt.average_start == 0))


@jit(exact=True, inline=True)
def lean_scalars(cnt, sr, opt, hyper, B, steps, v, s):
    """The step's scalars from a batch's ``cnt`` rows trained on (> 0) and
    residual sums ``sr`` (k,), one a class (k = 1: the binary model):
    counts the step, shrinks ``s`` (folding it into the weights ``v``, (n,)
    or (n, k), when it would underflow, as the CSR epoch does), moves the
    intercepts; returns the new ``s`` and the gradient step's coefficient."""
    steps[0, 0] += 1
    t = steps[0, 0]
    inv_b = 1.0 / cnt
    eta = rate(opt, hyper[0, 0], hyper[0, 1], hyper[0, 2], t)
    if hyper[0, 0] > 0.0:
        rho = max(0.0, 1.0 - eta * hyper[0, 0])
        if rho <= 0.0 or abs(s * rho) < MIN_SCALE:
            v *= s * rho
            s = 1.0
        else:
            s *= rho
    if opt.fit_intercept:
        for c in range(sr.shape[0]):
            B[0, c] -= eta * sr[c] * inv_b
    return s, eta * inv_b / s


@jit(exact=True, inline=True)
def step(W, B, G, S, scale, bsz, opt, l2, l1, lr, steps, gsq, avg, l1_u, l1_q):
    """One SGD update of one model from a batch's gradient sums, in place.

    The model's arrays are ``W`` (k, n), ``B`` (k,), ``steps`` (2,) and so
    on (one model of the stack). ``G`` (k, n) holds ``sum_rows r_c (x -
    mean)`` and ``S`` (k,) ``sum_rows r_c`` over the ``bsz`` rows of the batch
    the model trains on (``r`` the weighted residuals); ``l2``, ``l1``, ``lr`` are
    its penalty strengths and base learning rate. In this order, per weight
    ``(c, j)``:

    1. ``grad = G[c, j] / scale[j] / bsz + l2 * W[c, j]``;
    2. the step size: ``lr`` (constant), ``lr / t**power_t`` (inverse
       scaling; ``t`` counts steps, i.e. batches, from 1), ``1 / ((l2 + l1)
       * (t0 + t - 1))`` ("optimal", :func:`rate`) or, for AdaGrad,
       ``gsq[c, j] += grad**2`` and ``lr / (ADAGRAD_EPS + sqrt(gsq[c, j]))``;
    3. ``W[c, j] -= eta * grad``; with a rate of :func:`rate` (every
       schedule but AdaGrad) and ``eta * l2 >= 1``, the shrink factor
       ``1 - eta * l2`` is floored at 0, as scikit-learn does (the weight
       becomes ``-eta`` times the data gradient instead of flipping sign and
       growing; AdaGrad needs no floor: its step ``eta * grad`` is at most
       ``lr`` in size);
    4. L1: the weight is moved toward zero by the penalty it could have
       received so far (``l1_u``, growing by ``eta * l1`` each step) minus
       what it did receive (``l1_q``) and clipped at zero (:func:`truncate`),
       so weights that only fluctuate around zero end up exactly 0;
    5. averaging: from step ``average_start`` on, ``avg`` holds the running
       mean of the iterates and ``steps[1]`` counts them.

    The intercepts get the same step size rule (AdaGrad: their own
    accumulators ``gsq[:, n]``), no penalty, and stay put unless
    ``opt.fit_intercept``.
    """
    k, n = W.shape
    steps[0] += 1
    t = steps[0]
    inv_b = 1.0 / bsz
    for c in range(k):
        if opt.schedule == LR_ADAGRAD:
            for j in range(n):
                grad = G[c, j] / scale[j] * inv_b + l2 * W[c, j]
                gsq[c, j] += grad * grad
                eta = lr / (ADAGRAD_EPS + np.sqrt(gsq[c, j]))
                W[c, j] -= eta * grad
                if l1 > 0.0:
                    l1_u[c, j] += eta * l1
            if opt.fit_intercept:
                gb = S[c] * inv_b
                gsq[c, n] += gb * gb
                B[c] -= lr / (ADAGRAD_EPS + np.sqrt(gsq[c, n])) * gb
        else:
            eta = rate(opt, l2, l1, lr, t)
            if l2 > 0.0 and eta * l2 < 1.0:
                for j in range(n):
                    W[c, j] -= eta * (G[c, j] / scale[j] * inv_b + l2 * W[c, j])
            elif l2 > 0.0:
                for j in range(n):
                    W[c, j] = -eta * (G[c, j] / scale[j] * inv_b)
            else:
                for j in range(n):
                    W[c, j] -= eta * (G[c, j] / scale[j] * inv_b)
            if opt.fit_intercept:
                B[c] -= eta * S[c] * inv_b
            if l1 > 0.0:
                for j in range(n):
                    l1_u[c, j] += eta * l1
        if l1 > 0.0:
            for j in range(n):
                z = W[c, j]
                W[c, j] = truncate(z, l1_u[c, j], l1_q[c, j])
                l1_q[c, j] += W[c, j] - z
    if opt.average_start > 0 and t >= opt.average_start:
        steps[1] += 1
        inv_k = 1.0 / np.float64(steps[1])
        for c in range(k):
            for j in range(n):
                avg[c, j] += (W[c, j] - avg[c, j]) * inv_k
            avg[c, n] += (B[c] - avg[c, n]) * inv_k


# --------------------------------------------------------------------------
# lazy updates (the CSR epoch)
#
# A sparse batch's gradient touches only the columns present in it, but a
# step changes every weight (the L2 shrink, the L1 truncation, the averaged
# iterate). The CSR epoch defers the untouched columns' share in closed
# forms, owed per column and paid at its next visit (:func:`catch_up`) or at
# the end of the epoch, when everything is paid and the state is the eager
# one again:
#
# * L2 (a rate of rate(): not AdaGrad): Bottou's scaling trick, w = s * v;
#   the shrink is s *= 1 - eta * l2, a gradient step on column j is
#   v[j] -= eta * g[j] / s. When |s| falls below MIN_SCALE (or the factor is
#   floored at 0) s is folded into v, one O(n) pass.
# * L1: between two visits a weight only receives penalty, and the
#   cumulative rule applied once with the total owed gives exactly what
#   applying it at every step would (it clips at zero the first time it
#   would cross, and then stays). The total is a running sum U of eta * l1
#   (for AdaGrad, whose untouched columns keep their step size, the number
#   of steps since the visit times that column's eta * l1).
# * elastic net: each step shrinks, then clips by eta * l1. In units of v
#   the shrink vanishes and the clip is eta * l1 / s, so between visits
#   |v| falls by a running sum of those until it reaches zero, where it
#   stays: the same closed form, in v's units. What the clip owes a weight
#   that reached zero (Tsuruoka's rule keeps it for the next gradient)
#   depends on the step it did so: the epoch keeps, per model, the running
#   sums of eta * l1 / s and eta * l1 and the scale s after each step since
#   its last full payment (:func:`pay_elastic`; at most HISTORY_STEPS
#   steps, then every column is paid and the history starts again).
# * averaging: between visits column j's iterate is s_t * v[j], so the sum
#   of its iterates grows by v[j] times a running sum P of s_t over averaged
#   steps; the epoch keeps sums of iterates and divides at the end.
#
# Per column the epoch keeps, next to its k weights, a record: ``sync`` (U,
# AdaGrad's or elastic net's step count, or P at the last visit) and ``a``,
# ``q`` per class (L1: penalty owed and received; averaging: the sum of
# iterates).


@jit(exact=True, inline=True)
def pay_elastic(T, j, mm, K, k, off, H, meta):
    """Pay what elastic-net model ``mm`` owes column ``j`` of the CSR
    epoch's table (its record as in :func:`catch_up`; ``sync`` the step
    count at the last visit), through the last step of its history.

    ``H`` (HISTORY_STEPS + 1, 4) holds in row ``i`` (``i`` = the step
    count minus ``meta[0]``) the running sums since then of ``eta * l1 /
    s`` and of ``eta * l1``, and the scale ``s`` after the next step's
    shrink (a visit reads one row, one cache line); ``meta[1]`` is the
    last ``i`` written. Step by step :func:`step` would shrink each
    weight and clip it by ``eta * l1`` (the first step after the visit by
    what was owed before too, ``u + q`` or ``u - q`` by the sign, as
    :func:`truncate`): in units of ``v = w / s`` the weight falls by the
    first sum until it reaches zero, and stays. Where it does, the step is
    found by bisection, as what it was paid (``q``) depends on it.
    """
    base = meta[0]
    last = meta[1]
    i0 = np.int64(T[j, off + mm]) - base
    if i0 >= last:
        return
    T[j, off + mm] = np.float64(base + last)
    du = H[last, 1] - H[i0, 1]
    dv = H[last, 0] - H[i0, 0]
    s1 = H[i0, 2]
    qo = off + K + K * k
    for c in range(k):
        col = mm * k + c
        v = T[j, col]
        a = T[j, off + K + col]
        T[j, off + K + col] = a + du
        if v == 0.0:
            continue   # a zero weight stays zero and owes on
        q = T[j, qo + col]
        av = abs(v)
        first = ((a + q) if v > 0.0 else (a - q)) / s1   # owed before the visit
        if first + dv < av:
            left = av - (first + dv)
            paid = (a + q if v > 0.0 else a - q) + du
        else:
            lo = i0 + 1
            hi = last
            while lo < hi:
                mid = (lo + hi) // 2
                if first + (H[mid, 0] - H[i0, 0]) >= av:
                    hi = mid
                else:
                    lo = mid + 1
            if lo == i0 + 1:
                paid = H[i0, 2] * av
            else:
                paid = ((a + q if v > 0.0 else a - q) + (H[lo - 1, 1] - H[i0, 1])
                        + H[lo - 1, 2] * (av - (first + (H[lo - 1, 0] - H[i0, 0]))))
            left = 0.0
        T[j, col] = left if v > 0.0 else -left
        T[j, qo + col] = q - paid if v > 0.0 else q + paid


@jit(exact=True, inline=True)
def record_elastic(H, meta, eta_l1, s):
    """Write one elastic-net step into its history (see
    :func:`pay_elastic`): the clip ``eta_l1`` under the scale ``s``. The
    caller pays every column first when ``meta[1]`` is at the end."""
    i = meta[1] + 1
    H[i, 0] = H[i - 1, 0] + eta_l1 / s
    H[i, 1] = H[i - 1, 1] + eta_l1
    H[i - 1, 2] = s
    meta[1] = i


@jit(exact=True, inline=True)
def restart_history(H, meta):
    """Start model's history again at its last step (every column paid
    through it)."""
    meta[0] += meta[1]
    meta[1] = 0
    H[0, 0] = 0.0
    H[0, 1] = 0.0


@jit()
def catch_up(T, cols, lo, hi, K, k, off, steps, U, P, opt, hyper, gsq, hist, hmeta):
    """Pay what the stack's models owe columns ``cols[lo:hi]`` (columns
    ``lo .. hi - 1`` when ``cols`` is empty), in place.

    ``T[j]`` is column j's row of the CSR epoch's table: model ``mm``'s
    weights at ``T[j, mm * k + c]``, its ``sync`` at ``T[j, off + mm]``, its
    ``a`` at ``T[j, off + K + mm * k + c]`` and ``q`` ``K * k`` further. When
    a model of the stack has an L1 penalty, the records hold L1 penalty owed
    (``sync``: the running sum ``U[mm]``, or for AdaGrad and elastic net the
    step count ``steps[mm, 0]``, at the last visit; elastic net pays from
    its history ``hist``, ``hmeta``, see :func:`pay_elastic`) and the others
    owe nothing; else they hold averaging sums (``sync``: ``P[mm]`` at the
    last visit).
    Idempotent within a step. One call serves a whole row (or all columns):
    a call per column, with its array arguments, cost more than the
    arithmetic.
    """
    by_index = cols.shape[0] > 0
    adagrad = opt.schedule == LR_ADAGRAD
    any_l1 = False
    for mm in range(K):
        any_l1 = any_l1 or hyper[mm, 1] > 0.0
    qo = off + K + K * k
    for p in range(lo, hi):
        j = cols[p] if by_index else p
        for mm in range(K):
            l1 = hyper[mm, 1]
            if any_l1:
                if l1 == 0.0:
                    continue
                if not adagrad and hyper[mm, 0] > 0.0:
                    pay_elastic(T, j, mm, K, k, off, hist[mm], hmeta[mm])
                    continue
                if adagrad:
                    t = np.float64(steps[mm, 0])
                    owed = t - T[j, off + mm]
                    T[j, off + mm] = t
                else:
                    owed = U[mm] - T[j, off + mm]
                    T[j, off + mm] = U[mm]
                if owed == 0.0:
                    continue
                for c in range(k):
                    col = mm * k + c
                    if adagrad:
                        T[j, off + K + col] += owed * (
                            hyper[mm, 2] / (ADAGRAD_EPS + np.sqrt(gsq[mm, c, j])) * l1)
                    else:
                        T[j, off + K + col] += owed
                    w = T[j, col]
                    T[j, col] = truncate(w, T[j, off + K + col], T[j, qo + col])
                    T[j, qo + col] += T[j, col] - w
            else:
                dp = P[mm] - T[j, off + mm]
                for c in range(k):
                    T[j, off + K + mm * k + c] += T[j, mm * k + c] * dp
                T[j, off + mm] = P[mm]
