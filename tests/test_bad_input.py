"""What scoredeblur refuses, and how: one place to read every refusal. Each case must fail with a
clear error naming the problem, before any long work, never with a silently wrong result."""
import numpy as np
import pytest
import torch

import scoredeblur
from scoredeblur.errors import InputError
from scoredeblur.physics.blind import make_physics
from scoredeblur.physics.defocus import DefocusBlur

FAST = dict(steps=2, preset="paper", tile=32, overlap=8)
IMG = np.random.default_rng(0).random((24, 28, 3)).astype(np.float32)


@pytest.mark.parametrize("radius", [np.float32(3), np.int64(3), np.float64(2.5), 3, 2.5, np.array(3.0),
                                    torch.tensor(3.0)])
def test_psf_radius_of_any_numeric_type_is_a_number(radius):
    op = make_physics(IMG, radius)
    assert isinstance(op, DefocusBlur) and op.radius == float(radius)


@pytest.mark.parametrize("radius, match", [("3", "psf_radius must be"), ("nope", "psf_radius must be"),
                                           (float("nan"), "finite"), (-1.0, "finite number >= 0"),
                                           (1e6, "larger than half the image"), (True, "psf_radius must be")])
def test_bad_psf_radius_is_refused_whatever_the_image_size(radius, match):
    with pytest.raises(InputError, match=match):
        make_physics(IMG, radius)  # a 24×28 image: below the per-tile size, which used to skip the check


def test_bad_radius_maps_are_refused():
    with pytest.raises(InputError, match="shape"):
        make_physics(IMG, np.ones((10, 10)))
    with pytest.raises(InputError, match="finite"):
        make_physics(IMG, np.full(IMG.shape[:2], np.nan))
    with pytest.raises(InputError, match="larger than half"):
        make_physics(IMG, np.full(IMG.shape[:2], 1e5))


@pytest.mark.parametrize("kw, match", [
    (dict(loop="gpu"), "loop must be"),
    (dict(kernel="cpp"), "kernel must be"),
    (dict(loop="cpp", kernel="triton"), "needs loop='python'"),
    (dict(loop="cpp", generator=torch.Generator()), "pass seed="),
    (dict(loop="cpp", callback=print), "cannot call a callback"),
])
def test_loop_and_kernel_combinations_are_checked_first(kw, match, tiny_model_path):
    with pytest.raises(InputError, match=match):
        scoredeblur.deblur(IMG, model=tiny_model_path, **FAST, **kw)


# --- pixel values: refused, never clipped or rescaled silently -------------------------------

@pytest.mark.parametrize("img, match", [
    (np.full((20, 24, 3), 200.0, np.float32), "divide by 255"),
    (np.full((20, 24), 3000.0), "divide by 65535"),
    (np.full((20, 24), -0.2), r"np.clip"),
    (torch.full((3, 20, 24), 2.0), "must lie in \\[0, 1\\]"),
    (np.zeros((3, 8, 3), np.uint8), "ambiguous image shape"),
])
def test_out_of_range_or_ambiguous_pixels_are_refused(img, match, tiny_model_path):
    with pytest.raises(InputError, match=match):
        scoredeblur.deblur(img, model=tiny_model_path, **FAST)


def test_pil_integer_and_float_modes_follow_the_documented_rules(tiny_model_path):
    from PIL import Image

    eight_bit_in_i = Image.fromarray(np.full((20, 24), 200, np.int32))
    assert eight_bit_in_i.mode == "I"
    with pytest.raises(InputError, match="white level is ambiguous"):
        scoredeblur.deblur(eight_bit_in_i, model=tiny_model_path, **FAST)
    with pytest.raises(InputError, match="0..65535"):
        scoredeblur.deblur(Image.fromarray(np.full((20, 24), 70000, np.int32)), model=tiny_model_path, **FAST)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        scoredeblur.deblur(Image.fromarray(np.full((20, 24), 3.0, np.float32)), model=tiny_model_path, **FAST)
    sixteen = Image.fromarray(np.full((20, 24), 30000, np.int32))
    out = scoredeblur.deblur(sixteen, model=tiny_model_path, **FAST)
    assert out.mode == "I" and abs(int(np.asarray(out).mean()) - 30000) < 3000  # the same scale back


# --- numeric arguments: checked before any work ----------------------------------------------

