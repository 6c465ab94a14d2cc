"""fastlr's Numba kernels: the hot loops, and nothing else.

Every function here takes arrays and scalars only, never validates, never
allocates arrays of size m, and writes results into arrays passed in. The
Python layer (:mod:`fastlr._dispatch`) validates, picks the kernels for the
data it has, and prepares their arguments; :mod:`fastlr.reference` holds a
NumPy twin of what they compute.

Modules, by role (each states its invariants in its docstring):

=================  ==========================================================
``cache``          where compiled kernels live on disk; the guard that keeps
                   them from going stale; safe concurrent first use
``jit``            the compilation settings and the ``@jit`` decorator
``intrinsics``     atomics, spin-wait, yield, prefetch, lane vectors
``scalar``         stable sigmoid, softplus, row losses; vectorizable exp/log1p
``stats``          finiteness, column sums for standardization, the floor
``predict``        logits, probabilities, full-data losses and gradients
``update``         the model state, the options record, the update rule and
                   its lazy (deferred) forms
``team``           the thread team: the epoch protocol and the thread pool
``dense``          the dense epoch, on one thread or several
``sparse``         the CSR epoch with lazy updates
=================  ==========================================================

Modules outside this package use only names without a leading underscore.
"""

from . import jit  # noqa: F401  (runs the cache guard before any kernel exists)
