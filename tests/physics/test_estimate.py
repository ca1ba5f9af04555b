import numpy as np
import pytest
import torch

from scoredeblur.bench.cases import Degradation, build_cases
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.estimate import estimate_noise, estimate_radius, estimate_radius_map, luma


@pytest.fixture(scope="module")
def sample_images():
    return _skimage_samples()


def _skimage_samples():
    from skimage import data

    return [("astronaut", data.astronaut()), ("coffee", data.coffee()), ("chelsea", data.chelsea())]


@pytest.mark.parametrize("radius", [1.0, 2.0, 3.0, 5.0, 8.0])
def test_global_radius_is_recovered(sample_images, radius):
    cases = build_cases(sample_images, [Degradation(radius)])
    errors = [abs(estimate_radius(c.blurry) - radius) for c in cases]
    assert np.mean(errors) < 0.35, errors


def test_radius_survives_jpeg(sample_images):
    cases = build_cases(sample_images, [Degradation(4.0, jpeg_quality=85)])
    assert np.mean([abs(estimate_radius(c.blurry) - 4.0) for c in cases]) < 0.5


def test_noise_level(sample_images):
    for noise in (0.005, 0.02):
        cases = build_cases(sample_images, [Degradation(3.0, noise=noise)])
        est = [estimate_noise(c.blurry) for c in cases]
        assert np.mean(est) == pytest.approx(noise, rel=0.25)


def test_local_map_separates_sharp_foreground_from_blurred_background(sample_images):
    cases = build_cases(sample_images[:2], [Degradation(None, varying=(0.5, 6.0))], sizes=("full",))
    for c in cases:
        radii, ys, xs = estimate_radius_map(c.blurry, tile=128)
        true = np.array([[np.median(c.radius_map[y:y + 128, x:x + 128]) for x in xs] for y in ys])
        assert np.abs(radii - true).mean() < 1.5
        assert radii[true <= 1.5].mean() + 2 < radii[true >= 5.5].mean()


def test_too_small_image_is_refused():
    from scoredeblur.physics.estimate import radius_fit_errors

    with pytest.raises(ValueError, match="at least"):
        radius_fit_errors(np.zeros((30, 30)), 64)


