"""The thread team (fastlr._kernels.team): shared safely by concurrent
callers, released by a failing thread, interruptible, fork-safe, and the
only threads fastlr runs (no OpenMP, no process-wide settings)."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import pytest

import fastlr
from fastlr import _dispatch
from fastlr._kernels import team

ROOT = Path(fastlr.__file__).resolve().parent.parent


#: Seconds a child program may take: on an empty kernel cache (a fresh
#: clone, or this file run alone) a child compiles the kernels it calls,
#: more than a minute on a busy machine.
CHILD_SECONDS = 600


def _run_python(code, timeout=CHILD_SECONDS + 60, **kwargs):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def big():
    """Large enough (2M elements) for the threaded epoch."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 100))
    y = (X @ rng.normal(size=100) / 10 + rng.logistic(size=20_000) > 0).astype(int)
    return X, y


def test_concurrent_calls_with_different_thread_counts(big, monkeypatch):
    """Trainings from several Python threads at once, each with its own
    n_threads, share the pool; each gives what it gives alone."""
    X, y = big
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS",
                        max(3, numba.config.NUMBA_NUM_THREADS))
    kw = dict(batch_size=512, epochs=2, lr=0.1, random_state=1)
    alone = fastlr.train(X, y, n_threads=1, **kw).w
    threads = [1, 2, 3, 2, 1, 3, 2, 2]
    with ThreadPoolExecutor(len(threads)) as pool:
        futures = [pool.submit(fastlr.train, X, y, n_threads=t, **kw) for t in threads]
        results = [f.result(timeout=300) for f in futures]
    for res in results:
        np.testing.assert_array_equal(res.w, alone)


def test_concurrent_estimators_and_predictions(big):
    X, y = big
    clf = fastlr.LogisticRegression(max_iter=2, tol=None, random_state=0).fit(X, y)
    want = clf.predict_proba(X)
    with ThreadPoolExecutor(4) as pool:
        fits = [pool.submit(fastlr.LogisticRegression(max_iter=2, tol=None,
                                                      random_state=0).fit, X, y)
                for _ in range(2)]
        probas = [pool.submit(clf.predict_proba, X) for _ in range(4)]
        for f in fits:
            np.testing.assert_array_equal(f.result(timeout=300).coef_, clf.coef_)
        for f in probas:
            np.testing.assert_array_equal(f.result(timeout=300), want)


def test_a_failing_thread_releases_the_others():
    """One thread fails while the other waits for a batch that will never
    open: the abort flag releases the waiter and the failure is raised."""
    ctl = team.control()
    main = threading.get_ident()

    def kernel():
        if threading.get_ident() != main:
            time.sleep(0.2)
            raise RuntimeError("worker failed")
        assert team.wait_open(ctl, 10, team.OPEN) == -1   # returns only when aborted

    outcome = {}

    def call():
        try:
            team.run(2, kernel, (), ctl)
        except RuntimeError as exc:
            outcome["error"] = str(exc)

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "the waiting thread was never released"
    assert outcome == {"error": "worker failed"}
    # and the next epoch's team starts clean
    X = np.random.default_rng(0).normal(size=(300, 3))
    fastlr.train(X, X[:, 0] > 0, epochs=1)


