"""Extreme settings and values: batch sizes beyond the data, logits beyond
the float64 range, and an L2 penalty whose shrink factor ``1 - lr * alpha``
is negative.

Each is answered the same way by every path (dense and CSR X, binary and
k-class models, one thread or two) and by :mod:`fastlr.reference`: a batch
larger than the data is one full batch (``fastlr._driver.batch_rows``); a
logit that is not finite is an infinite loss, hence divergence
(``fastlr._kernels.scalar.overflowed``); the L2 shrink factor is floored at
0, as scikit-learn's SGD does.
"""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import SGDClassifier

import fastlr
from fastlr import DivergedError, LogisticRegression, _dispatch, cli, reference
from fastlr.core import train_multinomial

TOL = {"rtol": 1e-10, "atol": 1e-12}

BIG_BATCHES = {"m+1": 1, "2**31": 2**31, "2**63-1": 2**63 - 1, "2**63": 2**63,
               "2**64+1": 2**64 + 1}


def make_data(m=300, n=4, classes=2, seed=0):
    """Columns of different scale and offset; labels from the first two."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    t = Z[:, 0] - 0.5 * Z[:, 1] + rng.logistic(size=m) * 0.5
    y = np.digitize(t, np.quantile(t, np.linspace(0, 1, classes + 1)[1:-1]))
    return Z * np.linspace(0.5, 3.0, n) + np.linspace(-2.0, 2.0, n), y


def trainers(model):
    """(kernel, reference) training functions of the binary or k-class model."""
    if model == "binary":
        return fastlr.train, reference.train
    return train_multinomial, reference.train_multinomial


def as_kind(X, kind):
    return sp.csr_matrix(X) if kind == "csr" else X


def weights(res):
    return res.w if hasattr(res, "w") else res.W


# --------------------------------------------------------------------------
# batch sizes larger than the data


@pytest.mark.parametrize("big", list(BIG_BATCHES), ids=list(BIG_BATCHES))
@pytest.mark.parametrize("threads", [1, 2], ids=["1thread", "2threads"])
@pytest.mark.parametrize("model", ["binary", "softmax"])
@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_batch_larger_than_data_is_one_full_batch(monkeypatch, kind, model,
                                                  threads, big):
    """batch_size = m + 1, 2**31, 2**63 - 1, 2**63 (and beyond) train exactly
    as batch_size = m: one batch of every row per epoch, on every path, and
    the reference agrees."""
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS",
                        max(2, numba.config.NUMBA_NUM_THREADS))
    # small data on two threads: the team runs a full batch of 300 rows
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    X, y = make_data(classes=2 if model == "binary" else 3)
    m = X.shape[0]
    batch = m + 1 if big == "m+1" else BIG_BATCHES[big]
    kern, ref = trainers(model)
    kw = dict(epochs=4, lr=0.5, random_state=3, n_threads=threads)
    Xk = as_kind(X, kind)
    full = kern(Xk, y, batch_size=m, **kw)
    got = kern(Xk, y, batch_size=batch, **kw)
    np.testing.assert_array_equal(weights(got), weights(full))
    np.testing.assert_array_equal(got.b, full.b)
    np.testing.assert_array_equal(got.losses, full.losses)
    assert np.abs(weights(got)).max() > 0.05   # it trained
    # the first epoch's running loss is that of the zero model: log(k)
    k = 2 if model == "binary" else 3
    assert got.losses[0] == pytest.approx(np.log(k), rel=1e-12)
    want = ref(Xk, y, batch_size=batch, **kw)
    np.testing.assert_allclose(weights(got), weights(want), **TOL)
    np.testing.assert_allclose(got.b, want.b, **TOL)
    np.testing.assert_allclose(got.losses, want.losses, **TOL)


def test_batch_of_exactly_m_rows_and_one_less(monkeypatch):
    """The boundary from below: m - 1 gives two batches (m - 1 rows, then
    one), m gives one; the reference agrees on both."""
    X, y = make_data()
    m = X.shape[0]
    for batch in (m - 1, m):
        kw = dict(batch_size=batch, epochs=3, lr=0.5, random_state=3)
        a, b = fastlr.train(X, y, **kw), reference.train(X, y, **kw)
        np.testing.assert_allclose(a.w, b.w, **TOL)
        np.testing.assert_allclose(a.losses, b.losses, **TOL)
    assert not np.array_equal(fastlr.train(X, y, batch_size=m - 1, epochs=3).w,
                              fastlr.train(X, y, batch_size=m, epochs=3).w)


def test_huge_batch_on_the_threaded_path_trains():
    """The reported case: 30,000 rows on two threads (the data is large
    enough for the team) with batch_size 2**63 - 1 returned w = 0 and
    losses [0, 0]; now it is the full-batch model."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30_000, 100))
    y = (X[:, 0] + rng.logistic(size=30_000) > 0).astype(int)
    kw = dict(epochs=2, lr=1.0, random_state=0)
    got = fastlr.train(X, y, batch_size=2**63 - 1, n_threads=2, **kw)
    assert np.abs(got.w).max() > 0.01
    assert got.losses[0] == pytest.approx(np.log(2), rel=1e-12)
    assert got.losses[1] < got.losses[0]
    want = fastlr.train(X, y, batch_size=30_000, n_threads=1, **kw)
    np.testing.assert_array_equal(got.w, want.w)


