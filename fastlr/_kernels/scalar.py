"""Scalar and elementwise math shared by every kernel: the stable sigmoid,
softplus and per-row losses, and the vectorizable polynomial ``exp``/``log1p``
of the epochs' residuals and of prediction's sigmoid.

Conventions: arguments are float64 scalars or 1-D float64 arrays; nothing
here allocates or validates.
"""

import math

import numpy as np

from .intrinsics import bits_float, float_bits
from .jit import jit


@jit()
def sigmoid(z):
    """Numerically stable logistic function of one float64 value.

    Branching on the sign means ``exp`` is only ever called on a
    non-positive argument, so it cannot overflow; ``z = +-inf`` gives 1/0.
    """
    if z >= 0.0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@jit()
def softplus(z):
    """``log(1 + exp(z))`` without overflow (``inf`` for ``z = inf``)."""
    if z > 0.0:
        return z + np.log1p(np.exp(-z))
    return np.log1p(np.exp(z))


@jit(inline=True)
def overflowed(z):
    """True when the logit ``z`` is not finite (NaN included).

    The training losses count such a row as an infinite loss, so that
    training reports divergence. Past the float64 range a logit has no
    meaningful value: whether ``x . w`` comes out as ``+inf``, ``-inf`` or
    NaN depends on the order of its additions (``inf - inf``) and on
    whether they are fused (an FMA does not round the product first), so
    the kernels and the NumPy reference, or two orders of summation, would
    disagree on such a row; counting it as an infinite loss whatever its
    sign is the one rule they can all follow.
    """
    return not abs(z) < np.inf


@jit()
def row_loss(z, y):
    """Log-loss of one row computed from its logit ``z``.

    ``-y log(sigmoid(z)) - (1 - y) log(1 - sigmoid(z))`` equals
    ``softplus(-z)`` for ``y = 1`` and ``softplus(z)`` for ``y = 0``; taking
    the branch avoids ``inf - inf`` when ``|z|`` overflows. A logit that is
    not finite gives ``inf`` (:func:`overflowed`).
    """
    if overflowed(z):
        return np.inf
    if y == 1.0:
        return softplus(-z)
    if y == 0.0:
        return softplus(z)
    return softplus(z) - y * z


@jit(inline=True)
def logistic_row(z, y, wt, track_loss):
    """``(r, loss, bound)`` of one row of the binary model at logit ``z``:
    the residual ``(sigmoid(z) - y) * wt``, the weighted log-loss (0 unless
    ``track_loss``) and the weighted lower bound ``max(t, 0)`` of the loss
    (``t = z`` for ``y = 0``, ``-z`` for ``y = 1``; the loss exceeds it by at
    most ``log 2``, and it detects divergence when the loss is not tracked).
    A logit that is not finite (:func:`overflowed`) gives no residual and an
    infinite loss and bound.
    """
    if overflowed(z):
        return 0.0, (np.inf * wt if track_loss else 0.0), np.inf * wt
    r = (sigmoid(z) - y) * wt
    bound = max(z if y == 0.0 else -z, 0.0) * wt
    loss = row_loss(z, y) * wt if track_loss else 0.0
    return r, loss, bound


@jit(exact=True, inline=True)
def lean_residual(z, y, sw, row_fold, hold, i, track_loss):
    """Row ``i`` at the logit ``z``: ``(r, loss, bound, held-out loss,
    held-out weight, 1 if trained on)``, ``r`` the weighted residual (0 for
    a held-out row). A logit that is not finite gives no residual and an
    infinite loss and bound, as everywhere
    (:func:`fastlr._kernels.scalar.overflowed`)."""
    yi = np.float64(y[i])
    wt = sw[i] if sw.shape[0] > 0 else 1.0
    held = row_fold.shape[0] > 0 and row_fold[i] == hold
    if overflowed(z):
        if held:
            return 0.0, 0.0, 0.0, np.inf * wt, wt, 0.0
        return 0.0, (np.inf * wt if track_loss else 0.0), np.inf * wt, 0.0, 0.0, 1.0
    e = np.exp(-abs(z))
    inv = 1.0 / (1.0 + e)
    sig = inv if z >= 0.0 else e * inv
    bound = max(z if yi == 0.0 else -z, 0.0)
    if held:
        return 0.0, 0.0, 0.0, wt * (log1p_unit(e) + bound), wt, 0.0
    loss = wt * (log1p_unit(e) + bound) if track_loss else 0.0
    return (sig - yi) * wt, loss, wt * bound, 0.0, 0.0, 1.0


