"""``scoredeblur deblur-cluster``: files and folders of photos on a Ray cluster (or a local Ray
instance), resumable, with a manifest of every input's outcome."""
from __future__ import annotations

import argparse
import math

from scoredeblur.cli.common import positive_int
from scoredeblur.cli.deblur import add_extra_outputs, add_image_options, image_options, print_summary
from scoredeblur.cluster import INSTALL_HINT, MANIFEST, deblur_cluster


def _gpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def add_deblur_cluster(sub) -> None:
    p = sub.add_parser("deblur-cluster", help=f"deblur image files or folders on a Ray cluster (needs {INSTALL_HINT})",
                       description="Deblur on a Ray cluster: connects to --address, else starts a local Ray instance. "
                                   "Inputs, outputs and the model must be paths every node can reach.")
    add_image_options(p)
    add_extra_outputs(p)
    p.add_argument("--address", default=None,
                   help="the Ray cluster to join: auto (the one `ray start` made here), HOST:6379 or ray://HOST:10001 "
                        "(default: RAY_ADDRESS, else a local instance on all CPUs)")
    p.add_argument("--concurrency", type=positive_int, default=None,
                   help="number of workers (Ray actors), each loading the model once (default: as many as fit)")
    p.add_argument("--num-cpus-per-actor", type=positive_int, default=1,
                   help="CPUs each worker reserves, and its torch threads (default: 1)")
    p.add_argument("--num-gpus", type=_gpus, default=0,
                   help="GPUs each worker reserves, e.g. 1, or 0.5 for two workers per GPU (default: 0)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda with --num-gpus, else cpu)")
    p.add_argument("--manifest", metavar="FILE.jsonl", default=None,
                   help=f"where each input's outcome is appended (default: OUT/{MANIFEST})")
    p.add_argument("--no-skip-existing", dest="skip_existing", action="store_false",
                   help="count an existing output as a failure instead of a finished image (default: skip it, which "
                        "is how a stopped job resumes)")
    p.add_argument("--max-retries", type=int, default=3,
                   help="times an image is retried after its worker died (default: 3); then it is reported failed")
    p.set_defaults(func=_run_deblur_cluster)


def _run_deblur_cluster(args) -> int:
    report = deblur_cluster(args.inputs, args.out, model=args.model, address=args.address,
                            concurrency=args.concurrency, num_cpus_per_actor=args.num_cpus_per_actor,
                            num_gpus=args.num_gpus, recursive=args.recursive, max_pixels=args.max_pixels,
                            skip_existing=args.skip_existing, shard=args.shard, manifest=args.manifest,
                            save_radius_map=args.save_radius_map, save_comparison=args.save_comparison,
                            max_retries=args.max_retries, progress=not args.quiet, **image_options(args))
    return print_summary(report, args.json)
