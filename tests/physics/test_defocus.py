import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from scoredeblur.physics.defocus import DefocusBlur, dct2, disk_psf, pad_symmetric
from scoredeblur.physics.degrade import synthesize_defocus


@pytest.mark.parametrize("radius", [0.0, 0.4, 1.0, 2.5, 3.0, 5.3, 8.0])
def test_disk_psf_is_normalised_symmetric_and_sized(radius):
    k = disk_psf(radius)
    assert float(k.sum()) == pytest.approx(1.0)
    assert torch.allclose(k, k.flip(0)) and torch.allclose(k, k.T)
    half = k.shape[0] // 2
    assert half == max(0, int(np.ceil(radius + 0.5)) - 1)
    if radius >= 1:  # the centre is fully inside; its tap is 1/(π r²) of the mass
        assert float(k[half, half]) == pytest.approx(1 / (np.pi * radius**2), rel=0.05)


def test_anti_aliasing_makes_the_psf_continuous_in_radius():
    a, b = disk_psf(3.0), disk_psf(3.02)
    assert (a - b).abs().max() < 2e-3


@pytest.mark.parametrize("radius", [1.0, 3.0, 4.7])
def test_blur_matches_scipy_reflect_boundary(radius):
    g = torch.Generator().manual_seed(0)
    x = torch.rand((1, 1, 31, 40), generator=g, dtype=torch.float64)
    op = DefocusBlur(radius)
    ref = ndi.convolve(x[0, 0].numpy(), op.kernel.numpy(), mode="reflect")
    assert np.abs(op.A(x)[0, 0].numpy() - ref).max() < 1e-12


@pytest.mark.parametrize("shape", [(2, 3, 24, 31), (1, 1, 5, 7)])
@pytest.mark.parametrize("radius", [1.5, 3.0, 6.0])
def test_adjointness(shape, radius):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    v = torch.randn(shape, generator=g, dtype=torch.float64)
    op = DefocusBlur(radius)
    lhs, rhs = float((op.A(x) * v).sum()), float((x * op.A_adjoint(v)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("radius", [1.0, 3.0, 8.0])
@pytest.mark.parametrize("rho", [1e-3, 0.1, 10.0])
def test_prox_is_optimal(radius, rho):
    g = torch.Generator().manual_seed(2)
    x = torch.rand((1, 3, 26, 33), generator=g, dtype=torch.float64)
    v = torch.rand_like(x)
    op = DefocusBlur(radius)
    y = op.A(x) + 0.01 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    p = op.prox(v, y, rho)
    grad = op.A_adjoint(op.A(p) - y) + rho * (p - v)  # zero at the minimiser
    assert grad.abs().max() < 1e-9
    # and the objective is lower than at nearby points
    f = lambda z: 0.5 * ((op.A(z) - y) ** 2).sum() + 0.5 * rho * ((z - v) ** 2).sum()  # noqa: E731
    assert float(f(p)) <= float(f(p + 1e-3 * torch.randn(p.shape, generator=g, dtype=torch.float64)))


def test_prox_with_small_rho_inverts_noise_free_blur_away_from_zeros():
    """Far from the PSF's spectral zeros, a weak prox recovers the image (no boundary leakage)."""
    g = torch.Generator().manual_seed(3)
    x = torch.nn.functional.interpolate(torch.rand((1, 1, 8, 8), generator=g, dtype=torch.float64),
                                        size=(40, 48), mode="bilinear", align_corners=False)
    op = DefocusBlur(1.0)
    rec = op.prox(torch.zeros_like(x), op.A(x), 1e-8)
    assert (rec - x).abs().max() < 1e-3


def test_symmetric_padding_beyond_the_image():
    x = torch.arange(3.0)[None, None, None, :].expand(1, 1, 2, 3).contiguous()
    row = pad_symmetric(x, 4)[0, 0, 0].tolist()
    assert row == [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]  # … c b a | a b c | c b a a …


def test_synthesize_is_quantised_and_deterministic():
    x = torch.rand((1, 3, 20, 20), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = synthesize_defocus(x, 3.0, 0.01, torch.Generator().manual_seed(5))
    b = synthesize_defocus(x, 3.0, 0.01, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert torch.allclose(a * 255, (a * 255).round()) and a.min() >= 0 and a.max() <= 1


def test_bad_radius():
    with pytest.raises(ValueError):
        disk_psf(-1)
    with pytest.raises(ValueError):
        disk_psf(float("nan"))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
@pytest.mark.parametrize("shape", [(1, 3, 37, 52), (2, 1, 64, 17)])
@pytest.mark.parametrize("radius", [0.0, 1.3, 4.0, 9.5])
def test_dct_prox_equals_the_mirrored_fft_reference(dtype, tol, shape, radius):
    """The CPU path (DCTs of the image) and the reference (FFTs of the mirrored image) are one solve."""
    g = torch.Generator().manual_seed(3)
    v, y = torch.rand(shape, generator=g, dtype=dtype), torch.rand(shape, generator=g, dtype=dtype)
    rho = torch.tensor([0.02, 0.5][:shape[0]], dtype=dtype)
    op = DefocusBlur(radius)
    fast, ref = op.prox_dct(v, y, rho), op.prox_fft(v, y, rho)
    assert fast.dtype == dtype and fast.shape == v.shape
    torch.testing.assert_close(fast, ref, atol=tol, rtol=0)
    torch.testing.assert_close(op.prox(v, y, rho), fast, atol=0, rtol=0)  # the CPU default


@pytest.mark.parametrize("radius", [0.0, 1.3, 4.0, 30.0])
def test_blur_from_the_transform_is_the_convolution(radius):
    """A v from dct2(v) equals the padded convolution, also when the disk is wider than the image."""
    v = torch.rand((2, 3, 21, 34), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    op = DefocusBlur(radius)
    torch.testing.assert_close(op.A_dct(dct2(v)), op.A(v), atol=1e-12, rtol=0)


def test_dct_prox_takes_views_and_follows_a_changed_photo():
    g = torch.Generator().manual_seed(4)
    big = torch.rand((1, 3, 40, 50), generator=g, dtype=torch.float64)
    v, y = big[..., 3:30, 5:44], torch.rand((1, 3, 27, 39), generator=g, dtype=torch.float64)
    op = DefocusBlur(2.5)
    torch.testing.assert_close(op.prox_dct(v, y, 0.1), op.prox_fft(v, y, 0.1), atol=1e-10, rtol=0)
    y.mul_(0.5)  # in place: the cached transform of y must not be reused
    torch.testing.assert_close(op.prox_dct(v, y, 0.1), op.prox_fft(v, y, 0.1), atol=1e-10, rtol=0)


def test_prox_with_autograd_uses_the_differentiable_reference():
    v = torch.rand((1, 1, 16, 16), dtype=torch.float64, requires_grad=True)
    y = torch.rand((1, 1, 16, 16), dtype=torch.float64)
    DefocusBlur(2.0).prox(v, y, 0.1).sum().backward()
    assert v.grad is not None and torch.isfinite(v.grad).all()
