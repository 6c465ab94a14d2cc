"""LogisticRegressionCV's choice and messages: ties within the solver's
rounding go to the strongest penalty, a model the solver stopped early is
not told to raise max_iter, a scorer must give one number."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from fastlr import LogisticRegression, LogisticRegressionCV


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "sgd"])
@pytest.mark.parametrize("refit", [True, False])
def test_candidates_equal_in_theory_go_to_the_strongest_penalty(solver, refit):
    """X without entries: every strength has the same optimum (the intercept
    alone). Along the solver's path the models scored 5e-14 apart and the
    weakest won; the docstring (and scikit-learn) give ties to the
    strongest."""
    _, y = make_classification(600, 8, random_state=0)
    Z = sp.csr_matrix((600, 50))
    cv = LogisticRegressionCV(alphas=3, cv=3, solver=solver, refit=refit,
                              random_state=0).fit(Z, y)
    assert cv.alpha_ == pytest.approx(cv.alphas_[0], rel=1e-15)


def test_real_differences_still_decide():
    X, y = make_classification(400, 6, random_state=0)
    cv = LogisticRegressionCV(alphas=[10.0, 1e-3], cv=3, random_state=0).fit(X, y)
    assert cv.alpha_ == 1e-3


def test_models_the_solver_stopped_early_are_not_told_to_raise_max_iter():
    """alpha=1e20, tol=1e-10: the stack's runs stop after 31 of 1000
    passes (no step lowers the objective measurably), as one model alone
    does; the warning said they "used all max_iter=1000 passes ...
    increase max_iter". It now says what fastlr._solver.warn_unconverged
    says of one model stopped so."""
    X, y = make_classification(2000, 20, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cv = LogisticRegressionCV(alphas=[1e20, 1e-3], cv=3, random_state=0,
                                  tol=1e-10).fit(X, y)
    stopped = cv.n_iter_[:, 0, 0]
    assert (stopped < 1000).all()
    texts = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert not any("used all" in t or "increase max_iter" in t for t in texts), texts
    assert any(t.startswith("solver='auto' stopped 3 of the 6 cross-validation "
                            f"models after {stopped.min()}") and "no step lowered the "
               "objective measurably" in t for t in texts), texts


def test_a_huge_penalty_converges_in_the_passes_of_one_model_alone():
    """alpha=1e20 at the default tol: one model alone converges in one
    pass (its first step from the curvature sample is the optimum's); the
    stack's runs took 31 passes and warned, their first step a unit one.
    Each now takes its fold's curvature sample too."""
    X, y = make_classification(2000, 20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cv = LogisticRegressionCV(alphas=[1e20, 1e-3], cv=3, random_state=0).fit(X, y)
        alone = LogisticRegression(alpha=1e20).fit(X, y)
    assert (cv.n_iter_[:, 0, 0] == alone.n_iter_).all(), (cv.n_iter_, alone.n_iter_)


@pytest.mark.parametrize("value", [np.array([1.0, 2.0]), "a", None])
def test_a_scorer_giving_no_single_number_is_refused_naming_scoring(value):
    X, y = make_classification(300, 5, random_state=0)
    with pytest.raises(TypeError, match=r"^scoring must give one number"):
        LogisticRegressionCV(alphas=2, cv=3, scoring=lambda e, X, y: value).fit(X, y)


@pytest.mark.parametrize("refit", [True, False])
def test_a_scorings_scores_tie_only_when_equal(refit):
    """The relative tie margin (for the default score's rounding) made a
    scorer of 1e12 + 1000 * accuracy tie every candidate, and the strongest
    penalty won at accuracy 0.53 against 0.78. A scoring's scores now
    decide as scikit-learn's argmax does; equal ones still go to the
    strongest penalty."""
    X, y = make_classification(300, 5, random_state=0)

    def offset(est, X, y):
        return 1e12 + 1000 * float(np.mean(est.predict(X) == y))

    cv = LogisticRegressionCV(alphas=6, cv=3, scoring=offset, refit=refit,
                              random_state=0).fit(X, y)
    scores = cv.scores_[:, 0, :]
    if refit:
        mean = scores.mean(axis=0)
        assert cv.alpha_ == cv.alphas_[int(np.argmax(mean))]
    else:
        assert cv.alpha_ == pytest.approx(np.mean(cv.alphas_[np.argmax(scores, axis=1)]))
    assert cv.alpha_ < cv.alphas_[0]


def test_a_scorer_may_give_any_real_number():
    """Fraction and Decimal scores (accepted by scikit-learn and before)
    were refused as "not one number"."""
    from decimal import Decimal
    from fractions import Fraction

    X, y = make_classification(300, 5, random_state=0)
    got = []
    for kind in (Fraction, Decimal, float):
        cv = LogisticRegressionCV(alphas=3, cv=3, random_state=0, scoring=lambda e, X, y,
                                  kind=kind: kind(str(round(e.score(X, y), 6)))).fit(X, y)
        got.append(cv.scores_)
    np.testing.assert_array_equal(got[0], got[2])
    np.testing.assert_array_equal(got[1], got[2])