def test_estimator_and_cli_accept_huge_batches(tmp_path):
    X, y = make_data()
    kw = dict(max_iter=3, tol=None, random_state=0, lr=0.5)
    full = LogisticRegression(batch_size=X.shape[0], **kw).fit(X, y)
    for batch in (2**63 - 1, 2**63):
        got = LogisticRegression(batch_size=batch, **kw).fit(X, y)
        np.testing.assert_array_equal(got.coef_, full.coef_)
        part = LogisticRegression(batch_size=batch, **kw)
        part.partial_fit(X, y, classes=[0, 1])
        assert np.isfinite(part.coef_).all() and np.abs(part.coef_).max() > 0
    path = tmp_path / "d.npy"
    np.save(path, np.column_stack([X, y]))
    models = []
    for batch in (X.shape[0], 2**63):
        out = tmp_path / f"m{batch}.npz"
        assert cli.main(["train", str(path), "--batch-size", str(batch), "--epochs",
                         "3", "--random-state", "0", "--model", str(out), "-q"]) == 0
        models.append(fastlr.load(out))
    np.testing.assert_array_equal(models[0].coef_, models[1].coef_)


# --------------------------------------------------------------------------
# epoch limits far beyond what tol lets run


HUGE_EPOCHS = {"2**40": 2**40, "2**63": 2**63, "10**20": 10**20}


@pytest.mark.parametrize("epochs", list(HUGE_EPOCHS.values()), ids=list(HUGE_EPOCHS))
@pytest.mark.parametrize("model", ["binary", "softmax"])
def test_huge_epoch_limits_run_until_tol_stops(model, epochs):
    """An epoch limit is a limit, not a size: nothing is allocated per
    allowed epoch (an array of 2**40 losses was 8 TiB), and the run is the
    one a limit just above its epochs gives."""
    X, y = make_data(classes=2 if model == "binary" else 3)
    for train in trainers(model):
        got = train(X, y, epochs=epochs, tol=0.1, random_state=0, lr=0.1)
        want = train(X, y, epochs=len(got.losses) + 1, tol=0.1, random_state=0,
                     lr=0.1)
        assert 1 <= len(got.losses) < 100
        np.testing.assert_array_equal(got.losses, want.losses)
        np.testing.assert_array_equal(weights(got), weights(want))


def test_huge_epoch_limits_in_train_many_the_estimator_and_cli(tmp_path):
    X, y = make_data()
    many = fastlr.train_many(X, y, alphas=[1e-4, 1e-2], epochs=2**63, tol=0.1,
                             random_state=0)
    assert 1 <= many.n_iter.max() < 100
    for solver in ("sgd", "auto"):
        clf = LogisticRegression(solver=solver, max_iter=2**63, tol=0.1,
                                 random_state=0).fit(X, y)
        assert 1 <= clf.n_iter_ < 100
    path = tmp_path / "d.npy"
    np.save(path, np.column_stack([X, y]))
    assert cli.main(["train", str(path), "--solver", "sgd", "--epochs", str(10**20),
                     "--tol", "0.1", "--model", str(tmp_path / "m.npz"), "-q"]) == 0
    assert 1 <= fastlr.load(tmp_path / "m.npz").n_iter_ < 100


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-(2**63), ValueError),
                                      (2.0, TypeError), (True, TypeError)],
                         ids=["zero", "negative", "float", "bool"])
