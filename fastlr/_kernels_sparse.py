"""Numba kernels for sparse CSR input: loops over the stored non-zeros only.

A CSR matrix arrives as its three arrays: ``data`` (nnz,) float32/float64,
``indices`` (nnz,) int32/int64 column indices (sorted, no duplicates: the
Python layer canonicalizes), ``indptr`` (m + 1,) row starts. Nothing here
densifies a row or forms a vector of size m x n.

Standardization on sparse input is scaling only (subtracting a mean would
make every zero non-zero): the model is trained on ``x / scale``.

Lazy updates
------------
An SGD step changes every weight (the L2 shrink, the L1 truncation, the
averaged iterate), but a sparse batch's gradient touches only the columns
present in it. The epoch kernel therefore touches only those columns and
defers the rest, in closed forms that give the same result as the eager
update (up to rounding):

* L2 (constant or inverse-scaling rate): the scaling trick of Bottou's SGD
  and scikit-learn: ``w = s * v``; the shrink ``w *= 1 - eta * alpha`` is
  ``s *= 1 - eta * alpha``, and a gradient step on column ``j`` is
  ``v[j] -= eta * g[j] / s``. When ``|s|`` falls below 1e-9 (or the factor is
  not positive) ``s`` is folded into ``v`` (one O(n) pass).
* L1 (Tsuruoka et al. 2009's cumulative penalty): between two visits a
  weight only receives penalty, and the cumulative rule applied once with
  the total penalty owed gives exactly what applying it at every step would
  (it clips at zero the first time it would cross, and then stays there).
  The total is a global running sum ``U`` (per column ``k * eta_j`` for
  AdaGrad, whose step size of an untouched column does not change).
* Averaging (ASGD): between visits column ``j``'s iterate is ``s_t * v[j]``,
  so the sum of its iterates is ``v[j]`` times a global running sum ``P`` of
  ``s_t`` over the averaged steps. ``avg`` holds a *sum* of iterates inside
  the kernel and the mean outside.

The combinations without such a closed form (elastic-net, which interleaves
the L2 shrink with the L1 clip; AdaGrad with L2, whose untouched columns
have a gradient; averaging with L1) run the eager update of
:func:`fastlr._kernels._step` over all n columns each step: the same
results, at O(n) per batch. At the end of every epoch all deferred updates
are applied (O(n) per epoch), so the state between epochs is exactly the
dense path's.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT, JIT_PARALLEL
from ._intrinsics import prefetch
from ._kernels import (
    ADAGRAD_EPS,
    LR_ADAGRAD,
    LR_INVSCALING,
    PENALTY_ELASTICNET,
    PENALTY_L1,
    PENALTY_L2,
    _step,
    finish_column_stats,
    row_loss,
    sigmoid_scalar,
)
from ._kernels_multinomial import _multinomial_step

#: Below this ``|s|`` the L2 scale is folded into the weights (as scikit-learn).
MIN_SCALE = 1e-9


@njit(**JIT)
def finite_1d(a):
    """True when no element of the 1-D array ``a`` is NaN or +-inf."""
    for k in range(a.shape[0]):
        v = a[k]
        if np.isnan(v) or np.isinf(v):
            return False
    return True


@njit(**JIT)
def csr_column_stats(data, indices, indptr, n, mean, scale):
    """Column means and standard deviations over all m rows, implicit zeros
    included, with the same overflow guards as
    :func:`fastlr._kernels.column_stats`.

    Every column is divided by its largest ``|x|``; a column stored in every
    row is shifted by its row-0 value (so that a constant column gets zero
    spread exactly); any other column contains zeros and is not shifted.

    Parameters
    ----------
    data, indices, indptr : a canonical CSR matrix with m >= 1 rows.
    n : int, number of columns.
    mean : (n,) float64 output.
    scale : (n,) float64 output, standard deviation (ddof=0), 1 where zero.
    """
    m = indptr.shape[0] - 1
    amax = np.zeros(n)
    count = np.zeros(n, dtype=np.int64)
    shift = np.zeros(n)
    for k in range(indptr[0], indptr[1]):
        shift[indices[k]] = np.float64(data[k])
    for k in range(indptr[0], indptr[m]):
        j = indices[k]
        amax[j] = max(amax[j], abs(np.float64(data[k])))
        count[j] += 1
    s = np.empty(n)
    inv = np.empty(n)
    for j in range(n):
        s[j] = amax[j] if amax[j] >= 1e-300 else 1.0
        inv[j] = 1.0 / s[j]
        if count[j] < m:
            shift[j] = 0.0
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    for k in range(indptr[0], indptr[m]):
        j = indices[k]
        d = np.float64(data[k]) * inv[j] - shift[j] * inv[j]
        s1[j] += d
        s2[j] += d * d
    # the implicit zeros would add (m - count) terms of -shift * inv: none,
    # as shift is zero unless the column is full
    finish_column_stats(s1, s2, m, s, inv, shift, mean, scale)


# --------------------------------------------------------------------------
# reading ahead
#
# The weights are read at random columns, which no hardware prefetcher can
# predict: on 1M columns (8 MB of weights) nearly every read waits for the
# L3 cache or DRAM. The kernels therefore ask for the next row's weights
# before working on the current row, so that their loads overlap. On the
# 200k x 1M, 20 entries a row workload this made the L2, batch 1 epoch
# 1.6-1.7x faster (interleaved A/B; scikit-learn's epoch went from 1.4x
# faster than fastlr's to 1.2x slower).


@njit(inline="always", **JIT)
def _prefetch_row(indices, indptr, i, a):
    """Prefetch ``a[j]`` for every column ``j`` stored in row ``i``."""
    for k in range(indptr[i], indptr[i + 1]):
        prefetch(a, indices[k])


# --------------------------------------------------------------------------
# prediction and losses


@njit(inline="always", **JIT)
def _row_logit(data, indices, indptr, i, w, b):
    """``x_i . w + b``, with row ``i + 1``'s weights read ahead."""
    if i + 1 < indptr.shape[0] - 1:
        _prefetch_row(indices, indptr, i + 1, w)
    z = b
    for k in range(indptr[i], indptr[i + 1]):
        z += data[k] * w[indices[k]]
    return z


