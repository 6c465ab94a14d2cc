"""The time-to-suboptimality harness scores every solver on one objective."""

import numpy as np
import pytest

from fastlr import bench_solvers as bs
from fastlr.bench import make_imbalanced_workload, make_sparse_workload


def test_imbalanced_workload_has_rare_positives_and_mixed_scales():
    X, y = make_imbalanced_workload(20_000, 10, positive_rate=0.01, seed=1)
    assert X.shape == (20_000, 10) and X.flags.c_contiguous
    assert 0.005 < y.mean() < 0.02
    spread = X.std(axis=0)
    assert spread.max() / spread.min() > 10.0


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_every_solver_is_scored_on_the_same_objective(sparse):
    """fastlr's model (raw space) and scikit-learn's (fitted on the
    standardized copy) land on the same F at the optimum, F* is at most
    either, and the suboptimality of a short SGD run is positive."""
    if sparse:
        X, y = make_sparse_workload(2000, 300, 10, seed=3)
        p = bs.Problem("csr", X, y, alpha=1.0 / 2000, standardize=False)
    else:
        rng = np.random.default_rng(3)
        X = rng.normal(size=(2000, 5)) * [1.0, 5.0, 0.2, 1.0, 3.0] + 2.0
        y = (X[:, 0] + rng.logistic(size=2000) > 2.0).astype(np.int64)
        p = bs.Problem("dense", X, y, alpha=1.0 / 2000, standardize=True)
    p.fstar = bs.reference_optimum(p)
    _, f_fastlr = bs.run_and_score(p, "fastlr lbfgs", 500)
    _, f_sklearn = bs.run_and_score(p, "sklearn lbfgs", 500)
    assert p.fstar > 0.0
    assert -1e-9 <= p.subopt(f_fastlr) <= 1e-7
    assert -1e-9 <= p.subopt(f_sklearn) <= 1e-6
    _, f_sgd = bs.run_and_score(p, "fastlr sgd", 1)
    assert p.subopt(f_sgd) > 1e-6


def test_smallest_budget_reaches_the_target():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 8))
    y = (X @ rng.normal(size=8) + rng.logistic(size=3000) > 0).astype(np.int64)
    p = bs.Problem("dense", X, y, alpha=1.0 / 3000, standardize=True)
    p.fstar = bs.reference_optimum(p)
    points = bs.curve(p, "fastlr auto", 1e-8, budget_seconds=30.0)
    budget = bs.smallest_budget(p, "fastlr auto", 1e-6, points)
    assert budget is not None
    assert p.subopt(bs.run_and_score(p, "fastlr auto", budget)[1]) <= 1e-6
    if budget > 1:
        assert p.subopt(bs.run_and_score(p, "fastlr auto", budget - 1)[1]) > 1e-6
