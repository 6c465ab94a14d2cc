"""Numba kernels: the hot loops, and nothing else.

Every function here takes arrays and scalars only, never validates, never
allocates arrays of size m, and writes results into output buffers passed
last. The Python layer (:mod:`fastlr.core`) validates and dispatches;
:mod:`fastlr.reference` holds a vectorized NumPy twin of each kernel.

Conventions
-----------
* ``X`` is a C-contiguous ``(m, n)`` float32 or float64 array; it is read in
  its own dtype (float32 streams half the bytes) and every accumulation is
  done in float64 scalars or float64 buffers of size ``n``.
* Labels ``y`` are float64 0.0/1.0.
* Standardization is folded into the kernels: the model is trained on
  ``(x - mean) / scale`` without ever forming that matrix. The trained
  weights ``w`` live in the standardized space; per batch the kernel derives
  raw-space weights ``v = w / scale`` and bias ``c = b - v . mean`` and uses
  them on the raw rows.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT, JIT_PARALLEL
from ._intrinsics import cpu_relax, fetch_add, load_acquire, store_release, yield_thread

# penalty and learning-rate codes: strings become ints at the boundary
PENALTY_NONE = 0
PENALTY_L2 = 1
PENALTY_L1 = 2
PENALTY_ELASTICNET = 3

LR_CONSTANT = 0
LR_INVSCALING = 1
LR_ADAGRAD = 2

#: AdaGrad's denominator guard, ``lr / (ADAGRAD_EPS + sqrt(sum g**2))``.
ADAGRAD_EPS = 1e-8


# --------------------------------------------------------------------------
# scalar helpers


@njit(**JIT)
def sigmoid_scalar(z):
    """Numerically stable logistic function of one float64 value.

    Branching on the sign means ``exp`` is only ever called on a
    non-positive argument, so it cannot overflow; ``z = +-inf`` gives 1/0.
    """
    if z >= 0.0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@njit(**JIT)
def softplus(z):
    """``log(1 + exp(z))`` without overflow (``inf`` for ``z = inf``)."""
    if z > 0.0:
        return z + np.log1p(np.exp(-z))
    return np.log1p(np.exp(z))


@njit(**JIT)
def row_loss(z, y):
    """Log-loss of one row computed from its logit ``z``.

    ``-y log(sigmoid(z)) - (1 - y) log(1 - sigmoid(z))`` equals
    ``softplus(-z)`` for ``y = 1`` and ``softplus(z)`` for ``y = 0``; taking
    the branch avoids ``inf - inf`` when ``|z|`` overflows.
    """
    if y == 1.0:
        return softplus(-z)
    if y == 0.0:
        return softplus(z)
    return softplus(z) - y * z


# --------------------------------------------------------------------------
# elementwise / reduction kernels behind the functional API


@njit(**JIT)
def sigmoid_array(z, out):
    """Stable sigmoid of a 1-D array.

    Parameters
    ----------
    z : (k,) float32 or float64
    out : (k,) same dtype as ``z``; receives ``sigmoid(z)``.
    """
    for i in range(z.shape[0]):
        out[i] = sigmoid_scalar(np.float64(z[i]))


@njit(**JIT)
def log_loss_sum(y, p, eps):
    """Sum over rows of the binary cross-entropy with ``p`` clipped.

    Parameters
    ----------
    y : (m,) float64 0/1 labels.
    p : (m,) float32 or float64 probabilities of class 1.
    eps : float
        ``p`` is clipped to ``[eps, 1 - eps]`` in float64 (in float32,
        ``1 - 1e-15`` would round to 1 and the log would be ``-inf``).

    Returns
    -------
    float
        The sum; the caller divides by m.
    """
    hi = 1.0 - eps
    total = 0.0
    for i in range(y.shape[0]):
        pi = np.float64(p[i])
        if pi < eps:
            pi = eps
        elif pi > hi:
            pi = hi
        yi = y[i]
        total -= yi * np.log(pi) + (1.0 - yi) * np.log1p(-pi)
    return total


@njit(**JIT)
def gradient_sums(X, y, p, dw):
    """Mean gradient of the log-loss with respect to ``w`` and ``b``.

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous.
    y : (m,) float64 0/1 labels.
    p : (m,) float32 or float64 predicted probabilities.
    dw : (n,) float64 output; receives ``X.T @ (p - y) / m``.

    Returns
    -------
    float
        ``db = mean(p - y)``.
    """
    m, n = X.shape
    for j in range(n):
        dw[j] = 0.0
    sr = 0.0
    for i in range(m):
        r = np.float64(p[i]) - y[i]
        sr += r
        for j in range(n):
            dw[j] += r * X[i, j]
    for j in range(n):
        dw[j] /= m
    return sr / m


@njit(**JIT)
def all_finite(X):
    """True when no element of the 2-D array ``X`` is NaN or +-inf.

    One pass and no temporary, unlike ``np.isfinite(X).all()`` which builds
    a boolean array of ``m * n`` bytes.
    """
    m, n = X.shape
    for i in range(m):
        acc = 0.0
        for j in range(n):
            acc += X[i, j] * 0.0  # NaN if any element is NaN or inf
        if acc != 0.0:
            return False
    return True


@njit(**JIT)
def column_stats(X, mean, scale):
    """Column means and standard deviations for standardization, no copy.

    Overflow-safe for ``|x|`` up to the float64 maximum: each column is
    divided by its largest absolute value before summing squares. Sums are
    shifted by the first row, so a constant column gets exactly its value as
    mean and zero spread. Two passes (max, then shifted sums) rather than
    Welford: both stream and vectorize, Welford's per-element division does
    not.

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous, finite, m >= 1.
    mean : (n,) float64 output, column means.
    scale : (n,) float64 output, column standard deviations (ddof=0), with
        zero (constant columns, or spread lost to rounding) replaced by 1 so
        that nothing divides by zero.
    """
    m, n = X.shape
    amax = np.zeros(n)
    for i in range(m):
        for j in range(n):
            amax[j] = max(amax[j], abs(np.float64(X[i, j])))
    s = np.empty(n)
    inv = np.empty(n)
    shift = np.empty(n)
    for j in range(n):
        # below 1e-300, 1/amax would overflow; such a column's squares
        # underflow anyway, and it comes out as constant
        s[j] = amax[j] if amax[j] >= 1e-300 else 1.0
        inv[j] = 1.0 / s[j]
        shift[j] = np.float64(X[0, j])
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    for i in range(m):
        for j in range(n):
            d = np.float64(X[i, j]) * inv[j] - shift[j] * inv[j]
            s1[j] += d
            s2[j] += d * d
    finish_column_stats(s1, s2, m, s, inv, shift, mean, scale)


@njit(**JIT)
def finish_column_stats(s1, s2, m, s, inv, shift, mean, scale):
    """Means and standard deviations from the sums ``s1``, ``s2`` of the
    ``m`` values ``x / s - shift / s`` of each column (``inv = 1 / s``); a
    spread below the rounding noise of the column's magnitude is zero, and
    a zero spread gives scale 1. Shared by the dense and CSR statistics."""
    eps = np.finfo(np.float64).eps
    for j in range(s1.shape[0]):
        d1 = s1[j] / m
        sd = np.sqrt(max(s2[j] / m - d1 * d1, 0.0))
        if sd <= 10.0 * eps * max(abs(d1 + shift[j] * inv[j]), 1e-300):
            sd = 0.0
        mean[j] = shift[j] + d1 * s[j]
        scale[j] = sd * s[j] if sd > 0.0 else 1.0


# --------------------------------------------------------------------------
# prediction


@njit(**JIT)
def decision_serial(X, w, b, out):
    """``out[i] = X[i] . w + b`` for every row (one thread).

    Parameters
    ----------
    X : (m, n) float32 or float64.
    w : (n,) float64 weights in raw feature space.
    b : float
    out : (m,) float32 or float64 output.
    """
    m, n = X.shape
    for i in range(m):
        z = b
        for j in range(n):
            z += X[i, j] * w[j]
        out[i] = z


@njit(**JIT_PARALLEL)
def decision_parallel(X, w, b, out):
    """Threaded :func:`decision_serial`; rows are independent."""
    m, n = X.shape
    for i in prange(m):
        z = b
        for j in range(n):
            z += X[i, j] * w[j]
        out[i] = z


@njit(**JIT)
def proba_from_decision(z, out):
    """``out = sigmoid(z)`` in place-safe form (``out`` may be ``z``)."""
    for i in range(z.shape[0]):
        out[i] = sigmoid_scalar(np.float64(z[i]))


@njit(**JIT)
def full_loss_sum(X, y, sw, w, b):
    """Sum of (weighted) row log-losses of the raw-space model ``(w, b)``.

    Parameters
    ----------
    X : (m, n) float32 or float64.
    y : (m,) float64 0/1 labels.
    sw : (m,) or (0,) float64 sample weights (empty: all ones).
    w : (n,) float64 raw-space weights.
    b : float
    """
    m, n = X.shape
    weighted = sw.shape[0] > 0
    total = 0.0
    for i in range(m):
        z = b
        for j in range(n):
            z += X[i, j] * w[j]
        li = row_loss(z, y[i])
        total += sw[i] * li if weighted else li
    return total


# --------------------------------------------------------------------------
# training
#
# An epoch walks a *sequence* of the m rows: position p is row
# ``blocks[p // block] * block + p % block``. ``blocks`` permutes the full
# blocks of ``block`` consecutive rows and keeps the partial tail block last,
# so every batch reads a few contiguous runs of rows (sequential memory
# traffic the prefetcher follows) instead of m random rows. Natural order is
# ``blocks = [0], block = m``; an exact row permutation is ``block = 1``.
#
# Each batch is cut into chunks of CHUNK consecutive positions. A chunk is
# processed in three vectorizable phases while its rows are in cache:
#   A. logits z = c + sum_j (x_j - mean_j) * u_j (u = w / scale),
#   B. e = exp(-|z|) by a polynomial (no libm call, so it vectorizes; numba's
#      SVML is not available), then residual r = sigmoid(z) - y and the row
#      loss softplus(t) = log1p(e) + max(t, 0), t = z if y = 0 else -z, with
#      log1p also a polynomial,
#   C. g += r * (x - mean).
# Subtracting the mean inside the loops (rather than folding it into the
# bias) keeps the arithmetic as accurate as on a standardized copy of X, even
# for columns whose mean dwarfs their spread. It costs a load and a subtraction
# per element in A and C, so when every column's |mean| is within
# FOLD_MAX_OFFSET of its scale (rounding then grows by at most that factor
# plus one) the mean is folded instead: into the bias, c - u . mean, and out
# of the gradient, - mean * sum r (on 1M x 100 N(0, 1) data, batch 256, two
# threads: epoch 0.87x, 1.60 -> 1.38 x floor, measured side by side).
# Tried and not kept: sub-chunks of 16 rows (to stay in L1) with software
# prefetch of the next rows (llvm.prefetch): 2-5% more, within the noise.
#
# The batch gradient is the sum over chunks, in chunk order, of per-chunk
# partial sums. The threaded kernel computes the same partial sums in
# parallel and adds them in the same order, so results are bit-identical for
# any number of threads.

#: Rows per chunk (fixed: it defines the summation order).
CHUNK = 64

#: The mean is folded out of the loops when no column's |mean| exceeds this
#: many times its scale (:func:`can_fold_mean`).
FOLD_MAX_OFFSET = 4.0

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52

# Elementwise polynomial kernels are compiled without ``reassoc``/``afn``:
# reassociation would undo the Cody-Waite range reduction of exp (measured:
# 2e-14 relative error with it, 3e-16 without). They need no reductions, so
# they vectorize without it.
_JIT_ELEM = dict(JIT, fastmath={"nsz", "arcp", "contract"})


@njit(**_JIT_ELEM)
def exp_neg_abs(z, nb, e, tbuf):
    """``e[k] = exp(-|z[k]|)`` for ``k < nb``, vectorizable.

    Range reduction ``x = k ln2 + r`` (|r| <= ln2/2), degree-12 Taylor
    polynomial for ``exp(r)`` (truncation < 2e-16), and ``2**k`` built from
    IEEE bits. ``k`` is rounded with the 1.5 * 2**52 trick rather than an
    int conversion, which AVX2 cannot vectorize. Arguments below -700 are
    clamped (``exp(-700)`` ~ 1e-304 stands in for smaller values; it only
    enters as ``1 + e`` or ``log1p(e)``). Relative error about 3e-16 (tested
    against ``np.exp``).

    Parameters
    ----------
    z : (>= nb,) float64 logits.
    nb : int
    e : (>= nb,) float64 output.
    tbuf : (>= nb,) float64 scratch.
    """
    for k in range(nb):
        x = max(-abs(z[k]), -700.0)
        t = x * _LOG2E + _ROUND_MAGIC  # low mantissa bits hold round(x/ln2)
        kf = t - _ROUND_MAGIC
        r = x - kf * _LN2_HI - kf * _LN2_LO
        p = 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        e[k] = p * r + 1.0
        tbuf[k] = t
    # bits(t) = bits(magic) + k; shifting (bits(t) + 1023) left by 52 drops
    # the magic's bits and leaves the exponent field of 2**k
    tbits = tbuf.view(np.int64)
    for k in range(nb):
        tbits[k] = (tbits[k] + 1023) << 52
    for k in range(nb):
        e[k] *= tbuf[k]


@njit(**_JIT_ELEM)
def log1p_unit(e):
    """``log1p(e)`` for ``0 <= e <= 1``: ``2 atanh(s)``, ``s = e / (2 + e)``.

    ``s <= 1/3``, so the odd series of atanh in ``s**2 <= 1/9`` truncated
    after 15 terms errs by < 1e-16 relative. Inlined into vectorized loops.
    """
    s = e / (2.0 + e)
    s2 = s * s
    q = 1.0 / 29.0
    q = q * s2 + 1.0 / 27.0
    q = q * s2 + 1.0 / 25.0
    q = q * s2 + 1.0 / 23.0
    q = q * s2 + 1.0 / 21.0
    q = q * s2 + 1.0 / 19.0
    q = q * s2 + 1.0 / 17.0
    q = q * s2 + 1.0 / 15.0
    q = q * s2 + 1.0 / 13.0
    q = q * s2 + 1.0 / 11.0
    q = q * s2 + 1.0 / 9.0
    q = q * s2 + 1.0 / 7.0
    q = q * s2 + 1.0 / 5.0
    q = q * s2 + 1.0 / 3.0
    q = q * s2 + 1.0
    return 2.0 * s * q


@njit(**_JIT_ELEM)
def residuals(z, yb, wb, nb, weighted, track_loss, e, r, loss, bound):
    """Residuals and row losses of a chunk from its logits, vectorizable.

    Each case is its own branch-free loop so that LLVM vectorizes it.

    Parameters
    ----------
    z : (>= nb,) float64 logits.
    yb : (>= nb,) float64 labels of the chunk's rows.
    wb : (>= nb,) float64 sample weights of the chunk's rows (if weighted).
    nb : int
    weighted, track_loss : bool
    e : (>= nb,) float64, ``exp(-|z|)`` from :func:`exp_neg_abs`.
    r : (>= nb,) float64 output, ``(sigmoid(z) - y) * weight``.
    loss : (>= nb,) float64 output, weighted row log-loss (0 unless
        track_loss).
    bound : (>= nb,) float64 output, weighted ``max(t, 0)``, a lower bound of
        the row loss within ``log 2`` (always computed; it is how divergence
        is detected when the loss is not tracked).
    """
    for k in range(nb):
        zk = z[k]
        inv = 1.0 / (1.0 + e[k])
        sig = inv if zk >= 0.0 else e[k] * inv
        r[k] = sig - yb[k]
        bound[k] = max(zk if yb[k] == 0.0 else -zk, 0.0)
    if track_loss:
        for k in range(nb):
            loss[k] = log1p_unit(e[k]) + bound[k]
    else:
        for k in range(nb):
            loss[k] = 0.0
    if weighted:
        for k in range(nb):
            r[k] *= wb[k]
            loss[k] *= wb[k]
            bound[k] *= wb[k]


@njit(**JIT)
def can_fold_mean(mean, scale):
    """True if every column's offset is within FOLD_MAX_OFFSET spreads.

    Then the kernels may fold the mean into the bias and the gradient
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


