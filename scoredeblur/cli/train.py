"""``scoredeblur train``, ``train-radius`` and ``pack``: the models, from sharp images."""
from __future__ import annotations

from pathlib import Path

import torch

from scoredeblur.config import NetConfig, SDEConfig, TrainConfig
from scoredeblur.models.checkpoint import atomic_torch_save, pack_for_inference
from scoredeblur.physics.radius_net import from_checkpoint, to_checkpoint
from scoredeblur.training.radius import Degradations, train_radius_net
from scoredeblur.training.score import train


def add_train(sub) -> None:
    p = sub.add_parser("train", help="learn the score prior from a folder of sharp images")
    p.add_argument("--data", required=True, help="folder of sharp training images (searched recursively)")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt and loss.jsonl go here")
    p.add_argument("--steps", type=int, default=TrainConfig.steps, help="train until this step count")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--patch-size", type=int, default=TrainConfig.patch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--warmup-steps", type=int, default=TrainConfig.warmup_steps)
    p.add_argument("--ema-decay", type=float, default=TrainConfig.ema_decay)
    p.add_argument("--restore-fraction", type=float, default=TrainConfig.restore_fraction,
                   help="share of σ draws focused on [σ_min, --restore-sigma-max]")
    p.add_argument("--restore-sigma-max", type=float, default=TrainConfig.restore_sigma_max)
    p.add_argument("--save-every", type=int, default=TrainConfig.save_every)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--channels", type=int, default=NetConfig.in_channels, choices=(1, 3))
    p.add_argument("--base-channels", type=int, default=NetConfig.base_channels)
    p.add_argument("--channel-mults", type=int, nargs="+", default=list(NetConfig.channel_mults))
    p.add_argument("--num-res-blocks", type=int, default=NetConfig.num_res_blocks)
    p.add_argument("--attn-levels", type=int, nargs="*", default=None,
                   help="levels with attention (default: the deepest)")
    p.add_argument("--precond", choices=("edm", "ncsn"), default=NetConfig.precond)
    p.add_argument("--sigma-min", type=float, default=SDEConfig.sigma_min)
    p.add_argument("--sigma-max", type=float, default=SDEConfig.sigma_max)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--no-resume", action="store_true", help="start over even if out/checkpoint.pt exists")
    p.add_argument("--init-from", metavar="CKPT", default=None,
                   help="start a fresh run from this checkpoint's weights (fine-tune; same architecture options)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (saving a checkpoint) after this many minutes, whatever --steps says")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    attn = args.attn_levels if args.attn_levels is not None else [len(args.channel_mults) - 1]
    net = NetConfig(in_channels=args.channels, base_channels=args.base_channels,
                    channel_mults=tuple(args.channel_mults), num_res_blocks=args.num_res_blocks,
                    attn_levels=tuple(attn), precond=args.precond)
    sde = SDEConfig(sigma_min=args.sigma_min, sigma_max=args.sigma_max)
    tc = TrainConfig(patch_size=args.patch_size, batch_size=args.batch_size, lr=args.lr,
                     warmup_steps=args.warmup_steps, ema_decay=args.ema_decay, steps=args.steps,
                     restore_fraction=args.restore_fraction, restore_sigma_max=args.restore_sigma_max,
                     seed=args.seed, save_every=args.save_every)
    max_seconds = None if args.max_minutes is None else 60.0 * args.max_minutes
    path = train(args.data, args.out, net, sde, tc, device=args.device, resume=not args.no_resume, init_from=args.init_from,
                 max_seconds=max_seconds)
    print(f"checkpoint: {path}")
    return 0


def add_pack(sub) -> None:
    p = sub.add_parser("pack", help="turn a training checkpoint into inference weights (EMA, fp16)")
    p.add_argument("checkpoint")
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--fp32", action="store_true", help="keep float32 weights")
    p.add_argument("--write-sha256", action="store_true", help="also write OUT.sha256 (for the embedded model)")
    p.set_defaults(func=_run_pack)


def _run_pack(args) -> int:
    digest = pack_for_inference(args.checkpoint, args.out, fp16=not args.fp32)
    if args.write_sha256:
        Path(str(args.out) + ".sha256").write_text(f"{digest}  {Path(args.out).name}\n")
    print(f"{args.out}: sha256 {digest}")
    return 0


def add_train_radius(sub) -> None:
    p = sub.add_parser("train-radius", help="learn the local defocus-radius estimator from sharp images")
    p.add_argument("--data", required=True, help="folder of sharp training images (searched recursively)")
    p.add_argument("--out", required=True, help="run folder: radius_net.pt and radius_loss.jsonl go here")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/radius_net.pt exists")
    p.add_argument("--soft-rim", type=float, default=0.0, metavar="SIGMA",
                   help="soften examples by a Gaussian of σ drawn from [0, SIGMA] px, as real lenses soften a disk")
    p.add_argument("--soft-share", type=float, default=0.7, help="share of examples softened (with --soft-rim)")
    p.add_argument("--jpeg-share", type=float, default=0.0, help="share of examples through a JPEG round trip (q 60-95)")
    p.add_argument("--ship", metavar="FILE", default=None,
                   help="when done, also write the bare weights (no optimiser state) to FILE")
    p.set_defaults(func=_run_train_radius)


def _run_train_radius(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    degradations = Degradations(soft_rim=args.soft_rim, soft_share=args.soft_share if args.soft_rim > 0 else 0.0,
                                jpeg_share=args.jpeg_share)
    path = train_radius_net(args.data, args.out, steps=args.steps, batch_size=args.batch_size, crop=args.crop,
                            seed=args.seed, resume=not args.no_resume, degradations=degradations)
    print(f"checkpoint: {path}")
    if args.ship:
        ckpt = torch.load(path, weights_only=True)
        atomic_torch_save(to_checkpoint(from_checkpoint(ckpt), step=ckpt["step"]), args.ship)
        print(f"weights: {args.ship}")
    return 0
