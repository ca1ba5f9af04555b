"""Every blur operator of the package keeps the ``BlurOperator`` contract: the adjoint is exact,
the prox minimises its objective (exactly, or — for the depth-varying mixture — far better than
its input does) and the truth is its fixed point."""
import numpy as np
import pytest
import torch

from scoredeblur.physics.base import BlurOperator
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.varying import VaryingDefocusBlur

H, W = 40, 52


def _two_depths():
    t = np.clip((np.arange(W) - 20) / 8.0, 0, 1)
    return np.broadcast_to(0.5 + 4.5 * t, (H, W)).copy()


OPERATORS = {  # name → (operator, prox exact everywhere)
    "uniform r0": (lambda: DefocusBlur(0.0), True),
    "uniform r2.5": (lambda: DefocusBlur(2.5), True),
    "uniform r6": (lambda: DefocusBlur(6.0), True),
    "varying, constant map": (lambda: VaryingDefocusBlur(np.full((H, W), 3.0)), True),
    "varying, two depths": (lambda: VaryingDefocusBlur(_two_depths()), False),
}


def _image(seed, smooth=False):
    x = torch.rand((2, 3, H, W), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.nn.functional.avg_pool2d(x, 3, 1, 1) if smooth else x


@pytest.fixture(params=sorted(OPERATORS))
def operator(request):
    make, exact = OPERATORS[request.param]
    return make(), exact


def test_keeps_the_protocol(operator):
    op, _ = operator
    assert isinstance(op, BlurOperator)
    assert op.max_radius >= 0


def test_model_error_is_zero_exactly_where_the_operator_is_exact(operator):
    # The consistency adds model_error to the photo's noise: an exact operator must not loosen it.
    op, exact = operator
    assert (op.model_error == 0) == exact
    assert 0 <= op.model_error < 0.05


def test_a_mask_on_the_levels_is_mixed_without_model_error():
    # Radius 0 around kept highlights and one uniform radius elsewhere: no pixel between levels.
    rmap = np.full((H, W), 4.0)
    rmap[10:20, 10:30] = 0.0
    assert VaryingDefocusBlur(rmap).model_error == 0.0
    rmap[25:, :] = 1.25  # a second depth, between the levels
    assert VaryingDefocusBlur(rmap).model_error > 0


def test_model_error_grows_with_the_range_the_map_mixes():
    errors = [VaryingDefocusBlur(np.tile(np.linspace(2.0, 2.0 + span, W), (H, 1))).model_error
              for span in (0.3, 1.0, 2.0, 4.0, 8.0)]
    assert all(a < b for a, b in zip(errors[:3], errors[1:4])) and errors[3] == errors[4]


def test_adjoint_is_exact(operator):
    op, _ = operator
    x, v = _image(0), _image(1)
    assert float((op.A(x) * v).sum()) == pytest.approx(float((x * op.A_adjoint(v)).sum()), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("rho", [1e-3, 0.1, 10.0])
def test_prox_minimises_its_objective(operator, rho):
    op, exact = operator
    x, v = _image(2, smooth=True), _image(3)
    y = op.A(x) + 0.01 * _image(4)
    p = op.prox(v, y, rho)
    grad = lambda z: op.A_adjoint(op.A(z) - y) + rho * (z - v)  # noqa: E731  zero at the minimiser
    f = lambda z: float(0.5 * ((op.A(z) - y) ** 2).sum() + 0.5 * rho * ((z - v) ** 2).sum())  # noqa: E731
    if exact:
        assert float(grad(p).abs().max()) < 1e-9
        assert f(p) <= f(v) and f(p) <= f(p + 1e-3 * _image(5))
    else:  # the mixture: close to the minimiser
        assert float(grad(p).norm()) < 0.1 * float(grad(v).norm())
        assert f(p) <= f(v)


def test_the_truth_is_a_fixed_point(operator):
    op, exact = operator
    x = _image(6, smooth=True)
    err = (op.prox(x, op.A(x), 1e-3) - x).abs()
    assert float(err.max() if exact else err.mean()) < (1e-9 if exact else 5e-3)
