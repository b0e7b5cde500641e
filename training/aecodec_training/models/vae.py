"""Variational autoencoders for MNIST: Gaussian posterior, standard normal prior, Bernoulli decoder, nats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .base import Autoencoder


class GaussianVAE(Autoencoder):
    """What every VAE shares: q(z|x) = N(mu, diag(exp(logvar))), p(z) = N(0, I), p(x|z) Bernoulli.

    Subclasses give ``posterior`` and ``decode_logits``; ``decode`` returns the Bernoulli means
    (probabilities in [0, 1]), which is what the exported decoder graph and the service show as an image.
    """

    kind = "vae"
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)

    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)

    @property
    def latent_shape(self) -> list[int | None]:
        return [self.latent_dim]

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) -> mu, logvar, each (N, L)."""
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """(N, L) -> Bernoulli logits (N, C, H, W); the likelihood is computed from these, never from sigmoids."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]  # the mean is the code the codec quantises

    def encoder_graph(self) -> tuple[Callable[..., Any], list[str]]:
        """encoder.onnx gives the posterior: its mean (the latent) and log-variance (for /sample and the NLL)."""
        return self.posterior, ["latent", "logvar"]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        """x -> (reconstruction, mu, logvar); with ``eps`` ~ N(0, I) it decodes z = mu + eps * sigma."""
        mu, logvar = self.posterior(x)
        z = mu if eps is None else mu + eps * (0.5 * logvar).exp()  # the reparameterisation trick
        return self.decode(z), mu, logvar

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images decoded from z ~ N(0, I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return self.decode(z)


@dataclass
class VAEConfig:
    hidden: int = 400
    latent_dim: int = 20
    image: tuple[int, int, int] = (1, 28, 28)
    layers: int = 1  # hidden layers on each side
    act: str = "relu"  # relu | elu | tanh


def _act(name: str) -> nn.Module:
    table: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}
    if name not in table:
        raise ValueError(f"act must be one of {sorted(table)}, not {name!r}")
    return table[name]()


def _hidden_stack(first: int, hidden: int, layers: int, act: str) -> list[nn.Module]:
    """``layers`` x (Linear, activation), first -> hidden -> ... -> hidden."""
    out: list[nn.Module] = []
    for i in range(layers):
        out += [nn.Linear(first if i == 0 else hidden, hidden), _act(act)]
    return out


class VAE(GaussianVAE):
    """784 -> hidden (x layers) -> (mu, logvar) of ``latent_dim``; z -> hidden (x layers) -> 784 Bernoulli means."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        pixels = config.image[0] * config.image[1] * config.image[2]
        h, lat = config.hidden, config.latent_dim
        self.body = nn.Sequential(*_hidden_stack(pixels, h, config.layers, config.act))  # (N, 784) -> (N, h)
        self.mu = nn.Linear(h, lat)  # -> (N, L)
        self.logvar = nn.Linear(h, lat)  # -> (N, L)
        self.decoder = nn.Sequential(
            *_hidden_stack(lat, h, config.layers, config.act), nn.Linear(h, pixels), nn.Sigmoid()
        )

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return self.config.image

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x.flatten(1))
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder[:-1](z).view(-1, *self.config.image)  # all but the final Sigmoid

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.config.image)  # the graph the shipped mlp-vae was exported with
