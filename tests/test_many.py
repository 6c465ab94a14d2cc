"""fastlr.train_many: K models from one pass over the data per epoch.

Each model of the joint run must equal the model trained alone with the
same seed on its own training rows (``train(..., rows=...)``): bit for bit,
except a dense binary stack whose means fold out, whose logits and
gradients are summed in blocks of rows and models (another order of
the same sums: 1e-12 relative after a few epochs, see ``same``); the NumPy
twin (``reference.train_many``, one model at a time) agrees to the case
table's tolerances (tests/test_reference.py runs it too).
"""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import fastlr
from fastlr import _dispatch, reference, verify
from fastlr._kernels import dense
from fastlr._validation import check_folds

ALPHAS = [1e-4, 1e-2, 0.3]


def make_data(seed, m=900, n=6, k=2, sparse=False, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(m, n))
    logits = Z @ rng.normal(size=(n, k))
    y = (logits + rng.gumbel(size=(m, k))).argmax(axis=1)
    X = Z * rng.uniform(0.5, 3.0, n) + rng.uniform(-2.0, 2.0, n)
    if sparse:
        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.5, X, 0.0))
    return X.astype(dtype), y


def solo(X, y, i, res, row_fold, **kw):
    """Model ``i`` of ``res`` trained alone."""
    train = fastlr.train if res.classes.shape[0] == 2 else fastlr.train_multinomial
    rows = None if row_fold is None else row_fold != res.folds[i]
    kw = dict(kw)
    if kw.get("penalty") == "elasticnet":
        kw["l1_ratio"] = res.l1_ratios[i]
    return train(X, y, alpha=res.alphas[i], rows=rows, **kw)


def same(actual, desired, reordered):
    """Bit for bit, or to 1e-12 relative (of the array's largest value) when
    the joint run summed in another order."""
    if not reordered:
        np.testing.assert_array_equal(actual, desired)
        return
    scale = np.nanmax(np.abs(desired)) if np.size(desired) else 0.0
    np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=1e-12 * scale)


def reordered(X, res, name=None):
    """Whether the joint run took the dense binary many-model path, or (CSR,
    binary, L2 options: ``name``) the model alone took the lean CSR epoch,
    whose logits are four partial sums and whose exp is libm's."""
    binary = res.classes.shape[0] == 2
    if sp.issparse(X):
        return binary and name in LEAN
    return binary and res.W.shape[0] > 1


#: The OPTIONS whose binary CSR model trained alone takes the lean epoch.
LEAN = ("l2", "weights", "raw", "optimal_l2")

OPTIONS = {
    "l2": {"penalty": "l2"},
    "l1": {"penalty": "l1"},
    "elasticnet": {"penalty": "elasticnet"},
    "adagrad_l1": {"penalty": "l1", "learning_rate": "adagrad", "lr": 0.1},
    "invscaling_avg": {"penalty": "l2", "learning_rate": "invscaling", "lr": 0.3,
                       "average": 3},
    "weights": {"penalty": "l2", "sample_weight": "random"},
    "raw": {"penalty": "l2", "standardize": False},
    # each model's step from its own alpha
    "optimal_l2": {"penalty": "l2", "learning_rate": "optimal"},
}


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize("folds", [3, None], ids=["cv3", "path"])
def test_each_model_equals_the_model_trained_alone(k, storage, name, folds):
    X, y = make_data(1, k=k, sparse=storage == "csr")
    kw = {"batch_size": 40, "epochs": 3, "lr": 0.05, "random_state": 4,
          **OPTIONS[name]}
    if kw.get("sample_weight") == "random":
        sw = np.random.default_rng(2).uniform(0, 2, X.shape[0])
        sw[::7] = 0.0   # a held-out row of weight 0 is still held out
        kw["sample_weight"] = sw
    if storage == "csr" and kw.get("standardize", True):
        kw["standardize"] = "scale"
    grid = {"l1_ratios": [0.2, 0.7]} if name == "elasticnet" else {}
    res = fastlr.train_many(X, y, ALPHAS, folds=folds, **grid, **kw)
    row_fold, _ = check_folds(folds, np.unique(y, return_inverse=True)[1], len(y))
    assert res.W.shape[0] == len(ALPHAS) * (folds or 1) * (2 if grid else 1)
    for i in range(res.W.shape[0]):
        alone = solo(X, y, i, res, row_fold, **kw)
        same(res.W[i], alone[0], reordered(X, res, name))
        same(res.b[i], alone[1], reordered(X, res, name))
        same(res.losses[i], alone.losses, reordered(X, res, name))
    assert np.isnan(res.heldout).all() == (folds is None)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
def test_csr_elastic_net_grid_with_pure_ratios(k):
    """On CSR X a stack of elastic-net models defers every model's step on
    the columns a batch does not touch, as each does alone: the models of
    l1_ratio 0 (or alpha 0), which alone take the lean epoch, equal their
    lone fits to rounding (1e-12 relative), the others bit for bit."""
    X, y = make_data(3, k=k, sparse=True)
    kw = {"batch_size": 40, "epochs": 3, "lr": 0.05, "random_state": 4,
          "penalty": "elasticnet", "standardize": "scale"}
    res = fastlr.train_many(X, y, [0.0, 1e-3, 0.1], l1_ratios=[0.0, 0.5, 1.0], **kw)
    for i in range(res.W.shape[0]):
        alone = solo(X, y, i, res, None, **kw)
        lean = res.l1_ratios[i] == 0.0 or res.alphas[i] == 0.0
        same(res.W[i], alone[0], lean)
        same(res.b[i], alone[1], lean)
        same(res.losses[i], alone.losses, lean)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
