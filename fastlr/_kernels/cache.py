"""Where compiled kernels are cached on disk, and the guard that keeps the
cache from serving stale code.

Numba's own cache checks, for each cached function, only the file that
defines it: a kernel that calls a kernel of another file keeps the old
callee compiled in after that file changes. The guard closes that hole by
giving every version of the kernel package a directory of its own: its
name is a fingerprint of every kernel source file together with the fastlr,
numba, llvmlite, NumPy and Python versions and numba's settings that
change compiled code (CODE_SETTINGS). Changed code means a new
fingerprint, hence an empty directory, hence a fresh compilation; nothing
is ever "discarded" under a running process, and two installs of the same
code share their compilations.

Where the directory lives (the first that works; :func:`info` tells):

1. ``$FASTLR_CACHE_DIR/<fingerprint>`` when that variable is set;
2. ``<sys.prefix>/share/fastlr/kernel-cache/<fingerprint>``: beside the
   installation, outside the package (a cache inside the package directory
   would survive ``pip uninstall`` and turn the leftover folder into an
   empty namespace package that shadows a later install);
3. the user's cache directory (``~/.cache/fastlr/<fingerprint>`` on Linux);
4. ``<tempdir>/fastlr-<uid>/<fingerprint>``, only while ``fastlr-<uid>``
   is private: a directory (not a link) of this user that no one else may
   enter (it is made so) and that holds nothing of another user's. The
   temporary directory is shared, and numba's index files are pickles: a
   ``fastlr-<uid>`` another user made first, or filled, would hand this
   process their code.

A location is used read-write when it is writable, and read-only when it is
not but already holds compiled kernels (filled by ``python -m fastlr
compile`` at image build time, say): then kernels load from it, and
signatures it lacks compile in memory, with one warning per process. With
nothing usable the kernels compile without caching, and one warning says
so. ``FASTLR_NUMBA_CACHE=0`` turns caching off.

Several processes may fill one cache at once (Dask workers on first use):
each compiled signature is written to a file named after its key, data
before index, and the index is updated under a file lock, so that no
process reads another's half-written entry and no two entries share a
file. A process that misses a signature in the cache takes that
signature's lock until it has saved it, so the others wait and load it
instead of compiling it again, while other signatures of the function
compile at the same time (``fastlr compile`` compiles float32 and float64
in two processes at once); a function's callees are compiled under their
own locks, and calls form no cycle, so the locks cannot deadlock.
"""

import contextlib
import functools
import hashlib
import os
import stat
import sys
import tempfile
import time
import types
import warnings

import llvmlite
import llvmlite.binding as llvm
import numba
import numpy as np

# numba's typeof of every ndarray argument asks isinstance(x, np.ma.MaskedArray),
# and NumPy imports numpy.ma at that first attribute access (about 15 ms):
# imported with fastlr instead of inside a process's first kernel call
import numpy.ma  # noqa: F401
from numba.core import caching, entrypoints
from numba.core import codegen as numba_codegen

from .._process import interrupts_deferred
from .._version import __version__

#: Seconds a process waits for another one compiling the same kernel before
#: compiling it itself.
LOCK_TIMEOUT = 600.0

#: Fingerprint directories kept per location (the newest by use); older ones
#: go only once unused for PRUNE_AGE seconds (a long-running process of
#: another install may still load from its directory).
KEEP = 4
PRUNE_AGE = 7 * 24 * 3600.0

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: Source files outside the package whose code ends up in kernels too:
#: ``_stats.py``'s functions are compiled as kernels (written in plain NumPy,
#: so that the NumPy reference runs the same source uncompiled), and
#: ``_choices.py``'s tables give the kernels their schedule codes.
SHARED_SOURCES = tuple(os.path.join(os.path.dirname(_PACKAGE_DIR), name)
                       for name in ("_stats.py", "_choices.py"))


def sources():
    """Every file whose code ends up in a cached kernel."""
    return sorted(os.path.join(_PACKAGE_DIR, name)
                  for name in os.listdir(_PACKAGE_DIR)
                  if name.endswith(".py")) + list(SHARED_SOURCES)