@njit(**_JIT_ELEM)
def batch_weights(w, b, mean, scale, center, u):
    """Raw-space weights ``u = w / scale`` of a batch, and its bias: ``b``
    on centred rows, ``b - u . mean`` on raw rows (``center`` False).

    Compiled without ``reassoc``, so the dot product has one order in the
    serial and the threaded kernel.
    """
    for j in range(w.shape[0]):
        u[j] = w[j] / scale[j]
    c = b[0]
    if not center:
        for j in range(w.shape[0]):
            c -= u[j] * mean[j]
    return c


@njit(**JIT)
def chunk_sums(X, y, sw, blocks, block, p0, nb, mean, center, u, c, track_loss,
               gpart, rows, z, yb, wb, e, tbuf, r, loss, bound, out3):
    """Partial sums of one chunk: rows at sequence positions p0 .. p0+nb-1.

    Writes ``gpart = sum_k r_k (x_k - mean)`` and
    ``out3 = (sum r, sum loss, sum bound)``. Phase C works on four rows at a
    time (register blocking): ``gpart`` (and ``mean``) are loaded and stored
    once per four rows instead of once per row.

    ``center``: subtract ``mean`` in the loops (``c`` is the bias on the
    centred rows); otherwise ``c`` must be ``b - u . mean`` and the mean is
    folded out of the gradient at the end (see :func:`can_fold_mean`).
    """
    n = X.shape[1]
    weighted = sw.shape[0] > 0
    q = p0 // block
    off = p0 - q * block
    for k in range(nb):
        i = blocks[q] * block + off
        off += 1
        if off == block:
            off = 0
            q += 1
        rows[k] = i
        yb[k] = y[i]
        if weighted:
            wb[k] = sw[i]
    # phase A: logits (one row at a time measured faster than four here)
    if center:
        for k in range(nb):
            i = rows[k]
            acc = c
            for j in range(n):
                acc += (X[i, j] - mean[j]) * u[j]
            z[k] = acc
    else:
        for k in range(nb):
            i = rows[k]
            acc = c
            for j in range(n):
                acc += X[i, j] * u[j]
            z[k] = acc
    # phase B: exp, residuals, losses
    exp_neg_abs(z, nb, e, tbuf)
    residuals(z, yb, wb, nb, weighted, track_loss, e, r, loss, bound)
    # phase C: gradient
    for j in range(n):
        gpart[j] = 0.0
    k = 0
    while k + 4 <= nb:
        i0, i1, i2, i3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        r0, r1, r2, r3 = r[k], r[k + 1], r[k + 2], r[k + 3]
        if center:
            for j in range(n):
                mj = mean[j]
                gpart[j] += (r0 * (X[i0, j] - mj) + r1 * (X[i1, j] - mj)
                             + r2 * (X[i2, j] - mj) + r3 * (X[i3, j] - mj))
        else:
            for j in range(n):
                gpart[j] += (r0 * X[i0, j] + r1 * X[i1, j]
                             + r2 * X[i2, j] + r3 * X[i3, j])
        k += 4
    while k < nb:
        i0 = rows[k]
        r0 = r[k]
        if center:
            for j in range(n):
                gpart[j] += r0 * (X[i0, j] - mean[j])
        else:
            for j in range(n):
                gpart[j] += r0 * X[i0, j]
        k += 1
    sr = 0.0
    sl = 0.0
    sb = 0.0
    for k in range(nb):
        sr += r[k]
        sl += loss[k]
        sb += bound[k]
    if not center:
        for j in range(n):
            gpart[j] -= mean[j] * sr
    out3[0] = sr
    out3[1] = sl
    out3[2] = sb


