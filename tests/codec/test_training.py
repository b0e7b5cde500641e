"""An RD model trains a few steps on tiny synthetic data and its rate term drops."""

from __future__ import annotations

from pathlib import Path

import torch
from aecodec_training.codec import CodecConfig, RDCodec
from aecodec_training.codec.train import CHECKPOINT, parser, train
from training.helpers import make_idx_folder


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


def test_any_size_and_native_mnist_shapes() -> None:
    cifar = RDCodec(CodecConfig(channels=3, height=None, width=None, hidden=8, latent=4))
    assert cifar.encode(torch.rand(1, 3, 32, 48)).shape == (1, 4, 4, 6)
    assert cifar(torch.rand(1, 3, 32, 48))[0].shape == (1, 3, 32, 48)
    mnist = RDCodec(CodecConfig(hidden=8, latent=4))
    assert mnist(torch.rand(2, 1, 28, 28))[0].shape == (2, 1, 28, 28)


def test_decoder_fine_tuning_keeps_the_payloads(tmp_path: Path) -> None:
    """--init --decoder-only changes the synthesis transform alone: encoder and prior (so every payload) stay."""
    data = make_idx_folder(tmp_path / "mnist", n_train=64, n_test=16)
    common = ["--data-dir", str(data), "--hidden", "8", "--latent", "4", "--batch", "16", "--epochs", "1"]
    base = train(parser().parse_args(["--lam", "1", "--out", str(tmp_path / "base"), *common]))
    fine_tune = ["--init", str(base), "--decoder-only", "--lr", "1e-2"]
    tuned = train(parser().parse_args(["--lam", "1", "--out", str(tmp_path / "tuned"), *fine_tune, *common]))
    before, after = (torch.load(r / CHECKPOINT, weights_only=False) for r in (base, tuned))
    for name, value in before["state"].items():
        same = torch.equal(value, after["state"][name])
        assert same != name.startswith("g_s."), name
    assert after["command"].startswith(before["command"] + " && ")
