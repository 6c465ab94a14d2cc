"""Compilation settings shared by every kernel, and the decorator that
applies them.

Kept in one place so that the numba cache, which freezes globals at compile
time, sees one consistent set of flags. Importing this module runs the
cache guard (:mod:`fastlr._kernels.cache`) before any kernel is defined.
"""

from numba import njit

from . import cache

#: LLVM fast-math flags. ``contract``/``reassoc`` let the dot products use
#: vector FMA; ``nnan``/``ninf`` are deliberately absent so NaN/inf checks
#: inside kernels keep working (``fastmath=True`` breaks ``np.isnan``).
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

#: Without ``reassoc``/``afn``: for elementwise loops whose rounding must not
#: depend on where they are inlined (the update rule, the polynomial exp;
#: see :mod:`fastlr._kernels.update`). They vectorize without it.
FASTMATH_EXACT = frozenset({"nsz", "arcp", "contract"})


def jit(exact=False, inline=False, runtime=True, strict=False):
    """``numba.njit`` with fastlr's settings.

    Every kernel is serial and cached on disk (no ``parallel=True``: caching
    those has segfaulted in numba, and OpenMP makes a process unsafe to fork;
    threads come from :mod:`fastlr._kernels.team`). ``nogil`` so that the
    team's Python threads run kernels in parallel. ``error_model="numpy"``:
    a float division by zero gives inf/NaN as in NumPy instead of a Python
    ZeroDivisionError check, whose branch stops LLVM from vectorizing any
    loop that divides. ``exact``: :data:`FASTMATH_EXACT`. ``inline``: inline
    into the caller at numba's level (no call, no reference counting of
    array arguments per call). ``runtime=False``: compiled without numba's
    runtime (NRT), for kernels that allocate nothing and call no kernel
    that does: loading such a kernel from the cache skips the runtime's
    own compilation, a large part of the first call of a new process (the
    prediction path; see :func:`fastlr._kernels.cache.load_overload`), and
    such a kernel counts no references: with the runtime, every view it
    takes (``F[0]``, ``G[ci]``, a slice) and every array it passes to a
    kernel that is not inlined costs a locked increment and decrement, an
    atomic instruction that waits for the loads in flight. Loops over
    chunks or rows therefore run in kernels compiled without it, their
    scratch allocated by the caller (the dense epoch's chunks and batch
    tails, :func:`fastlr._kernels.sparse.lean_batches`). ``strict``: no
    fast-math flag at all, every operation rounded on its own as NumPy's
    elementwise operations round it (no fused multiply-add, no reciprocal
    for a division): the same bits as the NumPy source it compiles, for
    rules that NumPy ran before (the running statistics, see
    :func:`fastlr._kernels.stats.merge_columns`).
    """
    flags = set() if strict else set(FASTMATH_EXACT if exact else FASTMATH)
    options = {"cache": cache.ENABLED, "nogil": True, "error_model": "numpy",
               "fastmath": flags}
    if inline:
        options["inline"] = "always"
    if not runtime:
        options["_nrt"] = False

    def decorate(func):
        return cache.install(njit(**options)(func))

    return decorate