@njit(**JIT)
def csr_decision_serial(data, indices, indptr, w, b, out):
    """``out[i] = x_i . w + b`` for every row (one thread)."""
    m = indptr.shape[0] - 1
    for i in range(m):
        out[i] = _row_logit(data, indices, indptr, i, w, b)


@njit(**JIT_PARALLEL)
def csr_decision_parallel(data, indices, indptr, w, b, out):
    """Threaded :func:`csr_decision_serial`; rows are independent."""
    m = indptr.shape[0] - 1
    for i in prange(m):
        out[i] = _row_logit(data, indices, indptr, i, w, b)


@njit(**JIT)
def csr_full_loss_sum(data, indices, indptr, y, sw, w, b):
    """Sum of (weighted) row log-losses of the raw-space model ``(w, b)``."""
    m = indptr.shape[0] - 1
    weighted = sw.shape[0] > 0
    total = 0.0
    for i in range(m):
        z = _row_logit(data, indices, indptr, i, w, b)
        li = row_loss(z, y[i])
        total += sw[i] * li if weighted else li
    return total


@njit(**JIT)
def csr_gradient_sums(data, indices, indptr, y, p, dw):
    """``dw = X.T @ (p - y) / m``; returns ``mean(p - y)``."""
    m = indptr.shape[0] - 1
    for j in range(dw.shape[0]):
        dw[j] = 0.0
    sr = 0.0
    for i in range(m):
        r = np.float64(p[i]) - y[i]
        sr += r
        for k in range(indptr[i], indptr[i + 1]):
            dw[indices[k]] += r * data[k]
    for j in range(dw.shape[0]):
        dw[j] /= m
    return sr / m


# --------------------------------------------------------------------------
# training


