"""asv benchmark: one epoch of fastlr.distributed.train on a dask LocalCluster
versus one epoch of fastlr.train in this process, on the same data.

Workload: ``common.make_dask_data``, the distribution of ``bench_train.py``'s
(X ~ N(0, 1), 200,000 x 100 float64, 160 MB; y ~ Bernoulli(sigmoid(X @ w* +
0.5))) in 2 row blocks of 100,000, batch 256, standardized.

- ``dask``: a LocalCluster of 2 worker processes, 1 thread each, X in 2 row
  blocks of 100,000 rows already persisted on the workers (as data on a
  cluster would be). Each call pays what a user pays: converting and
  checking the blocks, the distributed statistics pass, then the epochs
  (one task per block, averaging on the client).
- ``single``: ``fastlr.train`` in this process, which on this X and batch
  uses the threaded kernel on 2 threads (NUMBA_NUM_THREADS=2): the same
  2 cores as the cluster.

``time_fit(epochs=1)`` is a one-epoch fit as a user sees it;
``time_fit(epochs=5)`` minus it, divided by 4, is the cost of one more epoch
(the dask per-epoch overhead: a round trip to the scheduler and a model
average). The cluster is created in ``setup`` and closed in ``teardown``;
without dask and distributed the suite is skipped.
"""

import fastlr

from .common import make_dask_data

try:
    import dask
    import distributed

    import fastlr.distributed as fdist
except ImportError:  # the optional extra is not installed: skip the suite
    dask = distributed = fdist = None

N_SAMPLES = 200_000
N_WORKERS = 2
FIT = {"batch_size": 256, "lr": 0.1, "shuffle": False, "standardize": True}


class DaskFit:
    """Wall time of a fit of ``epochs`` epochs: dask cluster vs one process."""

    params = (["dask", "single"], [1, 5])
    param_names = ["impl", "epochs"]
    timeout = 120
    # each call takes about a second; a few repeats are enough
    repeat = (2, 5, 60.0)
    number = 1

    def setup(self, impl, epochs):
        if fdist is None:
            raise NotImplementedError("dask and distributed are not installed")
        self.Xd, self.yd = make_dask_data(N_SAMPLES, N_WORKERS)
        if impl == "single":
            self.cluster = self.client = None
            # the same numbers, computed in this process
            self.X, self.y = dask.compute(self.Xd, self.yd, scheduler="sync")
            fastlr.train(self.X, self.y, epochs=1, **FIT)  # compile / load cache
            return
        self.cluster = distributed.LocalCluster(
            n_workers=N_WORKERS, threads_per_worker=1, processes=True,
            dashboard_address=":0")
        self.client = distributed.Client(self.cluster)
        # the workers build their blocks (shipping 160 MB of graph would be
        # slow) and keep them, as data on a cluster would be
        self.Xd, self.yd = self.client.persist([self.Xd, self.yd])
        distributed.wait([self.Xd, self.yd])
        # load the kernels in every worker process
        fdist.train(self.Xd, self.yd, epochs=1, client=self.client, **FIT)

    def teardown(self, impl, epochs):
        if self.client is not None:
            self.client.close()
            self.cluster.close()

    def time_fit(self, impl, epochs):
        if impl == "single":
            fastlr.train(self.X, self.y, epochs=epochs, **FIT)
        else:
            fdist.train(self.Xd, self.yd, epochs=epochs, client=self.client, **FIT)


class DaskEpochOverhead:
    """Seconds per parameter-mixing epoch on blocks of 1,000 x 100 rows (the
    compute is negligible: what is measured is the per-epoch overhead,
    scheduling plus the model's round trip, as a function of the block
    count), and the same for the L-BFGS finisher's blockwise gradient
    pass. The intervals between epochs of one fit (its callback), median
    of the fit's epochs: a fit's one-off costs are not in them."""

    params = ([2, 8, 32], ["mixing", "lbfgs"])
    param_names = ["blocks", "solver"]
    timeout = 300
    repeat = (2, 5, 60.0)
    number = 1
    unit = "seconds"

    def setup(self, blocks, solver):
        if fdist is None:
            raise NotImplementedError("dask and distributed are not installed")
        import dask.array as da

        from fastlr.bench import make_workload

        self.cluster = distributed.LocalCluster(
            n_workers=N_WORKERS, threads_per_worker=1, processes=True,
            dashboard_address=":0")
        self.client = distributed.Client(self.cluster)
        X, y = make_workload(1000 * blocks, 100, seed=1)
        self.Xd, self.yd = self.client.persist(
            [da.from_array(X, chunks=(1000, -1)), da.from_array(y, chunks=1000)])
        distributed.wait([self.Xd, self.yd])
        fdist.train(self.Xd, self.yd, epochs=1, client=self.client, **FIT)

    def teardown(self, blocks, solver):
        self.client.close()
        self.cluster.close()

    def track_epoch_seconds(self, blocks, solver):
        from fastlr.dask_bench import _epoch_times

        kw = dict(FIT, solver="sgd" if solver == "mixing" else "lbfgs", tol=None)
        return _epoch_times(lambda cb: fdist.train(
            self.Xd, self.yd, epochs=6, client=self.client, callback=cb, **kw))
