"""Passes over X that read it without a model: the finiteness check, the
column sums behind standardization, and the memory floor.

Column statistics are computed in two passes (Welford's per-element
division does not vectorize; two streaming passes do): the largest ``|x|``
of each column, then sums of ``d = (x - shift) / s`` and ``d**2``, where
``s`` is that largest value and ``shift`` a value of the column in a row
the sums count (:func:`fastlr._stats.shift`).
Dividing by ``s`` keeps every square finite for any finite ``x``; the shift
makes a constant column's spread exactly zero (``d`` is computed in halves,
see :func:`fastlr._stats.halves`, so that neither property is lost to the
compiler's rewriting). With sample weights the sums weigh each row by its
weight (the statistics of the data with each row repeated as often as its
weight says). The sums are turned into
means and scales by one rule, :func:`fastlr._stats.finish`: written in
NumPy, run as is by the reference and compiled here a column at a time
(:func:`finish_columns`, strict: NumPy's bits).

Dense X is ``(m, n)`` float32/float64, C-contiguous; CSR X arrives as its
``data``, ``indices`` (sorted, no duplicates) and ``indptr``. Sums are in
float64.
"""

import math
import types

import numpy as np

from .. import _stats
from .._choices import FORM_INDPTR, FORM_NONFINITE, FORM_OUTSIDE, FORM_UNSORTED
from .intrinsics import (
    prefetch,
    vabs,
    vadd,
    vfma,
    vgreater,
    vload,
    vmax,
    vmul,
    vsplat,
    vsplat8,
    vstore,
    vstore8,
)
from .jit import jit

#: :func:`fastlr._stats.halves`, compiled (called by the sums).
halves = jit(exact=True)(_stats.halves)


# ---------------------------------------------------------------------------
# running statistics: the rule of fastlr._stats, compiled column by column

#: The namespace the per-column compilations of :mod:`fastlr._stats` run
#: in: the module's own, its functions replaced by their compilations as
#: they are made (:func:`_rule`), so that one rule calling another calls it
#: compiled.
_RULE = dict(vars(_stats))


def _rule(func):
    """``func`` of :mod:`fastlr._stats`, the same source, compiled for one
    column's scalars and inlined into the kernel that calls it (numba's
    ``inline``): its arithmetic takes that kernel's flags (``strict`` for
    NumPy's bits), and a loop over
    the columns is one body, which LLVM vectorizes and in which common
    terms are computed once (called through numba's calls,
    :func:`merge_columns` took 7x the time on 1M columns, its divisions
    done one by one). Its calls of the module's other functions call their
    compilations (made before it). Named ``rule_<name>``: numba's cache
    keys an entry by the function's name and signature, not its flags, and
    the same function could be compiled elsewhere with other flags."""
    copy = types.FunctionType(func.__code__, _RULE, func.__name__,
                              func.__defaults__, func.__closure__)
    copy.__qualname__ = f"rule_{func.__qualname__}"
    copy.__module__ = func.__module__
    copy.__doc__ = func.__doc__
    compiled = jit(strict=True, inline=True)(copy)
    _RULE[func.__name__] = compiled
    return compiled


rule_scaling = _rule(_stats.scaling)
rule_finish = _rule(_stats.finish)
rule_spread = _rule(_stats.spread)
rule_rescaled = _rule(_stats._rescaled)
rule_merge = _rule(_stats.merge)
rule_finish_moments = _rule(_stats.finish_moments)
rule_merge_finish = _rule(_stats.merge_finish)


@jit(strict=True)
def finish_columns(m, s, inv, shift, s1, s2, mean, scale):
    """:func:`fastlr._stats.finish` one column at a time into ``mean`` and
    ``scale``, strict: the values of its NumPy run (the reference's), one
    pass, no temporary. The compiled array form (``jit(exact=True)`` of
    the same source, its products contracted into fused multiply-adds,
    which Dask's statistics used too) made a dozen temporaries of the full
    width, 27 ms of a 98 ms sparse ``partial_fit`` call (under cProfile) on
    1M columns even in blocks of 2048, and rounded some means an ulp away
    from NumPy's."""
    for j in range(mean.shape[0]):
        mean[j], scale[j] = rule_finish(m, s[j], inv[j], shift[j], s1[j], s2[j])


