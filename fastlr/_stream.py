"""Training on data that is read in parts or used in place, never loaded
whole: what ``fastlr train`` does with a file larger than memory.

A *source* yields the training data as parts, ``(data, y)`` with ``data``
a validated :class:`fastlr._dispatch.Data`, and can be iterated again for
every pass:

* :class:`FileChunks`: a CSV, svmlight or .npy file read by
  :func:`fastlr.io.iter_chunks`, a chunk of rows at a time, so memory is
  bounded by the chunk whatever the file's size;
* :class:`TableInPlace`: an .npy table memory-mapped by
  :func:`fastlr.io.map_npy`, as one part used in place. The target (and
  dropped) columns sit between the features in every row, and a copy
  without them is what this avoids: they stay in X but out of the model,
  by an infinite scale. Standardized, such a column is ``(x - 0) / inf =
  0``: it adds nothing to any logit, its gradient ``g / scale`` is 0, so
  its weight stays 0 under every update rule, and it is cut out of the
  state once training is done (:func:`_narrow`).

:func:`fit` trains a :class:`fastlr.LogisticRegression` on a source:

1. one pass reads the labels (classes, and counts for
   ``class_weight="balanced"``; a CSV's typed over the whole file, as a
   read of it whole types them) and the column statistics: every part's
   :class:`fastlr._stats.Moments`, merged by :func:`fastlr._stats.merge`
   and finished by the rule of ``fit`` (one part: exactly ``fit``'s);
2. each epoch then runs an epoch of SGD on every part in turn (rows
   shuffled within the part, as ``partial_fit`` does; parts in file
   order), with ``fit``'s rules across epochs: ``tol`` and
   ``n_iter_no_change`` on the epoch's mean loss, the adaptive rate,
   divergence (:func:`fastlr._driver.run_epochs`).

With a single part this is ``fit``: the same batches in the same order
(equal up to the rounding of sums over the extra zero columns).
"""

import math
import os
import time
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _stats
from ._dispatch import Data, as_data
from ._driver import (
    AdaptiveRate,
    alpha_value,
    run_epochs,
    standardization,
    warn_weight_scale,
    weight_mean,
)
from ._order import make_rng
from ._progress import epoch_progress, pass_progress
from ._sgd import sgd
from ._state import ModelState, Scratch, counted_moments
from ._validation import (
    FIT_SAVE_BYTES_PER_COLUMN,
    check_standardize,
    check_width,
    check_X,
    classes_apart,
    first_nonfinite,
    is_text,
    refuse_continuous,
    refuse_one_class,
    shown,
    standardize_option,
    user_stacklevel,
)

__all__ = ["FileChunks", "Run", "TableInPlace", "Unchanged", "fit", "score"]

#: Rows scored at a time by :func:`score`.
SCORE_ROWS = 1 << 16


class FileChunks:
    """A data file read by :func:`fastlr.io.iter_chunks`, ``chunk_rows``
    rows at a time; ``read`` holds its other arguments. ``parts`` is the
    number of chunks, known after the first pass.

    A CSV's labels are typed over the whole file, as a read of it whole
    types them (numbers only when every one is), not chunk by chunk as
    ``iter_chunks`` types them: with the labels "1", "2" and "other", a
    chunk of "1" and "2" was numbers and one holding "other" text, and the
    file was refused. The first pass reads them as text, and
    :meth:`settle` types them."""

    excluded = []
    #: The file and where its labels are, as errors about their values say
    #: (None: the file).
    labels_name = None

    def __init__(self, path, chunk_rows, **read):
        from .io import detect_format

        self.path = path
        self.chunk_rows = int(chunk_rows)
        self.parts = None
        # (text_labels: a warm start's text classes, text from the start)
        self.unsettled = (read.get("fmt") or detect_format(path)) == "csv" \
            and not read.get("text_labels")
        self.read = dict(read, text_labels=True) if self.unsettled else read
        self.unchanged = Unchanged(path, "training", "the first pass's",
                                   "train again")

    def __iter__(self):
        from .io import iter_chunks

        count = 0
        for X, y in self.unchanged.parts(self._typed(
                iter_chunks(self.path, self.chunk_rows, **self.read))):
            count += 1
            yield as_data(X), y
        self.parts = count

    def _typed(self, chunks):
        from .io import csv_labels

        for X, y in chunks:
            if self.unsettled:
                # a chunk whose labels are numbers, not all whole, is refused
                # at once, as typed by itself: a continuous label column is
                # not read to its end first, every distinct value kept
                refuse_continuous(csv_labels(self.path, y),
                                  self.labels_name or os.fspath(self.path))
            yield X, y

    def settle(self, labels):
        """The first pass's ``{label: rows}`` with a CSV's labels typed as
        a read of the whole file types them (``"1"`` and ``"1.0"`` are
        then one class, 1); later passes read them so typed."""
        from .io import csv_labels

        if not self.unsettled:
            return labels
        self.unsettled = False
        typed = csv_labels(self.path, np.array(list(labels)))
        if typed.dtype.kind == "U":
            return labels
        # every label a number: so is every chunk's, each parsed as such
        self.read["text_labels"] = False
        out = {}
        for value, rows in zip(typed.tolist(), labels.values(), strict=True):
            out[value] = out.get(value, 0) + rows
        return out

    def head(self, rows):
        """The first part's first ``rows`` rows: ``(X, y)``."""
        X, y = next(iter(self))
        return X.X[:rows], y[:rows]


