"""Defocus blur: an anti-aliased disk (pillbox) PSF applied with reflect boundaries.

A thin lens images an out-of-focus point as a uniformly lit disk whose radius grows with the
distance from the focal plane; pixels on the rim are weighted by the fraction of their area
inside the disk, so non-integer radii are represented faithfully.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_SUPERSAMPLE = 16


def disk_psf(radius: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(2⌈r⌉+1)² kernel, summing to 1; each tap = area of its pixel inside the disk of radius r."""
    if not math.isfinite(radius) or radius < 0:
        raise ValueError(f"PSF radius must be a finite number >= 0, got {radius}")
    # Pixel j covers [j − ½, j + ½]: the disk reaches it while j − ½ < r.
    half = max(0, math.ceil(radius + 0.5) - 1)
    if half == 0:
        return torch.ones(1, 1, dtype=dtype)
    sub = (torch.arange(_SUPERSAMPLE, dtype=torch.float64) + 0.5) / _SUPERSAMPLE - 0.5
    centres = torch.arange(-half, half + 1, dtype=torch.float64)
    coords = (centres[:, None] + sub[None, :]).reshape(-1)
    inside = (coords[:, None] ** 2 + coords[None, :] ** 2) <= radius**2
    k = inside.reshape(2 * half + 1, _SUPERSAMPLE, 2 * half + 1, _SUPERSAMPLE).double().mean(dim=(1, 3))
    return (k / k.sum()).to(dtype)


class DefocusBlur:
    """A x = k * x with reflect padding (a camera sees the scene continue past the frame edge)."""

    def __init__(self, radius: float):
        self.radius = float(radius)
        self.kernel = disk_psf(self.radius)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel.to(x.dtype).to(x.device)
        r = k.shape[-1] // 2
        if r == 0:
            return x.clone()
        c = x.shape[1]
        pad_mode = "reflect" if r < min(x.shape[-2:]) else "replicate"
        xp = F.pad(x, (r, r, r, r), mode=pad_mode)
        return F.conv2d(xp, k.expand(c, 1, *k.shape), groups=c)

    def A_adjoint(self, v: torch.Tensor) -> torch.Tensor:
        """Aᵀ v, exact for the reflect boundary: the vector-Jacobian product of the linear map A."""
        x = torch.zeros_like(v, requires_grad=True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.A(x), x, grad_outputs=v)
        return grad


def synthesize_defocus(sharp: torch.Tensor, radius: float, noise_std: float, generator: torch.Generator,
                       quantize_bits: int | None = 8) -> torch.Tensor:
    """Blur (reflect boundary) + Gaussian noise + quantisation, as a camera would produce."""
    y = DefocusBlur(radius).A(sharp)
    if noise_std > 0:
        y = y + noise_std * torch.randn(y.shape, generator=generator, dtype=y.dtype)
    y = y.clamp(0, 1)
    if quantize_bits:
        levels = 2**quantize_bits - 1
        y = torch.round(y * levels) / levels
    return y
