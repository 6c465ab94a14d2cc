"""The kernels checked against the NumPy reference: one table of cases.

Every comparison of fastlr's Numba kernels with :mod:`fastlr.reference` is
described here once and run from here: by the test suite
(``tests/test_reference.py``), by ``fastlr verify`` (:func:`main`) and by the
asv suite ``benchmarks/bench_cases.py``. A case is a function of the public
API, run by both implementations on the same data:

* :data:`FUNCTIONS`: each public function with its reference twin, what it
  is called with, and the tolerance of each part of its result;
* :data:`OPTIONS`: the training options, one entry per update rule worth
  checking (penalties, schedules, averaging, weights, losses,
  standardization, intercept, batch sizes);
* :data:`STORAGES` (dense, CSR) and :data:`DTYPES` (float64, float32);
* :data:`TOLERANCES`: the tolerance of each kind of value, with its reason.

Adding a function, an option or a storage is one entry; the tests, the
command and the benchmarks pick it up.
"""

import itertools
import platform
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import core, reference
from ._choices import LEARNING_RATES, PENALTIES
from ._kernels import team
from ._version import __version__


class Tolerance(NamedTuple):
    """An entry agrees when ``|a - b| <= atol + rtol * |b|`` (``b`` the
    reference's); NaN agrees with NaN at the same place only where ``nan``
    (the reference's answer for a value it does not measure)."""

    rtol: float
    atol: float
    why: str
    nan: bool = False


_ROUNDING64 = (
    "both compute in float64 in different orders (vectorized and chunked "
    "sums in the kernels, NumPy's in the reference): about 1e-15 after a "
    "few epochs; SGD can amplify a last-bit difference over its steps, "
    "so five digits of margin")
_ROUNDING32 = (
    "for float32 X both compute in float64 from the same float32 values; "
    "only the final cast to float32 rounds, and two float64 values 1e-15 "
    "apart can round to adjacent float32 values, 1.2e-7 apart relatively")
_SIGNED = (
    "; weights, intercepts, gradients and logits are sums of terms of both "
    "signs, so an entry near 0 is the difference of nearly equal terms (of "
    "order 1 in these cases: the data are standardized, the weights and "
    "logits of order 1) and carries their absolute rounding error, where its "
    "relative error means nothing: atol is that margin, an absolute one")
_NO_CANCELLATION = (
    "; no cancellation, so the relative error is meaningful at every size "
    "and no absolute margin hides a small value gone wrong")
_PROBABILITY = (
    "; a probability's relative error is at most its logit's absolute "
    "error (d log p = (1 - p) dz), so probabilities are compared relatively "
    "down to the smallest normal number of the dtype, atol (a value flushed "
    "to 0 early by exp or log1p fails); below it, among subnormals, "
    "precision is absolute")

#: How close a kernel's value must be to the reference's, by kind of value:
#: every tolerance of the kernel-against-twin comparisons, with its reason
#: (``fastlr verify``, the test suite and the asv suite all read it).
TOLERANCES = {
    "float64": Tolerance(1e-10, 1e-12, _ROUNDING64 + _SIGNED),
    "float32": Tolerance(1e-6, 1e-7, _ROUNDING32 + _SIGNED),
    "probability float64": Tolerance(
        1e-10, float(np.finfo(np.float64).tiny), _ROUNDING64 + _PROBABILITY),
    "probability float32": Tolerance(
        1e-6, float(np.finfo(np.float32).tiny), _ROUNDING32 + _PROBABILITY),
    "mean": Tolerance(1e-10, 0.0, (
        "log loss and accuracy: float64 means of non-negative terms"
        + _NO_CANCELLATION)),
    "record": Tolerance(1e-10, 0.0, (
        "losses and held-out losses per pass: float64 means of non-negative "
        "terms" + _NO_CANCELLATION + "; NaN where the reference records "
        "none (epoch_loss=None, a pass not measured)"), nan=True),
    "exact": Tolerance(0.0, 0.0, "labels: integers, equal or not"),
}

DTYPES = ("float64", "float32")
STORAGES = ("dense", "csr")

