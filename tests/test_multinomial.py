"""Multinomial (softmax) regression: kernel vs reference, estimator, bad input.

The k-class model (the softmax loss of :mod:`fastlr._kernels`) and
:func:`fastlr.reference.train_multinomial` visit the same batches in the
same order and must agree to float64 rtol 1e-10 (float32: one rounding of
the final cast), as the binary path does.
"""

import copy
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastlr
from fastlr import LogisticRegression, _dispatch, core, reference, verify
from fastlr._kernels import dense, team

TOL = {np.float64: verify.tolerance("float64"), np.float32: verify.tolerance("float32")}
TOL64 = TOL[np.float64]


def make_data(seed, m=301, n=5, k=4, dtype=np.float64):
    """k-class data with softmax noise; columns of different scale and offset."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    logits = Z @ rng.normal(scale=1.5, size=(n, k))
    y = (logits + rng.gumbel(size=(m, k))).argmax(axis=1)
    X = Z * rng.uniform(0.5, 3.0, n) + rng.uniform(-2.0, 2.0, n)
    return X.astype(dtype), y


def _kwargs(name, m, seed):
    kw = verify.train_kwargs(name, m, seed)
    for key in ("batch_size", "epochs", "random_state"):
        kw.pop(key)
    kw.setdefault("lr", 0.05)
    return kw


@pytest.mark.parametrize("batch_size", [150, 301, 1000],
                         ids=["chunks150", "full", "oversized"])
@pytest.mark.parametrize("name", verify.UPDATE_RULES)
def test_kernel_matches_reference_at_other_batch_sizes(dtype, seed, name, batch_size):
    """The case table runs every option at one batch size; the softmax
    model's batch also spans several chunks here."""
    X, y = make_data(seed, dtype=dtype)
    kw = dict(batch_size=batch_size, epochs=4, lr=0.05, random_state=seed)
    kw.update(_kwargs(name, X.shape[0], seed))
    a = core.train_multinomial(X, y, **kw)
    b = reference.train_multinomial(X, y, **kw)
    np.testing.assert_allclose(a.W, b.W, **TOL[dtype])
    np.testing.assert_allclose(a.b, b.b, **TOL64)
    np.testing.assert_allclose(a.losses, b.losses, **TOL64)


@pytest.mark.parametrize("name", verify.UPDATE_RULES)
def test_threaded_epoch_is_bit_identical(monkeypatch, dtype, name):
    """Threads share each epoch (chunks claimed atomically, partial sums
    reduced in chunk order): W, b and losses equal one thread's bit for bit,
    for 2 threads and for more threads than this machine may have cores;
    and both match the reference."""
    import numba

    X, y = make_data(3, m=2000, dtype=dtype)
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS",
                        max(4, numba.config.NUMBA_NUM_THREADS))  # cap of n_threads
    kw = dict(batch_size=_dispatch.PARALLEL_MIN_BATCH * 2 + 5, epochs=3, lr=0.05,
              random_state=2)
    kw.update(_kwargs(name, X.shape[0], 3))
    one = core.train_multinomial(X, y, n_threads=1, **kw)
    ref = reference.train_multinomial(X, y, **kw)
    for threads in (2, 4):
        many = core.train_multinomial(X, y, n_threads=threads, **kw)
        np.testing.assert_array_equal(one.W, many.W)
        np.testing.assert_array_equal(one.b, many.b)
        np.testing.assert_array_equal(one.losses, many.losses)
    np.testing.assert_allclose(one.W, ref.W, **TOL[dtype])
    np.testing.assert_allclose(one.b, ref.b, **TOL64)


def test_threaded_epoch_runs_the_threaded_kernel(monkeypatch):
    """The dispatch: dense X on large enough data with batches of two chunks
    or more takes the threaded driver; n_threads=1 and sparse X do not."""
    import scipy.sparse as sp

    calls = []
    real = team.run
    monkeypatch.setattr(team, "run",
                        lambda n, *a: (n > 1 and calls.append(n), real(n, *a)))
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    X, y = make_data(4, m=600)
    kw = dict(batch_size=_dispatch.PARALLEL_MIN_BATCH, epochs=2, lr=0.05,
              random_state=0)
    core.train_multinomial(X, y, n_threads=2, **kw)
    assert calls == [2, 2]
    core.train_multinomial(X, y, n_threads=1, **kw)
    core.train_multinomial(sp.csr_matrix(X), y, n_threads=2, standardize=False, **kw)
    kw["batch_size"] = _dispatch.PARALLEL_MIN_BATCH - 1
    core.train_multinomial(X, y, n_threads=2, **kw)
    assert calls == [2, 2]


