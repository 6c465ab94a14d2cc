"""Passes over the data at fixed weights: logits, probabilities, full-data
losses and gradients, for dense and CSR X.

Models are in raw feature space here: ``W`` (k, n) float64 and ``B`` (k,)
float64, k = 1 for the binary model. Row-wise kernels take a row range
``lo .. hi - 1``, so that :func:`fastlr._kernels.team.map_rows` can split
them over threads in fixed blocks (rows are independent; sums are added in
block order, the same for any thread count).

The full-data loss and gradient (:func:`loss_grad`, :func:`csr_loss_grad`)
is what the deterministic solvers iterate on: one read of X per call, in
chunks of ``CHUNK`` rows, each chunk in three phases while its rows are in
cache (logits; residuals and losses, :func:`_chunk_residuals`, the one
place where the binary and softmax models differ; gradient sums). The two
kernels differ only in how a row is read.
"""

import numpy as np

from .intrinsics import prefetch_l2, vadd, vfma, vload, vmul, vsplat, vstore
from .jit import jit
from .scalar import (
    exp_neg_abs,
    exp_nonpositive,
    log1p_unit,
    log_normal,
    logistic_row,
    residuals,
    row_loss,
    sigmoid_lanes,
    softmax_loss,
    softmax_row,
)

#: Rows per chunk of the loss-and-gradient pass: the chunk's logits and
#: residuals stay in a few kB of scratch, its rows in L1/L2 between phases.
CHUNK = 64

#: From this many weights (columns x models x classes) on, the CSR passes
#: ask for the next row's weights and gradient sums before working on the
#: current row: the table no longer fits in L2. Below, the prefetches cost
#: more than they save (40,000 x 50,000, 30 entries a row, one model: the
#: pass took 1.4x the time with them). Their loops still cost when they do
#: not run: the same pass compiled without them took 0.7x the time (a
#: kernel per case would take that too; a call of their own did not).
CSR_PREFETCH_MIN = 1 << 17


#: How many rows ahead of its work the loss-and-gradient pass asks for X
#: (:func:`ask_row`): two chunks, as the dense epoch.
AHEAD_ROWS = 2 * CHUNK


