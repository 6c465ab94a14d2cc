"""fastlr.bench's many-model workloads measure what they say they do.

No speed is asserted here: the figures come from ``fastlr bench --full``
and asv. These tests check that the timed callables train the models they
claim (the same models as ``fastlr.train_many``), that the memory bound
counts every per-model array, and that the end-to-end comparison returns
scores of the fitted models.
"""

import re

import numpy as np
import pytest

import fastlr
from fastlr import bench


@pytest.mark.parametrize("K", [1, 5])
def test_many_epoch_fn_trains_the_models_of_train_many(K):
    X, y = bench.make_workload(3000, 6)
    stack = bench.many_epoch_fn(X, y, K, batch_size=64)()
    res = fastlr.train_many(X, y, alphas=np.logspace(-6, -2, K), batch_size=64,
                            epochs=1, lr=0.1, shuffle=False, random_state=0)
    for i in range(K):
        w, b = stack.state(i).raw()
        np.testing.assert_array_equal(w[0], res.W[i])
        np.testing.assert_array_equal(b[0], res.b[i])
    # each call starts from zero: a second call gives the same models
    again = bench.many_epoch_fn(X, y, K, batch_size=64)()
    np.testing.assert_array_equal(again.W, stack.W)


def test_model_bytes_counts_every_per_model_array():
    from fastlr._state import ModelStack

    n, K = 7, 3
    stack = ModelStack(np.zeros((K, n)), np.ones((K, n)), 1, False,
                       [(0.0, 0.0, 0.1)] * K)
    per_model = sum(a.nbytes for a in (stack.mean, stack.scale, stack.hyper,
                                       *stack.arrays())) / K
    assert bench.model_bytes(n) == per_model


def test_k_scan_table_has_a_row_per_k():
    X, y = bench.make_workload(2000, 4)
    t = bench.k_scan(X, y, Ks=(1, 2), batch_size=64, repeats=1)
    assert set(t) == {1, 2, "train", "floor"}
    text = bench.format_k_scan(t, "test")
    assert [line.split()[0] for line in text.splitlines()[2:]] == \
        ["floor", "train", "1", "2"]


def test_cv_comparison_scores_the_chosen_models():
    X, y = bench.make_correlated_workload(2500, 5)
    assert np.allclose(X.mean(axis=0), 0.0, atol=1e-12)
    assert np.allclose(X.std(axis=0), 1.0)
    res = bench.cv_comparison(X, y, peers=("grid",), repeats=1)
    assert set(res) == {"fastlr", "grid"}
    grid = fastlr.LogisticRegressionCV(alphas=8)._alpha_grid(2000)
    for r in res.values():
        assert r["seconds"] > 0 and 0 < r["heldout"] < np.log(2)
        assert np.isclose(grid, r["alpha"], rtol=1e-12).any()


@pytest.mark.parametrize("n_threads", [1, 2])
def test_multiply_adds_runs_the_chains_it_counts(n_threads):
    """The arithmetic floor's kernel does its ``rounds`` multiply-adds: each
    of its eight chains ends at ``a_R = d (1 - c**R) / (1 - c)`` (``a =
    a * c + d`` from zero), and ``out`` holds the eight chains' sum in
    every lane. rtol 1e-12: each of the R rounds rounds once (about R
    units in the last place)."""
    from fastlr._kernels.stats import multiply_adds

    rounds, c, d = 1000, 1.0 - 2.0 ** -20, 2.0 ** -30
    want = 8 * d * (1.0 - c ** rounds) / (1.0 - c)
    out = np.zeros(8)
    multiply_adds(rounds, out)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    # the timed callable runs it on the threads of the team
    np.testing.assert_array_equal(bench.multiply_adds_fn(n_threads, rounds)(), out)


def test_a_pair_is_timed_as_the_difference_of_its_calls(monkeypatch):
    """interleaved times ``(more, less)`` as more's seconds minus less's, in
    each round (a fake clock: the calls advance it by 5 and 2 seconds)."""
    now = [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: now[0])

    def advance(seconds):
        def call():
            now[0] += seconds
        return call

    t = bench.interleaved({"pair": (advance(5.0), advance(2.0)), "one": advance(4.0)},
                          repeats=3)
    assert t == {"pair": 3.0, "one": 4.0}


def test_a_long_comparison_reports_each_fit_as_it_ends(monkeypatch):
    """fastlr bench --full printed nothing for an hour inside M2/M3 (five
    rounds of scikit-learn's grid search, minutes each), which looked like
    a hang. interleaved reports each timed call (outside the timing: a
    fake clock that only the calls advance), and cv_comparison turns that
    into a line per fit."""
    now = [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: now[0])
    seen = []

    def advance(seconds):
        def call():
            now[0] += seconds
        return call

    t = bench.interleaved({"pair": (advance(5.0), advance(2.0)), "one": advance(4.0)},
                          repeats=2, report=lambda *a: seen.append(a))
    assert t == {"pair": 3.0, "one": 4.0}
    assert seen == [("pair", 1, 3.0), ("one", 1, 4.0), ("pair", 2, 3.0),
                    ("one", 2, 4.0)]
    monkeypatch.undo()
    X, y = bench.make_correlated_workload(2500, 5)
    lines = []
    res = bench.cv_comparison(X, y, peers=("grid",), repeats=2,
                              progress=lines.append)
    assert [re.sub(r" [0-9.]+ s$", "", line.strip()) for line in lines] == [
        "round 1/2: fastlr LogisticRegressionCV(alphas=8)",
        "round 1/2: sklearn GridSearchCV(SGDClassifier)",
        "round 2/2: fastlr LogisticRegressionCV(alphas=8)",
        "round 2/2: sklearn GridSearchCV(SGDClassifier)"]
    assert set(res) == {"fastlr", "grid"}


