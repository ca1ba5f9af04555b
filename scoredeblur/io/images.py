"""Image files in and out: 8- and 16-bit PNG, JPEG, TIFF (plus BMP/WebP through Pillow).

Pillow does the decoding and EXIF orientation. Two gaps in Pillow are filled by well-kept
libraries: 16-bit *colour* PNG (Pillow reduces it to 8 bits) goes through pypng, and 16-bit TIFF
through tifffile. Writes are atomic (temporary file + rename) and never replace a file unless asked.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from scoredeblur.errors import ImageReadError, ImageWriteError

# pypng and tifffile are imported where 16-bit files need them, so that machines without them
# (a bare GPU box running training) still read and write 8-bit images.

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
DEFAULT_MAX_PIXELS = 100_000_000  # decompression-bomb guard; raise it per call when you mean it






@dataclass
class ImageData:
    pixels: np.ndarray  # (H, W) or (H, W, C) with C in 1..4; uint8 or uint16 (float32 for float TIFF)
    icc_profile: bytes | None = None
    exif: bytes | None = None


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if not path.is_file():
        raise ImageReadError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file")
    try:
        data = _read_16bit_special(path, max_pixels) or _read_pillow(path, max_pixels)
    except ImageReadError:
        raise
    except Exception as exc:  # any decoder failure becomes one clear error
        raise ImageReadError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from exc
    if data.pixels.size == 0:
        raise ImageReadError(f"{path}: image has no pixels")
    return data


def _check_size(path: Path, w: int, h: int, max_pixels: int) -> None:
    if w <= 0 or h <= 0:
        raise ImageReadError(f"{path}: image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise ImageReadError(f"{path}: {w}x{h} = {w * h:,} pixels exceeds the limit of {max_pixels:,} "
                             "(decompression-bomb guard; pass a larger max_pixels if this is intended)")


def _read_16bit_special(path: Path, max_pixels: int) -> ImageData | None:
    with open(path, "rb") as f:
        head = f.read(32)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16 and head[25] in (2, 4, 6):
        import png  # pypng

        reader = png.Reader(filename=str(path))
        w, h, rows, info = reader.asDirect()
        _check_size(path, w, h, max_pixels)
        planes = info["planes"]
        arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, planes)
        return ImageData(arr)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            if page.bitspersample <= 8:
                return None  # Pillow handles 8-bit TIFF and its orientation tag
            h, w = page.shape[:2]
            _check_size(path, w, h, max_pixels)
            arr = page.asarray()
            icc = page.tags.get(34675)
            return ImageData(arr, icc_profile=bytes(icc.value) if icc else None)
    return None


def _read_pillow(path: Path, max_pixels: int) -> ImageData:
    try:
        im = Image.open(path)
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{path}: not a recognised image format") from exc
    with im:
        _check_size(path, im.width, im.height, max_pixels)
        try:
            im.load()
        except OSError as exc:
            raise ImageReadError(f"{path}: truncated or corrupt image data ({exc})") from exc
        icc = im.info.get("icc_profile")
        im = ImageOps.exif_transpose(im)  # orientation applied, tag reset to 1
        exif = im.getexif()
        exif_bytes = exif.tobytes() if len(exif) else None
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV", "1"):
            im = im.convert("L" if im.mode == "1" else "RGB")
        arr = np.asarray(im)
        if im.mode in ("I", "I;16", "I;16B", "I;16L"):
            arr = np.clip(arr, 0, 65535).astype(np.uint16)
        elif im.mode == "F":
            arr = arr.astype(np.float32)
    return ImageData(np.ascontiguousarray(arr), icc_profile=icc, exif=exif_bytes)


def write_image(path: str | os.PathLike, pixels: np.ndarray, *, icc_profile: bytes | None = None,
                exif: bytes | None = None, overwrite: bool = False, quality: int = 95) -> Path:
    """Write atomically. uint8 any format; uint16 to PNG or TIFF (JPEG is reduced to 8 bits, with a warning)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageWriteError(f"{path}: unsupported output format {suffix!r} (use one of {sorted(IMAGE_SUFFIXES)})")
    if path.exists() and not overwrite:
        raise ImageWriteError(f"{path}: exists; refusing to overwrite (pass overwrite=True / --overwrite)")
    if not path.parent.is_dir():
        raise ImageWriteError(f"{path}: output folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ImageWriteError(f"{path}: output folder {path.parent} is not writable")
    pixels = np.asarray(pixels)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageWriteError(f"{path}: pixels must be uint8 or uint16, got {pixels.dtype}")
    if pixels.dtype == np.uint16 and suffix in (".jpg", ".jpeg", ".bmp", ".webp"):
        warnings.warn(f"{path}: {suffix} holds 8 bits per channel; writing a reduced 8-bit copy", stacklevel=2)
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise ImageWriteError(f"{path}: output folder {path.parent} is not writable ({exc.strerror})") from exc
    os.close(fd)
    try:
        _encode(tmp, suffix, pixels, icc_profile, exif, quality)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, (OSError, ValueError)) and not isinstance(exc, ImageWriteError):
            raise ImageWriteError(f"{path}: cannot write ({type(exc).__name__}: {exc})") from exc
        raise
    return path


def _encode(tmp: str, suffix: str, pixels: np.ndarray, icc, exif, quality: int) -> None:
    colour = pixels.ndim == 3
    if pixels.dtype == np.uint16 and suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(tmp, pixels, photometric="rgb" if colour and pixels.shape[2] >= 3 else "minisblack",
                         iccprofile=icc, extrasamples=[2] if colour and pixels.shape[2] == 4 else None)
        return
    if pixels.dtype == np.uint16 and colour:  # 16-bit colour PNG: pypng
        import png

        h, w, c = pixels.shape
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}[c]
        png.from_array(pixels.reshape(h, w * c), f"{mode};16").save(tmp)
        return
    im = Image.fromarray(pixels)  # uint8 L/LA/RGB/RGBA, or uint16 grey as I;16
    kwargs = {}
    if icc:
        kwargs["icc_profile"] = icc
    if exif and suffix in (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"):
        kwargs["exif"] = exif
    if suffix in (".jpg", ".jpeg"):
        if im.mode in ("RGBA", "LA"):
            raise ImageWriteError("JPEG cannot hold an alpha channel; write PNG or TIFF")
        kwargs["quality"] = quality
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".png": "PNG",
           ".bmp": "BMP", ".webp": "WEBP"}[suffix]
    im.save(tmp, format=fmt, **kwargs)


def read_folder_uint8(folder: str | os.PathLike, what: str = "image folder"):
    """Yield (path, uint8 pixels) for every image under ``folder``, recursively, in sorted order.

    16-bit and float images are reduced to 8 bits: training and benchmark cases work in 8 bits.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} not found: {folder}")
    for p in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        arr = read_image(p).pixels
        if arr.dtype != np.uint8:
            scale = np.iinfo(arr.dtype).max if np.issubdtype(arr.dtype, np.integer) else 1.0
            arr = np.clip(arr.astype(np.float64) / scale * 255 + 0.5, 0, 255).astype(np.uint8)
        yield p, arr
