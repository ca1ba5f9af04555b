import numpy as np
import pytest
import torch
from PIL import Image

import scoredeblur
from scoredeblur.config import NetConfig
from scoredeblur.errors import CheckpointError
from scoredeblur.io.images import write_image
from scoredeblur.sampling.tiling import TiledScore

from .conftest import tiny_checkpoint

FAST = dict(steps=3, preset="paper", tile=32, overlap=8)


def test_numpy_kinds_dtypes_and_alpha(tiny_model_path, rng):
    for shape in [(20, 24), (20, 24, 1), (20, 24, 3), (20, 24, 4), (20, 24, 2)]:
        for dtype in (np.uint8, np.uint16, np.float32, np.float64):
            if np.issubdtype(dtype, np.integer):
                img = rng.integers(0, np.iinfo(dtype).max, size=shape).astype(dtype)
            else:
                img = rng.random(shape).astype(dtype)
            out = scoredeblur.deblur(img, model=tiny_model_path, **FAST)
            assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == img.shape
            if shape[-1] in (2, 4) and len(shape) == 3:
                assert np.array_equal(out[..., -1], img[..., -1])  # alpha untouched
            assert out.min() >= 0 and (np.issubdtype(dtype, np.integer) or out.max() <= 1)


def test_pil_torch_and_path_inputs(tiny_model_path, tmp_path, rng):
    arr = rng.integers(0, 255, size=(20, 24, 3), dtype=np.uint8)
    out = scoredeblur.deblur(Image.fromarray(arr), model=tiny_model_path, **FAST)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (24, 20)
    la = scoredeblur.deblur(Image.fromarray(arr[..., 0]).convert("LA"), model=tiny_model_path, **FAST)
    assert la.mode == "LA"
    g16 = Image.fromarray((arr[..., 0].astype(np.uint16) * 257))
    assert scoredeblur.deblur(g16, model=tiny_model_path, **FAST).mode in ("I;16", "I")
    t = torch.rand(3, 20, 24)
    ot = scoredeblur.deblur(t, model=tiny_model_path, **FAST)
    assert isinstance(ot, torch.Tensor) and ot.shape == t.shape and ot.dtype == t.dtype
    t8 = (t * 255).to(torch.uint8)[None]
    assert scoredeblur.deblur(t8, model=tiny_model_path, **FAST).dtype == torch.uint8
    p = write_image(tmp_path / "in.png", arr)
    op = scoredeblur.deblur(p, model=tiny_model_path, **FAST)
    assert isinstance(op, np.ndarray) and op.shape == arr.shape and op.dtype == np.uint8


def test_seed_controls_the_result(tiny_model_path, rng):
    img = rng.random((24, 24, 3)).astype(np.float32)
    a = scoredeblur.deblur(img, model=tiny_model_path, seed=1, **FAST)
    b = scoredeblur.deblur(img, model=tiny_model_path, seed=1, **FAST)
    c = scoredeblur.deblur(img, model=tiny_model_path, seed=2, **FAST)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    g = torch.Generator().manual_seed(1)
    d = scoredeblur.deblur(img, model=tiny_model_path, generator=g, **FAST)
    assert np.array_equal(a, d)


def test_grey_model_on_rgb_and_rgb_model_on_grey(tmp_path, rng):
    grey_model = tiny_checkpoint(tmp_path / "g.pt", NetConfig(in_channels=1, base_channels=8, channel_mults=(1, 2),
                                                                attn_levels=(1,)))
    rgb = rng.random((16, 16, 3)).astype(np.float32)
    assert scoredeblur.deblur(rgb, model=grey_model, **FAST).shape == rgb.shape
    rgb_model = tiny_checkpoint(tmp_path / "c.pt")
    grey = rng.random((16, 16)).astype(np.float32)
    assert scoredeblur.deblur(grey, model=rgb_model, **FAST).shape == grey.shape


def test_large_image_is_tiled_and_matches_untiled_closely(tiny_model_path, rng):
    """Same noise, same network: tiled and whole-image sampling differ only near tile overlaps."""
    img = rng.random((40, 72, 3)).astype(np.float64)
    kwargs = dict(model=tiny_model_path, steps=4, preset="paper", seed=0, sigma_start=0.5)
    whole = scoredeblur.deblur(img, tile=128, **kwargs)
    tiled = scoredeblur.deblur(img, tile=32, overlap=12, tile_batch=2, **kwargs)
    assert np.abs(whole - tiled).mean() < 0.01


