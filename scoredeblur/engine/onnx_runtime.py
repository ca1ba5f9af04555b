"""ONNX Runtime as a score function for the sampler."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from scoredeblur.config import NetConfig, SDEConfig, from_dict
from scoredeblur.engine.onnx_export import META_KEY
from scoredeblur.errors import CheckpointError


class OnnxRuntimeScore:
    """S(x, σ) from an exported .onnx file; runs on ONNX Runtime's CPU (or CUDA) provider."""

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, threads: int | None = None):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX model not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:
            raise CheckpointError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc
        meta = self.session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if meta is None:
            raise CheckpointError(f"{path}: not a scoredeblur ONNX export (no '{META_KEY}' metadata)")
        info = json.loads(meta)
        self.config = from_dict(NetConfig, info["net_config"])
        self.sde_config = from_dict(SDEConfig, info["sde_config"])
        self.precision = info.get("precision", "float32")
        self.device = torch.device("cpu")

    def score(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sig = torch.as_tensor(sigma, dtype=torch.float32).reshape(-1)
        if sig.numel() == 1:
            sig = sig.expand(x.shape[0])
        out = self.session.run(None, {"x": x.detach().cpu().float().numpy(),
                                      "sigma": np.ascontiguousarray(sig.numpy())})[0]
        return torch.from_numpy(out).to(x.dtype)

    __call__ = score

    def to(self, device):  # the sampler's state stays on the CPU with this engine
        return self
