"""What every model exposes: encode/decode on images, plus the facts export and training need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import nn


class Part(nn.Module):
    """One graph of a model: a callable of the model as a module, so the weights export as initialisers."""

    def __init__(self, model: nn.Module, fn: Callable[..., torch.Tensor | tuple[torch.Tensor, ...]]) -> None:
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        return self.fn(*inputs)


@dataclass
class Graph:
    """One ONNX file: its module, named example inputs (real ones when checking), output names, and the
    axes that vary (batch, and the spatial axes of any-size models)."""

    file: str
    module: nn.Module
    inputs: dict[str, torch.Tensor]
    outputs: list[str]
    dynamic: dict[str, dict[int, str]]

    def run_torch(self) -> list[torch.Tensor]:
        with torch.no_grad():
            out = self.module(*self.inputs.values())
        return list(out) if isinstance(out, tuple) else [out]


def axes(ndim: int, spatial: bool) -> dict[int, str]:
    """Batch axis, plus the last two (height, width) for any-size models."""
    return {0: "batch", **({ndim - 2: "height", ndim - 1: "width"} if spatial else {})}


class Autoencoder(nn.Module):
    """Base class. ``encode`` takes images (N, C, H, W) in ``input_range``; ``decode`` returns images.

    ``kind`` is the manifest kind. A codec also has ``forward(x, generator) -> (reconstruction, bits per image)``
    (noisy latents for the rate), ``compress_estimate(x) -> (reconstruction, bits)`` (hard-rounded) and
    ``decoder_input(x)`` (the hard-rounded latent the decoder graph receives); see ``models/codec.py``.
    Models know nothing of how they are trained (``tasks/``) or exported (``export.py``).
    """

    kind: ClassVar[str] = "autoencoder"
    input_range: tuple[float, float] = (-1.0, 1.0)
    output_range: tuple[float, float] = (-1.0, 1.0)
    pad_multiple: int = 1
    name: str = ""
    decoder_part: str = "decoder"  # the submodule a codec's decoder-only fine-tuning trains alone

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        """(C, H, W) of the input; None for a size the model does not fix."""
        raise NotImplementedError

    @property
    def latent_shape(self) -> list[int | None]:
        """One image's latent shape; None marks an axis that follows the image size."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x -> (reconstruction, latent)."""
        z = self.encode(x)
        return self.decode(z), z

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """What a user gets back at evaluation: decode(encode(x)), with the latent as the model codes it."""
        return self.decode(self.encode(x))

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """Optimiser parameter groups (one, at ``lr``); models whose parts learn at other rates override it."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr": lr}]

    def groups_with_faster(self, part: nn.Module, lr: float, factor: float) -> list[dict[str, Any]]:
        """Two optimiser groups: every trainable parameter at ``lr`` except ``part``'s, at ``factor * lr`` (an
        entropy model's prior, whose few parameters must follow the moving latent)."""
        fast = [p for p in part.parameters() if p.requires_grad]
        ids = {id(p) for p in fast}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        return [{"params": rest, "lr": lr}] + ([{"params": fast, "lr": factor * lr}] if fast else [])

    def graphs(self, x: torch.Tensor) -> list[Graph]:
        """The ONNX graphs the model is served as, with their inputs for images ``x``: encoder.onnx (image ->
        latent, and logvar for a VAE) and decoder.onnx (latent -> image). Models with more parts add graphs."""
        spatial = self.image_shape[1] is None
        with torch.no_grad():
            latent = self.encode(x)
        encode, outputs = self.encoder_graph()
        lat_axes = axes(latent.ndim, spatial)
        return [
            Graph(
                "encoder.onnx",
                Part(self, encode),
                {"image": x},
                outputs,
                {"image": axes(4, spatial), **dict.fromkeys(outputs, lat_axes)},
            ),
            Graph(
                "decoder.onnx",
                Part(self, self.decode),
                {"latent": latent},
                ["image"],
                {"latent": lat_axes, "image": axes(4, spatial)},
            ),
        ]

    def encoder_graph(self) -> tuple[Callable[..., Any], list[str]]:
        """What encoder.onnx computes and the names of its outputs (a VAE adds its posterior's log-variance)."""
        return self.encode, ["latent"]

    def wire_fields(self) -> dict[str, Any]:
        """Extra manifest fields the wire format needs from the trained weights (a codec's prior tables)."""
        return {}

    def wire_files(self, x: torch.Tensor) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Manifest fields and the data files they describe (by file name), for a wire codec that needs more
        than the graphs and ``wire_fields``, calibrated on example images ``x``; none by default."""
        return {}, {}

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def architecture(self) -> str:
        """A one-line description for the manifest."""
        return f"{self.name}: {self.config_dict()}"


def activation(name: str) -> nn.Module:
    """'relu' | 'tanh' | 'sigmoid' | 'none' -> module."""
    table: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}
    return table[name]()
