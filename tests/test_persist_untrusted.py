"""fastlr.load on hostile files: bounded memory, one exception, no hang.

Every defect of a model file is a ModelFileError; a crafted file (compression
bombs, lying sizes, huge directories or metadata) is refused before the bytes
it declares are read, so loading peaks far below what the file claims; paths
that are not regular files are refused without blocking.
"""

import contextlib
import io
import json
import os
import re
import socket
import stat
import struct
import subprocess
import sys
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastlr
from fastlr import LogisticRegression, persist
from fastlr.persist import ModelFileError

MB = 1 << 20
#: What loading any crafted file may take above the model it describes.
BOUND = 50 * MB
#: Size of the bombs: large enough to show the bound, small enough to be quick.
BOMB = 200 * MB


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = np.array(["no", "yes"])[(X[:, 0] + rng.logistic(size=100) > 0).astype(int)]
    return X, y


@pytest.fixture(scope="module")
def good(tmp_path_factory, data):
    """(path, bytes, predict_proba on data) of a valid model file."""
    X, y = data
    clf = LogisticRegression(lr=0.05, max_iter=5, tol=None, random_state=3,
                             average=2, learning_rate="invscaling").fit(X, y)
    path = tmp_path_factory.mktemp("good") / "model.npz"
    fastlr.save(clf, path, metadata={"data": {"feature_names": ["a", "b", "c"]}})
    return path, path.read_bytes(), fastlr.load(path).predict_proba(X)


def members(raw):
    """``{member name: bytes}`` of a zip archive, in order."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def npy(array):
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=False)
    return out.getvalue()


def npy_header(shape, descr="<f8"):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def zip_bytes(parts, method=zipfile.ZIP_STORED):
    """A zip of ``{name: bytes or iterable of bytes}``, written in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method, compresslevel=1) as zf:
        for name, data in parts.items():
            with zf.open(name, "w", force_zip64=True) as f:
                for chunk in [data] if isinstance(data, bytes) else data:
                    f.write(chunk)
    return out.getvalue()


def zeros(n):
    block = bytes(MB)
    while n > 0:
        yield block[:min(n, MB)]
        n -= MB


def metadata_of(raw):
    return json.loads(np.lib.format.read_array(io.BytesIO(members(raw)[
        "metadata.npy"])).tobytes())


def with_metadata(raw, meta):
    parts = members(raw)
    parts["metadata.npy"] = npy(np.frombuffer(json.dumps(meta).encode(),
                                              dtype=np.uint8))
    return zip_bytes(parts)


