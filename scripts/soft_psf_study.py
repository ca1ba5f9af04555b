"""Would a disk with a soft rim serve the sampler better on real defocus? An oracle bound.

    python scripts/soft_psf_study.py --pairs ../shared/data/real_pairs/dpdd_dev --softness 0 0.7 1.4

For each softness s (px; with ``--relative``, s × the disk's radius), every uniform blur the
product forms — the depth-varying operator's levels, the oracle map's deconvolutions — is a disk
convolved with a Gaussian of σ = s (s = 0: the product's hard disk; a radius-0 level stays the
identity). Per pair and per s: the oracle disk map of that PSF family
(``bench.oracle.oracle_radius_map``: per 64-px tile the radius whose Tikhonov deconvolution is
closest to the target), then the ``fast`` preset given that map with the consistency allowing for
the model error, as ``sd_fast_oracle_map`` does. Reported: the gain over the input per s, and of
the best s per photo (a second oracle). Both use the target: they bound
what estimating the softness could add, they are not results.

The soft family is swapped in for the duration of the study only (``soft_disks``), so the
product's code is what runs, with one PSF changed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import torch

import scoredeblur.bench.oracle as oracle
import scoredeblur.physics.blind as blind
import scoredeblur.physics.varying as varying
from scoredeblur import deblur
from scoredeblur.bench.oracle import soft_disk_psf
from scoredeblur.bench.real import ORACLE_MAP_NOISE, load_pairs, score
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.estimate import estimate_noise
from scoredeblur.plan import NOISE_FLOOR


def soft_family(softness: float, relative: bool = False):
    """DefocusBlur with the soft PSF: σ = ``softness`` px, or ``softness`` × radius when ``relative``."""
    class SoftDefocusBlur(DefocusBlur):
        def __init__(self, radius: float):
            super().__init__(radius)
            self.kernel = soft_disk_psf(self.radius, softness * self.radius if relative else softness)
    return SoftDefocusBlur


@contextlib.contextmanager
def soft_disks(softness: float, relative: bool = False):
    """Every module that forms a uniform blur forms the soft one while inside."""
    modules = (oracle, blind, varying)
    saved = [m.DefocusBlur for m in modules]
    cls = soft_family(softness, relative)
    try:
        for m in modules:
            m.DefocusBlur = cls
        yield
    finally:
        for m, c in zip(modules, saved):
            m.DefocusBlur = c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", required=True)
    p.add_argument("--softness", type=float, nargs="+", default=[0.0, 0.7, 1.4])
    p.add_argument("--relative", action="store_true",
                   help="σ = softness × the disk's radius (a rim that softens with the blur) instead of px")
    p.add_argument("--model-error", type=float, default=ORACLE_MAP_NOISE,
                   help="σ added in quadrature to the photo's noise in the consistency (the oracle map's default)")
    p.add_argument("--preset", default="fast")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="JSON file for the per-pair rows")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for pair in load_pairs(Path(a.pairs), limit=a.limit):
        base = score(pair.blur, pair.sharp)["psnr"]
        noise = float(np.hypot(max(estimate_noise(pair.blur), NOISE_FLOOR), a.model_error))
        row = {"image": pair.name, "input": base}
        for s in a.softness:
            t0 = time.perf_counter()
            with soft_disks(s, a.relative):
                rmap = oracle.oracle_radius_map(pair.blur, pair.sharp).astype(np.float32)
                out = deblur(pair.blur.astype(np.float32), preset=a.preset, psf_radius=rmap, noise_std=noise)
            row[f"gain_{s:g}"] = score(out, pair.sharp)["psnr"] - base
            row[f"map_{s:g}"] = [float(rmap.min()), float(np.median(rmap)), float(rmap.max())]
            print(f"{pair.name} s={s:g}: {row[f'gain_{s:g}']:+.3f} dB, map {row[f'map_{s:g}']} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        row["best"] = max(row[f"gain_{s:g}"] for s in a.softness)
        rows.append(row)
    print("\nmean gain over the input (dB), worst, photos worse:")
    for key in [f"gain_{s:g}" for s in a.softness] + ["best"]:
        g = np.array([r[key] for r in rows])
        print(f"  {key:>10}: {g.mean():+.3f}  worst {g.min():+.3f}  worse {int((g < 0).sum())}/{len(g)}")
    wins = [max(a.softness, key=lambda s: r[f"gain_{s:g}"]) for r in rows]
    print("  best softness per photo:", {f"{s:g}": wins.count(s) for s in a.softness})
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
