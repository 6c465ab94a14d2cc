"""Input checks shared by the functional API and the estimator.

Every public entry point runs these before any kernel, so bad input raises a
``ValueError``/``TypeError`` naming the argument and nothing is modified.
Plain NumPy: the reference validates with these too and runs no Numba (the
kernel path checks finiteness with a kernel instead, see
:func:`fastlr._dispatch.as_data`).

Which input types are numbers is decided here once, for every entry point
(:mod:`fastlr`, :mod:`fastlr.reference`, :mod:`fastlr.distributed` and the
estimator's ``fit``, ``partial_fit`` and ``predict*``), as scikit-learn's
``check_array(X, dtype="numeric")`` decides it:

==========================  =========================================
input                       answer
==========================  =========================================
bool, int, uint, float      accepted (computed in float64; float32 kept)
object array of numbers     accepted, converted with ``astype(float64)``
object array of numeric     accepted, parsed by the same conversion (as
strings (``"1.5"``)         scikit-learn does for pandas object columns)
object array of anything    ``TypeError`` naming the argument, with
else (``"abc"``, dicts)     Python's ``float()`` message
``<U``/``S`` strings, even  ``TypeError``: not converted (scikit-learn:
numeric ones, and lists of  "dtype='numeric' is not compatible with
strings                     arrays of bytes/strings")
complex                     ``ValueError`` "Complex data not supported"
                            (scikit-learn's words and exception)
datetime64, timedelta64     ``TypeError``: not numbers
==========================  =========================================

scikit-learn itself is not consistent on two of these: its
``LogisticRegression.fit`` converts ``<U`` numeric strings and datetimes
(it asks ``check_array`` for float64 rather than "numeric") while its
``predict`` refuses the strings and fails on datetimes with a
``UFuncTypeError``; ``check_array(dtype="numeric")`` lets datetimes through
unconverted. fastlr answers alike everywhere: what fit accepts, predict
accepts. This module does not import scikit-learn (it costs a second).
"""

import collections.abc
import functools
import math
import numbers
import os
import sys

import numpy as np

from ._choices import FORM_INDPTR, FORM_NONFINITE, FORM_OUTSIDE, FORM_UNSORTED

try:
    import resource
except ImportError:   # (Windows)
    resource = None

FLOAT_DTYPES = (np.float64, np.float32)


def unchanged_on_error(method):
    """Decorate an estimator's ``fit``/``partial_fit`` so that an exception
    (bad input found late, a diverged run, Ctrl-C) leaves every attribute as
    it was: scikit-learn's ``validate_data`` sets ``n_features_in_`` and
    ``feature_names_in_`` before fastlr's own checks run, which would
    otherwise leave a fitted model expecting the refused input's columns.
    The attributes are restored from a shallow copy, so ``fit`` must replace
    attributes, never change their objects in place (it does: it trains a
    copy of the state and stores it only when training succeeds)."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
    return guarded


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def user_stacklevel():
    """The ``stacklevel`` for a ``warnings.warn`` made by the caller of this
    function that attributes the warning to the first frame outside fastlr:
    the user's line, whichever layers (``fit``'s wrapper, Dask, the stream
    trainer) the call went through, so that filters by module and the
    printed source line point at the user's code."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        where = os.path.abspath(frame.f_code.co_filename)
        if not where.startswith(_PACKAGE + os.sep):
            break
        frame = frame.f_back
        level += 1
    return level


def listed(value):
    """``value`` as an item of a ``', '``-separated list: quoted when it
    holds a comma (``'Income, USD'``), which would read as two items."""
    text = str(value)
    return repr(text) if "," in text else text


#: The values :func:`shown` writes out before it counts the rest.
SHOWN = 6


def shown(values, limit=SHOWN, item=listed):
    """``values`` (labels, names) for a message: the first ``limit`` of them,
    each as ``item`` writes it, ``', '``-separated, and how many there are
    in all when there are more (a message naming 1,000 classes in full ran
    to 5,000 characters). ``item=repr`` for messages of the Python API,
    where the label ``'1'`` and the label ``1`` differ."""
    values = values.tolist() if isinstance(values, np.ndarray) else list(values)
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(item(v.item() if isinstance(v, np.generic) else v)
                     for v in values[:limit]) + more


def first_repeated(values):
    """The first of ``values`` that an earlier one equals, or None: an
    option or argument that lists things each once (batch sizes, each a
    row of a table) refuses the list naming it."""
    values = list(values)
    return next((v for i, v in enumerate(values) if v in values[:i]), None)


def weights_as(W, dtype):
    """The float64 weights ``W`` in the input's ``dtype``. Weights trained
    on tiny float32 features (1e-40) can exceed float32's range in raw
    space (they are the standardized weights over each column's scale):
    cast, they would be inf and every prediction NaN, so a finite weight
    that does not fit is refused instead (NaN marks of diverged models
    pass through)."""
    W = np.asarray(W)
    dtype = np.dtype(dtype)
    if dtype != W.dtype and W.size:
        top = np.finfo(dtype).max
        size = np.abs(np.where(np.isfinite(W), W, 0.0)).max()
        if size > top:
            raise ValueError(
                f"the trained weights reach {size:.3g} in the space of X's "
                f"columns, beyond {dtype}'s range ({top:.3g}): X holds very "
                f"small values; pass X as float64, or scale its columns up")
    return W.astype(dtype, copy=False)


def raw_model(W, B, mean, scale, dtype=np.float64):
    """The raw-space model ``(w, b)`` of weights ``W`` (k, n) and intercepts
    ``B`` (k,) trained on ``(x - mean) / scale``: ``w = W / scale`` in
    ``dtype`` (:func:`weights_as`), and ``b = B - w . mean`` in float64 from
    ``w`` as rounded, so that ``x . w + b`` is the trained model's logit
    whatever ``w``'s rounding. (``b`` from the float64 ``w``, then ``w``
    rounded to float32, left the logits off by ``(W / scale - w) . mean``:
    on columns of large mean and small spread, a whole model's worth.)
    ``mean`` None: a mean of zeros, ``b = B`` without the product (for
    finite weights, the same values)."""
    w = weights_as(np.ascontiguousarray(W / scale), dtype)
    if mean is None:
        return w, B - 0.0
    return w, B - w.astype(np.float64, copy=False) @ mean


def check_dtype_kind(dtype, name):
    """Refuse a dtype that is not numbers (table in the module docstring).

    Object dtype passes: its values are converted (and checked) later.
    """
    kind = getattr(dtype, "kind", "O")  # pandas extension dtypes have a kind
    if kind in "biufO":
        return
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {dtype}; "
                         f"pass its real part ({name}.real) if that is what you "
                         "mean")
    why = {"U": "strings are not converted to numbers",
           "S": "strings are not converted to numbers",
           "M": "dates are not numbers",
           "m": "durations are not numbers"}.get(kind)
    hint = f" ({why}; convert {name} to numbers explicitly)" if why else ""
    raise TypeError(f"{name} must have a numeric dtype, got dtype {dtype}{hint}")


def numeric_input(X, name="X"):
    """Refuse ``X`` early if its type is not numbers, as every entry point
    does (module docstring), without converting or copying it.

    Arrays, sparse matrices, DataFrames (per column's dtype) and anything
    else with a ``dtype`` (dask arrays: never computed here) are only
    inspected; a list or other array-like is converted once with
    ``np.asarray``, and an object array to float64 (as :func:`check_X`
    does, with the same errors); the array is returned. For the estimator,
    whose remaining conversion scikit-learn does.
    """
    if is_sparse(X):
        check_dtype_kind(X.dtype, name)
        return X
    if _is_frame(X):
        _frame_columns(X, name)
        return X
    schema = getattr(X, "schema", None)
    if schema is not None and hasattr(X, "column_names"):  # a pyarrow Table
        # kept whole, so that scikit-learn records and checks its column
        # names; its columns' types checked as a DataFrame's
        for field in schema:
            try:
                dtype = np.dtype(field.type.to_pandas_dtype())
            except (NotImplementedError, TypeError):
                dtype = np.dtype(object)
            check_dtype_kind(dtype, name)
            if dtype.kind == "O":
                try:
                    np.asarray(X.column(field.name).to_pylist(),
                               dtype=object).astype(np.float64)
                except (TypeError, ValueError) as exc:
                    raise TypeError(
                        f"{name} must contain numbers, got column {field.name!r} "
                        f"of type {field.type} with a non-numeric value ({exc})"
                    ) from None
        return X
    if isinstance(X, np.ndarray) or not isinstance(getattr(X, "dtype", None),
                                                   np.dtype):
        return _as_numeric_array(X, name)  # no copy unless lists or objects
    check_dtype_kind(X.dtype, name)  # dask and other lazy arrays: not computed
    return X


