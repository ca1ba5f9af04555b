"""Image files in and out: 8- and 16-bit PNG, JPEG, TIFF (plus BMP/WebP through Pillow), float TIFF.

Pillow does the decoding and EXIF orientation. Two gaps in Pillow are filled by well-kept
libraries: 16-bit *colour* PNG (Pillow reduces it to 8 bits) goes through pypng, and 16-bit and
float TIFF through tifffile; pypng reads and writes no ICC profile, so its iCCP chunk is handled
here. Writes are atomic and exclusive: the image is written to a temporary file beside the target
and then linked to its name, which fails if the name exists (two writers cannot both "create" the
same output), or renamed over it when replacing is asked for. Outputs get the permissions a
normal file creation would (0666 less the umask). Multi-frame files are refused, not cut.
"""
from __future__ import annotations

import errno
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from scoredeblur.errors import ImageReadError, ImageWriteError
from scoredeblur.files import TEMP_MARK, atomic_output

# pypng and tifffile are imported where 16-bit files need them, so that machines without them
# (a bare GPU box running training) still read and write 8-bit images.

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
DEFAULT_MAX_PIXELS = 100_000_000  # decompression-bomb guard; raise it per call when you mean it
FLOAT_SUFFIXES = {".tif", ".tiff"}
ALPHA_SUFFIXES = {".png", ".tif", ".tiff", ".webp"}
EIGHT_BIT_SUFFIXES = {".jpg", ".jpeg", ".bmp", ".webp"}
# EXIF orientation → (number of 90° turns counter-clockwise after an optional left-right flip)
_ORIENTATION = {2: (True, 0), 3: (False, 2), 4: (True, 2), 5: (True, 1), 6: (False, 3), 7: (True, 3), 8: (False, 1)}


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
        return ImageData(arr, icc_profile=_png_icc(path))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            if page.bitspersample <= 8:
                return None  # Pillow handles 8-bit TIFF and its orientation tag
            if len(tif.pages) > 1:
                raise ImageReadError(f"{path}: holds {len(tif.pages)} pages; scoredeblur reads single images: "
                                     "extract the page you want first")
            h, w = page.shape[:2]
            _check_size(path, w, h, max_pixels)
            arr = _orient(page.asarray(), page.tags.get(274))
            icc = page.tags.get(34675)
            return ImageData(np.ascontiguousarray(arr), icc_profile=bytes(icc.value) if icc else None)
    return None


def _orient(arr: np.ndarray, tag) -> np.ndarray:
    """Apply a TIFF/EXIF orientation tag, so that the pixels come out upright (tag 1)."""
    flip, turns = _ORIENTATION.get(int(tag.value) if tag is not None else 1, (False, 0))
    if flip:
        arr = arr[:, ::-1]
    return np.rot90(arr, turns) if turns else arr


def _png_chunks(data: bytes):
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + length], pos
        pos += 12 + length


def _png_icc(path: Path) -> bytes | None:
    """The ICC profile of a PNG's iCCP chunk (name, NUL, compression method 0, zlib data)."""
    for kind, body, _ in _png_chunks(path.read_bytes()):
        if kind == b"iCCP":
            name_end = body.index(b"\0")
            return zlib.decompress(body[name_end + 2:])
        if kind == b"IDAT":
            return None
    return None


def _png_add_icc(path: str, icc: bytes) -> None:
    """Insert an iCCP chunk right after IHDR (where the PNG specification wants it)."""
    data = Path(path).read_bytes()
    kind, body, pos = next(_png_chunks(data))
    end = pos + 12 + len(body)
    payload = b"ICC profile\0\0" + zlib.compress(icc)
    chunk = struct.pack(">I", len(payload)) + b"iCCP" + payload + struct.pack(">I", zlib.crc32(b"iCCP" + payload))
    Path(path).write_bytes(data[:end] + chunk + data[end:])


def _read_pillow(path: Path, max_pixels: int) -> ImageData:
    try:
        im = Image.open(path)
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{path}: not a recognised image format") from exc
    with im:
        _check_size(path, im.width, im.height, max_pixels)
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            raise ImageReadError(f"{path}: holds {frames} frames (an animation or a multi-page file); "
                                 "scoredeblur reads single images: extract the frame you want first")
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


