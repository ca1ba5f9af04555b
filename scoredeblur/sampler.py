"""Reference predictor-corrector sampler with data consistency (source paper, Eqs. 9-11).

This loop is the oracle that every fast path is tested against: keep it short and literal.
``score`` is any callable S(x, σ) (a ``Preconditioner``, a ``TiledScore``, an exact analytic score).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .sde import VESDE
from .updates import langevin_corrector, langevin_step_size, paper_consistency, reverse_diffusion_predictor

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 700
    snr: float = 0.16          # Langevin step rule (Song et al. 2021 use 0.16 for VE models)
    corrector: bool = True     # Eq. (10) on/off: the paper's ablation
    consistency: str | None = "paper"  # Eq. (11) on ("paper") / off (None)
    alpha: float = 0.02        # DC weight of Eq. (11) per step
    sigma_start: float | None = None   # None: start from the prior at σ_max, as the paper does

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.consistency not in (None, "paper"):
            raise ValueError(f"unknown consistency {self.consistency!r}; choose 'paper' or None")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.snr <= 0:
            raise ValueError(f"snr must be positive, got {self.snr}")


@dataclass(frozen=True)
class StepInfo:
    index: int
    sigma: float
    x: torch.Tensor  # the iterate after this step's consistency update


def pc_sample(score: ScoreFn, sde: VESDE, y: torch.Tensor, cfg: SamplerConfig, generator: torch.Generator,
              callback: Callable[[StepInfo], None] | None = None) -> torch.Tensor:
    sigmas = sde.ladder(cfg.steps, cfg.sigma_start).tolist()  # σ_N > … > σ_1 = σ_min (Eq. 6)
    noise = lambda: torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)  # noqa: E731
    if cfg.sigma_start is None:
        x = sde.prior_sample(y.shape, generator, y.dtype, y.device)   # x_N ~ N(0, σ_max² I)
    else:
        x = y + sigmas[0] * noise()                                    # CCDF: a forward-diffused y
    for i, sigma_hi in enumerate(sigmas):
        last = i == len(sigmas) - 1
        sigma_lo = 0.0 if last else sigmas[i + 1]
        # Eq. (9): reverse-diffusion predictor, σ_hi → σ_lo. The last step lands on σ = 0 and adds
        # no noise (the Tweedie mean), as score-SDE's samplers end.
        x, _ = reverse_diffusion_predictor(x, score(x, sigma_hi), sigma_hi, sigma_lo, None if last else noise())
        # Eq. (10): annealed-Langevin corrector. The paper writes S(x̃, σ_{i+1}); x̃ already sits at
        # σ_lo after the predictor, so the level that matches it is σ_lo (score-SDE's PC order).
        if cfg.corrector and not last:
            g, z = score(x, sigma_lo), noise()
            x = langevin_corrector(x, g, langevin_step_size(g, z, cfg.snr), z)
        # Eq. (11): data consistency with the defocused photo.
        if cfg.consistency == "paper":
            x = paper_consistency(x, y, cfg.alpha)
        if callback is not None:
            callback(StepInfo(i, sigma_lo, x))
    return x
