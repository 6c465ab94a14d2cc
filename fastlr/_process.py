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
first entry). A fork therefore waits for the lock, and the child starts
with the setting put back and no caller inside.
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
        self._lock = threading.Lock()
        self._inside = 0
        self._saved = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=self._before_fork,
                                after_in_parent=self._after_fork_in_parent,
                                after_in_child=self._after_fork_in_child)

    @contextlib.contextmanager
    def held(self):
        """The setting changed for the duration of the ``with`` block."""
        with self._lock:
            if self._inside == 0:
                self._saved = self._apply()
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    self._restore(self._saved)
                    self._saved = None

    @property
    def inside(self):
        """Callers inside now."""
        return self._inside

    def _before_fork(self):
        self._lock.acquire()

    def _after_fork_in_parent(self):
        self._lock.release()

    def _after_fork_in_child(self):
        self._lock = threading.Lock()
        if self._inside:
            self._inside = 0
            saved, self._saved = self._saved, None
            self._restore(saved)
