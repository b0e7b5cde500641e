"""The RD codec: conv analysis g_a (stride 2 x3) -> latent y (M, H/8, W/8) -> conv-transpose synthesis g_s.

Training uses additive uniform noise for the rate term and straight-through rounding (around the prior's
per-channel offsets) for the decoder input, so the decoder learns on the values it will really receive.
Registered as ``rd-codec``: ``aecodec-train train rd-codec --lam 3 ...`` trains one quality level, and the
shipped levels are rows of ``aecodec_training.zoo``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from aecodec_wire.manifest import PriorTables
from torch import nn

from .base import Autoencoder
from .prior import TABLE_PRECISION, FactorizedPrior

PRIOR_LR_FACTOR = 3.0  # the prior's few parameters follow the moving latent faster than the transforms learn


class GDN(nn.Module):
    """Generalised divisive normalisation (Ballé et al.): x / sqrt(beta + gamma * x^2); inverse multiplies."""

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(0.1 * torch.eye(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> same
        c = x.shape[1]
        # float32 even under bfloat16 autocast: x^2 summed over channels and the division need more than 8 bits
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            beta = self.beta.abs() + 1e-6
            gamma = self.gamma.abs().reshape(c, c, 1, 1)
            norm = torch.sqrt(F.conv2d(x * x, gamma, beta))
            return x * norm if self.inverse else x / norm


@dataclass(frozen=True)
class CodecConfig:
    """Everything that fixes the architecture (and nothing about training); saved in checkpoint and manifest."""

    channels: int = 1  # image channels, 1 or 3
    height: int | None = None  # fixed native size, or None for any size (fully convolutional)
    width: int | None = None
    hidden: int = 64  # N: channels of the hidden conv layers
    latent: int = 16  # M: latent channels
    mixtures: int = 3  # logistic components per channel in the prior
    # fixed-size models only: one prior per latent element (c, i, j) instead of per channel, since a digit's
    # latent statistics depend on the position (corners are nearly constant)
    positional: bool = False

    def output_paddings(self) -> list[tuple[int, int]]:
        """ConvTranspose output_padding (rows, cols) per up-sampling layer, undoing H -> ceil(H/2) exactly."""
        if self.height is None or self.width is None:
            return [(1, 1)] * 3  # any size (padded to a multiple of 8): exact doubling

        def pads(side: int) -> list[int]:
            sides = [side]
            for _ in range(3):
                sides.append(-(-sides[-1] // 2))
            # up-sampling k -> 2k - 1 + p must land on the side the down-sampling came from
            return [sides[i] - (2 * sides[i + 1] - 1) for i in (2, 1, 0)]

        return list(zip(pads(self.height), pads(self.width), strict=True))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class RDCodec(Autoencoder):
    """Analysis/synthesis transforms and the factorised prior of one quality level."""

    kind = "codec"
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)
    decoder_part = "g_s"

    def __init__(self, config: CodecConfig) -> None:
        super().__init__(config)
        c, n, m = config.channels, config.hidden, config.latent
        if (config.height is None) != (config.width is None):
            raise ValueError("a codec's height and width are both fixed or both None (any size)")
        self.pad_multiple = 1 if config.height else 8
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

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return (self.config.channels, self.config.height, self.config.width)

    @property
    def latent_shape(self) -> list[int | None]:
        hw: tuple[int | None, int | None] = self.latent_hw or (None, None)
        return [self.config.latent, *hw]

    def architecture(self) -> str:
        cfg = self.config
        return f"rd-conv-gdn-n{cfg.hidden}-m{cfg.latent}-factorized-logistic"

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

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.quantize(self.encode(x)))

    def bits(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Estimated code length per image (B,) of quantised latents under the prior, in bits."""
        return -torch.log2(self.prior.likelihood(self.prior_view(y_hat))).flatten(1).sum(1)

    # what the trainer and the metrics ask of every rate-distortion model (loss "rd"):
    def decoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """The hard-rounded latent the decoder graph receives for images ``x`` (decoder-only training)."""
        return self.quantize(self.encode(x))

    @torch.no_grad()
    def compress_estimate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard-rounded pass -> (reconstruction in [0, 1], estimated bits per image from the prior)."""
        y_hat = self.decoder_input(x)
        return self.decode(y_hat), self.bits(y_hat)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass -> (reconstruction (B, C, H, W), bits per image (B,)); noise drawn from ``generator``."""
        y = self.encode(x)
        noise = torch.rand(y.shape, generator=generator, device=y.device, dtype=y.dtype) - 0.5
        bits = -torch.log2(self.prior.likelihood(self.prior_view(y + noise))).flatten(1).sum(1)
        y_ste = y + (self.quantize(y) - y).detach()
        return self.g_s(y_ste), bits

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        return self.groups_with_faster(self.prior, lr, PRIOR_LR_FACTOR)

    def wire_fields(self) -> dict[str, Any]:
        offsets, minima, counts = self.prior.integer_tables()
        tables = PriorTables(
            precision=TABLE_PRECISION, offsets=offsets.tolist(), minima=minima.tolist(), counts=counts.tolist()
        )
        return {"prior": tables}
