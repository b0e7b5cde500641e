"""A fully convolutional, residual image denoiser (FFDNet-style) for photographs and digits of any size.

Why this shape:
- pixel-unshuffle by 2 first (FFDNet): the convolutions run at a quarter of the positions, which makes CPU
  inference about 4x cheaper and doubles the receptive field of every layer;
- residual: the network predicts the noise and subtracts it, so a clean input passes through nearly unchanged;
- a noise-level channel: ``level`` is sigma/255 where the caller knows it, or ``UNKNOWN`` (blind, the default),
  and training draws both, so one set of weights serves blind and non-blind requests;
- colour in, colour out: grey images are replicated to three channels by the caller (the service and the
  training data do the same), so one model handles both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Autoencoder, Graph, Part, axes

UNKNOWN = -1.0  # the noise-level value meaning "estimate it yourself"
CHANNELS = 3
SCALE = 2  # pixel-unshuffle factor: inputs must have even height and width


@dataclass(frozen=True)
class DenoiserConfig:
    width: int = 32
    depth: int = 8  # convolutions, all 3x3 at half resolution

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Denoiser(Autoencoder):
    """x in [0, 1], (N, 3, H, W) with even H and W; level (N,) sigma/255 or UNKNOWN -> cleaned x (same shape).

    Served as two graphs: ``encoder.onnx`` (image -> the unshuffled pixels and a level channel filled with
    UNKNOWN; the service writes sigma/255 there when a request names it) and ``decoder.onnx`` (that latent ->
    the cleaned image, clamped to [0, 1])."""

    kind = "denoising"
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)
    pad_multiple = SCALE

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__(config or DenoiserConfig())
        w, sub = self.config.width, CHANNELS * SCALE * SCALE
        layers: list[nn.Module] = [nn.Conv2d(sub + 1, w, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(self.config.depth - 2):
            layers += [nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(w, sub, 3, padding=1))
        self.body = nn.Sequential(*layers)
        # He init keeps the signal alive through the plain ReLU stack (PyTorch's default shrinks it ~6x a layer);
        # a zero last layer starts the network as the identity, the right answer for clean inputs
        convs = [m for m in self.body if isinstance(m, nn.Conv2d)]
        for conv in convs:
            if conv is convs[-1]:
                nn.init.zeros_(conv.weight)
            else:
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            assert conv.bias is not None
            nn.init.zeros_(conv.bias)

    def analyse(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) image and (N,) level -> (N, 13, H/2, W/2): the unshuffled pixels, then the level map.

        This is the served encoder: the service can overwrite the last channel with a known sigma per image."""
        y = F.pixel_unshuffle(x, SCALE)
        return torch.cat([y, level.reshape(-1, 1, 1, 1).to(y.dtype) * torch.ones_like(y[:, :1])], dim=1)

    def synthesise(self, latent: torch.Tensor) -> torch.Tensor:
        """The output of ``analyse`` -> the cleaned image: the input minus the predicted noise (the served decoder)."""
        y, level = latent[:, :-1], latent[:, -1:]
        noise = self.body(torch.cat([y - 0.5, level], dim=1))
        return F.pixel_shuffle(y - noise, SCALE)

    def forward(self, x: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """Cleaned x; ``level`` (N,) sigma/255 or UNKNOWN, blind when None."""
        if level is None:
            level = torch.full_like(x[:, 0, 0, 0], UNKNOWN)
        return self.synthesise(self.analyse(x, level))

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return (CHANNELS, None, None)

    @property
    def latent_shape(self) -> list[int | None]:
        return [CHANNELS * SCALE * SCALE + 1, None, None]

    def architecture(self) -> str:
        cfg = self.config
        return f"ffdnet-style residual CNN, pixel-unshuffle 2, width {cfg.width}, depth {cfg.depth}"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Blind: the level channel says UNKNOWN."""
        return self.analyse(x, torch.full_like(x[:, 0, 0, 0], UNKNOWN))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesise(z).clamp(0.0, 1.0)

    def graphs(self, x: torch.Tensor) -> list[Graph]:
        with torch.no_grad():
            latent = self.encode(x)
        a = axes(4, True)
        return [
            Graph("encoder.onnx", Part(self, self.encode), {"image": x}, ["latent"], {"image": a, "latent": a}),
            Graph("decoder.onnx", Part(self, self.decode), {"latent": latent}, ["image"], {"latent": a, "image": a}),
        ]

    def macs_per_pixel(self) -> float:
        """Multiply-adds per input pixel (for sizing against the CPU budget)."""
        w, d, sub = self.config.width, self.config.depth, CHANNELS * SCALE * SCALE
        per_position = 9 * ((sub + 1) * w + (d - 2) * w * w + w * sub)
        return per_position / (SCALE * SCALE)
