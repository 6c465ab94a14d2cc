"""fastlr: logistic regression trained by mini-batch SGD in Numba kernels.

Functional layer (the functions of a textbook logistic regression, as fused
kernels)::

    fastlr.sigmoid, fastlr.log_loss, fastlr.gradients, fastlr.train,
    fastlr.predict_proba, fastlr.predict, fastlr.accuracy,
    fastlr.train_multinomial (k classes, softmax), fastlr.train_many (many
    models from one pass over the data: regularization paths, cross-validation)

scikit-learn layer: :class:`fastlr.LogisticRegression`; its models export to
ONNX with :func:`fastlr.to_onnx` (the ``onnx`` extra).
NumPy twin of every function, for verification: :mod:`fastlr.reference`.
The first call of each kernel JIT-compiles it (cached on disk afterwards).
"""

from . import reference
from ._driver import DivergedError
from ._version import __version__
from .core import (
    ManyResult,
    MultinomialResult,
    TrainResult,
    accuracy,
    decision_function,
    gradients,
    log_loss,
    predict,
    predict_proba,
    sigmoid,
    train,
    train_many,
    train_multinomial,
)

# The estimator and model files need scikit-learn, whose import takes about
# a second: they are loaded on first use, so that `import fastlr` and the
# functional API start fast (PEP 562 module __getattr__).
_LAZY = {"LogisticRegression": "estimator", "load": "persist", "save": "persist",
         "to_onnx": "onnx"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastlr' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "DivergedError",
    "LogisticRegression",
    "ManyResult",
    "MultinomialResult",
    "TrainResult",
    "accuracy",
    "decision_function",
    "gradients",
    "load",
    "log_loss",
    "predict",
    "predict_proba",
    "reference",
    "save",
    "sigmoid",
    "to_onnx",
    "train",
    "train_many",
    "train_multinomial",
    "__version__",
]
