"""The PC sampler driven by the exact score of Gaussian data must reproduce that Gaussian."""
import pytest
import torch

from scoredeblur.config import SDEConfig
from scoredeblur.sampler import SamplerConfig, pc_sample
from scoredeblur.sde import VESDE
from scoredeblur.updates import paper_consistency

MU, S = 0.4, 0.2


def gaussian_score(x, sigma):
    """∇ log N(x; μ, (s² + σ²) I): exact at every noise level for data N(μ, s² I)."""
    return -(x - MU) / (S**2 + sigma**2)


def _sample(cfg, seed=0, shape=(64, 1, 16, 16), sde=VESDE(SDEConfig(0.01, 50.0))):
    y = torch.full(shape, MU, dtype=torch.float64)
    return pc_sample(gaussian_score, sde, y, cfg, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("corrector", [False, True])
def test_pc_sampler_matches_gaussian_moments(corrector):
    x = _sample(SamplerConfig(steps=400, corrector=corrector, consistency=None))
    # 16,384 draws: the std error of the mean is ~0.0016 and of the variance ~1.1 %.
    assert float(x.mean()) == pytest.approx(MU, abs=0.01)
    assert float(x.var()) == pytest.approx(S**2, rel=0.06)


def test_sampler_without_score_fails_the_moment_check():
    """Guard that the moment check above can fail: a zero score leaves the prior's huge variance."""
    sde = VESDE(SDEConfig(0.01, 50.0))
    y = torch.full((8, 1, 8, 8), MU, dtype=torch.float64)
    x = pc_sample(lambda x, s: torch.zeros_like(x), sde, y, SamplerConfig(steps=50, corrector=False,
                  consistency=None), torch.Generator().manual_seed(0))
    assert float(x.var()) > 100 * S**2


def test_sampler_is_deterministic_per_generator():
    cfg = SamplerConfig(steps=30, consistency=None)
    a, b, c = _sample(cfg, 3), _sample(cfg, 3), _sample(cfg, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_paper_consistency_fixed_point_and_contraction():
    y = torch.linspace(0, 1, 50, dtype=torch.float64)
    assert torch.equal(paper_consistency(y, y, 0.3), y)
    x = torch.zeros_like(y)
    for _ in range(20):
        x = paper_consistency(x, y, 0.3)
    assert torch.allclose(x, y * (1 - 0.7**20), atol=1e-12)


def test_dc_sampler_settles_on_the_observation_when_prior_agrees():
    """Prior mean μ and observation y = μ: DC keeps the mean at μ and only shrinks the spread."""
    x_dc = _sample(SamplerConfig(steps=200, corrector=False, consistency="paper", alpha=0.05))
    x_free = _sample(SamplerConfig(steps=200, corrector=False, consistency=None))
    assert float(x_dc.mean()) == pytest.approx(MU, abs=0.01)
    assert float(x_dc.var()) < float(x_free.var())


def test_callback_sees_every_step():
    seen = []
    sde = VESDE(SDEConfig(0.01, 50.0))
    y = torch.full((1, 1, 4, 4), MU, dtype=torch.float64)
    pc_sample(gaussian_score, sde, y, SamplerConfig(steps=25), torch.Generator().manual_seed(0), seen.append)
    assert [s.index for s in seen] == list(range(25))
    assert seen[-1].sigma == 0.0 and seen[0].sigma < 50.0


def test_ccdf_start_from_observation():
    sde = VESDE(SDEConfig(0.01, 50.0))
    y = torch.full((16, 1, 16, 16), MU, dtype=torch.float64)
    x = pc_sample(gaussian_score, sde, y, SamplerConfig(steps=100, consistency=None, sigma_start=1.0),
                  torch.Generator().manual_seed(0))
    assert float(x.mean()) == pytest.approx(MU, abs=0.02)
    assert float(x.var()) == pytest.approx(S**2, rel=0.15)


def test_sampler_config_validation():
    with pytest.raises(ValueError):
        SamplerConfig(steps=0)
    with pytest.raises(ValueError):
        SamplerConfig(consistency="bogus")
    with pytest.raises(ValueError):
        SamplerConfig(alpha=1.5)
