"""The ``fastlr`` command line (``fastlr ...`` or ``python -m fastlr ...``).

Subcommands: ``demo``, ``train``, ``predict``, ``evaluate``, ``export``,
``verify``, ``bench`` and ``compile``; ``fastlr COMMAND --help`` describes
each. Data
files are read by :mod:`fastlr.io`, models are written and read by
:func:`fastlr.save` and :func:`fastlr.load`. svmlight/libsvm files stay
sparse (a CSR matrix) from the file through training and prediction: they
are never densified, so files with millions of features work in memory
proportional to their non-zeros.

``fastlr train`` has an option for every parameter of
:class:`fastlr.LogisticRegression` (:data:`TRAIN_PARAMS`, one entry each; a
test checks that none is missing) and trains binary or multinomial models as
the estimator does. Its data checks come before training: the output paths
must be writable, and a misspelt ``--target``, ``--drop`` or ``--id`` column
is named with the closest column of the header.

Exit status (:data:`EXIT_STATUS`, the epilog of every ``--help``): 0 on
success; 1 when a command fails (bad input, unreadable file, ``verify``
finding a mismatch), with one ``fastlr: error: ...`` line on stderr and no
traceback unless ``--debug`` is given; 2 for a usage error (argparse's: an
unknown option, or an option's value out of its range); 130 when
interrupted (Ctrl-C; SIGTERM and SIGHUP end a command the same way, with 128
plus the signal's number: 143, 129); 1, with nothing printed, when the reader of the
output goes away (a broken pipe, ``fastlr predict ... | head``), as
Python's documentation of ``SIGPIPE`` does it.
"""

import argparse
import contextlib
import csv
import difflib
import errno
import itertools
import os
import re
import secrets
import shlex
import signal
import stat
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from io import StringIO, TextIOWrapper

import numpy as np