def _fit_errors_one_candidate_at_a_time(grey, win, grid):
    """The estimator's model fitted the plain way, one (radius, β) least-squares problem at a time."""
    from scoredeblur.physics.estimate import _BETAS, _model_profiles, welch_spectrum

    p = welch_spectrum(grey, win)
    sel = slice(2, win // 2 + 1)
    p = p[sel]
    profiles = _model_profiles(tuple(float(r) for r in grid), win)
    errors = []
    for i in range(len(grid)):
        best = np.inf
        for j in range(len(_BETAS)):
            b1 = profiles[i, j, sel]
            coef = np.linalg.lstsq(np.stack([b1 / p, 1.0 / p], axis=1), np.ones_like(p), rcond=None)[0]
            coef = np.maximum(coef, 1e-12)
            best = min(best, float(np.mean((np.log(coef[0] * b1 + coef[1]) - np.log(p)) ** 2)))
        errors.append(best)
    return np.array(errors)


@pytest.mark.parametrize("radius", [4.5, 5.0, 6.5, 7.75])
def test_fit_reads_medium_and_large_radii_without_bias(sample_images, radius):
    """The model includes the analysis window's leakage; without it 5 px read as 4.8, 7.75 as 7.1."""
    from scoredeblur.physics.estimate import fit_radius

    cases = build_cases(sample_images[:4], [Degradation(radius)], crop=128)
    fits = [fit_radius(luma(c.blurry), 64)[0] for c in cases]
    assert abs(float(np.median(fits)) - radius) <= 0.1


@pytest.mark.parametrize("radius", [0.0, 1.5, 4.0])
def test_batched_fit_equals_one_fit_per_candidate(radius):
    from scoredeblur.physics.estimate import RADIUS_GRID, radius_fit_errors

    g = torch.Generator().manual_seed(int(radius * 10))
    sharp = torch.rand(1, 1, 160, 160, generator=g)
    sharp = torch.nn.functional.avg_pool2d(sharp, 3, 1, 1)  # some spatial correlation
    grey = (DefocusBlur(radius).A(sharp.double()) + 0.01 * torch.randn(1, 1, 160, 160, generator=g).double())[0, 0]
    grey = grey.numpy()
    batched = radius_fit_errors(grey, 64, RADIUS_GRID)
    plain = _fit_errors_one_candidate_at_a_time(grey, 64, RADIUS_GRID)
    np.testing.assert_allclose(batched, plain, rtol=1e-9)
    assert np.argmin(batched) == np.argmin(plain)


def test_large_uniform_blur_gives_one_radius_not_a_noisy_map(sample_images):
    """Beyond the local limit tiles are accepted by agreeing with the global fit, and take it:
    single tiles at r = 8 alternate between neighbouring radii, which a varying map would keep."""
    cases = build_cases(sample_images[:2], [Degradation(8.0)], sizes=("full",))
    for c in cases:
        radii, _, _ = estimate_radius_map(c.blurry)
        believed = radii[radii > 0]
        assert believed.size >= 0.8 * radii.size
        assert np.ptp(believed) == 0 and abs(believed[0] - 8.0) <= 0.5


def test_blind_radii_below_the_identifiable_size_count_as_no_defocus():
    """A disk smaller than IDENTIFIABLE_RADIUS has its first spectral zero beyond the band a camera
    records faithfully: its estimate is no evidence, and make_physics takes it as 0 (given radii
    are respected)."""
    from scoredeblur.physics import blind

    radii = np.array([[0.0, 0.9, 1.7], [1.75, 2.5, 6.0]])
    assert np.array_equal(blind.identifiable(radii), [[0.0, 0.0, 0.0], [1.75, 2.5, 6.0]])
    assert np.array_equal(blind.identifiable(radii, floor=0.0), radii)
    assert blind.IDENTIFIABLE_RADIUS > 0.61 / 0.5  # the notch of anything smaller lies beyond Nyquist
    img = np.random.default_rng(0).random((64, 64, 3))
    assert blind.make_physics(img, 1.0).radius == 1.0  # a given radius is not second-guessed


def _fits(radius, ratio, overall=2.0, overall_ratio=0.01):
    from scoredeblur.physics.estimate import TileFits

    radius, ratio = np.asarray(radius, float).reshape(3, 3), np.asarray(ratio, float).reshape(3, 3)
    return TileFits(radius, ratio, [0, 64, 128], [0, 64, 128], overall, overall_ratio)


MISREAD = [2.0, 2.0, 2.1, 2.0, 1.9, 2.0, 1.9, 2.0, 2.0], [0.01] * 6 + [0.36, 0.45, 0.02]


def test_consensus_radius_of_a_uniform_blur_that_a_few_tiles_misread():
    """McMaster 12 at radius 2: two tiles fit 1.9 and 2.0 px but too loosely to be believed."""
    from scoredeblur.physics.estimate import believed_radii, consensus_radius

    fits = _fits(*MISREAD)
    assert np.ptp(believed_radii(fits)) > 0.5  # the believed map varies: a declined corner
    assert consensus_radius(fits, 1.75) == pytest.approx(2.0)
    # Beyond the local limit the whole-image fit is taken, as believed_radii does.
    big = _fits(np.array(MISREAD[0]) * 4, MISREAD[1], overall=8.1)
    assert consensus_radius(big, 1.75) == pytest.approx(8.1)


@pytest.mark.parametrize("change", ["sharp tile", "loose overall fit", "too few agree", "overall too small"])
def test_no_consensus_where_the_blur_may_vary(change):
    """A tile that reads less than the identifiable size may be a sharp subject; a loose whole-image
    fit or a minority of agreeing tiles is no evidence of one blur."""
    from scoredeblur.physics.estimate import consensus_radius

    radius, ratio = np.array(MISREAD[0]), np.array(MISREAD[1])
    overall, overall_ratio = 2.0, 0.01
    if change == "sharp tile":
        radius[6] = 0.8
    elif change == "loose overall fit":
        overall_ratio = 0.08
    elif change == "too few agree":
        radius[[0, 1, 2, 3]] = 3.5
    else:
        radius, overall = radius / 2, 1.0
    assert consensus_radius(_fits(radius, ratio, overall, overall_ratio), 1.75) is None


def test_make_physics_takes_the_consensus_as_one_uniform_blur(monkeypatch):
    from scoredeblur.physics import blind
    from scoredeblur.physics.varying import VaryingDefocusBlur

    img = np.full((256, 256, 3), 0.5)
    monkeypatch.setattr(blind, "fit_tiles", lambda *a, **k: _fits(*MISREAD))
    physics = blind.make_physics(img)
    assert isinstance(physics, DefocusBlur) and physics.radius == pytest.approx(2.0)
    sharp_subject = np.array(MISREAD[0])
    sharp_subject[6:] = 0.5  # the bottom row in focus (2/3 of the tiles agree): the blur varies
    monkeypatch.setattr(blind, "fit_tiles", lambda *a, **k: _fits(sharp_subject, [0.01] * 9))
    assert isinstance(blind.make_physics(img), VaryingDefocusBlur)