class Unchanged:
    """Refuses a file that is not the one first read: a file read in parts
    is opened again for each pass (and by each reader of a pass), and one
    truncated, extended, rewritten or replaced (an ``mv``) meanwhile was
    read silently, its parts mixed with the first file's.

    :meth:`check` records the file's identity at its first call;
    :meth:`parts` checks a pass as it starts, as it ends (a change during
    the last part spoils it too) and when reading failed during it (the
    refusal keeps that error's text: a file only touched has a genuine
    error too). The refusal says the file changed while ``doing``
    (its identity differs from ``first``'s) and ends with ``remedy``."""

    def __init__(self, path, doing, first, remedy):
        self.path, self.doing, self.first, self.remedy = path, doing, first, remedy
        self.identity = None

    def check(self, failed=None):
        from .io import DataError

        identity = _identity(self.path)
        if self.identity is None:
            self.identity = identity
        elif identity != self.identity:
            then = "" if failed is None else f"; reading it then failed: {failed}"
            raise DataError(self.path, f"the file changed while {self.doing} (it "
                            "was replaced, or its size or modification time "
                            f"differ from {self.first}); {self.remedy}{then}")

    def parts(self, parts):
        """The parts of one pass, checked."""
        self.check()
        try:
            yield from parts
        except Exception as exc:
            # a file cut or rewritten during the pass fails where the reader
            # meets the change ("line 925927: expected 21 fields", a line no
            # file holds): say that it changed
            self.check(failed=exc)
            raise
        self.check()


def _identity(path):
    """What tells a file from another and from itself changed: its device
    and inode, size and modification time (None if it cannot be found)."""
    try:
        st = os.stat(path)
    except OSError:
        return None   # (the read names the problem; later, a change)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class _Columns(Data):
    """Validated X of which only ``n_features`` columns are features: the
    shuffled blocks are sized by the features' bytes, as on a copy of them,
    so that the visiting order is the one ``fit`` has on that copy."""

    def __init__(self, X, n_features):
        super().__init__(X)
        self.n_features = n_features

    def row_bytes(self):
        return self.n_features * self.dtype.itemsize


#: Largest magnitude a column that is not a feature may hold for training in
#: place: the kernels still sum its values times residuals and weights over
#: a batch (its weight stays 0 only while those sums are finite), and 2**64
#: is room for any batch of rows times any weight fastlr meets.
IN_PLACE_MAX = float(np.finfo(np.float64).max) / 2.0**64


class NotFeaturesNotFinite(ValueError):
    """A table's non-finite values, or values beyond IN_PLACE_MAX, are all
    in columns that are not features (a dropped column, the ID column): it
    cannot be trained on in place, but it can be read in parts (which never
    parses those columns)."""