def test_reference_and_sklearn_epochs_are_marginal_epochs():
    """The reference's epoch is its call of one epoch minus its call of none
    (validation and standardization statistics were three times its epoch
    and made fastlr look 4x faster than it is), scikit-learn's a fit of two
    epochs minus one."""
    X, y = bench.make_workload(400, 5, np.float64)
    one, none = bench.reference_epoch_fn(X, y, 32)
    assert len(one().losses) == 1 and len(none().losses) == 0
    two, one = bench.sklearn_epoch_fn(X, y)
    assert two().n_iter_ == 2 and one().n_iter_ == 1


def fake_quick_table(monkeypatch, seconds, **kwargs):
    """quick_table on a tiny workload with ``interleaved`` replaced: returns
    the table and the callables it was given. ``seconds`` maps (impl, batch)
    to the median to report."""
    given = {}

    def fake(funcs, repeats):
        given.update(funcs)
        return {k: seconds[k] for k in funcs}

    monkeypatch.setattr(bench, "interleaved", fake)
    table = bench.quick_table(rows=1000, features=3, **kwargs)
    return {(r["impl"], r["batch_size"]): r for r in table}, given


def test_quick_table_compares_sklearn_with_the_fastest_batch(monkeypatch):
    """With batch 1 among the batch sizes, sklearn's row (batch 1 as well,
    per-sample SGD) was compared with fastlr's batch 1, not with the fastest
    batch the footer names."""
    sk = ("sklearn SGDClassifier", 1)
    seconds = {("floor", None): 0.5, ("fastlr", 1): 10.0, ("fastlr", 64): 1.0,
               ("reference", 1): 20.0, ("reference", 64): 3.0, sk: 4.0}
    rows, _ = fake_quick_table(monkeypatch, seconds, batch_sizes=(1, 64))
    assert rows[sk]["speedup"] == 4.0
    assert rows[("reference", 1)]["speedup"] == 2.0      # same batch size
    assert rows[("reference", 64)]["speedup"] == 3.0
    text = bench.format_quick(list(rows.values()), 1000, 3, "float64")
    assert "4.0x faster" in [ln for ln in text.splitlines()
                             if ln.startswith("sklearn")][0]


def test_quick_table_refuses_a_batch_size_given_twice(monkeypatch):
    """batch_sizes=(32, 32) was measured once and shown as one row, silently
    (the command line's --batch-sizes refused it): refused, naming
    batch_sizes and the size, before any workload is built."""
    def no_workload(*args, **kwargs):
        raise AssertionError("built the workload before refusing")

    monkeypatch.setattr(bench, "make_workload", no_workload)
    with pytest.raises(ValueError, match=r"^batch_sizes must list each batch "
                                         r"size once, got 32 twice in "
                                         r"\(32, 256, 32\)$"):
        bench.quick_table(batch_sizes=(32, 256, 32))


def test_quick_table_times_every_implementation_as_a_marginal_epoch(monkeypatch):
    """fastlr's epoch was one whole call of the training loop while the
    reference's and sklearn's were marginal (one more epoch minus one
    less): the loop's fixed cost fell on fastlr alone. The reference
    trains on X's dtype (its standardized copy was float64)."""
    seconds = {("floor", None): 1.0, ("fastlr", 32): 1.0, ("reference", 32): 2.0,
               ("sklearn SGDClassifier", 1): 3.0}
    rows, given = fake_quick_table(monkeypatch, seconds, batch_sizes=(32,),
                                   dtype="float32")
    one, none = given[("fastlr", 32)]
    assert np.abs(one().W).max() > 0 and not none().W.any()
    one, none = given[("reference", 32)]
    a, b = one(), none()
    assert len(a.losses) == 1 and len(b.losses) == 0
    assert a.w.dtype == np.float32
    assert isinstance(given[("sklearn SGDClassifier", 1)], tuple)
    text = bench.format_quick(list(rows.values()), 1000, 3, "float32")
    assert "Every epoch is marginal, fastlr's too" in text
    assert "all on float32 X" in text


def test_quick_table_survives_a_marginal_fastlr_epoch_in_the_noise(monkeypatch):
    seconds = {("floor", None): 1.0, ("fastlr", 32): 0.0, ("reference", 32): 2.0,
               ("sklearn SGDClassifier", 1): -1.0}
    rows, _ = fake_quick_table(monkeypatch, seconds, batch_sizes=(32,))
    text = bench.format_quick(list(rows.values()), 1000, 3, "float64")
    assert text.count("(below the noise)") == 2