@njit(**JIT)
def lazy_supported(schedule, penalty, average_start):
    """Whether the deferred (lazy) update is exact for these options."""
    if penalty == PENALTY_ELASTICNET:
        return False
    if schedule == LR_ADAGRAD and penalty == PENALTY_L2:
        return False
    if average_start > 0 and penalty == PENALTY_L1:
        return False
    return True


#: Columns of the per-column record of :func:`csr_sgd_epoch` when an option
#: defers work per column (L1, averaging): the weight and its bookkeeping in
#: 32 contiguous bytes, so that visiting a column costs one cache miss, not
#: one per array (on 1M columns nearly every visit misses the caches).
REC_W, REC_SYNC, REC_A, REC_B = 0, 1, 2, 3


@njit(inline="always", **JIT)
def _truncate(z, u, q):
    """Tsuruoka et al.'s cumulative L1 truncation of one weight ``z``, given
    the penalty ``u`` it could have received and ``q`` it did: toward zero
    by the difference, clipped at zero. Takes and returns scalars (no array
    arguments: numba reference-counts those at every call, which cost more
    than the arithmetic per stored entry); the two candidates are selected,
    not branched to, as the weights' signs are unpredictable."""
    zp = max(0.0, z - (u + q))
    zn = min(0.0, z + (u - q))
    out = zp if z > 0.0 else zn
    return out if z != 0.0 else z   # a zero weight stays zero


@njit(inline="always", **JIT)
def _catch_up(w, sync, a, q, t_done, U, P, l1, adagrad, lr, gsq_j, averaging):
    """What the steps since a column's last visit deferred, on scalars.

    ``(w, sync, a, q)`` is the column's record (see REC_*): with L1, ``a``
    and ``q`` are the penalty it could have had and did have, and ``sync``
    the global sum ``U`` (AdaGrad: the step ``t_done``) at its last visit;
    the penalty owed since is added and the weight truncated once. With
    averaging (never together with L1 here), ``a`` is the sum of its
    iterates, ``sync`` the running sum ``P`` of the scale at its last visit.
    Returns the new record. Idempotent: a second call in the same step
    finds nothing owed. Scalars only: numba reference-counts array arguments
    at every call, which cost more than this arithmetic per stored entry.
    """
    if l1 > 0.0:
        if adagrad:
            owed = t_done - sync
            if owed > 0.0:
                a += owed * (lr / (ADAGRAD_EPS + np.sqrt(gsq_j)) * l1)
            sync = t_done
        else:
            owed = U - sync
            a += owed
            sync = U
        if owed != 0.0:
            wn = _truncate(w, a, q)
            q += wn - w
            w = wn
    elif averaging:
        a += w * (P - sync)
        sync = P
    return w, sync, a, q