@jit(inline=True)
def add_row_sums(a, row):
    """The five sums of an epoch's rows, ``a`` (loss, bound, held-out loss,
    held-out weight, rows trained on), with one row's
    :func:`lean_residual` values ``row`` added."""
    return (a[0] + row[1], a[1] + row[2], a[2] + row[3], a[3] + row[4],
            a[4] + row[5])


@jit(inline=True)
def softmax_row(z, k, y, wt, track_loss):
    """Residuals of one row of the softmax model, in place, and its losses.

    On entry ``z[:k]`` holds the row's logits; on return the residuals
    ``(softmax(z)_c - [c == y]) * wt``. Returns ``(loss, bound)``: the
    weighted cross-entropy ``logsumexp(z) - z_y`` (0 unless ``track_loss``)
    and the weighted ``max(z) - z_y`` (within ``log k`` of the loss). The row
    maximum is subtracted before ``exp``, which can then not overflow. A row
    with a logit that is not finite (:func:`overflowed`) gives no residuals
    and an infinite loss and bound.

    The other classes' ``exp(z_c - max)`` are summed apart from the
    maximum's 1 (:func:`_rest_of_max`), so a row classified with a large
    margin keeps its loss ``log1p(rest)`` and its residual ``-rest / (1 +
    rest)`` instead of rounding both to 0 once ``rest`` is below the
    float64 epsilon (margins above about 37): on separable data the loss
    would stop decreasing although the gradient is not 0.
    """
    zmax, top, bad = _row_max(z, k)
    if bad:
        for c in range(k):
            z[c] = 0.0
        return (np.inf * wt if track_loss else 0.0), np.inf * wt
    # each exp once: z[c] becomes exp(z[c] - zmax) (the bound first:
    # zmax - z_y equals -(z_y - zmax) exactly); the maximum's own 1 is
    # left out of the sum and put back after, and its exp is not called
    # (it added exp(-inf) = 0 before, the same sum: at k = 5 the CSR epoch
    # at rcv1's shape, batch 1, took 0.93x the time)
    bound = zmax - z[y]
    rest = 0.0
    for c in range(k):
        if c != top:
            z[c] = np.exp(z[c] - zmax)
            rest += z[c]
    z[top] = 1.0
    loss = wt * (log1p_rest(rest) + bound) if track_loss else 0.0
    inv = 1.0 / (1.0 + rest)
    ry = -rest * inv if y == top else z[y] * inv - 1.0
    for c in range(k):
        z[c] = z[c] * inv * wt
    z[y] = ry * wt
    return loss, wt * bound


@jit(inline=True)
def _row_max(z, k):
    """``(max(z[:k]), the first c where it is, whether a logit is not
    finite)`` (:func:`overflowed`)."""
    zmax = z[0]
    top = 0
    bad = overflowed(z[0])
    for c in range(1, k):
        bad = bad or overflowed(z[c])
        if z[c] > zmax:
            zmax = z[c]
            top = c
    return zmax, top, bad


@jit(inline=True)
def log1p_rest(rest):
    """``log1p(rest)`` for ``rest >= 0``: :func:`log1p_unit` up to 1, where
    ``log(1 + rest)`` would lose the digits of a small ``rest``, and
    ``log(1 + rest)`` above (both err by about an ulp; libm's ``log1p`` made
    a softmax epoch 5% slower)."""
    return log1p_unit(rest) if rest <= 1.0 else np.log(1.0 + rest)


@jit(inline=True)
def softmax_loss(z, k, y):
    """Cross-entropy ``logsumexp(z) - z_y`` of one row's logits ``z[:k]``,
    as ``log1p`` of the other classes' ``exp(z_c - max)`` (see
    :func:`softmax_row`); ``inf`` if one of them is not finite
    (:func:`overflowed`)."""
    zmax, top, bad = _row_max(z, k)
    if bad:
        return np.inf
    rest = 0.0
    for c in range(k):
        if c != top:
            rest += np.exp(z[c] - zmax)
    return log1p_rest(rest) + (zmax - z[y])


