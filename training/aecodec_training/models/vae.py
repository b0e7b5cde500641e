"""Variational autoencoder for MNIST: Gaussian encoder, Bernoulli decoder, ELBO in nats."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Autoencoder
from .registry import Recipe, register_model


@dataclass
class VAEConfig:
    hidden: int = 400
    latent_dim: int = 20
    image: tuple[int, int, int] = (1, 28, 28)


class VAE(Autoencoder):
    """784 -> 400 -> (mu, logvar) of ``latent_dim``; z -> 400 -> 784 Bernoulli means (Sigmoid)."""

    kind = "vae"
    loss = "vae"
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        pixels = config.image[0] * config.image[1] * config.image[2]
        self.body = nn.Sequential(nn.Linear(pixels, config.hidden), nn.ReLU())  # (N, 784) -> (N, 400)
        self.mu = nn.Linear(config.hidden, config.latent_dim)  # -> (N, L)
        self.logvar = nn.Linear(config.hidden, config.latent_dim)  # -> (N, L)
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden), nn.ReLU(), nn.Linear(config.hidden, pixels), nn.Sigmoid()
        )

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return self.config.image

    @property
    def latent_shape(self) -> list[int | None]:
        return [self.config.latent_dim]

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 28, 28) -> mu, logvar, each (N, L)."""
        h = self.body(x.flatten(1))
        return self.mu(h), self.logvar(h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]  # the mean is the code the codec quantises

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.config.image)

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        """x -> (reconstruction, mu, logvar); with ``eps`` ~ N(0, I) it decodes z = mu + eps * sigma."""
        mu, logvar = self.posterior(x)
        z = mu if eps is None else mu + eps * (0.5 * logvar).exp()  # the reparameterisation trick
        return self.decode(z), mu, logvar

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images decoded from z ~ N(0, I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=device)
        return self.decode(z)


@register_model("mlp-vae", Recipe(epochs=30, batch_size=128))
def mlp_vae(**kw: object) -> VAE:
    """VAE 784-400-(mu, logvar) 20 | 20-400-784 Sigmoid, Bernoulli likelihood."""
    return VAE(VAEConfig(**kw))  # type: ignore[arg-type]