def test_quick_table_shows_an_epoch_below_a_tenth_of_a_ms(monkeypatch):
    """On a small --rows the floor read "0.0" ms (0.1 ms resolution): three
    significant digits now, whole milliseconds from 100."""
    seconds = {("floor", None): 4.2e-5, ("fastlr", 32): 1.5e-4,
               ("reference", 32): 0.4567, ("sklearn SGDClassifier", 1): 0.0}
    rows, _ = fake_quick_table(monkeypatch, seconds, batch_sizes=(32,))
    text = bench.format_quick(list(rows.values()), 1000, 3, "float64")
    ms = {ln.split()[0]: ln.split()[3 if ln.startswith("sklearn") else 2]
          for ln in text.splitlines()[3:7]}
    assert ms == {"floor": "0.042", "fastlr": "0.15", "reference": "457",
                  "sklearn": "0.0"}


def test_quick_table_footer_names_only_what_was_timed(monkeypatch):
    """bench --no-reference (or --no-sklearn) still ended with "(..., the
    reference on a standardized copy, sklearn's fit)"."""
    seconds = {("floor", None): 1.0, ("fastlr", 32): 1.0, ("reference", 32): 2.0,
               ("sklearn SGDClassifier", 1): 3.0}
    for ref, sk, want in ((True, True, "the reference on a standardized copy, "
                           "sklearn's fit)."),
                          (False, True, "fastlr's training loop on validated X, "
                           "sklearn's fit)."),
                          (True, False, "the reference on a standardized copy)."),
                          (False, False, "fastlr's training loop on validated X).")):
        rows, _ = fake_quick_table(monkeypatch, seconds, batch_sizes=(32,),
                                   ref=ref, sklearn=sk)
        text = bench.format_quick(list(rows.values()), 1000, 3, "float64")
        footer = [ln for ln in text.splitlines() if ln.startswith("all on")]
        assert footer and footer[0].endswith(want), (ref, sk, footer)


def test_performance_table_keeps_its_columns_with_a_long_label():
    """A label longer than the 58-character column pushed its value (and
    target) out of line ("P15   NumPy alone, first - second fill of a new
    (2,000,000,) array, ms   2.644")."""
    table = [{"id": "P1", "what": "short", "value": 1.5, "target": "<= 2",
              "ok": True},
             {"id": "P15", "what": "x" * 70, "value": 12.25, "target": "(info)",
              "ok": True}]
    lines = bench.format_performance(table).splitlines()
    assert lines[1] == "-" * len(lines[0])
    ends = {line.index(value) + len(value)
            for line, value in zip(lines[2:4], ("1.500", "12.250"), strict=True)}
    assert len(ends) == 1 and ends == {lines[0].index("value") + len("value")}


def test_performance_table_marks_information_rows_as_having_no_target():
    """An "(info)" row has no target to meet: it printed "met: yes"."""
    table = [{"id": "P1", "what": "a", "value": 1.5, "target": "<= 2", "ok": True},
             {"id": "P1", "what": "b", "value": 9.0, "target": "<= 2", "ok": False},
             {"id": "S1", "what": "c", "value": 1.7, "target": "(info)", "ok": True}]
    lines = bench.format_performance(table).splitlines()
    assert [ln.split()[-1] for ln in lines[2:5]] == ["yes", "NO", "-"]


def test_dask_overhead_line_has_no_negative_fixed_cost():
    """bench --dask printed 'fit: -3.3 ms + 4.86 ms per block' (a free
    least-squares intercept below zero), and the paper estimate used it."""
    from fastlr import dask_bench

    per_block, fixed = dask_bench.overhead_line([2, 8, 32], [0.1, 0.4, 1.6])
    assert fixed == pytest.approx(0.0, abs=1e-12) and per_block == pytest.approx(0.05)
    per_block, fixed = dask_bench.overhead_line([2, 8, 32], [0.2, 0.5, 1.7])
    assert fixed == pytest.approx(0.1) and per_block == pytest.approx(0.05)
    # the noisy case: the free line's intercept is negative
    per_block, fixed = dask_bench.overhead_line([2, 8, 32, 128], [0.01, 0.02, 0.14, 0.62])
    assert fixed == 0.0 and per_block > 0


def test_performance_table_names_the_cpus_of_the_run(monkeypatch):
    """The table's last line said "machine: 2 cores" (os.cpu_count(), the
    host's) for a run limited to one CPU; it names the CPUs the run may use,
    as the figures do (bench.cpus_note), and the host's count when more."""
    import os

    table = [{"id": "P1", "what": "a", "value": 1.5, "target": "<= 2", "ok": True}]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    last = bench.format_performance(table).splitlines()[-1]
    assert last.startswith("machine: 1 CPU of the host's 2, numba "), last
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    last = bench.format_performance(table).splitlines()[-1]
    assert last.startswith("machine: 2 CPUs, numba "), last
