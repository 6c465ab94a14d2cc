"""fastlr.save killed mid-write: the target stays intact and the temporary
file it leaves is removed by the next save, never while a writer is alive."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastlr
from fastlr import LogisticRegression

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"),
                                reason="needs kill -9")

#: The child loads the model at argv[1] and saves it to argv[2]. With a
#: third argument "pause", the save stops half-written (the temporary file
#: holds a partial archive) and prints "writing"; a line on stdin lets it
#: finish, kill -9 ends it there.
CHILD = """
import sys
import numpy as np
import fastlr

model = fastlr.load(sys.argv[1])
if sys.argv[3:] == ["pause"]:
    real = np.savez

    def paused(f, **arrays):
        f.write(b"PK\\x03\\x04 half of a model")
        f.flush()
        print("writing", flush=True)
        sys.stdin.readline()
        f.seek(0)
        f.truncate()
        real(f, **arrays)

    np.savez = paused
    fastlr.save(model, sys.argv[2])
    print("saved", flush=True)
else:
    while True:  # saves until killed
        fastlr.save(model, sys.argv[2])
        print("saved", flush=True)
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two different fitted models, and the second one saved to a file."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    old = LogisticRegression(max_iter=2, tol=None, random_state=0).fit(X, y)
    new = LogisticRegression(max_iter=9, tol=None, random_state=1).fit(X, y)
    src = tmp_path_factory.mktemp("src") / "new.npz"
    fastlr.save(new, src)
    return old, new, src, X


def start(src, target, *extra):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(target),
                             *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def age(directory, seconds=3600):
    """Make every temporary file look ``seconds`` old."""
    then = time.time() - seconds
    for name in leftovers(directory):
        os.utime(directory / name, (then, then))


def killed_mid_save(src, target):
    with start(src, target, "pause") as child:
        try:
            assert child.stdout.readline() == "writing\n"
        finally:
            child.send_signal(signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL


def test_kill_mid_save_keeps_the_target_and_next_save_cleans_up(tmp_path, models):
    old, new, src, X = models
    target = tmp_path / "model.npz"
    fastlr.save(old, target)
    killed_mid_save(src, target)
    np.testing.assert_array_equal(fastlr.load(target).coef_, old.coef_)
    [stale] = leftovers(tmp_path)
    assert stale.startswith(".model.npz.")
    # just written: it could still be a live writer's on another machine
    fastlr.save(old, target)
    assert leftovers(tmp_path) == [stale]
    age(tmp_path)
    fastlr.save(new, target)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    np.testing.assert_array_equal(fastlr.load(target).coef_, new.coef_)


def test_a_live_writers_file_is_never_removed(tmp_path, models):
    """Two concurrent saves to one target: the one that finishes first does
    not take the other's temporary file for a leftover, however old."""
    old, new, src, X = models
    target = tmp_path / "model.npz"
    with start(src, target, "pause") as child:
        try:
            assert child.stdout.readline() == "writing\n"
            [theirs] = leftovers(tmp_path)
            age(tmp_path)
            fastlr.save(old, target)
            assert leftovers(tmp_path) == [theirs]
            np.testing.assert_array_equal(fastlr.load(target).coef_, old.coef_)
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline() == "saved\n"
        finally:
            child.kill()
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    np.testing.assert_array_equal(fastlr.load(target).coef_, new.coef_)


def test_only_this_targets_own_leftovers_are_removed(tmp_path, models):
    old = models[0]
    target = tmp_path / "model.npz"
    others = [".model.npz.0123456789AB.tmp", ".model.npz.0123456789a.tmp",
              ".model.npz.0123456789ab.tmp.keep", "model.npz.0123456789ab.tmp",
              ".other.npz.0123456789ab.tmp", ".model.npz.0123456789ab.tmpx"]
    for name in others:
        (tmp_path / name).write_bytes(b"not ours")
    (tmp_path / ".model.npz.00000000000d.tmp").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"the target of a link")
    os.symlink(elsewhere, tmp_path / ".model.npz.00000000000c.tmp")
    (tmp_path / ".model.npz.0123456789ab.tmp").write_bytes(b"PK\x03\x04 half")
    age(tmp_path)
    for name in others + ["elsewhere"]:
        os.utime(tmp_path / name, (0, 0))
    fastlr.save(old, target)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*others, "elsewhere", "model.npz", ".model.npz.00000000000d.tmp",
         ".model.npz.00000000000c.tmp"])
    assert elsewhere.read_bytes() == b"the target of a link"


@pytest.mark.slow
def test_kill_loop(tmp_path, models):
    """kill -9 at arbitrary moments of a process that saves in a loop: the
    target is always a whole model, and one save removes what was left."""
    old, new, src, X = models
    target = tmp_path / "model.npz"
    rng = np.random.default_rng(0)
    for i in range(3):
        with start(src, target) as child:
            try:
                assert child.stdout.readline() == "saved\n"
                time.sleep(rng.uniform(0.0, 0.05))
            finally:
                child.send_signal(signal.SIGKILL)
        np.testing.assert_array_equal(fastlr.load(target).coef_, new.coef_)
        assert len(leftovers(tmp_path)) <= i + 1  # at most one per kill
    age(tmp_path)
    fastlr.save(old, target)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
