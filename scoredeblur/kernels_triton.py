"""Loads the Triton kernel from the repository's ``kernels/`` folder (or an installed copy)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import triton  # noqa: F401  (ImportError here means: no Triton; the registry reports it)

_HERE = Path(__file__).resolve().parent
_CANDIDATES = [_HERE.parent / "kernels" / "fused_update.py", _HERE / "kernels" / "fused_update.py"]


def _load():
    for path in _CANDIDATES:
        if path.is_file():
            spec = importlib.util.spec_from_file_location("scoredeblur_kernels_fused_update", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ImportError("kernels/fused_update.py not found next to the package")


fused_update_triton = _load().fused_update_triton
