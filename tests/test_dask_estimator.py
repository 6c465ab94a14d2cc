"""fastlr.LogisticRegression on Dask collections, on a LocalCluster of two
worker processes (the block tasks really run elsewhere, their results
really travel).

The yardsticks: with one block, parameter mixing is the in-memory SGD, so
the dask fit must give the in-memory estimator's model (to the rounding of
the blockwise statistics) for every model and option; with many blocks the
L-BFGS finisher must reach the in-memory optimum; a worker killed mid-fit
must not change the result at all.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastlr  # noqa: E402
import fastlr.distributed as fdist  # noqa: E402
from fastlr import LogisticRegression  # noqa: E402

#: One block: the same batches and arithmetic as in memory; the blockwise
#: standardization sums are added in another order (1e-15 relative), which
#: a few SGD epochs amplify to well below this.
ONE_BLOCK_RTOL = 1e-9


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
    cl = distributed.Client(cluster)
    try:
        yield cl
    finally:
        cl.close()
        cluster.close()


def make_data(seed, m=800, n=6, k=2, sparse=False, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    y = (Z @ rng.normal(size=(n, k)) + rng.gumbel(size=(m, k))).argmax(axis=1)
    X = Z * rng.uniform(0.5, 3.0, n) + rng.uniform(-2.0, 2.0, n)
    if sparse:
        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.5, X, 0.0))
    return X.astype(dtype), np.asarray(["ab", "cd", "ef", "gh"])[y]


def to_dask(a, rows):
    if sp.issparse(a):
        return da.from_array(a, chunks=(rows, a.shape[1]), asarray=False)
    return da.from_array(a, chunks=(rows,) + a.shape[1:])


SGD = dict(solver="sgd", max_iter=4, tol=None, lr=0.05, batch_size=20,
           random_state=3)

OPTION_CASES = {
    "plain": {},
    "l1": dict(penalty="l1", alpha=3e-3),
    "elasticnet-avg": dict(penalty="elasticnet", alpha=1e-3, l1_ratio=0.5,
                           average=5),
    "invscaling-weights": dict(learning_rate="invscaling", power_t=0.3,
                               class_weight="balanced", sample_weight=True),
    "adagrad-scale": dict(learning_rate="adagrad", lr=0.2, standardize="scale",
                          class_weight={"cd": 2.0}),
    "optimal": dict(learning_rate="optimal", penalty="l2", alpha=1e-2),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
@pytest.mark.parametrize("k,sparse,dtype", [(2, False, np.float64),
                                            (3, False, np.float32),
                                            (3, True, np.float64)])
def test_one_block_equals_in_memory(client, case, k, sparse, dtype):
    """Every model (binary / softmax, dense / CSR, float32) and option
    (penalties with their cumulative L1 totals, averaging, schedules,
    sample and class weights): one block trains exactly as in memory."""
    X, y = make_data(1, k=k, sparse=sparse, dtype=dtype)
    opts = dict(OPTION_CASES[case])
    sw = None
    if opts.pop("sample_weight", False):
        sw = np.random.default_rng(2).uniform(0.2, 2.0, X.shape[0])
    kw = dict(SGD, **opts)
    expected = LogisticRegression(**kw).fit(X, y, sample_weight=sw)
    got = LogisticRegression(**kw).fit(
        to_dask(X, X.shape[0]), to_dask(y, X.shape[0]),
        sample_weight=None if sw is None else to_dask(sw, X.shape[0]))
    assert got.coef_.dtype == dtype
    np.testing.assert_array_equal(got.classes_, expected.classes_)
    rtol = ONE_BLOCK_RTOL if dtype == np.float64 else 1e-5
    scale = np.abs(expected.coef_).max()
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=rtol,
                               atol=rtol * scale)
    np.testing.assert_allclose(got.intercept_, expected.intercept_, rtol=rtol,
                               atol=rtol * scale)
    np.testing.assert_allclose(got.loss_curve_, expected.loss_curve_, rtol=1e-6)
    for name in ("steps", "l1_u", "l1_q", "gsq", "avg"):
        np.testing.assert_allclose(getattr(got.training_state_, name),
                                   getattr(expected.training_state_, name),
                                   rtol=1e-5, atol=1e-8)
    if opts.get("penalty") == "l1":   # exact zeros, as in memory
        assert (got.coef_ == 0).sum() == (expected.coef_ == 0).sum()


@pytest.mark.parametrize("options,travelling", [
    ({}, ("W", "B", "steps")),
    (dict(learning_rate="adagrad", lr=0.2), ("W", "B", "steps", "gsq")),
    (dict(penalty="elasticnet", alpha=1e-3, average=5),
     ("W", "B", "steps", "avg", "l1_u", "l1_q")),
])
def test_epochs_carry_only_the_arrays_the_options_write(client, monkeypatch, options,
                                                        travelling):
    """A mixing epoch sends each block, and averages back, W, B, steps and
    the optimizer arrays its options write, not the zero others (on 2**20
    columns, 42 MB a block where 8 MB are needed), in ``fit`` and along a
    ``partial_fit`` stream; without standardization (sparse X, "auto") and
    without the finisher, no column statistics are computed. The model is
    the in-memory one."""
    X, y = make_data(5, sparse=True)
    mixed = []
    mix = fdist._mix

    def spy(state, outs, names):
        mixed.append((names, {len(out[0]) for out in outs}))
        return mix(state, outs, names)

    def no_stats(*args, **kwargs):
        raise AssertionError("column statistics computed without standardization")

    monkeypatch.setattr(fdist, "_mix", spy)
    monkeypatch.setattr(fdist, "_column_moments", no_stats)
    kw = dict(SGD, **options)
    got = LogisticRegression(**kw).fit(to_dask(X, 800), to_dask(y, 800))
    stream = LogisticRegression(**kw)
    for _ in range(2):
        stream.partial_fit(to_dask(X, 400), to_dask(y, 400), classes=["ab", "cd"])
    assert mixed and all(m == (travelling, {len(travelling)}) for m in mixed)
    expected = LogisticRegression(**kw).fit(X, y)
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=ONE_BLOCK_RTOL,
                               atol=ONE_BLOCK_RTOL * np.abs(expected.coef_).max())


def test_large_arguments_go_to_each_worker_once(client, monkeypatch):
    """An argument of every block's task past ``_BROADCAST_BYTES`` (the
    model on a wide model) is scattered once to the workers holding the
    blocks, not sent with each task; the model is the one of tasks that
    carry it, and the scattered copies are released."""
    X, y = make_data(6, m=1200, k=3)
    kw = dict(SGD, solver="auto", max_iter=3)
    Xd, yd = to_dask(X, 150), to_dask(y, 150)
    expected = LogisticRegression(**kw).fit(Xd, yd)
    calls = []
    scatter = client.scatter

    def spy(data, **options):
        futures = scatter(data, **options)
        calls.append((options, futures))
        return futures

    monkeypatch.setattr(client, "scatter", spy)
    monkeypatch.setattr(fdist, "_BROADCAST_BYTES", 1)
    got = LogisticRegression(**kw).fit(Xd, yd)
    assert calls and all(c["broadcast"] and c["workers"] for c, _ in calls)
    np.testing.assert_array_equal(got.coef_, expected.coef_)
    np.testing.assert_array_equal(got.intercept_, expected.intercept_)
    assert all(f._cleared for _, futures in calls for f in futures)   # released


@pytest.mark.parametrize("k,sparse", [(2, False), (3, False), (3, True)])
def test_finisher_reaches_the_in_memory_optimum_on_eight_blocks(client, k, sparse):
    """L-BFGS over blockwise gradient sums: the same optimum as in memory
    at any block count (the objective is the same sum, added per block)."""
    X, y = make_data(4, m=1200, k=k, sparse=sparse)
    kw = dict(solver="lbfgs", alpha=1e-3, tol=1e-10, max_iter=200)
    expected = LogisticRegression(**kw).fit(X, y)
    got = LogisticRegression(**kw).fit(to_dask(X, 150), to_dask(y, 150))
    assert got.solver_ == "lbfgs"
    scale = np.abs(expected.coef_).max()
    np.testing.assert_allclose(got.coef_, expected.coef_, atol=1e-5 * scale)
    np.testing.assert_allclose(got.intercept_, expected.intercept_,
                               atol=1e-5 * scale)


@pytest.mark.parametrize("weights", ["sample_weight", "class_weight"])
def test_one_weighted_class_takes_no_pass_on_blocks(client, weights):
    """The rows of positive weight hold one class: as in memory, the
    solver takes weights 0 and the intercept of mean loss tol without a
    pass (it ran all max_iter passes and warned)."""
    X, y = make_data(4, m=600, k=2)
    sw = np.where(y == "ab", 1.0, 0.0)
    for solver in ("auto", "lbfgs"):
        kw = dict(solver=solver, max_iter=50)
        if weights == "class_weight":
            kw["class_weight"] = {"cd": 0.0}
            args, dargs = (X, y), (to_dask(X, 150), to_dask(y, 150))
        else:
            args = (X, y, sw)
            dargs = (to_dask(X, 150), to_dask(y, 150), to_dask(sw, 150))
        expected = LogisticRegression(**kw).fit(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = LogisticRegression(**kw).fit(*dargs)
        assert got.n_iter_ == expected.n_iter_ == 0
        np.testing.assert_array_equal(got.coef_, expected.coef_)
        np.testing.assert_array_equal(got.intercept_, expected.intercept_)


def test_finisher_without_intercept_on_offset_features(client):
    """Without an intercept the cluster's finisher takes the coordinates
    the in-memory one takes on features whose means are 100 times their
    spread (their mean direction from the blockwise column means; see
    ``test_solver.test_no_intercept_on_offset_features_stops_at_the_optimum``):
    with the default ``tol``, on 8 blocks, its objective is the optimum's
    to a relative 1e-4 (2.5e-3 before)."""
    from fastlr._dispatch import as_data

    X, y = make_data(5, m=1200)
    X = X - X.mean(axis=0) + 100.0 * X.std(axis=0)
    kw = dict(solver="lbfgs", alpha=1e-3, fit_intercept=False, max_iter=500)
    best = LogisticRegression(**kw, tol=1e-20).fit(X, y)
    got = LogisticRegression(**kw).fit(to_dask(X, 150), to_dask(y, 150))
    scale = as_data(X).standardization("scale")[1][0]
    codes = (y == best.classes_[1]).astype(float)

    def F(clf):
        z = X @ clf.coef_[0]
        return (np.mean(np.logaddexp(0.0, z) - codes * z)
                + 0.5e-3 * np.sum((clf.coef_[0] * scale) ** 2))

    assert F(got) - F(best) <= 1e-4 * F(best)


def test_auto_and_mixing_on_eight_blocks_heldout_loss(client):
    """solver='auto' (one mixing epoch, then the finisher) matches the
    in-memory optimum; plain parameter mixing on 8 blocks reaches the
    in-memory SGD's held-out loss given 8 times the epochs."""
    X, y = make_data(5, m=6000, n=8)
    X, y, Xt, yt = X[:4000], y[:4000], X[4000:], y[4000:]
    auto = LogisticRegression(alpha=1e-4, tol=1e-8, random_state=0)
    auto_d = LogisticRegression(alpha=1e-4, tol=1e-8, random_state=0)
    auto.fit(X, y)
    auto_d.fit(to_dask(X, 500), to_dask(y, 500))
    assert auto_d.solver_ == "auto" and auto_d.n_solver_iter_ > 0

    def heldout(model):
        p = model.predict_proba(Xt)[:, 1]
        return fastlr.log_loss((yt == model.classes_[1]).astype(int), p)

    assert heldout(auto_d) == pytest.approx(heldout(auto), rel=1e-4)
    # each of the 8 blocks makes 1/8 of the steps of an in-memory epoch:
    # mixing needs about 8 times the epochs (measured: +19% held-out loss
    # after the same 20 epochs, +8% after 40, +0.6% after 160)
    kw = dict(solver="sgd", tol=None, lr=0.05, batch_size=20, random_state=0)
    sgd = LogisticRegression(max_iter=20, **kw).fit(X, y)
    sgd_d = LogisticRegression(max_iter=160, **kw).fit(to_dask(X, 500),
                                                       to_dask(y, 500))
    assert heldout(sgd_d) == pytest.approx(heldout(sgd), rel=0.01)
    assert heldout(sgd) < 0.5 * np.log(2)   # not a trivial problem