@pytest.mark.parametrize("func", [fastlr.train, reference.train],
                         ids=["kernel", "reference"])
def test_bad_batch_sizes_are_named(func, bad, exc):
    X, y = make_data()
    with pytest.raises(exc, match="batch_size"):
        func(X, y, batch_size=bad)


# --------------------------------------------------------------------------
# logits beyond the float64 range


def outcome(func, *args, **kw):
    try:
        res = func(*args, **kw)
    except DivergedError as exc:
        return "diverged", str(exc).split(":")[0], str(exc).split("became ")[1][:3]
    return "trained", len(res.losses)


@pytest.mark.parametrize("epoch_loss", ["running", "full", None])
@pytest.mark.parametrize("batch_size", [1, 32, 300], ids=["b1", "b32", "full"])
@pytest.mark.parametrize("model", ["binary", "softmax"])
@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("n", [1, 2, 5], ids=["n1", "n2", "n5"])
def test_overflowing_logits_are_divergence_for_kernel_and_reference(
        n, kind, model, batch_size, epoch_loss):
    """X * 1e300 unstandardized: after one step the logits are beyond the
    float64 range, where their value depends on the order of the additions
    (the kernel's fused loop gave a model with loss 9.9e-305, numpy's matmul
    an infinite loss). Both now count a non-finite logit as an infinite loss
    and stop at the same epoch with the same message."""
    rng = np.random.default_rng(n)
    X = rng.normal(size=(300, n))
    y = (X[:, 0] > 0).astype(int) if model == "binary" else \
        np.digitize(X[:, 0], [-0.5, 0.5])
    Xb = as_kind(X * 1e300, kind)
    kern, ref = trainers(model)
    kw = dict(standardize=False, epochs=3, batch_size=batch_size, random_state=0,
              epoch_loss=epoch_loss)
    got, want = outcome(kern, Xb, y, **kw), outcome(ref, Xb, y, **kw)
    assert got == want
    assert got[0] == "diverged" and got[2] == "inf"


def test_weights_that_overflow_are_named_as_such_in_the_message():
    """Weights that overflowed can leave a finite loss (an overflowing
    logit gives no residual): the message said "the loss became 0.693 (it
    started near log(2) = 0.693)"."""
    from fastlr._driver import diverged_message

    msg = diverged_message(3, 0.693147, True, 2, 0.1, finite=False)
    assert "weights overflowed" in msg and "loss became" not in msg
    assert "(the loss was 0.693147)" in msg
    msg = diverged_message(3, 7e10, True, 2, 0.1)
    assert "the loss became 7e+10 (it started near log(2)" in msg


@pytest.mark.parametrize("standardize, advice", [
    (True, None), ("scale", "centre the features"), (False, "standardize the features")])
@pytest.mark.parametrize("trainer", ["kernel", "reference", "many", "partial_fit",
                                     "sparse"])
