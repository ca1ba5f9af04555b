"""Synthetic degradations, as a camera produces them: blur, then noise, clipping and quantisation
(optionally JPEG). The benchmark's cases and the radius estimator's training data both come
from here, so they share one definition of what a defocused photo looks like.
"""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from scoredeblur.physics.defocus import DefocusBlur


def sensor(y: torch.Tensor, noise_std: float, generator: torch.Generator, bits: int | None = 8,
           poisson_peak: float | None = None) -> torch.Tensor:
    """The blurred image as recorded: Poisson (``poisson_peak`` photons at white) then Gaussian
    noise, clipping to [0, 1], quantisation to ``bits`` (None: none). Draws in that order."""
    if poisson_peak:
        y = torch.poisson(y.clamp(0, None) * poisson_peak, generator=generator) / poisson_peak
    if noise_std > 0:
        y = y + noise_std * torch.randn(y.shape, generator=generator, dtype=y.dtype)
    y = y.clamp(0, 1)
    if bits:
        levels = 2**bits - 1
        y = torch.round(y * levels) / levels
    return y


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """An (H, W, 3) colour or (H, W) grey float image in [0, 1] through a JPEG round trip at ``quality``."""
    buf = io.BytesIO()
    Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf), dtype=np.float64) / 255


def synthesize_defocus(sharp: torch.Tensor, radius: float, noise_std: float, generator: torch.Generator,
                       quantize_bits: int | None = 8) -> torch.Tensor:
    """Uniform disk blur (symmetric boundary) + Gaussian noise + clipping + quantisation."""
    return sensor(DefocusBlur(radius).A(sharp), noise_std, generator, quantize_bits)


def blur_with_radius_map(sharp: torch.Tensor, radius_map: np.ndarray) -> torch.Tensor:
    """Spatially varying defocus for synthetic data: blur at a ladder of radii (0.5 px apart) and
    interpolate per pixel by the map. Written apart from the solver's ``VaryingDefocusBlur`` on
    purpose: the benchmark's degradation must not move when the solver's operator changes."""
    lo, hi = float(radius_map.min()), float(radius_map.max())
    levels = np.unique(np.arange(np.floor(lo), np.ceil(hi) + 0.5, 0.5))
    stack = torch.stack([DefocusBlur(max(r, 0.0)).A(sharp) for r in levels])
    idx = np.clip(np.searchsorted(levels, radius_map) - 1, 0, len(levels) - 2)
    frac = np.clip((radius_map - levels[idx]) / (levels[idx + 1] - levels[idx]), 0, 1)
    i0 = torch.from_numpy(idx)
    a = torch.gather(stack, 0, i0.expand(1, *sharp.shape).contiguous())[0]
    b = torch.gather(stack, 0, (i0 + 1).expand(1, *sharp.shape).contiguous())[0]
    f = torch.from_numpy(frac).to(sharp.dtype)
    return a * (1 - f) + b * f
