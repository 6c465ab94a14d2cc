"""fastlr.LogisticRegression: scikit-learn conventions and compatibility."""

import copy
import functools
import pickle
import re
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastlr
from fastlr import LogisticRegression

EXPECTED_FAILED = {
    # SGD visits mini-batches: weighting a row by 2 is not the same step
    # sequence as repeating it, so the fits differ (scikit-learn's own
    # SGDClassifier marks this check as an expected failure too).
    "check_sample_weight_equivalence_on_dense_data":
        "mini-batch SGD: weights are not equivalent to repeated rows",
    "check_sample_weight_equivalence_on_sparse_data":
        "mini-batch SGD: weights are not equivalent to repeated rows",
}

#: The converged solver: the optimum is that of the weighted objective,
#: which equals the repeated rows' (standardization weighted too), so the
#: sample-weight checks pass. Their data (15 rows, 30 features, 3 classes)
#: is nearly separable: a penalty of 1e-2 keeps the optimum well defined
#: to the 1e-7 the checks compare predictions at, and tol=1e-20 runs the
#: solver to the limit of floating point.
CONVERGED = dict(solver="auto", alpha=1e-2, tol=1e-20, random_state=0)


@parametrize_with_checks(
    [LogisticRegression(solver="sgd", max_iter=200, tol=1e-3, random_state=0),
     LogisticRegression(**CONVERGED)],
    expected_failed_checks=lambda est: EXPECTED_FAILED if est.solver == "sgd"
    else {},
)
def test_sklearn_estimator_checks(estimator, check):
    import warnings

    with warnings.catch_warnings():
        # the checks fit on tiny or random data with few epochs on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        # and weigh classes by 1000 against 1e-4 (SGD rightly warns that
        # such weights scale its steps: a mean of 480)
        warnings.simplefilter("ignore", fastlr.WeightScaleWarning)
        check(estimator)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_sample_weight_equivalence_of_lbfgs(sparse):
    """The same two checks for solver="lbfgs", without warnings: the
    solver converges on them."""
    from sklearn.utils.estimator_checks import (
        check_sample_weight_equivalence_on_dense_data,
        check_sample_weight_equivalence_on_sparse_data,
    )

    check = (check_sample_weight_equivalence_on_sparse_data if sparse
             else check_sample_weight_equivalence_on_dense_data)
    check("LogisticRegression",
          LogisticRegression(**{**CONVERGED, "solver": "lbfgs"}))


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def test_fitted_attributes(cancer, dtype):
    Xtr, Xte, ytr, yte = cancer
    clf = LogisticRegression(random_state=0).fit(Xtr.astype(dtype), ytr)
    assert clf.coef_.shape == (1, Xtr.shape[1])
    assert clf.coef_.dtype == dtype
    assert clf.intercept_.shape == (1,)
    assert clf.intercept_.dtype == dtype
    assert clf.n_features_in_ == Xtr.shape[1]
    assert list(clf.classes_) == [0, 1]
    assert 1 <= clf.n_iter_ <= clf.max_iter
    assert clf.loss_curve_.shape == (clf.n_iter_,)
    assert clf.score(Xte.astype(dtype), yte) >= 0.95


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("k", [2, 3])
def test_predictions_in_the_dtype_of_x_times_coef(sparse, k):
    """A float64 model predicts float32 X in float64, as scikit-learn's
    ``X @ coef_.T`` does: in float32 a class probability of 1e-10 was 0
    and its log -inf. A float32 model on float32 X stays float32."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0], [-0.5, 0.5][: k - 1])
    X[:5, 0] = np.linspace(-12.0, 12.0, 5)    # confident rows
    clf = LogisticRegression(random_state=0, alpha=1e-6, max_iter=50).fit(X, y)
    X32 = X.astype(np.float32)
    if sparse:
        X32 = sp.csr_matrix(X32)
    for method in ("decision_function", "predict_proba", "predict_log_proba"):
        got = getattr(clf, method)(X32)
        assert got.dtype == np.float64, method
    # the float64 computation on the float32 values, to float64 rounding
    ref = X32.toarray() if sparse else X32
    z = ref.astype(np.float64) @ clf.coef_.T + clf.intercept_
    np.testing.assert_allclose(clf.decision_function(X32).reshape(z.shape), z,
                               rtol=1e-12, atol=1e-12)
    P = clf.predict_proba(X32)
    assert P.min() > 0.0 and np.isfinite(clf.predict_log_proba(X32)).all()
    small = clf.fit(X32, y)      # a float32 model
    assert small.coef_.dtype == np.float32
    assert small.predict_proba(X32).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [2, 3])
def test_predict_log_proba_is_finite_where_probabilities_round_to_zero(k, dtype):
    """predict_log_proba was log(predict_proba): -inf once a probability
    rounded to 0 (a logit past about 37 for two classes), and, below that,
    the log of ``1 - p`` with p near 1 kept few correct digits. It is now
    the log-sigmoid / log-softmax of the logits: scipy's ``log_expit`` and
    ``log_softmax`` of ``decision_function`` to 1e-12 relative (rounding of
    a few float64 operations), or to float32 rounding for a float32 model;
    and ``exp`` of it is ``predict_proba`` where that is not tiny."""
    from scipy.special import log_expit, log_softmax

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(dtype)
    y = np.digitize(X[:, 0], [-0.5, 0.5][: k - 1])
    clf = LogisticRegression(random_state=0, max_iter=20).fit(X, y)
    far = np.zeros((7, 3), dtype=dtype)
    far[:, 0] = [-1e3, -80.0, -40.0, 0.0, 40.0, 80.0, 1e3]
    far = far / np.abs(clf.coef_).max()
    got = clf.predict_log_proba(far)
    assert got.dtype == dtype and got.shape == (7, k)
    # the link of the logits as returned (float32 ones round the logit)
    z = clf.decision_function(far).astype(np.float64).reshape(7, -1)
    if k == 2:
        want = np.column_stack([log_expit(-z[:, 0]), log_expit(z[:, 0])])
    else:
        want = log_softmax(z, axis=1)
    assert np.isfinite(got).all() and (clf.predict_proba(far) == 0.0).any()
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)
    P = clf.predict_proba(far)
    normal = P > 1e-4
    np.testing.assert_allclose(np.exp(got)[normal], P[normal], rtol=10 * rtol)


def test_predict_log_proba_of_infinite_logits_spreads_like_predict_proba():
    """Logits that overflow to +-inf (finite X, see Data.decision): the
    log-probabilities are the log of predict_proba's (mass evenly on the
    largest logits), without a warning."""
    import warnings

    from fastlr._dispatch import _linked
    from fastlr.estimator import _log_softmax

    z = np.array([[np.inf, np.inf, 0.0], [np.inf, -np.inf, 1.0],
                  [-np.inf, -np.inf, -np.inf], [1.0, -np.inf, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _log_softmax(z)
        # two classes: the kernels' link, as Data.decision applies it
        zb = _linked(np.array([[np.inf], [-np.inf], [0.0]]), "log_proba")
    with np.errstate(divide="ignore"):
        want = np.log([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [1 / 3] * 3, [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(got, want, rtol=1e-15)
    np.testing.assert_allclose(zb, [[-np.inf, 0.0], [0.0, -np.inf],
                                    [-np.log(2.0), -np.log(2.0)]], rtol=1e-15, atol=0)


def test_string_labels_and_proba(cancer):
    Xtr, Xte, ytr, yte = cancer
    names = np.array(["benign", "malignant"])
    clf = LogisticRegression(random_state=0).fit(Xtr, names[ytr])
    assert list(clf.classes_) == ["benign", "malignant"]
    proba = clf.predict_proba(Xte)
    assert proba.shape == (Xte.shape[0], 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    pred = clf.predict(Xte)
    assert set(pred) <= set(names)
    # predict agrees with the sign of the decision function and with proba
    z = clf.decision_function(Xte)
    np.testing.assert_array_equal(pred == "malignant", z > 0)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])


@pytest.mark.parametrize("solver", ["sgd", "auto", "lbfgs"])
def test_matches_functional_train(blobs, solver):
    """The estimator is a thin layer: same model as fastlr.train."""
    X, y = blobs
    clf = LogisticRegression(lr=0.05, batch_size=16, max_iter=7, tol=None,
                             penalty=None, random_state=3, solver=solver).fit(X, y)
    res = fastlr.train(X, y, batch_size=16, epochs=7, lr=0.05, random_state=3,
                       solver=solver)
    np.testing.assert_allclose(clf.coef_[0], res.w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(clf.intercept_[0], res.b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(clf.loss_curve_, res.losses, rtol=1e-12)


def test_convergence_warning_at_max_iter(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        LogisticRegression(max_iter=2, tol=1e-12, random_state=0).fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "auto", "lbfgs"])
@pytest.mark.parametrize("tol", [1e-4, None])
def test_max_iter_zero_warns_and_leaves_the_start(blobs, solver, tol):
    """max_iter=0 runs nothing: the model stays at zero (scikit-learn's
    LogisticRegression warns too), and a warm start stays where it was."""
    X, y = blobs
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        clf = LogisticRegression(max_iter=0, tol=tol, solver=solver).fit(X, y)
    assert not clf.coef_.any() and not clf.intercept_.any()
    warm = LogisticRegression(max_iter=3, tol=None, solver=solver, random_state=0,
                              warm_start=True).fit(X, y)
    coef = warm.coef_.copy()
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        warm.set_params(max_iter=0).fit(X, y)
    np.testing.assert_array_equal(warm.coef_, coef)


@pytest.mark.parametrize("label, shown", [(0.0, "0.0"), (np.int64(3), "3"),
                                           ("spam", "'spam'")])
def test_one_class_message_shows_the_label_plainly(label, shown):
    X = np.ones((4, 2))
    y = np.array([label] * 4)
    for fit in (lambda: LogisticRegression().fit(X, y),
                lambda: fastlr.LogisticRegressionCV().fit(X, y)):
        with pytest.raises(ValueError, match=rf"only one class \({re.escape(shown)}\)"):
            fit()


def test_tol_stops_early(blobs):
    X, y = blobs
    clf = LogisticRegression(max_iter=1000, tol=1e-3, random_state=0).fit(X, y)
    assert clf.n_iter_ < 1000


def test_pipeline_clone_grid_cv(cancer):
    Xtr, _, ytr, _ = cancer
    pipe = make_pipeline(StandardScaler(),
                         LogisticRegression(standardize=False, random_state=0))
    scores = cross_val_score(pipe, Xtr, ytr, cv=3)
    assert scores.mean() >= 0.95
    grid = GridSearchCV(LogisticRegression(random_state=0),
                        {"lr": [0.001, 0.05], "batch_size": [16, 64]}, cv=3)
    grid.fit(Xtr, ytr)
    assert grid.best_score_ >= 0.95
    c = clone(grid.best_estimator_)
    assert not hasattr(c, "coef_")
    assert c.get_params() == grid.best_estimator_.get_params()


def test_sample_weight_zero_rows_are_ignored(blobs):
    """Rows with weight 0 contribute nothing to the gradient."""
    X, y = blobs
    sw = np.ones(len(y))
    sw[::3] = 0.0
    Xn = X.copy()
    Xn[::3] = 1e3  # garbage rows that would wreck the fit if they counted
    a = LogisticRegression(max_iter=20, tol=None, standardize=False,
                           random_state=0).fit(Xn, y, sample_weight=sw)
    assert a.score(X[sw > 0], y[sw > 0]) >= 0.85


def test_balanced_class_weight_counts_sample_weights(blobs):
    """"balanced" divides by each class's summed sample weights, as
    scikit-learn's LogisticRegression and compute_class_weight do: rows of
    weight 0 count as no rows, so the fit equals the fit without them."""
    from sklearn.utils.class_weight import compute_class_weight

    X, y = blobs
    sw = np.ones(len(y))
    sw[np.flatnonzero(y == 1)[:60]] = 0.0
    sw[::7] *= 2.5
    keep = sw > 0
    kw = dict(class_weight="balanced", alpha=1e-2, tol=1e-20, random_state=0)
    a = LogisticRegression(**kw).fit(X, y, sample_weight=sw)
    b = LogisticRegression(**kw).fit(X[keep], y[keep], sample_weight=sw[keep])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0,
                               atol=1e-9)   # the same optimum, to the solver's tol
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y,
                                    sample_weight=sw)
    got = a._class_weights(y.astype(np.int64), np.array([0, 1]), sw, fitting=True)
    np.testing.assert_allclose(got, sw * expected[y], rtol=1e-15)


def test_partial_fit(blobs):
    X, y = blobs
    clf = LogisticRegression(random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    for _ in range(5):
        for chunk in np.array_split(np.arange(len(y)), 4):
            clf.partial_fit(X[chunk], y[chunk], classes=[0, 1])
    assert clf.n_iter_ == 20
    assert clf.loss_curve_.shape == (20,)
    assert clf.score(X, y) >= 0.85
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:4], np.array([0, 1, 2, 1]))


def test_partial_fit_of_many_classes_does_not_warn_of_regression():
    """With ``classes`` declared (or known from the first call) the labels
    are classes: a chunk of 100 rows holding 60-odd of 1,000 classes got
    scikit-learn's "y could represent a regression problem" warning at
    every call (an error under warnings-as-errors), which
    ``SGDClassifier.partial_fit`` does not give. Labels outside the classes
    are still refused."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 1000, 300)
    clf = LogisticRegression(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.partial_fit(X[:100], y[:100], classes=np.arange(1000))
        clf.partial_fit(X[100:200], y[100:200])
        clf.partial_fit(X[200:], y[200:], classes=np.arange(1000))
    assert clf.n_iter_ == 3
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:3], np.array([0.5, 1.0, 2.0]))