def test_divergence_advises_standardizing_only_features_that_are_not(
        trainer, standardize, advice):
    """A diverging run with standardize=True (the default) was told to
    "standardize the features (standardize=True)"; the advice follows what
    the model did to the features: none when centred and scaled, centring
    when only scaled (sparse X, standardize="scale"), standardizing when
    neither."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) * 50 + 3
    y = (X[:, 0] > 3).astype(int)
    if trainer == "sparse":
        if standardize == "scale":
            pytest.skip("sparse X is scaled by standardize=True")
        X = sp.csr_matrix(X)
        advice = advice or "centre the features"
    kw = dict(lr=1e6, epochs=3, batch_size=1, standardize=standardize,
              random_state=0)
    calls = {
        "kernel": lambda: fastlr.train(X, y, **kw),
        "sparse": lambda: fastlr.train(X, y, **kw),
        "reference": lambda: reference.train(X, y, **kw),
        "many": lambda: fastlr.train_many(X, y, alphas=[1e-4, 1e-3], **kw),
        "partial_fit": lambda: LogisticRegression(
            lr=1e6, batch_size=1, standardize=standardize).partial_fit(
                X, y, classes=[0, 1]),
    }
    with pytest.raises(DivergedError, match="diverged") as info:
        calls[trainer]()
    msg = str(info.value)
    assert "lower the learning rate" in msg
    if advice is None:
        assert "standardize the features" not in msg
        assert "centre the features" not in msg
    else:
        assert advice in msg


@pytest.mark.parametrize("learning_rate", ["optimal", "constant", "invscaling",
                                           "adaptive"])
@pytest.mark.parametrize("trainer", ["kernel", "reference", "many", "reference_many",
                                     "fit", "partial_fit", "cv", "weighted"])
def test_divergence_advice_follows_the_schedule(trainer, learning_rate):
    """learning_rate="optimal" takes its steps from alpha (1 / (alpha (t0 +
    t - 1))) and ignores lr, yet a diverging run was told to "lower the
    learning rate lr": its remedy is a larger alpha (or another schedule),
    the other schedules' a lower lr, on every path."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) * 50 + 3
    y = (X[:, 0] > 3).astype(int)
    optimal = learning_rate == "optimal"
    # "optimal"'s first step is alpha**-0.25: 100 at alpha=1e-8
    kw = dict(lr=1e6, epochs=3, batch_size=1, standardize=False, random_state=0,
              learning_rate=learning_rate, penalty="l2")
    est = dict(lr=1e6, max_iter=3, batch_size=1, standardize=False, random_state=0,
               learning_rate=learning_rate, solver="sgd")
    calls = {
        "kernel": lambda: fastlr.train(X, y, alpha=1e-8, **kw),
        "reference": lambda: reference.train(X, y, alpha=1e-8, **kw),
        "many": lambda: fastlr.train_many(X, y, alphas=[1e-8, 1e-7], **kw),
        "reference_many": lambda: reference.train_many(X, y, alphas=[1e-8, 1e-7],
                                                       **kw),
        "fit": lambda: LogisticRegression(alpha=1e-8, **est).fit(X, y),
        "partial_fit": lambda: LogisticRegression(alpha=1e-8, **est).partial_fit(
            X, y, classes=[0, 1]),
        "cv": lambda: fastlr.LogisticRegressionCV(alphas=[1e-8, 1e-7], cv=2,
                                                  **est).fit(X, y),
        "weighted": lambda: fastlr.train(X, y, alpha=1e-8,
                                         sample_weight=np.full(300, 2.0), **kw),
    }
    with pytest.raises(DivergedError, match="diverged") as info:
        calls[trainer]()
    msg = str(info.value)
    assert ("lower the learning rate" in msg) != optimal
    assert ("'optimal' ignores lr" in msg) == optimal
    if optimal:
        assert "raise alpha" in msg or "raise the alphas" in msg
        assert "as lr does" not in msg
    if trainer == "weighted":
        # with their mean, the number their steps scale with
        assert ("the row weights (sample_weight times class_weight; their mean "
                "over the rows of positive weight is 2) scale each step") in msg


@pytest.mark.parametrize("learning_rate, advice", [
    ("optimal", "raise the alphas"), ("constant", "lower the learning rate lr)")])
def test_no_candidate_advice_follows_the_schedule(learning_rate, advice):
    """LogisticRegressionCV with every candidate of a fold diverged advised
    "lower the learning rate lr, or the largest alphas": lr is no remedy
    under "optimal", and a larger alpha never made a step larger."""
    from fastlr.estimator_cv import _no_candidate

    with pytest.raises(DivergedError, match="every candidate diverged") as info:
        _no_candidate(np.array([-np.inf, -np.inf]), "some fold", learning_rate)
    assert advice in str(info.value)
    assert "largest alphas" not in str(info.value)