# --------------------------------------------------------------------------
# vectorizable exp and log1p (numba's SVML is not available here, and a libm
# call stops LLVM from vectorizing a loop). Compiled without ``reassoc``/
# ``afn``: reassociation would undo the Cody-Waite range reduction of exp
# (measured: 2e-14 relative error with it, 3e-16 without).

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52

#: Taylor coefficients of exp, highest power first: 1/12!, ..., 1/2!, 1, 1.
_EXP_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(12, -1, -1))

#: atanh(s) / s as a series in s**2, highest power first: 1/29, ..., 1/3, 1.
_ATANH_SERIES = tuple(1.0 / i for i in range(29, 0, -2))

#: IEEE bits of 2**52 and of 1.0, the mask of a float64's fraction, sqrt(2).
_TWO52_BITS = 0x4330000000000000
_ONE_BITS = 0x3FF0000000000000
_FRACTION = (1 << 52) - 1
_SQRT2 = 1.4142135623730951


@jit(exact=True, inline=True)
def _horner(x, coefficients):
    """``c0 x^d + c1 x^(d-1) + ... + cd`` by Horner's rule (unrolled: the
    coefficients are a tuple of constants)."""
    p = coefficients[0]
    for c in coefficients[1:]:
        p = p * x + c
    return p


@jit(exact=True, inline=True)
def _exp_reduced(x):
    """``(p, t, kf)`` with ``exp(x) = p * 2**kf``: range reduction ``x = kf
    ln2 + r`` (|r| <= ln2/2) and the degree-12 Taylor polynomial ``p`` of
    ``exp(r)`` (truncation < 2e-16). ``kf`` is rounded with the 1.5 * 2**52
    trick rather than an int conversion, which AVX2 cannot vectorize: the
    low bits of ``t`` hold it, ``bits(t) = bits(magic) + kf``, and shifting
    ``bits(t) + 1023`` left by 52 drops the magic's bits and leaves the
    exponent field of ``2**kf`` (:func:`fastlr._kernels.intrinsics.bits_float`)."""
    t = x * _LOG2E + _ROUND_MAGIC
    kf = t - _ROUND_MAGIC
    r = x - kf * _LN2_HI - kf * _LN2_LO
    return _horner(r, _EXP_TAYLOR), t, kf


@jit(exact=True, runtime=False)
def exp_neg_abs(z, nb, e):
    """``e[k] = exp(-|z[k]|)`` for ``k < nb``, vectorizable
    (:func:`_exp_reduced`). Arguments below -700 are clamped (``exp(-700)``
    ~ 1e-304 stands in for smaller values; in the epoch it only enters as
    ``1 + e`` or ``log1p(e)``), so ``2**kf`` is a normal number. Relative
    error about 3e-16 (tested against ``np.exp``).

    Parameters
    ----------
    z : (>= nb,) float64 logits.
    nb : int
    e : (>= nb,) float64 output.
    """
    for k in range(nb):
        p, t, _ = _exp_reduced(max(-abs(z[k]), -700.0))
        e[k] = p * bits_float((float_bits(t) + 1023) << 52)


@jit(exact=True, inline=True)
def exp_nonpositive(x):
    """``exp(x)`` for any ``x <= 0`` (NaN gives NaN), branch-free, so that a
    loop of it vectorizes (:func:`_exp_reduced`). ``2**kf`` is applied as
    two factors ``2**k1`` and ``2**(kf - k1)``, ``k1 = round(kf / 2)``, each
    a normal number down to ``x = -746``, so that results below the normal
    range round once into the subnormals, as libm's do; below -746 (where
    ``exp`` rounds to 0) ``x`` is taken as -746, which gives 0. Where the
    result is normal, the two factors give the bits of one.
    """
    x = x if not x < -746.0 else -746.0   # (NaN stays NaN)
    p, t, kf = _exp_reduced(x)
    # bits(h) = bits(magic) + k1 (shifts and adds only: AVX2 has no
    # arithmetic right shift of 64-bit lanes)
    h = kf * 0.5 + _ROUND_MAGIC
    bt = float_bits(t)
    bh = float_bits(h)
    return p * bits_float((bh + 1023) << 52) * bits_float((bt - bh + 1023) << 52)