# The Ctrl-C tests' children install Python's SIGINT handler themselves: a
# process started from a shell's background job (``cmd &`` without job
# control, as in ``nohup bash .ci/run &``) inherits SIGINT ignored, and
# Python then raises no KeyboardInterrupt at all: such a run of the suite
# failed these tests with children that never stopped.
def test_ctrl_c_stops_a_threaded_training_within_an_epoch():
    code = """
        import signal, sys, time, numpy as np, fastlr
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        rng = np.random.default_rng(0)
        X = rng.normal(size=(100_000, 100)); y = (X[:, 0] > 0).astype(int)
        fastlr.train(X[:3000], y[:3000], batch_size=256, epochs=1, n_threads=2)
        print("ready", flush=True)
        fastlr.train(X, y, batch_size=256, epochs=100_000, n_threads=2)
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)   # well into the long training
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        stopped = time.monotonic() - t0
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in err
    # an epoch of 100k x 100 takes well under a second here; allow ten
    assert stopped < 10.0


@pytest.mark.skipif(not hasattr(threading.Thread, "_set_native_id"),
                    reason="widens the window through a CPython internal")
def test_ctrl_c_while_the_pool_starts_its_threads_does_not_hang_the_exit():
    """A Ctrl-C that lands while the pool starts a thread (the thread has
    registered for the interpreter's exit and not yet said it started: a
    window a busy machine widens) must still end the process. The window is
    widened here by a pause in the new thread's start; ThreadPoolExecutor
    started the thread inside ``submit`` and registered it for its exit
    handler only after, so the interrupted main thread left a thread that
    the exit waited for forever."""
    out = _run_python("""
        import os, signal, threading, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        from fastlr._kernels import team
        started = threading.Thread._set_native_id
        def slow_start(self):
            if self.name.startswith("fastlr"):
                time.sleep(0.5)
            started(self)
        threading.Thread._set_native_id = slow_start
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        team.run(2, lambda: 0, ())
    """, timeout=60)
    assert "KeyboardInterrupt" in out.stderr
    assert "Exception in thread" not in out.stderr


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_ctrl_c_while_waiting_for_a_helper_waits_for_it():
    """The arrays of a team's kernel are shared: a Ctrl-C that reaches the
    caller while it waits for a helper stops the team, and ``run`` raises
    it once the helper has returned (before, it raised at once, the helper
    still working on the arrays)."""
    out = _run_python("""
        import signal, threading, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        from fastlr._kernels import team
        done = []
        started = threading.Event()
        def kernel():
            if threading.current_thread() is not threading.main_thread():
                started.set()
                time.sleep(1.0)
                done.append(True)
            else:
                started.wait(10)   # a helper not started is not waited for
            return 0
        main = threading.main_thread().ident
        threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start()
        try:
            team.run(2, kernel, ())
        except KeyboardInterrupt:
            print("interrupted; the helper had returned:", bool(done))
    """, timeout=60)
    assert out.stdout.strip() == "interrupted; the helper had returned: True", out.stderr


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_ctrl_c_while_mapping_rows_stops_the_helpers_and_waits_for_them():
    """``map_rows`` (prediction, the statistics pass) shares its output
    with its helpers: a Ctrl-C that reaches the caller stops them at their
    next block and is raised once they have returned (before, the wait for
    them was interrupted at once, and they went on with every block
    left)."""
    out = _run_python("""
        import signal, threading, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        from fastlr._kernels import team
        done = []
        def kernel(lo, hi):
            if threading.current_thread() is not threading.main_thread():
                time.sleep(0.2)
                done.append(lo)
            else:
                time.sleep(0.05)
            return lo
        main = threading.main_thread().ident
        threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start()
        try:
            team.map_rows(2, 100, 1, kernel, ())
        except KeyboardInterrupt:
            left = len(done)
            time.sleep(0.5)
            print("blocks by the helper:", left, "after:", len(done) - left)
    """, timeout=60)
    words = out.stdout.split()
    assert words[:4] == ["blocks", "by", "the", "helper:"], out.stderr
    # the helper finished one 0.2 s block before the interruption and the
    # one it was in (before: every block the main thread had not taken)
    assert 1 <= int(words[4]) <= 3 and words[5:] == ["after:", "0"], out.stdout


@pytest.mark.parametrize("how", ["run", "map_rows"])
def test_a_call_does_not_wait_for_helpers_queued_behind_another_calls(how):
    """Two Python threads share the pool: a call whose helpers are queued
    behind another call's (a prediction while a training runs) does its
    work alone and returns, without waiting for the other call to free the
    pool's threads (it waited until then: 150-360 ms for a 3 ms
    prediction)."""
    busy = threading.Event()
    release = threading.Event()
    workers = max(1, numba.config.NUMBA_NUM_THREADS - 1)
    started = [threading.Event() for _ in range(workers)]

    def hold(event):
        event.set()
        release.wait(60)

    held = [team._executor(workers).submit(hold, e) for e in started]
    try:
        for e in started:
            assert e.wait(10)
        calls = []

        def kernel(*bounds):
            calls.append(threading.get_ident())
            return 0

        def call():
            if how == "run":
                team.run(2, kernel, ())
            else:
                assert team.map_rows(2, 10, 1, kernel, ()) == [0] * 10
            busy.set()

        caller = threading.Thread(target=call)
        caller.start()
        caller.join(10)
        assert busy.is_set(), "the call waited for the busy pool"
        assert set(calls) == {caller.ident}   # the calling thread did it all
    finally:
        release.set()
        for f in held:
            f.result(10)


def test_a_failing_block_stops_the_other_threads():
    """A block that raises in one thread of ``map_rows`` stops the others
    at their next block, and the error is raised."""
    from fastlr._kernels import team

    seen = []

    def kernel(lo, hi):
        if lo == 0:
            time.sleep(0.2)   # the other thread meets the failure meanwhile
        seen.append(lo)
        if lo == 3:
            raise ValueError("block 3")
        return lo

    with pytest.raises(ValueError, match="block 3"):
        team.map_rows(2, 1000, 1, kernel, ())
    assert len(seen) < 20


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_ctrl_c_while_the_pool_starts_keeps_the_pool():
    """A Ctrl-C while the first threaded call waits for the pool's threads
    to start is raised once they have, and the process keeps that pool
    (before, the next call made a second pool, and the first one's threads
    idled until exit)."""
    out = _run_python("""
        import signal, threading, time
        import numba
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        from fastlr._kernels import team
        start = team._start_threads
        def slow_start(pool, workers):
            time.sleep(0.5)
            start(pool, workers)
        team._start_threads = slow_start
        main = threading.main_thread().ident
        threading.Timer(0.1, signal.pthread_kill, (main, signal.SIGINT)).start()
        try:
            team.run(2, lambda: 0, ())
        except KeyboardInterrupt:
            pass
        pool = team._pool
        team.run(2, lambda: 0, ())
        names = [t.name for t in threading.enumerate() if t.name.startswith("fastlr_")]
        print(pool is not None and team._pool is pool, len(names) == 1)
    """, timeout=60)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_the_pool_starts_the_threads_calls_ask_for():
    """A call on n threads starts the n - 1 helpers it needs, not one a CPU:
    with NUMBA_NUM_THREADS=8 (a machine of 8 CPUs), calls on 2, 4, 2 and 8
    threads leave 1, 3, 3 and 7 pool threads (started threads are kept).
    All of them at once, as before, put 127 idle threads into a process
    that asked for two on a 128-CPU node (each with a stack and a malloc
    arena of address space: under an address-space limit the allocations
    after the call failed)."""
    out = _run_python("""
        import os
        os.environ["NUMBA_NUM_THREADS"] = "8"
        import threading
        from fastlr._kernels import team
        def count():
            return sum(t.name.startswith("fastlr_") for t in threading.enumerate())
        seen = []
        for n in (2, 4, 2, 8):
            team.run(n, lambda: 0, ())
            seen.append(count())
        print(seen)
    """)
    assert out.stdout.strip() == "[1, 3, 3, 7]", out.stderr


def test_import_sets_no_environment_variable():
    out = _run_python("""
        import os
        before = dict(os.environ)
        import fastlr
        fastlr.predict_proba([[1.0, 2.0]], [0.5, 0.5], 0.0)
        print(sorted(set(os.environ.items()) ^ set(before.items())))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_threaded_training_and_prediction_load_no_threading_runtime():
    """fastlr's threads are its own: training and predicting on two threads
    load neither numba's threading layer nor an OpenMP runtime into the
    process (nothing that makes a later fork unsafe, no 5 ms start-up).
    (scikit-learn's compiled modules may load an OpenMP runtime of their
    own: the functional API is used here.)"""
    out = _run_python("""
        import numpy as np, fastlr
        X = np.random.default_rng(0).normal(size=(200_000, 20))
        y = (X[:, 0] > 0).astype(int)
        r = fastlr.train(X, y, epochs=1, batch_size=256, n_threads=2)
        fastlr.predict_proba(X, r.w, r.b)
        maps = open("/proc/self/maps").read()
        print(sorted({name for name in ("omppool", "tbbpool", "workqueue", "libgomp",
                                        "libiomp", "libomp") if name in maps}))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_command_lines_thread_count_loads_no_threading_runtime(tmp_path):
    """``--n-threads N`` sets the count of fastlr's team (team.set_threads,
    for the command: reset after it); it called numba.set_num_threads,
    which started numba's threading layer (numba's omppool and a GNU OpenMP
    runtime) even for N = 1."""
    out = _run_python("""
        import sys, numpy as np, fastlr.cli
        from fastlr._kernels import team
        X = np.random.default_rng(0).normal(size=(3000, 5))
        np.savez("d.npz", X=X, y=(X[:, 0] > 0).astype(int))
        for n in ("1", "2"):
            rc = fastlr.cli.main(["train", "d.npz", "--model", "m.npz", "--epochs",
                                  "2", "--quiet", "--n-threads", n])
            print("team", rc, team.threads())   # (the command's count reset)
        fastlr.cli._set_threads(type("Args", (), {"n_threads": 1}))
        print("team", 0, team.threads())
        from numba.np.ufunc import parallel
        maps = open("/proc/self/maps").read()   # (scikit-learn loads its libgomp)
        print(parallel._is_initialized,
              sorted({name for name in ("omppool", "tbbpool", "workqueue")
                      if name in maps}))
    """, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "False []"
    assert [s for s in lines if s.startswith("team ")] == [
        f"team 0 {numba.config.NUMBA_NUM_THREADS}"] * 2 + ["team 0 1"]


@pytest.mark.parametrize("m, n, k", [(20_000, 20, 500), (5_000, 100, 1000),
                                     (200_000, 20, 1)])
def test_prediction_splits_rows_by_its_work(m, n, k, map_rows_calls):
    """A prediction pass does m n k multiply-adds (and m k exps for the
    softmax), not X's m n: its blocks were sized by X alone, so 50,000 x 20
    at k = 500 (500M multiply-adds) was one block on one thread while a
    binary pass 125 times smaller took two. Many classes now cut the rows
    into blocks of about BLOCK_ELEMENTS multiply-adds (at least
    MIN_BLOCK_ROWS rows), on the team; the binary model's blocks are X's,
    as before. Rows are decided alone: the same bits on one thread or
    two."""
    seen = map_rows_calls
    rng = np.random.default_rng(4)
    X = rng.standard_normal((m, n))
    W = rng.standard_normal((k, n)) / np.sqrt(n)
    B = rng.standard_normal(k)
    data = _dispatch.as_data(X, check=False)
    link = "softmax" if k > 1 else "proba"
    two = data.decision(W, B, n_threads=2, link=link)
    ((threads, rows, block),) = seen
    assert (threads, rows) == (team.threads(2), m)
    if k > 1:
        assert block == max(_dispatch.MIN_BLOCK_ROWS, _dispatch.BLOCK_ELEMENTS
                            // (k * (n + _dispatch.SOFTMAX_ELEMENTS)))
        assert -(-m // block) >= 10
    else:
        assert block == data.block_rows == _dispatch.BLOCK_ELEMENTS // n
    np.testing.assert_array_equal(two, data.decision(W, B, n_threads=1, link=link))


def test_fork_after_large_prediction_is_safe(big, monkeypatch):
    """Prediction threads are the team's, not OpenMP's: a forked child may
    predict (GNU OpenMP kills such a child), and a fork pool does not hang."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    import multiprocessing

    X, y = big
    monkeypatch.setattr(_dispatch, "BLOCK_ELEMENTS", 10_000)  # several blocks
    w = np.linspace(-1, 1, X.shape[1])
    want = fastlr.predict_proba(X, w, 0.1)   # threaded, in this process
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        got = pool.starmap(fastlr.predict_proba, [(X, w, 0.1)] * 3, chunksize=1)
    for g in got:
        np.testing.assert_array_equal(g, want)


