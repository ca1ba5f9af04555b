"""Defocus blur: an anti-aliased disk (pillbox) PSF with symmetric (mirror) boundaries.

A thin lens images an out-of-focus point as a uniformly lit disk whose radius grows with the
distance from the focal plane; pixels on the rim are weighted by the fraction of their area
inside the disk, so non-integer radii are represented faithfully.

Boundary: half-sample symmetric ("d c b a | a b c d", scipy.ndimage's ``reflect``), as a camera
sees the scene continue past the frame. With a centro-symmetric PSF this operator is symmetric
(A = Aᵀ) and diagonalised by the DCT-II, so the proximal step of ‖Ax − y‖² is exact in closed
form. Two implementations of it, equal to rounding (``tests/physics/test_defocus.py``):
on the mirrored 2H×2W image the blur is a circular convolution, solved by FFTs of four times
the image (the reference, any device); on a CPU, orthonormal DCTs of the image itself (scipy's
pocketfft), about three times faster at 1 MP.
"""
from __future__ import annotations

import math

import scipy.fft
import torch
import torch.nn.functional as F

_SUPERSAMPLE = 16


def disk_psf(radius: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(2h+1)² kernel summing to 1; each tap = area of its pixel inside the disk of radius r."""
    if not math.isfinite(radius) or radius < 0:
        raise ValueError(f"PSF radius must be a finite number >= 0, got {radius}")
    # Pixel j covers [j − ½, j + ½]: the disk reaches it while j − ½ < r.
    half = max(0, math.ceil(radius + 0.5) - 1)
    if half == 0:
        return torch.ones(1, 1, dtype=dtype)
    sub = (torch.arange(_SUPERSAMPLE, dtype=torch.float64) + 0.5) / _SUPERSAMPLE - 0.5
    centres = torch.arange(-half, half + 1, dtype=torch.float64)
    coords = (centres[:, None] + sub[None, :]).reshape(-1)
    inside = (coords[:, None] ** 2 + coords[None, :] ** 2) <= radius**2
    k = inside.reshape(2 * half + 1, _SUPERSAMPLE, 2 * half + 1, _SUPERSAMPLE).double().mean(dim=(1, 3))
    return (k / k.sum()).to(dtype)


def pad_symmetric(x: torch.Tensor, r: int) -> torch.Tensor:
    """Half-sample symmetric padding by r on all four sides (r may exceed the image: it repeats)."""
    if r == 0:
        return x
    h, w = x.shape[-2:]
    if r > h or r > w:  # mirror tiling: index map of the infinite symmetric extension
        iy = mirror_index(torch.arange(-r, h + r), h)
        ix = mirror_index(torch.arange(-r, w + r), w)
        return x[..., iy[:, None], ix[None, :]]
    x = torch.cat([x[..., :r, :].flip(-2), x, x[..., -r:, :].flip(-2)], dim=-2)
    return torch.cat([x[..., :r].flip(-1), x, x[..., -r:].flip(-1)], dim=-1)


def mirror_index(i: torch.Tensor, n: int) -> torch.Tensor:
    i = i % (2 * n)
    return torch.where(i < n, i, 2 * n - 1 - i)


class DefocusBlur:
    """Uniform defocus: A x = k ⊛ x with symmetric boundaries. A is self-adjoint."""

    def __init__(self, radius: float):
        self.radius = float(radius)
        self.kernel = disk_psf(self.radius)
        self._otf_cache: dict[tuple, torch.Tensor] = {}
        self._y_hat: tuple | None = None  # (y, its version, transform, Aᵀŷ)

    @property
    def max_radius(self) -> float:
        return self.radius

    @property
    def model_error(self) -> float:
        return 0.0  # exact: the disk blur with symmetric boundaries that it stands for

    def A(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel.to(x.dtype).to(x.device)
        r = k.shape[-1] // 2
        if r == 0:
            return x.clone()
        c = x.shape[1]
        return F.conv2d(pad_symmetric(x, r), k.expand(c, 1, *k.shape), groups=c)

    def A_adjoint(self, v: torch.Tensor) -> torch.Tensor:
        return self.A(v)  # symmetric PSF + half-sample symmetric boundary ⇒ A = Aᵀ

    def otf(self, h: int, w: int, dtype: torch.dtype, device) -> torch.Tensor:
        """Real eigenvalues of A on the mirrored (2h × 2w) grid, shape (2h, 2w//… rfft)."""
        key = (h, w, dtype, str(device))
        if key not in self._otf_cache:
            k = self.kernel.to(dtype)
            r = k.shape[-1] // 2
            psf = torch.zeros(2 * h, 2 * w, dtype=dtype)
            ys = torch.arange(-r, r + 1) % (2 * h)
            xs = torch.arange(-r, r + 1) % (2 * w)
            psf.index_put_((ys[:, None].expand(-1, 2 * r + 1), xs[None, :].expand(2 * r + 1, -1)), k, accumulate=True)
            self._otf_cache[key] = torch.fft.rfft2(psf).real.to(device)  # even kernel: real spectrum
        return self._otf_cache[key]

    def eigenvalues(self, h: int, w: int, dtype: torch.dtype, device, keep: bool = False) -> torch.Tensor:
        """Eigenvalues of A in the orthonormal 2-D DCT-II basis of an h × w image (A = Cᵀ diag(λ) C):
        λ[k, l] = Σₘₙ psf(m, n) cos(πkm/h) cos(πln/w), two small matrix products (h·w·(2r+1)
        multiply-adds). ``keep``: cache them, as the uniform operator does beside its photo's
        transform; the depth-varying operator's levels form them at each use instead of holding
        one image-sized array per level (24 MP × 4 bytes each)."""
        key = ("dct", h, w, dtype, str(device))
        if key in self._otf_cache:
            return self._otf_cache[key]
        k = self.kernel.to(torch.float64)
        offsets = torch.arange(k.shape[-1], dtype=torch.float64) - k.shape[-1] // 2
        cos_h = torch.cos(math.pi * torch.arange(h, dtype=torch.float64)[:, None] * offsets[None] / h)
        cos_w = torch.cos(math.pi * torch.arange(w, dtype=torch.float64)[:, None] * offsets[None] / w)
        # The small factors in float64, the image-sized product in the caller's precision.
        lam = ((cos_h @ k).to(dtype) @ cos_w.T.to(dtype)).to(device)
        if keep:
            self._otf_cache[key] = lam
        return lam

    def prox(self, v: torch.Tensor, y: torch.Tensor, rho: float | torch.Tensor, *,
             remember_y: bool = True) -> torch.Tensor:
        """argminₓ ½‖Ax − y‖² + ½ρ‖x − v‖², exactly: (AᵀA + ρI)⁻¹(Aᵀy + ρv). ``remember_y``: y is
        the same photo at every step of a run, so its transform is kept and reused (pass False for
        a y made afresh at each call, as the depth-varying operator does, so as not to hold it)."""
        if dct_applies(v, y):
            return self.prox_dct(v, y, rho, remember_y=remember_y)
        return self.prox_fft(v, y, rho, remember_y=remember_y)

    def prox_fft(self, v: torch.Tensor, y: torch.Tensor, rho: float | torch.Tensor, *,
                 remember_y: bool = True) -> torch.Tensor:
        """The prox on the mirrored 2h × 2w grid with torch FFTs (reference; any device, autograd)."""
        h, w = v.shape[-2:]
        lam = self.otf(h, w, v.dtype, v.device)
        rho = per_sample(rho, v)
        num = self._adjoint_y_hat(y, lam, _mirrored_rfft2, remember_y) + rho * _mirrored_rfft2(v)
        x = torch.fft.irfft2(num / (lam**2 + rho), s=(2 * h, 2 * w))
        return x[..., :h, :w]

    def prox_dct(self, v: torch.Tensor, y: torch.Tensor, rho: float | torch.Tensor, *,
                 remember_y: bool = True) -> torch.Tensor:
        """The same solve in the DCT basis of the image itself (CPU tensors), in place where it can
        be: at 24 MP every image-sized temporary is 288 MB."""
        h, w = v.shape[-2:]
        lam = self.eigenvalues(h, w, v.dtype, v.device, keep=remember_y)
        rho = per_sample(rho, v)
        num = dct2(v).mul_(rho)
        num.add_(self._adjoint_y_hat(y, lam, dct2, remember_y))
        return idct2(num.div_(lam.square().add(rho)), overwrite=True)

    def A_dct(self, v_hat: torch.Tensor, lam: torch.Tensor | None = None,
              out: torch.Tensor | None = None) -> torch.Tensor:
        """A v from v's transform ``dct2(v)`` (CPU): one inverse transform, where the convolution
        of ``A`` costs (2r + 1)² multiply-adds per pixel (r = 10, 0.8 MP: 12 against 62 ms,
        ``benchmarks/test_hot_paths.py``). ``out``: a buffer shaped like v_hat to compute in."""
        if lam is None:
            lam = self.eigenvalues(*v_hat.shape[-2:], v_hat.dtype, v_hat.device)
        return idct2(torch.mul(v_hat, lam, out=out), overwrite=True)

    def _adjoint_y_hat(self, y: torch.Tensor, lam: torch.Tensor, transform, remember: bool) -> torch.Tensor:
        """Aᵀy in the transform domain. y is the same photo at every step of a run: transform it once."""
        cached = self._y_hat
        if (cached is not None and cached[0] is y and cached[1] == y._version and cached[2] is transform
                and cached[3].shape[-2:] == lam.shape):
            return cached[3]
        y_hat = transform(y).mul_(lam)
        self._y_hat = (y, y._version, transform, y_hat) if remember else None
        return y_hat


def per_sample(rho: float | torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(rho, dtype=v.dtype, device=v.device).reshape(-1, *([1] * (v.ndim - 1)))


def dct_applies(*tensors: torch.Tensor) -> bool:
    """Whether the DCT (scipy) path can take these: CPU tensors that need no gradient."""
    return all(t.device.type == "cpu" and not t.requires_grad for t in tensors)


def dct2(x: torch.Tensor, overwrite: bool = False) -> torch.Tensor:
    """Orthonormal 2-D DCT-II over the last two axes of a CPU tensor (``overwrite``: x may be
    used as scratch space)."""
    return torch.from_numpy(scipy.fft.dctn(x.numpy(), type=2, axes=(-2, -1), norm="ortho", overwrite_x=overwrite,
                                           workers=torch.get_num_threads()))


def idct2(x: torch.Tensor, overwrite: bool = False) -> torch.Tensor:
    """The inverse of ``dct2`` (``overwrite``: x may be used as scratch space)."""
    return torch.from_numpy(scipy.fft.idctn(x.numpy(), type=2, axes=(-2, -1), norm="ortho", overwrite_x=overwrite,
                                            workers=torch.get_num_threads()))


def _mirrored_rfft2(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.rfft2(_mirror_full(x))


def _mirror_full(x: torch.Tensor) -> torch.Tensor:
    """x → [[x, flipW x], [flipH x, flipHW x]]: one period of the symmetric extension."""
    top = torch.cat([x, x.flip(-1)], dim=-1)
    return torch.cat([top, top.flip(-2)], dim=-2)
