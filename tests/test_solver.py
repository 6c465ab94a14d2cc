"""The deterministic solver (``solver="lbfgs"`` and ``"auto"``): the optimum
of scikit-learn's LogisticRegression, the NumPy twin's, bad input."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SKLogisticRegression

import fastlr
from fastlr import LogisticRegression, cli, reference
from fastlr._dispatch import as_data

#: Tight enough that the coefficients converge as far as floating point
#: lets them (the predicted decrease is computed from the gradient).
EXACT = 1e-20


def make_problem(seed, k, m=300, n=5, sparse=False):
    """Non-separable data whose columns differ in scale and offset, labels
    of k classes (two for the binary model), positive sample weights."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    if k == 1:
        y = (Z @ rng.normal(size=n) + rng.logistic(size=m) > 0.3).astype(np.int64)
    else:
        y = (Z @ rng.normal(size=(n, k)) + rng.gumbel(size=(m, k))).argmax(axis=1)
    X = Z * rng.uniform(0.5, 3.0, n) + rng.uniform(-2.0, 2.0, n)
    if sparse:
        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.5, X, 0.0))
    sw = rng.uniform(0.2, 3.0, size=m)
    return X, y, sw


def sklearn_optimum(X, y, sw, C, standardize):
    """scikit-learn's newton-cholesky at tol 1e-12 on the features fastlr
    trains on, its coefficients mapped back to raw space."""
    data = as_data(X)
    mean, scale = (a[0] for a in data.standardization(standardize, sw=sw))
    Xs = X.multiply(1.0 / scale).tocsr() if sp.issparse(X) else (X - mean) / scale
    sk = SKLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12,
                              max_iter=1000).fit(Xs, y, sample_weight=sw)
    W = sk.coef_ / scale
    return W, sk.intercept_ - W @ mean


CASES = [(k, sparse) for k in (1, 3) for sparse in (False, True)]
IDS = [f"{'binary' if k == 1 else 'k3'}-{'csr' if s else 'dense'}" for k, s in CASES]


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_matches_sklearn_newton_cholesky(k, sparse, solver, seed):
    """alpha = 1 / (C sum(sw)) is scikit-learn's C: the same coefficients,
    to rtol 1e-6, dense and CSR, binary and softmax, with sample weights."""
    X, y, sw = make_problem(seed, k, sparse=sparse)
    C = 0.5
    alpha = 1.0 / (C * sw.sum())
    train = fastlr.train if k == 1 else fastlr.train_multinomial
    res = train(X, y, solver=solver, penalty="l2", alpha=alpha, tol=EXACT,
                epochs=500, sample_weight=sw, random_state=seed)
    W, B = (res.w[None], np.array([res.b])) if k == 1 else (res.W, res.b)
    # (the default standardize="auto": standardized dense X, raw sparse X)
    W_sk, B_sk = sklearn_optimum(X, y, sw, C, not sparse)
    np.testing.assert_allclose(W, W_sk, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(B, B_sk, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("standardize", [False, "scale"])
def test_matches_sklearn_on_unstandardized_features(standardize):
    """Without centering (and without scaling), where the solver centres
    the features itself, the optimum is still scikit-learn's."""
    X, y, sw = make_problem(7, 1)
    X = X + 5.0                       # all-positive columns
    C = 2.0
    res = fastlr.train(X, y, solver="lbfgs", penalty="l2", alpha=1.0 / (C * sw.sum()),
                       tol=EXACT, epochs=1000, sample_weight=sw,
                       standardize=standardize)
    W_sk, B_sk = sklearn_optimum(X, y, sw, C, standardize)
    np.testing.assert_allclose(res.w, W_sk[0], rtol=1e-6, atol=1e-9)
    assert res.b == pytest.approx(B_sk[0], rel=1e-6)


def objective(X, y, sw, alpha, W):
    """F of raw-space weights ``W`` (k, n) without intercepts: the mean
    weighted log-loss (sigmoid for k = 1, softmax) plus alpha / 2 |W|^2."""
    Z = np.asarray(X @ W.T)
    if W.shape[0] == 1:
        loss = np.logaddexp(0.0, Z[:, 0]) - y * Z[:, 0]
    else:
        loss = np.logaddexp.reduce(Z, axis=1) - Z[np.arange(y.shape[0]), y]
    return float(sw @ loss / sw.sum() + 0.5 * alpha * np.sum(W * W))


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_no_intercept_on_offset_features_stops_at_the_optimum(k, sparse, solver):
    """Without an intercept, on features whose means are 100 times their
    spread, the objective curves 1e4 times more along the mean direction
    than along the others. The default ``tol`` (a relative decrease of
    1e-4) must still stop near the optimum, as it does with an intercept
    (there: 6e-7 binary, 3e-5 softmax on these rows): the finisher's
    coordinates make that direction an intercept (``_solver.MeanBasis``).
    Relative suboptimality of F against scikit-learn's newton-cholesky at
    tol 1e-12 on the scaled features: at most 1e-4 (2.4e-8 and 1.4e-5 with
    the coordinates; 4e-3 and 1.15, after one iteration for softmax,
    without)."""
    X, y, sw = make_problem(5, k, m=2000, n=8)
    X = X - X.mean(axis=0) + 100.0 * X.std(axis=0)
    if sparse:
        X = sp.csr_matrix(X)
    scale = as_data(X).standardization("scale", sw=sw)[1][0]
    Xs = X.multiply(1.0 / scale).tocsr() if sparse else X / scale
    alpha = 1e-3
    clf = LogisticRegression(alpha=alpha, fit_intercept=False, solver=solver,
                             max_iter=1000, random_state=0, standardize=True)
    clf.fit(X, y, sample_weight=sw)
    sk = SKLogisticRegression(C=1.0 / (alpha * sw.sum()), fit_intercept=False,
                              solver="newton-cholesky", tol=1e-12, max_iter=1000)
    sk.fit(Xs, y, sample_weight=sw)
    best = objective(Xs, y, sw, alpha, sk.coef_)
    assert objective(Xs, y, sw, alpha, clf.coef_ * scale) - best <= 1e-4 * best


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_no_intercept_on_raw_features_of_far_apart_scales_stops_at_the_optimum(
        k, sparse, solver):
    """Without an intercept and without standardization, on centred columns
    of scales 1e-3 to 1e3: the mean direction is measured in units of each
    feature's spread, so the sampling noise of the widest column's mean
    (10 in raw units here) no longer takes the finisher into
    :class:`MeanBasis`'s coordinates, where no preconditioner was applied:
    the default ``tol`` stopped 2-11% above the optimum (probabilities up
    to 0.59 off). Relative suboptimality of F against scikit-learn's
    newton-cholesky at tol 1e-12 on the same raw features: at most 1e-4
    (1.4e-7 binary dense now)."""
    rng = np.random.default_rng(3)
    m, n = 3000, 8
    Z = rng.normal(size=(m, n))
    if k == 1:
        y = (Z @ rng.normal(size=n) + rng.logistic(size=m) > 0).astype(np.int64)
    else:
        y = (Z @ rng.normal(size=(n, k)) + rng.gumbel(size=(m, k))).argmax(axis=1)
    # column means of a hundredth of the spread: 10 for the widest column
    X = (Z + 0.01) * np.logspace(-3, 3, n)
    if sparse:
        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.5, X, 0.0))
    sw = np.ones(m)
    alpha = 1e-4
    clf = LogisticRegression(alpha=alpha, fit_intercept=False, standardize=False,
                             solver=solver, random_state=0).fit(X, y)
    sk = SKLogisticRegression(C=1.0 / (alpha * m), fit_intercept=False,
                              solver="newton-cholesky", tol=1e-12,
                              max_iter=1000).fit(X, y)
    best = objective(X, y, sw, alpha, sk.coef_)
    assert objective(X, y, sw, alpha, clf.coef_) - best <= 1e-4 * best