def test_paper_consistency_pulls_toward_the_observation(tiny_model_path, rng):
    img = rng.random((24, 24, 3)).astype(np.float64)
    free = scoredeblur.deblur(img, model=tiny_model_path, consistency=None, steps=20, preset="paper", tile=32)
    dc = scoredeblur.deblur(img, model=tiny_model_path, consistency="paper", alpha=0.3, steps=20, preset="paper", tile=32)
    assert np.abs(dc - img).mean() < 0.5 * np.abs(free - img).mean()


def test_bad_inputs_have_clear_errors(tiny_model_path, tmp_path):
    with pytest.raises(ValueError, match="NaN or Inf"):
        scoredeblur.deblur(np.full((8, 8), np.nan, np.float32), model=tiny_model_path, **FAST)
    with pytest.raises(ValueError, match="NaN or Inf"):
        scoredeblur.deblur(torch.full((3, 8, 8), float("inf")), model=tiny_model_path, **FAST)
    with pytest.raises(ValueError, match="shape"):
        scoredeblur.deblur(np.zeros((8, 8, 5), np.uint8), model=tiny_model_path, **FAST)
    with pytest.raises(ValueError, match="empty"):
        scoredeblur.deblur(np.zeros((0, 8), np.uint8), model=tiny_model_path, **FAST)
    with pytest.raises(ValueError, match="dtype"):
        scoredeblur.deblur(np.zeros((8, 8), np.int32), model=tiny_model_path, **FAST)
    with pytest.raises(TypeError, match="numpy array, PIL image"):
        scoredeblur.deblur([[1, 2], [3, 4]], model=tiny_model_path, **FAST)
    with pytest.raises(CheckpointError, match="not found"):
        scoredeblur.deblur(np.zeros((8, 8), np.uint8), model=tmp_path / "none.pt", **FAST)
    with pytest.raises(ValueError, match="steps"):
        scoredeblur.deblur(np.zeros((8, 8), np.uint8), model=tiny_model_path, steps=0)


def test_default_preset_is_blind_and_handles_grey(tiny_model_path, rng):
    from skimage import data

    from scoredeblur.bench.cases import Degradation, build_cases

    case = build_cases([("cam", np.repeat(data.camera()[:, :, None], 3, axis=2))], [Degradation(3.0)], crop=96)[0]
    grey = (case.blurry[:, :, 0] * 255).round().astype(np.uint8)
    out = scoredeblur.deblur(grey, model=tiny_model_path, tile=64)  # the default preset, radius estimated
    assert out.shape == grey.shape and out.dtype == np.uint8
    with pytest.raises(ValueError, match="pass psf_radius"):
        scoredeblur.deblur(grey[:40, :40], model=tiny_model_path)
    assert scoredeblur.deblur(grey[:40, :40], model=tiny_model_path, psf_radius=3.0).shape == (40, 40)


def test_late_start_follows_the_radius_unless_the_caller_sets_it(tiny_model_path, rng):
    from scoredeblur.sampling.presets import sigma_start_for_radius

    img = rng.random((24, 24, 3)).astype(np.float32)

    def first_sigma(**kw):
        seen = []
        scoredeblur.deblur(img, model=tiny_model_path, preset="fast", noise_std=0.01, tile=32,
                           callback=lambda info: seen.append(float(info.sigma)), **kw)
        return max(seen)

    # The callback reports each step's target σ: the first one lies just below σ_start.
    mild, strong = first_sigma(psf_radius=1.5), first_sigma(psf_radius=5.0)
    assert mild <= sigma_start_for_radius(1.5) + 1e-6 < strong <= sigma_start_for_radius(5.0) + 1e-6
    assert first_sigma(psf_radius=1.5, sigma_start=0.3) == pytest.approx(strong)  # the caller's value wins
    assert sigma_start_for_radius(0.0) == 0.1 and sigma_start_for_radius(20.0) == 0.3


def test_fast_weighs_the_prior_by_the_radius_unless_the_caller_sets_it(rng):
    from scoredeblur.plan import make_plan
    from scoredeblur.sampling.presets import PRESETS, lam_for_radius

    img = rng.random((24, 24, 3)).astype(np.float32)
    y = torch.from_numpy(img).permute(2, 0, 1)[None]

    def lam(preset, radius, **kw):
        return make_plan(img, y, preset, None, psf_radius=radius, noise_std=0.01, **kw).cfg.lam

    assert lam("fast", 2.0) == 1.0 and lam("fast", 3.0) == pytest.approx(2 / 3) and lam("fast", 8.0) == 0.5
    assert lam("fast", 8.0, lam=0.9) == 0.9                  # the caller's value wins
    assert lam("quality", 2.0) == 1.0 and lam("quality", 8.0) == 0.5   # the same 8 steps, with flips
    assert lam("pc", 8.0) == PRESETS["pc"].lam                           # not a late-start preset
    assert lam_for_radius(0.0) == 1.0 and lam_for_radius(1.0) == 1.0 and lam_for_radius(50.0) == 0.5


