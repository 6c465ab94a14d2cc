"""The thread team: fastlr's only threads.

Python side
-----------
One pool of Python threads per process (up to ``NUMBA_NUM_THREADS - 1`` of
them, started as calls ask for them; the calling thread works too). Each
thread calls an ordinary cached kernel compiled with ``nogil``, so the
threads run in parallel; no numba ``prange`` region (numba cannot cache
parallel kernels, and OpenMP makes a process unsafe to fork) and no
process-wide environment variable. The pool is made
once, its threads started by a thread of their own (where no Ctrl-C can
interrupt a start: :func:`_start_threads`) when a call asks for more than
it has, never shut down under a caller, and made anew in a forked child.
:func:`run` runs one kernel on several threads; :func:`map_rows` splits
rows into fixed blocks (results do not depend on the thread count).

The epoch protocol (kernel side)
--------------------------------
Threads share one epoch: its tasks are the chunks of every batch, in order.
A thread claims the next task with an atomic counter (:func:`claim`), waits
until the task's batch is open (:func:`wait_open`), computes the chunk's
partial sums into the chunk's own slot, and counts the task done. The
batch's serial tail then reduces the slots in chunk order (one thread alone
adds each chunk as it goes: the same order, no slots), takes the step, and
opens the next batch with a release store (:func:`open_batch`). The tail
comes in parts over disjoint models (:func:`claim_part`): the thread that
completed the batch's last chunk claims them, and so does a thread that
waits for the next batch once every chunk of this one is done (it waits on
DONE first); whoever completes the last part opens the next batch. The
sums and updates are therefore the one-thread epoch's, whoever computed
what: results are bit-identical for any number of threads.

Guarantees: no thread waits for a task that no running thread has claimed,
so the team cannot deadlock even if its threads run one after another (a
thread that starts late finds every task taken and returns). A waiting
thread spins with the pause hint and yields the core every SPIN_YIELD
polls, which keeps a machine with more threads than free cores usable. A
thread whose wait lasted RETIRE_YIELDS yields (the thread it waited for was
not running: the cores are busy with other work), or who has spent more
than half its time in the epoch waiting (RETIRE_CYCLES), leaves the team
between two tasks (:func:`leave`) if another thread that has started stays in it,
so on a busy machine an epoch goes on at one thread's speed instead of
waiting at every batch for a descheduled thread; the remaining threads
claim every task left, and the sums keep their order. A thread that left
after one long wait joins again a little later (:func:`run`: the load may
have been brief), as a thread that starts late does; one that mostly
waited stays out of the epoch. A thread that fails
sets the abort flag (:func:`abort`), which makes every waiting thread
return; the caller then raises the failure.
"""

import _thread
import itertools
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba.core.compiler_lock import global_compiler_lock
from numba.np.ufunc import parallel as numba_parallel

from .intrinsics import (
    claim_next,
    cpu_relax,
    cycles,
    fetch_add,
    load_acquire,
    store_release,
    yield_thread,
)
from .jit import jit

#: Rows per chunk (fixed: it defines the summation order of a batch).
CHUNK = 64

#: Slots of the control array (int64, 128 bytes apart: own cache lines).
CLAIM = 0     # next task to hand out
DONE = 16     # tasks completed
OPEN = 32     # the batch that may run (batches below it are finished)
ABORT = 48    # non-zero: stop
MEMBERS = 56  # threads that have joined the epoch and not left it
#: Parts of a batch's serial tail that threads take apart (:func:`claim_part`).
TAIL_PARTS = 2
PART = 64     # per part p, at PART + 16 p: the next batch whose part p is free
PART_DONE = PART + 16 * TAIL_PARTS   # tail parts completed
CTL_SIZE = PART_DONE + 16

#: Polls of the batch flag between yields of the core.
SPIN_YIELD = 200

#: Yields in one wait after which a thread leaves the team (see the module
#: docstring). On an idle machine a batch opens within a few hundred polls.
RETIRE_YIELDS = 16

