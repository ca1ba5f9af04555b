"""What one ``deblur`` call will run, decided before any network evaluation: the sampler settings
(preset and overrides), the photo's noise level, the blur operator (given or estimated blind) and
the late start."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from scoredeblur.physics.base import BlurOperator
from scoredeblur.physics.blind import make_physics
from scoredeblur.physics.estimate import estimate_noise
from scoredeblur.sampling.config import SamplerConfig
from scoredeblur.sampling.presets import (
    LATE_START_PRESETS,
    lam_for_radius,
    preset_name,
    resolve,
    sigma_start_for_radius,
)

NOISE_FLOOR = 2 / 255          # JPEG and denoising in-camera hide noise from the estimator
START_DECONV_WEIGHT = 0.05     # ρ of the starting deconvolution at σ_n = 0.01


@dataclass(frozen=True)
class Plan:
    preset: str
    cfg: SamplerConfig
    physics: BlurOperator | None    # None: the configuration has no physical consistency step
    x_start: torch.Tensor | None    # what a late start diffuses from (None: y itself)


def make_plan(observed: np.ndarray, y: torch.Tensor, preset: str | None, steps: int | None,
              psf_radius=None, noise_std: float | None = None, keep_bokeh: bool = False,
              keep_highlights: bool = True, **overrides) -> Plan:
    """``observed``: the photo as (H, W, C) in [0, 1]; ``y``: the same, as the sampler's tensor."""
    name = preset_name(preset, steps)
    cfg = resolve(preset, steps, **overrides)
    physics, x_start = None, None
    if cfg.consistency in ("gradient", "proximal") or cfg.sigma_start is not None:
        if noise_std is None and cfg.consistency == "proximal":
            noise_std = max(estimate_noise(observed), NOISE_FLOOR)
        if noise_std is not None:
            cfg = dataclasses.replace(cfg, noise_std=float(noise_std))
        if cfg.consistency in ("gradient", "proximal"):
            physics = make_physics(observed, psf_radius, keep_bokeh=keep_bokeh, keep_highlights=keep_highlights)
            if physics.model_error and cfg.consistency == "proximal":
                # The consistency trusts y only as far as the operator explains it: the photo's
                # noise and the operator's own error, added as independent noises.
                cfg = dataclasses.replace(cfg, noise_std=float(np.hypot(cfg.noise_std, physics.model_error)))
            # Our late-start presets pick σ_start and λ from the blur (its strongest part) unless set.
            if name in LATE_START_PRESETS:
                r = physics.max_radius
                cfg = dataclasses.replace(cfg, sigma_start=overrides.get("sigma_start", sigma_start_for_radius(r)),
                                          lam=overrides.get("lam", lam_for_radius(r)))
            if cfg.sigma_start is not None:
                # Start from a mild deconvolution: the late start then has less to undo.
                x_start = physics.prox(y, y, START_DECONV_WEIGHT * cfg.noise_std / 0.01)
    return Plan(name, cfg, physics, x_start)
