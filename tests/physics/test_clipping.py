"""Clipped highlights are left as they are (unless asked); large clipped regions and unclipped photos are not touched."""
import argparse

import numpy as np
import pytest
import torch

import scoredeblur
from scoredeblur.bench.cases import Degradation, add_highlights, degrade
from scoredeblur.physics.blind import make_physics
from scoredeblur.physics.clipping import (
    REACH_MARGIN,
    clipped_mask,
    guard_highlights,
    highlight_mask,
    without_highlights,
)
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.varying import VaryingDefocusBlur


def _photo_with_spot(h=64, w=96, value=1.0):
    img = np.full((h, w, 3), 0.4)
    img[30:33, 40:43] = value  # white at full scale: clipped
    return img


def test_clipped_mask_is_white_at_full_scale():
    img = _photo_with_spot()
    mask = clipped_mask(img)
    assert mask.sum() == 9 and mask[30:33, 40:43].all()
    img[10:12, 10:12, 0] = 1.0
    assert clipped_mask(img).sum() == 9  # a saturated colour is not a highlight
    assert not clipped_mask(_photo_with_spot(value=0.98)).any()  # bright, but recorded
    assert clipped_mask(np.full((4, 4), 254 / 255)).all()        # 8-bit 254: JPEG's rounding of 255


def test_highlight_mask_reaches_the_blur_radius_around_small_clipped_regions():
    img = _photo_with_spot()
    near = highlight_mask(img, 3.0)
    yy, xx = np.mgrid[0:64, 0:96]
    dist = np.hypot(np.clip(yy, 30, 32) - yy, np.clip(xx, 40, 42) - xx)  # distance to the 3×3 spot
    assert near[dist <= 3.0 + REACH_MARGIN - 0.5].all()
    assert not near[dist > 3.0 + REACH_MARGIN + 0.5].any()
    assert not highlight_mask(img, 0.0).any()  # no blur: nothing to protect


def test_a_white_reached_only_by_the_noise_is_not_a_highlight():
    img = np.full((64, 96, 3), 0.4)
    yy, xx = np.mgrid[0:20, 0:20]
    speckle = (yy + 2 * xx) % 3 != 0  # two pixels in three clipped, as noise does to a white at 1.0
    img[10:30, 10:30][speckle] = 1.0
    assert clipped_mask(img).sum() > 150
    assert not highlight_mask(img, 3.0).any()
    img[10:30, 10:30] = 0.4
    img[15:25, 15:25] = 1.0  # solidly clipped: a highlight
    assert highlight_mask(img, 3.0)[20, 20]


def test_a_large_clipped_region_is_not_a_highlight():
    page = np.full((64, 96, 3), 1.0)  # a scanned page's white, with dark text strokes
    page[20:24, 10:80] = 0.1
    assert clipped_mask(page).mean() > 0.9
    assert not highlight_mask(page, 3.0).any()


def test_guard_highlights_sets_radius_zero_around_them_only():
    img = _photo_with_spot()
    guarded = guard_highlights(DefocusBlur(3.0), img)
    assert isinstance(guarded, VaryingDefocusBlur) and guarded.max_radius == 3.0
    rmap = guarded.radius_map.numpy()
    near = highlight_mask(img, 3.0)
    assert (rmap[near] == 0).all() and (rmap[~near] == 3.0).all()
    varying = VaryingDefocusBlur(np.linspace(1.0, 4.0, 96)[None].repeat(64, 0))
    kept = guard_highlights(varying, img).radius_map.numpy()
    np.testing.assert_allclose(kept[~highlight_mask(img, 4.0)], varying.radius_map.numpy()[~highlight_mask(img, 4.0)])


def test_guard_highlights_returns_the_operator_itself_when_there_is_nothing_to_keep():
    plain = DefocusBlur(3.0)
    assert guard_highlights(plain, _photo_with_spot(value=0.9)) is plain
    sharp = DefocusBlur(0.0)
    assert guard_highlights(sharp, _photo_with_spot()) is sharp
    assert guard_highlights(None, _photo_with_spot()) is None


