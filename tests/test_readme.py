"""The README's promises, run as written: setup / main job / tests, on the embedded default model."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

from scoredeblur.bench.metrics import psnr, ssim
from scoredeblur.io.images import read_image

ROOT = Path(__file__).resolve().parents[1]


def _quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_has_setup_main_job_and_tests():
    setup, job, tests = _quick_start()
    assert setup == "./setup.sh" and (ROOT / "setup.sh").exists()
    assert job.startswith(".venv/bin/scoredeblur deblur ") and "--model" not in job
    assert tests == ".venv/bin/python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "setup.sh" in ci and tests in ci


def test_readme_main_job_deblurs_with_the_embedded_model(tmp_path):
    _, job, _ = _quick_start()
    args = shlex.split(job)
    out = tmp_path / "out.png"
    args[args.index("-o") + 1] = str(out)
    cmd = [sys.executable, "-m", "scoredeblur.cli.main"] + args[1:]  # the same entry point as .venv/bin/scoredeblur
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sharp = read_image(ROOT / "docs/examples/sharp.png").pixels / 255
    blurry = read_image(ROOT / "docs/examples/defocused.png").pixels / 255
    result = read_image(out).pixels / 255
    assert result.shape == blurry.shape
    assert psnr(sharp, result) > psnr(sharp, blurry) + 2.0
    assert ssim(sharp, result) > ssim(sharp, blurry)


def test_embedded_model_checksum_is_verified(tmp_path, monkeypatch):
    import pytest

    import scoredeblur.models.weights as models
    from scoredeblur.errors import CheckpointError

    bad = tmp_path / "default.pt"
    bad.write_bytes(Path(str(models.default_model_path())).read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CheckpointError, match="fails its checksum"):
        models.verify_checksum(bad)
    models.verify_checksum(Path(str(models.default_model_path())))  # the shipped file passes
