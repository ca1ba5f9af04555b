"""The sampler of ``sampler.pc_sample`` with every elementwise update done by one fused kernel.

Same algorithm, same order of random draws, so on identical noise it reproduces the reference
loop to float32 rounding; the paper's Eq. (11) is folded into the step's last update, so a
predictor-corrector-consistency iteration reads and writes the image twice instead of five times.
The predictor's coefficients come from ``coefficients.step_table``, as in the C++ loop.
"""
from __future__ import annotations

from typing import Callable

import torch

from scoredeblur.kernels.registry import Kernel
from scoredeblur.sampling.coefficients import coef, start_kind, step_table
from scoredeblur.sampling.config import SamplerConfig
from scoredeblur.sampling.sampler import StepInfo
from scoredeblur.sampling.sde import VESDE
from scoredeblur.sampling.updates import gradient_consistency, langevin_step_size, proximal_score


def fused_sample(score, sde: VESDE, y: torch.Tensor, cfg: SamplerConfig, generator: torch.Generator, kernel: Kernel,
                 callback: Callable[[StepInfo], None] | None = None, physics=None,
                 x_start: torch.Tensor | None = None) -> torch.Tensor:
    if cfg.consistency in ("gradient", "proximal") and physics is None:
        raise ValueError(f"consistency {cfg.consistency!r} needs the blur operator (physics)")
    table = step_table(cfg, sde.ladder(cfg.steps, cfg.sigma_start).tolist())
    n = y.shape[0]
    noise = lambda: torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)  # noqa: E731
    start = start_kind(cfg)
    if start == "prior":
        x = sde.prior_sample(y.shape, generator, y.dtype, y.device)
    else:
        x = y if x_start is None else x_start
        if start == "diffused":
            x = x + table[0].sigma_hi * noise()
    alpha = cfg.alpha if cfg.consistency == "paper" else 0.0

    def guided(x, sigma):
        s = score(x, sigma)
        return proximal_score(x, s, sigma, y, physics, cfg.noise_std, cfg.lam) if cfg.consistency == "proximal" else s

    for i, step in enumerate(table):
        z = noise() if step.draws_noise else None  # as in the reference loop
        k = 1.0 if step.corrector else 1.0 - alpha  # fold Eq. (11) into this update unless a corrector follows
        c = step.c if z is not None else 0.0
        x = kernel(x, guided(x, step.sigma_hi), x if z is None else z, y,
                   coef(n, step.a * k, step.b * k, c * k, 0.0 if step.corrector else alpha, x.device))
        if step.corrector:
            g, zc = guided(x, step.sigma_lo), noise()
            eps = langevin_step_size(g, zc, cfg.snr).reshape(-1)
            x = kernel(x, g, zc, y, coef(n, 1 - alpha, (1 - alpha) * eps, (1 - alpha) * (2 * eps).sqrt(), alpha,
                                         x.device))
        if cfg.consistency == "gradient":
            x = gradient_consistency(x, y, cfg.alpha, physics)
        if callback is not None:
            callback(StepInfo(i, step.sigma_lo, x))
    return x
