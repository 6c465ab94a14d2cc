"""Column statistics for standardization: the rule written once.

Every path computes the same two passes (see
:mod:`fastlr._kernels.stats`): the largest ``|x|`` of each column, then the
sums ``s1``, ``s2`` of ``d = x / s - shift / s`` and ``d**2``. The Numba
kernels compute the sums for dense and CSR X, the NumPy reference computes
them with NumPy (:func:`numpy_sums`), and Dask adds the sums of its blocks;
all three turn them into means and scales by :func:`finish`. Plain NumPy:
the reference runs this source as is, and the kernel side compiles the
same source (:data:`fastlr._kernels.stats.finish`; the kernel cache tracks
this file), so the rule cannot drift between them.
"""

import numpy as np

#: A column whose largest ``|x|`` is below this is treated as all zeros
#: (``1 / s`` would overflow; its squares underflow anyway).
TINY = 1e-300


def scaling(amax):
    """``(s, inv)``: the per-column divisor (largest ``|x|``, 1 for an
    all-zero column) and its reciprocal."""
    s = np.where(amax >= TINY, amax, 1.0)
    return s, 1.0 / s


def finish(m, s, inv, shift, s1, s2):
    """Means and standard deviations (ddof=0) from the sums over ``m`` rows
    (float; with sample weights, ``m`` is their total).

    A spread below the rounding noise of the column's magnitude counts as
    zero (constant columns, and spread lost to rounding), and a zero spread
    gives scale 1, so that nothing divides by zero.

    Returns
    -------
    mean, scale : (n,) float64
    """
    d1 = s1 / m
    sd = np.sqrt(np.maximum(s2 / m - d1 * d1, 0.0))
    tiny = 10.0 * np.finfo(np.float64).eps * np.maximum(np.abs(d1 + shift * inv),
                                                        TINY)
    sd = np.where(sd <= tiny, 0.0, sd)
    return shift + d1 * s, np.where(sd > 0.0, sd * s, 1.0)


def dense_shift(X):
    """The shift of dense X: its first row."""
    return np.asarray(X[0], dtype=np.float64)


def csr_shift(first_row, count, m):
    """The shift of CSR X: the first row's value for columns stored in every
    one of the ``m`` rows, zero elsewhere (a column with an implicit zero is
    not shifted, so its zeros add nothing to the sums)."""
    return np.where(count == m, first_row, 0.0)


def numpy_sums(X, inv, shift, sw=None):
    """``(s1, s2)`` of :func:`finish` for dense or scipy.sparse X, in NumPy
    (the reference's twin of the kernels' sums); with sample weights ``sw``,
    each row's terms times its weight."""
    if hasattr(X, "tocsr"):
        d = X.astype(np.float64).tocsr().multiply(inv).tocsr()   # stored x / s
        d.data -= (shift * inv)[d.indices]
        wd = d if sw is None else d.multiply(sw[:, None]).tocsr()
        s1 = np.asarray(wd.sum(axis=0)).reshape(-1)
        s2 = np.asarray(wd.multiply(d).sum(axis=0)).reshape(-1)
        return s1, s2
    d = X.astype(np.float64) * inv - shift * inv
    wd = d if sw is None else d * sw[:, None]
    return wd.sum(axis=0), (wd * d).sum(axis=0)
