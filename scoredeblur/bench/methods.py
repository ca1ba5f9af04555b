"""The method registry: every method maps (blurry image, case, context) → restored image.

New scoredeblur modes register here with ``@register``; the runner and reports pick them up by
name without edits. Non-blind baselines receive the true PSF from the case; blind ones do not.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from skimage.restoration import richardson_lucy, unsupervised_wiener, wiener

from scoredeblur.api import deblur
from scoredeblur.bench.cases import Case
from scoredeblur.bench.metrics import psnr, ssim
from scoredeblur.bench.peers import load_dncnn, load_ffdnet, pnp_hqs, run_dncnn, run_ffdnet
from scoredeblur.physics.defocus import disk_psf


@dataclass
class Context:
    model: str | None = None                 # checkpoint path; None = the embedded default
    weights_dir: Path | None = None          # DnCNN/FFDNet weights (../shared/weights)
    steps: int = 700                         # the paper's iteration count
    seed: int = 0
    device: str | None = None
    tuned: dict = field(default_factory=dict)  # classical baselines' tuned parameters
    curves: dict = field(default_factory=dict)  # per-iteration PSNR/SSIM, filled when asked
    record_curves: bool = False

    @cached_property
    def ffdnet(self):
        return load_ffdnet(self.weights_dir)

    @cached_property
    def dncnn(self):
        return load_dncnn(self.weights_dir)


@dataclass(frozen=True)
class Method:
    name: str
    fn: Callable[[np.ndarray, Case, Context], np.ndarray]
    family: str            # "input" | "classical" | "peer" | "scoredeblur"
    needs_weights: bool = False
    uses_true_psf: bool = False
    description: str = ""


REGISTRY: dict[str, Method] = {}


def register(name: str, family: str, **kw):
    def wrap(fn):
        REGISTRY[name] = Method(name, fn, family, **kw)
        return fn
    return wrap


def _uniform_radius(case: Case) -> float:
    if case.degradation.radius is not None:
        return case.degradation.radius
    return float(np.median(case.radius_map))  # a uniform-PSF method gets the median radius


def _per_channel(fn, img: np.ndarray) -> np.ndarray:
    return np.stack([fn(img[:, :, c]) for c in range(img.shape[2])], axis=2)


def _padded(fn, img: np.ndarray, pad: int) -> np.ndarray:
    """Run an FFT (circular) method on a symmetric-padded copy so the wrap-around stays outside."""
    p = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    return fn(p)[pad:-pad, pad:-pad]


@register("input", "input", description="the defocused image itself")
def _input(blurry, case, ctx):
    return blurry


@register("wiener", "classical", uses_true_psf=True, description="scikit-image Wiener, true PSF, tuned balance")
def _wiener(blurry, case, ctx):
    psf = disk_psf(_uniform_radius(case)).numpy()
    bal = ctx.tuned.get("wiener_balance", 0.01)
    return np.clip(_padded(lambda im: _per_channel(lambda c: wiener(c, psf, bal, clip=False), im), blurry, 32), 0, 1)


@register("unsupervised_wiener", "classical", uses_true_psf=True,
          description="scikit-image unsupervised Wiener (Gibbs-sampled regularisation), true PSF")
def _uwiener(blurry, case, ctx):
    psf = disk_psf(_uniform_radius(case)).numpy()
    rng = np.random.default_rng(ctx.seed)
    run = lambda c: unsupervised_wiener(c, psf, clip=False, rng=rng)[0]  # noqa: E731
    return np.clip(_padded(lambda im: _per_channel(run, im), blurry, 32), 0, 1)


@register("richardson_lucy", "classical", uses_true_psf=True,
          description="scikit-image Richardson-Lucy, true PSF, tuned iteration count")
def _rl(blurry, case, ctx):
    psf = disk_psf(_uniform_radius(case)).numpy()
    n = int(ctx.tuned.get("rl_iterations", 20))
    run = lambda c: richardson_lucy(c, psf, num_iter=n, clip=False)  # noqa: E731
    return np.clip(_padded(lambda im: _per_channel(run, im), blurry, 32), 0, 1)


@register("dncnn", "peer", needs_weights=True, description="CDnCNN-B applied to the blurry image (paper's peer)")
def _dncnn(blurry, case, ctx):
    return run_dncnn(ctx.dncnn, blurry)


@register("ffdnet", "peer", needs_weights=True, description="FFDNet applied to the blurry image (paper's peer)")
def _ffdnet(blurry, case, ctx):
    return run_ffdnet(ctx.ffdnet, blurry, case.degradation.noise)


@register("pnp_hqs_ffdnet", "peer", needs_weights=True, uses_true_psf=True,
          description="plug-and-play HQS deconvolution, FFDNet denoiser, true PSF (DPIR-style)")
def _pnp(blurry, case, ctx):
    return pnp_hqs(ctx.ffdnet, blurry, _uniform_radius(case), case.degradation.noise)


def _scoredeblur(name: str, preset: str, true_psf: bool = False, paper_steps: bool = False, **options):
    def run(blurry, case, ctx):
        curve = []

        def record(info):
            est = info.x[0].clamp(0, 1).permute(1, 2, 0).double().cpu().numpy()
            curve.append((info.index + 1, psnr(case.sharp, est), ssim(case.sharp, est)))
        opts = dict(options)
        if paper_steps:
            opts["steps"] = ctx.steps  # the paper's ablation runs at the iteration count asked for
        if true_psf:
            opts["psf_radius"] = case.radius_map if case.radius_map is not None else case.degradation.radius
        out = deblur(blurry, preset=preset, model=ctx.model, seed=ctx.seed, device=ctx.device,
                     callback=record if ctx.record_curves else None, **opts)
        if curve:
            ctx.curves.setdefault(name, {})[case.name] = curve
        return out
    return run


for _name, _opts, _desc in [
    ("sd_predictor", dict(corrector=False, consistency=None), "paper ablation: reverse-diffusion predictor only"),
    ("sd_pc", dict(corrector=True, consistency=None), "paper ablation: predictor + Langevin corrector"),
    ("sd_paper", dict(corrector=True, consistency="paper"), "the paper: predictor + corrector + DC (Eq. 11)"),
]:
    register(_name, "scoredeblur", description=_desc)(_scoredeblur(_name, "paper", paper_steps=True, **_opts))

for _preset in ("fast", "balanced", "quality"):
    register(f"sd_{_preset}", "scoredeblur", description=f"preset {_preset!r}, blind (estimated PSF and noise)")(
        _scoredeblur(f"sd_{_preset}", _preset))
    register(f"sd_{_preset}_true_psf", "scoredeblur", uses_true_psf=True,
             description=f"preset {_preset!r}, given the true PSF")(
        _scoredeblur(f"sd_{_preset}_true_psf", _preset, true_psf=True))
    register(f"sd_{_preset}_learned", "scoredeblur",
             description=f"preset {_preset!r}, blind with the learned dense radius map (psf_radius='learned')")(
        _scoredeblur(f"sd_{_preset}_learned", _preset, psf_radius="learned"))
    register(f"sd_{_preset}_deblur_highlights", "scoredeblur",
             description=f"preset {_preset!r}, blind, clipped highlights deblurred too (keep_highlights=False)")(
        _scoredeblur(f"sd_{_preset}_deblur_highlights", _preset, keep_highlights=False))
    register(f"sd_{_preset}_true_psf_deblur_highlights", "scoredeblur", uses_true_psf=True,
             description=f"preset {_preset!r}, given the true PSF, clipped highlights deblurred too")(
        _scoredeblur(f"sd_{_preset}_true_psf_deblur_highlights", _preset, true_psf=True, keep_highlights=False))


def available(names: list[str] | None, ctx: Context) -> tuple[list[Method], list[str]]:
    """The methods to run and a message for each one skipped (unknown, or weights absent)."""
    chosen, skipped = [], []
    for name in names or list(REGISTRY):
        m = REGISTRY.get(name)
        if m is None:
            skipped.append(f"{name}: unknown method (known: {', '.join(REGISTRY)})")
        elif m.needs_weights and (ctx.weights_dir is None or not Path(ctx.weights_dir).is_dir()):
            skipped.append(f"{name}: skipped, no peer weights folder (pass --weights DIR, e.g. ../shared/weights)")
        else:
            chosen.append(m)
    return chosen, skipped


def set_threads(n: int | None) -> None:
    if n:
        torch.set_num_threads(n)
