"""fastlr: logistic regression trained by mini-batch SGD in Numba kernels.

Functional layer (the seed article's functions, as fused kernels)::

    fastlr.sigmoid, fastlr.log_loss, fastlr.gradients, fastlr.train,
    fastlr.predict_proba, fastlr.predict, fastlr.accuracy

scikit-learn layer: :class:`fastlr.LogisticRegression`.
NumPy twin of every function, for verification: :mod:`fastlr.reference`.
The first call of each kernel JIT-compiles it (cached on disk afterwards).
"""

from ._driver import DivergedError
from .core import (
    TrainResult,
    accuracy,
    decision_function,
    gradients,
    log_loss,
    predict,
    predict_proba,
    sigmoid,
    train,
)
from .estimator import LogisticRegression

__version__ = "0.1.0"

__all__ = [
    "DivergedError",
    "LogisticRegression",
    "TrainResult",
    "accuracy",
    "decision_function",
    "gradients",
    "log_loss",
    "predict",
    "predict_proba",
    "sigmoid",
    "train",
    "__version__",
]
