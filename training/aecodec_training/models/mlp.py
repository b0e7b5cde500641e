"""Fully connected autoencoders for 28x28 MNIST: the report's four, and the denoising and sparse variants."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import torch
from torch import nn

from ..config import Objective
from .base import Autoencoder, activation
from .registry import Recipe, register_model


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


@register_model("mlp-reference")
def mlp_reference(**kw: object) -> MLPAutoencoder:
    """The report's reference: 784-196-ReLU-49 | 49-196-ReLU-784-Tanh."""
    return MLPAutoencoder(MLPConfig(**kw))  # type: ignore[arg-type]


@register_model("mlp-relu-out")
def mlp_relu_out(**kw: object) -> MLPAutoencoder:
    """The report's failure case: ReLU output cannot reach the negative half of [-1, 1]."""
    return MLPAutoencoder(MLPConfig(**{"out_act": "relu", **kw}))  # type: ignore[arg-type]


@register_model("mlp-deep")
def mlp_deep(**kw: object) -> MLPAutoencoder:
    """784-392-196-98-49, mirrored, Tanh out."""
    return MLPAutoencoder(MLPConfig(**{"dims": [784, 392, 196, 98, 49], **kw}))  # type: ignore[arg-type]


@register_model("mlp-narrow")
def mlp_narrow(**kw: object) -> MLPAutoencoder:
    """784-156-32, mirrored, Tanh out."""
    return MLPAutoencoder(MLPConfig(**{"dims": [784, 156, 32], **kw}))  # type: ignore[arg-type]


@register_model("mlp-denoise", Recipe(objective=Objective(noise_sigma=0.5, patches=1, patch_size=8)))
def mlp_denoise(**kw: object) -> MLPAutoencoder:
    """Denoising AE 784-392-128-64, mirrored: Gaussian noise (sigma on [-1, 1]) plus blacked-out patches."""
    defaults = {"dims": [784, 392, 128, 64]}
    return MLPAutoencoder(MLPConfig(**{**defaults, **kw}), kind="denoising")  # type: ignore[arg-type]


@register_model("mlp-sparse", Recipe(objective=Objective(l1_weight=1e-3)))
def mlp_sparse(**kw: object) -> MLPAutoencoder:
    """Sparse AE 784-256-128 with a ReLU code and an L1 penalty on it."""
    defaults = {"dims": [784, 256, 128], "latent_act": "relu"}
    return MLPAutoencoder(MLPConfig(**{**defaults, **kw}), kind="sparse")  # type: ignore[arg-type]
