"""The CSR epoch: mini-batch SGD over the stored entries only, for every model.

A CSR matrix arrives as its three arrays: ``data`` (nnz,) float32/float64,
``indices`` (nnz,) uint32/int64 column indices (sorted, no duplicates: the
Python layer canonicalizes), ``indptr`` (m + 1,) row starts. Nothing here
densifies a row. Standardization is scaling only (subtracting a mean would
make every zero non-zero): the model is trained on ``x / scale``.

An epoch costs O(nnz + n): a batch touches only the columns present in it,
and what a step owes the other columns is deferred (see "lazy updates" in
:mod:`fastlr._kernels.update`) and paid at the column's next visit or at the
end of the epoch, so the state between epochs is exactly the eager one.
The option combinations without a closed form run the eager
:func:`fastlr._kernels.update.step` over all n columns each step: the same
results, at O(n) per batch.

Layout: the epoch works on a table ``T`` of one row per column: the
column's K * k weights (model ``mm``'s class ``c`` at ``mm * k + c``),
each standardization's ``1 / scale`` (when scaled: one for a stack whose
models share theirs), and the deferred-update records ``sync[K], a[K *
k], q[K * k]`` (when an option defers per column). It copies the weights
in and out each epoch, except for a stack of several models that keeps
them in the table (``resident``: W is then a view of it, see
:meth:`fastlr._dispatch.Data.epoch_runner`). Visiting a column costs one
cache miss or two, not one per array: on 1M columns nearly every visit
misses the caches. The weights are
read at random columns, which no hardware prefetcher predicts, so the
kernel asks for the next row's records before working on the current row
(on 200k x 1M, 20 entries a row, the L2 epoch became 1.6-1.7x faster), in
the logits' pass and, for records of two lines or more, again in the
step's (a batch's records no longer fit in L2 by then).

In a shuffled epoch the rows themselves are random accesses: the
sequence's blocks are sized by the dense row
(:func:`fastlr._order.block_rows`), one row at rcv1's shape. The epochs
then ask for the stored entries, label and per-row values of the row
SHUFFLED_AHEAD_ROWS positions ahead, and for its start in ``indptr`` twice
as far ahead (:func:`ask_ahead`); in the stored order they leave that to
the hardware prefetcher. At rcv1's shape (one thread unless said, two
rounds alternating with the tree before) the shuffled epoch took
0.35-0.38x the time at batch 1, 0.44-0.48x at batch 32, 0.45-0.51x on two
threads at batch 256, 0.43-0.51x for 5 classes at batch 1 and 0.62-0.67x
with an L1 penalty (the general epoch) at batch 32; on 200,000 x 1M, 20
entries a row, 0.44-0.48x at batch 32. Epochs in the stored order did
not change.

A stack whose weights share one scaling (or none) takes the lane layout:
its slots rounded up to a multiple of 8, eight weights read, multiplied
and written as two vec4 (:func:`narrow_dot`, :func:`narrow_update`; 16
models on 1M columns: the epoch 0.65-0.7x the time of four scalar
registers). Stacks of models under several scalings (cross-validation
folds of scaled X) keep one scalar slot each (:func:`wide_dot`,
:func:`wide_update`): lanes would need each model's scale. Both give the
same bits.
"""

import numpy as np

from . import scalar
from .dense import order_length, rows_at
from .intrinsics import (
    LINE,
    claim_next,
    fetch_add,
    line_items,
    load_acquire,
    prefetch,
    prefetch_l2,
    vfma,
    vload8,
    vmul,
    vsplat8,
    vstore8,
)
from .jit import jit
from .predict import NARROW, ask_columns, ask_item, dot_run, narrow_dot, narrow_update
from .team import (
    ABORT,
    DONE,
    claim_part,
    finish_part,
    finish_task,
    join,
    leave,
    open_batch,
    wait_turn,
)
from .update import (
    ADAGRAD_EPS,
    HISTORY_STEPS,
    LOSS_SOFTMAX,
    LR_ADAGRAD,
    MIN_SCALE,
    catch_up,
    lazy_supported,
    lean_scalars,
    rate,
    record_elastic,
    restart_history,
    scalar_rate,
    step,
    truncate,
)

#: Above this many columns the lean epochs ask for the next row's weights
#: before working on the current row: the binary model's no longer fit in
#: L2, the softmax model's table (a 64-byte line a column) not in a share
#: of L3. Below, the requests cost more than they saved: without them, at
#: rcv1's shape (47,236 columns) the binary epoch ran faster and the
#: 5-class epoch took 0.91-0.96x the time (0.72-0.8x on 47,236 columns
#: drawn uniformly, 20 a row); on 300,000 such columns it took 1.3-1.4x
#: as long, on 100,000 about the same. Both ask for the lines into L2
#: (:func:`~fastlr._kernels.predict.ask_columns`), not into L1 for
#: writing: on 300,000 columns the 5-class epoch took 0.81-0.86x the time
#: so, the binary one on one thread 0.56-0.72x (0.65-0.77x on 1M).
LEAN_NEAR_COLUMNS = 1 << 17


@jit()
def inverse_scale(scale):
    """``(scaled, 1 / scale)``: whether any column is scaled, and the
    reciprocals (empty when none is)."""
    n = scale.shape[0]
    scaled = False
    for j in range(n):
        if scale[j] != 1.0:
            scaled = True
            break
    isc = np.empty(n if scaled else 0)
    for j in range(n if scaled else 0):
        isc[j] = 1.0 / scale[j]
    return scaled, isc


# --------------------------------------------------------------------------
# the lean path: one binary model whose step needs no per-column record
#
# The common sparse fit (one binary model, L2 or no penalty, a rate of
# rate(): not AdaGrad, no averaging) owes untouched columns nothing but the
# L2 shrink, which the scale trick (w = s * v) defers without any per-column
# record. The general epoch above still copies the model into its table and
# asks for every entry's record a row ahead; on rcv1's shape (47,236
# columns: the weights fit in L2) that bookkeeping costs more than it saves.
# The lean epoch reads and writes the weight vector itself. A row's logit is
# its dot product over the columns below ``n // 2`` plus the one over the
# rest (:func:`lean_halves`), so that on a team each of two threads owns one
# half of the weights (:func:`lean_worker`): the weights then never move
# between cores. Sharing them (rows split between threads for the dot
# products, then columns for the update) made two threads 1.5-1.9x slower
# than one at rcv1's shape: every batch touches most of the 47,236 weights,
# and each one the other core had written was fetched from it. The parts:
#
# * :func:`lean_rows`: logits, residuals and losses of a range of the
#   batch's positions at the batch's starting weights, per position (one
#   thread); on the team :func:`lean_part` (one half's dot products) and
#   :func:`lean_tail` (their sums, the residuals and losses of one part of
#   the batch's positions: the first :func:`tail_split` positions, or the
#   rest), both through :func:`lean_block`, which also adds each part's
#   sums in position order;
# * :func:`lean_step`: part 0's sums then part 1's added to the epoch's,
#   then the step's scalars (the shrink of s, the intercept, the gradient
#   coefficient);
# * :func:`lean_apply`: the gradient step row by row on the columns present
#   (on a team, each thread on its half, so every column still receives its
#   rows' updates in row order).
#
# Both paths do the same arithmetic in the same order: bit-identical
# results for any number of threads.

#: The halves of the weights (see above; fixed: it defines the sums).
LEAN_PARTS = 2

#: How much longer than a dense batch's wait a lean phase's wait may last
#: before the waiting thread leaves the team (``scale`` of
#: :func:`fastlr._kernels.team.retire`): a thread that joins late waits a
#: whole phase, both halves and the tail, which at 1 (about 50 us of
#: yields) made it leave in two runs of three, and the epoch then ran on one
#: thread.
LEAN_WAIT_SCALE = 8

#: Slots of the lean team's claim array: one per half, then the count of
#: threads that have asked for a seat (int64 slots a cache line apart).
CLAIM_SLOT = 16