def test_messages_about_many_classes_name_the_label_and_abbreviate_the_classes():
    """A label outside 1,000 classes, or a class_weight key that is none of
    them, gave a message of 5,000 characters listing every class (the bad
    label last): the offending label comes first, the classes abbreviated
    with their count. Nothing is changed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.arange(200) % 100   # (fit: 100 classes in 200 rows draw no warning)
    classes = np.arange(1000)
    clf = LogisticRegression(random_state=0).partial_fit(X, y, classes=classes)
    coef = clf.coef_.copy()
    calls = [
        (lambda: clf.partial_fit(X[:3], np.array([5000, 1, 2])),
         r"^y contains labels not in classes: 5000 \(the classes: 0, 1, 2, 3, 4, "
         r"5, \.\.\. \(1000 in all\)\)$"),
        (lambda: clf.partial_fit(X[:3], y[:3], classes=np.arange(1001)),
         r"^classes differs from the model's classes_ \(from its fit or first "
         r"partial_fit call\): classes \[1000\] is not in classes_$"),
        (lambda: LogisticRegression(class_weight={99999: 2.0}).fit(X, y),
         r"^class_weight names the label 99999, which is not one of the classes "
         r"\[0, 1, 2, 3, 4, 5, \.\.\. \(100 in all\)\], and leaves out the "
         r"classes \[0, 1, 2, 3, 4, 5, \.\.\. \(100 in all\)\]: labels that are "
         r"not classes are ignored only when every class is named$"),
        (None, r"^y's classes differ from those of the previous fit, which "
               r"warm_start=True continues: y \[1000, 1001, 1002, 1003, 1004, "
               r"1005, \.\.\. \(100 in all\)\] are not in classes_; classes_ "
               r"\[0, 1, 2, 3, 4, 5, \.\.\. \(100 in all\)\] are not in y; set "
               r"warm_start=False"),
    ]
    warm = LogisticRegression(warm_start=True, solver="sgd", max_iter=1,
                              tol=None).fit(X, y)
    calls[3] = (lambda: warm.fit(X, y + 1000), calls[3][1])
    for call, match in calls:
        with pytest.raises(ValueError, match=match) as info:
            call()
        assert len(str(info.value)) < 300   # (two abbreviated lists at most)
    np.testing.assert_array_equal(clf.coef_, coef)
    assert clf.classes_.shape == (1000,)
    # short lists are written out in full, text labels quoted
    two = LogisticRegression().partial_fit(X[:4], ["a", "b", "a", "b"],
                                           classes=["a", "b"])
    with pytest.raises(ValueError, match=r"^y contains labels not in classes: "
                                         r"'c' \(the classes: 'a', 'b'\)$"):
        two.partial_fit(X[:2], ["a", "c"])


def _option_switches(X, y, tmp_path):
    """A model through partial_fit calls and warm fits whose options switch
    on, one by one, every optimizer array (AdaGrad's sums, averaging, L1's
    records) and off again, with a save/load and a pickle on the way;
    returns each step's coef_, intercept_ and optimizer arrays."""
    classes = np.unique(y)
    clf = LogisticRegression(random_state=0, batch_size=16, max_iter=3,
                             solver="sgd", tol=None)
    out = []

    def record(clf):
        st = clf.training_state_
        out.append((clf.coef_.copy(), clf.intercept_.copy(),
                    {name: getattr(st, name).copy() for name in
                     ("gsq", "avg", "l1_u", "l1_q")}))

    chunks = np.array_split(np.arange(y.shape[0]), 3)
    switches = [{}, {"learning_rate": "adagrad"}, {"average": True},
                {"penalty": "elasticnet", "l1_ratio": 0.5},
                {"learning_rate": "constant"}, {"average": False},
                {"penalty": "l2", "l1_ratio": 0.15}]
    for i, change in enumerate(switches):
        clf.set_params(**change)
        for rows in chunks:
            clf.partial_fit(X[rows], y[rows], classes=classes)
            record(clf)
        if i == 2:
            clf = pickle.loads(pickle.dumps(clf))
        if i == 4:
            fastlr.save(clf, tmp_path / "m.npz")
            clf = fastlr.load(tmp_path / "m.npz")
    clf.set_params(warm_start=True)
    for change in switches:
        clf.set_params(**change)
        clf.fit(X, y)
        record(clf)
    return out


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("k", [2, 4])
def test_optimizer_arrays_exist_only_once_written(sparse, k, tmp_path, monkeypatch):
    """A fitted model kept AdaGrad's sums, the average and L1's two records
    whatever its options, all zeros but for the options that write them:
    four k x n arrays beside the weights (a 200-class model's pickle 6x its
    weights). Only those the options write are allocated, the others are
    empty placeholders the kernels never index, which a later call whose
    options write them gets back as zeros: through every switch of options
    (partial_fit and warm fits, pickled, saved and loaded on the way) the
    model and its optimizer arrays are those of a run that allocates every
    array, to the bit."""
    import scipy.sparse as sp

    from fastlr import _state

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6))
    y = (X[:, 0] + X[:, 1] * (np.arange(90) % 2) > 0).astype(int) + (
        2 * (X[:, 2] > 0.5) if k > 2 else 0)
    if sparse:
        X[np.abs(X) < 0.7] = 0.0
        X = sp.csr_matrix(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        got = _option_switches(X, y, tmp_path)
        monkeypatch.setattr("fastlr.estimator.written_arrays",
                            lambda *args: _state.ModelState.IDLE)
        monkeypatch.setattr(_state.ModelState, "release",
                            lambda self, written=(): None)
        full = _option_switches(X, y, tmp_path)
    rows = 1 if k == 2 else k
    placeholders = 0
    for (coef, b, arrays), (coef_f, b_f, arrays_f) in zip(got, full, strict=True):
        np.testing.assert_array_equal(coef, coef_f)
        np.testing.assert_array_equal(b, b_f)
        for name, value in arrays.items():
            if value.shape == (rows, 0):   # a placeholder holds zeros
                placeholders += 1
                assert not arrays_f[name].any()
            else:
                np.testing.assert_array_equal(value, arrays_f[name])
    assert placeholders > 20


def test_a_fitted_model_keeps_no_optimizer_array_its_options_never_wrote():
    """Default options (L2, constant rate, no averaging) write none of the
    four: the fitted state, its pickle and its copies hold the weights
    alone (k = 200, n = 2,000: a pickle of 19.3 MB for 3.2 MB of weights)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 50))
    y = np.arange(400) % 8
    for solver in ("sgd", "auto", "lbfgs"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(solver=solver, max_iter=3, random_state=0).fit(X, y)
        st = clf.training_state_
        assert [getattr(st, name).shape for name in ("gsq", "avg", "l1_u", "l1_q")] \
            == [(8, 0)] * 4
        size = len(pickle.dumps(clf))
        assert size < 2.5 * clf.coef_.nbytes
    clf = LogisticRegression(learning_rate="adagrad", average=True, max_iter=2,
                             solver="sgd", tol=None).fit(X, y)
    st = clf.training_state_
    assert st.gsq.shape == st.avg.shape == (8, 51) and st.l1_u.shape == (8, 0)
    # a first partial_fit call allocates what its options write only
    st = LogisticRegression(penalty="l1").partial_fit(X, y, classes=np.arange(8)
                                                       ).training_state_
    assert st.l1_u.shape == st.l1_q.shape == (8, 50)
    assert st.gsq.shape == st.avg.shape == (8, 0)


@pytest.mark.parametrize("options, vectors", [({}, 4.5), ({"average": True}, 8.5)])
def test_train_allocates_only_the_optimizer_arrays_its_options_write(
        options, vectors, traced_peak):
    """``fastlr.train`` allocated all four optimizer arrays (k x n each)
    whatever its options: on wide sparse data its peak was 8 weight vectors
    where the weights, the standardization, the returned weights and the
    arrays the options write need 4 (measured 4.0; with averaging 8.0,
    11.0 before)."""
    import scipy.sparse as sp

    n = 200_000
    X = sp.random(200, n, density=1e-4, format="csr", random_state=0)
    y = np.arange(200) % 2
    def run():
        return fastlr.train(X, y, epochs=1, standardize=False, **options)

    run()   # (a first call's one-time allocations left out)
    _, peak = traced_peak(run)
    assert peak < vectors * 8 * n, peak / (8 * n)


def test_a_stream_reads_no_optimizer_array_its_options_write(monkeypatch):
    """Each ``partial_fit`` call ends by making placeholders of the zero
    optimizer arrays, which reads them: those the options write (AdaGrad's
    sums, the L1 records, the average once started) are not zeros after a
    step, and reading them cost every call of a stream a pass over k x n
    floats each. Only the others are read; a written array is kept even
    when zero, but for an average not started yet."""
    from fastlr import _state

    read = []
    idle = _state.ModelState.idle

    def spy(self, written):
        read.append(sorted(self.IDLE - frozenset(written) - self.shared))
        return idle(self, written)

    monkeypatch.setattr(_state.ModelState, "idle", spy)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = np.arange(60) % 3
    clf = LogisticRegression(learning_rate="adagrad", penalty="l1", average=True,
                             random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.arange(3))
    # no call reads gsq or the L1 records; the average is read while not
    # started (the first call's end) and never after
    assert all(not {"gsq", "l1_u", "l1_q"} & set(names) for names in read)
    assert read[-1] == [] and clf.training_state_.avg.shape == (3, 6)
    st = _state.ModelState(np.zeros(3), np.ones(3), 2, True)
    st.release(written={"gsq", "avg"})   # zeros, the average not started
    assert st.gsq.shape == (2, 4) and st.avg.shape == st.l1_u.shape == (2, 0)


def test_early_stoppings_best_state_keeps_its_placeholders():
    """The copy early stopping keeps of its best state shares the training
    state's placeholder optimizer arrays (known zeros) instead of making
    them k x n arrays of zeros (on 1M columns, four such arrays at every
    improving epoch); its weights are a copy."""
    from fastlr._driver import keep_best
    from fastlr._state import ModelState

    st = ModelState(np.zeros(3), np.ones(3), 2, True, written=("gsq",))
    st.W[:] = 1.0
    best = {"scores": [], "loss": np.inf, "state": None}
    assert keep_best(best, st, 0.5) == 0.5
    kept = best["state"]
    assert kept.absent() == st.absent() == {"avg", "l1_u", "l1_q"}
    assert kept.shared == st.absent() and kept.gsq.shape == (2, 4)
    np.testing.assert_array_equal(kept.W, st.W)
    assert kept.W is not st.W and kept.gsq is not st.gsq
    st.W[:] = 2.0
    keep_best(best, st, 0.7)   # not better: the kept state stays
    assert best["state"] is kept and best["scores"] == [-0.5, -0.7]
    assert (kept.W == 1.0).all()


def test_placeholders_widen_and_narrow_as_zeros():
    """The file trainer puts a model's left-out columns back for training
    and takes them out after (_widen, _narrow): a placeholder among its
    optimizer arrays is zeros there (it indexed the empty array), and a
    copy gives it its full shape."""
    from types import SimpleNamespace

    from fastlr._state import ModelState
    from fastlr._stream import _narrow, _widen

    st = ModelState(np.zeros(3), np.ones(3), 2, True, written=("gsq",))
    assert st.shared == {"avg", "l1_u", "l1_q"} and st.avg.shape == (2, 0)
    st.W[:] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    st.gsq[:] = 7.0
    source = SimpleNamespace(excluded=[1])
    wide = _widen(st, source)
    assert wide.avg.shape == (2, 5) and not wide.avg.any()
    np.testing.assert_array_equal(wide.gsq, [[7.0, 0.0, 7.0, 7.0, 7.0]] * 2)
    back = _narrow(wide, source)
    np.testing.assert_array_equal(back.W, st.W)
    np.testing.assert_array_equal(back.gsq, st.gsq)
    back.release()
    assert back.avg.shape == back.l1_u.shape == (2, 0) and back.gsq.shape == (2, 4)
    full = back.copy()
    assert full.avg.shape == (2, 4) and full.l1_q.shape == (2, 3) and not full.shared


def test_partial_fit_extends_the_loss_curve_without_rebuilding_it(blobs):
    """A stream's ``loss_curve_`` grows in a buffer that doubles: over 200
    calls at most 6 buffers (each call copied the whole curve, so a stream
    of 10^7 calls took 10x as long a call as one of 10^3), with the values
    of one curve rebuilt each call, curves read earlier unchanged, and a
    curve set by hand continued from."""
    X, y = blobs
    clf = LogisticRegression(random_state=0)
    bases, curves, losses = set(), [], []
    for i in range(200):
        rows = slice(4 * (i % 10), 4 * (i % 10) + 40)
        clf.partial_fit(X[rows], y[rows], classes=[0, 1])
        curves.append((clf.loss_curve_, clf.loss_curve_.copy()))
        losses.append(clf.loss_curve_[-1])
        bases.add(id(clf.loss_curve_.base))
    assert len(bases) <= 6
    np.testing.assert_array_equal(clf.loss_curve_, losses)
    for seen, then in curves:
        np.testing.assert_array_equal(seen, then)
    # views of one buffer: a write into a curve read earlier (normalizing it
    # in place for a plot) changed the current one; refused instead
    with pytest.raises(ValueError, match="read-only"):
        curves[100][0][0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        clf.loss_curve_ /= 2
    np.testing.assert_array_equal(clf.loss_curve_, losses)
    clf.loss_curve_ = np.array([9.0])
    clf.partial_fit(X[:40], y[:40])
    assert clf.loss_curve_.shape == (2,) and clf.loss_curve_[0] == 9.0
    # a shallow copy shares the buffer: neither overwrites the other's curve
    twin = copy.copy(clf)
    twin.partial_fit(X[40:80], y[40:80])
    seen = clf.loss_curve_.copy()
    clf.partial_fit(X[80:120], y[80:120])
    np.testing.assert_array_equal(twin.loss_curve_[:2], seen)
    assert twin.loss_curve_[2] != clf.loss_curve_[2]
    # a pickle holds the curve, not the buffer's spare room
    assert "_loss_buffer" not in pickle.loads(pickle.dumps(clf)).__dict__


@pytest.mark.parametrize("param, value, exc", [
    ("max_iter", -1, ValueError), ("max_iter", "10", TypeError),
    ("verbose", "yes", TypeError), ("verbose", -1, ValueError),
])
def test_partial_fit_checks_its_parameters_as_fit_does(blobs, param, value, exc):
    """``partial_fit`` refuses what ``fit`` refuses, naming it, and changes
    nothing (it took max_iter=-1 and verbose="yes", and fastlr.save then
    wrote a file that fastlr.load refused; scikit-learn's SGDClassifier
    validates its parameters in partial_fit too)."""
    X, y = blobs
    clf = LogisticRegression(random_state=0).partial_fit(X, y, classes=[0, 1])
    snap = _snapshot(clf)
    clf.set_params(**{param: value})
    with pytest.raises(exc, match=param):
        clf.partial_fit(X, y)
    _assert_unchanged(clf, snap)
    with pytest.raises(exc, match=param):
        LogisticRegression(**{param: value}).partial_fit(X, y, classes=[0, 1])


def test_warm_start_continues(blobs):
    X, y = blobs
    clf = LogisticRegression(max_iter=3, tol=None, warm_start=True, random_state=0)
    clf.fit(X, y)
    first = clf.loss_curve_[-1]
    clf.fit(X, y)
    assert clf.loss_curve_[0] <= first + 1e-3


#: Each door that starts a model's generator from ``random_state``: the
#: estimator's parameters and the call.
GENERATOR_DOORS = {
    "fit-sgd": (dict(solver="sgd", max_iter=3, tol=None),
                lambda est, X, y: est.fit(X, y)),
    "fit-auto": (dict(alpha=1e-2), lambda est, X, y: est.fit(X, y)),
    "fit-early-stopping": (dict(solver="sgd", max_iter=3, tol=None,
                                early_stopping=True),
                           lambda est, X, y: est.fit(X, y)),
    "partial_fit": (dict(), lambda est, X, y: est.partial_fit(X, y, classes=[0, 1])),
}


@pytest.mark.parametrize("door", list(GENERATOR_DOORS))
def test_a_generator_random_state_is_drawn_from_but_not_kept(tmp_path, door):
    """A Generator given as ``random_state`` was kept by the fitted model
    itself (``training_state_.rng is g``): what the caller drew from it
    afterwards changed the next ``partial_fit`` and what ``save`` wrote.
    Training still draws from it (NumPy's convention), as an int seed's
    generator would be drawn from, but the model keeps a copy taken as
    the call ends."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    params, call = GENERATOR_DOORS[door]
    g = np.random.default_rng(5)
    est = call(LogisticRegression(random_state=g, **params), X, y)
    ref = call(LogisticRegression(random_state=5, **params), X, y)   # the same draws
    assert est.training_state_.rng is not g
    assert (g.bit_generator.state == est.training_state_.rng.bit_generator.state
            == ref.training_state_.rng.bit_generator.state)
    assert g.bit_generator.state != np.random.default_rng(5).bit_generator.state
    np.testing.assert_array_equal(est.coef_, ref.coef_)
    g.random(1000)   # the caller's other uses of its generator
    fastlr.save(est, tmp_path / "g.npz")
    fastlr.save(ref, tmp_path / "int.npz")
    for a, b in ((est, ref), (fastlr.load(tmp_path / "g.npz"),
                              fastlr.load(tmp_path / "int.npz"))):
        np.testing.assert_array_equal(a.partial_fit(X, y).coef_,
                                      b.partial_fit(X, y).coef_)


def _probabilities(X, coef, intercept):
    """Class probabilities of the raw-space model ``(coef, intercept)``."""
    z = X @ coef.T + intercept
    if coef.shape[0] == 1:
        p = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.column_stack([1.0 - p, p])
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 3])
def test_continued_training_starts_from_coef_set_by_hand(blobs, k):
    """``warm_start`` and ``partial_fit`` start from ``coef_`` and
    ``intercept_`` as the estimator shows them, as scikit-learn's do: a
    fitted model whose ``coef_`` was changed by hand continued from the
    training state it no longer showed (a warm fit with max_iter=0 gave
    back the old model), and a model whose ``coef_``, ``intercept_`` and
    ``classes_`` were set by hand raised AttributeError
    ('training_state_') in partial_fit. Unchanged attributes still continue
    the whole state, bit for bit."""
    X, y = blobs
    if k == 3:
        y = np.where(X[:, 0] > 0.7, 2, y)
    rows = 1 if k == 2 else k
    rng = np.random.default_rng(5)
    coef, intercept = rng.normal(size=(rows, X.shape[1])), rng.normal(size=rows)
    kw = dict(solver="sgd", tol=None, random_state=0)
    edited = LogisticRegression(**kw, max_iter=3).fit(X, y)
    edited.coef_, edited.intercept_ = coef.copy(), intercept.copy()
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        edited.set_params(warm_start=True, max_iter=0).fit(X, y)
    np.testing.assert_allclose(edited.predict_proba(X),
                               _probabilities(X, coef, intercept), rtol=1e-12,
                               atol=1e-14)
    # set by hand, then one epoch of a negligible step: the model stays
    # where coef_ put it
    hand = LogisticRegression(**kw, lr=1e-12, learning_rate="constant")
    hand.coef_, hand.intercept_, hand.classes_ = coef.copy(), intercept.copy(), \
        np.unique(y)
    hand.partial_fit(X, y)
    assert hand.n_iter_ == 1 and hand.loss_curve_.shape == (1,)
    assert hand.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(hand.coef_, coef, rtol=1e-9)
    np.testing.assert_allclose(hand.intercept_, intercept, rtol=1e-9)
    # a copy of the fitted coef_ is not an edit: the state continues
    a = LogisticRegression(**kw, max_iter=3).fit(X, y)
    b = LogisticRegression(**kw, max_iter=3).fit(X, y)
    b.coef_ = b.coef_.copy()
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.n_iter_ == b.n_iter_ == 4
    # classes_ alone is no model: partial_fit starts one, as its first call
    only = LogisticRegression(**kw)
    only.classes_ = np.unique(y)
    first = LogisticRegression(**kw).partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_array_equal(only.partial_fit(X, y).coef_, first.coef_)