def set_declared_size(raw, name, size):
    """The archive with ``name``'s uncompressed size in the directory set to
    ``size`` (a lie: the data are unchanged)."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        start = zf.start_dir
    out = bytearray(raw)
    pos = start
    while out[pos:pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", out[pos + 28:pos + 34])
        if out[pos + 46:pos + 46 + n].decode() == name:
            out[pos + 24:pos + 28] = struct.pack("<I", size)
            return bytes(out)
        pos += 46 + n + m + k
    raise AssertionError(f"no member {name}")


def load_measured(path):
    """``(outcome, peak bytes)``: the model or the ModelFileError, and the
    peak of traced allocations (numpy's buffers included) while loading."""
    tracemalloc.start()
    try:
        try:
            outcome = fastlr.load(path)
        except ModelFileError as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------
# bombs: each refused before its declared bytes are read


def _coef_bomb(raw):
    parts = members(raw)
    parts["coef.npy"] = [npy_header((1, BOMB // 8)), *zeros(BOMB)]
    return zip_bytes(parts, zipfile.ZIP_DEFLATED)


def _metadata_bomb(raw):
    parts = members(raw)
    parts["metadata.npy"] = [npy_header((BOMB,), "|u1"), b'{"a": "',
                             *zeros(BOMB - 9), b'"}']
    return zip_bytes(parts, zipfile.ZIP_DEFLATED)


def _consistent_bomb(raw):
    """Metadata and every header agree on a huge model: only the file's size
    gives the lie away."""
    n = BOMB // 8
    meta = metadata_of(raw)
    meta["n_features_in"] = n
    meta["metadata"] = None
    parts = members(with_metadata(raw, meta))
    for name in ("coef", "mean", "scale", "w"):
        shape = (1, n) if name == "coef" else (n,)
        parts[f"{name}.npy"] = [npy_header(shape), *zeros(8 * n)]
    parts = {name: part for name, part in parts.items()
             if name[:-4] in persist._REQUIRED}  # no optional arrays
    return zip_bytes(parts, zipfile.ZIP_DEFLATED)


def _lying_size_bomb(raw):
    """The directory says coef holds 3 numbers; its deflated data are 200 MB."""
    parts = members(raw)
    parts["coef.npy"] = [npy_header((1, 3)), *zeros(BOMB)]
    bomb = zip_bytes(parts, zipfile.ZIP_DEFLATED)
    return set_declared_size(bomb, "coef.npy", len(npy_header((1, 3))) + 24)


def _json_bomb(raw):
    """Metadata of 3 MB stored (no compression) that parses into ~70 MB of
    empty lists."""
    meta = metadata_of(raw)
    meta["metadata"] = {"x": [[]] * 1_000_000}
    return with_metadata(raw, meta)


def _directory_bomb(raw):
    """A zip of 150,000 empty members: its directory alone is ~7 MB, which
    zipfile would turn into ~100 MB of objects."""
    local, central = bytearray(), bytearray()
    for i in range(150_000):
        name = f"{i:x}".encode()
        central += struct.pack("<4s4H2H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0,
                               0, 0, 0, len(name), 0, 0, 0, 0, 0, len(local)) + name
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0,
                             len(name), 0) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 150_000 & 0xFFFF,
                      150_000 & 0xFFFF, len(central), len(local), 0)
    return bytes(local + central + end)


def _zip64_directory_bomb(raw):
    """70,000 members: more than a classic directory counts, so the sizes
    are in the zip64 end records."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i in range(70_000):
            zf.writestr(f"{i:x}", b"")
    return out.getvalue()


BOMBS = {
    "coef": (_coef_bomb, "declare .* bytes uncompressed"),
    "metadata": (_metadata_bomb, "declare .* bytes uncompressed"),
    "consistent": (_consistent_bomb, "declare .* bytes uncompressed"),
    "lying_size": (_lying_size_bomb, "cannot read the archive.*CRC"),
    "json": (_json_bomb, "metadata holds too many JSON values"),
    "directory": (_directory_bomb, "zip directory declares"),
    "directory_zip64": (_zip64_directory_bomb, "zip directory declares"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(BOMBS))
def test_bombs_are_refused_within_the_memory_bound(tmp_path, good, kind):
    make, words = BOMBS[kind]
    path = tmp_path / f"{kind}.npz"
    path.write_bytes(make(good[1]))
    outcome, peak = load_measured(path)
    assert isinstance(outcome, ModelFileError), outcome
    assert str(outcome).startswith(f"{path}: not a valid fastlr model file")
    assert re.search(words, str(outcome))
    assert peak < BOUND, f"loading took {peak / MB:.1f} MB"


def test_json_cost_bounds_what_parsing_takes():
    """The metadata budget is checked on an estimate: it must be an upper
    bound of what json.loads really allocates, for the worst documents."""
    docs = {
        "empty_lists": "[" + ",".join(["[]"] * 100_000) + "]",
        "empty_objects": "[" + ",".join(["{}"] * 100_000) + "]",
        "short_strings": "[" + ",".join(['"ab"'] * 100_000) + "]",
        "floats": "[" + ",".join(["1.5"] * 100_000) + "]",
        "big_ints": "[" + ",".join(["1" * 30] * 30_000) + "]",
        "keys": "{" + ",".join(f'"{i}":{i}' for i in range(100_000)) + "}",
        "wide_chars": '["' + "\U0001f600" * 100_000 + '", "' + "a" * 100_000 + '"]',
        "names": json.dumps({"feature_names": [f"feature_{i:06d}"
                                               for i in range(50_000)]}),
    }
    for name, text in docs.items():
        tracemalloc.start()
        parsed = json.loads(text)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del parsed
        assert peak <= persist._json_cost(text), name


def test_metadata_within_budget_but_large_loads(tmp_path, data):
    """Feature names recorded in the metadata (as the CLI does) for a wide
    model load: the budget grows with the number of features."""
    rng = np.random.default_rng(1)
    n = 20_000
    X = rng.normal(size=(40, n))
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression(max_iter=1, tol=None, random_state=0).fit(X, y)
    names = [f"a_rather_long_column_name_{i:08d}" for i in range(n)]
    fastlr.save(clf, tmp_path / "wide.npz", metadata={"names": names})
    assert fastlr.persist.read_metadata(tmp_path / "wide.npz")["metadata"][
        "names"] == names


def test_save_refuses_metadata_that_load_would_refuse(tmp_path, data):
    X, y = data
    clf = LogisticRegression(max_iter=1, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="metadata is too large"):
        fastlr.save(clf, tmp_path / "m.npz", metadata={"x": [[]] * 400_000})
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------
# defects once reported as bare exceptions, and others, one by one


def _edit_meta(edit):
    def apply(raw):
        meta = metadata_of(raw)
        edit(meta)
        return with_metadata(raw, meta)
    return apply


def _replace(name, content):
    def apply(raw):
        parts = members(raw)
        parts[name] = content
        return zip_bytes(parts)
    return apply


@pytest.mark.parametrize("make, words", [
    (_edit_meta(lambda m: m.pop("rng_state")), "'rng_state' is missing"),
    (_edit_meta(lambda m: m.pop("metadata")), "'metadata' is missing"),
    (_edit_meta(lambda m: m.__setitem__("rng_state", {
        "bit_generator": "MT19937", "state": {"key": [1, 2, 3], "pos": 0}})),
     "invalid rng_state"),
    (_edit_meta(lambda m: m["rng_state"].__setitem__("state", [1, 2])),
     "invalid rng_state"),
    # numpy takes these positions unchecked; an MT19937 pos past its key
    # crashed the process at the first draw (partial_fit)
    (_edit_meta(lambda m: m.__setitem__("rng_state", {
        "bit_generator": "MT19937", "state": {"key": [1] * 624, "pos": 10**7}})),
     r"invalid rng_state: state.pos is 10000000, outside 0..624"),
    (_edit_meta(lambda m: m.__setitem__("rng_state", {
        "bit_generator": "Philox", "state": {"counter": [0] * 4, "key": [1, 2]},
        "buffer": [0] * 4, "buffer_pos": 10**7, "has_uint32": 0, "uinteger": 0})),
     r"invalid rng_state: buffer_pos is 10000000, outside 0..4"),
    (_replace("coef.npy", b"not an array at all"), "member 'coef' is not .npy data"),
    (_replace("classes.npy", b"\x93NUMPY\x01\x00"), "member 'classes' is truncated"),
    (_replace("w.npy", npy(np.zeros(3))[:-8]), "member 'w' declares 144 bytes"),
    (_replace("w.npy", npy(np.zeros(3, dtype=[("a", "<f8")]))),
     "'w' has unsupported dtype"),
    (_replace("scale.npy", npy(np.zeros((3, 1)))), r"'scale' has shape \(3, 1\)"),
    (_replace("loss_curve.npy", b"\x93NUMPY\x03\x00" + bytes(40)),
     "format version 3.0"),
    (_replace("loss_curve.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31)),
     "header of 2,147,483,648 bytes"),
    (_replace("coef", npy(np.zeros((1, 3)))), "'coef' is not .npy data"),
    (lambda raw: zip_bytes({**members(raw), "b.npy": npy(np.zeros(1)),
                            "x/": b""}), "unexpected arrays"),
    (lambda raw: raw[:-22] + raw[-22:-10] + struct.pack("<L", 10 * MB) + raw[-6:],
     "zip directory declares 10,485,760 bytes"),
    (lambda raw: set_declared_size(raw, "mean.npy", 10**9), "declare"),
    (lambda raw: set_declared_size(raw, "mean.npy", 130), "Bad CRC-32"),
], ids=["no_rng_state", "no_metadata_key", "mt19937_short_key", "state_list",
        "mt19937_pos", "philox_buffer_pos",
        "not_npy", "npy_truncated", "npy_short", "structured", "shape",
        "npy_version", "huge_header", "member_without_suffix", "extra_member",
        "directory_size", "size_lie_large", "size_lie_small"])
def test_each_defect_is_a_model_file_error(tmp_path, good, make, words):
    path = tmp_path / "bad.npz"
    path.write_bytes(make(good[1]))
    with pytest.raises(ModelFileError, match=words) as exc:
        fastlr.load(path)
    assert str(exc.value).startswith(f"{path}: not a valid fastlr model file")


def test_duplicate_members_are_refused(tmp_path, good):
    raw = good[1]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members(raw).items():
            zf.writestr(name, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("coef.npy", npy(np.zeros((1, 3))))
    path = tmp_path / "dup.npz"
    path.write_bytes(out.getvalue())
    with pytest.raises(ModelFileError, match="'coef.npy' appears twice"):
        fastlr.load(path)


def test_compressed_members_load(tmp_path, good, data):
    """Deflated members are read (the format stores them, but a recompressed
    file is still the same model)."""
    path = tmp_path / "deflated.npz"
    path.write_bytes(zip_bytes(members(good[1]), zipfile.ZIP_DEFLATED))
    np.testing.assert_array_equal(fastlr.load(path).predict_proba(data[0]), good[2])


# --------------------------------------------------------------------------
# the fuzz test: load returns the same model or raises ModelFileError


def _flip(raw, draw):
    out = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(out) - 1))
        out[pos] ^= draw(st.integers(1, 255))
    return bytes(out)


_GARBAGE = [
    b"", b"garbage", b"\x93NUMPY", b"\x93NUMPY\x01\x00\xff\xff",
    npy(np.zeros(0)), npy(np.zeros((2, 2, 2))), npy(np.arange(3)),
    npy(np.array(["a", "b", "c"])), npy(np.zeros(3, dtype=np.float16)),
    npy(np.full(3, np.nan)), npy(np.zeros(1, dtype="V8")), npy(np.zeros(1 << 16)),
]


def _replace_member(raw, draw):
    parts = members(raw)
    name = draw(st.sampled_from(sorted(parts)))
    how = draw(st.sampled_from(["garbage", "remove", "rename", "truncate",
                                "reshape", "retype"]))
    if how == "garbage":
        parts[name] = draw(st.sampled_from(_GARBAGE))
    elif how == "remove":
        del parts[name]
    elif how == "rename":
        parts[draw(st.sampled_from(["x.npy", "coef", "COEF.npy", name + ".npy"]))] = \
            parts.pop(name)
    else:
        array = np.lib.format.read_array(io.BytesIO(parts[name]))
        if how == "truncate":
            parts[name] = parts[name][:draw(st.integers(0, len(parts[name]) - 1))]
        elif how == "reshape":
            parts[name] = npy(np.resize(array, array.size + draw(st.integers(1, 3))))
        else:
            dtype = draw(st.sampled_from(["<f4", "<i8", ">f8", "<U4", "|u1", "<c16"]))
            parts[name] = npy(array.astype(dtype) if array.dtype.kind != "U"
                              else np.zeros(array.shape, dtype))
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    return zip_bytes(parts, method)


_JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _edit_metadata(raw, draw):
    meta = metadata_of(raw)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "params", "rng_state", "state"]))
        target = {"top": meta, "params": meta.get("params"),
                  "rng_state": meta.get("rng_state")}.get(where)
        if where == "state" and isinstance(meta.get("rng_state"), dict):
            target = meta["rng_state"].get("state")
        if not isinstance(target, dict) or not target:
            continue
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(_JSON_VALUES)
    return with_metadata(raw, meta)


def _lie_about_size(raw, draw):
    name = draw(st.sampled_from(sorted(members(raw))))
    size = draw(st.one_of(st.integers(0, 4096), st.integers(0, 2**32 - 1)))
    return set_declared_size(raw, name, size)


MUTATIONS = {"flip": _flip, "member": _replace_member, "metadata": _edit_metadata,
             "size": _lie_about_size}


@pytest.mark.slow
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(draw=st.data(), kind=st.sampled_from(sorted(MUTATIONS)))
def test_mutated_files_load_identically_or_raise_model_file_error(
        tmp_path, good, data, draw, kind):
    """Whatever is done to a valid file, load returns a model that predicts
    exactly as the original or raises ModelFileError (nothing else), and
    stays within the memory bound."""
    raw = MUTATIONS[kind](good[1], draw.draw)
    path = tmp_path / "mutated.npz"
    path.write_bytes(raw)
    outcome, peak = load_measured(path)
    assert peak < BOUND, f"loading took {peak / MB:.1f} MB"
    if not isinstance(outcome, ModelFileError):
        np.testing.assert_array_equal(outcome.predict_proba(data[0]), good[2])


# --------------------------------------------------------------------------
# paths that are not regular files


def _refused(call, words):
    with pytest.raises(ModelFileError, match=words) as exc:
        call()
    return exc.value


_LOAD_IN_A_BOX = """
import resource, sys
# a regression would read /dev/zero without end: fail at 2 GB instead
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
import fastlr
for path in sys.argv[1:]:
    try:
        fastlr.load(path)
    except fastlr.persist.ModelFileError as exc:
        print(exc)
"""


@pytest.mark.skipif(not os.path.exists("/dev/zero") or sys.platform != "linux",
                    reason="needs /dev/zero and RLIMIT_AS")
def test_devices_and_links_to_them_are_refused(tmp_path):
    os.symlink("/dev/zero", tmp_path / "model.npz")
    proc = subprocess.run([sys.executable, "-c", _LOAD_IN_A_BOX, "/dev/zero",
                           str(tmp_path / "model.npz")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"{path}: not a valid fastlr model file: is a character device, not a "
        "regular file; fastlr reads only regular files (a device, pipe or "
        "socket may never end or never answer)"
        for path in ("/dev/zero", tmp_path / "model.npz")]


@contextlib.contextmanager
def no_blocking_on(fifo, seconds=10):
    """Fail (rather than hang) if opening ``fifo`` for reading blocks: after
    ``seconds``, writers keep opening it, which releases blocked readers."""
    done = threading.Event()
    blocked = []

    def release():
        if done.wait(seconds):
            return
        blocked.append(True)
        while not done.wait(0.05):
            try:  # succeeds only while a reader waits in open()
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        assert not blocked, f"opening {fifo} blocked"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path, monkeypatch):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with no_blocking_on(fifo):
        _refused(lambda: fastlr.load(fifo), r"is a FIFO \(named pipe\)")
    # a path that passes the first check but is a FIFO when opened (a race):
    # the open must not wait for a writer, and the second check refuses it
    import fastlr._files as files

    real_stat = os.stat
    regular = real_stat(__file__)
    monkeypatch.setattr(files.os, "stat",
                        lambda p, *a, **k: regular if os.fspath(p) == str(fifo)
                        else real_stat(p, *a, **k))
    with no_blocking_on(fifo):
        _refused(lambda: fastlr.load(fifo), "FIFO")


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no unix sockets")
def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.npz"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        _refused(lambda: fastlr.load(path), "is a socket")


def test_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        fastlr.load(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_save_refuses_a_target_that_is_not_a_regular_file(tmp_path, data):
    X, y = data
    clf = LogisticRegression(max_iter=1, tol=None).fit(X, y)
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    os.symlink(fifo, tmp_path / "link.npz")
    for target in (fifo, tmp_path / "link.npz"):
        with pytest.raises(OSError, match="FIFO") as exc:
            fastlr.save(clf, target)
        assert exc.value.filename == str(target)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # untouched
    with pytest.raises(IsADirectoryError):
        fastlr.save(clf, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["fifo.npz", "link.npz"]


def test_save_refuses_a_path_that_names_no_file(tmp_path, data, monkeypatch):
    """An empty path, or one ending with a separator: abspath dropped the
    separator, so the temporary file was made in the folder above (the
    parent of the working directory for ""), and the error named that
    temporary file, not the path given."""
    X, y = data
    clf = LogisticRegression(max_iter=1, tol=None).fit(X, y)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for target in ("", "new/", str(work) + os.sep):
        with pytest.raises(ValueError, match=r"cannot write the model file: the "
                                             rf"path {re.escape(repr(target))} "
                                             "names no file"):
            fastlr.save(clf, target)
    assert os.listdir(tmp_path) == ["work"] and os.listdir(work) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_cli_predict_with_a_fifo_model_fails_at_once(tmp_path):
    """Through the command line: one error line, exit 1, no hang."""
    os.mkfifo(tmp_path / "m.npz")
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    proc = subprocess.run([sys.executable, "-m", "fastlr", "predict", "--model",
                           str(tmp_path / "m.npz"), str(tmp_path / "d.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("fastlr: error: ")
    assert "is a FIFO (named pipe), not a regular file" in proc.stderr



@pytest.mark.parametrize("unit, words", [(0x110000, "U+110000, beyond U+10FFFF"),
                                         (0xDFFF, "U+DFFF, a lone surrogate")])
def test_text_that_is_not_unicode_is_a_model_file_error(tmp_path, data, unit, words):
    """A feature name with the code point 0x110000 made load raise a bare
    SystemError (str() of it); a lone surrogate loaded, and the CLI's
    predict and export then failed on a codec error naming nothing."""
    X, y = data
    clf = LogisticRegression(max_iter=2, tol=None, solver="sgd")
    clf.fit(X, y)   # (labels 'no' and 'yes')
    clf.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)
    path = tmp_path / "m.npz"
    fastlr.save(clf, path)
    for name in ("feature_names", "classes"):
        parts = members(path.read_bytes())
        text = np.lib.format.read_array(io.BytesIO(parts[f"{name}.npy"]))
        units = text.view(np.uint32).copy()
        units[-1] = unit   # (the last: classes stay sorted)
        parts[f"{name}.npy"] = npy(units.view(text.dtype))
        bad = tmp_path / f"bad_{name}.npz"
        bad.write_bytes(zip_bytes(parts))
        with pytest.raises(ModelFileError, match=re.escape(
                f"array '{name}' holds the code point {words}")):
            fastlr.load(bad)


def test_save_refuses_text_that_load_would_refuse(tmp_path, data):
    X, y = data
    y = (y == "yes").astype(int)
    path = tmp_path / "m.npz"
    clf = LogisticRegression(max_iter=2, tol=None, solver="sgd")
    for labels in (np.array(["ok", "bad\udfff"]),
                   np.array(["ok", "bad\udfff"], dtype=object)):
        clf.fit(X, labels[y])
        with pytest.raises(ValueError, match="classes_ .* a label holds the code "
                           "point U[+]DFFF, a lone surrogate"):
            fastlr.save(clf, path)
    clf.fit(X, y)
    clf.feature_names_in_ = np.array(["a", "b\ud800", "c"], dtype=object)
    with pytest.raises(ValueError, match="feature_names_in_ .* a name holds"):
        fastlr.save(clf, path)
    assert list(tmp_path.iterdir()) == []
