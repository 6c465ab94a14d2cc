"""fastlr.LogisticRegressionCV: every fold and candidate from one pass.

Each cross-validation model must be the model fastlr.train (or
train_multinomial) gives alone on its training rows: bit for bit, except
two-class models on dense X, whose joint run sums logits and gradients two
rows by four models at a time (the same sums in another order: 1e-12
relative, see ``same``); the refit must be fastlr.LogisticRegression with
the chosen strength; and bad parameters must be refused before anything is
trained.
"""

import re
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    PredefinedSplit,
    RepeatedKFold,
    ShuffleSplit,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_score,
)
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastlr
from fastlr import LogisticRegression, LogisticRegressionCV, _dispatch
from fastlr import estimator_cv as ecv

# the expected failures of LogisticRegression's checks (test_estimator.py),
# for the same reason: mini-batch SGD visits batches of rows, so weighting a
# row by 2 is not the same step sequence as repeating it (and the check's
# repeated rows fall in other folds than their weighted originals)
EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data":
        "mini-batch SGD: weights are not equivalent to repeated rows",
    "check_sample_weight_equivalence_on_sparse_data":
        "mini-batch SGD: weights are not equivalent to repeated rows",
}


# cv=3: one check fits 10 rows whose smallest class has 3 rows, and a cv
# larger than the smallest class is refused (a stratified fold must hold
# every class)
@parametrize_with_checks(
    [LogisticRegressionCV(alphas=3, cv=3, max_iter=200, tol=1e-3, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # the checks fit on tiny or random data with few epochs on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def make_data(seed=0, m=600, n=5, k=2, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    y = (Z @ rng.normal(size=(n, k)) + rng.gumbel(size=(m, k))).argmax(axis=1)
    X = Z * rng.uniform(0.5, 3.0, n) + rng.uniform(-2.0, 2.0, n)
    return X.astype(dtype), y


#: small and quick: few epochs, no tol unless a test sets one; the joint SGD
#: pass (solver="sgd"), whose models equal SGD's alone (the default "auto"
#: takes each model on to its optimum: tested below)
OPTS = dict(batch_size=40, max_iter=4, lr=0.05, tol=None, random_state=3,
            solver="sgd")


def fold_labels(cv, X, y, groups=None):
    """Each row's test fold (1..F, 0 in none) under the splitter ``cv``."""
    row_fold = np.zeros(len(y), dtype=np.int64)
    for f, (_, test) in enumerate(cv.split(X, y, groups), start=1):
        row_fold[test] = f
    return row_fold


def same(actual, desired, X, y):
    """Bit for bit, or to 1e-12 relative (of the largest value) for the
    two-class models: on dense X the joint run sums in another order, and on
    CSR an L2 model trained alone takes the lean epoch (its logits four
    partial sums, its exp libm's)."""
    if np.unique(y).shape[0] > 2:
        np.testing.assert_array_equal(actual, desired)
        return
    scale = np.max(np.abs(desired))
    np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=1e-12 * scale)


def alone(X, y, row_fold, f, alpha, l1_ratio=0.15, **kw):
    """The model holding out fold f, trained alone by fastlr.train(rows=...)."""
    train = fastlr.train if len(np.unique(y)) == 2 else fastlr.train_multinomial
    opts = {"batch_size": kw.pop("batch_size"), "epochs": kw.pop("max_iter"),
            "lr": kw.pop("lr"), "random_state": kw.pop("random_state")}
    kw.pop("tol", None)
    return train(X, y, penalty=kw.pop("penalty", "l2"), alpha=alpha,
                 l1_ratio=l1_ratio, rows=row_fold != f, **opts, **kw)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_each_fold_model_equals_the_model_trained_alone(k, storage):
    X, y = make_data(1, k=k)
    extra = {}
    if storage == "csr":
        X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
        extra = {"standardize": "scale"}
    cv = LogisticRegressionCV(alphas=[1e-1, 1e-3], cv=3, **OPTS, **extra).fit(X, y)
    row_fold = fold_labels(StratifiedKFold(3), X, y)
    rows = 1 if k == 2 else k
    assert cv.coefs_paths_.shape == (3, 1, 2, rows, X.shape[1] + 1)
    assert cv.scores_.shape == cv.n_iter_.shape == (3, 1, 2)
    for f in range(3):
        for a, alpha in enumerate(cv.alphas_):
            solo = alone(X, y, row_fold, f + 1, alpha, **OPTS, **extra)
            same(cv.coefs_paths_[f, 0, a, :, :-1], np.reshape(solo[0], (rows, -1)),
                 X, y)
            same(cv.coefs_paths_[f, 0, a, :, -1], np.reshape(solo[1], rows), X, y)


def test_default_scores_are_the_pass_heldout_loss_and_refit_is_the_estimator():
    X, y = make_data(2)
    cv = LogisticRegressionCV(alphas=4, cv=4, **OPTS).fit(X, y)
    # the grid: scikit-learn's Cs = logspace(-4, 4, 4) as 1 / (C * n_samples)
    np.testing.assert_allclose(cv.alphas_, 1.0 / (np.logspace(-4, 4, 4) * len(y)),
                               rtol=1e-14)
    row_fold = fold_labels(StratifiedKFold(4), X, y)
    many = fastlr.train_many(X, y, cv.alphas_, folds=row_fold, batch_size=40,
                             epochs=4, lr=0.05, random_state=3)
    last = many.heldout[np.arange(len(many.n_iter)), many.n_iter - 1]
    ok = ~many.diverged
    np.testing.assert_array_equal(cv.scores_.reshape(-1)[ok], -last[ok])
    assert (cv.scores_.reshape(-1)[~ok] == -np.inf).all()
    best = int(np.argmax(cv.scores_.mean(axis=0).reshape(-1)))
    assert cv.alpha_ == cv.alphas_[best] and cv.l1_ratio_ == 0.0
    refit = LogisticRegression(alpha=cv.alpha_, **OPTS).fit(X, y)
    np.testing.assert_array_equal(cv.coef_, refit.coef_)
    np.testing.assert_array_equal(cv.intercept_, refit.intercept_)
    np.testing.assert_array_equal(cv.predict_proba(X), refit.predict_proba(X))
    np.testing.assert_array_equal(cv.predict(X), refit.predict(X))
    assert cv.score(X, y) == refit.score(X, y)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "3-class"])
