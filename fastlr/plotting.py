"""Matplotlib figures: decision boundary (binary) and regions (k classes),
loss curves, ROC curves, calibration.

matplotlib is imported inside the functions, and figures are built with
``matplotlib.figure.Figure`` (no pyplot state, no GUI backend needed), so
these work on a headless machine and in threads.

Each function returns the ``Figure`` it drew on: a new one, or that of
``ax`` (the whole figure when ``ax`` lies in a SubFigure). A new figure is
not pyplot's, so ``plt.show()`` does not show it and ``fig.show()`` refuses:
save it (``fig.savefig("roc.png")``), let Jupyter display it as a cell's
value, or draw into a pyplot figure to show it
(``fig, ax = plt.subplots(); plot_roc_curve(y, p, ax=ax); plt.show()``).

Class labels and feature names are data, drawn as they are: a ``$`` in them
is a dollar sign, not the start of matplotlib's mathtext (``"$0-$10"`` is
not ``0 - 10`` in italics, and ``"$5#$6"`` does not fail the drawing).
Titles and the other text arguments are the caller's, mathtext included.
"""

import numpy as np


def _axes(ax, figsize=(6, 4.5)):
    """``(figure, axes)``: those of ``ax``, or a new figure's."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got "
                            f"{type(ax).__name__}")
        return ax.figure, ax

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


#: Colour map of the probability of class 1 and the colours of the two classes,
#: taken from its ends, so that a point's colour is the colour of the region
#: the model assigns its class to.
BINARY_CMAP = "RdBu"

#: Line styles and markers of successive curves in one plot: curves that lie
#: on top of each other (fastlr and the reference agree to ~1e-10) stay
#: visible as a dashed line over a solid one, each with its own markers.
CURVE_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))


def _class_colors(k):
    """``k`` distinct colours, one a class or curve: tab10's for up to 10,
    tab20's for up to 20, past them the ``turbo`` colour map sampled at
    ``k`` points (a cycle of 10 or 20 colours drew classes c and c + 20
    alike)."""
    import matplotlib

    if k > 20:
        from matplotlib.colors import LinearSegmentedColormap

        # (interpolated: the 256 colours of turbo's table repeat past 256)
        turbo = LinearSegmentedColormap.from_list(
            "turbo", matplotlib.colormaps["turbo"].colors, N=max(k, 256))
        return [turbo(x) for x in np.linspace(0.0, 1.0, k)]
    base = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [base(c) for c in range(k)]


def _cycled_colors(k):
    """The colours of ``k`` curves: matplotlib's cycle (that of the Axes,
    which curves drawn on it before continue) for up to 10, else
    :func:`_class_colors`."""
    return [None] * k if k <= 10 else _class_colors(k)


#: Most classes a decision-regions plot names in its legend: past them the
#: legend ran off the figure and squashed the axes (25 classes), and the
#: colour bar names the regions' colours; it names at most
#: ``2 * LEGEND_CLASSES`` of them, evenly spaced (300 labels overlapped).
LEGEND_CLASSES = 20


def _grid(X, steps=200):
    """The plot's grid over X's range padded by 10%, computed so that X
    near the float64 limit (1e308) does not overflow: the range in halves,
    the padded ends clipped to the finite range, the points as convex
    combinations of the ends. A (nearly) constant feature is padded by 5%
    of its value (1 at 0), as matplotlib widens such a range: a pad from
    its spread would be lost to rounding (a year: 2024 +- 1e-12)."""
    top = np.finfo(np.float64).max
    lo, hi = X.min(axis=0), X.max(axis=0)
    half = hi / 2 - lo / 2
    big = np.maximum(np.abs(lo), np.abs(hi))
    flat = ~(half > 1e-9 * big)
    pad = np.where(flat, np.where(big > 0.0, 0.05 * big, 1.0), 0.2 * half)
    with np.errstate(over="ignore"):
        lo, hi = np.maximum(lo - pad, -top), np.minimum(hi + pad, top)
    t = np.linspace(0.0, 1.0, steps)
    g0, g1 = np.meshgrid(lo[0] * (1 - t) + hi[0] * t, lo[1] * (1 - t) + hi[1] * t)
    return g0, g1, lo, hi


#: Rounds a decision plot draws its points in (:func:`_scatter_classes`),
#: and most scatters it makes for them.
SCATTER_ROUNDS = 32
SCATTER_MOST = 4096


def _scatter_classes(ax, X, codes, colors, markers, labels):
    """The points ``X`` (m, 2), the point of class ``codes[i]`` in
    ``colors[c]`` with marker ``markers[c]``, and a legend entry (an
    empty scatter named ``labels[c]``) per class.

    A scatter per class drew the classes one after another: where they
    overlap the last class hid the others (a plot of 100,000 points looked
    like that class's). The points are drawn in a seeded shuffled order,
    in :data:`SCATTER_ROUNDS` rounds (fewer past :data:`SCATTER_MOST`
    scatters), each round a scatter per class in an order of its own, so
    that no class is drawn over another more often than under it. A
    scatter keeps one colour and one marker, which matplotlib stamps
    fast: one scatter of per-point colours (or markers) took 12-15 s to
    save at 1M points, these 1.2 s (a scatter per class: 2.4 s)."""
    look = dict(s=30, edgecolors="k", linewidths=0.6)
    k = len(labels)
    for c in range(k):
        ax.scatter([], [], marker=markers[c], color=colors[c], label=labels[c], **look)
    rng = np.random.default_rng(0)
    rounds = max(1, min(SCATTER_ROUNDS, X.shape[0], SCATTER_MOST // k))
    for part in np.array_split(rng.permutation(X.shape[0]), rounds):
        by_class = part[np.argsort(codes[part], kind="stable")]
        counts = np.bincount(codes[part], minlength=k)
        ends = np.cumsum(counts)
        for c in rng.permutation(k).tolist():
            rows = by_class[ends[c] - counts[c]:ends[c]]
            if rows.shape[0]:
                ax.scatter(X[rows, 0], X[rows, 1], marker=markers[c],
                           color=colors[c], **look)


def _region_borders(g0, g1, region):
    """The segments (s, 2, 2) of the borders between the classes of the
    label map ``region`` on the grid ``g0``, ``g1`` (:func:`_grid`), each
    once: the 0.5 contour of each class's indicator, whose pieces on the
    border of classes i and j are i's and j's alike, kept once. (The label
    map's contours at 0.5 .. k - 1.5 drew the border of classes i and j
    as |i - j| lines side by side: a thick band.) Traced in grid units,
    where a crossing is an edge's midpoint exactly, so that i's and j's
    pieces compare equal."""
    import contourpy

    rows, cols = region.shape
    pieces = []
    for c in np.unique(region).tolist():
        trace = contourpy.contour_generator(
            z=(region == c).astype(np.float64), line_type="Separate")
        pieces.extend(np.stack([line[:-1], line[1:]], axis=1)
                      for line in trace.lines(0.5))
    if not pieces:
        return np.empty((0, 2, 2))
    seg = np.concatenate(pieces)
    # each segment's ends in one order: the same border traced by both of
    # its classes, in either direction, is then one segment
    ends = seg.reshape(-1, 4)
    swap = (ends[:, 0] > ends[:, 2]) | ((ends[:, 0] == ends[:, 2])
                                        & (ends[:, 1] > ends[:, 3]))
    ends[swap] = ends[swap][:, [2, 3, 0, 1]]
    seg = np.unique(ends, axis=0).reshape(-1, 2, 2)
    # grid units (column, row) to the grid's coordinates
    return np.stack([np.interp(seg[..., 0], np.arange(cols), g0[0]),
                     np.interp(seg[..., 1], np.arange(rows), g1[:, 0])], axis=-1)


def _label_plane(ax, X, lo, hi, feature_names, title, legend=True):
    """Limits, axis names, title and legend (if ``legend``) of a decision
    plot of the points ``X``."""
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_title(title)
    if legend:
        ax.legend(loc=_emptiest_corner(X, lo, hi))


#: The corners a decision plot's legend may take, in matplotlib's order of
#: preference, each with the part of the axes (fractions, x then y) it is
#: taken to cover.
LEGEND_CORNERS = (("upper right", (0.6, 1.0), (0.7, 1.0)),
                  ("upper left", (0.0, 0.4), (0.7, 1.0)),
                  ("lower left", (0.0, 0.4), (0.0, 0.3)),
                  ("lower right", (0.6, 1.0), (0.0, 0.3)))


def _emptiest_corner(X, lo, hi):
    """The corner of :data:`LEGEND_CORNERS` over the fewest of the points
    ``X`` in the view ``lo`` .. ``hi``: matplotlib's ``loc="best"`` tests
    every point against every place, most of the time of saving a plot of
    many points (4.4 s for a million, 1.6 s in a corner)."""
    # (in halves: X near the float64 limit does not overflow)
    at = (X / 2 - lo / 2) / (hi / 2 - lo / 2)
    counts = [np.count_nonzero((at[:, 0] >= x0) & (at[:, 0] <= x1)
                               & (at[:, 1] >= y0) & (at[:, 1] <= y1))
              for _, (x0, x1), (y0, y1) in LEGEND_CORNERS]
    return LEGEND_CORNERS[int(np.argmin(counts))][0]


def _finite(a, name):
    """``a`` as a float64 array of numbers, none NaN or infinite (``a``
    itself when it is one: the plots only read it)."""
    from ._validation import _as_numeric_array, all_finite

    arr = _as_numeric_array(a, name).astype(np.float64, copy=False)
    if not (all_finite(arr) if arr.ndim else np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _codes(y, classes, name):
    """The index in ``classes`` (distinct labels) of every label of ``y``;
    a label of ``y`` that is not among them raises, naming ``name``."""
    from ._validation import shown, unique_labels

    if unique_labels(classes, "classes").shape[0] != classes.shape[0]:
        raise ValueError(f"classes must be distinct, got [{shown(classes, item=repr)}]")
    codes = np.empty(y.shape[0], dtype=np.int64)
    found = np.empty(y.shape[0], dtype=bool)
    rows = _block_rows(classes.shape[0])
    for start in range(0, y.shape[0], rows):   # (a row x class table a block)
        hit = y[start:start + rows, None] == classes[None, :]
        codes[start:start + rows] = hit.argmax(axis=1)
        found[start:start + rows] = hit.any(axis=1)
    missing = unique_labels(y[~found], name)
    if missing.shape[0]:
        raise ValueError(f"{name} holds labels that are not among the classes: "
                         f"{shown(missing, 5, repr)} (the classes: "
                         f"[{shown(classes, item=repr)}])")
    return codes


def _block_rows(k, pairs=1 << 18):
    """Rows of ``k`` classes to take at a time so that a temporary of a
    value a row and class holds about ``pairs`` values."""
    return max(pairs // max(k, 1), 1)


def literal(text):
    """``text`` (any value, as ``str``) to draw as it reads: its ``$`` escaped,
    which matplotlib would take for mathtext delimiters."""
    return str(text).replace("$", r"\$")


def _feature_names(X, given):
    """``given``, else the names of ``X``'s two columns (a DataFrame's, as
    scikit-learn's ``DecisionBoundaryDisplay`` takes them), else
    "feature 1" and "feature 2"."""
    if given is not None:
        return given
    columns = getattr(X, "columns", None)
    return ("feature 1", "feature 2") if columns is None else list(columns)


def _names(values, k, name):
    """``values``, ``k`` names of ``name``, to draw as they read."""
    values = [literal(v) for v in values]
    if len(values) != k:
        raise ValueError(f"{name} must hold {k} names, got {len(values)}")
    return values


def _decision_inputs(X, y, coef, intercept, classes=None, binary=False,
                     names=("coef", "intercept")):
    """Check the arguments of the two decision plots, before anything is drawn.

    Returns ``X`` (m, 2), ``codes`` (m,) the class (index in ``classes``)
    of every point, ``coef`` (k, 2), ``intercept`` (k,) and ``classes``
    (k,). A binary model's single row (``coef`` of shape (2,) or (1, 2),
    ``intercept`` a scalar or of shape (1,)) becomes two rows, zeros for
    ``classes[0]`` and itself for ``classes[1]``: the argmax of the scores
    is then scikit-learn's rule (``classes[1]`` where ``w . x + b > 0``).
    ``classes`` defaults to the sorted distinct labels of ``y``, which must
    then number k: labels 1, 2 of a model of 1, 2, 3 or 0, 1, 2 are not
    guessed (the rows of a part of the data may miss a class).
    """
    from ._validation import check_X, labels_1d, unique_labels

    X = check_X(X, "X").astype(np.float64)
    if X.shape[1] != 2:
        raise ValueError(f"X must have exactly 2 features to plot a boundary, "
                         f"got shape {X.shape}")
    y = labels_1d(y, "y")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} labels but X has {X.shape[0]} rows; "
                         "they must match")
    given = _finite(coef, names[0]), _finite(intercept, names[1])
    coef, intercept = np.atleast_2d(given[0]), np.atleast_1d(given[1])
    k = coef.shape[0]
    if coef.ndim != 2 or coef.shape[1] != 2 or k == 0 or (binary and k != 1):
        raise ValueError(f"{names[0]} must have shape "
                         f"{'(2,) or (1, 2)' if binary else '(k, 2)'}, got "
                         f"{given[0].shape}")
    if intercept.shape != (k,):
        raise ValueError(f"{names[1]} must be {'a scalar or ' if k == 1 else ''}"
                         f"of shape ({k},) to match {names[0]}, got shape "
                         f"{given[1].shape}")
    if k == 1:
        coef = np.vstack([np.zeros((1, 2)), coef])
        intercept, k = np.concatenate([[0.0], intercept]), 2
    if classes is None:
        classes = unique_labels(y)
        if classes.shape[0] != k:
            raise ValueError(
                f"y holds {classes.shape[0]} distinct label(s) "
                f"{classes[:5].tolist()} but the model has {k} classes; pass "
                f"classes=, the model's {k} labels (e.g. clf.classes_)")
    classes = labels_1d(classes, "classes")
    if classes.shape[0] != k:
        raise ValueError(f"classes must have shape ({k},) (a label per class of "
                         f"the model), got {classes.shape}")
    return X, _codes(y, classes, "y"), coef, intercept, classes


def plot_decision_boundary(X, y, w, b, ax=None, title="Decision boundary",
                           labels=None, feature_names=None, classes=None):
    """Scatter two features coloured by label over the model's probability,
    with the line ``w . x + b = 0``.

    The background is the probability of the positive class, with a colour
    bar; each point has the colour of its class at the matching end of that
    scale (the negative class where the probability is 0, the positive one
    where it is 1), and a marker per class.

    Parameters
    ----------
    X : array_like of shape (m, 2)
    y : array_like of shape (m,)
        Labels of any type (0/1, -1/1, strings, ...), values of ``classes``.
    w : array_like of shape (2,) or (1, 2)
        Raw-space weights, e.g. ``clf.coef_`` of a binary model.
    b : float or array_like of shape (1,)
        Intercept, e.g. ``clf.intercept_``.
    ax : matplotlib Axes, optional
    title : str
    labels : pair of str, optional
        Names of the negative and the positive class (legend and colour
        bar); default ``"class " + label``.
    feature_names : pair of str, optional
        Axis labels; default the column names of a DataFrame ``X``, else
        "feature 1" and "feature 2".
    classes : array_like of shape (2,), optional
        The negative and the positive label, e.g. ``clf.classes_`` (the
        positive class is ``classes[1]``, where ``w . x + b > 0``). Default:
        the two distinct labels of ``y``, sorted (scikit-learn's
        ``classes_``); pass it when ``y`` may hold only one of them.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming the argument whose shape or values do not fit (more than two
        labels in ``y``, one without ``classes``, ...); the figure or ``ax``
        is left untouched.
    """
    import matplotlib

    feature_names = _feature_names(X, feature_names)
    X, codes, coef, intercept, classes = _decision_inputs(
        X, y, w, b, classes, binary=True, names=("w", "b"))
    labels = _names([f"class {c}" for c in classes.tolist()] if labels is None
                    else labels, 2, "labels")
    feature_names = _names(feature_names, 2, "feature_names")
    fig, ax = _axes(ax, figsize=(7, 4.8))
    cmap = matplotlib.colormaps[BINARY_CMAP]
    # X near the float64 limit: its logits, and matplotlib's margins,
    # overflow to inf quietly (the plot is drawn all the same)
    with np.errstate(over="ignore", invalid="ignore"):
        g0, g1, lo, hi = _grid(X)
        z = coef[1, 0] * g0 + coef[1, 1] * g1 + intercept[1]
        shade = ax.contourf(g0, g1, 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))),
                            levels=np.linspace(0.0, 1.0, 21), cmap=cmap, alpha=0.45,
                            vmin=0.0, vmax=1.0)
        ax.contour(g0, g1, z, levels=[0.0], colors="k", linewidths=1.5)
        _scatter_classes(ax, X, codes, [cmap(0.025), cmap(0.975)], "^s", labels)
        bar = fig.colorbar(shade, ax=ax, ticks=[0.0, 0.25, 0.5, 0.75, 1.0])
        bar.set_label(f"probability of {labels[1]} (black line: 0.5)")
        _label_plane(ax, X, lo, hi, feature_names, title)
    return fig.figure   # (the root of a SubFigure)


def plot_decision_regions(X, y, coef, intercept, ax=None, title="Decision regions",
                          labels=None, feature_names=None, classes=None):
    """Two features of a k-class (softmax) model: the region where each class
    is predicted, with the points coloured by their true class.

    Parameters
    ----------
    X : array_like of shape (m, 2)
    y : array_like of shape (m,)
        True labels, values of ``classes``.
    coef : array_like of shape (k, 2)
        Raw-space weights, row i those of ``classes[i]``; a binary model's
        single row (shape (1, 2) or (2,), scikit-learn's ``coef_``) scores
        ``classes[1]`` against ``classes[0]`` (k = 2).
    intercept : array_like of shape (k,)
        Shape (1,) or a scalar with a single row of ``coef``.
    ax : matplotlib Axes, optional
    title : str
    labels : sequence of k str, optional
        Class names (colour bar and legend); default ``"class " + label``.
        Past :data:`LEGEND_CLASSES` classes there is no legend, and the
        colour bar names some of them, evenly spaced; every class has its
        own colour.
    feature_names : pair of str, optional
        Axis labels; default the column names of a DataFrame ``X``, else
        "feature 1" and "feature 2".
    classes : array_like of shape (k,), optional
        The label of each class, e.g. ``clf.classes_``. Default: the sorted
        distinct labels of ``y``, which must then number k (pass it when the
        rows may miss a class).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming the argument whose shape or values do not fit; the figure or
        ``ax`` is left untouched.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import BoundaryNorm, ListedColormap

    feature_names = _feature_names(X, feature_names)
    X, codes, coef, intercept, classes = _decision_inputs(X, y, coef, intercept,
                                                          classes)
    k = classes.shape[0]
    labels = _names([f"class {c}" for c in classes.tolist()] if labels is None
                    else labels, k, "labels")
    feature_names = _names(feature_names, 2, "feature_names")
    colors = _class_colors(k)
    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(-0.5, k), k)
    fig, ax = _axes(ax, figsize=(7, 4.8))
    # X near the float64 limit: its logits, and matplotlib's margins,
    # overflow to inf quietly (the plot is drawn all the same)
    with np.errstate(over="ignore", invalid="ignore"):
        g0, g1, lo, hi = _grid(X)
        z = np.stack([g0, g1], axis=-1) @ coef.T + intercept
        region = z.argmax(axis=-1)
        shade = ax.contourf(g0, g1, region, levels=np.arange(-0.5, k), cmap=cmap,
                            norm=norm, alpha=0.35)
        ax.add_collection(LineCollection(_region_borders(g0, g1, region),
                                         colors="k", linewidths=1.0,
                                         capstyle="round"), autolim=False)
        markers = "os^Dv<>ph*"
        _scatter_classes(ax, X, codes, colors,
                         [markers[c % len(markers)] for c in range(k)], labels)
        every = -(-k // (2 * LEGEND_CLASSES))
        bar = fig.colorbar(shade, ax=ax, ticks=np.arange(0, k, every))
        bar.ax.set_yticklabels(labels[::every])
        bar.set_label("predicted class (region colour)")
        _label_plane(ax, X, lo, hi, feature_names, title, legend=k <= LEGEND_CLASSES)
    return fig.figure   # (the root of a SubFigure)


def plot_loss_curve(curves, ax=None, title="Training loss", ylabel="mean log-loss",
                    xlabel="epoch"):
    """Loss per epoch, one line per curve.

    Successive curves get different line styles and markers
    (:data:`CURVE_STYLES`), so that curves lying on top of each other stay
    visible. The vertical axis is logarithmic, or linear when a loss is
    zero or negative (or none is finite). A plot without a single loss (all
    NaN) says so.

    Parameters
    ----------
    curves : dict or array_like
        A dict of label -> array_like of shape (epochs,); or one array_like
        of shape (epochs,), labelled "loss"; or of shape (K, epochs), a
        curve per row labelled "model 0", "model 1", ... (the ``losses`` of
        :func:`fastlr.train_many`). NaN marks an epoch without a loss (not
        run: the padding of a model that stopped early; or not tracked) and
        is left out of the line; infinity is refused.
    ax : matplotlib Axes, optional
    title, ylabel : str
    xlabel : str, default "epoch"
        An estimator's ``loss_curve_`` after ``solver="lbfgs"`` or
        ``"auto"`` holds a loss per pass, SGD epochs then L-BFGS iterations:
        say so, e.g. ``xlabel="pass (1 SGD epoch, then L-BFGS iterations)"``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming ``curves`` (or the entry ``curves[label]``) when it is empty,
        of another shape, or holds infinity; ``ax`` is left untouched.
    """
    from ._validation import _as_numeric_array

    if isinstance(curves, dict):
        names = {label: f"curves[{label!r}]" for label in curves}
    else:
        arr = _as_numeric_array(curves, "curves")
        curves = {f"model {j}": row for j, row in enumerate(arr)} \
            if arr.ndim == 2 else {"loss": arr}
        names = dict.fromkeys(curves, "curves")
    if not curves:
        raise ValueError("curves is empty: no curve to plot")
    checked = {}
    for label, losses in curves.items():
        name = names[label]
        losses = _as_numeric_array(losses, name).astype(np.float64)
        if losses.ndim != 1:
            raise ValueError(f"{name} must have shape (epochs,)"
                             f"{' or (K, epochs)' if name == 'curves' else ''}, "
                             f"got shape {losses.shape}")
        if losses.shape[0] == 0:
            raise ValueError(f"{name} is empty: no loss to plot")
        if np.isinf(losses).any():
            raise ValueError(f"{name} contains infinity")
        checked[label] = losses
    values = np.concatenate(list(checked.values()))
    values = values[~np.isnan(values)]
    log = values.shape[0] > 0 and bool((values > 0).all())
    fig, ax = _axes(ax)
    colors = _cycled_colors(len(checked))
    for i, (label, losses) in enumerate(checked.items()):
        style, marker = CURVE_STYLES[i % len(CURVE_STYLES)]
        n = losses.shape[0]
        # about 10 markers per curve, shifted per curve so they do not hide
        # each other either
        every = max(n // 10, 1)
        ax.plot(np.arange(1, n + 1), losses, linestyle=style, marker=marker,
                markevery=(min(i * every // len(checked), max(n - 1, 0)), every),
                markersize=6, fillstyle="none" if i else "full",
                lw=2.2 if i == 0 else 1.6, color=colors[i], label=label)
    if values.shape[0] == 0:
        ax.text(0.5, 0.5, "no loss recorded: every value is NaN\n(not tracked, "
                "e.g. epoch_loss=None)", transform=ax.transAxes, ha="center",
                va="center")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log" if log else "linear")
    ax.set_title(title)
    ax.legend(loc="best")
    return fig.figure   # (the root of a SubFigure)


def _binary_scores(y_true, y_score, score_name, pos_label):
    """``(y01, score)``: 1.0 where ``y_true`` is ``pos_label``, else 0.0,
    and the scores as float64. Without ``pos_label`` the labels must be
    0/1 or -1/1 (either may be missing), and 1 is positive, as in
    scikit-learn's ``RocCurveDisplay`` and ``calibration_curve``; other
    labels need ``pos_label``, which a single label need not be (rows of
    the negative class only, as ``calibration_curve`` takes them)."""
    from ._validation import check_same_length, check_vector, labels_1d, unique_labels

    y = labels_1d(y_true, "y_true")
    score = check_vector(y_score, score_name).astype(np.float64)
    check_same_length(y, score, "y_true", score_name)
    classes = unique_labels(y, "y_true")
    shown = classes[:5].tolist()
    if classes.shape[0] > 2:
        raise ValueError(f"y_true must hold two labels (a binary problem), got "
                         f"{classes.shape[0]}, {shown[:3]} ...; for k classes use "
                         "plot_roc_curves, or pass y_true == label with that "
                         "class's scores")
    if pos_label is None:
        numeric = classes.dtype.kind in "biuf"
        if not (numeric and (set(classes.tolist()) <= {0, 1}
                             or set(classes.tolist()) <= {-1, 1})):
            raise ValueError(f"y_true holds the labels {shown}: pass pos_label=, "
                             f"the label {score_name} scores (e.g. pos_label="
                             f"{shown[-1]!r}, or clf.classes_[1] for a fitted "
                             "binary model); without it the labels must be 0/1 "
                             "or -1/1, and 1 is positive")
        pos_label = 1
    elif classes.shape[0] == 2 and not (classes == pos_label).any():
        raise ValueError(f"pos_label {pos_label!r} is not among y_true's labels "
                         f"{shown}")
    return (y == pos_label).astype(np.float64), score


def plot_roc_curve(y_true, y_score, ax=None, title="ROC curve", label="model",
                   pos_label=None):
    """Receiver operating characteristic: true vs false positive rate.

    Parameters
    ----------
    y_true : array_like of shape (m,)
        Two labels of any type; both must occur.
    y_score : array_like of shape (m,)
        Scores for the positive class, ``pos_label`` (probabilities or
        logits), e.g. ``clf.predict_proba(X)[:, 1]``.
    ax : matplotlib Axes, optional
    title : str
    label : str
        Legend entry; the area under the curve is appended. Models compared
        on one ``ax`` share the chance diagonal.
    pos_label : label, optional
        The positive class, as in scikit-learn's
        ``RocCurveDisplay.from_predictions``: needed unless the labels are
        0/1 or -1/1, where it is 1. For a fitted binary model the positive
        class is ``clf.classes_[1]``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When ``y_true`` holds other labels than 0/1 or -1/1 and no
        ``pos_label`` is given, more than two labels, or only one.
    """
    from sklearn.metrics import auc, roc_curve

    y01, score = _binary_scores(y_true, y_score, "y_score", pos_label)
    if np.unique(y01).shape[0] < 2:
        raise ValueError("y_true holds a single class; a ROC curve needs both")
    fpr, tpr, _ = roc_curve(y01, score)
    area = auc(fpr, tpr)   # (roc_auc_score's, without a second sort)
    fig, ax = _axes(ax, figsize=(5, 5))
    ax.plot(fpr, tpr, lw=2, label=f"{label} (AUC = {area:.3f})")
    _finish_roc(ax, title)
    return fig.figure   # (the root of a SubFigure)


def _diagonal(ax, label):
    """The dashed diagonal ``label`` of a ROC or calibration plot, drawn
    once on ``ax``: models compared on one Axes share it (and its legend
    entry)."""
    gid = f"fastlr: {label}"
    if not any(line.get_gid() == gid for line in ax.get_lines()):
        ax.plot([0, 1], [0, 1], "k--", lw=1, label=label, gid=gid)


def _finish_roc(ax, title, **legend):
    """The chance diagonal, limits, axis labels, ``title`` and legend
    (``legend``: more arguments of ``ax.legend``) of a ROC plot whose
    curves are drawn on ``ax``."""
    _diagonal(ax, "chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", **legend)


#: Most classes :func:`plot_roc_curves` draws a curve (and a legend entry)
#: for by default: past them its legend of k entries covered the axes (298
#: classes), and it draws the micro and macro averages instead.
ROC_CLASS_CURVES = 20


def plot_roc_curves(y_true, proba, classes, ax=None, title="ROC curves",
                    per_class=None):
    """One-vs-rest ROC curve of every class of a k-class model, or their
    micro and macro averages for many classes.

    Parameters
    ----------
    y_true : array_like of shape (m,)
        True labels, values of ``classes`` (a value that is not one of them
        raises ``ValueError``).
    proba : array_like of shape (m, k)
        Predicted probabilities, columns in the order of ``classes``.
    classes : array_like of shape (k,)
        Distinct labels, e.g. ``clf.classes_``.
    ax : matplotlib Axes, optional
    title : str
    per_class : bool or None
        Draw a curve for each class (True), or the micro average (the ROC
        curve of every row-and-class pair, in memory that grows with the
        rows, not the pairs) and the macro average (the mean
        of the classes' curves over a common false positive rate, its AUC
        the mean of their AUCs, as ``fastlr evaluate`` reports it) of the
        classes that ``y_true`` holds and does not consist of (False). None:
        per class for at most :data:`ROC_CLASS_CURVES` classes.

    Returns
    -------
    matplotlib.figure.Figure
        Per class, a class that is absent from ``y_true`` (or is all of it)
        has no curve; its legend entry says so.
    """
    from sklearn.metrics import auc, roc_curve

    from ._validation import labels_1d

    y_true, classes = labels_1d(y_true, "y_true"), labels_1d(classes, "classes")
    proba = _finite(proba, "proba")
    if proba.ndim != 2 or proba.shape != (y_true.shape[0], classes.shape[0]):
        raise ValueError(f"proba must have shape (len(y_true), len(classes)) = "
                         f"({y_true.shape[0]}, {classes.shape[0]}), got "
                         f"{proba.shape}")
    codes = _codes(y_true, classes, "y_true")
    if per_class is None:
        per_class = classes.shape[0] <= ROC_CLASS_CURVES
    fig, ax = _axes(ax, figsize=(5.5, 5.5))
    colors = _cycled_colors(classes.shape[0])
    for c, label in enumerate(map(literal, classes.tolist()) if per_class else ()):
        positive = (y_true == classes[c]).astype(np.int64)
        if 0 < positive.sum() < positive.shape[0]:
            fpr, tpr, _ = roc_curve(positive, proba[:, c])
            ax.plot(fpr, tpr, lw=1.8, color=colors[c], label=f"{label} vs rest "
                    f"(AUC = {auc(fpr, tpr):.3f})")
        else:
            ax.plot([], [], lw=1.8, color=colors[c],
                    label=f"{label}: no curve (the data has "
                    f"{'no' if positive.sum() == 0 else 'only'} rows of it)")
    if not per_class:
        _roc_averages(ax, codes, proba)
    _finish_roc(ax, title, fontsize="small")
    return fig.figure   # (the root of a SubFigure)


def _roc_averages(ax, codes, proba):
    """The micro and macro average ROC curves of :func:`plot_roc_curves`
    (``codes``: each row's class index), on ``ax``."""
    from sklearn.metrics import auc, roc_curve

    k = proba.shape[1]
    counts = np.bincount(codes, minlength=k)
    both = np.flatnonzero((counts > 0) & (counts < codes.shape[0]))
    if both.shape[0] == 0:
        ax.plot([], [], lw=1.8, label="no curve (the data holds a single class)")
        return
    fpr, tpr, micro = _micro_roc(codes, proba)
    ax.plot(fpr, tpr, lw=1.8, label=f"micro average (AUC = {micro:.3f})")
    grid = np.linspace(0.0, 1.0, 201)
    mean_tpr = np.zeros_like(grid)
    aucs = []
    for c in both.tolist():
        positive = codes == c
        f, t, _ = roc_curve(positive, proba[:, c])
        mean_tpr += np.interp(grid, f, t)
        aucs.append(auc(f, t))   # (roc_auc_score's, without a second sort)
    ax.plot(grid, mean_tpr / both.shape[0], lw=1.8,
            label=f"macro average of {both.shape[0]} classes (AUC = "
                  f"{np.mean(aucs):.3f})")


def _micro_roc(codes, proba):
    """``(fpr, tpr, auc)``: the micro average ROC curve of ``proba`` (m, k)
    for rows of the classes ``codes`` (m,) (the ROC curve of every
    row-and-class pair, positive where the class is the row's), exactly,
    as scikit-learn's ``roc_curve`` and ``roc_auc_score`` of the one-hot
    labels and ``proba`` raveled draw and score it, without their sort of
    the m x k pairs (75 bytes a pair: 3.5 GB for 100,000 rows of 500
    classes). The curve turns only at the m positive scores: the pairs at
    and above each are counted a block of rows at a time, so that memory
    grows with the rows, not the pairs. Its points: (0, 0), then for each
    distinct positive score from the highest the pairs above it and the
    pairs at or above it, then (1, 1)."""
    from sklearn.metrics import auc

    m, k = proba.shape
    own = proba[np.arange(m), codes]
    scores = np.unique(own)   # (ascending)
    n = scores.shape[0]

    def counts(values):
        """How many of ``values`` lie above each score, and at or above."""
        at_or_below = np.searchsorted(scores, values, side="right")
        tied = at_or_below > 0
        tied[tied] = scores[at_or_below[tied] - 1] == values[tied]
        # a value lies above the scores below its insertion point, and at or
        # above those and the score it equals
        above = np.bincount(at_or_below - tied, minlength=n + 1)
        at_or_above = np.bincount(at_or_below, minlength=n + 1)
        return above, at_or_above

    tp_gt, tp_ge = counts(own)
    all_gt, all_ge = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    rows = _block_rows(k)
    for start in range(0, m, rows):
        gt, ge = counts(proba[start:start + rows].ravel())
        all_gt += gt
        all_ge += ge
    # (index j + 1 of the counts' sums from the top: the values above, at
    # or above, scores[j]); from the highest score down
    tp_gt, tp_ge, all_gt, all_ge = (c[::-1].cumsum()[:-1] for c in
                                    (tp_gt, tp_ge, all_gt, all_ge))
    tp = np.empty(2 * n + 2)
    fp = np.empty(2 * n + 2)
    tp[0], fp[0], tp[-1], fp[-1] = 0, 0, m, m * (k - 1)
    tp[1:-1:2], tp[2:-1:2] = tp_gt, tp_ge
    fp[1:-1:2], fp[2:-1:2] = all_gt - tp_gt, all_ge - tp_ge
    fpr, tpr = fp / fp[-1], tp / tp[-1]
    return fpr, tpr, float(auc(fpr, tpr))


def plot_calibration(y_true, y_prob, n_bins=10, ax=None, title="Calibration",
                     what=None, ylabel=None, pos_label=None, label="model"):
    """Reliability diagram: observed frequency of the positive class per
    probability bin.

    Without ``ax`` the figure has a second panel below: the histogram of the
    predicted probabilities (how many rows each point rests on).

    Parameters
    ----------
    y_true : array_like of shape (m,)
        At most two labels, of any type; one, not ``pos_label``, for rows of
        the negative class only.
    y_prob : array_like of shape (m,)
        Predicted probabilities of the positive class, ``pos_label``, in
        [0, 1], e.g. ``clf.predict_proba(X)[:, 1]``.
    n_bins : int, default 10
        Equal-width bins on [0, 1], each closed on the left, [a, b) (the
        last holds 1.0, [a, 1]), as ``np.histogram``'s; empty bins are left
        out. scikit-learn's ``calibration_curve`` closes them on the right,
        (a, b]: a probability exactly on an inner edge (0.1, 0.2, ... for
        10 bins) falls in the next bin here, in the previous one there.
    ax : matplotlib Axes, optional
        Draw only the reliability curve on it (models compared on one Axes
        share its diagonal).
    title : str
    what : str, optional
        What ``y_true`` marks and ``y_prob`` is the probability of, for the
        axis labels; default ``"class " + pos_label`` (``"class 1"``). E.g.
        ``"the predicted class"`` for a k-class model's top-label
        calibration (``y_true``: prediction right, ``y_prob``: its
        probability).
    ylabel : str, optional
        Label of the vertical axis; default ``"fraction of " + what``.
    pos_label : label, optional
        The positive class, as in scikit-learn's ``calibration_curve``:
        needed unless the labels are 0/1 or -1/1, where it is 1. For a
        fitted binary model the positive class is ``clf.classes_[1]``.
    label : str, default "model"
        Legend entry of the curve.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When ``y_true`` holds other labels than 0/1 or -1/1 and no
        ``pos_label`` is given, or more than two labels.
    """
    from ._validation import check_positive_int

    y01, prob = _binary_scores(y_true, y_prob, "y_prob", pos_label)
    if what is None:
        what = f"class {1 if pos_label is None else literal(pos_label)}"
    if (prob < 0).any() or (prob > 1).any():
        raise ValueError("y_prob must contain probabilities in [0, 1]")
    n_bins = check_positive_int(n_bins, "n_bins", minimum=2)
    # the bin of each probability (the last holds 1.0), worked out for the
    # rows alone: memory and time do not grow with n_bins (10**9 bins would
    # take 8 GB of edges and a billion bars)
    width = 1.0 / n_bins    # np.linspace(0, 1, n_bins + 1)'s edges: i * width
    which = np.minimum(np.floor(prob * n_bins), n_bins - 1)
    which -= which * width > prob
    which += (which + 1 < n_bins) & ((which + 1) * width <= prob)
    bins, inverse, counts = np.unique(which.astype(np.int64), return_inverse=True,
                                      return_counts=True)
    mean_prob = np.bincount(inverse, prob) / counts
    frac_pos = np.bincount(inverse, y01) / counts
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 6), layout="constrained")
        ax, hist_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        fig, ax = _axes(ax)
        hist_ax = None
    _diagonal(ax, "perfectly calibrated")
    ax.plot(mean_prob, frac_pos, "o-", lw=2, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(ylabel or f"fraction of {what}")
    ax.set_title(title)
    ax.legend(loc="upper left")
    if hist_ax is None:
        ax.set_xlabel("mean predicted probability")
    else:
        hist_ax.bar(bins * width, counts, width=width, align="edge",
                    edgecolor="white")   # the bins that hold rows
        hist_ax.set_xlabel(f"predicted probability of {what}")
        hist_ax.set_ylabel("rows")
    return fig.figure   # (the root of a SubFigure)
