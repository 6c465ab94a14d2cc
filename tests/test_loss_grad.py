"""The full-data loss-and-gradient pass (``Data.loss_grad``): against its
NumPy twin, against finite differences, and the same for any thread count."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastlr import reference
from fastlr._dispatch import as_data
from fastlr._kernels import team


def problem(seed, m, n, k, sparse, dtype, weighted, offset=3.0):
    """X with column means ``offset`` (dense), labels of k classes (two for
    k = 1), optional weights and a random standardized-space model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)) * 2.0 + offset
    if sparse:
        X = sp.csr_matrix(np.where(rng.uniform(size=(m, n)) < 0.3, X, 0.0))
    X = X.astype(dtype)
    y = rng.integers(0, max(k, 2), size=m).astype(np.int64)
    sw = rng.uniform(0.0, 3.0, size=m) if weighted else np.empty(0)
    mean = rng.normal(size=n)
    scale = rng.uniform(0.5, 2.0, size=n)
    W = rng.normal(size=(k, n)) * 0.3
    B = rng.normal(size=k)
    return X, y, sw, mean, scale, W, B


CASES = [(k, sparse, weighted) for k in (1, 3) for sparse in (False, True)
         for weighted in (False, True)]
IDS = [f"k{k}-{'csr' if s else 'dense'}-{'weights' if w else 'no_weights'}"
       for k, s, w in CASES]


@pytest.mark.parametrize("k, sparse, weighted", CASES, ids=IDS)
@pytest.mark.parametrize("m", [1, 63, 1000])
def test_matches_reference(k, sparse, weighted, m, dtype, seed):
    X, y, sw, mean, scale, W, B = problem(seed, m, 7, k, sparse, dtype, weighted)
    got = as_data(X).loss_grad(y, sw, mean, scale, W, B, k > 1)
    want = reference.loss_grad(X, y, sw, mean, scale, W, B, k > 1)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert got[1].shape == (k, 7) and got[2].shape == (k,)


