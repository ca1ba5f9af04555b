"""The C++ sampling loop against the Python reference loop, on identical seeds."""
import numpy as np
import pytest
import torch

import scoredeblur
from scoredeblur.engine.aoti import AotiScore
from scoredeblur.errors import BackendUnavailable
from scoredeblur.physics.defocus import DefocusBlur
from scoredeblur.sampling.sampler import SamplerConfig, pc_sample
from scoredeblur.sampling.sde import VESDE

CONFIGS = [
    SamplerConfig(steps=20),  # the paper: predictor + corrector + Eq. (11), from the prior
    SamplerConfig(steps=10, corrector=True, consistency=None, predictor="ddim", eta=0.5, sigma_start=0.5),
    SamplerConfig(steps=8, corrector=False, consistency="proximal", predictor="hqs", sigma_start=0.2, lam=0.5),
]


@pytest.fixture(scope="module")
def loop(tiny_aoti_package):
    from scoredeblur.engine.cpp_loop import CppLoop

    path, _ = tiny_aoti_package
    try:
        return CppLoop(path, AotiScore(path).config.size_multiple), AotiScore(path)
    except BackendUnavailable as exc:
        pytest.skip(f"C++ loop not built: {exc}")


@pytest.mark.parametrize("cfg", CONFIGS, ids=["paper", "ddim_pc_ccdf", "hqs_proximal"])
def test_cpp_loop_reproduces_the_python_loop(loop, cfg):
    cpp, engine = loop
    y = torch.rand(2, 3, 40, 44, generator=torch.Generator().manual_seed(0))
    sde, physics = VESDE(engine.sde_config), DefocusBlur(2.0)
    ref = pc_sample(engine.score, sde, y, cfg, torch.Generator().manual_seed(3), physics=physics)
    out = cpp.sample(y, sde, cfg, 3, physics)
    assert float((out - ref).abs().max()) <= 1e-4 * max(1.0, float(ref.abs().max()))
    other = cpp.sample(y, sde, cfg, 4, physics)
    assert cfg.predictor == "hqs" or not torch.equal(other, out)  # the seed matters where noise is drawn


def test_cpp_loop_refuses_what_it_cannot_do(loop):
    cpp, engine = loop
    y = torch.rand(1, 3, 16, 16)
    with pytest.raises(BackendUnavailable, match="gradient"):
        cpp.sample(y, VESDE(engine.sde_config), SamplerConfig(steps=2, consistency="gradient"), 0, DefocusBlur(1.0))


def test_deblur_loop_cpp_matches_python(tiny_aoti_package, rng):
    path, _ = tiny_aoti_package
    img = rng.random((32, 36, 3)).astype(np.float32)
    kw = dict(model=path, preset="fast", psf_radius=2.0, noise_std=0.01, seed=5)
    a = scoredeblur.deblur(img, loop="python", **kw)
    b = scoredeblur.deblur(img, loop="cpp", **kw)
    assert np.abs(a - b).max() < 1e-4


def test_loop_cpp_falls_back_with_a_warning(tiny_model_path, rng, monkeypatch):
    import scoredeblur.engine.cpp_loop as cl

    def missing():
        raise BackendUnavailable("scoredeblur._engine is not built")

    monkeypatch.setattr(cl, "native_loop", missing)
    img = rng.random((16, 16, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="loop='cpp' unavailable"):
        out = scoredeblur.deblur(img, model=tiny_model_path, loop="cpp", steps=2, preset="paper", tile=32)
    ref = scoredeblur.deblur(img, model=tiny_model_path, loop="python", steps=2, preset="paper", tile=32)
    assert np.array_equal(out, ref)


def test_loop_cpp_runs_an_ensemble_in_python_with_a_warning(tiny_model_path, rng):
    img = rng.random((16, 16, 3)).astype(np.float32)
    kw = dict(model=tiny_model_path, preset="balanced", psf_radius=2.0, noise_std=0.01, tile=32)
    with pytest.warns(UserWarning, match="ensemble=2"):
        out = scoredeblur.deblur(img, loop="cpp", **kw)
    assert np.array_equal(out, scoredeblur.deblur(img, loop="python", **kw))
