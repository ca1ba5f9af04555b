"""The compiled Winograd F(4×4, 3×3) convolution against the direct convolution, its reference
transforms in PyTorch ops, and when it runs."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from scoredeblur.models import conv as conv_mod
from scoredeblur.models.conv import conv3x3, conv3x3_reference, transformed_weight, winograd_applies
from scoredeblur.models.unet import upsample2x, upsample2x_conv

native = pytest.mark.skipif(conv_mod._native is None or not hasattr(conv_mod._native, "winograd_conv"),
                            reason="scoredeblur._native is not built here (pip install -e . with a C++ compiler)")


def _conv(cin: int, cout: int, seed: int, **kw) -> nn.Conv2d:
    g = torch.Generator().manual_seed(seed)
    m = nn.Conv2d(cin, cout, 3, padding=1, **kw)
    with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, generator=g) / (3 * cin ** 0.5))
        if m.bias is not None:
            m.bias.copy_(torch.randn(cout, generator=g))
    return m.to(memory_format=torch.channels_last)


def _activation(shape, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).contiguous(memory_format=torch.channels_last)


def _direct64(x: torch.Tensor, m: nn.Conv2d) -> torch.Tensor:
    return F.conv2d(x.double(), m.weight.detach().double(), m.bias.detach().double(), padding=1)


def test_reference_transforms_are_the_convolution():
    """In float64 the transforms' algebra is exact to rounding: the reference is the convolution."""
    m, x = _conv(5, 7, 1), _activation((2, 5, 13, 10), 2).double()
    got = conv3x3_reference(x, m.double())
    torch.testing.assert_close(got, _direct64(x, m), atol=1e-12, rtol=1e-12)


@native
@pytest.mark.parametrize("shape,cout", [((1, 32, 33, 47), 32), ((2, 64, 16, 16), 64), ((1, 70, 9, 5), 20),
                                        ((3, 16, 7, 11), 24), ((1, 128, 1, 1), 64), ((1, 96, 4, 8), 48)])
def test_compiled_convolution_is_the_direct_one(shape, cout):
    """Channel counts off the 16-wide and 64-wide blocks, batches, single pixels, sides not a
    multiple of 4; float32 rounding of the transforms stays within 3e-5 of the output's scale."""
    m, x = _conv(shape[1], cout, 3), _activation(shape, 4)
    with torch.no_grad():
        assert winograd_applies(x, m)
        got = conv3x3(x, m)
    assert got.is_contiguous(memory_format=torch.channels_last)
    ref = _direct64(x, m)
    torch.testing.assert_close(got.double(), ref, atol=3e-5 * float(ref.abs().max()), rtol=0)


@native
@pytest.mark.parametrize("shape,cout", [((1, 64, 13, 13), 64), ((2, 32, 7, 10), 48), ((1, 20, 1, 3), 16)])
def test_compiled_upsampled_convolution_is_the_direct_one(shape, cout):
    """conv(upsample2x(x)) with the windows read from x: against float64 direct on the up-sampled
    copy and against the folded form the network takes elsewhere (sides odd, so the tiles end
    inside an up-sampled pixel pair)."""
    m, x = _conv(shape[1], cout, 13), _activation(shape, 14)
    with torch.no_grad():
        got = conv3x3(x, m, upsample=True)
        assert torch.equal(upsample2x_conv(x, m), got)                 # what the network runs
        conv_mod.NATIVE = False
        try:
            folded = upsample2x_conv(x, m)
            with pytest.raises(ValueError, match="winograd_applies"):
                conv3x3(x, m, upsample=True)
        finally:
            conv_mod.NATIVE = True
    assert got.shape == (shape[0], cout, 2 * shape[2], 2 * shape[3])
    assert got.is_contiguous(memory_format=torch.channels_last)
    ref = _direct64(upsample2x(x.double()), m)
    torch.testing.assert_close(got.double(), ref, atol=3e-5 * float(ref.abs().max()), rtol=0)
    torch.testing.assert_close(folded.double(), ref, atol=3e-5 * float(ref.abs().max()), rtol=0)


@native
def test_compiled_transforms_are_the_reference():
    """Each binding alone, over a range of tiles that starts inside the image."""
    x = _activation((2, 20, 9, 14), 5)
    tiles = 2 * 3 * 4
    v_ref = conv_mod.input_transform_reference(x.double())
    v = np.empty((36, 10, 20), np.float32)
    conv_mod._native.winograd_input(x.permute(0, 2, 3, 1).numpy(), v, 7, 1)
    torch.testing.assert_close(torch.from_numpy(v).double(), v_ref[:, 7:17], atol=1e-5, rtol=1e-5)
    v_up = np.empty((36, 30, 20), np.float32)  # of x up-sampled by 2: 2 × 5 × 7 tiles, from tile 40
    conv_mod._native.winograd_input(x.permute(0, 2, 3, 1).numpy(), v_up, 40, 2, upsample=True)
    v_up_ref = conv_mod.input_transform_reference(upsample2x(x.double()))
    torch.testing.assert_close(torch.from_numpy(v_up).double(), v_up_ref[:, 40:70], atol=1e-5, rtol=1e-5)

    g = torch.Generator().manual_seed(6)
    prods, bias = torch.randn((36, tiles, 24), generator=g), torch.randn(24, generator=g)
    y_ref = conv_mod.output_transform_reference(prods.double(), bias.double(), 2, 9, 14)
    y = torch.full((2, 24, 9, 14), float("nan")).contiguous(memory_format=torch.channels_last)
    yv = y.permute(0, 2, 3, 1).numpy()
    conv_mod._native.winograd_output(prods[:, :11].contiguous().numpy(), bias.numpy(), yv, 0, 2)
    conv_mod._native.winograd_output(prods[:, 11:].contiguous().numpy(), bias.numpy(), yv, 11, 1)
    torch.testing.assert_close(y.double(), y_ref, atol=1e-4, rtol=1e-5)  # every pixel written once


