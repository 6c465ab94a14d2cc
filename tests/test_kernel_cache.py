"""The on-disk kernel cache (fastlr._kernels.cache): it cannot serve stale
code, tolerates concurrent first use, works from a read-only install, and
leaves nothing inside the package that could shadow a later install.

Each test runs fastlr from a private copy of the package in a subprocess,
with its own cache location, so that nothing here touches the cache the
rest of the suite uses.
"""

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import fastlr

PACKAGE = Path(fastlr.__file__).resolve().parent
ROOT = PACKAGE.parent

#: trains with AdaGrad on dense X: the dense epoch (dense.py) inlines the
#: update rule (update.py), which reads ADAGRAD_EPS.
TRAIN = """
import json, os, sys, warnings
warnings.simplefilter("always")
import numpy as np
import fastlr
from fastlr._kernels import cache
rng = np.random.default_rng(0)
X = rng.normal(size=(400, 5)); y = (X[:, 0] > 0).astype(int)
res = fastlr.train(X, y, epochs=2, lr=0.1, learning_rate="adagrad", random_state=0)
print(json.dumps({"w": res.w.tolist(), "mode": cache.MODE,
                  "directory": cache.DIRECTORY}))
"""


#: after TRAIN: kernels for argument types TRAIN did not use (two misses).
MISS = """
from fastlr._kernels import scalar
scalar.sigmoid(np.float32(0.5)); scalar.softplus(np.float32(0.5))
"""


