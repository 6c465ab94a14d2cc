"""Matplotlib figures: decision boundary and loss curve.

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


def plot_decision_boundary(X, y, w, b, ax=None, title="Decision boundary"):
    """Scatter two features coloured by label, with the line ``w . x + b = 0``.

    Parameters
    ----------
    X : array_like of shape (m, 2)
    y : array_like of shape (m,), labels 0/1
    w : array_like of shape (2,), raw-space weights
    b : float
    ax : matplotlib Axes, optional

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
    ax.plot(X[y == 0, 0], X[y == 0, 1], "g^", label="class 0", alpha=0.8)
    ax.plot(X[y == 1, 0], X[y == 1, 1], "bs", label="class 1", alpha=0.8)
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
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
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