#: Keyword arguments every training case starts from: a batch size that does
#: not divide the test data's 200 rows, shuffled by blocks.
TRAIN_BASE = {"batch_size": 64, "epochs": 3, "lr": 0.05, "random_state": 7}

#: Training options: one entry per update rule (and option of the training
#: loop) that the kernels implement.
OPTIONS = {
    "default": {},
    "l2": {"penalty": "l2", "alpha": 0.05},
    "l1": {"penalty": "l1", "alpha": 0.02},
    "elasticnet": {"penalty": "elasticnet", "alpha": 0.03, "l1_ratio": 0.6},
    "invscaling": {"learning_rate": "invscaling", "lr": 0.3, "power_t": 0.4},
    "invscaling_l2": {"learning_rate": "invscaling", "lr": 0.3, "power_t": 0.4,
                      "penalty": "l2", "alpha": 0.05},
    "adaptive": {"learning_rate": "adaptive", "tol": 1e-2, "n_iter_no_change": 1},
    "adagrad": {"learning_rate": "adagrad", "lr": 0.2},
    "adagrad_l1": {"learning_rate": "adagrad", "lr": 0.2, "penalty": "l1",
                   "alpha": 0.02},
    "adagrad_l2": {"learning_rate": "adagrad", "lr": 0.2, "penalty": "l2",
                   "alpha": 0.05},
    "average": {"average": True},
    "average_late": {"average": 7},
    "average_l2": {"average": True, "penalty": "l2", "alpha": 0.05},
    "average_l1": {"average": 3, "penalty": "l1", "alpha": 0.02},
    "adagrad_elasticnet": {"learning_rate": "adagrad", "lr": 0.2,
                           "penalty": "elasticnet", "alpha": 0.03, "l1_ratio": 0.5},
    "adagrad_avg_l2": {"learning_rate": "adagrad", "lr": 0.1, "penalty": "l2",
                       "alpha": 0.01, "average": 2},
    # "optimal" needs a penalty (its step is 1 / (alpha * (t0 + t - 1))): the
    # cases generated for a new name would run it alone, which is refused
    "optimal_l2": {"learning_rate": "optimal", "penalty": "l2", "alpha": 0.05},
    "optimal_l1_average": {"learning_rate": "optimal", "penalty": "l1",
                           "alpha": 0.02, "average": 3},
    "optimal_elasticnet": {"learning_rate": "optimal", "penalty": "elasticnet",
                           "alpha": 0.03, "l1_ratio": 0.6},
    "all": {"learning_rate": "invscaling", "lr": 0.2, "penalty": "elasticnet",
            "alpha": 0.01, "l1_ratio": 0.3, "average": 3},
    "weights": {"sample_weight": "random", "penalty": "l2", "alpha": 0.01},
    "full_loss": {"epoch_loss": "full"},
    "no_loss": {"epoch_loss": None},
    "raw": {"standardize": False},
    "scale_only": {"standardize": "scale"},
    "no_intercept": {"fit_intercept": False},
    "rows": {"shuffle": "rows"},
    "ordered": {"shuffle": False},
    "batch1": {"batch_size": 1},
    "full_batch": {"batch_size": 10**6},
    "strong_l2": {"penalty": "l2", "alpha": 1e3, "lr": 0.01},
    # the deterministic solver: L-BFGS iterations on the full-data
    # loss-and-gradient pass, after an SGD epoch with "auto"; OWL-QN for L1
    "lbfgs": {"solver": "lbfgs", "penalty": "l2", "alpha": 0.05},
    "auto_weights": {"solver": "auto", "penalty": "l2", "alpha": 0.01,
                     "sample_weight": "random"},
    "auto_l1": {"solver": "auto", "penalty": "l1", "alpha": 0.02},
}

#: The options that change the update rule itself (the rest change the
#: data path or the loop around it): what every storage and model must do
#: alike.
UPDATE_RULES = ("default", "l2", "l1", "elasticnet", "invscaling", "invscaling_l2",
                "adaptive", "adagrad", "adagrad_l1", "adagrad_l2",
                "adagrad_elasticnet", "average", "average_late", "average_l2",
                "average_l1", "adagrad_avg_l2", "optimal_l2", "optimal_l1_average",
                "optimal_elasticnet", "all", "strong_l2")


