"""Where a whole-photo call spends its time, stage by stage, at photo sizes (pytest-benchmark).

Run: ``pytest benchmarks/test_profile.py --benchmark-only`` (sizes from ``SCOREDEBLUR_PROFILE_MP``,
default "0.25,1,4,12"; megapixels, 4:3). The scene is ``bench.cases.layered_photo``: a sharp
subject over a background defocused at 4 px. One test per stage and size; a network or prox
figure is one sampler step's worth, so a call costs about estimate + set-up + steps × (network +
prox) + decode + encode. The whole-call tests run the default ``scoredeblur deblur`` (and the
PnP-HQS + FFDNet peer, where its weights are found) on the same photo in a child process, so that
the peak resident memory recorded beside each size (``extra_info["peak_rss_mib"]``) is that call's
alone. ``SCOREDEBLUR_PROFILE_STEPS`` overrides the preset's steps in the whole-call test (peak
memory is reached in the first step, so ``1`` measures it at 24 MP in minutes).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from scoredeblur.bench.cases import layered_photo
from scoredeblur.engine.loading import get_model
from scoredeblur.io.images import read_image, write_image
from scoredeblur.physics.blind import make_physics
from scoredeblur.physics.estimate import estimate_noise, estimate_radius_map
from scoredeblur.physics.varying import VaryingDefocusBlur
from scoredeblur.sampling.presets import DEFAULT_PRESET
from scoredeblur.sampling.tiling import TiledScore

torch.set_num_threads(int(os.environ.get("SCOREDEBLUR_THREADS", "2")))
SIZES = [float(s) for s in os.environ.get("SCOREDEBLUR_PROFILE_MP", "0.25,1,4,12").split(",")]
STEPS = os.environ.get("SCOREDEBLUR_PROFILE_STEPS")
PEER_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"


def shape_of(mp: float) -> tuple[int, int]:
    w = int(round((mp * 1e6 * 4 / 3) ** 0.5))
    return int(round(w * 3 / 4)), w


_PHOTOS: dict[float, tuple[np.ndarray, np.ndarray, Path]] = {}


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("profile")


def photo(mp: float, folder: Path):
    """(photo, true radius map, its PNG), built once per size."""
    if mp not in _PHOTOS:
        img, rmap = layered_photo(*shape_of(mp), seed=0)
        path = write_image(folder / f"layered_{mp:g}mp.png", (img * 255 + 0.5).astype(np.uint8))
        _PHOTOS[mp] = (img, rmap, path)
    return _PHOTOS[mp]


def tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()


@pytest.fixture(scope="module")
def net():
    return get_model(None, "cpu")


def once(benchmark, fn, *args):
    return benchmark.pedantic(fn, args=args, rounds=1, iterations=1, warmup_rounds=0)


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: decode (PNG)")
def test_decode(benchmark, mp, photo_dir):
    path = photo(mp, photo_dir)[2]
    benchmark.pedantic(read_image, args=(path,), rounds=3, iterations=1)


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: blind estimation (noise + radius per tile)")
def test_estimation(benchmark, mp, photo_dir):
    img = photo(mp, photo_dir)[0].astype(np.float64)
    once(benchmark, lambda: (estimate_noise(img), estimate_radius_map(img)))


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: operator set-up (estimated map → depth-varying operator)")
def test_operator_setup(benchmark, mp, photo_dir):
    img = photo(mp, photo_dir)[0]
    physics = make_physics(img.astype(np.float64))
    rmap = getattr(physics, "radius_map", None)
    if rmap is None:
        pytest.skip(f"the estimate is uniform (r = {physics.max_radius:g}): no map to set up")
    benchmark.extra_info["levels"] = len(physics.ops)
    y = tensor(img)
    once(benchmark, lambda: VaryingDefocusBlur(rmap).prox(y, y, 0.05))  # with its first prox (spectra)


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: prox, one step (true map, 0-4 px)")
def test_prox(benchmark, mp, photo_dir):
    img, rmap, _ = photo(mp, photo_dir)
    op, y = VaryingDefocusBlur(rmap), tensor(img)
    op.prox(y, y, 0.05)
    benchmark.extra_info["levels"] = len(op.ops)
    benchmark.pedantic(op.prox, args=(y * 0.99, y, 0.05), rounds=2, iterations=1)


# The tile grids a call can run: the default (moving, overlap 8), the moving grid with twice the
# overlap, and the fixed grid with the 32-px overlap it needs.
GRIDS = {"moving grid, overlap 8": dict(moving=True, overlap=8), "moving grid, overlap 16": dict(moving=True, overlap=16),
         "fixed grid, overlap 32": dict(moving=False, overlap=32)}


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: network, one step over all tiles (256²)")
def test_network(benchmark, mp, grid, photo_dir, net):
    y = tensor(photo(mp, photo_dir)[0])
    tiled = TiledScore(net.score, tile=256, batch=1, **GRIDS[grid])
    with torch.no_grad():
        once(benchmark, tiled, y, 0.1)
    benchmark.extra_info.update(tiles=tiled.evaluated,
                                network_pixels_per_pixel=round(sum(th * tw for *_, th, tw in tiled.tiles(*y.shape[-2:]))
                                                               / (y.shape[-2] * y.shape[-1]), 3))


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: tiling and blending alone, one step (zero-cost score)")
def test_tiling(benchmark, mp, grid, photo_dir):
    y = tensor(photo(mp, photo_dir)[0])
    tiled = TiledScore(lambda x, s: x, tile=256, batch=1, **GRIDS[grid])
    once(benchmark, tiled, y, 0.1)


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: encode (PNG, atomic write)")
def test_encode(benchmark, mp, photo_dir, tmp_path):
    pixels = (photo(mp, photo_dir)[0] * 255 + 0.5).astype(np.uint8)
    paths = iter(tmp_path / f"out{i}.png" for i in range(100))
    benchmark.pedantic(lambda: write_image(next(paths), pixels), rounds=3, iterations=1)


def run_child(code: str) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of one child process running ``code``.

    The peak is the child's own VmHWM, read by the child at its end: the rusage of a forked child
    starts from the parent's resident size (kept across exec), so it would report this test
    process's memory (the cached photos) instead."""
    probe = "; import re; print('VmHWM', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code + probe], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak_kib = int(proc.stdout.rsplit("VmHWM", 1)[1].split()[0])
    return seconds, peak_kib / 1024


