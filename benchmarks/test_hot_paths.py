"""pytest-benchmark suites for the hot pieces of a sampling step (run: pytest benchmarks/ --benchmark-only).

Each group holds a baseline and its alternatives, measured in the same run, so the ratios printed
by pytest-benchmark's comparison columns are like for like.
"""
import numpy as np
import pytest
import torch
from torch import nn

import scoredeblur.models.unet as network
from scoredeblur.config import NetConfig
from scoredeblur.kernels.registry import BackendUnavailable, get_kernel
from scoredeblur.models import conv as conv_mod
from scoredeblur.models import norm
from scoredeblur.models.score_model import Preconditioner
from scoredeblur.models.unet import ScoreUNet, upsample2x, upsample2x_conv, upsample2x_conv_folded
from scoredeblur.physics import varying
from scoredeblur.physics.defocus import DefocusBlur, dct2
from scoredeblur.physics.estimate import estimate_radius, estimate_radius_map
from scoredeblur.physics.varying import VaryingDefocusBlur
from scoredeblur.sampling.tiling import TiledScore

torch.set_num_threads(2)
SIZE = 256


@pytest.fixture(scope="module")
def net():
    return Preconditioner(ScoreUNet(NetConfig()).eval().requires_grad_(False))


@pytest.fixture(scope="module")
def tensors():
    g = torch.Generator().manual_seed(0)
    return [torch.randn((1, 3, SIZE, SIZE), generator=g) for _ in range(4)] + [torch.randn((1, 4), generator=g)]


@pytest.mark.benchmark(group="network forward 256²")
def test_network_forward(benchmark, net, tensors):
    with torch.no_grad():
        benchmark(net.score, tensors[0], 0.5)


@pytest.mark.benchmark(group="network forward 256²")
def test_network_forward_tiled_128(benchmark, net, tensors):
    tiled = TiledScore(net.score, tile=128, overlap=16, batch=4)
    with torch.no_grad():
        benchmark(tiled, tensors[0], 0.5)


