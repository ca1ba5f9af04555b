"""Speed benchmark: seconds per iteration and per image, NFE and peak memory per engine and size.

Each measurement runs in its own process so that peak memory (ru_maxrss on the CPU,
max_memory_allocated on CUDA) belongs to that measurement alone. Every engine is reported as a
ratio to PyTorch eager measured in the same run. Engines: ``torch-eager`` (the network in PyTorch),
``torch-compile`` (torch.compile), ``onnxruntime`` (the ONNX export on ONNX Runtime), ``aoti`` (an
AOTInductor package) under the Python loop, and ``cpp-loop`` (the whole loop in C++ on that package).
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy
import torch

from scoredeblur.api import deblur
from scoredeblur.engine.cpp_loop import CppLoop, package_for
from scoredeblur.engine.loading import get_model
from scoredeblur.engine.onnx_export import export_onnx
from scoredeblur.models.score_model import _as_batch_sigma
from scoredeblur.sampling.config import SamplerConfig
from scoredeblur.sampling.presets import PRESETS
from scoredeblur.sampling.sampler import pc_sample
from scoredeblur.sampling.sde import VESDE

ENGINES = ("torch-eager", "torch-compile", "onnxruntime", "aoti", "cpp-loop")


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, {gpu}; "
            f"python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}")


def prepare_engines(engines, model: str | None, out_dir, max_size: int) -> dict[str, str]:
    """Export/compile once per run what the engines load (paths by engine)."""
    paths = {}
    if "onnxruntime" in engines:
        paths["onnxruntime"] = str(export_onnx(get_model(model, "cpu"), Path(out_dir) / "net.onnx"))
    if "aoti" in engines or "cpp-loop" in engines:
        paths["aoti"] = paths["cpp-loop"] = str(package_for(get_model(model, "cpu"), max_size=max_size))
    return paths


def measure_one(engine: str, size: int, steps: int, model: str | None, device: str | None,
                engine_path: str | None = None) -> dict:
    net = get_model(engine_path if engine in ("onnxruntime", "aoti") else model, device)
    dev = net.device
    sde = VESDE(net.sde_config)
    if engine == "torch-compile":
        # Compile the exported graph (σ as a tensor per batch element); the σ check stays eager.
        # On CUDA, "reduce-overhead" replays the network as one CUDA graph: at 256² and batch 1 it
        # is launch-bound (hundreds of small kernels). Graph outputs are reused by the next replay,
        # hence the clone there (only there: on a CPU it would be a copy per call for nothing).
        # (Not yet run on a GPU.)
        if dev.type == "cuda":
            compiled = torch.compile(net.forward, mode="reduce-overhead")
            score = lambda x, s: compiled(x, _as_batch_sigma(s, x)).clone()  # noqa: E731
        else:
            compiled = torch.compile(net.forward)
            score = lambda x, s: compiled(x, _as_batch_sigma(s, x))  # noqa: E731
        run = lambda cfg, seed: pc_sample(score, sde, y, cfg, torch.Generator(device=dev).manual_seed(seed))  # noqa: E731
    elif engine == "cpp-loop":
        loop = CppLoop(engine_path, net.config.size_multiple)
        run = lambda cfg, seed: loop.sample(y, sde, cfg, seed)  # noqa: E731
    elif engine in ("torch-eager", "onnxruntime", "aoti"):
        run = lambda cfg, seed: pc_sample(net.score, sde, y, cfg, torch.Generator(device=dev).manual_seed(seed))  # noqa: E731
    else:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    y = torch.rand(1, net.config.in_channels, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
    # The paper's iteration (predictor + corrector + Eq. 11), timed from a late start so that
    # the numbers stay finite for any model.
    cfg = SamplerConfig(steps=steps, sigma_start=1.0)
    with torch.no_grad():
        run(SamplerConfig(steps=2, sigma_start=1.0), 0)  # warm-up (and compilation)
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        run(cfg, 0)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    ms = 1000 * elapsed / steps
    return {"engine": engine, "size": size, "ms_per_iter": ms, "steps": steps,
            "nfe_per_iter": 2, "peak_mb": peak, "device": str(dev)}


def run_speed(engines, sizes, steps: int, model: str | None, device: str | None, paper_steps: int = 700,
              threads: int | None = None, out_dir=".") -> dict:
    rows, skipped = [], []
    try:
        engine_paths = prepare_engines(engines, model, out_dir, max(sizes))
    except Exception as exc:  # an engine that cannot be built is reported, the rest still run
        skipped.append(f"engine preparation failed: {type(exc).__name__}: {exc}")
        engine_paths = {}
        engines = [b for b in engines if b not in ("onnxruntime", "aoti", "cpp-loop")]
    for size in sizes:
        base = None
        for engine in engines:
            cmd = [sys.executable, "-m", "scoredeblur.bench.speed", engine, str(size), str(steps),
                   model or "", device or "", str(threads or 0), engine_paths.get(engine, "")]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                skipped.append(f"{engine} @ {size}: {proc.stderr.strip().splitlines()[-1] if proc.stderr else 'failed'}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            base = r["ms_per_iter"] if engine == "torch-eager" else base
            r["speedup_vs_eager"] = base / r["ms_per_iter"] if base else float("nan")
            r["nfe"] = 2 * paper_steps
            r["s_per_image"] = r["ms_per_iter"] * paper_steps / 1000
            rows.append(r)
    return {"machine": machine_info(), "rows": rows, "skipped": skipped, "iterations_per_image": paper_steps}


if __name__ == "__main__":
    engine, size, steps, model, device, threads, engine_path = sys.argv[1:8]
    if int(threads):
        torch.set_num_threads(int(threads))
    print(json.dumps(measure_one(engine, int(size), int(steps), model or None, device or None, engine_path or None)))


def preset_seconds(presets, sizes, model: str | None, device: str | None, repeats: int = 2) -> list[dict]:
    """Wall time of a whole deblur(img, preset=...) call (blind estimation included) per image size."""
    net = get_model(model, device)
    rows = []
    for size in sizes:
        img = numpy.random.default_rng(0).random((size, size, 3)).astype(numpy.float32)
        for name in presets:
            deblur(img[:64, :64], preset=name, model=net, steps=2)  # warm-up
            t0 = time.perf_counter()
            for _ in range(repeats):
                deblur(img, preset=name, model=net)
            cfg = PRESETS[name]
            rows.append({"preset": name, "size": size, "nfe": cfg.nfe,
                         "s_per_image": (time.perf_counter() - t0) / repeats})
    return rows