def test_coef_set_by_hand_is_checked_before_training(blobs, tmp_path):
    """A hand-set ``coef_`` that cannot be a model of the classes and
    features is refused naming it, and changes nothing; ``save`` of a
    model that has only hand-set attributes says what is missing."""
    X, y = blobs
    clf = LogisticRegression(solver="sgd", max_iter=2, tol=None, random_state=0)
    clf.fit(X, y)
    snap = _snapshot(clf)
    good = clf.coef_
    for bad, match in ((np.zeros((2, X.shape[1])), "coef_ has shape"),
                       (np.full_like(good, np.nan), "NaN"),
                       (np.zeros((1, X.shape[1] + 1)), "features")):
        clf.coef_ = bad
        with pytest.raises(ValueError, match=match):
            clf.partial_fit(X, y)
        np.testing.assert_array_equal(clf.coef_, bad)
        clf.coef_ = good
        _assert_unchanged(clf, snap)
    # a fit that does not continue does not look at them
    clf.coef_ = np.full_like(good, np.nan)
    assert clf.fit(X, y).coef_.shape == good.shape
    hand = LogisticRegression()
    hand.coef_, hand.intercept_, hand.classes_ = good, clf.intercept_, clf.classes_
    with pytest.raises(NotFittedError, match="training state"):
        fastlr.save(hand, tmp_path / "m.npz")
    assert not any(tmp_path.iterdir())