@pytest.mark.parametrize("average", [False, 2], ids=["plain", "averaged"])
def test_csr_stack_where_one_model_folds_its_scale(k, average):
    """The strongest model's L2 factor drives its scale below MIN_SCALE
    (or to 0) within an epoch, so the CSR epoch pays what every column owes
    (every model's) and folds that model's scale into its weights, between
    two models' steps. The others' payment must stop at the step before,
    whose gradients are not in their weights yet: each model equals its
    lone fit to rounding (it was paid in two parts; averaged models were
    3e-3 to 8e-3 off when the payment took in this step's scales)."""
    X, y = make_data(5, k=k, sparse=True)
    penalty = "l2" if average else "elasticnet"
    kw = {"batch_size": 4, "epochs": 2, "lr": 0.05, "random_state": 5,
          "penalty": penalty, "standardize": "scale", "average": average}
    grid = {} if average else {"l1_ratios": [0.5]}
    res = fastlr.train_many(X, y, [1e-3, 0.1, 30.0], **grid, **kw)
    for i in range(res.W.shape[0]):
        alone = solo(X, y, i, res, None, **kw)
        same(res.W[i], alone[0], True)
        same(res.b[i], alone[1], True)
        same(res.losses[i], alone.losses, True)
    assert np.count_nonzero(res.W[0]) > 0


def test_result_w_is_the_contract_name():
    """The design's contract names train_many's weights ``res.w`` (K, n), as
    train's; the result had only ``W``. Both now, the same array, in the
    kernels' result and the twin's."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    for train_many in (fastlr.train_many, reference.train_many):
        res = train_many(X, y, alphas=[1e-4, 1e-2], epochs=2, random_state=0)
        assert res.w is res.W and res.w.shape == (2, 4)


@pytest.mark.parametrize("name", ["l2", "weights", "raw"])
@pytest.mark.parametrize("folds", [3, None], ids=["cv3", "path"])
def test_wide_stack_each_model_equals_the_model_trained_alone(name, folds):
    """From OUTER_MIN_MODELS binary models on, the dense stack takes the
    logits and the gradient in the outer-product form (vectors over models,
    padded lanes, blocks of six rows: 13 models in one block of 16 lanes,
    21 in one of 16 and one of 8, where BLOCK_MODELS is 16 (AVX-512; two
    and three blocks of 8 elsewhere); chunks of 40 rows)."""
    from fastlr._kernels.dense import OUTER_MIN_MODELS

    X, y = make_data(6)
    alphas = np.logspace(-5, -1, 7 if folds else 13)
    kw = {"batch_size": 40, "epochs": 3, "lr": 0.05, "random_state": 4,
          **OPTIONS[name]}
    if kw.get("sample_weight") == "random":
        sw = np.random.default_rng(2).uniform(0, 2, X.shape[0])
        sw[::7] = 0.0
        kw["sample_weight"] = sw
    res = fastlr.train_many(X, y, alphas, folds=folds, **kw)
    assert OUTER_MIN_MODELS <= res.W.shape[0] == len(alphas) * (folds or 1)
    row_fold, _ = check_folds(folds, y, len(y))
    for i in range(res.W.shape[0]):
        alone = solo(X, y, i, res, row_fold, **kw)
        same(res.W[i], alone[0], True)
        same(res.b[i], alone[1], True)
        same(res.losses[i], alone.losses, True)
    ref = reference.train_many(X, y, alphas, folds=folds, **kw)
    np.testing.assert_allclose(res.W, ref.W, **verify.tolerance("float64"))
    if folds:
        np.testing.assert_allclose(res.heldout, ref.heldout,
                                   **verify.tolerance("float64"))


@pytest.mark.parametrize("name", ["l2", "l1", "average"])
@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
def test_csr_stack_keeps_its_weights_in_the_table(k, name):
    """A CSR stack of several models keeps W in the epoch's table (a view,
    one row a column) instead of copying it in and out each epoch: the
    same bits as the copying path (a stack that does not own its arrays
    takes it), and ``compact`` gives a C-ordered W again. Twelve models
    (two groups of eight lanes), scaled and raw columns."""
    from fastlr._kernels.update import hyperparameters
    from fastlr._order import make_rng
    from fastlr._sgd import sgd_many
    from fastlr._state import ModelStack

    X, y = make_data(3, k=k, sparse=True)
    data = _dispatch.as_data(X)
    codes = np.unique(y, return_inverse=True)[1]
    penalty = "l2" if name == "average" else name
    hyper = [hyperparameters(penalty, a, 0.15, 0.05) for a in np.logspace(-5, -1, 12)]
    for standardize in (True, False):
        mean, scale = data.standardization(standardize)
        out = []
        for owns in (True, False):
            stack = ModelStack(mean, scale, k if k > 2 else 1, k > 2, hyper,
                               stat=np.zeros(12, dtype=np.int64))
            stack.owns = owns
            res = sgd_many(data, codes, np.empty(0), stack, batch_size=40, epochs=3,
                           shuffle=True, rng=make_rng(4), epoch_loss="running",
                           tol=None, n_iter_no_change=5,
                           average_start=2 if name == "average" else 0)
            assert stack.W.flags.c_contiguous != owns
            W = stack.W.copy()
            stack.compact()
            assert stack.W.flags.c_contiguous
            np.testing.assert_array_equal(stack.W, W)
            out.append((W, stack.B.copy(), stack.avg.copy(), stack.l1_q.copy(),
                        res["losses"]))
        for a, b in zip(*out, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
def test_threaded_joint_run_equals_one_thread(k, monkeypatch):
    """The stack shares the team epoch: bit-identical for any thread count."""
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS",
                        max(3, numba.config.NUMBA_NUM_THREADS))
    X, y = make_data(2, m=3000, k=k)
    kw = dict(batch_size=300, epochs=3, lr=0.05, random_state=1, folds=4,
              penalty="l1")
    one = fastlr.train_many(X, y, ALPHAS, n_threads=1, **kw)
    for threads in (2, 3):
        many = fastlr.train_many(X, y, ALPHAS, n_threads=threads, **kw)
        np.testing.assert_array_equal(one.W, many.W)
        np.testing.assert_array_equal(one.heldout, many.heldout)


def test_outer_form_model_does_not_depend_on_its_block():
    """From OUTER_MIN_MODELS dense binary models on, the sums are outer
    products in blocks of 16 lanes (AVX-512) and a last block of 8: each
    lane's sum runs over the same elements in the same order in either,
    so a model's bits do not depend on the block that holds it (16 models
    in one block, the same split 8 + 8 into runs of eight, 24 as 16 + 8).
    float64: float32 weights round away a change of summation order (the
    order reversed in the eight-lane loop failed this test in float64 and
    not in float32)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1500, 11))
    y = (X[:, 0] + rng.normal(size=1500) > 0).astype(int)
    mean, scale = _dispatch.as_data(X).standardization(True)
    assert dense.chunk_plan(mean, scale, np.zeros(8, dtype=np.int64),
                            np.ones(8, dtype=np.uint8), False)[2]   # the many form
    alphas = np.logspace(-5, -1, 24)
    kw = dict(batch_size=200, epochs=3, lr=0.05, random_state=1)
    runs = {K: fastlr.train_many(X, y, alphas[:K], **kw) for K in (8, 16, 24)}
    high = fastlr.train_many(X, y, alphas[8:16], **kw)
    last = fastlr.train_many(X, y, alphas[16:], **kw)
    np.testing.assert_array_equal(runs[16].W[:8], runs[8].W)
    np.testing.assert_array_equal(runs[16].W[8:], high.W)
    np.testing.assert_array_equal(runs[24].W[:16], runs[16].W)
    np.testing.assert_array_equal(runs[24].W[16:], last.W)
    np.testing.assert_array_equal(runs[24].b, np.concatenate([runs[16].b, last.b]))


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_early_stopping_per_model(storage):
    """Models stop on their own held-out loss; a stopped model is the model
    trained alone for as many epochs, and the reference stops alike."""
    X, y = make_data(3, m=1200, sparse=storage == "csr")
    kw = dict(batch_size=30, epochs=40, lr=0.2, random_state=0, tol=1e-3,
              n_iter_no_change=2, penalty="l2", standardize="scale")
    res = fastlr.train_many(X, y, [1e-5, 1e-3, 0.05, 1.0], folds=3, **kw)
    assert res.n_iter.min() < res.n_iter.max() <= 40   # they stop apart
    assert res.converged[res.n_iter < 40].all()
    ref = reference.train_many(X, y, [1e-5, 1e-3, 0.05, 1.0], folds=3, **kw)
    np.testing.assert_array_equal(res.n_iter, ref.n_iter)
    np.testing.assert_allclose(res.W, ref.W, **verify.tolerance("float64"))
    row_fold, _ = check_folds(3, y, len(y))
    for i in np.flatnonzero(res.n_iter < 40)[:3]:
        alone = solo(X, y, i, res, row_fold, **dict(kw, tol=None,
                                                    epochs=int(res.n_iter[i])))
        same(res.W[i], alone.w, reordered(X, res, "l2"))
        # after it stopped, nothing was recorded for it
        assert np.isnan(res.losses[i, res.n_iter[i]:]).all()


