import numpy as np
import pytest


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param


@pytest.fixture(params=[0, 1, 42], ids=lambda s: f"seed{s}")
def seed(request):
    """Tests must pass for any seed in 0..99 (sklearn's global_random_seed)."""
    return request.param


@pytest.fixture
def blobs(seed):
    """A standardized-scale, roughly linearly separable binary problem."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 5))
    w = rng.normal(size=5)
    y = (X @ w + 0.3 + 0.5 * rng.normal(size=400) > 0).astype(int)
    return X, y


@pytest.fixture
def busy_cores():
    """A context manager: four processes spinning on the cores while it is
    open (the machine a threaded epoch shares with other work)."""
    import contextlib
    import subprocess
    import sys

    @contextlib.contextmanager
    def busy(processes=4):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(processes)]
        try:
            yield
        finally:
            for p in spinners:
                p.kill()
                p.wait()

    return busy


@pytest.fixture
def traced_peak():
    """``traced_peak(call)``: ``(call(), the peak of the memory tracemalloc
    traced while it ran)`` (NumPy's arrays are traced)."""
    import tracemalloc

    def run(call):
        tracemalloc.start()
        try:
            out = call()
            return out, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    return run


@pytest.fixture
def map_rows_calls(monkeypatch):
    """A list to which every :func:`fastlr._kernels.team.map_rows` call adds
    ``(threads, rows, block_rows)`` (the call runs as usual)."""
    from fastlr._kernels import team

    calls = []
    real = team.map_rows

    def spy(threads, rows, block, kernel, args):
        calls.append((threads, rows, block))
        return real(threads, rows, block, kernel, args)

    monkeypatch.setattr(team, "map_rows", spy)
    return calls
