"""Penalties, learning-rate schedules, averaging, early stopping, class weights.

Every option that changes the update runs in the Numba kernels and in
:mod:`fastlr.reference`; the two must agree (float64 rtol 1e-10, float32 to
one rounding of the final cast, see tests/test_reference.py), the threaded
kernel must stay bit-identical to the serial one, and the optimizer state
must carry over ``partial_fit``, ``warm_start`` and model files.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import fastlr
from fastlr import LogisticRegression, _dispatch, reference, verify
from fastlr._state import ModelState

TOL = {np.float64: verify.tolerance("float64"), np.float32: verify.tolerance("float32")}
TOL64 = TOL[np.float64]


def make_data(seed, m=300, n_rel=3, n_irr=0, dtype=np.float64):
    """Binary data with logistic noise; columns of different scale and offset.

    The first ``n_rel`` columns drive the label; ``n_irr`` more are noise.
    """
    rng = np.random.default_rng(seed)
    n = n_rel + n_irr
    Z = rng.normal(size=(m, n))
    beta = np.concatenate([rng.choice([-1.0, 1.0], n_rel) * rng.uniform(1, 2, n_rel),
                           np.zeros(n_irr)])
    y = (Z @ beta + rng.logistic(size=m) > 0).astype(np.int64)
    X = Z * rng.uniform(0.5, 3.0, n) + rng.uniform(-2.0, 2.0, n)
    return X.astype(dtype), y


def assert_same(a, b, dtype):
    assert a.w.dtype == b.w.dtype == dtype
    assert a.losses.shape == b.losses.shape
    np.testing.assert_allclose(a.w, b.w, **TOL[dtype])
    np.testing.assert_allclose(a.b, b.b, **TOL64)
    np.testing.assert_allclose(a.losses, b.losses, **TOL64)


def test_l1_ratio_without_elasticnet_warns_that_it_does_nothing(tmp_path):
    """scikit-learn 1.8 spells L1 ``LogisticRegression(l1_ratio=1)``; here
    ``l1_ratio`` mixes penalty="elasticnet" only, and such code trained an
    L2 model without a word (0 of 30 coefficients zero on breast cancer
    where L1 zeroes 25). Another value than the default with another
    penalty now warns, through every door; the model is still the L2 one."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    kw = dict(epochs=1, random_state=0)
    for call in (lambda: fastlr.train(X, y, l1_ratio=1.0, **kw),
                 lambda: fastlr.train_multinomial(X, y, l1_ratio=1.0, **kw),
                 lambda: reference.train(X, y, l1_ratio=1.0, **kw),
                 lambda: LogisticRegression(l1_ratio=1.0, max_iter=1, solver="sgd",
                                            tol=None).fit(X, y)):
        with pytest.warns(UserWarning, match=r"l1_ratio=1\.0 has no effect with "
                                             r"penalty=(None|'l2').*penalty='l1'"):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fastlr.train(X, y, l1_ratio=0.15, **kw)                        # the default
        fastlr.train(X, y, penalty="elasticnet", l1_ratio=1.0, **kw)   # used
    # once a call (partial_fit checked its parameters twice, and warned
    # twice), and not where parameters are only checked (save, load)
    clf = LogisticRegression(l1_ratio=0.5, solver="sgd", tol=None, max_iter=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.partial_fit(X, y, classes=[0, 1])
        fastlr.save(clf, tmp_path / "m.npz")
        fastlr.load(tmp_path / "m.npz")
    assert [str(w.message)[:20] for w in caught] == ["l1_ratio=0.5 has no "]
    with pytest.warns(UserWarning, match="has no effect with penalty='l1'"):
        res = fastlr.train(X, y, penalty="l1", l1_ratio=0.5, **kw)
    np.testing.assert_array_equal(res.w, fastlr.train(X, y, penalty="l1", **kw).w)


def test_kernel_matches_reference_with_sample_weight(dtype, seed):
    X, y = make_data(seed, dtype=dtype)
    sw = np.random.default_rng(seed).uniform(0, 3, len(y))
    kw = dict(batch_size=32, epochs=4, sample_weight=sw, random_state=seed,
              learning_rate="adagrad", lr=0.1, penalty="elasticnet", alpha=0.01,
              average=5)
    assert_same(fastlr.train(X, y, **kw), reference.train(X, y, **kw), dtype)


@pytest.mark.parametrize("name", ["elasticnet", "invscaling", "adagrad_l1", "all",
                                  "adagrad_avg_l2"])
@pytest.mark.parametrize("dtype_", [np.float64, np.float32], ids=["f64", "f32"])
def test_threaded_kernel_is_bit_identical(monkeypatch, name, dtype_):
    X, y = make_data(5, m=3000, n_rel=6, n_irr=6, dtype=dtype_)
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    kw = dict(batch_size=_dispatch.PARALLEL_MIN_BATCH * 2 + 5, epochs=3, lr=0.05,
              random_state=2)
    kw.update(verify.OPTIONS[name])
    one = fastlr.train(X, y, n_threads=1, **kw)
    many = fastlr.train(X, y, n_threads=numba.config.NUMBA_NUM_THREADS, **kw)
    np.testing.assert_array_equal(one.w, many.w)
    assert one.b == many.b
    np.testing.assert_array_equal(one.losses, many.losses)
    assert_same(many, reference.train(X, y, **kw), dtype_)


# --------------------------------------------------------------------------
# penalties


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
@pytest.mark.parametrize("learning_rate, lr", [("constant", 0.05), ("adagrad", 0.2)])
def test_l1_zeroes_irrelevant_features_exactly(seed, penalty, learning_rate, lr):
    X, y = make_data(seed, m=2000, n_rel=3, n_irr=7)
    kw = dict(batch_size=32, epochs=30, lr=lr, learning_rate=learning_rate,
              penalty=penalty, alpha=0.04, random_state=seed)
    if penalty == "elasticnet":
        kw.update(l1_ratio=0.9)
    res = fastlr.train(X, y, **kw)
    assert (res.w[3:] == 0.0).all(), res.w
    assert (np.abs(res.w[:3]) > 0.05).all(), res.w
    ref = reference.train(X, y, **kw)
    np.testing.assert_array_equal(ref.w == 0.0, res.w == 0.0)
    # without the L1 part no weight is exactly zero
    plain = fastlr.train(X, y, **dict(kw, penalty="l2", l1_ratio=0.15))
    assert (plain.w != 0.0).all()


def test_estimator_l1_sparse_coef(seed):
    X, y = make_data(seed, m=2000, n_rel=3, n_irr=7)
    clf = LogisticRegression(penalty="l1", alpha=0.04, max_iter=30, tol=None,
                             random_state=seed).fit(X, y)
    assert (clf.coef_[0, 3:] == 0.0).all()
    assert (clf.coef_[0, :3] != 0.0).all()


def _objective(Xs, y, w, b, alpha):
    z = Xs @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * alpha * w @ w)


