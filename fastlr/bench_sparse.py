"""The sparse performance targets at rcv1's shape (``fastlr bench --full``).

:func:`make_rcv1_workload` builds a seeded CSR matrix shaped like the
RCV1-v2 training set that Bottou's ``svmsgd`` and scikit-learn's SGD
benchmarks use, without downloading it; :func:`sparse_targets` times the
S2-S5 rows against scikit-learn's ``SGDClassifier`` and Vowpal Wabbit (when
the ``vowpalwabbit`` package of the ``bench`` extra is installed). Every
figure is a ratio of medians of interleaved repetitions in one run.
"""


import os

import numpy as np

#: rcv1's shape: rows, columns, stored entries a row (after duplicates).
RCV1_ROWS, RCV1_FEATURES, RCV1_NNZ = 400_000, 47_236, 54

#: Exponent of the column popularity law (word frequencies: Zipf, ~1).
ZIPF_EXPONENT = 1.0

#: Column draws a row before duplicates are merged: with Zipf popularity
#: popular columns repeat within a row; 66 draws leave about 54 columns.
DRAWS_PER_ROW = 66

#: rcv1's L2 strength in Bottou's and scikit-learn's benchmarks (1 / m).
RCV1_ALPHA = 1.0 / RCV1_ROWS


def make_rcv1_workload(m=RCV1_ROWS, n=RCV1_FEATURES, draws=DRAWS_PER_ROW,
                       seed=0):
    """A CSR matrix of rcv1's shape and labels for it: ``(X, y)``.

    * Columns are words: row ``i`` draws Poisson(``draws``) columns
      (clipped to 1 .. ``2 * draws``) from a Zipf law over the n columns
      (popularity of rank r proportional to ``r ** -ZIPF_EXPONENT``), the
      ranks scattered over the column ids by a seeded permutation (as word
      ids are not sorted by frequency).
      Duplicates are merged (their values summed, term counts), which
      leaves about 54 stored entries a row at the default shape.
    * Values are tf-idf like: ``1 + log(count)`` times the column's
      ``log(m / expected document frequency)``, and each row is scaled to
      unit L2 norm (as rcv1 is distributed), float64, canonical CSR
      (sorted indices, no duplicates), int32 indices.
    * Labels: y ~ Bernoulli(sigmoid(x . w* - 0.3)) with w* ~ N(0, 9) on
      every column: about 42% of the rows positive at the default shape
      and seed, and a model to learn (rcv1's CCAT is 47% positive).

    Deterministic for a given ``seed`` (numpy's default generator).
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    p = ranks ** -ZIPF_EXPONENT
    p /= p.sum()
    column_of_rank = rng.permutation(n)
    per_row = np.clip(rng.poisson(draws, size=m), 1, 2 * draws)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    # the draws of all rows: how many of each rank (multinomial), in a random
    # order (i.i.d. draws, without a random lookup per draw)
    counts = rng.multinomial(indptr[-1], p)
    cols = rng.permutation(np.repeat(column_of_rank.astype(np.int32), counts))
    X = sp.csr_matrix((np.ones(indptr[-1]), cols, indptr),
                      shape=(m, n))
    X.sum_duplicates()                       # counts per (row, column)
    expected_df = np.minimum(1.0, p * draws)[np.argsort(column_of_rank)]
    idf = np.log(1.0 / expected_df) + 1.0
    X.data = (1.0 + np.log(X.data)) * idf[X.indices]
    norms = np.sqrt(np.add.reduceat(X.data ** 2, X.indptr[:-1]))
    X.data /= np.repeat(norms, np.diff(X.indptr))
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    w = 3.0 * rng.standard_normal(n)
    z = X @ w - 0.3
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


def rcv1_classes(X, k=5, seed=1):
    """k-class labels for :func:`make_rcv1_workload`'s X: the argmax of
    ``X @ W* + Gumbel noise``, W* ~ N(0, 9) (n, k): a softmax model's draws."""
    rng = np.random.default_rng(seed)
    W = 3.0 * rng.standard_normal((X.shape[1], k))
    return np.asarray(X @ W + rng.gumbel(size=(X.shape[0], k))).argmax(axis=1)


