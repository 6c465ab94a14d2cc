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

Writing the files fastlr writes (model files, ONNX exports, prediction
files) is atomic (:func:`write_atomic`): the file is written to a temporary
file in the target's directory (``.<name>.<12 hex digits>.tmp``, the name
cut short where the whole would exceed the file system's limit), flushed
and fsync'ed, then moved over the target with :func:`os.replace`, so a
crash mid-write leaves either the old file or the new one, never a mixture.
A process killed mid-write (``kill -9``, power loss) cannot remove its
temporary file; the next write to the same target removes such leftovers.
It takes only names of that pattern for that target, and only files that
no live writer holds: each writer holds an exclusive :func:`fcntl.flock`
lock on its temporary file from creating it until it has been renamed, and
a lock dies with its process, so a leftover that can be locked is
abandoned. As a second guard a leftover is never touched within a minute of
its last change, and where locks are not available (no ``fcntl``, or a file
system without locks) only after a day. The target itself must be a
regular file (or not exist yet): a directory, device, FIFO or socket there
is refused, never replaced. A symbolic link is followed: the file it names
is replaced (in that file's directory), and the link stays a link.
"""

import contextlib
import errno
import os
import re
import secrets
import stat
import time

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["check_regular", "file_kind", "is_regular", "open_regular",
           "write_atomic"]

# Leftover temporary files of a write (module docstring): never touched
# within _STALE_AGE seconds of their last change; where the writer's lock
# cannot be tested, only after _UNLOCKED_STALE_AGE.
_STALE_AGE = 60.0
_UNLOCKED_STALE_AGE = 86400.0

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


# --------------------------------------------------------------------------
# writing


def save_png(fig, path, dpi=100):
    """Write the matplotlib figure ``fig`` as a PNG file at ``path``,
    atomically (:func:`write_atomic`): the complete new plot or the old
    file, never a part of one."""
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=dpi), "the plot")


def write_atomic(path, write, what="the model file", check=None):
    """Call ``write(file)`` on a temporary binary file, then move it onto
    ``path`` (see the module docstring); ``what`` names the file in errors.
    ``check(temporary_path)``, if given, reads the complete temporary file
    before the move and raises to refuse it: ``path`` is then untouched.

    The temporary file is locked from its creation until it has been moved,
    so that a concurrent write to the same target can tell it from the
    leftover of a killed writer (:func:`_remove_leftovers`). A target that
    exists keeps its permission bits (a model saved with mode 600 stays
    600).
    """
    path = os.fsdecode(os.fspath(path))   # a bytes path too, as open() takes
    if not os.path.basename(path):
        # "" or "dir/": abspath would drop the separator and aim the
        # temporary file at the folder above, and the error would name it
        raise ValueError(f"cannot write {what}: the path {path!r} names no "
                         "file (it is empty or ends with a separator)")
    target = link_target(path)
    mode = _check_target(path, what)
    directory = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    prefix = _temporary_prefix(directory, base)
    _remove_leftovers(directory, prefix)
    fd, tmp = _create_temporary(path, directory, prefix, what)
    try:
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, stat.S_IMODE(mode))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if check is not None:
                check(tmp)
            if fcntl is not None:
                # rename while the lock is held: once it is released, the
                # temporary name no longer exists
                os.replace(tmp, target)
        if fcntl is None:  # pragma: no cover - Windows renames closed files
            os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno:
            # a write that fails (a full disk) says where, as open() does
            raise OSError(exc.errno, exc.strerror, path) from None
        raise
    _fsync_directory(directory)


def link_target(path):
    """The file a write to ``path`` replaces: ``path`` itself, or the file
    a symbolic link there names (followed to the end, as ``open(path,
    "w")`` follows it; a dangling link names the file to create).
    Replacing the link itself would turn it into a regular file beside the
    file it named, which would keep the old contents. A loop of links
    raises ``OSError`` (ELOOP) naming ``path``, as ``open`` does."""
    if not os.path.islink(path):
        return path
    try:
        return os.path.realpath(path, strict=True)
    except FileNotFoundError:
        return os.path.realpath(path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from None


def _check_target(path, what):
    """Refuse a target that exists and is not a regular file (links
    followed); return its ``st_mode`` (None if absent).

    ``os.replace`` would otherwise replace a FIFO or a device node (as root,
    ``/dev/null`` itself) with the file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            # refused before the work of writing, not by the final rename
            raise OSError(exc.errno, f"cannot write {what}: {exc.strerror}",
                          path) from None
        return None  # absent (or unreachable): the write itself reports it
    except ValueError:
        return None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, f"cannot write {what}: the path is "
                      f"{file_kind(mode)}, not a regular file (the file "
                      "replaces its target, which must be a regular file or "
                      "not exist)", path)
    return mode


