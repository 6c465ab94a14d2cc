"""Numba kernels for multinomial (softmax) logistic regression.

The same conventions as :mod:`fastlr._kernels` (arrays and scalars only, no
validation, no arrays of size m, output buffers last), and the same epoch
structure as its binary training section: rows are visited in the block
order ``(blocks, block)``, each batch is cut into chunks of
:data:`fastlr._kernels.CHUNK` consecutive positions, and the batch gradient
is the sum of per-chunk partial sums added in chunk order, so the threaded
epoch (:func:`sgd_epoch_multinomial_worker`, the binary scheme of
:mod:`fastlr._kernels`) is bit-identical to the serial one.

Conventions
-----------
* ``X`` is a C-contiguous ``(m, n)`` float32 or float64 array, read in its own
  dtype; every accumulation is in float64.
* Labels ``y`` are int64 class indices ``0 .. k-1``.
* Weights ``W`` (k, n) and intercepts ``B`` (k,) live in the standardized
  space: the logits of row ``x`` are
  ``z_c = B_c + sum_j (x_j - mean_j) * W[c, j] / scale_j``; the mean is
  subtracted inside the loops (as in the binary kernels) for accuracy.
* Row loss: ``logsumexp(z) - z_y`` with the row maximum subtracted before
  ``exp`` (so ``exp`` never overflows); residual ``softmax(z) - onehot(y)``.
"""

import numpy as np
from numba import njit

from ._config import JIT
from ._intrinsics import fetch_add, store_release
from ._kernels import (
    _JIT_ELEM,
    ADAGRAD_EPS,
    CHUNK,
    LR_ADAGRAD,
    LR_INVSCALING,
    PENALTY_ELASTICNET,
    PENALTY_L1,
    PENALTY_L2,
    TEAM_DONE,
    TEAM_OPEN,
    team_claim,
    team_tasks,
    team_wait,
)


@njit(**JIT)
def softmax_rows(Z, out):
    """Row-wise softmax of the logits ``Z``, stable for any ``Z`` without NaN.

    The row maximum is subtracted before ``exp``. A row whose maximum is
    ``+inf`` puts its mass evenly on the ``+inf`` entries; a row of all
    ``-inf`` is uniform.

    Parameters
    ----------
    Z : (m, k) float32 or float64 logits.
    out : (m, k) float32 or float64 output (may be ``Z``).
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


@njit(**JIT)
def full_loss_sum_multinomial(X, y, sw, W, B):
    """Sum of (weighted) row losses ``logsumexp(z) - z_y`` of a raw-space model.

    Parameters
    ----------
    X : (m, n) float32 or float64.
    y : (m,) int64 class indices.
    sw : (m,) or (0,) float64 sample weights (empty: all ones).
    W : (k, n) float64 raw-space weights.
    B : (k,) float64 raw-space intercepts.
    """
    m, n = X.shape
    k = W.shape[0]
    weighted = sw.shape[0] > 0
    z = np.empty(k)
    total = 0.0
    for i in range(m):
        zmax = -np.inf
        for c in range(k):
            acc = B[c]
            for j in range(n):
                acc += X[i, j] * W[c, j]
            z[c] = acc
            zmax = max(zmax, acc)
        s = 0.0
        for c in range(k):
            s += np.exp(z[c] - zmax)
        li = zmax + np.log(s) - z[y[i]]
        total += sw[i] * li if weighted else li
    return total


@njit(**JIT)
def multinomial_chunk_sums(X, y, sw, blocks, block, p0, nb, mean, U, C, track_loss,
                           gpart, spart, xc, z, out2):
    """Partial sums of one chunk: rows at sequence positions p0 .. p0+nb-1.

    Per row, while it is in cache: ``xc = x - mean``; logits
    ``z_c = C_c + xc . U[c]``; the stable log-sum-exp; residuals
    ``r_c = (softmax(z)_c - [c == y]) * weight``; ``gpart[c] += r_c * xc``.

    Parameters
    ----------
    U : (k, n) float64, ``W / scale`` (per batch).
    C : (k,) float64 intercepts.
    gpart : (k, n) float64 output, ``sum_rows r_c (x - mean)``.
    spart : (k,) float64 output, ``sum_rows r_c``.
    xc : (n,) float64 scratch; z : (k,) float64 scratch.
    out2 : (2,) float64 output: sum of (weighted) row losses (0 unless
        ``track_loss``) and of the lower bound ``max(z) - z_y`` (the loss
        exceeds it by at most ``log k``; it detects divergence).
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
    q = p0 // block
    off = p0 - q * block
    for _ in range(nb):
        i = blocks[q] * block + off
        off += 1
        if off == block:
            off = 0
            q += 1
        for j in range(n):
            xc[j] = X[i, j] - mean[j]
        zmax = -np.inf
        for c in range(k):
            acc = C[c]
            for j in range(n):
                acc += xc[j] * U[c, j]
            z[c] = acc
            zmax = max(zmax, acc)
        s = 0.0
        for c in range(k):
            z[c] = z[c] - zmax  # z now holds z - max: every exp() is <= 1
            s += np.exp(z[c])
        yi = y[i]
        wi = sw[i] if weighted else 1.0
        inv = 1.0 / s
        bound = -z[yi]  # max(z) - z_y
        if track_loss:
            sl += wi * (np.log(s) + bound)
        sb += wi * bound
        for c in range(k):
            r = np.exp(z[c]) * inv
            if c == yi:
                r -= 1.0
            r *= wi
            spart[c] += r
            for j in range(n):
                gpart[c, j] += r * xc[j]
    out2[0] = sl
    out2[1] = sb