# --------------------------------------------------------------------------
# timing


def fastlr_epochs_fn(X, y, epochs, batch_size, n_threads=1, k=None, **opts):
    """A callable running ``epochs`` epochs of fastlr's CSR training loop on
    validated X (validation and statistics are left out, as in
    :func:`fastlr.bench.epoch_time_fn`); ``k`` classes trains the softmax
    model (``y`` its codes 0..k-1). L2 penalty ``RCV1_ALPHA``, constant
    rate 0.1, raw features, natural row order unless ``opts`` say otherwise."""
    from ._dispatch import as_data
    from ._order import make_rng
    from ._sgd import sgd
    from ._state import ModelState

    data = as_data(X)
    kw = dict(batch_size=batch_size, epochs=epochs, lr=0.1, shuffle=False,
              penalty="l2", alpha=RCV1_ALPHA, epoch_loss="running", tol=None,
              n_iter_no_change=5, n_threads=n_threads)
    kw.update(opts)
    n = data.n
    codes = np.asarray(y, dtype=np.int64)
    sw = np.empty(0)

    def run():
        state = ModelState(np.zeros(n), np.ones(n), k or 1, softmax=k is not None)
        sgd(data, codes, sw, state, rng=make_rng(0), **kw)
        return state

    return run


def sklearn_epochs_fn(X, y, epochs):
    """``SGDClassifier(loss="log_loss")`` for ``epochs`` epochs, L2
    ``RCV1_ALPHA``, constant rate 0.1, no shuffling (per-sample steps, its
    own lazy L2 scale)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    def run():
        clf = SGDClassifier(loss="log_loss", penalty="l2", alpha=RCV1_ALPHA,
                            max_iter=epochs, tol=None, learning_rate="constant",
                            eta0=0.1, shuffle=False, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        return clf

    return run


def write_vw(X, y, path):
    """X and y in Vowpal Wabbit's text format (labels -1/1, feature names
    the column numbers, values to 7 significant digits)."""
    with open(path, "w") as f:
        for i in range(X.shape[0]):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            feats = " ".join(f"{j}:{x:.7g}" for j, x in
                             zip(X.indices[lo:hi].tolist(), X.data[lo:hi].tolist(),
                                 strict=True))
            f.write(f"{1 if y[i] else -1} | {feats}\n")


def vw_passes_fn(data_path, cache_path, passes, extra=()):
    """A callable training Vowpal Wabbit in this process for ``passes``
    passes from its cache file: logistic loss, ``-b 18`` (262,144 weights:
    numeric feature names map to distinct slots, so no two of rcv1's
    47,236 columns collide), its default learner unless ``extra`` says
    otherwise. The first call writes the cache."""
    from vowpalwabbit import Workspace

    args = ["-d", data_path, "--cache_file", cache_path, "--passes", str(passes),
            "--loss_function", "logistic", "-b", "18", "--holdout_off",
            "--quiet", *extra]

    def run():
        Workspace(arg_list=args).finish()

    return run


def sparse_targets(add, repeats=5, progress=print):
    """Measure S2-S5 at rcv1's shape; ``add(id, what, value, target, ok)``
    records a row (see :func:`fastlr.bench.performance_table`).

    "Marginal epoch": the time of two epochs minus that of one, so that
    what is done once per call (validation, scikit-learn's dataset
    wrapper, Vowpal Wabbit's start) is left out.
    """

    from .bench import interleaved

    X, y = make_rcv1_workload()
    nnz = X.nnz
    progress(f"rcv1 shape: {X.shape[0]:,} x {X.shape[1]:,}, {nnz / X.shape[0]:.1f} "
             f"entries a row, L2 alpha 1/m, constant lr 0.1, raw features")
    f = {}
    for bs in (1, 32):
        for e in (1, 2):
            f[("fastlr", bs, e)] = fastlr_epochs_fn(X, y, e, bs)
    for e in (1, 2):
        f[("sk", e)] = sklearn_epochs_fn(X, y, e)
    t = interleaved(f, repeats=repeats)
    sk = t[("sk", 2)] - t[("sk", 1)]
    fast = {}
    for bs in (1, 32):
        fast[bs] = t[("fastlr", bs, 2)] - t[("fastlr", bs, 1)]
        add("S2", f"SGDClassifier / fastlr marginal epoch, batch {bs}",
            sk / fast[bs], ">= 3", sk / fast[bs] >= 3)
        add("S2", f"  fastlr batch {bs}: M entries/s (Bottou svmsgd: 175)",
            nnz / fast[bs] / 1e6, "(info)", True)
    add("S2", "  SGDClassifier: M entries/s", nnz / sk / 1e6, "(info)", True)
    # S3: Vowpal Wabbit from its cache file, same passes
    try:
        import vowpalwabbit  # noqa: F401
    except ImportError:
        progress("S3  skipped: pip install 'fastlr-numba[bench]' for vowpalwabbit")
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "rcv1.vw")
            cache = os.path.join(tmp, "rcv1.vw.cache")
            write_vw(X, y, data)
            vw_passes_fn(data, cache, 1)()       # writes the cache
            g = {("vw", e): vw_passes_fn(data, cache, e) for e in (1, 2)}
            g.update({("vwsgd", e): vw_passes_fn(data, cache, e, ("--sgd",))
                      for e in (1, 2)})
            g.update({("fastlr", e): fastlr_epochs_fn(X, y, e, 1) for e in (1, 2)})
            t = interleaved(g, repeats=repeats)
        ours = t[("fastlr", 2)] - t[("fastlr", 1)]
        vw = t[("vw", 2)] - t[("vw", 1)]
        vwsgd = t[("vwsgd", 2)] - t[("vwsgd", 1)]
        add("S3", "Vowpal Wabbit / fastlr marginal pass (batch 1)", vw / ours,
            ">= 2", vw / ours >= 2)
        add("S3", "  Vowpal Wabbit --sgd / fastlr marginal pass", vwsgd / ours,
            "(info)", True)
    # S4: two threads / one, batch >= 256, bit-identical (the lean team's
    # threads own halves of the weights: two at most)
    from ._kernels import team
    from ._kernels.sparse import LEAN_PARTS

    threads = min(team.threads(), LEAN_PARTS)
    if threads > 1:
        for bs in (256, 1024):
            t = interleaved({"1": fastlr_epochs_fn(X, y, 1, bs, n_threads=1),
                             "n": fastlr_epochs_fn(X, y, 1, bs, n_threads=threads)},
                            repeats=repeats)
            add("S4", f"{threads} threads / 1 thread, sparse epoch, batch {bs}",
                t["n"] / t["1"], "<= 0.65", t["n"] / t["1"] <= 0.65)
        a = fastlr_epochs_fn(X, y, 1, 256, n_threads=1)().W
        b = fastlr_epochs_fn(X, y, 1, 256, n_threads=threads)().W
        add("S4", "max |w(1 thread) - w(n threads)| (identical: 0)",
            float(np.max(np.abs(a - b))), "== 0", np.array_equal(a, b))
    # S5: k = 5 classes / binary
    y5 = rcv1_classes(X, 5)
    for bs in (1, 32):
        t = interleaved({"k5": fastlr_epochs_fn(X, y5, 1, bs, k=5),
                         "bin": fastlr_epochs_fn(X, y, 1, bs)}, repeats=repeats)
        add("S5", f"k=5 CSR epoch / binary CSR epoch, batch {bs}",
            t["k5"] / t["bin"], "<= 2.0", t["k5"] / t["bin"] <= 2.0)
