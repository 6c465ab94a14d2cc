"""``early_stopping`` without a copy of X: a :class:`fastlr._dispatch.RowSubset`
trains and gives statistics and losses bit for bit as the copy of its rows
would, the stratified split is scikit-learn's, and a fit no longer holds a
second copy of X."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import StratifiedShuffleSplit

import fastlr
from fastlr import _dispatch
from fastlr._dispatch import Data, RowSubset, as_data
from fastlr._order import make_rng
from fastlr._sgd import sgd
from fastlr._state import ModelState
from fastlr.estimator import class_holdout_counts, stratified_holdout


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 256 rows and sub-blocks of 16 rows, so that test-sized X
    crosses many of both (as tests/test_stats_pass.py)."""
    monkeypatch.setattr(_dispatch, "BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(_dispatch, "STATS_SUB_BYTES", 16 * 8 * 8)
    monkeypatch.setattr(_dispatch, "STATS_SUB_ROWS", 1)


def _X(kind, dtype, m=3000, n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)) * rng.uniform(0.5, 4.0, n) + rng.uniform(-3, 3, n)
    X[:, 3] = 2.5                       # constant
    X[m // 2:, 4] *= 1e5                # the divisor grows in later blocks
    X[:, 5] = np.where(rng.random(m) < 0.3, X[:, 5], 0.0)
    if kind == "csr":
        X = sp.csr_matrix(X * (rng.random((m, n)) < 0.4))
    return X.astype(dtype)


def _rows(m, seed=1):
    rng = np.random.default_rng(seed)
    return np.flatnonzero(rng.random(m) < 0.85)


def _same(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), strict=True)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("standardize", [True, "scale"])
def test_statistics_and_losses_are_the_copys(kind, weighted, standardize, small_blocks):
    X = _X(kind, np.float64)
    rows = _rows(X.shape[0])
    sw = (np.random.default_rng(2).uniform(0, 2, rows.shape[0]) if weighted
          else np.empty(0))
    sub = RowSubset(as_data(X, with_stats=True), rows)
    copy = Data(X[rows])
    assert (sub.m, sub.size, sub.block_rows) == (copy.m, copy.size, copy.block_rows)
    a = sub.standardization(standardize, sw=sw if weighted else None, moments=True)
    b = copy.standardization(standardize, sw=sw if weighted else None, moments=True)
    for u, v in zip(a[:2], b[:2], strict=True):
        _same(u, v)
    for u, v in zip(a[2], b[2], strict=True):
        _same(u, v)
    y = (np.arange(rows.shape[0]) % 3 == 0).astype(np.int64)
    rng = np.random.default_rng(3)
    W, B = rng.normal(size=(1, X.shape[1])), rng.normal(size=1)
    assert sub.loss_sum(y, sw, W, B, False) == copy.loss_sum(y, sw, W, B, False)
    W3, B3 = rng.normal(size=(3, X.shape[1])), rng.normal(size=3)
    y3 = np.arange(rows.shape[0]) % 3
    assert sub.loss_sum(y3, sw, W3, B3, True) == copy.loss_sum(y3, sw, W3, B3, True)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("shuffle", [True, False, "rows"])
@pytest.mark.parametrize("weighted", [False, True])
def test_epochs_are_the_copys(kind, dtype, k, shuffle, weighted):
    X = _X(kind, dtype)
    rows = _rows(X.shape[0])
    rng = np.random.default_rng(4)
    y = rng.integers(0, k, rows.shape[0]).astype(np.int64)
    sw = rng.uniform(0, 2, rows.shape[0]) if weighted else np.empty(0)
    out = []
    for data in (RowSubset(as_data(X), rows), Data(X[rows])):
        mean, scale = (a[0] for a in data.standardization("scale", sw=sw))
        state = ModelState(mean, scale, k if k > 2 else 1, softmax=k > 2)
        losses, _ = sgd(data, y, sw, state, batch_size=100, epochs=3, lr=0.05,
                        shuffle=shuffle, rng=make_rng(7), penalty="l2", alpha=1e-3,
                        epoch_loss="running", tol=None, n_iter_no_change=5,
                        average_start=0)
        out.append((state.W.copy(), state.B.copy(), losses))
    for u, v in zip(*out, strict=True):
        _same(u, v)


