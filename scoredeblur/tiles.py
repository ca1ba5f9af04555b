"""Tile geometry: covering an image with overlapping tiles (the tiled score and the tile
estimator both use it)."""
from __future__ import annotations


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets that cover [0, length) with tiles of ``tile`` overlapping by at least ``overlap``."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    n = -(-(length - tile) // stride) + 1
    # Spread the tiles evenly so every overlap is at least ``overlap`` wide.
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def tile_count(shape: tuple[int, int], tile: int, overlap: int) -> int:
    """How many tiles cover an (H, W) image."""
    return len(tile_starts(shape[0], tile, overlap)) * len(tile_starts(shape[1], tile, overlap))
