"""Reading data files into ``(X, y)``: .npy, .npz, CSV and svmlight/libsvm.

Formats (chosen from the file name's extension, or given explicitly):

``csv`` (``.csv``)
    Text with a header line of column names; one row per line, fields
    separated by ``delimiter`` (default ``,``), optionally double-quoted.
    Every column but the target must be numeric. The target column is chosen
    by name or by index (``target``, default: the last column); its values
    may be numbers or strings. A column (``target``, ``drop``) is given by
    name, ``Unnamed: J`` naming the column without a name at index J (as
    pandas names it), or by index from 0 (an int; or a string of one, which
    is refused when it names another column); a column without a name is
    never a feature of a new model, nor stands for a model's named feature.
    A field is a number as NumPy's ``loadtxt``
    reads one: in ASCII, without PEP 515 digit groups (``1_0`` and ``١٢``
    are text, as pandas keeps them, though ``float()`` takes them), and
    without one of the control characters \\x1c-\\x1f around it (loadtxt
    strips them as spaces, ``float()`` refuses them), read whole or in
    parts. A first line of numbers only is a row of data, not a header, and is
    refused (a file without a header would lose its first row), unless it
    is ``0,1,...,k-1``, the column numbers pandas writes for a DataFrame
    without column names, and ``target`` names one of them as a string
    (``"3"``), or a model's target or feature names are among them. With
    pandas 3.1 or later installed (it is not required), the numbers of a CSV
    of 8 MB or more (any, once pandas is imported; in blocks of a million
    characters or more) are parsed by pandas' C parser, about twice as
    fast, to the same bits, rows and errors.
``npy`` (``.npy``)
    One 2-D numeric array; the target is a column of it, chosen by index
    (default: the last).
``npz`` (``.npz``)
    An archive with a 2-D array ``X`` and a 1-D array ``y`` (or the array
    named by ``target``); labels may be numbers or strings.
``svmlight`` (``.svm``, ``.svmlight``, ``.libsvm``)
    ``label index:value index:value ...`` lines (read with scikit-learn's
    :func:`~sklearn.datasets.load_svmlight_file`), tokens split at ASCII
    whitespace; an index is a decimal integer (``+`` allowed, not ``1_0``
    or ``-0``), sorted and unique on its line, and an optional ``qid:``
    right after the label a non-negative integer, whether the file is read
    whole or in parts, for a model or not. X stays sparse: a
    ``scipy.sparse.csr_matrix`` of float64 in canonical form (sorted indices,
    no duplicates, no stored zeros), never densified, so files with millions
    of features (text, click logs) read in memory proportional to their
    non-zeros. fastlr trains and predicts on it directly.

Every other format gives X as a dense, C-contiguous ndarray (but an .npy
table's memory-mapped features read with ``read_dataset(copy=False)``).

Numeric labels that are all whole numbers are returned as int64 (so ``1.0``
and ``1`` are the same class). Every file is read without pickle. A
compressed file (gzip, bzip2, xz, zstd, zip; .npz archives aside) is
refused, by its extension or, with the format given, by its first bytes,
naming the command that decompresses it. Problems
raise :class:`DataError`, a ``ValueError`` whose message names the file and,
for text formats, the line. Only regular files are read: a device, FIFO or
socket (``/dev/zero``, ``/dev/stdin``, a named pipe) is refused before it is
opened, since it may never end or block forever.
"""

import collections
import collections.abc
import contextlib
import contextvars
import csv
import functools
import io
import itertools
import math
import operator
import os
import re
import shlex
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from io import StringIO, TextIOWrapper

import numpy as np

from . import _npy
from ._files import check_regular, open_regular
from ._process import Held
from ._validation import float_dtype_of, listed, shown

__all__ = ["FORMATS", "DataError", "Dataset", "FeatureMismatchError",
           "MappedTable", "NumberedNames", "detect_format", "feature_columns",
           "iter_chunks", "map_npy", "npy_layout", "open_chunks", "read_column",
           "read_dataset", "read_header", "read_xy", "svmlight_features"]

#: File extension -> format name.
FORMATS = {
    ".npy": "npy",
    ".npz": "npz",
    ".csv": "csv",
    ".svm": "svmlight",
    ".svmlight": "svmlight",
    ".libsvm": "svmlight",
}

_FORMAT_NAMES = ("csv", "npy", "npz", "svmlight")

#: Compressed files, which fastlr does not read: (extension, a pattern of
#: the bytes the file starts with (bzip2's: ``BZh``, a block size and a
#: block's or the end's magic, not a Latin-1 CSV's header ``BZh...``), the
#: compression's name, the command that decompresses
#: FILE named with the extension, keeping it, and the command that
#: decompresses FILE of another name to OUT). :func:`detect_format` finds
#: one by its name, the CSV and svmlight readers by its first bytes.
_COMPRESSED = (
    (".gz", re.compile(re.escape(b"\x1f\x8b")), "gzip", "gunzip -k {file}",
     "gunzip -c {file} > {out}"),
    (".bz2", re.compile(b"BZh[1-9](?:1AY&SY|\x17rE8P\x90)"), "bzip2",
     "bunzip2 -k {file}", "bunzip2 -c {file} > {out}"),
    (".xz", re.compile(re.escape(b"\xfd7zXZ\x00")), "xz", "xz -dk {file}",
     "xz -dc {file} > {out}"),
    (".zst", re.compile(re.escape(b"\x28\xb5\x2f\xfd")), "zstd", "zstd -d {file}",
     "zstd -dc {file} > {out}"),
    (".zip", re.compile(re.escape(b"PK\x03\x04")), "zip", "unzip {file}",
     "unzip -p {file} > {out}"),
)

#: Bytes a block of CSV lines may hold to be parsed by ``np.loadtxt``
#: (:func:`_csv_blocks`): printable ASCII but the quote, tabs and line
#: breaks. Without a quote each line is a row, split at each delimiter as
#: the csv module splits it; in ASCII loadtxt takes as numbers what the
#: exact reader takes, with the same bits (checked on 400,000 random
#: fields), but for a number between the control characters \x1c-\x1f,
#: which it strips as whitespace and ``float()`` refuses.
_LOADTXT_SAFE = bytes(range(0x20, 0x7f)).replace(b'"', b"") + b"\t\n\r"

#: The control characters \x1c-\x1f, which ``np.loadtxt`` strips around a
#: number as whitespace where ``float()`` (and so the exact reader) refuses
#: the field: a file holding one is not parsed in C as a whole
#: (:func:`_c_parse`), as a block holding one is not (:data:`_LOADTXT_SAFE`),
#: so a number next to one is refused, naming its line and column, whether
#: the file is read whole or in parts.
_LOADTXT_SPACES = (b"\x1c", b"\x1d", b"\x1e", b"\x1f")

#: CSV files from this many bytes have their numbers parsed by pandas' C
#: parser when pandas 3.1 or later is installed (:func:`_c_parse`; a whole
#: read of 185 MB took 2.0 s, 4.3 s with ``np.loadtxt``), smaller ones by
#: ``np.loadtxt`` unless pandas is imported already: importing it takes
#: about 0.5 s. None: never.
_PANDAS_FROM = 8 << 20

#: Characters of text a block of a CSV read in parts holds, at least, for
#: pandas to parse it (:func:`_c_parse`).
_PANDAS_BLOCK = 1 << 20

#: Whether importing pandas failed otherwise than by its absence.
_pandas_broken = False

#: Fields pandas parses at a time (:func:`_pandas_parse`): its buffers
#: for them are held next to the table they are copied into.
_PANDAS_FIELDS = 1 << 20

#: Rows of more fields are parsed by ``np.loadtxt`` (:func:`_pandas_parse`):
#: pandas' work per column and part outweighs its faster parsing (10,000
#: columns took 10 s where loadtxt takes 8; 1,000 columns 1.1 s for 1.8).
_PANDAS_WIDTH = 2048

#: Letters of pandas' booleans (True, false, ...), which no finite number has.
_BOOLEAN_LETTERS = "tTfF"

#: Lines the csv module reads as an empty row.
_BLANK_LINES = frozenset(("\n", "\r\n", "\r"))

#: Rows converted to floats at a time by the exact CSV reader.
_CHUNK_ROWS = 65536

#: Fields of a block of the exact CSV reader (see :func:`_csv_exact`).
_EXACT_FIELDS = 1 << 18


class DataError(ValueError):
    """A data file cannot be read or does not fit; names the file and line.

    Attributes
    ----------
    path : str
    line : int or None
        1-based line number in a text file, when the problem has one.
    """

    def __init__(self, path, message, line=None):
        self.path = os.fspath(path)
        self.line = line
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {message}")


class FeatureMismatchError(DataError):
    """The data has a different number (or set) of features than the model.

    Attributes
    ----------
    n_found : int or None
        The number of features (or feature columns) the file has: for an
        svmlight file read in parts, the whole file's, as a whole read finds.
    """

    def __init__(self, path, message, line=None, n_found=None):
        super().__init__(path, message, line=line)
        self.n_found = n_found


class NumberedNames(collections.abc.Sequence):
    """The feature names ``x0, x1, ..., x{n-1}`` of a file without a
    header, each made when asked for: an svmlight file of two lines may
    name feature 2**31 - 1, and a list of its names would take 100 GB
    where the file's entries take bytes."""

    def __init__(self, n):
        self.n = int(n)

    def __len__(self):
        return self.n

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [f"x{i}" for i in range(*j.indices(self.n))]
        j = operator.index(j)
        if not -self.n <= j < self.n:
            raise IndexError(f"feature {j} of {self.n}")
        return f"x{j % self.n}"

    def __eq__(self, other):
        if isinstance(other, NumberedNames):
            return self.n == other.n
        return NotImplemented

    def __repr__(self):
        return f"NumberedNames({self.n})"


@dataclass
class Dataset:
    """What :func:`read_dataset` returns.

    Attributes
    ----------
    X : ndarray or scipy.sparse.csr_matrix of shape (m, n)
        float64, or float32 when an .npy/.npz file stores float32; for
        svmlight a canonical float64 CSR matrix (never densified); a
        read-only view of an .npy file with ``read_dataset(copy=False)``.
    y : ndarray of shape (m,) or None
        The labels, or None when the file has no target.
    feature_names : list of str or NumberedNames
        Column names for CSV; ``x0, x1, ...`` otherwise: a list, but for
        svmlight a :class:`NumberedNames`, a read-only sequence that makes
        each name when asked for (a file may name feature 2**31 - 1); take
        ``list(feature_names)`` for a list (to extend it, or for JSON).
    target : str or int or None
        The target column's name (CSV), index (.npy) or array name (.npz);
        None for svmlight or when there is no target.
    format : str
        One of ``"csv"``, ``"npy"``, ``"npz"``, ``"svmlight"``.
    zero_based : bool or None
        svmlight only: whether feature indices start at 0.
    """

    X: object  # ndarray, or scipy.sparse.csr_matrix for svmlight
    y: np.ndarray | None
    feature_names: list   # or NumberedNames (svmlight)
    target: object
    format: str
    zero_based: bool | None = None


def _open_spec(path, fmt, target, drop, text_labels=False):
    """``(fmt, path, spec)``: the format checked (or detected from the
    name), the path checked to be an existing file, and the columns' spec
    of :func:`iter_chunks` and :func:`feature_columns`."""
    fmt, path = _format_and_file(path, fmt)
    return fmt, path, _Spec(path, target, "required", None, None, None,
                            _drops(path, fmt, drop), text_labels=bool(text_labels))


def _format_and_file(path, fmt):
    """``(fmt, path)``: :func:`_format_of`, then ``path`` checked by
    :func:`_existing_file`."""
    fmt = _format_of(path, fmt)
    return fmt, _existing_file(path)


def _format_of(path, fmt=None):
    """``fmt`` checked, or detected from the name of ``path``; when the
    name tells nothing, a missing path or a directory is refused as such
    (``FileNotFoundError``, ``IsADirectoryError``), not for its extension."""
    if fmt is not None:
        if fmt not in _FORMAT_NAMES:
            raise ValueError(f"fmt must be one of {_FORMAT_NAMES}, got {fmt!r}")
        return fmt
    try:
        return detect_format(path)
    except DataError:
        _existing_file(path)
        raise


#: How an error names the format of a file whose extension does not tell
#: it, by extension (None: any other).
_NAME_FORMAT = {
    ".tsv": "a .tsv file is CSV with tabs between its fields: read it with "
            "fmt='csv', delimiter='\\t' (--format csv --delimiter tab on the "
            "command line)",
    ".txt": "if it is CSV, read it with fmt='csv' (--format csv on the command "
            "line, with --delimiter tab if tabs separate its fields)",
    None: "name the format explicitly: fmt='csv', 'npy', 'npz' or 'svmlight' "
          "(--format csv, npy, npz or svmlight on the command line)",
}
_NAME_FORMAT[".tab"] = _NAME_FORMAT[".tsv"]
_NAME_FORMAT[".dat"] = _NAME_FORMAT[".data"] = _NAME_FORMAT[""] = _NAME_FORMAT[".txt"]


def detect_format(path):
    """The format name for ``path`` from its extension.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        Only its extension is read (case-insensitive), not the file; but
        for the error's hint, when the extension tells nothing: a file
        whose first line that holds data looks like svmlight (``label
        index:value ...``, as LIBSVM's ``a9a`` or ``usps``) is told to be
        read with ``fmt='svmlight'``.

    Returns
    -------
    {"csv", "npy", "npz", "svmlight"}

    Raises
    ------
    DataError
        For an extension fastlr does not know.
    """
    ext = os.path.splitext(os.fsdecode(path))[1].lower()   # str or bytes paths
    for entry in _COMPRESSED:
        if ext == entry[0]:
            raise _compressed(path, entry, ext)
    if ext not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        hint = _SVMLIGHT_HINT if _looks_svmlight(path) else \
            _NAME_FORMAT.get(ext, _NAME_FORMAT[None])
        raise DataError(path, f"cannot tell the format from the extension "
                        f"{ext or '(none)'!r} (known: {known}); {hint}")
    return FORMATS[ext]


#: The hint of :func:`detect_format` for a file that looks like svmlight.
_SVMLIGHT_HINT = ("its first line looks like svmlight/libsvm (label "
                  "index:value ...): read it with fmt='svmlight' (--format "
                  "svmlight on the command line)")

#: Bytes of a file :func:`_looks_svmlight` reads, at most.
_SNIFF_BYTES = 1 << 16


def _looks_svmlight(path):
    """Whether the first line of the file ``path`` that holds data (within
    its first :data:`_SNIFF_BYTES` bytes) is an svmlight line with a
    feature: only for an error's hint (a file that cannot be read, or is
    not a regular file, does not)."""
    try:
        with open_regular(path, DataError) as f:
            head = f.read(_SNIFF_BYTES)
    except (OSError, DataError):
        return False
    for raw in head.splitlines():
        if _holds_sample(raw):
            return b":" in raw.split(b"#", 1)[0] and \
                _svmlight_line_problem(raw) is None
    return False



