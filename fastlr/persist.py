"""Model files: :func:`save` and :func:`load`, without pickle.

File format (format version 3)
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
``validation_      (<= n_iter,)         ``validation_scores_`` (``fit`` with
scores``           float64, optional    ``early_stopping``; a later
                                        ``partial_fit`` adds epochs, not
                                        scores)
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
``stats``          (3, n) float64,      running column statistics of the
                   optional             rows the standardization comes from:
                                        largest ``|x|``, mean, and the sum
                                        of squared deviations from the mean
                                        divided by the square of the largest
                                        ``|x|`` (1 for an all-zero column)
``stats_rows``     (2,) int64 or        with ``stats``: the number of those
                   float64, opt.        rows (>= 1; with sample weights
                                        their total weight, > 0, float64
                                        when not a whole number), and 1 if
                                        the standardization subtracts their
                                        mean, 0 if it only scales
=================  ===================  =====================================

A model with k > 2 classes is a multinomial (softmax) model; a fastlr that
predates multiclass support refuses its file (``classes`` of the wrong
shape) rather than misreading it.

The optimizer-state arrays are written only when they hold something
(``steps``: once an SGD step was taken; the count decides when averaging
starts and the size of ``invscaling``'s steps, also for a model continued
under other parameters than it was saved with); a missing one loads as
zeros.
A fastlr that predates them refuses a file that has them ("unexpected
arrays") rather than continuing training from a wrong state.

``stats`` and ``stats_rows`` are written for every model with
``standardize`` True or ``"scale"``: ``partial_fit`` merges the statistics
of each new chunk into them and moves the standardization (see
:meth:`fastlr.LogisticRegression.partial_fit`). A file without them (written
before running statistics existed, or a model without standardization)
loads as before, with its standardization kept fixed by ``partial_fit``.

``mean``, ``scale``, ``w`` and ``b`` are the estimator's training state, so a
loaded model continues with ``warm_start=True`` or ``partial_fit`` exactly
where the saved one stopped (a warm ``fit`` on rows of other statistics
re-expresses it in theirs first); ``coef`` and ``intercept`` are the same model
mapped to raw feature space (``coef = w / scale``,
``intercept = b - coef . mean``, from ``coef`` as rounded to its dtype), for
readers other than fastlr. They are the model the writing fastlr predicted
with, and the loaded one shows them as ``coef_`` and ``intercept_``: a
float32 file written before 6ab2f6c (2026-12-06; format version 1, or
saved again from a model loaded from one) may hold the intercept of the
rule before (``b - (w / scale) . mean`` from the float64 weights; on
columns of large mean the two differ by much more than float32's
rounding), and ``load`` accepts the intercept of either rule, within
rounding, and refuses any other. Training continued from such a file
starts from the state, and the model it gives is derived by today's rule.

The JSON metadata is an object with the keys

* ``"format"``: ``"fastlr-model"``; ``"format_version"``: 3 (see "Format
  versions" below);
* ``"fastlr_version"``: the fastlr that wrote the file;
* ``"estimator"``: ``"LogisticRegression"``;
* ``"params"``: the constructor parameters (``get_params()``); a
  ``random_state`` that is not an int or None is stored as null; a
  ``class_weight`` dict is stored as a list of ``[label, weight]`` pairs
  (JSON object keys would turn labels into strings); a parameter a file
  lacks (written before it existed) takes the value the writing fastlr
  trained with (``_ABSENT_PARAMS``: ``solver="sgd"``, not today's default);
* ``"n_features_in"``, ``"n_iter"``: ``n_features_in_`` and ``n_iter_``;
* ``"classes_dtype"``: the NumPy dtype string of ``classes``;
  ``"classes_object"`` (optional): true when ``classes_`` was an object
  array of strings (labels from a pandas column), restored as such;
* ``"solver"``, ``"n_solver_iter"``, ``"best_validation_score"``
  (optional): ``solver_``, ``n_solver_iter_`` and
  ``best_validation_score_`` of the last ``fit`` (or of a model trained
  by ``partial_fit`` alone: ``"sgd"``, 0, null); with ``"solver"``,
  ``validation_scores_`` is the array ``validation_scores`` or None; a file
  without them (``partial_fit`` alone, written by a fastlr that kept no
  report for it) loads with ``validation_scores_`` and
  ``best_validation_score_`` None;
* ``"rng_state"``: the state of the shuffling generator (the
  ``bit_generator.state`` dict), so ``partial_fit`` continues the same
  random stream, or null;
* ``"metadata"``: free-form JSON given to :func:`save` (the CLI records the
  data format, feature names and target column there).

Format versions
---------------
:func:`load` reads every version up to its own and refuses a newer one
("format version N, written by fastlr X ...: upgrade fastlr") before it
looks at anything else the file holds (arrays or parameters it does not
know).

* 1 (fastlr 0.1.0 and 0.2.0, up to the change to version 2): the arrays
  above grew within it (optimizer state, k > 2 classes, ``stats`` and
  ``stats_rows``, the fit's report, ``classes_object``,
  ``validation_scores``), so a version-1 reader refuses a newer version-1
  file by its arrays or parameters instead. Files written before the
  change of 2026-12-06 (a2947d1) hold ``steps`` only once averaging had
  started or with ``invscaling``; float32 files before the next change of
  that day (6ab2f6c) hold the intercept of the older rule (above).
* 2 (fastlr 0.3.0 on): the same arrays and keys as the last version-1 files; ``steps`` is
  written once an SGD step was taken, the float32 intercept is that of the
  weights as rounded (but for a model loaded from an older file, which keeps
  the one it shows), and ``stats_rows`` of a weighted fit holds its total
  weight (float64 when not a whole number).
* 3 (fastlr 0.4.0 on): the arrays and keys of version 2; the parameters
  may hold the values added after 0.3.0 (``alpha="auto"`` and
  ``standardize="auto"``, the defaults, and ``learning_rate="optimal"``),
  which a version-2 reader (fastlr 0.3.0) refuses. Every file is written as
  version 3, whatever its parameters, so a version-2 reader says "upgrade
  fastlr" instead of calling the file invalid.

fastlr 0.4.0 reads versions 1 to 3; fastlr 0.3.0 reads versions 1 and 2;
fastlr 0.1.0 and 0.2.0 read version 1.

What a version-1 file may lack cannot always be told from the file, and
training continued from it is then approximate (predictions are not
affected):

* the step count (above): training continued after loading counts SGD
  steps from 0, so ``invscaling``'s and ``optimal``'s steps are those of a
  fresh start, and averaging (``average=N``) starts N steps after the load.
  For a file whose own ``average=N`` is affected (no ``steps``, training
  done), :func:`load` warns (:class:`ModelFileWarning`); a schedule switched
  to after loading cannot be foreseen, and is left to this note;
* ``stats_rows`` of a weighted fit written before 2026-12-02 (be734b5) is
  the total weight truncated to an integer: ``partial_fit`` weighs the rows
  it merges against that;
* without ``stats`` (before 2026-11-30, 81ecc6b) ``partial_fit`` keeps the
  standardization fixed (see above); before 2026-12-02 (5e7799a) object
  labels load as a NumPy string array and the fit's report is absent.

A model loaded from a version-1 file and saved again is written as version
3 with what it holds: what the first file lacked is lacking still, and only
the first load warns. The warning is kept to the case the file's own
parameters make a difference in, not given at every load of an old file:
a model loaded to predict is not affected.

Writes are atomic (:func:`fastlr._files.write_atomic`): a crash mid-write
leaves either the old file or the new one, never a mixture; leftovers of a
killed writer (``.<name>.<12 hex digits>.tmp``) are removed by a later
save to the same target once they are a minute old (a younger one may be
another process's write in progress); the target must be a regular file or not exist; a
replaced file keeps its permission bits. The rename needs write permission
on the folder, not on the file: a read-only file is replaced as any other
(unlike ``open(path, "w")``), a writable file in a folder the user may not
write cannot be, and the other hard links of a replaced file keep the old
content.

Loading untrusted files
-----------------------
Every defect of a file, whatever it is, raises :class:`ModelFileError`
naming the file; no other exception escapes :func:`load` but the
``OSError`` of a file that cannot be opened. A path that is not a regular
file after following links (``/dev/zero``, a FIFO, a socket) is refused
before it is opened for reading, and the open cannot block.

Loading is bounded in memory and time by what the file really holds.
Before any array data is read (and decompressed), :func:`load` checks

* the zip directory: at most 64 KiB (a model has at most 18 members), each
  member a known ``<name>.npy``, once, stored or deflated, not encrypted,
  and all of them together declaring no more bytes than the file's own size
  plus 1 MiB (fastlr stores members uncompressed; a small file that claims
  a large model is a compression bomb);
* the ``.npy`` header of every member (at most 10,000 bytes, as numpy
  allows): a plain dtype, no Python objects, and a declared member size of
  exactly the header plus ``shape x itemsize`` bytes;
* the metadata member, read next and capped: its bytes, and an upper bound
  on the memory its JSON takes once parsed (about 72 bytes a value, 100 a
  list or object, and twice its text), must stay under 16 MiB plus 256
  bytes for each feature the arrays declare (room for the feature names
  the command line records there);
* the shape and dtype of every array against the metadata
  (``n_features_in``, ``n_iter``) and the number of classes.

Each array is then read into its own buffer, 1 MiB at a time, and its CRC
checked. So loading a crafted file never allocates more than the model it
describes (which the file must really contain) plus the temporaries of
deriving the model it shows (about two arrays of the weights' size) and a few
tens of MB: the arrays read become the model's own, not copied. Measured on a
191 MiB file (1,000,000 features, 5 classes, AdaGrad and averaging): the
loaded model takes 198 MiB, the load's peak is 275 MiB of resident memory.
:func:`save` reads the file it wrote back (a load) before it replaces the
target, while the model is still in memory: it needs about as much free
memory as that load.
"""

