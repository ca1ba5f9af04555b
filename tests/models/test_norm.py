"""The compiled GroupNorm+SiLU kernel against PyTorch's two ops (its reference), and when it runs."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from scoredeblur.models import norm as norm_mod
from scoredeblur.models.norm import group_norm_silu, group_norm_silu_reference, native_applies

native = pytest.mark.skipif(norm_mod._native is None or not hasattr(norm_mod._native, "group_norm_silu"),
                            reason="scoredeblur._native is not built here (pip install -e . with a C++ compiler)")


def _norm(groups: int, channels: int, seed: int) -> nn.GroupNorm:
    g = torch.Generator().manual_seed(seed)
    m = nn.GroupNorm(groups, channels)
    with torch.no_grad():
        m.weight.copy_(torch.randn(channels, generator=g))
        m.bias.copy_(torch.randn(channels, generator=g))
    return m


def _activation(shape, seed: int, scale: float = 1.0, offset: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * scale + offset).contiguous(memory_format=torch.channels_last)


@native
@pytest.mark.parametrize("silu", [True, False])
@pytest.mark.parametrize("shape,groups", [((1, 32, 33, 47), 8), ((2, 64, 16, 16), 16), ((1, 12, 9, 5), 3),
                                          ((3, 96, 7, 11), 24), ((1, 20, 1, 1), 5)])
def test_kernel_is_the_reference(shape, groups, silu):
    """Every channel count (with and without an 8-wide remainder), batches, single pixels."""
    m, x = _norm(groups, shape[1], 1), _activation(shape, 2, scale=3.0, offset=0.5)
    with torch.no_grad():
        assert native_applies(x, m)
        got, ref = group_norm_silu(x, m, silu), group_norm_silu_reference(x.clone(), m, silu)
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, ref, atol=2e-5 * float(ref.abs().max()), rtol=2e-5)


@native
def test_kernel_is_deterministic_and_threads_agree():
    """The same bits at every call (partial sums are added in thread order), and the same values
    to rounding whatever the thread count."""
    m, x = _norm(8, 32, 7), _activation((1, 32, 150, 170), 8, scale=2.0)
    out = [torch.empty_like(x) for _ in range(3)]
    for o, threads in zip(out, (2, 2, 1)):
        norm_mod._native.group_norm_silu(x.permute(0, 2, 3, 1).numpy(), m.weight.detach().numpy(),
                                         m.bias.detach().numpy(), o.permute(0, 2, 3, 1).numpy(), 8, 1e-5, True,
                                         threads)
    assert torch.equal(out[0], out[1])
    torch.testing.assert_close(out[0], out[2], atol=1e-5, rtol=1e-5)


@native
def test_kernel_keeps_the_variance_of_an_offset_activation():
    """|mean| ≫ std: the variance must not come from E[x²] − E[x]² in float. (PyTorch's own
    channels-last float32 GroupNorm is off by up to 9 here; the float64 computation is the truth.)"""
    m, x = _norm(4, 16, 3), _activation((1, 16, 40, 40), 4, scale=0.01, offset=100.0)
    with torch.no_grad():
        got = group_norm_silu(x, m)
        ref = group_norm_silu_reference(x.double(), copy.deepcopy(m).double()).float()
    torch.testing.assert_close(got, ref, atol=2e-3, rtol=1e-3)


@native
def test_kernel_handles_extreme_values_like_silu():
    """Large positive and negative pre-activations (exp overflow / underflow clamps)."""
    m = nn.GroupNorm(1, 8)
    with torch.no_grad():
        m.weight.fill_(200.0)
        x = torch.linspace(-1, 1, 8 * 6 * 6).reshape(1, 8, 6, 6).contiguous(memory_format=torch.channels_last)
        got, ref = group_norm_silu(x, m), group_norm_silu_reference(x.clone(), m)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=2e-5)


def test_reference_runs_where_the_kernel_cannot():
    m = _norm(8, 32, 5)
    # requires_grad: PyTorch 2.13's channels-last GroupNorm backward crashes for an input without it
    x = _activation((1, 32, 12, 12), 6).requires_grad_()
    assert not native_applies(x.contiguous(), m)                  # NCHW
    assert not native_applies(x.double(), copy.deepcopy(m).double())  # float64
    assert not native_applies(x, m)                                # autograd on
    out = group_norm_silu(x, m)
    assert out.requires_grad                                       # the reference, differentiable
    out.sum().backward()
    assert m.weight.grad is not None and x.grad is not None
    x = x.detach()
    norm_mod.NATIVE = False
    try:
        with torch.no_grad():
            assert not native_applies(x, m)
    finally:
        norm_mod.NATIVE = True


@native
def test_network_forward_is_the_same_with_the_kernel(random_network):
    net, x, c = random_network
    with torch.no_grad():
        fast = net(x, c)
        norm_mod.NATIVE = False
        try:
            ref = net(x, c)
        finally:
            norm_mod.NATIVE = True
    assert float((fast - ref).abs().max()) > 0  # the kernel did run
    torch.testing.assert_close(fast, ref, atol=1e-4 * float(ref.abs().max()), rtol=1e-4)


@native
def test_binding_refuses_what_it_cannot_compute():
    x = np.zeros((1, 4, 4, 6), np.float32)
    w, b = np.ones(6, np.float32), np.zeros(6, np.float32)
    with pytest.raises(ValueError, match="groups"):
        norm_mod._native.group_norm_silu(x, w, b, np.empty_like(x), 4, 1e-5, True, 1)
    with pytest.raises(ValueError, match="out must not be x"):
        norm_mod._native.group_norm_silu(x, w, b, x, 2, 1e-5, True, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        norm_mod._native.group_norm_silu(np.zeros((1, 6, 4, 4), np.float32).transpose(0, 2, 3, 1), w, b,
                                         np.empty_like(x), 2, 1e-5, True, 1)