#: Seconds after which a thread that left the team after one long wait
#: (LEFT_WAIT) joins it again while the epoch goes on (:func:`run`; doubled
#: at each further leave in one epoch). Such a wait also happens on a
#: machine that is busy only for a moment (16 yields took about 90 us on
#: an idle Zen 3 core): in 2 to 3 of 6 one-epoch ``train`` calls on 1M x
#: 100 (machine at load 0.5-1), one thread left and the epoch went on at
#: one thread's speed to its end, 1.3-1.6x the time of the calls whose
#: threads both stayed. A thread that mostly waited (LEFT_IDLE) does not
#: join again: with two such processes on 2 cores (P14), threads that also
#: joined again after it stayed about 6 ms each time, waiting, before they
#: left again, 7 times an epoch.
REJOIN_SECONDS = 0.001

#: Cycles of waiting (the cycle counter: about 3.4 ms at 2.45 GHz) after
#: which a thread that has also spent more than half of its time in the
#: epoch waiting leaves the team. On a machine whose cores are all busy with
#: other work, the thread a wait is for is often descheduled for a whole
#: time slice, and each yield of the waiting thread gives a core away for
#: one: the waits are then a few yields each (below RETIRE_YIELDS) but
#: milliseconds long, at thousands of batches an epoch. With 4 busy
#: processes on 2 cores, an auto fit on 1M x 100 with a 2-thread SGD epoch
#: took 6.8x the time of a 1-thread one before this rule.
RETIRE_CYCLES = 1 << 23

#: Why a thread left the team (:func:`retire`; a kernel run by :func:`run`
#: returns it first, 0 when it stayed to the end): one long wait (the thread
#: waited for was not running for a while: a brief load, and :func:`run`
#: lets the thread join again), or mostly waiting (the cores stay busy with
#: other work: it stays out of this epoch).
LEFT_WAIT = 1
LEFT_IDLE = 2

# --------------------------------------------------------------------------
# kernel side


@jit()
def tasks(m, batch_size):
    """Chunks per full batch, and chunks in the epoch (``m >= 1``).

    Written so that no intermediate exceeds ``m + CHUNK``, whatever
    ``batch_size`` (``m + batch_size - 1`` would wrap around for a
    ``batch_size`` near 2**63 and give a negative count; the Python layer
    passes at most ``m`` anyway, see ``fastlr._driver.batch_rows``)."""
    nch = (min(batch_size, m) + CHUNK - 1) // CHUNK
    nbatch = (m - 1) // batch_size + 1
    last = m - (nbatch - 1) * batch_size
    return nch, (nbatch - 1) * nch + (last + CHUNK - 1) // CHUNK


@jit(inline=True)
def claim(ctl, ntasks, nch, batch_size, m, task):
    """Claim the next chunk of the epoch. False when none is left (or the
    team aborted); else True and ``task`` = (batch, chunk in the batch, rows
    in the batch, first position, rows in the chunk, tasks up to the end of
    the batch)."""
    if load_acquire(ctl, ABORT) != 0:
        return False
    t = fetch_add(ctl, CLAIM, 1)
    if t >= ntasks:
        return False
    k = t // nch
    start = k * batch_size
    bsz = min(batch_size, m - start)
    p0 = start + (t - k * nch) * CHUNK
    task[0] = k
    task[1] = t - k * nch
    task[2] = bsz
    task[3] = p0
    task[4] = min(CHUNK, start + bsz - p0)
    task[5] = min((k + 1) * nch, ntasks)
    return True


@jit()
def wait_open(ctl, k, slot):
    """Spin until batch ``k`` is open (``ctl[slot] >= k``: ``slot`` OPEN;
    DONE waits for the first ``k`` tasks instead); return the number of
    times the core was yielded meanwhile, or -1 if the team aborted
    instead."""
    polls = 0
    yields = 0
    while load_acquire(ctl, slot) < k:
        if load_acquire(ctl, ABORT) != 0:
            return -1
        cpu_relax()
        polls += 1
        if polls == SPIN_YIELD:
            yield_thread()
            yields += 1
            polls = 0
    return yields


