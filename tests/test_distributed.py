"""fastlr.distributed.train on a real dask.distributed LocalCluster.

The cluster has two worker processes (module-scoped fixture), so the block
tasks really run in other processes and their results really travel.
"""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastlr  # noqa: E402
import fastlr.distributed as fdist  # noqa: E402

M, N = 20_000, 10
#: One-epoch-per-block settings shared by the tests.
FIT = {"batch_size": 100, "epochs": 10, "lr": 0.05}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
    cl = distributed.Client(cluster)
    try:
        yield cl
    finally:
        cl.close()
        cluster.close()


def make_data(m, seed):
    """Features with assorted means and scales (so standardization matters),
    labels from a logistic model with some label noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, N)) * rng.uniform(0.5, 3.0, N) + rng.normal(0, 2, N)
    w = rng.normal(size=N) / np.sqrt(N)
    z = (X - X.mean(axis=0)) / X.std(axis=0) @ w * 2.0 + 0.3
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def all_data():
    return make_data(M + 5_000, 0)


@pytest.fixture(scope="module")
def data(all_data):
    X, y = all_data
    return X[:M], y[:M]


@pytest.fixture(scope="module")
def heldout(all_data):
    X, y = all_data
    return X[M:], y[M:]


def as_array(a, array_type, chunks):
    return a if array_type == "numpy" else da.from_array(a, chunks=chunks)


@pytest.mark.parametrize("shuffle", [True, False, "rows"])
@pytest.mark.parametrize("array_type", ["numpy", "dask"])
def test_one_partition_equals_train(client, data, array_type, shuffle):
    """One block: the same batches in the same order as fastlr.train (block 0
    draws from train's own generator), so the same model up to the rounding
    of the distributed standardization statistics."""
    X, y = data
    expected = fastlr.train(X, y, shuffle=shuffle, random_state=7, **FIT)
    got = fdist.train(as_array(X, array_type, X.shape),
                      as_array(y, array_type, y.shape), shuffle=shuffle,
                      random_state=7, client=client, **FIT)
    assert isinstance(got, fastlr.TrainResult)
    np.testing.assert_allclose(got.w, expected.w, rtol=1e-10)
    np.testing.assert_allclose(got.b, expected.b, rtol=1e-10)
    np.testing.assert_allclose(got.losses, expected.losses, rtol=1e-10)


@pytest.mark.parametrize("standardize", [True, False])
def test_one_partition_equals_train_float32_penalty(client, data, standardize):
    X, y = data
    X = X.astype(np.float32)
    kw = dict(FIT, epochs=3, penalty="l2", alpha=1e-3, standardize=standardize,
              lr=0.05 if standardize else 0.002, random_state=1)
    expected = fastlr.train(X, y, **kw)
    got = fdist.train(da.from_array(X, chunks=X.shape), y, client=client, **kw)
    assert got.w.dtype == np.float32
    np.testing.assert_allclose(got.w, expected.w, rtol=1e-6)
    np.testing.assert_allclose(got.losses, expected.losses, rtol=1e-10)


#: Held-out log-loss tolerance of the 4-block model, relative to fastlr.train.
#: Both minimize the same convex loss; with 4 blocks each block takes a
#: quarter of the steps per epoch, and averaging does not add them up, so
#: the averaged model lags behind the serial one in early epochs (Zinkevich
#: et al. 2010, section 3). After 10 epochs at lr 0.05 both are within the
#: SGD noise ball of the optimum, where the held-out loss is flat (quadratic
#: in the weight error). Measured gap: +0.29% (held-out loss 0.4421 vs
#: 0.4408; +0.25% to +0.29% for random_state 0..3). 2% leaves about 7x room
#: for other seeds and platforms while still failing on a broken average
#: (w = 0 scores log 2, 57% above the optimum here).
HELDOUT_RTOL = 0.02


@pytest.mark.parametrize("array_type", ["numpy", "dask"])
def test_four_partitions_heldout_loss(client, data, heldout, array_type):
    X, y = data
    Xt, yt = heldout
    serial = fastlr.train(X, y, random_state=0, **FIT)
    # numpy input is one block; the dask array is four
    got = fdist.train(as_array(X, array_type, (M // 4, N)),
                      as_array(y, array_type, M // 4), random_state=0,
                      client=client, **FIT)
    loss_serial = fastlr.log_loss(yt, fastlr.predict_proba(Xt, *serial[:2]))
    loss_dist = fastlr.log_loss(yt, fastlr.predict_proba(Xt, *got[:2]))
    assert loss_dist == pytest.approx(loss_serial, rel=HELDOUT_RTOL)
    assert loss_serial < 0.9 * np.log(2)  # the problem is not trivial
    assert got.losses.shape == (FIT["epochs"],)
    assert got.losses[-1] < got.losses[0]


def test_deterministic(client, data):
    """Orders depend on random_state, epoch and block, not on scheduling."""
    X, y = data
    Xd = da.from_array(X, chunks=(M // 4, N))
    a = fdist.train(Xd, da.from_array(y, chunks=M // 4), random_state=3,
                    client=client, **FIT)
    b = fdist.train(Xd, y, random_state=3, client=client, **FIT)
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.losses, b.losses)
    c = fdist.train(Xd, y, random_state=4, client=client, **FIT)
    assert not np.array_equal(a.w, c.w)


def test_default_client_and_local_scheduler(client, data, monkeypatch):
    """client=None uses the current client, or dask's own scheduler if none."""
    X, y = data
    Xd = da.from_array(X, chunks=(M // 4, N))
    kw = dict(FIT, epochs=2, random_state=5)
    explicit = fdist.train(Xd, y, client=client, **kw)
    default = fdist.train(Xd, y, **kw)
    np.testing.assert_array_equal(default.w, explicit.w)

    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    local = fdist.train(Xd, y, **kw)
    np.testing.assert_allclose(local.w, explicit.w, rtol=1e-12)


def test_block_stats_match_one_array(data):
    """Per-block largest |x| and shifted sums, added over blocks, give what
    fastlr.train computes on the whole array, and NumPy's mean and std."""
    X, y = data
    X = X.copy()
    X[:, 3] = 2.5  # constant column: scale 1, as in fastlr.train
    X[:, 4] = X[:, 4] / np.abs(X[:, 4]).max() * 1e300  # squares would overflow
    _, blocks, _, _ = fdist._open(da.from_array(X, chunks=(3000, N)),
                                  da.from_array(y, chunks=3000), None, client=None)
    mean, scale, column_stats, total, _, _ = fdist._standardization(
        blocks, True, N, False)
    colmean, colscale = column_stats()
    blocks.release()
    assert total == M
    np.testing.assert_array_equal(colmean, mean)
    np.testing.assert_array_equal(colscale, scale)
    from fastlr._dispatch import as_data

    whole_mean, whole_scale = (a[0] for a in as_data(X).column_stats())
    np.testing.assert_allclose(mean, whole_mean, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(scale, whole_scale, rtol=1e-12)
    expected_mean = np.r_[X[:, :4].mean(axis=0), (X[:, 4] / 1e300).mean() * 1e300,
                          X[:, 5:].mean(axis=0)]
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12, atol=1e-14)
    expected = np.r_[X[:, :4].std(axis=0), (X[:, 4] / 1e300).std() * 1e300,
                     X[:, 5:].std(axis=0)]
    expected[3] = 1.0
    np.testing.assert_allclose(scale, expected, rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_block_stats_shift_by_a_row_that_counts(sparse):
    """A timestamp column, 0 in rows of weight 0, in blocks: the
    statistics of the rows that count, as in memory. The sums were shifted
    by row 0's value (by 0 on CSR blocks), which no counted row holds, and
    the narrow column was taken for a constant one (scale 1). The largest
    weight sits in the third block: its row is the shift, as in memory."""
    import scipy.sparse as sp

    from fastlr._dispatch import as_data

    rng = np.random.default_rng(2)
    m = 600
    missing = np.r_[0:10, 300:305]
    stamp = 1.7e9 + rng.uniform(0.0, 3600.0, m)
    stamp[missing] = 0.0
    X = np.column_stack([rng.normal(size=m), stamp])
    y = (rng.random(m) < 0.5).astype(int)
    sw = rng.uniform(0.5, 1.0, m)
    sw[missing] = 0.0
    sw[450] = 3.0
    Xm = sp.csr_matrix(X) if sparse else X
    Xd = da.from_array(Xm, chunks=(200, 2), asarray=False)
    _, blocks, _, _ = fdist._open(Xd, da.from_array(y, chunks=200),
                                  da.from_array(sw, chunks=200), client=None)
    mean, scale, column_stats, total, _, counted = fdist._standardization(blocks, True,
                                                                          2, True)
    colmean, _ = column_stats()
    assert counted == np.count_nonzero(sw)
    blocks.release()
    keep = sw > 0
    t, w = stamp[keep], sw[keep]
    want = np.sqrt(np.average((t - np.average(t, weights=w)) ** 2, weights=w))
    np.testing.assert_allclose(scale[1], want, rtol=1e-9)
    whole_mean, whole_scale = (a[0] for a in as_data(Xm).column_stats(sw=sw))
    np.testing.assert_allclose(colmean, whole_mean, rtol=1e-12)
    np.testing.assert_allclose(scale, whole_scale, rtol=1e-12)


# --------------------------------------------------------------------------
# bad input


def test_unknown_chunk_sizes(client, data):
    X, y = data
    Xd = da.from_array(X, chunks=(5_000, N))
    Xu = Xd[Xd[:, 0] > -np.inf]  # boolean indexing: chunk sizes unknown
    with pytest.raises(ValueError, match=r"X has unknown chunk sizes.*"
                                         r"X\.compute_chunk_sizes\(\)"):
        fdist.train(Xu, y, client=client, **FIT)
    yd = da.from_array(y, chunks=5_000)
    yu = yd[yd >= 0]
    with pytest.raises(ValueError, match=r"y\.compute_chunk_sizes\(\)"):
        fdist.train(Xd, yu, client=client, **FIT)


def test_column_chunks_are_merged(client, data):
    X, y = data
    kw = dict(FIT, epochs=2, random_state=2, client=client)
    rows_only = fdist.train(da.from_array(X, chunks=(5_000, N)), y, **kw)
    with_cols = fdist.train(da.from_array(X, chunks=(5_000, 3)), y, **kw)
    np.testing.assert_array_equal(with_cols.w, rows_only.w)


def test_bad_input(client, data):
    X, y = data
    Xd = da.from_array(X, chunks=(5_000, N))
    with pytest.raises(ValueError, match="y has 19999 entries but X has 20000 rows"):
        fdist.train(Xd, da.from_array(y[:-1], chunks=5_000), client=client)
    bad = y.copy()
    bad[12_345] = 2
    with pytest.raises(ValueError, match="y must hold the labels 0 and 1"):
        fdist.train(Xd, bad, client=client, **FIT)
    # many labels: the first few and their count, not every one
    with pytest.raises(ValueError, match=r"got \[0, 1, 2, 3, 4, 5, \.\.\. "
                       r"\(500 in all\)\] \(use"):
        fdist.train(Xd, np.arange(20_000) % 500, client=client, **FIT)
    with pytest.raises(ValueError, match="y's blocks are not aligned with X's row"):
        fdist.train(Xd, da.from_array(y, chunks=3_000), client=client, **FIT)
    with pytest.raises(ValueError, match="y contains only one class"):
        fdist.train(Xd, np.zeros(M), client=client, **FIT)
    Xn = X.copy()
    Xn[12_345, 2] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN.*row block 2, rows 10000"):
        fdist.train(da.from_array(Xn, chunks=(5_000, N)), y, client=client, **FIT)
    with pytest.raises(TypeError, match="X must be a dask.array.Array, a dask DataFrame"):
        fdist.train(X.tolist(), y, client=client)
    with pytest.raises(ValueError, match="X must be 2-D"):
        fdist.train(da.from_array(y, chunks=5_000), y, client=client)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        fdist.train(Xd, y, batch_size=0, client=client)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        fdist.train(Xd, y, n_threads=0, client=client)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs", "auto"])
def test_zero_weights_are_refused_as_fastlr_train(data, solver):
    """Every sample weight 0: fastlr.train's ValueError naming
    sample_weight, with every solver (L-BFGS, which runs no mixing epoch,
    divided by the zero total and blamed the features' size)."""
    X, y = data
    Xs, ys = X[:1_000], y[:1_000]
    match = "^sample_weight is zero for every sample; at least one must be positive$"
    with pytest.raises(ValueError, match=match):
        fastlr.train(Xs, ys, sample_weight=np.zeros(1_000), solver=solver)
    with pytest.raises(ValueError, match=match), warnings.catch_warnings():
        warnings.simplefilter("error")
        fdist.train(da.from_array(Xs, chunks=(250, N)), da.from_array(ys, chunks=250),
                    sample_weight=da.from_array(np.zeros(1_000), chunks=250),
                    solver=solver)


def test_n_threads_none_is_accepted_as_in_memory(client, data):
    """``n_threads=None`` (fastlr.train's default, "numba's thread count")
    is accepted and, as any count, changes nothing on the cluster."""
    X, y = data
    Xd = da.from_array(X, chunks=(5_000, N))
    kw = dict(FIT, epochs=1, random_state=2, client=client)
    np.testing.assert_array_equal(fdist.train(Xd, y, n_threads=None, **kw).w,
                                  fdist.train(Xd, y, n_threads=2, **kw).w)


def test_diverged(client, data):
    X, y = data
    with pytest.raises(fastlr.DivergedError, match="lower the learning rate"):
        fdist.train(da.from_array(X, chunks=(5_000, N)), y, lr=1e3,
                    standardize=False, epochs=3, client=client)
    # "optimal" ignores lr: its steps shrink as alpha grows (the advice was
    # to lower lr)
    with pytest.raises(fastlr.DivergedError, match="raise alpha or choose another "
                       "learning_rate") as info:
        fdist.train(da.from_array(X * 50, chunks=(5_000, N)), y, standardize=False,
                    learning_rate="optimal", penalty="l2", alpha=1e-8,
                    batch_size=1, epochs=3, client=client)
    assert "lower the learning rate" not in str(info.value)
    # weighted: the message gives the weights' mean, which the steps scale with
    with pytest.warns(fastlr.WeightScaleWarning), \
            pytest.raises(fastlr.DivergedError, match="their mean over the rows of "
                          r"positive weight is 1e\+08\)"):
        fdist.train(da.from_array(X, chunks=(5_000, N)), y, epochs=3,
                    sample_weight=da.from_array(np.full(X.shape[0], 1e8),
                                                chunks=5_000), client=client)


# --------------------------------------------------------------------------
# data locality


def _outgoing(client):
    """Every worker's log of the data it sent: ``{worker: [(to_worker, bytes)]}``,
    ``to_worker`` False for the client or scheduler (a gather)."""
    workers = set(client.scheduler_info()["workers"])
    logs = client.run(lambda dask_worker: [(t["who"], t["total"]) for t in
                                           dask_worker.transfer_outgoing_log])
    return {w: [(who in workers, n) for who, n in v] for w, v in logs.items()}


def _new(before, after):
    return [t for w, v in after.items() for t in v[len(before.get(w, ())):]]


def test_blocks_never_gathered(client, data):
    """During training, only models travel to the client; no X block moves.

    The y blocks may move once (to meet their X block, when dask computed
    them on another worker). Positive control at the end: gathering X to
    the client shows up in the same logs, so this check can fail.
    """
    X, y = data
    Xd = da.from_array(X, chunks=(M // 4, N))
    block_bytes = X.nbytes // 4  # 400 kB
    before = _outgoing(client)
    fdist.train(Xd, y, random_state=0, client=client, **FIT)
    after = _outgoing(client)
    sent = _new(before, after)
    to_client = [n for to_worker, n in sent if not to_worker]
    assert len(to_client) >= FIT["epochs"] + 1  # one gather per epoch, stats
    assert max(to_client) < 4_000  # w, b, a loss, a random generator state
    assert max(n for _, n in sent) < block_bytes / 5  # at most a y block (40 kB)

    client.compute(Xd).result()  # gathers X to the client
    control = [n for to_worker, n in _new(after, _outgoing(client)) if not to_worker]
    assert max(control) >= block_bytes


@pytest.mark.parametrize("call", [
    lambda X, y: fastlr.train(X, y, epochs=1),
    lambda X, y: fastlr.train_many(X, y, alphas=[1e-3, 1e-2], epochs=1),
    lambda X, y: fastlr.train_multinomial(X, y, epochs=1),
    lambda X, y: fastlr.predict_proba(X, np.zeros(X.shape[1]), 0.0),
    lambda X, y: fastlr.gradients(X, y, np.full(X.shape[0], 0.5)),
    lambda X, y: fastlr.reference.train(X, y, epochs=1),
], ids=["train", "train_many", "train_multinomial", "predict_proba", "gradients",
        "reference.train"])
def test_the_functions_refuse_dask_rather_than_gather(data, call):
    """The functional API works in memory: a dask X is refused, naming the
    ways to train on the cluster, where np.asarray computed it and gathered
    every block silently (as LogisticRegressionCV refuses it)."""
    X, y = data
    Xd = da.from_array(X, chunks=(M // 4, N))
    with pytest.raises(TypeError, match=r"^X is a dask collection.*distributed\.train"):
        call(Xd, y)


@pytest.mark.parametrize("call", [
    lambda X, y, yd: fastlr.train(X, yd, epochs=1),
    lambda X, y, yd: fastlr.train_many(X, yd, alphas=[1e-3, 1e-2], epochs=1),
    lambda X, y, yd: fastlr.train_multinomial(X, yd, epochs=1),
    lambda X, y, yd: fastlr.reference.train_many(X, yd, alphas=[1e-3], epochs=1),
    lambda X, y, yd: fastlr.reference.train_multinomial(X, yd, epochs=1),
    lambda X, y, yd: fastlr.accuracy(yd, y),
    lambda X, y, yd: fastlr.log_loss(yd, np.full(y.shape[0], 0.5)),
], ids=["train", "train_many", "train_multinomial", "reference.train_many",
        "reference.train_multinomial", "accuracy", "log_loss"])
def test_the_functions_refuse_dask_labels_rather_than_gather(data, call):
    """Labels on the cluster are refused like X, naming y_true or y, by every
    in-memory function (train_many, train_multinomial and accuracy read
    their labels with np.asarray, which computed them)."""
    X, y = data
    yd = da.from_array(y, chunks=M // 4)
    with pytest.raises(TypeError, match=r"^y(_true)? is a dask collection"):
        call(X, y, yd)


def test_train_many_refuses_dask_folds(data):
    """Fold labels on the cluster are refused, naming folds."""
    X, y = data
    folds = da.from_array(np.arange(M) % 3, chunks=M // 4)
    with pytest.raises(TypeError, match=r"^folds is a dask collection"):
        fastlr.train_many(X, y, alphas=[1e-3], folds=folds, epochs=1)


@pytest.mark.parametrize("batch", [2**31, 2**63 - 1, 2**63], ids=["2**31", "2**63-1",
                                                                   "2**63"])
def test_batch_larger_than_a_block_is_the_whole_block(client, data, batch):
    """Each block trains with batches of at most its rows, as fastlr.train
    does with a batch larger than the data: four blocks with a huge batch
    equal four blocks with batches of one block's rows."""
    X, y = data
    Xd, yd = da.from_array(X, chunks=M // 4), da.from_array(y, chunks=M // 4)
    kw = {**FIT, "epochs": 3, "random_state": 5}
    want = fdist.train(Xd, yd, client=client, **{**kw, "batch_size": M // 4})
    got = fdist.train(Xd, yd, client=client, **{**kw, "batch_size": batch})
    np.testing.assert_array_equal(got.w, want.w)
    np.testing.assert_array_equal(got.losses, want.losses)
    assert np.abs(got.w).max() > 0.01   # it trained


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_l1_penalties_one_block_equals_train(client, data, penalty):
    """L1 parts train on Dask: the cumulative penalty travels with the
    model state, so one block is fastlr.train (exact zeros included)."""
    X, y = data
    kw = dict(FIT, epochs=3, penalty=penalty, alpha=3e-3, random_state=2)
    expected = fastlr.train(X, y, **kw)
    got = fdist.train(da.from_array(X, chunks=X.shape), y, client=client, **kw)
    np.testing.assert_allclose(got.w, expected.w, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(got.w == 0, expected.w == 0)


def test_a_solver_that_stalls_warns_as_in_memory(client):
    """fastlr.distributed.train with solver="lbfgs" on unstandardized
    features of 1e160 stops at once at the zero model, as fastlr.train does;
    fastlr.train warns ConvergenceWarning there, and so does Dask's now
    (it returned the zero model silently). Near 1e80 both train, by the
    same preconditioned run (the blocks' column statistics are the
    in-memory ones)."""
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3)) + 2.0
    y = (X @ [1.0, 2.0, 3.0] - 12 + rng.normal(size=400) > 0).astype(np.int64)
    kw = dict(solver="lbfgs", standardize=False, epochs=300)
    with pytest.warns(ConvergenceWarning, match="stopped after 0 of epochs=300"):
        fastlr.train(X * 1e160, y, **kw)
    with pytest.warns(ConvergenceWarning, match="stopped after 0 of epochs=300"):
        res = fdist.train(da.from_array(X * 1e160, chunks=(200, 3)),
                          da.from_array(y, chunks=200), client=client, **kw)
    assert len(res.losses) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        mem = fastlr.train(X * 1e80, y, tol=1e-6, **kw)
        res = fdist.train(da.from_array(X * 1e80, chunks=(200, 3)),
                          da.from_array(y, chunks=200), client=client, tol=1e-6, **kw)
    assert 0 < len(res.losses) == len(mem.losses) < 100
    np.testing.assert_allclose(res.w, mem.w, rtol=1e-8)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_block_tasks_run_on_one_thread(monkeypatch, sparse):
    """A block task reads its block on one thread, as its epochs and passes
    do (n_threads is ignored: one worker thread per core is dask's layout):
    loading a block (its validation and finiteness check) and predicting on
    it, including the finiteness check after an overflowing logit, use no
    thread team even where in-memory calls would."""
    import numba
    import scipy.sparse as sp

    from fastlr._kernels import team

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one thread is all this process may use")
    # several row blocks of the passes (fastlr._dispatch.BLOCK_ELEMENTS)
    m, n = 300_000, 4
    X = sp.random(m, n * 10, density=0.1, format="csr", random_state=0) \
        if sparse else np.random.default_rng(0).normal(size=(m, n))
    n = X.shape[1]
    y = np.arange(m) % 2
    teams = []
    real = team._on_team

    def spy(n, work, stop):
        teams.append(n)
        return real(n, work, stop)

    monkeypatch.setattr(team, "_on_team", spy)
    Xb = fdist._prepare_block(X, y, None, 0, 0, X.shape, np.array([0, 1]), None,
                              None)[0]
    W, B = np.ones((1, n)), np.zeros(1)
    fdist._block_decision(X, W, B, np.float64)
    fdist._block_decision(X, np.full((1, n), 1e308), B, np.float64)   # overflows
    assert teams and set(teams) == {1}, teams
    assert Xb.shape == X.shape
    # where the in-memory validation of the same X uses the team
    from fastlr._dispatch import as_data

    teams.clear()
    as_data(X)
    assert max(teams) > 1
