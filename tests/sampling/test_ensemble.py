import pytest
import torch

import scoredeblur
from scoredeblur.errors import InputError
from scoredeblur.sampling.config import SamplerConfig
from scoredeblur.sampling.ensemble import flip_ensemble
from scoredeblur.sampling.tiling import TiledScore


def ramp_score(x, sigma):
    """Not mirror-symmetric: its flips differ, so their mean can be checked term by term."""
    h, w = x.shape[-2:]
    ramp = torch.arange(h * w, dtype=x.dtype).reshape(h, w) / (h * w)
    return (x * ramp - 0.5) / sigma**2


def test_symmetric_score_is_unchanged_by_its_flips():
    gaussian = lambda x, sigma: -(x - 0.4) / (0.2**2 + sigma**2)  # noqa: E731  (exact, flip-invariant)
    x = torch.rand(1, 3, 20, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for size in (2, 4):
        torch.testing.assert_close(flip_ensemble(gaussian, size)(x, 0.3), gaussian(x, 0.3))


def test_ensemble_is_the_mean_over_flips_and_leaves_its_input_alone():
    x = torch.rand(1, 3, 12, 17, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    before = x.clone()
    s = 0.5
    half_turn = ramp_score(x.flip((-2, -1)), s).flip((-2, -1))
    width, height = ramp_score(x.flip(-1), s).flip(-1), ramp_score(x.flip(-2), s).flip(-2)
    torch.testing.assert_close(flip_ensemble(ramp_score, 2)(x, s), (ramp_score(x, s) + half_turn) / 2)
    torch.testing.assert_close(flip_ensemble(ramp_score, 4)(x, s), (ramp_score(x, s) + half_turn + width + height) / 4)
    assert flip_ensemble(ramp_score, 1) is ramp_score
    assert torch.equal(x, before)


def test_ensemble_sizes_are_checked():
    with pytest.raises(ValueError, match="ensemble size"):
        flip_ensemble(ramp_score, 3)
    for bad in (0, 3, True, 2.0):
        with pytest.raises(InputError, match="ensemble"):
            SamplerConfig(ensemble=bad)
    assert SamplerConfig(steps=8, corrector=False, ensemble=4).nfe == 32


def test_progress_counts_each_flip_as_an_evaluation():
    heard = []
    tiled = TiledScore(flip_ensemble(ramp_score, 2), tile=32, overlap=8, on_tiles=heard.append)
    tiled(torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2)), 0.5)
    assert sum(heard) == tiled.evaluated == 2 * len(tiled.tiles(40, 40))


def test_presets_spend_their_evaluations_on_flips_of_the_same_steps(tiny_model_path, rng):
    img = rng.random((24, 24, 3)).astype("float32")
    calls = {}
    for preset in ("fast", "balanced", "quality"):
        steps = []
        res = scoredeblur.deblur(img, preset=preset, model=tiny_model_path, psf_radius=3.0, noise_std=0.01,
                                 tile=32, return_info=True, callback=lambda info: steps.append(info.index))
        calls[preset] = (len(steps), res.nfe)
    assert calls == {"fast": (8, 8), "balanced": (8, 16), "quality": (8, 32)}
    with pytest.raises(InputError, match="ensemble"):
        scoredeblur.deblur(img, model=tiny_model_path, psf_radius=3.0, ensemble=3)