@njit(**JIT)
def csr_sgd_epoch(data, indices, indptr, y, sw, blocks, block, scale, batch_size,
                  track_loss, schedule, lr, power_t, penalty, alpha, l1_ratio,
                  average_start, w, b, steps, gsq, avg, l1_u, l1_q, out2):
    """One epoch of mini-batch SGD on CSR rows (one thread), O(nnz + n).

    The same epoch, update rules and outputs as
    :func:`fastlr._kernels.sgd_epoch` (see its parameters), on ``x / scale``
    (no centering). Each batch takes two passes over its rows' non-zeros:
    logits, residuals and losses at the batch's starting weights, then the
    gradient step applied row by row to the columns present (the batch
    gradient summed in row order rather than first accumulated: on 1M
    columns, the fewer arrays indexed per non-zero, the fewer cache misses).
    Only the deferred parts that an option needs (see the module docstring)
    keep per-column bookkeeping. AdaGrad, whose per-column step depends on
    the whole batch gradient, and the eager fallback accumulate it first.
    """
    m = indptr.shape[0] - 1
    n = w.shape[0]
    weighted = sw.shape[0] > 0
    lazy = lazy_supported(schedule, penalty, average_start)
    l2 = alpha if penalty == PENALTY_L2 else 0.0
    l1 = alpha if penalty == PENALTY_L1 else 0.0
    averaging = lazy and average_start > 0
    need_sync = lazy and (l1 > 0.0 or averaging)
    adagrad = schedule == LR_ADAGRAD
    use_g = (not lazy) or schedule == LR_ADAGRAD
    need_touched = use_g   # the batch's distinct columns, for g
    scaled = False
    for j in range(n):
        if scale[j] != 1.0:
            scaled = True
            break
    # scaled, lazy, no per-column bookkeeping: each weight and its 1 / scale side
    # by side (16 bytes, one cache line serves both; with two arrays every
    # visit missed twice: the scaled epoch took 2x the unscaled one on 1M
    # columns, 1.3x with the pair)
    paired = scaled and lazy and not need_sync
    pair = np.empty((n if paired else 0, 2))
    if paired:
        for j in range(n):
            pair[j, 0] = w[j]
            pair[j, 1] = 1.0 / scale[j]
        inv_scale = pair[:, 1]
    else:
        inv_scale = np.empty(n if scaled else 0)[:]
        for j in range(inv_scale.shape[0]):
            inv_scale[j] = 1.0 / scale[j]
    g = np.zeros(n if use_g else 0)
    nt_max = n if need_touched else 0
    touched = np.empty(nt_max, dtype=np.int64)
    mark = np.full(nt_max, -1, dtype=np.int64)
    # the deferring options work on the record (see REC_*), w included
    rec = np.empty((n if need_sync else 0, 4))
    for j in range(rec.shape[0]):
        rec[j, REC_W] = w[j]
        if l1 > 0.0:
            rec[j, REC_SYNC] = np.float64(steps[0]) if schedule == LR_ADAGRAD else 0.0
            rec[j, REC_A] = l1_u[j]
            rec[j, REC_B] = l1_q[j]
        else:  # averaging
            rec[j, REC_SYNC] = 0.0
            rec[j, REC_A] = avg[j] * steps[1]   # mean -> sum of iterates
    if need_sync:
        wv = rec[:, REC_W]
    elif paired:
        wv = pair[:, 0]
    else:
        wv = w[:]
    nb_max = min(batch_size, m)
    rowbuf = np.empty(nb_max, dtype=np.int64)
    rbuf = np.empty(nb_max)
    # deferred state: global sums (each column's value at its last visit is
    # in rec)
    s = 1.0
    U = 0.0
    P = 0.0
    total = 0.0
    total_bound = 0.0
    nbatch = 0
    for start in range(0, m, batch_size):
        bsz = min(batch_size, m - start)
        nt = 0
        sr = 0.0
        t_done = steps[0]
        q = start // block
        off = start - q * block
        for pos in range(bsz):
            i = blocks[q] * block + off
            off += 1
            if off == block:
                off = 0
                q += 1
            rowbuf[pos] = i
            if start + pos + 1 < m:
                # the next row in the visiting order (q, off already point
                # at it): its weights, and what the options read with them
                inext = blocks[q] * block + off
                _prefetch_row(indices, indptr, inext, wv)
                if scaled:
                    _prefetch_row(indices, indptr, inext, inv_scale)
                if need_touched:
                    _prefetch_row(indices, indptr, inext, mark)
            z = 0.0
            # one loop per case (a loop whose body keeps the bookkeeping
            # branches, even untaken, measured 1.2-1.3x slower on 1M columns)
            if need_touched or need_sync:
                for k in range(indptr[i], indptr[i + 1]):
                    j = indices[k]
                    if need_touched and mark[j] != nbatch:
                        mark[j] = nbatch
                        touched[nt] = j
                        nt += 1
                    if need_sync:
                        wv[j], rec[j, REC_SYNC], rec[j, REC_A], rec[j, REC_B] = _catch_up(
                            wv[j], rec[j, REC_SYNC], rec[j, REC_A], rec[j, REC_B],
                            np.float64(t_done), U, P, l1, adagrad, lr,
                            gsq[j] if adagrad else 0.0, averaging)
                    if scaled:
                        z += data[k] * (wv[j] * inv_scale[j])
                    else:
                        z += data[k] * wv[j]
            elif scaled:
                for k in range(indptr[i], indptr[i + 1]):
                    j = indices[k]
                    z += data[k] * (wv[j] * inv_scale[j])
            else:
                for k in range(indptr[i], indptr[i + 1]):
                    z += data[k] * wv[indices[k]]
            z = s * z + b[0]
            yi = y[i]
            r = sigmoid_scalar(z) - yi
            bnd = max(z if yi == 0.0 else -z, 0.0)
            li = row_loss(z, yi) if track_loss else 0.0
            if weighted:
                r *= sw[i]
                bnd *= sw[i]
                li *= sw[i]
            total += li
            total_bound += bnd
            sr += r
            rbuf[pos] = r
            if use_g:
                for k in range(indptr[i], indptr[i + 1]):
                    g[indices[k]] += r * data[k]
        nbatch += 1
        if not lazy:
            _step(wv, b, g, sr, scale, bsz, schedule, lr, power_t, penalty, alpha,
                  l1_ratio, average_start, steps, gsq, avg, l1_u, l1_q)
            for c in range(nt):
                g[touched[c]] = 0.0
            continue
        # the lazy step: global scalars, then the batch's columns only
        steps[0] += 1
        t = steps[0]
        inv_b = 1.0 / bsz
        if schedule == LR_ADAGRAD:
            for c in range(nt):
                j = touched[c]
                grad = g[j] * inv_b
                if scaled:
                    grad *= inv_scale[j]
                g[j] = 0.0
                gsq[j] += grad * grad
                eta = lr / (ADAGRAD_EPS + np.sqrt(gsq[j]))
                wv[j] -= eta * grad
                if l1 > 0.0:
                    rec[j, REC_A] += eta * l1
                    wz = wv[j]
                    wn = _truncate(wz, rec[j, REC_A], rec[j, REC_B])
                    wv[j] = wn
                    rec[j, REC_B] += wn - wz
                    rec[j, REC_SYNC] = np.float64(t)
            gb = sr * inv_b
            gsq[n] += gb * gb
            b[0] -= lr / (ADAGRAD_EPS + np.sqrt(gsq[n])) * gb
        else:
            eta = lr
            if schedule == LR_INVSCALING:
                eta = lr / np.float64(t) ** power_t
            if l2 > 0.0:
                rho = 1.0 - eta * l2
                if rho <= 0.0 or abs(s * rho) < MIN_SCALE:
                    # fold s into the weights (all deferred parts first)
                    for j in range(n):
                        if averaging:
                            rec[j, REC_A] += wv[j] * (P - rec[j, REC_SYNC])
                            rec[j, REC_SYNC] = 0.0
                        wv[j] *= s * rho
                    P = 0.0
                    s = 1.0
                else:
                    s *= rho
            step = eta * inv_b / s
            for pos in range(bsz):
                i = rowbuf[pos]
                c = step * rbuf[pos]
                if scaled:
                    for k in range(indptr[i], indptr[i + 1]):
                        j = indices[k]
                        wv[j] -= c * (data[k] * inv_scale[j])
                else:
                    for k in range(indptr[i], indptr[i + 1]):
                        wv[indices[k]] -= c * data[k]
            b[0] -= eta * sr * inv_b
            if l1 > 0.0:
                U += eta * l1
                # each column of the batch once (its sync value says whether
                # it has had this step's penalty yet)
                for pos in range(bsz):
                    i = rowbuf[pos]
                    for kk in range(indptr[i], indptr[i + 1]):
                        j = indices[kk]
                        if rec[j, REC_SYNC] != U:
                            rec[j, REC_A] += U - rec[j, REC_SYNC]
                            rec[j, REC_SYNC] = U
                            wz = wv[j]
                            wn = _truncate(wz, rec[j, REC_A], rec[j, REC_B])
                            wv[j] = wn
                            rec[j, REC_B] += wn - wz
        if average_start > 0 and t >= average_start:
            steps[1] += 1
            inv_k = 1.0 / np.float64(steps[1])
            P += s
            avg[n] += (b[0] - avg[n]) * inv_k
    if lazy:
        # apply everything deferred: the state is the eager one again
        t_done = steps[0]
        for j in range(n):
            if need_sync:
                wv[j], rec[j, REC_SYNC], rec[j, REC_A], rec[j, REC_B] = _catch_up(
                    wv[j], rec[j, REC_SYNC], rec[j, REC_A], rec[j, REC_B],
                    np.float64(t_done), U, P, l1, adagrad, lr,
                    gsq[j] if adagrad else 0.0, averaging)
                if l1 > 0.0:
                    l1_u[j] = rec[j, REC_A]
                    l1_q[j] = rec[j, REC_B]
                elif averaging and steps[1] > 0:
                    avg[j] = rec[j, REC_A] / np.float64(steps[1])
            w[j] = wv[j] * s
    out2[0] = total
    out2[1] = total_bound


