"""The RD codec: conv analysis g_a (stride 2 x3) -> latent y (M, H/8, W/8) -> conv-transpose synthesis g_s.

Training uses additive uniform noise for the rate term and straight-through rounding (around the prior's
per-channel offsets) for the decoder input, so the decoder learns on the values it will really receive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .prior import FactorizedPrior


class GDN(nn.Module):
    """Generalised divisive normalisation (Ballé et al.): x / sqrt(beta + gamma * x^2); inverse multiplies."""

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(0.1 * torch.eye(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> same
        c = x.shape[1]
        beta = self.beta.abs() + 1e-6
        gamma = self.gamma.abs().reshape(c, c, 1, 1)
        norm = torch.sqrt(F.conv2d(x * x, gamma, beta))
        return x * norm if self.inverse else x / norm


@dataclass(frozen=True)
class CodecConfig:
    """Everything that fixes the architecture; saved in the checkpoint and the manifest."""

    channels: int = 1  # image channels, 1 or 3
    height: int | None = 28  # fixed native size, or None for any size (fully convolutional)
    width: int | None = 28
    hidden: int = 64  # N: channels of the hidden conv layers
    latent: int = 16  # M: latent channels
    mixtures: int = 3  # logistic components per channel in the prior
    # fixed-size models only: one prior per latent element (c, i, j) instead of per channel, since a digit's
    # latent statistics depend on the position (corners are nearly constant)
    positional: bool = False

    def output_paddings(self) -> tuple[int, int, int]:
        """ConvTranspose output_padding per up-sampling layer so that 28 -> 14 -> 7 -> 4 is undone exactly."""
        if self.height == 28:
            return (0, 1, 1)  # 4 -> 7 -> 14 -> 28
        return (1, 1, 1)  # any multiple of 8: exact doubling

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class RDCodec(nn.Module):
    """Analysis/synthesis transforms and the factorised prior of one quality level."""

    pad_multiple = 8
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        c, n, m = config.channels, config.hidden, config.latent
        self.g_a = nn.Sequential(  # (B, c, H, W) -> (B, m, H/8, W/8), ceil for 28
            nn.Conv2d(c, n, 5, 2, 2),
            GDN(n),
            nn.Conv2d(n, n, 5, 2, 2),
            GDN(n),
            nn.Conv2d(n, m, 5, 2, 2),
        )
        p1, p2, p3 = config.output_paddings()
        self.g_s = nn.Sequential(  # (B, m, h, w) -> (B, c, 8h, 8w) (or 28 x 28 from 4 x 4)
            nn.ConvTranspose2d(m, n, 5, 2, 2, p1),
            GDN(n, inverse=True),
            nn.ConvTranspose2d(n, n, 5, 2, 2, p2),
            GDN(n, inverse=True),
            nn.ConvTranspose2d(n, c, 5, 2, 2, p3),
        )
        self.latent_hw = (-(-config.height // 8), -(-config.width // 8)) if config.height and config.width else None
        if config.positional and self.latent_hw is None:
            raise ValueError("a positional prior needs a fixed image size")
        rows = m * self.latent_hw[0] * self.latent_hw[1] if config.positional and self.latent_hw else m
        self.prior = FactorizedPrior(rows, config.mixtures)

    def prior_view(self, y: torch.Tensor) -> torch.Tensor:
        """y (B, M, h, w) as the prior sees it: (B, M*h*w, 1, 1) for a positional prior, else unchanged."""
        return y.reshape(y.shape[0], -1, 1, 1) if self.config.positional else y

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image (B, C, H, W) in [0, 1] -> unquantised latent y (B, M, h, w)."""
        return self.g_a(x)

    def decode(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Quantised latent (B, M, h, w) -> image (B, C, H, W) clamped to [0, 1]."""
        return self.g_s(y_hat).clamp(0.0, 1.0)

    def quantize(self, y: torch.Tensor) -> torch.Tensor:
        """round(y - m) + m with the prior's per-channel offsets m (no gradient through m)."""
        m = self.prior.offsets().detach()
        m = m.reshape(1, *y.shape[1:]) if self.config.positional else m.reshape(1, -1, 1, 1)
        return torch.round(y - m) + m

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass -> (reconstruction (B, C, H, W), bits per image (B,))."""
        y = self.encode(x)
        noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        bits = -torch.log2(self.prior.likelihood(self.prior_view(noisy))).flatten(1).sum(1)
        y_ste = y + (self.quantize(y) - y).detach()
        x_hat = self.g_s(y_ste)
        return x_hat, bits
