"""Training the radius net: seeded synthesis, atomic checkpoints that resume exactly, the CLI."""
import numpy as np
import pytest
import torch
from PIL import Image

from scoredeblur.physics.radius_net import RadiusNetConfig, from_checkpoint
from scoredeblur.training.radius import Degradations, RadiusTrainer, random_radius_map, synthesize_example

TINY = RadiusNetConfig(channels=8, band_sigmas=(0.8, 2.0), window=3.0, dilations=(1, 2))


def _images(n=3, size=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(3, size, size + 8, generator=g) * 255).to(torch.uint8) for _ in range(n)]


def test_synthesis_is_seeded_and_physical():
    sharp = torch.rand(64, 64, generator=torch.Generator().manual_seed(1))
    a = synthesize_example(sharp, 8.0, torch.Generator().manual_seed(5))
    b = synthesize_example(sharp, 8.0, torch.Generator().manual_seed(5))
    c = synthesize_example(sharp, 8.0, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    y, rmap = a
    assert y.shape == (1, 64, 64) and rmap.shape == (64, 64)
    assert 0 <= float(rmap.min()) and float(rmap.max()) <= 8.0
    assert torch.equal(torch.round(y * 255) / 255, y) and float(y.min()) >= 0 and float(y.max()) <= 1  # 8-bit
    kinds = [np.ptp(random_radius_map(48, 8.0, torch.Generator().manual_seed(s))) for s in range(40)]
    assert 0.1 < np.mean(np.array(kinds) == 0) < 0.5  # about a quarter uniform, the rest two depths


def _variation(y: torch.Tensor) -> float:
    return float((y[..., 1:, :] - y[..., :-1, :]).abs().mean() + (y[..., :, 1:] - y[..., :, :-1]).abs().mean())


def test_soft_rims_soften_and_jpeg_compresses_with_the_same_labels():
    sharp = torch.rand(64, 64, generator=torch.Generator().manual_seed(1))
    quiet = Degradations(max_noise=0.0)
    plain = synthesize_example(sharp, 8.0, torch.Generator().manual_seed(5), quiet)
    soft = synthesize_example(sharp, 8.0, torch.Generator().manual_seed(5),
                              Degradations(max_noise=0.0, soft_rim=2.0, soft_share=1.0))
    compressed = synthesize_example(sharp, 8.0, torch.Generator().manual_seed(5),
                                    Degradations(max_noise=0.0, jpeg_share=1.0, jpeg_quality=(30, 30)))
    assert torch.equal(plain[1], soft[1]) and torch.equal(plain[1], compressed[1])  # the labels stay the disk's
    assert _variation(soft[0]) < 0.9 * _variation(plain[0])
    assert not torch.equal(compressed[0], plain[0]) and torch.equal(torch.round(compressed[0] * 255) / 255, compressed[0])
    assert float((compressed[0] - plain[0]).abs().max()) < 0.5
    # The default recipe is the shipped net's: the same draws as before the options existed.
    assert all(torch.equal(u, v) for u, v in zip(synthesize_example(sharp, 8.0, torch.Generator().manual_seed(5)),
                                                  synthesize_example(sharp, 8.0, torch.Generator().manual_seed(5),
                                                                     Degradations())))


@pytest.mark.parametrize("bad, match", [(dict(soft_rim=-1.0), "soft_rim"), (dict(soft_share=1.5), "soft_share"),
                                        (dict(jpeg_share=-0.1), "jpeg_share"), (dict(jpeg_quality=(90, 60)), "jpeg_quality")])
def test_degradations_refuse_what_cannot_be_drawn(bad, match):
    with pytest.raises(ValueError, match=match):
        Degradations(**bad)


def test_resumed_training_takes_the_same_steps(tmp_path):
    imgs = _images()
    straight = RadiusTrainer(imgs, tmp_path / "a", TINY, steps=4, batch_size=2, crop=48, seed=3)
    losses = [straight.train_step() for _ in range(4)]
    first = RadiusTrainer(imgs, tmp_path / "b", TINY, steps=4, batch_size=2, crop=48, seed=3)
    first.out_dir.mkdir(parents=True)
    part = [first.train_step() for _ in range(2)]
    first.save()
    resumed = RadiusTrainer(imgs, tmp_path / "b", TINY, steps=4, batch_size=2, crop=48, seed=3)
    assert resumed.resume() and resumed.step == 2
    rest = [resumed.train_step() for _ in range(2)]
    assert part + rest == pytest.approx(losses, rel=0, abs=0)
    for p, q in zip(straight.net.parameters(), resumed.net.parameters()):
        assert torch.equal(p, q)
    other = RadiusTrainer(imgs, tmp_path / "b", TINY, steps=9, batch_size=2, crop=48, seed=3)
    with pytest.raises(ValueError, match="other settings"):
        other.resume()
    softer = RadiusTrainer(imgs, tmp_path / "b", TINY, steps=4, batch_size=2, crop=48, seed=3,
                           degradations=Degradations(soft_rim=1.0, soft_share=0.5))
    with pytest.raises(ValueError, match="other settings"):
        softer.resume()


def test_cli_trains_and_ships_bare_weights(tmp_path):
    from scoredeblur.cli.main import main

    data = tmp_path / "data"
    data.mkdir()
    for i, img in enumerate(_images(size=72)):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(data / f"{i}.png")
    ship = tmp_path / "rn.pt"
    assert main(["train-radius", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "2",
                 "--batch-size", "2", "--crop", "64", "--ship", str(ship), "--soft-rim", "1.0", "--jpeg-share", "0.5"]) == 0
    ckpt = torch.load(ship, weights_only=True)
    assert "optimizer" not in ckpt and ckpt["step"] == 2
    net = from_checkpoint(ckpt)
    assert net(torch.rand(1, 1, 64, 64)).shape == (1, len(net.config.radii), 64, 64)
    run = torch.load(tmp_path / "run" / "radius_net.pt", weights_only=True)
    assert run["degradations"]["soft_rim"] == 1.0 and run["degradations"]["soft_share"] == 0.7
    assert run["degradations"]["jpeg_share"] == 0.5
