"""fastlr.plotting: what a reader of the figures relies on."""

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from fastlr.plotting import (
    BINARY_CMAP,
    plot_calibration,
    plot_decision_boundary,
    plot_decision_regions,
    plot_loss_curve,
    plot_roc_curve,
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
    assert _points(fig.axes[0], ("no", "yes")) == {"no": (y == 0).sum(),
                                                   "yes": (y == 1).sum()}
    colours = {c.get_label(): c.get_facecolor()[0] for c in fig.axes[0].collections
               if c.get_label() in ("no", "yes")}
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


def test_roc_curves_of_many_classes_draw_their_averages():
    """Past ROC_CLASS_CURVES classes the figure draws the micro and macro
    averages (a legend of 298 entries covered the axes); the macro AUC is
    the mean of the classes' AUCs, over the classes the data holds;
    ``per_class`` chooses either way."""
    from sklearn.metrics import roc_auc_score

    from fastlr import plotting

    k = plotting.ROC_CLASS_CURVES + 1
    rng = np.random.default_rng(3)
    y = np.arange(10 * k) % k
    y[y == 4] = 5   # class 4 has no rows
    proba = rng.dirichlet(np.ones(k), size=y.shape[0])
    proba[np.arange(y.shape[0]), y] += 0.3
    proba /= proba.sum(axis=1, keepdims=True)
    fig = plot_roc_curves(y, proba, np.arange(k))
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(texts) == 3 and texts[2] == "chance"
    aucs = [roc_auc_score(y == c, proba[:, c]) for c in range(k) if c != 4]
    onehot = (y[:, None] == np.arange(k)).ravel()
    assert texts[0] == (f"micro average (AUC = "
                        f"{roc_auc_score(onehot, proba.ravel()):.3f})")
    assert texts[1] == f"macro average of {k - 1} classes (AUC = {np.mean(aucs):.3f})"
    fig = plot_roc_curves(y, proba, np.arange(k), per_class=True)
    assert len(fig.axes[0].get_legend().get_texts()) == k + 1
    few = plot_roc_curves(y[y < 3], proba[y < 3][:, :3], [0, 1, 2], per_class=False)
    texts = [t.get_text() for t in few.axes[0].get_legend().get_texts()]
    assert texts[1].startswith("macro average of 3 classes")


@pytest.mark.parametrize("digits", [None, 2, 1], ids=["distinct", "ties", "many_ties"])
def test_the_micro_average_is_scikit_learn_s_curve_exactly(digits):
    """The micro average ROC curve, from counts at each row's own-class
    score instead of scikit-learn's sort of the m x k pairs: every point is
    a point of scikit-learn's curve of the one-hot labels and the
    probabilities raveled, every corner of that curve is one of them (its
    last stretch, at a true positive rate of 1, drawn as one segment) and
    the AUC is roc_auc_score's, ties between the scores included."""
    from sklearn.metrics import roc_auc_score, roc_curve

    from fastlr.plotting import _micro_roc

    rng = np.random.default_rng(7)
    m, k = 3000, 30
    y = rng.integers(0, k, m)
    proba = rng.dirichlet(np.ones(k), size=m)
    proba[np.arange(m), y] += 0.1
    if digits is not None:
        proba = np.round(proba, digits)
    onehot = (y[:, None] == np.arange(k)).ravel()
    fpr, tpr, auc = _micro_roc(y, proba)
    assert auc == pytest.approx(roc_auc_score(onehot, proba.ravel()), abs=1e-12)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)

    def points(f, t):
        return set(zip(np.round(f, 12).tolist(), np.round(t, 12).tolist(), strict=True))

    every = points(*roc_curve(onehot, proba.ravel(), drop_intermediate=False)[:2])
    corners = points(*roc_curve(onehot, proba.ravel())[:2])
    ours = points(fpr, tpr)
    assert ours <= every | {(0.0, 0.0)}
    assert {p for p in corners if p[1] < 1} <= ours


def test_the_roc_averages_take_memory_with_the_rows_not_the_pairs():
    """Past ROC_CLASS_CURVES classes the micro average ROC curve was
    scikit-learn's of every row-and-class pair: 75 bytes a pair (4.4 GB
    for fastlr evaluate --plot of 100,000 rows of 500 classes). Counted at
    the rows' own-class scores, a block of rows at a time, its memory
    stays about the same from 50 classes to 400."""
    import tracemalloc

    import matplotlib.pyplot as plt

    m = 10_000
    rng = np.random.default_rng(1)
    peaks = []
    for k in (50, 50, 400):   # (the first draws once what any figure needs)
        y = rng.integers(0, k, m)
        proba = rng.dirichlet(np.ones(k), size=m)
        tracemalloc.start()
        try:
            fig = plot_roc_curves(y, proba, np.arange(k))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        plt.close(fig)
    assert peaks[2] < 1.5 * peaks[1] + (1 << 20), peaks
    assert peaks[2] < proba.nbytes / 2, (peaks, proba.nbytes)


# --------------------------------------------------------------------------
# input checks: natural inputs accepted, bad ones refused naming the argument


def _two_blobs(seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 2))
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)


