"""The sampler's arithmetic as a table: one row per step, read by every fused loop.

Each update of the reference loop (``sampler.pc_sample``) is affine in (x, S, z, y):

    out = a·x + b·S + c·z + d·y

    predictor, Eq. (9)        a = 1,   b = σ²_hi − σ²_lo,       c = √(σ²_hi − σ²_lo),  d = 0
    corrector, Eq. (10)       a = 1,   b = ε,                   c = √(2ε),             d = 0
    … followed by Eq. (11)    a, b, c scaled by (1 − α),                               d = α
    DDIM                      a = 1,   b = σ²_hi − σ_lo σ_hi √(1 − η²),  c = σ_lo η,   d = 0
    HQS                       a = 1,   b = σ²_hi,               c = 0,                 d = 0

so one kernel serves them all. The predictor's (a, b, c) depend only on the configuration and the
noise ladder, so they are computed here once, for the Python fused loop and the C++ loop alike;
the corrector's ε depends on the iterate and is computed in the loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from scoredeblur.sampling.config import SamplerConfig

COLUMNS = ("sigma_hi", "sigma_lo", "a", "b", "c", "draws_noise", "corrector")


@dataclass(frozen=True)
class Step:
    sigma_hi: float
    sigma_lo: float     # 0 on the last step: it lands on the Tweedie mean
    a: float
    b: float
    c: float
    draws_noise: bool   # whether the reference loop draws z for this predictor step (keeps RNG order)
    corrector: bool     # whether a Langevin corrector step follows


def predictor_coefficients(cfg: SamplerConfig, sigma_hi: float, sigma_lo: float, last: bool) -> tuple[float, float, float]:
    """(a, b, c) of the predictor as out = a·x + b·S + c·z."""
    if cfg.predictor == "hqs":
        return 1.0, sigma_hi**2, 0.0
    if cfg.predictor == "ddim":
        if last or sigma_lo == 0:
            return 1.0, sigma_hi**2, 0.0
        return 1.0, sigma_hi**2 - sigma_lo * sigma_hi * math.sqrt(1 - cfg.eta**2), sigma_lo * cfg.eta
    var = sigma_hi**2 - sigma_lo**2
    return 1.0, var, 0.0 if last else math.sqrt(var)


def step_table(cfg: SamplerConfig, sigmas: list[float]) -> list[Step]:
    """One row per step of the ladder ``sigmas`` (descending)."""
    rows = []
    for i, sigma_hi in enumerate(sigmas):
        last = i == len(sigmas) - 1
        sigma_lo = 0.0 if last else sigmas[i + 1]
        a, b, c = predictor_coefficients(cfg, sigma_hi, sigma_lo, last)
        rows.append(Step(sigma_hi, sigma_lo, a, b, c, draws_noise=not last and cfg.predictor != "hqs",
                         corrector=cfg.corrector and not last))
    return rows


def table_tensor(rows: list[Step]) -> torch.Tensor:
    """(steps, 7) float64: the table in the form the C++ loop reads (columns of ``Step``)."""
    return torch.tensor([[r.sigma_hi, r.sigma_lo, r.a, r.b, r.c, float(r.draws_noise), float(r.corrector)]
                         for r in rows], dtype=torch.float64)


def start_kind(cfg: SamplerConfig) -> str:
    """How the loop starts: "prior" (x ~ N(0, σ_max²)), "given" (x_start as it is: HQS, whose own
    error plays the noise at σ_start) or "diffused" (x_start + σ_start z: CCDF)."""
    if cfg.sigma_start is None:
        return "prior"
    return "given" if cfg.predictor == "hqs" else "diffused"


def coef(n: int, a, b, c, d, device) -> torch.Tensor:
    """(n, 4) float32 coefficients for the kernel; each of a..d a number or one value per sample."""
    cols = [torch.as_tensor(v, dtype=torch.float32).reshape(-1).expand(n) for v in (a, b, c, d)]
    return torch.stack(cols, dim=1).to(device)
