"""The Triton kernel for the fused sampler update: out = a·x + b·S + c·z + d·y, per-sample (a, b, c, d).

One program handles BLOCK elements of one sample, so the four coefficients are loaded once per
program and x, S, z, y are each read exactly once. Runs on NVIDIA GPUs, and on the CPU under
TRITON_INTERPRET=1 (large blocks, no autotuning: the interpreter pays per program, not per element).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _fused_update_kernel(x_ptr, s_ptr, z_ptr, y_ptr, coef_ptr, out_ptr, per_sample, BLOCK: tl.constexpr):
    sample = tl.program_id(0)
    chunk = tl.program_id(1)
    offs = chunk * BLOCK + tl.arange(0, BLOCK)
    mask = offs < per_sample
    base = sample.to(tl.int64) * per_sample
    a = tl.load(coef_ptr + sample * 4 + 0)
    b = tl.load(coef_ptr + sample * 4 + 1)
    c = tl.load(coef_ptr + sample * 4 + 2)
    d = tl.load(coef_ptr + sample * 4 + 3)
    x = tl.load(x_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
    s = tl.load(s_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
    z = tl.load(z_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
    y = tl.load(y_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
    out = a * x + b * s + c * z + d * y
    tl.store(out_ptr + base + offs, out.to(out_ptr.dtype.element_ty), mask=mask)


def fused_update_triton(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, y: torch.Tensor,
                        coef: torch.Tensor, block: int = 4096) -> torch.Tensor:
    n = x.shape[0]
    per_sample = x[0].numel()
    x, s, z, y = (t.contiguous() for t in (x, s, z, y))
    out = torch.empty_like(x)
    coef = coef.to(device=x.device, dtype=torch.float32).contiguous()
    grid = (n, triton.cdiv(per_sample, block))
    _fused_update_kernel[grid](x, s, z, y, coef, out, per_sample, BLOCK=block)
    return out


def load():
    return fused_update_triton
