"""``scoredeblur deblur-cluster`` end to end on the local Ray instance."""
import json

import pytest

from scoredeblur.cli.main import main
from scoredeblur.io.images import read_image
from tests.cluster.conftest import photos

pytest.importorskip("ray")

FAST = ["--preset", "fast", "--psf-radius", "2", "--concurrency", "2"]


def test_deblur_cluster_writes_every_output_and_the_manifest(local_ray, tiny_model, tmp_path, capsys):
    photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    assert main(["deblur-cluster", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_model), *FAST]) == 0
    assert "3 written, 0 failed" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["img00.png", "img01.png", "img02.png", "manifest.jsonl"]
    assert read_image(out / "img02.png").pixels.shape == (32, 32, 3)
    lines = [json.loads(t) for t in (out / "manifest.jsonl").read_text().splitlines()]
    assert [line["status"] for line in lines] == ["written"] * 3


def test_deblur_cluster_exits_1_when_an_input_fails(local_ray, tiny_model, tmp_path, capsys):
    photos(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    manifest = tmp_path / "job.jsonl"
    code = main(["-q", "deblur-cluster", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_model),
                 "--manifest", str(manifest), "--json", *FAST])
    captured = capsys.readouterr()
    assert code == 1
    summary = json.loads(captured.out)
    assert (summary["written"], summary["failed"]) == (2, 1)
    assert "FAILED" in captured.err and "broken.png" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["img00.png", "img01.png"]
    failed = [json.loads(t) for t in manifest.read_text().splitlines() if '"failed"' in t]
    assert len(failed) == 1 and failed[0]["reason"].startswith(f"{tmp_path / 'in' / 'broken.png'}: cannot decode image")
