"""Tiled score evaluation: bounded memory for any image size, no seams.

The sampler's state stays whole; only the network call is split into overlapping tiles, run a
batch at a time and blended with weights that ramp linearly across each overlap. Because every
step's noise is drawn for the whole image, tiles never disagree about the randomness, so no
seams appear between independently sampled regions.

``moving=True`` (what ``deblur`` runs): the grid moves at every call (``tiles.grid_phase``), so
a tile edge, where the network sees less context, falls on different pixels at each step and the
next steps smooth out what one left; an 8-px overlap then does what a fixed grid needed 32 px
for, and the network evaluates 1.08 pixels per image pixel at 12 MP against 1.33 (docs/RESULTS.md,
"Photo-sized calls"). ``moving=False``: one fixed, right-sized grid (``tiles.tile_starts``).

``still``: an H×W mask of pixels with no blur to undo (the operator's radius is 0 there). A tile
that holds only such pixels is not evaluated: its score is 0, so the sampler's iterate stays what
the consistency makes it there, the photo itself (see ``still_mask``). Partly still tiles are
evaluated as usual and blend into skipped ones across the overlap like any two tiles.
"""
from __future__ import annotations

from typing import Callable

import torch

from scoredeblur.tiles import grid_phase, moving_spans, tile_size, tile_starts


def _ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool, dtype, device) -> torch.Tensor:
    t = torch.arange(length, dtype=dtype, device=device) + 0.5
    w = torch.ones(length, dtype=dtype, device=device)
    if overlap > 0:
        if ramp_start:
            w = torch.minimum(w, t / overlap)
        if ramp_end:
            w = torch.minimum(w, (length - t) / overlap)
    return w