def test_l1_totals_carry_across_epochs(client):
    """The cumulative L1 penalty keeps growing from epoch to epoch on the
    client's state (it is not restarted by each block's epoch)."""
    X, y = make_data(7, m=1200)
    Xd, yd = to_dask(X, 300), to_dask(y, 300)
    kw = dict(SGD, penalty="l1", alpha=1e-2)
    one = LogisticRegression(**dict(kw, max_iter=1)).fit(Xd, yd)
    three = LogisticRegression(**dict(kw, max_iter=3)).fit(Xd, yd)
    u1 = one.training_state_.l1_u
    u3 = three.training_state_.l1_u
    assert (u1 > 0).all()
    np.testing.assert_allclose(u3, 3 * u1, rtol=1e-12)   # constant lr
    # mixing averages the blocks' truncated weights (a weight is exactly 0
    # only where every block truncated it); OWL-QN over the blockwise
    # gradients gives the in-memory optimum and its exact zeros
    kw = dict(solver="lbfgs", penalty="l1", alpha=3e-2, tol=1e-10)
    mem = LogisticRegression(**kw).fit(X, y)
    dsk = LogisticRegression(**kw).fit(Xd, yd)
    assert (mem.coef_ == 0).any()
    np.testing.assert_array_equal(dsk.coef_ == 0, mem.coef_ == 0)
    np.testing.assert_allclose(dsk.coef_, mem.coef_, atol=1e-6)


def test_predictions_are_dask_arrays_computed_blockwise(client):
    X, y = make_data(8, k=3)
    clf = LogisticRegression(**SGD).fit(to_dask(X, 200), to_dask(y, 200))
    Xd = to_dask(X, 300)
    for method in ("decision_function", "predict_proba", "predict",
                   "predict_log_proba"):
        out = getattr(clf, method)(Xd)
        assert isinstance(out, da.Array), method
        assert out.chunks[0] == Xd.chunks[0]
        if method == "predict":
            np.testing.assert_array_equal(out.compute(), clf.predict(X))
        else:
            np.testing.assert_allclose(out.compute(), getattr(clf, method)(X))
    assert clf.score(Xd, to_dask(y, 300)) == pytest.approx(clf.score(X, y),
                                                           abs=1e-12)
    sw = np.linspace(0.0, 2.0, X.shape[0])
    assert clf.score(Xd, to_dask(y, 300), sample_weight=to_dask(sw, 300)) == \
        pytest.approx(clf.score(X, y, sample_weight=sw), abs=1e-12)


def test_never_gathers_X(client, monkeypatch):
    """fit, partial_fit and the predictions never turn the dask X into a
    NumPy array on the client."""
    X, y = make_data(9)
    Xd, yd = to_dask(X, 200), to_dask(y, 200)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a dask array was gathered to the client")

    monkeypatch.setattr(da.Array, "__array__", refuse)
    clf = LogisticRegression(**SGD).fit(Xd, yd)
    clf.partial_fit(Xd, yd)
    clf.predict(Xd)
    with pytest.raises(AssertionError, match="gathered"):
        np.asarray(Xd)   # the control: the patch does catch a gather


def test_dataframe_columns_as_features(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(10)
    cols = [f"f{j}" for j in range(X.shape[1])]
    ddf = dd.from_pandas(pd.DataFrame(X, columns=cols), npartitions=3)
    ys = dd.from_pandas(pd.Series(y), npartitions=3)
    clf = LogisticRegression(**SGD).fit(ddf, ys)
    ref = LogisticRegression(**SGD).fit(
        ddf.to_dask_array(lengths=True),
        ys.astype(object).to_dask_array(lengths=True))   # labels as text
    np.testing.assert_array_equal(clf.coef_, ref.coef_)
    assert list(clf.feature_names_in_) == cols
    assert clf.n_features_in_ == X.shape[1]


def test_feature_names_are_checked_as_in_memory(client):
    """After a fit on a dask DataFrame, dask input to predict,
    predict_proba, decision_function, score and partial_fit meets
    scikit-learn's feature-name rules, as in-memory input does: reordered
    or renamed columns are a ValueError (they were used by position: the
    accuracy fell from 0.99 to 0.53, silently), a dask array without names
    warns. The refused calls change nothing."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(10)
    cols = [f"f{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=cols)
    ddf = dd.from_pandas(frame, npartitions=3)
    ys = dd.from_pandas(pd.Series(y), npartitions=3)
    clf = LogisticRegression(**SGD).fit(ddf, ys)
    expected = clf.predict_proba(ddf).compute()
    coef = clf.coef_.copy()
    reordered = dd.from_pandas(frame[cols[::-1]], npartitions=3)
    renamed = dd.from_pandas(frame.rename(columns={"f0": "z"}), npartitions=3)
    for call in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(ValueError, match="same order as they were in fit"):
            call(reordered)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.score(renamed, ys)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.partial_fit(renamed, ys)
    np.testing.assert_array_equal(clf.coef_, coef)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        got = clf.predict_proba(to_dask(X, 200)).compute()
    # (a DataFrame's partitions are Fortran-ordered arrays, summed down their
    # columns: the same logits but for the order of their rounding)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # a first partial_fit records the names as fit does
    pf = LogisticRegression(**SGD).partial_fit(ddf, ys, classes=np.unique(y))
    assert list(pf.feature_names_in_) == cols
    with pytest.raises(ValueError, match="feature names should match"):
        pf.partial_fit(renamed, ys)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_a_refused_block_names_the_row_of_X_and_leaves_nothing_behind(client,
                                                                      sparse):
    """A fit refused for a NaN in one block names the row of X, as in
    memory (it named the row within the block, and for CSR blocks never
    the row of X), and releases the blocks already converted: 4 refused
    fits left 12 converted blocks in the workers' memory."""
    import time

    X, y = make_data(3, m=800)
    X[500, 1] = np.nan                     # block 2 of 4 (rows 400 to 599)
    if sparse:
        X = sp.csr_matrix(X)

    def held(dask_worker):
        return sum("_prepare_block" in str(key) for key in dask_worker.data.keys())

    for _ in range(2):
        with pytest.raises(ValueError, match=r"first at row 500, column 1\) "
                                             r"\(row block 2, rows 400 to 599"):
            LogisticRegression(**SGD).fit(to_dask(X, 200), to_dask(y, 200))
    deadline = time.monotonic() + 10.0
    while sum(client.run(held).values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(client.run(held).values()) == 0


def test_predict_log_proba_is_silent_as_in_memory():
    """Rows whose probabilities round to 0 give finite log-probabilities
    (from the logits) without a warning, also when the dask array is
    computed (an errstate around building it would not cover computing it;
    on a cluster a warning stays in the workers' logs, so computed here in
    this process)."""
    import warnings

    X, y = make_data(2)
    clf = LogisticRegression(**SGD).fit(X, y)
    far = np.zeros((4, X.shape[1]))
    far[:, 0] = [-1e6, 1e6, -1e6, 1e6]
    expected = clf.predict_log_proba(far)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = clf.predict_log_proba(to_dask(far, 2)).compute(scheduler="synchronous")
    np.testing.assert_array_equal(got, expected)
    assert (clf.predict_proba(far) == 0.0).any() and np.isfinite(got).all()


def test_big_endian_float32_blocks_train_as_in_memory(client):
    """Blocks of float32 in the other byte order (netCDF-3, HDF5) are
    float32, as in memory: they were converted to float64 (twice the
    workers' memory, and not the in-memory model)."""
    X, y = make_data(1, dtype=np.float32)
    Xbe = X.astype(">f4")
    expected = LogisticRegression(**SGD).fit(Xbe, y)
    got = LogisticRegression(**SGD).fit(to_dask(Xbe, X.shape[0]), to_dask(y, X.shape[0]))
    assert got.coef_.dtype == expected.coef_.dtype == np.float32
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=1e-5,
                               atol=1e-5 * np.abs(expected.coef_).max())


@pytest.mark.parametrize("k", [2, 3])
def test_predictions_of_float32_x_in_the_model_dtype_as_in_memory(k):
    """A float64 model predicts float32 X in float64 on a cluster as in
    memory (the dtype of ``X @ coef_.T``), with the same values."""
    X, y = make_data(3, k=k)
    clf = LogisticRegression(**SGD).fit(X, y)
    X32 = X.astype(np.float32)
    for method in ("decision_function", "predict_proba"):
        expected = getattr(clf, method)(X32)
        lazy = getattr(clf, method)(to_dask(X32, 300))
        assert lazy.dtype == expected.dtype == np.float64, method
        got = lazy.compute(scheduler="synchronous")
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)


def test_a_continuation_that_starts_badly_is_not_divergence_on_dask():
    """As in memory: a partial_fit with a negligible step on rows the model
    scores badly (a mean loss of about 1000 before any step) is judged
    against its starting loss, not the absolute bound; a real divergence
    still raises."""
    rng = np.random.default_rng(0)
    X1 = rng.normal(size=(400, 3))
    y1 = (X1[:, 0] + 0.3 * rng.logistic(size=400) > 0).astype(int)
    X2 = rng.normal(size=(400, 3))
    X2[:, 0] += 10000.0
    y2 = rng.integers(0, 2, 400)
    clf = LogisticRegression(lr=0.1, random_state=0, solver="sgd")
    clf.partial_fit(to_dask(X1, 200), to_dask(y1, 200), classes=[0, 1])
    clf.set_params(lr=1e-300)
    clf.partial_fit(to_dask(X2, 200), to_dask(y2, 200))
    assert clf.loss_curve_[-1] > 1000 * np.log(2)
    clf.set_params(lr=1e12)
    with pytest.raises(fastlr.DivergedError, match="it started at"):
        clf.partial_fit(to_dask(X2 * 1e3, 200), to_dask(y2, 200))


