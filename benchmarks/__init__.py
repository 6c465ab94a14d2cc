"""asv benchmark suites of fastlr (README.md in this folder lists them).

``common`` is imported first: it fixes the thread counts before any suite
imports numpy or numba.
"""

from . import common  # noqa: F401