def _is_frame(X):
    return getattr(X, "dtypes", None) is not None and hasattr(X, "columns")


def _frame_columns(X, name):
    """Refuse a DataFrame ``X`` with a column that is not numbers, naming
    the column: its dtype (:func:`check_dtype_kind`), or a text column's
    value that is not a number in text (numbers in text are parsed later,
    as scikit-learn does)."""
    for column, dtype in zip(X.columns, X.dtypes, strict=True):
        check_dtype_kind(dtype, name)
        if getattr(dtype, "kind", "O") == "O" and not is_dask(X):
            # text columns (object or pandas' string dtype)
            try:
                np.asarray(X[column], dtype=object).astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"{name} must contain numbers, got column {column!r} "
                    f"of dtype {dtype} with a non-numeric value ({exc})"
                ) from None


def refuse_sparse(a, name):
    """A TypeError for a scipy.sparse ``a`` where only dense input is taken
    (labels, weights: ``np.asarray`` would make a 0-d object array of it
    and the error would speak of its shape or of non-numbers)."""
    if is_sparse(a):
        raise TypeError(f"{name} is a scipy.sparse matrix, but dense data is "
                        f"required: pass {name}.toarray().ravel()")


def refuse_dask(a, name):
    """A TypeError for a dask collection ``a`` passed to a function that
    works in memory: ``np.asarray`` would compute it and gather every block
    into this process."""
    if is_dask(a):
        raise TypeError(
            f"{name} is a dask collection, and this function works in memory: "
            "train on the cluster with fastlr.LogisticRegression().fit or "
            "fastlr.distributed.train (never gathering X), or pass "
            f"{name}.compute() if it fits in memory")


def _as_numeric_array(a, name):
    """``np.asarray`` that refuses non-numeric input, naming ``name``."""
    if a is None:
        # np.asarray(None).astype(float) is NaN: the error would speak of NaN
        raise TypeError(f"{name} must be a number or array-like of numbers, got None")
    refuse_dask(a, name)
    refuse_sparse(a, name)
    if isinstance(a, np.ndarray):
        arr = a
    else:
        arr = _nullable_as_float(a, name)
        try:
            arr = np.asarray(a) if arr is None else arr
        except (TypeError, ValueError) as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be array-like of numbers: {exc}") from None
    check_dtype_kind(arr.dtype, name)
    if _is_float32(arr.dtype) and not arr.dtype.isnative:
        # scikit-learn's conversion would make it float64 (it compares
        # dtypes, byte order included): float32 in native order instead
        arr = arr.astype(np.float32)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            if _is_frame(a):   # the column named, as the estimator names it
                _frame_columns(a, name)
            raise TypeError(
                f"{name} must contain numbers, got dtype object with a "
                f"non-numeric value ({exc})"
            ) from None
    return arr


def _nullable_as_float(a, name):
    """A pandas DataFrame or Series with nullable columns (Int64, Float64,
    boolean: pd.NA where a value is missing) as a float64 array with NaN
    there, as scikit-learn converts them (``np.asarray`` would give an
    object array of pd.NA); also a DataFrame that pandas would make an
    object array of (a text column, or bool columns beside numbers), as
    converting that object array would; None for anything else."""
    dtypes = getattr(a, "dtypes", None)
    if dtypes is None or not hasattr(a, "to_numpy"):
        return None
    frame = hasattr(a, "columns")
    dtypes = list(dtypes) if frame else [dtypes]
    if all(isinstance(d, np.dtype) for d in dtypes):
        kinds = {d.kind for d in dtypes}
        if frame and kinds <= set("biufO") and (
                "O" in kinds or ("b" in kinds and kinds & set("iuf"))):
            # pandas' common dtype is object: converted column by column,
            # the text columns checked first as below
            _frame_columns(a, name)
            return _frame_as_float(a)
        return None
    for d in dtypes:
        check_dtype_kind(d, name)
    if not all(getattr(d, "kind", "O") in "biuf" for d in dtypes):
        # text or categories: as an object array would be converted, the
        # text columns checked as the estimator checks them (pd.NA there is
        # not a number), the nullable numbers' pd.NA as NaN (refused as NaN,
        # with its row and column, as by the estimator)
        if frame:
            _frame_columns(a, name)
            return _frame_as_float(a)
        return a.to_numpy(dtype=object, na_value=np.nan)
    if frame:
        return _frame_as_float(a)
    return a.to_numpy(dtype=np.float64, na_value=np.nan)


#: Rows of the blocks :func:`_frame_as_float` converts at a time (each
#: costs a few pandas calls a run of columns; not a power of two, so that a
#: column of a tile transposed is not a run of cache conflicts), and the
#: bytes of a block's tiles, which set their columns.
FRAME_TILE_ROWS = 20_000
FRAME_TILE_BYTES = 1 << 21