def test_mean_basis_is_a_symmetric_change_of_coordinates():
    """``T`` and ``T^-1`` invert each other, ``T`` is symmetric (so the
    gradient in the new coordinates is ``T`` of the old one), ``T c`` is
    ``c / |c|`` (the mean direction's coordinate is the mean logit), and
    means of length at most 1 keep the identity."""
    from fastlr._solver import MeanBasis

    rng = np.random.default_rng(0)
    c = rng.normal(size=6) * 30.0
    basis = MeanBasis.of(c)
    Y = rng.normal(size=(3, 6))
    np.testing.assert_allclose(basis.from_w(basis.to_w(Y)), Y, rtol=0, atol=1e-12)
    T = basis.to_w(np.eye(6))
    np.testing.assert_allclose(T, T.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(T @ c, c / np.linalg.norm(c), rtol=1e-12)
    assert MeanBasis.of(c / np.linalg.norm(c)) is None
    assert MeanBasis.of(np.zeros(6)) is None
    assert MeanBasis.of(np.full(6, np.inf)) is None
    # with the features' spreads r: W = T(Y) / r, its inverse, the gradient
    # map T(G / r) (the adjoint of Y -> W), and the length of c / r decides
    r = rng.uniform(0.1, 10.0, size=6)
    basis = MeanBasis.of(c, r)
    np.testing.assert_allclose(basis.from_w(basis.to_w(Y)), Y, rtol=0, atol=1e-12)
    G = rng.normal(size=(3, 6))
    np.testing.assert_allclose(np.sum(G * basis.to_w(Y)), np.sum(basis.gradient(G) * Y),
                               rtol=1e-12)
    assert MeanBasis.of(c, 100.0 * np.abs(c)) is None
    assert MeanBasis.of(c, np.ones(6)).r is None


def test_estimator_matches_sklearn_pipeline():
    """The estimator with alpha = 1 / (C n) is scikit-learn's
    StandardScaler + LogisticRegression(C)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _ = make_problem(3, 3, m=400)
    pipe = make_pipeline(StandardScaler(), SKLogisticRegression(
        C=1.0, solver="newton-cholesky", tol=1e-12)).fit(X, y)
    clf = LogisticRegression(alpha=1.0 / X.shape[0], tol=EXACT).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), pipe.predict_proba(X),
                               rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet", None])
@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_reference_twin_agrees(k, sparse, solver, penalty):
    """fastlr.reference runs the same solver on its NumPy loss and gradient:
    the same model to 1e-10, every penalty.

    One exception: the softmax model with an L1 term (l1, elastic net),
    whose objective is curved only by the penalty along the direction that
    adds a constant to every class's weight of a feature: the two runs stop
    within 5e-10 of each other here (7e-8 while OWL-QN zeroed the direction
    of every weight whose sign disagreed with the pseudo-gradient, and
    converged only linearly along it)."""
    X, y, sw = make_problem(11, k, m=400, sparse=sparse)
    train = "train" if k == 1 else "train_multinomial"
    kw = dict(solver=solver, penalty=penalty, alpha=0.01, tol=EXACT,
              epochs=1000, sample_weight=sw, random_state=2,
              l1_ratio=0.5 if penalty == "elasticnet" else 0.15)
    a = getattr(fastlr, train)(X, y, **kw)
    b = getattr(reference, train)(X, y, **kw)
    tol = 1e-8 if (k > 1 and penalty in ("l1", "elasticnet")) else 1e-10
    for u, v in zip(a[:2], b[:2], strict=True):
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_reference_twin_agrees_without_intercept_on_offset_features(k, sparse, solver):
    """The twin takes the same coordinates without an intercept
    (``mean_direction``) and finds the same model to 1e-10."""
    X, y, sw = make_problem(12, k, m=400, sparse=False)
    X = X + 50.0 * X.std(axis=0)
    if sparse:
        X = sp.csr_matrix(X)
    train = "train" if k == 1 else "train_multinomial"
    kw = dict(solver=solver, penalty="l2", alpha=0.01, tol=EXACT, epochs=1000,
              sample_weight=sw, random_state=2, fit_intercept=False)
    a = getattr(fastlr, train)(X, y, **kw)
    b = getattr(reference, train)(X, y, **kw)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-10, atol=1e-10)


def test_l1_matches_sklearn_saga_and_zeroes_weights():
    """OWL-QN: the L1 optimum of scikit-learn's saga (run to 1e-10), with
    the same weights exactly zero."""
    X, y, _ = make_problem(5, 1, m=400, n=8)
    X[:, 5:] = np.random.default_rng(0).normal(size=(400, 3))   # pure noise
    alpha = 0.02
    res = fastlr.train(X, y, solver="lbfgs", penalty="l1", alpha=alpha, tol=EXACT,
                       epochs=2000)
    mean, scale = (a[0] for a in as_data(X).standardization(True))
    sk = SKLogisticRegression(C=1.0 / (alpha * X.shape[0]), l1_ratio=1.0,
                              solver="saga", tol=1e-10, max_iter=100_000).fit(
        (X - mean) / scale, y)
    np.testing.assert_allclose(res.w * scale, sk.coef_[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(res.w == 0.0, np.abs(sk.coef_[0]) < 1e-8)
    assert (res.w == 0.0).any()


@pytest.mark.parametrize("penalty", ["elasticnet", "l1"])
def test_l1_terms_converge_as_fast_as_l2_to_saga_s_optimum(penalty):
    """OWL-QN zeroes the direction of a weight at zero that would leave
    the orthant of its pseudo-gradient, and only those: zeroing every
    coordinate that disagreed in sign (Andrew and Gao's rule) cost the free
    weights their curvature, and an elastic net on this problem took 562
    passes and stopped 3e-6 from saga's optimum with ``tol=1e-20`` (27
    passes and 7e-11 now; L1 alone 275 passes, now 50)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 10, random_state=0)
    l1_ratio = 0.15 if penalty == "elasticnet" else 1.0
    clf = LogisticRegression(penalty=penalty, alpha=1e-3, tol=EXACT).fit(X, y)  # 0.15
    mean, scale = (a[0] for a in as_data(X).standardization(True))
    sk = SKLogisticRegression(C=1.0 / (1e-3 * X.shape[0]), l1_ratio=l1_ratio,
                              solver="saga", tol=1e-15, max_iter=500_000).fit(
        (X - mean) / scale, y)
    assert clf.n_iter_ <= 60
    np.testing.assert_allclose(clf.coef_[0] * scale, sk.coef_[0], rtol=0,
                               atol=1e-9 * np.abs(sk.coef_).max())
    np.testing.assert_array_equal(clf.coef_[0] == 0.0, sk.coef_[0] == 0.0)


