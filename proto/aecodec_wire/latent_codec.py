"""What every latent coder offers (``LatentCodec``), and the payload-header rules all of them share.

A latent codec turns the encoder graph's output into payload bytes and a payload back into the decoder
graph's input, for one model version. Implementations: ``UniformCodec`` (uniform_codec.py: per-channel
uniform quantiser, tables from the manifest's histograms) and ``PriorCodec`` (prior_codec.py: a codec
model's learned factorised prior). ``codec_for`` (codec_factory.py) picks one from the manifest.

Room for more: a codec may code several encoder outputs (``latent_names``; a scale hyperprior codes the
latent y and a side latent z, passed as a mapping by output name) and may be given model-side callables at
construction (e.g. ``hyper_decoder``: z_hat -> per-element scales, run by the service as a third ONNX
graph). The decoder graph always takes one array: what ``decode`` returns.

A codec's rate is chosen by ``bits`` (the uniform quantiser's bit depths), or, for a variable-rate model
(``qualities`` not None), by ``quality`` or ``max_bytes``; a codec refuses what does not apply to it.

``Geometry`` is the one place that decides which header fields a model fixes (and so are left out of the
payload), fills them back in, and checks a header against the model and the pixel limit before any work
proportional to the sizes it declares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from . import image_extras
from .errors import CorruptPayload
from .image_extras import Extras
from .manifest import Manifest
from .payload import MODE_TO_PB, Code
from .v1 import payload_pb2 as pb
from .variable_rate import MILLI, QualityScale

Latents = np.ndarray | Mapping[str, np.ndarray]  # (N, ...) encoder output(s); a mapping is keyed by output name
SideModel = Callable[[np.ndarray], np.ndarray]  # e.g. a hyperprior's decoder graph: (1, Z, a, b) z_hat -> (1, 2M, h, w)
MAX_LATENT_VALUES = 1 << 24  # per image: far beyond any served model; bounds decoding work before it starts
PRIMARY = "latent"  # the encoder output the decoder graph inverts


@runtime_checkable
class LatentCodec(Protocol):
    """Latent(s) of one model version <-> payload bytes."""

    manifest: Manifest
    latent_names: tuple[str, ...]  # encoder outputs it codes, the decoder's input first
    bit_depths: tuple[int, ...]  # choices of ``bits``; empty when the codec has one fixed rate
    qualities: QualityScale | None  # a variable-rate model's quality scale; None when nothing but bits chooses

    def encode(
        self,
        latents: Latents,
        sizes: Sequence[tuple[int, int]],
        modes: Sequence[str],
        bits: int | None = None,
        extras: Sequence[Extras] | None = None,
        *,
        quality: float | None = None,
        max_bytes: int | None = None,
    ) -> list[bytes]:
        """(N, ...) latents -> N payloads; ``sizes`` are the originals' (width, height); ``extras`` their ICC
        profiles and alpha planes (None: none of them has either). ``quality`` (1..K) or ``max_bytes`` (the
        highest quality whose payload fits) choose a variable-rate model's rate."""
        ...

    def decode(self, code: Code, *, max_pixels: int | None = None) -> np.ndarray:
        """One payload's message -> the decoder graph's (1, ...) input; fills in the header's omitted fields.

        The header is checked against the model (and ``max_pixels``, the decoded image's area) first."""
        ...

    def estimated_bits(self, latents: Latents, bits: int | None = None, *, quality: float | None = None) -> np.ndarray:
        """(N,) ideal code lengths in bits of these latents under the codec's tables (no header)."""
        ...


def fixed_rate(manifest: Manifest, quality: float | None, max_bytes: int | None = None) -> None:
    """Refuse ``quality`` and ``max_bytes`` for a codec whose rate they do not choose."""
    if quality is not None or max_bytes is not None:
        raise ValueError(f"model {manifest.name!r} is not a variable-rate model: quality and max_bytes do not apply")


def primary(latents: Latents) -> np.ndarray:
    """The decoder-side latent out of the encoder output(s)."""
    return latents[PRIMARY] if isinstance(latents, Mapping) else latents