def test_heldout_loss_is_the_fold_scored_during_the_pass():
    """With one batch per epoch the running held-out loss is the log-loss of
    the fold at the epoch's starting weights."""
    X, y = make_data(4, m=300)
    res = fastlr.train_many(X, y, [0.01], folds=3, batch_size=10_000, epochs=2,
                            lr=0.5, random_state=0)
    row_fold, _ = check_folds(3, y, len(y))
    for i in range(3):
        held = row_fold == res.folds[i]
        start = fastlr.train(X, y, alpha=0.01, rows=~held, batch_size=10_000,
                             epochs=1, lr=0.5, random_state=0)
        p = fastlr.predict_proba(X[held], start.w, start.b)
        np.testing.assert_allclose(res.heldout[i, 1], fastlr.log_loss(y[held], p),
                                   rtol=1e-12)


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("case", ["one", "softmax_one", "lanes", "lanes_l1", "scalings"])
def test_a_weight_gone_non_finite_stops_its_model_only(storage, case):
    """The epoch reports each model's finiteness (the CSR table's epoch in
    its last pass over the table, not by reading the weights again): a
    model whose weight went infinite in a column no row visits (its logits
    and losses stay finite) diverges, and the others train on. Each case is
    one of the CSR epoch's paths: the lean one-model epochs (binary,
    softmax), the lane layout with and without per-column records, and the
    scalar layout of several scalings."""
    from fastlr._dispatch import as_data
    from fastlr._kernels.update import hyperparameters
    from fastlr._order import make_rng
    from fastlr._sgd import sgd_many
    from fastlr._state import ModelStack
    from fastlr._validation import check_class_labels, check_sample_weight

    k = 3 if case == "softmax_one" else 2
    X, y = make_data(7, m=300, n=6, k=k, sparse=storage == "csr")
    X = sp.hstack([X, sp.csr_matrix((300, 1))]).tocsr() if storage == "csr" else (
        np.hstack([X, np.zeros((300, 1))]))
    K = 1 if case.endswith("one") else 3
    data = as_data(X)
    classes, codes = check_class_labels(y, data.m)
    mean, scale = data.standardization("scale" if storage == "csr" else True)
    stat = np.zeros(K, dtype=np.int64)
    if case == "scalings":   # a second standardization: the scalar layout
        mean, scale = np.vstack([mean, mean]), np.vstack([scale, 2.0 * scale])
        stat[1] = 1
    penalty = "l1" if case == "lanes_l1" else "l2"
    hyper = [hyperparameters(penalty, a, 0.15, 0.1) for a in np.logspace(-4, -2, K)]
    stack = ModelStack(mean, scale, k if k > 2 else 1, k > 2, hyper, stat=stat)
    bad = K - 1
    stack.W[bad, 0, -1] = np.inf   # the last column: all zeros

    def run():
        return sgd_many(data, codes, check_sample_weight(None, data.m), stack,
                        batch_size=32, epochs=2, shuffle=False, rng=make_rng(0),
                        epoch_loss="running", tol=None, n_iter_no_change=5)
    if K == 1:   # the only model diverged
        with pytest.raises(fastlr.DivergedError):
            run()
        return
    res = run()
    assert res["diverged"].tolist() == [False] * bad + [True]
    assert np.isfinite(res["losses"][:bad]).all()
    assert res["n_iter"].tolist() == [2] * bad + [0]


