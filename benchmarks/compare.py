"""Side-by-side performance table and the epoch-time plot for README.

    python benchmarks/compare.py            # the table of targets (fastlr bench --full)
    python benchmarks/compare.py --plot docs/epoch_vs_batch.png

The table is fastlr.bench.performance_table (shared with ``fastlr bench
--full``). The plot times one epoch on X ~ N(0, 1), 200,000 x 100 float64,
for several batch sizes: fastlr (automatic thread choice), the NumPy
reference, scikit-learn's SGDClassifier (per-sample, drawn flat) and the
floor (one thread reading X once), all in the same interleaved run; the
three epochs are marginal (a call of one more epoch minus one of one less).
"""

import argparse

import numpy as np

from fastlr._files import save_png
from fastlr.bench import (
    cpus_note,
    format_performance,
    interleaved,
    make_workload,
    marginal_epoch_fn,
    performance_table,
    reference_epoch_fn,
    sklearn_epoch_fn,
    stream_sum,
)
from fastlr.cli import check_output_arg

BATCHES = (8, 32, 128, 512, 2048, 8192, 32768)


def plot(path, rows=200_000, features=100, repeats=5):
    from matplotlib.figure import Figure

    X, y = make_workload(rows, features)
    funcs = {("floor", 0): lambda: stream_sum(X),
             ("sklearn", 0): sklearn_epoch_fn(X, y)}
    for bs in BATCHES:
        funcs[("fastlr", bs)] = marginal_epoch_fn(X, y, bs)
        funcs[("reference", bs)] = reference_epoch_fn(X, y, bs)
    # settle: the reference's OpenBLAS threads spin for ~0.1 s after it and
    # slowed the next fastlr epoch by up to 1.6x (at batch 32768)
    t = interleaved(funcs, repeats=repeats, settle=0.2)
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for impl, style in (("fastlr", "o-"), ("reference", "s-")):
        ax.plot(BATCHES, [t[(impl, bs)] * 1e3 for bs in BATCHES], style, label=impl)
    ax.axhline(t[("sklearn", 0)] * 1e3, color="tab:green", ls="--",
               label="scikit-learn SGDClassifier (per sample)")
    ax.axhline(t[("floor", 0)] * 1e3, color="k", ls=":", label="floor: read X once")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("one epoch, ms")
    ax.set_title(f"one SGD epoch, {rows:,} x {features} float64, {cpus_note()}")
    ax.legend()
    save_png(fig, path, dpi=100)  # atomic: the old plot or the new one
    for (impl, bs), sec in sorted(t.items()):
        print(f"{impl:<10}{bs:>7}{sec * 1e3:>10.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="PNG", help="write the epoch-time plot")
    args = parser.parse_args()
    if args.plot:
        check_output_arg(parser, args.plot, "--plot")
        plot(args.plot)
    else:
        print(format_performance(performance_table()))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