def test_kernel_specializations(seed):
    """Only X's dtype varies between compiled specializations (labels, weights
    and options are converted at the boundary). Read-only X from other tests
    (scikit-learn's memmap checks) adds a layout variant, hence no exact count."""
    for dtype in (np.float64, np.float32):
        X, y = make_data(seed, dtype=dtype)
        core.train_multinomial(X, y.astype(np.int32), epochs=1, lr=1, batch_size=7,
                               sample_weight=np.ones(len(y), int))
    sigs = dense.epoch.signatures
    assert {str(s[0].dtype) for s in sigs} <= {"float32", "float64"}
    assert len({s[1:] for s in sigs}) == 1


def test_loss_decreases_and_labels_of_any_type(seed):
    X, y = make_data(seed, m=600)
    names = np.array(["ant", "bee", "cat", "dog"])
    res = core.train_multinomial(X, names[y], epochs=30, lr=0.1, random_state=seed)
    assert list(res.classes) == list(names)
    assert res.losses[0] < np.log(4) and res.losses[-1] < res.losses[0]
    pred = names[(X @ res.W.T + res.b).argmax(axis=1)]
    assert np.mean(pred == names[y]) >= 0.7


def test_gradient_step_matches_finite_differences():
    """One full-batch step from zero moves W by -lr * (numerical gradient)."""
    X, y = make_data(3, m=80, n=3, k=3)
    lr = 1e-3
    res = core.train_multinomial(X, y, batch_size=80, epochs=1, lr=lr,
                                 shuffle=False, standardize=False)
    k, n = 3, 3
    onehot = np.eye(k)[y]

    def loss(theta):
        W, b = theta[:k * n].reshape(k, n), theta[k * n:]
        Z = X @ W.T + b
        Z -= Z.max(axis=1, keepdims=True)
        return np.mean(np.log(np.exp(Z).sum(axis=1)) - (Z * onehot).sum(axis=1))

    theta = np.zeros(k * n + k)
    grad = np.array([(loss(theta + h) - loss(theta - h)) / 2e-6
                     for h in np.eye(theta.size) * 1e-6])
    np.testing.assert_allclose(res.W.ravel(), -lr * grad[:k * n], rtol=1e-6,
                               atol=1e-12)
    np.testing.assert_allclose(res.b, -lr * grad[k * n:], rtol=1e-6, atol=1e-12)


def test_intercept_matches_class_frequencies_when_weights_are_zero():
    """With no informative feature, softmax(b) tends to the class frequencies."""
    rng = np.random.default_rng(0)
    X = np.zeros((400, 1))
    y = rng.choice(3, size=400, p=[0.5, 0.3, 0.2])
    res = core.train_multinomial(X, y, batch_size=400, epochs=3000, lr=0.5,
                                 shuffle=False)
    p = np.exp(res.b - res.b.max())
    np.testing.assert_allclose(p / p.sum(), np.bincount(y) / 400, atol=1e-6)


# --------------------------------------------------------------------------
# estimator


