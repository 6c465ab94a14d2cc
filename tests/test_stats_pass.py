"""The validation pass of dense X that also computes the standardization
statistics (``Data.moments``): the twin's statistics, the same for any
thread count, and bad values named by row and column."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastlr
from fastlr import _dispatch, reference
from fastlr._dispatch import Data, _linked, as_data


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 256 rows and sub-blocks of 16 rows, so that test-sized X
    crosses many of both (the production sizes are for large X)."""
    monkeypatch.setattr(_dispatch, "BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(_dispatch, "STATS_SUB_BYTES", 16 * 8 * 8)
    monkeypatch.setattr(_dispatch, "STATS_SUB_ROWS", 1)


def _columns(m, rng):
    """Eight columns that exercise the rule: ordinary, shifted, constant,
    zeros then values, values far from zero only in later rows (the divisor
    grows mid-block), tiny, both signs near the float64 limit, mixed."""
    later = np.arange(m) >= m // 2
    return np.column_stack([
        rng.normal(size=m),
        rng.normal(size=m) + 1e6,
        np.full(m, 3.7),
        np.where(later, rng.normal(size=m), 0.0),
        np.where(later, rng.normal(size=m) * 1e200, rng.normal(size=m)),
        rng.normal(size=m) * 1e-200,
        np.where(np.arange(m) % 2, 1.0, -1.0) * rng.uniform(0.9, 1.0, m) * 1.7e308,
        rng.normal(size=m) * 2.0 ** 440,
    ])


def _stats(X):
    return (a[0] for a in as_data(X, with_stats=True).column_stats())


@pytest.mark.parametrize("m", [1, 300, 5000], ids=["1_row", "300_rows", "5000_rows"])
def test_statistics_equal_the_twins(small_blocks, m):
    """Within the float64 state tolerance: the scale to rtol 1e-10, the mean
    in units of the scale (the model sees (x - mean) / scale) to 1e-12."""
    X = np.ascontiguousarray(_columns(m, np.random.default_rng(m)))
    mean, scale = _stats(X)
    rmean, rscale = reference.column_stats(X)
    assert np.isfinite(mean).all() and (scale > 0).all()
    np.testing.assert_allclose(scale, rscale, rtol=1e-10)
    np.testing.assert_allclose(mean / rscale, rmean / rscale, rtol=1e-12,
                               atol=1e-12)
    # a constant column: its value exactly, and scale exactly 1
    assert mean[2] == 3.7 and scale[2] == 1.0


def test_float32_statistics_equal_the_twins(small_blocks):
    rng = np.random.default_rng(3)
    X = np.ascontiguousarray(rng.normal(size=(3000, 5)) * [1, 10, 1e-3, 1e20, 0]
                             + [0, 5, 0, -1e20, 2], dtype=np.float32)
    mean, scale = _stats(X)
    rmean, rscale = reference.column_stats(X)
    np.testing.assert_allclose(scale, rscale, rtol=1e-10)
    np.testing.assert_allclose(mean / rscale, rmean / rscale, rtol=1e-12,
                               atol=1e-12)


def test_statistics_equal_the_two_pass_rule(small_blocks):
    """The block-wise pass and the two passes over all rows (still used for
    subsets of rows) agree to rounding, also where sub-blocks take the
    careful route (values beyond 2**450) and where they do not."""
    rng = np.random.default_rng(5)
    X = np.ascontiguousarray(_columns(4000, rng))
    data = Data(X)
    mean, scale = (a[0] for a in data.column_stats())
    all_rows = np.zeros(X.shape[0], dtype=np.int8)   # no row held out of fold 1
    tmean, tscale = (a[0] for a in data.column_stats(all_rows, (1,)))
    np.testing.assert_allclose(scale, tscale, rtol=1e-12)
    np.testing.assert_allclose(mean / tscale, tmean / tscale, rtol=1e-12, atol=1e-13)


def test_power_of_two_scaling_commutes(small_blocks):
    """X * 2**600 takes the careful route in every sub-block, X the one-pass
    route: the statistics scale by 2**600 (to rounding)."""
    rng = np.random.default_rng(6)
    X = np.ascontiguousarray(rng.normal(size=(2000, 4)) + [0, 3, -1, 100])
    mean, scale = _stats(X)
    bmean, bscale = _stats(X * 2.0 ** 600)
    np.testing.assert_allclose(bscale / 2.0 ** 600, scale, rtol=1e-13)
    np.testing.assert_allclose(bmean / 2.0 ** 600, mean, rtol=1e-13, atol=1e-15)


def test_bit_identical_for_any_thread_count(small_blocks):
    X = np.ascontiguousarray(_columns(5000, np.random.default_rng(7)))
    one = Data(X).moments(n_threads=1)
    two = Data(X).moments(n_threads=2)
    assert one.rows == two.rows == X.shape[0]
    for a, b in zip(one[1:], two[1:], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("n", "sub"), [(100, 327), (5000, _dispatch.STATS_SUB_ROWS)],
                         ids=["narrow", "wide"])
def test_sub_blocks_of_wide_rows_keep_many_rows(monkeypatch, n, sub):
    """Each sub-block costs passes over all n columns: a sub-block of
    STATS_SUB_BYTES alone would be 6 rows of 5,000 float64 columns (1 row
    beyond 32,768: 25x the time an element), so wide rows take sub-blocks
    of STATS_SUB_ROWS rows. The statistics stay the twin's, bit-identical
    for any thread count, also where a sub-block takes the careful route."""
    subs = []
    real = Data._moment_blocks

    def spy(self, threads, rows, sub, out):
        subs.append(sub)
        return real(self, threads, rows, sub, out)

    monkeypatch.setattr(Data, "_moment_blocks", spy)
    rng = np.random.default_rng(9)
    X = rng.normal(size=(300, n)) + rng.uniform(-3, 3, n)
    X[150:, 1] *= 1e300                      # the careful route from row 150
    one = Data(X).moments(n_threads=1)
    two = Data(X).moments(n_threads=2)
    assert subs == [sub, sub]
    for a, b in zip(one[1:], two[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    mean, scale = _stats(X)
    rmean, rscale = reference.column_stats(X)
    np.testing.assert_allclose(scale, rscale, rtol=1e-10)
    np.testing.assert_allclose(mean / rscale, rmean / rscale, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bad_values_named_by_row_and_column(small_blocks, bad, dtype):
    """The first bad value in row order is named, even when a later block
    (finished first by another thread) holds another."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(3000, 6)).astype(dtype)
    X[2900, 1] = bad
    X[1234, 4] = bad
    X[1234, 5] = bad
    before = X.copy()
    msg = r"^X contains NaN or infinity \(first at row 1234, column 4\)$"
    with pytest.raises(ValueError, match=msg):
        as_data(X, with_stats=True)
    y = (rng.random(3000) < 0.5).astype(int)
    for train in (fastlr.train, fastlr.train_many):
        kw = {"alphas": [1e-4]} if train is fastlr.train_many else {}
        with pytest.raises(ValueError, match=msg):
            train(X, y, epochs=1, **kw)
    np.testing.assert_array_equal(X, before)   # nothing changed


def test_bad_values_named_on_every_path():
    """Without statistics (standardize=False), and for sparse X."""
    sp = pytest.importorskip("scipy.sparse")
    X = np.ones((50, 3))
    X[7, 2] = np.nan
    y = np.arange(50) % 2
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at "
                                         r"row 7, column 2\)"):
        fastlr.train(X, y, standardize=False, epochs=1)
    Xs = sp.csr_matrix(np.where(np.isnan(X), np.inf, np.eye(50, 3)))
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at "
                                         r"row 7, column 2\)"):
        fastlr.train(Xs, y, epochs=1)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_every_estimator_fit_names_the_bad_value(sparse):
    """fit, partial_fit (first and later calls) and LogisticRegressionCV.fit
    name the first bad value by row and column, as the functional API does
    (partial_fit and the CV estimator gave scikit-learn's generic message),
    and a refused partial_fit changes nothing."""
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    bad = X.copy()
    bad[123, 2] = np.nan
    if sparse:
        X, bad = sp.csr_matrix(X), sp.csr_matrix(bad)
    msg = r"^X contains NaN or infinity \(first at row 123, column 2\)$"
    later = fastlr.LogisticRegression(random_state=0).partial_fit(X, y, classes=[0, 1])
    coef = later.coef_.copy()
    for call in (lambda: fastlr.LogisticRegression().fit(bad, y),
                 lambda: fastlr.LogisticRegression().partial_fit(bad, y, classes=[0, 1]),
                 lambda: later.partial_fit(bad, y),
                 lambda: fastlr.LogisticRegressionCV(alphas=2, cv=2).fit(bad, y)):
        with pytest.raises(ValueError, match=msg):
            call()
    np.testing.assert_array_equal(later.coef_, coef)
    assert later.n_iter_ == 1


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_prediction_checks_X_in_its_own_pass(small_blocks, sparse, bad):
    """Prediction reads X once: the logits' pass proves it finite, and only
    a non-finite logit sends it to the full check, so bad X is named by row
    and column as before, by every prediction function and the estimator,
    even where the bad value's weight is zero (``inf * 0`` is NaN)."""
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 4))
    y = (X[:, 0] > 0).astype(int)
    clf = fastlr.LogisticRegression(max_iter=2, tol=None).fit(X, y)
    X[1234, 3] = bad
    Xin = sp.csr_matrix(X) if sparse else X
    w = np.array([1.0, -2.0, 0.5, 0.0])   # column 3 has weight 0
    msg = r"^X contains NaN or infinity \(first at row 1234, column 3\)$"
    for call in (lambda: fastlr.predict_proba(Xin, w, 0.1),
                 lambda: fastlr.decision_function(Xin, w, 0.1),
                 lambda: fastlr.predict(Xin, w, 0.1),
                 lambda: clf.predict_proba(Xin), lambda: clf.predict(Xin)):
        with pytest.raises(ValueError, match=msg):
            call()


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_link_in_the_logits_pass_equals_the_link_after(small_blocks, k, sparse, dtype):
    """``Data.decision(link=...)`` gives bit for bit the sigmoid / softmax
    of the logits it returns without a link (computed in X's dtype), on
    logits of both signs, beyond the dtype's range (+-inf) included; the
    binary model's two columns are ``1 - p`` and ``p`` as NumPy computes
    them from that sigmoid, and its log-probabilities those of the link
    applied after (``_linked``, the overflowed rows' path)."""
    from fastlr._kernels import predict

    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(2000, 5)) * 30).astype(dtype)
    # column 0 is zero but in every 97th row, where its product overflows
    X[:, 0] = 0.0
    X[::97, 0] = np.where(np.arange(0, 2000, 97) % 2, 1.0, -1.0) * (
        1e30 if dtype == np.float32 else 1e300)
    data = Data(sp.csr_matrix(X) if sparse else X)
    W = rng.normal(size=(k, 5))
    W[:, 0] = 1e10
    B = rng.normal(size=k)
    z = data.decision(W, B)
    want = np.empty_like(z)
    if k == 1:
        predict.sigmoid_array(z[:, 0].copy(), want[:, 0])
        got = data.decision(W, B, link="sigmoid")
        np.testing.assert_array_equal(data.decision(W, B, link="proba"),
                                      np.column_stack([1.0 - want, want]))
        np.testing.assert_array_equal(data.decision(W, B, link="log_proba"),
                                      _linked(z, "log_proba"))
    else:
        predict.softmax_rows(z, want)
        got = data.decision(W, B, link="softmax")
    assert np.isinf(z).any() and (np.abs(z) < 50).mean() > 0.5
    np.testing.assert_array_equal(got, want)


def _timestamps(m, missing, rng):
    """A feature column and a Unix-time column (one hour wide at 1.7e9),
    0 in the rows ``missing``."""
    stamp = 1.7e9 + rng.uniform(0.0, 3600.0, m)
    stamp[missing] = 0.0
    return np.column_stack([rng.normal(size=m), stamp])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("how", ["weights", "rows", "folds"])
def test_a_narrow_column_far_from_an_uncounted_value_is_scaled(sparse, how):
    """A timestamp column, 0 where the time is missing, whose missing rows
    do not count (they weigh 0, lie outside ``rows`` or are held out), is
    scaled by its spread over the rows that count. The sums were shifted by
    row 0's value (on CSR by 0: the column is not stored in every row), a
    value no counted row holds; the spread (1e3) is below 4e-6 of that
    offset (1.7e9), and the guard against the one-pass formula's rounding
    took it for rounding: scale 1, a thousandth of the spread. The shift
    is now a counted row's value. Tolerance 1e-9: the sums round at 1e-16
    of the squared offset from the shift, below 1e-9 of the spread here."""
    import scipy.sparse as sp

    from fastlr._validation import check_sample_weight

    rng = np.random.default_rng(3)
    m = 400
    X = _timestamps(m, slice(0, 20), rng)
    counted = np.arange(m) >= 20
    sw, row_fold, folds = None, None, (0,)
    if how == "weights":
        sw = np.where(counted, rng.uniform(0.5, 2.0, m), 0.0)
    elif how == "rows":
        row_fold, folds = np.where(counted, 0, 1).astype(np.int8), (1,)
    else:
        row_fold = rng.integers(1, 4, m).astype(np.int8)
        row_fold[:20] = 0
        folds = (0, 1, 2)
    make = sp.csr_matrix if sparse else np.asarray
    data = as_data(make(X), with_stats=False)
    mean, scale = data.column_stats(row_fold, folds, check_sample_weight(sw, m))
    for f, fold in enumerate(folds):
        rows = counted if how != "folds" else row_fold != fold
        w = np.ones(m) if sw is None else sw
        want = np.average(X[rows], axis=0, weights=w[rows])
        want_sd = np.sqrt(np.average((X[rows] - want) ** 2, axis=0, weights=w[rows]))
        np.testing.assert_allclose(mean[f], want, rtol=1e-12)
        np.testing.assert_allclose(scale[f], want_sd, rtol=1e-9)
        rmean, rscale = reference.column_stats(make(X), rows, sw)
        if how != "folds":
            np.testing.assert_allclose(rmean, mean[f], rtol=1e-12)
            np.testing.assert_allclose(rscale, scale[f], rtol=1e-12)
    if how == "folds":
        return
    # the model: a weight of 0 or a row outside ``rows`` trains as the
    # row dropped (the converged solver, to its tolerance; on CSR the
    # column is scaled, not centred, so it sits 1.7e6 of its spreads from
    # 0: the problem's conditioning leaves 1e-7 between the two runs)
    kw = dict(penalty="l2", alpha=0.01, solver="lbfgs", tol=1e-13, epochs=300)
    y = ((X[:, 1] - 1.7e9 > 1800.0) ^ (rng.random(m) < 0.1)).astype(int)
    dropped = fastlr.train(make(X[counted]), y[counted],
                           sample_weight=None if sw is None else sw[counted], **kw)
    if how == "weights":
        got = fastlr.train(make(X), y, sample_weight=sw, **kw)
    else:
        got = fastlr.train(make(X), y, rows=np.flatnonzero(counted), **kw)
    np.testing.assert_allclose(fastlr.predict_proba(X[counted], got.w, got.b),
                               fastlr.predict_proba(X[counted], dropped.w, dropped.b),
                               rtol=0, atol=1e-6 if sparse else 1e-8)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 400), n=st.integers(1, 11),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**32 - 1))