#: numba's settings that change the code it compiles but not the key of a
#: cached entry: a process run with ``NUMBA_OPT=0`` (or bounds checks on)
#: left unoptimized kernels that every later process loaded; one run with
#: ``NUMBA_LOOP_VECTORIZE=0`` left kernels whose sums (reassociated where
#: vectorized) round otherwise: later processes' models differed in the
#: last bit. (SVML's vector exp and log round otherwise than libm's.)
CODE_SETTINGS = ("OPT", "BOUNDSCHECK", "DEBUGINFO_DEFAULT", "LOOP_VECTORIZE",
                 "SLP_VECTORIZE", "USING_SVML")


def fingerprint():
    """Hex digest of every kernel source file, the versions and numba
    settings (CODE_SETTINGS) they compile with, and the package's import
    name (cached kernels refer to their module by name: a copy of the
    package imported under another name, a vendored one, must not load this
    one's entries)."""
    from numba.core import config

    h = hashlib.sha256()
    settings = [f"{name}={getattr(config, name, None)!r}" for name in CODE_SETTINGS]
    for name in (__version__, numba.__version__, llvmlite.__version__,
                 np.__version__, sys.version, __name__, *settings):
        h.update(name.encode() + b"\0")
    for path in sources():
        h.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:20]


def _roots():
    env = os.environ.get("FASTLR_CACHE_DIR")
    if env:   # absolute now: the process may change directory later
        return [os.path.abspath(env)]
    from numba.misc.appdirs import AppDirs

    return [os.path.join(sys.prefix, "share", "fastlr", "kernel-cache"),
            AppDirs("fastlr", appauthor=False).user_cache_dir, _temp_root()]


def _temp_root():
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"fastlr-{uid}")


def _private(root):
    """Make ``root`` (mode 0o700) unless it exists; True if it is then a
    directory, not a link, of this user, closed to everyone else, holding
    nothing of another user's (where the OS has no uids, the temporary
    directory is the user's own).

    One of this user's that others may enter (earlier versions made it
    0o755, or 0o775 under umask 002) is closed first; whatever another user
    could have put into it while it was open is then found by its owner."""
    if not hasattr(os, "getuid"):
        return True
    uid = os.getuid()
    with contextlib.suppress(OSError):
        os.mkdir(root, 0o700)
    try:
        st = os.lstat(root)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            return False
        if st.st_mode & 0o077:
            os.chmod(root, 0o700)
        return all(_owned(os.path.join(root, name), uid) for name in os.listdir(root))
    except OSError:
        return False


def _owned(path, uid):
    """Whether ``path`` and, for a directory, its entries belong to ``uid``."""
    st = os.lstat(path)
    if st.st_uid != uid:
        return False
    return not stat.S_ISDIR(st.st_mode) or all(
        os.lstat(os.path.join(path, name)).st_uid == uid for name in os.listdir(path))


def _writable(path):
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def _populated(path):
    try:
        return any(name.endswith(".nbi") for name in os.listdir(path))
    except OSError:
        return False


def _prune(root, keep):
    """Remove the fingerprint directories beyond the ``keep`` most recently
    used that have not been used for :data:`PRUNE_AGE` (only directories
    named like a fingerprint, holding only cache files)."""
    try:
        entries = [os.path.join(root, d) for d in os.listdir(root)
                   if len(d) == 20 and all(c in "0123456789abcdef" for c in d)]
        entries.sort(key=os.path.getmtime, reverse=True)
    except OSError:
        return
    now = time.time()
    for d in entries[keep:]:
        with contextlib.suppress(OSError):
            if now - os.path.getmtime(d) < PRUNE_AGE:
                continue
            names = os.listdir(d)
            if all(n.endswith((".nbi", ".nbc", ".lock")) or ".tmp." in n
                   for n in names):
                for n in names:
                    os.unlink(os.path.join(d, n))
                os.rmdir(d)


