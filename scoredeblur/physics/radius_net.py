"""A small learned estimator of the local defocus radius: a dense map, for depth-varying blur.

The spectral estimator (``estimate.py``) fits one radius per 128² tile, and a tile that straddles
a depth edge fits neither depth, so it is left alone. This network measures a local power spectrum
at every pixel (band-pass energies in a Gaussian window) and reads a probability for each radius on
a 0.5-px ladder off it, with context from a few dilated convolutions (about ±55 px in all). It is
trained on sharp images only, blurred by synthetic depth maps through the same operator the sampler
inverts (``training_radius``), so it needs no paired photographs. The map is the median of each
pixel's distribution (lower quantiles and median filtering deblurred less: docs/RESULTS.md).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from scoredeblur.models.weights import radius_net_path, verify_checksum
from scoredeblur.physics.estimate import luma

FORMAT = "scoredeblur.radius_net"
VERSION = 1


@dataclass(frozen=True)
class RadiusNetConfig:
    channels: int = 32
    band_sigmas: tuple[float, ...] = (0.6, 0.9, 1.3, 1.8, 2.5, 3.5, 5.0, 7.0)
    window: float = 6.0      # σ of the window each band's energy is averaged over
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1)
    step: float = 0.5        # pixels between the radius classes
    max_radius: float = 8.0  # classes 0, step, …, max_radius

    @property
    def radii(self) -> torch.Tensor:
        return torch.arange(0, self.max_radius + self.step / 2, self.step, dtype=torch.float32)


def _gaussian_taps(sigma: float) -> torch.Tensor:
    half = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-half, half + 1, dtype=torch.float32)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    return g / g.sum()


class RadiusNet(nn.Module):
    """Luma (N, 1, H, W) in [0, 1] → logits over the radius classes (N, K, H, W).

    Front end (fixed): band-pass energies, a local power spectrum. The luma is split into
    difference-of-Gaussian bands at ``band_sigmas``, each band's energy is averaged over a Gaussian
    window (σ = ``window``) and taken as a logarithm, so a disk's transfer function (which damps
    each band by its own factor) becomes additive and contrast becomes a common offset. Back end
    (learned): 3×3 convolutions, dilated to gather context, read the radius off those energies.
    """

    def __init__(self, config: RadiusNetConfig = RadiusNetConfig()):
        super().__init__()
        self.config = config
        c, nb = config.channels, len(config.band_sigmas)
        for i, s in enumerate((*config.band_sigmas, config.window)):
            self.register_buffer(f"g{i}", _gaussian_taps(s), persistent=False)
        self.head = nn.Conv2d(nb, c, 1)
        self.body = nn.ModuleList(nn.Conv2d(c, c, 3, padding=d, dilation=d, padding_mode="reflect")
                                  for d in config.dilations)
        self.out = nn.Conv2d(c, len(config.radii), 1)

    def _blur(self, x: torch.Tensor, i: int) -> torch.Tensor:
        g = getattr(self, f"g{i}")
        p = g.numel() // 2
        x = F.conv2d(F.pad(x, (p, p, 0, 0), mode="reflect"), g.view(1, 1, 1, -1).expand(x.shape[1], 1, 1, -1),
                     groups=x.shape[1])
        return F.conv2d(F.pad(x, (0, 0, p, p), mode="reflect"), g.view(1, 1, -1, 1).expand(x.shape[1], 1, -1, 1),
                        groups=x.shape[1])

    def band_energies(self, y: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) → (N, B, H, W): log local energy of each difference-of-Gaussian band."""
        levels = [y] + [self._blur(y, i) for i in range(len(self.config.band_sigmas))]
        bands = torch.cat([a - b for a, b in zip(levels[:-1], levels[1:])], dim=1)
        energy = self._blur(bands * bands, len(self.config.band_sigmas))
        return torch.log(energy + 1e-7)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        e = self.band_energies(y)
        h = F.relu(self.head((e + 9.0) / 3.0))  # log energies span about −16 … −3: centre and scale
        for conv in self.body:
            h = h + F.relu(conv(h))  # residual: deep dilation stacks train slowly without it
        return self.out(h)


def soft_targets(radius_map: torch.Tensor, config: RadiusNetConfig) -> torch.Tensor:
    """(N, H, W) radii → (N, K, H, W) class weights, split linearly between the two nearest classes
    so that their mean is the radius itself."""
    pos = (radius_map / config.step).clamp(0, len(config.radii) - 1)
    lo = pos.floor().long().clamp(max=len(config.radii) - 2)
    frac = pos - lo
    t = torch.zeros(radius_map.shape[0], len(config.radii), *radius_map.shape[1:], dtype=radius_map.dtype)
    t.scatter_(1, lo[:, None], (1 - frac)[:, None])
    t.scatter_add_(1, (lo + 1)[:, None], frac[:, None])
    return t


