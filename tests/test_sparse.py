"""Sparse (scipy.sparse) input: the CSR kernels against the dense path and the
NumPy reference.

Contract under test (sparse input support):

* every public function (``train``, ``predict_proba``, ``predict``,
  ``decision_function``, ``gradients``, and their :mod:`fastlr.reference`
  twins) takes any scipy.sparse matrix or array, converts it to CSR without
  densifying and without touching the caller's matrix; float32 stays
  float32, every other numeric dtype computes in float64;
* training on a sparse ``X`` is the dense training on ``X.toarray()``: same
  batches in the same order for the same ``random_state``, every option;
* ``standardize=True`` on sparse input scales each column by its standard
  deviation without centering (centering would fill in the zeros); the dense
  path does the same with ``standardize="scale"``; the default, ``"auto"``,
  trains sparse input as it is (``standardize=False``) and dense input
  standardized (``standardize=True``);
* the estimator fits, predicts and persists on sparse input.

Tolerances. The sparse kernel updates only the coordinates present in a
batch (lazily) and keeps the L2 shrinkage as a scalar (``w = s * v``), so it
agrees with the dense kernel to rounding, not bit for bit: float64 results
are compared at ``rtol=1e-10`` with an ``atol`` near zero (the kernel-vs-
reference contract's figure, as in tests/test_reference.py). For float32 X
every multiply-add still runs in float64 in all implementations; only the
final cast of ``w`` to float32 rounds, and two float64 values that agree to
~1e-15 can land on adjacent float32 values (2**-23 ~ 1.2e-7 apart):
``rtol=1e-6`` for float32 ``w``, float64 tolerance for ``b`` and the losses,
which are float64 for both dtypes (as in tests/test_reference.py).
"""

import math
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

import fastlr
from fastlr import LogisticRegression, core, reference, verify

TOL = {np.float64: verify.tolerance("float64"), np.float32: verify.tolerance("float32")}
TOL64 = TOL[np.float64]
#: estimator comparisons: the contract's figure (fit runs more steps, with L2)
EST_TOL = {"rtol": 1e-9, "atol": 1e-12}

M = 120      # rows: small, so the row-by-row reference and the file stay fast
N = 12       # features
RAGGED = 9   # a batch size that does not divide M
assert M % RAGGED != 0


# --------------------------------------------------------------------------
# data and helpers


def make_data(seed, m=M, n=N, dtype=np.float64):
    """Binary data as CSR, with the features sparse data really has.

    Column densities range from 2% to 60%, so that with batches of RAGGED
    rows many columns are absent from many batches (which is what the lazy
    updates must get right); columns differ in scale and offset (so scaling
    matters); some rows are empty; the last column never occurs (its weight
    must stay exactly 0); column 0 is stored in every row. Labels carry
    logistic noise, thresholded at the median, so both classes occur and the
    optimum is finite.
    """
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(m, n)) * rng.uniform(0.5, 3.0, n) + rng.uniform(-1, 2, n)
    mask = rng.random((m, n)) < np.linspace(0.02, 0.6, n)[rng.permutation(n)]
    mask[:, 0] = True
    mask[::11] = False              # empty rows
    mask[:, n - 1] = False          # a feature that never occurs
    Xd = np.where(mask, dense, 0.0)
    s = Xd @ rng.normal(size=n) + rng.logistic(size=m)
    y = (s > np.median(s)).astype(np.int64)
    assert 0 < y.sum() < m
    X = sp.csr_matrix(Xd.astype(dtype))
    assert X.has_canonical_format
    return X, y


def dense_kw(kw):
    """The dense counterpart of sparse training options: sparse
    ``standardize=True`` is scale-only, which is ``"scale"`` on dense X."""
    out = dict(kw)
    if out.get("standardize", True) is True:
        out["standardize"] = "scale"
    return out


def assert_same(a, b, dtype=np.float64, tol=None):
    """Two ``TrainResult``s agree: dtypes, shapes, w, b and the losses."""
    tol = TOL[dtype] if tol is None else tol
    tol64 = TOL64 if tol is None else tol
    assert isinstance(a, fastlr.TrainResult) and isinstance(b, fastlr.TrainResult)
    assert a.w.dtype == b.w.dtype == dtype, (a.w.dtype, b.w.dtype)
    assert isinstance(a.b, float) and isinstance(b.b, float)
    assert a.losses.shape == b.losses.shape
    np.testing.assert_allclose(a.w, b.w, **tol)
    np.testing.assert_allclose(a.b, b.b, **tol64)
    np.testing.assert_allclose(a.losses, b.losses, **tol64)


def four_ways(X, y, dtype=np.float64, cmp_tol=None, **kw):
    """Train on sparse X with the kernel and the reference, and on
    ``X.toarray()`` with both; all four must agree. Returns the kernel's."""
    a = fastlr.train(X, y, **kw)
    assert_same(a, reference.train(X, y, **kw), dtype, cmp_tol)
    Xd = X.toarray()
    assert_same(a, fastlr.train(Xd, y, **dense_kw(kw)), dtype, cmp_tol)
    assert_same(a, reference.train(Xd, y, **dense_kw(kw)), dtype, cmp_tol)
    return a


def snapshot(X):
    """Copies of the arrays that make up a sparse matrix."""
    names = {"csr": ("data", "indices", "indptr"), "csc": ("data", "indices", "indptr"),
             "bsr": ("data", "indices", "indptr"), "coo": ("data", "row", "col")}
    fmt = X.format
    if fmt in names:
        arrays = {k: getattr(X, k).copy() for k in names[fmt]}
    else:
        arrays = {"dense": X.toarray()}
    return fmt, X.shape, X.dtype, arrays


def assert_unchanged(X, snap):
    fmt, shape, dtype, arrays = snap
    assert X.format == fmt and X.shape == shape and X.dtype == dtype
    for name, before in arrays.items():
        now = X.toarray() if name == "dense" else getattr(X, name)
        assert now.dtype == before.dtype, name
        np.testing.assert_array_equal(now, before, err_msg=name)


# Every scipy.sparse container: the contract says "any matrix or array".
FORMATS = {
    "csr_matrix": sp.csr_matrix, "csr_array": sp.csr_array,
    "csc_matrix": sp.csc_matrix, "csc_array": sp.csc_array,
    "coo_matrix": sp.coo_matrix, "coo_array": sp.coo_array,
    "lil_matrix": sp.lil_matrix, "dok_array": sp.dok_array,
    "bsr_matrix": sp.bsr_matrix, "dia_array": sp.dia_array,
}


