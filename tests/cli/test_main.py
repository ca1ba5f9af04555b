import os
from pathlib import Path

import numpy as np
import pytest

from scoredeblur.cli.main import main
from scoredeblur.io.images import read_image, write_image

FAST = ["--steps", "2", "--preset", "paper", "--tile", "32"]


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


@pytest.mark.parametrize("name", ["out.xyz", "out.jgp", "x.gif"])
def test_an_unknown_output_suffix_is_refused_not_taken_for_a_folder(images, tmp_path, tiny_model_path, capsys, name):
    code = main(["deblur", str(images / "img0.png"), "-o", str(tmp_path / name), "--model", str(tiny_model_path), *FAST])
    assert code == 2 and "no image format" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("args, match", [
    (["--device", "nope"], "not a device name"),
    (["--noise-std", "nan"], "noise_std must be a finite number"),
    (["--lam", "nan"], "lam must be a finite number"),
    (["--steps", "1000000"], "steps must be in"),
])
def test_bad_arguments_exit_2_with_one_line(images, tmp_path, tiny_model_path, capsys, args, match):
    code = main(["deblur", str(images), "-o", str(tmp_path / "o"), "--model", str(tiny_model_path), "--tile", "32", *args])
    err = capsys.readouterr().err
    assert code == 2 and match in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not any((tmp_path / "o").glob("*.png"))


def test_argument_types_are_checked_by_the_parser(images, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["deblur", str(images), "-o", str(tmp_path / "o"), "--threads", "-1"])
    assert exc.value.code == 2 and "whole number >= 1" in capsys.readouterr().err


def test_an_internal_error_is_distinguishable(images, tmp_path, tiny_model_path, capsys, monkeypatch):
    import scoredeblur.cli.deblur as cli_deblur

    def broken(*a, **k):
        raise KeyError("a bug")

    monkeypatch.setattr(cli_deblur, "deblur_files", broken)
    code = main(["deblur", str(images), "-o", str(tmp_path / "o"), "--model", str(tiny_model_path)])
    err = capsys.readouterr().err
    assert code == 3 and "internal error: KeyError" in err and "Traceback" not in err


def test_a_float_tiff_is_refused_before_the_work_when_the_output_cannot_hold_it(tmp_path, tiny_model_path,
                                                                               capsys, monkeypatch, rng):
    import scoredeblur.batch as batch

    src = write_image(tmp_path / "f.tif", rng.random((20, 24, 3)).astype(np.float32))
    calls = []
    monkeypatch.setattr(batch, "deblur", lambda *a, **k: calls.append(1))
    code = main(["deblur", str(src), "-o", str(tmp_path / "f.png"), "--model", str(tiny_model_path), *FAST])
    assert code == 1 and "only TIFF holds float pixels" in capsys.readouterr().err and not calls


def test_float_tiff_in_float_tiff_out(tmp_path, tiny_model_path, rng):
    src = write_image(tmp_path / "f.tif", rng.random((20, 24, 3)).astype(np.float32))
    assert main(["deblur", str(src), "-o", str(tmp_path / "out.tif"), "--model", str(tiny_model_path), *FAST]) == 0
    assert read_image(tmp_path / "out.tif").pixels.dtype == np.float32


