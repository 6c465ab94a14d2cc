"""Cross-validated choice of the penalty strength, every candidate of every
fold trained from one pass over the data per epoch or solver iteration.

:class:`LogisticRegressionCV` validates its parameters and the folds, runs
the joint run of :func:`fastlr.train_many` (every model of every fold and
candidate computed while a chunk of rows is in cache: SGD epochs, and with
the solver the lockstep L-BFGS runs of :func:`fastlr._train.finish_stack`),
scores the models on their held-out folds, picks the strength and refits
with :class:`fastlr.LogisticRegression`, whose prediction methods it shares.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params, validate_data

from ._driver import (
    DivergedError,
    check_optimal_alpha,
    step_advice,
    warn_weight_scale,
)
from ._order import make_rng
from ._progress import epoch_progress
from ._solver import STOPPED_EARLY
from ._validation import (
    MAX_FOLDS,
    check_grid,
    check_sample_weight,
    check_standardize,
    check_weighted_rows,
    is_dask,
    numeric_input,
    refuse_one_class,
    single_row_classes,
    standardize_option,
    target_classes,
    unchanged_on_error,
    user_stacklevel,
    weights_name,
)
from .core import _run_many, check_grid_memory, grid_written
from .estimator import LogisticRegression, _data

__all__ = ["ALPHA_RANGE", "LogisticRegressionCV"]

#: ``alphas=A`` (an int) is A strengths ``1 / (C * n_samples)`` for C
#: log-spaced over this range: scikit-learn's ``Cs=A`` grid, from the
#: strongest penalty to the weakest.
ALPHA_RANGE = (1e-4, 1e4)



class LogisticRegressionCV(ClassifierMixin, BaseEstimator):
    """Logistic regression with the penalty strength chosen by
    cross-validation, every fold and candidate trained in one pass.

    The estimator of :class:`fastlr.LogisticRegression`, for a grid of
    penalty strengths ``alphas`` (and elastic-net mixings ``l1_ratios``)
    and the folds of ``cv``. Where scikit-learn's ``LogisticRegressionCV``
    solves ``len(Cs) x n_folds`` problems one after the other, each
    reading the data many times, here the K = n_folds x n_l1_ratios x
    n_alphas models are trained together: each pass reads each chunk of
    rows once and computes every model that trains on it, and scores it for
    the models that hold it out. With the default ``solver="auto"`` each
    model is the optimum of its objective on its training rows, found by
    its own L-BFGS run (after one joint SGD epoch for the strongest
    alpha's), each fold's runs from the strongest alpha to the weakest,
    each starting at the optimum before it (a warm-started path, as
    scikit-learn's), the folds' runs in lockstep (a model that has
    converged costs nothing more); with ``solver="sgd"``
    each model is exactly the model :func:`fastlr.train` (or
    :func:`fastlr.train_multinomial`) gives on its training rows
    (``rows``) with the same options and ``random_state`` (bit for bit, or
    equal to rounding, 1e-12 relative, for two-class models on dense X,
    whose sums the joint run takes in another order, on CSR X with an
    L2 penalty or none, and on CSR X for ``l1_ratios`` 0 and 1 (and
    ``alpha`` 0) beside mixed ones: see :func:`fastlr.train_many`), and
    stops when its
    held-out loss has not improved by ``tol`` for ``n_iter_no_change``
    epochs. The strength with
    the best mean score over the folds is then refitted on all rows
    (``refit=True``): that refit is ``LogisticRegression(alpha=alpha_,
    l1_ratio=l1_ratio_, ...)`` with the other parameters of this estimator,
    one more training run (with ``solver="auto"`` or ``"lbfgs"`` started
    from the mean of the folds' models of ``alpha_``: the same optimum to
    ``tol``, not the same coefficients as a fit from zero; pass a smaller
    ``tol`` where they matter).

    Binary and k-class (softmax) models, dense and sparse X, float32 and
    float64, ``sample_weight`` and ``class_weight`` work as in
    :class:`fastlr.LogisticRegression`; dense epochs run on numba's threads
    (``numba.set_num_threads``), with results identical for any count.

    Parameters
    ----------
    alphas : int or array_like of shape (n_alphas,), default 10
        The penalty strengths to choose from (``alpha`` of
        :class:`fastlr.LogisticRegression`: the objective is ``mean log-loss
        + alpha * penalty`` on the standardized features). A list: those
        values, each finite and >= 0, in that order. An int A >= 1: A values
        ``1 / (C * n_samples)`` for C log-spaced over
        :data:`ALPHA_RANGE` (1e-4 to 1e4), ``n_samples`` being the rows
        given to ``fit`` (with ``sample_weight`` or ``class_weight``, their
        total weight, as ``C`` multiplies the weighted sum of losses; so a
        weight of 2 is a row given twice): scikit-learn's ``Cs=A`` grid,
        strongest penalty first (so ties go to the simpler model; with the
        default ``scoring``, mean log-losses within a relative 1e-9 of the
        best tie, as the solver finds models equal in theory, along a path,
        to its rounding: 5e-14 apart on data without signal; a ``scoring``'s
        scores tie only when equal). ``alpha`` weighs the
        penalty against the *mean* loss, so it means the same on a fold's
        training rows as on all rows: each fold model minimizes ``mean
        log-loss + alpha * penalty`` over its training rows (as glmnet's
        ``cv.glmnet`` and ``GridSearchCV`` over ``SGDClassifier`` do), and
        the refit at ``alpha_`` solves scikit-learn's objective at ``C =
        1 / (alpha_ * n_samples)`` (``n_samples`` as above).
        scikit-learn's ``LogisticRegressionCV`` keeps ``C`` (a sum of
        losses) instead, so its fold model on
        ``n_train`` rows solves this ``alpha`` times ``n_samples /
        n_train`` (5/4 with ``cv=5``); where held-out scores are close the
        two can choose neighbouring strengths.
    l1_ratios : array_like of shape (n_l1_ratios,) or None, default None
        Elastic-net mixings in [0, 1] to choose from (only with
        ``penalty="elasticnet"``); None: ``[0.15]``. Candidates whose
        scores tie (see ``alphas``) go to the first in ``alphas`` order, then in this
        order (scikit-learn's rule over its ``Cs`` and ``l1_ratios``).
    cv : int, cross-validation splitter, iterable or None, default None
        The folds, at most 127 (the joint pass keeps each row's fold in an
        int8; so ``LeaveOneOut`` only on at most 127 rows). None: 5. An int
        F from 2 to 127: scikit-learn's ``StratifiedKFold(F)`` (no
        shuffling), the folds of scikit-learn's ``LogisticRegressionCV``; F
        may not exceed the smallest class's row count (nor may the
        ``n_splits`` of a ``StratifiedKFold``; with a class of a single row
        no stratified folds can be: use a splitter that does not stratify,
        such as ``KFold(5, shuffle=True, random_state=0)``, or drop or
        merge such classes). A splitter (``KFold``,
        ``GroupKFold``, ...; ``groups`` is passed to its ``split``, with
        metadata routing on as it requests it) or an iterable of ``(train, test)`` index
        arrays: the test sets must be disjoint and each split must train on
        every row outside its test set, since the joint pass gives each row
        one fold (rows in no test set are trained on by every model).
        Splitters whose test sets overlap (``ShuffleSplit``, repeated
        k-fold) or whose training sets leave rows out (``TimeSeriesSplit``)
        are refused.
    scoring : None, str or callable, default None
        How a model is scored on its held-out fold; higher is better.
        None: minus the held-out log-loss (cross-entropy for k classes),
        weighted by ``sample_weight`` times ``class_weight``, which the
        passes compute for free: with the solver, of the final model;
        with ``solver="sgd"``, in the model's last epoch, each held-out row
        scored at the weights in force when the pass reached it (with
        ``average``, the iterates, not the averaged model). A
        scikit-learn scorer name (``"neg_log_loss"``, ``"accuracy"``,
        ``"roc_auc"``, ...) or a callable ``scorer(estimator, X, y)``: the
        final model of each fold and candidate scored on a copy of its
        held-out rows (with ``sample_weight=`` the rows' sample weights
        when ``fit`` was given some), as in scikit-learn; with metadata
        routing on (``sklearn.set_config(enable_metadata_routing=True)``),
        as there, the scorer gets the held-out part of the metadata it
        requests (``scorer.set_score_request(sample_weight=True)``; an
        unset request for metadata passed to ``fit`` raises
        ``UnsetMetadataPassedError``), the training still weighted. As
        there, a
        metric that takes ``labels`` is given every class (a fold may hold
        out one class only) and, for two classes, ``pos_label`` the second
        one of ``classes_``.
    refit : bool, default True
        True: choose the candidate with the best mean score over the folds
        and train it on all rows (``coef_`` is that model). False: as
        scikit-learn, take each fold's best candidate and average their
        models' raw-space coefficients and intercepts; ``alpha_`` and
        ``l1_ratio_`` are then the means of the chosen values.
    lr : float, default 0.01
        As in :class:`fastlr.LogisticRegression` (the SGD step), for every
        model.
    batch_size : int, default 32
        As in :class:`fastlr.LogisticRegression`, for every model.
    max_iter : int, default 1000
        As in :class:`fastlr.LogisticRegression` (>= 1): bounds the passes
        of each cross-validation model and of the refit.
    tol : float or None, default 1e-4
        As in :class:`fastlr.LogisticRegression`, for every model; with
        ``solver="sgd"`` it stops each cross-validation model on its
        held-out loss (the refit on its training loss).
    n_iter_no_change : int, default 5
        As in :class:`fastlr.LogisticRegression`, for every model.
    penalty : {"l2", "l1", "elasticnet"}, default "l2"
        As in :class:`fastlr.LogisticRegression`, for every model; not None,
        which would leave nothing to choose.
    standardize : {"auto", True, False, "scale"}, default "auto"
        As in :class:`fastlr.LogisticRegression`, for every model.
    shuffle : {True, False, "blocks", "rows"}, default True
        As in :class:`fastlr.LogisticRegression`, for every model.
    random_state : None, int, numpy Generator or RandomState, default None
        As in :class:`fastlr.LogisticRegression` (seeds the shuffling), for
        every model.
    verbose : int, default 0
        As in :class:`fastlr.LogisticRegression`: a progress bar for the
        joint pass and the refit.
    learning_rate : {"constant", "invscaling", "adaptive", "adagrad", \
"optimal"}, default "constant"
        As in :class:`fastlr.LogisticRegression`, for every model
        (``"optimal"``: each model's step from its own ``alpha``).
    power_t : float, default 0.5
        As in :class:`fastlr.LogisticRegression`, for every model.
    average : bool or int, default False
        As in :class:`fastlr.LogisticRegression`, for every model.
    early_stopping : bool, default False
        As in :class:`fastlr.LogisticRegression`, for the refit only (the
        cross-validation models already stop on their held-out folds); a
        held-out split it refuses is refused before the grid trains.
    validation_fraction : float, default 0.1
        As in :class:`fastlr.LogisticRegression`, for the refit's
        ``early_stopping`` only.
    class_weight : dict, "balanced" or None, default None
        As in :class:`fastlr.LogisticRegression`, for every model: a dict
        label that is not a class of ``y`` is ignored when the dict names
        every class (scikit-learn's ``LogisticRegressionCV`` refuses it;
        here the rule is the estimator's, so that the search can itself be
        cross-validated on splits that lack a class).
    fit_intercept : bool, default True
        As in :class:`fastlr.LogisticRegression`, for every model.
    solver : {"auto", "lbfgs", "sgd"}, default "auto"
        As in :class:`fastlr.LogisticRegression`, for the cross-validation
        models and the refit alike, so that the strength is chosen for the
        kind of model that is refitted. ``"auto"`` and ``"lbfgs"``: each
        fold model is the optimum of its objective on its training rows, as
        in scikit-learn's ``LogisticRegressionCV`` (``"auto"``: one joint SGD
        epoch of the first model of each path below, in batches of at least
        256 rows, then an L-BFGS run per model; ``"lbfgs"``: the runs
        without the epoch). Each
        fold (and l1_ratio) is a path run strongest alpha first, each model
        from the optimum of the one before it (the first from its epoch's
        model, or zero), as scikit-learn's ``LogisticRegressionCV`` warm
        starts along ``Cs``: the weak strengths, slow to reach from zero on
        nearly separable data, start close to their optima. The paths go
        in lockstep, each pass over the data computing the loss and
        gradient of every model of the stage still running (dense or CSR);
        ``max_iter`` bounds each model's epochs and iterations together
        (``n_iter_`` counts a model's from its warm start). The refit then starts
        from the mean of the folds' models of the chosen strength (as
        scikit-learn's does), not from zero. ``"sgd"``: the fold models are
        the SGD runs of the joint pass (``tol`` stops each on its held-out
        loss), and the refit is SGD too. With ``early_stopping``,
        ``"auto"`` is ``"sgd"`` (as for :class:`fastlr.LogisticRegression`).

    Attributes
    ----------
    alphas_ : ndarray of shape (n_alphas,)
        The strengths tried.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The mixings tried: ``[0.0]`` for ``penalty="l2"``, ``[1.0]`` for
        ``"l1"`` (what they amount to).
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas)
        Each model's score on its held-out fold (see ``scoring``), higher
        is better (minus the log-loss by default), as scikit-learn's
        ``scores_`` with ``use_legacy_attributes=False``. ``-inf`` for a
        model whose training diverged (its loss exploded: see
        :class:`fastlr.DivergedError`; the joint run raises it only when
        every model diverges), so that it is never chosen.
    alpha_ : float
        The chosen strength (mean of the folds' choices with
        ``refit=False``).
    l1_ratio_ : float
        The chosen mixing (0.0 for ``"l2"``, 1.0 for ``"l1"``).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The final model in raw feature space, dtype of X.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas, \