def _drawn(ax):
    """A decision plot's points in the order drawn: ``(offsets (m, 2),
    face colours (m, 4), marker vertices of each)``, from its scatters
    that hold points (the classes' legend entries are empty scatters)."""
    from matplotlib.collections import PathCollection

    scatters = [c for c in ax.collections if isinstance(c, PathCollection)
                and c.get_offsets().shape[0] > 0]
    assert all(c.get_label().startswith("_") for c in scatters)
    sizes = [c.get_offsets().shape[0] for c in scatters]
    if not scatters:
        return np.empty((0, 2)), np.empty((0, 4)), []
    faces = [c.get_facecolor() for c in scatters]
    assert all(f.shape[0] == 1 for f in faces)   # a colour and a marker a scatter
    return (np.concatenate([np.asarray(c.get_offsets()) for c in scatters]),
            np.repeat(np.concatenate(faces), sizes, axis=0),
            [c.get_paths()[0].vertices for c, n in zip(scatters, sizes, strict=True)
             for _ in range(n)])


def _points(ax, names):
    """Number of points of each class named in ``names``: those of the
    colour of its legend entry (an empty scatter labelled with its name)."""
    entries = {c.get_label(): c for c in ax.collections if c.get_label() in names}
    assert all(c.get_offsets().shape[0] == 0 for c in entries.values())
    faces = _drawn(ax)[1]
    return {name: int(np.isclose(faces, c.get_facecolor()[0]).all(axis=1).sum())
            for name, c in entries.items()}


@pytest.mark.parametrize("relabel", [lambda y: 2 * y - 1,
                                     lambda y: np.where(y == 1, "yes", "no"),
                                     lambda y: y == 1, lambda y: y + 5.0],
                         ids=["-1/1", "strings", "bool", "5/6"])
def test_decision_boundary_draws_both_classes_of_any_two_labels(relabel):
    X, y = _two_blobs()
    fig = plot_decision_boundary(X, relabel(y), [1.0, 0.3], 0.0,
                                 labels=("neg", "pos"))
    # the larger label is the positive class, as scikit-learn's classes_[1]
    assert _points(fig.axes[0], ("neg", "pos")) == {"neg": (y == 0).sum(),
                                                    "pos": (y == 1).sum()}
    cmap = matplotlib.colormaps[BINARY_CMAP]
    colours = {c.get_label(): c.get_facecolor()[0] for c in fig.axes[0].collections
               if c.get_label() in ("neg", "pos")}
    assert np.allclose(colours["neg"], to_rgba(cmap(0.025)))
    assert np.allclose(colours["pos"], to_rgba(cmap(0.975)))


def test_decision_boundary_default_labels_name_the_classes():
    X, y = _two_blobs()
    fig = plot_decision_boundary(X, 2 * y - 1, [1.0, 0.3], 0.0)
    assert _points(fig.axes[0], ("class -1", "class 1")) == {
        "class -1": (y == 0).sum(), "class 1": (y == 1).sum()}
    assert "class 1" in fig.axes[1].get_ylabel()


def test_decision_boundary_takes_fitted_coef_and_intercept_as_they_are():
    from sklearn.linear_model import LogisticRegression

    X, y = _two_blobs()
    clf = LogisticRegression().fit(X, y)
    assert clf.coef_.shape == (1, 2) and clf.intercept_.shape == (1,)
    fig = plot_decision_boundary(X, y, clf.coef_, clf.intercept_)
    flat = plot_decision_boundary(X, y, clf.coef_[0], float(clf.intercept_[0]))
    line, flat_line = (f.axes[0].collections[1].get_paths()[0].vertices
                       for f in (fig, flat))
    assert np.array_equal(line, flat_line)


@pytest.mark.parametrize("change, match", [
    (dict(w=[1.0, 0.3, 0.0]), r"^w must have shape \(2,\) or \(1, 2\), got \(3,\)"),
    (dict(w=np.ones((2, 2))), r"^w must have shape \(2,\) or \(1, 2\), got \(2, 2\)"),
    (dict(b=[0.0, 1.0]), r"^b must be a scalar or of shape \(1,\)"),
    (dict(X=np.ones((60, 3))), r"^X must have exactly 2 features"),
    (dict(y=np.zeros(59, dtype=int)), r"^y has 59 labels but X has 60 rows"),
    (dict(y=np.arange(60) % 3), r"^y holds 3 distinct label\(s\) \[0, 1, 2\] but "
                                r"the model has 2 classes"),
    (dict(y=np.full(60, "a")), r"^y holds 1 distinct label"),
    (dict(labels=("only one",)), r"^labels must hold 2 names, got 1"),
])
def test_decision_boundary_refuses_bad_input_naming_it(change, match):
    X, y = _two_blobs()
    args = dict(X=X, y=y, w=[1.0, 0.3], b=0.0) | change
    with pytest.raises(ValueError, match=match):
        plot_decision_boundary(**args)


