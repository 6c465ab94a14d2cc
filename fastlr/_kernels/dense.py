"""The dense epoch: mini-batch SGD over a C-contiguous X, for every model.

One kernel, :func:`epoch`, runs an epoch on any number of threads (the
team protocol of :mod:`fastlr._kernels.team`; one thread is the caller
alone). ``X`` is ``(m, n)`` float32 or float64, read in its own dtype and
never copied; every sum is float64. Labels ``y`` are int64 class codes (0/1
for the binary model). The model is trained on ``(x - mean) / scale``
without forming that matrix: per batch the kernel derives raw-space
weights ``U = W / scale`` and biases (:func:`fastlr._kernels.update.batch_weights`).

Visiting order
--------------
An epoch walks a *sequence* of the m rows: position p is row
``blocks[p // block] * block + p % block`` (:func:`rows_at`). ``blocks``
permutes the full blocks of ``block`` consecutive rows and keeps the
partial tail block last, so every batch reads a few contiguous runs of rows
(sequential memory traffic the prefetcher follows) instead of m random
rows. Natural order is ``blocks = [0], block = m``; an exact row
permutation is ``block = 1``. A subset of the rows is visited as ``block =
1``, ``blocks`` its rows in visiting order: the epoch then has as many
positions as ``blocks`` names (:func:`order_length`), and trains on those
rows exactly as on a copy of them
(:class:`fastlr._dispatch.RowSubset`).

Chunks
------
Each batch is cut into chunks of ``CHUNK`` consecutive positions, and the
batch gradient is the sum over chunks, in chunk order, of per-chunk partial
sums, whichever thread computed them. The binary model's chunk
(:func:`chunk_logistic`) is processed in three vectorizable phases while its
rows are in cache:

A. logits z = c + sum_j (x_j - mean_j) * u_j;
B. e = exp(-|z|) by a polynomial, residual r = sigmoid(z) - y, and the row
   loss softplus(t) = log1p(e) + max(t, 0), t = z if y = 0 else -z;
C. g += r * (x - mean), four rows at a time (register blocking).

Meanwhile the chunk asks L2 for the rows of the chunk AHEAD_CHUNKS later
in the visiting order, half during phase A and half during phase C
(:func:`fastlr._kernels.predict.ask_share`), so that memory keeps
streaming while the chunk computes.

Subtracting the mean inside the loops (rather than folding it into the
bias) keeps the arithmetic as accurate as on a standardized copy of X, even
for columns whose mean dwarfs their spread. It costs a load and a
subtraction per element in A and C, so when every column's |mean| is within
FOLD_MAX_OFFSET of its scale the mean is folded instead: into the bias, and
out of the gradient as ``- mean * sum r`` (on 1M x 100 N(0, 1) data, batch
256, two threads: epoch 0.87x, 1.60 -> 1.38 x floor, measured side by side).
The softmax chunk (:func:`chunk_softmax`) goes row by row: a row's k logits,
its log-sum-exp and k residuals, while the row is in cache.

A stack of binary models whose means all fold out runs the three phases
for all its active models at once (:func:`chunk_logistic_many`): the
chunk's rows are read for blocks of models, with several sums in registers,
rather than once per model. From OUTER_MIN_MODELS models on, its logit and
gradient phases are matrix products in the outer-product form
(:func:`_outer_block`): an element of X is broadcast to the lanes of
BLOCK_MODELS models' weights (logits, six rows at a time, summed over the
features) or residuals (gradient, six features at a time, summed over the
rows), in eight-lane vectors (:mod:`fastlr._kernels.intrinsics`), while
the next six rows are prefetched. On 1M x 100 at 16 models this took the
joint epoch from 4.0 to 2.6 times one model's (two threads; 5.7 to 4.3 on
one; measured side by side on an AVX-512 machine): the dot-product form
(two rows by four models, vectorized over the features, as below
OUTER_MIN_MODELS) summed each logit across four-lane registers and ran at
about half the multiply-add rate.
The many-model chunk asks for the chunk AHEAD_CHUNKS later during its
gradient phase (:func:`fastlr._kernels.predict.ask_share`), not during its logits.
"""

import numpy as np

from .intrinsics import (
    VEC8_IN_ONE_REGISTER,
    prefetch,
    vadd,
    vfma,
    vload,
    vload8,
    vsplat,
    vsplat8,
    vstore,
    vstore8,
)
from .jit import jit
from .predict import add_rows, ask_item, ask_row, ask_share
from .scalar import (
    add_row_sums,
    exp_neg_abs,
    lean_residual,
    log1p_unit,
    residuals,
    softmax_loss,
    softmax_row,
)
from .team import (
    CHUNK,
    DONE,
    TAIL_PARTS,
    claim_part,
    claim_turn,
    finish_part,
    finish_task,
    is_open,
    join,
    open_batch,
    tasks,
    wait_turn,
)
from .update import LOSS_SOFTMAX, batch_weights, can_fold_mean, lean_scalars, step


@jit(inline=True)
def rows_at(blocks, block, p0, nb, rows):
    """``rows[:nb]`` = the rows at sequence positions ``p0 .. p0 + nb - 1``.

    Positions within one block (every chunk in the stored order) are one
    run of consecutive rows, written without the per-row block arithmetic:
    that arithmetic had 3-4% of a one-thread epoch's samples on 1M x 100
    (batch 256), and the epoch took 0.95-0.99x the time without it."""
    q = p0 // block
    off = p0 - q * block
    if 0 < nb <= block - off:
        base = blocks[q] * block + off
        for k in range(nb):
            rows[k] = base + k
        return
    for k in range(nb):
        rows[k] = blocks[q] * block + off
        off += 1
        if off == block:
            off = 0
            q += 1


@jit(inline=True)
def order_length(blocks, block, m):
    """Positions of the visiting order ``(blocks, block)`` over m rows: m,
    or fewer when the order names fewer rows (a subset, ``block = 1``)."""
    return min(m, blocks.shape[0] * block)


#: How far ahead in the visiting order a chunk asks for rows, in chunks
#: (:func:`fastlr._kernels.predict.ask_row`).
AHEAD_CHUNKS = 2