@pytest.mark.parametrize("what", ["y", "sample_weight"])
def test_a_missing_value_in_a_nullable_y_or_weight_is_named(what):
    """pd.NA in a nullable (Int64/Float64) label or weight column: in memory
    it is refused as NaN, naming the argument; on Dask it raised an
    unrelated TypeError ('mixes labels that cannot be sorted', or float()
    of NAType, not naming sample_weight)."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = pd.Series((X[:, 0] > 0).astype(int), dtype="Int64")
    sw = pd.Series(np.ones(60), dtype="Float64")
    (y if what == "y" else sw)[33] = pd.NA
    dX = dd.from_pandas(pd.DataFrame(X, columns=list("abc")), npartitions=2)
    kw = {"sample_weight": dd.from_pandas(sw, npartitions=2)} if what != "y" else {}
    with pytest.raises(ValueError, match=rf"^{what} contains NaN or infinity "
                       r"\(row block 1, rows 30 to 59; first at row 33\)"):
        LogisticRegression(max_iter=3).fit(dX, dd.from_pandas(y, npartitions=2), **kw)


def test_a_refused_fit_leaves_no_task_on_the_scheduler(client):
    """A fit refused for a label that one block's task rejects releases the
    other blocks' label tasks and the failed one, even while the caller
    holds the error (its traceback holds the futures): the scheduler kept
    them for the client's lifetime, and a later compute of the same keys
    took the results held instead of reading the data."""
    import time

    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = pd.Series((X[:, 0] > 0).astype(int), dtype="Int64")
    y[33] = pd.NA
    dX = dd.from_pandas(pd.DataFrame(X, columns=list("abc")), npartitions=2)

    def labels_held(dask_scheduler):
        return sorted(str(k) for k in dask_scheduler.tasks if "_block_labels" in str(k))

    with pytest.raises(ValueError, match="^y contains NaN") as refused:
        LogisticRegression(max_iter=3).fit(dX, dd.from_pandas(y, npartitions=2))
    deadline = time.monotonic() + 10.0
    while client.run_on_scheduler(labels_held) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.run_on_scheduler(labels_held) == [], refused.value


#: Columns of other dtypes than numpy numbers that the in-memory fit of a
#: pandas DataFrame converts (numbers in text parsed, as scikit-learn does)
CONVERTED_COLUMNS = {
    "numeric_text": lambda v, pd: pd.array(v.astype(str), dtype="string"),
    "object_numbers": lambda v, pd: pd.Series(v, dtype=object),
    "category": lambda v, pd: pd.Categorical(np.round(v)),
    "Int64": lambda v, pd: pd.array(np.round(v).astype(np.int64), dtype="Int64"),
    "Float64": lambda v, pd: pd.array(v, dtype="Float64"),
    "boolean": lambda v, pd: pd.array(v > 0, dtype="boolean"),
}


@pytest.mark.parametrize("kind", sorted(CONVERTED_COLUMNS))
def test_dataframe_columns_converted_as_in_memory(client, kind):
    """A column the in-memory fit converts (text of numbers, categories,
    pandas' nullable dtypes) is converted alike, block by block: the model
    and the predictions of its numbers as float64."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(17, m=400)
    df = pd.DataFrame(X[:, :-1], columns=[f"f{j}" for j in range(X.shape[1] - 1)])
    df["s"] = CONVERTED_COLUMNS[kind](X[:, -1], pd)
    numbers = df.assign(s=np.asarray(df["s"], dtype=np.float64))
    LogisticRegression(**SGD).fit(df, y)   # the in-memory fit takes it
    ys = dd.from_pandas(pd.Series(y), npartitions=4)
    got = LogisticRegression(**SGD).fit(dd.from_pandas(df, npartitions=4), ys)
    want = LogisticRegression(**SGD).fit(dd.from_pandas(numbers, npartitions=4), ys)
    assert got.coef_.dtype == np.float64
    np.testing.assert_array_equal(got.coef_, want.coef_)
    assert list(got.feature_names_in_) == list(df.columns)
    np.testing.assert_allclose(
        got.predict_proba(dd.from_pandas(df, npartitions=3)).compute(),
        got.predict_proba(numbers))


def test_partial_fit_and_warm_start(client):
    X, y = make_data(11, k=3)
    kw = dict(SGD)
    mem = LogisticRegression(**kw)
    dsk = LogisticRegression(**kw)
    classes = np.unique(y)
    for _ in range(2):
        mem.partial_fit(X, y, classes=classes)
        dsk.partial_fit(to_dask(X, X.shape[0]), to_dask(y, X.shape[0]),
                        classes=classes)
    np.testing.assert_allclose(dsk.coef_, mem.coef_, rtol=ONE_BLOCK_RTOL,
                               atol=1e-12)
    assert dsk.n_iter_ == 2
    # the report a fit leaves, as in memory (it had none)
    for est in (mem, dsk):
        assert (est.solver_, est.n_solver_iter_, est.validation_scores_,
                est.best_validation_score_) == ("sgd", 0, None, None)
    with pytest.raises(ValueError, match="labels not in classes"):
        dsk.partial_fit(to_dask(X, 400), to_dask(np.where(y == "ab", "zz", y), 400))
    # warm start: the finisher continues from the previous optimum
    opt = dict(solver="lbfgs", alpha=1e-3, tol=1e-8)
    Xd, yd = to_dask(X, 200), to_dask(y, 200)
    first = LogisticRegression(**opt, warm_start=True).fit(Xd, yd)
    n_first = first.n_iter_
    first.fit(Xd, yd)
    assert first.n_iter_ < n_first


@pytest.mark.parametrize("runner", ["local", "client"])
@pytest.mark.parametrize("door", ["fit", "fit-early-stopping", "partial_fit"])
def test_a_generator_random_state_is_drawn_from_but_not_kept(client, monkeypatch,
                                                             door, runner):
    """As in memory: the model keeps a copy of a Generator given as
    ``random_state``, after drawing from it as from an int seed's
    generator. Without a client (dask's own scheduler, the block tasks in
    this process) it kept the caller's own, so the caller's later draws
    changed its continuation; a client's workers send back copies, which
    leave the caller's generator behind (advanced only by the held-out
    split's seed)."""
    import dask

    local = runner == "local"
    if local:
        monkeypatch.setattr(fdist, "_runner", lambda client: fdist._LocalRunner())
    X, y = make_data(19)
    Xd, yd = to_dask(X, 400), to_dask(y, 400)
    params = dict(SGD, early_stopping=door == "fit-early-stopping")

    def run(random_state):
        est = LogisticRegression(**dict(params, random_state=random_state))
        if door == "partial_fit":
            return est.partial_fit(Xd, yd, classes=np.unique(y))
        return est.fit(Xd, yd)

    with dask.config.set(scheduler="synchronous") if local else \
            contextlib.nullcontext():
        g = np.random.default_rng(5)
        est, ref = run(g), run(5)   # the int 5 draws as default_rng(5) does
        assert est.training_state_.rng is not g
        assert (est.training_state_.rng.bit_generator.state
                == ref.training_state_.rng.bit_generator.state)
        if local:
            assert g.bit_generator.state == ref.training_state_.rng.bit_generator.state
        np.testing.assert_array_equal(est.coef_, ref.coef_)
        g.random(1000)   # the caller's other uses of its generator
        np.testing.assert_array_equal(est.partial_fit(Xd, yd).coef_,
                                      ref.partial_fit(Xd, yd).coef_)


def test_continued_training_from_coef_set_by_hand_as_in_memory(client):
    """partial_fit and a warm fit on Dask start from ``coef_`` changed or
    set by hand, as in memory (they continued the training state it no
    longer showed, or raised AttributeError without one). One block:
    equal to rounding."""
    X, y = make_data(15, k=3)
    m = X.shape[0]
    rng = np.random.default_rng(2)
    coef, intercept = rng.normal(size=(3, X.shape[1])), rng.normal(size=3)
    got = {}
    for where, Xs, ys in (("mem", X, y), ("dask", to_dask(X, m), to_dask(y, m))):
        hand = LogisticRegression(**SGD)
        hand.coef_, hand.intercept_, hand.classes_ = coef.copy(), intercept.copy(), \
            np.unique(y)
        hand.partial_fit(Xs, ys)
        edited = LogisticRegression(**SGD, warm_start=True).fit(Xs, ys)
        edited.coef_, edited.intercept_ = coef.copy(), intercept.copy()
        edited.fit(Xs, ys)
        got[where] = hand, edited
    for a, b in zip(got["mem"], got["dask"], strict=True):
        np.testing.assert_allclose(b.coef_, a.coef_, rtol=ONE_BLOCK_RTOL, atol=1e-12)
        assert a.n_iter_ == b.n_iter_
    # the starting point was coef_: one epoch does not undo it
    fresh = LogisticRegression(**SGD).partial_fit(X, y, classes=np.unique(y))
    assert np.abs(got["mem"][0].coef_ - fresh.coef_).max() > 0.1


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_warm_start_standardizes_the_new_rows_as_in_memory(client, sparse):
    """A warm fit on Dask standardizes its rows and re-expresses the previous
    model in that standardization, as in memory (both kept the previous
    fit's). One block: equal to rounding."""
    X, y = make_data(14, sparse=sparse)
    units = np.array([2.0, 0.5, 1.0, 3.0, 1.0, 0.25])
    X2 = sp.csr_matrix(X.multiply(units)) if sparse else X * units
    kw = dict(SGD, warm_start=True)
    mem = LogisticRegression(**kw).fit(X, y).fit(X2, y)
    m = X.shape[0]
    dsk = LogisticRegression(**kw).fit(to_dask(X, m), to_dask(y, m))
    dsk.fit(to_dask(X2, m), to_dask(y, m))
    want = LogisticRegression(**kw).fit(X2, y).training_state_
    for got in (mem, dsk):
        np.testing.assert_allclose(got.training_state_.scale, want.scale, rtol=1e-12)
        np.testing.assert_allclose(got.training_state_.mean, want.mean, atol=1e-12)
    np.testing.assert_allclose(dsk.coef_, mem.coef_, rtol=ONE_BLOCK_RTOL, atol=1e-12)
    np.testing.assert_allclose(dsk.intercept_, mem.intercept_, rtol=ONE_BLOCK_RTOL,
                               atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_partial_fit_follows_running_statistics_as_in_memory(client, tmp_path,
                                                             sparse):
    """partial_fit on dask input merges each chunk's column statistics into
    the running ones, as in memory (it kept the first chunk's: the scales
    1-4 where in memory they followed the stream to 3-11, and coef_ drifted
    0.06 apart on the second chunk), and a Dask fit starts them as an
    in-memory fit does, so a later partial_fit stream (here after a save
    and load) follows them too. One block per call: equal to rounding."""
    X, y = make_data(12, m=600)
    X[300:] = X[300:] * 3.0 + 2.0          # the stream's second half spreads
    if sparse:
        X = sp.csr_matrix(X)
    classes = np.unique(y)
    chunks = [slice(0, 300), slice(300, 600)]
    mem = LogisticRegression(**SGD, standardize=True)
    dsk = LogisticRegression(**SGD, standardize=True)
    for rows in chunks:
        mem.partial_fit(X[rows], y[rows], classes=classes)
        dsk.partial_fit(to_dask(X[rows], 300), to_dask(y[rows], 300), classes=classes)
    np.testing.assert_allclose(dsk.training_state_.scale, mem.training_state_.scale,
                               rtol=1e-12)
    np.testing.assert_allclose(dsk.coef_, mem.coef_, rtol=ONE_BLOCK_RTOL, atol=1e-12)
    fitted = {}
    for name, Xf in (("mem", X[:300]), ("dask", to_dask(X[:300], 300))):
        clf = LogisticRegression(**SGD, standardize=True).fit(Xf, y[:300] if name == "mem"
                                            else to_dask(y[:300], 300))
        fastlr.save(clf, tmp_path / f"{name}.npz")
        clf = fastlr.load(tmp_path / f"{name}.npz")
        clf.partial_fit(X[300:], y[300:])
        fitted[name] = clf
    assert fitted["dask"].training_state_.moments is not None
    np.testing.assert_allclose(fitted["dask"].training_state_.scale,
                               fitted["mem"].training_state_.scale, rtol=1e-12)


@pytest.mark.parametrize("weights", ["sample_weight", "class_weight"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_partial_fit_statistics_count_rows_of_weight_zero_as_in_memory(
        client, weights, sparse):
    """partial_fit's running statistics are unweighted, over every row of
    the chunk: rows of weight 0 (a sample weight, or a class weighted 0)
    count too, as in memory. On Dask the sums covered every row but the
    count only those of positive weight, and the shift was the row of
    largest weight: the mean and scale came out as neither (coef_ 4-58 %
    apart). One block per call, two calls (the first chunk's statistics,
    then the running ones): equal to rounding."""
    X, y = make_data(15, m=600, k=3)
    if sparse:
        X = sp.csr_matrix(X)
    classes = np.unique(y)
    rng = np.random.default_rng(3)
    if weights == "sample_weight":
        kw = {}
        sw = rng.uniform(0.5, 1.5, X.shape[0])
        sw[rng.random(X.shape[0]) < 0.2] = 0.0
    else:
        kw = dict(class_weight={classes[0]: 0.0})
        sw = None
    mem = LogisticRegression(**SGD, standardize=True, **kw)
    dsk = LogisticRegression(**SGD, standardize=True, **kw)
    for rows in (slice(0, 300), slice(300, 600)):
        part = None if sw is None else sw[rows]
        mem.partial_fit(X[rows], y[rows], classes=classes, sample_weight=part)
        dsk.partial_fit(to_dask(X[rows], 300), to_dask(y[rows], 300), classes=classes,
                        sample_weight=None if part is None else to_dask(part, 300))
        for name in ("mean", "scale"):
            np.testing.assert_allclose(getattr(dsk.training_state_, name),
                                       getattr(mem.training_state_, name),
                                       rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dsk.coef_, mem.coef_, rtol=ONE_BLOCK_RTOL,
                                   atol=1e-12)
        np.testing.assert_allclose(dsk.intercept_, mem.intercept_,
                                   rtol=ONE_BLOCK_RTOL, atol=1e-12)


@pytest.mark.parametrize("then", ["scale", False, True])
def test_partial_fit_follows_standardize_set_between_calls_as_in_memory(client,
                                                                        then):
    """set_params(standardize=...) between partial_fit calls takes effect on
    dask input as in memory (it was ignored in both): "scale" stops a
    dense-started model's centering, so CSR blocks continue it, False ends
    the standardization, True (from False) starts running statistics."""
    X, y = make_data(13, m=600)
    first = then is not True
    Xs = sp.csr_matrix(X[300:]) if then == "scale" else X[300:]
    mem = LogisticRegression(standardize=first, **SGD)
    dsk = LogisticRegression(standardize=first, **SGD)
    classes = np.unique(y)
    for clf, dask in ((mem, False), (dsk, True)):
        wrap = (lambda a: to_dask(a, 300)) if dask else (lambda a: a)
        clf.partial_fit(wrap(X[:300]), wrap(y[:300]), classes=classes)
        clf.set_params(standardize=then)
        clf.partial_fit(wrap(Xs), wrap(y[300:]))
    state = dsk.training_state_
    assert state.center == (then is True)
    np.testing.assert_allclose(state.scale, mem.training_state_.scale, rtol=1e-12)
    np.testing.assert_allclose(state.mean, mem.training_state_.mean, atol=1e-12)
    np.testing.assert_allclose(dsk.coef_, mem.coef_, rtol=ONE_BLOCK_RTOL, atol=1e-12)


def test_partial_fit_after_an_early_stopping_fit(client):
    """A Dask fit with early_stopping kept the best epoch's state copied
    before its generator was set, and a partial_fit after it failed:
    "AttributeError: 'NoneType' object has no attribute 'spawn'". In
    memory the same calls run one more epoch; on Dask they now do too
    (early stopping's held-out rows are drawn per block, so the models are
    not the in-memory ones)."""
    X, y = make_data(13)
    kw = dict(SGD, early_stopping=True, n_iter_no_change=2, max_iter=6)
    dsk = LogisticRegression(**kw).fit(to_dask(X, 400), to_dask(y, 400))
    assert dsk.training_state_.rng is not None
    before = dsk.coef_.copy()
    dsk.partial_fit(to_dask(X, 200), to_dask(y, 200))
    assert np.isfinite(dsk.coef_).all() and not np.array_equal(dsk.coef_, before)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_diverged_continuation_changes_nothing(client, how):
    """A Dask partial_fit or warm-start fit that diverges leaves the
    estimator as it was (its training state and coef_), as in memory."""
    X, y = make_data(12)
    Xd, yd = to_dask(X * 50.0, 400), to_dask(y, 400)
    clf = LogisticRegression(**SGD, warm_start=how == "warm_start")

    def go():
        if how == "partial_fit":
            return clf.partial_fit(Xd, yd, classes=np.unique(y))
        return clf.fit(Xd, yd)

    go()
    st = clf.training_state_
    before = {name: getattr(st, name).copy() for name in st.ARRAYS}
    coef = clf.coef_.copy()
    clf.set_params(lr=1e4)
    with pytest.raises(fastlr.DivergedError):
        go()
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(clf.training_state_, name), value,
                                      err_msg=name)
    np.testing.assert_array_equal(clf.coef_, coef)


def test_early_stopping_on_distributed_heldout(client):
    X, y = make_data(12, m=2000)
    clf = LogisticRegression(solver="sgd", early_stopping=True, max_iter=50,
                             tol=1e-3, n_iter_no_change=2, lr=0.05,
                             random_state=0)
    clf.fit(to_dask(X, 500), to_dask(y, 500))
    assert clf.validation_scores_.shape == (clf.n_iter_,)
    assert clf.n_iter_ < 50
    assert clf.best_validation_score_ == clf.validation_scores_.max()
    assert -clf.best_validation_score_ < np.log(2)


# --------------------------------------------------------------------------
# lost workers


def _fit_with(client, event, X, y):
    """A mixing fit on 4 blocks whose ``event(epoch)`` runs after each epoch
    (the callback of the progress bar is fastlr.distributed's)."""
    Xd, yd = to_dask(X, X.shape[0] // 4), to_dask(y, X.shape[0] // 4)
    return fdist.train(Xd, yd, batch_size=50, epochs=6, lr=0.05, random_state=0,
                       client=client, callback=event)


@pytest.mark.slow
def test_killed_worker_loses_nothing(client):
    """SIGKILL one worker process while an epoch's tasks run: its blocks
    are recomputed from the graph elsewhere, its task reruns from the same
    inputs, and the model equals the run without a failure bit for bit."""
    X, y = make_data(13, m=40_000, n=20)
    y = (y == "ab").astype(np.int64)
    clean = _fit_with(client, None, X, y)
    pids = client.run(os.getpid)
    killed = []

    def event(epoch, loss):
        if epoch == 2:
            pid = sorted(pids.values())[0]
            killed.append(pid)
            # lands while epoch 3's block tasks run
            threading.Timer(0.01, os.kill, (pid, signal.SIGKILL)).start()

    hit = _fit_with(client, event, X, y)
    assert killed
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != set(pids.values())
    np.testing.assert_array_equal(hit.w, clean.w)
    assert hit.b == clean.b
    np.testing.assert_array_equal(hit.losses, clean.losses)


@pytest.mark.slow
def test_workers_restarting_between_epochs(client):
    X, y = make_data(14, m=8000)
    y = (y == "ab").astype(np.int64)
    clean = _fit_with(client, None, X, y)
    restarted = []

    def event(epoch, loss):
        if epoch in (2, 4):   # each time a live worker (one that answers
            # client.run: the scheduler may still list a killed one), and its
            # blocks with it
            first = sorted(client.run(os.getpid))[0]
            client.restart_workers([first], timeout=300)
            restarted.append(first)

    hit = _fit_with(client, event, X, y)
    assert len(restarted) == 2
    np.testing.assert_array_equal(hit.w, clean.w)
    np.testing.assert_array_equal(hit.losses, clean.losses)


# --------------------------------------------------------------------------
# bad input


def test_bad_input(client):
    X, y = make_data(15)
    Xd = to_dask(X, 200)
    clf = LogisticRegression(**SGD)
    with pytest.raises(ValueError, match="y's blocks are not aligned with X's row"):
        clf.fit(Xd, to_dask(y, 300))
    with pytest.raises(ValueError, match="sample_weight's blocks are not aligned"):
        clf.fit(Xd, to_dask(y, 200), sample_weight=to_dask(np.ones(800), 100))
    Xu = Xd[Xd[:, 0] > -np.inf]
    with pytest.raises(ValueError, match=r"X has unknown chunk sizes.*"
                                         r"compute_chunk_sizes"):
        clf.fit(Xu, y)
    Xn = X.copy()
    Xn[[433, 450], 2] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN.*row block 2, rows 400 "
                                         r"to 599; rows \[433, 450\]"):
        clf.fit(to_dask(Xn, 200), to_dask(y, 200))
    one = np.full(800, "ab")
    with pytest.raises(ValueError, match="y contains only one class"):
        clf.fit(Xd, to_dask(one, 200))
    # labels missing from some blocks are fine
    order = np.argsort(y, kind="stable")
    clf.fit(to_dask(X[order], 200), to_dask(y[order], 200))
    assert clf.classes_.tolist() == ["ab", "cd"]   # each block holds one
    # column chunks are merged: the same model
    a = LogisticRegression(**SGD).fit(da.from_array(X, chunks=(200, 2)),
                                      to_dask(y, 200))
    b = LogisticRegression(**SGD).fit(Xd, to_dask(y, 200))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    with pytest.raises(ValueError, match="X has 5 features, but the model was "
                                         "fitted with 6"):
        b.predict(Xd[:, :5])
    with pytest.raises(ValueError, match="sample_weight .* is zero for every "):
        LogisticRegression(**SGD).partial_fit(
            Xd, to_dask(y, 200), classes=np.unique(y),
            sample_weight=to_dask(np.zeros(800), 200))
    # all-zero weights: the message names what was given, as in memory
    zeros = to_dask(np.zeros(800), 200)
    with pytest.raises(ValueError, match=r"^sample_weight is zero for every "
                                         r"training sample; at least one must "
                                         r"be positive$"):
        LogisticRegression(**SGD).fit(Xd, to_dask(y, 200), sample_weight=zeros)
    none = {label: 0.0 for label in np.unique(y).tolist()}
    with pytest.raises(ValueError, match=r"^class_weight gives every training "
                                         r"sample weight zero"):
        LogisticRegression(class_weight=none, **SGD).fit(Xd, to_dask(y, 200))
    with pytest.raises(ValueError, match=r"^sample_weight times class_weight gives "
                                         r"every training sample weight zero"):
        LogisticRegression(class_weight=none, **SGD).fit(
            Xd, to_dask(y, 200), sample_weight=to_dask(np.ones(800), 200))


def test_weighted_fit_rows_count_as_rows_in_running_statistics(client):
    """A weighted fit's running statistics count its rows as rows, whatever
    the weights' scale, as in memory (its standardization stays the
    weighted one)."""
    X, y = make_data(15)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    sw[::5] = 0.0
    kw = dict(SGD, class_weight={np.unique(y)[0].item(): 2.0})
    for c in (0.25, 1.0, 4.0):   # (inside the band: SGD warns outside it)
        a = LogisticRegression(**kw).fit(to_dask(X, 200), to_dask(y, 200),
                                         sample_weight=to_dask(c * sw, 200))
        b = LogisticRegression(**kw).fit(X, y, sample_weight=c * sw)
        assert a.training_state_.moments.rows == b.training_state_.moments.rows \
            == np.count_nonzero(sw)
        np.testing.assert_allclose(a.training_state_.moments.m2,
                                   b.training_state_.moments.m2, rtol=1e-10)


def test_sgd_warns_of_weights_far_from_mean_1_as_in_memory(client):
    X, y = make_data(15)
    Xd, yd = to_dask(X, 200), to_dask(y, 200)
    for mean, warns in [(16.0, False), (1 / 16.5, True), (100.0, True)]:
        sw = np.full(800, mean)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            LogisticRegression(**SGD).fit(Xd, yd, sample_weight=to_dask(sw, 200))
            fdist.train(Xd, (yd == yd[0]).astype(int), epochs=2,
                        sample_weight=to_dask(sw, 200))
        got = [str(w.message) for w in caught
               if issubclass(w.category, fastlr.WeightScaleWarning)]
        assert len(got) == 2 * warns, (mean, got)
        if warns:
            assert all(g.startswith(f"sample_weight has mean {mean:.3g} ")
                       for g in got)


def test_misaligned_dask_series_is_told_to_repartition(client):
    """A dask Series has partitions and no ``rechunk``, which the error told
    its user to call: it says ``repartition`` there, and that works; a dask
    array is still told to rechunk."""
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    X, y = make_data(16)
    ddf = dd.from_pandas(pd.DataFrame(X, columns=list("abcdef")), npartitions=2)
    ys = dd.from_pandas(pd.Series(y), npartitions=3)
    clf = LogisticRegression(**SGD)
    with pytest.raises(ValueError, match=r"y's blocks are not aligned .*; take X and y "
                                         r"from one dask DataFrame .*repartition y as "
                                         r"X's rows are \(y\.repartition\("
                                         r"divisions=X\.divisions\) where"):
        clf.fit(ddf, ys)
    clf.fit(ddf, ys.repartition(divisions=ddf.divisions))
    # the first advice, where X's divisions are unknown (as read_csv gives)
    frame = pd.DataFrame(X, columns=list("abcdef")).assign(label=y)
    df = dd.from_pandas(frame, npartitions=2).clear_divisions()
    clf.fit(df[list("abcdef")], df["label"])
    with pytest.raises(ValueError, match=r"; rechunk y to X\.chunks\[0\]$"):
        clf.fit(to_dask(X, 200), to_dask(y, 300))


def _dask_calls(X, y, fitted):
    """Every estimator method on the dask DataFrame X (labels y), computed."""
    return {
        "fit": lambda: LogisticRegression(**SGD).fit(X, y),
        "partial_fit": lambda: LogisticRegression(**SGD).partial_fit(
            X, y, classes=fitted.classes_),
        "decision_function": lambda: fitted.decision_function(X).compute(),
        "predict_proba": lambda: fitted.predict_proba(X).compute(),
        "predict_log_proba": lambda: fitted.predict_log_proba(X).compute(),
        "predict": lambda: fitted.predict(X).compute(),
        "score": lambda: fitted.score(X, y),
    }


@pytest.mark.parametrize("kind", ["string", "object", "category"])
def test_dataframe_text_column_refused_as_in_memory(client, monkeypatch, kind):
    """A text column that is not numbers is refused with the in-memory fit's
    TypeError, naming X and the column, plus the row block holding the
    text: by fit and partial_fit before any training, by every prediction
    (with its rows: a DataFrame's partition lengths are computed)."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(16, m=400)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    text = np.array(["1.5"] * 300 + ["abc"] * 100, dtype=object)  # in block 3
    df["s"] = pd.Series(text, dtype={"string": "string", "object": object,
                                     "category": "category"}[kind])
    words = (r"X must contain numbers, got column 's' of dtype \w+ with a "
             r"non-numeric value \(could not convert string to float: 'abc'\)")
    with pytest.raises(TypeError, match=f"^{words}$"):
        LogisticRegression(**SGD).fit(df, y)   # in memory
    Xd = dd.from_pandas(df, npartitions=4)
    assert Xd.map_partitions(len).compute().tolist() == [100] * 4
    yd = dd.from_pandas(pd.Series(y), npartitions=4)
    fitted = LogisticRegression(**SGD).fit(df.assign(s=1.5), y)

    def no_training(*args, **kwargs):
        raise AssertionError("trained on a refused X")

    monkeypatch.setattr(fdist, "_fit_state", no_training)
    for method, call in _dask_calls(Xd, yd, fitted).items():
        with pytest.raises(TypeError, match=f"^{words} "
                                            r"\(row block 3, rows 300 to 399\)$"):
            call()
            pytest.fail(method)


#: Column dtypes the in-memory fit refuses by their dtype alone
REFUSED_DTYPES = {
    "datetime64": lambda pd: pd.date_range("2020", periods=400),
    "datetime64_tz": lambda pd: pd.date_range("2020", periods=400, tz="UTC"),
    "timedelta64": lambda pd: pd.to_timedelta(np.arange(400), unit="s"),
    "complex": lambda pd: np.arange(400) + 1j,
}


def _never(df):
    raise AssertionError("a block of X was computed")


@pytest.mark.parametrize("kind", sorted(REFUSED_DTYPES))
def test_dataframe_dtypes_refused_before_anything_is_computed(client, kind):
    """Dates, durations and complex columns: the in-memory fit's exception
    and message, from the dtypes alone (no block of X computed)."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(18, m=400)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    df["s"] = REFUSED_DTYPES[kind](pd)
    with pytest.raises((TypeError, ValueError)) as mem:
        LogisticRegression(**SGD).fit(df, y)   # in memory
    assert re.match("^X must have a numeric dtype|^Complex data not supported",
                    str(mem.value))
    Xd = dd.from_pandas(df, npartitions=4).map_partitions(_never, meta=df.iloc[:0])
    yd = dd.from_pandas(pd.Series(y), npartitions=4)
    fitted = LogisticRegression(**SGD).fit(df.assign(s=1.5), y)
    for method, call in _dask_calls(Xd, yd, fitted).items():
        with pytest.raises(type(mem.value), match=f"^{re.escape(str(mem.value))}$"):
            call()
            pytest.fail(method)


def test_a_column_the_model_was_not_fitted_with_is_named_as_in_memory():
    """A dask DataFrame with one column more than the fit's (the label left
    in X): predictions and score said only 'X has 4 features, but the model
    was fitted with 3 features' (score after computing X's partition
    lengths), where in memory scikit-learn names the column. Now its
    message, from the names alone: nothing computed."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = _two_class()
    frame = pd.DataFrame(X, columns=list("abc"))
    ys = pd.Series(y, name="label")
    clf = LogisticRegression(**QUIET).fit(dd.from_pandas(frame, npartitions=2),
                                          dd.from_pandas(ys, npartitions=2))
    full = frame.assign(label=y)
    with pytest.raises(ValueError) as mem:
        clf.predict(full)
    assert "Feature names unseen at fit time:\n- label\n" in str(mem.value)
    Xd = dd.from_pandas(full, npartitions=2).map_partitions(_never, meta=full.iloc[:0])
    yd = dd.from_pandas(ys, npartitions=2)
    for method in ("predict", "predict_proba", "decision_function", "score"):
        args = (Xd, yd) if method == "score" else (Xd,)
        with pytest.raises(ValueError, match=f"^{re.escape(str(mem.value))}$"):
            getattr(clf, method)(*args)


def test_dataframe_missing_values_refused_as_in_memory(client):
    """pandas' NA in a nullable column is NaN, refused as in memory (with the
    block and rows)."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(19, m=400)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    df["s"] = pd.array([1] * 250 + [None] + [2] * 149, dtype="Int64")
    with pytest.raises(ValueError, match="^X contains NaN or infinity"):
        LogisticRegression(**SGD).fit(df, y)   # in memory
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity .*row block "
                                         r"2, rows 200 to 299; rows \[250\]"):
        LogisticRegression(**SGD).fit(dd.from_pandas(df, npartitions=4),
                                      dd.from_pandas(pd.Series(y), npartitions=4))


def test_closed_client():
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                       processes=False, dashboard_address=":0")
    cl = distributed.Client(cluster, set_as_default=False)
    cl.close()
    cluster.close()
    X = da.from_array(np.arange(20.0).reshape(10, 2), chunks=5)
    with pytest.raises(ValueError, match="client is closed"):
        fdist.train(X, np.arange(10) % 2, client=cl)