def test_decision_regions_of_string_labels_and_given_classes():
    rng = np.random.default_rng(1)
    centers = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -1.0]])
    codes = np.repeat(np.arange(3), [20, 15, 25])
    X = centers[codes] + rng.normal(size=(60, 2)) * 0.5
    coef, intercept = centers, -0.5 * (centers ** 2).sum(axis=1)
    names = np.array(["ant", "bee", "cat"])
    # default classes: the sorted labels of y, row i of coef is class i
    fig = plot_decision_regions(X, names[codes], coef, intercept)
    assert _points(fig.axes[0], ("class ant", "class bee", "class cat")) == {
        "class ant": 20, "class bee": 15, "class cat": 25}
    # given classes, in any order, even if absent from y: row i is classes[i]
    order = np.array(["cat", "ant", "bee"])
    fig = plot_decision_regions(X[codes > 0], order[codes[codes > 0]], coef,
                                intercept, classes=order, labels=order)
    assert _points(fig.axes[0], order) == {"cat": 0, "ant": 15, "bee": 25}
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == list(order)


def test_decision_regions_of_a_binary_coef_split_by_its_sign():
    X, y = _two_blobs()
    w, b = np.array([[1.0, 0.3]]), np.array([0.2])
    fig = plot_decision_regions(X, np.where(y == 1, "yes", "no"), w, b)
    ax = fig.axes[0]
    assert _points(ax, ("class no", "class yes")) == {"class no": (y == 0).sum(),
                                                      "class yes": (y == 1).sum()}
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == \
        ["class no", "class yes"]
    # the regions of the filled contour: "yes" where w . x + b > 0
    no_region, yes_region = ax.collections[0].get_paths()
    for point in ([2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]):
        positive = (w @ point + b)[0] > 0
        assert yes_region.contains_point(point) == positive
        assert no_region.contains_point(point) == (not positive)


@pytest.mark.parametrize("change, match", [
    (dict(labels=["a", "b"]), r"^labels must hold 3 names, got 2"),
    (dict(intercept=np.zeros(2)), r"^intercept must be of shape \(3,\) to match coef"),
    (dict(coef=np.ones(3)), r"^coef must have shape \(k, 2\), got \(3,\)"),
    (dict(y=np.zeros(59, dtype=int)), r"^y has 59 labels but X has 60 rows"),
    (dict(X=np.ones((60, 1))), r"^X must have exactly 2 features"),
    (dict(y=np.array(["a", "b"] * 30)), r"^y holds 2 distinct label\(s\) .* but the "
                                        r"model has 3 classes; pass classes="),
    (dict(classes=["a", "b"]), r"^classes must have shape \(3,\)"),
    (dict(classes=["a", "b", "a"]), r"^classes must be distinct"),
    (dict(classes=[0, 1, 5]), r"^y holds labels that are not among the classes: "
                              r"2 \(the classes: \[0, 1, 5\]\)$"),
])
def test_decision_regions_refuse_bad_input_naming_it(change, match):
    X, _ = _two_blobs()
    args = dict(X=X, y=np.arange(60) % 3, coef=np.eye(3, 2),
                intercept=np.zeros(3)) | change
    with pytest.raises(ValueError, match=match):
        plot_decision_regions(**args)


@pytest.mark.parametrize("y_true", [np.array([0, 1, 2] * 4),
                                    np.array(["a", "b", "c", "d"] * 3)],
                         ids=["int-vs-str", "one-unknown"])
def test_roc_curves_refuse_labels_not_among_classes(y_true):
    proba = np.full((12, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"^y_true holds labels that are not "
                                         r"among the classes: .* \(the classes: "
                                         r"\['a', 'b', 'c'\]\)$"):
        plot_roc_curves(y_true, proba, ["a", "b", "c"])


def test_loss_curves_of_a_2d_array_one_per_model_nan_padded():
    """fastlr.train_many's losses: (K, epochs), NaN once a model stopped."""
    losses = np.array([[0.7, 0.5, 0.4, 0.35],
                       [0.6, 0.55, np.nan, np.nan],
                       [np.nan] * 4])   # losses not tracked
    fig = plot_loss_curve(losses)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["model 0", "model 1", "model 2"]
    assert [line.get_ydata().shape[0] for line in lines] == [4, 4, 4]
    np.testing.assert_array_equal(lines[1].get_ydata(), losses[1])
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        ["model 0", "model 1", "model 2"]


@pytest.mark.parametrize("curves", [[0.5, 0.1, 0.0], {"a": [0.5, 0.2], "b": [-0.1]}])
def test_loss_curves_with_zero_or_negative_losses_get_a_linear_axis(curves):
    """A log axis would drop those points silently."""
    fig = plot_loss_curve(curves)
    assert fig.axes[0].get_yscale() == "linear"


@pytest.mark.parametrize("curves, match", [
    ([0.5, np.inf], r"^curves contains infinity"),
    ({"a": [0.5], "b": [0.5, -np.inf]}, r"^curves\['b'\] contains infinity"),
    (np.ones((2, 3, 4)), r"^curves must have shape \(epochs,\) or \(K, epochs\), "
                         r"got shape \(2, 3, 4\)"),
    ({"a": np.ones((3, 2))}, r"^curves\['a'\] must have shape \(epochs,\), got"),
    ({}, r"^curves is empty"),
    ([], r"^curves is empty: no loss to plot"),
    ({"a": [0.5], "b": []}, r"^curves\['b'\] is empty"),
])
def test_loss_curve_refuses_bad_curves_naming_them(curves, match):
    with pytest.raises(ValueError, match=match):
        plot_loss_curve(curves)


def _bad_calls():
    X, y = _two_blobs()
    return {
        "boundary": lambda ax: plot_decision_boundary(X, y[:-1], [1.0, 0.3], 0.0,
                                                      ax=ax),
        "regions": lambda ax: plot_decision_regions(X, y, np.eye(2), np.zeros(2),
                                                    labels=["a"], ax=ax),
        "loss": lambda ax: plot_loss_curve({"a": [0.5, 0.4], "b": [np.inf]}, ax=ax),
        "roc": lambda ax: plot_roc_curves(y, np.full((60, 2), 0.5), ["0", "1"],
                                          ax=ax),
    }


@pytest.mark.parametrize("which", sorted(_bad_calls()))
def test_bad_input_leaves_the_given_axes_untouched(which):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    with pytest.raises(ValueError):
        _bad_calls()[which](ax)
    assert len(fig.axes) == 1
    assert not ax.collections and not ax.lines and ax.get_legend() is None


@pytest.mark.parametrize("n_bins", [2, 7, 10, 13, 1000])
def test_calibration_bins_are_equal_width_bins_of_0_to_1(n_bins):
    """Each point of the reliability curve is the mean of the rows of one
    of np.linspace(0, 1, n_bins + 1)'s bins (the last closed), edges
    included; the histogram's bars are the non-empty bins."""
    rng = np.random.default_rng(n_bins)
    prob = np.concatenate([rng.random(3000), np.linspace(0, 1, n_bins + 1),
                           [0.0, 1.0, 0.1, 0.3, 0.7]])
    y = (rng.random(prob.shape[0]) < prob).astype(int)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, prob, side="right") - 1, 0, n_bins - 1)
    used = np.unique(which)
    fig = plot_calibration(y, prob, n_bins=n_bins)
    curve = fig.axes[0].get_lines()[1]
    np.testing.assert_allclose(curve.get_xdata(),
                               [prob[which == b].mean() for b in used], rtol=1e-12)
    np.testing.assert_allclose(curve.get_ydata(),
                               [y[which == b].mean() for b in used], rtol=1e-12)
    bars = fig.axes[1].patches
    assert [round(p.get_height()) for p in bars] == \
        [int((which == b).sum()) for b in used]
    np.testing.assert_allclose([p.get_x() for p in bars], edges[used], rtol=1e-12)


