"""fastlr: logistic regression trained by mini-batch SGD in Numba kernels.

Functional layer (the functions of a textbook logistic regression, as fused
kernels)::

    fastlr.sigmoid, fastlr.log_loss, fastlr.gradients, fastlr.train,
    fastlr.predict_proba, fastlr.predict, fastlr.accuracy,
    fastlr.train_multinomial (k classes, softmax), fastlr.train_many (many
    models from one pass over the data: regularization paths, cross-validation)

scikit-learn layer: :class:`fastlr.LogisticRegression`; its models export to
ONNX with :func:`fastlr.to_onnx` (the ``onnx`` extra).
:class:`fastlr.LogisticRegressionCV` chooses its penalty strength by
cross-validation, every fold and candidate trained in one pass.
NumPy twin of every function, for verification: :mod:`fastlr.reference`.
The first call of each kernel JIT-compiles it (cached on disk afterwards);
:func:`fastlr.precompile` (``fastlr compile``) compiles them all ahead of use.
"""

import threading

from . import reference
from ._driver import DivergedError, WeightScaleWarning
from ._kernels.team import hold_across_fork as _hold_across_fork
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
_LAZY = {"LogisticRegression": "estimator",
         "LogisticRegressionCV": "estimator_cv", "load": "persist",
         "save": "persist", "to_onnx": "onnx", "precompile": "_precompile"}

#: Public submodules, imported on first use as attributes too, as SciPy's
#: are (``fastlr.io.read_xy``, ``fastlr.persist.ModelFileError`` after a
#: plain ``import fastlr``): those that need no extra (``fastlr.distributed``
#: needs dask, and ``hasattr``, ``help(fastlr)`` and ``dir`` must not raise
#: its ImportError; it and ``fastlr.onnx`` are imported by name).
_SUBMODULES = frozenset(("bench", "io", "persist", "plotting"))


#: Held while a lazy import runs. A child forked while another thread was
#: inside one (the process's first ``fastlr.LogisticRegression``: it imports
#: scikit-learn, seconds) inherited that import's module locks held by a
#: thread it does not have, and waited forever at its own first use: a fork
#: waits for the import, as it waits for numba's compiler lock. Reentrant:
#: the import may itself touch a lazy name.
_IMPORTING = threading.RLock()
_hold_across_fork(_IMPORTING)


def __getattr__(name):
    if name in _LAZY or name in _SUBMODULES:
        import importlib

        with _IMPORTING:
            module = importlib.import_module(f".{_LAZY.get(name, name)}", __name__)
        value = module if name in _SUBMODULES else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastlr' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)

__all__ = [
    "DivergedError",
    "LogisticRegression",
    "LogisticRegressionCV",
    "ManyResult",
    "MultinomialResult",
    "TrainResult",
    "WeightScaleWarning",
    "accuracy",
    "decision_function",
    "gradients",
    "load",
    "log_loss",
    "predict",
    "precompile",
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
