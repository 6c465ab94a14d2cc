"""The performance machinery of the epoch kernel: polynomial exp/log1p,
block shuffling, the threaded deterministic variant."""

import multiprocessing
import os

import numba
import numpy as np
import pytest

import fastlr
from fastlr import _dispatch, reference
from fastlr._dispatch import as_data
from fastlr._kernels import scalar
from fastlr._kernels.intrinsics import (
    vabs,
    vadd,
    vfma,
    vload,
    vload8,
    vmax,
    vmul,
    vsplat,
    vsplat8,
    vstore,
    vstore8,
)
from fastlr._kernels.update import LR_CONSTANT, hyperparameters, options
from fastlr._order import EpochOrder, block_rows, rows_of
from fastlr._state import ModelStack, ModelState


def test_exp_neg_abs_matches_numpy():
    """Relative error ~3e-16 across the whole range (clamped below -700)."""
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(size=5000) * 50, rng.uniform(-700, 700, 5000),
                        [0.0, -0.0, 1e-300, -1e-300, 700.0, -700.0, 750.0, 1e308,
                         np.inf, -np.inf]])
    e = np.empty_like(z)
    scalar.exp_neg_abs(z, z.shape[0], e)
    want = np.exp(np.maximum(-np.abs(z), -700.0))
    np.testing.assert_allclose(e, want, rtol=2e-15, atol=0)


@numba.njit(fastmath={"nsz", "arcp", "contract"}, error_model="numpy")
def _exp_nonpositive_of(x, out):
    for i in range(x.shape[0]):
        out[i] = scalar.exp_nonpositive(x[i])


def test_exp_nonpositive_matches_numpy_into_the_subnormals():
    """Relative error ~3e-16 where exp(x) is normal; below (x < -708.4) it
    rounds once into the subnormals, within two of their steps (5e-324);
    0 from -745.2 on, NaN for NaN; the bits of the clamped epoch's
    :func:`exp_neg_abs` where both apply."""
    rng = np.random.default_rng(1)
    x = -np.concatenate([rng.exponential(50.0, 5000), rng.uniform(700.0, 750.0, 5000),
                         [0.0, -0.0, 1e-300, 708.0, 708.5, 745.0, 745.2, 746.0, 800.0,
                          1e308, np.inf]])
    got = np.empty_like(x)
    _exp_nonpositive_of(x, got)
    want = np.exp(x)
    normal = want >= np.finfo(np.float64).tiny
    np.testing.assert_allclose(got[normal], want[normal], rtol=2e-15, atol=0)
    np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=1e-323)
    assert got[-1] == 0.0 and got[-3] == 0.0
    nan = np.empty(1)
    _exp_nonpositive_of(np.array([np.nan]), nan)
    assert np.isnan(nan[0])
    inside = x >= -700.0
    e = np.empty_like(x)
    scalar.exp_neg_abs(x, x.shape[0], e)
    np.testing.assert_array_equal(got[inside], e[inside])


def test_log1p_unit_matches_numpy():
    e = np.concatenate([np.linspace(-0.5, 1.0, 15001),
                        np.exp(-np.linspace(0, 700, 1000)),
                        -np.exp(-np.linspace(0.7, 700, 1000))])
    got = np.array([scalar.log1p_unit(v) for v in e])
    np.testing.assert_allclose(got, np.log1p(e), rtol=1e-15, atol=0)


@numba.njit(fastmath={"nsz", "arcp", "contract"}, error_model="numpy")
def _log_normal_of(x, out):
    for i in range(x.shape[0]):
        out[i] = scalar.log_normal(x[i])