@jit(runtime=False)
def chunk_logistic(X, y, sw, row_fold, fold, rows, nb, mean, center, u, c,
                   track_loss, F, gpart, out, ahead, na):
    """Partial sums of one chunk of one binary model (rows ``rows[:nb]``).

    Writes ``gpart = sum_k r_k (x_k - mean)`` over the rows the model trains
    on and ``out = (sum r, sum loss, sum bound, held-out loss, held-out
    weight, rows trained on)``; the model holds out the rows of fold ``fold``
    of ``row_fold`` (none when ``row_fold`` is empty), whose losses at the
    current weights are its held-out score. ``center``: subtract ``mean`` in
    the loops (``c`` is the bias on the centred rows); otherwise ``c`` must
    be ``b - u . mean`` and the mean is folded out of the gradient at the
    end. ``F`` is (7, CHUNK) float64 scratch. ``ahead[:na]``: the rows
    to ask for while it runs (:func:`fastlr._kernels.predict.ask_row`): the
    rows of the chunk AHEAD_CHUNKS later in the visiting order.
    """
    n = X.shape[1]
    folds = row_fold.shape[0] > 0
    weighted = sw.shape[0] > 0 or folds
    z, yb, wb, e, r, loss, bound = F[0], F[1], F[2], F[3], F[4], F[5], F[6]
    count = 0.0
    held_w = 0.0
    for k in range(nb):
        i = rows[k]
        yb[k] = y[i]
        if weighted:
            wb[k] = sw[i] if sw.shape[0] > 0 else 1.0
            if folds and row_fold[i] == fold:
                held_w += wb[k]
                wb[k] = -wb[k]   # held out: marked by its sign until phase B
            else:
                count += 1.0
        else:
            count += 1.0
    # phase A: logits (one row at a time measured faster than four here)
    Xf = X.reshape(-1)
    half = na // 2
    for k in range(nb):
        ask_share(Xf, n, ahead, half, k, nb)
        i = rows[k]
        acc = c
        if center:
            for j in range(n):
                acc += (X[i, j] - mean[j]) * u[j]
        else:
            for j in range(n):
                acc += X[i, j] * u[j]
        z[k] = acc
    # phase B: exp, residuals, losses
    exp_neg_abs(z, nb, e)
    held = 0.0
    if held_w > 0.0:
        for k in range(nb):
            if wb[k] < 0.0:
                t = z[k] if yb[k] == 0.0 else -z[k]
                held -= wb[k] * (log1p_unit(e[k]) + max(t, 0.0))
                wb[k] = 0.0
    residuals(z, yb, wb, nb, weighted, track_loss, e, r, loss, bound)
    # phase C: gradient, four rows at a time
    for j in range(n):
        gpart[j] = 0.0
    add_rows(gpart, X, rows, 0, r, nb, mean, center, ahead, half, na)
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
    for t, v in enumerate((sr, sl, sb, held, held_w, count)):
        out[t] = v


@jit(runtime=False)
def chunk_softmax(X, y, sw, row_fold, fold, rows, nb, mean, U, C, track_loss, xc, z,
                  gpart, spart, out, ahead, na):
    """Partial sums of one chunk of one softmax model (rows ``rows[:nb]``).

    Per row, while it is in cache: ``xc = x - mean``; logits
    ``z_c = C_c + xc . U[c]``; for a row the model trains on, residuals and
    losses (:func:`softmax_row`), ``gpart[c] += r_c * xc``,
    ``spart[c] += r_c``; for a held-out row (fold ``fold`` of ``row_fold``),
    its loss. ``out`` receives ``(sum loss, sum bound, held-out loss,
    held-out weight, rows trained on)``. ``ahead[:na]`` as in
    :func:`chunk_logistic`.
    """
    n = X.shape[1]
    k = U.shape[0]
    Xf = X.reshape(-1)
    weighted = sw.shape[0] > 0
    folds = row_fold.shape[0] > 0
    for c in range(k):
        spart[c] = 0.0
        for j in range(n):
            gpart[c, j] = 0.0
    out[:] = 0.0
    for q in range(nb):
        if q < na:
            ask_row(Xf, n, ahead[q])
        i = rows[q]
        for j in range(n):
            xc[j] = X[i, j] - mean[j]
        for c in range(k):
            acc = C[c]
            for j in range(n):
                acc += xc[j] * U[c, j]
            z[c] = acc
        wt = sw[i] if weighted else 1.0
        if folds and row_fold[i] == fold:
            out[2] += wt * softmax_loss(z, k, y[i])
            out[3] += wt
            continue
        out[4] += 1.0
        loss, bound = softmax_row(z, k, y[i], wt, track_loss)
        out[0] += loss
        out[1] += bound
        for c in range(k):
            r = z[c]
            spart[c] += r
            for j in range(n):
                gpart[c, j] += r * xc[j]


#: Sums of a block of the many-model outer form (:func:`_outer_block`): the
#: logits of six rows, the gradient sums of six features.
BLOCK_SUMS = 6

#: From this many active models on, :func:`chunk_logistic_many` takes the
#: logits and the gradient in the outer-product form (:func:`_outer_block`);
#: below, a model's share of the padded lanes costs more than the form saves
#: (1M x 100, epoch, minimums of 7 rounds in one process, outer form vs
#: pairs: 0.84x at 8 models on two threads and 0.81x on one, 0.96x / 0.99x
#: at 4, 1.32x / 1.02x at 2).
OUTER_MIN_MODELS = 8

#: Models of an outer-form block (:func:`_outer_block`): 16 where a
#: :data:`vec8` is one register (AVX-512: 12 sums in 12 of its 32 registers); 8
#: on AVX2, whose 16 registers cannot hold 16 models' 24 sums plus the weights:
#: the compiled loops kept them on the stack, and blocks of 8 models (12 sums)
#: ran the 16-model epoch in 0.66x the time on two threads and 0.85x on one
#: (20k x 100 in cache, best of 4 alternating processes, with the prefetches
#: moved out of the feature loop as in :func:`_logits_outer`: 210 vs 318 ms and
#: 393 vs 461 ms per 1M rows); on 1M x 100 (two threads, out of cache) 0.84x
#: (239 vs 283 ms, medians of 4 alternating processes).
BLOCK_MODELS = 16 if VEC8_IN_ONE_REGISTER else 8


@jit(inline=True)
def lanes(K):
    """The row stride of :func:`chunk_logistic_many`'s (row, model) arrays
    for ``K`` models: ``K`` rounded up to whole eight-lane vectors."""
    return (K + 7) // 8 * 8


@jit(inline=True)
def _six_rows(rows, q, nb):
    """The rows at positions ``q .. q + 5`` of a chunk of ``nb``; a position
    past the chunk stands in as row ``q`` (its residuals are 0, its logits
    are not used)."""
    i0 = rows[q]
    return (i0, rows[q + 1] if q + 1 < nb else i0, rows[q + 2] if q + 2 < nb else i0,
            rows[q + 3] if q + 3 < nb else i0, rows[q + 4] if q + 4 < nb else i0,
            rows[q + 5] if q + 5 < nb else i0)


@jit(inline=True)
def _fma_row(x, va, vb, ga, gb):
    """``(ga + x va, gb + x vb)``: one element of a row broadcast once to
    the lanes of two vectors of models."""
    xs = vsplat8(x)
    return vfma(xs, va, ga), vfma(xs, vb, gb)


