"""asv suite for multinomial (softmax) regression: one SGD epoch of the
k-class kernel against the NumPy reference, on digits (1797 x 64, k = 10) and
on a synthetic 200,000 x 100, k = 5 workload (X ~ N(0, 1), labels drawn from
a softmax of X @ W* with a fixed seed; ``common.make_multinomial_data``)."""

from fastlr import core, reference

from .common import make_multinomial_data as make_data

IMPLS = {"numba": core.train_multinomial, "numpy": reference.train_multinomial}


class MultinomialEpoch:
    params = (["digits", "synthetic_200k_x100_k5"], ["float32", "float64"],
              [32, 256], ["numba", "numpy"])
    param_names = ["workload", "dtype", "batch_size", "impl"]
    timeout = 180

    def setup(self, workload, dtype, batch_size, impl):
        self.X, self.y = make_data(workload, dtype)
        self.train = IMPLS[impl]
        self.kw = dict(batch_size=batch_size, epochs=1, lr=0.1, shuffle=True,
                       random_state=0)
        core.train_multinomial(self.X[:256], self.y[:256], epochs=1)  # compile

    def time_epoch(self, workload, dtype, batch_size, impl):
        self.train(self.X, self.y, **self.kw)

    def track_final_loss(self, workload, dtype, batch_size, impl):
        return float(self.train(self.X, self.y, **dict(self.kw, epochs=2)).losses[-1])

    track_final_loss.unit = "cross-entropy"


class MultinomialThreads:
    """The threaded multinomial epoch (threads share each epoch; results are
    bit-identical) against one thread, on the synthetic workload."""

    params = ([1, 2], [256, 4096])
    param_names = ["n_threads", "batch_size"]
    timeout = 180

    def setup(self, n_threads, batch_size):
        self.X, self.y = make_data("synthetic_200k_x100_k5", "float64")
        self.kw = dict(batch_size=batch_size, epochs=1, lr=0.1, shuffle=True,
                       random_state=0, n_threads=n_threads)
        core.train_multinomial(self.X[:4096], self.y[:4096], **self.kw)  # compile

    def time_epoch(self, n_threads, batch_size):
        core.train_multinomial(self.X, self.y, **self.kw)
