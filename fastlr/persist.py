"""Model files: :func:`save` and :func:`load`, without pickle.

File format (format version 1)
------------------------------
A model file is one NumPy ``.npz`` archive (a zip of ``.npy`` arrays, stored
uncompressed), read back with ``numpy.load(..., allow_pickle=False)``, so
loading never runs code from the file. It holds these arrays:

=================  ===================  =====================================
name               shape, dtype         meaning
=================  ===================  =====================================
``metadata``       (k,) uint8           UTF-8 JSON text, described below
``classes``        (k,) numbers or str  ``classes_``, sorted, k >= 2; for
                                        k = 2 ``classes[1]`` is the positive
                                        class. Strings are stored as a NumPy
                                        unicode array (``<U..``)
``coef``           (1, n) float32/64    ``coef_``, raw feature space;
                   or (k, n) if k > 2   (k, n) for a multinomial model
``intercept``      (1,) or (k,)         ``intercept_``, dtype of ``coef``
``mean``           (n,) float64         standardization: column means ...
``scale``          (n,) float64         ... and scales (all > 0)
``w``              (n,) float64         weights on the standardized features;
                   or (k, n) if k > 2   one row per class when k > 2
``b``              (1,) or (k,) float64 intercept(s) on the standardized
                                        features
``loss_curve``     (n_iter,) float64    ``loss_curve_``
``feature_names``  (n,) str, optional   ``feature_names_in_`` (set by fit on
                                        a DataFrame)
``steps``          (2,) int64, opt.     optimizer state: SGD steps taken and
                                        iterates averaged
``gsq``            (n + 1,) float64,    AdaGrad sums of squared gradients
                   optional             (last entry: intercept); (k, n + 1)
                                        when k > 2, intercepts last column
``avg``            (n + 1,) float64,    averaged weights and intercept
                   optional             (``average``); (k, n + 1) when k > 2,
                                        intercepts in the last column
``l1_u``, ``l1_q`` (n,) float64, opt.   cumulative L1 penalty available and
                                        applied (``penalty="l1"`` or
                                        ``"elasticnet"``); (k, n) when k > 2
=================  ===================  =====================================

A model with k > 2 classes is a multinomial (softmax) model; a fastlr that
predates multiclass support refuses its file (``classes`` of the wrong
shape) rather than misreading it.

The optimizer-state arrays are written only when they hold something
(``steps``: when averaging has started or ``learning_rate="invscaling"``),
so a model trained with the default options has none of them and its file
is exactly what earlier fastlr versions wrote; a missing one loads as
zeros.
A fastlr that predates them refuses a file that has them ("unexpected
arrays") rather than continuing training from a wrong state.

``mean``, ``scale``, ``w`` and ``b`` are the estimator's training state, so a
loaded model continues with ``warm_start=True`` or ``partial_fit`` exactly
where the saved one stopped; ``coef`` and ``intercept`` are the same model
mapped to raw feature space (``coef = w / scale``,
``intercept = b - coef . mean``), for readers other than fastlr.

The JSON metadata is an object with the keys

* ``"format"``: ``"fastlr-model"``; ``"format_version"``: 1;
* ``"fastlr_version"``: the fastlr that wrote the file;
* ``"estimator"``: ``"LogisticRegression"``;
* ``"params"``: the constructor parameters (``get_params()``); a
  ``random_state`` that is not an int or None is stored as null; a
  ``class_weight`` dict is stored as a list of ``[label, weight]`` pairs
  (JSON object keys would turn labels into strings);
* ``"n_features_in"``, ``"n_iter"``: ``n_features_in_`` and ``n_iter_``;
* ``"classes_dtype"``: the NumPy dtype string of ``classes``;
* ``"rng_state"``: the state of the shuffling generator (the
  ``bit_generator.state`` dict), so ``partial_fit`` continues the same
  random stream, or null;
* ``"metadata"``: free-form JSON given to :func:`save` (the CLI records the
  data format, feature names and target column there).

Writes are atomic: the archive is written to a temporary file in the target's
directory, flushed and fsync'ed, then moved over the target with
:func:`os.replace`, so a crash mid-write leaves either the old file or the new
one, never a mixture. Every check on load raises :class:`ModelFileError`
naming the file.
"""