def test_train_runs_on_the_client_it_is_given():
    """train(client=B) with B not the default client: every task runs on B.
    Waiting for the persisted blocks asked the default client (none: "No
    clients found"), and a DataFrame's partition lengths were computed by
    dask's current scheduler (the default client, or threads here)."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(24, m=400)
    y = (y == "ab").astype(np.int64)
    df = dd.from_pandas(pd.DataFrame(X, columns=[f"f{j}" for j in range(6)]),
                        npartitions=4)
    ys = dd.from_pandas(pd.Series(y), npartitions=4)
    fit = dict(batch_size=50, epochs=2, random_state=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as other:
        with distributed.get_task_stream(client=other) as stream:
            got = fdist.train(df, ys, client=other, **fit)
        expected = fdist.train(to_dask(X, 100), to_dask(y, 100), client=other, **fit)
    names = {task["key"].split("-")[0] if isinstance(task["key"], str)
             else str(task["key"][0]).split("-")[0] for task in stream.data}
    assert "len" in names, names
    np.testing.assert_array_equal(got.w, expected.w)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_a_client_closed_during_a_fit_is_named(solver):
    """client.close() between two epochs (or iterations): dask's own error
    spoke of futures "cancelled for reason: unknown" with fastlr's task
    keys; it is now ClientClosedError, saying what happened."""
    X, y = make_data(23, m=400)
    Xd, yd = to_dask(X, 100), to_dask((y == "ab").astype(np.int64), 100)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        cl = distributed.Client(cluster, set_as_default=False)

        def event(epoch, loss):
            if epoch == 2:
                cl.close()

        with pytest.raises(fdist.ClientClosedError,
                           match=r"^the Dask client was closed while this call ran "
                                 r"\(its status is now 'closed'\).*run it again"):
            fdist.train(Xd, yd, epochs=5, solver=solver, batch_size=50,
                        random_state=0, client=cl, callback=event)


def test_an_asynchronous_client_on_its_loop_is_refused_by_name():
    """fit (on the current client) and train(client=...) called on an
    asynchronous client's event loop: a ValueError naming the client and
    the way out (it was "'coroutine' object is not iterable"); the same
    fit from a thread works."""
    import asyncio

    X, y = make_data(19, m=400)
    Xd, yd = to_dask(X, 200), to_dask(y, 200)

    async def main(address):
        async with distributed.Client(address, asynchronous=True) as ac:
            with pytest.raises(ValueError, match=r"^the current client \(distributed"
                               r"\.get_client\(\)\) is asynchronous.*asyncio"
                               r"\.to_thread"):
                LogisticRegression(**SGD).fit(Xd, yd)
            with pytest.raises(ValueError, match="^client is asynchronous"):
                fdist.train(Xd, yd, epochs=1, client=ac)
            est = await asyncio.to_thread(LogisticRegression(**SGD).fit, Xd, yd)
            return est.coef_

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        coef = asyncio.run(main(cluster.scheduler_address))
    np.testing.assert_array_equal(coef, LogisticRegression(**SGD).fit(Xd, yd).coef_)


def test_without_dask_nothing_changes():
    """In-memory fits never import dask (it stays optional)."""
    code = ("import sys, numpy as np, fastlr; "
            "X = np.random.default_rng(0).normal(size=(50, 3)); "
            "fastlr.LogisticRegression().fit(X, X[:, 0] > 0).predict(X); "
            "assert 'dask' not in sys.modules, 'dask imported'")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=600)


@pytest.mark.slow
def test_cost_model_tables():
    """fastlr bench --dask's tables, CI-sized: the overhead line is fitted
    through what was measured, and the paper estimate adds compute that
    shrinks with the workers to the overhead."""
    import socket

    from fastlr import dask_bench

    # with dask's default dashboard port taken (a cluster of the user's, or
    # another test's), as warnings are errors here: it warned and failed
    with socket.socket() as taken:
        with contextlib.suppress(OSError):   # already taken
            taken.bind(("0.0.0.0", 8787))
            taken.listen()
        cost = dask_bench.cost_table(rows=4000, features=5, blocks=(2, 4), epochs=3,
                                     repeats=1)
    assert cost["single"] > 0 and cost["dask"] > 0 and cost["rate"] > 0
    assert set(cost["overhead"]) == {2, 4}
    line = [cost["fixed"] + cost["per_block"] * b for b in (2, 4)]
    over = np.array([cost["overhead"][2], cost["overhead"][4]])
    if cost["fixed"] > 0:
        np.testing.assert_allclose(line, over, rtol=1e-9)
    else:
        # a negative free intercept (timing noise: CI measured 25.5 and 59.0
        # ms, a line through them starts at -8.1 ms) is held at 0: the
        # least-squares line through the origin (dask_bench.overhead_line)
        blocks = np.array([2.0, 4.0])
        assert cost["fixed"] == 0.0
        assert cost["per_block"] == pytest.approx(blocks @ over / (blocks @ blocks))
    est = dask_bench.paper_estimate(cost)["estimate"]
    assert est[10]["compute"] == pytest.approx(10 * est[100]["compute"])
    for e in est.values():
        assert e["epoch"] == pytest.approx(e["compute"] + e["overhead"])
    assert "1 TB" in dask_bench.format_tables(cost, dask_bench.paper_estimate(cost),
                                              None)


#: A few epochs, no convergence test (warnings are errors in the tests)
QUIET = dict(solver="sgd", max_iter=3, tol=None)


def _two_class(seed=1, m=100):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    return X, (X[:, 0] + 0.3 * rng.normal(size=m) > 0).astype(int)


def test_empty_blocks_are_predicted_and_scored():
    """A row block of 0 rows (a filtered DataFrame's partition): fit skips
    it, but every prediction raised 'X is empty: shape (0, 3)' from it."""
    X, y = _two_class()
    dX = da.from_array(X, chunks=((50, 0, 50), 3))
    dy = da.from_array(y, chunks=((50, 0, 50),))
    clf = LogisticRegression(**QUIET).fit(dX, dy)
    np.testing.assert_allclose(clf.predict_proba(dX).compute(), clf.predict_proba(X),
                               rtol=1e-15)
    assert clf.decision_function(dX).compute().shape == (100,)
    assert clf.predict(dX).compute().tolist() == clf.predict(X).tolist()
    assert clf.score(dX, dy) == clf.score(X, y)


def test_a_regression_target_is_refused_as_in_memory():
    """Float labels that are not whole numbers: in memory scikit-learn's
    'Unknown label type: continuous'; on Dask they trained a softmax with a
    class per distinct value."""
    X, _ = _two_class()
    y = np.random.default_rng(2).normal(size=100)
    for Xa, ya in ((X, y), (to_dask(X, 30), to_dask(y, 30))):
        with pytest.raises(ValueError, match="Unknown label type: continuous"):
            LogisticRegression(**QUIET).fit(Xa, ya)


@pytest.mark.parametrize("dtype", ["Int64", "boolean", "Float64"])
def test_nullable_labels_give_the_in_memory_classes(dtype, tmp_path):
    """pandas' nullable label dtypes: in memory classes_ are float64; on
    Dask they were objects, predictions were objects and the model could
    not be saved without pickle."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _two_class()
    ys = pd.Series(y.astype(bool) if dtype == "boolean" else y, dtype=dtype)
    mem = LogisticRegression(**QUIET).fit(X, ys)
    dX = dd.from_pandas(pd.DataFrame(X, columns=list("abc")), npartitions=2)
    clf = LogisticRegression(**QUIET).fit(dX, dd.from_pandas(ys, npartitions=2))
    assert clf.classes_.dtype == mem.classes_.dtype == np.float64
    np.testing.assert_array_equal(clf.classes_, mem.classes_)
    assert clf.predict(dX).compute().dtype == np.float64
    fastlr.save(clf, tmp_path / "m.npz")
    np.testing.assert_array_equal(fastlr.load(tmp_path / "m.npz").classes_, mem.classes_)


def test_score_refuses_what_score_refuses_in_memory():
    """Dask ``score`` read y and sample_weight unchecked: a NaN label
    counted as a miss (0.99), NaN or all-zero weights gave nan, and labels
    of another kind than the classes ('0'/'1' for 0/1) gave 0.0."""
    X, y = _two_class()
    dX = to_dask(X, 30)
    clf = LogisticRegression(**QUIET).fit(dX, to_dask(y, 30))
    ynan = y.astype(float)
    ynan[40] = np.nan
    with pytest.raises(ValueError, match=r"^y contains NaN .*first at row 40"):
        clf.score(dX, to_dask(ynan, 30))
    sw = np.ones(100)
    sw[70] = np.nan
    with pytest.raises(ValueError, match=r"^sample_weight contains NaN .*row 70"):
        clf.score(dX, to_dask(y, 30), sample_weight=to_dask(sw, 30))
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        clf.score(dX, to_dask(y, 30), sample_weight=np.zeros(100))
    with pytest.raises(ValueError, match="^y holds strings and the predicted labels"):
        clf.score(dX, to_dask(y.astype(str), 30))
    assert clf.score(dX, to_dask(y, 30), sample_weight=np.ones(100)) == clf.score(X, y)


def test_score_pairs_blocks_of_unknown_chunk_sizes():
    """X[mask], y[mask] (and sample_weight[mask]) of one dask mask, or the
    arrays of a dask DataFrame's .values: predict took them, score refused
    them ("X has unknown chunk sizes"). Their blocks are paired one to one,
    each pair's lengths checked in its task, naming y or sample_weight; a
    numpy y, or a dask y of another number of blocks, is still refused."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _two_class(m=200)
    clf = LogisticRegression(**QUIET).fit(X, y)
    w = np.random.default_rng(3).uniform(size=200)
    dX, dy, dw = to_dask(X, 50), to_dask(y, 50), to_dask(w, 50)
    keep = X[:, 1] > 0
    mask = dX[:, 1] > 0
    assert np.isnan(dX[mask].chunks[0]).all() and np.isnan(dy[mask].chunks[0]).all()
    want = clf.score(X[keep], y[keep])
    assert clf.score(dX[mask], dy[mask]) == want
    assert fdist.score(clf, dX[mask], dy[mask]) == want
    assert clf.score(dX[mask], dy[mask], sample_weight=dw[mask]) == pytest.approx(
        clf.score(X[keep], y[keep], sample_weight=w[keep]), rel=1e-14)
    # one side known, the other not; a block the mask empties
    assert clf.score(dX[mask].compute_chunk_sizes(), dy[mask]) == want
    assert clf.score(dX[mask], dy[mask].compute_chunk_sizes()) == want
    first = da.concatenate([da.zeros(50, dtype=bool, chunks=50), dX[50:, 0] < 99])
    assert clf.score(dX[first], dy[first]) == clf.score(X[50:], y[50:])
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abc")).assign(t=y),
                           npartitions=3)
    values = frame[["a", "b", "c"]].values
    assert np.isnan(values.chunks[0]).all()
    assert clf.score(values, frame["t"].values) == clf.score(values, frame["t"]) \
        == clf.score(X, y)
    # blocks of different lengths: named in the task
    with pytest.raises(ValueError, match=r"^X's row block \d has \d+ rows but y's "
                       r"has 50; .* paired one to one"):
        clf.score(dX[mask], dy)
    with pytest.raises(ValueError, match=r"^X's row block \d has \d+ rows but "
                       r"sample_weight's has 50;"):
        clf.score(dX[mask], dy[mask], sample_weight=dw)
    with pytest.raises(ValueError, match=r"^X's row block \d \(rows \d+ to \d+\) "
                       r"has 50 rows but y's has \d+;"):
        clf.score(dX, dy[mask])
    ynan = y.astype(float)
    ynan[np.flatnonzero(keep)[np.flatnonzero(keep) >= 100][2]] = np.nan
    with pytest.raises(ValueError, match=r"^y's row block 2 contains NaN or "
                       r"infinity \(first at row 2\)$"):
        clf.score(dX[mask], to_dask(ynan, 50)[mask])
    # blocks that cannot be paired: refused as before
    with pytest.raises(ValueError, match=r"^X has unknown chunk sizes.*a numpy y "
                       r"cannot be cut.*compute_chunk_sizes"):
        clf.score(dX[mask], y[keep])
    with pytest.raises(ValueError, match=r"^X has unknown chunk sizes.*y's 5 row "
                       r"blocks cannot be paired with X's 4"):
        clf.score(dX[mask], to_dask(y[keep], -(-keep.sum() // 5)))
    # both unknown: both named, so that following the advice is enough
    y_unknown = to_dask(y, 200)[to_dask(keep, 200)]
    with pytest.raises(ValueError, match=r"^X and y have unknown chunk sizes.*"
                       r"call X.compute_chunk_sizes\(\) and y.compute_chunk_sizes"):
        clf.score(dX[mask], y_unknown)


def test_a_1d_x_is_refused_naming_x():
    """A 1-D dask X raised IndexError (its width read before the check)."""
    X, y = _two_class()
    clf = LogisticRegression(**QUIET).fit(X, y)
    x1 = to_dask(X[:, 0], 30)
    for call in (lambda: LogisticRegression(**QUIET).fit(x1, to_dask(y, 30)),
                 lambda: clf.predict(x1), lambda: clf.predict_proba(x1)):
        with pytest.raises(ValueError, match="^X must be 2-D"):
            call()


def test_a_nan_in_prediction_is_named_by_its_row_of_x():
    """Prediction named the row within its block (row 20 for row 170 in
    blocks of 50), where fit and the in-memory path name the row of X."""
    X, y = _two_class(m=200)
    clf = LogisticRegression(**QUIET).fit(X, y)
    X[170, 1] = np.nan
    for call in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(ValueError, match=r"first at row 170, column 1"):
            call(to_dask(X, 50)).compute()


def test_a_loaded_model_continues_on_many_blocks_as_the_saved_one(tmp_path):
    """A saved model's partial_fit on a Dask array of several blocks equals
    the model's own continuation, bit for bit, at every load: the blocks'
    generators come from the generator's state, which the file holds (they
    came from its SeedSequence, which it does not: each load shuffled the
    blocks after the first by fresh entropy, 1e-3 apart in predict_proba)."""
    import copy

    import dask

    X, y = make_data(21, m=1200, n=5)
    clf = LogisticRegression(**SGD).fit(X, y)
    fastlr.save(clf, tmp_path / "m.npz")
    with dask.config.set(scheduler="synchronous"):
        Xd, yd = to_dask(X, 300), to_dask(y, 300)
        want = copy.deepcopy(clf).partial_fit(Xd, yd)
        for _ in range(2):
            got = fastlr.load(tmp_path / "m.npz").partial_fit(Xd, yd)
            np.testing.assert_array_equal(got.coef_, want.coef_)
            np.testing.assert_array_equal(got.intercept_, want.intercept_)


@pytest.mark.parametrize("cw, sw, match", [
    ({"ab": 1e10}, 1e300, r"^sample_weight times class_weight is beyond float64"),
    ({"ab": 1e-160, "cd": 1e-160}, 1e-160,
     r"^sample_weight \(times class_weight\) sums to .*, below float64's normal"),
    (None, 1e307, r"^sample_weight \(times class_weight\) sums to more than float64"),
])
def test_weights_float64_cannot_hold_are_refused_on_dask(client, cw, sw, match):
    """As in memory: class weights times sample weights beyond float64, or
    a total outside its normal range, are refused naming them (the fit
    ended in a DivergedError that blamed lr and the features)."""
    X, y = make_data(1)
    m = X.shape[0]
    with pytest.raises(ValueError, match=match):
        LogisticRegression(**SGD, class_weight=cw).fit(
            to_dask(X, m // 2), to_dask(y, m // 2),
            sample_weight=to_dask(np.full(m, sw), m // 2))


def test_a_model_set_by_hand_of_the_wrong_shape_is_named_on_dask():
    """As in memory: coef_ or intercept_ set by hand in another shape than
    fit's is refused naming them (a coef_ of the wrong width predicted on
    a dask X without a word)."""
    X, y = make_data(2)
    clf = LogisticRegression(**SGD).fit(X, y)
    Xd = to_dask(X, 400)
    clf.coef_ = np.ones((1, X.shape[1] - 1))
    with pytest.raises(ValueError, match=r"^coef_ has shape \(1, 5\); .* needs \(1, 6\)"):
        clf.predict_proba(Xd)
    clf.coef_, clf.intercept_ = np.ones((1, X.shape[1])), np.zeros(2)
    with pytest.raises(ValueError, match=r"^intercept_ has shape \(2,\)"):
        clf.decision_function(Xd)


def _from_delayed(blocks):
    """A dask array of these blocks as ``da.from_delayed`` builds it from
    files: an ndarray meta, whatever the blocks are."""
    import dask

    return da.concatenate([da.from_delayed(dask.delayed(b), shape=b.shape,
                                           dtype=b.dtype) for b in blocks])


@pytest.mark.parametrize("standardize", [True, "scale"])
def test_csr_blocks_behind_an_ndarray_meta_train_as_csr(standardize):
    """CSR blocks of ``da.from_delayed`` (an ndarray meta) were standardized
    as dense: a wrong column scale and model with standardize='scale', and
    standardize=True refused as a warm start on dense X. Sparsity is now
    read from the converted blocks: one block is the in-memory CSR fit."""
    X, y = make_data(4, sparse=True)
    Xd = _from_delayed([X])
    assert type(Xd._meta) is np.ndarray
    kw = dict(SGD, standardize=standardize)
    want = LogisticRegression(**kw).fit(X, y)
    got = LogisticRegression(**kw).fit(Xd, to_dask(y, X.shape[0]))
    np.testing.assert_allclose(got.training_state_.scale, want.training_state_.scale,
                               rtol=1e-12)
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=ONE_BLOCK_RTOL,
                               atol=ONE_BLOCK_RTOL * np.abs(want.coef_).max())


def test_blocks_mixing_csr_and_dense_are_refused_naming_x():
    """Blocks of both kinds behind one dask array trained to another optimum
    (CSR first) or failed with a bare numpy error (dense first)."""
    X, y = make_data(5, m=400)
    Xs = sp.csr_matrix(X)
    for parts in ([Xs[:200], X[200:]], [X[:200], Xs[200:]]):
        with pytest.raises(ValueError, match=r"^X's row blocks mix sparse matrices "
                                             r"\(row blocks \[\d\]\) and dense"):
            LogisticRegression(**SGD).fit(_from_delayed(parts), to_dask(y, 200))


def _lying(block, shape, dtype=None):
    """A dask array of one block whose chunk declares ``shape`` (and
    ``dtype``: the block's when None)."""
    import dask

    return da.from_delayed(dask.delayed(lambda: block)(), shape=shape,
                           dtype=block.dtype if dtype is None else dtype)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_a_block_of_another_length_than_declared_is_refused(solver):
    """X's chunk sizes are metadata: a block with fewer real rows than its
    labels trained silently on shifted (X, y) pairs, one with more read
    labels past the end of its block (garbage, or an all-zero model); a
    block narrower than declared failed with a bare numpy error at fit and
    was predicted from the first columns; a short sample_weight block failed
    with numpy's words. All are refused naming X, y or sample_weight, and
    the fitted estimator is left as it was."""
    X, y = _two_class(m=300)
    X = np.c_[X, X[:, :1]]
    yd = to_dask(y, 100)
    clf = LogisticRegression(**dict(QUIET, solver=solver)).fit(X, y)
    coef = clf.coef_.copy()
    for last in (X[200:298], np.r_[X[200:], X[:5]]):
        Xd = da.concatenate([to_dask(X[:200], 100), _lying(last, (100, 4))])
        with pytest.raises(ValueError, match=rf"^row block 2 \(rows 200 to 299 by "
                                             rf"X.chunks\) has {len(last)} rows of X "
                                             r"and 100 rows of y; the blocks of X and "
                                             r"y must have the 100 rows"):
            clf.fit(Xd, yd)
        with pytest.raises(ValueError, match=rf"has {len(last)} rows of X"):
            clf.predict_proba(Xd).compute()
    narrow = da.concatenate([to_dask(X[:200], 100), _lying(X[200:, :3], (100, 4))])
    match = r"^X's row block 2 \(rows 200 to 299\) has 3 columns, but X declares 4"
    with pytest.raises(ValueError, match=match):
        clf.fit(narrow, yd)
    with pytest.raises(ValueError, match=match):
        clf.predict_proba(narrow).compute()
    sw = da.concatenate([to_dask(np.ones(200), 100), _lying(np.ones(98), (100,))])
    with pytest.raises(ValueError, match=r"has 100 rows of y and 98 rows of "
                                         r"sample_weight"):
        clf.fit(to_dask(X, 100), yd, sample_weight=sw)
    np.testing.assert_array_equal(clf.coef_, coef)


def test_a_block_not_2d_is_named_and_a_list_block_is_predicted():
    """A block that is not the 2-D array its chunk declares (a loader that
    returns one column) failed with NumPy's AxisError at fit and an
    IndexError at prediction, naming neither X nor the block; a block that
    is a list of rows trained, but its prediction raised an AttributeError.
    Now the 2-D rule's message with the block at fit and prediction alike
    (the fitted model left as it was), and a list is predicted as fit
    reads it."""
    X, y = _two_class(m=200)
    yd = to_dask(y, 100)
    clf = LogisticRegression(**QUIET, random_state=0).fit(to_dask(X, 100), yd)
    coef = clf.coef_.copy()
    flat = da.concatenate([to_dask(X[:100], 100), _lying(X[100:, 0], (100, 3),
                                                         X.dtype)])
    match = (r"^X must be a 2-D array of shape \(n_samples, n_features\), got 1-D "
             r"with shape \(100,\) \(row block 1, rows 100 to 199\)$")
    with pytest.raises(ValueError, match=match):
        clf.fit(flat, yd)
    np.testing.assert_array_equal(clf.coef_, coef)
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(ValueError, match=match):
            getattr(clf, method)(flat).compute()
    listed = da.concatenate([to_dask(X[:100], 100),
                             _lying(X[100:].tolist(), (100, 3), X.dtype)])
    np.testing.assert_array_equal(clf.predict_proba(listed).compute(),
                                  clf.predict_proba(to_dask(X, 100)).compute())
    again = LogisticRegression(**QUIET, random_state=0).fit(listed, yd)
    np.testing.assert_array_equal(again.coef_, coef)


@pytest.mark.parametrize("k", [2, 3])
def test_label_blocks_of_text_and_numbers_are_refused_as_in_memory(k, monkeypatch):
    """y blocks of numbers next to blocks of text (a file whose label column
    was read as text: 0/1 and '0'/'1', or bools and 'True'/'False'): NumPy's
    concatenation made the numbers text, and every row of their blocks was
    then trained as the first class (binary: a coefficient of 18 fell to
    1.5), silently. The same y as one array is refused in memory; on Dask
    by fit and partial_fit alike, naming y and the blocks, before any block
    is converted, a fitted model left as it was. Blocks of numbers of
    several dtypes (ints, floats, bools) still train as one."""
    X, _ = _two_class(m=200)
    y = np.digitize(X[:, 0], [0.0] if k == 2 else [-0.5, 0.5])
    Xd = to_dask(X, 100)
    pairs = [(y[:100], y[100:].astype(str)), (y[:100].astype(str), y[100:])]
    if k == 2:
        pairs.append((y[:100].astype(bool), y[100:].astype(bool).astype(str)))
    clf = LogisticRegression(**QUIET).fit(X, y.astype(str))
    coef = clf.coef_.copy()
    for a, b in pairs:
        # (declared objects: dask casts blocks declared of another dtype)
        ys = da.concatenate([_lying(a, a.shape, object), _lying(b, b.shape, object)])
        with pytest.raises((TypeError, ValueError),
                           match="mixes labels|Unknown label type"):
            LogisticRegression(**QUIET).fit(X, np.r_[a.astype(object),
                                                     b.astype(object)])
        text = 0 if a.dtype.kind == "U" else 1
        match = (rf"^y mixes labels that cannot be sorted together \(of types "
                 rf"{'bool' if a.dtype == bool else 'int'}, str: .*\(the labels of "
                 rf"row blocks \[{text}\] are text, of row blocks \[{1 - text}\] "
                 r"not\)$")
        with monkeypatch.context() as m:
            m.setattr(fdist, "_Blocks", None)   # nothing converted before
            for est, kw in ((clf, {}), (clf, {"classes": None}),
                            (LogisticRegression(**QUIET), {"classes": np.unique(b)})):
                with pytest.raises(TypeError, match=match):
                    if kw:
                        est.partial_fit(Xd, ys, **kw)
                    else:
                        est.fit(Xd, ys)
        np.testing.assert_array_equal(clf.coef_, coef)
    numbers = da.concatenate([_lying(y[:50], (50,), object),
                              _lying(y[50:100].astype(float), (50,), object),
                              _lying(y[100:].astype(bool if k == 2 else np.int8),
                                     (100,), object)])
    X3 = da.from_array(X, chunks=((50, 50, 100), 3))
    got = LogisticRegression(**QUIET, random_state=0).fit(X3, numbers)
    want = LogisticRegression(**QUIET, random_state=0).fit(X3, y)
    np.testing.assert_array_equal(got.classes_, want.classes_)
    np.testing.assert_array_equal(got.coef_, want.coef_)


@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
def test_categorical_labels_give_the_in_memory_classes(known, tmp_path):
    """A categorical y of integer categories (``categorize()``, ``read_csv``
    with ``dtype='category'``): in memory classes_ are int64; on Dask they
    were objects, predictions were objects and the model could not be saved
    without pickle."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _two_class()
    ys = pd.Series(y + 2 * (X[:, 1] > 1)).astype("category")
    kw = dict(QUIET, random_state=0)
    mem = LogisticRegression(**kw).fit(X, ys)
    yd = dd.from_pandas(ys, npartitions=1)
    if not known:
        yd = yd.cat.as_unknown()
    dX = to_dask(X, X.shape[0])
    clf = LogisticRegression(**kw).fit(dX, yd)
    assert clf.classes_.dtype == mem.classes_.dtype == np.int64
    np.testing.assert_array_equal(clf.classes_, mem.classes_)
    np.testing.assert_allclose(clf.coef_, mem.coef_, rtol=ONE_BLOCK_RTOL,
                               atol=ONE_BLOCK_RTOL * np.abs(mem.coef_).max())
    assert clf.predict(dX).compute().dtype == np.int64
    fastlr.save(clf, tmp_path / "m.npz")
    np.testing.assert_array_equal(fastlr.load(tmp_path / "m.npz").classes_, mem.classes_)


@pytest.mark.parametrize("sizes,held", [([3, 97], [1, 9]),
                                        ([15] * 10, [2] * 5 + [1] * 5)])
def test_early_stopping_holds_out_the_in_memory_total(sizes, held):
    """The Dask split holds out the in-memory fit's total,
    max(ceil(validation_fraction * m), classes), at least one row of each
    class: each class rounded on its own held out 20 rows of ten classes
    of 15 (15 in memory), and 11 of [3, 97]."""
    y = np.repeat(np.arange(len(sizes)), sizes)
    X = np.random.default_rng(0).normal(size=(y.shape[0], 2)) + y[:, None]
    _, blocks, _, _ = fdist._open(to_dask(X, 40), to_dask(y, 40), None,
                                  client=None, holdout=0.1, seed=0)
    try:
        got = np.sum(blocks.map(lambda b: np.bincount(b[1][b[3] == 1],
                                                      minlength=len(sizes))), axis=0)
    finally:
        blocks.release()
    assert got.tolist() == held
    assert got.sum() == fastlr.estimator.holdout_rows(np.array(sizes),
                                                      np.arange(len(sizes)), 0.1)


def test_early_stopping_holds_out_every_class_in_proportion():
    """Each block held out round(validation_fraction * its rows) of each
    class: a class with fewer than 5 rows per block (at the default 0.1)
    was never held out, so the validation score ignored it, and blocks of
    4 rows held out nothing at all (the fit refused for want of data that
    early-stops in memory). The rounding now carries from block to block:
    each class is held out in proportion overall, at least one row of it."""
    from sklearn.exceptions import ConvergenceWarning

    m, per = 4000, 100
    y = np.zeros(m, dtype=int)
    y[np.arange(m).reshape(-1, per)[:, :4].ravel()] = 1   # 4 positives a block
    X = np.random.default_rng(0).normal(size=(m, 3)) + 1.5 * y[:, None]
    _, blocks, _, _ = fdist._open(to_dask(X, per), to_dask(y, per), None,
                                  client=None, holdout=0.1, seed=0)
    try:
        held = blocks.map(lambda b: np.bincount(b[1][b[3] == 1], minlength=2))
    finally:
        blocks.release()
    assert np.sum(held, axis=0).tolist() == [384, 16]
    per_block = np.array([[1, 1, 5], [0, 1, 5], [0, 0, 5]])   # classes of 1, 2, 15 rows
    np.testing.assert_array_equal(fdist._holdout_counts(3, per_block).sum(axis=0),
                                  [0, 1, 2])
    clf = LogisticRegression(solver="sgd", early_stopping=True, max_iter=3,
                             random_state=0)
    with pytest.warns(ConvergenceWarning, match="held-out loss"):
        clf.fit(to_dask(X[:400], 4), to_dask(y[:400], 4))
    assert clf.validation_scores_.shape == (clf.n_iter_,)


def _refused_alike(clf, X, y, chunk, monkeypatch):
    """``clf.fit`` refused on X, y in memory and on Dask (chunks of
    ``chunk`` rows) with the same ValueError, on Dask before the blocks
    persist; returns its message."""
    with pytest.raises(ValueError) as mem:
        clf.fit(X, y)

    def no_blocks(*args, **kw):
        raise AssertionError("persisted the blocks before refusing")

    monkeypatch.setattr(fdist, "_Blocks", no_blocks)
    with pytest.raises(ValueError) as dask_err:
        clf.fit(to_dask(X, chunk), to_dask(y, chunk))
    assert str(dask_err.value) == str(mem.value)
    return str(mem.value)


def test_early_stopping_refuses_a_single_row_class_as_in_memory(monkeypatch):
    """early_stopping on Dask held out nothing of a class of a single row
    and trained, where the in-memory fit refuses it: one rule, refused
    with the in-memory message before the blocks persist."""
    X, y = make_data(3, m=400, k=3)
    y[7] = "zz"   # a class of one row
    clf = LogisticRegression(solver="sgd", early_stopping=True, max_iter=2,
                             random_state=0)
    message = _refused_alike(clf, X, y, 100, monkeypatch)
    assert "the class 'zz' has a single row" in message


def test_early_stopping_refuses_too_few_training_rows_as_in_memory(monkeypatch):
    """A validation_fraction that leaves fewer training rows than classes
    (the in-memory split's rule) was refused in memory and trained on
    Dask, whose split is its own: refused the same way, with the same
    message, before the blocks persist."""
    X, _ = make_data(3, m=20)
    y = np.arange(20) % 5   # 5 classes; 0.9 of 20 rows held out leaves 2
    clf = LogisticRegression(solver="sgd", early_stopping=True, max_iter=2,
                             validation_fraction=0.9, random_state=0)
    message = _refused_alike(clf, X, y, 10, monkeypatch)
    assert "validation_fraction=0.9 leaves too few rows" in message
    assert not hasattr(clf, "coef_")


def test_a_sparse_x_wider_than_memory_is_refused_as_in_memory(monkeypatch):
    """On Dask nothing weighed a CSR X's width against the memory available:
    numpy's unnamed MemoryError, or allocation until the operating system
    killed the process. Refused as in memory, naming X, before the
    statistics' per-column arrays, whatever the dask meta says."""
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 1 << 30)
    n = 20_000_000   # 80 bytes a column to train: 1.5 GiB
    X = sp.csr_matrix((np.ones(4), ([0, 1, 2, 3], [0, 1, 2, n - 1])), shape=(4, n))
    y = np.array([0, 1, 0, 1])
    with pytest.raises(MemoryError) as mem:
        LogisticRegression().fit(X, y)
    yd = to_dask(y, 2)
    for Xd in (to_dask(X, 2), _from_delayed([X[:2], X[2:]])):
        for call in (LogisticRegression().fit, fdist.train,
                     lambda X, y: LogisticRegression().partial_fit(X, y, classes=[0, 1])):
            with pytest.raises(MemoryError, match=r"^X has 20,000,000 columns .* "
                                                  r"1\.0 GiB"):
                call(Xd, yd)
        with pytest.raises(MemoryError) as got:
            LogisticRegression().fit(Xd, yd)
        assert str(got.value) == str(mem.value)


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
def test_the_finishers_memory_is_counted_as_in_memory(monkeypatch, solver):
    """Dask's memory check of a sparse X's width counted SGD's arrays only,
    the in-memory check the solver used (the L-BFGS finisher's history
    pairs and vectors): a width that fits SGD but not the finisher was
    refused in memory and trained on Dask. fit and train now refuse it
    with the in-memory message."""
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 2 << 30)
    n = 8_000_000   # SGD's 170 bytes a column fit in 2 GiB; with the finisher not
    X = sp.csr_matrix((np.ones(4), ([0, 1, 2, 3], [0, 1, 2, n - 1])), shape=(4, n))
    y = np.array([0, 1, 0, 1])
    Xd, yd = to_dask(X, 2), to_dask(y, 2)
    with pytest.raises(MemoryError) as mem:
        LogisticRegression(solver=solver).fit(X, y)
    with pytest.raises(MemoryError) as got:
        LogisticRegression(solver=solver).fit(Xd, yd)
    assert str(got.value) == str(mem.value)
    with pytest.raises(MemoryError) as mem:
        fastlr.train(X, y, solver=solver)
    with pytest.raises(MemoryError) as got:
        fdist.train(Xd, yd, solver=solver)
    assert str(got.value) == str(mem.value)
    assert "X has 8,000,000 columns" in str(got.value)