@njit(**_JIT_ELEM)
def _multinomial_step(W, B, G, S, scale, bsz, schedule, lr, power_t, penalty,
                      alpha, l1_ratio, average_start, steps, gsq, avg, l1_u,
                      l1_q):
    """One SGD update from the batch sums, in place.

    The k-class form of :func:`fastlr._kernels._step`, with the same penalty
    and schedule codes, the same order of operations and the same arithmetic
    per (class, feature) coordinate ``(c, j)``:

    1. ``grad = G[c, j] / scale[j] / bsz + l2 * W[c, j]`` (``l2 = alpha``
       for ``"l2"``, ``alpha * (1 - l1_ratio)`` for ``"elasticnet"``);
    2. the step size: ``lr``, ``lr / t**power_t`` (``t`` counts steps from
       1) or, for AdaGrad, ``gsq[c, j] += grad**2`` and
       ``lr / (ADAGRAD_EPS + sqrt(gsq[c, j]))``;
    3. ``W[c, j] -= eta * grad``;
    4. L1 (``"l1"``, ``"elasticnet"``): Tsuruoka et al.'s cumulative penalty
       with ``l1_u[c, j]`` (available) and ``l1_q[c, j]`` (applied);
    5. averaging: from step ``average_start`` on (0: never), ``avg[:, :n]`` /
       ``avg[:, n]`` hold the running mean of the weights / intercepts, and
       ``steps[1]`` counts the averaged iterates.

    The intercept ``B[c]`` gets the same step size rule (AdaGrad: its own
    accumulator ``gsq[c, n]``), no penalty.

    Parameters
    ----------
    steps : (2,) int64
    gsq : (k, n + 1) float64
        AdaGrad sums of squared gradients (only read and written by AdaGrad).
    avg : (k, n + 1) float64
    l1_u, l1_q : (k, n) float64
        Cumulative L1 penalty available / applied (only with an L1 part).
    """
    k, n = W.shape
    steps[0] += 1
    t = steps[0]
    inv_b = 1.0 / bsz
    l2 = 0.0
    l1 = 0.0
    if penalty == PENALTY_L2:
        l2 = alpha
    elif penalty == PENALTY_L1:
        l1 = alpha
    elif penalty == PENALTY_ELASTICNET:
        l2 = alpha * (1.0 - l1_ratio)
        l1 = alpha * l1_ratio
    for c in range(k):
        if schedule == LR_ADAGRAD:
            for j in range(n):
                grad = G[c, j] / scale[j] * inv_b + l2 * W[c, j]
                gsq[c, j] += grad * grad
                eta = lr / (ADAGRAD_EPS + np.sqrt(gsq[c, j]))
                W[c, j] -= eta * grad
                if l1 > 0.0:
                    l1_u[c, j] += eta * l1
            gb = S[c] * inv_b
            gsq[c, n] += gb * gb
            B[c] -= lr / (ADAGRAD_EPS + np.sqrt(gsq[c, n])) * gb
        else:
            eta = lr
            if schedule == LR_INVSCALING:
                eta = lr / np.float64(t) ** power_t
            if l2 > 0.0:
                for j in range(n):
                    W[c, j] -= eta * (G[c, j] / scale[j] * inv_b + l2 * W[c, j])
            else:
                for j in range(n):
                    W[c, j] -= eta * (G[c, j] / scale[j] * inv_b)
            B[c] -= eta * S[c] * inv_b
            if l1 > 0.0:
                for j in range(n):
                    l1_u[c, j] += eta * l1
        if l1 > 0.0:
            for j in range(n):
                z = W[c, j]
                if z > 0.0:
                    W[c, j] = max(0.0, z - (l1_u[c, j] + l1_q[c, j]))
                elif z < 0.0:
                    W[c, j] = min(0.0, z + (l1_u[c, j] - l1_q[c, j]))
                l1_q[c, j] += W[c, j] - z
    if average_start > 0 and t >= average_start:
        steps[1] += 1
        inv_k = 1.0 / np.float64(steps[1])
        for c in range(k):
            for j in range(n):
                avg[c, j] += (W[c, j] - avg[c, j]) * inv_k
            avg[c, n] += (B[c] - avg[c, n]) * inv_k


