"""Which training choices help, on equal compute: preconditioning (EDM vs NCSN's S = F/σ) and
σ importance sampling (half the draws on [σ_min, 1], the range restoration uses, vs log-uniform).

    python scripts/ablate_training.py --data ../shared/data/train --steps 300 --out ablation.json

Each variant trains from the same seed on the same patches for --steps steps, then its EMA network
is scored by denoising PSNR on dev crops at the noise levels deblurring runs at.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
from model_card import denoise_table  # scripts/, beside this script

from scoredeblur.config import NetConfig, SDEConfig, TrainConfig
from scoredeblur.models.checkpoint import load_model
from scoredeblur.training.data import PatchSampler, load_image_folder
from scoredeblur.training.score import Trainer

VARIANTS = {
    "edm + restoration sampling (shipped)": dict(precond="edm", restore_fraction=0.5),
    "edm + log-uniform σ": dict(precond="edm", restore_fraction=0.0),
    "ncsn + restoration sampling": dict(precond="ncsn", restore_fraction=0.5),
    "ncsn + log-uniform σ (the paper)": dict(precond="ncsn", restore_fraction=0.0),
}
SIGMAS = (0.02, 0.05, 0.1, 0.2, 1.0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="ablation.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    images = load_image_folder(args.data, 3, 64)
    results = []
    for name, v in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            tc = TrainConfig(steps=args.steps, lr=args.lr, warmup_steps=100, restore_fraction=v["restore_fraction"],
                             save_every=args.steps, seed=0)
            t0 = time.perf_counter()
            tr = Trainer(PatchSampler(images, 64), tmp, NetConfig(precond=v["precond"]), SDEConfig(), tc)
            path = tr.fit(progress=False)
            results.append({"variant": name, "steps": args.steps, "seconds": time.perf_counter() - t0,
                            "denoise_psnr": {r["sigma"]: float(r["psnr_network"])
                                             for r in denoise_table(load_model(path), images=8, sigmas=SIGMAS)}})
        print(json.dumps(results[-1]), flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