def test_score_of_a_dataframe_converts_it_once():
    """``score`` converted a dask DataFrame X twice (through ``predict``,
    then for its row blocks), each conversion computing every partition for
    its length: 3 passes over X's graph. Now 2 (its lengths, then the
    score), as the same DataFrame's names are still checked."""
    import collections

    import dask

    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = _two_class(m=300)
    df = pd.DataFrame(X, columns=list("abc"))
    clf = LogisticRegression(**QUIET).fit(df, y)
    seen = collections.Counter()

    def counted(part):
        seen[len(part)] += 1
        return part

    Xd = dd.from_pandas(df, npartitions=3).map_partitions(counted, meta=df.iloc[:0])
    yd = dd.from_pandas(pd.Series(y), npartitions=3)
    with dask.config.set(scheduler="synchronous"):
        assert clf.score(Xd, yd) == clf.score(df, y)
        assert dict(seen) == {100: 6}
        with pytest.raises(ValueError, match="feature names should match"):
            clf.score(Xd.rename(columns={"a": "z"}), yd)


def _logged_frame(log, X, y, parts, tag=0):
    """A dask DataFrame of X's columns and a "label" column y, each of its
    ``parts`` partitions loaded by a task that appends a line to ``log``
    (the worker processes share the file): how often each is read. Frames
    of different ``tag`` have different keys."""
    dd = pytest.importorskip("dask.dataframe")
    bounds = np.linspace(0, X.shape[0], parts + 1).astype(int)
    return dd.from_map(_load_part, list(zip(bounds[:-1], bounds[1:], strict=True)),
                       X=X, y=y, log=str(log), tag=tag)