#: A part of a test's program: another thread enters ``setting.held()``
#: and stays inside until ``leave`` is set.
_HOLD_IN_ANOTHER_THREAD = """
inside, leave = threading.Event(), threading.Event()


def hold():
    with setting.held():
        inside.set()
        leave.wait()


threading.Thread(target=hold).start()
inside.wait()
"""


#: The end of a test's program that forked a child ``pid``: prints the
#: child's exit status, or "hung" (and kills it) after CHILD_SECONDS (the
#: child's first kernel compiles on an empty cache: 60 s reported "hung"
#: for a child that was compiling).
_AWAIT_CHILD = f"""
deadline = time.monotonic() + {CHILD_SECONDS}
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print("exit", os.waitstatus_to_exitcode(status))
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print("hung")
"""


def test_fork_while_another_thread_makes_the_first_use_of_the_estimator():
    """``fastlr.LogisticRegression`` is imported on first use (scikit-learn
    with it, seconds): a child forked while another thread was inside that
    import inherited its module locks held, and waited forever at its own
    first use. The fork now waits for the import."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    out = _run_python(textwrap.dedent("""
        import os, sys, threading, time
        import fastlr
        assert "sklearn" not in sys.modules
        first = threading.Thread(target=lambda: fastlr.LogisticRegression)
        first.start()
        while "sklearn" not in sys.modules:   # the import has begun
            time.sleep(0.001)
        pid = os.fork()
        if pid == 0:
            fastlr.LogisticRegression().fit([[0.0], [1.0]], [0, 1])
            os._exit(0)
    """) + _AWAIT_CHILD + "first.join()\n", timeout=CHILD_SECONDS + 60)
    assert out.stdout.strip() == "exit 0", (out.stdout, out.stderr)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_a_ctrl_c_while_a_fork_waits_is_raised_after_the_fork():
    """A Ctrl-C while the fork waits for another thread's import: raised in
    a fork hook, it was only printed (Python cannot raise there), the fork
    went ahead without the lock, and the child hung at its first use. The
    fork now waits on, and the parent raises the interrupt after it: once
    the fork's call is done, not from a timer that could fire while the
    fork's hooks still ran (then printed as ignored, and lost)."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    out = _run_python(textwrap.dedent("""
        import os, signal, sys, threading, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        import fastlr
        # a slow hook after fastlr's (a loaded machine): a 10 ms timer of
        # the hook fired while the hooks ran, the interrupt lost
        os.register_at_fork(after_in_parent=lambda: time.sleep(0.05))
        importing = threading.Event()

        def first_use():   # an import as long as a second
            with fastlr._IMPORTING:
                importing.set()
                time.sleep(1.0)
            fastlr.LogisticRegression

        first = threading.Thread(target=first_use)
        first.start()
        importing.wait()
        main = threading.main_thread().ident
        threading.Timer(0.1, signal.pthread_kill, (main, signal.SIGINT)).start()
        start = time.monotonic()
        try:
            pid = os.fork()
            if pid == 0:
                fastlr.LogisticRegression().fit([[0.0], [1.0]], [0, 1])
                os._exit(0)
            time.sleep(5)   # the interrupt is raised before this ends
            print("not interrupted")
        except KeyboardInterrupt:   # (at 0.1 s had the fork not waited)
            print("interrupted", "late" if time.monotonic() - start > 0.5 else "early")
    """) + _AWAIT_CHILD + "first.join()\n", timeout=CHILD_SECONDS + 60)
    assert out.stdout.split() == ["interrupted", "late", "exit", "0"], (
        out.stdout, out.stderr)
    assert "Exception ignored" not in out.stderr, out.stderr


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
@pytest.mark.parametrize("when, counted", [("after", True), ("before", True),
                                           ("after", False)],
                         ids=["after", "before", "after-uncounted"])
def test_a_ctrl_c_as_the_fork_takes_the_lock_keeps_its_holds_right(when, counted):
    """Python handles a signal once the call it arrived in has returned: a
    Ctrl-C raised out of the fork hook's ``lock.acquire()`` can come after
    the lock was taken ("after"). The hook took the reentrant lock again,
    released it once after the fork, and left it held for good in both
    processes (the next import or kernel load of another thread waited
    forever). Or before it was taken ("before": numba's lock runs Python
    code first), by a thread that holds the lock already: the hook must
    take it then, or the release after the fork drops the thread's own
    hold. The interrupt is raised after the fork either way, and each
    process's lock is held as before the fork. "uncounted": an RLock
    without ``_recursion_count`` (Python 3.10), whose ownership decides."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    out = _run_python(textwrap.dedent(f"""
        import _thread, os, signal, threading, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        from fastlr._kernels.team import hold_across_fork

        class Owned:   # an RLock that tells only whether it is held
            def __init__(self, lock):
                self.acquire, self.release = lock.acquire, lock.release
                self._is_owned = lock._is_owned

        class Lock:   # an interrupt arrives once, as numba's lock wraps one
            def __init__(self):
                self.real, self.armed = threading.RLock(), False
                self._lock = self.real if {counted!r} else Owned(self.real)

            def acquire(self):
                if self.armed and {when!r} == "before":
                    self.armed = False
                    _thread.interrupt_main()
                    time.sleep(0)   # (raised in this call)
                self._lock.acquire()
                if self.armed:
                    self.armed = False
                    _thread.interrupt_main()

            def release(self):
                self._lock.release()

        def free():   # another thread can take it
            got = []
            t = threading.Thread(target=lambda: got.append(
                lock.real.acquire(timeout=5) and lock.real.release()))
            t.start()
            t.join()
            return got == [None]

        lock = Lock()
        hold_across_fork(lock)
        holds = 1 if {when!r} == "before" else 0
        for _ in range(holds):
            lock.acquire()
        lock.armed = True
        try:
            pid = os.fork()
            if pid == 0:
                ok = lock.real._recursion_count() == holds
                for _ in range(holds):
                    lock.release()
                os._exit(0 if ok and free() else 1)
            time.sleep(5)   # the interrupt is raised before this ends
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted")
        print(lock.real._recursion_count() == holds)
        for _ in range(holds):
            lock.release()
        print("free" if free() else "held")
    """) + _AWAIT_CHILD)
    assert out.stdout.split() == ["interrupted", "True", "free", "exit", "0"], (
        out.stdout, out.stderr)


def test_fork_while_another_thread_loads_a_kernel():
    """A child forked while another thread holds numba's compiler lock (as
    it does while it loads a kernel from the cache, a process's first calls)
    waited forever at its own first kernel load: it inherited the lock held
    by a thread it does not have. The fork now waits for the lock."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    out = _run_python(textwrap.dedent("""
        import os, threading, time
        import numpy as np, fastlr
        from numba.core.compiler_lock import global_compiler_lock
        held = threading.Event()

        def loading():
            with global_compiler_lock:
                held.set()
                time.sleep(0.5)

        threading.Thread(target=loading).start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            X = np.random.default_rng(0).normal(size=(200, 3))
            r = fastlr.train(X, (X[:, 0] > 0).astype(int), epochs=2)
            os._exit(0 if np.isfinite(r.w).all() else 1)
    """) + _AWAIT_CHILD)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exit 0"


@pytest.mark.parametrize("setting", ["_solver._ONE_BLAS_THREAD", "io._FIELD_LIMIT"])
def test_fork_while_another_thread_holds_a_process_setting(setting):
    """A child forked while another thread was inside a solver fit (BLAS
    held on one thread) or a CSV read (the csv field limit raised) inherited
    the count of a fit it does not have, or the lock held: it never put the
    setting back, or waited forever at its first solver fit (the probe: 12
    children of 200 hung). The fork waits for the lock; the child starts
    with the setting put back and fits and reads as usual."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    module, name = setting.split(".")
    out = _run_python(textwrap.dedent(f"""
        import csv, os, threading, time
        import numpy as np, fastlr
        from fastlr import {module}
        from fastlr._solver import _blas_controller
        setting = {module}.{name}
        blas = lambda: sorted(i["num_threads"] for i in _blas_controller().info()
                              if i["user_api"] == "blas")
        before = (blas(), csv.field_size_limit())
    """) + _HOLD_IN_ANOTHER_THREAD + textwrap.dedent("""
        pid = os.fork()
        if pid == 0:
            restored = setting.inside == 0 and (blas(), csv.field_size_limit()) == before
            X = np.random.default_rng(0).normal(size=(200, 3))
            r = fastlr.train(X, (X[:, 0] > 0).astype(int), solver="lbfgs")
            os._exit(0 if restored and np.isfinite(r.w).all() else 1)
        leave.set()
    """) + _AWAIT_CHILD)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exit 0"


