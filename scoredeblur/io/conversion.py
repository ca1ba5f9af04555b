"""Convert what users pass (numpy, PIL, torch, a path) to a float tensor and back again.

The working form is (1, C, H, W) float32 in [0, 1] with C = 1 or 3; an alpha channel is held
aside and re-attached untouched; the result comes back in the caller's kind, dtype and device.

The rules for pixel values (anything else is refused, never clipped or rescaled silently):

* uint8: white = 255; uint16: white = 65535.
* float (numpy, torch, PIL "F"): values in [0, 1] (half a 16-bit step of rounding allowed).
* PIL "L", "LA", "RGB", "RGBA", "P", "1": 8-bit; "I;16", "I;16B", "I;16L": 16-bit; "I" (32-bit
  integers): 16-bit data, values in 0..65535; an "I" image whose values all lie in 0..255 has
  no defined white level and is refused (convert it to "L" or "I;16").
* numpy arrays are H×W or H×W×C. A shape that reads as a tiny image but as a plausible C×H×W
  array too (H and C both ≤ 4, such as (3, 8, 3)) is refused as ambiguous.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from scoredeblur.errors import InputError, InputTypeError
from scoredeblur.io.images import ImageData, read_image

FLOAT_TOLERANCE = 0.5 / 65535   # rounding slack around [0, 1] for float images
PIL_8BIT = ("L", "LA", "RGB", "RGBA")
PIL_16BIT = ("I;16", "I;16B", "I;16L")


@dataclass
class Prepared:
    x: torch.Tensor                 # (1, C, H, W) float32 in [0, 1], C in (1, 3)
    alpha: np.ndarray | None        # (H, W) in the input's own dtype, re-attached as-is
    kind: str                       # "numpy" | "pil" | "torch" | "path"
    dtype: Any                      # numpy dtype or torch dtype of the input
    layout: str                     # "HW", "HWC", "CHW" or "NCHW"
    pil_mode: str | None = None
    meta: ImageData | None = None   # ICC/EXIF of a file input
    device: torch.device | None = None  # where a tensor input lived


def prepare(img: Any) -> Prepared:
    if isinstance(img, (str, os.PathLike)):
        data = read_image(Path(img))
        prep = _from_numpy(data.pixels, "path", check_layout=False)
        prep.meta = data
        return prep
    if isinstance(img, Image.Image):
        return _from_pil(img)
    if isinstance(img, torch.Tensor):
        return _from_torch(img)
    if isinstance(img, np.ndarray):
        return _from_numpy(img, "numpy")
    raise InputTypeError(f"img must be a numpy array, PIL image, torch tensor or path, not {type(img).__name__}")


def _from_pil(img: Image.Image) -> Prepared:
    mode = img.mode
    # Palette, bilevel, CMYK and other modes come back as the 8-bit image they decode to.
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode == "1":
        img = img.convert("L")
    elif mode not in (*PIL_8BIT, *PIL_16BIT, "I", "F"):
        img = img.convert("RGB")
    arr = np.asarray(img)
    if mode == "I" or mode in PIL_16BIT:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 65535:
            raise InputError(f"PIL mode {mode!r} image has values {lo}..{hi}; 16-bit data must lie in 0..65535")
        if mode == "I" and hi <= 255:
            raise InputError("PIL mode 'I' image with every value in 0..255: its white level is ambiguous; "
                             "convert it to 'L' for 8-bit data or 'I;16' for 16-bit data")
        arr = arr.astype(np.uint16)
    prep = _from_numpy(arr, "pil", check_layout=False)
    prep.pil_mode = mode
    return prep


def _check_float_range(lo: float, hi: float) -> None:
    if lo < -FLOAT_TOLERANCE or hi > 1 + FLOAT_TOLERANCE:
        hint = (" (it looks like 8-bit data: divide by 255)" if hi <= 255 + FLOAT_TOLERANCE and hi > 1.5 else
                " (it looks like 16-bit data: divide by 65535)" if hi > 255 else
                " (clip it with np.clip(img, 0, 1) if that is what you mean)")
        raise InputError(f"float image values must lie in [0, 1]; found {lo:g}..{hi:g}{hint}")


def _from_numpy(arr: np.ndarray, kind: str, check_layout: bool = True) -> Prepared:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise InputError(f"image array must be H×W or H×W×C with C in 1..4, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"image is empty (shape {arr.shape})")
    if check_layout and arr.ndim == 3 and arr.shape[0] <= 4:
        raise InputError(f"ambiguous image shape {arr.shape}: numpy images are H×W×C, and this reads as a "
                         f"{arr.shape[0]}-pixel-high image or a C×H×W array; pass np.moveaxis(img, 0, -1) "
                         "for C×H×W data, or a torch tensor")
    if arr.dtype == np.uint8 or arr.dtype == np.uint16:
        scale = float(np.iinfo(arr.dtype).max)
    elif arr.dtype in (np.float16, np.float32, np.float64):
        if not np.all(np.isfinite(arr)):
            raise InputError("image contains NaN or Inf values")
        _check_float_range(float(arr.min()), float(arr.max()))
        scale = 1.0
    elif arr.dtype == bool:
        raise InputError("boolean masks are not images; pass uint8, uint16 or float in [0, 1]")
    else:
        raise InputError(f"unsupported pixel dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")
    layout = "HW" if arr.ndim == 2 else "HWC"
    a = arr if arr.ndim == 3 else arr[:, :, None]
    alpha = None
    if a.shape[2] in (2, 4):
        alpha, a = a[:, :, -1].copy(), a[:, :, :-1]
    x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / np.float32(scale)).permute(2, 0, 1)[None]
    return Prepared(x.clamp(0, 1), alpha, kind, arr.dtype, layout)


def _from_torch(t: torch.Tensor) -> Prepared:
    device = t.device
    t = t.detach()
    if t.ndim == 2:
        layout, x = "HW", t[None, None]
    elif t.ndim == 3:
        layout, x = "CHW", t[None]
    elif t.ndim == 4 and t.shape[0] == 1:
        layout, x = "NCHW", t
    else:
        raise InputError(f"tensor must be (H, W), (C, H, W) or (N, C, H, W), got {tuple(t.shape)}")
    if x.shape[1] not in (1, 2, 3, 4):
        raise InputError(f"tensor has {x.shape[1]} channels; expected 1-4 (channels first)")
    if x.shape[-1] < 1 or x.shape[-2] < 1:
        raise InputError(f"image is empty (shape {tuple(t.shape)})")
    if t.dtype == torch.uint8:
        x = x.float() / 255
    elif t.is_floating_point():
        if not torch.isfinite(t).all():
            raise InputError("image contains NaN or Inf values")
        _check_float_range(float(t.min()), float(t.max()))
        x = x.float()
    else:
        raise InputError(f"unsupported tensor dtype {t.dtype}; use uint8 or float in [0, 1]")
    alpha = None
    if x.shape[1] in (2, 4):
        alpha, x = t.reshape(x.shape)[0, -1].cpu().numpy().copy(), x[:, :-1]
    return Prepared(x.cpu().clamp(0, 1).contiguous(), alpha, "torch", t.dtype, layout, device=device)


def restore(prep: Prepared, x: torch.Tensor) -> Any:
    """Turn the (1, C, H, W) result back into the input's kind, dtype and layout."""
    x = x.detach().clamp(0, 1).cpu()
    if prep.kind == "torch":
        out = (x * 255).round().to(torch.uint8) if prep.dtype == torch.uint8 else x.to(prep.dtype)
        if prep.alpha is not None:
            out = torch.cat([out, torch.from_numpy(prep.alpha).to(out.dtype)[None, None]], dim=1)
        out = out.to(prep.device)
        return {"HW": lambda o: o[0, 0], "CHW": lambda o: o[0], "NCHW": lambda o: o}[prep.layout](out)
    arr = x[0].permute(1, 2, 0).numpy()
    if np.issubdtype(prep.dtype, np.integer):
        arr = np.round(arr * np.iinfo(prep.dtype).max).astype(prep.dtype)
    else:
        arr = arr.astype(prep.dtype)
    if prep.alpha is not None:
        arr = np.concatenate([arr, prep.alpha[:, :, None].astype(arr.dtype)], axis=2)
    if prep.layout == "HW" and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if prep.kind == "pil":
        return _to_pil(arr, prep.pil_mode)
    return arr


def _to_pil(arr: np.ndarray, mode: str | None) -> Image.Image:
    if mode in ("I", "I;16", "I;16B"):
        im = Image.fromarray(arr.astype(np.uint16))
        return im.convert("I") if mode == "I" else im
    return Image.fromarray(arr)


def match_channels(x: torch.Tensor, model_channels: int) -> torch.Tensor:
    """(1, C, H, W) → what the model takes: grey into an RGB model is repeated; RGB into a grey
    model is run as three grey images in one batch."""
    c = x.shape[1]
    if c == model_channels:
        return x
    if c == 1 and model_channels == 3:
        return x.expand(1, 3, *x.shape[-2:]).contiguous()
    if c == 3 and model_channels == 1:
        return x.permute(1, 0, 2, 3).contiguous()
    raise InputError(f"cannot feed a {c}-channel image to a {model_channels}-channel model")


def unmatch_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels and x.shape[0] == 1:
        return x
    if channels == 1:
        return x.mean(dim=1, keepdim=True)
    return x.permute(1, 0, 2, 3)