def test_a_diverged_model_has_no_weights_and_no_record_as_in_the_twin():
    """A model that diverges after some epochs (lr=500 on raw features,
    here in its fifth) is NaN with no epoch and no loss: train raises for
    it alone, and the twin gives that record. The kernels kept its exploded
    weights, finite and of the size of the others' (a model a caller who
    does not check ``diverged`` would use), and n_iter 4 with the losses
    of the epochs before."""
    X, y = make_data(1, m=60, n=3)
    kw = dict(folds=2, epochs=5, lr=500.0, batch_size=20, standardize=False,
              random_state=0)
    alphas = [1e-3, 1.0, 30.0, 1e3]
    res = fastlr.train_many(X, y, alphas, **kw)
    twin = reference.train_many(X, y, alphas, **kw)
    bad = res.diverged
    assert bad.any() and not bad.all()
    for out in (res, twin):
        np.testing.assert_array_equal(out.diverged, bad)
        assert np.isnan(out.W[bad]).all() and np.isnan(out.b[bad]).all()
        assert (out.n_iter[bad] == 0).all() and (out.n_iter[~bad] == 5).all()
        assert np.isnan(out.losses[bad]).all() and np.isnan(out.heldout[bad]).all()
        assert np.isfinite(out.W[~bad]).all() and np.isfinite(out.losses[~bad]).all()
    np.testing.assert_allclose(res.W, twin.W, rtol=1e-9)
    np.testing.assert_allclose(res.losses, twin.losses, rtol=1e-9)


def test_folds_as_labels_and_model_order():
    X, y = make_data(5, m=400)
    labels = np.array(["a", "b"] * 200)
    res = fastlr.train_many(X, y, [0.1, 0.01], folds=labels, epochs=1)
    assert res.folds.tolist() == [1, 1, 2, 2]
    assert res.alphas.tolist() == [0.1, 0.01, 0.1, 0.01]


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(alphas=[]), ValueError, "alphas"),
    (dict(alphas=[-1.0]), ValueError, "alphas"),
    (dict(alphas=[np.nan]), ValueError, "alphas"),
    (dict(alphas=[[0.1]]), ValueError, "alphas"),
    (dict(alphas=["a"]), TypeError, "alphas"),
    # (a number said "got shape ()")
    (dict(alphas=5), ValueError, r"alphas must be .* list .* the single number 5 "),
    (dict(alphas=[0.1], folds=1), ValueError, "folds"),
    (dict(alphas=[0.1], folds=500), ValueError, "folds"),
    (dict(alphas=[0.1], folds=np.zeros(3)), ValueError, "folds"),
    (dict(alphas=[0.1], folds=True), TypeError, "folds must be an integer"),
    (dict(alphas=[0.1], folds=2.0), TypeError, "folds must be an integer"),
    (dict(alphas=[0.1], l1_ratios=[0.5]), ValueError, "l1_ratios"),
    (dict(alphas=[0.1], l1_ratios=[1.5], penalty="elasticnet"), ValueError,
     "l1_ratios"),
    (dict(alphas=[0.1], epoch_loss="full"), ValueError, "epoch_loss"),
    (dict(alphas=[0.1], solver="newton"), ValueError, "solver"),
    (dict(alphas=[0.1], solver="lbfgs", tol=0.0), ValueError, "tol"),
])
@pytest.mark.parametrize("mod", [fastlr, reference], ids=["fastlr", "reference"])
def test_bad_input(mod, kwargs, exc, match):
    X, y = make_data(6, m=100)
    with pytest.raises(exc, match=match):
        mod.train_many(X, y, **kwargs)


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
def test_solver_tol_needs_no_tracked_loss(solver):
    """With the solver, ``tol`` is the runs' relative decrease, which needs
    no running loss: train_many refused ``tol`` with ``epoch_loss=None``
    ("tol needs a tracked loss"), which train and the twin run. It now runs
    the same models as with the running loss, and as the twin."""
    X, y = make_data(3, m=300, n=4)
    kw = dict(solver=solver, tol=1e-8, folds=2, epochs=100, random_state=0)
    res = fastlr.train_many(X, y, [0.1, 0.01], epoch_loss=None, **kw)
    tracked = fastlr.train_many(X, y, [0.1, 0.01], **kw)
    np.testing.assert_array_equal(res.W, tracked.W)
    np.testing.assert_array_equal(res.n_iter, tracked.n_iter)
    twin = reference.train_many(X, y, [0.1, 0.01], epoch_loss=None, **kw)
    np.testing.assert_allclose(res.W, twin.W, rtol=0, atol=1e-6)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["fastlr", "reference"])
