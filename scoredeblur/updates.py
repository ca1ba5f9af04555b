"""The update rules of the sampler, one pure function each (source paper, Eqs. 9-11).

These are the reference implementations that every fast backend (C++, Triton, CUDA) is tested
against. They take the score and the Gaussian draw as arguments, so they hold no randomness.
"""
from __future__ import annotations

import torch


def reverse_diffusion_predictor(x: torch.Tensor, score: torch.Tensor, sigma_hi: float, sigma_lo: float,
                                z: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (9): x̃ = x + (σ²_hi − σ²_lo) S(x, σ_hi) + √(σ²_hi − σ²_lo) z.

    Returns (x̃, mean). With ``z=None`` (the last step, σ_lo = 0) no noise is added.
    """
    var = sigma_hi**2 - sigma_lo**2
    mean = x + var * score
    return (mean if z is None else mean + var**0.5 * z), mean


def langevin_step_size(score: torch.Tensor, z: torch.Tensor, snr: float) -> torch.Tensor:
    """ε = 2 (snr ‖z‖ / ‖S‖)², per sample: the signal-to-noise rule of Song et al. (2021), Alg. 4."""
    grad_norm = score.flatten(1).norm(dim=1)
    noise_norm = z.flatten(1).norm(dim=1)
    eps = 2 * (snr * noise_norm / grad_norm.clamp_min(1e-12)) ** 2
    return eps.reshape(-1, *([1] * (score.ndim - 1)))


def langevin_corrector(x: torch.Tensor, score: torch.Tensor, eps: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Eq. (10): x̂ = x̃ + ε S(x̃, σ) + √(2ε) z."""
    return x + eps * score + (2 * eps).sqrt() * z


def paper_consistency(x: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. (11): x ← x̂ − α (x̂ − y), a pull toward the defocused photo y itself."""
    return x - alpha * (x - y)