@njit(**_JIT_ELEM)
def _step_plain(w, b, g, sr, scale, bsz, lr, l2):
    """The default update: ``w -= lr * (g / scale / bsz + l2 * w)``,
    ``b -= lr * sr / bsz`` (constant rate, no or L2 penalty, no averaging).

    The same arithmetic (and compile flags) as :func:`_step` for these
    options, so the two agree bit for bit. It exists because routing every
    batch through :func:`_step`, whose call passes five more arrays (numba
    reference-counts array arguments on each call), made the default epoch
    1.4-1.6x slower at batch size 8 (20000 x 100, one thread); with this
    path the default epoch measures as before. Steps are counted once per
    epoch by the caller.
    """
    inv_b = 1.0 / bsz
    if l2 > 0.0:
        for j in range(w.shape[0]):
            w[j] -= lr * (g[j] / scale[j] * inv_b + l2 * w[j])
    else:
        for j in range(w.shape[0]):
            w[j] -= lr * (g[j] / scale[j] * inv_b)
    b[0] -= lr * sr * inv_b


# The updates are compiled without ``reassoc``: with it LLVM may regroup
# ``q + (w - z)`` or ``z - (u + q)`` of the L1 truncation differently when
# ``_step`` is inlined into the serial and the threaded kernel, and the two
# would no longer be bit-identical (measured: last-bit differences). Its loops
# are elementwise, so they vectorize without it.
@njit(**_JIT_ELEM)
def _step(w, b, g, sr, scale, bsz, schedule, lr, power_t, penalty, alpha,
          l1_ratio, average_start, steps, gsq, avg, l1_u, l1_q):
    """One SGD update from the batch sums, in place; shared by both epoch kernels.

    In this order, per coordinate ``j`` of the standardized weights:

    1. ``grad = g[j] / scale[j] / bsz + l2 * w[j]`` (``l2 = alpha`` for
       ``"l2"``, ``alpha * (1 - l1_ratio)`` for ``"elasticnet"``);
    2. the step size: ``lr`` (constant), ``lr / t**power_t`` (inverse
       scaling; ``t`` counts steps, i.e. batches, from 1) or, for AdaGrad,
       ``gsq[j] += grad**2`` and ``lr / (ADAGRAD_EPS + sqrt(gsq[j]))``;
    3. ``w[j] -= eta * grad``;
    4. L1 (``"l1"``, ``"elasticnet"``): Tsuruoka et al.'s (2009) cumulative
       penalty. ``l1_u[j]`` is the total penalty ``sum eta * l1`` the weight
       could have received so far, ``l1_q[j]`` what it actually received;
       the weight is moved toward zero by the difference and clipped at
       zero, so weights that only fluctuate around zero end up exactly 0;
    5. averaging (ASGD): from step ``average_start`` on, ``avg`` holds the
       running mean of the iterates (``avg[n]`` the intercept's);
       ``steps[1]`` counts the averaged iterates.

    The intercept gets the same step size rule (AdaGrad: its own
    accumulator ``gsq[n]``), no penalty.

    Parameters
    ----------
    w : (n,) float64, b : (1,) float64
        Standardized-space weights and intercept, updated in place.
    g : (n,) float64
        ``sum_k r_k (x_k - mean)`` over the batch.
    sr : float
        ``sum_k r_k``.
    scale : (n,) float64
    bsz : int
        Rows in the batch.
    schedule : int
        ``LR_CONSTANT``, ``LR_INVSCALING`` or ``LR_ADAGRAD`` (``"adaptive"``
        is constant within an epoch: the driver lowers ``lr`` between epochs).
    lr, power_t : float
    penalty : int
        ``PENALTY_NONE``, ``PENALTY_L2``, ``PENALTY_L1`` or
        ``PENALTY_ELASTICNET``.
    alpha, l1_ratio : float
    average_start : int
        0: no averaging; else the first step whose iterate is averaged.
    steps : (2,) int64
        Steps taken so far and iterates averaged so far; updated.
    gsq : (n + 1,) float64
        AdaGrad sums of squared gradients (read and written only by AdaGrad).
    avg : (n + 1,) float64
        Averaged weights and intercept (only when averaging).
    l1_u, l1_q : (n,) float64
        Cumulative L1 penalty available / applied (only with an L1 part).
    """
    n = w.shape[0]
    steps[0] += 1
    t = steps[0]
    inv_b = 1.0 / bsz
    l2 = 0.0
    l1 = 0.0
    if penalty == PENALTY_L2:
        l2 = alpha
    elif penalty == PENALTY_L1:
        l1 = alpha
    elif penalty == PENALTY_ELASTICNET:
        l2 = alpha * (1.0 - l1_ratio)
        l1 = alpha * l1_ratio
    if schedule == LR_ADAGRAD:
        for j in range(n):
            grad = g[j] / scale[j] * inv_b + l2 * w[j]
            gsq[j] += grad * grad
            eta = lr / (ADAGRAD_EPS + np.sqrt(gsq[j]))
            w[j] -= eta * grad
            if l1 > 0.0:
                l1_u[j] += eta * l1
        gb = sr * inv_b
        gsq[n] += gb * gb
        b[0] -= lr / (ADAGRAD_EPS + np.sqrt(gsq[n])) * gb
    else:
        eta = lr
        if schedule == LR_INVSCALING:
            eta = lr / np.float64(t) ** power_t
        if l2 > 0.0:
            for j in range(n):
                w[j] -= eta * (g[j] / scale[j] * inv_b + l2 * w[j])
        else:
            for j in range(n):
                w[j] -= eta * (g[j] / scale[j] * inv_b)
        b[0] -= eta * sr * inv_b
        if l1 > 0.0:
            for j in range(n):
                l1_u[j] += eta * l1
    if l1 > 0.0:
        for j in range(n):
            z = w[j]
            if z > 0.0:
                w[j] = max(0.0, z - (l1_u[j] + l1_q[j]))
            elif z < 0.0:
                w[j] = min(0.0, z + (l1_u[j] - l1_q[j]))
            l1_q[j] += w[j] - z
    if average_start > 0 and t >= average_start:
        steps[1] += 1
        inv_k = 1.0 / np.float64(steps[1])
        for j in range(n):
            avg[j] += (w[j] - avg[j]) * inv_k
        avg[n] += (b[0] - avg[n]) * inv_k


