"""Run one SGD epoch on several threads (the driver of
:func:`fastlr._kernels.sgd_epoch_worker`).

The threads are plain Python threads from a pool kept for the process; each
calls the compiled worker, which releases the GIL, so they run in parallel.
A numba ``prange`` region per epoch would do the same, but numba cannot cache
parallel kernels on disk (it has segfaulted doing so): every new process
would compile it again, for 5-10 s. The worker is an ordinary cached kernel,
and the calling thread works too, so ``threads - 1`` pool threads are used.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _kernels, _kernels_multinomial

_lock = threading.Lock()
_pool = None
_pool_size = 0
_pool_pid = None


def _executor(workers):
    """The process's pool with at least ``workers`` threads.

    Made anew after a fork (a child inherits the pool object but not its
    threads) and when more threads are asked for than it has.
    """
    global _pool, _pool_size, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid() or _pool_size < workers:
            if _pool is not None and _pool_pid == os.getpid():
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers,
                                       thread_name_prefix="fastlr-epoch")
            _pool_size = workers
            _pool_pid = os.getpid()
        return _pool


def _run(threads, worker, args):
    """Run ``worker(*args)`` on ``threads`` threads, this one included, and
    return when all are done."""
    others = []
    if threads > 1:
        pool = _executor(threads - 1)
        others = [pool.submit(worker, *args) for _ in range(threads - 1)]
    try:
        worker(*args)
    finally:
        # the arrays are shared: never return while a thread still uses them
        for f in others:
            f.result()


def sgd_epoch_threaded(threads, X, y, sw, blocks, block, mean, scale,
                       batch_size, track_loss, schedule, lr, power_t, penalty,
                       alpha, l1_ratio, average_start, w, b, steps, gsq, avg,
                       l1_u, l1_q, out2):
    """:func:`fastlr._kernels.sgd_epoch` on ``threads`` threads.

    Same arguments after ``threads``, and bit-identical results for any
    number of threads (see :mod:`fastlr._kernels`, "the threaded epoch").
    """
    m, n = X.shape
    nch, _ = _kernels.team_tasks(m, batch_size)
    u = np.empty(n)
    cb = np.empty(1)
    G = np.empty((nch, n))
    S = np.empty((nch, 3))
    ctl = np.zeros(_kernels.TEAM_CTL_SIZE, dtype=np.int64)
    acc = np.zeros(2)
    _kernels.team_begin(w, b, mean, scale, u, cb)
    _run(threads, _kernels.sgd_epoch_worker,
         (X, y, sw, blocks, block, mean, scale, batch_size, track_loss,
          schedule, lr, power_t, penalty, alpha, l1_ratio, average_start, w, b,
          steps, gsq, avg, l1_u, l1_q, u, cb, G, S, ctl, acc))
    plain = (schedule == _kernels.LR_CONSTANT and average_start == 0
             and penalty in (_kernels.PENALTY_NONE, _kernels.PENALTY_L2))
    if plain:
        steps[0] += (m + batch_size - 1) // batch_size
    out2[0] = acc[0]
    out2[1] = acc[1]


def sgd_epoch_multinomial_threaded(threads, X, y, sw, blocks, block, mean,
                                   scale, batch_size, track_loss, schedule, lr,
                                   power_t, penalty, alpha, l1_ratio,
                                   average_start, W, B, steps, gsq, avg, l1_u,
                                   l1_q, out2):
    """:func:`fastlr._kernels_multinomial.sgd_epoch_multinomial` on
    ``threads`` threads; same arguments after ``threads``, bit-identical
    results for any number of threads."""
    m, n = X.shape
    k = W.shape[0]
    nch, _ = _kernels.team_tasks(m, batch_size)
    U = np.empty((k, n))
    Gs = np.empty((nch, k, n))
    Ss = np.empty((nch, k))
    O2 = np.empty((nch, 2))
    ctl = np.zeros(_kernels.TEAM_CTL_SIZE, dtype=np.int64)
    acc = np.zeros(2)
    _kernels_multinomial.multinomial_team_begin(W, scale, U)
    _run(threads, _kernels_multinomial.sgd_epoch_multinomial_worker,
         (X, y, sw, blocks, block, mean, scale, batch_size, track_loss,
          schedule, lr, power_t, penalty, alpha, l1_ratio, average_start, W, B,
          steps, gsq, avg, l1_u, l1_q, U, Gs, Ss, O2, ctl, acc))
    out2[0] = acc[0]
    out2[1] = acc[1]