def _split(load):
    X, y = load(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


@pytest.mark.parametrize("load, kw", [
    (load_iris, dict(max_iter=3000, tol=None)),
    (load_digits, {}),
], ids=["iris", "digits"])
def test_accuracy_close_to_sklearn(load, kw):
    """Held-out accuracy within 1 point of scikit-learn's LogisticRegression()
    with the same L2 strength (alpha = 1 / (C * n_samples), C = 1)."""
    Xtr, Xte, ytr, yte = _split(load)
    sk = SkLogisticRegression(max_iter=5000).fit(Xtr, ytr).score(Xte, yte)
    clf = LogisticRegression(alpha=1.0 / len(ytr), random_state=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning from tol
        clf.fit(Xtr, ytr)
    assert clf.coef_.shape == (len(np.unique(ytr)), Xtr.shape[1])
    assert clf.score(Xte, yte) >= sk - 0.01


@pytest.mark.parametrize("solver", ["sgd", "auto"])
def test_estimator_matches_core(seed, dtype, solver):
    """The estimator is a thin layer over the multinomial kernel."""
    X, y = make_data(seed, dtype=dtype)
    clf = LogisticRegression(lr=0.05, batch_size=16, max_iter=7, tol=None,
                             penalty=None, random_state=3, solver=solver).fit(X, y)
    res = core.train_multinomial(X, y, batch_size=16, epochs=7, lr=0.05,
                                 random_state=3, solver=solver)
    np.testing.assert_array_equal(clf.coef_, res.W)
    np.testing.assert_array_equal(clf.intercept_, res.b.astype(dtype))
    np.testing.assert_array_equal(clf.loss_curve_, res.losses)


def test_probabilities_sum_to_one(seed, dtype):
    X, y = make_data(seed, dtype=dtype)
    clf = LogisticRegression(random_state=seed, max_iter=50, tol=None).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], 4) and proba.dtype == dtype
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0,
                               atol=1e-12 if dtype == np.float64 else 1e-6)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    z = clf.decision_function(X)
    assert z.shape == (X.shape[0], 4)
    expected = z - z.max(axis=1, keepdims=True)
    expected = np.exp(expected) / np.exp(expected).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, expected,
                               rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_extreme_logits_give_no_nan_or_warning():
    Z = np.array([[1e308, -1e308, 0.0], [1000.0, 1000.0, -1000.0],
                  [np.inf, np.inf, 0.0], [-np.inf, -np.inf, -np.inf],
                  [-745.0, -746.0, -1e300], [0.0, 0.0, 0.0]])
    with np.errstate(over="ignore"):  # 1e308 is inf in float32
        inputs = {dtype: Z.astype(dtype) for dtype in (np.float64, np.float32)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype, Zd in inputs.items():
            p = core.softmax(Zd)
            assert p.dtype == dtype
            assert np.isfinite(p).all()
            np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
            np.testing.assert_allclose(p[0], [1, 0, 0])
            np.testing.assert_allclose(p[1], [0.5, 0.5, 0])
            np.testing.assert_allclose(p[2], [0.5, 0.5, 0])
            np.testing.assert_allclose(p[3], [1 / 3, 1 / 3, 1 / 3], rtol=1e-6)


def test_huge_features_train_and_predict_without_nan():
    X, y = make_data(0)
    X[:, 1] *= 1e300  # standardization folds this scale into the kernel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = LogisticRegression(random_state=0, max_iter=20, tol=None).fit(X, y)
        proba = clf.predict_proba(X * [1.0, 1e5, 1.0, 1.0, 1.0])
    assert np.isfinite(clf.coef_).all()
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


def test_partial_fit_multiclass(seed):
    X, y = make_data(seed, m=600)
    clf = LogisticRegression(random_state=0)
    for _ in range(5):
        for chunk in np.array_split(np.arange(len(y)), 4):
            clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2, 3])
    assert clf.n_iter_ == 20 and clf.coef_.shape == (4, X.shape[1])
    assert clf.score(X, y) >= 0.7
    # a chunk holding only some of the classes is fine
    clf.partial_fit(X[y == 2], y[y == 2])
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:4], np.array([0, 1, 7, 1]))


def test_warm_start_class_weight_early_stopping(seed):
    X, y = make_data(seed, m=600)
    clf = LogisticRegression(max_iter=3, tol=None, warm_start=True, random_state=0)
    clf.fit(X, y)
    first = clf.loss_curve_[-1]
    clf.fit(X, y)
    assert clf.loss_curve_[0] <= first + 1e-3
    # "balanced" equals explicit sample weights n / (k * count)
    bal = LogisticRegression(class_weight="balanced", max_iter=5, tol=None,
                             random_state=0).fit(X, y)
    sw = (len(y) / (4.0 * np.bincount(y)))[y]
    ref = LogisticRegression(max_iter=5, tol=None, random_state=0).fit(
        X, y, sample_weight=sw)
    np.testing.assert_allclose(bal.coef_, ref.coef_, rtol=1e-12)
    es = LogisticRegression(early_stopping=True, random_state=0).fit(X, y)
    assert es.validation_scores_.shape == (es.n_iter_,)
    assert es.best_validation_score_ == es.validation_scores_.max()


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("kw", [
    dict(penalty="l1"),
    dict(penalty="elasticnet", l1_ratio=0.5),
    dict(learning_rate="adagrad"),
], ids=["l1", "elasticnet", "adagrad"])
def test_l1_elasticnet_adagrad_work_for_k_classes(kw):
    """Once binary-only, these options now train k-class models everywhere."""
    X, y = make_data(0)
    fits = (lambda: LogisticRegression(max_iter=3, tol=None, **kw).fit(X, y),
            lambda: LogisticRegression(**kw).partial_fit(X, y, classes=[0, 1, 2, 3]))
    for fit in fits:
        clf = fit()
        assert clf.coef_.shape == (4, X.shape[1])
        assert np.isfinite(clf.coef_).all()
    for train in (core.train_multinomial, reference.train_multinomial):
        res = train(X, y, epochs=3, **kw)
        assert res.W.shape == (4, X.shape[1]) and np.isfinite(res.W).all()
    # unknown values still raise, naming the argument
    with pytest.raises(ValueError, match="penalty"):
        core.train_multinomial(X, y, penalty="l3")
    with pytest.raises(ValueError, match="learning_rate"):
        core.train_multinomial(X, y, learning_rate="rmsprop")


