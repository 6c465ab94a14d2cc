"""Running column statistics: ``partial_fit`` with standardization does not
hinge on its first chunk.

The moments of each chunk are merged into running ones
(:func:`fastlr._stats.merge`), the standardization follows them, and the
model is re-expressed in the new standardization without changing its
predictions (:meth:`fastlr._state.ModelState.restandardize`). The
statistics travel in model files; a warm ``fit`` starts them again from
its rows, as a cold one does.
"""

import copy
import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

import fastlr
from fastlr import LogisticRegression, _stats, reference
from fastlr._dispatch import Data
from fastlr._state import ModelState
from fastlr.persist import ModelFileError


def moments_of(X):
    return Data(X).column_stats(moments=True)[2]


def merged(parts):
    out = moments_of(parts[0])
    for part in parts[1:]:
        out = _stats.merge(out, moments_of(part))
    return out


def offset_data(m, seed=0, n=6):
    """Columns of very different scales and offsets; labels from all."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    y = (Z @ rng.normal(size=n) + rng.logistic(size=m) > 0).astype(np.int64)
    return Z * rng.uniform(0.1, 100, n) + rng.uniform(-1000, 1000, n), y


# --------------------------------------------------------------------------
# merging moments


@pytest.mark.parametrize("sizes", [(1, 1, 1, 97), (2, 98), (50, 50), (99, 1),
                                   (7, 13, 31, 49)],
                         ids=["ones", "two_first", "halves", "one_last", "ragged"])
def test_merged_moments_give_the_statistics_of_all_rows(seed, sizes):
    X, _ = offset_data(100, seed)
    X[:, 2] = 5.0          # constant in every part
    X[:, 3] = 0.0          # all zeros
    X[1:, 4] = X[0, 4] + 0.5 * (np.arange(99) % 2)  # constant in short parts
    parts = np.split(X, np.cumsum(sizes)[:-1])
    mean, scale = _stats.finish_moments(merged(parts))
    want_mean, want_scale = reference.column_stats(X)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scale, want_scale, rtol=1e-10)
    # constant and zero columns: their value and scale 1, exactly
    assert mean[2] == 5.0 and scale[2] == 1.0
    assert mean[3] == 0.0 and scale[3] == 1.0


def test_merged_moments_of_extreme_magnitudes_stay_finite():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(-1.0, 1.0, 40) * 1.7e308,
                         rng.normal(size=40) * 1e-300,
                         np.r_[np.full(20, -1.7e308), np.full(20, 1.7e308)]])
    mom = merged(np.split(X, [3, 20, 21]))
    mean, scale = _stats.finish_moments(mom)
    assert np.isfinite(mean).all() and np.isfinite(scale).all()
    want_mean, want_scale = reference.column_stats(X)
    # means to the rounding of the column's magnitude (column 2's is 0)
    assert (np.abs(mean - want_mean) <= 1e-12 * np.abs(X).max(axis=0)).all()
    np.testing.assert_allclose(scale, want_scale, rtol=1e-10)


def test_sparse_chunks_merge_like_dense():
    D = sp.random(90, 5, density=0.3, random_state=2).toarray() * 7.0
    D[:, 4] = 3.0    # stored in every row: shifted by the sums
    X = sp.csr_matrix(D)
    parts = [X[:2], X[2:40], X[40:]]
    mean, scale = _stats.finish_moments(merged(parts))
    want_mean, want_scale = reference.column_stats(D)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(scale, want_scale, rtol=1e-10)


# --------------------------------------------------------------------------
# re-expressing a model


@pytest.mark.parametrize("options", [
    {}, {"average": True}, {"learning_rate": "adagrad", "lr": 0.2,
                            "penalty": "l1", "alpha": 0.01},
    {"penalty": "elasticnet", "alpha": 0.01, "average": 3}],
    ids=["plain", "average", "adagrad_l1", "elasticnet_average"])
@pytest.mark.parametrize("classes", [2, 3])
def test_restandardize_leaves_predictions_unchanged(seed, options, classes):
    X, y = offset_data(300, seed)
    if classes == 3:
        y = y + (X[:, 0] > np.median(X[:, 0]))
    clf = LogisticRegression(max_iter=3, tol=None, random_state=seed,
                             **options).fit(X, y)
    state = clf.training_state_
    before = state.raw()
    rng = np.random.default_rng(seed)
    state.restandardize(state.mean + rng.normal(size=6) * state.scale,
                        state.scale * rng.uniform(0.01, 100, 6))
    after = state.raw()
    np.testing.assert_allclose(after[0], before[0], rtol=1e-12)
    mag = float(np.abs(before[0]).max(axis=0) @ np.abs(X).max(axis=0))
    np.testing.assert_allclose(after[1], before[1], rtol=1e-9, atol=1e-12 * mag)


# --------------------------------------------------------------------------
# partial_fit


@pytest.mark.parametrize("standardize, sparse, center", [
    (True, False, True), ("scale", False, False), (True, True, False)],
    ids=["center", "scale", "sparse"])
def test_partial_fit_standardization_is_that_of_every_row(standardize, sparse,
                                                          center):
    X, y = offset_data(400)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 300, X, 0.0))
    clf = LogisticRegression(standardize=standardize, random_state=0)
    for lo, hi in [(0, 2), (2, 5), (5, 150), (150, 400)]:
        clf.partial_fit(X[lo:hi], y[lo:hi], classes=[0, 1])
    state = clf.training_state_
    want_mean, want_scale = reference.column_stats(X)
    np.testing.assert_allclose(state.scale, want_scale, rtol=1e-10)
    if center:
        np.testing.assert_allclose(state.mean, want_mean, rtol=1e-12)
    else:
        assert not state.mean.any()
    assert state.moments.rows == 400


# scikit-learn's test_partial_fit_binary (sklearn/linear_model/tests/test_sgd.py)
X_SK = np.array([[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1]], dtype=float)
Y_SK = [1, 1, 1, 2, 2, 2]
T_SK = np.array([[-1, -1], [2, 2], [3, 2]], dtype=float)


@pytest.mark.parametrize("standardize", [True, "scale", False])
def test_first_chunk_with_a_constant_column_changes_nothing(standardize):
    """The first third of the rows (two) has a constant second column; with
    the standardization of that chunk the model predicted [2, 2, 2], while
    without standardization it predicts scikit-learn's [1, 2, 2]."""
    clf = LogisticRegression(alpha=0.01, standardize=standardize)
    third = X_SK.shape[0] // 3
    clf.partial_fit(X_SK[:third], Y_SK[:third], classes=np.unique(Y_SK))
    assert clf.coef_.shape == (1, 2) and clf.intercept_.shape == (1,)
    assert clf.decision_function([[0, 0]]).shape == (1,)
    clf.partial_fit(X_SK[third:], Y_SK[third:])
    assert clf.predict(T_SK).tolist() == [1, 2, 2]
    if standardize:   # the constant column is scaled by its spread now
        np.testing.assert_allclose(clf.training_state_.scale,
                                   reference.column_stats(X_SK)[1], rtol=1e-12)


