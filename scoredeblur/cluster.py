"""Deblurring many files on a Ray cluster, or on a local Ray instance: the outputs of
``deblur_files`` (same names, same pixels), made by workers that may die and come back.

Ray Data carries the work. The inputs become a dataset of path rows, one row per block, so that a
block lost for good is one input; a fixed pool of actors each loads the model once and runs the
single-machine per-image code (``batch._one``) on every row it gets; the driver appends each
outcome to the job's manifest as it arrives.

Every output is written exactly once. Outputs are published by an exclusive link of a finished
temporary (``io.images``): a file exists whole or not at all, and a second writer gets an error
instead of replacing it. The driver sends out only the inputs whose output does not exist when the
job starts, so a worker that finds its output already there knows that an earlier attempt of this
job published it (that worker died before its record came back and Ray retried the task) and
records it as skipped.

Ray is an optional dependency (``pip install 'scoredeblur[cluster]'``), imported when a job runs,
so that the rest of the package, its command line included, works (and starts fast) without it.
Inputs, outputs, the manifest and a model file must be paths that every node can reach (a shared
file system); paths are sent to the workers, and recorded, as absolute paths.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import torch

from scoredeblur import arguments
from scoredeblur.api import check_arguments
from scoredeblur.batch import BatchReport, ImageRecord, _one, plan_job
from scoredeblur.engine.loading import get_model
from scoredeblur.errors import BackendUnavailable, CheckpointError, InputError
from scoredeblur.io.images import IMAGE_SUFFIXES

log = logging.getLogger("scoredeblur")

MANIFEST = "manifest.jsonl"
INSTALL_HINT = "pip install 'scoredeblur[cluster]'"
# Arguments of deblur / deblur_files that a cluster job cannot honour: refused with the reason.
REFUSED = {
    "overwrite": "a retried task would write its output a second time; remove the outputs to redo them",
    "report": "the job's manifest (manifest=...) records every input",
    "generator": "one generator's state cannot be shared by separate processes; pass seed",
    "callback": "it would run inside the workers, not in this process",
}
DEBLURRED = "deblurred"
DONE_BEFORE = "the output exists: finished by an earlier run"
DONE_BY_RETRY = "the output was published by an earlier attempt of this job (its worker stopped before reporting)"
_RECORD_FIELDS = {f.name for f in fields(ImageRecord)}


@dataclass(frozen=True)
class _Job:
    """What every worker of a job needs (sent once per worker, not with every image)."""

    model: object                   # an absolute path, a model object, or None (the embedded model)
    device: str
    threads: int
    inputs_resolved: frozenset
    max_pixels: int | None
    save_radius_map: bool
    save_comparison: bool
    options: dict
    image_hook: Callable | None


class DeblurWorker:
    """One Ray actor: loads the model once, then deblurs the rows it is given, one record each."""

    def __init__(self, job: _Job):
        self.job = job
        torch.set_num_threads(self.job.threads)  # the CPUs this actor reserved, not all of the node's
        self.load_error = None
        try:
            self.net = get_model(self.job.model, self.job.device)
        except Exception as exc:
            # An actor whose constructor raises is replaced again and again; failing each of its
            # images with the reason instead ends the job and puts the reason in the manifest.
            self.net, self.load_error = None, f"the worker could not load the model: {type(exc).__name__}: {exc}"

    def __call__(self, batch: dict) -> dict:
        records = [json.dumps(self.image(str(s), str(d))) for s, d in zip(batch["input"], batch["output"])]
        return {"index": batch["index"], "record": records}

    def image(self, src: str, dst: str) -> dict:
        if self.job.image_hook is not None:
            self.job.image_hook(src, None)
        out = Path(dst)
        if out.is_file():
            record, reason = ImageRecord(src, dst, "skipped"), DONE_BY_RETRY
        elif self.load_error is not None:
            record, reason = ImageRecord(src, dst, "failed", self.load_error), self.load_error
        else:
            record = _one(Path(src), out, self.net, self.job.inputs_resolved, False, True, self.job.max_pixels, False,
                          self.job.save_radius_map, self.job.save_comparison, self.job.options)
            reason = DEBLURRED if record.status == "written" else record.error
            if record.status == "failed" and out.is_file() and (record.error or "").startswith(f"{dst}: exists"):
                # Another attempt at this input (a retry of a worker taken for dead) published it first.
                record, reason = ImageRecord(src, dst, "skipped"), DONE_BY_RETRY
        if self.job.image_hook is not None:
            self.job.image_hook(src, record)
        return {**asdict(record), "reason": reason}


def deblur_cluster(inputs: list[str | Path], out: str | Path, *, model=None, address: str | None = None,
                   concurrency: int | None = None, num_cpus_per_actor: int = 1, num_gpus: float = 0,
                   recursive: bool = False, max_pixels: int | None = None, skip_existing: bool = True,
                   shard: str | None = None, manifest: str | Path | None = None, save_radius_map: bool = False,
                   save_comparison: bool = False, max_retries: int = 3, progress: bool = True,
                   image_hook: Callable | None = None, **options) -> BatchReport:
    """Deblur files and folders of files into ``out`` with a pool of Ray actors.

    Connects to the cluster at ``address`` (or ``RAY_ADDRESS``), uses a Ray instance this process
    already started, or else starts a local one on all CPUs (and stops it when done).
    ``concurrency`` actors (default: as many as the cluster holds) each reserve
    ``num_cpus_per_actor`` CPUs (its torch threads) and ``num_gpus`` GPUs; ``device`` defaults to
    ``"cuda"`` when ``num_gpus`` > 0, else ``"cpu"``.

    ``skip_existing`` (on by default): an output that exists is finished (outputs only ever appear
    whole), so re-running the same job resumes it; off, an existing output is a failure. A worker
    that dies is restarted and its image retried up to ``max_retries`` times; an input that fails
    every time is recorded as failed with the reason and the job goes on. The manifest (default
    ``OUT/manifest.jsonl``) gets one JSON line per input and run, appended as outcomes arrive; the
    latest line of an input is its state (``read_manifest``). ``image_hook(input, record)`` runs in
    the worker before each image (record None) and once its outcome is known, before the record is
    returned: a place for instrumentation and fault-injection tests. Other keyword arguments are
    ``deblur``'s.
    """
    refused = sorted(set(options) & set(REFUSED))
    if refused:
        raise InputError(f"deblur_cluster does not take {refused[0]}: {REFUSED[refused[0]]}")
    if concurrency is not None:
        concurrency = arguments.whole("concurrency", concurrency, 1)
    num_cpus_per_actor = arguments.whole("num_cpus_per_actor", num_cpus_per_actor, 1)
    num_gpus = arguments.real("num_gpus", num_gpus, 0.0, 1024.0)
    max_retries = arguments.whole("max_retries", max_retries, 0)
    if image_hook is not None and not callable(image_hook):
        raise InputError(f"image_hook must be callable, got {image_hook!r}")
    device = _device(options.pop("device", None), num_gpus)
    check_arguments(**options)  # the device is the workers' to check: this machine may have no GPU
    ray = _ray()
    if address is not None and ray.is_initialized():
        raise InputError(f"address={address!r}: Ray is already initialised in this process; leave address out")
    if manifest is not None and Path(manifest).suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"manifest {manifest}: a JSON-lines file, not an image; name it .jsonl")
    pairs = plan_job(inputs, out, recursive, shard)
    if not pairs:
        return BatchReport()
    model = _checked_model(model)
    inputs_resolved = frozenset(src.resolve() for src, _ in pairs if src.exists())
    records: list[ImageRecord | None] = [None] * len(pairs)
    todo = []
    with _Manifest(Path(manifest) if manifest is not None else pairs[0][1].parent / MANIFEST) as book:
        for i, (src, dst) in enumerate(pairs):
            record, reason = _before(src, dst, inputs_resolved, skip_existing)
            if record is None:
                todo.append((i, os.path.abspath(src), os.path.abspath(dst)))
            else:
                records[i] = book.add(record, reason)
        log.info("%d inputs: %d to deblur, %d settled before the start", len(pairs), len(todo), len(pairs) - len(todo))
        if todo:
            job = _Job(model, device, num_cpus_per_actor, inputs_resolved, max_pixels, save_radius_map,
                       save_comparison, {**options, "device": device}, image_hook)
            pool = _Pool(concurrency, num_cpus_per_actor, num_gpus, max_retries, progress)
            for i, record, reason in _run(ray, address, job, pool, todo):
                records[i] = book.add(record, reason)
    return BatchReport(records)


def _before(src: Path, dst: Path, inputs_resolved, skip_existing: bool):
    """The outcome of an input that needs no worker (an output that exists), or (None, None)."""
    record = ImageRecord(os.path.abspath(src), os.path.abspath(dst), "failed")
    if dst.resolve() in inputs_resolved:
        record.error = f"{dst}: is an input; refusing to overwrite inputs"
    elif not dst.exists():
        return None, None
    elif skip_existing:
        record.status = "skipped"
        return record, DONE_BEFORE
    else:
        record.error = f"{dst}: exists; refusing to overwrite (with skip_existing, the default, it counts as finished)"
    return record, record.error


def _device(device, num_gpus: float) -> str:
    """The workers' device, decided by what they reserve (this machine may have no GPU at all)."""
    if device is None:
        return "cuda" if num_gpus else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device {device!r} is not a device name (use 'cpu' or 'cuda')") from exc
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device {device!r}: scoredeblur runs on 'cpu' or 'cuda'")
    if dev.type == "cuda" and not num_gpus:
        raise InputError(f"device {device!r} needs num_gpus > 0 (--num-gpus): Ray gives a worker only the GPUs it reserves")
    if dev.type == "cpu" and num_gpus:
        raise InputError(f"num_gpus={num_gpus:g} reserves GPUs that device 'cpu' leaves idle; use device 'cuda'")
    if dev.index is not None and dev.index >= max(1, math.ceil(num_gpus)):
        raise InputError(f"device {device!r}: a worker sees only the GPU(s) Ray assigns it, numbered from 0; use 'cuda'")
    return str(dev)