@njit(**JIT)
def sgd_epoch_multinomial(X, y, sw, blocks, block, mean, scale, batch_size,
                          track_loss, schedule, lr, power_t, penalty, alpha,
                          l1_ratio, average_start, W, B, steps, gsq, avg, l1_u,
                          l1_q, out2):
    """One epoch of mini-batch SGD on the standardized softmax loss (one thread).

    Parameters
    ----------
    X : (m, n) float32 or float64, C-contiguous. Read only, never copied.
    y : (m,) int64 class indices in ``0 .. k-1``.
    sw : (m,) or (0,) float64 sample weights (empty: all ones); the batch
        gradient is divided by the batch's row count.
    blocks : (nb,) int64, block : int
        The visiting order (see the training section of
        :mod:`fastlr._kernels`).
    mean, scale : (n,) float64 standardization.
    batch_size : int >= 1
    track_loss : bool
    schedule, lr, power_t, penalty, alpha, l1_ratio, average_start
        The update rule with the codes of :func:`fastlr._kernels._step`
        (``"adaptive"`` is constant within an epoch; the driver lowers
        ``lr``), see :func:`_multinomial_step`. Penalties act on the
        standardized weights; the intercepts are not penalized.
    W : (k, n) float64, B : (k,) float64
        Standardized-space weights and intercepts, updated in place.
    steps : (2,) int64, gsq : (k, n + 1), avg : (k, n + 1), l1_u, l1_q : (k, n)
        Optimizer state carried across epochs and calls, see
        :func:`_multinomial_step`.
    out2 : (2,) float64 output
        Sum of (weighted) row losses at the weights in force for the row's
        batch (0 unless ``track_loss``), and of the bound ``max(z) - z_y``.
    """
    m, n = X.shape
    k = W.shape[0]
    U = np.empty((k, n))
    G = np.empty((k, n))
    S = np.empty(k)
    gpart = np.empty((k, n))
    spart = np.empty(k)
    xc = np.empty(n)
    z = np.empty(k)
    o2 = np.empty(2)
    total = 0.0
    total_bound = 0.0
    for start in range(0, m, batch_size):
        bsz = min(batch_size, m - start)
        for c in range(k):
            S[c] = 0.0
            for j in range(n):
                U[c, j] = W[c, j] / scale[j]
                G[c, j] = 0.0
        for p0 in range(start, start + bsz, CHUNK):
            nb = min(CHUNK, start + bsz - p0)
            multinomial_chunk_sums(X, y, sw, blocks, block, p0, nb, mean, U, B,
                                   track_loss, gpart, spart, xc, z, o2)
            for c in range(k):
                S[c] += spart[c]
                for j in range(n):
                    G[c, j] += gpart[c, j]
            total += o2[0]
            total_bound += o2[1]
        _multinomial_step(W, B, G, S, scale, bsz, schedule, lr, power_t, penalty,
                          alpha, l1_ratio, average_start, steps, gsq, avg, l1_u,
                          l1_q)
    out2[0] = total
    out2[1] = total_bound