@njit(**JIT)
def chunk_scratch():
    """One thread's scratch buffers for :func:`chunk_sums`: ``rows`` (int64),
    ``tbuf, z, yb, wb, e, r, loss, bound`` (float64), CHUNK each."""
    return (np.empty(CHUNK, dtype=np.int64), np.empty(CHUNK), np.empty(CHUNK),
            np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK),
            np.empty(CHUNK), np.empty(CHUNK))


@njit(**JIT)
def update_flags(schedule, penalty, alpha, average_start, mean, scale):
    """``(plain, l2, center)``: whether the update takes the lean
    :func:`_step_plain` path (constant rate, no or L2 penalty, no
    averaging), its L2 strength, and whether the mean is subtracted in the
    loops rather than folded (:func:`can_fold_mean`)."""
    plain = (schedule == LR_CONSTANT and average_start == 0
             and (penalty == PENALTY_NONE or penalty == PENALTY_L2))
    l2 = alpha if penalty == PENALTY_L2 else 0.0
    return plain, l2, not can_fold_mean(mean, scale)


@njit(**JIT)
def sgd_epoch(X, y, sw, blocks, block, mean, scale, batch_size, track_loss,
              schedule, lr, power_t, penalty, alpha, l1_ratio, average_start,
              w, b, steps, gsq, avg, l1_u, l1_q, out2):
    """One epoch of mini-batch SGD on the standardized log-loss (one thread).

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous. Read only, never copied.
    y : (m,) float64 0/1 labels.
    sw : (m,) or (0,) float64
        Sample weights; an empty array means all ones. Row ``i``'s loss and
        gradient are multiplied by ``sw[i]``; the batch gradient is still
        divided by the batch's row count (as scikit-learn's SGD does).
    blocks : (nb,) int64, block : int
        The visiting order (see the section comment above).
    mean, scale : (n,) float64
        Standardization (zeros and ones when disabled).
    batch_size : int >= 1
    track_loss : bool
        Compute the row losses (the ``log1p`` work is skipped otherwise).
    schedule, lr, power_t, penalty, alpha, l1_ratio, average_start
        The update rule, see :func:`_step`. ``penalty`` terms act on the
        standardized weights; the intercept is not penalized.
    w : (n,) float64, standardized-space weights, updated in place.
    b : (1,) float64, the intercept, updated in place.
    steps, gsq, avg, l1_u, l1_q
        Optimizer state carried across epochs and calls, see :func:`_step`.
        The default update (constant rate, no or L2 penalty, no averaging)
        runs through the lean :func:`_step_plain` instead.
    out2 : (2,) float64 output
        Sum over rows of the (weighted) row loss at the weights in force when
        the row's batch was processed (0 unless ``track_loss``), and the sum
        of the loss lower bound ``max(t, 0)``.
    """
    m, n = X.shape
    u = np.empty(n)
    g = np.empty(n)
    gpart = np.empty(n)
    rows, tbuf, z, yb, wb, e, r, loss, bound = chunk_scratch()
    out3 = np.empty(3)
    total = 0.0
    total_bound = 0.0
    # the default update takes the lean path (see _step_plain)
    plain, l2, center = update_flags(schedule, penalty, alpha, average_start,
                                     mean, scale)
    for start in range(0, m, batch_size):
        bsz = min(batch_size, m - start)
        c = batch_weights(w, b, mean, scale, center, u)
        for j in range(n):
            g[j] = 0.0
        sr = 0.0
        for p0 in range(start, start + bsz, CHUNK):
            nb = min(CHUNK, start + bsz - p0)
            chunk_sums(X, y, sw, blocks, block, p0, nb, mean, center, u, c,
                       track_loss, gpart, rows, z, yb, wb, e, tbuf, r, loss,
                       bound, out3)
            for j in range(n):
                g[j] += gpart[j]
            sr += out3[0]
            total += out3[1]
            total_bound += out3[2]
        if plain:
            _step_plain(w, b, g, sr, scale, bsz, lr, l2)
        else:
            _step(w, b, g, sr, scale, bsz, schedule, lr, power_t, penalty, alpha,
                  l1_ratio, average_start, steps, gsq, avg, l1_u, l1_q)
    if plain:
        steps[0] += (m + batch_size - 1) // batch_size
    out2[0] = total
    out2[1] = total_bound


