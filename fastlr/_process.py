"""A setting of the whole process that fastlr changes while it works.

Some settings belong to the process, not to a call: the threads of the
BLAS library (the solver runs BLAS on one thread, see
:func:`fastlr._solver.finish`) and the csv module's field size limit
(:mod:`fastlr.io`'s readers raise it). :class:`Held` changes such a setting
when the first caller enters, and puts it back when the last one leaves,
so that two calls in two Python threads do not restore each other's
change while the other still needs it.

Ctrl-C: a KeyboardInterrupt between changing the setting and counting the
caller (or between uncounting and putting it back) would leave it changed
for good, later callers saving the changed value as the one to restore;
:func:`interrupts_deferred` holds Ctrl-C back over those steps, as over
any other step that must not stop halfway.

Fork: a child forked while a thread of the parent was inside has no such
thread. It would inherit the count (and so never put the setting back),
or the lock held by a thread that does not exist (and wait forever at its
first entry). A fork therefore waits for the lock, and the child keeps
the count of the thread that forked (which leaves as it entered: an open
CSV reader, a callback inside a solver fit) and drops the others',
putting the setting back if no caller is left.
"""

import contextlib
import os
import signal
import threading

__all__ = ["Held", "interrupts_deferred"]


@contextlib.contextmanager
def interrupts_deferred():
    """Ctrl-C (SIGINT) held back for the duration of the block, then
    delivered as it would have been: for short steps that must not stop
    halfway (a process-wide setting and the count of its holders; numba's
    modules, whose bodies register types in numba's registries: one
    interrupted halfway cannot be imported again, and every later kernel
    load or compile fails). Signals reach the main thread only; elsewhere,
    and where SIGINT's handler is not a Python function (ignored, the
    system's default), the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return
    caught = []

    def hold(signum, frame):
        caught.append(frame)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            previous(signal.SIGINT, caught[0])


class Held:
    """A process-wide setting held while any caller is inside :meth:`held`.

    ``apply()`` changes the setting and returns what :func:`restore` needs
    to put it back (``restore(saved)``).
    """

    def __init__(self, apply, restore):
        self._apply = apply
        self._restore = restore
        # re-entrant: a fork from a signal handler on the thread holding it
        # (its before-fork handler takes it) must not wait for itself
        self._lock = threading.RLock()
        self._inside = {}   # thread ident -> times inside
        self._saved = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=self._before_fork,
                                after_in_parent=self._after_fork_in_parent,
                                after_in_child=self._after_fork_in_child)

    @contextlib.contextmanager
    def held(self):
        """The setting changed for the duration of the ``with`` block."""
        me = threading.get_ident()
        counted = False
        interrupted = None
        try:
            # (a Ctrl-C held back over the change and the count is raised
            # inside the try, once both are done)
            with interrupts_deferred(), self._lock:
                if not self._inside:
                    self._saved = self._apply()
                self._inside[me] = self._inside.get(me, 0) + 1
                counted = True
            yield
        finally:
            # (a Ctrl-C that lands before the deferral starts is caught and
            # the leaving done again, then raised: only ``counted`` says
            # whether it is done)
            while counted:
                try:
                    with interrupts_deferred(), self._lock:
                        # (a count a fork dropped in this process is not
                        # taken twice)
                        if me in self._inside:
                            self._inside[me] -= 1
                            if not self._inside[me]:
                                del self._inside[me]
                                if not self._inside:
                                    self._put_back()
                        counted = False
                except KeyboardInterrupt as exc:
                    interrupted = exc
            if interrupted is not None:
                raise interrupted

    @property
    def inside(self):
        """Callers inside now."""
        return sum(self._inside.values())

    def _put_back(self):
        saved, self._saved = self._saved, None
        self._restore(saved)

    def _before_fork(self):
        self._lock.acquire()

    def _after_fork_in_parent(self):
        self._lock.release()

    def _after_fork_in_child(self):
        self._lock = threading.RLock()
        me = threading.get_ident()   # the thread that forked: the child's one
        others = set(self._inside) - {me}
        self._inside = {me: self._inside[me]} if me in self._inside else {}
        if others and not self._inside:
            self._put_back()