def test_synthetic_highlights_are_clipped_by_the_sensor():
    sharp = np.full((64, 64, 3), 0.3)
    scene = add_highlights(sharp, 3, np.random.default_rng(0))
    assert scene.max() > 2.0 and (scene >= sharp).all()
    blurry, _, shown = degrade(sharp, Degradation(4.0, noise=0.0, highlights=3), seed=1)
    assert shown.max() == 1.0 and blurry.max() == 1.0 and clipped_mask(blurry).any()
    assert Degradation(4.0, highlights=3).label.endswith("_hl3")


@pytest.mark.parametrize("keep", [True, False])
def test_deblur_leaves_the_highlight_as_it_was_unless_asked(tiny_model_path, keep):
    sharp = np.random.default_rng(0).random((64, 96, 3)) * 0.6
    blurry, _, _ = degrade(sharp, Degradation(3.0, highlights=2), seed=3)
    y = blurry.astype(np.float32)
    res = scoredeblur.deblur(y, model=tiny_model_path, psf_radius=3.0, tile=32, overlap=8, keep_highlights=keep,
                             return_info=True)
    near = highlight_mask(y, 3.0)
    assert near.any() and not near.all()
    assert np.array_equal(res.radius_map == 0, near if keep else np.zeros_like(near))
    change = np.abs(res.image - y).max(axis=-1)
    assert np.abs(res.image - y).mean() > 1e-3  # the rest was deblurred either way
    if keep:
        assert change[near].max() < 0.05 * change[~near].max()
    else:
        assert change[near].mean() > 1e-3


def test_keep_highlights_must_be_a_bool(tiny_model_path):
    with pytest.raises(scoredeblur.errors.InputError, match="keep_highlights must be True or False"):
        scoredeblur.deblur(np.zeros((16, 16), np.float32), model=tiny_model_path, keep_highlights=1)


def test_cli_deblurs_highlights_on_request():
    from scoredeblur.cli.deblur import add_image_options, image_options

    p = argparse.ArgumentParser()
    add_image_options(p)
    p.add_argument("--device", default=None)  # added by the command itself, beside its other options
    files = ["in.png", "-o", "out"]
    assert image_options(p.parse_args(files))["keep_highlights"] is True
    assert image_options(p.parse_args([*files, "--deblur-highlights"]))["keep_highlights"] is False


def test_tensor_input_keeps_highlights_too(tiny_model_path):
    blurry, _, _ = degrade(np.full((48, 48, 3), 0.3), Degradation(3.0, highlights=1), seed=5)
    t = torch.from_numpy(blurry.astype(np.float32)).permute(2, 0, 1)
    out = scoredeblur.deblur(t, model=tiny_model_path, psf_radius=3.0, tile=32, overlap=8)
    assert isinstance(out, torch.Tensor) and out.shape == t.shape


def test_without_highlights_fills_only_their_reach():
    img = _photo_with_spot()
    img[:, :20] = 0.2
    filled = without_highlights(img, 3.0)
    near = highlight_mask(img, 3.0)
    assert not clipped_mask(filled).any()
    np.testing.assert_array_equal(filled[~near], img[~near])
    np.testing.assert_allclose(filled[near], 0.4, atol=2e-3)  # its surroundings (the 0.2 strip is 3σ away)
    plain = np.full((8, 8, 3), 0.5)
    assert without_highlights(plain, 3.0) is plain


def test_the_blind_estimate_is_not_misled_by_highlights():
    sharp = np.random.default_rng(1).random((256, 256, 3)) * 0.7
    from scipy.ndimage import gaussian_filter

    sharp = gaussian_filter(sharp, (1.0, 1.0, 0))  # some correlation, as photos have
    blurry, _, _ = degrade(sharp, Degradation(3.0, highlights=8), seed=2)
    physics = make_physics(blurry, keep_highlights=True)
    assert abs(physics.max_radius - 3.0) <= 0.5
    assert np.array_equal(physics.radius_map.numpy() == 0, highlight_mask(blurry, physics.max_radius))
    assert isinstance(make_physics(blurry, keep_highlights=False), DefocusBlur)
    assert np.array_equal(make_physics(blurry).radius_map, physics.radius_map)  # the default


def test_bench_refuses_a_negative_highlight_count(capsys):
    from scoredeblur.cli.bench import build_parser

    assert build_parser().parse_args(["quality", "--highlights", "3"]).highlights == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["quality", "--highlights", "-1"])
    assert "expected a whole number >= 0" in capsys.readouterr().err