import contextlib
import json
import math
import os
import struct
import sys
import warnings
import zipfile

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from . import _npy
from ._files import open_regular, write_atomic
from ._order import BIT_GENERATORS, make_rng
from ._state import OPTIMIZER_ARRAYS, STATS_ARRAYS, ModelState
from ._validation import shown, user_stacklevel
from .estimator import LogisticRegression, validate_params

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "ModelFileWarning", "load",
           "read_metadata", "save"]

FORMAT = "fastlr-model"
#: The version written; :func:`load` reads it and every earlier one (module
#: docstring, "Format versions").
FORMAT_VERSION = 3

_REQUIRED = ("metadata", "classes", "coef", "intercept", "mean", "scale", "w", "b",
             "loss_curve")
_STATE_ARRAYS = (*OPTIMIZER_ARRAYS, *STATS_ARRAYS)
_OPTIONAL = ("feature_names", "validation_scores", *_STATE_ARRAYS)

#: What the last ``fit`` reported, kept in the metadata when the model has
#: it (a model only ever ``partial_fit`` has none): key -> attribute.
_FIT_REPORT = {"solver": "solver_", "n_solver_iter": "n_solver_iter_",
               "best_validation_score": "best_validation_score_"}
_SOLVERS = ("sgd", "lbfgs", "auto")

#: A parameter a model file lacks is one the writing fastlr did not have:
#: it takes the value that fastlr trained with, which is not always today's
#: default. Every parameter added since the first format (263fcbe, fastlr
#: 0.1.0: lr, batch_size, max_iter, tol, n_iter_no_change, penalty, alpha,
#: standardize, shuffle, random_state, warm_start, verbose; a file lacking
#: one of those was edited, and gets today's default):
#:
#: ===================  =======  ==========  ===============================
#: parameter            added    absent      why
#: ===================  =======  ==========  ===============================
#: l1_ratio             1341d8d  0.15        used by "elasticnet" only, which
#:                                           came with it
#: learning_rate        1341d8d  "constant"  the one schedule before
#: power_t              1341d8d  0.5         used by "invscaling" only
#: average              1341d8d  False       no averaging before
#: early_stopping       1341d8d  False       none before
#: validation_fraction  1341d8d  0.1         used by early_stopping only
#: class_weight         1341d8d  None        no weights before
#: fit_intercept        bbaeaf9  True        always an intercept before
#: solver               34eb4bf  "sgd"       SGD alone before (today's
#:                                           default "auto" runs L-BFGS, and
#:                                           wants tol > 0: ``tol=0`` was
#:                                           "every epoch" for SGD)
#: ===================  =======  ==========  ===============================
_ABSENT_PARAMS = {"l1_ratio": 0.15, "learning_rate": "constant", "power_t": 0.5,
                  "average": False, "early_stopping": False,
                  "validation_fraction": 0.1, "class_weight": None,
                  "fit_intercept": True, "solver": "sgd"}

