"""Passes over X that read it without a model: the finiteness check, the
column sums behind standardization, and the memory floor.

Column statistics are computed in two passes (Welford's per-element
division does not vectorize; two streaming passes do): the largest ``|x|``
of each column, then sums of ``d = x / s - shift / s`` and ``d**2``, where
``s`` is that largest value and ``shift`` a value of the column (row 0's).
Dividing by ``s`` keeps every square finite for any finite ``x``; the shift
makes a constant column's spread exactly zero. With sample weights the
sums weigh each row by its weight (the statistics of the data with each row
repeated as often as its weight says). The sums are turned into
means and scales by one rule, :func:`fastlr._stats.finish`: written in
NumPy, run as is by the reference and compiled here as :func:`finish`.

Dense X is ``(m, n)`` float32/float64, C-contiguous; CSR X arrives as its
``data``, ``indices`` (sorted, no duplicates) and ``indptr``. Sums are in
float64.
"""

import numpy as np

from .. import _stats
from .jit import jit

#: :func:`fastlr._stats.finish`, compiled (one loop, fused arithmetic).
finish = jit()(_stats.finish)


@jit()
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


@jit()
def finite_1d(a):
    """True when no element of the 1-D array ``a`` is NaN or +-inf."""
    for k in range(a.shape[0]):
        v = a[k]
        if np.isnan(v) or np.isinf(v):
            return False
    return True


@jit()
def absmax(X, amax):
    """``amax[j] = max(amax[j], max_i |X[i, j]|)`` (start from zeros)."""
    m, n = X.shape
    for i in range(m):
        for j in range(n):
            amax[j] = max(amax[j], abs(np.float64(X[i, j])))


@jit()
def shifted_sums(X, sw, row_fold, folds, inv, shift, s1, s2):
    """``s1[f, j] += sum_i sw[i] d``, ``s2[f, j] += sum_i sw[i] d**2`` with
    ``d = X[i, j] * inv[j] - shift[j] * inv[j]``, over the rows ``i`` whose
    ``row_fold[i]`` differs from ``folds[f]`` (all rows, into ``f = 0``, when
    ``row_fold`` is empty): each training set's sums, in row order, from one
    read of X. An empty ``sw`` weighs every row 1 (the same arithmetic:
    ``1.0 * d`` is ``d``), so the sample-weighted statistics and the
    unweighted ones are one loop."""
    m, n = X.shape
    masked = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0
    for i in range(m):
        wi = sw[i] if weighted else 1.0
        for f in range(s1.shape[0]):
            if masked and row_fold[i] == folds[f]:
                continue
            for j in range(n):
                d = np.float64(X[i, j]) * inv[j] - shift[j] * inv[j]
                wd = wi * d
                s1[f, j] += wd
                s2[f, j] += wd * d


@jit()
def csr_absmax(data, indices, indptr, amax, count):
    """:func:`absmax` over the stored entries, and ``count[j] +=`` the
    number of rows storing column ``j``."""
    for k in range(indptr[0], indptr[indptr.shape[0] - 1]):
        j = indices[k]
        amax[j] = max(amax[j], abs(np.float64(data[k])))
        count[j] += 1


@jit()
def csr_shifted_sums(data, indices, indptr, sw, row_fold, folds, inv, shift, s1, s2):
    """:func:`shifted_sums` over the stored entries. Only a column stored
    in every row may have a non-zero shift (an implicit zero would otherwise
    add a ``-shift * inv`` term), so the zeros add nothing."""
    masked = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0
    for i in range(indptr.shape[0] - 1):
        wi = sw[i] if weighted else 1.0
        for f in range(s1.shape[0]):
            if masked and row_fold[i] == folds[f]:
                continue
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                d = np.float64(data[k]) * inv[j] - shift[j] * inv[j]
                wd = wi * d
                s1[f, j] += wd
                s2[f, j] += wd * d


@jit()
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
