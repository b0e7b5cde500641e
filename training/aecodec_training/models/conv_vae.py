"""Convolutional VAE for binarized 28x28 digits: strided convs to a Gaussian posterior, transposed convs to logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .vae import GaussianVAE


@dataclass
class ConvVAEConfig:
    latent_dim: int = 32
    channels: int = 32  # first conv width; the 7x7 stage has twice as many
    hidden: int = 256  # fully connected layer between the 7x7 feature map and the latent
    image: tuple[int, int, int] = (1, 28, 28)


class ConvVAE(GaussianVAE):
    """(1, 28, 28) -conv s2-> (c, 14, 14) -conv s2-> (2c, 7, 7) -> hidden -> (mu, logvar) of ``latent_dim``;
    z -> hidden -> (2c, 7, 7) -convT s2-> (c, 14, 14) -convT s2-> (c, 28, 28) -conv-> Bernoulli logits."""

    def __init__(self, config: ConvVAEConfig) -> None:
        super().__init__(config)
        c, h, lat = config.channels, config.hidden, config.latent_dim
        if config.image[1:] != (28, 28):
            raise ValueError(f"conv-vae takes 28x28 images, not {config.image[1:]}")
        self.enc = nn.Sequential(
            nn.Conv2d(config.image[0], c, 3, stride=2, padding=1),
            nn.ELU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
            nn.ELU(),
            nn.Flatten(),
            nn.Linear(2 * c * 49, h),
            nn.ELU(),
        )
        self.mu = nn.Linear(h, lat)
        self.logvar = nn.Linear(h, lat)
        self.dec = nn.Sequential(
            nn.Linear(lat, h),
            nn.ELU(),
            nn.Linear(h, 2 * c * 49),
            nn.ELU(),
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),
            nn.ELU(),
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1),
            nn.ELU(),
            nn.Conv2d(c, config.image[0], 3, padding=1),
        )

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return self.config.image

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z)
