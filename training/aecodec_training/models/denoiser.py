"""Residual image denoisers for photographs and digits of any size, and the served contract they share.

``LevelDenoiser`` is that contract: ``encoder.onnx`` = ``analyse`` (image -> the pixels rearranged at the
network's stride plus one noise-level channel, filled with ``UNKNOWN``) and ``decoder.onnx`` = ``synthesise``
(that latent -> the image minus the predicted noise). The service writes sigma/255 into the latent's last
channel when a request names it, and runs its noise gate, erased-patch filling and tiles on these two graphs;
a subclass only says how it predicts the noise (``noise``).

``Denoiser`` is the plain stack of 3x3 convolutions: FFDNet-style at half resolution (the shipped
``denoise-any``) or DnCNN-style at full resolution (``unshuffle=1``, the baseline). The multi-scale U-Net is in
``denoiser_unet.py``.

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

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Autoencoder

UNKNOWN = -1.0  # the noise-level value meaning "estimate it yourself"
CHANNELS = 3
SCALE = 2  # FFDNet's pixel-unshuffle factor: inputs must have even height and width


def unshuffle(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C*f*f, H/f, W/f); the identity for f = 1 (no op in the graph)."""
    return x if factor == 1 else F.pixel_unshuffle(x, factor)


def shuffle(x: torch.Tensor, factor: int) -> torch.Tensor:
    """The inverse of ``unshuffle``."""
    return x if factor == 1 else F.pixel_shuffle(x, factor)


def he_init(convs: Sequence[nn.Module], zero: Sequence[nn.Module]) -> None:
    """He-normal weights (PyTorch's default shrinks a plain ReLU stack's signal ~6x a layer), zero biases, and
    zero weights for ``zero``: a zero last layer makes a residual denoiser start as the identity, the right
    answer for clean inputs."""
    for conv in convs:
        assert isinstance(conv, nn.Conv2d | nn.ConvTranspose2d) and conv.bias is not None
        if conv in zero:
            nn.init.zeros_(conv.weight)
        else:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.zeros_(conv.bias)


class LevelDenoiser(Autoencoder):
    """The served contract of an any-size residual denoiser with a noise-level input (graphs: the base class's
    encoder.onnx = ``encode``, decoder.onnx = ``decode``, any batch, height and width).

    x in [0, 1], (N, 3, H, W) with H and W multiples of ``pad_multiple`` (``forward`` pads any other size);
    level (N,) sigma/255 or UNKNOWN -> cleaned x (same shape). The latent is the image rearranged at the
    stride ``pad_multiple`` (pixel-unshuffle) plus the level channel: at the network's own stride, so each
    latent element is a whole cell of the service's tiles and every tile samples the network's strided
    convolutions on the same grid as the whole image (tiled = untiled)."""

    kind = "denoising"
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)

    def noise(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) image and (N, 1, H/p, W/p) level map (p = pad_multiple) -> the predicted noise."""
        raise NotImplementedError

    def analyse(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) image and (N,) level -> (N, 3p^2 + 1, H/p, W/p): the unshuffled pixels, then the level
        map. This is the served encoder: the service can overwrite the last channel with a known sigma."""
        y = unshuffle(x, self.pad_multiple)
        return torch.cat([y, level.reshape(-1, 1, 1, 1).to(y.dtype) * torch.ones_like(y[:, :1])], dim=1)

    def synthesise(self, latent: torch.Tensor) -> torch.Tensor:
        """The output of ``analyse`` -> the cleaned image: the input minus the predicted noise (the served decoder)."""
        x = shuffle(latent[:, :-1], self.pad_multiple)  # (N, 3, H, W)
        return x - self.noise(x, latent[:, -1:])

    def forward(self, x: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """Cleaned x of any size (edge-padded to ``pad_multiple`` as the service pads, then cropped); ``level``
        (N,) sigma/255 or UNKNOWN, blind when None."""
        if level is None:
            level = torch.full_like(x[:, 0, 0, 0], UNKNOWN)
        h, w = x.shape[-2:]
        ph, pw = -h % self.pad_multiple, -w % self.pad_multiple
        padded = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        return self.synthesise(self.analyse(padded, level))[..., :h, :w]

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return (CHANNELS, None, None)

    @property
    def latent_shape(self) -> list[int | None]:
        return [CHANNELS * self.pad_multiple**2 + 1, None, None]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Blind: the level channel says UNKNOWN."""
        return self.analyse(x, torch.full_like(x[:, 0, 0, 0], UNKNOWN))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesise(z).clamp(0.0, 1.0)

    @torch.no_grad()
    def macs_per_pixel(self) -> float:
        """Multiply-adds per image pixel of one blind pass, counted by hooks on every convolution (for sizing
        against the CPU budget); exact for any size, since every layer's work is proportional to the area."""
        side = 4 * self.pad_multiple
        total = 0

        def count(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            nonlocal total
            assert isinstance(mod, nn.Conv2d | nn.ConvTranspose2d)
            taps = mod.kernel_size[0] * mod.kernel_size[1]
            if isinstance(mod, nn.Conv2d):  # every output element reads taps x in/groups inputs
                total += out.numel() * taps * mod.in_channels // mod.groups
            else:  # every input element is spread over taps x out/groups outputs
                total += inputs[0].numel() * taps * mod.out_channels // mod.groups

        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        hooks = [m.register_forward_hook(count) for m in convs]
        try:
            self(torch.zeros(1, CHANNELS, side, side))
        finally:
            for hook in hooks:
                hook.remove()
        return total / side**2


@dataclass(frozen=True)
class DenoiserConfig:
    width: int = 32
    depth: int = 8  # convolutions, all 3x3 at 1/unshuffle of the resolution
    unshuffle: int = SCALE  # 2: FFDNet (half resolution); 1: DnCNN (full resolution)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Denoiser(LevelDenoiser):
    """A plain stack of ``depth`` 3x3 convolutions with ReLU at 1/``unshuffle`` of the resolution, predicting
    the noise: FFDNet-style (unshuffle 2, the shipped ``denoise-any``) or DnCNN-style (unshuffle 1, without
    batch norm). Latent: (3 u^2 + 1, H/u, W/u), 13 channels for FFDNet."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__(config or DenoiserConfig())
        w, u = self.config.width, self.config.unshuffle
        self.pad_multiple = u
        sub = CHANNELS * u * u
        layers: list[nn.Module] = [nn.Conv2d(sub + 1, w, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(self.config.depth - 2):
            layers += [nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(w, sub, 3, padding=1))
        self.body = nn.Sequential(*layers)
        he_init([m for m in self.body if isinstance(m, nn.Conv2d)], zero=[layers[-1]])

    def noise(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        u = self.config.unshuffle
        return shuffle(self.body(torch.cat([unshuffle(x, u) - 0.5, level], dim=1)), u)

    def architecture(self) -> str:
        cfg = self.config
        if cfg.unshuffle == 1:
            return f"dncnn-style residual CNN, full resolution, no batch norm, width {cfg.width}, depth {cfg.depth}"
        return f"ffdnet-style residual CNN, pixel-unshuffle {cfg.unshuffle}, width {cfg.width}, depth {cfg.depth}"
