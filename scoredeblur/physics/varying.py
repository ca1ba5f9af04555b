"""Spatially varying defocus: a radius per pixel, from a smooth radius map.

The blur is modelled as A x = Σ_l W_l ⊙ (A_l x): uniform disk blurs A_l at a few levels r_l,
mixed per pixel by linear-interpolation weights W_l (Σ_l W_l = 1) of the radius map between
its two neighbouring levels. Its adjoint is exact (Aᵀ v = Σ_l A_l (W_l ⊙ v)). The proximal step
mixes the exact uniform proxes the same way, each fed only data its blur explains (see ``prox``):
exact wherever the radius is locally constant, and a close approximation across depth transitions.

Cost is bounded whatever the map: at most ``MAX_LEVELS`` levels, 0.5 px apart when that covers
the map's range and otherwise spread evenly in log(1 + r) (a disk's blur changes less per pixel
of radius the larger it is). Against the exact per-pixel disk blur, the mixture's error is a few
per cent of the blur itself (``tests/physics/test_varying.py``). The weights are formed on the
fly from one H×W position map, so memory does not grow with the number of levels either.

Awkward sizes: the FFTs behind the prox (pocketfft, scipy's and torch's) take a side whose length
has a large prime factor (a 1 MP 4:3 photo's 866 = 2·433, DPDD's 683) by Bluestein's algorithm,
2.5–5× slower per sample than a 7-smooth length. On such a side the prox is solved on the photo
continued past its far edge as the operator's own boundary continues it (mirrored, with its
radius map) to the next 7-smooth length at least twice the largest blur's reach beyond
(``solve_length``), and cropped back. Only the extension's last ``reach`` pixels, where that
solve's own mirror would no longer match, have no data (each level's data term there is what its
blur predicts from v). Inside the image and up to there, A_l v and the data are what they were,
so the fixed point x = v = x_true, y = A x_true stays; the solve differs from the one on the
photo itself by what the data-free strip does, which fades within a few reaches of it
(docs/RESULTS.md, "The up-sampling convolutions in Winograd, and awkward sides").
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from scoredeblur.physics.defocus import DefocusBlur, dct2, dct_applies, idct2, mirror_index, per_sample

LEVEL_STEP = 0.5  # pixels between the uniform blurs that are mixed, where MAX_LEVELS suffice
MAX_LEVELS = 8    # uniform blurs at most: A, Aᵀ and prox cost at most this many uniform ones
# Noise σ that stands for the mixture's error (a few per cent of the blur where the map falls
# between levels, and the prox's approximation across depth transitions): with σ_n alone the
# consistency deconvolves that error into ripples. It grows with the range of radii the map mixes,
# so it reaches MODEL_ERROR at a spread (10th to 90th percentile) of FULL_ERROR_SPREAD; a map that
# barely varies (a uniform blur read with small tile-to-tile differences) is close to exact.
# Measured (docs/RESULTS.md, "Depth-varying defocus: the operator's model error").
MODEL_ERROR = 0.01
FULL_ERROR_SPREAD = 3.0  # px
# A side with a prime factor above this is solved on a 7-smooth extension (see the module's docstring).
SLOW_PRIME = 50
_OUTSIDE = -2.0  # level position of the extension's data-free strip: every level's weight is 0 there


def largest_prime_factor(n: int) -> int:
    p, largest = 2, 1
    while p * p <= n:
        while n % p == 0:
            n, largest = n // p, p
        p += 1
    return max(largest, n)


def solve_length(n: int, reach: int) -> int:
    """The length the prox solves an image side of n pixels on: n itself when the FFTs take n
    fast, otherwise the smallest 7-smooth length at least ``reach`` beyond n."""
    if largest_prime_factor(n) <= SLOW_PRIME:
        return n
    m = n + reach
    while largest_prime_factor(m) > 7:
        m += 1
    return m


def extend(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """x (…, H₀, W₀) continued half-sample symmetrically past its bottom and right edges to h × w."""
    h0, w0 = x.shape[-2:]
    if (h, w) == (h0, w0):
        return x
    return x[..., mirror_index(torch.arange(h), h0)[:, None], mirror_index(torch.arange(w), w0)[None, :]]


def blur_levels(lo: float, hi: float) -> np.ndarray:
    """The radii mixed for a map ranging over [lo, hi]."""
    ladder = np.arange(np.floor(lo / LEVEL_STEP) * LEVEL_STEP, hi + LEVEL_STEP, LEVEL_STEP)
    if len(ladder) < 2:
        return np.array([ladder[0], ladder[0] + LEVEL_STEP])
    if len(ladder) <= MAX_LEVELS:
        return ladder
    return np.expm1(np.linspace(np.log1p(lo), np.log1p(hi), MAX_LEVELS))


class VaryingDefocusBlur:
    def __init__(self, radius_map: np.ndarray | torch.Tensor):
        # float32 (bounded memory at 24 MP) and a copy: the caller's array may be read-only or change later.
        rmap = torch.from_numpy(np.array(radius_map.detach().cpu() if isinstance(radius_map, torch.Tensor) else radius_map,
                                         dtype=np.float32))
        if rmap.ndim != 2 or not torch.isfinite(rmap).all() or (rmap < 0).any():
            raise ValueError("radius_map must be a finite, non-negative H×W array")
        lo, hi = float(rmap.min()), float(rmap.max())
        levels = blur_levels(lo, hi)
        self.radius_map = rmap
        self.max_radius = hi  # the strongest blur anywhere in the photo
        self.levels = levels
        self.ops = [DefocusBlur(float(r)) for r in levels]
        # Fractional level index per pixel: level l's weight is max(0, 1 − |pos − l|).
        idx = np.clip(np.searchsorted(levels, rmap.numpy(), side="right") - 1, 0, len(levels) - 2)
        frac = np.clip((rmap.numpy() - levels[idx]) / (levels[idx + 1] - levels[idx]), 0, 1)
        self.position = torch.from_numpy((idx + frac).astype(np.float32))
        self._cast: dict[tuple, torch.Tensor] = {}
        self.active = [i for i in range(len(levels)) if float(self._weight(i, self.position).max()) > 0]
        # A map whose every pixel sits on a level (a mask of 0 and one radius on the ladder) is mixed
        # without interpolation; only then is the mixture as exact as its uniform blurs.
        within = torch.frac(self.position)  # one image-sized temporary (96 MB at 24 MP)
        between = bool(((within > 1e-3) & (within < 1 - 1e-3)).any())
        del within
        sample = rmap[::4, ::4].numpy()  # the map is smooth: a subsample gives its percentiles at 24 MP too
        spread = float(np.percentile(sample, 90) - np.percentile(sample, 10))
        self.model_error = MODEL_ERROR * min(1.0, spread / FULL_ERROR_SPREAD) if between else 0.0

    @property
    def weights(self) -> torch.Tensor:
        """(L, H, W) interpolation weights, summing to 1 per pixel (built on request; the operator
        forms each level's weight only while it uses it)."""
        return torch.stack([self._weight(i, self.position) for i in range(len(self.levels))])

    @staticmethod
    def _weight(i: int, position: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Level i's weight max(0, 1 − |position − i|), in ``out`` when given."""
        return torch.sub(position, i, out=out).abs_().neg_().add_(1).clamp_(min=0)

    def _w(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return self._weight(i, self._position(x))

    def _position(self, x: torch.Tensor, shape: tuple[int, int] | None = None) -> torch.Tensor:
        """The position map in x's dtype and device; on the prox's extended ``shape`` when given:
        mirrored with the photo, except in the extension's last ``reach`` rows and columns, which no
        level owns. A, Aᵀ and prox run every sampling step: cast once."""
        shape = tuple(shape or self.position.shape)
        key = (x.dtype, x.device, shape)
        if key not in self._cast:
            h, w = self.position.shape
            pos = extend(self.position, *shape).to(device=x.device, dtype=x.dtype)
            if shape != (h, w):
                pos = pos.clone()
                reach = self.reach
                pos[max(h, shape[0] - reach):, :] = _OUTSIDE
                pos[:, max(w, shape[1] - reach):] = _OUTSIDE
            self._cast[key] = pos
        return self._cast[key]

    @property
    def reach(self) -> int:
        """The largest level's half kernel: how far a pixel's blur reaches."""
        return max(op.kernel.shape[-1] // 2 for op in self.ops)

    def solve_shape(self, h: int, w: int) -> tuple[int, int]:
        """The H × W the prox of an h × w image is solved on (``solve_length`` of each side)."""
        return solve_length(h, 2 * self.reach), solve_length(w, 2 * self.reach)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(x)
        for i in self.active:
            out.add_(self.ops[i].A(x).mul_(self._w(i, x)))
        return out

    def A_adjoint(self, v: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(v)
        for i in self.active:
            out.add_(self.ops[i].A_adjoint(self._w(i, v) * v))
        return out

    def prox(self, v: torch.Tensor, y: torch.Tensor, rho) -> torch.Tensor:
        """Mix the uniform proxes, each given data that its own blur can explain.

        A uniform prox is global: level l's solve sees all of y, and where the photo was blurred
        at another radius (a sharp foreground, for the background's level) y is inconsistent with
        A_l, and the inverse filter spreads that inconsistency as long-range ringing into the pixels
        that level does own. So level l gets y where it owns the pixel and, elsewhere, what its blur
        predicts from the current estimate, A_l v: y_l = W_l y + (1 − W_l) A_l v. Then x = v = x_true,
        y = A x_true is a fixed point, as for the exact prox. Measured (docs/RESULTS.md): on
        synthetic depth-varying defocus with the true map, +3.9 dB on 256² crops against −0.7 dB
        with the plain mixture.
        """
        if dct_applies(v, y):
            return self.prox_dct(v, y, rho)
        return self.prox_direct(v, y, rho)

    def prox_direct(self, v: torch.Tensor, y: torch.Tensor, rho) -> torch.Tensor:
        """``prox`` from the levels' convolutions and mirrored-FFT solves (reference; any device, autograd)."""
        h, w = v.shape[-2:]
        shape = self.solve_shape(h, w)
        v, y = extend(v, *shape), extend(y, *shape)
        out = torch.zeros_like(v)
        for i in self.active:
            weight = self._weight(i, self._position(v, shape))
            predicted = self.ops[i].A(v)
            y_i = torch.sub(y, predicted).mul_(weight).add_(predicted)  # W y + (1 − W) A_l v
            del predicted
            out.add_(self.ops[i].prox_fft(v, y_i, rho, remember_y=False).mul_(weight))
        return out[..., :h, :w]

    def prox_dct(self, v: torch.Tensor, y: torch.Tensor, rho) -> torch.Tensor:
        """``prox`` in the DCT basis (CPU tensors), equal to ``prox_direct`` to rounding: v is
        transformed once for all levels and each level's A_l v comes from that transform instead of a
        (2r + 1)² convolution (4.8× faster than ``prox_direct`` at 0.8 MP with radii to 10 px).

        Each level's solve is written as a correction of v: with y_l = A_l v + d_l, d_l = W_l (y − A_l v),
        the uniform prox is v + G_l d_l, G_l = (A_lᵀA_l + ρ)⁻¹A_lᵀ, and since Σ_l W_l = 1 the mixture
        is v + Σ_l W_l G_l d_l. Three transforms per level, as before, but every step runs in place
        in two image-sized buffers: at 12 MP a fresh temporary costs as much as a pass over it."""
        h0, w0 = v.shape[-2:]
        h, w = self.solve_shape(h0, w0)
        extended = (h, w) != (h0, w0)
        rho = per_sample(rho, v)
        # The result accumulates in out, which starts as v: on an extension, v's extension itself
        # (a new tensor), so the extension costs no image-sized buffer beyond the others.
        out = extend(v, h, w) if extended else v.clone()
        v_hat = dct2(out)
        work = torch.empty_like(out)
        weight = torch.empty((h, w), dtype=v.dtype, device=v.device)
        spectrum = None
        for i in self.active:
            op = self.ops[i]
            lam = op.eigenvalues(h, w, v.dtype, v.device)
            self._weight(i, self._position(v, (h, w)), out=weight)  # W_l
            residual = op.A_dct(v_hat, lam, out=work)          # A_l v
            subtract_from_data(y, residual).mul_(weight)       # d_l = W_l (y − A_l v)
            spectrum = dct2(residual, overwrite=True)
            spectrum.mul_(lam).div_(torch.addcmul(rho, lam, lam))  # G_l d_l, in the transform domain
            out.addcmul_(idct2(spectrum, overwrite=True), weight)
        if not extended:
            return out
        del v_hat, work, spectrum  # before the cropped copy: the peak stays that of the loop
        return out[..., :h0, :w0].contiguous()


def subtract_from_data(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """r ← extend(y) − r in place, for r on y's extension (``extend``), without forming the
    extended y: the image part directly, the bottom and right strips from y's mirrored rows and
    columns."""
    h0, w0 = y.shape[-2:]
    h, w = r.shape[-2:]
    if (h, w) == (h0, w0):
        return torch.sub(y, r, out=r)
    r[..., :h0, :w0].sub_(y).neg_()
    if h > h0:
        rows = mirror_index(torch.arange(h0, h), h0)
        r[..., h0:, :w0].sub_(y[..., rows, :]).neg_()
    if w > w0:
        r[..., :, w0:].sub_(extend(y[..., :, mirror_index(torch.arange(w0, w), w0)], h, w - w0)).neg_()
    return r


def radius_map_from_tiles(radii: np.ndarray, ys: list[int], xs: list[int], tile: int, h: int, w: int) -> np.ndarray:
    """Bilinear interpolation of per-tile radii (placed at tile centres) to every pixel."""
    cy = np.array(ys, dtype=np.float64) + min(tile, h) / 2
    cx = np.array(xs, dtype=np.float64) + min(tile, w) / 2
    grid = torch.as_tensor(radii, dtype=torch.float64)[None, None]
    # Map pixel coordinates to the normalised tile-centre grid (align_corners=True convention).
    py = np.interp(np.arange(h), cy, np.linspace(-1, 1, len(cy))) if len(cy) > 1 else np.zeros(h)
    px = np.interp(np.arange(w), cx, np.linspace(-1, 1, len(cx))) if len(cx) > 1 else np.zeros(w)
    gy, gx = np.meshgrid(py, px, indexing="ij")
    coords = torch.from_numpy(np.stack([gx, gy], axis=-1))[None]
    return F.grid_sample(grid, coords, mode="bilinear", align_corners=True, padding_mode="border")[0, 0].numpy()