class TableInPlace:
    """One part: the whole (memory-mapped) ``table``, its columns
    ``features`` the features; ``y`` the labels. Validated once (one read
    of the table for finiteness)."""

    parts = 1
    labels_name = None   # (as FileChunks')

    def __init__(self, table, y, features, name="X"):
        self.features = list(features)
        features = set(self.features)   # (once: per column, a 47k-column
        self.excluded = [j for j in range(table.shape[1])   # table took 30 s)
                         if j not in features]
        self.data = _Columns(check_X(table, finite=False), len(self.features))
        try:
            # the finiteness check, with each column's largest |x|; kept for
            # the first pass's statistics (one read of the table for both)
            self.data._moments = self.data.moments(name)
            amax = self.data._moments.amax
        except ValueError:
            where = first_nonfinite(table, self.features)
            if where is None:
                raise NotFeaturesNotFinite(
                    f"{name}: a column that is not a feature holds NaN or "
                    "infinity; training in place reads every column of the "
                    "table") from None
            # named as the file readers name it: 1-based row, feature number
            from .io import feature_at

            i, j = where
            raise ValueError(f"{name}: row {i + 1}, {feature_at(j, self.features)} "
                             f"is {table[i, self.features[j]]}; fastlr needs finite "
                             "numbers") from None
        if self.excluded and amax[self.excluded].max() > IN_PLACE_MAX:
            # their sums in the epochs would overflow: the weight of the
            # column NaN, the training diverged
            raise NotFeaturesNotFinite(
                f"{name}: a column that is not a feature holds values beyond "
                f"{IN_PLACE_MAX:.3g} in magnitude; training in place reads every "
                "column of the table")
        self.y = y

    def __iter__(self):
        yield self.data, self.y

    def head(self, rows):
        return np.asarray(self.data.X[:rows][:, self.features]), self.y[:rows]

    def settle(self, labels):
        """(The table's labels are typed by its dtype.)"""
        return labels


class _Passes:
    """:func:`fastlr._driver.run_epochs` asks for each epoch's row order;
    here every part draws its own (in :func:`fastlr._sgd.sgd`)."""

    def next(self):
        return None, None


class Run(NamedTuple):
    """What :func:`fit` reports besides the model."""

    rows: int          # rows of the source
    parts: int         # parts per pass
    stored: int        # stored entries of sparse parts (0 for dense)
    scan_seconds: float  # the first pass (and the weighted statistics')
    scans: int         # passes before the epochs: 2 for class-weighted statistics
    seconds: float     # the epochs


