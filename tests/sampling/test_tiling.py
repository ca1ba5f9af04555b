import pytest
import torch
import torch.nn.functional as F

from scoredeblur.sampling.sampler import SamplerConfig, pc_sample
from scoredeblur.sampling.sde import VESDE
from scoredeblur.sampling.tiling import TiledScore, tile_starts


def local_score(x, sigma):
    """A deterministic score with a 5-pixel footprint that maps constants to zero (a Laplacian)."""
    k = torch.tensor([[0, 0, 1, 0, 0], [0, 1, 2, 1, 0], [1, 2, -16, 2, 1], [0, 1, 2, 1, 0], [0, 0, 1, 0, 0]],
                     dtype=x.dtype) / 16
    c = x.shape[1]
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k.expand(c, 1, 5, 5), groups=c) / (1 + sigma)


class Recorder:
    def __init__(self, fn):
        self.fn, self.max_batch, self.max_pixels = fn, 0, 0

    def __call__(self, x, sigma):
        self.max_batch = max(self.max_batch, x.shape[0])
        self.max_pixels = max(self.max_pixels, x.shape[0] * x.shape[-1] * x.shape[-2])
        return self.fn(x, sigma)


@pytest.mark.parametrize("length,tile,overlap", [(100, 32, 8), (256, 256, 32), (257, 64, 16), (64, 64, 0)])
def test_tile_starts_cover_with_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    for a, b in zip(starts, starts[1:]):
        assert tile - (b - a) >= overlap


def test_tiled_equals_untiled_and_constant_stays_constant():
    g = torch.Generator().manual_seed(0)
    x = torch.rand((1, 3, 150, 203), generator=g, dtype=torch.float64)
    tiled = TiledScore(local_score, tile=64, overlap=16, batch=3)
    full = local_score(x, 0.5)
    out = tiled(x, 0.5)
    # Tile edges see replicate padding instead of their neighbours; the blending weights there are
    # ≤ 2.5/16 of the neighbour's, so the difference is small and confined to the overlaps.
    assert (out - full).abs().max() < 0.05 * full.abs().max()
    interior = (out - full)[..., 5:38, 5:38]  # covered by one tile only, away from its edges
    assert interior.abs().max() < 1e-12
    const = torch.full((1, 3, 150, 203), 0.37, dtype=torch.float64)
    assert tiled(const, 0.5).abs().max() < 1e-12


def test_tiled_sampling_has_no_seams_on_a_constant_image():
    sde = VESDE()
    y = torch.full((1, 1, 90, 130), 0.6, dtype=torch.float64)
    # Prior score of a constant image: pulls toward 0.6 at every level.
    score = TiledScore(lambda x, s: -(x - 0.6) / (1e-8 + s**2), tile=48, overlap=12, batch=2)
    x = pc_sample(score, sde, y, SamplerConfig(steps=60, corrector=True), torch.Generator().manual_seed(0))
    assert (x - 0.6).abs().max() < 1e-3


def test_memory_is_bounded_by_the_tile_batch():
    for size in [(64, 64), (200, 300), (520, 700)]:
        rec = Recorder(local_score)
        TiledScore(rec, tile=64, overlap=16, batch=4)(torch.rand(1, 3, *size), 1.0)
        assert rec.max_batch <= 4 and rec.max_pixels <= 4 * 64 * 64


def test_bad_tiling_arguments():
    with pytest.raises(ValueError):
        TiledScore(local_score, tile=8)
    with pytest.raises(ValueError):
        TiledScore(local_score, tile=64, overlap=60)