def to_format(X, fmt):
    """X in the named container (DIA of random data warns that it is
    inefficient, which is the point of testing it: it is still accepted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
        return FORMATS[fmt](X)


MAIN_FORMATS = ["csr_matrix", "csr_array", "csc_matrix", "coo_array"]

BASE = dict(batch_size=RAGGED, epochs=5, lr=0.1, random_state=7)

# The options that change the update rule (fastlr.verify.UPDATE_RULES); the
# lazy sparse update must reproduce each. L2 (and elasticnet's L2 part)
# shrinks every weight every step, AdaGrad with L2 gives absent coordinates a
# gradient, averaging and the cumulative L1 act on every coordinate: the cases
# where "lazy" is easy to get wrong.
OPTIONS = {name: verify.OPTIONS[name] for name in verify.UPDATE_RULES}
SHUFFLES = pytest.mark.parametrize("shuffle", [True, "rows", False],
                                   ids=["blocks", "rows", "ordered"])
STANDARDIZE = pytest.mark.parametrize("standardize", [False, True],
                                      ids=["raw", "scaled"])


# --------------------------------------------------------------------------
# train: sparse kernel == sparse reference == dense kernel/reference on toarray


@STANDARDIZE
@SHUFFLES
@pytest.mark.parametrize("name", list(OPTIONS))
def test_train_matches_dense_and_reference(name, shuffle, standardize):
    X, y = make_data(1)
    kw = {**BASE, "shuffle": shuffle, "standardize": standardize, **OPTIONS[name]}
    a = four_ways(X, y, **kw)
    assert np.abs(a.w).max() > 1e-3  # the model moved away from w = 0
    assert a.w[-1] == 0.0            # a feature that never occurs keeps w = 0


@pytest.mark.parametrize("name", ["default", "l2", "elasticnet", "adagrad_l2",
                                  "average_l1", "all"])
def test_train_float32_stays_float32(name):
    X, y = make_data(2, dtype=np.float32)
    kw = {**BASE, "standardize": True, **OPTIONS[name]}
    a = four_ways(X, y, dtype=np.float32, **kw)
    assert a.w.dtype == np.float32


@pytest.mark.parametrize("batch_size", [1, 2, 7, M - 1, M, M + 5],
                         ids=["b1", "b2", "b7", "m-1", "m", "m+5"])
@pytest.mark.parametrize("penalty", [None, "l2", "l1"], ids=["none", "l2", "l1"])
def test_train_batch_sizes(batch_size, penalty):
    X, y = make_data(3)
    four_ways(X, y, batch_size=batch_size, epochs=3, lr=0.05, penalty=penalty,
              alpha=0.02, standardize=True, random_state=3)


@pytest.mark.parametrize("epoch_loss", ["running", "full", None],
                         ids=["running", "full", "no_loss"])
@pytest.mark.parametrize("name", ["default", "l2", "average_l2", "adagrad_l1"])
def test_train_epoch_loss_modes(epoch_loss, name):
    X, y = make_data(4)
    kw = {**BASE, "standardize": True, "epoch_loss": epoch_loss, **OPTIONS[name]}
    if epoch_loss is None:
        kw.pop("tol", None)
    a = four_ways(X, y, **kw)
    if epoch_loss is None:
        assert np.isnan(a.losses).all()
    else:
        assert np.isfinite(a.losses).all() and (a.losses > 0).all()


def test_full_loss_is_log_loss_of_returned_model():
    """epoch_loss="full" on sparse X is the loss of the raw-space (w, b)."""
    X, y = make_data(5)
    res = fastlr.train(X, y, batch_size=RAGGED, epochs=4, lr=0.1, penalty="l2",
                       alpha=0.01, epoch_loss="full", random_state=5)
    p = fastlr.predict_proba(X, res.w, res.b)
    np.testing.assert_allclose(res.losses[-1], fastlr.log_loss(y, p), rtol=1e-10)


@pytest.mark.parametrize("name", ["default", "l2", "adagrad_elasticnet", "all"])
def test_train_sample_weight(name):
    X, y = make_data(6)
    sw = np.random.default_rng(6).uniform(0, 3, M)
    sw[::9] = 0.0  # zero-weight rows
    sw_before = sw.copy()
    kw = {**BASE, "standardize": True, "sample_weight": sw, **OPTIONS[name]}
    four_ways(X, y, **kw)
    np.testing.assert_array_equal(sw, sw_before)


def test_tol_stops_at_same_epoch():
    X, y = make_data(7)
    kw = dict(batch_size=RAGGED, epochs=300, lr=0.05, tol=1e-3, n_iter_no_change=3,
              penalty="l2", alpha=1e-3, standardize=True, random_state=7)
    a = four_ways(X, y, **kw)
    assert 3 < a.losses.shape[0] < 300  # early stopping really happened


def test_long_l2_run_scaling_trick():
    """Thousands of L2 steps: the scalar ``s`` of ``w = s * v`` shrinks by
    ``(1 - lr * alpha)`` per step (here to ~0.03), and whatever rescaling the
    kernel does must keep it on the dense result to rounding."""
    X, y = make_data(8)
    kw = dict(batch_size=1, epochs=15, lr=0.1, penalty="l2", alpha=0.02,
              standardize=True, random_state=8)
    four_ways(X, y, **kw)


@pytest.mark.parametrize("lr, alpha", [(1.0, 1.0), (0.5, 3.0), (0.2, 4.99)],
                         ids=["factor_zero", "factor_negative", "factor_tiny"])
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling"])
def test_l2_step_factor_zero_or_negative(lr, alpha, learning_rate):
    """``1 - lr * alpha`` of 0, below 0 or ~1e-3: the dense update is
    ``w = (1 - lr*alpha) w - lr g``, fine for any factor; a scaling trick
    ``w = s * v`` that divides by ``s`` breaks at ``s = 0`` unless it resets."""
    X, y = make_data(9)
    four_ways(X, y, batch_size=RAGGED, epochs=3, lr=lr, penalty="l2", alpha=alpha,
              learning_rate=learning_rate, standardize=True, random_state=9)


@pytest.mark.parametrize("lr, alpha, l1_ratio, m, batch_size", [
    (1.0, 1.2, 0.01, M, RAGGED), (0.2, 4.99, 0.002, M, RAGGED),
    (0.1, 0.5, 0.05, 1500, 1)],
    ids=["factor_negative", "factor_tiny", "scale_underflows"])
def test_elastic_net_scale_folds(lr, alpha, l1_ratio, m, batch_size):
    """Elastic net's deferred clip is owed in units of ``v = w / s``. Where
    ``s`` is folded into the weights (a shrink factor of 0 or below, or
    ``|s|`` under MIN_SCALE: here after about 440 of an epoch's 1,500
    steps), what every column owes is paid first, in the old units."""
    X, y = make_data(12, m=m)
    a = four_ways(X, y, batch_size=batch_size, epochs=2, lr=lr, penalty="elasticnet",
                  alpha=alpha, l1_ratio=l1_ratio, standardize=True, random_state=12)
    assert np.count_nonzero(a.w) > 0


@pytest.mark.parametrize("l1_ratio, alpha", [(0.9, 0.02), (0.5, 0.05), (0.15, 0.2)])
def test_elastic_net_weights_reach_zero_between_visits(l1_ratio, alpha):
    """Columns present in 2-60% of the rows, batches of 2: between two
    visits a weight is shrunk and clipped step after step, reaches zero at
    some step and keeps what it is still owed for its next gradient; the
    deferred payment finds that step (the weights, the intercept and the
    losses of all four ways agree)."""
    X, y = make_data(13, m=600)
    a = four_ways(X, y, batch_size=2, epochs=4, lr=0.3, penalty="elasticnet",
                  alpha=alpha, l1_ratio=l1_ratio, standardize=True, shuffle="rows",
                  random_state=13)
    assert 0 < np.count_nonzero(a.w) < N - 1   # some weights held at zero


def test_elastic_net_history_starts_again():
    """An epoch of more steps than the elastic-net history holds
    (HISTORY_STEPS): every column is paid and the history starts again."""
    from fastlr._kernels.update import HISTORY_STEPS

    X, y = make_data(14, m=HISTORY_STEPS + 700)
    a = four_ways(X, y, batch_size=1, epochs=1, lr=0.05, penalty="elasticnet",
                  alpha=0.01, l1_ratio=0.3, standardize=True, random_state=14)
    assert np.count_nonzero(a.w) > 2


@pytest.mark.parametrize("m, n, batch_size", [(400, 200, 100), (64, 2100, 32)],
                         ids=["n200_default_batch", "n2100_batch32"])
def test_wide_rows_visit_same_batches(m, n, batch_size):
    """Shuffled blocks hold about 16 KiB of rows *as dense X* (n * itemsize
    bytes a row) and at most batch_size // 8 rows. From ~170 float64 columns
    at the default batch_size=100 that byte budget, not the batch, sets the
    block size, and with 2100 columns blocks are single rows. The contract
    ("same random_state: same batches and order" as on X.toarray()) holds
    only if sparse X sizes its blocks from the same n * itemsize, not from
    its stored bytes per row."""
    rng = np.random.default_rng(10)
    X = sp.random_array((m, n), density=0.02, format="csr", rng=rng)
    X = sp.csr_matrix(X + sp.csr_matrix((np.ones(m), (np.arange(m), np.zeros(m))),
                                        shape=(m, n)))
    y = (X @ rng.normal(size=n) + 0.3 * rng.logistic(size=m) > 0).astype(np.int64)
    y[:2] = [0, 1]
    four_ways(X, y, batch_size=batch_size, epochs=3, lr=0.1, shuffle=True,
              standardize=True, random_state=10)


def test_never_occurring_and_constant_features():
    """A feature absent from every row keeps weight 0.0 exactly, for every
    penalty; a feature stored with one value in every row has zero spread and
    is left unscaled (scale 1), as in the dense path."""
    X, y = make_data(11)
    Xd = X.toarray()
    Xd[:, 1] = 3.0                       # fully stored constant column
    X = sp.csr_matrix(Xd)
    for opts in ({}, dict(penalty="l2", alpha=0.1), dict(penalty="l1", alpha=0.01),
                 dict(learning_rate="adagrad", lr=0.3, penalty="l2", alpha=0.1),
                 dict(average=True, penalty="elasticnet", alpha=0.05)):
        kw = {"batch_size": RAGGED, "epochs": 3, "lr": 0.1, "standardize": True,
              "random_state": 11, **opts}
        a = four_ways(X, y, **kw)
        assert a.w[-1] == 0.0, opts
        assert np.isfinite(a.w).all()


def test_standardize_scales_without_centering():
    """``standardize=True`` on sparse X trains on ``X / std`` (std over all m
    rows, implicit zeros included; zero spread -> 1), never ``X - mean``.
    Checked against an explicit dense computation, not the "scale" option:
    train unstandardized on ``X / std`` and map the weights back by ``/ std``.
    The explicit division rounds differently from the folded one, hence
    rtol 1e-9 (measured: 2e-15)."""
    X, y = make_data(12)
    Xd = X.toarray()
    Xd[:, 2] = 0.5 * (Xd[:, 2] != 0) + 2.0 * (Xd[:, 2] == 0)  # no zeros: big mean
    X = sp.csr_matrix(Xd)
    std = Xd.std(axis=0)
    std[std == 0] = 1.0
    kw = dict(batch_size=RAGGED, epochs=4, lr=0.1, random_state=12)
    a = fastlr.train(X, y, standardize=True, **kw)
    manual = fastlr.train(Xd / std, y, standardize=False, **kw)
    np.testing.assert_allclose(a.w, manual.w / std, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.b, manual.b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.losses, manual.losses, rtol=1e-9)
    # dense standardize=True still centers: a different model from "scale"
    centered = fastlr.train(Xd, y, standardize=True, **kw)
    assert_same(centered, reference.train(Xd, y, standardize=True, **kw))
    assert not np.allclose(centered.w, a.w, rtol=1e-3)


def test_default_trains_sparse_x_as_it_is_and_dense_x_standardized():
    """``standardize="auto"``, the default of every entry point, is False on
    sparse X and True on dense X: the same models, bit for bit, as those
    options given (the kernels' and the reference's), and the same choice
    in the estimators, ``train_many`` and ``LogisticRegressionCV``. Before,
    the default was True, which on sparse X scales each column by its
    spread: a rare tf-idf term's values (and its penalty's hold) were
    multiplied by the inverse of a small spread (held-out log-loss 2.5
    against 0.61 unscaled on tf-idf-like rows)."""
    X, y = make_data(13)
    Xd = X.toarray()
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, random_state=13)
    for impl in (fastlr, reference):
        assert_same(impl.train(X, y, **kw), impl.train(X, y, standardize=False, **kw))
        assert_same(impl.train(Xd, y, **kw), impl.train(Xd, y, standardize=True, **kw))
    assert_same(fastlr.train(X, y, **kw), reference.train(X, y, **kw))
    y3 = np.arange(y.shape[0]) % 3
    for data, same in ((X, False), (Xd, True)):
        a = fastlr.train_multinomial(data, y3, **kw)
        b = fastlr.train_multinomial(data, y3, standardize=same, **kw)
        np.testing.assert_array_equal(a.W, b.W)
        m1 = fastlr.train_many(data, y, alphas=[1e-3, 1e-1], **kw)
        m2 = fastlr.train_many(data, y, alphas=[1e-3, 1e-1], standardize=same, **kw)
        np.testing.assert_array_equal(m1.W, m2.W)
        est = dict(random_state=0, max_iter=3, solver="sgd", tol=None)
        np.testing.assert_array_equal(
            LogisticRegression(**est).fit(data, y).coef_,
            LogisticRegression(standardize=same, **est).fit(data, y).coef_)
        cv = dict(alphas=3, cv=3, random_state=0, max_iter=3, solver="sgd", tol=None)
        np.testing.assert_array_equal(
            fastlr.LogisticRegressionCV(**cv).fit(data, y).coef_,
            fastlr.LogisticRegressionCV(standardize=same, **cv).fit(data, y).coef_)
    assert LogisticRegression().get_params()["standardize"] == "auto"
    with pytest.raises(ValueError, match="standardize must be True, False, 'scale' "
                                         "or 'auto', got 'yes'"):
        LogisticRegression(standardize="yes").fit(Xd, y)


def test_default_stream_keeps_what_its_first_chunk_chose():
    """A ``partial_fit`` stream under ``standardize="auto"`` keeps the
    choice its first chunk made: started on sparse chunks it stays raw on
    dense ones (the model of ``standardize=False``), started on dense chunks
    it stays standardized, and sparse chunks then meet the refusal a
    centering model gives them."""
    X, y = make_data(15)
    Xd = X.toarray()
    half = X.shape[0] // 2

    def stream(first, **opts):
        """``first`` half of the rows, then the dense rest."""
        est = LogisticRegression(random_state=0, batch_size=8, **opts)
        est.partial_fit(first[:half], y[:half], classes=[0, 1])
        return est.partial_fit(Xd[half:], y[half:])

    a, b = stream(X), stream(X, standardize=False)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.training_state_.moments is None
    a, b = stream(Xd), stream(Xd, standardize=True)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.training_state_.moments.rows == X.shape[0]
    with pytest.raises(ValueError, match="X is sparse but the model centers"):
        a.partial_fit(X[half:], y[half:])


def test_standardize_scale_accepted_on_sparse():
    """``standardize="scale"`` on sparse X means what True means there."""
    X, y = make_data(13)
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, random_state=13)
    assert_same(fastlr.train(X, y, standardize="scale", **kw),
                fastlr.train(X, y, standardize=True, **kw))
    assert_same(reference.train(X, y, standardize="scale", **kw),
                reference.train(X, y, standardize=True, **kw))


def test_returned_weights_are_in_raw_space():
    """``predict`` with the returned (w, b) on raw sparse X is consistent with
    the model trained: full loss of the last epoch == log_loss(predict_proba)."""
    X, y = make_data(14)
    res = fastlr.train(X, y, batch_size=RAGGED, epochs=20, lr=0.2, standardize=True,
                       epoch_loss="full", random_state=14)
    p = fastlr.predict_proba(X, res.w, res.b)
    np.testing.assert_allclose(res.losses[-1], fastlr.log_loss(y, p), rtol=1e-10)
    assert fastlr.accuracy(y, fastlr.predict(X, res.w, res.b)) > 0.6


# --------------------------------------------------------------------------
# formats, dtypes, canonical form


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_sparse_format_gives_the_csr_result(fmt):
    X, y = make_data(15)
    Xf = to_format(X, fmt)
    snap = snapshot(Xf)
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, penalty="l2", alpha=0.01,
              random_state=15)
    base = fastlr.train(X, y, **kw)
    assert_same(fastlr.train(Xf, y, **kw), base)
    assert_same(reference.train(Xf, y, **kw), base)
    w, b = base.w, base.b
    np.testing.assert_allclose(fastlr.predict_proba(Xf, w, b),
                               fastlr.predict_proba(X, w, b), **TOL64)
    np.testing.assert_array_equal(fastlr.predict(Xf, w, b), fastlr.predict(X, w, b))
    np.testing.assert_allclose(core.decision_function(Xf, w, b),
                               core.decision_function(X, w, b), **TOL64)
    p = np.full(M, 0.3)
    np.testing.assert_allclose(fastlr.gradients(Xf, y, p)[0],
                               fastlr.gradients(X, y, p)[0], **TOL64)
    assert_unchanged(Xf, snap)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint16,
                                   np.bool_, np.longdouble],
                         ids=["int8", "int32", "int64", "uint8", "uint16", "bool",
                              "longdouble"])
def test_non_float_dtypes_compute_in_float64(dtype):
    """Integer, bool (and long double, as on the dense path) sparse data become
    float64: same result as the float64 matrix with the same values."""
    X, y = make_data(16)
    Xi = sp.csr_matrix(np.clip(np.round(X.toarray()), 0, 5).astype(dtype))
    Xf = sp.csr_matrix(Xi.toarray().astype(np.float64))
    assert Xi.dtype == dtype
    snap = snapshot(Xi)
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, random_state=16)
    a = fastlr.train(Xi, y, **kw)
    assert a.w.dtype == np.float64
    assert_same(a, fastlr.train(Xf, y, **kw))
    assert_same(reference.train(Xi, y, **kw), a)
    assert fastlr.predict_proba(Xi, a.w, a.b).dtype == np.float64
    assert fastlr.gradients(Xi, y, np.full(M, 0.5))[0].dtype == np.float64
    assert_unchanged(Xi, snap)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_output_dtypes_follow_X(dtype):
    X, y = make_data(17, dtype=dtype)
    res = fastlr.train(X, y, batch_size=RAGGED, epochs=2, random_state=17)
    assert res.w.dtype == dtype and isinstance(res.b, float)
    assert reference.train(X, y, batch_size=RAGGED, epochs=2,
                           random_state=17).w.dtype == dtype
    for mod in (fastlr, reference):
        assert mod.predict_proba(X, res.w, res.b).dtype == dtype
        assert mod.predict(X, res.w, res.b).dtype == np.int64
        dw, db = mod.gradients(X, y, np.full(M, 0.5, dtype=dtype))
        assert dw.dtype == dtype and isinstance(db, float)
    assert core.decision_function(X, res.w, res.b).dtype == dtype


def test_int64_indices():
    """CSR with int64 indices/indptr (what scipy uses for big matrices)."""
    X, y = make_data(18)
    X64 = X.copy()
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    assert X64.indices.dtype == np.int64
    snap = snapshot(X64)
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, penalty="l2", alpha=0.01,
              random_state=18)
    assert_same(fastlr.train(X64, y, **kw), fastlr.train(X, y, **kw))
    np.testing.assert_allclose(fastlr.predict_proba(X64, np.ones(N), 0.1),
                               fastlr.predict_proba(X, np.ones(N), 0.1), **TOL64)
    assert_unchanged(X64, snap)


@pytest.mark.parametrize("dtype", [np.float64, np.uint64, np.uint32])
@pytest.mark.parametrize("part", ["indices", "indptr"])
def test_index_arrays_that_are_not_signed_integers_are_refused_by_name(part, dtype):
    """scipy's checks answered a float or unsigned index array with
    "unsupported data types in input", naming nothing."""
    X, y = make_data(19)
    bad = X.copy()
    setattr(bad, part, getattr(bad, part).astype(dtype))
    for call in (lambda: fastlr.train(bad, y, epochs=1),
                 lambda: fastlr.predict_proba(bad, np.ones(N), 0.1),
                 lambda: fastlr.LogisticRegression(max_iter=1).fit(bad, y),
                 lambda: reference.train(bad, y, epochs=1)):
        with pytest.raises(ValueError, match=f"X is not a valid CSR matrix: its "
                                             f"{part} must hold signed integers"):
            call()


def _form_cases(seed):
    """CSR matrices of more rows than a part of the validation kernel
    (``FORM_ROWS``), with empty rows and runs of them, each with one
    fault (or none) placed at random: rows out of order or duplicated,
    a column index outside ``0..n - 1`` (negative or ``n``), an indptr that
    decreases, a NaN or infinity, and both index dtypes."""
    from fastlr._kernels.stats import FORM_ROWS

    rng = np.random.default_rng(seed)
    m, n = 2 * FORM_ROWS + 37, 9
    Xd = np.where(rng.random((m, n)) < 0.3, rng.normal(size=(m, n)), 0.0)
    Xd[100:300] = 0.0
    X = sp.csr_matrix(Xd)
    for fault in ("none", "unsorted", "duplicate", "negative", "n", "indptr", "nan",
                  "inf", "unsorted+nan"):
        for index in (np.int32, np.int64):
            A = X.copy()
            A.indices, A.indptr = A.indices.astype(index), A.indptr.astype(index)
            row = int(rng.choice(np.flatnonzero(np.diff(A.indptr) >= 2)))
            p = int(A.indptr[row])
            if fault in ("unsorted", "unsorted+nan"):
                A.indices[[p, p + 1]] = A.indices[[p + 1, p]]
            elif fault == "duplicate":
                A.indices[p + 1] = A.indices[p]
            elif fault == "negative":
                A.indices[p] = -1
            elif fault == "n":
                A.indices[p] = n
            elif fault == "indptr":
                A.indptr[row + 1] = A.indptr[row] - 1
            if fault in ("nan", "unsorted+nan"):
                A.data[p + 1] = np.nan
            elif fault == "inf":
                A.data[p] = -np.inf
            yield fault, A


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_validation_kernel_finds_what_numpy_finds(seed):
    """CSR X is validated in one pass by a kernel
    (:func:`fastlr._dispatch.csr_form`, blocks of rows on the team's
    threads); the reference's NumPy passes (:func:`fastlr._validation.csr_form`)
    are its specification: the same flags on every matrix."""
    from fastlr import _dispatch, _validation

    for fault, A in _form_cases(seed):
        for finite in (False, True):
            want = _validation.csr_form(A, finite)
            assert (want != 0) == (fault != "none" and (finite or fault not in
                                                        ("nan", "inf"))), fault
            for threads in (1, 2):
                assert _dispatch.csr_form(A, finite, threads) == want, (fault, finite)


def test_faulty_csr_is_refused_as_before_by_every_path():
    """The bad-input contract of sparse X on every path that validates it:
    a column index outside the width or an indptr that decreases is refused
    naming X, a NaN or infinity naming its first row and column (of the
    canonical matrix: an unsorted row is sorted first), and the caller's
    matrix is left as it was."""
    w = np.linspace(-1, 1, 9)
    calls = {"predict": lambda A: fastlr.predict(A, w, 0.1),
             "predict_proba": lambda A: fastlr.predict_proba(A, w, 0.1),
             "train": lambda A: fastlr.train(A, np.arange(A.shape[0]) % 2, epochs=1),
             "reference": lambda A: reference.predict_proba(A, w, 0.1)}
    est = LogisticRegression(max_iter=1, solver="sgd", tol=None)
    calls["decision_function"] = est.decision_function
    calls["fit"] = lambda A: LogisticRegression(max_iter=1, solver="sgd", tol=None).fit(
        A, np.arange(A.shape[0]) % 2)
    for fault, A in _form_cases(3):
        if fault == "none":
            est.fit(A, np.arange(A.shape[0]) % 2)
            continue
        snap = snapshot(A)
        for call in calls.values():
            if fault in ("unsorted", "duplicate"):
                call(A)
                continue
            if fault in ("negative", "n"):
                match = (r"^X is not a valid CSR matrix: a column index lies "
                         r"outside 0\.\.8$")
            elif fault == "indptr":
                match = (r"^X is not a valid CSR matrix: its indptr is inconsistent "
                         r"with its shape or data$")
            else:
                C = A.copy()
                C.sum_duplicates()
                k = int(np.flatnonzero(~np.isfinite(C.data))[0])
                row = int(np.searchsorted(C.indptr, k, side="right")) - 1
                match = (rf"^X contains NaN or infinity \(first at row {row}, "
                         rf"column {C.indices[k]}\)$")
            with pytest.raises(ValueError, match=match):
                call(A)
        assert_unchanged(A, snap)


def test_csr_validation_holds_no_temporary_of_the_rows_size(traced_peak):
    """The validation of CSR X (indptr, the column indices, and for
    training the values) is one pass that allocates nothing of X's size:
    the NumPy passes it replaced held a boolean a row (indptr's order) and
    a slice of booleans a stored entry."""
    from fastlr._dispatch import as_data

    m = 400_000
    X = sp.random(m, 30, density=0.1, format="csr", random_state=0)
    as_data(X)   # (kernels loaded outside the tracing)
    for call in (lambda: as_data(X), lambda: as_data(X, check=False)):
        data, peak = traced_peak(call)
        assert data.X is X
        assert peak < m // 8, peak


def unsorted_copy(X, seed):
    """Same matrix, column indices within each row in random order."""
    rng = np.random.default_rng(seed)
    data, indices = X.data.copy(), X.indices.copy()
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        perm = lo + rng.permutation(hi - lo)
        data[lo:hi], indices[lo:hi] = data[perm], indices[perm]
    U = sp.csr_matrix((data, indices, X.indptr.copy()), shape=X.shape)
    U.has_sorted_indices = False
    assert not np.array_equal(U.indices, X.indices)
    return U


def with_duplicates(X, seed):
    """Same matrix as a CSR whose entries are split into duplicate pairs
    (a + b stored twice for one (i, j)), in unsorted order."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    Xc = X.tocoo()
    for i, j, v in zip(Xc.row, Xc.col, Xc.data, strict=True):
        if rng.random() < 0.5:
            part = float(rng.uniform(-1, 1))
            rows += [i, i]
            cols += [j, j]
            vals += [part, v - part]
        else:
            rows.append(i)
            cols.append(j)
            vals.append(v)
    order = np.lexsort((rng.random(len(rows)), np.array(rows)))
    rows, cols, vals = (np.array(a)[order] for a in (rows, cols, vals))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=X.shape[0]))])
    D = sp.csr_matrix((vals, cols.astype(np.int32), indptr.astype(np.int32)),
                      shape=X.shape)
    assert not D.has_canonical_format and D.nnz > X.nnz
    return D