def _cases_for_new_choices(named):
    """Cases for each schedule or penalty of :mod:`fastlr._choices` that no
    case of ``named`` uses: alone, and with the choices that have lazy
    forms (a penalty, an L1 part with averaging, AdaGrad), so that adding a
    name to that table is enough for the kernel-against-twin tests,
    ``fastlr verify`` and asv to check it."""
    new = {}
    for rate in LEARNING_RATES:
        if not any(c.get("learning_rate", "constant") == rate for c in named):
            base = {"learning_rate": rate}
            new[rate] = base
            new[f"{rate}_l2"] = {**base, "penalty": "l2", "alpha": 0.05}
            new[f"{rate}_l1_average"] = {**base, "penalty": "l1", "alpha": 0.02,
                                         "average": 3}
    for penalty in PENALTIES:
        if not any(c.get("penalty") == penalty for c in named):
            base = {"penalty": penalty, "alpha": 0.03}
            new[str(penalty)] = base
            new[f"{penalty}_average"] = {**base, "average": 3}
            new[f"{penalty}_adagrad"] = {**base, "learning_rate": "adagrad", "lr": 0.2}
    return new


_NEW = _cases_for_new_choices([OPTIONS[name] for name in UPDATE_RULES])
OPTIONS.update(_NEW)
UPDATE_RULES += tuple(_NEW)


def tolerance(dtype):
    """``{"rtol", "atol"}`` of :data:`TOLERANCES` for weights, intercepts
    and the like of ``dtype`` (keyword arguments of
    ``numpy.testing.assert_allclose``)."""
    tol = TOLERANCES[np.dtype(dtype).name]
    return {"rtol": tol.rtol, "atol": tol.atol}


# --------------------------------------------------------------------------
# data


class Problem(NamedTuple):
    """The inputs of every case on one (rows, features, dtype, storage)."""

    X: object          # ndarray, or scipy.sparse CSR matrix
    y: np.ndarray      # binary labels 0/1
    y3: np.ndarray     # three-class labels
    z: np.ndarray      # logits (sigmoid), extremes included
    p: np.ndarray      # probabilities in [0, 1], 0 and 1 included
    w: np.ndarray      # a raw-space weight vector
    b: float