def test_an_infinite_finisher_result_advises_by_the_standardization():
    """L-BFGS whose model overflows: with the features standardized, the
    advice was to standardize them."""
    from fastlr._train import _check_finite

    W, B = np.array([[np.inf]]), np.zeros(1)
    for how, said in ((None, "standardize the features"),
                      ("scaled", "centre the features"),
                      ("centred", "divide them by a large constant")):
        with pytest.raises(DivergedError, match=said):
            _check_finite(W, B, np.zeros(1), how)


def test_overflowing_logits_in_the_estimator():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)) * 1e300
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(DivergedError, match="loss became inf.*standardize"):
        LogisticRegression(standardize=False, max_iter=3, solver="sgd").fit(X, y)
    # the solver: L-BFGS from zero ("auto" drops its warm-up epoch, whose
    # model is beyond the float64 range) may find a finite model, never NaN;
    # a model beyond the float64 range is divergence
    for solver in ("auto", "lbfgs"):
        try:
            clf = LogisticRegression(standardize=False, max_iter=3, tol=None,
                                     solver=solver).fit(X, y)
        except DivergedError as exc:
            assert "standardize" in str(exc)
        else:
            assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    # standardized, the same data trains
    clf = LogisticRegression(max_iter=5, tol=None).fit(X, y)
    assert clf.score(X, y) > 0.95


def test_row_loss_of_a_non_finite_logit_is_inf():
    """The rule, per row, in the reference's twin of the kernels' row loss."""
    z = np.array([np.inf, -np.inf, np.nan, 40.0, -40.0])
    for y in (0.0, 1.0):
        losses = reference.row_losses(z, np.full(5, y))
        assert np.isinf(losses[:3]).all() and np.isfinite(losses[3:]).all()


# --------------------------------------------------------------------------
# L2 with lr * alpha >= 1: the shrink factor floored at 0


L2_HUGE = dict(penalty="l2", alpha=1e5, lr=0.1)


