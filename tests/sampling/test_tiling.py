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


def test_still_tiles_are_not_evaluated_and_have_zero_score():
    g = torch.Generator().manual_seed(1)
    x = torch.rand((1, 3, 96, 160), generator=g, dtype=torch.float64)
    still = torch.zeros(96, 160, dtype=torch.bool)
    still[:, :112] = True  # columns of tiles start at 0, 48, 96: the first two hold only still pixels
    rec = Recorder(local_score)
    tiled = TiledScore(rec, tile=64, overlap=16, batch=1, still=still)
    out = tiled(x, 0.5)
    full = TiledScore(local_score, tile=64, overlap=16, batch=1)(x, 0.5)
    assert tiled.skipped == 4 and tiled.evaluated == 2  # 2 rows × 3 columns of tiles
    assert rec.max_batch == 1 and tiled.active_share(96, 160) == 1 / 3
    assert out[..., :96].abs().max() == 0           # covered by skipped tiles only
    assert torch.equal(out[..., 112:], full[..., 112:])  # covered by evaluated tiles only
    assert torch.isfinite(out).all()


def test_a_still_single_tile_image_is_not_evaluated():
    def boom(x, s):
        raise AssertionError("the network was called on a still tile")
    tiled = TiledScore(boom, tile=64, overlap=8, still=torch.ones(40, 50, dtype=torch.bool))
    assert tiled(torch.rand(1, 3, 40, 50), 0.3).abs().max() == 0 and tiled.skipped == 1


def test_still_mask_must_match_the_image():
    tiled = TiledScore(local_score, tile=64, overlap=8, still=torch.ones(40, 50, dtype=torch.bool))
    with pytest.raises(ValueError, match="does not match"):
        tiled(torch.rand(1, 3, 41, 50), 0.3)


def test_progress_hears_of_every_evaluated_tile_and_only_those():
    still = torch.zeros(96, 160, dtype=torch.bool)
    still[:, :112] = True
    heard = []
    tiled = TiledScore(local_score, tile=64, overlap=16, batch=4, still=still, on_tiles=heard.append)
    tiled(torch.rand((1, 3, 96, 160), dtype=torch.float64), 0.5)
    tiled(torch.rand((1, 3, 96, 160), dtype=torch.float64), 0.2)
    assert sum(heard) == tiled.evaluated == 4 and tiled.skipped == 8
    single = []
    TiledScore(local_score, tile=64, on_tiles=single.append)(torch.rand((2, 3, 30, 30)), 0.5)
    assert single == [2]


@pytest.mark.parametrize("length", [17, 256, 257, 289, 321, 683, 1024, 3000, 4001])
def test_right_sized_tiles_cover_with_as_few_tiles_and_fewer_pixels(length):
    from scoredeblur.tiles import tile_size

    size = tile_size(length, 256, 32)
    starts, full = tile_starts(length, size, 32), tile_starts(length, 256, 32)
    assert size <= 256 and len(starts) == len(full)
    assert starts[0] == 0 and starts[-1] + size == length                       # covers, ends on the edge
    assert all(b - a <= size - 32 for a, b in zip(starts, starts[1:]))           # overlaps stay >= 32
    assert len(full) == 1 and size == length or size % 8 == 0                    # no U-Net padding
    assert len(starts) * size <= len(full) * min(length, 256)


@pytest.mark.parametrize("length", [17, 256, 257, 300, 321, 481, 683, 1024, 4001])
@pytest.mark.parametrize("overlap", [0, 8, 16, 32])
def test_moving_spans_cover_overlap_and_stay_within_a_tile(length, overlap):
    from scoredeblur.tiles import grid_phase, moving_spans

    layouts = set()
    for call in range(12):
        spans = moving_spans(length, 256, overlap, grid_phase(call)[0])
        layouts.add(tuple(spans))
        assert spans[0][0] == 0 and spans[-1][1] == length                       # covers, edge to edge
        assert all(b - a <= 256 for a, b in spans)                                # never more than a tile
        assert all(e1 - s2 == overlap for (_, e1), (s2, _) in zip(spans, spans[1:]))  # exactly the overlap
        if len(spans) > 1:
            assert min(b - a for a, b in spans) >= (256 - overlap) * 4 // 5 // 4   # no sliver
    assert len(layouts) == 1 if length <= 256 else len(layouts) > 6               # it moves (unless one tile)


