"""TensorRT engine builds from the ONNX export, through NVIDIA's documented Python API.

Two flavours share one code path:
* ``tensorrt`` (datacenter TensorRT 10/11): a *strongly typed* network parsed from the FP16 ONNX,
  so the precision of every layer is the one in the ONNX (TensorRT 11 has no FP16 builder flag;
  strong typing is how FP16 is asked for). It cannot be installed on this project's machines
  (its wheels download from NVIDIA's own host), so this path is written to the API and imported
  lazily; it has not been executed here.
* ``tensorrt-rtx`` (``pip install tensorrt-rtx``, module ``tensorrt_rtx``): builds ahead of time on
  a machine without a GPU, for the compute capabilities asked for (SM75 = Turing, the paper's
  RTX 2080Ti, must be named explicitly).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from scoredeblur.errors import EngineBuildError

MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}




def import_trt(flavour: str):
    name = MODULES[flavour]
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        hint = ("pip install tensorrt-rtx" if flavour == "tensorrt-rtx" else
                "install NVIDIA TensorRT 10/11 (its Python wheels come from NVIDIA's package host)")
        raise EngineBuildError(f"backend {flavour!r} needs the Python module {name!r}, which is not installed: {hint}") from exc


def parse_shape(spec: str | None, name: str = "x") -> tuple[int, ...] | None:
    """trtexec's ``x:1x3x256x256`` (the input name is optional)."""
    if spec is None:
        return None
    body = spec.split(":", 1)[1] if ":" in spec else spec
    if ":" in spec and spec.split(":", 1)[0] != name:
        raise ValueError(f"shape spec {spec!r} names input {spec.split(':', 1)[0]!r}; the network's image input is {name!r}")
    try:
        dims = tuple(int(d) for d in body.lower().split("x"))
    except ValueError:
        raise ValueError(f"bad shape {spec!r}; write e.g. x:1x3x256x256") from None
    if len(dims) != 4 or min(dims) < 1:
        raise ValueError(f"bad shape {spec!r}: need N×C×H×W with positive sizes")
    return dims


def build_engine(onnx_path: str | Path, engine_path: str | Path, flavour: str, min_shape, opt_shape, max_shape,
                 timing_cache: str | Path | None = None, compute_capabilities: list[str] | None = None,
                 workspace_mb: int | None = None) -> Path:
    trt = import_trt(flavour)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"{flavour} could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if workspace_mb:  # TensorRT-RTX building without a GPU must keep its own default (no device pool)
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    profile = builder.create_optimization_profile()
    profile.set_shape("x", min_shape, opt_shape, max_shape)
    profile.set_shape("sigma", (min_shape[0],), (opt_shape[0],), (max_shape[0],))
    config.add_optimization_profile(profile)
    if compute_capabilities and flavour == "tensorrt-rtx":
        config.num_compute_capabilities = len(compute_capabilities)
        for i, cc in enumerate(compute_capabilities):
            config.set_compute_capability(getattr(trt.ComputeCapability, cc.upper()), i)
    cache = None
    if timing_cache is not None:
        data = Path(timing_cache).read_bytes() if Path(timing_cache).exists() else b""
        cache = config.create_timing_cache(data)
        config.set_timing_cache(cache, ignore_mismatch=False)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise EngineBuildError(f"{flavour} failed to build an engine from {onnx_path} (see the log above)")
    engine_path = Path(engine_path)
    tmp = engine_path.with_suffix(engine_path.suffix + ".tmp")
    tmp.write_bytes(bytes(blob))
    tmp.replace(engine_path)
    if cache is not None:
        Path(timing_cache).write_bytes(bytes(cache.serialize()))
    return engine_path
