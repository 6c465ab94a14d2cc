"""The sparse performance targets at rcv1's shape (``fastlr bench --full``).

:func:`make_rcv1_workload` builds a seeded CSR matrix shaped like the
RCV1-v2 training set that Bottou's ``svmsgd`` and scikit-learn's SGD
benchmarks use, without downloading it; :func:`sparse_targets` times the
S2-S5 rows against scikit-learn's ``SGDClassifier`` and Vowpal Wabbit (when
the ``vowpalwabbit`` package of the ``bench`` extra is installed). Every
figure is a ratio of medians of interleaved repetitions in one run.
"""


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
      every column: about half the rows positive, and a model to learn
      (rcv1's CCAT is 47% positive).

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


# --------------------------------------------------------------------------
# timing


def fastlr_epochs_fn(X, y, epochs, batch_size, n_threads=1, k=None, **opts):
    """A callable running ``epochs`` epochs of fastlr's CSR training loop on
    validated X (validation and statistics are left out, as in
    :func:`fastlr.bench.epoch_time_fn`); ``k`` classes (labels ``y % k``)
    trains the softmax model. L2 penalty ``RCV1_ALPHA``, constant rate 0.1,
    raw features, natural row order unless ``opts`` say otherwise."""
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
    codes = np.asarray(y, dtype=np.int64) % (k or 2)
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