@pytest.mark.parametrize("chunk, m", [(2, 600), (100, 20_000), (10_000, 20_000)],
                         ids=["chunks_of_2", "chunks_of_100", "chunks_of_10000"])
def test_partial_fit_reaches_the_held_out_loss_of_fit(seed, chunk, m):
    """Passes of partial_fit over chunks, standardized, against fit on the
    concatenated data for as many epochs: held-out log-loss within 1% (or
    better: chunks of 2 take 16 times the steps of batches of 32). The
    first chunk of 2 rows has a constant column; standardized on it, the
    model reached a held-out loss of about 6 (fit: 0.6)."""
    X, y = offset_data(m + 5000, seed)
    X[1, 0] = X[0, 0]
    Xtr, ytr, Xte, yte = X[:m], y[:m], X[m:], y[m:]
    passes = 4
    kw = dict(random_state=0, lr=0.01)
    # SGD epochs, as partial_fit runs (the default solver would go on to
    # the optimum)
    fit = LogisticRegression(max_iter=passes, tol=None, solver="sgd", **kw).fit(
        Xtr, ytr)
    want = log_loss(yte, fit.predict_proba(Xte))
    clf = LogisticRegression(**kw)
    for _ in range(passes):
        for lo in range(0, m, chunk):
            clf.partial_fit(Xtr[lo:lo + chunk], ytr[lo:lo + chunk], classes=[0, 1])
    assert log_loss(yte, clf.predict_proba(Xte)) <= 1.01 * want


def test_sparse_chunk_on_a_centering_model_changes_nothing():
    X, y = offset_data(100)
    clf = LogisticRegression(random_state=0).partial_fit(X, y, classes=[0, 1])
    before = copy.deepcopy(clf.training_state_)
    with pytest.raises(ValueError, match="sparse but the model centers"):
        clf.partial_fit(sp.csr_matrix(X[:10]), y[:10])
    assert clf.training_state_.moments.rows == before.moments.rows == 100
    np.testing.assert_array_equal(clf.training_state_.mean, before.mean)
    np.testing.assert_array_equal(clf.training_state_.W, before.W)


@pytest.mark.parametrize("first, then", [
    (True, "scale"), (True, False), ("scale", False), (False, True),
    (False, "scale")])