# --------------------------------------------------------------------------
# the threaded epoch
#
# Threads share one epoch: the tasks are the chunks of every batch, in order
# (batch 0's chunks, then batch 1's, ...). A thread claims the next task with
# an atomic counter, waits until the task's batch is open, computes the
# chunk's partial sums into the chunk's own slot, and counts it done. The
# thread that completes a batch's last chunk adds the slots in chunk order,
# takes the step (the same _step / _step_plain as the serial kernel), derives
# the next batch's weights and opens the next batch. So the sums and updates
# are exactly the serial kernel's, whichever thread computed what:
# bit-identical results for any thread count.
#
# Per batch this costs a few contended atomic operations (~0.1 us each)
# instead of a parallel region (2-4 us here). A thread that has to wait for
# its batch to open first reads its chunk's rows into its cache (they do not
# depend on the weights), so the wait overlaps the memory traffic instead of
# adding to it. On 1M x 100, batch 256, two threads, the epoch went from
# 1.50x the floor (a prange region per batch) to 1.29-1.36x (this scheme),
# then 1.08-1.16x (reading ahead while waiting); one thread: 1.7-1.8x.
# No thread ever waits for work that nobody has claimed, so it cannot
# deadlock even if the threads run one after the other: a thread that
# starts late finds every task taken and returns. A waiting thread spins
# with the pause hint and yields the core every SPIN_YIELD polls, which
# keeps an oversubscribed machine (more threads than free cores) usable.

