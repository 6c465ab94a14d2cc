"""Column statistics for standardization: the rule written once.

Every path computes the same two passes (see
:mod:`fastlr._kernels.stats`): the largest ``|x|`` of each column, then the
sums ``s1``, ``s2`` of ``d = (x - shift) / s`` and ``d**2``, computed as
``(x / 2 - shift / 2) * (2 / s)`` (:func:`halves`): the halves cannot
overflow for any finite ``x``, and ``d`` is exactly 0 where ``x`` equals
the shift (a constant column has zero spread, exactly). The Numba
kernels compute the sums for dense and CSR X, the NumPy reference computes
them with NumPy (:func:`numpy_sums`), and Dask adds the sums of its blocks;
all three turn them into means and scales by :func:`finish`. Plain NumPy:
the reference runs this source as is, and the kernel side compiles the
same source (:func:`fastlr._kernels.stats.finish_columns`, strict: the
same bits, a column at a time; the kernel cache tracks this file), so the
rule cannot drift between them.

Running statistics (``partial_fit``) keep :class:`Moments` per chunk and
merge them (:func:`merge`) instead of making two passes over all rows; the
validation pass of dense X (:meth:`fastlr._dispatch.Data.moments`) makes
the two passes per block of rows while the block is in cache and merges
the blocks' moments the same way;
:func:`finish_moments` turns them into means and scales by the same
:func:`finish`.
"""

from typing import NamedTuple

import numpy as np

#: A column whose largest ``|x|`` is below this is treated as all zeros
#: (``1 / s`` would overflow; its squares underflow anyway).
TINY = 1e-300

#: float64 machine epsilon, as a constant: ``np.finfo`` in a kernel makes every
#: new process that loads it import numba.np.arraymath (and scipy.linalg).
EPS = float(np.finfo(np.float64).eps)


#: A variance below ``LOST * d1**2`` (``d1`` the mean offset from the shift,
#: see :func:`finish`) counts as zero: the one-pass formula's rounding. A
#: column constant over the rows that count, shifted by another value, left
#: 2e-16 of ``d1**2`` over 200 rows and 1.3e-13 over a million (random
#: weights); 2**-36 = 1.5e-11 keeps a margin. The shift is a value the sums
#: count (:func:`shift`), so ``d1**2`` is at most the variance times the
#: number of rows (:func:`shift_row`), and this bites only on 7e10 rows
#: or more.
LOST = 2.0 ** -36


def scaling(amax):
    """``(s, inv)``: the per-column divisor (largest ``|x|``, 1 for an
    all-zero column) and its reciprocal. Arrays or one column's scalars
    (the running statistics compile it per column: see
    :func:`merge`)."""
    # an arithmetic select, exact for amax >= 0 not NaN: amax * 1 + 0, or
    # amax * 0 + 1 for amax finite below TINY
    s = amax * (amax >= TINY) + (amax < TINY)
    return s, 1.0 / s


def halves(inv, shift):
    """``(shift / 2, 2 * inv)``: the sums take ``d = (x / 2 - shift / 2) *
    (2 * inv)``. Written out as ``x * inv - shift * inv`` in a compiled loop,
    LLVM (with ``reassoc``) factors it into ``(x - shift) * inv``, whose
    difference overflows for a column spanning both signs near the float64
    limit; with ``contract`` it fuses one product into the subtraction, and
    a constant column's ``d`` is then a rounding error instead of 0. Halving
    is exact, and the halves' difference cannot overflow."""
    return 0.5 * shift, 2.0 * inv


