"""Input types alike at every entry point, as scikit-learn decides them.

One table of input types (strings, object arrays, dates, bool, complex, ...)
against every function and method that takes X: each type is accepted
everywhere or refused everywhere with the same exception naming X. The
answers are checked against scikit-learn's own ``check_array(dtype=
"numeric")``, the one deviation (datetimes) included.
"""

import decimal
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

import fastlr
from fastlr import LogisticRegression, reference

BASE = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [0.5, 0.5],
                 [2.5, 1.5]])
Y = np.array([0, 0, 1, 1, 0, 1])
W = np.array([0.5, -0.25])

STRINGS = (TypeError, r"^X must have a numeric dtype, got dtype .* \(strings are "
           "not converted to numbers")
# name: (make X, None if accepted else (exception, message))
TYPES = {
    "unicode_numeric": (lambda: BASE.astype(str), STRINGS),
    "unicode_text": (lambda: np.full(BASE.shape, "a"), STRINGS),
    "bytes_numeric": (lambda: BASE.astype("S"), STRINGS),
    "list_of_numeric_strings": (lambda: BASE.astype(str).tolist(), STRINGS),
    "list_mixing_strings_and_numbers": (
        lambda: [["1", 2.0]] + BASE[1:].tolist(), STRINGS),
    "object_numeric_strings": (lambda: BASE.astype(str).astype(object), None),
    "object_numbers": (lambda: BASE.astype(object), None),
    "object_decimals": (lambda: np.array(
        [[decimal.Decimal(str(v)) for v in row] for row in BASE], dtype=object),
        None),
    "object_text": (lambda: np.where(BASE > 1, "abc", BASE.astype(str)).astype(
        object), (TypeError, r"^X must contain numbers, got dtype object with a "
                  r"non-numeric value \(could not convert string to float")),
    "object_dict": (lambda: _with_dict(), (TypeError, "argument must be .* string.* "
                                           "number")),
    "datetime64": (lambda: BASE.astype("datetime64[s]"), (
        TypeError, r"^X must have a numeric dtype, got dtype datetime64\[s\] "
        r"\(dates are not numbers")),
    "timedelta64": (lambda: BASE.astype("timedelta64[s]"), (
        TypeError, r"^X must have a numeric dtype, got dtype timedelta64\[s\] "
        r"\(durations are not numbers")),
    "bool": (lambda: BASE.astype(bool), None),
    "int8": (lambda: BASE.astype(np.int8), None),
    "uint64": (lambda: BASE.astype(np.uint64), None),
    "float16": (lambda: BASE.astype(np.float16), None),
    "complex": (lambda: BASE.astype(complex), (
        ValueError, r"^Complex data not supported: X has dtype complex128")),
    "complex_zero_imaginary_list": (lambda: (BASE + 0j).tolist(), (
        ValueError, r"^Complex data not supported")),
}


def _with_dict():
    X = BASE.astype(object)
    X[0, 0] = {"foo": "bar"}
    return X


def _fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(max_iter=3, random_state=0).fit(BASE, Y)


