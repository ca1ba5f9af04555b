"""Clipped highlights: where the sensor's full scale hid the light, leave the photo as it is.

A camera records y = clip(A x + n, 0, 1). A lamp, a glint or sunlit water is many times brighter
than white; the blur spreads its light over a disk, the sensor clips the disk's top, and the light
that was clipped away is missing from y. No estimate x ≤ 1 can then explain the highlight's skirt
(the unclipped pixels around it), and the consistency step deconvolves the deficit into rings
that reach far beyond the highlight (measured, docs/RESULTS.md: 256² crops with 8 highlights,
given the true radius 3, came back 3.8 dB worse than they went in on average). Treating the
clipped values as lower bounds does not fix it: the prior, learned on images in [0, 1], will not
put the missing light back.

So each small clipped region and the pixels within the blur's reach of it get radius 0: the
depth-varying operator's levels then take those pixels from the current estimate, not from y, so
the highlight's inconsistency reaches no other pixel, and the region comes back exactly as it was
(a bokeh ball stays a bokeh ball). Large clipped regions (an overexposed sky, the white of a
scanned page) are not highlights: there the recorded white is mostly the scene's own value, and
the text or the skyline next to it is what the photo is for. A highlight is solidly clipped
white (see CLIP_LEVEL and ``highlight_mask``): on 40 dev crops without highlights, at 4 radii, the
rule changed one crop (−0.83 dB at radius 2), and none of 19 DPDD pairs (docs/RESULTS.md).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.varying import VaryingDefocusBlur

# A pixel is clipped white when every channel reaches this (8-bit: 255 and 254; JPEG rounds a
# clipped region's edge down by a level or so). A highlight is white: a saturated colour (a red
# flower at R = 255) is clipped in one channel by a small deficit, and guarding every such region
# cost 0.9-1.4 dB blind on 20 dev crops (McMaster's colours), for no ringing seen.
CLIP_LEVEL = 1.0 - 1.5 / 255
# px beyond the blur radius kept around a highlight (the disk's anti-aliased rim and a margin).
# Measured on 4 crops at radius 5 with 8 highlights: r + 2 beat r/2 + 2 and 2r + 2 on 3 of 4.
REACH_MARGIN = 2.0
# A clipped region larger than this many blur disks (of radius r + REACH_MARGIN) is not a highlight.
HIGHLIGHT_DISKS = 4.0
# px: the Gaussian that fills highlights in for the blind estimator (about a blur disk's width).
FILL_SIGMA = 6.0


def clipped_mask(observed: np.ndarray, level: float = CLIP_LEVEL) -> np.ndarray:
    """(H, W) bool: pixels where every channel of the (H, W, C) photo reached ``level``."""
    observed = np.asarray(observed)
    return (observed >= level).all(axis=-1) if observed.ndim == 3 else observed >= level


def highlight_mask(observed: np.ndarray, radius: float, level: float = CLIP_LEVEL) -> np.ndarray:
    """(H, W) bool: the pixels within ``radius`` + REACH_MARGIN of a clipped highlight, i.e. of a
    solidly clipped region (it survives a 3×3 opening) no larger than HIGHLIGHT_DISKS blur disks."""
    clipped = clipped_mask(observed, level)
    if radius <= 0 or not clipped.any():
        return np.zeros(clipped.shape, bool)
    reach = radius + REACH_MARGIN
    # A highlight is solidly clipped: a white that the photo reached only just (noise takes it over
    # full scale at a share of its pixels) is a speckle, which a 3×3 opening removes.
    clipped = ndimage.binary_opening(clipped, structure=np.ones((3, 3), bool))
    labels, count = ndimage.label(clipped, structure=np.ones((3, 3), bool))
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    small = areas <= HIGHLIGHT_DISKS * math.pi * reach**2
    small[0] = False  # the background label
    highlights = small[labels]
    if not highlights.any():
        return highlights
    return ndimage.distance_transform_edt(~highlights) <= reach


def without_highlights(observed: np.ndarray, radius: float, level: float = CLIP_LEVEL) -> np.ndarray:
    """The (H, W, C) photo with every highlight's reach (``highlight_mask`` at ``radius``) filled
    from its surroundings by normalised Gaussian smoothing, for the blind estimator only: a clipped
    disk's flat top and steep rim read to the spectral fit as sharp detail, and on 8 dev crops at
    radius 3 with 8 highlights the tile fits fell to 0-1.8 px (2.2-3.0 px filled in)."""
    near = highlight_mask(observed, radius, level)
    if not near.any():
        return observed
    # In the photo's own dtype (float32 from ``deblur``): at 24 MP each float64 copy is 576 MB.
    observed = np.asarray(observed)
    filled = np.array(observed, dtype=observed.dtype if observed.dtype.kind == "f" else np.float64)
    keep = (~near).astype(filled.dtype)
    weight = ndimage.gaussian_filter(keep, FILL_SIGMA)
    channels = filled[..., None] if filled.ndim == 2 else filled
    for c in range(channels.shape[-1]):
        smooth = ndimage.gaussian_filter(channels[..., c] * keep, FILL_SIGMA) / np.maximum(weight, 1e-6)
        channels[..., c][near] = smooth[near]
    return filled


def guard_highlights(physics, observed: np.ndarray, level: float = CLIP_LEVEL):
    """``physics`` with radius 0 around the clipped highlights of ``observed`` (see the module's
    docstring); unchanged when the photo has none or the operator has no blur."""
    if physics is None or physics.max_radius <= 0:
        return physics
    near = highlight_mask(observed, physics.max_radius, level)
    if not near.any():
        return physics
    # float32, the operator's own map dtype: no image-sized float64 copy.
    rmap = np.float32(physics.radius) if isinstance(physics, DefocusBlur) else physics.radius_map.numpy()
    return VaryingDefocusBlur(np.where(near, np.float32(0), rmap))