def _snapshot(clf):
    """Every array of the estimator's training state, its generator's
    state and the fitted weights."""
    st = clf.training_state_
    arrays = {name: getattr(st, name).copy() for name in st.ARRAYS}
    rng = None if st.rng is None else st.rng.bit_generator.state
    return arrays, rng, clf.coef_.copy(), clf.intercept_.copy(), clf.n_iter_


def _assert_unchanged(clf, snap):
    arrays, rng, coef, intercept, n_iter = snap
    st = clf.training_state_
    for name, value in arrays.items():
        np.testing.assert_array_equal(getattr(st, name), value, err_msg=name)
    assert (None if st.rng is None else st.rng.bit_generator.state) == rng
    np.testing.assert_array_equal(clf.coef_, coef)
    np.testing.assert_array_equal(clf.intercept_, intercept)
    assert clf.n_iter_ == n_iter


@pytest.mark.parametrize("k", [2, 3])
def test_a_continuation_that_starts_badly_is_not_divergence(k):
    """A model continued on rows it scores badly (drifted data: a mean loss
    of about 1000 before any step) with a negligible step size: the epoch's
    loss is the starting model's, yet it passed the absolute bound
    (1000 log 2) and raised DivergedError ('lower the learning rate', lr
    1e-300). Past that bound an epoch diverged only if its loss is also
    1000 times the starting model's on the same rows; a real divergence
    still raises, naming that starting loss."""
    rng = np.random.default_rng(0)
    X1 = rng.normal(size=(200, 3))
    y1 = np.digitize(X1[:, 0] + 0.3 * rng.logistic(size=200), [0.0, 1.0][: k - 1])
    X2 = rng.normal(size=(200, 3))
    X2[:, 0] += 10000.0
    y2 = rng.integers(0, k, 200)
    clf = LogisticRegression(lr=0.1, random_state=0, solver="sgd")
    clf.partial_fit(X1, y1, classes=np.arange(k))
    Z = clf.decision_function(X2).reshape(200, -1)
    if k == 2:
        Z = np.column_stack([np.zeros(200), Z[:, 0]])
    start = float(np.mean(logsumexp(Z, axis=1) - Z[np.arange(200), y2]))
    assert start > 1000 * np.log(2)
    clf.set_params(lr=1e-300)
    clf.partial_fit(X2, y2)
    np.testing.assert_allclose(clf.loss_curve_[-1], start, rtol=1e-3)
    clf.set_params(lr=1e12)
    with pytest.raises(fastlr.DivergedError, match="it started at"):
        clf.partial_fit(X2 * 1e3, y2)
    # weights that overflow stop the run before the starting loss is
    # needed: the message still names it (it said 'near log(2)')
    clf.set_params(lr=1e308)
    with pytest.raises(fastlr.DivergedError, match="it started at"):
        clf.partial_fit(X2 * 1e10, y2)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_diverged_continuation_changes_nothing(blobs, tmp_path, how):
    """A partial_fit (or a warm-start fit) that diverges leaves the estimator
    as it was: its training state (weights, optimizer state, running
    statistics, the shuffling generator) and coef_ agree, the next call at a
    sane step size gives exactly what it gives on an estimator that never
    failed, and the model still saves and loads. (Before, the failed call
    had already changed the state in place: every later call diverged
    again and the saved file was refused as corrupt.)"""
    X, y = blobs
    X = X * 50.0 + 3.0   # large raw values: lr=1e4 overflows in the first epoch

    def continued(clf):
        if how == "partial_fit":
            return clf.partial_fit(X, y)
        return clf.fit(X, y)

    def make():
        clf = LogisticRegression(solver="sgd", max_iter=3, tol=None, random_state=0,
                                 warm_start=how == "warm_start")
        if how == "partial_fit":
            return clf.partial_fit(X, y, classes=[0, 1])
        return clf.fit(X, y)

    clf, twin = make(), make()
    snap = _snapshot(clf)
    clf.set_params(lr=1e4)
    with pytest.raises(fastlr.DivergedError):
        continued(clf)
    _assert_unchanged(clf, snap)
    clf.set_params(lr=0.01)
    twin.set_params(lr=0.01)
    continued(clf)
    continued(twin)
    np.testing.assert_array_equal(clf.coef_, twin.coef_)
    np.testing.assert_array_equal(clf.intercept_, twin.intercept_)
    fastlr.save(clf, tmp_path / "m.npz")
    np.testing.assert_array_equal(fastlr.load(tmp_path / "m.npz").predict_proba(X),
                                  clf.predict_proba(X))