def test_calibration_with_a_huge_n_bins_costs_only_the_rows():
    """n_bins = 10**12 draws the rows' bins: no 8 TB of edges, no 10**12
    bars (it used to allocate by n_bins and hang)."""
    prob = np.array([0.1, 0.5, 0.5, 0.9])
    fig = plot_calibration([0, 1, 0, 1], prob, n_bins=10**12)
    assert len(fig.axes[1].patches) == 3
    np.testing.assert_array_equal(fig.axes[0].get_lines()[1].get_ydata(),
                                  [0.0, 0.5, 1.0])


@pytest.mark.parametrize("which", ["boundary", "regions"])
def test_decision_plots_of_x_near_the_float64_limit(which):
    """X of +-1e308 is finite and accepted: its padded range overflowed to
    inf, contours were drawn on the caller's axes and then setting the
    limits raised. The grid is now computed without overflow."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    X = np.sign(rng.normal(size=(40, 2))) * 1e308
    y = (X[:, 0] > 0).astype(int)
    fig, ax = plt.subplots()
    try:
        if which == "boundary":
            plot_decision_boundary(X, y, np.array([1e-308, 0.0]), 0.0, ax=ax)
        else:
            plot_decision_regions(X, y, np.array([[1e-308, 0.0]]), np.array([0.0]),
                                  ax=ax)
        assert np.isfinite(ax.get_xlim()).all() and np.isfinite(ax.get_ylim()).all()
    finally:
        plt.close(fig)


@pytest.mark.parametrize("value", [0.0, 1.0, 2024.0, -1e6])
@pytest.mark.parametrize("which", ["boundary", "regions"])
def test_decision_plots_of_a_constant_feature(which, value):
    """A feature constant at ``value`` (a year, say): its range was padded
    by 1e-12, lost to rounding from about 2,000 on, so the shaded
    probabilities or regions were a strip of no width on a blank plot. A
    (nearly) constant feature is now padded by 5% of its value (1 at 0),
    and the shading covers the plot."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    X = np.column_stack([np.full(50, value), x])
    y = (x > 0).astype(int)
    fig, ax = plt.subplots()
    try:
        if which == "boundary":
            plot_decision_boundary(X, y, np.array([0.0, 2.0]), 0.0, ax=ax)
        else:
            plot_decision_regions(X, y, np.array([[0.0, 2.0]]), np.array([0.0]),
                                  ax=ax)
        lo, hi = ax.get_xlim()
        assert lo < value < hi and hi - lo >= 0.09 * max(abs(value), 1.0)
        shaded = ax.collections[0].get_paths()
        x0 = min(p.get_extents().x0 for p in shaded if len(p.vertices))
        x1 = max(p.get_extents().x1 for p in shaded if len(p.vertices))
        assert x0 <= lo + 1e-9 * (hi - lo) and x1 >= hi - 1e-9 * (hi - lo)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("plot", ["boundary", "regions", "loss", "roc", "rocs",
                                  "calibration"])