@jit(strict=True)
def spread_columns(m, s1, s2, m2):
    """:func:`fastlr._stats.spread` one column at a time (``m`` float64),
    strict: the values of its NumPy run, one pass, no temporary."""
    for j in range(m2.shape[0]):
        m2[j] = rule_spread(m, s1[j], s2[j])


@jit(strict=True)
def merge_columns(a_rows, a_amax, a_mean, a_m2, b_rows, b_amax, b_mean, b_m2,
                  amax, mean, m2, std_mean, std_scale):
    """:func:`fastlr._stats.merge_finish` of the moments ``a`` and ``b``
    (their rows as float64, their fields as arrays), one column at a time:
    ``amax``, ``mean``, ``m2`` receive the merged moments, ``std_mean``,
    ``std_scale`` the standardization they give (``std_mean`` empty: not
    wanted, a standardization that does not centre). The values NumPy's run
    of the same source gives (strict arithmetic), from one pass over the
    columns instead of some forty NumPy passes and temporaries (on 1M
    columns, 3.5 ms against 60-90 ms, the larger part of a ``partial_fit``
    call)."""
    means = std_mean.shape[0] > 0
    for j in range(amax.shape[0]):
        merged, mu, sc = rule_merge_finish(
            _stats.Moments(a_rows, a_amax[j], a_mean[j], a_m2[j]),
            _stats.Moments(b_rows, b_amax[j], b_mean[j], b_m2[j]))
        amax[j] = merged.amax
        mean[j] = merged.mean
        m2[j] = merged.m2
        if means:
            std_mean[j] = mu
        std_scale[j] = sc


#: How far ahead of its reads a statistics pass prefetches X. The lane
#: loop of :func:`moment_sums` alone, on 1M x 100 float64 and one thread,
#: took 1.56x the floor with no prefetch, 1.14x at 2 KiB ahead, 1.06-1.08x
#: at 4-16 KiB and 1.16x at 32 KiB (one run, a row at a time). Four rows
#: at a time on a Zen 4 core: 1.15-1.3x the floor at 1.6-6.4 KiB, 1.5x
#: at 8 KiB, 2x with no prefetch (two runs, minimums of 7).
STATS_PREFETCH_BYTES = 4096