@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_refit_solver_starts_from_the_folds_mean_and_reaches_the_optimum(solver, k):
    """The refit's solver starts from the mean of the chosen strength's fold
    models (scikit-learn's warm start), so it reaches the same optimum as
    a refit from zero: equal to the solver's tolerance."""
    X, y = make_data(4, k=k)
    # tol 1e-10 on the objective leaves the coefficients about 1e-5 apart
    kw = dict(OPTS, max_iter=300, tol=1e-16, solver=solver)
    cv = LogisticRegressionCV(alphas=[1e-1, 1e-2, 1e-3], cv=3, **kw).fit(X, y)
    cold = LogisticRegression(alpha=cv.alpha_, **kw).fit(X, y)
    scale = np.abs(cold.coef_).max()
    np.testing.assert_allclose(cv.coef_, cold.coef_, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(cv.intercept_, cold.intercept_, rtol=0,
                               atol=1e-5 * scale)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "3-class"])
def test_no_intercept_on_offset_features_reaches_the_optimum(k):
    """Without an intercept, on features whose means are 100 times their
    spread, the fold models and the refit run L-BFGS in coordinates that
    make the mean direction an intercept (as ``LogisticRegression`` does):
    with the default ``tol`` the refit's objective is scikit-learn's
    optimum at ``alpha_`` to a relative 1e-4, the tol (see
    ``test_solver.test_no_intercept_on_offset_features_stops_at_the_optimum``)."""
    from sklearn.linear_model import LogisticRegression as SK

    X, y = make_data(6, k=k)
    X = X - X.mean(axis=0) + 100.0 * X.std(axis=0)
    cv = LogisticRegressionCV(alphas=[1e-2, 1e-3], cv=3, fit_intercept=False,
                              solver="lbfgs", standardize=False, max_iter=500)
    cv.fit(X, y)
    sk = SK(C=1.0 / (cv.alpha_ * X.shape[0]), fit_intercept=False,
            solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)

    def F(W):
        Z = X @ W.T
        if k == 2:
            loss = np.logaddexp(0.0, Z[:, 0]) - (y == cv.classes_[1]) * Z[:, 0]
        else:
            loss = np.logaddexp.reduce(Z, axis=1) - Z[np.arange(len(y)), y]
        return loss.mean() + 0.5 * cv.alpha_ * np.sum(W * W)

    assert F(cv.coef_) - F(sk.coef_) <= 1e-4 * F(sk.coef_)