def _l1_stationarity(Z, y, sw, W, B, alpha):
    """The largest component of the minimum-norm subgradient of the mean
    (weighted) log-loss plus ``alpha |W|_1`` at standardized weights ``W``
    (k, n) (k = 1: the binary model) and intercepts ``B``, on features
    ``Z``; 0 at the optimum."""
    from scipy.special import expit, softmax

    L = Z @ W.T + B
    if W.shape[0] == 1:
        R = expit(L) - y[:, None]
    else:
        R = softmax(L, axis=1)
        R[np.arange(len(y)), y] -= 1.0
    R *= (sw / sw.sum())[:, None]
    G = R.T @ Z
    pg = np.where(W > 0, G + alpha, np.where(W < 0, G - alpha,
                  np.sign(G) * np.maximum(np.abs(G) - alpha, 0.0)))
    return max(np.abs(pg).max(), np.abs(R.sum(axis=0)).max() if B.any() else 0.0)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_l1_on_nearly_collinear_columns_reaches_the_optimum(mod):
    """Two pairs of columns that differ by noise of 2e-4: constraining only
    the weights at zero, a weight followed its partner uphill into a step
    the projection cut at zero, the steps stopped ever shorter of that
    zero, and the run stalled with a pseudo-gradient of 1.4e-4 (1e-3 from
    saga's coefficients). Now a step that stops short of a zero its unit
    step crosses makes the next direction respect every sign."""
    rng = np.random.default_rng(2)
    m, n = 200, 6
    X = rng.normal(size=(m, n))
    eps = 10 ** rng.uniform(-4, -1)
    X[:, 1] = X[:, 0] + eps * rng.normal(size=m)
    X[:, 3] = X[:, 2] + eps * rng.normal(size=m)
    y = (X @ rng.normal(size=n) + rng.logistic(size=m) > 0).astype(int)
    res = mod.train(X, y, solver="lbfgs", penalty="l1", alpha=1e-3, tol=EXACT,
                    epochs=3000)
    mean, sd = X.mean(axis=0), X.std(axis=0)
    w = res.w * sd
    assert _l1_stationarity((X - mean) / sd, y, np.ones(m), w[None],
                            np.array([res.b + res.w @ mean]), 1e-3) < 1e-9
    assert (w == 0.0).sum() == 2


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
def test_l1_in_a_flat_valley_does_not_stop_on_its_first_small_decreases(solver):
    """L1 on 3,000 x 30 standardized columns, five of them near-copies
    (noise 1e-3) of five others: moving weight from a column to its copy
    leaves the penalty flat and curves the loss by about 1e-6. The
    decreases fell below tol before the curvature pairs knew that
    direction, and the run stopped there: tol=1e-8 returned the tol=1e-4
    model (``lbfgs``: 1.6e-4 of relative suboptimality after 12 passes;
    ``auto``: 1.8e-5), reported converged. Holding the test for two
    iterations, and the gain along the flattest direction seen, take it to
    6e-8 and 3e-9 (about 200 passes; tol=None: 250-290)."""
    rng = np.random.default_rng(0)
    m, n = 3000, 30
    X = rng.standard_normal((m, n))
    w = np.zeros(n)
    w[:5] = rng.standard_normal(5) * 2
    X[:, 5:10] = X[:, :5] + 1e-3 * rng.standard_normal((m, 5))
    y = (X @ w + rng.logistic(size=m) > 0).astype(int)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    alpha = 1e-4

    def objective(est):
        z = X @ est.coef_[0] + est.intercept_[0]
        return float(np.mean(np.logaddexp(0.0, z) - y * z)
                     + alpha * np.abs(est.coef_).sum())

    kw = dict(penalty="l1", alpha=alpha, solver=solver, random_state=0)
    F_opt = objective(LogisticRegression(tol=None, max_iter=5000, **kw).fit(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = LogisticRegression(tol=1e-8, **kw).fit(X, y)
    assert (objective(est) - F_opt) / F_opt < 1e-6


def nearly_collinear_badly_scaled(seed=4):
    """The data of a probe's random problems: seed 4, binary, 1,073 x 21;
    seed 41, five classes, 622 x 18. The last column is the first plus
    noise of 1e-6, columns scaled by 10^-3 to 10^3; alpha 4.4e-4 and 1e-4
    (seed 4: condition 338 of the Hessian at the optimum in standardized
    space, its smallest eigenvalue alpha)."""
    rng = np.random.default_rng(100 + seed)
    m, n = int(rng.integers(60, 1500)), int(rng.integers(2, 25))
    k, sep = int(rng.choice([2, 2, 3, 5])), float(rng.choice([0.5, 2.0, 6.0]))
    alpha = float(10 ** rng.uniform(-4, -1))
    data = np.random.default_rng(seed)
    X = data.normal(size=(m, n))
    w = data.normal(size=(k if k > 2 else 1, n)) * sep
    Z = (X - X.mean(0)) / X.std(0) @ w.T + data.normal(size=(m, w.shape[0]))
    y = Z[:, 0] > 0 if k == 2 else Z.argmax(axis=1)
    rng.random()
    X[:, -1] = X[:, 0] + 1e-6 * rng.normal(size=m)
    X *= 10 ** rng.uniform(-3, 3, size=n)
    return X, y.astype(np.int64), alpha


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_a_tiny_tol_converges_past_the_rounding_of_the_objective(mod):
    """Once the objective's changes drown in its rounding (relative
    suboptimality 1e-15 here), the line search accepts a step on the
    directional derivative, accurate to the gradient's 2e-17: the run
    stopped 27 iterations in at a gradient of 3e-10, 4e-7 (relative) from
    the optimum, because it accepted only a step shrinking the gradient's
    norm, which the quasi-Newton step along the flat direction of the
    collinear pair did not, and then 5e-17 steps for 10 iterations. tol
    1e-20 promises ``sqrt(2 tol F / alpha)`` = 3.3e-9 (F 0.24, the
    smallest curvature alpha); 1e-8 leaves room for scikit-learn's own
    error, about 1e-13."""
    X, y, alpha = nearly_collinear_badly_scaled()
    res = mod.train(X, y, solver="lbfgs", penalty="l2", alpha=alpha, tol=EXACT,
                    epochs=5000)
    sw = np.ones(len(y))
    W, b = sklearn_optimum(X, y, sw, 1.0 / (alpha * len(y)), True)
    scale = as_data(X).standardization(True, sw=sw)[1][0]
    assert np.abs((res.w - W[0]) * scale).max() < 1e-8


def test_a_slow_run_below_the_objective_s_rounding_is_not_a_stall():
    """Five classes, two columns collinear to 1e-6: below F's rounding
    L-BFGS took up to 20 iterations to halve the gradient, and the stall
    rule (halve within 10) stopped the run at a gradient of 2e-10, 1e7
    times its rounding, 5e-8 (relative, standardized space) from
    scikit-learn's optimum. Now it reaches 2e-14; 1e-11 leaves room for
    the gradient's rounding, about 2e-17, over curvatures down to alpha
    1e-4."""
    X, y, alpha = nearly_collinear_badly_scaled(41)
    sw = np.ones(len(y))
    est = LogisticRegression(solver="lbfgs", penalty="l2", alpha=alpha, tol=None,
                             max_iter=5000).fit(X, y)
    W, _ = sklearn_optimum(X, y, sw, 1.0 / (alpha * len(y)), True)
    scale = as_data(X).standardization(True, sw=sw)[1][0]
    Ws = W * scale
    assert np.abs(est.coef_ * scale - Ws).max() < 1e-11 * np.abs(Ws).max()


def test_softmax_l1_on_coupled_columns_is_not_reported_converged_short_of_it():
    """Five classes, duplicated and correlated columns, no intercept,
    balanced class weights: the run crept, stalled, and reported
    convergence (no warning) with a pseudo-gradient of 8e-6, the twins
    2e-4 apart."""
    rng = np.random.default_rng(45)
    m, n, k = 200, 8, 5
    Z = rng.normal(size=(m, n))
    Z[:, 1] = Z[:, 0] + 1e-3 * rng.normal(size=m)
    Z[:, 2] = Z[:, 0]
    Z[:, 3] = 2 * Z[:, 4]
    beta = rng.normal(size=(n, k)) * (rng.uniform(size=(n, 1)) < 0.5)
    y = (Z @ beta + rng.gumbel(size=(m, k))).argmax(axis=1)
    X = Z * rng.uniform(0.5, 3, n) + rng.uniform(-2, 2, n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = LogisticRegression(solver="lbfgs", penalty="l1", alpha=1e-3, tol=EXACT,
                                 max_iter=3000, fit_intercept=False,
                                 standardize="scale", class_weight="balanced").fit(X, y)
    cls, cnt = np.unique(y, return_counts=True)
    sw = (m / (k * cnt))[np.searchsorted(cls, y)]
    sd = np.sqrt(sw @ (X - sw @ X / sw.sum()) ** 2 / sw.sum())
    assert _l1_stationarity(X / sd, y, sw, est.coef_ * sd, np.zeros(k), 1e-3) < 1e-9


def test_elastic_net_on_badly_scaled_raw_columns_reaches_the_optimum():
    """Columns spread from 1e-4 to 1e4, not standardized: the free weights'
    quasi-Newton steps stopped lowering the objective measurably, the run
    stalled with a pseudo-gradient of 2e-5 (per unit of a column's root
    mean square) and reported convergence without a warning, 9e-12 of F
    above the optimum that holding every sign reaches (Andrew and Gao's
    rule, 88 passes). A stall now holds every sign for the rest of the run
    before it may count as convergence."""
    from scipy.special import expit

    rng = np.random.default_rng(983738254)
    m, n = 200, 8
    Z = rng.normal(size=(m, n))
    beta = rng.normal(size=(n, 2))[:, 0] * (rng.uniform(size=n) < 0.6)
    y = (Z @ beta + rng.logistic(size=m) > 0).astype(int)
    spread = 10 ** rng.uniform(-4, 4, n)
    X = Z * spread + rng.uniform(-5, 5, n) * 10 ** rng.uniform(-2, 2, n)
    sw = np.random.default_rng(983738255).uniform(0.2, 3, m)
    alpha, l1_ratio = 0.003568277366956492, 0.02548025163037271
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = LogisticRegression(solver="lbfgs", penalty="elasticnet", alpha=alpha,
                                 l1_ratio=l1_ratio, tol=EXACT, max_iter=3000,
                                 standardize=False, class_weight="balanced").fit(
            X, y, sample_weight=sw)
    eff = sw * (sw.sum() / (2 * np.array([sw[y == c].sum() for c in (0, 1)])))[y]
    w, b = est.coef_[0], est.intercept_[0]
    r = eff * (expit(X @ w + b) - y) / eff.sum()
    g = X.T @ r + alpha * (1 - l1_ratio) * w
    l1 = alpha * l1_ratio
    pg = np.where(w > 0, g + l1, np.where(w < 0, g - l1,
                  np.sign(g) * np.maximum(np.abs(g) - l1, 0.0)))
    rms = np.sqrt((X * X).mean(axis=0))
    assert np.abs(pg / rms).max() < 1e-8 and abs(r.sum()) < 1e-8


def test_a_warm_up_ending_at_the_zero_model_is_kept_by_both_twins():
    """A strong L1 term without an intercept ends the warm-up epoch at the
    model 0, whose mean loss is log 2 to the rounding of its sum: the
    reference's sum rounded 4 ulps above log 2 and dropped the epoch as
    worse than the model 0, the kernels' kept it, and the two returned
    losses of different lengths (23 of 40 seeds)."""
    for seed in range(8):
        rng = np.random.default_rng(seed)
        m = int(rng.integers(20, 120))
        X = rng.normal(size=(m, 3))
        y = rng.integers(0, 2, m)
        y[:2] = [0, 1]
        kw = dict(solver="auto", penalty="l1", alpha=0.3, fit_intercept=False,
                  epochs=5, tol=1e-8, random_state=0)
        a = fastlr.train(X, y, **kw)
        b = reference.train(X, y, **kw)
        assert a.losses.shape == b.losses.shape == (1,)
        np.testing.assert_array_equal(a.w, b.w)


def test_float32_reaches_the_float64_optimum():
    X, y, sw = make_problem(2, 1, m=500)
    kw = dict(solver="lbfgs", penalty="l2", alpha=0.01, tol=EXACT, epochs=500,
              sample_weight=sw)
    a = fastlr.train(X.astype(np.float32), y, **kw)
    b = fastlr.train(X.astype(np.float32).astype(np.float64), y, **kw)
    assert a.w.dtype == np.float32
    np.testing.assert_allclose(a.w, b.w, rtol=1e-6)


def test_any_thread_count_gives_the_same_model(monkeypatch):
    from fastlr import _dispatch

    monkeypatch.setattr(_dispatch, "BLOCK_ELEMENTS", 256)   # many blocks
    X, y, sw = make_problem(4, 3, m=2000, n=6)
    kw = dict(solver="auto", penalty="l2", alpha=1e-3, tol=1e-12, epochs=300,
              sample_weight=sw, random_state=0)
    one = fastlr.train_multinomial(X, y, n_threads=1, **kw)
    two = fastlr.train_multinomial(X, y, n_threads=2, **kw)
    np.testing.assert_array_equal(one.W, two.W)
    np.testing.assert_array_equal(one.losses, two.losses)


@pytest.mark.parametrize("n_threads", [None, 2], ids=["default", "given"])
def test_auto_warm_up_threads(monkeypatch, n_threads):
    """The warm-up epoch of "auto" runs on ``n_threads`` like every epoch
    (the team leaves threads that mostly wait: see
    ``fastlr._kernels.team.RETIRE_CYCLES``); the model does not depend on it."""
    from fastlr import _train

    X, y, _ = make_problem(5, 1, m=3000, n=8)
    kw = dict(solver="auto", alpha=1e-3, epochs=20, batch_size=256, random_state=0)
    base = fastlr.train(X, y, n_threads=1, **kw)
    seen = []
    real = _train.sgd

    def spy(*args, **kwargs):
        seen.append(kwargs["n_threads"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_train, "sgd", spy)
    res = fastlr.train(X, y, n_threads=n_threads, **kw)
    assert seen == [n_threads]
    np.testing.assert_array_equal(res.w, base.w)
    np.testing.assert_array_equal(res.losses, base.losses)


def test_auto_beats_sgd_noise_and_stops_on_tol():
    """The default estimator reaches the optimum where SGD stops on its noise
    floor; losses are SGD's epoch, then one per iteration."""
    X, y, _ = make_problem(8, 1, m=3000, n=10)
    alpha = 1.0 / X.shape[0]
    exact = LogisticRegression(alpha=alpha, tol=EXACT, solver="lbfgs").fit(X, y)
    auto = LogisticRegression(alpha=alpha, random_state=0).fit(X, y)
    sgd = LogisticRegression(alpha=alpha, solver="sgd", random_state=0).fit(X, y)
    err = {name: np.abs(c.coef_ - exact.coef_).max() / np.abs(exact.coef_).max()
           for name, c in (("auto", auto), ("sgd", sgd))}
    assert err["auto"] < 1e-3 < err["sgd"]
    assert auto.solver_ == "auto" and auto.n_iter_ == auto.n_solver_iter_ + 1
    assert auto.loss_curve_.shape == (auto.n_iter_,)
    assert auto.n_iter_ < 100
    assert sgd.n_solver_iter_ == 0


def test_early_stopping_makes_auto_plain_sgd():
    X, y, _ = make_problem(9, 1, m=500)
    clf = LogisticRegression(early_stopping=True, random_state=0).fit(X, y)
    assert clf.solver_ == "sgd" and clf.n_solver_iter_ == 0
    with pytest.raises(ValueError, match="early_stopping.*solver='lbfgs'"):
        LogisticRegression(early_stopping=True, solver="lbfgs").fit(X, y)


def test_warm_start_at_the_optimum_stays_there():
    X, y, _ = make_problem(10, 1, m=500)
    clf = LogisticRegression(tol=EXACT, warm_start=True, random_state=0).fit(X, y)
    coef = clf.coef_.copy()
    clf.fit(X, y)
    assert clf.n_iter_ == clf.n_solver_iter_   # no SGD epoch on a warm start
    np.testing.assert_allclose(clf.coef_, coef, rtol=1e-7)


def test_diverging_warm_up_is_dropped():
    """A learning rate that makes SGD diverge does not matter to "auto"."""
    X, y, _ = make_problem(12, 1, m=400)
    X = X * 1e3
    with pytest.raises(fastlr.DivergedError):
        fastlr.train(X, y, lr=1e6, standardize=False, solver="sgd")
    a = fastlr.train(X, y, lr=1e6, standardize=False, solver="auto", alpha=0.1,
                     penalty="l2", tol=EXACT, epochs=2000)
    b = fastlr.train(X, y, standardize=False, solver="lbfgs", alpha=0.1,
                     penalty="l2", tol=EXACT, epochs=2000)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-6)
    r = reference.train(X, y, lr=1e6, standardize=False, solver="auto", alpha=0.1,
                        penalty="l2", tol=EXACT, epochs=2000)
    np.testing.assert_allclose(r.w, b.w, rtol=1e-6)


# --------------------------------------------------------------------------
# out of iterations: a warning and the best iterate


def test_max_iter_warns_and_keeps_a_finite_model():
    """Separable classes without a penalty have no optimum: the solver runs
    out of max_iter, warns, and returns its last (best) iterate."""
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(ConvergenceWarning, match="max_iter=30.*best one seen"):
        clf = LogisticRegression(penalty=None, solver="lbfgs", max_iter=30,
                                 tol=1e-10).fit(X, y)
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert clf.n_iter_ == 30
    assert np.all(np.diff(clf.loss_curve_) <= 0)   # every step went downhill
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(penalty=None, solver="lbfgs", max_iter=30,
                           tol=None).fit(X, y)   # tol=None: asked for 30 passes


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("solver", ["newton", "", None, 1, "LBFGS"])
def test_unknown_solver_is_refused(solver):
    X, y, _ = make_problem(0, 1, m=50)
    for call in (lambda: fastlr.train(X, y, solver=solver),
                 lambda: fastlr.train_multinomial(X, y, solver=solver),
                 lambda: reference.train(X, y, solver=solver),
                 lambda: LogisticRegression(solver=solver).fit(X, y)):
        with pytest.raises(ValueError, match="solver must be one of"):
            call()


def test_scikit_learns_solver_names_say_what_to_use():
    """solver="saga" (or another of scikit-learn's) is refused with a hint
    at the solvers that reach the same optimum."""
    X, y, _ = make_problem(0, 1, m=50)
    with pytest.raises(ValueError, match="'lbfgs' and 'auto' reach"):
        LogisticRegression(solver="saga").fit(X, y)


@pytest.mark.parametrize("tol, error", [(0.0, ValueError), (-1e-3, ValueError),
                                        (math.nan, ValueError),
                                        (math.inf, ValueError), ("1", TypeError)])
@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
def test_bad_tol_is_refused(solver, tol, error):
    X, y, _ = make_problem(0, 1, m=50)
    with pytest.raises(error, match="tol"):
        fastlr.train(X, y, solver=solver, tol=tol)
    with pytest.raises(error, match="tol"):
        LogisticRegression(solver=solver, tol=tol).fit(X, y)


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
def test_bad_penalty_and_bad_input_change_nothing(solver):
    """A penalty no solver knows is refused naming ``penalty``; a refused
    refit leaves the fitted model as it was."""
    X, y, _ = make_problem(0, 1, m=80)
    with pytest.raises(ValueError, match="penalty"):
        fastlr.train(X, y, solver=solver, penalty="l3")
    clf = LogisticRegression(solver=solver, random_state=0).fit(X, y)
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()
    for bad in (dict(solver="newton"), dict(tol=math.nan), dict(penalty="l3")):
        with pytest.raises(ValueError, match=next(iter(bad))):
            clf.set_params(**bad).fit(X, y)
        clf.set_params(solver=solver, tol=1e-4, penalty="l2")
        np.testing.assert_array_equal(clf.coef_, coef)
        np.testing.assert_array_equal(clf.intercept_, intercept)


def test_sgd_keeps_its_tol_rules():
    """tol=0 has a meaning for SGD (any improvement counts), and none for
    the solver's relative decrease."""
    X, y, _ = make_problem(0, 1, m=50)
    fastlr.train(X, y, solver="sgd", tol=0.0, epochs=3)
    with pytest.raises(ValueError, match="tol must be > 0 with solver='lbfgs'"):
        fastlr.train(X, y, solver="lbfgs", tol=0.0)


def test_cli_solver_option(tmp_path, capsys):
    X, y, _ = make_problem(1, 1, m=120)
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y)
    code = cli.main(["train", str(path), "--solver", "lbfgs", "--tol", "1e-10",
                     "--model", str(tmp_path / "m.npz"), "-q"])
    out = capsys.readouterr().out
    assert code == 0
    assert "0 SGD epochs + " in out and "converged" in out
    assert fastlr.load(tmp_path / "m.npz").solver == "lbfgs"
    with pytest.raises(SystemExit):
        cli.main(["train", str(path), "--solver", "newton"])
    assert "invalid choice: 'newton'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:   # a usage error, naming the option
        cli.main(["train", str(path), "--solver", "lbfgs", "--tol", "0", "-q"])
    assert exc.value.code == 2
    assert "argument --tol: must be > 0 with --solver lbfgs" in capsys.readouterr().err


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
def test_rows_solve_the_objective_of_those_rows(solver):
    """``rows`` with the solver: the optimum over those rows, as training
    on the rows alone gives it (the others weigh 0), and the twin agrees."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 4)) + [0.0, 2.0, -1.0, 0.5]
    y = (X[:, 0] - X[:, 2] + rng.normal(size=400) > 1.0).astype(int)
    rows = np.arange(0, 400, 3)
    kw = dict(solver=solver, penalty="l2", alpha=0.01, tol=EXACT, epochs=500,
              random_state=0)
    a = fastlr.train(X, y, rows=rows, **kw)
    r = reference.train(X, y, rows=rows, **kw)
    alone = fastlr.train(X[rows], y[rows], solver="lbfgs", penalty="l2", alpha=0.01,
                         tol=EXACT, epochs=500)
    np.testing.assert_allclose(a.w, alone.w, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a.b, alone.b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(r.w, a.w, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------
# the first step along a new direction, from the curvature sample


@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_curvature_sample_is_the_second_derivative_of_its_loss(k, sparse):
    """CurvatureSample.along equals the second difference of the sample's
    weighted mean loss along the direction (to 1e-6 relative: central
    differences with step 1e-4 of a smooth function, error O(h^2))."""
    from fastlr._solver import CurvatureSample

    X, y, sw = make_problem(3, k, m=500, sparse=sparse)
    rng = np.random.default_rng(1)
    kk, n = max(k, 1), X.shape[1]
    center, scale = rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)
    W, B = rng.normal(size=(kk, n)) * 0.3, rng.normal(size=kk) * 0.3
    dW, dB = rng.normal(size=(kk, n)), rng.normal(size=kk)
    sample = CurvatureSample.of(X, y, sw)

    def mean_loss(t):
        loss, _, _ = reference.loss_grad(sample.X, sample.y, sample.w, center, scale,
                                         W + t * dW, B + t * dB, k > 1)
        return loss / sample.w.sum()

    h = 1e-4
    second = (mean_loss(h) - 2.0 * mean_loss(0.0) + mean_loss(-h)) / h ** 2
    got = sample.along(center, scale, W, B, dW, dB, softmax=k > 1)
    assert got == pytest.approx(second, rel=1e-6)


@pytest.fixture
def loss_passes(monkeypatch):
    """A list that grows by one at each ``Data.loss_grad`` (a pass over X)."""
    from fastlr._dispatch import Data

    calls = []
    original = Data.loss_grad

    def counting(self, *args, **kw):
        calls.append(1)
        return original(self, *args, **kw)

    monkeypatch.setattr(Data, "loss_grad", counting)
    return calls


@pytest.mark.parametrize("solver, passes", [("lbfgs", 2), ("auto", 2)])
@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_first_iteration_reads_the_data_twice(k, sparse, solver, passes, loss_passes):
    """The first L-BFGS iteration evaluates the loss at its start and at one
    trial point: the curvature sample's step is the quadratic model's
    minimizer along the direction, so neither a longer nor a shorter trial
    is needed (without the sample it took three passes: a unit step, then
    the extrapolated one). ``auto`` spends its first pass on SGD."""
    X, y, sw = make_problem(4, k, m=2000, sparse=sparse)
    train = fastlr.train if k == 1 else fastlr.train_multinomial
    epochs = 1 if solver == "lbfgs" else 2
    train(X, y, solver=solver, penalty="l2", alpha=1e-3, tol=None, epochs=epochs,
          sample_weight=sw, random_state=0, batch_size=64)
    assert len(loss_passes) == passes


@pytest.mark.parametrize("k, sparse", CASES, ids=IDS)
def test_no_intercept_start_is_evaluated_once(k, sparse, loss_passes):
    """Without an intercept, on offset features, the finisher runs in the
    coordinates of ``MeanBasis``; mapping the warm-up's model there and
    back changed it by rounding, so ``auto`` missed the evaluation it had
    made at that model and read the data once more: 3 loss passes here
    instead of 2 (the start, and the first iteration's trial point)."""
    X, y, sw = make_problem(4, k, m=2000)
    # offset enough for the basis (|mean| > 1 in scaled units), not so much
    # that the SGD warm-up ends worse than the zero model and is dropped
    X = X - X.mean(axis=0) + 3.0 * X.std(axis=0)
    if sparse:
        X = sp.csr_matrix(X)
    train = fastlr.train if k == 1 else fastlr.train_multinomial
    train(X, y, solver="auto", penalty="l2", alpha=1e-3, tol=None, epochs=2,
          sample_weight=sw, random_state=0, batch_size=64, fit_intercept=False)
    assert len(loss_passes) == 2


def test_lockstep_runs_are_each_run_alone():
    """``_lbfgs.minimize_many`` advances several L-BFGS / OWL-QN runs in
    lockstep, evaluating their trial points together; each run is exactly
    (bit for bit) the run ``minimize`` makes of its objective alone,
    whatever the others do (here they stop after different iterations)."""
    from fastlr import _lbfgs

    rng = np.random.default_rng(0)
    d = 8
    mats = []
    for i in range(4):
        A = rng.normal(size=(d, d))
        mats.append((A @ A.T + (0.01 + i) * np.eye(d), rng.normal(size=d)))

    def f(i, x):
        H, c = mats[i]
        return 0.5 * float(x @ H @ x) - float(c @ x), H @ x - c

    l1s = [0.0, 0.3, 0.0, 0.05]
    x0s = [rng.normal(size=d) for _ in mats]
    calls = []

    def together(ids, xs):
        calls.append(list(ids))
        return [f(i, x) for i, x in zip(ids, xs, strict=True)]

    runs = _lbfgs.minimize_many(together, x0s, tol=1e-9, max_iter=200, l1s=l1s)
    for i, run in enumerate(runs):
        alone = _lbfgs.minimize(lambda x, i=i: f(i, x), x0s[i], tol=1e-9,
                                max_iter=200, l1=l1s[i])
        np.testing.assert_array_equal(run.x, alone.x)
        assert (run.f, run.n_iter, run.converged) == (alone.f, alone.n_iter,
                                                      alone.converged)
    # a run that has stopped is no longer evaluated
    assert len({len(c) for c in calls}) > 1 and calls[0] == [0, 1, 2, 3]


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("alpha", [1e3, 1e6])
def test_a_strong_penalty_still_finds_the_intercept(k, solver, alpha):
    """Under a strong L2 penalty the optimum is W ~ 0 and the unpenalized
    intercepts at the classes' log-odds. The quasi-Newton model, scaled by
    the weights' curvature, predicted the intercepts' way down to be tiny
    and the run stopped after one iteration at B ~ 0, with no warning. The
    run now goes on while a step on the intercepts alone (curvature at most
    1/4, or 1/2 for softmax) would lower F by more than tol F."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5))
    y = rng.choice(k, size=200, p=[0.6, 0.4] if k == 2 else [0.5, 0.3, 0.2])
    prior = np.bincount(y) / y.shape[0]
    want = np.log(prior[1] / prior[0]) if k == 2 else np.log(prior) - np.log(prior).mean()
    # tol=1e-8: close; the default tol=1e-4 (F within about 1e-4): near
    # (it stopped at B = 0, 0.4 to 1.2 away)
    for tol, atol in ((1e-8, 1e-3), (1e-4, 0.03)):
        clf = LogisticRegression(alpha=alpha, solver=solver, tol=tol,
                                 random_state=0).fit(X, y)
        np.testing.assert_allclose(clf.intercept_, np.atleast_1d(want), atol=atol)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet", "l2"])
@pytest.mark.parametrize("standardize", [True, False])
def test_softmax_intercepts_are_centred_with_any_penalty(penalty, standardize):
    """README and train_multinomial promise softmax intercepts that sum to
    0 (scikit-learn's convention). With an L1 part the move back from the
    solver's centred coordinates shifted each class by ``W[c] . shift``,
    which does not sum to 0 when W's columns do not: the intercepts summed
    to -2.6 (probabilities were right). Now centred on every solver path,
    kernels and twin alike."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)) * [1, 2, 3, 4] + [5, -3, 10, 0]
    y = rng.integers(0, 3, 300)
    kw = dict(solver="lbfgs", penalty=penalty, alpha=1e-2, standardize=standardize)
    fits = {
        "train_multinomial": fastlr.train_multinomial(X, y, **kw).b,
        "reference": reference.train_multinomial(X, y, **kw).b,
        "estimator": fastlr.LogisticRegression(**kw).fit(X, y).intercept_,
        "train_many": fastlr.train_many(X, y, alphas=[1e-2, 1e-1], folds=2,
                                        **{k: v for k, v in kw.items()
                                           if k != "alpha"}).b,
        "reference.train_many": reference.train_many(
            X, y, alphas=[1e-2, 1e-1], folds=2,
            **{k: v for k, v in kw.items() if k != "alpha"}).b,
    }
    for name, b in fits.items():
        np.testing.assert_allclose(np.sum(b, axis=-1), 0.0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(fits["train_multinomial"], fits["reference"],
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("how", ["sample_weight", "lr"])
@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_auto_drops_a_warm_up_that_ends_worse_than_zero(mod, how):
    """solver="auto" with a uniform sample weight of 1e10 (the objective
    does not change) or lr=1e8: the warm-up epoch did not overflow, so it
    was kept, and ended at F ~ 1e6, where the finisher's relative-decrease
    test held after two iterations: intercept -2.5e6, accuracy 0.53, no
    warning. A warm-up that ends worse than the model 0 (log 2) is now
    dropped like a diverging one, and the run reaches the optimum."""
    rng = np.random.default_rng(0)
    m = 120
    X = rng.normal(size=(m, 4))
    y = (X[:, 0] + rng.logistic(size=m) > 0).astype(int)
    opt = mod.train(X, y, solver="lbfgs", alpha=1e-2)
    kw = ({"sample_weight": np.full(m, 1e10)} if how == "sample_weight"
          else {"lr": 1e8})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mod.train(X, y, solver="auto", alpha=1e-2, epochs=100, random_state=0,
                        **kw)
    np.testing.assert_allclose(res.w, opt.w, atol=1e-6)
    assert abs(res.b - opt.b) < 1e-6


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_auto_callback_reports_the_passes_losses_counts(mod):
    """The callback is called once per entry of ``losses``, numbered from 1
    as they count, whether the warm-up is kept (lr=0.01) or dropped (lr=1e8:
    it ends worse than the zero model). A dropped warm-up had already been
    reported as epoch 1, and the solver's passes were numbered from 1
    again: epoch 1 twice, one call more than ``losses`` has entries (the
    estimator's progress bar is this callback)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + rng.logistic(size=120) > 0).astype(int)
    for lr in (0.01, 1e8):
        calls = []
        res = mod.train(X, y, solver="auto", alpha=1e-2, epochs=100, random_state=0,
                        lr=lr, callback=lambda *call, calls=calls: calls.append(call))
        assert [epoch for epoch, _ in calls] == list(range(1, len(res.losses) + 1))
        assert [loss for _, loss in calls] == res.losses.tolist()


def test_a_line_search_that_cannot_start_is_not_convergence():
    """Features near 1e160 without standardization (their squares, and so
    the preconditioner's curvature bounds, overflow float64) overflow
    every trial point of the first line search: L-BFGS returned the zero
    model as converged (n_iter_ 0, accuracy 0.49, no warning; scikit-learn
    warns). A failed line search where the gradient promises a decrease is
    now a failure, and the estimator says what stopped it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * 1e160
    y = (X[:, 0] + 1e160 * rng.logistic(size=200) > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match=r"stopped after 0 of max_iter=100 "
                                                r"passes: no step lowered"):
        LogisticRegression(solver="lbfgs", standardize=False, max_iter=100).fit(X, y)
    # standardized, the same data trains without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = LogisticRegression(solver="lbfgs").fit(X, y)
    assert clf.score(X, y) > 0.6


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_features_near_1e80_train_without_standardization(mod):
    """Features near 1e80 without standardization: every weight's
    curvature is 1e160 times the intercept's, and the first line search
    overflowed at every trial point (the zero model and a warning). The
    diagonal preconditioner scales each coordinate by its curvature bound:
    the fit now converges, to the probabilities of the standardized fit of
    the same data (whose weak penalty weighs next to nothing either way)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.logistic(size=200) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = mod.train(X * 1e80, y, solver="lbfgs", standardize=False, alpha=1e-6,
                        epochs=100, tol=1e-4)
        std = mod.train(X, y, solver="lbfgs", standardize=False, alpha=1e-6,
                        epochs=100, tol=None)
    assert 0 < len(res.losses) < 10
    np.testing.assert_allclose(mod.predict_proba(X * 1e80, res.w, res.b),
                               mod.predict_proba(X, std.w, std.b), atol=1e-3)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_raw_features_stop_within_tol_of_the_optimum(mod, penalty):
    """scikit-learn's wine data without standardization (columns from 0.1
    to 1,680): with the default tol=1e-4, L-BFGS stopped at 1.2-4.3e-2 of
    relative suboptimality (100-400 times tol) after 100-160 passes, with no
    warning: its model, scaled for the steep columns, predicted next to no
    decrease along the flat ones. Preconditioned by each column's curvature
    bound it stops within a few times tol (0.6-4x measured) in 20-45
    passes. The optimum: L2, scikit-learn's newton-cholesky at C = 1 /
    (alpha m); L1, this solver run to tol=None (no scikit-learn solver
    reaches it on raw wine: saga's steps are sized by the largest column)."""
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    m = X.shape[0]
    alpha = 1e-2

    def objective(W, b):
        Z = X @ W.T + b
        Z -= Z.max(axis=1, keepdims=True)
        loss = np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(m), y]
        pen = 0.5 * alpha * (W * W).sum() if penalty == "l2" else alpha * np.abs(W).sum()
        return loss.mean() + pen

    kw = dict(standardize=False, penalty=penalty, alpha=alpha, solver="lbfgs")
    if penalty == "l2":
        best = SKLogisticRegression(C=1.0 / (alpha * m), solver="newton-cholesky",
                                    tol=1e-12, max_iter=1000).fit(X, y)
        F_opt = objective(best.coef_, best.intercept_)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            best = mod.train_multinomial(X, y, tol=None, epochs=3000, **kw)
        F_opt = objective(best.W, best.b)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = mod.train_multinomial(X, y, epochs=1000, tol=1e-4, **kw)
    assert len(res.losses) < 100
    assert (objective(res.W, res.b) - F_opt) / F_opt < 10 * 1e-4


def test_the_bounds_follow_the_standardization_alone():
    """The curvature bounds come with every model on features the
    standardization does not centre (``standardize=False`` or "scale"),
    whatever its intercept and penalty, and never on centred ones: they
    came only where the centring or the mean direction had read the column
    statistics, so an L1 model without an intercept on raw features (wine:
    113% above the optimum, probabilities 0.61 off) was not preconditioned,
    and in a grid mixing l1_ratio 0 and > 0 its neighbours decided whether
    it was (the same model on another path than alone)."""
    from fastlr._solver import solver_coordinates

    mean0, scale = np.zeros(3), np.array([1.0, 2.0, 3.0])

    def stats():
        return np.array([1.0, 50.0, 0.0]), np.array([1.0, 1.0, 1e-3])

    for fit_intercept in (True, False):
        for l1 in (0.0, 1e-2, np.array([0.0, 1e-2])):
            _, _, bound, _ = solver_coordinates(mean0, scale, fit_intercept, l1, stats)
            assert bound is not None
            _, _, bound, _ = solver_coordinates(np.ones(3), scale, fit_intercept, l1,
                                             stats)
            assert bound is None


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_separable_raw_features_without_a_penalty_do_not_divide_by_zero(mod):
    """penalty=None on wine's raw columns (separable: the weights run off):
    the preconditioned scale ``s.y / (y . diag y)`` divided by a ``y . diag
    y`` that underflowed to 0 (ZeroDivisionError), where ``y . y`` did
    not; such a pair is now dropped as one without curvature."""
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = mod.train_multinomial(X, y, standardize=False, solver="lbfgs",
                                    epochs=1000)
    assert np.isfinite(res.W).all()
    assert (res.classes[(X @ res.W.T + res.b).argmax(axis=1)] == y).mean() == 1.0


def test_preconditioner_only_for_features_on_scales_far_apart():
    """The preconditioner (one entry per weight, then the intercepts'): none
    for standardized features (every curvature bound 1/4), whatever the
    penalty; the inverse of each weight's bound plus the L2 strength, and
    4 for each intercept, once the bounds spread over more than
    PRECONDITION_SPREAD; none where a bound overflowed."""
    from fastlr._solver import PRECONDITION_SPREAD, preconditioner

    assert preconditioner(np.full(3, 0.25), 1e3, 2, True) is None
    spread = np.array([0.25, 0.25 * PRECONDITION_SPREAD * 2, 0.0])
    h = preconditioner(spread, 0.5, 2, True)
    one = 1.0 / (spread + 0.5)
    np.testing.assert_array_equal(h, np.concatenate([one, one, [4.0, 4.0]]))
    # a bound of 0 without a penalty (a constant column): a finite entry
    assert np.isfinite(preconditioner(spread, 0.0, 1, False)).all()
    # the features alone far from the intercept's 1/4
    assert preconditioner(np.full(3, 1e6), 0.0, 1, True) is not None
    assert preconditioner(np.full(3, 1e6), 0.0, 1, False) is None
    assert preconditioner(np.array([0.25, np.inf]), 0.0, 1, True) is None


def _classification(m, seed=2):
    from sklearn.datasets import make_classification

    return make_classification(m, 5, n_informative=3, n_redundant=0,
                               random_state=seed, flip_y=0.1)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_a_column_1e8_times_larger_without_standardization_reaches_the_optimum(mod):
    """standardize=False, one column scaled by 1e8 (curvature 1e16 times
    the others'): every curvature pair was dropped as carrying none
    (``s.y <= 1e-10 y.y``), the run crept along the steepest direction,
    stalled at F 0.691 (the zero model's 0.693; optimum 0.420) and the
    stall was reported as convergence, with no warning. With L-BFGS-B's
    bound (machine epsilon) it reaches the optimum. The bound on the
    optimum: scikit-learn's unpenalized optimum on the unscaled column,
    mapped to the scaled one."""
    X, y = _classification(300)
    Xs = X.copy()
    Xs[:, 2] *= 1e8
    sk = SKLogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, y)
    coef = sk.coef_[0].copy()
    coef[2] /= 1e8

    def F(w, b):
        z = Xs @ w + b
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = mod.train(Xs, y, solver="lbfgs", standardize=False, penalty=None,
                        tol=1e-10, epochs=1000)
    assert F(res.w, res.b) <= F(coef, sk.intercept_[0]) + 1e-5


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_a_penalty_of_1e15_finds_the_intercept_and_a_stall_is_not_convergence(mod):
    """L2 alpha 1e15 and tol 1e-20: the pairs along the weights were dropped
    (as above), the run stalled with the intercept at 5e-5 against its
    optimum 0.020 (the classes' log-odds), and the stall counted as
    convergence. It finds the intercept now. At alpha 1e20 (beyond what the
    steps can resolve in float64) the run still stalls, and a stall whose
    gradient promises a real decrease is not convergence: the estimator
    warns."""
    X, y = _classification(200)
    want = math.log(y.mean() / (1.0 - y.mean()))
    res = mod.train(X, y, penalty="l2", alpha=1e15, solver="lbfgs", tol=1e-20,
                    epochs=1000)
    assert abs(res.b - want) < 1e-6
    if mod is fastlr:
        with pytest.warns(ConvergenceWarning, match="no step lowered the objective "
                                                    "measurably"):
            LogisticRegression(alpha=1e20, solver="lbfgs", tol=1e-20).fit(X, y)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_auto_drops_a_warm_up_whose_penalty_dwarfs_the_zero_models_objective(mod):
    """solver="auto" with L2 alpha 1e200: the warm-up epoch's last gradient
    step left weights of 3e-3 (the shrink is floored at 0), F about 1e194.
    Its loss alone was below the zero model's, so it was kept; the finisher
    then never moved in 1000 passes. The check now compares the objective
    the finisher minimizes, penalty included, alone and in a stack. (From
    zero, such a penalty leaves the finisher no measurable step: train says
    so, as the estimator does; train_many reports it per model.)"""
    X, y = _classification(200)
    with pytest.warns(ConvergenceWarning, match="a penalty that dwarfs the loss"):
        res = mod.train(X, y, solver="auto", penalty="l2", alpha=1e200, epochs=50,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        many = mod.train_many(X, y, alphas=[1e200, 1e-2], folds=2, solver="auto",
                              epochs=50, random_state=0)
    assert np.abs(res.w).max() < 1e-150
    assert np.abs(many.W[many.alphas == 1e200]).max() < 1e-150


@pytest.fixture
def blas_threads():
    """``(blas, before, X, y)``: the BLAS libraries' thread counts now
    (``blas()``) and before the test, and data whose lbfgs fit calls back
    inside the solver's one-thread hold; skipped where BLAS runs on one
    thread already."""
    import scipy.linalg  # noqa: F401  (both BLAS libraries loaded)
    from threadpoolctl import threadpool_info

    from fastlr import _solver

    def blas():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    _solver._blas_controller.cache_clear()   # found once: after the imports
    before = blas()
    if max(before) < 2:
        pytest.skip("BLAS runs on one thread here already")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 10))
    return blas, before, X, (X[:, 0] + rng.normal(size=5000) > 0).astype(float)


def test_overlapping_fits_restore_the_blas_threads(blas_threads):
    """The solver runs BLAS on one thread, a process-wide limit: two fits in
    two Python threads, the first out restoring what it saw on entry and the
    second what the first had set, left BLAS on one thread for the rest of
    the process. The last fit out restores the limits now."""
    import threading

    blas, before, X, y = blas_threads
    a_in, b_in, a_done = threading.Event(), threading.Event(), threading.Event()

    def hold(mine, other):
        def callback(epoch, loss):
            if not mine.is_set():
                mine.set()
                other.wait(30)
        return callback

    def fit(callback):
        fastlr.train(X, y, solver="lbfgs", epochs=20, tol=1e-12, callback=callback)

    first_out, second_out = threading.Event(), threading.Event()

    def fit_and_stay(callback):
        fit(callback)
        first_out.set()
        second_out.wait(30)   # alive when the second fit restores (a pool's thread)

    first = threading.Thread(target=fit_and_stay, args=(hold(a_in, b_in),))
    second = threading.Thread(target=fit, args=(hold(b_in, a_done),))
    first.start()
    a_in.wait(30)
    second.start()
    first_out.wait(30)   # out first, while the second waits in its solver
    a_done.set()
    second.join()
    # (threadpoolctl 3.8 let only the first fit's thread, still alive, set
    # OpenBLAS's limit: the second's restore did nothing)
    assert blas() == before
    second_out.set()
    first.join()
    assert blas() == before


def test_a_user_thread_s_blas_limit_stands_over_a_fit(blas_threads):
    """A user's ``with threadpool_limits(1)`` in another thread that starts
    before a fit and ends during it: the user's own restore (threadpoolctl
    3.8 honours only the thread in control) must not be undone by the fit,
    which found the user's 1 and restored it (BLAS on one thread for good)."""
    import threading

    from threadpoolctl import threadpool_limits

    blas, before, X, y = blas_threads
    limited, leave, left = threading.Event(), threading.Event(), threading.Event()

    def user():
        with threadpool_limits(limits=1, user_api="blas"):
            limited.set()
            leave.wait(30)
        left.set()

    def callback(epoch, loss):
        if not leave.is_set():
            leave.set()          # the user's limit ends while the fit holds its own
            left.wait(30)

    thread = threading.Thread(target=user)
    thread.start()
    limited.wait(30)
    fastlr.train(X, y, solver="lbfgs", epochs=20, tol=1e-12, callback=callback)
    thread.join()
    assert blas() == before


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
def test_separable_classes_without_a_penalty_stop_at_loss_tol_and_warn(k, solver):
    """Separable classes have no optimum without a penalty: the loss tends
    to 0 as the weights grow and its relative decrease never falls below
    ``tol``. "lbfgs" ran every pass and warned while "auto" stopped
    silently where the loss no longer changed measurably (iris: 749 passes,
    weights 5x "lbfgs"'s); scikit-learn's lbfgs stops after 14 iterations
    on its gradient test. Both solvers now stop, converged, once the mean
    loss is at most ``tol`` (float64's epsilon with ``tol=None``), with
    the same model, and warn that the classes are separable."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(100, 2, centers=[[-5, 0], [5, 0], [0, 8]][:k], random_state=0)
    fits = {}
    for tol in (1e-4, 1e-8, None):
        est = LogisticRegression(penalty=None, solver=solver, tol=tol, max_iter=1000,
                                 random_state=0)
        with pytest.warns(ConvergenceWarning, match="separable") as record:
            est.fit(X, y)
        assert not any("passes" in str(w.message) for w in record)
        t = tol or np.finfo(np.float64).eps
        assert est.n_iter_ < 200
        assert 0.0 < est.loss_curve_[-1] <= t
        assert np.all(est.loss_curve_[-2:-1] > t)
        np.testing.assert_array_equal(est.predict(X), y)
        fits[tol] = est
    # a smaller tol asks for a smaller loss: larger weights
    assert np.abs(fits[1e-8].coef_).max() > np.abs(fits[1e-4].coef_).max()


def test_separable_classes_without_a_penalty_same_stop_for_every_front_end():
    """train (kernels), its NumPy twin and the estimator stop at the same
    model on separable classes without a penalty, and each warns."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X, y = X[y < 2], y[y < 2]
    models = []
    for fit in (fastlr.train, reference.train):
        with pytest.warns(ConvergenceWarning, match="separable"):
            res = fit(X, y, solver="lbfgs", epochs=1000, tol=1e-4)
        assert 0.0 < res.losses[-1] <= 1e-4 and len(res.losses) < 100
        models.append(np.ravel(res[0]))
    with pytest.warns(ConvergenceWarning, match="separable"):
        est = LogisticRegression(penalty=None, solver="lbfgs").fit(X, y)
    models.append(est.coef_[0])
    np.testing.assert_allclose(models[0], models[1], rtol=1e-8)
    np.testing.assert_allclose(models[0], models[2], rtol=1e-8)


def test_penalized_or_non_separable_fits_do_not_warn_of_separability():
    """A penalty gives separable classes an optimum, and classes that
    overlap have one without: neither stops on the loss nor warns."""
    from sklearn.datasets import load_breast_cancer, load_iris

    X, y = load_iris(return_X_y=True)
    X, y = X[y < 2], y[y < 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = LogisticRegression(solver="lbfgs").fit(X, y)
        assert est.loss_curve_[-1] > 1e-4
        X, y = load_breast_cancer(return_X_y=True)
        LogisticRegression(penalty=None, solver="lbfgs", alpha=0.0).fit(X[:, :2], y)


def test_reference_twin_agrees_on_the_softmax_elastic_net_to_1e_10():
    """The softmax model with an L1 term at the default ``l1_ratio`` (see
    :func:`test_reference_twin_agrees`): the two runs stopped 7e-8 apart
    on this problem before OWL-QN kept the free weights' directions (1e-15
    now)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    kw = dict(solver="lbfgs", penalty="elasticnet", alpha=0.01, tol=EXACT,
              epochs=2000, random_state=0)
    a = fastlr.train_multinomial(X, y, **kw)
    b = reference.train_multinomial(X, y, **kw)
    np.testing.assert_allclose(a.W, b.W, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a.b, b.b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("how", ["estimator", "train", "reference"])
def test_separable_data_whose_gradient_squares_to_zero(how):
    """solver="auto"'s SGD epoch can leave a model of so large a margin on
    separable data that its gradient (entries about 1e-170) squares to 0:
    the solver's first step, 1 / |g|, divided by zero (ZeroDivisionError
    from the estimator's defaults with standardize=False on features in
    the thousands, and from any large lr). It now stops there, the data
    separated (without a penalty, which it warns of)."""
    X = np.array([[-1.0], [1.0], [-2.0], [2.0]]) * 1000
    y = np.array([0, 1, 0, 1])
    separable = pytest.warns(ConvergenceWarning, match="separable")
    if how == "estimator":
        with separable:
            clf = fastlr.LogisticRegression(penalty=None, standardize=False).fit(X, y)
        assert clf.solver_ == "auto"
        np.testing.assert_array_equal(clf.predict(X), y)
        return
    fit = fastlr.train if how == "train" else fastlr.reference.train
    X, y = X[:2] / 1000, y[:2]
    with separable:
        w = fit(X, y, solver="auto", lr=1000.0, fit_intercept=False,
                standardize=False)[0]
    assert np.all(np.isfinite(w)) and np.all((X @ np.ravel(w) > 0) == (y == 1))


@pytest.mark.parametrize("impl", [fastlr, reference], ids=["kernels", "reference"])
@pytest.mark.parametrize("fn", ["train", "train_multinomial"])
def test_functional_solver_that_stalls_warns_as_the_estimator_does(impl, fn):
    """train / train_multinomial with solver="lbfgs" on unstandardized
    features of 1e160 stop at once at the zero model (no step lowers the
    objective measurably in float64): they returned it silently, where the
    estimator warns. Now they warn the same ConvergenceWarning, the kernels
    and the twin alike; a problem the solver solves does not warn."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3)) + 2.0
    y = (X @ [1.0, 2.0, 3.0] - 12 + rng.normal(size=400) > 0).astype(int)
    if fn == "train_multinomial":
        # overlapping classes (separable ones, without a penalty, would
        # warn that they are)
        y = np.digitize(X[:, 0] + rng.normal(size=400), [1.5, 2.5])
    train = getattr(impl, fn)
    with pytest.warns(ConvergenceWarning, match="stopped after 0 of epochs=300"):
        res = train(X * 1e160, y, solver="lbfgs", standardize=False, epochs=300)
    assert len(res.losses) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        train(X, y, solver="lbfgs", epochs=300)


# --------------------------------------------------------------------------
# the rows of positive weight hold one class


def _one_weighted_class(k):
    rng = np.random.default_rng(0)
    m = 600
    X = rng.normal(size=(m, 4))
    if k == 2:
        y = (X[:, 0] + rng.logistic(size=m) > 0).astype(np.int64)
    else:
        y = (X @ rng.normal(size=(4, k)) + rng.gumbel(size=(m, k))).argmax(axis=1)
    return X, y, np.where(y == 0, 1.0, 0.0)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_one_weighted_class_takes_no_pass(solver, k):
    """sample_weight 0 on every row of all classes but one (a mask, a
    filter): the objective has no minimizer (the intercepts part without
    end, F tends to 0), the relative-decrease test never held, and the
    solver ran all max_iter passes (intercept -570) to warn "increase
    max_iter (or tol), or alpha", none of which helps. scikit-learn trains
    (its gradient test stops near -9.5). Now the solvers take, without a
    pass, weights 0 and the intercepts whose mean loss is tol, and say
    nothing; so does class_weight 0, and the twin."""
    X, y, sw = _one_weighted_class(k)
    tol = 1e-4
    for kw in ({"sample_weight": sw},
               {"class_weight": {c: 0.0 for c in range(1, k)}}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clf = LogisticRegression(solver=solver, tol=tol, random_state=0).fit(
                X, y, sample_weight=kw.get("sample_weight"))
            if "class_weight" in kw:
                clf = LogisticRegression(solver=solver, tol=tol, random_state=0,
                                         class_weight=kw["class_weight"]).fit(X, y)
        assert clf.n_iter_ == 0 and clf.n_solver_iter_ == 0
        assert not clf.coef_.any()
        # the class seen has probability exp(-tol): its mean loss is tol
        np.testing.assert_allclose(clf.predict_proba(X)[:, 0], math.exp(-tol),
                                   rtol=1e-12)
    mod_kw = dict(solver=solver, tol=tol, sample_weight=sw, random_state=0)
    if k == 2:
        for mod in (fastlr, reference):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                res = mod.train(X, y, **mod_kw)
            assert res.losses.shape == (0,) and not res.w.any()
            assert res.b == pytest.approx(math.log(math.expm1(tol)), rel=1e-12)
    else:
        fits = [mod.train_multinomial(X, y, **mod_kw) for mod in (fastlr, reference)]
        np.testing.assert_allclose(fits[0].b, fits[1].b, rtol=1e-12)
        np.testing.assert_allclose(fits[0].b.sum(), 0.0, atol=1e-12)


def test_one_weighted_class_without_intercept_is_an_ordinary_problem():
    """Without an intercept an L2 penalty bounds the weights: the optimum
    exists and the solver runs to it as usual."""
    X, y, sw = _one_weighted_class(2)
    X = X + 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = LogisticRegression(solver="lbfgs", fit_intercept=False, alpha=1e-2,
                                 tol=1e-10).fit(X, y, sample_weight=sw)
    assert clf.n_iter_ > 0 and clf.coef_.any()


@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_a_fold_whose_weighted_rows_hold_one_class(solver):
    """train_many (and LogisticRegressionCV's folds): a fold whose training
    rows of positive weight hold one class ran all its passes and warned;
    its models now take the model of one model alone, no iteration, as
    the twin's do."""
    X, y, _ = _one_weighted_class(2)
    folds = np.arange(X.shape[0]) % 3
    # the rows of class 1 outside fold 2 weigh 0: fold 2's models train on
    # class 0 alone
    sw = np.where((y == 1) & (folds != 2), 0.0, 1.0)
    kw = dict(folds=folds, sample_weight=sw, solver=solver, tol=1e-6, epochs=200,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fastlr.train_many(X, y, [1e-2, 1e-4], **kw)
    twin = reference.train_many(X, y, [1e-2, 1e-4], **kw)
    alone = res.folds == 3   # (fold ids count the sorted labels from 1)
    assert (res.n_iter[alone] == 1).all() and res.converged[alone].all()
    assert not res.W[alone].any()
    np.testing.assert_allclose(res.b[alone], math.log(math.expm1(1e-6)), rtol=1e-12)
    np.testing.assert_array_equal(res.n_iter, twin.n_iter)
    np.testing.assert_allclose(res.W, twin.W, atol=1e-6)
    np.testing.assert_allclose(res.b, twin.b, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastlr.LogisticRegressionCV(alphas=[1e-2, 1e-4], cv=3, solver=solver).fit(
            X, y, sample_weight=sw)


# --------------------------------------------------------------------------
# a rare class's mean probability at the default tol


def _rare_class_problem(m=20_000):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, 10))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Z = X @ rng.standard_normal((10, 3)) * 0.5 + np.array([2.5, 1.6, -4.5])
    return X, (Z + rng.gumbel(size=Z.shape)).argmax(axis=1)


@pytest.mark.parametrize("alpha,solver", [(1e-2, "auto"), (1e2, "lbfgs"),
                                          (1e-4, "lbfgs")])
def test_a_rare_class_mean_probability_is_its_frequency_at_the_default_tol(
        alpha, solver):
    """3 classes, one of 0.2%: at the optimum each class's mean predicted
    probability is its frequency (the unpenalized intercepts' condition).
    At the default tol the rare class's was 4-60% off (scikit-learn's
    default: within 1.2%): its rows are a sliver of F, so the relative
    decrease of F stopped the run, and the floor bounded the intercept
    step's gain with the largest curvature (1/2) where along a rare
    class's intercept it is about its frequency. Now the run goes on while
    a class's mean probability is more than sqrt(tol) (relatively) off
    its frequency: the same for the stacks of train_many and the twin."""
    X, y = _rare_class_problem()
    freq = np.bincount(y) / y.shape[0]
    tol = 1e-4
    clf = LogisticRegression(alpha=alpha, solver=solver, tol=tol,
                             random_state=0).fit(X, y)
    assert np.abs(clf.predict_proba(X).mean(axis=0) / freq - 1.0).max() \
        <= math.sqrt(tol) * 1.001
    kw = dict(solver=solver, tol=tol, epochs=1000, random_state=0)
    folds = np.arange(y.shape[0]) % 2
    for mod in (fastlr, reference):
        res = mod.train_many(X, y, [alpha], folds=folds, **kw)
        for i, f in enumerate(res.folds):
            rows = folds != (f - 1)   # (fold ids count the sorted labels from 1)
            z = X[rows] @ res.W[i].T + res.b[i]
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            fr = np.bincount(y[rows], minlength=3) / rows.sum()
            assert np.abs(p.mean(axis=0) / fr - 1.0).max() <= math.sqrt(tol) * 1.001


def _mean_loss(t, X, y, W, B, e):
    """The mean log-loss of the softmax model (W, B + t e) (k = 2: the
    sigmoid model of W[1] - W[0], B[1] - B[0], the same probabilities)."""
    from scipy.special import log_softmax

    Z = X @ W.T + B + t * e
    return float(-np.mean(log_softmax(Z, axis=1)[np.arange(len(y)), y]))


def test_the_intercept_gain_is_a_lower_bound():
    """The floor's gain (fastlr._solver.intercept_gain) bounds from below the
    decrease of the mean loss that a step on one class's intercept reaches
    (computed here by minimizing along it), from points off the optimum in
    both directions, sigmoid and softmax."""
    from scipy.optimize import minimize_scalar
    from scipy.special import softmax

    from fastlr._solver import class_totals, intercept_gain

    X, y = _rare_class_problem(4000)
    rng = np.random.default_rng(1)
    for k in (2, 3):
        yk = y if k == 3 else (y == 2).astype(np.int64)
        W = rng.normal(size=(k, X.shape[1])) * 0.3
        freq = class_totals(yk, np.empty(0), k)
        freq = freq / freq.sum()
        for shift in (-2.0, -0.5, 0.5, 2.0):
            B = shift * (np.arange(k) == k - 1)
            g = softmax(X @ W.T + B, axis=1).mean(axis=0) - freq
            gain = intercept_gain(g[1:] if k == 2 else g, k > 2, freq)
            here = _mean_loss(0.0, X, yk, W, B, 0.0)
            best = max(here - minimize_scalar(
                _mean_loss, bounds=(-20, 20), method="bounded",
                args=(X, yk, W, B, np.eye(k)[c]), options={"xatol": 1e-12}).fun
                for c in range(k))
            assert 0.0 < gain <= best * (1 + 1e-6) + 1e-15, (k, shift)


# --------------------------------------------------------------------------
# a dropped warm-up epoch counts


@pytest.mark.parametrize("how", ["worse", "diverged"])
def test_a_dropped_warm_up_counts_as_a_pass(how, tmp_path):
    """solver="auto" whose SGD epoch is dropped (it ends worse than the
    zero model: sample weights 1e6 on half the rows; or it diverges: lr
    1e6 on features of 1e3) read the data all the same: it was neither in
    n_iter_ (n_iter_ == n_solver_iter_) nor charged to max_iter (max_iter=3
    read the data 4 times). It is now one of the passes, its loss in
    loss_curve_ (where it diverged, the zero model's: log 2, finite, so
    that the model file holds it), in the twin too."""
    rng = np.random.default_rng(0)
    m = 2000
    X = rng.normal(size=(m, 5))
    y = (X @ rng.normal(size=5) + rng.logistic(size=m) > 0).astype(np.int64)
    if how == "worse":
        kw, sw = dict(standardize=True), np.where(rng.random(m) < 0.5, 1e6, 1.0)
    else:
        X = X * 1e3
        kw, sw = dict(standardize=False, lr=1e6), None
    for max_iter in (3, 1000):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(solver="auto", max_iter=max_iter, random_state=0,
                                     alpha=1e-2, **kw).fit(X, y, sample_weight=sw)
        assert clf.n_iter_ - clf.n_solver_iter_ == 1
        assert clf.n_iter_ <= max_iter and clf.loss_curve_.shape == (clf.n_iter_,)
        if how == "diverged":
            assert clf.loss_curve_[0] == math.log(2) > clf.loss_curve_[1]
        else:
            assert clf.loss_curve_[0] > math.log(2) > clf.loss_curve_[1]
    path = tmp_path / "model.npz"
    fastlr.save(clf, path)
    np.testing.assert_array_equal(fastlr.load(path).loss_curve_, clf.loss_curve_)
    calls = {fastlr: [], reference: []}
    res, twin = (mod.train(X, y, solver="auto", alpha=1e-2, penalty="l2",
                           epochs=1000, random_state=0, sample_weight=sw,
                           callback=lambda *c, mod=mod: calls[mod].append(c), **kw)
                 for mod in (fastlr, reference))
    assert res.losses.shape == twin.losses.shape
    for mod, out in ((fastlr, res), (reference, twin)):
        assert calls[mod] == list(enumerate(out.losses.tolist(), 1))
    assert res.losses[0] == twin.losses[0] or (
        how == "worse" and res.losses[0] == pytest.approx(twin.losses[0], rel=1e-6))


def test_a_float32_fit_on_offset_columns_is_off_by_its_intercepts_rounding():
    """float32 X whose columns' means dwarf their spread (README, "float32
    stays float32"): the float32 model's logits are those of the float64 fit
    of the same values to within half a float32 unit of its intercept (the
    solver's model is the same; coef_ and intercept_ are float32), which
    is below what float32 rounded the features by."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 8))
    y = (X @ rng.standard_normal(8) + rng.logistic(size=2000) > 0).astype(int)
    X32 = (X + 1e4).astype(np.float32)
    kw = dict(alpha=1e-4, tol=1e-12, random_state=0)
    a = LogisticRegression(**kw).fit(X32, y)
    b = LogisticRegression(**kw).fit(X32.astype(np.float64), y)
    assert a.coef_.dtype == a.intercept_.dtype == np.float32
    gap = np.abs(a.decision_function(X32).astype(np.float64)
                 - b.decision_function(X32.astype(np.float64))).max()
    half_unit = np.spacing(np.abs(a.intercept_[0])) / 2
    assert gap <= 1.5 * half_unit
    own = np.abs((X + 1e4) @ b.coef_[0] - X32.astype(np.float64) @ b.coef_[0]).max()
    assert half_unit <= own


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("standardize", [False, True])
def test_softmax_without_intercept_on_uncentred_collinear_features_reaches_tol(
        solver, standardize):
    """Three classes, no intercept, features of mean 10 and spread 1 with
    two columns that are linear combinations of others: the default
    ``tol`` stopped 8e-4 to 1.1e-3 above the optimum (probabilities 0.09
    off), silently, while its predicted decrease was rising again (the
    curvature pairs finding a nearly flat direction); the run now goes on
    (RISE) and stops within ``tol`` of scikit-learn's newton-cholesky
    optimum at ``tol=1e-12`` (measured 2.6e-6 to 2.8e-6)."""
    from scipy.special import logsumexp
    from sklearn.datasets import make_classification

    X, y = make_classification(5000, 20, n_informative=8, n_classes=3, random_state=2)
    X = X + 10.0
    clf = LogisticRegression(fit_intercept=False, standardize=standardize,
                             solver=solver, random_state=0).fit(X, y)
    scale = np.asarray(clf.training_state_.scale)
    Z = X / scale                      # no intercept: scaled, not centred
    sk = SKLogisticRegression(C=1.0, fit_intercept=False, solver="newton-cholesky",
                              tol=1e-12, max_iter=1000).fit(Z, y)

    def objective(W):
        L = Z @ W.T
        loss = logsumexp(L, axis=1) - L[np.arange(len(y)), y]
        return loss.mean() + 0.5 / len(y) * (W ** 2).sum()

    optimum = objective(sk.coef_)
    assert objective(clf.coef_ * scale) <= optimum * (1.0 + clf.tol)
