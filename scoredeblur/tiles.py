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


def tile_size(length: int, tile: int, overlap: int, multiple: int = 8) -> int:
    """The smallest tile (a multiple of ``multiple``, at most ``tile``) that covers ``length`` with
    as few tiles as ``tile`` itself would. The network's work is the pixels of its tiles: 321 rows
    take two tiles of 184 instead of two of 256 overlapping by 191, so a 481×321 photo costs 1.9×
    fewer network pixels, 1024×768 1.3×, 12 MP 3 %. Multiples of 8 need no padding in the U-Net."""
    n = len(tile_starts(length, tile, overlap))
    if n == 1:
        return length
    needed = -(-(length + (n - 1) * overlap) // n)
    return min(tile, -(-needed // multiple) * multiple)

