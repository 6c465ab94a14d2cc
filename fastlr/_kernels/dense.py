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
permutation is ``block = 1``.

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

Subtracting the mean inside the loops (rather than folding it into the
bias) keeps the arithmetic as accurate as on a standardized copy of X, even
for columns whose mean dwarfs their spread. It costs a load and a
subtraction per element in A and C, so when every column's |mean| is within
FOLD_MAX_OFFSET of its scale the mean is folded instead: into the bias, and
out of the gradient as ``- mean * sum r`` (on 1M x 100 N(0, 1) data, batch
256, two threads: epoch 0.87x, 1.60 -> 1.38 x floor, measured side by side).
The softmax chunk (:func:`chunk_softmax`) goes row by row: a row's k logits,
its log-sum-exp and k residuals, while the row is in cache.
"""

import numpy as np

from .jit import jit
from .scalar import exp_neg_abs, residuals, softmax_row
from .team import CHUNK, claim, finish_task, is_open, open_batch, tasks, wait_open
from .update import LOSS_SOFTMAX, batch_weights, can_fold_mean, step


@jit(inline=True)
def rows_at(blocks, block, p0, nb, rows):
    """``rows[:nb]`` = the rows at sequence positions ``p0 .. p0 + nb - 1``."""
    q = p0 // block
    off = p0 - q * block
    for k in range(nb):
        rows[k] = blocks[q] * block + off
        off += 1
        if off == block:
            off = 0
            q += 1


@jit()
def chunk_logistic(X, y, sw, rows, nb, mean, center, u, c, track_loss, F, gpart,
                   out):
    """Partial sums of one chunk of the binary model (rows ``rows[:nb]``).

    Writes ``gpart = sum_k r_k (x_k - mean)`` and ``out = (sum r, sum loss,
    sum bound)``. ``center``: subtract ``mean`` in the loops (``c`` is the
    bias on the centred rows); otherwise ``c`` must be ``b - u . mean`` and
    the mean is folded out of the gradient at the end. ``F`` is (8, CHUNK)
    float64 scratch.
    """
    n = X.shape[1]
    weighted = sw.shape[0] > 0
    z, yb, wb, e, tbuf, r, loss, bound = F[0], F[1], F[2], F[3], F[4], F[5], F[6], F[7]
    for k in range(nb):
        i = rows[k]
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
    # phase C: gradient, four rows at a time
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
    out[0] = sr
    out[1] = sl
    out[2] = sb


@jit()
def chunk_softmax(X, y, sw, rows, nb, mean, U, C, track_loss, xc, z, gpart, spart,
                  out):
    """Partial sums of one chunk of the softmax model (rows ``rows[:nb]``).

    Per row, while it is in cache: ``xc = x - mean``; logits
    ``z_c = C_c + xc . U[c]``; residuals and losses (:func:`softmax_row`);
    ``gpart[c] += r_c * xc``, ``spart[c] += r_c``. ``out`` receives
    ``(sum loss, sum bound)``.
    """
    n = X.shape[1]
    k = U.shape[0]
    weighted = sw.shape[0] > 0
    for c in range(k):
        spart[c] = 0.0
        for j in range(n):
            gpart[c, j] = 0.0
    sl = 0.0
    sb = 0.0
    for q in range(nb):
        i = rows[q]
        for j in range(n):
            xc[j] = X[i, j] - mean[j]
        for c in range(k):
            acc = C[c]
            for j in range(n):
                acc += xc[j] * U[c, j]
            z[c] = acc
        loss, bound = softmax_row(z, k, y[i], sw[i] if weighted else 1.0, track_loss)
        sl += loss
        sb += bound
        for c in range(k):
            r = z[c]
            spart[c] += r
            for j in range(n):
                gpart[c, j] += r * xc[j]
    out[0] = sl
    out[1] = sb


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


@jit(exact=True)
def epoch(X, y, sw, blocks, block, mean, scale, batch_size, opt, state, team):
    """One thread's share of an epoch of mini-batch SGD (all of it when run
    by one thread); returns when no task is left.

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous. Read only, never copied.
    y : (m,) int64 class codes (0/1 for the binary model).
    sw : (m,) or (0,) float64
        Sample weights; empty means all ones. Row ``i``'s loss and gradient
        are multiplied by ``sw[i]``; the batch gradient is still divided by
        the batch's row count (as scikit-learn's SGD does).
    blocks : (nb,) int64, block : int
        The visiting order (see the module docstring).
    mean, scale : (n,) float64
        Standardization (zeros and ones when disabled).
    batch_size : int >= 1
    opt : fastlr._kernels.update.Options
    state : (W, B, steps, gsq, avg, l1_u, l1_q)
        The model state (see :mod:`fastlr._kernels.update`), updated in place.
    team : (U, C, G, S, L, ctl, acc)
        Shared by the threads: the open batch's raw-space weights ``U``
        (k, n) and biases ``C`` (k,); one slot of partial sums per chunk of
        a batch, ``G`` (nch, k, n), ``S`` (nch, k), ``L`` (nch, 2) (no
        slots, nch = 0, when one thread runs the epoch alone);
        ``ctl`` from :func:`fastlr._kernels.team.control`; ``acc`` (2,)
        zeros, receiving the sum over rows of the (weighted) row loss at the
        weights in force for the row's batch (0 unless ``opt.track_loss``)
        and of its lower bound.

    Returns the sum of the elements read ahead while waiting (meaningless;
    returned so that the compiler keeps the reads).
    """
    m, n = X.shape
    W, B, steps, gsq, avg, l1_u, l1_q = state
    U, C, G, S, L, ctl, acc = team
    k = W.shape[0]
    nch, ntasks = tasks(m, batch_size)
    solo = G.shape[0] == 0
    softmax = opt.loss == LOSS_SOFTMAX
    center = softmax or not can_fold_mean(mean, scale)
    rows = np.empty(CHUNK, dtype=np.int64)
    F = np.empty((8, CHUNK))
    xc = np.empty(n)
    z = np.empty(k)
    # a chunk's sums go to this thread's buffers, then once to the chunk's
    # shared slot: accumulating in the slots (whose edges share cache lines
    # with the neighbouring chunk's) bounced lines between the cores
    gpart = np.empty((k, n))
    spart = np.empty(k)
    o3 = np.empty(3)
    g = np.empty((k, n))
    s = np.empty(k)
    task = np.empty(6, dtype=np.int64)
    touched = 0.0
    while claim(ctl, ntasks, nch, batch_size, m, task):
        kb, ci, bsz, p0, nb, end = task[0], task[1], task[2], task[3], task[4], task[5]
        rows_at(blocks, block, p0, nb, rows)
        if kb == 0 and ci == 0:
            # the epoch's first task prepares batch 0
            batch_weights(W, B, mean, scale, center, U, C)
            open_batch(ctl, 0)
        elif not is_open(ctl, kb):
            # read the chunk's rows while the batch before finishes
            touched += touch_rows(X, rows, nb)
            if not wait_open(ctl, kb):
                break
        if softmax:
            chunk_softmax(X, y, sw, rows, nb, mean, U, C, opt.track_loss, xc, z,
                          gpart, spart, o3)
        else:
            chunk_logistic(X, y, sw, rows, nb, mean, center, U[0], C[0],
                           opt.track_loss, F, gpart[0], o3)
            spart[0] = o3[0]
            o3[0] = o3[1]
            o3[1] = o3[2]
        # one thread alone (no slots) adds each chunk as it goes; a team
        # parks it in its slot, and the batch's last chunk adds them all:
        # the same additions in the same order either way
        direct = solo or end - kb * nch == 1
        if direct:
            if ci == 0:
                g[:] = 0.0
                s[:] = 0.0
            _add(g, s, acc, gpart, spart, o3[0], o3[1])
        else:
            _park(G[ci], S[ci], gpart, spart)
            L[ci, 0] = o3[0]
            L[ci, 1] = o3[1]
        if not finish_task(ctl, end):
            continue
        # the batch's last chunk: reduce in chunk order, step, open the next
        if not direct:
            g[:] = 0.0
            s[:] = 0.0
            for q in range(end - kb * nch):
                _add(g, s, acc, G[q], S[q], L[q, 0], L[q, 1])
        step(W, B, g, s, scale, bsz, opt, steps, gsq, avg, l1_u, l1_q)
        batch_weights(W, B, mean, scale, center, U, C)
        open_batch(ctl, kb + 1)
    return touched


@jit(inline=True)
def _park(Gq, Sq, gpart, spart):
    """Copy a chunk's sums into its slot, element by element: assigning an
    array to a slice (``G[ci] = gpart``) compiles numba's shape-mismatch
    message as well, 4 s of the first call on an empty cache."""
    k, n = gpart.shape
    for c in range(k):
        for j in range(n):
            Gq[c, j] = gpart[c, j]
        Sq[c] = spart[c]


@jit(inline=True)
def _add(g, s, acc, gq, sq, loss, bound):
    k, n = g.shape
    for c in range(k):
        for j in range(n):
            g[c, j] += gq[c, j]
        s[c] += sq[c]
    acc[0] += loss
    acc[1] += bound