@pytest.mark.parametrize("standardize", [False, True], ids=["raw", "scaled"])
def test_unsorted_indices(standardize):
    X, y = make_data(19)
    U = unsorted_copy(X, 19)
    snap = snapshot(U)
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, penalty="l1", alpha=0.01,
              standardize=standardize, random_state=19)
    a = fastlr.train(U, y, **kw)
    assert_same(a, fastlr.train(X, y, **kw))
    assert_same(a, reference.train(U, y, **kw))
    assert_same(a, fastlr.train(U.toarray(), y, **dense_kw(kw)))
    w = np.random.default_rng(19).normal(size=N)
    np.testing.assert_allclose(fastlr.predict_proba(U, w, 0.2),
                               fastlr.predict_proba(X, w, 0.2), **TOL64)
    np.testing.assert_allclose(fastlr.gradients(U, y, np.full(M, 0.4))[0],
                               fastlr.gradients(X, y, np.full(M, 0.4))[0], **TOL64)
    assert_unchanged(U, snap)


@pytest.mark.parametrize("standardize", [False, True], ids=["raw", "scaled"])
def test_duplicate_entries_are_summed_on_a_copy(standardize):
    """Duplicates count as their sum (scipy's sum_duplicates), on a copy:
    the same as training on the canonical matrix and on its toarray().
    The split values (a, v - a) sum back to v only to rounding: rtol 1e-10
    still holds because the sums are exact to ~1 ulp of v."""
    X, y = make_data(20)
    D = with_duplicates(X, 20)
    canonical = D.copy()
    canonical.sum_duplicates()
    snap = snapshot(D)
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, penalty="elasticnet", alpha=0.01,
              standardize=standardize, random_state=20)
    a = fastlr.train(D, y, **kw)
    assert_same(a, fastlr.train(canonical, y, **kw))
    assert_same(a, reference.train(D, y, **kw))
    assert_same(a, fastlr.train(D.toarray(), y, **dense_kw(kw)))
    w = np.random.default_rng(20).normal(size=N)
    for f in (fastlr.predict_proba, core.decision_function):
        np.testing.assert_allclose(f(D, w, 0.2), f(canonical, w, 0.2), **TOL64)
    np.testing.assert_array_equal(fastlr.predict(D, w, 0.2),
                                  fastlr.predict(canonical, w, 0.2))
    np.testing.assert_allclose(fastlr.gradients(D, y, np.full(M, 0.4))[0],
                               fastlr.gradients(canonical, y, np.full(M, 0.4))[0],
                               **TOL64)
    assert_unchanged(D, snap)
    assert not D.has_canonical_format


