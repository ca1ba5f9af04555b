"""Every fused-update backend against the reference op, and the fused loop against pc_sample."""
import ctypes
import os
import shutil
import zlib

import pytest
import torch

from scoredeblur.config import SDEConfig
from scoredeblur.errors import BackendUnavailable
from scoredeblur.kernels.reference import fused_update as reference
from scoredeblur.kernels.registry import available_kernels, get_kernel
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.sampling.fused_loop import fused_sample
from scoredeblur.sampling.sampler import SamplerConfig, pc_sample
from scoredeblur.sampling.sde import VESDE

SHAPES = [(1, 1, 1, 1), (3, 3, 37, 41), (2, 1, 5, 7), (4, 3, 64, 65)]


def _device_for(backend: str) -> str:
    """Where a backend's tensors live: CUDA for the cuda kernel, and for Triton when it is compiled
    for a GPU (not run in its CPU interpreter)."""
    if backend == "cuda" or (backend == "triton" and torch.cuda.is_available()
                             and os.environ.get("TRITON_INTERPRET") != "1"):
        return "cuda"
    return "cpu"


def _kernel_or_skip(name):
    try:
        return get_kernel(name)
    except BackendUnavailable as exc:
        pytest.skip(f"{name} kernel unavailable here: {exc}")


@pytest.mark.parametrize("backend", ["cpu", "triton", "cuda"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_backend_matches_reference(backend, shape, dtype):
    kernel = _kernel_or_skip(backend)
    dev = _device_for(backend)
    g = torch.Generator().manual_seed(zlib.crc32(f"{shape}{dtype}".encode()))
    x, s, z, y = (torch.randn(shape, generator=g, dtype=dtype).to(dev) for _ in range(4))
    coef = torch.randn((shape[0], 4), generator=g).to(dev)
    out = kernel(x, s, z, y, coef)
    ref = reference(x, s, z, y, coef)
    assert out.shape == ref.shape and out.dtype == dtype
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_reference_op_is_the_documented_affine_map():
    x, s, z, y = (torch.full((2, 1, 2, 2), v) for v in (1.0, 2.0, 3.0, 4.0))
    coef = torch.tensor([[1.0, 0.5, 0.0, 0.0], [0.5, 0.0, 1.0, 2.0]])
    out = reference(x, s, z, y, coef)
    assert torch.equal(out[0], torch.full((1, 2, 2), 2.0)) and torch.equal(out[1], torch.full((1, 2, 2), 11.5))


def test_unknown_and_unavailable_backends_say_why():
    with pytest.raises(ValueError, match="unknown kernel"):
        get_kernel("nope")
    status = available_kernels()
    assert status["reference"] == "ok"
    if not torch.cuda.is_available():
        assert "GPU" in status["cuda"]


MU, S = 0.4, 0.2


def _gauss(x, sigma):
    return -(x - MU) / (S**2 + sigma**2)


CONFIGS = {
    "paper": SamplerConfig(steps=30, corrector=True, consistency="paper", alpha=0.05),
    "predictor_only": SamplerConfig(steps=30, corrector=False, consistency=None),
    "pc": SamplerConfig(steps=30, corrector=True, consistency=None),
    "ddim_ccdf": SamplerConfig(steps=12, corrector=False, consistency=None, predictor="ddim", eta=0.3, sigma_start=1.0),
    "hqs_proximal": SamplerConfig(steps=10, corrector=False, consistency="proximal", predictor="hqs", sigma_start=0.2),
    "gradient": SamplerConfig(steps=10, corrector=True, consistency="gradient", alpha=0.5, sigma_start=0.5),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("backend", ["reference", "cpu", "triton"])
def test_fused_loop_reproduces_the_reference_loop(name, backend):
    kernel = _kernel_or_skip(backend)
    if _device_for(backend) == "cuda":  # the loop stays on the CPU; only the kernel runs on the GPU
        gpu_kernel = kernel
        kernel = lambda *t: gpu_kernel(*(a.cuda() for a in t)).cpu()  # noqa: E731
    cfg = CONFIGS[name]
    sde = VESDE(SDEConfig(0.01, 50.0))
    g = torch.Generator().manual_seed(0)
    y = (MU + S * torch.randn((2, 3, 24, 20), generator=g)).float()
    physics = DefocusBlur(1.5)
    ref = pc_sample(_gauss, sde, y, cfg, torch.Generator().manual_seed(7), physics=physics)
    out = fused_sample(_gauss, sde, y, cfg, torch.Generator().manual_seed(7), kernel, physics=physics)
    scale = float(ref.abs().max())
    assert float((out - ref).abs().max()) <= 2e-5 * max(scale, 1.0), name


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH: the CUDA kernel is not compiled here")
def test_cuda_kernel_was_compiled_with_its_c_abi():
    from scoredeblur.kernels.cuda import find_library

    path = find_library()
    assert path is not None, "nvcc is present but libscoredeblur_cuda.so was not built by the install"
    lib = ctypes.CDLL(str(path))
    assert hasattr(lib, "sd_fused_update") and hasattr(lib, "sd_fused_update_philox")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU: the in-kernel Philox noise runs on CUDA only")
def test_cuda_philox_noise_is_reproducible_and_normal():
    from scoredeblur.kernels.cuda import fused_update_philox

    x = torch.zeros((2, 3, 256, 256), device="cuda")
    coef = torch.tensor([[0.0, 0.0, 1.0, 0.0]] * 2, device="cuda")
    a = fused_update_philox(x, x, x, coef, seed=5, step=3)
    b = fused_update_philox(x, x, x, coef, seed=5, step=3)
    c = fused_update_philox(x, x, x, coef, seed=5, step=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(float(a.mean())) < 0.01 and abs(float(a.std()) - 1) < 0.01