@jit(inline=True)
def _outer_block(Xf, b0, b1, b2, b3, b4, b5, idx, mult, nk, V, Kp, out, p, stride,
                 ns):
    """``out[p + s stride + t] = sum_k a_s[k] * V[k Kp + t]`` for ``s < ns``
    and every lane ``t < Kp``, where ``a_s[k] = Xf[b_s + idx[k] * mult]``
    (``Xf`` is X, flat) and ``k`` runs from 0 to ``nk - 1``: six sums of
    the models' lanes, ``w`` = BLOCK_MODELS lanes (or the last 8) at a
    time. The six sums of ``w`` lanes (12 vectors, or 6) stay in registers
    across ``k``; each ``a_s[k]`` is broadcast to the lanes: 12
    multiply-adds per 2 loads and 6 broadcasts. Each lane's sum runs over
    ``k`` in order. A block of eight lanes has a loop of its own. Where
    BLOCK_MODELS is 16 it ran the sixteen-lane loop on a copy of its
    vector, twice the multiply-adds: an epoch of 8 models on 1M x 100,
    batch 256, took 0.68x the time on one thread and 0.76x on two after,
    24 models 0.80-0.83x and 0.83-0.88x, the same bits. Compiled for AVX2
    (BLOCK_MODELS 8) the times and bits did not change: the compiler had
    merged the copies there. One product serves both phases of the outer
    form:

    * logits (:func:`_logits_outer`): ``k`` a feature, ``b_s`` six rows'
      starts, ``idx`` = 0 .. n - 1, ``mult`` 1, ``V`` the weights by feature
      (``Ut``), ``out`` the (row, model) logits ``Z``;
    * gradient (:func:`chunk_logistic_many`): ``k`` a row of the chunk,
      ``b_s`` six features, ``idx`` the chunk's rows, ``mult`` n, ``V`` the
      (row, model) residuals, ``out`` the (feature, model) sums ``Gt``.
      With six features' sums in registers across the rows (before, six
      rows' residuals stayed in registers and each feature's sums were
      loaded and stored per block of rows; the same sums in the same order,
      bit for bit) the 16-model epoch took 0.95x the time on one thread and
      0.95x on two (20k x 100 in cache, best of 4 and 6 alternating
      processes: 359 vs 377 and 190 vs 201 ms per 1M rows).
    """
    # unsigned offsets: a signed index that the compiler cannot prove
    # non-negative gets numba's wraparound arithmetic, which took registers
    # the sums need
    c0, c1, c2 = np.uint64(b0), np.uint64(b1), np.uint64(b2)
    c3, c4, c5 = np.uint64(b3), np.uint64(b4), np.uint64(b5)
    t = 0
    while t < Kp:
        wide = BLOCK_MODELS == 16 and t + 16 <= Kp
        a00 = vsplat8(0.0)
        a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = a00
        if wide:
            for k in range(nk):
                o = np.uint64(idx[k] * mult)
                b = k * Kp + t
                v0 = vload8(V, b)
                v1 = vload8(V, b + 8)
                a00, a01 = _fma_row(Xf[c0 + o], v0, v1, a00, a01)
                a10, a11 = _fma_row(Xf[c1 + o], v0, v1, a10, a11)
                a20, a21 = _fma_row(Xf[c2 + o], v0, v1, a20, a21)
                a30, a31 = _fma_row(Xf[c3 + o], v0, v1, a30, a31)
                a40, a41 = _fma_row(Xf[c4 + o], v0, v1, a40, a41)
                a50, a51 = _fma_row(Xf[c5 + o], v0, v1, a50, a51)
        else:
            # eight lanes: six sums (of one vector each) in the same order
            for k in range(nk):
                o = np.uint64(idx[k] * mult)
                v0 = vload8(V, k * Kp + t)
                a00 = vfma(vsplat8(Xf[c0 + o]), v0, a00)
                a10 = vfma(vsplat8(Xf[c1 + o]), v0, a10)
                a20 = vfma(vsplat8(Xf[c2 + o]), v0, a20)
                a30 = vfma(vsplat8(Xf[c3 + o]), v0, a30)
                a40 = vfma(vsplat8(Xf[c4 + o]), v0, a40)
                a50 = vfma(vsplat8(Xf[c5 + o]), v0, a50)
        for s, v0, v1 in ((0, a00, a01), (1, a10, a11), (2, a20, a21), (3, a30, a31),
                          (4, a40, a41), (5, a50, a51)):
            if s < ns:
                vstore8(out, p + s * stride + t, v0)
                if wide:
                    vstore8(out, p + s * stride + t + 8, v1)
        t += 16 if wide else 8