def test_a_fork_from_inside_keeps_the_forking_threads_count():
    """The thread that forks may itself be inside (an open CSV reader, a
    callback of a solver fit): its child keeps that count, so the setting
    stays applied until the child's thread leaves, then is put back once;
    another thread's count is dropped. (Dropping every count left the
    child at -1: never applied again, and restore(None) in a grandchild.)"""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    out = _run_python(textwrap.dedent("""
        import os, threading, time
        from fastlr._process import Held
        log = []
        setting = Held(lambda: log.append("apply") or "saved", log.append)
    """) + _HOLD_IN_ANOTHER_THREAD + textwrap.dedent("""
        with setting.held():
            pid = os.fork()
            if pid == 0:
                kept = setting.inside == 1 and log == ["apply"]
        if pid == 0:
            with setting.held():
                pass
            ok = kept and log == ["apply", "saved", "apply", "saved"]
            os._exit(0 if ok and setting.inside == 0 else 1)
        leave.set()
    """) + _AWAIT_CHILD)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exit 0"


@pytest.mark.parametrize("when", ["apply", "restore"])
def test_a_ctrl_c_while_a_setting_changes_is_raised_after_it(when):
    """A Ctrl-C between changing a process setting and counting the caller
    (or between uncounting and putting it back) left the setting changed
    for good: BLAS on one thread for the rest of the process (8 short fits
    of 1000 interrupted at random), later fits saving the one thread as
    what to restore. It is raised once the step is done."""
    out = _run_python(textwrap.dedent(f"""
        import _thread, signal
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        from fastlr._process import Held
        log = []

        def apply():
            log.append("apply")
            if {when!r} == "apply":
                _thread.interrupt_main()
            return "saved"

        def restore(saved):
            log.append(saved)
            if {when!r} == "restore":
                _thread.interrupt_main()

        setting = Held(apply, restore)
        try:
            with setting.held():
                log.append("inside")
        except KeyboardInterrupt:
            log.append("interrupted")
        print(log, setting.inside)
    """))
    assert out.returncode == 0, out.stderr
    want = (["apply", "saved", "interrupted"] if when == "apply" else
            ["apply", "inside", "saved", "interrupted"])
    assert out.stdout.strip() == f"{want} 0"


