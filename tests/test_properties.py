"""Property-based tests (hypothesis) of the functional API.

Floats are always bounded (``st.floats(-50, 50)`` and the like: unbounded
floats overflow exp() in ways no function promises to survive, and a property
test that fails on them gets skipped rather than fixed); the infinities and
the largest finite values are mixed in explicitly where the function
promises to handle them. ``deadline=None`` because the first call of a kernel compiles.
"""

import contextlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastlr
from fastlr import reference

# database=None: no .hypothesis/ directory in the working tree.
SETTINGS = settings(deadline=None, max_examples=50, database=None)
MODULES = pytest.mark.parametrize("mod", [fastlr, reference],
                                  ids=["kernels", "reference"])
DTYPES = st.sampled_from([np.float32, np.float64])

EXTREMES = {
    np.float64: [0.0, -0.0, 1e300, -1e300, 1.7e308, -1.7e308,
                 float(np.finfo(np.float64).max), -float(np.finfo(np.float64).max),
                 math.inf, -math.inf],
    np.float32: [0.0, -0.0, 1e30, -1e30, 3.4e38, -3.4e38,
                 float(np.finfo(np.float32).max), -float(np.finfo(np.float32).max),
                 math.inf, -math.inf],
}

# One float32 ulp of 1.0 is 2**-23; each side of the symmetry relation is
# rounded to float32 once, so the two can differ by up to two half-ulps.
SYMMETRY_ATOL = {np.float64: 1e-12, np.float32: 2.0**-23}


