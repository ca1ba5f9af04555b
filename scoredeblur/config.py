"""Frozen configuration dataclasses.

Every object that is saved (network, SDE, training run) is described by one of these, so a
checkpoint can rebuild its objects from plain data (``dataclasses.asdict``) with no pickled code.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NetConfig:
    """Shape of the NCSN++-style score U-Net."""

    in_channels: int = 3
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 1
    # Levels (0 = full resolution) whose blocks end with self-attention. The deepest level by
    # default: attention is quadratic in pixels, so it only pays at low resolution.
    attn_levels: tuple[int, ...] = (3,)
    fourier_scale: float = 16.0
    dropout: float = 0.0
    # "edm": D = c_skip x + c_out F(c_in x) and S = (D - x)/σ² (Karras et al. 2022).
    # "ncsn": S = F(x)/σ, the score-SDE parameterisation used by the source paper. The default:
    # on equal compute it denoised better at every σ ≤ 5 and deblurred 0.4 dB better (MODEL_CARD.md).
    precond: str = "ncsn"
    sigma_data: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_mults", tuple(int(m) for m in self.channel_mults))
        object.__setattr__(self, "attn_levels", tuple(int(a) for a in self.attn_levels))
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grey) or 3 (RGB), got {self.in_channels}")
        if self.base_channels < 8 or self.base_channels % 8:
            raise ValueError(f"base_channels must be a multiple of 8 and >= 8, got {self.base_channels}")
        if not self.channel_mults:
            raise ValueError("channel_mults must name at least one level")
        if any(not 0 <= a < len(self.channel_mults) for a in self.attn_levels):
            raise ValueError(f"attn_levels {self.attn_levels} outside 0..{len(self.channel_mults) - 1}")
        if self.precond not in ("edm", "ncsn"):
            raise ValueError(f"precond must be 'edm' or 'ncsn', got {self.precond!r}")

    @property
    def size_multiple(self) -> int:
        """Inputs are padded to a multiple of this (one halving per level below the top)."""
        return 2 ** (len(self.channel_mults) - 1)


@dataclass(frozen=True)
class SDEConfig:
    """Variance-exploding SDE: σ(t) = σ_min (σ_max/σ_min)^t, t ∈ [0, 1]."""

    sigma_min: float = 0.01
    sigma_max: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Defaults follow the source paper where it states them (Adam, lr 2e-4)."""

    patch_size: int = 64
    batch_size: int = 16
    lr: float = 2e-4
    warmup_steps: int = 200
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    steps: int = 1000
    # Fraction of each batch whose σ is drawn log-uniformly from [σ_min, restore_sigma_max]
    # instead of the whole ladder: deblurring with data consistency spends its steps at small σ.
    restore_fraction: float = 0.5
    restore_sigma_max: float = 1.0
    seed: int = 0
    save_every: int = 200
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.patch_size < 8 or self.batch_size < 1 or self.steps < 0:
            raise ValueError("patch_size >= 8, batch_size >= 1 and steps >= 0 are required")
        if not 0.0 <= self.restore_fraction <= 1.0:
            raise ValueError(f"restore_fraction must be in [0, 1], got {self.restore_fraction}")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-data form of a config (lists, numbers, strings) for checkpoints and JSON."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def from_dict(cls: type, data: dict[str, Any]):
    """Rebuild a config, refusing unknown keys so a foreign checkpoint fails loudly."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    return cls(**data)


__all__ = ["NetConfig", "SDEConfig", "TrainConfig", "to_dict", "from_dict", "field"]
