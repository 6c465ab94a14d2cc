"""The names of the update rule's choices, in one place.

Validation (:mod:`fastlr._driver`), the CLI's choices, ``fastlr verify``'s
cases (hence the kernel-against-twin tests and asv) and the kernels read
these tuples. A schedule's kernel code is its position in
:data:`LEARNING_RATES` (:mod:`fastlr._kernels.update`), so this file is part
of the kernel cache's fingerprint: editing it recompiles the kernels.
"""

PENALTIES = ("l2", "l1", "elasticnet", None)
LEARNING_RATES = ("constant", "invscaling", "adaptive", "adagrad", "optimal")
