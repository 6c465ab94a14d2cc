"""Record the trained weights of a fixed matrix of runs, to compare two trees.

Every option x float32/float64 x dense/CSR x binary/k-class x 1/2 threads
(dense; CSR on one) x shuffle mode, each trained for a few epochs from
fixed data and seeds, plus ``partial_fit`` continuations (the optimizer
state carried between calls).
A change that must not alter results (a refactoring) is checked by writing
the matrix on the old tree and on the new one and comparing::

    python benchmarks/results_matrix.py write old.npz      # on the old tree
    python benchmarks/results_matrix.py write new.npz      # on the new tree
    python benchmarks/results_matrix.py compare old.npz new.npz

``compare`` prints every case that is not bit-identical with its largest
relative difference (NaN where one side is NaN and the other not), and
exits 1 if any case differs by more than ``--rtol`` (default 1e-12) or is
missing from the new file; cases only in the new file are listed, not
compared. ``write`` also prints the first 16 hex digits of a SHA-256 of
each case's weights.
"""

import argparse
import hashlib
import itertools
import sys
import warnings

import numpy as np

from fastlr._files import write_atomic
from fastlr.cli import check_output_arg

#: Options per case (beyond the matrix axes): each a train() keyword set.
OPTIONS = {
    "default": {},
    "l2": {"penalty": "l2", "alpha": 1e-3},
    "l1": {"penalty": "l1", "alpha": 1e-3},
    "enet": {"penalty": "elasticnet", "alpha": 1e-3, "l1_ratio": 0.3},
    "invscaling": {"learning_rate": "invscaling", "power_t": 0.3,
                   "penalty": "l2", "alpha": 1e-4},
    "adaptive": {"learning_rate": "adaptive", "tol": 10.0, "n_iter_no_change": 1},
    "adagrad": {"learning_rate": "adagrad", "lr": 0.05},
    "adagrad_l1": {"learning_rate": "adagrad", "lr": 0.05, "penalty": "l1",
                   "alpha": 1e-3},
    "adagrad_l2": {"learning_rate": "adagrad", "lr": 0.05, "penalty": "l2",
                   "alpha": 1e-3},
    "average": {"average": True, "penalty": "l2", "alpha": 1e-4},
    "average3": {"average": 3, "penalty": None},
    "weights": {"sample_weight": "random", "penalty": "l2", "alpha": 1e-4},
    "full_loss": {"epoch_loss": "full"},
    "no_loss": {"epoch_loss": None},
    "unscaled": {"standardize": False},
    "scale_only": {"standardize": "scale"},
    "batch1": {"batch_size": 1},
    "batch7": {"batch_size": 7, "penalty": "l1", "alpha": 1e-3},
}

M_DENSE, N_DENSE = 20_000, 100      # 2M elements: the threaded epoch's size
M_SPARSE, N_SPARSE = 4_000, 3_000


def _data(kind, dtype, offset=False):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((M_DENSE, N_DENSE))
    W = rng.standard_normal((3, N_DENSE)) / 10
    Z = X @ W.T
    if offset:  # columns whose mean dwarfs their spread: the centred loops
        X[:, :5] += 1e3
    if kind == "binary":
        y = (Z[:, 0] + rng.standard_normal(M_DENSE) > 0).astype(np.int64)
    else:
        y = (Z + rng.gumbel(size=Z.shape)).argmax(axis=1)
    return np.ascontiguousarray(X, dtype=dtype), y


def _sparse_data(kind, dtype):
    import scipy.sparse as sp

    rng = np.random.default_rng(11)
    nnz = 15
    cols = rng.integers(0, N_SPARSE, size=(M_SPARSE, nnz))
    vals = rng.standard_normal((M_SPARSE, nnz))
    indptr = np.arange(0, M_SPARSE * nnz + 1, nnz)
    X = sp.csr_matrix((vals.ravel(), cols.ravel(), indptr),
                      shape=(M_SPARSE, N_SPARSE))
    X.sum_duplicates()
    W = rng.standard_normal((3, N_SPARSE))
    Z = np.asarray(X @ W.T)
    if kind == "binary":
        y = (Z[:, 0] > 0).astype(np.int64)
    else:
        y = Z.argmax(axis=1)
    return X.astype(dtype), y


def _train(kind, X, y, **kw):
    import fastlr
    import fastlr.core

    if kind == "binary":
        res = fastlr.train(X, y, **kw)
        return np.concatenate([np.asarray(res.w, np.float64).ravel(),
                               [res.b], res.losses])
    res = fastlr.core.train_multinomial(X, y, **kw)
    return np.concatenate([np.asarray(res.W, np.float64).ravel(),
                           np.asarray(res.b, np.float64), res.losses])