def test_an_ax_that_is_not_axes_is_refused_naming_it(plot):
    """``ax="x"`` raised AttributeError: 'str' object has no attribute
    'figure'."""
    from fastlr import plotting

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    calls = {
        "boundary": lambda: plotting.plot_decision_boundary(X, y, [1.0, 0.0], 0.0,
                                                            ax="x"),
        "regions": lambda: plotting.plot_decision_regions(X, y, np.eye(2),
                                                          np.zeros(2), ax="x"),
        "loss": lambda: plotting.plot_loss_curve([0.5, 0.4], ax="x"),
        "roc": lambda: plotting.plot_roc_curve(y, X[:, 0], ax="x"),
        "rocs": lambda: plotting.plot_roc_curves(y, np.full((30, 2), 0.5), [0, 1],
                                                 ax="x"),
        "calibration": lambda: plotting.plot_calibration(y, np.full(30, 0.5), ax="x"),
    }
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or None, got str"):
        calls[plot]()


def _curve(fig):
    """The x, y data of a ROC or calibration figure's model line."""
    line = next(ln for ln in fig.axes[0].get_lines()
                if ln.get_label() not in ("chance", "perfectly calibrated"))
    return line.get_xdata(), line.get_ydata(), line.get_label()


@pytest.mark.parametrize("plot", [plot_roc_curve, plot_calibration])
def test_binary_metric_plots_take_any_two_labels_with_pos_label(plot):
    """As scikit-learn's RocCurveDisplay and calibration_curve: labels 0/1
    or -1/1 need nothing (1 is positive); other labels need pos_label, and
    the error says so (it said to use fastlr.LogisticRegression)."""
    rng = np.random.default_rng(0)
    y01 = rng.integers(0, 2, 200)
    p = np.clip(0.6 * y01 + 0.4 * rng.random(200), 0, 1)
    want = _curve(plot(y01, p))
    for y, pos in ((np.where(y01 == 1, 1, -1), None),
                   (np.where(y01 == 1, "spam", "ham"), "spam"),
                   (np.where(y01 == 1, 7, 0), 7),
                   (y01.astype(bool), None), (y01.astype(float), None)):
        got = _curve(plot(y, p, pos_label=pos))
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    # the other label positive, with its own probabilities
    got = _curve(plot(np.where(y01 == 1, "spam", "ham"), 1 - p, pos_label="ham"))
    want = _curve(plot(1 - y01, 1 - p))
    np.testing.assert_array_equal(got[1], want[1])
    y = np.where(y01 == 1, "spam", "ham")
    with pytest.raises(ValueError, match=r"labels \['ham', 'spam'\]: pass "
                       r"pos_label=.*'spam'"):
        plot(y, p)
    with pytest.raises(ValueError, match="pos_label 'eggs' is not among"):
        plot(y, p, pos_label="eggs")
    with pytest.raises(ValueError, match="two labels"):
        plot(np.arange(200) % 3, p)


def test_calibration_axis_names_the_positive_class():
    y = np.array(["ham", "spam"] * 10)
    fig = plot_calibration(y, np.linspace(0, 1, 20), pos_label="spam")
    assert fig.axes[0].get_ylabel() == "fraction of class spam"
    assert fig.axes[1].get_xlabel() == "predicted probability of class spam"
    fig = plot_calibration(y == "spam", np.linspace(0, 1, 20))
    assert fig.axes[0].get_ylabel() == "fraction of class 1"


def test_loss_curve_takes_an_x_label_and_says_when_it_holds_no_loss():
    """An L-BFGS loss curve's points are iterations (the axis said
    "epoch"); a curve without a single loss (epoch_loss=None) drew an
    empty plot without a word."""
    fig = plot_loss_curve([0.5, 0.4], xlabel="L-BFGS iteration")
    assert fig.axes[0].get_xlabel() == "L-BFGS iteration"
    assert plot_loss_curve([0.5]).axes[0].get_xlabel() == "epoch"
    assert not plot_loss_curve([0.5]).axes[0].texts
    ax = plot_loss_curve([np.nan] * 5).axes[0]
    assert "no loss recorded" in " ".join(t.get_text() for t in ax.texts)
    assert not plot_loss_curve({"a": [0.5], "b": [np.nan]}).axes[0].texts


def _three_blobs():
    """Rows of the labels 1, 2, 3 and a model of them (row i of coef: class
    i + 1)."""
    rng = np.random.default_rng(5)
    centers = np.array([[-5.0, 0.0], [0.0, 5.0], [5.0, 0.0]])
    codes = np.repeat(np.arange(3), 20)
    X = centers[codes] + rng.normal(size=(60, 2)) * 0.5
    return X, codes + 1, centers, -0.5 * (centers ** 2).sum(axis=1)


def test_decision_regions_of_rows_missing_a_class_keep_the_model_s_labels():
    """Labels 1, 2 of a 1, 2, 3 model were taken for the row indices 0 .. 2:
    every point had the colour and legend entry of the next class."""
    X, y, coef, intercept = _three_blobs()
    keep = y < 3
    fig = plot_decision_regions(X[keep], y[keep], coef, intercept,
                                classes=[1, 2, 3])
    ax = fig.axes[0]
    assert _points(ax, ("class 1", "class 2", "class 3")) == {
        "class 1": 20, "class 2": 20, "class 3": 0}
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == \
        ["class 1", "class 2", "class 3"]
    # each point is drawn in the colour of the region the model puts it in
    regions = ax.collections[0].get_facecolor()
    for c in (1, 2):
        points = next(p for p in ax.collections if p.get_label() == f"class {c}")
        assert np.allclose(points.get_facecolor()[0][:3], regions[c - 1][:3])
    # without classes=, labels that do not name every class are not guessed
    with pytest.raises(ValueError, match=r"^y holds 2 distinct label\(s\) \[1, 2\] "
                                         r"but the model has 3 classes; pass "
                                         r"classes="):
        plot_decision_regions(X[keep], y[keep], coef, intercept)


