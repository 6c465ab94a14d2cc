"""Compilation settings shared by every kernel.

Kept in one place so that the numba cache, which freezes globals at compile
time, sees one consistent set of flags.
"""

import os

# numba's OpenMP threading layer starts a parallel region for every threaded
# kernel call (prediction on large input; training uses its own threads, see
# fastlr._team). On small machines libgomp decides it is oversubscribed and
# lets idle threads spin only 1000 times before sleeping, so each region
# then pays a futex wake-up: a threaded epoch built from one region per batch
# ran 3x slower than one thread here.
# 300000 is libgomp's own default otherwise (well under a millisecond of
# spinning, then sleep: no core is kept busy after training). setdefault:
# a user's own setting wins; it has effect if set before libgomp starts.
os.environ.setdefault("GOMP_SPINCOUNT", "300000")

#: Serial kernels (every training kernel among them) are compiled with
#: ``cache=True`` unless FASTLR_NUMBA_CACHE=0.
CACHE = os.environ.get("FASTLR_NUMBA_CACHE", "1") != "0"

#: LLVM fast-math flags. ``contract``/``reassoc`` let the dot products use
#: vector FMA; ``nnan``/``ninf`` are deliberately absent so NaN/inf checks
#: inside kernels keep working (``fastmath=True`` breaks ``np.isnan``).
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

#: Options for serial kernels. ``error_model="numpy"``: a float division by
#: zero gives inf/NaN as in NumPy instead of a Python ZeroDivisionError check,
#: whose branch stops LLVM from vectorizing any loop that divides.
JIT = {"cache": CACHE, "nogil": True, "fastmath": set(FASTMATH),
       "error_model": "numpy"}

#: Options for threaded kernels. Never cached: caching ``parallel=True``
#: kernels has segfaulted in numba (pynndescent PR #175).
JIT_PARALLEL = {"cache": False, "nogil": True, "parallel": True,
                "fastmath": set(FASTMATH), "error_model": "numpy"}
