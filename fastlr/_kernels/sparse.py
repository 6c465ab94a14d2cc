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

Layout: the epoch copies the model into a table ``T`` of one row per
column: the column's k weights, its ``1 / scale`` (when scaled), and the
deferred-update record ``sync, a[k], q[k]`` (when an option defers per
column). Visiting a column then costs one cache miss or two, not one per
array: on 1M columns nearly every visit misses the caches. The weights are
read at random columns, which no hardware prefetcher predicts, so the
kernel asks for the next row's records before working on the current row
(on 200k x 1M, 20 entries a row, the L2 epoch became 1.6-1.7x faster).
"""

import numpy as np

from .dense import rows_at
from .intrinsics import prefetch
from .jit import jit
from .scalar import logistic_row, softmax_row
from .update import (
    ADAGRAD_EPS,
    LOSS_SOFTMAX,
    LR_ADAGRAD,
    LR_INVSCALING,
    MIN_SCALE,
    catch_up,
    lazy_supported,
    step,
    truncate,
)


@jit()
def epoch(data, indices, indptr, y, sw, blocks, block, scale, batch_size, opt,
          state, out2, unit):
    """One epoch of mini-batch SGD on CSR rows (one thread), O(nnz + n).

    The arguments, update rules and outputs of
    :func:`fastlr._kernels.dense.epoch` (with ``out2`` in place of the
    team's ``acc``), on ``x / scale`` (no centering). Each batch takes two
    passes over its rows' entries: logits, residuals and losses at the
    batch's starting weights, then the gradient step applied row by row to
    the columns present (on 1M columns, the fewer arrays indexed per entry,
    the fewer cache misses). AdaGrad, whose per-column step depends on the
    whole batch gradient, and the eager fallback accumulate the gradient
    first.
    """
    m = indptr.shape[0] - 1
    W, B, steps, gsq, avg, l1_u, l1_q = state
    n = W.shape[1]
    # ``unit`` is (1,) for one row of weights, () for more: its length is a
    # compile-time constant, so the one-row case compiles with k = 1 fixed
    # (its class loops vanish) and any k shares the other specialization
    k = 1 if len(unit) == 1 else W.shape[0]
    weighted = sw.shape[0] > 0
    softmax = opt.loss == LOSS_SOFTMAX
    lazy = lazy_supported(opt)
    adagrad = opt.schedule == LR_ADAGRAD
    l1 = opt.l1
    averaging = lazy and opt.average_start > 0
    need_sync = lazy and (l1 > 0.0 or averaging)
    use_g = (not lazy) or adagrad
    scaled = False
    for j in range(n):
        if scale[j] != 1.0:
            scaled = True
            break
    # the table: weights, [1 / scale], [sync, a[k], q[k]]
    iv = k
    sy = k + 1 if scaled else k
    width = sy + 1 + 2 * k if need_sync else sy
    # one row of weights and nothing beside it: work on W itself
    table = np.empty((n if width > 1 else 0, width))
    T = W.T if width == 1 else table
    for j in range(n if width > 1 else 0):
        for c in range(k):
            T[j, c] = W[c, j]
        if scaled:
            T[j, iv] = 1.0 / scale[j]
        if need_sync:
            T[j, sy] = np.float64(steps[0]) if (l1 > 0.0 and adagrad) else 0.0
            for c in range(k):
                if l1 > 0.0:
                    T[j, sy + 1 + c] = l1_u[c, j]
                    T[j, sy + 1 + k + c] = l1_q[c, j]
                else:  # averaging: mean -> sum of iterates
                    T[j, sy + 1 + c] = avg[c, j] * steps[1]
                    T[j, sy + 1 + k + c] = 0.0
    Tf = W[0] if width == 1 else table.reshape(n * width)
    Wv = T[:, 0:k].T
    GT = np.zeros((n if use_g else 0, k))
    Gv = GT.T
    touched = np.empty(n if use_g else 0, dtype=np.int64)
    mark = np.full(n if use_g else 0, -1, dtype=np.int64)
    nb_max = min(batch_size, m)
    rowbuf = np.empty(nb_max + 1, dtype=np.int64)
    R = np.empty((nb_max, k))
    none = indices[:0]
    z = np.empty(k)
    S = np.empty(k)
    s = 1.0   # L2 scale: w = s * T[:, :k]
    U = 0.0   # L1 penalty per weight so far (constant or inverse-scaling rate)
    P = 0.0   # sum of s over averaged steps
    total = 0.0
    total_bound = 0.0
    nbatch = 0
    for start in range(0, m, batch_size):
        bsz = min(batch_size, m - start)
        # the batch's rows, and the next batch's first (for reading ahead)
        rows_at(blocks, block, start, min(bsz + 1, m - start), rowbuf)
        nt = 0
        t_done = np.float64(steps[0])
        for c in range(k):
            S[c] = 0.0
        for pos in range(bsz):
            i = rowbuf[pos]
            if start + pos + 1 < m:
                inext = rowbuf[pos + 1]
                for p in range(indptr[inext], indptr[inext + 1]):
                    prefetch(Tf, indices[p] * width)
                    if use_g:
                        prefetch(mark, indices[p])
            lo = indptr[i]
            hi = indptr[i + 1]
            if need_sync:
                catch_up(T, indices, lo, hi, k, sy, t_done, U, P, opt, gsq)
            if use_g:
                for p in range(lo, hi):
                    j = indices[p]
                    if mark[j] != nbatch:
                        mark[j] = nbatch
                        touched[nt] = j
                        nt += 1
            # one loop per case (a loop whose body keeps an untaken branch
            # measured 1.2-1.3x slower on 1M columns)
            for c in range(k):
                acc = 0.0
                if scaled:
                    for p in range(lo, hi):
                        j = indices[p]
                        acc += data[p] * (T[j, c] * T[j, iv])
                else:
                    for p in range(lo, hi):
                        acc += data[p] * T[indices[p], c]
                z[c] = s * acc + B[c]
            wt = sw[i] if weighted else 1.0
            if softmax:
                loss, bound = softmax_row(z, k, y[i], wt, opt.track_loss)
            else:
                r, loss, bound = logistic_row(z[0], np.float64(y[i]), wt,
                                              opt.track_loss)
                z[0] = r
            total += loss
            total_bound += bound
            for c in range(k):
                R[pos, c] = z[c]
                S[c] += z[c]
                if use_g:
                    rc = z[c]
                    for p in range(lo, hi):
                        Gv[c, indices[p]] += rc * data[p]
        nbatch += 1
        if not lazy:
            step(Wv, B, Gv, S, scale, bsz, opt, steps, gsq, avg, l1_u, l1_q)
            for cc in range(nt):
                for c in range(k):
                    Gv[c, touched[cc]] = 0.0
            continue
        # the lazy step: global scalars, then the batch's columns only
        steps[0] += 1
        t = steps[0]
        inv_b = 1.0 / bsz
        if adagrad:
            for cc in range(nt):
                j = touched[cc]
                for c in range(k):
                    grad = Gv[c, j] * inv_b
                    if scaled:
                        grad *= T[j, iv]
                    Gv[c, j] = 0.0
                    gsq[c, j] += grad * grad
                    eta = opt.lr / (ADAGRAD_EPS + np.sqrt(gsq[c, j]))
                    T[j, c] -= eta * grad
                    if l1 > 0.0:
                        T[j, sy + 1 + c] += eta * l1
                        w = T[j, c]
                        T[j, c] = truncate(w, T[j, sy + 1 + c], T[j, sy + 1 + k + c])
                        T[j, sy + 1 + k + c] += T[j, c] - w
                if l1 > 0.0:
                    T[j, sy] = np.float64(t)
            if opt.fit_intercept:
                for c in range(k):
                    gb = S[c] * inv_b
                    gsq[c, n] += gb * gb
                    B[c] -= opt.lr / (ADAGRAD_EPS + np.sqrt(gsq[c, n])) * gb
        else:
            eta = opt.lr
            if opt.schedule == LR_INVSCALING:
                eta = opt.lr / np.float64(t) ** opt.power_t
            if opt.l2 > 0.0:
                # the shrink factor, floored at 0 (see update.step)
                rho = max(0.0, 1.0 - eta * opt.l2)
                if rho <= 0.0 or abs(s * rho) < MIN_SCALE:
                    # fold s into the weights (what averaging owes first)
                    if averaging:
                        catch_up(T, none, 0, n, k, sy, t_done, U, P, opt, gsq)
                    for j in range(n):
                        if averaging:
                            T[j, sy] = 0.0
                        for c in range(k):
                            T[j, c] *= s * rho
                    P = 0.0
                    s = 1.0
                else:
                    s *= rho
            cst = eta * inv_b / s
            for pos in range(bsz):
                i = rowbuf[pos]
                for c in range(k):
                    cr = cst * R[pos, c]
                    if scaled:
                        for p in range(indptr[i], indptr[i + 1]):
                            j = indices[p]
                            T[j, c] -= cr * (data[p] * T[j, iv])
                    else:
                        for p in range(indptr[i], indptr[i + 1]):
                            T[indices[p], c] -= cr * data[p]
            if opt.fit_intercept:
                for c in range(k):
                    B[c] -= eta * S[c] * inv_b
            # this step's L1 penalty is owed by every column, those of the
            # batch included: truncating once at the next visit with all
            # that is owed equals truncating after every step in between,
            # as no gradient reaches the column meanwhile
            U += eta * l1
        if opt.average_start > 0 and t >= opt.average_start:
            steps[1] += 1
            inv_k = 1.0 / np.float64(steps[1])
            P += s
            for c in range(k):
                avg[c, n] += (B[c] - avg[c, n]) * inv_k
    # pay everything deferred: the state is the eager one again
    if need_sync:
        catch_up(T, none, 0, n, k, sy, np.float64(steps[0]), U, P, opt, gsq)
    for j in range(n):
        for c in range(k):
            if need_sync and l1 > 0.0:
                l1_u[c, j] = T[j, sy + 1 + c]
                l1_q[c, j] = T[j, sy + 1 + k + c]
            elif need_sync and steps[1] > 0:
                avg[c, j] = T[j, sy + 1 + c] / np.float64(steps[1])
            if width > 1 or s != 1.0:
                W[c, j] = T[j, c] * s
    out2[0] = total
    out2[1] = total_bound
