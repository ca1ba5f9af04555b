"""Blind defocus of a photo with a sharp subject over a blurred background: where, from edges;
how much, from the spectrum of the blurred part.

The spectral fit (``physics.estimate``) measures a disk radius precisely but needs large, uniformly
blurred windows: on a subject-and-background photo its tiles straddle both, fit neither, and are
declined. Edges say *where* the blur is: at an edge, re-blurring with a Gaussian of known width
lowers a sharp edge's gradient much more than an already blurred one's (Zhuo & Sim, "Defocus map
estimation from a single image", 2011); the ratio of the two gradients, calibrated here on
disk-blurred step edges, gives a radius per edge pixel. That radius is biased low on noisy, strongly
blurred edges, so it only classifies 32-px tiles into sharp and blurred; the radius of the blurred
layer comes from the spectral fit over the blurred tiles alone.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy import ndimage
from skimage.feature import canny

from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.estimate import LOCAL_MAX_RADIUS, MAX_GLOBAL_FIT_RATIO, RADIUS_GRID, fit_radius, fit_spectrum, luma

EDGE_TILE = 32            # px: tiles classified from their edges
REBLUR_SIGMA = 2.0        # px: the Gaussian of the re-blur (sensitive up to a disk radius of ~6 px)
MIN_EDGE_PIXELS = 20      # edge pixels a tile needs to be classified
SHARP_EDGE_RADIUS = 1.0   # px: tiles whose edges read sharper than this are in focus
BLURRED_EDGE_RADIUS = 1.5  # px: tiles whose edges read blurrier than this are defocused
MIN_SHARP_SHARE = 0.1     # of the classified tiles, for the photo to have a sharp layer
MIN_BLURRED_SHARE = 0.2   # and a blurred one
UNIFORM_AGREEMENT_PX = 1.0  # px: a whole-photo fit this close to the blurred layer's means uniform blur
# Measured on 20 dev images (docs/RESULTS.md): edges of in-focus tiles read 0.3-0.6 px, of tiles
# blurred at 4-6 px 2.4-2.7 px; of uniform radius-2 blur 1.2 px, which is why a photo that the
# whole-image spectral fit finds uniformly blurred is not split into layers.


def _gradient(grey: np.ndarray) -> np.ndarray:
    return np.hypot(ndimage.sobel(grey, 0), ndimage.sobel(grey, 1))


def _reblur_ratio(grey: np.ndarray) -> np.ndarray:
    return _gradient(grey) / np.maximum(_gradient(ndimage.gaussian_filter(grey, REBLUR_SIGMA)), 1e-8)


@lru_cache(maxsize=1)
def _calibration() -> tuple[np.ndarray, np.ndarray]:
    """(ratio, radius) on a step edge blurred by each disk radius of the grid: ratio falls with r."""
    grid = np.asarray(RADIUS_GRID, dtype=np.float64)
    step = np.zeros((64, 64))
    step[:, 32:] = 1.0
    ratios = []
    for r in grid:
        blurred = DefocusBlur(float(r)).A(torch.from_numpy(step)[None, None])[0, 0].numpy()
        ratios.append(_reblur_ratio(blurred)[32, 31:33].max())
    ratios = np.minimum.accumulate(np.asarray(ratios))  # monotone for the inversion
    return ratios[::-1].copy(), grid[::-1].copy()


def edge_radius_tiles(grey: np.ndarray, tile: int = EDGE_TILE) -> np.ndarray:
    """Per-tile median radius (px) of its edge pixels; NaN where a tile has too few edges."""
    ratios, radii = _calibration()
    edges = canny(grey, sigma=1.0, low_threshold=0.02, high_threshold=0.06)
    at_edges = np.where(edges, np.interp(_reblur_ratio(grey), ratios, radii), np.nan)
    h, w = grey.shape
    out = np.full((h // tile, w // tile), np.nan)
    for i in range(h // tile):
        for j in range(w // tile):
            values = at_edges[i * tile:(i + 1) * tile, j * tile:(j + 1) * tile]
            values = values[~np.isnan(values)]
            if values.size >= MIN_EDGE_PIXELS:
                out[i, j] = np.median(values)
    return out


def layered_radius_tiles(observed: np.ndarray, floor: float) -> tuple[np.ndarray, int] | None:
    """Per-tile radii (0 for the sharp layer, the blurred layer's radius elsewhere) and the tile
    size, or None when the photo does not show a sharp and a blurred layer, or the blurred layer's
    spectrum does not fit a disk of at least ``floor`` px."""
    grey = luma(observed)
    edge = edge_radius_tiles(grey)
    known = ~np.isnan(edge)
    if known.sum() < 4:
        return None
    sharp = known & (edge < SHARP_EDGE_RADIUS)
    blurred = known & (edge >= BLURRED_EDGE_RADIUS)
    if sharp.sum() < MIN_SHARP_SHARE * known.sum() or blurred.sum() < MIN_BLURRED_SHARE * known.sum():
        return None
    # The blurred layer's radius: the spectrum of the windows that hold no sharp tile.
    cover = np.ones((EDGE_TILE, EDGE_TILE), bool)
    region = grey[:sharp.shape[0] * EDGE_TILE, :sharp.shape[1] * EDGE_TILE]
    radius, ratio = fit_spectrum(region, 64, RADIUS_GRID, mask=np.kron(~sharp, cover))
    if radius is None or ratio > MAX_GLOBAL_FIT_RATIO or not floor <= radius <= LOCAL_MAX_RADIUS:
        return None
    # Uniform blur whose edges merely read sharp in places (noise, fine texture): the "sharp" tiles'
    # own spectrum shows a disk too, or the whole photo's spectrum fits the blurred layer's radius.
    sharp_radius, _ = fit_spectrum(region, EDGE_TILE, RADIUS_GRID, mask=np.kron(sharp, cover))
    if sharp_radius is not None and sharp_radius >= floor:
        return None
    whole_radius, whole_ratio = fit_radius(grey, 128 if min(grey.shape) >= 256 else 64)
    if whole_ratio <= MAX_GLOBAL_FIT_RATIO and abs(whole_radius - radius) <= UNIFORM_AGREEMENT_PX:
        return None
    return np.where(sharp, 0.0, radius), EDGE_TILE