def finish(m, s, inv, shift, s1, s2):
    """Means and standard deviations (ddof=0) from the sums over ``m`` rows
    (float; with sample weights, ``m`` is their total).

    A spread below the rounding noise of the column's magnitude counts as
    zero (constant columns, and spread lost to rounding), as does a scale
    below :data:`TINY` (whose weights would not fit float64 in raw space),
    and a zero spread gives scale 1, so that nothing divides by zero (a
    spread lost to rounding: the largest ``|x|``, ``s``). So does a variance
    below :data:`LOST` times the squared mean offset ``d1`` from the shift:
    shifted by a value of the rows that count (:func:`shift`), a column
    constant over them has ``d1 = 0`` and exactly zero spread; shifted by
    any other value, ``s2 / m - d1**2`` would be the sums' rounding, not 0
    (the rule's guard; :func:`shift_row` bounds ``d1`` so that it never
    takes a real spread). The mean ``shift + d1 *
    s`` is computed in halves: ``d1 * s`` alone may exceed the float64
    range (by up to twice ``s``) when the mean and the shift have opposite
    signs near the limit.

    Returns
    -------
    mean, scale : (n,) float64
    """
    # Arithmetic and ufuncs only, no np.where: compiled, np.where brings in
    # numba's broadcasting and error-message code (3-5 s of a first fit on
    # an empty cache, against under 1 s for this form). Both selections are
    # exact: sd is finite and >= 0, so sd * (sd > tiny) is sd or 0.0, and
    # sd * s + (sd == 0.0) is sd * s or 1.0.
    d1 = s1 / m
    var = np.maximum(s2 / m - d1 * d1, 0.0)
    var = var * (var > LOST * d1 * d1)
    sd = np.sqrt(var)
    tiny = 10.0 * EPS * np.maximum(np.abs(d1 + shift * inv), TINY)
    sd = sd * (sd > tiny)
    # values that differ by rounding noise of their magnitude (nanosecond
    # timestamps 256 apart at 1.7e18) are no feature: divided by their
    # largest |x| instead of 1, their deviations from the mean stay below
    # 1e-15 and cannot carry a weight. Divided by 1, deviations of 768 took
    # a weight whose raw intercept (-w . mean, about 1e18) no prediction
    # could cancel in float64 (log-loss 0.70 returned, 0.07 trained), and
    # SGD on them ended at a loss 128x the zero model's.
    lost = (sd == 0.0) * (var > 0.0)
    # a scale below TINY counts as none: a weight of the standardized column
    # would be beyond float64 in raw space (w / scale; values near 1e-300
    # spreading by 1e-310 left the solver on the raw weight 1.8e308, the
    # other weights 4% off its optimum, and the reference at inf)
    sd = sd * (sd * s >= TINY)
    return (2.0 * (0.5 * shift + (0.5 * d1) * s),
            sd * s + (sd == 0.0) * (1.0 + lost * (s - 1.0)))


def shift_row(rows, sw=None):
    """``(i, count)``: the row whose values shift a training set's sums
    (:func:`shift`), and the number of rows the set counts. ``rows`` (m,)
    bool marks the set's rows; it counts those of positive weight ``sw``
    (all, without weights): a row of weight 0 adds nothing to the sums. The
    row is the set's first of the largest weight: then ``w_i d1**2 <= m *
    var`` bounds the mean offset ``d1`` from the shift, so :data:`LOST`
    cannot mistake a real spread for rounding, and the blocks of a Dask
    array can each name their candidate and the largest wins."""
    if rows.shape[0] == 0:
        return 0, 0
    if sw is None or len(sw) == 0:
        return int(np.argmax(rows)), int(np.count_nonzero(rows))
    return (int(np.argmax(np.where(rows, sw, -1.0))),
            int(np.count_nonzero(rows & (sw > 0))))


def shift(first_row, stored=None, counted=None):
    """The values a training set's sums shift each column by: the values
    of one of the rows it counts (:func:`shift_row`), so that the shift is a value the
    sums count and a column constant over the counted rows has exactly zero
    spread, whatever the rows that do not count hold (a weight-0 row, a
    held-out fold). On CSR X, ``stored`` gives the number of counted rows
    storing each column and ``counted`` the number of counted rows: a column
    stored in fewer is shifted by 0 instead, a value it counts (an implicit
    zero), and the only shift under which the implicit zeros add nothing to
    the sums."""
    first_row = np.asarray(first_row, dtype=np.float64)
    if stored is None:
        return first_row
    return np.where(stored == counted, first_row, 0.0)


def numpy_sums(X, inv, shift, sw=None):
    """``(s1, s2)`` of :func:`finish` for dense or scipy.sparse X, in NumPy
    (the reference's twin of the kernels' sums); with sample weights ``sw``,
    each row's terms times its weight."""
    half, inv2 = halves(inv, shift)
    if hasattr(X, "tocsr"):
        d = X.astype(np.float64).tocsr()
        d.data = (0.5 * d.data - half[d.indices]) * inv2[d.indices]
        wd = d if sw is None else d.multiply(sw[:, None]).tocsr()
        s1 = np.asarray(wd.sum(axis=0)).reshape(-1)
        s2 = np.asarray(wd.multiply(d).sum(axis=0)).reshape(-1)
        return s1, s2
    d = (0.5 * X.astype(np.float64) - half) * inv2
    wd = d if sw is None else d * sw[:, None]
    return wd.sum(axis=0), (wd * d).sum(axis=0)


# --------------------------------------------------------------------------
# running statistics: the moments of rows seen so far, merged chunk by chunk


class Moments(NamedTuple):
    """Column moments of ``rows`` rows, mergeable with other rows' moments.

    ``m2`` is the sum of squared deviations from ``mean``, divided by the
    square of the column's divisor ``s`` (``scaling(amax)``), so that it is
    finite for any finite data, as the sums of :func:`finish` are.

    Attributes
    ----------
    rows : int, or float: the total sample weight of weighted rows
    amax : (n,) float64, the largest ``|x|`` of each column
    mean : (n,) float64
    m2 : (n,) float64, ``sum((x - mean)**2) / s**2``
    """

    rows: int
    amax: np.ndarray
    mean: np.ndarray
    m2: np.ndarray



