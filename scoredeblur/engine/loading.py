"""The score model a call runs: the embedded default, a checkpoint, an ONNX export or an
AOTInductor package, each behind the same ``score(x, σ)`` interface."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch

from scoredeblur import arguments
from scoredeblur.engine.aoti import AotiScore
from scoredeblur.engine.onnx_runtime import OnnxRuntimeScore
from scoredeblur.errors import CheckpointError
from scoredeblur.models.checkpoint import load_model
from scoredeblur.models.score_model import Preconditioner
from scoredeblur.models.weights import default_model_path, verify_checksum


@lru_cache(maxsize=4)
def _cached_model(path: str, mtime: float, device: str) -> Preconditioner:
    model = load_model(path, device=device)
    if torch.device(device).type == "cpu":
        model.set_memory_format(torch.channels_last)  # oneDNN's native layout: no re-layouts
    return model


def get_model(model: str | os.PathLike | Preconditioner | None = None, device: str | None = None):
    """The embedded default (checksum-verified), a checkpoint (.pt), ONNX export (.onnx) or
    AOTInductor package (.pt2) path, or a score-model object as given (anything with ``score``,
    ``config``, ``sde_config``, ``device``). Models loaded from files are cached per file and device."""
    device = arguments.device(device)
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model.to(device)
    suffix = Path(model).suffix.lower() if model is not None else ""
    if suffix == ".onnx":
        return OnnxRuntimeScore(model)
    if suffix == ".pt2":
        return AotiScore(model, str(device))
    if model is None:
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
