"""asv suite for the training options: one epoch per update rule of
``fastlr.verify.UPDATE_RULES`` (the case table the tests and ``fastlr
verify`` use) on 200,000 x 100 float64 (batch 256), so that the cost of each
option over the default update stays visible. Seeded (``random_state``), so
that ``track_final_loss`` is the same from run to run for the same code.

``track_final_loss`` is the full-data log-loss of the model ``train``
returns after 3 epochs (``epoch_loss="full"``, as ``bench_train.FinalLoss``):
with ``average`` that is the averaged model, whose loss is the one an
averaging regression moves. (The default running loss is the SGD iterates':
averaging never changes it.)"""

import fastlr
from fastlr import verify

from .common import SEED, make_workload


class OptionEpoch:
    params = (list(verify.UPDATE_RULES),)
    param_names = ["option"]
    timeout = 120

    def setup(self, option):
        self.X, self.y = make_workload(200_000, 100)
        self.kw = {**verify.OPTIONS[option], "batch_size": 256, "epochs": 1,
                   "random_state": SEED}
        self.kw.setdefault("lr", 0.1)
        fastlr.train(self.X, self.y, **self.kw)  # compile / load the kernels

    def time_epoch(self, option):
        fastlr.train(self.X, self.y, **self.kw)

    def track_final_loss(self, option):
        res = fastlr.train(self.X, self.y, **dict(self.kw, epochs=3, epoch_loss="full"))
        return float(res.losses[-1])

    track_final_loss.unit = "log-loss"