def _checked_model(model):
    """The model as the workers get it: a path made absolute, after loading it here once, so that a
    bad checkpoint fails before any worker starts. Checkpoints load on the CPU whatever device the
    workers use; ONNX and AOTInductor files are only checked to exist (an engine built for a GPU may
    not load on this machine)."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model  # a model object: pickled to every worker
    if model is not None and Path(model).suffix.lower() in (".onnx", ".pt2"):
        if not Path(model).is_file():
            raise CheckpointError(f"model not found: {model}")
    else:
        get_model(model, "cpu")
    return None if model is None else os.path.abspath(model)


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise BackendUnavailable(f"running on Ray needs Ray Data, which is not installed ({exc}): {INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True)
class _Pool:
    concurrency: int | None
    num_cpus: int
    num_gpus: float
    max_retries: int
    progress: bool


def _run(ray, address: str | None, job: _Job, pool: _Pool, todo: list[tuple[int, str, str]]):
    """Yields (index, record, reason) for every input of ``todo``, as the workers finish them."""
    started = _connect(ray, address)
    context = ray.data.DataContext.get_current()
    saved = context.max_errored_blocks, context.enable_progress_bars
    # Without progress, Ray Data's own progress lines (start, finish of a dataset) are held back too.
    ray_log = logging.getLogger("ray.data")
    ray_level = ray_log.level
    if not pool.progress:
        ray_log.setLevel(logging.ERROR)
    try:
        size = _pool_size(ray, pool, len(todo), started)
        # One row per block: a block that fails for good (its worker died on every attempt) is one
        # input, reported below as failed, and the job goes on instead of stopping.
        context.max_errored_blocks = -1
        context.enable_progress_bars = pool.progress
        rows = [{"index": i, "input": src, "output": dst} for i, src, dst in todo]
        log.info("deblurring %d images on %d Ray workers", len(rows), size)
        data = ray.data.from_items(rows, override_num_blocks=len(rows))
        with warnings.catch_warnings():
            # Ray Data names no parameter for actor restarts and task retries yet; these remote
            # arguments are the documented way to set them, deprecated in favour of one to come.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            data = data.map_batches(
                DeblurWorker, fn_constructor_kwargs={"job": job}, batch_size=1, batch_format="numpy",
                # One task in flight per actor: a crash then takes down (and costs a retry of) only
                # the image that caused it; the work per image dwarfs the round trip.
                compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1),
                num_cpus=pool.num_cpus, num_gpus=pool.num_gpus or None,
                # Restart a dead actor always (a restart follows a crash, and crashes per image are
                # bounded); retry an image whose actor died up to max_retries times, then give it up.
                max_restarts=-1, max_task_retries=pool.max_retries)
        seen = set()
        for row in data.iter_rows():
            values = json.loads(row["record"])
            seen.add(int(row["index"]))
            yield int(row["index"]), ImageRecord(**{k: values[k] for k in _RECORD_FIELDS}), values["reason"]
        for i, src, dst in todo:
            if i not in seen:
                reason = (f"no result after {pool.max_retries + 1} attempt(s): the worker died on this input each time "
                          "(a crash in native code or out of memory) or raised outside the image's own checks; "
                          "the Ray worker logs say which")
                yield i, ImageRecord(src, dst, "failed", reason), reason
    finally:
        context.max_errored_blocks, context.enable_progress_bars = saved
        ray_log.setLevel(ray_level)
        if started:
            ray.shutdown()


def _connect(ray, address: str | None) -> bool:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``) or start a local Ray instance, unless this
    process is connected already; True when this call started Ray (and so stops it after the job)."""
    if ray.is_initialized():
        return False
    if address is None and not os.environ.get("RAY_ADDRESS"):
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING)
    else:
        ray.init(address=address, logging_level=logging.WARNING)
    return True


