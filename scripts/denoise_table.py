"""Denoising PSNR of score models (Tweedie: D(x̃) = x̃ + σ² S(x̃, σ)) against FFDNet, on full images.

    python scripts/denoise_table.py --images ../shared/data/dev/CBSD68 --sigmas 15 25 50 \
        --models scoredeblur/models/default.pt runs/ft/checkpoint.pt --weights ../shared/weights

Gaussian noise of σ/255 added to the clean 8-bit image in [0, 1], no clipping (the usual
denoising protocol), one seeded draw per image and σ; PSNR over the whole image, averaged over
the images. Prints a Markdown table; ``--out`` also writes the rows as JSON. ``--tile N``: the
score evaluated as ``deblur`` evaluates it, on N-pixel tiles of the moving grid (``TiledScore``,
overlap N/16, first call) instead of on the whole image at once (the network's GroupNorm then
sees a tile's statistics, as in every deblurring call).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from scoredeblur.bench.peers import load_ffdnet
from scoredeblur.engine.loading import get_model
from scoredeblur.io.images import read_folder_uint8
from scoredeblur.sampling.tiling import TiledScore


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True)
    p.add_argument("--sigmas", type=float, nargs="+", default=[15, 25, 50], help="noise levels in 8-bit units")
    p.add_argument("--models", nargs="+", required=True, help="checkpoints (.pt) to score")
    p.add_argument("--weights", default=None, help="folder with ffdnet_kair/ (adds the FFDNet column)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tile", type=int, default=None, help="evaluate on tiles of this size, as deblur does")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    images = [torch.from_numpy(a[:, :, :3].copy() if a.ndim == 3 else np.repeat(a[:, :, None], 3, 2)).permute(2, 0, 1)
              .float()[None] / 255 for _, a in read_folder_uint8(args.images)][: args.limit]
    denoisers = {Path(m).name if Path(m).name != "checkpoint.pt" else Path(m).parent.name: get_model(m, "cpu")
                 for m in args.models}
    ffdnet = load_ffdnet(args.weights) if args.weights else None
    rows = []
    for s8 in args.sigmas:
        s = s8 / 255
        psnrs: dict[str, list[float]] = {name: [] for name in denoisers}
        psnrs.update({"ffdnet": []} if ffdnet is not None else {})
        for i, x in enumerate(images):
            g = torch.Generator().manual_seed(args.seed * 100_003 + i * 101 + int(s8))
            xt = x + s * torch.randn(x.shape, generator=g)
            with torch.no_grad():
                outs = {name: denoise(net, xt, s, args.tile) for name, net in denoisers.items()}
                if ffdnet is not None:
                    outs["ffdnet"] = ffdnet(xt, s)
            for name, d in outs.items():
                psnrs[name].append(float(10 * torch.log10(1 / ((d.clamp(0, 1) - x) ** 2).mean())))
        rows.append({"sigma": s8, **{k: float(np.mean(v)) for k, v in psnrs.items()}, "n": len(images)})
        print(json.dumps(rows[-1]), flush=True)
    names = [k for k in rows[0] if k not in ("sigma", "n")]
    print("\n| σ (8-bit) | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for r in rows:
        print(f"| {r['sigma']:g} | " + " | ".join(f"{r[k]:.2f}" for k in names) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


def denoise(net, x: torch.Tensor, sigma: float, tile: int | None) -> torch.Tensor:
    """Tweedie's D(x) = x + σ² S(x, σ), on the whole image or on deblur's tiles."""
    if tile is None:
        return net.denoise(x, sigma)
    return x + sigma**2 * TiledScore(net.score, tile=tile, overlap=max(4, tile // 16), batch=1, moving=True)(x, sigma)


if __name__ == "__main__":
    main()