# Limits on what load reads from an untrusted file (module docstring,
# "Loading untrusted files").
_MAX_DIRECTORY = 64 * 1024        # zip central directory, bytes
_EXPANSION_MARGIN = 1 << 20       # declared sizes may exceed the file by this
_META_BASE = 16 << 20             # metadata budget: base ...
_META_PER_FEATURE = 256           # ... plus this much per feature
_READ_CHUNK = 1 << 20             # array data is read this much at a time

# Bit generators a saved rng_state may name: looked up in this table, never
# by getattr on a name read from the file.
_BIT_GENERATORS = BIT_GENERATORS


class ModelFileWarning(UserWarning):
    """A model file loads, but lacks something that training continued from
    it would need to continue exactly (module docstring, "Format
    versions")."""


class ModelFileError(ValueError):
    """A model file is missing pieces, corrupted, truncated or edited.

    Attributes
    ----------
    path : str
        The file.
    """

    def __init__(self, path, message):
        self.path = os.fspath(path)
        self.reason = message
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
        If ``model`` is not a :class:`fastlr.LogisticRegression` (a subclass
        is refused too: the file holds no code, it would load as the base
        class; a ``LogisticRegressionCV`` is refused saying how to save
        its chosen model), or ``metadata`` is not JSON-serializable.
    ValueError
        If ``metadata`` is too large for :func:`load` to accept (more than
        16 MiB plus 256 bytes per feature, once parsed).
    TypeError, ValueError
        If a parameter of ``model`` is one ``fit`` would refuse (set with
        ``set_params`` after fitting), naming it: :func:`load` would refuse
        the file.
    ValueError
        If :func:`load` would refuse the file written (a fitted attribute
        changed by hand after fitting: a NaN in ``coef_``, ``coef_`` cut
        to another shape), checked on the complete file before it replaces
        anything at ``path``; or ``coef_`` and ``intercept_`` set by hand
        in dtypes one float dtype does not hold both in (float32 weights,
        float64 intercepts); or, naming it, ``coef_`` or ``intercept_``
        set to something that is not an array of real numbers, or
        ``classes_`` to something that is not 1-D.
    sklearn.exceptions.NotFittedError
        If ``model`` has not been fitted, or, naming them, ``classes_``,
        ``coef_``, ``intercept_`` or ``n_features_in_`` were deleted since
        (a ``ValueError`` and ``AttributeError`` subclass).
    OSError
        If the file cannot be written, or ``path`` exists and is not a
        regular file (a directory: ``IsADirectoryError``; a device, FIFO or
        socket); the previous file, if any, is intact.

    Notes
    -----
    A model whose ``coef_``/``intercept_`` were set (or changed) by hand
    after fitting is saved as training continues it (``warm_start``,
    ``partial_fit``): those weights on the raw features, with a fresh
    optimizer and without the report of the training before (``n_iter_``
    0, ``loss_curve_`` empty, as ``partial_fit`` restarts them), so the
    loaded model predicts and continues as the estimator would (on Dask,
    whose running statistics start mid-stream by their own rule, to
    rounding: 4e-16 relative).

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
    budget = _metadata_budget(header["n_features_in"])
    if max(len(text.encode("utf-8")), _json_cost(text)) > budget:
        # load refuses metadata past this budget: never write such a file
        raise ValueError(f"metadata is too large for a model file: about "
                         f"{_json_cost(text):,} bytes once parsed, at most "
                         f"{budget:,} for a model of "
                         f"{header['n_features_in']} features")
    arrays["metadata"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    write_atomic(path, lambda f: np.savez(f, **arrays), check=_loadable)


def _loadable(path):
    """Refuse a written file that :func:`load` would refuse: a fitted
    attribute changed by hand (``coef_`` set to NaN, cut to other shapes, at
    odds with the training state) is answered here, not at the next load."""
    try:
        _load(path)
    except ModelFileError as exc:
        raise ValueError(f"model cannot be saved: load would refuse the file "
                         f"({exc.reason}); were its fitted attributes changed "
                         "after fitting?") from None


def _to_arrays(model, metadata):
    from . import __version__
    from .estimator_cv import LogisticRegressionCV

    if isinstance(model, LogisticRegressionCV):
        raise TypeError(
            "model must be a fastlr.LogisticRegression, got LogisticRegressionCV: "
            "save a LogisticRegression fitted with the chosen values, "
            "LogisticRegression(alpha=cv.alpha_, l1_ratio=cv.l1_ratio_, ...) with "
            "the CV estimator's other parameters, or pickle the CV estimator")
    if isinstance(model, LogisticRegression) and type(model) is not LogisticRegression:
        # a file holds no code: load would return the base class, whose
        # predictions may differ from the subclass's (an overridden predict)
        raise TypeError(
            f"model must be a fastlr.LogisticRegression, got the subclass "
            f"{type(model).__name__}: a model file holds no code, so it would "
            f"load as a fastlr.LogisticRegression, without the subclass's "
            f"methods or parameters; pickle it instead")
    if not isinstance(model, LogisticRegression):
        raise TypeError(f"model must be a fastlr.LogisticRegression, got "
                        f"{type(model).__name__}")
    check_is_fitted(model, msg="model is not fitted: call fit or partial_fit before "
                    "saving it")
    trained = getattr(model, "training_state_", None)
    if trained is None:
        raise NotFittedError(
            "model has coef_ but no training state (were its fitted attributes set "
            "by hand?): fit or partial_fit it before saving it (with "
            "warm_start=True, fit starts from coef_)")
    _check_attributes(model, ("classes_", "n_features_in_"))
    if np.ndim(model.classes_) != 1:
        raise ValueError(f"model cannot be saved: classes_ must be a 1-D array "
                         f"of the class labels, got {_described(model.classes_)}")
    try:
        # the state training continues (warm_start, partial_fit): the last
        # fit's, or the one it starts from coef_ and intercept_ set by hand
        state = model._fitted_state()
    except ValueError:
        # coef_ no training takes (NaN, shapes): refused with load's reason
        state = trained
    # (read after the state: reading them earlier would make it compare them)
    _check_attributes(model, ("coef_", "intercept_"))
    for name in ("coef_", "intercept_"):
        value = getattr(model, name)
        if np.asarray(value).dtype.kind not in "iuf":
            raise ValueError(f"model cannot be saved: {name} must be an array of "
                             f"real numbers, got {_described(value)}")
    # coef_ and intercept_ set by hand: saved as the model training starts
    # from them, without the report of the training before (partial_fit
    # starts n_iter_ and loss_curve_ afresh from them)
    by_hand = state is not trained
    coef, intercept = (_hand_set_model(model, state) if by_hand
                       else (model.coef_, model.intercept_))
    steps = getattr(state, "steps", None)
    if steps is not None and (np.asarray(steps) > MAX_STEPS).any():
        # (load refuses such a file as edited: say what it is here)
        raise ValueError(f"model cannot be saved: it has taken "
                         f"{int(np.max(steps))} SGD steps, more than the 2**53 "
                         "a model file holds (the schedules count steps in "
                         "float64, exact up to 2**53)")
    # load refuses a parameter fit would refuse (set_params after fitting can
    # put one there): never write such a file
    validate_params(model)
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
        "n_iter": 0 if by_hand else int(model.n_iter_),
        "classes_dtype": classes.dtype.str,
        "rng_state": rng_state,
        "metadata": metadata,
    }
    if np.asarray(model.classes_).dtype == object:
        header["classes_object"] = True
    if hasattr(model, "solver_") and not by_hand:
        for key, attribute in _FIT_REPORT.items():
            header[key] = _json_scalar(getattr(model, attribute, None))
    arrays = {
        "classes": classes,
        "coef": np.ascontiguousarray(coef),
        "intercept": np.ascontiguousarray(intercept),
        "loss_curve": (np.empty(0) if by_hand else
                       np.asarray(model.loss_curve_, dtype=np.float64)),
        **state.to_file_arrays(),
    }
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        arrays["feature_names"] = _text_for_saving(names, "feature_names_in_", "name")
    scores = getattr(model, "validation_scores_", None)
    if scores is not None and hasattr(model, "solver_") and not by_hand:
        arrays["validation_scores"] = np.asarray(scores, dtype=np.float64)
    return arrays, header