@jit(inline=True)
def retire(yields, scale, waiting, elapsed):
    """Whether a thread should leave the team, and why: LEFT_IDLE if it has
    waited ``waiting`` of the ``elapsed`` cycles since it joined, over
    RETIRE_CYCLES and half of them; else LEFT_WAIT after a wait of
    ``yields`` yields (``scale`` times RETIRE_YIELDS is long: a batch's
    serial tail grows with its models); else 0 (stay)."""
    if waiting > RETIRE_CYCLES and 2 * waiting > elapsed:
        return LEFT_IDLE
    return LEFT_WAIT if yields >= RETIRE_YIELDS * scale else 0


@jit(inline=True)
def join(ctl):
    """Count this thread in the epoch's team (call before claiming); returns
    its waiting record for :func:`wait_turn`: (cycle counter when it
    joined, cycles waited so far)."""
    fetch_add(ctl, MEMBERS, 1)
    clock = np.empty(2, dtype=np.int64)
    clock[0] = cycles()
    clock[1] = 0
    return clock


@jit(inline=True)
def wait_turn(ctl, k, clock, scale, slot=OPEN):
    """:func:`wait_open` for batch (or phase) ``k``, timed into ``clock``
    (from :func:`join`): -1 if the team aborted, LEFT_WAIT or LEFT_IDLE if
    the thread should leave the team after this task (:func:`retire`,
    ``scale`` as there), else 0."""
    before = cycles()
    yields = wait_open(ctl, k, slot)
    if yields < 0:
        return -1
    now = cycles()
    clock[1] += now - before
    return retire(yields, scale, clock[1], now - clock[0])


@jit(inline=True)
def leave(ctl):
    """Leave the team if another joined thread stays in it (True), so that
    every task left is still claimed; else stay (False). Only between
    tasks: a thread leaves nothing claimed behind."""
    if fetch_add(ctl, MEMBERS, -1) > 1:
        return True
    fetch_add(ctl, MEMBERS, 1)
    return False


@jit(inline=True)
def claim_turn(ctl, waited, ntasks, nch, batch_size, m, task):
    """:func:`claim` the next task, unless :func:`wait_turn` told the thread
    to leave (``waited``: LEFT_WAIT or LEFT_IDLE) and it leaves the team
    (:func:`leave`): then False with ``task[0] = -waited``, and the kernel
    returns why it left (:func:`run`)."""
    if waited > 0 and leave(ctl):
        task[0] = -waited
        return False
    return claim(ctl, ntasks, nch, batch_size, m, task)


@jit(inline=True)
def is_open(ctl, k):
    return load_acquire(ctl, OPEN) >= k


@jit(inline=True)
def finish_task(ctl, end):
    """Count a task done; True if it completed its batch (the caller then
    reduces, steps and opens the next batch)."""
    return fetch_add(ctl, DONE, 1) + 1 >= end


@jit(inline=True)
def open_batch(ctl, k):
    store_release(ctl, OPEN, k)


@jit(inline=True)
def claim_part(ctl, p, k):
    """Claim part ``p`` of batch ``k``'s serial tail: True for exactly one
    thread. A batch's tail, split into ``parts <= TAIL_PARTS`` parts that
    touch disjoint state, is run by the thread that completed its last
    chunk and by any thread waiting for the next batch
    (:func:`fastlr._kernels.dense.epoch`); whoever completes the last part
    (:func:`finish_part`) opens the next batch. Every part of every batch
    is claimed once, in batch order."""
    return claim_next(ctl, PART + 16 * p, k) != 0


@jit(inline=True)
def finish_part(ctl, parts, k):
    """Count a part of batch ``k``'s tail done; True if it completed the
    tail (the caller then opens batch ``k + 1``)."""
    return fetch_add(ctl, PART_DONE, 1) + 1 >= parts * (k + 1)


def control():
    """A fresh control array (batch 0 not yet open: its first task's thread
    prepares the batch's weights, then opens it)."""
    ctl = np.zeros(CTL_SIZE, dtype=np.int64)
    ctl[OPEN] = -1
    return ctl


def abort(ctl):
    ctl[ABORT] = 1


# --------------------------------------------------------------------------
# Python side

_lock = threading.Lock()
_pool = None

