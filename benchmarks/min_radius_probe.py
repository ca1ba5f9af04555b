"""How small an estimated radius should be deblurred? In-focus photos read 0.7-1.1 px.

`python benchmarks/min_radius_probe.py --images ../shared/data/dev/CBSD68 --limit 9`: the `fast`
preset, blind, on 256² crops with noise only (radius 0) and with 1 and 1.5 px of defocus, for each
threshold below which ``api.MIN_DEBLUR_RADIUS`` turns an estimate into 0. Prints mean (worst) gains.
"""
import argparse

import numpy as np
import torch

import scoredeblur.api as api
from scoredeblur import deblur
from scoredeblur.bench.cases import Degradation, build_cases, list_images
from scoredeblur.bench.metrics import psnr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", default="../shared/data/dev/CBSD68")
    ap.add_argument("--limit", type=int, default=9)
    ap.add_argument("--radii", type=float, nargs="+", default=[0.0, 1.0, 1.5])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 1.0, 1.25])
    args = ap.parse_args()
    torch.set_num_threads(2)
    imgs = list_images(args.images)[: args.limit]
    for radius in args.radii:
        cases = build_cases(imgs, [Degradation(radius)], sizes=["crop"])
        res = {}
        for thr in args.thresholds:
            api.MIN_DEBLUR_RADIUS = thr
            gains = [psnr(c.sharp, np.clip(deblur(c.blurry, preset="fast"), 0, 1)) - psnr(c.sharp, c.blurry)
                     for c in cases]
            res[thr] = f"{np.mean(gains):+.2f} ({np.min(gains):+.2f})"
        print(f"radius {radius:g}: mean (worst) gain by threshold", res, flush=True)


if __name__ == "__main__":
    main()