@pytest.mark.parametrize("change", ["features", "classes"])
def test_warm_start_refuses_a_fit_it_cannot_continue(blobs, change):
    """warm_start on X with other columns, or y with other classes, is
    refused (scikit-learn's SGDClassifier and MLPClassifier refuse it too)
    instead of silently starting a new model, and changes nothing."""
    X, y = blobs
    clf = LogisticRegression(solver="sgd", max_iter=3, tol=None, random_state=0,
                             warm_start=True).fit(X, y)
    snap = _snapshot(clf)
    if change == "features":
        with pytest.raises(ValueError, match=r"X has 3 features, but warm_start"):
            clf.fit(X[:, :3], y)
    else:
        with pytest.raises(ValueError, match=r"y \[3, 4\] are not in classes_; "
                                             r"classes_ \[0, 1\] are not in y"):
            clf.fit(X, y + 3)
    _assert_unchanged(clf, snap)
    assert clf.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    clf.set_params(warm_start=False).fit(X[:, :3], y + 3)   # a new model: fine
    assert clf.coef_.shape == (1, 3)


@pytest.mark.parametrize("est", ["fit", "partial_fit", "cv"])
def test_a_refused_fit_leaves_every_attribute(blobs, est):
    """scikit-learn's validate_data sets n_features_in_ (and
    feature_names_in_) before fastlr's own checks run: a fit refused after
    it (here: one class) must not leave a fitted model that expects the
    refused input's columns. Every attribute is as it was."""
    X, y = blobs
    if est == "cv":
        clf = fastlr.LogisticRegressionCV(alphas=2, cv=2, solver="sgd", max_iter=2,
                                          tol=None, random_state=0)
        clf.fit(X, y)
    else:
        clf = LogisticRegression(solver="sgd", max_iter=2, tol=None, random_state=0)
        clf.fit(X, y) if est == "fit" else clf.partial_fit(X, y, classes=[0, 1])
    before = dict(clf.__dict__)
    wide = np.hstack([X, X])[:20]
    with pytest.raises(ValueError):
        if est == "partial_fit":
            clf.partial_fit(X[:20], np.full(20, 7))   # a class not in classes_
        else:
            clf.fit(wide, np.zeros(20))
    assert clf.__dict__.keys() == before.keys()
    for name, value in before.items():
        assert clf.__dict__[name] is value, name
    assert clf.n_features_in_ == X.shape[1]
    clf.predict(X)