def test_refit_false_averages_each_folds_best_model():
    X, y = make_data(3)
    cv = LogisticRegressionCV(alphas=[1.0, 1e-2, 1e-4], cv=3, refit=False,
                              **OPTS).fit(X, y)
    best = cv.scores_[:, 0].argmax(axis=1)
    chosen = cv.coefs_paths_[np.arange(3), 0, best]
    np.testing.assert_allclose(cv.coef_[0], chosen[:, 0, :-1].mean(axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(cv.intercept_, chosen[:, 0, -1:].mean(axis=0),
                               rtol=1e-12)
    assert cv.alpha_ == pytest.approx(cv.alphas_[best].mean())


@pytest.mark.parametrize("scoring", ["accuracy", "callable"])
def test_scorers_score_the_final_fold_models(scoring):
    X, y = make_data(4, k=3)
    labels = np.array(["a", "b", "c"])[y]
    if scoring == "callable":
        def scoring(est, X_test, y_test):
            return accuracy_score(y_test, est.predict(X_test))
    cv = LogisticRegressionCV(alphas=[1e-1, 1e-3], cv=3, scoring=scoring,
                              **OPTS).fit(X, labels)
    row_fold = fold_labels(StratifiedKFold(3), X, labels)
    for f in range(3):
        test = row_fold == f + 1
        for a in range(2):
            path = cv.coefs_paths_[f, 0, a]
            z = X[test] @ path[:, :-1].T + path[:, -1]
            acc = accuracy_score(labels[test], cv.classes_[z.argmax(axis=1)])
            assert cv.scores_[f, 0, a] == pytest.approx(acc, rel=1e-12)


@pytest.mark.parametrize("scoring", ["f1", "precision", "recall", "jaccard",
                                     "neg_brier_score", "neg_log_loss"])
def test_scorers_are_told_every_class(scoring):
    """A scorer whose metric takes ``labels`` scores each fold with every
    class and, for two classes, the second as the positive one, as
    scikit-learn's LogisticRegressionCV does: string labels score as their
    codes 0/1 do, and a fold that holds out rows of one class only (sorted
    rows, KFold) still scores."""
    X, y = make_data(6)
    words = np.array(["no", "yes"])[y]
    kw = dict(alphas=[1e-1, 1e-3], cv=3, scoring=scoring, **OPTS)
    codes = LogisticRegressionCV(**kw).fit(X, y)
    named = LogisticRegressionCV(**kw).fit(X, words)
    np.testing.assert_array_equal(named.scores_, codes.scores_)
    order = np.argsort(y, kind="stable")
    with warnings.catch_warnings():
        # the metric's own warning: recall of a fold without positives
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        sorted_cv = LogisticRegressionCV(**{**kw, "cv": KFold(3)}).fit(
            X[order], words[order])
    assert np.isfinite(sorted_cv.scores_).all()


def test_dask_input_is_refused_not_gathered():
    """LogisticRegressionCV trains in memory: a dask collection is refused,
    naming it, rather than computed into this process."""
    da = pytest.importorskip("dask.array")
    X, y = make_data(7)
    for args, name in (((da.from_array(X, chunks=200), y), "X"),
                       ((X, da.from_array(y, chunks=200)), "y")):
        with pytest.raises(TypeError, match=f"^{name} is a dask collection"):
            LogisticRegressionCV(alphas=2, cv=2, **OPTS).fit(*args)


def test_neg_log_loss_scorer_is_close_to_the_free_heldout_loss():
    """The pass scores each held-out row at the weights then in force; with
    a converged model that is nearly the final model's loss."""
    X, y = make_data(5, m=2000)
    kw = dict(OPTS, max_iter=30)
    free = LogisticRegressionCV(alphas=[1e-3], cv=3, **kw).fit(X, y)
    exact = LogisticRegressionCV(alphas=[1e-3], cv=3, scoring="neg_log_loss",
                                 **kw).fit(X, y)
    np.testing.assert_allclose(free.scores_, exact.scores_, rtol=0.02)


@pytest.mark.parametrize("splitter", ["kfold", "group", "predefined"])
def test_splitters(splitter):
    X, y = make_data(6)
    groups = np.arange(len(y)) % 7 if splitter == "group" else None
    if splitter == "kfold":
        cv_arg = KFold(3, shuffle=True, random_state=0)
    elif splitter == "group":
        cv_arg = GroupKFold(3)
    else:
        # rows of fold -1 are in no test set: every model trains on them
        cv_arg = PredefinedSplit(np.where(np.arange(len(y)) % 5 == 0, -1,
                                          np.arange(len(y)) % 2))
    cv = LogisticRegressionCV(alphas=[1e-2], cv=cv_arg, **OPTS).fit(
        X, y, groups=groups)
    row_fold = fold_labels(cv_arg, X, y, groups)
    assert cv.scores_.shape[0] == row_fold.max()
    for f in range(row_fold.max()):
        solo = alone(X, y, row_fold, f + 1, 1e-2, **OPTS)
        same(cv.coefs_paths_[f, 0, 0, 0, :-1], solo.w, X, y)
    # an iterable of (train, test) splits gives the same models
    again = LogisticRegressionCV(alphas=[1e-2], cv=list(cv_arg.split(X, y, groups)),
                                 **OPTS).fit(X, y)
    np.testing.assert_array_equal(again.coefs_paths_, cv.coefs_paths_)


def test_elasticnet_grid_and_shapes():
    X, y = make_data(7)
    cv = LogisticRegressionCV(alphas=[1e-2, 1e-4], l1_ratios=[0.2, 0.9], cv=3,
                              penalty="elasticnet", **OPTS).fit(X, y)
    assert cv.scores_.shape == (3, 2, 2) and cv.l1_ratios_.tolist() == [0.2, 0.9]
    assert cv.l1_ratio_ in (0.2, 0.9)
    row_fold = fold_labels(StratifiedKFold(3), X, y)
    solo = alone(X, y, row_fold, 2, 1e-4, l1_ratio=0.9, penalty="elasticnet",
                 **OPTS)
    same(cv.coefs_paths_[1, 1, 1, 0, :-1], solo.w, X, y)
    l1 = LogisticRegressionCV(alphas=[1e-2], cv=3, penalty="l1", **OPTS).fit(X, y)
    assert l1.l1_ratios_.tolist() == [1.0] and l1.l1_ratio_ == 1.0


def test_dtype_and_sparse(dtype):
    X, y = make_data(8, dtype=dtype)
    cv = LogisticRegressionCV(alphas=3, cv=3, standardize="scale", **OPTS).fit(X, y)
    assert cv.coef_.dtype == cv.intercept_.dtype == cv.coefs_paths_.dtype == dtype
    Xs = LogisticRegressionCV(alphas=3, cv=3, standardize="scale", **OPTS).fit(
        sp.csr_matrix(X), y)
    assert Xs.alpha_ == cv.alpha_
    tol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(Xs.coefs_paths_, cv.coefs_paths_, rtol=tol, atol=tol)
    np.testing.assert_allclose(Xs.predict_proba(sp.csr_matrix(X)),
                               cv.predict_proba(X), rtol=tol, atol=tol)


def test_class_weight_is_a_sample_weight():
    X, y = make_data(9)
    y = np.where(np.arange(len(y)) % 4 == 0, y, 0)   # imbalanced
    balanced = LogisticRegressionCV(alphas=3, cv=3, class_weight="balanced",
                                    **OPTS).fit(X, y)
    counts = np.bincount(y)
    sw = (len(y) / (2.0 * counts))[y]
    weighted = LogisticRegressionCV(alphas=3, cv=3, **OPTS).fit(X, y,
                                                                sample_weight=sw)
    np.testing.assert_array_equal(balanced.coefs_paths_, weighted.coefs_paths_)
    np.testing.assert_array_equal(balanced.scores_, weighted.scores_)
    np.testing.assert_array_equal(balanced.coef_, weighted.coef_)


def test_threads_give_identical_models(monkeypatch):
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS",
                        max(2, numba.config.NUMBA_NUM_THREADS))
    X, y = make_data(10, m=3000, k=3)
    kw = dict(OPTS, batch_size=300)
    fits = []
    for threads in (1, 2):
        old = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            fits.append(LogisticRegressionCV(alphas=3, cv=3, **kw).fit(X, y))
        finally:
            numba.set_num_threads(old)
    np.testing.assert_array_equal(fits[0].coefs_paths_, fits[1].coefs_paths_)
    np.testing.assert_array_equal(fits[0].scores_, fits[1].scores_)


def test_early_stopping_per_model_and_convergence_warning():
    X, y = make_data(11, m=1500)
    kw = dict(OPTS, max_iter=60, tol=1e-3, n_iter_no_change=2, lr=0.2)
    cv = LogisticRegressionCV(alphas=[1e-5, 1e-2, 0.3], cv=3, **kw).fit(X, y)
    assert cv.n_iter_.min() < cv.n_iter_.max() <= 60
    with pytest.warns(ConvergenceWarning, match="reached|used all max_iter") as record:
        LogisticRegressionCV(alphas=[1e-5], cv=3, **dict(kw, max_iter=2,
                                                          tol=1e-12)).fit(X, y)
    # one warning for the cross-validation models, one for the refit
    assert any("3 cross-validation models" in str(w.message) for w in record)


def test_diverged_candidates_score_minus_inf():
    """A candidate whose loss explodes (here: a huge step on raw features,
    where the strong penalty's floored shrink leaves w = -lr * gradient)
    scores -inf and is not chosen; the others train as usual."""
    X, y = make_data(12)
    kw = dict(OPTS, lr=500.0, standardize=False, refit=False)
    cv = LogisticRegressionCV(alphas=[1e3, 1e-6], cv=3, **kw).fit(X, y)
    assert (cv.scores_[:, 0, 0] == -np.inf).all()
    assert np.isfinite(cv.scores_[:, 0, 1]).all()
    assert cv.alpha_ == 1e-6 and np.isfinite(cv.coef_).all()


def test_sklearn_tools_and_lazy_export():
    X, y = make_data(13)
    est = LogisticRegressionCV(alphas=2, cv=3, **OPTS)
    assert "LogisticRegressionCV" in dir(fastlr)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "coef_")
    assert cross_val_score(est, X, y, cv=3).mean() > 0.6


