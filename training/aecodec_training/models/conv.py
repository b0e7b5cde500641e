"""The report's tiny fully convolutional CIFAR-10 autoencoder (1,495 parameters)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Autoencoder


@dataclass
class ConvConfig:
    channels: int = 3
    hidden: int = 16
    latent_channels: int = 4


class ConvAutoencoder(Autoencoder):
    """(N, 3, H, W) in [0, 1] -> (N, 4, H/4, W/4) -> (N, 3, H, W); H and W multiples of 4."""

    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)
    pad_multiple = 4

    def __init__(self, config: ConvConfig) -> None:
        super().__init__(config)
        c, h, k = config.channels, config.hidden, config.latent_channels
        self.encoder = nn.Sequential(
            nn.Conv2d(c, h, 3, padding=1),  # (N, 3, H, W) -> (N, 16, H, W)
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> (N, 16, H/2, W/2)
            nn.Conv2d(h, k, 3, padding=1),  # -> (N, 4, H/2, W/2)
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> (N, 4, H/4, W/4)
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(k, h, 2, stride=2),  # -> (N, 16, H/2, W/2)
            nn.ReLU(),
            nn.ConvTranspose2d(h, c, 2, stride=2),  # -> (N, 3, H, W)
            nn.Sigmoid(),
        )

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return (self.config.channels, None, None)

    @property
    def latent_shape(self) -> list[int | None]:
        return [self.config.latent_channels, None, None]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