def test_rerun_skips_finished_outputs_and_cleans_leftovers(images, tmp_path, tiny_model_path, capsys):
    import json

    from scoredeblur.io.images import TEMP_MARK

    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    out.mkdir()
    (out / f".img1{TEMP_MARK}.x.png").write_bytes(b"")  # left by a killed run
    base = ["deblur", str(images), "-o", str(out), "--model", str(tiny_model_path), *FAST, "--report", str(report)]
    from scoredeblur.batch import collect_inputs, in_shard

    files = collect_inputs([images])
    shard = next(f"{k}/3" for k in (1, 2, 3) if 0 < sum(in_shard(f, (k, 3)) for f in files) < 3)
    assert main(base + ["--shard", shard]) == 0
    first = sorted(p.name for p in out.iterdir())
    assert not any(TEMP_MARK in n for n in first) and 0 < len(first) < 3
    before = {n: (out / n).stat().st_mtime_ns for n in first}
    capsys.readouterr()
    assert main(base + ["--skip-existing", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped"] == len(first) and summary["written"] == 3 - len(first)
    assert sorted(p.name for p in out.iterdir()) == ["img0.png", "img1.png", "img2.png"]
    assert all((out / n).stat().st_mtime_ns == t for n, t in before.items())  # finished ones untouched
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [r["status"] for r in lines].count("skipped") == len(first)
    assert [r["status"] for r in lines].count("written") == 3
    assert all({"input", "output", "status", "error", "radius_min", "radius_max", "noise_std", "nfe", "seconds"}
               <= set(r) for r in lines)


def test_shards_split_the_inputs_stably_and_completely(images):
    from scoredeblur.batch import collect_inputs, in_shard, parse_shard

    files = collect_inputs([images])
    shares = [[f for f in files if in_shard(f, parse_shard(f"{k}/3"))] for k in (1, 2, 3)]
    assert sorted(sum(shares, [])) == sorted(files)
    with pytest.raises(ValueError, match="K/N"):
        parse_shard("2of3")
    with pytest.raises(ValueError, match="1 <= K <= N"):
        parse_shard("4/3")


def test_json_summary_radius_map_and_comparison_outputs(images, tmp_path, tiny_model_path, capsys):
    import json

    out = tmp_path / "o"
    code = main(["deblur", str(images / "img0.png"), "-o", str(out / "r.png"), "--model", str(tiny_model_path),
                 "--preset", "fast", "--psf-radius", "2", "--tile", "32", "--save-radius-map", "--save-comparison",
                 "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 1 and summary["images"][0]["radius_max"] == 2.0
    rmap = np.load(out / "r.radius.npy")
    assert rmap.shape == (20, 24) and np.all(rmap == 2.0)
    assert read_image(out / "r.radius.png").pixels.shape == (20, 24, 3)
    assert read_image(out / "r.compare.png").pixels.shape == (20, 24 * 3 + 16, 3)
    given = tmp_path / "map.npy"
    np.save(given, np.tile(np.linspace(0.5, 3.0, 24), (20, 1)))
    code = main(["deblur", str(images / "img0.png"), "-o", str(out / "m.png"), "--model", str(tiny_model_path),
                 "--preset", "fast", "--psf-radius-map", str(given), "--tile", "32", "--save-radius-map"])
    assert code == 0 and np.allclose(np.load(out / "m.radius.npy"), np.load(given))


def test_sigterm_stops_cleanly(images, tmp_path, tiny_model_path):
    """A run stopped by SIGTERM (a job scheduler, ``kill``) exits 130 and leaves no temporary."""
    import signal
    import subprocess
    import sys
    import time

    from scoredeblur.io.images import TEMP_MARK

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scoredeblur.cli.main", "-q", "deblur", str(images), "-o", str(out),
           "--model", str(tiny_model_path), "--steps", "5000", "--preset", "paper", "--tile", "32"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not out.exists() and time.time() < deadline:  # the output folder appears once work has begun
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not [p for p in out.iterdir() if TEMP_MARK in p.name]


def test_ensemble_option_reaches_the_sampler_and_is_checked(images, tmp_path, tiny_model_path, capsys):
    import json

    base = ["deblur", str(images / "img0.png"), "--model", str(tiny_model_path), "--preset", "fast",
            "--psf-radius", "2", "--tile", "32", "--json"]
    assert main(base + ["-o", str(tmp_path / "a.png"), "--ensemble", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["images"][0]["nfe"] == 16  # 8 steps × 2 flips
    with pytest.raises(SystemExit) as exc:
        main(base + ["-o", str(tmp_path / "b.png"), "--ensemble", "3"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