def test_partial_fit_follows_standardize_set_between_calls(first, then):
    """``set_params(standardize=...)`` between partial_fit calls takes effect
    on the next call, as any parameter does in scikit-learn: the model is
    re-expressed in the new standardization (its function unchanged by the
    switch: a step of 1e-300 moves nothing), "scale" on a centering model
    lets sparse rows continue it (the refusal's advice), False ends the
    running statistics and True or "scale" on a model trained without
    standardization starts them from the new rows. Before, the option was
    ignored after the first call. Tolerance: the re-expression rounds the
    intercept's ``w . mean`` terms (offsets up to 1e3 here)."""
    X, y = offset_data(300)
    # (a small step: unstandardized, these offsets diverge at the default)
    clf = LogisticRegression(standardize=first, lr=1e-6, random_state=0).partial_fit(
        X[:200], y[:200], classes=[0, 1])
    before = clf.decision_function(X)
    rest = sp.csr_matrix(X[200:]) if then == "scale" and first is True else X[200:]
    clf.set_params(standardize=then, learning_rate="constant", lr=1e-300)
    clf.partial_fit(rest, y[200:])
    np.testing.assert_allclose(clf.decision_function(X), before, rtol=1e-9,
                               atol=1e-9)
    state = clf.training_state_
    if not then:
        assert state.moments is None and not state.mean.any()
        assert (state.scale == 1.0).all()
        return
    rows = X if first else X[200:]
    want_mean, want_scale = reference.column_stats(rows)
    np.testing.assert_allclose(state.scale, want_scale, rtol=1e-10)
    if then is True:
        np.testing.assert_allclose(state.mean, want_mean, rtol=1e-12)
    else:
        assert not state.mean.any()
    assert state.moments.rows == rows.shape[0]


#: Options of a first partial_fit call and of a second that writes an
#: optimizer array the first left at zero (see ModelState.idle).
SWITCHES = [({}, {"learning_rate": "adagrad"}), ({}, {"average": True}),
            ({}, {"penalty": "l1", "alpha": 0.01}),
            ({"penalty": "l1", "alpha": 0.01}, {"penalty": "elasticnet", "alpha": 0.01,
                                                "average": 1}),
            ({"average": True}, {"learning_rate": "adagrad", "average": False}),
            ({"learning_rate": "adagrad"}, {"learning_rate": "constant",
                                            "penalty": "l1", "alpha": 0.01})]
SWITCH_IDS = ["adagrad", "average", "l1", "l1_elasticnet_average",
              "average_adagrad", "adagrad_l1"]


def chunks(sparse, parts=3):
    X, y = offset_data(240)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 300, X, 0.0))
    step = X.shape[0] // parts
    return [(X[i * step:(i + 1) * step], y[i * step:(i + 1) * step])
            for i in range(parts)]


