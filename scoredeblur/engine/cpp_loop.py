"""The C++ sampling loop (csrc/sampler_loop.cpp) behind ``deblur(..., loop="cpp")``.

It needs an AOTInductor package of the network: a ``.pt2`` passed as the model, or one compiled
once per checkpoint and cached under ``$XDG_CACHE_HOME/scoredeblur`` (about a minute on 2 CPUs).
The loop runs the whole image at once (no tiles) and supports the predictors, the corrector and the
consistency steps none / paper / proximal with a uniform PSF; anything else says so.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from scoredeblur.engine import aoti
from scoredeblur.errors import BackendUnavailable
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.sampling.coefficients import start_kind, step_table, table_tensor
from scoredeblur.sampling.config import SamplerConfig
from scoredeblur.sampling.sde import VESDE

STARTS = {"prior": 0, "given": 1, "diffused": 2}
CONSISTENCIES = {None: 0, "paper": 1, "proximal": 2}


def native_loop():
    try:
        from scoredeblur import _engine
    except ImportError as exc:
        raise BackendUnavailable("the 'cpp' loop needs scoredeblur._engine, built when torch is importable at install "
                                 "time (./setup.sh installs with --no-build-isolation)") from exc
    return _engine


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scoredeblur"


def package_for(model, max_size: int = 2048) -> Path:
    """A .pt2 for ``model``: its own path if it is one, else compiled once and cached by weights."""
    if isinstance(model, aoti.AotiScore):
        return model.path
    path = cached_package_path(model, max_size)
    if not path.exists():
        aoti.compile_aoti(model, path.with_suffix(".tmp.pt2"), max_size=max_size)
        path.with_suffix(".tmp.pt2").replace(path)
    return path


def cached_package_path(model, max_size: int = 2048) -> Path:
    """Where ``package_for`` keeps the package: keyed by the weights and everything else that
    changes what gets compiled (torch version, largest size, package format, memory layout)."""
    digest = hashlib.sha256()
    for k, v in sorted(model.net.state_dict().items()):
        digest.update(k.encode())
        digest.update(v.detach().cpu().numpy().tobytes())
    digest.update(f"{torch.__version__}/{max_size}/{aoti.PACKAGE_FORMAT}/{model.memory_format}".encode())
    return cache_dir() / f"net-{digest.hexdigest()[:16]}.pt2"


class CppLoop:
    def __init__(self, package: str | Path, size_multiple: int):
        self.sampler = native_loop().Sampler(str(package), size_multiple)

    def sample(self, y: torch.Tensor, sde: VESDE, cfg: SamplerConfig, seed: int, physics=None,
               x_start: torch.Tensor | None = None) -> torch.Tensor:
        native = native_loop()
        if cfg.consistency not in CONSISTENCIES:
            raise BackendUnavailable(f"the C++ loop has no {cfg.consistency!r} consistency; use loop='python'")
        if cfg.consistency == "proximal" and not isinstance(physics, DefocusBlur):
            raise BackendUnavailable("the C++ loop's proximal step takes a uniform PSF; use loop='python' "
                                     "for spatially varying defocus")
        lc = native.LoopConfig()
        lc.consistency, lc.start = CONSISTENCIES[cfg.consistency], STARTS[start_kind(cfg)]
        lc.snr, lc.alpha, lc.lam, lc.noise_std = cfg.snr, cfg.alpha, cfg.lam, cfg.noise_std
        lc.sigma_max = sde.sigma_max
        y = y.float().contiguous()
        start = (y if x_start is None else x_start).float().contiguous()
        otf = None
        if cfg.consistency == "proximal":
            otf = physics.otf(y.shape[-2], y.shape[-1], torch.float32, "cpu").contiguous()
        table = table_tensor(step_table(cfg, sde.ladder(cfg.steps, cfg.sigma_start).tolist()))
        return self.sampler.sample(y, start, table, lc, int(seed), otf)