@native
def test_compiled_convolution_is_deterministic_whatever_the_threads_and_chunks():
    """Each tile's arithmetic is the same on any thread in any chunk: equal bits."""
    m, x = _conv(32, 32, 7), _activation((1, 32, 61, 83), 8)
    u = transformed_weight(m)
    xv, bias = x.permute(0, 2, 3, 1).numpy(), m.bias.detach().numpy()
    outs = []
    for threads, chunk in ((2, 12), (2, 12), (1, 12), (2, 5), (1, 1000)):
        y = torch.empty(1, 32, 61, 83).contiguous(memory_format=torch.channels_last)
        scratch = np.empty(threads * 36 * chunk * 64, np.float32)
        conv_mod._native.winograd_conv(xv, u.numpy(), bias, y.permute(0, 2, 3, 1).numpy(), scratch, chunk, threads)
        outs.append(y)
    for y in outs[1:]:
        assert torch.equal(outs[0], y)


def test_direct_convolution_runs_where_winograd_cannot():
    m = _conv(32, 32, 9)
    x = _activation((1, 32, 12, 12), 10)
    with torch.no_grad():
        assert not winograd_applies(x.contiguous(), m)                            # NCHW
        assert not winograd_applies(x.double(), _conv(32, 32, 9).double())         # float64
        assert not winograd_applies(x, _conv(32, 32, 9, stride=2))                 # strided
        assert not winograd_applies(x, _conv(32, 32, 9, bias=False))               # no bias
        assert not winograd_applies(_activation((1, 3, 12, 12), 1), _conv(3, 32, 9))  # too few channels
    assert not winograd_applies(x, m)                                              # autograd on
    xg = x.clone().requires_grad_()
    out = conv3x3(xg, m)
    assert out.requires_grad
    out.sum().backward()
    assert m.weight.grad is not None and xg.grad is not None
    conv_mod.NATIVE = False
    try:
        with torch.no_grad():
            assert not winograd_applies(x, m)
            torch.testing.assert_close(conv3x3(x, m), m(x), atol=0, rtol=0)
    finally:
        conv_mod.NATIVE = True


@native
def test_transformed_weight_follows_the_weight():
    m, x = _conv(16, 16, 11), _activation((1, 16, 8, 8), 12)
    with torch.no_grad():
        conv3x3(x, m)
        assert transformed_weight(m) is transformed_weight(m)      # kept between calls
        m.weight.mul_(2.0)                                          # an in-place change
        changed = conv3x3(x, m)
        m.weight = nn.Parameter(torch.zeros_like(m.weight))         # a new tensor
        replaced = conv3x3(x, m)
    ref = _direct64(x, m)
    torch.testing.assert_close(changed.double(), _direct64(x, _conv(16, 16, 11)) * 2
                               - _conv(16, 16, 11).bias.detach().double()[None, :, None, None], atol=1e-4, rtol=0)
    torch.testing.assert_close(replaced.double(), ref, atol=1e-6, rtol=0)  # the bias alone


@native
def test_network_forward_is_the_same_with_winograd(random_network):
    net, x, c = random_network
    with torch.no_grad():
        fast = net(x, c)
        conv_mod.NATIVE = False
        try:
            ref = net(x, c)
        finally:
            conv_mod.NATIVE = True
    assert float((fast - ref).abs().max()) > 0  # Winograd did run
    torch.testing.assert_close(fast, ref, atol=1e-4 * float(ref.abs().max()), rtol=1e-4)


@native
def test_bindings_refuse_what_they_cannot_compute():
    x = np.zeros((1, 8, 8, 16), np.float32)
    u, b = np.zeros((36, 16, 16), np.float32), np.zeros(16, np.float32)
    scratch = np.zeros(36 * 4 * 32, np.float32)
    with pytest.raises(ValueError, match="y must not be x"):
        conv_mod._native.winograd_conv(x, u, b, x, scratch, 4, 1)
    with pytest.raises(ValueError, match="scratch"):
        conv_mod._native.winograd_conv(x, u, b, np.empty_like(x), scratch, 4, 2)
    with pytest.raises(ValueError, match="u: expected"):
        conv_mod._native.winograd_conv(x, u[:35], b, np.empty_like(x), scratch, 4, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        conv_mod._native.winograd_conv(np.zeros((1, 16, 8, 8), np.float32).transpose(0, 2, 3, 1), u, b,
                                       np.empty_like(x), scratch, 4, 1)
    with pytest.raises(ValueError, match="twice its size"):
        conv_mod._native.winograd_conv(x, u, b, np.empty_like(x), scratch, 4, 1, True)
    with pytest.raises(ValueError, match="outside the image"):
        conv_mod._native.winograd_input(x, np.zeros((36, 5, 16), np.float32), 0, 1)  # 4 tiles only
