"""Oracle blur for the real-pair benchmark: the disk that best explains a photo *given its target*.

Two bounds, both chosen against the all-in-focus target, so neither is ever a result:

* ``best_radius``: the one uniform radius that scores best, e.g. by PSNR (the bound for one-PSF methods);
* ``oracle_radius_map``: per tile, the radius whose deconvolution (``tikhonov_deblur``) is closest
  to the target, median-filtered over neighbouring tiles and interpolated to every pixel (what a
  per-tile disk estimator could at best hand the sampler).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, median_filter
from skimage.restoration import wiener

from scoredeblur.physics.defocus import DefocusBlur, disk_psf
from scoredeblur.physics.varying import radius_map_from_tiles

ORACLE_COARSE = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
MAP_RADII = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0)
MAP_TILE = 64
WIENER_BALANCE = 0.01
# λ of the oracle map's deconvolution. skimage's Wiener (a Laplacian regulariser) picks radii
# that serve the sampler less: 19 DPDD pairs, sd_fast on the map, see docs/RESULTS.md.
TIKHONOV_WEIGHT = 0.01


def soft_disk_psf(radius: float, softness: float, truncate: float = 3.0) -> torch.Tensor:
    """The anti-aliased disk convolved with a Gaussian of σ = ``softness`` px (cut at ``truncate`` σ),
    summing to 1: a lens's disk with a soft rim, for the oracle studies' PSF families."""
    k = disk_psf(radius).numpy()
    if softness <= 0 or radius <= 0:
        return torch.from_numpy(k)
    k = gaussian_filter(np.pad(k, math.ceil(truncate * softness)), softness, mode="constant", truncate=truncate)
    return torch.from_numpy(k / k.sum())


def wiener_deblur(blur: np.ndarray, radius: float) -> np.ndarray:
    """Wiener deconvolution of an (H, W, 3) photo by a disk, mirrored at the borders."""
    if radius == 0:
        return blur
    psf = disk_psf(radius).numpy()
    pad = max(32, psf.shape[0] + 8)
    p = np.pad(blur, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    out = np.stack([wiener(p[..., c], psf, WIENER_BALANCE, clip=False) for c in range(3)], axis=2)
    return np.clip(out[pad:-pad, pad:-pad], 0, 1)


def tikhonov_deblur(blur: np.ndarray, radius: float, weight: float = TIKHONOV_WEIGHT) -> np.ndarray:
    """argminₓ ‖k_r ⊛ x − y‖² + λ‖x‖² for an (H, W, 3) photo, mirrored at the borders (the exact
    defocus prox towards 0)."""
    if radius == 0:
        return blur
    y = torch.from_numpy(np.ascontiguousarray(blur, dtype=np.float64)).permute(2, 0, 1)[None]
    x = DefocusBlur(radius).prox(torch.zeros_like(y), y, weight, remember_y=False)
    return np.clip(x[0].permute(1, 2, 0).numpy(), 0, 1)


def best_radius(blur: np.ndarray, better, run) -> tuple[float, np.ndarray]:
    """The uniform radius whose ``run(blur, radius)`` scores best by ``better(out)`` (higher is
    better): a coarse grid, then ±0.25/0.5 px around the best. Returns (radius, output)."""
    best = (-np.inf, 0.0, blur)
    tried = {}

    def trial(r):
        if r in tried or r < 0:
            return
        out = run(blur, r)
        tried[r] = better(out)
        nonlocal best
        if tried[r] > best[0]:
            best = (tried[r], r, out)

    for r in ORACLE_COARSE:
        trial(r)
    centre = best[1]
    for d in (-0.5, -0.25, 0.25, 0.5):
        trial(round(centre + d, 2))
    return best[1], best[2]


def oracle_radius_map(blur: np.ndarray, sharp: np.ndarray, tile: int = MAP_TILE,
                      radii: tuple[float, ...] = MAP_RADII) -> np.ndarray:
    """H×W radius map: per ``tile``-px tile, the radius (0: leave it) whose ``tikhonov_deblur``
    result has the least squared error against ``sharp``."""
    h, w = blur.shape[:2]
    if h < tile or w < tile:
        raise ValueError(f"an oracle map needs at least {tile}×{tile} pixels, got {h}×{w}")
    ys, xs = tile_origins(h, w, tile)
    errors = np.stack([tile_errors(tikhonov_deblur(blur, r), sharp, tile) for r in radii])
    tiles = np.asarray(radii)[errors.argmin(axis=0)]
    if tiles.size >= 9:
        tiles = median_filter(tiles, size=3, mode="nearest")
    return radius_map_from_tiles(tiles, ys, xs, tile, h, w)


def tile_origins(h: int, w: int, tile: int) -> tuple[list[int], list[int]]:
    """Rows and columns where the whole ``tile``-px tiles of an H×W image start (no overlap; a
    remainder narrower than a tile is left out)."""
    return list(range(0, h - tile + 1, tile)), list(range(0, w - tile + 1, tile))


def tile_errors(img: np.ndarray, sharp: np.ndarray, tile: int = MAP_TILE) -> np.ndarray:
    """Mean squared error against ``sharp`` of each tile of ``tile_origins``: (rows, columns)."""
    ys, xs = tile_origins(*img.shape[:2], tile)
    sq = ((img - sharp) ** 2).mean(axis=-1) if img.ndim == 3 else (img - sharp) ** 2
    return np.array([[sq[y0:y0 + tile, x0:x0 + tile].mean() for x0 in xs] for y0 in ys])
