"""Fully connected autoencoders for 28x28 MNIST: the report's four, and the denoising and sparse variants."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import torch
from torch import nn

from .base import Autoencoder, activation


@dataclass
class MLPConfig:
    dims: list[int] = field(default_factory=lambda: [784, 196, 49])  # encoder widths; decoder mirrors them
    hidden_act: str = "relu"
    latent_act: str = "none"  # sparse AE: relu keeps codes non-negative and exactly zero when off
    out_act: str = "tanh"  # inputs are in [-1, 1]
    image: tuple[int, int, int] = (1, 28, 28)


def _stack(dims: list[int], hidden: str, last: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(dims)):
        layers += [nn.Linear(a, b), activation(last if i == len(dims) - 2 else hidden)]
    return nn.Sequential(*layers)


class MLPAutoencoder(Autoencoder):
    """784 -> ... -> latent -> ... -> 784; flattens inside, so it takes and returns (N, 1, 28, 28)."""

    def __init__(self, config: MLPConfig, kind: str = "autoencoder") -> None:
        super().__init__(config)
        self.kind = kind  # type: ignore[misc]
        self.encoder = _stack(config.dims, config.hidden_act, config.latent_act)
        self.decoder = _stack(config.dims[::-1], config.hidden_act, config.out_act)

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return self.config.image

    @property
    def latent_shape(self) -> list[int | None]:
        return [self.config.dims[-1]]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))  # (N, 1, 28, 28) -> (N, 784) -> (N, latent)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.config.image)  # (N, latent) -> (N, 784) -> (N, 1, 28, 28)