def test_model_files_refuse_it(tmp_path):
    X, y = make_data(14)
    cv = LogisticRegressionCV(alphas=2, cv=3, **OPTS).fit(X, y)
    with pytest.raises(TypeError, match="fastlr.LogisticRegression"):
        fastlr.save(cv, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def _small_classes():
    X, y = make_data(15, m=60)
    y[:] = 0
    y[:3] = 1
    return X, y


BAD = [
    (dict(alphas=[]), ValueError, "alphas"),
    (dict(alphas=[-1.0]), ValueError, "alphas"),
    (dict(alphas=[np.nan]), ValueError, "alphas"),
    (dict(alphas=[0.1, np.inf]), ValueError, "alphas"),
    (dict(alphas=[[0.1, 0.2]]), ValueError, "alphas"),
    (dict(alphas=0), ValueError, "alphas"),
    (dict(alphas="many"), TypeError, "alphas"),
    # a float is neither a count nor a list (the list's message said
    # "got shape ()")
    (dict(alphas=2.5), ValueError, r"alphas must be an int >= 1 .* got 2.5 "),
    (dict(alphas=-1.0), ValueError, r"alphas must be an int >= 1 .* \[-1.0\]"),
    (dict(l1_ratios=[0.5]), ValueError, "l1_ratios"),
    (dict(l1_ratios=[1.5], penalty="elasticnet"), ValueError, "l1_ratios"),
    (dict(l1_ratios=[-0.1], penalty="elasticnet"), ValueError, "l1_ratios"),
    (dict(l1_ratios=[np.nan], penalty="elasticnet"), ValueError, "l1_ratios"),
    (dict(scoring="no_such_score"), ValueError, "scoring"),
    (dict(scoring=3), TypeError, "scoring"),
    (dict(cv=1), ValueError, "cv"),
    (dict(cv=True), TypeError, "cv"),
    (dict(cv="five"), TypeError, "cv"),
    (dict(cv=ShuffleSplit(3, random_state=0)), ValueError, "overlap"),
    (dict(cv=RepeatedKFold(n_splits=3, n_repeats=2)), ValueError, "overlap"),
    (dict(cv=TimeSeriesSplit(3)), ValueError, "every row outside"),
    # a training row listed twice was trained on once, silently (scikit-learn
    # counts it twice); a split that trains on its test rows was said not
    # to train on every row outside them
    (dict(cv=[(np.append(tr, tr[0]), te) for tr, te in
              KFold(3).split(np.zeros(100))]), ValueError,
     r"the training set of split 1 lists row 34 more than once"),
    (dict(cv=[(np.arange(100), te) for _, te in KFold(3).split(np.zeros(100))]),
     ValueError, r"split 1 trains on row 0, which is in its own test set"),
    (dict(refit="yes"), TypeError, "refit"),
    (dict(penalty=None), ValueError, "penalty"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(lr=0), ValueError, "lr"),
    (dict(batch_size=0), ValueError, "batch_size"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD,
                         ids=[f"{next(iter(k))}-{i}" for i, (k, _, _) in
                              enumerate(BAD)])
def test_bad_input_is_refused_before_training(kwargs, exc, match, monkeypatch):
    def no_training(*args, **kw):
        raise AssertionError("trained before refusing the input")

    monkeypatch.setattr(ecv, "_run_many", no_training)
    X, y = make_data(16, m=100)
    with pytest.raises(exc, match=match):
        LogisticRegressionCV(**kwargs).fit(X, y)


def test_cv_larger_than_the_smallest_class(monkeypatch):
    monkeypatch.setattr(ecv, "_run_many", None)   # never reached
    X, y = _small_classes()
    with pytest.raises(ValueError, match=r"cv=5 gives 5 stratified folds, more "
                                         r"than the smallest class has rows \(3\); "
                                         r".* use 3 folds or fewer, or a splitter "
                                         r"that does not stratify, .* such as "
                                         r"cv=KFold\(5, shuffle=True, "
                                         r"random_state=0\)"):
        LogisticRegressionCV().fit(X, y)
    # a class of a single row: no number of stratified folds can be, which
    # the message said nothing of ("use fewer folds")
    y1 = y.copy()
    y1[3] = 2
    with pytest.raises(ValueError, match=r"cv=5 gives 5 stratified folds, but the "
                                         r"class 2 has a single row, so no number "
                                         r".* cv=KFold\(5, shuffle=True, "
                                         r"random_state=0\), or drop those rows"):
        LogisticRegressionCV().fit(X, y1)
    # a StratifiedKFold too (scikit-learn would only warn, and train folds
    # that lack a class)
    with pytest.raises(ValueError, match=r"cv=StratifiedKFold\(.*\) gives 4 "
                                         r"stratified folds, more than the smallest"):
        LogisticRegressionCV(cv=StratifiedKFold(4)).fit(X, y)


def test_the_refits_early_stopping_split_is_refused_before_the_grid(monkeypatch):
    """With early_stopping the refit holds out rows; a class of a single row
    was refused by the refit only, after every fold model had trained."""
    monkeypatch.setattr(ecv, "_run_many", None)   # never reached
    X, y = make_data(15, m=300, k=3)
    y[0] = 5
    with pytest.raises(ValueError, match=r"early_stopping .* the class 5 has a "
                                         r"single row"):
        LogisticRegressionCV(cv=KFold(3), early_stopping=True).fit(X, y)


def test_a_single_row_class_trains_with_the_advised_splitter():
    """The splitter the refusal of a class of one row advises trains."""
    X, y = make_data(15, m=300, k=3)
    y[0] = 5
    cv = LogisticRegressionCV(cv=KFold(5, shuffle=True, random_state=0),
                              alphas=[1e-2, 1e-1], **OPTS).fit(X, y)
    assert cv.classes_.tolist() == [0, 1, 2, 5]
    assert np.isfinite(cv.scores_).all()


def test_sample_weight_fold_models_equal_the_weighted_models_trained_alone():
    X, y = make_data(17, k=3)
    sw = np.random.default_rng(17).uniform(0.0, 3.0, len(y))
    sw[::7] = 0.0
    cv = LogisticRegressionCV(alphas=[1e-1, 1e-3], cv=3, **OPTS).fit(
        X, y, sample_weight=sw)
    row_fold = fold_labels(StratifiedKFold(3), X, y)
    for f in range(3):
        for a, alpha in enumerate(cv.alphas_):
            solo = alone(X, y, row_fold, f + 1, alpha, sample_weight=sw, **OPTS)
            # three classes: the same arithmetic, bit for bit
            np.testing.assert_array_equal(cv.coefs_paths_[f, 0, a, :, :-1], solo[0])
            np.testing.assert_array_equal(cv.coefs_paths_[f, 0, a, :, -1], solo[1])
    # the weights count: unweighted models differ
    plain = LogisticRegressionCV(alphas=[1e-1, 1e-3], cv=3, **OPTS).fit(X, y)
    assert not np.array_equal(plain.coefs_paths_, cv.coefs_paths_)


def test_a_stopped_model_stops_updating():
    """A model stopped by its held-out loss after e epochs is the model
    trained alone for exactly e epochs: the later epochs of the pass, run
    for the models still going, leave it unchanged."""
    X, y = make_data(18, m=1500)
    kw = dict(OPTS, max_iter=40, tol=1e-3, n_iter_no_change=2, lr=0.2)
    cv = LogisticRegressionCV(alphas=[1e-5, 1e-2, 0.3], cv=3, **kw).fit(X, y)
    row_fold = fold_labels(StratifiedKFold(3), X, y)
    stopped = np.argwhere(cv.n_iter_[:, 0] < cv.n_iter_.max())
    assert stopped.shape[0] > 0
    for f, a in stopped:
        e = int(cv.n_iter_[f, 0, a])
        solo = alone(X, y, row_fold, f + 1, cv.alphas_[a], **dict(kw, max_iter=e))
        same(cv.coefs_paths_[f, 0, a, 0, :-1], solo.w, X, y)
        same(cv.coefs_paths_[f, 0, a, 0, -1:], np.array([solo.b]), X, y)


def test_score_uses_scoring():
    """score() is the scoring option's score of the final model (as
    scikit-learn's LogisticRegressionCV.score), accuracy without one."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import accuracy_score, log_loss

    X, y = load_breast_cancer(return_X_y=True)
    cv = fastlr.LogisticRegressionCV(alphas=3, cv=3, scoring="neg_log_loss",
                                     solver="sgd", random_state=0).fit(X, y)
    assert cv.score(X, y) == pytest.approx(-log_loss(y, cv.predict_proba(X)),
                                           rel=1e-12)
    cv.set_params(scoring=None)
    assert cv.score(X, y) == accuracy_score(y, cv.predict(X))


# ------------------------------------------------ the solvers' fold models

@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_solver_fold_models_are_the_optima_of_their_folds(solver, storage, k):
    """With ``solver="auto"`` or ``"lbfgs"`` each fold model is taken to the
    optimum of its objective on its training rows, as ``fastlr.train(rows=,
    solver=)`` trains it alone: equal to the solvers' tolerance (both run
    L-BFGS, the joint run from the optimum of the path's model before it,
    and with its sums in another order)."""
    X, y = make_data(5, k=k)
    extra = {}
    if storage == "csr":
        X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
        extra = {"standardize": "scale"}
    # (a relative decrease of 1e-16 leaves the coefficients within 1e-8)
    kw = dict(OPTS, max_iter=500, tol=1e-16, solver=solver, **extra)
    cv = LogisticRegressionCV(alphas=[1e-1, 1e-3], cv=3, **kw).fit(X, y)
    row_fold = fold_labels(StratifiedKFold(3), X, y)
    rows = 1 if k == 2 else k
    for f in range(3):
        for a, alpha in enumerate(cv.alphas_):
            solo = alone(X, y, row_fold, f + 1, alpha, **kw)
            w = np.reshape(solo[0], (rows, -1))
            scale = np.abs(w).max()
            np.testing.assert_allclose(cv.coefs_paths_[f, 0, a, :, :-1], w,
                                       rtol=0, atol=1e-6 * scale)
            np.testing.assert_allclose(cv.coefs_paths_[f, 0, a, :, -1],
                                       np.reshape(solo[1], rows), rtol=0,
                                       atol=1e-6 * scale)
    # the default scores are the held-out log-loss of those models
    for f in range(3):
        test = row_fold == f + 1
        for a in range(2):
            est = LogisticRegression()
            est.classes_ = cv.classes_
            est.coef_ = cv.coefs_paths_[f, 0, a, :, :-1]
            est.intercept_ = cv.coefs_paths_[f, 0, a, :, -1]
            est.n_features_in_ = X.shape[1]
            held = log_loss(y[test], est.predict_proba(X[test]), labels=cv.classes_)
            assert cv.scores_[f, 0, a] == pytest.approx(-held, rel=1e-9)


def test_default_choice_matches_scikit_learn_on_small_separable_data():
    """Breast cancer (426 training rows, nearly separable): the default
    (``solver="auto"``) scores each strength at its optimum, as
    scikit-learn's ``LogisticRegressionCV`` does, and chooses its strength,
    with the same held-out log-loss to 1%. Scoring the early-stopped SGD
    fold models instead chose the weakest strength, whose optimum
    overfits (held-out log-loss 1.11 against 0.097)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegressionCV as SkLRCV
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
    ours = LogisticRegressionCV(alphas=8, cv=5, random_state=0).fit(Xtr, ytr)
    sk = make_pipeline(StandardScaler(), SkLRCV(Cs=8, cv=5, scoring="neg_log_loss",
                                                l1_ratios=(0.0,),
                                                use_legacy_attributes=False))
    sk.fit(Xtr, ytr)
    C = float(np.ravel(sk[-1].C_)[0])
    assert ours.alpha_ == pytest.approx(1.0 / (C * len(ytr)), rel=1e-12)
    mine = log_loss(yte, ours.predict_proba(Xte))
    theirs = log_loss(yte, sk.predict_proba(Xte))
    assert mine <= 1.01 * theirs


def test_solver_models_short_of_max_iter_warn():
    X, y = make_data(6)
    with pytest.warns(ConvergenceWarning, match=r"6 of the 6 cross-validation "
                      r"models used all max_iter=2 passes of solver='lbfgs'"):
        cv = LogisticRegressionCV(alphas=[1e-1, 1e-3], cv=3, **dict(
            OPTS, solver="lbfgs", max_iter=2, tol=1e-12, refit=False)).fit(X, y)
    assert (cv.n_iter_ == 2).all()
    assert np.isfinite(cv.scores_).all()


def test_nan_scores_are_not_divergence():
    """A held-out fold of one class makes roc_auc NaN: it was taken for a
    diverged model and the fit raised DivergedError ('lower the learning
    rate'). The NaN folds are left out of the candidates' means; a scorer
    that is NaN everywhere is a ValueError that says so."""
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]   # KFold(3) unshuffled: the outer folds of one class
    cv = KFold(3)
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        clf = fastlr.LogisticRegressionCV(alphas=3, cv=cv, scoring="roc_auc",
                                          random_state=0).fit(X, y)
    assert np.isnan(clf.scores_).any() and np.isfinite(clf.scores_).any()
    assert clf.alpha_ in clf.alphas_
    with pytest.raises(ValueError, match="scoring gave NaN for every candidate"):
        fastlr.LogisticRegressionCV(alphas=2, cv=cv, random_state=0,
                                    scoring=lambda est, X, y: np.nan).fit(X, y)


