"""Denoising score matching (source paper, Eq. 7) with λ(σ) = σ².

λ(σ)‖S(x̃, σ) − ∇log p_σ(x̃|x)‖² = ‖σ S(x̃, σ) + z‖² for x̃ = x + σz, averaged per pixel.
Adam with linear warm-up, gradient clipping, EMA weights; checkpoints are atomic and hold
the optimiser, step and generator state, so a resumed run takes exactly the step it would have.
"""
from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import torch
from tqdm import tqdm

from scoredeblur.config import NetConfig, SDEConfig, TrainConfig, from_dict, to_dict
from scoredeblur.errors import CheckpointError
from scoredeblur.models.checkpoint import atomic_torch_save, build_model, make_checkpoint, read_checkpoint
from scoredeblur.models.score_model import Preconditioner
from scoredeblur.models.unet import ScoreUNet, count_parameters
from scoredeblur.progress import disabled
from scoredeblur.sampling.sde import VESDE
from scoredeblur.training.data import PatchSampler, load_image_folder

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "loss.jsonl"


def dsm_loss(model: Preconditioner, sde: VESDE, x0: torch.Tensor, generator: torch.Generator,
             cfg: TrainConfig) -> torch.Tensor:
    sigma = sde.sample_training_sigmas(x0.shape[0], generator, cfg.restore_fraction, cfg.restore_sigma_max)
    sigma = sigma.to(x0.device, x0.dtype)
    xt, z = sde.perturb(x0, sigma, generator)
    return dsm_loss_at(model, xt, z, sigma)