def _load_part(span, X, y, log, tag):
    import pandas as pd

    with open(log, "a") as f:
        f.write(f"{span[0]}\n")
    lo, hi = span
    df = pd.DataFrame(X[lo:hi], columns=[f"f{j}" for j in range(X.shape[1])],
                      index=pd.RangeIndex(lo, hi))
    df["label"] = y[lo:hi]
    return df


class _Stop(Exception):
    pass


def test_dataframes_are_read_once_for_their_lengths(client, tmp_path, monkeypatch):
    """fit and score compute the partition lengths of X and y together (a
    frame and its label column from the same files: each partition read
    once for them, not once per argument); a prediction computes X's
    lengths (its result has X's rows as its shape), then its result.

    Each counted call gets a frame of its own keys: the same lengths graph
    computed twice in a row can find the first one's results still held
    (the client's release reaches the scheduler after the results do) and
    read nothing (33 of 200 back-to-back computes here; it failed CI)."""
    X, y = make_data(17, m=400)
    log = tmp_path / "reads"
    tags = iter(range(1, 100))

    def reads(call):
        df = _logged_frame(log, X, y, 4, tag=next(tags))
        log.write_text("")
        try:
            out = call(df[[f"f{j}" for j in range(X.shape[1])]], df["label"])
        except _Stop:
            out = None
        return out, len(log.read_text().split())

    df = _logged_frame(log, X, y, 4)
    Xf, yf = df[[f"f{j}" for j in range(X.shape[1])]], df["label"]
    fitted = LogisticRegression(**SGD).fit(Xf, yf)

    def stop(*args, **kwargs):
        raise _Stop

    with monkeypatch.context() as m:   # what is read before the labels are
        m.setattr(fdist, "_labels", stop)
        assert reads(lambda Xf, yf: LogisticRegression(**SGD).fit(Xf, yf))[1] == 4
        m.setattr(fdist, "predict", stop)
        assert reads(lambda Xf, yf: fitted.score(Xf, yf))[1] == 4
    expect = fitted.predict(Xf.compute())
    for method in ("predict", "predict_proba", "decision_function"):
        lazy, n = reads(lambda Xf, yf, m=method: getattr(fitted, m)(Xf))
        assert n == 4 and lazy.shape[0] == 400, (method, n, lazy.shape)
        assert reads(lambda Xf, yf, lazy=lazy: lazy.compute())[1] == 4
    np.testing.assert_array_equal(fitted.predict(Xf).compute(), expect)


