"""Opening the files fastlr reads: regular files only, never a blocking open.

A path given as a model or data file may name something that is not a file
at all: ``/dev/zero`` (endless), ``/dev/stdin`` or a terminal, a FIFO
(``open()`` waits for a writer, possibly forever), a socket. Reading such a
thing hangs or grows without bound, so every reader refuses anything but a
regular file, after following symbolic links, before reading a byte.

The check is made twice: with :func:`os.stat` before opening (so a FIFO is
refused without being opened), and with :func:`os.fstat` on what was
opened. The open itself uses ``O_NONBLOCK`` where the platform has it, so a
path swapped for a FIFO between the two checks cannot block the open; the
flag is cleared again once the file is known to be regular.
"""

import errno
import os
import stat

__all__ = ["check_regular", "file_kind", "is_regular", "open_regular"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode):
    """What a ``st_mode`` names, in words: ``"a regular file"``, ``"a FIFO
    (named pipe)"``, ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def is_regular(path):
    """Whether ``path`` (links followed) is a regular file; False if absent."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _check(path, mode, error):
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(mode):
        raise error(path, f"is {file_kind(mode)}, not a regular file; fastlr "
                    "reads only regular files (a device, pipe or socket may "
                    "never end or never answer)")


def check_regular(path, error):
    """Raise unless ``path`` (links followed) is a regular file; see
    :func:`open_regular` for ``error`` and the exceptions."""
    path = os.fspath(path)
    _check(path, os.stat(path).st_mode, error)
    return path


def open_regular(path, error, mode="rb", **kwargs):
    """Open ``path`` for reading if it is a regular file (links followed).

    Parameters
    ----------
    path : str or os.PathLike
    error : callable
        ``error(path, message)`` builds the exception raised when ``path``
        is a device, FIFO, socket or anything else but a regular file (each
        caller names its own: :class:`fastlr.io.DataError`,
        :class:`fastlr.persist.ModelFileError`).
    mode, **kwargs
        As for :func:`open` (a reading mode: ``"rb"`` or ``"r"``).

    Raises
    ------
    FileNotFoundError, PermissionError, IsADirectoryError
        As :func:`open` would, naming ``path``.
    """
    path = check_regular(path, error)
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    fd = os.open(path, flags)
    try:
        _check(path, os.fstat(fd).st_mode, error)
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return open(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise
