"""Deblurring many files: output naming, never touching inputs, one failure not stopping the rest."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from scoredeblur.api import deblur
from scoredeblur.engine.loading import get_model
from scoredeblur.io.images import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageWriteError, read_image, write_image


@dataclass
class BatchReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def collect_inputs(inputs: list[str | Path], recursive: bool = False) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            pattern = item.rglob("*") if recursive else item.iterdir()
            files += sorted(p for p in pattern if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(item)  # a missing file is reported as that image's failure
    return files


def plan_outputs(files: list[Path], out: Path) -> list[Path]:
    """One input and an output with an image suffix: that file. Otherwise ``out`` is a folder."""
    if len(files) == 1 and out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir():
        return [out]
    names = [f.name for f in files]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"several inputs share the name(s) {sorted(dupes)}; they would collide in {out}")
    return [out / f.name for f in files]


def deblur_files(inputs: list[str | Path], out: str | Path, *, model=None, overwrite: bool = False,
                 recursive: bool = False, max_pixels: int | None = None, progress: bool = True,
                 **options) -> BatchReport:
    files = collect_inputs(inputs, recursive)
    if not files:
        raise ValueError("no input images found")
    out = Path(out)
    targets = plan_outputs(files, out)
    if targets and targets[0].parent == out and not (len(files) == 1 and targets[0] == out):
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImageWriteError(f"cannot create output folder {out}: {exc}") from exc
    net = get_model(model, options.get("device"))  # a bad model fails once, before any image
    inputs_resolved = {f.resolve() for f in files if f.exists()}
    report = BatchReport()
    for src, dst in tqdm(list(zip(files, targets)), disable=not progress or len(files) < 2, desc="images"):
        try:
            if dst.resolve() in inputs_resolved:
                raise ImageWriteError(f"{dst}: is an input; refusing to overwrite inputs")
            if dst.exists() and not overwrite:
                raise ImageWriteError(f"{dst}: exists; pass --overwrite to replace it")
            data = read_image(src, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
            result = deblur(data.pixels, model=net, progress=progress and len(files) == 1, **options)
            report.written.append(write_image(dst, result, icc_profile=data.icc_profile, exif=data.exif,
                                              overwrite=overwrite))
        except (ValueError, OSError, RuntimeError) as exc:
            report.failed.append((src, str(exc)))
    return report