@pytest.mark.parametrize("kw", [
    dict(learning_rate="adaptive", lr=0.05, tol=1e-7, epochs=400),
    dict(learning_rate="constant", lr=0.02, average=2000, epochs=150),
], ids=["adaptive", "averaged"])
def test_l2_objective_matches_sklearn(seed, kw):
    """At convergence, mean log-loss + alpha/2 ||w||^2 on the standardized
    features matches scikit-learn's LogisticRegression(C=1/(alpha*m)) on the
    same standardized X to 1e-3 relative (the mapping in the docstring)."""
    X, y = make_data(seed, m=2000, n_rel=4, n_irr=2)
    m = X.shape[0]
    alpha = 0.01
    mean, sd = X.mean(axis=0), X.std(axis=0)
    Xs = (X - mean) / sd
    sk = SkLogisticRegression(C=1.0 / (alpha * m), tol=1e-12, max_iter=10_000)
    sk.fit(Xs, y)
    best = _objective(Xs, y, sk.coef_[0], sk.intercept_[0], alpha)
    res = fastlr.train(X, y, batch_size=32, penalty="l2", alpha=alpha,
                       random_state=seed, **kw)
    # the standardized-space model of the returned raw-space (w, b)
    ws, bs = res.w * sd, res.b + res.w @ mean
    got = _objective(Xs, y, ws, bs, alpha)
    assert got >= best * (1 - 1e-9)
    assert (got - best) / best < 1e-3, (got, best)


# --------------------------------------------------------------------------
# learning-rate schedules


def test_invscaling_with_power_0_is_constant(seed):
    X, y = make_data(seed)
    kw = dict(batch_size=40, epochs=3, lr=0.1, random_state=seed)
    a = fastlr.train(X, y, learning_rate="invscaling", power_t=0.0, **kw)
    b = fastlr.train(X, y, **kw)
    np.testing.assert_array_equal(a.w, b.w)


def test_invscaling_counts_steps(seed):
    """One batch per epoch: epoch e's step uses lr / e**power_t, i.e. the same
    step as a constant-rate run given that rate for that one step."""
    X, y = make_data(seed)
    m = X.shape[0]
    kw = dict(batch_size=m, shuffle=False, epoch_loss=None, random_state=seed)
    inv = fastlr.train(X, y, epochs=2, lr=0.4, learning_rate="invscaling",
                       power_t=1.0, **kw)
    clf = LogisticRegression(batch_size=m, shuffle=False, penalty=None, tol=None,
                             lr=0.4)
    clf.partial_fit(X, y, classes=[0, 1])
    clf.set_params(lr=0.2).partial_fit(X, y)  # 0.4 / 2**1
    np.testing.assert_allclose(clf.coef_[0], inv.w, rtol=1e-12, atol=1e-15)


def test_adaptive_divides_lr_until_floor(seed):
    """tol=10 never counts as improvement: every epoch after the first stalls,
    lr goes 0.05 -> 0.01 -> ... (seven divisions to 6.4e-7), and the stall
    after that, with lr <= 1e-6, stops training: 9 epochs, as scikit-learn."""
    X, y = make_data(seed)
    kw = dict(batch_size=40, epochs=100, lr=0.05, tol=10.0, n_iter_no_change=1,
              random_state=seed)
    a = fastlr.train(X, y, learning_rate="adaptive", **kw)
    b = reference.train(X, y, learning_rate="adaptive", **kw)
    assert a.losses.shape == (9,)
    assert_same(a, b, np.float64)
    # the constant rate stops at the first stall instead
    assert fastlr.train(X, y, **kw).losses.shape == (2,)
    # without tol nothing stalls: adaptive is the constant rate
    kw["tol"] = None
    kw["epochs"] = 5
    np.testing.assert_array_equal(
        fastlr.train(X, y, learning_rate="adaptive", **kw).w,
        fastlr.train(X, y, **kw).w)


