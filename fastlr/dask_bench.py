"""The Dask cost model and accuracy on blocks (``fastlr bench --dask``).

:func:`cost_table` times epochs on a ``distributed.LocalCluster`` of worker
processes against the single-process epoch on the same data, and the
per-epoch overhead (scheduling plus the model's round trip) as a function
of the block count; :func:`paper_estimate` turns those into epoch times
for a large cluster. :func:`accuracy_table` measures how many parameter-
mixing epochs 8 blocks need to match the single-machine model, and what the
L-BFGS finisher reaches. Each needs dask and distributed.

Epoch times are medians of the intervals between consecutive epochs of one
fit (the callback's timestamps), so the one-off costs of a fit (converting
the blocks, the statistics passes) are not counted in them.
"""

import time
import warnings

import numpy as np

from .bench import make_workload

__all__ = ["accuracy_table", "cost_table", "overhead_line", "paper_estimate"]


def _epoch_times(fit):
    """Median seconds between consecutive epochs of ``fit(callback)``."""
    stamps = []
    fit(lambda epoch, loss: stamps.append(time.perf_counter()))
    return float(np.median(np.diff(stamps)))


def overhead_line(blocks, seconds):
    """``(per_block, fixed)``: the least-squares line ``fixed + per_block *
    B`` through the per-epoch overheads ``seconds`` at block counts
    ``blocks``, with ``fixed >= 0`` (on a noisy machine the free line's
    intercept came out at -3.3 ms, a negative fixed cost that the paper
    estimate then used): when the free fit's is negative, the line through
    the origin."""
    B = np.asarray(blocks, dtype=float)
    over = np.asarray(seconds, dtype=float)
    per_block, fixed = np.polyfit(B, over, 1)
    if fixed < 0:
        per_block, fixed = B @ over / (B @ B), 0.0
    return float(per_block), float(fixed)


