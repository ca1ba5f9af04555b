"""The blur operator for a photo: as given, or estimated blind from the photo itself.

``psf_radius``: a number (uniform disk), an H×W radius map, or how to estimate: ``"local"``
(default: a spectral fit per tile, interpolated to a map; one uniform disk where the tiles agree,
or mostly agree with a confident whole-photo fit), ``"global"`` (one fit for the whole
photo), ``"learned"`` (the learned per-pixel estimator, routed by what the tile fits found) or
``"layers"`` (a sharp subject over one blurred background, ``physics.layers``; falls back to
``"local"`` where the photo shows no such layers). Both per-pixel modes are opt-in: measured, each
gains on synthetic depth-varying blur and damages some photos (docs/RESULTS.md).
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch

from scoredeblur.errors import InputError
from scoredeblur.physics.clipping import guard_highlights, without_highlights
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.estimate import LOCAL_MAX_RADIUS, believed_radii, consensus_radius, estimate_radius, fit_tiles
from scoredeblur.physics.layers import layered_radius_tiles
from scoredeblur.physics.radius_net import embedded_radius_net, learned_radius_map
from scoredeblur.physics.varying import VaryingDefocusBlur, radius_map_from_tiles

MODES = ("local", "global", "learned", "layers")
ESTIMATOR_TILE = 128           # px: the tile of the spectral fits
UNIFORM_SPREAD = 0.5           # px: tile radii closer than this are one uniform blur
# px: smallest blind radius taken as defocus (see identifiable()); 0.61 / 1.75 = 0.35 cycles/px,
# the top of the band that survives a camera's processing. Measured (docs/RESULTS.md): in-focus
# crops −3.16 → +1.23 dB, DPDD real pairs −0.14 → ≥ 0 dB, radius 2–8 unchanged, radius-1 blur
# +3.47 → +0.15 (such blur is then left alone; give psf_radius to deblur it).
IDENTIFIABLE_RADIUS = 1.75
# psf_radius="learned" routing (learned_physics), measured on CBSD68 synthetic cases (docs/RESULTS.md):
UNIFORM_TOLERANCE = 0.5        # px: a tile agrees with the median tile radius within this
UNIFORM_AGREEMENT = 0.8        # share of agreeing tiles that makes the blur uniform
SHARP_RADIUS = 1.5             # px: agreeing tiles below this may be a sharp subject over a blurred rest
BLURRED_RADIUS = 3.0           # px: what counts as clearly blurred on the dense map
BLURRED_AREA = 0.5             # share of such pixels for the dense map to be used
# keep_bokeh: a region is background blur when its radius exceeds both of these (bokeh_threshold).
BOKEH_RADIUS = 3.0             # px: milder blur is a soft subject, worth deblurring
BOKEH_MARGIN = 1.5             # px: over the sharpest layer's radius


def make_physics(observed: np.ndarray, psf_radius=None, tile: int = ESTIMATOR_TILE, keep_bokeh: bool = False,
                 keep_highlights: bool = True):
    """The blur operator for an (H, W, C) observation in [0, 1]: given, or estimated blind;
    ``keep_bokeh``: without the regions that are bokeh (see ``keep_bokeh_map``); ``keep_highlights``:
    estimated with clipped highlights filled in, and radius 0 around them (``physics.clipping``)."""
    physics = _physics(without_highlights(observed, LOCAL_MAX_RADIUS) if keep_highlights else observed,
                       psf_radius, tile)
    if keep_highlights:
        physics = guard_highlights(physics, observed)
    if keep_bokeh and isinstance(physics, VaryingDefocusBlur):
        kept = keep_bokeh_map(physics.radius_map.numpy())
        return DefocusBlur(0.0) if not kept.any() else VaryingDefocusBlur(kept)
    return physics


def bokeh_threshold(radius_map: np.ndarray) -> float:
    """The radius above which a region counts as intended background blur: clearly more blurred
    than the photo's sharpest layer (the subject the photographer focused on), and more than
    ``BOKEH_RADIUS`` in any case. A uniformly blurred photo has no such region: it missed focus."""
    return max(BOKEH_RADIUS, float(radius_map.min()) + BOKEH_MARGIN)


def keep_bokeh_map(radius_map: np.ndarray) -> np.ndarray:
    """The radius map with bokeh regions set to 0, so that they come back as they are. The rim of
    such a region, where the interpolated map climbs from the subject's radius to the bokeh's,
    keeps its radius up to the threshold and is deblurred with the subject."""
    return np.where(radius_map > bokeh_threshold(radius_map), 0.0, radius_map)


def _physics(observed: np.ndarray, psf_radius, tile: int):
    check_psf_radius(psf_radius)
    h, w = observed.shape[:2]
    if _is_number(psf_radius):
        return DefocusBlur(check_radius(float(psf_radius), h, w))
    if isinstance(psf_radius, (np.ndarray, torch.Tensor)):
        rmap = np.asarray(psf_radius.detach().cpu() if isinstance(psf_radius, torch.Tensor) else psf_radius,
                          dtype=np.float64)
        if rmap.shape != (h, w):
            raise InputError(f"radius map shape {rmap.shape} differs from the image's {(h, w)}")
        if not np.isfinite(rmap).all() or (rmap < 0).any():
            raise InputError("radius map values must be finite and >= 0")
        check_radius(float(rmap.max()), h, w)
        return VaryingDefocusBlur(rmap)
    mode = "local" if psf_radius is None else psf_radius
    if mode == "global" or min(h, w) < 2 * tile:
        return DefocusBlur(float(identifiable(np.array(estimate_radius(observed)))))
    layered = layered_radius_tiles(observed, IDENTIFIABLE_RADIUS) if mode == "layers" else None
    if layered is not None:  # a sharp subject over a blurred background
        radii, size = layered
        starts = lambda n: list(range(0, n * size, size))  # noqa: E731
        return VaryingDefocusBlur(radius_map_from_tiles(radii, starts(radii.shape[0]), starts(radii.shape[1]), size, h, w))
    fits = fit_tiles(observed, tile=tile)
    radii, ys, xs = identifiable(believed_radii(fits)), fits.ys, fits.xs
    if mode == "learned":
        physics = learned_physics(observed, radii)
        if physics is not None:
            return physics
        warnings.warn("psf_radius='learned': this installation has no radius net; using 'local'", stacklevel=3)
    if float(radii.max() - radii.min()) < UNIFORM_SPREAD:  # effectively uniform: the exact uniform operator
        return DefocusBlur(float(np.median(radii)))
    consensus = consensus_radius(fits, IDENTIFIABLE_RADIUS)
    if consensus is not None:  # one blur that a few tiles misread
        return DefocusBlur(consensus)
    return VaryingDefocusBlur(radius_map_from_tiles(radii, ys, xs, tile, h, w))


def _is_number(psf_radius) -> bool:
    """A real number of any type (NumPy scalars, 0-d arrays and tensors too), but not a bool."""
    if isinstance(psf_radius, (np.ndarray, torch.Tensor)):
        return np.ndim(psf_radius) == 0
    return isinstance(psf_radius, numbers.Real) and not isinstance(psf_radius, bool)


def identifiable(radii: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Blind radii below the identifiable size count as no defocus.

    A disk's spectrum first falls to zero at 0.61/r cycles per pixel; the spectral fit identifies
    a disk by that notch. Below ``IDENTIFIABLE_RADIUS`` the notch lies beyond the band a camera
    records faithfully (demosaicing, in-camera sharpening and JPEG shape it), and all the fit sees
    is a smooth roll-off that in-focus optics produce too — so such an estimate is no evidence of
    defocus, and deconvolving it sharpens, i.e. damages, in-focus content."""
    floor = IDENTIFIABLE_RADIUS if floor is None else floor
    return np.where(radii < floor, 0.0, radii)