def _pool_size(ray, pool: _Pool, images: int, local: bool) -> int:
    """The number of actors: ``concurrency``, or as many as the cluster's resources hold now; never
    more than there are images."""
    have = ray.cluster_resources()
    cpus, gpus = have.get("CPU", 0.0), have.get("GPU", 0.0)
    fits = int(cpus // pool.num_cpus)
    if pool.num_gpus:
        fits = min(fits, int(gpus // pool.num_gpus))
    what = f"{pool.num_cpus} CPU(s)" + (f" and {pool.num_gpus:g} GPU(s)" if pool.num_gpus else "")
    if pool.concurrency is None:
        if fits < 1:
            raise InputError(f"the Ray cluster has {cpus:g} CPU(s) and {gpus:g} GPU(s): not enough for one worker of "
                             f"{what}; pass concurrency to wait for an autoscaling cluster to grow")
        return min(fits, images)
    if pool.concurrency > fits:
        message = f"concurrency={pool.concurrency}: the Ray cluster holds {fits} worker(s) of {what} now"
        if local:
            raise InputError(message + " (a local instance does not grow)")
        log.warning("%s; the others start when it grows", message)
    return min(pool.concurrency, images)


class _Manifest:
    """The job's manifest, opened before any work: one JSON line per input and run, appended as the
    outcomes arrive, so that a driver stopped midway leaves the record of everything finished. Each
    line is one write to a file opened for appending, so that concurrent jobs (shards) sharing a
    manifest on a local file system never interleave their lines."""

    def __init__(self, path: Path):
        self.path, self.run = path, f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise InputError(f"manifest {path}: cannot open it for appending ({exc.strerror or exc})") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        os.close(self.fd)

    def add(self, record: ImageRecord, reason: str | None) -> ImageRecord:
        line = {"run": self.run, "input": record.input, "output": record.output, "status": record.status,
                "reason": reason, **asdict(record)}
        os.write(self.fd, (json.dumps(line) + "\n").encode())
        if record.status == "failed":
            log.error("FAILED %s: %s", record.input, reason)
        return record


def read_manifest(path: str | Path) -> dict[str, dict]:
    """Each input's latest line in a manifest (its state after the last run that saw it). A last line
    cut short (a driver killed while writing it) is left out, with a warning."""
    latest: dict[str, dict] = {}
    lines = Path(path).read_text().splitlines()
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            if n == len(lines):
                log.warning("%s: the last line is incomplete (a run stopped while writing it); left out", path)
                continue
            raise InputError(f"{path}:{n}: not a JSON line; is this a scoredeblur manifest?") from None
        latest[line["input"]] = line
    return latest
