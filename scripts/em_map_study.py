"""Can the radius map be refined from the current sharp estimate (an EM loop: image given map, map given image)?

    python scripts/em_map_study.py --images MIX20 --varying 0.5 6 --start local learned

Synthetic depth-varying crops (``bench.cases``, the quality benchmark's cases). The E-step is the
``fast`` preset given a map; the M-step picks, per pixel, the candidate disk radius r (0 = no blur)
whose A_r x̂ best explains y in a Gaussian window, then smooths the choice (median, then Gaussian).
Started from a blind estimate (the default's, and with ``--start learned`` the learned dense map's)
and iterated; as checks of the M-step alone it is also run on the true sharp image (can the local
data term identify the radius at all?) and on the estimate given the true map scaled by 1.2 (does
one step pull a wrong map back toward the truth?). Reported per crop and as means: gain over the
input (dB), the map's mean absolute error and its mean signed error (px; negative: radii too
small).
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, median_filter

from scoredeblur import deblur
from scoredeblur.bench.cases import Degradation, build_cases, list_images
from scoredeblur.bench.metrics import psnr
from scoredeblur.physics.defocus import DefocusBlur


def local_fit_map(x: np.ndarray, y: np.ndarray, radii: np.ndarray, window: float, median: int,
                  smooth: float) -> np.ndarray:
    """argmin over r of the window-averaged ‖A_r x − y‖² per pixel, median-filtered and smoothed."""
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
    errors = []
    for r in radii:
        ax = xt if r == 0 else DefocusBlur(float(r)).A(xt)
        sq = ((ax[0].numpy().transpose(1, 2, 0) - y) ** 2).sum(axis=2)
        errors.append(gaussian_filter(sq, window, mode="reflect"))
    picked = radii[np.argmin(np.stack(errors), axis=0)]
    return gaussian_filter(median_filter(picked, size=median, mode="reflect"), smooth, mode="reflect")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True)
    p.add_argument("--varying", type=float, nargs=2, default=(0.5, 6.0), metavar=("FG", "BG"))
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--start", nargs="+", default=["local"], choices=["local", "learned"],
                   help="blind estimates to start from: psf_radius='local' (the default) and/or 'learned'")
    p.add_argument("--max-radius", type=float, default=8.0)
    p.add_argument("--window", type=float, default=6.0, help="Gaussian σ (px) of the M-step's data window")
    p.add_argument("--median", type=int, default=15)
    p.add_argument("--smooth", type=float, default=4.0)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", default=None, help="JSON file for the per-crop rows")
    a = p.parse_args()
    radii = np.arange(0.0, a.max_radius + 1e-9, 0.5)
    images = list_images(a.images)[:a.limit]
    cases = build_cases(images, [Degradation(radius=None, varying=tuple(a.varying))], sizes=("crop",))

    def m_step(x, y):
        return local_fit_map(x, y, radii, a.window, a.median, a.smooth)

    rows = []
    for case in cases:
        y, true = case.blurry, case.radius_map
        base = psnr(case.sharp, y)
        row = {"case": case.name}

        def record(tag, out, rmap):
            row[f"{tag}_gain"] = psnr(case.sharp, np.asarray(out, dtype=np.float64)) - base
            row[f"{tag}_mae"] = float(np.abs(rmap - true).mean())
            row[f"{tag}_bias"] = float((rmap - true).mean())

        for start in a.start:
            res = deblur(y, preset="fast", psf_radius=start, return_info=True)
            x, rmap = np.asarray(res.image, dtype=np.float64), res.radius_map
            record(start, x, rmap)
            for i in range(1, a.iterations + 1):
                rmap = m_step(x, y)
                x = np.asarray(deblur(y, preset="fast", psf_radius=rmap), dtype=np.float64)
                record(f"{start}_em{i}", x, rmap)
        record("true_map", deblur(y, preset="fast", psf_radius=true), true)
        from_sharp = m_step(case.sharp, y)
        record("map_from_sharp", deblur(y, preset="fast", psf_radius=from_sharp), from_sharp)
        scaled = 1.2 * true
        x_scaled = np.asarray(deblur(y, preset="fast", psf_radius=scaled), dtype=np.float64)
        record("true_x1.2", x_scaled, scaled)
        refit = m_step(x_scaled, y)
        record("true_x1.2_em1", deblur(y, preset="fast", psf_radius=refit), refit)
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)

    tags = [k[:-5] for k in rows[0] if k.endswith("_gain")]
    print(f"\n{len(rows)} crops, depth-varying {a.varying[0]:g} → {a.varying[1]:g} px")
    print("| start / step | gain (dB) | map MAE (px) | map bias (px) | crops worse than input |")
    print("|---|---|---|---|---|")
    for t in tags:
        gains = np.array([r[f"{t}_gain"] for r in rows])
        maes = np.array([r[f"{t}_mae"] for r in rows])
        bias = np.array([r[f"{t}_bias"] for r in rows])
        print(f"| {t} | {gains.mean():+.2f} | {maes.mean():.2f} | {bias.mean():+.2f} | {(gains < -0.005).sum()} |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
