"""The real-pair benchmark on pairs it can check: sharp images blurred by a known disk."""
import json

import numpy as np
import pytest
import torch

from scoredeblur.bench.oracle import oracle_radius_map, wiener_deblur
from scoredeblur.bench.real import load_pairs, oracle_radius, run_real, score
from scoredeblur.cli.bench import main
from scoredeblur.io.images import write_image
from scoredeblur.physics.degrade import synthesize_defocus


@pytest.fixture
def pairs_dir(tmp_path):
    from skimage import data

    root = tmp_path / "pairs"
    (root / "blur").mkdir(parents=True)
    (root / "sharp").mkdir()
    for i, img in enumerate([data.astronaut(), data.coffee()]):
        sharp = img[100:164, 120:200].astype(np.float64) / 255
        x = torch.from_numpy(sharp).permute(2, 0, 1)[None]
        blur = synthesize_defocus(x, 2.0, 0.005, torch.Generator().manual_seed(i))[0].permute(1, 2, 0).numpy()
        write_image(root / "sharp" / f"p{i}.png", np.round(sharp * 255).astype(np.uint8))
        write_image(root / "blur" / f"p{i}.png", np.round(blur * 255).astype(np.uint8))
    (root / "blur" / "orphan.png").write_bytes((root / "blur" / "p0.png").read_bytes())  # no twin: ignored
    return root


def test_pairs_load_by_name_and_refuse_a_bad_folder(pairs_dir, tmp_path):
    pairs = load_pairs(pairs_dir)
    assert [p.name for p in pairs] == ["p0", "p1"] and pairs[0].blur.shape == (64, 80, 3)
    assert load_pairs(pairs_dir, scale=0.5)[0].blur.shape == (32, 40, 3)
    with pytest.raises(FileNotFoundError, match="blur/ and sharp/"):
        load_pairs(tmp_path)


def test_score_ignores_the_border_and_the_fit_undoes_exposure(pairs_dir):
    pair = load_pairs(pairs_dir)[0]
    one_level = score(np.clip(pair.sharp + 1 / 255, 0, 1), pair.sharp)
    assert 40 < one_level["psnr"] < 50 and one_level["psnr_fitted"] > one_level["psnr"]
    darker = pair.sharp * 0.8 + 0.05
    s = score(darker, pair.sharp)
    assert s["psnr_fitted"] > s["psnr"] + 10


def test_the_oracle_radius_finds_the_true_blur(pairs_dir):
    for pair in load_pairs(pairs_dir):
        r, out = oracle_radius(pair, wiener_deblur, border=4)
        assert abs(r - 2.0) <= 0.5
        assert score(out, pair.sharp, 4)["psnr"] > score(pair.blur, pair.sharp, 4)["psnr"]


def test_the_oracle_map_finds_where_the_blur_is():
    from skimage import data

    sharp = data.coffee()[200:328, 200:328].astype(np.float64) / 255  # textured everywhere
    x = torch.from_numpy(sharp).permute(2, 0, 1)[None]
    blurred = synthesize_defocus(x, 3.0, 0.002, torch.Generator().manual_seed(0))[0].permute(1, 2, 0).numpy()
    photo = sharp.copy()
    photo[:, :64] = blurred[:, :64]  # the left half defocused, the right half in focus
    rmap = oracle_radius_map(photo, sharp, tile=32)
    assert rmap.shape == (128, 128)
    assert np.median(rmap[:, :24]) == pytest.approx(3.0, abs=0.5) and np.median(rmap[:, 104:]) == 0
    with pytest.raises(ValueError, match="at least 32"):
        oracle_radius_map(photo[:16], sharp[:16], tile=32)


def test_run_real_reports_every_method_and_the_cli_writes_reports(pairs_dir, tiny_model_path, tmp_path):
    pairs = load_pairs(pairs_dir)
    res = run_real(pairs, ["input", "wiener_oracle", "sd_fast", "sd_fast_oracle", "sd_fast_oracle_map"],
                   model=tiny_model_path, border=4)
    summary = {s["method"]: s for s in res["summary"]}
    assert summary["input"]["gain_mean"] == 0 and summary["wiener_oracle"]["gain_mean"] > 0
    assert {r["method"] for r in res["rows"]} == set(summary) and len(res["rows"]) == 10
    assert all(r["radius"] == pytest.approx(next(x["radius"] for x in res["rows"] if x["image"] == r["image"]
                                                 and x["method"] == "wiener_oracle"))
               for r in res["rows"] if r["method"] == "sd_fast_oracle")
    assert all(r["radius_max"] > 0 for r in res["rows"] if r["method"] == "sd_fast_oracle_map")
    with pytest.raises(ValueError, match="unknown real-pair method"):
        run_real(pairs, ["nope"])
    out = tmp_path / "bench"
    assert main(["real", "--pairs", str(pairs_dir), "--model", str(tiny_model_path), "--out", str(out),
                 "--real-methods", "input", "wiener_oracle", "sd_fast"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["real"]["rows"]) == 6
    assert "share worse" in (out / "report.md").read_text() and (out / "real_crops.png").is_file()


@pytest.mark.parametrize("method, preset", [("sd_fast_learned", "fast"), ("sd_balanced_learned", "balanced")])
def test_the_learned_methods_run_the_learned_estimator_blind(pairs_dir, tiny_model_path, monkeypatch, method, preset):
    import scoredeblur.bench.real as real

    calls, deblur = [], real.deblur

    def recording(img, **kwargs):
        calls.append(kwargs)
        return deblur(img, **kwargs)
    monkeypatch.setattr(real, "deblur", recording)
    res = run_real(load_pairs(pairs_dir)[:1], [method], model=tiny_model_path, border=4)
    assert [(c["psf_radius"], c["preset"]) for c in calls] == [("learned", preset)]
    assert "noise_std" not in calls[0] and np.isfinite(res["rows"][0]["gain"])
