"""How well can a per-tile PSF model do on real defocus pairs, and does the blind fit find it?

    python scripts/real_psf_study.py --pairs ../shared/data/real_pairs/dpdd_dev

For each pair and each 64-px tile, Tikhonov deconvolutions (λ = 0.01, mirrored borders) with
candidate PSFs (hard disks, disks softened by a Gaussian, Gaussians) are scored against the
all-in-focus target. Reported per image:
the gain of the best single PSF for the whole photo ("global oracle"), of the best PSF per tile
("tile oracle"; identity allowed), the share of tiles best left alone, and the correlation between
the oracle's per-tile disk radius and the blind spectral fit's (``physics.estimate.fit_radius``,
no thresholds). Both oracles use the target: they are bounds, not results.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from scoredeblur.bench.oracle import (
    MAP_RADII,
    MAP_TILE,
    TIKHONOV_WEIGHT,
    oracle_radius_map,
    soft_disk_psf,
    tile_errors,
    tile_origins,
)
from scoredeblur.bench.real import load_pairs, score
from scoredeblur.physics.defocus import disk_psf
from scoredeblur.physics.estimate import fit_radius, luma

DISKS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0)
SOFT_DISKS = (2.0, 3.0, 4.0, 6.0, 8.0)   # ⊛ a Gaussian of σ = 1 px
GAUSSIANS = (0.7, 1.0, 1.5, 2.0, 3.0, 4.0)
FIT_GRID = tuple(np.round(np.arange(0.0, 14.01, 0.25), 2))


def psf(kind: str, size: float) -> np.ndarray:
    if kind == "disk":
        return disk_psf(size).numpy()
    if kind == "soft":  # σ = 1 px, cut at 4σ (gaussian_filter's default)
        return soft_disk_psf(size, 1.0, truncate=4.0).numpy()
    n = int(np.ceil(3 * size))
    k = np.zeros((2 * n + 1, 2 * n + 1))
    k[n, n] = 1
    return gaussian_filter(k, size, mode="constant")


def candidates():
    yield "identity", None
    for kind, sizes in (("disk", DISKS), ("soft", SOFT_DISKS), ("gauss", GAUSSIANS)):
        for s in sizes:
            yield f"{kind}{s:g}", psf(kind, s)


def deconvolve(blur: np.ndarray, k: np.ndarray, weight: float = TIKHONOV_WEIGHT) -> np.ndarray:
    """argminₓ ‖k ⊛ x − y‖² + λ‖x‖² on the mirrored 2H×2W grid, per channel: ``tikhonov_deblur``
    for any symmetric PSF (the product's operator has disks only)."""
    h, w = blur.shape[:2]
    big = np.pad(blur, ((0, h), (0, w), (0, 0)), mode="symmetric")
    pad = np.zeros((2 * h, 2 * w))
    pad[:k.shape[0], :k.shape[1]] = k
    otf = np.fft.rfft2(np.roll(pad, (-(k.shape[0] // 2), -(k.shape[1] // 2)), axis=(0, 1)))
    spec = np.fft.rfft2(big, axes=(0, 1))
    x = np.fft.irfft2(np.conj(otf)[..., None] * spec / (np.abs(otf) ** 2 + weight)[..., None], s=(2 * h, 2 * w), axes=(0, 1))
    return np.clip(x[:h, :w], 0, 1)


def window(grey: np.ndarray, cy: int, cx: int, size: int = 128) -> np.ndarray:
    """The ``size``² window centred on (cy, cx), moved inside the image."""
    y0 = int(np.clip(cy - size // 2, 0, grey.shape[0] - size))
    x0 = int(np.clip(cx - size // 2, 0, grey.shape[1] - size))
    return grey[y0:y0 + size, x0:x0 + size]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", required=True)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args()
    rows, oracle_all, fit_all = [], [], []
    names = [name for name, _ in candidates()]
    wins: dict[str, int] = {}
    for pair in load_pairs(Path(args.pairs), limit=args.limit):
        base = score(pair.blur, pair.sharp)["psnr"]
        outs = [pair.blur if k is None else deconvolve(pair.blur, k) for _, k in candidates()]
        errors = np.stack([tile_errors(o, pair.sharp) for o in outs])
        best = errors.argmin(axis=0)
        for b in best.ravel():
            kind = names[b].rstrip("0123456789.")
            wins[kind] = wins.get(kind, 0) + 1
        ys, xs = tile_origins(*pair.blur.shape[:2], MAP_TILE)
        tiled = pair.blur.copy()  # the remainder narrower than a tile stays as it is
        for i, y0 in enumerate(ys):
            for j, x0 in enumerate(xs):
                sl = (slice(y0, y0 + MAP_TILE), slice(x0, x0 + MAP_TILE))
                tiled[sl] = outs[best[i, j]][sl]
        glob = max(score(o, pair.sharp)["psnr"] for o in outs) - base
        radius_map = oracle_radius_map(pair.blur, pair.sharp)
        grey = luma(pair.blur)
        centres = [(y0 + MAP_TILE // 2, x0 + MAP_TILE // 2) for y0 in ys for x0 in xs]
        fits = [fit_radius(window(grey, cy, cx), 64, FIT_GRID)[0] for cy, cx in centres]
        oracle = [radius_map[cy, cx] for cy, cx in centres]
        oracle_all += oracle
        fit_all += fits
        rows.append((pair.name, glob, score(tiled, pair.sharp)["psnr"] - base, float(np.mean(best == 0)),
                     float(np.corrcoef(oracle, fits)[0, 1]) if np.std(oracle) > 0 else float("nan")))
        print("| {} | {:+.2f} | {:+.2f} | {:.0%} | {:.2f} |".format(*rows[-1]), flush=True)
    g = np.array([r[1:3] for r in rows])
    print(f"| mean | {g[:, 0].mean():+.2f} | {g[:, 1].mean():+.2f} | | {np.corrcoef(oracle_all, fit_all)[0, 1]:.2f} |")
    print("tiles won by PSF kind:", ", ".join(f"{k} {v / sum(wins.values()):.0%}" for k, v in sorted(wins.items())))
    oracle_all, fit_all = np.array(oracle_all), np.array(fit_all)
    for lo, hi in zip(MAP_RADII[::3], MAP_RADII[3::3] + (np.inf,)):
        m = (oracle_all >= lo) & (oracle_all < hi)
        if m.any():
            print(f"oracle radius in [{lo:g}, {hi:g}): {m.sum()} tiles, blind fit median {np.median(fit_all[m]):.2f} px "
                  f"(IQR {np.percentile(fit_all[m], 25):.2f}-{np.percentile(fit_all[m], 75):.2f})")


if __name__ == "__main__":
    main()