import contextlib
import json
import os
import secrets
import zipfile

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._order import make_rng
from ._state import OPTIMIZER_ARRAYS, ModelState
from ._validation import check_positive_int
from .estimator import LogisticRegression, validate_params

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "load", "read_metadata",
           "save"]

FORMAT = "fastlr-model"
FORMAT_VERSION = 1

_REQUIRED = ("metadata", "classes", "coef", "intercept", "mean", "scale", "w", "b",
             "loss_curve")
_STATE_ARRAYS = OPTIMIZER_ARRAYS
_OPTIONAL = ("feature_names", *_STATE_ARRAYS)

# Bit generators a saved rng_state may name: looked up in this table, never
# by getattr on a name read from the file.
_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


class ModelFileError(ValueError):
    """A model file is missing pieces, corrupted, truncated or edited.

    Attributes
    ----------
    path : str
        The file.
    """

    def __init__(self, path, message):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: not a valid fastlr model file: {message}")


# --------------------------------------------------------------------------
# save


def save(model, path, *, metadata=None):
    """Write a fitted :class:`fastlr.LogisticRegression` to ``path``, atomically.

    The file is an ``.npz`` archive described in :mod:`fastlr.persist`; it is
    written exactly at ``path`` (no suffix is added; ``.npz`` is the
    convention). An existing file at ``path`` is replaced only once the new
    one is completely on disk.

    Parameters
    ----------
    model : fastlr.LogisticRegression
        A fitted estimator.
    path : str or os.PathLike
        Destination file; its directory must exist.
    metadata : dict or None
        Extra JSON-serializable information stored with the model and
        returned by :func:`read_metadata` under ``"metadata"``.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`fastlr.LogisticRegression`, or
        ``metadata`` is not JSON-serializable.
    sklearn.exceptions.NotFittedError
        If ``model`` has not been fitted (a ``ValueError`` subclass).
    OSError
        If the file cannot be written; the previous file, if any, is intact.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, fastlr
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = ["no", "no", "yes", "yes"]
    >>> clf = fastlr.LogisticRegression(lr=0.5, max_iter=50, tol=None).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     fastlr.save(clf, os.path.join(d, "model.npz"))
    ...     again = fastlr.load(os.path.join(d, "model.npz"))
    >>> again.predict(X).tolist(), again.classes_.dtype.kind
    (['no', 'no', 'yes', 'yes'], 'U')
    """
    arrays, header = _to_arrays(model, metadata)
    text = json.dumps(header, allow_nan=False, sort_keys=True)
    arrays["metadata"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def _to_arrays(model, metadata):
    from . import __version__

    if not isinstance(model, LogisticRegression):
        raise TypeError(f"model must be a fastlr.LogisticRegression, got "
                        f"{type(model).__name__}")
    try:
        check_is_fitted(model)
        state = model.training_state_
    except (NotFittedError, AttributeError):
        raise NotFittedError(
            "model is not fitted: call fit or partial_fit before saving it") from None
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict or None, got "
                            f"{type(metadata).__name__}")
        try:
            metadata = json.loads(json.dumps(metadata, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"metadata must be JSON-serializable: {exc}") from None
    classes = _classes_for_saving(model.classes_)
    params = {k: _json_scalar(v) for k, v in model.get_params().items()}
    if isinstance(model.class_weight, dict):
        params["class_weight"] = [[_json_scalar(k), _json_scalar(v)]
                                  for k, v in model.class_weight.items()]
    if not isinstance(params.get("random_state"), int | None):
        params["random_state"] = None
    rng = state.rng
    rng_state = None
    if isinstance(rng, np.random.Generator):
        rng_state = _json_scalar(rng.bit_generator.state)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastlr_version": __version__,
        "estimator": "LogisticRegression",
        "params": params,
        "n_features_in": int(model.n_features_in_),
        "n_iter": int(model.n_iter_),
        "classes_dtype": classes.dtype.str,
        "rng_state": rng_state,
        "metadata": metadata,
    }
    arrays = {
        "classes": classes,
        "coef": np.ascontiguousarray(model.coef_),
        "intercept": np.ascontiguousarray(model.intercept_),
        "loss_curve": np.asarray(model.loss_curve_, dtype=np.float64),
        **state.to_file_arrays(invscaling=model.learning_rate == "invscaling"),
    }
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        arrays["feature_names"] = np.asarray(names).astype(str)
    return arrays, header