def fit(model, source, *, name="DATA", classes=None, on_classes=None):
    """Train ``model`` (a :class:`fastlr.LogisticRegression`) on ``source``
    with its parameters, as ``fit`` would on all its rows; returns a
    :class:`Run`.

    ``warm_start`` continues the model's training state, as ``fit`` does.
    ``early_stopping`` is refused: it holds a part of the rows out in
    memory; so is ``solver="lbfgs"``, whose every iteration needs the
    gradient over all rows, and ``solver="auto"`` is ``solver="sgd"``: SGD
    epochs stopped by ``tol`` and ``n_iter_no_change``, with a
    ``ConvergenceWarning`` when ``max_iter`` runs out first (the finisher
    is not run on a file read in parts).
    ``verbose`` shows the progress bar. ``name`` (the file) prefixes errors
    about the labels (``source.labels_name``, where set, those about their
    values). ``classes``: the classes the labels
    must be (a warm start's; text classes make numeric labels text).
    ``on_classes(model, classes)`` is called once the first pass has found
    them, before training.
    """
    params, options = model._params(model.max_iter, sgd_only=True)
    batch_size, epochs, lr, alpha, tol, n_iter_no_change = params
    learning_rate, power_t, l1_ratio, average_start = options
    if getattr(model, "solver", "sgd") == "lbfgs":
        raise ValueError("solver='lbfgs' computes the gradient over all rows "
                         "at every iteration, which training on a file read in "
                         "parts does not do; read the file whole, or use "
                         "solver='sgd' or 'auto' (SGD epochs when read in parts)")
    if model.early_stopping:
        raise ValueError("early_stopping holds out a part of the rows in "
                         "memory, which training on a file read in parts "
                         "does not do; read the file whole to use it")
    check_standardize(model.standardize)
    old = model._fitted_state() if model.warm_start else None
    warm = old is not None
    text = classes is not None and is_text(classes)

    def labels(y):
        return np.asarray(y).astype(str) if text else np.asarray(y)

    t0 = time.perf_counter()
    with pass_progress(model.verbose, "first pass") as seen:
        scan = _scan(source, lambda sparse: standardize_option(
            model.standardize, model.fit_intercept, sparse), name, labels, seen=seen)
    _warn_grouped(scan, name)
    standardize = scan.standardize
    n = scan.n - len(source.excluded)
    if classes is not None and not np.array_equal(scan.classes, classes):
        raise ValueError(f"{name}: its labels are not the model's classes ("
                         + classes_apart(scan.classes, "its labels", classes,
                                         "the model's classes")
                         + "); continuing training needs every one of them, "
                         "and no other")
    classes = scan.classes
    if warm:   # refuses a previous fit on other features or classes
        model._warm_state(n, classes)

    def encoded(y):
        lab = labels(y)
        y01 = model._encode(lab, classes)
        # a label the first pass did not see (the file changed since): its
        # code would index past the model's classes
        seen = classes[np.minimum(y01, classes.shape[0] - 1)] == lab
        if not seen.all():
            raise ValueError(
                f"{name}: a part holds the label {shown(lab[~seen][:1])}, which "
                f"the first pass did not find (classes {shown(classes)}): the "
                "file changed while training; train again")
        return y01

    if on_classes is not None:
        t1 = time.perf_counter()
        on_classes(model, classes)
        t0 += time.perf_counter() - t1   # (its compilation is not the scan's)
    cw = _class_weights(model, classes, scan.counts)
    if cw is not None:   # (SGD, as fit's: each class's weight on its rows)
        warn_weight_scale(cw, "class_weight", counts=scan.counts)
    # the rows' total weight ("auto": 1 / it, as fit's in memory)
    alpha = alpha_value(alpha, scan.counts.sum() if cw is None
                        else float(scan.counts @ cw))
    if cw is not None and standardize:
        # fit weighs the column statistics by the class weights, known only
        # now: one more pass for them
        with pass_progress(model.verbose, "class-weighted statistics") as seen:
            again = _scan(source, lambda sparse: standardize, name, labels,
                          lambda y: cw[encoded(y)], seen=seen)
        if again.n != scan.n or not np.array_equal(again.classes, classes):
            raise ValueError(f"{name}: the file changed between the first two "
                             "passes (its columns or labels); train again")
        scan, scans = again, 2
    else:
        scans = 1
    k = classes.shape[0]
    if scan.sparse and k > 2:   # (the scan checked one row of weights)
        check_width(scan.n, name, FIT_SAVE_BYTES_PER_COLUMN, k)
    state = ModelState(scan.mean, scan.scale, k if k > 2 else 1, softmax=k > 2)
    if scan.moments is not None:
        # (class-weighted: the rows count as rows, as fit's in memory)
        state.track(scan.moments if cw is None else counted_moments(
            scan.moments, int(scan.counts[cw > 0].sum())), scan.center)
    excluded = list(source.excluded)   # (an empty tuple would mean all)
    state.mean[excluded] = 0.0
    state.scale[excluded] = np.inf
    if warm:
        state = model._continued(_widen(old, source), state)
    if scan.sparse:
        # the CSR epoch's table and sums, kept from part to part and epoch
        # to epoch as a partial_fit stream keeps them
        state.scratch = Scratch()
    scan_seconds = time.perf_counter() - t0
    rng = make_rng(model.random_state)
    state.rng = rng
    rate = AdaptiveRate(lr)
    done = [0]
    coded = {}   # a table in place: its labels, coded once

    def codes(y):
        if id(y) in coded:
            return coded[id(y)]
        y01 = encoded(y)
        out = y01, (cw[y01] if cw is not None else np.empty(0))
        if isinstance(source, TableInPlace):
            coded[id(y)] = out
        return out

    def run_one(_blocks, _block):
        total = weight = 0.0
        for data, y in source:
            if data.n != scan.n:
                raise ValueError(
                    f"{name}: a part has {data.n} columns, the first pass found "
                    f"{scan.n}: the file changed while training; train again")
            y01, sw = codes(y)
            losses, _ = sgd(data, y01, sw, state, batch_size=batch_size, epochs=1,
                            lr=rate.lr, shuffle=model.shuffle, rng=rng,
                            penalty=model.penalty, alpha=alpha,
                            epoch_loss="running", tol=None,
                            n_iter_no_change=n_iter_no_change,
                            first_epoch=done[0], learning_rate=learning_rate,
                            power_t=power_t, l1_ratio=l1_ratio,
                            average_start=average_start,
                            fit_intercept=bool(model.fit_intercept))
            rows = float(sw.sum()) if sw.shape[0] else float(data.m)
            total += float(losses[0]) * rows
            weight += rows
        done[0] += 1
        return total / weight, math.nan

    start_loss = None
    point = state.warm_point()
    if point is not None:
        # continued training: divergence is judged against the starting
        # model's loss on the file (fastlr._driver.diverged), one more pass
        # only when an epoch's loss is past the absolute bound
        def start_loss():
            w0, b0 = point()
            total = weight = 0.0
            for data, y in source:
                y01, sw = codes(y)
                total += data.loss_sum(y01, sw, w0, b0, state.softmax)
                weight += float(sw.sum()) if sw.shape[0] else float(data.m)
            return total / weight

    t0 = time.perf_counter()
    with epoch_progress(model.verbose, epochs, scan.rows) as progress:
        losses, converged = run_epochs(
            run_one, state.finite, _Passes(), epochs=epochs, lr=lr,
            learning_rate=learning_rate, tol=tol,
            n_iter_no_change=n_iter_no_change, track=True, callback=progress,
            on_stall=rate.on_stall if learning_rate == "adaptive" else None,
            n_classes=k, start_loss=start_loss, weighted=None if cw is None else (
                lambda: weight_mean(cw, scan.counts)),
            standardized=lambda: standardization(state.mean, state.scale))
    seconds = time.perf_counter() - t0
    if tol is not None and not converged and epochs > 0:
        warnings.warn(
            f"Maximum number of epochs ({epochs}) reached before the loss "
            f"stopped improving by tol={tol}; increase max_iter or lr",
            ConvergenceWarning, stacklevel=user_stacklevel())
    model.classes_ = classes
    state = _narrow(state, source)
    state.release()   # (its zero optimizer arrays: placeholders)
    model._set_state(state, scan.dtype)
    model.n_features_in_ = n
    model.n_iter_ = int(losses.shape[0])
    model.loss_curve_ = losses
    model.validation_scores_ = None
    model.best_validation_score_ = None
    # what this fit ran (a warm start's model had its own fit's report)
    model.solver_ = "sgd"
    model.n_solver_iter_ = 0
    return Run(scan.rows, scan.parts, scan.stored, scan_seconds, scans, seconds)


