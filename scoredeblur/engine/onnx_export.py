"""ONNX export of the preconditioned score network (x, σ) → S(x, σ), with dynamic N, H, W.

The FP16 variant is traced with the U-Net trunk in half precision and keeps in FP32 what must
stay there: the EDM input/output scaling and the Tweedie division (VE inputs reach magnitudes of
hundreds, σ² = 90,000 overflows FP16, and the score is scaled by 1/σ² with σ down to 0.01) and the
Gaussian-Fourier noise embedding (sin/cos of arguments in the hundreds of radians).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from scoredeblur.config import to_dict
from scoredeblur.files import atomic_output
from scoredeblur.models.score_model import Preconditioner

META_KEY = "scoredeblur"


def export_onnx(model: Preconditioner, path: str | os.PathLike, fp16: bool = False, max_size: int = 4096,
                opset: int | None = None) -> Path:
    """Write ``path`` atomically: float32 inputs/outputs whatever the inside precision."""
    import onnx

    path = Path(path)
    model = model.cpu().eval()
    if fp16:
        # The U-Net trunk in half precision; the preconditioning around it (input/output scaling,
        # the 1/σ² of the score), the noise embedding and I/O stay FP32 (Preconditioner._run casts).
        import copy

        model = copy.deepcopy(model)
        model.net.half()
        model.net.embed.freqs = model.net.embed.freqs.float()
        model.compute_dtype = torch.float16
    c = model.config.in_channels
    example = (torch.rand(2, c, 64, 64), torch.tensor([0.1, 1.0]))
    dims = {"x": {0: torch.export.Dim("batch", min=1, max=256), 2: torch.export.Dim("height", min=8, max=max_size),
                  3: torch.export.Dim("width", min=8, max=max_size)},
            "sigma": {0: torch.export.Dim("batch", min=1, max=256)}}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        kwargs = {"opset_version": opset} if opset else {}
        torch.onnx.export(model, example, raw, dynamo=True, dynamic_shapes=dims, input_names=["x", "sigma"],
                          output_names=["score"], external_data=False, **kwargs)
        proto = onnx.load(raw)
    meta = {"net_config": to_dict(model.config), "sde_config": to_dict(model.sde_config),
            "precision": "float16" if fp16 else "float32"}
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp_path:
        onnx.save(proto, tmp_path)
    return path


def parity(reference: Preconditioner, engine, sigmas=(0.01, 1.0, 300.0), size: int = 64, batch: int = 2,
           seed: int = 0) -> dict[float, float]:
    """Max relative error |engine − torch| / max|torch| of the score at each σ, on x̃ = x + σz."""
    g = torch.Generator().manual_seed(seed)
    c = reference.config.in_channels
    x0 = torch.rand((batch, c, size, size), generator=g)
    errors = {}
    for s in sigmas:
        xt = x0 + s * torch.randn(x0.shape, generator=g)
        sig = torch.full((batch,), float(s))
        with torch.no_grad():
            ref = reference.score(xt, sig).numpy()
        out = np.asarray(engine.score(xt, sig).cpu().numpy())
        errors[float(s)] = float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-30))
    return errors
