"""Blind estimation of the photo's noise level and defocus radius, globally and per tile.

Radius: the power spectrum of a defocused photo is |H_r(f)|² P_x(f) + σ_n², where the disk's
transfer function H_r has rings of zeros (at f ≈ 0.61/r, 1.12/r, … cycles per pixel) and natural
images have P_x(f) ≈ c f^(−β). We measure the radially averaged spectrum (Welch, Hann windows)
and pick the radius whose model fits it best in the log domain; c and σ_n² are solved in closed
form for each candidate, β from a small grid. Noise: scikit-image's wavelet MAD estimate.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import median_filter
from skimage.restoration import estimate_sigma

from scoredeblur.physics.defocus import disk_psf
from scoredeblur.tiles import tile_starts

RADIUS_GRID = tuple(np.round(np.arange(0.0, 12.01, 0.1), 2))
_BETAS = (1.6, 2.0, 2.4, 2.8)


def estimate_noise(img: np.ndarray) -> float:
    """σ_n of additive noise (MAD of the finest wavelet band), averaged over channels."""
    img = np.asarray(img, dtype=np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a flat image has an empty detail band
        sigma = float(estimate_sigma(img, channel_axis=-1 if img.ndim == 3 else None, average_sigmas=True))
    return sigma if np.isfinite(sigma) else 0.0  # a flat image: no detail, so no measurable noise


def luma(img: np.ndarray) -> np.ndarray:
    """(H, W) float64 luma (BT.601 weights) of an (H, W), (H, W, 1) or (H, W, ≥3) image."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3 and img.shape[2] >= 3:
        return img[:, :, :3] @ np.array([0.299, 0.587, 0.114])
    return img[:, :, 0] if img.ndim == 3 else img


