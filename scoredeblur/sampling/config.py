"""The sampler's settings: one frozen dataclass that every loop (reference, fused, C++) reads."""
from __future__ import annotations

from dataclasses import dataclass

CONSISTENCIES = (None, "paper", "gradient", "proximal")
PREDICTORS = ("reverse_diffusion", "ddim", "hqs")


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 700
    snr: float = 0.16                  # Langevin step rule (Song et al. 2021 use 0.16 for VE models)
    corrector: bool = True             # Eq. (10) on/off: the paper's ablation
    consistency: str | None = "paper"  # Eq. (11) "paper"; physical "gradient" / "proximal"; None = off
    alpha: float = 0.02                # step of the "paper" and "gradient" consistency
    lam: float = 1.0                   # "proximal": weight of the prior against the data (ρ = λσ_n²/σ²)
    noise_std: float = 0.01            # σ_n of the photo, for "proximal"
    predictor: str = "reverse_diffusion"  # Eq. (9); "ddim" for few large steps; "hqs" for plug-and-play
    eta: float = 0.0                   # "ddim": share of fresh noise per step
    sigma_start: float | None = None   # None: start from the prior at σ_max, as the paper does (else CCDF)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.consistency not in CONSISTENCIES:
            raise ValueError(f"unknown consistency {self.consistency!r}; choose one of {CONSISTENCIES}")
        if self.predictor not in PREDICTORS:
            raise ValueError(f"unknown predictor {self.predictor!r}; choose one of {PREDICTORS}")
        if not 0.0 <= self.alpha <= 1.0 or not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"alpha and eta must be in [0, 1], got {self.alpha}, {self.eta}")
        if self.snr <= 0 or self.lam <= 0 or self.noise_std <= 0:
            raise ValueError("snr, lam and noise_std must be positive")

    @property
    def nfe(self) -> int:
        """Network evaluations: one per predictor step, one more per corrector step."""
        return self.steps + (self.steps - 1 if self.corrector else 0)