def test_adagrad_is_robust_on_unscaled_features():
    """Features spanning three orders of magnitude, standardize=False: the
    constant rate that suits unit-scale features does not converge, AdaGrad
    gets within 3% of the standardized optimum's log-loss."""
    rng = np.random.default_rng(0)
    m = 3000
    Z = rng.normal(size=(m, 4))
    y = (Z @ np.array([1.0, -1.0, 0.5, 2.0]) + rng.logistic(size=m) > 0).astype(int)
    X = Z * np.array([100.0, 1.0, 0.1, 10.0])
    kw = dict(batch_size=32, epochs=50, standardize=False, random_state=0)

    def loss(res):
        return fastlr.log_loss(y, fastlr.predict_proba(X, res.w, res.b))

    best = loss(fastlr.train(X, y, batch_size=32, epochs=50, lr=0.05,
                             random_state=0))
    ada = loss(fastlr.train(X, y, lr=0.1, learning_rate="adagrad", **kw))
    assert ada < 1.03 * best
    try:
        const = loss(fastlr.train(X, y, lr=0.01, **kw))
    except fastlr.DivergedError:
        const = math.inf
    assert const > 1.5 * best


# --------------------------------------------------------------------------
# averaging


def test_average_start_beyond_training_is_plain_sgd(seed):
    X, y = make_data(seed)
    kw = dict(batch_size=40, epochs=3, lr=0.1, random_state=seed)
    a = fastlr.train(X, y, average=10_000, **kw)
    b = fastlr.train(X, y, **kw)
    np.testing.assert_array_equal(a.w, b.w)
    c = fastlr.train(X, y, average=True, **kw)
    assert not np.allclose(c.w, b.w)