#: Seconds a task of :func:`_start_threads` waits for the others to be
#: taken (they are, at once, unless a thread cannot be started), and the
#: rounds of starts it makes at most.
STARTING_WAIT = 10.0
STARTING_ROUNDS = 3


def _reset_after_fork():
    global _lock, _pool
    global_compiler_lock.release()
    _lock = threading.Lock()
    _pool = None


def _interrupt_after(frame, lasti):
    """Interrupt the main thread (a KeyboardInterrupt) once ``frame`` has
    left its instruction ``lasti``, the call of the fork (whose hooks are
    then all done), or has returned: from a thread that looks every
    millisecond. (A timer of 10 ms started by the fork hook fired while
    the hooks were still running on a loaded machine: Python printed the
    interrupt as ignored and went on.)"""
    main = threading.main_thread().ident

    def run():
        while frame.f_lasti == lasti:
            top = sys._current_frames().get(main)
            while top is not None and top is not frame:
                top = top.f_back
            if top is None:
                break
            time.sleep(0.001)
        _thread.interrupt_main()

    threading.Thread(target=run, name="fastlr-interrupt", daemon=True).start()


def hold_across_fork(lock, after_in_child=None):
    """Make a fork wait for ``lock`` (held by another thread), hold it
    through the fork and release it on both sides (in the child by
    ``after_in_child()`` if given). A Ctrl-C while the fork waits is raised
    in the parent once the fork is done (:func:`_interrupt_after`: raised
    in a fork hook, Python would print it and go on): the interrupted wait
    forked without the lock, the child inheriting it held by another
    thread. ``lock`` is reentrant: an RLock, or numba's compiler lock.

    A signal is handled once the call it arrived in returns: an interrupt
    raised out of ``lock.acquire()`` may come after the lock was taken, or
    before (numba's lock runs Python code before it takes its RLock). The
    hook compares the thread's count of holds from before the acquire
    with the count after: taken, it holds the lock (a second acquire took
    a reentrant lock twice, and the one release after the fork left it
    held for good); else it tries again (a thread that forks while it
    holds the lock already must keep its own hold)."""
    if not hasattr(os, "register_at_fork"):
        return
    interrupted = []
    inner = getattr(lock, "_lock", lock)   # (numba's lock wraps an RLock)
    # this thread's holds of the RLock (Python 3.11 on); Python 3.10 tells
    # only whether it holds it: an interrupted acquire by a thread that
    # held it already is then taken to have counted
    count = getattr(inner, "_recursion_count", None) or inner._is_owned

    def before():
        start = None
        while True:
            try:
                if start is None:
                    start = count()
                lock.acquire()
                return
            except KeyboardInterrupt:   # raised after the fork
                if not interrupted:   # (the frame that calls the fork)
                    caller = sys._getframe(1)
                    interrupted.append((caller, caller.f_lasti))
                if start is not None and (count() > start or start is True):
                    return

    def in_parent():
        lock.release()
        if interrupted:
            _interrupt_after(*interrupted.pop())

    def in_child():
        interrupted.clear()
        (after_in_child or lock.release)()

    os.register_at_fork(before=before, after_in_parent=in_parent,
                        after_in_child=in_child)


# numba loads (and compiles) a kernel under its process-wide lock: a child
# forked while another thread held it inherited it held by a thread that
# does not exist there, and waited forever at its first kernel not yet
# loaded. A fork waits for the lock, as CPython's fork waits for its import
# lock.
hold_across_fork(global_compiler_lock, _reset_after_fork)