def _frame_as_float(frame):
    """The DataFrame ``frame`` (its columns' values checked: see
    :func:`_nullable_as_float`) as a new C-ordered float64 array, with NaN
    where a value is missing (pd.NA, a missing category): the values
    ``frame.to_numpy(dtype=object, na_value=np.nan).astype(np.float64)``
    gives, converted a block of rows at a time, so that at most a column
    of a block is ever an object array (on 1M x 40 with one categorical
    column, the whole frame's conversion took 5x X at the peak and 5.5 s;
    by blocks: X and a block, 0.6 s; a frame of nullable columns, converted
    whole to float64 then to C order, took 2x). In a block, a run of NumPy
    number columns is converted by pandas as one tile, every other column
    (nullable, text, categorical) on its own into a tile of columns, numbers
    straight to float64 (the same values), and each tile is written across
    its rows at once (a column at a time touches a line, or a page, a
    value)."""
    m, n = frame.shape
    out = np.empty((m, n))
    rows = max(1, min(m, FRAME_TILE_ROWS))
    width = max(1, FRAME_TILE_BYTES // (8 * rows))
    # runs of up to ``width`` columns: [first, end, None] of NumPy numbers,
    # [first, end, [each column's values]] of other columns
    runs = []
    for j, (_, column) in enumerate(frame.items()):   # (iloc: 4x the time)
        plain = isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf"
        if (runs and (runs[-1][2] is None) == plain
                and runs[-1][1] - runs[-1][0] < width):
            runs[-1][1] = j + 1
        else:
            runs.append([j, j + 1, None if plain else []])
        if not plain:
            runs[-1][2].append(column.array)
    tile = np.empty((min(width, n), rows))   # other columns' block, a column a row
    for lo in range(0, m, rows):
        hi = min(lo + rows, m)
        for j0, j1, columns in runs:
            if columns is None:
                out[lo:hi, j0:j1] = frame.iloc[lo:hi, j0:j1].to_numpy(dtype=np.float64)
                continue
            for c, values in enumerate(columns):
                via = np.float64 if values.dtype.kind in "biuf" else object
                part = values[lo:hi].to_numpy(dtype=via, na_value=np.nan)
                tile[c, :hi - lo] = part.astype(np.float64) if via is object else part
            out[lo:hi, j0:j1] = tile[:j1 - j0, :hi - lo].T
    return out


def float_dtype_of(arr):
    """float32 stays float32 (in either byte order: the native one is
    returned); every other numeric dtype computes in float64."""
    return np.float32 if _is_float32(arr.dtype) else np.float64


def _is_float32(dtype):
    return dtype.kind == "f" and dtype.itemsize == 4


def is_sparse(X):
    """Whether X is a scipy.sparse matrix or array.

    Asks scipy only if it is already imported: an object cannot be a scipy
    sparse matrix otherwise, and importing scipy costs start-up time. The
    import statement, not ``sys.modules``, gives the module: while another
    thread is still importing scipy, ``sys.modules`` holds it half made
    (no ``issparse`` yet) and the statement waits for it.
    """
    if sys.modules.get("scipy.sparse") is None:   # (None: an import blocked)
        return False
    import scipy.sparse

    return scipy.sparse.issparse(X)


#: Rows per slice of the NumPy finiteness check (bounds its temporary).
FINITE_ROWS = 4096


def all_finite(X):
    """True when no element of X is NaN or infinity, checked in slices of
    rows so that the boolean temporary stays small."""
    return all(np.isfinite(X[i:i + FINITE_ROWS]).all()
               for i in range(0, X.shape[0], FINITE_ROWS))


def first_nonfinite(X, columns=None):
    """``(row, column)`` of the first NaN or infinity of dense or CSR X in
    row-major order, or None. For error messages: it reads X again, in
    slices of rows (small temporaries), up to the first bad row. Dense X
    may be searched in its ``columns`` only (then ``column`` is a position
    in that list)."""
    if is_sparse(X):
        nnz = int(X.indptr[-1])
        bad = np.flatnonzero(~np.isfinite(X.data[:nnz]))
        if bad.shape[0] == 0:
            return None
        k = int(bad[0])
        return int(np.searchsorted(X.indptr, k, side="right")) - 1, int(X.indices[k])
    for i in range(0, X.shape[0], FINITE_ROWS):
        rows = X[i:i + FINITE_ROWS]
        bad = np.argwhere(~np.isfinite(rows if columns is None else rows[:, columns]))
        if bad.shape[0]:
            return i + int(bad[0, 0]), int(bad[0, 1])
    return None


def nonfinite_error(X, name="X", row0=0):
    """The ValueError for X holding NaN or infinity, naming ``name`` and the
    first bad row and column (rows counted from ``row0``: X a block of a
    larger array that starts there)."""
    where = first_nonfinite(X)
    at = ("" if where is None
          else f" (first at row {row0 + where[0]}, column {where[1]})")
    return ValueError(f"{name} contains NaN or infinity{at}")


def check_X(X, name="X", accept_sparse=False, finite=True, contiguous=True, form=None):
    """Return X as a C-contiguous 2-D float32/float64 array, non-empty and
    (unless ``finite`` is False: the caller checks) finite.

    C-contiguous float32/float64 input is returned as is (no copy); other
    layouts and dtypes are converted once (``contiguous=False``: other
    layouts of float32/float64 are returned as they are, for prediction,
    which copies a block of rows at a time). With ``accept_sparse``, scipy
    sparse input is returned as a canonical CSR matrix
    (:func:`check_sparse_X`, which reads its arrays by ``form``); without,
    it is refused with a TypeError.
    """
    if hasattr(X, "columns") and hasattr(X, "sparse"):
        # a pandas DataFrame of sparse columns (pandas has the accessor only
        # when every column is): a COO matrix, as scikit-learn reads it
        X = X.sparse.to_coo()
    if is_sparse(X):
        if not accept_sparse:
            raise TypeError(
                f"{name} is a scipy.sparse matrix, which this function does "
                "not support; pass a dense array (X.toarray()) if it fits in "
                "memory")
        return check_sparse_X(X, name, finite, form)
    arr = _as_numeric_array(X, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), "
            f"got {arr.ndim}-D with shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    dtype = float_dtype_of(arr)
    if contiguous or arr.dtype != dtype:
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite and not all_finite(arr):
        raise nonfinite_error(arr, name)
    return arr


def check_sparse_X(X, name="X", finite=True, form=None):
    """Validate scipy sparse X and return it as a canonical CSR matrix.

    Never densifies. CSR input with float32/float64 data, sorted indices and
    no duplicate entries is returned as is (no copy). Other formats (CSC,
    COO, ...) are converted to CSR, other numeric dtypes to float64, and a
    CSR with unsorted indices or duplicate entries is canonicalized on a
    copy (duplicates summed, as ``sum_duplicates`` does): the caller's
    matrix is never modified. The canonical form is read from the index
    arrays themselves, never from scipy's cached ``has_canonical_format``,
    which stays as first computed when the indices are then edited in
    place. Index arrays the kernels were not compiled for are converted
    (:func:`_csr_index_arrays`).

    ``form(csr, finite)`` reads the arrays for that (``FORM_*`` flags; by
    default :func:`csr_form`, in NumPy: the reference runs no Numba; the
    kernel path passes its one-pass kernel, see
    :func:`fastlr._dispatch.as_data`, which may check the values finite
    though ``finite`` is False: a NaN or infinity it reports is refused).
    A matrix made canonical here is read again: its values are checked
    after summing, which may overflow.
    """
    if len(X.shape) != 2:
        raise ValueError(f"{name} must be 2-D of shape (n_samples, n_features), "
                         f"got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    check_dtype_kind(X.dtype, name)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must have a numeric dtype, got dtype {X.dtype}")
    csr = X.tocsr()  # CSR: the same object; other formats: a new matrix
    dtype = float_dtype_of(csr)
    if csr.dtype != dtype:
        csr = csr.astype(dtype)
    m, n = csr.shape
    indptr, indices = csr.indptr, csr.indices
    for part, arr in (("indptr", indptr), ("indices", indices)):
        # scipy's own routines take signed integers only ("unsupported data
        # types in input" named nothing)
        if arr.dtype.kind != "i":
            raise ValueError(f"{name} is not a valid CSR matrix: its {part} must "
                             f"hold signed integers (scipy makes int32 or "
                             f"int64), got dtype {arr.dtype}")
    bad_indptr = ValueError(f"{name} is not a valid CSR matrix: its indptr is "
                            "inconsistent with its shape or data")
    # (that it never decreases: form's FORM_INDPTR)
    if (indptr.shape[0] != m + 1 or indptr[0] != 0
            or not 0 <= indptr[-1] <= min(indices.shape[0], csr.data.shape[0])):
        raise bad_indptr
    fresh = csr is not X   # its arrays are not the caller's
    csr = _csr_index_arrays(csr)
    found = (form or csr_form)(csr, finite)
    if found & FORM_INDPTR:
        raise bad_indptr
    if found & FORM_OUTSIDE:
        raise ValueError(f"{name} is not a valid CSR matrix: a column index "
                         f"lies outside 0..{n - 1}")
    if found & FORM_UNSORTED:
        if not fresh:
            csr = csr.copy()
        csr.sum_duplicates()  # sorts the indices and adds duplicates
        found = (form or csr_form)(csr, finite)
    if found & FORM_NONFINITE:
        raise nonfinite_error(csr, name)
    return csr


def _csr_index_arrays(csr):
    """``csr`` (indptr's length and ends checked) with the arrays the
    kernels are compiled for
    by ``fastlr compile``: ``indices`` and ``indptr`` both int32 or both
    int64, in native byte order, and every array contiguous. Anything else
    (big-endian arrays read from a file, int16 indices, int32 indices with
    an int64 indptr, strided views) would make numba compile every kernel
    anew for it, or fail to type it at all: those arrays are converted, on
    a new matrix (the caller's is never modified); the shorter ``indptr``
    where either would do. ``csr`` itself when nothing needs it."""
    nnz = int(csr.indptr[-1])
    index = (np.int64 if csr.indices.dtype.itemsize > 4 or nnz > np.iinfo(np.int32).max
             else np.int32)
    arrays = (np.ascontiguousarray(csr.data),
              np.ascontiguousarray(csr.indices, dtype=index),
              np.ascontiguousarray(csr.indptr, dtype=index))
    if all(new is old for new, old in zip(arrays, (csr.data, csr.indices, csr.indptr),
                                          strict=True)):
        return csr
    out = type(csr)(csr.shape, dtype=csr.dtype)   # empty: no check of contents
    out.data, out.indices, out.indptr = arrays
    return out


#: Rows (stored entries) per slice of :func:`csr_form` (bounds its
#: temporaries: a boolean a row or a stored entry of a slice; a slice of
#: indices stays in cache between its reads).
CSR_SLICE = 1 << 18


def csr_form(csr, finite):
    """The ``FORM_*`` flags of CSR ``csr`` (:func:`check_sparse_X`: indptr's
    length and ends checked, :func:`_csr_index_arrays`), in NumPy: whether
    ``indptr`` never decreases, then in one read of the stored column
    indices, a slice at a time, whether each row's are strictly increasing
    (sorted, no duplicates) and all in ``0 .. n - 1`` (returning at the
    first slice outside), then (``finite``) whether the stored values are
    finite. The kernel path runs
    :func:`fastlr._kernels.stats.csr_form` instead, one pass for all."""
    indptr, indices = csr.indptr, csr.indices
    m, n = csr.shape
    nnz = int(indptr[-1])
    for lo in range(0, m, CSR_SLICE):
        hi = min(lo + CSR_SLICE, m)
        if np.any(indptr[lo + 1:hi + 1] < indptr[lo:hi]):
            return FORM_INDPTR
    found = 0
    for lo in range(0, nnz, CSR_SLICE):
        hi = min(lo + CSR_SLICE, nnz)
        part = indices[lo:hi]
        if part.min() < 0 or part.max() >= n:
            return found | FORM_OUTSIDE
        if not found & FORM_UNSORTED:
            # entry k against k + 1 for k in lo..hi - 1 (the last stored
            # entry has none); a pair across rows (k + 1 starts a row, one of
            # indptr's values in lo + 1..hi) is no test
            up = indices[lo + 1:min(hi + 1, nnz)] > part[:nnz - 1 - lo]
            starts = indptr[slice(*np.searchsorted(
                indptr, np.array([lo + 1, lo + 1 + up.shape[0]], dtype=indptr.dtype)))]
            up[starts - (lo + 1)] = True
            found |= 0 if up.all() else FORM_UNSORTED
    if finite and not all(np.isfinite(csr.data[lo:min(lo + CSR_SLICE, nnz)]).all()
                          for lo in range(0, nnz, CSR_SLICE)):
        found |= FORM_NONFINITE
    return found


def row_bytes(X):
    """Bytes of one dense row of X: what sizes the shuffled blocks.

    Sparse X uses the size of its *dense* row too, so that a sparse matrix
    and its densified copy are visited in the same order for the same
    ``random_state``. Wide sparse data thus gets small blocks (single rows
    beyond 2048 float64 columns), which costs a CSR little: its rows are
    short, and each is one contiguous run of entries.
    """
    return X.shape[1] * X.dtype.itemsize


def check_standardize(standardize, sparse=None):
    """``True``, ``False`` (numpy bools too), ``"scale"`` or ``"auto"``
    (the default): with ``sparse`` given (whether X is a sparse matrix),
    ``"auto"`` is resolved, True on dense X and False on sparse X.

    Sparse data (tf-idf, counts, hashed features) is usually trained on as
    it is: dividing each column by its spread multiplies a rare term's
    values, and shrinks its penalty, by the inverse of a small spread. On
    120,000 tf-idf-like rows (:func:`fastlr.bench_sparse.make_rcv1_workload`,
    the first 100,000 trained on) the default ``fit`` scaled reached a
    held-out log-loss of 2.51 in 0.88 s; unscaled 0.61 in 0.21 s
    (``SGDClassifier``'s 0.61), scikit-learn's ``LogisticRegression()``
    0.52 in 4.1 s."""
    if isinstance(standardize, (bool, np.bool_)):
        return bool(standardize)
    if isinstance(standardize, str) and standardize in ("scale", "auto"):
        if standardize == "auto" and sparse is not None:
            return not sparse
        return standardize
    raise ValueError(f"standardize must be True, False, 'scale' or 'auto', got "
                     f"{standardize!r}")


def standardize_option(standardize, fit_intercept, sparse):
    """``standardize`` as training takes it on X, sparse or not (True, False
    or "scale"; checked and "auto" resolved by :func:`check_standardize`):
    without an intercept the model must pass through the origin in raw
    space, so True scales but does not center (centering would put ``-w .
    mean`` into the intercept)."""
    standardize = check_standardize(standardize, sparse)
    return "scale" if standardize is True and not fit_intercept else standardize


def check_vector(a, name, allow_inf=False):
    """Return a 1-D float array (float32 kept), non-empty, without NaN."""
    arr = _as_numeric_array(a, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    arr = np.ascontiguousarray(arr, dtype=float_dtype_of(arr))
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        what = "NaN" if allow_inf else "NaN or infinity"
        raise ValueError(f"{name} contains {what}")
    return arr


#: Integer labels are counted with ``np.bincount`` over their range when it
#: holds at most this many slots per label (plus a constant): beyond that
#: the counts would cost more memory than sorting saves.
BINCOUNT_SLOTS = 4


def refuse_continuous(values, name):
    """Raise for float labels that are not whole numbers, as
    :func:`target_classes` does (scikit-learn's "Unknown label type:
    continuous"), naming ``name`` (a file, with the labels' column) and
    one such label: for the readers that see the labels before ``fit``.
    Whole numbers beyond int64's range count as continuous, as they do for
    scikit-learn (they do not survive its cast to int)."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        odd = values[(values != np.round(values))
                     | ~((values >= -2.0 ** 63) & (values < 2.0 ** 63))]
        if odd.size:
            raise ValueError(f"{name}: Unknown label type: continuous (a label is "
                             f"{odd[0].item()!r}); a classifier needs class "
                             "labels: integers or text")


def unique_labels(y, name="y", **kwargs):
    """``np.unique(y, **kwargs)`` of labels, naming ``name`` when they
    cannot be sorted: an object array mixing types that do not compare
    (``None`` among strings, strings among numbers) makes NumPy's sort
    raise a TypeError that names neither the argument nor the labels."""
    try:
        return np.unique(y, **kwargs)
    except TypeError as e:
        raise _unsortable(y, name, e) from None


def check_classes(classes, name="classes"):
    """The sorted distinct labels of ``partial_fit``'s ``classes``: a 1-D
    array-like of labels, refused as ``y`` would be when it holds NaN or
    inf or floats that are not whole numbers (:func:`refuse_continuous`:
    ``fit`` refuses such a ``y`` as a regression target), and refused when
    it is a set or a mapping (NumPy would make it one object, counted as
    one label)."""
    if isinstance(classes, (collections.abc.Set, collections.abc.Mapping, str, bytes)):
        raise TypeError(f"{name} must be an array-like of labels (a list, tuple "
                        f"or array), got {type(classes).__name__}: {classes!r}")
    arr = np.asarray(classes)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if (arr.dtype.kind in "US" and not isinstance(classes, np.ndarray)
            and len({np.asarray(v).dtype.kind in "US" for v in classes}) > 1):
        # NumPy made the other labels strings, which y's never match
        raise ValueError(f"{name} mixes text labels and others: "
                         f"[{shown(classes, item=repr)}]; "
                         "give labels of one type")
    floats = [(i, v) for i, v in enumerate(arr.tolist())
              if isinstance(v, (float, np.floating))]   # (of an object array too)
    bad = [i for i, v in floats if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{name} contains NaN or inf, which are not labels: "
                         f"{arr.tolist()[bad[0]]!r} at position {bad[0]} of "
                         f"[{shown(arr, item=repr)}]")
    refuse_continuous(np.array([v for _, v in floats], dtype=np.float64), name)
    return unique_labels(arr, name)


def among_classes(y, classes):
    """Whether every label of ``y`` is one of the sorted ``classes``, known
    by a binary search each when both are numbers of one dtype (no sort of
    ``y``, no set difference: on a ``partial_fit`` chunk of 100 rows, a
    twentieth of the call); False otherwise, when the caller checks as
    :func:`refuse_unseen` does (which also names what is wrong)."""
    y = np.asarray(y)
    if y.dtype != classes.dtype or y.dtype.kind not in "biuf" or not classes.size:
        return False
    at = np.searchsorted(classes, y)
    np.minimum(at, classes.shape[0] - 1, out=at)
    return bool((classes[at] == y).all())


def refuse_unseen(labels, classes):
    """Refuse the distinct labels of ``y``, ``labels``, unless all are among
    the model's ``classes`` (``partial_fit``), naming those that are not
    first, then the classes (abbreviated, as :func:`shown` writes lists).
    Numbers against text classes get a hint: ``fastlr.io.iter_chunks``
    types each chunk's labels by its own values, so a chunk of ``"1"``,
    ``"2"`` comes back as numbers unless ``text_labels=True``."""
    unseen = np.setdiff1d(labels, classes)
    if unseen.size:
        hint = ""
        if _label_kind(np.asarray(labels)) == "number" and is_text(classes):
            hint = ("; y holds no text and classes do (if y was read by "
                    "fastlr.io.iter_chunks, which types each chunk's labels by "
                    "its own values, text_labels=True keeps them text)")
        raise ValueError(f"y contains labels not in classes: "
                         f"{shown(unseen, item=repr)} (the classes: "
                         f"{shown(classes, item=repr)}){hint}")


def classes_apart(a, a_name, b, b_name, item=listed):
    """A message's phrase naming what tells two lists of classes apart: the
    labels of each that the other lacks (``np.setdiff1d`` both ways), each
    list abbreviated as :func:`shown` writes it, e.g. "classes [9] are not
    in classes_; classes_ [2] are not in classes" (showing both lists
    whole, abbreviated, showed two identical heads when there are many
    classes). Labels of types that cannot be sorted together (text against
    numbers) all differ. ``item`` as for :func:`shown`."""
    parts = []
    for one, name, other, other_name in ((a, a_name, b, b_name),
                                         (b, b_name, a, a_name)):
        try:
            lacks = np.setdiff1d(one, other)
        except TypeError:   # labels of other types: none is the other's
            lacks = np.asarray(one)
        if lacks.size:
            verb = "is" if lacks.size == 1 else "are"
            parts.append(f"{name} [{shown(lacks, item=item)}] {verb} not in "
                         f"{other_name}")
    return "; ".join(parts)


def _unsortable(y, name, err):
    """The TypeError of :func:`unique_labels` and :func:`target_classes`:
    labels of several types that do not compare, or of one type refused."""
    kinds = sorted({type(v).__name__ for v in np.asarray(y, dtype=object).ravel()})
    if len(kinds) == 1:   # one type, refused as such (scikit-learn's bytes)
        return TypeError(f"{name} holds labels of type {kinds[0]}, which cannot "
                         f"be classes: {err}")
    return TypeError(f"{name} mixes labels that cannot be sorted together (of "
                     f"types {', '.join(kinds)}: {err}); give labels of one type, "
                     "e.g. all strings")


def target_classes(y):
    """The sorted distinct labels of a classifier's 1-D ``y`` (what
    ``np.unique(y)`` returns), refusing what scikit-learn's
    ``check_classification_targets`` refuses (continuous values, ...).

    Labels that are integers (of an integer, bool or float dtype) over a
    small range are counted with ``np.bincount``: two reads of ``y``, about
    3 ms on 1M labels, where ``check_classification_targets`` and
    ``np.unique`` sort or hash ``y`` twice (35 ms). Anything else goes to
    those two.
    """
    y = np.asarray(y)
    if y.ndim == 1 and y.size and y.dtype.kind in "biuf":
        lo, hi = float(y.min()), float(y.max())
        small = (math.isfinite(lo) and math.isfinite(hi) and lo == math.floor(lo)
                 and hi == math.floor(hi) and -2.0 ** 52 <= lo and hi <= 2.0 ** 52
                 and hi - lo <= BINCOUNT_SLOTS * y.size + 65536)
        if small:
            shifted = y.astype(np.int64)
            if y.dtype.kind != "f" or np.array_equal(shifted, y):
                shifted -= int(lo)
                present = np.flatnonzero(np.bincount(shifted))
                k = present.shape[0]
                # scikit-learn warns when the classes look like a regression
                # target: those labels take its path for its warning
                if k <= 2 or y.size <= 20 or k <= round(0.5 * y.size):
                    return (present + int(lo)).astype(y.dtype)
    from sklearn.utils.multiclass import check_classification_targets

    try:
        check_classification_targets(y)
    except TypeError as e:   # its own np.unique of unsortable labels
        raise _unsortable(y, "y", e) from None
    return unique_labels(y)


def check_labels01(y, name="y", m=None, require_both=False, dtype=np.float64):
    """Binary labels as 0/1 of ``dtype`` (float64 0.0/1.0 by default; the
    training kernels take int64 codes).

    Accepts bool, integer or float arrays whose values are all 0 or 1.
    With ``require_both``, both classes must occur (training needs them).
    Integer labels already of ``dtype`` are returned as they are, not
    copied (the kernels only read them).
    """
    arr = _as_numeric_array(y, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if m is not None and arr.shape[0] != m:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but X has {m} rows; they must match"
        )
    if arr.dtype.kind in "biu":
        # integers: 0/1 iff min >= 0 and max <= 1 (no temporaries)
        binary = arr.min() >= 0 and arr.max() <= 1
        k = int(np.count_nonzero(arr)) if binary else 0
        y01 = np.ascontiguousarray(arr, dtype=dtype)
    else:
        y01 = arr.astype(np.float64)
        if not np.isfinite(y01).all():
            raise ValueError(f"{name} contains NaN or infinity")
        ones = y01 == 1.0
        binary = bool((ones | (y01 == 0.0)).all())
        k = int(ones.sum()) if binary else 0
    if not binary:
        vals = unique_labels(arr, name)
        shown = ", ".join(map(str, vals[:5])) + (", ..." if vals.size > 5 else "")
        raise ValueError(
            f"{name} must contain only the binary labels 0 and 1, got values "
            f"[{shown}]; map your labels to 0/1 or use fastlr.LogisticRegression, "
            "which accepts any two labels"
        )
    if require_both:
        if k == 0 or k == y01.shape[0]:
            raise ValueError(
                f"{name} contains a single class ({int(y01[0])}); training "
                "needs both labels 0 and 1"
            )
    return y01.astype(dtype, copy=False)


def check_same_length(a, b, name_a, name_b):
    """ValueError unless ``a`` and ``b`` have as many entries (rows, for a
    matrix) as each other."""
    if a.shape[0] != b.shape[0]:
        def count(x):
            return f"{x.shape[0]} {'rows' if len(x.shape) == 2 else 'entries'}"

        raise ValueError(f"{name_a} has {count(a)} but {name_b} has {count(b)}; "
                         "they must match")


#: Bytes a training call holds per column of X at its peak, beyond X
#: (peak resident memory over the start, a 200-row CSR matrix of 3M columns,
#: binary, 3 epochs): ``fastlr.train`` 85, ``fit`` then ``fastlr.save`` (the
#: command line's ``train``) 298. A model of k > 2 classes holds k rows of
#: weights, each costing about a ``*_PER_CLASS`` more (10 classes on 2M
#: columns: ``train_multinomial`` 288 bytes a column; README's rule for the
#: command line, 300 a feature and class).
TRAIN_BYTES_PER_COLUMN, TRAIN_BYTES_PER_CLASS = 80, 30
FIT_SAVE_BYTES_PER_COLUMN = 300

#: ``LogisticRegression.fit`` by SGD (:func:`fit_bytes`): bytes a column,
#: a class beyond the first, and more of each for every optimizer array
#: the options write. Peak resident memory over the start (the peak reset
#: before the fit), CSR 200 rows of 20 entries, 3 epochs: binary on 3M
#: columns 80 bytes a column with the default options (no optimizer array
#: written) and 113 with AdaGrad, averaging and the elastic net (all four
#: written); 10 classes on 1M columns 289 and 689; with ``early_stopping``
#: (the best model kept beside the trained one) 105 binary, 528 and 1,488
#: at 10 classes; a warm start with the same options 344 at 10 classes
#: (one that keeps arrays the new options do not write is counted with
#: them: ``LogisticRegression._check_fit_memory``). The check asks 100,
#: 156, 388, 948, 132, 708, 1,828 and 388: 13-38% above. (One rule of 170
#: + 150 a class asked 1,520 of every 10-class fit: 5x a default fit's
#: need, since a fit allocates only the optimizer arrays its options
#: write.)
FIT_BYTES_PER_COLUMN, FIT_BYTES_PER_CLASS, FIT_BYTES_PER_ARRAY = 100, 32, 14


def fit_bytes(written, early_stopping=False):
    """``(per_column, per_class)``: the bytes ``LogisticRegression.fit``
    by SGD holds a column of a sparse X, and a class beyond the first
    (:func:`check_width`), when its options write the optimizer arrays
    ``written`` (:func:`fastlr._sgd.written_arrays`); ``early_stopping``
    keeps a second model, its classes' share twice."""
    extra = FIT_BYTES_PER_ARRAY * len(written)
    per_column, per_class = FIT_BYTES_PER_COLUMN + extra, FIT_BYTES_PER_CLASS + extra
    if early_stopping:
        return per_column + per_class, 2 * per_class
    return per_column, per_class

