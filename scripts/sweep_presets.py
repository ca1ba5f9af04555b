"""Quality vs NFE sweep for the CCDF + proximal sampler: the measurements the presets come from.

    python scripts/sweep_presets.py --model CKPT --limit 6 --crop 128 --radii 3 5 --out sweep.json

Runs every combination of the grid below on synthetic defocus of the dev images (true PSF and
blind) and writes mean PSNR/SSIM per setting, with PnP-HQS (FFDNet, true PSF) as the reference.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from scoredeblur import deblur
from scoredeblur.bench.cases import Degradation, build_cases, list_images
from scoredeblur.bench.metrics import psnr, ssim


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--images", default=None)
    p.add_argument("--limit", type=int, default=6)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--radii", type=float, nargs="+", default=[3, 5])
    p.add_argument("--steps", type=int, nargs="+", default=[8, 16, 24])
    p.add_argument("--sigma-start", type=float, nargs="+", default=[0.19])
    p.add_argument("--lam", type=float, nargs="+", default=[0.4, 0.7, 1.2])
    p.add_argument("--eta", type=float, nargs="+", default=[0.0])
    p.add_argument("--corrector", type=int, nargs="+", default=[0])
    p.add_argument("--predictor", nargs="+", default=["hqs"], choices=["hqs", "ddim", "reverse_diffusion"])
    p.add_argument("--blind", action="store_true", help="estimate the radius instead of passing the true one")
    p.add_argument("--weights", default=None, help="peer weights folder: adds PnP-HQS as the reference")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="sweep.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = build_cases(list_images(args.images)[: args.limit], [Degradation(r) for r in args.radii], crop=args.crop)
    results = []
    if args.weights:
        from scoredeblur.bench.peers import load_ffdnet, pnp_hqs

        net = load_ffdnet(args.weights)
        for r in args.radii:
            cs = [c for c in cases if c.degradation.radius == r]
            est = [pnp_hqs(net, c.blurry, r, c.degradation.noise) for c in cs]
            results.append({"setting": "pnp_hqs_ffdnet", "radius": r,
                            "psnr": float(np.mean([psnr(c.sharp, e) for c, e in zip(cs, est)])),
                            "input_psnr": float(np.mean([psnr(c.sharp, c.blurry) for c in cs]))})
            print(results[-1], flush=True)
    grid = itertools.product(args.predictor, args.steps, args.sigma_start, args.lam, args.eta, args.corrector)
    for predictor, steps, s0, lam, eta, corr in grid:
        for r in args.radii:
            cs = [c for c in cases if c.degradation.radius == r]
            t0 = time.perf_counter()
            outs = [deblur(c.blurry, preset="fast", model=args.model, steps=steps, sigma_start=s0, lam=lam,
                           eta=eta, corrector=bool(corr), predictor=predictor,
                           psf_radius=None if args.blind else r) for c in cs]
            sec = (time.perf_counter() - t0) / len(cs)
            nfe = steps + (steps - 1 if corr else 0)
            results.append({"setting": dict(predictor=predictor, steps=steps, sigma_start=s0, lam=lam, eta=eta,
                                            corrector=corr),
                            "radius": r, "nfe": nfe, "seconds": sec,
                            "psnr": float(np.mean([psnr(c.sharp, o) for c, o in zip(cs, outs)])),
                            "ssim": float(np.mean([ssim(c.sharp, o) for c, o in zip(cs, outs)])),
                            "input_psnr": float(np.mean([psnr(c.sharp, c.blurry) for c in cs]))})
            print(json.dumps(results[-1]), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
