"""GroupNorm followed by SiLU, the score network's most frequent pair of element-wise ops.

The reference is PyTorch's two ops. On a CPU, in inference, a float32 channels-last activation
goes through one compiled kernel instead (``csrc/group_norm_cpu.cpp``, in ``scoredeblur._native``):
one pass for the statistics and one for the normalised, activated output, about twice as fast as
the two ops (``benchmarks/test_hot_paths.py -k group_norm``), equal to them within 2e-5 relative
(``tests/models/test_norm.py``). Anything else (autograd, graph capture for ONNX / AOTInductor,
other devices or dtypes, a build without the extension) takes the reference.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

try:
    from scoredeblur import _native
except ImportError:  # the package works without its compiled part
    _native = None

# Whether the compiled kernel may be used (benchmarks switch it off to time the reference).
NATIVE = True


def group_norm_silu_reference(x: torch.Tensor, norm: nn.GroupNorm, silu: bool = True) -> torch.Tensor:
    h = norm(x)
    return F.silu(h, inplace=not torch.is_grad_enabled()) if silu else h


def compiled_inference(x: torch.Tensor) -> bool:
    """Whether x is what the network's compiled CPU kernels take: inference (no autograd, no graph
    capture) on a float32 channels-last 4-D CPU tensor."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and x.ndim == 4
            and not torch.is_grad_enabled() and not capturing()
            and x.is_contiguous(memory_format=torch.channels_last))


def native_applies(x: torch.Tensor, norm: nn.GroupNorm) -> bool:
    """Whether the compiled kernel can take this call."""
    return (NATIVE and _native is not None and hasattr(_native, "group_norm_silu")
            and norm.affine and norm.weight.dtype == torch.float32 and compiled_inference(x))


def group_norm_silu(x: torch.Tensor, norm: nn.GroupNorm, silu: bool = True) -> torch.Tensor:
    """``silu(norm(x))`` (``norm(x)`` when ``silu`` is False), a new tensor in x's layout."""
    if not native_applies(x, norm):
        return group_norm_silu_reference(x, norm, silu)
    out = torch.empty_like(x, memory_format=torch.channels_last)
    # NHWC views of the channels-last tensors: the same memory, C-contiguous for the kernel.
    _native.group_norm_silu(x.permute(0, 2, 3, 1).numpy(), norm.weight.detach().numpy(),
                            norm.bias.detach().numpy(), out.permute(0, 2, 3, 1).numpy(),
                            norm.num_groups, norm.eps, silu, torch.get_num_threads())
    return out


def capturing() -> bool:
    """Whether a graph is being captured (torch.compile, TorchScript tracing, ONNX export)."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