def _executor(need=1):
    """The process's pool (made on first use, never shut down) with at
    least ``need`` of its threads started (:func:`_start_threads`; at most
    ``NUMBA_NUM_THREADS - 1``): a call that asks for n threads starts the
    helpers it needs, not one a CPU. (All of them at once, as before, put
    127 idle threads into a process that asked for two on a 128-CPU node,
    each with its stack and malloc arena of address space: under an
    address-space limit, allocations after the call failed.)"""
    global _pool
    need = max(1, min(need, numba.config.NUMBA_NUM_THREADS - 1))
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=need, thread_name_prefix="fastlr")
        # the pool's bound is the most threads a call has asked for (its
        # submit reads _max_workers each time): a call that submits right
        # after another returned, its threads not yet counted idle again,
        # starts none beyond it
        _pool._max_workers = max(_pool._max_workers, need)
        if len(_pool._threads) < need:
            starter = threading.Thread(target=_start_threads, args=(_pool, need),
                                       name="fastlr-start")
            starter.start()
            # the threads exist once the starter has run: a Ctrl-C during
            # the join waits for it, keeps the pool, and is raised after
            error = _wait(starter.join, lambda: not starter.is_alive(), lambda: None)
            if error is not None:
                raise error
        return _pool


def _start_threads(pool, need):
    """Start threads of ``pool`` until it has ``need`` (its bound
    allowing): with the pool's count of idle threads emptied, each
    ``submit`` starts a thread (and returns once it has), of tasks that
    each wait until all are taken (none completes meanwhile, which would
    count a thread idle again). The threads that were idle may take some of
    them; they are then idle again, and later tasks go to whichever thread
    is free. A thread of an earlier call that counts itself idle while the
    tasks are submitted takes one in place of a new thread: another round
    starts what is missing (at most STARTING_ROUNDS). Run on a
    thread of its own, because ThreadPoolExecutor starts a thread inside
    ``submit`` and registers it for its exit handler only after
    ``Thread.start`` returns: a KeyboardInterrupt in between (Ctrl-C while
    a busy machine had not yet run the new thread) left a thread that the
    interpreter waited for forever at exit, and the process hung. Python
    raises signals' exceptions in the main thread only, so nothing
    interrupts these starts; once every thread exists, the pool starts no
    more. The first threaded call of a process took 0.8 ms instead of 0.5
    (medians of 8 new processes, 2 vCPUs of a Zen 4 EPYC)."""
    for _ in range(STARTING_ROUNDS):
        workers = need - len(pool._threads)
        if workers <= 0:
            return
        ready = threading.Barrier(workers, timeout=STARTING_WAIT)
        while pool._idle_semaphore.acquire(timeout=0):
            pass
        try:
            for _ in range(workers):
                pool.submit(ready.wait)
        except RuntimeError:
            # the interpreter is shutting down (the main thread was
            # interrupted meanwhile), or a thread could not be started: the
            # threads started go idle (their tasks fail), and the pool's
            # callers do the work with the threads it has, or alone (see
            # _helpers)
            ready.abort()
            return


def _helpers(work, count):
    """Start ``work`` on up to ``count`` pool threads and return their
    futures: fewer (none) once the interpreter is shutting down (the main
    thread has returned and a thread or an atexit handler still trains: the
    pool takes no new work then). The caller's thread then does the work
    alone, which the team and the row blocks allow, with the same results."""
    others = []
    try:
        pool = _executor(count) if count > 0 else None
        for _ in range(count):
            others.append(pool.submit(work))
    except RuntimeError:   # "cannot schedule new futures after ... shutdown"
        pass
    return others


#: The count ``n_threads=None`` means in this Python thread once
#: :func:`set_threads` has set one (the command line's ``--n-threads``).
_DEFAULT_THREADS = threading.local()


def set_threads(n_threads):
    """Make ``n_threads=None`` mean ``n_threads`` in the calling Python
    thread (None: numba's count again), as ``numba.set_num_threads`` does,
    but without starting numba's threading layer (an OpenMP runtime fastlr
    does not use)."""
    _DEFAULT_THREADS.count = None if n_threads is None else threads(n_threads)


def threads(n_threads=None):
    """Threads to use: None means the count of :func:`set_threads` in this
    thread, else numba's (``numba.get_num_threads()``); capped at
    ``NUMBA_NUM_THREADS``."""
    if n_threads is None:
        count = getattr(_DEFAULT_THREADS, "count", None)
        if count is not None:
            return count
        if not getattr(numba_parallel, "_is_initialized", True):
            # numba.get_num_threads() would start numba's threading layer
            # (an OpenMP runtime, about 5 ms, in a process that may never
            # run a prange); until that has started nobody can have called
            # numba.set_num_threads, so the count is the configured one
            return numba.config.NUMBA_NUM_THREADS
        return numba.get_num_threads()
    return max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS))


