"""The asv suites in benchmarks/ measure what their names and docstrings say.

No speed is asserted (asv records it); these check the workloads: that a
benchmark named for the threaded epoch runs it, that a tracked quality
figure is reproducible. ``asv check`` (README's test command) checks that
every suite imports and is well formed.
"""

import importlib
import os

import numpy as np
import pytest


@pytest.fixture
def suite():
    """``suite("bench_train")``: a module of benchmarks/, imported without
    leaving the thread settings of ``benchmarks.common`` in this process's
    environment (child processes of later tests would inherit them)."""
    saved = dict(os.environ)

    def load(name):
        try:
            return importlib.import_module(f"benchmarks.{name}")
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return load


def test_cold_start_threaded_train_runs_the_threaded_epoch(suite, monkeypatch):
    """ColdStart.timeraw_first_threaded_train fitted 8192 x 10 (81,920
    values, far below the threaded epoch's 2,000,000): the epoch ran on one
    thread, a second copy of timeraw_import_and_first_train."""
    from fastlr._kernels import team

    if team.threads() < 2:
        pytest.skip("one numba thread: every epoch runs on one")
    bench_train = suite("bench_train")
    common = suite("common")
    calls = []
    real = team.run

    def run(n, kernel, *args, **kwargs):
        calls.append(n)
        return real(n, kernel, *args, **kwargs)

    monkeypatch.setattr(team, "run", run)
    cold = bench_train.ColdStart()
    code, setup = cold.timeraw_first_threaded_train("on")
    assert "FASTLR_NUMBA_CACHE" in setup
    exec(code, {})
    assert calls and max(calls) >= 2
    # the one-thread benchmark stays on one thread
    calls.clear()
    exec(cold.timeraw_import_and_first_train("on")[0], {})
    assert max(calls, default=1) == 1
    assert common.first_train_code(*cold.THREADED) == code


def test_option_epoch_final_loss_is_reproducible(suite, monkeypatch):
    """OptionEpoch trained unseeded (shuffling on), so track_final_loss moved
    from run to run by up to 7e-4 relative: noise hiding a small
    regression."""
    bench_options = suite("bench_options")
    small = bench_options.make_workload(3000, 8)
    monkeypatch.setattr(bench_options, "make_workload", lambda m, n: small)
    for option in ("default", "adaptive", "average"):
        losses = []
        for _ in range(2):
            bench = bench_options.OptionEpoch()
            bench.setup(option)
            losses.append(bench.track_final_loss(option))
        assert np.isfinite(losses[0]) and losses[0] == losses[1], option


def test_option_epoch_final_loss_is_the_returned_models(suite, monkeypatch):
    """OptionEpoch.track_final_loss was the running loss of the SGD iterates,
    which averaging never changes: "average" tracked "default"'s figure bit
    for bit, whatever the averaging code did. It is the loss of the model
    train returns (the averaged one)."""
    import fastlr

    bench_options = suite("bench_options")
    X, y = bench_options.make_workload(3000, 8)
    monkeypatch.setattr(bench_options, "make_workload", lambda m, n: (X, y))
    tracked = {}
    for option in ("default", "average", "average_l2", "l2"):
        bench = bench_options.OptionEpoch()
        bench.setup(option)
        tracked[option] = bench.track_final_loss(option)
        res = fastlr.train(X, y, **dict(bench.kw, epochs=3))
        returned = fastlr.log_loss(y, fastlr.predict_proba(X, res.w, res.b))
        np.testing.assert_allclose(tracked[option], returned, rtol=1e-12)
    assert tracked["average"] != tracked["default"]
    assert tracked["average_l2"] != tracked["l2"]


def test_sparse_quality_sees_a_model_without_weights(suite, monkeypatch):
    """SparseQuality tracked the raw held-out log-loss on a workload with
    almost nothing to learn (each column seen ~10 times): a kernel that
    learned no weights moved the figure by 0.45%, far inside asv's 10%.
    Weights of zero must now move it several times over."""
    import fastlr

    bench_sparse = suite("bench_sparse")
    bench = bench_sparse.SparseQuality()
    data = bench.setup_cache()
    tracked = bench.track_heldout_excess_log_loss(data)
    real = fastlr.train

    def no_weights(*args, **kwargs):   # a broken kernel: the intercept only
        res = real(*args, **kwargs)
        return res._replace(w=np.zeros_like(res.w))

    monkeypatch.setattr(fastlr, "train", no_weights)
    broken = bench.track_heldout_excess_log_loss(data)
    assert 0 < tracked and broken > 2 * tracked


