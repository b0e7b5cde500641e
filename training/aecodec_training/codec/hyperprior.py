"""The photo codec: a mean-scale hyperprior model (Ballé et al. 2018; Minnen et al. 2018 without context).

    x (B, 3, H, W) --g_a--> y (B, M, H/16, W/16) --h_a--> z (B, Z, H/64, W/64)
    z_hat = round(z - m_z) + m_z, coded with a factorised prior (per channel, integer tables)
    h_s(z_hat) -> (mu, sigma) per element of y; y_hat = round(y - mu) + mu, coded with a zero-mean
    Gaussian whose scale is snapped to a fixed table (``scale_table``), so the decoder only needs an index
    into fixed integer CDF tables, as CompressAI's ``GaussianConditional`` does.
    g_s(y_hat) -> x_hat

Training uses additive uniform noise for the rates and straight-through rounding for the decoder inputs
("mixed quantisation", Minnen & Singh 2020), so the synthesis transforms learn on the values they will get.
Upsampling is sub-pixel convolution (conv + pixel shuffle): on CPU it trains faster than a transposed conv of
the same receptive field and has no checkerboard artefacts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model import GDN
from .prior import LIKELIHOOD_FLOOR, FactorizedPrior

SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64  # CompressAI's defaults for GaussianConditional


def scale_table() -> np.ndarray:
    """The fixed Gaussian scales the coder knows, log-spaced (64,) float64; identical everywhere."""
    return np.exp(np.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


@dataclass(frozen=True)
class HyperpriorConfig:
    """Architecture only; saved in the checkpoint and the manifest."""

    channels: int = 3
    hidden: int = 96  # N: channels of the analysis/synthesis transforms
    latent: int = 128  # M: channels of y
    side: int = 64  # Z: channels of z
    mixtures: int = 3  # logistic components per channel of z's factorised prior
    upsample: str = "subpixel"  # or "transposed"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def up(cin: int, cout: int, kind: str) -> nn.Module:
    """x2 upsampling: (B, cin, h, w) -> (B, cout, 2h, 2w)."""
    if kind == "subpixel":
        return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, 1, 1), nn.PixelShuffle(2))
    return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1)


def down(cin: int, cout: int) -> nn.Conv2d:
    """x2 downsampling: (B, cin, h, w) -> (B, cout, h/2, w/2)."""
    return nn.Conv2d(cin, cout, 5, 2, 2)


class GaussianConditional(nn.Module):
    """Bin probabilities of y under N(mu, sigma) convolved with U(-1/2, 1/2); no parameters of its own."""

    def forward(self, y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        v = (y - mu).abs()  # symmetric: use the lower tail for precision
        s = sigma.clamp_min(SCALE_MIN)
        upper = torch.special.ndtr((0.5 - v) / s)
        lower = torch.special.ndtr((-0.5 - v) / s)
        return (upper - lower).clamp_min(LIKELIHOOD_FLOOR)


class HyperpriorCodec(nn.Module):
    """Analysis, synthesis and hyper transforms, z's factorised prior and y's Gaussian conditional."""

    pad_multiple = 64  # y at 1/16 and z at 1/64 of the side
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)

    def __init__(self, config: HyperpriorConfig) -> None:
        super().__init__()
        self.config = config
        c, n, m, k, u = config.channels, config.hidden, config.latent, config.side, config.upsample
        self.g_a = nn.Sequential(
            down(c, n), GDN(n), down(n, n), GDN(n), down(n, n), GDN(n), down(n, m)
        )  # (B, c, H, W) -> (B, m, H/16, W/16)
        self.g_s = nn.Sequential(
            up(m, n, u),
            GDN(n, inverse=True),
            up(n, n, u),
            GDN(n, inverse=True),
            up(n, n, u),
            GDN(n, inverse=True),
            up(n, c, u),
        )  # (B, m, h, w) -> (B, c, 16h, 16w)
        self.h_a = nn.Sequential(
            nn.Conv2d(m, n, 3, 1, 1), nn.LeakyReLU(inplace=True), down(n, n), nn.LeakyReLU(inplace=True), down(n, k)
        )  # (B, m, h, w) -> (B, k, h/4, w/4)
        self.h_s = nn.Sequential(
            up(k, n, u),
            nn.LeakyReLU(inplace=True),
            up(n, n * 3 // 2, u),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(n * 3 // 2, 2 * m, 3, 1, 1),
        )  # (B, k, h/4, w/4) -> (B, 2m, h, w): means and scales of y
        self.z_prior = FactorizedPrior(k, config.mixtures)
        self.gaussian = GaussianConditional()

    def z_quantize(self, z: torch.Tensor) -> torch.Tensor:
        """round(z - m) + m with the factorised prior's per-channel offsets (no gradient through m)."""
        m = self.z_prior.offsets().detach().reshape(1, -1, 1, 1)
        return torch.round(z - m) + m

    def hyper_decode(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_hat -> (mu, sigma) of y, sigma >= SCALE_MIN."""
        mu, raw = self.h_s(z_hat).chunk(2, dim=1)
        return mu, F.softplus(raw).clamp_min(SCALE_MIN)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass -> (reconstruction (B, C, H, W), bits per image (B,))."""
        y = self.g_a(x)
        z = self.h_a(y)
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        z_bits = -torch.log2(self.z_prior.likelihood(z_noisy)).flatten(1).sum(1)
        z_ste = z + (self.z_quantize(z) - z).detach()
        mu, sigma = self.hyper_decode(z_ste)
        y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        y_bits = -torch.log2(self.gaussian(y_noisy, mu, sigma)).flatten(1).sum(1)
        y_ste = y + (torch.round(y - mu) + mu - y).detach()
        return self.g_s(y_ste), y_bits + z_bits

    @torch.no_grad()
    def compress_estimate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard-rounded pass -> (reconstruction clamped to [0, 1], estimated bits per image from the models)."""
        y = self.g_a(x)
        z_hat = self.z_quantize(self.h_a(y))
        mu, sigma = self.hyper_decode(z_hat)
        y_hat = torch.round(y - mu) + mu
        bits = -torch.log2(self.z_prior.likelihood(z_hat)).flatten(1).sum(1)
        bits = bits - torch.log2(self.gaussian(y_hat, mu, sigma)).flatten(1).sum(1)
        return self.g_s(y_hat).clamp(0.0, 1.0), bits