def quantile_map(logits: torch.Tensor, config: RadiusNetConfig, q: float) -> torch.Tensor:
    """The q-quantile of each pixel's radius distribution (linear between classes): (N, H, W)."""
    cdf = logits.softmax(dim=1).cumsum(dim=1)
    radii = config.radii.to(logits.device)
    idx = (cdf < q).sum(dim=1, keepdim=True).clamp(max=len(radii) - 1)
    hi_cdf = cdf.gather(1, idx)
    lo_cdf = torch.where(idx > 0, cdf.gather(1, (idx - 1).clamp(min=0)), torch.zeros_like(hi_cdf))
    frac = ((q - lo_cdf) / (hi_cdf - lo_cdf).clamp(min=1e-6)).clamp(0, 1)
    r = radii[idx] - config.step * (1 - frac)
    return r.clamp(min=0)[:, 0]


def to_checkpoint(net: RadiusNet, **extra) -> dict:
    cfg = dataclasses.asdict(net.config)
    cfg["dilations"], cfg["band_sigmas"] = list(cfg["dilations"]), list(cfg["band_sigmas"])
    return {"format": FORMAT, "version": VERSION, "config": cfg, "state_dict": net.state_dict(), **extra}


def from_checkpoint(ckpt: dict) -> RadiusNet:
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError("not a scoredeblur radius-net checkpoint")
    if ckpt.get("version") != VERSION:
        raise ValueError(f"radius-net checkpoint version {ckpt.get('version')}; this scoredeblur reads {VERSION}")
    cfg = dict(ckpt["config"])
    cfg["dilations"], cfg["band_sigmas"] = tuple(cfg["dilations"]), tuple(cfg["band_sigmas"])
    net = RadiusNet(RadiusNetConfig(**cfg))
    net.load_state_dict(ckpt["state_dict"])
    return net.eval()


# Pixels of context each side of an output pixel: the widest band filter and the energy window
# (3σ each) plus the dilated convolutions. Tiles overlapping by this much reproduce the whole-image map.
RECEPTIVE_MARGIN = 64


def predict_radius_map(net: RadiusNet, img: np.ndarray, q: float = 0.5, tile: int = 512) -> np.ndarray:
    """H×W map: the q-quantile of the net's radius distribution at every pixel.

    Run in ``tile``² pieces with RECEPTIVE_MARGIN pixels of context around each, so memory stays
    bounded on large photos (a whole 24-MP photo would need ~10 GB of activations)."""
    y = torch.from_numpy(luma(img).astype(np.float32))[None, None]
    h, w = y.shape[-2:]
    if min(h, w) < 32:  # the band filters reflect up to 21 pixels at each border
        raise ValueError(f"the radius net needs at least 32×32 pixels, got {h}×{w}")
    out = torch.empty(h, w, dtype=torch.float64)
    m = RECEPTIVE_MARGIN
    with torch.no_grad():
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                ya, xa = max(0, y0 - m), max(0, x0 - m)
                yb, xb = min(h, y0 + tile + m), min(w, x0 + tile + m)
                logits = net(y[..., ya:yb, xa:xb])
                r = quantile_map(logits, net.config, q)[0]
                out[y0:y0 + tile, x0:x0 + tile] = r[y0 - ya:y0 - ya + tile, x0 - xa:x0 - xa + tile].double()
    return out.numpy()


@lru_cache(maxsize=1)
def embedded_radius_net() -> RadiusNet | None:
    """The radius net shipped in ``scoredeblur/models`` (checksum-verified), or None if absent."""
    path = Path(str(radius_net_path()))
    if not path.is_file():
        return None
    verify_checksum(path)
    return from_checkpoint(torch.load(path, map_location="cpu", weights_only=True))


def learned_radius_map(net: RadiusNet, img: np.ndarray, q: float = 0.5, max_radius: float = 6.5) -> np.ndarray:
    """The dense map the sampler is given: the net's q-quantile, with radii beyond ``max_radius``
    faded to 0 over one pixel of radius (real lenses' large bokeh is far from a pillbox, and
    inverting it rings: such regions are left as they are, as the tile estimator does)."""
    r = predict_radius_map(net, img, q)
    fade = np.clip(max_radius + 1.0 - r, 0.0, 1.0)
    return r * fade