def test_log_normal_matches_numpy_within_3_ulps():
    """Every normal float64 decade, the mantissa's whole range, both sides
    of sqrt(2) and of 1 (where the result is tiny: relative accuracy), the
    ends of the normal range."""
    rng = np.random.default_rng(3)
    x = np.concatenate([10.0 ** rng.uniform(-307.0, 308.0, 200_000),
                        rng.uniform(0.5, 2.0, 200_000),
                        1.0 + rng.normal(size=20_000) * 1e-9,
                        [np.finfo(np.float64).tiny, np.finfo(np.float64).max, 1.0,
                         0.5, 2.0, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 2.0),
                         np.nextafter(1.0, 0.0), np.nextafter(1.0, 2.0)]])
    got = np.empty_like(x)
    _log_normal_of(x, got)
    want = np.log(x)
    assert got[x == 1.0][0] == 0.0
    ulps = np.abs(got - want) / np.spacing(np.abs(np.where(want == 0.0, 1.0, want)))
    assert ulps.max() <= 3.0


@pytest.mark.parametrize("m", [1, 7, 255, 256, 257, 4099])
def test_log_loss_kernel_matches_numpy_at_the_clipping_ends(m):
    """The vectorized blocks of ``log_loss_sum`` (LOSS_BLOCK rows, the
    rest) against NumPy's ``log``/``log1p`` sum, with probabilities 0, 1,
    tiny and within 1e-17 of 1 among random ones, and a run whose every
    loss is 1e-12 (``log1p(-p)`` accurate relative to itself)."""
    rng = np.random.default_rng(m)
    y = rng.integers(0, 2, m)
    p = rng.random(m)
    p[:4] = [0.0, 1.0, 1e-300, 1.0 - 1e-17][:min(m, 4)]
    for yy, pp in ((y, p), (np.zeros(m, dtype=np.int64), np.full(m, 1e-12))):
        got = fastlr.log_loss(yy, pp)
        pc = np.clip(pp, 1e-15, 1.0 - 1e-15)
        want = -np.mean(yy * np.log(pc) + (1 - yy) * np.log1p(-pc))
        assert abs(got - want) <= 1e-14 * want


@numba.njit(fastmath={"contract"}, error_model="numpy")
def _lanes_by_vectors(a, b, c, out4, out8):
    """``a * b + c`` (then ``+ a``, ``* c``), eight elements at a time, as
    two vec4 into ``out4`` and one vec8 into ``out8`` (``a`` float32 or
    float64, widened)."""
    for i in range(0, a.shape[0], 8):
        for h in (0, 4):
            v = vfma(vload(a, i + h), vload(b, i + h), vload(c, i + h))
            v = vmul(vadd(v, vload(a, i + h)), vadd(vload(c, i + h), vsplat(0.0)))
            vstore(out4, i + h, v)
        w = vfma(vload8(a, i), vload8(b, i), vload8(c, i))
        w = vmul(vadd(w, vload8(a, i)), vadd(vload8(c, i), vsplat8(0.0)))
        vstore8(out8, i, w)


@numba.njit(fastmath={"contract"}, error_model="numpy")
def _lanes_by_scalars(a, b, c, out):
    for i in range(a.shape[0]):
        out[i] = (np.float64(a[i]) * b[i] + c[i] + np.float64(a[i])) * c[i]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_four_and_eight_lanes_round_as_scalar_code(dtype):
    """The lane vectors of the many-model and statistics kernels
    (:mod:`fastlr._kernels.intrinsics`): the same bits as the scalar code
    they replace (``a * b + c`` fused where the target has FMA, as
    ``contract`` fuses it), for both widths and float32 input widened."""
    rng = np.random.default_rng(3)
    a = (rng.normal(size=64) * 10.0 ** rng.integers(-5, 5, 64)).astype(dtype)
    b, c = rng.normal(size=64), rng.normal(size=64)
    out4, out8, want = np.empty(64), np.empty(64), np.empty(64)
    _lanes_by_vectors(a, b, c, out4, out8)
    _lanes_by_scalars(a, b, c, want)
    np.testing.assert_array_equal(out4, want)
    np.testing.assert_array_equal(out8, want)


@numba.njit(error_model="numpy")
def _running_max(acc, x):
    """``acc[j] = vmax(acc[j], |x[j]|)`` in four-lane vectors, as the
    statistics passes update their largest ``|x|``."""
    for i in range(0, x.shape[0], 4):
        vstore(acc, i, vmax(vload(acc, i), vabs(vload(x, i))))


