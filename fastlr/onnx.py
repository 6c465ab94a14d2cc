"""ONNX export of a fitted :class:`fastlr.LogisticRegression`.

:func:`to_onnx` turns a binary or k-class model into an ONNX graph that
onnxruntime (or any ONNX runtime) evaluates without fastlr, numba or
scikit-learn; ``fastlr export --model m.npz --out m.onnx`` does the same
from the command line. Importing this module also registers a converter
with skl2onnx (when it is installed), so that ``skl2onnx.to_onnx`` converts
a scikit-learn ``Pipeline`` that ends in ``fastlr.LogisticRegression``::

    import fastlr.onnx          # registers the converter
    onx = skl2onnx.to_onnx(pipeline, X[:1].astype(np.float32))

Requires the ``onnx`` extra (``pip install "fastlr-numba[onnx]"``: onnx, and
skl2onnx for pipelines); ``import fastlr`` never imports it.

The graph
---------
It is built from the model's public attributes only: ``coef_`` and
``intercept_``, which are in raw feature space (the standardization used in
training is folded into them, exactly as ``predict_proba`` uses them), and
``classes_``::

    X (rows x n, float32 or float64) -> Cast to double
      -> z = X @ coef_.T + intercept_                 (rows x 1, or rows x k)
      two classes: p = Sigmoid(z); probabilities = [1 - p, p]
                   label = classes_[z > 0]
      k classes:   probabilities = Softmax(z);  label = classes_[argmax z]
      probabilities -> Cast to the dtype of the export

The logits are computed in double whatever the input dtype, as fastlr
computes a binary model's logits (accumulating in float64), so float32
probabilities differ from ``predict_proba``'s by float32 rounding only.
A k-class model trained on float32 data takes ``predict_proba``'s softmax
of float32 input from the logits rounded to float32 (those ``predict``
decides on): a probability then differs from the graph's by up to about
the row's largest ``|logit|`` times 2**-25, which can pass 1e-6 beyond
logits of about 30 (1.4e-6 measured at logits near 190).
For float32 input and a model trained on float32 data, the label is decided
on the logits rounded to float32, as ``predict`` decides it there (two
classes whose logits round to one value go to the first).
Inputs and outputs: ``X`` of shape ``[N, n]``; ``label`` of shape ``[N]``
(int64 for integer and boolean labels and for float labels that are all
whole numbers within int64, double for other numbers, string for text) and
``probabilities`` of shape ``[N, k]``, columns in ``classes_`` order.
"""

import numbers

import numpy as np

from ._validation import shown

__all__ = ["DEFAULT_OPSET", "register_skl2onnx_converter", "require", "to_onnx"]

#: The ai.onnx opset of exported graphs: 15 (2021) is run by every
#: onnxruntime since 1.10 and has every operator used (Softmax over one axis
#: needs 13).
DEFAULT_OPSET = 15

_INSTALL = 'pip install "fastlr-numba[onnx]"'


