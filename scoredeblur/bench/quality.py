"""Quality benchmark: run methods side by side on synthetic cases and aggregate PSNR/SSIM."""
from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
from tqdm import tqdm

from scoredeblur.bench.cases import Case
from scoredeblur.bench.methods import REGISTRY, Context, Method
from scoredeblur.bench.metrics import psnr, ssim
from scoredeblur.progress import disabled


def run_quality(cases: list[Case], methods: list[Method], ctx: Context, progress: bool = True,
                keep_outputs: bool = False) -> dict:
    rows, outputs = [], {}
    jobs = [(c, m) for c in cases for m in methods]
    for case, method in tqdm(jobs, disable=disabled(progress), desc="quality", unit="run"):
        t0 = time.perf_counter()
        try:
            est = method.fn(case.blurry, case, ctx)
        except Exception as exc:  # one failing method must not sink the whole table
            rows.append({"case": case.name, "method": method.name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        seconds = time.perf_counter() - t0
        rows.append({"case": case.name, "degradation": case.degradation.label, "size": case.size,
                     "method": method.name, "psnr": psnr(case.sharp, est), "ssim": ssim(case.sharp, est),
                     "seconds": seconds})
        if keep_outputs:
            outputs[(case.name, method.name)] = est
    return {"rows": rows, "summary": summarise(rows), "outputs": outputs}


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if "error" not in r:
            groups[(r["degradation"], r["size"], r["method"])].append(r)
    out = []
    for (deg, size, method), rs in groups.items():
        p, s, t = (np.array([r[k] for r in rs]) for k in ("psnr", "ssim", "seconds"))
        out.append({"degradation": deg, "size": size, "method": method, "n": len(rs),
                    "psnr_mean": float(p.mean()), "psnr_std": float(p.std()),
                    "ssim_mean": float(s.mean()), "ssim_std": float(s.std()),
                    "seconds_mean": float(t.mean())})
    return out


def tune_classical(cases: list[Case], ctx: Context) -> dict:
    """Grid-search the Wiener balance and Richardson-Lucy iterations for mean PSNR on ``cases``."""
    best = {}
    for key, method, grid in [("wiener_balance", "wiener", [0.001, 0.003, 0.01, 0.03, 0.1]),
                              ("rl_iterations", "richardson_lucy", [5, 10, 20, 40, 80])]:
        scores = []
        for value in grid:
            ctx.tuned[key] = value
            scores.append(np.mean([psnr(c.sharp, REGISTRY[method].fn(c.blurry, c, ctx)) for c in cases]))
        best[key] = grid[int(np.argmax(scores))]
        ctx.tuned[key] = best[key]
    return best
