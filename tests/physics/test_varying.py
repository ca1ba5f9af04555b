import numpy as np
import pytest
import torch

from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.varying import VaryingDefocusBlur, radius_map_from_tiles


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
    level fed only data its blur explains does, up to the transition ramp."""
    op = VaryingDefocusBlur(_two_depths())
    x = torch.nn.functional.avg_pool2d(_image((1, 3, 64, 80), 4), 3, 1, 1)  # image-like correlation
    y = op.A(x)
    err = (op.prox(x, y, 1e-3) - x).abs()
    plain = sum(op._w(i, x) * op.ops[i].prox(x, y, 1e-3) for i in op.active)
    assert float(err[..., :, 45:].max()) < 1e-6      # the defocused side, away from the ramp
    assert float(err.mean()) < 0.1 * float((plain - x).abs().mean())


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