#: Bytes the L-BFGS finisher of one model (``solver="auto"`` or
#: ``"lbfgs"``) holds a weight beyond the SGD fit's count above and its
#: curvature pairs (``_lbfgs.MEMORY`` = 10 pairs of two float64 vectors, 160
#: bytes a weight, which the SGD-era constants did not count): six vectors,
#: the iterate, gradient, pseudo-gradient, direction, trial point and its
#: gradient (:func:`fastlr.core.check_model_memory`). Peak resident memory
#: of ``LogisticRegression.fit`` over the start, 30 passes, CSR 20,000 rows
#: of 20 entries: binary on 3M columns 360 (auto) and 328 (lbfgs) bytes a
#: column, against the check's 170 + 160 + 48 = 378 (170 before); k = 100
#: on 50,000 columns 290 (auto) and 250 (lbfgs) bytes a weight, against
#: 150 + 160 + 48 = 358 (150 before; 319 measured on 100,000 columns).
#: Dense X, which is not checked (as before), measured 383
#: (auto) and 332 (lbfgs) bytes a weight at 2,000 x 10,000, k = 100, and
#: 792 a column at 200 x 1,000,000, binary, of which 512 are the
#: finisher's curvature sample (at least 64 rows of X, copied).
FINISHER_BYTES_PER_WEIGHT = 48


