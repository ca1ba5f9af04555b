"""Reference predictor-corrector sampler with data consistency (source paper, Eqs. 9-11).

This loop is the oracle that every fast path is tested against: keep it short and literal.
``score`` is any callable S(x, σ) (a ``Preconditioner``, a ``TiledScore``, an exact analytic score);
``physics`` is the defocus operator (A, Aᵀ, prox) for the physical consistency variants.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from scoredeblur.sampling.config import SamplerConfig
from scoredeblur.sampling.sde import VESDE
from scoredeblur.sampling.updates import (
    ddim_predictor,
    gradient_consistency,
    hqs_predictor,
    langevin_corrector,
    langevin_step_size,
    paper_consistency,
    proximal_score,
    reverse_diffusion_predictor,
)

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class StepInfo:
    index: int
    sigma: float
    x: torch.Tensor  # the iterate after this step's consistency update


def pc_sample(score: ScoreFn, sde: VESDE, y: torch.Tensor, cfg: SamplerConfig, generator: torch.Generator,
              callback: Callable[[StepInfo], None] | None = None, physics=None,
              x_start: torch.Tensor | None = None) -> torch.Tensor:
    """Sample x ~ p(x | y). ``x_start`` (default y) is what a late (CCDF) start diffuses from."""
    if cfg.consistency in ("gradient", "proximal") and physics is None:
        raise ValueError(f"consistency {cfg.consistency!r} needs the blur operator (physics)")
    sigmas = sde.ladder(cfg.steps, cfg.sigma_start).tolist()  # σ_N > … > σ_1 = σ_min (Eq. 6)
    noise = lambda: torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)  # noqa: E731
    if cfg.sigma_start is None:
        x = sde.prior_sample(y.shape, generator, y.dtype, y.device)      # x_N ~ N(0, σ_max² I)
    elif cfg.predictor == "hqs":
        x = y if x_start is None else x_start  # its own error plays the part of the noise at σ_start
    else:
        x = (y if x_start is None else x_start) + sigmas[0] * noise()     # CCDF: a forward-diffused start

    def guided(x, sigma):  # S(x, σ), made data-consistent for "proximal"
        s = score(x, sigma)
        if cfg.consistency == "proximal":
            s = proximal_score(x, s, sigma, y, physics, cfg.noise_std, cfg.lam)
        return s

    for i, sigma_hi in enumerate(sigmas):
        last = i == len(sigmas) - 1
        sigma_lo = 0.0 if last else sigmas[i + 1]
        # The last step lands on σ = 0 (the Tweedie mean) and HQS adds no noise: no draw for either.
        z = None if last or cfg.predictor == "hqs" else noise()
        # Eq. (9): reverse-diffusion predictor σ_hi → σ_lo (or its DDIM form for large steps).
        if cfg.predictor == "ddim":
            x = ddim_predictor(x, guided(x, sigma_hi), sigma_hi, sigma_lo, z, cfg.eta)
        elif cfg.predictor == "hqs":
            x = hqs_predictor(x, guided(x, sigma_hi), sigma_hi)
        else:
            x = reverse_diffusion_predictor(x, guided(x, sigma_hi), sigma_hi, sigma_lo, z)
        # Eq. (10): annealed-Langevin corrector. The paper writes S(x̃, σ_{i+1}); x̃ already sits at
        # σ_lo after the predictor, so the level that matches it is σ_lo (score-SDE's PC order).
        if cfg.corrector and not last:
            g, zc = guided(x, sigma_lo), noise()
            x = langevin_corrector(x, g, langevin_step_size(g, zc, cfg.snr), zc)
        # Eq. (11): data consistency with the defocused photo (or a step on the physical data term).
        if cfg.consistency == "paper":
            x = paper_consistency(x, y, cfg.alpha)
        elif cfg.consistency == "gradient":
            x = gradient_consistency(x, y, cfg.alpha, physics)
        if callback is not None:
            callback(StepInfo(i, sigma_lo, x))
    return x