#: Characters a temporary name adds to its prefix: 12 hex digits and ".tmp".
_TEMPORARY_TAIL = 16


def _temporary_prefix(directory, base):
    """``.<base>.``, the start of the temporary names of a write to
    ``directory/base``, with ``base`` cut short (by whole characters) so
    that the names fit the file system's limit on a name (NAME_MAX, 255
    bytes on most): a name of 238 to 255 bytes had no temporary name that
    fit, and could not be written at all."""
    try:
        limit = os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        limit = 255
    if limit is None or limit < 0:   # (no limit)
        limit = 255
    stem = base
    while stem[1:] and \
            len(os.fsencode(f".{stem}.")) + _TEMPORARY_TAIL > limit:
        stem = stem[:-1]
    return f".{stem}."


def _temporary_pattern(prefix):
    return re.compile(re.escape(prefix) + r"[0-9a-f]{12}\.tmp\Z")


def _create_temporary(path, directory, prefix, what):
    """``(fd, name)`` of a new, locked temporary file next to the target."""
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    while True:
        tmp = os.path.join(directory, f"{prefix}{secrets.token_hex(6)}.tmp")
        try:
            # mode 0o666 minus the umask: the same permissions as open(path, "w")
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot write {what}: {exc.strerror}",
                            path) from None
        if fcntl is None:  # pragma: no cover - Windows
            return fd, tmp
        try:
            # blocks only while another save's cleanup looks at this file
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            return fd, tmp  # no locks on this file system: the age guard remains
        # a cleanup may have found the file between its creation and the
        # lock, taken it for a leftover and removed it: then start again
        try:
            same = os.path.samestat(os.stat(tmp), os.fstat(fd))
        except OSError:
            same = False
        if same:
            return fd, tmp
        os.close(fd)


def _remove_leftovers(directory, prefix):
    """Delete temporary files of killed saves to ``directory/base``, whose
    temporary names start with ``prefix`` (:func:`_temporary_prefix`).

    Only names of the form ``.<base>.<12 hex digits>.tmp``, only regular
    files unchanged for ``_STALE_AGE`` seconds, and only when no live process
    holds the file's lock (each writer holds it until its file is renamed).
    Errors are ignored: cleaning up is a courtesy, never a reason to fail.
    """
    pattern = _temporary_pattern(prefix)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if not pattern.match(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        age = now - st.st_mtime
        if stat.S_ISREG(st.st_mode) and age >= _STALE_AGE:
            with contextlib.suppress(OSError):
                _remove_if_abandoned(entry.path, st, age)


def _remove_if_abandoned(name, st, age):
    if fcntl is None:  # pragma: no cover - Windows
        if age >= _UNLOCKED_STALE_AGE:
            os.unlink(name)
        return
    flags = (os.O_RDWR | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    fd = os.open(name, flags)
    try:
        if not os.path.samestat(st, os.fstat(fd)):
            return  # replaced since it was listed
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a live writer holds it
        except OSError:
            if age < _UNLOCKED_STALE_AGE:  # no locks here: go by age alone
                return
        if os.path.samestat(os.stat(name), os.fstat(fd)):
            os.unlink(name)
    finally:
        os.close(fd)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where unsupported."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