@pytest.mark.parametrize("label", [1, 2, "no", "yes"])
def test_decision_boundary_of_rows_of_one_class_with_classes(label):
    """Rows of the negative class 1 of a 1/2 model were drawn as the positive
    class; rows of 2 alone, or of 'yes', could not be drawn."""
    X, y = _two_blobs()
    classes = [1, 2] if isinstance(label, int) else ["no", "yes"]
    positive = label == classes[1]
    rows = y == positive
    fig = plot_decision_boundary(X[rows], np.full(rows.sum(), label), [1.0, 0.3],
                                 0.0, classes=classes)
    names = (f"class {classes[0]}", f"class {classes[1]}")
    assert _points(fig.axes[0], names) == {names[positive]: rows.sum(),
                                           names[not positive]: 0}
    assert names[1] in fig.axes[1].get_ylabel()
    with pytest.raises(ValueError, match=r"^y holds 1 distinct label.* pass classes="):
        plot_decision_boundary(X[rows], np.full(rows.sum(), label), [1.0, 0.3], 0.0)


def _drawn_literally(fig):
    """Draw ``fig``; every text of it, as matplotlib reads it, is not mathtext."""
    import io

    from matplotlib.cbook import is_math_text
    from matplotlib.text import Text

    fig.savefig(io.BytesIO(), format="png")
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert not [t for t in texts if is_math_text(t)]
    return texts


@pytest.mark.parametrize("labels", [["$0-$10", "$10-$100", "$100+"],
                                    ["$5#$6", "$10^$20", "US$ 1_000-US$ 5_000"]])
def test_labels_and_feature_names_holding_dollars_are_drawn_as_they_read(labels):
    """'$0-$10' was drawn as math, '0 - 10'; '$5#$6' failed savefig."""
    X, y, coef, intercept = _three_blobs()
    names = np.array(labels)[y - 1]
    texts = _drawn_literally(plot_decision_regions(
        X, names, coef, intercept, classes=labels,
        feature_names=("cost ($)", "price ($ net, $)")))
    # (an escaped "$" is drawn as "$")
    assert f"class {labels[0]}".replace("$", r"\$") in texts
    rng = np.random.default_rng(0)
    _drawn_literally(plot_roc_curves(names, rng.dirichlet(np.ones(3), 60), labels))
    binary = names[y < 3]
    _drawn_literally(plot_decision_boundary(X[y < 3], binary, [1.0, 0.3], 0.0,
                                            classes=labels[:2]))
    _drawn_literally(plot_calibration(binary, rng.random(binary.shape[0]),
                                      pos_label=labels[1]))


@pytest.mark.parametrize("which", ["boundary", "regions"])
def test_decision_plots_place_the_legend_without_scanning_the_points(which,
                                                                     monkeypatch):
    """loc="best" tested every point against every place: most of the time
    of saving a plot of many points. The legend goes to the corner with the
    fewest points."""
    import io

    from matplotlib.legend import Legend

    def scan(*args, **kwargs):
        raise AssertionError("the legend scanned the points for a place")

    monkeypatch.setattr(Legend, "_find_best_position", scan)
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(400, 2))
    X[X[:, 0] < 0.5] += 10.0   # upper right and lower left crowded
    y = (X[:, 0] > 5).astype(int)
    fig = plot_decision_boundary(X, y, [1.0, 0.0], -5.0) if which == "boundary" \
        else plot_decision_regions(X, y, [[0.0, 0.0], [1.0, 0.0]], [0.0, -5.0])
    fig.savefig(io.BytesIO(), format="png")
    # (the first empty corner, in matplotlib's order of preference)
    assert fig.axes[0].get_legend()._loc == Legend.codes["upper left"]


def test_roc_auc_is_scikit_learn_s_from_the_curve_without_a_second_sort(monkeypatch):
    """roc_auc_score sorted the scores again after roc_curve (2.2-2.7x the
    time): the area of the curve drawn is its value, ties included."""
    import sklearn.metrics
    from sklearn.metrics import auc, roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    proba = np.round(rng.dirichlet(np.ones(3), 500), 1)   # many ties
    proba[:, 0] = np.where(y == 0, proba[:, 0] + 0.2, proba[:, 0]).round(1)
    expected = [roc_auc_score(y == c, proba[:, c]) for c in range(3)]
    for c in range(3):
        fpr, tpr, _ = roc_curve(y == c, proba[:, c])
        assert auc(fpr, tpr) == expected[c]

    def second_sort(*args, **kwargs):
        raise AssertionError("roc_auc_score called")

    monkeypatch.setattr(sklearn.metrics, "roc_auc_score", second_sort)
    fig = plot_roc_curve(y == 0, proba[:, 0])
    assert fig.axes[0].get_lines()[0].get_label() == \
        f"model (AUC = {expected[0]:.3f})"
    fig = plot_roc_curves(y, proba, [0, 1, 2])
    assert [line.get_label() for line in fig.axes[0].get_lines()[:3]] == \
        [f"{c} vs rest (AUC = {expected[c]:.3f})" for c in range(3)]