@pytest.mark.parametrize("make", [
    lambda: LogisticRegressionCV(alphas=[1e-4, 1e-2], cv=3, max_iter=2, random_state=0),
    lambda: LogisticRegression(max_iter=2, random_state=0),
    lambda: LogisticRegression(max_iter=2, solver="sgd", random_state=0),
], ids=["cv", "auto", "sgd"])
def test_convergence_warnings_point_at_the_caller(make):
    """ConvergenceWarnings were attributed to fit's error wrapper inside
    fastlr (stacklevel not counting it): filters by module and the printed
    source line pointed into the package, not at the user's call."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        make().fit(X, y)
    caught = [w for w in rec if issubclass(w.category, ConvergenceWarning)]
    assert caught
    assert {w.filename for w in caught} == {__file__}


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "sgd"])
def test_the_progress_bar_counts_within_its_total(solver, capsys):
    """The solver follows the paths a strength at a time, up to max_iter
    passes each: the bar, made with total=max_iter, ran past it and lost
    its total ('0/10', then '37epoch')."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.3 * rng.logistic(size=400) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        LogisticRegressionCV(alphas=4, cv=3, max_iter=10, verbose=2, solver=solver,
                             random_state=0).fit(X, y)
    err = capsys.readouterr().err.replace("\r", "\n")
    counts = [(int(a), int(b)) for a, b in re.findall(r"^cv:.*?(\d+)/(\d+) \[", err,
                                                      flags=re.M)]
    assert counts and all(a <= b for a, b in counts), err[-500:]
    assert not re.search(r"^cv: \d+epoch", err, flags=re.M)


