"""Training progress bars (tqdm), shared by the estimator and the CLI.

:func:`epoch_progress` returns a callable ``callback(epoch, loss)`` of the
kind the training loop (:func:`fastlr._sgd.sgd`) calls after every epoch.
It drives a tqdm bar that shows epochs done, the last epoch's loss and the
throughput in rows/s.

When the bar appears:

* ``verbose=0``: never;
* ``verbose=1``: only when the output stream is a terminal, and only once
  training has run for more than :data:`DELAY` seconds, so short fits and
  output redirected to a file or a pipe stay quiet;
* ``verbose>=2``: always (a notebook, a log file), from the first epoch.

The bar is written to ``sys.stderr``, so it never mixes with results printed
on stdout.
"""

import functools
import os
import sys
import time

import numpy as np

from ._validation import check_positive_int

__all__ = ["DELAY", "EpochProgress", "PassProgress", "epoch_progress",
           "pass_progress"]

#: Seconds of training before a ``verbose=1`` bar appears.
DELAY = 1.0


class EpochProgress:
    """A per-epoch progress callback; also a context manager that closes it.

    Parameters
    ----------
    total : int
        Maximum number of epochs (training may stop earlier on ``tol``).
    n_rows : int
        Rows per epoch, for the rows/s figure.
    show : {"auto", True, False}
        ``"auto"``: on a terminal only, after ``delay`` seconds; True: always;
        False: never.
    file : file-like or None
        Where the bar is written; None means ``sys.stderr`` at the time the
        bar starts.
    delay : float or None
        Seconds before an ``"auto"`` bar appears; None means :data:`DELAY`.
    desc : str
        Label in front of the bar.
    bound : bool
        ``total`` is only a bound, far from what runs (cross-validation's
        paths: ``max_iter`` passes for every strength): a run that ends
        normally shows its passes as all of them (``24/24``, not ``24/3001``).
        Otherwise a run stopped early by ``tol`` shows how far it got.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with EpochProgress(3, n_rows=100, show=True, file=out) as callback:
    ...     for epoch in (1, 2, 3):
    ...         callback(epoch, 0.5)
    >>> "3/3" in out.getvalue() and "loss=0.5" in out.getvalue()
    True
    """

    def __init__(self, total, n_rows, *, show="auto", file=None, delay=None,
                 desc="train", bound=False):
        if show not in ("auto", True, False):
            raise ValueError(f"show must be 'auto', True or False, got {show!r}")
        self.total = int(total)
        self.n_rows = int(n_rows)
        self.show = show
        self.file = file
        self.delay = DELAY if delay is None else float(delay)
        self.desc = desc
        self.bound = bool(bound)
        self._bar = None
        self._done = 0
        self._t0 = None

    def _start(self):
        self._t0 = time.perf_counter()
        self._bar = _tqdm(self, total=self.total, unit="epoch")

    def __call__(self, epoch, loss):
        """Record one finished epoch (``epoch`` is its 1-based number)."""
        if self.show is False:
            return
        if self._bar is None:
            self._start()
        self._done += 1
        elapsed = time.perf_counter() - self._t0
        rate = self._done * self.n_rows / elapsed if elapsed > 0 else float("inf")
        self._bar.set_postfix_str(
            f"loss={loss:.4g}, {self._bar.format_sizeof(rate)} rows/s", refresh=False)
        self._bar.update(1)

    def close(self, finished=False):
        """Close the bar (idempotent); the line stays on screen if shown.
        ``finished``: the run ended normally (see ``bound``)."""
        if self._bar is not None:
            if finished and self.bound and self._bar.n < self._bar.total:
                self._bar.total = self._bar.n
                self._bar.refresh()
            self._bar.close()
            self._bar = None

    def __enter__(self):
        if self.show is not False and self._bar is None:
            self._start()
        return self

    def __exit__(self, *exc_info):
        self.close(finished=exc_info[0] is None)
        return False


