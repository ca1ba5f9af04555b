"""The noise schedule: a Variance-Exploding SDE (source paper, Eqs. 5-6).

dx = sqrt(d[σ²(t)]/dt) dw with σ(t) = σ_min (σ_max/σ_min)^t, so the perturbation kernel is
p_σ(x̃ | x) = N(x̃; x, σ² I) and the prior at t = 1 is N(0, σ_max² I).
"""
from __future__ import annotations

import math

import torch

from scoredeblur.config import SDEConfig


class VESDE:
    def __init__(self, config: SDEConfig = SDEConfig()):
        self.config = config
        self.sigma_min = config.sigma_min
        self.sigma_max = config.sigma_max

    def sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        """σ(t) for t ∈ [0, 1]."""
        t = torch.as_tensor(t, dtype=torch.float64)
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def t_of_sigma(self, sigma: float) -> float:
        return math.log(sigma / self.sigma_min) / math.log(self.sigma_max / self.sigma_min)

    def ladder(self, n: int, sigma_start: float | None = None) -> torch.Tensor:
        """Eq. (6): n geometric noise levels, *descending*, from σ_start (default σ_max) to σ_min.

        Returned in float64 so that differences σ²ᵢ₊₁ − σ²ᵢ near σ_min keep their digits.
        """
        if n < 1:
            raise ValueError(f"need at least one noise level, got {n}")
        top = self.sigma_max if sigma_start is None else float(sigma_start)
        if not self.sigma_min <= top <= self.sigma_max:
            raise ValueError(f"sigma_start {top} outside [{self.sigma_min}, {self.sigma_max}]")
        if n == 1:
            return torch.tensor([top], dtype=torch.float64)
        return torch.exp(torch.linspace(math.log(top), math.log(self.sigma_min), n, dtype=torch.float64))

    def perturb(self, x: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw x̃ ~ N(x, σ² I); returns (x̃, z) with x̃ = x + σ z. σ broadcasts per sample."""
        # Drawn where the generator lives (a CPU generator keeps training reproducible across
        # devices), then moved to the data.
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=generator.device).to(x.device)
        return x + _per_sample(sigma, x) * z, z

    def prior_sample(self, shape, generator: torch.Generator, dtype=torch.float32, device="cpu") -> torch.Tensor:
        """x_T ~ N(0, σ_max² I)."""
        return self.sigma_max * torch.randn(shape, generator=generator, dtype=dtype, device=device)

    def sample_training_sigmas(self, n: int, generator: torch.Generator, restore_fraction: float = 0.0,
                               restore_sigma_max: float = 1.0) -> torch.Tensor:
        """σ for training: log-uniform on [σ_min, σ_max]; a fraction log-uniform on [σ_min, restore_sigma_max].

        The second component is importance sampling toward the levels a restoration run visits most.
        """
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        hi = torch.full((n,), math.log(self.sigma_max), dtype=torch.float64)
        pick = torch.rand(n, generator=generator, dtype=torch.float64) < restore_fraction
        hi[pick] = math.log(min(restore_sigma_max, self.sigma_max))
        lo = math.log(self.sigma_min)
        return torch.exp(lo + u * (hi - lo)).float()


def _per_sample(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return sigma.reshape(-1, *([1] * (x.ndim - 1))) if sigma.ndim else sigma