def test_sgd_tol_without_a_tracked_loss_advises_what_train_many_offers(mod):
    """SGD's ``tol`` needs a tracked loss: the message advised
    ``epoch_loss='full'``, which train_many refuses."""
    X, y = make_data(6, m=100)
    with pytest.raises(ValueError, match="tol needs a tracked loss") as info:
        mod.train_many(X, y, [0.1], tol=1e-3, epoch_loss=None)
    assert "'full'" not in str(info.value)
    assert "epoch_loss to 'running'" in str(info.value)
    # train takes 'full': its message names it
    with pytest.raises(ValueError, match="'running' \\(the default\\) or 'full'"):
        mod.train(X, y, tol=1e-3, epoch_loss=None)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["fastlr", "reference"])
def test_more_than_127_folds_are_refused(mod):
    """Fold codes are int8: folds=130 dealt rows to codes 128 and up, which
    wrapped to negative codes that no model holds out, so three models
    trained on every row (NaN held-out loss), silently."""
    X, y = make_data(6, m=600)
    assert np.bincount(y).min() >= 130
    with pytest.raises(ValueError, match="folds must be between 2 and 127, got 130"):
        mod.train_many(X, y, [0.1], folds=130, epochs=1)
    res = mod.train_many(X, y, [0.1], folds=127, epochs=1)
    assert np.isfinite(res.heldout).all()


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["fastlr", "reference"])
def test_folds_more_than_a_class_has_rows_say_what_works(mod):
    """folds=F above the smallest class's rows said only that every fold
    must hold each class; with a class of a single row no F can. The
    message now says so (naming the class) and gives fold labels, which
    train, the advice checked here."""
    X, y = make_data(6, m=300, k=3)
    y[:3] = 7   # a class of 3 rows
    with pytest.raises(ValueError, match=r"folds=5 is more than the smallest class "
                                         r"has rows \(3\); .* use folds=3 or fewer, "
                                         r"or give each row's fold label"):
        mod.train_many(X, y, [0.1], folds=5, epochs=1)
    y[3] = 9   # and one of a single row
    with pytest.raises(ValueError, match=r"folds=5 .* but the class 9 has a single "
                                         r"row, so no number of such folds .* "
                                         r"drop those rows or merge"):
        mod.train_many(X, y, [0.1], folds=5, epochs=1)
    folds = np.random.default_rng(0).permutation(len(y)) % 5   # the advice
    res = mod.train_many(X, y, [0.1], folds=folds, epochs=1)
    assert np.isfinite(res.heldout).all()


