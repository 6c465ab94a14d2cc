"""The SGD training loop on the kernel side: epochs of
:meth:`fastlr._dispatch.Data.epoch_runner`, driven by
:func:`fastlr._driver.run_epochs` (the same stopping rules as the reference).

Shared by :func:`fastlr.train`, :func:`fastlr.train_multinomial`, the
estimator and :mod:`fastlr.distributed`; every model (binary or softmax) and
every storage of X goes through :func:`sgd`.
"""

import math

import numpy as np

from ._dispatch import loss_code
from ._driver import (
    AdaptiveRate,
    DivergedError,
    Stopper,
    batch_rows,
    diverged,
    is_auto_alpha,
    many_diverged_message,
    run_epochs,
    standardization,
    weight_mean,
)
from ._kernels.update import hyperparameters, options, schedule_code
from ._order import EpochOrder, block_rows
from ._state import ModelStack


def written_arrays(penalty, alpha, l1_ratio, learning_rate, average_start):
    """The optimizer arrays of :attr:`fastlr._state.ModelState.IDLE` that
    :func:`sgd` with these options may write (the kernels write AdaGrad's
    sums only under ``"adagrad"``, the average only when averaging, the L1
    records only under an L1 strength above 0; see
    :func:`fastlr._kernels.update.step`): the others a copy to train may
    share when they are zeros (:meth:`fastlr._state.ModelState.idle`)."""
    # ("auto", whatever the rows, is a positive strength)
    l1 = hyperparameters(penalty, 1.0 if is_auto_alpha(alpha) else alpha, l1_ratio,
                         1.0)[1]
    return frozenset((("gsq",) if learning_rate == "adagrad" else ())
                     + (("avg",) if int(average_start) > 0 else ())
                     + (("l1_u", "l1_q") if l1 > 0.0 else ()))


def sgd(data, y, sw, state, *, batch_size, epochs, lr, shuffle, rng, penalty,
        alpha, epoch_loss, tol, n_iter_no_change, n_threads=None, callback=None,
        first_epoch=0, learning_rate="constant", power_t=0.5, l1_ratio=0.15,
        average_start=0, monitor=None, fit_intercept=True, row_fold=None):
    """Run SGD epochs on validated data, updating ``state`` in place.

    Parameters are those of :func:`fastlr.train` (validated), plus:
    ``data`` a :class:`fastlr._dispatch.Data`; ``y`` int64 class codes
    (0/1 for the binary model); ``sw`` float64 sample weights, empty for
    none; ``state`` a :class:`fastlr._state.ModelState`; ``average_start``
    from :func:`fastlr._driver.check_sgd_options`; ``monitor`` as in
    :func:`fastlr._driver.run_epochs`; ``row_fold`` (m,) int8 with 1 for the
    rows not to train on (``train``'s ``rows``), or None.

    Returns
    -------
    (losses, converged)
    """
    # a batch larger than the data is one full batch (batch_rows)
    batch_size = batch_rows(batch_size, data.m)
    # losses are weighted means: sum(sw * loss) / sum(sw) over the rows
    # trained on
    train = slice(None) if row_fold is None else row_fold == 0
    denom = float(sw[train].sum()) if sw.shape[0] else float(
        data.m if row_fold is None else np.count_nonzero(train))
    # rows that all weigh 0 (a part of a file read in parts, by class
    # weights) have no mean loss: 0, which their total weight of 0 then
    # leaves out of the epoch's (fastlr._stream.fit); their batches still
    # step, as within a whole read
    denom = denom if denom > 0.0 else math.inf
    average_start = int(average_start)
    if average_start == 0:
        state.stop_averaging()
    # the full-data loss covers the rows trained on: the others weigh 0
    sw_train = sw if row_fold is None else np.where(
        train, sw if sw.shape[0] else 1.0, 0.0)
    stack = ModelStack.of(state, hyperparameters(penalty, alpha, l1_ratio, lr),
                          row_fold, fold=0 if row_fold is None else 1)
    run = data.epoch_runner(y, sw, stack, batch_size, n_threads)
    track = epoch_loss == "running"
    rate = AdaptiveRate(lr)
    finite = [True]   # what the last epoch said of the weights

    def run_one(blocks, block):
        stack.hyper[0, 2] = rate.lr
        opt = options(loss_code(state.softmax), schedule_code(learning_rate),
                      power_t, average_start, fit_intercept, track)
        loss, bound, finite[0] = run(blocks, block, opt)[0, [0, 1, 5]]
        bound /= denom
        if track:
            return loss / denom, bound
        if epoch_loss == "full":
            W, B = state.raw()
            return data.loss_sum(y, sw_train, W, B, state.softmax,
                                 n_threads) / denom, bound
        return math.nan, bound

    start_loss = None
    warm = state.warm_point()
    if warm is not None:
        # its own loss on these rows is the yardstick of divergence
        # (run_epochs), one pass, taken only if an epoch's loss is past the
        # absolute bound
        def start_loss():
            w0, b0 = warm()
            return data.loss_sum(y, sw_train, w0, b0, state.softmax, n_threads) / denom

    order = EpochOrder(data.m, shuffle, rng, block_rows(data.row_bytes(), batch_size))
    return run_epochs(run_one, lambda: finite[0] > 0.0, order, epochs=epochs, lr=lr,
                      learning_rate=learning_rate, tol=tol,
                      n_iter_no_change=n_iter_no_change,
                      track=epoch_loss is not None, callback=callback,
                      first_epoch=first_epoch, monitor=monitor,
                      on_stall=rate.on_stall if learning_rate == "adaptive" else None,
                      weighted=(lambda: weight_mean(sw_train)) if sw.shape[0]
                      else None,
                      standardized=lambda: standardization(state.mean, state.scale),
                      n_classes=state.k if state.softmax else 2,
                      start_loss=start_loss)


