"""The SGD training loop on the kernel side: epochs of
:meth:`fastlr._dispatch.Data.epoch_runner`, driven by
:func:`fastlr._driver.run_epochs` (the same stopping rules as the reference).

Shared by :func:`fastlr.train`, :func:`fastlr.train_multinomial`, the
estimator and :mod:`fastlr.distributed`; every model (binary or softmax) and
every storage of X goes through :func:`sgd`.
"""

import math

from ._dispatch import loss_code
from ._driver import AdaptiveRate, batch_rows, run_epochs
from ._kernels.update import LR_ADAGRAD, LR_CONSTANT, LR_INVSCALING, options
from ._order import EpochOrder, block_rows

# "adaptive" is the constant step within an epoch; the driver lowers lr
SCHEDULE_CODES = {"constant": LR_CONSTANT, "adaptive": LR_CONSTANT,
                  "invscaling": LR_INVSCALING, "adagrad": LR_ADAGRAD}


def sgd(data, y, sw, state, *, batch_size, epochs, lr, shuffle, rng, penalty,
        alpha, epoch_loss, tol, n_iter_no_change, n_threads=None, callback=None,
        first_epoch=0, learning_rate="constant", power_t=0.5, l1_ratio=0.15,
        average_start=0, monitor=None, fit_intercept=True):
    """Run SGD epochs on validated data, updating ``state`` in place.

    Parameters are those of :func:`fastlr.train` (validated), plus:
    ``data`` a :class:`fastlr._dispatch.Data`; ``y`` int64 class codes
    (0/1 for the binary model); ``sw`` float64 sample weights, empty for
    none; ``state`` a :class:`fastlr._state.ModelState`; ``average_start``
    from :func:`fastlr._driver.check_sgd_options`; ``monitor`` as in
    :func:`fastlr._driver.run_epochs`.

    Returns
    -------
    (losses, converged)
    """
    # a batch larger than the data is one full batch (batch_rows)
    batch_size = batch_rows(batch_size, data.m)
    # losses are weighted means: sum(sw * loss) / sum(sw)
    denom = float(sw.sum()) if sw.shape[0] else float(data.m)
    average_start = int(average_start)
    if average_start == 0:
        state.steps[1] = 0  # averaging off: the iterate is the model
    run = data.epoch_runner(y, sw, state, batch_size, n_threads)
    track = epoch_loss == "running"
    rate = AdaptiveRate(lr)

    def run_one(blocks, block):
        opt = options(loss_code(state.softmax), SCHEDULE_CODES[learning_rate],
                      rate.lr, power_t, penalty, alpha, l1_ratio, average_start,
                      fit_intercept, track)
        loss, bound = run(blocks, block, opt)
        bound /= denom
        if track:
            return loss / denom, bound
        if epoch_loss == "full":
            W, B = state.raw()
            return data.loss_sum(y, sw, W, B, state.softmax, n_threads) / denom, bound
        return math.nan, bound

    order = EpochOrder(data.m, shuffle, rng, block_rows(data.row_bytes(), batch_size))
    return run_epochs(run_one, state.finite, order, epochs=epochs, lr=lr, tol=tol,
                      n_iter_no_change=n_iter_no_change,
                      track=epoch_loss is not None, callback=callback,
                      first_epoch=first_epoch, monitor=monitor,
                      on_stall=rate.on_stall if learning_rate == "adaptive" else None,
                      n_classes=state.k if state.softmax else 2)