@jit(exact=True, inline=True)
def sigmoid_lanes(z):
    """:func:`sigmoid` written so that a loop of it vectorizes: the same
    formulas, selected rather than branched to, with
    :func:`exp_nonpositive` for ``exp``. Agrees with :func:`sigmoid` to
    about 2 ulps (``+-inf`` and NaN alike) and is monotone as it is (one
    rounded division of monotone terms; ``e * (1 / (1 + e))``, as the
    epoch's residuals compute it, is not, at the ulp); a loop of it ran
    5x as fast (2.0 against 11 ms per 1M values, one Zen 3 thread)."""
    e = exp_nonpositive(-abs(z))
    return (1.0 if z >= 0.0 else e) / (1.0 + e)


@jit(exact=True, runtime=False)
def log1p_unit(e):
    """``log1p(e)`` for ``-1/2 <= e <= 1``: ``2 atanh(s)``, ``s = e / (2 +
    e)``.

    ``|s| <= 1/3``, so the odd series of atanh in ``s**2 <= 1/9`` truncated
    after 15 terms errs by < 1e-16 relative. Inlined into vectorized loops.
    """
    s = e / (2.0 + e)
    q = _horner(s * s, _ATANH_SERIES)
    return 2.0 * s * q


@jit(exact=True, inline=True)
def log_normal(x):
    """``log(x)`` for a normal positive float64 ``x``, branch-free, so that
    a loop of it vectorizes: ``x = 2**k m`` with ``m`` in ``[sqrt(1/2),
    sqrt(2))`` read from the IEEE bits (the exponent made a float by the
    2**52 trick, which needs no int conversion), then ``k ln2 +
    log1p(m - 1)`` (:func:`log1p_unit`; ``m - 1`` is exact). Within 3 ulps
    of ``np.log`` (tested), and accurate relative to the result near 1."""
    b = float_bits(x)
    k = bits_float((b >> 52) | _TWO52_BITS) - (4503599627370496.0 + 1023.0)
    m = bits_float((b & _FRACTION) | _ONE_BITS)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    k = k + 1.0 if big else k
    return k * _LN2_HI + (k * _LN2_LO + log1p_unit(m - 1.0))


@jit(exact=True, runtime=False)
def residuals(z, yb, wb, nb, weighted, track_loss, e, r, loss, bound):
    """Residuals and row losses of a chunk from its logits, vectorizable:
    :func:`logistic_row` for ``nb`` rows at once, ``exp`` and ``log1p`` by
    the polynomials above. Each case is its own branch-free loop so that
    LLVM vectorizes it.

    Parameters
    ----------
    z : (>= nb,) float64 logits.
    yb : (>= nb,) float64 labels of the chunk's rows.
    wb : (>= nb,) float64 sample weights of the chunk's rows (if weighted).
    nb : int
    weighted, track_loss : bool
    e : (>= nb,) float64, ``exp(-|z|)`` from :func:`exp_neg_abs`.
    r, loss, bound : (>= nb,) float64 outputs, see :func:`logistic_row`.
    """
    for k in range(nb):
        zk = z[k]
        inv = 1.0 / (1.0 + e[k])
        sig = inv if zk >= 0.0 else e[k] * inv
        # a logit that is not finite: no residual, an infinite bound (and
        # loss), as in logistic_row; selected, not branched to
        ok = abs(zk) < np.inf
        r[k] = sig - yb[k] if ok else 0.0
        bk = max(zk if yb[k] == 0.0 else -zk, 0.0)
        bound[k] = bk if ok else np.inf
    if track_loss:
        for k in range(nb):
            # (e is NaN for a NaN logit: the loss must still be inf)
            lk = log1p_unit(e[k]) + bound[k]
            loss[k] = lk if bound[k] < np.inf else np.inf
    else:
        for k in range(nb):
            loss[k] = 0.0
    if weighted:
        for k in range(nb):
            r[k] *= wb[k]
            loss[k] *= wb[k]
            bound[k] *= wb[k]