# --------------------------------------------------------------------------
# multinomial (softmax) training on CSR rows


@njit(**JIT)
def csr_full_loss_sum_multinomial(data, indices, indptr, y, sw, W, B):
    """Sum of (weighted) row cross-entropies of the raw-space model (W, B)."""
    m = indptr.shape[0] - 1
    k = W.shape[0]
    weighted = sw.shape[0] > 0
    z = np.empty(k)
    total = 0.0
    for i in range(m):
        zmax = -np.inf
        for c in range(k):
            acc = B[c]
            for p in range(indptr[i], indptr[i + 1]):
                acc += data[p] * W[c, indices[p]]
            z[c] = acc
            zmax = max(zmax, acc)
        s = 0.0
        for c in range(k):
            s += np.exp(z[c] - zmax)
        li = zmax + np.log(s) - z[y[i]]
        total += sw[i] * li if weighted else li
    return total


@njit(inline="always", **JIT)
def _catch_up2(j, t_done, W, l1, schedule, lr, U, sync_u, sync_t, gsq, l1_u, l1_q,
               averaging, P, sync_p, avg):
    """:func:`_catch_up` for column ``j`` of every class, on separate
    arrays (the end-of-epoch flush of the multinomial kernel)."""
    k = W.shape[0]
    if l1 > 0.0:
        if schedule == LR_ADAGRAD:
            steps_owed = t_done - sync_t[j]
            if steps_owed > 0:
                for c in range(k):
                    eta = lr / (ADAGRAD_EPS + np.sqrt(gsq[c, j]))
                    l1_u[c, j] += steps_owed * (eta * l1)
                    wz = W[c, j]
                    W[c, j] = _truncate(wz, l1_u[c, j], l1_q[c, j])
                    l1_q[c, j] += W[c, j] - wz
            sync_t[j] = t_done
        else:
            du = U - sync_u[j]
            if du != 0.0:
                for c in range(k):
                    l1_u[c, j] += du
                    wz = W[c, j]
                    W[c, j] = _truncate(wz, l1_u[c, j], l1_q[c, j])
                    l1_q[c, j] += W[c, j] - wz
            sync_u[j] = U
    if averaging:
        dp = P - sync_p[j]
        for c in range(k):
            avg[c, j] += W[c, j] * dp
        sync_p[j] = P