def make_problem(seed, m, n, dtype, storage):
    """Well-conditioned data whose columns differ in scale and offset
    (standardization matters), labels with logistic noise (the optimum is
    finite); CSR keeps about 40% of the entries."""
    rng = np.random.default_rng([seed, m, n])
    scale = rng.uniform(0.5, 3.0, n)
    shift = rng.uniform(-2.0, 2.0, n)
    Z = rng.normal(size=(m, n))
    beta = rng.normal(size=n) + 1.0
    t = Z @ beta + rng.logistic(size=m)
    y = (t > 0).astype(np.int64)
    y3 = np.digitize(t, np.quantile(t, [1 / 3, 2 / 3])).astype(np.int64)
    if m >= 2:  # both (all three) classes, even for tiny m
        y[: m // 2], y[m // 2:] = 0, 1
        y3[: max(1, m // 3)] = 0
        y3[-1] = 2
    X = (Z * scale + shift).astype(dtype)
    if storage == "csr":
        import scipy.sparse as sp

        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.4, X,
                                   np.zeros((), dtype=X.dtype)))
    z = (rng.normal(size=m) * 30).astype(dtype)
    z[: min(m, 3)] = [0.0, 745.0, -745.0][: min(m, 3)]
    p = rng.uniform(size=m).astype(dtype)
    p[: min(m, 2)] = [0.0, 1.0][: min(m, 2)]
    return Problem(X, y, y3, z, p, rng.normal(size=n) / np.sqrt(n), 0.3)


def train_kwargs(option, m, seed=0):
    """The keyword arguments of a training case with option ``option``."""
    kw = {**TRAIN_BASE, **OPTIONS[option]}
    if kw.get("sample_weight") == "random":
        sw = np.random.default_rng(seed + 100).uniform(0.0, 2.0, m)
        sw[::7] = 0.0
        kw["sample_weight"] = sw
    return kw


# --------------------------------------------------------------------------
# the table


class Function(NamedTuple):
    """A public function and its twin: ``call(impl, problem, kwargs)``
    returns ``[(part, value), ...]``; ``kinds`` gives each part's key of
    :data:`TOLERANCES` ("{dtype}" stands for X's); a training function runs
    with each of ``options`` (None: every entry of :data:`OPTIONS`)."""

    fastlr: Callable
    reference: Callable
    call: Callable
    kinds: dict
    trains: bool = False
    options: tuple = None
    shapes: tuple = None   # names in SHAPES it runs on (None: all)


def _parts(names, values):
    return list(zip(names, values, strict=True))


def _many(kw):
    """A training option as :func:`fastlr.train_many`'s keywords (the grid
    replaces ``alpha``; ``l1_ratio`` becomes a grid of one)."""
    kw = {"penalty": "l2", **kw}
    kw.pop("alpha", None)
    if "l1_ratio" in kw:
        kw["l1_ratios"] = [kw.pop("l1_ratio")]
    return kw


FUNCTIONS = {
    "sigmoid": Function(
        core.sigmoid, reference.sigmoid,
        lambda f, d, kw: _parts([""], [f(d.z)]), {"": "probability {dtype}"}),
    "log_loss": Function(
        core.log_loss, reference.log_loss,
        lambda f, d, kw: _parts([""], [f(d.y, d.p)]), {"": "mean"}),
    "accuracy": Function(
        core.accuracy, reference.accuracy,
        lambda f, d, kw: _parts([""], [f(d.y, (d.p > 0.5).astype(np.int64))]),
        {"": "mean"}),
    "gradients": Function(
        core.gradients, reference.gradients,
        lambda f, d, kw: _parts(["dw", "db"], f(d.X, d.y, d.p)),
        {"dw": "{dtype}", "db": "float64"}),
    "decision_function": Function(
        core.decision_function, reference.decision_function,
        lambda f, d, kw: _parts([""], [f(d.X, d.w, d.b)]), {"": "{dtype}"}),
    "predict_proba": Function(
        core.predict_proba, reference.predict_proba,
        lambda f, d, kw: _parts([""], [f(d.X, d.w, d.b)]),
        {"": "probability {dtype}"}),
    "predict": Function(
        core.predict, reference.predict,
        lambda f, d, kw: _parts([""], [f(d.X, d.w, d.b)]), {"": "exact"}),
    "train": Function(
        core.train, reference.train,
        lambda f, d, kw: _parts(["w", "b", "losses"], f(d.X, d.y, **kw)),
        {"w": "{dtype}", "b": "float64", "losses": "record"}, trains=True),
    "train_multinomial": Function(
        core.train_multinomial, reference.train_multinomial,
        lambda f, d, kw: _parts(["W", "b", "losses"], f(d.X, d.y3, **kw)[:3]),
        {"W": "{dtype}", "b": "float64", "losses": "record"}, trains=True),
    # two penalty strengths x three folds: six models from one pass
    "train_many": Function(
        core.train_many, reference.train_many,
        lambda f, d, kw: _parts(["W", "b", "losses", "heldout"],
                                f(d.X, d.y, [1e-3, 0.1], folds=3, **_many(kw))[:4]),
        {"W": "{dtype}", "b": "float64", "losses": "record",
         "heldout": "record"},
        trains=True, options=(*UPDATE_RULES, "weights", "raw", "no_intercept"),
        shapes=("test",)),
}


class Case(NamedTuple):
    function: str
    option: str       # "" for functions that do not train
    dtype: str
    storage: str
    shape: tuple

    @property
    def id(self):
        opt = f"[{self.option}]" if self.option else ""
        return (f"{self.function}{opt}-{self.storage}-{self.dtype}-"
                f"{self.shape[0]}x{self.shape[1]}")


#: Shapes: a tiny problem, the test suite's, batches that do not divide it,
#: and one large enough for the threaded paths (batch 256, two threads
#: asked for: 6M elements dense, about 2.4M stored entries in CSR, both
#: above ``fastlr._dispatch.PARALLEL_MIN_TRAIN_ELEMENTS``; at 20,000 x 100
#: the CSR epoch never ran on its team).
SHAPES = {"tiny": (7, 1), "test": (200, 4), "ragged": (1001, 13),
          "threads": (60_000, 100)}


def cases(shapes=("test",), options=None, functions=None):
    """Every case on the named shapes: each function on each storage and
    dtype, the training functions with each option (all of :data:`OPTIONS`
    unless ``options`` names some)."""
    out = []
    for fname, shape_name, dtype, storage in itertools.product(
            functions or FUNCTIONS, shapes, DTYPES, STORAGES):
        if fname in ("sigmoid", "log_loss", "accuracy"):
            if storage != "dense":
                continue  # no X
        fn = FUNCTIONS[fname]
        if fn.shapes is not None and shape_name not in fn.shapes:
            continue
        opts = (options or fn.options or list(OPTIONS)) if fn.trains else [""]
        for opt in opts:
            out.append(Case(fname, opt, dtype, storage, SHAPES[shape_name]))
    return out


def run(case, seed=0):
    """Run a case with both implementations: ``[(part, a, b, kind), ...]``,
    ``kind`` a key of :data:`TOLERANCES`."""
    m, n = case.shape
    d = make_problem(seed, m, n, case.dtype, case.storage)
    fn = FUNCTIONS[case.function]
    kw = train_kwargs(case.option, m, seed) if fn.trains else {}
    if fn.trains and m * n >= 2_000_000:
        # the threaded epochs (the CSR one runs on its team only when asked)
        kw["batch_size"] = max(kw["batch_size"], 256)
        kw["n_threads"] = 2
    a = fn.call(fn.fastlr, d, kw)
    b = fn.call(fn.reference, d, kw)
    return [(part, va, vb, fn.kinds[part].format(dtype=case.dtype))
            for (part, va), (_, vb) in zip(a, b, strict=True)]


class Diff(NamedTuple):
    abs: float      # largest |a - b|
    rel: float      # largest |a - b| / |b|
    ratio: float    # largest |a - b| / (atol + rtol |b|): <= 1 is within tolerance
    count: int      # exact kind: entries that differ
    why: str = ""   # a mismatch not measured by a difference (dtype, shape, NaN)


def _mismatch(why, size):
    return Diff(np.inf, np.inf, np.inf, size, why)


def compare(a, b, kind):
    """How far ``a`` is from ``b`` (the reference's) for the tolerance of
    ``kind``, a key of :data:`TOLERANCES`."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return _mismatch(f"shape {a.shape}, reference {b.shape}", max(a.size, b.size))
    if a.dtype != b.dtype:  # float32 stays float32
        return _mismatch(f"dtype {a.dtype}, reference {b.dtype}", a.size)
    if kind == "exact":
        count = int(np.count_nonzero(a != b))
        return Diff(float(count > 0), float(count > 0), np.inf if count else 0.0,
                    count)
    tol = TOLERANCES[kind]
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    # NaN and infinities must match exactly (NaN with NaN where the kind
    # allows NaN, an infinity with the same infinity, at the same places),
    # else the whole array is a mismatch; they are then left out, so that
    # the finite entries' differences are still measured (inf - inf would
    # be NaN, and a NaN ratio passes any `ratio > 1` test)
    odd = ~np.isfinite(a)
    if ((odd != ~np.isfinite(b)).any()
            or not np.array_equal(a[odd], b[odd], equal_nan=True)):
        return _mismatch("NaN or infinity not where the reference has it",
                         a.size)
    if not tol.nan and np.isnan(b).any():
        return _mismatch("NaN (the reference's too), not an answer here",
                         a.size)
    if a.size == 0:
        return Diff(0.0, 0.0, 0.0, 0)
    a = np.where(odd, 0.0, a)
    b = np.where(odd, 0.0, b)
    d = np.abs(a - b)
    bb = np.abs(b)
    rel = d / np.where(bb != 0, bb, 1.0)
    with np.errstate(divide="ignore"):  # atol 0: any difference from 0 is inf
        ratio = np.divide(d, tol.atol + tol.rtol * bb, out=np.zeros_like(d),
                          where=d > 0)
    return Diff(float(d.max()), float(rel.max()), float(ratio.max()), 0)


def check(case, seed=0):
    """``[(part, kind, Diff)]`` of a case (for tests: all ratios <= 1)."""
    return [(part, kind, compare(a, b, kind)) for part, a, b, kind in run(case, seed)]


# --------------------------------------------------------------------------
# fastlr verify


#: The cases ``fastlr verify`` runs: every function and option on the test
#: size and on a size whose batches do not divide it, the default options on
#: the tiny and the threaded sizes; ``--quick`` skips the threaded size.
def verify_cases(quick=False):
    out = cases(("test", "ragged")) + cases(("tiny",), options=["default"])
    if not quick:
        out += cases(("threads",), options=["default", "l2", "average"],
                     functions=["train", "train_multinomial", "predict_proba"])
    return out


def main(seed=0, quick=False, out=print):
    """Run :func:`verify_cases` and print one line per function, storage and
    dtype: the worst case over options and shapes. Returns the number of
    failed checks."""
    import numba

    t0 = time.perf_counter()
    worst = {}
    failed = 0
    total = 0
    for case in verify_cases(quick):
        key = (case.function, case.storage, case.dtype)
        try:
            results = check(case, seed)
        except Exception as exc:  # a kernel that fails is a mismatch
            parts = len(FUNCTIONS[case.function].kinds)  # each part fails
            failed += parts
            total += parts
            worst[key] = (np.inf, case, "", None, repr(exc))
            continue
        for part, kind, diff in results:
            total += 1
            # a NaN ratio (which compare should never give) is a failure,
            # and the worst of its line
            ratio = diff.ratio if diff.ratio <= np.inf else np.inf
            failed += not ratio <= 1.0
            if key not in worst or ratio > worst[key][0]:
                worst[key] = (ratio, case, part, kind, diff)
    out(f"fastlr {__version__}: Numba kernels vs fastlr.reference (NumPy), "
        f"seed {seed}")
    out(f"numba {numba.__version__}, numpy {np.__version__}, "
        f"{team.threads()} threads, {platform.machine()} "
        f"{platform.system()}")
    out(f"{len(verify_cases(quick))} cases, {len(OPTIONS)} training options; "
        "each line is the worst case of a function, storage and dtype")
    out("")
    head = (f"{'function':<19}{'storage':<8}{'dtype':<9}{'worst case':<34}"
            f"{'max |diff|':>11}{'max rel':>10}{'rtol':>8}{'atol':>8}  result")
    out(head)
    out("-" * len(head))
    for (fname, storage, dtype), (ratio, case, part, kind, diff) in worst.items():
        where = f"{case.option or '-'} {case.shape[0]}x{case.shape[1]}"
        where += f" .{part}" if part else ""
        start = f"{fname:<19}{storage:<8}{dtype:<9}{where:<34}"
        if isinstance(diff, str):
            out(f"{start}  FAILED: {diff}")
        elif diff.why:
            out(f"{start}  {diff.why}  MISMATCH")
        elif kind == "exact":
            out(f"{start}{str(diff.count) + ' differ':>11}{'-':>10}{'exact':>16}  "
                f"{'ok' if ratio <= 1 else 'MISMATCH'}")
        else:
            tol = TOLERANCES[kind]
            out(f"{start}{diff.abs:>11.2e}{diff.rel:>10.2e}"
                f"{tol.rtol:>8.0e}{f'{tol.atol:.0e}' if tol.atol else '0':>8}  "
                f"{'ok' if ratio <= 1 else 'MISMATCH'}")
    out("")
    out("An entry agrees when |diff| <= atol + rtol * |reference's|. The atol "
        "is a margin for values")
    out("that are differences of nearly equal terms (weights, gradients, "
        "logits); for probabilities it")
    out("is the smallest normal number, for losses 0 (the reasons: "
        "fastlr.verify.TOLERANCES).")
    out("")
    seconds = time.perf_counter() - t0
    if failed:
        out(f"{failed} of {total} checks FAILED ({seconds:.1f} s)")
    else:
        out(f"all {total} checks within tolerance ({seconds:.1f} s)")
    sys.stdout.flush()
    return failed