#: Slots of the control array (int64, 128 bytes apart: own cache lines).
TEAM_CLAIM = 0    # next task to hand out
TEAM_DONE = 16    # tasks completed
TEAM_OPEN = 32    # the batch that may run (batches below it are finished)
TEAM_CTL_SIZE = 48

#: Polls of the batch flag between yields of the core.
SPIN_YIELD = 200


@njit(**JIT)
def team_tasks(m, batch_size):
    """Chunks per full batch, and chunks in the epoch."""
    nch = (min(batch_size, m) + CHUNK - 1) // CHUNK
    nbatch = (m + batch_size - 1) // batch_size
    last = m - (nbatch - 1) * batch_size
    return nch, (nbatch - 1) * nch + (last + CHUNK - 1) // CHUNK


@njit(**JIT)
def team_begin(w, b, mean, scale, u, cb):
    """The first batch's raw-space weights into the shared ``u`` and ``cb``."""
    cb[0] = batch_weights(w, b, mean, scale, not can_fold_mean(mean, scale), u)


@njit(**JIT)
def _touch_rows(X, blocks, block, p0, nb):
    """Read one element per cache line of the rows at sequence positions
    p0 .. p0+nb-1 (brings them into this core's cache); returns their sum
    so that the reads cannot be optimized away."""
    n = X.shape[1]
    step = max(1, 64 // X.itemsize)
    q = p0 // block
    off = p0 - q * block
    s = 0.0
    for _ in range(nb):
        i = blocks[q] * block + off
        off += 1
        if off == block:
            off = 0
            q += 1
        for j in range(0, n, step):
            s += X[i, j]
        s += X[i, n - 1]
    return s


@njit(**JIT)
def _wait_open(ctl, k):
    """Spin until batch ``k`` is open."""
    polls = 0
    while load_acquire(ctl, TEAM_OPEN) < k:
        cpu_relax()
        polls += 1
        if polls == SPIN_YIELD:
            yield_thread()
            polls = 0


@njit(inline="always", **JIT)
def team_claim(ctl, ntasks, nch, batch_size, m, task):
    """Claim the next chunk of the epoch. False when none is left; else True
    and ``task`` = (batch, chunk in the batch, rows in the batch, first
    position, rows in the chunk, tasks up to the end of the batch)."""
    t = fetch_add(ctl, TEAM_CLAIM, 1)
    if t >= ntasks:
        return False
    k = t // nch
    start = k * batch_size
    bsz = min(batch_size, m - start)
    p0 = start + (t - k * nch) * CHUNK
    task[0] = k
    task[1] = t - k * nch
    task[2] = bsz
    task[3] = p0
    task[4] = min(CHUNK, start + bsz - p0)
    task[5] = min((k + 1) * nch, ntasks)
    return True


@njit(inline="always", **JIT)
def team_wait(ctl, k, X, blocks, block, p0, nb):
    """Return once batch ``k`` is open; if it is not yet, first read the
    chunk's rows ahead (returns their sum, see :func:`_touch_rows`)."""
    if load_acquire(ctl, TEAM_OPEN) >= k:
        return 0.0
    touched = _touch_rows(X, blocks, block, p0, nb)
    _wait_open(ctl, k)
    return touched


@njit(**JIT)
def sgd_epoch_worker(X, y, sw, blocks, block, mean, scale, batch_size,
                     track_loss, schedule, lr, power_t, penalty, alpha,
                     l1_ratio, average_start, w, b, steps, gsq, avg, l1_u,
                     l1_q, u, cb, G, S, ctl, acc):
    """One thread's share of a threaded epoch (see the section comment).

    Run concurrently by every thread of the epoch with the same arguments
    (:func:`fastlr._team.sgd_epoch_threaded` does); returns when no task is
    left. The arguments up to ``l1_q`` are :func:`sgd_epoch`'s; the shared
    state after them is prepared by the caller:

    u : (n,) float64 and cb : (1,) float64
        The open batch's raw-space weights and bias (:func:`team_begin`).
    G : (nch, n) float64 and S : (nch, 3) float64
        One slot of partial sums per chunk of a batch.
    ctl : (TEAM_CTL_SIZE,) int64, zeros
    acc : (2,) float64, zeros
        Receives :func:`sgd_epoch`'s ``out2``. ``steps[0]`` is not advanced
        on the lean default path (the caller adds the epoch's batches).

    Returns the sum of the elements read ahead while waiting (meaningless;
    returned so that the compiler keeps the reads).
    """
    m, n = X.shape
    nch, ntasks = team_tasks(m, batch_size)
    plain, l2, center = update_flags(schedule, penalty, alpha, average_start,
                                     mean, scale)
    g = np.empty(n)
    rows, tbuf, z, yb, wb, e, r, loss, bound = chunk_scratch()
    # partial sums accumulate in this thread's buffers and are copied into
    # the chunk's shared slot once (slot edges share cache lines with the
    # neighbouring chunk's slot; no difference measurable here, unlike the
    # multinomial worker's, but no cache line is written by two cores)
    gpart = np.empty(n)
    out3 = np.empty(3)
    touched = 0.0
    task = np.empty(6, dtype=np.int64)
    while team_claim(ctl, ntasks, nch, batch_size, m, task):
        k, ci, bsz, p0, nb, end = task[0], task[1], task[2], task[3], task[4], task[5]
        touched += team_wait(ctl, k, X, blocks, block, p0, nb)
        chunk_sums(X, y, sw, blocks, block, p0, nb, mean, center, u, cb[0],
                   track_loss, gpart, rows, z, yb, wb, e, tbuf, r, loss, bound,
                   out3)
        G[ci] = gpart
        S[ci] = out3
        if fetch_add(ctl, TEAM_DONE, 1) + 1 < end:
            continue
        # the batch's last chunk: reduce in chunk order, step, open the next
        for j in range(n):
            g[j] = 0.0
        sr = 0.0
        for c in range(end - k * nch):
            for j in range(n):
                g[j] += G[c, j]
            sr += S[c, 0]
            acc[0] += S[c, 1]
            acc[1] += S[c, 2]
        if plain:
            _step_plain(w, b, g, sr, scale, bsz, lr, l2)
        else:
            _step(w, b, g, sr, scale, bsz, schedule, lr, power_t, penalty, alpha,
                  l1_ratio, average_start, steps, gsq, avg, l1_u, l1_q)
        cb[0] = batch_weights(w, b, mean, scale, center, u)
        store_release(ctl, TEAM_OPEN, k + 1)
    return touched


# --------------------------------------------------------------------------
# benchmarking


@njit(**JIT)
def stream_sum(X):
    """Sum of every element of X, one thread: the time to read X once.

    This is the memory floor an epoch is measured against (an epoch must read
    X at least once). ``reassoc`` lets the sum vectorize.
    """
    m, n = X.shape
    total = 0.0
    for i in range(m):
        for j in range(n):
            total += X[i, j]
    return total