def deblur_in_child(path: Path, out: Path, setup: str = "", arguments: str = "") -> str:
    """The code of a child process that reads the photo, runs ``deblur(img<arguments>)`` after the
    statement ``setup`` (a module switch of a baseline) and writes the result."""
    return (f"import torch; torch.set_num_threads({torch.get_num_threads()}); import scoredeblur; "
            f"{setup + '; ' if setup else ''}from scoredeblur.io.images import read_image, write_image; "
            f"img = read_image({str(path)!r}).pixels; "
            f"write_image({str(out)!r}, scoredeblur.deblur(img{arguments}))")


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: whole call (scoredeblur deblur, default preset, blind)")
def test_whole_call(benchmark, mp, photo_dir, tmp_path):
    path = photo(mp, photo_dir)[2]
    # The default call; with SCOREDEBLUR_PROFILE_STEPS the default preset at that many steps
    # (steps alone would select the "pc" sampler).
    steps = f", preset={DEFAULT_PRESET!r}, steps={int(STEPS)}" if STEPS else ""
    code = deblur_in_child(path, tmp_path / "out.png", arguments=steps)
    seconds, rss = once(benchmark, run_child, code)
    benchmark.extra_info.update(peak_rss_mib=round(rss), seconds=round(seconds, 1), megapixels=mp,
                                steps=int(STEPS) if STEPS else "preset")


DEFAULT_GRID = "moving grid, overlap 8"  # what deblur runs (api.MOVING_GRID, api.OVERLAP_DIVISOR)


