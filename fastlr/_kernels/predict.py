"""Passes over the data at fixed weights: logits, probabilities, full-data
losses and gradients, for dense and CSR X.

Models are in raw feature space here: ``W`` (k, n) float64 and ``B`` (k,)
float64, k = 1 for the binary model. Row-wise kernels take a row range
``lo .. hi - 1``, so that :func:`fastlr._kernels.team.map_rows` can split
them over threads in fixed blocks (rows are independent; sums are added in
block order, the same for any thread count).
"""

import numpy as np

from .intrinsics import prefetch
from .jit import jit
from .scalar import row_loss, sigmoid, softmax_loss


@jit(runtime=False)
def decision(X, W, B, out, lo, hi):
    """``out[i, c] = X[i] . W[c] + B[c]`` for rows ``lo .. hi - 1``.

    X (m, n) float32/float64; out (m, k) of X's dtype (the dot product
    accumulates in float64).
    """
    n = X.shape[1]
    k = W.shape[0]
    for i in range(lo, hi):
        for c in range(k):
            z = B[c]
            for j in range(n):
                z += X[i, j] * W[c, j]
            out[i, c] = z


@jit(inline=True)
def _csr_logits(data, indices, indptr, i, W, Wf, B, z):
    """Row ``i``'s k logits into ``z``, with row ``i + 1``'s weights read
    ahead (``Wf``: W flattened; the weights are read at random columns, see
    :mod:`fastlr._kernels.sparse`)."""
    k, n = W.shape
    if i + 1 < indptr.shape[0] - 1:
        for p in range(indptr[i + 1], indptr[i + 2]):
            for c in range(k):
                prefetch(Wf, c * n + indices[p])
    for c in range(k):
        acc = B[c]
        for p in range(indptr[i], indptr[i + 1]):
            acc += data[p] * W[c, indices[p]]
        z[c] = acc


@jit()
def csr_decision(data, indices, indptr, W, B, out, lo, hi):
    """:func:`decision` for CSR X."""
    z = np.empty(W.shape[0])
    Wf = W.reshape(W.size)
    for i in range(lo, hi):
        _csr_logits(data, indices, indptr, i, W, Wf, B, z)
        for c in range(W.shape[0]):
            out[i, c] = z[c]


@jit(inline=True)
def _row_loss(z, k, yi, softmax):
    if softmax:
        return softmax_loss(z, k, yi)
    return row_loss(z[0], np.float64(yi))


@jit()
def loss_sum(X, y, sw, W, B, softmax, lo, hi):
    """Sum over rows ``lo .. hi - 1`` of the (weighted) row loss: log-loss of
    the binary model, or cross-entropy of the softmax model (``softmax``).

    y (m,) int64 class codes; sw (m,) or (0,) float64 (empty: all ones).
    """
    n = X.shape[1]
    k = W.shape[0]
    weighted = sw.shape[0] > 0
    z = np.empty(k)
    total = 0.0
    for i in range(lo, hi):
        for c in range(k):
            acc = B[c]
            for j in range(n):
                acc += X[i, j] * W[c, j]
            z[c] = acc
        li = _row_loss(z, k, y[i], softmax)
        total += sw[i] * li if weighted else li
    return total


@jit()
def csr_loss_sum(data, indices, indptr, y, sw, W, B, softmax, lo, hi):
    """:func:`loss_sum` for CSR X."""
    k = W.shape[0]
    weighted = sw.shape[0] > 0
    z = np.empty(k)
    Wf = W.reshape(W.size)
    total = 0.0
    for i in range(lo, hi):
        _csr_logits(data, indices, indptr, i, W, Wf, B, z)
        li = _row_loss(z, k, y[i], softmax)
        total += sw[i] * li if weighted else li
    return total


@jit()
def gradient_sums(X, y, p, dw):
    """Mean gradient of the log-loss: ``dw = X.T @ (p - y) / m``; returns
    ``mean(p - y)``. y float64 0/1, p float64."""
    m, n = X.shape
    for j in range(n):
        dw[j] = 0.0
    sr = 0.0
    for i in range(m):
        r = p[i] - y[i]
        sr += r
        for j in range(n):
            dw[j] += r * X[i, j]
    for j in range(n):
        dw[j] /= m
    return sr / m


@jit()
def csr_gradient_sums(data, indices, indptr, y, p, dw):
    """:func:`gradient_sums` for CSR X."""
    m = indptr.shape[0] - 1
    for j in range(dw.shape[0]):
        dw[j] = 0.0
    sr = 0.0
    for i in range(m):
        r = p[i] - y[i]
        sr += r
        for k in range(indptr[i], indptr[i + 1]):
            dw[indices[k]] += r * data[k]
    for j in range(dw.shape[0]):
        dw[j] /= m
    return sr / m


@jit(runtime=False)
def sigmoid_array(z, out):
    """``out = sigmoid(z)`` for 1-D arrays (``out`` may be ``z``)."""
    for i in range(z.shape[0]):
        out[i] = sigmoid(np.float64(z[i]))


@jit()
def softmax_rows(Z, out):
    """Row-wise softmax of the logits ``Z`` (m, k), stable for any ``Z``
    without NaN (``out`` may be ``Z``).

    The row maximum is subtracted before ``exp``. A row whose maximum is
    ``+inf`` puts its mass evenly on the ``+inf`` entries; a row of all
    ``-inf`` is uniform.
    """
    m, k = Z.shape
    for i in range(m):
        zmax = -np.inf
        for c in range(k):
            zmax = max(zmax, np.float64(Z[i, c]))
        if zmax == np.inf or zmax == -np.inf:
            hits = 0
            for c in range(k):
                if Z[i, c] == zmax:
                    hits += 1
            for c in range(k):
                out[i, c] = 1.0 / hits if Z[i, c] == zmax else 0.0
            continue
        s = 0.0
        for c in range(k):
            s += np.exp(np.float64(Z[i, c]) - zmax)
        inv = 1.0 / s
        for c in range(k):
            out[i, c] = np.exp(np.float64(Z[i, c]) - zmax) * inv


@jit()
def log_loss_sum(y, p, eps):
    """Sum over rows of the binary cross-entropy with ``p`` clipped to
    ``[eps, 1 - eps]`` in float64 (in float32, ``1 - 1e-15`` would round to
    1 and the log would be ``-inf``). y float64 0/1; the caller divides by m.
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