def _merge_column_pairs(A):
    """Columns 2j and 2j + 1 merged in place (``A.indices //= 2``): rows
    holding both now store column j twice, in sorted order."""
    A.indices //= 2


def _reverse_columns(A):
    """Column j renamed n - 1 - j in place: every row's indices descend."""
    A.indices[:] = A.shape[1] - 1 - A.indices


def _trains_and_predicts_as(A, B, y, kw):
    """``train`` on CSR ``A`` gives the model it gives on ``B`` bit for bit,
    which predicts on ``A`` as on ``B``."""
    a, b = fastlr.train(A, y, **kw), fastlr.train(B, y, **kw)
    np.testing.assert_array_equal(a.w, b.w)
    assert a.b == b.b
    np.testing.assert_array_equal(fastlr.predict_proba(A, a.w, a.b),
                                  fastlr.predict_proba(B, a.w, a.b))


@pytest.mark.parametrize("edit", [_merge_column_pairs, _reverse_columns],
                         ids=["duplicates", "unsorted"])
def test_a_stale_canonical_flag_is_not_trusted(edit):
    """scipy computes ``has_canonical_format`` once and caches it; indices
    edited in place afterwards leave it True. Their duplicates went to the
    kernels as two entries: the column statistics summed (a/2)**2 + (a/2)**2
    for a**2, and the standardized model moved by 10%. The form is read
    from the arrays: the model of the canonical matrix of the same values,
    bit for bit, and the caller's matrix (its cached flag too) unchanged."""
    X, y = make_data(44)
    A = X.copy()
    assert A.has_canonical_format          # computed and cached
    edit(A)
    assert A.has_canonical_format          # stale
    canonical = sp.csr_matrix(A.toarray())
    assert canonical.nnz < A.nnz or not np.array_equal(canonical.indices, A.indices)
    snap = snapshot(A)
    for kw in (dict(standardize=True), dict(standardize=False, penalty="l1",
                                            alpha=0.01)):
        kw = {"batch_size": RAGGED, "epochs": 3, "lr": 0.1, "random_state": 44, **kw}
        _trains_and_predicts_as(A, canonical, y, kw)
    est = LogisticRegression(max_iter=20, tol=None, random_state=0)
    np.testing.assert_array_equal(est.fit(A, y).coef_,
                                  est.fit(canonical, y).coef_)
    assert_unchanged(A, snap)
    assert A.has_canonical_format          # (the stale flag, left as it was)


def _big_endian(*parts, dtype=">i4"):
    def make(A):
        for part in parts:
            setattr(A, part, getattr(A, part).astype(dtype))
    return make


def _strided(part):
    def make(A):
        a = getattr(A, part)
        wide = np.zeros((a.shape[0], 2), dtype=a.dtype)
        wide[:, 0] = a
        setattr(A, part, wide[:, 0])
    return make


#: CSR index arrays numba has no kernel for: it failed to type big-endian
#: ones (a TypingError naming neither X nor the cause) and compiled every
#: kernel anew for the others (15-20 s each, on every machine: ``fastlr
#: compile`` covers int32 or int64 pairs, contiguous and native).
ODD_CSR_ARRAYS = {
    "indices >i4": _big_endian("indices"),
    "indptr >i4": _big_endian("indptr"),
    "both >i8": _big_endian("indices", "indptr", dtype=">i8"),
    "data >f8": _big_endian("data", dtype=">f8"),
    "indices int16": _big_endian("indices", dtype=np.int16),
    "indptr int64, indices int32": _big_endian("indptr", dtype=np.int64),
    "indptr int32, indices int64": _big_endian("indices", dtype=np.int64),
    "indices strided": _strided("indices"),
    "data strided": _strided("data"),
}


@pytest.mark.parametrize("odd", ODD_CSR_ARRAYS)
def test_odd_index_arrays_reach_the_kernels_as_compiled(odd):
    """Such arrays are converted (on a new matrix: the caller's is left as
    it is) to the int32 or int64 pair, native and contiguous, that the
    kernels are compiled for; the results are those of the plain CSR."""
    from fastlr._dispatch import as_data

    X, y = make_data(45)
    A = X.copy()
    ODD_CSR_ARRAYS[odd](A)
    np.testing.assert_array_equal(A.toarray(), X.toarray())
    snap = snapshot(A)
    seen = as_data(A).X
    assert seen.indices.dtype == seen.indptr.dtype
    assert seen.indices.dtype in (np.dtype(np.int32), np.dtype(np.int64))
    for a in (seen.data, seen.indices, seen.indptr):
        assert a.dtype.isnative and a.flags.c_contiguous
    _trains_and_predicts_as(A, X, y, dict(batch_size=RAGGED, epochs=3, lr=0.1,
                                          random_state=45))
    est = LogisticRegression(max_iter=3, tol=None, random_state=0)
    np.testing.assert_array_equal(est.fit(A, y).predict_proba(A),
                                  est.fit(X, y).predict_proba(X))
    assert_unchanged(A, snap)


def test_explicit_zeros():
    """Stored zeros are zeros: same result as without them."""
    X, y = make_data(21)
    # store an explicit 0 at every position that is an implicit zero in X
    Xd = X.toarray()
    Xd[Xd == 0] = 7.0
    Xz = sp.csr_matrix(Xd)
    Xz.data[Xz.data == 7.0] = 0.0
    assert Xz.nnz == M * N > X.nnz
    np.testing.assert_array_equal(Xz.toarray(), X.toarray())
    for kw in (dict(standardize=True, penalty="l1", alpha=0.02),
               dict(standardize=False, learning_rate="adagrad", lr=0.3,
                    penalty="l2", alpha=0.05, average=True)):
        kw = {"batch_size": RAGGED, "epochs": 3, "random_state": 21, **kw}
        assert_same(fastlr.train(Xz, y, **kw), fastlr.train(X, y, **kw))
        assert_same(reference.train(Xz, y, **kw), fastlr.train(X, y, **kw))


def test_read_only_arrays():
    """CSR arrays that are read-only (a memory-mapped file, a dask block) are
    used as they are (a distinct numba type: one more specialization, as for
    dense read-only X), with the same result."""
    X, y = make_data(39)
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, penalty="l2", alpha=0.01,
              random_state=39)
    base = fastlr.train(X, y, **kw)
    R = X.copy()
    for a in (R.data, R.indices, R.indptr):
        a.setflags(write=False)
    assert_same(fastlr.train(R, y, **kw), base)
    np.testing.assert_allclose(fastlr.predict_proba(R, base.w, base.b),
                               fastlr.predict_proba(X, base.w, base.b), **TOL64)


