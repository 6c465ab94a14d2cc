"""The estimator introduces itself as fastlr's in scikit-learn's displays."""

import re

import numpy as np
from sklearn.utils import estimator_html_repr

import fastlr


def test_html_repr_links_to_fastlr_not_scikit_learn():
    clf = fastlr.LogisticRegression(alpha=1e-3)
    url = f"https://pypi.org/project/fastlr-numba/{fastlr.__version__}/"
    assert clf._get_doc_link() == url
    html = estimator_html_repr(clf)
    links = set(re.findall(r'href="([^"#]+)', html))
    assert url in links
    assert not any("scikit-learn.org" in link for link in links)
    # the parameter table of the display takes its descriptions from
    # fastlr's docstring
    assert "Penalty strength" in html


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
