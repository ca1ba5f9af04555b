import json

import pytest
import torch

from scoredeblur.config import NetConfig, SDEConfig, TrainConfig
from scoredeblur.models.checkpoint import CheckpointError, load_model, read_checkpoint
from scoredeblur.models.score_model import analytic_dsm_loss
from scoredeblur.training.data import PatchSampler
from scoredeblur.training.score import Trainer, dsm_loss_at
from tests.conftest import TINY

MU, S = 0.5, 0.3


@pytest.mark.parametrize("sigma", [0.01, 0.3, 1.0, 30.0])
def test_dsm_loss_of_exact_score_equals_analytic_value(sigma):
    g = torch.Generator().manual_seed(0)
    x0 = MU + S * torch.randn((32, 1, 32, 32), generator=g, dtype=torch.float64)
    z = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    sig = torch.full((32,), sigma, dtype=torch.float64)
    exact = lambda x, s: -(x - MU) / (S**2 + s.view(-1, 1, 1, 1) ** 2)  # noqa: E731
    loss = float(dsm_loss_at(exact, x0 + sigma * z, z, sig))
    assert loss == pytest.approx(analytic_dsm_loss(S, sigma), rel=0.03)
    if not 0.1 <= sigma <= 3.0:
        return  # at the extremes every reasonable score has the same loss (pure noise / pure data)
    # A wrong score (the data variance misjudged) must give a measurably larger loss.
    wrong_score = lambda x, s: -(x - MU) / ((1.5 * S) ** 2 + s.view(-1, 1, 1, 1) ** 2)  # noqa: E731
    wrong = float(dsm_loss_at(wrong_score, x0 + sigma * z, z, sig))
    assert wrong - loss > 0.01 * analytic_dsm_loss(S, sigma)


def _sampler(seed=0):
    g = torch.Generator().manual_seed(seed)
    # Smooth random images: strongly correlated pixels, easy to learn a denoiser for.
    imgs = []
    for _ in range(8):
        base = torch.rand((3, 8, 8), generator=g)
        up = torch.nn.functional.interpolate(base[None], size=(48, 48), mode="bilinear", align_corners=False)[0]
        imgs.append((up * 255).round().to(torch.uint8))
    return PatchSampler(imgs, 32)


def _trainer(tmp_path, steps, **kw):
    tc = TrainConfig(patch_size=32, batch_size=8, steps=steps, warmup_steps=5, lr=2e-3, save_every=1000,
                     log_every=5, seed=1, **kw)
    return Trainer(_sampler(), tmp_path, TINY, SDEConfig(), tc)


def test_short_training_lowers_the_loss(tmp_path):
    tr = _trainer(tmp_path, 60, restore_fraction=1.0)
    # Evaluate on a fixed batch with fixed noise so the comparison is not noise.
    g = torch.Generator().manual_seed(123)
    x0 = tr.sampler.sample(16, g)
    sigma = torch.exp(torch.empty(16).uniform_(-4.6, 0.0, generator=g))
    z = torch.randn(x0.shape, generator=g)

    def eval_loss():
        tr.net.eval()
        with torch.no_grad():
            return float(dsm_loss_at(tr.model, x0 + sigma.view(-1, 1, 1, 1) * z, z, sigma))

    before = eval_loss()
    tr.fit(progress=False)
    after = eval_loss()
    assert after < 0.7 * before
    lines = (tmp_path / "loss.jsonl").read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[-1])["step"] == 60


def test_checkpoint_resume_takes_the_identical_next_step(tmp_path):
    a = _trainer(tmp_path / "a", 4)
    a.fit(progress=False)
    a.train_step()  # step 5, uninterrupted
    b = _trainer(tmp_path / "b", 4)
    b.fit(progress=False)  # saves at step 4
    c = _trainer(tmp_path / "b", 4)
    assert c.resume() and c.step == 4
    c.train_step()  # step 5 after resume
    for pa, pc in zip(a.net.parameters(), c.net.parameters()):
        assert torch.equal(pa, pc)
    for pa, pc in zip(a.ema.parameters(), c.ema.parameters()):
        assert torch.equal(pa, pc)


def test_time_limit_stops_early_and_saves_a_resumable_checkpoint(tmp_path):
    t = _trainer(tmp_path, 50)
    t.fit(progress=False, max_seconds=0.0)  # out of time after the first step
    assert t.step == 1
    resumed = _trainer(tmp_path, 50)
    assert resumed.resume() and resumed.step == 1


def test_resume_refuses_another_architecture(tmp_path):
    _trainer(tmp_path, 2).fit(progress=False)
    other = Trainer(_sampler(), tmp_path, NetConfig(base_channels=16, channel_mults=(1, 2), attn_levels=(1,)),
                    SDEConfig(), TrainConfig(patch_size=32, batch_size=2, steps=2))
    with pytest.raises(ValueError, match="another network"):
        other.resume()


def test_checkpoint_is_plain_data_and_loads_weights_only(tmp_path):
    tr = _trainer(tmp_path, 2)
    tr.fit(progress=False)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["format"] == "scoredeblur.checkpoint" and ckpt["version"] == 1 and ckpt["step"] == 2
    assert ckpt["net_config"]["base_channels"] == 8
    model = load_model(tmp_path / "checkpoint.pt")
    # Loads the EMA weights for inference.
    for pe, pm in zip(tr.ema.parameters(), model.net.parameters()):
        assert torch.equal(pe, pm)
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_checkpoints_are_named_clearly(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable"):
        read_checkpoint(junk)
    tr = _trainer(tmp_path / "t", 1)
    tr.fit(progress=False)
    ckpt = torch.load(tmp_path / "t" / "checkpoint.pt", weights_only=True)
    torch.save({**ckpt, "version": 99}, tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        read_checkpoint(tmp_path / "v99.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a scoredeblur checkpoint"):
        read_checkpoint(tmp_path / "foreign.pt")
    bad = {**ckpt, "net_config": {**ckpt["net_config"], "base_channels": 16}}
    torch.save(bad, tmp_path / "arch.pt")
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        load_model(tmp_path / "arch.pt")
    # A truncated file (a crash mid-copy) is refused, not half-loaded.
    raw = (tmp_path / "t" / "checkpoint.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "trunc.pt")


def test_a_fresh_run_can_start_from_another_checkpoints_weights(tmp_path):
    first = _trainer(tmp_path / "a", 3)
    path = first.fit(progress=False)
    tc = TrainConfig(patch_size=32, batch_size=8, steps=1, seed=99)
    tuned = Trainer(_sampler(), tmp_path / "b", TINY, SDEConfig(), tc)
    assert not all(torch.equal(p, q) for p, q in zip(tuned.net.parameters(), first.ema.parameters()))
    tuned.init_from(path)
    assert tuned.step == 0
    for p, q, e in zip(tuned.net.parameters(), first.ema.parameters(), tuned.ema.parameters()):
        assert torch.equal(p, q) and torch.equal(e, q)  # the EMA weights, into both
    other = Trainer(_sampler(), tmp_path / "c", NetConfig(base_channels=16, channel_mults=(1, 2), attn_levels=(1,)),
                    SDEConfig(), tc)
    with pytest.raises(CheckpointError, match="another network"):
        other.init_from(path)