def test_a_ctrl_c_while_the_first_kernel_loads_leaves_numba_working():
    """Loading the first kernel imports numba modules whose bodies register
    types in numba's registries; a Ctrl-C in the middle of one (the first
    fit, the slow one, is the call people interrupt) left it unimportable:
    every later fit of the process raised numba's "duplicate registration"
    KeyError. The Ctrl-C is raised once the load is done."""
    out = _run_python("""
        import _thread, signal, sys
        signal.signal(signal.SIGINT, signal.default_int_handler)  # see above
        import numpy as np, fastlr
        if "numba.cpython.unicode" in sys.modules:
            print("already imported")
            sys.exit(0)
        X = np.random.default_rng(0).normal(size=(200, 3))
        y = (X[:, 0] > 0).astype(int)
        lines = [0]

        def trace(frame, event, arg):
            if frame.f_code.co_name != "<module>" or not \
                    frame.f_code.co_filename.endswith("cpython/unicode.py"):
                return None

            def line(frame, event, arg):
                lines[0] += 1
                if event == "line" and lines[0] == 250:
                    _thread.interrupt_main()
                return line
            return line

        sys.settrace(trace)
        try:
            fastlr.train(X, y, epochs=2)
            print("not interrupted", lines[0])
        except KeyboardInterrupt:
            pass
        sys.settrace(None)
        r = fastlr.train(X, y, epochs=2)
        print("trained", bool(np.isfinite(r.w).all()))
    """)
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "already imported":
        pytest.skip("numba.cpython.unicode is imported with fastlr here")
    assert out.stdout.strip() == "trained True", out.stdout


