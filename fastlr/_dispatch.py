"""The data path, decided once: which kernels serve the X at hand.

:data:`KERNELS` is the one table from the storage of X (dense or CSR) to
its kernels; the model (binary or softmax) is not a table axis but a field
of the options record the kernels read (``Options.loss``), since every
kernel serves every model. :func:`as_data` validates X once and wraps it
in a :class:`Data`, whose methods (logits, losses, statistics, epochs) are
what the rest of fastlr calls: ``core``, the estimator, ``distributed`` and
the benchmarks never pick a kernel themselves.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from . import _stats
from ._kernels import dense, predict, sparse, stats, team
from ._kernels.update import LOSS_LOGISTIC, LOSS_SOFTMAX, can_fold_mean, is_lean
from ._order import rows_of
from ._validation import check_width, check_X, is_sparse, nonfinite_error

#: Smallest batch trained on several threads: two chunks, one per thread
#: (measured on 1M x 100, two threads: 0.70-0.82x the time of one at batch
#: 128, 0.66-0.75x at 256; with one chunk per batch there is nothing to
#: share).
PARALLEL_MIN_BATCH = 2 * team.CHUNK

#: Smallest X (elements) trained on several threads: below it, waking the
#: threads costs more than an epoch's share saves (two threads / one, batch
#: 256: 1.85 on 2000 x 100, 1.17 on 10000 x 100, 0.79 on 20000 x 100, 0.66
#: on 100000 x 10; ``n_threads`` 1 vs 2, interleaved, one run).
PARALLEL_MIN_TRAIN_ELEMENTS = 2_000_000

#: Smallest batch of the sparse epoch trained on several threads: each of
#: two threads owns half of the weights, with one wait and a serial tail
#: (the batch's residuals) per batch, which smaller batches do not repay.
#: The sparse team runs only when ``n_threads`` asks for it: at rcv1's
#: shape two threads took 0.62-0.89x the time of one (batch 256 and 1024,
#: runs at real-time priority on a noisy day).
SPARSE_PARALLEL_MIN_BATCH = 256

#: Up to this batch size, one binary model on dense X whose options allow it
#: (:func:`fastlr._kernels.update.is_lean`) trains by the lean epoch
#: (:func:`fastlr._kernels.dense.lean_epoch`: per row, its dot product and
#: its step; no chunks, no reduction, no division per weight). Above it the
#: general epoch's vectorized chunks win (measured in its docstring's section).
DENSE_LEAN_MAX_BATCH = 8

#: Elements (or stored entries) per block of the row-wise passes
#: (:func:`fastlr._kernels.team.map_rows`): large enough that a block costs
#: far more than handing it to a thread. A pass that computes k logits a
#: row does about k multiply-adds per element: its blocks hold about
#: BLOCK_ELEMENTS / k elements (:meth:`Data.rows_for`).
BLOCK_ELEMENTS = 1 << 20

#: Fewest rows of a block of the row-wise passes, however wide a row or
#: many its classes (four of the loss-and-gradient pass's 64-row chunks):
#: a block's fixed costs, its call from Python and its (k, n) gradient
#: slot zeroed and then added, stay small beside its rows.
MIN_BLOCK_ROWS = 256

#: Most blocks of the loss-and-gradient pass that its work adds to those
#: of X's size (:meth:`Data._loss_grad_rows`): each block has a (k, n)
#: gradient slot, and sized by work alone 1M x 100 at k = 100 would have
#: 3,906 of them (312 MB).
LOSS_GRAD_WORK_BLOCKS = 32

#: A logit's softmax in elements of X (:meth:`Data.rows_for`): the softmax
#: link cost 22-29 ns a logit against 0.34-0.66 ns a multiply-add
#: (C-ordered X, one thread, n = 10 and 50, k = 32 and 200; about 8
#: multiply-adds' time at n = 2, where one multiply-add cost 3 ns).
SOFTMAX_ELEMENTS = 32

#: Bytes of the sub-blocks of the validation pass of dense X
#: (:func:`fastlr._kernels.stats.moment_sums`): a sub-block with extreme
#: values is read a second time, which must find it in cache (256 KiB:
#: within the L2 of current cores). Each sub-block also costs a few passes
#: over the n columns: 1.9x the floor at 64 KiB against 1.6x at 256 KiB
#: (1M x 100 float64, one thread, one interleaved run).
STATS_SUB_BYTES = 1 << 18

#: Fewest rows of those sub-blocks (fewer when the block has fewer). Each
#: sub-block costs some six passes over the n columns (zeroing its sums,
#: the check, the divisor's update, adding its sums), 10-20 ns a column in
#: all: with STATS_SUB_BYTES alone (1 row beyond 32,768 float64 columns)
#: the pass took 5 ns an element on 4,000 columns and 20-30 from 32,768
#: on, against 0.3-1.4 on 100. On 4M-16M float64 elements of 1,000-40,000
#: columns, one thread, 128 rows came within 5-15% of 256-1,024 (32 rows: 1.2-1.7x). Such
#: sub-blocks of wide rows outgrow the cache, so one with extreme values
#: is read again from memory (the careful route's cost). Rows up to 2 KiB
#: (256 float64 columns) keep STATS_SUB_BYTES' sub-blocks; the sums of
#: wider rows round by these (sub-blocks depend on X's shape only: the
#: same bits for any thread count).
STATS_SUB_ROWS = 128

#: Most blocks of that pass (their moments are merged in Python, in order):
#: blocks of at least BLOCK_ELEMENTS and at least m / STATS_MAX_BLOCKS rows.
STATS_MAX_BLOCKS = 32


class Kernels(NamedTuple):
    """The kernels of one storage format (arguments after the X arrays as
    in the dense kernels)."""

    epoch: object          # one SGD epoch (dense: on one thread or several)
    decision: object       # logits of rows lo..hi-1
    loss_sum: object       # summed row losses of rows lo..hi-1
    gradient_sums: object  # mean log-loss gradient (binary, for fastlr.gradients)
    loss_grad: object      # summed loss and gradient sums of rows lo..hi-1


KERNELS = {
    "dense": Kernels(dense.epoch, predict.decision, predict.loss_sum,
                     predict.gradient_sums, predict.loss_grad),
    "csr": Kernels(sparse.epoch, predict.csr_decision, predict.csr_loss_sum,
                   predict.csr_gradient_sums, predict.csr_loss_grad),
}


#: :meth:`Data.decision`'s ``link`` names, as the kernels' codes.
LINKS = {"logits": predict.LINK_NONE, "sigmoid": predict.LINK_SIGMOID,
         "softmax": predict.LINK_SOFTMAX, "proba": predict.LINK_PROBA,
         "log_proba": predict.LINK_LOG_PROBA}


def link_columns(link, k):
    """Columns of :meth:`Data.decision`'s output for a model of ``k`` rows:
    two for the binary model's ``"proba"`` and ``"log_proba"``, else k."""
    return 2 if link in ("proba", "log_proba") else k


