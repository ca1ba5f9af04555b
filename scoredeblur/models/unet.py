"""The score network: an NCSN++-style U-Net F(x, c_noise).

Residual blocks conditioned on a Gaussian-Fourier embedding of the noise level, strided
down-sampling, nearest-neighbour up-sampling (folded into the following convolution),
self-attention at the low-resolution levels and skip connections rescaled by 1/√2 (Song et al.
2021, "NCSN++"). The raw network output is not a score: ``precond.Preconditioner`` turns it into
one. Any H×W works: the input is edge-padded to a multiple of 2^(levels-1) and the output cropped
back.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scoredeblur.config import NetConfig
from scoredeblur.models.conv import conv3x3, winograd_applies
from scoredeblur.models.norm import capturing, group_norm_silu

SQRT2 = math.sqrt(2.0)  # skip connections are rescaled by 1/√2


def _inference() -> bool:
    """Without autograd, element-wise steps may overwrite their (temporary) inputs: SiLU, the
    noise-embedding add and the skip sums then make no new tensors (≈ 8 % of a CPU forward)."""
    return not torch.is_grad_enabled()


def _groups(ch: int) -> int:
    """GroupNorm groups: the largest divisor of ch up to min(32, ch/4) (at least 4 channels a group)."""
    g = min(32, max(1, ch // 4))
    while ch % g:
        g -= 1
    return g


class GaussianFourierEmbedding(nn.Module):
    """Random Fourier features of a scalar (fixed, not trained), as in NCSN++."""

    def __init__(self, dim: int, scale: float):
        super().__init__()
        # A fixed seed: the frequencies are part of the architecture, saved with the state_dict.
        g = torch.Generator().manual_seed(0)
        self.register_buffer("freqs", torch.randn(dim // 2, generator=g) * scale)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        # Always FP32: the arguments reach hundreds of radians, where FP16 has no fractional digits.
        proj = 2 * math.pi * c.float()[:, None] * self.freqs.float()[None, :]
        return torch.cat([proj.sin(), proj.cos()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb_dim, cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        inplace = _inference()
        h = conv3x3(group_norm_silu(x, self.norm1), self.conv1)
        t = self.temb(temb)[:, :, None, None]
        h = h.add_(t) if inplace else h + t
        h = conv3x3(self.dropout(group_norm_silu(h, self.norm2)), self.conv2)
        return h.add_(self.skip(x)).div_(SQRT2) if inplace else (self.skip(x) + h) / SQRT2


class AttnBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.norm = nn.GroupNorm(_groups(ch), ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(group_norm_silu(x, self.norm, silu=False)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        p = self.proj(out.transpose(-1, -2).reshape(b, c, h, w))
        return p.add_(x).div_(SQRT2) if _inference() else (x + p) / SQRT2


class Unit(nn.Module):
    """One residual block, optionally followed by self-attention: one skip connection's worth."""

    def __init__(self, cin: int, cout: int, temb_dim: int, dropout: float, attn: bool):
        super().__init__()
        self.res = ResBlock(cin, cout, temb_dim, dropout)
        self.attn = AttnBlock(cout) if attn else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.res(x, temb)
        return self.attn(h) if self.attn is not None else h


class ScoreUNet(nn.Module):
    """F(x, c_noise) -> tensor shaped like x. ``c_noise`` is one scalar per batch element."""

    def __init__(self, config: NetConfig = NetConfig()):
        super().__init__()
        self.config = config
        ch, mults, cin = config.base_channels, config.channel_mults, config.in_channels
        temb_dim = 4 * ch
        self.embed = GaussianFourierEmbedding(ch, config.fourier_scale)
        self.temb = nn.Sequential(nn.Linear(ch, temb_dim), nn.SiLU(), nn.Linear(temb_dim, temb_dim))
        self.conv_in = nn.Conv2d(cin, ch, 3, padding=1)

        self.down = nn.ModuleList()
        skip_ch = [ch]
        cur = ch
        for level, m in enumerate(mults):
            blocks = nn.ModuleList()
            for _ in range(config.num_res_blocks):
                blocks.append(Unit(cur, ch * m, temb_dim, config.dropout, level in config.attn_levels))
                cur = ch * m
                skip_ch.append(cur)
            downsample = nn.Conv2d(cur, cur, 3, stride=2, padding=1) if level < len(mults) - 1 else None
            if downsample is not None:
                skip_ch.append(cur)
            self.down.append(nn.ModuleDict({"blocks": blocks, **({"downsample": downsample} if downsample else {})}))

        self.mid = nn.ModuleList([Unit(cur, cur, temb_dim, config.dropout, attn=True),
                                  Unit(cur, cur, temb_dim, config.dropout, attn=False)])

        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mults))):
            blocks = nn.ModuleList()
            for _ in range(config.num_res_blocks + 1):
                blocks.append(Unit(cur + skip_ch.pop(), ch * m, temb_dim, config.dropout,
                                   level in config.attn_levels))
                cur = ch * m
            upsample = nn.Conv2d(cur, cur, 3, padding=1) if level > 0 else None
            self.up.append(nn.ModuleDict({"blocks": blocks, **({"upsample": upsample} if upsample else {})}))
        assert not skip_ch

        self.norm_out = nn.GroupNorm(_groups(cur), cur)
        self.conv_out = nn.Conv2d(cur, cin, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"expected (N, {self.config.in_channels}, H, W), got {tuple(x.shape)}")
        h0, w0 = x.shape[-2:]
        x = pad_to_multiple(x, self.config.size_multiple)
        temb = self.temb(self.embed(c_noise.reshape(-1).expand(x.shape[0])).to(x.dtype))

        h = self.conv_in(x)
        skips = [h]
        for level in self.down:
            for unit in level["blocks"]:
                h = unit(h, temb)
                skips.append(h)
            if "downsample" in level:
                h = level["downsample"](h)
                skips.append(h)
        for unit in self.mid:
            h = unit(h, temb)
        for level in self.up:
            for unit in level["blocks"]:
                h = unit(torch.cat([h, skips.pop()], dim=1), temb)
            if "upsample" in level:
                h = upsample2x_conv(h, level["upsample"])
        assert not skips
        out = self.conv_out(group_norm_silu(h, self.norm_out))
        return out[..., :h0, :w0]


