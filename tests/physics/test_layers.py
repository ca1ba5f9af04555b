import numpy as np
import pytest

from scoredeblur.bench.cases import Degradation, build_cases, centre_crop
from scoredeblur.physics.blind import IDENTIFIABLE_RADIUS, make_physics
from scoredeblur.physics.estimate import luma
from scoredeblur.physics.layers import EDGE_TILE, edge_radius_tiles, layered_radius_tiles
from scoredeblur.physics.varying import VaryingDefocusBlur


@pytest.fixture(scope="module")
def crops():
    from skimage import data

    return [(name, centre_crop(img, 256)) for name, img in
            [("astronaut", data.astronaut()), ("coffee", data.coffee()), ("chelsea", data.chelsea())]]


def _case(crops, deg):
    return build_cases(crops, [deg], sizes=("full",))


def test_edges_read_sharp_tiles_sharper_than_blurred_ones(crops):
    for case in _case(crops, Degradation(None, varying=(0.5, 6.0))):
        edge = edge_radius_tiles(luma(case.blurry))
        true = case.radius_map[EDGE_TILE // 2::EDGE_TILE, EDGE_TILE // 2::EDGE_TILE][:edge.shape[0], :edge.shape[1]]
        known = ~np.isnan(edge)
        assert np.nanmedian(edge[known & (true < 1)]) + 1 < np.nanmedian(edge[known & (true > 5)])


def test_subject_over_background_is_found_where_the_tile_fits_decline(crops):
    found = 0
    for case in _case(crops, Degradation(None, varying=(0.5, 6.0))):
        layered = layered_radius_tiles(case.blurry, IDENTIFIABLE_RADIUS)
        if layered is None:
            continue
        found += 1
        radii, size = layered
        true = case.radius_map[size // 2::size, size // 2::size][:radii.shape[0], :radii.shape[1]]
        assert abs(radii.max() - 6.0) <= 0.5                           # the background's radius
        assert np.abs(radii - true).mean() < 1.5
        physics = make_physics(case.blurry, "layers")
        assert isinstance(physics, VaryingDefocusBlur) and physics.max_radius == pytest.approx(radii.max())
    assert found >= 2


@pytest.mark.parametrize("deg", [Degradation(2.0), Degradation(3.0), Degradation(5.0), Degradation(0.0)])
def test_uniform_blur_and_sharp_photos_are_not_split_into_layers(crops, deg):
    for case in _case(crops, deg):
        assert layered_radius_tiles(case.blurry, IDENTIFIABLE_RADIUS) is None, case.name


def test_layers_is_opt_in(crops):
    case = _case(crops, Degradation(None, varying=(0.5, 6.0)))[0]
    assert layered_radius_tiles(case.blurry, IDENTIFIABLE_RADIUS) is not None
    default = make_physics(case.blurry)
    assert not np.array_equal(getattr(default, "radius_map", None), make_physics(case.blurry, "layers").radius_map)