def test_sparse_inputs_share_two_specializations():
    """Every way in (CSR/CSC/COO, matrix or array, row and column slices,
    unsorted, duplicates, integer data, every option) maps to one numba
    specialization per float dtype of each sparse kernel (at most two: input
    is converted at the boundary, and each more specialization costs seconds
    of compilation). int64 indices are a distinct numba type by nature and
    are left out of the count (other tests here compile them); read-only
    arrays are not (the kernels always get X's arrays read-only)."""
    from numba import types

    from fastlr._kernels import predict, sparse, stats

    kernels = {f"{m.__name__}.{name}": getattr(m, name)
               for m in (predict, sparse, stats) for name in dir(m)
               if name.startswith(("csr", "epoch"))}
    # what other tests of this process compiled (a multinomial model, say)
    # is not this test's count
    before = {name: set(getattr(kernel, "signatures", ()))
              for name, kernel in kernels.items()}
    for dt in (np.float32, np.float64):
        X, y = make_data(43, dtype=dt)
        ways = [X, sp.csr_array(X), X.tocsc(), sp.coo_array(X), X[::2], X[:, ::2],
                unsorted_copy(X, 43), sp.csr_matrix(np.round(X.toarray()) > 0),
                _read_only_csr(X), _read_only_csr(X, ("data", "indices", "indptr"))]
        if dt is np.float64:
            ways.append(with_duplicates(X, 43))
        for Xv in ways:
            yv = y[: Xv.shape[0]]
            for opts in ({}, dict(penalty="l2", epoch_loss="full"),
                         dict(penalty="elasticnet", standardize=False, average=2),
                         dict(learning_rate="adagrad", penalty="l1", epoch_loss=None)):
                res = fastlr.train(Xv, yv, batch_size=7, epochs=1, random_state=1,
                                   **opts)
            fastlr.predict(Xv, res.w, res.b)
            fastlr.gradients(Xv, yv, np.full(Xv.shape[0], 0.5))
    counts = {}
    for name, kernel in kernels.items():
        if not hasattr(kernel, "signatures"):
            continue
        plain = [sig for sig in kernel.signatures if sig not in before[name]
                 and not any(isinstance(t, types.Array) and k in (1, 2)
                            and t.dtype == types.int64 for k, t in enumerate(sig))]
        # the epoch and its batches compile one variant for one row of
        # weights and one for more (their last argument); the binary model
        # uses the first only
        counts[name] = len({sig[:-1] for sig in plain}) if name.endswith(
            ("sparse.epoch", "sparse.epoch_batches")) else len(plain)
    assert sparse.epoch.signatures    # really called
    bad = {name: c for name, c in counts.items() if c > 2}
    assert not bad, f"sparse kernels with more than two specializations: {bad}"


def _read_only_csr(X, arrays=("data",)):
    """X with ``arrays`` read-only: ``data`` alone is what joblib hands a
    worker (a memmap of the values); all three, a matrix from
    ``np.load(..., mmap_mode="r")`` or shared memory."""
    X = X.copy()
    for name in arrays:
        getattr(X, name).setflags(write=False)
    return X


@pytest.mark.parametrize("arrays", [("data",), ("data", "indices", "indptr")],
                         ids=["data", "all"])
def test_read_only_csr_compiles_nothing_more_and_fits_the_same(arrays):
    """Read-only CSR arrays (joblib's workers, memmaps) reach the kernels
    as the same numba type as writable ones: after a writable fit, the
    read-only fit (k-class, estimator, prediction) adds no kernel signature,
    which ``fastlr compile`` would not have compiled; and the models are
    bit-identical."""
    from fastlr._kernels import predict, sparse, stats

    X, y = make_data(44)
    Y = np.arange(X.shape[0]) % 3

    def run(Xv):
        res = fastlr.train(Xv, y, batch_size=7, epochs=2, random_state=1)
        multi = fastlr.train_multinomial(Xv, Y, batch_size=7, epochs=2,
                                         random_state=1)
        clf = LogisticRegression(max_iter=3, tol=None, standardize=True,
                                 random_state=0).fit(Xv, Y)
        return (res.w, res.b, multi.W, multi.b, clf.coef_, clf.intercept_,
                fastlr.predict_proba(Xv, res.w, res.b), clf.predict_proba(Xv))

    kernels = [getattr(m, name) for m in (predict, sparse, stats)
               for name in dir(m) if hasattr(getattr(m, name), "signatures")]
    writable = run(X)
    before = [set(k.signatures) for k in kernels]
    ro = _read_only_csr(X, arrays)
    assert not ro.data.flags.writeable
    read_only = run(ro)
    added = {k.py_func.__name__: set(k.signatures) - b
             for k, b in zip(kernels, before, strict=True)
             if set(k.signatures) != b}
    assert not added, added
    for a, b in zip(writable, read_only, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not ro.data.flags.writeable   # left as it was


@pytest.mark.parametrize("factor", [1e-305, 1e295], ids=["tiny", "huge"])
def test_extreme_magnitudes_scale_like_dense(factor):
    """Column statistics of very small or very large values (overflow and
    underflow guards of the dense column_stats) match the dense "scale"."""
    X, y = make_data(40)
    X = X.copy()
    X.data *= factor
    kw = dict(batch_size=RAGGED, epochs=3, lr=0.1, standardize=True, random_state=40)
    a = four_ways(X, y, **kw)
    assert np.isfinite(a.w).all() and np.abs(a.w).max() > 0


def test_train_does_not_modify_X_or_convert_in_place():
    X, y = make_data(22)
    for M_ in (X, sp.csr_array(X), X.tocsc(), X.tocoo()):
        snap = snapshot(M_)
        for mod in (fastlr, reference):
            res = mod.train(M_, y, batch_size=RAGGED, epochs=2, standardize=True,
                            penalty="l2", alpha=0.01, random_state=22)
            mod.predict_proba(M_, res.w, res.b)
            mod.predict(M_, res.w, res.b)
            mod.gradients(M_, y, np.full(M, 0.5))
        core.decision_function(M_, res.w, res.b)
        LogisticRegression(max_iter=2, tol=None, random_state=0).fit(M_, y)
        assert_unchanged(M_, snap)


# --------------------------------------------------------------------------
# prediction and gradients


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("fmt", MAIN_FORMATS)
def test_prediction_and_gradients_match_dense(dtype, fmt):
    """Summation over the stored entries only, in another order than the
    dense (SIMD, reassociating) loop: float64 to rtol 1e-10; float32 outputs
    round once at the end, one ulp: rtol 1e-6."""
    X, y = make_data(23, dtype=dtype)
    Xs = to_format(X, fmt)
    Xd = X.toarray()
    rng = np.random.default_rng(23)
    w, b = rng.normal(size=N), 0.3
    p = rng.uniform(0, 1, M)
    tol = TOL[dtype]
    for mod in (fastlr, reference):
        np.testing.assert_allclose(mod.predict_proba(Xs, w, b),
                                   fastlr.predict_proba(Xd, w, b), **tol)
        z = Xd.astype(np.float64) @ w + b
        # labels within rounding of the threshold may go either way
        keep = np.abs(z) > 1e-4
        np.testing.assert_array_equal(mod.predict(Xs, w, b)[keep],
                                      (z > 0).astype(np.int64)[keep])
        keep = np.abs(z - math.log(4.0)) > 1e-4
        np.testing.assert_array_equal(mod.predict(Xs, w, b, threshold=0.8)[keep],
                                      (z > math.log(4.0)).astype(np.int64)[keep])
        dw, db = mod.gradients(Xs, y, p)
        dw_d, db_d = fastlr.gradients(Xd, y, p)
        np.testing.assert_allclose(dw, dw_d, **tol)
        np.testing.assert_allclose(db, db_d, **TOL64)
    np.testing.assert_allclose(core.decision_function(Xs, w, b),
                               core.decision_function(Xd, w, b), **tol)
    # empty rows predict from the intercept alone
    empty = np.diff(X.indptr) == 0
    assert empty.any()
    np.testing.assert_allclose(core.decision_function(Xs, w, b)[empty], b, **tol)


def test_prediction_uses_all_threads_path_consistently():
    """Prediction on a sparse X large enough for the threaded dense path
    (>= 200_000 elements as dense) still equals the dense result."""
    rng = np.random.default_rng(24)
    X = sp.random_array((3000, 200), density=0.05, format="csr", rng=rng)
    w = rng.normal(size=200)
    np.testing.assert_allclose(fastlr.predict_proba(X, w, -0.1),
                               fastlr.predict_proba(X.toarray(), w, -0.1), **TOL64)


def test_a_k_class_row_is_predicted_the_same_in_any_call():
    """A k-class model's logits of CSR rows were summed in another order
    when the call held fewer stored entries than X has columns (the call
    then skips the by-column weight table): rows predicted one at a time
    (a model serving requests, a file predicted in parts) differed from
    the same rows in one call in the last digits (163 of 200 here). Both
    layouts now sum every logit in one fixed order: the same bits."""
    X = sp.random_array((2000, 1000), density=0.01, format="csr",
                        rng=np.random.default_rng(0))
    y = np.arange(2000) % 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = fastlr.LogisticRegression(max_iter=5, random_state=0).fit(X, y)
    whole = clf.predict_proba(X)
    for i in range(200):
        np.testing.assert_array_equal(clf.predict_proba(X[i:i + 1]), whole[i:i + 1])
    np.testing.assert_array_equal(clf.decision_function(X[:7]),
                                  clf.decision_function(X)[:7])


def test_a_k_class_rows_loss_is_the_same_in_either_layout():
    """The loss sum of k-class CSR rows (epoch losses, early stopping's
    held-out loss, Dask's blocks) depended on the layout the call chose,
    as the logits did (62 of 200 three-row calls differed): the same
    stored entries, once in a matrix wider than its entries (a pass per
    class) and once cut to the columns they use (the by-column table), now
    give the same bits."""
    from fastlr import _dispatch

    rng = np.random.default_rng(0)
    m, c, n, k = 300, 30, 5000, 5
    X = sp.random(m, c, density=0.5, format="csr", random_state=1)
    X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(m, n))
    y = np.arange(m) % k
    W, B = rng.normal(size=(k, n)), rng.normal(size=k)
    for i in range(0, m, 3):
        wide = _dispatch.as_data(X[i:i + 3], check=False)
        cut = _dispatch.as_data(X[i:i + 3, :c], check=False)
        assert wide.size < wide.n and cut.size >= cut.n
        assert wide.loss_sum(y[i:i + 3], np.empty(0), W, B, True) == \
            cut.loss_sum(y[i:i + 3], np.empty(0), W[:, :c], B, True)


# --------------------------------------------------------------------------
# bad input


def _calls(mod):
    """(name, call(X, y)) for every public function that takes X."""
    calls = [
        ("train", lambda X, y: mod.train(X, y, epochs=1)),
        ("predict_proba", lambda X, y: mod.predict_proba(X, np.zeros(X.shape[-1]), 0.0)),
        ("predict", lambda X, y: mod.predict(X, np.zeros(X.shape[-1]), 0.0)),
        ("gradients", lambda X, y: mod.gradients(X, y, np.full(X.shape[0], 0.5))),
    ]
    if mod is fastlr:
        calls.append(("decision_function",
                      lambda X, y: core.decision_function(X, np.zeros(X.shape[-1]), 0.0)))
    return calls


MODULES = pytest.mark.parametrize("mod", [fastlr, reference],
                                  ids=["kernels", "reference"])


@MODULES
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf],
                         ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "coo_array"])
def test_non_finite_data_is_refused_naming_X(mod, bad, fmt):
    X, y = make_data(25)
    X = X.copy()
    X.data[5] = bad
    Xf = to_format(X, fmt)
    snap = snapshot(Xf)
    for name, call in _calls(mod):
        with pytest.raises(ValueError, match=r"\bX\b") as info:
            call(Xf, y)
        assert "nan" in str(info.value).lower() or "inf" in str(info.value).lower(), \
            (name, info.value)
    assert_unchanged(Xf, snap)
    with pytest.raises(ValueError, match=r"\bX\b"):
        LogisticRegression().fit(Xf, y)