def available_memory():
    """Bytes this process may still allocate, or None where unknown: the
    least of the memory free (Linux: MemAvailable plus SwapFree of
    /proc/meminfo; elsewhere the physical memory), the room a container's
    memory limit leaves (:func:`_cgroup_room`) and the room an address-space
    limit leaves (``ulimit -v``: :func:`_address_space_room`)."""
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f if ":" in line)
        free = sum(int(info[key].split()[0]) * 1024
                   for key in ("MemAvailable", "SwapFree") if key in info) or None
    except (OSError, ValueError):
        free = physical_memory()
    rooms = [room for room in (free, _cgroup_room(), _address_space_room())
             if room is not None]
    return min(rooms) if rooms else None


def physical_memory():
    """Bytes of this machine's memory (RAM, not swap), or None where
    unknown."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _address_space_room():
    """The soft RLIMIT_AS of this process (``ulimit -v``: beyond it an
    allocation fails with MemoryError) less the address space it has
    mapped already (Linux: VmSize of /proc/self/status, else taken as
    none); None without a limit."""
    try:
        cap = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (AttributeError, OSError, ValueError):   # (resource None: Windows)
        return None
    if cap == resource.RLIM_INFINITY or cap < 0:
        return None
    used = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, cap - used)


def _cgroup_room():
    """The memory limit of this process's cgroup (v2, else v1, as a
    container sees its own) less what it uses; None without a limit."""
    for limit, used in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                         "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as f:
                cap = f.read().strip()
            with open(used) as f:
                now = int(f.read())
        except (OSError, ValueError):
            continue
        if cap == "max" or int(cap) >= 1 << 62:   # (v1 writes "no limit" so)
            return None
        return max(0, int(cap) - now)
    return None


def check_width(n, name, per_column=TRAIN_BYTES_PER_COLUMN, classes=2,
                per_class=None, extra=0):
    """Refuse, before any per-column array is allocated, a model of ``n``
    columns whose training would need more memory than is available:
    ``per_column`` bytes a column, and ``per_class`` (default
    ``per_column``) more for each row of weights beyond the first (k rows
    for ``classes`` k > 2), and ``extra`` bytes more (the L-BFGS
    finisher's: :func:`fastlr.core.check_model_memory`). A sparse X (a CSR
    matrix, an svmlight file) of a few entries can declare any width, and
    the operating system kills a process that outgrows memory instead of
    raising ``MemoryError``."""
    rows = classes if classes > 2 else 1
    per_class = per_column if per_class is None else per_class
    check_memory(n * (per_column + (rows - 1) * per_class) + extra,
                 f"{name} has {n:,} columns (a sparse matrix's width, an svmlight "
                 "file's largest feature index): training a model that wide"
                 + (f" for {classes} classes" if rows > 1 else ""))


#: Bytes a model of a joint run (:func:`fastlr.train_many`,
#: ``LogisticRegressionCV``) holds, beyond its weights, and per weight
#: beside the solver's curvature pairs (:func:`fastlr._solver.stack_pairs`):
#: peak resident memory over the start, ``LogisticRegressionCV`` on 300
#: rows, cv=5: 22 KB a model at 3 features, 40 KB at 300; on CSR 20,000 x
#: 1,000,000, 30 models (10 alphas x 3 folds), 17 B a weight with SGD
#: (``train_many``), 47 with ``solver="lbfgs"`` and 49 for
#: ``LogisticRegressionCV(max_iter=5)``, of which 16 the pairs (480 MB);
#: on CSR 2,000 x 1,000,000, 30 models, ``train_many`` took 14 B a weight
#: with plain SGD, 36.5 with averaging and L1, 44 with AdaGrad too, 34 with
#: the solver (pairs included). The check (:func:`fastlr.core.
#: check_grid_memory`) counts 16 (the stack's weights and the result's), 8
#: more for each optimizer array SGD writes and for the solver's gradient:
#: 16, 40, 48 and 40 there, 9-16% above those peaks (at 40 for every run,
#: plain SGD grids were refused at 2.8 times their real need).
MODEL_BYTES, MODEL_BYTES_PER_WEIGHT = 20_000, 16


class NotEnoughMemory(MemoryError):
    """:func:`check_memory`'s refusal: its message says what needs the
    memory and how much there is."""


def check_memory(need, what):
    """Refuse, before it is allocated, work that needs ``need`` bytes when
    less memory is available: the operating system kills a process that
    outgrows memory instead of raising ``MemoryError``. ``what`` says what
    needs it and names the argument."""
    if need < 1 << 30:   # not worth a look at /proc
        return
    avail = available_memory()
    if avail is not None and need > avail:
        raise NotEnoughMemory(
            f"{what} would need about {need / 2**30:,.1f} GiB of memory, more "
            f"than the {avail / 2**30:,.1f} GiB available")


def check_positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value, name, *, positive=False, nonnegative=False, open01=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if open01 and not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


def check_weights(w, b, n_features):
    """Model weights ``w`` (n,) and intercept ``b`` for prediction."""
    warr = check_vector(w, "w")
    if warr.shape[0] != n_features:
        raise ValueError(
            f"w has {warr.shape[0]} entries but X has {n_features} features; "
            "they must match"
        )
    if isinstance(b, np.ndarray) and b.size == 1:
        b = b.reshape(()).item()
    b = check_real(b, "b")
    return np.ascontiguousarray(warr, dtype=np.float64), b


def check_sample_weight(sample_weight, m):
    """float64 weights of shape (m,), finite, >= 0, not all zero.

    ``None`` gives an empty array, which the kernels read as "all ones".
    """
    if sample_weight is None:
        return np.empty(0)
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(m, float(sample_weight))
    sw = _as_numeric_array(sample_weight, "sample_weight")
    if sw.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {sw.shape}")
    if sw.shape[0] != m:
        raise ValueError(f"sample_weight has {sw.shape[0]} entries but X has {m} "
                         "rows; they must match")
    sw = np.array(sw, dtype=np.float64)  # a copy: never alias the caller's array
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (sw < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if not (sw > 0).any():
        raise ValueError(zero_weights_message("sample_weight"))
    check_weight_total(sw, "sample_weight")
    return sw


def weights_name(sample_weight_given, class_weight):
    """The argument(s) rows' weights come from, for messages:
    ``"sample_weight"``, ``"class_weight"`` or ``"sample_weight times
    class_weight"``."""
    if class_weight is None:
        return "sample_weight"
    return "sample_weight times class_weight" if sample_weight_given \
        else "class_weight"


