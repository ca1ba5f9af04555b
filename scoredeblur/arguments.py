"""Checks of a call's plain arguments, made before any work, each naming the argument and what it
accepts (a NumPy integer is an integer; a bool is not a number)."""
from __future__ import annotations

import math
import numbers

import torch

from scoredeblur.errors import InputError


def whole(name: str, value, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise InputError(f"{name} must be in {lo}..{hi if hi is not None else '∞'}, got {value}")
    return int(value)


def real(name: str, value, lo: float, hi: float, *, open_lo: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    if value < lo or value > hi or (open_lo and value == lo):
        raise InputError(f"{name} must be in {'(' if open_lo else '['}{lo:g}, {hi:g}], got {value:g}")
    return float(value)


def device(value) -> torch.device:
    """A torch device this build and machine can use."""
    if value is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device {value!r} is not a device name (use 'cpu', 'cuda' or 'cuda:N')") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {value!r}: this torch build has no CUDA or no GPU is visible "
                             "(install a CUDA build of torch, or use 'cpu')")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {value!r}: only {torch.cuda.device_count()} GPU(s) visible")
    elif dev.type != "cpu":
        raise InputError(f"device {value!r}: scoredeblur runs on 'cpu' or 'cuda'")
    return dev