def _copy_package(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "fastlr",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _run(site, code, env=None, timeout=600, prefix=None):
    full = {k: v for k, v in os.environ.items()
            if k not in ("FASTLR_CACHE_DIR", "FASTLR_NUMBA_CACHE")}
    full["PYTHONPATH"] = str(site)
    full.update(env or {})
    cmd = [sys.executable, "-c", textwrap.dedent(code)]
    if prefix:
        cmd = prefix + cmd
    # run from the copy's directory: "python -c" puts the working directory
    # first on sys.path, which would find the checkout's fastlr
    return subprocess.run(cmd, env=full, capture_output=True, text=True,
                          timeout=timeout, cwd=site)


def _result(proc):
    import json

    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_changed_constant_in_another_kernel_file_is_seen(tmp_path):
    """numba checks only the defining file of a cached function: a kernel of
    dense.py with the update rule of update.py inlined would keep the old
    constant. The cache guard keys the cache on every kernel file."""
    site = _copy_package(tmp_path)
    env = {"FASTLR_CACHE_DIR": str(tmp_path / "cache")}
    before = _result(_run(site, TRAIN, env))
    again = _result(_run(site, TRAIN, env))   # from the cache
    assert again == before
    update = site / "fastlr" / "_kernels" / "update.py"
    text = update.read_text()
    assert "ADAGRAD_EPS = 1e-8" in text
    update.write_text(text.replace("ADAGRAD_EPS = 1e-8", "ADAGRAD_EPS = 10.0"))
    after = _result(_run(site, TRAIN, env))
    assert after["directory"] != before["directory"]
    assert after["w"] != before["w"]
    # what a fresh compilation of the changed code gives
    fresh = _result(_run(site, TRAIN, {"FASTLR_NUMBA_CACHE": "0"}))
    assert after["w"] == fresh["w"]


@pytest.mark.slow
def test_concurrent_first_use_on_an_empty_cache(tmp_path):
    """Six processes started at once on an empty cache all succeed with
    identical results (one compiles each kernel, the others wait and load)."""
    site = _copy_package(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTLR_CACHE_DIR", "FASTLR_NUMBA_CACHE")}
    env.update(PYTHONPATH=str(site), FASTLR_CACHE_DIR=str(tmp_path / "cache"))
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", TRAIN], env=env, cwd=site,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    outs = [p.communicate(timeout=900) for p in procs]
    elapsed = time.monotonic() - t0
    results = []
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        results.append(out.strip().splitlines()[-1])
    assert len(set(results)) == 1
    print(f"6 concurrent first uses: {elapsed:.1f} s")


def _read_only_runner(paths):
    """A command prefix that runs the child with ``paths`` read-only, or
    None where that cannot be arranged. As root (who may write anywhere),
    read-only bind mounts in a private mount namespace (``unshare``); as
    another user, permissions do."""
    if os.geteuid() != 0:
        for p in paths:
            for dirpath, _, _ in os.walk(p):
                os.chmod(dirpath, 0o555)
        return []
    if shutil.which("unshare") is None:
        return None
    mounts = " && ".join(f"mount --bind -o ro '{p}' '{p}'" for p in paths)
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"{mounts} && true"],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    return ["unshare", "-m", "sh", "-c", f'{mounts} && exec "$0" "$@"']


@pytest.mark.slow
def test_read_only_install(tmp_path):
    """With the package, the environment and HOME read-only, fastlr imports
    and trains: from a cache filled beforehand (``python -m fastlr compile``
    or any use while it was writable) when there is one, else compiling in
    memory with one warning."""
    site = _copy_package(tmp_path)
    prefix_cache = tmp_path / "prefix-cache"
    home = tmp_path / "home"
    tmp = tmp_path / "tmp"
    for d in (prefix_cache, home, tmp):
        d.mkdir()
    # fill the cache while it is writable
    filled = _result(_run(site, TRAIN, {"FASTLR_CACHE_DIR": str(prefix_cache)}))
    runner = _read_only_runner([site, prefix_cache, home, tmp])
    if runner is None:
        pytest.skip("cannot make directories read-only here (no unshare)")
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "TMPDIR": str(tmp)}
    ro = _run(site, TRAIN, {**env, "FASTLR_CACHE_DIR": str(prefix_cache)},
              prefix=runner)
    got = _result(ro)
    assert got["mode"] == "ro" and got["w"] == filled["w"]
    assert "Warning" not in ro.stderr
    # a kernel the filled cache lacks (float32 here) compiles in memory,
    # and the process says so once
    miss = _run(site, TRAIN + MISS, {**env, "FASTLR_CACHE_DIR": str(prefix_cache)},
                prefix=runner)
    assert miss.returncode == 0, miss.stderr
    assert miss.stderr.count("RuntimeWarning") == 1
    assert f"kernel cache {prefix_cache}" in miss.stderr
    assert "is read-only and lacks scalar.sigmoid" in miss.stderr
    # nothing filled and nothing writable: compile in memory, warn once
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = _read_only_runner([site, empty, home, tmp])
    none = _run(site, TRAIN, {**env, "FASTLR_CACHE_DIR": str(empty)},
                prefix=runner)
    got = _result(none)
    assert got["mode"] == "none" and got["w"] == filled["w"]
    assert none.stderr.count("RuntimeWarning") == 1
    # naming the directory given, not asking for the variable already set
    assert f"FASTLR_CACHE_DIR's kernel directory {empty}{os.sep}" in none.stderr
    assert "(it is neither writable nor filled by" in none.stderr


