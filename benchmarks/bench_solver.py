"""asv suite for the deterministic solver: the time to reach a relative
suboptimality of 1e-4 and of 1e-8 (benchopt style, ``fastlr.bench_solvers``,
the code of ``fastlr bench --full``'s O rows), for fastlr's ``auto`` and
``lbfgs`` and scikit-learn's ``lbfgs``, on the dense workload (200,000 x 100,
L2 penalty alpha = 1/m on the standardized features; scikit-learn gets the
standardized copy and ``C = 1``).

``setup_cache`` computes ``F*`` (scikit-learn's newton-cholesky at tol
1e-12) and, for each solver and target, the smallest ``max_iter`` whose run
reaches the target; ``time_to_subopt`` then times that run, so asv's
statistics are those of the time to the target.
"""

import numpy as np

from fastlr import bench_solvers as bs

from .common import make_data

ROWS = 200_000
SOLVERS = ["fastlr auto", "fastlr lbfgs", "sklearn lbfgs"]
TARGETS = ["1e-4", "1e-8"]


def problem():
    X, y = make_data(ROWS, "float64")
    return bs.Problem("dense", X, y.astype(np.int64), alpha=1.0 / ROWS,
                      standardize=True)


class TimeToSuboptimality:
    params = (SOLVERS, TARGETS)
    param_names = ["solver", "subopt"]
    timeout = 900

    def setup_cache(self):
        p = problem()
        bs.RUNNERS["fastlr auto"](p, 2)   # compile
        p.fstar = bs.reference_optimum(p)
        budgets = {}
        for name in SOLVERS:
            points = bs.curve(p, name, 1e-8)
            for target in TARGETS:
                budgets[name, target] = bs.smallest_budget(p, name, float(target),
                                                           points)
        return {"fstar": p.fstar, "budgets": budgets}

    def setup(self, cache, solver, subopt):
        if cache["budgets"][solver, subopt] is None:
            raise NotImplementedError(f"{solver} does not reach {subopt}")
        self.p = problem()
        self.p.fstar = cache["fstar"]
        self.budget = cache["budgets"][solver, subopt]
        bs.RUNNERS[solver](self.p, 1)   # compile, warm caches

    def time_to_subopt(self, cache, solver, subopt):
        """One fit with the smallest max_iter that reaches the target."""
        bs.RUNNERS[solver](self.p, self.budget)

    def track_max_iter(self, cache, solver, subopt):
        """That max_iter: passes for fastlr (its SGD epoch included),
        L-BFGS iterations for scikit-learn."""
        return self.budget

    track_max_iter.unit = "iterations"

    def track_subopt_reached(self, cache, solver, subopt):
        """The relative suboptimality that run reaches (at most the target)."""
        return self.p.subopt(bs.run_and_score(self.p, solver, self.budget)[1])

    track_subopt_reached.unit = "(F - F*) / F*"
