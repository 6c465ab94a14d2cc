"""The experiments of the tutorial fastlr grew from (a linearly separable
``make_classification`` problem and ``make_moons``), plus breast cancer, on
data scikit-learn generates or bundles.

Each data set is trained with :func:`fastlr.train` and with
:func:`fastlr.reference.train` (same options, same batches), and the demo
reports accuracy, epochs and wall time for both, and writes a loss-curve
PNG per data set and a decision-boundary PNG for the 2-feature ones.
"""

import os
import time
from dataclasses import dataclass

import numpy as np

from . import core, reference
from ._files import save_png

#: The tutorial's training settings: bs=100, epochs=1000, lr=0.01.
SEED_SETTINGS = {"batch_size": 100, "epochs": 1000, "lr": 0.01}

#: The PNG files :func:`run` writes in ``out_dir``: a loss curve per data
#: set, a decision boundary for the two-feature ones.
PLOTS = ("classification_loss.png", "classification_boundary.png",
         "moons_loss.png", "moons_boundary.png", "breast_cancer_loss.png")


@dataclass
class Experiment:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray
    evaluated_on: str  # "train" or "held-out"


def experiments():
    """The three demo data sets (all bundled with scikit-learn, no download)."""
    from sklearn.datasets import load_breast_cancer, make_classification, make_moons
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_features=2, n_redundant=0, n_informative=2,
                               random_state=1, n_clusters_per_class=1)
    out = [Experiment("classification", X, y, X, y, "train")]
    X, y = make_moons(n_samples=100, noise=0.24, random_state=0)
    out.append(Experiment("moons", X, y, X, y, "train"))
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0,
                                          stratify=y)
    out.append(Experiment("breast_cancer", Xtr, ytr, Xte, yte, "held-out"))
    return out


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    res = fn(*args, **kwargs)
    return res, time.perf_counter() - t0


def run(out_dir="fastlr-demo", plots=True, settings=None, random_state=0):
    """Run every experiment; return a list of result rows (dicts)."""
    settings = dict(SEED_SETTINGS, **(settings or {}))
    # compile (or load from the numba cache) outside the timings
    core.train(np.array([[0.0], [1.0]]), np.array([0, 1]), epochs=1)
    rows = []
    for ex in experiments():
        fast, t_fast = _timed(core.train, ex.X_train, ex.y_train,
                              random_state=random_state, **settings)
        ref, t_ref = _timed(reference.train, ex.X_train, ex.y_train,
                            random_state=random_state, **settings)
        rows.append({
            "data": ex.name,
            "rows": ex.X_train.shape[0],
            "features": ex.X_train.shape[1],
            "accuracy_on": ex.evaluated_on,
            "fastlr_acc": core.accuracy(
                ex.y_eval, core.predict(ex.X_eval, fast.w, fast.b)),
            "reference_acc": reference.accuracy(
                ex.y_eval, reference.predict(ex.X_eval, ref.w, ref.b)),
            "epochs": len(fast.losses),
            "fastlr_s": t_fast,
            "reference_s": t_ref,
            "final_loss": float(fast.losses[-1]),
        })
        if plots:
            _plots(ex, fast, ref, out_dir)
    return rows


def _plots(ex, fast, ref, out_dir):
    from .plotting import plot_decision_boundary, plot_loss_curve

    os.makedirs(out_dir, exist_ok=True)
    fig = plot_loss_curve({"fastlr": fast.losses, "reference": ref.losses},
                          title=f"{ex.name}: training loss")
    save_png(fig, os.path.join(out_dir, f"{ex.name}_loss.png"))
    if ex.X_train.shape[1] == 2:
        fig = plot_decision_boundary(ex.X_train, ex.y_train, fast.w, fast.b,
                                     title=f"{ex.name}: decision boundary")
        save_png(fig, os.path.join(out_dir, f"{ex.name}_boundary.png"))


#: Columns of :func:`format_table`: (group, name, width; negative: left-aligned).
_COLUMNS = (("", "data", -15), ("", "rows", 5), ("", "features", 8),
            ("", "epochs", 6), ("accuracy", "on", -8), ("accuracy", "fastlr", 6),
            ("accuracy", "reference", 9), ("time (s)", "fastlr", 7),
            ("time (s)", "reference", 9), ("", "speedup", 7))


def format_table(rows):
    """The demo's results as a fixed-width text table.

    Accuracy and time have one column each for fastlr and the NumPy
    reference (``fastlr.reference``), under a group header; ``speedup`` is
    the reference's time divided by fastlr's. Times exclude JIT compilation.
    """
    def cell(text, width):
        return f"{text:<{-width}}" if width < 0 else f"{text:>{width}}"

    groups = []  # [group, span width] for runs of columns of one group
    for group, _, width in _COLUMNS:
        if groups and groups[-1][0] == group:
            groups[-1][1] += abs(width) + 2
        else:
            groups.append([group, abs(width)])
    top = "  ".join(f" {g} ".center(w, "-") if g else " " * w for g, w in groups)
    head = "  ".join(cell(name, width) for _, name, width in _COLUMNS)
    lines = [top.rstrip(), head, "-" * len(head)]
    for r in rows:
        values = (r["data"], f"{r['rows']}", f"{r['features']}", f"{r['epochs']}",
                  r["accuracy_on"], f"{r['fastlr_acc']:.3f}",
                  f"{r['reference_acc']:.3f}", f"{r['fastlr_s']:.4f}",
                  f"{r['reference_s']:.4f}",
                  f"{r['reference_s'] / r['fastlr_s']:.1f}x")
        lines.append("  ".join(cell(v, w) for v, (_, _, w) in
                               zip(values, _COLUMNS, strict=True)))
    lines.append("speedup = reference time / fastlr time; reference = "
                 "fastlr.reference, the NumPy twin (same batches)")
    return "\n".join(lines)
