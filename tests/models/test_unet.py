import dataclasses

import pytest
import torch

import scoredeblur.models.unet as network
from scoredeblur.config import NetConfig
from scoredeblur.models.score_model import Preconditioner
from scoredeblur.models.unet import ScoreUNet, count_parameters, upsample2x, upsample2x_conv, upsample2x_conv_folded
from tests.conftest import TINY


@pytest.mark.parametrize("hw", [(32, 32), (17, 29), (5, 3), (64, 40)])
@pytest.mark.parametrize("channels", [1, 3])
def test_any_size_and_channel_count(hw, channels):
    cfg = NetConfig(in_channels=channels, base_channels=8, channel_mults=(1, 2, 2), attn_levels=(2,))
    net = ScoreUNet(cfg)
    x = torch.randn(2, channels, *hw)
    out = net(x, torch.tensor([0.1, 2.0]))
    assert out.shape == x.shape


def test_noise_level_conditions_the_output():
    torch.manual_seed(0)
    net = ScoreUNet(TINY)
    for p in net.parameters():  # break the zero init so the output depends on everything
        torch.nn.init.normal_(p, 0, 0.1)
    x = torch.randn(1, 3, 16, 16)
    assert not torch.allclose(net(x, torch.tensor([0.01])), net(x, torch.tensor([10.0])))


def test_width_and_depth_come_from_config():
    small = count_parameters(ScoreUNet(NetConfig(base_channels=16)))
    big = count_parameters(ScoreUNet(NetConfig(base_channels=32)))
    assert 3.5 < big / small < 4.2  # conv weights scale with width²
    assert count_parameters(ScoreUNet(NetConfig(num_res_blocks=2))) > count_parameters(ScoreUNet(NetConfig()))


def test_config_validation():
    with pytest.raises(ValueError):
        NetConfig(in_channels=2)
    with pytest.raises(ValueError):
        NetConfig(channel_mults=(1, 2), attn_levels=(2,))
    with pytest.raises(ValueError):
        NetConfig(precond="other")


@pytest.mark.parametrize("precond", ["edm", "ncsn"])
def test_score_is_tweedie_of_the_denoiser(precond):
    torch.manual_seed(0)
    net = ScoreUNet(NetConfig(base_channels=8, channel_mults=(1, 2), attn_levels=(1,), precond=precond))
    for p in net.parameters():
        torch.nn.init.normal_(p, 0, 0.05)
    m = Preconditioner(net)
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    net.double()
    m.compute_dtype = torch.float64
    sigma = torch.tensor([0.05, 3.0], dtype=torch.float64)
    s = m.score(x, sigma)
    d = m.denoise(x, sigma)
    assert torch.allclose(s, (d - x) / sigma.view(-1, 1, 1, 1) ** 2, rtol=1e-9, atol=1e-9)


def test_precision_guard_refuses_bf16_on_cpu():
    m = Preconditioner(ScoreUNet(TINY))
    with pytest.raises(ValueError, match="bfloat16"):
        m.set_compute_dtype(torch.bfloat16)
    with pytest.raises(ValueError, match="sigma must be positive"):
        m.score(torch.zeros(1, 3, 8, 8), 0.0)


@pytest.mark.parametrize("precond", ["ncsn", "edm"])
def test_channels_last_gives_the_same_scores_in_the_callers_layout(precond):
    from dataclasses import replace

    torch.manual_seed(0)
    net = ScoreUNet(replace(TINY, precond=precond)).eval()
    for p in net.parameters():  # the zero-initialised output layers would hide any layout error
        p.data.normal_(0, 0.2)
    m = Preconditioner(net)
    x = torch.rand(2, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = m.score(x, torch.tensor([0.1, 2.0]))
        m.set_memory_format(torch.channels_last)
        assert net.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
        out = m.score(x, torch.tensor([0.1, 2.0]))
    assert out.is_contiguous()
    assert ref.abs().max() > 0.1
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="memory_format"):
        m.set_memory_format(torch.channels_last_3d)


def test_cpu_inference_defaults():
    from scoredeblur.engine.loading import get_model
    from scoredeblur.sampling.tiling import default_tile_batch

    assert default_tile_batch("cpu") == 1 and default_tile_batch("cuda") == 4
    assert get_model(None, "cpu").memory_format is torch.channels_last


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "graph-capture"])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "cl"])
def test_folded_upsample_conv_is_conv_of_nearest_upsample(traced, layout, monkeypatch):
    """The low-resolution 2×2 form equals conv(nearest ×2) in value and gradient, keeps the layout."""
    monkeypatch.setattr(network, "capturing", lambda: traced)
    g = torch.Generator().manual_seed(3)
    conv = torch.nn.Conv2d(6, 5, 3, padding=1).to(memory_format=layout)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
        conv.bias.copy_(torch.randn(5, generator=g))
    h = torch.randn(2, 6, 7, 10, generator=g).contiguous(memory_format=layout).requires_grad_(True)
    ref = conv(upsample2x(h))
    out = upsample2x_conv_folded(h, conv)
    assert out.shape == (2, 5, 14, 20)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert out.is_contiguous(memory_format=layout)
    up = torch.randn(ref.shape, generator=g)
    grads = torch.autograd.grad((out * up).sum(), [h, conv.weight, conv.bias])
    grads_ref = torch.autograd.grad((ref * up).sum(), [h, conv.weight, conv.bias])
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_folded_upsample_refuses_other_convolutions():
    with pytest.raises(ValueError, match="3x3"):
        upsample2x_conv(torch.zeros(1, 4, 4, 4), torch.nn.Conv2d(4, 4, 5, padding=2))


def test_inference_forward_matches_autograd_forward_and_leaves_inputs_alone():
    """Without autograd the element-wise steps run in place: same result, caller's tensors untouched."""
    net = ScoreUNet(dataclasses.replace(TINY, attn_levels=(2,))).eval()  # with attention
    g = torch.Generator().manual_seed(5)
    for p in net.parameters():  # non-zero output convolutions, so every path contributes
        p.data.copy_(0.1 * torch.randn(p.shape, generator=g))
    x = torch.randn(2, 3, 20, 28, generator=g)
    c = torch.tensor([0.1, 3.0]).log()
    x0, c0 = x.clone(), c.clone()
    with torch.no_grad():
        fast = net(x, c)
    torch.testing.assert_close(fast, net(x, c), rtol=1e-5, atol=1e-5)
    assert torch.equal(x, x0) and torch.equal(c, c0)
    assert fast.abs().max() > 0.1