def test_calls_while_another_thread_imports_scipy():
    """While one thread imports scikit-learn (hence scipy.sparse, as the
    first ``from fastlr import LogisticRegression`` does), another thread's
    fastlr calls asked the half-made scipy.sparse of sys.modules for
    ``issparse`` and raised AttributeError (10 fresh processes of 10)."""
    for _ in range(2):
        out = _run_python("""
            import threading, numpy as np, fastlr
            X = np.random.default_rng(0).normal(size=(200, 3))
            y = (X[:, 0] > 0).astype(int)
            fastlr.predict_proba(X, np.ones(3), 0.0)
            fastlr.train(X, y, epochs=1)
            errors, stop = [], threading.Event()

            def calls():
                while not stop.is_set():
                    try:
                        fastlr.predict_proba(X, np.ones(3), 0.0)
                        fastlr.train(X, y, epochs=1)
                    except Exception as e:
                        errors.append(f"{type(e).__name__}: {e}")
                        return

            t = threading.Thread(target=calls)
            t.start()
            from fastlr import LogisticRegression  # noqa: F401 (scikit-learn, scipy)
            stop.set()
            t.join()
            print(errors[0] if errors else "ok")
        """)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "ok"


def test_grid_search_with_the_multiprocessing_backend():
    """GridSearchCV(n_jobs=2) with joblib's fork-based multiprocessing
    backend, after a threaded prediction in the parent, finishes."""
    out = _run_python("""
        import numpy as np, joblib, fastlr
        from sklearn.model_selection import GridSearchCV
        import fastlr._dispatch as d
        d.BLOCK_ELEMENTS = 10_000
        rng = np.random.default_rng(0)
        X = rng.normal(size=(20_000, 20)); y = (X[:, 0] > 0).astype(int)
        fastlr.predict_proba(X, np.ones(20), 0.0)   # threads in the parent
        grid = GridSearchCV(fastlr.LogisticRegression(max_iter=3, tol=None),
                            {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2)
        with joblib.parallel_backend("multiprocessing"):
            grid.fit(X, y)
        print(round(grid.best_score_, 2))
    """)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) > 0.9


