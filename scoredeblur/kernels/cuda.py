"""The standalone CUDA kernel (csrc/fused_update.cu), loaded through ctypes on device pointers."""
from __future__ import annotations

import ctypes
import sysconfig
from functools import lru_cache
from pathlib import Path

import torch

from scoredeblur.errors import BackendUnavailable

LIB_NAME = "libscoredeblur_cuda.so"


def find_library() -> Path | None:
    here = Path(__file__).resolve().parents[1]  # the package folder, where CMake installs it
    for folder in (here, Path(sysconfig.get_paths()["platlib"]) / "scoredeblur"):
        if (folder / LIB_NAME).is_file():
            return folder / LIB_NAME
    return None


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    path = find_library()
    if path is None:
        raise BackendUnavailable(f"the 'cuda' kernel needs {LIB_NAME}, built when nvcc is present at install time")
    lib = ctypes.CDLL(str(path))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.sd_fused_update.argtypes = [ptr] * 6 + [i64, i64, ptr]
    lib.sd_fused_update_philox.argtypes = [ptr] * 5 + [i64, i64, ctypes.c_uint64, ctypes.c_uint64, ptr]
    return lib


def _check_device(*tensors: torch.Tensor) -> None:
    for t in tensors:
        if t.device.type != "cuda" or t.dtype != torch.float32:
            raise ValueError("the CUDA kernel takes float32 CUDA tensors")


def load():
    if not torch.cuda.is_available():
        raise BackendUnavailable("the 'cuda' kernel needs an NVIDIA GPU and a CUDA build of torch")
    lib = _lib()

    def run(x, s, z, y, coef):
        dtype = x.dtype  # the kernel computes in float32; the result comes back in the caller's dtype
        x, s, z, y = (t.contiguous().float() for t in (x, s, z, y))
        coef = coef.to(device=x.device, dtype=torch.float32).contiguous()
        _check_device(x, s, z, y, coef)
        out = torch.empty_like(x)
        stream = torch.cuda.current_stream(x.device).cuda_stream
        err = lib.sd_fused_update(x.data_ptr(), s.data_ptr(), z.data_ptr(), y.data_ptr(), coef.data_ptr(),
                                  out.data_ptr(), x.shape[0], x[0].numel(), stream)
        if err:
            raise RuntimeError(f"CUDA kernel failed with cudaError {err}")
        return out.to(dtype)
    return run


def fused_update_philox(x, s, y, coef, seed: int, step: int) -> torch.Tensor:
    """The fused update with z drawn inside the kernel (Philox keyed by seed and step)."""
    lib = _lib()
    dtype = x.dtype
    x, s, y = (t.contiguous().float() for t in (x, s, y))
    coef = coef.to(device=x.device, dtype=torch.float32).contiguous()
    _check_device(x, s, y, coef)
    out = torch.empty_like(x)
    stream = torch.cuda.current_stream(x.device).cuda_stream
    err = lib.sd_fused_update_philox(x.data_ptr(), s.data_ptr(), y.data_ptr(), coef.data_ptr(), out.data_ptr(),
                                     x.shape[0], x[0].numel(), seed, step, stream)
    if err:
        raise RuntimeError(f"CUDA kernel failed with cudaError {err}")
    return out.to(dtype)