@MODULES
@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0)], ids=["no_rows",
                                                                  "no_cols", "0x0"])
def test_empty_sparse_is_refused(mod, shape):
    X = sp.csr_matrix(shape)
    y = np.array([0, 1, 0, 1, 1])[: shape[0]]
    for _name, call in _calls(mod):
        with pytest.raises(ValueError):
            call(X, y)


@MODULES
def test_all_zero_sparse_is_fine(mod):
    """No stored entries at all is not "empty": the shape is (m, n)."""
    X = sp.csr_matrix((6, 3))
    y = np.array([0, 1, 0, 1, 1, 0])
    res = mod.train(X, y, batch_size=2, epochs=2, random_state=0)
    np.testing.assert_array_equal(res.w, np.zeros(3))
    np.testing.assert_allclose(mod.predict_proba(X, res.w, res.b),
                               fastlr.sigmoid(np.full(6, res.b)), **TOL64)


@MODULES
def test_complex_sparse_is_refused(mod):
    X, y = make_data(26)
    Xc = X.astype(np.complex128)
    snap = snapshot(Xc)
    for _name, call in _calls(mod):
        with pytest.raises((TypeError, ValueError), match=r"\bX\b"):
            call(Xc, y)
    assert_unchanged(Xc, snap)


@MODULES
def test_one_dimensional_sparse_is_refused(mod):
    X1 = sp.coo_array(np.array([1.0, 0.0, 2.0]))
    assert X1.ndim == 1
    for _name, call in _calls(mod):
        with pytest.raises((TypeError, ValueError)):
            call(X1, np.array([0, 1, 0]))


@MODULES
def test_length_mismatches_are_refused(mod):
    X, y = make_data(27)
    with pytest.raises(ValueError, match=r"\by\b"):
        mod.train(X, y[:-1], epochs=1)
    with pytest.raises(ValueError, match=r"\by\b"):
        mod.gradients(X, y[:-1], np.full(M, 0.5))
    with pytest.raises(ValueError, match=r"\bp\b"):
        mod.gradients(X, y, np.full(M - 1, 0.5))
    with pytest.raises(ValueError, match="sample_weight"):
        mod.train(X, y, epochs=1, sample_weight=np.ones(M + 1))
    with pytest.raises(ValueError, match=r"\by\b"):
        mod.train(X, np.zeros(M), epochs=1)  # a single class


