"""scikit-learn compatible classifier around the training of
:mod:`fastlr._train` (SGD epochs and the deterministic solver).

The estimator validates, maps labels to 0/1, and stores fitted attributes;
the epochs run in the Numba kernels. It never loops over rows itself.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ._dispatch import Data, RowSubset, as_data, merge_finish
from ._driver import (
    STREAM_ALPHA,
    alpha_value,
    check_fit_intercept,
    check_sgd_options,
    check_train_params,
    is_auto_alpha,
    keep_best,
    warn_weight_scale,
)
from ._order import check_random_state, kept_rng, make_rng
from ._progress import check_verbose, epoch_progress
from ._sgd import sgd, written_arrays
from ._solver import check_solver, warn_unconverged
from ._state import ModelState, Scratch, counted_moments
from ._train import train_state
from ._validation import (
    among_classes,
    check_classes,
    check_positive_int,
    check_real,
    check_sample_weight,
    check_standardize,
    check_weight_total,
    classes_apart,
    fit_bytes,
    is_dask,
    numeric_input,
    refuse_one_class,
    refuse_single_row_held_out,
    refuse_unseen,
    shown,
    standardize_option,
    target_classes,
    unchanged_on_error,
    unique_labels,
    user_stacklevel,
    weights_name,
    zero_weights_message,
)
from .core import check_model_memory

__all__ = ["LogisticRegression", "validate_params"]


class _Shown:
    """``coef_`` and ``intercept_`` of :class:`LogisticRegression`. Set,
    changed in place and deleted as ordinary attributes, but after training
    they are the training state's raw model (:meth:`_State.get`), computed
    when first read rather than by the call that trained it (from float64
    X: float32 weights may not fit, which that call says): a
    ``partial_fit`` stream on wide X made two passes over the coefficients
    a call for them, read or not (the raw model, then, the next call, again
    to check it unchanged; on 1M columns, half of a call with
    ``standardize=False``). The training state is never changed in place
    (each call trains a copy), so the values are those the call would have
    set. Kept in the instance's :class:`_State` (in its ``__dict__`` under
    ``_shown``), not under their own names: reading them changes no key or
    value of ``__dict__`` (scikit-learn's estimator checks ask that
    ``predict`` leave it unchanged); a value set by hand is kept under its
    name and shadows the state's."""

    NAMES = ("coef_", "intercept_")

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        d = obj.__dict__
        if self.name in d:
            return d[self.name]
        shown = d.get("_shown")
        if shown is None or self.name in shown.deleted:
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute "
                                 f"{self.name!r}")
        shown.read = True
        return shown.get()[self.NAMES.index(self.name)]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value

    def __delete__(self, obj):
        d = obj.__dict__
        shown = d.get("_shown")
        had = self.name in d or (shown is not None
                                 and self.name not in shown.deleted)
        d.pop(self.name, None)
        if shown is not None:
            shown.deleted.add(self.name)
        if not had:
            raise AttributeError(self.name)