def upsample2x(h: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour ×2 (the reference for ``upsample2x_conv``)."""
    b, c, hh, ww = h.shape
    return h[:, :, :, None, :, None].expand(b, c, hh, 2, ww, 2).reshape(b, c, 2 * hh, 2 * ww)


def upsample2x_conv(h: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(upsample2x(h))`` for a 3×3, padding-1 convolution, without the 4× up-sampled copy of
    h: where the Winograd convolution runs (CPU inference) it reads the up-sampled image's windows
    straight from h (2.25 multiply-adds per output pixel and channel pair, 1.4–2.4× the folded
    form on the network's layers); elsewhere (autograd, export, GPU) ``upsample2x_conv_folded``."""
    if winograd_applies(h, conv):
        return conv3x3(h, conv, upsample=True)
    return upsample2x_conv_folded(h, conv)


def upsample2x_conv_folded(h: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(upsample2x(h))`` for a 3×3, padding-1 convolution, computed at the low resolution.

    Output pixel (2i+a, 2j+b) of the up-sampled convolution sees only a 2×2 window of h: rows
    (i−1, i) with taps (W₀, W₁+W₂) when a = 0, rows (i, i+1) with taps (W₀+W₁, W₂) when a = 1, and
    likewise for columns. So one 2×2 convolution with 4·C_out outputs over h padded by one pixel
    gives all four phases (a, b), offset by (a, b) pixels, at 16 instead of 36 multiply-adds per
    input/output channel pair and low-resolution pixel, with no 4× up-sampled copy of h. The same
    function of the same weights (float rounding aside); exports as Pad/Conv/Slice/Concat/Reshape.
    """
    w, bias = conv.weight, conv.bias
    if w.shape[-2:] != (3, 3) or conv.padding != (1, 1) or conv.stride != (1, 1) or bias is None:
        raise ValueError("upsample2x_conv expects a biased 3x3 convolution with stride 1 and padding 1")
    rows = torch.stack([torch.stack([w[:, :, 0], w[:, :, 1] + w[:, :, 2]], 2),
                        torch.stack([w[:, :, 0] + w[:, :, 1], w[:, :, 2]], 2)])        # (a, O, I, 2, 3)
    taps = torch.stack([torch.stack([rows[..., 0], rows[..., 1] + rows[..., 2]], -1),
                        torch.stack([rows[..., 0] + rows[..., 1], rows[..., 2]], -1)], 1)  # (a, b, O, I, 2, 2)
    cout = w.shape[0]
    taps = taps.reshape(4 * cout, w.shape[1], 2, 2)
    channels_last = h.is_contiguous(memory_format=torch.channels_last) and not h.is_contiguous()
    if channels_last:  # weights in the activations' layout, or oneDNN takes a slow path
        taps = taps.contiguous(memory_format=torch.channels_last)
    q = F.conv2d(F.pad(h, (1, 1, 1, 1)), taps, bias.repeat(4))
    n, hh, ww = h.shape[0], h.shape[2], h.shape[3]
    q = q.reshape(n, 2, 2, cout, hh + 1, ww + 1)
    phase = [[q[:, a, b, :, a:a + hh, b:b + ww] for b in (0, 1)] for a in (0, 1)]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if not capturing():
        # Eager: each phase copied once into its strided view of the result.
        out = torch.empty(n, cout, 2 * hh, 2 * ww, dtype=q.dtype, device=q.device, memory_format=fmt)
        grid = out.unflatten(3, (ww, 2)).unflatten(2, (hh, 2))  # (N, C, H, a, W, b)
        for a in (0, 1):
            for b in (0, 1):
                grid[:, :, :, a, :, b].copy_(phase[a][b])
        return out
    # Graph capture (ONNX, AOTInductor, torch.compile): the same interleave without in-place writes.
    if channels_last:  # built in (N, H, a, W, b, C) order so the result stays channels_last
        out = torch.stack([torch.stack([p.permute(0, 2, 3, 1) for p in row], 3) for row in phase], 2)
        return out.reshape(n, 2 * hh, 2 * ww, cout).permute(0, 3, 1, 2)
    out = torch.stack([torch.stack(row, -1) for row in phase], 3)  # (N, C, H, a, W, b)
    return out.reshape(n, cout, 2 * hh, 2 * ww)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Edge-pad the bottom/right so H and W are multiples of ``multiple``.

    Branch-free (a zero pad is a no-op) so that exported graphs keep H and W dynamic.
    """
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple), mode="replicate")


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
