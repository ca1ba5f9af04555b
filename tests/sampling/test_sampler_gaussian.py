"""The PC sampler driven by the exact score of Gaussian data must reproduce that Gaussian."""
import pytest
import torch

from scoredeblur.config import SDEConfig
from scoredeblur.sampling.sampler import SamplerConfig, pc_sample
from scoredeblur.sampling.sde import VESDE
from scoredeblur.sampling.updates import paper_consistency

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


def _blur_problem():
    from scoredeblur.physics.defocus import DefocusBlur

    g = torch.Generator().manual_seed(0)
    x_true = MU + S * torch.randn((1, 1, 48, 48), generator=g, dtype=torch.float64)
    op = DefocusBlur(2.0)
    y = op.A(x_true) + 0.01 * torch.randn(x_true.shape, generator=g, dtype=torch.float64)
    return op, y


def test_hqs_with_proximal_consistency_reaches_the_gaussian_map():
    """Gaussian prior + Gaussian noise: the MAP is the closed-form prox(μ, y, σ_n²/s²) (a Wiener
    filter); plug-and-play HQS with the exact score and the exact prox must land on it."""
    op, y = _blur_problem()
    map_ = op.prox(torch.full_like(y, MU), y, 0.01**2 / S**2)
    cfg = SamplerConfig(steps=40, corrector=False, consistency="proximal", predictor="hqs", sigma_start=0.5,
                        lam=1.0, noise_std=0.01)
    x = pc_sample(gaussian_score, VESDE(SDEConfig(0.01, 50.0)), y, cfg, torch.Generator().manual_seed(1), physics=op)
    assert float(((x - map_) ** 2).mean()) < 0.01 * float(((y - map_) ** 2).mean())


@pytest.mark.parametrize("consistency", ["proximal", "gradient"])
def test_physical_consistency_fits_the_observation(consistency):
    op, y = _blur_problem()
    sde = VESDE(SDEConfig(0.01, 50.0))
    common = dict(steps=40, corrector=False, predictor="ddim", sigma_start=0.5, alpha=1.0, noise_std=0.01)
    free = pc_sample(gaussian_score, sde, y, SamplerConfig(consistency=None, **common), torch.Generator().manual_seed(1))
    fit = pc_sample(gaussian_score, sde, y, SamplerConfig(consistency=consistency, **common),
                    torch.Generator().manual_seed(1), physics=op)
    resid = lambda x: float(((op.A(x) - y) ** 2).mean())  # noqa: E731
    assert resid(fit) < 0.1 * resid(free)
    assert resid(fit) < 5 * 0.01**2


def test_physical_consistency_needs_the_operator():
    with pytest.raises(ValueError, match="needs the blur operator"):
        _sample(SamplerConfig(steps=3, consistency="proximal"))
