"""The rate-distortion codec as a registered model: its rate term drops, its shapes, and fine-tuning the
decoder alone through the one trainer keeps every payload."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from aecodec_training.checkpoint import load_checkpoint
from aecodec_training.config import TrainConfig
from aecodec_training.models import CodecConfig, RDCodec
from aecodec_training.registry import build_model, recipe
from aecodec_training.tasks import RateDistortionTask
from aecodec_training.trainer import Trainer
from training.helpers import make_idx_folder

torch.set_num_threads(1)  # tiny models: a second thread only adds contention on a shared 2-core machine


def test_rate_term_drops() -> None:
    torch.manual_seed(0)
    model = RDCodec(CodecConfig(channels=1, height=None, width=None, hidden=8, latent=4))
    x = (torch.rand(8, 1, 16, 16) > 0.7).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        x_hat, bits = model(x)
        loss = (0.01 * 255.0**2 * ((x_hat - x) ** 2).flatten(1).mean(1) + bits).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = bits.mean().item() if first is None else first
    assert bits.mean().item() < 0.85 * first


def test_any_size_and_fixed_shapes() -> None:
    cifar = RDCodec(CodecConfig(channels=3, height=None, width=None, hidden=8, latent=4))
    assert cifar.encode(torch.rand(1, 3, 32, 48)).shape == (1, 4, 4, 6)
    assert cifar(torch.rand(1, 3, 32, 48))[0].shape == (1, 3, 32, 48)
    assert cifar.latent_shape == [4, None, None] and cifar.pad_multiple == 8
    for h, w in ((28, 28), (20, 36)):  # sides that are no multiple of 8 come back exactly
        fixed = RDCodec(CodecConfig(height=h, width=w, hidden=8, latent=4, positional=True))
        assert fixed(torch.rand(2, 1, h, w))[0].shape == (2, 1, h, w)
        assert fixed.pad_multiple == 1 and fixed.latent_shape == [4, -(-h // 8), -(-w // 8)]
    with pytest.raises(ValueError, match="positional prior needs a fixed image size"):
        RDCodec(CodecConfig(positional=True))


def test_registered_with_a_codec_recipe() -> None:
    model = build_model("rd-codec", hidden=8, latent=4, height=28, width=28)
    assert isinstance(model, RDCodec) and model.kind == "codec"
    r = recipe("rd-codec")
    assert r.task is RateDistortionTask and r.settings["lam"] > 0 and r.clip > 0 and r.image_from_data
    assert "prior" in model.wire_fields()  # export writes the integer tables into the manifest


def test_the_noise_follows_the_generator() -> None:
    """Training noise comes from the trainer's generator, so a run and its resumed twin draw the same."""
    model = RDCodec(CodecConfig(hidden=8, latent=4))
    x = torch.rand(2, 1, 16, 16)
    a = model(x, torch.Generator().manual_seed(3))[1]
    b = model(x, torch.Generator().manual_seed(3))[1]
    c = model(x, torch.Generator().manual_seed(4))[1]
    assert torch.equal(a, b) and not torch.equal(a, c)


def _codec_run(data: Path, out: Path, **kw: object) -> TrainConfig:
    return TrainConfig(
        model="rd-codec",
        data_dir=str(data),
        out=str(out),
        epochs=1,
        batch_size=16,
        device="cpu",
        progress=False,
        options={"hidden": 8, "latent": 4, "positional": True},
        **kw,  # type: ignore[arg-type]
    )


def test_decoder_fine_tuning_keeps_the_payloads(tmp_path: Path) -> None:
    """--init --decoder-only changes the synthesis transform alone: encoder and prior (so every payload) stay."""
    data = make_idx_folder(tmp_path / "mnist", n_train=64, n_test=16)
    Trainer(_codec_run(data, tmp_path / "base", command="first"), log=lambda _m: None).fit()
    tuned = _codec_run(
        data,
        tmp_path / "tuned",
        lr=1e-2,
        init=str(tmp_path / "base"),
        task={"lam": 1.0, "decoder_only": True},
        command="second",
    )
    Trainer(tuned, log=lambda _m: None).fit()
    before, after = (load_checkpoint(tmp_path / r) for r in ("base", "tuned"))
    assert before is not None and after is not None
    for name, value in before["model_state"].items():
        same = torch.equal(value, after["model_state"][name])
        assert same != name.startswith("g_s."), name
    assert after["lineage"] == {"command": "first", "epochs": 1, "seconds": before["seconds"]}


def test_budget_stops_the_run_and_resume_keeps_it(tmp_path: Path) -> None:
    data = make_idx_folder(tmp_path / "mnist", n_train=256, n_test=16)
    cfg = _codec_run(data, tmp_path / "run", minutes=0.002)  # 0.12 s: less than one epoch
    cfg.epochs = 50
    trainer = Trainer(cfg, log=lambda _m: None)
    trainer.fit()
    assert trainer.epoch < 50 and trainer.seconds >= 0.12
    again = Trainer(cfg, log=lambda _m: None)
    assert again.budget_spent
    again.fit()
    assert again.epoch == trainer.epoch  # a spent budget trains no further
