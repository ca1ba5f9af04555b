"""AOTInductor: the score network compiled ahead of time into a .pt2 package.

The same package is what the C++ sampling loop loads (torch::inductor::AOTIModelPackageLoader),
so the network runs with no Python at all; from Python it loads with aoti_load_package.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch

from scoredeblur.config import NetConfig, SDEConfig, from_dict, to_dict
from scoredeblur.errors import CheckpointError
from scoredeblur.models.score_model import Preconditioner
from scoredeblur.models.unet import pad_to_multiple

# What a package holds besides the weights; part of the C++ loop's cache key, so that a change of
# graph or compile settings recompiles instead of loading a stale package.
PACKAGE_FORMAT = "3: folded up-sampling, ATen GroupNorm"


@contextlib.contextmanager
def aten_group_norm():
    """Compile with ATen's GroupNorm kernel instead of Inductor's generated one.

    Inductor decomposes GroupNorm into reductions whose generated code is slow on channels_last
    activations (groups of 4 channels strided across the channel dimension: 17 ms for one 96-channel
    256² GroupNorm, ATen's kernel ≈ 2 ms). Without the decomposition Inductor falls back to the ATen
    op, and the package runs at eager speed (0.98× eager at 256² and 512², against 0.72–0.75× with
    the decomposition; `docs/RESULTS.md`, Speed). The table is Inductor's own (private) one, so it is
    restored on exit (with the lowering table), and if its layout ever changes this does nothing.
    """
    from torch._inductor import decomposition, lowering

    table = getattr(decomposition, "decompositions", {})
    lowerings = getattr(lowering, "lowerings", {})
    ops = (torch.ops.aten.native_group_norm.default, torch.ops.aten.group_norm.default)
    saved = {op: table.pop(op) for op in ops if op in table}
    # Register the ATen fallback ourselves, saying the decomposition is skipped on purpose: Inductor's
    # implicit fallback refuses ops that have a decomposition when the environment sets CI.
    added = [op for op in ops if op not in lowerings]
    for op in added:
        lowering.make_fallback(op, override_decomp=True, get_decomp_fn=dict)
    try:
        yield
    finally:
        for op in added:
            lowerings.pop(op, None)
        table.update(saved)


def compile_aoti(model: Preconditioner, path: str | Path, device: str = "cpu", max_size: int = 1024) -> Path:
    max_size = max(int(max_size), 128)  # the tracing example below is 64×96
    model = model.to(device).eval()
    c = model.config.in_channels
    example = (torch.rand(2, c, 64, 96, device=device), torch.tensor([0.1, 1.0], device=device))
    batch = torch.export.Dim("batch", min=1, max=64)
    # H and W as multiples of the U-Net's size multiple: AotiScore pads other sizes to one.
    m = model.config.size_multiple
    dims = {"x": {0: batch, 2: m * torch.export.Dim("height", min=1, max=max_size // m),
                  3: m * torch.export.Dim("width", min=1, max=max_size // m)}, "sigma": {0: batch}}
    with torch.no_grad():
        program = torch.export.export(model, example, dynamic_shapes=dims)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"scoredeblur": json.dumps({"net_config": to_dict(model.config),
                                            "sde_config": to_dict(model.sde_config)})}
        with aten_group_norm():
            torch._inductor.aoti_compile_and_package(program, package_path=str(path),
                                                     inductor_configs={"aot_inductor.metadata": meta})
    return path


def read_metadata(runner) -> tuple[NetConfig, SDEConfig]:
    info = json.loads(runner.get_metadata()["scoredeblur"])
    return from_dict(NetConfig, info["net_config"]), from_dict(SDEConfig, info["sde_config"])


class AotiScore:
    """S(x, σ) from a .pt2 package, with the Preconditioner's interface."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        if not Path(path).is_file():
            raise CheckpointError(f"AOTInductor package not found: {path}")
        try:
            self.runner = torch._inductor.aoti_load_package(str(path))
            self.config, self.sde_config = read_metadata(self.runner)
        except (KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: not a scoredeblur AOTInductor package ({exc})") from exc
        self.path, self.device = Path(path), torch.device(device)

    def score(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sig = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).reshape(-1)
        if sig.numel() == 1:
            sig = sig.expand(x.shape[0]).contiguous()
        h, w = x.shape[-2:]
        xp = pad_to_multiple(x.float(), self.config.size_multiple)
        return self.runner(xp, sig)[..., :h, :w].to(x.dtype)

    __call__ = score

    def to(self, device):
        return self