def test_peakmem_warm_up_leaves_the_peak_to_the_measured_call(suite, monkeypatch):
    """PeakMem's setup warmed fastlr up on all of X, with and without
    standardization: setup set the process's peak, for both values of
    ``standardize``, and the measured call never raised it. The warm-up
    trains on a slice, still on the threaded epoch the measured call runs."""
    from fastlr._kernels import team

    bench_train = suite("bench_train")
    common = suite("common")
    shapes, threads = [], []
    for impl in ("fastlr", "reference"):
        real = common.IMPLS[impl]

        def train(X, y, _real=real, **kwargs):
            shapes.append(X.shape)
            return _real(X, y, **kwargs)

        monkeypatch.setitem(common.IMPLS, impl, train)
    real_run = team.run

    def run(n, kernel, *args, **kwargs):
        threads.append(n)
        return real_run(n, kernel, *args, **kwargs)

    monkeypatch.setattr(team, "run", run)
    for impl in ("fastlr", "reference"):
        bench = bench_train.PeakMem()
        bench.setup(True, impl)
        assert shapes and all(4 * m <= bench.X.shape[0] for m, _ in shapes), impl
        shapes.clear()
    if team.threads() >= 2:
        assert max(threads) >= 2   # the threaded epoch is compiled / loaded


@pytest.mark.parametrize("module, name", [("bench_targets", "Targets"),
                                          ("bench_targets", "WholeCall"),
                                          ("bench_many", "ManyTargets")])
def test_ratios_of_a_class_come_from_one_measurement(suite, monkeypatch, module,
                                                     name):
    """Targets, WholeCall and ManyTargets measured in setup, which asv runs
    once per track_ method (in a process of its own): the whole
    interleaved measurement was repeated for each ratio, and P1 and P3
    came from different runs. It is measured once, in setup_cache, whose
    result every track_ method reads."""
    mod = suite(module)
    calls = []

    def interleaved(funcs, repeats):
        calls.append(sorted(funcs))
        return {key: float(len(calls) + i) for i, key in enumerate(funcs)}

    monkeypatch.setattr(mod, "interleaved", interleaved)
    from fastlr.bench import make_sparse_workload, make_workload

    monkeypatch.setattr(mod, "make_workload",
                        lambda m, n, dtype: make_workload(3000, 5, dtype))
    if module == "bench_many":
        monkeypatch.setattr(mod, "make_sparse_workload",
                            lambda m, n, k: make_sparse_workload(3000, 50, 5))
    cls = getattr(mod, name)
    assert not hasattr(cls, "setup")
    cache = cls().setup_cache()
    measured = len(calls)
    tracks = [getattr(cls(), t) for t in dir(cls) if t.startswith("track_")]
    assert len(tracks) >= 2
    values = [track(cache) for track in tracks]
    assert len(calls) == measured and all(np.isfinite(values))


def test_results_matrix_write_checks_its_path_first(suite, monkeypatch, tmp_path,
                                                    capsys):
    """results_matrix.py write computed all 668 cases (a minute) before it
    found that its output folder does not exist, and failed with a
    traceback; and the file it wrote had mode 0600 (a NamedTemporaryFile
    renamed), unreadable to anyone else."""
    results_matrix = suite("results_matrix")
    done = []

    def cases():
        done.append(True)
        yield "a/case", lambda: np.arange(3.0)

    monkeypatch.setattr(results_matrix, "cases", cases)
    for bad in (tmp_path / "missing" / "old.npz", tmp_path):
        with pytest.raises(SystemExit) as exc:
            results_matrix.main(["write", str(bad)])
        assert exc.value.code == 2 and not done
        assert "OUT " + str(bad) in capsys.readouterr().err
    out = tmp_path / "old"        # a name without .npz is kept
    umask = os.umask(0o022)
    try:
        assert results_matrix.main(["write", str(out)]) == 0
    finally:
        os.umask(umask)
    assert done and os.stat(out).st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["old"]
    np.testing.assert_array_equal(np.load(out)["a/case"], np.arange(3.0))


