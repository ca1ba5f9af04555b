"""Which network width/depth to ship, on equal compute: each candidate trains for the same wall
time on this machine (same seed, data, batch, lr, σ sampling), then its EMA network is scored on dev
images: denoising PSNR at the restoration range and deblurring PSNR/SSIM (``fast`` preset given the
true radius, so the number measures the prior, not the blind estimator).

    python scripts/width_study.py --data ../shared/data/train --minutes 12 --out width_study.json

Equal *time* (not equal steps) is the trade-off the product faces: a wider net is slower to train
and to run, and must be better per second to be worth it.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
from model_card import denoise_table  # scripts/, beside this script

import scoredeblur
from scoredeblur.bench.cases import Degradation, centre_crop, degrade, list_images
from scoredeblur.bench.metrics import psnr, ssim
from scoredeblur.config import NetConfig, SDEConfig, TrainConfig
from scoredeblur.models.checkpoint import load_model
from scoredeblur.models.unet import count_parameters
from scoredeblur.training.data import PatchSampler, load_image_folder
from scoredeblur.training.score import Trainer

CANDIDATES = {
    "base 16, 1 block": NetConfig(base_channels=16, num_res_blocks=1),
    "base 32, 1 block (shipped)": NetConfig(base_channels=32, num_res_blocks=1),
    "base 48, 1 block": NetConfig(base_channels=48, num_res_blocks=1),
}
SIGMAS = (0.05, 0.1, 0.2)


def deblur_scores(model_path, radius: float, images: int, crop: int) -> dict:
    """Mean input/output PSNR and SSIM of the ``fast`` preset given the true radius."""
    deg = Degradation(radius=radius)
    rows = []
    for i, (_, sharp) in enumerate(list_images(None)[:images]):
        sharp = centre_crop(sharp, crop)
        blurry, _, _ = degrade(sharp.astype(np.float64) / 255, deg, seed=i)
        out = scoredeblur.deblur(blurry, preset="fast", model=model_path, psf_radius=radius, noise_std=deg.noise)
        ref = sharp.astype(np.float64) / 255
        rows.append((psnr(ref, blurry), psnr(ref, out), ssim(ref, blurry), ssim(ref, out)))
    m = np.mean(rows, axis=0)
    return {"input_psnr": m[0], "psnr": m[1], "input_ssim": m[2], "ssim": m[3]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--eval-images", type=int, default=3)
    p.add_argument("--only", nargs="*", default=None, help="candidate names to run (default: all)")
    p.add_argument("--out", default="width_study.json")
    args = p.parse_args()
    images = load_image_folder(args.data, 3, 64)
    results = []
    for name, net_cfg in CANDIDATES.items():
        if args.only and not any(o in name for o in args.only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tc = TrainConfig(steps=10**7, batch_size=args.batch_size, lr=args.lr, warmup_steps=100,
                             restore_fraction=0.5, save_every=10**7, seed=0)
            tr = Trainer(PatchSampler(images, 64), tmp, net_cfg, SDEConfig(), tc)
            t0 = time.perf_counter()
            path = tr.fit(progress=False, max_seconds=args.minutes * 60)
            seconds = time.perf_counter() - t0
            model = load_model(path)
            row = {"network": name, "parameters": count_parameters(model.net), "steps": tr.step,
                   "train_seconds": round(seconds, 1),
                   "denoise_psnr": {r["sigma"]: round(float(r["psnr_network"]), 2)
                                    for r in denoise_table(model, images=8, sigmas=SIGMAS)},
                   "deblur_r3": {k: round(float(v), 4) for k, v in
                                 deblur_scores(path, 3.0, args.eval_images, 256).items()}}
        results.append(row)
        print(json.dumps(row), flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