@pytest.mark.parametrize("kw", [
    dict(penalty="l1", alpha=0.02),
    dict(penalty="l1", alpha=0.02, learning_rate="adagrad", lr=0.2),
    dict(penalty="elasticnet", alpha=0.04, l1_ratio=0.5),
], ids=["l1", "adagrad_l1", "elasticnet"])
def test_l1_zeroes_irrelevant_features_in_every_class(seed, kw):
    """Features that carry no signal get exactly zero weight in every row."""
    rng = np.random.default_rng(seed)
    X, y = make_data(seed, m=1500, n=3)
    X = np.hstack([X, rng.normal(size=(1500, 4))])  # 4 irrelevant columns
    opts = dict(batch_size=32, epochs=40, lr=0.1, random_state=seed)
    opts.update(kw)
    for train in (core.train_multinomial, reference.train_multinomial):
        res = train(X, y, **opts)
        assert (res.W[:, 3:] == 0.0).all(), res.W[:, 3:]
        assert (res.W[:, :3] != 0.0).any(axis=1).sum() >= 3


def test_l1_adagrad_state_round_trips_and_continues(tmp_path, seed, dtype):
    """A k-class l1 + AdaGrad model saves its (k, n + 1) / (k, n) optimizer
    state and, loaded, continues training exactly as the original."""
    X, y = make_data(seed, dtype=dtype)
    clf = LogisticRegression(penalty="l1", alpha=0.01, learning_rate="adagrad",
                             lr=0.2, batch_size=16, max_iter=4, tol=None,
                             random_state=seed).fit(X, y)
    state = clf.training_state_
    k, n = 4, X.shape[1]
    assert state.gsq.shape == (k, n + 1) and state.gsq[:, n].all()
    assert state.l1_u.shape == state.l1_q.shape == (k, n)
    assert state.l1_u.any() and state.l1_q.any()
    fastlr.save(clf, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        assert {"gsq", "l1_u", "l1_q"} <= set(npz.files)
    back = fastlr.load(tmp_path / "m.npz")
    for name in ("gsq", "l1_u", "l1_q", "W", "B"):
        np.testing.assert_array_equal(getattr(back.training_state_, name),
                                      getattr(state, name))
    np.testing.assert_array_equal(back.coef_, clf.coef_)
    a = copy.deepcopy(clf)
    for model in (a, back):
        model.partial_fit(X, y)
        model.partial_fit(X[:50], y[:50])
    np.testing.assert_array_equal(back.coef_, a.coef_)
    np.testing.assert_array_equal(back.intercept_, a.intercept_)
    np.testing.assert_array_equal(back.training_state_.gsq, a.training_state_.gsq)
    np.testing.assert_array_equal(back.training_state_.l1_q, a.training_state_.l1_q)


def test_bad_labels():
    X, y = make_data(0)
    with pytest.raises(ValueError, match="one class"):
        core.train_multinomial(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="NaN"):
        core.train_multinomial(X, np.where(y == 1, np.nan, y))
    with pytest.raises(ValueError, match="labels but X has"):
        reference.train_multinomial(X, y[:-1])
    with pytest.raises(ValueError, match="at least two"):
        LogisticRegression().partial_fit(X, y, classes=[0])
    clf = LogisticRegression().partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="differs"):
        clf.partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("train", [core.train_multinomial, reference.train_multinomial])
def test_divergence_names_the_k_class_starting_loss(train):
    # raw features of scale 1e3 at lr 100: the loss explodes within epochs
    X = np.random.default_rng(0).normal(size=(100, 3)) * 1e3
    with pytest.raises(fastlr.DivergedError, match=r"log\(3\) = 1\.099"):
        train(X, np.arange(100) % 3, lr=100.0, standardize=False, epochs=5)


@pytest.mark.parametrize("Z, exc, match", [
    (np.zeros(3), ValueError, r"^Z must be 2-D"),
    (np.zeros((2, 2, 2)), ValueError, r"^Z must be 2-D"),
    (np.array([[0.0, np.nan]]), ValueError, r"^Z contains NaN"),
    (np.array([["a", "b"]], dtype=object), TypeError, r"^Z "),
    (None, TypeError, r"^Z must be"),
])
def test_softmax_refuses_what_is_not_logits(Z, exc, match):
    """core.softmax validated nothing: 1-D or object input failed inside
    numba's compiler, NaN gave NaN rows."""
    with pytest.raises(exc, match=match):
        core.softmax(Z)


def test_softmax_of_integers_and_foreign_dtypes_is_float64():
    """Integer logits gave integer "probabilities" (zeros), big-endian ones
    failed inside numba: they are float64 logits."""
    want = core.softmax(np.array([[1.0, 2.0, 3.0]]))
    for Z in (np.array([[1, 2, 3]]), np.array([[1.0, 2.0, 3.0]], dtype=">f8"),
              [[1, 2, 3]]):
        got = core.softmax(Z)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)