def test_fold_models_solve_scikit_learns_objective_at_the_folds_C():
    """``alpha`` weighs the penalty against the mean loss on every fold (as
    the docstring says): a fold model on ``n_train`` rows is scikit-learn's
    optimum at ``C = 1 / (alpha * n_train)`` on the fold's standardized
    training rows (scikit-learn's ``LogisticRegressionCV`` keeps ``C = 1 /
    (alpha * n_samples)`` there instead)."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression as SK
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(400, 6, n_informative=4, n_classes=3, random_state=0)
    cv = LogisticRegressionCV(alphas=[1e-2, 1e-3], cv=4, solver="lbfgs", tol=1e-20,
                              max_iter=5000).fit(X, y)
    for f, (tr, te) in enumerate(StratifiedKFold(4).split(X, y)):
        sc = StandardScaler().fit(X[tr])
        for a, alpha in enumerate(cv.alphas_):
            path = cv.coefs_paths_[f, 0, a]
            Z = X[te] @ path[:, :-1].T + path[:, -1]
            P = np.exp(Z - Z.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            sk = SK(C=1.0 / (alpha * len(tr)), tol=1e-12, max_iter=100_000)
            sk.fit(sc.transform(X[tr]), y[tr])
            np.testing.assert_allclose(P, sk.predict_proba(sc.transform(X[te])),
                                       atol=1e-6)


@pytest.mark.parametrize("refit", [True, False])
def test_a_tie_goes_to_the_strongest_penalty_whatever_its_l1_ratio(refit):
    """Candidates are ranked by strength first, then by l1_ratio, as
    scikit-learn's argmax over its (Cs, l1_ratios) scores: a tie between the
    first l1_ratio's weakest alpha and the second's strongest went to the
    weakest (the scores were searched l1_ratio by l1_ratio)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    alphas = [1.0, 0.1, 0.01, 0.001]

    def tie(est, X, y):
        return float((est.l1_ratio, est.alpha) in ((0.1, alphas[-1]), (0.9, alphas[0])))

    cv = LogisticRegressionCV(alphas=alphas, l1_ratios=[0.1, 0.9], penalty="elasticnet",
                              cv=list(KFold(3).split(X)), scoring=tie, solver="lbfgs",
                              refit=refit).fit(X, y)
    assert cv.scores_.mean(axis=0)[0, -1] == cv.scores_.mean(axis=0)[1, 0] == 1.0
    assert (cv.alpha_, cv.l1_ratio_) == pytest.approx((alphas[0], 0.9), rel=1e-15)


def test_the_int_grid_follows_the_total_weight():
    """alphas=A is 1 / (C n_samples) with n_samples the rows' total weight,
    as C multiplies the weighted sum of losses: a weight of 2 is the row
    given twice (in the same fold), grid, choice and model (the grid was
    built from the row count, so every C of a weight-2 fit was halved)."""
    rng = np.random.default_rng(0)
    m = 120
    X = rng.normal(size=(m, 4))
    y = (X[:, 0] + X[:, 1] + 0.7 * rng.normal(size=m) > 0).astype(int)
    fold = np.arange(m) % 3
    Xr, yr, foldr = np.repeat(X, 2, axis=0), np.repeat(y, 2), np.repeat(fold, 2)

    def splits(f):
        return [(np.flatnonzero(f != k), np.flatnonzero(f == k)) for k in range(3)]

    kw = dict(alphas=6, tol=1e-14, random_state=0, solver="lbfgs")
    a = LogisticRegressionCV(cv=splits(fold), **kw).fit(X, y,
                                                        sample_weight=np.full(m, 2.0))
    b = LogisticRegressionCV(cv=splits(foldr), **kw).fit(Xr, yr)
    np.testing.assert_allclose(a.alphas_, 1.0 / (np.logspace(-4, 4, 6) * 2 * m),
                               rtol=1e-15)
    np.testing.assert_array_equal(a.alphas_, b.alphas_)
    assert a.alpha_ == b.alpha_
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-9)
    c = LogisticRegressionCV(cv=splits(fold), class_weight={0: 3.0}, **kw).fit(X, y)
    total = np.where(y == 0, 3.0, 1.0).sum()
    np.testing.assert_allclose(c.alphas_, 1.0 / (np.logspace(-4, 4, 6) * total),
                               rtol=1e-15)