def test_the_consistency_allows_for_a_varying_operators_model_error(rng):
    from scoredeblur.physics.varying import MODEL_ERROR
    from scoredeblur.plan import make_plan

    img = rng.random((24, 24, 3)).astype(np.float32)
    y = torch.from_numpy(img).permute(2, 0, 1)[None]

    def noise(radius, preset="fast"):
        return make_plan(img, y, preset, None, psf_radius=radius, noise_std=0.02).cfg.noise_std

    ramp = np.tile(np.linspace(0.5, 6.0, 24), (24, 1))      # between the mixture's levels, a wide range
    mask = np.where(np.arange(24)[None, :] < 12, 0.0, 3.0).repeat(24, 0)  # on its levels: exact
    assert noise(2.0) == pytest.approx(0.02)                 # the uniform operator is exact
    assert noise(mask) == pytest.approx(0.02)
    assert noise(ramp) == pytest.approx(np.hypot(0.02, MODEL_ERROR))
    assert noise(ramp, "pc") == pytest.approx(np.hypot(0.02, MODEL_ERROR))
    narrow = np.tile(np.linspace(2.0, 2.6, 24), (24, 1))    # almost uniform: almost exact
    assert 0.02 < noise(narrow) < np.hypot(0.02, MODEL_ERROR / 3)


def test_late_start_takes_the_strongest_blur_of_a_radius_map(tiny_model_path, rng):
    img = rng.random((24, 24, 3)).astype(np.float32)
    rmap = np.full((24, 24), 1.0)
    rmap[:, 12:] = 5.0
    seen = {}
    for name, radius in (("map", rmap), ("uniform", 5.0)):
        sig = []
        scoredeblur.deblur(img, model=tiny_model_path, preset="fast", noise_std=0.01, tile=32, psf_radius=radius,
                           callback=lambda info, sig=sig: sig.append(float(info.sigma)))
        seen[name] = max(sig)
    assert seen["map"] == pytest.approx(seen["uniform"])


def test_return_info_reports_what_was_estimated_and_run(tiny_model_path, rng):
    img = rng.random((40, 44, 3)).astype(np.float32)
    plain = scoredeblur.deblur(img, model=tiny_model_path, preset="fast", psf_radius=2.0, tile=32, overlap=8)
    res = scoredeblur.deblur(img, model=tiny_model_path, preset="fast", psf_radius=2.0, tile=32, overlap=8,
                             noise_std=0.02, return_info=True)
    assert isinstance(res, scoredeblur.DeblurResult)
    assert res.image.shape == img.shape and res.image.dtype == img.dtype
    assert res.radius_map.shape == img.shape[:2] and np.all(res.radius_map == 2.0)
    assert res.noise_std == pytest.approx(0.02) and res.preset == "fast" and res.steps == 8 and res.nfe == 8
    assert res.seconds > 0
    assert not np.array_equal(plain, res.image)  # noise_std was used, not ignored
    varying = np.tile(np.linspace(0.5, 3.0, 44), (40, 1))
    res = scoredeblur.deblur(img, model=tiny_model_path, preset="fast", psf_radius=varying, tile=32, overlap=8,
                             return_info=True)
    assert np.allclose(res.radius_map, varying) and res.noise_std > 0.01  # the photo's and the operator's
    res = scoredeblur.deblur(img, model=tiny_model_path, steps=2, preset="paper", tile=32, return_info=True)
    assert res.noise_std is None and np.all(res.radius_map == 0) and res.nfe == 3


def test_progress_counts_tiles_times_steps_with_a_time_estimate(tiny_model_path, capsys):
    img = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    scoredeblur.deblur(img, model=tiny_model_path, preset="fast", psf_radius=2.0, steps=6, tile=32, overlap=8,
                       progress=True)
    err = capsys.readouterr().err
    # The grid moves at every step, so the tiles per step vary: the bar's total is their sum.
    grid = TiledScore(None, tile=32, overlap=8, moving=True)
    work = sum(len(grid.tiles(40, 40, call)) for call in range(6))
    assert work > 6 * 4 and f"{work}/{work}" in err and "tile/s" in err
    assert "<00:" in err or "<?" in err        # tqdm's remaining-time field