class Geometry:
    """What one model fixes in a payload header (native size, mode, latent shape) and what it accepts."""

    def __init__(self, manifest: Manifest, *, omit_implied_latent: bool) -> None:
        self.manifest = manifest
        spec = manifest.input
        self.native_size = (int(spec.width), int(spec.height)) if spec.width and spec.height else None
        self.native_mode = "L" if spec.channels == 1 else "RGB"
        fixed = all(d is not None for d in manifest.latent_shape)
        self.native_latent = tuple(int(d) for d in manifest.latent_shape if d is not None) if fixed else None
        # whether an any-size model's payloads leave out the latent shape their width and height imply
        self._omit_implied = omit_implied_latent

    def implied_latent(self, width: int, height: int) -> tuple[int, ...]:
        """The latent shape an image of this size has: the native one, or the one the padded size implies."""
        if self.native_latent is not None:
            return self.native_latent
        m = self.manifest.input.pad_multiple
        return self.manifest.latent_shape_for(-(-height // m) * m, -(-width // m) * m)

    def write(
        self,
        code: Code,
        latent_shape: tuple[int, ...],
        width: int,
        height: int,
        mode: str,
        extras: Extras = image_extras.NONE,
    ) -> None:
        """Set the header fields, leaving at their proto3 default (no bytes) those the model fixes."""
        omitted = self.native_latent
        if omitted is None and self._omit_implied:
            omitted = self.implied_latent(width, height)
        if latent_shape != omitted:
            code.latent_shape.extend(latent_shape)
        if (width, height) != self.native_size:
            code.width, code.height = width, height
        if mode != self.native_mode:
            code.mode = MODE_TO_PB[mode]
        image_extras.write(code, extras)

    def fill(self, code: Code) -> None:
        """Write back the fields the encoder left out because the model fixes them."""
        if not code.width and not code.height and self.native_size is not None:
            code.width, code.height = self.native_size
        if not code.latent_shape:
            if self.native_latent is not None:
                code.latent_shape.extend(self.native_latent)
            elif code.width and code.height:
                code.latent_shape.extend(self.implied_latent(code.width, code.height))
        if code.mode == pb.IMAGE_MODE_UNSPECIFIED:
            code.mode = MODE_TO_PB[self.native_mode]

    def check(self, code: Code, max_pixels: int | None = None) -> tuple[int, ...]:
        """Refuse a (filled) header this model cannot decode, before any work its sizes imply.

        A fixed-size model takes exactly its latent shape; an any-size model the latent shape its width
        and height imply. The decoded image (width x height) must be within ``max_pixels``; the optional ICC
        profile and alpha plane within theirs (image_extras.py)."""
        name = self.manifest.name
        width, height = code.width, code.height
        if not width or not height:
            raise CorruptPayload("payload header is incomplete: the image width and height are required")
        if max_pixels is not None and width * height > max_pixels:
            raise CorruptPayload(
                f"payload declares a {width}x{height} image ({width * height} pixels); at most {max_pixels} "
                "pixels are decoded"
            )
        if code.mode not in MODE_TO_PB.values():
            raise CorruptPayload(f"payload image mode {code.mode} is not one of L, RGB, RGBA, LA")
        shape = tuple(code.latent_shape)
        expected = self.implied_latent(width, height)
        if shape != expected:
            what = "takes" if self.native_latent is not None else f"gives a {width}x{height} image"
            raise CorruptPayload(
                f"payload latent shape {list(shape)} does not fit model {name!r}, which {what} "
                f"latent shape {list(expected)}"
            )
        if math.prod(shape) > MAX_LATENT_VALUES:
            raise CorruptPayload(f"payload latent shape {list(shape)} is too large")
        self._check_quality(code)
        image_extras.check(code)
        return shape

    def _check_quality(self, code: Code) -> None:
        """A variable-rate model's payload carries a quality on its scale; any other payload none."""
        found = code.quality if isinstance(code, pb.CompactCode) else 0
        rate = self.manifest.variable_rate
        if rate is None:
            if found:
                raise CorruptPayload(f"payload carries a quality, but model {self.manifest.name!r} has one fixed rate")
        elif not MILLI <= found <= rate.levels * MILLI:
            raise CorruptPayload(
                f"payload quality {found} (thousandths) is not on model {self.manifest.name!r}'s scale "
                f"{MILLI}..{rate.levels * MILLI}"
            )
