"""Named sampler settings. ``paper`` is the source paper's configuration; the others are ours,
picked from the measured quality-vs-NFE curve (see docs/RESULTS.md for the runs behind them)."""
from __future__ import annotations

import dataclasses

from scoredeblur.sampling.config import SamplerConfig

PRESETS: dict[str, SamplerConfig] = {
    # Source paper: from the prior at σ_max, predictor + corrector + Eq. (11), 700 iterations.
    "paper": SamplerConfig(steps=700, corrector=True, consistency="paper", alpha=0.02),
    # The paper's sampler with the physics put in: from the prior at σ_max, predictor + Langevin
    # corrector, each score made exactly consistent with the defocus PSF (proximal). What
    # deblur(img, steps=N) runs: quality grows with N (measured, docs/RESULTS.md), unlike "paper",
    # whose Eq. (11) returns the input, and unlike the plug-and-play presets, tuned at their steps.
    "pc": SamplerConfig(steps=700, corrector=True, consistency="proximal", lam=1.0),
    # Ours: a late start (CCDF) from a mild deconvolution at σ = 0.3, then plug-and-play steps:
    # the learned denoiser (Tweedie) made exactly consistent with the (estimated) defocus PSF.
    # σ_start and λ: the best of the blind sweep in docs/RESULTS.md for the shipped model; deblur()
    # lowers σ_start for milder blur (sigma_start_for_radius) and sets λ from the blur
    # (lam_for_radius) unless the caller sets them. With the shipped model more steps do not gain
    # (docs/RESULTS.md, "Quality against network evaluations"): "fast" is the default.
    "fast": SamplerConfig(steps=8, corrector=False, consistency="proximal", predictor="hqs",
                          sigma_start=0.3, lam=0.7),
    # The same 8 steps with the denoiser averaged over 2 / 4 flips (16 / 32 NFE): more steps at
    # this λ were measured worse, the flips a little better on every image.
    "balanced": SamplerConfig(steps=8, corrector=False, consistency="proximal", predictor="hqs",
                              sigma_start=0.3, lam=0.7, ensemble=2),
    "quality": SamplerConfig(steps=8, corrector=False, consistency="proximal", predictor="hqs",
                             sigma_start=0.3, lam=0.7, ensemble=4),
}
DEFAULT_PRESET = "fast"  # what deblur(img) runs when neither steps nor preset is given
LATE_START_PRESETS = ("fast", "balanced", "quality")  # σ_start and λ follow the blur (below)


def sigma_start_for_radius(radius: float, per_px: float = 0.1, lo: float = 0.1, hi: float = 0.3) -> float:
    """The late start's σ for a defocus radius (px): milder blur has destroyed less, so it needs
    less noise to hide it. Measured (docs/RESULTS.md): at radius 2 a start at 0.1–0.19 beat 0.3 by
    0.7 dB; at radii 3–5, 0.3 was best."""
    return float(min(hi, max(lo, per_px * radius)))


def lam_for_radius(radius: float, per_px: float = 2.0, lo: float = 0.5, hi: float = 1.0) -> float:
    """The prior's weight λ for a defocus radius (px), for 8 plug-and-play steps: mild blur keeps
    more detail in the photo, so the data may weigh more; strong blur needs more of the prior.
    Measured (docs/RESULTS.md, 20 dev crops, true radius): the best λ of 0.5 / 0.7 / 1.0 was 1.0 at
    radius 2, 0.7 at 3 and 0.5 at 5 and 8."""
    return hi if radius <= 0 else float(min(hi, max(lo, per_px / radius)))


def preset_name(preset: str | None, steps: int | None) -> str:
    """The preset a call runs: the named one; else ``"pc"`` when only ``steps`` is given."""
    return preset or ("pc" if steps is not None else DEFAULT_PRESET)


def resolve(preset: str | None, steps: int | None, **overrides) -> SamplerConfig:
    """The preset with ``steps`` and any SamplerConfig field overridden.

    No preset: ``steps`` given means predictor-corrector sampling from the prior with the physical
    consistency at that many steps (``"pc"``; ``deblur(img, steps=700)``); neither given means
    ``DEFAULT_PRESET``. The source paper's literal Eq. (11) is ``preset="paper"``.
    """
    name = preset_name(preset, steps)
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    fields = dict(overrides)  # only what the caller passed; consistency=None means "off"
    unknown = set(fields) - {f.name for f in dataclasses.fields(SamplerConfig)}
    if unknown:
        raise TypeError(f"unknown sampler option(s) {sorted(unknown)}")
    if steps is not None:
        fields["steps"] = steps
    return dataclasses.replace(PRESETS[name], **fields)
