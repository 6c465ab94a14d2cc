"""A setting of the whole process that fastlr changes while it works.

Some settings belong to the process, not to a call: the threads of the
BLAS library (the solver runs BLAS on one thread, see
:func:`fastlr._solver.finish`) and the csv module's field size limit
(:mod:`fastlr.io`'s readers raise it). :class:`Held` changes such a setting
when the first caller enters, and puts it back when the last one leaves,
so that two calls in two Python threads do not restore each other's
change while the other still needs it.

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
import threading

__all__ = ["Held"]


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
        with self._lock:
            if not self._inside:
                self._saved = self._apply()
            self._inside[me] = self._inside.get(me, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                # (a count a fork dropped in this process is not taken twice)
                if me in self._inside:
                    self._inside[me] -= 1
                    if not self._inside[me]:
                        del self._inside[me]
                        if not self._inside:
                            self._put_back()

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
