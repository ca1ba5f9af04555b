"""The public entry point: ``scoredeblur.deblur``: prepare → plan → sample → restore."""
from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from scoredeblur import arguments
from scoredeblur.engine.loading import get_model
from scoredeblur.errors import InputError
from scoredeblur.io.conversion import match_channels, prepare, restore, unmatch_channels
from scoredeblur.loops import check_loop, run_loop
from scoredeblur.models.score_model import Preconditioner
from scoredeblur.physics.blind import check_psf_radius
from scoredeblur.physics.varying import VaryingDefocusBlur
from scoredeblur.plan import Plan, make_plan
from scoredeblur.progress import LARGE_CALL
from scoredeblur.progress import bar as progress_bar
from scoredeblur.sampling.ensemble import flip_ensemble
from scoredeblur.sampling.presets import resolve
from scoredeblur.sampling.sampler import StepInfo
from scoredeblur.sampling.tiling import TiledScore, default_tile_batch, still_mask

log = logging.getLogger("scoredeblur")
# The tile grid moves at every network call (sampling.tiling): with it a tile/32 overlap (8 px) is
# enough; a fixed grid needs tile/8.
MOVING_GRID = True
OVERLAP_DIVISOR = 32


@dataclass(frozen=True)
class DeblurResult:
    """``deblur(..., return_info=True)``: the image and what the call estimated and ran."""

    image: Any                  # the deblurred image, in the input's kind and dtype
    radius_map: np.ndarray      # H×W defocus radius (px) the operator used (0 where none)
    noise_std: float | None     # the noise σ the consistency assumed: the photo's and the operator's (None: no such step)
    preset: str
    steps: int
    nfe: int                    # network evaluations per evaluated tile
    seconds: float
    unchanged: np.ndarray       # H×W bool: pixels returned as they were (no blur there, or bokeh kept)
    skipped_tiles: float        # share of the tiles never sent to the network (they hold no blur)


