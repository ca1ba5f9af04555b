"""The public entry point: ``scoredeblur.deblur``."""
from __future__ import annotations

import dataclasses
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from .adapt import prepare, restore
from .checkpoint import CheckpointError, load_model
from .precond import Preconditioner
from .physics.defocus import DefocusBlur
from .physics.estimate import estimate_noise, estimate_radius, estimate_radius_map
from .physics.radius_net import embedded_radius_net, learned_radius_map
from .physics.varying import VaryingDefocusBlur, radius_map_from_tiles
from .presets import LATE_START_PRESETS, preset_name, resolve, sigma_start_for_radius
from .sampler import StepInfo, pc_sample
from .sde import VESDE
from .tiling import TiledScore


NOISE_FLOOR = 2 / 255          # JPEG and denoising in-camera hide noise from the estimator
START_DECONV_WEIGHT = 0.05     # ρ of the starting deconvolution at σ_n = 0.01
# Estimated radii below this are taken as 0 (the photo's own softness, not defocus). Off: a 1-px floor
# spared in-focus crops (one lost 12 dB to sharpening at 0.8 px) but cost 1.5 dB on 1-px blur and
# stopped sharpening a real face read at 0.9-1.1 px (docs/RESULTS.md; benchmarks/min_radius_probe.py).
MIN_DEBLUR_RADIUS = 0.0
# psf_radius="learned" routing (learned_physics), measured on CBSD68 synthetic cases (docs/RESULTS.md):
UNIFORM_TOLERANCE = 0.5        # px: a tile agrees with the median tile radius within this
UNIFORM_AGREEMENT = 0.8        # share of agreeing tiles that makes the blur uniform
SHARP_RADIUS = 1.5             # px: agreeing tiles below this may be a sharp subject over a blurred rest
BLURRED_RADIUS = 3.0           # px: what counts as clearly blurred on the dense map
BLURRED_AREA = 0.5             # share of such pixels for the dense map to be used


@lru_cache(maxsize=4)
def _cached_model(path: str, mtime: float, device: str) -> Preconditioner:
    model = load_model(path, device=device)
    if torch.device(device).type == "cpu":
        model.set_memory_format(torch.channels_last)  # oneDNN's native layout: no re-layouts
    return model


def default_tile_batch(device: torch.device | str) -> int:
    """Tiles per network call: one on a CPU, where a batch of 4 costs 1.5× more per tile (caches
    overflow: 329 vs 219 ms per 256² tile), four on a GPU, which needs the parallel work."""
    return 1 if torch.device(device).type == "cpu" else 4