@jit(exact=True, inline=True)
def tail_split(bsz):
    """Where the second part of a batch's tail on a lean team starts (its
    first ``bsz`` positions cut in two, the first part a whole number of
    eight positions: the tail's vectorized loops then start each part on a
    vector)."""
    return min(bsz, (bsz + 15) // 16 * 8)


@jit(exact=True, inline=True)
def first_at_least(indices, lo, hi, col):
    """The first position of ``lo .. hi - 1`` whose (sorted) column index
    is at least ``col``, else ``hi``: a binary search whose steps are
    selects, not branches (a branch on where a row crosses a column, or a
    loop that stops there, is mispredicted about once a row: at batch size
    1 the epoch took 1.2-1.5x as long)."""
    base = lo
    count = hi - lo
    while count > 0:
        half = count >> 1
        below = indices[base + half] < col
        base = base + half + 1 if below else base
        count = count - half - 1 if below else half
    return base


@jit(exact=True, inline=True)
def lean_half(data, indices, lo, mid, hi, part, v, isc, scaled):
    """Half ``part`` of a row's dot product: over its columns below ``n //
    2`` (entries ``lo .. mid - 1``) or over the rest (``mid .. hi - 1``).
    Each reads only its own entries and weights."""
    return dot_run(data, indices, lo if part == 0 else mid, mid if part == 0 else hi,
                   v, isc, scaled)


@jit(exact=True, runtime=False)
def row_splits(indices, indptr, half, splits, lo, hi):
    """``splits[i]`` = where row ``i``'s columns from ``half`` on start, for
    rows ``lo .. hi - 1`` (:func:`first_at_least`). Found once per X: the
    search took about a fifth of an epoch's dot products on rcv1's shape,
    and searching where a loaded split is missing (a branch and a store in
    the dot products' loop) made them 2.3x slower on 1M columns."""
    for i in range(lo, hi):
        splits[i] = first_at_least(indices, indptr[i], indptr[i + 1], half)


@jit(exact=True, inline=True)
def lean_halves(data, indices, indptr, splits, i, v, isc, scaled):
    """Row ``i``'s dot product as the lean epoch defines it: its two
    :func:`lean_half`, added."""
    lo = indptr[i]
    hi = indptr[i + 1]
    return (lean_half(data, indices, lo, splits[i], hi, 0, v, isc, scaled)
            + lean_half(data, indices, lo, splits[i], hi, 1, v, isc, scaled))


@jit(exact=True, inline=True)
def lean_row(data, indices, indptr, splits, y, sw, row_fold, hold, i, v, isc,
             scaled, s, b, track_loss):
    """:func:`lean_residual` of row ``i`` at the weights ``s * v`` and
    intercept ``b``."""
    z = s * lean_halves(data, indices, indptr, splits, i, v, isc, scaled) + b
    return scalar.lean_residual(z, y, sw, row_fold, hold, i, track_loss)


@jit(exact=True, runtime=False)
def lean_block(y, sw, row_fold, hold, rows, p0, p1, F, R, P, track_loss):
    """:func:`lean_residual` of a batch's positions ``p0 .. p1 - 1`` (rows
    ``rows[p0:p1]``) from their logits ``F[6, p0:p1]``, vectorized: ``exp`` by
    :func:`fastlr._kernels.scalar.exp_neg_abs` and the rest by
    :func:`fastlr._kernels.scalar.residuals` (polynomials that LLVM
    vectorizes: each value is :func:`lean_residual`'s to rounding, and
    the same whichever range it is computed in). ``R[pos]`` the residual;
    ``P[:6]`` the sums over the positions, added in position order, of the
    other five values (loss, bound, held-out loss and weight, 1 if trained
    on) and of the residuals: a batch's step takes the sums of its two
    parts (:func:`tail_split`), part 0's first. ``F`` (7, nb) float64,
    rows 0-5 scratch. As a loop of :func:`lean_residual` it took about an
    eighth of the one-thread epoch at rcv1's shape."""
    yb, wb, e, r, loss, bound, z = (F[0, p0:], F[1, p0:], F[2, p0:], F[3, p0:],
                                    F[4, p0:], F[5, p0:], F[6, p0:])
    weighted = sw.shape[0] > 0
    folds = row_fold.shape[0] > 0
    for pos in range(p0, p1):
        i = rows[pos]
        yb[pos - p0] = np.float64(y[i])
        wb[pos - p0] = sw[i] if weighted else 1.0
    nb = p1 - p0
    scalar.exp_neg_abs(z, nb, e)
    # the weighted values first, apart from the sums: a product added in the
    # same expression would be contracted into a fused multiply-add
    scalar.residuals(z, yb, wb, nb, weighted, track_loss or folds, e, r, loss, bound)
    s0 = s1 = s2 = s3 = s4 = s5 = 0.0
    for pos in range(p0, p1):
        q = pos - p0
        trained = not (folds and row_fold[rows[pos]] == hold)
        rr = r[q] if trained else 0.0
        R[pos] = rr
        s0 += loss[q] if trained and track_loss else 0.0
        s1 += bound[q] if trained else 0.0
        s2 += 0.0 if trained else loss[q]
        s3 += 0.0 if trained else wb[q]
        s4 += 1.0 if trained else 0.0
        s5 += rr
    P[0], P[1], P[2], P[3], P[4], P[5] = s0, s1, s2, s3, s4, s5


@jit(exact=True, runtime=False)
def lean_rows(data, indices, indptr, splits, y, sw, row_fold, hold, rows, bsz, nrows,
              v, isc, scaled, sb, track_loss, far, shuffled, F, R, P):
    """The logits of a batch's positions (rows ``rows[:bsz]``) at the
    batch's starting weights (``sb`` = (s, b, ...)) into ``F[6]``, then
    :func:`lean_block` of the two tail parts (sums ``P[0]``, ``P[1]``): on
    one thread what :func:`lean_part` (both halves) and :func:`lean_tail`
    do on a team.

    Compiled without numba's runtime, as the team's kernels: inlined into a
    kernel that needs it, the per-row kernels counted array references (the
    team's worker on one thread took 175-178 ms an epoch at rcv1's shape,
    batch 256; 100-137 ms with them compiled apart)."""
    s = sb[0]
    b = sb[1]
    z = F[6]
    for pos in range(bsz):
        if shuffled:
            ask_ahead(data, indices, indptr, rows, pos, nrows, y, splits, row_fold)
        if far and pos + 1 < bsz:
            inext = rows[pos + 1]
            ask_columns(v, indices, indptr[inext], indptr[inext + 1], 1)
        z[pos] = s * lean_halves(data, indices, indptr, splits, rows[pos], v, isc,
                                 scaled) + b
    mid = tail_split(bsz)
    lean_block(y, sw, row_fold, hold, rows, 0, mid, F, R, P[0], track_loss)
    lean_block(y, sw, row_fold, hold, rows, mid, bsz, F, R, P[1], track_loss)


@jit(exact=True, inline=True)
def ask_entries(data, indices, start, end):
    """Ask L2 for the stored entries ``start .. end - 1`` of a CSR row: their
    values and column indices, a line at a time."""
    for p in range(start, end, line_items(data)):
        prefetch_l2(data, p)
    for p in range(start, end, line_items(indices)):
        prefetch_l2(indices, p)
    if end > start:   # the last line, when the first does not start one
        prefetch_l2(data, end - 1)
        prefetch_l2(indices, end - 1)


#: How many positions ahead of its work a CSR epoch asks for a row's stored
#: entries when the rows are visited out of their stored order (a shuffled
#: epoch, :func:`ask_ahead`); it asks for the row's start in ``indptr``
#: twice as far ahead. Each row is then a random access that no hardware
#: prefetcher predicts (at rcv1's shape a shuffled order visits single rows:
#: :func:`fastlr._order.block_rows` sizes blocks by the dense row).
SHUFFLED_AHEAD_ROWS = 8

#: The batch-1 lean epoch finds the rows of its order this many at a time.
WINDOW_ROWS = 64


@jit(exact=True, inline=True)
def ask_ahead(data, indices, indptr, rows, pos, nrows, a, b, c):
    """Ask for the stored entries of ``rows[pos + SHUFFLED_AHEAD_ROWS]``,
    and its values in the per-row arrays ``a``, ``b`` and ``c`` (labels,
    weights, folds, splits: each of m values, or empty), and for the start
    of ``rows[pos + 2 * SHUFFLED_AHEAD_ROWS]``, where they are among the
    ``nrows`` rows known (:func:`batch_ahead`). The per-row arrays are
    asked for too: the rows streaming through the caches evict them (at
    rcv1's shape, the labels' load had 42% of a shuffled epoch's samples
    once the rows came ahead)."""
    if pos + 2 * SHUFFLED_AHEAD_ROWS < nrows:
        prefetch_l2(indptr, rows[pos + 2 * SHUFFLED_AHEAD_ROWS])
    if pos + SHUFFLED_AHEAD_ROWS < nrows:
        i = rows[pos + SHUFFLED_AHEAD_ROWS]
        ask_entries(data, indices, indptr[i], indptr[i + 1])
        ask_item(a, i)
        ask_item(b, i)
        ask_item(c, i)


@jit(exact=True, inline=True)
def ask_half(data, indices, indptr, splits, i, part):
    """:func:`ask_entries` for half ``part`` of row ``i``'s entries."""
    ask_entries(data, indices, indptr[i] if part == 0 else splits[i],
                splits[i] if part == 0 else indptr[i + 1])


#: How many positions ahead of its dot products a lean team's thread asks
#: for the stored entries of its half of a row (:func:`ask_entries`). Both
#: threads read every row, each its own entries: with the cores' hardware
#: prefetchers alone, the dot products of a half took 1.2x as long per
#: entry on a team of two as on one thread at rcv1's shape (out of cache;
#: the same per entry on 30,000 of its rows, in cache). 16 ahead (32 and 64
#: measured the same) made the two-thread epoch 0.93-0.94x as long (30.2-30.7
#: against 32.2-32.8 ms); one thread that asked so took 1.07x as long.
LEAN_AHEAD_ROWS = 16


@jit(exact=True, runtime=False)
def lean_part(data, indices, indptr, splits, rows, bsz, part, v, isc, scaled, far,
              shuffled, Z):
    """Half ``part`` of :func:`lean_halves` for the rows ``rows[:bsz]`` of a
    batch: ``Z[pos]`` the dot product over the row's columns in that half
    (:func:`lean_half`: reading no weight of the other half), asking for
    the entries of its half of the row LEAN_AHEAD_ROWS positions ahead
    and, in a ``shuffled`` order, for the row's start and split twice as
    far ahead (as :func:`ask_ahead`)."""
    n = v.shape[0]
    half = n // 2
    own = n - 1 if part else 0   # prefetched in place of the other half's
    for pos in range(bsz):
        if shuffled and pos + 2 * LEAN_AHEAD_ROWS < bsz:
            ib = rows[pos + 2 * LEAN_AHEAD_ROWS]
            prefetch_l2(indptr, ib)
            prefetch_l2(splits, ib)
        if pos + LEAN_AHEAD_ROWS < bsz:
            ask_half(data, indices, indptr, splits, rows[pos + LEAN_AHEAD_ROWS], part)
        if far and pos + 1 < bsz:
            i1 = rows[pos + 1]
            for p in range(indptr[i1], indptr[i1 + 1]):
                j = indices[p]
                prefetch_l2(v, j if (j >= half) == (part == 1) else own)
        i = rows[pos]
        Z[pos] = lean_half(data, indices, indptr[i], splits[i], indptr[i + 1], part,
                           v, isc, scaled)


@jit(exact=True, runtime=False)
def lean_tail(y, sw, row_fold, hold, rows, p0, p1, Z, sb, track_loss, F, R, P):
    """:func:`lean_rows` of a batch's positions ``p0 .. p1 - 1`` from their
    halves' dot products ``Z`` (2, nb) (:func:`lean_part`): the same
    logits, residuals and losses."""
    s = sb[0]
    b = sb[1]
    z = F[6]
    for pos in range(p0, p1):
        z[pos] = s * (Z[0, pos] + Z[1, pos]) + b
    lean_block(y, sw, row_fold, hold, rows, p0, p1, F, R, P, track_loss)


@jit(exact=True, inline=True)
def lean_step(P, acc, opt, hyper, B, steps, v, sb):
    """The step of a batch from its two parts' sums ``P`` (2, >= 6)
    (:func:`lean_block`'s of positions ``0 .. tail_split(bsz) - 1`` and of
    the rest: so on one thread as on a team, where each part's thread adds
    its own), added part 0 first; then :func:`lean_scalars`: ``sb`` becomes
    (s, b, the gradient step's coefficient, 0 when no row trained, the
    residual sum). In place."""
    for q in range(5):
        acc[0, q] += P[0, q]
        acc[0, q] += P[1, q]
    cnt = P[0, 4] + P[1, 4]
    sr = P[0, 5] + P[1, 5]
    sb[2] = 0.0
    if cnt == 0.0:
        return
    sb[3] = sr
    sb[0], sb[2] = lean_scalars(cnt, sb[3:], opt, hyper, B, steps, v, sb[0])
    sb[1] = B[0, 0]


@jit(exact=True, inline=True)
def lean_apply_row(data, indices, lo, hi, cr, v, isc, scaled):
    """``v[j] -= cr * x_j (/ scale[j])`` for one row's entries (unsigned
    positions and columns, as :func:`dot_run`)."""
    if scaled:
        for p in range(np.uint64(lo), np.uint64(hi)):
            j = np.uint64(indices[p])
            v[j] -= cr * (data[p] * isc[j])
    else:
        for p in range(np.uint64(lo), np.uint64(hi)):
            j = np.uint64(indices[p])
            v[j] -= cr * data[p]


@jit(exact=True, runtime=False)
def lean_apply(data, indices, indptr, splits, rows, bsz, R, cst, v, isc, scaled, part):
    """The gradient step of a batch, row by row: ``v[j] -= cst * R[pos] *
    x_j (/ scale[j])`` for the columns present: all of them (``part`` -1),
    or those of half ``part`` (``splits[i]``: where row ``i``'s second half
    starts, :func:`row_splits`), so that the threads owning the halves never
    write the same weight and each column is updated in row order."""
    for pos in range(bsz):
        cr = cst * R[pos]
        if cr == 0.0:
            continue
        i = rows[pos]
        lo = splits[i] if part == 1 else indptr[i]
        hi = splits[i] if part == 0 else indptr[i + 1]
        lean_apply_row(data, indices, lo, hi, cr, v, isc, scaled)


@jit(exact=True)
def lean_epoch(data, indices, indptr, splits, y, sw, blocks, block, batch_size, opt,
               models, state, acc):
    """:func:`epoch` for one binary model whose options :func:`is_lean`
    accepts, on one thread: the same arithmetic as the team's
    :func:`lean_worker` (bit-identical results), without its protocol.
    ``splits`` (m,) of indptr's dtype: each row's split (:func:`row_splits`)."""
    m = order_length(blocks, block, indptr.shape[0] - 1)
    scaled, isc = inverse_scale(models[1][models[2][0]])
    nb_max = min(batch_size, m)
    lean_batches(data, indices, indptr, splits, y, sw, blocks, block, batch_size, opt,
                 models, state, acc,
                 (row_buffer(nb_max), np.empty(nb_max),
                  np.empty(4), isc, np.empty((7, nb_max)),
                  np.empty((LEAN_PARTS, 6))),
                 scaled)


@jit(exact=True, runtime=False)
def lean_batches(data, indices, indptr, splits, y, sw, blocks, block, batch_size,
                 opt, models, state, acc, scratch, scaled):
    """The batches of :func:`lean_epoch` on its scratch ``(rows, residuals,
    per-position losses, (s, b, step coefficient, residual sum), 1 /
    scale, lean_block's scratch)``, compiled without numba's runtime: it
    allocates nothing, so the kernels inlined per row that take arrays
    count no references (at rcv1's shape, batch 1, NRT_incref/decref had
    26% of the samples)."""
    m = order_length(blocks, block, indptr.shape[0] - 1)
    mean, scale, stat, hyper, fold, row_fold, active = models
    W, B, steps, gsq, avg, l1_u, l1_q = state
    rowbuf, R, sb, isc, F, P = scratch
    v = W[0, 0]
    n = v.shape[0]
    far = n > LEAN_NEAR_COLUMNS
    shuffled = block < m
    sb[0] = 1.0
    sb[1] = B[0, 0]
    hold = fold[0]
    if batch_size == 1:
        # per-row SGD: the steps below with bsz = 1, its scalars kept in
        # registers, its row's residual by lean_residual (libm's exp, where
        # the batches use lean_block's polynomial: equal to rounding)
        s = 1.0
        b = B[0, 0]
        sums = (acc[0, 0], acc[0, 1], acc[0, 2], acc[0, 3], acc[0, 4])
        nwin = 0
        for pos in range(m):
            # the rows of the order in windows of WINDOW_ROWS (and the rows
            # ask_ahead needs after them)
            q = pos % WINDOW_ROWS
            if q == 0:
                nwin = batch_ahead(blocks, block, pos, WINDOW_ROWS, m, rowbuf)[1]
            i = rowbuf[q]
            if shuffled:
                ask_ahead(data, indices, indptr, rowbuf, q, nwin, y, splits, row_fold)
            if far and pos + 1 < m:
                inext = rowbuf[q + 1]
                ask_columns(v, indices, indptr[inext], indptr[inext + 1], 1)
            row = lean_row(data, indices, indptr, splits, y, sw, row_fold, hold, i, v,
                           isc, scaled, s, b, opt.track_loss)
            sums = scalar.add_row_sums(sums, row)
            if row[5] == 0.0:
                continue
            r = row[0]
            c = row[5]
            sb[3] = r
            s, cst = lean_scalars(c, sb[3:], opt, hyper, B, steps, v, s)
            b = B[0, 0]
            cr = cst * r
            if cr != 0.0:
                lean_apply_row(data, indices, indptr[i], indptr[i + 1], cr, v, isc,
                               scaled)
        acc[0, 0], acc[0, 1], acc[0, 2], acc[0, 3], acc[0, 4] = sums
        sb[0] = s
    for start in range(0, m if batch_size > 1 else 0, batch_size):
        bsz, nrows = batch_ahead(blocks, block, start, batch_size, m, rowbuf)
        lean_rows(data, indices, indptr, splits, y, sw, row_fold, hold, rowbuf, bsz,
                  nrows, v, isc, scaled, sb, opt.track_loss, far, shuffled, F, R, P)
        lean_step(P, acc, opt, hyper, B, steps, v, sb)
        if sb[2] != 0.0:   # whole rows
            lean_apply(data, indices, indptr, splits, rowbuf, bsz, R, sb[2], v, isc,
                       scaled, -1)
    if sb[0] != 1.0:
        for j in range(n):
            v[j] *= sb[0]


@jit(inline=True)
def line_aligned_zeros(n, width):
    """``np.zeros((n, width))`` float64 whose first element starts a cache
    line: a narrow table's row of 8 weights (64 bytes) is then one line,
    not two halves of neighbouring ones. The allocator aligns to 32 bytes
    only (either state occurs, by process): at k = 5 on rcv1's shape the
    misaligned table made the epoch 1.15-1.2x slower."""
    buf = np.zeros(n * width + LINE // 8)
    off = ((LINE - buf.ctypes.data % LINE) % LINE) // 8
    return buf[off:off + n * width].reshape((n, width))


@jit(exact=True, inline=True)
def scale_slots(iv, stat, col, k):
    """Where the scalar layout of :func:`epoch` keeps ``1 / scale`` for the
    weight slots ``col .. col + 3``: their models' standardizations' slots
    ``iv + stat[c // k]`` (computed once a row, outside the loops over its
    entries). Slots past the last weight (``col + 3`` beyond it) read the
    last model's."""
    K = stat.shape[0]
    return (iv + stat[col // k], iv + stat[min((col + 1) // k, K - 1)],
            iv + stat[min((col + 2) // k, K - 1)], iv + stat[min((col + 3) // k, K - 1)])


@jit(exact=True, inline=True)
def wide_factor(T, j, m, scaled):
    """What a weight of column ``j`` is multiplied by in the scalar layout:
    ``T[j, m]``, its model's ``1 / scale``, when ``scaled``, else 1 (an
    exact no-op: the same bits as no factor)."""
    return T[j, m] if scaled else 1.0


@jit(exact=True, inline=True)
def wide_dot(data, indices, lo, hi, T, iv, stat, k, scaled, col, four, dot):
    """``dot[c] = sum_p x_p * T[j_p, c] (/ scale)`` over a row's entries for
    the slots ``col .. col + 3`` of the scalar layout (``four``) or the slot
    ``col`` alone: :func:`dot_run` on each slot's column of the table (as
    :func:`narrow_dot` sums its lanes: the two layouts agree bit for
    bit)."""
    ms = scale_slots(iv, stat, col, k) if scaled else (col, col, col, col)
    for c in range(4 if four else 1):
        dot[col + c] = dot_run(data, indices, lo, hi, T[:, col + c], T[:, ms[c]], scaled)


@jit(exact=True, inline=True)
def wide_update(data, indices, lo, hi, T, iv, stat, k, scaled, col, four, c0, c1, c2,
                c3):
    """``T[j, c] -= c_c * x_j (/ scale)`` over a row's entries for the slots
    ``col .. col + 3`` of the scalar layout (``four``) or the slot ``col``
    alone."""
    m0, m1, m2, m3 = scale_slots(iv, stat, col, k)
    for p in range(lo, hi):
        j = indices[p]
        x = data[p]
        T[j, col] -= c0 * (x * wide_factor(T, j, m0, scaled))
        if four:
            T[j, col + 1] -= c1 * (x * wide_factor(T, j, m1, scaled))
            T[j, col + 2] -= c2 * (x * wide_factor(T, j, m2, scaled))
            T[j, col + 3] -= c3 * (x * wide_factor(T, j, m3, scaled))


@jit(inline=True)
def batch_scratch(m, batch_size, slots, wide):
    """The scratch of the table epochs (:func:`epoch`,
    :func:`lean_softmax_epoch`): a batch's rows and the rows after them
    that :func:`batch_ahead` reads (:func:`row_buffer`), the residuals
    (nb, ``slots``), the batch's logits (nb, ``wide``) and the lane
    layout's step coefficients (``wide``,)."""
    nb = min(batch_size, m)
    return row_buffer(nb), np.zeros((nb, slots)), np.zeros((nb, wide)), np.zeros(wide)


@jit(inline=True)
def row_buffer(nb):
    """The rows of a batch of ``nb`` (or of a per-row loop's window of
    WINDOW_ROWS, if more) and the rows after them that :func:`batch_ahead`
    reads: (max(nb, WINDOW_ROWS) + 2 * SHUFFLED_AHEAD_ROWS,) int64."""
    return np.empty(max(nb, WINDOW_ROWS) + 2 * SHUFFLED_AHEAD_ROWS, dtype=np.int64)


@jit(inline=True)
def batch_ahead(blocks, block, start, batch_size, m, rowbuf):
    """The batch at sequence position ``start``: its rows into
    ``rowbuf[:bsz]``, then the rows after it that are read ahead: in a
    shuffled order (``block < m``) the next ``2 * SHUFFLED_AHEAD_ROWS``
    (:func:`ask_ahead`), in the stored order the next one
    (:func:`row_ahead`; finding 16 more per batch was 5% of the samples
    of a batch-1 epoch of 5 classes at rcv1's shape); returns ``(bsz, the
    number of rows in rowbuf)``."""
    bsz = min(batch_size, m - start)
    nrows = min(bsz + (2 * SHUFFLED_AHEAD_ROWS if block < m else 1), m - start)
    rows_at(blocks, block, start, nrows, rowbuf)
    return bsz, nrows


@jit(inline=True)
def row_ahead(data, indices, indptr, y, sw, row_fold, rowbuf, start, pos, nrows, m,
              shuffled):
    """The row at the batch's position ``pos`` (rows from
    :func:`batch_ahead`, ``nrows`` of them) and the row read after it, or
    -1 after the epoch's last row; in a shuffled order (``shuffled``),
    first asks for the inputs of the rows further ahead
    (:func:`ask_ahead`)."""
    if shuffled:
        ask_ahead(data, indices, indptr, rowbuf, pos, nrows, y, sw, row_fold)
    return rowbuf[pos], rowbuf[pos + 1] if start + pos + 1 < m else -1


@jit()
def is_lean_softmax(opt, hyper, k):
    """Whether :func:`lean_softmax_epoch` serves this stack: one softmax
    model of 2 to ``NARROW`` classes under the options :func:`is_lean`
    accepts for a binary model."""
    return (opt.loss == LOSS_SOFTMAX and hyper.shape[0] == 1 and hyper[0, 1] == 0.0
            and scalar_rate(opt) and opt.average_start == 0
            and 2 <= k <= NARROW)


#: :func:`lean_softmax_epoch` works on the weights in place while an
#: epoch's entries times the classes are fewer than this many times the
#: columns (:func:`softmax_in_place`). The table costs a pass over all n
#: columns to fill it and one to empty it, every epoch; in place, an entry
#: reads and writes k cache lines instead of one. Epochs of 5 classes on
#: random columns, 20 entries a row, in place / through the table: 0.16,
#: 0.34, 0.62 and 1.18 at 0.1, 1, 3 and 10 times the columns on 50,000
#: columns; 0.03, 0.23, 0.61 and 1.73 on 1M (the fastest of three epochs,
#: medians of five fits, the machine shared with other work).
SOFTMAX_IN_PLACE_ENTRIES = 4


@jit(exact=True, inline=True)
def softmax_in_place(indptr, m, k, n):
    """Whether :func:`lean_softmax_epoch` works on the weights in place
    rather than through its table (:data:`SOFTMAX_IN_PLACE_ENTRIES`): for
    an epoch of ``m`` rows (at X's mean entries a row), ``k`` classes and
    ``n`` columns. A stream's chunks on hashed features are the case: at
    k = 5 on 2**20 columns, a chunk of 100 rows of 20 entries took 4.5-6.8
    ms an epoch (fit's marginal epoch) against 99-147 ms through the table,
    and a ``partial_fit`` call 26-83 ms against 128-206 (the code before
    and after in alternating processes, two runs each, on a loaded
    machine: the size of the effect, not a ratio)."""
    rows = indptr.shape[0] - 1
    nnz = np.float64(indptr[rows] - indptr[0])
    return nnz * m / max(rows, 1) * k < SOFTMAX_IN_PLACE_ENTRIES * n


@jit(exact=True)
def lean_softmax_epoch(data, indices, indptr, y, sw, blocks, block, batch_size,
                       opt, models, state, acc, in_place):
    """:func:`epoch` for one softmax model whose options
    :func:`is_lean_softmax` accepts: the lane layout and the arithmetic of
    :func:`epoch` (bit-identical results), with the lean path's step
    (:func:`lean_scalars`) in place of the general one's bookkeeping for
    K models, records and catch-up (on rcv1's shape at k = 5, that
    bookkeeping cost about as much as the entries' loops). Allocates the
    table and the scratch; :func:`lean_softmax_batches` runs the batches.
    ``in_place`` (:func:`softmax_in_place`): no table, each class's row of
    ``W`` read and written where it is (:func:`softmax_dot`,
    :func:`softmax_update`): the same results, bit for bit."""
    m = order_length(blocks, block, indptr.shape[0] - 1)
    scale, stat = models[1], models[2]
    W, B = state[0], state[1]
    k = W.shape[1]
    n = W.shape[2]
    scaled, isc = inverse_scale(scale[stat[0]])
    width = NARROW + 1 if scaled else NARROW
    rows = 0 if in_place else n
    T = line_aligned_zeros(rows, width)
    for j in range(rows):
        for c in range(k):
            T[j, c] = W[0, c, j]
        if scaled:
            T[j, NARROW] = isc[j]
    rowbuf, R, dot, cr8 = batch_scratch(m, batch_size, NARROW, NARROW)
    s = lean_softmax_batches(data, indices, indptr, y, sw, blocks, block, batch_size,
                             opt, models, state, acc,
                             (T, T.reshape(rows * width), rowbuf, R, dot[0], cr8,
                              np.empty(k), np.empty(k), W[0], isc, in_place), scaled)
    if in_place:
        record_finite(acc, 0, fold_scale(W[0], s, dot[0]), B)
        return
    nan = 0.0
    for j in range(n):
        for c in range(k):
            W[0, c, j] = T[j, c] * s
            nan += W[0, c, j] * 0.0
    record_finite(acc, 0, nan, B)


@jit(exact=True, inline=True)
def fold_scale(V, s, lanes):
    """``V *= s`` (unless ``s`` is 1: ``V * 1`` is ``V``) and the sum of
    ``V * 0`` over its elements after (NaN if one is infinite or NaN, else
    0), eight elements at a time: a single chain of additions over the
    k n weights waits for each one. ``lanes`` is (>= 8,) scratch."""
    k, n = V.shape
    zero = vsplat8(0.0)
    acc = zero
    sv = vsplat8(s)
    for c in range(k):
        row = V[c]
        j = 0
        while j + 8 <= n:
            v = vload8(row, j)
            if s != 1.0:
                v = vmul(v, sv)
                vstore8(row, j, v)
            acc = vfma(v, zero, acc)
            j += 8
        for jj in range(j, n):
            if s != 1.0:
                row[jj] *= s
            acc = vfma(vsplat8(row[jj]), zero, acc)
    vstore8(lanes, 0, acc)
    nan = 0.0
    for t in range(8):
        nan += lanes[t]
    return nan


@jit(exact=True, inline=True)
def softmax_dot(data, indices, lo, hi, T, iv, scaled, k, dot, V, isc, in_place):
    """``dot[:k]``: a row's (entries ``lo .. hi - 1``) k sums of the
    softmax epoch: :func:`narrow_dot` on the table ``T``, or ``in_place``
    :func:`dot_run` on each class's weights ``V[c]`` (``isc`` the
    reciprocal scales): each class summed in the same order, bit for bit."""
    if in_place:
        for c in range(k):
            dot[c] = dot_run(data, indices, lo, hi, V[c], isc, scaled)
    else:
        narrow_dot(data, indices, lo, hi, T, iv, scaled, 0, k, dot)


@jit(exact=True, inline=True)
def softmax_update(data, indices, lo, hi, T, iv, scaled, k, cr, V, isc, in_place):
    """A row's gradient step in the softmax epoch, ``w_c[j] -= cr[c] *
    x_j (/ scale[j])``: :func:`narrow_update` on the table ``T``, or
    ``in_place`` :func:`lean_apply_row` on each class's weights ``V[c]``
    (the same rounding: one multiply-add per weight)."""
    if in_place:
        for c in range(k):
            lean_apply_row(data, indices, lo, hi, cr[c], V[c], isc, scaled)
    else:
        narrow_update(data, indices, lo, hi, T, iv, scaled, 0, k, cr)


@jit(exact=True, inline=True)
def record_finite(acc, mm, nan, B):
    """``acc[mm, 5]`` = 1.0 if model ``mm``'s weights, summed into ``nan``
    each times 0 (NaN for an infinite or NaN weight, else 0), and its
    intercepts are finite, else 0.0."""
    for c in range(B.shape[1]):
        nan += B[mm, c] * 0.0
    acc[mm, 5] = 1.0 if nan == 0.0 else 0.0


@jit(exact=True, inline=True)
def softmax_lean_row(data, indices, indptr, y, sw, row_fold, hold, i, T, iv, scaled,
                     k, s, B, dot, z, acc, track_loss, V, isc, in_place):
    """Row ``i`` of :func:`lean_softmax_batches` at the weights ``s * T``
    and intercepts ``B[0]``: its residuals into ``z[:k]`` and its losses
    added to ``acc[0]``; False for a row held out (fold ``hold`` of
    ``row_fold``), which is scored only (its loss and weight into
    ``acc[0, 2:4]``; ``z`` then holds its logits)."""
    softmax_dot(data, indices, indptr[i], indptr[i + 1], T, iv, scaled, k, dot, V, isc,
                in_place)
    wt = sw[i] if sw.shape[0] > 0 else 1.0
    for c in range(k):
        z[c] = s * dot[c] + B[0, c]
    if row_fold.shape[0] > 0 and row_fold[i] == hold:
        acc[0, 2] += wt * scalar.softmax_loss(z, k, y[i])
        acc[0, 3] += wt
        return False
    loss, bound = scalar.softmax_row(z, k, y[i], wt, track_loss)
    acc[0, 0] += loss
    acc[0, 1] += bound
    return True


@jit(exact=True, runtime=False)
def lean_softmax_batches(data, indices, indptr, y, sw, blocks, block, batch_size,
                         opt, models, state, acc, table, scaled):
    """The batches of :func:`lean_softmax_epoch` on its table and scratch
    ``table = (T, T flat, rows (:func:`row_buffer`), residuals (nb, NARROW), logits
    (NARROW,), step coefficients (NARROW,), z (k,), sums (k,), W[0], 1 /
    scale, in_place)`` (``in_place``: T is empty, the weights are W[0]'s
    rows, see :func:`lean_softmax_epoch`); returns the L2 scale ``s`` of
    the weights ``s * T`` (or ``s * W[0]``). Compiled without numba's
    runtime: it allocates nothing, and so counts no references (inlined
    kernels that take arrays, such as :func:`narrow_dot`, otherwise cost
    an atomic increment and decrement per array per row: 9% of the epoch
    at k = 5, batch 1).

    At batch 1 each row is its own step, its rows found WINDOW_ROWS at a
    time, without the batches' two loops: the same arithmetic (results
    bit-identical), and at rcv1's shape, k = 5, the epoch at batch 1 took
    0.99-1.02x its time at batch 32 where it had taken 1.04-1.10x (both
    in each process, six processes a tree, alternating)."""
    m = order_length(blocks, block, indptr.shape[0] - 1)
    mean, scale, stat, hyper, fold, row_fold, active = models
    W, B, steps, gsq, avg, l1_u, l1_q = state
    T, Tf, rowbuf, R, dot, cr8, z, S, V, isc, in_place = table
    k = W.shape[1]
    iv = NARROW
    width = T.shape[1]
    hold = fold[0]
    far = T.shape[0] > LEAN_NEAR_COLUMNS
    shuffled = block < m
    s = 1.0
    if batch_size == 1:
        # per-row SGD: each row's step as a batch of one below, its rows
        # found WINDOW_ROWS at a time (as the binary lean epoch does)
        nwin = 0
        for pos in range(m):
            q = pos % WINDOW_ROWS
            if q == 0:
                nwin = batch_ahead(blocks, block, pos, WINDOW_ROWS, m, rowbuf)[1]
            i, inext = row_ahead(data, indices, indptr, y, sw, row_fold, rowbuf, pos - q,
                                 q, nwin, m, shuffled)
            if far and inext >= 0:
                ask_columns(Tf, indices, indptr[inext], indptr[inext + 1], width)
            if not softmax_lean_row(data, indices, indptr, y, sw, row_fold, hold, i, T,
                                    iv, scaled, k, s, B, dot, z, acc, opt.track_loss,
                                    V, isc, in_place):
                continue
            trained = acc[0, 4]
            acc[0, 4] = trained + 1.0
            for c in range(k):
                S[c] = 0.0 + z[c]
            # the step's row count (1.0) read back from the running count,
            # not written as a literal: folded, 1 / cnt = 1 would let the
            # intercept's product and subtraction fuse into one rounding
            # that the batches' code does not have, and results would no
            # longer be those of the loop below at batch 1
            cnt = acc[0, 4] - trained
            s, cst = lean_scalars(cnt, S, opt, hyper, B, steps,
                                  V if in_place else T[:, :k], s)
            for c in range(k):
                cr8[c] = cst * z[c]
            softmax_update(data, indices, indptr[i], indptr[i + 1], T, iv, scaled, k,
                           cr8, V, isc, in_place)
        return s
    for start in range(0, m, batch_size):
        bsz, nrows = batch_ahead(blocks, block, start, batch_size, m, rowbuf)
        cnt = 0.0
        for pos in range(bsz):
            i, inext = row_ahead(data, indices, indptr, y, sw, row_fold, rowbuf, start,
                                 pos, nrows, m, shuffled)
            if far and inext >= 0:   # the next row's weights, a row ahead
                ask_columns(Tf, indices, indptr[inext], indptr[inext + 1], width)
            if not softmax_lean_row(data, indices, indptr, y, sw, row_fold, hold, i, T,
                                    iv, scaled, k, s, B, dot, z, acc, opt.track_loss,
                                    V, isc, in_place):
                for c in range(k):   # held out: scored only
                    R[pos, c] = 0.0
                continue
            acc[0, 4] += 1.0
            for c in range(k):
                R[pos, c] = z[c]
                # the batch's first row starts the sums from 0.0 (the same
                # bits as zeroing S first, without a call to memset per batch)
                S[c] = (S[c] if cnt > 0.0 else 0.0) + z[c]
            cnt += 1.0
        if cnt == 0.0:
            continue
        s, cst = lean_scalars(cnt, S, opt, hyper, B, steps, V if in_place else T[:, :k],
                              s)
        for pos in range(bsz):
            i = rowbuf[pos]
            for c in range(k):
                cr8[c] = cst * R[pos, c]
            softmax_update(data, indices, indptr[i], indptr[i + 1], T, iv, scaled, k,
                           cr8, V, isc, in_place)
    return s


@jit()
def table_layout(opt, models, state, unit):
    """The layout of :func:`epoch`'s table (see the module docstring):
    ``(need_sync, any_l1, scaled, narrow, wide, sy, rows, width)``: whether
    columns keep deferred-update records (and of L1: else of averaging),
    whether a standardization scales, whether the weights take the narrow
    layout, the weight slots (``wide``; ``1 / scale`` slots follow them),
    where the records start, and the table's shape (0 rows when the table
    is W itself: one binary model with nothing beside it)."""
    mean, scale, stat, hyper, fold, row_fold, active = models
    W = state[0]
    n = scale.shape[1]
    K = 1 if len(unit) == 1 else W.shape[0]
    R_ = K * (1 if len(unit) == 1 else W.shape[1])
    lazy = lazy_supported(opt, hyper)
    any_l1 = False
    for mm in range(K):
        any_l1 = any_l1 or hyper[mm, 1] > 0.0
    need_sync = lazy and (any_l1 or opt.average_start > 0)
    nstat = scale.shape[0]
    scaled = False
    for f in range(nstat):
        for j in range(n):
            if scale[f, j] != 1.0:
                scaled = True
                break
    # the table: weights, [1 / scale per standardization], [sync, a, q per
    # model]; two or more weights a column under one scaling (or none) take
    # the lane layout: slots rounded up to a multiple of 8 (the rest
    # zeros), eight read and written together as two vec4 (one pass over a
    # row's entries for eight weights); else one scalar slot each
    narrow = 2 <= R_ and (nstat == 1 or not scaled)
    wide = -(-R_ // NARROW) * NARROW if narrow else R_
    sy = wide + nstat if scaled else wide
    width = sy + K + 2 * R_ if need_sync else sy
    return need_sync, any_l1, scaled, narrow, wide, sy, n if width > 1 else 0, width


@jit(exact=True)
def epoch(data, indices, indptr, y, sw, blocks, block, batch_size, opt, models,
          state, acc, scratch, sums, resident, unit):
    """One epoch of mini-batch SGD of a stack of K models on CSR rows (one
    thread), O(nnz * K + n * K).

    The arguments, update rules and outputs of
    :func:`fastlr._kernels.dense.epoch` (``acc`` (K, 6) in place of the team:
    its last column set to 1.0 where a model's weights and intercepts are
    finite after the epoch, else 0.0),
    on ``x / scale`` (no centering: ``models``' means are ignored). Each batch
    takes two passes over its rows' entries: logits, residuals and losses
    at the batch's starting weights, then the gradient step applied row by
    row to the columns present (on 1M columns, the fewer arrays indexed per
    entry, the fewer cache misses). AdaGrad, whose per-column step depends
    on the whole batch gradient, and the eager fallback accumulate the
    gradient first. ``unit`` is (1,) for one binary model, () otherwise: its
    length is a compile-time constant, so the ordinary binary fit compiles
    with K = k = 1 fixed (its model and class loops vanish) and every other
    stack shares one more specialization. ``scratch`` (at least rows *
    width of :func:`table_layout`) float64 holds the table: the caller
    keeps it from epoch to epoch (on 1M columns and 16 models, a fresh
    table each epoch cost more than its entries' arithmetic wherever memory
    new to the process is slow to touch). ``resident``: the table's weight
    slots are the stack's weights themselves (a stack that keeps them
    there, see :meth:`fastlr._dispatch.Data.epoch_runner`), so they are
    neither copied in nor out, and ``W`` may be an empty (K, k, 0)
    stand-in. ``sums``: the arrays that AdaGrad and the eager fallback
    sum a batch's gradient in (float64 (n * K * k,) zeros) and mark the
    columns it touched in (int64 (2 n + 1,): the number of the next batch,
    each column's last batch, the batch's columns), as an earlier epoch
    returned them, or empty ones: the epoch makes them when they are
    smaller than it needs and returns those it used, for the caller to
    keep. An epoch leaves them as it found them: zeros, and marks of
    batches before any to come. (Made and filled each epoch, the three
    arrays of n were most of a ``partial_fit`` call's time on 1M columns.)
    """
    mean, scale, stat, hyper, fold, row_fold, active = models
    if len(unit) == 0 and is_lean_softmax(opt, hyper, state[0].shape[1]):
        lean_softmax_epoch(data, indices, indptr, y, sw, blocks, block, batch_size,
                           opt, models, state, acc,
                           softmax_in_place(indptr, order_length(blocks, block,
                                                                 indptr.shape[0] - 1),
                                            state[0].shape[1], state[0].shape[2]))
        return sums
    m = order_length(blocks, block, indptr.shape[0] - 1)
    W, B, steps, gsq, avg, l1_u, l1_q = state
    n = scale.shape[1]
    K = 1 if len(unit) == 1 else W.shape[0]
    k = 1 if len(unit) == 1 else W.shape[1]
    R_ = K * k
    adagrad = opt.schedule == LR_ADAGRAD
    use_g = (not lazy_supported(opt, hyper)) or adagrad
    need_sync, any_l1, scaled, narrow, wide, sy, rows, width = table_layout(
        opt, models, state, unit)
    nstat = scale.shape[0]
    iv = wide
    # one binary model and nothing beside it: work on W itself
    table = scratch[:rows * width].reshape((rows, width))
    T = W[0].T if width == 1 else table
    for j in range(rows):
        for col in range(R_, wide):
            T[j, col] = 0.0
        for f in range(nstat if scaled else 0):
            T[j, iv + f] = 1.0 / scale[f, j]
        for mm in range(K):
            for c in range(0 if resident else k):
                T[j, mm * k + c] = W[mm, c, j]
            if need_sync:
                T[j, sy + mm] = np.float64(steps[mm, 0]) if (
                    hyper[mm, 1] > 0.0 and (adagrad or hyper[mm, 0] > 0.0)) else 0.0
                for c in range(k):
                    if any_l1:
                        T[j, sy + K + mm * k + c] = l1_u[mm, c, j]
                        T[j, sy + K + R_ + mm * k + c] = l1_q[mm, c, j]
                    else:  # averaging: mean -> sum of iterates
                        T[j, sy + K + mm * k + c] = avg[mm, c, j] * steps[mm, 1]
                        T[j, sy + K + R_ + mm * k + c] = 0.0
    Tf = W[0, 0] if width == 1 else table.reshape(n * width)
    gsum, marks = sums
    if use_g and (gsum.shape[0] < n * R_ or marks.shape[0] < 2 * n + 1):
        gsum = np.zeros(n * R_)
        marks = np.full(2 * n + 1, -1, dtype=np.int64)
        marks[0] = 0
    ng = n if use_g else 0
    GT = gsum[:ng * R_].reshape((ng, R_))
    mark = marks[1:ng + 1]
    touched = marks[ng + 1:2 * ng + 1]
    nextb = marks[:1] if use_g else np.zeros(1, dtype=np.int64)
    rowbuf, R, dot, cr8 = batch_scratch(m, batch_size, R_, wide)
    cst = np.zeros(K)
    # the binary models' scratch for a batch (see batch_residuals)
    F = np.empty((8, 0 if opt.loss == LOSS_SOFTMAX else min(batch_size, m) * K))
    none = indices[:0]
    z = np.empty(k)
    S = np.empty((K, k))
    cnt = np.empty(K)
    s = np.ones(K)       # L2 scales: model mm's weights are s[mm] * T[:, its columns]
    U = np.zeros(K)      # L1 penalty per weight so far (a rate of rate())
    P = np.zeros(K)      # sums of s over averaged steps
    # elastic net's history (see update.pay_elastic), from this epoch's start
    elastic = False
    for mm in range(K):
        elastic = elastic or (need_sync and hyper[mm, 0] > 0.0 and hyper[mm, 1] > 0.0)
    hist = np.zeros((K if elastic else 0, min(HISTORY_STEPS, -(-m // batch_size)) + 1,
                     4))
    hmeta = np.zeros((K, 2), dtype=np.int64)
    for mm in range(K):
        hmeta[mm, 0] = steps[mm, 0]
    epoch_batches(data, indices, indptr, y, sw, blocks, block, batch_size, opt,
                  models, state, acc, (T, Tf, GT, touched, mark, rowbuf, R, dot, cr8,
                                       cst, F, z, S, cnt, s, U, P, np.zeros(K), hist,
                                       hmeta, nextb),
                  (need_sync, any_l1, scaled, narrow, wide, sy, rows, width), unit)
    # pay everything deferred: the state is the eager one again
    if need_sync:
        catch_up(T, none, 0, n, K, k, sy, steps, U, P, opt, hyper, gsq, hist, hmeta)
    # (and whether the models' weights are finite: w * 0 is NaN for an
    # infinite or NaN w, else 0)
    nan = cst
    for mm in range(K):
        nan[mm] = 0.0
    lanes = resident and narrow and not need_sync
    if lanes:
        # the usual stack: nothing but the scales to fold, eight slots at a
        # time (the loop below, a slot at a time, took 2.6-4x as long on 1M
        # columns and 16 models)
        sv, nanv = cr8, dot[0]
        for col in range(wide):
            sv[col] = s[col // k] if col < R_ else 1.0
            nanv[col] = 0.0
        zero = vsplat8(0.0)
        for j in range(n):
            for col in range(0, wide, NARROW):
                v = vmul(vload8(T, (j, col)), vload8(sv, col))
                vstore8(T, (j, col), v)
                vstore8(nanv, col, vfma(v, zero, vload8(nanv, col)))
        for col in range(R_):
            nan[col // k] += nanv[col]
    for j in range(0 if lanes else n):
        for mm in range(K):
            for c in range(k):
                col = mm * k + c
                if need_sync and any_l1:
                    l1_u[mm, c, j] = T[j, sy + K + col]
                    l1_q[mm, c, j] = T[j, sy + K + R_ + col]
                elif need_sync and steps[mm, 1] > 0:
                    avg[mm, c, j] = T[j, sy + K + col] / np.float64(steps[mm, 1])
                if resident:
                    if s[mm] != 1.0:
                        T[j, col] *= s[mm]
                    nan[mm] += T[j, col] * 0.0
                else:
                    if width > 1 or s[mm] != 1.0:
                        W[mm, c, j] = T[j, col] * s[mm]
                    nan[mm] += W[mm, c, j] * 0.0
    for mm in range(K):
        record_finite(acc, mm, nan[mm], B)
    return gsum, marks


@jit(exact=True, inline=True)
def batch_residuals(y, sw, models, B, s, D, rows, bsz, F, track_loss, acc, cnt, S, R):
    """The binary models' residuals ``R[pos, mm]`` and losses for a batch's
    positions from their logits ``D[pos, mm]`` (at the batch's starting
    weights ``s * T``), the batch's K * bsz pairs at once with the
    vectorized exp of the dense epoch (the same arithmetic for one model or
    many: on 16 models a pass per row cost about a fifth of the epoch);
    each model's sums still taken in position order. ``F`` (8, >= bsz * K)
    scratch."""
    mean, scale, stat, hyper, fold, row_fold, active = models
    K = cnt.shape[0]
    nel = bsz * K
    zk, yk, wk, hk, ek, rk, lk, bk = F[0], F[1], F[2], F[3], F[4], F[5], F[6], F[7]
    weighted = sw.shape[0] > 0
    folds = row_fold.shape[0] > 0
    for pos in range(bsz):
        i = rows[pos]
        yi = np.float64(y[i])
        wt = sw[i] if weighted else 1.0
        for mm in range(K):
            q = pos * K + mm
            zk[q] = s[mm] * D[pos, mm] + B[mm, 0]
            yk[q] = yi
            held = folds and row_fold[i] == fold[mm]
            wk[q] = wt if active[mm] and not held else 0.0
            hk[q] = 1.0 if active[mm] and held else 0.0
    scalar.exp_neg_abs(zk, nel, ek)
    scalar.residuals(zk, yk, wk, nel, True, track_loss, ek, rk, lk, bk)
    for pos in range(bsz):
        i = rows[pos]
        for mm in range(K):
            q = pos * K + mm
            R[pos, mm] = rk[q]
            if hk[q] > 0.0:   # held out: scored only
                wt = sw[i] if weighted else 1.0
                t = zk[q] if yk[q] == 0.0 else -zk[q]
                acc[mm, 2] += wt * (scalar.log1p_unit(ek[q]) + max(t, 0.0))
                acc[mm, 3] += wt
            elif active[mm]:
                acc[mm, 0] += lk[q]
                acc[mm, 1] += bk[q]
                acc[mm, 4] += 1.0
                cnt[mm] += 1.0
                S[mm, 0] += rk[q]


@jit(exact=True, runtime=False)
def epoch_batches(data, indices, indptr, y, sw, blocks, block, batch_size, opt,
                  models, state, acc, scratch, layout, unit):
    """The batches of :func:`epoch` on its table and scratch ``scratch =
    (T, T flat, GT, touched, mark, rows, residuals, logits, step
    coefficients, cst, F, z, S, cnt, s, U, P, owed, history, its meta,
    next batch's mark (1,))`` (see :func:`epoch`) and
    :func:`table_layout`'s ``layout``, ``unit`` as :func:`epoch`'s; leaves
    in ``s``, ``U`` and ``P`` what the epoch's end pays. Compiled without
    numba's runtime: it allocates nothing, so the kernels it inlines per
    row count no references to their array arguments (an atomic increment
    and decrement per array per call otherwise)."""
    m = order_length(blocks, block, indptr.shape[0] - 1)
    mean, scale, stat, hyper, fold, row_fold, active = models
    W, B, steps, gsq, avg, l1_u, l1_q = state
    (T, Tf, GT, touched, mark, rowbuf, R, dot, cr8, cst, F, z, S, cnt, s, U, P, owed,
     hist, hmeta, nextb) = scratch
    need_sync, any_l1, scaled, narrow, wide, sy, rows, width = layout
    n = scale.shape[1]
    K = 1 if len(unit) == 1 else cst.shape[0]
    k = 1 if len(unit) == 1 else z.shape[0]
    R_ = K * k
    iv = wide
    shuffled = block < m
    weighted = sw.shape[0] > 0
    folds = row_fold.shape[0] > 0
    softmax = opt.loss == LOSS_SOFTMAX
    lazy = lazy_supported(opt, hyper)
    adagrad = opt.schedule == LR_ADAGRAD
    averaging = lazy and opt.average_start > 0
    use_g = (not lazy) or adagrad
    none = indices[:0]
    nbatch = nextb[0]
    for start in range(0, m, batch_size):
        bsz, nrows = batch_ahead(blocks, block, start, batch_size, m, rowbuf)
        S[:] = 0.0
        cnt[:] = 0.0
        nt = 0
        for pos in range(bsz):
            i, inext = row_ahead(data, indices, indptr, y, sw, row_fold, rowbuf, start,
                                 pos, nrows, m, shuffled)
            if inext >= 0:
                for p in range(indptr[inext], indptr[inext + 1]):
                    for off in range(0, width, 8):   # every line of the record
                        prefetch_l2(Tf, indices[p] * width + off)
                    if use_g:
                        prefetch(mark, indices[p])
            lo = indptr[i]
            hi = indptr[i + 1]
            if need_sync:
                catch_up(T, indices, lo, hi, K, k, sy, steps, U, P, opt, hyper, gsq,
                         hist, hmeta)
            if use_g:
                for p in range(lo, hi):
                    j = indices[p]
                    if mark[j] != nbatch:
                        mark[j] = nbatch
                        touched[nt] = j
                        nt += 1
            # every model's logits: a column's K * k weights are side by
            # side, so eight (or four) of them are read together and summed
            # in registers; each still adds its entries in dot_run's order
            # (four partial sums), as a model trained alone does
            col = 0
            if narrow:
                for col in range(0, wide, NARROW):
                    narrow_dot(data, indices, lo, hi, T, iv, scaled, col, R_, dot[pos])
                col = R_
            while col < R_:
                four = col + 4 <= R_
                wide_dot(data, indices, lo, hi, T, iv, stat, k, scaled, col, four,
                         dot[pos])
                col += 4 if four else 1
            if not softmax:
                continue   # the binary models' residuals: once per batch, below
            wt = sw[i] if weighted else 1.0
            for mm in range(K):
                if not active[mm]:
                    continue
                for c in range(k):
                    z[c] = s[mm] * dot[pos, mm * k + c] + B[mm, c]
                if folds and row_fold[i] == fold[mm]:   # held out: scored only
                    acc[mm, 2] += wt * scalar.softmax_loss(z, k, y[i])
                    acc[mm, 3] += wt
                    for c in range(k):
                        R[pos, mm * k + c] = 0.0
                    continue
                loss, bound = scalar.softmax_row(z, k, y[i], wt, opt.track_loss)
                acc[mm, 0] += loss
                acc[mm, 1] += bound
                acc[mm, 4] += 1.0
                cnt[mm] += 1.0
                for c in range(k):
                    R[pos, mm * k + c] = z[c]
                    S[mm, c] += z[c]
                    if use_g:
                        rc = z[c]
                        for p in range(lo, hi):
                            GT[indices[p], mm * k + c] += rc * data[p]
        if not softmax:
            batch_residuals(y, sw, models, B, s, dot, rowbuf, bsz, F, opt.track_loss,
                            acc, cnt, S, R)
            for pos in range(bsz if use_g else 0):
                i = rowbuf[pos]
                for mm in range(K):
                    if active[mm] and not (folds and row_fold[i] == fold[mm]):
                        rc = R[pos, mm]
                        for p in range(indptr[i], indptr[i + 1]):
                            GT[indices[p], mm] += rc * data[p]
        nbatch += 1
        if not lazy:
            for mm in range(K):
                if active[mm] and cnt[mm] > 0.0:
                    cols = slice(mm * k, mm * k + k)
                    step(T[:, cols].T, B[mm], GT[:, cols].T, S[mm], scale[stat[mm]],
                         cnt[mm], opt, hyper[mm, 0], hyper[mm, 1], hyper[mm, 2],
                         steps[mm], gsq[mm],
                         avg[mm], l1_u[mm], l1_q[mm])
            for cc in range(nt):
                for col in range(R_):
                    GT[touched[cc], col] = 0.0
            continue
        # the lazy step: each model's scalars, then one pass over the
        # batch's entries for every model
        for mm in range(K):
            cst[mm] = 0.0
            if not active[mm] or cnt[mm] == 0.0:
                continue
            steps[mm, 0] += 1
            t = steps[mm, 0]
            inv_b = 1.0 / cnt[mm]
            l1 = hyper[mm, 1]
            lr = hyper[mm, 2]
            if adagrad:
                for cc in range(nt):
                    j = touched[cc]
                    for c in range(k):
                        col = mm * k + c
                        grad = GT[j, col] * inv_b
                        if scaled:
                            grad *= T[j, iv + stat[mm]]
                        GT[j, col] = 0.0
                        gsq[mm, c, j] += grad * grad
                        eta = lr / (ADAGRAD_EPS + np.sqrt(gsq[mm, c, j]))
                        T[j, col] -= eta * grad
                        if l1 > 0.0:
                            ua = sy + K + col
                            qa = sy + K + R_ + col
                            T[j, ua] += eta * l1
                            w = T[j, col]
                            T[j, col] = truncate(w, T[j, ua], T[j, qa])
                            T[j, qa] += T[j, col] - w
                    if l1 > 0.0:
                        T[j, sy + mm] = np.float64(t)
                if opt.fit_intercept:
                    for c in range(k):
                        gb = S[mm, c] * inv_b
                        gsq[mm, c, n] += gb * gb
                        B[mm, c] -= lr / (ADAGRAD_EPS + np.sqrt(gsq[mm, c, n])) * gb
            else:
                eta = rate(opt, hyper[mm, 0], hyper[mm, 1], lr, t)
                elastic = need_sync and hyper[mm, 0] > 0.0 and l1 > 0.0
                if elastic and hmeta[mm, 1] == hist.shape[1] - 1:
                    # the history is full: pay every column, start it again
                    catch_up(T, none, 0, n, K, k, sy, steps, U, P, opt, hyper,
                             gsq, hist, hmeta)
                    restart_history(hist[mm], hmeta[mm])
                if hyper[mm, 0] > 0.0:
                    # the shrink factor, floored at 0 (see update.step)
                    rho = max(0.0, 1.0 - eta * hyper[mm, 0])
                    if rho <= 0.0 or abs(s[mm] * rho) < MIN_SCALE:
                        # fold s into the weights (what averaging and elastic
                        # net owe, in v's units, first)
                        if averaging or elastic:
                            catch_up(T, none, 0, n, K, k, sy, steps, U, P, opt,
                                     hyper, gsq, hist, hmeta)
                        for j in range(n):
                            if averaging:
                                T[j, sy + mm] = 0.0
                            for c in range(k):
                                T[j, mm * k + c] *= s[mm] * rho
                        P[mm] = 0.0
                        s[mm] = 1.0
                        if elastic:
                            restart_history(hist[mm], hmeta[mm])
                    else:
                        s[mm] *= rho
                cst[mm] = eta * inv_b / s[mm]
                if opt.fit_intercept:
                    for c in range(k):
                        B[mm, c] -= eta * S[mm, c] * inv_b
                owed[mm] = eta * l1
            if opt.average_start > 0 and t >= opt.average_start:
                steps[mm, 1] += 1
                inv_k = 1.0 / np.float64(steps[mm, 1])
                for c in range(k):
                    avg[mm, c, n] += (B[mm, c] - avg[mm, c, n]) * inv_k
        # what this step owes every column, once every model has its scale:
        # a payment of all columns above (a fold, a full history) then stops
        # at the step before, whose gradients are in the weights already.
        # The L1 penalty is owed by the batch's columns too: truncating once
        # at the next visit with all that is owed equals truncating after
        # every step in between, as no gradient reaches the column meanwhile
        for mm in range(K):
            if not active[mm] or cnt[mm] == 0.0:
                continue
            if not adagrad:
                U[mm] += owed[mm]
                if need_sync and hyper[mm, 0] > 0.0 and hyper[mm, 1] > 0.0:
                    record_elastic(hist[mm], hmeta[mm], owed[mm], s[mm])
            if opt.average_start > 0 and steps[mm, 0] >= opt.average_start:
                P[mm] += s[mm]
        if not adagrad:
            # the gradient step, row by row, every model at once (a model
            # that does not step this batch has cst 0: it is left unchanged)
            for pos in range(bsz):
                i = rowbuf[pos]
                lo = indptr[i]
                hi = indptr[i + 1]
                if pos + 1 < bsz and width >= 16:
                    # the batch's records may have left L2 since the logits
                    inext = rowbuf[pos + 1]
                    for p in range(indptr[inext], indptr[inext + 1]):
                        for off in range(0, width, 8):
                            prefetch_l2(Tf, indices[p] * width + off)
                # the row's step coefficient per slot, for either layout
                for mm in range(K):
                    for c in range(k):
                        cr8[mm * k + c] = cst[mm] * R[pos, mm * k + c]
                col = 0
                if narrow:
                    for col in range(0, wide, NARROW):
                        narrow_update(data, indices, lo, hi, T, iv, scaled, col, R_,
                                      cr8)
                    col = R_
                while col < R_:
                    if col + 4 <= R_:
                        wide_update(data, indices, lo, hi, T, iv, stat, k, scaled, col,
                                    True, cr8[col], cr8[col + 1], cr8[col + 2],
                                    cr8[col + 3])
                        col += 4
                        continue
                    if cr8[col] != 0.0:
                        wide_update(data, indices, lo, hi, T, iv, stat, k, scaled, col,
                                    False, cr8[col], 0.0, 0.0, 0.0)
                    col += 1
    nextb[0] = nbatch


@jit(exact=True)
def lean_worker(data, indices, indptr, splits, y, sw, blocks, block, batch_size, opt,
                models, state, acc, team):
    """One thread's share of the lean epoch on a team of up to two threads
    (all of it when alone); returns when the epoch is done. Bit-identical
    to :func:`lean_epoch` for any number of threads.

    Phase ``kb`` (0 .. number of batches) has one task per half of the
    weights: apply batch ``kb - 1``'s step to the half (:func:`lean_apply`),
    then the half's dot products of batch ``kb``'s rows (:func:`lean_part`;
    in the last phase, the final ``v *= s`` on the half instead). Once both
    halves are done, the phase's tail comes in two parts over the batch's
    positions (:func:`lean_tail` of the first :func:`tail_split`
    positions, or of the rest), claimed as the dense epoch's tail parts
    are (:func:`fastlr._kernels.team.claim_part`): the
    thread that ran half ``p`` asks first for part ``p`` (it asked for
    the labels of its positions while it worked on its half), and whoever
    completes the last part takes the step (:func:`lean_step`) and opens
    the next phase, while the other asks for its half of the next batch's
    first rows. A thread descheduled on a busy machine holds up no part it
    has not claimed: the other claims it. Each part keeps its scratch
    (its rows of ``F``) and hands only its six sums to the step. With the
    whole tail on the thread that ran half 0 (the other waiting), at
    rcv1's shape two threads took 0.69-0.71 of one thread's time at batch
    256; then 0.66-0.67 (one and two threads interleaved in one run, the
    fastest of 15 each; three runs a tree, alternating), and 0.64-0.67
    since :func:`lean_block` adds each part's sums as it goes (six runs
    a tree, the fastest of 11).
    A thread asks first for the half it took
    first in the phase before (its seat), and takes the other when nobody
    has: so each half stays on one core while both threads run (also
    after a thread that left joins again, drawing a seat that the other
    holds), and one thread alone, or one left after the other was
    descheduled (:func:`fastlr._kernels.team.leave`), does both. Returns
    why this thread left the team before the epoch's end (0 if it did not;
    and 0.0), as :func:`fastlr._kernels.dense.epoch` does.

    ``team`` is ``(rows, R, sb, Z, F, P, claims, ctl)``: per half the
    rows of its batch (2, nb) int64; the residuals (nb,); the scalars
    ``(s, b, step coefficient, residual sum)`` (4,) with ``s = 1``,
    ``b = B[0, 0]`` on entry; the halves' dot products (2, nb); per tail part
    :func:`lean_block`'s scratch (2, 7, nb) and its sums (2, >= 6), a line
    apart; zeros (3 * CLAIM_SLOT,) int64 (per half the next phase to
    claim, then the seats taken); the control array with phase 0 open.
    """
    m = order_length(blocks, block, indptr.shape[0] - 1)
    mean, scale, stat, hyper, fold, row_fold, active = models
    W, B, steps, gsq, avg, l1_u, l1_q = state
    rows, R, sb, Z, F, P, claims, ctl = team
    v = W[0, 0]
    n = v.shape[0]
    scaled, isc = inverse_scale(scale[stat[0]])
    far = n > LEAN_NEAR_COLUMNS
    nbatch = (m + batch_size - 1) // batch_size
    hold = fold[0]
    clock = join(ctl)
    seat = fetch_add(claims, LEAN_PARTS * CLAIM_SLOT, 1)
    waited = 0   # the last wait was long (why): leave the team if it goes on
    left = 0
    shuffled = block < m
    ahead = np.empty(LEAN_AHEAD_ROWS, dtype=np.int64)
    for kb in range(nbatch + 1):
        if load_acquire(ctl, ABORT) != 0:
            break
        if waited > 0 and leave(ctl):
            left = waited
            break
        turn = wait_turn(ctl, kb, clock, LEAN_WAIT_SCALE)
        if turn < 0:   # the team aborted
            break
        waited = turn
        start = kb * batch_size
        bsz = min(batch_size, m - start)
        mid = tail_split(bsz)
        last = False    # this thread completed the phase's halves
        took = -1       # the first half it took in this phase
        for r in range(LEAN_PARTS):
            part = (seat + r) % LEAN_PARTS
            if claim_next(claims, part * CLAIM_SLOT, kb) == 0:
                continue
            took = part if took < 0 else took
            if kb > 0 and sb[2] != 0.0:
                lean_apply(data, indices, indptr, splits, rows[part],
                           min(batch_size, m - start + batch_size), R, sb[2], v, isc,
                           scaled, part)
            if kb < nbatch:
                rows_at(blocks, block, start, bsz, rows[part])
                # the per-row values of the tail's part of the same number,
                # which the tail reads first
                for q in range(mid if part else 0, bsz if part else mid,
                               1 if shuffled else line_items(y)):
                    ask_item(y, rows[part, q])
                    ask_item(sw, rows[part, q])
                    ask_item(row_fold, rows[part, q])
                lean_part(data, indices, indptr, splits, rows[part], bsz, part, v,
                          isc, scaled, far, shuffled, Z[part])
            elif sb[0] != 1.0:
                for j in range(n // 2 if part else 0, n if part else n // 2):
                    v[j] *= sb[0]
            last = finish_task(ctl, LEAN_PARTS * (kb + 1))
        # its seat from now on: a thread that joined again after leaving
        # may have drawn the seat of the thread that stayed, and the halves
        # would then change cores from phase to phase
        seat = took if took >= 0 else seat
        if kb == nbatch and seat != 0:
            # the last phase has no tail; the thread that ran half 0 waits
            # for the other half and returns last: the caller, which joins
            # first, so that it does not sleep on the other thread's result
            break
        if not last:   # the other half is still running
            turn = wait_turn(ctl, LEAN_PARTS * (kb + 1), clock, LEAN_WAIT_SCALE, DONE)
            if turn < 0:
                break
            waited = max(waited, turn)
        stepped = False   # this thread completed the tail's parts
        for r in range(LEAN_PARTS):
            part = (seat + r) % LEAN_PARTS
            if not claim_part(ctl, part, kb):
                continue
            if kb < nbatch:
                p0 = mid if part else 0
                p1 = bsz if part else mid
                lean_tail(y, sw, row_fold, hold, rows[part], p0, p1, Z, sb,
                          opt.track_loss, F[part], R, P[part])
            stepped = finish_part(ctl, LEAN_PARTS, kb)
        if stepped:
            if kb < nbatch:
                lean_step(P, acc, opt, hyper, B, steps, v, sb)
            open_batch(ctl, kb + 1)
        elif start + batch_size < m:
            # while the step runs: ask for this thread's half of the next
            # batch's first rows (lean_part asks for the rest)
            na = min(LEAN_AHEAD_ROWS, m - start - batch_size)
            rows_at(blocks, block, start + batch_size, na, ahead)
            for q in range(na):
                ask_half(data, indices, indptr, splits, ahead[q], seat % LEAN_PARTS)
    return left, 0.0
