"""The lean CSR epoch (one binary model, L2 or no penalty, constant or
inverse-scaling rate, no averaging) on the thread team.

Contract under test: each of two threads owns one half of the columns (the
dot products' halves, then the update of its half), every sum is added in
a fixed order by one thread, and the one-thread loop splits each row's dot
product the same way, so the trained model, its intercept and its losses
are bit-identical for any thread count (1 thread runs the one-thread
loop); and they agree with :mod:`fastlr.reference` to the
kernel-vs-reference tolerance of :func:`fastlr.verify.tolerance`.
"""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import fastlr
from fastlr import _dispatch, reference, verify
from fastlr._kernels import sparse

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                reason="needs at least two numba threads")


def make_csr(m=3000, n=500, seed=0):
    """Zipf-popular columns (shared by many rows, so stripes and rows
    overlap), L2-normalized rows, labels from a logistic model."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n + 1)
    p /= p.sum()
    cols = rng.choice(n, size=(m, 12), p=p)
    X = sp.csr_matrix((rng.uniform(0.1, 1.0, m * 12), cols.ravel(),
                       np.arange(0, m * 12 + 1, 12)), shape=(m, n))
    X.sum_duplicates()
    X = sp.csr_matrix(X.multiply(1.0 / np.sqrt(X.multiply(X).sum(axis=1))))
    z = X @ (3.0 * rng.standard_normal(n))
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


CASES = {
    "l2": dict(penalty="l2", alpha=1e-3),
    "none_scaled": dict(penalty=None, standardize="scale"),
    "invscaling_weights": dict(penalty="l2", alpha=1e-4, learning_rate="invscaling",
                               lr=0.5, sample_weight="random"),
    # the scale s underflows and is folded into the weights mid-epoch
    "strong_l2": dict(penalty="l2", alpha=1.5, lr=0.5),
    "rows": dict(penalty="l2", alpha=1e-3, rows="half"),
    # rate() from the model's strength, on the lean team's step
    "optimal": dict(penalty="l2", alpha=1e-3, learning_rate="optimal"),
}


@pytest.fixture
def spy(monkeypatch):
    """Threads for any data size; counts the team epochs run."""
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    calls = []
    worker = sparse.lean_worker

    def counted(*args):
        calls.append(1)
        return worker(*args)

    monkeypatch.setattr(sparse, "lean_worker", counted)
    return calls


@pytest.mark.parametrize("batch_size", [256, 299, 300])
@pytest.mark.parametrize("name", list(CASES))
def test_bit_identical_for_any_thread_count(spy, name, batch_size):
    X, y = make_csr()
    kw = dict(CASES[name])
    if kw.pop("sample_weight", None):
        kw["sample_weight"] = np.random.default_rng(1).uniform(0, 2, X.shape[0])
    if kw.pop("rows", None):
        kw["rows"] = np.arange(X.shape[0]) % 2 == 0
    kw.setdefault("standardize", False)
    kw.setdefault("lr", 0.2)
    runs = {t: fastlr.train(X, y, batch_size=batch_size, epochs=3, random_state=0,
                            shuffle=True, n_threads=t, **kw)
            for t in (1, 2, numba.config.NUMBA_NUM_THREADS)}
    assert spy, "the team epoch did not run"
    one = runs[1]
    for t, res in runs.items():
        np.testing.assert_array_equal(res.w, one.w, err_msg=f"{t} threads")
        assert res.b == one.b
        np.testing.assert_array_equal(res.losses, one.losses)
    ref = reference.train(X, y, batch_size=batch_size, epochs=3, random_state=0,
                          shuffle=True, **kw)
    tol = verify.tolerance("float64")
    np.testing.assert_allclose(runs[2].w, ref.w, **tol)
    np.testing.assert_allclose(runs[2].b, ref.b, **tol)
    np.testing.assert_allclose(runs[2].losses, ref.losses, **tol)


def test_small_batches_stay_on_one_thread(spy):
    """Below SPARSE_PARALLEL_MIN_BATCH a batch is not shared out."""
    X, y = make_csr(m=600)
    fastlr.train(X, y, batch_size=_dispatch.SPARSE_PARALLEL_MIN_BATCH - 1, epochs=1,
                 n_threads=2, standardize=False)
    assert not spy


def test_busy_cores_give_the_one_thread_result(spy, busy_cores):
    """Four processes spinning on the cores while the lean team trains: its
    threads wait long (and one may leave the team, the other then takes
    both halves), the model is still the one-thread model, bit for bit."""
    X, y = make_csr(m=20_000, n=2_000)
    kw = dict(batch_size=256, epochs=2, random_state=0, shuffle=True,
              standardize=False, penalty="l2", alpha=1e-4)
    one = fastlr.train(X, y, n_threads=1, **kw)
    with busy_cores():
        two = fastlr.train(X, y, n_threads=2, **kw)
    assert spy, "the team epoch did not run"
    np.testing.assert_array_equal(one.w, two.w)
    assert one.b == two.b
    np.testing.assert_array_equal(one.losses, two.losses)
