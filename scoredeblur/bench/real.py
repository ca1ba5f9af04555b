"""The real-pair benchmark: real defocused photos against aligned all-in-focus targets.

A pairs folder holds ``blur/`` and ``sharp/`` with the same file names (e.g. DPDD: a wide-aperture
shot and an f/22 shot of the same scene). Scores: PSNR and SSIM on 8-bit RGB with a fixed border
left out, the gain over the input, seconds per image, and — as a diagnostic only — PSNR after a
per-channel gain/offset fit to the target (the two shots differ a little in exposure, which no
deblurring can fix).

Methods: the input; Wiener and PnP-HQS + FFDNet with the **oracle** uniform radius (the one that
maximises PSNR against the target: an upper bound for any one-PSF method); our presets blind; our
presets blind with an opt-in estimator (``*_layers``, ``*_learned``); our
presets given the oracle uniform radius (``*_oracle``) or an oracle per-tile radius map
(``*_oracle_map``: what a perfect per-tile disk estimator could hand the sampler; ``bench.oracle``),
with the consistency allowing for the disk's model error (``ORACLE_MAP_NOISE``). Oracles use the
target, so they are bounds, never results.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from scoredeblur.api import deblur
from scoredeblur.bench.metrics import psnr, ssim
from scoredeblur.bench.oracle import best_radius, oracle_radius_map, wiener_deblur
from scoredeblur.bench.peers import load_ffdnet, pnp_hqs
from scoredeblur.io.images import IMAGE_SUFFIXES, read_image
from scoredeblur.physics.estimate import estimate_noise
from scoredeblur.plan import NOISE_FLOOR

BORDER = 8                                  # px left out of every score (alignment and boundary effects)
# σ of a disk's model error on real lens blur, added in quadrature to the photo noise for the
# oracle map: the difference (k_lens − k_disk) ⊛ x acts as noise the deconvolution must not fit.
# Measured on the DPDD pairs (docs/RESULTS.md): with the photo noise alone (≈ 0.01) the oracle
# map loses 0.56 dB; 0.03 gains most. On exact synthetic disk blur the same term costs 2 dB,
# which is why the product does not add it by default.
ORACLE_MAP_NOISE = 0.03
METHODS = ("input", "wiener_oracle", "pnp_hqs_oracle", "sd_fast", "sd_balanced", "sd_quality",
           "sd_fast_oracle", "sd_balanced_oracle", "sd_fast_oracle_map", "sd_balanced_oracle_map",
           "sd_fast_layers", "sd_fast_learned", "sd_balanced_learned", "sd_fast_keep_bokeh",
           "sd_fast_deblur_highlights")


@dataclass
class Pair:
    name: str
    blur: np.ndarray    # float64 (H, W, 3) in [0, 1]
    sharp: np.ndarray


def load_pairs(folder: str | Path, limit: int | None = None, scale: float = 1.0) -> list[Pair]:
    """Every name in ``folder/blur`` that has a twin in ``folder/sharp``; ``scale`` < 1 resizes both
    (Lanczos) for quicker development runs — blur radii shrink by the same factor."""
    folder = Path(folder)
    blur_dir, sharp_dir = folder / "blur", folder / "sharp"
    if not blur_dir.is_dir() or not sharp_dir.is_dir():
        raise FileNotFoundError(f"{folder}: a pairs folder needs blur/ and sharp/ sub-folders")
    names = sorted(p.name for p in blur_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                   and (sharp_dir / p.name).is_file())
    if not names:
        raise ValueError(f"{folder}: no file name appears in both blur/ and sharp/")
    pairs = []
    for name in names[:limit]:
        imgs = [_rgb01(read_image(d / name).pixels, scale) for d in (blur_dir, sharp_dir)]
        if imgs[0].shape != imgs[1].shape:
            raise ValueError(f"{name}: blur {imgs[0].shape} and sharp {imgs[1].shape} differ in size")
        pairs.append(Pair(Path(name).stem, *imgs))
    return pairs


def _rgb01(arr: np.ndarray, scale: float) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    arr = arr[:, :, :3]
    if scale != 1.0:
        h, w = arr.shape[:2]
        im = Image.fromarray(arr.astype(np.uint8)).resize((round(w * scale), round(h * scale)), Image.LANCZOS)
        arr = np.asarray(im)
    return arr.astype(np.float64) / np.iinfo(arr.dtype).max


def _inner(img: np.ndarray, border: int) -> np.ndarray:
    return img[border:-border, border:-border] if border else img


def score(est: np.ndarray, sharp: np.ndarray, border: int = BORDER) -> dict:
    """PSNR/SSIM on the 8-bit result (what a user saves), border excluded; plus the exposure-fitted PSNR."""
    est8 = np.round(np.clip(est, 0, 1) * 255) / 255
    a, b = _inner(est8, border), _inner(sharp, border)
    fitted = np.empty_like(a)
    for c in range(3):  # least-squares gain and offset per channel: a diagnostic of exposure mismatch
        design = np.stack([a[..., c].ravel(), np.ones(a[..., c].size)], axis=1)
        coef, *_ = np.linalg.lstsq(design, b[..., c].ravel(), rcond=None)
        fitted[..., c] = (design @ coef).reshape(a.shape[:2])
    return {"psnr": psnr(b, a), "ssim": ssim(b, a), "psnr_fitted": psnr(b, fitted)}


def oracle_radius(pair: Pair, run, border: int = BORDER) -> tuple[float, np.ndarray]:
    """The uniform radius that maximises PSNR against the target for ``run(blur, radius)``."""
    return best_radius(pair.blur, lambda out: score(out, pair.sharp, border)["psnr"], run)


def run_real(pairs: list[Pair], methods: list[str], *, model=None, weights_dir: Path | None = None,
             device: str | None = None, seed: int = 0, border: int = BORDER, keep_outputs: bool = False,
             progress=None) -> dict:
    """Every method on every pair. Returns rows (per image and method), a summary per method and,
    with ``keep_outputs``, the images."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown real-pair method(s) {unknown}; choose from {METHODS}")
    ffdnet = None
    if "pnp_hqs_oracle" in methods:
        if weights_dir is None or not (Path(weights_dir) / "ffdnet_kair").is_dir():
            raise FileNotFoundError(f"pnp_hqs_oracle needs the FFDNet weights under {weights_dir}/ffdnet_kair")
        ffdnet = load_ffdnet(weights_dir)
    rows, outputs = [], {}
    for pair in pairs:
        photo_noise = estimate_noise(pair.blur)
        noise = max(photo_noise, 1 / 255)
        base = score(pair.blur, pair.sharp, border)
        oracle_r, oracle_map = None, None  # found once per pair, shared by the presets that use them
        for name in methods:
            t0 = time.perf_counter()
            extra = {}
            if name == "input":
                out = pair.blur
            elif name == "wiener_oracle":
                oracle_r, out = oracle_radius(pair, wiener_deblur, border)
                extra["radius"] = oracle_r
            elif name == "pnp_hqs_oracle":
                r, out = oracle_radius(pair, lambda b, rr: pnp_hqs(ffdnet, b, rr, noise), border)
                extra["radius"] = r
            else:
                preset = name.split("_")[1]
                if name.endswith("_oracle_map"):
                    if oracle_map is None:
                        oracle_map = oracle_radius_map(pair.blur, pair.sharp).astype(np.float32)
                    noisy = float(np.hypot(max(photo_noise, NOISE_FLOOR), ORACLE_MAP_NOISE))
                    extra["radius_min"], extra["radius_max"] = float(oracle_map.min()), float(oracle_map.max())
                    out = deblur(pair.blur.astype(np.float32), preset=preset, psf_radius=oracle_map,
                                 noise_std=noisy, model=model, device=device, seed=seed)
                elif name.endswith("_oracle"):
                    if oracle_r is None:
                        oracle_r, _ = oracle_radius(pair, wiener_deblur, border)
                    extra["radius"] = oracle_r
                    out = deblur(pair.blur.astype(np.float32), preset=preset, psf_radius=oracle_r, model=model,
                                 device=device, seed=seed)
                else:  # blind; "_layers", "_learned", "_keep_bokeh", "_deblur_highlights": that option
                    blind = {}
                    if name.endswith("_deblur_highlights"):
                        blind["keep_highlights"] = False
                    if name.endswith("_layers"):
                        blind["psf_radius"] = "layers"
                    if name.endswith("_learned"):
                        blind["psf_radius"] = "learned"
                    if name.endswith("_keep_bokeh"):
                        blind["keep_bokeh"] = True
                    res = deblur(pair.blur.astype(np.float32), preset=preset, model=model, device=device, seed=seed,
                                 return_info=True, **blind)
                    out = res.image
                    extra["radius_min"], extra["radius_max"] = float(res.radius_map.min()), float(res.radius_map.max())
            seconds = time.perf_counter() - t0
            s = score(out, pair.sharp, border)
            rows.append({"image": pair.name, "method": name, **s, "gain": s["psnr"] - base["psnr"],
                         "ssim_gain": s["ssim"] - base["ssim"], "seconds": seconds, **extra})
            if keep_outputs:
                outputs[(pair.name, name)] = out
            if progress is not None:
                progress(pair.name, name, rows[-1])
    return {"rows": rows, "summary": summarise(rows, methods), "outputs": outputs}