def test_folds_whose_training_rows_hold_one_class_are_refused():
    """A model trains on the rows outside its fold: when they hold a single
    class, train_many refuses before training, as its NumPy twin (which
    trains each model alone with train(rows=...)) does; it had trained
    meaningless models."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    for train_many in (fastlr.train_many, fastlr.reference.train_many):
        with pytest.raises(ValueError, match="single class"):
            train_many(X, y, alphas=[1e-3], folds=y, epochs=2)
    fastlr.train_many(X, y, alphas=[1e-3], folds=rng.integers(0, 4, 200), epochs=2)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "3-class"])
@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_solver_models_are_the_optima_and_the_twin_agrees(solver, storage, k):
    """With the solver each model is the optimum of its objective on its
    training rows: the model ``train(rows=, solver=)`` gives alone and the
    NumPy twin's, to the solvers' tolerance (all run L-BFGS to a relative
    decrease of 1e-16; the joint runs along warm-started paths, so their
    iterates differ on the way). The held-out loss at
    the optimum is the last pass's, equal in both."""
    X, y = make_data(11, k=k, sparse=storage == "csr")
    kw = dict(batch_size=50, epochs=400, lr=0.05, random_state=2, tol=1e-16,
              solver=solver, standardize="scale" if storage == "csr" else True,
              penalty="l2")
    res = fastlr.train_many(X, y, ALPHAS, folds=3, **kw)
    ref = reference.train_many(X, y, ALPHAS, folds=3, **kw)
    row_fold = check_folds(3, np.unique(y, return_inverse=True)[1], len(y))[0]
    scale = np.abs(ref.W).max()
    np.testing.assert_allclose(res.W, ref.W, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(res.b, ref.b, rtol=0, atol=1e-6 * scale)
    last = res.heldout[np.arange(len(res.n_iter)), res.n_iter - 1]
    ref_last = ref.heldout[np.arange(len(ref.n_iter)), ref.n_iter - 1]
    np.testing.assert_allclose(last, ref_last, rtol=1e-7)
    # NaN before the last pass (the warm-up epoch's of "auto" too), as the twin's
    for out in (res, ref):
        before = np.arange(out.heldout.shape[1]) < (out.n_iter - 1)[:, None]
        assert np.isnan(out.heldout[before]).all()
    for i in range(len(res.n_iter)):
        alone = solo(X, y, i, res, row_fold, **kw)
        w = np.reshape(alone[0], np.shape(res.W[i]))
        np.testing.assert_allclose(res.W[i], w, rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
@pytest.mark.parametrize("epochs", [1, 2, 3, 6])
def test_solver_budget_is_each_models_own_and_the_twin_takes_the_same_steps(
        solver, epochs):
    """``epochs`` bounds each model's own passes: a model after a path's
    first has no SGD epoch, so all of them are iterations (it had one
    fewer). With any budget, the joint run and the twin take the same
    steps: the twin's runs take their first step as the stack's do."""
    X, y = make_data(12)
    kw = dict(batch_size=16, epochs=epochs, lr=0.05, random_state=3,
              solver=solver, folds=2)
    res = fastlr.train_many(X, y, [1e-3, 0.05], **kw)
    twin = reference.train_many(X, y, [1e-3, 0.05], **kw)
    np.testing.assert_array_equal(res.n_iter, twin.n_iter)
    assert (res.n_iter == epochs).all()   # nothing converges this soon
    scale = np.abs(twin.W).max()
    np.testing.assert_allclose(res.W, twin.W, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(res.b, twin.b, rtol=0, atol=1e-10 * scale)


def test_auto_path_whose_sgd_epoch_diverges_starts_its_solver_from_zero():
    """With ``solver="auto"``, a path's first model whose SGD epoch diverges
    (its loss far above log 2, its weights still finite) is dropped back to
    zero before the finisher, as a single model's is: that path then takes
    ``solver="lbfgs"``'s iterations to the same optimum (to rounding: see
    below), while the other fold's path keeps its SGD start. The twin does
    the same. The epoch that diverged is one of the model's passes, as for
    one model alone."""
    rng = np.random.default_rng(0)
    m = 1200
    X = rng.standard_normal((m, 4))
    y = (X[:, 0] + 0.5 * rng.standard_normal(m) > 0).astype(int)
    folds = np.arange(m) % 2
    # the path trained on fold 0's rows overshoots; the other's SGD epoch
    # ends near the optimum (a mean loss of 0.38: below log 2, so kept)
    X[folds == 0] *= 300.0
    kw = dict(folds=folds, standardize=False, lr=5.0, batch_size=256,
              epochs=50, random_state=0, tol=1e-10)
    alphas = [1e-2, 1e-3]
    sgd = fastlr.train_many(X, y, alphas, solver="sgd", **{**kw, "epochs": 1})
    bad = sgd.diverged
    assert bad.any() and not bad.all(), bad
    # its weights finite, and far off (train_many shows them as NaN): the
    # loss, not the weights, said so
    with pytest.raises(fastlr.DivergedError, match="the loss became"):
        fastlr.train(X, y, alpha=alphas[0], penalty="l2", rows=folds == 0,
                     standardize=False, lr=5.0, batch_size=256, epochs=1,
                     random_state=0)
    auto = fastlr.train_many(X, y, alphas, solver="auto", **kw)
    lbfgs = fastlr.train_many(X, y, alphas, solver="lbfgs", **kw)
    path = sgd.folds == sgd.folds[bad][0]
    # the diverged epoch is one of its first model's passes (its loss the
    # zero model's)
    np.testing.assert_array_equal(auto.n_iter[path] - lbfgs.n_iter[path], [1, 0])
    assert auto.losses[path][0, 0] == np.log(2)
    # the same iterations; a pass sums a model's rows in another order when
    # other models run beside it (not the same ones in the two runs): to
    # 1e-12 of the largest weight, as same() compares
    same(auto.W[path], lbfgs.W[path], reordered=True)
    assert (auto.n_iter[~path] != lbfgs.n_iter[~path]).any()
    twin = reference.train_many(X, y, alphas, solver="auto", **kw)
    twin_lbfgs = reference.train_many(X, y, alphas, solver="lbfgs", **kw)
    np.testing.assert_array_equal(twin.n_iter[path] - twin_lbfgs.n_iter[path], [1, 0])
    np.testing.assert_array_equal(auto.n_iter, twin.n_iter)
    np.testing.assert_allclose(auto.W, twin.W, rtol=0, atol=1e-6)


def test_auto_callback_counts_a_warm_up_that_diverged_everywhere():
    """The callback numbers the joint run's passes from 1. When the SGD
    epoch of every path diverged (the finisher then starts from zero), that
    pass had been reported as 1 and the finisher numbered its own from 1
    again: epoch 1 twice, whether the epoch raised (every model diverged)
    or not (the paths' later models had not run)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)) * 1e3
    y = (X[:, 0] + 300 * rng.normal(size=400) > 0).astype(int)
    kw = dict(lr=1e6, standardize=False, epochs=10)
    for alphas, folds in (([0.1], None), ([0.1, 0.01], 2)):
        with pytest.raises(fastlr.DivergedError):
            fastlr.train_many(X, y, alphas[:1], folds=folds, solver="sgd",
                              **{**kw, "epochs": 1})
        calls = []
        res = fastlr.train_many(X, y, alphas, folds=folds, solver="auto", **kw,
                                callback=lambda e, _, calls=calls: calls.append(e))
        assert calls == list(range(1, len(calls) + 1))
        # the SGD pass, then each stage's (the models' budgets are their own;
        # the diverged epoch is one of a path's first model's passes)
        assert len(calls) >= res.n_iter.max()


def offset_problem(k):
    """Features whose means are 100 times their spread: without an
    intercept, an SGD epoch at lr 0.05 ends with a mean loss of about 125,
    far above the zero model's, without diverging."""
    rng = np.random.default_rng(2)
    D = rng.normal(size=(600, 6))
    if k == 2:
        y = (D[:, 0] - D[:, 1] + rng.logistic(size=600) > 0).astype(int)
    else:
        y = (D[:, :k] + rng.gumbel(size=(600, k))).argmax(axis=1)
    return D + 100.0, y


OFFSET_RUN = dict(epochs=10, solver="auto", random_state=0, fit_intercept=False,
                  tol=1e-14, batch_size=50, lr=0.05, folds=3)


@pytest.mark.parametrize("k", [2, 3], ids=["binary", "3-class"])
def test_auto_drops_a_warm_up_that_ends_worse_than_zero_as_alone(k):
    """A path's first model whose SGD epoch ends with a mean loss above the
    zero model's (log 2, log k) starts its finisher from zero, the epoch
    one of its passes (its loss the epoch's), as one model alone does
    (README) and as the twin does: the same passes and losses, the models
    to 1e-10. Before, the stack kept that start: a first loss of about
    125, every fold model out of budget after 10 passes where alone it
    converged in 8, and the models 3-15% apart."""
    X, y = offset_problem(k)
    res = fastlr.train_many(X, y, [1e-1], **OFFSET_RUN)
    twin = reference.train_many(X, y, [1e-1], **OFFSET_RUN)
    assert np.nanmin(res.losses[:, 0]) > np.log(k)   # the epoch's, dropped
    assert np.nanmax(res.losses[:, 1]) < np.log(k)   # from zero
    np.testing.assert_array_equal(res.n_iter, twin.n_iter)
    np.testing.assert_array_equal(res.converged, twin.converged)
    np.testing.assert_allclose(res.losses, twin.losses, rtol=1e-9)
    scale = np.abs(twin.W).max()
    np.testing.assert_allclose(res.W, twin.W, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("bad", [False, True], ids=["kept", "dropped"])
def test_the_warm_up_check_reads_the_data_no_more_than_the_finisher(bad, monkeypatch):
    """The check evaluates each path's start once, and the finisher's first
    iteration takes that evaluation for the starts it keeps: without the
    check's reuse the run makes one pass more. A dropped start is evaluated
    again at zero (one pass more, as for one model alone)."""
    from fastlr import _train

    if bad:
        X, y = offset_problem(2)
        kw = OFFSET_RUN
    else:
        X, y = make_data(5)
        kw = dict(OFFSET_RUN, fit_intercept=True, lr=0.01)
    calls = []
    real = _dispatch.Data.loss_grad_many

    def counted(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(_dispatch.Data, "loss_grad_many", counted)
    fastlr.train_many(X, y, [1e-1, 1e-2], **kw)
    reused = len(calls)
    real_first = _train._first_evaluation

    def without_reuse(evaluate, *a):
        return evaluate, real_first(evaluate, *a)[1]

    monkeypatch.setattr(_train, "_first_evaluation", without_reuse)
    calls.clear()
    fastlr.train_many(X, y, [1e-1, 1e-2], **kw)
    assert len(calls) == reused + (0 if bad else 1)


@pytest.mark.parametrize("solver", ["lbfgs", "auto"])
@pytest.mark.parametrize("order", [[0, 1, 2], [2, 0, 1]], ids=["given", "shuffled"])
@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_solver_models_start_at_the_optimum_before_them_on_their_path(storage, order,
                                                                      solver):
    """With the solver, each fold's models run strongest alpha first, each
    from the optimum of the one before it (a warm-started path): a model
    whose alpha equals the one before it to 1e-12 starts at that optimum and
    stops at once, where the models before it need several iterations
    (from their own starts each took as many as its twin). The path is the
    alphas' order, not the order they are given in. With ``"auto"`` only a
    path's first model has an SGD epoch; every model is scored only at the
    end (held-out loss NaN before its last pass, as the twin's)."""
    X, y = make_data(11, sparse=storage == "csr")
    a = 1e-3
    alphas = np.array([a, a * (1 + 1e-12), 0.3])[order]
    kw = dict(folds=3, solver=solver, tol=1e-10, epochs=200, penalty="l2",
              random_state=0, standardize="scale" if storage == "csr" else True)
    res = fastlr.train_many(X, y, alphas, **kw)
    at = {i: order.index(i) for i in range(3)}
    # the NumPy twin follows the same paths, one model at a time
    for out in (res, reference.train_many(X, y, alphas, **kw)):
        n_iter = out.n_iter.reshape(3, 3)   # (fold, alpha), alphas as given
        assert (n_iter[:, at[0]] <= 2).all(), n_iter
        assert (n_iter[:, at[1]] >= 4).all() and (n_iter[:, at[2]] >= 4).all(), n_iter
    first = res.heldout[:, 0].reshape(3, 3)
    assert np.isnan(first[:, at[1]]).all() and np.isnan(first[:, at[2]]).all()


@pytest.mark.parametrize("folds", [2, None], ids=["cv2", "path"])
def test_a_model_that_starts_at_its_optimum_has_one_pass_in_both_twins(folds):
    """An L1 penalty strong enough that zero is the optimum: the path's
    first model starts there (from zero) and the next at the optimum
    before it, and neither takes an iteration. Its one pass is the
    evaluation of its start, which holds its held-out loss there (log 2:
    the classes are balanced in every fold), the score a fold needs. The
    twin reported no pass (n_iter 0, no held-out loss) where the kernels
    reported that one."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.repeat([0, 1], 20)
    K = 2 * (folds or 1)
    for mod in (fastlr, reference):
        res = mod.train_many(X, y, [10.0, 20.0], penalty="l1", solver="lbfgs",
                             tol=1e-10, folds=folds)
        assert not res.W.any() and not res.b.any()
        assert res.n_iter.tolist() == [1] * K, mod
        assert res.losses.shape == res.heldout.shape == (K, 1)
        assert np.isnan(res.losses).all()
        if folds:
            np.testing.assert_allclose(res.heldout[:, 0], np.log(2.0), rtol=1e-15)
        else:
            assert np.isnan(res.heldout).all()


@pytest.mark.parametrize("solver", ["sgd", "lbfgs", "auto"])
def test_no_epochs_no_passes(solver):
    """epochs=0 runs no pass: the solver's stack reported one (n_iter 1 and
    a held-out loss at the zero model), where train and the twin report
    none."""
    X, y = make_data(2, m=90, n=3)
    for mod in (fastlr, reference):
        res = mod.train_many(X, y, [0.01, 1.0], folds=3, epochs=0, solver=solver)
        assert res.n_iter.tolist() == [0] * 6
        assert res.losses.shape == res.heldout.shape == (6, 0)
        assert not res.W.any()


@pytest.mark.parametrize("folds, weighted", [(None, False), (5, False), (5, True)])
def test_memory_added_per_row_is_small(folds, weighted, traced_peak):
    """What train_many adds per row of X, whatever the number of models:
    the fold codes (int8), the shuffle's order and the weights' sums. It
    held an array of m ones (8 bytes a row), a masked copy of it per model
    (6.4 more) and int64 codes equal to a 0/1 y (8 more): 17 to 24 bytes a
    row, which broke the bound of 5% of X on narrow X (0.22-0.31 of a
    10-column float64 X). Measured on 200,000 x 4 float64 (X 6.4 MB)."""
    rng = np.random.default_rng(5)
    m, n = 200_000, 4
    X = rng.standard_normal((m, n))
    y = (X[:, 0] + rng.standard_normal(m) > 0).astype(np.int64)
    sw = rng.uniform(0.5, 2.0, m) if weighted else None
    kw = dict(alphas=np.logspace(-5, -2, 8), folds=folds, epochs=1,
              sample_weight=sw)
    fastlr.train_many(X[:2000], y[:2000], **{**kw, "sample_weight": None
                                           if sw is None else sw[:2000]})
    _, peak = traced_peak(lambda: fastlr.train_many(X, y, **kw))
    # int8 fold codes 1, shuffle order about 1.3, a transient fold mask 1;
    # weighted, the weights' own copy (8: never the caller's array) and a
    # fold's masked copy of them at a time (7 of 8 bytes at 5 folds)
    per_row = 4 + (16 if weighted else 0)
    assert peak < m * per_row + 200_000, (peak / m, peak)


@pytest.mark.parametrize("mod", [fastlr, reference], ids=["fastlr", "reference"])
def test_a_continuous_target_is_refused_as_the_estimator_refuses_it(mod):
    """A regression target passed as labels by mistake: each distinct float
    became a class (60 of them), or with folds the error blamed the fold
    count; {0, 0.5} trained a binary model. Refused naming y, with the
    estimator's words, before any fold is dealt; whole-number floats are
    labels."""
    X, y = make_data(61, m=60)
    target = X[:, 0] + 0.1
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        fastlr.LogisticRegression(max_iter=1).fit(X, target)
    calls = (lambda t: mod.train_multinomial(X, t, epochs=1),
             lambda t: mod.train_many(X, t, [0.1], epochs=1),
             lambda t: mod.train_many(X, t, [0.1], folds=3, epochs=1))
    for call in calls:
        for t in (target, np.where(y == 1, 0.5, 0.0)):
            with pytest.raises(ValueError,
                               match=r"^y: Unknown label type: continuous \(a label "
                                     rf"is {t[t != np.round(t)][0].item()!r}\)"):
                call(t)
        call(y.astype(np.float64) * 2.0)   # labels 0.0 and 2.0: classes



@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("k", [2, 3], ids=["binary", "3-class"])
@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_solver_runs_pass_over_the_data_as_often_as_their_models_alone(
        storage, k, monkeypatch):
    """Each joint run's first trial step along a new direction is the
    quadratic model's minimizer from its fold's curvature sample, as one
    model alone takes it: the lockstep runs of one stage read the data as
    often as the slowest of their models alone (without the sample, each
    run's first iteration tried a unit step, then the minimizer: a pass
    more, 41 passes instead of 33 for LogisticRegressionCV(alphas=8, cv=5)
    on 40,000 x 60)."""
    X, y = make_data(13, k=k, sparse=storage == "csr")
    # (4 passes stop every run short of tol: ConvergenceWarnings ignored)
    kw = dict(solver="lbfgs", epochs=4, tol=1e-12, penalty="l2",
              standardize="scale" if storage == "csr" else True)
    calls = {"many": 0, "one": 0}

    def counting(name, method):
        def call(*args, **kwargs):
            calls[name] += 1
            return method(*args, **kwargs)
        return call

    monkeypatch.setattr(_dispatch.Data, "loss_grad_many",
                        counting("many", _dispatch.Data.loss_grad_many))
    res = fastlr.train_many(X, y, [1e-2], folds=2, **kw)
    monkeypatch.setattr(_dispatch.Data, "loss_grad",
                        counting("one", _dispatch.Data.loss_grad))
    row_fold = check_folds(2, np.unique(y, return_inverse=True)[1], len(y))[0]
    alone = []
    for i in range(2):
        calls["one"] = 0
        out = solo(X, y, i, res, row_fold, **kw)
        np.testing.assert_allclose(res.W[i], np.reshape(out[0], np.shape(res.W[i])),
                                   rtol=0, atol=1e-10)
        alone.append(calls["one"])
    # one pass more: the held-out losses at the optima
    assert calls["many"] == max(alone) + 1, (calls["many"], alone)
