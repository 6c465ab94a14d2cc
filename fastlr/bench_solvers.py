"""Time to suboptimality, benchopt style: fastlr's solvers and scikit-learn's
on one regularized problem, side by side.

A *problem* is a workload and a penalty: the L2-regularized log-loss
``F(W, B) = mean_i loss_i + alpha / 2 ||W||^2`` on the features as fastlr
standardizes them (dense: centred and scaled, with fastlr's own column
statistics; CSR: raw, ``standardize=False``). scikit-learn's estimators
receive those features ready-made (a standardized copy of dense X, built
before any timing; CSR X as is) with ``C = 1 / (alpha m)``, so every solver
minimizes the same ``F`` (the scaler's cost is left out of scikit-learn's
times; fastlr's include its statistics passes). Each solver's model is
mapped to the standardized space and scored by one function,
:meth:`Problem.objective`.

The *relative suboptimality* of a model is ``(F - F*) / F*``, with ``F*``
from scikit-learn's ``newton-cholesky`` at ``tol=1e-12`` (dense), or on CSR
X with a million columns, where its n x n Hessian cannot be formed, the
lowest objective of fastlr's and scikit-learn's L-BFGS run to their
floating-point limit.

Curves come from runs with growing iteration budgets (each run from
scratch; every solver here is deterministic for a fixed seed, so a larger
budget continues the same path), except scikit-learn's L-BFGS, whose one
long run is traced through SciPy's per-iteration callback (the callback's
own time is subtracted). The *time to* a suboptimality is the time of a
run whose budget is the smallest that reaches it (found by bisection), and
ratios between solvers are medians of interleaved repetitions of those
runs (:func:`fastlr.bench.interleaved`).
"""

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .bench import interleaved

#: Solvers on every workload, in plot order.
SOLVERS = ("fastlr auto", "fastlr lbfgs", "fastlr sgd", "sklearn lbfgs",
           "sklearn newton-cholesky", "sklearn saga", "sklearn SGDClassifier")

#: Iteration budgets tried for the curves (each a run from scratch).
GRID = (1, 2, 3, 4, 5, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256)


@dataclass
class Problem:
    """A workload, its penalty, and the features each solver is given.

    Attributes
    ----------
    name : str
    X : ndarray or CSR matrix
        What fastlr is given (raw).
    y : (m,) int64 0/1
    alpha : float
        L2 strength of ``F``; scikit-learn's ``C = 1 / (alpha m)``.
    standardize : bool
        fastlr's ``standardize`` (True on dense X, False on CSR).
    Xs : ndarray or CSR matrix
        What scikit-learn is given: the standardized copy of dense X (with
        fastlr's statistics), CSR X itself.
    """

    name: str
    X: object
    y: np.ndarray
    alpha: float
    standardize: bool
    Xs: object = None
    fstar: float = math.nan
    data: object = field(default=None, repr=False)
    mean: np.ndarray = field(default=None, repr=False)
    scale: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        from ._dispatch import as_data

        self.data = as_data(self.X)
        self.mean, self.scale = (a[0] for a in
                                 self.data.standardization(self.standardize))
        if self.Xs is None:
            if self.data.sparse:
                self.Xs = self.X
            else:
                self.Xs = (self.X - self.mean) / self.scale

    @property
    def m(self):
        return self.data.m

    @property
    def C(self):
        return 1.0 / (self.alpha * self.m)

    def objective(self, W, B):
        """``F`` of a standardized-space model (one threaded pass)."""
        W = np.asarray(W, dtype=np.float64).reshape(1, -1)
        B = np.asarray(B, dtype=np.float64).reshape(1)
        loss, _, _ = self.data.loss_grad(self.y, np.empty(0), self.mean,
                                         self.scale, W, B, False)
        return loss / self.m + 0.5 * self.alpha * float((W * W).sum())

    def raw_objective(self, coef, intercept):
        """``F`` of a model in raw feature space (fastlr's ``coef_``)."""
        w = np.asarray(coef, dtype=np.float64).reshape(-1)
        b = float(np.asarray(intercept).reshape(-1)[0])
        return self.objective(w * self.scale, b + w @ self.mean)

    def subopt(self, F):
        return (F - self.fstar) / self.fstar