@lru_cache(maxsize=8)
def _bins(win: int) -> tuple[np.ndarray, np.ndarray]:
    f = np.fft.fftfreq(win)
    rad = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    idx = np.round(rad * win).astype(int)  # ring index: 1 bin = 1/win cycles per pixel
    return idx, np.arange(win // 2 + 1) / win


def _radial(power: np.ndarray, win: int) -> np.ndarray:
    idx, _ = _bins(win)
    sums = np.bincount(idx.ravel(), weights=power.ravel(), minlength=win)
    counts = np.bincount(idx.ravel(), minlength=win)
    return (sums / np.maximum(counts, 1))[: win // 2 + 1]


def welch_spectrum(grey: np.ndarray, win: int, mask: np.ndarray | None = None) -> np.ndarray | None:
    """Radially averaged power spectrum over half-overlapping Hann windows; with ``mask``, only the
    windows that lie wholly inside it (None when there is no such window)."""
    h, w = grey.shape
    if h < win or w < win:
        raise ValueError(f"need at least {win}×{win} pixels to estimate the blur, got {h}×{w}; "
                         "pass psf_radius (--psf-radius) for smaller images")
    hann = np.outer(np.hanning(win), np.hanning(win))
    acc, n = np.zeros((win, win)), 0
    step = win // 2
    for y in range(0, h - win + 1, step):
        for x in range(0, w - win + 1, step):
            if mask is not None and not mask[y:y + win, x:x + win].all():
                continue
            patch = grey[y:y + win, x:x + win]
            acc += np.abs(np.fft.fft2((patch - patch.mean()) * hann)) ** 2
            n += 1
    return _radial(acc / n, win) if n else None


@lru_cache(maxsize=8)
def _model_profiles(grid: tuple[float, ...], win: int) -> np.ndarray:
    """Radial profiles of the spectral model |H_r(f)|² |f|^-β as the Welch estimate sees it: the
    2-D model convolved with the Hann window's power spectrum, then radially averaged; shape
    (len(grid), len(_BETAS), win//2 + 1). Without the window's leakage, which fills the disk's
    notches and moves them, fits read radii of 4.5–10 px 2–10 % low (5 px as 4.8, 10 as 9.0 on
    training crops), and the sampler loses 1–4 dB on such a radius (docs/RESULTS.md)."""
    hann = np.outer(np.hanning(win), np.hanning(win))
    leak = np.abs(np.fft.fft2(hann)) ** 2
    leak_hat = np.fft.fft2(leak / leak.sum())
    f = np.fft.fftfreq(win)
    ring = np.maximum(np.sqrt(f[:, None] ** 2 + f[None, :] ** 2), 1.0 / win)  # |f|, DC at the first ring
    slopes = np.stack([ring ** -beta for beta in _BETAS])
    out = np.empty((len(grid), len(_BETAS), win // 2 + 1))
    for i, radius in enumerate(grid):
        k = disk_psf(float(radius)).numpy()
        pad = np.zeros((win, win))
        s = k.shape[0]
        pad[:s, :s] = k
        h2 = np.abs(np.fft.fft2(np.roll(pad, (-(s // 2), -(s // 2)), axis=(0, 1)))) ** 2
        seen = np.fft.ifft2(np.fft.fft2(h2 * slopes) * leak_hat).real  # circular: the DFT's own grid
        for j in range(len(_BETAS)):
            out[i, j] = _radial(seen[j], win)
    return out


def radius_fit_errors(grey: np.ndarray, win: int = 64, grid=RADIUS_GRID) -> np.ndarray:
    """Log-domain misfit of the spectral model for each candidate radius (lower is better)."""
    return spectrum_fit_errors(welch_spectrum(grey, win), win, grid)


def spectrum_fit_errors(p: np.ndarray, win: int, grid=RADIUS_GRID) -> np.ndarray:
    """``radius_fit_errors`` of a measured radial spectrum ``p``."""
    sel = slice(2, win // 2 + 1)  # skip DC and the lowest ring (dominated by the window and the mean)
    p = p[sel]
    logp = np.log(np.maximum(p, 1e-20))
    b1 = _model_profiles(tuple(float(r) for r in grid), win)[:, :, sel]  # (radius, β, frequency)
    # Weighted least squares for P ≈ a b1 + n with weights 1/P (relative error), a, n ≥ 0, for every
    # (radius, β) at once: QR of the stacked (frequency × 2) systems, then R c = Qᵀ 1.
    m = np.stack([b1 / p, np.broadcast_to(1.0 / p, b1.shape)], axis=-1)
    q, r = np.linalg.qr(m)
    coef = np.linalg.solve(r, q.sum(axis=-2)[..., None])[..., 0]
    coef = np.maximum(coef, 1e-12)
    model = coef[..., :1] * b1 + coef[..., 1:]
    return np.mean((np.log(model) - logp) ** 2, axis=-1).min(axis=1)


# A fit must explain the spectrum this much better than "no blur" (r = 0) to be believed. On
# synthetic disk blur the ratio is ≤ 0.05 (0.14 at worst); on the subjects of real photos 0.01-0.10;
# on their bokeh backgrounds, flat or JPEG-blocked tiles 0.11-0.9, where deconvolving with the
# guess rings or hallucinates texture (seen on ../shared/data/real_defocus).
MAX_FIT_RATIO = 0.12
# A fit over the whole image averages many windows, and JPEG blocking raises its misfit (ratios up to
# ~0.3 at quality 90): the global estimate, and a tile that agrees with it, may be looser.
MAX_GLOBAL_FIT_RATIO = 0.35
# Per tile, a radius above this is taken for background bokeh and left as it is (unless the whole
# image agrees on it): real lenses' large defocus is far from a pillbox, and inverting it rings.
LOCAL_MAX_RADIUS = 6.5


def fit_radius(grey: np.ndarray, win: int, grid=RADIUS_GRID) -> tuple[float, float]:
    """(best radius, misfit of the best radius / misfit of r = 0); a ratio near 1 means "no evidence"."""
    errors = radius_fit_errors(grey, win, grid)
    i = int(np.argmin(errors))
    return float(grid[i]), float(errors[i] / max(errors[0], 1e-30))


def fit_spectrum(grey: np.ndarray, win: int, grid=RADIUS_GRID, mask: np.ndarray | None = None
                 ) -> tuple[float | None, float]:
    """``fit_radius`` over the windows inside ``mask`` only: (None, 1.0) when there are none."""
    p = welch_spectrum(grey, win, mask)
    if p is None:
        return None, 1.0
    errors = spectrum_fit_errors(p, win, grid)
    i = int(np.argmin(errors))
    return float(grid[i]), float(errors[i] / max(errors[0], 1e-30))


def estimate_radius(img: np.ndarray, win: int | None = None, grid=RADIUS_GRID) -> float:
    """Blind global defocus radius in pixels (0 when the spectrum gives no evidence of a disk blur)."""
    return confident_radius(*fit_whole(luma(img), win, grid))


def fit_whole(grey: np.ndarray, win: int | None = None, grid=RADIUS_GRID) -> tuple[float, float]:
    """``fit_radius`` of a whole grey image (128-pixel Welch windows from 256 px on, else 64)."""
    return fit_radius(grey, win or (128 if min(grey.shape) >= 256 else 64), grid)


def confident_radius(radius: float, ratio: float) -> float:
    """A whole-image fit's radius where it is confident (ratio ≤ MAX_GLOBAL_FIT_RATIO), else 0."""
    return radius if ratio <= MAX_GLOBAL_FIT_RATIO else 0.0


@dataclass(frozen=True)
class TileFits:
    """The spectral fit of every tile and of the whole image, before any of them is believed."""
    radius: np.ndarray             # (tiles_y, tiles_x): each tile's best radius
    ratio: np.ndarray              # its misfit against r = 0 (fit_radius)
    ys: list[int]                  # tile start rows
    xs: list[int]                  # tile start columns
    overall: float                 # the whole image's best radius
    overall_ratio: float           # and its ratio (1.0 where the image is too small to fit)


def fit_tiles(img: np.ndarray, tile: int = 128, stride: int | None = None, grid=RADIUS_GRID) -> TileFits:
    """``fit_radius`` of every tile (64-pixel Welch windows) and of the whole image."""
    grey = luma(img)
    h, w = grey.shape
    stride = stride or tile // 2
    tile_h, tile_w = min(tile, h), min(tile, w)
    ys = tile_starts(h, tile_h, tile_h - stride) if h > tile_h else [0]
    xs = tile_starts(w, tile_w, tile_w - stride) if w > tile_w else [0]
    win = 64 if min(tile_h, tile_w) >= 64 else min(tile_h, tile_w)
    overall, overall_ratio = fit_whole(grey, None, grid) if min(h, w) >= 64 else (0.0, 1.0)
    fits = np.array([[fit_radius(grey[y0:y0 + tile_h, x0:x0 + tile_w], win, grid) for x0 in xs] for y0 in ys])
    return TileFits(fits[..., 0], fits[..., 1], ys, xs, overall, overall_ratio)


def estimate_radius_map(img: np.ndarray, tile: int = 128, stride: int | None = None, grid=RADIUS_GRID,
                        max_radius: float = LOCAL_MAX_RADIUS) -> tuple[np.ndarray, list[int], list[int]]:
    """Per-tile blind radius: (radii[ty, tx], tile start rows, tile start columns); see ``believed_radii``."""
    fits = fit_tiles(img, tile, stride, grid)
    return believed_radii(fits, max_radius), fits.ys, fits.xs


def believed_radii(fits: TileFits, max_radius: float = LOCAL_MAX_RADIUS) -> np.ndarray:
    """The tile radii that are believed, 0 elsewhere.

    A tile's radius is believed when its fit clearly beats "no blur" (ratio ≤ MAX_FIT_RATIO) and
    stays within ``max_radius``, or when it agrees (±1 px) with a confident whole-image estimate
    (beyond ``max_radius`` it then takes that estimate); any other tile (sky, a wall, smooth or
    large bokeh) gets radius 0 and is left as it is rather than deconvolved with a guess. The grid
    is then median-filtered over 3×3 neighbours to remove isolated outliers.
    """
    overall = confident_radius(fits.overall, fits.overall_ratio)
    agrees = (overall > 0) & (np.abs(fits.radius - overall) <= 1.0) & (fits.ratio <= MAX_GLOBAL_FIT_RATIO)
    sure = (fits.ratio <= MAX_FIT_RATIO) & (fits.radius <= max_radius)
    # Beyond max_radius a tile is believed only because it agrees with the whole-image fit, so it
    # takes that fit: single tiles there alternate between neighbouring radii (7.1 and 8.2 at
    # r = 8), and a map varying by noise alone deconvolves tiles with the wrong one.
    radii = np.where(agrees | sure, fits.radius, 0.0)
    if overall > max_radius:
        radii = np.where(agrees, overall, radii)
    if radii.size >= 9:
        radii = median_filter(radii, size=3, mode="nearest")
    return radii


# A uniform blur the tile fits mostly agree on (consensus_radius): the whole-image fit is this
# confident (its ratio on synthetic disk blur, 80 dev crops at radii 2-8: median 0.004, 95 % below
# 0.014, barbara's stripes 0.076; on the 19 DPDD photos 0.03-1.0, median 0.24) ...
CONSENSUS_RATIO = 0.05
CONSENSUS_SHARE = 2 / 3        # ... this share of the tiles agrees with it ...
CONSENSUS_TOLERANCE = 0.5      # ... within this many px, confidently (ratio ≤ MAX_GLOBAL_FIT_RATIO)


def consensus_radius(fits: TileFits, floor: float, max_radius: float = LOCAL_MAX_RADIUS) -> float | None:
    """The one radius of a uniformly blurred photo whose believed map still varies, or None.

    A regular pattern or a flat patch makes a few tiles misread a uniform blur (McMaster 12 at
    radius 2: two tiles 1.9 and 2.0 px at ratios 0.36 and 0.45, declined; Set14 coastguard at
    radius 8: two at 3.0 px), and the map then varies where the photo's blur does not. It is one
    blur when the whole-image fit is confident, most tiles agree with it, and every other tile
    still reads a blur of at least ``floor`` (the identifiable size): a tile that reads less may
    be a sharp subject, and then the photo's blur does vary."""
    if fits.overall_ratio > CONSENSUS_RATIO or fits.overall < floor:
        return None
    agree = (np.abs(fits.radius - fits.overall) <= CONSENSUS_TOLERANCE) & (fits.ratio <= MAX_GLOBAL_FIT_RATIO)
    if agree.mean() < CONSENSUS_SHARE or (fits.radius[~agree] < floor).any():
        return None
    return fits.overall if fits.overall > max_radius else float(np.median(fits.radius[agree]))