def _linked(z, link):
    """The logits ``z`` (r, k), in the output's dtype, through ``link`` as
    :meth:`Data.decision` returns them: laid out as the kernel lays them
    (:func:`fastlr._kernels.predict.logit_slot`) and passed through the
    kernel's own link (:func:`fastlr._kernels.predict.finish_rows`)."""
    r, k = z.shape
    res = np.empty((r, link_columns(link, k)), dtype=z.dtype)
    flat = res.reshape(-1)
    if link == "proba":
        flat[r:] = z[:, 0]
    elif link == "log_proba":
        flat[0::2] = z[:, 0]
    else:
        flat[:] = z.reshape(-1)
    predict.finish_rows(flat, 0, r, k, LINKS[link])
    return res


def loss_code(softmax):
    return LOSS_SOFTMAX if softmax else LOSS_LOGISTIC


#: Bytes of rows :meth:`Data.decision` copies to C order at a time.
DECISION_BLOCK_BYTES = 1 << 20

#: Most rows of weights (classes) whose logits :meth:`Data.decision` sums
#: down the columns of Fortran-ordered float64 X
#: (:func:`fastlr._kernels.predict.decision_columns`, which reads X once per
#: class); more are decided on blocks of rows copied to C order (X read
#: once). Column kernel / copied blocks, one thread, 5M elements, softmax
#: (interleaved medians of 7): n = 50: k = 1 0.32, 4 0.81, 6 0.98, 8 1.22,
#: 32 2.42; n = 200: k = 4 0.98, 8 1.45, 32 3.12; n = 10: k = 2 0.91, 3
#: 1.14, 4 1.21, 8 1.61. (At k = 200 on 100,000 x 50, the column kernel
#: took 2.2x the time of a copy of the whole X to C order.)
COLUMN_MAX_K = 4