def deblur(img: Any, steps: int | None = None, *, preset: str | None = None,
           model: str | os.PathLike | Preconditioner | None = None, seed: int = 0,
           psf_radius: float | str | np.ndarray | None = None, noise_std: float | None = None,
           tile: int = 256, overlap: int | None = None, tile_batch: int | None = None, device: str | None = None,
           generator: torch.Generator | None = None, callback: Callable[[StepInfo], None] | None = None,
           progress: bool = False, loop: str = "python", kernel: str | None = None, precision: str | None = None,
           keep_bokeh: bool = False, keep_highlights: bool = True, return_info: bool = False,
           **sampler_options) -> Any:
    """Deblur a defocused image with the score prior.

    ``deblur(img)`` runs the ``"fast"`` preset; ``preset="fast" | "balanced" | "quality"`` are
    ours: a late start from a deconvolution, the exact proximal consistency with the defocus PSF,
    plug-and-play steps with the learned denoiser. ``deblur(img, steps=700)`` (``preset="pc"``) runs
    predictor-corrector sampling from the prior, every score made consistent with the defocus PSF:
    more steps, more quality, and slower. ``preset="paper"`` is the source paper's literal method
    (Eq. (11), a pull toward the blurry photo itself, which returns the input; for reproduction).

    ``psf_radius``: None or "local" estimates a defocus radius per tile (defocus varies with depth),
    "global" one radius for the whole image, "learned" a radius per pixel from the learned estimator
    (stronger on synthetic depth-varying blur, but it also deconvolves real bokeh backgrounds),
    "layers" a sharp subject over one blurred background, found from edges (opt-in as well); a
    number or an H×W radius map is taken as given. ``noise_std`` (the photo's noise) is estimated
    when None; with a depth-varying operator the consistency adds that operator's model error to it
    in quadrature (``BlurOperator.model_error``), and ``DeblurResult.noise_std`` is the sum. Where the
    radius is 0 (in focus, or too small to tell from sharp), the plug-and-play presets return the
    photo as it was and spend no network evaluations on those tiles. ``keep_bokeh=True`` keeps the photographer's background
    blur: regions blurred clearly more than the sharpest layer (``physics.blind.bokeh_threshold``)
    are left as they are and only the rest is deblurred; default: everything in focus.
    ``keep_highlights`` (default True) leaves small clipped highlights (lamps, glints) and the
    pixels within the blur's reach of them as they are: the light the sensor clipped is missing
    from the photo, and deconvolving without it rings far around every highlight
    (``physics.clipping``); False deblurs them with the rest.

    ``loop``/``kernel`` choose how the sampler runs (``scoredeblur.loops``): ``loop="python"`` with
    ``kernel=None`` is the reference loop; a ``kernel`` ("reference", "cpu", "triton", "cuda") fuses
    every elementwise update into one kernel of that kind; ``loop="cpp"`` runs the whole loop in C++
    (whole image, no tiles; it falls back to the Python loop with a warning where it cannot run).
    Any ``SamplerConfig`` field (``corrector``, ``consistency``, ``alpha``, ``lam``, ``snr``,
    ``predictor``, ``eta``, ``sigma_start``, ``ensemble``) may be overridden.

    ``img``: numpy array (H×W or H×W×C; uint8, uint16 or float in [0, 1]), PIL image, torch tensor
    ((H, W), (C, H, W) or (1, C, H, W); uint8 or float) or a file path (returns a numpy array).
    Grey, RGB and RGBA are handled; alpha is passed through untouched. Returns the same kind, dtype
    and device, or a ``DeblurResult`` with ``return_info=True``. A list of images, or an (N, C, H, W)
    tensor, is a batch: each image is deblurred on its own (with its own blur estimate).
    ``precision``: "float32" (default) or, on CUDA, "float16" for the network (the shared cached
    model is not changed). Images larger than ``tile`` are processed in overlapping tiles
    (``overlap`` pixels, default tile/32) on a grid that moves at every step, ``tile_batch`` at a
    time (default: 1 on a CPU, 4 on a GPU). All noise comes from ``generator`` (default: seeded with
    ``seed``); the presets ``fast``/``balanced``/``quality`` draw none, so for them the seed
    changes nothing.
    """
    if isinstance(img, (list, tuple)) or (isinstance(img, torch.Tensor) and img.ndim == 4 and img.shape[0] > 1):
        # A batch: each image on its own (each has its own blur), results in the same container.
        out = [deblur(one if isinstance(img, (list, tuple)) else one[None], steps, preset=preset, model=model,
                      seed=seed, psf_radius=psf_radius, noise_std=noise_std, tile=tile, overlap=overlap,
                      tile_batch=tile_batch, device=device, generator=generator, callback=callback,
                      progress=progress, loop=loop, kernel=kernel, precision=precision, keep_bokeh=keep_bokeh,
                      keep_highlights=keep_highlights, return_info=return_info, **sampler_options) for one in img]
        if isinstance(img, torch.Tensor) and not return_info:
            return torch.cat(out)
        return tuple(out) if isinstance(img, tuple) else out
    t0 = time.perf_counter()
    check_arguments(steps, preset=preset, seed=seed, psf_radius=psf_radius, noise_std=noise_std, tile=tile,
                    overlap=overlap, tile_batch=tile_batch, loop=loop, kernel=kernel, generator=generator,
                    callback=callback, precision=precision, keep_bokeh=keep_bokeh,
                    keep_highlights=keep_highlights, **sampler_options)
    overlap = max(4, tile // (OVERLAP_DIVISOR if MOVING_GRID else 8)) if overlap is None else overlap
    prep = prepare(img)
    net = with_precision(get_model(model, device), precision)
    dev = net.device
    tile_batch = default_tile_batch(dev) if tile_batch is None else tile_batch
    y = match_channels(prep.x, net.config.in_channels).to(dev)
    observed = prep.x[0].permute(1, 2, 0).numpy()
    plan = make_plan(observed, y, preset, steps, psf_radius, noise_std, keep_bokeh=keep_bokeh,
                     keep_highlights=keep_highlights, **sampler_options)
    still = still_mask(plan.physics, tuple(y.shape[-2:])) if skips_still_tiles(plan, loop) else None
    score = TiledScore(flip_ensemble(net.score, plan.cfg.ensemble), tile=tile, overlap=overlap, batch=tile_batch,
                       still=still, moving=MOVING_GRID)
    gen = generator if generator is not None else torch.Generator(device=dev).manual_seed(seed)
    calls = plan.cfg.nfe // plan.cfg.ensemble  # calls of the score; each evaluates a tile `ensemble` times
    work = plan.cfg.ensemble * score.active_tiles(*y.shape[-2:], calls)  # tile evaluations: the call's time
    tiles = work // plan.cfg.nfe  # per network evaluation of the image, on average
    if work >= LARGE_CALL and loop != "cpp":
        log.warning("this call evaluates the network %s times (%d steps, %d NFE per tile, %d tiles)%s",
                    f"{work:,}", plan.cfg.steps, plan.cfg.nfe, tiles, "" if progress else "; pass progress=True to watch it")
    # The bar counts tile evaluations (tiles × NFE), so its rate and time estimate follow the real
    # work; the C++ loop runs the whole image at once and reports by step.
    by_tiles = loop != "cpp"
    with progress_bar(work if by_tiles else plan.cfg.steps, progress, "deblur", "tile" if by_tiles else "step") as bar:
        if by_tiles:
            score.on_tiles = bar.update

        def on_step(info: StepInfo) -> None:
            if not by_tiles:
                bar.update(info.index + 1 - bar.n)  # by index: the C++ loop reports once, at its last step
            if callback is not None:
                callback(info)

        with torch.no_grad():
            x = run_loop(score, net, y, plan, loop=loop, kernel=kernel, seed=seed, generator=gen, callback=on_step)
    image = restore(prep, unmatch_channels(x.cpu(), prep.x.shape[1]))
    if not return_info:
        return image
    unchanged = np.zeros(observed.shape[:2], bool) if still is None else still.numpy().copy()
    return DeblurResult(image, radius_map_of(plan, observed.shape[:2]),
                        plan.cfg.noise_std if plan.physics is not None else None, plan.preset, plan.cfg.steps,
                        plan.cfg.nfe, time.perf_counter() - t0, unchanged,
                        1.0 - score.active_share(*observed.shape[:2]))


def check_arguments(steps=None, *, preset=None, seed=0, psf_radius=None, noise_std=None, tile=256, overlap=None,
                    tile_batch=None, loop="python", kernel=None, generator=None, callback=None, precision=None,
                    device=None, keep_bokeh=False, keep_highlights=True, **sampler_options) -> None:
    """Every argument of ``deblur`` that does not depend on the image, checked before any work (and
    by ``deblur_files`` once, before the first image)."""
    check_loop(loop, kernel, generator, callback)
    tile = arguments.whole("tile", tile, 16)
    if overlap is not None:
        arguments.whole("overlap", overlap, 0, tile // 2)
    if tile_batch is not None:
        arguments.whole("tile_batch", tile_batch, 1)
    arguments.whole("seed", seed, 0)
    if noise_std is not None:
        arguments.real("noise_std", noise_std, 0.0, 1.0, open_lo=True)
    if precision is not None and precision not in PRECISIONS:
        raise InputError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    if device is not None:
        arguments.device(device)
    check_psf_radius(psf_radius)
    for name, flag in (("keep_bokeh", keep_bokeh), ("keep_highlights", keep_highlights)):
        if not isinstance(flag, bool):
            raise InputError(f"{name} must be True or False, got {flag!r}")
    resolve(preset, steps, **sampler_options)  # the sampler settings (SamplerConfig checks each)


PRECISIONS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def with_precision(net, precision: str | None):
    """The model computing in ``precision``: a shallow copy (same weights), so that the cached,
    shared model keeps its own setting."""
    if precision is None:
        return net
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    if not hasattr(net, "set_compute_dtype"):
        raise InputError(f"precision={precision!r}: this engine ({type(net).__name__}) fixes its own precision")
    net = copy.copy(net)
    try:
        net.set_compute_dtype(PRECISIONS[precision])
    except ValueError as exc:
        raise InputError(f"precision={precision!r}: {exc}") from None
    return net


def skips_still_tiles(plan: Plan, loop: str) -> bool:
    """Whether tiles without blur can go unevaluated. Plug-and-play steps from the photo with the
    proximal consistency keep such pixels exactly as they are with a zero score, and an overlap
    shared with an evaluated tile blends the identity into the denoiser smoothly. A sampler that
    starts from the prior has to evaluate everything (its iterate is noise until the end), and the
    C++ loop runs the whole image at once."""
    return plan.cfg.predictor == "hqs" and plan.cfg.consistency == "proximal" and loop != "cpp"


def radius_map_of(plan: Plan, shape: tuple[int, int]) -> np.ndarray:
    """The H×W radius map of the call's operator (zeros when it has none)."""
    if isinstance(plan.physics, VaryingDefocusBlur):
        return plan.physics.radius_map.numpy().copy()
    radius = getattr(plan.physics, "radius", 0.0)
    return np.full(shape, float(radius))