def zero_weights_message(name, rows="sample"):
    """The message refusing weights (from ``name``, :func:`weights_name`)
    that are zero for every one of the ``rows``."""
    if name == "sample_weight":
        return f"sample_weight is zero for every {rows}; at least one must be positive"
    return f"{name} gives every {rows} weight zero; at least one must be positive"


def check_weight_total(sw, name):
    """Refuse row weights ``sw`` (finite, >= 0) whose total float64 cannot
    hold, or that is below its normal range: the weighted statistics and
    losses divide by it. ``name`` says where the weights came from."""
    with np.errstate(over="ignore"):
        total = sw.sum()
    if not np.isfinite(total):
        raise ValueError(f"{name} sums to more than float64 holds "
                         f"({np.finfo(np.float64).max:.3g}); scale the weights down")
    if total < np.finfo(np.float64).tiny:
        raise ValueError(f"{name} sums to {total:.3g}, below float64's "
                         f"normal range ({np.finfo(np.float64).tiny:.3g}); "
                         "scale the weights up")


def check_proba(p, name):
    """1-D probabilities in [0, 1] (float32 kept), finite."""
    pv = check_vector(p, name)
    if (pv < 0).any() or (pv > 1).any():
        raise ValueError(f"{name} must contain probabilities in [0, 1]")
    return pv


