"""Latent <-> payload for one model: quantise, range-code and wrap in a header, and back.

This is the only place that knows how a manifest's statistics become symbols,
so the service, the SDK and the training tools cannot disagree about it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import payload
from .entropy import ChannelTables
from .errors import CorruptPayload, ModelMismatch
from .manifest import Manifest
from .quantize import check_bits, dequantize, quantize, tables_for_bits
from .v1 import payload_pb2 as pb

DEFAULT_BITS = 8


class LatentCodec:
    """Encodes and decodes the latents of one model version."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        stats = manifest.latent_stats
        self._lo = np.asarray(stats.lo, dtype=np.float64)
        self._hi = np.asarray(stats.hi, dtype=np.float64)
        self._counts = np.asarray(stats.counts, dtype=np.int64)
        self._width = self._hi - self._lo  # exactly what ``quantize`` divides by
        self._version = bytes.fromhex(manifest.version)
        spec = manifest.input
        # what the header may leave out because the model fixes it: native size, mode and latent shape
        self._native_size = (int(spec.width), int(spec.height)) if spec.width and spec.height else None
        self._native_mode = "L" if spec.channels == 1 else "RGB"
        fixed_latent = all(d is not None for d in manifest.latent_shape)
        self._native_latent = tuple(int(d) for d in manifest.latent_shape if d is not None) if fixed_latent else None

    @lru_cache(maxsize=8)  # noqa: B019 - one codec per model version, a handful of bit depths
    def _tables(self, bits: int) -> ChannelTables:
        return ChannelTables(tables_for_bits(self._counts, bits))

    def encode(
        self, latents: np.ndarray, sizes: list[tuple[int, int]], modes: list[str], bits: int = DEFAULT_BITS
    ) -> list[bytes]:
        """(N, C, *spatial) latents -> N payloads; sizes are the originals' (width, height)."""
        check_bits(bits)
        symbols = (
            quantize(latents, self._lo, self._hi, bits) if latents.ndim != 2 else self._quantize_flat(latents, bits)
        )
        tables = self._tables(bits)
        out = []
        for sym, (width, height), mode in zip(symbols, sizes, modes, strict=True):
            code = pb.LatentCode(
                format_version=payload.FORMAT_VERSION,
                model=self.manifest.name,
                model_version=self._version,
                quantizer=pb.QUANTIZER_UNIFORM_TABLE,
                bits=bits,
                data=tables.encode(sym),
            )
            # fields the model already fixes stay at their proto3 default and cost no bytes
            if sym.shape != self._native_latent:
                code.latent_shape.extend(sym.shape)
            if (width, height) != self._native_size:
                code.width, code.height = width, height
            if mode != self._native_mode:
                code.mode = payload.MODE_TO_PB[mode]
            out.append(payload.pack(code))
        return out

    def _quantize_flat(self, latents: np.ndarray, bits: int) -> np.ndarray:
        """``quantize`` for (N, C) latents with the per-channel arrays prepared once: the same float64
        operations in the same order, so the same symbols (tests/wire checks it), at half the cost."""
        scaled = latents.astype(np.float64)
        scaled -= self._lo
        scaled /= self._width
        scaled *= 1 << bits
        np.floor(scaled, out=scaled)
        np.clip(scaled, 0, (1 << bits) - 1, out=scaled)
        return scaled.astype(np.int32)

    def fill_defaults(self, code: pb.LatentCode) -> None:
        """Write back the fields the encoder left out because this model fixes them."""
        if not code.latent_shape and self._native_latent is not None:
            code.latent_shape.extend(self._native_latent)
        if not code.width and not code.height and self._native_size is not None:
            code.width, code.height = self._native_size
        if code.mode == pb.IMAGE_MODE_UNSPECIFIED:
            code.mode = payload.MODE_TO_PB[self._native_mode]

    def check(self, code: pb.LatentCode) -> None:
        """Refuse a code made by another model or version, or one this model cannot hold."""
        name = self.manifest.name
        if code.model != name:
            raise ModelMismatch(
                f"payload was made by model {code.model!r}, not {name!r}",
                model=code.model,
                payload_version=code.model_version.hex(),
                served_version=None,
            )
        if code.model_version != self._version:
            raise ModelMismatch(
                f"payload was made by version {code.model_version.hex()} of model {name!r}, "
                f"but version {self.manifest.version} is served; re-encode the image with this version",
                model=name,
                payload_version=code.model_version.hex(),
                served_version=self.manifest.version,
            )
        if code.quantizer != pb.QUANTIZER_UNIFORM_TABLE:
            raise CorruptPayload(f"payload quantizer {code.quantizer} is not the one model {name!r} uses")
        try:
            check_bits(code.bits)
        except ValueError as exc:
            raise CorruptPayload(f"payload header: {exc}") from exc
        shape = tuple(code.latent_shape)
        expected = self.manifest.latent_shape
        if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape, strict=False)):
            raise CorruptPayload(f"payload latent shape {list(shape)} does not fit model {name!r} ({expected})")
        if not shape or not code.width or not code.height:
            raise CorruptPayload("payload header is incomplete: latent shape and image size are required")
        if math.prod(shape) > 1 << 24:
            raise CorruptPayload(f"payload latent shape {list(shape)} is too large")

    def decode(self, code: pb.LatentCode) -> np.ndarray:
        """A LatentCode -> (1, C, *spatial) float32 latent; fills in the header's omitted fields."""
        self.fill_defaults(code)
        self.check(code)
        try:
            symbols = self._tables(code.bits).decode(code.data, tuple(code.latent_shape))
        except Exception as exc:  # the coder raises on data that cannot be a valid stream
            raise CorruptPayload(f"coded latent cannot be decoded: {exc}") from exc
        if symbols.ndim == 1:  # ``dequantize``'s float64 operations in the same order, arrays prepared once
            values = symbols[None].astype(np.float64)
            values += 0.5
            values /= 1 << code.bits
            values *= self._width
            values += self._lo
            return values.astype(np.float32)
        return dequantize(symbols[None], self._lo, self._hi, code.bits)