@MODULES
def test_wrong_number_of_features_in_prediction(mod):
    X, y = make_data(28)
    for f in (mod.predict_proba, mod.predict):
        with pytest.raises(ValueError, match=r"\bw\b"):
            f(X, np.zeros(N + 1), 0.0)
        with pytest.raises(ValueError, match=r"\bw\b"):
            f(X, np.zeros(N - 1), 0.0)
    clf = LogisticRegression(max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(sp.csr_matrix((3, N + 2)))


# --------------------------------------------------------------------------
# estimator

EST = dict(lr=0.05, batch_size=16, max_iter=6, tol=None, random_state=3, solver="sgd")


@pytest.mark.parametrize("fmt", MAIN_FORMATS)
@pytest.mark.parametrize("params", [{}, dict(penalty="l1", alpha=1e-3),
                                    dict(learning_rate="adagrad", lr=0.2, average=5)],
                         ids=["default_l2", "l1", "adagrad_avg"])
def test_estimator_fit_matches_dense_scale(fmt, params):
    """``standardize=True`` on sparse X is the dense fit with
    ``standardize="scale"``; every method accepts the sparse X."""
    X, y01 = make_data(29)
    y = np.array(["neg", "pos"])[y01]
    Xs = to_format(X, fmt)
    Xd = X.toarray()
    a = LogisticRegression(**{**EST, **params}, standardize=True).fit(Xs, y)
    d = LogisticRegression(**{**EST, **params}, standardize="scale").fit(Xd, y)
    assert a.coef_.shape == (1, N) and a.n_features_in_ == N
    np.testing.assert_allclose(a.coef_, d.coef_, **EST_TOL)
    np.testing.assert_allclose(a.intercept_, d.intercept_, **EST_TOL)
    np.testing.assert_allclose(a.loss_curve_, d.loss_curve_, **EST_TOL)
    assert a.n_iter_ == d.n_iter_
    np.testing.assert_array_equal(a.classes_, d.classes_)
    assert a.coef_[0, -1] == 0.0
    np.testing.assert_allclose(a.decision_function(Xs), d.decision_function(Xd),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.predict_proba(Xs), d.predict_proba(Xd),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(a.predict(Xs), a.predict(Xd))
    assert a.score(Xs, y) == a.score(Xd, y) > 0.6


def test_estimator_standardize_false_matches_dense():
    X, y = make_data(30)
    a = LogisticRegression(**EST, standardize=False).fit(X, y)
    d = LogisticRegression(**EST, standardize=False).fit(X.toarray(), y)
    np.testing.assert_allclose(a.coef_, d.coef_, **EST_TOL)
    np.testing.assert_allclose(a.intercept_, d.intercept_, **EST_TOL)


def test_estimator_float32_and_sample_weight():
    X, y = make_data(31, dtype=np.float32)
    sw = np.random.default_rng(31).uniform(0.2, 2.0, M)
    a = LogisticRegression(**EST, standardize=True).fit(X, y, sample_weight=sw)
    d = LogisticRegression(**EST, standardize="scale").fit(X.toarray(), y,
                                                           sample_weight=sw)
    assert a.coef_.dtype == np.float32
    np.testing.assert_allclose(a.coef_, d.coef_, **TOL[np.float32])
    np.testing.assert_allclose(a.intercept_, d.intercept_, rtol=1e-6, atol=1e-7)
    assert a.predict_proba(X).dtype == np.float32


def test_estimator_partial_fit_matches_dense():
    """Streaming sparse chunks: the scaling comes from the first chunk."""
    X, y = make_data(32)
    Xd = X.toarray()
    a = LogisticRegression(**EST, standardize=True)
    d = LogisticRegression(**EST, standardize="scale")
    for lo, hi in [(0, 50), (50, 90), (90, M), (0, M)]:
        a.partial_fit(X[lo:hi], y[lo:hi], classes=[0, 1])
        d.partial_fit(Xd[lo:hi], y[lo:hi], classes=[0, 1])
    assert a.n_iter_ == 4
    np.testing.assert_allclose(a.coef_, d.coef_, **EST_TOL)
    np.testing.assert_allclose(a.intercept_, d.intercept_, **EST_TOL)
    np.testing.assert_allclose(a.loss_curve_, d.loss_curve_, **EST_TOL)


def test_estimator_partial_fit_mixing_sparse_and_dense_chunks():
    """A model started on sparse chunks with ``standardize=True`` is
    scale-only; dense chunks after it
    continue that model (== all-dense with standardize="scale"). A model
    started on dense X with centering cannot take sparse chunks: a clear
    ValueError that says why (not silently wrong weights). A warm fit on
    sparse X after a dense one standardizes as a cold fit on it does (scale
    only) and starts from the dense model re-expressed in that."""
    X, y = make_data(41)
    Xd = X.toarray()
    a = LogisticRegression(**EST, standardize=True)
    d = LogisticRegression(**EST, standardize="scale")
    for k, (lo, hi) in enumerate([(0, 50), (50, 90), (90, M)]):
        a.partial_fit(X[lo:hi] if k != 1 else Xd[lo:hi], y[lo:hi], classes=[0, 1])
        d.partial_fit(Xd[lo:hi], y[lo:hi], classes=[0, 1])
    np.testing.assert_allclose(a.coef_, d.coef_, **EST_TOL)
    np.testing.assert_allclose(a.intercept_, d.intercept_, **EST_TOL)
    centered = LogisticRegression(**EST).partial_fit(Xd, y, classes=[0, 1])
    before = centered.coef_.copy()
    with pytest.raises(ValueError, match="sparse"):
        centered.partial_fit(X, y)
    np.testing.assert_array_equal(centered.coef_, before)
    warm = LogisticRegression(**EST, standardize=True, warm_start=True).fit(Xd, y)
    want = warm.decision_function(Xd)
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        warm.set_params(max_iter=0).fit(X, y)
    cold = LogisticRegression(**EST, standardize=True).fit(X, y).training_state_
    assert not warm.training_state_.mean.any()
    np.testing.assert_array_equal(warm.training_state_.scale, cold.scale)
    np.testing.assert_allclose(warm.decision_function(X), want, rtol=1e-9, atol=1e-12)
    warm.set_params(max_iter=3).fit(X, y)


def test_estimator_warm_start_and_early_stopping_match_dense():
    X, y = make_data(33, m=200)
    Xd = X.toarray()
    kw = dict(EST, max_iter=4, early_stopping=True, validation_fraction=0.2,
              warm_start=True)
    a = LogisticRegression(**kw, standardize=True)
    d = LogisticRegression(**kw, standardize="scale")
    for _ in range(2):
        a.fit(X, y)
        d.fit(Xd, y)
        np.testing.assert_allclose(a.coef_, d.coef_, **EST_TOL)
        np.testing.assert_allclose(a.validation_scores_, d.validation_scores_,
                                   **EST_TOL)


def test_estimator_multiclass_on_sparse():
    """More than two classes on sparse X: either it works and matches the
    dense fit with standardize="scale", or it refuses clearly, naming sparse."""
    X, y01 = make_data(34)
    rng = np.random.default_rng(34)
    y = np.where(rng.random(M) < 0.3, 2, y01)
    Xd = X.toarray()
    d = LogisticRegression(**EST, standardize="scale").fit(Xd, y)
    try:
        a = LogisticRegression(**EST, standardize=True).fit(X, y)
    except (TypeError, ValueError) as exc:
        assert "sparse" in str(exc).lower(), exc
        return
    assert a.coef_.shape == (3, N)
    np.testing.assert_allclose(a.coef_, d.coef_, **EST_TOL)
    np.testing.assert_allclose(a.intercept_, d.intercept_, **EST_TOL)
    np.testing.assert_allclose(a.predict_proba(X), d.predict_proba(Xd),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(a.predict(X), d.predict(Xd))


@pytest.mark.parametrize("early_stopping", [False, True], ids=["all_rows", "held_out"])
def test_multiclass_per_row_sgd_on_sparse_matches_dense(early_stopping):
    """k classes at batch 1 on sparse X (the lean per-row loop of
    ``lean_softmax_batches``), with rows held out for early stopping or
    not, against the dense kernel on ``toarray()``: the same steps, to the
    estimator comparisons' tolerance."""
    X, y01 = make_data(36)
    y = np.where(np.random.default_rng(36).random(M) < 0.3, 2, y01)
    kw = dict(solver="sgd", batch_size=1, max_iter=4, tol=None, lr=0.05,
              standardize=False, early_stopping=early_stopping,
              n_iter_no_change=10, random_state=36)
    a = LogisticRegression(**kw).fit(X, y)
    d = LogisticRegression(**kw).fit(X.toarray(), y)
    np.testing.assert_allclose(a.coef_, d.coef_, **EST_TOL)
    np.testing.assert_allclose(a.intercept_, d.intercept_, **EST_TOL)
    np.testing.assert_allclose(a.loss_curve_, d.loss_curve_, **EST_TOL)
    if early_stopping:
        np.testing.assert_allclose(a.validation_scores_, d.validation_scores_,
                                   **EST_TOL)


@pytest.mark.parametrize("k", [2, 3])
def test_early_stopping_on_wide_csr_makes_no_whole_raw_model_an_epoch(monkeypatch, k):
    """Early stopping scores each epoch's model on its held-out CSR rows at
    the columns they store (``ModelState.raw(cols=...)``): no epoch makes
    the raw-space model of all n columns (on 1M columns its passes and
    temporary cost more than the epoch's SGD), as many whole ones are made
    as without early stopping."""
    from fastlr import _state

    widths = []
    raw_model = _state.raw_model

    def spy(W, *args):
        widths.append(W.shape[1])
        return raw_model(W, *args)

    monkeypatch.setattr(_state, "raw_model", spy)
    n = 50_000
    X = sp.random(400, n, density=2e-4, format="csr", random_state=1)
    y = np.arange(400) % k
    kw = dict(solver="sgd", max_iter=4, tol=None, random_state=0)
    assert LogisticRegression(**kw).fit(X, y).coef_.shape[1] == n
    whole = widths.count(n)
    widths.clear()
    clf = LogisticRegression(**kw, early_stopping=True).fit(X, y)
    assert clf.coef_.shape[1] == n and clf.validation_scores_.shape == (4,)
    assert widths.count(n) == whole and len(widths) == whole + 4
    assert all(w < n for w in widths if w != n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("averaged", [False, True])
def test_raw_model_at_some_columns_is_the_whole_models_there(dtype, averaged):
    """``ModelState.raw(cols=...)`` of a state that does not centre: the
    whole raw model's weights at those columns and its intercepts, bit for
    bit; a state that centres is refused (its intercepts need every
    column)."""
    from fastlr._state import ModelState

    rng = np.random.default_rng(5)
    n = 40
    st = ModelState(np.zeros(n), rng.uniform(0.1, 3.0, n), 3, True)
    st.W[:] = rng.normal(size=(3, n))
    st.B[:] = [0.5, -0.0, -2.0]
    if averaged:
        st.steps[1] = 2
        st.avg[:] = rng.normal(size=(3, n + 1))
    cols = np.array([0, 3, 4, 17, 39])
    w, b = st.raw(dtype=dtype)
    wc, bc = st.raw(dtype=dtype, cols=cols)
    assert wc.dtype == w.dtype and wc.shape == (3, cols.shape[0])
    assert wc.tobytes() == np.ascontiguousarray(w[:, cols]).tobytes()
    np.testing.assert_array_equal(bc, b)
    st.mean = np.full(n, 0.5)
    with pytest.raises(ValueError, match="does not centre"):
        st.raw(cols=cols)


@pytest.mark.parametrize("name", ["default", "l2", "l1", "adagrad_l1", "average_l2",
                                  "all"])
def test_train_multinomial_matches_dense_and_reference(name):
    """The softmax model on sparse X (it is supported) against the dense
    kernel on toarray() with "scale" and the NumPy reference."""
    X, y01 = make_data(42)
    y = np.where(np.random.default_rng(42).random(M) < 0.3, 2, y01)
    kw = {**BASE, "standardize": True, **OPTIONS[name]}
    a = core.train_multinomial(X, y, **kw)
    for other in (reference.train_multinomial(X, y, **kw),
                  core.train_multinomial(X.toarray(), y, **dense_kw(kw)),
                  reference.train_multinomial(X.toarray(), y, **dense_kw(kw))):
        np.testing.assert_allclose(a.W, other.W, **TOL64)
        np.testing.assert_allclose(a.b, other.b, **TOL64)
        np.testing.assert_allclose(a.losses, other.losses, **TOL64)
    assert (a.W[:, -1] == 0.0).all()


#: Empty columns appended to X so that the k-class CSR epoch works on the
#: weights in place (see test_multinomial_epoch_in_place_equals_table).
PAD_COLUMNS = 2000


@pytest.mark.parametrize("batch_size", [1, RAGGED])
@pytest.mark.parametrize("penalty", [None, "l2"])
@STANDARDIZE
def test_multinomial_epoch_in_place_equals_table(batch_size, penalty, standardize):
    """The k-class lean CSR epoch works on the weights in place when an
    epoch's entries times the classes are fewer than the columns
    (``sparse.softmax_in_place``: a chunk of a stream on hashed features),
    else through its table: each class summed in the same order, so the
    same bits. X (through the table) against X with PAD_COLUMNS empty
    columns appended (in place): the same model on X's columns, zeros on
    the others. The L2 case folds the scale into the weights when it would
    underflow (lr * alpha = 0.5: under 1e-9 within 30 steps)."""
    from fastlr._kernels import sparse as kernels

    X, y01 = make_data(44)
    y = np.where(np.random.default_rng(44).random(M) < 0.3, 2, y01)
    padded = sp.hstack([X, sp.csr_matrix((M, PAD_COLUMNS))], format="csr")
    assert not kernels.softmax_in_place(X.indptr, M, 3, N)
    assert kernels.softmax_in_place(padded.indptr, M, 3, N + PAD_COLUMNS)
    kw = dict(batch_size=batch_size, epochs=3, lr=0.5, penalty=penalty, alpha=1.0,
              standardize=standardize, shuffle=False)
    a = core.train_multinomial(X, y, **kw)
    b = core.train_multinomial(padded, y, **kw)
    np.testing.assert_array_equal(b.W[:, :N], a.W)
    assert (b.W[:, N:] == 0.0).all()
    np.testing.assert_array_equal(b.b, a.b)
    np.testing.assert_array_equal(b.losses, a.losses)


def test_multinomial_stream_in_place_equals_table():
    """The same through the estimator: ``partial_fit`` chunks with rows held
    out for early stopping (``fit``), k = 3, in place on padded X, through
    the table on X."""
    X, y01 = make_data(45)
    y = np.where(np.random.default_rng(45).random(M) < 0.3, 2, y01)
    padded = sp.hstack([X, sp.csr_matrix((M, PAD_COLUMNS))], format="csr")
    kw = dict(solver="sgd", batch_size=RAGGED, max_iter=4, tol=None, lr=0.1,
              shuffle=False, random_state=45)
    for est in (dict(early_stopping=True, n_iter_no_change=10), {}):
        a = LogisticRegression(**kw, **est)
        b = LogisticRegression(**kw, **est)
        if est:
            a.fit(X, y)
            b.fit(padded, y)
        else:
            for lo in range(0, M, 40):
                a.partial_fit(X[lo:lo + 40], y[lo:lo + 40], classes=[0, 1, 2])
                b.partial_fit(padded[lo:lo + 40], y[lo:lo + 40], classes=[0, 1, 2])
        np.testing.assert_array_equal(b.coef_[:, :N], a.coef_)
        assert (b.coef_[:, N:] == 0.0).all()
        np.testing.assert_array_equal(b.intercept_, a.intercept_)


@pytest.mark.parametrize("lr, alpha", [(1.0, 1.0), (0.5, 3.0), (0.2, 4.99), (0.5, 1.0)],
                         ids=["factor_zero", "factor_negative", "factor_tiny",
                              "factor_half"])
@pytest.mark.parametrize("batch_size", [1, RAGGED])
@STANDARDIZE
def test_train_multinomial_l2_scale_resets(lr, alpha, batch_size, standardize):
    """The k-class lean CSR epoch keeps its weights as ``s * T`` under L2
    and folds ``s`` into them when a step's factor ``1 - lr * alpha`` is 0,
    negative or tiny, or after enough halvings (``factor_half``: under
    1e-9 within 30 steps): each against the NumPy reference and the dense
    kernel."""
    X, y01 = make_data(43)
    y = np.where(np.random.default_rng(43).random(M) < 0.3, 2, y01)
    kw = dict(batch_size=batch_size, epochs=2, lr=lr, penalty="l2", alpha=alpha,
              standardize=standardize, random_state=43)
    a = core.train_multinomial(X, y, **kw)
    assert np.isfinite(a.W).all()
    for other in (reference.train_multinomial(X, y, **kw),
                  core.train_multinomial(X.toarray(), y, **dense_kw(kw))):
        np.testing.assert_allclose(a.W, other.W, **TOL64)
        np.testing.assert_allclose(a.b, other.b, **TOL64)
        np.testing.assert_allclose(a.losses, other.losses, **TOL64)


def test_estimator_dense_fit_predicts_on_sparse():
    """A model fitted on dense X predicts the same on the sparse X (binary
    and multiclass; the latter may refuse sparse with a clear error)."""
    X, y = make_data(35)
    Xd = X.toarray()
    clf = LogisticRegression(**EST).fit(Xd, y)
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(Xd), **TOL64)
    y3 = np.where(np.arange(M) % 5 == 0, 2, y)
    clf3 = LogisticRegression(**EST).fit(Xd, y3)
    try:
        p = clf3.predict_proba(X)
    except (TypeError, ValueError) as exc:
        assert "sparse" in str(exc).lower(), exc
        return
    np.testing.assert_allclose(p, clf3.predict_proba(Xd), **TOL64)


# --------------------------------------------------------------------------
# persistence


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_save_load_sparse_model(tmp_path, dtype):
    X, y = make_data(36, dtype=dtype)
    params = dict(EST, penalty="elasticnet", alpha=1e-3, average=3,
                  learning_rate="invscaling", lr=0.3)
    clf = LogisticRegression(**params).fit(X, y)
    path = tmp_path / "sparse.npz"
    fastlr.save(clf, path)
    again = fastlr.load(path)
    assert again.coef_.dtype == dtype
    np.testing.assert_array_equal(again.coef_, clf.coef_)
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))
    # continuing on sparse data from the file == continuing the original
    clf.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.coef_, clf.coef_)
    np.testing.assert_array_equal(again.intercept_, clf.intercept_)


# --------------------------------------------------------------------------
# many features: lazy updates, nothing of size m * n


def big_sparse(m=2000, n=1_000_000, per_row=20, seed=37):
    """CSR (m, n) with ``per_row`` distinct columns per row: one in each of
    ``per_row`` bands of n // per_row columns, so most features never occur."""
    rng = np.random.default_rng(seed)
    band = n // per_row
    cols = np.arange(per_row) * band + rng.integers(0, band, size=(m, per_row))
    data = rng.uniform(0.5, 2.0, size=(m, per_row))
    indptr = np.arange(0, m * per_row + 1, per_row)
    X = sp.csr_matrix((data.ravel(), cols.ravel(), indptr), shape=(m, n))
    beta = rng.normal(size=n)
    s = X @ beta + rng.logistic(size=m)
    y = (s > np.median(s)).astype(np.int64)
    return X, y


@pytest.mark.parametrize("penalty", [None, "l1", "l2", "elasticnet"],
                         ids=["none", "l1", "l2", "elasticnet"])
