"""PCA baseline: the optimal linear autoencoder, fitted in closed form by SVD instead of trained."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Autoencoder


@dataclass
class PCAConfig:
    components: int = 49
    image: tuple[int, int, int] = (1, 28, 28)


class PCA(Autoencoder):
    """z = (x - mean) V_k^T, x' = z V_k + mean: what a one-layer linear AE converges to."""

    mean: torch.Tensor
    basis: torch.Tensor

    def __init__(self, config: PCAConfig) -> None:
        super().__init__(config)
        pixels = config.image[0] * config.image[1] * config.image[2]
        self.register_buffer("mean", torch.zeros(pixels))
        self.register_buffer("basis", torch.zeros(config.components, pixels))  # (k, 784), orthonormal rows
        self.dummy = nn.Parameter(torch.zeros(()), requires_grad=False)  # keeps optimisers and summaries happy

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return self.config.image

    @property
    def latent_shape(self) -> list[int | None]:
        return [self.config.components]

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Set mean and the top principal directions from training images (N, C, H, W)."""
        flat = x.flatten(1).double()
        mean = flat.mean(0)
        _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
        self.mean.copy_(mean.float())
        self.basis.copy_(vh[: self.config.components].float())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) @ self.basis.T  # (N, 784) -> (N, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.basis + self.mean).view(-1, *self.config.image)  # (N, k) -> (N, 1, 28, 28)
