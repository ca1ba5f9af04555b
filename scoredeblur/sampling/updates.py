"""The update rules of the sampler, one pure function each (source paper, Eqs. 9-11, and ours).

These are the reference implementations that every fast backend (C++, Triton, CUDA) is tested
against. They take the score and the Gaussian draw as arguments, so they hold no randomness.
"""
from __future__ import annotations

import torch


def reverse_diffusion_predictor(x: torch.Tensor, score: torch.Tensor, sigma_hi: float, sigma_lo: float,
                                z: torch.Tensor | None) -> torch.Tensor:
    """Eq. (9): x̃ = x + (σ²_hi − σ²_lo) S(x, σ_hi) + √(σ²_hi − σ²_lo) z. ``z=None``: no noise (last step)."""
    var = sigma_hi**2 - sigma_lo**2
    mean = x + var * score
    return mean if z is None else mean + var**0.5 * z


def ddim_predictor(x: torch.Tensor, score: torch.Tensor, sigma_hi: float, sigma_lo: float,
                   z: torch.Tensor | None, eta: float) -> torch.Tensor:
    """DDIM-style VE step (Song et al. 2021a): keep the predicted noise direction, renew a share η of it.

    x̂₀ = x + σ²_hi S;  ε̂ = (x − x̂₀)/σ_hi;  x_lo = x̂₀ + σ_lo (√(1 − η²) ε̂ + η z). Exact marginal
    variance for large steps, where Eq. (9) over-injects noise; η = 0 is deterministic.
    """
    x0 = x + sigma_hi**2 * score
    if z is None or sigma_lo == 0:
        return x0
    eps = (x - x0) / sigma_hi
    return x0 + sigma_lo * ((1 - eta**2) ** 0.5 * eps + eta * z)


def hqs_predictor(x: torch.Tensor, score: torch.Tensor, sigma_hi: float) -> torch.Tensor:
    """Plug-and-play step (half-quadratic splitting, as DPIR): move to the (data-consistent)
    Tweedie estimate x̂₀ = x + σ²S and add no noise; the next, smaller σ treats what error is left
    in x̂₀ as noise of that level. With the proximal consistency this is HQS with the learned
    denoiser as the prior (Zhang et al. 2021), and it is the deterministic, PSNR-seeking limit."""
    return x + sigma_hi**2 * score


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


def gradient_consistency(x: torch.Tensor, y: torch.Tensor, alpha: float, physics) -> torch.Tensor:
    """x ← x − α Aᵀ(Ax − y): one gradient step on the physical data term ½‖Ax − y‖²."""
    return x - alpha * physics.A_adjoint(physics.A(x) - y)


def proximal_score(x: torch.Tensor, score: torch.Tensor, sigma: float, y: torch.Tensor, physics,
                   noise_std: float, lam: float) -> torch.Tensor:
    """Data-consistent score (DiffPIR-style, Zhu et al. 2023).

    The Tweedie estimate x̂₀ = x + σ²S is replaced by the exact solution of
    argmin ‖Ax − y‖²/σ_n² + λ‖x − x̂₀‖²/σ², i.e. prox with ρ = λ σ_n²/σ², and the score is
    re-expressed from it: S' = (x̂₀' − x)/σ². At large σ the prior barely constrains x and the data
    dominates; as σ → σ_n the two are weighed as the noise levels say.
    """
    x0 = x + sigma**2 * score
    x0c = physics.prox(x0, y, lam * noise_std**2 / sigma**2)
    return score + (x0c - x0) / sigma**2