def dsm_loss_at(score_fn, xt: torch.Tensor, z: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Eq. (7) with λ = σ² for given draws: mean over pixels of (σ S(x̃, σ) + z)²."""
    s = sigma.reshape(-1, 1, 1, 1)
    return ((s * score_fn(xt, sigma) + z) ** 2).mean()


class Trainer:
    def __init__(self, sampler: PatchSampler, out_dir: str | Path, net_config: NetConfig = NetConfig(),
                 sde_config: SDEConfig = SDEConfig(), train_config: TrainConfig = TrainConfig(),
                 device: str | torch.device = "cpu"):
        self.sampler, self.out_dir, self.device = sampler, Path(out_dir), torch.device(device)
        self.cfg, self.sde = train_config, VESDE(sde_config)
        # Weight init is a random draw too: take it from the run's seed, not the global state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(train_config.seed)
            self.net = ScoreUNet(net_config).to(self.device)
        self.model = Preconditioner(self.net, sde_config)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=train_config.lr)
        self.generator = torch.Generator().manual_seed(train_config.seed)
        self.step = 0

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def resume(self) -> bool:
        """Continue from ``out_dir/checkpoint.pt`` if present; refuse one of another architecture."""
        if not self.checkpoint_path.exists():
            return False
        ckpt = read_checkpoint(self.checkpoint_path, map_location=self.device)
        if ckpt["net_config"] != to_dict(self.net.config) or ckpt["sde_config"] != to_dict(self.sde.config):
            raise ValueError(f"{self.checkpoint_path} was trained with another network/SDE config; "
                             "use a fresh --out folder or the same settings")
        self.net.load_state_dict(ckpt["state_dict"])
        self.ema.load_state_dict(ckpt["ema_state_dict"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.generator.set_state(ckpt["rng_state"])
        self.step = int(ckpt["step"])
        return True

    def init_from(self, path: str | os.PathLike) -> None:
        """Start a fresh run from another checkpoint's weights (its EMA weights when it has them):
        a fine-tune. The architecture and SDE must be the same; optimiser and step start anew."""
        ckpt = read_checkpoint(path, map_location=self.device)
        if ckpt["net_config"] != to_dict(self.net.config) or ckpt["sde_config"] != to_dict(self.sde.config):
            raise CheckpointError(f"{path}: another network/SDE config than this run's; pass the same "
                                  "architecture options as the checkpoint was trained with")
        state = ckpt.get("ema_state_dict") or ckpt["state_dict"]
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        self.net.load_state_dict(state)
        self.ema.load_state_dict(state)

    def save(self) -> Path:
        ckpt = make_checkpoint(self.net, self.sde.config, ema_state_dict=self.ema.state_dict(),
                               optimizer=self.opt.state_dict(), step=self.step,
                               rng_state=self.generator.get_state(), train_config=to_dict(self.cfg))
        atomic_torch_save(ckpt, self.checkpoint_path)
        return self.checkpoint_path

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        lr = cfg.lr * min(1.0, (self.step + 1) / max(1, cfg.warmup_steps))
        for group in self.opt.param_groups:
            group["lr"] = lr
        x0 = self.sampler.sample(cfg.batch_size, self.generator).to(self.device)
        self.net.train()
        loss = dsm_loss(self.model, self.sde, x0, self.generator, cfg)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.opt.step()
        decay = min(cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for pe, p in zip(self.ema.parameters(), self.net.parameters()):
                pe.lerp_(p, 1.0 - decay)
        self.step += 1
        return {"step": self.step, "loss": float(loss.detach()), "lr": lr, "grad_norm": float(grad_norm)}

    def fit(self, until_step: int | None = None, progress: bool = True,
            max_seconds: float | None = None) -> Path:
        """Train to ``until_step``; with ``max_seconds``, stop (and save) once that much time has passed."""
        until = self.cfg.steps if until_step is None else until_step
        t_start = time.perf_counter()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.out_dir / LOG_NAME
        bar = tqdm(total=until, initial=self.step, disable=disabled(progress), desc="train", unit="step")
        running, t_last = None, time.perf_counter()
        with open(log_path, "a") as log:
            while self.step < until:
                rec = self.train_step()
                running = rec["loss"] if running is None else 0.98 * running + 0.02 * rec["loss"]
                bar.update(1)
                bar.set_postfix(loss=f"{running:.4f}")
                if self.step % self.cfg.log_every == 0 or self.step == until:
                    now = time.perf_counter()
                    rec["sec_per_step"] = (now - t_last) / self.cfg.log_every
                    t_last = now
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                out_of_time = max_seconds is not None and time.perf_counter() - t_start >= max_seconds
                if self.step % self.cfg.save_every == 0 or self.step == until or out_of_time:
                    self.save()
                if out_of_time:
                    print(f"time limit reached at step {self.step}")
                    break
        bar.close()
        return self.checkpoint_path


def train(data_dir: str | Path, out_dir: str | Path, net_config: NetConfig = NetConfig(),
          sde_config: SDEConfig = SDEConfig(), train_config: TrainConfig = TrainConfig(),
          device: str | None = None, resume: bool = True, progress: bool = True,
          max_seconds: float | None = None, init_from: str | os.PathLike | None = None) -> Path:
    """Train (or resume) a run in ``out_dir``. ``init_from``: a fresh run starts from that
    checkpoint's weights (a fine-tune); a resumed run continues its own and says so."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch shapes: let cuDNN pick its fastest convs
    images = load_image_folder(data_dir, net_config.in_channels, train_config.patch_size)
    trainer = Trainer(PatchSampler(images, train_config.patch_size), out_dir, net_config, sde_config,
                      train_config, device)
    if resume and trainer.resume():
        print(f"resumed from {trainer.checkpoint_path} at step {trainer.step}"
              + (f" (its own weights; {init_from} applies to a fresh run only)" if init_from else ""))
    elif init_from is not None:
        trainer.init_from(init_from)
        print(f"starting from the weights of {init_from}")
    print(f"{len(images)} images, {count_parameters(trainer.net):,} parameters, device {device}, "
          f"{torch.get_num_threads()} threads")
    return trainer.fit(progress=progress, max_seconds=max_seconds)


def configs_from_checkpoint(path: str | os.PathLike) -> tuple[NetConfig, SDEConfig, TrainConfig | None]:
    ckpt = read_checkpoint(path)
    tc = ckpt.get("train_config")
    return (from_dict(NetConfig, ckpt["net_config"]), from_dict(SDEConfig, ckpt["sde_config"]),
            from_dict(TrainConfig, tc) if tc else None)


__all__ = ["dsm_loss", "dsm_loss_at", "Trainer", "train", "build_model", "configs_from_checkpoint"]
