import numpy as np
import pytest
import torch

from scoredeblur.physics import varying
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.varying import (
    VaryingDefocusBlur,
    extend,
    largest_prime_factor,
    radius_map_from_tiles,
    solve_length,
    subtract_from_data,
)


def _two_depths(h=64, w=80, near=0.5, far=5.0):
    """Left part in focus, right part defocused, a short ramp between."""
    t = np.clip((np.arange(w) - 30) / 8.0, 0, 1)
    return np.broadcast_to(near + (far - near) * t, (h, w)).copy()


def _image(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float64)


def test_adjoint_is_exact():
    op = VaryingDefocusBlur(_two_depths())
    x, v = _image((1, 3, 64, 80), 0), _image((1, 3, 64, 80), 1)
    assert float((op.A(x) * v).sum()) == pytest.approx(float((x * op.A_adjoint(v)).sum()), rel=1e-10)


def test_constant_map_is_the_uniform_operator():
    op, uni = VaryingDefocusBlur(np.full((40, 48), 3.0)), DefocusBlur(3.0)
    x, y = _image((1, 3, 40, 48), 2), _image((1, 3, 40, 48), 3)
    torch.testing.assert_close(op.A(x), uni.A(x))
    torch.testing.assert_close(op.prox(x, y, 0.05), uni.prox(x, y, 0.05))


def test_prox_keeps_the_truth_where_data_and_estimate_agree():
    """v = x and y = A x: the exact prox returns x. Mixing global uniform proxes fed the whole y
    does not (the in-focus part's data rings through the defocused level's inverse filter); each
    level fed only data its blur explains nearly does. It is exact where no pixel lies between
    two levels; otherwise those pixels' data, a mixture of two blurs, leaks a little."""
    op = VaryingDefocusBlur(_two_depths())
    x = torch.nn.functional.avg_pool2d(_image((1, 3, 64, 80), 4), 3, 1, 1)  # image-like correlation
    y = op.A(x)
    err = (op.prox(x, y, 1e-3) - x).abs()
    plain = sum(op._w(i, x) * op.ops[i].prox(x, y, 1e-3) for i in op.active)
    assert float(err[..., :, 45:].max()) < 0.03 * float((plain - x)[..., :, 45:].abs().max())  # away from the ramp
    assert float(err.mean()) < 0.05 * float((plain - x).abs().mean())
    on_levels = VaryingDefocusBlur(np.where(_two_depths() < 2.75, 0.5, 5.0))  # two depths, no pixel between
    y = on_levels.A(x)
    assert float((on_levels.prox(x, y, 1e-3) - x).abs().max()) < 1e-9


def test_bad_maps_are_refused():
    with pytest.raises(ValueError, match="radius_map"):
        VaryingDefocusBlur(np.full((4, 4), -1.0))
    with pytest.raises(ValueError, match="radius_map"):
        VaryingDefocusBlur(np.full((4, 4, 2), 1.0))


def test_tile_radii_interpolate_between_centres():
    m = radius_map_from_tiles(np.array([[1.0, 3.0]]), [0], [0, 64], 128, 100, 192)
    assert m.shape == (100, 192)
    assert m[50, 0] == pytest.approx(1.0) and m[50, -1] == pytest.approx(3.0)
    assert np.all(np.diff(m[50]) >= -1e-12)


def _exact_varying_blur(x: torch.Tensor, radius_per_column: np.ndarray) -> torch.Tensor:
    """Every pixel blurred by the disk of its own radius (here constant down each column)."""
    return torch.stack([DefocusBlur(float(r)).A(x)[..., j] for j, r in enumerate(radius_per_column)], dim=-1)


@pytest.mark.parametrize("lo,hi", [(1.0, 3.0), (0.0, 4.0), (0.5, 6.0), (0.0, 8.0), (0.0, 12.0)])
def test_blur_is_close_to_the_exact_per_pixel_disk_with_bounded_levels(lo, hi):
    from skimage import data

    from scoredeblur.physics.varying import MAX_LEVELS

    x = torch.from_numpy(data.astronaut()[100:164, 150:246].astype(np.float64) / 255).permute(2, 0, 1)[None]
    radii = np.linspace(lo, hi, x.shape[-1])
    op = VaryingDefocusBlur(np.broadcast_to(radii, x.shape[-2:]))
    assert len(op.ops) <= MAX_LEVELS  # the cost bound: however wide the range
    exact = _exact_varying_blur(x, radii)
    rel = float((op.A(x).double() - exact).norm() / (exact - x).norm())
    assert rel < 0.035, rel


def test_levels_are_half_a_pixel_apart_while_that_fits_and_bounded_beyond():
    from scoredeblur.physics.varying import LEVEL_STEP, MAX_LEVELS, blur_levels

    np.testing.assert_allclose(np.diff(blur_levels(1.2, 3.9)), LEVEL_STEP)
    for hi in (4.0, 8.0, 30.0):
        levels = blur_levels(0.0, hi)
        assert len(levels) == MAX_LEVELS and levels[0] == 0.0 and levels[-1] == pytest.approx(hi)
        assert np.all(np.diff(np.diff(levels)) > 0)  # finer at small radii