from . import __version__
from ._choices import LEARNING_RATES, PENALTIES
from ._driver import DivergedError
from ._files import file_kind, link_target, save_png, write_atomic
from ._validation import (
    FIT_SAVE_BYTES_PER_COLUMN,
    SHOWN,
    NotEnoughMemory,
    check_memory,
    classes_apart,
    first_repeated,
    is_text,
    refuse_continuous,
    shown,
    single_row_classes,
    standardize_option,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2   # argparse's
EXIT_INTERRUPTED = 130

#: The exit statuses, as every ``--help`` ends.
EXIT_STATUS = (
    f"exit status: {EXIT_OK} on success; {EXIT_FAILURE} when the command fails "
    "(bad data, an unreadable file, verify finding a mismatch), with one "
    "'fastlr: error: ...' line on stderr (--debug: the traceback); "
    f"{EXIT_USAGE} for a usage error (an unknown option, or an option's value "
    f"out of its range), after the usage lines; {EXIT_INTERRUPTED} when "
    f"interrupted (Ctrl-C; 143 on SIGTERM, 129 on SIGHUP). When the reader "
    f"of the output goes away (fastlr predict ... | head), the command stops "
    f"quietly, nothing on stderr, with status {EXIT_FAILURE}.")


class CLIError(Exception):
    """A problem to report to the user as one line, without a traceback."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread as Ctrl-C's
    KeyboardInterrupt is, so that what Ctrl-C cleans up (a write's
    temporary file, a progress bar) is cleaned up alike."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


#: The signals that end a command as Ctrl-C does (:func:`_ending_signals`).
_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                        if hasattr(signal, name))


@contextlib.contextmanager
def _ending_signals():
    """While a command runs, SIGTERM and SIGHUP (``kill``, ``timeout``, a CI
    job cancelled, a terminal closed) raise :class:`_Terminated`: by
    default they ended the process at once, leaving a temporary file as
    large as the output. A signal ignored (``nohup``) stays ignored; the
    previous handlers are restored after. Only the main thread can set
    handlers: elsewhere they are left alone."""

    def handler(signum, frame):
        raise _Terminated(signum)

    previous = {}
    try:
        for sig in _ENDING_SIGNALS:
            old = signal.getsignal(sig)
            if old is None or old == signal.SIG_IGN:
                continue   # (None: a handler not set from Python)
            try:
                signal.signal(sig, handler)
            except ValueError:   # not the main thread
                break
            previous[sig] = old
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --------------------------------------------------------------------------
# argument types


def _float_type(minimum=None, maximum=None, strict_min=False, strict_max=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
        if minimum is not None and (value <= minimum if strict_min else value < minimum):
            op = ">" if strict_min else ">="
            raise argparse.ArgumentTypeError(f"must be {op} {minimum:g}, got {text}")
        if maximum is not None and (value >= maximum if strict_max else value > maximum):
            op = "<" if strict_max else "<="
            raise argparse.ArgumentTypeError(f"must be {op} {maximum:g}, got {text}")
        return value
    return parse


def _alpha_type(text):
    """``--alpha``: "auto" or a number >= 0."""
    return "auto" if text == "auto" else _float_type(0.0)(text)


def _int_type(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def _path_type(text):
    # a file or folder to read or write: an empty string (an unset shell
    # variable, --model "$OUT") named none, and was taken for the option
    # not given: trained for hours, saved nothing, exit 0
    if not text:
        raise argparse.ArgumentTypeError("an empty path names no file or folder")
    return text


def _jobs_type(text):
    # precompile's n_jobs: -1 (one per CPU) or a count, as scikit-learn's
    value = _int_type(-1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be -1 or >= 1, got 0")
    return value


def _tol_type(text):
    if text.lower() == "none":
        return None
    return _float_type(minimum=0.0)(text)


def _delimiter_type(text):
    text = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"must be one character (or 'tab'), "
                                         f"got {text!r}")
    return text


def _average_type(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected the step to start averaging at (an integer >= 1), got "
            f"{text!r}; give it as --average=N") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _class_weight_type(text):
    """'balanced', or LABEL:WEIGHT pairs separated by commas (labels stay text
    until the data's classes are known: see :func:`_class_weight_param`)."""
    if text.strip() == "balanced":
        return "balanced"
    pairs = []
    for item in text.split(","):
        label, sep, weight = item.rpartition(":")
        label = label.strip()
        if not sep or not label:
            raise argparse.ArgumentTypeError(
                f"expected 'balanced' or LABEL:WEIGHT[,LABEL:WEIGHT...], got "
                f"{text!r}")
        try:
            value = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"the weight of {label!r} is not a number: {weight.strip()!r}") from None
        if not np.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(
                f"the weight of {label!r} must be a finite number >= 0, got "
                f"{weight.strip()}")
        if label in (p[0] for p in pairs):
            raise argparse.ArgumentTypeError(f"label {label!r} is given twice")
        pairs.append((label, value))
    return tuple(pairs)


def _columns_type(text):
    """A ``--drop`` value, as typed (stripped): :func:`_drop_columns` splits
    it at its commas, unless it is a CSV column's name."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected column names separated by "
                                         f"commas, got {text!r}")
    return text.strip()


def _drop_columns(args, header=None):
    """The columns ``--drop`` gives: each value split at its commas, but a
    value that is a name in the CSV ``header`` taken whole (an exported
    file's ``Income, USD``, or ``Last,``; ``--drop a --drop b`` gives two
    columns whatever the header's names). A value that names a column and
    whose parts name columns too is refused (``a,b`` beside ``a`` and
    ``b``); so is a split value with an empty or repeated part (a usage
    error, as argparse's)."""
    from . import io

    columns = []
    for value in args.drop:
        parts = [c.strip() for c in value.split(",")]
        if header is not None and value in header:
            if len(parts) > 1 and all(c in header for c in parts):
                j = header.index(value)
                raise CLIError(
                    f"{args.data}: --drop {shlex.quote(value)}: names the column "
                    f"{value!r} and the columns {_fmt_labels(parts)} alike: give "
                    f"the one by its index ({io._typed('--drop', [j - len(header)])}) "
                    f"or the others one by one ("
                    f"{' '.join(io._typed('--drop', [c]) for c in parts)})")
            columns.append(value)
            continue
        if not all(parts):
            args.data_parser.error(f"argument --drop: expected column names "
                                   f"separated by commas, got {value!r}")
        if len(set(parts)) != len(parts):
            args.data_parser.error(f"argument --drop: a column is named twice in "
                                   f"{value!r}")
        columns += parts
    return columns


def _column_type(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a column name or index")
    return text.strip()


# --------------------------------------------------------------------------
# the estimator's parameters as options of `fastlr train`


def _same(value):
    return value


def _show(value):
    """A parameter's value as written on the command line."""
    if value is None:
        return "none"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


@dataclass(frozen=True)
class Param:
    """One parameter of :class:`fastlr.LogisticRegression` as an option of
    ``fastlr train``.

    Attributes
    ----------
    name : str
        The estimator's parameter.
    flags : tuple of str
        The option's spellings; the first is the main one.
    help : str
        What it does; ``--help`` appends the default.
    default : object
        The parameter's value when the option is not given (the estimator's
        default unless ``own_default`` says why not).
    kwargs : dict
        More ``add_argument`` arguments: ``type`` (parses and validates the
        text, naming the option in its error), ``choices``, ``metavar``,
        ``nargs``, ``const``, ``action``.
    to_param : callable
        The parsed value -> the parameter's value.
    show : callable
        The parameter's value -> how ``--help`` writes the default.
    aliases : tuple of (flags, parsed value, help)
        Extra options that set a fixed value (``--no-shuffle``).
    own_default : str
        Why the command line's default differs from the estimator's, or "".
    example : tuple of (argv, parameter value)
        A non-default use of the option and the parameter it gives; the
        tests train once with every example and check the saved model.
    """

    name: str
    flags: tuple
    help: str
    default: object
    kwargs: dict = field(default_factory=dict)
    to_param: Callable = _same
    show: Callable = _show
    aliases: tuple = ()
    own_default: str = ""
    example: tuple = ()

    @property
    def dest(self):
        return "param_" + self.name


#: Every parameter of ``fastlr.LogisticRegression``, in ``--help`` order.
#: Adding a parameter to the estimator means adding its entry here.
TRAIN_PARAMS = (
    Param("solver", ("--solver",),
          "how to fit: auto (one SGD epoch, then L-BFGS to the optimum of the "
          "regularized objective, stopped by --tol as a relative decrease of "
          "the objective), sgd (SGD epochs only, stopped by --tol and "
          "--n-iter-no-change) or lbfgs (L-BFGS from zero; OWL-QN with an L1 "
          "penalty); every L-BFGS iteration reads the data once", "auto",
          dict(choices=["auto", "sgd", "lbfgs"]),
          example=(["--solver", "sgd"], "sgd")),
    Param("lr", ("--lr",),
          "learning rate: the step size (scikit-learn's eta0; unused by "
          "--learning-rate optimal)", 0.01,
          dict(type=_float_type(0.0, strict_min=True), metavar="LR"),
          example=(["--lr", "0.05"], 0.05)),
    Param("batch_size", ("--batch-size",), "rows per SGD step", 32,
          dict(type=_int_type(1), metavar="N"), example=(["--batch-size", "17"], 17)),
    Param("max_iter", ("--epochs", "--max-iter"),
          "maximum number of passes over the data: SGD epochs plus L-BFGS "
          "iterations", 1000,
          dict(type=_int_type(1), metavar="N"), example=(["--epochs", "7"], 7)),
    Param("tol", ("--tol",),
          "sgd, and auto on a file read in parts or in place (SGD epochs "
          "only): stop when the epoch loss has not improved by TOL for "
          "--n-iter-no-change epochs; auto, lbfgs: stop when the objective's "
          "relative decrease is below TOL (> 0); 'none' runs every pass", 1e-4,
          dict(type=_tol_type, metavar="TOL"), example=(["--tol", "none"], None)),
    Param("n_iter_no_change", ("--n-iter-no-change",),
          "epochs without improvement before stopping (with --learning-rate "
          "adaptive: before dividing the rate by 5)", 5,
          dict(type=_int_type(1), metavar="N"),
          example=(["--n-iter-no-change", "3"], 3)),
    Param("penalty", ("--penalty",),
          "regularization of the (standardized) weights, not the intercept; "
          "l1 sets irrelevant weights to exactly 0", "l2",
          dict(choices=["none" if p is None else p for p in PENALTIES]),
          to_param=lambda v: None if v == "none" else v,
          example=(["--penalty", "elasticnet"], "elasticnet")),
    Param("alpha", ("--alpha",),
          "penalty strength: l2 minimizes mean log-loss + alpha/2 ||w||^2; "
          "scikit-learn's LogisticRegression(C) is alpha = 1 / (C x rows); "
          "auto: 1 / rows (their total weight with --class-weight), "
          "scikit-learn's C=1", "auto",
          dict(type=_alpha_type, metavar="A"),
          example=(["--alpha", "0.001"], 0.001)),
    Param("l1_ratio", ("--l1-ratio",),
          "L1 share of the elasticnet penalty, in [0, 1]", 0.15,
          dict(type=_float_type(0.0, 1.0), metavar="R"),
          example=(["--l1-ratio", "0.3"], 0.3)),
    Param("learning_rate", ("--learning-rate",),
          "step-size schedule, --lr being its base rate: constant; "
          "invscaling: lr / t**power_t, t counting steps; adaptive: divided "
          "by 5 when the loss stalls; adagrad: a step per weight from its "
          "past gradients (use --lr 0.1-1); optimal: scikit-learn's "
          "SGDClassifier default, 1 / (alpha (t0 + t - 1)), --lr unused, "
          "needs a penalty with --alpha > 0", "constant",
          dict(choices=list(LEARNING_RATES)),
          example=(["--learning-rate", "invscaling"], "invscaling")),
    Param("power_t", ("--power-t",),
          "exponent of --learning-rate invscaling, >= 0", 0.5,
          dict(type=_float_type(0.0), metavar="P"),
          example=(["--power-t", "0.25"], 0.25)),
    Param("average", ("--average",),
          "averaged SGD: the model is the mean of the iterates; --average=N "
          "averages from step N on (steps count batches)", False,
          dict(nargs="?", const=True, type=_average_type, metavar="N"),
          example=(["--average=5"], 5)),
    Param("early_stopping", ("--early-stopping",),
          "hold out --validation-fraction of the rows (stratified), stop once "
          "their log-loss has not improved by --tol for --n-iter-no-change "
          "epochs, and keep the best epoch's model", False,
          dict(action="store_const", const=True),
          aliases=((("--no-early-stopping",), False,
                    "do not stop early (when --warm-start's model did)"),),
          example=(["--early-stopping"], True)),
    Param("validation_fraction", ("--validation-fraction",),
          "hold out this fraction of the rows (stratified) and report "
          "accuracy and log-loss on them; with --early-stopping they also "
          "decide when to stop (default: 0.1 with --early-stopping, else no "
          "rows held out)", 0.1,
          dict(type=_float_type(0.0, 1.0, strict_min=True, strict_max=True),
               metavar="F"),
          show=lambda v: None,
          example=(["--validation-fraction", "0.2"], 0.2)),
    Param("class_weight", ("--class-weight",),
          "weights per class, multiplied into each row's loss: 'balanced' "
          "(rows / (classes x rows of the class)) or LABEL:W[,LABEL:W...] "
          "(unnamed classes weigh 1)", None,
          dict(type=_class_weight_type, metavar="W"),
          example=(["--class-weight", "balanced"], "balanced")),
    Param("standardize", ("--standardize",),
          "train on standardized features, folded into the kernel (no copy): "
          "auto (yes on dense data, no on sparse svmlight data, which trains "
          "as it is), yes (centered and scaled; sparse data is scaled to unit "
          "variance but not centered, which would densify it), scale (no "
          "centering) or no (raw features); the model is always in raw "
          "feature space", "auto",
          dict(choices=["auto", "yes", "scale", "no"]),
          to_param=lambda v: {"yes": True, "no": False}.get(v, v),
          aliases=((("--no-standardize",), "no", "the same as --standardize no"),),
          example=(["--standardize", "scale"], "scale")),
    Param("fit_intercept", ("--fit-intercept",),
          "fit an intercept: yes, or no (the model passes through the origin "
          "in raw feature space; --standardize yes then scales without "
          "centering)", True,
          dict(choices=["yes", "no"]),
          to_param=lambda v: v == "yes",
          show=lambda v: "yes" if v else "no",
          aliases=((("--no-intercept",), "no", "the same as --fit-intercept no"),),
          example=(["--fit-intercept", "no"], False)),
    Param("shuffle", ("--shuffle",),
          "reshuffle the rows each epoch: blocks (blocks of consecutive rows "
          "in random order: sequential memory access), rows (single rows, "
          "slower on large data) or no (file order)", True,
          dict(choices=["blocks", "rows", "no"]),
          to_param=lambda v: {"blocks": True, "no": False}.get(v, v),
          show=lambda v: {True: "blocks", False: "no"}.get(v, v),
          aliases=((("--no-shuffle",), "no", "the same as --shuffle no"),),
          example=(["--shuffle", "rows"], "rows")),
    Param("random_state", ("--random-state", "--seed"),
          "seed for the shuffling and the held-out rows (below 2**32 with "
          "--validation-fraction: its rows are scikit-learn's "
          "train_test_split with this seed)", 0,
          dict(type=_int_type(0), metavar="N"),
          own_default="the same command gives the same model (the estimator's "
          "None draws a fresh seed)",
          example=(["--seed", "9"], 9)),
    Param("warm_start", ("--warm-start",),
          "continue training the model in this file from its weights and "
          "optimizer state, standardized by DATA's statistics as a new "
          "model is; its parameters are the defaults of the options not "
          "given, and DATA must hold its features and every one of its "
          "classes", False,
          dict(metavar="MODEL", type=_path_type), to_param=lambda path: True),
    Param("verbose", ("--verbose",),
          "progress bar (epochs, loss, rows/s) on stderr: 0 never (also "
          "--quiet), 1 on a terminal once training has taken a second, "
          "2 always (log files)", 1,
          dict(type=_int_type(0), metavar="N"),
          own_default="a command-line user sees progress on a terminal (the "
          "estimator is silent by default)",
          example=(["--verbose", "2"], 2)),
)


def _add_params(p):
    g = p.add_argument_group(
        "training parameters (one per parameter of fastlr.LogisticRegression)")
    for param in TRAIN_PARAMS:
        shown = param.show(param.default)
        text = param.help if shown is None else \
            f"{param.help} (default: {shown})"
        # not given: no attribute (None is a value: --tol none)
        g.add_argument(*param.flags, dest=param.dest, default=argparse.SUPPRESS,
                       help=text.replace("%", "%%"), **param.kwargs)
        for flags, value, help_text in param.aliases:
            g.add_argument(*flags, dest=param.dest, action="store_const",
                           const=value, default=argparse.SUPPRESS, help=help_text)


def _params_from_args(args, base):
    """The estimator's parameters: each option given, else ``base``'s value."""
    params = dict(base)
    for param in TRAIN_PARAMS:
        if hasattr(args, param.dest):
            params[param.name] = param.to_param(getattr(args, param.dest))
    return params


def _given(args, name):
    """The parsed value of the option of parameter ``name``, None if not given."""
    return getattr(args, "param_" + name, None)


def default_params():
    """What ``fastlr train`` passes to the estimator when no option is given."""
    return {param.name: param.default for param in TRAIN_PARAMS}


# --------------------------------------------------------------------------
# the parser


def _common():
    """Options every subcommand takes (also accepted before the subcommand)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bar")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the full traceback on errors")
    return p


def _data_args(p, target_help, id_help, sparse="kept sparse, never densified"):
    p.set_defaults(data_parser=p)   # (--drop's usage errors, once split)
    p.add_argument("data", metavar="DATA",
                   help="data file: .csv (with a header line), .npy, .npz "
                   f"(arrays X and y) or svmlight/libsvm (.svm, .svmlight, "
                   f".libsvm; {sparse})")
    p.add_argument("--target", metavar="COL", default=None, help=target_help)
    p.add_argument("--format", dest="fmt", default=None,
                   choices=["csv", "npy", "npz", "svmlight"],
                   help="data format (default: from the file extension)")
    p.add_argument("--delimiter", type=_delimiter_type, default=",", metavar="CHAR",
                   help="CSV field separator; 'tab' for tabs (default: ',')")
    p.add_argument("--drop", type=_columns_type, default=[], metavar="COL[,COL...]",
                   action="append",
                   help="columns that are neither features nor the label (IDs, "
                   "free text): CSV names or indices, .npy indices (from 0; "
                   "negative from the end, as --drop=-1; 'Unnamed: J' is the "
                   "CSV column without a name at index J; a CSV name that "
                   "holds a comma is taken whole); never "
                   "parsed, so they may hold anything; may be given again")
    p.add_argument("--id", type=_column_type, default=None, metavar="COL",
                   help=id_help)
    p.add_argument("--zero-based", choices=["yes", "no"], default=None,
                   help="svmlight: whether the feature indices start at 0 "
                   "(default: as the model was trained, when fastlr train "
                   "recorded it; else 0-based when some index is 0, else "
                   "1-based, as scikit-learn's load_svmlight_file reads them)")


def _threads_arg(p):
    p.add_argument("--n-threads", type=_int_type(1), default=None, metavar="N",
                   help="threads for the threaded kernels (training epochs with "
                   "large batches, prediction on large data); results are the "
                   "same for any N; N above NUMBA_NUM_THREADS (the threads this "
                   "process may use) is capped there, with a note (default: all, "
                   "NUMBA_NUM_THREADS)")


def _model_args(p, what):
    p.add_argument("--model", metavar="M", required=True, type=_path_type,
                   help="model file written by fastlr train or fastlr.save")
    _by_position_arg(p, what)


def _by_position_arg(p, what, model="the model"):
    p.add_argument("--by-position", action="store_true",
                   help=f"{what} by position instead of by name: {model}'s "
                   "features are the file's columns in order (after --target, "
                   "--drop and --id); by default a CSV whose header has none of "
                   f"{model}'s feature names is refused, as is any CSV for a "
                   "model without feature names (fitted on an array, or on an "
                   ".npy, .npz or svmlight file)")


def _add_demo(sub, common):
    p = sub.add_parser("demo", parents=[common],
                       help="run the tutorial experiments and breast cancer, "
                       "fastlr vs the NumPy reference",
                       description="Train on make_classification, make_moons and "
                       "breast cancer with fastlr and the NumPy reference; print "
                       "accuracy and time, write PNG plots.")
    p.add_argument("--out", default="fastlr-demo", metavar="DIR", type=_path_type,
                   help="folder for the PNG plots (default: %(default)s)")
    p.add_argument("--no-plots", action="store_true", help="skip writing plots")
    p.add_argument("--random-state", type=_int_type(0), default=0, metavar="N",
                   help="seed for the row shuffling (default: %(default)s)")
    p.set_defaults(func=_demo)


#: Parsed data per chunk when ``fastlr train`` streams a file by itself
#: (a CSV row costs about 100 bytes a column while it is parsed).
_CHUNK_BYTES = 64 << 20


#: What :func:`stream_threshold` is, as the help and messages say it
_BUDGET = ("a quarter of the memory available (free memory, or less under a "
           "container's memory limit or ulimit -v)")


def stream_threshold():
    """Bytes above which the commands read DATA in parts by themselves
    (``train`` a CSV or svmlight file; ``predict`` and ``evaluate`` the file
    and the values predicted): a quarter of the memory this process may
    still allocate (:func:`fastlr._validation.available_memory`: the memory
    free, a container's limit, ``ulimit -v``), and of the machine's RAM
    at most (free swap is not room to read a file in), or 4 GiB where
    neither is known. Read whole, a CSV took about 2.5 times its size at
    its peak: 91 MB for 37 MB."""
    from ._validation import available_memory, physical_memory

    rooms = [room for room in (available_memory(), physical_memory())
             if room is not None]
    return min(rooms) // 4 if rooms else 4 << 30


def _chunk_rows_arg(p, kept):
    p.add_argument("--chunk-rows", type=_int_type(0), default=None, metavar="N",
                   help="read DATA N rows at a time instead of whole, for CSV, "
                   f"svmlight and .npy files larger than memory ({kept}). "
                   f"Default: chunks of about {_CHUNK_BYTES >> 20} MB when the "
                   "file and the model's k values a row that predicting holds "
                   f"(8 bytes each, for k classes) take more than {_BUDGET}, "
                   "else whole; 0: always whole")


#: --target's help where DATA holds the labels to learn (train, convert)
_LABEL_HELP = ("the label column: a CSV column name or index, an .npy column "
               "index, or the .npz labels array (default: the last column; "
               "'y' for .npz)")


def _add_train(sub, common):
    p = sub.add_parser(
        "train", parents=[common], help="fit a model on a data file",
        description="Fit fastlr.LogisticRegression on DATA (by default one "
        "SGD epoch, then L-BFGS to the optimum; --solver sgd: SGD epochs "
        "only, as on a file read in parts) "
        "(two classes: the sigmoid model; more: multinomial softmax), print a "
        "summary and optionally save the model and plots. Every parameter of "
        "the estimator has an option below. The output paths are checked "
        "before training starts. A progress bar appears on a terminal when "
        "training takes more than about a second.")
    _data_args(p, _LABEL_HELP,
               "an ID column: not a feature (as --drop); recorded in the model, "
               "so that predict writes it next to each prediction")
    p.add_argument("--model", metavar="OUT", type=_path_type,
                   help="write the model to this file "
                   "(.npz; see fastlr.save)")
    p.add_argument("--n-features", type=_int_type(1), default=None, metavar="N",
                   help="svmlight: the model's number of features, at least the "
                   "file's (its largest index, or one more when 0-based), as "
                   "scikit-learn's load_svmlight_file(n_features=N) reads it: "
                   "for a test file with indices the training file lacks "
                   "(LIBSVM's a9a and a9a.t), whose features get weight 0 "
                   "(predict and evaluate of a model trained on an svmlight "
                   "file ignore such indices anyway, as LIBSVM does)")
    p.add_argument("--plot", metavar="DIR", type=_path_type,
                   help="write loss.png (and boundary.png for 2 features: "
                   "a seeded random sample of about 100,000 rows when there "
                   "are more, every class in it) to this folder")
    p.add_argument("--chunk-rows", type=_int_type(0), default=None, metavar="N",
                   help="read DATA N rows at a time, once per epoch, instead of "
                   "whole: memory stays bounded by the chunk, for CSV and "
                   "svmlight files larger than memory (rows are shuffled within "
                   "a chunk). Default: chunks of about "
                   f"{_CHUNK_BYTES >> 20} MB when the file is larger than "
                   f"{_BUDGET}, else whole; 0: always "
                   "whole. A float32/float64 .npy file is memory-mapped and "
                   "trained on in place, never copied, unless N is given")
    _by_position_arg(p, "with --warm-start, match the columns",
                     "--warm-start's model")
    _threads_arg(p)
    _add_params(p)
    p.output_option = "--model"
    p.set_defaults(func=_train, train_parser=p)


def _add_predict(sub, common):
    p = sub.add_parser(
        "predict", parents=[common], help="predict labels or probabilities",
        description="Predict with a saved model. Output is CSV (a header line, "
        "then one row per data row): the --id column if any, then the label, "
        "or with --proba one probability column per class. CSV columns are "
        "matched to the model's features by name.")
    _model_args(p, "match the columns")
    _data_args(p, "the label column to ignore, if DATA has one (default: "
               "the model's target column when present)",
               "an ID column (not a feature) written first on each output row: "
               "a CSV name or index, an .npy index or an .npz array (default: "
               "the column given to train's --id, when DATA has it)")
    p.add_argument("--proba", action="store_true",
                   help="print class probabilities instead of labels")
    p.add_argument("--out", metavar="FILE", type=_path_type,
                   help="write the CSV to FILE instead "
                   "of stdout")
    _chunk_rows_arg(p, "predictions are written as each chunk is read")
    _threads_arg(p)
    p.set_defaults(func=_predict)


def _add_evaluate(sub, common):
    p = sub.add_parser(
        "evaluate", parents=[common], help="score a saved model on labelled data",
        description="Accuracy, log-loss (scikit-learn's log_loss of the "
        "predicted probabilities), ROC AUC (macro one-vs-rest for more than two "
        "classes), precision, recall and F1 per class and the confusion matrix "
        "of a saved model on DATA; --plot writes ROC curves and a calibration "
        "(reliability) plot.")
    _model_args(p, "match the columns")
    _data_args(p, "the label column (default: the model's target column)",
               "an ID column: not a feature (as --drop)")
    p.add_argument("--plot", metavar="DIR", type=_path_type,
                   help="write roc.png and calibration.png to this folder "
                   "(and confusion.csv, the confusion matrix, past "
                   f"{EVALUATE_CONFUSION_CLASSES} classes)")
    p.add_argument("--bins", type=_int_type(2), default=10, metavar="N",
                   help="probability bins of the calibration plot "
                   "(default: %(default)s)")
    _chunk_rows_arg(p, "the labels and predicted probabilities, not the "
                    "features, are kept for the scores")
    _threads_arg(p)
    p.set_defaults(func=_evaluate)


def _add_export(sub, common):
    p = sub.add_parser(
        "export", parents=[common], help="write a saved model as ONNX",
        description="Convert a model file to an ONNX graph (fastlr.to_onnx) "
        "that onnxruntime and other ONNX runtimes run without fastlr: input "
        "'X' (rows x features), outputs 'label' and 'probabilities'. Needs "
        "the onnx extra: pip install 'fastlr-numba[onnx]'.")
    p.add_argument("--model", metavar="M", required=True, type=_path_type,
                   help="model file")
    p.add_argument("--out", metavar="FILE", required=True, type=_path_type,
                   help="the .onnx file to write")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="element type of the input X and of the probabilities "
                   "(default: %(default)s)")
    p.set_defaults(func=_export)


def _add_convert(sub, common):
    p = sub.add_parser(
        "convert", parents=[common],
        help="write a data file as an .npy table to train on in place",
        description="Read DATA in parts (memory stays bounded, whatever its "
        "size) and write its feature columns, then its label column, as one "
        "float .npy table: fastlr train then memory-maps it and trains on it "
        "in place, reading memory where a CSV or svmlight file is parsed "
        "again every epoch (its default target, the last column, is the "
        "label). The labels must be numbers; the table has no column names, "
        "so a model trained on it matches a CSV's columns with --by-position. "
        "The file is written atomically.")
    _data_args(p, _LABEL_HELP,
               "an ID column: left out of the table (as --drop)",
               sparse="written dense")
    p.add_argument("--out", metavar="FILE", required=True, type=_path_type,
                   help="the .npy file to write")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="element type of the table (default: %(default)s; "
                   "float32 halves the file and the epochs' reading, and rounds "
                   "the features to float32)")
    p.add_argument("--chunk-rows", type=_int_type(1), default=None, metavar="N",
                   help="read DATA N rows at a time (default: parts of about "
                   f"{_CHUNK_BYTES >> 20} MB)")
    p.set_defaults(func=_convert)


def _add_verify(sub, common):
    p = sub.add_parser(
        "verify", parents=[common],
        help="check the Numba kernels against the NumPy reference",
        description="Run every case of fastlr.verify's table (every public "
        "function, every training option) with the Numba kernels and with "
        "fastlr.reference on random data of several shapes, in float64 and "
        "float32, dense and sparse (CSR), and print the largest differences "
        "against the tolerances the test suite uses. Exit status 1 on any mismatch.")
    p.add_argument("--seed", type=_int_type(0), default=0, metavar="N",
                   help="seed for the random data (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="skip the largest shape, which exercises the threaded "
                   "kernels")
    p.set_defaults(func=_verify)


def _add_bench(sub, common):
    p = sub.add_parser(
        "bench", parents=[common],
        help="time one epoch: fastlr vs the NumPy reference, scikit-learn and "
        "the memory floor",
        description="Time one SGD epoch of fastlr, fastlr.reference and "
        "scikit-learn's SGDClassifier(loss='log_loss') on X ~ N(0, 1), side by "
        "side in interleaved repetitions, with the time for one thread to read "
        "X once (the floor). --full measures every performance target of the "
        "project instead, for about an hour on this project's 2-core machine: "
        "the SGD epoch's rows on 1,000,000 x 100 and the sparse, many-model "
        "and memory rows (P1-P15, S1-S5, M1, M4, M5: about 2 minutes), then "
        "M2/M3, LogisticRegressionCV against scikit-learn's cross-validation "
        "on 200,000 x 100 in --repeats rounds, 5 by default (most of the "
        "hour: scikit-learn's GridSearchCV takes about 9 "
        "minutes a round; a line per fit shows the progress), then the "
        "solver's times to suboptimality against scikit-learn's (O1-O4, about "
        "2 minutes). --full --repeats 1 took 14 minutes. The full table's "
        "workloads are those of the targets, so --full takes only --repeats, "
        "and --dask only --rows, --features and --repeats.")
    p.add_argument("--rows", type=_int_type(1000), default=None, metavar="M",
                   help="rows of X (default: 200000; also --dask's)")
    p.add_argument("--features", type=_int_type(1), default=None, metavar="N",
                   help="columns of X (default: 100; also --dask's)")
    p.add_argument("--dtype", choices=["float64", "float32"], default=None,
                   help="dtype of X (default: float64; not with --full or --dask)")
    p.add_argument("--batch-sizes", type=_int_list, default=None,
                   metavar="B,B,...", help="batch sizes (default: 32,256,4096; "
                   "not with --full or --dask)")
    p.add_argument("--repeats", type=_int_type(1), default=None, metavar="R",
                   help="interleaved timed repetitions (default: 3; 5 with "
                   "--full or --dask)")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the NumPy reference (slow at small batches; not "
                   "with --full or --dask)")
    p.add_argument("--no-sklearn", action="store_true",
                   help="skip scikit-learn (not with --full or --dask)")
    p.add_argument("--full", action="store_true",
                   help="the full table of performance targets (P1-P15, S1-S5, "
                   "M1-M5, O1-O4) on their own workloads")
    p.add_argument("--dask", action="store_true",
                   help="the Dask cost model instead: an epoch on a LocalCluster "
                   "of 2 worker processes vs one process on --rows x --features, "
                   "the per-epoch overhead per block count, an estimate for 1 TB "
                   "on 10/100/1000 workers, and held-out log-loss on 8 blocks "
                   "(needs dask and distributed)")
    p.set_defaults(func=_bench, bench_parser=p)


def _int_list(text):
    """``--batch-sizes``: integers >= 1 separated by commas. An empty item
    or a size given twice is refused, as ``--drop`` and ``--class-weight``
    refuse theirs (the table has one line per size: a repeated size was
    measured once, silently)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    twice = first_repeated(values)
    if twice is not None:
        raise argparse.ArgumentTypeError(f"batch size {twice} is given twice in "
                                         f"{text!r}")
    return values


#: bench's options of the quick table, by attribute: (option, mode that
#: takes it too)
_QUICK_OPTIONS = {"rows": ("--rows", "dask"), "features": ("--features", "dask"),
                  "dtype": ("--dtype", None), "batch_sizes": ("--batch-sizes", None),
                  "no_reference": ("--no-reference", None),
                  "no_sklearn": ("--no-sklearn", None)}


def _bench(args):
    from . import bench

    # the full table's and the Dask model's workloads are fixed: an option
    # they would drop is refused rather than silently ignored
    if args.full and args.dask:
        args.bench_parser.error("--full and --dask are two different tables: "
                                "give one of them")
    mode = "full" if args.full else "dask" if args.dask else None
    if mode:
        ignored = [opt for attr, (opt, also) in _QUICK_OPTIONS.items()
                   if getattr(args, attr) not in (None, False) and also != mode]
        if ignored:
            fixed = ("measures every target on its own workload" if mode == "full"
                     else "takes only --rows, --features and --repeats")
            args.bench_parser.error(f"{', '.join(ignored)}: options of the quick "
                                    f"table only; --{mode} {fixed}")
    rows = args.rows or 200_000
    features = args.features or 100
    if args.dask:
        from . import dask_bench

        cost = dask_bench.cost_table(rows=rows, features=features,
                                     repeats=args.repeats or 5)
        print(dask_bench.format_tables(cost, dask_bench.paper_estimate(cost),
                                       dask_bench.accuracy_table()))
        return EXIT_OK
    if args.full:
        table = bench.performance_table(repeats=args.repeats or 5)
        print()
        print(bench.format_performance(table))
        return EXIT_OK
    dtype = args.dtype or "float64"
    table = bench.quick_table(rows=rows, features=features,
                              batch_sizes=tuple(args.batch_sizes or (32, 256, 4096)),
                              dtype=dtype, repeats=args.repeats or 3,
                              sklearn=not args.no_sklearn, ref=not args.no_reference)
    print(bench.format_quick(table, rows, features, dtype))
    return EXIT_OK


def _add_compile(sub, common):
    p = sub.add_parser(
        "compile", parents=[common],
        help="compile every kernel into the kernel cache (Docker images, CI)",
        description="Compile every Numba kernel fastlr uses, for every input "
        "type (float32/float64; dense, read-only dense, CSR with int32 or "
        "int64 indices; binary and k-class; one thread and several), into the "
        "on-disk kernel cache, so that no later process compiles: run it at "
        "image build time (then users who cannot write to the environment "
        "load the kernels), in CI before the tests, or before a parallel "
        "grid search. Prints the time per input type, the cache directory "
        "and how long it took. Running it again only loads the kernels: a "
        "check that the cache is complete. Exit status 1 when the kernels "
        "could not be kept (the cache is off, or read-only and incomplete). "
        "The compiled code is specific to the CPU model (numba keys its cache "
        "by CPU name and features).")
    p.add_argument("--jobs", "-j", type=_jobs_type, default=-1, metavar="N",
                   help="processes compiling at once, an input type each; "
                   "-1: one per CPU (default: -1)")
    p.set_defaults(func=_compile)


def _compile(args):
    from ._kernels import cache
    from ._precompile import jit_disabled, precompile

    # with nothing to keep the kernels in, say so before minutes of compiling
    if jit_disabled():
        raise CLIError(jit_disabled())
    if cache.MODE == "off":
        raise CLIError("the kernel cache is off (FASTLR_NUMBA_CACHE=0): "
                       "compiled kernels could not be kept")
    if cache.MODE == "none":
        raise CLIError("no writable or pre-filled kernel cache directory: "
                       "compiled kernels could not be kept; set FASTLR_CACHE_DIR "
                       "to a writable folder")
    quiet = getattr(args, "quiet", False)

    def progress(name, seconds):
        if not quiet:
            _out(f"{name:<24} {seconds:6.1f} s")

    report = precompile(progress=progress,
                        n_jobs=args.jobs)
    mode = {"rw": "read-write", "ro": "read-only", "off": "off",
            "none": "none"}[report.mode]
    _out(f"compiled {report.compiled} kernel signatures and loaded {report.loaded} "
         f"from the cache in {report.seconds:.1f} s")
    _out(f"cache: {report.directory} ({mode}), CPU: {report.cpu}")
    if report.complete:
        return EXIT_OK
    if report.skipped is not None:
        raise CLIError(report.skipped)
    if report.mode == "rw":
        raise CLIError(f"the kernel cache {report.directory} could not keep "
                       f"{report.unsaved} kernel signatures (see the warning: a "
                       "full disk, or something in their files' place): every "
                       "process compiles them again")
    raise CLIError(f"the kernel cache {report.directory} is read-only and lacked "
                   f"{report.compiled} kernel signatures (compiled in this process "
                   "only): run fastlr compile where it is writable (as the user "
                   "who installed fastlr), or set FASTLR_CACHE_DIR")


#: What other tools call the option of the file a command writes: given to
#: a command that has none of them, its own (``output_option``) is the
#: closest (``fastlr train ... --out m.npz``: train writes with --model).
_OUTPUT_NAMES = ("--out", "--output", "-o", "--save")


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser. It reports an argument it does not know
    itself, with its usage lines and ``fastlr COMMAND: error: unrecognized
    arguments: ...; did you mean --OPTION?`` naming its closest option, where
    argparse leaves that to the top-level parser, whose usage line lists no
    option of the command."""

    output_option = None   # the option of the file it writes, if not --out

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}"
                       f"{self._closest(extras)}")
        return namespace, extras

    def _closest(self, extras):
        """``; did you mean --OPTION?`` for the first unknown option that has
        a close one, else nothing."""
        options = [s for s in self._option_string_actions if s.startswith("--")]
        for arg in extras:
            if not arg.startswith("-") or arg == "-":
                continue   # (a value)
            given = arg.split("=", 1)[0]
            output = self.output_option or (
                "--out" if "--out" in self._option_string_actions else None)
            if given in _OUTPUT_NAMES and output:
                return f"; did you mean {output} (the file {self.prog} writes)?"
            close = difflib.get_close_matches(
                given.lstrip("-"), [s[2:] for s in options], n=1, cutoff=0.6)
            if close:
                return f"; did you mean --{close[0]}?"
        return ""


def build_parser():
    """The argparse parser of the ``fastlr`` command."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="fastlr",
        description="Logistic regression by mini-batch SGD in Numba kernels.")
    parser.add_argument("--version", action="version", version=f"fastlr {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_CommandParser)
    _add_demo(sub, common)
    _add_train(sub, common)
    _add_predict(sub, common)
    _add_evaluate(sub, common)
    _add_export(sub, common)
    _add_convert(sub, common)
    _add_verify(sub, common)
    _add_bench(sub, common)
    _add_compile(sub, common)
    for p in (parser, *sub.choices.values()):
        p.epilog = EXIT_STATUS
    return parser


# --------------------------------------------------------------------------
# entry point and error reporting


def main(argv=None):
    """Entry point; returns the process exit code.

    Parameters
    ----------
    argv : list of str or None
        The arguments after the program name; None reads ``sys.argv``.
    """
    args = build_parser().parse_args(argv)
    try:
        with _warnings_to_stderr(args), _ending_signals():
            return args.func(args)
    except _Terminated as exc:
        print(f"fastlr: interrupted ({signal.Signals(exc.signum).name})",
              file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("fastlr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our stdout went away (fastlr predict ... | head):
        # quietly, status 1 (EXIT_STATUS), as Python's documentation of
        # SIGPIPE exits
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return EXIT_FAILURE
    except Exception as exc:
        if args.debug:
            raise
        print(f"fastlr: error: {_describe(exc, args)}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if getattr(args, "n_threads", None) is not None:
            from ._kernels import team

            team.set_threads(None)   # --n-threads was this command's


_USER_ERRORS = (CLIError, ValueError, TypeError, OSError, FloatingPointError)


def _describe(exc, args=None):
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, DivergedError):
        return _in_options(str(exc), args)
    if isinstance(exc, _USER_ERRORS):
        return str(exc)
    if isinstance(exc, NotEnoughMemory):
        return f"out of memory: {exc}"   # (it says why)
    if isinstance(exc, MemoryError):
        # the data or the model (one weight per feature and class: an svmlight
        # file's largest index sets the features) does not fit; each half of
        # the hint only where the command reads a model or a data file
        # (bench makes its own data, of the size asked for)
        data = getattr(args, "data", None) is not None
        hint = (" (a model has a weight per feature and class; an svmlight "
                "file's largest feature index sets the number of features)"
                if data else " (a model has a weight per feature and class)"
                if getattr(args, "model", None) is not None else "")
        return f"out of memory: {exc or 'an allocation failed'}{hint}"
    return (f"unexpected {type(exc).__name__}: {exc} (run again with --debug for "
            "the traceback, and please report it)")


def _in_options(text, args=None):
    """An estimator's advice (a warning's, a divergence's) in the command's
    words: the options for the parameters it names. Training read in parts
    (``args.read_in_parts``) runs SGD epochs only: the solver it advises
    needs the file read whole."""
    parts = getattr(args, "read_in_parts", False)
    solver = "--solver lbfgs" + (" with the file read whole (--chunk-rows 0)"
                                 if parts else "")
    for old, new in (("increase max_iter or lr", "increase --epochs or --lr"),
                     ("max_iter=", "--epochs "),
                     ("increase max_iter (or tol), or alpha",
                      "increase --epochs (or --tol), or --alpha"),
                     ("the learning rate lr", "the learning rate --lr"),
                     ("(standardize=True;", "(--standardize yes;"),
                     ("raise alpha or choose another learning_rate",
                      "raise --alpha or choose another --learning-rate"),
                     ("fit with solver='lbfgs' (not partial_fit)", solver),
                     ("solver='auto' (the estimator's default) or 'lbfgs' does "
                      "not depend on their scale",
                      ("on the file read whole (--chunk-rows 0), " if parts else "")
                      + "--solver auto (the default) or lbfgs does not depend on "
                      "their scale"),
                     ("class_weight has mean", "--class-weight has mean")):
        text = text.replace(old, new)
    return text


@contextlib.contextmanager
def _warnings_to_stderr(args=None):
    """Show warnings as one ``fastlr: warning: ...`` line each, in the
    command's words (:func:`_in_options`)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"fastlr: warning: {_in_options(str(message), args)}",
              file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default", UserWarning)
        # after it, so first in the list: a deprecation that is also a
        # UserWarning (pyparsing 3.3's, from matplotlib before 3.11) stays
        # silent, not "fastlr: warning: ..."
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        # the CLI matches columns to a model's features itself (by name, or
        # by position when asked), so the estimator's check that X has
        # feature names, as the DataFrame it was fitted on had, says nothing
        warnings.filterwarnings("ignore", message="X does not have valid feature "
                                "names", category=UserWarning)
        warnings.showwarning = show
        yield


def _out(line=""):
    print(line)


# --------------------------------------------------------------------------
# demo


def _demo(args):
    from . import demo

    if not args.no_plots:
        # before the experiments, not after one
        _check_folder(args.out, "--out", demo.PLOTS)
    rows = demo.run(out_dir=args.out, plots=not args.no_plots,
                    random_state=args.random_state)
    print(demo.format_table(rows))
    s = demo.SEED_SETTINGS
    print(f"\nsettings: batch_size={s['batch_size']} epochs={s['epochs']} "
          f"lr={s['lr']}, standardized; times exclude JIT compilation")
    if not args.no_plots:
        print(f"plots written to {os.path.join(args.out, '')}")
    return EXIT_OK


# --------------------------------------------------------------------------
# output paths, threads and models


def check_output_arg(parser, path, option):
    """For scripts that write a file after minutes of work (the benchmarks'
    plots): refuse (``parser.error``) an output ``path``, given as
    ``option``, that cannot be written, before any work, as fastlr's own
    commands check theirs (:func:`_check_writable`)."""
    try:
        _check_writable(path, option, replace=True)
    except CLIError as exc:
        parser.error(str(exc))


def _check_writable(path, option, replace=False, inputs=()):
    """Fail before any work if ``path`` cannot be written.

    A file is created (and removed) next to ``path``: the one test that
    answers for permissions, read-only file systems, missing folders and
    paths through a file alike. ``replace``: the file is replaced by a
    rename (``fastlr.save``), so an existing read-only file does not matter.
    An existing ``path`` must be a regular file (a FIFO or a device is
    never replaced), and not one of the files the command reads,
    ``inputs``: ``(path, option)`` pairs (writing it would destroy it).
    """
    path = os.fspath(path)
    try:
        os.stat(path)
    except (OSError, ValueError) as exc:
        # a name (or path) longer than the file system holds: os.path's
        # tests take it for absent, and the write failed after the work
        if getattr(exc, "errno", None) == errno.ENAMETOOLONG:
            raise CLIError(f"{option} {path}: {exc.strerror} (longer than the "
                           "file system holds)") from None
    if os.path.isdir(path):
        raise CLIError(f"{option} {path}: is a folder; give a file name")
    if path.endswith(tuple(filter(None, (os.sep, os.altsep)))):
        # (abspath drops the separator, and the write failed after the work)
        raise CLIError(f"{option} {path}: ends with a separator, so it names "
                       "no file; give a file name")
    try:
        target = link_target(path)   # where the write goes (a link is followed)
    except OSError as exc:
        raise CLIError(f"{option} {path}: {exc.strerror}") from None
    if os.path.exists(path):
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise CLIError(f"{option} {path}: is {file_kind(mode)}, not a regular "
                           "file; fastlr writes its output to a regular file "
                           "(or a new one)")
        for other, what in inputs:
            if other is not None and os.path.exists(other) \
                    and os.path.samefile(path, other):
                raise CLIError(f"{option} {path}: is the {what} file this command "
                               "reads; writing it would destroy it: give another "
                               "path")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else \
            "does not exist"
        raise CLIError(f"{option} {path}: the folder {folder} {what}")
    _probe(folder, option, path)
    if not replace and os.path.exists(path) and not os.access(path, os.W_OK):
        raise CLIError(f"{option} {path}: the file exists and is not writable")


def _check_folder(path, option, files=(), inputs=(), outputs=()):
    """``path`` is a folder that exists and is writable, or can be created,
    and the ``files`` the command will write in it can be written there
    (:func:`_check_writable`: not a folder, FIFO or device, not one of the
    ``inputs`` the command reads) and are not one of the command's other
    ``outputs`` (``(path, option)`` pairs, which may not exist yet). A
    symbolic link on the way whose target does not exist is refused:
    creating the folder would fail there ("File exists") after the work."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"{option} {path}: exists and is not a folder")
    existing = path
    while not os.path.exists(existing):
        if os.path.islink(existing):
            why = "which does not exist"
            try:
                os.stat(existing)
            except OSError as exc:   # ENOENT, or a loop of links (ELOOP)
                if exc.errno != errno.ENOENT:
                    why = f"which cannot be followed ({exc.strerror})"
            where = "" if existing == path else f"{existing} "
            raise CLIError(f"{option} {path}: {where}is a symbolic link to "
                           f"{os.readlink(existing)}, {why}; create that folder "
                           "or give another path")
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise CLIError(f"{option} {path}: {existing} is not a folder")
    _probe(existing, option, path)
    for name in files:
        file = os.path.join(path, name)
        for other, what in outputs:
            if other is not None and os.path.realpath(file) == os.path.realpath(other):
                raise CLIError(f"{option} {path}: writes {name}, which is the "
                               f"{what} file this command writes: give another "
                               f"folder or {what} path")
        if existing == path:
            _check_writable(file, option, replace=True, inputs=inputs)


def _probe(folder, option, path):
    probe = os.path.join(folder, f".fastlr-write-check.{secrets.token_hex(6)}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CLIError(f"{option} {path}: cannot write in {folder} "
                       f"({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _set_threads(args):
    """Apply ``--n-threads``: capped at the threads this process may use
    (``NUMBA_NUM_THREADS``), as ``n_threads=`` of the functions is, with a
    note on stderr when it is (results do not depend on the count, so a
    command line written for a larger machine runs on a smaller one)."""
    n = getattr(args, "n_threads", None)
    if n is None:
        return
    from ._kernels import team

    used = team.threads(n)
    if used < n:
        print(f"fastlr: note: --n-threads {n}: this process may use at most "
              f"{used} thread{'s' if used > 1 else ''} (NUMBA_NUM_THREADS), so it "
              f"runs on {used}; results are the same for any count",
              file=sys.stderr)
        args.n_threads = used
    team.set_threads(used)


def _load_model(path, continued=False):
    """The model in ``path`` and what its file records about its data.
    Unless training is ``continued`` from it, without the warning about
    what continuing an old file cannot restore (its predictions are not
    affected)."""
    from fastlr.persist import ModelFileWarning, _load

    with warnings.catch_warnings():
        if not continued:
            warnings.simplefilter("ignore", ModelFileWarning)
        # one read gives both: a file replaced between two reads would mix
        # one model's weights with another's column layout
        model, header = _load(path, warn=True)
    extra = header.get("metadata") or {}
    data_meta = extra.get("data") if isinstance(extra.get("data"), dict) else {}
    return model, data_meta


def _format_from_model(args, data_meta):
    """Without --format, an svmlight file whose name tells no format (LIBSVM's
    ``a9a.t``) is read as svmlight when the model was trained on svmlight
    data (its file records it) and the file's first line looks so: set on
    ``args``, for every later read of DATA."""
    from . import io

    if args.fmt is not None or data_meta.get("format") != "svmlight":
        return
    ext = os.path.splitext(os.fsdecode(args.data))[1].lower()
    if ext not in io.FORMATS and all(ext != entry[0] for entry in io._COMPRESSED) \
            and io._looks_svmlight(args.data):
        args.fmt = "svmlight"


# --------------------------------------------------------------------------
# reading DATA, checked against its header and the model


def _target_arg(args, fmt):
    """--target as given: a name, or an int when it is one (for .npy)."""
    t = args.target
    if t is not None and fmt == "npy":
        with contextlib.suppress(ValueError):
            return int(t)
    return t


_fmt_labels = shown


#: Field separators a one-column header may reveal: (name, how to pass it).
_SEPARATORS = {";": ("semicolons", "';'"), "\t": ("tabs", "tab"),
               "|": ("vertical bars", "'|'"), ",": ("commas", "','"),
               " ": ("spaces", "' '")}   # (np.savetxt's default; checked last)


def _check_one_column_header(args, header):
    """A header read as one column that holds another separator: the file is
    most likely separated by it."""
    if len(header) != 1:
        return
    for char, (name, arg) in _SEPARATORS.items():
        if char != args.delimiter and char in header[0]:
            text = header[0] if len(header[0]) <= 60 else header[0][:57] + "..."
            raise CLIError(f"{args.data}: the header line reads as one column, "
                           f"{text!r}, which holds {name}: if they separate the "
                           f"fields, pass --delimiter {arg}")


def _is_index(column):
    return isinstance(column, int) or bool(re.fullmatch(r"[+-]?\d+",
                                                        str(column).strip()))


#: What fastlr.io's messages call the column an option gives.
_OPTION_COLUMNS = {"--drop": "column to drop", "--id": "ID column"}


def _check_column(path, columns, column, what, option):
    """``column`` must give one of ``columns`` as fastlr.io takes it (a name,
    ``Unnamed: J`` for the unnamed one at index J, or an index in range; a
    number that names one column and indexes another is refused, saying
    how to give each as ``option``); a misspelt name is answered with the
    closest one."""
    from . import io

    if io._columns_meant(columns, column) or _is_index(column):
        io._column_index(path, columns, column, _OPTION_COLUMNS.get(option, what),
                         option)
        return
    text = str(column)
    close = [c for c in columns if c.casefold() == text.casefold()] or \
        difflib.get_close_matches(text, columns, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}? The" if close else "; the"
    raise CLIError(f"{path}: unknown {what} {text!r} ({option}){hint} columns "
                   f"are: {io._shown(columns, 20)}")


def _model_feature_names(model, data_meta):
    """The model's feature names: ``feature_names_in_``, else (files written
    before the CLI set it) the CSV header recorded with the model; without
    the spaces around them, as the CSV reader reads a header (pandas keeps
    them: ``pd.read_csv`` of ``a, b`` names a column ``' b'``)."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n).strip() for n in names]
    names = data_meta.get("feature_names")
    if isinstance(names, list) and all(isinstance(s, str) for s in names) \
            and len(names) == model.n_features_in_:
        return names
    return None


@dataclass
class _Data:
    """DATA as read for a command."""

    data: object            # fastlr.io.Dataset
    ids: object = None      # the --id column's values, one per row, or None
    id_name: str = None     # its header in predict's output
    ignored: list = field(default_factory=list)  # columns neither feature nor label
    shown: list = field(default_factory=list)  # them and the ID, as train shows them


@dataclass
class _Columns:
    """DATA's columns as the options and the model choose them (see
    :func:`_resolve_columns`)."""

    fmt: str
    target: object          # --target as given (an int for .npy)
    drop: list              # columns that are not features, --id included
    id_col: object          # the ID column, or None
    names: list             # the model's feature names to match, or None
    model_target: object    # the target column the model was trained with
    zero_based: object      # svmlight index base the model was trained with
    header: list = None     # CSV header
    trained_on: str = None  # the format of the model's training data, if recorded
    scoring: bool = False   # read for predict or evaluate (not a warm start)

    @property
    def unseen(self):
        """What an svmlight entry beyond the model's width does
        (:func:`fastlr.io.read_dataset`'s ``unseen_features``): ignored, as
        LIBSVM ignores it, when predict or evaluate score with a model
        trained on an svmlight file, whose weight for it is 0."""
        return "ignore" if self.scoring and self.trained_on == "svmlight" \
            else "raise"


def _resolve_columns(args, labels, model=None, data_meta=None):
    """The checks that can say what is wrong better than a failed read: the
    delimiter, misspelt --target/--drop/--id columns, and (with a model) a
    CSV header that has none of the model's feature names; then which
    columns are features, target, dropped and ID."""
    from . import io

    data_meta = data_meta or {}
    # (a missing DATA, or a directory, is named as such, not for its extension)
    fmt = io._format_of(args.data, args.fmt)
    target = _target_arg(args, fmt)
    # (a CSV's --drop values are split knowing its header's names)
    drop = [] if fmt == "csv" else _drop_columns(args)
    id_col = args.id
    names = None
    header = None
    if model is not None and not getattr(args, "by_position", False):
        names = _model_feature_names(model, data_meta)
    model_target = data_meta.get("target")
    if isinstance(model_target, bool) or not isinstance(model_target, str | int) \
            or (isinstance(model_target, int) and not (
                fmt == "npy" and data_meta.get("format") == "npy")):
        # (an .npy's label column index says nothing of another file's)
        model_target = None
    zero_based = data_meta.get("zero_based")
    if not isinstance(zero_based, bool):
        zero_based = None
    asked = getattr(args, "zero_based", None)
    if asked is not None:
        if fmt != "svmlight":
            raise CLIError(f"--zero-based is for svmlight files; {args.data} is "
                           f"{fmt}")
        if zero_based is not None and zero_based != (asked == "yes"):
            raise CLIError(f"--zero-based {asked}: the model was trained on "
                           f"{'0' if zero_based else '1'}-based feature indices, "
                           "and read the other way each index would meet the "
                           "weight of its neighbour; for data whose indices "
                           f"start at {'0' if asked == 'yes' else '1'}, train "
                           f"the model again with --zero-based {asked}")
        zero_based = asked == "yes"
    # columns the model was trained without (train's --drop and --id): names
    # of a CSV's columns, or indices of an .npy array's
    recorded = data_meta.get("ignored")
    kind = {"csv": str, "npy": int}.get(fmt)
    recorded = [c for c in recorded if isinstance(c, kind) and not isinstance(
        c, bool)] if isinstance(recorded, list) and kind is not None and \
        data_meta.get("format") == fmt else []
    if fmt == "csv":
        header = io.read_header(args.data, args.delimiter)
        _check_one_column_header(args, header)
        drop = _drop_columns(args, header)
        if target is not None:
            _check_column(args.data, header, target, "target column", "--target")
        for column in drop:
            _check_column(args.data, header, column, "column", "--drop")
        if id_col is not None:
            _check_column(args.data, header, id_col, "column", "--id")

        def at(column):
            return io._column_index(args.data, header, column)

        def ref(j):   # (a name recorded may be another column's index)
            return io._column_ref(header, j)

        taken = {at(c) for c in [*drop, id_col, target] if c is not None}
        train_id = data_meta.get("id") if data_meta.get("format") == "csv" else None
        if isinstance(train_id, str) and train_id in header:
            j = header.index(train_id)
            if id_col is None and (target is None or j != at(target)):
                id_col = ref(j)  # train's --id: predict writes it
            elif j not in taken:
                drop.append(ref(j))   # another --id asked for: still no feature
            taken.add(j)
        # the columns the model was trained without, where DATA has them; a
        # column without a name stands for DATA's unnamed columns (train
        # leaves them all out), but for an older model's unnamed feature
        for c in recorded:
            if c == "" and "" not in (names or ()):
                left = [j for j, h in enumerate(header) if h == ""]
            else:
                left = [header.index(c)] if c in header else []
            drop += [ref(j) for j in left if j not in taken]
            taken.update(left)
        if names and not io._numbers_only(header):   # (else the read says
            # the file has no header: its first line is a row of numbers)
            _check_left_out(args, header, names, drop, id_col, target, model_target)
            if not set(header) & set(names):
                raise CLIError(
                    f"{args.data}: none of its columns ({io._shown(header, 10)}) "
                    f"is a feature of the model ({io._shown(names, 10)}); to "
                    f"take the columns in order as the model's features, pass "
                    f"--by-position")
        if model is not None and names is None and \
                not getattr(args, "by_position", False):
            # predict, evaluate and train --warm-start (scikit-learn warns
            # here; a CSV in another column order was predicted from, or
            # trained on, the wrong features without a word)
            raise CLIError(
                f"{args.data}: the model has no feature names (it was fitted "
                f"on an array or a file without column names: .npy, .npz, "
                f"svmlight), so the CSV's "
                f"columns cannot be matched to its features by name; to take "
                f"them in order as the model's features, pass --by-position")
    elif fmt == "npy":
        drop = [int(c) if _is_index(c) else c for c in drop]
        if id_col is not None and _is_index(id_col):
            id_col = int(id_col)
        rid = data_meta.get("id") if data_meta.get("format") == "npy" else None
        if isinstance(rid, bool) or not isinstance(rid, int):
            rid = None
        recorded, rid = _npy_positions(args.data, model, recorded, rid, model_target)
        if id_col is None:
            id_col = rid
        elif rid is not None and rid != id_col and rid not in drop:
            drop.append(rid)   # another --id asked for: still no feature
        drop += [c for c in recorded if c not in drop and c != id_col]
    elif fmt == "npz":
        rid = data_meta.get("id") if data_meta.get("format") == "npz" else None
        if id_col is None and isinstance(rid, str) and _npz_has(args.data, rid):
            id_col = rid   # train's --id: predict writes it
        if id_col is not None:
            if str(id_col) in ("X", target or "y"):
                what = "feature matrix" if str(id_col) == "X" else "label array"
                raise CLIError(f"{args.data}: --id: {str(id_col)!r} is the "
                               f"{what}, not an ID array")
            if not _npz_has(args.data, str(id_col)):
                raise CLIError(f"{args.data}: --id: no array {str(id_col)!r} in "
                               "the file")
    elif id_col is not None and fmt == "svmlight":
        raise CLIError(f"{args.data}: --id: svmlight files have no ID column")
    if id_col is not None and fmt in ("csv", "npy") and id_col not in drop:
        drop.append(id_col)
    cols = _Columns(fmt, target, drop, id_col, names, model_target, zero_based,
                    header, data_meta.get("format") if model is not None and
                    data_meta.get("format") in ("csv", "npy", "npz", "svmlight")
                    else None)
    if fmt == "csv" and model is not None and names is None and target is None \
            and not isinstance(model_target, str):
        _check_last_is_label(args, cols, model)
    return cols


def _check_left_out(args, header, names, drop, id_col, target, model_target):
    """Columns the options leave out that a model matched by name needs: an
    ``--id`` or ``--drop`` naming one of its features (the read said the
    feature was missing, without a word of the option), and for evaluate
    its label column, missing without ``--target`` (the read said 'name it
    with target=', naming neither the model's label column nor the file's
    one column over the features)."""
    for option, column in [("--id", args.id)] * (args.id is not None) + \
            [("--drop", c) for c in _drop_columns(args, header)]:
        if column in names and not _is_index(column):
            raise CLIError(f"{args.data}: {option} {column}: {column!r} is one of "
                           f"the model's features (it was trained on "
                           f"{_fmt_labels(names, 10)}), so it cannot be left out")
    if args.command != "evaluate" or target is not None or \
            not isinstance(model_target, str) or model_target in header:
        return
    k = len(header)
    out = {header.index(c) for c in [*drop, id_col] if c in header}
    out |= {int(c) % k for c in [*drop, id_col]
            if c is not None and _is_index(c) and -k <= int(c) < k}
    rest = [c for j, c in enumerate(header) if c not in names and j not in out]
    if len(rest) == 1 and rest[0]:
        hint = f"if {rest[0]!r} holds them, pass --target {shlex.quote(rest[0])}"
    elif rest:
        hint = "name the column that holds them with --target COL"
    else:
        hint = (f"add them as a column (named {model_target!r}, or name it with "
                "--target COL)")
    raise CLIError(f"{args.data}: has no column {model_target!r}, the model's label "
                   f"column (the true labels to score against); {hint}")


#: Rows of a CSV's last column :func:`_check_last_is_label` reads.
LABEL_SAMPLE_ROWS = 1000


def _check_last_is_label(args, cols, model):
    """By position, a CSV with one column more than the model's features
    has the last one taken for the label (as train's default target), and
    left out: a label column elsewhere was taken for a feature, and the last
    feature for the label, without a word. The last column's first
    :data:`LABEL_SAMPLE_ROWS` values that are numbers must be the model's
    classes (text, such as a missing-value mark or a class the model never
    saw, passes, as blanks do; so does a 0/1 feature among 0/1 classes).
    A model that records its label column's name (trained on a CSV) has
    the file's columns chosen by that name instead."""
    from . import io

    header = cols.header
    left_out = {io._column_index(args.data, header, c) for c in cols.drop}
    kept = [j for j in range(len(header)) if j not in left_out]
    if len(kept) != model.n_features_in_ + 1:
        return   # no column over (or a width the read refuses)
    last = kept[-1]
    classes = np.asarray(model.classes_)
    number = classes.dtype.kind in "biuf"
    odd = [v for v in io.read_column(args.data, last, delimiter=args.delimiter,
                                     max_rows=LABEL_SAMPLE_ROWS).tolist()
           if _same_number(v, v) and not any(
               str(c) == v or (number and _same_number(v, c))
               for c in classes.tolist())]
    if odd:
        raise CLIError(
            f"{args.data}: by position, it has one column more than the "
            f"model's {model.n_features_in_} features; the last "
            f"({header[last]!r}) is taken for the label, but holds values "
            f"that are not the model's classes (such as "
            f"{_fmt_labels(odd[:3])}; its classes: {_fmt_labels(classes)}): "
            f"name the label column with --target COL, or leave a column out "
            f"with --drop COL")


def _npy_positions(path, model, recorded, rid, target):
    """The columns a model was trained without (``recorded``) and its --id
    column (``rid``), positions in the training .npy (train records them
    counted from 0; older model files have them as typed, a negative one
    counting from the end), as positions in the .npy at ``path``: the same
    where it has the training file's width, one less past the label column
    where it lacks that column (new rows to predict). Other widths are left
    to the read to refuse."""
    from . import io

    if model is None or isinstance(target, bool) or not isinstance(target, int):
        return recorded, rid
    width = model.n_features_in_ + len(recorded) + (rid is not None) + 1
    k = io.npy_columns(path)
    if k not in (width, width - 1):
        return recorded, rid

    def place(p):
        q = p + width if p < 0 else p
        return q - 1 if k == width - 1 and q > target else q

    return [place(p) for p in recorded], None if rid is None else place(rid)


def _read_data(args, labels, model=None, data_meta=None, cols=None):
    """Read DATA with :func:`fastlr.io.read_dataset`, after the checks of
    :func:`_resolve_columns` (``cols``, when they are made); for predict and
    evaluate (``cols.scoring``), which read the features once, a float .npy
    table's are its memory-mapped columns, not a copy."""
    from . import io

    cols = cols or _resolve_columns(args, labels, model, data_meta)
    n = model.n_features_in_ if model is not None else getattr(args, "n_features",
                                                               None)
    with _columns_left_out(cols, model, n, labels):
        data = io.read_dataset(
            args.data, target=cols.target, fmt=cols.fmt, delimiter=args.delimiter,
            labels=labels, n_features=n,
            feature_names=cols.names, model_target=cols.model_target,
            zero_based=cols.zero_based, drop=cols.drop or None,
            text_labels=_text_classes(model), unseen_features=cols.unseen,
            copy=not cols.scoring)
    if model is not None and cols.zero_based is None and data.zero_based is False \
            and data.X.nnz:
        _said_guessed_base(args.data, int(data.X.indices.max()) + 1, model,
                           cols.trained_on)
    out = _read_as(cols, data, args.data)
    if cols.id_col is not None and labels == "ignore":  # predict writes the IDs
        column = int(cols.id_col) if cols.fmt == "npy" else cols.id_col
        out.ids = io.read_column(args.data, column, fmt=cols.fmt,
                                 delimiter=args.delimiter)
    return out


@contextlib.contextmanager
def _columns_left_out(cols, model, n, labels=None):
    """A CSV or .npy file with another number of feature columns than the
    model's: say how columns are left out (for a command that needs labels,
    ``labels == "required"``, without a target column given or recorded:
    first how to name it); an svmlight file wider than the model (``n``
    features), or than ``train --n-features n``: say what to do
    (:func:`_wider_svmlight`)."""
    from . import io

    try:
        yield
    except io.FeatureMismatchError as exc:
        if cols.fmt == "svmlight":
            raise CLIError(_wider_svmlight(cols, model, n, exc)) from None
        if cols.fmt not in ("csv", "npy"):
            raise
        if labels == "required" and cols.target is None and cols.model_target is None:
            raise CLIError(f"{exc} (name the label column with --target COL: the "
                           "model records none; --drop COL,... and --id COL "
                           "leave other columns out)") from None
        raise CLIError(f"{exc} (--drop COL,... and --id COL leave columns "
                       "out)") from None


def _wider_svmlight(cols, model, n, exc):
    """The message for an svmlight file with indices beyond ``n`` features
    (``exc``, a :class:`fastlr.io.FeatureMismatchError`): a model's
    (predict and evaluate of a model not trained on an svmlight file; a warm
    start) or ``train --n-features``'s."""
    k = exc.n_found
    if model is None:
        where = exc.path if exc.line is None else f"{exc.path}, line {exc.line}"
        return (f"--n-features {n}: {where}: has a feature index beyond {n:,} "
                f"(the file has {k:,} features); give --n-features {k} or more, "
                "or leave it out to take the file's width")
    said = str(exc)
    if not cols.scoring:
        return (f"--warm-start: {said}; a model is continued at its width: train "
                f"it anew at the widest width, as fastlr train FIRST "
                f"--n-features {k} (its weights for the features its file lacks "
                "are then 0), and continue that model on this file")
    why = "does not record the format of the data it was trained on" \
        if cols.trained_on is None else f"was trained on {cols.trained_on} data"
    return (f"{said}; the model {why}, not on an svmlight file, so the entries "
            f"beyond its {n:,} features cannot be ignored as LIBSVM ignores "
            "them (a model trained on an svmlight file has weight 0 for a "
            "feature its file lacks): score it on rows of at most "
            f"{n:,} features, or train it on data of {k:,} features (from an "
            f"svmlight file: fastlr train FILE --n-features {k})")


def _read_in_parts(args, labels, model, cols, rows):
    """DATA as :func:`_read_data` reads it for ``model``, ``rows`` rows at a
    time (:func:`fastlr.io.open_chunks`): ``(read, parts)``, ``read`` a
    :class:`_Data` without the rows and ``parts`` yielding ``(X, y, ids)``
    (``ids`` the --id column's values for predict, else None)."""
    from . import io
    from ._stream import Unchanged

    # each reader opens the file again: one that changes meanwhile is
    # refused, not read as parts of two files
    unchanged = Unchanged(args.data, "it was read", "when it was first opened",
                          "run the command again")
    unchanged.check()
    zero_based = cols.zero_based
    if cols.fmt == "svmlight" and zero_based is None:
        # the base, found as a whole read finds it (one scan of the file)
        top, zero_based = io.svmlight_features(args.data, required=False)
        if not zero_based:
            _said_guessed_base(args.data, top, model, cols.trained_on)
    keep = cols.id_col if labels == "ignore" else None
    if keep is not None and cols.fmt == "npy":
        keep = int(keep)
    with _columns_left_out(cols, model, model.n_features_in_, labels):
        dataset, parts = io.open_chunks(
            args.data, rows, target=cols.target, fmt=cols.fmt,
            delimiter=args.delimiter, labels=labels,
            n_features=model.n_features_in_, feature_names=cols.names,
            model_target=cols.model_target, zero_based=zero_based,
            drop=cols.drop or None, text_labels=_text_classes(model), keep=keep,
            unseen_features=cols.unseen)
    return _read_as(cols, dataset, args.data), unchanged.parts(
        _wider_parts(cols, model, parts))


def _wider_parts(cols, model, parts):
    """``parts`` with an svmlight row wider than the model said as a whole
    read says it (:func:`_columns_left_out`)."""
    with _columns_left_out(cols, model, model.n_features_in_):
        yield from parts


def _scoring_parts(args, k):
    """Rows per part in which predict and evaluate read DATA for a model of
    ``k`` classes, or None to read it whole: ``--chunk-rows N`` (0: whole);
    by default whole when DATA and the ``k`` values of 8 bytes a row that
    its prediction holds (logits or probabilities) take at most
    :func:`stream_threshold` bytes, else parts of about :data:`_CHUNK_BYTES`,
    those values included (500 classes: 4,000 bytes a row, of a 168-byte
    row of an .npy file)."""
    from . import io

    fmt = io._format_of(args.data, args.fmt)
    rows = args.chunk_rows
    if rows == 0:
        return None
    if fmt == "npz":
        if rows is not None:
            _refuse_npz_parts(args)
        return None
    if rows is not None:
        return rows
    path, small = _is_small(args)
    if small and (os.path.getsize(path) + 8 * k * _estimated_rows(path, fmt)
                  <= stream_threshold()):
        return None
    # (memory, not shuffling, bounds a part: a row of a wide file may be one)
    return _auto_chunk_rows(path, fmt, args, least=1, produced=k)


def _refuse_npz_parts(args):
    raise CLIError(f"--chunk-rows: {args.data}: the arrays of an .npz archive "
                   "cannot be read in parts; save X and y as one .npy table, or "
                   "as CSV or svmlight")


def _is_small(args):
    """``(path, small)``: DATA checked to be a regular file, and whether it
    is at most :func:`stream_threshold` bytes (else read in parts)."""
    from . import io
    from ._files import check_regular

    path = check_regular(args.data, io.DataError)
    return path, os.path.getsize(path) <= stream_threshold()


def _said_guessed_base(path, top, model, trained_on):
    """Warn that an svmlight file without index 0, whose largest index is
    ``top``, was read as 1-based by a guess: when ``model`` records no base
    and the file's indices fit it read either way. ``trained_on``: the
    format of the model's training data its file records, or None."""
    if top + 1 <= model.n_features_in_:
        if trained_on is None:
            why = ("its file records nothing of the data it was trained on, as "
                   "a model fitted in Python")
        elif trained_on == "svmlight":
            why = "an older fastlr train did not record it"
        else:
            why = f"it was trained on {trained_on} data, not on an svmlight file"
        warnings.warn(f"{path}: no feature index is 0 and the model records no "
                      f"index base ({why}), so the indices were read as "
                      "1-based; pass --zero-based yes if they start at 0",
                      stacklevel=1)


def _npz_has(path, name):
    """Whether the .npz archive ``path`` holds an array ``name``; a path
    that is not a regular file (a FIFO would be read forever) raises
    :class:`fastlr.io.DataError`."""
    import zipfile

    from ._files import open_regular
    from .io import DataError

    with open_regular(path, DataError) as f:
        try:
            with zipfile.ZipFile(f) as archive:
                return f"{name}.npy" in archive.namelist()
        except (OSError, zipfile.BadZipFile):
            return False   # reading it says what is wrong


def _read_as(cols, data, path):
    """``data`` (a :class:`fastlr.io.Dataset`, read from ``path``) with the
    columns that were left out of it, as :class:`_Data`; .npy columns as
    positions counted from 0 (a negative index counts from the end: the
    model file records where the column is, not how it was typed)."""
    from . import io

    out = _Data(data)
    width = io.npy_columns(path) if cols.fmt == "npy" else None

    def position(c):
        return int(c) % width if width else int(c)

    if cols.fmt == "csv":
        # names (recorded; an unnamed column's is ''), shown readably
        header = cols.header
        left = list(dict.fromkeys(io._column_index(path, header, c)
                                  for c in cols.drop))
        j = None if cols.id_col is None else \
            io._column_index(path, header, cols.id_col)
        out.ignored = [header[i] for i in left if i != j]
        out.shown = [io._listed(io._label(header, i)) for i in left if i != j]
        if j is not None:
            out.id_name = header[j]
            out.shown.append(f"{io._listed(io._label(header, j))} (--id)")
        return out
    if cols.fmt == "npy":
        out.ignored = [position(c) for c in cols.drop]
    if cols.id_col is not None:
        out.id_name = str(cols.id_col)
        if cols.fmt == "npy":
            out.id_name = str(position(cols.id_col))
        out.ignored = [c for c in out.ignored if str(c) != out.id_name]
    out.shown = [str(c) for c in out.ignored] + (
        [] if out.id_name is None else [f"{out.id_name} (--id)"])
    return out


def _labels_name(path, data):
    """DATA (``path``) and where its labels are, as errors about their
    values name them, whether the file is read whole or in parts."""
    return f"{path} ({_target_where(data)})"


def _target_where(data):
    if data.format == "svmlight":
        return "the first field of each line"
    if data.format == "npz":
        return f"array {data.target!r}"
    if data.format == "npy":
        return f"column {data.target}"
    return f"column {data.target!r}"


def _data_metadata(args, read):
    """What predict and evaluate need to find the same columns again."""
    data = read.data
    meta = {"file": os.path.basename(args.data), "format": data.format,
            "target": data.target}
    if data.format == "csv":
        meta["feature_names"] = list(data.feature_names)
    if data.format == "npy":
        meta["target"] = int(data.target)
    if data.zero_based is not None:
        meta["zero_based"] = bool(data.zero_based)
    if read.ignored:
        meta["ignored"] = read.ignored
    if read.id_name is not None and data.format in ("csv", "npy", "npz"):
        meta["id"] = int(read.id_name) if data.format == "npy" else read.id_name
    return meta


def _text_classes(model):
    """Whether ``model`` (or None) has text classes: a CSV's labels are then
    read as their text, so that ``007`` stays ``"007"`` (parsed as a number
    it would be 7, and ``str(7)`` is not the model's class)."""
    return model is not None and is_text(getattr(model, "classes_", np.empty(0)))


def _match_labels(path, y, classes):
    """True labels comparable with ``classes``; unknown labels are an error.
    Text labels against boolean classes (a model fitted in Python on a bool
    column) are read as ``predict`` writes them: True and False, in any case."""
    text = is_text(classes)
    if classes.dtype.kind == "b" and y.dtype.kind == "U":
        words = np.char.lower(np.char.strip(y))
        unknown = np.unique(y[(words != "true") & (words != "false")])
        if unknown.size:
            raise CLIError(f"{path}: the labels are text ({_fmt_labels(unknown)}) "
                           f"but the model's classes are booleans (False, True): "
                           f"write the labels True and False (or 1 and 0)")
        y = words == "true"
    elif text and y.dtype.kind != "U":
        y = y.astype(str)
    elif not text and y.dtype.kind == "U":
        raise CLIError(f"{path}: the labels are text ({_fmt_labels(np.unique(y))}) "
                       f"but the model's classes are numbers "
                       f"({_fmt_labels(classes)})")
    unseen = np.setdiff1d(np.unique(y), classes)
    if unseen.size:
        raise CLIError(f"{path}: labels the model was not trained on: "
                       f"{_fmt_labels(unseen)} (its classes: "
                       f"{_fmt_labels(classes)})")
    return y


# --------------------------------------------------------------------------
# train


def _class_weight_param(value, classes):
    """--class-weight's LABEL:W pairs with the labels as the data's classes."""
    if value is None or isinstance(value, str | dict):
        return value
    out = {}
    unknown = []
    for text, weight in value:
        label = None
        for c in classes.tolist():
            if str(c) == text or (classes.dtype.kind in "iuf" and
                                  _same_number(text, c)):
                label = c
        if label is None:
            unknown.append(text)
        else:
            out[label] = weight
    # the estimator's (scikit-learn's) rule: a label that is not a class is
    # ignored when every class is named
    if unknown and len(out) < classes.shape[0]:
        raise CLIError(f"--class-weight: {unknown[0]!r} is not a class of the data "
                       f"(its classes: {_fmt_labels(classes)}), and not every "
                       f"class is named: labels that are not classes are "
                       f"ignored only when every class is named")
    return out


def _same_number(text, value):
    try:
        return float(text) == float(value)
    except ValueError:
        return False


def _warm_up(X, params, n_classes):
    """Compile (or load from numba's cache) the kernels the fit on X will use
    (dense or CSR, binary or multinomial, the same options), so that the
    reported time is the training's own."""
    from scipy import sparse

    import fastlr

    k = max(n_classes, min(X.shape[0], params["batch_size"], 4096))
    Xw = np.linspace(-1.0, 1.0, k, dtype=X.dtype).reshape(-1, 1)
    if sparse.issparse(X):
        Xw = sparse.csr_matrix(Xw)
        # numba compiles one kernel per index type: use X's
        Xw.indices = Xw.indices.astype(X.indices.dtype)
        Xw.indptr = Xw.indptr.astype(X.indptr.dtype)
    if isinstance(X, np.ndarray) and not X.flags.writeable:
        Xw.flags.writeable = False   # a memory-mapped table: its own kernels
    y = np.arange(k) % n_classes
    once = {**params, "max_iter": 1, "tol": None, "early_stopping": False,
            "class_weight": None, "warm_start": False, "verbose": 0}
    with warnings.catch_warnings():
        # of the made-up rows (scikit-learn's label check warns of a
        # regression target for more than 16 classes here), not the user's
        warnings.simplefilter("ignore")
        fastlr.LogisticRegression(**once).fit(Xw, y)


def _describe_features(X):
    """The features line of the train summary; for sparse X its density."""
    from scipy import sparse

    m, n = X.shape
    return _describe_shape(m, n, int(X.indptr[-1]) if sparse.issparse(X) else None)


def _describe_shape(m, n, stored=None):
    if stored is None:
        return f"{n:,}"
    return (f"{n:,} (sparse CSR, never densified: {stored:,} stored values, "
            f"{100.0 * stored / (m * n):.3g}% of the matrix, "
            f"{stored / m:.3g} per row)")


def _solver_epochs(clf):
    """The SGD epochs before the L-BFGS iterations of a solver fit; None
    for an SGD fit, whose passes are all epochs."""
    if getattr(clf, "solver_", "sgd") == "sgd":
        return None
    return clf.n_iter_ - clf.n_solver_iter_


def _sgd_epochs(n):
    return f"{n} SGD epoch{'s' * (n != 1)}"


def _passes_line(clf, params):
    """How many passes training ran, and why it stopped."""
    line = f"{clf.n_iter_} of at most {params['max_iter']}"
    tol = params["tol"]
    epochs = _solver_epochs(clf)
    if epochs is not None:
        line += f" ({_sgd_epochs(epochs)} + {clf.n_solver_iter_} L-BFGS iterations"
        if clf.n_iter_ < params["max_iter"]:
            line += (", converged: relative decrease below "
                     f"tol={tol:g}" if tol is not None else
                     ", converged: nothing decreases any more")
        return line + ")"
    if clf.n_iter_ >= params["max_iter"]:
        return line
    if params["early_stopping"]:
        return line + (" (stopped early: held-out log-loss no longer improving "
                       f"by tol={tol:g})")
    return line + f" (stopped early: loss no longer improving by tol={tol:g})"


def _describe_standardize(standardize, sparse, auto=False):
    """The summary's line for ``standardize`` as training took it;
    ``auto``: it was "auto", the default."""
    if standardize is False and sparse and auto:
        return "no (raw features: by default sparse data is trained on as it is)"
    if standardize is False:
        return "no (raw features)"
    if sparse or standardize == "scale":
        why = " (the data is sparse: centering would densify it)" if sparse else ""
        return f"scaled to unit variance, not centered{why}"
    return "centered and scaled to unit variance (folded into the kernel)"


@dataclass
class _Trained:
    """A training run of ``fastlr train``, for its summary and outputs."""

    clf: object
    read: _Data              # DATA's description (read.data.X may be None)
    rows: str                # the rows line
    m: int                   # training rows
    features: str            # the features line
    sparse: bool
    seconds: float
    train_acc: float
    plot_xy: object = None   # (X, y) or a _PlotSample for boundary.png, or None
    held_out: tuple = None   # (accuracy, log-loss) on held-out rows
    reading: str = None      # how DATA was read, when not whole (or copied)
    timing: str = "JIT compilation excluded"


def _train(args):
    import fastlr

    if args.by_position and _given(args, "warm_start") is None:
        raise CLIError("--by-position matches DATA's columns to --warm-start's "
                       "model; without --warm-start there is no model to match")
    if args.model:
        # --warm-start M --model M continues a model in place: allowed
        _check_writable(args.model, "--model", replace=True,
                        inputs=[(args.data, "DATA")])
    if args.plot:
        _check_folder(args.plot, "--plot", TRAIN_PLOTS,
                      inputs=[(args.data, "DATA"),
                              (_given(args, "warm_start"), "--warm-start")],
                      outputs=[(args.model, "--model")])
    _set_threads(args)
    warm, warm_meta, base = None, {}, default_params()
    if _given(args, "warm_start") is not None:
        warm, warm_meta = _load_model(_given(args, "warm_start"), continued=True)
        _format_from_model(args, warm_meta)
        base = warm.get_params()
    _check_n_features(args, warm)
    params = _params_from_args(args, base)
    _check_tol(args, params)
    _check_split_seed(args, params)
    if args.quiet:
        params["verbose"] = 0
    how = _how_to_read(args, params)
    args.read_in_parts = how not in (None, "copied")
    if how in (None, "copied"):
        run = _train_whole(args, params, warm, warm_meta)
        if how == "copied":
            run.reading = FORTRAN_READING
    else:
        run = _train_in_parts(args, params, warm, warm_meta, how)
    clf, data = run.clf, run.read.data
    if data.format == "csv":
        # as fit on a DataFrame sets it: Python users of the model see the
        # columns it was trained on
        clf.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
    if args.model:
        fastlr.save(clf, args.model, metadata={"data": _data_metadata(args, run.read)})
    plots = _train_plots(args, clf, run.plot_xy, data) if args.plot else None

    epochs_line = _passes_line(clf, params)
    solved = getattr(clf, "solver_", "sgd") != "sgd"   # ran the L-BFGS solver
    rate = run.m * clf.n_iter_ / run.seconds if run.seconds > 0 else float("inf")
    classes = clf.classes_
    k = classes.shape[0]
    # (a list cut short says how many classes there are: not twice)
    kind = f"positive: {_fmt_labels(classes[1:2])}" if k == 2 else \
        "multinomial (softmax) model" if k > SHOWN else \
        f"{k} classes: multinomial (softmax) model"
    read = run.read
    lines = [
        ("data", f"{args.data} ({data.format}, labels from {_target_where(data)})"),
        ("reading", run.reading) if run.reading else None,
        ("rows", run.rows),
        ("features", run.features),
    ]
    if read.shown:
        lines.append(("not features", ", ".join(read.shown)))
    lines += [
        ("standardize", _describe_standardize(
            standardize_option(clf.standardize, clf.fit_intercept, run.sparse),
            run.sparse, auto=isinstance(clf.standardize, str)
            and clf.standardize == "auto")),
        ("classes", f"{_fmt_labels(clf.classes_)} ({kind})"),
        ("warm start", f"from {_given(args, 'warm_start')}") if warm is not None
        else None,
        ("passes run" if solved else "epochs run", epochs_line),
        ("final loss", f"{clf.loss_curve_[-1]:.6g} (mean log-loss "
                       f"{'at the last iterate' if solved else 'over the last epoch'})"),
        ("train accuracy", f"{run.train_acc:.4f}"),
    ]
    if run.held_out is not None:
        lines.append(("held-out", f"accuracy {run.held_out[0]:.4f}, log-loss "
                                  f"{run.held_out[1]:.6g}"))
    if params["early_stopping"] and clf.best_validation_score_ is not None:
        lines.append(("held-out", f"log-loss {-clf.best_validation_score_:.6g} "
                      f"at the best epoch (early stopping on "
                      f"{params['validation_fraction']:g} of the rows)"))
    if args.n_threads is not None:
        lines.append(("threads", str(args.n_threads)))
    lines += [
        ("time", f"{run.seconds:.3f} s ({run.timing})"),
        ("throughput", f"{rate:,.0f} rows/s ({run.m:,} rows x {clf.n_iter_} "
                       f"{'passes' if solved else 'epochs'})"),
        ("model", args.model if args.model else "not saved (use --model FILE)"),
    ]
    if plots is not None:
        lines.append(plots.line)
    _print_table([line for line in lines if line is not None])
    return EXIT_OK if plots is None else plots.status


def _check_n_features(args, warm):
    """train --n-features: for svmlight files, and a warm start's width."""
    from . import io

    n = args.n_features
    if n is None:
        return
    fmt = io._format_of(args.data, args.fmt)
    if fmt != "svmlight":
        raise CLIError(f"--n-features is for svmlight files (a CSV's or an "
                       f"array's columns are its features); {args.data} is {fmt}")
    if warm is not None and n != warm.n_features_in_:
        raise CLIError(f"--n-features {n}: --warm-start's model has "
                       f"{warm.n_features_in_} features, and a model is "
                       "continued at its width")


def _check_tol(args, params):
    """``--tol`` against ``--solver`` (the estimator's rule,
    :func:`fastlr._solver.check_solver`): 0 stops SGD epochs, but not the
    solver's relative decrease; a usage error as ``--tol``'s range is."""
    from ._solver import check_solver

    try:
        check_solver(params["solver"], params["tol"])
    except ValueError:
        if _given(args, "tol") is None:   # the --warm-start model's tol
            raise CLIError(
                f"--warm-start {_given(args, 'warm_start')}: the model was "
                f"trained with tol={params['tol']:g}, which stops SGD epochs "
                f"but not --solver {params['solver']} (the relative decrease "
                "of the objective that stops L-BFGS): give --tol (> 0, or "
                "'none'), or --solver sgd") from None
        args.train_parser.error(
            f"argument --tol: must be > 0 with --solver {params['solver']} (the "
            "relative decrease of the objective that stops L-BFGS; 'none' runs "
            f"every pass), got {params['tol']:g}; --solver sgd takes 0 (its "
            "epochs' loss, as a file read in parts trains)")


#: Seeds scikit-learn's ``train_test_split`` takes (a RandomState's: 32 bits).
SPLIT_SEEDS = 2**32


def _check_split_seed(args, params):
    """The seed of ``--validation-fraction``'s held-out rows (without
    ``--early-stopping``): they are scikit-learn's ``train_test_split``
    with that seed, which takes seeds below 2**32; a larger one is refused
    before any work, as a usage error naming the seed's option (it was
    refused after reading DATA, blaming --validation-fraction)."""
    seed = params["random_state"]
    if (params["early_stopping"] or _given(args, "validation_fraction") is None
            or seed is None or seed < SPLIT_SEEDS):
        return
    why = (f"must be below 2**32 with --validation-fraction (its held-out rows "
           f"are scikit-learn's train_test_split with this seed, which takes "
           f"32-bit seeds), got {seed}")
    if _given(args, "random_state") is None:   # the --warm-start model's seed
        raise CLIError(f"--warm-start {_given(args, 'warm_start')}: the model's "
                       f"random_state {why}; give --seed")
    args.train_parser.error(f"argument --random-state/--seed: {why}")


def _refuse_single_row_held_out(args, params, classes, counts):
    """Refuse a held-out split (``--validation-fraction``, or
    ``--early-stopping``'s) of DATA whose ``classes`` (their row
    ``counts``) include a class of a single row, which it cannot both hold
    out and train on, in the command's words: naming such classes and
    saying what to do (scikit-learn's split said only that they were too
    few, and the estimator speaks of its parameters)."""
    from . import io

    option = "--early-stopping" if params["early_stopping"] else \
        "--validation-fraction"
    if option == "--validation-fraction" and not _given(args, "validation_fraction"):
        return
    phrase = single_row_classes(classes, counts, item=io._listed)
    if phrase:
        raise CLIError(f"{option}: {args.data}: {phrase}, which a held-out "
                       "split cannot both hold out and train on; drop those "
                       "rows or merge their classes into others, or train "
                       f"without {option}")


def _train_whole(args, params, warm, warm_meta):
    """Train on DATA read whole (``fit``)."""
    from scipy import sparse
    from sklearn.metrics import log_loss

    import fastlr

    read = _read_data(args, "required", model=warm, data_meta=warm_meta)
    data = read.data
    X, y = data.X, data.y
    is_sparse = sparse.issparse(X)
    where = _target_where(data)
    if warm is not None:
        y = _match_labels(args.data, y, warm.classes_)
    refuse_continuous(y, _labels_name(args.data, data))
    classes, counts = np.unique(y, return_counts=True)
    if classes.shape[0] < 2:
        raise CLIError(f"{args.data}: {where} holds a single class "
                       f"({_fmt_labels(classes)}); training needs two")
    if warm is not None and classes.shape[0] != warm.classes_.shape[0]:
        raise CLIError(f"--warm-start: {args.data} lacks classes of the model ("
                       + classes_apart(classes, "its labels", warm.classes_,
                                       "the model's classes")
                       + "); continuing training needs every one of them")
    params["class_weight"] = _class_weight_param(params["class_weight"], classes)
    _refuse_single_row_held_out(args, params, classes, counts)
    holdout = None if params["early_stopping"] else _given(args, "validation_fraction")
    X_val = y_val = None
    if holdout:
        from sklearn.model_selection import train_test_split

        try:
            X, X_val, y, y_val = train_test_split(
                X, y, test_size=holdout, stratify=y,
                random_state=params["random_state"])
        except ValueError as exc:
            raise CLIError(f"--validation-fraction {holdout:g}: {exc}") from None
        if not is_sparse:  # CSR rows stay CSR (the estimator canonicalizes them)
            X = np.ascontiguousarray(X)
    clf = warm.set_params(**params) if warm is not None else \
        fastlr.LogisticRegression(**params)
    if is_sparse:   # (the model is saved after: the larger cost)
        from .core import check_model_memory

        check_model_memory(X.shape[1], classes.shape[0], clf._solver_plan()[0],
                           FIT_SAVE_BYTES_PER_COLUMN, FIT_SAVE_BYTES_PER_COLUMN,
                           name=args.data)
    _warm_up(X, params, classes.shape[0])
    t0 = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - t0

    held_out = None
    if X_val is not None:
        held_out = (float(clf.score(X_val, y_val)),
                    float(log_loss(y_val, clf.predict_proba(X_val),
                                   labels=clf.classes_)))
    m = X.shape[0]
    rows = f"{m:,}" if X_val is None else \
        f"{m:,} training + {X_val.shape[0]:,} held out (stratified)"
    return _Trained(clf, read, rows, m, _describe_features(X), is_sparse,
                    seconds, float(clf.score(X, y)), plot_xy=(X, y),
                    held_out=held_out)


#: The summary's ``reading:`` line for a float .npy table in Fortran order
#: that fits in memory, which a C-ordered one would be trained on in place.
FORTRAN_READING = ("whole, copied to C order: the table is stored in Fortran "
                   "(column) order, whose rows cannot be trained on in place; "
                   "np.save(path, np.ascontiguousarray(a)) stores one that can")


def _how_to_read(args, params):
    """None: read DATA whole; ("chunks", N): N rows at a time; "in place":
    memory-map an .npy table and train on it without a copy; "copied": read
    whole a float .npy table in Fortran order that would be trained on in
    place in C order (:data:`FORTRAN_READING`)."""
    from . import io

    # (a missing DATA, or a directory, is named as such, not for its extension)
    fmt = io._format_of(args.data, args.fmt)
    rows = args.chunk_rows
    holdout = params["early_stopping"] or _given(args, "validation_fraction")
    why = (_option_of(args, "early_stopping", "--early-stopping")
           if params["early_stopping"] else "--validation-fraction")
    lbfgs = _option_of(args, "solver", "--solver lbfgs")
    if rows == 0:
        return None
    if rows is not None and params.get("solver") == "lbfgs":
        raise CLIError(f"--chunk-rows: {lbfgs} computes the gradient over "
                       "all rows at every iteration, which training on a file "
                       "read in parts does not do; use --solver sgd or auto "
                       "(SGD epochs when read in parts), or --chunk-rows 0")
    if fmt == "npz":
        if rows is not None:
            _refuse_npz_parts(args)
        return None
    if rows is not None:
        if holdout:
            raise CLIError(f"--chunk-rows: {why} holds a part of the rows out in "
                           "memory, which training on a file read in parts does "
                           "not do; use one or the other ("
                           + ("--no-early-stopping" if params["early_stopping"]
                              else "no --validation-fraction")
                           + ", or --chunk-rows 0)")
        return "chunks", rows
    path, small = _is_small(args)
    size = os.path.getsize(path)
    solver = params.get("solver", "sgd")
    if fmt == "npy":
        shape, fortran, dtype = io.npy_layout(path)
        if dtype in (np.float32, np.float64) and not fortran:
            # in place trains by SGD epochs: the solver reads a small file
            # whole, and a held-out split a small one (a larger one is
            # refused below, as other formats are)
            if small and (holdout or solver != "sgd"):
                return None
            if solver != "lbfgs" and not holdout:
                return "in place"
        if dtype in (np.float32, np.float64) and small and solver == "sgd" \
                and not holdout:
            return "copied"   # (Fortran order; larger, it is read in chunks)
    if small:
        return None
    if solver == "lbfgs":
        raise CLIError(f"{args.data}: the file ({_bytes(size)}) is larger than "
                       f"{_BUDGET}: {_bytes(stream_threshold())}, so fastlr "
                       f"train reads it in parts, which {lbfgs} cannot do (it "
                       "needs the gradient over all rows at every iteration); "
                       "use --solver sgd or auto, or pass --chunk-rows 0 to read "
                       "the file whole anyway")
    if holdout:
        raise CLIError(f"{args.data}: the file ({_bytes(size)}) is larger than "
                       f"{_BUDGET}: {_bytes(stream_threshold())}, so fastlr "
                       f"train reads it in parts, which {why} cannot do (it holds "
                       "rows out in memory); pass --chunk-rows 0 to read the "
                       "file whole anyway")
    return "chunks", _auto_chunk_rows(path, fmt, args)


def _option_of(args, name, option):
    """How a message names the option behind parameter ``name``: ``option``
    as the user gave it, or the ``--warm-start`` model's when its value
    stands in for it (the user gave no such option)."""
    if _given(args, name) is not None or _given(args, "warm_start") is None:
        return option
    return f"{option} (the --warm-start model's: it was trained with it)"


def _auto_chunk_rows(path, fmt, args, least=1000, produced=0):
    """Rows of about :data:`_CHUNK_BYTES` once parsed, with ``produced``
    values of 8 bytes a row made from them (predictions), and at least
    ``least`` (training shuffles the rows within a chunk)."""
    from . import io

    if fmt == "npy":
        shape, _, _ = io.npy_layout(path)
        per_row = 8 * shape[1]
    elif fmt == "csv":
        per_row = 100 * len(io.read_header(path, args.delimiter))
    else:  # svmlight: the line, its numbers and the CSR arrays
        per_row = int(4 * _line_bytes(path))
    per_row += 8 * produced
    return int(min(max(_CHUNK_BYTES // max(per_row, 1), least), 1_000_000))


def _line_bytes(path):
    """Bytes a line of the text file ``path``, on average over its first
    MiB."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    return len(head) / max(head.count(b"\n"), 1)


def _estimated_rows(path, fmt):
    """About how many rows DATA (not .npz) holds: an .npy table's, a text
    file's size over the bytes of its first lines'."""
    from . import io

    if fmt == "npy":
        return io.npy_layout(path)[0][0]
    return int(os.path.getsize(path) / max(_line_bytes(path), 1))


def _train_in_parts(args, params, warm, warm_meta, how):
    """Train on DATA read in chunks, or on an .npy table in place
    (:mod:`fastlr._stream`)."""
    import fastlr

    from . import _stream, io

    cols = _resolve_columns(args, "required", model=warm, data_meta=warm_meta)
    fmt, drop = cols.fmt, cols.drop or None
    mt = cols.model_target
    if cols.target is None and warm is not None and (
            (fmt == "npy" and isinstance(mt, int) and not isinstance(mt, bool))
            or (fmt == "csv" and isinstance(mt, str) and mt in cols.header)):
        # the model's label column, as a read of the whole file takes it
        cols.target = mt if fmt == "npy" else \
            io._column_ref(cols.header, cols.header.index(mt))
    zero_based = None
    if fmt == "svmlight":
        # a model's base and width, as a read of the whole file takes them
        width = warm.n_features_in_ if warm is not None else args.n_features
        n, zero_based = io.svmlight_features(args.data, cols.zero_based,
                                             required=width is None)
        if warm is not None and cols.zero_based is None and not zero_based:
            # n: the largest index
            _said_guessed_base(args.data, n, warm, cols.trained_on)
        if width is not None and n > width:
            said = "" if warm is None else (f"the model was trained on {width} "
                                            f"features but this file has {n} "
                                            "features")
            raise CLIError(_wider_svmlight(cols, warm, width, io.FeatureMismatchError(
                args.data, said, n_found=n)))
        n = n if width is None else width
        names, target = io.NumberedNames(n), None
    else:
        names, target = io.feature_columns(args.data, target=cols.target, fmt=fmt,
                                           delimiter=args.delimiter, drop=drop)
    if warm is not None and "" in (cols.names or ()):
        raise CLIError(f"--warm-start: the model has a feature without a name "
                       f"(an older fastlr took a CSV's unnamed column, most "
                       f"likely a row index, for a feature), which a read in "
                       f"parts does not take: continue it on {args.data} read "
                       f"whole (--chunk-rows 0), or train a new model without "
                       f"that column")
    if warm is not None:
        if len(names) != warm.n_features_in_:
            raise CLIError(f"--warm-start: the model was trained on "
                           f"{warm.n_features_in_} features but {args.data} has "
                           f"{len(names)} feature columns (--target names the "
                           "label column; --drop COL,... and --id COL leave "
                           "columns out)")
        if cols.names and list(cols.names) != list(names):
            if fmt != "csv":
                raise CLIError(f"--warm-start: reading {args.data} in parts takes "
                               f"its feature columns in file order "
                               f"({io._shown(names, 6)}), which must be the model's "
                               f"({io._shown(cols.names, 6)}); pass --chunk-rows 0 "
                               "to read the file whole")
            # a CSV's columns taken by name, as a read of it whole takes them
            # (and a model's column missing from the file refused as there)
            names = list(cols.names)
    if how == "in place":
        mapped = io.map_npy(args.data, target=cols.target, drop=drop)
        try:
            source = _stream.TableInPlace(mapped.table, mapped.y, mapped.features,
                                          name=args.data)
        except _stream.NotFeaturesNotFinite:
            # a dropped column holds NaN or inf: the chunks never parse it
            how = "chunks", _auto_chunk_rows(args.data, fmt, args)
        else:
            target = mapped.target
            reading = ("memory-mapped and trained on in place, not copied (the "
                       "columns that are not features stay out of the model)")
    if how != "in place":
        read = dict(target=cols.target, fmt=fmt, delimiter=args.delimiter,
                    drop=drop, text_labels=_text_classes(warm))
        if fmt == "csv" and cols.names:
            # the model's columns, by name
            read.update(n_features=len(cols.names), feature_names=cols.names)
        if fmt == "svmlight":
            read.update(n_features=len(names), zero_based=zero_based)
        source = _stream.FileChunks(args.data, how[1], **read)
    dataset = io.Dataset(None, None, names, target, fmt, zero_based)
    # --class-weight's LABEL:W pairs become a dict once the first pass has
    # found the classes (on_classes); until then the model has none
    cw = params["class_weight"]
    start = dict(params, class_weight=cw if cw is None or isinstance(cw, str | dict)
                 else None)
    clf = warm.set_params(**start) if warm is not None else \
        fastlr.LogisticRegression(**start)

    def on_classes(model, classes):
        params["class_weight"] = _class_weight_param(params["class_weight"],
                                                     classes)
        model.set_params(class_weight=params["class_weight"])
        # a few rows as training reads them (a table in place: read-only)
        _warm_up(source.data.X[:16] if how == "in place" else source.head(16)[0],
                 params, classes.shape[0])

    source.labels_name = _labels_name(args.data, dataset)
    info = _stream.fit(clf, source, name=args.data, on_classes=on_classes,
                       classes=None if warm is None else warm.classes_)
    sample = _PlotSample() if args.plot and len(names) == 2 else None
    # (the rows to draw, from the pass that scores them)
    each = None if sample is None else lambda part, y: sample.add(
        part.X, y, getattr(source, "features", None))
    if how != "in place":
        chunks = "1 chunk" if info.parts == 1 else f"{info.parts:,} chunks"
        reading = (f"in {chunks} of at most {how[1]:,} rows, "
                   f"{clf.n_iter_ + info.scans + 1} passes over the file (the "
                   "column statistics" + (", weighted by class in a second"
                                          if info.scans == 2 else "")
                   + ", one per epoch, the accuracy)")
        if fmt == "csv" and clf.n_iter_ > 1 and clf.classes_.dtype.kind in "biuf":
            # (an .npy table holds numbers: convert refuses text labels)
            reading += (f"; to parse it once, not every epoch: "
                        f"{_convert_command(args, cols.target)} --out TABLE.npy, "
                        "then train "
                        "on TABLE.npy")
    return _Trained(
        clf, _read_as(cols, dataset, args.data), f"{info.rows:,}", info.rows,
        _describe_shape(info.rows, len(names), info.stored if fmt == "svmlight"
                        else None),
        fmt == "svmlight", info.seconds, _stream.score(clf, source, each),
        plot_xy=sample,
        reading=reading,
        timing="JIT compilation excluded; " + (
            "the first pass, for the column statistics and labels, took"
            if info.scans == 1 else "the first two passes, for the labels and the "
            "class-weighted column statistics, took") +
        f" {info.scan_seconds:.3f} s more")


def _print_table(lines):
    width = max(len(k) for k, _ in lines) + 2
    for key, value in lines:
        _out(f"{key + ':':<{width}}{value}")


#: The files ``train --plot DIR`` and ``evaluate --plot DIR`` may write.
TRAIN_PLOTS = ("loss.png", "boundary.png")
EVALUATE_PLOTS = ("roc.png", "calibration.png", "confusion.csv")

#: Most classes whose confusion matrix ``evaluate`` prints: past them the
#: matrix (k lines of k counts: 3,887 characters a line at 298 classes) is
#: written to ``confusion.csv`` in the ``--plot`` folder instead.
EVALUATE_CONFUSION_CLASSES = 20


def _save_figure(fig, directory, name):
    """Write ``fig`` as ``directory/name`` (a PNG), atomically."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    save_png(fig, path)
    return path


#: Most rows ``train --plot`` draws in boundary.png, a seeded sample
#: (:class:`_PlotSample`) of the data beyond them: every row of 5,000,000
#: took 15 s and 0.9 GB more to draw, as one solid blot.
PLOT_ROWS = 100_000
#: Rows of each class the sample holds at least (every row of a class with
#: fewer): a rare class is not left out of the picture.
PLOT_CLASS_ROWS = 100
PLOT_SEED = 0


class _PlotSample:
    """The rows ``train --plot`` draws: a random sample, seeded, of every
    row of the data (read whole or in parts), the same whatever the parts:
    each row gets a random key, in file order, and the sample holds the
    :data:`PLOT_ROWS` rows of the smallest keys and, of each class, the
    :data:`PLOT_CLASS_ROWS` rows of its smallest keys. Its rows are kept
    in file order; ``rows`` counts the rows seen."""

    def __init__(self):
        self.rng = np.random.default_rng(PLOT_SEED)
        self.X = self.y = self.keys = None
        self.rows = 0

    def add(self, X, y, columns=None):
        """The rows of a part: ``X`` (dense or sparse; ``columns``, those of
        the two features, when it holds others) and their labels ``y``."""
        from scipy import sparse

        y = np.asarray(y)
        keys = self.rng.random(y.shape[0])
        index = _sampled(keys, y)
        X = X[index]
        X = X.toarray() if sparse.issparse(X) else np.asarray(X, dtype=np.float64)
        part = X if columns is None else X[:, columns], y[index], keys[index]
        if self.y is not None:
            part = [np.concatenate([a, b]) for a, b in
                    zip((self.X, self.y, self.keys), part, strict=True)]
            index = _sampled(part[2], part[1])
            part = [a[index] for a in part]
        self.X, self.y, self.keys = part
        self.rows += y.shape[0]


def _sampled(keys, y):
    """The index (ascending) of the rows :class:`_PlotSample` keeps of the
    rows of random ``keys`` and labels ``y``: their :data:`PLOT_ROWS`
    smallest keys and, of each class, its :data:`PLOT_CLASS_ROWS`
    smallest."""
    n = keys.shape[0]
    if n <= PLOT_ROWS:
        return np.arange(n)
    pick = np.zeros(n, dtype=bool)
    pick[np.argpartition(keys, PLOT_ROWS - 1)[:PLOT_ROWS]] = True
    _, codes = np.unique(y, return_inverse=True)
    total = np.bincount(codes)
    short = np.bincount(codes[pick], minlength=total.shape[0]) < \
        np.minimum(total, PLOT_CLASS_ROWS)
    if short.any():
        rows = np.flatnonzero(short[codes])   # of the classes short of rows
        rows = rows[np.lexsort((keys[rows], codes[rows]))]
        by_class = codes[rows]
        rank = np.arange(rows.shape[0]) - np.searchsorted(by_class, by_class)
        pick[rows[rank < PLOT_CLASS_ROWS]] = True
    return np.flatnonzero(pick)


class _Plots:
    """The plots a command writes to ``args.plot``: :meth:`draw` writes one,
    or, when drawing or writing it fails, says so on stderr naming it and
    goes on, so that the summary (and a model saved before) is not lost;
    :attr:`line` is the summary's ``plots`` line, and the command exits
    with :data:`EXIT_FAILURE` when one failed."""

    def __init__(self, args):
        self.args, self.written, self.failed = args, [], []

    def draw(self, name, figure):
        """Write ``figure()`` (called here) as ``args.plot/name``."""
        try:
            self.written.append(_save_figure(figure(), self.args.plot, name))
        except Exception as exc:
            if self.args.debug:
                raise
            print(f"fastlr: error: {name} not written: {_describe(exc, self.args)}",
                  file=sys.stderr)
            self.failed.append(name)

    @property
    def line(self):
        return ("plots", ", ".join(self.written + [f"{name} not written (the error "
                                                   "above)" for name in self.failed]))

    @property
    def status(self):
        return EXIT_FAILURE if self.failed else EXIT_OK


def _train_plots(args, clf, xy, data):
    """loss.png, and boundary.png for two features when ``xy`` is given:
    the data, ``(X, y)``, or a :class:`_PlotSample` of it. A :class:`_Plots`."""
    from .plotting import (
        literal,
        plot_decision_boundary,
        plot_decision_regions,
        plot_loss_curve,
    )

    name = literal(os.path.basename(args.data))
    epochs = _solver_epochs(clf)
    xlabel = ("epoch" if epochs is None else "L-BFGS iteration" if not epochs
              else f"pass ({_sgd_epochs(epochs)}, then L-BFGS iterations)")
    out = _Plots(args)
    out.draw("loss.png", lambda: plot_loss_curve({"training loss": clf.loss_curve_},
                                                 title=f"{name}: training loss",
                                                 xlabel=xlabel))
    if isinstance(xy, tuple):
        sample = None
        if xy[0].shape[1] == 2:
            sample = _PlotSample()
            sample.add(*xy)
        xy = sample
    if xy is not None:
        X, y = xy.X, xy.y
        drawn = "" if X.shape[0] == xy.rows else \
            f"\n{X.shape[0]:,} of {xy.rows:,} rows drawn (a random sample)"
        if is_text(clf.classes_):
            y = y.astype(str)
        classes = clf.classes_.astype(str) if is_text(clf.classes_) else clf.classes_
        labels = [str(c) for c in clf.classes_]
        # (the model's classes: the rows drawn may miss one)
        if clf.classes_.shape[0] == 2:
            out.draw("boundary.png", lambda: plot_decision_boundary(
                X, y, clf.coef_[0], float(clf.intercept_[0]), labels=labels,
                feature_names=data.feature_names, classes=classes,
                title=f"{name}: decision boundary{drawn}"))
        else:
            out.draw("boundary.png", lambda: plot_decision_regions(
                X, y, clf.coef_, clf.intercept_, labels=labels,
                feature_names=data.feature_names, classes=classes,
                title=f"{name}: decision regions{drawn}"))
    return out


# --------------------------------------------------------------------------
# predict, evaluate and export


def _predict(args):
    if args.out:
        _check_writable(args.out, "--out", replace=True,
                        inputs=[(args.data, "DATA"), (args.model, "--model")])
    _set_threads(args)
    model, data_meta = _load_model(args.model)
    _format_from_model(args, data_meta)
    read, parts = _read_parts(args, "ignore", model, data_meta)
    header = [f"proba_{c}" for c in model.classes_.tolist()] if args.proba \
        else ["label"]
    if read.id_name is not None:
        header = [read.id_name, *header]
    written = None

    def blocks():
        nonlocal written
        for X, _, ids in parts:
            with _predicting(args, model, X.shape[0]):
                values = model.predict_proba(X) if args.proba else \
                    model.predict(X)[:, None]
            if written is None:
                yield _csv_text([_csv_fields(np.asarray([name]), len(header) == 1)
                                 for name in header])   # once the first part is predicted
                written = 0
            written += X.shape[0]
            yield from _output_csv(values, ids)

    if args.out:
        def write(binary):
            text = TextIOWrapper(binary, encoding="utf-8", newline="")
            _write_csv(text, blocks())
            text.flush()
            text.detach()   # the writer closes the file

        write_atomic(args.out, write, "the predictions file")
        print(f"wrote {written:,} predictions to {args.out}", file=sys.stderr)
    else:
        _write_csv(sys.stdout, blocks())
        sys.stdout.flush()
    return EXIT_OK


@contextlib.contextmanager
def _predicting(args, model, rows):
    """Predicting ``rows`` rows of DATA with ``model``, which holds its k
    values of 8 bytes a row (logits or probabilities): refused before when
    they do not fit in the memory available (:func:`check_memory`), and a
    MemoryError said to be theirs, with what to do about it (not the
    model's weights: :func:`_describe`)."""
    from . import io

    k = len(model.classes_)
    what = (f"predicting {rows:,} rows of a {k}-class model ({k} values of 8 "
            "bytes a row)")
    try:
        check_memory(8 * k * rows, what)
        yield
    except MemoryError as exc:
        # (numpy's message gives the size; check_memory's says it all)
        said = str(exc) if isinstance(exc, NotEnoughMemory) else \
            f"{exc}: {what}" if str(exc) else \
            f"an allocation failed: {what}, {_bytes(8 * k * rows)}"
        fmt = io._format_of(args.data, args.fmt)
        if args.func is _evaluate:
            hint = (f"evaluate keeps the {k} probabilities of every row, "
                    "whether DATA is read whole or in parts: score a sample "
                    "of its rows")
        elif fmt == "npz":
            hint = ("an .npz archive is read whole: save X and y as one .npy "
                    "table, or as CSV or svmlight, to read it in parts with "
                    "--chunk-rows N")
        elif args.chunk_rows:   # (the parts given were too large)
            hint = (f"pass a smaller --chunk-rows than {args.chunk_rows:,} "
                    f"(parts of {rows:,} rows need {_bytes(8 * k * rows)} for "
                    "their values alone)")
        else:
            n = _auto_chunk_rows(args.data, fmt, args, least=1, produced=k)
            hint = (f"pass --chunk-rows N to read and predict DATA N rows at "
                    f"a time (--chunk-rows {n}: parts of about "
                    f"{_CHUNK_BYTES >> 20} MB)")
        raise NotEnoughMemory(f"{said}; {hint}") from exc


def _read_parts(args, labels, model, data_meta):
    """``(read, parts)`` of :func:`_read_in_parts`, or DATA read whole by
    :func:`_read_data` as one part, as :func:`_scoring_parts` decides."""
    cols = _resolve_columns(args, labels, model, data_meta)
    rows = _scoring_parts(args, len(model.classes_))
    cols.scoring = True
    if rows is not None:
        return _read_in_parts(args, labels, model, cols, rows)
    read = _read_data(args, labels, model, data_meta, cols)
    return read, [(read.data.X, read.data.y, read.ids)]


#: Rows of predictions made into Python objects and text at a time: all at
#: once, 16M rows of two probabilities took 1.9 GB of lists beside their array
OUTPUT_ROWS = 1 << 16
#: Fields of predictions made into text at a time, at most (for many classes)
OUTPUT_FIELDS = 1 << 19


def _output_csv(values, ids):
    """The CSV text of ``predict``'s (m, c) ``values``, each row after its ID
    when ``ids`` is given, in blocks of OUTPUT_ROWS rows (fewer for many
    columns: OUTPUT_FIELDS fields). IDs: a float (as
    an .npy table trained in place must hold) that is a whole number as the
    integer it is (``20240101``, not ``20240101.0``; ``10000000000000000``,
    not ``1e+16``), each by itself, so that a file read in parts is written
    as one read whole; anything else as read."""
    alone = ids is None and values.shape[1] == 1
    floats = ids is not None and ids.dtype.kind == "f"
    # (and about OUTPUT_FIELDS fields: a block of 300 probabilities a row
    # held 65,536 rows' text, 2.5 GB at the peak against 2.1 GB by row)
    rows = max(1, min(OUTPUT_ROWS, OUTPUT_FIELDS // max(values.shape[1], 1)))
    for lo in range(0, values.shape[0], rows):
        columns = [_csv_fields(column, alone)
                   for column in values[lo:lo + rows].T]
        if ids is not None:
            keys = ids[lo:lo + rows]
            if floats:
                whole = np.isfinite(keys) & (keys == np.round(keys))
                if whole.all() and np.all(np.abs(keys) < 2.0 ** 63):
                    keys = keys.astype(np.int64).tolist()   # (each exact)
                else:
                    keys = [int(v) if w else v for v, w in
                            zip(keys.tolist(), whole.tolist(), strict=True)]
            else:
                keys = _csv_fields(keys, False)
            columns.insert(0, keys)
        yield _csv_text(columns)


#: The characters for which ``csv.writer`` may quote a text field (a comma,
#: a double quote, a line end; some Python versions quote a carriage return,
#: others not): text without any is written as it is, other text by the csv
#: module itself (:func:`_csv_field`)
_CSV_SPECIAL = ',"\r\n'
_CSV_SPECIAL_RE = re.compile(f"[{_CSV_SPECIAL}]")


def _csv_field(value, alone):
    """``value`` as ``csv.writer`` writes it as a field: quoted when it has to
    be, the only field of its row when ``alone`` (an empty one is quoted)."""
    out = StringIO()
    csv.writer(out, lineterminator="\n").writerow([value] if alone else [value, ""])
    return out.getvalue()[:-1 if alone else -2]


def _csv_fields(array, alone):
    """The 1-D ``array``'s values as ``csv.writer`` writes them, as a list
    for :func:`_csv_text`: numbers and bools as themselves (str() is their
    field: Python's repr for a float), text as written, quoted when it has
    to be (:func:`_csv_field`, ``alone`` as there)."""
    values = array.tolist()
    if array.dtype.kind in "biuf":
        return values
    if array.dtype.kind == "U" or all(type(v) is str for v in values):
        text = "".join(values)
        if "" not in values and not any(c in text for c in _CSV_SPECIAL):
            return values   # (the usual case, checked at C speed)
        return [v if v and not _CSV_SPECIAL_RE.search(v) else _csv_field(v, alone)
                for v in values]
    return [_csv_field(v, alone) for v in values]   # bytes, dates...


def _csv_text(columns):
    """The CSV lines (``\\n`` ends) of the rows made of ``columns``, lists
    of fields from :func:`_csv_fields`: what ``csv.writer`` writes, made by
    one string formatting."""
    line = ",".join(["%s"] * len(columns)) + "\n"
    fields = columns[0] if len(columns) == 1 else \
        itertools.chain.from_iterable(zip(*columns, strict=True))
    return (line * len(columns[0])) % tuple(fields)


def _write_csv(f, blocks):
    """Write CSV text ``blocks`` to the text file ``f``, each as it comes."""
    for text in blocks:
        f.write(text)


def _predicted(model, X):
    """``(labels, probabilities)`` of the rows ``X``: ``model.predict(X)``
    and ``model.predict_proba(X)`` exactly, from one pass that computes the
    logits (the labels their argmax, or the sign for two classes), turned
    into the probabilities in place as the kernels' softmax link does: no
    second (m, k) array."""
    from ._kernels import predict as kernels
    from .core import sigmoid

    z = model.decision_function(X)
    classes = model.classes_
    if z.ndim == 1:
        p = sigmoid(z)
        # (1 - p as the "proba" link computes it: NumPy's, in the dtype)
        return classes[(z > 0).astype(np.intp)], np.column_stack([1 - p, p])
    labels = classes[z.argmax(axis=1)]
    kernels.softmax_rows(z, z)
    return labels, z


def _class_index(y, classes):
    """The index in ``classes`` of each of the labels ``y`` (every one of
    them among the classes: :func:`_match_labels`)."""
    order = np.argsort(classes, kind="stable")
    return order[np.searchsorted(classes[order], y)]


def _column(probas, c):
    """Column ``c`` of the probabilities kept in parts, as one array."""
    return np.concatenate([p[:, c] for p in probas])


def _log_loss(probas, codes):
    """scikit-learn's ``log_loss(y, proba, labels=classes)`` of the
    probabilities kept in parts, ``codes`` each row's class index: the mean
    of ``-log`` of each row's probability of its class clipped to ``[eps, 1 -
    eps]``, eps that of the dtype (as scikit-learn clips), without its
    (m, k) one-hot and clipped copies."""
    from .core import log_loss

    ends = np.cumsum([p.shape[0] for p in probas])
    true = np.concatenate([p[np.arange(p.shape[0]), codes[end - p.shape[0]:end]]
                           for p, end in zip(probas, ends, strict=True)])
    # (the binary loss of probabilities all labelled 1 is the mean of -log)
    return log_loss(np.ones(true.shape[0]), true,
                    eps=float(np.finfo(true.dtype).eps))


def _auc(scores, positive):
    """ROC AUC of ``scores`` for the rows ``positive`` against the rest (both
    present), as scikit-learn's ``roc_auc_score`` (the area under the
    trapezoids is the Mann-Whitney statistic, a tie counting a half), to
    rounding: from one sort of the scores, not its argsort and curve (k
    classes called ``roc_auc_score`` k times: 39 s of evaluate's 50 for 500
    classes of 100,000 rows)."""
    ordered = np.sort(scores)
    hits = scores[positive]
    # twice each positive's mid-rank (1-based) among all rows, less one
    twice = (np.searchsorted(ordered, hits, "left").sum()
             + np.searchsorted(ordered, hits, "right").sum())
    n_pos = hits.shape[0]
    n_neg = scores.shape[0] - n_pos
    return float((twice - n_pos * n_pos) / (2 * n_pos * n_neg))


def _roc_auc(codes, probas, classes):
    """(ROC AUC, how it was computed) of the probabilities kept in parts,
    ``codes`` each row's class index: binary, or the macro average of the
    one-vs-rest AUCs (scikit-learn's ``multi_class="ovr"``) over the classes
    that DATA has both in and out of; None when there is none."""
    k = classes.shape[0]
    counts = np.bincount(codes, minlength=k)
    both = (counts > 0) & (counts < codes.shape[0])
    if not both.any():
        return None, "undefined (the data holds a single class)"
    if k == 2:
        return _auc(_column(probas, 1), codes == 1), ""
    aucs = [_auc(_column(probas, c), codes == c) for c in np.flatnonzero(both)]
    how = f" (macro average of one-vs-rest over {len(aucs)} classes"
    if not both.all():
        how += f"; without {_fmt_labels(classes[~both])}: no rows of it in the data"
    return float(np.mean(aucs)), how + ")"


def _evaluate(args):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if args.plot:
        _check_folder(args.plot, "--plot", EVALUATE_PLOTS,
                      inputs=[(args.data, "DATA"), (args.model, "--model")])
    _set_threads(args)
    model, data_meta = _load_model(args.model)
    _format_from_model(args, data_meta)
    read, parts = _read_parts(args, "required", model, data_meta)
    data = read.data
    classes = model.classes_
    # each part's labels, predicted labels and probabilities, kept as they
    # come: one copy of the (m, k) probabilities, not concatenated
    kept = []
    for X, y, _ in parts:
        with _predicting(args, model, X.shape[0]):
            kept.append((y, *_predicted(model, X)))
    ys, preds, probas = (list(a) for a in zip(*kept, strict=True))
    del kept
    pred = np.concatenate(preds) if len(preds) > 1 else preds[0]
    if any(part.dtype.kind == "U" for part in ys):
        ys = [part.astype(str) for part in ys]   # (a CSV's parts typed apart)
    # checked over every part, so that every unknown label is named
    y = _match_labels(args.data, np.concatenate(ys) if len(ys) > 1 else ys[0],
                      classes)
    codes = _class_index(y, classes)
    acc = float(np.mean(pred == y))
    loss = _log_loss(probas, codes)
    auc, how = _roc_auc(codes, probas, classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=classes, zero_division=0.0)
    cm = confusion_matrix(y, pred, labels=classes)
    plots = None
    if args.plot:
        proba = np.concatenate(probas) if len(probas) > 1 else probas[0]
        del probas
        plots = _evaluate_plots(args, y, proba, pred, classes, auc is not None)
    lines = [
        ("data", f"{args.data} ({data.format}, labels from "
                 f"{_target_where(data)})"),
        ("rows", f"{y.shape[0]:,}"),
        ("classes", _fmt_labels(classes) + (
            f" (positive: {_fmt_labels(classes[1:2])})" if classes.shape[0] == 2
            else "")),
        ("accuracy", f"{acc:.4f}"),
        ("log-loss", f"{loss:.6g}"),
        ("ROC AUC", how if auc is None else f"{auc:.4f}{how}"),
    ]
    if plots is not None:
        lines.append(plots.line)
    _print_table(lines)
    _out()
    _out("per class (one vs rest)")
    _out(_format_per_class(classes, precision, recall, f1, support,
                           predicted=cm.sum(axis=0)))
    _out()
    if classes.shape[0] <= EVALUATE_CONFUSION_CLASSES:
        _out("confusion matrix (rows: true label, columns: predicted label)")
        _out(_format_confusion(cm, classes))
    elif args.plot:
        path = _write_confusion(cm, classes, args.plot)
        _out(f"confusion matrix: {classes.shape[0]} x {classes.shape[0]}, written to "
             f"{path} (rows: true label, columns: predicted label)")
    else:
        _out(f"confusion matrix: {classes.shape[0]} x {classes.shape[0]}, not shown "
             f"past {EVALUATE_CONFUSION_CLASSES} classes; --plot DIR writes it to "
             "DIR/confusion.csv")
    if auc is None and args.plot:
        print("fastlr: note: no ROC curve: the data holds a single class",
              file=sys.stderr)
    return EXIT_OK if plots is None else plots.status


def _evaluate_plots(args, y, proba, pred, classes, any_roc):
    from .plotting import (
        ROC_CLASS_CURVES,
        literal,
        plot_calibration,
        plot_roc_curve,
        plot_roc_curves,
    )

    name = literal(os.path.basename(args.data))
    out = _Plots(args)
    if classes.shape[0] == 2:
        y01 = (y == classes[1]).astype(np.int64)
        positive = literal(classes[1])
        if any_roc:
            out.draw("roc.png", lambda: plot_roc_curve(
                y01, proba[:, 1], title=f"{name}: ROC curve (positive: {positive})"))
        out.draw("calibration.png", lambda: plot_calibration(
            y01, proba[:, 1], n_bins=args.bins, what=f"class {positive}",
            title=f"{name}: calibration (class {positive})"))
        return out
    if any_roc:
        # (past ROC_CLASS_CURVES classes, their averages: a legend of every
        # class covered the axes)
        many = classes.shape[0] > ROC_CLASS_CURVES
        out.draw("roc.png", lambda: plot_roc_curves(
            y, proba, classes, title=f"{name}: ROC curves, one vs rest"
                                     f"{', averaged' if many else ''}"))
    # top-label calibration: how often the predicted class is right, against
    # the probability the model gave it
    out.draw("calibration.png", lambda: plot_calibration(
        (pred == y).astype(np.int64), proba.max(axis=1), n_bins=args.bins,
        what="the predicted class", ylabel="fraction of rows predicted right",
        title=f"{name}: calibration of the predicted class"))
    return out


def _format_per_class(classes, precision, recall, f1, support, predicted=None):
    """The per-class table; its macro average is over the classes in the
    data or ``predicted`` (counts per class), as scikit-learn's
    ``classification_report`` takes them: a model's class absent from both
    (its zeros are no score) is left out of it, and the line says so."""
    labels = [str(c) for c in classes.tolist()]
    seen = np.asarray(support) > 0
    if predicted is not None:
        seen |= np.asarray(predicted) > 0
    macro = [float(np.mean(np.asarray(v)[seen])) if seen.any() else 0.0
             for v in (precision, recall, f1)]
    first = max(max(len(s) for s in labels), len("macro average")) + 2
    total = int(np.sum(support))
    rows = max(9, len(f"{total:,}") + 2)   # 9 alone ran into F1 from 1,000,000
    head = f"{'':<{first}}{'precision':>10}{'recall':>9}{'F1':>9}{'rows':>{rows}}"
    lines = [head]
    for label, p, r, f, s in zip(labels, precision, recall, f1, support,
                                 strict=True):
        lines.append(f"{label:<{first}}{p:>10.4f}{r:>9.4f}{f:>9.4f}{s:>{rows},}")
    lines.append(f"{'macro average':<{first}}{macro[0]:>10.4f}"
                 f"{macro[1]:>9.4f}{macro[2]:>9.4f}{total:>{rows},}")
    if not seen.all():
        absent = int(np.count_nonzero(~seen))
        lines.append(f"(the macro average leaves out {absent} class"
                     f"{'' if absent == 1 else 'es'} neither in the data nor "
                     "predicted, as scikit-learn's classification_report does)")
    return "\n".join(lines)


def _write_confusion(cm, classes, directory):
    """Write the confusion matrix ``cm`` as ``directory/confusion.csv``
    (atomically): a header of ``true label`` and the predicted labels, then
    a row per true label. Returns the path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "confusion.csv")
    labels = np.array([str(c) for c in classes.tolist()])
    columns = [_csv_fields(np.concatenate([["true label"], labels]), False)]
    columns += [_csv_fields(labels[c:c + 1], False) + cm[:, c].tolist()
                for c in range(classes.shape[0])]
    text = _csv_text(columns).encode("utf-8")
    write_atomic(path, lambda f: f.write(text), "the confusion matrix")
    return path


def _format_confusion(cm, classes):
    labels = [str(c) for c in classes.tolist()]
    width = max(max(len(s) for s in labels), len(f"{cm.max():,}")) + 2
    first = max(len(s) for s in labels) + 2
    lines = [" " * first + "".join(f"{s:>{width}}" for s in labels)]
    for label, row in zip(labels, cm, strict=True):
        lines.append(f"{label:<{first}}" + "".join(f"{v:>{width},}" for v in row))
    return "\n".join(lines)


def _export(args):
    from . import onnx as fastlr_onnx

    fastlr_onnx.require()  # the onnx extra, before any work
    _check_writable(args.out, "--out", replace=True,
                    inputs=[(args.model, "--model")])
    model, _ = _load_model(args.model)
    proto = fastlr_onnx.to_onnx(model, dtype=args.dtype)
    payload = proto.SerializeToString()
    write_atomic(args.out, lambda f: f.write(payload), "the ONNX file")
    k = model.classes_.shape[0]
    _print_table([
        ("model", f"{args.model} ({k} classes: {_fmt_labels(model.classes_)}; "
                  f"{model.n_features_in_:,} features)"),
        ("input", f"X: {args.dtype} [rows, {model.n_features_in_}]"),
        ("outputs", f"label: [rows]; probabilities: {args.dtype} [rows, {k}]"),
        ("opset", ", ".join(f"{o.domain or 'ai.onnx'} {o.version}"
                            for o in proto.opset_import)),
        ("written", f"{args.out} ({len(payload):,} bytes)"),
    ])
    return EXIT_OK


# --------------------------------------------------------------------------
# convert


def _convert(args):
    import scipy.sparse as sp

    from . import io
    from ._progress import pass_progress
    from ._stream import Unchanged

    if not os.fspath(args.out).lower().endswith(".npy"):
        raise CLIError(f"--out: {args.out}: name the file .npy (fastlr train "
                       "tells a table by its extension)")
    _check_writable(args.out, "--out", replace=True, inputs=[(args.data, "DATA")])
    cols = _resolve_columns(args, "required")
    dtype = np.dtype(args.dtype)
    path, _ = _is_small(args)
    # the reader opens the file again for the parts: one that changes
    # meanwhile is refused, not written as parts of two files
    unchanged = Unchanged(args.data, "it was read", "when it was first opened",
                          "run the command again")
    unchanged.check()
    n_features = None
    if cols.fmt == "svmlight":   # its width, before the parts are sized by it
        n_features, cols.zero_based = io.svmlight_features(path, cols.zero_based)
    # the table's columns, at most: DATA's (an svmlight file's features and
    # label; an .npz archive is read whole, its size no concern here)
    # (an .npy that holds no 2-D numbers is refused as a read refuses it)
    width = {"svmlight": (n_features or 0) + 1, "csv": len(cols.header or ()),
             "npy": io.npy_layout(path)[0][1] if cols.fmt == "npy" else 0
             }.get(cols.fmt, 1)
    # less the columns left out (--id too), each once however it was given
    # (a and 0); an index out of range is the read's to refuse
    if cols.fmt == "csv":
        out = {io._column_index(args.data, cols.header, c) for c in cols.drop}
    else:   # (.npy indices; other formats refuse --drop when read)
        out = {c % width for c in cols.drop if isinstance(c, int)
               and -width <= c < width}
    width = max(width - len(out), 1)   # (no column left: the read says so)
    row_bytes = width * dtype.itemsize
    most = _most_rows(path, cols.fmt)
    # parts of about _CHUNK_BYTES as parsed, and as the dense rows written
    rows = args.chunk_rows or min(_auto_chunk_rows(path, cols.fmt, args, least=1),
                                  max(_CHUNK_BYTES // row_bytes, 1))
    part = max(min(rows, most), 1)   # (an svmlight file's width needs no rows)
    svmlight = cols.fmt == "svmlight"
    check_memory(part * row_bytes,
                 f"converting {args.data} to a dense .npy table"
                 + (" (svmlight data stays sparse when trained on directly, "
                    "without a table)" if svmlight else "")
                 + f" of {width:,} columns"
                 + (" (its largest feature index and the label)" if svmlight else "")
                 + f", {row_bytes:,} bytes a row, {part:,} row"
                 + ("s" if part > 1 else "") + " at a time")
    _check_room(args.out, most * row_bytes)
    dataset, parts = io.open_chunks(
        args.data, rows, target=cols.target, fmt=cols.fmt, delimiter=args.delimiter,
        zero_based=cols.zero_based, drop=cols.drop or None, n_features=n_features)
    n = len(dataset.feature_names)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (0, n + 1)}
    written = 0

    def write(f):
        nonlocal written
        # the header has room for any row count (numpy leaves it, so that an
        # array can grow in place): written again, as long, once they are known
        np.lib.format.write_array_header_1_0(f, header)
        start = f.tell()
        with pass_progress(0 if args.quiet else 1, "convert") as seen:
            for X, y, _ in unchanged.parts(parts):
                table = np.empty((X.shape[0], n + 1), dtype=dtype)
                with np.errstate(over="ignore"):   # (said below)
                    table[:, :n] = X.toarray() if sp.issparse(X) else X
                if dtype != X.dtype and not np.isfinite(table[:, :n]).all():
                    row = written + int(np.flatnonzero(
                        ~np.isfinite(table[:, :n]).all(axis=1))[0])
                    raise CLIError(f"{args.data}: row {row + 1:,} holds a feature "
                                   f"beyond {dtype.name}'s range (about "
                                   f"{float(np.finfo(dtype).max):.3g}); use --dtype "
                                   "float64")
                table[:, n] = _label_column(args.data, y, dtype)
                f.write(memoryview(table).cast("B"))
                written += X.shape[0]
                seen(X.shape[0])
        f.seek(0)
        np.lib.format.write_array_header_1_0(f, dict(header, shape=(written, n + 1)))
        if f.tell() != start:   # pragma: no cover - numpy's promise
            raise RuntimeError("the .npy header changed length")

    def check(tmp):
        # the file numpy reads back is the table written
        if io.npy_layout(tmp)[0] != (written, n + 1):  # pragma: no cover
            raise RuntimeError(f"{tmp}: not the table written")

    write_atomic(args.out, write, "the .npy table", check=check)
    label = {"csv": f"the label column {dataset.target!r}",
             "npy": f"the label (its column {dataset.target})"}.get(dataset.format,
                                                                  "the label")
    size = os.path.getsize(args.out)
    larger = size / max(os.path.getsize(args.data), 1)
    lines = [
        ("read", f"{args.data} ({dataset.format}, {written:,} rows, {n:,} features)"),
        ("written", f"{args.out}: {written:,} x {n + 1:,} {dtype.name} "
                    f"({size:,} bytes); {label} is the last column")]
    if svmlight and larger > 10:
        lines.append(("larger", f"the table is {larger:,.0f} times the size of "
                                f"{args.data} (dense: every zero is stored); svmlight "
                                "data trains on the file itself, sparse, without a "
                                "table"))
    train = f"fastlr train {shlex.quote(os.fspath(args.out))}"
    if svmlight:   # (standardized by default as a dense table, the file is not)
        train += (" --standardize no; that is the model of the svmlight file "
                  "itself (raw features: the default leaves sparse data as it is)")
    _print_table([*lines, ("next", f"{train}; " + _reading_hint(args, dataset))])
    return EXIT_OK


def _convert_command(args, target):
    """The ``fastlr convert`` command line of DATA with the column options
    ``args`` has (train's), ``target`` its label column."""
    import shlex

    return shlex.join(["fastlr", "convert", args.data,
                       *_column_options(args, target)])


def _column_options(args, target):
    """The options that choose DATA's columns as ``args`` has them (and
    its format and delimiter, where given), ``target`` the label column."""
    from . import io

    header = ()
    if io._format_of(args.data, args.fmt) == "csv":
        header = io.read_header(args.data, args.delimiter)
        if target in header:   # (a name may also be another column's index)
            target = io._column_ref(header, header.index(target))
    # (a name that holds a comma is given by itself, the others together)
    whole = [v for v in args.drop if "," in v and v in header]
    drops = [",".join(v for v in args.drop if v not in whole) or None, *whole]
    words = []
    for option, value in (("--format", args.fmt), ("--target", target),
                          ("--id", args.id), *[("--drop", v) for v in drops],
                          ("--delimiter", None if args.delimiter == "," else
                           "tab" if args.delimiter == "\t" else args.delimiter)):
        if value is not None:
            value = str(value)   # (argparse takes a leading minus after =)
            words += [f"{option}={value}"] if value.startswith("-") else \
                [option, value]
    return words


def _reading_hint(args, dataset):
    """How the model trained on a table ``fastlr convert`` wrote reads
    files laid out as DATA (``dataset``): the options that chose its
    columns, and --by-position for a CSV (the table has no names, and a
    CSV's label column, unless named, is taken to be its last), an
    svmlight file's index base (the table records none)."""
    import shlex

    words = _column_options(args, dataset.target)
    without = "without them, other columns would be its features"
    if dataset.format == "csv":
        words.append("--by-position")
    elif dataset.format == "svmlight":
        words += ["--zero-based", "yes" if dataset.zero_based else "no"]
        without = ("without --zero-based, each file's index base is guessed "
                   "from it: 0-based where it holds index 0, else 1-based")
    if not words:
        return f"its model reads files laid out as {args.data} as they are"
    return (f"to predict or evaluate files laid out as {args.data} with its "
            f"model, pass {shlex.join(words)} ({without})")


def _most_rows(path, fmt):
    """At most how many rows DATA holds: an .npy or .npz table's, a text
    file's lines (counted in blocks of bytes)."""
    from . import io

    if fmt == "npy":
        return io.npy_layout(path)[0][0]
    if fmt == "npz":
        return 0   # (read whole: its arrays are in memory already)
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _check_room(out, size):
    """Refuse, before any work, a file of ``size`` bytes that the file
    system of ``out`` has no room for."""
    import shutil

    free = shutil.disk_usage(os.path.dirname(os.path.abspath(out))).free
    if size > free:
        raise CLIError(f"--out: {out}: the table would take up to {_bytes(size)} "
                       f"(rows x columns x bytes), more than the {_bytes(free)} "
                       "free there")


def _bytes(n):
    """``n`` bytes, in MiB below a GiB."""
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def _label_column(path, y, dtype):
    """``y`` as the label column of a ``dtype`` table, refused (naming DATA)
    when it is text or a value the table cannot hold exactly."""
    if y.dtype.kind not in "biuf":
        raise CLIError(f"{path}: the labels are text ({_fmt_labels(np.unique(y))}): "
                       "an .npy table holds numbers only; write them as numbers "
                       "(0, 1, ...) first, or train on the file itself")
    with np.errstate(over="ignore", invalid="ignore"):   # (said below)
        column = y.astype(dtype)
    if not np.array_equal(column.astype(y.dtype), y):
        bad = y[column.astype(y.dtype) != y][0]
        raise CLIError(f"{path}: the label {bad.item()!r} is not exactly a {dtype.name} "
                       "number; use --dtype float64, or fewer digits")
    return column


# --------------------------------------------------------------------------
# verify


def _verify(args):
    from . import verify

    failed = verify.main(seed=args.seed, quick=args.quick, out=_out)
    if failed:
        print(f"fastlr: error: verify: {failed} check(s) outside tolerance",
              file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