def test_predictions_on_unknown_chunk_sizes(client):
    """A filtered array and a DataFrame's array without lengths (NaN in
    X.chunks) are predicted block by block, as dask-ml does; a NaN is named
    by its block and its row there. Training still needs the lengths."""
    X, y = make_data(18)
    fitted = LogisticRegression(**SGD).fit(X, y)
    Xd = to_dask(X, 200)
    keep = X[:, 0] > 0
    Xu = Xd[Xd[:, 0] > 0]
    assert np.isnan(Xu.chunks[0]).all()
    np.testing.assert_array_equal(fitted.predict(Xu).compute(), fitted.predict(X[keep]))
    np.testing.assert_allclose(fitted.predict_proba(Xu).compute(),
                               fitted.predict_proba(X[keep]), rtol=1e-15)
    Xn = X.copy()
    Xn[np.flatnonzero(keep)[np.flatnonzero(keep) >= 400][3], 2] = np.nan
    Xn = to_dask(Xn, 200)
    with pytest.raises(ValueError, match=r"^X's row block 2 contains NaN or infinity "
                                         r"\(first at row 3, column 2\)$"):
        fitted.predict(Xn[Xn[:, 0] > 0]).compute()
    with pytest.raises(ValueError, match="X has unknown chunk sizes"):
        LogisticRegression(**SGD).fit(Xu, y[keep])