#: Bad hyperparameters, the words of their error, and whether
#: LogisticRegressionCV has the parameter (it has alphas for alpha, and no
#: warm_start).
BAD_HYPERPARAMETERS = {
    "lr": ({"lr": 0}, "lr", True),
    "batch_size": ({"batch_size": 0}, "batch_size", True),
    "max_iter": ({"max_iter": -1}, "^max_iter must be >= 0", True),
    "max_iter_str": ({"max_iter": "100"}, "^max_iter must be an integer", True),
    "warm_start": ({"warm_start": "no"}, "^warm_start must be True or False", False),
    "penalty": ({"penalty": "l7"}, "penalty", True),
    "alpha": ({"alpha": -1.0}, "alpha", False),
}


@pytest.mark.parametrize("kwargs, match, cv", [
    pytest.param(kwargs, match, cv, id=f"{name}-{'lrcv' if cv else 'lr'}")
    for name, (kwargs, match, in_cv) in BAD_HYPERPARAMETERS.items()
    for cv in ((False, True) if in_cv else (False,))])
def test_bad_hyperparameters(blobs, kwargs, match, cv):
    """Each refused by the name the user set (max_iter was called
    "epochs"; warm_start="no" counted as true)."""
    X, y = blobs
    est = fastlr.LogisticRegressionCV(alphas=2, cv=2, **kwargs) if cv else \
        LogisticRegression(**kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit(X, y)


def test_verbose_true_is_verbose_1(blobs):
    """scikit-learn's estimators take verbose=True; so does fastlr's."""
    X, y = blobs
    LogisticRegression(verbose=True, max_iter=2, tol=None).fit(X, y)
    LogisticRegression(verbose=False, max_iter=2, tol=None).fit(X, y)


def test_multiclass_fits_softmax_model(blobs, dtype):
    """Three labels give the multinomial model: (k, n) coef_, softmax proba."""
    X, _ = blobs
    X = X.astype(dtype)
    y3 = np.array(["a", "b", "c"])[np.argmax(X[:, :3], axis=1)]
    clf = LogisticRegression(random_state=0).fit(X, y3)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.coef_.shape == (3, X.shape[1]) and clf.coef_.dtype == dtype
    assert clf.intercept_.shape == (3,) and clf.intercept_.dtype == dtype
    z = clf.decision_function(X)
    assert z.shape == (len(X), 3)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[z.argmax(axis=1)])
    assert clf.score(X, y3) >= 0.9


@pytest.mark.parametrize("cv", [False, True], ids=["lr", "lrcv"])
def test_pyarrow_table_keeps_its_column_names(cv):
    """A pyarrow Table reaches scikit-learn's validation whole, so its
    column names are recorded and checked as a DataFrame's (it was turned
    into an array first: no feature_names_in_, and a table with its columns
    swapped was scored silently wrong)."""
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    y = (a > 0).astype(int)
    est = fastlr.LogisticRegressionCV(alphas=2, cv=2) if cv else LogisticRegression()
    est.fit(pa.table({"a": a, "b": b}), y)
    assert est.feature_names_in_.tolist() == ["a", "b"]
    assert est.score(pa.table({"a": a, "b": b}), y) > 0.9
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(pa.table({"b": b, "a": a}))
    with pytest.raises(TypeError, match="column 'b' of type string"):
        est.fit(pa.table({"a": a, "b": ["x"] * 200}), y)


@pytest.mark.parametrize("solver, method", [
    ("sgd", "fit"), ("auto", "fit"), ("lbfgs", "fit"), ("sgd", "partial_fit")])
@pytest.mark.parametrize("where", ["memory", "dask"])
def test_continuing_without_intercept_passes_through_the_origin(solver, method,
                                                                where):
    """fit_intercept=False keeps the intercept at 0. A warm start from a
    fit with an intercept moved it instead (-13.0 to -4.2 with "auto"):
    the warm state kept its centring, which put ``-w . mean`` into the
    raw intercept as the weights moved; partial_fit calls after
    set_params(fit_intercept=False) moved it by about 0.11 a call. Both
    now continue from the previous weights through the origin, for every
    solver and on Dask (partial_fit: SGD)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) + [5.0, -2.0, 1.0]
    y = (X[:, 0] - 5.0 + rng.logistic(size=200) > 0).astype(int)
    if where == "dask":
        da = pytest.importorskip("dask.array")
        Xc, yc = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    else:
        Xc, yc = X, y
    clf = fastlr.LogisticRegression(solver=solver, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        assert clf.intercept_[0] != 0.0
        clf.set_params(warm_start=True, fit_intercept=False)
        for _ in range(2):
            getattr(clf, method)(Xc, yc)
            assert clf.intercept_[0] == 0.0
    np.testing.assert_allclose(clf.decision_function(np.zeros((1, 3))), 0.0, atol=1e-12)


@pytest.mark.parametrize("standardize", [True, np.True_])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_no_intercept_with_a_numpy_bool_standardize_passes_through_the_origin(
        standardize, method):
    """standardize=np.True_ (a numpy bool, which the parameter accepts) with
    fit_intercept=False scales without centering as True does. It centered
    instead (``standardize is True`` was false for it): intercept_ 0.0 but
    the model put -0.59 at the origin on these offset features."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) + 5.0
    y = (X[:, 0] > 5.0).astype(int)
    clf = LogisticRegression(standardize=standardize, fit_intercept=False,
                             solver="sgd", max_iter=3, tol=None, random_state=0)
    clf.fit(X, y) if method == "fit" else clf.partial_fit(X, y, classes=[0, 1])
    assert not clf.training_state_.mean.any()
    np.testing.assert_allclose(clf.decision_function(np.zeros((1, 3))), 0.0,
                               atol=1e-12)


@pytest.mark.parametrize("how", ["partial_fit", "warm fit", "dask"])
def test_turning_averaging_off_continues_from_the_model_shown(how):
    """average=False set after an averaged fit: training continues from the
    averaged coef_ the estimator shows, as scikit-learn's SGDClassifier
    does; with a rate of 1e-12 the model does not move (it jumped to the
    last SGD iterate, 0.32 in a coefficient of 3)."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    y = (X @ [2.0, 0.5, 1.5, -0.5] + rng.logistic(size=300) > 0).astype(int)
    clf = LogisticRegression(solver="sgd", average=True, lr=0.5, batch_size=4,
                             max_iter=5, tol=None, random_state=0).fit(X, y)
    before = clf.coef_.copy(), clf.intercept_.copy()
    clf.set_params(average=False, lr=1e-12)
    if how == "partial_fit":
        clf.partial_fit(X, y)
    elif how == "warm fit":
        clf.set_params(warm_start=True, max_iter=1).fit(X, y)
    else:
        da = pytest.importorskip("dask.array")
        clf.partial_fit(da.from_array(X, chunks=150), da.from_array(y, chunks=150))
    np.testing.assert_allclose(clf.coef_, before[0], rtol=1e-9)
    np.testing.assert_allclose(clf.intercept_, before[1], rtol=1e-9, atol=1e-12)


def test_other_classes_after_fit_name_the_models_classes():
    """partial_fit(classes=...) after fit: the message names classes_ and
    where they came from (it blamed a first partial_fit call never made)."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(ValueError, match=r"differs from the model's classes_ "
                                         r"\(from its fit or first partial_fit "
                                         r"call\): classes \[2\] is not in "
                                         r"classes_$"):
        clf.partial_fit(X, (X[:, 0] > 0).astype(int), classes=[0, 1, 2])


def test_other_classes_name_the_labels_that_differ():
    """partial_fit(classes=...) and a warm fit on other classes showed both
    lists of classes abbreviated: with many classes both began alike and
    hid what differs. The labels each side lacks are named."""
    X = np.random.default_rng(0).normal(size=(300, 2))
    y = np.arange(300) % 30
    clf = LogisticRegression(max_iter=1, tol=None).fit(X, y)
    before = clf.coef_.copy()
    with pytest.raises(ValueError, match=r"classes \[99\] is not in classes_; "
                                         r"classes_ \[29\] is not in classes$"):
        clf.partial_fit(X, y, classes=np.r_[np.arange(29), 99])
    y2 = np.where(y >= 27, y + 40, y)
    clf.set_params(warm_start=True)
    with pytest.raises(ValueError, match=r": y \[67, 68, 69\] are not in "
                                         r"classes_; classes_ \[27, 28, 29\] "
                                         r"are not in y; set warm_start=False"):
        clf.fit(X, y2)
    np.testing.assert_array_equal(clf.coef_, before)
    # labels that cannot be sorted together: every one differs
    text = LogisticRegression(max_iter=1, tol=None).fit(X, np.array(["a", "b"] * 150))
    with pytest.raises(ValueError, match=r"classes \[0, 1\] are not in "
                                         r"classes_; classes_ \['a', 'b'\] are "
                                         r"not in classes$"):
        text.partial_fit(X, y % 2, classes=np.array([0, 1], dtype=object))