def _why_left(result):
    """Why a kernel's thread left the team, from its result (see
    :func:`run`): LEFT_WAIT, LEFT_IDLE, or 0 (it did not)."""
    return result[0] if isinstance(result, tuple) else 0


def run(n, kernel, args, ctl=None):
    """Run ``kernel(*args)`` on ``n`` threads, this one included; return
    when all are done. A thread that fails aborts the team through ``ctl``
    at once (the others stop waiting for it), and the failure is raised.

    A ``kernel`` whose thread left the team while tasks remained
    (:func:`leave`) returns a tuple whose first item says why (LEFT_WAIT,
    LEFT_IDLE; 0 otherwise). After one long wait the thread joins again
    after REJOIN_SECONDS, twice as long after each further leave, unless
    the epoch ended meanwhile (a thread's kernel returned without leaving:
    every task is then claimed)."""
    ended = threading.Event()

    def stop():
        ended.set()
        if ctl is not None:
            abort(ctl)

    def guarded():
        pause = REJOIN_SECONDS
        try:
            while (why := _why_left(kernel(*args))) == LEFT_WAIT \
                    and not ended.wait(pause):
                pause *= 2
            if not why:
                ended.set()   # every task is claimed
        except BaseException:
            stop()
            raise

    _on_team(n, guarded, stop)


def map_rows(n, m, rows, kernel, args):
    """``[kernel(*args, lo, hi) for each block]`` over fixed blocks of
    ``rows`` rows, on up to ``n`` threads, results in block order (so a sum
    of them does not depend on the thread count). A block that fails, or a
    Ctrl-C, stops every thread at its next block; the error is raised once
    all have returned (:func:`_join`)."""
    bounds = [(lo, min(lo + rows, m)) for lo in range(0, m, rows)]
    n = max(1, min(n, len(bounds)))
    out = [None] * len(bounds)
    # each thread takes the next block left (next() of a count is atomic
    # under the GIL): a thread that starts late or is descheduled on a busy
    # machine leaves its share to the others instead of holding them up
    nxt = itertools.count()
    stopped = threading.Event()   # a thread failed or was interrupted

    def work():
        try:
            for b in iter(nxt.__next__, None):
                if b >= len(bounds) or stopped.is_set():
                    return
                out[b] = kernel(*args, *bounds[b])
        except BaseException:
            stopped.set()
            raise

    _on_team(n, work, stopped.set)
    return out


def _on_team(n, work, stop):
    """Run ``work()`` on this thread and on ``n - 1`` helpers; return when
    all are done, raising the first failure (:func:`_join`, which calls
    ``stop()`` on a Ctrl-C while it waits)."""
    others = _helpers(work, n - 1)
    error = None
    try:
        work()
    except BaseException as exc:
        error = exc
    _join(others, error, stop)


def _wait(wait, done, interrupted):
    """Call ``wait()`` until it returns or ``done()``; an exception raised
    into this thread meanwhile (Ctrl-C) calls ``interrupted()`` and waits
    again. Returns the first exception (the waited-for thread's own, or
    the interruption), or None."""
    error = None
    while True:
        try:
            wait()
            return error
        except BaseException as exc:
            error = error or exc
            if done():
                return error
            interrupted()


def _join(others, error, stop):
    """Wait for the helpers' futures ``others`` (:func:`_helpers`), then
    raise ``error`` (the caller's own), else the first helper's. The
    arrays of the helpers' work are shared with the caller: a Ctrl-C while
    waiting calls ``stop()`` (the helpers give up at their next check) and
    waits again, so that nothing returns while a helper still works.

    A helper that has not started (the pool's threads busy with another
    call's helpers) is cancelled: it would find every block and task taken
    and return, as a late thread does, and waiting for it held a
    prediction of 3 ms up for 150-360 ms, until a training in another
    Python thread left its pass."""
    for f in others:
        if f.cancel():
            continue
        failed = _wait(f.result, f.done, stop)
        error = error or failed
    if error is not None:
        raise error