def test_row_passes_it_does_not_offer_raise():
    sub = RowSubset(as_data(_X("dense", np.float64)), _rows(3000))
    with pytest.raises(NotImplementedError):
        sub.decision(np.zeros((1, 12)), np.zeros(1))


@pytest.mark.parametrize("counts", [[500, 500], [900, 80, 20], [3, 7, 2, 300],
                                    [50, 50, 50]])
@pytest.mark.parametrize("n_val", [3, 17, 100])
@pytest.mark.parametrize("seed", [0, 11, 2**31 - 2])
def test_split_is_stratified_shuffle_splits(counts, n_val, seed):
    codes = np.random.default_rng(seed).permutation(
        np.repeat(np.arange(len(counts)), counts)).astype(np.int64)
    if n_val < len(counts):
        return
    split = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    train, val = next(split.split(np.zeros((codes.shape[0], 1)), codes))
    a, b = stratified_holdout(codes, n_val, seed)
    k = len(counts)
    if (np.bincount(codes[val], minlength=k).all()
            and np.bincount(codes[train], minlength=k).all()):
        _same(a, np.sort(train))
        _same(b, np.sort(val))
    else:
        # scikit-learn's rounding left a class out of one side (20 rows of
        # 1,000, 17 held out): every class on both sides, in the counts the
        # Dask fit holds out
        held = np.bincount(codes[b], minlength=k)
        np.testing.assert_array_equal(held, class_holdout_counts(counts, n_val))
        assert np.bincount(codes[a], minlength=k).all()
        _same(np.sort(np.concatenate([a, b])), np.arange(codes.shape[0]))


def test_split_refusals_are_scikit_learns():
    codes = np.array([0, 0, 0, 1, 1, 1, 2], dtype=np.int64)   # class 2 has one row
    with pytest.raises(ValueError, match="least populated class"):
        stratified_holdout(codes, 3, 0)
    # the estimator names the class of one row by its label, in its own words
    y = np.array([0] * 5 + [1])
    with pytest.raises(ValueError, match="validation_fraction=0.1 of each class's "
                       "rows .* the class 1 has a single row"):
        fastlr.LogisticRegression(early_stopping=True, max_iter=2).fit(
            np.zeros((6, 2)), y)
    # scikit-learn's other refusals, in the estimator's words around them
    y = np.arange(20) % 3
    with pytest.raises(ValueError, match="validation_fraction=0.9 leaves too few "
                       "rows to hold out every class or to train on"):
        fastlr.LogisticRegression(early_stopping=True, validation_fraction=0.9,
                                  max_iter=2).fit(np.zeros((20, 2)), y)


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_fit_holds_no_second_copy_of_X(kind, monkeypatch):
    # blocks of 4096 elements: the gathered blocks stay small beside X here
    monkeypatch.setattr(_dispatch, "BLOCK_ELEMENTS", 1 << 12)
    rng = np.random.default_rng(0)
    m, n = 40_000, 40
    if kind == "dense":
        X = rng.normal(size=(m, n))
        nbytes = X.nbytes
    else:
        X = sp.random(m, 400, density=0.1, format="csr", random_state=1)
        nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    y = (rng.random(m) < 0.4).astype(int)
    clf = fastlr.LogisticRegression(early_stopping=True, max_iter=2, tol=None,
                                    random_state=0)
    clf.fit(X, y)     # compiled and warm
    tracemalloc.start()
    try:
        clf.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the held-out tenth is copied (it is scored every epoch), the rest not:
    # the copy of the training rows alone was 0.9 of X
    assert peak < 0.5 * nbytes, (peak, nbytes)


def test_every_class_is_held_out_and_trained_on():
    """scikit-learn's split of classes of 3 and 97 rows, 10 held out, holds
    out none of the first (its rounding gives the training rows first); the
    held-out loss then ignored that class, although early_stopping promises
    one row of each class. Now 1 and 9, the Dask fit's counts."""
    codes = np.repeat([0, 1], [3, 97]).astype(np.int64)
    for seed in range(5):
        train, val = stratified_holdout(codes, 10, seed)
        assert np.bincount(codes[val]).tolist() == [1, 9]
        assert np.bincount(codes[train]).tolist() == [2, 88]