def score(model, source, each=None):
    """Accuracy of ``model`` on every row of ``source`` (one more pass,
    counted as the first pass is at ``model.verbose``). Labels are compared
    as text when the classes are text. ``each(data, y)``, if given, is
    called with every part read (``fastlr train --plot`` samples the rows
    it draws from this pass)."""
    text = is_text(model.classes_)
    W = np.zeros((model.coef_.shape[0], model.n_features_in_ + len(source.excluded)))
    W[:, _kept(source, W.shape[1])] = model.coef_
    right = total = 0
    with pass_progress(model.verbose, "accuracy") as seen:
        for data, y in source:
            right += _right(model, W, data, y, text)
            if each is not None:
                each(data, y)
            total += data.m
            seen(data.m)
    return right / total


def _right(model, W, data, y, text):
    """Rows of a part that ``model`` (raw weights ``W``) predicts right."""
    right = 0
    y = np.asarray(y).astype(str) if text else np.asarray(y)
    # in blocks of rows: the logits of a whole table would take memory in
    # proportion to its rows
    for lo in range(0, data.m, SCORE_ROWS):
        hi = min(lo + SCORE_ROWS, data.m)
        part = data if (lo, hi) == (0, data.m) else Data(data.X[lo:hi])
        z = part.decision(W, model.intercept_)
        pred = model.classes_[z.argmax(axis=1) if z.shape[1] > 1 else
                              (z[:, 0] > 0).astype(np.intp)]
        right += int(np.count_nonzero(pred == y[lo:hi]))
    return right


# --------------------------------------------------------------------------
# the first pass


class _Scan:
    """What the first pass found (see :func:`_scan`)."""

    def __init__(self):
        self.rows = 0
        self.n = None
        self.dtype = np.dtype(np.float32)
        self.sparse = None
        self.labels = {}            # label -> rows
        self.part_labels = []       # per part: label -> rows
        self.kinds = {}             # "text" or "number" -> (part, a label)
        self.moments = None
        self.first = None           # (mean, scale, moments) of part 1
        self.parts = 0
        self.stored = 0             # stored entries of sparse parts
        self.mean = self.scale = None
        self.center = False
        self.standardize = None     # as training takes it on the source

    @property
    def classes(self):
        return np.unique(np.array(list(self.labels)))

    @property
    def counts(self):
        return np.array([self.labels[c] for c in self.classes.tolist()])


