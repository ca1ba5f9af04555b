"""Figures and tables of docs/MODEL_CARD.md, reproducible with one command:

    python scripts/model_card.py --out docs/figures      # the embedded model and docs/training/loss.jsonl

Writes: loss_curve.png (training loss), prior_samples.png (unconditional samples), and
model_card.json with the architecture table (parameters, GMACs — multiply-adds — and ms per forward
at 256² in the CPU inference layout, channels_last, for several widths/depths) and the denoising
error of the network at several σ on dev crops against the trivial x̃ → x̃ estimate.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from scoredeblur.bench.cases import centre_crop, list_images
from scoredeblur.config import NetConfig
from scoredeblur.models.checkpoint import load_model, read_checkpoint
from scoredeblur.models.unet import ScoreUNet, count_parameters
from scoredeblur.sampling.sampler import SamplerConfig, pc_sample
from scoredeblur.sampling.sde import VESDE

ARCHS = {
    "base16 x1": NetConfig(base_channels=16),
    "base32 x1 (default)": NetConfig(base_channels=32),
    "base32 x2": NetConfig(base_channels=32, num_res_blocks=2),
    "base48 x1": NetConfig(base_channels=48),
    "base64 x1": NetConfig(base_channels=64),
}


def arch_table(size: int = 256, repeats: int = 3) -> list[dict]:
    from torch.utils.flop_counter import FlopCounterMode

    rows = []
    for name, cfg in ARCHS.items():
        net = ScoreUNet(cfg).eval().to(memory_format=torch.channels_last)  # as deblur runs it on a CPU
        x, c = torch.rand(1, 3, size, size).contiguous(memory_format=torch.channels_last), torch.zeros(1)
        with torch.no_grad():
            with FlopCounterMode(display=False) as fc:
                net(x, c)
            net(x, c)
            t0 = time.perf_counter()
            for _ in range(repeats):
                net(x, c)
        rows.append({"arch": name, "params": count_parameters(net), "gmacs": fc.get_total_flops() / 2e9,
                     "ms_per_forward": 1000 * (time.perf_counter() - t0) / repeats})
        print(rows[-1], flush=True)
    return rows


DENOISE_SIGMAS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0, 50.0)


def denoise_table(model, images: int = 12, crop: int = 128, seed: int = 0,
                  sigmas: tuple[float, ...] = DENOISE_SIGMAS) -> list[dict]:
    imgs = list_images(None)[:images]
    x = torch.stack([torch.from_numpy(centre_crop(a, crop).copy()).permute(2, 0, 1).float() / 255 for _, a in imgs])
    g = torch.Generator().manual_seed(seed)
    rows = []
    for s in sigmas:
        xt = x + s * torch.randn(x.shape, generator=g)
        with torch.no_grad():
            d = torch.cat([model.denoise(xt[i:i + 4], s) for i in range(0, len(xt), 4)])
        mse, ident = float(((d - x) ** 2).mean()), float(((xt - x) ** 2).mean())
        rows.append({"sigma": s, "psnr_network": 10 * np.log10(1 / mse), "psnr_identity": 10 * np.log10(1 / ident),
                     "psnr_mean_image": 10 * np.log10(1 / float(((x - x.mean()) ** 2).mean())),
                     "beats_identity": mse < ident})
        print(rows[-1], flush=True)
    return rows


def loss_curve(log: Path, path: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [json.loads(line) for line in log.read_text().splitlines()]
    steps = np.array([r["step"] for r in recs])
    loss = np.array([r["loss"] for r in recs])
    k = 25
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid") if len(loss) > k else loss
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, loss, lw=0.5, alpha=0.4, label="every 10 steps")
    ax.plot(steps[len(steps) - len(smooth):], smooth, lw=1.5, label=f"moving mean of {k}")
    ax.set(xlabel="step", ylabel="DSM loss (λ = σ²)", yscale="log", title="training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"steps": int(steps[-1]), "final_mean_loss": float(smooth[-1]),
            "seconds": float(sum(r.get("sec_per_step", 0) * 10 for r in recs))}


def prior_samples(model, path: Path, n: int = 16, size: int = 64, steps: int = 300, seed: int = 0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = torch.zeros(n, 3, size, size)
    with torch.no_grad():
        x = pc_sample(model.score, VESDE(model.sde_config), y, SamplerConfig(steps=steps, consistency=None),
                      torch.Generator().manual_seed(seed))
    x = x.clamp(0, 1).permute(0, 2, 3, 1).numpy()
    fig, axes = plt.subplots(2, n // 2, figsize=(n // 2 * 1.2, 2.6))
    for ax, img in zip(axes.ravel(), x):
        ax.imshow(img)
        ax.axis("off")
    fig.suptitle(f"unconditional samples, {size}², PC sampler, {steps} steps", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=None, help="weights to evaluate (default: the embedded model)")
    p.add_argument("--loss-log", default="docs/training/loss.jsonl", help="the run's loss.jsonl")
    p.add_argument("--out", default="docs/figures")
    p.add_argument("--skip-arch", action="store_true", help="keep the architecture table of the last run")
    p.add_argument("--sample-steps", type=int, default=300)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from scoredeblur.models.weights import default_model_path

    path = args.model or str(default_model_path())
    model = load_model(path)
    ckpt = read_checkpoint(path)
    result = {"trained_steps": int(ckpt.get("trained_steps", ckpt.get("step", 0))),
              "train_config": ckpt.get("train_config"), "net_config": ckpt["net_config"],
              "sde_config": ckpt["sde_config"], "threads": torch.get_num_threads()}
    result["loss"] = loss_curve(Path(args.loss_log), out / "loss_curve.png")
    result["denoising"] = denoise_table(model)
    prior_samples(model, out / "prior_samples.png", steps=args.sample_steps)
    previous = out / "model_card.json"
    if not args.skip_arch:
        result["architectures"] = arch_table()
    elif previous.is_file():  # keep the last measured table rather than dropping it
        result["architectures"] = json.loads(previous.read_text()).get("architectures")
    (out / "model_card.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