@pytest.mark.parametrize("kw, match", [
    (dict(noise_std=float("nan")), "noise_std must be a finite number"),
    (dict(noise_std=0.0), "noise_std must be in"),
    (dict(lam=float("nan")), "lam must be a finite number"),
    (dict(snr=float("inf")), "snr must be a finite number"),
    (dict(sigma_start=float("nan")), "sigma_start must be a finite number"),
    (dict(steps=1.5), "steps must be a whole number"),
    (dict(steps="3"), "steps must be a whole number"),
    (dict(steps=True), "steps must be a whole number"),
    (dict(steps=10**6), "steps must be in 1..10,000"),
    (dict(tile=8), "tile must be in 16.."),
    (dict(tile_batch=0), "tile_batch must be in 1.."),
    (dict(seed=-1), "seed must be in 0.."),
    (dict(corrector="yes"), "corrector must be True or False"),
    (dict(precision="float8"), "precision must be one of"),
    (dict(precision="float16"), "precision='float16'"),
    (dict(device="nope"), "not a device name"),
])
def test_bad_numbers_are_refused_up_front(kw, match, tiny_model_path):
    args = dict(FAST, **kw)
    args.pop("preset")
    if "steps" in kw:
        args.pop("tile"), args.pop("overlap")
    with pytest.raises(InputError, match=match):
        scoredeblur.deblur(IMG, model=tiny_model_path, preset="fast", **args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a machine without CUDA gives")
def test_cuda_on_a_machine_without_it_says_so(tiny_model_path):
    with pytest.raises(InputError, match="no CUDA or no GPU"):
        scoredeblur.deblur(IMG, model=tiny_model_path, device="cuda", **FAST)


def test_a_tensor_that_requires_grad_with_alpha_is_accepted(tiny_model_path):
    t = torch.rand(4, 20, 24, requires_grad=True)
    out = scoredeblur.deblur(t, model=tiny_model_path, **FAST)
    assert out.shape == t.shape and not out.requires_grad
    assert torch.equal(out[3], t[3].detach())  # alpha untouched


def test_precision_does_not_change_the_shared_model(tiny_model_path):
    net = scoredeblur.get_model(tiny_model_path, "cpu")
    with pytest.raises(InputError):
        scoredeblur.deblur(IMG, model=tiny_model_path, precision="bfloat16", **FAST)
    assert net.compute_dtype == torch.float32
    out = scoredeblur.deblur(IMG, model=tiny_model_path, precision="float32", **FAST)
    assert out.dtype == IMG.dtype


def test_batches_of_images(tiny_model_path):
    imgs = [IMG, IMG[:20, :20]]
    outs = scoredeblur.deblur(imgs, model=tiny_model_path, preset="fast", psf_radius=1.0, tile=32, overlap=8)
    assert isinstance(outs, list) and [o.shape for o in outs] == [i.shape for i in imgs]
    single = scoredeblur.deblur(IMG, model=tiny_model_path, preset="fast", psf_radius=1.0, tile=32, overlap=8)
    assert np.array_equal(outs[0], single)
    batch = torch.from_numpy(np.stack([IMG, IMG[::-1].copy()])).permute(0, 3, 1, 2)
    out = scoredeblur.deblur(batch, model=tiny_model_path, preset="fast", psf_radius=1.0, tile=32, overlap=8)
    assert out.shape == batch.shape
    torch.testing.assert_close(out[0].permute(1, 2, 0), torch.from_numpy(single))


def test_a_large_request_says_so_up_front(tiny_model_path, caplog, monkeypatch):
    import logging

    import scoredeblur.api as api

    monkeypatch.setattr(api, "LARGE_CALL", 20)  # the real threshold is 5,000 tile evaluations
    with caplog.at_level(logging.WARNING, logger="scoredeblur"):
        scoredeblur.deblur(IMG, model=tiny_model_path, steps=2, preset="paper", tile=32)  # 3 NFE, one tile
    assert not caplog.records
    big = np.zeros((40, 40, 3), np.float32)
    with caplog.at_level(logging.WARNING, logger="scoredeblur"):
        scoredeblur.deblur(big, model=tiny_model_path, preset="fast", psf_radius=2.0, steps=6, tile=32, overlap=8)
    from scoredeblur.sampling.tiling import TiledScore

    grid = TiledScore(None, tile=32, overlap=8, moving=True)  # the tiles of each of the 6 steps
    work = sum(len(grid.tiles(40, 40, call)) for call in range(6))
    assert f"evaluates the network {work} times" in caplog.text and "progress=True" in caplog.text


def test_tqdm_disable_is_honoured(tiny_model_path, monkeypatch, capsys):
    scoredeblur.deblur(IMG, model=tiny_model_path, progress=True, **FAST)
    assert "deblur" in capsys.readouterr().err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    scoredeblur.deblur(IMG, model=tiny_model_path, progress=True, **FAST)
    assert capsys.readouterr().err == ""