def _training_weights(row_fold, fold, sw, m):
    """(K,) the total weight of each model's training rows (those whose
    ``row_fold`` is not its ``fold``; every row without folds): its losses
    are weighted means over them. Summed once per fold, not per model, and
    without an array of m ones (it cost 8 bytes a row, and its masked copy
    per model 6 more, against train_many's bound of 5% of X); weights
    summed as :func:`sgd` sums them for one model."""
    folds = row_fold.shape[0] > 0
    total = {}
    for f in fold.tolist():
        if f in total:
            continue
        if not sw.shape[0]:   # a count, exact
            total[f] = float(m - (np.count_nonzero(row_fold == f) if folds else 0))
        else:
            total[f] = float(sw[row_fold != f].sum()) if folds else float(sw.sum())
    return np.array([total[f] for f in fold.tolist()])


def sgd_many(data, y, sw, stack, *, batch_size, epochs, shuffle, rng, epoch_loss,
             tol, n_iter_no_change, n_threads=None, callback=None,
             learning_rate="constant", power_t=0.5, average_start=0,
             fit_intercept=True):
    """Run SGD epochs of every model of ``stack`` (a
    :class:`fastlr._state.ModelStack`) from one read of the data per epoch,
    updating it in place. Each model stops on its own (the rule of
    :class:`fastlr._driver.Stopper`, on its held-out loss when it holds rows
    out, else on its training loss; ``"adaptive"`` lowers each model's rate
    on its own) and stops costing arithmetic; a model that diverges stops
    too, and :class:`fastlr._driver.DivergedError` is raised only if all do.
    A diverged model keeps no record (no epoch, no loss), as :func:`fastlr.train`
    gives none for it alone: it raises.

    Returns
    -------
    dict of arrays: ``losses``, ``heldout`` (K, epochs_run) mean running
    training / held-out losses per epoch (NaN where not computed, once a
    model stopped, or for a diverged model), ``n_iter`` (K,) epochs each
    model trained (0 for a diverged model), ``converged`` (K,) stopped by
    ``tol``, ``diverged`` (K,); ``passes`` the epochs of the joint run (one
    read of the data and one callback call each; the tables' width is the
    last epoch a model trained in).
    """
    K = stack.K
    # a batch larger than the data is one full batch (batch_rows)
    batch_size = batch_rows(batch_size, data.m)
    folds = stack.row_fold.shape[0] > 0
    # each model's losses are weighted means over its training rows
    denom = _training_weights(stack.row_fold, stack.fold, sw, data.m)
    run = data.epoch_runner(y, sw, stack, batch_size, n_threads)
    track = epoch_loss == "running"
    loss_kind = loss_code(stack.softmax)
    schedule = schedule_code(learning_rate)

    def stall(mm):
        def on_stall():
            rate = AdaptiveRate(stack.hyper[mm, 2])
            keep = rate.on_stall()
            stack.hyper[mm, 2] = rate.lr
            return keep
        return on_stall if learning_rate == "adaptive" else None

    stoppers = [Stopper(tol, n_iter_no_change, stall(mm)) for mm in range(K)]
    # per epoch a column of each, grown as the epochs run (``epochs`` may be
    # far more than ``tol`` lets run)
    losses, heldout = [], []
    n_iter = np.zeros(K, dtype=np.int64)
    converged = np.zeros(K, dtype=bool)
    bad = np.zeros(K, dtype=bool)
    order = EpochOrder(data.m, shuffle, rng, block_rows(data.row_bytes(), batch_size))
    e = 0
    for e in range(epochs):
        if not stack.active.any():
            break
        opt = options(loss_kind, schedule, power_t, average_start, fit_intercept,
                      track)
        acc = run(*order.next(), opt)
        finite = acc[:, 5] > 0.0
        losses.append(np.full(K, np.nan))
        heldout.append(np.full(K, np.nan))
        for mm in np.flatnonzero(stack.active):
            loss = acc[mm, 0] / denom[mm] if track else math.nan
            seen = loss if track else acc[mm, 1] / denom[mm]
            if diverged(seen, finite[mm]):
                bad[mm] = True
                stack.active[mm] = 0
                n_iter[mm] = 0
                for column in (*losses, *heldout):
                    column[mm] = math.nan
                continue
            losses[e][mm] = loss
            held = acc[mm, 2] / acc[mm, 3] if acc[mm, 3] > 0 else math.nan
            heldout[e][mm] = held
            n_iter[mm] = e + 1
            if stoppers[mm].stop(held if folds else loss):
                converged[mm] = True
                stack.active[mm] = 0
        if callback is not None:
            callback(e + 1, float(np.nanmean(losses[e]))
                     if np.isfinite(losses[e]).any() else math.nan)
    if bad.all():
        raise DivergedError(many_diverged_message(
            K, learning_rate, standardization(stack.mean, stack.scale)))
    run_to = int(n_iter.max()) if K else 0

    def table(columns):
        return np.array(columns[:run_to], dtype=np.float64).reshape(run_to, K).T.copy()

    return {"losses": table(losses), "heldout": table(heldout),
            "n_iter": n_iter, "converged": converged, "diverged": bad,
            "passes": len(losses)}
