"""The names of the update rule's choices, and the codes kernels share with
Python, in one place.

Validation (:mod:`fastlr._driver`), the CLI's choices, ``fastlr verify``'s
cases (hence the kernel-against-twin tests and asv) and the kernels read
these tuples. A schedule's kernel code is its position in
:data:`LEARNING_RATES` (:mod:`fastlr._kernels.update`), so this file is part
of the kernel cache's fingerprint: editing it recompiles the kernels.
"""

PENALTIES = ("l2", "l1", "elasticnet", None)
LEARNING_RATES = ("constant", "invscaling", "adaptive", "adagrad", "optimal")

#: Flags of what :func:`fastlr._validation.check_sparse_X` finds in a CSR
#: matrix's arrays (:func:`fastlr._validation.csr_form`, and its kernel
#: :func:`fastlr._kernels.stats.csr_form`, which compiles them in: hence
#: here, in a file of the cache's fingerprint): a row whose column indices
#: are not strictly increasing (unsorted, or a duplicate entry), a column
#: index outside ``0 .. n - 1``, an ``indptr`` that decreases or points
#: outside the stored entries, a NaN or infinity among the stored values.
FORM_UNSORTED, FORM_OUTSIDE, FORM_INDPTR, FORM_NONFINITE = 1, 2, 4, 8
