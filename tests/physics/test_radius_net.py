"""The learned local-radius estimator: its targets, how its output distribution is read, its
checkpoint format, and (with the shipped weights) what it says on synthetic defocus."""
import numpy as np
import pytest
import torch

from scoredeblur.physics.radius_net import (
    RadiusNet,
    RadiusNetConfig,
    from_checkpoint,
    quantile_map,
    soft_targets,
    to_checkpoint,
)

CFG = RadiusNetConfig()


def test_soft_targets_sum_to_one_and_keep_the_radius():
    r = torch.tensor([[[0.0, 0.3, 2.75], [5.5, 7.9, 8.0]]])
    t = soft_targets(r, CFG)
    assert torch.allclose(t.sum(1), torch.ones_like(r))
    mean = (t * CFG.radii[None, :, None, None]).sum(1)
    assert torch.allclose(mean, r, atol=1e-6)
    assert (t > 0).sum(1).max() <= 2  # at most the two neighbouring classes


def test_quantile_map_reads_the_distribution():
    k = len(CFG.radii)
    logits = torch.full((1, k, 1, 3), -1e4)
    logits[0, 6, 0, 0] = 0.0                    # all mass at 3.0 px
    logits[0, 2, 0, 1] = logits[0, 10, 0, 1] = 0.0   # half at 1.0, half at 5.0
    logits[0, :, 0, 2] = 0.0                    # uniform over 0 … 8
    lo, mid = quantile_map(logits, CFG, 0.25)[0, 0], quantile_map(logits, CFG, 0.75)[0, 0]
    assert abs(float(lo[0]) - 3.0) < 0.5 and abs(float(mid[0]) - 3.0) < 0.5
    assert float(lo[1]) <= 1.0 and float(mid[1]) >= 4.5
    # A broad distribution read at a low quantile gives a low radius: flat regions stay un-deblurred.
    assert float(lo[2]) < 2.5 < float(mid[2])
    assert torch.all(quantile_map(logits, CFG, 0.3) <= quantile_map(logits, CFG, 0.6) + 1e-6)


