"""``scoredeblur``: deblur photos, train the models.

Exit status: 0 done; 1 some images failed (each reported, the rest written); 2 the command could
not run as given (a bad argument, input or model: one line says which); 3 an internal error (a bug:
rerun with --verbose for the traceback and report it).
"""
from __future__ import annotations

import argparse
import logging
import sys

from scoredeblur.cli.cluster import add_deblur_cluster
from scoredeblur.cli.common import run_command, setup_logging
from scoredeblur.cli.deblur import add_deblur
from scoredeblur.cli.train import add_pack, add_train, add_train_radius
from scoredeblur.version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scoredeblur", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"scoredeblur {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress bars")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="more detail, tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train(sub)
    add_deblur(sub)
    add_deblur_cluster(sub)
    add_pack(sub)
    add_train_radius(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.quiet, args.verbose)
    return run_command(args.func, args, logging.getLogger("scoredeblur"), args.verbose)


if __name__ == "__main__":
    sys.exit(main())
