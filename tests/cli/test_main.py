import os
from pathlib import Path

import numpy as np
import pytest

from scoredeblur.cli.main import main
from scoredeblur.io.images import read_image, write_image

FAST = ["--steps", "2", "--tile", "32"]


@pytest.fixture
def images(tmp_path, rng):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        write_image(d / f"img{i}.png", rng.integers(0, 255, (20, 24, 3), dtype=np.uint8))
    return d


def test_folder_in_folder_out(images, tmp_path, tiny_model_path, capsys):
    out = tmp_path / "out"
    assert main(["deblur", str(images), "-o", str(out), "--model", str(tiny_model_path), *FAST]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["img0.png", "img1.png", "img2.png"]
    assert read_image(out / "img0.png").pixels.shape == (20, 24, 3)
    assert "3 written, 0 failed" in capsys.readouterr().out


def test_single_file_to_named_file(images, tmp_path, tiny_model_path):
    out = tmp_path / "result.tif"
    assert main(["deblur", str(images / "img0.png"), "-o", str(out), "--model", str(tiny_model_path), *FAST]) == 0
    assert read_image(out).pixels.dtype == np.uint8


def test_a_bad_image_is_reported_and_the_rest_continue(images, tmp_path, tiny_model_path, capsys):
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    code = main(["deblur", str(images), str(tmp_path / "missing.png"), "-o", str(out),
                 "--model", str(tiny_model_path), *FAST])
    err = capsys.readouterr()
    assert code == 1
    assert "FAILED" in err.err and "broken.png" in err.err and "missing.png: no such file" in err.err
    assert sorted(p.name for p in out.iterdir()) == ["img0.png", "img1.png", "img2.png"]
    assert "3 written, 2 failed" in err.out


def test_refuses_to_overwrite_outputs_and_inputs(images, tmp_path, tiny_model_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    write_image(out / "img1.png", np.zeros((4, 4), np.uint8))
    code = main(["deblur", str(images), "-o", str(out), "--model", str(tiny_model_path), *FAST])
    assert code == 1 and "img1.png: exists" in capsys.readouterr().err
    assert read_image(out / "img1.png").pixels.shape == (4, 4)  # untouched
    before = (images / "img0.png").read_bytes()
    code = main(["deblur", str(images), "-o", str(images), "--model", str(tiny_model_path), "--overwrite", *FAST])
    assert code == 1 and "refusing to overwrite inputs" in capsys.readouterr().err
    assert (images / "img0.png").read_bytes() == before
    code = main(["deblur", str(images), "-o", str(out), "--model", str(tiny_model_path), "--overwrite", *FAST])
    assert code == 0 and read_image(out / "img1.png").pixels.shape == (20, 24, 3)


def test_unwritable_output_folder(images, tmp_path, tiny_model_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permission bits; sysfs refuses new files even to root
            ro = Path("/sys/kernel")
            if not ro.is_dir():
                pytest.skip("running as root and no read-only folder (/sys/kernel) to write into")
        code = main(["deblur", str(images), "-o", str(ro), "--model", str(tiny_model_path), *FAST])
        err = capsys.readouterr().err
        assert code == 1 and err.count("not writable") == 3
    finally:
        os.chmod(tmp_path / "ro", 0o700)


def test_unwritable_output_path_under_a_file(images, tmp_path, tiny_model_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["deblur", str(images), "-o", str(blocker / "sub"), "--model", str(tiny_model_path), *FAST])
    assert code == 2 and "cannot create output folder" in capsys.readouterr().err


def test_bad_checkpoint_fails_before_any_image(images, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    code = main(["deblur", str(images), "-o", str(tmp_path / "o"), "--model", str(bad), *FAST])
    assert code == 2 and "not a readable weights-only checkpoint" in capsys.readouterr().err


def test_train_command_writes_a_resumable_checkpoint(tmp_path, images, capsys):
    run = tmp_path / "run"
    args = ["train", "--data", str(images), "--out", str(run), "--steps", "2", "--batch-size", "2",
            "--patch-size", "16", "--base-channels", "8", "--channel-mults", "1", "2", "--threads", "1"]
    assert main(args) == 0
    assert (run / "checkpoint.pt").exists() and (run / "loss.jsonl").exists()
    assert main(args[:6] + ["4"] + args[7:]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(run)]) == 2