@pytest.mark.parametrize("classes, error, match", [
    ([0, 1, np.nan], ValueError, "classes contains NaN"),
    (np.array([0.0, np.inf, 1.0]), ValueError, "classes contains NaN"),
    (np.array([0, 1, float("nan")], dtype=object), ValueError, "classes contains NaN"),
    ({0, 1}, TypeError, "classes must be an array-like"),
    ({0: "a", 1: "b"}.keys(), TypeError, "classes must be an array-like"),
    ([[0, 1]], ValueError, "classes must be 1-D"),
    (["a", 1], ValueError, r"^classes mixes text labels and others: \['a', 1\]; "
                           r"give labels of one type"),
    ((0, "1", 2), ValueError, "classes mixes text labels and others"),
    ([True, "x"], ValueError, "classes mixes text labels and others"),
    ([0.5, 1.5], ValueError, r"^classes: Unknown label type: continuous \(a label "
                             r"is 0\.5\); a classifier needs class labels"),
    (np.array([0, 1.5], dtype=object), ValueError, "^classes: Unknown label type"),
])
def test_partial_fit_refuses_classes_that_are_not_labels(classes, error, match):
    """NaN is no label (``fit`` refuses it in y): ``classes=[0, 1, nan]``
    trained a three-class model on binary data; a set was one object,
    refused as "at least two labels, got 1"; strings and numbers were all
    made strings, and y's numbers then refused as "labels not in classes
    array(['1', 'a'])" (scikit-learn: "Mix of label input types"); float
    labels that are not whole numbers, which ``fit`` refuses in y as a
    regression target, were accepted. Nothing is fitted."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression()
    with pytest.raises(error, match=match):
        clf.partial_fit(X, y, classes=classes)
    assert not hasattr(clf, "classes_")


def test_numbers_against_text_classes_hint_at_text_labels(tmp_path):
    """A chunk of ``fastlr.io.iter_chunks`` whose label column holds "1"
    and "2" only comes back as numbers (each chunk's labels are typed by
    their own values), which text ``classes`` refuse: the message says so
    and names ``text_labels=True``, which reads them as text (online probe
    F7). Labels of the classes' kind get no hint; the model is unchanged."""
    import fastlr.io

    path = tmp_path / "mixed.csv"
    rows = ["1,0.5,1.0", "2,-1.0,0.25", "1,2.0,-3.0", "other,0.0,1.0"]
    path.write_text("label,a,b\n" + "\n".join(rows) + "\n")
    classes = ["1", "2", "other"]
    Xc, yc = next(fastlr.io.iter_chunks(path, 3, target="label"))
    assert yc.dtype.kind == "i"
    clf = LogisticRegression()
    with pytest.raises(ValueError, match=r"labels not in classes: 1, 2 \(.*\); "
                                         r"y holds no text and classes do .*"
                                         r"text_labels=True"):
        clf.partial_fit(Xc, yc, classes=classes)
    assert not hasattr(clf, "classes_")
    Xc, yc = next(fastlr.io.iter_chunks(path, 3, target="label", text_labels=True))
    clf.partial_fit(Xc, yc, classes=classes)
    with pytest.raises(ValueError, match=r"not in classes: 'oops' \(the classes: "
                                         r"'1', '2', 'other'\)$"):
        clf.partial_fit(Xc, np.array(["1", "oops", "2"]))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function",
                                    "predict_log_proba"])
def test_a_model_set_by_hand_of_the_wrong_shape_is_named(method):
    """coef_ / intercept_ set by hand in another shape than fit's: an error
    naming them and the shape needed (it was NumPy's "cannot reshape array
    of size 1 into shape (2,)"); a scalar intercept_ of a binary model is
    its one intercept."""
    X = np.array([[0.5, 1.0], [-1.0, 0.25], [2.0, -3.0]])
    clf = LogisticRegression()
    clf.classes_ = np.array([0, 1])
    clf.coef_, clf.intercept_ = np.array([0.7, -1.3]), np.array([0.1])
    with pytest.raises(ValueError, match=r"^coef_ has shape \(2,\); .* needs \(1, 2\)"):
        getattr(clf, method)(X)
    clf.coef_, clf.intercept_ = np.array([[0.7, -1.3]]), np.array([0.1, 0.2])
    with pytest.raises(ValueError, match=r"^intercept_ has shape \(2,\); .* \(1,\)"):
        getattr(clf, method)(X)
    clf.intercept_ = 0.1
    getattr(clf, method)(X)
    z = X @ np.array([0.7, -1.3]) + 0.1
    np.testing.assert_allclose(clf.decision_function(X), z, rtol=1e-15)


def test_early_stopping_holds_out_a_row_of_every_class():
    """The held-out split has at least one row per class: with 3 classes in
    20 rows (10% is 2 rows) it was refused, speaking of "both classes"."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = np.arange(20) % 3
    clf = LogisticRegression(early_stopping=True, random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    with pytest.raises(ValueError, match="to hold out every class or to train on"):
        LogisticRegression(early_stopping=True, validation_fraction=0.9).fit(X, y)


def test_k_class_log_proba_needs_about_its_output(traced_peak):
    """predict_log_proba of k > 2 classes: the logits and the result (float64)
    and a block's temporaries; it held four arrays of the logits' size
    (4.2x the output at its peak). The same values as log(predict_proba)."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((100_000, 3))
    y = rng.integers(0, 8, 100_000)
    clf = LogisticRegression(solver="sgd", max_iter=1, tol=None).fit(X, y)
    clf.predict_log_proba(X[:10])
    out = 100_000 * 8 * 8
    got, peak = traced_peak(lambda: clf.predict_log_proba(X))
    assert peak < 2.3 * out, peak / out
    np.testing.assert_allclose(got, np.log(clf.predict_proba(X)), rtol=1e-12)


@pytest.mark.parametrize("layout", ["fortran", "dataframe", "strided"])
def test_prediction_reads_other_layouts_without_copying_x(layout, traced_peak):
    """Dense X in another layout than C order was copied whole to C order
    first: a copy of X at the peak, and 4.7 times scikit-learn's time on a
    Fortran-ordered X or a DataFrame (300,000 x 50). A Fortran-ordered X (a
    DataFrame's array) is now read down its columns (the same logits but for
    the order of their rounding: 1e-12), any other layout (a strided view)
    copied to C order a block of rows at a time (bit for bit); either needs
    about the output's memory. A NaN is named by its row of X."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((60_000, 20))
    y = (X[:, 0] + rng.standard_normal(60_000) > 0).astype(int)
    clf = LogisticRegression(solver="sgd", max_iter=1, tol=None).fit(X, y)
    if layout == "fortran":
        A = np.asfortranarray(X)
    elif layout == "dataframe":
        pd = pytest.importorskip("pandas")
        A = pd.DataFrame(X)
        clf.fit(A, y)
    else:
        A = np.repeat(X, 2, axis=1)[:, ::2]
    want = clf.predict_proba(X if layout != "dataframe" else pd.DataFrame(
        np.ascontiguousarray(X)))
    # (the first call in the layout loads its kernel: memory outside the test)
    clf.predict_proba({"fortran": lambda: np.asfortranarray(X[:10]),
                       "dataframe": lambda: pd.DataFrame(X[:10]),
                       "strided": lambda: A[:10]}[layout]())
    got, peak = traced_peak(lambda: clf.predict_proba(A))
    same = (np.testing.assert_array_equal if layout == "strided"
            else functools.partial(np.testing.assert_allclose, rtol=1e-12))
    same(got, want)
    assert peak < got.nbytes + (2 << 20), (peak, X.nbytes)
    w, b = clf.coef_[0], clf.intercept_[0]
    if layout != "dataframe":
        same(fastlr.predict_proba(A, w, b), fastlr.predict_proba(X, w, b))
        bad = np.array(A, order="F" if layout == "fortran" else "C")
        bad = bad if layout == "fortran" else np.repeat(bad, 2, axis=1)[:, ::2]
        bad[54_321, 3] = np.nan
        with pytest.raises(ValueError, match=r"first at row 54321, column 3"):
            clf.predict(bad)


@pytest.mark.parametrize("k", [3, 5, 40])
def test_many_class_prediction_on_fortran_x_reads_x_once(k, monkeypatch):
    """The column kernel of Fortran-ordered X reads X once per class: on a
    DataFrame of 100,000 x 50 with 200 classes predict_proba took 2.2x the
    time of the same call on a copy of X in C order. Above COLUMN_MAX_K
    classes the rows are copied to C order a block at a time instead (bit
    for bit the C-ordered X's probabilities); up to it X is read down its
    columns (as the binary model's)."""
    from fastlr import _dispatch
    from fastlr._kernels import predict

    calls = []
    column = predict.decision_columns

    def spy(*args):
        calls.append(args[-2:])
        return column(*args)

    monkeypatch.setattr(predict, "decision_columns", spy)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3000, 12))
    y = np.arange(3000) % k
    clf = LogisticRegression(solver="sgd", max_iter=1, tol=None).fit(X, y)
    got = clf.predict_proba(np.asfortranarray(X))
    assert bool(calls) == (k <= _dispatch.COLUMN_MAX_K), calls
    if calls:
        np.testing.assert_allclose(got, clf.predict_proba(X), rtol=1e-12)
    else:
        np.testing.assert_array_equal(got, clf.predict_proba(X))


