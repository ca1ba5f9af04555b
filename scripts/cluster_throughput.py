"""What running through Ray costs on one machine: the same folder deblurred by one process
(``deblur_files``, all threads) and by a local Ray instance (``deblur_cluster``, one actor per
core with one thread each: the same cores, split by process instead of by thread).

    python scripts/cluster_throughput.py --images 24 --size 128 --cpus 2 [--pause-pid PID]

Prints images per minute for both, Ray's overhead per image (cluster job time minus single-process
time, over the number of images; the job time includes starting the actors and loading the model
in each, as each single run loads its model) and the start-up of the Ray instance itself, timed
apart. Each is run ``--repeats`` times, alternating, and the fastest run counts (a busy machine
only ever slows a run down). ``--pause-pid`` stops a process
(SIGSTOP) for the duration of the timing, so that a background job does not take the cores, and
always resumes it (SIGCONT), errors included. Every image is drawn from a seeded generator.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch

from scoredeblur.batch import deblur_files
from scoredeblur.cluster import deblur_cluster
from scoredeblur.engine import loading
from scoredeblur.io.images import read_image, write_image
from scoredeblur.physics.degrade import synthesize_defocus


def photos(folder: Path, n: int, size: int, radius: float, seed: int) -> None:
    """Random discs and stripes, defocused by a disk of ``radius`` px with noise σ = 0.01, 8-bit:
    each different, and each with defocus to remove (a sharp photo would come back untouched)."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    folder.mkdir(parents=True)
    for i in range(n):
        img = np.zeros((3, size, size))
        for _ in range(6):
            cy, cx, r = rng.uniform(0, 1, 3)
            img[:, (yy - cy) ** 2 + (xx - cx) ** 2 < (0.1 + 0.3 * r) ** 2] = rng.uniform(0, 1, (3, 1))
        img[:, ((xx * rng.uniform(8, 24)).astype(int) % 2 == 0) & (yy > 0.7)] = rng.uniform(0, 1, (3, 1))
        blurry = synthesize_defocus(torch.from_numpy(img).float()[None], radius, 0.01, generator)[0]
        write_image(folder / f"photo{i:03d}.png", (blurry.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--cpus", type=int, default=2, help="cores used by both runs (threads / actors)")
    p.add_argument("--preset", default="fast")
    p.add_argument("--radius", type=float, default=3.0, help="the defocus of the test photos, px (estimated blind)")
    p.add_argument("--model", default=None, help="default: the embedded model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="timed runs of each; the fastest counts")
    p.add_argument("--pause-pid", type=int, default=None, help="a process to stop while timing (resumed after)")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args()
    options = dict(model=args.model, preset=args.preset, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photos(root / "in", args.images, args.size, args.radius, args.seed)
        if args.pause_pid is not None:
            os.kill(args.pause_pid, signal.SIGSTOP)
        try:
            torch.set_num_threads(args.cpus)
            t0 = time.perf_counter()
            ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
            init_s = time.perf_counter() - t0
            single_times, cluster_times = [], []
            for r in range(args.repeats):  # alternated, so that a passing load on the machine hits both
                loading._cached_model.cache_clear()  # each single run loads its model, as each actor does
                t0 = time.perf_counter()
                single = deblur_files([root / "in"], root / f"single{r}", **options)
                single_times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                cluster = deblur_cluster([root / "in"], root / f"cluster{r}", concurrency=args.cpus,
                                         num_cpus_per_actor=1, **options)
                cluster_times.append(time.perf_counter() - t0)
        finally:
            if ray.is_initialized():
                ray.shutdown()
            if args.pause_pid is not None:
                os.kill(args.pause_pid, signal.SIGCONT)
        single_s, cluster_s = min(single_times), min(cluster_times)
        assert len(single.written) == len(cluster.written) == args.images, (single.failed, cluster.failed)
        nfe = sum(r.nfe or 0 for r in single.records)
        # The runs differ in threads per process (cpus against 1), so float rounding may differ.
        diff = max(int(np.abs(read_image(a).pixels.astype(int) - read_image(root / "cluster0" / a.name).pixels).max())
                   for a in single.written)
    n = args.images
    result = {
        "images": n, "size": args.size, "preset": args.preset, "cpus": args.cpus,
        "single_process_s": round(single_s, 2), "single_images_per_min": round(60 * n / single_s, 1),
        "ray_start_s": round(init_s, 2),
        "cluster_job_s": round(cluster_s, 2), "cluster_images_per_min": round(60 * n / cluster_s, 1),
        "ray_overhead_per_image_s": round((cluster_s - single_s) / n, 3),
        "max_pixel_difference": diff, "network_evaluations": nfe,
        "single_runs_s": [round(t, 2) for t in single_times], "cluster_runs_s": [round(t, 2) for t in cluster_times],
    }
    print(f"{n} images {args.size}x{args.size} (defocus {args.radius:g} px, blind), preset {args.preset}, {args.cpus} cores, "
          f"{nfe} network evaluations in all")
    print(f"  one process, {args.cpus} threads:      {single_s:6.1f} s  {result['single_images_per_min']:6.1f} images/min")
    print(f"  Ray, {args.cpus} actors x 1 thread:     {cluster_s:6.1f} s  {result['cluster_images_per_min']:6.1f} images/min "
          f"(+ {init_s:.1f} s to start Ray)")
    print(f"  every run (s): one process {result['single_runs_s']}, Ray {result['cluster_runs_s']}; the fastest counts")
    print(f"  Ray overhead per image:          {result['ray_overhead_per_image_s']:+.3f} s; "
          f"largest pixel difference {diff}/255")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
