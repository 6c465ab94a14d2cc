"""Matplotlib figures: decision boundary, loss curve, ROC curve, calibration.

matplotlib is imported inside the functions, and figures are built with
``matplotlib.figure.Figure`` (no pyplot state, no GUI backend needed), so
these work on a headless machine and in threads.
"""

import numpy as np


def _axes(ax, figsize=(6, 4.5)):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def plot_decision_boundary(X, y, w, b, ax=None, title="Decision boundary",
                           labels=("class 0", "class 1"),
                           feature_names=("feature 1", "feature 2")):
    """Scatter two features coloured by label, with the line ``w . x + b = 0``.

    Parameters
    ----------
    X : array_like of shape (m, 2)
    y : array_like of shape (m,), labels 0/1
    w : array_like of shape (2,), raw-space weights
    b : float
    ax : matplotlib Axes, optional
    title : str
    labels : pair of str
        Legend entries for label 0 and label 1.
    feature_names : pair of str
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    w = np.asarray(w, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have exactly 2 features to plot a boundary, "
                         f"got shape {X.shape}")
    fig, ax = _axes(ax)
    ax.plot(X[y == 0, 0], X[y == 0, 1], "g^", label=str(labels[0]), alpha=0.8)
    ax.plot(X[y == 1, 0], X[y == 1, 1], "bs", label=str(labels[1]), alpha=0.8)
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-12)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    # shade each side of the boundary by the model's probability
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    z = w[0] * g0 + w[1] * g1 + b
    ax.contourf(g0, g1, 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))), levels=20,
                cmap="RdBu", alpha=0.25, vmin=0, vmax=1)
    ax.contour(g0, g1, z, levels=[0.0], colors="y", linewidths=2)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(str(feature_names[0]))
    ax.set_ylabel(str(feature_names[1]))
    ax.set_title(title)
    ax.legend(loc="best")
    return fig


def plot_loss_curve(curves, ax=None, title="Training loss"):
    """Loss per epoch, one line per entry of ``curves``.

    Parameters
    ----------
    curves : dict of label -> array_like, or one array_like
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(curves, dict):
        curves = {"loss": curves}
    fig, ax = _axes(ax)
    for label, losses in curves.items():
        losses = np.asarray(losses, dtype=np.float64)
        ax.plot(np.arange(1, losses.shape[0] + 1), losses, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log-loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(loc="best")
    return fig


def _binary_scores(y_true, y_score, score_name):
    from ._validation import check_labels01, check_same_length, check_vector

    y01 = check_labels01(y_true, "y_true")
    score = check_vector(y_score, score_name).astype(np.float64)
    check_same_length(y01, score, "y_true", score_name)
    return y01, score


def plot_roc_curve(y_true, y_score, ax=None, title="ROC curve", label="model"):
    """Receiver operating characteristic: true vs false positive rate.

    Parameters
    ----------
    y_true : array_like of shape (m,)
        Labels 0/1; both must occur.
    y_score : array_like of shape (m,)
        Scores for class 1 (probabilities or logits).
    ax : matplotlib Axes, optional
    title : str
    label : str
        Legend entry; the area under the curve is appended.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    y01, score = _binary_scores(y_true, y_score, "y_score")
    if np.unique(y01).shape[0] < 2:
        raise ValueError("y_true holds a single class; a ROC curve needs both")
    fpr, tpr, _ = roc_curve(y01, score)
    auc = roc_auc_score(y01, score)
    fig, ax = _axes(ax, figsize=(5, 5))
    ax.plot(fpr, tpr, lw=2, label=f"{label} (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def plot_calibration(y_true, y_prob, n_bins=10, ax=None, title="Calibration"):
    """Reliability diagram: observed frequency of class 1 per probability bin.

    Without ``ax`` the figure has a second panel below: the histogram of the
    predicted probabilities (how many rows each point rests on).

    Parameters
    ----------
    y_true : array_like of shape (m,)
        Labels 0/1.
    y_prob : array_like of shape (m,)
        Predicted probabilities of class 1, in [0, 1].
    n_bins : int, default 10
        Equal-width bins on [0, 1]; empty bins are left out.
    ax : matplotlib Axes, optional
        Draw only the reliability curve on it.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ._validation import check_positive_int

    y01, prob = _binary_scores(y_true, y_prob, "y_prob")
    if (prob < 0).any() or (prob > 1).any():
        raise ValueError("y_prob must contain probabilities in [0, 1]")
    n_bins = check_positive_int(n_bins, "n_bins", minimum=2)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, prob, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    used = counts > 0
    mean_prob = np.bincount(which, prob, n_bins)[used] / counts[used]
    frac_pos = np.bincount(which, y01, n_bins)[used] / counts[used]
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 6), layout="constrained")
        ax, hist_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        fig, hist_ax = ax.figure, None
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfectly calibrated")
    ax.plot(mean_prob, frac_pos, "o-", lw=2, label="model")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("fraction of class 1")
    ax.set_title(title)
    ax.legend(loc="upper left")
    if hist_ax is None:
        ax.set_xlabel("mean predicted probability")
    else:
        hist_ax.bar(edges[:-1], counts, width=1.0 / n_bins, align="edge",
                    edgecolor="white")
        hist_ax.set_xlabel("predicted probability of class 1")
        hist_ax.set_ylabel("rows")
    return fig
