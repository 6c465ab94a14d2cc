"""The ``fastlr`` command line (``fastlr ...`` or ``python -m fastlr ...``)."""

import argparse
import sys

from . import __version__


def _demo(args):
    from . import demo

    rows = demo.run(out_dir=args.out, plots=not args.no_plots,
                    random_state=args.random_state)
    print(demo.format_table(rows))
    s = demo.SEED_SETTINGS
    print(f"\nsettings: batch_size={s['batch_size']} epochs={s['epochs']} "
          f"lr={s['lr']}, standardized; times exclude JIT compilation")
    if not args.no_plots:
        print(f"plots written to {args.out}/")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastlr",
        description="Logistic regression by mini-batch SGD in Numba kernels.")
    parser.add_argument("--version", action="version", version=f"fastlr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("demo", help="run the seed experiments and breast cancer, "
                       "fastlr vs the NumPy reference",
                       description="Train on make_classification, make_moons and "
                       "breast cancer with fastlr and the NumPy reference; print "
                       "accuracy and time, write PNG plots.")
    p.add_argument("--out", default="fastlr-demo", metavar="DIR",
                   help="folder for the PNG plots (default: %(default)s)")
    p.add_argument("--no-plots", action="store_true", help="skip writing plots")
    p.add_argument("--random-state", type=int, default=0, metavar="N",
                   help="seed for the row shuffling (default: %(default)s)")
    p.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