def cost_table(rows=200_000, features=100, workers=2, blocks=(2, 8, 32, 128),
               epochs=6, batch_size=256, repeats=5):
    """Dask epoch vs single-process epoch, and overhead per block count.

    Returns a dict: ``single`` and ``dask`` (seconds per epoch on
    ``rows x features`` float64, the dask array in ``workers`` blocks),
    ``overhead`` {blocks: seconds per epoch on 1,000 rows per block (the
    compute is negligible: what is left is scheduling and the model's round
    trip)}, ``per_block`` and ``fixed`` (least-squares line through the
    overheads, :func:`overhead_line`), ``thread`` (the one-thread epoch in
    this process) and ``rate`` (bytes of X one worker thread trains through
    per second: X's bytes over ``thread``). Medians over ``repeats``
    interleaved repetitions.
    """
    import dask.array as da
    import distributed

    from . import core
    from . import distributed as fdist

    X, y = make_workload(rows, features)
    fit = dict(batch_size=batch_size, lr=0.05, shuffle=True, random_state=0)
    # ":0": the dashboard on any free port (None still takes the default
    # 8787, and warns when a cluster of the user's holds it)
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
    client = distributed.Client(cluster)
    try:
        with warnings.catch_warnings():
            # the data are shipped to the workers once, before any timing:
            # distributed's "Sending large graph of size ..." says just that
            warnings.filterwarnings("ignore", message="Sending large graph")
            Xd = client.persist(da.from_array(X, chunks=(-(-rows // workers), -1)))
            yd = client.persist(da.from_array(y, chunks=(Xd.chunks[0],)))
            small = {}
            for B in blocks:
                Xs, ys = make_workload(1000 * B, features, seed=1)
                small[B] = (client.persist(da.from_array(Xs, chunks=(1000, -1))),
                            client.persist(da.from_array(ys, chunks=1000)))
        distributed.wait([Xd, yd, *[a for v in small.values() for a in v]])
        fdist.train(Xd, yd, epochs=2, client=client, **fit)   # load the kernels
        core.train(X, y, epochs=1, **fit)
        runs = {"single": [], "thread": [], "dask": [], **{B: [] for B in blocks}}
        for _ in range(repeats):
            runs["single"].append(_epoch_times(lambda cb: core.train(
                X, y, epochs=epochs, callback=cb, **fit)))
            runs["thread"].append(_epoch_times(lambda cb: core.train(
                X, y, epochs=epochs, callback=cb, n_threads=1, **fit)))
            runs["dask"].append(_epoch_times(lambda cb: fdist.train(
                Xd, yd, epochs=epochs, client=client, callback=cb, **fit)))
            for B in blocks:
                Xs, ys = small[B]
                runs[B].append(_epoch_times(lambda cb, Xs=Xs, ys=ys: fdist.train(
                    Xs, ys, epochs=epochs, client=client, callback=cb, **fit)))
    finally:
        client.close()
        cluster.close()
    med = {key: float(np.median(v)) for key, v in runs.items()}
    per_block, fixed = overhead_line(blocks, [med[b] for b in blocks])
    # a worker thread runs the serial kernel: its rate is the one-thread
    # epoch's in this process
    return {"rows": rows, "features": features, "workers": workers,
            "single": med["single"], "thread": med["thread"], "dask": med["dask"],
            "overhead": {b: med[b] for b in blocks}, "per_block": per_block,
            "fixed": fixed, "rate": X.nbytes / med["thread"],
            "repeats": repeats}


def paper_estimate(table, total_bytes=1e12, features=1000, workers=(10, 100, 1000),
                   itemsize=4):
    """Epoch seconds at each worker count for ``total_bytes`` of dense data
    with ``features`` columns, one block per worker, from the measured
    per-worker rate and overhead line of :func:`cost_table`.

    The model state that travels per block grows with the features (weights,
    and the optimizer arrays: about 6 (n + 1) float64); its extra transfer
    over the measured model is charged at 1 GB/s through the client, which
    sends and receives it for every block, one after the other. The compute
    is charged at the bytes/s rate measured on float64 X (``itemsize`` only
    sets the row count): an approximation for float32, whose epoch reads
    half the bytes a row but does the same arithmetic.
    """
    n_meas = table["features"]
    extra = 2 * 6 * (features - n_meas) * 8 / 1e9   # seconds per block
    rows = total_bytes / (features * itemsize)
    out = {}
    for W in workers:
        compute = total_bytes / W / table["rate"]
        overhead = table["fixed"] + (table["per_block"] + extra) * W
        out[W] = {"compute": compute, "overhead": overhead,
                  "epoch": compute + overhead}
    return {"rows": rows, "features": features, "estimate": out}


def accuracy_table(rows=60_000, heldout=20_000, features=20, blocks=8, epochs=10,
                   batch_size=32, lr=0.02, max_epochs=200, target=0.005):
    """Held-out log-loss on ``blocks`` Dask blocks against one machine.

    The single-machine estimator trains ``epochs`` SGD epochs; the Dask one
    runs parameter-mixing epochs (one ``partial_fit`` each, the same
    options) until its held-out loss is within ``target`` (relative) of the
    single machine's, up to ``max_epochs``; then ``solver="auto"`` (one
    mixing epoch and the L-BFGS finisher on the cluster) against the same
    solver in memory.
    """
    import dask.array as da

    from .estimator import LogisticRegression

    X, y = make_workload(rows + heldout, features, seed=2)
    X, y, Xt, yt = X[:rows], y[:rows], X[rows:], y[rows:]
    Xd = da.from_array(X, chunks=(-(-rows // blocks), -1))
    yd = da.from_array(y, chunks=(Xd.chunks[0],))

    def loss(model):
        p = model.predict_proba(Xt)[:, 1]
        p = np.clip(p, 1e-15, 1 - 1e-15)
        return float(-np.mean(yt * np.log(p) + (1 - yt) * np.log1p(-p)))

    kw = dict(solver="sgd", tol=None, lr=lr, batch_size=batch_size, random_state=0)
    single = loss(LogisticRegression(max_iter=epochs, **kw).fit(X, y))
    mix = LogisticRegression(**kw)
    curve = []
    for _ in range(max_epochs):
        mix.partial_fit(Xd, yd, classes=[0, 1])
        curve.append(loss(mix))
        if curve[-1] <= single * (1 + target):
            break
    auto_mem = LogisticRegression(random_state=0, tol=1e-6).fit(X, y)
    auto_dsk = LogisticRegression(random_state=0, tol=1e-6).fit(Xd, yd)
    return {"blocks": blocks, "epochs": epochs, "single": single,
            "mixing_curve": curve, "mixing_epochs": len(curve),
            "auto_single": loss(auto_mem), "auto_dask": loss(auto_dsk),
            "auto_passes_single": auto_mem.n_iter_,
            "auto_passes_dask": auto_dsk.n_iter_}


def format_tables(cost, estimate, accuracy):
    lines = []
    if cost is not None:
        lines += [
            f"Dask epoch on a LocalCluster of {cost['workers']} worker processes vs "
            f"one process, {cost['rows']:,} x {cost['features']} float64 "
            f"(medians of {cost['repeats']} interleaved repetitions):",
            f"  single-process epoch {cost['single'] * 1e3:9.1f} ms "
            f"(one thread: {cost['thread'] * 1e3:.1f} ms)",
            f"  dask epoch           {cost['dask'] * 1e3:9.1f} ms   "
            f"({cost['dask'] / cost['single']:.2f}x the single-process epoch)",
            "  per-epoch overhead (1,000-row blocks: scheduling + model round "
            "trip):"]
        for b, t in cost["overhead"].items():
            lines.append(f"    {b:5d} blocks {t * 1e3:9.1f} ms")
        lines.append(f"  fit: {cost['fixed'] * 1e3:.1f} ms + "
                     f"{cost['per_block'] * 1e3:.2f} ms per block; one thread "
                     f"trains through {cost['rate'] / 1e9:.2f} GB/s of X")
    if estimate is not None:
        lines.append(f"Paper estimate, 1 TB dense float32 x {estimate['features']} "
                     f"features ({estimate['rows']:.3g} rows), one block per "
                     "worker, compute at the one-thread rate (GB/s) measured on "
                     "float64 X:")
        for W, e in estimate["estimate"].items():
            lines.append(f"  {W:5d} workers: epoch {e['epoch']:9.1f} s = compute "
                         f"{e['compute']:9.1f} s + overhead {e['overhead']:6.2f} s")
    if accuracy is not None:
        a = accuracy
        gap = 100 * (a["mixing_curve"][-1] / a["single"] - 1)
        lines += [
            f"Held-out log-loss on {a['blocks']} blocks vs one machine:",
            f"  one machine, {a['epochs']} SGD epochs: {a['single']:.5f}",
            f"  parameter mixing: {gap:+.2f}% after {a['mixing_epochs']} epochs",
            f"  solver='auto' (L-BFGS finisher): {a['auto_dask']:.6f} on Dask "
            f"({a['auto_passes_dask']} passes) vs {a['auto_single']:.6f} in memory "
            f"({a['auto_passes_single']} passes)"]
    return "\n".join(lines)
