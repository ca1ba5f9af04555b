import logging

import numpy as np
import pytest
from PIL import Image

from tests.conftest import tiny_checkpoint

ray = pytest.importorskip("ray")

# Cheap settings: the late-start preset draws no random numbers, a given radius skips the blind estimate.
FAST = {"preset": "fast", "psf_radius": 2.0}


@pytest.fixture(scope="package")
def local_ray():
    """One local Ray instance for every test here: starting one takes seconds."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="package")
def tiny_model(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


def photos(folder, n, size=32, seed=0):
    """``n`` small RGB PNGs: a smooth gradient plus noise, so each one differs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        base = (xx * (3 + i) + yy * 5) % 256
        img = np.clip(base[..., None] + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img{i:02d}.png")
    return folder
