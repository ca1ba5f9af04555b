"""Checkpoints: plain data only (state_dicts, config dicts, numbers), written atomically.

Loaded with ``torch.load(weights_only=True)``, so no code is ever unpickled; a checkpoint of
another format, version or architecture fails with a message that says which.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from scoredeblur.config import NetConfig, SDEConfig, from_dict, to_dict
from scoredeblur.errors import CheckpointError
from scoredeblur.files import atomic_output
from scoredeblur.models.score_model import Preconditioner
from scoredeblur.models.unet import ScoreUNet
from scoredeblur.version import __version__

FORMAT = "scoredeblur.checkpoint"  # a file-format tag, not a module path: never changes with the layout
VERSION = 1




def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through ``files.atomic_output``: a killed run leaves the last checkpoint whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def make_checkpoint(net: ScoreUNet, sde_config: SDEConfig, **extra: Any) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "package_version": __version__,
            "net_config": to_dict(net.config), "sde_config": to_dict(sde_config),
            "state_dict": net.state_dict(), **extra}


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt, truncated, or holds pickled code
        raise CheckpointError(f"{path}: not a readable weights-only checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a scoredeblur checkpoint (no '{FORMAT}' format tag)")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt.get('version')!r}; this scoredeblur reads version {VERSION}")
    return ckpt


def build_model(ckpt: dict[str, Any], use_ema: bool = True, source: str = "checkpoint") -> Preconditioner:
    """Network (EMA weights when present) wrapped in its preconditioner, which carries the SDE config."""
    try:
        net_config = from_dict(NetConfig, ckpt["net_config"])
        sde_config = from_dict(SDEConfig, ckpt["sde_config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad or missing config ({exc})") from exc
    net = ScoreUNet(net_config)
    state = ckpt.get("ema_state_dict") if use_ema and ckpt.get("ema_state_dict") else ckpt.get("state_dict")
    if state is None:
        raise CheckpointError(f"{source}: holds no state_dict")
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: weights do not fit the architecture in its config: {exc}") from exc
    net.eval().requires_grad_(False)
    return Preconditioner(net, sde_config)


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", use_ema: bool = True) -> Preconditioner:
    return build_model(read_checkpoint(path), use_ema=use_ema, source=str(path)).to(device)


def pack_for_inference(src: str | os.PathLike, dst: str | os.PathLike, fp16: bool = True) -> str:
    """Training checkpoint → inference weights (EMA, optionally fp16, no optimiser); returns its SHA-256."""
    ckpt = read_checkpoint(src)
    model = build_model(ckpt, use_ema=True, source=str(src))
    state = {k: (v.half() if fp16 and v.is_floating_point() else v) for k, v in model.net.state_dict().items()}
    packed = make_checkpoint(model.net, model.sde_config, trained_steps=int(ckpt.get("step", 0)),
                             train_config=ckpt.get("train_config"), weights_dtype="float16" if fp16 else "float32")
    packed["state_dict"] = state
    atomic_torch_save(packed, dst)
    return hashlib.sha256(Path(dst).read_bytes()).hexdigest()