@njit(**JIT)
def csr_sgd_epoch_multinomial(data, indices, indptr, y, sw, blocks, block, scale,
                              batch_size, track_loss, schedule, lr, power_t,
                              penalty, alpha, l1_ratio, average_start, W, B, steps,
                              gsq, avg, l1_u, l1_q, out2):
    """One softmax SGD epoch on CSR rows (one thread), O(k (nnz + n)).

    The sparse twin of
    :func:`fastlr._kernels_multinomial.sgd_epoch_multinomial` (same
    parameters, minus ``mean``: no centering), with the lazy updates of
    :func:`csr_sgd_epoch` applied to the k weights of each column present in
    a batch (one L2 scale shared by all classes).
    """
    m = indptr.shape[0] - 1
    k, n = W.shape
    weighted = sw.shape[0] > 0
    lazy = lazy_supported(schedule, penalty, average_start)
    l2 = alpha if penalty == PENALTY_L2 else 0.0
    l1 = alpha if penalty == PENALTY_L1 else 0.0
    inv_scale = np.empty(n)
    for j in range(n):
        inv_scale[j] = 1.0 / scale[j]
    # the weights and gradient sums column by column: (k, n) views of (n, k)
    # arrays, so that the k values of a column share a cache line (a column
    # visit touched k lines of each)
    WT = np.empty((n, k))
    Wc = WT.T
    for c in range(k):
        for j in range(n):
            Wc[c, j] = W[c, j]
    GT = np.zeros((n, k))
    G = GT.T
    wflat = WT.reshape(n * k)
    gflat = GT.reshape(n * k)
    S = np.zeros(k)
    z = np.empty(k)
    touched = np.empty(n, dtype=np.int64)
    mark = np.full(n, -1, dtype=np.int64)
    s = 1.0
    U = 0.0
    P = 0.0
    # per-column bookkeeping only for the options that defer work
    n_l1 = n if lazy and l1 > 0.0 else 0
    sync_u = np.zeros(n_l1)
    sync_t = np.full(n_l1, steps[0], dtype=np.int64)
    sync_p = np.zeros(n if lazy and average_start > 0 else 0)
    averaging = lazy and average_start > 0
    if averaging:
        for c in range(k):
            for j in range(n):
                avg[c, j] *= steps[1]   # mean -> sum of iterates
    total = 0.0
    total_bound = 0.0
    nbatch = 0
    for start in range(0, m, batch_size):
        bsz = min(batch_size, m - start)
        nt = 0
        t_done = steps[0]
        for c in range(k):
            S[c] = 0.0
        q = start // block
        off = start - q * block
        for pos in range(bsz):
            i = blocks[q] * block + off
            off += 1
            if off == block:
                off = 0
                q += 1
            if start + pos + 1 < m:
                # the next row's columns (see "reading ahead")
                inext = blocks[q] * block + off
                _prefetch_row(indices, indptr, inext, mark)
                _prefetch_row(indices, indptr, inext, inv_scale)
                for p in range(indptr[inext], indptr[inext + 1]):
                    prefetch(wflat, indices[p] * k)
                    prefetch(gflat, indices[p] * k)
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if mark[j] != nbatch:
                    mark[j] = nbatch
                    touched[nt] = j
                    nt += 1
                    if lazy and l1 > 0.0:
                        # written out: see csr_sgd_epoch
                        if schedule == LR_ADAGRAD:
                            owed = np.float64(t_done - sync_t[j])
                            sync_t[j] = t_done
                        else:
                            owed = U - sync_u[j]
                            sync_u[j] = U
                        if owed != 0.0:
                            for c in range(k):
                                if schedule == LR_ADAGRAD:
                                    l1_u[c, j] += owed * (
                                        lr / (ADAGRAD_EPS + np.sqrt(gsq[c, j])) * l1)
                                else:
                                    l1_u[c, j] += owed
                                wz = Wc[c, j]
                                Wc[c, j] = _truncate(wz, l1_u[c, j], l1_q[c, j])
                                l1_q[c, j] += Wc[c, j] - wz
                    elif averaging:
                        dp = P - sync_p[j]
                        for c in range(k):
                            avg[c, j] += Wc[c, j] * dp
                        sync_p[j] = P
            zmax = -np.inf
            for c in range(k):
                acc = 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    j = indices[p]
                    acc += data[p] * (Wc[c, j] * inv_scale[j])
                acc = s * acc + B[c]
                z[c] = acc
                zmax = max(zmax, acc)
            ssum = 0.0
            for c in range(k):
                z[c] = z[c] - zmax
                ssum += np.exp(z[c])
            yi = y[i]
            wi = sw[i] if weighted else 1.0
            bound = -z[yi]
            if track_loss:
                total += wi * (np.log(ssum) + bound)
            total_bound += wi * bound
            inv = 1.0 / ssum
            for c in range(k):
                r = np.exp(z[c]) * inv
                if c == yi:
                    r -= 1.0
                r *= wi
                S[c] += r
                for p in range(indptr[i], indptr[i + 1]):
                    G[c, indices[p]] += r * data[p]
        nbatch += 1
        if not lazy:
            _multinomial_step(Wc, B, G, S, scale, bsz, schedule, lr, power_t,
                              penalty, alpha, l1_ratio, average_start, steps, gsq,
                              avg, l1_u, l1_q)
            for cc in range(nt):
                j = touched[cc]
                for c in range(k):
                    G[c, j] = 0.0
            continue
        steps[0] += 1
        t = steps[0]
        inv_b = 1.0 / bsz
        if schedule == LR_ADAGRAD:
            for cc in range(nt):
                j = touched[cc]
                for c in range(k):
                    grad = G[c, j] * inv_scale[j] * inv_b
                    G[c, j] = 0.0
                    gsq[c, j] += grad * grad
                    eta = lr / (ADAGRAD_EPS + np.sqrt(gsq[c, j]))
                    Wc[c, j] -= eta * grad
                    if l1 > 0.0:
                        l1_u[c, j] += eta * l1
                        wz = Wc[c, j]
                        Wc[c, j] = _truncate(wz, l1_u[c, j], l1_q[c, j])
                        l1_q[c, j] += Wc[c, j] - wz
                if l1 > 0.0:
                    sync_t[j] = t
            for c in range(k):
                gb = S[c] * inv_b
                gsq[c, n] += gb * gb
                B[c] -= lr / (ADAGRAD_EPS + np.sqrt(gsq[c, n])) * gb
        else:
            eta = lr
            if schedule == LR_INVSCALING:
                eta = lr / np.float64(t) ** power_t
            if l2 > 0.0:
                rho = 1.0 - eta * l2
                if rho <= 0.0 or abs(s * rho) < MIN_SCALE:
                    for j in range(n):
                        if averaging:
                            dp = P - sync_p[j]
                            sync_p[j] = 0.0
                            for c in range(k):
                                avg[c, j] += Wc[c, j] * dp
                        for c in range(k):
                            Wc[c, j] *= s * rho
                    P = 0.0
                    s = 1.0
                else:
                    s *= rho
            step = eta * inv_b / s
            for cc in range(nt):
                j = touched[cc]
                for c in range(k):
                    Wc[c, j] -= step * (G[c, j] * inv_scale[j])
                    G[c, j] = 0.0
            for c in range(k):
                B[c] -= eta * S[c] * inv_b
            if l1 > 0.0:
                U += eta * l1
                for cc in range(nt):
                    j = touched[cc]
                    for c in range(k):
                        l1_u[c, j] += U - sync_u[j]
                        wz = Wc[c, j]
                        Wc[c, j] = _truncate(wz, l1_u[c, j], l1_q[c, j])
                        l1_q[c, j] += Wc[c, j] - wz
                    sync_u[j] = U
        if average_start > 0 and t >= average_start:
            steps[1] += 1
            inv_k = 1.0 / np.float64(steps[1])
            P += s
            for c in range(k):
                avg[c, n] += (B[c] - avg[c, n]) * inv_k
    if lazy:
        t_done = steps[0]
        for j in range(n):
            if l1 > 0.0 or averaging:   # (a call per column costs, even empty)
                _catch_up2(j, t_done, Wc, l1, schedule, lr, U, sync_u, sync_t,
                           gsq, l1_u, l1_q, averaging, P, sync_p, avg)
            for c in range(k):
                Wc[c, j] *= s
        if averaging and steps[1] > 0:
            inv = 1.0 / np.float64(steps[1])
            for c in range(k):
                for j in range(n):
                    avg[c, j] *= inv
    for c in range(k):
        for j in range(n):
            W[c, j] = Wc[c, j]
    out2[0] = total
    out2[1] = total_bound