class TiledScore:
    """Wraps a score function S(x, σ) so that it is evaluated on tiles of at most ``tile`` pixels."""

    def __init__(self, score, tile: int = 256, overlap: int = 32, batch: int = 4, still: torch.Tensor | None = None,
                 on_tiles: Callable[[int], None] | None = None, moving: bool = False):
        if tile < 16 or not 0 <= overlap < tile // 2 + 1 or batch < 1:
            raise ValueError(f"need tile >= 16, 0 <= overlap <= tile/2, batch >= 1 (got {tile}, {overlap}, {batch})")
        if still is not None and still.ndim != 2:
            raise ValueError(f"still must be an H×W mask, got shape {tuple(still.shape)}")
        self.score, self.tile, self.overlap, self.batch = score, tile, overlap, batch
        self.still, self.moving = still, moving
        self._still_tiles: dict[tuple[int, int, int, int], bool] = {}
        self.on_tiles = on_tiles  # called with the network evaluations of tiles each call made (progress)
        # Network evaluations per tile in one call of ``score``: more than one for a flip ensemble.
        self.evaluations = getattr(score, "evaluations", 1)
        self.calls = 0       # calls of this score so far: the moving grid's position
        self.evaluated = 0   # network evaluations of tiles so far (work done, for progress and reports)
        self.skipped = 0     # tiles not evaluated because they hold no blur

    def _is_still(self, y0: int, x0: int, th: int, tw: int) -> bool:
        # Asked for every tile at every step: decided once per tile (the mask does not change).
        if self.still is None:
            return False
        key = (y0, x0, th, tw)
        if key not in self._still_tiles:
            self._still_tiles[key] = bool(self.still[y0:y0 + th, x0:x0 + tw].all())
        return self._still_tiles[key]

    def tile_shape(self, h: int, w: int) -> tuple[int, int]:
        """The fixed grid's tile size for an H×W image: at most ``tile``, no larger than covering it needs."""
        return tile_size(h, self.tile, self.overlap), tile_size(w, self.tile, self.overlap)

    def layout(self, h: int, w: int, call: int = 0) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The row and column spans [start, end) of the tiles at network call ``call``."""
        if self.moving:
            py, px = grid_phase(call)
            return moving_spans(h, self.tile, self.overlap, py), moving_spans(w, self.tile, self.overlap, px)
        th, tw = self.tile_shape(h, w)
        return ([(y0, y0 + th) for y0 in tile_starts(h, th, self.overlap)],
                [(x0, x0 + tw) for x0 in tile_starts(w, tw, self.overlap)])

    def tiles(self, h: int, w: int, call: int = 0) -> list[tuple[int, int, int, int]]:
        """The tiles (y0, x0, height, width) that cover an H×W image at network call ``call``."""
        rows, cols = self.layout(h, w, call)
        return [(y0, x0, y1 - y0, x1 - x0) for y0, y1 in rows for x0, x1 in cols]

    def active_tiles(self, h: int, w: int, calls: int = 1) -> int:
        """How many tiles of an H×W image the next ``calls`` calls will evaluate (all of them
        without a still mask)."""
        return sum(not self._is_still(*t) for k in range(self.calls, self.calls + calls) for t in self.tiles(h, w, k))

    def active_share(self, h: int, w: int) -> float:
        """Share of the tiles evaluated so far (before the first call: of those the first will evaluate)."""
        if self.evaluated or self.skipped:
            active = self.evaluated / self.evaluations
            return active / (active + self.skipped)
        return self.active_tiles(h, w) / len(self.tiles(h, w))

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        n, c, h, w = x.shape
        if self.still is not None and tuple(self.still.shape) != (h, w):
            raise ValueError(f"still mask {tuple(self.still.shape)} does not match the image {(h, w)}")
        call, self.calls = self.calls, self.calls + 1
        if h <= self.tile and w <= self.tile and n <= self.batch:
            if self._is_still(0, 0, h, w):
                self.skipped += n
                return torch.zeros_like(x)
            result = self.score(x, sigma)
            self._done(n)
            return result
        rows, cols = self.layout(h, w, call)
        # Blend ramps per row and per column of tiles; a tile's weight is their outer product.
        wys = [_ramp(y1 - y0, self.overlap, i > 0, i < len(rows) - 1, x.dtype, x.device) for i, (y0, y1) in enumerate(rows)]
        wxs = [_ramp(x1 - x0, self.overlap, j > 0, j < len(cols) - 1, x.dtype, x.device) for j, (x0, x1) in enumerate(cols)]
        out = torch.zeros_like(x)
        norm = torch.zeros((n, 1, h, w), dtype=x.dtype, device=x.device)
        # Tiles of one call may differ in size (the moving grid's end pieces): batch equal ones.
        by_shape: dict[tuple[int, int], list] = {}
        for b in range(n):
            for (y0, _), wy in zip(rows, wys):
                for (x0, _), wx in zip(cols, wxs):
                    if self._is_still(y0, x0, len(wy), len(wx)):  # still takes part in the blend, with a zero score
                        norm[b, :, y0:y0 + len(wy), x0:x0 + len(wx)] += wy[:, None] * wx[None, :]
                        self.skipped += 1
                    else:
                        by_shape.setdefault((len(wy), len(wx)), []).append((b, y0, x0, wy, wx))
        for group in by_shape.values():
            for k in range(0, len(group), self.batch):
                self._run(x, sigma, group[k:k + self.batch], out, norm)
        return out / norm

    def _run(self, x, sigma, chunk, out, norm) -> None:
        th, tw = len(chunk[0][3]), len(chunk[0][4])
        result = self.score(torch.stack([x[b, :, y0:y0 + th, x0:x0 + tw] for b, y0, x0, _, _ in chunk]), sigma)
        for r, (b, y0, x0, wy, wx) in zip(result, chunk):
            wgt = wy[:, None] * wx[None, :]  # formed per tile: all of them at once would be 88 MB at 12 MP
            out[b, :, y0:y0 + th, x0:x0 + tw] += r * wgt
            norm[b, :, y0:y0 + th, x0:x0 + tw] += wgt
        self._done(len(chunk))

    def _done(self, tiles: int) -> None:
        self.evaluated += tiles * self.evaluations
        if self.on_tiles is not None:
            self.on_tiles(tiles * self.evaluations)


def still_mask(physics, shape: tuple[int, int]) -> torch.Tensor | None:
    """Pixels whose blur radius is 0 (None when the operator has blur everywhere, or there is none).

    There the operator is the identity, the plug-and-play iterate starts at the photo and the
    proximal step with a zero score keeps it there: such pixels come back as they went in."""
    if physics is None:
        return None
    rmap = getattr(physics, "radius_map", None)
    if rmap is None:
        return torch.full(shape, physics.max_radius == 0)
    still = torch.as_tensor(rmap) == 0
    return still if bool(still.any()) else None


def default_tile_batch(device: torch.device | str) -> int:
    """Tiles per network call: one on a CPU, where a batch of 4 costs 1.5× more per tile (caches
    overflow: 329 vs 219 ms per 256² tile), four on a GPU, which needs the parallel work."""
    return 1 if torch.device(device).type == "cpu" else 4