def widened(cols, part, n):
    """:class:`Moments` of ``n`` columns from ``part``, the moments at
    ``cols`` alone: those of a column of zeros (+0.0 in every field) at the
    other columns (CSR rows that store nothing there)."""
    wide = []
    for values in part[1:]:
        full = np.zeros(n)
        full[cols] = values
        wide.append(full)
    return Moments(part.rows, *wide)

def moments(m, amax, shift, s1, s2, div=None, mean=None, m2=None):
    """:class:`Moments` of ``m`` rows from the two passes (``s1``, ``s2`` as
    in :func:`finish`, in units of ``div``: by default the divisor of
    :func:`scaling`, else any per-column divisor at least the largest
    ``|x|``). The mean is the one :func:`finish` returns, or ``mean`` when
    the caller has it already (the compiled :func:`finish`'s, say); so is
    ``m2``, :func:`spread` of the sums (before any ``div``)."""
    m2 = spread(m, s1, s2) if m2 is None else m2
    if div is not None:
        s = scaling(amax)[0]
        r = div / s       # m2 in units of the divisor of scaling
        m2 = m2 * r * r
        if mean is None:
            mean = finish(m, div, 1.0 / div, shift, s1, s2)[0]
    elif mean is None:
        mean = finish(m, *scaling(amax), shift, s1, s2)[0]
    return Moments(m, np.asarray(amax, dtype=np.float64), mean, m2)


def spread(m, s1, s2):
    """``m2`` of :class:`Moments` (in units of the sums' divisor) from the
    sums ``s1``, ``s2`` of :func:`finish` over ``m`` rows: their squared
    deviations from the mean. Arrays or one column's scalars."""
    return np.maximum(s2 - s1 * (s1 / m), 0.0)


def merge_all(parts):
    """The :class:`Moments` of the rows of every part, merged left to right
    (:func:`merge`): a fixed order, so the result depends only on the
    parts."""
    out = parts[0]
    for p in parts[1:]:
        out = merge(out, p)
    return out


def merge(a, b):
    """The :class:`Moments` of the rows of ``a`` and ``b`` together.

    Chan, Golub and LeVeque's pairwise update (1979), in units of the
    merged divisor ``s``: ``m2 = m2_a + m2_b + delta**2 * n_a n_b / n`` with
    ``delta`` the difference of the means, and the mean moved from the
    larger part's toward the smaller part's by ``delta`` times the smaller
    weight. Every term is then at most ``n`` (or ``s``) in size, so nothing
    overflows for any finite data, and equal means (a column constant
    across both parts) give exactly that mean and ``m2 = 0``.

    The fields may also be one column's scalars: the kernels compile this
    source and run it column by column (:func:`merge_finish`).
    """
    n = a.rows + b.rows
    amax = np.maximum(a.amax, b.amax)
    s, inv = scaling(amax)
    delta = b.mean * inv - a.mean * inv            # |delta| <= 2
    wb = b.rows / n
    if wb <= 0.5:
        mean = a.mean + (delta * wb) * s
    else:
        mean = b.mean - (delta * (a.rows / n)) * s
    m2 = (_rescaled(a.m2, a.amax, s) + _rescaled(b.m2, b.amax, s)
          + delta * delta * (a.rows * wb))
    return Moments(n, amax, mean, m2)


def _rescaled(m2, amax, s):
    """``m2`` in units of a larger divisor ``s``."""
    # a column all zeros so far has m2 = 0 and divisor 1, whatever the new
    # one (r * r may overflow then): the select zeroes r first, exactly
    # (m2 * r * r when m2 > 0, else 0 * 0 * 0, for m2 >= 0 not NaN). The
    # ratio is divided, not multiplied by the reciprocal: an unchanged
    # divisor gives exactly 1, where s * (1 / s) is 1 - 2**-53 for many s
    # and every merge shrank m2 by that (the scale 1.8e-12 low after 20,000
    # merges of one chunk, 8.5e-11 after 10**6)
    r = scaling(amax)[0] / s * (m2 > 0.0)
    return m2 * r * r


def merge_finish(a, b, means=True):
    """``(merged, mean, scale)``: :func:`merge` of ``a`` and ``b`` and
    :func:`finish_moments` of the result, the step of running statistics
    (:meth:`fastlr._state.ModelState.add_rows`). The kernel side runs this
    source compiled, column by column, in one pass and without temporaries
    (:func:`fastlr._dispatch.merge_finish`, which does not compute the mean
    when ``means`` is False and gives None for it; here ``means`` changes
    nothing)."""
    merged = merge(a, b)
    mean, scale = finish_moments(merged)
    return merged, mean, scale


def finish_moments(mom):
    """``(mean, scale)`` of :class:`Moments` by the rule of :func:`finish`
    (the moments are sums about the mean itself: ``shift = mean``,
    ``s1 = 0``, ``s2 = m2``)."""
    s, inv = scaling(mom.amax)
    # s1 = 0 as a scalar: the same values as an array of zeros, one pass fewer
    return finish(mom.rows, s, inv, mom.mean, 0.0, mom.m2)