def test_results_matrix_compare_reports_nan_and_new_cases(suite, tmp_path, capsys):
    """compare summarised a NaN difference as "largest relative difference
    elsewhere 0" (max(0, nan) is 0), and said nothing of a case found only
    in the new file."""
    results_matrix = suite("results_matrix")
    old, nan, extra = (str(tmp_path / f"{n}.npz") for n in ("old", "nan", "extra"))
    np.savez(old, a=np.ones(3), b=np.ones(2))
    np.savez(nan, a=np.array([1.0, np.nan, 1.0]), b=np.ones(2) * (1 + 1e-9))
    np.savez(extra, a=np.ones(3), b=np.ones(2), c=np.zeros(1))
    assert results_matrix.compare(old, nan, 1e-12) == 1
    out = capsys.readouterr().out
    assert "largest relative difference elsewhere nan" in out
    assert "FAIL a: max rel nan" in out and "FAIL b: max rel 1e-09" in out
    assert results_matrix.compare(old, extra, 1e-12) == 0
    out = capsys.readouterr().out
    assert "only in the new file, not compared: c" in out
    assert "2 of 2 cases bit-identical" in out and "cases only in the new file: 1" in out
    assert results_matrix.compare(extra, old, 1e-12) == 1
    assert "FAIL c: missing in the new file" in capsys.readouterr().out


@pytest.mark.parametrize("args, option", [
    (["--scale", "0"], "--scale"), (["--scale", "-1"], "--scale"),
    (["--scale", "2e-9"], "--scale"), (["--scale", "nan"], "--scale"),
    (["--budget", "0"], "--budget"), (["--budget", "-5"], "--budget")])
def test_suboptimality_refuses_bad_scale_and_budget(suite, monkeypatch, tmp_path,
                                                    capsys, args, option):
    """suboptimality.py --scale 0 (or 2e-9) died in a ZeroDivisionError,
    --scale -1 in numpy's "negative dimensions", after the imports and
    the first workload; --budget 0 ran every solver once. They are usage
    errors naming the option, before any work."""
    suboptimality = suite("suboptimality")
    monkeypatch.setattr(suboptimality, "plot",
                        lambda *a: pytest.fail("plot ran on bad arguments"))
    monkeypatch.setattr("sys.argv", ["suboptimality.py", "--plot",
                                     str(tmp_path / "s.png"), *args])
    with pytest.raises(SystemExit) as exc:
        suboptimality.main()
    assert exc.value.code == 2
    assert f"argument {option}: must be" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_vowpal_wabbit_benchmark_is_skipped_without_vowpalwabbit(
        suite, monkeypatch, tmp_path):
    """Without the ``bench`` extra, Rcv1VowpalWabbit's setup_cache returned
    None, which asv_runner takes for "no cache argument": setup(self, data)
    was called without ``data`` and failed with a TypeError before it could
    skip, so README's quick ``asv run`` exited 2. Runs the benchmark the way
    ``asv run`` does: setup_cache in one call, its pickle read back by the
    run."""
    import json
    import sys

    from asv_runner.run import _run
    from asv_runner.setup_cache import _setup_cache

    suite("bench_sparse")    # imported once, without its thread settings
    monkeypatch.setitem(sys.modules, "vowpalwabbit", None)   # ImportError
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.chdir(tmp_path)
    root = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "benchmarks")
    name = "bench_sparse.Rcv1VowpalWabbit.time_pass"
    _setup_cache((root, name, "{}"))
    _run((root, name, "{}", "None", "result.json"))
    with open("result.json") as f:
        assert np.isnan(json.load(f))    # asv's mark of a skipped benchmark


def test_benchmark_figures_name_the_cpus_of_the_run(suite, monkeypatch, tmp_path):
    """The titles of compare.py's and suboptimality.py's figures said "2
    cores" on any machine, or a run limited to one CPU."""
    from types import SimpleNamespace

    compare, suboptimality = suite("compare"), suite("suboptimality")
    saved = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    monkeypatch.setattr(compare, "interleaved", lambda funcs, **kw: dict.fromkeys(
        funcs, 1e-3))
    monkeypatch.setattr(compare, "save_png", lambda fig, path, dpi: saved.append(fig))
    compare.plot(tmp_path / "c.png", rows=20, features=3, repeats=1)
    assert saved[0].axes[0].get_title().endswith("20 x 3 float64, 1 CPU")

    problem = SimpleNamespace(name="tiny", data=SimpleNamespace(sparse=False))
    monkeypatch.setattr(suboptimality, "bs", SimpleNamespace(
        dense_problem=lambda scale: problem, csr_problem=lambda scale: problem,
        imbalanced_problem=lambda scale: problem, reference_optimum=lambda p: 1.0))
    monkeypatch.setattr(suboptimality, "curves", lambda p, budget: {
        "fastlr auto": [(1, 0.1, 1e-3), (2, 0.2, 1e-9)]})
    monkeypatch.setattr(suboptimality, "save_png",
                        lambda fig, path, dpi: saved.append(fig))
    suboptimality.plot(tmp_path / "s.png")
    assert saved[1]._suptitle.get_text().endswith("; 1 CPU")