def check_log_loss_args(y, p, eps):
    """Validated ``(y01, p, eps)`` for ``log_loss``: labels 0/1, probabilities
    of the same length, 2**-53 <= eps < 0.5 (below, ``1 - eps`` rounds to 1
    in float64 and the clipped loss of a certain mistake is infinite)."""
    y01 = check_labels01(y, "y")
    pv = check_proba(p, "p")
    check_same_length(y01, pv, "y", "p")
    eps = check_real(eps, "eps", positive=True)
    if eps >= 0.5:
        raise ValueError(f"eps must be < 0.5, got {eps}")
    if eps < 2.0**-53:
        raise ValueError(f"eps must be at least 2**-53 (1.1e-16), got {eps}: below "
                         "it 1 - eps rounds to 1 in float64, and the clipped loss "
                         "would not be finite")
    return y01, pv, eps


def labels_1d(y, name):
    """A 1-D, non-empty label array (any dtype; floats must be finite)."""
    refuse_dask(y, name)
    refuse_sparse(y, name)
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _label_kind(y):
    """"string", "number" or None (anything else) for the labels ``y`` of
    :func:`labels_1d`."""
    if y.dtype.kind in "US":
        return "string"
    if y.dtype.kind in "biuf":
        return "number"
    if y.dtype.kind == "O":
        if all(isinstance(v, str) for v in y):
            return "string"
        if all(isinstance(v, numbers.Number) for v in y):
            return "number"
    return None


def is_text(labels):
    """Whether ``labels`` (an array) are text: NumPy strings, or an object
    array of ``str`` (labels from a pandas column, as ``fastlr.load``
    restores such classes)."""
    return _label_kind(np.asarray(labels)) == "string"


def check_label_pair(y_true, y_pred, names=("y_true", "y_pred")):
    """``(yt, yp)``: two label arrays to compare (:func:`labels_1d`, the same
    length), named ``names``; labels that are strings in one and numbers in
    the other are refused, as scikit-learn's metrics do: ``"1" == 1`` is
    never true, so such a comparison would count every label as wrong."""
    yt = labels_1d(y_true, names[0])
    yp = labels_1d(y_pred, names[1])
    check_same_length(yt, yp, *names)
    kinds = (_label_kind(yt), _label_kind(yp))
    if set(kinds) == {"string", "number"}:
        raise ValueError(f"{names[0]} holds {kinds[0]}s and {names[1]} {kinds[1]}s: "
                         "labels of the two kinds never compare equal; convert "
                         "one to the other's type")
    return yt, yp


def refuse_one_class(classes, where="", name="y"):
    """Raise if the sorted distinct labels ``classes`` are one class, naming
    it as written (``0.0`` or ``'spam'``, not NumPy's ``np.float64(0.0)``);
    ``where`` is added after the label (say, "across all its blocks");
    ``name`` names the labels (a file's column, for the command line)."""
    if classes.shape[0] == 1:
        label = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        raise ValueError(f"{name} contains only one class ({label!r}){where}; "
                         "training needs two")


def single_row_classes(classes, counts, item=repr):
    """A message's phrase naming the classes of the sorted labels
    ``classes`` that have a single row (``counts``, their row counts, 1),
    abbreviated as :func:`shown` writes lists (a long-tailed problem can
    have hundreds), each as ``item`` writes it; "" when there is none.
    A class of one row cannot be both held out and trained on, nor be in
    every stratified fold."""
    single = np.asarray(classes)[np.asarray(counts) == 1]
    if single.shape[0] == 0:
        return ""
    if single.shape[0] == 1:
        return f"the class {shown(single, item=item)} has a single row"
    return f"the classes {shown(single, item=item)} have a single row"


def refuse_single_row_held_out(classes, counts, fraction):
    """The rule of ``early_stopping``'s held-out rows, in memory and on
    Dask alike, checked before any training: a class of a single row,
    which cannot be both held out and trained on, is refused (as
    scikit-learn's stratified split refuses it), naming such classes."""
    phrase = single_row_classes(classes, counts)
    if phrase:
        raise ValueError(
            f"early_stopping holds out validation_fraction={fraction} of each "
            f"class's rows and trains on the others, but {phrase}, which cannot "
            "be both held out and trained on: drop those rows or merge their "
            "classes into others, or use early_stopping=False")


def check_class_labels(y, m):
    """``(classes, y_index)``: sorted distinct labels and int64 indices.
    Float labels that are not whole numbers (a regression target passed
    by mistake) are refused (:func:`refuse_continuous`), as the estimator,
    the command line and Dask refuse them, not made a class each."""
    y = labels_1d(y, "y")
    if y.shape[0] != m:
        raise ValueError(f"y has {y.shape[0]} labels but X has {m} rows")
    refuse_continuous(y, "y")
    classes, yidx = _small_int_codes(y)
    if classes is None:
        classes, yidx = unique_labels(y, return_inverse=True)
    refuse_one_class(classes)
    return classes, yidx.astype(np.int64, copy=False).reshape(-1)


