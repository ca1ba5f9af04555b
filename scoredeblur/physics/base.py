"""The contract every blur operator keeps, so the sampler needs to know nothing else about one.

``tests/test_physics_contract.py`` runs adjointness, prox optimality and the fixed point over
every operator of the package.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class BlurOperator(Protocol):
    """A linear blur y = A x on (N, C, H, W) images, with its adjoint and its exact (or close) prox."""

    @property
    def max_radius(self) -> float:
        """The strongest blur anywhere in the image, in pixels (the late start is chosen from it)."""
        ...

    @property
    def model_error(self) -> float:
        """How far A may be from the blur it stands for, as a noise σ (pixel units): 0 for an
        exact operator. The proximal consistency allows for it beside the photo's noise."""
        ...

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """The blur."""
        ...

    def A_adjoint(self, v: torch.Tensor) -> torch.Tensor:
        """Aᵀ: ⟨A x, v⟩ = ⟨x, Aᵀ v⟩."""
        ...

    def prox(self, v: torch.Tensor, y: torch.Tensor, rho: float | torch.Tensor) -> torch.Tensor:
        """argminₓ ½‖Ax − y‖² + ½ρ‖x − v‖² (ρ a number or one value per sample)."""
        ...
