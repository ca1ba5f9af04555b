"""Where a CPU forward of the embedded network spends its time, and what layout/compilation buys.

    python scripts/profile_network.py --size 256 [--compile]

Prints torch.profiler's top operators for one eager forward, then the median time per forward of
eager NCHW, eager channels_last and (with --compile) torch.compile with freezing + channels_last,
interleaved in one process so that the ratios compare like with like. ``ONEDNN_VERBOSE=1`` in the
environment also lists each oneDNN kernel (convolutions and the layout ``reorder``s around them).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from scoredeblur.models.checkpoint import load_model
from scoredeblur.models.weights import default_model_path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (≈ 1 min to compile)")
    args = p.parse_args()
    net = load_model(default_model_path()).net.eval().requires_grad_(False)
    x = torch.rand(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    c = torch.full((args.batch,), 0.1)
    with torch.no_grad(), torch.profiler.profile() as prof:
        net(x, c)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))

    net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    variants = {"eager NCHW": (net, x), "eager channels_last": (net_cl, x_cl)}
    if args.compile:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
        variants["compiled, freezing + channels_last"] = (torch.compile(copy.deepcopy(net_cl), dynamic=False), x_cl)
    times = {k: [] for k in variants}
    with torch.no_grad():
        for fn, xx in variants.values():
            fn(xx, c)  # warm-up (and compilation)
        for _ in range(args.repeats):
            for name, (fn, xx) in variants.items():
                t = time.perf_counter()
                fn(xx, c)
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times["eager NCHW"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:40s} {med * 1e3:8.1f} ms   {base / med:.2f}x vs eager NCHW")


if __name__ == "__main__":
    main()
