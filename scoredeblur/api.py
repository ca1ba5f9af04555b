"""The public entry point: ``scoredeblur.deblur``."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from .adapt import prepare, restore
from .checkpoint import CheckpointError, load_model
from .precond import Preconditioner
from .sampler import SamplerConfig, StepInfo, pc_sample
from .sde import VESDE
from .tiling import TiledScore


@lru_cache(maxsize=4)
def _cached_model(path: str, mtime: float, device: str) -> Preconditioner:
    return load_model(path, device=device)


def get_model(model: str | os.PathLike | Preconditioner | None = None, device: str | None = None) -> Preconditioner:
    """The embedded default (checksum-verified), a checkpoint path, or a model object as given."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(model, Preconditioner):
        return model.to(device)
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


def deblur(img: Any, steps: int = 700, *, model: str | os.PathLike | Preconditioner | None = None, seed: int = 0,
           snr: float = 0.16, corrector: bool = True, consistency: str | None = "paper", alpha: float = 0.02,
           sigma_start: float | None = None, tile: int = 256, overlap: int | None = None, tile_batch: int = 4,
           device: str | None = None, generator: torch.Generator | None = None,
           callback: Callable[[StepInfo], None] | None = None, progress: bool = False) -> Any:
    """Deblur a defocused image with the score prior (predictor-corrector sampling, source paper Eqs. 9-11).

    ``img``: numpy array (H×W or H×W×C; uint8, uint16 or float in [0, 1]), PIL image, torch tensor
    ((H, W), (C, H, W) or (1, C, H, W); uint8 or float) or a file path (returns a numpy array).
    Grey, RGB and RGBA are handled; alpha is passed through untouched. Returns the same kind and dtype.
    Images larger than ``tile`` are processed in overlapping tiles (``overlap`` pixels, default tile/8),
    ``tile_batch`` at a time.
    All noise comes from ``generator`` (default: ``torch.Generator().manual_seed(seed)``).
    """
    cfg = SamplerConfig(steps=steps, snr=snr, corrector=corrector, consistency=consistency, alpha=alpha,
                        sigma_start=sigma_start)
    prep = prepare(img)
    net = get_model(model, device)
    dev = next(net.parameters()).device
    y = _match_channels(prep.x, net.config.in_channels).to(dev)
    gen = generator if generator is not None else torch.Generator(device=dev).manual_seed(seed)
    overlap = max(4, tile // 8) if overlap is None else overlap
    score = TiledScore(net, tile=tile, overlap=overlap, batch=tile_batch)
    bar = tqdm(total=steps, disable=not progress, desc="deblur", unit="step")

    def on_step(info: StepInfo) -> None:
        bar.update(1)
        if callback is not None:
            callback(info)

    with torch.no_grad():
        x = pc_sample(score, VESDE(net.sde_config), y, cfg, gen, on_step)
    bar.close()
    return restore(prep, _unmatch_channels(x.cpu(), prep.x.shape[1]))


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
