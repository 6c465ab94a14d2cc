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

# penalty codes: strings become ints at the boundary
PENALTY_NONE = 0
PENALTY_L2 = 1


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
    scaled by its largest absolute value before summing squares. Two passes
    (max, then shifted sums) rather than Welford: the passes are streaming
    and vectorize, Welford's per-element division does not.

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
            a = abs(np.float64(X[i, j]))
            if a > amax[j]:
                amax[j] = a
    inv = np.empty(n)
    shift = np.empty(n)
    for j in range(n):
        inv[j] = 1.0 / amax[j] if amax[j] > 0.0 else 1.0
        # shifting by the first row removes most cancellation in E[x^2]-E[x]^2
        shift[j] = np.float64(X[0, j]) * inv[j]
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    for i in range(m):
        for j in range(n):
            d = np.float64(X[i, j]) * inv[j] - shift[j]
            s1[j] += d
            s2[j] += d * d
    eps = np.finfo(np.float64).eps
    for j in range(n):
        d1 = s1[j] / m
        var = s2[j] / m - d1 * d1
        if var < 0.0:
            var = 0.0
        mu = d1 + shift[j]
        sd = np.sqrt(var)
        # a spread below rounding noise of the column's magnitude is zero
        if sd <= 10.0 * eps * max(abs(mu), 1e-300):
            sd = 0.0
        mean[j] = mu * amax[j] if amax[j] > 0.0 else 0.0
        scale[j] = sd * amax[j] if sd > 0.0 else 1.0


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


@njit(**JIT)
def sgd_epoch(X, y, sw, order, mean, scale, lr, batch_size, penalty, alpha,
              track_loss, w, b, v, g):
    """One epoch of mini-batch SGD on the standardized log-loss, fused.

    For each batch the kernel makes one pass over its rows: logit, residual
    ``sigmoid(z) - y``, row loss (from ``z``, in the stable softplus form)
    and the gradient sums are all computed while the row is in cache. The
    batch's mean gradient, penalty included, then updates ``w`` and ``b``.

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous. Read only.
    y : (m,) float64 0/1 labels.
    sw : (m,) or (0,) float64
        Sample weights; an empty array means all ones. Row ``i``'s loss and
        gradient are multiplied by ``sw[i]``; the batch gradient is still
        divided by the batch's row count (as scikit-learn's SGD does).
    order : (m,) int64
        Row visiting order; batch ``k`` is ``order[k*batch_size:(k+1)*batch_size]``.
    mean, scale : (n,) float64
        Standardization (zeros and ones when disabled).
    lr : float
        Step size.
    batch_size : int >= 1
    penalty : int
        ``PENALTY_NONE`` or ``PENALTY_L2`` (``alpha/2 * ||w||^2`` on the
        standardized weights; the intercept is not penalized).
    alpha : float
        Penalty strength.
    track_loss : bool
        Accumulate the row losses (the "running" epoch loss). When False the
        ``exp``/``log1p`` of the loss are skipped.
    w : (n,) float64, updated in place (standardized space).
    b : (1,) float64, the intercept, updated in place.
    v, g : (n,) float64 scratch buffers.

    Returns
    -------
    float
        Sum over all rows of each row's (weighted) loss at the weights in
        force when its batch was processed (0.0 when ``track_loss`` is False).
    """
    m, n = X.shape
    weighted = sw.shape[0] > 0
    total = 0.0
    bias = b[0]
    for start in range(0, m, batch_size):
        stop = min(start + batch_size, m)
        # raw-space weights for this batch: z = v . x + c
        c = bias
        for j in range(n):
            v[j] = w[j] / scale[j]
            c -= v[j] * mean[j]
            g[j] = 0.0
        sr = 0.0
        for k in range(start, stop):
            i = order[k]
            z = c
            for j in range(n):
                z += X[i, j] * v[j]
            yi = y[i]
            r = sigmoid_scalar(z) - yi
            if weighted:
                r *= sw[i]
                if track_loss:
                    total += sw[i] * row_loss(z, yi)
            elif track_loss:
                total += row_loss(z, yi)
            sr += r
            for j in range(n):
                g[j] += r * X[i, j]
        inv_b = 1.0 / (stop - start)
        # d/dw_std of the mean loss: (sum r*x - mean*sum r) / scale / B
        for j in range(n):
            grad = (g[j] - mean[j] * sr) / scale[j] * inv_b
            if penalty == PENALTY_L2:
                grad += alpha * w[j]
            w[j] -= lr * grad
        bias -= lr * sr * inv_b
    b[0] = bias
    return total
