"""The estimator introduces itself as fastlr's in scikit-learn's displays,
and its docstring's Attributes are the attributes it sets."""

import re

import numpy as np
import pytest
from sklearn.externals._numpydoc import docscrape
from sklearn.utils import estimator_html_repr

import fastlr


@pytest.mark.parametrize("cls, described", [
    (fastlr.LogisticRegression, "Penalty strength"),
    (fastlr.LogisticRegressionCV, "The penalty strengths to choose from"),
])
def test_html_repr_links_to_fastlr_not_scikit_learn(cls, described):
    clf = cls(alpha=1e-3) if cls is fastlr.LogisticRegression else cls(alphas=3)
    url = f"https://pypi.org/project/fastlr-numba/{fastlr.__version__}/"
    assert clf._get_doc_link() == url
    html = estimator_html_repr(clf)
    links = set(re.findall(r'href="([^"#]+)', html))
    assert url in links
    assert not any("scikit-learn.org" in link for link in links)
    # the parameter table of the display takes its descriptions from
    # fastlr's docstring, one entry per parameter (a grouped entry "lr,
    # batch_size, ..." left 17 of LogisticRegressionCV's without one)
    assert described in html
    rows = re.findall(r'<tr class="(?:user-set|default)">(.*?)</tr>', html, re.S)
    assert len(rows) == len(clf.get_params())
    bare = [re.sub(r"<[^>]+>", " ", row).split()[0] for row in rows
            if "param-doc-description" not in row]
    assert not bare, f"parameters without a description: {bare}"


def test_html_repr_of_a_fitted_model_in_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10) % 2
    pipe = make_pipeline(StandardScaler(), fastlr.LogisticRegression(
        max_iter=3, tol=None)).fit(X, y)
    html = estimator_html_repr(pipe)
    assert "pypi.org/project/fastlr-numba" in html  # the fastlr step
    assert "scikit-learn.org" in html                # the scikit-learn step


def documented(cls, section):
    """The names of a numpydoc section of ``cls``'s docstring."""
    doc = docscrape.NumpyDocString(cls.__doc__)
    return {name.strip() for entry in doc[section] for name in entry.name.split(",")}


def fitted_attributes(est):
    return {name for name in dir(est) if name.endswith("_")
            and not name.startswith("_") and hasattr(est, name)}


def test_the_attributes_documented_are_the_attributes_set(tmp_path):
    """Every public fitted attribute is in the Attributes section
    (``training_state_`` and ``feature_names_in_`` were not), and every one
    there is set: after fit (on a DataFrame), after partial_fit alone (it
    lacked ``solver_``, ``n_solver_iter_``, ``validation_scores_`` and
    ``best_validation_score_``, the last two documented as None otherwise),
    and after save and load."""
    pd = pytest.importorskip("pandas")
    attributes = documented(fastlr.LogisticRegression, "Attributes")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    fit = fastlr.LogisticRegression(max_iter=3, tol=None).fit(
        pd.DataFrame(X, columns=list("abc")), y)
    part = fastlr.LogisticRegression().partial_fit(X, y, classes=[0, 1])
    assert (part.solver_, part.n_solver_iter_, part.validation_scores_,
            part.best_validation_score_) == ("sgd", 0, None, None)
    models = {"fit": fit, "partial_fit": part}
    for name, model in list(models.items()):
        fastlr.save(model, tmp_path / f"{name}.npz")
        models[f"{name}, loaded"] = fastlr.load(tmp_path / f"{name}.npz")
    for name, model in models.items():
        has = fitted_attributes(model)
        assert not has - attributes, (name, "undocumented", has - attributes)
        # feature names: only from a DataFrame
        missing = attributes - has - ({"feature_names_in_"} if "partial" in name
                                      else set())
        assert not missing, (name, "documented but not set", missing)
    back = models["partial_fit, loaded"]
    assert (back.solver_, back.n_solver_iter_, back.validation_scores_,
            back.best_validation_score_) == ("sgd", 0, None, None)