def test_checkpoint_round_trip_and_refusals():
    torch.manual_seed(0)
    net = RadiusNet(RadiusNetConfig(channels=8, dilations=(1, 2), band_sigmas=(0.8, 2.0)))
    back = from_checkpoint(to_checkpoint(net))
    y = torch.rand(1, 1, 40, 36)
    assert torch.equal(net.eval()(y), back(y))
    with pytest.raises(ValueError, match="not a scoredeblur radius-net"):
        from_checkpoint({"format": "something else"})
    bad = to_checkpoint(net)
    bad["version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        from_checkpoint(bad)


def _skimage_samples():
    from skimage import data

    return [("astronaut", data.astronaut()), ("coffee", data.coffee())]


needs_weights = pytest.mark.skipif(
    not __import__("scoredeblur.models.weights", fromlist=["radius_net_path"]).radius_net_path().is_file(),
    reason="this installation ships no radius-net weights")


@needs_weights
def test_learned_map_finds_the_blurred_background():
    """Synthetic depth-varying defocus (sharp subject at 0.5 px, background at 6 px): the dense map
    follows the truth to about a pixel and keeps the two depths apart."""
    from scoredeblur.bench.cases import Degradation, build_cases
    from scoredeblur.physics.radius_net import embedded_radius_net, learned_radius_map

    net = embedded_radius_net()
    for c in build_cases(_skimage_samples(), [Degradation(None, varying=(0.5, 6.0))], sizes=("full",)):
        m = learned_radius_map(net, c.blurry)
        assert m.shape == c.radius_map.shape
        assert np.abs(m - c.radius_map).mean() < 1.5
        assert m[c.radius_map <= 1].mean() + 3 < m[c.radius_map >= 5.5].mean()


@needs_weights
def test_learned_routing_uniform_varying_and_sharp():
    """make_physics(psf_radius="learned"): uniform blur keeps the exact uniform operator at the spectral estimate; mixed
    depths, which no 128² tile fits, get the dense map; a sharp photo is left (nearly) as it is."""
    from scoredeblur.bench.cases import Degradation, build_cases
    from scoredeblur.physics.blind import make_physics
    from scoredeblur.physics.defocus import DefocusBlur
    from scoredeblur.physics.varying import VaryingDefocusBlur

    imgs = _skimage_samples()[:1]
    uniform = build_cases(imgs, [Degradation(3.0)], sizes=("crop",))[0]
    ph = make_physics(uniform.blurry, "learned")
    assert isinstance(ph, DefocusBlur) and abs(ph.radius - 3.0) <= 0.3
    varying = build_cases(imgs, [Degradation(None, varying=(0.5, 6.0))], sizes=("crop",))[0]
    ph = make_physics(varying.blurry, "learned")
    assert isinstance(ph, VaryingDefocusBlur)
    rmap = ph.radius_map.numpy()
    assert rmap[varying.radius_map >= 5.5].mean() > 4.0 and rmap[varying.radius_map <= 1].mean() < 2.0
    sharp = build_cases(imgs, [Degradation(0.0)], sizes=("crop",))[0]
    ph = make_physics(sharp.blurry, "learned")
    assert ph.max_radius <= 1.5 if isinstance(ph, DefocusBlur) else float(np.median(ph.radius_map)) <= 1.0


def test_large_radii_are_faded_out():
    """Beyond the local limit the dense map leaves the region alone (radius 0), as the tile
    estimator does with bokeh; below it the net's quantile passes unchanged."""
    from scoredeblur.physics import radius_net as rn

    k = len(CFG.radii)

    class Fixed(torch.nn.Module):
        config = CFG

        def forward(self, y):
            logits = torch.full((1, k, *y.shape[-2:]), -1e4)
            logits[:, 4, :, : y.shape[-1] // 2] = 0.0   # 2 px on the left
            logits[:, 16, :, y.shape[-1] // 2:] = 0.0   # 8 px on the right
            return logits

    m = rn.learned_radius_map(Fixed(), np.zeros((40, 50)), q=0.5)
    assert np.allclose(m[:, :25], 2.0, atol=0.3) and np.all(m[:, 25:] == 0)


@needs_weights
def test_learned_map_deblurs_depth_varying_defocus_that_local_leaves():
    """The point of the dense map: a sharp subject in the middle of a 256² crop, background at 6 px.
    No 128² tile fits one radius there, so "local" leaves the photo nearly as it is."""
    from scoredeblur import deblur
    from scoredeblur.bench.cases import Degradation, build_cases
    from scoredeblur.bench.metrics import psnr

    case = build_cases(_skimage_samples()[:1], [Degradation(None, varying=(0.5, 6.0))], sizes=("crop",))[0]
    gains = {mode: psnr(case.sharp, np.clip(deblur(case.blurry, preset="fast", psf_radius=mode), 0, 1))
             - psnr(case.sharp, case.blurry) for mode in ("local", "learned")}
    assert gains["learned"] > 0.5 and gains["learned"] > gains["local"] + 0.5, gains


def test_tiled_prediction_equals_the_whole_image():
    """Tiles with RECEPTIVE_MARGIN of context give the map the whole image gives (bounded memory on
    large photos at no cost in the result)."""
    from scoredeblur.physics.radius_net import predict_radius_map

    torch.manual_seed(0)
    net = RadiusNet(CFG).eval()
    img = np.random.default_rng(0).random((300, 260, 3))
    whole = predict_radius_map(net, img, tile=4096)
    tiled = predict_radius_map(net, img, tile=96)
    assert np.abs(whole - tiled).max() < 1e-4  # a 32-px margin gives 8e-4 here
    with pytest.raises(ValueError, match="at least 32"):
        predict_radius_map(net, np.zeros((20, 50)))