def test_models_compared_on_one_axes_share_the_diagonal_and_are_named():
    """Each call drew the diagonal and its legend entry again, and the
    calibration curve was always "model"."""
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    a, b = np.clip(0.6 * y + 0.4 * rng.random(200), 0, 1), rng.random(200)
    roc_ax, cal_ax = Figure().subplots(1, 2)
    for name, score in (("model A", a), ("model B", b)):
        plot_roc_curve(y, score, ax=roc_ax, label=name)
        plot_calibration(y, score, ax=cal_ax, label=name)
    roc = [t.get_text() for t in roc_ax.get_legend().get_texts()]
    assert [t.split(" (")[0] for t in roc] == ["model A", "chance", "model B"]
    assert [t.get_text() for t in cal_ax.get_legend().get_texts()] == \
        ["perfectly calibrated", "model A", "model B"]
    assert len(roc_ax.get_lines()) == len(cal_ax.get_lines()) == 3


def test_calibration_of_rows_of_the_negative_class_only():
    """As scikit-learn's calibration_curve: a pos_label absent from y_true
    (a benign-only subgroup) means every row is negative; it was refused."""
    from sklearn.calibration import calibration_curve

    prob = np.array([0.05, 0.12, 0.31, 0.29, 0.62, 0.58])
    y = np.array(["benign"] * 6)
    fig = plot_calibration(y, prob, n_bins=3, pos_label="malignant")
    frac, mean = calibration_curve(y, prob, n_bins=3, pos_label="malignant")
    curve = fig.axes[0].get_lines()[1]
    np.testing.assert_allclose(curve.get_xdata(), mean)
    np.testing.assert_array_equal(curve.get_ydata(), frac)
    # ROC still needs both classes; two labels without pos_label are refused
    with pytest.raises(ValueError, match="^y_true holds a single class"):
        plot_roc_curve(y, prob, pos_label="malignant")
    with pytest.raises(ValueError, match="^pos_label 'malignant' is not among"):
        plot_calibration(np.array(["benign", "other"] * 3), prob,
                         pos_label="malignant")


@pytest.mark.parametrize("which", ["boundary", "regions"])
def test_decision_plots_name_the_axes_after_a_dataframe_s_columns(which):
    pd = pytest.importorskip("pandas")
    X, y = _two_blobs()
    df = pd.DataFrame(X, columns=["age", "income ($)"])
    plot = plot_decision_boundary if which == "boundary" else plot_decision_regions
    ax = plot(df, y, [[1.0, 0.3]], [0.0]).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("age", r"income (\$)")
    ax = plot(df, y, [[1.0, 0.3]], [0.0], feature_names=("a", "b")).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("a", "b")
    ax = plot(X, y, [[1.0, 0.3]], [0.0]).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("feature 1", "feature 2")


def test_an_ax_in_a_subfigure_returns_the_figure_to_save(tmp_path):
    """A SubFigure came back, which has no savefig: the docstrings promise a
    Figure."""
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subfigures(1, 2)
    X, y = _two_blobs()
    for out in (plot_roc_curve(y, X[:, 0], ax=left.add_subplot()),
                plot_calibration(y, (X[:, 0] > 0) * 0.8 + 0.1, ax=right.add_subplot()),
                plot_decision_boundary(X, y, [1.0, 0.3], 0.0,
                                       ax=right.subfigures(2, 1)[1].add_subplot())):
        assert out is fig
    fig.savefig(tmp_path / "two.png")


def _looks(lines):
    """How each line is drawn: its colour and style."""
    return [(tuple(np.round(to_rgba(line.get_color()), 6)), line.get_linestyle())
            for line in lines]


@pytest.mark.parametrize("k", [15, 20])
def test_roc_curves_of_up_to_20_classes_are_each_drawn_their_own_way(k):
    """The 10-colour cycle drew the curves of classes c and c + 10 alike."""
    rng = np.random.default_rng(0)
    y = np.arange(400) % k
    fig = plot_roc_curves(y, rng.dirichlet(np.ones(k), 400), np.arange(k))
    looks = _looks(fig.axes[0].get_lines()[:k])
    assert len(set(looks)) == k


def test_loss_curves_of_many_models_are_each_drawn_their_own_way():
    """4 line styles x 10 colours drew curves j and j + 20 alike."""
    fig = plot_loss_curve(np.linspace(1.0, 0.5, 10) * np.linspace(1, 2, 25)[:, None])
    looks = _looks(fig.axes[0].get_lines())
    assert len(looks) == 25 and len(set(looks)) == 25