def _check_attributes(model, names):
    """Refuse, naming them, fitted attributes ``names`` of ``model`` that
    were deleted after fitting (they failed deep inside as a bare
    AttributeError), as scikit-learn's ``check_is_fitted(attributes=)``
    refuses a model without them."""
    missing = [name for name in names if not hasattr(model, name)]
    if missing:
        raise NotFittedError(
            f"model cannot be saved: it has no {' and no '.join(missing)} (deleted "
            f"after fitting?): fit it again, or set "
            f"{'it' if len(missing) == 1 else 'them'}")


def _described(value):
    """A fitted attribute set by hand, for a message: its type, and its
    dtype and shape when an array."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:200]


def _hand_set_model(model, state):
    """``(coef, intercept)`` a file holds for ``coef_`` and ``intercept_``
    set by hand: ``state``'s (:meth:`fastlr.LogisticRegression._fitted_state`,
    which holds them) in the float dtype in which predictions come out as
    theirs do (float32 for float32 or narrower, else float64), refused
    unless they are the same values, so that the file predicts as the
    estimator does."""
    shown = model._checked_model(doing="saving")
    dtype = np.result_type(shown[0].dtype, np.float32)
    if dtype in (np.float32, np.float64):
        coef, intercept = state.coef(dtype)
        if np.array_equal(coef, shown[0]) and np.array_equal(intercept, shown[1]):
            return coef, intercept
    raise ValueError(f"model cannot be saved: coef_ ({shown[0].dtype}) and "
                     f"intercept_ ({shown[1].dtype}) were set by hand, and a "
                     f"model file holds both in one dtype, float32 or float64, "
                     f"which would not hold their values as set: set them both "
                     f"as float64 arrays (or both as float32)")


def _classes_for_saving(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf":
        return classes
    if classes.dtype.kind == "U":
        return _text_for_saving(classes, "classes_", "label")
    if classes.dtype.kind == "S":
        return classes.astype(str)
    if classes.dtype.kind == "O" and all(isinstance(c, str) for c in classes):
        # e.g. labels from a pandas object column
        return _text_for_saving(classes, "classes_", "label")
    raise TypeError(f"classes_ of dtype {classes.dtype} cannot be saved without "
                    "pickle; use numeric or string labels")


def _text_for_saving(values, attribute, noun):
    """The strings ``values`` (of the model's ``attribute``) as a NumPy text
    array, or a ValueError if one ends with a NUL character: NumPy's text
    arrays drop those, so 'a' and 'a\x00' would be saved as one label
    twice (which load refuses), and a feature name would come back as
    another (and the loaded model refuse its own training data); or if one
    holds a lone surrogate (:func:`_not_text`), which load refuses."""
    values = np.asarray(values, dtype=object)
    text = values.astype(str)
    if any(c != t for c, t in zip(values.tolist(), text.tolist(), strict=True)):
        raise ValueError(f"{attribute} {values.tolist()!r} cannot be saved: a "
                         f"{noun} ends with a NUL character, which NumPy's "
                         "text arrays drop")
    bad = _not_text(text)
    if bad is not None:   # (predict's CSV and the ONNX graph failed on it)
        raise ValueError(f"{attribute} {values.tolist()!r} cannot be saved: a "
                         f"{noun} holds {bad}")
    return text


def _json_scalar(value):
    """NumPy scalars and arrays (and containers of them) as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _json_scalar(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_scalar(v) for v in value]
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()   # (MT19937's and SFC64's states hold arrays)
    return value


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
        corrupted, was edited into an inconsistent state, declares more than
        it holds, or was written by a newer fastlr with a format this one
        cannot read; also if ``path`` is not a regular file (a device, FIFO
        or socket: refused before it is opened for reading). No pickle is
        ever read: nothing in the file is executed. Memory and time are
        bounded by what the file holds (see :mod:`fastlr.persist`).

    Warns
    -----
    ModelFileWarning
        If the file (of format version 1) lacks what training continued
        with its own parameters needs to continue exactly: the SGD step
        count of a model with ``average=N`` (see :mod:`fastlr.persist`,
        "Format versions").
    """
    return _load(path, warn=True)[0]


def read_metadata(path):
    """The validated JSON metadata of a model file (see :mod:`fastlr.persist`).

    The file is fully checked, as by :func:`load`.

    Parameters
    ----------
    path : str or os.PathLike
        A model file written by :func:`save`.

    Returns
    -------
    dict
        With ``"fastlr_version"``, ``"params"``, ``"n_features_in"``, ...,
        and ``"metadata"``, the dict given to :func:`save` (or None).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError, ModelFileError
        As :func:`load`.
    """
    return _load(path)[1]


def _load(path, warn=False):
    path = os.fspath(path)
    with open_regular(path, ModelFileError) as f:
        header, arrays = _read_archive(path, f)
    model = _build_model(path, header, arrays, warn)
    return model, header


def _read_archive(path, f):
    """``(header, arrays)``: the checked metadata and every array, without pickle.

    Everything the file declares is checked before the bytes it declares are
    read (module docstring, "Loading untrusted files"). Whatever zipfile,
    zlib or numpy's header parser raise on the untrusted bytes means the
    file is damaged, and is reported as a :class:`ModelFileError`.
    """
    try:
        if not zipfile.is_zipfile(f):
            raise ModelFileError(path, "not an .npz (zip) archive")
        size = os.fstat(f.fileno()).st_size
        _check_directory_size(path, f, size)
        f.seek(0)
        with zipfile.ZipFile(f) as zf:
            # the members fastlr knows are checked now; missing or unknown
            # ones are refused only once the metadata says the file is of a
            # version this fastlr reads (a newer one is refused as such)
            members, refusal = _members(path, zf, size)
            with contextlib.ExitStack() as stack:
                streams = {}
                for name, info in members.items():
                    streams[name] = stack.enter_context(zf.open(info))
                declared = {name: _npy_header(path, name, streams[name],
                                              members[name].file_size)
                            for name in members}
                header = _parse_header(path, _read_metadata(
                    path, streams["metadata"], declared), refusal)
                _check_declared(path, header, declared)
                arrays = {name: _read_data(path, name, streams[name],
                                           *declared[name])
                          for name in members if name != "metadata"}
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(path, f"cannot read the archive "
                             f"({type(exc).__name__}: {exc})") from exc
    return header, arrays


_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"


def _check_directory_size(path, f, size):
    """Refuse a zip central directory larger than ``_MAX_DIRECTORY``.

    zipfile reads the whole directory into memory and makes an object of
    every entry in it; a few MB of empty entries would cost hundreds of MB.
    The end record is found the way zipfile finds it: at the very end when
    the archive has no comment, else the last signature in the last 64 KiB.
    """
    tail_size = min(size, 22 + 65535 + 20 + 56)
    f.seek(size - tail_size)
    tail = f.read(tail_size)
    if tail[-22:-18] == _EOCD and tail[-2:] == b"\0\0":
        pos = len(tail) - 22
    else:
        pos = tail.rfind(_EOCD)
    if pos < 0 or len(tail) - pos < 22:
        return  # zipfile refuses it
    sizes = [struct.unpack("<I", tail[pos + 12:pos + 16])[0]]
    if pos >= 20 and tail[pos - 20:pos - 16] == _EOCD64_LOCATOR:
        # zip64: the record right before the locator (where zipfile looks)
        # and the one the locator points to (where other readers look)
        records = [tail[max(pos - 20 - 56, 0):pos - 20]]
        offset = struct.unpack("<Q", tail[pos - 12:pos - 4])[0]
        if offset + 56 <= size:
            f.seek(offset)
            records.append(f.read(56))
        sizes += [struct.unpack("<Q", r[40:48])[0] for r in records
                  if len(r) == 56 and r[:4] == _EOCD64]
    if max(sizes) > _MAX_DIRECTORY:
        raise ModelFileError(path, f"its zip directory declares {max(sizes):,} "
                             f"bytes; a model's takes about 1 KiB (at most "
                             f"{_MAX_DIRECTORY:,} are read)")


def _members(path, zf, size):
    """``({array name: ZipInfo}, refusal)``: each a known ``<name>.npy``
    member, once, and the message refusing required arrays missing or
    unknown ones present (None if none), for :func:`_parse_header` to give
    once the file's format version is known. Without ``metadata`` the
    version cannot be known: refused here."""
    members = {}
    unexpected = []
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else None
        if key not in _REQUIRED and key not in _OPTIONAL:
            if info.filename in _REQUIRED or info.filename in _OPTIONAL:
                raise ModelFileError(path, f"member {info.filename!r} is not "
                                     ".npy data (its name lacks .npy)")
            unexpected.append(key or info.filename)
            continue
        if key in members:
            raise ModelFileError(path, f"member {info.filename!r} appears twice")
        if info.flag_bits & 0x1:
            raise ModelFileError(path, f"member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(path, f"member {info.filename!r} uses compression "
                                 f"method {info.compress_type}; a model file "
                                 "is stored (or deflated)")
        members[key] = info
    missing = [k for k in _REQUIRED if k not in members]
    refusal = (f"missing arrays {missing}" if missing else
               f"unexpected arrays {sorted(unexpected)}" if unexpected else None)
    if "metadata" not in members:
        raise ModelFileError(path, refusal)
    declared = sum(info.file_size for info in members.values())
    if declared > size + _EXPANSION_MARGIN:
        raise ModelFileError(path, f"its members declare {declared:,} bytes "
                             f"uncompressed in a file of {size:,} bytes (a "
                             "compression bomb, or a damaged directory)")
    return members, refusal


def _read_exact(path, name, stream, n):
    data = stream.read(n)
    if len(data) != n:
        raise ModelFileError(path, f"member {name!r} is truncated")
    return data


def _npy_header(path, name, stream, member_size):
    """``(shape, fortran_order, dtype)`` from a member's ``.npy`` header.

    Only the header is read (:func:`fastlr._npy.read_header`: bounded), and
    the member's declared size must be exactly the header and the data the
    header describes.
    """
    def fail(words):
        raise ModelFileError(path, f"member {name!r} {words}")

    shape, fortran, dtype, header_size = _npy.read_header(stream, fail)
    want = header_size + _npy.nbytes(shape, dtype)
    if member_size != want:
        raise ModelFileError(path, f"member {name!r} declares {member_size:,} "
                             f"bytes but its header describes {want:,} (shape "
                             f"{shape}, dtype {dtype})")
    return shape, fortran, dtype


def _metadata_budget(n_features):
    """Bytes the metadata (as text, and as parsed JSON) may take."""
    return _META_BASE + _META_PER_FEATURE * n_features


def _json_cost(text):
    """An upper bound on the memory ``json.loads(text)`` peaks at, in bytes.

    Every value (counted by the separators ``,`` and ``:``) becomes an object
    of at most about 72 bytes with its slot in a container, every container
    (``[``, ``{``) at most about 100 more, and the characters of strings are
    at most those of the text, which is held meanwhile.
    """
    values = 1 + text.count(",") + text.count(":")
    containers = text.count("[") + text.count("{")
    return 72 * values + 100 * containers + 2 * sys.getsizeof(text)


def _read_metadata(path, stream, declared):
    """The metadata member's text, read only when it is within its budget.

    The budget grows with the number of features the arrays declare
    (``mean`` has one entry per feature), since feature names may be kept
    there; every array's shape is checked against the metadata right after.
    """
    shape, _, dtype = declared["metadata"]
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(path, "'metadata' must be a 1-D uint8 array of "
                             "UTF-8 JSON text")
    mean_shape = declared["mean"][0] if "mean" in declared else ()
    n_features = mean_shape[0] if len(mean_shape) == 1 else 0
    budget = _metadata_budget(n_features)
    if shape[0] > budget:
        raise ModelFileError(path, f"metadata of {shape[0]:,} bytes is too large "
                             f"(at most {budget:,} for {n_features} features)")
    raw = _read_exact(path, "metadata", stream, shape[0])
    _check_end(path, "metadata", stream)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(path, f"metadata is not valid JSON ({exc})") from None
    if _json_cost(text) > budget:
        raise ModelFileError(path, f"metadata holds too many JSON values (it "
                             f"would take about {_json_cost(text):,} bytes in "
                             f"memory; at most {budget:,} for {n_features} "
                             "features)")
    return text


def _check_end(path, name, stream):
    """Read to the member's end, where zipfile checks its CRC."""
    if stream.read(1):
        raise ModelFileError(path, f"member {name!r} holds more data than its "
                             "header describes")


def _read_data(path, name, stream, shape, fortran, dtype):
    """The array whose header was just read from ``stream``."""
    out = np.empty(math.prod(shape), dtype=dtype)
    raw = out.view(np.uint8)
    for start in range(0, raw.shape[0], _READ_CHUNK):
        chunk = _read_exact(path, name, stream,
                            min(_READ_CHUNK, raw.shape[0] - start))
        raw[start:start + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
    _check_end(path, name, stream)
    return out.reshape(shape, order="F" if fortran else "C")


def _reject_constant(name):
    raise ValueError(f"non-finite number {name} in JSON")


def _parse_header(path, text, refusal=None):
    """The metadata's JSON, checked; ``refusal`` (:func:`_members`), if
    any, raised once the format version is known to be one this fastlr
    reads."""
    try:
        header = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
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
    if refusal is not None:
        raise ModelFileError(path, refusal)
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
        if key not in header:
            raise ModelFileError(path, f"metadata {key!r} is missing (an object "
                                 "or null)")
        if not isinstance(header[key], dict | None):
            raise ModelFileError(path, f"metadata {key!r} must be an object or null")
    _check_fit_report(path, header)
    return header


def _check_fit_report(path, header):
    """The optional keys of the last fit's report (``_FIT_REPORT``) and
    ``classes_object``: all or none of the first, each of its type."""
    if not isinstance(header.get("classes_object", False), bool):
        raise ModelFileError(path, "metadata 'classes_object' must be true or false")
    present = [key for key in _FIT_REPORT if header.get(key) is not None]
    if not present:
        return
    solver = header.get("solver")
    if solver not in _SOLVERS:
        raise ModelFileError(path, f"metadata 'solver' must be one of {_SOLVERS} "
                             f"when the fit's report is kept, got {solver!r}")
    it = header.get("n_solver_iter")
    if isinstance(it, bool) or not isinstance(it, int) or not 0 <= it <= header["n_iter"]:
        raise ModelFileError(path, f"metadata 'n_solver_iter' must be an integer "
                             f"from 0 to n_iter, got {it!r}")
    best = header.get("best_validation_score")
    if best is not None and (isinstance(best, bool) or not isinstance(best, int | float)
                             or not math.isfinite(best)):
        raise ModelFileError(path, f"metadata 'best_validation_score' must be a "
                             f"number or null, got {best!r}")


def _check_params(path, params):
    """Constructor parameters from the file, validated as fit would."""
    known = LogisticRegression().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ModelFileError(path, f"unknown parameters {unknown}")
    params = {**known, **_ABSENT_PARAMS, **params}
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
    except Exception as exc:  # any value a hand edit can put there
        raise ModelFileError(path, f"invalid parameter: {exc}") from None
    return params


def _check_declared(path, header, declared):
    """Every array's declared shape and dtype against the metadata.

    ``declared`` maps names to ``(shape, fortran, dtype)`` from the ``.npy``
    headers; nothing of the arrays' data has been read yet.
    """
    n = header["n_features_in"]
    n_iter = header["n_iter"]
    shape, _, dtype = declared["classes"]
    if len(shape) != 1 or shape[0] < 2:
        raise ModelFileError(path, f"array 'classes' has shape {shape}, "
                             "expected (k,) with k >= 2")
    if dtype.kind not in "biufU":
        raise ModelFileError(path, f"array 'classes' has unsupported dtype {dtype}")
    k = shape[0]
    multi = k > 2
    rows = k if multi else 1
    coef_shape, _, coef_dtype = declared["coef"]
    if len(coef_shape) == 2 and coef_shape[0] != rows:
        # coef fits another number of classes: name the classes as the culprit
        want = "(1, n) for two classes" if not multi else f"({k}, n)"
        raise ModelFileError(path, f"array 'classes' has shape {shape}, which "
                             f"does not fit 'coef' of shape {coef_shape} "
                             f"(expected {want})")
    f64 = (np.dtype(np.float64),)
    per_class = (k, n) if multi else (n,)
    with_intercept = (k, n + 1) if multi else (n + 1,)
    expected = {
        "coef": ((rows, n), (np.dtype(np.float64), np.dtype(np.float32))),
        "intercept": ((rows,), (coef_dtype,)),
        "mean": ((n,), f64),
        "scale": ((n,), f64),
        "w": (per_class, f64),
        "b": ((rows,), f64),
        "loss_curve": ((n_iter,), f64),
        "feature_names": ((n,), "U"),
        "steps": ((2,), (np.dtype(np.int64),)),
        "gsq": (with_intercept, f64),
        "avg": (with_intercept, f64),
        "l1_u": (per_class, f64),
        "l1_q": (per_class, f64),
        "stats": ((3, n), f64),
        "stats_rows": ((2,), (np.dtype(np.int64), f64[0])),
    }
    if "validation_scores" in declared:
        # the fit's epochs: a later partial_fit adds epochs without scores
        shape = declared["validation_scores"][0]
        length = shape[0] if len(shape) == 1 else -1
        expected["validation_scores"] = (((length,) if 0 <= length <= n_iter
                                          else (n_iter,)), f64)
    for name, (want_shape, want_dtype) in expected.items():
        if name not in declared:
            continue
        shape, _, dtype = declared[name]
        if shape != want_shape:
            raise ModelFileError(path, f"array {name!r} has shape {shape}, "
                                 f"expected {want_shape}")
        if isinstance(want_dtype, str):
            if dtype.kind not in want_dtype:
                raise ModelFileError(path, f"array {name!r} has unsupported "
                                     f"dtype {dtype}")
        elif dtype not in want_dtype:
            raise ModelFileError(path, f"array {name!r} has dtype {dtype}, "
                                 f"expected one of "
                                 f"{[d.name for d in want_dtype]}")


def _finite(path, arrays, name):
    a = arrays[name]
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ModelFileError(path, f"array {name!r} contains NaN or infinity")
    bad = _not_text(a)
    if bad is not None:   # (str() of one beyond U+10FFFF raised SystemError)
        raise ModelFileError(path, f"array {name!r} holds {bad}")
    return a


def _not_text(values):
    """What makes the NumPy text array ``values`` not text UTF-8 can store
    (and so not text a CSV or an ONNX graph can carry): a code point beyond
    U+10FFFF, or a surrogate, U+D800..U+DFFF; None if it has neither (or
    is not a text array)."""
    if values.dtype.kind != "U" or not values.size:
        return None
    units = np.ascontiguousarray(values).view(
        np.dtype(np.uint32).newbyteorder(values.dtype.byteorder))
    bad = (units > 0x10FFFF) | ((units >= 0xD800) & (units <= 0xDFFF))
    if not bad.any():
        return None
    unit = int(units.ravel()[np.argmax(bad.ravel())])
    return (f"the code point U+{unit:04X}, "
            f"{'beyond U+10FFFF' if unit > 0x10FFFF else 'a lone surrogate'}, "
            "which is not text UTF-8 can store")


#: Step counts a model file may hold: beyond any training (and exact in the
#: float64 the schedules compute with).
MAX_STEPS = 2**53


def _build_model(path, header, arrays, warn=False):
    """The estimator, from arrays whose shapes and dtypes are checked;
    ``warn``: of what a version-1 file lacks for continued training (module
    docstring, "Format versions"; :func:`load` only)."""
    params = _check_params(path, header["params"])
    for name in arrays:
        _finite(path, arrays, name)
    classes = arrays["classes"]
    k = classes.shape[0]
    if classes.dtype.str != header["classes_dtype"]:
        raise ModelFileError(path, f"classes have dtype {classes.dtype.str}, "
                             f"metadata says {header['classes_dtype']}")
    if not (classes[:-1] < classes[1:]).all():
        count = "two" if k == 2 else str(k)
        raise ModelFileError(path, f"classes must be {count} distinct labels in "
                             f"sorted order, got [{shown(classes, item=repr)}]")
    scale = arrays["scale"]
    if not (scale > 0).all():
        raise ModelFileError(path, "array 'scale' must be positive")
    for name, what in (("steps", "step counts"), ("gsq", "AdaGrad's sums of "
                       "squared gradients"), ("l1_u", "the L1 penalty accrued")):
        # each only grows from 0: a negative one is an edit (a negative gsq
        # made the next step's rate NaN, a negative l1_u pushed weights away)
        if name in arrays and (arrays[name] < 0).any():
            raise ModelFileError(path, f"array {name!r} ({what}) must be "
                                 "non-negative")
    if "steps" in arrays and (arrays["steps"] > MAX_STEPS).any():
        # (2**63 - 1 loaded, and the next step wrapped it negative)
        raise ModelFileError(path, "array 'steps' (step counts) holds more steps "
                             "than any training takes (at most 2**53)")
    if "steps" in arrays and arrays["steps"][1] > arrays["steps"][0]:
        # (averaging counts the steps from its start: never more than all)
        raise ModelFileError(path, "array 'steps' (step counts) holds more "
                             "averaged iterates than steps taken")
    _check_stats(path, arrays)

    # the arrays were read into buffers of their own: no copies needed
    state = ModelState.from_file_arrays(
        {name: arrays[name] for name in ("mean", "scale", "w", "b", *_STATE_ARRAYS)
         if name in arrays}, softmax=k > 2)
    model = LogisticRegression(**params)
    model.classes_ = classes
    model.training_state_ = state
    # shown as stored: the model the writing fastlr predicted with
    state.stored = _stored_model(path, state, arrays)
    model.coef_, model.intercept_ = state.coef(arrays["coef"].dtype)
    average = params["average"]
    if (warn and "steps" not in arrays and header["format_version"] < 2
            and not isinstance(average, bool) and average > 1
            and header["n_iter"] > (header.get("n_solver_iter") or 0)):
        # (a version-2 file without steps took none; a fit by L-BFGS alone
        # has n_solver_iter = n_iter)
        warnings.warn(ModelFileWarning(
            f"{path}: written by fastlr {header['fastlr_version']} before model "
            f"files kept the SGD step count, which is not in it: training "
            f"continued from it counts steps from 0, so average={average} "
            f"starts averaging {average} steps after the load instead of at "
            f"the saved model's step {average} (its predictions are not "
            f"affected)"), stacklevel=user_stacklevel())
    model.n_features_in_ = header["n_features_in"]
    model.n_iter_ = header["n_iter"]
    model.loss_curve_ = arrays["loss_curve"]
    if header.get("classes_object") and classes.dtype.kind == "U":
        model.classes_ = classes.astype(object)
    if header.get("solver") is not None:
        model.solver_ = header["solver"]
        model.n_solver_iter_ = header["n_solver_iter"]
        model.best_validation_score_ = header.get("best_validation_score")
        model.validation_scores_ = arrays.get("validation_scores")
    else:
        # a file that kept no report (partial_fit alone, before it made
        # one): no held-out scores either, as the estimator documents
        model.validation_scores_ = model.best_validation_score_ = None
    if "feature_names" in arrays:
        names, counts = np.unique(arrays["feature_names"], return_counts=True)
        if (counts > 1).any():   # fit refuses such columns
            raise ModelFileError(path, f"array 'feature_names' holds "
                                 f"{str(names[counts > 1][0])!r} more than once")
        model.feature_names_in_ = arrays["feature_names"].astype(object)
    if isinstance(model.class_weight, dict):
        try:   # labels of the classes, weights >= 0: as fit checks them
            model._class_weight_values(model.classes_, None, fitting=False)
        except ValueError as exc:
            raise ModelFileError(path, f"invalid parameter: {exc}") from None
    state.rng = _make_generator(path, header["rng_state"], params["random_state"])
    return model


def _stored_model(path, state, arrays):
    """``(coef, intercept)`` of the file if they are not what
    :meth:`fastlr._state.ModelState.coef` computes from ``state``, else
    None; refused unless they are the state's model as some fastlr wrote it.

    They are a function of the state, so a mismatch means the file was
    edited (or damaged in a way the zip CRC did not catch). ``coef`` is
    ``w / scale`` in its dtype, within a unit in the last place. The
    intercept is ``b - coef . mean`` in float64 from ``coef`` as rounded
    (:func:`fastlr._validation.raw_model`), then rounded to its dtype; a
    float32 file may hold the rule before 6ab2f6c's instead, from the float64
    weights (``raw_model`` in float64: files written before it, and models
    loaded from them saved again). Either is accepted within a unit in the
    last place of its dtype (around today's as rounded, the older one's before
    rounding) plus the rounding of the float64 dot product, the writer's
    and this one's (``2 n eps`` times
    ``|b| + |w / scale| . |mean|``): the tolerance relative to that whole
    magnitude (1e-5 for float32) let pass intercepts many float32 units
    apart, as far as the two rules are. Extreme values overflow quietly here
    and are refused by the comparison.
    """
    coef, intercept = arrays["coef"], arrays["intercept"]
    dtype = coef.dtype
    with np.errstate(over="ignore", invalid="ignore", divide="ignore",
                     under="ignore"):
        try:
            want_coef, want_intercept = state.coef(dtype)
        except ValueError:
            # weights beyond float32's range (the message of a fit's: about X)
            raise ModelFileError(path, f"the weights 'w', 'b', 'mean', 'scale' "
                                 f"give coefficients beyond {dtype}'s range"
                                 ) from None
        w_model, b_model = state.model()
        w_raw = want_coef if dtype == np.float64 else w_model / state.scale
        mag = np.abs(b_model) + np.abs(w_raw) @ np.abs(state.mean)
        slack = 2 * state.n_features * np.finfo(np.float64).eps * mag
        got = intercept.astype(np.float64)

        def near(b):
            ulp = np.spacing(np.abs(b).astype(dtype)).astype(np.float64)
            return np.abs(got - b) <= ulp + slack

        close_b = near(want_intercept)
        if not close_b.all() and dtype != np.float64:
            close_b |= near(state.raw(dtype=np.float64)[1])   # the older rule
        same = np.array_equal(coef, want_coef)   # (else within a unit: slower)
        close_w = same or (np.abs(coef.astype(np.float64) - want_coef)
                           <= np.spacing(np.abs(want_coef))).all()
        # (a magnitude that overflows would make any intercept pass)
        consistent = (np.isfinite(want_coef).all()
                      and np.isfinite(want_intercept).all()
                      and np.isfinite(mag).all()
                      and close_w and close_b.all())
    if not consistent:
        raise ModelFileError(path, "'coef'/'intercept' do not match the "
                             "standardized weights 'w', 'b', 'mean', 'scale'")
    if same and np.array_equal(intercept, want_intercept):
        return None
    return coef, intercept


def _check_stats(path, arrays):
    """The running statistics: both arrays or neither, and values they can
    hold (finiteness is checked with every array)."""
    present = [name for name in STATS_ARRAYS if name in arrays]
    if not present:
        return
    if len(present) == 1:
        other = [name for name in STATS_ARRAYS if name not in arrays][0]
        raise ModelFileError(path, f"array {present[0]!r} comes with "
                             f"{other!r}, which is missing")
    rows, center = arrays["stats_rows"]
    whole = arrays["stats_rows"].dtype.kind == "i"
    if not (rows >= 1 if whole else rows > 0) or center not in (0, 1):
        raise ModelFileError(path, f"array 'stats_rows' must hold a row count "
                             f">= 1 (or a total weight > 0) and 0 or 1, got "
                             f"{arrays['stats_rows'].tolist()}")
    amax, mean, m2 = arrays["stats"]
    if (amax < 0).any() or (m2 < 0).any():
        raise ModelFileError(path, "array 'stats' must hold largest |x| >= 0 "
                             "and sums of squared deviations >= 0")
    if (np.abs(mean) > amax * (1.0 + 1e-9)).any():
        raise ModelFileError(path, "array 'stats' holds a column mean larger "
                             "than the column's largest |x|")


def _make_generator(path, rng_state, random_state):
    if rng_state is None:
        return make_rng(random_state)
    kind = rng_state.get("bit_generator")
    if not isinstance(kind, str) or kind not in _BIT_GENERATORS:
        raise ModelFileError(path, f"unknown bit generator {kind!r} in rng_state")
    bit_generator = _BIT_GENERATORS[kind]()
    try:
        bit_generator.state = rng_state
    except Exception as exc:
        # numpy's setters read the dict as they please: a short MT19937 key
        # is an IndexError, a missing entry a KeyError, ...
        raise ModelFileError(path, f"invalid rng_state ({type(exc).__name__}: "
                             f"{exc})") from None
    # positions numpy's setters take unchecked and its generators then index
    # memory with: an MT19937 pos past its 624-word key crashed the process
    # at the first draw
    state = bit_generator.state   # numpy's own reading of what it took
    checks = [("has_uint32", state["has_uint32"], 1)] if "has_uint32" in state else []
    if kind == "MT19937":
        checks.append(("state.pos", state["state"]["pos"], 624))
    if kind == "Philox":
        checks.append(("buffer_pos", state["buffer_pos"], 4))
    for where, value, top in checks:
        if not 0 <= int(value) <= top:
            raise ModelFileError(path, f"invalid rng_state: {where} is {value}, "
                                 f"outside 0..{top}")
    return np.random.Generator(bit_generator)
