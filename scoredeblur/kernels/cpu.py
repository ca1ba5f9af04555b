"""The C++ CPU kernel (csrc/fused_update_cpu.cpp, OpenMP + SIMD), bound by pybind11 as ``_native``."""
from __future__ import annotations

import torch

from scoredeblur.errors import BackendUnavailable

try:
    from scoredeblur import _native
except ImportError:  # the package still works without its compiled part; load() says so
    _native = None


def fused_update(x, s, z, y, coef):
    # numpy views share the tensors' memory (float32, contiguous, CPU): no copies.
    ins = [t.detach().cpu().contiguous().float() for t in (x, s, z, y)]
    out = torch.empty_like(ins[0])
    _native.fused_update(*(t.numpy() for t in ins), out.numpy(), coef.detach().cpu().float().contiguous().numpy())
    return out.to(x.dtype)


def load():
    if _native is None:
        raise BackendUnavailable("the 'cpu' kernel needs the compiled extension scoredeblur._native; "
                                 "reinstall with a C++ compiler and CMake present (pip install -e .)")
    return fused_update
