"""Memory of the joint run (train_many, LogisticRegressionCV): the SGD-only
optimizer arrays are made only for the runs that write them, the held-out
losses are summed without the gradient's arrays, and a grid too large for
memory is refused up front by train_many as by LogisticRegressionCV."""

import numpy as np
import pytest
import scipy.sparse as sp

import fastlr
from fastlr import core

WIDE = ("gsq", "avg", "l1_u", "l1_q")


def _stacks(monkeypatch):
    """The stacks _run_many makes, captured."""
    made = []
    real = core.ModelStack

    def capture(*args, **kwargs):
        stack = real(*args, **kwargs)
        made.append(stack)
        return stack

    monkeypatch.setattr(core, "ModelStack", capture)
    return made


@pytest.mark.parametrize("solver, options, kept", [
    ("lbfgs", {}, ()),
    ("auto", {}, ()),
    ("sgd", {}, ()),
    ("sgd", {"learning_rate": "adagrad"}, ("gsq",)),
    ("sgd", {"average": 2}, ("avg",)),
    ("sgd", {"penalty": "l1"}, ("l1_u", "l1_q")),
    ("auto", {"penalty": "elasticnet", "l1_ratios": [0.0, 0.5]}, ("l1_u", "l1_q")),
])
def test_the_stack_makes_only_the_optimizer_arrays_its_run_writes(
        monkeypatch, solver, options, kept):
    """On 1M columns and 30 models each (K, k, n) array is 240 MB: the solver
    path wrote none of AdaGrad's sums, the averages or the L1 records, yet
    all four were made (ModelState's rule, fastlr._sgd.written_arrays, now
    decides for the stack as for one model's copy)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 5))
    y = (X[:, 0] + rng.normal(size=90) > 0).astype(int)
    made = _stacks(monkeypatch)
    res = fastlr.train_many(X, y, alphas=[1e-3, 1e-2], folds=3, epochs=4, solver=solver,
                            random_state=0, **options)
    assert np.isfinite(res.W).all()
    stack = made[-1]
    for name in WIDE:
        full = 6 if name in ("gsq", "avg") else 5
        assert getattr(stack, name).shape[2] == (full if name in kept else 0), name


def test_held_out_sums_without_the_gradient_are_the_same_bits():
    """finish_stack's last pass asks for the held-out losses only
    (gradient=False): the same sums as the pass with the gradient."""
    from fastlr._dispatch import as_data

    rng = np.random.default_rng(1)
    for X in (rng.normal(size=(300, 7)),
              sp.random(300, 50, density=0.1, random_state=2, format="csr")):
        data = as_data(X)
        y = rng.integers(0, 2, 300)
        K, n = 4, X.shape[1]
        row_fold = (np.arange(300) % 2 + 1).astype(np.int8)
        models = (np.zeros((2, n)), np.ones((2, n)), np.array([0, 0, 1, 1]),
                  np.zeros((K, 3)), np.array([1, 1, 2, 2]), row_fold,
                  np.ones(K, dtype=np.uint8))
        W, B = rng.normal(size=(K, 1, n)), rng.normal(size=(K, 1))
        full = data.loss_grad_many(y, np.empty(0), models, W, B, False)
        lean = data.loss_grad_many(y, np.empty(0), models, W, B, False, gradient=False)
        assert lean[1] is None and lean[2] is None
        assert np.array_equal(full[0], lean[0]) and np.array_equal(full[3], lean[3])


def test_train_many_refuses_a_grid_too_large_for_memory_before_any_work(monkeypatch):
    """train_many had no memory check: 30 models of 10M columns went on to
    allocate (under ulimit a bare numpy MemoryError; without one, the
    operating system's kill). It now weighs the grid as LogisticRegressionCV
    does (one rule) and refuses before any stack is made."""
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 1 << 30)

    def no_stack(*args, **kwargs):
        raise AssertionError("a stack was made")

    monkeypatch.setattr(core, "ModelStack", no_stack)
    n = 3_000_000   # X itself passes check_width (80 B a column: 0.2 GiB)
    X = sp.csr_matrix((np.ones(6), (np.arange(6), [0, 1, 2, 3, 4, n - 1])),
                      shape=(6, n))
    y = np.arange(6) % 2
    for solver in ("sgd", "lbfgs"):
        with pytest.raises(MemoryError, match=r"^alphas=10 x 1 l1_ratios x 3 folds: "
                           r"training 30 models of 1 x 3,000,000 weights would need"):
            fastlr.train_many(X, y, alphas=np.logspace(-2, -6, 10), folds=3,
                              epochs=1, solver=solver, standardize=False)
    with pytest.raises(MemoryError, match=r"^alphas=10 x 1 l1_ratios x 3 folds"):
        fastlr.LogisticRegressionCV(alphas=10, cv=3, standardize=False).fit(X, y)


def test_the_grid_memory_check_counts_the_arrays_sgd_writes(monkeypatch):
    """The check weighed every SGD run at 40 bytes a weight; with AdaGrad,
    averaging and an L1 term the stack holds four more (K, k, n) arrays (58
    B a weight measured on 200,000 columns). Memory that holds the plain
    grid then refuses that one, in train_many and LogisticRegressionCV."""
    from fastlr._validation import MODEL_BYTES, MODEL_BYTES_PER_WEIGHT

    n, K = 3_000_000, 30
    plain = K * (MODEL_BYTES + MODEL_BYTES_PER_WEIGHT * n)
    monkeypatch.setattr("fastlr._validation.available_memory",
                        lambda: int(plain * 1.3))

    def no_stack(*args, **kwargs):
        raise RuntimeError("stack")   # (the check passed)

    monkeypatch.setattr(core, "ModelStack", no_stack)
    X = sp.csr_matrix((np.ones(6), (np.arange(6), [0, 1, 2, 3, 4, n - 1])),
                      shape=(6, n))
    y = np.arange(6) % 2
    grid = dict(alphas=np.logspace(-2, -6, 10), folds=3, epochs=1,
                standardize=False, solver="sgd")
    with pytest.raises(RuntimeError, match="stack"):
        fastlr.train_many(X, y, **grid)
    with pytest.raises(MemoryError, match=r"^alphas=10 x 1 l1_ratios x 3 folds"):
        fastlr.train_many(X, y, **grid, penalty="elasticnet",
                          learning_rate="adagrad", average=True)
    with pytest.raises(MemoryError, match=r"^alphas=10 x 1 l1_ratios x 3 folds"):
        fastlr.LogisticRegressionCV(alphas=10, cv=3, standardize=False,
                                    solver="sgd", penalty="elasticnet",
                                    learning_rate="adagrad", average=True).fit(X, y)