def test_a_thread_leaves_only_if_another_stays():
    """leave() lets a thread out of the team only while another joined
    thread stays in it, so every task left is still claimed."""
    ctl = team.control()
    team.join(ctl)
    team.join(ctl)
    assert team.leave(ctl)          # one of two leaves
    assert not team.leave(ctl)      # the last one stays
    assert not team.leave(ctl)
    team.join(ctl)                  # a late starter joins
    assert team.leave(ctl)


def test_a_thread_that_mostly_waits_retires():
    """retire(): a wait of RETIRE_YIELDS yields (times the tail's scale), or
    more than RETIRE_CYCLES cycles of waiting that are over half the
    thread's time in the epoch; neither alone below those. It says which:
    the first is LEFT_WAIT (the thread joins again later), the second
    LEFT_IDLE, whatever the last wait."""
    C = team.RETIRE_CYCLES
    assert team.retire(team.RETIRE_YIELDS * 3, 3, 0, 1) == team.LEFT_WAIT
    assert team.retire(team.RETIRE_YIELDS * 3 - 1, 3, 0, 1) == 0
    assert team.retire(0, 1, C + 1, 2 * C) == team.LEFT_IDLE   # over half the time
    assert team.retire(team.RETIRE_YIELDS, 1, C + 1, 2 * C) == team.LEFT_IDLE
    assert team.retire(0, 1, C + 1, 3 * C) == 0      # a third of it
    assert team.retire(0, 1, C // 2, C // 2 + 1) == 0  # too little to judge


def _leaving_team(helper_results, main_waits_for_calls):
    """Run a Python kernel on a team of two: the helper thread's calls
    return ``helper_results`` in turn (then 0: stayed to the end); the
    caller's waits until the helper has been called ``main_waits_for_calls``
    times (at most 10 s), then returns 0. Returns the helper's call count."""
    main = threading.get_ident()
    calls = []

    def kernel():
        if threading.get_ident() != main:
            calls.append(1)
            k = len(calls) - 1
            return helper_results[k] if k < len(helper_results) else (0, 0.0)
        deadline = time.monotonic() + 10
        while len(calls) < main_waits_for_calls and time.monotonic() < deadline:
            time.sleep(0.001)
        return 0, 0.0

    team.run(2, kernel, (), team.control())
    return len(calls)


def test_a_thread_that_left_after_a_long_wait_joins_again():
    """A thread whose kernel left the team after one long wait (LEFT_WAIT)
    joins it again while the epoch goes on, after a pause that doubles each
    time: on a machine busy for a moment, the epoch went on at one thread's
    speed to its end."""
    left = (team.LEFT_WAIT, 0.0)
    assert _leaving_team([left, left], 3) == 3


def test_a_thread_that_mostly_waited_stays_out():
    """LEFT_IDLE (the cores stay busy with other work): no second call."""
    assert _leaving_team([(team.LEFT_IDLE, 0.0)], 2) == 1


def test_a_thread_that_stays_out_does_not_end_the_epoch():
    """A thread leaving for having mostly waited (LEFT_IDLE) does not tell a
    thread that left after a long wait that the epoch has ended: only a
    kernel that returns without leaving does (every task claimed)."""
    main = threading.get_ident()
    calls = []
    helper_done = threading.Event()

    def kernel():
        if threading.get_ident() != main:
            time.sleep(0.05)
            helper_done.set()
            return team.LEFT_IDLE, 0.0
        calls.append(1)
        if len(calls) == 1:
            return team.LEFT_WAIT, 0.0
        if len(calls) == 2:
            helper_done.wait(10)
            return team.LEFT_WAIT, 0.0
        return 0, 0.0

    team.run(2, kernel, (), team.control())
    assert len(calls) == 3


def test_no_thread_joins_an_epoch_that_has_ended():
    """A thread that left after a long wait does not join again once another
    thread's kernel has returned without leaving (every task is claimed):
    the caller's kernel returns at once, the helper's leaves after it."""
    main = threading.get_ident()
    calls = []
    started = threading.Event()

    def kernel():
        if threading.get_ident() == main:
            started.wait(10)   # a helper not started is not waited for
            return 0, 0.0
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return team.LEFT_WAIT, 0.0

    team.run(2, kernel, (), team.control())
    assert len(calls) == 1


def test_busy_cores_give_the_one_thread_result(busy_cores):
    """Four processes spinning on the 2 cores while a threaded epoch runs:
    its threads wait long (and leave the team), the model is still the
    one-thread model, bit for bit."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60_000, 50))
    y = (X @ rng.normal(size=50) + rng.logistic(size=60_000) > 0).astype(int)
    kw = dict(epochs=2, batch_size=256, random_state=0)
    one = fastlr.train(X, y, n_threads=1, **kw)
    with busy_cores():
        two = fastlr.train(X, y, n_threads=2, **kw)
    np.testing.assert_array_equal(one.w, two.w)
    np.testing.assert_array_equal(one.losses, two.losses)


def test_each_claim_has_exactly_one_winner():
    """claim_next (the lean sparse team's claim of a half, see
    fastlr._kernels.sparse.lean_worker): four threads race for the same
    100,000 numbered claims; each is won by exactly one of them."""
    from fastlr._kernels.intrinsics import claim_next

    @numba.njit(nogil=True)
    def race(slots, n, wins):
        got = 0
        for k in range(n):
            got += claim_next(slots, 0, k)
            while slots[0] <= k:   # the claim's winner has moved it on
                pass
        wins[0] = got

    n = 100_000
    slots = np.zeros(1, dtype=np.int64)
    wins = [np.zeros(1, dtype=np.int64) for _ in range(4)]
    race(np.zeros(1, dtype=np.int64), 1, wins[0])   # compile first
    threads = [threading.Thread(target=race, args=(slots, n, w)) for w in wins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert slots[0] == n
    assert sum(int(w[0]) for w in wins) == n


def test_threads_work_after_the_main_thread_has_returned():
    """A thread that trains or predicts after the main thread has returned,
    or an atexit handler: the pool takes no new work once the interpreter
    shuts down, and the threaded calls failed with 'cannot schedule new
    futures after interpreter shutdown'. The caller's thread now does the
    work alone, with the same results."""
    code = """
        import atexit, threading, time
        import numpy as np, fastlr
        rng = np.random.default_rng(0)
        X = rng.normal(size=(100_000, 20))
        y = (X[:, 0] > 0).astype(float)
        KW = dict(epochs=2, batch_size=256, random_state=0)
        REF = fastlr.train(X, y, n_threads=1, **KW)
        P = fastlr.predict_proba(X, REF.w, REF.b)

        def work(where):
            same = np.array_equal(fastlr.train(X, y, n_threads=2, **KW).w, REF.w)
            same &= np.array_equal(fastlr.predict_proba(X, REF.w, REF.b), P)
            print(where, "same" if same else "differ", flush=True)

        def late():
            time.sleep(0.3)
            work("thread")

        atexit.register(work, "atexit")
        threading.Thread(target=late).start()
    """
    proc = _run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["thread", "same", "atexit", "same"], proc.stdout