@pytest.mark.parametrize("offset", [0.0, 1e4], ids=["folded", "centred"])
@pytest.mark.parametrize("k", [1, 4])
def test_gradient_matches_finite_differences(k, offset):
    """Central differences of the loss in every coordinate of W and B; the
    centred case has column means far beyond their spread (the mean is then
    subtracted in the loops, not folded)."""
    X, y, sw, mean, scale, W, B = problem(0, 200, 5, k, False, np.float64, True,
                                          offset=offset)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    data = as_data(X)
    _, G, S = data.loss_grad(y, sw, mean, scale, W, B, k > 1)
    h = 1e-6
    for c in range(k):
        for j in range(5):
            Wp, Wm = W.copy(), W.copy()
            Wp[c, j] += h
            Wm[c, j] -= h
            fd = (data.loss_grad(y, sw, mean, scale, Wp, B, k > 1)[0]
                  - data.loss_grad(y, sw, mean, scale, Wm, B, k > 1)[0]) / (2 * h)
            assert fd == pytest.approx(G[c, j], rel=1e-6, abs=1e-6)
        Bp, Bm = B.copy(), B.copy()
        Bp[c] += h
        Bm[c] -= h
        fd = (data.loss_grad(y, sw, mean, scale, W, Bp, k > 1)[0]
              - data.loss_grad(y, sw, mean, scale, W, Bm, k > 1)[0]) / (2 * h)
        assert fd == pytest.approx(S[c], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("k, sparse", [(1, False), (3, False), (1, True), (2, True)])
def test_any_thread_count_gives_identical_bits(k, sparse, monkeypatch):
    """Rows are cut into fixed blocks whose sums are added in block order:
    one thread, two, or more threads than blocks give the same bits."""
    from fastlr import _dispatch

    monkeypatch.setattr(_dispatch, "BLOCK_ELEMENTS", 64)   # many small blocks
    X, y, sw, mean, scale, W, B = problem(1, 3000, 6, k, sparse, np.float64, True)
    data = as_data(X)
    assert -(-data.m // data._loss_grad_rows(k, k > 1)) > 3
    one = data.loss_grad(y, sw, mean, scale, W, B, k > 1, n_threads=1)
    for threads in (2, 8):
        other = data.loss_grad(y, sw, mean, scale, W, B, k > 1, n_threads=threads)
        for a, b in zip(one, other, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("m, n, k", [(5000, 100, 1000), (40_000, 50, 200),
                                     (3000, 20, 40)])
def test_many_classes_cut_rows_by_the_work(m, n, k, map_rows_calls):
    """The pass's work is m n k multiply-adds twice (and m k exps), not X's
    m n: its blocks were sized by X alone, so every L-BFGS pass on 5,000 x
    100 at k = 1000 (1,000M multiply-adds) was one block on one thread.
    Blocks are now sized by the work, fixed by X's shape and k (never by
    the thread count), and summed in block order: several blocks on the
    team, and the same bits on one thread or two."""
    seen = map_rows_calls
    X, y, sw, mean, scale, W, B = problem(5, m, n, k, False, np.float64, False)
    W *= 0.1
    data = as_data(X)
    seen.clear()   # (the finiteness check's pass)
    two = data.loss_grad(y, sw, mean, scale, W, B, True, n_threads=2)
    ((threads, rows, block),) = seen
    assert (threads, rows) == (team.threads(2), m)
    assert block < m
    if m * n < 1_000_000:
        one = data.loss_grad(y, sw, mean, scale, W, B, True, n_threads=1)
        for a, b in zip(one, two, strict=True):
            np.testing.assert_array_equal(a, b)


def test_float32_matches_float64():
    """float32 X is read as float32 and summed in float64: the same sums as
    the float64 copy of the same numbers."""
    X, y, sw, mean, scale, W, B = problem(2, 500, 6, 1, False, np.float32, False)
    a = as_data(X).loss_grad(y, sw, mean, scale, W, B, False)
    b = as_data(X.astype(np.float64)).loss_grad(y, sw, mean, scale, W, B, False)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-13, atol=1e-13)


def test_sparse_matches_dense_with_a_mean():
    """CSR folds the mean into the bias: the standardized model of the dense
    copy, every implicit zero included."""
    X, y, sw, mean, scale, W, B = problem(3, 400, 8, 3, True, np.float64, True)
    a = as_data(X).loss_grad(y, sw, mean, scale, W, B, True)
    b = as_data(X.toarray()).loss_grad(y, sw, mean, scale, W, B, True)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_zero_weights_drop_rows():
    X, y, sw, mean, scale, W, B = problem(4, 300, 5, 1, False, np.float64, True)
    sw[::3] = 0.0
    keep = sw > 0
    a = as_data(X).loss_grad(y, sw, mean, scale, W, B, False)
    b = as_data(X[keep]).loss_grad(y[keep], sw[keep], mean, scale, W, B, False)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_extreme_logits_stay_finite():
    """Logits of +-1e4 (probabilities 0 and 1 in floating point): the loss
    grows linearly, the residuals are exactly 0 or +-1, nothing is NaN."""
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    y = np.array([1, 0, 0, 1])
    mean, scale = np.zeros(1), np.ones(1)
    for k in (1, 3):
        W = np.full((k, 1), 1e4)
        W[0] = -1e4 if k > 1 else 1e4
        loss, G, S = as_data(X).loss_grad(y, np.empty(0), mean, scale, W,
                                           np.zeros(k), k > 1)
        assert np.isfinite(loss) and np.isfinite(G).all() and np.isfinite(S).all()
        assert loss > 1e4


@pytest.mark.parametrize("k", [1, 3], ids=["binary", "softmax"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["no_weights", "weights"])
@pytest.mark.parametrize("K", [2, 9], ids=["2-models", "9-models"])
def test_many_models_are_each_models_own_pass(k, sparse, weighted, K):
    """``loss_grad_many`` (every model of a stack, each over the rows it
    trains on, in one read of X) equals ``loss_grad`` of each model alone
    with its held-out rows at weight 0, and gives each model's held-out
    loss; to 1e-12 relative (the same sums in another order: on dense X the
    SGD epoch's chunk sums, two rows by four models or six rows by 16; on
    CSR the models' sums row by row). Nine models take the outer-product
    form of the binary chunk sums."""
    rng = np.random.default_rng(K + 10 * k)
    m, n = 700, 6
    X, y, sw, _, _, _, _ = problem(K, m, n, k, sparse, np.float64, weighted,
                                   offset=0.5)
    row_fold = rng.integers(1, 4, size=m).astype(np.int8)
    fold = rng.integers(1, 4, size=K).astype(np.int64)
    stat = rng.integers(0, 2, size=K).astype(np.int64)
    mean = rng.normal(size=(2, n)) * 0.1 if not sparse else np.zeros((2, n))
    scale = rng.uniform(0.5, 2.0, size=(2, n))
    W = rng.normal(size=(K, k, n)) * 0.3
    B = rng.normal(size=(K, k))
    # some models inactive (converged): they are skipped, the others unchanged
    active = np.ones(K, dtype=np.uint8)
    active[1::3] = 0
    models = (mean, scale, stat, np.zeros((K, 3)), fold, row_fold, active)
    data = as_data(X)
    loss, G, S, held = data.loss_grad_many(y, sw, models, W, B, k > 1)
    ones = sw if weighted else np.ones(m)
    for i in np.flatnonzero(active):
        out = row_fold == fold[i]
        want = data.loss_grad(y, np.where(out, 0.0, ones), mean[stat[i]],
                              scale[stat[i]], W[i], B[i], k > 1)
        for a, b in zip((loss[i], G[i], S[i]), want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())
        test = data.loss_grad(y, np.where(out, ones, 0.0), mean[stat[i]],
                              scale[stat[i]], W[i], B[i], k > 1)[0]
        np.testing.assert_allclose(held[i], [test, ones[out].sum()], rtol=1e-12)


@pytest.mark.parametrize("impl", ["kernels", "reference"])
@pytest.mark.parametrize("margin", [40.0, 100.0, 700.0])
def test_softmax_keeps_the_loss_of_rows_with_large_margins(impl, margin):
    """A row whose class leads by ``margin`` has the loss ``log1p(sum_c
    exp(z_c - z_y))`` (about 2 exp(-margin) here) and residuals that sum to
    0 over the classes. Computed as ``log(1 + ...)`` both round to 0 beyond
    a margin of about 37 (the residual of the row's class with them), and
    L-BFGS on separable classes stopped early as if converged."""
    X = np.zeros((4, 1))
    y = np.ones(4, dtype=np.int64)
    W = np.zeros((3, 1))
    B = np.array([0.0, margin, 0.0])
    args = (y, np.empty(0), np.zeros(1), np.ones(1), W, B, True)
    if impl == "kernels":
        loss, _, S = as_data(X).loss_grad(*args)
    else:
        loss, _, S = reference.loss_grad(X, *args)
    # sums over the 4 rows
    np.testing.assert_allclose(loss, 4.0 * np.log1p(2.0 * np.exp(-margin)), rtol=1e-14)
    assert loss > 0.0
    np.testing.assert_allclose(S[1], -(S[0] + S[2]), rtol=1e-14)
    tail = np.exp(-margin)
    np.testing.assert_allclose(S[0], 4.0 * tail / (1.0 + 2.0 * tail), rtol=1e-14)