class Data:
    """Validated X (dense C-contiguous float32/float64, or canonical CSR) and
    its kernels; for prediction (``as_data(check=False)``), dense X of any
    layout.

    Attributes
    ----------
    X : ndarray or scipy.sparse CSR matrix
    kind : {"dense", "csr"}
    args : tuple
        X as the kernels take it: ``(X,)`` or ``(data, indices, indptr)``
        (read-only views, :func:`_read_only`).
    m, n : int
    """

    def __init__(self, X):
        self.X = X
        self.kind = "csr" if is_sparse(X) else "dense"
        self.kernels = KERNELS[self.kind]
        self.m, self.n = X.shape
        self.dtype = X.dtype
        if self.kind == "csr":
            self.args = tuple(_read_only(a) for a in
                              (X.data, _unsigned(X.indices), X.indptr))
        else:
            self.args = (X,)
        self.block_rows = self._block_rows()
        self._splits = None
        self._stored = None   # (see stored_columns)
        #: the rows' Moments when the validation pass computed them
        self._moments = None
        #: X was checked finite (by the caller, or :func:`as_data`)
        self.checked = True

    def _block_rows(self):
        """Rows per block of the row-wise passes: about BLOCK_ELEMENTS
        elements (stored entries), at least MIN_BLOCK_ROWS rows."""
        return max(MIN_BLOCK_ROWS, BLOCK_ELEMENTS // self._per_row())

    def _per_row(self):
        """Elements (stored entries) of a row, at least 1."""
        return int(max(1, self.size // max(self.m, 1)) if self.sparse
                   else max(1, self.n))

    def rows_for(self, k, softmax=False):
        """Rows per block of a row-wise pass that computes ``k`` logits a
        row (``softmax``: and their softmax): ``block_rows`` for one, else
        about BLOCK_ELEMENTS multiply-adds (a softmax logit counted as
        SOFTMAX_ELEMENTS of them), at least MIN_BLOCK_ROWS rows. The work
        of such a pass is m n k, not X's m n: sized by X alone, 50,000 x 20
        at k = 500 (500M multiply-adds) was one block, on one thread. The
        rows depend on X's shape and ``k`` only, never on the thread
        count: a pass that sums over blocks adds them in block order."""
        if k <= 1:
            return self.block_rows
        work = k * (self._per_row() + (SOFTMAX_ELEMENTS if softmax else 0))
        return min(self.block_rows, max(MIN_BLOCK_ROWS, BLOCK_ELEMENTS // work))

    @property
    def sparse(self):
        return self.kind == "csr"

    @property
    def size(self):
        """Elements a pass reads: m * n, or the stored entries."""
        return int(self.X.indptr[-1]) if self.sparse else self.X.size

    def row_bytes(self):
        """Bytes of one *dense* row: what sizes the shuffled blocks. Sparse X
        uses the dense row too, so that a sparse matrix and its densified
        copy are visited in the same order for the same ``random_state``."""
        return self.n * self.dtype.itemsize

    def row_splits(self, n_threads=None):
        """CSR X's rows' split points for the lean epoch
        (:func:`fastlr._kernels.sparse.row_splits`), found at the first call
        and kept with X."""
        if self._splits is None:
            splits = np.empty(self.m, dtype=self.X.indptr.dtype)
            self._map_rows(sparse.row_splits, (self.n // 2, splits), n_threads,
                           x=self.args[1:])
            self._splits = splits
        return self._splits

    def _map_rows(self, kernel, args, n_threads, *, x=None, rows=None):
        """:func:`fastlr._kernels.team.map_rows` of ``kernel`` over blocks
        of ``rows`` rows (default ``block_rows``), threaded when there are
        several."""
        rows = self.block_rows if rows is None else rows
        return team.map_rows(team.threads(n_threads) if self.m > rows else 1,
                             self.m, rows, kernel,
                             (*(self.args if x is None else x), *args))

    # ------------------------------------------------------------ at weights

    def decision(self, W, B, n_threads=None, link="logits", dtype=None, row0=0):
        """Logits ``X @ W.T + B``: (m, k) in X's dtype, or in
        ``np.result_type`` of it and ``dtype`` (a model's: float32 X and a
        float64 model give float64, as ``X @ coef_.T`` would); W, B
        raw-space.

        ``link="sigmoid"`` (k = 1) or ``"softmax"`` turns each row's logits
        into probabilities in the same pass, exactly as
        ``predict.sigmoid_array`` / ``predict.softmax_rows`` would on the
        returned logits; ``"proba"`` (k = 1) returns the binary model's
        ``(m, 2)`` class probabilities ``1 - p, p`` (``p`` as ``"sigmoid"``
        gives it, ``1 - p`` as NumPy computes it in the output's dtype);
        ``"log_proba"`` (k = 1) their logarithms, finite wherever the logit
        is (``-log(1 + exp(-+z))``).
        X whose finiteness was not checked (``as_data(X, check=False)``) is
        checked here, only when a logit is NaN or infinite: the same error
        as :func:`check_finite`, after a pass that changed nothing but the
        new output array (rows counted from ``row0``: X a block of rows of a
        larger X).
        """
        W = np.ascontiguousarray(W, dtype=np.float64)
        B = np.ascontiguousarray(B, dtype=np.float64).reshape(W.shape[0])
        out = np.empty((self.m, link_columns(link, W.shape[0])),
                       dtype=self.dtype if dtype is None
                       else np.result_type(self.dtype, dtype))
        if self.sparse or self.X.flags.c_contiguous:
            self._decide(W, B, n_threads, link, out, row0)
            return out
        # dense X in another layout (as_data(check=False) keeps it)
        if (self.X.flags.f_contiguous and out.dtype == np.float64
                and W.shape[0] <= COLUMN_MAX_K):
            # Fortran order (a DataFrame's array), few classes: read down its
            # columns, no copy (copying X to C order first made predict_proba
            # on 300,000 x 50 float64 take 56.8 ms against 5.5 on C-ordered
            # X; this 10.8, scikit-learn's BLAS product 12.0)
            bad = self._map_rows(predict.decision_columns,
                                 self._at_weights(W, B, LINKS[link], out.reshape(-1)),
                                 n_threads, rows=self.rows_for(W.shape[0],
                                                               link == "softmax"))
            if not any(bad):
                return out
        # a strided view, float32 logits, more than COLUMN_MAX_K classes, or
        # a NaN or overflow to name or redo: a block of rows at a time
        # copied to C order in cache and decided there
        rows = max(1, DECISION_BLOCK_BYTES // (self.n * self.dtype.itemsize))
        buf = np.empty((min(rows, self.m), self.n), dtype=self.dtype)
        for lo in range(0, self.m, rows):
            part = buf[:min(rows, self.m - lo)]
            part[...] = self.X[lo:lo + rows]
            block = Data(part)
            block.checked, block.name = self.checked, getattr(self, "name", "X")
            block._decide(W, B, n_threads, link, out[lo:lo + part.shape[0]],
                          row0 + lo)
        return out

    def _decide(self, W, B, n_threads, link, out, row0):
        """:meth:`decision` into ``out`` (rows of a C-ordered array)."""
        bad = self._map_rows(self.kernels.decision,
                             self._at_weights(W, B, LINKS[link], out.reshape(-1)),
                             n_threads, rows=self.rows_for(W.shape[0], link == "softmax"))
        if any(bad):
            if not self.checked:
                check_finite(self, n_threads=n_threads, row0=row0)
            self._overflowed(W, B, link, out, n_threads)

    def _overflowed(self, W, B, link, out, n_threads):
        """Redo the rows of :meth:`decision` whose logits overflowed (X is
        finite): a sum that met +inf and -inf was NaN, and one that reached
        inf had the sign of its first overflowing term. Each such row and
        each model row are divided by their largest magnitude (at least 1)
        first, so every term and sum is finite, and the logit is that sum
        times both: the nearest float, or an infinity of the exact sum's
        sign. Then the link, as :meth:`decision` applies it."""
        z = np.empty((self.m, W.shape[0]), dtype=out.dtype)
        self._map_rows(self.kernels.decision,
                       self._at_weights(W, B, LINKS["logits"], z.reshape(-1)), n_threads,
                       rows=self.rows_for(W.shape[0]))
        rows = np.flatnonzero(~np.isfinite(z).all(axis=1))
        Xr = self.X[rows].astype(np.float64)
        big = abs(Xr).max(axis=1)
        t = np.maximum(big.toarray().reshape(-1) if self.sparse else big, 1.0)
        u = np.maximum(np.maximum(np.abs(W).max(axis=1), np.abs(B)), 1.0)
        scaled = (Xr.multiply(1.0 / t[:, None]).tocsr() if self.sparse
                  else Xr / t[:, None])
        zs = np.asarray(scaled @ (W / u[:, None]).T) + (B / u) / t[:, None]
        with np.errstate(over="ignore"):
            zr = ((zs * t[:, None]) * u).astype(out.dtype)
        out[rows] = _linked(zr, link)

    def loss_sum(self, y, sw, W, B, softmax, n_threads=None):
        """Sum of the (weighted) row losses of the raw-space model."""
        W = np.ascontiguousarray(W, dtype=np.float64)
        B = np.ascontiguousarray(B, dtype=np.float64).reshape(W.shape[0])
        parts = self._row_blocks(self.kernels.loss_sum, (y, sw),
                                 self._at_weights(W, B, bool(softmax)), n_threads,
                                 self.rows_for(W.shape[0], bool(softmax)))
        return sum(parts, 0.0)

    def _row_blocks(self, kernel, per_row, args, n_threads, rows):
        """:meth:`_map_rows` of ``kernel(*X, *per_row, *args, lo, hi)`` over
        blocks of ``rows`` rows: ``per_row`` the arrays indexed by row (an
        empty one stands for all ones, as ``sw``)."""
        return self._map_rows(kernel, (*per_row, *args), n_threads, rows=rows)

    def _at_weights(self, W, *args):
        """``(W, *args, lanes)`` as the decision and loss-sum kernels take
        them: W (k, n) as is, or for CSR X with k >= 2 and at least as many
        stored entries as columns laid out by :meth:`_by_column` (``lanes``
        True). The layout costs a pass over the n columns, which on few
        rows of wide X (a model serving small requests) would cost more than
        the rows."""
        if self.sparse and W.shape[0] > 1 and self.size >= self.n:
            return (self._by_column(W), *args, True)
        return (W, *args, False)

    def _by_column(self, W):
        """W (k, n) float64 laid out a column per row for CSR X (the rows
        read weights at random columns): (n, 1) for one model, else (n, L)
        with the k classes in the first slots of lanes of ``NARROW``
        (:func:`fastlr._kernels.predict.narrow_dot`: a column's weights in
        one cache line), the rest zero."""
        k = W.shape[0]
        if k == 1:
            return W.reshape(self.n, 1)
        T = _table(self.n, -(-k // predict.NARROW) * predict.NARROW)
        T[:, :k] = W.T
        return T

    def loss_grad(self, y, sw, mean, scale, W, B, softmax, n_threads=None):
        """Summed loss and its gradient, over all rows, in one read of X.

        The model is ``W`` (k, n), ``B`` (k,) on the standardized features
        ``(x - mean) / scale`` (X is not copied: the standardization is
        folded into the kernel), the binary model (k = 1, sigmoid) or the
        softmax model (``softmax``, a row per class).

        Parameters
        ----------
        y : (m,) int64 class codes (0/1 for the binary model).
        sw : (m,) or (0,) float64 sample weights (empty: all ones).
        mean, scale : (n,) float64.
        W : (k, n), B : (k,) float64, standardized space.
        softmax : bool
        n_threads : int or None
            As in :func:`fastlr.train`; the result is the same for any value
            (rows are cut into fixed blocks, added in block order).

        Returns
        -------
        loss : float
            ``sum_i sw_i loss_i``: log-loss, or cross-entropy for softmax.
        G : (k, n) float64
            Its gradient with respect to ``W``.
        S : (k,) float64
            Its gradient with respect to ``B``.
        """
        W = np.ascontiguousarray(W, dtype=np.float64)
        k = W.shape[0]
        B = np.ascontiguousarray(B, dtype=np.float64).reshape(k)
        U = W / scale
        center = not self.sparse and not can_fold_mean(mean, scale)
        C = B.copy() if center else B - U @ mean
        if self.sparse:
            U = self._by_column(U)
        rows = self._loss_grad_rows(U.shape[1] if self.sparse else k, bool(softmax))
        blocks = max(1, -(-self.m // rows))
        if self.sparse:
            G = np.empty((blocks, self.n, U.shape[1]))
        else:
            G = np.empty((blocks, k, self.n))
        S = np.empty((blocks, k))
        threads = team.threads(n_threads) if blocks > 1 else 1
        parts = team.map_rows(threads, self.m, rows, self.kernels.loss_grad,
                              (*self.args, y, sw, mean, U, C, bool(softmax), center,
                               G, S, rows))
        # block order, whatever thread computed which block (into G's
        # first block: G is this call's), then one copy out of it, (k, n)
        g = G[0]
        for q in range(1, blocks):
            g += G[q]
        s = S.sum(axis=0)
        g = np.ascontiguousarray(g[:, :k].T) if self.sparse else g.copy()
        if not center and mean.any():
            for c in range(k):   # in place: no (k, n) outer product
                g[c] -= s[c] * mean
        g /= scale
        return sum(parts, 0.0), g, s

    def _loss_grad_rows(self, k, softmax):
        """Rows per block of :meth:`loss_grad` (and of the many-model
        passes, ``k`` their models' rows of weights): those of the other
        row-wise passes with ``k`` logits a row (:meth:`rows_for`), but
        each block has a (k, n) gradient slot, so no more blocks than
        ``block_rows`` gives or LOSS_GRAD_WORK_BLOCKS, whichever is more,
        and fewer when the slots would otherwise cost more than the pass
        (CSR with many columns): the slots together hold at most half as
        many numbers as X has stored entries (on 200k x 1M with 20 entries
        a row: two blocks, one per core here)."""
        most = max(1, self.size // max(1, 2 * k * self.n))
        return max(self.rows_for(k, softmax),
                   min(self.block_rows, -(-self.m // LOSS_GRAD_WORK_BLOCKS)),
                   -(-self.m // most))

    def loss_grad_many(self, y, sw, models, W, B, softmax, n_threads=None,
                       gradient=True):
        """:meth:`loss_grad` for every model of a stack at once, each over
        the rows it trains on, with the held-out fold's loss as well.

        ``models`` as :meth:`fastlr._state.ModelStack.models` (each model's
        standardization, the fold it holds out and each row's fold); ``W``
        (K, k, n), ``B`` (K, k) standardized space; only the ``active``
        models of ``models`` are computed. X is read once for all of them,
        threaded over fixed blocks added in block order: dense X through the
        SGD epoch's chunk sums (:func:`fastlr._kernels.dense.loss_grad_many`),
        CSR X each row's entries for every model
        (:func:`fastlr._kernels.predict.csr_loss_grad_many`).
        ``gradient=False``: ``G`` and ``S`` are None, the sums of the same
        pass without the gradient's arrays beyond the kernel's own (the
        held-out losses of :func:`fastlr._train.finish_stack`: on CSR X of
        1M columns, the (K, k, n) gradient and its temporaries were most of
        the call's memory).

        Returns
        -------
        loss : (K,) float64
            ``sum_i sw_i loss_i`` over each model's training rows.
        G : (K, k, n), S : (K, k) float64
            Its gradient with respect to ``W`` and ``B``.
        held : (K, 2) float64
            The summed loss and weight of each model's held-out rows.
        """
        mean, scale, stat, _, fold, row_fold, _ = models
        W = np.ascontiguousarray(W, dtype=np.float64)
        K, k, n = W.shape
        B = np.ascontiguousarray(B, dtype=np.float64).reshape(K, k)
        if self.sparse:
            return self._csr_loss_grad_many(y, sw, models, W, B, softmax, n_threads,
                                            gradient)
        rows = self._loss_grad_rows(K * k, bool(softmax))
        blocks = max(1, -(-self.m // rows))
        G = np.empty((blocks, K, k, n))
        S = np.empty((blocks, K, k))
        L = np.empty((blocks, K, 6))
        threads = team.threads(n_threads) if blocks > 1 else 1
        team.map_rows(threads, self.m, rows, dense.loss_grad_many,
                      (self.X, y, sw, models, W, B, bool(softmax), G, S, L, rows))
        acc = _block_sum(L)
        if not gradient:
            return acc[:, 0], None, None, acc[:, 2:4].copy()
        g, s = _block_sum(G), _block_sum(S)
        g /= scale[stat][:, None, :]
        return acc[:, 0], g, s, acc[:, 2:4].copy()

    def _csr_loss_grad_many(self, y, sw, models, W, B, softmax, n_threads,
                            gradient=True):
        """:meth:`loss_grad_many` on CSR X: the means folded into the biases
        and out of the gradients (implicit zeros stay untouched). The active
        models' weights are gathered first: a row's columns are random, and
        each of its entries reads and writes the K k values of its column,
        so the fewer models, the fewer cache lines (of 40 models on 50,000
        columns, half had converged after about 50 of 113 rounds)."""
        mean, scale, stat, _, fold, row_fold, active = models
        K, k, n = W.shape
        ids = np.flatnonzero(active)
        Ka = ids.shape[0]
        mu = mean[stat[ids]]
        sc = scale[stat[ids]]
        U = W[ids]   # (a copy)
        U /= sc[:, None, :]
        C = B[ids] - np.einsum("kcn,kn->kc", U, mu)
        Ut = self._by_column(U.reshape(Ka * k, n))
        del U   # (Ut holds it: one (K, k, n) array less during the pass)
        rows = self._loss_grad_rows(Ut.shape[1], bool(softmax))
        blocks = max(1, -(-self.m // rows))
        G = np.empty((blocks, n, Ut.shape[1]))
        S = np.empty((blocks, Ka * k))
        L = np.empty((blocks, Ka, 3))
        threads = team.threads(n_threads) if blocks > 1 else 1
        team.map_rows(threads, self.m, rows, predict.csr_loss_grad_many,
                      (*self.args, y, sw, row_fold, np.ascontiguousarray(fold[ids]), Ut,
                       np.ascontiguousarray(C.reshape(Ka * k)), k, bool(softmax), G,
                       S, L, rows))
        del Ut
        acc = _block_sum(L)
        loss, held = np.zeros(K), np.zeros((K, 2))
        loss[ids], held[ids] = acc[:, 0], acc[:, 1:3]
        if not gradient:
            return loss, None, None, held
        g, s = _block_sum(G, into=True), _block_sum(S).reshape(Ka, k)
        Gout, Sout = np.zeros((K, k, n)), np.zeros((K, k))
        Gout[ids] = g[:, :Ka * k].T.reshape(Ka, k, n)
        Gout[ids] -= s[:, :, None] * mu[:, None, :]
        Gout[ids] /= sc[:, None, :]
        Sout[ids] = s
        return loss, Gout, Sout, held

    def gradients(self, y01, p):
        """``(dw, db)`` of the mean log-loss at probabilities ``p``."""
        dw = np.empty(self.n)
        db = self.kernels.gradient_sums(*self.args, y01, p, dw)
        return dw, float(db)

    # ------------------------------------------------------------ statistics

    def absmax(self, row_fold=None, folds=(0,), sw=None):
        """``(amax, shift)`` (F, n): each column's largest ``|x|`` over the
        rows of each training set (:func:`fastlr._kernels.stats.absmax`),
        and the
        values each training set's sums shift it by (see
        :func:`fastlr._stats.shift`; the sets and weights as
        :meth:`shifted_sums`)."""
        amax, first, stored, picks = self.shift_parts(row_fold, folds, sw)
        return amax, _stats.shift(first, stored, np.array([[c] for _, c in picks]))

    def shift_parts(self, row_fold=None, folds=(0,), sw=None):
        """``(amax, first, stored, picks)`` of :meth:`absmax`: for each
        set, the largest ``|x|`` of its rows ((F, n)), the values of the row
        its sums shift by ((F, n)), the number of counted rows storing each
        column ((F, n); None for dense X) and :func:`fastlr._stats.shift_row`'s ``(row,
        counted rows)``."""
        folds = np.asarray(folds, dtype=np.int64)
        picks = [_stats.shift_row(np.ones(self.m, dtype=bool) if row_fold is None
                                  else row_fold != fold, sw) for fold in folds]
        amax = np.zeros((folds.shape[0], self.n))
        sw_arg = np.empty(0) if sw is None else sw
        fold_arg = _no_folds() if row_fold is None else row_fold
        if not self.sparse:
            stats.absmax(self.X, sw_arg, fold_arg, folds, amax)
            return amax, self._rows_at([i for i, _ in picks], folds.shape[0]), None, picks
        stored = np.zeros((folds.shape[0], self.n), dtype=np.int64)
        stats.csr_absmax(*self.args, sw_arg, fold_arg, folds, amax, stored)
        return amax, self._rows_at([i for i, _ in picks], folds.shape[0]), stored, picks

    def _rows_at(self, rows, F):
        """The rows ``rows`` of X as dense float64 (F, n); zeros without
        rows (no rows at all)."""
        if not self.m:
            return np.zeros((F, self.n))
        if not self.sparse:
            return np.asarray(self.X[rows], dtype=np.float64)
        first = np.zeros((F, self.n))
        for f, i in enumerate(rows):
            row = slice(self.X.indptr[i], self.X.indptr[i + 1])
            first[f, self.X.indices[row]] = self.X.data[row]
        return first

    def moments(self, name="X", n_threads=None):
        """Check that dense X is finite and return its rows'
        :class:`fastlr._stats.Moments`, from one read of X (threaded).

        Fixed blocks of rows (their bounds depend on X's shape only) each
        make the two passes of the statistics while in cache
        (:func:`fastlr._kernels.stats.moment_sums`); their moments are
        merged in block order (:func:`fastlr._stats.merge_all`), so the
        result is the same for any number of threads. Raises ValueError
        naming ``name`` and the first bad row and column if X holds NaN or
        infinity (X is then read once more, to find them)."""
        rows = max(self.block_rows, -(-self.m // STATS_MAX_BLOCKS))
        nb = -(-self.m // rows)
        sub = max(STATS_SUB_ROWS, STATS_SUB_BYTES // self.row_bytes())
        out = tuple(np.empty((nb, self.n)) for _ in range(5))
        ok = self._moment_blocks(team.threads(n_threads) if nb > 1 else 1, rows,
                                 sub, out)
        if not all(ok):
            raise nonfinite_error(self.X, name)
        shift, pdiv, amax, s1, s2 = out
        return _stats.merge_all([
            _stats.moments(min(rows, self.m - b * rows), amax[b], shift[b], s1[b],
                           s2[b], pdiv[b]) for b in range(nb)])

    def _moment_blocks(self, threads, rows, sub, out):
        """:func:`fastlr._kernels.stats.moment_sums` of each block of
        ``rows`` rows into its row of the (B, n) arrays ``out``."""
        return team.map_rows(threads, self.m, rows, stats.moment_sums,
                             (self.X, sub, rows, *out))

    def shifted_sums(self, inv, shift, row_fold=None, folds=(0,), sw=None):
        """``(s1, s2)`` (F, n): sums of ``x * inv[f] - shift[f] * inv[f]``
        and its square over each training set ``f`` (``inv`` and ``shift``
        (n,) or (F, n)): the rows whose ``row_fold`` differs
        from ``folds[f]`` (all rows when ``row_fold`` is None), each row's
        terms times its weight ``sw[i]`` when ``sw`` is given."""
        folds = np.asarray(folds, dtype=np.int64)
        row_fold = _no_folds() if row_fold is None else row_fold
        sw = np.empty(0) if sw is None else sw
        shift, inv = (np.ascontiguousarray(np.broadcast_to(a, (folds.shape[0], self.n)),
                                           dtype=np.float64) for a in (shift, inv))
        s1 = np.zeros((folds.shape[0], self.n))
        s2 = np.zeros((folds.shape[0], self.n))
        sums = stats.csr_shifted_sums if self.sparse else stats.shifted_sums
        sums(*self.args, sw, row_fold, folds, inv, shift, s1, s2)
        return s1, s2

    def column_stats(self, row_fold=None, folds=(0,), sw=None, moments=False):
        """Column means and standard deviations (ddof=0, implicit zeros
        included), constant columns scale 1 (:func:`fastlr._stats.finish`):
        (F, n) arrays, one row per training set of :meth:`shifted_sums`.
        Every set is divided by the largest ``|x|`` of its rows and shifted
        by a row it counts (the rule's safeguards, :mod:`fastlr._stats`), so
        a set's statistics do not depend on the other sets' rows, nor on
        rows of weight 0. With sample weights
        ``sw`` (m,), the weighted ones: each row counts as often as its
        weight, so a row of weight 0 counts for nothing (the statistics of X
        with rows repeated by integer weights).

        ``moments`` (one set: no ``row_fold``): also return the rows'
        :class:`fastlr._stats.Moments` (from the same passes), which running
        statistics merge."""
        if (row_fold is None and len(folds) == 1 and not self.sparse
                and (sw is None or sw.shape[0] == 0)):
            # all rows of dense X, unweighted: the moments of the validation pass
            mom = self._moments if self._moments is not None else self.moments()
            mean, scale = (a[None] for a in _stats.finish_moments(mom))
            return (mean, scale, mom) if moments else (mean, scale)
        sw = None if sw is None or sw.shape[0] == 0 else sw
        amax, shift = self.absmax(row_fold, folds, sw)
        s, inv = _stats.scaling(amax)
        s1, s2 = self.shifted_sums(inv, shift, row_fold, folds, sw)
        mean = np.empty_like(s1)
        scale = np.empty_like(s1)
        for f, fold in enumerate(folds):
            rows = slice(None) if row_fold is None else row_fold != fold
            if sw is None:
                total = self.m if row_fold is None else int(np.count_nonzero(rows))
            else:
                total = float(sw[rows].sum())
            # the rule of _stats.finish, a column at a time (no temporaries)
            stats.finish_columns(float(total), s[f], inv[f], shift[f], s1[f], s2[f],
                                 mean[f], scale[f])
        if moments:
            # the mean exactly as finish_columns computed it
            m2 = np.empty(self.n)
            stats.spread_columns(float(total), s1[0], s2[0], m2)
            mom = _stats.moments(total, amax[0], shift[0], s1[0], s2[0],
                                 mean=mean[0].copy(), m2=m2)
            return mean, scale, mom
        return mean, scale

    def row_moments(self):
        """The rows' :class:`fastlr._stats.Moments` (all rows, unweighted),
        those of :meth:`column_stats` with ``moments``. On CSR X they are
        computed on the columns X stores a value in alone (X's entries
        re-indexed to those columns, in the same order), the others' being
        those of a column of zeros (0.0 in every field): each column's
        statistics are its own entries' (the shift row is chosen by row),
        so the values are the same, without the passes over all ``n``
        columns (on 1M columns and a chunk of 1000 rows of 20 entries,
        about half of a ``partial_fit`` call): :meth:`stored_moments`,
        widened. On dense X, those of the validation pass if it computed
        them (``as_data(with_stats=True)``), else of :meth:`moments`
        (without the mean and scale :meth:`column_stats` would finish from
        them)."""
        if not self.sparse:
            return self._moments if self._moments is not None else self.moments()
        return _stats.widened(*self.stored_moments(), self.n)

    def stored_moments(self):
        """``(cols, moments)`` of CSR X: the columns it stores a value in
        (:meth:`stored_columns`, found in O(nnz + n)) and the rows'
        :class:`fastlr._stats.Moments` at those columns alone (X's entries
        re-indexed to them, in the same order), as :meth:`row_moments`
        gives them there."""
        cols, stored = self.stored_part()
        return cols, stored.column_stats(moments=True)[2]

    def stored_part(self):
        """``(cols, part)`` of CSR X: the columns it stores a value in
        (:meth:`stored_columns`) and X on those columns alone, a
        :class:`Data` of ``len(cols)`` columns whose entries (X's, in the
        same order, sharing its values) are re-indexed to them. A row's dot
        product with weights ``w`` is that of its part with ``w[cols]``,
        term for term."""
        X = self.X
        cols, at = self.stored_columns()
        return cols, Data(sp.csr_matrix((X.data[:X.indptr[-1]], at, X.indptr),
                                        shape=(self.m, cols.shape[0])))

    def stored_columns(self):
        """``(cols, at)`` of CSR X: the columns it stores an entry in,
        sorted, and each entry's position in ``cols`` (in X's indices'
        dtype): ``np.unique(indices, return_inverse=True)``, by marking the
        columns in a mask of ``n`` and ranking the marked ones, O(nnz + n)
        instead of a sort of the entries, O(nnz log nnz) (on a chunk of
        5,000 x 20, 100k entries, 0.6 ms against 5.8 ms: seven tenths of a
        ``partial_fit`` call). Found at the first call and kept with X."""
        if self._stored is None:
            idx = self.X.indices[:self.X.indptr[-1]]
            seen = np.zeros(self.n, dtype=bool)
            seen[idx] = True
            cols = np.flatnonzero(seen)
            rank = np.empty(self.n, dtype=idx.dtype)
            rank[cols] = np.arange(cols.shape[0], dtype=idx.dtype)
            self._stored = cols, rank[idx]
        return self._stored

    def centers(self, standardize):
        """Whether ``standardize`` (True, False or "scale") subtracts column
        means on this X (on sparse X, True means "scale": centering would
        densify)."""
        return (not isinstance(standardize, str) and bool(standardize)
                and not self.sparse)

    def standardization(self, standardize, row_fold=None, folds=(0,), sw=None,
                        moments=False):
        """``(mean, scale)`` (F, n) for ``standardize`` True, False or "scale"
        (on sparse X, True means "scale": centering would densify), one row
        per training set, weighted by ``sw`` when given (see
        :meth:`column_stats`); ``moments``: also the rows'
        :class:`fastlr._stats.Moments` (None for ``standardize=False``)."""
        F = len(folds)
        if not standardize:
            out = np.zeros((F, self.n)), np.ones((F, self.n))
            return (*out, None) if moments else out
        mean, scale, *mom = self.column_stats(row_fold, folds, sw, moments=moments)
        if not self.centers(standardize):
            mean[:] = 0.0
        return (mean, scale, mom[0]) if moments else (mean, scale)

    # ---------------------------------------------------------------- epochs

    def check_state(self, state):
        """Raise if ``state`` (a :class:`fastlr._state.ModelState` or
        :class:`fastlr._state.ModelStack`) cannot be trained on this X:
        sparse X on a model that centers its features."""
        if self.sparse and state.centers():
            raise ValueError(
                "X is sparse but the model centers its features (it was "
                "started on dense X, standardized by standardize=True or 'auto'); "
                "sparse input can only be scaled. Start from sparse X, or use "
                "standardize='scale' or False")

    def epoch_runner(self, y, sw, stack, batch_size, n_threads):
        """``run(blocks, block, opt) -> acc``: one epoch of SGD of the models
        of ``stack`` (a :class:`fastlr._state.ModelStack`) updating them in
        place, on the kernel and threads that fit (several threads for dense
        X of at least PARALLEL_MIN_TRAIN_ELEMENTS elements and batches of at
        least PARALLEL_MIN_BATCH rows; for CSR X, when ``n_threads`` is given,
        the lean epoch of one binary model on batches of at least
        SPARSE_PARALLEL_MIN_BATCH rows). ``acc``
        (K, 6): per model the epoch's sums of training loss, its bound, held-out
        loss, held-out weight and rows trained on, then 1.0 if its weights and
        intercepts are finite after the epoch, else 0.0 (the CSR table's
        epoch finds it in its last pass over the table: on 1M columns and 16
        models a pass of its own cost about a tenth of the epoch)."""
        K, k, n = stack.W.shape
        acc = np.empty((K, 6))
        if self.sparse:
            self.check_state(stack)
            unit = (1,) if K == 1 and k == 1 else ()
            # only on request (see SPARSE_PARALLEL_MIN_BATCH); two halves, two
            # threads at most
            threads = 1 if n_threads is None else team.threads(n_threads)
            if not (threads > 1 and unit and min(batch_size, self.m)
                    >= SPARSE_PARALLEL_MIN_BATCH
                    and self.size >= PARALLEL_MIN_TRAIN_ELEMENTS):
                threads = 1
            nb = min(batch_size, self.m)
            halves = sparse.LEAN_PARTS
            threads = min(threads, halves)   # the lean team's tasks are halves
            shared = (np.empty((halves, nb), dtype=np.int64), np.empty(nb),
                      np.empty(4), np.empty((halves, nb)),
                      np.empty((halves, 7, nb)), np.empty((halves, 16)))
            # the epoch's table, kept between epochs; a stack of several
            # models that owns its arrays keeps its weights in it (W becomes
            # a view of the table's weight slots): no copy in and out each
            # epoch, and the (K, k, n) array is never written
            table = [np.empty(0)]
            # the batch gradient's sums and marks, kept between epochs (as
            # the epoch returns them: see sparse.epoch)
            sums = [_no_sums()]
            resident_width = [0]   # the width of the table W lives in, or 0
            stand_in = np.empty((K, k, 0))
            # a stream's model keeps the table between calls (a partial_fit
            # call on 1M columns spent a quarter of its time on a new one)
            keep = None if stack.single is None else stack.single.scratch

            def run_csr(blocks, block, opt):
                acc[:] = 0.0
                if unit and is_lean(opt, stack.hyper):
                    lean = (*self.args, self.row_splits(threads), y, sw, blocks, block,
                            batch_size, opt, stack.models(), stack.arrays(), acc)
                    if threads == 1:
                        sparse.lean_epoch(*lean)
                        acc[:, 5] = stack.finite_models()
                        return acc
                    # the lean epoch on the team: a thread per half of the weights
                    ctl = team.control()
                    ctl[team.OPEN] = 0
                    shared[2][:] = (1.0, stack.B[0, 0], 0.0, 0.0)
                    claims = np.zeros((halves + 1) * sparse.CLAIM_SLOT, dtype=np.int64)
                    team.run(threads, sparse.lean_worker,
                             (*lean, (*shared, claims, ctl)), ctl)
                    acc[:, 5] = stack.finite_models()
                    return acc
                # W's stand-in: the layout needs its shape only, and a
                # resident W (a strided view) would be one more specialization
                rows, width = sparse.table_layout(
                    opt, stack.models(), (stand_in, *stack.arrays()[1:]), unit)[-2:]
                resident = stack.owns and K > 1 and rows > 0
                if resident and resident_width[0] != width:
                    T = _table(rows, width)
                    T[:, :K * k] = stack.W.reshape(K * k, rows).T
                    stack.W = T[:, :K * k].reshape(rows, K, k).transpose(1, 2, 0)
                    table[0] = T.reshape(-1)
                    resident_width[0] = width
                elif keep is not None:
                    table[0] = keep.take(rows * width,
                                         lambda: _table(rows, width).reshape(-1))
                elif table[0].shape[0] < rows * width:
                    table[0] = _table(rows, width).reshape(-1)
                state = stack.arrays()
                if resident:
                    state = (stand_in, *state[1:])
                # the gradient's sums as the last epoch left them (kept by a
                # stream between calls); an epoch that fails may leave them
                # dirty, so none are kept until it returns
                given = sums[0] if keep is None else keep.take(0, _no_sums, "sums")
                sums[0] = _no_sums()
                try:
                    got = sparse.epoch(*self.args, y, sw, blocks, block, batch_size,
                                       opt, stack.models(), state, acc, table[0],
                                       given, resident, unit)
                finally:
                    if keep is not None and not resident:
                        keep.give(table[0])
                        table[0] = np.empty(0)
                if keep is None:
                    sums[0] = got
                else:
                    keep.give(got, "sums")
                return acc
            return run_csr
        threads = team.threads(n_threads)
        if not (threads > 1 and min(batch_size, self.m) >= PARALLEL_MIN_BATCH
                and self.X.size >= PARALLEL_MIN_TRAIN_ELEMENTS):
            threads = 1
        nch, _ = team.tasks(self.m, batch_size)
        slots = nch if threads > 1 else 0   # one thread adds chunks as it goes
        U = np.empty((K, k, n))
        C = np.empty((K, k))
        G = np.empty((slots, K, k, n))
        S = np.empty((slots, K, k))
        L = np.empty((slots, K, 5))

        # small batches of one binary model: the lean epoch, when its options allow
        lean = batch_size <= DENSE_LEAN_MAX_BATCH and K == 1 and k == 1

        def run_dense(blocks, block, opt):
            acc[:] = 0.0
            if lean and is_lean(opt, stack.hyper, True):
                dense.lean_epoch(self.X, y, sw, blocks, block, batch_size, opt,
                                 stack.models(), stack.arrays(), acc)
                acc[:, 5] = stack.finite_models()
                return acc
            ctl = team.control()
            team.run(threads, dense.epoch,
                     (self.X, y, sw, blocks, block, batch_size, opt, stack.models(),
                      stack.arrays(), (U, C, G, S, L, ctl, acc)), ctl)
            acc[:, 5] = stack.finite_models()
            return acc
        return run_dense


class RowSubset(Data):
    """The rows ``rows`` (sorted, distinct) of the X of ``data``, which
    train and give statistics and losses exactly as ``Data(X[rows])`` would
    (the same bits) without that copy of X: ``early_stopping`` trains on
    the rows it does not hold out this way.

    The epochs visit the rows through their order (``block = 1``,
    ``blocks`` the rows: :func:`fastlr._kernels.dense.order_length`), so
    every batch and chunk holds the rows, in the order, that the copy's
    would. The statistics and losses make the copy's passes over its
    blocks, each block of rows gathered when read (a block at a time: at
    most a block per thread is copied), or on X itself where the kernel
    skips rows (the column sums of :meth:`shifted_sums`, in row order).
    Arguments indexed by row (``y``, ``sw``) are the subset's, as for
    ``Data(X[rows])``. Row passes it does not offer (prediction, the
    finisher's gradients) raise.
    """

    def __init__(self, data, rows):
        self.full = data
        self.rows = np.asarray(rows, dtype=np.int64)
        super().__init__(data.X)
        self.m = self.rows.shape[0]
        self._size = (int(np.diff(data.X.indptr)[self.rows].sum()) if data.sparse
                      else self.m * self.n)
        self.block_rows = self._block_rows()
        self._outside = None

    @property
    def size(self):
        return self._size if hasattr(self, "_size") else super().size

    def _gather(self, lo, hi):
        """The rows ``lo .. hi - 1`` of the subset, copied: a
        :class:`Data`."""
        idx = self.rows[lo:hi]
        return Data(np.take(self.X, idx, axis=0) if not self.sparse else self.X[idx])

    def _scatter(self, a, fill=0):
        """A row-indexed array of the subset as one of X's rows (``fill``
        elsewhere); an empty one stays empty."""
        if a is None or a.shape[0] == 0:
            return a
        out = np.full(self.full.m, fill, dtype=a.dtype)
        out[self.rows] = a
        return out

    def _map_rows(self, kernel, args, n_threads, *, x=None, rows=None):
        raise NotImplementedError("a row pass of a RowSubset that gathers "
                                  "no rows")

    def _row_blocks(self, kernel, per_row, args, n_threads, rows):
        def block(lo, hi):
            return kernel(*self._gather(lo, hi).args,
                          *(a[lo:hi] if a.shape[0] else a for a in per_row),
                          *args, 0, hi - lo)
        return team.map_rows(team.threads(n_threads) if self.m > rows else 1,
                             self.m, rows, block, ())

    def _moment_blocks(self, threads, rows, sub, out):
        def block(lo, hi):
            b = lo // rows
            return stats.moment_sums(self._gather(lo, hi).X, sub, rows,
                                     *(a[b:b + 1] for a in out), 0, hi - lo)
        return team.map_rows(threads, self.m, rows, block, ())

    @staticmethod
    def _one_set(row_fold, folds):
        if row_fold is not None or len(folds) != 1:
            raise NotImplementedError("folds of a RowSubset")

    def shift_parts(self, row_fold=None, folds=(0,), sw=None):
        # the largest |x| (and CSR's stored counts) over gathered blocks:
        # maxima and counts, whatever the blocks
        self._one_set(row_fold, folds)
        picks = [_stats.shift_row(np.ones(self.m, dtype=bool), sw)]
        amax = np.zeros((1, self.n))
        stored = np.zeros((1, self.n), dtype=np.int64) if self.sparse else None
        one = np.zeros(1, dtype=np.int64)
        for lo in range(0, self.m, self.block_rows):
            hi = min(lo + self.block_rows, self.m)
            part = self._gather(lo, hi)
            sw_part = np.empty(0) if sw is None else sw[lo:hi]
            if self.sparse:
                stats.csr_absmax(*part.args, sw_part, _no_folds(), one, amax, stored)
            else:
                stats.absmax(part.X, sw_part, _no_folds(), one, amax)
        return amax, self._rows_at([self.rows[i] for i, _ in picks], 1), stored, picks

    def _rows_at(self, rows, F):
        return self.full._rows_at(rows, F) if self.m else np.zeros((F, self.n))

    def shifted_sums(self, inv, shift, row_fold=None, folds=(0,), sw=None):
        # the kernel skips the rows outside (fold 1), in row order: the
        # copy's sums, the same additions in the same order
        self._one_set(row_fold, folds)
        if self._outside is None:
            self._outside = np.ones(self.full.m, dtype=np.int8)
            self._outside[self.rows] = 0
        return self.full.shifted_sums(inv, shift, self._outside, (1,), self._scatter(sw))

    def epoch_runner(self, y, sw, stack, batch_size, n_threads):
        run = self.full.epoch_runner(self._scatter(y), self._scatter(sw), stack,
                                     batch_size, n_threads)

        def run_rows(blocks, block, opt):
            # the copy's order, as the rows of X it names
            return run(self.rows[rows_of(blocks, block, self.m)], 1, opt)
        return run_rows


def merge_finish(a, b, means=True):
    """:func:`fastlr._stats.merge_finish` (running statistics: the merged
    :class:`fastlr._stats.Moments` of ``a`` and ``b`` and the
    standardization they give), its source compiled and run column by
    column (:func:`fastlr._kernels.stats.merge_columns`): the same values,
    one pass, no temporary."""
    n = a.amax.shape[0]
    out = tuple(np.empty(n if i != 3 or means else 0) for i in range(5))
    a_fields, b_fields = ([np.ascontiguousarray(v, dtype=np.float64)
                           for v in (p.amax, p.mean, p.m2)] for p in (a, b))
    stats.merge_columns(float(a.rows), *a_fields, float(b.rows), *b_fields, *out)
    amax, mean, m2, std_mean, std_scale = out
    # the rows as merge counts them: int for unweighted rows, exact
    return (_stats.Moments(a.rows + b.rows, amax, mean, m2),
            std_mean if means else None, std_scale)


def _block_sum(parts, into=False):
    """The sum of a pass's per-block ``parts`` (blocks, ...) in block order,
    whatever thread computed which block: a copy of the first block plus
    the others (``into``: into the first block itself, the pass's own
    array, without the copy)."""
    total = parts[0] if into else parts[0].copy()
    for q in range(1, parts.shape[0]):
        total += parts[q]
    return total


def _table(rows, width):
    """Zeros (rows, width) float64 for the CSR epoch's table, its first
    element on a cache line (a record of 8 or 16 weights is then whole
    lines). Allocated by NumPy, not in a kernel: NumPy asks for huge pages
    for large arrays, which the table's random columns need (the same
    table from numba's allocator, 4 kB pages, made a 16-model epoch on 1M
    columns 1.4x slower)."""
    buf = np.zeros(rows * width + sparse.LINE // 8)
    off = (-buf.ctypes.data % sparse.LINE) // 8
    return buf[off:off + rows * width].reshape(rows, width)


def _no_sums():
    """Empty gradient sums and marks for :func:`fastlr._kernels.sparse.epoch`
    (which then makes its own)."""
    return np.empty(0), np.empty(0, dtype=np.int64)


def _no_folds():
    return np.empty(0, dtype=np.int8)


def _unsigned(indices):
    """int32 column indices viewed as uint32 (no copy).

    numba turns a signed index into ``j + n if j < 0 else j`` at every
    access (Python's negative indexing); an unsigned one is used as is. The
    indices are validated non-negative, so the view changes no value. On
    the 1M-column workload the CSR epoch took 0.92x the time with the view
    (interleaved A/B). int64 indices stay signed: numba computes uint64
    mixed with int64 in floats.
    """
    return indices.view(np.uint32) if indices.dtype == np.int32 else indices


def _read_only(a):
    """A read-only view of ``a`` (no copy).

    numba types an array on its writeable flag, so CSR arrays as the caller
    made them (writable) and as joblib or a memmap hands them over
    (read-only ``data``, say) would each compile a variant of every CSR
    kernel (20-40 s, in every worker process, whatever ``fastlr compile``
    compiled). The kernels never write into X, so they always get X's
    arrays read-only: one variant, whatever the caller's flags.
    """
    v = a.view()
    v.flags.writeable = False
    return v


def check_finite(data, name=None, n_threads=None, row0=0):
    """Raise if validated X holds NaN or infinity (one pass, no temporary;
    dense X on ``n_threads`` threads as in :func:`fastlr.train`), naming
    ``name`` (default: the name it was validated under) and the first bad
    row (counted from ``row0``) and column."""
    name = name or getattr(data, "name", "X")
    if data.sparse:
        ok = stats.finite_1d(data.args[0][:data.X.indptr[-1]])
    else:
        ok = all(data._map_rows(stats.all_finite, (), n_threads))
    if not ok:
        raise nonfinite_error(data.X, name, row0)


def csr_form(csr, finite, n_threads=None):
    """The ``form`` of :func:`fastlr._validation.check_sparse_X` on the
    kernel path: :func:`fastlr._kernels.stats.csr_form` over blocks of
    ``csr``'s rows (:class:`Data`'s), on ``n_threads`` threads as the row
    passes run, the blocks' flags or-ed. One read of the index arrays (and,
    ``finite``, of the values), no temporary: the NumPy form read them in
    three passes with temporaries, most of a CSR prediction's time."""
    data = Data(csr)
    found = 0
    for flags in data._map_rows(stats.csr_form, (data.n, finite), n_threads):
        found |= flags
    return found


def as_data(X, name="X", accept_sparse=True, with_stats=False, n_threads=None,
            check=True, train=False, any_layout=False):
    """Validate X (shape, dtype, finiteness; see
    :func:`fastlr._validation.check_X`) and wrap it: the one place where the
    dense-or-CSR choice is made. ``with_stats``: the column statistics will be
    needed; on dense X the finiteness check then computes them in the same
    read of X (:meth:`Data.moments`), and :meth:`Data.column_stats` of all
    rows and :meth:`Data.row_moments` use them; ``n_threads`` as in
    :func:`fastlr.train`. ``check=False``:
    only :meth:`Data.decision` will read X, and it checks finiteness itself
    when a logit is not finite (one read of X instead of two). ``train``: a
    model is to be trained on X: a sparse X wider than memory allows is
    refused first (:func:`fastlr._validation.check_width`). ``any_layout``
    (with ``check=False``, for :meth:`Data.decision` alone): dense
    float32/float64 X in another layout than C order is kept, not copied
    whole (a DataFrame's Fortran-ordered array, a strided view). CSR X's
    index arrays (and with ``check`` its values) are checked in one pass,
    :func:`csr_form`."""
    def form(csr, finite):
        # sparse X is checked finite (``check``) in the pass that checks its
        # indices
        return csr_form(csr, finite or check, n_threads)

    data = Data(check_X(X, name, accept_sparse=accept_sparse, finite=False,
                        contiguous=not any_layout, form=form))
    if train and data.sparse:
        check_width(data.n, name)
    if with_stats and not data.sparse:
        data._moments = data.moments(name, n_threads)
    elif check and not data.sparse:
        check_finite(data, name, n_threads)
    else:
        data.checked = False
        data.name = name
    return data