def cases():
    """Yield ``(name, thunk)`` for every case of the matrix."""
    for kind, dtype, storage, shuffle in itertools.product(
            ("binary", "multi"), ("float64", "float32"), ("dense", "csr"),
            (True, "rows", False)):
        threads = (1, 2) if storage == "dense" else (1,)
        for th, (oname, opts) in itertools.product(threads, OPTIONS.items()):
            name = f"{kind}/{dtype}/{storage}/shuffle={shuffle}/threads={th}/{oname}"

            def thunk(kind=kind, dtype=dtype, storage=storage, shuffle=shuffle,
                      th=th, opts=opts):
                if storage == "dense":
                    X, y = _data(kind, dtype)
                else:
                    X, y = _sparse_data(kind, dtype)
                kw = {"batch_size": 256, "epochs": 3, "lr": 0.05,
                      "random_state": 3, "shuffle": shuffle, "n_threads": th}
                kw.update(opts)
                if kw.get("sample_weight") == "random":
                    kw["sample_weight"] = np.random.default_rng(5).uniform(
                        0.0, 2.0, X.shape[0])
                if storage == "csr" and kw.get("standardize", True) is True:
                    kw["standardize"] = "scale"
                return _train(kind, X, y, **kw)

            yield name, thunk
    # the centred loops (a column's mean >> its spread), dense, both kinds
    for kind, th in itertools.product(("binary", "multi"), (1, 2)):
        def thunk(kind=kind, th=th):
            X, y = _data(kind, "float64", offset=True)
            return _train(kind, X, y, batch_size=256, epochs=2, lr=0.05,
                          random_state=1, n_threads=th, penalty="l2", alpha=1e-3)
        yield f"{kind}/offset/threads={th}", thunk
    # partial_fit continuations: state carried across calls
    for kind, storage, oname in itertools.product(
            ("binary", "multi"), ("dense", "csr"),
            ("invscaling", "average", "adagrad_l1", "l1")):
        def thunk(kind=kind, storage=storage, oname=oname):
            from fastlr import LogisticRegression

            X, y = (_data(kind, "float64") if storage == "dense"
                    else _sparse_data(kind, "float64"))
            opts = {k: v for k, v in OPTIONS[oname].items()}
            clf = LogisticRegression(batch_size=64, lr=opts.pop("lr", 0.05),
                                     random_state=2, **opts)
            classes = np.unique(y)
            for start in range(0, 3000, 1000):
                clf.partial_fit(X[start:start + 1000], y[start:start + 1000],
                                classes=classes)
            return np.concatenate([clf.coef_.ravel().astype(np.float64),
                                   clf.intercept_.astype(np.float64)])
        yield f"partial_fit/{kind}/{storage}/{oname}", thunk


def write(path):
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, thunk in cases():
            w = np.ascontiguousarray(thunk(), dtype=np.float64)
            out[name] = w
            print(f"{hashlib.sha256(w.tobytes()).hexdigest()[:16]}  {name}")
    # atomic, with the permissions of a new file (0666 less the umask): the
    # old file or the complete new one, and no temporary file left over
    write_atomic(path, lambda f: np.savez(f, **out), "the results matrix")
    print(f"{len(out)} cases written to {path}")


def compare(old, new, rtol):
    a, b = np.load(old), np.load(new)
    worst = 0
    bad = []
    same = 0
    for name in a.files:
        if name not in b.files:
            bad.append((name, "missing in the new file"))
            continue
        x, y = a[name], b[name]
        if x.shape != y.shape:
            bad.append((name, f"shape {x.shape} vs {y.shape}"))
            continue
        if np.array_equal(x, y, equal_nan=True):
            same += 1
            continue
        both_nan = np.isnan(x) & np.isnan(y)
        scale = np.maximum(np.abs(x), np.abs(y))
        d = np.where(both_nan, 0.0, np.abs(x - y) / np.maximum(scale, 1e-300))
        rel = float(d.max())   # NaN where one side is NaN and the other not
        worst = rel if np.isnan(rel) else max(worst, rel)   # NaN stays
        print(f"differs: max rel {rel:.3g}  {name}")
        if not rel <= rtol:
            bad.append((name, f"max rel {rel:.3g}"))
    # cases the old tree did not have (added to the matrix) have nothing to
    # be compared with: said, not failed (a renamed case fails as missing)
    extra = [name for name in b.files if name not in a.files]
    for name in extra:
        print(f"only in the new file, not compared: {name}")
    print(f"{same} of {len(a.files)} cases bit-identical; largest relative "
          f"difference elsewhere {worst:.3g}"
          + (f"; cases only in the new file: {len(extra)}" if extra else ""))
    for name, why in bad:
        print(f"FAIL {name}: {why}")
    return 1 if bad else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("out", metavar="OUT")
    c = sub.add_parser("compare")
    c.add_argument("old")
    c.add_argument("new")
    c.add_argument("--rtol", type=float, default=1e-12)
    args = p.parse_args(argv)
    if args.cmd == "write":
        # before the minutes of work, as the other scripts check --plot
        check_output_arg(w, args.out, "OUT")
        write(args.out)
        return 0
    return compare(args.old, args.new, args.rtol)


if __name__ == "__main__":
    sys.exit(main())