#: :func:`_warn_grouped` warns when a part's labels are at least this far
#: (total variation: the share of its rows that would have to change class)
#: from the file's, beyond three times what a random order gives.
GROUPED_DISTANCE = 0.25


def _warn_grouped(scan, name):
    """Warn when the file's labels are grouped: training in parts visits
    the parts in file order and shuffles rows within each part only, so on
    a file sorted or grouped by label each part pulls the model towards its
    own classes (60,000 rows sorted by label in 12 parts: held-out accuracy
    0.62 against 0.73 read whole, and a summary that said the loss had
    stopped improving). The part farthest from the file's label mix (in
    total variation, beyond :data:`GROUPED_DISTANCE` plus three times its
    expected value for that many rows in random order) is named."""
    if scan.parts < 2:
        return
    counts = {}   # (the labels as the parts held them, before settle())
    for part in scan.part_labels:
        for v, c in part.items():
            counts[v] = counts.get(v, 0) + c
    labels = list(counts)
    total = np.array([counts[v] for v in labels], dtype=np.float64)
    p = total / total.sum()
    worst = None
    for i, part in enumerate(scan.part_labels):
        rows = sum(part.values())
        q = np.array([part.get(v, 0) for v in labels], dtype=np.float64) / rows
        distance = 0.5 * float(np.abs(q - p).sum())
        noise = 0.5 * float(np.sqrt(2.0 * p * (1.0 - p) / (math.pi * rows)).sum())
        excess = distance - GROUPED_DISTANCE - 3.0 * noise
        if excess > 0.0 and (worst is None or excess > worst[0]):
            worst = excess, i, q
    if worst is None:
        return
    _, i, q = worst
    c = int(np.argmax(q - p))
    warnings.warn(
        f"{name}: the labels are grouped in the file (part {i + 1} of "
        f"{scan.parts} holds {q[c]:.0%} of class {labels[c]}, the file "
        f"{p[c]:.0%}): training read in parts visits the parts in file order "
        "and shuffles rows within each part only, so the model follows each "
        "part's classes; shuffle the file's rows first, or read it whole",
        UserWarning, stacklevel=2)


def _scan(source, options, name, labels, weights=None, seen=None):
    """Labels (as ``labels(y)`` gives them), shape and (when
    standardizing) column statistics of every part: one pass.
    ``options(sparse)``: the ``standardize`` option training takes on the
    source, sparse or not (as its first part is stored), kept as
    ``scan.standardize``. With
    ``weights`` (a part's labels -> its rows' weights), the statistics are
    weighted, as ``fit``'s are by its sample weights. ``seen(rows)`` is
    told each part's rows (a progress count)."""
    from .io import _is_number

    scan = _Scan()
    for data, y in source:
        scan.parts += 1
        if scan.n is None:
            scan.n, scan.sparse = data.n, data.sparse
            standardize = scan.standardize = options(data.sparse)
            if data.sparse:   # (the command line saves the model after)
                check_width(data.n, name, FIT_SAVE_BYTES_PER_COLUMN)
        if data.dtype != np.float32:
            scan.dtype = np.dtype(np.float64)
        if data.sparse:
            scan.stored += data.size
        y = labels(y)
        values, counts = np.unique(y, return_counts=True)
        kind = "text" if y.dtype.kind in "USO" else "number"
        if kind not in scan.kinds:
            shown = values.tolist()
            if kind == "text":   # shown by a label that is not a number
                shown = [v for v in shown if not _is_number(v)] or shown
            scan.kinds[kind] = scan.parts, shown[0]
        if len(scan.kinds) > 1:
            # the labels of a CSV are typed over the whole file in the
            # first pass (FileChunks.settle), other files' by their storage
            (pa, la), (pb, lb) = scan.kinds["number"], scan.kinds["text"]
            raise ValueError(
                f"{name}: the labels are numbers in some parts of the file and "
                f"text in others (part {pa} has {la!r}, part {pb} has {lb!r}; a "
                "part is a chunk of rows): the file changed while training; "
                "train again")
        # as fit does, whatever the parts: the first such label in the file
        refuse_continuous(y, source.labels_name or name)
        for v, c in zip(values.tolist(), counts.tolist(), strict=True):
            scan.labels[v] = scan.labels.get(v, 0) + c
        scan.part_labels.append(dict(zip(values.tolist(), counts.tolist(),
                                         strict=True)))
        scan.rows += data.m
        if seen is not None:
            seen(data.m)
        if standardize:
            sw = None if weights is None else weights(y)
            if sw is not None and not sw.any():
                continue   # no weight: nothing to add to the statistics
            mean, scale, mom = data.standardization(standardize, sw=sw,
                                                    moments=True)
            mean, scale = mean[0], scale[0]
            if scan.first is None:
                scan.first = (mean, scale, mom)
                scan.moments = mom
            else:
                scan.moments = _stats.merge(scan.moments, mom)
    if scan.rows == 0:
        raise ValueError(f"{name}: no data rows")
    scan.labels = source.settle(scan.labels)
    if standardize and scan.first is None:
        raise ValueError(f"{name}: class_weight gives every row weight zero")
    # (named by the file and its label column where the reader knows it)
    refuse_one_class(scan.classes, name=source.labels_name or f"{name}: y")
    scan.center = (not isinstance(standardize, str) and bool(standardize)
                   and not scan.sparse)
    if not standardize:
        scan.mean, scan.scale = np.zeros(scan.n), np.ones(scan.n)
    elif scan.parts == 1:   # exactly fit's standardization
        scan.mean, scan.scale = scan.first[0].copy(), scan.first[1].copy()
    else:
        scan.mean, scan.scale = _stats.finish_moments(scan.moments)
        if not scan.center:
            scan.mean = np.zeros(scan.n)
    return scan