def test_moving_grid_moves_at_every_call_and_matches_the_untiled_score_inside_tiles():
    g = torch.Generator().manual_seed(2)
    x = torch.rand((1, 3, 150, 203), generator=g, dtype=torch.float64)
    full = local_score(x, 0.5)
    tiled = TiledScore(local_score, tile=64, overlap=8, batch=2, moving=True)
    first, second = tiled(x, 0.5), tiled(x, 0.5)
    assert tiled.calls == 2 and tiled.tiles(150, 203, 0) != tiled.tiles(150, 203, 1)
    assert not torch.equal(first, second)  # the tile edges (replicate padding) fell elsewhere
    for out in (first, second):
        assert (out - full).abs().max() < 0.05 * full.abs().max()
    # Pixels at least 2 px (the score's reach) from every cut of a call's grid are exact.
    rows, cols = tiled.layout(150, 203, 0)
    interior = torch.ones(150, 203, dtype=torch.bool)
    for (a, b), (c, d) in zip(rows, rows[1:]):
        interior[max(0, c - 2):b + 2] = False
    for (a, b), (c, d) in zip(cols, cols[1:]):
        interior[:, max(0, c - 2):b + 2] = False
    assert interior.sum() > 0.5 * interior.numel()
    assert (first - full)[..., interior].abs().max() < 1e-12
    const = torch.full((1, 3, 150, 203), 0.37, dtype=torch.float64)
    assert tiled(const, 0.5).abs().max() < 1e-12


def test_moving_grid_is_deterministic_and_bounded_in_memory():
    x = torch.rand((1, 3, 200, 300), generator=torch.Generator().manual_seed(3))
    runs = []
    for _ in range(2):
        rec = Recorder(local_score)
        tiled = TiledScore(rec, tile=64, overlap=8, batch=4, moving=True)
        runs.append(torch.stack([tiled(x, s) for s in (1.0, 0.5, 0.2)]))
        assert rec.max_batch <= 4 and rec.max_pixels <= 4 * 64 * 64
    assert torch.equal(*runs)


def test_moving_grid_sampling_has_no_seams_on_a_constant_image():
    y = torch.full((1, 1, 90, 130), 0.6, dtype=torch.float64)
    score = TiledScore(lambda x, s: -(x - 0.6) / (1e-8 + s**2), tile=48, overlap=6, batch=2, moving=True)
    x = pc_sample(score, VESDE(), y, SamplerConfig(steps=60, corrector=True), torch.Generator().manual_seed(0))
    assert (x - 0.6).abs().max() < 1e-3


def test_moving_grid_progress_counts_what_the_calls_evaluate_with_still_tiles():
    still = torch.zeros(96, 200, dtype=torch.bool)
    still[:, :120] = True
    heard = []
    tiled = TiledScore(local_score, tile=64, overlap=8, batch=1, still=still, on_tiles=heard.append, moving=True)
    planned = tiled.active_tiles(96, 200, calls=5)
    x = torch.rand((1, 3, 96, 200), dtype=torch.float64)
    outs = [tiled(x, 0.5) for _ in range(5)]
    assert sum(heard) == tiled.evaluated == planned and tiled.skipped > 0
    total = sum(len(tiled.tiles(96, 200, k)) for k in range(5))
    assert tiled.skipped + tiled.evaluated == total
    assert tiled.active_share(96, 200) == pytest.approx(planned / total)
    for k, out in enumerate(outs):  # where only skipped tiles reach, the score is exactly 0
        cols = tiled.layout(96, 200, k)[1]
        covered_by_still = [b for (a, b) in cols if b <= 120]
        if covered_by_still:
            edge = min(a for (a, b) in cols if b > 120)  # where the first evaluated tile begins
            assert out[..., :edge].abs().max() == 0