@pytest.mark.benchmark(group="network layout × tiles per call, 4 tiles of 256²")
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("batch", [4, 1])
def test_network_layout_and_tile_batch(benchmark, layout, batch):
    """The CPU defaults (channels_last, one tile per call) against NCHW with four tiles per call."""
    model = Preconditioner(ScoreUNet(NetConfig()).eval().requires_grad_(False))
    model.set_memory_format(torch.channels_last if layout == "channels_last" else torch.contiguous_format)
    x = torch.rand((4, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(0))

    def run():
        with torch.no_grad():
            return [model.score(x[i:i + batch], 0.1) for i in range(0, 4, batch)]
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


WINOGRAD_UPSAMPLE = "Winograd at high res, windows read from low res"
UPSAMPLE_FORMS = {"conv(nearest x2)": lambda h, conv: conv(upsample2x(h)), "folded 2x2 at low res": upsample2x_conv_folded,
                  WINOGRAD_UPSAMPLE: upsample2x_conv}  # the dispatch: Winograd where it applies, else folded


@pytest.mark.benchmark(group="up-sampling convolution, 64 ch, channels_last")
@pytest.mark.parametrize("side", [26, 52, 104, 128], ids=lambda s: f"{s}²→{2 * s}²")
@pytest.mark.parametrize("form", list(UPSAMPLE_FORMS))
def test_upsample_conv(benchmark, form, side):
    """The network's up-sampling convolutions (a 206² tile has 26², 52², 104²) each way."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).requires_grad_(False).to(memory_format=torch.channels_last)
    h = torch.randn((1, 64, side, side), generator=torch.Generator().manual_seed(0))
    h = h.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        if form == WINOGRAD_UPSAMPLE and not conv_mod.winograd_applies(h, conv):
            pytest.skip("scoredeblur._native (the compiled Winograd transforms) is not built here")
        benchmark.pedantic(UPSAMPLE_FORMS[form], args=(h, conv), rounds=10, iterations=1, warmup_rounds=1)


NETWORK_FORMS = {  # (up-sampling, in-place element-wise steps without autograd, compiled GroupNorm+SiLU,
    #                 3x3 convolutions as compiled Winograd F(4x4, 3x3))
    "conv(nearest x2), out of place": ("conv(nearest x2)", False, False, False),
    "folded up-sampling, out of place": ("folded 2x2 at low res", False, False, False),
    "folded up-sampling, in place": ("folded 2x2 at low res", True, False, False),
    "folded, in place, compiled GroupNorm+SiLU": ("folded 2x2 at low res", True, True, False),
    "folded, in place, compiled GroupNorm+SiLU, Winograd 3x3": ("folded 2x2 at low res", True, True, True),
    "in place, compiled GroupNorm+SiLU, Winograd 3x3 and up-sampling (shipped)": (WINOGRAD_UPSAMPLE, True, True, True),
}


@pytest.mark.benchmark(group="network forward, channels_last, 1 tile")
@pytest.mark.parametrize("size", [256, 512])
@pytest.mark.parametrize("form", list(NETWORK_FORMS))
def test_network_forward_forms(benchmark, form, size, monkeypatch):
    """The shipped forward against the earlier forms (same weights, same function to 1e-6)."""
    upsample, inplace, native, winograd = NETWORK_FORMS[form]
    if native and not _native_built():
        pytest.skip("scoredeblur._native (the compiled GroupNorm+SiLU) is not built here")
    monkeypatch.setattr(network, "upsample2x_conv", UPSAMPLE_FORMS[upsample])
    monkeypatch.setattr(network, "_inference", lambda: inplace)
    monkeypatch.setattr(norm, "NATIVE", native)
    monkeypatch.setattr(conv_mod, "NATIVE", winograd)
    model = Preconditioner(ScoreUNet(NetConfig()).eval().requires_grad_(False))
    model.set_memory_format(torch.channels_last)
    x = torch.rand((1, 3, size, size), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        benchmark.pedantic(model.score, args=(x, 0.1), rounds=5 if size == 256 else 3, iterations=1, warmup_rounds=1)


def _native_built() -> bool:
    with torch.no_grad():
        return norm.native_applies(torch.zeros((1, 1, 2, 2)).contiguous(memory_format=torch.channels_last),
                                   nn.GroupNorm(1, 1))


@pytest.mark.benchmark(group="GroupNorm + SiLU, channels_last")
@pytest.mark.parametrize("shape", [(1, 32, 256, 256), (1, 64, 128, 128)], ids=["32ch-256", "64ch-128"])
@pytest.mark.parametrize("path", ["PyTorch group_norm + silu_ (reference)", "compiled kernel (shipped)"])
def test_group_norm_silu(benchmark, shape, path, monkeypatch):
    m = nn.GroupNorm(8, shape[1])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        if path.startswith("compiled"):
            if not _native_built():
                pytest.skip("scoredeblur._native (the compiled GroupNorm+SiLU) is not built here")
            benchmark(norm.group_norm_silu, x, m)
        else:
            benchmark(norm.group_norm_silu_reference, x, m)


@pytest.mark.benchmark(group="3x3 convolution, channels_last")
@pytest.mark.parametrize("shape", [(1, 32, 32, 256), (1, 96, 32, 256), (1, 64, 64, 128), (1, 128, 64, 64)],
                         ids=["32-32ch-256", "96-32ch-256", "64-64ch-128", "128-64ch-64"])
@pytest.mark.parametrize("path", ["oneDNN direct (reference)", "compiled Winograd F(4x4,3x3) (shipped)"])
def test_conv3x3(benchmark, shape, path):
    """The network's 3x3 convolutions (input channels, output channels, side) both ways."""
    n, cin, cout, side = shape
    m = nn.Conv2d(cin, cout, 3, padding=1).requires_grad_(False).to(memory_format=torch.channels_last)
    x = torch.randn((n, cin, side, side), generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        if path.startswith("compiled"):
            if not conv_mod.winograd_applies(x, m):
                pytest.skip("scoredeblur._native (the compiled Winograd transforms) is not built here")
            benchmark(conv_mod.conv3x3, x, m)
        else:
            benchmark(m, x)


@pytest.mark.benchmark(group="fused update 256²")
@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_fused_update(benchmark, backend, tensors):
    try:
        kernel = get_kernel(backend)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    benchmark(kernel, *tensors)


@pytest.mark.benchmark(group="fused update 256²")
def test_unfused_updates(benchmark, tensors):
    """Predictor then Eq. (11) as separate tensor expressions: what the fused op replaces."""
    x, s, z, y, _ = tensors

    def unfused():
        x1 = x + 0.3 * s + 0.5 * z
        return x1 - 0.02 * (x1 - y)
    benchmark(unfused)


@pytest.mark.benchmark(group="physics 256²")
def test_blur(benchmark, tensors):
    benchmark(DefocusBlur(3.0).A, tensors[0])


@pytest.mark.benchmark(group="physics 256²")
def test_prox(benchmark, tensors):
    op = DefocusBlur(3.0)
    op.prox(tensors[0], tensors[1], 0.1)  # OTF cached, as inside the loop
    benchmark(op.prox, tensors[0], tensors[1], 0.1)


@pytest.mark.benchmark(group="depth-varying prox, 768×1024, map 0-10 px (8 levels)")
@pytest.mark.parametrize("path", ["prox_dct (CPU default)", "prox_direct (reference)"])
def test_varying_prox(benchmark, path):
    g = torch.Generator().manual_seed(1)
    v, y = torch.rand((1, 3, 768, 1024), generator=g), torch.rand((1, 3, 768, 1024), generator=g)
    op = VaryingDefocusBlur(np.broadcast_to(np.linspace(0.0, 10.0, 1024, dtype=np.float32), (768, 1024)))
    benchmark(op.prox_dct if path.startswith("prox_dct") else op.prox_direct, v, y, 0.05)


@pytest.mark.benchmark(group="depth-varying prox, 866×1155 (866 = 2·433), map 0-4 px")
@pytest.mark.parametrize("solve", ["on a 7-smooth extension, 875 rows (shipped)", "on the image itself"])
def test_varying_prox_awkward_side(benchmark, solve, monkeypatch):
    """The 1 MP 4:3 photo's rows: pocketfft takes 433 by Bluestein's algorithm."""
    if solve == "on the image itself":
        monkeypatch.setattr(varying, "SLOW_PRIME", 10**9)
    g = torch.Generator().manual_seed(3)
    v, y = torch.rand((1, 3, 866, 1155), generator=g), torch.rand((1, 3, 866, 1155), generator=g)
    op = VaryingDefocusBlur(np.broadcast_to(np.linspace(0.0, 4.0, 1155, dtype=np.float32), (866, 1155)))
    benchmark.extra_info["solved_on"] = op.solve_shape(866, 1155)
    benchmark.pedantic(op.prox_dct, args=(v, y, 0.05), rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="blur r = 10, 768×1024, given the image's transform")
@pytest.mark.parametrize("path", ["A_dct (from dct2(v))", "A (convolution)"])
def test_blur_from_transform(benchmark, path):
    v = torch.rand((1, 3, 768, 1024), generator=torch.Generator().manual_seed(2))
    op = DefocusBlur(10.0)
    if path.startswith("A_dct"):
        v_hat, lam = dct2(v), op.eigenvalues(768, 1024, v.dtype, v.device)
        benchmark(op.A_dct, v_hat, lam)
    else:
        benchmark(op.A, v)


FITS = ("batched (shipped)", "one least-squares problem per candidate")


def _use_fit(fit, monkeypatch):
    if fit == FITS[1]:
        import scoredeblur.physics.estimate as estimate
        from tests.test_estimate import _fit_errors_one_candidate_at_a_time

        monkeypatch.setattr(estimate, "radius_fit_errors", _fit_errors_one_candidate_at_a_time)


@pytest.mark.benchmark(group="blind estimation 512²: global")
@pytest.mark.parametrize("fit", FITS)
def test_estimate_global(benchmark, fit, monkeypatch):
    _use_fit(fit, monkeypatch)
    img = np.random.default_rng(0).random((512, 512, 3))
    benchmark.pedantic(estimate_radius, args=(img,), rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="blind estimation 512²: per tile")
@pytest.mark.parametrize("fit", FITS)
def test_estimate_local(benchmark, fit, monkeypatch):
    _use_fit(fit, monkeypatch)
    img = np.random.default_rng(0).random((512, 512, 3))
    benchmark.pedantic(estimate_radius_map, args=(img,), rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="radius maps 512²: tile fits vs learned dense map")
@pytest.mark.parametrize("kind", ["spectral tiles (local)", "learned dense map"])
def test_radius_maps(benchmark, kind):
    """The baseline is the tile estimator "local" runs anyway; "learned" runs both."""
    from scoredeblur.physics.radius_net import embedded_radius_net, learned_radius_map

    img = np.random.default_rng(0).random((512, 512, 3))
    if kind.startswith("spectral"):
        benchmark.pedantic(estimate_radius_map, args=(img,), rounds=3, iterations=1, warmup_rounds=1)
    else:
        net = embedded_radius_net()
        benchmark.pedantic(learned_radius_map, args=(net, img), rounds=3, iterations=1, warmup_rounds=1)


def test_reference_is_what_the_suite_times(tensors):
    """Guard: the unfused expression equals the fused op with the matching coefficients."""
    x, s, z, y, _ = tensors
    coef = torch.tensor([[0.98, 0.98 * 0.3, 0.98 * 0.5, 0.02]])
    torch.testing.assert_close(get_kernel("reference")(x, s, z, y, coef), (x + 0.3 * s + 0.5 * z) * 0.98 + 0.02 * y)


@pytest.mark.benchmark(group="training step (loss + backward), batch 16 of 64²")
@pytest.mark.parametrize("form", [f for f in UPSAMPLE_FORMS if f != WINOGRAD_UPSAMPLE])  # Winograd: inference only
def test_training_step_upsample_form(benchmark, form, monkeypatch):
    """The fold also cuts the backward pass (training runs with autograd, so nothing is in place)."""
    from scoredeblur.training.score import dsm_loss_at

    monkeypatch.setattr(network, "upsample2x_conv", UPSAMPLE_FORMS[form])
    model = Preconditioner(ScoreUNet(NetConfig()).train())
    g = torch.Generator().manual_seed(0)
    xt, z = torch.rand((16, 3, 64, 64), generator=g), torch.randn((16, 3, 64, 64), generator=g)
    sigma = torch.exp(torch.empty(16).uniform_(-4, 5, generator=g))

    def step():
        model.zero_grad(set_to_none=True)
        dsm_loss_at(model, xt, z, sigma).backward()
    benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)


DEBLUR_SETTINGS = {  # layout, tiles per network call, network form (see NETWORK_FORMS)
    "NCHW, 4 tiles per call": (torch.contiguous_format, 4, "conv(nearest x2), out of place"),
    "channels_last, 1 tile per call": (torch.channels_last, None, "conv(nearest x2), out of place"),
    "channels_last, folded up-sampling, in place": (torch.channels_last, None, "folded up-sampling, in place"),
    "channels_last, compiled GroupNorm+SiLU, Winograd (shipped)": (
        torch.channels_last, None, "in place, compiled GroupNorm+SiLU, Winograd 3x3 and up-sampling (shipped)"),
}


@pytest.mark.benchmark(group="deblur call, fast preset, 321×481 (6 tiles of 256²)")
@pytest.mark.parametrize("setting", list(DEBLUR_SETTINGS))
def test_deblur_call_cpu_defaults(benchmark, setting, monkeypatch):
    """A whole ``deblur`` call on the embedded model: earlier CPU settings against the shipped one."""
    from skimage import data

    import scoredeblur
    from scoredeblur.api import get_model

    layout, tile_batch, form = DEBLUR_SETTINGS[setting]
    upsample, inplace, native, winograd = NETWORK_FORMS[form]
    monkeypatch.setattr(network, "upsample2x_conv", UPSAMPLE_FORMS[upsample])
    monkeypatch.setattr(network, "_inference", lambda: inplace)
    monkeypatch.setattr(norm, "NATIVE", native)
    monkeypatch.setattr(conv_mod, "NATIVE", winograd)
    img = data.astronaut()[:321, :481]
    model = get_model(None, "cpu")
    model.set_memory_format(layout)
    try:
        benchmark.pedantic(scoredeblur.deblur, args=(img,), rounds=2, iterations=1,
                           kwargs=dict(preset="fast", psf_radius=3.0, tile_batch=tile_batch))
    finally:
        model.set_memory_format(torch.channels_last)  # the cached model is shared: restore the default
