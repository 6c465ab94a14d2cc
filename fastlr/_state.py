"""The trainable state of a model: standardization, weights, optimizer state.

One class for every model: ``k`` rows of weights, ``k = 1`` for the binary
(sigmoid) model, one row per class for the softmax model. The kernels train
stacks of models (:class:`ModelStack`, see :mod:`fastlr._kernels.update`
for what each array holds): an ordinary fit is a stack of one model whose
arrays are views of the :class:`ModelState`'s, a regularization path or a
cross-validation one model per candidate and fold. Model files store a
model through :meth:`ModelState.to_file_arrays` and
:meth:`ModelState.from_file_arrays`. Plain NumPy: nothing here runs a
kernel.
"""

import threading

import numpy as np

from . import _stats
from ._order import copied_rng
from ._validation import raw_model, weights_as

#: The optimizer-state arrays, beside the weights.
OPTIMIZER_ARRAYS = ("steps", "gsq", "avg", "l1_u", "l1_q")

#: The running statistics in a model file (see :meth:`ModelState.to_file_arrays`).
STATS_ARRAYS = ("stats", "stats_rows")

#: Most columns, as a share of all, that :meth:`ModelState.add_rows` merges
#: and re-expresses alone (the others' statistics are those of a column of
#: zeros, which merging more zero rows leaves as they are): beyond it, the
#: gathers and scatters of the chosen columns cost more than the passes
#: over all of them. Either way the values are the same.
LIVE_SHARE = 0.25


def counted_moments(moments, counted):
    """Weighted :class:`fastlr._stats.Moments` (``rows`` the weights'
    total) as running statistics start from them: the moments of
    ``counted`` rows (the rows of positive weight), each row counted by
    its weight relative to the mean weight of those rows. So a fit's rows
    count as rows when later chunks (unweighted) are merged, and a
    rescaling of the weights, which changes nothing in the fit, changes
    nothing there either. The mean and the largest ``|x|`` are kept and
    the variance (``m2 / rows``) to rounding; the fit's own
    standardization, computed before, is not touched. None stays None."""
    if moments is None:
        return None
    return _stats.Moments(counted, moments.amax, moments.mean,
                          moments.m2 * (counted / moments.rows))