def _class_weights(model, classes, counts):
    """Weight per class (None: all 1) from ``class_weight``; "balanced"
    from the counts of the whole source."""
    cw = model.class_weight
    if cw is None:
        return None
    if isinstance(cw, str):
        return model._class_weight_values(classes, counts, fitting=True)
    # the estimator's own check of a dict, on one row per class
    return model._class_weights(np.arange(classes.shape[0]), classes,
                                np.empty(0), fitting=False)


# --------------------------------------------------------------------------
# columns kept out of the model


def _kept(source, width):
    excluded = set(source.excluded)
    return [j for j in range(width) if j not in excluded]


def _narrow(state, source):
    """``state`` without the source's excluded columns."""
    if not source.excluded:
        return state
    keep = _kept(source, state.n_features)
    out = ModelState(state.mean[keep].copy(), state.scale[keep].copy(), state.k,
                     state.softmax)
    out.rng = state.rng
    _copy_columns(state, out, keep, slice(None))
    if state.moments is not None:
        mom = state.moments
        out.track(_stats.Moments(mom.rows, mom.amax[keep], mom.mean[keep],
                                 mom.m2[keep]), state.center)
    return out


def _widen(state, source):
    """A copy of ``state`` with the source's excluded columns put back (as
    zero weights of infinite scale), for training on the whole table."""
    if not source.excluded:
        return state
    width = state.n_features + len(source.excluded)
    keep = _kept(source, width)
    mean, scale = np.zeros(width), np.full(width, np.inf)
    mean[keep], scale[keep] = state.mean, state.scale
    out = ModelState(mean, scale, state.k, state.softmax)
    out.rng = state.rng
    _copy_columns(state, out, slice(None), keep)
    if state.moments is not None:
        mom = state.moments
        wide = [np.zeros(width) for _ in range(3)]
        for a, b in zip(wide, (mom.amax, mom.mean, mom.m2), strict=True):
            a[keep] = b
        out.track(_stats.Moments(mom.rows, *wide), state.center)
    return out


def _copy_columns(src, dst, take, put):
    """Weights and optimizer state of columns ``take`` of ``src`` into
    columns ``put`` of ``dst`` (the intercepts' entries too)."""
    dst.W[:, put] = src.W[:, take]
    dst.B[:] = src.B
    dst.steps[:] = src.steps
    # (an optimizer array src holds as a placeholder is zeros: dst's are)
    for name in ("l1_u", "l1_q"):
        if name not in src.absent():
            getattr(dst, name)[:, put] = getattr(src, name)[:, take]
    for name in ("gsq", "avg"):
        if name not in src.absent():
            getattr(dst, name)[:, :-1][:, put] = getattr(src, name)[:, :-1][:, take]
            getattr(dst, name)[:, -1] = getattr(src, name)[:, -1]
