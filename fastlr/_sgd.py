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
from ._driver import AdaptiveRate, run_epochs
from ._kernels.update import LR_ADAGRAD, LR_CONSTANT, LR_INVSCALING, options, penalties
from ._order import EpochOrder, block_rows
from ._state import ModelStack

# "adaptive" is the constant step within an epoch; the driver lowers lr
SCHEDULE_CODES = {"constant": LR_CONSTANT, "adaptive": LR_CONSTANT,
                  "invscaling": LR_INVSCALING, "adagrad": LR_ADAGRAD}


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
    # losses are weighted means: sum(sw * loss) / sum(sw) over the rows
    # trained on
    train = slice(None) if row_fold is None else row_fold == 0
    denom = float(sw[train].sum()) if sw.shape[0] else float(
        data.m if row_fold is None else np.count_nonzero(train))
    average_start = int(average_start)
    if average_start == 0:
        state.steps[1] = 0  # averaging off: the iterate is the model
    # the full-data loss covers the rows trained on: the others weigh 0
    sw_train = sw if row_fold is None else np.where(
        train, sw if sw.shape[0] else 1.0, 0.0)
    stack = ModelStack.of(state, penalties(penalty, alpha, l1_ratio), row_fold,
                          fold=0 if row_fold is None else 1)
    run = data.epoch_runner(y, sw, stack, batch_size, n_threads)
    track = epoch_loss == "running"
    rate = AdaptiveRate(lr)

    def run_one(blocks, block):
        opt = options(loss_code(state.softmax), SCHEDULE_CODES[learning_rate],
                      rate.lr, power_t, average_start, fit_intercept, track)
        loss, bound = run(blocks, block, opt)[0, :2]
        bound /= denom
        if track:
            return loss / denom, bound
        if epoch_loss == "full":
            W, B = state.raw()
            return data.loss_sum(y, sw_train, W, B, state.softmax,
                                 n_threads) / denom, bound
        return math.nan, bound

    order = EpochOrder(data.m, shuffle, rng, block_rows(data.row_bytes(), batch_size))
    return run_epochs(run_one, state.finite, order, epochs=epochs, lr=lr, tol=tol,
                      n_iter_no_change=n_iter_no_change,
                      track=epoch_loss is not None, callback=callback,
                      first_epoch=first_epoch, monitor=monitor,
                      on_stall=rate.on_stall if learning_rate == "adaptive" else None,
                      n_classes=state.k if state.softmax else 2)