def require():
    """Import and return the ``onnx`` package, or raise ImportError saying how
    to install it."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(f"ONNX export needs the onnx package ({exc}); install "
                          f"it with {_INSTALL}") from None
    return onnx


def _check_model(model):
    from sklearn.utils.validation import check_is_fitted

    from .estimator import LogisticRegression
    from .estimator_cv import LogisticRegressionCV

    if not isinstance(model, LogisticRegression | LogisticRegressionCV):
        raise TypeError(f"model must be a fitted fastlr.LogisticRegression or "
                        f"LogisticRegressionCV, got {type(model).__name__}")
    check_is_fitted(model)
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64).reshape(-1)
    classes = np.asarray(model.classes_)
    k = classes.shape[0]
    rows = 1 if k == 2 else k
    if coef.ndim != 2 or coef.shape[0] != rows or intercept.shape != (rows,):
        raise ValueError(f"model.coef_ {coef.shape} and intercept_ "
                         f"{intercept.shape} do not fit {k} classes")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("model.coef_ or intercept_ holds NaN or infinity")
    return coef, intercept, classes


def _label_values(classes, int_labels=False):
    """``classes_`` as the values of the ``label`` output."""
    kind = classes.dtype.kind
    if kind in "US" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return np.array([str(c) for c in classes], dtype=object)
    if kind == "u" and classes.max() > np.iinfo(np.int64).max:
        raise ValueError(f"classes_ [{shown(classes, item=repr)}] hold labels "
                         "beyond int64, which the ONNX label output cannot "
                         "carry (it would wrap them to negative numbers)")
    if kind == "f" and (classes == np.round(classes)).all() and not (
            (classes >= -2.0**63) & (classes < 2.0**63)).all():
        # (astype made each one int64's minimum: one label for every class)
        if int_labels:
            raise ValueError(f"classes_ [{shown(classes, item=repr)}] hold whole numbers "
                             "beyond int64, which this ONNX label output cannot "
                             "carry")
        return classes.astype(np.float64)
    if kind in "biu" or (kind == "f" and (classes == np.round(classes)).all()):
        return classes.astype(np.int64)
    if kind == "f" and not int_labels:
        return classes.astype(np.float64)
    raise ValueError(f"classes_ of dtype {classes.dtype} ([{shown(classes, item=repr)}]) "
                     "cannot be labels of this ONNX output (integers or text only)")


def _rounds_logits(model, single_x):
    """Whether ``predict`` rounds the logits to float32 before deciding:
    for float32 X (``single_x``) and a float32 model."""
    return single_x and np.asarray(model.coef_).dtype == np.float32


def _graph_nodes(coef, intercept, labels, x, label, proba, proba_type, fresh,
                 round_logits=False):
    """The nodes and initializers from ``x`` to the outputs ``label`` and
    ``proba`` (names), as onnx protos; ``fresh(stem)`` gives an unused name.
    ``round_logits``: the label from the logits rounded to float32, as
    ``predict`` decides for float32 X and a float32 model (whose logits it
    rounds to float32: two classes tied there go to the first)."""
    from onnx import TensorProto, helper, numpy_helper

    def const(stem, value):
        name = fresh(stem)
        value = np.asarray(value)
        if value.dtype == object:
            tensor = helper.make_tensor(name, TensorProto.STRING, value.shape,
                                        [s.encode("utf-8") for s in value.ravel()])
        else:
            tensor = numpy_helper.from_array(value, name)
        inits.append(tensor)
        return name

    def node(op, inputs, stem, **attrs):
        out = fresh(stem)
        nodes.append(helper.make_node(op, inputs, [out], name=fresh(f"{stem}_op"),
                                      **attrs))
        return out

    nodes, inits = [], []
    xd = node("Cast", [x], "x_double", to=TensorProto.DOUBLE)
    z = node("MatMul", [xd, const("coef_t", np.ascontiguousarray(coef.T))],
             "xw")
    z = node("Add", [z, const("intercept", intercept)], "logits")
    zl = node("Cast", [z], "logits_float", to=TensorProto.FLOAT) if round_logits else z
    if coef.shape[0] == 1:  # two classes: the sigmoid of one logit
        p1 = node("Sigmoid", [z], "p1")
        p0 = node("Sub", [const("one", np.array([1.0])), p1], "p0")
        pd = node("Concat", [p0, p1], "proba_double", axis=1)
        zero = np.array([0.0], dtype=np.float32 if round_logits else np.float64)
        positive = node("Greater", [zl, const("zero", zero)], "z_gt_0")
        index = node("Cast", [positive], "index_2d", to=TensorProto.INT64)
        index = node("Reshape", [index, const("flat", np.array([-1],
                                                             dtype=np.int64))],
                     "index")
    else:
        # logits of X near the float64 limit can be +-inf, whose Softmax is
        # NaN: clipped to the finite range, they give predict_proba's 0 and 1
        top = np.finfo(np.float64).max
        zc = node("Clip", [z, const("low", np.float64(-top)),
                           const("high", np.float64(top))], "logits_finite")
        pd = node("Softmax", [zc], "proba_double", axis=1)
        index = node("ArgMax", [zl], "index", axis=1, keepdims=0)
    nodes.append(helper.make_node("Cast", [pd], [proba], name=fresh("proba_op"),
                                  to=proba_type))
    nodes.append(helper.make_node("Gather", [const("classes", labels), index],
                                  [label], name=fresh("label_op"), axis=0))
    return nodes, inits


def to_onnx(model, dtype=np.float32, *, opset=None, name="fastlr_logistic_regression"):
    """A fitted :class:`fastlr.LogisticRegression` (or the final model of
    a :class:`fastlr.LogisticRegressionCV`) as an ONNX model.

    Parameters
    ----------
    model : fastlr.LogisticRegression or fastlr.LogisticRegressionCV
        Fitted, binary or k-class, dense or sparse-trained.
    dtype : {numpy.float32, numpy.float64}, default float32
        Element type of the input ``X`` and of the ``probabilities`` output.
    opset : int or None
        The ai.onnx opset to declare (>= 13); None: :data:`DEFAULT_OPSET`.
    name : str
        The graph's name.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` ``[N, n_features]``; outputs ``label`` ``[N]`` and
        ``probabilities`` ``[N, n_classes]`` (columns in ``classes_``
        order). Checked with ``onnx.checker``.

    Raises
    ------
    ImportError
        Without the ``onnx`` package.
    TypeError, sklearn.exceptions.NotFittedError
        For anything but a fitted fastlr.LogisticRegression or
        fastlr.LogisticRegressionCV.

    Examples
    --------
    >>> import numpy as np, fastlr
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = ["no", "no", "yes", "yes"]
    >>> clf = fastlr.LogisticRegression(lr=0.5, max_iter=50, tol=None).fit(X, y)
    >>> onx = fastlr.to_onnx(clf)                          # doctest: +SKIP
    >>> [o.name for o in onx.graph.output]                 # doctest: +SKIP
    ['label', 'probabilities']
    """
    onnx = require()
    from onnx import TensorProto, helper

    coef, intercept, classes = _check_model(model)
    given = dtype
    try:
        # np.dtype(None) is float64: None is refused, not taken for it
        dtype = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {given!r}")
    if opset is None:
        opset = DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral):
        raise TypeError(f"opset must be an integer, got {opset!r}")
    opset = int(opset)
    if opset < 13:
        raise ValueError(f"opset must be >= 13 (Softmax over one axis), got {opset}")
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise ValueError(f"opset must be <= {newest} (the newest the installed "
                         f"onnx {onnx.__version__} knows), got {opset}")
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if not name:
        raise ValueError("name must not be empty (ONNX requires a graph name)")
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    labels = _label_values(classes)
    label_type = {"O": TensorProto.STRING, "i": TensorProto.INT64,
                  "f": TensorProto.DOUBLE}[labels.dtype.kind]
    nodes, inits = _graph_nodes(coef, intercept, labels, "X", "label",
                                "probabilities", elem, lambda stem: stem,
                                _rounds_logits(model, dtype == np.float32))
    n, k = coef.shape[1], classes.shape[0]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("X", elem, ["N", n])],
        [helper.make_tensor_value_info("label", label_type, ["N"]),
         helper.make_tensor_value_info("probabilities", elem, ["N", k])],
        initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    onx = helper.make_model(graph, opset_imports=opsets, producer_name="fastlr",
                            ir_version=helper.find_min_ir_version_for(opsets),
                            doc_string=f"fastlr.LogisticRegression, {k} classes "
                            f"({', '.join(map(str, classes.tolist()[:10]))}), "
                            f"{n} features")
    from . import __version__

    onx.producer_version = __version__
    onnx.checker.check_model(onx)
    return onx


# --------------------------------------------------------------------------
# skl2onnx: fastlr.LogisticRegression inside scikit-learn pipelines


def _skl2onnx_convert(scope, operator, container):
    """skl2onnx converter: the nodes of :func:`to_onnx` in a larger graph."""
    from onnx import TensorProto, helper
    from skl2onnx.common.data_types import DoubleTensorType

    model = operator.raw_operator
    coef, intercept, classes = _check_model(model)
    if scope.get_options(model, {"nocl": False})["nocl"]:
        labels = np.arange(classes.shape[0], dtype=np.int64)
    else:
        labels = _label_values(classes, int_labels=True)  # skl2onnx: int64 or str
    double = isinstance(operator.outputs[1].type, DoubleTensorType)
    single_x = not isinstance(operator.inputs[0].type, DoubleTensorType)
    nodes, inits = _graph_nodes(
        coef, intercept, labels, operator.inputs[0].full_name,
        operator.outputs[0].full_name, operator.outputs[1].full_name,
        TensorProto.DOUBLE if double else TensorProto.FLOAT,
        scope.get_unique_variable_name, _rounds_logits(model, single_x))
    for tensor in inits:
        if tensor.data_type == TensorProto.STRING:
            values = [s.decode("utf-8") for s in tensor.string_data]
            container.add_initializer(tensor.name, tensor.data_type,
                                      list(tensor.dims), values)
        else:
            container.add_initializer(tensor.name, tensor.data_type,
                                      list(tensor.dims), tensor)
    for nd in nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in nd.attribute}
        container.add_node(nd.op_type, list(nd.input), list(nd.output),
                           name=nd.name, op_version=13, **attrs)


def register_skl2onnx_converter():
    """Register fastlr.LogisticRegression with skl2onnx (done on import of
    this module when skl2onnx is installed); returns whether it was."""
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
        )
    except ImportError:
        return False
    from .estimator import LogisticRegression

    update_registered_converter(
        LogisticRegression, "FastlrLogisticRegression",
        calculate_linear_classifier_output_shapes, _skl2onnx_convert,
        # skl2onnx's options of classifiers: zipmap (a list of {class: p}
        # dicts instead of the probability matrix) and nocl (labels as the
        # class indices 0 .. k-1)
        options={"zipmap": [True, False, "columns"], "nocl": [False, True]},
        overwrite=True)
    return True


register_skl2onnx_converter()
