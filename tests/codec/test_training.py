"""An RD model trains a few steps on tiny synthetic data and its rate term drops."""

from __future__ import annotations

import torch
from aecodec_training.codec import CodecConfig, RDCodec


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
