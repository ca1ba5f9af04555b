"""The sampler of ``sampler.pc_sample`` with every elementwise update done by one fused kernel.

Same algorithm, same order of random draws, so on identical noise it reproduces the reference
loop to float32 rounding; the paper's Eq. (11) is folded into the step's last update, so a
predictor-corrector-consistency iteration reads and writes the image twice instead of five times.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .fused import Kernel
from .sampler import SamplerConfig, StepInfo
from .sde import VESDE
from .updates import gradient_consistency, langevin_step_size, proximal_score


def predictor_coefficients(cfg: SamplerConfig, sigma_hi: float, sigma_lo: float, last: bool) -> tuple[float, float, float]:
    """(a, b, c) of the predictor as out = a·x + b·S + c·z (see fused.py's table)."""
    if cfg.predictor == "hqs":
        return 1.0, sigma_hi**2, 0.0
    if cfg.predictor == "ddim":
        if last or sigma_lo == 0:
            return 1.0, sigma_hi**2, 0.0
        return 1.0, sigma_hi**2 - sigma_lo * sigma_hi * math.sqrt(1 - cfg.eta**2), sigma_lo * cfg.eta
    var = sigma_hi**2 - sigma_lo**2
    return 1.0, var, 0.0 if last else math.sqrt(var)


def _coef(n: int, a, b, c, d, device) -> torch.Tensor:
    cols = [torch.as_tensor(v, dtype=torch.float32).reshape(-1).expand(n) for v in (a, b, c, d)]
    return torch.stack(cols, dim=1).to(device)


def fused_sample(score, sde: VESDE, y: torch.Tensor, cfg: SamplerConfig, generator: torch.Generator, kernel: Kernel,
                 callback: Callable[[StepInfo], None] | None = None, physics=None,
                 x_start: torch.Tensor | None = None) -> torch.Tensor:
    if cfg.consistency in ("gradient", "proximal") and physics is None:
        raise ValueError(f"consistency {cfg.consistency!r} needs the blur operator (physics)")
    sigmas = sde.ladder(cfg.steps, cfg.sigma_start).tolist()
    n = y.shape[0]
    noise = lambda: torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)  # noqa: E731
    if cfg.sigma_start is None:
        x = sde.prior_sample(y.shape, generator, y.dtype, y.device)
    elif cfg.predictor == "hqs":
        x = y if x_start is None else x_start
    else:
        x = (y if x_start is None else x_start) + sigmas[0] * noise()
    alpha = cfg.alpha if cfg.consistency == "paper" else 0.0

    def guided(x, sigma):
        s = score(x, sigma)
        return proximal_score(x, s, sigma, y, physics, cfg.noise_std, cfg.lam) if cfg.consistency == "proximal" else s

    for i, sigma_hi in enumerate(sigmas):
        last = i == len(sigmas) - 1
        sigma_lo = 0.0 if last else sigmas[i + 1]
        corrector = cfg.corrector and not last
        a, b, c = predictor_coefficients(cfg, sigma_hi, sigma_lo, last)
        z = noise() if not last and cfg.predictor != "hqs" else None  # as in the reference loop
        k = 1.0 if corrector else 1.0 - alpha  # fold Eq. (11) into this update unless a corrector follows
        x = kernel(x, guided(x, sigma_hi), x if z is None else z, y,
                   _coef(n, a * k, b * k, (c if z is not None else 0.0) * k, 0.0 if corrector else alpha, x.device))
        if corrector:
            g, zc = guided(x, sigma_lo), noise()
            eps = langevin_step_size(g, zc, cfg.snr).reshape(-1)
            x = kernel(x, g, zc, y, _coef(n, 1 - alpha, (1 - alpha) * eps, (1 - alpha) * (2 * eps).sqrt(), alpha,
                                          x.device))
        if cfg.consistency == "gradient":
            x = gradient_consistency(x, y, cfg.alpha, physics)
        if callback is not None:
            callback(StepInfo(i, sigma_lo, x))
    return x