def _small_int_codes(y):
    """``np.unique(y, return_inverse=True)`` for non-negative integer labels
    below ``2 * len(y) + 1024`` (0/1, class numbers), by counting: the
    int64 codes are its only array of len(y), where ``np.unique`` sorts a
    copy and keeps a permutation (about 40 bytes a row at its peak, 5% of a
    100-feature float64 X). ``(None, None)`` for any other y."""
    if y.dtype.kind not in "iu" or y.dtype == np.uint64 or y.shape[0] == 0:
        return None, None
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= 2 * y.shape[0] + 1024:
        return None, None
    present = np.bincount(y, minlength=hi + 1) > 0
    if present.all() and y.dtype == np.int64 and y.flags.c_contiguous \
            and y.flags.writeable and y.flags.aligned:
        # labels 0..k-1 are their own codes: no array of len(y) at all (the
        # kernels only read them; an array numba types as the codes always
        # were, so no kernel compiles anew for a strided or read-only y)
        return np.arange(hi + 1, dtype=np.int64), y
    lookup = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(y.dtype), lookup[y]


def check_rows(rows, m, name="rows"):
    """The rows to train on as ``row_fold`` (m,) int8: 0 for a row trained
    on, 1 for the others; None (every row) stays None. ``rows`` is a boolean
    mask of the m rows or integer indices (each row at most once)."""
    if rows is None:
        return None
    arr = np.asarray(rows)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (a boolean mask or row indices), "
                         f"got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} selects no row")
    if arr.dtype == np.bool_:
        if arr.shape[0] != m:
            raise ValueError(f"{name} is a boolean mask of {arr.shape[0]} entries "
                             f"but X has {m} rows; they must match")
        mask = arr
    elif arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() >= m):
            raise ValueError(f"{name} holds row indices outside 0..{m - 1}")
        mask = np.zeros(m, dtype=np.bool_)
        mask[arr] = True
        if np.count_nonzero(mask) != arr.shape[0]:
            raise ValueError(f"{name} holds a row index more than once")
    else:
        raise TypeError(f"{name} must be a boolean mask or integer row indices, "
                        f"got dtype {arr.dtype}")
    if not mask.any():
        raise ValueError(f"{name} selects no row")
    return np.where(mask, 0, 1).astype(np.int8)


def check_weighted_rows(sw, row_fold, fold_ids, name, part="fold", heldout=True,
                        weights="sample_weight"):
    """Refuse a model whose training rows (``row_fold != f`` for ``f`` of
    ``fold_ids``), or, with ``heldout``, whose held-out rows (``row_fold ==
    f``) all have weight zero in ``sw`` ((m,), or empty: all ones): its
    standardization and mean loss would be 0 / 0 (NaN weights, or an
    overflow error that blames the features). ``name`` is the argument the
    error names, ``part`` what it calls a fold, ``weights`` what ``sw``
    is."""
    if row_fold is None or sw.shape[0] == 0:
        return
    for f in fold_ids:
        if not (sw[row_fold != f] > 0).any():
            raise ValueError(f"{name}: every row that {part} {f}'s models train on "
                             f"has {weights} zero; training needs a positive "
                             "weight" if heldout else
                             f"{name}: every row it selects has {weights} zero; "
                             "training needs a positive weight")
        if heldout and not (sw[row_fold == f] > 0).any():
            raise ValueError(f"{name}: every row that {part} {f} holds out has "
                             f"{weights} zero, so its held-out loss is 0 / 0")


def check_grid(values, name, upper=None):
    """A 1-D, non-empty float64 grid of finite values >= 0 (<= ``upper``)."""
    arr = _as_numeric_array(values, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of numbers, got "
                         f"the single number {arr.item()!r} (one value: "
                         f"[{arr.item()!r}])")
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of numbers, got "
                         f"shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if (arr < 0).any() or (upper is not None and (arr > upper).any()):
        bound = "in [0, 1]" if upper == 1.0 else ">= 0"
        raise ValueError(f"{name} must all be {bound}, got {arr.tolist()}")
    return arr


#: Rows of ``check_folds``'s dealing at a time.
FOLD_BLOCK_ROWS = 1 << 16

#: Folds a single pass can hold apart (each row's fold is an int8):
#: ``train_many``'s ``folds``, ``LogisticRegressionCV``'s ``cv``.
MAX_FOLDS = 127


def check_folds(folds, codes, m, classes=None):
    """``(row_fold, fold_ids)``: each row's fold (int8, 1..F) and the folds
    the models hold out, from ``folds`` (None: ``(None, [0])``, no fold);
    ``codes`` index the labels ``classes`` (None: the codes are the
    labels)."""
    if folds is None:
        return None, [0]
    if isinstance(folds, int | np.integer) and not isinstance(folds, bool):
        F = int(folds)
        counts = np.bincount(codes)
        if not 2 <= F <= MAX_FOLDS:
            # (fold codes are int8: 128 and up wrapped to negative codes, whose
            # rows every model trained on)
            raise ValueError(f"folds must be between 2 and {MAX_FOLDS}, got {F}")
        smallest = int(counts[counts > 0].min())
        if F > smallest:
            # the stratified split cannot be; fold labels need not stratify
            labels = (f"give each row's fold label instead (random folds, which "
                      f"may lack a class: folds=np.random.default_rng(0)"
                      f".permutation(len(y)) % {F})")
            if smallest == 1:
                named = np.arange(counts.shape[0]) if classes is None else classes
                raise ValueError(
                    f"folds={F} deals each class's rows to the folds in turn, "
                    f"but {single_row_classes(named, counts)}, so no number of "
                    f"such folds gives every fold each class: {labels}, or drop "
                    "those rows or merge their classes into others")
            raise ValueError(f"folds={F} is more than the smallest class has rows "
                             f"({smallest}); every fold must hold each class: use "
                             f"folds={smallest} or fewer, or {labels}")
        # each class's rows dealt to the folds in turn, in row order; a
        # block of rows at a time (a class's row indices at once cost 8
        # to 24 bytes a row, against train_many's bound of 5% of X)
        row_fold = np.empty(m, dtype=np.int8)
        dealt = np.zeros(counts.shape[0], dtype=np.int64)
        for lo in range(0, m, FOLD_BLOCK_ROWS):
            part = codes[lo:lo + FOLD_BLOCK_ROWS]
            out = row_fold[lo:lo + FOLD_BLOCK_ROWS]
            for c in np.flatnonzero(np.bincount(part, minlength=counts.shape[0])):
                where = np.flatnonzero(part == c)
                out[where] = (dealt[c] + np.arange(where.shape[0])) % F + 1
                dealt[c] += where.shape[0]
        return row_fold, list(range(1, F + 1))
    if np.ndim(folds) == 0:
        raise TypeError(f"folds must be an integer number of folds or one fold "
                        f"label per row, got {folds!r}")
    labels = labels_1d(folds, "folds")
    if labels.shape[0] != m:
        raise ValueError(f"folds has {labels.shape[0]} labels but X has {m} rows")
    values, row_fold = unique_labels(labels, "folds", return_inverse=True)
    F = values.shape[0]
    if not 2 <= F <= MAX_FOLDS:
        raise ValueError(f"folds must hold between 2 and {MAX_FOLDS} distinct "
                         f"labels, got {F}")
    # each model trains on the rows outside its fold: they need two classes
    # (as train(rows=...) and the NumPy twin require)
    k = int(codes.max()) + 1
    per_fold = np.bincount(row_fold * k + codes, minlength=F * k).reshape(F, k)
    outside = per_fold.sum(axis=0) - per_fold
    for f in range(F):
        if np.count_nonzero(outside[f]) < 2:
            raise ValueError(f"folds: the rows outside fold {values[f].item()!r}, "
                             "which its models train on, hold a single class; "
                             "training needs at least two")
    return (row_fold + 1).astype(np.int8), list(range(1, F + 1))


def is_dask(a):
    """Whether ``a`` is a Dask collection (array, DataFrame, Series), told
    by its type's module: dask is not imported for anything else."""
    return type(a).__module__.split(".")[0] in ("dask", "dask_expr")