class _State:
    """The ``coef_`` and ``intercept_`` (:class:`_Shown`) of a training
    state: :meth:`fastlr._state.ModelState.coef` in ``dtype``, computed at
    the first :meth:`get` (``eager``: now) and kept."""

    def __init__(self, state, dtype, eager=False):
        self.state = state
        self.dtype = np.dtype(dtype)
        self.values = state.coef(self.dtype) if eager else None
        #: whether they were read since (and may have been changed in place)
        self.read = False
        #: the names deleted since (del clf.coef_)
        self.deleted = set()

    def get(self):
        if self.values is None:
            self.values = self.state.coef(self.dtype)
        return self.values


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression trained in Numba kernels: by mini-batch SGD, then
    (by default) to the optimum of its regularized objective.

    ``solver="auto"`` (the default) runs one epoch of mini-batch SGD from
    zero, then L-BFGS (OWL-QN with an L1 penalty) on full passes of the
    data until the relative decrease of the objective is below ``tol``: the
    coefficients are those of the objective's minimizer, as scikit-learn's
    ``LogisticRegression`` gives, not of SGD's noise floor.
    ``solver="sgd"`` is SGD alone (epochs until the loss stalls); see
    ``solver`` below.

    Two classes give the binary (sigmoid) model, ``coef_`` of shape (1, n);
    more give multinomial (softmax) regression trained in its own kernel,
    ``coef_`` of shape (k, n) and ``intercept_`` (k,), one row per class of
    ``classes_``, with the same penalties and learning-rate schedules (per
    (class, feature) weight). Dense training shares each epoch between
    threads (batches of 128 rows or more on X of 2M elements or more), with
    results bit-identical to one thread's.

    ``X`` may be a scipy.sparse matrix (any format; a canonical CSR is used
    without a copy): sparse input trains in CSR kernels that touch only the stored
    entries and, each step, only the weights of the columns present in the
    batch (see :func:`fastlr.train`), on one thread (the estimator takes no
    ``n_threads``).

    ``X`` may also be a ``dask.array`` (dense or CSR blocks) or a dask
    DataFrame (columns as features), with ``y`` and ``sample_weight`` as
    dask arrays chunked like X's rows: ``fit`` and ``partial_fit`` then
    train where the blocks live, never gathering X (see
    :mod:`fastlr.distributed`: SGD epochs by parameter mixing, the finisher
    over blockwise gradient sums), and the predictions are dask arrays
    computed blockwise.

    Parameters
    ----------
    lr : float, default 0.01
        Constant learning rate (SGD epochs), of a step along a batch's mean
        gradient: each row moves the weights by ``lr / batch_size``, a
        ``batch_size``-th of the step scikit-learn's ``eta0`` takes per row
        (a stream whose label rule flipped took 7 to 17 times as many rows to
        recover at the default ``lr=0.01`` as at ``eta0=0.01``). With another
        ``learning_rate``, its base rate; ``"optimal"`` ignores it.
    batch_size : int, default 32
        Rows per SGD step; larger than the number of rows: one full batch
        per epoch (as ``batch_size = n_samples``).
    max_iter : int, default 1000
        Maximum number of passes over the training data: SGD epochs, plus
        solver iterations (each one loss-and-gradient pass) for ``"lbfgs"``
        and ``"auto"``. 0 runs nothing and warns (``ConvergenceWarning``):
        the model stays at its start, zero or the warm start.
    tol : float or None, default 1e-4
        ``"sgd"``: stop when the epoch's training loss has not improved by
        ``tol`` on the best loss for ``n_iter_no_change`` consecutive
        epochs; None runs all ``max_iter`` epochs. ``"lbfgs"`` and
        ``"auto"``: stop when, for two iterations in a row, the relative
        decrease of the objective over an iteration, and the one the
        quasi-Newton model predicts for the next (and a Newton step along
        the flattest direction stepped in), are below ``tol`` (> 0), and
        each class's mean predicted probability
        is within ``sqrt(tol)`` (relatively) of its share of the training
        weight (as at the optimum; a rare class's rows are too small a
        part of the objective for its decrease to see that); without a
        penalty, also once the mean training loss is at most ``tol``
        (separable classes, which then have no optimum: it warns, a
        ``ConvergenceWarning``, and the weights' scale depends on ``tol``);
        None runs all ``max_iter`` passes (fewer
        only if nothing decreases any more in floating point, or the loss
        of a fit without a penalty falls below float64's epsilon), and
        running out of them does not warn. ``tol`` bounds those decreases, not the
        distance to the optimum: where the objective curves well in every
        direction the fit stops about ``tol`` (relative) above it, but
        where it is nearly flat along one (L1 on nearly collinear columns,
        a tiny penalty on nearly separable classes) up to 200,000 times
        ``tol`` above it, reporting convergence, without a warning (README,
        "Stopping"). For the optimum itself use None, or a tiny ``tol``
        (1e-20 is fine: the predicted decrease is computed from the
        gradient, accurate far below the objective's own rounding; it stops
        about ``sqrt(tol / curvature)`` from the optimum, and None at the
        gradient's rounding).
    n_iter_no_change : int, default 5
        Epochs (>= 1) in a row without an improvement by ``tol`` that stop
        SGD (with ``learning_rate="adaptive"``: that divide the rate by 5).
    penalty : {"l2", "l1", "elasticnet", None}, default "l2"
        Regularization on the (standardized) weights, not the intercept. The
        L1 part uses Tsuruoka et al.'s cumulative-penalty truncation, as
        scikit-learn's SGD does, so irrelevant features get weights of
        exactly 0.0 (see :func:`fastlr.train`).
    alpha : float or "auto", default "auto"
        Penalty strength, >= 0. ``"auto"``: ``1 / sum_i sw_i`` over the
        rows trained on (``1 / n_samples`` without weights), the strength
        of scikit-learn's ``LogisticRegression()`` (``C=1``, below); a
        ``partial_fit`` call, which cannot know the size of the stream,
        takes 1e-4 (scikit-learn's ``SGDClassifier``'s default) for it. (The
        fixed default of 1e-4 of earlier versions penalized a 100-row table 100
        times less than ``C=1`` and 100,000 rows 10 times more: held-out
        log-losses 2.3 against 0.46 and 0.61 against 0.52.) The objective,
        on the standardized features, with ``sw`` the sample weights times
        the class weights (all 1 without)::

            sum_i sw_i loss_i / sum_i sw_i + penalty(w)

        ``loss_i`` the log-loss (cross-entropy for k > 2 classes), and
        ``penalty`` ``alpha/2 ||w||^2`` (``"l2"``), ``alpha ||w||_1``
        (``"l1"``) or ``alpha (l1_ratio ||w||_1 + (1 - l1_ratio)/2
        ||w||^2)`` (``"elasticnet"``); the intercept is not penalized.
        scikit-learn's ``LogisticRegression(C=C)`` minimizes
        ``C sum_i sw_i loss_i + ||w||^2 / 2``, which is this objective
        multiplied by ``C sum_i sw_i`` when ``alpha = 1 / (C sum_i sw_i)``
        (``1 / (C n_samples)`` without weights): on the same (standardized)
        features, the same coefficients.
    l1_ratio : float, default 0.15
        Elastic-net mixing, in [0, 1] (scikit-learn's ``SGDClassifier``'s
        default); used by ``"elasticnet"`` only, but checked whatever the
        penalty, and another value with another penalty warns (a
        UserWarning) that it has no effect: scikit-learn 1.8's
        ``LogisticRegression(l1_ratio=1)`` is ``penalty="l1"`` here.
    learning_rate : {"constant", "invscaling", "adaptive", "adagrad", "optimal"}, \
default "constant"
        Step-size rule, with ``lr`` as scikit-learn's ``eta0``:
        ``"constant"``: ``lr``; ``"invscaling"``: ``lr / t**power_t``, ``t``
        counting SGD steps (batches) from 1 across ``partial_fit`` and
        ``warm_start`` calls; ``"adaptive"``: ``lr``, divided by 5 each time
        ``n_iter_no_change`` epochs in a row fail to improve the training
        loss (the validation score with ``early_stopping``) by ``tol``;
        training stops at such a stall once the rate is at most 1e-6 (each
        ``fit`` restarts the rate at ``lr``; ``partial_fit`` has no ``tol``:
        there it is ``"constant"``, as in scikit-learn); ``"adagrad"``: per-coordinate
        steps ``lr / sqrt(sum of past squared gradients)``, robust to
        features of very different scales (``standardize=False``); use an
        ``lr`` of about 0.1-1 with it; ``"optimal"``: scikit-learn's
        ``SGDClassifier`` default, ``1 / (alpha * (t0 + t - 1))`` with
        Bottou's ``t0`` (the first step is ``alpha**-0.25``), ``t`` as for
        ``"invscaling"`` (at ``batch_size=1`` scikit-learn's sample count);
        ``lr`` is ignored, as scikit-learn ignores ``eta0``, and ``alpha`` is
        the whole strength with ``"elasticnet"``, as there. It needs a
        penalty with ``alpha > 0`` (a ValueError otherwise; scikit-learn
        uses ``alpha`` also without a penalty). The default is ``"constant"``: with
        ``standardize`` True (the default on dense X) every feature already has unit
        scale, which is what AdaGrad would otherwise have to learn, and the
        constant step is the fastest update and what ``fastlr.train`` does.
        On unscaled sparse X (tf-idf with ``standardize=False``) the
        constant default barely moves in a few passes: use ``"adagrad"``
        with ``lr`` about 0.1, or ``fit``'s default solver. AdaGrad with an
        L2 penalty (the default ``penalty="l2"``) updates all n weights
        every batch on sparse X: on wide data also pass ``penalty=None``,
        or a ``batch_size`` as large as a ``partial_fit`` chunk (on 1M
        columns, chunks of 1,000 rows: 5-8x faster a call either way, in
        two measurements on a shared machine).
    power_t : float, default 0.5
        Exponent of ``"invscaling"``, >= 0.
    average : bool or int, default False
        Averaged SGD: ``coef_`` and ``intercept_`` are the running mean of the
        iterates from step ``average`` on (``True``: from the first step).
        Steps count batches (scikit-learn counts samples).
    early_stopping : bool, default False
        Hold out a stratified ``validation_fraction`` of the training rows
        (drawn from ``random_state``; at least one row of each class and at
        most all but one, so a class of a single row, which cannot be both
        held out and trained on, is refused before any training, on Dask too,
        as scikit-learn's ``SGDClassifier`` refuses it), score the model on it
        after each epoch by its (sample-weighted) mean log-loss, stop once it
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, and keep
        the model (and its optimizer state) of the best epoch; it runs SGD
        alone (``solver="auto"`` included), whose steps scale with the row
        weights (see ``fit``'s ``sample_weight``). Log-loss rather
        than accuracy: it changes smoothly, where accuracy on a small held-out
        set moves in steps of one row and stalls early. ``fit`` then copies
        the held-out rows of X (scored every epoch), not the others: it trains
        on them where they are, with the batches, statistics and results of a
        fit on their copy; ``partial_fit`` ignores it.
    validation_fraction : float, default 0.1
        Fraction of rows held out by ``early_stopping``, strictly between 0
        and 1.
    class_weight : dict, "balanced" or None, default None
        Weights per class, multiplied into ``sample_weight``: ``{label:
        weight}`` (classes it leaves out weigh 1; labels that are not
        classes, of ``y`` in ``fit``, of ``classes`` in ``partial_fit``, are
        ignored when it names every class, so a cross-validation split that
        lacks a class fits, and refused otherwise: scikit-learn's rule) or
        ``"balanced"``:
        ``total / (n_classes * weight(label))`` from the ``y`` given to
        ``fit``, where ``weight(label)`` sums the ``sample_weight`` of the
        label's rows (their count without it) and ``total`` over every row,
        as scikit-learn's ``LogisticRegression`` computes it (so a row of
        weight 0 counts as no row), on every solver: with ``solver="sgd"``
        too, where scikit-learn's ``SGDClassifier`` counts rows, not
        weights (on 400 rows of ``uniform(0, 2)`` weights: class weights
        0.694 and 1.789 here, 0.719 and 1.639 there; pass
        ``SGDClassifier``'s as a dict to match it); ``partial_fit`` takes a dict, and
        refuses ``"balanced"`` (it needs every row at once), as
        scikit-learn's does.
    standardize : {"auto", True, False, "scale"}, default "auto"
        Train on standardized features (folded into the kernel, no copy).
        ``"scale"`` divides by the standard deviation without centering. On
        sparse X, True means ``"scale"`` (centering would densify).
        ``"auto"``: True on dense X, False on sparse X (tf-idf, counts and
        hashed features train as they are, as scikit-learn's estimators
        take them: scaling a sparse column by its spread multiplies a rare
        term's values and shrinks its penalty; see README's Sparse input);
        a ``partial_fit`` stream keeps what its first chunk chose.
        ``coef_`` and ``intercept_`` are always in raw feature space. In
        ``fit``, the statistics are weighted by ``sample_weight`` (times the
        class weights): each row counts as often as its weight, as if rows
        were repeated or, for weight 0, dropped (``partial_fit`` keeps
        running statistics over every chunk it is given, unweighted).
        On dense X the default is scikit-learn's
        ``make_pipeline(StandardScaler(), LogisticRegression())``, not
        ``LogisticRegression()`` alone, which fits the columns as they are:
        columns whose units already say how much they should weigh train
        better with ``standardize=False``. Dense one-hot
        or indicator columns (``OneHotEncoder(sparse_output=False)``,
        ``pd.get_dummies``, a ``ColumnTransformer`` whose output came out
        dense) and dense tf-idf: scaling a rare level's column by its small
        spread shrinks its penalty, so rare levels are over-fitted (held-out
        log-loss 0.56 against 0.50 on 895 one-hot columns, about 0.3
        against scikit-learn's 0.165 on tf-idf made dense; the same matrix
        as CSR trains raw).
        Few rows of columns in one unit (pixels, p > n): every column
        scaled to unit spread, a nearly constant one or pure noise gets the
        penalty of an informative one (100 rows x 2,000 columns, both at
        ``alpha=1/n_samples``: accuracy 0.54 against 0.76 with
        ``standardize=False``, scikit-learn's 0.76). See README's
        "Coming from scikit-learn".
    shuffle : {True, False, "blocks", "rows"}, default True
        Reshuffle each epoch: by blocks of consecutive rows (True, "blocks";
        sequential memory access), by single rows ("rows"), or not (False).
        See :func:`fastlr.train`.
    random_state : None, int, numpy Generator or RandomState
        Seeds the shuffling (and the held-out rows of ``early_stopping``):
        each ``fit`` starts from it anew, a stream of ``partial_fit`` calls
        at its first. A Generator is drawn from, and the model keeps a
        copy of it: later draws of the caller's change nothing of the model.
    warm_start : bool, default False
        Reuse the previous solution as initialization: its raw-space model
        and optimizer state (step count, averages, AdaGrad's sums). As a
        cold fit, a warm one standardizes by the statistics of the X it is
        given, and the previous model is re-expressed in them, so that only
        where training starts changes (as scikit-learn's warm start): a
        converged warm fit is a cold fit's optimum, on X in any units. The
        running statistics of :meth:`partial_fit` start again from its rows.
        A fit on X with another number of features, or y with other classes,
        cannot continue it and raises ``ValueError`` (set ``warm_start=False``
        to start a new model). The previous solution is the one ``coef_`` and
        ``intercept_`` show: set or changed by hand (with ``classes_``), they
        are where training starts, with a fresh optimizer state; so does
        :meth:`partial_fit`.
    verbose : int, default 0
        Progress bar for ``fit`` (epochs, loss, rows/s) on stderr. 0: none;
        1: on a terminal, once training has run for more than a second;
        2 or more: always (notebooks, log files).
    fit_intercept : bool, default True
        Fit the intercept; False keeps it at 0 (the model passes through the
        origin in raw space, and ``standardize=True`` scales without
        centering). A ``warm_start`` with False after a fit with an
        intercept continues from that fit's weights with the intercept 0.
    solver : {"auto", "sgd", "lbfgs"}, default "auto"
        ``"sgd"``: mini-batch SGD epochs, stopped by ``tol`` and
        ``n_iter_no_change``. ``"lbfgs"``: L-BFGS (Liu and Nocedal 1989;
        OWL-QN, Andrew and Gao 2007, when the penalty has an L1 part) on the
        objective of ``alpha``, from zero (or the previous model with
        ``warm_start``), every iteration one threaded loss-and-gradient
        pass over X; ``lr``, ``batch_size``, ``shuffle``, ``learning_rate``,
        ``power_t`` and ``average`` do not apply (they are still checked, as
        every parameter is). ``"auto"``: one SGD epoch
        (the options above apply to it, in batches of at least 256 rows),
        then the same solver from there;
        with ``warm_start`` and a previous model, the solver alone; with
        ``early_stopping=True``, SGD alone (its held-out rule stops epochs).
        An SGD epoch of ``"auto"`` that diverges is dropped and the solver
        starts from zero; it read the data all the same, and counts as one
        of the ``max_iter`` passes and of ``n_iter_`` (its ``loss_curve_``
        entry the zero model's loss, log 2 or log k, where the solver
        starts). If ``max_iter`` runs out before ``tol`` is met, a
        ``ConvergenceWarning`` says so and the last iterate, the best one
        seen, is kept. Where the rows of positive weight (``sample_weight``
        times ``class_weight``) hold one class, the objective has no
        minimizer (the intercepts part without end): ``"auto"`` and
        ``"lbfgs"`` then take, without a pass, weights 0 and the intercepts
        whose mean loss is ``tol`` (``n_iter_`` 0). ``partial_fit`` always
        runs one SGD epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights in raw feature space, dtype of the training X: one row for
        two classes, one row per class of ``classes_`` for more.
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
        The sorted labels seen in ``fit``; with two, ``classes_[1]`` is the
        positive class.
    n_features_in_ : int
    n_iter_ : int
        Passes run by the last ``fit``: SGD epochs plus solver iterations
        (each :meth:`partial_fit` call adds its epoch).
    loss_curve_ : ndarray of shape (n_iter_,)
        Training loss (mean log-loss, or cross-entropy for k > 2 classes)
        per pass: during the epoch for an SGD epoch, at the iterate for a
        solver iteration (the penalty is not included). Read-only once
        :meth:`partial_fit` has extended it (it and the curves read before
        are views of one buffer); copy it to change it.
    solver_ : str
        What the last ``fit`` ran: ``"sgd"``, ``"lbfgs"`` or ``"auto"``
        (``"sgd"`` for ``solver="auto"`` with ``early_stopping``, and for a
        model trained by :meth:`partial_fit` alone).
    n_solver_iter_ : int
        L-BFGS iterations among the ``n_iter_`` passes of the last ``fit``
        (0 for a model trained by :meth:`partial_fit` alone).
    validation_scores_ : ndarray of shape (n_iter_,) or None
        With ``early_stopping``: the held-out score after each epoch of
        ``fit``, as negative mean log-loss (higher is better, like
        scikit-learn's ``"neg_log_loss"`` scoring); None otherwise (a later
        :meth:`partial_fit` adds epochs, not scores).
    best_validation_score_ : float or None
        The best of ``validation_scores_``, whose model was kept; None
        without ``early_stopping``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names of ``X``, when it was a DataFrame whose column
        names are all strings (as in scikit-learn); absent otherwise.
        ``predict`` and the other methods check a DataFrame's columns
        against them.
    training_state_ : fastlr._state.ModelState
        What continued training (``warm_start``, :meth:`partial_fit`)
        starts from: the weights and intercepts on the standardized
        features, the standardization (with its running statistics), the
        optimizer state (SGD steps, averages, AdaGrad's sums) and the
        shuffling generator. ``coef_`` and ``intercept_`` are this model in
        raw feature space; :func:`fastlr.save` stores it whole.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from fastlr import LogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegression(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.97
    True
    """

    # scikit-learn's HTML repr (and its parameter tooltips) link an estimator
    # to its documentation: this one's is fastlr's, the README of the
    # installed version on the package index, not the page of
    # sklearn.linear_model.LogisticRegression
    _doc_link_module = "fastlr"
    _doc_link_template = "https://pypi.org/project/fastlr-numba/{version}/"

    coef_ = _Shown()
    intercept_ = _Shown()

    def _doc_link_url_param_generator(self):
        from . import __version__

        return {"version": __version__}

    def __init__(self, lr=0.01, batch_size=32, max_iter=1000, tol=1e-4,
                 n_iter_no_change=5, penalty="l2", alpha="auto", standardize="auto",
                 shuffle=True, random_state=None, warm_start=False, verbose=0,
                 l1_ratio=0.15, learning_rate="constant", power_t=0.5,
                 average=False, early_stopping=False, validation_fraction=0.1,
                 class_weight=None, fit_intercept=True, solver="auto"):
        self.lr = lr
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.penalty = penalty
        self.alpha = alpha
        self.standardize = standardize
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.l1_ratio = l1_ratio
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.average = average
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.fit_intercept = fit_intercept
        self.solver = solver

    # ------------------------------------------------------------------ fit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _partial_fit_classes(self, classes, first):
        """The classes of a ``partial_fit`` call: given (two or more) on the
        first call, the first call's afterwards (``classes`` may repeat
        them, nothing else)."""
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to "
                                 "partial_fit")
            classes = check_classes(classes)
            if classes.shape[0] < 2:
                raise ValueError(f"classes must hold at least two labels, got "
                                 f"{classes.shape[0]}")
            return classes
        if classes is None:
            return self.classes_
        if isinstance(classes, list | tuple | np.ndarray):
            # the model's own classes again, as numbers (a stream passing
            # them at every call): valid and equal, with no check of a sort
            given = np.asarray(classes)
            if (given.dtype == self.classes_.dtype and given.dtype.kind in "biuf"
                    and np.array_equal(given, self.classes_)):
                return self.classes_
        classes = check_classes(classes)
        if not np.array_equal(classes, self.classes_):
            raise ValueError("classes differs from the model's classes_ (from "
                             "its fit or first partial_fit call): "
                             + classes_apart(classes, "classes", self.classes_,
                                             "classes_", item=repr))
        return self.classes_

    def _params(self, epochs, sgd_only=False, unused=True):
        """Validated hyperparameters: ``(train_params, sgd_options)``; the
        ``tol`` among the first is SGD's (None when ``fit`` runs the
        finisher: :meth:`_solver_plan` gives its own). ``sgd_only``: the
        caller runs SGD epochs alone whatever the solver (a file read in
        parts, :func:`fastlr._stream.fit`), so ``"auto"`` stops them by
        SGD's rule, ``tol`` and ``n_iter_no_change``, as ``"sgd"`` does."""
        solver, _ = self._solver_plan()
        if sgd_only:
            solver = "sgd"
        epochs = check_positive_int(epochs, "max_iter", minimum=0)
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start must be True or False, got "
                            f"{self.warm_start!r}")
        # ("auto" stays "auto": what it means depends on the rows given,
        # alpha_value; it is positive, as 1.0 is for the checks)
        auto = is_auto_alpha(self.alpha)
        alpha = 1.0 if auto else self.alpha
        params = check_train_params(self.batch_size, epochs, self.lr, self.penalty,
                                    alpha, "running",
                                    self.tol if solver == "sgd" else None,
                                    self.n_iter_no_change, self.shuffle)
        if auto:
            params = (*params[:3], "auto", *params[4:])
        # (``unused``: a training call, of this model's alpha: say that an
        # l1_ratio the penalty does not use has no effect, refuse "optimal"
        # without a strength; not where parameters are only checked: save,
        # load, LogisticRegressionCV's grid)
        options = check_sgd_options(self.learning_rate, self.power_t,
                                    self.l1_ratio, self.average,
                                    self.penalty if unused else "elasticnet",
                                    alpha if unused else None)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(f"early_stopping must be True or False, got "
                            f"{self.early_stopping!r}")
        vf = check_real(self.validation_fraction, "validation_fraction")
        if not 0.0 < vf < 1.0:
            raise ValueError(f"validation_fraction must lie strictly between 0 "
                             f"and 1, got {vf}")
        check_standardize(self.standardize)
        check_fit_intercept(self.fit_intercept)
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or
                (isinstance(cw, str) and cw == "balanced")):
            raise ValueError(f"class_weight must be a dict, 'balanced' or None, "
                             f"got {cw!r}")
        return params, options

    def _solver_plan(self):
        """``(solver, finisher_tol)``: what ``fit`` runs (``"auto"`` with
        ``early_stopping`` is SGD alone) and the finisher's tolerance."""
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(f"early_stopping must be True or False, got "
                            f"{self.early_stopping!r}")
        check_solver(self.solver, self.tol, self.early_stopping)
        solver = "sgd" if self.solver == "auto" and self.early_stopping \
            else self.solver
        return check_solver(solver, self.tol, self.early_stopping)

    def _class_weights(self, y01, classes, sw, fitting):
        """``sample_weight`` times the weight of each row's class."""
        if self.class_weight is None:
            return sw
        counts = np.bincount(y01.astype(np.intp), weights=sw if sw.shape[0] else None,
                             minlength=classes.shape[0])
        row = self._class_weight_values(classes, counts, fitting)[
            y01.astype(np.intp)]
        with np.errstate(over="ignore", under="ignore"):
            out = row if sw.shape[0] == 0 else sw * row
        name = weights_name(sw.shape[0] > 0, self.class_weight)
        if not (out > 0).any():
            raise ValueError(zero_weights_message(name))
        # (a product beyond float64 is infinite, and so is the total)
        check_weight_total(out, name)
        return out

    def _class_weight_values(self, classes, counts, fitting):
        """The weight of each class of ``classes`` (``counts``: its rows'
        summed sample weights, or its rows; "balanced" gives a class of
        weight 0 the weight 0: its rows weigh nothing anyway)."""
        cw = self.class_weight
        if isinstance(cw, str):  # "balanced" (checked by _params)
            if not fitting:
                raise ValueError("class_weight='balanced' is not supported by "
                                 "partial_fit (the class counts of the whole "
                                 "stream are unknown); pass a dict of weights")
            k = classes.shape[0]
            counts = np.asarray(counts, dtype=np.float64)
            return np.divide(counts.sum(), counts * float(k), out=np.zeros(k),
                             where=counts > 0)
        k = classes.shape[0]
        weights = np.ones(k)
        named = np.zeros(k, dtype=bool)
        extra = []
        # each label found by binary search, not by a pass over the classes:
        # O((K + k) log k) for K labels (a loaded file may hold many of both)
        order = np.argsort(classes, kind="stable")
        ordered = classes[order]
        for label, value in cw.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not np.isfinite(value) or value < 0:
                raise ValueError(f"class_weight[{label!r}] must be a finite "
                                 f"number >= 0, got {value!r}")
            hit = (_find_class(ordered, order, label)
                   if _comparable(label, classes) else None)
            if hit is None:
                extra.append(label)
                continue
            weights[hit] = float(value)
            named[hit] = True
        # scikit-learn's rule (compute_class_weight): labels that are not
        # classes are ignored when the dict names every class (a
        # cross-validation split, or a chunk's declared classes, may lack
        # one), refused otherwise (a mistyped label, most likely)
        if extra and not named.all():
            raise ValueError(f"class_weight names the label {extra[0]!r}, "
                             f"which is not one of the classes "
                             f"[{shown(classes, item=repr)}], and leaves out the "
                             f"classes [{shown(classes[~named], item=repr)}]: "
                             f"labels that are not classes are ignored only "
                             f"when every class is named")
        return weights

    def _encode(self, y, classes):
        """Labels as the kernels take them: int64 codes, 0/1 for two classes
        (positive = classes[1]), else indices into ``classes``."""
        if classes.shape[0] == 2:
            return (y == classes[1]).astype(np.int64)
        return np.searchsorted(classes, y).astype(np.int64)

    def _train(self, data, y, sw, state, **kw):
        return sgd(data, y, sw, state, fit_intercept=bool(self.fit_intercept), **kw)

    def _standardize_option(self, sparse, state=None):
        """``standardize`` as training takes it on X, sparse or not (True,
        False or "scale"): "auto" resolved, True means "scale" without an
        intercept (through the origin in raw space). ``state``: the model a
        ``partial_fit`` call (in memory or on Dask) continues, for which
        "auto" keeps what its first chunk chose (standardized or not),
        whatever this chunk's storage, once it has trained (``n_iter_``; a
        model loaded with weights set by hand has not: its next chunk
        chooses, as for weights set by hand in memory)."""
        standardize = self.standardize
        if (state is not None and isinstance(standardize, str)
                and standardize == "auto" and getattr(self, "n_iter_", 0)):
            standardize = state.standardized()
        return standardize_option(standardize, self.fit_intercept, sparse)

    def _new_state(self, data, classes, sw=None, written=None):
        """A fresh state: the binary model (one row) for two classes, the
        softmax model (a row per class) for more; standardized by the
        statistics of ``data`` weighted by ``sw`` (if given), with running
        statistics started from its rows (each counted by its weight
        relative to the mean weight: :func:`fastlr._state.counted_moments`);
        ``written``: the optimizer arrays
        to allocate (:class:`fastlr._state.ModelState`; None: all)."""
        standardize = self._standardize_option(data.sparse)
        mean, scale, moments = data.standardization(standardize, sw=sw, moments=True)
        mean, scale = mean[0], scale[0]
        k = classes.shape[0]
        state = ModelState(mean, scale, k if k > 2 else 1, softmax=k > 2,
                           written=written)
        if moments is not None:
            if sw is not None and sw.shape[0]:
                # (the rows count as rows, whatever the weights' scale)
                moments = counted_moments(moments, int(np.count_nonzero(sw > 0)))
            state.track(moments, data.centers(standardize))
        return state

    @unchanged_on_error
    def fit(self, X, y, sample_weight=None):
        """Fit the model on (X, y) for up to ``max_iter`` passes (SGD epochs
        and solver iterations, see ``solver``).

        Parameters
        ----------
        X : array_like of shape (m, n)
            A dask array or DataFrame trains on the cluster (y and
            ``sample_weight`` then dask collections or in memory); X in
            memory refuses a dask y or ``sample_weight`` (a TypeError)
            rather than gather it.
        y : array_like of shape (m,)
            At least two distinct labels of any sortable type.
        sample_weight : array_like of shape (m,) or None
            Non-negative per-row weights (times ``class_weight``'s), applied
            inside the kernel. The objective is their weighted mean loss
            (see ``alpha``), which rescaling every weight leaves unchanged
            at a given ``alpha``, and so does the default solver's model
            (the default ``alpha="auto"``, ``1 /`` their sum, scales as
            scikit-learn's ``C=1`` does: weights times ``s``, a penalty
            ``s`` times weaker; pass a number where their scale is
            arbitrary); SGD's, though
            (``solver="sgd"``, ``early_stopping=True``), is not: its step on
            a row is ``lr`` times the row's weight, so weights normalized to
            sum 1 take steps ``m`` times smaller (``tol`` then stops a model
            that has barely moved) and large ones (survey expansion weights)
            steps that many times larger. SGD warns
            (:class:`fastlr.WeightScaleWarning`) when their mean over the
            rows of positive weight lies outside [1/16, 16]: divide them by
            their mean.

        Returns
        -------
        self
        """
        if is_dask(X):   # trains where the blocks live, never gathers X
            return _distributed().estimator_fit(self, X, y, sample_weight)
        _refuse_dask_beside("train", y=y, sample_weight=sample_weight)
        (batch_size, epochs, lr, alpha, tol, n_iter_no_change), options = \
            self._params(self.max_iter)
        learning_rate, power_t, l1_ratio, average_start = options
        solver, finish_tol = self._solver_plan()
        X = numeric_input(X)  # the input types every fastlr entry point accepts
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                             order="C", y_numeric=False, accept_sparse="csr",
                             ensure_all_finite=False)
        # finiteness checked by fastlr's pass, which on dense X also computes
        # the column statistics in the same read (one pass fewer)
        data = as_data(X, with_stats=True, train=True)
        classes = target_classes(y)
        sw = check_sample_weight(sample_weight, data.m)
        refuse_one_class(classes)
        # (only the optimizer arrays SGD writes with these options: the
        # others are placeholders, given their shape by a later training
        # that writes them)
        written = written_arrays(self.penalty, alpha, l1_ratio, learning_rate,
                                 average_start)
        y01 = self._encode(y, classes)
        sw = self._class_weights(y01, classes, sw, fitting=True)
        # a warm start that does not fit, or a held-out split too small, is
        # refused before anything is drawn
        old = self._warm_state(data.n, classes)
        warm = old is not None
        if data.sparse:   # (as_data checked the width of train's needs)
            self._check_fit_memory(data.n, classes, solver, written, old)
        n_val = self._holdout_rows(y01, classes) if self.early_stopping else None
        rng = make_rng(self.random_state)
        monitor = None
        if self.early_stopping:
            data, y01, sw, monitor, best = self._validation_split(data, y01, sw,
                                                                  rng, n_val)
        alpha = alpha_value(alpha, sw.sum() if sw.shape[0] else data.m)
        if solver == "sgd":   # (the training rows' weights)
            warn_weight_scale(sw, weights_name(sample_weight is not None,
                                               self.class_weight))
        progress = epoch_progress(self.verbose, epochs, data.m)
        state = self._new_state(data, classes, sw, written)
        if warm:
            state = self._continued(old, state)
        state.rng = rng
        if monitor is not None:
            monitor = monitor(state)
        with progress:
            losses, converged, solver_iterations = train_state(
                data, y01, sw, state, solver=solver, finish_tol=finish_tol,
                epochs=epochs, penalty=self.penalty, alpha=alpha,
                l1_ratio=l1_ratio, fit_intercept=bool(self.fit_intercept),
                callback=progress, warm=warm, batch_size=batch_size, lr=lr,
                shuffle=self.shuffle, rng=rng, epoch_loss="running", tol=tol,
                n_iter_no_change=n_iter_no_change, learning_rate=learning_rate,
                power_t=power_t, average_start=average_start, monitor=monitor)
        self._store_fit(state, data.dtype, classes, losses, converged,
                        solver_iterations, solver, epochs, tol,
                        best if monitor is not None else None)
        return self

    def _warm_state(self, n, classes):
        """The state ``fit`` continues: the previous fit's with
        ``warm_start``, else None. A previous fit on another number of
        features or other classes cannot be continued and is refused, as
        scikit-learn's ``SGDClassifier`` and ``MLPClassifier`` refuse it,
        rather than silently started afresh."""
        old = self._fitted_state() if self.warm_start else None
        if old is None:
            return None
        if old.n_features != n:
            raise ValueError(
                f"X has {n} features, but warm_start=True continues the "
                f"previous fit, on {old.n_features} features; set "
                "warm_start=False to start a new model")
        if not np.array_equal(self.classes_, classes):
            raise ValueError(
                "y's classes differ from those of the previous fit, which "
                "warm_start=True continues: "
                + classes_apart(classes, "y", self.classes_, "classes_", item=repr)
                + "; set warm_start=False to start a new model")
        return old

    def _check_fit_memory(self, n, classes, solver, written, old):
        """Refuse (:func:`fastlr.core.check_model_memory`) a fit on a sparse
        X of ``n`` columns whose model would not fit in the memory
        available (:func:`fastlr._validation.fit_bytes`): the optimizer
        arrays its options write (``written``), and a warm start's from
        ``old`` (:meth:`_warm_state`), which keeps every one the previous
        fit wrote."""
        if old is not None:
            written = frozenset(written) | (old.IDLE - old.absent())
        check_model_memory(n, len(classes), solver,
                           *fit_bytes(written, self.early_stopping))

    def _fitted_state(self):
        """The state continued training (``warm_start``, ``partial_fit``)
        starts from: None before any fit; the last fit's whole state
        (optimizer included, and the shuffling generator ``partial_fit``
        continues; a warm ``fit`` starts its shuffling again from
        ``random_state``, as scikit-learn's does) while ``coef_`` and
        ``intercept_`` are what it left; else, when they were set or
        changed by hand (as scikit-learn users start a warm fit from given
        weights), a new state holding them (on the raw features: mean 0,
        scale 1) with a fresh optimizer. Training never starts from a model
        the estimator no longer shows."""
        state = getattr(self, "training_state_", None)
        shown = self.__dict__.get("_shown")
        if (state is not None and shown is not None and shown.state is state
                and not shown.read and not shown.deleted
                and not set(_Shown.NAMES) & self.__dict__.keys()):
            return state   # coef_ and intercept_ not read, set or deleted since
        if not hasattr(self, "coef_"):
            return state
        if not hasattr(self, "classes_"):
            raise ValueError("coef_ is set but classes_ is not: continued "
                             "training needs the classes coef_'s rows are for")
        k = len(self.classes_)
        rows = k if k > 2 else 1
        coef = np.asarray(self.coef_)
        intercept = np.asarray(self.intercept_) if hasattr(self, "intercept_") \
            else np.zeros(rows)
        if state is not None and state.k == rows and coef.dtype.kind == "f":
            shown = state.coef(coef.dtype)
            if np.array_equal(coef, shown[0]) and np.array_equal(intercept, shown[1]):
                return state
        coef, intercept = self._checked_model(doing="continued training for",
                                              intercept=intercept)
        if coef.dtype.kind not in "fiu" or intercept.dtype.kind not in "fiu":
            raise ValueError("coef_ and intercept_ must be real numbers")
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ValueError("coef_ or intercept_ holds NaN or infinity: "
                             "continued training cannot start from it")
        n = coef.shape[1]
        new = ModelState(np.zeros(n), np.ones(n), rows, softmax=k > 2)
        new.W[:] = coef
        new.B[:] = intercept
        # (without a previous state, the training that continues it makes
        # the generator, once its input is checked)
        new.rng = None if state is None else state.rng
        return new

    def _continued(self, old, fresh):
        """What a warm start trains: a copy of the previous fit's state
        ``old`` (the estimator keeps its own unless training succeeds) on
        the standardization and running statistics of ``fresh``, the state
        a cold fit of the same rows starts from
        (:meth:`fastlr._state.ModelState.adopt`), through the origin when
        ``fit_intercept`` is False
        (:meth:`fastlr._state.ModelState.drop_intercept`)."""
        state = old.copy(rng=True)
        state.adopt(fresh)
        if not self.fit_intercept:
            state.drop_intercept()
        return state

    def _store_fit(self, state, dtype, classes, losses, converged,
                   solver_iterations, solver, epochs, tol, best):
        """The end of ``fit`` (in memory or on Dask): warnings, attributes;
        ``best`` the record of ``early_stopping`` (None without)."""
        if epochs == 0:
            warnings.warn(
                "max_iter=0: no epoch or solver iteration ran, the model is its "
                "starting point (zero, or the warm start)", ConvergenceWarning,
                stacklevel=user_stacklevel())
        if solver == "sgd" and tol is not None and not converged and epochs > 0:
            warnings.warn(
                f"Maximum number of epochs ({epochs}) reached before the "
                f"{'held-out ' if best is not None else ''}loss stopped "
                f"improving by tol={tol}; increase max_iter or lr",
                ConvergenceWarning, stacklevel=user_stacklevel())
        if solver != "sgd":
            warn_unconverged(self.solver, losses, converged, epochs, self.tol,
                             "max_iter")
        self.validation_scores_ = None
        self.best_validation_score_ = None
        if best is not None:
            self.validation_scores_ = np.array(best["scores"])
            if best["state"] is not None:
                state = best["state"]
                self.best_validation_score_ = float(max(best["scores"]))
        self.classes_ = classes
        state.release()   # (its zero optimizer arrays: placeholders)
        self._set_state(state, dtype)
        self.n_iter_ = int(losses.shape[0])
        self.n_solver_iter_ = int(solver_iterations)
        self.solver_ = solver
        self.loss_curve_ = losses

    def _holdout_rows(self, y01, classes):
        """The number of rows ``early_stopping`` holds out of the class
        codes ``y01`` (of the labels ``classes``): :func:`holdout_rows`."""
        return holdout_rows(np.bincount(y01, minlength=classes.shape[0]), classes,
                            self.validation_fraction)

    def _validation_split(self, data, y01, sw, rng, n_val):
        """Stratified held-out split of ``n_val`` rows
        (:meth:`_holdout_rows`) for ``early_stopping``.

        Returns the training part ``(data, y01, sw)``, a factory
        ``monitor(state)`` for :func:`fastlr._sgd.sgd` (held-out mean
        log-loss of the state's model, lower is better; it records each
        epoch's score and keeps a copy of the best state) and the record.
        """
        X = data.X
        seed = int(rng.integers(np.iinfo(np.int32).max))
        train, val = stratified_holdout(y01, n_val, seed)
        # the held-out rows copied (scored every epoch), the training rows
        # not: a RowSubset trains on them as on their copy
        Xv, yv = Data(X[val]), y01[val]
        # CSR rows scored on the columns they store alone (the same losses):
        # each epoch's raw-space model is then made for those columns only
        cols, part = Xv.stored_part() if Xv.sparse else (None, None)
        if cols is not None and cols.shape[0] == Xv.n:
            cols = None
        swv = sw[val] if sw.shape[0] else sw
        denom = float(swv.sum()) if swv.shape[0] else float(val.shape[0])
        if denom <= 0.0 or (sw.shape[0] and not (sw[train] > 0).any()):
            raise ValueError("early_stopping: the held-out or training rows all "
                             "have weight zero; use early_stopping=False")
        best = {"scores": [], "loss": np.inf, "state": None}

        def make_monitor(state):
            def monitor():
                if cols is not None and not state.centers():
                    w, b = state.raw(cols=cols)
                    loss = part.loss_sum(yv, swv, w, b, state.softmax)
                else:
                    w, b = state.raw()
                    loss = Xv.loss_sum(yv, swv, w, b, state.softmax)
                return keep_best(best, state, loss / denom)
            return monitor

        return (RowSubset(data, train), y01[train], sw[train] if sw.shape[0] else sw,
                make_monitor, best)

    @unchanged_on_error
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of SGD on (X, y), continuing from the current weights.

        On the first call ``classes`` (every label; more than two give the
        multinomial model) is required.

        With ``standardize``, the column statistics are running ones: those
        of every row given to ``partial_fit`` so far (and to the ``fit``
        before, if any; a row given twice counts twice, which leaves means
        and variances of repeated passes unchanged). A ``fit`` with weights
        standardizes by the weighted statistics, and its rows join the
        running ones each counted by its weight relative to the mean
        weight of its rows of positive weight: they count as that many
        rows (a row of weight 0 as none), so the weights' scale, which
        ``fit`` ignores, changes nothing of the stream either. Each call first merges
        the chunk's statistics into them (Chan et al.'s pairwise update),
        then re-expresses the weights in the new standardization, which
        leaves every prediction unchanged, then runs the epoch. So the
        model does not depend on the first chunk's statistics: a column
        that happens to be constant in it is scaled by its spread as soon
        as a chunk shows one. A model loaded from a file written before
        running statistics existed keeps its standardization fixed.
        ``standardize`` set since the last call takes effect, the model
        re-expressed (see :meth:`fastlr._state.ModelState.follow`): "scale"
        stops centering (then sparse chunks can continue a model started on
        dense ones), False ends the standardization, True or "scale" on a
        model trained without standardization starts running statistics
        from this chunk; True on a model that only scales keeps scaling.

        Each call continues the training where the last one stopped, its
        whole optimizer state (L1's cumulative penalty, ``average``'s
        running mean, AdaGrad's sums, the step count) with it, where
        scikit-learn's ``partial_fit`` restarts its L1 and averaging state
        at each call; ``n_iter_`` adds one per call, and
        ``training_state_.steps[0]`` counts the steps, in batches. Each row
        moves the weights by ``lr / batch_size``: on a stream that drifts,
        the default constant step adapts about ``batch_size`` times more
        slowly than scikit-learn's with ``eta0=lr`` (raise ``lr`` or lower
        ``batch_size``); ``"invscaling"`` and ``"adagrad"``, whose steps
        shrink, adapt slowly, and ``average`` hardly at all; ``"adaptive"``
        is ``"constant"`` here (there is no ``tol``). At many classes
        each class's weights learn from about one row in k, so the default
        ``lr`` is slow there too: at 100 classes (50,000 x 50, chunks of
        5,000) one pass reached 28% held-out accuracy at ``lr=0.01``, 39%
        at ``lr=0.1`` (``SGDClassifier``'s defaults: 38%; the optimum
        42%), where at 2 classes ``0.01`` did best.

        The intercepts start at 0 (even odds) and the default step moves
        them slowly, so on an imbalanced stream a rare class is
        over-predicted for long: at 1:100 in chunks of 1,000 rows, after
        one pass over 21,000 rows the rare class's mean predicted
        probability was 0.149, 15 times its frequency (held-out log-loss
        0.177, ``fit``'s 0.039), and after 500,000 rows in chunks of
        10,000 still 1.5 times. A larger step fixes it there: after one
        pass 0.022 at ``lr=0.1`` (log-loss 0.051), 0.0097 at ``lr=1.0``
        (0.039), 0.0105 with ``learning_rate="optimal"`` (0.047). With
        k classes (five of 60 % down to 0.7 %, one pass over 28,000 rows in
        chunks of 2,000) the two rarest got 0.053 and 0.049 against
        frequencies 0.017 and 0.007 (log-loss 0.740, ``fit``'s 0.663);
        ``lr=0.1`` gave 0.020 and 0.011 (0.677), while ``lr=1.0`` (0.812)
        and ``"optimal"`` (2.36) did worse.

        Parameters
        ----------
        X : array_like, scipy.sparse matrix or dask collection of shape (m, n)
            The chunk of rows (on Dask: one parameter-mixing epoch over its
            blocks).
        y : array_like of shape (m,)
            Its labels, each one of ``classes``.
        classes : array_like or None
            Every label the stream holds (at least two; more than two give
            the multinomial model): required on the first call; afterwards
            None or the same classes.
        sample_weight : array_like of shape (m,) or None
            Non-negative per-row weights, times ``class_weight``'s dict
            weights (``"balanced"`` is refused: it needs every row at
            once); the running statistics stay unweighted.

        Returns
        -------
        self
        """
        validate_params(self)
        if is_dask(X):
            return _distributed().estimator_partial_fit(self, X, y, classes,
                                                        sample_weight)
        _refuse_dask_beside("train", y=y, sample_weight=sample_weight)
        (batch_size, _, lr, alpha, _, n_iter_no_change), options = self._params(1)
        learning_rate, power_t, l1_ratio, average_start = options
        if is_auto_alpha(alpha):   # (no call knows the stream's size)
            alpha = STREAM_ALPHA
        first = not hasattr(self, "classes_")
        resumed = not first   # continues the last fit's state
        X = numeric_input(X)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C",
                             reset=first or not hasattr(self, "n_features_in_"),
                             accept_sparse="csr", ensure_all_finite=False)
        # a standardizing call needs the chunk's statistics (its first, or
        # running ones): on dense X they come from the finiteness check's read
        data = _data(X, train=True, with_stats=bool(check_standardize(self.standardize)))
        # (the labels are classes, declared: no check of what y looks like,
        # whose "could represent a regression problem" warning a chunk of
        # many classes drew at every call; refuse_unseen below refuses a
        # label outside them, as SGDClassifier.partial_fit checks only them)
        classes = self._partial_fit_classes(classes, first)
        old = None if first else self._fitted_state()
        written = written_arrays(self.penalty, alpha, l1_ratio, learning_rate,
                                 average_start)
        if old is None:   # (classes_ alone: no model yet either)
            state = self._new_state(data, classes, written=written)
            # (its generator made below)
            resumed = False
        elif old is getattr(self, "training_state_", None):
            # a copy: a call that fails leaves the estimator as it was (the
            # optimizer arrays this call does not write, if zeros, shared)
            state = old.copy(rng=True, share=old.idle(written), kept=True)
            if not self.fit_intercept:   # (set since the last call: as fit's)
                state.drop_intercept()
        else:
            # from coef_ set by hand: standardized as a first chunk is
            if old.n_features != data.n:
                raise ValueError(f"X has {data.n} features, but coef_ has "
                                 f"{old.n_features}")
            state = self._continued(old, self._new_state(data, classes))
            resumed = False
        if data.sparse and state.scratch is None:
            # the stream's CSR table, kept from call to call
            state.scratch = Scratch()
        if not among_classes(y, classes):
            refuse_unseen(unique_labels(y), classes)
        y01 = self._encode(y, classes)
        sw = check_sample_weight(sample_weight, data.m)
        sw = self._class_weights(y01, classes, sw, fitting=False)
        if state.rng is None:
            # a stream's start (or coef_ set by hand): one generator for the
            # whole stream, so chunks are not all shuffled with the same
            # permutation; made once the chunk is checked, so that a call
            # refused leaves the caller's RandomState as it was
            state.rng = make_rng(self.random_state)
        if resumed:
            # the standardization as set now; the chunk's rows join the
            # running statistics (their first chunk made them)
            standardize = self._standardize_option(data.sparse, state)
            state.follow(standardize, data.centers(standardize),
                         data.row_moments,
                         check=data.check_state, rule=merge_finish,
                         start=lambda: self._new_state(data, classes),
                         stored=data.stored_moments if data.sparse else None)
        n_iter = self.n_iter_ if resumed else 0
        losses, _ = self._train(data, y01, sw, state, batch_size=batch_size,
                                epochs=1, lr=lr, shuffle=self.shuffle, rng=state.rng,
                                penalty=self.penalty, alpha=alpha,
                                epoch_loss="running", tol=None,
                                n_iter_no_change=n_iter_no_change,
                                first_epoch=n_iter, learning_rate=learning_rate,
                                power_t=power_t, l1_ratio=l1_ratio,
                                average_start=average_start)
        if first:
            self.classes_ = classes
        self._store_partial_fit(state, data.dtype, n_iter, losses, resumed, written)
        return self

    def _store_partial_fit(self, state, dtype, n_iter, losses, resumed, written):
        """The end of ``partial_fit`` (in memory or on Dask): the epoch's
        model, ``n_iter_`` (``n_iter`` epochs before it) and
        ``loss_curve_``. A model ``partial_fit`` starts (not ``resumed``:
        its first call, or from ``coef_`` set by hand) gets the report a
        ``fit`` leaves, as ``fit`` by SGD epochs leaves it; a resumed one
        keeps its last fit's. ``written``: the optimizer arrays the epoch
        wrote (:func:`fastlr._sgd.written_arrays`)."""
        # (an in-memory resumed call's copy shares the arrays its options do
        # not write, placeholders already; a Dask stream's resumed state
        # comes back with them full, as zeros; those it wrote are not read)
        state.release(written)
        self._set_state(state, dtype)
        self.n_iter_ = n_iter + 1
        self._extend_loss_curve(losses, resumed)
        if not resumed or getattr(self, "solver_", None) is None:
            # (resumed from a file that kept no report: its last training
            # is this one)
            self.solver_ = "sgd"
            self.n_solver_iter_ = 0
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _extend_loss_curve(self, losses, resumed):
        """Append ``losses`` to ``loss_curve_`` (to an empty curve unless
        ``resumed``) at a cost that does not grow with the curve:
        ``loss_curve_`` is a view of a buffer that grows by doubling (a
        stream rebuilt the whole curve at every ``partial_fit``: 3.2 ms a
        call after 10^6 calls, 9.9 ms after 10^7, against 0.9 ms). A curve
        read earlier keeps its values: what is appended lies beyond it; a
        curve set by hand (or loaded), or a buffer this estimator did not
        make (``copy.copy`` shares it: appending there would overwrite the
        other's last values), starts a new buffer. Pickles leave the spare
        room out (:meth:`__getstate__`). The curve is read-only (a view
        of the buffer, like the earlier curves)."""
        old = self.loss_curve_ if resumed else np.empty(0)
        n, add = old.shape[0], losses.shape[0]
        held = self.__dict__.get("_loss_buffer")
        if (held is not None and held[1] is old and held[2] == id(self)
                and n + add <= held[0].shape[0]):
            buf = held[0]
        else:
            buf = np.empty(max(2 * (n + add), 16))
            buf[:n] = old
        buf[n:n + add] = losses
        # read-only: an earlier curve is a view of the same buffer, so a
        # write into it (normalizing a kept curve for a plot) changed this
        # one; numpy refuses the write instead (copy it to change it)
        curve = buf[:n + add]
        curve.flags.writeable = False
        self.loss_curve_ = curve
        self._loss_buffer = (buf, self.loss_curve_, id(self))

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_loss_buffer", None)   # loss_curve_ alone, not its spare room
        return state

    def _set_state(self, state, dtype):
        """Keep the training state and derive ``coef_``, ``intercept_``
        (:class:`_Shown`: from float64 X, when first read). The state's
        generator becomes the model's own (:func:`fastlr._order.kept_rng`):
        every training (in memory, on Dask, from a file in parts) ends
        here."""
        state.rng = kept_rng(state.rng, self.random_state)
        self.training_state_ = state
        for name in _Shown.NAMES:
            self.__dict__.pop(name, None)
        self._shown = _State(state, dtype, eager=np.dtype(dtype) != np.float64)

    # -------------------------------------------------------------- predict

    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array_like, scipy.sparse matrix, dask array or dask DataFrame \
of shape (m, n_features_in_)
            The rows to predict (a dask collection: computed blockwise,
            the result a dask array).

        Returns
        -------
        ndarray of shape (m,) for two classes, (m, k) for k > 2
            Column ``c`` scores ``classes_[c]``.
        """
        if is_dask(X):   # a dask array, computed blockwise
            check_is_fitted(self)
            return _distributed().decision_function(self, X)
        z = self._decision(X)
        return z[:, 0] if z.shape[1] == 1 else z

    def _decision(self, X, link="logits"):
        """(m, k) logits of in-memory X through ``link`` (see
        :meth:`fastlr._dispatch.Data.decision`): one read of X, which also
        checks it finite."""
        check_is_fitted(self)
        X = numeric_input(X)
        # any layout: a DataFrame's Fortran-ordered array is not copied whole
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False,
                          accept_sparse="csr", ensure_all_finite=False)
        coef, intercept = self._checked_model(X.shape[1])
        data = as_data(X, check=False, any_layout=True)
        # in the dtype of X @ coef_.T (float32 X, float64 model: float64)
        return data.decision(coef, intercept, link=link, dtype=coef.dtype)

    def _checked_model(self, n=None, doing="predicting", intercept=None):
        """``(coef_, intercept_)`` as arrays (``intercept`` in place of
        ``intercept_`` when given), refused naming them unless of the shapes
        fit gives for X of ``n`` features (any number when None) and its
        classes, ``doing`` saying what needs them: a model set by hand
        (NumPy's reshape message named neither, and on Dask a wrong width
        went through)."""
        k = len(self.classes_)
        rows = k if k > 2 else 1
        coef = np.asarray(self.coef_)
        intercept = np.ravel(self.intercept_ if intercept is None else intercept)
        if coef.ndim != 2 or coef.shape[0] != rows or n not in (None, coef.shape[1]):
            of = "" if n is None else f" of X with {n} features"
            raise ValueError(f"coef_ has shape {coef.shape}; {doing} {k} classes{of} "
                             f"needs ({rows}, {'n_features' if n is None else n})")
        if intercept.shape != (rows,):
            raise ValueError(f"intercept_ has shape {intercept.shape}; {doing} "
                             f"{k} classes needs ({rows},)")
        return coef, intercept

    def predict_proba(self, X):
        """Class probabilities (sigmoid for two classes, stable softmax for
        more).

        Parameters
        ----------
        X : array_like, scipy.sparse matrix, dask array or dask DataFrame \
of shape (m, n_features_in_)
            The rows to predict (a dask collection: computed blockwise,
            the result a dask array).

        Returns
        -------
        ndarray of shape (m, k)
            Columns in ``classes_`` order, in the dtype of ``X @ coef_.T``
            (float32 only for float32 X and a float32 model).
        """
        if is_dask(X):
            check_is_fitted(self)
            return _distributed().predict_proba(self, X)
        return self._decision(X, "softmax" if len(getattr(self, "classes_", ())) > 2
                              else "proba")

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed from the logits (the
        log-sigmoid for two classes, the log-softmax for more), so that it is
        finite wherever the logits are: ``log(predict_proba)`` is ``-inf``
        once a probability rounds to 0 (a logit beyond about 37 for two
        classes, in float64), as scikit-learn's is. Agrees with
        ``log(predict_proba)`` to rounding where no probability is near 0,
        and is the more accurate where one is: for two classes
        ``predict_proba``'s first column is ``1 - p`` (as scikit-learn's),
        exact to rounding of 1 only (at a logit of 32.5 it gives 7.77e-15
        for 7.79e-15). For two classes it is computed in the pass that
        computes the logits (the kernels' ``"log_proba"`` link,
        :meth:`fastlr._dispatch.Data.decision`).

        Parameters
        ----------
        X : array_like, scipy.sparse matrix, dask array or dask DataFrame \
of shape (m, n_features_in_)
            The rows to predict (a dask collection: computed blockwise,
            the result a dask array).

        Returns
        -------
        ndarray of shape (m, k)
            As :meth:`predict_proba`'s.
        """
        if len(getattr(self, "classes_", ())) <= 2:
            if is_dask(X):
                check_is_fitted(self)
                return _distributed().decision_function(self, X, "log_proba")
            return self._decision(X, "log_proba")
        z = self.decision_function(X)
        if is_dask(z):
            return z.map_blocks(_log_softmax, dtype=z.dtype,
                                meta=np.empty((0, 0), z.dtype))
        return _log_softmax(z)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on (X, y).

        Parameters
        ----------
        X : array_like, scipy.sparse matrix or dask collection of shape \
(m, n_features_in_)
        y : array_like of shape (m,)
            The true labels.
        sample_weight : array_like of shape (m,) or None
            Weights of the rows in the mean.

        Returns
        -------
        float
            On Dask collections computed blockwise; X of unknown chunk
            sizes (``X[mask]``) is scored when y (and ``sample_weight``) is
            a dask collection of as many row blocks (``y[mask]``), paired
            with X's one to one.
        """
        if is_dask(X):
            check_is_fitted(self)
            return _distributed().score(self, X, y, sample_weight)
        _refuse_dask_beside("score", y=y, sample_weight=sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted labels: for two classes ``classes_[1]`` where the logit
        is positive, else the class of the largest logit.

        Parameters
        ----------
        X : array_like, scipy.sparse matrix, dask array or dask DataFrame \
of shape (m, n_features_in_)
            The rows to predict (a dask collection: computed blockwise,
            the result a dask array).

        Returns
        -------
        ndarray of shape (m,)
            Labels from ``classes_``, of its dtype.
        """
        if is_dask(X):
            check_is_fitted(self)
            return _distributed().predict(self, X)
        z = self.decision_function(X)
        if z.ndim == 2:
            return self.classes_[z.argmax(axis=1)]
        return self.classes_[(z > 0).astype(np.intp)]


def validate_params(model):
    """Check a :class:`LogisticRegression`'s parameters as ``fit`` does:
    TypeError or ValueError naming the first bad one. ``fit``,
    ``partial_fit``, :func:`fastlr.save` and :func:`fastlr.load` all check
    with it, so a file ``save`` writes is one ``load`` reads."""
    model._params(model.max_iter, unused=False)
    check_verbose(model.verbose)
    check_random_state(model.random_state)


def _log_softmax(z):
    """Each row's log-softmax ``z - max - log(sum exp(z - max))`` of the
    logits ``z`` (m, k). In float64, returned in the logits' dtype. A row
    whose largest logit is infinite (they overflowed) puts its mass evenly
    on its largest entries, as :meth:`predict_proba` does. Computed in
    place in one float64 copy, a block of about 65,000 entries at a
    time (it held four arrays of z's size: 4.2x the output at its peak)."""
    z = np.asarray(z)
    out = np.array(z, dtype=np.float64)
    step = max(1, (1 << 16) // max(out.shape[1], 1))
    for lo in range(0, out.shape[0], step):
        b = out[lo:lo + step]
        top = b.max(axis=1, keepdims=True)
        inf = np.isinf(top[:, 0])
        hit = b[inf] == top[inf]
        top[inf] = 0.0
        b -= top
        with np.errstate(invalid="ignore", divide="ignore"):
            b -= np.log(np.exp(b).sum(axis=1, keepdims=True))
        if inf.any():   # z - top is NaN or -inf at the infinite maxima
            with np.errstate(divide="ignore"):
                b[inf] = np.where(hit, -np.log(hit.sum(axis=1, keepdims=True)),
                                  -np.inf)
    return out.astype(z.dtype, copy=False)


def _distributed():
    """:mod:`fastlr.distributed`, imported when a Dask collection arrives
    (dask is optional)."""
    from . import distributed

    return distributed


def _refuse_dask_beside(what, **arrays):
    """A TypeError for a dask collection among ``arrays`` (y,
    ``sample_weight``) beside an in-memory X, which decides where the call
    runs: one rule for both (y was computed silently, a dask
    ``sample_weight`` refused with advice to call the method called)."""
    for name, a in arrays.items():
        if is_dask(a):
            raise TypeError(
                f"{name} is a dask collection but X is in memory, and X decides "
                f"where this runs: pass X as a dask array or DataFrame to {what} "
                f"on the cluster, or {name}.compute() if it fits in memory")


def _data(X, check=True, train=False, with_stats=False):
    """X after ``validate_data(..., ensure_all_finite=False)`` (float, C
    order or CSR) as the kernels take it: sparse X canonicalized (sorted
    indices, no duplicates, on a copy), checked finite by fastlr's pass,
    whose error names the first bad row and column, as ``fit``'s does
    (``check=False``: :meth:`fastlr._dispatch.Data.decision` checks it,
    only if a logit is not finite; ``train``, ``with_stats``: see
    :func:`fastlr._dispatch.as_data`)."""
    return as_data(X, check=check, train=train, with_stats=with_stats)


def holdout_rows(counts, classes, fraction):
    """The number of rows ``early_stopping`` holds out of rows whose
    classes ``classes`` have ``counts`` rows each: ``fraction``
    (``validation_fraction``) of them, and at least one of each class, so
    that small data still splits. A class of a single row is refused
    (:func:`fastlr._validation.refuse_single_row_held_out`), and any other
    split that scikit-learn's ``StratifiedShuffleSplit`` refuses (for any
    seed), before a seed is drawn: the rule of the in-memory fit, which
    the fit on Dask (whose split is its own, block by block) refuses by
    too."""
    counts = np.asarray(counts)
    refuse_single_row_held_out(classes, counts, fraction)
    n_val = max(int(np.ceil(fraction * int(counts.sum()))), np.count_nonzero(counts))
    try:
        check_holdout(counts, n_val)
    except ValueError as exc:
        raise ValueError(
            f"validation_fraction={fraction} leaves too few rows to hold out "
            f"every class or to train on ({exc}); use more data, another "
            "validation_fraction or early_stopping=False") from None
    return n_val


def class_holdout_counts(counts, n_val):
    """The rows of each class to hold out, ``n_val`` in all (from
    :func:`holdout_rows`), of classes of ``counts`` rows: each class's
    share ``n_val * count / m`` rounded down, then at least one row and at
    most all but one of each class of two rows or more (none of a single
    row, which :func:`holdout_rows` refuses first), then rows added to (or
    taken from) the classes whose share is furthest above (below) their
    count, the first such class first, until the total is ``n_val``. The
    Dask fit's split (``fastlr.distributed``), and the in-memory one's
    where scikit-learn's rounding leaves a class out of one side
    (:func:`stratified_holdout`); :func:`holdout_rows` checked that it
    fits (``m - n_val`` rows left, one of each class)."""
    counts = np.asarray(counts, dtype=np.int64)
    ok = counts >= 2
    share = n_val * counts / max(int(counts[ok].sum()), 1)
    lo, hi = np.where(ok, 1, 0), np.where(ok, counts - 1, 0)
    held = np.clip(np.floor(share).astype(np.int64), lo, hi)
    while held.sum() < n_val and (held < hi).any():
        held[np.argmax(np.where(held < hi, share - held, -np.inf))] += 1
    while held.sum() > n_val and (held > lo).any():
        held[np.argmin(np.where(held > lo, share - held, np.inf))] -= 1
    return held


def check_holdout(counts, n_val):
    """Refuse a held-out split of ``n_val`` rows of rows whose classes have
    ``counts`` rows each (``np.bincount`` of their class codes) that
    scikit-learn's ``StratifiedShuffleSplit`` refuses (too many or too few
    rows held out, a class of one row): its own ValueError, whatever the
    seed, so that a caller checks before it draws one. Returns
    ``(present, counts, fits)``: the classes present, their row counts,
    and whether the split fits (False only if scikit-learn did not refuse
    it after all)."""
    from sklearn.model_selection import StratifiedShuffleSplit

    present = np.flatnonzero(counts)
    counts = np.asarray(counts)[present]
    m = int(counts.sum())
    k = present.shape[0]
    fits = bool(0 < n_val < m and counts.min() >= 2 and m - n_val >= k and n_val >= k)
    if not fits:   # (its checks do not depend on the seed, nor on the rows' order)
        split = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=0)
        next(split.split(np.zeros((m, 1)), np.repeat(present, counts)))
    return present, counts, fits


def stratified_holdout(codes, n_val, seed):
    """``(train, held_out)``, sorted: the rows scikit-learn's
    ``StratifiedShuffleSplit(n_splits=1, test_size=n_val,
    random_state=seed)`` splits the class codes ``codes`` into, computed
    as it computes them (its draws from ``RandomState(seed)``, in its
    order) without its Python lists of row numbers (on 500,000 rows its
    split took 100 ms, 60 of them in those lists); its last draws only
    shuffle the two sets, which are sorted here. Input it refuses raises
    its ValueError (:func:`check_holdout`). One exception: where its
    rounding leaves a class no held-out row or no training row (classes of
    3 and 97 rows, 10 held out: none of the first), the rows of each class
    are :func:`class_holdout_counts`' (the Dask fit's), so that every class
    is held out and trained on, as ``early_stopping`` promises; the rows
    drawn within each class are drawn as before.
    """
    from sklearn.model_selection import StratifiedShuffleSplit
    from sklearn.utils import check_random_state as sk_random_state

    try:   # (private: a scikit-learn without it gets its own split, slower)
        from sklearn.utils.extmath import _approximate_mode
    except ImportError:
        _approximate_mode = None
    m = codes.shape[0]
    present, counts, fits = check_holdout(np.bincount(codes), n_val)
    n_train = m - n_val
    if _approximate_mode is None or not fits:
        split = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        train, val = next(split.split(np.zeros((m, 1)), codes))
        return np.sort(train), np.sort(val)
    rs = sk_random_state(seed)
    n_i = _approximate_mode(counts, n_train, rs)
    t_i = _approximate_mode(counts - n_i, n_val, rs)
    if not (n_i.all() and t_i.all()):
        t_i = class_holdout_counts(counts, n_val)
        n_i = counts - t_i
    train, val = [], []
    for c, count, a, b in zip(present, counts, n_i, t_i, strict=True):
        rows = np.flatnonzero(codes == c).take(rs.permutation(count), mode="clip")
        train.append(rows[:a])
        val.append(rows[a:a + b])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _find_class(ordered, order, label):
    """The index of the class equal to ``label`` (``ordered``: the classes
    sorted, ``classes[order]``), or None. A label that does not sort with
    the classes (an int among object strings) is compared with each."""
    try:
        at = int(np.searchsorted(ordered, label))
    except TypeError:
        hits = np.flatnonzero(ordered == label)
        return int(order[hits[0]]) if len(hits) else None
    return int(order[at]) if at < len(ordered) and ordered[at] == label else None


def _comparable(label, classes):
    """Whether ``label`` can be compared with the (numeric or string) classes."""
    if classes.dtype.kind in "biuf":
        return isinstance(label, numbers.Real | np.bool_)
    return isinstance(label, str | np.str_) or classes.dtype.kind == "O"