@contextlib.contextmanager
def no_float_warnings():
    """Turn every warning into an error and NumPy overflow/invalid into raises.

    Underflow to 0 is expected (exp(-1e300) is 0) and stays silent.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise",
                         under="ignore"):
            yield


@st.composite
def logits(draw, max_size=100):
    """1-D float32/float64 logits: moderate, huge, and extreme values."""
    dtype = draw(DTYPES)
    width = 32 if dtype == np.float32 else 64
    big = float(np.finfo(dtype).max)
    elements = st.one_of(
        st.floats(-60, 60, width=width),
        st.floats(-big, big, width=width),
        st.sampled_from(EXTREMES[dtype]),
    )
    return draw(hnp.arrays(dtype, st.integers(1, max_size), elements=elements))


@st.composite
def problems(draw, min_rows=1, max_rows=50, max_cols=8):
    """(X, y, p, w, b): X and p share a float dtype; bounded values."""
    dtype = draw(DTYPES)
    m = draw(st.integers(min_rows, max_rows))
    n = draw(st.integers(1, max_cols))
    X = draw(hnp.arrays(dtype, (m, n), elements=st.floats(-50, 50, width=32)))
    y = draw(hnp.arrays(np.int64, m, elements=st.integers(0, 1)))
    p = draw(hnp.arrays(dtype, m, elements=st.one_of(
        st.floats(0, 1, width=32), st.sampled_from([0.0, 1.0]))))
    w = draw(hnp.arrays(np.float64, n, elements=st.floats(-5, 5, width=32)))
    b = draw(st.floats(-50, 50, width=32))
    return X, y, p, w, b


def _tol(dtype):
    """Kernel vs reference: both compute in float64; float32 outputs may land
    one float32 ulp apart after the final rounding."""
    if dtype == np.float32:
        return {"rtol": 1e-6, "atol": 1e-6}
    return {"rtol": 1e-10, "atol": 1e-10}


# --------------------------------------------------------------------------
# sigmoid


@MODULES
@SETTINGS
@given(z=logits())
def test_sigmoid_in_unit_interval_and_dtype_preserved(mod, z):
    with no_float_warnings():
        s = mod.sigmoid(z)
    assert s.dtype == z.dtype
    assert s.shape == z.shape
    assert not np.isnan(s).any()
    assert ((s >= 0) & (s <= 1)).all()


@MODULES
@SETTINGS
@given(z=logits())
def test_sigmoid_symmetry(mod, z):
    with no_float_warnings():
        pos = mod.sigmoid(z).astype(np.float64)
        neg = mod.sigmoid(-z).astype(np.float64)
    np.testing.assert_allclose(neg, 1.0 - pos, rtol=0,
                               atol=SYMMETRY_ATOL[z.dtype.type])


@MODULES
@SETTINGS
@given(z=logits(max_size=200))
def test_sigmoid_monotone(mod, z):
    zs = np.sort(z)
    with no_float_warnings():
        s = mod.sigmoid(zs)
    assert (np.diff(s) >= 0).all()


@SETTINGS
@given(z=logits())
def test_sigmoid_kernel_matches_reference(z):
    a = fastlr.sigmoid(z)
    b = reference.sigmoid(z)
    assert a.dtype == b.dtype == z.dtype
    np.testing.assert_allclose(a, b, rtol=_tol(z.dtype.type)["rtol"], atol=1e-300)


@MODULES
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_sigmoid_extreme_values_exact(mod, dtype):
    z = np.array(EXTREMES[dtype], dtype=dtype)
    with no_float_warnings():
        s = mod.sigmoid(z)
        scalars = [mod.sigmoid(dtype(v)) for v in EXTREMES[dtype]]
    assert s.dtype == dtype
    expected = np.where(z > 0, 1.0, np.where(z < 0, 0.0, 0.5))
    np.testing.assert_array_equal(s, expected)
    np.testing.assert_array_equal(np.array(scalars), expected)


@MODULES
def test_sigmoid_integer_and_python_input(mod):
    big = np.iinfo(np.int64).max
    with no_float_warnings():
        s = mod.sigmoid(np.array([-big, -1, 0, 1, big], dtype=np.int64))
        f = mod.sigmoid(-1.7e308)
        lst = mod.sigmoid([1e300, -1e300])
    assert s.dtype == np.float64  # integers compute in float64
    np.testing.assert_allclose(s, [0.0, 1 / (1 + math.e), 0.5, 1 / (1 + 1 / math.e), 1.0],
                               rtol=1e-15)
    assert f == 0.0
    assert lst.dtype == np.float64 and lst.tolist() == [1.0, 0.0]


# --------------------------------------------------------------------------
# log_loss


@MODULES
@SETTINGS
@given(data=problems(max_cols=1))
@example(data=(np.zeros((2, 1)), np.array([0, 1]), np.array([1.0, 0.0]),
               np.zeros(1), 0.0))
@example(data=(np.zeros((2, 1), np.float32), np.array([1, 0]),
               np.array([1.0, 0.0], np.float32), np.zeros(1), 0.0))
def test_log_loss_finite_nonnegative_bounded(mod, data):
    _, y, p, _, _ = data
    with no_float_warnings():
        loss = mod.log_loss(y, p)
    assert isinstance(loss, float)
    assert math.isfinite(loss)
    # each term lies in [0, ~-log(eps)] because p is clipped to [eps, 1 - eps]
    # (1 - eps is rounded, so 1 - (1 - eps) is eps only to ~1e-3 relative)
    assert 0.0 <= loss <= -math.log(1e-15) * (1 + 1e-3)


@MODULES
@SETTINGS
@given(eps=st.floats(2.0**-53, 0.5, exclude_max=True))
@example(eps=2.0**-53)
def test_log_loss_finite_for_every_accepted_eps(mod, eps):
    """Certain and certainly wrong predictions, at any eps accepted: 1 - eps
    is below 1 in float64, so neither term is infinite (nor 0 * inf)."""
    y = np.array([1, 0, 1, 0])
    p = np.array([1.0, 0.0, 0.0, 1.0])
    with no_float_warnings():
        loss = mod.log_loss(y, p, eps=eps)
    assert math.isfinite(loss) and loss >= 0.0


@SETTINGS
@given(data=problems(max_cols=1))
def test_log_loss_kernel_matches_reference(data):
    _, y, p, _, _ = data
    np.testing.assert_allclose(fastlr.log_loss(y, p), reference.log_loss(y, p),
                               rtol=1e-10, atol=1e-12)


@given(k=st.floats(0.0, 17.0), right=st.booleans())
@SETTINGS
def test_log_loss_of_confident_predictions_matches_reference_relatively(k, right):
    """Near p = 1 (or 0) the loss is tiny; the kernel's log must be exact
    there, relatively, not only to an absolute 1e-12 (compiled with
    approximate functions it was 29% off at p = 1 - 1e-14 and did not clip
    p = 1 to 1 - eps: 0 instead of 1e-15)."""
    p = 1.0 - 10.0 ** -k if k < 17 else 1.0
    y = np.array([1, 0])
    probs = np.array([p, 1.0 - p]) if right else np.array([1.0 - p, p])
    np.testing.assert_allclose(fastlr.log_loss(y, probs),
                               reference.log_loss(y, probs), rtol=1e-12, atol=0)


# --------------------------------------------------------------------------
# gradients, predict_proba: kernel == reference on random shapes


@SETTINGS
@given(data=problems())
def test_gradients_kernel_matches_reference(data):
    X, y, p, _, _ = data
    dw, db = fastlr.gradients(X, y, p)
    rw, rb = reference.gradients(X, y, p)
    assert dw.dtype == rw.dtype == X.dtype
    assert dw.shape == (X.shape[1],)
    np.testing.assert_allclose(dw, rw, **_tol(X.dtype.type))
    np.testing.assert_allclose(db, rb, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(data=problems())
def test_predict_proba_kernel_matches_reference(data):
    X, _, _, w, b = data
    with no_float_warnings():
        pa = fastlr.predict_proba(X, w, b)
        pb = reference.predict_proba(X, w, b)
    assert pa.dtype == pb.dtype == X.dtype
    assert ((pa >= 0) & (pa <= 1)).all()
    atol = 1e-6 if X.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(pa, pb, rtol=_tol(X.dtype.type)["rtol"], atol=atol)


# --------------------------------------------------------------------------
# train: two epochs, kernel == reference


@SETTINGS
@given(
    m=st.integers(2, 50),
    n=st.integers(1, 8),
    dtype=DTYPES,
    seed=st.integers(0, 2**32 - 1),
    batch_size=st.integers(1, 60),
    shuffle=st.booleans(),
    standardize=st.booleans(),
    penalty=st.sampled_from([None, "l2"]),
    epoch_loss=st.sampled_from(["running", "full", None]),
)
def test_short_train_kernel_matches_reference(m, n, dtype, seed, batch_size, shuffle,
                                              standardize, penalty, epoch_loss):
    # The data come from a seeded generator rather than from hypothesis
    # elements: hypothesis readily builds columns such as [1.0, 1.0000001]
    # whose ill-conditioned standardization amplifies rounding differences
    # between any two implementations beyond the tolerance.
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(m, n)) * rng.uniform(0.1, 5, n)
         + rng.uniform(-3, 3, n)).astype(dtype)
    y = rng.integers(0, 2, m)
    y[:2] = [0, 1]  # training needs both classes
    kw = dict(batch_size=batch_size, epochs=2, lr=0.05, shuffle=shuffle,
              standardize=standardize, penalty=penalty, alpha=0.01,
              epoch_loss=epoch_loss, random_state=seed)
    a = fastlr.train(X, y, **kw)
    b = reference.train(X, y, **kw)
    assert a.w.dtype == b.w.dtype == dtype
    assert a.losses.shape == b.losses.shape == (2,)
    assert np.isfinite(a.w).all() and math.isfinite(a.b)
    if dtype == np.float32:
        np.testing.assert_allclose(a.w, b.w, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_allclose(a.w, b.w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.b, b.b, rtol=1e-10, atol=1e-12)
    if epoch_loss is None:
        assert np.isnan(a.losses).all() and np.isnan(b.losses).all()
    else:
        np.testing.assert_allclose(a.losses, b.losses, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# the classes of a classifier's labels: counted (bincount) where they are
# small integers, else scikit-learn's check and np.unique

LABEL_DTYPES = st.sampled_from([np.int8, np.int64, np.uint16, np.uint64,
                                np.float32, np.float64, np.bool_])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), dtype=LABEL_DTYPES)
@example(data=None, dtype=np.int64)
def test_target_classes_equal_numpy_unique(data, dtype):
    """Integer-valued labels of every dtype, small and wide ranges (the
    wide ones take the sorting path): the same classes, values and dtype,
    as ``np.unique``, and the same warning as scikit-learn's check (more
    classes than half the labels)."""
    from sklearn.utils.multiclass import check_classification_targets

    from fastlr._validation import target_classes

    if data is None:   # a range too wide to count: the fallback path
        y = np.array([-(2 ** 40), 0, 3, 2 ** 40], dtype=np.int64)
    else:
        info = (np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None)
        lo = 0 if dtype is np.bool_ else max(-(2 ** 20), info.min if info else -(2 ** 20))
        hi = 1 if dtype is np.bool_ else min(2 ** 20, info.max if info else 2 ** 20)
        values = st.integers(lo, hi)
        y = np.array(data.draw(st.lists(values, min_size=1, max_size=60)),
                     dtype=dtype)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        got = target_classes(y)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        check_classification_targets(y)
    want = np.unique(y)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("y", [np.array([0.0, 0.5, 1.0]), np.array([1.0, 2.5])])
def test_target_classes_refuse_what_sklearn_refuses(y):
    """Non-integral floats are continuous targets: refused with
    scikit-learn's own error."""
    from sklearn.utils.multiclass import check_classification_targets

    from fastlr._validation import target_classes

    with pytest.raises(ValueError) as ours:
        target_classes(y)
    with pytest.raises(ValueError) as theirs:
        check_classification_targets(y)
    assert str(ours.value) == str(theirs.value)


def test_target_classes_of_strings_and_objects():
    from fastlr._validation import target_classes

    y = np.array(["b", "a", "c", "a"])
    np.testing.assert_array_equal(target_classes(y), ["a", "b", "c"])
    y = np.array([3, "x"], dtype=object)
    with pytest.raises(ValueError, match="Unknown label type"):
        target_classes(y)
