"""Training the local-radius estimator (``physics/radius_net.py``) from sharp images only.

Each example: a random crop of a sharp image (luma), a random radius map (uniform, an elliptic
blob, or a thresholded smooth random field, each with a smooth transition of random width), the
crop blurred through that map with the operator the sampler inverts (a ladder of disk blurs mixed
per pixel, ``VaryingDefocusBlur``), optionally softened as real lenses soften a disk (``Degradations``:
the whole crop convolved with a Gaussian of random width, so a disk of radius r becomes disk ⊛
Gaussian and in-focus content a little soft, its label still r), Gaussian noise of a random level,
8-bit quantisation, optionally a JPEG round trip. The target is the map itself; the loss is
cross-entropy against the radius classes (``soft_targets``). All draws come from one seeded
``torch.Generator``; checkpoints are atomic and resume where they left.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

from scoredeblur.models.checkpoint import atomic_torch_save
from scoredeblur.physics.degrade import jpeg, sensor
from scoredeblur.physics.estimate import luma
from scoredeblur.physics.radius_net import RadiusNet, RadiusNetConfig, from_checkpoint, soft_targets, to_checkpoint
from scoredeblur.physics.varying import VaryingDefocusBlur
from scoredeblur.progress import disabled
from scoredeblur.training.data import load_image_folder

CHECKPOINT_NAME = "radius_net.pt"


def _u(g: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))


def random_radius_map(n: int, max_radius: float, g: torch.Generator) -> np.ndarray:
    """An n×n map: a quarter uniform, the rest two depths with a smooth transition between them."""
    a, b = _u(g, 0, max_radius), _u(g, 0, max_radius)
    kind = _u(g)
    if kind < 0.25:
        return np.full((n, n), a)
    if kind < 0.55:  # an elliptic subject, possibly cut by the frame
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
        cy, cx, ry, rx = _u(g, -0.2, 1.2) * n, _u(g, -0.2, 1.2) * n, _u(g, 0.15, 0.8) * n, _u(g, 0.15, 0.8) * n
        t = np.clip((np.hypot((yy - cy) / ry, (xx - cx) / rx) - 1) / _u(g, 0.02, 0.6), 0, 1)
    else:  # irregular depth regions: a smooth random field, thresholded softly
        field = torch.randn(n, n, generator=g, dtype=torch.float64).numpy()
        f = gaussian_filter(field, _u(g, 6, 30), mode="reflect")
        f = (f - f.mean()) / (f.std() + 1e-9)
        t = np.clip(f / _u(g, 0.05, 1.5) + 0.5, 0, 1)
    t = t * t * (3 - 2 * t)
    return a + (b - a) * t


@dataclass(frozen=True)
class Degradations:
    """What the training examples go through after the disk blur, beyond noise and 8-bit rounding.
    The defaults are the shipped net's recipe (exact pillboxes)."""

    max_noise: float = 0.03      # Gaussian noise σ drawn from [0, max_noise]
    soft_rim: float = 0.0        # the crop convolved with a Gaussian of σ drawn from [0, soft_rim] px
    soft_share: float = 0.0      # share of examples softened so
    jpeg_share: float = 0.0      # share of examples through a JPEG round trip
    jpeg_quality: tuple[int, int] = (60, 95)

    def __post_init__(self):
        for name in ("max_noise", "soft_rim"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        for name in ("soft_share", "jpeg_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a share of the examples, in [0, 1]; got {getattr(self, name)}")
        lo, hi = self.jpeg_quality
        if not 1 <= lo <= hi <= 100:
            raise ValueError(f"jpeg_quality must be a range within 1..100, got {self.jpeg_quality}")

    def record(self) -> dict:
        """The settings as a checkpoint stores them (lists for tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def synthesize_example(sharp_luma: torch.Tensor, max_radius: float, g: torch.Generator,
                       degradations: Degradations = Degradations()) -> tuple[torch.Tensor, torch.Tensor]:
    """(blurred noisy 8-bit luma (1, H, W), its radius map (H, W)) from a sharp (H, W) luma crop."""
    d = degradations
    n = sharp_luma.shape[-1]
    x = sharp_luma.double()[None, None] * _u(g, 0.6, 1.1) + _u(g, -0.05, 0.1)  # exposure variety
    rmap = random_radius_map(n, max_radius, g)
    y = VaryingDefocusBlur(rmap).A(x)
    if d.soft_rim > 0 and _u(g) < d.soft_share:
        y = torch.from_numpy(gaussian_filter(y.numpy(), (0, 0, *(2 * [_u(g, 0, d.soft_rim)])), mode="reflect"))
    y = sensor(y, _u(g, 0, d.max_noise), g, bits=8)
    if d.jpeg_share > 0 and _u(g) < d.jpeg_share:
        lo, hi = d.jpeg_quality
        y = torch.from_numpy(jpeg(y[0, 0].numpy(), int(torch.randint(lo, hi + 1, (), generator=g))))[None, None]
    return y[0].float(), torch.from_numpy(rmap).float()


class RadiusTrainer:
    def __init__(self, images: list[torch.Tensor], out_dir: str | Path, config: RadiusNetConfig = RadiusNetConfig(),
                 steps: int = 2000, batch_size: int = 16, crop: int = 96, lr: float = 2e-3, seed: int = 0,
                 degradations: Degradations = Degradations()):
        self.images = [torch.from_numpy(luma(img.permute(1, 2, 0).numpy() / 255.0).astype(np.float32))
                       for img in images]
        self.out_dir, self.steps, self.batch_size, self.crop = Path(out_dir), steps, batch_size, crop
        self.degradations = degradations
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = RadiusNet(config)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        total = max(steps, 4)  # OneCycle needs two steps in each of its phases
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=lr, total_steps=total,
                                                         pct_start=max(0.05, 2 / total))
        self.step = 0

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def save(self) -> Path:
        ckpt = to_checkpoint(self.net, optimizer=self.opt.state_dict(), scheduler=self.sched.state_dict(),
                             step=self.step, rng_state=self.generator.get_state(), total_steps=self.steps,
                             degradations=self.degradations.record())
        atomic_torch_save(ckpt, self.checkpoint_path)
        return self.checkpoint_path

    def resume(self) -> bool:
        if not self.checkpoint_path.exists():
            return False
        ckpt = torch.load(self.checkpoint_path, weights_only=True)
        net = from_checkpoint(ckpt)
        same_data = ckpt.get("degradations", Degradations().record()) == self.degradations.record()
        if net.config != self.net.config or ckpt.get("total_steps") != self.steps or not same_data:
            raise ValueError(f"{self.checkpoint_path} was trained with other settings; use a fresh --out")
        self.net.load_state_dict(net.state_dict())
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["scheduler"])
        self.generator.set_state(ckpt["rng_state"])
        self.step = int(ckpt["step"])
        return True

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        g, c, out = self.generator, self.crop, []
        for _ in range(self.batch_size):
            img = self.images[int(torch.randint(len(self.images), (), generator=g))]
            h, w = img.shape
            y0, x0 = int(_u(g) * (h - c + 1)), int(_u(g) * (w - c + 1))
            crop = img[y0:y0 + c, x0:x0 + c]
            crop = torch.rot90(crop, int(torch.randint(4, (), generator=g)))
            out.append(synthesize_example(crop, self.net.config.max_radius, g, self.degradations))
        ys, maps = zip(*out)
        return torch.stack(ys), torch.stack(maps)

    def train_step(self) -> float:
        y, rmap = self.batch()
        self.net.train()
        logits = self.net(y)
        loss = -(soft_targets(rmap, self.net.config) * logits.log_softmax(1)).sum(1).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.step += 1
        return float(loss.detach())

    def fit(self, save_every: int = 100, progress: bool = True) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=self.steps, initial=self.step, disable=disabled(progress), desc="train-radius", unit="step")
        with open(self.out_dir / "radius_loss.jsonl", "a") as log:
            running, t0 = None, time.perf_counter()
            while self.step < self.steps:
                loss = self.train_step()
                running = loss if running is None else 0.98 * running + 0.02 * loss
                bar.update(1)
                bar.set_postfix(loss=f"{running:.3f}")
                if self.step % save_every == 0 or self.step == self.steps:
                    log.write(json.dumps({"step": self.step, "loss": running,
                                          "seconds": round(time.perf_counter() - t0, 1)}) + "\n")
                    log.flush()
                    self.save()
        bar.close()
        return self.checkpoint_path


def train_radius_net(data_dir: str | Path, out_dir: str | Path, steps: int = 2000, batch_size: int = 16,
                     crop: int = 96, seed: int = 0, resume: bool = True, progress: bool = True,
                     degradations: Degradations = Degradations()) -> Path:
    images = load_image_folder(data_dir, 3, crop)
    trainer = RadiusTrainer(images, out_dir, steps=steps, batch_size=batch_size, crop=crop, seed=seed,
                            degradations=degradations)
    if resume and trainer.resume():
        print(f"resumed from {trainer.checkpoint_path} at step {trainer.step}")
    return trainer.fit(progress=progress)