def test_huge_l2_matches_sklearn_sgd():
    """scikit-learn's SGDClassifier floors ``1 - eta * alpha`` at 0: each
    step sets w to minus eta times the data gradient (the weights never
    grow). With one row per step, no shuffling and raw features fastlr runs
    the same recursion and returns the same all-but-zero model."""
    X, y = make_data()
    sk = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=L2_HUGE["lr"],
                       alpha=L2_HUGE["alpha"], penalty="l2", shuffle=False,
                       max_iter=3, tol=None).fit(X, y)
    kw = dict(batch_size=1, epochs=3, standardize=False, shuffle=False, **L2_HUGE)
    for func in (fastlr.train, reference.train):
        res = func(X, y, **kw)
        np.testing.assert_allclose(res.w, sk.coef_[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.b, sk.intercept_[0], rtol=1e-9, atol=1e-12)
    # one step's worth of gradient: a tenth of the largest |x| at most
    assert np.abs(res.w).max() <= L2_HUGE["lr"] * np.abs(X).max()


@pytest.mark.parametrize("penalty, alpha", [("l2", 1e-2), ("l2", 1e5), ("l1", 1e-2),
                                            ("elasticnet", 1e-1)])
def test_optimal_schedule_matches_sklearn_sgd(penalty, alpha):
    """``learning_rate="optimal"`` is scikit-learn's default schedule, ``1 /
    (alpha (t0 + t - 1))`` with its ``t0``: with one row per step (``t``
    counts batches, there samples), no shuffling and raw features,
    fastlr.train, the reference and the estimator's fit give
    SGDClassifier's coefficients and intercept step for step, but for
    rounding; ``lr`` is ignored, as ``eta0`` is there, and ``alpha`` is the
    whole elastic-net strength, as there (1e5: the L2 shrink floored at 0
    from the first step on). At smaller strengths the first steps (``alpha
    ** -0.25``: 10 at 1e-4) make this iteration amplify the last-bit
    differences of the two sigmoids: at 1e-4 the weights were 6e-10 apart
    after one epoch and 20 (their own size) after three, as fastlr's
    constant schedule drifts from scikit-learn's at such a step (eta0 = 8:
    1e-6 and 11 on standardized rows)."""
    X, y = make_data()
    opts = dict(penalty=penalty, alpha=alpha, learning_rate="optimal")
    sk = SGDClassifier(loss="log_loss", shuffle=False, max_iter=3, tol=None,
                       **opts).fit(X, y)
    kw = dict(batch_size=1, standardize=False, shuffle=False, lr=123.0, **opts)
    tol = dict(rtol=1e-12, atol=1e-14)
    for func in (fastlr.train, reference.train):
        res = func(X, y, epochs=3, **kw)
        np.testing.assert_allclose(res.w, sk.coef_[0], **tol)
        np.testing.assert_allclose(res.b, sk.intercept_[0], **tol)
    clf = LogisticRegression(solver="sgd", max_iter=3, tol=None, **kw).fit(X, y)
    np.testing.assert_allclose(clf.coef_, sk.coef_, **tol)
    np.testing.assert_allclose(clf.intercept_, sk.intercept_, **tol)


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling"])
@pytest.mark.parametrize("threads", [1, 2], ids=["1thread", "2threads"])
@pytest.mark.parametrize("model", ["binary", "softmax"])
@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_huge_l2_returns_a_tiny_model_on_every_path(monkeypatch, kind, model,
                                                    threads, learning_rate):
    """Dense (one thread or the team), CSR (the lazy scale ``w = s * v``
    folds at a factor of 0), binary and k-class, standardized: no
    DivergedError, a model of one step's gradient at most, kernel and
    reference agreeing."""
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS",
                        max(2, numba.config.NUMBA_NUM_THREADS))
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    X, y = make_data(m=600, classes=2 if model == "binary" else 3)
    Xk = as_kind(X, kind)
    kern, ref = trainers(model)
    kw = dict(batch_size=_dispatch.PARALLEL_MIN_BATCH + 17, epochs=4,
              random_state=1, learning_rate=learning_rate, n_threads=threads,
              **L2_HUGE)
    got = kern(Xk, y, **kw)
    want = ref(Xk, y, **kw)
    W = weights(got)
    assert np.isfinite(W).all() and np.isfinite(got.losses).all()
    np.testing.assert_allclose(W, weights(want), **TOL)
    np.testing.assert_allclose(got.b, want.b, **TOL)
    np.testing.assert_allclose(got.losses, want.losses, **TOL)
    # on the standardized features the weights are one step's data
    # gradient, lr * mean(r * x) with |r| <= 1: at most lr * max |x|
    mean, scale = reference.column_stats(X)
    if kind == "csr":
        mean = np.zeros_like(mean)
    W_std = W * scale
    assert (np.abs(W_std) <= kw["lr"] * np.abs((X - mean) / scale).max(axis=0)
            + 1e-12).all()


def test_huge_l2_in_the_estimator():
    X, y = make_data()
    clf = LogisticRegression(alpha=1e5, lr=0.1, max_iter=5, tol=None).fit(X, y)
    assert np.isfinite(clf.coef_).all()
    assert np.abs(clf.coef_).max() < 0.1


# --------------------------------------------------------------------------
# the stack of models (train_many) and training a file in chunks


@pytest.mark.parametrize("model", ["binary", "softmax"])
@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_train_many_big_batches_and_huge_l2(kind, model):
    """train_many (K models from one pass) and its reference twin: batch
    sizes m + 1, 2**63 - 1 and 2**63 train as batch_size = m, and an L2
    strength with lr * alpha >= 1 (the shrink factor floored at 0) gives
    finite, all-but-zero models next to ordinary ones."""
    X, y = make_data(classes=2 if model == "binary" else 3)
    Xk = as_kind(X, kind)
    m = X.shape[0]
    alphas = [1e-4, L2_HUGE["alpha"]]
    kw = dict(epochs=3, lr=L2_HUGE["lr"], random_state=2)
    full = fastlr.train_many(Xk, y, alphas, batch_size=m, **kw)
    for batch in (m + 1, 2**63 - 1, 2**63):
        got = fastlr.train_many(Xk, y, alphas, batch_size=batch, **kw)
        np.testing.assert_array_equal(got.W, full.W)
        np.testing.assert_array_equal(got.b, full.b)
        want = reference.train_many(Xk, y, alphas, batch_size=batch, **kw)
        np.testing.assert_allclose(got.W, want.W, **TOL)
        np.testing.assert_allclose(got.b, want.b, **TOL)
    got = fastlr.train_many(Xk, y, alphas, batch_size=16, **kw)
    want = reference.train_many(Xk, y, alphas, batch_size=16, **kw)
    assert np.isfinite(got.W).all() and not got.diverged.any()
    np.testing.assert_allclose(got.W, want.W, **TOL)
    # the huge penalty's model, on the standardized features, is one step's
    # data gradient, lr * mean(r * x) with |r| <= 1: at most lr * max |x|
    mean, scale = reference.column_stats(X)
    if kind == "csr":
        mean = np.zeros_like(mean)
    bound = kw["lr"] * np.abs((X - mean) / scale).max(axis=0) + 1e-12
    assert (np.abs(got.W[1] * scale) <= bound).all()
    assert not (np.abs(got.W[0] * scale) <= bound).all()   # unlike alpha=1e-4


