"""Synthetic defocus cases built from clean images, deterministic per seed.

Each case: the sharp image, the degraded one, and the true PSF parameters (a radius, or a radius
map for spatially varying defocus). The degradation is the camera's: anti-aliased disk PSF with
symmetric boundaries, Gaussian (or Poisson-Gaussian) noise, clipping, 8-bit quantisation,
optional JPEG.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from scoredeblur.io.images import read_folder_uint8, write_image
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.physics.degrade import blur_with_radius_map, jpeg, sensor

DEFAULT_DEV_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dev"


@dataclass
class Degradation:
    radius: float | None = 3.0          # uniform disk radius; None with a radius map
    varying: tuple[float, float] | None = None  # (foreground, background) radii of a depth map
    noise: float = 0.01
    poisson_peak: float | None = None   # photons at white, for Poisson-Gaussian noise
    bits: int = 8
    jpeg_quality: int | None = None
    highlights: int = 0                 # specular highlights added to the scene, clipped by the sensor

    @property
    def label(self) -> str:
        blur = f"r{self.radius:g}" if self.varying is None else f"var{self.varying[0]:g}-{self.varying[1]:g}"
        extra = f"_pg{self.poisson_peak:g}" if self.poisson_peak else ""
        extra += f"_jpeg{self.jpeg_quality}" if self.jpeg_quality else ""
        extra += f"_hl{self.highlights}" if self.highlights else ""
        return f"{blur}_n{self.noise:g}{extra}"


@dataclass
class Case:
    name: str
    sharp: np.ndarray                  # float64 (H, W, 3) in [0, 1]
    blurry: np.ndarray                 # float64 (H, W, 3) in [0, 1]
    degradation: Degradation
    size: str                          # "crop<N>" or "full"
    radius_map: np.ndarray | None = field(default=None, repr=False)

    def params(self) -> dict:
        return {"name": self.name, "size": self.size, **asdict(self.degradation)}


def list_images(folder: str | Path | None) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 RGB array) for every image in ``folder`` (recursively), or scikit-image's samples."""
    if folder is None and DEFAULT_DEV_DIR.is_dir():
        folder = DEFAULT_DEV_DIR
    if folder is None:
        from skimage import data

        names = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "camera"]
        return [(n, _rgb(getattr(data, n)())) for n in names]
    folder = Path(folder)
    out = [(str(p.relative_to(folder).with_suffix("")), _rgb(arr)) for p, arr in read_folder_uint8(folder)]
    if not out:
        raise ValueError(f"no images in {folder}")
    return out


def _rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return arr[:, :, :3]


def centre_crop(arr: np.ndarray, size: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if h < size or w < size:
        return arr
    y, x = (h - size) // 2, (w - size) // 2
    return arr[y:y + size, x:x + size]


def depth_radius_map(h: int, w: int, fg: float, bg: float, rng: np.random.Generator) -> np.ndarray:
    """A sharp foreground blob over a defocused background with a smooth transition band."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    ry, rx = rng.uniform(0.2, 0.35) * h, rng.uniform(0.2, 0.35) * w
    d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    t = np.clip((d - 0.8) / 0.6, 0, 1)
    t = t * t * (3 - 2 * t)  # smoothstep
    return fg + (bg - fg) * t


def add_highlights(sharp: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """The scene with ``count`` specular highlights: small disks (1.5-4 px) 2-6× brighter than
    white, as glints, lamps and sunlit water put into photos. Values above 1 are light the sensor
    clips after the blur has spread it; the sharp image a camera would record is this, clipped."""
    h, w = sharp.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    scene = sharp.copy()
    for _ in range(count):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1.5, 4.0)
        spot = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)  # anti-aliased disk
        scene += spot[:, :, None] * rng.uniform(2.0, 6.0) * np.array([1.0, 0.95, 0.85])
    return scene


def degrade(sharp: np.ndarray, deg: Degradation, seed: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(the photo as recorded, its radius map or None, the sharp image as a camera would record it)."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    scene = add_highlights(sharp, deg.highlights, rng) if deg.highlights else sharp
    x = torch.from_numpy(scene).permute(2, 0, 1)[None]
    radius_map = None
    if deg.varying is not None:
        radius_map = depth_radius_map(*sharp.shape[:2], *deg.varying, rng)
        y = blur_with_radius_map(x, radius_map)
    else:
        y = DefocusBlur(deg.radius).A(x)
    y = sensor(y, deg.noise, g, deg.bits, deg.poisson_peak)
    out = y[0].permute(1, 2, 0).numpy()
    if deg.jpeg_quality:
        out = jpeg(out, deg.jpeg_quality)
    return out, radius_map, np.clip(scene, 0, 1)


def build_cases(images: list[tuple[str, np.ndarray]], degradations: list[Degradation], sizes=("crop",),
                seed: int = 0, crop: int = 256) -> list[Case]:
    """``sizes``: "crop" (centre crops of ``crop`` pixels) and/or "full" images."""
    cases = []
    for name, img in images:
        for kind in sizes:
            size = f"crop{crop}" if kind.startswith("crop") else "full"
            sharp = (centre_crop(img, crop) if size != "full" else img).astype(np.float64) / 255
            for deg in degradations:
                # A per-case seed derived from its identity: adding cases never changes the others.
                case_seed = zlib.crc32(f"{seed}/{name}/{size}/{deg.label}".encode())
                blurry, rmap, shown = degrade(sharp, deg, case_seed)
                cases.append(Case(f"{name}/{size}/{deg.label}", shown, blurry, deg, size, rmap))
    return cases


def save_case(case: Case, folder: Path) -> None:
    folder = folder / case.name.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    for tag, arr in (("sharp", case.sharp), ("blurry", case.blurry)):
        write_image(folder / f"{tag}.png", (arr * 255 + 0.5).astype(np.uint8), overwrite=True)
    (folder / "psf.json").write_text(json.dumps(case.params(), indent=1))
    if case.radius_map is not None:
        np.save(folder / "radius_map.npy", case.radius_map)


def layered_photo(h: int, w: int, seed: int = 0, background: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """A photo-sized test scene with a realistic depth layout: natural texture (scikit-image's
    astronaut, mirrored out to H×W, so detail stays at its native scale), a sharp subject
    (radius 0) over a background defocused at ``background`` px with a smooth transition, camera
    noise 0.01 and 8 bits. Returns (float32 (H, W, 3) photo in [0, 1], its true radius map)."""
    from skimage import data

    texture = data.astronaut()
    th, tw = texture.shape[:2]
    pad = ((0, max(0, h - th)), (0, max(0, w - tw)), (0, 0))
    sharp = np.pad(texture, pad, mode="symmetric")[:h, :w].astype(np.float32) / 255
    radius_map = depth_radius_map(h, w, 0.0, background, np.random.default_rng(seed))
    y = blur_with_radius_map(torch.from_numpy(sharp).permute(2, 0, 1)[None], radius_map)
    y = sensor(y, 0.01, torch.Generator().manual_seed(seed), 8, None)
    return y[0].permute(1, 2, 0).numpy(), radius_map