@pytest.mark.parametrize("weight", [1e-307, 1e305 / 40])
def test_an_int_grid_beyond_float64_is_refused(weight):
    """Weights whose total float64 holds can still put 1 / (C * total)
    beyond it: the grid held infinite or zero alphas (a DivergedError that
    blamed the features, or alpha 0 chosen). Refused, naming alphas and the
    weights."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + rng.logistic(size=40) > 0).astype(int)
    with pytest.raises(ValueError, match=r"^alphas=3: the grid .* leaves float64's "
                       "normal range; scale sample_weight"):
        LogisticRegressionCV(alphas=3, cv=3).fit(X, y, sample_weight=np.full(40, weight))


@pytest.mark.parametrize("check", ["check_sample_weight_equivalence_on_dense_data",
                                   "check_sample_weight_equivalence_on_sparse_data"])
def test_run_to_the_optimum_weights_are_repeated_rows(check):
    """The two checks the suite above expects to fail (its models stop at
    tol=1e-3) pass with the default solver run to the optimum (README: "only
    when run to the optimum"), where a weight of 2 is a repeated row. At
    the default tol=1e-4 the refit at the chosen alpha (1.8e-6: the
    checks' 15 rows of 30 features are nearly separable) stops where
    rounding decides, and the two decision functions differed by 2e-7 to
    1.3e-6, about the checks' 1e-7."""
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("LogisticRegressionCV",
                                     LogisticRegressionCV(cv=3, tol=1e-10))


def test_scoring_holds_one_folds_copy_at_a_time(traced_peak):
    """scoring= scores each model on a copy of its fold's held-out rows: one
    fold's copy at a time (two were alive while the next was made: 2/cv of
    X, all of X at cv=2)."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((40_000, 100))
    y = (X[:, 0] + rng.standard_normal(40_000) > 0).astype(np.int64)
    est = LogisticRegressionCV(alphas=[1e-3, 1e-2], cv=2, scoring="accuracy",
                               max_iter=1, solver="sgd", tol=None, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clone(est).fit(X[:400], y[:400])
        _, peak = traced_peak(lambda: est.fit(X, y))
    # one fold's rows (half of X) and what the fit itself adds (about 60
    # bytes a row: the folds, scikit-learn's StratifiedKFold)
    assert peak < 0.7 * X.nbytes, peak / X.nbytes


# ------------------------------------------------------- metadata routing
# With sklearn.set_config(enable_metadata_routing=True) LogisticRegressionCV
# routes metadata as scikit-learn's does: to its scoring scorer (fit and
# score) and its cv splitter (fit), as each requests it; each case is
# checked against scikit-learn's LogisticRegressionCV on the same data.

UNSET = object()


def recording_scorer(seen, request=UNSET):
    """An accuracy scorer that records the sample_weight of each call
    (None when it got none), its request set unless ``UNSET``."""
    from sklearn.metrics import make_scorer

    def acc(y_true, y_pred, sample_weight=None):
        seen.append(sample_weight)
        return accuracy_score(y_true, y_pred, sample_weight=sample_weight)

    scorer = make_scorer(acc)
    return scorer if request is UNSET else scorer.set_score_request(
        sample_weight=request)


def sk_cv(**kw):
    """scikit-learn's LogisticRegressionCV for the routing comparisons."""
    from sklearn.linear_model import LogisticRegressionCV as SkLRCV

    return SkLRCV(Cs=3, l1_ratios=(0.0,), use_legacy_attributes=False,
                  max_iter=1000, **kw)


@pytest.mark.parametrize("request_", [True, False])
def test_routing_scorer_request_as_scikit_learn(request_):
    """The scorer gets the held-out rows' sample weights only when it
    requests them (they were always passed, so ``set_score_request(
    sample_weight=False)`` was ignored); the training is weighted either
    way, bit for bit the fit without routing; ``score`` routes them to the
    scorer the same (and, as scikit-learn's, refuses them when the scorer
    declines them: nothing else takes them); the routing is scikit-learn's:
    the scorer for fit and score, the splitter for fit."""
    import sklearn
    from sklearn.metrics import make_scorer

    X, y = make_data(31)
    sw = np.random.default_rng(31).uniform(0.2, 3.0, len(y))
    plain = LogisticRegressionCV(alphas=3, cv=3, scoring=make_scorer(
        lambda t, p, sample_weight=None: accuracy_score(
            t, p, sample_weight=sample_weight if request_ else None)), **OPTS)
    plain.fit(X, y, sample_weight=sw)
    with sklearn.config_context(enable_metadata_routing=True):
        seen, theirs = [], []
        ours = LogisticRegressionCV(alphas=3, cv=3, scoring=recording_scorer(
            seen, request_), **OPTS).fit(X, y, sample_weight=sw)
        sk = sk_cv(cv=3, scoring=recording_scorer(theirs, request_))
        sk.fit(X, y, sample_weight=sw)
        assert repr(ours.get_metadata_routing()) == repr(sk.get_metadata_routing())
        seen_score, theirs_score = [], []
        ours.set_params(scoring=recording_scorer(seen_score, request_))
        sk.set_params(scoring=recording_scorer(theirs_score, request_))
        if request_:
            got = ours.score(X, y, sample_weight=sw)
            sk.score(X, y, sample_weight=sw)
        else:
            for est in (ours, sk):
                with pytest.raises(TypeError, match=r"score got unexpected "
                                   r"argument\(s\) \{'sample_weight'\}"):
                    est.score(X, y, sample_weight=sw)
            got = ours.score(X, y)
            sk.score(X, y)
    assert len(seen) == 9 and len(theirs) == 9
    assert [w is not None for w in seen] == [request_] * 9
    assert [w is not None for w in theirs] == [request_] * 9
    np.testing.assert_array_equal(ours.scores_, plain.scores_)
    np.testing.assert_array_equal(ours.coefs_paths_, plain.coefs_paths_)
    np.testing.assert_array_equal(ours.coef_, plain.coef_)
    assert [w is not None for w in seen_score + theirs_score] == [request_] * 2
    assert got == accuracy_score(y, ours.predict(X),
                                 sample_weight=sw if request_ else None)


@pytest.mark.parametrize("scoring", ["unset", "accuracy"])
def test_routing_unset_scorer_request_raises_as_scikit_learn(scoring):
    """sample_weight passed to fit (or score) while the scorer has no
    request for it: UnsetMetadataPassedError, as scikit-learn's (a scorer
    name's scorer has none), before anything is trained."""
    import sklearn
    from sklearn.exceptions import UnsetMetadataPassedError

    X, y = make_data(32)
    sw = np.ones(len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        def make(est):
            return est.set_params(scoring=recording_scorer([]) if scoring == "unset"
                                  else scoring)
        for est in (LogisticRegressionCV(alphas=3, cv=3, **OPTS), sk_cv(cv=3)):
            est = make(est)
            with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
                est.fit(X, y, sample_weight=sw)
            assert not hasattr(est, "coef_")
            est.fit(X, y)
            with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
                est.score(X, y, sample_weight=sw)


def test_routing_scorer_alias_as_scikit_learn():
    """A scorer requesting its weights under another name gets them (each
    fold's held-out part), while training uses sample_weight."""
    import sklearn

    X, y = make_data(33)
    sw = np.random.default_rng(33).uniform(0.2, 3.0, len(y))
    sw2 = np.random.default_rng(34).uniform(0.2, 3.0, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        seen, theirs = [], []
        ours = LogisticRegressionCV(alphas=3, cv=3, scoring=recording_scorer(
            seen, "score_weight"), **OPTS)
        ours.fit(X, y, sample_weight=sw, score_weight=sw2)
        sk_cv(cv=3, scoring=recording_scorer(theirs, "score_weight")).fit(
            X, y, sample_weight=sw, score_weight=sw2)
    plain = LogisticRegressionCV(alphas=3, cv=3, scoring="accuracy", **OPTS).fit(
        X, y, sample_weight=sw)
    tests = [t for _, t in StratifiedKFold(3).split(X, y)]
    for i, got in enumerate(seen):      # 3 alphas of each fold, fold by fold
        np.testing.assert_array_equal(got, sw2[tests[i // 3]])
    for i, got in enumerate(theirs):
        np.testing.assert_array_equal(got, sw2[tests[i // 3]])
    np.testing.assert_array_equal(ours.coefs_paths_, plain.coefs_paths_)


@pytest.mark.parametrize("case", ["alias", "not requested", "KFold"])
def test_routing_groups_to_the_splitter_as_scikit_learn(case):
    """groups (and other metadata) go to the cv splitter as it requests them:
    under an alias; not at all when it declines them (GroupKFold then needs
    them); a splitter that takes none refuses them. Without routing, groups
    is passed to every splitter's split."""
    import sklearn

    X, y = make_data(35)
    groups = np.arange(len(y)) % 7
    with sklearn.config_context(enable_metadata_routing=True):
        if case == "alias":
            cv, meta = GroupKFold(3).set_split_request(groups="g"), {"g": groups}
        elif case == "not requested":
            cv = GroupKFold(3).set_split_request(groups=False)
            meta = {"groups": groups}
        else:
            cv, meta = KFold(3), {"groups": groups}
        outcomes = []
        for est in (LogisticRegressionCV(alphas=3, cv=cv, scoring="accuracy", **OPTS),
                    sk_cv(cv=cv, scoring="accuracy")):
            try:
                est.fit(X, y, **meta)
                outcomes.append(None)
            except (TypeError, ValueError) as e:
                outcomes.append((type(e), str(e).split(".")[0]))
                assert not hasattr(est, "coef_")
    assert outcomes[0] == outcomes[1]
    if case == "alias":
        assert outcomes[0] is None
        with sklearn.config_context(enable_metadata_routing=True):
            ours = LogisticRegressionCV(alphas=3, cv=cv, **OPTS).fit(X, y, g=groups)
        split = LogisticRegressionCV(alphas=3, cv=list(GroupKFold(3).split(
            X, y, groups)), **OPTS).fit(X, y)
        np.testing.assert_array_equal(ours.scores_, split.scores_)
        np.testing.assert_array_equal(ours.coef_, split.coef_)
    else:
        assert outcomes[0] is not None


def test_routing_default_scoring_and_nested_search():
    """scoring=None has no scorer: the held-out log-loss (and score's
    accuracy) are this estimator's own and weighted, routing on or off, bit
    for bit. In a GridSearchCV with a GroupKFold the groups reach both
    splitters, as with scikit-learn's (groups was metadata of
    LogisticRegressionCV.fit itself, whose request nobody had set)."""
    import sklearn
    from sklearn.model_selection import GridSearchCV

    X, y = make_data(36)
    sw = np.random.default_rng(36).uniform(0.2, 3.0, len(y))
    groups = np.arange(len(y)) % 7
    plain = LogisticRegressionCV(alphas=3, cv=3, **OPTS).fit(X, y, sample_weight=sw)
    with sklearn.config_context(enable_metadata_routing=True):
        ours = LogisticRegressionCV(alphas=3, cv=3, **OPTS).fit(X, y, sample_weight=sw)
        assert ours.score(X, y, sample_weight=sw) == plain.score(
            X, y, sample_weight=sw)
        # no scorer; sample_weight of fit and score is this estimator's
        assert repr(ours.get_metadata_routing()) == repr({
            "$self_request": {"fit": {"sample_weight": None},
                              "score": {"sample_weight": None}},
            "splitter": {"mapping": [{"caller": "fit", "callee": "split"}],
                         "router": {}}})
        searches = []
        for est in (LogisticRegressionCV(alphas=3, cv=GroupKFold(3), **OPTS),
                    sk_cv(cv=GroupKFold(3))):
            est.set_params(scoring=recording_scorer([], True))
            search = GridSearchCV(est.set_fit_request(sample_weight=True),
                                  {"verbose": [0]}, cv=GroupKFold(2))
            searches.append(search.fit(X, y, sample_weight=sw, groups=groups))
    np.testing.assert_array_equal(ours.scores_, plain.scores_)
    np.testing.assert_array_equal(ours.coef_, plain.coef_)
    inner = searches[0].best_estimator_
    refit = LogisticRegressionCV(alphas=3, cv=list(GroupKFold(3).split(
        X, y, groups)), scoring="accuracy", **OPTS).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(inner.scores_, refit.scores_)


def test_extra_fit_and_score_params_need_routing():
    """Metadata other than sample_weight and groups is routed metadata:
    without routing it is refused naming it (as scikit-learn's), and nothing
    is fitted."""
    X, y = make_data(37)
    est = LogisticRegressionCV(alphas=3, cv=3, **OPTS)
    with pytest.raises(ValueError, match=r"enable_metadata_routing=True.*'g'"):
        est.fit(X, y, g=np.zeros(len(y)))
    assert not hasattr(est, "coef_")
    est.fit(X, y)
    with pytest.raises(ValueError, match=r"enable_metadata_routing=True.*'g'"):
        est.score(X, y, g=np.zeros(len(y)))


def test_plain_estimator_routes_in_pipeline_and_search():
    """fastlr.LogisticRegression is a consumer: set_fit_request and
    set_score_request route sample_weight through a Pipeline and a
    GridSearchCV with routing on."""
    import sklearn
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_data(38)
    sw = np.random.default_rng(38).uniform(0.2, 3.0, len(y))
    opts = dict(solver="lbfgs", random_state=0)
    Xs = StandardScaler().fit_transform(X)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                             LogisticRegression(**opts).set_fit_request(
                                 sample_weight=True))
        pipe.fit(X, y, sample_weight=sw)
        means = []
        for score_request in (True, False):
            search = GridSearchCV(LogisticRegression(**opts).set_fit_request(
                sample_weight=True).set_score_request(sample_weight=score_request),
                {"alpha": [1e-3]}, cv=3).fit(X, y, sample_weight=sw)
            means.append(search.cv_results_["mean_test_score"][0])
    np.testing.assert_array_equal(
        pipe[-1].coef_, LogisticRegression(**opts).fit(Xs, y, sample_weight=sw).coef_)
    folds = list(StratifiedKFold(3).split(X, y))
    for weighted, mean in zip((True, False), means, strict=True):
        scores = []
        for train, test in folds:
            m = LogisticRegression(alpha=1e-3, **opts).fit(
                X[train], y[train], sample_weight=sw[train])
            scores.append(m.score(X[test], y[test],
                                  sample_weight=sw[test] if weighted else None))
        assert mean == pytest.approx(np.mean(scores), rel=1e-12)
