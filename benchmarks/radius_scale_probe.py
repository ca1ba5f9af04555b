"""Is a ringing artefact on a real photo a radius error, or the preset's? Deblur one region with
the blind radius map scaled by a few factors, with one or more presets, and save the panels side
by side (input first, then every preset × scale) for inspection.

    python benchmarks/radius_scale_probe.py ../shared/data/real_defocus/restormer_demo/blur/couple.jpg \
        --region 150 330 270 420 --scales 0.75 1 1.15 1.3 --out probe.png
    python benchmarks/radius_scale_probe.py .../couple.jpg --region 150 330 270 420 --scales 1 \
        --presets fast balanced quality --out presets.png

The photos' terms do not allow committing crops of them, so the panels stay local.
"""
from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

import scoredeblur
from scoredeblur.physics.estimate import estimate_radius_map
from scoredeblur.physics.varying import radius_map_from_tiles

MARGIN = 40  # context deblurred around the region, cropped off again


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("photo")
    p.add_argument("--region", type=int, nargs=4, metavar=("Y0", "Y1", "X0", "X1"), required=True)
    p.add_argument("--scales", type=float, nargs="+", default=[0.75, 1.0, 1.3])
    p.add_argument("--presets", nargs="+", default=["fast"])
    p.add_argument("--tile", type=int, default=128, help="the estimator's tile (deblur's default)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    img = np.asarray(Image.open(args.photo).convert("RGB"))
    radii, ys, xs = estimate_radius_map(img.astype(np.float64) / 255, tile=args.tile)
    print("blind radius map (px):\n", np.round(radii, 1))
    y0, y1, x0, x1 = args.region
    a0, a1, b0, b1 = max(0, y0 - MARGIN), min(img.shape[0], y1 + MARGIN), max(0, x0 - MARGIN), min(img.shape[1], x1 + MARGIN)
    crop = img[a0:a1, b0:b1]
    inner = (slice(y0 - a0, y1 - a0), slice(x0 - b0, x1 - b0))
    panels = [crop[inner]]
    for preset in args.presets:
        for s in args.scales:
            rmap = radius_map_from_tiles(radii * s, ys, xs, args.tile, *img.shape[:2])[a0:a1, b0:b1]
            panels.append(scoredeblur.deblur(crop, preset=preset, seed=0, psf_radius=rmap)[inner])
    sheet = np.concatenate([np.pad(q, ((0, 0), (0, 6), (0, 0)), constant_values=255) for q in panels], 1)
    Image.fromarray(sheet).resize((sheet.shape[1] * 2, sheet.shape[0] * 2), Image.NEAREST).save(args.out)
    print(f"wrote {args.out}: input, then presets {args.presets} × radius scales {args.scales}")


if __name__ == "__main__":
    main()