def test_averaged_model_is_mean_of_iterates(seed):
    """With one batch per epoch and no shuffle, each epoch is one step: the
    averaged model is the mean of the per-epoch plain-SGD iterates."""
    X, y = make_data(seed)
    m = X.shape[0]
    kw = dict(batch_size=m, shuffle=False, lr=0.5, standardize=False,
              random_state=seed)
    iterates = [fastlr.train(X, y, epochs=e, **kw) for e in range(1, 6)]
    avg = fastlr.train(X, y, epochs=5, average=3, **kw)
    want_w = np.mean([r.w for r in iterates[2:]], axis=0)
    want_b = np.mean([r.b for r in iterates[2:]])
    np.testing.assert_allclose(avg.w, want_w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(avg.b, want_b, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------
# the schedule continues across partial_fit, warm_start and model files

CONTINUED = {
    "invscaling_en": dict(learning_rate="invscaling", lr=0.3, penalty="elasticnet",
                          alpha=0.02),
    "adagrad_l1_avg": dict(learning_rate="adagrad", lr=0.2, penalty="l1",
                           alpha=0.02, average=4),
}


def _estimator_kw(opts):
    kw = dict(opts)
    kw.setdefault("penalty", None)
    return kw


@pytest.mark.parametrize("name", list(CONTINUED))
def test_partial_fit_continues_the_schedule(seed, name):
    X, y = make_data(seed)
    opts = CONTINUED[name]
    res = fastlr.train(X, y, batch_size=32, epochs=3, shuffle=False, **opts)
    clf = LogisticRegression(batch_size=32, shuffle=False, **_estimator_kw(opts))
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_allclose(clf.coef_[0], res.w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(clf.intercept_[0], res.b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(CONTINUED))
def test_warm_start_continues_the_schedule(seed, name):
    X, y = make_data(seed)
    opts = CONTINUED[name]
    res = fastlr.train(X, y, batch_size=32, epochs=5, shuffle=False, **opts)
    clf = LogisticRegression(batch_size=32, shuffle=False, tol=None, max_iter=2,
                             warm_start=True, solver="sgd", **_estimator_kw(opts))
    clf.fit(X, y)
    clf.set_params(max_iter=3).fit(X, y)
    np.testing.assert_allclose(clf.coef_[0], res.w, rtol=1e-12, atol=1e-15)


def test_model_file_round_trip_with_new_options(tmp_path, seed):
    X, y = make_data(seed)
    labels = np.array([3, 7])[y]
    clf = LogisticRegression(learning_rate="adagrad", lr=0.2, penalty="elasticnet",
                             alpha=0.02, l1_ratio=0.5, average=5, max_iter=4,
                             tol=None, class_weight={7: 2.0}, random_state=seed,
                             solver="sgd")
    clf.fit(X, labels)
    path = tmp_path / "m.npz"
    fastlr.save(clf, path)
    with np.load(path, allow_pickle=False) as npz:
        assert {"steps", "gsq", "avg", "l1_u", "l1_q"} <= set(npz.files)
    back = fastlr.load(path)
    assert back.get_params() == clf.get_params()
    assert back.class_weight == {7: 2.0}
    np.testing.assert_array_equal(back.coef_, clf.coef_)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    for name in ModelState.ARRAYS:
        np.testing.assert_array_equal(getattr(back.training_state_, name),
                                      getattr(clf.training_state_, name))
    clf.partial_fit(X, labels)
    back.partial_fit(X, labels)
    np.testing.assert_array_equal(back.coef_, clf.coef_)
    # a default model's file has none of the optional state arrays but its
    # step count (which decides when averaging starts, should it be asked for)
    plain = LogisticRegression(max_iter=2, tol=None).fit(X, y)
    fastlr.save(plain, tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz", allow_pickle=False) as npz:
        assert not {"gsq", "avg", "l1_u", "l1_q"} & set(npz.files)
        assert npz["steps"][0] > 0 and npz["steps"][1] == 0


# --------------------------------------------------------------------------
# early stopping


def test_early_stopping_records_and_keeps_the_best(seed):
    X, y = make_data(seed, m=1000)
    clf = LogisticRegression(early_stopping=True, validation_fraction=0.2, lr=0.5,
                             batch_size=8, max_iter=40, tol=None,
                             random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)
    assert clf.n_iter_ == 40
    scores = clf.validation_scores_
    assert scores.shape == (40,) and (scores < 0).all()
    assert clf.best_validation_score_ == scores.max()
    # the noisy run (large lr, small batches) has a best epoch before the
    # last one, and that epoch's model is the one kept: refitting for exactly
    # that many epochs gives the same coefficients
    best = int(np.argmax(scores)) + 1
    again = LogisticRegression(**{**clf.get_params(), "max_iter": best}).fit(X, y)
    np.testing.assert_array_equal(again.coef_, clf.coef_)
    # the training rows are 80% of X
    plain = LogisticRegression(max_iter=3, tol=None).fit(X, y)
    assert plain.validation_scores_ is None


def test_early_stopping_stops(seed):
    X, y = make_data(seed, m=1000)
    clf = LogisticRegression(early_stopping=True, max_iter=500, tol=1e-4,
                             n_iter_no_change=3, random_state=seed).fit(X, y)
    assert clf.n_iter_ < 500
    assert clf.validation_scores_.shape == (clf.n_iter_,)
    assert clf.score(X, y) > 0.7


def test_early_stopping_with_adaptive_lr(seed):
    X, y = make_data(seed, m=1000)
    clf = LogisticRegression(early_stopping=True, learning_rate="adaptive",
                             max_iter=500, tol=1e-3, n_iter_no_change=2,
                             random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.validation_scores_.shape == (clf.n_iter_,)


def test_early_stopping_split_too_small():
    """A class with a single row cannot be both held out and trained on:
    refused by its label (scikit-learn's message named the class's code,
    not its label, and said to use more data), saying what to do."""
    X, _ = make_data(0, m=12)
    y = np.array([0] * 11 + [1])
    with pytest.raises(ValueError, match=r"validation_fraction=0\.1 .* but the "
                                         r"class 1 has a single row, .* drop "
                                         r"those rows or merge their classes .* "
                                         r"or use early_stopping=False"):
        LogisticRegression(early_stopping=True).fit(X, y)
    # many classes: their labels (not the codes), the first few and a count
    labels = np.array([f"c{i:03d}" for i in range(30)] * 4 + [f"r{i}" for i in range(9)])
    Xk = np.random.default_rng(0).normal(size=(labels.shape[0], 3))
    with pytest.raises(ValueError, match=r"but the classes 'r0', 'r1', 'r2', "
                                         r"'r3', 'r4', 'r5', \.\.\. \(9 in all\) "
                                         r"have a single row, which"):
        LogisticRegression(early_stopping=True).fit(Xk, labels)
    # small data otherwise still splits: at least one held-out row per class
    y = np.array([0, 1] * 6)
    clf = LogisticRegression(early_stopping=True, validation_fraction=0.01,
                             max_iter=3, tol=None).fit(X, y)
    assert clf.validation_scores_.shape == (3,)


# --------------------------------------------------------------------------
# class weights


def test_class_weight_dict_is_sample_weight(seed):
    X, y = make_data(seed)
    labels = np.array(["no", "yes"])[y]
    kw = dict(max_iter=5, tol=None, random_state=seed)
    a = LogisticRegression(class_weight={"no": 3.0}, **kw).fit(X, labels)
    sw = np.where(y == 0, 3.0, 1.0)
    b = LogisticRegression(**kw).fit(X, labels, sample_weight=sw)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    # multiplied into a given sample_weight
    sw2 = np.random.default_rng(seed).uniform(0.5, 2, len(y))
    c = LogisticRegression(class_weight={"no": 3.0}, **kw).fit(X, labels,
                                                               sample_weight=sw2)
    d = LogisticRegression(**kw).fit(X, labels, sample_weight=sw2 * sw)
    np.testing.assert_array_equal(c.coef_, d.coef_)


def test_class_weight_balanced(seed):
    X, y = make_data(seed)
    keep = np.flatnonzero((y == 1) | (np.arange(len(y)) % 4 == 0))  # fewer 0s
    X, y = X[keep], y[keep]
    kw = dict(max_iter=5, tol=None, random_state=seed)
    a = LogisticRegression(class_weight="balanced", **kw).fit(X, y)
    m, k = len(y), np.bincount(y)
    b = LogisticRegression(class_weight={0: m / (2 * k[0]), 1: m / (2 * k[1])},
                           **kw).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    plain = LogisticRegression(**kw).fit(X, y)
    # balancing moves predictions toward the rare class 0
    assert (a.predict(X) == 0).sum() > (plain.predict(X) == 0).sum()


def test_class_weight_in_partial_fit(seed):
    X, y = make_data(seed)
    clf = LogisticRegression(class_weight={1: 2.0}, shuffle=False)
    clf.partial_fit(X, y, classes=[0, 1])
    ref = LogisticRegression(shuffle=False)
    ref.partial_fit(X, y, classes=[0, 1], sample_weight=np.where(y == 1, 2.0, 1.0))
    np.testing.assert_array_equal(clf.coef_, ref.coef_)
    with pytest.raises(ValueError, match="class_weight='balanced'.*partial_fit"):
        LogisticRegression(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def _weight_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught
            if issubclass(w.category, fastlr.WeightScaleWarning)]


def test_sgd_warns_of_weights_whose_mean_is_far_from_1():
    """SGD's step on a row is lr times its weight: weights of mean outside
    [1/16, 16] (normalized to sum 1, survey expansion weights) take steps
    that many times smaller or larger, which tol does not see. fit (SGD
    beyond auto's first epoch: solver="sgd", early_stopping), train and
    train_many warn once, naming the argument; auto, lbfgs and partial_fit
    do not."""
    X, y = make_data(0, m=64)
    kw = dict(max_iter=4, tol=None, random_state=0)
    for mean, warns in [(1.0, False), (16.0, False), (1 / 16, False),
                        (16.5, True), (1 / 16.5, True)]:
        sw = np.full(64, mean)
        got = _weight_warnings(lambda sw=sw: LogisticRegression(
            solver="sgd", **kw).fit(X, y, sample_weight=sw))
        assert len(got) == int(warns), (mean, got)
        if warns:
            assert got[0].startswith(f"sample_weight has mean {mean:.3g} ")
            assert "lr times its weight" in got[0] and "mean 1" in got[0]
    # a row of weight 0 is a row left out: the mean is the others'
    sw = np.where(np.arange(64) % 2 == 0, 0.0, 2.0)
    assert _weight_warnings(lambda: LogisticRegression(solver="sgd", **kw).fit(
        X, y, sample_weight=sw)) == []
    # class weights alone, early_stopping (which runs SGD)
    got = _weight_warnings(lambda: LogisticRegression(
        class_weight={0: 1e-3, 1: 1e-3}, early_stopping=True, **kw).fit(X, y))
    assert len(got) == 1 and got[0].startswith("class_weight has mean 0.001 ")
    got = _weight_warnings(lambda: LogisticRegression(
        class_weight={0: 100.0}, solver="sgd", **kw).fit(X, y, sample_weight=np.full(
            64, 100.0)))
    assert len(got) == 1 and got[0].startswith("sample_weight times class_weight")
    tiny = np.full(64, 1e-4)
    for call in [lambda: LogisticRegression(**kw).fit(X, y, sample_weight=tiny),
                 lambda: LogisticRegression(solver="lbfgs", **kw).fit(
                     X, y, sample_weight=tiny),
                 lambda: LogisticRegression().partial_fit(
                     X, y, classes=[0, 1], sample_weight=tiny),
                 lambda: fastlr.train(X, y, epochs=2, sample_weight=tiny,
                                      solver="lbfgs")]:
        assert _weight_warnings(call) == []
    got = _weight_warnings(lambda: fastlr.train(X, y, epochs=3, sample_weight=tiny))
    assert len(got) == 1 and got[0].startswith("sample_weight has mean 0.0001 ")
    # train's rows: the mean of the rows trained on
    rows = np.arange(64) < 40
    sw = np.where(rows, 1.0, 1e6)
    assert _weight_warnings(lambda: fastlr.train(X, y, epochs=2, sample_weight=sw,
                                                 rows=rows)) == []
    got = _weight_warnings(lambda: fastlr.train_many(X, y, [1e-3, 1e-2], epochs=2,
                                                     sample_weight=tiny))
    assert len(got) == 1 and got[0].startswith("sample_weight has mean")


def test_every_sgd_path_warns_of_the_weights_scale_once():
    """LogisticRegressionCV's grid with solver="sgd" warned only through its
    refit, so refit=False said nothing; the reference (the kernels' NumPy
    twin) never warned. Each SGD call now warns once, naming the weights;
    the solvers do not."""
    X, y = make_data(0, m=64)
    tiny = np.full(64, 1e-4)
    cv = dict(alphas=[1e-3, 1e-2], cv=2, max_iter=3, tol=None, random_state=0)
    for refit in (False, True):
        got = _weight_warnings(lambda refit=refit: fastlr.LogisticRegressionCV(
            solver="sgd", refit=refit, **cv).fit(X, y, sample_weight=tiny))
        assert len(got) == 1 and got[0].startswith("sample_weight has mean 0.0001 ")
        got = _weight_warnings(lambda refit=refit: fastlr.LogisticRegressionCV(
            solver="sgd", refit=refit, class_weight={0: 1e-3, 1: 1e-3}, **cv).fit(X, y))
        assert len(got) == 1 and got[0].startswith("class_weight has mean 0.001 ")
        assert _weight_warnings(lambda refit=refit: fastlr.LogisticRegressionCV(
            solver="lbfgs", refit=refit, **cv).fit(X, y, sample_weight=tiny)) == []
    y3 = np.arange(64) % 3
    for call in [lambda: reference.train(X, y, epochs=2, sample_weight=tiny),
                 lambda: reference.train_multinomial(X, y3, epochs=2,
                                                     sample_weight=tiny),
                 lambda: reference.train_many(X, y, [1e-3, 1e-2], folds=2, epochs=2,
                                              sample_weight=tiny)]:
        got = _weight_warnings(call)
        assert len(got) == 1 and got[0].startswith("sample_weight has mean 0.0001 ")
    # the rows trained on, as fastlr.train's
    rows = np.arange(64) < 40
    assert _weight_warnings(lambda: reference.train(
        X, y, epochs=2, sample_weight=np.where(rows, 1.0, 1e6), rows=rows)) == []
    assert _weight_warnings(lambda: reference.train(
        X, y, epochs=2, sample_weight=tiny, solver="lbfgs")) == []


def test_all_zero_weights_name_what_was_given():
    X, y = make_data(0, m=50)
    for cw, sw, match in [
            (None, np.zeros(50), r"^sample_weight is zero for every sample"),
            ({0: 0.0, 1: 0.0}, None, r"^class_weight gives every sample weight zero"),
            ({0: 0.0, 1: 0.0}, np.ones(50),
             r"^sample_weight times class_weight gives every sample weight zero")]:
        with pytest.raises(ValueError, match=match):
            LogisticRegression(class_weight=cw).fit(X, y, sample_weight=sw)


def test_class_weight_labels_that_are_not_classes():
    """scikit-learn's rule (compute_class_weight): a dict label that is not
    a class is ignored when the dict names every class, so that a
    cross-validation split without a class fits; with a class left out it
    is refused, naming class_weight."""
    from sklearn.model_selection import KFold, cross_val_score
    X, y = make_data(0, m=120)
    y = y + (np.arange(120) % 3 == 0)   # classes 0, 1, 2
    kw = dict(max_iter=5, tol=None, random_state=0)
    every = {0: 1.0, 1: 2.0, 2: 0.5}
    a = LogisticRegression(class_weight=every, **kw).fit(X, y)
    b = LogisticRegression(class_weight={**every, 7: 3.0}, **kw).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    # folds of class-sorted rows: the first training split lacks class 0
    order = np.argsort(y, kind="stable")
    scores = cross_val_score(LogisticRegression(class_weight=every, **kw),
                             X[order], y[order], cv=KFold(3), error_score="raise")
    assert scores.shape == (3,)
    with pytest.raises(ValueError, match=r"^class_weight names the label 7, which "
                       r"is not one of the classes \[0, 1, 2\], and leaves out "
                       r"the classes \[2\]"):
        LogisticRegression(class_weight={0: 1.0, 1: 2.0, 7: 3.0}).fit(X, y)
    # partial_fit: the classes declared are the classes
    c = LogisticRegression(class_weight={**every, 7: 3.0}, shuffle=False)
    c.partial_fit(X, y, classes=[0, 1, 2])
    d = LogisticRegression(class_weight=every, shuffle=False)
    d.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(c.coef_, d.coef_)
    e = LogisticRegression(class_weight={0: 1.0, 7: 3.0})
    with pytest.raises(ValueError, match="class_weight names the label 7"):
        e.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(e, "coef_")
    # LogisticRegressionCV follows LogisticRegression's rule
    cv = fastlr.LogisticRegressionCV(alphas=[1e-2], cv=2, class_weight={**every, 7: 3.0},
                                     random_state=0).fit(X, y)
    ref = fastlr.LogisticRegressionCV(alphas=[1e-2], cv=2, class_weight=every,
                                      random_state=0).fit(X, y)
    np.testing.assert_array_equal(cv.coef_, ref.coef_)


# --------------------------------------------------------------------------
# bad input


def _X():
    return make_data(0, m=50)[0]


def _y():
    return make_data(0, m=50)[1]


BAD_TRAIN = [
    ("penalty", "l3", ValueError, r"^penalty must be one of"),
    ("penalty", "L1", ValueError, r"^penalty must be one of"),
    ("l1_ratio", -0.1, ValueError, r"^l1_ratio must lie in \[0, 1\]"),
    ("l1_ratio", 1.5, ValueError, r"^l1_ratio must lie in \[0, 1\]"),
    ("l1_ratio", math.nan, ValueError, r"^l1_ratio must be finite"),
    ("l1_ratio", "0.5", TypeError, r"^l1_ratio must be a real number"),
    ("alpha", -1e-3, ValueError, r"^alpha must be >= 0"),
    ("learning_rate", "cosine", ValueError, r"^learning_rate must be one of"),
    ("learning_rate", None, ValueError, r"^learning_rate must be one of"),
    # (train's default penalty is None)
    ("learning_rate", "optimal", ValueError,
     r"^learning_rate='optimal' needs a penalty with alpha > 0 .*penalty=None"),
    ("power_t", -0.5, ValueError, r"^power_t must be >= 0"),
    ("power_t", math.inf, ValueError, r"^power_t must be finite"),
    ("power_t", "half", TypeError, r"^power_t must be a real number"),
    ("lr", 0.0, ValueError, r"^lr must be > 0"),
    ("lr", math.inf, ValueError, r"^lr must be finite"),
    ("average", -1, ValueError, r"^average must be >= 0"),
    ("average", 2.5, TypeError, r"^average must be an integer"),
    # (numba's TypingError 'Int value is too large' from inside the epoch)
    ("average", 2**64, ValueError, r"^average must be at most 2\*\*63 - 1"),
]


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["fastlr", "reference"])
@pytest.mark.parametrize("name, value, exc, match", BAD_TRAIN,
                         ids=[f"{n}_{v!r}" for n, v, _, _ in BAD_TRAIN])
def test_train_bad_options(mod, name, value, exc, match):
    X, y = _X(), _y()
    X0, y0 = X.copy(), y.copy()
    calls = []
    with pytest.raises(exc, match=match):
        mod.train(X, y, epochs=2, callback=lambda *a: calls.append(a),
                  **{name: value})
    assert not calls
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


BAD_ESTIMATOR = [
    ({"penalty": "lasso"}, ValueError, "penalty"),
    ({"l1_ratio": 2.0}, ValueError, "l1_ratio"),
    ({"alpha": -1.0}, ValueError, "alpha"),
    ({"learning_rate": "cosine"}, ValueError, "learning_rate"),
    ({"learning_rate": "optimal", "alpha": 0.0}, ValueError,
     r"learning_rate='optimal' needs a penalty with alpha > 0 .*alpha=0\.0"),
    ({"learning_rate": "optimal", "penalty": None}, ValueError,
     r"learning_rate='optimal' needs a penalty with alpha > 0 .*penalty=None"),
    ({"power_t": -1.0}, ValueError, "power_t"),
    ({"lr": -0.1}, ValueError, "lr"),
    ({"average": -3}, ValueError, "average"),
    ({"average": 2**70}, ValueError, "average"),   # (was OverflowError)
    ({"validation_fraction": 0.0}, ValueError, "validation_fraction"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    ({"validation_fraction": "a"}, TypeError, "validation_fraction"),
    ({"early_stopping": "yes"}, TypeError, "early_stopping"),
    ({"class_weight": "auto"}, ValueError, "class_weight"),
    ({"class_weight": {2: 1.0}}, ValueError, r"class_weight names the label 2"),
    ({"class_weight": {"a": 1.0}}, ValueError, r"class_weight names the label 'a'"),
    ({"class_weight": {1: -1.0}}, ValueError, r"class_weight\[1\] must be"),
    ({"class_weight": {1: math.nan}}, ValueError, r"class_weight\[1\] must be"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD_ESTIMATOR,
                         ids=[f"{next(iter(k))}_{i}" for i, (k, _, _) in
                              enumerate(BAD_ESTIMATOR)])
def test_estimator_bad_options(kwargs, exc, match):
    X, y = _X(), _y()
    clf = LogisticRegression(**kwargs)
    with pytest.raises(exc, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "coef_")
    clf = LogisticRegression(**kwargs)
    with pytest.raises(exc, match=match):
        clf.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(clf, "coef_")


def test_optimal_without_a_strength_is_refused_before_anything_runs():
    """"optimal"'s step is ``1 / (alpha (t0 + t - 1))``: with no penalty or
    an alpha of 0 (one of a grid's too) every entry point refuses it,
    naming ``learning_rate`` and ``alpha``, before it trains anything; a
    fitted model continued so is left as it was."""
    from fastlr import distributed

    X, y = _X(), _y()
    match = r"^learning_rate='optimal' needs a penalty with alpha > 0"
    clf = LogisticRegression(solver="sgd", max_iter=2, tol=None).fit(X, y)
    coef, steps = clf.coef_.copy(), clf.training_state_.steps.copy()
    clf.set_params(learning_rate="optimal", alpha=0.0)
    for call in (lambda: clf.partial_fit(X, y),
                 lambda: clf.set_params(warm_start=True).fit(X, y)):
        with pytest.raises(ValueError, match=match):
            call()
        np.testing.assert_array_equal(clf.coef_, coef)
        np.testing.assert_array_equal(clf.training_state_.steps, steps)
    calls = []
    for mod in (fastlr, reference):
        with pytest.raises(ValueError, match=match + r".*alpha=\[0\.001, 0\.0\]"):
            mod.train_many(X, y, [1e-3, 0.0], learning_rate="optimal",
                           callback=lambda *a: calls.append(a))
    assert not calls
    with pytest.raises(ValueError, match=match):
        fastlr.LogisticRegressionCV(alphas=[1.0, 0.0], learning_rate="optimal",
                                    cv=2).fit(X, y)
    with pytest.raises(ValueError, match=match):
        distributed.train(X, y, learning_rate="optimal", penalty="l2", alpha=0.0)
    # a penalty above 0 trains
    fastlr.LogisticRegressionCV(alphas=[1.0, 1e-2], learning_rate="optimal",
                                cv=2, max_iter=2, solver="sgd", tol=None).fit(X, y)


# --------------------------------------------------------------------------
# compiled specializations: every option combination shares one per dtype

_SIGNATURE_SCRIPT = textwrap.dedent(
    """
    import json, itertools
    import numpy as np
    import fastlr
    from fastlr._kernels import dense, update

    rng = np.random.default_rng(0)
    X64 = rng.normal(size=(300, 4))
    y = (X64[:, 0] + rng.normal(size=300) > 0).astype(np.int64)
    for dt in (np.float32, np.float64):
        for pen, lrs, avg in itertools.product(
                [None, "l2", "l1", "elasticnet"],
                ["constant", "invscaling", "adaptive", "adagrad"],
                [False, True, 3]):
            fastlr.train(X64.astype(dt), y, batch_size=50, epochs=2, penalty=pen,
                         learning_rate=lrs, average=avg, tol=1e-3, power_t=1,
                         l1_ratio=1, alpha=0, random_state=0)
    print(json.dumps({"sgd_epoch": len(dense.epoch.signatures),
                      "_step": len(update.step.signatures)}))
    """
)


def test_options_add_no_specializations():
    root = Path(fastlr.__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run([sys.executable, "-c", _SIGNATURE_SCRIPT], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 1 <= counts["sgd_epoch"] <= 2
    assert counts["_step"] <= 1  # 0 when the kernels came from numba's cache


def test_every_schedule_and_penalty_is_wired_and_verified():
    """One table of names (``fastlr._driver``): each learning rate has its
    kernel code, each name is a CLI choice, and each has an update-rule case
    in ``fastlr.verify`` (which the kernel-vs-twin tests and asv run), so a
    new schedule or penalty cannot run untested or fall back silently."""
    from fastlr import _driver, cli
    from fastlr._kernels import update

    codes = [update.schedule_code(rate) for rate in _driver.LEARNING_RATES]
    assert sorted(codes) == list(range(len(codes)))
    parser = cli.build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions
                 if "--learning-rate" in a.option_strings)
    assert list(train.choices) == list(_driver.LEARNING_RATES)
    pen = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions
               if "--penalty" in a.option_strings)
    assert list(pen.choices) == ["none" if p is None else p for p in _driver.PENALTIES]
    cases = [verify.OPTIONS[name] for name in verify.UPDATE_RULES]
    for rate in _driver.LEARNING_RATES:
        assert any(c.get("learning_rate", "constant") == rate for c in cases), rate
    for penalty in _driver.PENALTIES:
        assert any(c.get("penalty") == penalty for c in cases), penalty
    assert reference.ADAGRAD_EPS == update.ADAGRAD_EPS   # the twin's own copy


def test_a_schedule_named_but_not_written_fails_its_cases(monkeypatch):
    """A name added to ``fastlr._choices`` without its step size: the twin
    refuses it instead of running it as the constant step (which the
    kernels' ``rate()`` would also do, so that kernel and twin would agree),
    so the cases :mod:`fastlr.verify` generates for it fail."""
    from fastlr import _driver

    monkeypatch.setattr(_driver, "LEARNING_RATES", (*_driver.LEARNING_RATES, "cosine"))
    X, y = verify.make_problem(0, 50, 3, "float64", "dense")[:2]
    with pytest.raises(NotImplementedError, match="learning_rate='cosine'"):
        reference.train(X, y, learning_rate="cosine", epochs=1)


def test_a_new_schedule_or_penalty_gets_its_verify_cases():
    """A name added to ``fastlr._choices`` with no hand-written case in
    ``fastlr.verify`` gets generated ones (alone and with the lazy forms), so
    the kernel-against-twin tests and asv check it at once."""
    hand = [verify.OPTIONS[name] for name in verify.UPDATE_RULES]
    without = [c for c in hand if c.get("learning_rate") != "invscaling"
               and c.get("penalty") != "elasticnet"]
    new = verify._cases_for_new_choices(without)
    rates = {c.get("learning_rate") for c in new.values()}
    assert rates == {"invscaling", None, "adagrad"}
    assert [c for c in new.values() if c.get("learning_rate") == "invscaling"
            and c.get("penalty") == "l1" and c.get("average")]
    assert [c for c in new.values() if c.get("penalty") == "elasticnet"
            and c.get("learning_rate") == "adagrad"]
    assert verify._cases_for_new_choices(hand) == {}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_alpha_auto_is_one_over_the_rows_total_weight(sparse):
    """The default ``alpha="auto"`` is scikit-learn's ``C=1``: ``1 /`` the
    total weight of the rows trained on (sample weight times class weight;
    their number without weights), bit for bit the model of that number;
    a ``partial_fit`` stream, whose size no call knows, takes 1e-4."""
    import scipy.sparse as sp
    from sklearn.datasets import make_classification

    X, y = make_classification(200, 6, random_state=0)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    sw = np.random.default_rng(1).uniform(0.5, 2.0, y.shape[0])
    cw = {0: 2.0, 1: 0.5}
    for kw, weights, total in ((dict(), None, 200.0),
                               (dict(solver="sgd", max_iter=5, tol=None), None, 200.0),
                               (dict(class_weight=cw), sw,
                                float((sw * np.where(y == 0, 2.0, 0.5)).sum()))):
        auto = LogisticRegression(random_state=0, **kw).fit(X, y, sample_weight=weights)
        fixed = LogisticRegression(random_state=0, alpha=1.0 / total, **kw).fit(
            X, y, sample_weight=weights)
        np.testing.assert_array_equal(auto.coef_, fixed.coef_)
        np.testing.assert_array_equal(auto.intercept_, fixed.intercept_)
        assert auto.alpha == "auto"
    streams = [LogisticRegression(random_state=0, **kw) for kw in ({}, {"alpha": 1e-4})]
    for est in streams:
        est.partial_fit(X[:100], y[:100], classes=[0, 1])
        est.partial_fit(X[100:], y[100:])
    np.testing.assert_array_equal(streams[0].coef_, streams[1].coef_)


def test_alpha_auto_reaches_scikit_learns_default_model():
    """At the defaults fastlr's model is scikit-learn's ``StandardScaler()``
    + ``LogisticRegression()`` on dense X (both run to a tight tol: the
    solvers' rounding apart)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    ours = LogisticRegression(tol=1e-12, random_state=0).fit(X, y)
    sk = make_pipeline(StandardScaler(), SkLogisticRegression(tol=1e-12, max_iter=10_000))
    sk.fit(X, y)
    scaler, lr = sk[0], sk[1]
    np.testing.assert_allclose(ours.coef_ * scaler.scale_, lr.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-6)


def test_alpha_other_text_is_refused_naming_it():
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    with pytest.raises((TypeError, ValueError), match="alpha"):
        LogisticRegression(alpha="Auto").fit(X, y)


def test_class_weight_labels_are_found_in_time_linear_in_the_classes():
    """Each label is looked up by binary search, not compared with every
    class: a loaded file may hold a million classes and a hundred thousand
    labels (this took minutes)."""
    import time
    classes = np.arange(1_000_000, dtype=np.int64)
    cw = {int(c): 2.0 for c in classes[::10]}
    start = time.perf_counter()
    weights = LogisticRegression(class_weight=cw)._class_weight_values(
        classes, None, fitting=False)
    assert time.perf_counter() - start < 10
    np.testing.assert_array_equal(weights, np.where(classes % 10 == 0, 2.0, 1.0))
    # the same matches as ==: 1.0 and True are the class 1; unsorted strings
    ints = np.array([0, 1, 5])
    got = LogisticRegression(class_weight={1.0: 3.0, np.int8(5): 0.5})
    np.testing.assert_array_equal(got._class_weight_values(ints, None, False),
                                  [1.0, 3.0, 0.5])
    flags = np.array([False, True])
    got = LogisticRegression(class_weight={1: 3.0})
    np.testing.assert_array_equal(got._class_weight_values(flags, None, False),
                                  [1.0, 3.0])
    words = np.array(["spam", "ham", "eggs"], dtype=object)
    got = LogisticRegression(class_weight={"ham": 3.0, "eggs": 0.0, "spam": 2.0,
                                           4: 1.0})
    np.testing.assert_array_equal(got._class_weight_values(words, None, False),
                                  [2.0, 3.0, 0.0])
    with pytest.raises(ValueError, match=r"names the label 1.5, which is not one"):
        LogisticRegression(class_weight={1.5: 2.0})._class_weight_values(
            ints, None, False)
