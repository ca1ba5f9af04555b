"""Named sampler settings. ``paper`` is the source paper's configuration; the others are ours,
picked from the measured quality-vs-NFE curve (see docs/RESULTS.md for the runs behind them)."""
from __future__ import annotations

import dataclasses

from .sampler import SamplerConfig

PRESETS: dict[str, SamplerConfig] = {
    # Source paper: from the prior at σ_max, predictor + corrector + Eq. (11), 700 iterations.
    "paper": SamplerConfig(steps=700, corrector=True, consistency="paper", alpha=0.02),
    # Ours: late start (CCDF) from a quick deconvolution, exact proximal consistency with the
    # (estimated) defocus PSF, deterministic DDIM steps.
    "fast": SamplerConfig(steps=12, corrector=False, consistency="proximal", predictor="ddim", eta=0.0,
                          sigma_start=0.3, lam=1.0),
    "balanced": SamplerConfig(steps=25, corrector=False, consistency="proximal", predictor="ddim", eta=0.0,
                              sigma_start=0.5, lam=1.0),
    "quality": SamplerConfig(steps=50, corrector=True, consistency="proximal", predictor="ddim", eta=0.0,
                             sigma_start=0.5, lam=1.0),
}


def resolve(preset: str | None, steps: int | None, **overrides) -> SamplerConfig:
    """The preset (default: the paper's), with ``steps`` and any SamplerConfig field overridden."""
    name = preset or "paper"
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    fields = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(fields) - {f.name for f in dataclasses.fields(SamplerConfig)}
    if unknown:
        raise TypeError(f"unknown sampler option(s) {sorted(unknown)}")
    if steps is not None:
        fields["steps"] = steps
    return dataclasses.replace(PRESETS[name], **fields)
