import os

# Triton kernels run in its interpreter on machines without a GPU (must be set before import).
if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("TRITON_INTERPRET", "1")

import numpy as np
import pytest
import torch

from scoredeblur.config import NetConfig, SDEConfig
from scoredeblur.models.checkpoint import atomic_torch_save, make_checkpoint
from scoredeblur.models.unet import ScoreUNet

# Three levels, attention only in the middle block (at 1/4 resolution): cheap enough for CI.
# EDM conditioning for the untrained test network: untrained, it is a near-identity denoiser at
# small σ, so the mechanics tests (consistency pulls, tiling, round trips) stay meaningful; an
# untrained NCSN network (S = F/σ) has an arbitrary, exploding score there.
TINY = NetConfig(in_channels=3, base_channels=8, channel_mults=(1, 2, 2), attn_levels=(), precond="edm")


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _environment(monkeypatch):
    # `scoredeblur -q` sets TQDM_DISABLE for the process (and its Ray workers); a test that runs
    # the CLI in-process must not switch progress bars off for the tests after it.
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


def tiny_checkpoint(path, config: NetConfig = TINY, seed: int = 0, sde: SDEConfig = SDEConfig()):
    torch.manual_seed(seed)
    net = ScoreUNet(config)
    # Give the zero-initialised output layers weights so the network is not the identity denoiser.
    with torch.no_grad():
        for p in net.parameters():
            if p.abs().sum() == 0 and p.ndim > 1:
                p.normal_(0, 0.02)
    atomic_torch_save(make_checkpoint(net, sde), path)
    return path


@pytest.fixture
def tiny_model_path(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny.pt")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_aoti_package(tmp_path_factory):
    """The tiny model compiled once with AOTInductor (≈30-60 s on 2 CPUs), shared by the tests."""
    from scoredeblur.engine.aoti import compile_aoti
    from scoredeblur.models.checkpoint import load_model

    folder = tmp_path_factory.mktemp("aoti")
    model = load_model(tiny_checkpoint(folder / "tiny.pt"))
    # Compiled with CI set whatever the environment: Inductor turns some fallbacks into errors
    # under CI (a package that compiled without it failed there).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CI", "1")
        return compile_aoti(model, folder / "tiny.pt2", max_size=128), model