def test_chunked_cli_training_takes_huge_batches_and_l2(tmp_path, capsys):
    """A batch larger than a chunk is the whole chunk; the floored L2
    shrink holds there too."""
    X, y = make_data()
    path = tmp_path / "d.csv"
    with open(path, "w") as f:
        f.write("a,b,c,d,label\n")
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            f.write(",".join(map(repr, row)) + f",{label}\n")
    models = []
    for batch in ("100", str(2**63)):
        out = tmp_path / f"m{batch}.npz"
        assert cli.main(["train", str(path), "--chunk-rows", "100", "--batch-size",
                         batch, "--epochs", "3", "--random-state", "0", "--model",
                         str(out), "-q"]) == 0
        models.append(fastlr.load(out))
    np.testing.assert_array_equal(models[0].coef_, models[1].coef_)
    out = tmp_path / "l2.npz"
    assert cli.main(["train", str(path), "--chunk-rows", "100", "--alpha", "1e5",
                     "--lr", "0.1", "--epochs", "3", "--model", str(out), "-q"]) == 0
    capsys.readouterr()
    coef = fastlr.load(out).coef_
    assert np.isfinite(coef).all() and np.abs(coef).max() < 0.1


@pytest.mark.parametrize("how", ["train", "reference", "multinomial", "many",
                                 "estimator"])
