"""The ``fastlr`` command line (``fastlr ...`` or ``python -m fastlr ...``).

Subcommands: ``demo``, ``train``, ``predict``, ``evaluate``, ``verify`` and
``bench``; ``fastlr COMMAND --help`` describes each. Data files are read by
:mod:`fastlr.io`, models are written and read by :func:`fastlr.save` and
:func:`fastlr.load`. svmlight/libsvm files stay sparse (a CSR matrix) from
the file through training and prediction: they are never densified, so
files with millions of features work in memory proportional to their
non-zeros.

Exit status: 0 on success; 1 when a command fails (bad input, unreadable file,
``verify`` finding a mismatch), with one ``fastlr: error: ...`` line on stderr
and no traceback unless ``--debug`` is given; 2 for a usage error.
"""

import argparse
import contextlib
import csv
import os
import platform
import sys
import time
import warnings

import numpy as np

from . import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A problem to report to the user as one line, without a traceback."""


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


def _data_args(p, target_help):
    p.add_argument("data", metavar="DATA",
                   help="data file: .csv (with a header line), .npy, .npz "
                   "(arrays X and y) or svmlight/libsvm (.svm, .svmlight, "
                   ".libsvm; kept sparse, never densified)")
    p.add_argument("--target", metavar="COL", default=None, help=target_help)
    p.add_argument("--format", dest="fmt", default=None,
                   choices=["csv", "npy", "npz", "svmlight"],
                   help="data format (default: from the file extension)")
    p.add_argument("--delimiter", type=_delimiter_type, default=",", metavar="CHAR",
                   help="CSV field separator; 'tab' for tabs (default: ',')")


def _add_demo(sub, common):
    p = sub.add_parser("demo", parents=[common],
                       help="run the tutorial experiments and breast cancer, "
                       "fastlr vs the NumPy reference",
                       description="Train on make_classification, make_moons and "
                       "breast cancer with fastlr and the NumPy reference; print "
                       "accuracy and time, write PNG plots.")
    p.add_argument("--out", default="fastlr-demo", metavar="DIR",
                   help="folder for the PNG plots (default: %(default)s)")
    p.add_argument("--no-plots", action="store_true", help="skip writing plots")
    p.add_argument("--random-state", type=int, default=0, metavar="N",
                   help="seed for the row shuffling (default: %(default)s)")
    p.set_defaults(func=_demo)


def _add_train(sub, common):
    p = sub.add_parser(
        "train", parents=[common], help="fit a model on a data file",
        description="Fit fastlr.LogisticRegression (binary) on DATA by mini-batch "
        "SGD, print a summary and optionally save the model and plots. A "
        "progress bar appears on a terminal when training takes more than "
        "about a second.")
    _data_args(p, "the label column: a CSV column name or index, an .npy "
               "column index, or the .npz labels array (default: the last "
               "column; 'y' for .npz)")
    p.add_argument("--model", metavar="OUT", help="write the model to this file "
                   "(.npz; see fastlr.save)")
    p.add_argument("--plot", metavar="DIR", help="write loss.png (and boundary.png "
                   "for 2 features) to this folder")
    g = p.add_argument_group("training parameters (fastlr.LogisticRegression)")
    g.add_argument("--lr", type=_float_type(0.0, strict_min=True), default=0.01,
                   help="learning rate (default: %(default)s)")
    g.add_argument("--batch-size", type=_int_type(1), default=32, metavar="N",
                   help="rows per SGD step (default: %(default)s)")
    g.add_argument("--epochs", type=_int_type(1), default=1000, metavar="N",
                   help="maximum number of epochs, max_iter (default: %(default)s)")
    g.add_argument("--tol", type=_tol_type, default=1e-4,
                   help="stop when the epoch loss has not improved by TOL for "
                   "--n-iter-no-change epochs; 'none' runs every epoch "
                   "(default: %(default)s)")
    g.add_argument("--n-iter-no-change", type=_int_type(1), default=5, metavar="N",
                   help="epochs without improvement before stopping "
                   "(default: %(default)s)")
    g.add_argument("--penalty", choices=["l2", "l1", "elasticnet", "none"],
                   default="l2", help="regularization (default: %(default)s)")
    g.add_argument("--alpha", type=_float_type(0.0), default=1e-4,
                   help="penalty strength (default: %(default)s)")
    g.add_argument("--l1-ratio", type=_float_type(0.0, 1.0), default=0.15,
                   metavar="R", help="L1 share of the elasticnet penalty "
                   "(default: %(default)s)")
    g.add_argument("--learning-rate", choices=["constant", "invscaling",
                                               "adaptive", "adagrad"],
                   default="constant", help="step-size schedule; --lr is its "
                   "base rate (default: %(default)s)")
    g.add_argument("--average", action="store_true",
                   help="use the averaged SGD weights as the model")
    g.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="train on the raw features (default: standardized; "
                   "sparse svmlight data is scaled to unit variance but not "
                   "centered, which would densify it)")
    g.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                   help="visit rows in file order every epoch")
    g.add_argument("--random-state", "--seed", type=_int_type(0), default=0,
                   metavar="N", help="seed for shuffling and the validation "
                   "split (default: %(default)s)")
    g.add_argument("--validation-fraction", type=_float_type(0.0, 1.0,
                                                             strict_max=True),
                   default=0.0, metavar="F",
                   help="hold out this fraction of the rows (stratified) and "
                   "report accuracy and log-loss on it (default: %(default)s)")
    p.set_defaults(func=_train)


def _add_predict(sub, common):
    p = sub.add_parser(
        "predict", parents=[common], help="predict labels or probabilities",
        description="Predict with a saved model. Output is CSV (a header line, "
        "then one row per data row): the label, or with --proba one "
        "probability column per class.")
    p.add_argument("--model", metavar="M", required=True, help="model file")
    _data_args(p, "the label column to ignore, if DATA has one (default: "
               "the model's target column when present)")
    p.add_argument("--proba", action="store_true",
                   help="print class probabilities instead of labels")
    p.add_argument("--out", metavar="FILE", help="write the CSV to FILE instead "
                   "of stdout")
    p.set_defaults(func=_predict)


def _add_evaluate(sub, common):
    p = sub.add_parser(
        "evaluate", parents=[common], help="score a saved model on labelled data",
        description="Accuracy, log-loss, ROC AUC and the confusion matrix of a "
        "saved model on DATA; --plot writes a ROC curve and a calibration "
        "(reliability) plot.")
    p.add_argument("--model", metavar="M", required=True, help="model file")
    _data_args(p, "the label column (default: the model's target column)")
    p.add_argument("--plot", metavar="DIR", help="write roc.png and "
                   "calibration.png to this folder")
    p.add_argument("--bins", type=_int_type(2), default=10, metavar="N",
                   help="probability bins of the calibration plot "
                   "(default: %(default)s)")
    p.set_defaults(func=_evaluate)


def _add_verify(sub, common):
    p = sub.add_parser(
        "verify", parents=[common],
        help="check the Numba kernels against the NumPy reference",
        description="Run every public function with the Numba kernels and with "
        "fastlr.reference on random data of several shapes, in float64 and "
        "float32, dense and sparse (CSR), and print the largest differences "
        "against the tolerances the test suite uses. Exit status 1 on any mismatch.")
    p.add_argument("--seed", type=_int_type(0), default=0, metavar="N",
                   help="seed for the random data (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="skip the largest shape, which exercises the threaded "
                   "kernels (they are compiled on every run, not cached)")
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
        "project on 1,000,000 x 100 instead (a few minutes).")
    p.add_argument("--rows", type=_int_type(1000), default=200_000, metavar="M",
                   help="rows of X (default: %(default)s)")
    p.add_argument("--features", type=_int_type(1), default=100, metavar="N",
                   help="columns of X (default: %(default)s)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="dtype of X (default: %(default)s)")
    p.add_argument("--batch-sizes", type=_int_list, default=[32, 256, 4096],
                   metavar="B,B,...", help="batch sizes (default: 32,256,4096)")
    p.add_argument("--repeats", type=_int_type(1), default=3, metavar="R",
                   help="interleaved timed repetitions (default: %(default)s)")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the NumPy reference (slow at small batches)")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    p.add_argument("--full", action="store_true",
                   help="the full table of performance targets (P1-P11)")
    p.set_defaults(func=_bench)


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    return values


def _bench(args):
    from . import bench

    if args.full:
        table = bench.performance_table(repeats=max(args.repeats, 5))
        print()
        print(bench.format_performance(table))
        return EXIT_OK
    table = bench.quick_table(rows=args.rows, features=args.features,
                              batch_sizes=tuple(args.batch_sizes), dtype=args.dtype,
                              repeats=args.repeats, sklearn=not args.no_sklearn,
                              ref=not args.no_reference)
    print(bench.format_quick(table, args.rows, args.features, args.dtype))
    return EXIT_OK


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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub, common)
    _add_train(sub, common)
    _add_predict(sub, common)
    _add_evaluate(sub, common)
    _add_verify(sub, common)
    _add_bench(sub, common)
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
        with _warnings_to_stderr():
            return args.func(args)
    except KeyboardInterrupt:
        print("fastlr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our stdout went away (fastlr predict ... | head)
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return EXIT_FAILURE
    except Exception as exc:
        if args.debug:
            raise
        print(f"fastlr: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_FAILURE


_USER_ERRORS = (CLIError, ValueError, TypeError, OSError, FloatingPointError)


def _describe(exc):
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, _USER_ERRORS):
        return str(exc)
    return (f"unexpected {type(exc).__name__}: {exc} (run again with --debug for "
            "the traceback, and please report it)")


@contextlib.contextmanager
def _warnings_to_stderr():
    """Show warnings as one ``fastlr: warning: ...`` line each."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).replace("increase max_iter or lr",
                                    "increase --epochs or --lr")
        print(f"fastlr: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("default", UserWarning)
        warnings.showwarning = show
        yield


def _out(line=""):
    print(line)


# --------------------------------------------------------------------------
# demo


def _demo(args):
    from . import demo

    rows = demo.run(out_dir=args.out, plots=not args.no_plots,
                    random_state=args.random_state)
    print(demo.format_table(rows))
    s = demo.SEED_SETTINGS
    print(f"\nsettings: batch_size={s['batch_size']} epochs={s['epochs']} "
          f"lr={s['lr']}, standardized; times exclude JIT compilation")
    if not args.no_plots:
        print(f"plots written to {args.out}/")
    return EXIT_OK


# --------------------------------------------------------------------------
# train


def _target_arg(args):
    """--target as given: a name, or an int when it is one (for .npy)."""
    t = args.target
    if t is None:
        return None
    fmt = args.fmt
    if fmt is None:
        from .io import FORMATS

        fmt = FORMATS.get(os.path.splitext(args.data)[1].lower())
    if fmt == "npy":
        try:
            return int(t)
        except ValueError:
            pass
    return t


def _fmt_labels(values, limit=6):
    values = [str(v) for v in np.asarray(values).tolist()]
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _warm_up(X, batch_size):
    """Compile (or load from numba's cache) the kernels the fit on X will use:
    the dense ones, or for sparse X the CSR ones."""
    from ._validation import is_sparse
    from .estimator import LogisticRegression

    k = max(2, min(X.shape[0], batch_size, 4096))
    Xw = np.linspace(-1.0, 1.0, k, dtype=X.dtype).reshape(-1, 1)
    if is_sparse(X):
        from scipy import sparse

        Xw = sparse.csr_matrix(Xw)
        # numba compiles one kernel per index type: use X's
        Xw.indices = Xw.indices.astype(X.indices.dtype)
        Xw.indptr = Xw.indptr.astype(X.indptr.dtype)
    y = np.arange(k) % 2
    LogisticRegression(batch_size=batch_size, max_iter=1, tol=None).fit(Xw, y)


def _describe_features(X):
    """The features line of the train summary; for sparse X its density."""
    from ._validation import is_sparse

    m, n = X.shape
    if not is_sparse(X):
        return f"{n:,}"
    nnz = int(X.indptr[-1])
    return (f"{n:,} (sparse CSR, never densified: {nnz:,} stored values, "
            f"{100.0 * nnz / (m * n):.3g}% of the matrix, "
            f"{nnz / m:.3g} per row)")


def _describe_standardize(args, sparse):
    if not args.standardize:
        return "no (raw features)"
    if sparse:
        return ("scaled to unit variance, not centered (the data is sparse: "
                "centering would densify it)")
    return "centered and scaled to unit variance (folded into the kernel)"


def _train(args):
    from . import io, persist
    from ._validation import is_sparse
    from .core import log_loss
    from .estimator import LogisticRegression

    data = io.read_dataset(args.data, target=_target_arg(args), fmt=args.fmt,
                           delimiter=args.delimiter, labels="required")
    X, y = data.X, data.y
    sparse = is_sparse(X)
    classes = np.unique(y)
    where = _target_where(data)
    if classes.shape[0] > 2:
        raise CLIError(f"{args.data}: {where} holds {classes.shape[0]} classes "
                       f"({_fmt_labels(classes)}); fastlr is binary-only for now "
                       "(multiclass is planned)")
    if classes.shape[0] < 2:
        raise CLIError(f"{args.data}: {where} holds a single class "
                       f"({_fmt_labels(classes)}); training needs two")
    X_val = y_val = None
    if args.validation_fraction > 0:
        from sklearn.model_selection import train_test_split

        try:
            X, X_val, y, y_val = train_test_split(
                X, y, test_size=args.validation_fraction, stratify=y,
                random_state=args.random_state)
        except ValueError as exc:
            raise CLIError(f"--validation-fraction {args.validation_fraction:g}: "
                           f"{exc}") from None
        if not sparse:  # CSR rows stay CSR (the estimator canonicalizes them)
            X = np.ascontiguousarray(X)
    clf = LogisticRegression(
        lr=args.lr, batch_size=args.batch_size, max_iter=args.epochs, tol=args.tol,
        n_iter_no_change=args.n_iter_no_change,
        penalty=None if args.penalty == "none" else args.penalty, alpha=args.alpha,
        l1_ratio=args.l1_ratio, learning_rate=args.learning_rate,
        average=args.average, standardize=args.standardize, shuffle=args.shuffle,
        random_state=args.random_state, verbose=0 if args.quiet else 1)
    _warm_up(X, args.batch_size)
    t0 = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - t0

    # training accuracy and held-out scores
    train_acc = float(clf.score(X, y))
    held_out = None
    if X_val is not None:
        p_val = clf.predict_proba(X_val)[:, 1]
        held_out = (float(clf.score(X_val, y_val)),
                    log_loss((y_val == clf.classes_[1]).astype(np.int64), p_val))
    if args.model:
        persist.save(clf, args.model, metadata={"data": _data_metadata(args, data)})
    plots = _train_plots(args, clf, X, y, data) if args.plot else []

    m = X.shape[0]
    rows = f"{m:,}" if X_val is None else \
        f"{m:,} training + {X_val.shape[0]:,} held out (stratified)"
    stopped = ("" if clf.n_iter_ >= args.epochs
               else f" (stopped early: loss no longer improving by tol={args.tol:g})")
    epochs_line = f"{clf.n_iter_} of at most {args.epochs}{stopped}"
    rate = m * clf.n_iter_ / seconds if seconds > 0 else float("inf")
    lines = [
        ("data", f"{args.data} ({data.format}, labels from {where})"),
        ("rows", rows),
        ("features", _describe_features(X)),
        ("standardize", _describe_standardize(args, sparse)),
        ("classes", f"{_fmt_labels(clf.classes_)} (positive: {clf.classes_[1]})"),
        ("epochs run", epochs_line),
        ("final loss", f"{clf.loss_curve_[-1]:.6g} (mean log-loss over the last "
                       "epoch)"),
        ("train accuracy", f"{train_acc:.4f}"),
    ]
    if held_out is not None:
        lines.append(("held-out", f"accuracy {held_out[0]:.4f}, log-loss "
                                  f"{held_out[1]:.6g}"))
    lines += [
        ("time", f"{seconds:.3f} s (JIT compilation excluded)"),
        ("throughput", f"{rate:,.0f} rows/s ({m:,} rows x {clf.n_iter_} epochs)"),
        ("model", args.model if args.model else "not saved (use --model FILE)"),
    ]
    if plots:
        lines.append(("plots", ", ".join(plots)))
    _print_table(lines)
    return EXIT_OK


def _target_where(data):
    if data.format == "svmlight":
        return "the first field of each line"
    if data.format == "npz":
        return f"array {data.target!r}"
    if data.format == "npy":
        return f"column {data.target}"
    return f"column {data.target!r}"


def _data_metadata(args, data):
    """What predict and evaluate need to find the same columns again."""
    meta = {"file": os.path.basename(args.data), "format": data.format,
            "target": data.target}
    if data.format == "csv":
        meta["feature_names"] = list(data.feature_names)
    if data.format == "npy":
        meta["target"] = int(data.target)
    if data.zero_based is not None:
        meta["zero_based"] = bool(data.zero_based)
    return meta


def _print_table(lines):
    width = max(len(k) for k, _ in lines) + 2
    for key, value in lines:
        _out(f"{key + ':':<{width}}{value}")


def _save_figure(fig, directory, name):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    fig.savefig(path, dpi=100)
    return path


def _train_plots(args, clf, X, y, data):
    from .plotting import plot_decision_boundary, plot_loss_curve

    out = [_save_figure(plot_loss_curve({"training loss": clf.loss_curve_},
                                        title=f"{os.path.basename(args.data)}: "
                                        "training loss"), args.plot, "loss.png")]
    if X.shape[1] == 2:
        if not isinstance(X, np.ndarray):  # sparse, two columns: small dense
            X = X.toarray()
        fig = plot_decision_boundary(
            X, (y == clf.classes_[1]).astype(np.int64), clf.coef_[0],
            float(clf.intercept_[0]), labels=[str(c) for c in clf.classes_],
            feature_names=data.feature_names,
            title=f"{os.path.basename(args.data)}: decision boundary")
        out.append(_save_figure(fig, args.plot, "boundary.png"))
    return out


# --------------------------------------------------------------------------
# predict and evaluate


def _load_for_data(args, labels):
    """The model from --model and DATA read to match it."""
    from . import io, persist

    model, header = persist._load(args.model)
    meta = header.get("metadata") or {}
    data_meta = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    names = data_meta.get("feature_names")
    if not (isinstance(names, list) and all(isinstance(s, str) for s in names)
            and len(names) == model.n_features_in_):
        names = None
    model_target = data_meta.get("target")
    if isinstance(model_target, bool) or not isinstance(model_target, str | int):
        model_target = None
    zero_based = data_meta.get("zero_based")
    if not isinstance(zero_based, bool):
        zero_based = None
    data = io.read_dataset(args.data, target=_target_arg(args), fmt=args.fmt,
                           delimiter=args.delimiter, labels=labels,
                           n_features=model.n_features_in_, feature_names=names,
                           model_target=model_target, zero_based=zero_based)
    return model, data


def _predict(args):
    model, data = _load_for_data(args, "optional")
    if args.proba:
        values = model.predict_proba(data.X)
        header = [f"proba_{c}" for c in model.classes_.tolist()]
        rows = values.tolist()
    else:
        header = ["label"]
        rows = ([v] for v in model.predict(data.X).tolist())
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            _write_csv(f, header, rows)
        print(f"wrote {data.X.shape[0]:,} predictions to {args.out}",
              file=sys.stderr)
    else:
        _write_csv(sys.stdout, header, rows)
        sys.stdout.flush()
    return EXIT_OK


def _write_csv(f, header, rows):
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def _match_labels(path, y, classes):
    """True labels comparable with ``classes``; unknown labels are an error."""
    if classes.dtype.kind == "U" and y.dtype.kind != "U":
        y = y.astype(str)
    elif classes.dtype.kind != "U" and y.dtype.kind == "U":
        raise CLIError(f"{path}: the labels are text ({_fmt_labels(np.unique(y))}) "
                       f"but the model's classes are numbers "
                       f"({_fmt_labels(classes)})")
    unseen = np.setdiff1d(np.unique(y), classes)
    if unseen.size:
        raise CLIError(f"{path}: labels the model was not trained on: "
                       f"{_fmt_labels(unseen)} (its classes: "
                       f"{_fmt_labels(classes)})")
    return y


def _evaluate(args):
    from sklearn.metrics import confusion_matrix, roc_auc_score

    from .core import log_loss

    model, data = _load_for_data(args, "required")
    classes = model.classes_
    y = _match_labels(args.data, data.y, classes)
    proba = model.predict_proba(data.X)[:, 1]
    pred = model.predict(data.X)
    y01 = (y == classes[1]).astype(np.int64)
    both = 0 < y01.sum() < y01.shape[0]
    acc = float(np.mean(pred == y))
    loss = log_loss(y01, proba)
    auc = float(roc_auc_score(y01, proba)) if both else None
    cm = confusion_matrix(y, pred, labels=classes)
    plots = []
    if args.plot:
        from .plotting import plot_calibration, plot_roc_curve

        name = os.path.basename(args.data)
        if both:
            plots.append(_save_figure(
                plot_roc_curve(y01, proba, title=f"{name}: ROC curve (positive: "
                               f"{classes[1]})"), args.plot, "roc.png"))
        plots.append(_save_figure(
            plot_calibration(y01, proba, n_bins=args.bins,
                             title=f"{name}: calibration (class {classes[1]})"),
            args.plot, "calibration.png"))
    lines = [
        ("data", f"{args.data} ({data.format}, labels from {_target_where(data)})"),
        ("rows", f"{data.X.shape[0]:,}"),
        ("accuracy", f"{acc:.4f}"),
        ("log-loss", f"{loss:.6g}"),
        ("ROC AUC", f"{auc:.4f}" if auc is not None else
         "undefined (the data holds a single class)"),
    ]
    if plots:
        lines.append(("plots", ", ".join(plots)))
    _print_table(lines)
    _out()
    _out("confusion matrix (rows: true label, columns: predicted label)")
    _out(_format_confusion(cm, classes))
    if not both and args.plot:
        print("fastlr: note: no ROC curve: the data holds a single class",
              file=sys.stderr)
    return EXIT_OK


def _format_confusion(cm, classes):
    labels = [str(c) for c in classes.tolist()]
    width = max(max(len(s) for s in labels), len(f"{cm.max():,}")) + 2
    first = max(len(s) for s in labels) + 2
    lines = [" " * first + "".join(f"{s:>{width}}" for s in labels)]
    for label, row in zip(labels, cm, strict=True):
        lines.append(f"{label:<{first}}" + "".join(f"{v:>{width},}" for v in row))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# verify

#: Tolerances of the kernel-vs-reference comparison (as in
#: tests/test_reference.py). float64: rtol 1e-10, atol near zero; for float32
#: input both implementations compute in float64 and only the final cast to float32
#: rounds, so float32 arrays may differ by an ulp (rtol 1e-6), while values
#: that are float64 for both dtypes (b, losses, log-loss) keep float64's.
VERIFY_TOL = {
    "float64": {"rtol": 1e-10, "atol": 1e-12},
    "float32": {"rtol": 1e-6, "atol": 1e-7},
}

#: (rows, features): a tiny problem, the test suite's size, a size whose
#: batches do not divide it, and one large enough for the threaded paths.
VERIFY_SHAPES = ((7, 1), (200, 4), (1001, 13), (6000, 40))


def _verify_data(rng, m, n, dtype):
    """Well-conditioned binary data whose columns differ in scale and offset."""
    scale = rng.uniform(0.5, 3.0, n)
    shift = rng.uniform(-2.0, 2.0, n)
    Z = rng.normal(size=(m, n))
    beta = rng.normal(size=n) + 1.0
    y = (Z @ beta + rng.logistic(size=m) > 0).astype(np.int64)
    if y.min() == y.max():  # both classes, even for tiny m
        y[: m // 2] = 0
        y[m // 2:] = 1
    return (Z * scale + shift).astype(dtype), y


def _diff(a, b, rtol, atol):
    """(max |a-b|, max relative diff, worst |a-b| / (atol + rtol |b|))."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = np.abs(a - b)
    if d.size == 0:
        return 0.0, 0.0, 0.0
    rel = d / np.where(b != 0, np.abs(b), 1.0)
    return float(d.max()), float(rel.max()), float((d / (atol + rtol * np.abs(b))).max())


def _verify_cases(rng, m, n, dtype):
    """Yield (check, [(part, a, b, tolerance key)]) for one shape and dtype."""
    import fastlr
    from fastlr import reference

    name = np.dtype(dtype).name
    X, y = _verify_data(rng, m, n, dtype)
    z = (rng.normal(size=m) * 30).astype(dtype)
    z[: min(m, 3)] = [0.0, 745.0, -745.0][: min(m, 3)]
    yield "sigmoid", [("", fastlr.sigmoid(z), reference.sigmoid(z), name)]
    p = rng.uniform(size=m).astype(dtype)
    yield "log_loss", [("", fastlr.log_loss(y, p), reference.log_loss(y, p),
                        "float64")]
    dw, db = fastlr.gradients(X, y, p)
    rw, rb = reference.gradients(X, y, p)
    yield "gradients", [("dw", dw, rw, name), ("db", db, rb, "float64")]
    w = rng.normal(size=n) / np.sqrt(n)
    yield "predict_proba", [("", fastlr.predict_proba(X, w, 0.3),
                             reference.predict_proba(X, w, 0.3), name)]
    yield "predict", [("", fastlr.predict(X, w, 0.3), reference.predict(X, w, 0.3),
                       "exact")]
    variants = {
        "train (shuffled, standardized, l2)": dict(
            batch_size=32, shuffle=True, standardize=True, penalty="l2",
            alpha=0.01, epoch_loss="running"),
        "train (ordered, raw, full loss)": dict(
            batch_size=1 if m <= 200 else m, shuffle=False, standardize=False,
            penalty=None, epoch_loss="full"),
    }
    for label, kw in variants.items():
        a = fastlr.train(X, y, epochs=3, lr=0.05, random_state=7, **kw)
        b = reference.train(X, y, epochs=3, lr=0.05, random_state=7, **kw)
        yield label, [("w", a.w, b.w, name), ("b", a.b, b.b, "float64"),
                      ("losses", a.losses, b.losses, "float64")]
    # the CSR kernels (scipy.sparse X, as read from svmlight files): about
    # 30% of the entries kept; standardize=True scales without centering
    from scipy import sparse

    Xs = sparse.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.3, X,
                                    np.zeros((), dtype=X.dtype)))
    dw, db = fastlr.gradients(Xs, y, p)
    rw, rb = reference.gradients(Xs, y, p)
    yield "gradients (CSR)", [("dw", dw, rw, name), ("db", db, rb, "float64")]
    yield "predict_proba (CSR)", [("", fastlr.predict_proba(Xs, w, 0.3),
                                   reference.predict_proba(Xs, w, 0.3), name)]
    for label, kw in variants.items():
        label = label.replace("train (", "train (CSR, ").replace("standardized",
                                                                 "scaled")
        a = fastlr.train(Xs, y, epochs=3, lr=0.05, random_state=7, **kw)
        b = reference.train(Xs, y, epochs=3, lr=0.05, random_state=7, **kw)
        yield label, [("w", a.w, b.w, name), ("b", a.b, b.b, "float64"),
                      ("losses", a.losses, b.losses, "float64")]


def _verify(args):
    import numba

    t0 = time.perf_counter()
    shapes = VERIFY_SHAPES[:-1] if args.quick else VERIFY_SHAPES
    worst = {}  # (check, dtype) -> row
    for dtype in (np.float64, np.float32):
        for m, n in shapes:
            rng = np.random.default_rng([args.seed, m, n])
            cases = _verify_cases(rng, m, n, dtype)
            while True:
                try:
                    check, parts = next(cases)
                except StopIteration:
                    break
                except Exception as exc:  # a kernel that fails is a mismatch
                    key = ("(error)", np.dtype(dtype).name)
                    worst[key] = dict(shape=(m, n), part="", error=repr(exc))
                    break
                for part, a, b, tol_key in parts:
                    row = _verify_row(a, b, tol_key, (m, n), part)
                    key = (check, np.dtype(dtype).name)
                    if key not in worst or row["ratio"] > worst[key]["ratio"]:
                        worst[key] = row
    _out(f"fastlr {__version__}: Numba kernels vs fastlr.reference (NumPy), "
         f"seed {args.seed}")
    _out(f"numba {numba.__version__}, numpy {np.__version__}, "
         f"{numba.get_num_threads()} threads, {platform.machine()} "
         f"{platform.system()}")
    _out(f"shapes (rows, features): {', '.join(str(s) for s in shapes)}; "
         "each line is the worst case over them")
    _out()
    labels = {key: key[0] + (f" .{row['part']}" if row.get("part") else "")
              for key, row in worst.items()}
    width = max(len(v) for v in labels.values()) + 2
    head = (f"{'check':<{width}}{'dtype':<9}{'worst at':<12}{'max |diff|':>11}"
            f"{'max rel':>11}{'rtol':>8}{'atol':>8}  result")
    _out(head)
    _out("-" * len(head))
    failed = 0
    for key, row in worst.items():
        start = f"{labels[key]:<{width}}{key[1]:<9}{str(row['shape']):<12}"
        if "error" in row:
            failed += 1
            _out(f"{start}  FAILED: {row['error']}")
            continue
        ok = row["ratio"] <= 1.0
        failed += not ok
        if "differ" in row:  # labels: compared exactly
            numbers = f"{str(row['differ']) + ' differ':>11}{'-':>11}{'exact':>16}"
        else:
            numbers = (f"{row['abs']:>11.2e}{row['rel']:>11.2e}{row['rtol']:>8.0e}"
                       f"{row['atol']:>8.0e}")
        _out(f"{start}{numbers}  {'ok' if ok else 'MISMATCH'}")
    _out()
    seconds = time.perf_counter() - t0
    if failed:
        _out(f"{failed} of {len(worst)} checks FAILED ({seconds:.1f} s)")
        sys.stdout.flush()
        print(f"fastlr: error: verify: {failed} check(s) outside tolerance",
              file=sys.stderr)
        return EXIT_FAILURE
    _out(f"all {len(worst)} checks within tolerance ({seconds:.1f} s)")
    return EXIT_OK


def _verify_row(a, b, tol_key, shape, part):
    if tol_key == "exact":
        a = np.asarray(a)
        b = np.asarray(b)
        differ = int(np.count_nonzero(a != b)) + abs(a.size - b.size)
        return dict(shape=shape, part=part, differ=differ,
                    ratio=float("inf") if differ else 0.0)
    tol = VERIFY_TOL[tol_key]
    d_abs, d_rel, ratio = _diff(a, b, tol["rtol"], tol["atol"])
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        ratio = float("inf")
    return dict(shape=shape, part=part, abs=d_abs, rel=d_rel, ratio=ratio, **tol)


if __name__ == "__main__":
    sys.exit(main())