def test_a_column_vector_y_as_in_memory(client):
    """y of shape (m, 1) (a dask array, a numpy array beside a dask X, a
    one-column DataFrame) is taken as 1-D with scikit-learn's
    DataConversionWarning, as in memory: the same model as the 1-D y; and
    score takes it too. (It was refused: "y must be 1-D".)"""
    from sklearn.exceptions import DataConversionWarning

    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_data(20, m=400)
    Xd = to_dask(X, 400)   # one block: the in-memory batches
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        want = LogisticRegression(**SGD).fit(X, y[:, None])
    frame = dd.from_pandas(pd.DataFrame({"label": y}), npartitions=1)
    for y2 in (to_dask(y[:, None], 400), y[:, None], frame):
        with pytest.warns(DataConversionWarning, match="column-vector y"):
            got = LogisticRegression(**SGD).fit(Xd, y2)
        np.testing.assert_allclose(got.coef_, want.coef_, rtol=ONE_BLOCK_RTOL)
        assert got.classes_.tolist() == want.classes_.tolist()
        with pytest.warns(DataConversionWarning, match="column-vector y"):
            assert got.score(Xd, y2) == got.score(X, y)
    with pytest.raises(ValueError, match=r"sample_weight must be 1-D"):
        LogisticRegression(**SGD).fit(Xd, y, sample_weight=np.ones((400, 1)))


def test_verbose_shows_the_in_memory_bar(client, capsys):
    """verbose=2 draws the in-memory fit's progress bar on Dask too, an epoch
    a pass over the blocks (it was silently ignored); verbose=0 draws none."""
    X, y = make_data(21)
    LogisticRegression(**dict(SGD, verbose=2)).fit(to_dask(X, 200), to_dask(y, 200))
    err = capsys.readouterr().err
    assert "4/4" in err and "loss=" in err and "rows/s" in err, err
    LogisticRegression(**SGD).fit(to_dask(X, 200), to_dask(y, 200))
    assert capsys.readouterr().err == ""


def test_x_and_y_of_one_collection_compute_each_source_block_once_a_pass(
        client, tmp_path):
    """X and y cut from one dask array (``arr[:, :-1]``, ``arr[:, -1]``:
    one store holding features and label): each pass computes a source
    block once, as ``dask.compute(X..., y...)`` would; optimizing each
    one's graph on its own fused the load into both, and fit computed
    each source block 3 times (labels, then twice for the blocks), score
    twice. The model is the one of separate X and y."""
    X, y = make_data(7, m=400)
    codes = (y == "cd").astype(np.float64)
    log = tmp_path / "loads"
    log.write_text("")

    def load(block):   # a read from storage: counted (in the worker's process)
        with open(log, "a") as f:
            f.write("x")
        return block.copy()

    arr = to_dask(np.column_stack([X, codes]), 100).map_blocks(load, dtype=np.float64)
    Xa, ya = arr[:, :-1], arr[:, -1]
    log.write_text("")   # (map_blocks called load on an empty block for its meta)
    got = LogisticRegression(**SGD).fit(Xa, ya)
    assert len(log.read_text()) == 2 * 4   # the labels' pass, the blocks'
    log.write_text("")
    score = got.score(Xa, ya)
    assert len(log.read_text()) == 4
    expected = LogisticRegression(**SGD).fit(to_dask(X, 100), to_dask(codes, 100))
    np.testing.assert_array_equal(got.coef_, expected.coef_)
    assert score == expected.score(to_dask(X, 100), to_dask(codes, 100))


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("kind", ["RandomState", "Generator"])
def test_a_refused_fit_leaves_the_callers_generator_as_it_was(client, kind,
                                                              early_stopping):
    """As in memory: a fit refused (one class, NaN in X) draws nothing from
    the caller's RandomState or Generator, so that the retry fits as a
    first call would; a fit that runs is the one it was."""
    X, y = make_data(8, m=400)

    def generator():
        return (np.random.RandomState(5) if kind == "RandomState"
                else np.random.default_rng(5))

    kw = dict(SGD, early_stopping=early_stopping)
    Xnan = X.copy()
    Xnan[250, 2] = np.nan
    rs = generator()
    for bad_X, bad_y in ((X, np.full(400, "ab")), (Xnan, y)):
        with pytest.raises(ValueError):
            LogisticRegression(**dict(kw, random_state=rs)).fit(
                to_dask(bad_X, 100), to_dask(bad_y, 100))
        assert rs.random() == generator().random()   # (then a fresh one)
        rs = generator()
    got = LogisticRegression(**dict(kw, random_state=rs)).fit(to_dask(X, 100),
                                                             to_dask(y, 100))
    expected = LogisticRegression(**dict(kw, random_state=generator())).fit(
        to_dask(X, 100), to_dask(y, 100))
    np.testing.assert_array_equal(got.coef_, expected.coef_)


def test_dask_y_or_weights_beside_in_memory_x_are_refused_alike(client):
    """X decides where a call runs: in memory, a dask y was computed
    silently and a dask sample_weight refused with advice to call
    LogisticRegression().fit; now both are refused, saying to pass X as a
    dask collection (or compute them), and the fitted model is left as it
    was."""
    X, y = make_data(9, m=200)
    sw = np.ones(200)
    clf = LogisticRegression(**SGD).fit(X, y)
    coef = clf.coef_.copy()
    for name, args in (("y", (to_dask(y, 100), None)),
                       ("sample_weight", (y, to_dask(sw, 100)))):
        match = (rf"^{name} is a dask collection but X is in memory, and X decides "
                 rf"where this runs: pass X as a dask array or DataFrame to "
                 rf"(train|score) on the cluster, or {name}\.compute\(\)")
        for call in (clf.fit, clf.partial_fit, clf.score):
            with pytest.raises(TypeError, match=match):
                call(X, args[0], sample_weight=args[1])
        np.testing.assert_array_equal(clf.coef_, coef)