class Scratch:
    """Scratch memory that a stream of trainings of one model reuses from
    call to call (the CSR epoch's table and its batch gradient's sums, see
    :meth:`fastlr._dispatch.Data.epoch_runner`): a ``partial_fit`` call on
    1M columns allocated, and first touched, a table of tens of MB. Each
    ``slot`` holds one buffer (an array, or a tuple of arrays), lent to
    one user at a time (:meth:`take`, :meth:`give`): two threads (or two
    estimators sharing a state, ``copy.copy``) that train at once get a
    buffer each. A table's contents are never read before they are
    written, and the sums come back as the epoch found them, so nothing
    carries over. Pickles and ``copy`` copies start empty: the memory is
    never saved."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buffers = {}

    def __reduce__(self):
        return Scratch, ()

    @staticmethod
    def _size(buf):
        return sum(a.shape[0] for a in buf) if isinstance(buf, tuple) else buf.shape[0]

    def take(self, size, make, slot="table"):
        """The buffer of ``slot`` of at least ``size`` elements, the one kept
        if large enough (it is then this caller's until :meth:`give`), else
        ``make()``."""
        with self._lock:
            buf = self._buffers.pop(slot, None)
        return buf if buf is not None and self._size(buf) >= size else make()

    def give(self, buf, slot="table"):
        """Keep ``buf`` (from :meth:`take`) for the next user of ``slot``:
        the larger of it and one kept meanwhile."""
        with self._lock:
            kept = self._buffers.get(slot)
            if kept is None or self._size(kept) < self._size(buf):
                self._buffers[slot] = buf


class ModelState:
    """Standardization, the SGD iterate and its optimizer state.

    ``W`` (k, n) and ``B`` (k,) are the iterate on ``(x - mean) / scale``;
    :meth:`raw` maps the model back to raw feature space. The optimizer
    state travels with it, so that ``warm_start`` and ``partial_fit``
    continue the schedule where it stopped:

    * ``steps`` (2,) int64: SGD steps (batches) taken, and iterates averaged;
    * ``gsq`` (k, n + 1): AdaGrad's sums of squared gradients (last column:
      the intercepts');
    * ``avg`` (k, n + 1): averaged weights and intercepts (ASGD);
    * ``l1_u``, ``l1_q`` (k, n): cumulative L1 penalty available / applied
      (Tsuruoka et al. 2009).

    The model is the averaged weights once averaging has started
    (``steps[1] > 0``), the iterate otherwise (as in scikit-learn).

    Running statistics (``partial_fit``): ``moments`` holds the
    :class:`fastlr._stats.Moments` of every row the standardization was
    computed from, and ``center`` whether it subtracts their mean (else
    only ``scale`` follows them). :meth:`add_rows` merges the moments of
    new rows and re-expresses the model in the standardization they give
    (:meth:`restandardize`), leaving its raw-space function unchanged.
    ``moments`` is None when the standardization is fixed (no
    standardization, or a model file written before running statistics).

    Optimizer arrays that training with the state's options never writes
    need not exist: ``written`` (:func:`fastlr._sgd.written_arrays`) names
    those allocated, the others are empty (k, 0) placeholders, which the
    kernels never index (they touch each array only under its option, as
    :class:`ModelStack`'s placeholders rely on), recorded in :attr:`shared`
    (known zeros, left alone by :meth:`restandardize`). A :meth:`copy`
    gives every placeholder it does not share its full shape, as zeros, and
    :meth:`release` makes placeholders of a trained state's zero arrays: a
    fitted k-class model kept four all-zero k x n arrays beside its weights
    (its pickle 6 to 11 times the weights').

    Parameters
    ----------
    mean, scale : (n,) float64
    k : int
        Rows of weights.
    softmax : bool
        The softmax model (any ``k >= 2``); else the binary model (``k = 1``).
    written : iterable of str or None
        The optimizer arrays of :attr:`IDLE` to allocate (None: all).
    """

    ARRAYS = ("mean", "scale", "W", "B", *OPTIMIZER_ARRAYS)

    #: The optimizer arrays this state shares with the one it was copied
    #: from (:meth:`copy`): all zeros, which training with its options does
    #: not write and :meth:`restandardize` leaves as they are.
    shared = frozenset()

    #: The mean array known to hold only zeros and the scale array known to
    #: hold only ones (:meth:`centers`, :meth:`scales`; None: not known):
    #: the standardization is replaced, never changed in place, so each
    #: array is read once for it, not at every ``partial_fit`` call (on 1M
    #: columns, four or five passes a call).
    _zero_mean = None
    _unit_scale = None

    #: ``(moments, scale, cols)``: the columns whose running statistics or
    #: scale are not those of a column of zeros so far (:meth:`_live`; None:
    #: too many), for these ``moments`` and ``scale`` objects (replaced,
    #: never changed in place: the columns are found by one pass per
    #: stream, not per call)
    _live_cols = None

    #: ``(W, edits)`` for a :meth:`copy` made with ``kept``: the weights it
    #: was copied from (the other state's, which nothing changes while this
    #: one trains) and the re-expressions of :meth:`restandardize` since,
    #: ``(cols, ratio)`` each: :meth:`warm_point` recomputes the starting
    #: iterate from them instead of copying it. None: not known (any other
    #: change of W in place forgets it, and so does :meth:`warm_point`,
    #: which training follows).
    _source = None

    #: ``(coef, intercept)`` as a model file stored them, where they are not
    #: what :meth:`coef` computes (files written before the float32 rule of
    #: :func:`fastlr._validation.raw_model`; see :func:`fastlr.persist.load`):
    #: the model the writing version predicted with, which :meth:`coef`
    #: shows in their dtype. Set on a loaded state only; a :meth:`copy` (every
    #: training runs on one) has none and shows the model it trains.
    stored = None

    #: A :class:`Scratch` the CSR epoch keeps its table in between the
    #: calls of a ``partial_fit`` stream (shared by its copies, :meth:`copy`
    #: with ``kept``); None: a training allocates its own (a ``fit``'s model
    #: keeps no table).
    scratch = None

    def __init__(self, mean, scale, k=1, softmax=False, written=None):
        n = mean.shape[0]
        self.mean = mean
        self.scale = scale
        self.softmax = bool(softmax)
        self.W = np.zeros((k, n))
        self.B = np.zeros(k)
        self.steps = np.zeros(2, dtype=np.int64)
        absent = self.IDLE - (self.IDLE if written is None else frozenset(written))
        for name in self.IDLE:
            setattr(self, name, np.zeros((k, 0 if name in absent else
                                          self._width(name, n))))
        if absent:
            self.shared = absent
        #: the shuffling generator a stream of ``partial_fit`` calls continues
        #: (the estimator's; model files save its state)
        self.rng = None
        #: running column statistics (see the class docstring), or None
        self.moments = None
        self.center = False

    @property
    def k(self):
        return self.W.shape[0]

    @property
    def n_features(self):
        return self.W.shape[1]

    def arrays(self):
        """The state as the kernels take it: ``(W, B, steps, gsq, avg, l1_u,
        l1_q)``, updated in place."""
        return (self.W, self.B, self.steps, self.gsq, self.avg, self.l1_u,
                self.l1_q)

    def copy(self, rng=False, share=(), kept=False):
        """A copy of the model's arrays (the standardization, never changed
        in place, is shared); ``rng``: of the shuffling generator too
        (else the copy shares it). Continued training (``warm_start``,
        ``partial_fit``) runs on such a copy and the estimator keeps it only
        if the call succeeds: a call that fails (divergence, Ctrl-C) leaves
        the estimator's state as it was.

        ``share``: optimizer arrays shared instead of copied, those of
        :meth:`idle` for the options the copy is trained with (all zeros,
        which that training does not write; on 1M columns each copy cost
        about a tenth of a sparse ``partial_fit`` call). The copy records
        them (:attr:`shared`) and leaves them as they are when it is
        re-expressed.

        ``kept``: the caller keeps this state's weights as they are while
        the copy trains (``partial_fit``, which keeps the estimator's state
        until the call succeeds): the copy's :meth:`warm_point` then starts
        from them (:attr:`_source`) instead of copying its own, and it
        shares this state's :attr:`scratch`, the stream's."""
        share = frozenset(share)
        if not share <= self.IDLE:
            raise ValueError(f"only {sorted(self.IDLE)} may be shared")
        new = ModelState.__new__(ModelState)
        new.softmax = self.softmax
        new.rng = copied_rng(self.rng) if rng else self.rng
        new.moments = self.moments   # never changed in place
        new.center = self.center
        # the standardization too: it is replaced (restandardize), never
        # changed in place, and a copy cost two passes of fresh memory (on
        # 1M columns, a sixth of a partial_fit call with standardize=False)
        new.mean = self.mean
        new.scale = self.scale
        new._zero_mean = self._zero_mean
        new._unit_scale = self._unit_scale
        new._live_cols = self._live_cols
        new.shared = share
        if kept:
            new._source = (self.W, ())
            new.scratch = self.scratch
        for name in self.ARRAYS[2:]:
            value = getattr(self, name)
            if name in share:
                setattr(new, name, value)
            elif self._placeholder(name):   # (zeros: now of their full shape)
                setattr(new, name, np.zeros((self.k, self._width(
                    name, self.n_features))))
            else:
                setattr(new, name, value.copy())
        return new

    #: The optimizer arrays training may leave alone (see :meth:`idle`).
    IDLE = frozenset(("gsq", "avg", "l1_u", "l1_q"))

    @staticmethod
    def _width(name, n):
        """Columns of the optimizer array ``name`` on n features (AdaGrad's
        sums and the average have the intercepts' too)."""
        return n + 1 if name in ("gsq", "avg") else n

    def _placeholder(self, name):
        """Whether the optimizer array ``name`` is an empty placeholder."""
        return name in self.IDLE and getattr(self, name).shape[-1] == 0

    def absent(self):
        """The optimizer arrays that are placeholders (zeros)."""
        return frozenset(name for name in self.IDLE if self._placeholder(name))

    def release(self, written=()):
        """Make placeholders (:attr:`shared`) of the optimizer arrays that
        hold only zeros, read once (those shared already are known zeros),
        once training is over: the average too unless averaging has started
        (the model is then the average, :meth:`model`). A later training
        gets them back, as zeros, through :meth:`copy`.

        ``written``: the arrays the training wrote
        (:func:`fastlr._sgd.written_arrays`), kept without being read (not
        zeros once it has taken a step; a stream's every ``partial_fit``
        call read them whole) but for an average not started yet."""
        keep = (frozenset(written) - {"avg"}) | (
            {"avg"} if self.steps[1] > 0 else set())
        idle = self.idle(keep)
        for name in idle:
            if not self._placeholder(name):
                setattr(self, name, np.zeros((self.k, 0)))
        self.shared = self.shared | idle

    def idle(self, written):
        """The optimizer arrays that hold only zeros and are not among
        ``written``, those a training run writes (see
        :func:`fastlr._sgd.written_arrays`): a copy to train may share them
        (:meth:`copy`). Arrays this state shares already are known zeros
        (nothing writes them: every training runs on a copy); the others
        are read once."""
        return frozenset(name for name in sorted(self.IDLE - frozenset(written))
                         if name in self.shared or not getattr(self, name).any())

    # ------------------------------------------------- running statistics

    def track(self, moments, center):
        """Start running statistics from ``moments`` (those the current
        standardization was computed from); ``center``: whether it
        subtracts the mean."""
        self.moments = moments
        self.center = bool(center)

    def add_rows(self, moments, rule=_stats.merge_finish, cols=None):
        """Merge the :class:`fastlr._stats.Moments` of new rows into the
        running statistics and move the standardization to what they give
        (:func:`fastlr._stats.finish_moments`; the mean stays 0 unless the
        state centers), re-expressing the model (:meth:`restandardize`).
        Nothing happens when the standardization is fixed. ``rule``: the
        merge and finish, :func:`fastlr._stats.merge_finish` or its compiled
        run (:func:`fastlr._dispatch.merge_finish`, the same values).

        ``cols`` (sorted), if given: the new rows store no value outside
        these columns (CSR rows: :meth:`fastlr._dispatch.Data.stored_moments`),
        where their moments are those of a column of zeros, and ``moments``
        are theirs at ``cols`` alone (len(cols) wide). A column whose
        statistics so far are those of a column of zeros too (+0.0 in every
        field) with scale 1 then keeps them and its scale exactly (the rule
        gives zeros and 1 again), and its weights are re-expressed by a
        ratio of exactly 1: on a standardization that does not centre, the
        merge and the re-expression run on the other columns alone (those
        of :meth:`_live`, at most LIVE_SHARE of them; else on all), the
        same values without passes over all ``n`` columns (on 1M columns
        hashed from text, over half of a ``partial_fit`` call)."""
        if self.moments is None:
            return
        tracked = cols is not None and not self.center and not self.centers()
        live = self._live(cols) if tracked else None
        if live is None:
            if cols is not None:
                moments = _stats.widened(cols, moments, self.n_features)
            merged, mean, scale = rule(self.moments, moments, means=self.center)
            self._standardize_by(merged, mean, scale)
        else:
            kept = _stats.Moments(self.moments.rows, *(
                a[live] for a in self.moments[1:]))
            part, _, part_scale = rule(
                kept, _stats.widened(np.searchsorted(live, cols), moments, live.shape[0]),
                means=False)
            merged = _stats.Moments(part.rows, *(
                _placed(whole, live, got) for whole, got in
                zip(self.moments[1:], part[1:], strict=True)))
            self.restandardize(self.mean, _placed(self.scale, live, part_scale),
                               cols=live)
            self.moments = merged
        if tracked:
            self._live_cols = (self.moments, self.scale, live)

    def _live(self, cols=()):
        """Sorted columns whose running statistics or scale are not those of
        a column of zeros (a field other than +0.0, a scale other than 1),
        joined by ``cols`` (sorted), or None when they are more than
        LIVE_SHARE of all: read once per stream (see :attr:`_live_cols`),
        then joined in O(len + len(cols) log len); once too many, not
        looked for again in the stream (columns only join)."""
        kept = self._live_cols
        if kept is not None and kept[0] is self.moments and kept[1] is self.scale:
            live = kept[2]
            if live is None:
                return None
        else:
            mom = self.moments
            live = np.flatnonzero(np.logical_or.reduce(
                [(a != 0.0) | np.signbit(a) for a in mom[1:]]
                + [self.scale != 1.0]))
        cols = np.asarray(cols, dtype=live.dtype)
        at = np.searchsorted(live, cols)
        new = at == live.shape[0]
        new[~new] = live[at[~new]] != cols[~new]
        if new.any():
            live = np.insert(live, at[new], cols[new])
        return None if live.shape[0] > LIVE_SHARE * self.n_features else live

    def _standardize_by(self, merged, mean=None, scale=None):
        """Re-express the model in the standardization of ``merged`` moments
        (``mean``, ``scale``: the one they give, if computed already; the
        mean 0 unless the state centers) and keep them."""
        if scale is None:
            mean, scale = _stats.finish_moments(merged)
        if not self.center:
            # the zero mean kept (never changed in place): restandardize
            # then sees that the mean does not move
            mean = self.mean if not self.centers() else np.zeros_like(scale)
        self.restandardize(mean, scale)
        self.moments = merged

    def follow(self, standardize, center, rows_moments, check=None,
               rule=_stats.merge_finish, start=None, stored=None):
        """Continue on new rows (``partial_fit``) under the ``standardize``
        option as it is now, then let the rows join the running statistics
        (:meth:`add_rows`). The option may have been changed since the last
        call (``set_params``); the model is re-expressed, its raw-space
        function unchanged:

        * False: no standardization from now on (running statistics end);
        * "scale" on a model that centers: it stops centering (then sparse
          rows can continue it) and scales by the same statistics;
        * True or "scale" on a model trained without standardization: the new
          rows start running statistics, as a first call's rows do (``center``:
          whether the option centers on their kind of X).

        True on a model that only scales stays scaling (a stream that began
        on sparse rows, where True means "scale"), and a fixed standardization
        (a model file from before running statistics) stays fixed but for
        those two switches (False; "scale" on a model that centers).

        ``rows_moments()`` gives the new rows' :class:`fastlr._stats.Moments`
        (called only if they are needed); ``check(state)``, called after the
        re-expression and before the statistics are computed, may refuse;
        ``rule`` as :meth:`add_rows`'s. ``stored()``, if given, gives the
        new rows' moments at the columns they store, ``(cols, moments)``
        (:meth:`fastlr._dispatch.Data.stored_moments`), which
        :meth:`add_rows` then takes in place of ``rows_moments()``'s.
        ``start()``, if given, gives the
        state a first call starts from on the new rows: running statistics
        that start here are then its, taken as a warm start takes them
        (:meth:`adopt`), to the bit (on sparse rows ``rows_moments``'
        statistics give a scale that can differ in the last place).
        """
        n = self.n_features
        # (read only without running statistics: a partial_fit stream's
        # calls pass over no column for it)
        plain = self.moments is None and not (self.centers() or self.scales())
        if not standardize:
            if not plain:
                self.restandardize(np.zeros(n), np.ones(n))
            self.moments, self.center = None, False
        elif standardize == "scale" and self.centers():
            # (a model file from before running statistics centres with
            # center False: its mean says so)
            self.restandardize(np.zeros(n), self.scale)
            self.center = False
        if check is not None:
            check(self)
        if standardize and self.moments is None and plain:
            if start is not None:
                self.adopt(start())
            else:
                self.center = bool(center)
                self._standardize_by(rows_moments())
        elif standardize and self.moments is not None:
            if stored is not None:
                cols, moments = stored()
                self.add_rows(moments, rule, cols=cols)
            else:
                self.add_rows(rows_moments(), rule)

    def restandardize(self, mean, scale, cols=None):
        """Express the model on ``(x - mean) / scale`` instead of the
        current standardization, without changing its raw-space function.

        The raw-space model ``u = W / scale_old``, ``b = B - u . mean_old``
        becomes ``W = u * scale``, ``B = b + u . mean``; so does the
        averaged model. The optimizer state follows the weights' units:
        L1's penalty records (``l1_u``, ``l1_q``) scale with the weights,
        AdaGrad's sums of squared gradients with the inverse square (a
        gradient on the weight of ``x / scale`` is ``scale`` times one on
        ``x``; the centering part of that history cannot be re-expressed,
        and is kept as it is). The penalties keep acting on the
        standardized weights, now those of the new standardization.

        ``cols`` (sorted), if given: the only columns whose scale may
        change (elsewhere ``scale`` is the current one, the ratio exactly 1,
        which leaves every array as it is), on a standardization that
        centres neither before nor after: the arrays are re-expressed at
        those columns alone (:meth:`add_rows`).
        """
        mean = np.asarray(mean, dtype=np.float64)
        scale = np.asarray(scale, dtype=np.float64)
        n = self.n_features
        # no mean before or after (sparse X, standardize="scale"): u . mean
        # is 0 (for finite u) and the two passes over W of u = W / scale and
        # its products are not needed
        centred = self.centers() or (mean is not self.mean and mean.any())
        at = slice(0, n) if cols is None or centred else cols
        new, old = scale[at], self.scale[at]
        with np.errstate(invalid="ignore"):
            r = new / old
        # inf / inf: a column left out of training (its weights stay 0)
        r[new == old] = 1.0
        shared = self.shared | self.absent()
        # (shared arrays are zeros, which stay zeros: left as they are)
        pairs = ((self.W, self.B),) + (() if "avg" in shared else
                                       ((self.avg[:, :n], self.avg[:, n]),))
        for W, B in pairs:
            if centred:
                u = W / self.scale
                # b + u . mean, with b = B - u . mean_old as raw() computes it
                B[...] = (B - u @ self.mean) + u @ mean
            else:
                B[...] = (B - 0.0) + 0.0   # as above: -0.0 becomes 0.0
            W[:, at] *= r
        if self._source is not None:
            self._source = (self._source[0], (*self._source[1], (at, r)))
        if "gsq" not in shared:
            with np.errstate(over="ignore"):
                # r * r overflows to inf when the scale grows by 1e154 or
                # more: the sums then become 0, the limit they tend to
                self.gsq[:, at] /= r * r
        for name in ("l1_u", "l1_q"):
            if name not in shared:
                getattr(self, name)[:, at] *= r
        self.mean = mean
        self.scale = scale

    def adopt(self, fresh):
        """Take the standardization and running statistics of ``fresh``, a
        new state on the rows a warm start trains on (the ones a cold fit
        would start from), re-expressing the model in it
        (:meth:`restandardize`): a warm ``fit`` starts from the previous
        model's raw-space function and optimizer state, on the
        standardization a cold fit of its rows computes (as scikit-learn's
        warm start changes only where the solver starts). Unchanged
        statistics leave every array as it is."""
        if not (np.array_equal(self.mean, fresh.mean)
                and np.array_equal(self.scale, fresh.scale)):
            self.restandardize(fresh.mean, fresh.scale)
        self.moments = fresh.moments
        self.center = fresh.center

    def drop_intercept(self):
        """The model without its intercepts, in place: re-expressed on
        uncentred features (:meth:`restandardize` with mean 0; running
        statistics no longer centre), then its intercepts and their average
        set to 0. A warm start with ``fit_intercept=False`` continues from
        this, through the origin in raw space as a fresh fit without an
        intercept is (its intercept moved with the weights before: the
        centring put ``-w . mean`` into it)."""
        if self.centers():
            self.restandardize(np.zeros_like(self.mean), self.scale)
        self.center = False
        self.B[:] = 0.0
        if "avg" not in self.shared | self.absent():
            self.avg[:, self.n_features] = 0.0

    def restore(self, other):
        """Take every array of ``other`` (a :meth:`copy` of this state)."""
        for name in self.ARRAYS:
            setattr(self, name, getattr(other, name))
        self.shared = other.shared

    def set_model(self, W, B):
        """Make ``(W, B)`` (standardized space) the model: the iterate, and
        the average too once averaging has started (which :meth:`model`
        would return), so that the two agree and SGD continues from it."""
        self._source = None
        self.W[:] = W
        self.B[:] = B
        if self.steps[1] > 0:
            self.avg[:, :-1] = W
            self.avg[:, -1] = B

    def stop_averaging(self):
        """Averaging off (``average=False``, also set since the last fit):
        the model, the average once averaging has started, becomes the
        iterate SGD continues from, as scikit-learn's warm start continues
        from ``coef_`` (continuing from the last iterate moved the model
        shown without a step). Before averaging starts the model is the
        iterate: nothing to copy."""
        if self.steps[1] == 0:
            return
        W, B = self.model()
        self._source = None
        self.W[:] = W
        self.B[:] = B
        self.steps[1] = 0

    def model(self):
        """Standardized-space ``(W, B)`` of the model: averaged or iterate."""
        if self.steps[1] > 0:
            return self.avg[:, :-1], self.avg[:, -1]
        return self.W, self.B

    def raw(self, iterate=False, dtype=np.float64, cols=None):
        """Raw-space ``(W, B)`` of the model (``iterate``: of the SGD
        iterate, not the average): (k, n) in ``dtype`` and (k,) float64,
        the intercepts those of the weights as rounded
        (:func:`fastlr._validation.raw_model`).

        ``cols`` (column numbers), for a state that does not centre
        (:meth:`centers`): the weights at those columns alone, (k,
        len(cols)), each the same bits as in the whole model, and (finite
        weights times a zero mean adding nothing) the same intercepts,
        without the passes over all n columns and their k x n temporary
        (scoring a few held-out CSR rows each epoch on 1M columns: more
        than the epoch's own SGD)."""
        ws, bs = (self.W, self.B) if iterate else self.model()
        if cols is None:
            return raw_model(ws, bs, self.mean, self.scale, dtype)
        if self.centers():
            raise ValueError("raw(cols=...) takes a state that does not "
                             "centre: its intercepts need every column")
        return raw_model(ws[:, cols], bs, None, self.scale[cols], dtype)

    def warm_point(self):
        """For a model that does not start at zero (a warm start,
        ``partial_fit``), ``point()`` giving the raw-space iterate
        (:meth:`raw`) as it is now, else None: continued training's
        divergence is measured from its loss (:func:`fastlr._driver.diverged`),
        rarely asked for. The iterate is copied, its raw form computed only
        if asked (on 1M columns, the raw form's passes and its product with
        the mean cost a fifth of a sparse ``partial_fit`` call); a copy
        that knows the weights it was copied from (:attr:`_source`) copies
        only its intercepts, and recomputes the weights if asked, the same
        bits (on 1M columns, a fifth of a ``partial_fit`` call with
        ``standardize=False``). The intercepts are read first: they are
        rarely all zero once trained, and the weights then need no pass.
        The source serves once (training follows, in place): the state
        forgets it."""
        source, self._source = self._source, None
        if not (self.B.any() or self.W.any()):
            return None
        start = ModelState.__new__(ModelState)
        start.mean, start.scale = self.mean, self.scale   # never changed in place
        start.B = self.B.copy()
        if source is None:
            start.W = self.W.copy()
            return lambda: start.raw(iterate=True)
        W, edits = source

        def point():
            start.W = W.copy()
            for at, r in edits:   # restandardize's products, again
                start.W[:, at] *= r
            return start.raw(iterate=True)
        return point

    def coef(self, dtype):
        """``(coef_, intercept_)`` as the estimator shows them: the raw-space
        model in ``dtype``, (k, n) and (k,); copies of :attr:`stored` if set,
        in their dtype."""
        if self.stored is not None and self.stored[0].dtype == dtype:
            return self.stored[0].copy(), self.stored[1].copy()
        W, B = self.raw(dtype=dtype)
        return W, weights_as(B, dtype)

    def finite(self):
        return bool(np.isfinite(self.W).all() and np.isfinite(self.B).all())

    def centers(self):
        """Whether the model subtracts column means (sparse X cannot be
        continued on such a model: centering would densify it). A mean of
        zeros is read once (:attr:`_zero_mean`)."""
        if self.mean is self._zero_mean:
            return False
        if self.mean.any():
            return True
        self._zero_mean = self.mean
        return False

    def standardized(self):
        """Whether the model is trained on standardized features: running
        statistics kept, or a mean or scale other than 0 and 1 (what
        ``standardize="auto"`` keeps for the rest of a ``partial_fit``
        stream)."""
        return self.moments is not None or self.centers() or self.scales()

    def scales(self):
        """Whether the model divides by column scales other than 1 (the
        scale read once, as the mean by :meth:`centers`)."""
        if self.scale is self._unit_scale:
            return False
        if (self.scale != 1.0).any():
            return True
        self._unit_scale = self.scale
        return False

    # ---------------------------------------------------------- model files

    def to_file_arrays(self):
        """The arrays a model file stores, under their file names.

        Binary models store ``w``/``b`` and the optimizer state as 1-D arrays
        (the format files had before k-class models existed). Optimizer
        arrays are stored only when they hold something (a missing one loads
        as zeros): ``steps`` once a step was taken (whatever the schedule:
        the count decides when averaging starts and the steps of
        ``invscaling`` and ``optimal``, which a continued model may switch
        to), the others
        once their option was used.
        """
        squeeze = (lambda a: a[0]) if not self.softmax else (lambda a: a)
        out = {"mean": np.asarray(self.mean, dtype=np.float64),
               "scale": np.asarray(self.scale, dtype=np.float64),
               "w": np.ascontiguousarray(squeeze(self.W)),
               "b": np.ascontiguousarray(self.B)}
        for name in OPTIMIZER_ARRAYS:
            value = getattr(self, name)
            if value.any():
                out[name] = np.ascontiguousarray(value if name == "steps"
                                                 else squeeze(value))
        if self.moments is not None:
            # running statistics: (3, n) float64 largest |x|, mean and m2,
            # and (2,) rows and whether the state centers: int64, or
            # float64 for a total sample weight that is not a whole number
            mom = self.moments
            out["stats"] = np.stack([mom.amax, mom.mean, mom.m2]).astype(np.float64)
            whole = float(mom.rows).is_integer() and mom.rows < 2.0 ** 62
            out["stats_rows"] = np.array([mom.rows, int(self.center)],
                                         dtype=np.int64 if whole else np.float64)
        return out

    @staticmethod
    def file_shapes(n, k, softmax):
        """Expected shape of every array of :meth:`to_file_arrays`."""
        rows = (k,) if softmax else ()
        return {"mean": (n,), "scale": (n,), "w": rows + (n,), "b": (max(k, 1),),
                "steps": (2,), "gsq": rows + (n + 1,), "avg": rows + (n + 1,),
                "l1_u": rows + (n,), "l1_q": rows + (n,), "stats": (3, n),
                "stats_rows": (2,)}

    @classmethod
    def from_file_arrays(cls, arrays, softmax):
        """The state of a model file's (validated) arrays; optimizer arrays
        it lacks are zeros (placeholders, :meth:`release`: the average
        allocated once averaging has started).

        The arrays become the state's own where their dtype and layout are
        the state's (``load``'s buffers, which nothing else holds): a wide
        model is not held twice while it loads."""
        mean = np.require(arrays["mean"], np.float64, "C")
        scale = np.require(arrays["scale"], np.float64, "C")
        w = np.asarray(arrays["w"], dtype=np.float64)
        k = w.shape[0] if softmax else 1
        averaged = "steps" in arrays and np.asarray(arrays["steps"]).reshape(2)[1] > 0
        state = cls(mean, scale, k, softmax,
                    written=[name for name in cls.IDLE
                             if name in arrays or (name == "avg" and averaged)])
        # (the zeros the constructor allocated are replaced before they are
        # touched: calloc'd pages that never take memory)
        for name, value in (("W", w), ("B", arrays["b"]),
                            *((name, arrays[name]) for name in OPTIMIZER_ARRAYS
                              if name in arrays)):
            target = getattr(state, name)
            value = np.asarray(value)
            if (value.dtype == target.dtype and value.flags.c_contiguous
                    and value.flags.writeable and value.size == target.size):
                setattr(state, name, value.reshape(target.shape))
            else:
                target[...] = value.reshape(target.shape)
        if "stats" in arrays:
            table = np.asarray(arrays["stats"], dtype=np.float64)
            rows, center = arrays["stats_rows"].tolist()   # int, or float weight
            center = int(center)
            state.track(_stats.Moments(rows, table[0], table[1], table[2]),
                        center)
        return state


class ModelStack:
    """K models trained together, from one read of the data per epoch.

    Arrays with a leading model axis (see :mod:`fastlr._kernels.update`):
    ``mean``, ``scale`` (F, n) the standardizations the models use and
    ``stat`` (K,) int64 the row of each model's (models that share one
    share the row: a cross-validation of K = candidates x folds models has
    one row per fold, not K copies of it); ``hyper`` (K, 3) L2 and L1
    strengths and base learning rate; ``fold``
    (K,) the fold each model holds out of ``row_fold`` (m,) int8 (empty: no
    folds); ``active`` (K,) uint8; the state ``W`` (K, k, n), ``B`` (K, k),
    ``steps`` (K, 2), ``gsq``, ``avg`` (K, k, n + 1), ``l1_u``, ``l1_q``
    (K, k, n). :meth:`state` gives model ``i`` as a :class:`ModelState`
    whose arrays are views into the stack. After a CSR run, ``W`` may be a
    view of the epoch's table (one row a column: the kernel's layout);
    :meth:`compact` makes it C-ordered again.

    ``written``: the optimizer arrays of :attr:`ModelState.IDLE` the
    stack's training writes (:func:`fastlr._sgd.written_arrays` of its
    models' options, together; none for the solver alone), or None for all
    of them. The others are empty (K, k, 0) placeholders, which the kernels
    never index (they touch each array only under its option, as a
    :class:`ModelState` copy relies on when it shares them): on 1M
    columns and 30 models, each (K, k, n) array is 240 MB.
    """

    STATE = ("W", "B", "steps", "gsq", "avg", "l1_u", "l1_q")

    def __init__(self, mean, scale, k, softmax, hyper, fold=None, row_fold=None,
                 stat=None, written=None):
        n = mean.shape[1]
        self.mean = np.ascontiguousarray(mean, dtype=np.float64)
        self.scale = np.ascontiguousarray(scale, dtype=np.float64)
        self.stat = (np.arange(mean.shape[0], dtype=np.int64) if stat is None
                     else np.asarray(stat, dtype=np.int64))
        K = self.stat.shape[0]
        self.softmax = bool(softmax)
        self.hyper = np.ascontiguousarray(hyper, dtype=np.float64).reshape(K, 3)
        self.fold = (np.zeros(K, dtype=np.int64) if fold is None
                     else np.asarray(fold, dtype=np.int64))
        self.row_fold = (np.empty(0, dtype=np.int8) if row_fold is None
                         else np.asarray(row_fold, dtype=np.int8))
        self.active = np.ones(K, dtype=np.uint8)
        #: whether the arrays are the stack's own (not a model's views), so
        #: that a kernel may keep W in a layout of its own (see
        #: :meth:`fastlr._dispatch.Data.epoch_runner`)
        self.owns = True
        self.W = np.zeros((K, k, n))
        self.B = np.zeros((K, k))
        self.steps = np.zeros((K, 2), dtype=np.int64)
        written = ModelState.IDLE if written is None else frozenset(written)
        for name, width in (("gsq", n + 1), ("avg", n + 1), ("l1_u", n), ("l1_q", n)):
            setattr(self, name, np.zeros((K, k, width if name in written else 0)))

    @classmethod
    def of(cls, state, hyper, row_fold=None, fold=0):
        """A stack of the one model ``state``: its arrays are views of the
        state's, so training the stack trains the state."""
        new = cls.__new__(cls)
        new.mean = state.mean[None]
        new.scale = state.scale[None]
        new.stat = np.zeros(1, dtype=np.int64)
        new.softmax = state.softmax
        new.hyper = np.asarray(hyper, dtype=np.float64).reshape(1, 3)
        new.fold = np.array([fold], dtype=np.int64)
        new.row_fold = (np.empty(0, dtype=np.int8) if row_fold is None
                        else np.asarray(row_fold, dtype=np.int8))
        new.active = np.ones(1, dtype=np.uint8)
        new.owns = False
        new.single = state
        for name in cls.STATE:
            setattr(new, name, getattr(state, name)[None])
        return new

    #: the :class:`ModelState` a stack of one model (:meth:`of`) views
    single = None

    @property
    def K(self):
        return self.W.shape[0]

    def centers(self):
        """Whether a model subtracts column means (for a stack of one
        state's views, the state's :meth:`ModelState.centers`, read once)."""
        return (self.single.centers() if self.single is not None
                else bool(self.mean.any()))

    @property
    def k(self):
        return self.W.shape[1]

    def models(self):
        return (self.mean, self.scale, self.stat, self.hyper, self.fold,
                self.row_fold, self.active)

    def arrays(self):
        return tuple(getattr(self, name) for name in self.STATE)

    def state(self, i):
        """Model ``i`` as a :class:`ModelState` of views into the stack."""
        st = ModelState.__new__(ModelState)
        st.mean = self.mean[self.stat[i]]
        st.scale = self.scale[self.stat[i]]
        st.softmax = self.softmax
        st.rng = None
        st.moments = None
        st.center = False
        for name in self.STATE:
            setattr(st, name, getattr(self, name)[i])
        return st

    def compact(self):
        """Make ``W`` a C-ordered (K, k, n) array of its own again (a CSR
        run keeps it as a view of the epoch's table, one row per column);
        a model's row is then read in one sweep."""
        self.W = np.ascontiguousarray(self.W)

    def reset(self, ids):
        """Put the models ``ids`` back at their start: every weight,
        intercept and optimizer sum zero, no step taken."""
        for name in self.STATE:
            getattr(self, name)[ids] = 0

    def finite_models(self):
        """(K,) bool: whether each model's weights and intercepts are finite
        (one pass over W in its memory order, whatever its layout)."""
        return (np.isfinite(self.W).all(axis=(1, 2))
                & np.isfinite(self.B).all(axis=1))


def _placed(whole, cols, values):
    """A copy of ``whole`` (n,) with ``values`` at ``cols``: a new array, as
    the standardization and running statistics are replaced, never changed
    in place (a state's copies share them)."""
    out = whole.copy()
    out[cols] = values
    return out