def test_partial_fit_computes_coef_only_when_read(blobs, monkeypatch):
    """After training on float64 X, coef_ and intercept_ are computed from
    the training state when first read (a stream of partial_fit calls on
    wide X that never reads them passes over no coefficient for them), with
    the values the call would have set, and stay ordinary attributes: set,
    changed in place or deleted by hand, continued training starts from
    what they show."""
    from fastlr._state import ModelState

    X, y = blobs
    calls = []
    coef = ModelState.coef
    monkeypatch.setattr(ModelState, "coef",
                        lambda self, dtype: calls.append(1) or coef(self, dtype))
    clf = LogisticRegression(random_state=0)
    for i in range(3):
        clf.partial_fit(X[i * 100:(i + 1) * 100], y[i * 100:(i + 1) * 100],
                        classes=[0, 1])
    assert calls == []
    assert "coef_" not in vars(clf)
    want = coef(clf.training_state_, np.float64)
    assert clf.coef_.tobytes() == want[0].tobytes()
    assert clf.intercept_.tobytes() == want[1].tobytes()
    assert len(calls) == 1
    assert clf.coef_ is clf.coef_   # kept once read

    twin, plain = copy.deepcopy(clf), copy.deepcopy(clf)
    clf.coef_[0, 0] += 1.0          # changed in place: continued from it
    twin.coef_ = twin.coef_.copy()
    twin.coef_[0, 0] += 1.0         # set by hand: the same
    for est in (clf, twin, plain):
        est.partial_fit(X[:100], y[:100])
    np.testing.assert_array_equal(clf.coef_, twin.coef_)
    assert abs(clf.coef_[0, 0] - plain.coef_[0, 0]) > 0.5

    fresh = LogisticRegression(random_state=0).partial_fit(X, y, classes=[0, 1])
    fresh.intercept_ = np.array([0.5])   # set before coef_ was read: kept
    assert fresh.intercept_.tolist() == [0.5]
    assert fresh.coef_.tobytes() == coef(fresh.training_state_, np.float64)[0].tobytes()
    del fresh.coef_
    assert not hasattr(fresh, "coef_")
    assert not hasattr(LogisticRegression(), "coef_")
    predicted = LogisticRegression().partial_fit(X, y, classes=[0, 1])
    before = dict(vars(predicted))
    predicted.predict(X)   # reads coef_: __dict__ unchanged (scikit-learn's check)
    assert vars(predicted) == before


def test_classes_of_numpy_text_scalars_are_text():
    """A list of strings and NumPy 0-d string arrays (np.str_, np.array('b'))
    was refused as mixing strings and numbers by the mixed-type check."""
    X = np.array([[0.0], [1.0], [2.0]])
    clf = LogisticRegression().partial_fit(X, ["a", "b", "a"],
                                           classes=["a", np.array("b")])
    assert clf.classes_.tolist() == ["a", "b"]
    clf = LogisticRegression().partial_fit(X, ["a", "b", "a"],
                                           classes=[np.str_("a"), "b"])
    assert clf.classes_.tolist() == ["a", "b"]


@pytest.mark.parametrize("standardize", [True, False])
def test_a_partial_fit_call_reads_a_dense_chunk_once(monkeypatch, standardize):
    """A dense chunk's statistics, which a standardizing ``partial_fit``
    call needs, come from the read that checks it finite (no second
    pass, no mean and scale finished only to be dropped), and the classes
    of the model passed again at every call are not checked anew: on
    chunks of 100 x 20, these were a fifth of a call. Without
    standardization the chunk is only checked finite."""
    from fastlr import _dispatch, _stats, estimator

    counts = {"check_finite": 0, "finish_moments": 0, "check_classes": 0,
              "moments": 0}

    def counted(module, name):
        real = getattr(module, name)

        def spy(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(module, name, spy)

    counted(_dispatch, "check_finite")
    counted(_stats, "finish_moments")
    counted(estimator, "check_classes")
    moments = _dispatch.Data.moments
    monkeypatch.setattr(_dispatch.Data, "moments", lambda self, *a, **k: (
        counts.__setitem__("moments", counts["moments"] + 1) or moments(self, *a, **k)))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = np.arange(300) % 2
    clf = LogisticRegression(standardize=standardize, random_state=0)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    counts.update(dict.fromkeys(counts, 0))
    for lo in (100, 200):
        clf.partial_fit(X[lo:lo + 100], y[lo:lo + 100], classes=[0, 1])
    if standardize:
        assert counts == {"check_finite": 0, "finish_moments": 0,
                          "check_classes": 0, "moments": 2}
    else:
        assert counts == {"check_finite": 2, "finish_moments": 0,
                          "check_classes": 0, "moments": 0}
    with pytest.raises(ValueError, match="classes differs"):
        clf.partial_fit(X[:10], y[:10], classes=[0, 2])
    with pytest.raises(ValueError, match="labels not in classes: 2"):
        clf.partial_fit(X[:3], [0, 1, 2])


def test_among_classes_knows_numbers_and_leaves_the_rest_to_refuse_unseen():
    """``among_classes``: every label of y among the sorted classes, by a
    binary search, when both are numbers of one dtype; False (the full
    check of ``refuse_unseen`` follows) otherwise."""
    from fastlr._validation import among_classes

    classes = np.array([1, 4, 9])
    assert among_classes(np.array([9, 1, 1, 4]), classes)
    assert not among_classes(np.array([9, 10]), classes)
    assert not among_classes(np.array([0]), classes)
    assert not among_classes(np.array([1.0, 4.0]), classes)   # another dtype
    floats = np.array([0.0, 2.0])
    assert among_classes(np.array([2.0, 0.0]), floats)
    assert not among_classes(np.array([np.nan]), floats)
    assert not among_classes(np.array(["a"]), np.array(["a", "b"]))


@pytest.mark.parametrize("kind", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64",
                                  "other"])
def test_a_copied_generator_draws_what_the_original_draws(monkeypatch, kind):
    """``copied_rng``: an independent Generator drawing what the original
    draws next, made from its bit generator's state for NumPy's own (no
    pickling), by ``copy.deepcopy`` for any other; ModelState.copy(rng=True)
    (every resumed ``partial_fit`` call) takes it."""
    from fastlr import _order
    from fastlr._order import BIT_GENERATORS, copied_rng
    from fastlr._state import ModelState

    class Other(np.random.PCG64):
        pass

    bits = (Other if kind == "other" else BIT_GENERATORS[kind])(7)
    rng = np.random.Generator(bits)
    rng.random(3)
    deep = []
    deepcopy = _order.copy.deepcopy
    monkeypatch.setattr(_order.copy, "deepcopy",
                        lambda x, *a: deep.append(x) or deepcopy(x, *a))
    st = ModelState(np.zeros(2), np.ones(2))
    st.rng = rng
    twin = st.copy(rng=True).rng
    assert twin is not rng and type(twin.bit_generator) is type(rng.bit_generator)
    assert deep == ([rng] if kind == "other" else [])
    np.testing.assert_array_equal(twin.random(5), rng.random(5))
    twin.random(2)   # independent: the original does not move
    again = copied_rng(rng)
    np.testing.assert_array_equal(again.integers(1 << 40, size=4),
                                  rng.integers(1 << 40, size=4))
    assert copied_rng(None) is None
