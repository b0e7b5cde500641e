"""A multi-scale residual denoiser (a U-Net in the spirit of DRUNet), served exactly like the FFDNet-style one.

Why a U-Net: the FFDNet-style stack sees about 34 pixels, too little to tell structure from noise at sigma 50;
DRUNet's answer is a few resolutions with residual blocks at each: each level's convolutions reach twice as far
as the level above's, at a quarter of the positions. Here:

- the image is pixel-unshuffled by 2 first (FFDNet), so even the first level runs at half resolution: four
  times fewer positions than DRUNet's full-resolution first level, and wide convolutions, which a CPU runs far
  more efficiently than narrow ones at many positions;
- ``levels`` resolutions (1/2 ... 1/2^levels), ``blocks`` residual blocks (conv-ReLU-conv plus the skip, no
  normalisation, as DRUNet) on each side of each level, 2x2 stride-2 convolutions down, 2x2 stride-2
  transposed convolutions up, skips added (not concatenated: half the work of the first conv after each);
- the width doubles per level up to ``max_mult`` x ``width``: a conv at the next level costs the same
  multiply-adds per pixel at twice the width but 4x the parameters, and the bottom level would otherwise hold
  most of the file for a small share of the work;
- the noise-level map is an input channel beside the pixels (blind: ``UNKNOWN``), as in FFDNet and DRUNet;
- the last convolution and the second convolution of every block start at zero: every block starts as the
  identity (the signal keeps its scale at any depth without normalisation) and the whole model as the identity
  (predicted noise 0), the right answer for a clean image.

The served contract (``LevelDenoiser``): the latent is the image unshuffled by the network's whole stride
(``pad_multiple`` = 2^levels) plus the level channel, so the service's decoder tiles are whole cells of the
network's grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .denoiser import CHANNELS, SCALE, LevelDenoiser, he_init, shuffle, unshuffle


@dataclass(frozen=True)
class UNetDenoiserConfig:
    # the default, 48/96/96/96, is 101 k multiply-adds per pixel: 1.2 CPU seconds per 768x512 photograph
    # through the service, about 0.6-0.7 s on 2 free cores against the 1 s budget (benchmarks/denoiser_size.py)
    width: int = 48  # channels of the first level (1/2 resolution)
    levels: int = 4  # resolutions 1/2 ... 1/2^levels of the image; pad_multiple = 2^levels
    blocks: int = 2  # residual blocks on each side of every level (the bottom level has as many)
    max_mult: int = 2  # the width doubles per level up to max_mult x width

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def widths(self) -> list[int]:
        """Channels of each level, top (1/2 resolution) to bottom."""
        return [self.width * min(2**i, self.max_mult) for i in range(self.levels)]


class ResBlock(nn.Module):
    """x + conv(relu(conv(x))), 3x3, same width: DRUNet's block."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class UNetDenoiser(LevelDenoiser):
    """(N, 3, H, W) in [0, 1] with H, W multiples of 2^levels, level map -> the predicted noise (``noise``);
    latent (3 * 4^levels + 1, H/2^levels, W/2^levels); see the module docstring."""

    half_weights = True  # the graphs store weights as float16: half the file (2 M parameters, 4 MB), same speed

    def __init__(self, config: UNetDenoiserConfig | None = None) -> None:
        super().__init__(config or UNetDenoiserConfig())
        cfg = self.config
        if cfg.levels < 1:
            raise ValueError("a U-Net needs at least one level")
        self.pad_multiple = SCALE * 2 ** (cfg.levels - 1)
        widths = cfg.widths
        sub = CHANNELS * SCALE * SCALE  # 12 channels at half resolution

        def stage(w: int) -> nn.Sequential:
            return nn.Sequential(*(ResBlock(w) for _ in range(cfg.blocks)))

        self.head = nn.Conv2d(sub + 1, widths[0], 3, padding=1)
        self.encoders = nn.ModuleList(stage(w) for w in widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in pairwise(widths))
        self.bottom = stage(widths[-1])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in pairwise(widths))
        self.decoders = nn.ModuleList(stage(w) for w in widths[:-1])
        self.tail = nn.Conv2d(widths[0], sub, 3, padding=1)
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        zero = [self.tail, *(b.conv2 for b in self.modules() if isinstance(b, ResBlock))]
        he_init(convs, zero)

    def noise(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        # x (N, 3, H, W); level (N, 1, H/2^L, W/2^L), constant per image, brought to the first level's grid
        level = (
            F.interpolate(level, scale_factor=self.pad_multiple // SCALE, mode="nearest")
            if self.pad_multiple > SCALE
            else level
        )
        h = self.head(torch.cat([unshuffle(x, SCALE) - 0.5, level], dim=1))  # (N, w0, H/2, W/2)
        skips = []
        for encode, down in zip(self.encoders, self.downs, strict=True):
            h = encode(h)
            skips.append(h)  # (N, w_i, H/2^(i+1), W/2^(i+1))
            h = down(h)  # (N, w_(i+1), H/2^(i+2), W/2^(i+2))
        h = self.bottom(h)  # (N, w_(L-1), H/2^L, W/2^L)
        for up, decode, skip in zip(reversed(self.ups), reversed(self.decoders), reversed(skips), strict=True):
            h = decode(up(h) + skip)  # back up one level: (N, w_i, H/2^(i+1), W/2^(i+1))
        return shuffle(self.tail(h), SCALE)  # (N, 12, H/2, W/2) -> (N, 3, H, W)

    def architecture(self) -> str:
        cfg = self.config
        return (
            f"drunet-style residual U-Net, pixel-unshuffle 2, {cfg.levels} levels of widths "
            f"{'/'.join(map(str, cfg.widths))}, {cfg.blocks} residual blocks per level and side"
        )
