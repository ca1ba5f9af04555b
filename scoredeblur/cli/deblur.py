"""``scoredeblur deblur``: files and folders of photos. The options every deblurring command shares
(``deblur``, ``deblur-cluster``) are defined here once."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import numpy as np
import torch

from scoredeblur.batch import BatchReport, deblur_files
from scoredeblur.cli.common import positive_int
from scoredeblur.errors import InputError
from scoredeblur.kernels.registry import KERNELS
from scoredeblur.loops import LOOPS
from scoredeblur.physics.blind import MODES
from scoredeblur.sampling.config import ENSEMBLE_SIZES
from scoredeblur.sampling.presets import DEFAULT_PRESET, PRESETS


def add_image_options(p: argparse.ArgumentParser) -> None:
    """Inputs, output, model and sampler settings: what decides the pixels of every output."""
    p.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    p.add_argument("-o", "--out", required=True,
                   help="output file (one input) or folder (created if needed); outputs keep input names")
    p.add_argument("--model", default=None,
                   help="checkpoint from `scoredeblur train`, .onnx or .pt2 (default: the embedded model, learned "
                        "from BSDS500 images: research and educational terms, see docs/MODEL_CARD.md)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help=f"sampler settings (default: {DEFAULT_PRESET}; with --steps alone: pc)")
    p.add_argument("--steps", type=positive_int, default=None, help="sampling iterations (alone: the pc preset, e.g. 700)")
    p.add_argument("--psf-radius", default=None,
                   help="defocus radius in pixels, or 'local' (default: per-tile estimate), 'global', 'learned' "
                        "(per-pixel learned map; deconvolves bokeh backgrounds too) or 'layers' (a sharp subject over one "
                        "blurred background, from edges)")
    p.add_argument("--keep-bokeh", action="store_true",
                   help="leave background blur as it is: deblur only the sharpest layer and slightly soft regions "
                        "(default: everything in focus)")
    p.add_argument("--deblur-highlights", action="store_true",
                   help="deblur clipped highlights (lamps, glints) with the rest; by default they and the pixels "
                        "within the blur's reach of them are left as they are, since deconvolving light the "
                        "sensor clipped rings around them")
    p.add_argument("--noise-std", type=float, default=None, help="photo noise σ in [0, 1] units (default: estimated)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snr", type=float, default=None, help="Langevin corrector signal-to-noise ratio")
    p.add_argument("--alpha", type=float, default=None, help="step of the paper/gradient consistency")
    p.add_argument("--lam", type=float, default=None, help="prior weight of the proximal consistency")
    p.add_argument("--corrector", action=argparse.BooleanOptionalAction, default=None,
                   help="Langevin corrector on/off (the paper's ablation)")
    p.add_argument("--consistency", choices=("paper", "gradient", "proximal", "none"), default=None)
    p.add_argument("--predictor", choices=("reverse_diffusion", "ddim", "hqs"), default=None)
    p.add_argument("--sigma-start", type=float, default=None,
                   help="start late from the blurry image at this σ (CCDF) instead of from the prior")
    p.add_argument("--ensemble", type=int, choices=ENSEMBLE_SIZES, default=None,
                   help="average the denoiser over this many flips of its input (each one network evaluation)")
    p.add_argument("--tile", type=positive_int, default=256,
                   help="largest square processed in one pass (512: ≈2.5× faster on 481×321, 0.2–0.4 dB lower)")
    p.add_argument("--overlap", type=int, default=None,
                   help="tile overlap in pixels (default: tile/32; the tile grid moves at every step)")
    p.add_argument("--tile-batch", type=positive_int, default=None,
                   help="tiles per network call (default: 1 on a CPU, 4 on a GPU)")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders of input folders")
    p.add_argument("--max-pixels", type=positive_int, default=None, help="refuse larger images (bomb guard)")
    p.add_argument("--loop", choices=LOOPS, default="python",
                   help="python: the reference loop (default); cpp: the whole loop in C++ (whole image, CPU)")
    p.add_argument("--kernel", choices=KERNELS, default=None,
                   help="fuse every element-wise update of the Python loop into one kernel of this kind")


def add_extra_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--save-radius-map", action="store_true",
                   help="also write NAME.radius.npy (px) and NAME.radius.png (colour, black 0 px to pale yellow 8 px)")
    p.add_argument("--save-comparison", action="store_true", help="also write NAME.compare.png: input | output | radius map")
    p.add_argument("--shard", metavar="K/N", default=None, help="process only the K-th of N stable shares of the inputs")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout instead of the text one")


def add_deblur(sub) -> None:
    p = sub.add_parser("deblur", help="deblur image files or folders of images")
    add_image_options(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs are never replaced)")
    p.add_argument("--psf-radius-map", metavar="FILE.npy", default=None,
                   help="an H×W radius map in px (as --save-radius-map writes); one input only")
    add_extra_outputs(p)
    p.add_argument("--skip-existing", action="store_true",
                   help="skip inputs whose output exists (outputs only ever appear whole): re-run a stopped job")
    p.add_argument("--report", metavar="FILE.jsonl", default=None,
                   help="append one JSON line per input: input, output, status, error, radius range, noise, NFE, seconds")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: all)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when present)")
    p.set_defaults(func=_run_deblur)


def _psf_radius(args):
    radius_map = getattr(args, "psf_radius_map", None)  # ``deblur`` only: a map belongs to one image
    if radius_map is not None:
        if args.psf_radius is not None:
            raise InputError("pass --psf-radius or --psf-radius-map, not both")
        try:
            return np.load(radius_map, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"--psf-radius-map {radius_map}: not a readable .npy array ({exc})") from None
    radius = args.psf_radius
    if radius is None or radius in MODES:
        return radius
    try:
        return float(radius)
    except ValueError:
        raise InputError(f"--psf-radius must be a number or one of {MODES}, not {radius!r}") from None


def image_options(args) -> dict:
    """The ``deblur`` keyword arguments that ``add_image_options`` and ``--device`` collected."""
    options = dict(steps=args.steps, preset=args.preset, seed=args.seed, psf_radius=_psf_radius(args),
                   noise_std=args.noise_std, tile=args.tile, overlap=args.overlap,
                   tile_batch=args.tile_batch, device=args.device, loop=args.loop, kernel=args.kernel,
                   keep_bokeh=args.keep_bokeh, keep_highlights=not args.deblur_highlights)
    sampler = dict(snr=args.snr, alpha=args.alpha, lam=args.lam, corrector=args.corrector,
                   predictor=args.predictor, sigma_start=args.sigma_start, ensemble=args.ensemble)
    options.update({k: v for k, v in sampler.items() if v is not None})
    if args.consistency is not None:  # "none" switches the step off
        options["consistency"] = None if args.consistency == "none" else args.consistency
    return options


def print_summary(report: BatchReport, as_json: bool) -> int:
    """The summary on stdout; the exit status (1 when any image failed)."""
    counts = {"written": len(report.written), "skipped": len(report.skipped), "failed": len(report.failed)}
    if as_json:
        print(json.dumps({**counts, "images": [asdict(r) for r in report.records]}, indent=1))
    else:
        skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
        print(f"{counts['written']} written, {counts['failed']} failed{skipped}")
    return 1 if report.failed else 0


def _run_deblur(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    options = image_options(args)
    if args.psf_radius_map is not None and len(args.inputs) != 1:
        raise InputError("--psf-radius-map belongs to one image; pass one input")
    report = deblur_files(args.inputs, args.out, model=args.model, overwrite=args.overwrite,
                          recursive=args.recursive, max_pixels=args.max_pixels, progress=not args.quiet,
                          skip_existing=args.skip_existing, shard=args.shard, report=args.report,
                          save_radius_map=args.save_radius_map, save_comparison=args.save_comparison, **options)
    return print_summary(report, args.json)