def _classes_for_saving(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf":
        return classes
    if classes.dtype.kind == "U":
        return classes
    if classes.dtype.kind == "S":
        return classes.astype(str)
    if classes.dtype.kind == "O" and all(isinstance(c, str) for c in classes):
        return classes.astype(str)  # e.g. labels from a pandas object column
    raise TypeError(f"classes_ of dtype {classes.dtype} cannot be saved without "
                    "pickle; use numeric or string labels")


def _json_scalar(value):
    """NumPy scalars (and containers of them) as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _json_scalar(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_scalar(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _atomic_write(path, write):
    """Call ``write(file)`` on a temporary file, then move it onto ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory,
                       f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        # mode 0o666 minus the umask: the same permissions as open(path, "w")
        fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write the model file: {exc.strerror}",
                        path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where unsupported."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------
# load


def load(path):
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    fastlr.LogisticRegression
        Fitted, with the saved parameters, classes, weights and training
        state: ``predict`` gives the saved model's predictions, and
        ``partial_fit`` or ``fit`` with ``warm_start=True`` continue training.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        If the file cannot be opened.
    ModelFileError
        (a ``ValueError``) If the file is not a fastlr model, is truncated or
        corrupted, was edited into an inconsistent state, or was written by
        a newer fastlr with a format this one cannot read. The file is read
        with ``allow_pickle=False``: nothing in it is ever executed.
    """
    return _load(path)[0]


def read_metadata(path):
    """The validated JSON metadata of a model file (see :mod:`fastlr.persist`).

    The file is fully checked, as by :func:`load`.

    Returns
    -------
    dict
        With ``"fastlr_version"``, ``"params"``, ``"n_features_in"``, ...,
        and ``"metadata"``, the dict given to :func:`save` (or None).
    """
    return _load(path)[1]


def _load(path):
    path = os.fspath(path)
    with open(path, "rb") as f:  # FileNotFoundError etc. name the file
        arrays = _read_archive(path, f)
    header = _parse_header(path, arrays.pop("metadata"))
    model = _build_model(path, header, arrays)
    return model, header


def _read_archive(path, f):
    """Every array of the archive, read without pickle."""
    if not zipfile.is_zipfile(f):
        raise ModelFileError(path, "not an .npz (zip) archive")
    f.seek(0)
    try:
        with np.load(f, allow_pickle=False) as npz:
            names = list(npz.files)
            missing = [k for k in _REQUIRED if k not in names]
            if missing:
                raise ModelFileError(path, f"missing arrays {missing}")
            extra = sorted(set(names) - set(_REQUIRED) - set(_OPTIONAL))
            if extra:
                raise ModelFileError(path, f"unexpected arrays {extra}")
            return {k: npz[k] for k in names}
    except ModelFileError:
        raise
    except Exception as exc:
        # The bytes are untrusted: whatever zipfile, zlib or numpy's .npy
        # parser raise on them (BadZipFile, EOFError, zlib.error, ValueError
        # for object arrays, MemoryError for absurd shapes, ...) means the
        # file is damaged, and is reported as such.
        raise ModelFileError(path, f"cannot read the archive "
                             f"({type(exc).__name__}: {exc})") from exc


def _reject_constant(name):
    raise ValueError(f"non-finite number {name} in JSON")


def _parse_header(path, raw):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(path, "'metadata' must be a 1-D uint8 array of "
                             "UTF-8 JSON text")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"),
                            parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"metadata is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "metadata must be a JSON object")
    if header.get("format") != FORMAT:
        raise ModelFileError(path, f"metadata 'format' is {header.get('format')!r}, "
                             f"expected {FORMAT!r}")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(path, f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path, f"it has format version {version}, written by fastlr "
            f"{header.get('fastlr_version')!r}; this fastlr reads format "
            f"version {FORMAT_VERSION}: upgrade fastlr")
    if version < 1:
        raise ModelFileError(path, f"bad format_version {version!r}")
    if header.get("estimator") != "LogisticRegression":
        raise ModelFileError(path, f"unknown estimator {header.get('estimator')!r}")
    for key, kind in (("fastlr_version", str), ("params", dict),
                      ("n_features_in", int), ("n_iter", int),
                      ("classes_dtype", str)):
        value = header.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ModelFileError(path, f"metadata {key!r} is missing or not a "
                                 f"{kind.__name__}: {value!r}")
    if header["n_features_in"] < 1 or header["n_iter"] < 0:
        raise ModelFileError(path, "metadata n_features_in must be >= 1 and "
                             "n_iter >= 0")
    for key in ("rng_state", "metadata"):
        if not isinstance(header.get(key), dict | None):
            raise ModelFileError(path, f"metadata {key!r} must be an object or null")
    return header


def _check_params(path, params):
    """Constructor parameters from the file, validated as fit would."""
    known = LogisticRegression().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ModelFileError(path, f"unknown parameters {unknown}")
    params = {**known, **params}
    cw = params["class_weight"]
    if isinstance(cw, list):
        if not all(isinstance(p, list) and len(p) == 2 and
                   isinstance(p[0], bool | int | float | str) and
                   isinstance(p[1], int | float) and not isinstance(p[1], bool)
                   for p in cw):
            raise ModelFileError(path, "invalid parameter: class_weight must be "
                                 "a list of [label, weight] pairs")
        params["class_weight"] = {label: weight for label, weight in cw}
    elif isinstance(cw, dict):
        raise ModelFileError(path, "invalid parameter: class_weight must be "
                             "a list of [label, weight] pairs")
    try:
        # the estimator's own check, so a file accepts exactly what fit accepts
        model = LogisticRegression(**params)
        validate_params(model)
        if not isinstance(params["warm_start"], bool):
            raise TypeError(f"warm_start must be true or false, got "
                            f"{params['warm_start']!r}")
        if params["random_state"] is not None:
            check_positive_int(params["random_state"], "random_state", minimum=0)
        check_positive_int(params["verbose"], "verbose", minimum=0)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid parameter: {exc}") from None
    return params


def _array(path, arrays, name, shape, kinds=None, dtypes=None, finite=True):
    a = arrays[name]
    if a.shape != shape:
        raise ModelFileError(path, f"array {name!r} has shape {a.shape}, "
                             f"expected {shape}")
    if dtypes is not None and a.dtype not in dtypes:
        raise ModelFileError(path, f"array {name!r} has dtype {a.dtype}, expected "
                             f"one of {[np.dtype(d).name for d in dtypes]}")
    if kinds is not None and a.dtype.kind not in kinds:
        raise ModelFileError(path, f"array {name!r} has unsupported dtype {a.dtype}")
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ModelFileError(path, f"array {name!r} contains NaN or infinity")
    return a


def _build_model(path, header, arrays):
    n = header["n_features_in"]
    n_iter = header["n_iter"]
    params = _check_params(path, header["params"])
    f64 = (np.dtype(np.float64),)
    floats = (np.dtype(np.float64), np.dtype(np.float32))
    raw_classes = arrays["classes"]
    if raw_classes.ndim != 1 or raw_classes.shape[0] < 2:
        raise ModelFileError(path, f"array 'classes' has shape {raw_classes.shape}, "
                             "expected (k,) with k >= 2")
    k = raw_classes.shape[0]
    classes = _array(path, arrays, "classes", (k,), kinds="biufU")
    multi = k > 2
    rows = k if multi else 1
    raw_coef = arrays["coef"]
    if raw_coef.ndim == 2 and raw_coef.shape[0] != rows:
        # coef fits another number of classes: name the classes as the culprit
        want = "(1, n) for two classes" if not multi else f"({k}, n)"
        raise ModelFileError(path, f"array 'classes' has shape {classes.shape}, "
                             f"which does not fit 'coef' of shape "
                             f"{raw_coef.shape} (expected {want})")
    coef = _array(path, arrays, "coef", (rows, n), dtypes=floats)
    intercept = _array(path, arrays, "intercept", (rows,), dtypes=(coef.dtype,))
    mean = _array(path, arrays, "mean", (n,), dtypes=f64)
    scale = _array(path, arrays, "scale", (n,), dtypes=f64)
    w = _array(path, arrays, "w", (k, n) if multi else (n,), dtypes=f64)
    b = _array(path, arrays, "b", (rows,), dtypes=f64)
    loss_curve = _array(path, arrays, "loss_curve", (n_iter,), dtypes=f64)
    if classes.dtype.str != header["classes_dtype"]:
        raise ModelFileError(path, f"classes have dtype {classes.dtype.str}, "
                             f"metadata says {header['classes_dtype']}")
    if not (classes[:-1] < classes[1:]).all():
        count = "two" if k == 2 else str(k)
        raise ModelFileError(path, f"classes must be {count} distinct labels in "
                             f"sorted order, got {classes.tolist()!r}")
    if not (scale > 0).all():
        raise ModelFileError(path, "array 'scale' must be positive")

    shapes = ModelState.file_shapes(n, k, multi)
    state_arrays = {"mean": mean, "scale": scale, "w": w, "b": b}
    for name in _STATE_ARRAYS:
        if name in arrays:
            dtypes = (np.dtype(np.int64),) if name == "steps" else f64
            state_arrays[name] = _array(path, arrays, name, shapes[name],
                                        dtypes=dtypes)
    state = ModelState.from_file_arrays(state_arrays, softmax=multi)
    if (state.steps < 0).any():
        raise ModelFileError(path, "array 'steps' must be non-negative")
    model = LogisticRegression(**params)
    model.classes_ = classes
    model.coef_, model.intercept_ = state.coef(coef.dtype)
    model.training_state_ = state
    # coef/intercept are a function of the state: a mismatch means the file
    # was edited (or damaged in a way the zip CRC did not catch)
    w_model, b_model = state.model()
    w_raw = w_model / state.scale
    mag = np.abs(b_model) + np.abs(w_raw) @ np.abs(state.mean)
    rtol = 1e-5 if coef.dtype == np.float32 else 1e-9
    want = model.intercept_.astype(np.float64)
    got = intercept.astype(np.float64)
    close_b = np.abs(got - want) <= np.maximum(
        rtol * np.maximum(np.abs(got), np.abs(want)), rtol * mag)
    if not (np.allclose(coef, model.coef_, rtol=rtol, atol=0.0)
            and close_b.all()):
        raise ModelFileError(path, "'coef'/'intercept' do not match the "
                             "standardized weights 'w', 'b', 'mean', 'scale'")
    model.n_features_in_ = n
    model.n_iter_ = n_iter
    model.loss_curve_ = loss_curve.copy()
    if "feature_names" in arrays:
        names = _array(path, arrays, "feature_names", (n,), kinds="U")
        model.feature_names_in_ = names.astype(object)
    state.rng = _make_generator(path, header["rng_state"], params["random_state"])
    return model


def _make_generator(path, rng_state, random_state):
    if rng_state is None:
        return make_rng(random_state)
    kind = rng_state.get("bit_generator")
    if kind not in _BIT_GENERATORS:
        raise ModelFileError(path, f"unknown bit generator {kind!r} in rng_state")
    bit_generator = _BIT_GENERATORS[kind]()
    try:
        bit_generator.state = rng_state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelFileError(path, f"invalid rng_state ({exc})") from None
    return np.random.Generator(bit_generator)
