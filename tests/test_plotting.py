"""fastlr.plotting: what a reader of the figures relies on."""

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from fastlr.plotting import (
    BINARY_CMAP,
    plot_decision_boundary,
    plot_decision_regions,
    plot_loss_curve,
    plot_roc_curves,
)


def test_overlapping_loss_curves_differ_in_style_and_markers():
    """fastlr and the reference lie on top of each other: the second curve
    must stay visible (another line style, other markers)."""
    losses = np.linspace(0.7, 0.3, 100)
    fig = plot_loss_curve({"fastlr": losses, "reference": losses.copy()})
    first, second = fig.axes[0].get_lines()
    assert first.get_linestyle() != second.get_linestyle()
    assert first.get_marker() != second.get_marker()
    assert first.get_marker() not in ("", "None", None)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == \
        ["fastlr", "reference"]


def test_loss_curve_of_one_epoch():
    fig = plot_loss_curve([0.5])
    assert len(fig.axes[0].get_lines()) == 1


def test_binary_boundary_has_a_colour_bar_and_class_colours_of_its_ends():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    fig = plot_decision_boundary(X, y, [2.0, 0.0], 0.0, labels=("no", "yes"))
    assert len(fig.axes) == 2  # the plot and its colour bar
    bar = fig.axes[1]
    assert "yes" in bar.get_ylabel()
    cmap = matplotlib.colormaps[BINARY_CMAP]
    points = [c for c in fig.axes[0].collections
              if c.get_offsets().shape[0] in ((y == 0).sum(), (y == 1).sum())
              and c.get_label() in ("no", "yes")]
    colours = {c.get_label(): c.get_facecolor()[0] for c in points}
    # class 0 has the colour of probability ~0, class 1 of probability ~1
    assert np.allclose(colours["no"], to_rgba(cmap(0.025)))
    assert np.allclose(colours["yes"], to_rgba(cmap(0.975)))


def test_decision_regions_of_three_classes():
    rng = np.random.default_rng(1)
    centers = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -1.0]])
    y = np.repeat(np.arange(3), 20)
    X = centers[y] + rng.normal(size=(60, 2)) * 0.5
    coef = centers.copy()
    intercept = -0.5 * (centers ** 2).sum(axis=1)
    fig = plot_decision_regions(X, y, coef, intercept, labels=["a", "b", "c"])
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["a", "b", "c"]
    points = {c.get_label(): c for c in fig.axes[0].collections
              if c.get_label() in ("a", "b", "c")}
    assert sorted(points) == ["a", "b", "c"]
    # each class's points have their own colour
    assert len({tuple(c.get_facecolor()[0]) for c in points.values()}) == 3
    with pytest.raises(ValueError, match="coef must have shape"):
        plot_decision_regions(X, y, coef[:, :1], intercept)


def test_roc_curves_one_per_class_and_absent_classes_named():
    rng = np.random.default_rng(2)
    y = np.array(["a", "b", "c"] * 20)
    proba = rng.dirichlet([1, 1, 1], size=60)
    fig = plot_roc_curves(y, proba, ["a", "b", "c"])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sum("vs rest (AUC = " in s for s in texts) == 3
    fig = plot_roc_curves(y[y != "c"], proba[y != "c"], ["a", "b", "c"])
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(s.startswith("c: no curve") for s in texts)
    with pytest.raises(ValueError, match="proba must have shape"):
        plot_roc_curves(y, proba[:, :2], ["a", "b", "c"])