def test_float32_weights_beyond_float32_range_are_refused(how):
    """float32 X of tiny values (1e-40, finite) trains fine in float64, but
    its raw-space weights (standardized weights over scales of 1e-40) do not
    fit in float32: cast, they were inf and every prediction NaN. Refused
    with a ValueError that says so; the same data in float64 trains."""
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 3))
    y = (Z[:, 0] + rng.logistic(size=200) > 0).astype(int)
    y3 = np.digitize(Z[:, 1], [-0.5, 0.5])
    X = (Z * 1e-40).astype(np.float32)
    kw = dict(batch_size=20, epochs=3, random_state=0)
    run = {"train": lambda X: fastlr.train(X, y, **kw),
           "reference": lambda X: reference.train(X, y, **kw),
           "multinomial": lambda X: train_multinomial(X, y3, **kw),
           "many": lambda X: fastlr.train_many(X, y, alphas=[1e-4, 1e-3], **kw),
           "estimator": lambda X: LogisticRegression(max_iter=3, tol=None,
                                                     solver="sgd").fit(X, y)}[how]
    with pytest.raises(ValueError, match=r"beyond float32's range .* pass X as float64"):
        run(X)
    out = run(X.astype(np.float64))
    w = out.coef_ if how == "estimator" else out.w if hasattr(out, "w") else out.W
    assert np.isfinite(w).all() and np.abs(w).max() > 1e38


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("k", [2, 3])
def test_finite_rows_whose_logits_overflow_predict_by_the_exact_sign(k, sparse):
    """A finite row of 1e308s: the logits' running sums reached +inf and
    then met -inf, giving NaN, so predict_proba returned NaN (2 classes) or
    a row of zeros (3), and predict the first class, silently. Now such
    rows are summed scaled: the logit is the exact sum, rounded, or an
    infinity of its sign; the probabilities are
    finite and sum to 1, and predict takes the largest exact logit."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 4))
    y = (X @ rng.normal(size=(4, k))).argmax(axis=1)
    clf = LogisticRegression(max_iter=50, random_state=0).fit(X, y)
    row = np.array([[1e308, 1e308, 1e308, 1e308], [1.0, -2.0, 0.5, 3.0]])
    Xi = sp.csr_matrix(row) if sparse else row
    # the exact logits in units of 1e308 (the intercept is negligible there)
    exact = (row / 1e308) @ clf.coef_.T
    assert (np.abs(exact[0]) > 1e-3).all()     # far from a tie
    z = clf.decision_function(Xi)
    P = clf.predict_proba(Xi)
    assert np.isfinite(P).all() and ((P >= 0) & (P <= 1)).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert clf.predict(Xi)[0] == clf.classes_[np.argmax(exact[0]) if k > 2
                                               else int(exact[0, 0] > 0)]
    with np.errstate(over="ignore"):
        want = exact[0] * 1e308            # inf where the exact sum overflows
    np.testing.assert_allclose(z[0], want[0] if k == 2 else want, rtol=1e-12)
    # the finite row is untouched by the rescue
    np.testing.assert_allclose(z[1], (row[1] @ clf.coef_.T + clf.intercept_).squeeze(),
                               rtol=1e-12)


@pytest.mark.parametrize("mask", ["weight 0", "rows"])
@pytest.mark.parametrize("how", ["kernels", "reference"])
@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_a_masked_sentinel_does_not_scale_the_rows_that_count(kind, how, mask):
    """Rows of weight 0, or left out by ``rows``, holding a sentinel of
    1e200 count for nothing: the standardization and the model are those
    of the data without them (the column's largest ``|x|`` was taken over
    every row, so the others' squares underflowed: scale 1 instead of
    about 100, probabilities 0.05 apart)."""
    rng = np.random.default_rng(0)
    m = 400
    X = rng.normal(size=(m, 3)) * np.array([1.0, 100.0, 0.01]) + 1.0
    y = (X[:, 0] + X[:, 1] / 100 + rng.normal(size=m) > 0).astype(np.int64)
    keep = np.ones(m, dtype=bool)
    keep[:3] = False
    Xh = X.copy()
    Xh[:3, 1] = 1e200
    as_kind = sp.csr_matrix if kind == "csr" else np.asarray
    mod = fastlr if how == "kernels" else reference
    kw = dict(solver="lbfgs", penalty="l2", alpha=1e-2, tol=1e-12, epochs=500,
              standardize="scale" if kind == "csr" else True)
    alone = mod.train(as_kind(X[keep]), y[keep], **kw)
    masked = (mod.train(as_kind(Xh), y, sample_weight=keep.astype(float), **kw)
              if mask == "weight 0" else mod.train(as_kind(Xh), y, rows=keep, **kw))
    # the same optimum to the solver's tolerance (the masked rows' zeros
    # change the sums' rounding); before, 4% apart
    np.testing.assert_allclose(masked.w, alone.w, rtol=1e-7)
    np.testing.assert_allclose(masked.b, alone.b, rtol=1e-7)


@pytest.mark.parametrize("power_t", [1000.0, 1e300])
@pytest.mark.parametrize("model", ["binary", "softmax"])
def test_an_inverse_scaling_power_beyond_floats_is_a_zero_step_on_both(model,
                                                                       power_t):
    """``lr / t**power_t`` with ``t**power_t`` beyond the largest float: the
    kernels' float64 power is inf, so every step after the first is 0; the
    twin computed it in Python floats and raised OverflowError."""
    X, y = make_data(classes=2 if model == "binary" else 3)
    kernel, twin = trainers(model)
    kw = dict(learning_rate="invscaling", power_t=power_t, epochs=3,
              batch_size=10, random_state=0)
    a, b = kernel(X, y, **kw), twin(X, y, **kw)
    np.testing.assert_allclose(weights(a), weights(b), **TOL)
    np.testing.assert_allclose(a.b, b.b, **TOL)
    np.testing.assert_allclose(a.losses, b.losses, **TOL)
