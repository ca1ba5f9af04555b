"""What scoredeblur refuses, and how: one place to read every refusal. Each case must fail with a
clear error naming the problem, before any long work, never with a silently wrong result."""
import numpy as np
import pytest
import torch

import scoredeblur
from scoredeblur.errors import InputError
from scoredeblur.physics.blind import make_physics
from scoredeblur.physics.defocus import DefocusBlur

FAST = dict(steps=2, tile=32, overlap=8)
IMG = np.random.default_rng(0).random((24, 28, 3)).astype(np.float32)


@pytest.mark.parametrize("radius", [np.float32(3), np.int64(3), np.float64(2.5), 3, 2.5, np.array(3.0),
                                    torch.tensor(3.0)])
def test_psf_radius_of_any_numeric_type_is_a_number(radius):
    op = make_physics(IMG, radius)
    assert isinstance(op, DefocusBlur) and op.radius == float(radius)


@pytest.mark.parametrize("radius, match", [("3", "psf_radius must be"), ("nope", "psf_radius must be"),
                                           (float("nan"), "finite"), (-1.0, "finite number >= 0"),
                                           (1e6, "larger than half the image"), (True, "psf_radius must be")])
def test_bad_psf_radius_is_refused_whatever_the_image_size(radius, match):
    with pytest.raises(InputError, match=match):
        make_physics(IMG, radius)  # a 24×28 image: below the per-tile size, which used to skip the check


def test_bad_radius_maps_are_refused():
    with pytest.raises(InputError, match="shape"):
        make_physics(IMG, np.ones((10, 10)))
    with pytest.raises(InputError, match="finite"):
        make_physics(IMG, np.full(IMG.shape[:2], np.nan))
    with pytest.raises(InputError, match="larger than half"):
        make_physics(IMG, np.full(IMG.shape[:2], 1e5))


@pytest.mark.parametrize("kw, match", [
    (dict(loop="gpu"), "loop must be"),
    (dict(kernel="cpp"), "kernel must be"),
    (dict(loop="cpp", kernel="triton"), "needs loop='python'"),
    (dict(loop="cpp", generator=torch.Generator()), "pass seed="),
    (dict(loop="cpp", callback=print), "cannot call a callback"),
])
def test_loop_and_kernel_combinations_are_checked_first(kw, match, tiny_model_path):
    with pytest.raises(InputError, match=match):
        scoredeblur.deblur(IMG, model=tiny_model_path, **FAST, **kw)
