"""The sampler's settings: one frozen dataclass that every loop (reference, fused, C++) reads."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from scoredeblur.errors import InputError

CONSISTENCIES = (None, "paper", "gradient", "proximal")
PREDICTORS = ("reverse_diffusion", "ddim", "hqs")
ENSEMBLE_SIZES = (1, 2, 4)
MAX_STEPS = 10_000   # 14 × the paper's 700; beyond this a call runs for days without gaining anything


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
    ensemble: int = 1                  # the denoiser averaged over this many flips (1, 2, 4; sampling.ensemble)

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, numbers.Integral):
            raise InputError(f"steps must be a whole number, got {self.steps!r}")
        if not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"steps must be in 1..{MAX_STEPS:,}, got {self.steps}")
        object.__setattr__(self, "steps", int(self.steps))
        if self.consistency not in CONSISTENCIES:
            raise InputError(f"unknown consistency {self.consistency!r}; choose one of {CONSISTENCIES}")
        if self.predictor not in PREDICTORS:
            raise InputError(f"unknown predictor {self.predictor!r}; choose one of {PREDICTORS}")
        if not isinstance(self.corrector, bool):
            raise InputError(f"corrector must be True or False, got {self.corrector!r}")
        for name in ("snr", "alpha", "lam", "noise_std", "eta") + (("sigma_start",) if self.sigma_start is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise InputError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not 0.0 <= self.alpha <= 1.0 or not 0.0 <= self.eta <= 1.0:
            raise InputError(f"alpha and eta must be in [0, 1], got {self.alpha}, {self.eta}")
        if self.snr <= 0 or self.lam <= 0:
            raise InputError(f"snr and lam must be positive, got {self.snr}, {self.lam}")
        if not 0 < self.noise_std < 1:
            raise InputError(f"noise_std must be in (0, 1) (pixel units, white = 1), got {self.noise_std}")
        if self.sigma_start is not None and self.sigma_start <= 0:
            raise InputError(f"sigma_start must be positive, got {self.sigma_start}")
        if (isinstance(self.ensemble, bool) or not isinstance(self.ensemble, numbers.Integral)
                or self.ensemble not in ENSEMBLE_SIZES):
            raise InputError(f"ensemble must be one of {ENSEMBLE_SIZES} (flips averaged), got {self.ensemble!r}")
        object.__setattr__(self, "ensemble", int(self.ensemble))

    @property
    def nfe(self) -> int:
        """Network evaluations: one per predictor step, one more per corrector step, each times
        the flips averaged."""
        return (self.steps + (self.steps - 1 if self.corrector else 0)) * self.ensemble