def test_vmax_is_fmax():
    """``vmax`` (``llvm.maxnum``) is ``np.fmax`` (as its Python twin): a NaN
    in either operand leaves the other, so a NaN in X never becomes the
    largest ``|x|`` (the sums catch it instead)."""
    nan, inf = np.nan, np.inf
    acc = np.array([0.0, 1.0, nan, 2.0, 5.0, nan, -0.0, 3.0])
    x = np.array([-2.0, nan, 4.0, -inf, 1e-300, nan, 0.0, -3.0])
    want = np.fmax(acc, np.abs(x))
    got = acc.copy()
    _running_max(got, x)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("m, block", [(1000, 20), (1001, 20), (7, 3), (5, 5), (5, 1)])
def test_block_order_visits_every_row_once(m, block):
    order = EpochOrder(m, True, np.random.default_rng(0), block)
    blocks, blk = order.next()
    rows = rows_of(blocks, blk, m)
    assert sorted(rows.tolist()) == list(range(m))
    if m % block:
        assert rows[-1] == m - 1  # the partial tail block comes last


def test_block_rows_mixes_each_batch():
    # about 16 KiB of rows, at least 8 blocks per batch, at least 1 row
    assert block_rows(800, 256) == 20
    assert block_rows(800, 32) == 4
    assert block_rows(16, 100) == 12
    assert block_rows(800, 1) == 1


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 12))
    y = (X @ rng.normal(size=12) + rng.logistic(size=6000) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("shuffle", [False, True, "rows"],
                         ids=["natural", "blocks", "rows"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_threaded_epoch_is_bit_identical_to_one_thread(wide, shuffle, dtype,
                                                      monkeypatch):
    X, y = wide
    X = X.astype(dtype)
    # let the threaded kernel run on this small X
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    bs = _dispatch.PARALLEL_MIN_BATCH * 3 + 7  # several chunks, a ragged last one
    kw = dict(batch_size=bs, epochs=4, lr=0.5, shuffle=shuffle, random_state=3)
    one = fastlr.train(X, y, n_threads=1, **kw)
    many = fastlr.train(X, y, n_threads=numba.config.NUMBA_NUM_THREADS, **kw)
    np.testing.assert_array_equal(one.w, many.w)
    assert one.b == many.b
    np.testing.assert_array_equal(one.losses, many.losses)
    ref = reference.train(X, y, **kw)
    rtol = 1e-6 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(many.w, ref.w, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
@pytest.mark.parametrize("batch_size", [1000, 130, 64])
@pytest.mark.parametrize("k", [1, 3], ids=["binary", "softmax"])
def test_team_epoch_matches_one_thread(wide, threads, batch_size, k, monkeypatch):
    """The team epoch, whatever the thread count (more threads than cores
    included: waiting threads must yield, not deadlock), gives the one-thread
    epoch's result bit for bit: weights, steps and both sums."""
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 5)
    X, y = wide
    y = y if k == 1 else (y + (X[:, 1] > 0)).astype(np.int64)
    data = as_data(X)
    blocks = np.random.default_rng(1).permutation(X.shape[0] // 10).astype(np.int64)
    outs = []
    for n_threads in (1, threads):
        state = ModelState(X.mean(0), X.std(0), k, softmax=k > 1)
        stack = ModelStack.of(state, hyperparameters("l2", 1e-3, 0.15, 0.3))
        run = data.epoch_runner(y.astype(np.int64), np.empty(0), stack, batch_size,
                                n_threads)
        opt = options(int(k > 1), LR_CONSTANT, 0.5, 0)
        for _ in range(2):
            sums = run(blocks, 10, opt).copy()
        outs.append((state.W, state.B, sums, state.steps))
    assert np.all(outs[0][0] != 0.0)
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)


#: Options of the per-row (batch size 1) SGD of one binary model that the
#: lean dense epoch runs, as ``train`` keywords; ``rows``: train on a subset.
LEAN_CASES = {
    "l2": dict(penalty="l2", alpha=1e-3),
    "raw": dict(standardize=False, lr=0.02),
    "invscaling_averaged": dict(learning_rate="invscaling", lr=0.2, average=500,
                                penalty="l2", alpha=1e-4),
    "adaptive_weighted": dict(learning_rate="adaptive", weighted=True, tol=1e-2),
    "rows_float32": dict(shuffle="rows", dtype=np.float32, average=True),
    "natural_no_intercept": dict(shuffle=False, fit_intercept=False,
                                 penalty="l2", alpha=0.1),
    # eta * alpha >= 1: the shrink floored at zero every step
    "shrink_floor": dict(penalty="l2", alpha=30.0, lr=0.05),
    "offset_columns": dict(offset=1e4),
    "subset": dict(rows=True, penalty="l2", alpha=1e-3),
}


@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize("case", list(LEAN_CASES))
def test_small_batch_epoch_takes_the_general_epochs_steps(wide, case, batch_size,
                                                          monkeypatch):
    """On small batches one binary model with an L2 or no penalty and a
    scalar learning rate runs the lean dense epoch (the weights as ``s *
    v``, no division per weight); it takes the general epoch's steps (forced
    here by refusing the lean one) to rounding: weights, intercept and
    losses within 1e-11 relative (both round each step's products
    differently, and up to 18,000 steps add those roundings up)."""
    assert batch_size <= _dispatch.DENSE_LEAN_MAX_BATCH
    kw = dict(LEAN_CASES[case])
    X, y = wide
    X = X.astype(kw.pop("dtype", np.float64)) + kw.pop("offset", 0.0)
    if kw.pop("weighted", False):
        kw["sample_weight"] = np.random.default_rng(4).uniform(0.2, 2.0, X.shape[0])
    if kw.pop("rows", False):
        kw["rows"] = np.arange(0, X.shape[0], 3)
    kw = dict(dict(batch_size=batch_size, epochs=3, lr=0.05, random_state=2, n_threads=2),
              **kw)
    calls = []
    lean_epoch = _dispatch.dense.lean_epoch
    monkeypatch.setattr(_dispatch.dense, "lean_epoch",
                        lambda *a: calls.append(1) or lean_epoch(*a))
    lean = fastlr.train(X, y, **kw)
    assert calls, "the lean epoch did not run"
    monkeypatch.setattr(_dispatch, "is_lean", lambda opt, hyper, averaging=False: False)
    general = fastlr.train(X, y, **kw)
    assert len(calls) == len(lean.losses)
    assert np.all(lean.w != 0.0)
    np.testing.assert_allclose(lean.w, general.w, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(lean.b, general.b, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(lean.losses, general.losses, rtol=1e-11)


def test_threaded_epoch_after_fork_makes_a_new_pool(wide, monkeypatch):
    """A forked child inherits the pool object but not its threads: the
    team must start new ones rather than wait forever for dead ones."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    X, y = wide
    kw = dict(batch_size=300, epochs=1, lr=0.1, random_state=0)
    monkeypatch.setattr(_dispatch, "PARALLEL_MIN_TRAIN_ELEMENTS", 0)  # inherited
    w_parent = fastlr.train(X, y, n_threads=2, **kw).w  # the parent has a pool
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        res = pool.apply_async(_train_threaded_in_child, (X, y, kw))
        w_child = res.get(timeout=60)
    np.testing.assert_array_equal(w_child, w_parent)


def _train_threaded_in_child(X, y, kw):
    return fastlr.train(X, y, n_threads=2, **kw).w


def test_block_shuffle_converges_on_label_sorted_rows():
    """Rows sorted by label are the worst case for a shuffle that keeps runs of
    consecutive rows together. Block shuffling must converge no worse than an
    exact row permutation (held-out log-loss within 2%), and far better than
    not shuffling."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 10))
    y = (X @ rng.normal(size=10) + rng.logistic(size=20000) > 0).astype(int)
    Xte, yte = X[15000:], y[15000:]
    order = np.argsort(y[:15000], kind="stable")
    Xs, ys = X[order], y[order]
    losses = {}
    for shuffle in (True, "rows", False):
        res = fastlr.train(Xs, ys, batch_size=64, epochs=5, lr=0.05, shuffle=shuffle,
                           random_state=0)
        losses[shuffle] = fastlr.log_loss(yte, fastlr.predict_proba(Xte, res.w, res.b))
    assert losses[True] <= 1.02 * losses["rows"]
    assert losses[True] < losses[False]


#: numba's debugging mode: the runs below, printed as JSON.
_NO_JIT_RUNS = """
import json, sys, warnings
import numpy as np, scipy.sparse as sp, fastlr
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.standard_normal((300, 5))
y = (X[:, 0] + rng.standard_normal(300) > 0).astype(int)
y3 = rng.integers(0, 3, 300)
runs = {
    "binary": fastlr.train(X, y, epochs=2, batch_size=32, random_state=0).w,
    "threads": fastlr.train(X, y, epochs=2, batch_size=32, n_threads=2,
                            random_state=0).w,
    "softmax": fastlr.train_multinomial(X, y3, epochs=2, random_state=0).W,
    "csr": fastlr.train(sp.csr_matrix(X), y, epochs=2, random_state=0).w,
    "many": fastlr.train_many(X, y, alphas=np.logspace(-4, -1, 9), epochs=2,
                              random_state=0).W,
    "csr_many": fastlr.train_many(sp.csr_matrix(X), y, alphas=[1e-3, 1e-2],
                                  epochs=2, standardize=False, random_state=0).W,
    "lbfgs": fastlr.train(X, y, solver="lbfgs", alpha=1e-2).w,
    "proba": fastlr.predict_proba(X, np.ones(5), 0.5),
}
if sys.argv[1] == "print":
    print(json.dumps({k: np.asarray(v).tolist() for k, v in runs.items()}))
"""


def test_kernels_run_in_numbas_debugging_mode():
    """Under NUMBA_DISABLE_JIT=1 every kernel runs as Python, and the
    intrinsics (lanes, atomics, prefetch) have Python twins: training,
    the threaded team, softmax, CSR, the many-model lanes, L-BFGS and
    prediction ran (they raised NotImplementedError: "<intrinsic splat> is
    not usable in pure-python") and give the compiled kernels' results to
    rounding (the twins' sums are not fused)."""
    import json
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", _NO_JIT_RUNS, "print"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    python = json.loads(out.stdout.strip().splitlines()[-1])
    scope = {}
    exec(_NO_JIT_RUNS.replace("sys.argv[1]", "'no'"), scope)
    for name, compiled in scope["runs"].items():
        np.testing.assert_allclose(python[name], np.asarray(compiled), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("features, one", [("+avx2,+fma,+avx512f", True),
                                           ("+avx2,+fma,-avx512f", False),
                                           ("+avx2,+fma", False)])
def test_many_model_blocks_follow_numbas_target_features(features, one):
    """The outer-form blocks hold 16 models where a vec8 is one register
    (AVX-512) and 8 elsewhere, decided by the features numba compiles for
    (``NUMBA_CPU_FEATURES`` when set, which also key numba's cache); in
    this process, by the host's."""
    import subprocess
    import sys

    from numba.core.codegen import get_host_cpu_features

    from fastlr._kernels import dense, intrinsics

    host = "+avx512f" in get_host_cpu_features().split(",")
    if numba.config.CPU_FEATURES is None:
        assert intrinsics.VEC8_IN_ONE_REGISTER == host
    assert dense.BLOCK_MODELS == (16 if intrinsics.VEC8_IN_ONE_REGISTER else 8)
    code = ("from fastlr._kernels import dense, intrinsics; "
            "print(intrinsics.VEC8_IN_ONE_REGISTER, dense.BLOCK_MODELS)")
    env = dict(os.environ, NUMBA_CPU_FEATURES=features)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [str(one), "16" if one else "8"]