@jit(inline=True)
def ask_row(Xf, n, i):
    """Ask L2 for row ``i`` of X (``Xf``: C-contiguous X, flat), a line at
    a time. The chunked passes (the dense epoch, :func:`loss_grad`) ask
    for a row a few chunks ahead while they work on a chunk: where X
    streams from memory and the arithmetic is not free (a fast memory, one
    model), the hardware prefetcher alone left the memory idle during each
    chunk's residuals and gradient. On 1M x 100 float64 (batch 256, a Zen
    4 core) the one-model epoch took 0.79-0.84x the time on one thread
    and 0.81x on two (medians of 11 and 21 interleaved rounds) asking one
    or two chunks ahead; asking into L1 took 1.13x, a whole chunk at once
    1.03x. The prediction pass, which computes less per row, took 1.22x
    with it."""
    base = i * n
    step_ = max(1, 64 // Xf.itemsize)
    for j in range(0, n, step_):
        prefetch_l2(Xf, base + j)
    prefetch_l2(Xf, base + n - 1)


@jit(inline=True)
def ask_share(Xf, n, ahead, na, b, nblocks):
    """Ask L2 for block ``b``'s share of the rows ``ahead[:na]``
    (:func:`ask_row`; ``Xf`` is X, flat, of ``n`` columns), the rows spread
    evenly over ``nblocks`` blocks of a phase that reads only rows already
    in cache, so that memory keeps streaming while the chunk computes.

    The many-model chunk asks for the chunk AHEAD_CHUNKS later during its
    gradient phase (:func:`fastlr._kernels.dense.chunk_logistic_many`).
    Before, only the logit phase brought rows in, faster than one core
    streams them, and it took about twice the gradient phase's time for the
    same multiply-adds (cycle counters, one thread). On 1M x 100 float64,
    16 models, batch 256, the epoch took 0.93x the time on one thread and
    0.94x on two (medians of 12 rounds alternating in one process;
    0.85-0.94x in three other runs), 0.94x at 4 models; no change at 32.
    Asking during the logit phase as well measured no better.

    The one-model chunk (:func:`fastlr._kernels.dense.chunk_logistic`) asks
    for half of the rows during its logits, a row every other row, and for
    the other half during its gradient (:func:`add_rows`), where it asked
    for all of them during its logits. On a Zen 3 core (1M x 100 float64,
    batch 256, both versions alternating in one process, medians of 9-11
    rounds) the epoch took 0.81-0.96x the time on two threads and
    0.92-0.97x on one, in natural order and in shuffled blocks; 0.96x and
    0.98x with rows shuffled one by one. Asking for a quarter during the
    logits measured 0.94-1.06x.
    """
    for h in range(b * na // nblocks, (b + 1) * na // nblocks):
        ask_row(Xf, n, ahead[h])


@jit(inline=True)
def row_span(indptr, i):
    """Row ``i``'s stored entries ``lo .. hi - 1`` of a CSR matrix, as
    unsigned positions. numba wraps a negative signed index around (a
    compare, a select and an add for every access) and LLVM cannot prove a
    position from ``indptr``, or a column from ``indices``, not negative:
    the CSR loops index with unsigned values (``np.uint64(indices[p])``
    for a column; a ``uint64`` plus an ``int64`` is a float in numba, so
    offsets are converted too). At rcv1's shape the lean epoch took
    0.75-0.8x the time so (:func:`dot_run`), the
    CSR prediction 0.62-0.66x. The row ``i`` is made unsigned too before
    it indexes ``indptr``: the one-model CSR decision on 1M rows of 5
    entries took 0.9x the time (4.05 against 3.65 ms, one thread)."""
    u = np.uint64(i)
    return np.uint64(indptr[u]), np.uint64(indptr[u + np.uint64(1)])


@jit(exact=True, inline=True)
def dot_run(data, indices, lo, hi, v, isc, scaled):
    """The dot product of entries ``lo .. hi - 1`` of a CSR row with the
    weights ``v`` (``/ scale[j]`` when ``scaled``: ``isc``) in four
    interleaved partial sums, four entries at a time from ``lo`` and the
    rest into the first: a fixed order, so the sum does not depend on who
    computes it. The CSR epochs sum every logit in this order (the lean
    epoch's halves, :func:`narrow_dot`'s lanes,
    :func:`fastlr._kernels.sparse.wide_dot`); prediction and the
    deterministic solver's passes call it too (inlined, it is compiled
    with its caller's flags). The four sums measured 1.5x faster than one
    chain in the lean epoch at rcv1's shape, where a chain waits for each
    multiply-add's result.

    Positions and column indices are unsigned (see :func:`row_span`)."""
    a0 = a1 = a2 = a3 = 0.0
    u1, u2, u3, u4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
    p = np.uint64(lo)
    end = np.uint64(hi)
    if scaled:
        while p + u4 <= end:
            j0, j1 = np.uint64(indices[p]), np.uint64(indices[p + u1])
            j2, j3 = np.uint64(indices[p + u2]), np.uint64(indices[p + u3])
            a0 += data[p] * (v[j0] * isc[j0])
            a1 += data[p + u1] * (v[j1] * isc[j1])
            a2 += data[p + u2] * (v[j2] * isc[j2])
            a3 += data[p + u3] * (v[j3] * isc[j3])
            p += u4
        while p < end:
            j0 = np.uint64(indices[p])
            a0 += data[p] * (v[j0] * isc[j0])
            p += u1
    else:
        while p + u4 <= end:
            a0 += data[p] * v[np.uint64(indices[p])]
            a1 += data[p + u1] * v[np.uint64(indices[p + u1])]
            a2 += data[p + u2] * v[np.uint64(indices[p + u2])]
            a3 += data[p + u3] * v[np.uint64(indices[p + u3])]
            p += u4
        while p < end:
            a0 += data[p] * v[np.uint64(indices[p])]
            p += u1
    return (a0 + a1) + (a2 + a3)


#: The weight slots of a column that the lane layout of
#: :func:`fastlr._kernels.sparse.epoch` (and of the CSR decision) reads
#: together (one cache line of float64; two vec4).
NARROW = 8


@jit(exact=True, inline=True)
def narrow_term(data, indices, p, T, iv, scaled, col, a, b):
    """``(a, b)`` plus entry ``p``'s products with the eight slots from
    ``col`` on (:func:`narrow_dot`): ``x * w`` (``x * (w / scale)`` when
    ``scaled``, as :func:`dot_run` computes it) in each lane."""
    j = indices[p]
    x = vsplat(data[p])
    if scaled:
        f = vsplat(T[j, iv])
        return (vfma(x, vmul(vload(T, (j, col)), f), a),
                vfma(x, vmul(vload(T, (j, col + 4)), f), b))
    return vfma(x, vload(T, (j, col)), a), vfma(x, vload(T, (j, col + 4)), b)


@jit(exact=True, inline=True)
def narrow_dot(data, indices, lo, hi, T, iv, scaled, col, used, dot):
    """``dot[c] = sum_p x_p * T[j_p, c]`` for the eight slots ``c`` from
    ``col`` on of the lane layout (slots from ``used`` on hold zeros and
    give 0), in one pass over a row's entries; ``scaled``: each weight
    divided by the column's scale (``T[j, iv]`` holds its reciprocal: one
    standardization). Each slot is summed in :func:`dot_run`'s order (four
    interleaved partial sums), as the epoch's scalar layout
    (:func:`fastlr._kernels.sparse.wide_dot`) sums it: the two agree bit
    for bit.

    Each slot is a lane of :data:`~fastlr._kernels.intrinsics.vec4` sums,
    ``x_p`` broadcast to the lanes and multiplied-added as the scalar code
    does (numba does not vectorize eight separate sums: as scalars, each
    was an operation per entry). All eight lanes are summed whatever
    ``used``: a branch per entry cost more than the lanes. Four partial
    sums rather than one chain: the 5-class epoch at rcv1's shape took
    0.94x the time (one chain waits for each multiply-add's result)."""
    a0 = vsplat(0.0)
    a1 = a2 = a3 = b0 = b1 = b2 = b3 = a0
    # unsigned positions: no negative-index wraparound per access
    u1, u2, u3, u4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
    p = np.uint64(lo)
    end = np.uint64(hi)
    while p + u4 <= end:
        a0, b0 = narrow_term(data, indices, p, T, iv, scaled, col, a0, b0)
        a1, b1 = narrow_term(data, indices, p + u1, T, iv, scaled, col, a1, b1)
        a2, b2 = narrow_term(data, indices, p + u2, T, iv, scaled, col, a2, b2)
        a3, b3 = narrow_term(data, indices, p + u3, T, iv, scaled, col, a3, b3)
        p += u4
    while p < end:
        a0, b0 = narrow_term(data, indices, p, T, iv, scaled, col, a0, b0)
        p += u1
    vstore(dot, col, vadd(vadd(a0, a1), vadd(a2, a3)))
    vstore(dot, col + 4, vadd(vadd(b0, b1), vadd(b2, b3)))


@jit(exact=True, inline=True)
def narrow_update(data, indices, lo, hi, T, iv, scaled, col, used, cr):
    """``T[j, c] -= cr[c] * x`` for the eight slots from ``col`` on of the
    lane layout and a row's entries (``cr`` is 0 from the ``used`` slots
    of weights on, which leaves those unchanged): two
    :data:`~fastlr._kernels.intrinsics.vec4` multiply-adds an entry,
    ``T + (-x) * cr`` rounded once as the scalar ``T - cr * x`` is."""
    c4 = col + 4
    ca = vload(cr, col)
    cb = vload(cr, c4)
    if scaled:
        for p in range(np.uint64(lo), np.uint64(hi)):
            j = indices[p]
            x = vsplat(-(data[p] * T[j, iv]))
            vstore(T, (j, col), vfma(x, ca, vload(T, (j, col))))
            vstore(T, (j, c4), vfma(x, cb, vload(T, (j, c4))))
    else:
        for p in range(np.uint64(lo), np.uint64(hi)):
            j = indices[p]
            x = vsplat(-data[p])
            vstore(T, (j, col), vfma(x, ca, vload(T, (j, col))))
            vstore(T, (j, c4), vfma(x, cb, vload(T, (j, c4))))


@jit(inline=True)
def ask_item(arr, i):
    """Ask L2 for ``arr[i]``, unless ``arr`` is empty (an option not in use):
    a row's label, weight or fold, which the rows streaming through the
    caches evict, in a shuffled epoch (dense and CSR)."""
    if arr.shape[0] > 0:
        prefetch_l2(arr, i)


@jit(inline=True)
def ask_columns(flat, indices, start, end, stride):
    """Ask L2 for ``flat[indices[p] * stride]`` over the stored entries
    ``start .. end - 1`` of a CSR row: the weights (or gradient slots) of
    its columns, ``stride`` values per column. The columns are random, so
    no hardware prefetcher predicts them: the CSR passes ask for the next
    row's while they work on a row (see :mod:`fastlr._kernels.sparse`).
    Into L2 (:func:`~fastlr._kernels.intrinsics.prefetch_l2`), where the
    core keeps many more requests in flight than into L1: asking into L1
    for writing, the lean epochs took 1.16-1.8x as long on 300,000 random
    columns."""
    for p in range(np.uint64(start), np.uint64(end)):
        prefetch_l2(flat, np.uint64(indices[p]) * np.uint64(stride))


#: What :func:`decision` applies to a row's logits once it has written them:
#: nothing, the sigmoid (k = 1), the softmax of the row, or (k = 1, two
#: output columns) the binary model's class probabilities ``(1 - p, p)``
#: or their logarithms.
LINK_NONE, LINK_SIGMOID, LINK_SOFTMAX, LINK_PROBA, LINK_LOG_PROBA = 0, 1, 2, 3, 4


@jit(inline=True)
def logit_slot(i, lo, hi, k, link):
    """Where :func:`decision` writes the logits of row ``i`` of the block
    ``lo .. hi - 1`` in its flat output: row ``i``'s place (``k`` values
    a row); for :data:`LINK_PROBA`, whose rows hold two values, one after
    the other in the second half of the block's place, so that the sigmoid
    runs over them as one contiguous run (see :func:`finish_rows`); for
    :data:`LINK_LOG_PROBA`, the first of the row's two."""
    if link == LINK_PROBA:
        return lo + hi + (i - lo)
    return 2 * i if link == LINK_LOG_PROBA else i * k


@jit(exact=True, runtime=False)
def finish_rows(out, lo, hi, k, link):
    """Apply ``link`` to the logits of rows ``lo .. hi - 1`` in the flat
    output ``out`` (``k`` a row; as stored, in their dtype, so that the
    result equals the link applied to the returned logits), after the
    block's logits are written (while they are in cache); returns how many
    of those logits are NaN or infinite.

    The sigmoid is :func:`fastlr._kernels.scalar.sigmoid_lanes`, as
    :func:`sigmoid_array`'s, in a loop that vectorizes (its index unsigned:
    numba's wraparound of a possibly negative index kept LLVM from
    vectorizing the loop in place); both are compiled ``exact`` (inlined into
    a kernel with ``reassoc``, its range reduction would lose digits). On
    2M x 20 float64 (two threads, old and new code alternating in one
    process, medians of 15) ``fastlr.predict_proba`` took 20.8 ms against
    38.2 with libm's ``exp`` a row at a time; ``decision_function`` 18.5.

    :data:`LINK_PROBA` (k = 1, rows of two values): the logits lie
    contiguous (:func:`logit_slot`); once turned into ``p``, each row gets
    ``1 - p`` (from ``p`` in ``out``'s dtype, as NumPy's ``1.0 - p``) and
    ``p``, rows in increasing order, each write landing on a logit already
    read. The estimator's binary ``predict_proba`` made ``1 - p`` and the
    two-column array from ``p`` in two more passes: 23.6 ms against 47.0
    (the same run; float32 X: 16.4 against 41.0)."""
    if link == LINK_LOG_PROBA:
        return _log_sigmoid_rows(out, lo, hi)
    first = logit_slot(lo, lo, hi, k, link)
    size = logit_slot(hi, lo, hi, k, link) - first
    bad = 0
    for q in range(size):
        bad += not np.isfinite(out[np.uint64(first + q)])
    if link == LINK_SIGMOID or link == LINK_PROBA:
        for q in range(size):
            u = np.uint64(first + q)
            out[u] = sigmoid_lanes(np.float64(out[u]))
    if link == LINK_PROBA:
        for q in range(size):
            p = out[np.uint64(first + q)]
            r = np.uint64(2 * (lo + q))
            out[r + 1] = p
            out[r] = 1.0 - p
    elif link == LINK_SOFTMAX:
        for i in range(lo, hi):
            softmax_row_of(out, i * k, k, out)
    return bad


@jit(exact=True, inline=True)
def _log_sigmoid_rows(out, lo, hi):
    """:data:`LINK_LOG_PROBA` of :func:`finish_rows`: row ``i``'s logit
    ``z = out[2 i]`` becomes ``(-softplus(z), -softplus(-z))``, both from
    ``l = log1p(exp(-|z|))`` (:func:`fastlr._kernels.scalar.exp_nonpositive`,
    :func:`fastlr._kernels.scalar.log1p_unit`): ``-(max(z, 0) + l)`` and
    ``-(max(-z, 0) + l)``, NumPy's ``-logaddexp(0, +-z)`` formula, finite
    wherever ``z`` is. A row at a time (each row's two values where its
    logit was). On 2M x 20 float64 (two threads, old and new code
    alternating in one process, medians of 11) the estimator's binary
    ``predict_log_proba`` took 32.7 ms against 153.4 with two
    ``np.logaddexp`` passes over the returned logits (relative differences
    up to 7e-16). Returns how many logits were not finite."""
    bad = 0
    for i in range(lo, hi):
        u = np.uint64(2 * i)
        z = np.float64(out[u])
        bad += not np.isfinite(z)
        lg = log1p_unit(exp_nonpositive(-abs(z)))
        out[u] = -(max(z, 0.0) + lg)
        out[u + 1] = -(max(-z, 0.0) + lg)
    return bad


@jit(runtime=False)
def decision(X, W, B, link, out, lanes, lo, hi):
    """``X[i] . W[c] + B[c]`` for rows ``lo .. hi - 1`` into the flat output
    ``out`` (``out[i * k + c]``, see :func:`logit_slot`), then ``link``
    (:data:`LINK_SIGMOID`, :data:`LINK_SOFTMAX`, :data:`LINK_PROBA`,
    :data:`LINK_LOG_PROBA`) applied while the block is in cache (see
    :func:`finish_rows`); returns how many logits were not finite.

    X (m, n) float32/float64; out (m * k,), or (m * 2,) for
    :data:`LINK_PROBA` and :data:`LINK_LOG_PROBA`, of X's dtype (the dot
    product accumulates in float64); ``lanes`` is for CSR X
    (:func:`csr_decision`) and ignored. With finite W and B a row's logits
    are all finite unless the row holds NaN or infinity (``inf * 0`` is
    NaN) or they overflow, so a count of 0 proves those rows of X finite.
    """
    n = X.shape[1]
    k = W.shape[0]
    for i in range(lo, hi):
        slot = logit_slot(i, lo, hi, k, link)
        for c in range(k):
            z = B[c]
            for j in range(n):
                z += X[i, j] * W[c, j]
            out[slot + c] = z
    return finish_rows(out, lo, hi, k, link)


#: Rows :func:`decision_columns` sums over at a time (their logits stay in
#: L1 while the block's columns are read).
COLUMN_ROWS = 512


@jit(runtime=False)
def decision_columns(X, W, B, link, out, lanes, lo, hi):
    """:func:`decision` of Fortran-ordered X (a DataFrame's array) into a
    float64 ``out``: the logits of 512 rows at a time summed down the
    block's columns (read down each: contiguous), four columns a pass,
    then ``link``. The sums are :func:`decision`'s but for the order of
    their rounding (that kernel vectorizes each row's dot product)."""
    n = X.shape[1]
    k = W.shape[0]
    first = logit_slot(lo, lo, hi, k, link)
    step = logit_slot(lo + 1, lo, hi, k, link) - first
    for c in range(k):
        for s in range(lo, hi, COLUMN_ROWS):
            e = min(s + COLUMN_ROWS, hi)
            at = first + (s - lo) * step + c
            for i in range(e - s):
                out[at + i * step] = B[c]
            j = 0
            while j + 4 <= n:
                w0, w1, w2, w3 = W[c, j], W[c, j + 1], W[c, j + 2], W[c, j + 3]
                for i in range(e - s):
                    r = s + i
                    out[at + i * step] += (X[r, j] * w0 + X[r, j + 1] * w1
                                           + X[r, j + 2] * w2 + X[r, j + 3] * w3)
                j += 4
            for jj in range(j, n):
                w = W[c, jj]
                for i in range(e - s):
                    out[at + i * step] += X[s + i, jj] * w
    return finish_rows(out, lo, hi, k, link)


@jit(inline=True)
def _csr_dot(data, indices, indptr, i, Tf, far):
    """Row ``i``'s dot product with one model's weights ``Tf`` (n,)
    (:func:`dot_run`), row ``i + 1``'s columns asked for into L2 meanwhile
    when ``far`` (:func:`ask_columns`; the weights are read at random
    columns, see :mod:`fastlr._kernels.sparse`)."""
    if far and i + 1 < indptr.shape[0] - 1:
        nlo, nhi = row_span(indptr, i + 1)
        ask_columns(Tf, indices, nlo, nhi, 1)
    lo, hi = row_span(indptr, i)
    return dot_run(data, indices, lo, hi, Tf, Tf, False)


@jit(inline=True)
def _csr_lanes(data, indices, indptr, i, T, Tf, B, z, far):
    """Row ``i``'s k logits ``z[:k]`` (``k = len(B)``) from the weights
    laid out in lanes (:func:`_csr_row_logits`; ``Tf`` T flattened), row
    ``i + 1``'s columns asked for into L2 meanwhile when ``far`` (as
    :func:`_csr_dot`). With a row of W per class, each entry's k weights
    came from k lines: the 5-class decision took 1.9-2.4x the time (rcv1's
    shape, and 200,000 rows of 20 entries on 1M columns)."""
    if far and i + 1 < indptr.shape[0] - 1:
        nlo, nhi = row_span(indptr, i + 1)
        ask_columns(Tf, indices, nlo, nhi, T.shape[1])
    _csr_row_logits(data, indices, indptr, i, T, B, z)


@jit(exact=True)
def csr_decision(data, indices, indptr, T, B, link, out, lanes, lo, hi):
    """:func:`decision` for CSR X, the weights ``T`` as W (k, n), a pass
    over a row's entries per class (:func:`_csr_dot`), or when ``lanes``
    laid out as :func:`_csr_lanes` takes them, one pass for all classes
    (:meth:`fastlr._dispatch.Data.decision` chooses). The two loop apart:
    a branch on the layout in the loop over the rows made the binary
    ``predict_proba`` 1.2x slower on 1M columns.

    ``exact``: both layouts sum a logit in :func:`dot_run`'s order, one
    fused multiply-add an entry, so a row's logits are the same bits
    whichever the call chose (by its rows' stored entries: a file predicted
    in parts gave other last digits in the parts of few entries); with
    ``reassoc`` the first was free to regroup its sums.

    The next row's weights are asked for from :data:`CSR_PREFETCH_MIN`
    weights on, as the loss passes ask. Below, the requests only cost: on
    1M rows of 5 entries over 50 columns one thread took 0.7x the time
    without them (5.5 ms against 7.9; scipy's ``X @ w`` 3.7), on 50,000
    rows of 600 entries over 2,000 columns 0.6x (30.4 ms against 50.6;
    ``X @ w`` 39.5); on 1M columns they still pay (1.1x the time
    without)."""
    k = B.shape[0]
    far = T.size >= CSR_PREFETCH_MIN
    if not lanes and k == 1:
        # one model: its weights' view taken once, not a row (with ``T[c]``
        # in the loop over the rows the 1M rows of 5 entries took 1.3x the
        # time, one thread: 4.9 ms against 3.7)
        t = T[0]
        for i in range(lo, hi):
            out[logit_slot(i, lo, hi, k, link)] = B[0] + _csr_dot(data, indices, indptr,
                                                                  i, t, far)
        return finish_rows(out, lo, hi, k, link)
    if not lanes:
        for i in range(lo, hi):
            slot = logit_slot(i, lo, hi, k, link)
            for c in range(k):
                out[slot + c] = B[c] + _csr_dot(data, indices, indptr, i, T[c], far)
        return finish_rows(out, lo, hi, k, link)
    z = np.empty(T.shape[1])
    Tf = T.reshape(T.size)
    for i in range(lo, hi):
        _csr_lanes(data, indices, indptr, i, T, Tf, B, z, far)
        slot = logit_slot(i, lo, hi, k, link)
        for c in range(k):
            out[slot + c] = z[c]
    return finish_rows(out, lo, hi, k, link)


@jit(inline=True)
def _row_loss(z, k, yi, softmax):
    if softmax:
        return softmax_loss(z, k, yi)
    return row_loss(z[0], np.float64(yi))


@jit()
def loss_sum(X, y, sw, W, B, softmax, lanes, lo, hi):
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


@jit(exact=True)
def csr_loss_sum(data, indices, indptr, y, sw, T, B, softmax, lanes, lo, hi):
    """:func:`loss_sum` for CSR X, the weights as :func:`csr_decision`
    takes them, and like it ``exact``: a row's loss is the same bits
    whichever layout the call chose (by its rows' stored entries)."""
    k = B.shape[0]
    weighted = sw.shape[0] > 0
    z = np.empty(T.shape[1] if lanes else k)
    Tf = T.reshape(T.size)
    far = T.size >= CSR_PREFETCH_MIN
    total = 0.0
    for i in range(lo, hi):
        if lanes:
            _csr_lanes(data, indices, indptr, i, T, Tf, B, z, far)
        else:
            for c in range(k):
                z[c] = B[c] + _csr_dot(data, indices, indptr, i, T[c], far)
        li = _row_loss(z, k, y[i], softmax)
        total += sw[i] * li if weighted else li
    return total


# --------------------------------------------------------------------------
# the full-data loss and gradient


@jit(inline=True)
def _open_block(G, S, lo, rows, k):
    """Block ``lo // rows``'s output slots ``G[b]``, ``S[b]``, zeroed, and
    the chunk scratch: ``Z`` (k, CHUNK) logits then residuals, ``F`` (7,
    CHUNK) for :func:`_chunk_residuals`, ``zrow`` (k,)."""
    b = lo // rows
    g = G[b]
    s = S[b]
    g[:] = 0.0
    s[:] = 0.0
    return g, s, np.empty((k, CHUNK)), np.empty((7, CHUNK)), np.empty(k)


@jit(inline=True)
def _chunk_residuals(Z, y, sw, start, nb, softmax, F, zrow, s):
    """Residuals of rows ``start .. start + nb - 1`` from their logits, in
    place, added to the intercept sums ``s`` (k,); returns the sum of their
    (weighted) losses.

    On entry ``Z[c, q]`` holds row ``start + q``'s logit of class ``c``; on
    return its residual ``(p_c - [c == y]) * sw`` (binary: ``p = sigmoid``,
    one row of ``Z``; softmax: ``p = softmax`` over the k rows). The binary
    model runs the vectorized ``exp``/``log1p`` of the dense epoch over the
    chunk; the softmax model goes row by row (:func:`softmax_row`, max
    subtracted). ``F`` (7, CHUNK) and ``zrow`` (k,) are scratch.
    """
    k = Z.shape[0]
    weighted = sw.shape[0] > 0
    total = 0.0
    if softmax:
        for q in range(nb):
            i = start + q
            for c in range(k):
                zrow[c] = Z[c, q]
            loss, _ = softmax_row(zrow, k, y[i], sw[i] if weighted else 1.0, True)
            total += loss
            for c in range(k):
                Z[c, q] = zrow[c]
    else:
        z, yb, wb, e, r, loss, bound = F[0], F[1], F[2], F[3], F[4], F[5], F[6]
        for q in range(nb):
            z[q] = Z[0, q]
            yb[q] = y[start + q]
            if weighted:
                wb[q] = sw[start + q]
        exp_neg_abs(z, nb, e)
        residuals(z, yb, wb, nb, weighted, True, e, r, loss, bound)
        for q in range(nb):
            Z[0, q] = r[q]
            total += loss[q]
    for c in range(k):
        for q in range(nb):
            s[c] += Z[c, q]
    return total


@jit(inline=True)
def add_rows(g, X, rows, first, r, nb, mean, center, ahead, h0, na):
    """``g += sum_q r[q] (x_q - mean)`` (``center``), else ``r[q] x_q``,
    over a chunk's rows ``q < nb``: rows ``rows[q]``, or ``first + q`` when
    ``rows`` is empty. Four rows at a time (register blocking: each element
    of ``g`` is loaded and stored once per four rows). The gradient phase
    of the dense epoch's binary chunk and of :func:`loss_grad`. Meanwhile
    the rows ``ahead[h0:na]`` are asked for (:func:`ask_share`).

    g (n,) float64; X (m, n) float32/float64; rows (CHUNK,) or (0,) int64;
    r (>= nb,) float64; mean (n,) float64; ahead (>= na,) int64.
    """
    n = X.shape[1]
    direct = rows.shape[0] == 0
    Xf = X.reshape(-1)
    nblocks = (nb + 3) // 4   # the rows past the last four are a block too
    q = 0
    while q + 4 <= nb:
        ask_share(Xf, n, ahead[h0:], na - h0, q // 4, nblocks)
        if direct:
            i0, i1, i2, i3 = first + q, first + q + 1, first + q + 2, first + q + 3
        else:
            i0, i1, i2, i3 = rows[q], rows[q + 1], rows[q + 2], rows[q + 3]
        r0, r1, r2, r3 = r[q], r[q + 1], r[q + 2], r[q + 3]
        if center:
            for j in range(n):
                mj = mean[j]
                g[j] += (r0 * (X[i0, j] - mj) + r1 * (X[i1, j] - mj)
                         + r2 * (X[i2, j] - mj) + r3 * (X[i3, j] - mj))
        else:
            for j in range(n):
                g[j] += (r0 * X[i0, j] + r1 * X[i1, j]
                         + r2 * X[i2, j] + r3 * X[i3, j])
        q += 4
    if q < nb:
        ask_share(Xf, n, ahead[h0:], na - h0, q // 4, nblocks)
    while q < nb:
        i0 = first + q if direct else rows[q]
        r0 = r[q]
        if center:
            for j in range(n):
                g[j] += r0 * (X[i0, j] - mean[j])
        else:
            for j in range(n):
                g[j] += r0 * X[i0, j]
        q += 1


@jit()
def loss_grad(X, y, sw, mean, U, C, softmax, center, G, S, rows, lo, hi):
    """Summed loss and gradient sums of rows ``lo .. hi - 1`` (one block).

    The model is ``W`` (k, n), ``B`` (k,) on the standardized features
    ``(x - mean) / scale``, given as its raw-space weights ``U = W / scale``
    and biases ``C``: ``B`` when ``center`` (the mean is subtracted from
    every element in the loops), else ``B - U . mean`` (the mean is folded
    into the bias; the caller subtracts ``mean * S`` from ``G``: see
    :func:`fastlr._kernels.update.can_fold_mean` for when that is accurate).

    Writes, into slot ``b = lo // rows`` (each block its own slot, added by
    the caller in block order), ``G[b, c] = sum_i r_ic (x_i - mean)`` if
    ``center`` else ``sum_i r_ic x_i``, and ``S[b, c] = sum_i r_ic``, with
    the weighted residuals ``r_ic = sw_i (p_ic - [c == y_i])``; returns
    ``sum_i sw_i loss_i``.

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous; read in its dtype, summed
        in float64.
    y : (m,) int64 class codes (0/1 for the binary model).
    sw : (m,) or (0,) float64 sample weights (empty: all ones).
    mean : (n,) float64.
    U : (k, n) float64; C : (k,) float64.
    softmax : bool
        The softmax model (k rows); else the binary model (k = 1, sigmoid).
    center : bool
    G : (blocks, k, n) float64; S : (blocks, k) float64; rows : int
        Output slots, and the rows of a block.
    """
    g, s, Z, F, zrow = _open_block(G, S, lo, rows, U.shape[0])
    return _loss_grad_chunks(X, y, sw, mean, U, C, softmax, center, g, s, Z, F, zrow,
                             np.empty(0, dtype=np.int64), lo, hi)


@jit(runtime=False)
def _loss_grad_chunks(X, y, sw, mean, U, C, softmax, center, g, s, Z, F, zrow,
                      contiguous, lo, hi):
    """:func:`loss_grad`'s pass over its block, chunk by chunk, into the
    zeroed slots ``g``, ``s`` with the scratch ``Z``, ``F``, ``zrow``
    (``contiguous``: empty, :func:`add_rows`' sign that a chunk's rows are
    ``start + q``);
    compiled without numba's runtime, so that the views it takes per chunk
    are not reference-counted (each count an atomic instruction, which
    waits for the loads in flight)."""
    n = X.shape[1]
    k = U.shape[0]
    Xf = X.reshape(-1)
    total = 0.0
    for start in range(lo, hi, CHUNK):
        nb = min(CHUNK, hi - start)
        # phase A: logits, asking for the rows two chunks ahead (ask_row)
        for q in range(nb):
            i = start + q
            if i + AHEAD_ROWS < hi:
                ask_row(Xf, n, i + AHEAD_ROWS)
            for c in range(k):
                acc = C[c]
                if center:
                    for j in range(n):
                        acc += (X[i, j] - mean[j]) * U[c, j]
                else:
                    for j in range(n):
                        acc += X[i, j] * U[c, j]
                Z[c, q] = acc
        # phase B: residuals, losses, intercept sums
        total += _chunk_residuals(Z, y, sw, start, nb, softmax, F, zrow, s)
        # phase C: gradient sums
        for c in range(k):
            add_rows(g[c], X, contiguous, start, Z[c], nb, mean, center, contiguous, 0, 0)
    return total


@jit(inline=True)
def _csr_row_logits(data, indices, indptr, i, U, C, z):
    """``z[:r] = C + x_i . U`` over row ``i``'s stored entries (``r =
    len(C)``), the weights laid out in lanes as :func:`csr_decision`'s
    (``U`` (n, L), a column's r weights in its first slots, the rest zero;
    ``z`` (L,)): :func:`narrow_dot`, a column's weights read together. With
    a scalar loop over r per entry (``U`` (n, r), ``z`` in memory), a
    5-class loss-and-gradient call took 1.3-1.5x the time (200,000 rows of
    20 entries on 47,236 and 1M columns). For r = 1 call
    :func:`_csr_row_logit`."""
    lo, hi = row_span(indptr, i)
    for col in range(0, U.shape[1], NARROW):
        narrow_dot(data, indices, lo, hi, U, 0, False, col, U.shape[1], z)
    for t in range(C.shape[0]):
        z[t] = C[t] + z[t]


@jit(inline=True)
def _csr_row_logit(data, indices, indptr, i, U, c):
    """:func:`_csr_row_logits` of one model of one row (``U`` (n, 1)),
    returned: :func:`dot_run`. The callers choose it once, outside their
    loop over the rows; the loop over r around each entry (or a branch on r
    in the same helper) made the binary pass 2.5x slower on 50,000
    columns."""
    lo, hi = row_span(indptr, i)
    return c + dot_run(data, indices, lo, hi, U[:, 0], U[:, 0], False)


@jit(inline=True)
def _csr_row_add(data, indices, indptr, i, g, nz):
    """``g[j] -= nz * x_ij`` over row ``i``'s stored entries ``j`` (``g``
    (n, L) laid out as :func:`_csr_row_logits`' weights, ``nz`` (L,) minus
    the row's residuals, zero past them): the gradient's share of row
    ``i``, by :func:`narrow_update` (``g + x z`` rounded once, as a fused
    ``g += z * x``). For one value call :func:`_csr_row_add1`."""
    lo, hi = row_span(indptr, i)
    for col in range(0, g.shape[1], NARROW):
        narrow_update(data, indices, lo, hi, g, 0, False, col, g.shape[1], nz)


@jit(inline=True)
def _csr_row_add1(data, indices, indptr, i, g, z):
    """:func:`_csr_row_add` of one value ``z`` (``g`` (n, 1))."""
    lo, hi = row_span(indptr, i)
    for p in range(lo, hi):
        g[np.uint64(indices[p]), 0] += z * np.float64(data[p])


@jit()
def csr_loss_grad(data, indices, indptr, y, sw, mean, U, C, softmax, center, G, S,
                  rows, lo, hi):
    """:func:`loss_grad` for CSR X, over the stored entries only.

    The mean is always folded (``center`` is ignored: subtracting it would
    touch every implicit zero), so ``C`` must be ``B - U . mean``. The
    weights and the gradient slots are laid out a column per row, ``U``
    (n, L) and ``G`` (blocks, n, L) (``L = 1`` for the binary model, else
    :func:`_csr_row_logits`' lanes), so that a column's k values share a
    cache line; the next row's weights are read ahead (see
    :mod:`fastlr._kernels.sparse`: the columns are random, no hardware
    prefetcher predicts them).
    """
    k = C.shape[0]
    L = U.shape[1]
    g, s, Z, F, zrow = _open_block(G, S, lo, rows, k)
    zl = np.zeros(L)
    Uf = U.reshape(U.size)
    gf = g.reshape(g.size)
    far = U.size >= CSR_PREFETCH_MIN
    total = 0.0
    for start in range(lo, hi, CHUNK):
        nb = min(CHUNK, hi - start)
        for q in range(nb):
            i = start + q
            if far and i + 1 < hi:
                ask_columns(Uf, indices, indptr[i + 1], indptr[i + 2], L)
            if k == 1:
                Z[0, q] = _csr_row_logit(data, indices, indptr, i, U, C[0])
            else:
                _csr_row_logits(data, indices, indptr, i, U, C, zl)
                for c in range(k):
                    Z[c, q] = zl[c]
        total += _chunk_residuals(Z, y, sw, start, nb, softmax, F, zrow, s)
        for q in range(nb):
            i = start + q
            if far and q + 1 < nb:
                ask_columns(gf, indices, indptr[i + 1], indptr[i + 2], L)
            if k == 1:
                _csr_row_add1(data, indices, indptr, i, g, Z[0, q])
            else:
                for c in range(k):
                    zl[c] = -Z[c, q]
                for c in range(k, L):
                    zl[c] = 0.0
                _csr_row_add(data, indices, indptr, i, g, zl)
    return total


@jit()
def csr_loss_grad_many(data, indices, indptr, y, sw, row_fold, fold, U, C, k,
                       softmax, G, S, L, rows, lo, hi):
    """:func:`csr_loss_grad` for every model of a stack at once (the pass
    of :meth:`fastlr._dispatch.Data.loss_grad_many` on CSR X): each row's
    stored entries are read once for all K models.

    ``U`` (n, L) raw-space weights, a column per row of X's columns (a
    column's K k values share cache lines: ``L = 1`` for one binary model,
    else :func:`_csr_row_logits`' lanes), ``C`` (K k) biases with the
    means folded in; model ``mm`` is rows ``mm k .. mm k + k - 1`` (k = 1:
    binary). A model trains on the rows outside its fold ``fold[mm]`` of
    ``row_fold`` (all rows when it is empty) and scores the others. Writes
    into slot ``b = lo // rows``:
    ``G[b, j, t] = sum_i r_it x_ij`` and ``S[b, t] = sum_i r_it`` over the
    rows each model trains on (weighted residuals), ``L[b, mm]`` = (training
    loss sum, held-out loss sum, held-out weight).
    """
    Kk = C.shape[0]
    K = Kk // k
    b = lo // rows
    g, s, acc = G[b], S[b], L[b]
    g[:] = 0.0
    s[:] = 0.0
    acc[:] = 0.0
    folds = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0
    z = np.zeros(U.shape[1])
    nz = np.zeros(U.shape[1])
    for i in range(lo, hi):
        if Kk == 1:
            z[0] = _csr_row_logit(data, indices, indptr, i, U, C[0])
        else:
            _csr_row_logits(data, indices, indptr, i, U, C, z)
        wt = sw[i] if weighted else 1.0
        for mm in range(K):
            if softmax:
                loss, _ = softmax_row(z[mm * k:mm * k + k], k, y[i], wt, True)
            else:
                z[mm], loss, _ = logistic_row(z[mm], np.float64(y[i]), wt, True)
            if folds and row_fold[i] == fold[mm]:
                acc[mm, 1] += loss
                acc[mm, 2] += wt
                for t in range(mm * k, mm * k + k):
                    z[t] = 0.0
            else:
                acc[mm, 0] += loss
        for t in range(Kk):
            s[t] += z[t]
        if Kk == 1:
            _csr_row_add1(data, indices, indptr, i, g, z[0])
        else:
            for t in range(Kk):
                nz[t] = -z[t]
            _csr_row_add(data, indices, indptr, i, g, nz)


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


@jit(exact=True, runtime=False)
def sigmoid_array(z, out):
    """``out = sigmoid(z)`` for 1-D arrays (``out`` may be ``z``), by
    :func:`fastlr._kernels.scalar.sigmoid_lanes`."""
    for i in range(z.shape[0]):
        out[i] = sigmoid_lanes(np.float64(z[i]))


@jit(inline=True)
def softmax_row_of(Z, p, k, out):
    """``out[p:p + k] = softmax(Z[p:p + k])`` (a row of flat logits),
    stable for any row without NaN (``out`` may be ``Z``).

    The row maximum is subtracted before ``exp``. A row whose maximum is
    ``+inf`` puts its mass evenly on the ``+inf`` entries; a row of all
    ``-inf`` is uniform.

    Each ``e = exp(z - max)`` is computed once, by
    :func:`fastlr._kernels.scalar.exp_nonpositive` (its argument is at most
    0) in a loop that vectorizes, and stored in ``out``; their sum is four
    interleaved partial sums (a fixed order); then ``out *= 1 / sum``.
    libm's ``exp`` twice an entry (for the sum, then for the output) made
    the softmax cost as much as the logits at many classes: on 5,000 x 100
    with k = 300, one thread, the softmax of given logits took 29.1 ms
    against 8.6 for NumPy's. In float32 ``out``, ``e`` is rounded before
    it is scaled (two roundings, about 1 ulp of float32).
    """
    zmax = -np.inf
    for c in range(k):
        zmax = max(zmax, np.float64(Z[p + c]))
    if zmax == np.inf or zmax == -np.inf:
        hits = 0
        for c in range(k):
            if Z[p + c] == zmax:
                hits += 1
        for c in range(k):
            out[p + c] = 1.0 / hits if Z[p + c] == zmax else 0.0
        return
    for c in range(k):
        out[p + c] = exp_nonpositive(np.float64(Z[p + c]) - zmax)
    s0 = s1 = s2 = s3 = 0.0
    c = 0
    while c + 4 <= k:
        s0 += out[p + c]
        s1 += out[p + c + 1]
        s2 += out[p + c + 2]
        s3 += out[p + c + 3]
        c += 4
    while c < k:
        s0 += out[p + c]
        c += 1
    inv = 1.0 / ((s0 + s1) + (s2 + s3))
    for c in range(k):
        out[p + c] = out[p + c] * inv


@jit(exact=True)
def softmax_rows(Z, out):
    """Row-wise softmax of the logits ``Z`` (m, k), C-contiguous, into
    ``out`` of the same shape (:func:`softmax_row_of`)."""
    k = Z.shape[1]
    zf = Z.reshape(-1)
    of = out.reshape(-1)
    for i in range(Z.shape[0]):
        softmax_row_of(zf, i * k, k, of)


#: Rows of :func:`log_loss_sum`'s vectorized blocks.
LOSS_BLOCK = 256


@jit(exact=True)
def log_loss_sum(y, p, eps):
    """Sum over rows of the binary cross-entropy with ``p`` clipped to
    ``[eps, 1 - eps]`` in float64 (in float32, ``1 - 1e-15`` would round to
    1 and the log would be ``-inf``). y float64 0/1; the caller divides by m.

    Blocks of LOSS_BLOCK rows: their losses by a branch-free loop that
    vectorizes (:func:`fastlr._kernels.scalar.log_normal` for ``log p`` and,
    above 1/2, ``log(1 - p)``, exact there; :func:`log1p_unit` for
    ``log1p(-p)`` up to 1/2), then added in eight running sums, in a fixed
    order. A loop of libm's ``log`` and ``log1p`` took 3.3x this kernel's
    time, and made ``fastlr.log_loss`` 1.47x its NumPy twin's (2M rows).
    """
    hi = 1.0 - eps
    m = y.shape[0]
    loss = np.empty(LOSS_BLOCK)
    acc = np.zeros(8)
    for lo in range(0, m, LOSS_BLOCK):
        nb = min(LOSS_BLOCK, m - lo)
        for k in range(nb):
            pi = min(max(np.float64(p[lo + k]), eps), hi)
            one = y[lo + k] == 1.0
            # log p for class 1, log(1 - p) for class 0 above 1/2 (exact)
            far = log_normal(pi if one else 1.0 - pi)
            near = log1p_unit(-pi)
            loss[k] = far if one or pi > 0.5 else near
        for k in range(nb):
            acc[k % 8] -= loss[k]
    total = 0.0
    for j in range(8):
        total += acc[j]
    return total
