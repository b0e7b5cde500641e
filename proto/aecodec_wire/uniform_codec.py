"""The uniform quantiser's ``LatentCodec``: per-channel uniform bins, range-coded with the manifest's histograms.

This is the only place that knows how a manifest's statistics become symbols,
so the service, the SDK and the training tools cannot disagree about it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import payload
from .entropy import ChannelTables
from .errors import CorruptPayload, ModelMismatch
from .image_extras import Extras, per_image
from .latent_codec import Geometry, Latents, fixed_rate, primary
from .manifest import Manifest
from .quantize import MAX_BITS, MIN_BITS, check_bits, dequantize, quantize, tables_for_bits
from .v1 import payload_pb2 as pb
from .variable_rate import QualityScale

DEFAULT_BITS = 8


class UniformCodec:
    """Encodes and decodes the latents of one model version (any kind but "codec")."""

    latent_names: tuple[str, ...] = ("latent",)
    bit_depths: tuple[int, ...] = tuple(range(MIN_BITS, MAX_BITS + 1))
    qualities: QualityScale | None = None

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        stats = manifest.latent_stats
        self._lo = np.asarray(stats.lo, dtype=np.float64)
        self._hi = np.asarray(stats.hi, dtype=np.float64)
        self._counts = np.asarray(stats.counts, dtype=np.int64)
        self._width = self._hi - self._lo  # exactly what ``quantize`` divides by
        self._version = bytes.fromhex(manifest.version)
        # any-size payloads keep their latent shape on the wire (as they always have: golden payloads)
        self.geometry = Geometry(manifest, omit_implied_latent=False)
        self._tables: dict[int, ChannelTables] = {}  # bits -> tables: built on first use, dropped with the codec

    def tables(self, bits: int) -> ChannelTables:
        found = self._tables.get(bits)
        if found is None:  # two threads may both build it: same tables, last one kept
            check_bits(bits)
            found = self._tables[bits] = ChannelTables(tables_for_bits(self._counts, bits))
        return found

    def symbols(self, latents: np.ndarray, bits: int) -> np.ndarray:
        """(N, C, *spatial) floats -> int32 symbols in [0, 2^bits)."""
        return quantize(latents, self._lo, self._hi, bits) if latents.ndim != 2 else self._quantize_flat(latents, bits)

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
        """(N, C, *spatial) latents -> N payloads; sizes are the originals' (width, height)."""
        fixed_rate(self.manifest, quality, max_bytes)
        bits = DEFAULT_BITS if bits is None else bits
        check_bits(bits)
        symbols = self.symbols(primary(latents), bits)
        tables = self.tables(bits)
        out = []
        for sym, (width, height), mode, extra in zip(
            symbols, sizes, modes, per_image(extras, len(symbols)), strict=True
        ):
            code = pb.LatentCode(
                format_version=payload.FORMAT_VERSION,
                model=self.manifest.name,
                model_version=self._version,
                quantizer=pb.QUANTIZER_UNIFORM_TABLE,
                bits=bits,
                data=tables.encode(sym),
            )
            self.geometry.write(code, sym.shape, width, height, mode, extra)
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

    def estimated_bits(self, latents: Latents, bits: int | None = None, *, quality: float | None = None) -> np.ndarray:
        """(N,) -sum log2 p of each latent's symbols under this model's tables at ``bits``."""
        fixed_rate(self.manifest, quality)
        bits = DEFAULT_BITS if bits is None else bits
        lat = primary(latents)
        table = tables_for_bits(self._counts, bits).astype(np.float64)
        logp = np.log2(table / table.sum(axis=1, keepdims=True))  # (C, K)
        sym = self.symbols(lat, bits).reshape(len(lat), table.shape[0], -1)
        return -np.take_along_axis(logp[None], sym, axis=2).sum(axis=(1, 2))

    def check(self, code: pb.LatentCode, max_pixels: int | None = None) -> None:
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
        self.geometry.check(code, max_pixels)

    def decode(self, code: payload.Code, *, max_pixels: int | None = None) -> np.ndarray:
        """A LatentCode -> (1, C, *spatial) float32 latent; fills in the header's omitted fields."""
        if not isinstance(code, pb.LatentCode):
            raise CorruptPayload(f"model {self.manifest.name!r} takes named payloads, not compact ones")
        self.geometry.fill(code)
        self.check(code, max_pixels)
        try:
            symbols = self.tables(code.bits).decode(code.data, tuple(code.latent_shape))
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