def get_model(model: str | os.PathLike | Preconditioner | None = None, device: str | None = None):
    """The embedded default (checksum-verified), a checkpoint (.pt) or ONNX export (.onnx) path, or a
    score-model object as given (anything with ``score``, ``config``, ``sde_config``, ``device``)."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model.to(device)
    if model is not None and Path(model).suffix.lower() == ".onnx":
        from .engine.onnxruntime_backend import OnnxRuntimeScore

        return OnnxRuntimeScore(model)
    if model is not None and Path(model).suffix.lower() == ".pt2":
        from .engine.aoti import AotiScore

        return AotiScore(model, device)
    if model is None:
        from .models import default_model_path, verify_checksum

        path = Path(str(default_model_path()))
        if not path.is_file():
            raise CheckpointError("this installation has no embedded default model; pass model=CHECKPOINT "
                                  "(from `scoredeblur train`)")
        verify_checksum(path)
    else:
        path = Path(model)
        if not path.is_file():
            raise CheckpointError(f"model checkpoint not found: {path}")
    return _cached_model(str(path.resolve()), path.stat().st_mtime, str(device))


def deblur(img: Any, steps: int | None = None, *, preset: str | None = None,
           model: str | os.PathLike | Preconditioner | None = None, seed: int = 0,
           psf_radius: float | str | np.ndarray | None = None, noise_std: float | None = None,
           tile: int = 256, overlap: int | None = None, tile_batch: int | None = None, device: str | None = None,
           generator: torch.Generator | None = None, callback: Callable[[StepInfo], None] | None = None,
           progress: bool = False, backend: str = "torch", **sampler_options) -> Any:
    """Deblur a defocused image with the score prior.

    ``deblur(img)`` runs the ``"balanced"`` preset; ``preset="fast" | "balanced" | "quality"`` are
    ours: a late start from a deconvolution, the exact proximal consistency with the defocus PSF,
    plug-and-play steps with the learned denoiser. ``deblur(img, steps=700)`` (or ``preset="paper"``)
    runs the source paper's method: predictor-corrector sampling from the prior with Eq. (11).
    ``psf_radius``: None or "local" estimates a defocus radius per tile from the image (defocus
    varies with depth), "global" one radius for the whole image, "learned" a radius per pixel from
    the learned estimator (stronger on synthetic depth-varying blur, but it also deconvolves real
    bokeh backgrounds: docs/RESULTS.md); a number or an H×W radius map is taken as given. ``noise_std`` is estimated when None. ``backend``: "torch" runs the reference
    loop; "cpp" runs the whole loop in C++ (AOTInductor network + fused kernel; whole image, no
    tiles; falls back to "torch" with a warning where it cannot run); "triton", "cuda" (or
    "reference") run the Python loop with every elementwise update fused into one kernel of that kind.
    All backends make the same random draws and agree to float32 rounding. Any ``SamplerConfig`` field (``corrector``, ``consistency``,
    ``alpha``, ``lam``, ``snr``, ``predictor``, ``eta``, ``sigma_start``) may be overridden.

    ``img``: numpy array (H×W or H×W×C; uint8, uint16 or float in [0, 1]), PIL image, torch tensor
    ((H, W), (C, H, W) or (1, C, H, W); uint8 or float) or a file path (returns a numpy array).
    Grey, RGB and RGBA are handled; alpha is passed through untouched. Returns the same kind and dtype.
    Images larger than ``tile`` are processed in overlapping tiles (``overlap`` pixels, default tile/8),
    ``tile_batch`` at a time (default: 1 on a CPU, 4 on a GPU). All noise comes from ``generator`` (default: seeded with ``seed``).
    """
    cfg = resolve(preset, steps, **sampler_options)
    prep = prepare(img)
    net = get_model(model, device)
    dev = net.device
    y = _match_channels(prep.x, net.config.in_channels).to(dev)
    physics, x_start = None, None
    if cfg.consistency in ("gradient", "proximal") or cfg.sigma_start is not None:
        observed = prep.x[0].permute(1, 2, 0).numpy()
        if noise_std is None and cfg.consistency == "proximal":
            noise_std = max(estimate_noise(observed), NOISE_FLOOR)
        if noise_std is not None:
            cfg = dataclasses.replace(cfg, noise_std=float(noise_std))
        if cfg.consistency in ("gradient", "proximal"):
            physics = make_physics(observed, psf_radius)
            # Our late-start presets pick σ_start from the blur (its strongest part) unless it was set.
            if preset_name(preset, steps) in LATE_START_PRESETS and "sigma_start" not in sampler_options:
                cfg = dataclasses.replace(cfg, sigma_start=sigma_start_for_radius(physics.max_radius))
            if cfg.sigma_start is not None:
                # Start from a mild deconvolution: the late start then has less to undo.
                x_start = physics.prox(y, y, START_DECONV_WEIGHT * cfg.noise_std / 0.01)
    gen = generator if generator is not None else torch.Generator(device=dev).manual_seed(seed)
    overlap = max(4, tile // 8) if overlap is None else overlap
    tile_batch = default_tile_batch(dev) if tile_batch is None else tile_batch
    score = TiledScore(net.score, tile=tile, overlap=overlap, batch=tile_batch)
    bar = tqdm(total=cfg.steps, disable=not progress, desc="deblur", unit="step")

    def on_step(info: StepInfo) -> None:
        bar.update(1)
        if callback is not None:
            callback(info)

    x = None
    if backend == "cpp":
        x = _run_cpp_loop(net, y, cfg, seed, physics, x_start)
        bar.update(cfg.steps)
    with torch.no_grad():
        if x is not None:
            pass
        elif backend in ("torch", "cpp"):
            x = pc_sample(score, VESDE(net.sde_config), y, cfg, gen, on_step, physics=physics, x_start=x_start)
        else:
            from .fused import get_kernel
            from .fused_sampler import fused_sample

            x = fused_sample(score, VESDE(net.sde_config), y, cfg, gen, get_kernel(backend), on_step,
                             physics=physics, x_start=x_start)
    bar.close()
    return restore(prep, _unmatch_channels(x.cpu(), prep.x.shape[1]))


def _run_cpp_loop(net, y, cfg, seed, physics, x_start):
    """The C++ loop, or None (with a warning saying why) so that the caller falls back to torch."""
    import warnings

    from .engine.cpp_loop import CppLoop, _native, package_for
    from .fused import BackendUnavailable

    try:
        if y.device.type != "cpu":
            raise BackendUnavailable("the C++ loop runs on the CPU")
        _native()  # before compiling a package it could not use
        loop = CppLoop(package_for(net), net.config.size_multiple)
        with torch.no_grad():
            return loop.sample(y, VESDE(net.sde_config), cfg, seed, physics, x_start)
    except BackendUnavailable as exc:
        warnings.warn(f"backend='cpp' unavailable ({exc}); falling back to backend='torch'", stacklevel=3)
        return None


def make_physics(observed: np.ndarray, psf_radius, tile: int = 128):
    """The blur operator for an (H, W, C) observation: given, or estimated blind."""
    if isinstance(psf_radius, (int, float)):
        return DefocusBlur(float(psf_radius))
    if isinstance(psf_radius, (np.ndarray, torch.Tensor)):
        rmap = np.asarray(psf_radius, dtype=np.float64)
        if rmap.shape != observed.shape[:2]:
            raise ValueError(f"radius map shape {rmap.shape} differs from the image's {observed.shape[:2]}")
        return VaryingDefocusBlur(rmap)
    mode = psf_radius or "local"
    h, w = observed.shape[:2]
    if mode == "global" or min(h, w) < 2 * tile:
        radius = estimate_radius(observed)
        return DefocusBlur(radius if radius >= MIN_DEBLUR_RADIUS else 0.0)
    if mode not in ("local", "learned"):
        raise ValueError("psf_radius must be a number, an H×W map, 'local', 'learned', 'global' or None; "
                         f"got {psf_radius!r}")
    radii, ys, xs = estimate_radius_map(observed, tile=tile)
    radii = np.where(radii < MIN_DEBLUR_RADIUS, 0.0, radii)
    if mode == "learned":
        physics = learned_physics(observed, radii)
        if physics is not None:
            return physics
        warnings.warn("psf_radius='learned': this installation has no radius net; using 'local'", stacklevel=3)
    if float(radii.max() - radii.min()) < 0.5:  # effectively uniform: the exact uniform operator
        return DefocusBlur(float(np.median(radii)))
    return VaryingDefocusBlur(radius_map_from_tiles(radii, ys, xs, tile, h, w))


def learned_physics(observed: np.ndarray, radii: np.ndarray):
    """``psf_radius="learned"``: the operator from the learned dense radius map, routed by what the
    spectral tile fits (``radii``) found; None when no radius net is installed."""
    net = embedded_radius_net()
    if net is None:
        return None
    accepted = radii[radii > 0]
    median = float(np.median(accepted)) if accepted.size else 0.0
    # Uniform blur: the spectral tile fits agree (a few declined or stray tiles allowed). They are
    # exact to ~0.1 px there, where the dense map errs by 0.6-2.5 px.
    agree = bool(accepted.size) and np.mean(np.abs(radii - median) <= UNIFORM_TOLERANCE) >= UNIFORM_AGREEMENT
    if agree and median > SHARP_RADIUS:
        return DefocusBlur(median)
    dense = learned_radius_map(net, observed)
    # Otherwise the dense map is believed only where it shows a clearly blurred region.
    if np.mean(dense >= BLURRED_RADIUS) < BLURRED_AREA:
        return DefocusBlur(median if agree else 0.0)
    return VaryingDefocusBlur(dense)


def _match_channels(x: torch.Tensor, model_channels: int) -> torch.Tensor:
    """(1, C, H, W) → what the model takes: grey into an RGB model is repeated; RGB into a grey
    model is run as three grey images in one batch."""
    c = x.shape[1]
    if c == model_channels:
        return x
    if c == 1 and model_channels == 3:
        return x.expand(1, 3, *x.shape[-2:]).contiguous()
    if c == 3 and model_channels == 1:
        return x.permute(1, 0, 2, 3).contiguous()
    raise ValueError(f"cannot feed a {c}-channel image to a {model_channels}-channel model")


def _unmatch_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels and x.shape[0] == 1:
        return x
    if channels == 1:
        return x.mean(dim=1, keepdim=True)
    return x.permute(1, 0, 2, 3)