n_rows, n_features + fit_intercept)
        Every cross-validation model in raw feature space, its intercept in
        the last column (when ``fit_intercept``); ``n_rows`` is 1 for two
        classes, n_classes for more. dtype of X; NaN for a model whose SGD
        diverged (scored -inf, never chosen).
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_alphas)
        Passes each cross-validation model ran: SGD epochs, plus solver
        iterations with ``"auto"`` and ``"lbfgs"``.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int

    Notes
    -----
    Model files (:func:`fastlr.save`) hold :class:`fastlr.LogisticRegression`
    models only, and refuse this estimator; to keep the chosen model,
    save ``LogisticRegression(alpha=cv.alpha_, ...)`` fitted on the data.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from fastlr import LogisticRegressionCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegressionCV(alphas=8, cv=5, random_state=0).fit(X, y)
    >>> clf.scores_.shape, clf.coef_.shape
    ((5, 1, 8), (1, 30))
    >>> bool(clf.alpha_ in clf.alphas_), clf.score(X, y) > 0.97
    (True, True)
    """

    _doc_link_module = "fastlr"
    _doc_link_template = "https://pypi.org/project/fastlr-numba/{version}/"
    _doc_link_url_param_generator = LogisticRegression._doc_link_url_param_generator
    # groups is the cv splitter's (routed by its split request), not this
    # estimator's, as for scikit-learn's LogisticRegressionCV
    __metadata_request__fit = {"groups": UNUSED}

    def __init__(self, alphas=10, l1_ratios=None, cv=None, scoring=None, refit=True,
                 lr=0.01, batch_size=32, max_iter=1000, tol=1e-4,
                 n_iter_no_change=5, penalty="l2", standardize="auto", shuffle=True,
                 random_state=None, verbose=0, learning_rate="constant",
                 power_t=0.5, average=False, early_stopping=False,
                 validation_fraction=0.1, class_weight=None, fit_intercept=True,
                 solver="auto"):
        self.alphas = alphas
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.lr = lr
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.penalty = penalty
        self.standardize = standardize
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.average = average
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.fit_intercept = fit_intercept
        self.solver = solver

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -------------------------------------------------------------- checks

    def _model(self, alpha, l1_ratio, solver=None):
        """The :class:`fastlr.LogisticRegression` of one candidate: this
        estimator's parameters with ``alpha`` and ``l1_ratio`` (and
        ``solver``, if given: the joint pass's models are SGD's)."""
        known = LogisticRegression().get_params()
        # a parameter LogisticRegression has and this estimator lacks keeps
        # LogisticRegression's default
        shared = {name: value for name, value in self.get_params(deep=False).items()
                  if name in known}
        if solver is not None:
            shared["solver"] = solver
        return LogisticRegression(alpha=alpha, l1_ratio=l1_ratio, **shared)

    def _check_params(self):
        """Everything checkable without the data, before anything runs:
        ``(train_params, sgd_options, scorer)``."""
        self._model(0.0, 0.15)._solver_plan()   # the refit's solver is known
        params, options = self._model(0.0, 0.15, "sgd")._params(self.max_iter,
                                                                unused=False)
        if self.penalty is None:
            raise ValueError("penalty=None leaves no strength to choose; use "
                             "'l2', 'l1' or 'elasticnet' (or fastlr."
                             "LogisticRegression for an unpenalized model)")
        if params[1] < 1:
            raise ValueError(f"max_iter must be at least 1 for cross-validation, "
                             f"got {self.max_iter}")
        if not isinstance(self.refit, bool | np.bool_):
            raise TypeError(f"refit must be True or False, got {self.refit!r}")
        a = self.alphas
        if isinstance(a, numbers.Integral) and not isinstance(a, bool | np.bool_):
            if a < 1:
                raise ValueError(f"alphas must be an int >= 1 (that many strengths) "
                                 f"or a list of strengths, got {a}")
        elif isinstance(a, bool | np.bool_ | str):
            raise TypeError(f"alphas must be an int >= 1 or a list of strengths, "
                            f"got {a!r}")
        elif isinstance(a, numbers.Real):
            raise ValueError(f"alphas must be an int >= 1 (that many strengths) "
                             f"or a list of strengths, got {a!r} (one strength: "
                             f"[{a!r}])")
        else:
            # (an int's grid is above 0)
            check_optimal_alpha(self.learning_rate, self.penalty,
                                check_grid(a, "alphas"))
        self._l1_grid()
        self._cv_int()
        return params, options, self._scorer()

    def _alpha_grid(self, n_samples):
        a = self.alphas
        if isinstance(a, numbers.Integral):
            lo, hi = ALPHA_RANGE
            Cs = np.logspace(np.log10(lo), np.log10(hi), int(a))
            with np.errstate(over="ignore", divide="ignore"):
                grid = 1.0 / (Cs * n_samples)
            if not ((grid > np.finfo(np.float64).tiny) & np.isfinite(grid)).all():
                raise ValueError(
                    f"alphas={a}: the grid 1 / (C * {n_samples:.3g}), the rows' "
                    "total weight, leaves float64's normal range; scale "
                    "sample_weight (or class_weight) toward 1, or pass a list "
                    "of alphas")
            return grid
        return check_grid(a, "alphas")

    def _l1_grid(self):
        """``(l1_ratios passed to the joint run, l1_ratios_)``."""
        if self.penalty != "elasticnet":
            if self.l1_ratios is not None:
                raise ValueError(f"l1_ratios only applies to penalty='elasticnet', "
                                 f"got penalty={self.penalty!r}")
            return np.array([0.15]), np.array([1.0 if self.penalty == "l1"
                                                else 0.0])
        grid = check_grid([0.15] if self.l1_ratios is None else self.l1_ratios,
                          "l1_ratios", upper=1.0)
        return grid, grid

    def _cv_int(self):
        """The number of folds when ``cv`` is None or an int, else None."""
        cv = self.cv
        if cv is None:
            return 5
        if isinstance(cv, bool | np.bool_ | str):
            raise TypeError(f"cv must be an int, a cross-validation splitter or an "
                            f"iterable of (train, test) splits, got {cv!r}")
        if isinstance(cv, numbers.Integral):
            if not 2 <= cv <= MAX_FOLDS:
                raise ValueError(f"cv must be between 2 and {MAX_FOLDS} folds, "
                                 f"got {cv}")
            return int(cv)
        if not (hasattr(cv, "split") or hasattr(cv, "__iter__")):
            raise TypeError(f"cv must be an int, a cross-validation splitter or an "
                            f"iterable of (train, test) splits, got {cv!r}")
        return None

    def _scorer(self):
        s = self.scoring
        if s is None:
            return None
        if isinstance(s, str):
            from sklearn.metrics import get_scorer

            try:
                return get_scorer(s)
            except ValueError:
                raise ValueError(
                    f"scoring={s!r} is not a scikit-learn scorer name; use None "
                    "(the held-out log-loss of the pass), a name of "
                    "sklearn.metrics.get_scorer_names() such as 'neg_log_loss', "
                    "'accuracy' or 'roc_auc', or a callable scorer(estimator, X, "
                    "y)") from None
        if callable(s):
            return s
        raise TypeError(f"scoring must be None, a scorer name or a callable "
                        f"scorer(estimator, X, y), got {s!r}")

    def _folds(self, X, y, codes, classes, split_params):
        """``row_fold`` (m,) int8: each row's test fold, 1..F (0: in no test
        set), after checking that the splits can share one pass; ``codes``
        index the labels ``classes``; ``split_params``: the splitter's
        metadata (``groups``)."""
        from sklearn.model_selection import StratifiedKFold, check_cv

        m = codes.shape[0]
        F = self._cv_int()
        # stratified folds (an int cv, or a StratifiedKFold) must each hold
        # every class; scikit-learn only warns when they cannot
        stratified = F if F is not None else (
            self.cv.n_splits if isinstance(self.cv, StratifiedKFold) else None)
        if stratified is not None:
            counts = np.bincount(codes, minlength=classes.shape[0])
            smallest = int(counts.min())
            if stratified > smallest:
                cv = (f"cv={self._cv_int() or self.cv!r} gives {stratified} "
                      "stratified folds")
                plain = ("a splitter that does not stratify, whose folds may lack "
                         f"a class, such as cv=KFold({stratified}, shuffle=True, "
                         "random_state=0)")
                if smallest == 1:
                    raise ValueError(
                        f"{cv}, but {single_row_classes(classes, counts)}, so no "
                        f"number of stratified folds can each hold every class: "
                        f"use {plain}, or drop those rows or merge their classes "
                        "into others")
                raise ValueError(f"{cv}, more than the smallest class has rows "
                                 f"({smallest}); each fold must hold every class: "
                                 f"use {smallest} folds or fewer, or {plain}")
        splitter = check_cv(self.cv if F is None else F, y, classifier=True)
        row_fold = np.zeros(m, dtype=np.int8)
        n_splits = 0
        for f, split in enumerate(splitter.split(X, y, **split_params), start=1):
            n_splits = f
            if f > MAX_FOLDS:
                raise ValueError(f"cv gives more than {MAX_FOLDS} splits; the "
                                 "joint pass holds at most that many folds")
            train, test = (_indices(part, m, f, name)
                           for part, name in zip(split, ("train", "test"),
                                                 strict=True))
            if test.shape[0] == 0:
                raise ValueError(f"cv: the test set of split {f} is empty")
            if np.bincount(test).max() > 1 or row_fold[test].any():
                raise ValueError(
                    f"cv: the test set of split {f} overlaps an earlier test set "
                    "(or repeats a row); the joint pass gives each row one fold, "
                    "so the test sets must be disjoint (KFold, StratifiedKFold, "
                    "GroupKFold, PredefinedSplit), not resampled (ShuffleSplit, "
                    "RepeatedKFold)")
            outside = np.ones(m, dtype=bool)
            outside[test] = False
            trained = np.bincount(train, minlength=m)
            if trained.max() > 1:
                raise ValueError(
                    f"cv: the training set of split {f} lists row "
                    f"{int(np.argmax(trained > 1))} more than once; the joint "
                    "pass trains each model once on each of its rows (weight "
                    "rows with sample_weight instead)")
            if trained[test].any():
                raise ValueError(
                    f"cv: split {f} trains on row {int(test[trained[test] > 0][0])}"
                    ", which is in its own test set; a model is scored on rows "
                    "it was not trained on")
            if not np.array_equal(trained > 0, outside):
                raise ValueError(
                    f"cv: split {f} does not train on every row outside its test "
                    "set (as TimeSeriesSplit does); the joint pass trains each "
                    "model on all rows but its own fold's")
            row_fold[test] = f
        if n_splits == 0:
            raise ValueError("cv gives no split")
        for f in range(1, n_splits + 1):
            # (bincount: np.unique sorts or hashes, 0.1 s of a 160k-row fit)
            if np.count_nonzero(np.bincount(codes[row_fold != f])) < 2:
                raise ValueError(f"cv: the training rows of split {f} hold a "
                                 "single class; training needs two")
        return row_fold, list(range(1, n_splits + 1))

    # ------------------------------------------------------------------ fit

    @unchanged_on_error
    def fit(self, X, y, sample_weight=None, groups=None, **params):
        """Train every candidate on every fold in one joint pass, choose, and
        refit.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix of shape (m, n)
        y : array_like of shape (m,)
            At least two distinct labels of any sortable type.
        sample_weight : array_like of shape (m,) or None
            Non-negative per-row weights, in training and in the scores
            (with metadata routing on, in a ``scoring`` scorer's only as it
            requests them).
        groups : array_like of shape (m,) or None
            Passed to the ``split`` of a ``cv`` splitter (``GroupKFold``);
            with metadata routing on, as the splitter requests it.
        **params
            Only with metadata routing on
            (``sklearn.set_config(enable_metadata_routing=True)``): more
            metadata for the ``cv`` splitter's ``split`` and the ``scoring``
            scorer, routed as they request it (as scikit-learn's
            ``LogisticRegressionCV``).

        Returns
        -------
        self
        """
        _raise_for_params(params, self, "fit")
        (batch_size, epochs, lr, _, tol, n_iter_no_change), options, scorer = \
            self._check_params()
        if _routing_enabled():
            if groups is not None:
                params["groups"] = groups
            routed = process_routing(self, "fit", sample_weight=sample_weight,
                                     **params)
            split_params = routed.splitter.split
            score_params = routed.scorer.score if scorer is not None else {}
        else:
            split_params, score_params = {"groups": groups}, None
        for arg, name in ((X, "X"), (y, "y"), (sample_weight, "sample_weight")):
            if is_dask(arg):
                raise TypeError(
                    f"{name} is a dask collection: LogisticRegressionCV trains in "
                    "memory and would gather it into this process. Pass "
                    f"{name}.compute() if it fits, or train "
                    "fastlr.LogisticRegression on the cluster with a chosen alpha")
        learning_rate, power_t, _, average_start = options
        run_l1_ratios, l1_ratios_ = self._l1_grid()
        check_standardize(self.standardize)
        X = numeric_input(X)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                             order="C", y_numeric=False, accept_sparse="csr",
                             ensure_all_finite=False)
        data = _data(X, train=True)
        standardize = standardize_option(self.standardize, bool(self.fit_intercept),
                                         data.sparse)
        classes = target_classes(y)
        sw = check_sample_weight(sample_weight, data.m)
        if score_params is None:
            # without routing a scorer gets the rows' sample weights
            score_params = {"sample_weight": sw} if sw.shape[0] else {}
        refuse_one_class(classes)
        model = self._model(0.0, 0.15, "sgd")
        codes = model._encode(y, classes)
        row_fold, fold_ids = self._folds(X, y, codes, classes, split_params)
        if self.refit and self.early_stopping:
            # the refit's held-out split, refused before the grid trains
            model._holdout_rows(codes, classes)
        # the cross-validation models are the kind of model the refit is
        solver, finish_tol = self._model(0.0, 0.15)._solver_plan()
        a = self.alphas   # (before the grid: alphas=10**9 alone was 8 GB)
        # (which arrays SGD writes: any alpha above 0 stands for the grid's)
        check_grid_memory(int(a) if isinstance(a, numbers.Integral) else len(a),
                          len(run_l1_ratios), len(fold_ids), classes.shape[0],
                          data.n, solver, grid_written(
                              self.penalty, [1.0], run_l1_ratios, learning_rate,
                              average_start, solver))
        sw_fit = model._class_weights(codes, classes, sw, fitting=True)
        alphas = self._alpha_grid(sw_fit.sum() if sw_fit.shape[0] else data.m)
        check_weighted_rows(sw_fit, row_fold, fold_ids, "cv", part="split",
                            weights="sample_weight" if self.class_weight is None
                            else "sample_weight times class_weight")
        if solver == "sgd" and not self.refit:
            # (with refit, the refit's fit warns: once a call either way)
            warn_weight_scale(sw_fit, weights_name(sample_weight is not None,
                                                   self.class_weight))
        # the solver follows each fold's path an alpha (and l1_ratio) at a
        # time, each stage up to max_iter passes, after auto's SGD epoch
        passes = epochs if solver == "sgd" else \
            (solver == "auto") + epochs * alphas.shape[0] * len(run_l1_ratios)
        # (with a solver, a bound: each stage's models stop as they converge)
        progress = epoch_progress(self.verbose, passes, data.m, desc="cv",
                                  bound=solver != "sgd")
        with progress:
            res = _run_many(
                data, codes, classes, sw_fit, row_fold, fold_ids, alphas,
                run_l1_ratios, penalty=self.penalty, batch_size=batch_size,
                epochs=epochs, lr=lr, standardize=standardize,
                shuffle=self.shuffle, rng=make_rng(self.random_state),
                epoch_loss="running", tol=tol, n_iter_no_change=n_iter_no_change,
                n_threads=None, callback=progress, learning_rate=learning_rate,
                power_t=power_t, average_start=average_start,
                fit_intercept=bool(self.fit_intercept), solver=solver,
                finish_tol=finish_tol)
        F, L, A = len(fold_ids), l1_ratios_.shape[0], alphas.shape[0]
        _warn_unconverged(res, solver, self.solver, epochs, tol)
        scores = self._scores(res, scorer, X, y, score_params, row_fold, fold_ids,
                              data.dtype)
        paths = _paths(res, bool(self.fit_intercept))
        self.classes_ = classes
        self.alphas_ = alphas
        self.l1_ratios_ = l1_ratios_
        self.scores_ = scores.reshape(F, L, A)
        self.n_iter_ = res.n_iter.reshape(F, L, A)
        self.coefs_paths_ = paths.reshape(F, L, A, *paths.shape[1:])
        self._choose(res, X, y, sample_weight, F, L, A, data, sw_fit)
        return self

    def _scores(self, res, scorer, X, y, score_params, row_fold, fold_ids, dtype):
        """(K,) scores, higher is better; -inf for a diverged model, NaN
        where ``scoring`` gave NaN (roc_auc on a fold holding out one class).
        ``score_params``: the scorer's metadata for all rows, each fold's
        held-out part of those of a row each given to it."""
        K = res.n_iter.shape[0]
        scores = np.full(K, -np.inf)
        ok = ~res.diverged & (res.n_iter > 0)
        if scorer is None:
            last = np.maximum(res.n_iter - 1, 0)
            held = res.heldout[np.arange(K), last] if res.heldout.shape[1] else \
                np.full(K, np.nan)
            scores[ok] = -held[ok]
        else:
            scorer = _with_labels(scorer, res.classes)
            n = X.shape[1]
            rows = res.W.shape[1] if res.W.ndim == 3 else 1
            for f in fold_ids:
                # one fold's copy at a time: the last one's is let go before
                # the next is made (two were held, 2/cv of X: all of it at cv=2)
                Xt = yt = None
                test = np.flatnonzero(row_fold == f)
                Xt, yt = X[test], y[test]
                kw = _check_method_params(X, score_params, indices=test)
                for i in np.flatnonzero((res.folds == f) & ok):
                    est = self._model(float(res.alphas[i]), float(res.l1_ratios[i]))
                    est.classes_ = res.classes
                    est.coef_ = res.W[i].reshape(rows, n).astype(dtype)
                    est.intercept_ = np.asarray(res.b[i], dtype=dtype).reshape(rows)
                    est.n_features_in_ = n
                    scores[i] = _score_value(scorer(est, Xt, yt, **kw))
        if scorer is None:
            scores[np.isnan(scores)] = -np.inf
        return scores

    def _choose(self, res, X, y, sample_weight, F, L, A, data, sw_fit):
        dtype = data.dtype
        scores = self.scores_.reshape(F, L * A)
        rows = res.W.shape[1] if res.W.ndim == 3 else 1
        l1_of = np.repeat(self.l1_ratios_, A)
        alpha_of = np.tile(self.alphas_, L)
        # the candidates (stored l1_ratio by l1_ratio) in the order a tie
        # goes to the first of: by strength, then by l1_ratio (as
        # scikit-learn's argmax over its (Cs, l1_ratios) scores)
        order = np.arange(L * A).reshape(L, A).T.ravel()
        # the default score's rounding ties (TIE_RTOL); a scoring's scores
        # are the user's, of any size: only equal ones tie (an offset of
        # 1e12 made a relative margin pass over real differences)
        rtol = TIE_RTOL if self.scoring is None else 0.0
        if self.refit:
            # a fold whose score is NaN (roc_auc of one held-out class) is left
            # out of the mean, as it says nothing of the candidates
            # (np.nanmean warns on an all-NaN column; silencing it with
            # warnings.catch_warnings is not thread-safe)
            seen = ~np.isnan(scores)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(seen, scores, 0.0).sum(axis=0) / seen.sum(axis=0)
            if not np.isfinite(mean).any():
                _no_candidate(mean, "every fold" if np.isnan(mean).all()
                              else "at least one fold", self.learning_rate)
            finite = np.where(np.isfinite(mean), mean, -np.inf)
            best = int(order[_first_best(finite[order], rtol)])
            self.alpha_ = float(alpha_of[best])
            self.l1_ratio_ = float(l1_of[best])
            refit = self._model(self.alpha_, self.l1_ratio_ if self.penalty ==
                                "elasticnet" else 0.15)
            if refit._solver_plan()[0] != "sgd":
                # as scikit-learn's LogisticRegressionCV: the solver starts
                # from the mean of the folds' models of the chosen strength,
                # near the optimum, rather than from zero (the refit's
                # standardization is the one a cold fit computes)
                chosen = np.arange(F) * (L * A) + best
                state = refit._new_state(data, self.classes_, sw_fit)
                w = res.W[chosen].astype(np.float64).mean(axis=0).reshape(
                    state.k, -1)
                b = np.asarray(res.b[chosen], dtype=np.float64).mean(axis=0).reshape(
                    state.k)
                state.set_model(w * state.scale, b + w @ state.mean)
                refit.warm_start = True
                refit.classes_, refit.training_state_ = self.classes_, state
            refit.fit(X, y, sample_weight=sample_weight)
            self.coef_, self.intercept_ = refit.coef_, refit.intercept_
            return
        best = order[_first_best(np.where(np.isfinite(scores), scores,
                                          -np.inf)[:, order], rtol)]
        picked = scores[np.arange(F), best]
        if not np.isfinite(picked).all():
            _no_candidate(scores[~np.isfinite(picked)], "some fold",
                          self.learning_rate)
        chosen = np.arange(F) * (L * A) + best
        n = X.shape[1]
        self.coef_ = res.W[chosen].reshape(F, rows, n).astype(np.float64).mean(
            axis=0).astype(dtype)
        self.intercept_ = np.asarray(res.b[chosen], dtype=np.float64).reshape(
            F, rows).mean(axis=0).astype(dtype)
        self.alpha_ = float(alpha_of[best].mean())
        self.l1_ratio_ = float(l1_of[best].mean())

    # -------------------------------------------------------------- predict
    # the final model is coef_ and intercept_, as LogisticRegression's

    decision_function = LogisticRegression.decision_function
    _decision = LogisticRegression._decision
    _checked_model = LogisticRegression._checked_model
    predict_proba = LogisticRegression.predict_proba
    predict_log_proba = LogisticRegression.predict_log_proba
    predict = LogisticRegression.predict

    def score(self, X, y, sample_weight=None, **params):
        """The ``scoring`` score of the final model on (X, y), as
        scikit-learn's ``LogisticRegressionCV.score``; with ``scoring=None``
        the mean accuracy (every classifier's ``score``). With metadata
        routing on, ``sample_weight`` and ``params`` go to a ``scoring``
        scorer as it requests them (``scoring=None``: ``sample_weight``
        weighs the accuracy, as this estimator's ``set_score_request``
        asks it of a caller).

        Parameters
        ----------
        X : array_like or scipy.sparse matrix of shape (m, n_features_in_)
        y : array_like of shape (m,)
            The true labels.
        sample_weight : array_like of shape (m,) or None
            Weights of the rows (see above).
        **params
            Other metadata for the ``scoring`` scorer (metadata routing on
            only).

        Returns
        -------
        float
        """
        _raise_for_params(params, self, "score")
        scorer = self._scorer()
        if _routing_enabled():
            if sample_weight is not None:
                params["sample_weight"] = sample_weight
            routed = process_routing(self, "score", **params)
            if scorer is not None:
                return float(scorer(self, X, y, **routed.scorer.score))
        if scorer is None:
            return super().score(X, y, sample_weight=sample_weight)
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return float(scorer(self, X, y, **kw))

    def get_metadata_routing(self):
        """The metadata routing of this estimator: a router, as
        scikit-learn's ``LogisticRegressionCV``, to its ``cv`` splitter (``fit``
        to ``split``) and its ``scoring`` scorer (``fit`` and ``score`` to
        ``score``), a consumer of ``sample_weight`` in ``fit`` itself (and in
        ``score`` with ``scoring=None``, which has no scorer: the held-out
        log-loss and the accuracy are this estimator's own).

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRouter
        """
        scorer = self._scorer()
        request = self._get_metadata_request()
        if scorer is not None:
            # score's sample_weight is the scorer's, as its request says
            request.score.add_request(param="sample_weight", alias=UNUSED)
        router = MetadataRouter(owner=self).add_self_request(request).add(
            splitter=self.cv,
            method_mapping=MethodMapping().add(caller="fit", callee="split"))
        if scorer is not None:
            router.add(scorer=scorer, method_mapping=MethodMapping()
                       .add(caller="score", callee="score")
                       .add(caller="fit", callee="score"))
        return router


#: Default scores (minus the mean held-out log-loss) within this fraction
#: of the best one tie (:func:`_first_best`): well above the rounding of a
#: held-out mean loss (two models equal in theory, found by the solver along
#: a path, scored 5e-14 apart) and below any difference between candidates
#: worth a choice. Not for a ``scoring``'s scores, whose size is the user's.
TIE_RTOL = 1e-9


def _first_best(scores, rtol):
    """Index along the last axis of ``scores`` (finite or -inf, in the
    order ties go to the first of) of the first score within ``rtol`` of
    the best, relative to its size (0: the first best)."""
    top = scores.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        near = scores >= top - rtol * np.abs(top)
    return np.argmax(near | (scores == top), axis=-1)


def _warn_unconverged(res, solver, name, epochs, tol):
    """The ``ConvergenceWarning`` of the cross-validation models of ``res``
    that did not converge (``solver`` run, ``name`` the option given),
    worded as :func:`fastlr._solver.warn_unconverged` words one model's:
    with SGD, or with a solver and ``tol``, those that used every pass;
    with a solver, whatever ``tol``, those it stopped before (no step
    lowered the objective measurably: more passes would not help)."""
    K = res.n_iter.shape[0]
    short = ~res.converged & ~res.diverged
    late = int(np.count_nonzero(short & (res.n_iter >= epochs)))
    early = res.n_iter[short & (res.n_iter < epochs)]
    if solver == "sgd":
        if tol is not None and late + early.shape[0]:
            warnings.warn(
                f"{late + early.shape[0]} of the {K} cross-validation models "
                f"reached max_iter={epochs} epochs before their held-out loss "
                f"stopped improving by tol={tol}; increase max_iter or lr",
                ConvergenceWarning, stacklevel=user_stacklevel())
        return
    if early.shape[0]:
        lo, hi = int(early.min()), int(early.max())
        warnings.warn(
            f"solver={name!r} stopped {early.shape[0]} of the {K} "
            f"cross-validation models after {lo}{'' if lo == hi else f' to {hi}'} "
            f"of max_iter={epochs} passes: for each, {STOPPED_EARLY}; the last "
            "iterates are kept", ConvergenceWarning, stacklevel=user_stacklevel())
    if late and tol is not None:
        warnings.warn(
            f"{late} of the {K} cross-validation models used all "
            f"max_iter={epochs} passes of solver={name!r} before their "
            f"objectives stopped decreasing by tol={tol}; increase max_iter",
            ConvergenceWarning, stacklevel=user_stacklevel())


def _score_value(value):
    """A scorer's result as a float; anything else than one number is
    refused naming ``scoring``."""
    if value is None or isinstance(value, str | bytes) or np.ndim(value):
        raise TypeError(f"scoring must give one number per model (higher is "
                        f"better), got {value!r}")
    try:   # (any real number float() takes: Fraction, Decimal, NumPy's)
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"scoring must give one number per model (higher is "
                        f"better), got {value!r}") from None


def _no_candidate(scores, where, learning_rate):
    """Raise for scores with no finite candidate: NaN comes from the
    scorer, -inf from diverged models (trained with the schedule
    ``learning_rate``)."""
    if np.isnan(scores).any():
        raise ValueError(
            f"scoring gave NaN for every candidate on {where} (roc_auc, say, on "
            "held-out rows of one class): choose a cv whose held-out folds "
            "hold every class, or another scoring")
    raise DivergedError(f"every candidate diverged on {where} ("
                        f"{step_advice(learning_rate, alpha='the alphas')})")


def _with_labels(scorer, classes):
    """``scorer`` told every class, for scoring one fold: a scorer whose
    metric takes ``labels`` gets ``labels=classes`` (a fold may hold out
    rows of one class only) and, for two classes, ``pos_label`` the second
    (string labels have no 1), as scikit-learn's ``LogisticRegressionCV``
    rebuilds its scorers; the scorer's own arguments come first."""
    func = getattr(scorer, "_score_func", None)
    if func is None:
        return scorer
    import inspect

    from sklearn.metrics import make_scorer

    params = inspect.signature(func).parameters
    if "labels" not in params:
        return scorer
    extra = {"labels": classes}
    if classes.shape[0] == 2 and "pos_label" in params:
        extra["pos_label"] = classes[-1]
    return make_scorer(func, greater_is_better=scorer._sign == 1,
                       response_method=scorer._response_method,
                       **{**extra, **getattr(scorer, "_kwargs", {})})


def _indices(part, m, f, name):
    """One side of a split as row indices (index arrays or boolean masks)."""
    arr = np.asarray(part)
    if arr.dtype == np.bool_ and arr.shape == (m,):
        return np.flatnonzero(arr)
    if arr.ndim != 1 or (arr.shape[0] and arr.dtype.kind not in "iu"):
        raise ValueError(f"cv: the {name} part of split {f} is not a 1-D array of "
                         "row indices")
    arr = arr.astype(np.intp, copy=False)
    if arr.shape[0] and (arr.min() < 0 or arr.max() >= m):
        raise ValueError(f"cv: the {name} part of split {f} has row indices "
                         f"outside 0..{m - 1}")
    return arr


def _paths(res, fit_intercept):
    """(K, n_rows, n + fit_intercept): each model's raw coefficients, the
    intercept last."""
    W = res.W if res.W.ndim == 3 else res.W[:, None, :]
    if not fit_intercept:
        return W.copy()
    b = np.asarray(res.b, dtype=W.dtype).reshape(W.shape[0], W.shape[1], 1)
    return np.concatenate([W, b], axis=2)