def check_psf_radius(psf_radius) -> None:
    """What can be checked of ``psf_radius`` without the image: its type, a number's range, a mode's name."""
    if _is_number(psf_radius):
        radius = float(psf_radius)
        if not np.isfinite(radius) or radius < 0:
            raise InputError(f"psf_radius must be a finite number >= 0, got {radius}")
    elif not isinstance(psf_radius, (np.ndarray, torch.Tensor)) and psf_radius is not None and psf_radius not in MODES:
        raise InputError(f"psf_radius must be a number, an H×W map, one of {MODES} or None; got {psf_radius!r}")


def check_radius(radius: float, h: int, w: int) -> float:
    """A given radius must be smaller than the image (a disk wider than the photo leaves nothing to
    recover, and its kernel would not fit in memory); finiteness and sign are check_psf_radius's."""
    if radius > max(h, w) / 2:
        raise InputError(f"psf_radius {radius:g} px is larger than half the image ({h}×{w}); "
                         "no defocus that large can be undone")
    return radius


def learned_physics(observed: np.ndarray, radii: np.ndarray):
    """``psf_radius="learned"``: the operator from the learned dense radius map, routed by what the
    spectral tile fits (``radii``) found; None when no radius net is installed."""
    net = embedded_radius_net()
    if net is None:
        return None
    accepted = radii[radii > 0]
    median = float(np.median(accepted)) if accepted.size else 0.0
    # Uniform blur: the spectral tile fits agree (a few declined or stray tiles allowed). They are
    # exact to ~0.1 px there, where the dense map errs by 0.6-2.5 px.
    agree = bool(accepted.size) and np.mean(np.abs(radii - median) <= UNIFORM_TOLERANCE) >= UNIFORM_AGREEMENT
    if agree and median > SHARP_RADIUS:
        return DefocusBlur(median)
    dense = learned_radius_map(net, observed)
    # Otherwise the dense map is believed only where it shows a clearly blurred region.
    if np.mean(dense >= BLURRED_RADIUS) < BLURRED_AREA:
        return DefocusBlur(median if agree else 0.0)
    return VaryingDefocusBlur(dense)