def _fastlr(solver):
    def run(p, budget):
        from .estimator import LogisticRegression

        clf = LogisticRegression(solver=solver, alpha=p.alpha, max_iter=budget,
                                 tol=None, standardize=p.standardize,
                                 random_state=0)
        clf.fit(p.X, p.y)
        return clf
    return run


def _sklearn(**kw):
    def run(p, budget):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=p.C, max_iter=budget, tol=1e-14, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(p.Xs, p.y)
        return clf
    return run


def _sgdclassifier(p, budget):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    # SGDClassifier's objective is F itself (mean loss + alpha/2 ||w||^2)
    clf = SGDClassifier(loss="log_loss", alpha=p.alpha, max_iter=budget, tol=None,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(p.Xs, p.y)
    return clf


#: name -> run(problem, budget) -> the fitted estimator (budget: max_iter;
#: epochs for the SGD solvers, passes for fastlr's).
RUNNERS = {
    "fastlr auto": _fastlr("auto"),
    "fastlr lbfgs": _fastlr("lbfgs"),
    "fastlr sgd": _fastlr("sgd"),
    "sklearn lbfgs": _sklearn(solver="lbfgs"),
    "sklearn newton-cholesky": _sklearn(solver="newton-cholesky"),
    "sklearn saga": _sklearn(solver="saga", random_state=0),
    "sklearn SGDClassifier": _sgdclassifier,
}


def score(p, name, clf):
    """``F`` of a fitted estimator (fastlr's are in raw feature space,
    scikit-learn's were fitted on the standardized features)."""
    if name.startswith("fastlr"):
        return p.raw_objective(clf.coef_, clf.intercept_)
    return p.objective(clf.coef_, clf.intercept_)


def run_and_score(p, name, budget):
    """``(seconds, F)``: one timed run, then its objective (not timed)."""
    t = time.perf_counter()
    clf = RUNNERS[name](p, budget)
    seconds = time.perf_counter() - t
    return seconds, score(p, name, clf)


def reference_optimum(p):
    """``F*`` (module docstring)."""
    from sklearn.linear_model import LogisticRegression

    if not p.data.sparse:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # scipy's warnings at tol 1e-12
            clf = LogisticRegression(C=p.C, solver="newton-cholesky", tol=1e-12,
                                     max_iter=100).fit(p.Xs, p.y)
        return p.objective(clf.coef_, clf.intercept_)
    _, best = run_and_score(p, "fastlr lbfgs", 2000)
    traced = trace_sklearn_lbfgs(p, 2000, target=0.0)
    return min([best] + [F for _, F in traced])


class _Reached(Exception):
    """Raised by the tracing callback to end a run at its target."""


def trace_sklearn_lbfgs(p, max_iter, target):
    """One run of scikit-learn's L-BFGS, traced: ``[(seconds, F), ...]``
    after each iteration. The callback scores each iterate (one pass over
    X) and its own time is subtracted; it ends the run once ``F`` is
    within ``target`` of ``F*`` (a target of 0 runs to the solver's own
    stop or ``max_iter``)."""
    import scipy.optimize
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    out = []
    spent = [0.0]
    t0 = [0.0]
    real = scipy.optimize.minimize

    def minimize(fun, x0, *args, **kw):
        def callback(xk):
            t = time.perf_counter()
            F = p.objective(xk[:-1], xk[-1])
            out.append((t - t0[0] - spent[0], F))
            spent[0] += time.perf_counter() - t
            if target > 0.0 and p.subopt(F) <= target:
                raise _Reached

        kw["callback"] = callback
        return real(fun, x0, *args, **kw)

    clf = LogisticRegression(C=p.C, solver="lbfgs", max_iter=max_iter, tol=1e-14)
    scipy.optimize.minimize = minimize
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0[0] = time.perf_counter()
            clf.fit(p.Xs, p.y)
    except _Reached:
        pass
    finally:
        scipy.optimize.minimize = real
    return out


def curve(p, name, target, budget_seconds=120.0):
    """``[(budget, seconds, subopt), ...]`` of one solver: runs of growing
    budget until ``target`` is reached or the runs have taken
    ``budget_seconds``."""
    if name == "sklearn lbfgs":
        traced = trace_sklearn_lbfgs(p, GRID[-1], target)
        return [(i + 1, s, p.subopt(F)) for i, (s, F) in enumerate(traced)]
    out = []
    spent = 0.0
    for budget in GRID:
        seconds, F = run_and_score(p, name, budget)
        spent += seconds
        out.append((budget, seconds, p.subopt(F)))
        if p.subopt(F) <= target or spent > budget_seconds:
            break
    return out


def smallest_budget(p, name, target, points):
    """The smallest budget whose run reaches ``target``, by bisection
    between the curve's points (None if none reached it)."""
    hits = [b for b, _, s in points if s <= target]
    if not hits:
        return None
    hi = min(hits)
    below = [b for b, _, s in points if b < hi]
    lo = max(below) if below else 0
    if name == "sklearn lbfgs":   # a traced curve has every iteration
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if p.subopt(run_and_score(p, name, mid)[1]) <= target:
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------
# the targets of `fastlr bench --full`

#: Relative suboptimality of targets O1-O3.
TARGET = 1e-6

#: Seconds of quiet before each timed run (:func:`fastlr.bench.interleaved`'s
#: ``settle``): scikit-learn's solvers end on large BLAS calls whose
#: OpenBLAS threads spin on for about 0.1 s and took the cores from the run
#: after them (fastlr auto on 1M x 100: 214 ms right after a 2000 x 2000
#: product, 176 ms after a pause; medians of 5).
SETTLE = 0.25


def _size(m):
    return f"{m // 1_000_000}M" if m % 1_000_000 == 0 else f"{m // 1000}k"


def dense_problem(X=None, y=None, scale=1.0):
    """The dense workload (X ~ N(0, 1), 1M x 100 unless given; ``scale``
    times the rows), alpha = 1/m."""
    from .bench import FULL_FEATURES, FULL_ROWS, make_workload

    if X is None:
        X, y = make_workload(int(FULL_ROWS * scale), FULL_FEATURES)
    m, n = X.shape
    return Problem(f"dense {_size(m)} x {n}", X, y, alpha=1.0 / m, standardize=True)


def csr_problem(scale=1.0):
    """The CSR workload (200k x 1M, 20 entries a row; ``scale`` times the
    rows and the columns), raw features, alpha = 1/m."""
    from .bench import make_sparse_workload

    m, n = int(200_000 * scale), int(1_000_000 * scale)
    X, y = make_sparse_workload(m, n, 20)
    return Problem(f"CSR {_size(m)} x {_size(n)}", X, y, alpha=1.0 / m,
                   standardize=False)


def imbalanced_problem(scale=1.0, n=74):
    """The imbalanced workload (1% positives, features of mixed scales),
    300k x 74 (``scale`` times the rows), alpha = 1/m: about twice the rows
    and the features of the real data set the issue describes."""
    from .bench import make_imbalanced_workload

    m = int(300_000 * scale)
    X, y = make_imbalanced_workload(m, n)
    return Problem(f"imbalanced {_size(m)} x {n}", X, y, alpha=1.0 / m,
                   standardize=True)


def ratio_to_target(p, names, target=TARGET, repeats=3):
    """Median seconds of each solver's run with the smallest budget that
    reaches ``target``, interleaved: ``(seconds, budgets)``."""
    budgets = {name: smallest_budget(p, name, target, curve(p, name, target))
               for name in names}
    runnable = {name: b for name, b in budgets.items() if b is not None}
    t = interleaved({name: (lambda name=name: RUNNERS[name](p, runnable[name]))
                     for name in runnable}, repeats=repeats, warmup=0, settle=SETTLE)
    return {name: t.get(name, math.nan) for name in names}, budgets


def held_out_ratio(p, repeats=3):
    """O4: the default fastlr estimator (alpha = 1 / rows) against
    scikit-learn's default ``LogisticRegression()`` on standardized features
    (``make_pipeline(StandardScaler(), LogisticRegression())``: the same
    objective), trained on the first 80% of the rows: ``(held-out log-loss
    ratio, time ratio, details)``."""
    from sklearn.linear_model import LogisticRegression as SKLogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .estimator import LogisticRegression

    cut = int(0.8 * p.m)
    Xtr, Xte, ytr, yte = p.X[:cut], p.X[cut:], p.y[:cut], p.y[cut:]
    fitted = {}

    def fastlr_fit():
        fitted["fastlr"] = LogisticRegression(alpha=1.0 / cut).fit(Xtr, ytr)

    def sklearn_fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # its ConvergenceWarning, if any
            fitted["sklearn"] = make_pipeline(StandardScaler(),
                                              SKLogisticRegression()).fit(Xtr, ytr)

    LogisticRegression(alpha=1.0 / cut).fit(Xtr[:2000], ytr[:2000])   # compile
    t = interleaved({"fastlr": fastlr_fit, "sklearn": sklearn_fit},
                    repeats=repeats, warmup=0, settle=SETTLE)
    loss = {k: log_loss(yte, c.predict_proba(Xte)[:, 1]) for k, c in fitted.items()}
    return (loss["fastlr"] / loss["sklearn"], t["fastlr"] / t["sklearn"],
            {"log_loss": loss, "seconds": t})


def solver_targets(X=None, y=None, repeats=3, progress=print, scale=1.0):
    """Measure O1-O4; rows as :func:`fastlr.bench.performance_table`'s.
    ``scale`` < 1 shrinks every workload (the rows; the CSR columns too)
    for a loaded or small machine; the dense one is ``X, y`` when given."""
    out = []

    def add(pid, what, value, target, ok):
        out.append({"id": pid, "what": what, "value": value, "target": target,
                    "ok": bool(ok)})
        progress(f"{pid:<4}{what:<58}{value:>8.3f}  target {target}")

    p = dense_problem(X, y, scale)
    RUNNERS["fastlr auto"](p, 2)          # compile outside the timings
    p.fstar = reference_optimum(p)
    names = ("fastlr auto", "sklearn lbfgs", "sklearn newton-cholesky")
    t, budgets = ratio_to_target(p, names, repeats=repeats)
    o1 = t["fastlr auto"] / t["sklearn lbfgs"]
    o2 = t["fastlr auto"] / t["sklearn newton-cholesky"]
    add("O1", f"time to subopt 1e-6, {p.name}, auto / sklearn lbfgs", o1, "<= 0.3",
        o1 <= 0.3)
    add("O2", "  the same, auto / sklearn newton-cholesky", o2, "<= 0.5", o2 <= 0.5)
    progress("    (" + ", ".join(f"{n}: {t[n]:.2f} s at max_iter={budgets[n]}"
                                 for n in names) + ")")
    del p
    p = csr_problem(scale)
    RUNNERS["fastlr auto"](p, 2)
    p.fstar = reference_optimum(p)
    names = ("fastlr auto", "sklearn lbfgs")
    t, budgets = ratio_to_target(p, names, repeats=max(1, repeats - 1))
    o3 = t["fastlr auto"] / t["sklearn lbfgs"]
    add("O3", f"time to subopt 1e-6, {p.name}, auto / sklearn lbfgs", o3,
        "<= 0.5", o3 <= 0.5)
    progress("    (" + ", ".join(f"{n}: {t[n]:.2f} s at max_iter={budgets[n]}"
                                 for n in names) + ")")
    del p
    p = imbalanced_problem(scale)
    loss, seconds, info = held_out_ratio(p, repeats=repeats)
    add("O4", f"{p.name}: held-out log-loss, default / sklearn", loss,
        "<= 1.005", loss <= 1.005)
    add("O4", "  fit time, default fastlr / sklearn (scaler + lbfgs)", seconds,
        "< 1", seconds < 1.0)
    progress("    (held-out log-loss " + ", ".join(
        f"{k}: {v:.5f}" for k, v in info["log_loss"].items()) + "; fit " + ", ".join(
        f"{k}: {v:.2f} s" for k, v in info["seconds"].items()) + ")")
    return out
