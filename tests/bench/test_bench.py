import json

import numpy as np
import pytest

from scoredeblur.bench.cases import Degradation, build_cases
from scoredeblur.bench.methods import REGISTRY, Context
from scoredeblur.bench.metrics import psnr
from scoredeblur.cli.bench import DEFAULT_WEIGHTS, main
from scoredeblur.io.images import write_image


@pytest.fixture
def image_dir(tmp_path):
    from skimage import data

    d = tmp_path / "clean"
    d.mkdir()
    write_image(d / "astronaut.png", data.astronaut()[100:228, 150:278])
    write_image(d / "coffee.png", data.coffee()[100:228, 200:328])
    return d


def test_cases_are_deterministic_and_independent():
    from skimage import data

    imgs = [("a", data.astronaut()), ("c", data.coffee())]
    a = build_cases(imgs, [Degradation(3.0), Degradation(5.0, jpeg_quality=90)], crop=64)
    b = build_cases(imgs[:1], [Degradation(5.0, jpeg_quality=90)], crop=64)
    assert len(a) == 4
    assert np.array_equal(a[1].blurry, b[0].blurry)  # a case does not depend on which others exist
    assert a[0].blurry.shape == (64, 64, 3) and a[0].params()["radius"] == 3.0
    assert not np.array_equal(a[0].blurry, build_cases(imgs[:1], [Degradation(3.0)], crop=64, seed=1)[0].blurry)


def test_registry_has_the_paper_ablation_and_the_peers():
    for name in ["input", "wiener", "unsupervised_wiener", "richardson_lucy", "dncnn", "ffdnet",
                 "pnp_hqs_ffdnet", "sd_predictor", "sd_pc", "sd_paper", "sd_fast", "sd_balanced", "sd_quality"]:
        assert name in REGISTRY


def test_classical_baselines_beat_the_input():
    from skimage import data

    cases = build_cases([("a", data.astronaut())], [Degradation(3.0)], crop=128)
    ctx = Context(tuned={"wiener_balance": 0.01, "rl_iterations": 20})
    c = cases[0]
    base = psnr(c.sharp, c.blurry)
    for m in ("wiener", "richardson_lucy"):
        assert psnr(c.sharp, REGISTRY[m].fn(c.blurry, c, ctx)) > base + 1.0, m


@pytest.mark.skipif(not (DEFAULT_WEIGHTS / "ffdnet_kair").is_dir(), reason="peer weights (../shared/weights) absent")
def test_pnp_hqs_peer_deblurs():
    from skimage import data

    cases = build_cases([("a", data.astronaut())], [Degradation(3.0)], crop=128)
    ctx = Context(weights_dir=DEFAULT_WEIGHTS)
    c = cases[0]
    assert psnr(c.sharp, REGISTRY["pnp_hqs_ffdnet"].fn(c.blurry, c, ctx)) > psnr(c.sharp, c.blurry) + 2.5
    # and the paper's peers, applied directly, barely change the blurry image
    assert abs(psnr(c.sharp, REGISTRY["ffdnet"].fn(c.blurry, c, ctx)) - psnr(c.sharp, c.blurry)) < 1.0


def test_quick_cli_writes_reports_and_compares(image_dir, tmp_path, tiny_model_path, capsys):
    out = tmp_path / "b1"
    args = ["all", "--quick", "--images", str(image_dir), "--model", str(tiny_model_path),
            "--methods", "input", "wiener", "sd_paper", "sd_fast", "bogus", "--weights", str(tmp_path / "none")]
    assert main(args + ["--out", str(out), "--curves"]) == 0
    res = json.loads((out / "results.json").read_text())
    summary = {r["method"]: r for r in res["quality"]["summary"]}
    assert set(summary) == {"input", "wiener", "sd_paper", "sd_fast"}
    assert summary["wiener"]["psnr_mean"] > summary["input"]["psnr_mean"]
    assert any("bogus" in s for s in res["quality"]["skipped"])
    assert res["speed"]["rows"][0]["engine"] == "torch-eager" and res["speed"]["rows"][0]["ms_per_iter"] > 0
    for f in ("report.md", "crops.png", "curves.png"):
        assert (out / f).stat().st_size > 0
    assert "| wiener |" in (out / "report.md").read_text()
    # a second run compared against the first: identical seeds give zero differences
    out2 = tmp_path / "b2"
    assert main(args + ["--out", str(out2), "--compare", str(out / "results.json")]) == 0
    diff = (out2 / "compare.md").read_text()
    assert "+0.00" in diff and "wiener" in diff


def test_bench_reports_a_missing_image_folder(tmp_path, capsys):
    assert main(["quality", "--images", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
