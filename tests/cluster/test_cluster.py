"""deblur_cluster on a local Ray instance: the single-machine result, exactly once through worker
crashes, poison inputs reported, a re-run that writes nothing."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from scoredeblur.batch import deblur_files
from scoredeblur.io.images import TEMP_MARK, read_image
from tests.cluster.conftest import FAST, photos

pytest.importorskip("ray")

from scoredeblur.cluster import DONE_BEFORE, DONE_BY_RETRY, deblur_cluster, read_manifest  # noqa: E402


class Crash:
    """Faults injected through ``image_hook``, each killing the worker process: ``poison`` inputs
    before any work, every time (a decoder that segfaults); ``once`` inputs right after their output
    is published, the first time only (a marker file outlives the process). Every attempt's
    outcome is logged, one line each."""

    def __init__(self, folder: Path, once=(), poison=()):
        self.folder, self.once, self.poison = folder, set(once), set(poison)

    def __call__(self, src, record):
        name = Path(src).name
        if record is None:
            if name in self.poison:
                os._exit(1)
            return
        line = json.dumps({"input": name, "status": record.status, "pid": os.getpid()}) + "\n"
        fd = os.open(self.folder / "attempts.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, line.encode())
        os.close(fd)
        marker = self.folder / f"crashed-{name}"
        if name in self.once and not marker.exists():
            marker.touch()
            os._exit(1)

    def attempts(self) -> list[dict]:
        return [json.loads(t) for t in (self.folder / "attempts.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def first_job(local_ray, tiny_model, tmp_path_factory):
    """Twelve photos through the cluster once (shared by the tests that read its outputs)."""
    root = tmp_path_factory.mktemp("job")
    photos(root / "in", 12)
    report = deblur_cluster([root / "in"], root / "out", model=tiny_model, concurrency=2, progress=False, **FAST)
    return root, report, (root / "out" / "manifest.jsonl").read_text()


def test_a_cluster_run_equals_the_single_machine_run(first_job, tiny_model):
    root, report, manifest = first_job
    names = sorted(p.name for p in (root / "in").iterdir())
    assert [r.status for r in report.records] == ["written"] * 12
    assert sorted(p.name for p in (root / "out").iterdir()) == sorted(names + ["manifest.jsonl"])
    # The workers run one torch thread each (num_cpus_per_actor=1); so does the reference here.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = deblur_files([root / "in"], root / "single", model=tiny_model, progress=False, **FAST)
    finally:
        torch.set_num_threads(threads)
    assert [r.status for r in single.records] == ["written"] * 12
    for name in names:
        ours, theirs = read_image(root / "out" / name).pixels, read_image(root / "single" / name).pixels
        assert ours.shape == (32, 32, 3) and ours.dtype == np.uint8
        assert np.array_equal(ours, theirs), name
    lines = [json.loads(t) for t in manifest.splitlines()]
    assert sorted(Path(line["input"]).name for line in lines) == names
    assert {(line["status"], line["reason"]) for line in lines} == {("written", "deblurred")}
    assert len({line["run"] for line in lines}) == 1


def test_a_second_run_writes_nothing_new(first_job, tiny_model):
    root, _, _ = first_job
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (root / "out").glob("*.png")}
    report = deblur_cluster([root / "in"], root / "out", model=tiny_model, progress=False, **FAST)
    assert [r.status for r in report.records] == ["skipped"] * 12
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (root / "out").glob("*.png")} == before
    latest = read_manifest(root / "out" / "manifest.jsonl")
    assert len(latest) == 12
    assert {(v["status"], v["reason"]) for v in latest.values()} == {("skipped", DONE_BEFORE)}
    assert len((root / "out" / "manifest.jsonl").read_text().splitlines()) == 24  # appended, one line per input and run


def test_crashes_are_retried_poison_is_reported_and_every_output_is_written_once(local_ray, tiny_model, tmp_path):
    photos(tmp_path / "in", 6)
    (tmp_path / "in" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png after all")
    out = tmp_path / "out"
    out.mkdir()
    (out / f".img00{TEMP_MARK}.abc.png").write_bytes(b"half an image")  # left by a killed run
    crash = Crash(tmp_path, once={"img01.png"}, poison={"img02.png"})
    report = deblur_cluster([tmp_path / "in"], out, model=tiny_model, concurrency=2, max_retries=1, progress=False,
                            image_hook=crash, **FAST)
    status = {Path(r.input).name: r.status for r in report.records}
    assert status == {"corrupt.png": "failed", "img00.png": "written", "img01.png": "skipped", "img02.png": "failed",
                      "img03.png": "written", "img04.png": "written", "img05.png": "written"}
    latest = {Path(k).name: v for k, v in read_manifest(out / "manifest.jsonl").items()}
    assert set(latest) == set(status)
    assert latest["corrupt.png"]["reason"].endswith("corrupt.png: not a recognised image format")
    assert latest["img01.png"]["reason"] == DONE_BY_RETRY
    assert latest["img02.png"]["reason"].startswith("no result after 2 attempt(s): the worker died")
    # Exactly once: one attempt published each output (the crash-once input's retry found it done).
    attempts = crash.attempts()
    written = sorted(a["input"] for a in attempts if a["status"] == "written")
    assert written == ["img00.png", "img01.png", "img03.png", "img04.png", "img05.png"]
    assert [a["status"] for a in attempts if a["input"] == "img01.png"] == ["written", "skipped"]
    assert not [a for a in attempts if a["input"] == "img02.png"]
    # Whole images only, and no temporaries (the stale one removed at the start, none left behind).
    assert sorted(p.name for p in out.iterdir()) == ["img00.png", "img01.png", "img03.png", "img04.png",
                                                     "img05.png", "manifest.jsonl"]
    for p in out.glob("*.png"):
        assert read_image(p).pixels.shape == (32, 32, 3)


def test_without_skip_existing_an_existing_output_is_a_failure_and_stays(tiny_model, tmp_path):
    photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    for p in (tmp_path / "in").iterdir():
        (out / p.name).write_bytes(b"an earlier result")
    report = deblur_cluster([tmp_path / "in"], out, model=tiny_model, skip_existing=False, progress=False, **FAST)
    assert [r.status for r in report.records] == ["failed", "failed"]
    assert all("exists; refusing to overwrite" in r.error for r in report.records)
    assert {p.read_bytes() for p in out.glob("*.png")} == {b"an earlier result"}
    assert {v["status"] for v in read_manifest(out / "manifest.jsonl").values()} == {"failed"}


def test_read_manifest_keeps_each_inputs_latest_line_and_drops_a_cut_last_line(tmp_path):
    path = tmp_path / "manifest.jsonl"
    lines = [{"run": "a", "input": "/x.png", "status": "failed"}, {"run": "a", "input": "/y.png", "status": "written"},
             {"run": "b", "input": "/x.png", "status": "written"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"run": "c", "input": "/y.p')
    latest = read_manifest(path)
    assert {k: v["run"] for k, v in latest.items()} == {"/x.png": "b", "/y.png": "a"}