class PassProgress:
    """Rows read by a pass over data read in parts that is not an epoch
    (the first pass of training on a file read in chunks, for the column
    statistics and the labels): a count of rows and their rate, shown as
    :class:`EpochProgress` shows its bar (``show``, ``file``, ``delay``).
    Call it with each part's rows; use it as a context manager."""

    def __init__(self, desc, *, show="auto", file=None, delay=None):
        if show not in ("auto", True, False):
            raise ValueError(f"show must be 'auto', True or False, got {show!r}")
        self.desc = desc
        self.show = show
        self.file = file
        self.delay = DELAY if delay is None else float(delay)
        self._bar = None

    def __call__(self, rows):
        if self._bar is not None:
            self._bar.update(int(rows))

    def __enter__(self):
        if self.show is not False:
            self._bar = _tqdm(self, total=None, unit=" rows", unit_scale=True,
                              cls=_rows_bar())
        return self

    def __exit__(self, *exc_info):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        return False


@functools.cache
def _rows_bar():
    """tqdm for a count of rows: with ``unit_scale`` (``1.23M rows``, and
    the rate), tqdm writes a count below 100 with three digits (``23.0
    rows``, ``5.00 rows``); rows are whole, so a count below 1000, which
    the scale leaves unscaled, is written as the integer it is."""
    from tqdm import tqdm

    class RowsBar(tqdm):
        @property
        def format_dict(self):
            said = super().format_dict
            if said.get("n") is not None and said["n"] < 1000:
                # tqdm's own layout of a bar without a total, the count as is
                said["bar_format"] = ("{desc}: " if said.get("prefix") else "") + (
                    f"{int(said['n'])}{{unit}} [{{elapsed}}, {{rate_fmt}}{{postfix}}]")
            return said

    return RowsBar


def _tqdm(owner, cls=None, **kw):
    """The tqdm bar of a progress object (its ``show``, ``file``, ``delay``
    and ``desc``), on stderr by default; ``cls``: a subclass of tqdm."""
    from tqdm import tqdm

    file = sys.stderr if owner.file is None else owner.file
    auto = owner.show == "auto"
    size = _zero_size_fallback(file)
    return (cls or tqdm)(desc=owner.desc, file=file,
                         # disable=None is tqdm's "only on a terminal"
                         disable=None if auto else False,
                         delay=owner.delay if auto else 0.0,
                         leave=True, mininterval=0.2, dynamic_ncols=size is None,
                         **(size or {}), **kw)


def _zero_size_fallback(file):
    """An 80x24 size for a terminal that reports 0x0 (some ptys), else None.

    tqdm sizes the bar to the terminal and draws nothing at size 0.
    """
    try:
        size = os.get_terminal_size(file.fileno())
    except (AttributeError, ValueError, OSError):
        return None
    if size.columns > 0 and size.lines > 0:
        return None
    return {"ncols": size.columns or 80, "nrows": size.lines or 24}


def check_verbose(verbose):
    """``verbose`` as an int >= 0 (a bool counts as 0 or 1, as scikit-learn
    takes it); TypeError or ValueError naming it otherwise."""
    if isinstance(verbose, (bool, np.bool_)):
        verbose = int(verbose)
    return check_positive_int(verbose, "verbose", minimum=0)


def epoch_progress(verbose, total, n_rows, *, file=None, desc="train", bound=False):
    """The progress callback for a training run at verbosity ``verbose``.

    Parameters
    ----------
    verbose : int >= 0 (or bool: False is 0, True is 1)
        0: silent; 1: a bar on a terminal for runs longer than :data:`DELAY`
        seconds; 2 or more: a bar always.
    total : int
        Maximum number of epochs.
    n_rows : int
        Rows per epoch.
    file : file-like or None
        Defaults to ``sys.stderr``.
    desc : str
        Label in front of the bar.
    bound : bool
        As :class:`EpochProgress`'s.

    Returns
    -------
    EpochProgress
        Use it as a context manager and pass it as ``callback``.

    Raises
    ------
    TypeError, ValueError
        If ``verbose`` is not an integer >= 0.
    """
    return EpochProgress(total, n_rows, show=_show(verbose), file=file, desc=desc,
                         bound=bound)


def pass_progress(verbose, desc, *, file=None):
    """The :class:`PassProgress` of a pass at verbosity ``verbose`` (as
    :func:`epoch_progress` takes it), labelled ``desc``."""
    return PassProgress(desc, show=_show(verbose), file=file)


def _show(verbose):
    verbose = check_verbose(verbose)
    return False if verbose == 0 else ("auto" if verbose == 1 else True)
