"""scikit-learn compatible classifier around :func:`fastlr.core.sgd`.

The estimator validates, maps labels to 0/1, and stores fitted attributes;
the epochs run in the Numba kernels. It never loops over rows itself.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _kernels
from ._driver import check_train_params
from ._order import make_rng
from ._progress import epoch_progress
from ._validation import check_sample_weight, check_X
from .core import SGDState, _decision, sgd

__all__ = ["LogisticRegression"]


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression trained by mini-batch SGD in Numba kernels.

    Parameters
    ----------
    lr : float, default 0.01
        Constant learning rate.
    batch_size : int, default 32
        Rows per SGD step.
    max_iter : int, default 1000
        Maximum number of epochs (passes over the training data).
    tol : float or None, default 1e-4
        Stop when the epoch's training loss has not improved by ``tol`` on the
        best loss for ``n_iter_no_change`` consecutive epochs; None runs all
        ``max_iter`` epochs.
    n_iter_no_change : int, default 5
    penalty : {"l2", None}, default "l2"
        Regularization on the (standardized) weights, not the intercept.
    alpha : float, default 1e-4
        Penalty strength: the objective is ``mean log-loss + alpha/2 ||w||^2``.
        scikit-learn's ``LogisticRegression(C=C)`` on the same (standardized)
        features corresponds to ``alpha = 1 / (C * n_samples)``.
    standardize : bool, default True
        Train on standardized features (folded into the kernel, no copy).
        ``coef_`` and ``intercept_`` are always in raw feature space.
    shuffle : {True, False, "blocks", "rows"}, default True
        Reshuffle each epoch: by blocks of consecutive rows (True, "blocks";
        sequential memory access), by single rows ("rows"), or not (False).
        See :func:`fastlr.train`.
    random_state : None, int, numpy Generator or RandomState
        Seeds the shuffling.
    warm_start : bool, default False
        Reuse the previous solution (and standardization) as initialization.
    verbose : int, default 0
        Progress bar for ``fit`` (epochs, loss, rows/s) on stderr. 0: none;
        1: on a terminal, once training has run for more than a second;
        2 or more: always (notebooks, log files).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
        Weights in raw feature space, dtype of the training X.
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
        The two labels seen in ``fit``; ``classes_[1]`` is the positive class.
    n_features_in_ : int
    n_iter_ : int
        Epochs run by the last ``fit`` (or total epochs for ``partial_fit``).
    loss_curve_ : ndarray of shape (n_iter_,)
        Training loss (mean log-loss during the epoch) per epoch.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from fastlr import LogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegression(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.97
    True
    """

    def __init__(self, lr=0.01, batch_size=32, max_iter=1000, tol=1e-4,
                 n_iter_no_change=5, penalty="l2", alpha=1e-4, standardize=True,
                 shuffle=True, random_state=None, warm_start=False, verbose=0):
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

    # ------------------------------------------------------------------ fit

    def _params(self, epochs):
        return check_train_params(self.batch_size, epochs, self.lr, self.penalty,
                                  self.alpha, "running", self.tol,
                                  self.n_iter_no_change, self.shuffle)

    def _encode(self, y, classes):
        """Map labels to float64 0/1 against ``classes`` (positive = classes[1])."""
        y01 = (y == classes[1]).astype(np.float64)
        return y01

    def fit(self, X, y, sample_weight=None):
        """Fit the model on (X, y) for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array_like of shape (m, n)
        y : array_like of shape (m,)
            Two distinct labels of any type.
        sample_weight : array_like of shape (m,) or None
            Non-negative per-row weights, applied inside the kernel.

        Returns
        -------
        self
        """
        batch_size, epochs, lr, alpha, tol, n_iter_no_change = self._params(
            self.max_iter)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                             order="C", y_numeric=False)
        check_classification_targets(y)
        sw = check_sample_weight(sample_weight, X.shape[0])
        classes = np.unique(y)
        if classes.shape[0] == 1:
            raise ValueError(f"y contains only one class ({classes[0]!r}); "
                             "training needs two")
        if classes.shape[0] > 2:
            raise ValueError(
                "Only binary classification is supported for now: y has "
                f"{classes.shape[0]} classes {classes[:5]}")
        y01 = self._encode(y, classes)
        progress = epoch_progress(self.verbose, epochs, X.shape[0])
        if self.warm_start and hasattr(self, "_state") and \
                self._state.w.shape[0] == X.shape[1]:
            state = self._state
        else:
            state = SGDState.for_data(X, self.standardize)
        self._rng = make_rng(self.random_state)
        with progress:
            losses, converged = sgd(
                X, y01, sw, state, batch_size=batch_size, epochs=epochs, lr=lr,
                shuffle=self.shuffle, rng=self._rng,
                penalty=self.penalty, alpha=alpha, epoch_loss="running", tol=tol,
                n_iter_no_change=n_iter_no_change, callback=progress)
        if tol is not None and not converged and epochs > 0:
            warnings.warn(
                f"Maximum number of epochs ({epochs}) reached before the loss "
                f"stopped improving by tol={tol}; increase max_iter or lr",
                ConvergenceWarning, stacklevel=2)
        self.classes_ = classes
        self._state = state
        self._set_coef(X.dtype)
        self.n_iter_ = int(losses.shape[0])
        self.loss_curve_ = losses
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of SGD on (X, y), continuing from the current weights.

        On the first call ``classes`` (both labels) is required, and the
        standardization statistics are taken from this first chunk of data.

        Returns
        -------
        self
        """
        batch_size, _, lr, alpha, _, n_iter_no_change = self._params(1)
        first = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                             order="C", reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to "
                                 "partial_fit")
            classes = np.unique(np.asarray(classes))
            if classes.shape[0] != 2:
                raise ValueError(f"classes must hold exactly two labels, got "
                                 f"{classes.shape[0]}")
            self.classes_ = classes
            self._state = SGDState.for_data(X, self.standardize)
            # one generator for the whole stream, so chunks are not all
            # shuffled with the same permutation
            self._rng = make_rng(self.random_state)
            self.n_iter_ = 0
            self.loss_curve_ = np.empty(0)
        elif classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of "
                             f"the first partial_fit call {self.classes_!r}")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes {self.classes_!r}: "
                             f"{unseen!r}")
        y01 = self._encode(y, self.classes_)
        sw = check_sample_weight(sample_weight, X.shape[0])
        losses, _ = sgd(X, y01, sw, self._state, batch_size=batch_size, epochs=1,
                        lr=lr, shuffle=self.shuffle, rng=self._rng,
                        penalty=self.penalty, alpha=alpha, epoch_loss="running",
                        tol=None, n_iter_no_change=n_iter_no_change,
                        first_epoch=self.n_iter_)
        self._set_coef(X.dtype)
        self.n_iter_ += 1
        self.loss_curve_ = np.concatenate([self.loss_curve_, losses])
        return self

    def _set_coef(self, dtype):
        w, b = self._state.raw()
        self.coef_ = w.astype(dtype).reshape(1, -1)
        self.intercept_ = np.array([b], dtype=dtype)

    # -------------------------------------------------------------- predict

    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``, shape (m,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C",
                          reset=False)
        X = check_X(X)
        return _decision(X, self.coef_[0].astype(np.float64),
                         float(self.intercept_[0]))

    def predict_proba(self, X):
        """Class probabilities, shape (m, 2), columns in ``classes_`` order."""
        z = self.decision_function(X)
        p = np.empty_like(z)
        _kernels.proba_from_decision(z, p)
        return np.column_stack([1.0 - p, p])

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted labels: ``classes_[1]`` where the logit is positive."""
        z = self.decision_function(X)
        return self.classes_[(z > 0).astype(np.intp)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
