"""3×3 convolutions of the score network on CPUs as Winograd F(4×4, 3×3).

A 3×3, stride-1, padding-1 convolution costs 9 multiply-adds per output pixel and channel pair,
and on a CPU oneDNN's direct convolution already runs near the cores' peak, so the network's
forward can only get cheaper by doing fewer of them. Winograd's minimal filtering computes each 4×4
output tile from its 6×6 input window with 36 products per channel pair instead of 144: the input
windows and the weights are transformed (``Bᵀ d B``, ``G g Gᵀ``), the 36 transformed positions are
36 matrix products over the input channels, and the products go back through
``Aᵀ m A`` (Lavin & Gray 2016). The compiled path (``csrc/winograd_cpu.cpp``, in
``scoredeblur._native``) takes a few tiles at a time on each thread through all three stages, so
the transformed tiles and their products stay in the core's L2 cache: 2.1–2.7× oneDNN's direct
convolution on the network's layers, where a transform-everything-then-one-BLAS-call form was
memory-bound and level with it. This module holds the weight transform (kept on the module until
the weight changes), the per-thread scratch, and the reference transforms in PyTorch ops.

Float32 rounding differs from the direct convolution's: 4e-6 to 1.2e-5 of the output's largest
value for random weights against ≈ 8e-7 direct (``tests/models/test_conv.py``); the shipped
network's score moves by 1.2e-6 of its largest value. It runs where ``norm.native_applies`` runs
the compiled GroupNorm (inference, float32, channels-last CPU tensors, no graph capture), for
biased 3×3 stride-1 padding-1 convolutions of at least 16 channels in and out, including the
convolution after each nearest-neighbour ×2 up-sampling, whose windows are read from the low
resolution; everything else takes ``conv(x)``.
"""
from __future__ import annotations

import threading

import torch
from torch import nn

from scoredeblur.models.norm import compiled_inference

try:
    from scoredeblur import _native
except ImportError:  # a pure-Python install: every call takes the direct convolution
    _native = None

NATIVE = True
MIN_CHANNELS = 16    # below this the batched product is too thin to beat the direct convolution
CHUNK_TILES = 12      # tiles a thread takes through all three stages at once: ≤ 330 KB, in its L2

_F64 = torch.float64
BT = torch.tensor([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                   [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=_F64)
G = torch.tensor([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=_F64)
AT = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                   [0, 1, -1, 8, -8, 1]], dtype=_F64)


def winograd_applies(x: torch.Tensor, conv: nn.Conv2d) -> bool:
    """Whether ``conv3x3`` takes this call through the compiled transforms."""
    return (NATIVE and _native is not None and hasattr(_native, "winograd_conv")
            and conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding_mode == "zeros"
            and conv.bias is not None and conv.weight.dtype == torch.float32
            and min(conv.in_channels, conv.out_channels) >= MIN_CHANNELS and compiled_inference(x))


def conv3x3(x: torch.Tensor, conv: nn.Conv2d, upsample: bool = False) -> torch.Tensor:
    """``conv(x)``, or ``conv(upsample2x(x))`` (nearest neighbour) with ``upsample``; through
    Winograd F(4×4, 3×3) where ``winograd_applies``. Up-sampled, the windows are read from x
    itself: no 4× copy of it is made."""
    if not winograd_applies(x, conv):
        if upsample:
            raise ValueError("conv3x3(upsample=True) runs only where winograd_applies (see unet.upsample2x_conv)")
        return conv(x)
    n, c, h, w = x.shape
    o, scale = conv.out_channels, 2 if upsample else 1
    u = transformed_weight(conv)
    y = torch.empty(n, o, scale * h, scale * w, memory_format=torch.channels_last)
    xv, yv = x.permute(0, 2, 3, 1).numpy(), y.permute(0, 2, 3, 1).numpy()
    bias = conv.bias.detach().numpy()
    threads = torch.get_num_threads()
    scratch = _scratch(threads * 36 * CHUNK_TILES * (c + o))
    _native.winograd_conv(xv, u.numpy(), bias, yv, scratch.numpy(), CHUNK_TILES, threads, upsample)
    return y


_local = threading.local()


def _scratch(size: int) -> torch.Tensor:
    """A float32 buffer of at least ``size`` kept per thread: a fresh one per convolution would
    page-fault its way through megabytes of new memory each time (half the transforms' cost)."""
    buf = getattr(_local, "buf", None)
    if buf is None or buf.numel() < size:
        buf = _local.buf = torch.empty(size)
    return buf


def transformed_weight(conv: nn.Conv2d) -> torch.Tensor:
    """G g Gᵀ of the convolution's weight as (36, C_in, C_out), formed in float64 and kept on the
    module until the weight changes (in place or replaced)."""
    weight = conv.weight
    key = (weight.data_ptr(), weight._version, weight.shape)
    cached = conv.__dict__.get("_winograd_weight")
    if cached is not None and cached[0] == key:
        return cached[1]
    u = weight_transform(weight.detach().to(_F64)).to(torch.float32).contiguous()
    conv.__dict__["_winograd_weight"] = (key, u)
    return u


def weight_transform(weight: torch.Tensor) -> torch.Tensor:
    """(36, C_in, C_out): G g Gᵀ of a (C_out, C_in, 3, 3) weight, in its dtype."""
    g = G.to(weight.dtype)
    return torch.einsum("ij,ocjk,lk->ilco", g, weight, g).reshape(36, weight.shape[1], weight.shape[0])


def input_transform_reference(x: torch.Tensor) -> torch.Tensor:
    """(36, tiles, C): Bᵀ d B for every 6×6 window d of x (N, C, H, W) zero-padded, tiles in
    (n, tile row, tile column) order: what ``_native.winograd_input`` computes."""
    n, c, h, w = x.shape
    th, tw = -(-h // 4), -(-w // 4)
    xp = x.new_zeros(n, c, 4 * th + 2, 4 * tw + 2)
    xp[:, :, 1:h + 1, 1:w + 1] = x
    d = xp.unfold(2, 6, 4).unfold(3, 6, 4)  # (N, C, th, tw, 6, 6)
    bt = BT.to(x.dtype)
    return torch.einsum("ij,nctwjk,lk->ilntwc", bt, d, bt).reshape(36, n * th * tw, c)


def output_transform_reference(m: torch.Tensor, bias: torch.Tensor, n: int, h: int, w: int) -> torch.Tensor:
    """(N, C, H, W): Aᵀ m A + bias for products m (36, tiles, C), cropped to the image."""
    th, tw = -(-h // 4), -(-w // 4)
    at = AT.to(m.dtype)
    m = m.reshape(6, 6, n, th, tw, -1)
    y = torch.einsum("ij,jkntwo,lk->notiwl", at, m, at).reshape(n, -1, 4 * th, 4 * tw)
    return y[:, :, :h, :w] + bias[None, :, None, None]


def conv3x3_reference(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """The Winograd convolution in PyTorch ops (any dtype): the oracle for the compiled path."""
    n, _, h, w = x.shape
    v = input_transform_reference(x)
    m = torch.bmm(v, weight_transform(conv.weight.to(x.dtype)))
    return output_transform_reference(m, conv.bias.to(x.dtype), n, h, w)
