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

import numpy as np

#: The optimizer-state arrays, beside the weights.
OPTIMIZER_ARRAYS = ("steps", "gsq", "avg", "l1_u", "l1_q")


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

    Parameters
    ----------
    mean, scale : (n,) float64
    k : int
        Rows of weights.
    softmax : bool
        The softmax model (any ``k >= 2``); else the binary model (``k = 1``).
    """

    ARRAYS = ("mean", "scale", "W", "B", *OPTIMIZER_ARRAYS)

    def __init__(self, mean, scale, k=1, softmax=False):
        n = mean.shape[0]
        self.mean = mean
        self.scale = scale
        self.softmax = bool(softmax)
        self.W = np.zeros((k, n))
        self.B = np.zeros(k)
        self.steps = np.zeros(2, dtype=np.int64)
        self.gsq = np.zeros((k, n + 1))
        self.avg = np.zeros((k, n + 1))
        self.l1_u = np.zeros((k, n))
        self.l1_q = np.zeros((k, n))
        #: the shuffling generator a stream of ``partial_fit`` calls continues
        #: (the estimator's; model files save its state)
        self.rng = None

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

    def copy(self):
        new = ModelState.__new__(ModelState)
        new.softmax = self.softmax
        new.rng = self.rng
        for name in self.ARRAYS:
            setattr(new, name, getattr(self, name).copy())
        return new

    def restore(self, other):
        """Take every array of ``other`` (a :meth:`copy` of this state)."""
        for name in self.ARRAYS:
            setattr(self, name, getattr(other, name))

    def set_model(self, W, B):
        """Make ``(W, B)`` (standardized space) the model: the iterate, and
        the average too once averaging has started (which :meth:`model`
        would return), so that the two agree and SGD continues from it."""
        self.W[:] = W
        self.B[:] = B
        if self.steps[1] > 0:
            self.avg[:, :-1] = W
            self.avg[:, -1] = B

    def model(self):
        """Standardized-space ``(W, B)`` of the model: averaged or iterate."""
        if self.steps[1] > 0:
            return self.avg[:, :-1], self.avg[:, -1]
        return self.W, self.B

    def raw(self):
        """Raw-space ``(W, B)`` of the model: float64 (k, n) and (k,)."""
        ws, bs = self.model()
        w = ws / self.scale
        return np.ascontiguousarray(w), bs - w @ self.mean

    def coef(self, dtype):
        """``(coef_, intercept_)`` as the estimator shows them: the raw-space
        model in ``dtype``, (k, n) and (k,)."""
        W, B = self.raw()
        return W.astype(dtype), np.asarray(B, dtype=dtype)

    def finite(self):
        return bool(np.isfinite(self.W).all() and np.isfinite(self.B).all())

    def centers(self):
        """Whether the model subtracts column means (sparse X cannot be
        continued on such a model: centering would densify it)."""
        return bool(self.mean.any())

    # ---------------------------------------------------------- model files

    def to_file_arrays(self, invscaling):
        """The arrays a model file stores, under their file names.

        Binary models store ``w``/``b`` and the optimizer state as 1-D arrays
        (the format files had before k-class models existed). Optimizer
        arrays are stored only when they hold something: ``steps`` matters
        to averaging and inverse scaling (``invscaling``) only, the others
        are zero unless their option was used; a model trained with the
        default options stores none of them.
        """
        squeeze = (lambda a: a[0]) if not self.softmax else (lambda a: a)
        out = {"mean": np.asarray(self.mean, dtype=np.float64),
               "scale": np.asarray(self.scale, dtype=np.float64),
               "w": np.ascontiguousarray(squeeze(self.W)),
               "b": np.ascontiguousarray(self.B)}
        for name in OPTIMIZER_ARRAYS:
            value = getattr(self, name)
            used = (self.steps[1] > 0 or invscaling) if name == "steps" \
                else bool(value.any())
            if used:
                out[name] = np.ascontiguousarray(value if name == "steps"
                                                 else squeeze(value))
        return out

    @staticmethod
    def file_shapes(n, k, softmax):
        """Expected shape of every array of :meth:`to_file_arrays`."""
        rows = (k,) if softmax else ()
        return {"mean": (n,), "scale": (n,), "w": rows + (n,), "b": (max(k, 1),),
                "steps": (2,), "gsq": rows + (n + 1,), "avg": rows + (n + 1,),
                "l1_u": rows + (n,), "l1_q": rows + (n,)}

    @classmethod
    def from_file_arrays(cls, arrays, softmax):
        """The state of a model file's (validated) arrays; optimizer arrays
        it lacks are zeros."""
        mean = np.array(arrays["mean"], dtype=np.float64)
        scale = np.array(arrays["scale"], dtype=np.float64)
        w = np.asarray(arrays["w"], dtype=np.float64)
        k = w.shape[0] if softmax else 1
        state = cls(mean, scale, k, softmax)
        state.W[:] = w.reshape(state.W.shape)
        state.B[:] = np.asarray(arrays["b"], dtype=np.float64).reshape(k)
        for name in OPTIMIZER_ARRAYS:
            if name in arrays:
                target = getattr(state, name)
                target[...] = np.asarray(arrays[name]).reshape(target.shape)
        return state


class ModelStack:
    """K models trained together, from one read of the data per epoch.

    Arrays with a leading model axis (see :mod:`fastlr._kernels.update`):
    ``mean``, ``scale`` (K, n); ``hyper`` (K, 3) L2 and L1 strengths and base
    learning rate; ``fold``
    (K,) the fold each model holds out of ``row_fold`` (m,) int8 (empty: no
    folds); ``active`` (K,) uint8; the state ``W`` (K, k, n), ``B`` (K, k),
    ``steps`` (K, 2), ``gsq``, ``avg`` (K, k, n + 1), ``l1_u``, ``l1_q``
    (K, k, n). :meth:`state` gives model ``i`` as a :class:`ModelState`
    whose arrays are views into the stack.
    """

    STATE = ("W", "B", "steps", "gsq", "avg", "l1_u", "l1_q")

    def __init__(self, mean, scale, k, softmax, hyper, fold=None, row_fold=None):
        K, n = mean.shape
        self.mean = np.ascontiguousarray(mean, dtype=np.float64)
        self.scale = np.ascontiguousarray(scale, dtype=np.float64)
        self.softmax = bool(softmax)
        self.hyper = np.ascontiguousarray(hyper, dtype=np.float64).reshape(K, 3)
        self.fold = (np.zeros(K, dtype=np.int64) if fold is None
                     else np.asarray(fold, dtype=np.int64))
        self.row_fold = (np.empty(0, dtype=np.int8) if row_fold is None
                         else np.asarray(row_fold, dtype=np.int8))
        self.active = np.ones(K, dtype=np.uint8)
        self.W = np.zeros((K, k, n))
        self.B = np.zeros((K, k))
        self.steps = np.zeros((K, 2), dtype=np.int64)
        self.gsq = np.zeros((K, k, n + 1))
        self.avg = np.zeros((K, k, n + 1))
        self.l1_u = np.zeros((K, k, n))
        self.l1_q = np.zeros((K, k, n))

    @classmethod
    def of(cls, state, hyper, row_fold=None, fold=0):
        """A stack of the one model ``state``: its arrays are views of the
        state's, so training the stack trains the state."""
        new = cls.__new__(cls)
        new.mean = state.mean[None]
        new.scale = state.scale[None]
        new.softmax = state.softmax
        new.hyper = np.asarray(hyper, dtype=np.float64).reshape(1, 3)
        new.fold = np.array([fold], dtype=np.int64)
        new.row_fold = (np.empty(0, dtype=np.int8) if row_fold is None
                        else np.asarray(row_fold, dtype=np.int8))
        new.active = np.ones(1, dtype=np.uint8)
        for name in cls.STATE:
            setattr(new, name, getattr(state, name)[None])
        return new

    @property
    def K(self):
        return self.W.shape[0]

    @property
    def k(self):
        return self.W.shape[1]

    def models(self):
        return (self.mean, self.scale, self.hyper, self.fold, self.row_fold,
                self.active)

    def arrays(self):
        return tuple(getattr(self, name) for name in self.STATE)

    def state(self, i):
        """Model ``i`` as a :class:`ModelState` of views into the stack."""
        st = ModelState.__new__(ModelState)
        st.mean = self.mean[i]
        st.scale = self.scale[i]
        st.softmax = self.softmax
        st.rng = None
        for name in self.STATE:
            setattr(st, name, getattr(self, name)[i])
        return st

    def finite(self):
        return bool(np.isfinite(self.W).all() and np.isfinite(self.B).all())
