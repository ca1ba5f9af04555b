"""The source paper's comparison networks (DnCNN, FFDNet; KAIR weights read from a path) and the
plug-and-play HQS deconvolution peer (DPIR-style) built on FFDNet and the exact defocus prox."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scoredeblur.physics.defocus import DefocusBlur


def _conv_stack(cin: int, cout: int, nc: int, nb: int) -> nn.Sequential:
    """Conv-ReLU ×(nb−1) then Conv, keyed model.0, model.2, … like KAIR's sequential()."""
    layers: list[nn.Module] = [nn.Conv2d(cin, nc, 3, padding=1), nn.ReLU(inplace=True)]
    for _ in range(nb - 2):
        layers += [nn.Conv2d(nc, nc, 3, padding=1), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(nc, cout, 3, padding=1))
    return nn.Sequential(*layers)


class DnCNN(nn.Module):
    """Residual denoiser: returns x − net(x)."""

    def __init__(self, channels: int = 3, nc: int = 64, nb: int = 20):
        super().__init__()
        self.model = _conv_stack(channels, channels, nc, nb)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.model(x)


class FFDNet(nn.Module):
    """Pixel-unshuffle by 2, append the σ map, conv stack, pixel-shuffle back; outputs the clean image."""

    def __init__(self, channels: int = 3, nc: int = 96, nb: int = 12):
        super().__init__()
        self.model = _conv_stack(4 * channels + 1, 4 * channels, nc, nb)

    def forward(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        h, w = x.shape[-2:]
        xp = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
        down = F.pixel_unshuffle(xp, 2)
        smap = torch.full((x.shape[0], 1, *down.shape[-2:]), float(sigma), dtype=x.dtype)
        return F.pixel_shuffle(self.model(torch.cat([down, smap], dim=1)), 2)[..., :h, :w]


def load_dncnn(weights_dir: str | Path) -> DnCNN:
    net = DnCNN()
    net.load_state_dict(torch.load(Path(weights_dir) / "dncnn_kair" / "dncnn_color_blind.pth", weights_only=True))
    return net.eval().requires_grad_(False)


def load_ffdnet(weights_dir: str | Path) -> FFDNet:
    net = FFDNet()
    net.load_state_dict(torch.load(Path(weights_dir) / "ffdnet_kair" / "ffdnet_color.pth", weights_only=True))
    return net.eval().requires_grad_(False)


def _to_t(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()[None]


def _to_np(x: torch.Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).permute(1, 2, 0).double().numpy()


@torch.no_grad()
def run_dncnn(net: DnCNN, blurry: np.ndarray) -> np.ndarray:
    return _to_np(net(_to_t(blurry)))


@torch.no_grad()
def run_ffdnet(net: FFDNet, blurry: np.ndarray, noise: float) -> np.ndarray:
    return _to_np(net(_to_t(blurry), noise))


@torch.no_grad()
def pnp_hqs(net: FFDNet, blurry: np.ndarray, radius: float, noise: float, iters: int = 8,
            lam: float = 0.23, sigma_hi: float = 49 / 255) -> np.ndarray:
    """DPIR-style half-quadratic splitting (Zhang et al. 2021): alternate the exact data prox
    x = argmin ‖Ax − y‖² + μ‖x − z‖² with an FFDNet denoising step at a decreasing level σ_k."""
    y = _to_t(blurry).double()
    op = DefocusBlur(radius)
    noise = max(noise, 0.5 / 255)
    sigmas = np.geomspace(sigma_hi, noise, iters)
    z = y.clone()
    for s in sigmas:
        mu = lam * noise**2 / s**2
        x = op.prox(z, y, mu)
        z = net(x.float(), float(s)).double()
    return _to_np(z)
