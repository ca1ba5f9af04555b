"""Speed benchmark: seconds per iteration and per image, NFE and peak memory per backend and size.

Each measurement runs in its own process so that peak memory (ru_maxrss on the CPU,
max_memory_allocated on CUDA) belongs to that measurement alone. Every backend is reported as a
ratio to the PyTorch eager reference measured in the same run.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time

import torch

BACKENDS = ("eager", "compiled")


def machine_info() -> str:
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, {gpu}; "
            f"python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}")


def measure_one(backend: str, size: int, steps: int, model: str | None, device: str | None) -> dict:
    from ..api import get_model
    from ..sampler import SamplerConfig, pc_sample
    from ..sde import VESDE

    net = get_model(model, device)
    dev = net.device
    score = net.score
    if backend == "compiled":
        score = torch.compile(net)
    elif backend != "eager":
        raise ValueError(f"unknown backend {backend!r}")
    y = torch.rand(1, net.config.in_channels, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
    cfg = SamplerConfig(steps=steps, sigma_start=1.0)
    with torch.no_grad():
        pc_sample(score, VESDE(net.sde_config), y, SamplerConfig(steps=2, sigma_start=1.0),
                  torch.Generator(device=dev).manual_seed(0))  # warm-up (and compilation)
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        pc_sample(score, VESDE(net.sde_config), y, cfg, torch.Generator(device=dev).manual_seed(0))
        if dev.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    ms = 1000 * elapsed / steps
    return {"backend": backend, "size": size, "ms_per_iter": ms, "steps": steps,
            "nfe_per_iter": 2, "peak_mb": peak, "device": str(dev)}


def run_speed(backends, sizes, steps: int, model: str | None, device: str | None, paper_steps: int = 700,
              threads: int | None = None) -> dict:
    rows, skipped = [], []
    for size in sizes:
        base = None
        for backend in backends:
            cmd = [sys.executable, "-m", "scoredeblur.bench.speed", backend, str(size), str(steps),
                   model or "", device or "", str(threads or 0)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                skipped.append(f"{backend} @ {size}: {proc.stderr.strip().splitlines()[-1] if proc.stderr else 'failed'}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            base = r["ms_per_iter"] if backend == "eager" else base
            r["speedup_vs_eager"] = base / r["ms_per_iter"] if base else float("nan")
            r["nfe"] = 2 * paper_steps
            r["s_per_image"] = r["ms_per_iter"] * paper_steps / 1000
            rows.append(r)
    return {"machine": machine_info(), "rows": rows, "skipped": skipped, "iterations_per_image": paper_steps}


if __name__ == "__main__":
    backend, size, steps, model, device, threads = sys.argv[1:7]
    if int(threads):
        torch.set_num_threads(int(threads))
    print(json.dumps(measure_one(backend, int(size), int(steps), model or None, device or None)))
