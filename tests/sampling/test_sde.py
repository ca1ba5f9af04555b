import math

import pytest
import torch

from scoredeblur.config import SDEConfig
from scoredeblur.sampling.sde import VESDE


def test_sigma_schedule_endpoints_and_geometry():
    sde = VESDE(SDEConfig(0.01, 300.0))
    assert float(sde.sigma(0.0)) == pytest.approx(0.01)
    assert float(sde.sigma(1.0)) == pytest.approx(300.0)
    assert float(sde.sigma(0.5)) == pytest.approx(math.sqrt(0.01 * 300.0))
    assert sde.t_of_sigma(float(sde.sigma(0.3))) == pytest.approx(0.3)


def test_ladder_is_descending_geometric():
    sde = VESDE()
    lad = sde.ladder(700)
    assert lad.shape == (700,) and lad.dtype == torch.float64
    assert float(lad[0]) == pytest.approx(300.0) and float(lad[-1]) == pytest.approx(0.01)
    ratios = lad[1:] / lad[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios))
    assert float(sde.ladder(10, sigma_start=2.0)[0]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        sde.ladder(10, sigma_start=500.0)
    with pytest.raises(ValueError):
        sde.ladder(0)


def test_perturbation_kernel_statistics():
    sde = VESDE()
    g = torch.Generator().manual_seed(0)
    x = torch.full((4, 1, 64, 64), 0.3)
    sigma = torch.tensor([0.1, 1.0, 10.0, 100.0])
    xt, z = sde.perturb(x, sigma, g)
    assert torch.allclose(xt, x + sigma.view(-1, 1, 1, 1) * z)
    std = (xt - x).flatten(1).std(dim=1)
    assert torch.allclose(std / sigma, torch.ones(4), rtol=0.05)


def test_prior_and_training_sigmas():
    sde = VESDE()
    g = torch.Generator().manual_seed(1)
    prior = sde.prior_sample((8, 3, 32, 32), g)
    assert float(prior.std()) == pytest.approx(300.0, rel=0.03)
    s = sde.sample_training_sigmas(20000, g, restore_fraction=0.5, restore_sigma_max=1.0)
    assert float(s.min()) >= 0.01 - 1e-6 and float(s.max()) <= 300.0 + 1e-3
    frac_small = float((s <= 1.0).float().mean())
    # Half the draws are on [0.01, 1]; half log-uniform over [0.01, 300] (of which 4.6/10.3 ≤ 1).
    expected = 0.5 + 0.5 * math.log(100) / math.log(30000)
    assert frac_small == pytest.approx(expected, abs=0.02)
