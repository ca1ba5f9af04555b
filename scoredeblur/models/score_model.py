"""The one boundary between the sampler and the network.

Everything outside works in image space ([0, 1] pixels, float32/float64) and asks for a score
S(x, σ) ≈ ∇ₓ log p_σ(x). This class owns how the raw U-Net F is conditioned (EDM or NCSN
scaling) and the precision and memory layout the network runs in: callers never cast for it.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from scoredeblur.config import NetConfig, SDEConfig
from scoredeblur.models.unet import ScoreUNet

DATA_MEAN = 0.5  # images live in [0, 1]; the network sees them centred


class Preconditioner(nn.Module):
    def __init__(self, net: ScoreUNet, sde_config: SDEConfig = SDEConfig(),
                 compute_dtype: torch.dtype = torch.float32):
        super().__init__()
        self.net = net
        self.config: NetConfig = net.config
        self.sde_config = sde_config  # the σ range the network was trained on
        self.compute_dtype = compute_dtype
        self.memory_format = torch.contiguous_format

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def set_compute_dtype(self, dtype: torch.dtype) -> None:
        """fp16 is allowed on CUDA only; bf16 is refused on CPU (≈200× slower than fp32 on AVX2)."""
        dev = self.device
        if dtype == torch.bfloat16 and dev.type == "cpu":
            raise ValueError("bfloat16 on the CPU is emulated and about 200x slower than float32; use float32")
        if dtype == torch.float16 and dev.type == "cpu":
            raise ValueError("float16 inference is supported on CUDA only; use float32 on the CPU")
        self.compute_dtype = dtype

    def set_memory_format(self, memory_format: torch.memory_format) -> None:
        """Run the network in ``memory_format`` (weights and activations); results keep the caller's.

        channels_last on the CPU lets oneDNN skip re-laying out every activation around every
        convolution: 1.06× per forward at 1×256², 1.27× at 4×256², 1.37× at 1×512² on the 2-core dev
        machine (``benchmarks/test_hot_paths.py``), with the same results to float32 rounding.
        """
        if memory_format not in (torch.contiguous_format, torch.channels_last):
            raise ValueError(f"memory_format must be torch.contiguous_format or torch.channels_last, got {memory_format}")
        self.net.to(memory_format=memory_format)
        self.memory_format = memory_format

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """D(x, σ) ≈ E[x₀ | x]: the network's estimate of the clean image."""
        return self._denoise(x, _as_batch_sigma(sigma, x))

    def _denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        s = sigma.reshape(-1, 1, 1, 1)
        sd = self.config.sigma_data
        xc = x - DATA_MEAN
        if self.config.precond == "edm":
            c_skip = sd**2 / (s**2 + sd**2)
            c_out = s * sd / (s**2 + sd**2).sqrt()
            c_in = 1.0 / (s**2 + sd**2).sqrt()
            f = self._run(c_in * xc, sigma.log() / 4)
            return DATA_MEAN + c_skip * xc + c_out * f
        # NCSN: S = F/σ, hence D = x + σ² S = x + σ F.
        return x + s * self._run(xc, sigma.log())

    def score(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """S(x, σ) = (D(x, σ) − x)/σ² (Tweedie). σ: a number or one value per batch element."""
        return self.forward(x, _as_batch_sigma(sigma, x))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The score for a batch with σ of shape (N,), unchecked: the graph that engines export."""
        if self.config.precond == "ncsn":
            return self._run(x - DATA_MEAN, sigma.log()) / sigma.reshape(-1, 1, 1, 1)
        return (self._denoise(x, sigma) - x) / sigma.reshape(-1, 1, 1, 1) ** 2

    def _run(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        xin = x.to(self.compute_dtype)
        if self.memory_format is torch.channels_last:
            out = self.net(xin.contiguous(memory_format=torch.channels_last), c_noise.float()).contiguous()
        else:
            out = self.net(xin, c_noise.float())
        return out.to(x.dtype)


def _as_batch_sigma(sigma, x: torch.Tensor) -> torch.Tensor:
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
    if sigma.numel() == 1:
        sigma = sigma.expand(x.shape[0])
    if sigma.numel() != x.shape[0]:
        raise ValueError(f"sigma has {sigma.numel()} values for a batch of {x.shape[0]}")
    if not torch.all(sigma > 0):
        raise ValueError("sigma must be positive")
    return sigma


def analytic_dsm_loss(data_std: float, sigma: float) -> float:
    """Per-pixel λ=σ² DSM loss of the *exact* score for data N(μ, s² I): s²/(s² + σ²)."""
    return data_std**2 / (data_std**2 + sigma**2) if math.isfinite(sigma) else 0.0
