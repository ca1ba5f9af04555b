"""What is in focus comes back as it was, bokeh is kept on request, and ``steps`` alone runs our
predictor-corrector method (not the paper's Eq. 11)."""
import numpy as np
import pytest
import torch

import scoredeblur
from scoredeblur.physics.blind import BOKEH_RADIUS, bokeh_threshold, keep_bokeh_map, make_physics
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.degrade import blur_with_radius_map
from scoredeblur.physics.varying import VaryingDefocusBlur
from scoredeblur.sampling.presets import preset_name, resolve


def _half_blurred(rng, h=64, w=96, radius=3.0):
    sharp = rng.random((h, w, 3)).astype(np.float32)
    rmap = np.zeros((h, w))
    rmap[:, w // 2:] = radius
    y = blur_with_radius_map(torch.from_numpy(sharp).permute(2, 0, 1)[None], rmap)[0].permute(1, 2, 0).numpy()
    return np.clip(y + rng.normal(0, 0.01, y.shape), 0, 1).astype(np.float32), rmap


def test_in_focus_region_comes_back_as_it_was(tiny_model_path, rng):
    y, rmap = _half_blurred(rng)
    res = scoredeblur.deblur(y, model=tiny_model_path, preset="fast", psf_radius=rmap, tile=32, overlap=8,
                             return_info=True)
    assert 0 < res.skipped_tiles < 1
    assert np.array_equal(res.unchanged, rmap == 0)
    left = slice(0, 21)  # only skipped tiles cover it (tiles start at 0, 21, 43, 64)
    np.testing.assert_allclose(res.image[:, left], y[:, left], atol=1e-5)
    assert np.abs(res.image[:, 60:] - y[:, 60:]).mean() > 1e-3  # the blurred half was worked on


def test_an_in_focus_photo_costs_no_network_evaluation(tiny_model_path, rng, monkeypatch):
    img = rng.random((48, 64, 3)).astype(np.float32)
    net = scoredeblur.get_model(tiny_model_path)
    calls = []
    monkeypatch.setattr(type(net), "score", lambda self, x, s: calls.append(1) or torch.zeros_like(x))
    for preset in ("fast", "balanced", "quality"):
        res = scoredeblur.deblur(img, model=net, preset=preset, psf_radius=0.0, tile=32, return_info=True)
        np.testing.assert_allclose(res.image, img, atol=1e-5)
        assert res.skipped_tiles == 1.0 and res.unchanged.all()
    assert not calls
    # Sampling from the prior starts from noise: everything is evaluated, nothing promised unchanged.
    res = scoredeblur.deblur(img, model=net, steps=3, psf_radius=0.0, tile=32, return_info=True)
    assert calls and res.skipped_tiles == 0 and not res.unchanged.any()


def test_uniformly_blurred_photo_is_all_worked_on(tiny_model_path, rng):
    img = rng.random((48, 64, 3)).astype(np.float32)
    res = scoredeblur.deblur(img, model=tiny_model_path, preset="fast", psf_radius=2.0, tile=32, return_info=True)
    assert res.skipped_tiles == 0 and not res.unchanged.any()


def test_bokeh_threshold_follows_the_sharpest_layer():
    assert bokeh_threshold(np.array([[0.0, 6.0]])) == BOKEH_RADIUS
    assert bokeh_threshold(np.array([[2.5, 8.0]])) == 4.0            # 1.5 px over the subject's radius
    kept = keep_bokeh_map(np.array([[0.0, 2.0, 3.5, 6.0]]))
    assert kept.tolist() == [[0.0, 2.0, 0.0, 0.0]]                    # soft subject deblurred, bokeh kept
    uniform = np.full((4, 4), 5.0)
    assert np.array_equal(keep_bokeh_map(uniform), uniform)           # missed focus: no layer is sharper


def test_keep_bokeh_operator(rng):
    _, rmap = _half_blurred(rng, radius=5.0)
    observed = np.zeros(rmap.shape + (3,))
    assert isinstance(make_physics(observed, rmap), VaryingDefocusBlur)
    kept = make_physics(observed, rmap, keep_bokeh=True)
    assert isinstance(kept, DefocusBlur) and kept.radius == 0.0      # all that is blurred is bokeh
    soft = np.where(rmap > 0, 2.5, 0.0)
    assert make_physics(observed, soft, keep_bokeh=True).max_radius == 2.5  # slightly soft: deblurred
    assert make_physics(observed, 4.0, keep_bokeh=True).radius == 4.0   # uniform: missed focus, deblurred


def test_keep_bokeh_leaves_background_blur_as_it_is(tiny_model_path, rng):
    y, rmap = _half_blurred(rng, radius=5.0)
    rmap[:, :8] = 1.0  # a slightly soft subject strip at the left edge
    common = dict(model=tiny_model_path, preset="fast", psf_radius=rmap, tile=32, overlap=8, return_info=True)
    everything = scoredeblur.deblur(y, **common)
    kept = scoredeblur.deblur(y, keep_bokeh=True, **common)
    right = slice(72, None)
    assert np.abs(everything.image[:, right] - y[:, right]).mean() > 1e-3
    np.testing.assert_allclose(kept.image[:, right], y[:, right], atol=1e-5)
    assert kept.unchanged[:, right].all() and not kept.unchanged[:, :8].any()


def test_keep_bokeh_must_be_a_bool(tiny_model_path):
    with pytest.raises(scoredeblur.errors.InputError, match="keep_bokeh must be True or False"):
        scoredeblur.deblur(np.zeros((16, 16), np.float32), model=tiny_model_path, keep_bokeh="yes")


def test_steps_alone_runs_predictor_corrector_with_the_physics():
    assert preset_name(None, 700) == "pc" and preset_name(None, None) == "fast"
    cfg = resolve(None, 700)
    assert cfg.steps == 700 and cfg.corrector and cfg.consistency == "proximal" and cfg.sigma_start is None
    assert resolve("paper", 700).consistency == "paper"  # the source paper's Eq. (11), on request


def test_steps_alone_deblurs_with_the_blur_operator(tiny_model_path, rng):
    img = rng.random((32, 32, 3)).astype(np.float32)
    res = scoredeblur.deblur(img, model=tiny_model_path, steps=3, psf_radius=2.0, return_info=True)
    assert res.preset == "pc" and res.steps == 3 and res.nfe == 5 and res.noise_std is not None
    assert np.array_equal(res.radius_map, np.full((32, 32), 2.0))