@njit(**JIT)
def multinomial_team_begin(W, scale, U):
    """The first batch's raw-space weights ``U = W / scale`` (shared)."""
    k, n = W.shape
    for c in range(k):
        for j in range(n):
            U[c, j] = W[c, j] / scale[j]


@njit(**JIT)
def sgd_epoch_multinomial_worker(X, y, sw, blocks, block, mean, scale,
                                 batch_size, track_loss, schedule, lr, power_t,
                                 penalty, alpha, l1_ratio, average_start, W, B,
                                 steps, gsq, avg, l1_u, l1_q, U, Gs, Ss, O2,
                                 ctl, acc):
    """One thread's share of a threaded :func:`sgd_epoch_multinomial`.

    The scheme of :func:`fastlr._kernels.sgd_epoch_worker` (see "the
    threaded epoch" there): chunks claimed with an atomic counter, per-chunk
    partial sums in the chunk's own slot, the batch's last chunk reduces
    them in chunk order, steps, and opens the next batch. Bit-identical to
    the serial kernel for any number of threads.

    Shared state, prepared by the caller
    (:func:`fastlr._team.sgd_epoch_multinomial_threaded`):

    U : (k, n) float64, the open batch's ``W / scale``
        (:func:`multinomial_team_begin`).
    Gs : (nch, k, n), Ss : (nch, k), O2 : (nch, 2) float64
        One slot of partial sums per chunk of a batch.
    ctl : (TEAM_CTL_SIZE,) int64 zeros; acc : (2,) float64 zeros, receives
        ``out2``.

    Returns the sum of the elements read ahead while waiting (meaningless;
    returned so that the compiler keeps the reads).
    """
    m, n = X.shape
    k = W.shape[0]
    nch, ntasks = team_tasks(m, batch_size)
    G = np.empty((k, n))
    S = np.empty(k)
    xc = np.empty(n)
    z = np.empty(k)
    # the chunk's sums accumulate in this thread's own buffers and are copied
    # into the shared slot once. Accumulating in the slots directly (their
    # edges share cache lines with the neighbouring chunk's, and Ss rows are
    # 40 bytes) bounced cache lines between the cores every row: two threads
    # took 0.77x one thread's epoch, 0.70x with own buffers (200k x 100,
    # k = 5, batch 256, interleaved A/B)
    gpart = np.empty((k, n))
    spart = np.empty(k)
    o2 = np.empty(2)
    touched = 0.0
    task = np.empty(6, dtype=np.int64)
    while team_claim(ctl, ntasks, nch, batch_size, m, task):
        kb, ci, bsz, p0, nb, end = task[0], task[1], task[2], task[3], task[4], task[5]
        touched += team_wait(ctl, kb, X, blocks, block, p0, nb)
        multinomial_chunk_sums(X, y, sw, blocks, block, p0, nb, mean, U, B,
                               track_loss, gpart, spart, xc, z, o2)
        Gs[ci] = gpart
        Ss[ci] = spart
        O2[ci] = o2
        if fetch_add(ctl, TEAM_DONE, 1) + 1 < end:
            continue
        # the batch's last chunk: reduce in chunk order, step, open the next
        for c in range(k):
            S[c] = 0.0
            for j in range(n):
                G[c, j] = 0.0
        for q in range(end - kb * nch):
            for c in range(k):
                S[c] += Ss[q, c]
                for j in range(n):
                    G[c, j] += Gs[q, c, j]
            acc[0] += O2[q, 0]
            acc[1] += O2[q, 1]
        _multinomial_step(W, B, G, S, scale, bsz, schedule, lr, power_t, penalty,
                          alpha, l1_ratio, average_start, steps, gsq, avg, l1_u,
                          l1_q)
        multinomial_team_begin(W, scale, U)
        store_release(ctl, TEAM_OPEN, kb + 1)
    return touched
