"""Pictures for people: a radius map in colour (with its scale) and an input | output | map strip."""
from __future__ import annotations

import numpy as np

# A perceptually ordered dark-to-light ramp (black, purple, red, orange, pale yellow), sampled at
# five points and interpolated: enough for a map legend, without a plotting library as a dependency.
_RAMP = np.array([[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]], np.float64)
MAP_SCALE_MAX = 8.0  # px at the light end of the ramp (radii beyond show as the lightest colour)


def radius_map_image(radius_map: np.ndarray, max_radius: float = MAP_SCALE_MAX) -> np.ndarray:
    """(H, W) radii in px → (H, W, 3) uint8: 0 px black, ``max_radius`` and beyond pale yellow."""
    t = np.clip(np.asarray(radius_map, np.float64) / max_radius, 0, 1) * (len(_RAMP) - 1)
    i = np.minimum(t.astype(int), len(_RAMP) - 2)
    f = (t - i)[..., None]
    return np.round(_RAMP[i] * (1 - f) + _RAMP[i + 1] * f).astype(np.uint8)


def _as_rgb8(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if np.issubdtype(img.dtype, np.integer):
        img = img.astype(np.float64) / np.iinfo(img.dtype).max
    img = np.clip(img, 0, 1)
    if img.ndim == 2:
        img = img[:, :, None]
    img = img[:, :, :3] if img.shape[2] >= 3 else np.repeat(img[:, :, :1], 3, axis=2)
    return np.round(img * 255).astype(np.uint8)


def comparison(before: np.ndarray, after: np.ndarray, radius_map: np.ndarray, gap: int = 8) -> np.ndarray:
    """Input | output | radius map, side by side, 8-bit RGB, white gaps between."""
    panels = [_as_rgb8(before), _as_rgb8(after), radius_map_image(radius_map)]
    h = panels[0].shape[0]
    spacer = np.full((h, gap, 3), 255, np.uint8)
    return np.concatenate([panels[0], spacer, panels[1], spacer, panels[2]], axis=1)
