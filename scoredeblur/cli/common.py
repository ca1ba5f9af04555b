"""What every command line shares: logging, argument types, exit codes, a clean stop on SIGTERM."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from scoredeblur.errors import ScoredeblurError

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def positive_int(text: str) -> int:
    return _whole(text, 1)


def count(text: str) -> int:
    """A whole number >= 0 (how many of something to add)."""
    return _whole(text, 0)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {value}")
    return value


def setup_logging(quiet: bool, verbose: bool) -> None:
    """Messages go to stderr as "scoredeblur: ..."; --quiet also turns progress bars off (as the
    TQDM_DISABLE variable does)."""
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    logger = logging.getLogger("scoredeblur")
    logger.handlers[:] = []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("scoredeblur: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


def _stop(signum, frame):  # SIGTERM ends the run like Ctrl-C: temporaries are removed on the way out
    raise KeyboardInterrupt(f"signal {signum}")


def run_command(func, args, log: logging.Logger, verbose: bool) -> int:
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return func(args)
    except KeyboardInterrupt:
        log.error("interrupted; finished outputs are kept, nothing half-written is left")
        return 130
    except (ScoredeblurError, ValueError, OSError) as exc:
        log.error("error: %s", exc)
        return EXIT_USAGE
    except Exception as exc:  # a bug: say so, distinguishable from a bad input or a failed image
        log.error("internal error: %s: %s (rerun with --verbose for the traceback, and please report it)",
                  type(exc).__name__, exc)
        if verbose:
            log.exception("traceback")
        return EXIT_INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)
