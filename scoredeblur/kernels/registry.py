"""The fused update's backends by name: each loader returns the kernel or raises
``BackendUnavailable`` saying what it needs, so a missing capability is reported, never guessed.

Each update of the samplers is affine in (x, S, z, y) with per-sample coefficients, and one kernel
of signature ``kernel(x, s, z, y, coef) -> out`` with ``coef`` of shape (N, 4) serves them all
(the coefficient table is ``scoredeblur.sampling.coefficients``).
"""
from __future__ import annotations

import importlib
from typing import Callable

import torch

from scoredeblur.errors import BackendUnavailable

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

# name → (module, what to do when its import fails). Modules are imported when first asked for:
# their optional dependencies (the compiled extension, Triton, a CUDA build of torch) may be absent.
_MODULES = {
    "reference": ("scoredeblur.kernels.reference", None),
    "cpu": ("scoredeblur.kernels.cpu", None),
    "triton": ("scoredeblur.kernels.triton",
               "the 'triton' kernel needs triton (pip install 'scoredeblur[kernels]'); "
               "on a CPU set TRITON_INTERPRET=1 to run it in the interpreter"),
    "cuda": ("scoredeblur.kernels.cuda", None),
}
KERNELS = tuple(_MODULES)


def get_kernel(name: str) -> Kernel:
    if name not in _MODULES:
        raise ValueError(f"unknown kernel {name!r}; choose one of {list(KERNELS)}")
    module_name, hint = _MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(f"{hint} ({exc})" if hint else str(exc)) from exc
    return module.load()


def available_kernels() -> dict[str, str]:
    """name → "ok" or the reason it cannot run here."""
    status = {}
    for name in _MODULES:
        try:
            get_kernel(name)
            status[name] = "ok"
        except BackendUnavailable as exc:
            status[name] = str(exc)
    return status