def _select():
    """``(directory, mode)``: mode "rw", "ro", "off" (disabled) or "none"."""
    if os.environ.get("FASTLR_NUMBA_CACHE", "1") == "0":
        return None, "off"
    fp = fingerprint()
    roots = _roots()
    shared = ""
    for root in roots:
        if root == _temp_root() and not os.environ.get("FASTLR_CACHE_DIR") \
                and not _private(root):
            # another user's, open to others, or a link: never read
            shared = (f" ({root} is not a directory of this user closed to "
                      "others and holding only this user's files, so it is not "
                      "read)")
            continue
        path = os.path.join(root, fp)
        if _writable(path):
            os.utime(path)
            _prune(root, KEEP)
            return path, "rw"
        if _populated(path):
            return path, "ro"
    if os.environ.get("FASTLR_CACHE_DIR"):
        path = os.path.join(roots[0], fp)
        if os.path.exists(roots[0]) and not os.path.isdir(roots[0]):
            where = (f"FASTLR_CACHE_DIR is {roots[0]}, which is not a directory "
                     "(set it to a folder for fastlr's compiled kernels)")
        else:
            why = ("something that is not a directory is in its place: remove it"
                   if os.path.lexists(path) and not os.path.isdir(path) else
                   "it is neither writable nor filled by 'python -m fastlr "
                   "compile'")
            where = (f"FASTLR_CACHE_DIR's kernel directory {path} cannot be used "
                     f"({why})")
    else:
        where = (f"fastlr found no writable or pre-filled directory for its "
                 f"compiled kernels (tried {', '.join(roots)}{shared}; set "
                 "FASTLR_CACHE_DIR to one)")
    warnings.warn(f"{where}; every process compiles them again", RuntimeWarning,
                  stacklevel=3)
    return None, "none"


DIRECTORY, MODE = _select()

#: Whether ``cache=True`` is passed to numba for serial kernels.
ENABLED = DIRECTORY is not None


def info():
    """``{"directory", "mode", "fingerprint"}`` of this process's kernel cache."""
    return {"directory": DIRECTORY, "mode": MODE, "fingerprint": fingerprint()}


# --------------------------------------------------------------------------
# numba hooks

_Locator = caching._CacheLocator
_IndexDataCacheFile = caching.IndexDataCacheFile


class KernelLocator(_Locator):
    """Puts the kernels of this package, and nothing else, in :data:`DIRECTORY`."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno

    def ensure_cache_path(self):
        if MODE == "rw":
            os.makedirs(DIRECTORY, exist_ok=True)

    def get_cache_path(self):
        return DIRECTORY

    def get_source_stamp(self):
        # the directory is already specific to this exact source; the file's
        # own hash keeps numba's per-file check meaningful inside it
        with open(self._py_file, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if DIRECTORY is None:
            return None
        path = os.path.abspath(py_file)
        if os.path.dirname(path) != _PACKAGE_DIR and path not in SHARED_SOURCES:
            return None
        return cls(py_func, py_file)


def _flock(path, timeout):
    """An exclusive lock on ``path`` (a file descriptor), or None after
    ``timeout`` seconds or where locking is impossible."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): go on unlocked
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def _unlock(fd):
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing releases the flock