@pytest.mark.slow
def test_reinstall_leaves_nothing_that_shadows_the_package(tmp_path):
    """pip install ., use, then pip install -e .: the second install imports
    a working fastlr (a cache inside the package directory used to survive
    the uninstall and turn into an empty namespace package)."""
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("needs the source tree (fastlr is imported from an install)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                   check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig."
                           "get_paths()['purelib'])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    # the dependencies (and pip, setuptools) come from this environment
    import sysconfig

    Path(site, "_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        "__pycache__", ".git", ".asv", "*.egg-info", "build", "dist", ".venv"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    pip = [str(py), "-m", "pip", "install", "--quiet", "--no-deps"]
    use = [str(py), "-c", "import numpy as np, fastlr; X = np.eye(4); "
           "print(fastlr.train(X, [0, 1, 0, 1], epochs=1).w.shape)"]
    for step in (pip + [str(src)], use, pip + ["-e", str(src)], use):
        out = subprocess.run(step, capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=600)
        assert out.returncode == 0, out.stderr
    assert not Path(site, "fastlr").exists()


def test_a_copy_under_another_name_has_its_own_cache(tmp_path):
    """Cached kernels name their module: a copy of the package imported
    under another name (vendored) must not share this one's entries, or it
    would load functions of a module it cannot import."""
    site = _copy_package(tmp_path)
    shutil.copytree(site / "fastlr", site / "fastlr_vendored")
    env = {"FASTLR_CACHE_DIR": str(tmp_path / "cache")}
    code = """
    import json
    import {name}._kernels.cache as cache
    print(json.dumps({{"fingerprint": cache.fingerprint(),
                       "directory": cache.DIRECTORY}}))
    """
    ours = _result(_run(site, code.format(name="fastlr"), env))
    theirs = _result(_run(site, code.format(name="fastlr_vendored"), env))
    assert ours["fingerprint"] != theirs["fingerprint"]
    assert ours["directory"] != theirs["directory"]


def test_the_table_of_schedule_names_is_part_of_the_fingerprint(tmp_path):
    """A schedule's kernel code is its position in ``fastlr/_choices.py``
    (outside the kernel package): reordering that table must give another
    cache directory, or cached kernels would read the old codes."""
    site = _copy_package(tmp_path)
    code = "from fastlr._kernels import cache; print(cache.fingerprint())"
    env = {"FASTLR_CACHE_DIR": str(tmp_path / "cache")}
    before = _run(site, code, env).stdout.split()[-1]
    path = site / "fastlr" / "_choices.py"
    text = path.read_text()
    old = 'LEARNING_RATES = ("constant", "invscaling",'
    assert old in text
    new = 'LEARNING_RATES = ("invscaling", "constant",'
    path.write_text(text.replace(old, new))
    assert _run(site, code, env).stdout.split()[-1] != before


#: calls a kernel, counting the LLVM bitcode parses of its load and
#: noting whether numba's empty module is still in its JIT engine after it;
#: then compiles a new function that calls it (which links the kernel's
#: bitcode)
LINKED = """
import json
import llvmlite.binding as llvm
import numba
import numpy as np
from numba.core.registry import cpu_target
from fastlr._kernels import predict

parses = []
parse = llvm.parse_bitcode
llvm.parse_bitcode = lambda data: parses.append(len(data)) or parse(data)
X = np.arange(6.0).reshape(3, 2); W = np.array([[0.5, -1.0]]); B = np.array([0.25])
out = np.empty(3)
predict.decision(X, W, B, predict.LINK_NONE, out, False, 0, 3)
loaded = len(parses)
codegen = cpu_target.target_context.codegen()
empty_in_engine = codegen._llvm_module in codegen._engine._ee._modules

@numba.njit
def caller(X, W, B, out):
    return predict.decision(X, W, B, predict.LINK_NONE, out, False, 0, X.shape[0])

out2 = np.empty(3)
caller(X, W, B, out2)
print(json.dumps({"loaded": loaded, "linked": len(parses) - loaded,
                  "empty_in_engine": empty_in_engine,
                  "out": out.ravel().tolist(), "out2": out2.ravel().tolist()}))
"""


def test_a_cached_kernel_loads_without_its_bitcode_and_still_links(tmp_path):
    """Loading a cached kernel parses none of its LLVM bitcode (half of a
    load's cost) and leaves numba's empty module out of the JIT engine (so
    that the engine's first finalization compiles nothing); a later
    compilation that calls the kernel still gets it, and computes what the
    kernel computes."""
    site = _copy_package(tmp_path)
    env = {"FASTLR_CACHE_DIR": str(tmp_path / "cache")}
    first = _result(_run(site, LINKED, env))     # compiles and saves
    second = _result(_run(site, LINKED, env))    # loads from the cache
    assert second["loaded"] == 0
    assert not second["empty_in_engine"]
    assert second["linked"] >= 1
    expected = [0.5 * x0 - x1 + 0.25 for x0, x1 in ((0, 1), (2, 3), (4, 5))]
    assert first["out"] == second["out"] == second["out2"] == expected


def test_a_failed_compilation_releases_its_lock(tmp_path):
    """A cache miss takes the signature's lock, which save releases; a
    compilation interrupted before save (Ctrl-C in a notebook, an error)
    held it until the process ended, and every other process sharing the
    cache waited LOCK_TIMEOUT (600 s) for it. The dispatchers' compile now
    releases it whatever happens."""
    import functools

    from fastlr._kernels import cache, dense

    assert isinstance(dense.epoch.compile, functools.partial)
    cache_file = dense.epoch._cache._cache_file
    lock = str(tmp_path / "signature.lock")
    cache_file._held = cache._flock(lock, 1.0)
    assert cache._flock(lock, 0.0) is None    # held: another process would wait

    def interrupted(sig):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache._compile_releasing(interrupted, cache_file, ())
    assert cache_file._held is None
    fd = cache._flock(lock, 0.0)
    assert fd is not None
    cache._unlock(fd)


def test_a_ctrl_c_while_waiting_for_another_compile_is_raised_at_once(tmp_path):
    """A kernel load holds Ctrl-C back while numba's modules are imported
    (fastlr._process.interrupts_deferred), not while it waits for another
    process compiling the same kernel (up to LOCK_TIMEOUT, 600 s)."""
    code = """
        import _thread, signal, time
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import numpy as np
        from fastlr._kernels import cache, scalar

        def waiting(path, timeout):   # as for another process's compile
            t0 = time.monotonic()
            try:
                _thread.interrupt_main()
                time.sleep(5)
            except KeyboardInterrupt:
                print("raised after", round(time.monotonic() - t0))
                raise
            print("not raised while waiting")

        cache._flock = waiting
        try:
            scalar.sigmoid(np.float64(0.5))
        except KeyboardInterrupt:
            pass
    """
    out = _run(PACKAGE.parent, code, env={"FASTLR_CACHE_DIR": str(tmp_path)},
               timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "raised after 0", out.stdout


def test_a_relative_cache_dir_is_made_absolute_at_import(tmp_path):
    """FASTLR_CACHE_DIR=cache was resolved again at each use: a process
    that changed directory after import (a daemon, a notebook) missed its
    warm cache, scattered new ones, or failed where it could not write."""
    site = _copy_package(tmp_path)
    proc = _run(site, """
        import json
        from fastlr._kernels import cache
        print(json.dumps({"directory": cache.DIRECTORY}))
        """, env={"FASTLR_CACHE_DIR": "rel-cache"})
    directory = _result(proc)["directory"]
    assert os.path.isabs(directory)
    assert directory.startswith(str(site / "rel-cache"))


def test_a_corrupt_cache_entry_is_a_miss(tmp_path):
    """A truncated entry (a full disk, a killed writer) made every call of
    the kernel fail with an UnpicklingError, in every process, until the
    directory was deleted by hand; it is now compiled again and written
    over."""
    site = _copy_package(tmp_path)
    env = {"FASTLR_CACHE_DIR": str(tmp_path / "cache")}
    code = """
        import json
        import numpy as np
        import fastlr
        from fastlr._kernels import cache
        p = fastlr.sigmoid(np.array([0.0, 1.0]))
        print(json.dumps({"p": p.tolist(), "directory": cache.DIRECTORY}))
        """
    first = _result(_run(site, code, env=env))
    entries = [p for p in Path(first["directory"]).iterdir()
               if p.suffix in (".nbc", ".nbi")]
    assert entries
    for path in entries:
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    for _ in range(2):   # compiled again and written over, then loaded
        assert _result(_run(site, code, env=env))["p"] == first["p"]


def test_pruning_keeps_directories_in_recent_use(tmp_path):
    """Each install's import touches its own fingerprint directory; pruning
    beyond the KEEP newest deleted a filled directory that a long-running
    process of another install was loading from. Only directories unused
    for PRUNE_AGE go."""
    from fastlr._kernels import cache

    now = time.time()
    ages = {f"{i:020x}": age for i, age in enumerate(
        [0, 10, 20, 30, 3600, cache.PRUNE_AGE + 60, cache.PRUNE_AGE + 120])}
    for name, age in ages.items():
        d = tmp_path / name
        d.mkdir()
        (d / "k.nbi").write_bytes(b"x")
        os.utime(d, (now - age, now - age))
    cache._prune(str(tmp_path), cache.KEEP)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {n for n, age in ages.items() if age < cache.PRUNE_AGE}


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="a system without uids")
@pytest.mark.parametrize("how", ["fresh", "earlier", "open", "link", "other_user",
                                 "planted"])
def test_the_temporary_directory_is_used_only_while_it_is_private(tmp_path,
                                                                  monkeypatch, how):
    """The last fallback, <tempdir>/fastlr-<uid>, lives in a directory every
    user may write: made 0o700, it is used while it is this user's own
    directory, closed to others (one of this user's that was open, as
    earlier versions made it, is closed) and holding nothing of another
    user's. A fastlr-<uid> made first by someone else, a link, or one
    holding another user's files is never read: numba's index files are
    pickles, and loading another user's ran their code in this process."""
    import warnings

    from fastlr._kernels import cache

    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(cache.tempfile, "tempdir", str(shared))
    monkeypatch.delenv("FASTLR_CACHE_DIR", raising=False)
    monkeypatch.setattr(cache, "_roots", lambda: [cache._temp_root()])
    root = Path(cache._temp_root())
    if how == "earlier":   # as the previous version made it (umask 022)
        root.mkdir()
        root.chmod(0o755)
    elif how == "open":      # (umask 002, or by hand), holding this user's files
        (root / "0123").mkdir(parents=True)
        (root / "0123" / "k.nbi").write_bytes(b"")
        root.chmod(0o777)
    elif how == "planted":   # another user's file in this user's open directory
        if os.getuid() != 0:
            pytest.skip("making a file of another user needs root")
        (root / cache.fingerprint()).mkdir(parents=True)
        planted = root / cache.fingerprint() / "k.nbi"
        planted.write_bytes(b"")
        os.chown(planted, 65534, 65534)
        root.chmod(0o777)
    elif how == "link":
        mine = tmp_path / "elsewhere"
        mine.mkdir(mode=0o700)
        root.symlink_to(mine)
    elif how == "other_user":
        if os.getuid() != 0:
            pytest.skip("making a directory of another user needs root")
        root.mkdir(mode=0o700)
        os.chown(root, 65534, 65534)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        directory, mode = cache._select()
    if how in ("fresh", "earlier", "open"):
        assert (directory, mode) == (str(root / cache.fingerprint()), "rw")
        assert root.stat().st_mode & 0o777 == 0o700
        assert not caught
    else:
        assert (directory, mode) == (None, "none")
        assert "no writable or pre-filled directory" in str(caught[0].message)
        assert f"{root} is not a directory of this user closed to others" in str(
            caught[0].message)
        if how != "planted":
            assert not any(p.name.endswith(".nbi") for p in root.rglob("*"))


def test_numba_settings_that_change_the_code_have_their_own_cache():
    """numba keys a cached entry by its argument types and the CPU, not by
    the optimization level or bounds checks: one process run with
    NUMBA_OPT=0 left unoptimized kernels that every later process loaded,
    and one with NUMBA_LOOP_VECTORIZE=0 kernels whose sums round otherwise
    (later processes' models differed in the last bit). Those settings are
    part of the fingerprint."""
    code = "from fastlr._kernels import cache; print(cache.fingerprint())"
    settings = {"opt0": {"NUMBA_OPT": "0"}, "bounds": {"NUMBA_BOUNDSCHECK": "1"},
                "noloop": {"NUMBA_LOOP_VECTORIZE": "0"},
                "slp": {"NUMBA_SLP_VECTORIZE": "1"}}
    names = {k for env in settings.values() for k in env}
    prints = {}
    for name, env in (("default", {}), *settings.items()):
        full = {k: v for k, v in os.environ.items() if k not in names}
        proc = subprocess.run([sys.executable, "-c", code], env={**full, **env},
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        prints[name] = proc.stdout.split()[-1]
    assert len(set(prints.values())) == len(prints), prints


def test_an_entry_the_cache_cannot_keep_is_said(tmp_path):
    """Something in the place of a kernel's index file (a directory, left by
    a broken restore): every process compiled the kernel again, silently,
    and `fastlr compile` exited 0. The lost entry is now said once per
    process and counted (`fastlr compile` then exits 1)."""
    code = """
    import json, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        import numpy as np
        from fastlr._kernels import cache, scalar
        v = float(scalar.sigmoid(np.float32(0.5)))
    print(json.dumps({"v": v, "unsaved": cache.UNSAVED,
                      "said": [str(w.message) for w in caught],
                      "dir": cache.DIRECTORY}))
    """
    first = _result(_run(ROOT, code, {"FASTLR_CACHE_DIR": str(tmp_path / "a")}))
    names = [p.name for p in Path(first["dir"]).glob("*sigmoid*.nbi")]
    assert names and not first["unsaved"] and not first["said"]
    fp = Path(first["dir"]).name
    for name in names:
        (tmp_path / "b" / fp / name).mkdir(parents=True)
    second = _result(_run(ROOT, code, {"FASTLR_CACHE_DIR": str(tmp_path / "b")}))
    assert second["v"] == first["v"]
    assert second["unsaved"] and len(second["said"]) == 1
    assert "could not keep" in second["said"][0]
    assert "every new process will compile it again" in second["said"][0]


def test_something_in_the_place_of_the_kernel_directory_is_named(tmp_path):
    """FASTLR_CACHE_DIR writable, but a file where its fingerprint directory
    belongs: the warning said the variable's directory was not writable;
    it names the file in the way."""
    from fastlr._kernels import cache

    stray = tmp_path / cache.fingerprint()
    stray.write_text("not a directory")
    proc = _run(ROOT, TRAIN, {"FASTLR_CACHE_DIR": str(tmp_path)})
    got = _result(proc)
    assert got["mode"] == "none"
    assert proc.stderr.count("RuntimeWarning") == 1
    assert (f"FASTLR_CACHE_DIR's kernel directory {stray} cannot be used "
            "(something that is not a directory is in its place: remove it)"
            ) in proc.stderr.replace("\n", " ")


def test_a_cache_variable_naming_a_file_is_said_so(tmp_path):
    """FASTLR_CACHE_DIR set to a regular file: the warning said its kernel
    directory was "neither writable nor filled by compile", which sent the
    user to compile; it now says the variable names no directory."""
    file = tmp_path / "cachefile"
    file.write_text("")
    proc = _run(ROOT, """
        import json
        from fastlr._kernels import cache
        print(json.dumps(cache.info()))
        """, {"FASTLR_CACHE_DIR": str(file)})
    assert _result(proc)["mode"] == "none"
    assert proc.stderr.count("RuntimeWarning") == 1
    assert (f"FASTLR_CACHE_DIR is {file}, which is not a directory (set it to "
            "a folder for fastlr's compiled kernels); every process compiles them "
            "again") in proc.stderr.replace("\n", " ")
    assert "neither writable" not in proc.stderr
