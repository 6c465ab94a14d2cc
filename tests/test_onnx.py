"""fastlr.to_onnx and the skl2onnx converter: onnxruntime's probabilities
and labels against the model's own, binary and k-class, float32 and float64."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, make_classification

import fastlr

ort = pytest.importorskip(
    "onnxruntime", reason="the onnx extra is not installed: "
    "pip install 'fastlr-numba[onnx]' onnxruntime")
onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed: "
                           "pip install 'fastlr-numba[onnx]'")

DTYPES = [np.float32, np.float64]


def session(onx):
    return ort.InferenceSession(onx.SerializeToString(),
                                providers=["CPUExecutionProvider"])


def fitted(kind, dtype, labels=None, **params):
    """A model on unscaled data, so the standardization folded into coef_
    and intercept_ matters (breast cancer's columns span 1e-3 to 4e3)."""
    if kind == "binary":
        X, y = load_breast_cancer(return_X_y=True)
    elif kind == "iris":
        X, y = load_iris(return_X_y=True)
    else:  # five classes, with columns far from zero mean
        X, y = make_classification(600, 8, n_informative=6, n_classes=5,
                                   class_sep=2.0, random_state=0)
        X = X * [1, 10, 100, 0.1, 1, 5, 2, 3] + [5, -50, 1000, 0, 3, 0, 0, 7]
    if labels is not None:
        y = np.asarray(labels)[y]
    X = X.astype(dtype)
    clf = fastlr.LogisticRegression(lr=0.1, random_state=0, max_iter=30, tol=None,
                                    **params).fit(X, y)
    return clf, X


@pytest.mark.parametrize("kind", ["binary", "iris", "five"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_probabilities_and_labels_match_predict_proba(kind, dtype):
    clf, X = fitted(kind, dtype)
    onx = fastlr.to_onnx(clf, dtype=dtype)
    label, proba = session(onx).run(None, {"X": X})
    expected = clf.predict_proba(X)
    assert proba.dtype == dtype and proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(label, clf.predict(X))
    # the model is confident on some rows and unsure on others: the check
    # covers both ends of the sigmoid/softmax
    assert proba.max() > 0.95 and proba.max(axis=1).min() < 0.9


def test_float32_k_class_probabilities_within_the_logits_rounding():
    """A float32 k-class model on float32 X: predict_proba is the softmax of
    the logits rounded to float32 (as predict decides on them), the
    graph's of the double logits, so they differ by up to the row's largest
    |logit| times 2**-25 (README), plus each side's float32 rounding of
    the probabilities (here, logits up to 444: 8.9e-7 apart)."""
    clf, X = fitted("five", np.float32)
    clf.coef_ = clf.coef_ * np.float32(30)   # logits in the hundreds
    clf.intercept_ = clf.intercept_ * np.float32(30)
    label, proba = session(fastlr.to_onnx(clf)).run(None, {"X": X})
    expected = clf.predict_proba(X)
    z = X.astype(np.float64) @ clf.coef_.T.astype(np.float64) + clf.intercept_
    assert np.abs(z).max() > 100
    bound = np.abs(z).max(axis=1) * 2.0**-25 + 2 * 2.0**-24
    assert (np.abs(proba - expected).max(axis=1) <= bound).all()
    rounded = z.astype(np.float32).astype(np.float64)
    exact = np.exp(rounded - rounded.max(axis=1, keepdims=True))
    exact /= exact.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(expected, exact, rtol=0, atol=2.0**-23)
    np.testing.assert_array_equal(label, clf.predict(X))


@pytest.mark.parametrize("kind", ["binary", "five"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_another_runtime_evaluates_the_graph_alike(kind, dtype):
    """README: "onnxruntime, or any ONNX runtime". The onnx package's own
    evaluator (plain NumPy, operator by operator as the standard defines
    them) gives predict_proba's probabilities and predict's labels, text
    labels included."""
    from onnx.reference import ReferenceEvaluator

    clf, X = fitted(kind, dtype, labels=["a", "b"] if kind == "binary" else None)
    graph = ReferenceEvaluator(fastlr.to_onnx(clf, dtype=dtype))
    label, proba = graph.run(None, {"X": X})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(label, clf.predict(X))


@pytest.mark.parametrize("kind", ["binary", "iris"])
def test_cross_validated_model_exports_its_final_model(kind):
    _, X = fitted(kind, np.float64)
    y = (load_breast_cancer if kind == "binary" else load_iris)(return_X_y=True)[1]
    cv = fastlr.LogisticRegressionCV(alphas=3, cv=3, random_state=0).fit(X, y)
    label, proba = session(fastlr.to_onnx(cv, dtype=np.float64)).run(None, {"X": X})
    np.testing.assert_allclose(proba, cv.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(label, cv.predict(X))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_a_float32_model_exported_for_float64_input_and_back(dtype):
    """The model's dtype (that of its training X) and the export's are
    independent."""
    other = np.float64 if dtype == np.float32 else np.float32
    clf, X = fitted("iris", dtype)
    X = X.astype(other)
    _, proba = session(fastlr.to_onnx(clf, dtype=other)).run(None, {"X": X})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("k", [2, 3])
def test_labels_on_a_float32_boundary_are_predict_s(k):
    """For float32 X and a float32 model, predict decides on the logits
    rounded to float32 (two classes tied there go to the first), and so
    does the graph: deciding on the float64 logits, it gave 5,470 of these
    20,000 rows on the boundary of classes 0 and 1 the other label."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    y = np.digitize(X[:, 0], [-0.5, 0.5] if k == 3 else [0.0])
    clf = fastlr.LogisticRegression(random_state=0).fit(X, y)
    W = clf.coef_.astype(np.float64)
    B = clf.intercept_.astype(np.float64)
    d, c = (W[0], B[0]) if k == 2 else (W[0] - W[1], B[0] - B[1])
    T = rng.normal(size=(20000, 4))
    T[:, 0] = -(T[:, 1:] @ d[1:] + c) / d[0]   # logit 0 = logit 1 (or 0)
    T = T.astype(np.float32)
    label, _ = session(fastlr.to_onnx(clf)).run(None, {"X": T})
    np.testing.assert_array_equal(label, clf.predict(T))


def test_string_labels_and_options_travel():
    clf, X = fitted("iris", np.float64, labels=["setosa", "versicolor", "virginica"],
                    penalty="l1", alpha=1e-3, average=True)
    label, proba = session(fastlr.to_onnx(clf)).run(None, {"X": X.astype(np.float32)})
    assert label.dtype == object
    np.testing.assert_array_equal(label, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-6)


def test_sparse_trained_model():
    from scipy import sparse

    X, y = load_breast_cancer(return_X_y=True)
    Xs = sparse.csr_matrix(np.where(X > np.median(X, axis=0), X, 0.0))
    clf = fastlr.LogisticRegression(random_state=0, max_iter=20, tol=None).fit(Xs, y)
    dense = Xs.toarray()
    _, proba = session(fastlr.to_onnx(clf, dtype=np.float64)).run(None, {"X": dense})
    np.testing.assert_allclose(proba, clf.predict_proba(Xs), atol=1e-6)


def test_graph_is_declared_and_checked():
    clf, _ = fitted("binary", np.float64)
    onx = fastlr.to_onnx(clf)
    onnx.checker.check_model(onx)
    assert [i.name for i in onx.graph.input] == ["X"]
    assert [o.name for o in onx.graph.output] == ["label", "probabilities"]
    dims = onx.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 30
    assert onx.opset_import[0].version == fastlr.onnx.DEFAULT_OPSET
    assert onx.producer_name == "fastlr"
    # built from the public attributes alone: another model with the same
    # coef_/intercept_/classes_ exports the same graph
    twin = fastlr.LogisticRegression().fit(np.zeros((4, 30)) + np.arange(4)[:, None],
                                           [0, 0, 1, 1])
    twin.coef_, twin.intercept_ = clf.coef_.copy(), clf.intercept_.copy()
    assert fastlr.to_onnx(twin).graph == onx.graph


def test_bad_input():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    with pytest.raises(NotFittedError):
        fastlr.to_onnx(fastlr.LogisticRegression())
    with pytest.raises(TypeError, match="fastlr.LogisticRegression"):
        fastlr.to_onnx(SkLogisticRegression())
    clf, _ = fitted("binary", np.float64)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        fastlr.to_onnx(clf, dtype=np.int64)
    with pytest.raises(ValueError, match="opset must be >= 13"):
        fastlr.to_onnx(clf, opset=11)
    # each named (int() said 'invalid literal', truncated 15.7 to 15)
    for opset in ("x", 15.7, True):
        with pytest.raises(TypeError, match="opset must be an integer"):
            fastlr.to_onnx(clf, opset=opset)
    with pytest.raises(TypeError, match="name must be a string"):
        fastlr.to_onnx(clf, name=5)
    # each named too: None had built a float64 graph (np.dtype(None)), the
    # others raised numpy's or onnx's errors without the argument's name
    for dtype in (None, "foo", object):
        with pytest.raises((TypeError, ValueError), match="dtype must be float32 or"):
            fastlr.to_onnx(clf, dtype=dtype)
    newest = onnx.defs.onnx_opset_version()
    for opset in (newest + 1, 10**20):
        with pytest.raises(ValueError, match=f"opset must be <= {newest}"):
            fastlr.to_onnx(clf, opset=opset)
    with pytest.raises(ValueError, match="name must not be empty"):
        fastlr.to_onnx(clf, name="")


# --------------------------------------------------------------------------
# skl2onnx: a Pipeline that ends in fastlr.LogisticRegression


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("kind", ["binary", "iris"])
def test_skl2onnx_pipeline(kind, dtype):
    skl2onnx = pytest.importorskip("skl2onnx", reason="the onnx extra is not "
                                   "installed: pip install 'fastlr-numba[onnx]'")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import fastlr.onnx  # noqa: F401  (registers the converter)

    X, y = load_breast_cancer(return_X_y=True) if kind == "binary" else \
        load_iris(return_X_y=True)
    X = X.astype(dtype)
    labels = np.array(["no", "yes", "maybe"])[y]
    pipe = make_pipeline(StandardScaler(), fastlr.LogisticRegression(
        random_state=0, max_iter=30, tol=None)).fit(X, labels)
    onx = skl2onnx.to_onnx(pipe, X[:1], options={
        fastlr.LogisticRegression: {"zipmap": False}})
    label, proba = session(onx).run(None, {"X": X})
    np.testing.assert_array_equal(label, pipe.predict(X))
    # the scaler runs in ONNX in the input's dtype, as in scikit-learn
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0,
                               atol=1e-6 if dtype == np.float64 else 1e-5)
    if dtype == np.float32:  # the default: a list of {label: probability}
        onx = skl2onnx.to_onnx(pipe, X[:1])
        _, maps = session(onx).run(None, {"X": X[:3]})
        assert sorted(maps[0]) == sorted(pipe.classes_.tolist())


def test_lazy_attribute():
    import subprocess
    import sys

    code = ("import sys, fastlr; assert 'onnx' not in sys.modules; "
            "f = fastlr.to_onnx; assert f.__module__ == 'fastlr.onnx'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "ok"


def test_k_class_logits_beyond_float64_give_predict_proba_s_0_and_1():
    """Finite X near the float64 limit makes k-class logits +-inf; ONNX's
    Softmax of them was NaN where predict_proba gives 0 and 1. The logits
    are clipped to the finite range before the Softmax."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    clf = fastlr.LogisticRegression().fit(X, np.digitize(X[:, 0], [-0.5, 0.5]))
    big = np.array([[1e308, 0.0, 0.0], [-1.7e308, 0.0, 0.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        expected = clf.predict_proba(big)
        assert np.isinf(clf.decision_function(big)).any()
    label, proba = session(fastlr.to_onnx(clf, dtype=np.float64)).run(None, {"X": big})
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, expected, atol=1e-12)
    np.testing.assert_array_equal(label, clf.predict(big))


def test_uint64_labels_beyond_int64_are_refused():
    """The int64 label output wrapped 2**64 - 1 to -1: refused instead."""
    clf, _ = fitted("binary", np.float64,
                    labels=np.array([0, 2**64 - 1], dtype=np.uint64))
    with pytest.raises(ValueError, match="beyond int64"):
        fastlr.to_onnx(clf)


@pytest.mark.parametrize("classes", [[0.0, 1e20], [-1e19, 1e19], [0.0, 2.0**63],
                                     [-2.0**63, 0.0]])
def test_whole_float_labels_beyond_int64_are_doubles(classes):
    """astype(int64) made them all int64's minimum: one label for both
    classes (fit refuses such labels; a model file or classes_ set by hand
    carries them)."""
    clf, X = fitted("binary", np.float64)
    clf.classes_ = np.array(classes)
    label, _ = session(fastlr.to_onnx(clf, np.float64)).run(None, {"X": X[:50]})
    # (-2**63 is int64's own minimum: int64 labels)
    assert label.dtype == (np.int64 if classes[0] == -2.0**63 else np.float64)
    np.testing.assert_array_equal(label, clf.predict(X[:50]))