def test_million_features_trains_lazily(penalty):
    """1e6 features, 20 per row, 2000 rows, batches of 8: dense X would be
    16 GB. Peak traced memory stays far below it (a few arrays of n floats:
    weights, scales and optimizer state are allowed); features that never
    occur keep weight exactly 0 (they start at 0, L2 only scales them, no
    gradient reaches them, and neither L1 nor L2 moves a zero). Its speed
    (lazy updates: ~160 coordinates per step, not 1e6) is measured in
    benchmarks/bench_sparse.py, not asserted here."""
    X, y = big_sparse()
    m, n = X.shape
    snap = snapshot(X)
    kw = dict(batch_size=8, epochs=1, lr=0.1, penalty=penalty, alpha=1e-4,
              random_state=0)
    # compile outside the measurement (same dtypes and options, tiny data)
    small, ys = make_data(38)
    fastlr.train(small, ys, **kw)
    tracemalloc.start()
    try:
        res = fastlr.train(X, y, **kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 400e6, f"peak traced memory {peak / 1e6:.0f} MB"
    assert res.w.shape == (n,) and np.isfinite(res.w).all() and math.isfinite(res.b)
    assert np.isfinite(res.losses).all()
    present = np.bincount(X.indices, minlength=n) > 0
    assert present.sum() < 0.05 * n
    assert (res.w[~present] == 0.0).all()
    if penalty in (None, "l2"):
        assert np.count_nonzero(res.w[present]) > 0.9 * present.sum()
    assert_unchanged(X, snap)
    p = fastlr.predict_proba(X, res.w, res.b)
    assert np.isfinite(p).all() and fastlr.log_loss(y, p) < math.log(2.0)


# --------------------------------------------------------------------------
# properties (hypothesis)

SETTINGS = settings(deadline=None, max_examples=40, database=None)
VALUES = st.floats(-5, 5, width=32).filter(lambda v: v == 0.0 or abs(v) > 1e-3)


@st.composite
def sparse_matrices(draw, min_rows=1, max_rows=30, max_cols=12):
    """Random small CSR: any shape, density 0..1, float32/float64; a value
    array from hypothesis (so whole constant columns are common) and a mask
    from a drawn seed and density."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    m = draw(st.integers(min_rows, max_rows))
    n = draw(st.integers(1, max_cols))
    values = draw(hnp.arrays(dtype, (m, n), elements=VALUES))
    density = draw(st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**32 - 1))
    mask = np.random.default_rng(seed).random((m, n)) < density
    return sp.csr_matrix(np.where(mask, values, 0).astype(dtype)), seed


@st.composite
def training_problems(draw):
    X, seed = draw(sparse_matrices(min_rows=2))
    m = X.shape[0]
    y = draw(hnp.arrays(np.int64, m, elements=st.integers(0, 1)))
    y[0], y[-1] = 0, 1  # both classes
    kw = dict(batch_size=draw(st.integers(1, m + 2)),
              shuffle=draw(st.sampled_from([True, "rows", False])),
              standardize=draw(st.sampled_from([False, True])),
              penalty=draw(st.sampled_from([None, "l2", "l1", "elasticnet"])),
              alpha=0.01, epochs=2, lr=0.1, random_state=seed % 1000)
    return X, y, kw


@SETTINGS
@given(training_problems())
def test_property_train_sparse_equals_reference_and_dense(problem):
    X, y, kw = problem
    dtype = X.dtype.type
    a = fastlr.train(X, y, **kw)
    assert_same(a, reference.train(X, y, **kw), dtype)
    dkw = dict(kw, standardize="scale" if kw["standardize"] else False)
    assert_same(a, fastlr.train(X.toarray(), y, **dkw), dtype)
    assert_same(a, reference.train(X.toarray(), y, **dkw), dtype)
    absent = np.bincount(X.indices, minlength=X.shape[1]) == 0
    assert (a.w[absent] == 0.0).all()


@SETTINGS
@given(sparse_matrices(), st.data())
def test_property_prediction_and_gradients(matrix, data):
    X, seed = matrix
    m, n = X.shape
    dtype = X.dtype.type
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=n), float(rng.normal())
    y = data.draw(hnp.arrays(np.int64, m, elements=st.integers(0, 1)))
    p = rng.uniform(0, 1, m)
    Xd = X.toarray()
    tol = TOL[dtype]
    expect = fastlr.predict_proba(Xd, w, b)
    for mod in (fastlr, reference):
        np.testing.assert_allclose(mod.predict_proba(X, w, b), expect, **tol)
        dw, db = mod.gradients(X, y, p)
        np.testing.assert_allclose(dw, fastlr.gradients(Xd, y, p)[0], **tol)
        np.testing.assert_allclose(db, fastlr.gradients(Xd, y, p)[1], **TOL64)
    np.testing.assert_allclose(core.decision_function(X, w, b),
                               core.decision_function(Xd, w, b), **tol)


def test_a_pandas_sparse_dataframe_is_read_as_sparse():
    """A DataFrame of sparse columns (``pd.DataFrame.sparse.from_spmatrix``,
    what scikit-learn reads as a sparse matrix, and the estimator did) was
    densified by the functional API: twice X's dense size in memory, and a
    centred model unlike the CSR one."""
    pd = pytest.importorskip("pandas")
    S = sp.random(200, 40, density=0.1, format="csr", random_state=0)
    y = (np.asarray(S.sum(axis=1)).ravel() > 2.0).astype(int)
    df = pd.DataFrame.sparse.from_spmatrix(S)
    a = fastlr.train(df, y, epochs=2, random_state=0)
    b = fastlr.train(S, y, epochs=2, random_state=0)
    np.testing.assert_array_equal(a.w, b.w)
    assert a.b == b.b


@pytest.mark.parametrize("opts", [dict(penalty="l1", alpha=1e-4, average=True),
                                  dict(learning_rate="adagrad", penalty=None)],
                         ids=["table", "adagrad_sums"])
def test_partial_fit_keeps_the_csr_table_between_calls(tmp_path, opts):
    """A partial_fit call on CSR X made its epoch's table (and AdaGrad's
    gradient sums) anew (tens of MB on 1M columns, first touched each
    call). The stream's training state keeps them from call to call: the
    same model as with fresh ones each call; never in a pickle, a copy or
    a model file; a copy's stream and a failed call change nothing."""
    import copy
    import pickle

    from fastlr import _state

    rng = np.random.default_rng(5)
    X = sp.random(300, 2000, density=0.01, format="csr", random_state=rng)
    y = np.arange(300) % 3
    chunks = [(X[i:i + 60], y[i:i + 60]) for i in range(0, 300, 60)]

    def stream(calls, est=None):
        est = est or LogisticRegression(random_state=0, lr=0.1, **opts)
        for Xc, yc in calls:
            est.partial_fit(Xc, yc, classes=[0, 1, 2])
        return est

    est = stream(chunks[:2])
    kept = est.training_state_.scratch
    slot = "table" if "average" in opts else "sums"
    buffer = kept._buffers.get(slot)
    assert buffer is not None and kept._size(buffer) >= 2000 * 3
    if slot == "sums":   # as the epochs found them: zeros, older marks
        assert not buffer[0].any() and (buffer[1][1:2001] < buffer[1][0]).all()
    stream(chunks[2:3], est)
    again = kept._buffers[slot]
    assert est.training_state_.scratch is kept
    assert all(a is b for a, b in zip(again, buffer, strict=True)) if slot == "sums" \
        else again is buffer
    buffer = again

    class Fresh(_state.Scratch):   # new ones every call, as before
        def give(self, buf, slot="table"):
            pass

    fresh = stream(chunks[:3])
    fresh.training_state_.scratch = Fresh()
    stream(chunks[3:], fresh)
    stream(chunks[3:], est)
    np.testing.assert_array_equal(est.coef_, fresh.coef_)
    np.testing.assert_array_equal(est.intercept_, fresh.intercept_)
    # not saved, nor shared with a copy
    assert not pickle.loads(pickle.dumps(est)).training_state_.scratch._buffers
    assert not copy.deepcopy(est).training_state_.scratch._buffers
    path = tmp_path / "model.npz"
    fastlr.save(est, path)
    assert fastlr.load(path).training_state_.scratch is None
    # a shallow copy shares the state: its stream takes the buffer in turn,
    # and a user holding it meanwhile makes the other train on its own
    twin = copy.copy(est)
    buffer = kept._buffers[slot]
    held = kept.take(0, lambda: None, slot)
    assert held is buffer and kept.take(0, lambda: "new", slot) == "new"
    kept.give(held, slot)
    a = stream(chunks[:1], copy.copy(twin))
    b = stream(chunks[:1], twin)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    # a call that fails (diverging) leaves the next call's model as it was
    before = stream(chunks[:1], copy.deepcopy(est))
    est.set_params(lr=1e12)
    with pytest.raises(fastlr.DivergedError):
        stream(chunks[4:], est)
    est.set_params(lr=0.1)
    np.testing.assert_array_equal(stream(chunks[:1], est).coef_, before.coef_)
    # fit keeps no table
    assert LogisticRegression(solver="sgd", max_iter=2, tol=None).fit(X, y) \
        .training_state_.scratch is None


@pytest.mark.parametrize("opts", [
    dict(learning_rate="adagrad", penalty=None),
    dict(learning_rate="adagrad", penalty="l2", alpha=0.01)],
    ids=["adagrad", "adagrad_l2_eager"])
def test_the_epochs_keep_their_gradient_sums_clean_for_the_next(monkeypatch, opts):
    """AdaGrad and the eager fallback sum each batch's gradient in arrays
    the caller keeps from epoch to epoch (sparse.epoch returns them): each
    epoch gets what the last returned, leaves the sums zero and every
    column's mark older than the next batch's number, which counts the
    batches of all epochs; and the model is the reference's."""
    import fastlr._dispatch as dispatch
    real = dispatch.sparse
    seen = []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def epoch(self, *args):
            sums = args[-3]
            out = real.epoch(*args)
            seen.append((sums, out, out[0].copy(), out[1].copy()))
            return out

    monkeypatch.setattr(dispatch, "sparse", Spy())
    X = sp.random(M, N, density=0.3, format="csr", random_state=7)
    y = (np.arange(M) % 3 == 0).astype(np.int64)
    kw = dict(batch_size=RAGGED, epochs=3, random_state=2, standardize=False, lr=0.1,
              tol=None, **opts)
    res = fastlr.train(X, y, **kw)
    assert len(seen) == 3
    batches = -(-M // RAGGED)
    for e, (given_, _, gsum, marks) in enumerate(seen):
        if e > 0:
            assert given_[0] is seen[e - 1][1][0] and given_[1] is seen[e - 1][1][1]
        assert gsum.shape == (N,) and not gsum.any()
        assert marks[0] == (e + 1) * batches
        assert (marks[1:N + 1] < marks[0]).all() and marks[1:N + 1].max() >= e * batches
    ref = reference.train(X, y, **kw)
    np.testing.assert_allclose(res.w, ref.w, **TOL64)