@jit(inline=True)
def _gradient_pairs(X, rows, nb, r, Kp, ids, gpart, ahead, na):
    """``gpart[ids[t]] = sum_q r[q Kp + t] x_q`` over the chunk's rows,
    four rows by two models at a time, vectorized over the features;
    meanwhile the rows ``ahead[:na]`` are asked for
    (:func:`fastlr._kernels.predict.ask_share`)."""
    n = X.shape[1]
    Ka = ids.shape[0]
    Xf = X.reshape(-1)
    nblocks = (nb + 3) // 4
    for t in range(Ka):
        mm = ids[t]
        for j in range(n):
            gpart[mm, j] = 0.0
    for q in range(0, nb, 4):
        ask_share(Xf, n, ahead, na, q // 4, nblocks)
        i0 = rows[q]
        i1 = rows[q + 1] if q + 1 < nb else i0
        i2 = rows[q + 2] if q + 2 < nb else i0
        i3 = rows[q + 3] if q + 3 < nb else i0
        t = 0
        while t < Ka:
            pair = t + 1 < Ka
            r0 = r[q * Kp + t]
            r1 = r[(q + 1) * Kp + t] if q + 1 < nb else 0.0
            r2 = r[(q + 2) * Kp + t] if q + 2 < nb else 0.0
            r3 = r[(q + 3) * Kp + t] if q + 3 < nb else 0.0
            m0 = ids[t]
            if pair:
                s0 = r[q * Kp + t + 1]
                s1 = r[(q + 1) * Kp + t + 1] if q + 1 < nb else 0.0
                s2 = r[(q + 2) * Kp + t + 1] if q + 2 < nb else 0.0
                s3 = r[(q + 3) * Kp + t + 1] if q + 3 < nb else 0.0
                m1 = ids[t + 1]
                for j in range(n):
                    x0 = X[i0, j]
                    x1 = X[i1, j]
                    x2 = X[i2, j]
                    x3 = X[i3, j]
                    gpart[m0, j] += (r0 * x0 + r1 * x1) + (r2 * x2 + r3 * x3)
                    gpart[m1, j] += (s0 * x0 + s1 * x1) + (s2 * x2 + s3 * x3)
                t += 2
            else:
                for j in range(n):
                    gpart[m0, j] += ((r0 * X[i0, j] + r1 * X[i1, j])
                                     + (r2 * X[i2, j] + r3 * X[i3, j]))
                t += 1


@jit(inline=True)
def _logits_pairs(X, ids, rows, nb, U, Kp, Z):
    """``Z[q Kp + t]`` = row ``rows[q]``'s logit (before the bias) for model
    ``ids[t]``, two rows by four models at a time, vectorized over the
    features (zero for ``t`` from ``len(ids)`` to ``Kp``)."""
    n = X.shape[1]
    Ka = ids.shape[0]
    for q in range(0, nb, 2):
        two = q + 1 < nb
        i0 = rows[q]
        i1 = rows[q + 1] if two else i0
        p0 = q * Kp
        p1 = p0 + Kp
        t = 0
        while t + 4 <= Ka:
            m0, m1, m2, m3 = ids[t], ids[t + 1], ids[t + 2], ids[t + 3]
            a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = 0.0
            for j in range(n):
                x0 = X[i0, j]
                x1 = X[i1, j]
                u0 = U[m0, j]
                u1 = U[m1, j]
                u2 = U[m2, j]
                u3 = U[m3, j]
                a00 += x0 * u0
                a01 += x0 * u1
                a02 += x0 * u2
                a03 += x0 * u3
                a10 += x1 * u0
                a11 += x1 * u1
                a12 += x1 * u2
                a13 += x1 * u3
            Z[p0 + t] = a00
            Z[p0 + t + 1] = a01
            Z[p0 + t + 2] = a02
            Z[p0 + t + 3] = a03
            if two:
                Z[p1 + t] = a10
                Z[p1 + t + 1] = a11
                Z[p1 + t + 2] = a12
                Z[p1 + t + 3] = a13
            t += 4
        while t < Ka:
            m0 = ids[t]
            a00 = a10 = 0.0
            for j in range(n):
                a00 += X[i0, j] * U[m0, j]
                a10 += X[i1, j] * U[m0, j]
            Z[p0 + t] = a00
            if two:
                Z[p1 + t] = a10
            t += 1
        for t in range(Ka, Kp):
            Z[p0 + t] = 0.0
            Z[p1 + t] = 0.0


@jit(inline=True)
def _logits_outer(X, ids, rows, nb, U, Kp, Z, Ut, fresh, cols):
    """:func:`_logits_pairs` by :func:`_outer_block`, six rows at a time,
    from ``Ut`` (n * Kp): the models' weights by feature, lanes past the
    models zero, rebuilt from ``U`` when ``fresh`` (its batch's first chunk
    on this thread); ``cols`` the indices 0 .. n - 1. Before a block of
    rows, the next block's rows are prefetched, a cache line per eight
    features: six rows at once stream in from memory 2.2x slower without it
    (one thread, 16 models). Issued inside the block's loop over the
    features instead, the prefetches took registers the sums need on AVX2
    (see BLOCK_MODELS)."""
    n = X.shape[1]
    Ka = ids.shape[0]
    if fresh:
        for t in range(Kp):
            mm = ids[t] if t < Ka else 0
            for j in range(n):
                Ut[j * Kp + t] = U[mm, j] if t < Ka else 0.0
    Xf = X.reshape(-1)
    for q in range(0, nb, BLOCK_SUMS):
        i0, i1, i2, i3, i4, i5 = _six_rows(rows, q, nb)
        for h in range(q + BLOCK_SUMS, min(q + 2 * BLOCK_SUMS, nb)):
            for j in range(0, n, 8):
                prefetch(Xf, rows[h] * n + j)
        # (a row past the chunk stands in as row q: its logits are stored
        # in the scratch's spare rows and not used)
        _outer_block(Xf, i0 * n, i1 * n, i2 * n, i3 * n, i4 * n, i5 * n, cols, 1, n,
                     Ut, Kp, Z, q * Kp, Kp, BLOCK_SUMS)


@jit(runtime=False)
def chunk_logistic_many(X, y, sw, row_fold, fold, ids, rows, nb, mean, stat, U, C,
                        track_loss, F, Z, R, P, Gt, Ut, cols, fresh, gpart, spart,
                        lpart, ahead, na):
    """Partial sums of one chunk for the binary models ``ids`` (the active
    ones, at least two) of a stack whose means all fold out
    (:func:`fastlr._kernels.update.can_fold_mean`): for each model ``mm`` of
    ``ids``, :func:`chunk_logistic`'s outputs in ``gpart[mm]``, ``spart[mm]``
    and ``lpart[mm]`` = ``out[1:]``.

    Rather than a pass over the chunk per model, the chunk's rows are read
    for blocks of models with many sums in registers. From
    OUTER_MIN_MODELS models on, the logits and the gradients are matrix
    products in the outer form (:func:`_outer_block`: the logits of six
    rows summed over the features, the gradient sums of six features summed
    over the rows, an element of X broadcast to the lanes of the models);
    below, the logits take two rows by four models, vectorized over the
    features (:func:`_logits_pairs`), and the gradients four rows by two models
    (:func:`_gradient_pairs`). Residuals and losses come from the
    vectorized exp over the chunk x models. The (row, model) arrays have
    ``Kp`` columns: ``lanes(len(ids))`` for the outer form (the lanes past
    the models hold zero residuals), else ``len(ids)``. ``mean`` (F, n) and
    ``stat`` (K,) the stack's standardizations (see :func:`epoch`). ``U``
    (K, n) raw-space weights, ``C`` (K,) biases on raw rows; float64
    scratch: ``F`` (7, (CHUNK + BLOCK_SUMS) * Kp), ``Z`` ((CHUNK +
    BLOCK_SUMS) * Kp), ``R`` (2, CHUNK), ``P`` (3, K), ``Gt`` and ``Ut`` (n
    * Kp); ``cols`` the int64 indices 0 .. n - 1; ``fresh``: ``U`` changed
    since ``Ut`` was last filled from it; ``ahead[:na]`` the rows to ask
    for during the gradient phase (:func:`fastlr._kernels.predict.ask_share`).
    A model's sums are :func:`chunk_logistic`'s in another order: a model of
    such a stack equals the model trained alone to rounding, not bit for bit.
    """
    n = X.shape[1]
    Ka = ids.shape[0]
    outer = Ka >= OUTER_MIN_MODELS
    Kp = lanes(Ka) if outer else Ka
    weighted = sw.shape[0] > 0
    folds = row_fold.shape[0] > 0
    if outer:
        _logits_outer(X, ids, rows, nb, U, Kp, Z, Ut, fresh, cols)
    else:
        _logits_pairs(X, ids, rows, nb, U, Kp, Z)
    # phase B: residuals and losses of every pair, in loops without branches
    # (LLVM vectorizes them over the models of a row; a branch on the row's
    # fold per pair mispredicted). A row the model holds out gets training
    # weight 0, and its loss is counted apart. The lanes past the models
    # are computed and then zeroed.
    L = nb * Kp
    yb, wb, e, Zs, r, loss, bound = F[0], F[1], F[2], F[3], F[4], F[5], F[6]
    wq, fq = R[0], R[1]          # per row: weight, fold
    cp, fp, hl = P[0], P[1], P[2]  # per model: bias, fold, held-out loss
    for t in range(Ka):
        mm = ids[t]
        cp[t] = C[mm]
        fp[t] = fold[mm]
        hl[t] = 0.0
    for q in range(nb):
        i = rows[q]
        wq[q] = sw[i] if weighted else 1.0
        fq[q] = row_fold[i] if folds else -1.0
        yq = float(y[i])
        base = q * Kp
        for t in range(Ka):
            Z[base + t] += cp[t]
            yb[base + t] = yq
        for t in range(Ka, Kp):
            yb[base + t] = yq
    if folds:
        for q in range(nb):
            wt = wq[q]
            rf = fq[q]
            base = q * Kp
            for t in range(Ka):
                wb[base + t] = wt if fp[t] != rf else 0.0
            for t in range(Ka, Kp):
                wb[base + t] = 0.0
    elif weighted:
        for q in range(nb):
            wt = wq[q]
            base = q * Kp
            for t in range(Kp):
                wb[base + t] = wt
    for t in range(Ka):
        # rows trained on and the held-out weight, from the rows' folds
        f = fp[t]
        cnt = 0.0
        hw = 0.0
        for q in range(nb if folds else 0):
            held = fq[q] == f
            cnt += 0.0 if held else 1.0
            hw += wq[q] if held else 0.0
        lpart[ids[t], 3] = hw
        lpart[ids[t], 4] = cnt if folds else float(nb)
    exp_neg_abs(Z, L, e)
    # unweighted first: a held-out pair's loss is needed at the row's weight
    residuals(Z, yb, wb, L, False, track_loss or folds, e, r, loss, bound)
    if folds:
        for t in range(Ka):
            f = fp[t]
            acc = 0.0
            for q in range(nb):
                acc += wq[q] * loss[q * Kp + t] if fq[q] == f else 0.0
            hl[t] += acc
    if folds or weighted:
        for p in range(L):
            r[p] *= wb[p]
            loss[p] *= wb[p]
            bound[p] *= wb[p]
    for q in range(nb):
        for t in range(Ka, Kp):
            r[q * Kp + t] = 0.0
    # each model's sums over the rows, in row order, four models' lanes at
    # a time (a strided scalar sum per model took about a tenth of the
    # chunk at 16 models); lanes past the models read the next row's (or
    # the scratch's unused) values, which are not kept
    for t in range(0, Ka, 4):
        sr4 = vsplat(0.0)
        sl4 = sr4
        sb4 = sr4
        for q in range(nb):
            p = q * Kp + t
            sr4 = vadd(sr4, vload(r, p))
            sl4 = vadd(sl4, vload(loss, p))
            sb4 = vadd(sb4, vload(bound, p))
        vstore(Zs, 0, sr4)
        vstore(Zs, 4, sl4)
        vstore(Zs, 8, sb4)
        for v in range(min(4, Ka - t)):
            mm = ids[t + v]
            spart[mm] = Zs[v]
            lpart[mm, 0] = Zs[4 + v] if track_loss else 0.0
            lpart[mm, 1] = Zs[8 + v]
            lpart[mm, 2] = hl[t + v]
    # phase C: gradients, the mean folded out
    if not outer:
        _gradient_pairs(X, rows, nb, r, Kp, ids, gpart, ahead, na)
        for t in range(Ka):
            mm = ids[t]
            mu = mean[stat[mm]]
            for j in range(n):
                gpart[mm, j] -= mu[j] * spart[mm]
        return
    # six features at a time, over the chunk's rows (a feature past n
    # stands in as the last one and is not stored)
    Xf = X.reshape(-1)
    nblocks = (n + BLOCK_SUMS - 1) // BLOCK_SUMS
    for j in range(0, n, BLOCK_SUMS):
        ask_share(Xf, n, ahead, na, j // BLOCK_SUMS, nblocks)
        last = n - 1
        _outer_block(Xf, j, min(j + 1, last), min(j + 2, last), min(j + 3, last),
                     min(j + 4, last), min(j + 5, last), rows, n, nb, r, Kp, Gt,
                     j * Kp, Kp, min(BLOCK_SUMS, n - j))
    # out of the (feature, model) layout, the mean folded out
    for t in range(Ka):
        mm = ids[t]
        sr = spart[mm]
        mu = mean[stat[mm]]
        for j in range(n):
            gpart[mm, j] = Gt[j * Kp + t] - mu[j] * sr


@jit()
def touch_rows(X, rows, nb):
    """Read one element per cache line of the rows ``rows[:nb]`` (brings
    them into this core's cache); returns their sum so that the reads cannot
    be optimized away."""
    n = X.shape[1]
    step_ = max(1, 64 // X.itemsize)
    s = 0.0
    for k in range(nb):
        i = rows[k]
        for j in range(0, n, step_):
            s += X[i, j]
        s += X[i, n - 1]
    return s


@jit()
def chunk_plan(mean, scale, stat, active, softmax):
    """``(center, ids, many)`` of a stack (see :func:`epoch`'s ``models``):
    per model whether its mean is subtracted in the loops rather than
    folded out (:func:`fastlr._kernels.update.can_fold_mean`; always for
    softmax), the active models, and whether their chunks run together in
    :func:`chunk_logistic_many` (two or more binary models, every mean
    folded out)."""
    K = stat.shape[0]
    center = np.empty(K, dtype=np.bool_)
    # loops, not np.flatnonzero / ndarray.any: a cached kernel that uses
    # those loads numba.np.arraymath (and scipy.linalg) in every new process
    ids = np.empty(K, dtype=np.int64)
    nact = 0
    any_center = False
    for mm in range(K):
        center[mm] = softmax or not can_fold_mean(mean[stat[mm]], scale[stat[mm]])
        any_center = any_center or center[mm]
        if active[mm]:
            ids[nact] = mm
            nact += 1
    return center, ids[:nact], nact > 1 and not any_center


@jit()
def chunk_scratch(K, k, n, many):
    """The scratch of :func:`chunk_sums` for a stack of K models of k rows
    and n features: float64 arrays, and the column indices 0 .. n - 1."""
    Kp = lanes(K) if many else 0
    return (np.empty((7, (CHUNK + BLOCK_SUMS) * Kp)), np.empty((CHUNK + BLOCK_SUMS) * Kp),
            np.empty((7, CHUNK)), np.empty((3, K if many else 0)), np.empty(n * Kp),
            np.empty(n * Kp), np.empty(n), np.empty(k), np.empty(6),
            np.arange(n if many else 0))


@jit(exact=True, runtime=False)
def chunk_sums(X, y, sw, models, center, ids, many, softmax, track_loss, rows, nb,
               U, C, fresh, scratch, gq, sq, lq, ahead, na):
    """One chunk's partial sums (rows ``rows[:nb]``) for the active models
    ``ids`` of a stack at the raw-space weights ``U`` (K, k, n) and biases
    ``C`` (K, k) (:func:`fastlr._kernels.update.batch_weights`): per model
    ``mm``, ``gq[mm]`` the gradient sums with the mean taken out, ``sq[mm]``
    the residual sums, ``lq[mm]`` the loss sums, bound, held-out loss and
    weight and rows trained on. ``center``, ``ids``, ``many`` from
    :func:`chunk_plan`; ``scratch`` from :func:`chunk_scratch`; ``fresh``:
    ``U`` changed since the last chunk; ``ahead[:na]`` the rows to ask
    for meanwhile (:func:`fastlr._kernels.predict.ask_row`). The one place
    where a chunk is
    dispatched to its model kind, for the SGD epoch and for the
    loss-and-gradient pass of a stack (:func:`loss_grad_many`)."""
    mean, scale, stat, hyper, fold, row_fold, active = models
    K, k, n = U.shape
    Fk, Zk, F, Pk, Gk, Uk, xc, z, o6, cols = scratch
    if many:
        # binary: k = 1, and the reshapes keep the arrays C-contiguous
        # (a slice [:, 0] would not be, and would not vectorize)
        chunk_logistic_many(X, y, sw, row_fold, fold, ids, rows, nb, mean, stat,
                            U.reshape((K, n)), C.reshape(K), track_loss,
                            Fk, Zk, F, Pk, Gk, Uk, cols, fresh,
                            gq.reshape((K, n)), sq.reshape(K), lq, ahead, na)
        return
    for t in range(ids.shape[0]):
        mm = ids[t]
        if softmax:
            chunk_softmax(X, y, sw, row_fold, fold[mm], rows, nb, mean[stat[mm]],
                          U[mm], C[mm], track_loss, xc, z, gq[mm], sq[mm], lq[mm],
                          ahead, na if t == 0 else 0)
        else:
            chunk_logistic(X, y, sw, row_fold, fold[mm], rows, nb, mean[stat[mm]],
                           center[mm], U[mm, 0], C[mm, 0], track_loss, F,
                           gq[mm, 0], o6, ahead, na if t == 0 else 0)
            sq[mm, 0] = o6[0]
            for q in range(5):
                lq[mm, q] = o6[q + 1]


@jit()
def loss_grad_many(X, y, sw, models, W, B, softmax, G, S, L, rows_per, lo, hi):
    """Each model's summed loss and gradient at fixed weights, over rows
    ``lo .. hi - 1`` (one block of ``rows_per`` rows), for a stack: the
    pass of the joint finisher of cross-validation
    (:meth:`fastlr._dispatch.Data.loss_grad_many`), one read of the block
    for every model, through the SGD epoch's chunk sums (:func:`chunk_sums`).

    ``W`` (K, k, n), ``B`` (K, k) in standardized space, ``models`` as in
    :func:`epoch`. Writes, into slot ``b = lo // rows_per`` (added by the
    caller in block order), ``G[b, mm] = sum r (x - mean)`` over the rows
    model ``mm`` trains on, ``S[b, mm] = sum r`` and ``L[b, mm]`` = (loss
    sum, its bound, held-out loss sum, held-out weight, rows trained on,
    unused), with the weighted residuals ``r``; the chunks' sums are added
    in row order.
    """
    mean, scale, stat, hyper, fold, row_fold, active = models
    K, k, n = W.shape
    center, ids, many = chunk_plan(mean, scale, stat, active, softmax)
    U = np.empty((K, k, n))
    C = np.empty((K, k))
    batch_weights(W, B, mean, scale, stat, center, active, U, C, 0, K)
    scratch = chunk_scratch(K, k, n, many)
    gpart = np.empty((K, k, n))
    spart = np.empty((K, k))
    lpart = np.empty((K, 5))
    b = lo // rows_per
    g, s, acc = G[b], S[b], L[b]
    cnt = np.zeros(K)
    # every model's slots, the inactive ones' too: the caller adds whole slots
    g[:] = 0.0
    s[:] = 0.0
    acc[:] = 0.0
    rows = np.empty(CHUNK, dtype=np.int64)
    ahead = np.empty(CHUNK, dtype=np.int64)
    for start in range(lo, hi, CHUNK):
        nb = min(CHUNK, hi - start)
        pa = start + AHEAD_CHUNKS * CHUNK
        na = min(CHUNK, hi - pa) if pa < hi else 0
        for q in range(nb):
            rows[q] = start + q
        for q in range(na):
            ahead[q] = pa + q
        chunk_sums(X, y, sw, models, center, ids, many, softmax, True, rows, nb,
                   U, C, start == lo, scratch, gpart, spart, lpart, ahead, na)
        _add(g, s, cnt, acc, gpart, spart, lpart, active, 0, K)


@jit(exact=True)
def epoch(X, y, sw, blocks, block, batch_size, opt, models, state, team):
    """One thread's share of an epoch of mini-batch SGD (all of it when run
    by one thread) of a stack of K models; returns when no task is left.

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous. Read only, never copied.
    y : (m,) int64 class codes (0/1 for the binary model).
    sw : (m,) or (0,) float64
        Sample weights; empty means all ones. Row ``i``'s loss and gradient
        are multiplied by ``sw[i]``; the batch gradient is still divided by
        the number of the batch's rows the model trains on (as scikit-learn's
        SGD divides by the batch's row count).
    blocks : (nb,) int64, block : int
        The visiting order (see the module docstring). A batch is
        ``batch_size`` consecutive positions of it, shared by every model;
        each model uses the batch's rows it trains on (all of them without
        folds) and skips its step when it has none.
    batch_size : int >= 1
    opt : fastlr._kernels.update.Options
    models : (mean, scale, stat, hyper, fold, row_fold, active)
        The standardizations (F, n) and the row ``stat[mm]`` of model
        ``mm``'s; per model: hyperparameters (K, 3), the
        fold it holds out (K,); per row its fold (m,) int8 or empty; which
        models still train (K,) uint8. See :mod:`fastlr._kernels.update`.
    state : (W, B, steps, gsq, avg, l1_u, l1_q)
        The stack's state (see :mod:`fastlr._kernels.update`), updated in place.
    team : (U, C, G, S, L, ctl, acc)
        Shared by the threads: the open batch's raw-space weights ``U``
        (K, k, n) and biases ``C`` (K, k); one slot of partial sums per chunk
        of a batch, ``G`` (nch, K, k, n), ``S`` (nch, K, k), ``L`` (nch, K, 5)
        (no slots, nch = 0, when one thread runs the epoch alone); ``ctl``
        from :func:`fastlr._kernels.team.control`; ``acc`` (K, 6) zeros,
        receiving in its first five columns per model the sums over the
        epoch of the (weighted) row loss at the weights in force for the
        row's batch (0 unless ``opt.track_loss``), of its lower bound, of
        the held-out rows' loss and weight, and the number of rows trained
        on (the last column is the caller's, see
        :meth:`fastlr._dispatch.Data.epoch_runner`).

    Returns why this thread left the team before the epoch's tasks ran out
    (:data:`fastlr._kernels.team.LEFT_WAIT` or ``LEFT_IDLE``; 0 if it did
    not: see :func:`fastlr._kernels.team.run`), and the sum of the elements
    read ahead while waiting (meaningless; returned so that the compiler
    keeps the reads).
    """
    n = X.shape[1]
    m = order_length(blocks, block, X.shape[0])
    mean, scale, stat, hyper, fold, row_fold, active = models
    W, B, steps, gsq, avg, l1_u, l1_q = state
    U, C, G, S, L, ctl, acc = team
    K, k = W.shape[0], W.shape[1]
    nch, ntasks = tasks(m, batch_size)
    solo = G.shape[0] == 0
    softmax = opt.loss == LOSS_SOFTMAX
    center, ids, many = chunk_plan(mean, scale, stat, active, softmax)
    # the outer form writes each of a chunk's sums once: straight into the
    # chunk's slot (the row-pair form adds to them, in this thread's buffers)
    in_slot = many and ids.shape[0] >= OUTER_MIN_MODELS
    scratch = chunk_scratch(K, k, n, many)
    ut_batch = -1   # the batch whose weights the scratch's Ut holds
    rows = np.empty(CHUNK, dtype=np.int64)
    ahead = np.empty(CHUNK, dtype=np.int64)
    # a chunk's sums go to this thread's buffers, then once to the chunk's
    # shared slot: accumulating in the slots (whose edges share cache lines
    # with the neighbouring chunk's) bounced lines between the cores
    gpart = np.empty((K, k, n))
    spart = np.empty((K, k))
    lpart = np.empty((K, 5))
    g = np.empty((K, k, n))
    s = np.empty((K, k))
    cnt = np.empty(K)
    local = (g, s, cnt, center)
    # a full batch's tail (not the last batch's, which is direct when it has
    # one chunk) can be taken apart by the thread that waits for the next
    shared = not solo and nch >= 2
    task = np.zeros(6, dtype=np.int64)
    touched = 0.0
    clock = join(ctl)
    waited = 0   # the last wait was long (why): leave the team if it goes on
    while claim_turn(ctl, waited, ntasks, nch, batch_size, m, task):
        waited = 0
        kb, ci, p0, nb, end = task[0], task[1], task[3], task[4], task[5]
        rows_at(blocks, block, p0, nb, rows)
        # the rows as many positions ahead as this chunk has: each row is
        # asked for once, whatever the batch size (asking for a whole
        # CHUNK ahead of a smaller chunk asked for each row again at every
        # batch: at batch size 1, 64 positions found and half of them asked
        # for each row; on 100k x 100 the epoch took 1.6 us a row with that,
        # 1.2 without, the two trees run one after the other)
        pa = p0 + AHEAD_CHUNKS * CHUNK
        na = min(nb, m - pa) if pa < m else 0
        rows_at(blocks, block, pa, na, ahead)
        if block < m:
            # shuffled: the labels (weights, folds) of those rows too. X
            # streaming through the caches evicts them, and a chunk's first
            # loop reads them: on 1M x 100 float64, batch 256, the shuffled
            # epoch took 0.89-0.94x the time on two threads and 0.92-0.96x
            # on one (six rounds alternating); in the stored order the
            # hardware prefetcher follows them
            for h in range(na):
                ask_item(y, ahead[h])
                ask_item(sw, ahead[h])
                ask_item(row_fold, ahead[h])
        if kb == 0 and ci == 0:
            # the epoch's first task prepares batch 0
            batch_weights(W, B, mean, scale, stat, center, active, U, C, 0, K)
            open_batch(ctl, 0)
        elif not is_open(ctl, kb):
            # read the chunk's rows while the batch before finishes
            touched += touch_rows(X, rows, nb)
            # the batch's serial tail (the reduction and K models' steps)
            # grows with K, and so does a normal wait on an idle machine: at
            # 16 yields a 16-model epoch on 1M x 100 left the team on an idle
            # machine (342 ms on 2 threads, 381 on 1; 230 ms with this)
            if shared:
                # once the batch before has all its chunks, take part of its tail
                turn = wait_turn(ctl, kb * nch, clock, 4 * K - 3, DONE)
                if turn < 0:
                    break
                waited = turn
                _tail(ctl, kb - 1, nch, False, opt, models, state, team, local)
            turn = wait_turn(ctl, kb, clock, 4 * K - 3)
            if turn < 0:
                break
            waited = max(waited, turn)
        # one thread alone (no slots) adds each chunk as it goes; a team
        # parks it in its slot, and the batch's last chunk adds them all:
        # the same additions in the same order either way
        direct = solo or end - kb * nch == 1
        _chunk(X, y, sw, models, center, ids, many, softmax, opt.track_loss, rows, nb,
               U, C, kb != ut_batch, scratch, ahead, na, team, ci, direct, in_slot,
               (gpart, spart, lpart), local)
        ut_batch = kb
        if not finish_task(ctl, end):
            continue
        # the batch's last chunk: its tail (shared with a waiting thread)
        _tail(ctl, kb, end - kb * nch, direct, opt, models, state, team, local)
    return max(0, -task[0]), touched


@jit(exact=True, runtime=False)
def _chunk(X, y, sw, models, center, ids, many, softmax, track_loss, rows, nb, U, C,
           fresh, scratch, ahead, na, team, ci, direct, in_slot, part, local):
    """One task of :func:`epoch`: chunk ``ci``'s sums (:func:`chunk_sums`),
    written straight into its slot of ``team`` (the outer form, ``in_slot``,
    when the batch has other chunks), else into this thread's ``part``
    buffers and from there added to its batch sums ``local`` (``direct``:
    a thread alone, or a batch of one chunk) or copied to the slot.

    Compiled without numba's runtime (:func:`fastlr._kernels.jit.jit`), as
    are :func:`chunk_sums`, the chunk kernels and :func:`_tail`: in the
    epoch, the views these take per chunk and per batch were reference
    counted. On 20k x 100 float64 in cache (one thread, batch 256) the
    locked counts had 11.5% of the samples (1.2% after), and the epoch
    took 48.6-51.3 ns a row against 51.2-54.0 (minimums of 50 calls,
    alternating processes; on 1M x 100 the difference was within the
    machine's noise)."""
    active = models[6]
    G, S, L, acc = team[2], team[3], team[4], team[6]
    gpart, spart, lpart = part
    g, s, cnt, _ = local
    K = active.shape[0]
    slot = in_slot and not direct
    gq, sq, lq = (G[ci], S[ci], L[ci]) if slot else (gpart, spart, lpart)
    chunk_sums(X, y, sw, models, center, ids, many, softmax, track_loss,
               rows, nb, U, C, fresh, scratch, gq, sq, lq, ahead, na)
    if direct:
        if ci == 0:
            _zero(g, s, cnt, active, 0, K)
        _add(g, s, cnt, acc, gpart, spart, lpart, active, 0, K)
    elif not in_slot:
        _park(G[ci], S[ci], L[ci], gpart, spart, lpart)


@jit(inline=True)
def _park(Gq, Sq, Lq, gpart, spart, lpart):
    """Copy a chunk's sums into its slot, element by element: assigning an
    array to a slice (``G[ci] = gpart``) compiles numba's shape-mismatch
    message as well, 4 s of the first call on an empty cache."""
    K, k, n = gpart.shape
    for mm in range(K):
        for c in range(k):
            for j in range(n):
                Gq[mm, c, j] = gpart[mm, c, j]
            Sq[mm, c] = spart[mm, c]
        for q in range(5):
            Lq[mm, q] = lpart[mm, q]


@jit(exact=True, runtime=False)
def _tail(ctl, kb, nq, direct, opt, models, state, team, local):
    """Batch ``kb``'s serial tail, in parts (:func:`fastlr._kernels.team.claim_part`:
    the models ``lo .. hi - 1`` of each), as many as this thread claims:
    per model the sum of the batch's ``nq`` chunk slots in chunk order
    (``direct``: this thread's own sums ``local``, added as it went), its
    step and its next batch's weights. Whoever completes the last part
    opens batch ``kb + 1``. Each model's arithmetic is the same whichever
    thread runs its part (16 models, 1M x 100, batch 256: the tail on one
    thread was a fifth of the epoch on two)."""
    mean, scale, stat, hyper, fold, row_fold, active = models
    W, B, steps, gsq, avg, l1_u, l1_q = state
    U, C, G, S, L, _, acc = team
    g, s, cnt, center = local
    K = W.shape[0]
    parts = min(TAIL_PARTS, K)
    for p in range(parts if kb >= 0 else 0):
        if not claim_part(ctl, p, kb):
            continue
        lo = p * K // parts
        hi = (p + 1) * K // parts
        if not direct:
            _zero(g, s, cnt, active, lo, hi)
            for q in range(nq):
                _add(g, s, cnt, acc, G[q], S[q], L[q], active, lo, hi)
        for mm in range(lo, hi):
            if active[mm] and cnt[mm] > 0.0:
                step(W[mm], B[mm], g[mm], s[mm], scale[stat[mm]], cnt[mm], opt,
                     hyper[mm, 0], hyper[mm, 1], hyper[mm, 2], steps[mm], gsq[mm],
                     avg[mm], l1_u[mm], l1_q[mm])
        batch_weights(W, B, mean, scale, stat, center, active, U, C, lo, hi)
        if finish_part(ctl, parts, kb):
            open_batch(ctl, kb + 1)


@jit(inline=True)
def _zero(g, s, cnt, active, lo, hi):
    k, n = g.shape[1], g.shape[2]
    for mm in range(lo, hi):
        if active[mm]:
            cnt[mm] = 0.0
            for c in range(k):
                s[mm, c] = 0.0
                for j in range(n):
                    g[mm, c, j] = 0.0


@jit(inline=True)
def _add(g, s, cnt, acc, gq, sq, lq, active, lo, hi):
    """Add a chunk's sums (``gq``, ``sq``, ``lq``) of the active models
    ``lo .. hi - 1``."""
    k, n = g.shape[1], g.shape[2]
    for mm in range(lo, hi):
        if not active[mm]:
            continue
        for c in range(k):
            for j in range(n):
                g[mm, c, j] += gq[mm, c, j]
            s[mm, c] += sq[mm, c]
        for q in range(4):
            acc[mm, q] += lq[mm, q]
        acc[mm, 4] += lq[mm, 4]
        cnt[mm] += lq[mm, 4]


# --------------------------------------------------------------------------
# the lean path: small batches of one binary model
#
# At batch size 1 a batch is one row, and the epoch above pays its chunk
# and tail machinery (the claims, the chunk's scratch, the reduction, the
# step over n weights with two divisions each, the raw-space weights and
# their bias) for every row: on 100k x 100 float64 about 0.75 us a row,
# 3.9 times scikit-learn's SGDClassifier. One binary model whose step has a
# closed form for every weight (:func:`fastlr._kernels.update.is_lean`: L2
# or no penalty, a rate of one number a step; averaging too) instead
# runs the CSR lean epoch's rule on the dense rows: the weights are ``w = s
# * v`` (the L2 shrink is ``s *= 1 - eta * l2``), a row's logit is ``s * v
# . t + b`` with ``t = (x - mean) / scale`` the standardized row, and a
# batch's step is ``v -= eta / (bsz * s) * r_i * t_i`` row by row
# (:func:`fastlr._kernels.update.lean_scalars`, which also moves the
# intercept): two passes over each row, no division per weight; averaging
# adds a pass over the weights per step. The weights equal the general
# epoch's to rounding (the same steps, with other roundings), on any number
# of threads (it runs on one: batches this small are not shared). Measured
# in one run (100k x 100 float64, one thread, medians of 5 interleaved
# rounds; ns a row, lean / general / SGDClassifier 193): batch 1 114 / 752,
# 2 112 / 400, 4 114 / 226, 8 121 / 136, 16 132 / 90, 32 125 / 70, so it
# serves batches up to :data:`fastlr._dispatch.DENSE_LEAN_MAX_BATCH`.

#: How many positions ahead the lean epoch asks for a row (and its label,
#: weight and fold) in an order of single rows (``block`` 1, a permutation);
#: in runs of consecutive rows the hardware prefetcher follows them.
LEAN_AHEAD_ROWS = 8

#: The lean epoch finds the rows of its order this many at a time.
LEAN_WINDOW_ROWS = 64


@jit(exact=True, inline=True)
def lean_dot(X, i, v, mean, isc):
    """``v . (x_i - mean) * isc``, in eight interleaved partial sums over
    the columns, eight at a time (the rest into the first), summed
    pairwise: a fixed order, vector lanes without reassociation."""
    n = X.shape[1]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    j = 0
    while j + 8 <= n:
        a0 += v[j] * ((X[i, j] - mean[j]) * isc[j])
        a1 += v[j + 1] * ((X[i, j + 1] - mean[j + 1]) * isc[j + 1])
        a2 += v[j + 2] * ((X[i, j + 2] - mean[j + 2]) * isc[j + 2])
        a3 += v[j + 3] * ((X[i, j + 3] - mean[j + 3]) * isc[j + 3])
        a4 += v[j + 4] * ((X[i, j + 4] - mean[j + 4]) * isc[j + 4])
        a5 += v[j + 5] * ((X[i, j + 5] - mean[j + 5]) * isc[j + 5])
        a6 += v[j + 6] * ((X[i, j + 6] - mean[j + 6]) * isc[j + 6])
        a7 += v[j + 7] * ((X[i, j + 7] - mean[j + 7]) * isc[j + 7])
        j += 8
    while j < n:
        a0 += v[j] * ((X[i, j] - mean[j]) * isc[j])
        j += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


@jit(exact=True)
def lean_epoch(X, y, sw, blocks, block, batch_size, opt, models, state, acc):
    """:func:`epoch` on small batches (see :data:`fastlr._dispatch.DENSE_LEAN_MAX_BATCH`)
    for one binary model whose options
    :func:`fastlr._kernels.update.is_lean` accepts, on one thread (see "the
    lean path" above); adds its sums to ``acc`` (1, >= 5) as :func:`epoch`
    does."""
    mean, scale, stat = models[0], models[1], models[2]
    window = max(1, LEAN_WINDOW_ROWS // batch_size) * batch_size
    lean_batches(X, y, sw, blocks, block, batch_size, opt, models, state, acc,
                 mean[stat[0]], 1.0 / scale[stat[0]],
                 np.empty(window + LEAN_AHEAD_ROWS, dtype=np.int64),
                 np.empty(min(batch_size, X.shape[0])), np.empty(1))


@jit(exact=True, runtime=False)
def lean_batches(X, y, sw, blocks, block, batch_size, opt, models, state, acc, mean,
                 isc, rowbuf, R, sr):
    """The batches of :func:`lean_epoch`, on its scratch (the order's rows,
    a window of whole batches at a time, the batch's residuals, their sum
    for :func:`fastlr._kernels.update.lean_scalars`), compiled without
    numba's runtime: it allocates nothing, so the kernels it inlines per
    row count no references (as :func:`fastlr._kernels.sparse.lean_batches`).
    A batch's logits are taken at its starting weights, then its rows'
    steps applied one after the other, then its share of the averaged
    iterate (as :func:`fastlr._kernels.update.step` orders them)."""
    hyper, fold, row_fold = models[3], models[4], models[5]
    W, B, steps = state[0], state[1], state[2]
    m = order_length(blocks, block, X.shape[0])
    n = X.shape[1]
    Xf = X.reshape(-1)
    v = W[0, 0]
    avg = state[4][0, 0]
    hold = fold[0]
    single = block == 1 and m > 1   # rows one by one: ask for them ahead
    window = rowbuf.shape[0] - LEAN_AHEAD_ROWS   # whole batches
    s = 1.0
    b = B[0, 0]
    sums = (acc[0, 0], acc[0, 1], acc[0, 2], acc[0, 3], acc[0, 4])
    nwin = 0
    for start in range(0, m, batch_size):
        bsz = min(batch_size, m - start)
        q0 = start % window
        if q0 == 0:
            nwin = min(window + LEAN_AHEAD_ROWS, m - start)
            rows_at(blocks, block, start, nwin, rowbuf)
        rsum = 0.0
        cnt = 0.0
        for p in range(bsz):
            q = q0 + p
            if single and q + LEAN_AHEAD_ROWS < nwin:
                h = rowbuf[q + LEAN_AHEAD_ROWS]
                ask_row(Xf, n, h)
                ask_item(y, h)
                ask_item(sw, h)
                ask_item(row_fold, h)
            i = rowbuf[q]
            row = lean_residual(s * lean_dot(X, i, v, mean, isc) + b, y, sw,
                                row_fold, hold, i, opt.track_loss)
            R[p] = row[0]
            rsum += row[0]
            cnt += row[5]
            sums = add_row_sums(sums, row)
        if cnt == 0.0:
            continue
        sr[0] = rsum
        s, cst = lean_scalars(cnt, sr, opt, hyper, B, steps, v, s)
        b = B[0, 0]
        for p in range(bsz):
            cr = cst * R[p]
            if cr != 0.0:
                i = rowbuf[q0 + p]
                for j in range(n):
                    v[j] -= cr * ((X[i, j] - mean[j]) * isc[j])
        if opt.average_start > 0 and steps[0, 0] >= opt.average_start:
            # the running mean of the iterates w = s * v, as the step's
            steps[0, 1] += 1
            inv_k = 1.0 / np.float64(steps[0, 1])
            for j in range(n):
                avg[j] += (s * v[j] - avg[j]) * inv_k
            avg[n] += (b - avg[n]) * inv_k
    acc[0, 0], acc[0, 1], acc[0, 2], acc[0, 3], acc[0, 4] = sums
    if s != 1.0:
        for j in range(n):
            v[j] *= s
