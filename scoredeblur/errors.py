"""The package's exceptions, in one module below everything else so that any layer can raise them.

Each says what went wrong in its message; the type says which kind of thing failed, so callers
(the CLI above all) can tell a bad input from a missing capability from a damaged install.
"""
from __future__ import annotations


class ScoredeblurError(Exception):
    """Base of every error the package raises on purpose."""


class InputError(ScoredeblurError, ValueError):
    """An argument or input the call cannot use; the message names it and what is accepted."""


class InputTypeError(InputError, TypeError):
    """An argument of a type the call does not take."""


class ImageReadError(InputError):
    """The file could not be read as an image; the message names the file and the cause."""


class ImageWriteError(ScoredeblurError, OSError):
    """The output could not be written; the message names the file and the cause."""


class CheckpointError(InputError):
    """The file is not a usable scoredeblur checkpoint; the message says why."""


class BackendUnavailable(ScoredeblurError, RuntimeError):
    """The kernel, loop or engine exists but cannot run here; the message says what it needs."""


class EngineBuildError(ScoredeblurError, RuntimeError):
    """An inference engine could not be built; the message says why."""