def check_writable(path: str | os.PathLike, dtype, channels: int, *, overwrite: bool = False) -> Path:
    """Refuse, before any work, an output that could not hold the result: an unknown format, a
    float image in a format without float pixels, alpha in JPEG/BMP, an existing file (unless
    ``overwrite``), a missing or read-only folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageWriteError(f"{path}: unsupported output format {suffix!r} (use one of {sorted(IMAGE_SUFFIXES)})")
    if np.issubdtype(np.dtype(dtype), np.floating) and suffix not in FLOAT_SUFFIXES:
        raise ImageWriteError(f"{path}: the result is a float image; only TIFF holds float pixels "
                              "(write .tif, or convert the input to 8 or 16 bits)")
    if channels in (2, 4) and suffix not in ALPHA_SUFFIXES:
        raise ImageWriteError(f"{path}: {suffix} cannot hold an alpha channel; write PNG, TIFF or WebP")
    if path.exists() and not overwrite:
        raise ImageWriteError(f"{path}: exists; refusing to overwrite (pass overwrite=True / --overwrite)")
    if not path.parent.is_dir():
        raise ImageWriteError(f"{path}: output folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ImageWriteError(f"{path}: output folder {path.parent} is not writable")
    return path


def write_image(path: str | os.PathLike, pixels: np.ndarray, *, icc_profile: bytes | None = None,
                exif: bytes | None = None, overwrite: bool = False, quality: int = 95) -> Path:
    """Write atomically and exclusively. uint8 any format; uint16 to PNG or TIFF (JPEG, BMP and WebP
    get a reduced 8-bit copy, with a warning); float32 to TIFF."""
    pixels = np.asarray(pixels)
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    path = check_writable(path, pixels.dtype, channels, overwrite=overwrite)
    suffix = path.suffix.lower()
    if pixels.dtype not in (np.uint8, np.uint16) and not (pixels.dtype == np.float32 and suffix in FLOAT_SUFFIXES):
        raise ImageWriteError(f"{path}: pixels must be uint8 or uint16 (or float32 for TIFF), got {pixels.dtype}")
    if pixels.dtype == np.uint16 and suffix in EIGHT_BIT_SUFFIXES:
        warnings.warn(f"{path}: {suffix} holds 8 bits per channel; writing a reduced 8-bit copy", stacklevel=2)
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    _write_atomically(path, overwrite, lambda tmp: _encode(tmp, suffix, pixels, icc_profile, exif, quality))
    return path


def _write_atomically(path: Path, overwrite: bool, encode) -> None:
    """``encode(tmp)`` into a marked temporary beside ``path``, then publish it (``files.atomic_output``)."""
    started = False
    try:
        with atomic_output(path, lambda tmp, target: _publish(tmp, target, overwrite)) as tmp:
            started = True
            encode(tmp)
    except BaseException as exc:
        if not started and isinstance(exc, OSError):
            raise ImageWriteError(f"{path}: output folder {path.parent} is not writable ({exc.strerror})") from exc
        if isinstance(exc, (OSError, ValueError)) and not isinstance(exc, ImageWriteError):
            raise ImageWriteError(f"{path}: cannot write ({type(exc).__name__}: {exc})") from exc
        raise


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    """Give the finished temporary its name: replace when asked, else create exclusively."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic, and fails if the name exists: no check-then-rename race
    except FileExistsError:
        raise ImageWriteError(f"{path}: exists (written by someone else meanwhile); refusing to overwrite") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # No hard links on this file system: claim the name with an exclusive create instead.
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            raise ImageWriteError(f"{path}: exists (written by someone else meanwhile); "
                                  "refusing to overwrite") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_array(path: str | os.PathLike, array: np.ndarray, *, overwrite: bool = False) -> Path:
    """``np.save`` with the same guarantees as ``write_image``: atomic, exclusive, normal permissions."""
    path = Path(path)
    if path.suffix != ".npy":
        raise ImageWriteError(f"{path}: arrays are written as .npy")
    if path.exists() and not overwrite:
        raise ImageWriteError(f"{path}: exists; refusing to overwrite (pass overwrite=True / --overwrite)")
    _write_atomically(path, overwrite, lambda tmp: np.save(tmp, array))
    return path


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries an interrupted run left in ``folder`` (recognised by their mark)."""
    removed = []
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(f".*{TEMP_MARK}.*"):
            if p.is_file():
                p.unlink()
                removed.append(p)
    return removed


def _encode(tmp: str, suffix: str, pixels: np.ndarray, icc, exif, quality: int) -> None:
    colour = pixels.ndim == 3
    if pixels.dtype != np.uint8 and suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(tmp, pixels, photometric="rgb" if colour and pixels.shape[2] >= 3 else "minisblack",
                         iccprofile=icc, extrasamples=[2] if colour and pixels.shape[2] == 4 else None)
        return
    if pixels.dtype == np.uint16 and colour:  # 16-bit colour PNG: pypng
        import png

        h, w, c = pixels.shape
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}[c]
        png.from_array(pixels.reshape(h, w * c), f"{mode};16").save(tmp)
        if icc:
            _png_add_icc(tmp, icc)
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