@jit(inline=True)
def prefetch_ahead(flat, i, n, lead, last):
    """Ask for row ``i``'s worth of X ``lead`` elements ahead of row ``i``
    (``flat``: C-contiguous X as 1-D, ``last`` its last index), a line at a
    time: the statistics passes store three or two sums per four values,
    which keeps the hardware prefetcher behind."""
    step = max(1, 64 // flat.itemsize)
    first = i * n + lead
    for j in range(0, n, step):
        prefetch(flat, min(first + j, last))


@jit(runtime=False)
def all_finite(X, lo, hi):
    """True when no element of rows ``lo .. hi - 1`` of the 2-D array ``X``
    is NaN or +-inf.

    One pass and no temporary, unlike ``np.isfinite(X).all()`` which builds
    a boolean array of ``m * n`` bytes.
    """
    n = X.shape[1]
    for i in range(lo, hi):
        acc = 0.0
        for j in range(n):
            acc += X[i, j] * 0.0  # NaN if any element is NaN or inf
        if acc != 0.0:
            return False
    return True


@jit(runtime=False)
def finite_1d(a):
    """True when no element of the 1-D array ``a`` is NaN or +-inf."""
    for k in range(a.shape[0]):
        v = a[k]
        if np.isnan(v) or np.isinf(v):
            return False
    return True


#: Rows per part of :func:`csr_form`: a part's stored column indices are
#: read twice (all of them, then those at its rows' starts) while they are
#: in L2.
FORM_ROWS = 4096


@jit(runtime=False)
def csr_form(data, indices, indptr, n, finite, lo, hi):
    """What the validation of CSR X (:func:`fastlr._validation.check_sparse_X`)
    needs to know of rows ``lo .. hi - 1``, in one read of their
    ``indptr``, ``indices`` and (``finite``) ``data``: a sum of the
    :mod:`fastlr._choices` ``FORM_*`` flags, 0 for rows that are
    canonical, in range and finite.

    ``indptr`` is checked first (:data:`~fastlr._choices.FORM_INDPTR`:
    a part's values not non-decreasing, or outside ``0 ..
    indptr[-1]``, which the caller checked against the arrays' lengths), a
    part of :data:`FORM_ROWS` rows at a time, before any column index of
    the part is read, so the pass reads no position outside the arrays
    whatever ``indptr`` holds (blocks of rows may run on several threads).
    Then the part's indices, flat, as one loop that vectorizes: their
    smallest and largest value (:data:`~fastlr._choices.FORM_OUTSIDE`
    beyond ``0 .. n - 1``; the pass returns there, on the first such part)
    and how many are not above the one stored before them; those at a
    row's first entry are no fault and are counted off, the rest make
    :data:`~fastlr._choices.FORM_UNSORTED` (a row not strictly
    increasing: unsorted or duplicate). ``finite``: a NaN or infinity in
    ``data`` adds :data:`~fastlr._choices.FORM_NONFINITE` (``x * 0``
    is 0 for finite ``x``, NaN otherwise: a sum that vectorizes).

    The NumPy passes this replaced (a comparison of ``indptr``'s
    neighbours, the indices a slice at a time with temporaries,
    ``np.isfinite(data)``) took most of a CSR prediction's time."""
    end = np.uint64(indptr[indptr.shape[0] - 1])
    u1 = np.uint64(1)
    code = 0
    for r0 in range(lo, hi, FORM_ROWS):
        r1 = min(r0 + FORM_ROWS, hi)
        a, b = np.uint64(indptr[r0]), np.uint64(indptr[r1])
        down = 0
        # unsigned rows (see predict.row_span): 0.4x the time on 1M rows
        for i in range(np.uint64(r0), np.uint64(r1)):
            down += indptr[i + u1] < indptr[i]
        if down or a > b or b > end:
            return code | FORM_INDPTR
        if a == b:
            continue
        small = large = indices[a]
        drops = 0
        for p in range(a + u1, b):
            j = indices[p]
            small = min(small, j)
            large = max(large, j)
            drops += j <= indices[p - u1]
        if small < 0 or large >= n:
            return code | FORM_OUTSIDE
        if drops:
            for i in range(np.uint64(r0 + 1), np.uint64(r1)):
                s = np.uint64(indptr[i])
                if s > a and s < np.uint64(indptr[i + u1]):
                    drops -= indices[s] <= indices[s - u1]
            if drops:
                code |= FORM_UNSORTED
        if finite:
            acc = 0.0
            for p in range(a, b):
                acc += data[p] * 0.0
            if acc != 0.0:
                code |= FORM_NONFINITE
    return code


@jit()
def absmax(X, sw, row_fold, folds, amax):
    """``amax[f, j] = max(amax[f, j], |X[i, j]|)`` over the rows ``i`` of
    training set ``f`` (as :func:`shifted_sums`; of positive weight ``sw``
    when given): each set is divided by its own rows' largest values, so a
    row of weight 0 or held out (a masked sentinel of 1e300) cannot scale
    the others into underflow, and a fold's statistics are those of its
    rows alone. Start from zeros; X finite; four columns at a time (see
    :func:`moment_sums`)."""
    m, n = X.shape
    masked = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0
    n4 = n - n % 4
    flat = X.reshape(m * n)
    lead = STATS_PREFETCH_BYTES // X.itemsize
    for i in range(m):
        prefetch_ahead(flat, i, n, lead, m * n - 1)
        if weighted and not sw[i] > 0.0:
            continue
        for f in range(amax.shape[0]):
            if masked and row_fold[i] == folds[f]:
                continue
            for j in range(0, n4, 4):
                vstore(amax, (f, j), vmax(vload(amax, (f, j)), vabs(vload(X, (i, j)))))
            for j in range(n4, n):
                amax[f, j] = max(amax[f, j], abs(np.float64(X[i, j])))


@jit()
def shifted_sums(X, sw, row_fold, folds, inv, shift, s1, s2):
    """``s1[f, j] += sum_i sw[i] d``, ``s2[f, j] += sum_i sw[i] d**2`` with
    ``d = (X[i, j] - shift[f, j]) * inv[f, j]``, computed in halves
    (:func:`fastlr._stats.halves`: no overflow, exact zeros), over the rows
    ``i`` whose ``row_fold[i]`` differs from ``folds[f]`` (all rows, into
    ``f = 0``, when ``row_fold`` is empty): each training set's sums, in row
    order, from one read of X. An empty ``sw`` weighs every row 1 (the same
    arithmetic: ``1.0 * d`` is ``d``), so the sample-weighted statistics and
    the unweighted ones are one loop."""
    m, n = X.shape
    half, inv2 = halves(inv, shift)
    nhalf = -half
    masked = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0
    n4 = n - n % 4
    h = vsplat(0.5)
    flat = X.reshape(m * n)
    lead = STATS_PREFETCH_BYTES // X.itemsize
    for i in range(m):
        prefetch_ahead(flat, i, n, lead, m * n - 1)
        wi = sw[i] if weighted else 1.0
        w4 = vsplat(wi)
        for f in range(s1.shape[0]):
            if masked and row_fold[i] == folds[f]:
                continue
            # four columns at a time, as the validation pass (its lanes
            # round as this scalar tail does)
            for j in range(0, n4, 4):
                d = vmul(vfma(h, vload(X, (i, j)), vload(nhalf, (f, j))),
                         vload(inv2, (f, j)))
                wd = vmul(w4, d)
                vstore(s1, (f, j), vadd(vload(s1, (f, j)), wd))
                vstore(s2, (f, j), vfma(wd, d, vload(s2, (f, j))))
            for j in range(n4, n):
                d = (0.5 * np.float64(X[i, j]) - half[f, j]) * inv2[f, j]
                wd = wi * d
                s1[f, j] += wd
                s2[f, j] += wd * d


@jit(inline=True)
def pow2_divisor(a):
    """The power of two at least ``a`` (at most 2**1023, so ``2 / p`` and
    ``p`` are finite), or 1 for ``a`` below :data:`fastlr._stats.TINY`
    (an all-zero column, as :func:`fastlr._stats.scaling`)."""
    if a < _stats.TINY:
        return 1.0
    e = math.frexp(a)[1]                 # a < 2**e
    return math.ldexp(1.0, min(e, 1023))


#: Sub-blocks whose values (and shift) all lie in ``[FAST_LOW, FAST_HIGH]``
#: or are 0 take the one-pass route of :func:`moment_sums`: their
#: unscaled squares neither overflow nor underflow.
FAST_LOW = 2.0 ** -450
FAST_HIGH = 2.0 ** 450


@jit(exact=True, inline=True)
def _lane_rows(X, i, nr, n4, hv, nhalf, u1, u2, ab):
    """:func:`_block_sums`' lanes for the rows ``i .. i + nr - 1`` and the
    columns below ``n4``: each column's terms added in row order."""
    for j in range(0, n4, 4):
        nh = vload(nhalf, j)
        a1 = vload(u1, j)
        a2 = vload(u2, j)
        am = vload(ab, j)
        for r in range(nr):
            v = vload(X, (i + r, j))
            e = vfma(hv, v, nh)
            a1 = vadd(a1, e)
            a2 = vfma(e, e, a2)
            am = vgreater(vabs(v), am)
        vstore(u1, j, a1)
        vstore(u2, j, a2)
        vstore(ab, j, am)


@jit(exact=True, runtime=False)
def _block_sums(X, b0, b1, lead, nhalf, half, u1, u2, ab):
    """:func:`moment_sums`' pass over the rows ``b0 .. b1 - 1`` of a
    sub-block: ``e = x / 2 - half`` (``nhalf = -half``) added into ``u1``
    and ``e**2`` into ``u2``, the largest ``|x|`` into ``ab``, each column's
    terms added in row order. Rows ``lead`` elements ahead are asked for
    (:func:`prefetch_ahead`).

    Four columns at a time in explicit lanes, because LLVM left the loop
    scalar (it writes three arrays it cannot prove apart), which made the
    pass compute-bound at twice the floor; and four rows at a time, the
    sums kept in registers across them, because a row at a time it still
    was on a Zen 4 core with a fast memory (1M x 100 float64, one thread:
    0.45 ns an element against 0.33-0.36, the floor 0.27; see
    :data:`STATS_PREFETCH_BYTES`; the four rows written out one by one
    instead of the loop over ``nr``: 0.30-0.31, but the same lines four
    times). The lanes round as the scalar loop of the columns past them
    does. Compiled without ``reassoc`` (LLVM could add four rows' terms
    together before adding them to the sums) and without numba's runtime:
    inlined into :func:`moment_sums`, which allocates, the arrays its loops
    passed around were reference counted (a third of the samples, 3x the
    time). The largest ``|x|`` is kept with :func:`vgreater` (one ``maxpd``;
    :func:`vmax`'s NaN rule cost two more instructions per four values, and
    a NaN needs no rule here: it makes the sums NaN, and the sub-block is
    checked again), and a run of four rows (every run but a block's last)
    takes a loop of a constant count, which LLVM unrolls: on 1,000-65,000
    rows x 100 float64 in cache, one thread, the pass took 0.84-0.87x the
    time (0.28-0.30 ns an element against 0.33-0.36; :func:`vgreater`
    alone 0.93-0.95x).
    """
    m, n = X.shape
    n4 = n - n % 4
    flat = X.reshape(m * n)
    last = m * n - 1
    hv = vsplat(0.5)
    i = b0
    while i < b1:
        nr = min(4, b1 - i)
        for r in range(nr):
            prefetch_ahead(flat, i + r, n, lead, last)
        if nr == 4:   # a constant count: the row loop unrolled
            _lane_rows(X, i, 4, n4, hv, nhalf, u1, u2, ab)
        else:
            _lane_rows(X, i, nr, n4, hv, nhalf, u1, u2, ab)
        for r in range(nr):
            for j in range(n4, n):
                v = np.float64(X[i + r, j])
                e = 0.5 * v - half[j]
                u1[j] += e
                u2[j] += e * e
                ab[j] = np.fmax(ab[j], abs(v))
        i += nr


@jit(exact=True)
def moment_sums(X, sub, rows, shift, pdiv, amax, s1, s2, lo, hi):
    """Validation and the column sums of rows ``lo..hi-1`` in one read of
    them: False if a value is NaN or +-inf, else True and row
    ``b = lo // rows`` of the (B, n) outputs filled.

    The sums are those of the two-pass rule (:func:`shifted_sums`): of
    ``d = (x - shift) / pdiv`` and ``d**2``, computed in halves, where
    ``shift[b]`` is row ``lo`` (a constant column's ``d`` is exactly 0) and
    ``pdiv[b]`` the power of two at least the largest ``|x|``
    (:func:`pow2_divisor`, so ``|d| <= 4``: every square is finite). Each
    sub-block of ``sub`` rows is read once: the sums of ``e = x / 2 -
    shift / 2`` and ``e**2`` and the largest ``|x|`` are gathered together,
    then multiplied by ``2 / pdiv`` (a power of two: exact) when the divisor
    is known; when the divisor grows, the sums so far are rescaled, exactly.
    A sub-block whose values are NaN, infinite, or outside ``[FAST_LOW,
    FAST_HIGH]`` (where ``e**2`` could overflow or underflow) is read again
    (from cache, unless its rows are so wide that the caller's least number
    of rows, :data:`fastlr._dispatch.STATS_SUB_ROWS`, does not fit), checked,
    and summed with the divisor applied first.
    The block's sums become :class:`fastlr._stats.Moments`
    (:func:`fastlr._stats.moments`) merged in block order, so the result
    does not depend on the thread count.
    """
    m, n = X.shape
    b = lo // rows
    sh = shift[b]
    pd = pdiv[b]
    am = amax[b]
    t1 = s1[b]
    t2 = s2[b]
    half = np.empty(n)
    inv2 = np.empty(n)
    u1 = np.empty(n)
    u2 = np.empty(n)
    ab = np.empty(n)
    nhalf = np.empty(n)
    lead = STATS_PREFETCH_BYTES // X.itemsize
    for j in range(n):
        sh[j] = X[lo, j]
        half[j] = 0.5 * sh[j]
        nhalf[j] = -half[j]
        pd[j] = 0.0
        am[j] = 0.0
        t1[j] = 0.0
        t2[j] = 0.0
    big = 1.7976931348623157e308   # the largest float64 (np.finfo in a kernel
    # imports numba.np.arraymath, and scipy.linalg with it, in every process)
    for b0 in range(lo, hi, sub):
        b1 = min(b0 + sub, hi)
        for j in range(n):
            u1[j] = 0.0
            u2[j] = 0.0
            ab[j] = 0.0
        _block_sums(X, b0, b1, lead, nhalf, half, u1, u2, ab)
        fast = True
        for j in range(n):
            g = max(ab[j], abs(sh[j]))
            # false for NaN (a non-finite value, or an overflowing sum)
            if not (abs(u1[j]) <= big and u2[j] <= big
                    and (g == 0.0 or FAST_LOW <= g <= FAST_HIGH)):
                fast = False
        if not fast:
            acc = 0.0
            for i in range(b0, b1):
                for j in range(n):
                    acc += X[i, j] * 0.0   # NaN if any value is NaN or inf
            if acc != 0.0:
                return False
        for j in range(n):
            am[j] = max(am[j], ab[j])
            p = pow2_divisor(am[j])
            if p != pd[j]:
                if pd[j] > 0.0:
                    r = pd[j] / p          # a power of two: exact
                    t1[j] *= r
                    t2[j] *= r * r
                pd[j] = p
                inv2[j] = 2.0 / p
        if fast:
            for j in range(n):
                t1[j] += u1[j] * inv2[j]
                t2[j] += (u2[j] * inv2[j]) * inv2[j]
        else:
            for i in range(b0, b1):
                for j in range(n):
                    d = (0.5 * np.float64(X[i, j]) - half[j]) * inv2[j]
                    t1[j] += d
                    t2[j] += d * d
    return True


@jit()
def csr_absmax(data, indices, indptr, sw, row_fold, folds, amax, stored):
    """:func:`absmax` over the stored entries, and ``stored[f, j] +=`` the
    number of rows of training set ``f`` (as :func:`shifted_sums`; of
    positive weight ``sw`` when given) storing column ``j``."""
    masked = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0
    for i in range(indptr.shape[0] - 1):
        if weighted and not sw[i] > 0.0:
            continue
        for f in range(stored.shape[0]):
            if masked and row_fold[i] == folds[f]:
                continue
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                amax[f, j] = max(amax[f, j], abs(np.float64(data[k])))
                stored[f, j] += 1


@jit()
def csr_shifted_sums(data, indices, indptr, sw, row_fold, folds, inv, shift, s1, s2):
    """:func:`shifted_sums` over the stored entries. Only a column stored
    in every row a set counts may have a non-zero shift in it (an implicit
    zero would otherwise add a ``-shift * inv`` term; see
    :func:`fastlr._stats.shift`), so the zeros add nothing. The halves
    are taken per entry (:func:`halves` of the column's scalars, the same
    values): of the full width, they were two fresh arrays of ``n`` for a
    chunk that may store a few thousand values (on 1M columns, more than
    the sums themselves)."""
    masked = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0
    for i in range(indptr.shape[0] - 1):
        wi = sw[i] if weighted else 1.0
        for f in range(s1.shape[0]):
            if masked and row_fold[i] == folds[f]:
                continue
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                half, inv2 = halves(inv[f, j], shift[f, j])
                d = (0.5 * np.float64(data[k]) - half) * inv2
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


@jit(runtime=False)
def multiply_adds(rounds, out):
    """``rounds`` rounds of eight independent chains of eight-lane fused
    multiply-adds (``a = a * c + d``), touching no memory: 64 multiply-adds
    a round at the rate the core's FMA units allow. This is the arithmetic
    floor :mod:`fastlr.bench` sets beside the many-model epoch, whose
    multiply-adds (the logits and the gradients of every model) grow with
    the models while its read of X does not, as :func:`stream_sum` is the
    memory floor. Eight chains cover a four-cycle latency on two FMA units.
    ``out`` (8,) receives the lanes' sums, so that the loop is kept."""
    c = vsplat8(1.0 - 2.0 ** -20)
    d = vsplat8(2.0 ** -30)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = vsplat8(0.0)
    for _ in range(rounds):
        a0 = vfma(a0, c, d)
        a1 = vfma(a1, c, d)
        a2 = vfma(a2, c, d)
        a3 = vfma(a3, c, d)
        a4 = vfma(a4, c, d)
        a5 = vfma(a5, c, d)
        a6 = vfma(a6, c, d)
        a7 = vfma(a7, c, d)
    vstore8(out, 0, vadd(vadd(vadd(a0, a1), vadd(a2, a3)),
                         vadd(vadd(a4, a5), vadd(a6, a7))))
