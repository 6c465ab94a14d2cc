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

Layout: the epoch copies the stack of K models into a table ``T`` of one
row per column: the column's K * k weights (model ``mm``'s class ``c`` at
``mm * k + c``), each model's ``1 / scale`` (when scaled), and the
deferred-update records ``sync[K], a[K * k], q[K * k]`` (when an option
defers per column). Visiting a column then costs one cache miss or two, not one per
array: on 1M columns nearly every visit misses the caches. The weights are
read at random columns, which no hardware prefetcher predicts, so the
kernel asks for the next row's records before working on the current row
(on 200k x 1M, 20 entries a row, the L2 epoch became 1.6-1.7x faster).
"""

import numpy as np

from .dense import rows_at
from .intrinsics import prefetch
from .jit import jit
from .scalar import exp_neg_abs, log1p_unit, residuals, softmax_loss, softmax_row
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


@jit(exact=True)
def epoch(data, indices, indptr, y, sw, blocks, block, batch_size, opt, models,
          state, acc, unit):
    """One epoch of mini-batch SGD of a stack of K models on CSR rows (one
    thread), O(nnz * K + n * K).

    The arguments, update rules and outputs of
    :func:`fastlr._kernels.dense.epoch` (``acc`` (K, 5) in place of the team),
    on ``x / scale`` (no centering: ``models``' means are ignored). Each batch
    takes two passes over its rows' entries: logits, residuals and losses
    at the batch's starting weights, then the gradient step applied row by
    row to the columns present (on 1M columns, the fewer arrays indexed per
    entry, the fewer cache misses). AdaGrad, whose per-column step depends
    on the whole batch gradient, and the eager fallback accumulate the
    gradient first. ``unit`` is (1,) for one binary model, () otherwise: its
    length is a compile-time constant, so the ordinary binary fit compiles
    with K = k = 1 fixed (its model and class loops vanish) and every other
    stack shares one more specialization.
    """
    m = indptr.shape[0] - 1
    mean, scale, hyper, fold, row_fold, active = models
    W, B, steps, gsq, avg, l1_u, l1_q = state
    n = W.shape[2]
    K = 1 if len(unit) == 1 else W.shape[0]
    k = 1 if len(unit) == 1 else W.shape[1]
    R_ = K * k
    weighted = sw.shape[0] > 0
    folds = row_fold.shape[0] > 0
    softmax = opt.loss == LOSS_SOFTMAX
    lazy = lazy_supported(opt, hyper)
    adagrad = opt.schedule == LR_ADAGRAD
    any_l1 = False
    for mm in range(K):
        any_l1 = any_l1 or hyper[mm, 1] > 0.0
    averaging = lazy and opt.average_start > 0
    need_sync = lazy and (any_l1 or averaging)
    use_g = (not lazy) or adagrad
    scaled = False
    for mm in range(K):
        for j in range(n):
            if scale[mm, j] != 1.0:
                scaled = True
                break
    # the table: weights, [1 / scale per model], [sync, a, q per model]
    iv = R_
    sy = R_ + K if scaled else R_
    width = sy + K + 2 * R_ if need_sync else sy
    # one binary model and nothing beside it: work on W itself
    table = np.empty((n if width > 1 else 0, width))
    T = W[0].T if width == 1 else table
    for j in range(n if width > 1 else 0):
        for mm in range(K):
            for c in range(k):
                T[j, mm * k + c] = W[mm, c, j]
            if scaled:
                T[j, iv + mm] = 1.0 / scale[mm, j]
            if need_sync:
                T[j, sy + mm] = np.float64(steps[mm, 0]) if (
                    hyper[mm, 1] > 0.0 and adagrad) else 0.0
                for c in range(k):
                    if any_l1:
                        T[j, sy + K + mm * k + c] = l1_u[mm, c, j]
                        T[j, sy + K + R_ + mm * k + c] = l1_q[mm, c, j]
                    else:  # averaging: mean -> sum of iterates
                        T[j, sy + K + mm * k + c] = avg[mm, c, j] * steps[mm, 1]
                        T[j, sy + K + R_ + mm * k + c] = 0.0
    Tf = W[0, 0] if width == 1 else table.reshape(n * width)
    GT = np.zeros((n if use_g else 0, R_))
    touched = np.empty(n if use_g else 0, dtype=np.int64)
    mark = np.full(n if use_g else 0, -1, dtype=np.int64)
    nb_max = min(batch_size, m)
    rowbuf = np.empty(nb_max + 1, dtype=np.int64)
    R = np.zeros((nb_max, R_))
    dot = np.empty(R_)
    cst = np.zeros(K)
    # the binary models' per-row scratch (see the residuals below)
    F = np.empty((9, K))
    zk, yk, wk, hk, ek, tk = F[0], F[1], F[2], F[3], F[4], F[5]
    rk, lk, bk = F[6], F[7], F[8]
    none = indices[:0]
    z = np.empty(k)
    S = np.empty((K, k))
    cnt = np.empty(K)
    s = np.ones(K)       # L2 scales: model mm's weights are s[mm] * T[:, its columns]
    U = np.zeros(K)      # L1 penalty per weight so far (constant or inverse scaling)
    P = np.zeros(K)      # sums of s over averaged steps
    nbatch = 0
    for start in range(0, m, batch_size):
        bsz = min(batch_size, m - start)
        # the batch's rows, and the next batch's first (for reading ahead)
        rows_at(blocks, block, start, min(bsz + 1, m - start), rowbuf)
        nt = 0
        for mm in range(K):
            cnt[mm] = 0.0
            for c in range(k):
                S[mm, c] = 0.0
        for pos in range(bsz):
            i = rowbuf[pos]
            if start + pos + 1 < m:
                inext = rowbuf[pos + 1]
                for p in range(indptr[inext], indptr[inext + 1]):
                    for off in range(0, width, 8):   # every line of the record
                        prefetch(Tf, indices[p] * width + off)
                    if use_g:
                        prefetch(mark, indices[p])
            lo = indptr[i]
            hi = indptr[i + 1]
            if need_sync:
                catch_up(T, indices, lo, hi, K, k, sy, steps, U, P, opt, hyper, gsq)
            if use_g:
                for p in range(lo, hi):
                    j = indices[p]
                    if mark[j] != nbatch:
                        mark[j] = nbatch
                        touched[nt] = j
                        nt += 1
            wt = sw[i] if weighted else 1.0
            # every model's logits: a column's K * k weights are side by
            # side, so four of them are read together and summed in four
            # registers; each still adds its entries in row order, as a model
            # trained alone does
            col = 0
            while col < R_:
                if col + 4 <= R_:
                    a0 = a1 = a2 = a3 = 0.0
                    if scaled:
                        m0, m1 = iv + col // k, iv + (col + 1) // k
                        m2, m3 = iv + (col + 2) // k, iv + (col + 3) // k
                        for p in range(lo, hi):
                            j = indices[p]
                            x = data[p]
                            a0 += x * (T[j, col] * T[j, m0])
                            a1 += x * (T[j, col + 1] * T[j, m1])
                            a2 += x * (T[j, col + 2] * T[j, m2])
                            a3 += x * (T[j, col + 3] * T[j, m3])
                    else:
                        for p in range(lo, hi):
                            j = indices[p]
                            x = data[p]
                            a0 += x * T[j, col]
                            a1 += x * T[j, col + 1]
                            a2 += x * T[j, col + 2]
                            a3 += x * T[j, col + 3]
                    dot[col] = a0
                    dot[col + 1] = a1
                    dot[col + 2] = a2
                    dot[col + 3] = a3
                    col += 4
                    continue
                a = 0.0
                if scaled:
                    mi = iv + col // k
                    for p in range(lo, hi):
                        j = indices[p]
                        a += data[p] * (T[j, col] * T[j, mi])
                else:
                    for p in range(lo, hi):
                        a += data[p] * T[indices[p], col]
                dot[col] = a
                col += 1
            if not softmax:
                # the binary models' residuals and losses, all at once with
                # the vectorized exp of the dense epoch (the same arithmetic
                # for one model or many)
                yi = np.float64(y[i])
                held_any = False
                for mm in range(K):
                    zk[mm] = s[mm] * dot[mm] + B[mm, 0]
                    yk[mm] = yi
                    held = folds and row_fold[i] == fold[mm]
                    wk[mm] = wt if active[mm] and not held else 0.0
                    hk[mm] = 1.0 if active[mm] and held else 0.0
                    held_any = held_any or hk[mm] > 0.0
                exp_neg_abs(zk, K, ek, tk)
                if held_any:
                    for mm in range(K):
                        if hk[mm] > 0.0:
                            t = zk[mm] if yi == 0.0 else -zk[mm]
                            acc[mm, 2] += wt * (log1p_unit(ek[mm]) + max(t, 0.0))
                            acc[mm, 3] += wt
                residuals(zk, yk, wk, K, True, opt.track_loss, ek, rk, lk, bk)
                for mm in range(K):
                    R[pos, mm] = rk[mm]
                    if hk[mm] > 0.0 or not active[mm]:
                        continue
                    acc[mm, 0] += lk[mm]
                    acc[mm, 1] += bk[mm]
                    acc[mm, 4] += 1.0
                    cnt[mm] += 1.0
                    S[mm, 0] += rk[mm]
                    if use_g:
                        rc = rk[mm]
                        for p in range(lo, hi):
                            GT[indices[p], mm] += rc * data[p]
                continue
            for mm in range(K):
                if not active[mm]:
                    continue
                for c in range(k):
                    z[c] = s[mm] * dot[mm * k + c] + B[mm, c]
                if folds and row_fold[i] == fold[mm]:   # held out: scored only
                    acc[mm, 2] += wt * softmax_loss(z, k, y[i])
                    acc[mm, 3] += wt
                    for c in range(k):
                        R[pos, mm * k + c] = 0.0
                    continue
                loss, bound = softmax_row(z, k, y[i], wt, opt.track_loss)
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
        nbatch += 1
        if not lazy:
            for mm in range(K):
                if active[mm] and cnt[mm] > 0.0:
                    cols = slice(mm * k, mm * k + k)
                    step(T[:, cols].T, B[mm], GT[:, cols].T, S[mm], scale[mm],
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
                            grad *= T[j, iv + mm]
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
                eta = lr
                if opt.schedule == LR_INVSCALING:
                    eta = lr / np.float64(t) ** opt.power_t
                if hyper[mm, 0] > 0.0:
                    # the shrink factor, floored at 0 (see update.step)
                    rho = max(0.0, 1.0 - eta * hyper[mm, 0])
                    if rho <= 0.0 or abs(s[mm] * rho) < MIN_SCALE:
                        # fold s into the weights (what averaging owes first)
                        if averaging:
                            catch_up(T, none, 0, n, K, k, sy, steps, U, P, opt,
                                     hyper, gsq)
                        for j in range(n):
                            if averaging:
                                T[j, sy + mm] = 0.0
                            for c in range(k):
                                T[j, mm * k + c] *= s[mm] * rho
                        P[mm] = 0.0
                        s[mm] = 1.0
                    else:
                        s[mm] *= rho
                cst[mm] = eta * inv_b / s[mm]
                if opt.fit_intercept:
                    for c in range(k):
                        B[mm, c] -= eta * S[mm, c] * inv_b
                # this step's L1 penalty is owed by every column, those of the
                # batch included: truncating once at the next visit with all
                # that is owed equals truncating after every step in between,
                # as no gradient reaches the column meanwhile
                U[mm] += eta * l1
            if opt.average_start > 0 and t >= opt.average_start:
                steps[mm, 1] += 1
                inv_k = 1.0 / np.float64(steps[mm, 1])
                P[mm] += s[mm]
                for c in range(k):
                    avg[mm, c, n] += (B[mm, c] - avg[mm, c, n]) * inv_k
        if not adagrad:
            # the gradient step, row by row, every model at once (a model
            # that does not step this batch has cst 0: it is left unchanged)
            for pos in range(bsz):
                i = rowbuf[pos]
                lo = indptr[i]
                hi = indptr[i + 1]
                col = 0
                while col < R_:
                    if col + 4 <= R_:
                        c0 = cst[col // k] * R[pos, col]
                        c1 = cst[(col + 1) // k] * R[pos, col + 1]
                        c2 = cst[(col + 2) // k] * R[pos, col + 2]
                        c3 = cst[(col + 3) // k] * R[pos, col + 3]
                        if scaled:
                            m0, m1 = iv + col // k, iv + (col + 1) // k
                            m2, m3 = iv + (col + 2) // k, iv + (col + 3) // k
                            for p in range(lo, hi):
                                j = indices[p]
                                x = data[p]
                                T[j, col] -= c0 * (x * T[j, m0])
                                T[j, col + 1] -= c1 * (x * T[j, m1])
                                T[j, col + 2] -= c2 * (x * T[j, m2])
                                T[j, col + 3] -= c3 * (x * T[j, m3])
                        else:
                            for p in range(lo, hi):
                                j = indices[p]
                                x = data[p]
                                T[j, col] -= c0 * x
                                T[j, col + 1] -= c1 * x
                                T[j, col + 2] -= c2 * x
                                T[j, col + 3] -= c3 * x
                        col += 4
                        continue
                    cr = cst[col // k] * R[pos, col]
                    if cr != 0.0:
                        if scaled:
                            mi = iv + col // k
                            for p in range(lo, hi):
                                j = indices[p]
                                T[j, col] -= cr * (data[p] * T[j, mi])
                        else:
                            for p in range(lo, hi):
                                T[indices[p], col] -= cr * data[p]
                    col += 1

    # pay everything deferred: the state is the eager one again
    if need_sync:
        catch_up(T, none, 0, n, K, k, sy, steps, U, P, opt, hyper, gsq)
    for j in range(n):   # the table row by row: one pass over it
        for mm in range(K):
            for c in range(k):
                col = mm * k + c
                if need_sync and any_l1:
                    l1_u[mm, c, j] = T[j, sy + K + col]
                    l1_q[mm, c, j] = T[j, sy + K + R_ + col]
                elif need_sync and steps[mm, 1] > 0:
                    avg[mm, c, j] = T[j, sy + K + col] / np.float64(steps[mm, 1])
                if width > 1 or s[mm] != 1.0:
                    W[mm, c, j] = T[j, col] * s[mm]