@pytest.mark.parametrize("first, then", SWITCHES, ids=SWITCH_IDS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_a_failed_partial_fit_leaves_the_optimizer_arrays_it_shared(first, then,
                                                                    sparse,
                                                                    monkeypatch):
    """partial_fit trains a copy of the state that shares the optimizer
    arrays its options leave alone when they hold only zeros
    (ModelState.idle): a call whose options write one of them (changed
    since the last call) copies it, so that when it fails (after its epoch:
    a divergence, forced) every array of the estimator's state is as it
    was; then a call that succeeds trains as the estimator that never
    failed."""
    (X0, y0), (X1, y1), _ = chunks(sparse)
    # (standardized on sparse chunks too: "auto" would train them raw)
    clf, twin = (LogisticRegression(random_state=0, standardize=True, **first)
                 .partial_fit(X0, y0, classes=[0, 1]).partial_fit(X1, y1)
                 for _ in range(2))
    state = clf.training_state_
    assert state.shared   # the second call shared the arrays left at zero
    before = {name: getattr(state, name).copy() for name in ModelState.ARRAYS}
    clf.set_params(**then)
    with monkeypatch.context() as patch:
        patch.setattr(fastlr._driver, "diverged", lambda *args: True)
        with pytest.raises(fastlr.DivergedError):
            clf.partial_fit(X0, y0)
    assert clf.training_state_ is state
    for name, value in before.items():
        assert getattr(state, name).tobytes() == value.tobytes(), name
    for est in (clf, twin):
        est.set_params(**then).partial_fit(X0, y0)
    np.testing.assert_array_equal(clf.coef_, twin.coef_)
    np.testing.assert_array_equal(clf.intercept_, twin.intercept_)


@pytest.mark.parametrize("first, then", SWITCHES, ids=SWITCH_IDS)
@pytest.mark.parametrize("standardize, sparse", [(True, False), (True, True),
                                                 (False, True)],
                         ids=["center", "sparse", "fixed"])
def test_shared_optimizer_arrays_change_no_result(first, then, standardize, sparse,
                                                  monkeypatch):
    """A stream of partial_fit calls whose options change gives the same
    bits whether the copies share the arrays left at zero or copy them all
    (an array never written may stay an empty placeholder: zeros)."""
    def stream():
        clf = LogisticRegression(random_state=0, standardize=standardize, **first)
        parts = chunks(sparse, 4)
        for i, (X, y) in enumerate(parts):
            if i == 2:
                clf.set_params(**then)
            clf.partial_fit(X, y, classes=[0, 1])
        return clf.training_state_

    shared = stream()
    monkeypatch.setattr(ModelState, "idle", lambda self, written: frozenset())
    copied = stream()
    assert not copied.shared
    for name in ModelState.ARRAYS:
        a, b = getattr(shared, name), getattr(copied, name)
        if a.shape != b.shape:   # a placeholder, and zeros
            assert a.shape[-1] == 0 and not b.any(), name
            continue
        assert a.tobytes() == b.tobytes(), name


# --------------------------------------------------------------------------
# warm starts and model files


def test_partial_fit_after_fit_merges_into_the_fit_statistics():
    X, y = offset_data(300)
    clf = LogisticRegression(max_iter=3, tol=None, random_state=0).fit(X[:200], y[:200])
    clf.partial_fit(X[200:], y[200:])
    want_mean, want_scale = reference.column_stats(X)
    np.testing.assert_allclose(clf.training_state_.mean, want_mean, rtol=1e-12)
    np.testing.assert_allclose(clf.training_state_.scale, want_scale, rtol=1e-10)


def test_a_weighted_fit_s_rows_count_as_rows_in_the_running_statistics():
    """fit's weights, which the fit ignores the scale of, decide nothing of
    the running statistics a later partial_fit merges into: each of the
    fit's rows counts by its weight relative to their mean (the rows of A
    and B count equally, whatever the scale of A's weights); the fit's own
    standardization is the weighted one."""
    rng = np.random.default_rng(0)
    XA = rng.normal(0, 1, (1000, 3))
    yA = (XA[:, 0] + rng.logistic(size=1000) > 0).astype(int)
    XB = rng.normal(10, 1, (1000, 3))
    yB = (XB[:, 0] - 10 + rng.logistic(size=1000) > 0).astype(int)
    raw = rng.uniform(0.5, 2.0, 1000)
    means, scales = [], []
    for c in (1e-3, 1.0, 1e3):
        m = LogisticRegression(random_state=0, max_iter=3, tol=None)
        m.fit(XA, yA, sample_weight=c * raw)
        st = m.training_state_
        assert st.moments.rows == 1000
        np.testing.assert_allclose(st.mean, np.average(XA, axis=0, weights=raw),
                                   rtol=1e-12, atol=1e-12)
        for s in range(0, 1000, 250):
            m.partial_fit(XB[s:s + 250], yB[s:s + 250])
        means.append(m.training_state_.mean)
        scales.append(m.training_state_.scale)
    for mean, scale in zip(means[1:], scales[1:], strict=True):
        np.testing.assert_allclose(mean, means[0], rtol=1e-12)
        np.testing.assert_allclose(scale, scales[0], rtol=1e-12)
    # A's rows by their relative weights and B's rows, 1000 each
    w = np.r_[raw / raw.mean(), np.ones(1000)]
    np.testing.assert_allclose(means[0], np.average(np.vstack([XA, XB]), axis=0,
                                                    weights=w), rtol=1e-10)
    # a weight of 0 is a row left out: it counts for nothing
    zero = np.where(np.arange(1000) % 4 == 0, 0.0, 5.0)
    m = LogisticRegression(random_state=0, max_iter=3, tol=None)
    assert m.fit(XA, yA, sample_weight=zero).training_state_.moments.rows == 750


def test_warm_start_fit_standardizes_its_rows():
    """fit with warm_start standardizes by its own rows, as a cold fit does
    (it kept the previous standardization), starting from the previous
    model re-expressed in it, and the running statistics of the
    partial_fit calls that follow start again from its rows."""
    X, y = offset_data(300)
    clf = LogisticRegression(warm_start=True, random_state=0)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    state = clf.training_state_
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        clf.set_params(max_iter=0).fit(X[100:200], y[100:200])
    # continued training runs on a copy of the state, kept on success
    assert clf.training_state_ is not state
    state = clf.training_state_
    want_mean, want_scale = reference.column_stats(X[100:200])
    np.testing.assert_allclose(state.mean, want_mean, rtol=1e-12)
    np.testing.assert_allclose(state.scale, want_scale, rtol=1e-10)
    assert state.moments.rows == 100
    # re-expressed, not changed: the starting point is the previous model
    np.testing.assert_allclose(clf.coef_, coef, rtol=1e-9)
    np.testing.assert_allclose(clf.intercept_, intercept, rtol=1e-9)
    clf.set_params(max_iter=2, tol=None).fit(X[100:200], y[100:200])
    clf.partial_fit(X[200:], y[200:])
    state = clf.training_state_
    assert state.moments.rows == 200
    np.testing.assert_allclose(state.scale, reference.column_stats(X[100:])[1],
                               rtol=1e-10)


@pytest.mark.parametrize("kind", ["dense", "csr", "3 classes"])
def test_converged_warm_start_is_the_cold_fit_s_optimum(kind):
    """The optimum a warm start converges to does not depend on where it
    started: on X in other units than the previous fit's, a warm fit equals
    a cold one (it converged under the previous fit's standardization, with
    the penalty on other weights: a coefficient 22 times a cold fit's)."""
    X, y = offset_data(400, seed=3)
    if kind == "3 classes":
        y = np.digitize(X[:, 0], np.quantile(X[:, 0], [1 / 3, 2 / 3]))
    X2 = X * np.array([1e3, 1e-2, 1.0, 5.0, 1.0, 1e2])
    if kind == "csr":
        X, X2 = sp.csr_matrix(np.abs(X)), sp.csr_matrix(np.abs(X2))
    opt = dict(solver="lbfgs", alpha=1e-2, tol=1e-12, max_iter=500)
    warm = LogisticRegression(warm_start=True, **opt).fit(X, y).fit(X2, y)
    cold = LogisticRegression(**opt).fit(X2, y)
    np.testing.assert_allclose(warm.training_state_.scale, cold.training_state_.scale,
                               rtol=1e-12)
    # to the solvers' convergence (tol bounds the objective's decrease, not
    # the coefficients: 2e-5 of the largest apart for 3 classes)
    for got, want in ((warm.coef_, cold.coef_), (warm.intercept_, cold.intercept_)):
        assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_running_statistics_survive_model_files(tmp_path):
    X, y = offset_data(300)
    clf = LogisticRegression(random_state=0, average=True)
    for lo in (0, 2, 100):
        clf.partial_fit(X[lo:lo + 100], y[lo:lo + 100], classes=[0, 1])
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.training_state_.moments.rows == clf.training_state_.moments.rows
    for a, b in zip(back.training_state_.moments, clf.training_state_.moments,
                    strict=True):
        np.testing.assert_array_equal(a, b)
    clf.partial_fit(X[200:], y[200:])
    back.partial_fit(X[200:], y[200:])
    np.testing.assert_array_equal(back.coef_, clf.coef_)
    np.testing.assert_array_equal(back.training_state_.scale,
                                  clf.training_state_.scale)


def test_files_without_statistics_load_and_keep_their_standardization(tmp_path):
    """A model file written before running statistics existed (no 'stats'
    arrays) loads; partial_fit then keeps its standardization fixed."""
    X, y = offset_data(300)
    clf = LogisticRegression(random_state=0).partial_fit(X[:100], y[:100],
                                                        classes=[0, 1])
    fastlr.save(clf, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if not k.startswith("stats")}
    np.savez(tmp_path / "old.npz", **arrays)
    old = fastlr.load(tmp_path / "old.npz")
    assert old.training_state_.moments is None
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))
    mean, scale = old.training_state_.mean.copy(), old.training_state_.scale.copy()
    old.partial_fit(X[100:], y[100:])
    np.testing.assert_array_equal(old.training_state_.mean, mean)
    np.testing.assert_array_equal(old.training_state_.scale, scale)
    # standardize="scale", as the refusal of sparse rows advises, stops its
    # centring too (it has no running statistics to say it centres: its
    # mean does), changing no prediction; sparse rows then continue it
    before = old.predict_proba(X)
    with pytest.raises(ValueError, match="sparse but the model centers"):
        old.partial_fit(sp.csr_matrix(X[100:]), y[100:])
    old.set_params(standardize="scale", learning_rate="constant", lr=1e-300)
    old.partial_fit(sp.csr_matrix(X[100:]), y[100:])
    assert not old.training_state_.mean.any()
    np.testing.assert_array_equal(old.training_state_.scale, scale)
    np.testing.assert_allclose(old.predict_proba(X), before, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("edit, words", [
    (lambda a: a.pop("stats_rows"), "'stats' comes with 'stats_rows'"),
    (lambda a: a.pop("stats"), "'stats_rows' comes with 'stats'"),
    (lambda a: a.update(stats_rows=np.array([0, 1])), "row count >= 1"),
    (lambda a: a.update(stats_rows=np.array([5, 2])), "0 or 1"),
    (lambda a: a["stats"].__setitem__((0, 1), -1.0), "largest"),
    (lambda a: a["stats"].__setitem__((2, 0), -1.0), "squared deviations"),
    (lambda a: a["stats"].__setitem__((1, 0), np.nan), "NaN"),
    (lambda a: a.update(stats=np.zeros((2, 6))), "shape"),
    (lambda a: a.update(stats_rows=np.array([0.0, 1.0])), r"total weight > 0"),
    (lambda a: a.update(stats_rows=np.array([5, 1], dtype=np.int32)), "dtype"),
], ids=["no_rows", "no_stats", "zero_rows", "center_2", "negative_amax",
        "negative_m2", "nan", "shape", "zero_weight", "int32_rows"])
def test_damaged_statistics_are_model_file_errors(tmp_path, edit, words):
    X, y = offset_data(50)
    fastlr.save(LogisticRegression(max_iter=2, tol=None).fit(X, y),
                tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {k: npz[k].copy() for k in npz.files}
    edit(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=words):
        fastlr.load(tmp_path / "bad.npz")


def test_state_copies_share_no_statistics():
    X, _ = offset_data(50)
    state = ModelState(np.zeros(6), np.ones(6))
    state.track(moments_of(X), True)
    other = state.copy()
    other.add_rows(moments_of(X[:10]))
    assert state.moments.rows == 50 and other.moments.rows == 60


def test_adagrad_sums_follow_a_scale_1e300_larger_without_overflow():
    """Restandardizing to a scale 1e300 times larger divides AdaGrad's sums
    of squared gradients by the ratio squared, which overflowed (a
    RuntimeWarning from partial_fit on a chunk of values near 1e300); the
    sums go to 0, the limit of that division."""
    state = ModelState(np.zeros(3), np.ones(3))
    state.gsq[:] = 1.0
    with np.errstate(all="raise"):
        state.restandardize(np.zeros(3), np.full(3, 1e300))
    np.testing.assert_array_equal(state.gsq[:, :3], 0.0)


# --------------------------------------------------------------------------
# the cost of a partial_fit call on wide sparse chunks


@pytest.mark.parametrize("spread", [False, True], ids=["normal", "magnitudes"])
def test_row_moments_of_stored_columns_are_those_of_every_column(seed, spread):
    """Data.row_moments computes a CSR chunk's moments on the columns it
    stores alone: bit for bit those of column_stats over every column (the
    unstored ones a column of zeros), whatever the magnitudes, for float32
    and float64 and for a chunk that stores nothing."""
    rng = np.random.default_rng(seed)
    X = sp.random(60, 5000, density=0.002, random_state=seed, format="lil")
    X[:, 17] = 2.5    # stored in every row: a shifted column
    X = X.tocsr()
    X.data = rng.normal(size=X.data.shape) * (10.0 ** rng.integers(-30, 30, X.data.shape)
                                             if spread else 1.0)
    X.data[X.indices == 17] = 2.5
    for Z in (X, X.astype(np.float32), sp.csr_matrix((60, 5000))):
        data = Data(Z)
        want = data.column_stats(moments=True)[2]
        got = data.row_moments()
        assert got.rows == want.rows and type(got.rows) is type(want.rows)
        for name in ("amax", "mean", "m2"):
            assert getattr(got, name).tobytes() == getattr(want, name).tobytes(), name


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_stored_columns_are_np_unique_s(seed, dtype):
    """Data.stored_columns finds a CSR chunk's columns by a mask over the
    columns instead of a sort of its entries: the columns and each entry's
    position among them are np.unique(indices, return_inverse=True)'s, for
    unsorted indices, either index dtype, entries past indptr[-1] and a
    chunk that stores nothing."""
    rng = np.random.default_rng(seed)
    n = 3000
    for m, nnz in ((40, 300), (5, 0), (200, 4000)):
        indptr = np.sort(np.r_[0, rng.integers(0, nnz + 1, m - 1), nnz]).astype(dtype)
        indices = rng.integers(0, n, nnz + 7).astype(dtype)   # 7 spare entries
        X = sp.csr_matrix((rng.normal(size=nnz + 7), indices, indptr), shape=(m, n))
        X.indices, X.indptr = indices, indptr   # (scipy narrows int64 to int32)
        cols, at = Data(X).stored_columns()
        want_cols, want_at = np.unique(indices[:nnz], return_inverse=True)
        np.testing.assert_array_equal(cols, want_cols)
        np.testing.assert_array_equal(at, want_at.reshape(-1))
        assert at.dtype == X.indices.dtype


def test_partial_fit_on_sparse_chunks_passes_over_stored_columns_only(monkeypatch):
    """A chunk's statistics in a partial_fit stream on wide sparse X are
    computed on the columns it stores (Data.row_moments), not over every
    column: the rule's per-column kernels run on arrays of at most as many
    columns as the chunk stores."""
    from fastlr._kernels import stats

    X = sp.random(200, 100_000, density=0.0002, random_state=0, format="csr")
    y = np.arange(200) % 2
    clf = LogisticRegression(random_state=0, standardize=True).partial_fit(
        X[:100], y[:100], classes=[0, 1])
    widths = []
    finish = stats.finish_columns

    def spy(*args):
        widths.append(args[-1].shape[0])
        return finish(*args)

    monkeypatch.setattr(stats, "finish_columns", spy)
    clf.partial_fit(X[100:], y[100:])
    stored = np.unique(X[100:].indices).shape[0]
    assert widths and max(widths) <= stored


def zipf_chunks(n, m, nnz, chunks, seed):
    """CSR chunks of a few often-stored columns and many rare ones (as
    hashed text), with stored zeros, a constant column and an unsorted
    chunk every other one."""
    rng = np.random.default_rng(seed)
    for c in range(chunks):
        rows = np.repeat(np.arange(m), nnz)
        cols = np.minimum((rng.pareto(0.7, size=m * nnz) * 50).astype(np.int64), n - 1)
        vals = rng.normal(size=m * nnz) * 3 + 1
        vals[rng.random(m * nnz) < 0.05] = 0.0
        vals[cols == 7] = -2.5
        X = sp.csr_matrix((vals, (rows, cols)), shape=(m, n))
        X.sum_duplicates()
        if c % 2:
            X.sort_indices()
        yield X, rng.integers(0, 2, m)


STATE_FIELDS = ("W", "B", "scale", "mean", "steps", "gsq", "avg", "l1_u", "l1_q")


@pytest.mark.parametrize("options", [
    {}, {"learning_rate": "adagrad", "lr": 0.1},
    {"penalty": "elasticnet", "l1_ratio": 0.5, "average": 3},
    {"standardize": "scale", "learning_rate": "invscaling"}])
def test_a_sparse_stream_merges_the_stored_columns_alone_to_the_bit(seed, options,
                                                                    monkeypatch):
    """On CSR chunks, the running statistics and the weights are merged and
    re-expressed at the columns stored so far alone (the others' statistics
    are those of a column of zeros, which the merge leaves as they are):
    after 20 chunks every array of the state is that of merging and
    re-expressing all columns at every call, bit for bit, whether the stored
    columns stay a small share of all or grow past LIVE_SHARE mid-stream."""
    from fastlr import _state

    def stream(share):
        monkeypatch.setattr(_state, "LIVE_SHARE", share)
        clf = LogisticRegression(random_state=seed, **{"standardize": True, **options})
        for c, (X, y) in enumerate(zipf_chunks(4000, 40, 10, 20, seed)):
            clf.partial_fit(X, y, classes=[0, 1] if c == 0 else None)
        return clf

    full, part = stream(-1.0), stream(0.25)
    a, b = full.training_state_, part.training_state_
    for name in STATE_FIELDS:
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    for x, y in zip(a.moments, b.moments, strict=True):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()
    assert full.coef_.tobytes() == part.coef_.tobytes()
    assert full.intercept_.tobytes() == part.intercept_.tobytes()


def test_a_sparse_stream_merges_no_more_columns_than_it_stored(monkeypatch):
    """A partial_fit call on a wide CSR chunk merges the running statistics
    (the compiled merge_columns) at the columns stored so far, not at all
    n: on 200,000 columns of which a stream of 5 chunks stored under 2,000,
    no merge runs on more; the state's statistics and scale stay arrays of
    all n columns."""
    from fastlr._kernels import stats

    chunks = list(zipf_chunks(200_000, 50, 10, 5, 0))
    clf = LogisticRegression(random_state=0, standardize=True).partial_fit(
        *chunks[0], classes=[0, 1])
    widths = []
    merge = stats.merge_columns

    def spy(*args):
        widths.append(args[1].shape[0])
        return merge(*args)

    monkeypatch.setattr(stats, "merge_columns", spy)
    for X, y in chunks[1:]:
        clf.partial_fit(X, y)
    stored = np.unique(np.concatenate([X.indices for X, _ in chunks])).shape[0]
    assert len(widths) == 4 and max(widths) <= stored < 2000
    state = clf.training_state_
    assert state.scale.shape == state.moments.amax.shape == (200_000,)


def test_a_kept_copy_s_starting_point_is_recomputed_to_the_bit(seed):
    """A copy made with ``kept`` (partial_fit's: the estimator keeps the
    state it copied until the call succeeds) gives as warm point the
    iterate it had when asked, re-expressed or not, bit for bit what a copy
    of its weights gives, without copying them; training the copy
    afterwards changes it no more than it changes a copied one."""
    rng = np.random.default_rng(seed)
    state = ModelState(np.zeros(50), rng.uniform(0.5, 2.0, 50))
    state.W[:] = rng.normal(size=(1, 50))
    state.B[:] = rng.normal(size=1)
    plain = state.copy()
    kept = state.copy(kept=True)
    assert kept._source[0] is state.W
    cols = np.array([3, 17, 40])
    for st in (plain, kept):
        st.restandardize(st.mean, _placed_scale(st.scale, cols, rng_seed=seed),
                         cols=cols)
        st.restandardize(st.mean, st.scale * 1.5)
    want, got = plain.warm_point(), kept.warm_point()
    assert kept._source is None   # (it serves once: training follows)
    for st in (plain, kept):
        st.W += 1.0   # (the epoch)
        st.B += 1.0
    for a, b in zip(want(), got(), strict=True):
        assert a.tobytes() == b.tobytes()
    again = state.copy(kept=True)
    again.steps[1] = 1
    again.stop_averaging()   # W changed in place: the source is forgotten
    assert again._source is None


@pytest.mark.parametrize("standardize", [True, False])
def test_partial_fit_measures_divergence_from_the_start_it_had(standardize,
                                                               monkeypatch):
    """partial_fit judges a loss past DIVERGED_LOSS against the loss of the
    model it started from, which its copy of the estimator's state
    recomputes from the kept weights (ModelState.copy's ``kept``): the same
    starting loss, bit for bit, as from a copy of its own weights."""
    from fastlr import _driver, _state

    monkeypatch.setattr(_driver, "DIVERGED_FACTOR", math.inf)   # never refused
    asked = []
    judge = _driver.diverged

    def spy(seen, finite, start_loss=None):
        if start_loss is not None:
            asked.append(start_loss())
        return judge(seen, finite, start_loss)

    monkeypatch.setattr(_driver, "diverged", spy)
    chunks = list(zipf_chunks(3000, 40, 10, 4, 0))

    def stream():
        clf = LogisticRegression(random_state=0, standardize=standardize)
        for c, (X, y) in enumerate(chunks):
            # past the bound from the second call: the start always asked
            monkeypatch.setattr(_driver, "DIVERGED_LOSS", 1e300 if c == 0 else -1.0)
            clf.partial_fit(X, y, classes=[0, 1] if c == 0 else None)
        return clf

    got = stream()
    copy_ = _state.ModelState.copy
    monkeypatch.setattr(_state.ModelState, "copy",
                        lambda self, rng=False, share=(), kept=False:
                        copy_(self, rng, share))
    mid = len(asked)
    want = stream()
    assert mid == 3 and asked[:mid] == asked[mid:]
    assert got.coef_.tobytes() == want.coef_.tobytes()
    assert got.training_state_._source is None   # (trained since: forgotten)


def _placed_scale(scale, cols, rng_seed):
    out = scale.copy()
    out[cols] = np.random.default_rng(rng_seed).uniform(0.5, 2.0, cols.shape[0])
    return out


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_statistics_started_mid_stream_are_a_first_calls_to_the_bit(sparse):
    """Standardization switched on for a model trained without it starts
    running statistics from the next chunk exactly as a first call on that
    chunk does, to the bit: the model takes them as a warm start from
    ``coef_`` set by hand takes them. On CSR chunks the scale came from the
    chunk's moments by another summation, and differed in the last place
    (so a model file of hand-set weights continued otherwise than the
    estimator it was saved from)."""
    X, y = offset_data(300, seed=3)
    if sparse:
        X = sp.csr_matrix(X)
    start = dict(learning_rate="constant", random_state=0)
    clf = LogisticRegression(standardize=False, lr=1e-6, **start).partial_fit(
        X[:100], y[:100], classes=[0, 1])
    clf.set_params(standardize="scale").partial_fit(X[100:], y[100:])
    first = LogisticRegression(standardize="scale", **start).partial_fit(
        X[100:], y[100:], classes=[0, 1])
    got, want = clf.training_state_, first.training_state_
    np.testing.assert_array_equal(got.scale, want.scale)
    np.testing.assert_array_equal(got.mean, want.mean)
    for field in ("amax", "mean", "m2"):
        np.testing.assert_array_equal(getattr(got.moments, field),
                                      getattr(want.moments, field))
    assert got.moments.rows == want.moments.rows == 200


def test_a_zero_mean_and_unit_scale_are_read_once_per_array():
    """ModelState.centers and scales read the standardization once per
    array (it is replaced, never changed in place): copies and later calls
    of a partial_fit stream pass over no column for them, and a replaced
    mean or scale is read again."""
    X = sp.random(40, 1000, density=0.01, random_state=0, format="csr")
    y = np.arange(40) % 2
    clf = LogisticRegression(standardize=False, random_state=0)
    clf.partial_fit(X[:20], y[:20], classes=[0, 1]).partial_fit(X[20:], y[20:])
    state = clf.training_state_
    reads = []
    any_ = np.ndarray.any

    class Spy(np.ndarray):
        def any(self, *args, **kwargs):
            reads.append(self.shape)
            return any_(self, *args, **kwargs)

    fresh = ModelState(np.zeros(1000).view(Spy), np.ones(1000).view(Spy))
    assert not fresh.centers() and not fresh.scales()
    copied = fresh.copy()
    assert not copied.centers() and not copied.scales()
    assert len(reads) == 2   # once each, the copy knowing it
    copied.restandardize(np.ones(1000), np.full(1000, 2.0))
    assert copied.centers() and copied.scales() and not fresh.centers()
    assert state.centers() is False and state.mean is state._zero_mean
    before = state.W.copy()
    clf.partial_fit(X[:20], y[:20])
    assert clf.training_state_._zero_mean is state.mean
    assert state.W.tobytes() == before.tobytes()


def test_merging_does_not_drift_with_the_number_of_chunks():
    """A merge whose divisor does not change rescales by exactly 1 (the
    ratio divided, not times a reciprocal: ``s * (1 / s)`` is ``1 -
    2**-53`` for many ``s``, and every merge shrank ``m2`` by that): 3,000
    merges of one chunk keep the scale within 1e-13 of the rows' (2.7e-13
    low before; 1.8e-12 after 20,000 merges, 8.5e-11 after 10**6)."""
    from fastlr import _stats
    from fastlr._dispatch import Data

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 64)) * 3 + 1
    mom = Data(X).column_stats(moments=True)[2]
    acc = mom
    for _ in range(3000):
        acc = _stats.merge(acc, mom)
    scale = _stats.finish_moments(acc)[1]
    np.testing.assert_allclose(scale, X.std(axis=0), rtol=1e-13, atol=0)