def summarise(rows: list[dict], methods: list[str]) -> list[dict]:
    out = []
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        gains = np.array([r["gain"] for r in mine])
        out.append({"method": m, "n": len(mine), "psnr_mean": float(np.mean([r["psnr"] for r in mine])),
                    "ssim_mean": float(np.mean([r["ssim"] for r in mine])), "gain_mean": float(gains.mean()),
                    "gain_worst": float(gains.min()), "ssim_gain_mean": float(np.mean([r["ssim_gain"] for r in mine])),
                    "share_worse": float(np.mean(gains < 0)),
                    "psnr_fitted_mean": float(np.mean([r["psnr_fitted"] for r in mine])),
                    "seconds_mean": float(np.mean([r["seconds"] for r in mine]))})
    return out


def real_markdown(result: dict, pairs_dir: str, scale: float, border: int) -> str:
    lines = ["## Real defocus pairs", "",
             f"Pairs: `{pairs_dir}` ({result['summary'][0]['n']} images, scale {scale:g}, border {border} px "
             "excluded, 8-bit RGB). `*_oracle` methods are given the uniform radius that maximises PSNR "
             "against the target: an upper bound for one-PSF methods, not a result.", "",
             "| method | PSNR | SSIM | gain (dB) | worst gain | SSIM gain | share worse | PSNR, exposure fitted | s / image |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in result["summary"]:
        lines.append(f"| {s['method']} | {s['psnr_mean']:.2f} | {s['ssim_mean']:.3f} | {s['gain_mean']:+.2f} | "
                     f"{s['gain_worst']:+.2f} | {s['ssim_gain_mean']:+.3f} | {100 * s['share_worse']:.0f} % | "
                     f"{s['psnr_fitted_mean']:.2f} | {s['seconds_mean']:.1f} |")
    lines += ["", "Per image (PSNR gain over the input, dB):", ""]
    methods = [s["method"] for s in result["summary"]]
    lines += ["| image | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    images = list(dict.fromkeys(r["image"] for r in result["rows"]))
    for im in images:
        cells = {r["method"]: r for r in result["rows"] if r["image"] == im}
        lines.append(f"| {im} | " + " | ".join(f"{cells[m]['gain']:+.2f}" for m in methods) + " |")
    return "\n".join(lines) + "\n"


def real_crops(pairs: list[Pair], outputs: dict, method: str, path: Path, crop: int = 160, limit: int = 6) -> None:
    """Input | ``method`` | target at 100 %, a centre crop of each of the first ``limit`` pairs."""
    rows = []
    for pair in pairs[:limit]:
        h, w = pair.blur.shape[:2]
        y, x = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
        cut = lambda im: np.round(np.clip(im[y:y + crop, x:x + crop], 0, 1) * 255).astype(np.uint8)  # noqa: E731
        gap = np.full((min(crop, h), 4, 3), 255, np.uint8)
        rows.append(np.concatenate([cut(pair.blur), gap, cut(outputs[(pair.name, method)]), gap, cut(pair.sharp)], 1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(rows, 0)).save(path)