def _compressed(path, entry, what):
    """The DataError for the compressed file ``path`` (``entry`` of
    :data:`_COMPRESSED`; ``what`` the extension or the kind of data that
    tells it), naming the command that decompresses it."""
    ext, _, _, keep, to = entry
    name = os.fsdecode(path)
    root, own = os.path.splitext(name)
    if own.lower() == ext:
        command = keep.format(file=shlex.quote(name))
    else:
        out = f"{root}_plain{own}"
        command = to.format(file=shlex.quote(name), out=shlex.quote(out))
    npz = " (and .npz archives)" if what == ext else ""
    return DataError(path, f"is compressed ({what}); fastlr reads plain "
                     f"files{npz}: decompress it first: {command}")


def _compressed_data(path, head):
    """:func:`_compressed` when ``head``, the first bytes of the file
    ``path``, are those of a compressed file (an .npz archive's zip aside),
    else None."""
    for entry in _COMPRESSED:
        if entry[1].match(head) and not (
                entry[0] == ".zip" and os.fsdecode(path).lower().endswith(".npz")):
            return _compressed(path, entry, f"{entry[2]} data")
    return None


def read_xy(path, target=None, *, fmt=None, delimiter=",", n_features=None):
    """Read a labelled data file into ``(X, y)``.

    Parameters
    ----------
    path : str or os.PathLike
    target : str or int or None
        CSV: the target column's name or index; .npy: its index; .npz: the
        labels array's name. Default: the last column, or ``"y"`` for .npz.
        Not used for svmlight (the label is each line's first field).
    fmt : {"csv", "npy", "npz", "svmlight"} or None
        None: from the extension (see :data:`FORMATS`).
    delimiter : str
        CSV field separator.
    n_features : int or None
        The number of features, as scikit-learn's
        ``load_svmlight_file(n_features=)`` takes it: an svmlight file is
        read this many features wide (for a training and a test file with
        different largest indices, read both at the wider width), and an
        index beyond it raises :class:`FeatureMismatchError`; a CSV, .npy
        or .npz file must have this many feature columns. None: the file's.

    Returns
    -------
    X : ndarray or scipy.sparse.csr_matrix of shape (m, n)
        Dense for .csv, .npy and .npz; for svmlight a float64 CSR matrix
        with sorted indices and no duplicates (never densified).
    y : ndarray of shape (m,)

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        If ``path`` does not exist, is a directory or cannot be read.
    DataError
        For a malformed file (with the line number for text), an unknown
        target column, non-finite values, or an empty file; also for a path
        that is not a regular file after following links (a device such as
        ``/dev/zero``, a FIFO, a socket), refused before it is opened.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastlr.io import read_xy
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "toy.csv")
    ...     with open(path, "w") as f:
    ...         _ = f.write("height,weight,species\\n1.0,2.5,cat\\n3.0,4.5,dog\\n")
    ...     X, y = read_xy(path, target="species")
    >>> X.tolist(), y.tolist()
    ([[1.0, 2.5], [3.0, 4.5]], ['cat', 'dog'])
    """
    with _n_features_given():
        data = read_dataset(path, target=target, fmt=fmt, delimiter=delimiter,
                            n_features=n_features)
    return data.X, data.y


def read_dataset(path, *, target=None, fmt=None, delimiter=",", labels="required",
                 n_features=None, feature_names=None, model_target=None,
                 zero_based=None, drop=None, text_labels=False,
                 unseen_features="raise", copy=True):
    """Read a data file, for training (labels required) or for a model.

    Parameters
    ----------
    path : str or os.PathLike
    target, fmt, delimiter
        As in :func:`read_xy`.
    labels : {"required", "optional", "ignore"}
        ``"required"`` (training, evaluation): the file must have a target.
        ``"optional"``: the target is used when the file has one; otherwise
        every column is a feature. ``"ignore"`` (prediction): the target
        column is found as with ``"optional"`` but not parsed (a label
        may be blank or NaN), and ``y`` is None; svmlight labels, which
        lead each line, are still parsed.
    n_features : int or None
        The model's number of features. When given, a CSV, .npy or .npz
        file with another number of feature columns raises
        :class:`FeatureMismatchError`; an svmlight file is read this many
        features wide, as scikit-learn's ``load_svmlight_file(n_features=)``
        reads it (a file whose largest index is smaller has its trailing
        features all zero), and an index beyond it raises
        :class:`FeatureMismatchError` unless ``unseen_features="ignore"``.
    feature_names : list of str or None
        The model's feature (CSV column) names: when every one of them is in
        a CSV header, the features are taken by name, in the model's order
        (among the named columns: one without a name is then an extra
        column, unless dropped; it stands only for a feature named ``''``,
        and only as the header's one unnamed column).
    model_target : str or int or None
        The target column the model was trained with; with ``labels=
        "optional"`` and no ``target``, it is the target if the file has it.
    zero_based : bool or None
        svmlight: whether indices start at 0; None detects it as
        scikit-learn does (zero-based if any index is 0). A test file with
        no entry at index 0 is then read as 1-based even when its training
        file was 0-based: pass the training read's ``Dataset.zero_based``.
    drop : list of str or int, optional
        Columns that are neither features nor the target (IDs, free text):
        CSV column names or indices, .npy column indices. Their values are
        not parsed, so they may hold anything. Not available for .npz and
        svmlight files, which have no such columns.
    text_labels : bool, default False
        CSV: keep the labels as the file's text instead of parsing them as
        numbers when every one is a number: for a model whose classes are
        text (``"007"`` is not ``7``). Other formats store typed labels.
    unseen_features : {"raise", "ignore"}, default "raise"
        svmlight with ``n_features``: what an entry at a feature index
        beyond ``n_features`` does. ``"raise"``: raises
        :class:`FeatureMismatchError`. ``"ignore"``: the entry is left out,
        as LIBSVM's ``svm-predict`` leaves it out, with one ``UserWarning``
        saying how many entries (and rows) were; for a model trained on an
        svmlight file, whose training file had no such feature, this is
        exact: the model's weight for it would be 0 (training on the file
        read wider gives the same model, with zero weights there). Not for
        a model trained on other data, whose features beyond the file's
        may be real ones.
    copy : bool, default True
        False: the features of a float32 or float64 .npy table (in this
        machine's byte order) that are all of its columns, or a run or
        evenly spaced ones of them, are X as a read-only view of the
        memory-mapped file, not copied: C-contiguous only when they are the
        whole table. A Fortran-ordered table is copied to C order as with
        True (prediction sums a row's terms in another order on Fortran X:
        its last bits would differ from the same rows read in parts, or
        from the table saved in C order). For reading the features once, as
        prediction does: the file's pages stay the operating system's
        cache. The file must then stay as it is while X is used (cut
        shorter, the process is ended with a bus error). Other data is read
        as with True.

    Returns
    -------
    Dataset
    """
    if labels not in ("required", "optional", "ignore"):
        raise ValueError(f"labels must be 'required', 'optional' or 'ignore', got "
                         f"{labels!r}")
    ignore = labels == "ignore"
    labels = "optional" if ignore else labels
    _check_width(n_features, unseen_features)
    fmt, path = _format_and_file(path, fmt)
    spec = _Spec(path, target, labels, n_features, feature_names, model_target,
                 _drops(path, fmt, drop), ignore, bool(text_labels),
                 unseen_features)
    if fmt == "csv":
        _check_delimiter(delimiter)
        data = _read_csv(spec, delimiter)
    elif fmt == "npy":
        data = _read_npy(spec, copy)
    elif fmt == "npz":
        data = _read_npz(spec)
    else:
        data = _read_svmlight(spec, zero_based)
    if data.X.shape[0] == 0:
        raise DataError(path, "no data rows")
    if ignore:
        data.y = None
    if data.y is not None:
        data.y = _tidy_labels(path, data.y)
    return data


def _check_width(n_features, unseen_features):
    if n_features is not None and (isinstance(n_features, bool) or not isinstance(
            n_features, int | np.integer) or n_features < 1):
        raise ValueError(f"n_features must be an integer >= 1 or None, got "
                         f"{n_features!r}")
    if unseen_features not in ("raise", "ignore"):
        raise ValueError(f"unseen_features must be 'raise' or 'ignore', got "
                         f"{unseen_features!r}")


def _drops(path, fmt, drop):
    """``drop`` as a tuple; only csv and npy files have columns to drop."""
    drop = tuple(drop or ())
    if drop and fmt in ("npz", "svmlight"):
        raise DataError(path, f"{fmt} files have no columns to drop (drop="
                        f"{list(drop)!r}); only csv and npy files do")
    return drop


def _existing_file(path):
    """``path`` as a str if it is a regular file (links followed).

    Devices, FIFOs and sockets are refused before anything opens them:
    ``/dev/zero`` never ends and a FIFO blocks ``open()`` until a writer
    comes. Every later open goes through :func:`_open_binary` or
    :func:`_open_text`, which check again what they opened.
    """
    return check_regular(path, DataError)


def _open_binary(path):
    return open_regular(path, DataError)


def _check_delimiter(delimiter):
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be a single character, got {delimiter!r}")
    if delimiter in "\"\r\n":
        raise ValueError(f"delimiter must not be the quote character or a line "
                         f"break, got {delimiter!r}")


def read_header(path, delimiter=","):
    """The column names of a CSV file: its first non-blank line, stripped.

    Parameters
    ----------
    path : str or os.PathLike
    delimiter : str, default ","
        One character.

    Returns
    -------
    list of str

    Raises
    ------
    FileNotFoundError, IsADirectoryError
    DataError
        For an empty file, text that is not UTF-8 or a malformed header.
    """
    _check_delimiter(delimiter)
    return _read_header(_existing_file(path), delimiter)[0]


def read_column(path, column, *, fmt=None, delimiter=",", max_rows=None):
    """The values of one column of a data file, one per data row, in the
    order :func:`read_dataset` returns the rows (e.g. an ID column to carry
    next to predictions).

    Parameters
    ----------
    path : str or os.PathLike
    column : str or int
        CSV: a column name or index; .npy: a column index; .npz: the name of
        a 1-D array with one entry per row of ``X``.
    fmt, delimiter
        As in :func:`read_xy`.
    max_rows : int or None
        Read at most the first ``max_rows`` data rows (as ``np.loadtxt``'s
        ``max_rows``); None: all of them.

    Returns
    -------
    ndarray of shape (m,) (at most ``max_rows``)
        CSV: the fields as text (``str``), stripped, unparsed; .npy/.npz:
        the stored values.

    Raises
    ------
    DataError
        For an unknown column, a row with another number of fields than the
        header (with its line), or an svmlight file (it has no columns).
    """
    fmt, path = _format_and_file(path, fmt)
    if max_rows is not None:
        max_rows = operator.index(max_rows)
        if max_rows < 0:
            raise ValueError(f"max_rows must be None or >= 0, got {max_rows}")
    spec = _Spec(path, None, "optional", None, None, None)
    if fmt == "svmlight":
        raise DataError(path, "svmlight files have no columns besides the "
                        "features and the label")
    if fmt == "npz":
        with _open_binary(path) as f, _np_load(path, "npz", f) as npz:
            if str(column) not in npz.files or str(column) == "X":
                raise DataError(path, f"has no 1-D array {str(column)!r} besides "
                                f"X (it has: {_shown(npz.files)})")
            try:
                _npz_member_layout(path, npz, str(column))
                values = npz[str(column)]
                # X's rows from its header alone (reading X inflated all of it)
                m = None
                if "X" in npz.files:
                    shape = _npz_member_layout(path, npz, "X")
                    m = shape[0] if len(shape) == 2 else None
            except DataError:
                raise
            except ValueError as exc:
                raise _np_error(path, exc) from None
            except _DAMAGED as exc:
                raise _damaged(path, "npz", exc) from None
        if values.ndim != 1 or (m is not None and values.shape[0] != m):
            raise DataError(path, f"array {str(column)!r} must be 1-D with one "
                            f"entry per row of X, got shape {values.shape}")
        return values[:max_rows]
    if fmt == "npy":
        table = _npy_table(path)
        header = [f"x{j}" for j in range(table.shape[1])]
        return table[:max_rows, _column_index(spec.path, header, column)].copy()
    _check_delimiter(delimiter)
    header, _ = _read_header(path, delimiter)
    j = _column_index(spec.path, header, column)
    values = []
    reader = None
    try:
        with _csv_rows(path, delimiter) as reader:
            header_seen = False
            for row in reader:
                if max_rows is not None and len(values) >= max_rows:
                    break
                if not header_seen:  # the same rows as _csv_blocks skips
                    header_seen = bool(row and any(c.strip() for c in row))
                    continue
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(path, f"expected {len(header)} fields (as in "
                                    f"the header), got {len(row)}",
                                    line=reader.line_num)
                values.append(row[j].strip())
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None else None
        raise DataError(path, f"malformed CSV ({exc})", line=line) from None
    return np.array(values, dtype=str)


def iter_chunks(path, chunk_rows=65536, *, target=None, fmt=None, delimiter=",",
                n_features=None, zero_based=None, drop=None, text_labels=False,
                unseen_features="raise", feature_names=None):
    """Yield ``(X, y)`` chunks of a labelled data file, in file order.

    Out-of-core companion of :func:`read_xy`: at most ``chunk_rows`` rows are
    in memory at a time (plus one text line, or for svmlight the lines of one
    chunk), whatever the file's size, so ``partial_fit`` over the chunks
    trains on files larger than memory::

        clf = fastlr.LogisticRegression(...)
        for X, y in iter_chunks("big.csv", 100_000, target="label"):
            clf.partial_fit(X, y, classes=[0, 1])

    Concatenating the chunks gives what :func:`read_xy` returns, except that
    CSV labels are typed per chunk (numbers when all of a chunk's labels are)
    and svmlight chunks are as wide as ``n_features`` (or the whole file's
    widest row). An .npy array stored in Fortran (column) order is read a
    column's run of rows at a time (its rows are not contiguous in the
    file): slower for many columns than one in C order.

    Parameters
    ----------
    path : str or os.PathLike
    chunk_rows : int, default 65536
        Rows per chunk (the last one may be shorter).
    target, fmt, delimiter
        As in :func:`read_xy`.
    n_features : int or None
        The number of features, as a model's: svmlight chunks are that many
        features wide (after the index base is applied), and a wider row, or
        a CSV or .npy file with another number of feature columns, raises
        :class:`FeatureMismatchError`. None: svmlight scans the file once
        first (constant memory) to find it.
    zero_based : bool or None
        svmlight: whether indices start at 0; None detects it in that scan.
    drop : list of str or int, optional
        Columns that are neither features nor the target, as in
        :func:`read_dataset` (CSV names or indices, .npy indices); never
        parsed.
    text_labels : bool, default False
        As in :func:`read_dataset`.
    unseen_features : {"raise", "ignore"}, default "raise"
        As in :func:`read_dataset`: with ``"ignore"``, the entries of
        svmlight rows beyond ``n_features`` are left out, and the one
        warning, with the counts of the whole file, comes after the last
        chunk.
    feature_names : list of str, optional
        As in :func:`read_dataset` (a model's ``feature_names_in_``: when a
        CSV header has them all, the features are taken by name, in this
        order, wherever their columns are).

    Yields
    ------
    X : ndarray or scipy.sparse.csr_matrix of shape (rows, n)
        float64 (float32 when an .npy file stores float32), C-contiguous;
        for svmlight a canonical float64 CSR matrix, every chunk ``n``
        columns wide (``scipy.sparse.vstack`` joins them).
    y : ndarray of shape (rows,)

    Raises
    ------
    DataError
        As :func:`read_xy`, with the file name and the line (text) or row
        (.npy) of the problem; raised when the chunk holding it is read (a
        path that is not a regular file: when the first chunk is asked for).

    Notes
    -----
    ``.npy`` files are read with plain file reads at the chunk's offset (no
    memory map, whose touched pages would count against the process). An
    ``.npz`` archive's members cannot be read in parts: they are loaded
    whole and then cut into chunks; use ``.npy`` for data larger than
    memory.
    """
    with _n_features_given():
        _, parts = open_chunks(path, chunk_rows, target=target, fmt=fmt,
                               delimiter=delimiter, n_features=n_features,
                               zero_based=zero_based, drop=drop,
                               text_labels=text_labels,
                               unseen_features=unseen_features,
                               feature_names=feature_names)
    for X, y, _ in parts:
        yield X, y