ENTRY_POINTS = {
    "fastlr.train": lambda X: fastlr.train(X, Y, epochs=2, random_state=0).w,
    "reference.train": lambda X: reference.train(X, Y, epochs=2, random_state=0).w,
    "fastlr.train_many": lambda X: fastlr.train_many(
        X, Y, [1e-4, 1e-2], epochs=2, random_state=0).W,
    "reference.train_many": lambda X: reference.train_many(
        X, Y, [1e-4, 1e-2], epochs=2, random_state=0).W,
    "fastlr.predict_proba": lambda X: fastlr.predict_proba(X, W, 0.1),
    "reference.predict_proba": lambda X: reference.predict_proba(X, W, 0.1),
    "fastlr.predict": lambda X: fastlr.predict(X, W, 0.1),
    "reference.predict": lambda X: reference.predict(X, W, 0.1),
    "fastlr.decision_function": lambda X: fastlr.decision_function(X, W, 0.1),
    "fastlr.gradients": lambda X: fastlr.gradients(X, Y, np.full(6, 0.5))[0],
    "reference.gradients": lambda X: reference.gradients(X, Y, np.full(6, 0.5))[0],
    "estimator.fit": lambda X: LogisticRegression(
        max_iter=2, tol=None, random_state=0).fit(X, Y).coef_,
    "estimator.partial_fit": lambda X: LogisticRegression(
        random_state=0).partial_fit(X, Y, classes=[0, 1]).coef_,
    "estimator.predict": lambda X: _fitted().predict(X),
    "estimator.predict_proba": lambda X: _fitted().predict_proba(X),
    "estimator.predict_log_proba": lambda X: _fitted().predict_log_proba(X),
    "estimator.decision_function": lambda X: _fitted().decision_function(X),
    "estimator.score": lambda X: _fitted().score(X, Y),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("kind", list(TYPES))
def test_each_input_type_at_each_entry_point(kind, entry):
    make, refusal = TYPES[kind]
    call = ENTRY_POINTS[entry]
    if refusal is None:
        got = call(make())
        want = call(np.asarray(make()).astype(np.float64))
        np.testing.assert_array_equal(got, want)
    else:
        with pytest.raises(refusal[0], match=refusal[1]):
            call(make())


@pytest.mark.parametrize("entry", ["fastlr.predict_proba", "reference.predict_proba",
                                   "estimator.fit", "estimator.predict"])
@pytest.mark.parametrize("kind", ["bool", "int8", "complex"])
def test_sparse_types_alike(kind, entry):
    import scipy.sparse as sp

    make, refusal = TYPES[kind]
    X = sp.csr_matrix(make())
    if refusal is None:
        ENTRY_POINTS[entry](X)
    else:
        with pytest.raises(refusal[0], match=refusal[1]):
            ENTRY_POINTS[entry](X)


@pytest.mark.parametrize("kind", list(TYPES))
def test_the_answers_are_scikit_learns(kind):
    """Refused here exactly when scikit-learn's check_array(dtype="numeric")
    refuses, except datetime64/timedelta64, which check_array passes through
    unconverted (and scikit-learn's predict then fails on) and fastlr refuses."""
    make, refusal = TYPES[kind]
    try:
        check_array(make(), dtype="numeric", ensure_all_finite=False)
        sklearn_refuses = False
    except (TypeError, ValueError):
        sklearn_refuses = True
    if kind in ("datetime64", "timedelta64"):
        assert not sklearn_refuses and refusal is not None
    else:
        assert sklearn_refuses == (refusal is not None)


def test_dataframe_columns_are_checked():
    """As scikit-learn's check_array: text that is not numbers and dates are
    refused; numeric strings (object or pandas' string dtype) are parsed."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": BASE[:, 0], "b": ["abc"] * BASE.shape[0]})
    with pytest.raises(TypeError, match="^X must"):
        LogisticRegression(max_iter=2, tol=None).fit(df, Y)
    df["b"] = pd.to_datetime(BASE[:, 1], unit="s")
    with pytest.raises(TypeError, match="dates are not numbers"):
        LogisticRegression(max_iter=2, tol=None).fit(df, Y)
    for text in (BASE[:, 1].astype(str).astype(object),            # object
                 pd.array(BASE[:, 1].astype(str), dtype="string")):  # pandas
        df["b"] = text
        clf = LogisticRegression(max_iter=2, tol=None).fit(df, Y)
        assert list(clf.feature_names_in_) == ["a", "b"]
        want = LogisticRegression(max_iter=2, tol=None).fit(BASE, Y)
        np.testing.assert_array_equal(clf.coef_, want.coef_)


@pytest.mark.parametrize("dtype", ["Float64", "Int64", "boolean"])
def test_nullable_dataframes_alike_at_every_entry_point(dtype):
    """pandas' nullable columns (pd.NA for a missing value): the estimator
    read a missing value as NaN, the functional API, the twin and
    prediction called it 'non-numeric' (np.asarray gave an object array of
    pd.NA). Every entry point now reads it as NaN, named by row and column,
    and trains on the values alone as on their float64 array."""
    pd = pytest.importorskip("pandas")
    base = (BASE > 0.75) if dtype == "boolean" else BASE.round()
    df = pd.DataFrame(base, columns=["a", "b"]).astype(dtype)
    calls = {
        "estimator": lambda X: LogisticRegression(max_iter=2, tol=None).fit(X, Y).coef_,
        "train": lambda X: fastlr.train(X, Y, epochs=2, random_state=0).w,
        "reference": lambda X: reference.train(X, Y, epochs=2, random_state=0).w,
        "predict_proba": lambda X: fastlr.predict_proba(X, W, 0.1),
        "reference.predict_proba": lambda X: reference.predict_proba(X, W, 0.1),
    }
    for name, call in calls.items():
        np.testing.assert_array_equal(call(df), call(base.astype(np.float64)),
                                      err_msg=name)
    df.iloc[4, 1] = pd.NA
    for name, call in calls.items():
        with pytest.raises(ValueError, match=r"X contains NaN"):
            call(df)
        if name != "estimator":   # scikit-learn's message names no cell
            with pytest.raises(ValueError, match=r"row 4, column 1"):
                call(df)


def test_validation_does_not_import_scikit_learn():
    """The functional API and its checks stay free of scikit-learn (its
    import costs about a second)."""
    import subprocess

    code = ("import sys, numpy as np, fastlr\n"
            "fastlr.train(np.eye(4), [0, 1, 0, 1], epochs=1)\n"
            "try:\n    fastlr.train(np.eye(4).astype(str), [0, 1, 0, 1])\n"
            "except TypeError:\n    pass\n"
            "print('sklearn' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=1200, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("kind", ["unicode_numeric", "complex", "datetime64",
                                  "object_numeric_strings", "bool"])
def test_distributed_train_alike(kind):
    pytest.importorskip("dask.array")
    from fastlr import distributed

    make, refusal = TYPES[kind]
    call = lambda X: distributed.train(X, Y, epochs=2, random_state=0).w  # noqa: E731
    if refusal is None:
        np.testing.assert_array_equal(call(make()), call(make().astype(np.float64)))
    else:
        with pytest.raises(refusal[0], match=refusal[1]):
            call(make())


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_float32_in_either_byte_order_stays_float32(order):
    """float32 X computes in float32 whichever its byte order (a '>f4' array
    compares unequal to np.float32, and scikit-learn's conversion made it
    float64), with the native array's exact results."""
    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    native = X.astype(np.float32)
    Xo = X.astype(order + "f4")
    a = fastlr.train(Xo, y, epochs=2, random_state=0)
    b = fastlr.train(native, y, epochs=2, random_state=0)
    assert a.w.dtype == np.float32
    np.testing.assert_array_equal(a.w, b.w)
    assert fastlr.predict_proba(Xo, b.w, b.b).dtype == np.float32
    c = LogisticRegression(random_state=0).fit(Xo, y)
    d = LogisticRegression(random_state=0).fit(native, y)
    assert c.coef_.dtype == np.float32
    np.testing.assert_array_equal(c.coef_, d.coef_)
    assert c.predict_proba(Xo).dtype == np.float32


def _mixed_frames(pd):
    """DataFrames mixing a number column with a bad one."""
    a = BASE[:, 0]
    n = a.shape[0]
    return {
        "dates": pd.DataFrame({"a": a, "t": pd.date_range("2020", periods=n)}),
        "text": pd.DataFrame({"a": a, "s": ["1"] * (n - 1) + ["x"]}),
        "Float64 NA and text": pd.DataFrame({
            "a": pd.array([1.0, 2.0, None] + [4.0] * (n - 3), dtype="Float64"),
            "s": ["1"] * n}),
        "string NA": pd.DataFrame({
            "a": a, "s": pd.array(["1", None] + ["3"] * (n - 2), dtype="string")}),
    }


@pytest.mark.parametrize("frame", ["dates", "text", "Float64 NA and text",
                                   "string NA"])
def test_dataframes_refused_with_the_estimators_words_everywhere(frame):
    """The functional API and the twin named no column (a date was "not
    'Timestamp'", a bad text value "dtype object") and called pd.NA among
    text columns a non-number, where the estimator said "dates are not
    numbers", named the column, or the NaN's row and column. One rule now
    (the estimator's column check): the same exception and message."""
    pd = pytest.importorskip("pandas")
    df = _mixed_frames(pd)[frame]
    with pytest.raises((TypeError, ValueError)) as est:
        LogisticRegression(max_iter=2, tol=None).fit(df, Y)
    for entry in ("fastlr.train", "reference.train", "fastlr.train_many",
                  "fastlr.predict_proba", "reference.predict_proba"):
        with pytest.raises(type(est.value)) as got:
            ENTRY_POINTS[entry](df)
        assert str(got.value) == str(est.value), entry


def _frame_with(pd, kind, m, rng, missing=False):
    """Numbers (float64, int64, float32, bool columns) and one ``kind``
    column (``missing``: with a missing value at row 7)."""
    values = rng.integers(0, 5, m)
    odd = {
        "category": lambda: pd.Categorical(values),
        "category of text numbers": lambda: pd.Categorical(values.astype(str)),
        "category of floats": lambda: pd.Categorical(values / 3),
        "Int64": lambda: pd.array(values, dtype="Int64"),
        "Float64": lambda: pd.array(values / 3, dtype="Float64"),
        "boolean": lambda: pd.array(values > 2, dtype="boolean"),
        "string": lambda: pd.array(values.astype(str), dtype="string"),
        "object": lambda: (values / 7).astype(str).astype(object),
        "bool": lambda: values > 2,
    }[kind]()
    if missing:
        odd[7] = np.nan if kind.startswith("category") else pd.NA
    return pd.DataFrame({"a": rng.normal(size=m), "b": rng.integers(-9, 9, m),
                         "c": rng.normal(size=m).astype(np.float32),
                         "d": rng.random(m) < 0.5, "odd": odd, "e": rng.normal(size=m)})


@pytest.mark.parametrize("kind", ["category", "category of text numbers",
                                  "category of floats", "Int64", "Float64", "boolean",
                                  "string", "object", "bool"])
def test_frames_with_other_columns_are_converted_by_blocks(monkeypatch, kind):
    """A DataFrame that is not one NumPy array of numbers (nullable,
    categorical, text or bool columns beside numbers) is converted a block
    of rows at a time into one C-ordered float64 array: the values of the
    whole frame's object array, NaN where a value is missing (then refused
    with its row and column), whatever the column names."""
    pd = pytest.importorskip("pandas")
    from fastlr import _validation

    # blocks of 7 rows, NumPy tiles of 2 columns: test-sized frames cross many
    monkeypatch.setattr(_validation, "FRAME_TILE_ROWS", 7)
    monkeypatch.setattr(_validation, "FRAME_TILE_BYTES", 2 * 7 * 8)
    df = _frame_with(pd, kind, 100, np.random.default_rng(1))
    want = df.to_numpy(dtype=object, na_value=np.nan).astype(np.float64)
    for frame in (df, df.set_axis(["x"] * df.shape[1], axis=1)):
        got = _validation.check_X(frame)
        assert got.dtype == np.float64 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(fastlr.predict_proba(frame, np.arange(6.0), 0.5),
                                      fastlr.predict_proba(want, np.arange(6.0), 0.5))
    if kind not in ("object", "bool", "string", "category of text numbers"):
        bad = _frame_with(pd, kind, 100, np.random.default_rng(1), missing=True)
        with pytest.raises(ValueError, match=r"^X contains NaN or infinity "
                                             r"\(first at row 7, column 4\)$"):
            fastlr.train(bad, np.arange(100) % 2, epochs=1)


@pytest.mark.parametrize("kind", ["category", "bool", "Int64"])
def test_a_frame_with_one_other_column_is_copied_once(traced_peak, kind):
    """One such column among 40 made the whole frame an object array, a
    Python float a value: 5x X's float64 bytes at the peak. By blocks: about
    X's float64 copy."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    m = 100_000
    df = pd.DataFrame(rng.normal(size=(m, 39)), columns=[f"x{j}" for j in range(39)])
    df["odd"] = _frame_with(pd, kind, m, rng)["odd"]
    from fastlr._validation import check_X

    X, peak = traced_peak(lambda: check_X(df))
    assert X.shape == (m, 40)
    assert peak < 1.5 * X.nbytes, peak / X.nbytes