@pytest.mark.parametrize("k", [25, 300])
def test_decision_regions_of_many_classes_stay_readable(k):
    """Past 20 classes tab20 and 10 markers drew classes c and c + 20 alike,
    the legend ran off the figure, and 300 colour bar labels overlapped."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(k, 2)) * 10
    y = np.arange(3 * k) % k
    X = centers[y] + rng.normal(size=(3 * k, 2))
    fig = plot_decision_regions(X, y, centers, -0.5 * (centers ** 2).sum(axis=1))
    ax, bar = fig.axes
    points = [c for c in ax.collections if c.get_label().startswith("class ")]
    colours = {tuple(c.get_facecolor()[0]) for c in points}
    assert len(points) == k and len(colours) == k
    assert ax.get_legend() is None
    assert len(bar.get_yticklabels()) <= 40


@pytest.mark.parametrize("which", ["boundary", "regions"])
def test_decision_plots_draw_the_classes_interleaved(which):
    """A scatter per class drew the classes one after another: where they
    overlap, the last class hid the others (100,000 points looked like the
    last class's). The points are drawn in a seeded shuffled order, in
    rounds of a scatter per class in a random order, each point with its
    class's colour and marker, and the legend keeps an entry per class."""
    rng = np.random.default_rng(0)
    m = 4000
    X = rng.normal(size=(m, 2))
    y = np.repeat([0, 1], m // 2)   # the same cloud, one class after the other
    names = ("class 0", "class 1")
    if which == "boundary":
        def draw():
            return plot_decision_boundary(X, y, [1.0, 0.0], 0.0)
    else:
        def draw():
            return plot_decision_regions(X, y, [[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0])
    ax = draw().axes[0]
    offsets, faces, markers = _drawn(ax)
    entries = {c.get_label(): c for c in ax.collections if c.get_label() in names}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(names)
    # every point once, in another order than the rows'
    order = np.lexsort(offsets.T[::-1])
    np.testing.assert_array_equal(offsets[order], X[np.lexsort(X.T[::-1])])
    drawn = np.isclose(faces, entries["class 1"].get_facecolor()[0]).all(axis=1)
    assert drawn.shape[0] == m and drawn.sum() == m // 2
    # class 1 is as common among the last points drawn as among the first
    last, first = drawn[-m // 4:].mean(), drawn[:m // 4].mean()
    assert 0.4 < last < 0.6 and 0.4 < first < 0.6
    # and is drawn last in about half the rounds of scatters
    from matplotlib.collections import PathCollection

    rounds = [c for c in ax.collections if isinstance(c, PathCollection)
              and c.get_offsets().shape[0] > 0]
    tops = [np.isclose(b.get_facecolor()[0], entries["class 1"].get_facecolor()[0]).all()
            for a, b in zip(rounds[::2], rounds[1::2], strict=True)]
    assert 0.25 < np.mean(tops) < 0.75
    # each point has its class's marker, as its legend entry shows it
    for name, is_class in (("class 1", drawn), ("class 0", ~drawn)):
        marker = entries[name].get_paths()[0].vertices
        assert all(np.array_equal(v, marker)
                   for v, hit in zip(markers, is_class, strict=True) if hit)
    # the same figure each time (seeded)
    np.testing.assert_array_equal(_drawn(draw().axes[0])[0], offsets)


def _border_segments(ax):
    from matplotlib.collections import LineCollection

    (borders,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    return np.asarray(borders.get_segments())


def test_decision_regions_draw_each_border_once():
    """The label map's contours at 0.5 .. k - 1.5 drew the border between
    classes i and j as |i - j| lines side by side (a thick band where many
    classes meet). Class 1 never wins here: classes 0 and 2 meet on x = 0,
    whose border is now one line there."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1.0, 1.0, size=(200, 2))
    y = np.arange(200) % 3
    coef, intercept = [[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]], [0.0, -100.0, 0.0]
    ax = plot_decision_regions(X, y, coef, intercept).axes[0]
    seg = _border_segments(ax)
    lo, hi = ax.get_ylim()
    cell = (ax.get_xlim()[1] - ax.get_xlim()[0]) / 199
    # one line on x = 0 (within half a grid cell), as long as the plot is tall
    assert np.abs(seg[..., 0]).max() <= cell / 2 + 1e-12
    length = np.hypot(*(seg[:, 1] - seg[:, 0]).T).sum()
    assert length == pytest.approx(hi - lo, rel=0.02)
    # no segment twice, whichever way it runs
    ends = {tuple(sorted(map(tuple, s))) for s in seg}
    assert len(ends) == seg.shape[0]


def test_decision_regions_of_many_classes_draw_their_borders_once():
    """At 25 classes, each border between two regions is drawn once: no
    two border segments lie on top of each other or side by side within a
    grid cell's fraction, and one region alone has no border."""
    rng = np.random.default_rng(1)
    k = 25
    centers = rng.normal(size=(k, 2)) * 10
    y = np.arange(3 * k) % k
    X = centers[y] + rng.normal(size=(3 * k, 2))
    ax = plot_decision_regions(X, y, centers,
                               -0.5 * (centers ** 2).sum(axis=1)).axes[0]
    seg = _border_segments(ax)
    mids = seg.mean(axis=1)
    cell = (ax.get_xlim()[1] - ax.get_xlim()[0]) / 199
    # (the old bands: parallel copies a quarter or half a cell apart)
    gaps = np.hypot(*(mids[:, None] - mids[None]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 0.2 * cell
    one = plot_decision_regions(X[:3], np.zeros(3, dtype=int), [[0.0, 0.0]] * 2,
                                [1.0, 0.0], classes=[0, 1]).axes[0]
    assert _border_segments(one).shape[0] == 0