# The same call on each other grid of GRIDS, in the same run: the baselines of the default's grid.
@pytest.mark.parametrize("baseline", [g for g in GRIDS if g != DEFAULT_GRID])
@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: whole call (scoredeblur deblur, default preset, blind)")
def test_whole_call_baseline(benchmark, mp, baseline, photo_dir, tmp_path):
    path = photo(mp, photo_dir)[2]
    code = deblur_in_child(path, tmp_path / "out.png",
                           setup=f"import scoredeblur.api; scoredeblur.api.MOVING_GRID = {GRIDS[baseline]['moving']}",
                           arguments=f", overlap={GRIDS[baseline]['overlap']}")
    seconds, rss = once(benchmark, run_child, code)
    benchmark.extra_info.update(peak_rss_mib=round(rss), seconds=round(seconds, 1), megapixels=mp)


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: whole call (scoredeblur deblur, default preset, blind)")
def test_whole_call_baseline_torch_norm(benchmark, mp, photo_dir, tmp_path):
    """The default call with the network's GroupNorm + SiLU as PyTorch's ops (the compiled kernel off)."""
    path = photo(mp, photo_dir)[2]
    code = deblur_in_child(path, tmp_path / "out.png", setup="import scoredeblur.models.norm as norm; norm.NATIVE = False")
    seconds, rss = once(benchmark, run_child, code)
    benchmark.extra_info.update(peak_rss_mib=round(rss), seconds=round(seconds, 1), megapixels=mp)


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: whole call (scoredeblur deblur, default preset, blind)")
def test_whole_call_baseline_direct_conv(benchmark, mp, photo_dir, tmp_path):
    """The default call with the network's 3x3 convolutions as oneDNN's direct ones (Winograd off)."""
    path = photo(mp, photo_dir)[2]
    code = deblur_in_child(path, tmp_path / "out.png", setup="import scoredeblur.models.conv as conv; conv.NATIVE = False")
    seconds, rss = once(benchmark, run_child, code)
    benchmark.extra_info.update(peak_rss_mib=round(rss), seconds=round(seconds, 1), megapixels=mp)


@pytest.mark.parametrize("mp", SIZES)
@pytest.mark.benchmark(group="profile: whole call (scoredeblur deblur, default preset, blind)")
def test_whole_call_peer_pnp_hqs_ffdnet(benchmark, mp, photo_dir):
    """The peer a user would pick instead: PnP-HQS with FFDNet, 8 iterations, given the radius."""
    if not (PEER_WEIGHTS / "ffdnet_kair").is_dir():
        pytest.skip(f"FFDNet weights not found under {PEER_WEIGHTS}")
    path = photo(mp, photo_dir)[2]
    code = (f"import torch; torch.set_num_threads({torch.get_num_threads()}); "
            f"from scoredeblur.bench.peers import load_ffdnet, pnp_hqs; "
            f"from scoredeblur.io.images import read_image; import numpy as np; "
            f"img = read_image({str(path)!r}).pixels.astype(np.float64) / 255; "
            f"pnp_hqs(load_ffdnet({str(PEER_WEIGHTS)!r}), img, 4.0, 0.01)")
    seconds, rss = once(benchmark, run_child, code)
    benchmark.extra_info.update(peak_rss_mib=round(rss), seconds=round(seconds, 1), megapixels=mp)


CROP_MAPS = {  # the radius maps a 256² crop can bring: none, uniform, and the widest ranges
    "blind (estimated)": None,
    "uniform 4 px": 4.0,
    "0-12 px ramp": lambda h, w: np.broadcast_to(np.linspace(0.0, 12.0, w), (h, w)).copy(),
    "1-6 px blob": lambda h, w: 1.0 + 5.0 * (np.hypot(*np.mgrid[-1:1:h * 1j, -1:1:w * 1j]) > 0.5),
}


@pytest.mark.parametrize("radius_map", list(CROP_MAPS))
@pytest.mark.benchmark(group="profile: a 256² crop, default preset, by radius map")
def test_crop_256(benchmark, radius_map, net):
    """The default call on a 256² crop costs the same whatever its map (target: ≤ 5 s)."""
    import scoredeblur

    img, _ = layered_photo(256, 256, seed=1)
    given = CROP_MAPS[radius_map]
    psf = given(256, 256) if callable(given) else given
    run = lambda: scoredeblur.deblur(img, psf_radius=psf, model=net)  # noqa: E731
    run()
    benchmark.pedantic(run, rounds=2, iterations=1)
