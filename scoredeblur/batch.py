"""Deblurring many files: output naming, never touching inputs, one failure not stopping the rest,
re-runnable (finished outputs skipped, leftovers of a killed run removed), shardable, reported
per image."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scoredeblur.api import check_arguments, deblur
from scoredeblur.engine.loading import get_model
from scoredeblur.errors import ImageWriteError, InputError
from scoredeblur.io.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    check_writable,
    read_image,
    remove_stale_temporaries,
    write_array,
    write_image,
)
from scoredeblur.io.visual import comparison, radius_map_image
from scoredeblur.progress import disabled

log = logging.getLogger("scoredeblur")


@dataclass
class ImageRecord:
    """One line of the report: what happened to one input."""

    input: str
    output: str
    status: str                     # "written", "skipped" (finished before), "failed"
    error: str | None = None
    radius_min: float | None = None
    radius_max: float | None = None
    noise_std: float | None = None
    nfe: int | None = None
    seconds: float | None = None


@dataclass
class BatchReport:
    records: list[ImageRecord] = field(default_factory=list)

    @property
    def written(self) -> list[Path]:
        return [Path(r.output) for r in self.records if r.status == "written"]

    @property
    def skipped(self) -> list[Path]:
        return [Path(r.output) for r in self.records if r.status == "skipped"]

    @property
    def failed(self) -> list[tuple[Path, str]]:
        return [(Path(r.input), r.error or "") for r in self.records if r.status == "failed"]


def collect_inputs(inputs: list[str | Path], recursive: bool = False) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            pattern = item.rglob("*") if recursive else item.iterdir()
            files += sorted(p for p in pattern if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(item)  # a missing file is reported as that image's failure
    return files


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """"K/N" (1 ≤ K ≤ N) → (K, N)."""
    if spec is None:
        return None
    try:
        k, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise InputError(f"shard must be K/N with whole numbers, e.g. 2/8; got {spec!r}") from None
    if not 1 <= k <= n:
        raise InputError(f"shard {spec!r}: need 1 <= K <= N")
    return k, n


def in_shard(path: Path, shard: tuple[int, int] | None) -> bool:
    """A stable split: by a hash of the file name, so adding files never moves the others. (SHA-256,
    not CRC-32: CRC is linear, so names differing in one character land in the same share.)"""
    if shard is None:
        return True
    digest = int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:8], "big")
    return digest % shard[1] == shard[0] - 1


def plan_outputs(files: list[Path], out: Path) -> list[Path]:
    """``out`` is a file when it names one with an image suffix, else a folder (existing, or a name
    without a suffix). A suffix that is no image format is refused, not taken for a folder."""
    if out.is_dir():
        as_file = False
    elif out.suffix:
        if out.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"-o {out}: {out.suffix!r} is no image format this tool writes "
                             f"({', '.join(sorted(IMAGE_SUFFIXES))}); to write into a new folder whose name "
                             "has a dot, create the folder first")
        as_file = True
    else:
        as_file = False
    if as_file:
        if len(files) != 1:
            raise InputError(f"-o {out} names one file, but there are {len(files)} inputs; name a folder")
        return [out]
    names = [f.name for f in files]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise InputError(f"several inputs share the name(s) {sorted(dupes)}; they would collide in {out}")
    return [out / f.name for f in files]


def plan_job(inputs: list[str | Path], out: str | Path, recursive: bool = False,
             shard: str | None = None) -> list[tuple[Path, Path]]:
    """A job's (input, output) pairs: the files found, this shard's share of them, their output
    names; the output folder is created and cleared of the temporaries an interrupted run left."""
    shard_kn = parse_shard(shard)
    everything = collect_inputs(inputs, recursive)
    if not everything:
        raise InputError("no input images found")
    files = [f for f in everything if in_shard(f, shard_kn)]
    if not files:
        log.info("shard %s holds none of the %d inputs", shard, len(everything))
        return []
    targets = plan_outputs(files, Path(out))
    folder = targets[0].parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"cannot create output folder {folder}: {exc}") from exc
    for stale in remove_stale_temporaries(folder):
        log.info("removed a temporary left by an interrupted run: %s", stale)
    return list(zip(files, targets))


def deblur_files(inputs: list[str | Path], out: str | Path, *, model=None, overwrite: bool = False,
                 recursive: bool = False, max_pixels: int | None = None, progress: bool = True,
                 skip_existing: bool = False, shard: str | None = None, report: str | Path | None = None,
                 save_radius_map: bool = False, save_comparison: bool = False, **options) -> BatchReport:
    """Deblur files and folders of files into ``out`` (a file for one input, else a folder).

    Inputs are never overwritten; outputs are written atomically and exclusively; an image that
    fails is recorded with its reason and the rest go on. ``skip_existing``: an output that exists
    is a finished one (outputs only ever appear whole) and its input is skipped. ``shard`` "K/N":
    only this share of the inputs. ``report``: a JSONL file, one line per input (appended).
    """
    if overwrite and skip_existing:
        raise InputError("overwrite and skip_existing contradict each other; pass one")
    check_arguments(**options)  # a bad setting fails once, before any image, not once per image
    pairs = plan_job(inputs, out, recursive, shard)
    if not pairs:
        return BatchReport()
    files = [src for src, _ in pairs]
    net = get_model(model, options.get("device"))  # a bad model fails once, before any image
    inputs_resolved = {f.resolve() for f in files if f.exists()}
    result = BatchReport()
    log_file = open(report, "a") if report is not None else None
    try:
        for src, dst in tqdm(pairs, disable=disabled(progress) or len(files) < 2, desc="images", unit="image"):
            record = _one(src, dst, net, inputs_resolved, overwrite, skip_existing, max_pixels,
                          progress and len(files) == 1, save_radius_map, save_comparison, options)
            result.records.append(record)
            if record.status == "failed":
                log.error("FAILED %s: %s", src, record.error)
            if log_file is not None:
                log_file.write(json.dumps(asdict(record)) + "\n")
                log_file.flush()
    finally:
        if log_file is not None:
            log_file.close()
    return result


def _one(src: Path, dst: Path, net, inputs_resolved, overwrite, skip_existing, max_pixels, progress,
         save_radius_map, save_comparison, options) -> ImageRecord:
    record = ImageRecord(str(src), str(dst), "failed")
    try:
        if dst.resolve() in inputs_resolved:
            raise ImageWriteError(f"{dst}: is an input; refusing to overwrite inputs")
        if skip_existing and dst.is_file():
            record.status = "skipped"
            return record
        data = read_image(src, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
        channels = data.pixels.shape[2] if data.pixels.ndim == 3 else 1
        check_writable(dst, data.pixels.dtype, channels, overwrite=overwrite)  # before the work
        t0 = time.perf_counter()
        res = deblur(data.pixels, model=net, progress=progress, return_info=True, **options)
        # The side files first and the image last, so that an existing output means the whole set is
        # finished (what skip_existing and a retried cluster task rely on). With skip_existing, a side
        # file an interrupted attempt published is kept: it is whole, and the same result.
        if save_radius_map:
            _side(write_array, _beside(dst, ".radius.npy"), res.radius_map.astype(np.float32), overwrite, skip_existing)
            _side(write_image, _beside(dst, ".radius.png"), radius_map_image(res.radius_map), overwrite, skip_existing)
        if save_comparison:
            _side(write_image, _beside(dst, ".compare.png"), comparison(data.pixels, res.image, res.radius_map),
                  overwrite, skip_existing)
        write_image(dst, res.image, icc_profile=data.icc_profile, exif=data.exif, overwrite=overwrite)
        record.status = "written"
        record.radius_min, record.radius_max = float(res.radius_map.min()), float(res.radius_map.max())
        record.noise_std, record.nfe = res.noise_std, res.nfe
        record.seconds = round(time.perf_counter() - t0, 3)
    except Exception as exc:  # one image's failure, whatever it is, never stops the others
        record.error = str(exc) if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
    return record


def _side(write, path: Path, data, overwrite: bool, keep_existing: bool) -> None:
    if not (keep_existing and path.is_file()):
        write(path, data, overwrite=overwrite)


def _beside(dst: Path, suffix: str) -> Path:
    return dst.with_name(dst.stem + suffix)
