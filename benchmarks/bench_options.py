"""asv suite for the training options: one epoch per penalty and schedule
on 200,000 x 100 float64 (batch 256), so that the cost of each option over
the default update stays visible."""

import fastlr

from .common import make_workload


class PenalizedEpoch:
    params = (["none", "l2", "l1", "elasticnet"],
              ["constant", "invscaling", "adagrad"], [False, True])
    param_names = ["penalty", "learning_rate", "average"]
    timeout = 120

    def setup(self, penalty, learning_rate, average):
        self.X, self.y = make_workload(200_000, 100)
        self.kw = dict(batch_size=256, epochs=1, lr=0.1, alpha=1e-4,
                       penalty=None if penalty == "none" else penalty,
                       learning_rate=learning_rate, average=average)
        fastlr.train(self.X, self.y, **self.kw)  # compile / load the kernels

    def time_epoch(self, penalty, learning_rate, average):
        fastlr.train(self.X, self.y, **self.kw)

    def track_final_loss(self, penalty, learning_rate, average):
        return float(fastlr.train(self.X, self.y, **dict(self.kw, epochs=3)).losses[-1])

    track_final_loss.unit = "log-loss"
