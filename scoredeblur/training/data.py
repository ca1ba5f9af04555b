"""Training patches from a folder of sharp images (random crops, flips, 90° turns)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from scoredeblur.io.images import read_folder_uint8


def load_image_folder(root: str | Path, channels: int, min_size: int) -> list[torch.Tensor]:
    """Every image under ``root`` (recursively) as a uint8 (C, H, W) tensor; small ones skipped."""
    images = []
    for _, arr in read_folder_uint8(root, "training data folder"):
        arr = _to_channels(arr, channels)
        if min(arr.shape[:2]) >= min_size:
            images.append(torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))))
    if not images:
        raise ValueError(f"no usable images (at least {min_size} px on each side) under {root}")
    return images


def _to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = arr[:, :, :3] if arr.shape[2] == 4 else arr
    if channels == 3 and arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if channels == 1 and arr.shape[2] == 3:
        grey = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.clip(grey + 0.5, 0, 255).astype(np.uint8)[:, :, None]
    return arr


class PatchSampler:
    """Draws batches of float patches in [0, 1]; every draw comes from the generator passed in."""

    def __init__(self, images: list[torch.Tensor], patch_size: int):
        if not images:
            raise ValueError("PatchSampler needs at least one image")
        self.images = images
        self.patch_size = patch_size

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        p = self.patch_size
        idx = torch.randint(len(self.images), (batch_size,), generator=generator).tolist()
        u = torch.rand(batch_size, 2, generator=generator).tolist()
        aug = torch.randint(8, (batch_size,), generator=generator).tolist()
        out = []
        for i, (uy, ux), a in zip(idx, u, aug):
            img = self.images[i]
            h, w = img.shape[-2:]
            y, x = int(uy * (h - p + 1)), int(ux * (w - p + 1))
            patch = img[:, y:y + p, x:x + p]
            if a & 1:
                patch = patch.flip(-1)
            patch = torch.rot90(patch, a >> 1, dims=(-2, -1))
            out.append(patch)
        return torch.stack(out).float() / 255.0
