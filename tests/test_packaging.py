"""The source distribution, built as a distribution would build it."""

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_sdist_holds_every_tracked_file_and_no_cache(tmp_path):
    """Every file git tracks is in the sdist (it held tests/test_*.py but
    not conftest.py, the tests' data, the benchmarks they import or the CI
    script they read: half a suite), and no compiled or cached file is."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs the git checkout")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split("\n")
    tracked = {name for name in tracked if name and name != ".gitignore"}
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".asv", "*.egg-info", "build", "dist", ".venv"))
    # a stray cache beside the sources must stay out
    (src / "fastlr" / "__pycache__").mkdir(exist_ok=True)
    (src / "fastlr" / "__pycache__" / "stray.nbi").write_bytes(b"x")
    out = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir",
                          str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert tracked <= names, sorted(tracked - names)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".nbi", ".nbc"))]


def test_public_submodules_are_attributes_of_a_plain_import():
    """The README's fastlr.persist.ModelFileError and fastlr.io.read_xy
    raised AttributeError after `import fastlr` until something imported
    them; still nothing heavy is imported by `import fastlr` itself."""
    code = ("import sys, fastlr\n"
            "assert 'fastlr.io' not in sys.modules and 'sklearn' not in sys.modules\n"
            "assert {'io', 'persist', 'bench', 'plotting'} <= set(dir(fastlr))\n"
            "assert fastlr.persist.ModelFileError.__module__ == 'fastlr.persist'\n"
            "assert fastlr.io.read_xy.__module__ == 'fastlr.io'\n"
            "assert fastlr.plotting.__name__ == 'fastlr.plotting'\n"
            # (fastlr.distributed needs dask: hasattr and help() would raise
            # its ImportError; it is imported by name)
            "assert 'distributed' not in dir(fastlr)\n"
            "assert getattr(fastlr, 'no_such_thing', None) is None\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "ok"
