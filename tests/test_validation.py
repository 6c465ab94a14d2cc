"""The bad-input contract, for the kernels and the reference.

Every public entry point validates before any kernel runs and answers bad
input with a ValueError/TypeError that names the argument, with no side
effect. Each case below is one test, run against both ``fastlr`` and
``fastlr.reference`` (same validation by design). The second half covers the
numerical promises: constant features, |x| ~ 1e300, and divergence.
"""

import copy
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer

import fastlr
from fastlr import reference

M, N = 20, 3

MODULES = pytest.mark.parametrize("mod", [fastlr, reference],
                                  ids=["kernels", "reference"])


def _X():
    return np.random.default_rng(0).normal(size=(M, N))


def _y():
    return np.tile([0, 1], M // 2)


def _p():
    return np.linspace(0.05, 0.95, M)


def _w():
    return np.array([0.5, -1.0, 2.0])


def _with(arr, index, value):
    out = np.array(arr, dtype=np.float64)
    out[index] = value
    return out


# --------------------------------------------------------------------------
# the case table: (function name, args factory, kwargs, exception, match)
#
# ``match`` always names the argument, e.g. r"\bX\b ..." or "batch_size".

CASES = []


def case(id, fn, make_args, exc, match, **kwargs):
    CASES.append(pytest.param(fn, make_args, kwargs, exc, match, id=f"{fn}-{id}"))


# X: every function that takes X
_X_ENTRY = {
    "train": lambda X: (X, _y()),
    "gradients": lambda X: (X, _y(), _p()),
    "predict_proba": lambda X: (X, _w(), 0.1),
    "predict": lambda X: (X, _w(), 0.1),
}
_BAD_X = [
    ("nan", lambda: _with(_X(), (3, 1), np.nan), ValueError, r"\bX\b contains NaN"),
    ("inf", lambda: _with(_X(), (0, 0), np.inf), ValueError,
     r"\bX\b contains NaN or inf"),
    ("neg_inf", lambda: _with(_X(), (M - 1, N - 1), -np.inf), ValueError,
     r"\bX\b contains NaN or inf"),
    ("empty_rows", lambda: np.empty((0, N)), ValueError, r"\bX\b is empty"),
    ("empty_cols", lambda: np.empty((M, 0)), ValueError, r"\bX\b is empty"),
    ("1d", lambda: _X()[:, 0], ValueError, r"\bX\b must be a 2-D"),
    ("3d", lambda: _X()[None], ValueError, r"\bX\b must be a 2-D"),
    ("strings", lambda: np.full((M, N), "a"), TypeError,
     r"\bX\b must have a numeric dtype"),
    ("object_strings", lambda: np.full((M, N), "abc", dtype=object), TypeError,
     r"\bX\b must contain numbers"),
    ("complex", lambda: _X() + 1j, ValueError,
     r"^Complex data not supported: \bX\b has dtype complex128"),
    ("ragged_list", lambda: [[1.0, 2.0, 3.0], [1.0, 2.0]], TypeError,
     r"\bX\b must be array-like"),
]
for _fn, _args in _X_ENTRY.items():
    for _id, _make, _exc, _match in _BAD_X:
        case(f"X_{_id}", _fn, (lambda a=_args, mk=_make: a(mk())), _exc, _match)

# y: training, gradients and log_loss
_y_ENTRY = {
    "train": lambda y: (_X(), y),
    "gradients": lambda y: (_X(), y, _p()),
    "log_loss": lambda y: (y, _p()),
}
_BAD_Y = [
    ("nan", lambda: _with(_y(), 2, np.nan), ValueError, r"^y contains NaN"),
    ("inf", lambda: _with(_y(), 2, np.inf), ValueError, r"^y contains NaN or inf"),
    ("labels_1_2", lambda: _y() + 1, ValueError,
     r"^y must contain only the binary labels"),
    ("labels_minus1_1", lambda: 2 * _y() - 1, ValueError,
     r"^y must contain only the binary labels"),
    ("labels_half", lambda: _with(_y(), 0, 0.5), ValueError,
     r"^y must contain only the binary labels"),
    ("empty", lambda: np.array([], dtype=np.int64), ValueError, r"^y is empty"),
    ("2d", lambda: _y()[:, None], ValueError, r"^y must be 1-D"),
    ("strings", lambda: np.array(["no", "yes"] * (M // 2)), TypeError,
     r"^y must have a numeric dtype"),
    ("object_strings", lambda: np.array(["no", "yes"] * (M // 2), dtype=object),
     TypeError, r"^y must contain numbers"),
]
for _fn, _args in _y_ENTRY.items():
    for _id, _make, _exc, _match in _BAD_Y:
        case(f"y_{_id}", _fn, (lambda a=_args, mk=_make: a(mk())), _exc, _match)

case("y_single_class_0", "train", lambda: (_X(), np.zeros(M, dtype=int)), ValueError,
     r"^y contains a single class")
case("y_single_class_1", "train", lambda: (_X(), np.ones(M)), ValueError,
     r"^y contains a single class")
# shape mismatches
case("y_shorter_than_X", "train", lambda: (_X(), _y()[:-2]), ValueError,
     r"^y has 18 entries but X has 20 rows")
case("y_longer_than_X", "gradients", lambda: (_X(), np.tile([0, 1], M), _p()),
     ValueError, r"^y has 40 entries but X has 20 rows")
case("p_shorter_than_X", "gradients", lambda: (_X(), _y(), _p()[:-1]), ValueError,
     r"^p has 19 entries but X has 20 rows")
case("y_vs_p_length", "log_loss", lambda: (_y()[:-2], _p()), ValueError,
     r"^y has 18 entries but p has 20")
case("w_shorter_than_X_cols", "predict_proba", lambda: (_X(), _w()[:2], 0.0),
     ValueError, r"^w has 2 entries but X has 3 features")
case("w_longer_than_X_cols", "predict", lambda: (_X(), np.ones(5), 0.0), ValueError,
     r"^w has 5 entries but X has 3 features")
case("y_true_vs_y_pred_length", "accuracy", lambda: (_y(), _y()[:-1]), ValueError,
     r"^y_true has 20 entries but y_pred has 19")
# p, w, b
case("p_nan", "gradients", lambda: (_X(), _y(), _with(_p(), 0, np.nan)), ValueError,
     r"^p contains NaN")
case("p_above_1", "log_loss", lambda: (_y(), _with(_p(), 0, 1.5)), ValueError,
     r"^p must contain probabilities in \[0, 1\]")
case("p_negative", "gradients", lambda: (_X(), _y(), _with(_p(), 0, -0.1)), ValueError,
     r"^p must contain probabilities in \[0, 1\]")
case("p_empty", "log_loss", lambda: (np.array([0.0]), np.array([])), ValueError,
     r"^p is empty")
case("w_nan", "predict_proba", lambda: (_X(), _with(_w(), 1, np.nan), 0.0), ValueError,
     r"^w contains NaN")
case("w_2d", "predict", lambda: (_X(), _w()[None], 0.0), ValueError, r"^w must be 1-D")
case("b_nan", "predict_proba", lambda: (_X(), _w(), math.nan), ValueError,
     r"^b must be finite")
case("b_string", "predict", lambda: (_X(), _w(), "0.1"), TypeError,
     r"^b must be a real number")
# accuracy
case("y_true_empty", "accuracy", lambda: ([], []), ValueError, r"^y_true is empty")
case("y_pred_nan", "accuracy", lambda: (_y(), _with(_y(), 0, np.nan)), ValueError,
     r"^y_pred contains NaN")
case("y_true_2d", "accuracy", lambda: (_y()[:, None], _y()), ValueError,
     r"^y_true must be 1-D")
# None where an array goes (np.asarray(None) as float is NaN: the errors
# spoke of NaN, or of a 0-d shape)
_NUMBERS = r" must be a number or array-like"
case("z_none", "sigmoid", lambda: (None,), TypeError, "^z" + _NUMBERS)
case("X_none", "train", lambda: (None, _y()), TypeError, "^X" + _NUMBERS)
case("p_none", "log_loss", lambda: (_y(), None), TypeError, "^p" + _NUMBERS)
# log_loss eps
for _id, _eps, _exc, _match in [
    ("0", 0.0, ValueError, r"^eps must be > 0"),
    ("negative", -1e-3, ValueError, r"^eps must be > 0"),
    ("half", 0.5, ValueError, r"^eps must be < 0.5"),
    ("below_1_minus_eps_below_1", 1e-300, ValueError,
     r"^eps must be at least 2\*\*-53"),
    ("nan", math.nan, ValueError, r"^eps must be finite"),
    ("string", "1e-15", TypeError, r"^eps must be a real number"),
]:
    case(f"eps_{_id}", "log_loss", lambda: (_y(), _p()), _exc, _match, eps=_eps)
# predict threshold
for _id, _t in [("0", 0.0), ("1", 1.0), ("negative", -0.1), ("above_1", 1.5),
                ("nan", math.nan), ("inf", math.inf)]:
    case(f"threshold_{_id}", "predict", lambda: (_X(), _w(), 0.0), ValueError,
         r"^threshold must", threshold=_t)
case("threshold_string", "predict", lambda: (_X(), _w(), 0.0), TypeError,
     r"^threshold must be a real number", threshold="0.5")
# train hyperparameters
_BAD_PARAMS = [
    ("batch_size", 0, ValueError, r"^batch_size must be >= 1"),
    ("batch_size", -1, ValueError, r"^batch_size must be >= 1"),
    ("batch_size", 1.5, TypeError, r"^batch_size must be an integer"),
    ("batch_size", "10", TypeError, r"^batch_size must be an integer"),
    ("batch_size", None, TypeError, r"^batch_size must be an integer"),
    ("batch_size", True, TypeError, r"^batch_size must be an integer"),
    ("epochs", -1, ValueError, r"^epochs must be >= 0"),
    ("epochs", 2.5, TypeError, r"^epochs must be an integer"),
    ("lr", 0, ValueError, r"^lr must be > 0"),
    ("lr", -1, ValueError, r"^lr must be > 0"),
    ("lr", math.nan, ValueError, r"^lr must be finite"),
    ("lr", math.inf, ValueError, r"^lr must be finite"),
    ("lr", -math.inf, ValueError, r"^lr must be finite"),
    ("lr", "0.1", TypeError, r"^lr must be a real number"),
    ("penalty", "l3", ValueError, r"^penalty must be one of"),
    ("penalty", "L2", ValueError, r"^penalty must be one of"),
    ("alpha", -1, ValueError, r"^alpha must be >= 0"),
    ("alpha", math.nan, ValueError, r"^alpha must be finite"),
    ("epoch_loss", "bogus", ValueError, r"^epoch_loss must be one of"),
    ("tol", -1e-3, ValueError, r"^tol must be >= 0"),
    ("n_iter_no_change", 0, ValueError, r"^n_iter_no_change must be >= 1"),
]
for _name, _value, _exc, _match in _BAD_PARAMS:
    case(f"{_name}_{_value!r}", "train", lambda: (_X(), _y()), _exc, _match,
         **{_name: _value})
case("tol_without_loss", "train", lambda: (_X(), _y()), ValueError,
     r"\btol\b needs a tracked loss", tol=1e-3, epoch_loss=None)
# hyperparameters are checked before the data: a bad lr with bad X names lr
case("lr_before_X", "train", lambda: (np.full((M, N), np.nan), _y()), ValueError,
     r"^lr must be > 0", lr=0.0)


def _snapshot(obj):
    return copy.deepcopy(obj)


def _assert_unchanged(before, after):
    """Arrays (and lists) passed in are exactly as they were."""
    if isinstance(before, np.ndarray):
        assert isinstance(after, np.ndarray)
        assert after.dtype == before.dtype and after.shape == before.shape
        if before.dtype.kind in "fc":
            np.testing.assert_array_equal(after, before)  # NaN == NaN here
        else:
            assert (after == before).all()
    else:
        assert type(after) is type(before)
        if not (isinstance(before, float) and math.isnan(before)):
            assert after == before


@MODULES
@pytest.mark.parametrize("fn, make_args, kwargs, exc, match", CASES)
def test_bad_input_raises_and_has_no_side_effect(mod, fn, make_args, kwargs, exc, match):
    args = make_args()
    saved = _snapshot((args, kwargs))
    calls = []
    if fn == "train":
        kwargs = dict(kwargs, callback=lambda *a: calls.append(a), epochs=kwargs.get(
            "epochs", 2))
    with pytest.raises(exc, match=match):
        getattr(mod, fn)(*args, **kwargs)
    for before, after in zip(saved[0], args, strict=True):
        _assert_unchanged(before, after)
    assert not calls, "training ran before validation failed"


@MODULES
@pytest.mark.parametrize("random_state, exc", [("abc", TypeError), (-1, ValueError)],
                         ids=["string", "negative"])
def test_bad_random_state_is_named(mod, random_state, exc):
    with pytest.raises(exc, match="random_state"):
        mod.train(_X(), _y(), epochs=1, random_state=random_state)


@MODULES
def test_object_array_of_numbers_is_accepted(mod):
    """The object-dtype refusal is about strings, not about object arrays."""
    X = _X().astype(object)
    res = mod.train(X, _y().astype(object), epochs=2, random_state=0)
    ref = mod.train(_X(), _y(), epochs=2, random_state=0)
    np.testing.assert_array_equal(res.w, ref.w)


# --------------------------------------------------------------------------
# numerical edge cases


def _problem(seed=0, m=200):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, N))
    y = (Z @ np.array([1.0, -1.0, 0.5]) + rng.logistic(size=m) > 0).astype(np.int64)
    return Z, y


_COLUMNS = {
    "zeros": lambda m: np.zeros(m),
    "const_3.7": lambda m: np.full(m, 3.7),
    "const_minus_third": lambda m: np.full(m, -1 / 3),
    "const_1e-300": lambda m: np.full(m, 1e-300),
    "const_1e300": lambda m: np.full(m, 1e300),
    "tiny_spread_1e-300": lambda m: np.random.default_rng(1).normal(size=m) * 1e-300,
}


@pytest.mark.parametrize(
    "mod, column",
    [pytest.param(mod, col, id=f"{mid}-{col}")
     for mod, mid in [(fastlr, "kernels"), (reference, "reference")]
     for col in _COLUMNS],
)
def test_constant_or_tiny_feature_gives_finite_fit(mod, column):
    """Constant features must not divide by zero (standardize=True)."""
    Z, y = _problem()
    X = np.column_stack([Z, _COLUMNS[column](len(y))])
    saved = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mod.train(X, y, batch_size=32, epochs=10, lr=0.1, random_state=0)
    np.testing.assert_array_equal(X, saved)
    assert np.isfinite(res.w).all() and math.isfinite(res.b)
    assert np.isfinite(res.losses).all()
    if column.startswith("const") or column == "zeros":
        # a constant column carries no information: its weight stays ~0
        assert abs(res.w[-1] * X[0, -1]) < 1e-6
    p = mod.predict_proba(X, res.w, res.b)
    assert np.isfinite(p).all()
    assert mod.accuracy(y, mod.predict(X, res.w, res.b)) > 0.65


@pytest.mark.parametrize(
    "column",
    ["zeros", "const_3.7", "const_1e300", "tiny_spread_1e-300",
     "subnormal", "both_signs_near_max", "first_row_far_from_mean"],
)
def test_column_stats_kernel_matches_reference(column):
    """Standardization statistics: finite, no zero scale, same as the twin.

    Near the float64 limit the column ``x - shift`` overflows (the compiled
    sums once gave a mean of -inf for uniform(-1.7e308, 1.7e308)), and
    ``d1 * s`` does when the first row is far from the mean."""
    rng = np.random.default_rng(1)
    cols = dict(_COLUMNS, subnormal=lambda m: rng.normal(size=m) * 1e-310,
                both_signs_near_max=lambda m: np.where(np.arange(m) % 2, 1.0, -1.0)
                * rng.uniform(0.9, 1.0, m) * 1.7e308,
                first_row_far_from_mean=lambda m: np.r_[-1.7e308,
                                                        np.full(m - 1, 1.6e308)])
    Z, _ = _problem()
    X = np.ascontiguousarray(np.column_stack([Z, cols[column](len(Z))]))
    from fastlr._dispatch import as_data

    mean, scale = (a[0] for a in as_data(X).column_stats())
    rmean, rscale = reference.column_stats(X)
    assert np.isfinite(mean).all() and np.isfinite(scale).all()
    assert (scale > 0).all()
    # the mean in units of the scale (the model sees (x - mean) / scale):
    # where the mean is 1e-4 of the spread (both signs near the limit), the
    # kernel's block-wise sums and the twin's differ by 1e-12 of the mean,
    # a few units in the last place of the spread
    np.testing.assert_allclose(mean / rscale, rmean / rscale, rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(scale, rscale, rtol=1e-10)
    if column.startswith("const"):   # exactly the constant, scale exactly 1
        assert mean[-1] == X[0, -1] and scale[-1] == 1.0
    col = X[:, -1]
    np.testing.assert_allclose(mean[-1] / rscale[-1],
                               (col / len(col)).sum() / rscale[-1], rtol=1e-12,
                               atol=1e-14)


@MODULES
def test_constant_feature_without_standardize(mod):
    Z, y = _problem()
    X = np.column_stack([Z, np.full(len(y), 2.0)])
    res = mod.train(X, y, batch_size=32, epochs=10, lr=0.05, standardize=False,
                    random_state=0)
    assert np.isfinite(res.w).all() and math.isfinite(res.b)


def _extreme_problem(seed=0, m=200):
    """A learnable problem scaled to |x| ~ 1e300."""
    Z, y = _problem(seed, m)
    return Z * 1e300, y


@MODULES
def test_extreme_values_give_no_nan(mod):
    X, y = _extreme_problem()
    w = np.array([1.0, -0.5, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = mod.sigmoid(X.ravel())
        p = mod.predict_proba(X, w, 0.0)
        loss = mod.log_loss(y, p)
        labels = mod.predict(X, w, 0.0)
        dw, db = mod.gradients(X, y, p)
    assert not np.isnan(s).any() and ((s == 0) | (s == 1)).all()
    assert not np.isnan(p).any() and ((p >= 0) & (p <= 1)).all()
    assert math.isfinite(loss) and loss >= 0
    assert set(np.unique(labels)) <= {0, 1}
    assert np.isfinite(dw).all() and math.isfinite(db)


@MODULES
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("w", [1e300, 3e38, 1e308], ids=lambda w: f"w{w:g}")
def test_extreme_weights_warn_nowhere(mod, dtype, sparse, w):
    """Logits beyond the range of X's dtype (or of float64) are +-inf, in the
    kernels and in the reference alike, without a RuntimeWarning."""
    import scipy.sparse as sp

    X, y = _problem()
    X = X.astype(dtype)
    Xin = sp.csr_matrix(X) if sparse else X
    weights = np.array([w, -w, w])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = mod.predict_proba(Xin, weights, 0.0)
        labels = mod.predict(Xin, weights, 0.0)
        # where a row's products overflow with both signs, the sum's order
        # decides between +-inf and NaN: compare only the other rows' p
        ok = np.isfinite(p)
        loss = mod.log_loss(y[ok], p[ok])
        mod.gradients(Xin[np.flatnonzero(ok)], y[ok], p[ok])
    assert p.dtype == dtype and ((p[ok] >= 0) & (p[ok] <= 1)).all()
    assert ok.mean() > 0.9
    assert set(np.unique(labels)) <= {0, 1} and loss >= 0


@pytest.mark.parametrize("w", [1e300, 3e38, 1e30], ids=lambda w: f"w{w:g}")
def test_float32_logits_beyond_float32_match_the_kernels(w):
    """float32 X and w = 1e300: each logit fits a float64 but
    not a float32; both store +-inf in float32 and give probabilities 0/1."""
    X, _ = _problem()
    X = X.astype(np.float32)
    weights = np.array([w, -w, w])
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow in the casts
        for fn in ("predict_proba", "predict"):
            np.testing.assert_array_equal(getattr(reference, fn)(X, weights, 0.0),
                                          getattr(fastlr, fn)(X, weights, 0.0))
        # the log-loss of those 0/1 probabilities: clipped, finite, alike
        p = reference.predict_proba(X, weights, 0.0)
        assert p.dtype == np.float32
        y = (np.arange(X.shape[0]) % 2).astype(np.float32)
        want = fastlr.log_loss(y, fastlr.predict_proba(X, weights, 0.0))
        got = reference.log_loss(y, p)
        assert math.isfinite(got)
        assert got == pytest.approx(want, rel=1e-6)


@MODULES
def test_extreme_values_train_standardized(mod):
    X, y = _extreme_problem()
    saved = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = mod.train(X, y, batch_size=32, epochs=10, lr=0.1, random_state=0)
    np.testing.assert_array_equal(X, saved)
    assert np.isfinite(res.w).all() and math.isfinite(res.b)
    assert np.isfinite(res.losses).all() and res.losses[-1] < math.log(2)
    p = mod.predict_proba(X, res.w, res.b)
    assert np.isfinite(p).all()
    assert mod.accuracy(y, mod.predict(X, res.w, res.b)) > 0.65


def test_extreme_values_train_kernel_matches_reference():
    X, y = _extreme_problem()
    kw = dict(batch_size=32, epochs=10, lr=0.1, random_state=0)
    a = fastlr.train(X, y, **kw)
    b = reference.train(X, y, **kw)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-8, atol=0)
    np.testing.assert_allclose(a.b, b.b, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    "mod",
    [fastlr, reference],
    ids=["kernels", "reference"],
)
def test_extreme_values_unstandardized_diverge_cleanly(mod):
    """Without standardization |x| ~ 1e300 overflows: an error, not NaN weights."""
    X, y = _extreme_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(fastlr.DivergedError, match="diverged"):
            mod.train(X, y, batch_size=32, epochs=10, lr=0.1, standardize=False,
                      random_state=0)


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return np.ascontiguousarray(X), y


@MODULES
@pytest.mark.parametrize("epoch_loss", ["running", "full"])
def test_divergence_raises_with_advice(mod, breast_cancer, epoch_loss):
    X, y = breast_cancer
    saved = X.copy()
    with pytest.raises(fastlr.DivergedError, match="diverged") as info:
        mod.train(X, y, lr=1e6, standardize=False, epochs=20, epoch_loss=epoch_loss,
                  random_state=0)
    msg = str(info.value)
    assert "lr" in msg and "lower" in msg  # suggests lowering the learning rate
    assert "standardiz" in msg  # and standardizing the features
    assert isinstance(info.value, ArithmeticError)
    np.testing.assert_array_equal(X, saved)


@MODULES
def test_divergence_under_heavy_weights_names_them(mod):
    """Row weights of 1e6 scale SGD's steps as lr does (the loss is their
    weighted mean, so the model it defines does not change): the error says
    so, and an unweighted divergence does not mention weights."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 10))
    y = (X[:, 0] + rng.standard_normal(2000) > 0).astype(np.int64)
    # (both warn of such weights before they train)
    warned = pytest.warns(fastlr.WeightScaleWarning, match="mean 1e\\+06")
    with warned, pytest.raises(fastlr.DivergedError, match="diverged") as info:
        mod.train(X, y, batch_size=32, sample_weight=np.full(2000, 1e6), epochs=5,
                  random_state=0)
    assert "sample_weight" in str(info.value) and "mean" in str(info.value)
    # the weights' mean, which the steps scale with; of the rows trained on
    assert "their mean over the rows of positive weight is 1e+06)" in str(info.value)
    rows = np.arange(2000) < 1500
    sw = np.where(rows, 1e6, 0.0)
    sw[1500:] = 7.0
    with pytest.warns(fastlr.WeightScaleWarning), \
            pytest.raises(fastlr.DivergedError) as info:
        mod.train(X, y, batch_size=32, sample_weight=sw, rows=rows, epochs=5,
                  random_state=0)
    assert "positive weight is 1e+06)" in str(info.value)
    with pytest.raises(fastlr.DivergedError) as info:
        mod.train(X * 1e6, y, lr=1e6, standardize=False, epochs=5, random_state=0)
    assert "sample_weight" not in str(info.value)


@MODULES
def test_divergence_detected_without_tracked_loss(mod, breast_cancer):
    X, y = breast_cancer
    with pytest.raises(fastlr.DivergedError, match="diverged"):
        mod.train(X, y, lr=1e6, standardize=False, epochs=20, epoch_loss=None,
                  random_state=0)


@MODULES
def test_sane_lr_on_same_data_does_not_diverge(mod, breast_cancer):
    """The divergence check does not fire on a healthy run of the same data."""
    X, y = breast_cancer
    res = mod.train(X, y, lr=0.1, epochs=20, random_state=0)
    assert np.isfinite(res.w).all()
    assert mod.accuracy(y, mod.predict(X, res.w, res.b)) > 0.95


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_weighted_column_stats_are_those_of_repeated_rows(sparse):
    """Sample weights 0..3 standardize as dropping and repeating the rows
    do, in the kernels and in the twin; a constant column among the rows
    of positive weight has scale 1."""
    import scipy.sparse as sp

    from fastlr._dispatch import as_data

    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 4)) * [1.0, 3.0, 0.1, 1.0] + [0.0, 5.0, -2.0, 1.0]
    sw = rng.integers(0, 4, size=60).astype(np.float64)
    X[sw > 0, 3] = 7.5          # constant where it counts
    X[0, 3], sw[0] = -100.0, 0.0
    rep = np.repeat(X, sw.astype(int), axis=0)
    if sparse:
        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.5, X, 0.0))
        rep = sp.csr_matrix(np.repeat(X.toarray(), sw.astype(int), axis=0))
    mean, scale = (a[0] for a in as_data(X).column_stats(sw=sw))
    rmean, rscale = reference.column_stats(X, sample_weight=sw)
    want_mean, want_scale = (a[0] for a in as_data(rep).column_stats())
    np.testing.assert_allclose(mean, want_mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(scale, want_scale, rtol=1e-12)
    np.testing.assert_allclose(rmean, want_mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rscale, want_scale, rtol=1e-12)
    if not sparse:
        assert scale[3] == 1.0


@pytest.mark.parametrize("labels", [
    np.array([1, 0, 1, 1, 0]),
    np.array([7, 3, 3, 9, 7, 0], dtype=np.int8),
    np.array([5, 2, 5], dtype=np.uint16),
    np.array([0, 3000, 3000, 0]),            # too spread to count: np.unique
    np.array([-1, 1, -1]),                   # negative: np.unique
    np.array([2, 1], dtype=np.uint64),
    np.array([1.0, 0.0, 1.0]),
    np.array(["b", "a", "b"]),
    np.array([True, False, True]),
], ids=["int64", "int8", "uint16", "spread", "negative", "uint64", "float",
        "str", "bool"])
def test_class_labels_are_np_unique(labels):
    """Small non-negative integer labels are coded by counting (no sorted
    copy of y); every kind of labels gets np.unique's classes and codes."""
    from fastlr._validation import check_class_labels

    classes, codes = check_class_labels(labels, labels.shape[0])
    want, inverse = np.unique(labels, return_inverse=True)
    np.testing.assert_array_equal(classes, want)
    assert classes.dtype == want.dtype
    np.testing.assert_array_equal(codes, inverse.reshape(-1))
    assert codes.dtype == np.int64


@pytest.mark.parametrize("value, match", [
    (1e308, r"sample_weight sums to more than float64 holds"),
    (1e-320, r"sample_weight sums to 5e-319, below float64's normal range")])
@pytest.mark.parametrize("how", ["train", "reference", "estimator"])
def test_sample_weight_whose_total_float64_cannot_hold_is_refused(how, value, match):
    """The weighted statistics and losses divide by the weights' total: a
    total beyond float64 (1e308 each) gave NumPy overflow warnings and a
    DivergedError, a subnormal one (1e-320 each) an infinite loss in the
    kernel where the twin trained. Both are refused before training."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    sw = np.full(50, value)
    fit = {"train": lambda: fastlr.train(X, y, sample_weight=sw, epochs=2),
           "reference": lambda: reference.train(X, y, sample_weight=sw, epochs=2),
           "estimator": lambda: fastlr.LogisticRegression().fit(X, y, sample_weight=sw)}
    with pytest.raises(ValueError, match=match):
        fit[how]()


@pytest.mark.parametrize("cw, sw, match", [
    ({0: 1e308, 1: 1e308}, None, r"^class_weight sums to more than float64 holds"),
    ({0: 1e200}, 1e200, r"^sample_weight times class_weight sums to more than"),
    ({0: 1e-320, 1: 1e-320}, None, r"^class_weight sums to .*, below float64's"),
])
@pytest.mark.parametrize("cls", ["LogisticRegression", "LogisticRegressionCV"])
def test_class_weighted_totals_float64_cannot_hold_are_refused(cls, cw, sw, match):
    """Class weights times sample weights are the rows' weights: their
    total is checked as sample_weight's is (they ended in a DivergedError
    that blamed the features, after NumPy's overflow warnings)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    est = getattr(fastlr, cls)(class_weight=cw, **({"cv": 2} if "CV" in cls else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no NumPy overflow warning on the way
        with pytest.raises(ValueError, match=match):
            est.fit(X, y, sample_weight=None if sw is None else np.full(50, sw))


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["fastlr", "reference"])
def test_empty_rows_selects_no_row(mod):
    """rows=[] is an empty selection (it was refused for its dtype,
    float64, as if it were not a list of indices)."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="rows selects no row"):
        mod.train(X, y, rows=[])


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
@pytest.mark.parametrize("how", ["train", "reference.train", "train_many",
                                 "reference.train_many", "heldout", "cv"])
def test_rows_of_zero_total_weight_are_refused(how, solver):
    """A model whose training rows all weigh zero has 0 / 0 for its
    standardization and loss: train(rows=) raised a DivergedError that
    blamed the learning rate, train_many returned NaN weights (SGD) or
    blamed the features (the solver), the twin returned NaN. A fold whose
    held-out rows all weigh zero has a 0 / 0 held-out loss. Each is refused
    naming the argument, as LogisticRegressionCV refused its splits."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    folds = np.arange(60) % 2
    sw = (folds == 0).astype(float)   # the rows of fold label 0 only
    kw = dict(sample_weight=sw, epochs=2, solver=solver)
    mod = reference if how.startswith("reference") else fastlr
    if how.endswith("train"):
        call = lambda: mod.train(X, y, rows=folds == 1, **kw)   # noqa: E731
        match = "^rows: every row it selects has sample_weight zero"
    elif how.endswith("train_many"):
        call = lambda: mod.train_many(X, y, [0.1], folds=folds, **kw)   # noqa: E731
        match = "^folds: every row that fold 1's models train on"
    elif how == "heldout":
        three = np.arange(60) % 3
        kw["sample_weight"] = (three != 2).astype(float)
        call = lambda: fastlr.train_many(X, y, [0.1], folds=three, **kw)   # noqa: E731
        match = "^folds: every row that fold 3 holds out"
    else:
        cv = [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in (0, 1)]
        est = fastlr.LogisticRegressionCV(cv=cv, solver=solver)
        call = lambda: est.fit(X, y, sample_weight=sw)   # noqa: E731
        match = "^cv: every row that split 1's models train on has sample_weight zero"
    with pytest.raises(ValueError, match=match):
        call()
    if how == "cv":   # zero by the class weights: they are named too
        tests = [np.flatnonzero(y == c)[:10] for c in (0, 1)]   # one class each
        by_class = [(np.setdiff1d(np.arange(60), t), t) for t in tests]
        est = fastlr.LogisticRegressionCV(cv=by_class, solver=solver,
                                          class_weight={0: 0.0, 1: 1.0})
        with pytest.raises(ValueError, match="holds out has sample_weight times "
                           "class_weight zero"):
            est.fit(X, y)


@pytest.mark.parametrize("how", [
    "estimator", "estimator_cv", "partial_fit_classes", "train_multinomial",
    "reference_multinomial", "train_many_folds", "plot_decision", "dask"])
def test_labels_that_cannot_be_sorted_are_named(how):
    """Labels mixing types that do not compare (None among strings) made
    NumPy's sort raise ``'<' not supported between instances of 'NoneType'
    and 'str'``, naming neither the argument nor the labels (scikit-learn
    raises the same when the first label is a string; when it is not, its
    "Unknown label type" comes first); every entry point now names it, and
    a fitted estimator is left as it was."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    bad = np.array(["x", None], dtype=object)[np.arange(40) % 2]
    ok = np.arange(40) % 2
    name = "y"
    if how == "estimator":
        clf = fastlr.LogisticRegression(max_iter=20).fit(X, ok)
        before = clf.coef_.copy()
        call = lambda: clf.fit(X, bad)            # noqa: E731
    elif how == "estimator_cv":
        call = lambda: fastlr.LogisticRegressionCV(cv=2).fit(X, bad)   # noqa: E731
    elif how == "partial_fit_classes":
        name = "classes"
        call = lambda: fastlr.LogisticRegression().partial_fit(    # noqa: E731
            X, ok, classes=[None, "x", 0])
    elif how == "train_multinomial":
        call = lambda: fastlr.train_multinomial(X, bad, epochs=1)   # noqa: E731
    elif how == "reference_multinomial":
        call = lambda: reference.train_multinomial(X, bad, epochs=1)   # noqa: E731
    elif how == "train_many_folds":
        name = "folds"
        call = lambda: fastlr.train_many(X, ok, alphas=[1e-3], epochs=1,  # noqa: E731
                                         folds=bad)
    elif how == "plot_decision":
        import matplotlib

        matplotlib.use("Agg")
        from fastlr.plotting import plot_decision_boundary

        call = lambda: plot_decision_boundary(X, bad, [1.0, 1.0], 0.0)  # noqa: E731
    else:
        da = pytest.importorskip("dask.array")
        Xd, yd = da.from_array(X, chunks=20), da.from_array(bad, chunks=20)
        call = lambda: fastlr.LogisticRegression(max_iter=2).fit(Xd, yd)  # noqa: E731
    with pytest.raises(TypeError, match=rf"^{name} mixes labels that cannot be sorted "
                                        r"together \(of types NoneType, (int, )?str"):
        call()
    if how == "estimator":
        np.testing.assert_array_equal(clf.coef_, before)


@pytest.mark.parametrize("as_array", [False, True], ids=["list", "array"])
def test_labels_of_one_refused_type_are_not_called_mixed(as_array):
    """Bytes labels (scikit-learn refuses them) were reported as labels
    that "mix" types and "cannot be sorted together", advising labels of
    one type, which they already were."""
    X = np.arange(12.0).reshape(6, 2)
    y = [b"a", b"b"] * 3
    y = np.array(y) if as_array else y
    with pytest.raises(TypeError, match=r"^y holds labels of type bytes, which "
                                        r"cannot be classes: .*string or integer"):
        fastlr.LogisticRegression().fit(X, y)


@pytest.mark.parametrize("bad, exc, match", [
    ({"callback": "print"}, TypeError, r"^callback must be a callable"),
    ({"callback": 3}, TypeError, r"^callback must be a callable"),
    ({"n_threads": 0}, ValueError, r"^n_threads must be >= 1"),
    ({"n_threads": -1}, ValueError, r"^n_threads must be >= 1, got -1 \(None: every"),
    ({"n_threads": "four"}, TypeError, r"^n_threads must be an integer")],
    ids=["callback-str", "callback-int", "n_threads-0", "n_threads--1", "n_threads-str"])
@pytest.mark.parametrize("how", [
    "train", "train_multinomial", "train_many", "reference.train",
    "reference.train_multinomial", "reference.train_many", "distributed.train"])
def test_callback_and_n_threads_are_checked_before_training(how, bad, exc, match):
    """A callback that is not callable was accepted and failed after the
    first epoch ("'str' object is not callable"), the caller's generator
    already advanced; the twin accepted any n_threads (0, 'four') that the
    kernels refuse. Both are now refused before anything runs, naming the
    argument, on every functional entry point."""
    from fastlr import distributed

    X, y = _X(), _y()
    rng = np.random.default_rng(7)
    state = copy.deepcopy(rng.bit_generator.state)
    mod, fn = how.split(".") if "." in how else ("fastlr", how)
    target = getattr({"fastlr": fastlr, "reference": reference,
                      "distributed": distributed}[mod], fn)
    extra = {"alphas": [1e-3]} if fn == "train_many" else {}
    with pytest.raises(exc, match=match):
        target(X, y, epochs=2, random_state=rng, **extra, **bad)
    assert rng.bit_generator.state == state


def _hand_set(random_state):
    """An estimator whose model was set by hand (partial_fit starts from it)."""
    est = fastlr.LogisticRegression(random_state=random_state)
    est.coef_, est.intercept_, est.classes_ = np.ones((1, N)), np.zeros(1), \
        np.array([0, 1])
    return est


#: A call refused after its generator used to be made: each door that
#: draws from ``random_state``, and input it refuses only once it is read.
REFUSED_AFTER_DRAWING = {
    "train": lambda rs: fastlr.train(_X(), _y()[:-1], random_state=rs),
    "train-nan": lambda rs: fastlr.train(np.where(_X() > 1.5, np.nan, _X()), _y(),
                                         random_state=rs),
    "train_multinomial": lambda rs: fastlr.train_multinomial(
        _X(), np.arange(M)[:-1] % 3, random_state=rs),
    "train_many": lambda rs: fastlr.train_many(_X(), _y()[:-1], alphas=[1e-3],
                                               random_state=rs),
    "reference.train": lambda rs: reference.train(_X(), _y()[:-1], random_state=rs),
    "reference.train_many": lambda rs: reference.train_many(
        _X(), _y()[:-1], alphas=[1e-3], random_state=rs),
    "distributed.train": lambda rs: __import__("fastlr.distributed").distributed.train(
        _X(), np.arange(M) % 3, random_state=rs),
    "fit-early-stopping": lambda rs: fastlr.LogisticRegression(
        random_state=rs, early_stopping=True, validation_fraction=0.95).fit(_X(), _y()),
    "partial_fit": lambda rs: fastlr.LogisticRegression(random_state=rs).partial_fit(
        _X(), np.arange(M) % 3, classes=[0, 1]),
    "partial_fit-hand-set": lambda rs: _hand_set(rs).partial_fit(_X(), np.arange(M) % 3),
    "fit-warm-start-other-width": lambda rs: fastlr.LogisticRegression(
        warm_start=True, max_iter=1, solver="sgd", tol=None, random_state=0).fit(
        _X(), _y()).set_params(random_state=rs).fit(_X()[:, :-1], _y()),
}


@pytest.mark.parametrize("door", list(REFUSED_AFTER_DRAWING))
def test_a_refused_call_draws_nothing_from_random_state(door):
    """A call refused for its input drew the seed of its generator first:
    a RandomState given as ``random_state`` (or NumPy's global one, for
    None) was advanced, so the next call seeded by it trained another
    model than without the failed call. The generator is now made once
    the input is checked."""
    call = REFUSED_AFTER_DRAWING[door]
    rs = np.random.RandomState(4)
    with pytest.raises(ValueError):
        call(rs)
    assert rs.random_sample() == np.random.RandomState(4).random_sample()
    saved = np.random.get_state()
    try:
        np.random.seed(4)
        with pytest.raises(ValueError):
            call(None)
        assert np.random.random_sample() == np.random.RandomState(4).random_sample()
    finally:
        np.random.set_state(saved)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["kernels", "reference"])
def test_accuracy_refuses_strings_compared_with_numbers(mod):
    """Labels read as text compared with integer predictions: every pair
    unequal, accuracy 0.0 without a word, where scikit-learn's metrics
    refuse the mix."""
    with pytest.raises(ValueError, match="^y_true holds strings and y_pred numbers"):
        mod.accuracy(["1", "0", "1"], np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="^y_true holds numbers and y_pred strings"):
        mod.accuracy(np.array([1, 0]), np.array(["1", "0"], dtype=object))
    assert mod.accuracy(["1", "0"], np.array(["1", "1"])) == 0.5
    assert mod.accuracy([1.0, 0.0], [1, 1]) == 0.5


def test_sparse_labels_and_weights_are_refused_by_name():
    """A scipy.sparse y or sample_weight (one column of numbers) was called
    'non-numeric' or 'of shape ()' (np.asarray makes a 0-d object array of
    it); scikit-learn says sparse data was passed where dense is needed."""
    sp = pytest.importorskip("scipy.sparse")
    S = sp.random(30, 4, density=0.5, format="csr", random_state=0)
    y = np.arange(30) % 2
    ys = sp.csr_matrix(y.reshape(-1, 1))
    with pytest.raises(TypeError, match="^y is a scipy.sparse matrix"):
        fastlr.train(S, ys, epochs=1)
    with pytest.raises(TypeError, match="^y is a scipy.sparse matrix"):
        fastlr.train_multinomial(S, ys, epochs=1)
    with pytest.raises(TypeError, match="^sample_weight is a scipy.sparse matrix"):
        fastlr.LogisticRegression().fit(S, y, sample_weight=sp.csr_matrix(
            np.ones((30, 1))))
    with pytest.raises(TypeError, match="^y_true is a scipy.sparse matrix"):
        fastlr.accuracy(ys, y)


def test_a_sparse_x_wider_than_memory_is_refused_naming_x(monkeypatch):
    """A CSR matrix of a few entries can declare any width; training one
    allocates per column, and a process that outgrows memory is killed by
    the operating system rather than given MemoryError. Every training
    entry point weighs the width against the memory available first;
    prediction (no per-column arrays) does not."""
    from sklearn.exceptions import ConvergenceWarning

    from fastlr import LogisticRegression, LogisticRegressionCV
    from fastlr._validation import check_width

    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 1 << 30)
    n = 20_000_000   # 80 bytes a column: 1.5 GiB
    X = sp.csr_matrix((np.ones(4), ([0, 1, 2, 3], [0, 1, 2, n - 1])), shape=(4, n))
    y = np.array([0, 1, 0, 1])
    calls = (lambda: fastlr.train(X, y),
             lambda: fastlr.train_multinomial(X, np.array([0, 1, 2, 1])),
             lambda: fastlr.train_many(X, y, alphas=[1e-3, 1e-2]),
             lambda: LogisticRegression().fit(X, y),
             lambda: LogisticRegression().partial_fit(X, y, classes=[0, 1]),
             lambda: LogisticRegressionCV(cv=2).fit(X, y))
    for call in calls:
        with pytest.raises(MemoryError, match=r"^X has 20,000,000 columns .* 1\.0 GiB"):
            call()
    # nor a grid of absurdly many strengths (np.logspace of 10**9 alone
    # was 8 GB, and the models after it filled memory)
    with pytest.raises(MemoryError, match=r"^alphas=1,000,000,000 x 1 l1_ratios "
                       r"x 2 folds: training 2,000,000,000 models of 1 x 3"):
        LogisticRegressionCV(alphas=10**9, cv=2).fit(X[:, :3], y)
    # with room: no refusal (1.5 GiB of 2)
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 2 << 30)
    assert check_width(n, "X") is None
    # prediction allocates nothing per column: not checked
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 1 << 20)
    assert fastlr.predict_proba(X, np.zeros(n), 0.0).shape == (4,)
    with warnings.catch_warnings():   # and a narrow X trains as before
        warnings.simplefilter("ignore", ConvergenceWarning)
        LogisticRegression(max_iter=2, solver="sgd").fit(X[:, :3], y)


def test_the_width_guard_counts_the_classes(monkeypatch, tmp_path, capsys):
    """A k-class model holds k rows of weights: the guard weighed the width
    as for one (10 classes on 2M columns took 1,489 bytes a column to fit,
    the guard asked for 80 or 300 whatever k). Train, fit and the command
    line now weigh the classes too (train_multinomial's measured 288 bytes
    a column at 10 classes against the guard's 350: a 10-class train the
    guard takes to need 800, k times one row, was refused with room)."""
    from fastlr import LogisticRegression, cli

    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 1 << 30)
    # 80 (train) / 100 (fit, default options) bytes a column, 30 / 32 more
    # a class beyond one
    n = 4_000_000
    X = sp.csr_matrix((np.ones(10), (np.arange(10), [*range(9), n - 1])),
                      shape=(10, n))
    y3, y10 = np.arange(10) % 3, np.arange(10)
    with pytest.raises(MemoryError, match=r"^X has 4,000,000 columns .* for 10 "
                       r"classes would need about 1\.3 GiB"):
        fastlr.train_multinomial(X, y10, epochs=1)
    with pytest.raises(MemoryError, match=r"for 10 classes would need about 1\.4 GiB"):
        LogisticRegression(solver="sgd").fit(X, y10)
    with warnings.catch_warnings():   # three classes fit in 1 GiB: trained
        warnings.simplefilter("ignore")
        fastlr.train_multinomial(X, y3, epochs=1)
    data = tmp_path / "d.svm"
    data.write_text("".join(f"{c} 1:0.5 {n}:1\n" for c in range(10)))
    assert cli.main(["train", str(data), "--model", str(tmp_path / "m.npz"),
                     "--solver", "sgd"]) == 1
    assert "for 10 classes would need about 11.2 GiB" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


def test_the_width_guard_counts_l_bfgs_pairs_and_vectors(monkeypatch, tmp_path, capsys):
    """fit's guard counted the SGD fit's arrays only: with solver "auto" or
    "lbfgs" the finisher keeps 10 curvature pairs (160 bytes a weight) and
    its working vectors, and a CSR fit of k = 100 classes on 100,000
    columns peaked at 319 bytes a weight against the guard's 150 (2.1x
    under: a fit it let through could be killed). The guard now counts
    them (pairs_bytes, the accounting of the many-model check): 170 + 160 +
    48 bytes a column for one model, 150 + 160 + 48 a class beyond the
    first; "sgd" as before. Nothing is trained when refused."""
    from fastlr import LogisticRegression, cli, core

    n = 1_000_000
    X = sp.csr_matrix((np.ones(10), (np.arange(10), [*range(9), n - 1])),
                      shape=(10, n))
    y10 = np.arange(10)
    assert core.pairs_bytes("lbfgs", 1, n + 1, alone=True) == 160 * (n + 1)
    assert core.pairs_bytes("sgd", 1, n + 1, alone=True) == 0
    need = {}

    def record(need_bytes, what):
        need[what.split(":")[0]] = need_bytes

    monkeypatch.setattr("fastlr._validation.check_memory", record)
    for solver in ("sgd", "auto", "lbfgs"):
        need.clear()
        core.check_model_memory(n, 2, solver, 170, 150)
        assert need["X has 1,000,000 columns (a sparse matrix's width, an svmlight "
                    "file's largest feature index)"] == (
            170 * n if solver == "sgd" else 170 * n + 208 * (n + 1))
        need.clear()
        core.check_model_memory(n, 100, solver, 170, 150)
        assert list(need.values()) == [
            (170 + 99 * 150) * n + (0 if solver == "sgd" else 208 * 100 * (n + 1))]
    monkeypatch.undo()
    # 10 classes: 388 B a column by SGD (0.4 GiB), 2,468 with the finisher
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 2 << 30)

    def no_training(*args, **kwargs):
        raise RuntimeError("trained")

    monkeypatch.setattr("fastlr.estimator.train_state", no_training)
    with pytest.raises(RuntimeError, match="trained"):
        LogisticRegression(solver="sgd").fit(X, y10)
    for solver in ("auto", "lbfgs"):
        with pytest.raises(MemoryError, match=r"10 classes would need about 2\.3 GiB"):
            LogisticRegression(solver=solver).fit(X, y10)
    # fastlr.train, binary on 4M columns: 80 B a column by SGD (0.3 GiB),
    # 288 with the finisher (1.1 GiB)
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 1 << 30)
    monkeypatch.setattr("fastlr.core.train_state", no_training)
    X4 = sp.csr_matrix((np.ones(2), ([0, 1], [0, 4 * n - 1])), shape=(2, 4 * n))
    with pytest.raises(MemoryError, match=r"would need about 1\.1 GiB"):
        fastlr.train(X4, [0, 1], solver="lbfgs", epochs=1)
    with pytest.raises(RuntimeError, match="trained"):
        fastlr.train(X4, [0, 1], solver="sgd", epochs=1)
    data = tmp_path / "d.svm"
    data.write_text("".join(f"{c} 1:0.5 {n}:1\n" for c in range(10)))
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 4 << 30)
    assert cli.main(["train", str(data), "--model", str(tmp_path / "m.npz")]) == 1
    assert "for 10 classes would need about 4.7 GiB" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


def test_the_fits_memory_guard_counts_the_optimizer_arrays_its_options_write(
        monkeypatch):
    """fit's guard asked 170 bytes a column and 150 a class beyond the first
    whatever the options, the need of a fit that kept all four optimizer
    arrays: since a fit allocates only those its options write, a default
    10-class fit peaked at 289 bytes a column against the 1,520 asked (a
    fit of 1.3 GiB refused with 4 GiB free). It now counts 100 + 32 a
    class, 14 more of each for every array written, and the classes'
    share twice with early_stopping (a best model kept), and a warm
    start's arrays kept from the previous fit."""
    from sklearn.exceptions import ConvergenceWarning

    from fastlr import LogisticRegression, _validation

    assert _validation.fit_bytes(()) == (100, 32)
    assert _validation.fit_bytes(("gsq", "avg", "l1_u", "l1_q")) == (156, 88)
    assert _validation.fit_bytes((), early_stopping=True) == (132, 64)
    need = []
    monkeypatch.setattr("fastlr._validation.check_memory",
                        lambda need_bytes, what: need.append(need_bytes))
    # a warm start keeps every array the previous fit wrote, whatever the
    # new options write (it peaked at 664 bytes a column where these asked
    # 388, at 10 classes on 1M columns)
    n = 20_000
    X = sp.csr_matrix((np.ones(20), (np.arange(20), [*range(19), n - 1])),
                      shape=(20, n))
    y = np.arange(20) % 10
    warm = LogisticRegression(solver="sgd", penalty="elasticnet", average=True,
                              learning_rate="adagrad", max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        warm.set_params(penalty="l2", average=False, learning_rate="constant")
        need.clear()
        warm.fit(X, y)
    assert need[-1] == (156 + 9 * 88) * n
    monkeypatch.setattr("fastlr.estimator.train_state",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("trained")))
    n = 1_000_000
    X = sp.csr_matrix((np.ones(20), (np.arange(20), [*range(19), n - 1])),
                      shape=(20, n))
    y = np.arange(20) % 10
    for params, per_column in (
            ({}, 100 + 9 * 32),
            ({"penalty": "elasticnet", "learning_rate": "adagrad", "average": True},
             156 + 9 * 88),
            ({"penalty": "l1"}, 128 + 9 * 60),
            ({"early_stopping": True, "validation_fraction": 0.5}, 132 + 9 * 64)):
        need.clear()
        with pytest.raises(RuntimeError, match="trained"):
            LogisticRegression(solver="sgd", **params).fit(X, y)
        assert need[-1] == per_column * n, (params, need)


@pytest.mark.parametrize("files, gib, address_space", [
    ({}, 20.5, None),
    ({"/sys/fs/cgroup/memory.max": "4294967296\n",
      "/sys/fs/cgroup/memory.current": "1073741824\n"}, 3.0, None),
    ({"/sys/fs/cgroup/memory.max": "max\n",
      "/sys/fs/cgroup/memory.current": "1073741824\n"}, 20.5, None),
    ({"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
      "/sys/fs/cgroup/memory/memory.usage_in_bytes": "6104399872\n"}, 20.5, None),
    ({"/sys/fs/cgroup/memory/memory.limit_in_bytes": "2147483648\n",
      "/sys/fs/cgroup/memory/memory.usage_in_bytes": "536870912\n"}, 1.5, None),
    ({}, 2.5, 3 << 30),
    ({"/sys/fs/cgroup/memory.max": "4294967296\n",
      "/sys/fs/cgroup/memory.current": "1073741824\n"}, 2.5, 3 << 30),
    ({"/sys/fs/cgroup/memory.max": "2147483648\n",
      "/sys/fs/cgroup/memory.current": "1073741824\n"}, 1.0, 3 << 30),
    ({}, 0.0, 256 << 20),
], ids=["host", "v2_limit", "v2_max", "v1_unlimited", "v1_limit", "ulimit_v",
        "ulimit_v_in_v2_limit", "v2_limit_under_ulimit_v", "ulimit_v_used_up"])
def test_available_memory_is_a_container_s_own(monkeypatch, files, gib,
                                               address_space):
    """The memory the width checks weigh against: MemAvailable + SwapFree,
    or less where the process's cgroup (a container's memory limit) or its
    address-space limit (``ulimit -v``, RLIMIT_AS, less the VmSize it has
    mapped: here 512 MiB) leaves less; the host's figures would let a
    container be killed, or fail with MemoryError under ulimit -v."""
    import io
    import types

    from fastlr import _validation

    meminfo = "MemTotal: 24000000 kB\nMemAvailable: 20971520 kB\nSwapFree: 524288 kB\n"
    status = "Name:\tpython\nVmPeak:\t 900000 kB\nVmSize:\t  524288 kB\n"
    texts = {"/proc/meminfo": meminfo, "/proc/self/status": status, **files}

    def fake_open(path, *args, **kwargs):
        if path not in texts:
            raise FileNotFoundError(path)
        return io.StringIO(texts[path])

    infinity = -1
    limit = infinity if address_space is None else address_space
    monkeypatch.setattr(_validation, "resource", types.SimpleNamespace(
        RLIMIT_AS=9, RLIM_INFINITY=infinity,
        getrlimit=lambda which: (limit, infinity) if which == 9 else None),
        raising=False)
    monkeypatch.setattr(_validation, "open", fake_open, raising=False)
    assert _validation.available_memory() == gib * 2**30


def test_labels_that_are_their_own_codes_are_not_copied():
    """int64 labels 0..k-1 are their own class codes: no copy of y (8 bytes
    a row); a strided or read-only y is copied all the same, so that the
    kernels see the C-contiguous, writeable int64 array they are compiled
    for (another layout would compile them anew)."""
    from fastlr._validation import check_class_labels

    y = np.arange(100) % 3
    classes, codes = check_class_labels(y, 100)
    assert classes.tolist() == [0, 1, 2] and np.shares_memory(codes, y)
    for other in (np.repeat(y, 2)[::2], np.frombuffer(y.tobytes(), dtype=np.int64),
                  y.astype(">i8"), (y + 1) * 2):
        classes, codes = check_class_labels(other, 100)
        assert not np.shares_memory(codes, other)
        assert codes.dtype == np.int64 and codes.flags.c_contiguous
        assert codes.flags.writeable
        np.testing.assert_array_equal(classes[codes], other)


def test_a_non_finite_class_among_many_is_named_with_its_position():
    """The list of classes is abbreviated past six: the NaN at the end was
    not shown, only the message's word for it."""
    from fastlr._validation import check_classes

    with pytest.raises(ValueError, match=r"^classes contains NaN or inf, which are not "
                       r"labels: nan at position 30 of \[0\.0, 1\.0, .*\(31 in all\)\]$"):
        check_classes([float(i) for i in range(30)] + [float("nan")])