class KernelCacheFile(_IndexDataCacheFile):
    """numba's index/data cache file, made safe for concurrent processes and
    read-only directories (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._held = None  # the signature's compile lock, while compiling it

    def _data_name_for(self, key):
        return self._data_name_pattern.format(number=0).replace(
            ".0.nbc", f".{self._digest(key)}.nbc")

    @staticmethod
    def _digest(key):
        return hashlib.sha256(repr(key).encode()).hexdigest()[:16]

    def _read(self, key):
        try:
            # (unpickling imports numba modules: see load_overload)
            with interrupts_deferred():
                return super().load(key)
        except Exception:
            # a truncated or corrupt entry (a full disk, a killed writer):
            # a miss, compiled again and written over
            return None

    def load(self, key):
        data = self._read(key)
        if data is None and MODE == "ro":
            _warn_read_only_miss(self._index_name, self._index_path)
        if data is None and MODE == "rw" and self._held is None:
            # compile it under the signature's lock; another process may be
            # compiling it right now: wait for it, then look again. The lock
            # is released by save, or by the dispatcher's compile if that
            # fails (see install)
            self._held = _flock(f"{self._index_path}.{self._digest(key)}.lock",
                                LOCK_TIMEOUT)
            data = self._read(key)
            if data is not None:
                self._release()
        return data

    def save(self, key, data):
        if MODE != "rw":
            return
        try:
            name = self._data_name_for(key)
            self._save_data(name, data)              # data first, then the index
            fd = _flock(self._index_path + ".lock", LOCK_TIMEOUT)
            try:
                try:
                    overloads = self._load_index()
                except Exception:   # a corrupt index: written anew
                    overloads = {}
                overloads[key] = name
                self._save_index(overloads)
            finally:
                _unlock(fd)
        except OSError as exc:
            # a full or vanished disk, or something in the entry's place:
            # the entry is lost (compiled again by the next process)
            _warn_unsaved(self._index_name, exc)
        finally:
            self._release()

    def _release(self):
        held, self._held = self._held, None
        _unlock(held)


#: Whether this process has said that its read-only cache lacks a kernel.
_ro_miss_told = False

#: Entries this process could not write into the cache.
UNSAVED = []


def _warn_unsaved(index_name, exc):
    """Count an entry the cache could not keep; say so once per process."""
    UNSAVED.append(index_name)
    if len(UNSAVED) == 1:
        warnings.warn(
            f"fastlr's kernel cache {DIRECTORY} could not keep "
            f"{index_name.rsplit('-', 1)[0]} ({exc}): every new process will "
            "compile it again", RuntimeWarning, stacklevel=2)


def _warn_read_only_miss(index_name, index_path):
    """Say, once per process, that the read-only cache lacks a kernel the
    process needs (or cannot be read), which it compiles in memory (again
    in every process)."""
    global _ro_miss_told
    if _ro_miss_told:
        return
    _ro_miss_told = True
    kernel = index_name.rsplit("-", 1)[0]
    if os.path.exists(index_path) and not os.access(index_path, os.R_OK):
        warnings.warn(
            f"fastlr's kernel cache {DIRECTORY} is read-only and this user may "
            f"not read {index_path}: compiling {kernel} in memory, as every new "
            "process will (let this user read the cache's files)",
            RuntimeWarning, stacklevel=2)
        return
    warnings.warn(
        f"fastlr's kernel cache {DIRECTORY} is read-only and lacks {kernel} for "
        "these argument types: compiling it in memory, as every new process "
        "will (run 'python -m fastlr compile' as the cache's owner to add "
        "it)", RuntimeWarning, stacklevel=2)


def _needs_runtime(data):
    """Whether a cached kernel's machine code calls numba's runtime (NRT).
    ``data`` is numba's reduced CompileResult, whose first item is ``(name,
    kind, (object code, bitcode))``; anything else is answered yes."""
    try:
        _, kind, (code, _) = data[0]
    except (TypeError, ValueError):
        return True
    return kind != "object" or not isinstance(code, bytes) or b"NRT_" in code


def load_overload(self, sig, target_context):
    """numba's ``Cache.load_overload`` without its refresh of the whole
    target context.

    Before loading any cached function numba "refreshes" its target
    context: it imports and registers every implementation numba has
    (scipy.linalg included, for BLAS), about a second per process, which is
    what the first call of a cached kernel cost. Running machine code that
    is already compiled needs none of it: only the symbols of numba's C
    helpers (registered when the context is created) and, for code that
    calls it, numba's runtime (NRT), initialized here: kernels compiled
    with ``runtime=False`` (:func:`fastlr._kernels.jit.jit`) do not call
    it, which saves compiling the runtime. A signature missing from the
    cache compiles through numba's compiler, which refreshes the context
    itself.
    """
    from numba.core.runtime import nrt

    # (a first load imports numba modules whose bodies register types, a
    # compile numba's extensions and all of its implementations: a Ctrl-C
    # halfway through one would leave it unimportable, and every later load
    # or compile of the process failing; each such step runs under
    # interrupts_deferred, KernelCacheFile._read's unpickling too, but not
    # the wait for another process's compile)
    with self._guard_against_spurious_io_errors():
        if not self._enabled:
            return None
        key = self._index_key(sig, target_context.codegen())
        data = self._cache_file.load(key)
        if data is None:
            # about to compile: load numba's extensions and implementations
            # first, as numba's own hook and compiler would have (see
            # install); the compiler's own refresh then finds them loaded
            with interrupts_deferred():
                entrypoints.init_all()
                target_context.refresh()
            return None
        with interrupts_deferred():
            if _needs_runtime(data):
                nrt.rtsys.initialize(target_context)
            codegen = target_context.codegen()
            _skip_empty_module(codegen)
            if _LAZY_LINKING:
                # numba's compile lock is held: no other load sees the patch
                codegen.unserialize_library = functools.partial(
                    _unserialize, codegen, fndesc=data[1])
            try:
                return self._impl.rebuild(target_context, data)
            finally:
                vars(codegen).pop("unserialize_library", None)
    return None  # the guard swallowed an I/O error: compile instead


def _unserialize(codegen, state, fndesc):
    """numba's ``CPUCodeLibrary._unserialize`` of a cached kernel, without
    parsing the kernel's LLVM bitcode until something links against it.

    A cached entry holds the machine code, which is what runs, and the
    bitcode, which numba parses at every load only to list the symbols it
    defines and to have it ready for inlining into a later compilation.
    That parse and the listing were about half of a kernel's load (4 of 7-9
    ms, the first ``predict_proba`` of a process). Here the machine code
    loads as numba loads it, the entry point numba looks up next is
    declared from the function's descriptor, and the bitcode is parsed (and
    its symbols listed) the first time a compilation asks for it.
    """
    name, kind, data = state
    if kind != "object":
        return codegen._library_class._unserialize(codegen, state)
    code, bitcode = data
    library = codegen.create_library(name)
    library.enable_object_caching()
    library._set_compiled_object(code)
    library._finalize_final_module()
    codegen._engine._defined_symbols.add(fndesc.llvm_cpython_wrapper_name)

    def module_for_linking():
        if library._shared_module is None:
            library._shared_module = llvm.parse_bitcode(bitcode)
            codegen._engine._load_defined_symbols(library._shared_module)
        return library._shared_module

    library._get_module_for_linking = module_for_linking
    return library


def _skip_empty_module(codegen):
    """Take numba's empty "global" module out of its JIT engine before the
    engine's first finalization, so that loading machine code does not
    compile it.

    numba creates its engine with an empty LLVM module; the engine compiles
    the modules it holds the first time anything is finalized, and setting
    up LLVM's code generation for that empty module was half of the first
    cached kernel's load in a process (2.2 of 4.5 ms; the engine's first
    ``finalize_object``). Nothing is defined in that module or looked up
    in it (numba reads only its triple), and a later compilation sets up
    code generation for its own modules.
    """
    module = getattr(codegen, "_llvm_module", None)
    engine = getattr(getattr(codegen, "_engine", None), "_ee", None)
    if module is not None and module in getattr(engine, "_modules", ()):
        engine.remove_module(module)


#: Whether this numba has what :func:`_unserialize` uses (else numba's own).
_LAZY_LINKING = all(hasattr(numba_codegen.CPUCodeLibrary, a) for a in (
    "_unserialize", "enable_object_caching", "_set_compiled_object",
    "_finalize_final_module", "_get_module_for_linking")) and hasattr(
    numba_codegen.JitEngine, "_load_defined_symbols")


def install(dispatcher):
    """Give a cached dispatcher the concurrency-safe cache file, and the
    loader that skips numba's context refresh (:func:`load_overload`) and
    loads numba's extensions only before a compilation."""
    cache = getattr(dispatcher, "_cache", None)
    old = getattr(cache, "_cache_file", None)
    if isinstance(old, _IndexDataCacheFile):
        cache._cache_file = KernelCacheFile(
            cache_path=old._cache_path,
            filename_base=cache._impl.filename_base,
            source_stamp=old._source_stamp)
        if all(hasattr(cache, a) for a in ("_guard_against_spurious_io_errors",
                                           "_enabled", "_index_key", "_impl")) \
                and hasattr(dispatcher, "_compilation_chain_init_hook"):
            cache.load_overload = types.MethodType(load_overload, cache)
            # a compilation that fails (Ctrl-C in a notebook, an error)
            # releases the signature's lock taken by the cache miss: held,
            # it would stall every other process for LOCK_TIMEOUT
            dispatcher.compile = functools.partial(
                _compile_releasing, dispatcher.compile, cache._cache_file)
            # numba runs this hook before any first call to load the numba
            # extensions of every installed package (it reads the metadata
            # of all of them, 0.1 s); the kernels take only NumPy arrays and
            # scalars, so it waits until a kernel is really compiled
            dispatcher._compilation_chain_init_hook = _no_hook
    return dispatcher


def _no_hook():
    pass


def _compile_releasing(compile, cache_file, sig):
    try:
        return compile(sig)
    finally:
        cache_file._release()   # nothing when save has released it


def _register_locator():
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    if KernelLocator not in impl._locator_classes:
        impl._locator_classes.insert(0, KernelLocator)


_register_locator()
