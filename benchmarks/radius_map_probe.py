"""What radius map does depth-varying deblurring need? Deblur with maps derived from the truth.

`python benchmarks/radius_map_probe.py --first 3 --last 9 --maps true local learned erode31 erode61
under0.7 bgonly5 tilemin`: the `fast` preset on CBSD68 256² crops with var 0.5-6 defocus, given
each map; prints each case's gain over the input and mean |map error|, then the mean gain per map.
Maps: true; local / learned (what ``psf_radius`` "local" / "learned" estimates, blind); erodeK (the
truth min-filtered over K px); underF (truth × F); bgonlyT (truth where ≥ T px, 0.5 elsewhere);
tilemin (each 128² tile's minimum of the truth, interpolated); learnedQ_S (the net's Q-quantile,
median-filtered over S px).
"""
import argparse

import numpy as np
import torch
from scipy.ndimage import minimum_filter

from scoredeblur import deblur
from scoredeblur.api import make_physics
from scoredeblur.bench.cases import Degradation, build_cases, list_images
from scoredeblur.bench.metrics import psnr
from scoredeblur.physics.radius_net import embedded_radius_net, learned_radius_map
from scoredeblur.physics.varying import radius_map_from_tiles
from scoredeblur.tiling import tile_starts


def _tile_min(true: np.ndarray, tile: int = 128) -> np.ndarray:
    h, w = true.shape
    ys = tile_starts(h, tile, tile // 2) if h > tile else [0]
    xs = tile_starts(w, tile, tile // 2) if w > tile else [0]
    r = np.array([[true[y:y + tile, x:x + tile].min() for x in xs] for y in ys])
    return radius_map_from_tiles(r, ys, xs, tile, h, w)


def radius_map(kind: str, case) -> np.ndarray:
    true = case.radius_map
    if kind == "true":
        return true
    if kind in ("local", "learned"):
        op = make_physics(case.blurry, kind)
        return op.radius_map.numpy() if hasattr(op, "radius_map") else np.full(true.shape, op.radius)
    if kind.startswith("learned"):
        q, smooth = kind[len("learned"):].split("_")
        return learned_radius_map(embedded_radius_net(), case.blurry, float(q), smooth=int(smooth))
    if kind.startswith("erode"):
        return minimum_filter(true, size=int(kind[5:]), mode="nearest")
    if kind.startswith("under"):
        return true * float(kind[5:])
    if kind.startswith("bgonly"):
        return np.where(true >= float(kind[6:]), true, 0.5)
    if kind == "tilemin":
        return _tile_min(true)
    raise ValueError(f"unknown map {kind!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", default="../shared/data/dev/CBSD68")
    ap.add_argument("--first", type=int, default=3)
    ap.add_argument("--last", type=int, default=9)
    ap.add_argument("--sizes", nargs="+", default=["crop"])
    ap.add_argument("--maps", nargs="+", default=["true", "local", "learned"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    imgs = list_images(args.images)[args.first:args.last]
    cases = build_cases(imgs, [Degradation(None, varying=(0.5, 6.0))], sizes=args.sizes)
    gains = {m: [] for m in args.maps}
    for c in cases:
        base, row = psnr(c.sharp, c.blurry), []
        for m in args.maps:
            rmap = np.asarray(radius_map(m, c), dtype=np.float64)
            out = np.clip(deblur(c.blurry, preset="fast", psf_radius=rmap), 0, 1)
            gains[m].append(psnr(c.sharp, out) - base)
            row.append(f"{m} {gains[m][-1]:+.2f} ({np.abs(rmap - c.radius_map).mean():.2f} px)")
        print(c.name, f"input {base:.2f}:", ", ".join(row), flush=True)
    print("mean gain:", {m: round(float(np.mean(g)), 2) for m, g in gains.items()})


if __name__ == "__main__":
    main()
