"""asv suite driven by the case table of ``fastlr.verify``: every public
function of the table, run by the Numba kernels and by the NumPy reference
on the same 20,000 x 20 problem, dense and CSR (training: one epoch with the
table's default options). Adding a function to the table adds it here."""

from fastlr import verify


class Cases:
    params = (list(verify.FUNCTIONS), ["fastlr", "reference"], list(verify.STORAGES))
    param_names = ["function", "implementation", "storage"]
    timeout = 120

    def setup(self, function, implementation, storage):
        if storage == "csr" and function in ("sigmoid", "log_loss", "accuracy"):
            raise NotImplementedError("no X")
        self.fn = verify.FUNCTIONS[function]
        self.impl = getattr(self.fn, implementation)
        self.data = verify.make_problem(0, 20_000, 20, "float64", storage)
        self.kw = ({**verify.train_kwargs("default", 20_000), "epochs": 1,
                    "batch_size": 256} if self.fn.trains else {})
        self.fn.call(self.impl, self.data, self.kw)  # compile / load

    def time_call(self, function, implementation, storage):
        self.fn.call(self.impl, self.data, self.kw)
