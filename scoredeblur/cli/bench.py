"""``scoredeblur-bench quality|speed|real|all``: the benchmark every quality and speed claim rests on.

quality: synthetic defocus cases from clean images; real: real defocused photos against aligned
all-in-focus targets (``--pairs DIR`` with blur/ and sharp/); speed: engines and whole calls."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from scoredeblur.bench.cases import DEFAULT_DEV_DIR, Degradation, build_cases, list_images, save_case
from scoredeblur.bench.methods import REGISTRY, Context, available
from scoredeblur.bench.quality import run_quality, tune_classical
from scoredeblur.bench.real import BORDER, load_pairs, real_crops, real_markdown, run_real
from scoredeblur.bench.real import METHODS as REAL_METHODS
from scoredeblur.bench.report import compare, plot_curves, quality_markdown, save_crops, speed_markdown, write_json
from scoredeblur.bench.speed import ENGINES, machine_info, preset_seconds, run_speed
from scoredeblur.cli.common import count
from scoredeblur.sampling.presets import DEFAULT_PRESET

DEFAULT_WEIGHTS = DEFAULT_DEV_DIR.parents[1] / "weights"
DEFAULT_PAIRS = DEFAULT_DEV_DIR.parent / "real_pairs" / "dpdd_dev"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scoredeblur-bench", description=__doc__)
    p.add_argument("what", choices=("quality", "speed", "real", "all"))
    p.add_argument("--pairs", default=str(DEFAULT_PAIRS), help="real pairs folder with blur/ and sharp/ "
                   "(default: ../shared/data/real_pairs/dpdd_dev)")
    p.add_argument("--scale", type=float, default=1.0, help="real pairs: resize both images by this factor first")
    p.add_argument("--real-methods", nargs="+", default=["input", "wiener_oracle", "sd_fast", "sd_balanced"],
                   choices=REAL_METHODS, help="methods of the real-pair benchmark")
    p.add_argument("--images", default=None, help="folder of clean images (default: ../shared/data/dev if present, "
                   "else scikit-image's sample images)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--methods", nargs="+", default=None, help=f"default: all of {', '.join(REGISTRY)}")
    p.add_argument("--radii", type=float, nargs="+", default=[2, 3, 5, 8])
    p.add_argument("--varying", type=float, nargs=2, action="append", metavar=("FG", "BG"), default=None,
                   help="add a spatially varying case: foreground and background radii (repeatable)")
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--poisson-peak", type=float, default=None)
    p.add_argument("--jpeg", type=int, default=None, help="JPEG quality applied to the degraded image")
    p.add_argument("--highlights", type=count, default=0, metavar="N",
                   help="add N specular highlights (2-6x white, clipped by the sensor) to every scene")
    p.add_argument("--sizes", nargs="+", default=["crop"], choices=("crop", "full"),
                   help="centre crops of --crop pixels and/or full images")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--steps", type=int, default=700, help="scoredeblur iterations (the paper: 700)")
    p.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="DnCNN/FFDNet weights folder")
    p.add_argument("--tune", action="store_true", help="re-tune the classical baselines on these cases")
    p.add_argument("--curves", action="store_true", help="record PSNR/SSIM per iteration (Fig. 1 v/w)")
    p.add_argument("--engines", nargs="+", default=["torch-eager"], choices=ENGINES,
                   help="how the network (and loop) run: see scoredeblur.bench.speed")
    p.add_argument("--speed-sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--speed-steps", type=int, default=5, help="iterations timed per speed measurement")
    p.add_argument("--presets", nargs="*", default=None, help="also time whole deblur calls with these presets")
    p.add_argument("--quick", action="store_true", help="a small run that finishes in about 2 minutes on 2 CPUs")
    p.add_argument("--out", default="bench-out")
    p.add_argument("--compare", default=None, help="a previous results.json to diff against")
    p.add_argument("--save-cases", action="store_true", help="write each case's sharp/blurry PNG and PSF json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default=None)
    return p


# Tuned once on the CBSD68 256² crops at radius 3 (scoredeblur-bench quality --tune --methods wiener
# richardson_lucy --radii 3 --limit 20); re-run --tune to re-derive on other data.
TUNED_DEFAULTS = {"wiener_balance": 0.01, "rl_iterations": 20}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.limit = min(args.limit or 2, 2)
        args.radii, args.crop, args.steps = [3], 96, 20
        args.speed_sizes, args.speed_steps = [128], 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"argv": sys.argv[1:] if argv is None else argv, "machine": machine_info(),
                     "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    md = [f"# scoredeblur-bench ({results['time']})", "", f"Machine: {results['machine']}", ""]
    if args.quick:
        md += ["**Quick run** (2 images, 96² crops, radius 3, 20 iterations for the paper's modes): a smoke",
               "test of the whole pipeline. The paper's modes need ~700 iterations; their quick numbers mean nothing.", ""]
    try:
        if args.what in ("quality", "all"):
            md.append(_quality(args, out, results))
        if args.what == "real":
            md.append(_real(args, out, results))
        if args.what in ("speed", "all"):
            speed = run_speed(args.engines, args.speed_sizes, args.speed_steps, args.model, args.device,
                              paper_steps=args.steps, threads=args.threads, out_dir=out)
            if args.presets:
                speed["presets"] = preset_seconds(args.presets, args.speed_sizes, args.model, args.device)
            results["speed"] = speed
            md.append(speed_markdown(speed))
    except (FileNotFoundError, ValueError) as exc:
        print(f"scoredeblur-bench: error: {exc}", file=sys.stderr)
        return 2
    write_json(results, out / "results.json")
    (out / "report.md").write_text("\n".join(md))
    if args.compare:
        diff = compare(results, json.loads(Path(args.compare).read_text()))
        (out / "compare.md").write_text(diff + "\n")
        print(diff)
    print(f"wrote {out / 'results.json'} and {out / 'report.md'}")
    return 0


def _real(args, out: Path, results: dict) -> str:
    pairs = load_pairs(args.pairs, args.limit, args.scale)

    def say(image, method, row):
        print(f"  {image} {method}: {row['gain']:+.2f} dB ({row['seconds']:.1f} s)", file=sys.stderr)

    res = run_real(pairs, args.real_methods, model=args.model, weights_dir=Path(args.weights), device=args.device,
                   seed=args.seed, keep_outputs=True, progress=say)
    results["real"] = {"summary": res["summary"], "rows": res["rows"], "pairs": args.pairs, "scale": args.scale}
    ours = next((m for m in (f"sd_{DEFAULT_PRESET}", "sd_fast", "sd_balanced", "sd_quality") if m in args.real_methods),
                args.real_methods[-1])
    real_crops(pairs, res["outputs"], ours, out / "real_crops.png")
    return real_markdown(res, args.pairs, args.scale, BORDER)


def _quality(args, out: Path, results: dict) -> str:
    images = list_images(args.images)[: args.limit]
    degs = [Degradation(r, None, args.noise, args.poisson_peak, 8, args.jpeg, args.highlights) for r in args.radii]
    degs += [Degradation(None, tuple(v), args.noise, args.poisson_peak, 8, args.jpeg, args.highlights)
             for v in args.varying or []]
    cases = build_cases(images, degs, tuple(args.sizes), seed=args.seed, crop=args.crop)
    if args.save_cases:
        for c in cases:
            save_case(c, out / "cases")
    ctx = Context(model=args.model, weights_dir=Path(args.weights) if args.weights else None, steps=args.steps,
                  seed=args.seed, device=args.device, tuned=dict(TUNED_DEFAULTS), record_curves=args.curves)
    methods, skipped = available(args.methods, ctx)
    for s in skipped:
        print(f"scoredeblur-bench: {s}", file=sys.stderr)
    if args.tune:
        ctx.tuned.update(tune_classical(cases, ctx))
    q = run_quality(cases, methods, ctx, keep_outputs=True)
    results["quality"] = {"summary": q["summary"], "rows": q["rows"], "tuned": ctx.tuned, "skipped": skipped,
                          "cases": [c.params() for c in cases]}
    save_crops(cases, q["outputs"], [m.name for m in methods], out / "crops.png")
    if ctx.curves:
        plot_curves(ctx.curves, out / "curves.png")
        results["quality"]["curves"] = ctx.curves
    return quality_markdown(q["summary"], ctx.tuned, skipped)


if __name__ == "__main__":
    sys.exit(main())