def test_weights_interpolate_the_map_and_sum_to_one():
    rmap = np.broadcast_to(np.linspace(0.0, 9.0, 50), (8, 50))
    op = VaryingDefocusBlur(rmap)
    w = op.weights
    torch.testing.assert_close(w.sum(0), torch.ones(8, 50))
    recovered = (w * torch.as_tensor(op.levels, dtype=w.dtype)[:, None, None]).sum(0)
    torch.testing.assert_close(recovered, torch.as_tensor(rmap, dtype=w.dtype), atol=1e-5, rtol=0)


def test_prox_keeps_no_per_level_copies_of_its_data():
    """Each level's data is made afresh at every call: holding its transform would cost one image
    per level (2.3 GB at 24 MP with 8 levels) and never be reused."""
    op = VaryingDefocusBlur(_two_depths())
    x, y = _image((1, 3, 64, 80), 7), _image((1, 3, 64, 80), 8)
    op.prox(x, y, 0.05)
    assert all(level._y_hat is None for level in op.ops)


def test_dct_eigenvalues_are_the_mirrored_spectrum():
    for radius in (0.0, 2.2, 7.0):
        op = DefocusBlur(radius)
        torch.testing.assert_close(op.eigenvalues(23, 31, torch.float64, "cpu"),
                                   op.otf(23, 31, torch.float64, "cpu")[:23, :31], atol=1e-12, rtol=0)


@pytest.mark.parametrize("rmap", [_two_depths(), _two_depths(near=0.0, far=9.0), np.full((64, 80), 2.5),
                                  _two_depths(h=61, w=83, near=0.0, far=4.0)],
                         ids=["soft-to-defocused", "in-focus-to-9px", "constant", "awkward-sides"])
def test_dct_prox_is_the_direct_prox(rmap):
    """The CPU path (one shared transform of v, A_l v from it) against the levels' convolutions and
    mirrored-FFT solves, with a radius larger than some of the image's features and a per-sample ρ;
    on prime sides both solve on the same extension."""
    op = VaryingDefocusBlur(rmap)
    v, y = _image((2, 3, *rmap.shape), 9), _image((2, 3, *rmap.shape), 10)
    rho = torch.tensor([0.02, 0.3], dtype=torch.float64)
    torch.testing.assert_close(op.prox_dct(v, y, rho), op.prox_direct(v, y, rho), atol=1e-10, rtol=0)
    torch.testing.assert_close(op.prox(v, y, rho), op.prox_dct(v, y, rho), atol=0, rtol=0)  # the CPU default


def test_sides_with_a_large_prime_factor_are_solved_on_the_next_seven_smooth_length():
    for n in (64, 80, 481, 1155, 3000, 4000):  # prime factors up to 37: the FFTs take them as they are
        assert solve_length(n, 9) == n
    for n, reach in ((866, 4), (683, 9), (61, 0), (1021, 12)):
        m = solve_length(n, reach)
        assert m >= n + reach and largest_prime_factor(m) <= 7
        assert all(largest_prime_factor(k) > 7 for k in range(n + reach, m))  # the smallest such
    assert [largest_prime_factor(n) for n in (1, 2, 866, 683, 1155)] == [1, 2, 433, 683, 11]


def test_the_extension_keeps_the_fixed_point_and_changes_the_solve_only_near_the_far_edges(monkeypatch):
    """On 61 × 83 (both prime) the prox solves on 72 × 96: at least twice the reach (5 px, the
    5-px disk's half kernel) more, mirrored, its last 5 px without data. Inside the image A_l v
    and the data are what they were, so v = x, y = A x is still returned exactly on a map whose
    pixels all sit on levels; the data-free strip changes the solve only near the bottom and right
    edges (against the solve on the image itself), fading as the inverse filter spreads it."""
    rmap = np.where(_two_depths(h=61, w=83) < 2.75, 0.5, 5.0)
    op = VaryingDefocusBlur(rmap)
    assert op.solve_shape(61, 83) == (72, 96)
    x = torch.nn.functional.avg_pool2d(_image((1, 3, 61, 83), 11), 3, 1, 1)
    torch.testing.assert_close(op.prox(x, op.A(x), 1e-3), x, atol=1e-9, rtol=0)
    v, y = _image((1, 3, 61, 83), 12), op.A(x) + 0.01 * _image((1, 3, 61, 83), 13)
    extended = op.prox(v, y, 0.05)
    monkeypatch.setattr(varying, "SLOW_PRIME", 10**9)
    assert op.solve_shape(61, 83) == (61, 83)
    on_image = op.prox(v, y, 0.05)
    diff = (extended - on_image).abs()
    assert float(diff[..., -3:, :].max()) > 1e-4 and float(diff[..., :, -3:].max()) > 1e-4  # a different boundary
    assert float(diff[..., :-10, :-10].max()) < 0.25 * float(diff.max())                    # ... felt near it
    assert float(diff[..., :-30, :-30].max()) < 1e-2 * float(diff.max())


@pytest.mark.parametrize("shape", [(61, 83), (72, 96), (61, 96), (72, 83)], ids=["none", "both", "right", "bottom"])
def test_data_minus_estimate_on_the_extension_needs_no_extended_copy_of_the_data(shape):
    """r ← extend(y) − r in place for 61 × 83 data and each kind of extension."""
    y, r = _image((2, 3, 61, 83), 14), _image((2, 3, *shape), 15)
    expected = extend(y, *r.shape[-2:]) - r
    got = subtract_from_data(y, r)
    assert got is r
    torch.testing.assert_close(got, expected, atol=0, rtol=0)