def open_chunks(path, chunk_rows, *, target=None, fmt=None, delimiter=",",
                labels="required", n_features=None, feature_names=None,
                model_target=None, zero_based=None, drop=None, text_labels=False,
                keep=None, unseen_features="raise"):
    """:func:`read_dataset` of a file read in parts: ``(dataset, parts)``.

    ``dataset`` is the :class:`Dataset` a read of the whole file with the
    same arguments gives, without its rows (``X`` and ``y`` None): which
    columns are the features, the target, the index base. ``parts`` yields
    ``(X, y, kept)`` of at most ``chunk_rows`` rows each, in file order, as
    :func:`iter_chunks` yields ``(X, y)`` (``y`` None with ``labels=
    "ignore"``); ``kept`` holds the values of column ``keep`` (a CSV or
    .npy column that is not a feature: one of ``drop``) for those rows, as
    :func:`read_column` reads them, or is None. The columns are chosen (and a bad choice
    raised) now; a problem in the rows is raised when its part is read.
    The arguments are :func:`read_dataset`'s; with ``n_features``, an
    svmlight file is read that many features wide, and a wider row is a
    :class:`FeatureMismatchError` (naming the whole file's width, as a whole
    read does), or with ``unseen_features="ignore"`` has its entries beyond
    it left out (one warning, after the last part, counts them).
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int | np.integer) \
            or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
    chunk_rows = int(chunk_rows)
    if labels not in ("required", "optional", "ignore"):
        raise ValueError(f"labels must be 'required', 'optional' or 'ignore', got "
                         f"{labels!r}")
    ignore = labels == "ignore"
    _check_width(n_features, unseen_features)
    fmt, path = _format_and_file(path, fmt)
    spec = _Spec(path, target, "optional" if ignore else labels, n_features,
                 feature_names, model_target, _drops(path, fmt, drop), ignore,
                 bool(text_labels), unseen_features)
    if keep is not None and fmt not in ("csv", "npy"):
        raise ValueError(f"keep: {fmt} files have no columns besides the "
                         "features and the labels")
    if fmt == "csv":
        _check_delimiter(delimiter)
        dataset, parts = _csv_chunks(spec, delimiter, chunk_rows, keep)
    elif fmt == "npy":
        dataset, parts = _npy_chunks(spec, chunk_rows, keep)
    elif fmt == "npz":
        data = _read_npz(spec)
        y = None if data.y is None or ignore else _tidy_labels(path, data.y)
        parts = ((data.X[i:i + chunk_rows], None if y is None else
                  y[i:i + chunk_rows], None)
                 for i in range(0, data.X.shape[0], chunk_rows))
        dataset = Dataset(None, None, data.feature_names, data.target, "npz")
    else:
        dataset, parts = _svmlight_chunks(spec, chunk_rows, zero_based)
    return dataset, _not_empty(path, parts, fmt)


def _not_empty(path, parts, fmt):
    empty = True
    for part in parts:
        empty = False
        yield part
    if empty:   # (as a whole read says it)
        raise DataError(path, "has a header but no data rows" if fmt == "csv"
                        else "no data rows")


def svmlight_features(path, zero_based=None, required=True):
    """``(n_features, zero_based)`` of an svmlight file, as
    :func:`read_dataset` and :func:`iter_chunks` find them: zero-based when
    some index is 0 (unless ``zero_based`` says, as a model trained on
    another file does), as many features as the largest index needs. One
    pass in constant memory; every line is checked (errors name it). A file
    without a single feature is a DataError, as a whole read of it is,
    unless not ``required`` (its width comes from a model: 1 is returned).

    Parameters
    ----------
    path : str or os.PathLike
    zero_based : bool or None, default None
        Whether the indices start at 0; None: when some index is 0.
    required : bool, default True
        Whether a file without a feature is refused.

    Returns
    -------
    (int, bool)
        ``(n_features, zero_based)``.
    """
    path = _existing_file(path)
    hi, lo = _svmlight_scan(path)
    if hi < 0 and required:
        raise _featureless(path)
    if zero_based is None:
        zero_based = lo == 0
    return max(hi + (1 if zero_based else 0), 1), bool(zero_based)


def feature_columns(path, *, target=None, fmt=None, delimiter=",", drop=None):
    """``(feature_names, target)`` of a labelled data file, as
    :func:`read_dataset` (and :func:`iter_chunks`) select them, without
    reading the data: the CSV header, or the shape in an .npy header
    (``x0, x1, ...``), or for svmlight one scan for the largest index
    (:func:`svmlight_features`). ``target`` as :class:`Dataset` has it (a
    CSV column name, an .npy index, None for svmlight).

    Parameters
    ----------
    path : str or os.PathLike
    target, fmt, delimiter, drop
        As in :func:`read_dataset`.

    Returns
    -------
    feature_names : list of str or NumberedNames
        A :class:`NumberedNames` for svmlight.
    target : str, int or None
    """
    fmt, path, spec = _open_spec(path, fmt, target, drop)
    if fmt == "svmlight":
        if target is not None:
            raise DataError(path, "svmlight files have no target column to "
                            "choose: the label is the first field of each line")
        n, _ = svmlight_features(path)
        return NumberedNames(n), None
    if fmt == "npz":
        raise DataError(path, ".npz archives are read whole; their features "
                        "are the columns of X")
    if fmt == "csv":
        _check_delimiter(delimiter)
        header, header_line = _read_header(path, delimiter)
        _refuse_number_header(spec, header, header_line)
        feats, t = _select(spec, header)
        return [header[j] for j in feats], header[t]
    with _open_binary(path) as f:
        shape = _npy_2d_layout(path, f)[0]
    _refuse_no_rows(path, shape)
    header = [f"x{j}" for j in range(shape[1])]
    _check_npy_target(spec)
    feats, t = _select(spec, header)
    return [header[j] for j in feats], t


@dataclass
class MappedTable:
    """What :func:`map_npy` returns.

    Attributes
    ----------
    table : numpy.memmap of shape (m, k)
        The whole array, read-only, float32 or float64, C order: features,
        target and dropped columns as stored.
    features : list of int
        The feature columns.
    target : int
    y : ndarray of shape (m,)
        The labels (a copy of the target column, tidied as
        :func:`read_dataset` does).
    feature_names : list of str
        ``x0, x1, ...`` of the feature columns.
    """

    table: np.ndarray
    features: list
    target: int
    y: np.ndarray
    feature_names: list


def map_npy(path, *, target=None, drop=None):
    """Memory-map a labelled .npy table instead of reading it.

    For training on a file larger than memory: nothing is copied but the
    labels (one column). The operating system pages the table in as it is
    read and may drop the pages again, so they do not count against the
    process's own (anonymous) memory.

    Parameters
    ----------
    path : str or os.PathLike
    target : int or None
        The target column's index; default: the last column (after
        ``drop``).
    drop : list of int, optional
        Columns that are neither features nor the target.

    Returns
    -------
    MappedTable

    Raises
    ------
    DataError
        As :func:`read_dataset`; also for an array that is not float32 or
        float64 in native byte order and C order (it cannot be used in place: read it with
        :func:`read_dataset` or :func:`iter_chunks`, which convert it).
    """
    path = _existing_file(path)
    spec = _Spec(path, target, "required", None, None, None, _drops(path, "npy", drop))
    _check_npy_target(spec)
    with _open_binary(path) as f:
        shape, fortran, dtype = _npy_2d_layout(path, f)
        _refuse_no_rows(path, shape)
        if fortran or dtype not in (np.float32, np.float64):
            raise DataError(path, f"holds {dtype.str} in {'Fortran' if fortran else 'C'} "
                            "order; only float32 or float64 of this machine's byte "
                            "order, in C order, can be used in place")
        table = np.memmap(f, dtype=dtype, mode="r", offset=f.tell(), shape=shape)
    header = [f"x{j}" for j in range(shape[1])]
    feats, t = _select(spec, header)
    y = _tidy_labels(path, np.array(table[:, t]))
    return MappedTable(table, feats, t, y, [header[j] for j in feats])


def npy_layout(path):
    """``(shape, fortran_order, dtype)`` of a 2-D numeric .npy file, from its
    header alone (checked against the file's size).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    (tuple of int, bool, numpy.dtype)
    """
    path = _existing_file(path)
    with _open_binary(path) as f:
        return _npy_2d_layout(path, f)


def _npy_2d_layout(path, f):
    """:func:`_npy_layout` of an .npy file that must hold a 2-D array."""
    if f.read(6) != _NPY_MAGIC:
        raise DataError(path, "is not a NumPy .npy file (it does not start "
                        "with the .npy signature)")
    f.seek(0)
    shape, fortran, dtype = _npy_layout(path, f)
    if len(shape) != 2:
        raise DataError(path, f"the array must be 2-D (rows, columns), got "
                        f"shape {shape}")
    if dtype.kind not in "biuf":
        raise DataError(path, f"the array must hold numbers, got dtype {dtype}")
    return shape, fortran, dtype


def _refuse_no_rows(path, shape):
    """No rows: refused before anything is made per column (a header may
    declare 2**40 columns of no rows in 129 bytes, and the bytes checked
    against it are none)."""
    if len(shape) == 2 and shape[0] == 0:
        raise DataError(path, "no data rows")


def _check_npy_target(spec):
    if isinstance(spec.target, str) and not re.fullmatch(r"[+-]?\d+", spec.target):
        raise DataError(spec.path, f"unknown target column {spec.target!r}: an "
                        ".npy array has no column names; give the target as a "
                        "column index")


def _csv_chunks(spec, delimiter, chunk_rows, keep=None):
    header, header_line = _read_header(spec.path, delimiter)
    _refuse_number_header(spec, header, header_line)
    feats, t = _select(spec, header)
    kept = None if keep is None else _column_index(spec.path, header, keep)
    parse = None if spec.ignore else t   # (found, not a feature, never parsed)

    def parts():
        for X, labels, values in _csv_blocks(spec.path, delimiter, header, feats,
                                             parse, chunk_rows, kept,
                                             spec.n_features is not None):
            if labels is not None:
                _refuse_data_header(spec, header, header_line, feats, parse, labels)
                labels = labels if spec.text_labels else csv_labels(spec.path,
                                                                    labels)
            yield X, labels, values

    return Dataset(None, None, [header[j] for j in feats],
                   None if parse is None else header[parse], "csv"), parts()


def _npy_chunks(spec, chunk_rows, keep=None):
    path = spec.path
    with _open_binary(path) as f:
        shape, fortran, dtype = _npy_2d_layout(path, f)
        offset = f.tell()
    _refuse_no_rows(path, shape)
    m, k = shape
    header = [f"x{j}" for j in range(k)]
    feats, t = _npy_select(spec, header)
    kept = None if keep is None else _column_index(spec.path, header, keep)
    parse = None if spec.ignore else t

    def parts():
        with _open_binary(path) as f:
            for start in range(0, m, chunk_rows):
                rows = min(chunk_rows, m - start)
                block = _npy_rows(path, f, offset, shape, fortran, dtype, start, rows)
                X = _as_float_X(path, block, columns=feats)
                _check_finite_rows(path, X, columns=feats, first_row=start)
                # labels as the whole-file reader takes them (no local name: a
                # view kept across the yield would keep the block alive)
                yield (X, None if parse is None else
                       _tidy_labels(path, _table_labels(block[:, parse]),
                                    first_row=start),
                       None if kept is None else block[:, kept].copy())

    return Dataset(None, None, [header[j] for j in feats], t, "npy"), parts()


def _npy_rows(path, f, offset, shape, fortran, dtype, start, rows):
    """Rows ``start:start + rows`` of the (m, k) .npy data at ``offset`` of
    the open file ``f``, read (not mapped: a file cut shorter meanwhile is
    an error, not a bus error). In Fortran order each column's run of rows
    is read in turn into a Fortran-ordered block."""
    m, k = shape
    if not fortran:
        f.seek(offset + start * k * dtype.itemsize)
        block = np.fromfile(f, dtype=dtype, count=rows * k)
        if block.shape[0] == rows * k:
            return block.reshape(rows, k)
        last = start + block.shape[0] // k
    else:
        block = np.empty((rows, k), dtype=dtype, order="F")
        for j in range(k):
            f.seek(offset + (j * m + start) * dtype.itemsize)
            got = f.readinto(block[:, j])
            if got != rows * dtype.itemsize:
                last = start + got // dtype.itemsize
                break
        else:
            return block
    raise DataError(path, f"is truncated: the header promises {m} rows but the "
                    f"data end after row {last}")


#: Bytes of whole lines the svmlight scan and chunks read at a time.
_SCAN_BYTES = 1 << 23
#: Bytes of whole lines a whole read of an svmlight file checks at a time
#: (:func:`_check_svmlight_lines`) before the loader reads the file: blocks
#: that stay in the cache (0.3 s for 260 MB, against 0.5 s in 8 MB blocks).
_CHECK_BYTES = 1 << 20


def _svmlight_scan(path):
    """(largest index, smallest index) over the file, checking every line.

    A block of lines is read by scikit-learn's loader (its C loop) when
    :func:`_loader_reads_as_fastlr` says it accepts what fastlr does and
    finds the same indices; else, or when the loader refuses the block, line
    by line (the first line with a problem is raised): the same result and
    errors, about 4 times faster on plain files.
    """
    from sklearn.datasets import load_svmlight_file

    hi, lo = -1, None
    for first, block in _line_blocks(path, _SCAN_BYTES):
        indices = None
        if _loader_reads_as_fastlr(block):
            try:
                indices = load_svmlight_file(io.BytesIO(block), zero_based=True,
                                             dtype=np.float64)[0].indices
            except (ValueError, OverflowError):
                pass
        if indices is None:
            top, bottom = _svmlight_scan_lines(path, io.BytesIO(block), first)
        elif indices.size:
            top, bottom = int(indices.max()), int(indices.min())
        else:
            top, bottom = -1, None
        hi = max(hi, top)
        if bottom is not None:
            lo = bottom if lo is None else min(lo, bottom)
    return hi, lo


def _svmlight_scan_lines(path, lines, first=1):
    """:func:`_svmlight_scan` of ``lines`` (bytes, the first numbered
    ``first``), one at a time."""
    hi, lo = -1, None
    for number, raw in enumerate(lines, first):
        problem = _svmlight_line_problem(raw)
        if problem:
            raise DataError(path, problem, line=number)
        for token in raw.split(b"#", 1)[0].split()[1:]:
            if token.startswith(b"qid:"):
                continue
            index = int(token.partition(b":")[0])
            hi = max(hi, index)
            lo = index if lo is None else min(lo, index)
    return hi, lo


def _line_blocks(path, size):
    """``(number of the first line, bytes)`` of the file's lines in blocks of
    about ``size`` bytes (more when a line is longer), in file order."""
    with _open_binary(path) as f:
        # (no larger than the file: a read allocates what it asks for)
        size = max(min(size, os.fstat(f.fileno()).st_size), 1)
        number = 1
        while block := f.read(size):
            if number == 1 and (error := _compressed_data(path, block)):
                raise error   # (where every svmlight reader first looks)
            if not block.endswith(b"\n"):
                block += f.readline()   # the rest of its last line
            yield number, block
            number += block.count(b"\n")


def _svmlight_chunks(spec, chunk_rows, zero_based):
    from sklearn.datasets import load_svmlight_file

    path = spec.path
    if spec.target is not None:
        raise DataError(path, "svmlight files have no target column to choose: "
                        "the label is the first field of each line")
    n_features = spec.n_features
    scanned = n_features is None or zero_based is None   # (every line checked)
    if scanned:
        hi, lo = _svmlight_scan(path)
        if hi < 0 and n_features is None:   # as a whole read
            raise _featureless(path)
        if zero_based is None:
            zero_based = lo == 0
        if n_features is None:
            n_features = max(hi + (1 if zero_based else 0), 1)
    width = n_features + (0 if zero_based else 1)  # raw indices are read 0-based
    base = 0 if zero_based else 1
    unseen = [0, 0, 0]   # entries left out, their rows, the widest raw row

    def file_width():
        # the file's, not the chunk's, as a whole read names it (a scan of
        # the file, only for the error)
        return (hi if scanned else _svmlight_scan(path)[0]) + 1 - base

    def parse(chunk, first):
        # the numbers of the lines that hold its rows, only for an error
        numbers = functools.cache(
            lambda: _svmlight_data_numbers(io.BytesIO(chunk), first))

        def line_of(i):
            return numbers()[i]

        if not scanned:
            _check_svmlight_lines(path, chunk, first)
        try:
            X, y = load_svmlight_file(io.BytesIO(chunk), zero_based=True,
                                      dtype=np.float64)
        except (ValueError, OverflowError) as exc:
            line, problem = _svmlight_first_problem(io.BytesIO(chunk), first)
            if problem:
                raise DataError(path, problem, line=line) from None
            raise DataError(path, f"lines {numbers()[0]}-{numbers()[-1]}: "
                            f"{exc}") from None
        if X.shape[1] > width:
            if spec.unseen != "ignore":
                # as a whole read of the file for a model of n_features says
                raise _mismatch(spec, file_width(), columns=False,
                                line=line_of(_first_row_at_or_above(X, width)))
            unseen[2] = max(unseen[2], X.shape[1])
            X, entries, rows = _cut_to_width(X, width)
            unseen[0] += entries
            unseen[1] += rows
        X = _with_width(X, width)
        if not zero_based:
            if _has_index_zero(X):
                raise DataError(path, _INDEX_ZERO,
                                line=line_of(_first_row_at_or_above(X, 0, upto=0)))
            X = _drop_index_base(X)
        X = _canonical_csr(X)
        _check_finite_csr(path, X, line_of=line_of)
        # (labels="ignore": parsed, as a whole read parses them, not kept)
        y = _tidy_labels(path, y, line_of=line_of)
        return X, None if spec.ignore else y, None

    def parts():
        # a chunk: the bytes from its first data line to its last (comment
        # and blank lines between them too, which the loader skips), cut at
        # the ends of data lines found in blocks of whole lines
        pending, rows, first = [], 0, 1
        for number, block in _line_blocks(path, _SCAN_BYTES):
            if not rows:
                first = number
            ends, start, used = _svmlight_data_ends(block), 0, 0
            while ends.size - used >= chunk_rows - rows:
                used += chunk_rows - rows
                cut = int(ends[used - 1])
                chunk = b"".join([*pending, block[start:cut]])
                yield parse(chunk, first)
                first += chunk.count(b"\n")
                pending, rows, start = [], 0, cut
            if rows or ends.size > used:   # (else lines without a sample)
                pending.append(block[start:])
                rows += ends.size - used
        if rows:
            yield parse(b"".join(pending), first)
        if unseen[0]:
            _said_unseen(spec, unseen[2] - base, unseen[0], unseen[1])

    return Dataset(None, None, NumberedNames(n_features), None, "svmlight",
                   bool(zero_based)), parts()

# --------------------------------------------------------------------------
# target and feature selection, shared by the tabular formats


#: Where a read's ``n_features`` comes from, for its messages: ``"model"``
#: (:func:`read_dataset` and :func:`open_chunks`, whose ``n_features`` is a
#: model's, as on the command line: "the model was trained on k features")
#: or ``"n_features"`` (:func:`read_xy` and :func:`iter_chunks`, whose
#: ``n_features`` is the caller's width, no model involved: "n_features is
#: k").
_N_FEATURES_OF = contextvars.ContextVar("fastlr_io_n_features_of", default="model")


@contextlib.contextmanager
def _n_features_given():
    """Reads started inside speak of ``n_features`` as the caller's."""
    token = _N_FEATURES_OF.set("n_features")
    try:
        yield
    finally:
        _N_FEATURES_OF.reset(token)


@dataclass
class _Spec:
    path: str
    target: object
    labels: str
    n_features: int | None
    feature_names: list | None
    model_target: object
    drop: tuple = ()  # columns that are neither features nor the target
    ignore: bool = False  # the target column is found but not parsed
    text_labels: bool = False  # CSV labels kept as text, not parsed as numbers
    unseen: str = "raise"  # svmlight indices beyond n_features: "raise" or "ignore"
    # what n_features is, for messages: "model" or "n_features" (_N_FEATURES_OF)
    n_features_of: str = field(default_factory=_N_FEATURES_OF.get)


#: How a reader's errors tell the caller to name the labels' column.
NAME_TARGET = "name it with target= (--target on the command line)"


def _width_said(spec):
    """``spec.n_features`` for a message, as a model's or as the caller's
    ``n_features`` (:data:`_N_FEATURES_OF`)."""
    if spec.n_features_of == "n_features":
        return f"n_features is {spec.n_features}"
    return f"the model was trained on {spec.n_features} features"


def _mismatch(spec, k, names=None, line=None, columns=True):
    """``columns``: the file's features are columns, one of which may be the
    labels' (not svmlight's, whose label leads each line)."""
    model = _width_said(spec)
    if spec.feature_names:
        model += f" ({_shown(spec.feature_names)})"
    got = f"this file has {k} feature{' columns' if columns else 's'}"
    if names:
        got += f" ({_shown(names)})"
    hint = ""
    if columns and spec.labels == "optional" and k == spec.n_features + 1:
        hint = f"; if one of them is the target, {NAME_TARGET}"
    return FeatureMismatchError(spec.path, f"{model} but {got}{hint}", line=line,
                                n_found=k)


def _shown(names, limit=8):
    """``names`` for a message, ``', '``-separated (a name that holds a
    comma quoted)."""
    return shown(names, limit, lambda n: "(unnamed)" if n == "" else listed(n))


_listed = listed


#: pandas' name for a CSV column without one (``Unnamed: J``, J its index),
#: which ``target``, ``drop`` and ``keep`` take for that column.
_UNNAMED = re.compile(r"Unnamed: (\d+)")

#: A column given by its index, as a string (``--drop 3``, ``--drop=-1``).
_INDEX = re.compile(r"[+-]?\d+")


def _unnamed(j):
    return f"Unnamed: {j}"


def _label(header, j):
    """Column ``j`` of ``header`` as messages show it: its name, or for one
    without a name pandas' name for it, quoted (an empty name showed as
    nothing)."""
    return repr(_unnamed(j)) if header[j] == "" else header[j]


def _labels(header, columns):
    return ", ".join(_label(header, j) for j in columns)


def _at(columns):
    """``the column at index 3``, ``the columns at index 3 and 4``: counted
    from 0, as the options count them."""
    columns = list(columns)
    if len(columns) == 1:
        return f"the column at index {columns[0]}"
    return (f"the columns at index {', '.join(map(str, columns[:-1]))} and "
            f"{columns[-1]}")


def _is_integer(target):
    return isinstance(target, int | np.integer) and not isinstance(target, bool)


def _meanings(header, target):
    """``(by name, by pandas' name, by index)``: the column ``target``
    names, the unnamed column it names as pandas does (``Unnamed: J``, J
    its index; a header may also hold that name itself: a file pandas
    wrote twice), and the column it indexes (an int, or a string of one;
    negative counts from the end), each None when there is none. An int is
    never a name."""
    k = len(header)
    name = pandas = index = None
    if isinstance(target, str):
        if target in header:
            name = header.index(target)
        match = _UNNAMED.fullmatch(target)
        if match and int(match[1]) < k and header[int(match[1])] == "":
            pandas = int(match[1])
        if _INDEX.fullmatch(target.strip()):
            index = int(target)
    elif _is_integer(target):
        index = int(target)
    if index is not None:
        index = index % k if -k <= index < k else None   # (out of range)
    return name, pandas, index


def _columns_meant(header, target):
    """The distinct columns ``target`` may mean (:func:`_meanings`)."""
    return {j for j in _meanings(header, target) if j is not None}


def _ways(header, j, cli=True):
    """Strings (Python: and ints) that give column ``j`` of ``header``
    unambiguously: its name (``Unnamed: J`` for an unnamed one), its index
    (as an int in Python; on the command line counted from the end, the
    form no other column's name is, as a rule)."""
    ways = [header[j] or _unnamed(j), str(j - len(header)) if cli else j]
    return [w for w in ways if not isinstance(w, str)
            or _columns_meant(header, w) == {j}]


def _typed(option, values):
    """How ``values`` are given to ``option``: ``--drop=-5``, ``--drop
    'Unnamed: 0'`` on the command line (argparse needs the ``=`` for a
    leading minus, the shell the quotes), ``drop=['Unnamed: 0']``,
    ``target=-1`` in Python."""
    if option.startswith("--"):
        values = list(map(str, values))
        if len(values) > 1 and any("," in v for v in values):
            # (a name that holds a comma is taken whole only by itself)
            return " ".join(_typed(option, [v]) for v in values)
        text = ",".join(values)
        return f"{option}={text}" if text.startswith("-") else \
            f"{option} {shlex.quote(text)}"
    return f"{option}={list(values)!r}" if option == "drop" else \
        f"{option}={values[0]!r}"


def _column_ref(header, j):
    """A string that gives column ``j`` of ``header`` to ``target``,
    ``drop`` or ``keep`` unambiguously (a recorded name may also be
    another column's index; a name no form gives alone is left to
    :func:`_column_index` to refuse)."""
    return (_ways(header, j) or [header[j]])[0]


#: How each reader's argument is given in Python (the command line's option
#: is passed to :func:`_column_index` by the command line).
_ARGUMENTS = {"target column": "target", "column to drop": "drop"}


def _column_index(path, header, target, what="column", option=None):
    """Index of ``target`` in ``header``: a name (``Unnamed: J`` the
    unnamed column at index J, as pandas names it), or an index (an int, or
    a string of one; negative counts from the end). A string that names one
    column and, read as an index, is another's is refused, which one was
    meant being unknown (pandas' header ``,0,1,2`` of a DataFrame without
    column names: ``"0"`` names the second column and indexes the first).
    ``option``: the command line's option that gave it (``--drop``), for
    the message; by default the Python argument's forms."""
    if isinstance(target, str) and header.count(target) > 1:  # only '' repeats
        raise DataError(path, f"{what} {target!r}: the header has "
                        f"{header.count(target)} columns without a name; give "
                        "the column by its index, or as 'Unnamed: J', J its "
                        "index")
    name, pandas, index = _meanings(header, target)
    if len(_columns_meant(header, target)) > 1:
        form = option or _ARGUMENTS.get(what, what.split()[-1])

        def how(j):
            which = (f"the column named {header[j]!r}" if header[j] else
                     f"the unnamed column at index {j}")
            ways = _ways(header, j, cli=bool(option))
            if not ways:
                return f"{which} cannot be given by {form}: rename it"
            return f"{which} as " + " or ".join(_typed(form, [w]) for w in ways)

        said = [f"names {_at([name])}" if name is not None else None,
                f"is pandas' name of {_at([pandas])}" if pandas is not None
                else None,
                f"indexes {_at([index])}" if index is not None else None]
        meant = sorted(_columns_meant(header, target))
        raise DataError(path, f"{what} {target!r} is ambiguous: it "
                        f"{' and '.join(w for w in said if w)}; give "
                        f"{', and '.join(how(j) for j in meant)}")
    for j in (name, pandas, index):
        if j is not None:
            return j
    if _is_integer(target) or isinstance(target, str) and \
            _INDEX.fullmatch(target.strip()):
        raise DataError(path, f"{what} index {int(target)} is out of range "
                        f"for {len(header)} columns")
    raise DataError(path, f"unknown {what} {target!r}; the columns are: "
                    f"{_shown(header, limit=20)}")


def _refuse_unnamed_features(spec, header, feats):
    """A new model's features are named: a column without a name is most
    likely a row index (pandas' ``df.to_csv()``, R's ``write.csv``) or a
    spreadsheet's empty column, and as a feature it was silently one (a
    file sorted by class leaked its label through the row numbers)."""
    unnamed = [j for j in feats if header[j] == ""]
    if not unnamed:
        return
    names = [_column_ref(header, j) for j in unnamed]
    one = len(unnamed) == 1
    raise DataError(
        spec.path, f"{_at(unnamed)} {'has' if one else 'have'} no name, so "
        f"{'it' if one else 'they'} would be {'a feature' if one else 'features'} "
        f"known by no name: most likely a row index (pandas' df.to_csv() writes "
        f"one unless index=False; R's write.csv its row names unless "
        f"row.names=FALSE) or a spreadsheet's empty "
        f"{'column' if one else 'columns'}; leave {'it' if one else 'them'} out "
        f"with {_typed('drop', names)} ({_typed('--drop', names)} on the "
        f"command line), or name {'it' if one else 'them'} in the header")


def _select(spec, header):
    """(feature indices, target index or None) for a table with ``header``."""
    k = len(header)
    dropped = {_column_index(spec.path, header, d, "column to drop") for d in spec.drop}
    kept = [j for j in range(k) if j not in dropped]
    t = None
    if spec.target is not None:
        t = _column_index(spec.path, header, spec.target, "target column")
        if t in dropped:
            raise DataError(spec.path, f"the target column "
                            f"{header[t] or _unnamed(t)!r} is also one of the columns to "
                            "drop")
    if spec.n_features is None:
        if t is None and spec.labels == "required" and kept:
            t = kept[-1]  # default: the last column
            if header[t] == "":
                raise DataError(spec.path, "the last column, the default target, "
                                "has no name in the header: does every line end "
                                f"with the delimiter? Remove it, or {NAME_TARGET}")
        feats = [j for j in kept if j != t]
        _refuse_unnamed_features(spec, header, feats)
    else:
        feats, t = _select_for_model(spec, header, t, dropped)
    if not feats:
        raise DataError(spec.path, "has no feature columns besides the target")
    used = feats + ([] if t is None else [t])
    counts = collections.Counter(header)   # (not header.count: a 47k-column
    unnamed = [j for j in used if counts[header[j]] > 1]   # table took 25 s)
    if unnamed:
        # matched by position only, a feature could silently stand for another
        names = [_column_ref(header, j) for j, h in enumerate(header)
                 if h == "" and j not in dropped]
        raise DataError(spec.path, f"{_at(unnamed[:1])} has no name, as "
                        f"{header.count(header[unnamed[0]]) - 1} other(s) of the "
                        "header do, so it could only be taken by position: name "
                        f"it, or leave the unnamed columns out with "
                        f"{_typed('drop', names)} ({_typed('--drop', names)} on "
                        "the command line)")
    if t is None and spec.labels == "required":
        raise DataError(spec.path, f"has no target column (the true labels); "
                        f"{NAME_TARGET}")
    return feats, t


def _select_for_model(spec, header, t, dropped=frozenset()):
    """Features in the model's order, and the target column if there is one."""
    k = len(header)
    mt = spec.model_target
    by_name = _by_name(spec, header, dropped)
    if t is None and isinstance(mt, str) and header.count(mt) == 1 \
            and header.index(mt) not in dropped:
        t = header.index(mt)
    if by_name is not None:
        if t in by_name:
            raise DataError(spec.path, f"the target column "
                            f"{header[t] or _unnamed(t)!r} is one of the model's "
                            "features")
        chosen = set(by_name)
        extra = [j for j in range(k)
                 if j != t and j not in chosen and j not in dropped]
        if extra:
            raise FeatureMismatchError(
                spec.path, f"the model was trained on {spec.n_features} features "
                f"({_shown(spec.feature_names)}) but this file has "
                f"{k - (t is not None) - len(dropped)} feature columns; not in "
                f"the model: {_labels(header, extra[:8])}"
                + (f", ... ({len(extra)} in all)" if len(extra) > 8 else ""))
        return by_name, t
    kept = [j for j in range(k) if j not in dropped]
    if t is None and len(kept) == spec.n_features + 1 and not isinstance(mt, str):
        # unnamed columns (.npy): the extra column is the target, at the
        # model's target index when it is known, else the last
        t = mt % k if isinstance(mt, int) and mt % k in kept else kept[-1]
    feats = [j for j in kept if j != t]
    if len(feats) != spec.n_features:
        raise _mismatch(spec, len(feats), [header[j] for j in feats])
    return feats, t


def _by_name(spec, header, dropped=frozenset()):
    """Feature indices by the model's feature names, None if none is in
    ``header``. A name is found among the header's named columns: a column
    without a name never stands for a named feature (a header with two
    made the features be taken in file order, x2 read as x0), only for a
    feature without a name (of a model an older version trained on one),
    and then only as the header's one unnamed column."""
    names = spec.feature_names
    if not names:
        return None
    unnamed = [j for j, h in enumerate(header) if h == ""]
    named = {h: j for j, h in enumerate(header) if h != ""}   # (unique)
    named[""] = unnamed[0] if len(unnamed) == 1 else None
    where = {n: named.get(n) for n in names}
    present = [n for n in names if where[n] is not None and where[n] not in dropped]
    if len(present) == len(names):
        return [where[n] for n in names]
    if present and spec.n_features is not None:
        missing = [n for n in names if n not in present]
        raise FeatureMismatchError(
            spec.path, f"the model's feature columns {_shown(missing)} are "
            f"missing (the model was trained on {_shown(names)})")
    return None


def _tidy_labels(path, y, line_of=None, first_row=0):
    """Labels as int64 when numeric and whole, else as given; no NaN.

    ``line_of(i)`` gives the line of row ``i`` in a text file, for errors;
    else errors name the row, y's rows being the file's from ``first_row``
    (a part of a table read in parts).
    """
    if y.dtype.kind == "S":
        try:
            y = y.astype(str)
        except UnicodeDecodeError:
            raise DataError(path, "labels are bytes that are not text") from None
    if y.dtype.kind == "b":
        return y
    if y.dtype.kind in "iu":
        if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
            return y.astype(np.uint64, copy=False)   # int64 would wrap them
        return y.astype(np.int64, copy=False)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            i = int(np.argmax(bad))
            if line_of is None:
                raise DataError(path, f"the label of row {first_row + i + 1} is "
                                f"{y[i]}; labels must be finite")
            raise DataError(path, f"the label is {y[i]}; labels must be finite",
                            line=line_of(i))
        # (2**53 as a float64: a float16 array would overflow casting it)
        if (y == np.round(y)).all() and (np.abs(y) < np.float64(2**53)).all():
            return y.astype(np.int64)
        return y
    if y.dtype.kind == "U":
        return y
    raise DataError(path, f"labels of dtype {y.dtype} are not supported; use "
                    "numbers or strings")


def _check_finite_rows(path, X, line_of=None, columns=None, first_row=0):
    """Raise on the first NaN/inf in X, with its line when ``line_of`` maps
    rows (else its row: X's rows are the file's from ``first_row``), and its
    table column when ``columns`` (an .npy table's feature columns) differ
    from the feature numbers. Checked a block of rows at a time: a mask of
    the whole X took an eighth of a float64 X's memory (which, memory-mapped
    for prediction, takes none)."""
    step = max(1, _COPY_BYTES // max(1, X.shape[1] * X.itemsize))
    for start in range(0, X.shape[0], step):
        finite = np.isfinite(X[start:start + step])
        if not finite.all():
            break
    else:
        return
    i, j = np.argwhere(~finite)[0]
    i += start
    line = None if line_of is None else line_of(int(i))
    row = "" if line is not None else f"row {first_row + i + 1}, "
    raise DataError(path, f"{row}{feature_at(j, columns)} is {X[i, j]}; fastlr "
                    "needs finite numbers (no NaN, inf or missing values)", line=line)


def feature_at(j, columns=None):
    """``"feature j+1"``, and the table's column when ``columns[j]`` (the
    feature's column index in an .npy table) is not ``j``: counted from 0,
    as ``target``/``drop`` (``--target``/``--drop``) count them."""
    if columns is None or columns[j] == j:
        return f"feature {j + 1}"
    return f"feature {j + 1} (column index {columns[j]} of the table)"


def _numeric_2d(path, X, name="X"):
    """``X``, refused unless a 2-D array of numbers (or booleans)."""
    if X.ndim != 2:
        raise DataError(path, f"{name} must be a 2-D array (rows, columns), got "
                        f"shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(path, f"{name} must hold numbers, got dtype {X.dtype}")
    return X


#: Bytes of the table read at a time when :func:`_as_float_X` takes columns.
_COPY_BYTES = 1 << 20


def _as_float_X(path, X, name="X", columns=None):
    """``X``, or its ``columns``, as a C-ordered float32 (if float32) or
    float64 array: at most one copy. ``X[:, columns]`` is F-ordered, and
    ordering it took a second copy of the features (2x their size at the
    peak of reading an .npy table, 3x a CSV's): the columns are taken a
    block of rows at a time instead."""
    X = _numeric_2d(path, X, name)
    dtype = float_dtype_of(X)   # (float32 of either byte order stays float32)
    if columns is None:
        return np.ascontiguousarray(X, dtype=dtype)
    out = np.empty((X.shape[0], len(columns)), dtype=dtype)
    step = max(1, _COPY_BYTES // max(1, X.shape[1] * X.itemsize))
    for start in range(0, X.shape[0], step):
        out[start:start + step] = X[start:start + step][:, columns]
    return out


# --------------------------------------------------------------------------
# .npy / .npz


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _npy_layout(path, f, what=""):
    """``(shape, fortran_order, dtype)`` of the .npy data at ``f``'s position,
    which is left at the data: read in bounded memory, and refused unless
    the bytes the header describes are there (``f`` an open .npy file), so a
    header that lies is an error rather than an allocation of its size."""
    def fail(words):
        raise DataError(path, f"{what}{words}")

    start = f.tell()
    shape, fortran, dtype, header_size = _npy.read_header(f, fail)
    size = os.fstat(f.fileno()).st_size - start
    want = header_size + _npy.nbytes(shape, dtype)
    if size < want:
        fail(f"is truncated: its header describes {want:,} bytes (shape {shape}, "
             f"dtype {dtype}) but the file holds {size:,}")
    return shape, fortran, dtype


def _npz_member_layout(path, npz, key):
    """Check an .npz member's header against its declared size before numpy
    reads it (and allocates what the header says); returns its shape."""
    name = f"{key}.npy"

    def fail(words):
        raise DataError(path, f"array {key!r}: {words}")

    if name not in npz.zip.namelist():
        # numpy lists it (a member stored without the .npy suffix, a text
        # file) and would return its bytes
        fail("is not NumPy array data (an .npy member); write the archive "
             "with np.savez")

    info = npz.zip.getinfo(name)
    with npz.zip.open(info) as member:
        shape, _, dtype, header_size = _npy.read_header(member, fail)
    want = header_size + _npy.nbytes(shape, dtype)
    if info.file_size != want:
        fail(f"the archive declares {info.file_size:,} bytes but its header "
             f"describes {want:,} (shape {shape}, dtype {dtype})")
    return shape


#: What reading a damaged .npy or .npz file raises besides ValueError (which
#: :func:`_np_error` words): a bad zip directory or CRC, broken compression,
#: a compression method or zip version that zipfile does not support, a
#: short read.
_DAMAGED = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError)


def _np_load(path, want, f):
    """np.load without pickle from ``f``, the open file ``path``; ``want`` is
    "npy" or "npz"."""
    magic = f.read(6)
    f.seek(0)
    kind = "npy" if magic == _NPY_MAGIC else "npz" if magic[:4] == _ZIP_MAGIC else None
    if kind is None:
        raise DataError(path, f"is not a NumPy .{want} file (it does not start "
                        "with the .npy or zip signature)")
    if kind != want:
        raise DataError(path, f"is an .{kind} file, not an .{want} file")
    try:
        loaded = np.load(f, allow_pickle=False)
    except ValueError as exc:
        raise _np_error(path, exc) from None
    except _DAMAGED as exc:
        raise _damaged(path, want, exc) from None
    if kind == "npz":
        # (zipfile raised a bare RuntimeError at the member's first read)
        locked = [i.filename for i in loaded.zip.infolist() if i.flag_bits & 0x1]
        if locked:
            loaded.close()
            raise DataError(path, f"its member {locked[0]!r} is encrypted (a "
                            "password-protected zip): fastlr reads plain .npz "
                            "archives (np.savez, np.savez_compressed)")
    return loaded


def _damaged(path, want, exc):
    return DataError(path, f"is not a valid .{want} file or is damaged "
                     f"({type(exc).__name__}: {exc})")


def _np_error(path, exc):
    if "allow_pickle" in str(exc):
        return DataError(path, "holds Python objects (pickled data); fastlr reads "
                         "only plain numeric or string arrays, never pickles")
    return DataError(path, f"cannot read the array ({exc})")


def npy_columns(path):
    """The number of columns of the 2-D array of an .npy file, from its
    header; None if it holds no such array (reading it says what is
    wrong)."""
    try:
        with _open_binary(path) as f:
            if f.read(6) != _NPY_MAGIC:
                return None
            f.seek(0)
            shape = _npy_layout(path, f)[0]
    except DataError:
        return None
    return int(shape[1]) if len(shape) == 2 else None


def _npy_table(path):
    """The 2-D numeric array of an .npy file, its header checked first.

    It is memory-mapped, not read, whatever its dtype: the callers copy
    the columns they need (the features, once, converted to float a block
    of rows at a time by :func:`_as_float_X`), so the file's pages are only
    passed through (they stay the operating system's cache, not the
    process's memory). An integer table read whole, then converted, held
    the table and its float64 copy at once. The label and ID columns keep
    their stored values (int64 labels or IDs beyond 2**53 would lose digits
    through float64).
    """
    with _open_binary(path) as f:
        if f.read(6) == _NPY_MAGIC:
            f.seek(0)
            shape, fortran, dtype = _npy_layout(path, f)
            _refuse_no_rows(path, shape)
            if len(shape) == 2 and dtype.kind in "biuf" and math.prod(shape) > 0:
                return np.memmap(f, dtype=dtype, mode="r", offset=f.tell(),
                                 shape=shape, order="F" if fortran else "C")
        f.seek(0)
        # (what is not a table of numbers is refused as np.load reads it)
        return _numeric_2d(path, _np_load(path, "npy", f), "the array")


def _npy_select(spec, header):
    """:func:`_select` for an .npy table's columns ``header`` (x0, x1, ...):
    column names and a named target from a CSV-trained model do not apply."""
    _check_npy_target(spec)
    mt = spec.model_target if isinstance(spec.model_target, int) else None
    return _select(_Spec(spec.path, spec.target, spec.labels, spec.n_features,
                         None, mt, spec.drop, n_features_of=spec.n_features_of),
                   header)


def _read_npy(spec, copy=True):
    table = _npy_table(spec.path)
    header = [f"x{j}" for j in range(table.shape[1])]
    feats, t = _npy_select(spec, header)
    cut = None if copy else _in_place_columns(table, feats)
    # the memory-mapped feature columns themselves, or one copy of them
    X = table[:, cut].view(np.ndarray) if cut is not None else \
        _as_float_X(spec.path, table, columns=feats)
    _check_finite_rows(spec.path, X, columns=feats)
    y = None if t is None or spec.ignore else _table_labels(np.array(table[:, t]))
    return Dataset(X, y, [header[j] for j in feats], t, "npy")


def _in_place_columns(table, columns):
    """The slice of ``table``'s columns that ``columns`` are (all of them, a
    run, or evenly spaced ones), when ``table`` is float32 or float64 in
    this machine's byte order and in C order, so that they can be used
    without a copy; else None."""
    if (table.dtype not in (np.float32, np.float64) or not columns
            or not table.flags.c_contiguous):
        return None
    first = columns[0]
    step = columns[1] - first if len(columns) > 1 else 1
    if step < 1 or list(columns) != list(range(first, columns[-1] + 1, step)):
        return None
    return slice(first, columns[-1] + 1, step)


def _table_labels(column):
    """The label column of an .npy table in its stored type (int64 labels
    beyond 2**53 keep every digit); a boolean table's as 0 and 1, as
    before tables kept their type."""
    return column.astype(np.int64) if column.dtype.kind == "b" else column


def _read_npz(spec):
    with _open_binary(spec.path) as f, _np_load(spec.path, "npz", f) as npz:
        keys = list(npz.files)
        if "X" not in keys:
            raise DataError(spec.path, f"has no array 'X' (it has: {_shown(keys)})")
        y_key = "y" if spec.target is None else str(spec.target)
        if spec.target is not None and y_key not in keys:
            raise DataError(spec.path, f"unknown target array {y_key!r} (it has: "
                            f"{_shown(keys)})")
        if spec.labels == "required" and y_key not in keys:
            raise DataError(spec.path, f"has no labels array 'y' (it has: "
                            f"{_shown(keys)}); {NAME_TARGET}")
        if spec.ignore:   # not read
            keys = [key for key in keys if key != y_key]
        try:
            _refuse_no_rows(spec.path, _npz_member_layout(spec.path, npz, "X"))
            if y_key in keys:
                _npz_member_layout(spec.path, npz, y_key)
            X = npz["X"]
            y = npz[y_key] if y_key in keys else None
        except DataError:
            raise
        except MemoryError as exc:
            raise DataError(spec.path, f"holds arrays too large for the memory "
                            f"available ({exc})") from None
        except ValueError as exc:
            raise _np_error(spec.path, exc) from None
        except _DAMAGED as exc:
            raise _damaged(spec.path, "npz", exc) from None
    X = _as_float_X(spec.path, X)
    if spec.n_features is not None and X.shape[1] != spec.n_features:
        raise _mismatch(spec, X.shape[1])
    _check_finite_rows(spec.path, X)
    if y is not None and (y.ndim != 1 or y.shape[0] != X.shape[0]):
        raise DataError(spec.path, f"labels {y_key!r} must be 1-D with one entry "
                        f"per row of X ({X.shape[0]}), got shape {y.shape}")
    names = [f"x{j}" for j in range(X.shape[1])]
    return Dataset(X, y, names, y_key if y is not None else None, "npz")


# --------------------------------------------------------------------------
# CSV


def _open_text(path):
    # utf-8-sig drops the byte-order mark spreadsheets like to write
    return open_regular(path, DataError, "r", encoding="utf-8-sig", newline="")


#: Python's csv module refuses a field longer than ``csv.field_size_limit()``
#: (131,072 characters unless changed), a setting of the whole process. A
#: free-text column may be longer, so it is raised while fastlr's readers are
#: open and put back when the last one closes.
_FIELD_LIMIT = Held(lambda: csv.field_size_limit(2**31 - 1), csv.field_size_limit)


@contextlib.contextmanager
def _csv_rows(path, delimiter):
    """``csv.reader`` over the text file ``path``, fields of any length."""
    with _FIELD_LIMIT.held(), _open_text(path) as f:
        yield csv.reader(f, delimiter=delimiter)


def _read_header(path, delimiter):
    reader = None
    try:
        with _csv_rows(path, delimiter) as reader:
            for row in reader:
                if row and any(c.strip() for c in row):
                    _refuse_sep_line(path, row, delimiter, reader.line_num)
                    names = [c.strip() for c in row]
                    _check_unique(path, names, reader.line_num)
                    return names, reader.line_num
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None and reader.line_num else 1
        raise DataError(path, f"malformed CSV header ({exc})", line=line) from None
    raise DataError(path, "is empty; a CSV file needs a header line with column "
                    "names")


def _refuse_sep_line(path, row, delimiter, line):
    """Refuse Excel's ``sep=;`` first line (``row``, as the csv module
    splits it), which names the file's delimiter: read as a header, it made
    a column ``sep=;``, or with ``delimiter=';'`` the columns ``sep=`` and
    ``''``."""
    if len(row) > 2 or row[0][:4].lower() != "sep=":
        return
    text = delimiter.join(row)   # the line as written
    if len(text) != 5:
        return
    sep = text[4]
    hint = ""
    if sep != delimiter:
        arg = "tab" if sep == "\t" else repr(sep)
        hint = f", and read it with delimiter={sep!r} (--delimiter {arg} on the " \
            "command line)"
    raise DataError(path, f"the first line is Excel's {text!r} line: delete "
                    f"it{hint}", line=line)


def _check_unique(path, names, line):
    """Refuse a header that gives two columns one name: columns are found by
    name (the target, ``--drop``, ``--id``, a model's features when it
    predicts on a file whose columns are in another order), so one of the two
    would silently stand for the other. Empty names may repeat (the
    trailing empty columns of a spreadsheet export): such columns are
    named by index."""
    first = {}
    for j, name in enumerate(names):
        if name in first and name != "":
            raise DataError(path, f"the header names two columns {name!r} (at "
                            f"index {first[name]} and {j}); columns are matched "
                            "by name, so each must have its own: rename one",
                            line=line)
        first[name] = j


def _not_utf8(path):
    """A DataError naming the first line (and file offset) that is not UTF-8.

    The decoder's own offset counts from the start of its current buffer,
    not of the file, so the file is read again, line by line, to find it.
    """
    offset = 0
    with _open_binary(path) as f:
        if error := _compressed_data(path, f.read(16)):
            return error
        f.seek(0)
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                why = f"{exc.reason} at byte {offset + exc.start:,} of the file"
                if offset == 0 and raw.startswith(_UTF16_BOMS):
                    why = "it is UTF-16: it starts with UTF-16's byte-order mark"
                return DataError(path, f"is not UTF-8 text ({why}){_SAVE_UTF8}",
                                 line=number)
            offset += len(raw)
    return DataError(path, f"is not UTF-8 text{_SAVE_UTF8}")


#: The byte-order marks of UTF-16 (little- and big-endian), with which
#: Excel's "Unicode text" and PowerShell's files start.
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

#: What a file that is not UTF-8 (Latin-1, Windows-1252, UTF-16) is to do.
_SAVE_UTF8 = "; if it is CSV, save it as UTF-8 (in Excel: Save As 'CSV UTF-8')"


def _has_text_after(path, lines):
    """Whether the file holds a non-blank byte after its first ``lines``
    lines (read until the first one)."""
    with _open_binary(path) as f:
        for number, raw in enumerate(f, 1):
            if number > lines and raw.strip():
                return True
    return False


def _is_float(text):
    """Whether ``float()`` takes ``text`` (str, or bytes: an svmlight
    token's rule, as scikit-learn's loader parses them)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_number(text):
    """Whether a CSV field is a number, as NumPy's ``loadtxt`` (the fast
    reader) reads one: ``float()``'s syntax, with any whitespace around
    it, in ASCII and without PEP 515's digit-group underscores. ``float()``
    alone takes ``1_0`` (10) and any script's digits (``١٢``, ``１``),
    which ``loadtxt`` refuses and pandas keeps as text: a feature ``2_3``
    became 23 and the labels ``1_0`` and ``10`` one class."""
    return _is_float(text) and _plain(text.strip())


def _plain(text):
    """Whether ``text`` (a str, or an array of them) is ASCII without an
    underscore: a number's text, if ``float()`` takes it. Checked in C: a
    block's fields at once (joined), an array's by its code points (no
    str object per label)."""
    if isinstance(text, np.ndarray):
        codes = np.ascontiguousarray(text, dtype=str).view(np.uint32)
        return not codes.size or (codes.max() <= 127
                                  and not (codes == ord("_")).any())
    return text.isascii() and "_" not in text


def _read_csv(spec, delimiter):
    header, header_line = _read_header(spec.path, delimiter)
    _refuse_number_header(spec, header, header_line)
    feats, t = _select(spec, header)
    if spec.ignore:
        t = None   # found (not a feature), never parsed
    # (text labels: the exact reader, which keeps each label's text)
    table = None if spec.text_labels and t is not None else \
        _csv_fast(spec.path, delimiter, header_line, len(header))
    if table is not None:
        X = _as_float_X(spec.path, table, columns=feats)
        y = None if t is None else table[:, t]
        # labels at or beyond 2**53 lost their last digits as float64
        # (2**53 + 1 read as 2**53: two classes merged): the exact reader
        # parses them as integers, as the chunked reader does
        if np.isfinite(X).all() and (y is None or (np.isfinite(y).all() and
                                                   not (np.abs(y) >= 2.0**53).any())):
            return Dataset(X, y, [header[j] for j in feats],
                           None if t is None else header[t], "csv")
    # the exact reader: slower, but finds the line of any problem
    X, y = _csv_exact(spec.path, delimiter, header, feats, t, not spec.text_labels,
                      spec.n_features is not None)
    if y is not None and y.dtype.kind == "U":
        _refuse_data_header(spec, header, header_line, feats, t, y)
    return Dataset(X, y, [header[j] for j in feats],
                   None if t is None else header[t], "csv")


def _refuse_number_header(spec, header, line):
    """Refuse a first line whose every field is a number: a file without a
    header, whose first row would silently be lost as the header (read as
    data, it would be refused if any field were not a number). Except
    ``0,1,...,k-1``, the column numbers pandas writes for a DataFrame
    without column names (``pd.DataFrame(array).to_csv(index=False)``),
    once the caller names a column as it does (:func:`_pandas_header`)."""
    if not _numbers_only(header) or _pandas_header(spec, header):
        return
    hint = ""
    if _numbered(header):
        hint = (" (if it is the column numbers pandas writes for a DataFrame "
                "without column names, name the target column by its number: "
                f"target={header[-1]!r}, --target {header[-1]})")
    raise DataError(spec.path, "the first line looks like data, not a header; the "
                    f"CSV needs a header line with column names{hint}", line=line)


def _numbers_only(header):
    """Whether every field of a CSV's first line (``header``) is a number:
    a row of data, not column names."""
    return all(_is_number(c) for c in header)


def _numbered(header):
    """Whether ``header`` is ``0,1,...,k-1``."""
    return header == [str(j) for j in range(len(header))]


def _pandas_header(spec, header):
    """Whether ``header`` is pandas' column numbers ``0,1,...,k-1`` and the
    caller names a column by one of them: the target (a string, as
    ``--target`` gives it), the model's target, or every one of the
    model's feature names. A header-less file would need its first row to
    be these numbers, and such a name; and by them a column's name is its
    index, so no column can stand for another."""
    if not _numbered(header):
        return False
    if any(isinstance(name, str) and name in header
           for name in (spec.target, spec.model_target)):
        return True
    return bool(spec.feature_names) and all(n in header for n in spec.feature_names)


def _refuse_data_header(spec, header, header_line, feats, t, labels):
    """Refuse a first line that is a row of data: its feature fields all
    numbers and its label one of the labels (a header-less file with text
    labels, as UCI's iris.data; the all-numbers case is refused before,
    unless it is pandas' header). A header of numeric feature names and a
    label column's name passes."""
    if all(_is_number(header[j]) for j in feats) and \
            header[t] in set(labels.tolist()) and not _pandas_header(spec, header):
        raise DataError(spec.path, "the first line looks like data, not a header (its "
                        f"features are numbers and {header[t]!r} is one of the "
                        "labels); the CSV needs a header line with column names",
                        line=header_line)


def _csv_fast(path, delimiter, header_line, k):
    """All-numeric CSV through numpy's C parser, or None to use the exact reader."""
    if not _has_text_after(path, header_line):
        # np.loadtxt would warn "input contained no data"; silencing it with
        # warnings.catch_warnings is not thread-safe (two reads at once could
        # leave "ignore everything" installed for the whole process)
        return None
    table = _c_parse(path, delimiter, os.path.getsize(path), skip=header_line,
                     quotechar='"')
    if table is None or table.shape[1] != k or table.shape[0] == 0:
        return None
    return table


def _c_parse(source, delimiter, size, skip=0, usecols=None, quotechar=None):
    """CSV numbers parsed in C: a C-contiguous float64 array of one row per
    row, or None when the parser refuses the text (a field that is not a
    number, a row of another length), for the exact reader to find why.

    ``source`` is a path, read from its line ``skip + 1`` on (lines end as
    the csv module ends them), or a list of text lines; ``usecols`` the
    columns kept, in this order (None: all); ``quotechar`` ``'"'`` or None
    (no quoting); ``size`` the file's size in bytes (:data:`_PANDAS_FROM`).
    Blank lines are skipped. pandas' parser (:func:`_pandas_parse`) when
    pandas 3.1 or later is installed, else, and for what it refuses,
    ``np.loadtxt``, which also takes blank lines; neither for a file
    holding one of :data:`_LOADTXT_SPACES`, which loadtxt takes as spaces
    around a number. Both read a number with the bits ``float()`` gives it;
    whether it is finite is the caller's to check.
    """
    # (a block of text: pandas only for a large one, each call costing
    # about 0.5 ms: parts of one row took 25 times as long)
    pd = None if isinstance(source, list) and \
        sum(map(len, source)) < _PANDAS_BLOCK else _pandas(size)
    if pd is not None:
        table = _pandas_parse(pd, source, delimiter, skip, usecols, quotechar)
        if table is not None:
            return table
    try:
        if not isinstance(source, list):
            with open_regular(source, DataError, "r", encoding="utf-8-sig") as f:
                if _holds_loadtxt_space(f.buffer):
                    return None
                f.seek(0)
                return np.loadtxt(f, delimiter=delimiter, skiprows=skip,
                                  usecols=usecols, dtype=np.float64, comments=None,
                                  quotechar=quotechar, ndmin=2)
        return np.ascontiguousarray(np.loadtxt(
            source, delimiter=delimiter, skiprows=skip, usecols=usecols,
            dtype=np.float64, comments=None, quotechar=quotechar, ndmin=2))
    except (ValueError, UnicodeDecodeError):
        return None


def _pandas(size):
    """pandas, to parse the numbers of a CSV file of ``size`` bytes, or None
    for ``np.loadtxt``: before version 3.1, pandas' float parser was not
    correctly rounded (``0.00000000000001953`` read as ``1.95e-14``, others
    a last bit off from ``float()``)."""
    global _pandas_broken
    if _PANDAS_FROM is None or _pandas_broken or (
            size < _PANDAS_FROM and "pandas" not in sys.modules):
        return None
    try:
        import pandas
    except ImportError:
        return None
    except Exception:   # an install broken otherwise: not asked again
        _pandas_broken = True
        return None
    version = re.match(r"(\d+)\.(\d+)", pandas.__version__)
    return pandas if version and tuple(map(int, version.groups())) >= (3, 1) else None


def _pandas_parse(pd, source, delimiter, skip, usecols, quotechar):
    """:func:`_c_parse` through pandas' ``read_csv`` (module ``pd``), or None.

    Every field is parsed as a float64 (dtype float64: pandas 3.1 rounds as
    ``float()``, to the bits), with no NA values (an empty field, ``NA`` or
    ``nan`` is refused) and blank lines read as rows (refused, as is a line
    of spaces, which pandas would otherwise skip). A column of a part that
    pandas cannot parse as floats it infers, and casts to float64 if it
    safely can: only booleans (``True``, ``false``: 1.0 and 0.0, where
    ``float()`` refuses them), so text with one of their letters, which no
    finite number has, is refused, but in columns not parsed (a label, an
    ID); and rows of more than :data:`_PANDAS_WIDTH` fields. The table grows
    in place, a part of pandas' rows at a time (``chunksize``): no second
    table.
    """
    if isinstance(source, list):
        first = source[0]
    else:
        # one opening of the file for the offset and the parse: a file
        # replaced between two was read from the first one's offset (a
        # first row 1234 read as 34)
        f = open_regular(source, DataError)
        try:
            offset, first = _line_start(f, skip)
        except BaseException:
            f.close()
            raise
    width = first.count(delimiter) + 1
    # (not after a byte-order mark, which pandas drops)
    if not first.isascii() or width > _PANDAS_WIDTH:
        if not isinstance(source, list):
            f.close()
        return None
    if isinstance(source, list):
        text = "".join(source)
        letters = _letters(text)
        if letters and usecols is not None and quotechar is None:
            rows = [line.split(delimiter) for line in source]
            unused = set(range(len(rows[0]))).difference(usecols)
            letters -= _letters("".join([row[j] for row in rows for j in unused
                                         if j < len(row)]))
        if letters:
            return None
        f = StringIO(text)   # (not encoded: a copy fewer of the block)
    table, m = None, 0
    with f:
        if not isinstance(source, list):
            f.seek(offset)
            while chunk := f.read(1 << 20):   # (every column is parsed)
                if _letters(chunk) or _holds_loadtxt_space(chunk):
                    return None
            f.seek(offset)
        cols = None if usecols is None else sorted(usecols)
        try:
            with pd.read_csv(f, sep=delimiter, header=None, usecols=cols,
                             dtype=np.float64, engine="c", na_filter=False,
                             skip_blank_lines=False, quotechar='"',
                             quoting=csv.QUOTE_NONE if quotechar is None
                             else csv.QUOTE_MINIMAL, encoding="utf-8",
                             compression=None,
                             chunksize=max(1, _PANDAS_FIELDS // width)) as reader:
                for part in reader:
                    part = part.to_numpy()
                    if part.dtype != np.float64:
                        return None
                    if usecols is not None and cols != list(usecols):
                        part = part[:, np.searchsorted(cols, usecols)]
                    if table is None:
                        table = np.empty((len(part), part.shape[1]))
                    if m + len(part) > len(table):
                        # in place, as far as the allocator can: no second table
                        table.resize((2 * (m + len(part)), table.shape[1]),
                                     refcheck=False)
                    table[m:m + len(part)] = part
                    m += len(part)
        except (ValueError, OverflowError):
            return None
    if table is not None:
        table.resize((m, table.shape[1]), refcheck=False)
    return table


def _holds_loadtxt_space(data):
    """Whether ``data`` (bytes, or a binary file, read from where it is to
    its end) holds a byte of :data:`_LOADTXT_SPACES`."""
    if isinstance(data, bytes):
        return any(space in data for space in _LOADTXT_SPACES)
    while chunk := data.read(1 << 20):
        if _holds_loadtxt_space(chunk):
            return True
    return False


def _letters(text):
    """How many letters of pandas' booleans ``text`` (str or bytes) holds."""
    return sum(map(text.count, _BOOLEAN_LETTERS if isinstance(text, str)
                   else _BOOLEAN_LETTERS.encode()))


def _line_start(f, skip):
    """``(offset, line)``: the byte offset of line ``skip + 1`` of the
    binary file ``f`` and that line (decoded as Latin-1), its lines ending
    as the csv module's (``\\n``, ``\\r\\n`` or ``\\r``); ``f`` is left
    open, its position anywhere."""
    text = TextIOWrapper(f, encoding="latin-1", newline="")
    try:
        offset = sum(len(text.readline()) for _ in range(skip))
        return offset, text.readline()
    finally:
        text.detach()


def _csv_exact(path, delimiter, header, feats, t, parse=True, model=False):
    """Row-by-row reader: every error names its line and column; labels
    parsed as numbers when every one is (``parse``), else text; ``model``:
    the features are a model's (:func:`_bad_fields`)."""
    chunks, labels = [], []
    # a block's rows are lists of Python strings (some 70 bytes a field):
    # blocks of _EXACT_FIELDS fields, not of _CHUNK_ROWS rows whatever the
    # width (65,536 rows of 300 columns held 1 GB of strings, 24 times the
    # file they came from)
    rows = max(1, min(_CHUNK_ROWS, _EXACT_FIELDS // max(1, len(feats))))
    for X, y, _ in _csv_blocks(path, delimiter, header, feats, t, rows, None, model):
        chunks.append(X)
        if y is not None:
            labels.append(y)
    if not chunks:
        raise DataError(path, "has a header but no data rows")
    X = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    del chunks
    y = None if t is None else np.concatenate(labels)
    return X, y if y is None or not parse else _parse_labels(y)


def _csv_blocks(path, delimiter, header, feats, t, block_rows, keep=None,
                model=False):
    """Yield ``(X, labels, kept)`` blocks of up to ``block_rows`` data rows.

    ``X`` is float64; ``labels`` an array of the target column's strings (None
    without a target); ``kept`` column ``keep``'s fields, stripped, as
    :func:`read_column` reads them (None without ``keep``). Every error
    names its line and column (:func:`_bad_fields`; ``model``: the
    features are a model's).

    A block's lines are read first and parsed by ``np.loadtxt``'s C parser
    when they are all :data:`_LOADTXT_SAFE` (no quote: a line is a row) and
    every row is good; any other block, or one with a problem, is read by
    the csv module row by row, which finds the problem's line.
    """
    k = len(header)
    rows, lines, labels, kept = [], [], [], []
    end = 0  # the last line of the previous row: a row starts on the next one

    def block():
        X = None
        if _plain("".join(itertools.chain.from_iterable(rows))):
            # (else float(), which converts them, would take 1_5 or ١٢)
            try:
                X = np.array(rows, dtype=np.float64)
            except ValueError:
                pass
        if X is None:
            _raise_bad_number(path, header, feats, rows, lines, model)
            # every field a number (a space beyond ASCII around one)
            X = np.array(rows, dtype=np.float64)
        bad = ~np.isfinite(X)
        if bad.any():
            i = int(np.argwhere(bad)[0][0])
            raise _bad_fields(path, header, feats, rows[i], lines[i], model)
        out = (X.reshape(len(rows), len(feats)),
               None if t is None else np.array(labels),
               None if keep is None else np.array(kept, dtype=str))
        rows.clear()
        lines.clear()
        labels.clear()
        kept.clear()
        return out

    def malformed(exc, now):
        """``exc`` from the csv module, ``now`` the last line it read."""
        line = end + 1
        where = f"; this row runs on to line {now}" if now > line else ""
        return DataError(path, f"malformed CSV ({exc}{where})", line=line)

    def exact(source, first):
        """The csv module's rows of ``source``, text lines from line
        ``first`` on, until a block is full: ``(block or None at the end,
        lines read)``."""
        nonlocal end
        end = first - 1
        reader = csv.reader(source, delimiter=delimiter)
        try:
            for row in reader:
                # a quoted field may span lines: errors name the row's first
                start, end = end + 1, first - 1 + reader.line_num
                if not row:
                    continue  # blank line
                if len(row) != k:
                    spans = ""
                    if end > start:
                        spans = (f"; this row runs on to line {end}: is a quote "
                                 "(\") left open?")
                    elif not any(c.strip() for c in row):
                        spans = ": the line holds only spaces: delete it"
                    raise DataError(path, f"expected {k} fields (as in the header), "
                                    f"got {len(row)}{spans}", line=start)
                rows.append([row[j] for j in feats])
                lines.append(start)
                if t is not None:
                    label = row[t].strip()
                    if not label:
                        empty = "" if any(c.strip() for c in row) else (
                            ": the line holds only delimiters (an empty row of "
                            "a spreadsheet?): delete it")
                        raise DataError(path, f"empty value in the target column "
                                        f"{header[t]!r}{empty}", line=start)
                    if _non_finite(label):  # NaN, inf, or too large: 1e999
                        raise DataError(path, f"the label {_clip(label)} in column "
                                        f"{header[t]!r} is not a finite number",
                                        line=start)
                    labels.append(label)
                if keep is not None:
                    kept.append(row[keep].strip())
                if len(rows) >= block_rows:
                    return block(), reader.line_num
        except csv.Error as exc:
            raise malformed(exc, first - 1 + reader.line_num) from None
        return (block() if rows else None), reader.line_num

    def fast(text_lines, n):
        """The block of ``text_lines`` (``n`` of them not blank, each a row)
        through ``np.loadtxt``, or None for :func:`exact` to read it."""
        text = "".join(text_lines)
        if not text.isascii() or text.encode("ascii").translate(None, _LOADTXT_SAFE):
            return None
        if n != len(text_lines):
            text_lines = [s for s in text_lines if s not in _BLANK_LINES]
        if set(map(operator.methodcaller("count", delimiter), text_lines)) != {k - 1}:
            return None
        if t is not None:
            texts = column(text_lines, t)
            distinct = set(texts)
            if "" in distinct or any(map(_non_finite, distinct)):
                return None
        X = _c_parse(text_lines, delimiter, size, usecols=feats)
        if X is None or X.shape != (n, len(feats)) or not np.isfinite(X).all():
            return None
        return (X, None if t is None else np.array(texts),
                None if keep is None else np.array(column(text_lines, keep),
                                                   dtype=str))

    def column(text_lines, j):
        """Column ``j``'s fields, stripped (so with or without the line
        break), of lines of ``k`` fields."""
        if j == k - 1:
            return [s.rsplit(delimiter, 1)[-1].strip() for s in text_lines]
        return [s.split(delimiter, j + 1)[j].strip() for s in text_lines]

    def failing(exc):
        raise exc
        yield  # (a generator)

    try:
        with _FIELD_LIMIT.held(), _open_text(path) as f:
            size = os.fstat(f.fileno()).st_size
            reader = csv.reader(f, delimiter=delimiter)
            try:
                for row in reader:
                    end = reader.line_num
                    if row and any(c.strip() for c in row):
                        break   # the header
            except csv.Error as exc:
                raise malformed(exc, reader.line_num) from None
            read = end
            while True:
                text_lines, n = [], 0
                try:
                    for line in f:
                        text_lines.append(line)
                        if line not in _BLANK_LINES:
                            n += 1
                            if n >= block_rows:
                                break
                except UnicodeDecodeError as exc:
                    # the rows read before it are checked, as they were read
                    exact(itertools.chain(text_lines, failing(exc)), read + 1)
                    raise
                if not n:
                    return
                out = fast(text_lines, n)
                if out is None:
                    out, count = exact(itertools.chain(text_lines, f), read + 1)
                    read += count
                else:
                    read += len(text_lines)
                end = read
                yield out
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def _raise_bad_number(path, header, feats, rows, lines, model=False):
    """Raise :func:`_bad_fields` for the first row of ``rows`` (on
    ``lines``) with a field that is not a number (:func:`_is_number`);
    return if every one is."""
    for row, line in zip(rows, lines, strict=True):
        for text in row:
            if not text.strip() or not _is_number(text):
                raise _bad_fields(path, header, feats, row, line, model)


#: Fields pandas' ``read_csv`` takes for a missing value (its default
#: ``na_values``), as R, spreadsheets and databases write one.
_MISSING_MARKS = frozenset((
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"))

#: A number written with a decimal comma or a thousands separator.
_COMMA_NUMBER = re.compile(r"[+-]?[\d.]*\d[\d.]*(,[\d.]*\d[\d.]*)+")

#: Fields of a line an error names besides the first.
_OTHERS_SHOWN = 8


def _field_kind(text):
    """Why the CSV feature field ``text`` is refused: ``"empty"``,
    ``"missing"`` (a mark of :data:`_MISSING_MARKS`), ``"infinite"``,
    ``"comma"`` (:data:`_COMMA_NUMBER`), ``"text"`` (it holds a letter) or
    ``"other"``; None if it is a finite number."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if _is_number(text):
        if math.isfinite(float(text)):
            return None
        return "missing" if stripped in _MISSING_MARKS else "infinite"
    if stripped in _MISSING_MARKS:
        return "missing"
    if _COMMA_NUMBER.fullmatch(stripped):
        return "comma"
    return "text" if any(map(str.isalpha, stripped)) else "other"


def _bad_fields(path, header, feats, row, line, model=False):
    """The DataError for the first refused field of ``row`` (the features
    of a CSV ``line``), naming its column: with the line's other refused
    fields (a file with six text columns takes one run to mend, not seven)
    and what to do: leave text columns out with ``drop`` (``--drop``; for a
    ``model``, whose features cannot be left out, encode them), fill in
    missing values, write numbers with a decimal point. Only on an error:
    a read passes each field once."""
    bad = [(j, kind) for j, text in enumerate(row) if (kind := _field_kind(text))]
    j, kind = bad[0]
    name, text = header[feats[j]], row[j]
    if kind == "empty":
        message = f"empty value in column {name!r} (missing values are not supported)"
    elif _is_number(text):
        message = (f"column {name!r}: {_clip(text)} is not a finite number (no NaN, "
                   "inf or missing values)")
    else:
        message = f"column {name!r}: {_clip(text)} is not a number"
    if len(row) > 1 and len(bad) == len(row) and {k for _, k in bad} == {"empty"}:
        return DataError(path, f"{message}; this line's features are all empty (an "
                         "empty row of a spreadsheet?): delete the line", line=line)
    if len(bad) > 1:
        shown = [f"{header[feats[i]]!r} ({'empty' if k == 'empty' else _clip(row[i])})"
                 for i, k in bad[1:_OTHERS_SHOWN + 1]]
        more = f", ... ({len(bad) - 1} in all)" if len(bad) > _OTHERS_SHOWN + 1 else ""
        message += f"; on this line also: {', '.join(shown)}{more}"
    hints = []
    texts = [feats[i] for i, k in bad if k == "text"]
    if texts and model:
        hints.append("the model's features are numbers: encode these columns as "
                     "they were for training")
    elif texts:
        given = [_column_ref(header, i) for i in texts]
        hints.append(f"text columns are not features: leave them out with "
                     f"{_typed('drop', given)} ({_typed('--drop', given)} on the "
                     "command line), or encode them as numbers")
    commas = [row[i] for i, k in bad if k == "comma"]
    if commas:
        hints.append(f"{_clip(commas[0])} has a decimal comma (or a thousands "
                     "separator): numbers are read with a decimal point and no "
                     "separator (1234.5): save the file with '.' as the decimal "
                     "separator (a locale setting)")
    marks = list(dict.fromkeys(row[i].strip() for i, k in bad if k == "missing"))
    if marks:
        hints.append(f"{' and '.join(map(_clip, marks))} mark"
                     f"{'s a missing value' if len(marks) == 1 else ' missing values'}"
                     ", and missing values are not supported: fill them in, or "
                     "drop those rows")
    elif any(k == "empty" for _, k in bad):
        hints.append("fill in the missing values, or drop those rows")
    return DataError(path, "".join([message] + [f". {h[0].upper()}{h[1:]}"
                                                 for h in hints]), line=line)


def _clip(text, limit=40):
    """``repr(text)``, shortened for an error message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _non_finite(text):
    """Whether ``text`` is a number (:func:`_is_number`) that is not finite."""
    try:
        value = float(text)
    except ValueError:
        return False
    return not math.isfinite(value) and _plain(text.strip())


def csv_labels(path, text):
    """A CSV's labels ``text`` (an array of its label fields, stripped)
    typed as :func:`read_dataset` types a file's: numbers when every one
    is (int64 when every one is whole), else the text; ``path`` names the
    file in errors."""
    return _tidy_labels(path, _parse_labels(text))


def _parse_labels(text):
    """CSV labels: numbers when every label is one (:func:`_is_number`),
    else strings; integers beyond int64 as uint64 (as pandas reads them)
    before float64, where 2**64 - 1 and 2**64 - 2 are one number."""
    if not _plain(text):   # (the labels are stripped)
        return text   # NumPy's casts, as float(), take 1_0 (10) and ١٢ (12)
    for dtype in (np.int64, np.uint64):
        try:
            return text.astype(dtype)
        except (ValueError, OverflowError):
            pass
    try:
        return text.astype(np.float64)
    except ValueError:
        return text


# --------------------------------------------------------------------------
# svmlight / libsvm


def _read_svmlight(spec, zero_based):
    from sklearn.datasets import load_svmlight_file

    if spec.target is not None:
        raise DataError(spec.path, "svmlight files have no target column to "
                        "choose: the label is the first field of each line")
    for first, block in _line_blocks(spec.path, _CHECK_BYTES):
        _check_svmlight_lines(spec.path, block, first)
    try:
        # raw indices; the base is resolved below
        with _open_binary(spec.path) as f:
            X, y = load_svmlight_file(f, zero_based=True, dtype=np.float64)
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        line, problem = _svmlight_bad_line(spec.path)
        raise DataError(spec.path, problem or f"not a valid svmlight/libsvm file "
                        f"({exc})", line=line) from None
    if zero_based is None:
        # scikit-learn's "auto": one-based unless some index is 0
        zero_based = _has_index_zero(X)
    def line_of(i):  # a second read of the file, only for an error
        return _svmlight_data_lines(spec.path)[i]

    if not zero_based:
        if _has_index_zero(X):
            raise DataError(spec.path, _INDEX_ZERO,
                            line=line_of(_first_row_at_or_above(X, 0, upto=0)))
        X = _drop_index_base(X)
    n = spec.n_features
    unseen = None
    if n is not None:
        if X.shape[1] > n:
            if spec.unseen != "ignore":
                raise _mismatch(spec, X.shape[1], columns=False,
                                line=line_of(_first_row_at_or_above(X, n)))
            unseen = X.shape[1]
            X, entries, rows = _cut_to_width(X, n)
        if X.shape[1] < n:  # trailing features absent from the file are zeros
            X = _with_width(X, n)
    if X.shape[1] == 0:
        raise _featureless(spec.path)
    X = _canonical_csr(X)
    _check_finite_csr(spec.path, X, line_of=line_of)
    y = _tidy_labels(spec.path, y, line_of=line_of)
    if unseen is not None and entries:
        _said_unseen(spec, unseen, entries, rows)
    return Dataset(X, y, NumberedNames(X.shape[1]), None, "svmlight", zero_based)


def _cut_to_width(X, n):
    """CSR ``X`` without its entries at columns ``n`` and above, ``n``
    columns wide: ``(X, entries left out, rows that held one)``."""
    from scipy import sparse

    nnz = int(X.indptr[-1])
    out = X.indices[:nnz] >= n
    before = np.concatenate(([0], np.cumsum(out)))   # left out before entry k
    per_row = np.diff(before[X.indptr])
    keep = ~out
    X = sparse.csr_matrix((X.data[:nnz][keep], X.indices[:nnz][keep],
                           X.indptr - before[X.indptr]), shape=(X.shape[0], n))
    return X, int(before[-1]), int(np.count_nonzero(per_row))


def _said_unseen(spec, k, entries, rows):
    """Warn that ``entries`` entries in ``rows`` rows of the svmlight file
    (``k`` features wide) were left out for a model of fewer features
    (``unseen_features="ignore"``)."""
    said = (f"{spec.path}: ignored {entries:,} "
            f"{'entry' if entries == 1 else 'entries'} in {rows:,} "
            f"row{'' if rows == 1 else 's'} at feature indices beyond ")
    if spec.n_features_of == "n_features":
        said += (f"n_features={spec.n_features:,} (this file has {k:,} features), "
                 "as unseen_features='ignore' asks")
    else:
        said += (f"the model's {spec.n_features:,} features (this file has {k:,}), "
                 "as LIBSVM ignores them: the file the model was trained on had no "
                 "such feature, so its weight for each is 0 and leaving them out "
                 "changes no prediction")
    warnings.warn(said, UserWarning, stacklevel=2)


#: What an index 0 in a file read as 1-based (``zero_based=False``: asked
#: for, or a model's base) says, whether the file is read whole or in parts.
_INDEX_ZERO = ("has feature index 0 in a file read with 1-based indices: a model "
               "trained on 1-based indices (its training file had no index 0) "
               "takes none, so train it again on 0-based indices (fastlr train "
               "--zero-based yes); without such a model, a file whose indices "
               "start at 0 is read with zero_based=True (--zero-based yes on the "
               "command line)")


def _first_row_at_or_above(X, j, upto=None):
    """The first row of CSR ``X`` storing an entry at a column >= ``j``
    (with ``upto``: in ``j..upto``)."""
    nnz = int(X.indptr[-1])
    hit = X.indices[:nnz] >= j
    if upto is not None:
        hit &= X.indices[:nnz] <= upto
    k = int(np.argmax(hit))
    return int(np.searchsorted(X.indptr, k, side="right")) - 1


def _has_index_zero(X):
    """Whether the loader's raw-index CSR stores an entry at index 0."""
    nnz = int(X.indptr[-1])
    return bool(nnz) and int(X.indices[:nnz].min()) == 0


def _drop_index_base(X):
    """A 1-based file's raw-index CSR with every index one lower (no index 0)."""
    from scipy import sparse

    m, width = X.shape
    return sparse.csr_matrix((X.data, X.indices - 1, X.indptr),
                             shape=(m, max(width - 1, 0)))


def _with_width(X, n):
    """X with ``n`` columns: the trailing ones have no entries (all zero)."""
    from scipy import sparse

    return sparse.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n))


def _canonical_csr(X):
    """float64 CSR with sorted indices, no duplicates and no stored zeros.

    scikit-learn's loader already refuses unsorted or repeated indices on a
    line; this makes the form a guarantee whatever the loader's version.
    """
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    if not X.has_canonical_format:
        X.sum_duplicates()
    X.eliminate_zeros()  # "3:0" in the file: keeps NaN, drops 0.0
    return X


def _check_finite_csr(path, X, line_of=None):
    """As :func:`_check_finite_rows` for a CSR matrix, without densifying.

    The first non-finite stored value in row-major order (the CSR's data
    order: rows in turn, indices sorted) is the one a dense scan would find.
    """
    nnz = int(X.indptr[-1])
    bad = ~np.isfinite(X.data[:nnz])
    if not bad.any():
        return
    k = int(np.argmax(bad))
    i = int(np.searchsorted(X.indptr, k, side="right")) - 1
    j = int(X.indices[k])
    line = None if line_of is None else line_of(i)
    row = "" if line is not None else f"row {i + 1}, "
    raise DataError(path, f"{row}feature {j + 1} is {X.data[k]}; fastlr needs "
                    "finite numbers (no NaN, inf or missing values)", line=line)


def _svmlight_data_lines(path):
    """Line numbers (1-based) of the lines that hold a sample."""
    with _open_binary(path) as f:
        return _svmlight_data_numbers(f)


def _svmlight_data_numbers(lines, first=1):
    """The numbers of the ``lines`` (bytes, the first numbered ``first``)
    that hold a sample."""
    return [number for number, raw in enumerate(lines, first)
            if _holds_sample(raw)]


def _holds_sample(raw):
    """Whether the line ``raw`` (bytes) holds a sample: something besides
    whitespace before its comment, if any."""
    return bool(raw.split(b"#", 1)[0].strip())


def _featureless(path):
    """The :class:`DataError` of an svmlight file in which no line has a
    feature: "no data rows" when none holds a sample either (an empty file,
    comments, blank lines: as a read at a model's width says), else "has no
    features" (lines of labels alone). A second read of the file, for the
    error only."""
    with _open_binary(path) as f:
        rows = any(_holds_sample(raw) for raw in f)
    return DataError(path, "has no features" if rows else "no data rows")


#: The bytes a line starts with when it may not hold a sample: ASCII
#: whitespace (as ``bytes.strip`` strips) and ``#``.
_MAYBE_NO_SAMPLE = np.zeros(256, dtype=bool)
_MAYBE_NO_SAMPLE[list(b" \t\n\r\x0b\x0c#")] = True


def _svmlight_data_ends(block):
    """The offsets just past each line of ``block`` (bytes of whole lines,
    the last may end without a newline) that holds a sample: a line that
    starts with another byte than those of :data:`_MAYBE_NO_SAMPLE` does;
    the others are asked :func:`_holds_sample` one by one."""
    text = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(text == ord("\n")) + 1
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(block))
    starts = np.concatenate(([0], ends[:-1]))
    maybe = np.flatnonzero(_MAYBE_NO_SAMPLE[text[starts]])
    if maybe.size:
        holds = np.ones(ends.size, dtype=bool)
        for i in maybe.tolist():
            holds[i] = _holds_sample(block[starts[i]:ends[i]])
        ends = ends[holds]
    return ends


def _check_svmlight_lines(path, block, first=1):
    """Raise the first of the lines ``block`` (bytes, the first numbered
    ``first``) that fastlr's rule (:func:`_svmlight_line_problem`)
    refuses, naming it: every read applies the rule, the scan as it finds
    the width, a read of a file whose width is known before scikit-learn's
    loader, which takes some of those lines (an index ``1_0`` or ``-0``,
    any qid). A block :func:`_loader_reads_as_fastlr` passes (a few passes
    in C) is left to the loader."""
    if not _loader_reads_as_fastlr(block):
        line, problem = _svmlight_first_problem(io.BytesIO(block), first)
        if problem:
            raise DataError(path, problem, line=line)


def _svmlight_bad_line(path):
    """(line, problem) for the first line that does not parse, or (None, None)."""
    try:
        with _open_binary(path) as f:
            return _svmlight_first_problem(f)
    except OSError:
        return None, None


def _svmlight_first_problem(lines, first=1):
    """(number, problem) of the first of ``lines`` (bytes, the first
    numbered ``first``) that does not parse, or (None, None)."""
    for number, raw in enumerate(lines, first):
        problem = _svmlight_line_problem(raw)
        if problem:
            return number, problem
    return None, None


#: Printable ASCII and ASCII whitespace: see :func:`_loader_reads_as_fastlr`.
_PLAIN_BYTES = bytes(range(0x20, 0x7f)) + b"\t\n\x0b\x0c\r"
#: ``-`` and zeros before a colon: an index ``int()`` reads as 0.
_MINUS_ZERO_INDEX = re.compile(rb"-0+:")


def _loader_reads_as_fastlr(block):
    """Whether scikit-learn's loader, if it accepts the lines ``block``
    (bytes), finds the indices :func:`_svmlight_scan_lines` finds in them
    and no line :func:`_svmlight_line_problem` refuses. It does when the
    block holds only printable ASCII and ASCII whitespace (both split
    tokens at ASCII whitespace and read numbers from their bytes), no
    ``_`` (``int()`` takes an index ``1_0``), no ``qid`` (the
    loader skips a first token that only starts with it, whatever its
    value) and no ``-0:`` (an index ``int()`` reads as 0). A few passes over
    the bytes, in C; a comment holding one of them only costs the speed."""
    # (b"q" first: one byte is found by memchr, 15 times as fast as b"qid")
    return not (block.translate(None, _PLAIN_BYTES) or b"_" in block
                or (b"q" in block and b"qid" in block)
                or _MINUS_ZERO_INDEX.search(block))


#: scikit-learn's svmlight parser keeps indices in a C int.
_MAX_SVMLIGHT_INDEX = 2**31 - 1
#: An svmlight feature index, and a qid, as fastlr takes them.
_SVMLIGHT_INDEX = re.compile(rb"\+?[0-9]+")
_SVMLIGHT_QID = re.compile(rb"[0-9]+")


def _svmlight_line_problem(raw):
    """:func:`_svmlight_tokens_problem`, with what a line's odd bytes
    probably mean: a UTF-8 byte order mark before the first label (saved
    by Notepad and Excel), or lines that end in a carriage return alone
    (classic Mac OS), which the readers (scikit-learn's too) take as one
    line."""
    problem = _svmlight_tokens_problem(raw)
    if problem is None:
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        return (f"{problem}: the file starts with a UTF-8 byte order mark "
                "(BOM); save it without one")
    if b"\r" in raw.split(b"#", 1)[0].rstrip(b"\r\n"):
        return (f"{problem}: its lines end in a carriage return alone (\\r, "
                "classic Mac OS), so they read as one line; convert them to "
                "\\n (tr '\\r' '\\n' < FILE > NEW)")
    return problem


def _svmlight_tokens_problem(raw):
    """What scikit-learn's parser (or fastlr) would refuse on this line, in
    words, or None: the label, each ``index:value`` token, the optional
    leading ``qid:``, and indices that are in range, sorted and unique. A
    comment may hold any bytes, and an index a ``+`` sign, as for the
    whole-file reader (scikit-learn's). Tokens are split at ASCII
    whitespace and their numbers read from their bytes, as the loader
    splits and reads them: ``str.split`` also splits at U+00A0 or \\x1c,
    and ``float()`` of text takes ``"1\\xa0"``, where the loader refuses
    the line."""
    # (b"#" is no part of a UTF-8 sequence: cut before decoding)
    data = raw.split(b"#", 1)[0]
    try:
        data.decode("utf-8")   # (so each token's bytes decode, for a message)
    except UnicodeDecodeError:
        return "not text (is it really an svmlight file?)"
    tokens = data.split()
    if not tokens:
        return None
    label = tokens[0]
    if b"," in label and all(_is_float(t) for t in label.split(b",")):
        return (f"the label {label.decode()!r} lists several labels; fastlr reads "
                "one label per line (multi-label files are not supported)")
    if not _is_float(label):
        return f"the label {label.decode()!r} is not a number"
    previous = None
    for position, token in enumerate(tokens[1:]):
        index, sep, value = token.partition(b":")
        if not sep:
            return f"{token.decode()!r} is not of the form index:value"
        if index == b"qid":
            if position:
                return (f"{token.decode()!r}: qid must come first, right after "
                        "the label")
            if not _SVMLIGHT_QID.fullmatch(value):
                return f"bad qid {value.decode()!r}"
            continue
        if not _SVMLIGHT_INDEX.fullmatch(index):
            return f"bad feature index {index.decode()!r} in {token.decode()!r}"
        number = int(index)
        if number > _MAX_SVMLIGHT_INDEX:
            return (f"feature index {index.decode()} is too large (svmlight "
                    f"indices are at most 2**31 - 1 = {_MAX_SVMLIGHT_INDEX})")
        if previous is not None and number <= previous:
            what = "repeated" if number == previous else "not in increasing order"
            return (f"feature index {index.decode()} after {previous}: indices on "
                    f"a line must be sorted and unique ({what})")
        previous = number
        if not _is_float(value):
            return f"feature {index.decode()}: {value.decode()!r} is not a number"
    return None