def test_lanes_round_as_the_scalar_tail(m, n, dtype, seed):
    """The statistics passes (``moment_sums``, ``absmax``,
    ``shifted_sums``) take four columns at a time in vector lanes and the
    last ``n % 4`` in scalar code. Moving a column between the two (by
    reversing the columns) must not change a bit of its statistics, also
    weighted and per fold."""
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(rng.normal(size=(m, n)) * rng.uniform(1e-3, 1e3, n)
                             + rng.uniform(-10, 10, n), dtype=dtype)
    fwd, rev = Data(X), Data(np.ascontiguousarray(X[:, ::-1]))
    for a, b in zip(fwd.moments(n_threads=1)[1:], rev.moments(n_threads=1)[1:],
                    strict=True):
        np.testing.assert_array_equal(a, np.asarray(b)[..., ::-1])
    sw = rng.uniform(0.0, 3.0, m)
    row_fold = rng.integers(0, 3, m).astype(np.int8)
    for a, b in zip(fwd.column_stats(row_fold, (0, 1, 2), sw),
                    rev.column_stats(row_fold, (0, 1, 2), sw), strict=True):
        np.testing.assert_array_equal(a, b[:, ::-1])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("m", [200, 100_000])
def test_a_column_constant_over_the_rows_that_count_has_scale_1(sparse, m):
    """A column constant over the rows that count, shifted by a value of a
    row that does not (the first row weighs 0, or is held out), leaves the
    one-pass variance a rounding residue (1e-16 to 1e-13 of the squared
    offset), which gave the column a scale of about 1e-7: scaled without
    centring (CSR X, standardize="scale", fit_intercept=False), it grew by
    1e7 and escaped the penalty. It has scale 1 on every path, and a
    weight of 0 trains as dropping the row does (the converged solver:
    equal to its tolerance: 1e-9 on probabilities, where the defect gave
    0.4)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(m)
    X = np.column_stack([rng.normal(size=m), np.full(m, 0.222284)])
    X[0, 1] = -1.88034
    y = (X[:, 0] + rng.logistic(size=m) > 0).astype(int)
    sw = np.r_[0.0, np.ones(m - 1)]
    make = sp.csr_matrix if sparse else np.asarray
    data = as_data(make(X), with_stats=False)
    from fastlr._validation import check_sample_weight
    for weights, rows in ((sw, None), (None, np.arange(1, m))):
        w = check_sample_weight(weights, m)
        scale = data.standardization("scale", rows, (1,), w)[1]
        assert scale[0, 1] == 1.0
    assert reference.column_stats(make(X), sample_weight=sw)[1][1] == 1.0
    kw = dict(penalty="l2", alpha=0.05, solver="lbfgs", tol=1e-13, epochs=300,
              standardize="scale")
    dropped = fastlr.train(make(X[1:]), y[1:], sample_weight=sw[1:], **kw)
    weighted = fastlr.train(make(X), y, sample_weight=sw, **kw)
    np.testing.assert_allclose(
        fastlr.predict_proba(X, weighted.w, weighted.b),
        fastlr.predict_proba(X, dropped.w, dropped.b), rtol=0, atol=1e-9)
    assert abs(weighted.w[1]) < 1e-9


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_a_spread_whose_scale_is_below_tiny_has_scale_1(sparse):
    """Values near 1e-300 spreading by 1e-310: their scale was the
    subnormal 1e-310, so any weight of the standardized column was beyond
    float64 in raw space; the solver stopped on the raw weight 1.8e308
    with the other weights 4% off the optimum and no warning, and the
    reference returned w = inf, b = -inf. Such a column has scale 1 on
    every path, as a constant one has, and the model is the one trained
    without it (to the solver's tolerance)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    m = 200
    X = rng.normal(size=(m, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=m) > 0).astype(int)
    X[:, 1] = 1e-300 * (1 + 1e-10 * X[:, 1])
    make = sp.csr_matrix if sparse else np.asarray
    assert as_data(make(X), with_stats=True).standardization(True)[1][0, 1] == 1.0
    assert reference.column_stats(make(X))[1][1] == 1.0
    kw = dict(solver="lbfgs", tol=1e-20, epochs=300)
    got = fastlr.train(make(X), y, **kw)
    twin = reference.train(make(X), y, **kw)
    without = fastlr.train(X[:, [0, 2]], y, **kw)
    for res in (got, twin):
        assert np.isfinite(res.w).all() and np.isfinite(res.b)
        assert abs(res.w[1]) < 1e-300
        np.testing.assert_allclose(res.w[[0, 2]], without.w, rtol=1e-8)
        assert abs(res.b - without.b) < 1e-8


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_a_spread_lost_to_rounding_is_divided_by_the_largest_value(sparse):
    """Nanosecond timestamps near 1.7e18, one to three ulps (256) apart:
    their spread (about 300) is below the rounding noise of their
    magnitude, so the rule counts it as none. It gave them scale 1, and
    their deviations of up to 768 took a weight whose raw intercept (about
    -w . 1.7e18) no float64 prediction cancels: the model returned
    predicted with log-loss 0.70 where training ended at 0.07, and SGD
    ended at a loss 128x the zero model's. Divided by their largest |x|,
    the deviations stay below 1e-15 and the column takes no weight, on
    every path: the model returned predicts as it trained, as the model
    without the column does (the solver's tolerance). A column whose
    values are all equal keeps scale 1."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    m = 2000
    x = rng.normal(size=(m, 2))
    t = 1.7e18 + 256.0 * rng.integers(0, 4, size=m)
    X = np.column_stack([x, t, np.full(m, 3.0)])
    y = (x @ [1.0, 2.0] + 0.3 * rng.normal(size=m) > 0).astype(int)
    make = sp.csr_matrix if sparse else np.asarray
    for scale in (as_data(make(X), with_stats=True).standardization(True)[1][0],
                  reference.column_stats(make(X))[1]):
        assert scale[2] == t.max() and scale[3] == 1.0
    if sparse:
        return
    kw = dict(solver="lbfgs", tol=1e-12, max_iter=300)
    without = fastlr.LogisticRegression(**kw).fit(x, y)
    for solver in ("lbfgs", "auto", "sgd"):
        opts = {**kw, "solver": solver}
        if solver == "sgd":
            opts.update(max_iter=20, tol=None)
        est = fastlr.LogisticRegression(**opts, random_state=0).fit(X, y)
        assert abs(est.coef_[0, 2] * 768) < 1e-12
        loss = fastlr.log_loss(y, est.predict_proba(X)[:, 1])
        if solver != "sgd":
            np.testing.assert_allclose(loss, est.loss_curve_[-1], rtol=1e-9)
            np.testing.assert_allclose(est.coef_[0, :2], without.coef_[0], rtol=1e-6)
        else:   # SGD's epochs: as without the column (its values add 1e-16)
            alone = fastlr.LogisticRegression(**opts, random_state=0).fit(x, y)
            np.testing.assert_allclose(est.coef_[0, :2], alone.coef_[0], rtol=1e-9)
            np.testing.assert_allclose(
                loss, fastlr.log_loss(y, alone.predict_proba(x)[:, 1]), rtol=1e-9)
