"""The fused update: every elementwise step of the sampler in one pass over memory.

Each update of the samplers is affine in (x, S, z, y) with per-sample coefficients:

    out = a·x + b·S + c·z + d·y

    predictor, Eq. (9)        a = 1,   b = σ²_hi − σ²_lo,       c = √(σ²_hi − σ²_lo),  d = 0
    corrector, Eq. (10)       a = 1,   b = ε,                   c = √(2ε),             d = 0
    … followed by Eq. (11)    a, b, c scaled by (1 − α),                               d = α
    DDIM                      a = 1,   b = σ²_hi − σ_lo σ_hi √(1 − η²),  c = σ_lo η,   d = 0
    HQS                       a = 1,   b = σ²_hi,               c = 0,                 d = 0

so one kernel serves them all, and the paper's consistency folds into the same pass. This module
holds the op's reference implementation and the backend registry; the kernels live in
``kernels/`` (Triton), ``csrc/`` (C++ and CUDA) and are each tested against ``reference``.
"""
from __future__ import annotations

from typing import Callable

import torch

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
_BACKENDS: dict[str, Callable[[], Kernel]] = {}


def reference(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, y: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    """out = a·x + b·s + c·z + d·y, with ``coef`` of shape (N, 4) = per-sample (a, b, c, d)."""
    a, b, c, d = (coef[:, i].to(x.dtype).reshape(-1, *([1] * (x.ndim - 1))) for i in range(4))
    return a * x + b * s + c * z + d * y


def register(name: str):
    def wrap(loader: Callable[[], Kernel]):
        _BACKENDS[name] = loader
        return loader
    return wrap


@register("reference")
def _load_reference() -> Kernel:
    return reference


@register("cpp")
def _load_cpp() -> Kernel:
    try:
        from . import _native
    except ImportError as exc:
        raise BackendUnavailable("the 'cpp' backend needs the compiled extension scoredeblur._native; "
                                 "reinstall with a C++ compiler and CMake present (pip install -e .)") from exc

    def run(x, s, z, y, coef):
        # numpy views share the tensors' memory (float32, contiguous, CPU): no copies.
        ins = [t.detach().cpu().contiguous().float() for t in (x, s, z, y)]
        out = torch.empty_like(ins[0])
        _native.fused_update(*(t.numpy() for t in ins), out.numpy(), coef.detach().cpu().float().contiguous().numpy())
        return out.to(x.dtype)
    return run


@register("triton")
def _load_triton() -> Kernel:
    try:
        from .kernels_triton import fused_update_triton
    except ImportError as exc:
        raise BackendUnavailable(f"the 'triton' backend needs triton ({exc}); "
                                 "on a CPU set TRITON_INTERPRET=1 to run it in the interpreter") from exc
    return fused_update_triton


@register("cuda")
def _load_cuda() -> Kernel:
    from .cuda_backend import load_cuda_kernel

    return load_cuda_kernel()


class BackendUnavailable(RuntimeError):
    """The backend exists but cannot run here; the message says what it needs."""


def get_kernel(name: str) -> Kernel:
    if name not in _BACKENDS:
        raise ValueError(f"unknown fused-update backend {name!r}; choose one of {sorted(_BACKENDS)}")
    return _BACKENDS[name]()


def available_backends() -> dict[str, str]:
    """name → "ok" or the reason it cannot run here."""
    status = {}
    for name in _BACKENDS:
        try:
            get_kernel(name)
            status[name] = "ok"
        except BackendUnavailable as exc:
            status[name] = str(exc)
    return status
