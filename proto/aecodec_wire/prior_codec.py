"""Latent <-> compact payload for rate-distortion codec models (manifest kind "codec"): a ``LatentCodec``.

The latent is quantised around the prior's per-channel offsets and range-coded with the manifest's integer
prior tables (``Manifest.prior``), and wrapped in a ``CompactCode`` (see v1/payload.proto and payload.py):
one 32-bit word holding the model's 8-bit id and a 24-bit CRC that also covers the model's name and
version, instead of the ~25 + len(name) byte header. Seven bytes of header in all: at ~20 bytes of coded
latent every byte counts. The prior fixes the rate: there is no ``bits`` to choose.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import payload
from .entropy import ChannelTables
from .errors import CorruptPayload
from .image_extras import Extras, per_image
from .latent_codec import Geometry, Latents, fixed_rate, primary
from .manifest import Manifest
from .payload import unpack_compact
from .v1 import payload_pb2 as pb
from .variable_rate import QualityScale

__all__ = ["PriorCodec", "unpack_compact"]  # unpack_compact: the framing's, named here for the codec's callers
PROVE_STRIP_SYMBOLS = 1 << 16  # up to this many symbols, trailing bytes are dropped as far as a decode proves


class PriorCodec:
    """Encodes and decodes the latents of one codec model version with its learned prior's integer tables."""

    latent_names: tuple[str, ...] = ("latent",)
    bit_depths: tuple[int, ...] = ()  # the prior fixes the rate; quality levels are separate models
    qualities: QualityScale | None = None

    def __init__(self, manifest: Manifest) -> None:
        if manifest.prior is None or manifest.wire_id is None:
            raise ValueError(f"model {manifest.name!r} has no prior tables or wire_id: not a codec model")
        self.manifest = manifest
        self.wire_id = manifest.wire_id
        prior = manifest.prior
        self._offsets = np.asarray(prior.offsets, dtype=np.float64)
        self._minima = np.asarray(prior.minima, dtype=np.int64)
        counts = np.asarray(prior.counts, dtype=np.int64)
        self.tables = ChannelTables(counts)  # built once per codec instance: a reload drops them with it
        self._logp = np.log2(counts / counts.sum(axis=1, keepdims=True))  # (rows, K), for estimated_bits
        self._key = manifest.name.encode() + b"\0" + bytes.fromhex(manifest.version or "0" * 16)
        self.geometry = Geometry(manifest, omit_implied_latent=True)

    def _rows(self, a: np.ndarray) -> np.ndarray:
        """(C, *spatial) -> (rows, P): one table row per channel, or per latent element for a positional prior."""
        return a.reshape(len(self._offsets), -1)

    def symbols(self, latent: np.ndarray) -> np.ndarray:
        """(C, *spatial) float latent -> int symbols in [0, K): round around the offsets, clip to the tables."""
        s = np.rint(self._rows(latent).astype(np.float64) - self._offsets[:, None]).astype(np.int64)
        return np.clip(s - self._minima[:, None], 0, self.tables.alphabet - 1).reshape(latent.shape)

    def dequantize(self, symbols: np.ndarray) -> np.ndarray:
        """(C, *spatial) int symbols -> (C, *spatial) float32 latent the decoder graph takes."""
        rows = self._rows(symbols) + self._minima[:, None] + self._offsets[:, None]
        return rows.astype(np.float32).reshape(symbols.shape)

    def code_latent(self, symbols: np.ndarray) -> bytes:
        """Range-code symbols, then drop every trailing byte the decoder can do without (it pads with zeros).

        Proving a byte unneeded takes a whole decode, so a large latent (a photo, where a byte or two do not
        matter) only drops the zero bytes of its last word, which the decoder's padding restores exactly."""
        data = self.tables.encode(self._rows(symbols))
        if symbols.size > PROVE_STRIP_SYMBOLS:
            k = len(data)
            while k > len(data) - 3 and k > 0 and data[k - 1] == 0:
                k -= 1
            return data[:k]
        best = data
        for k in range(len(data) - 1, -1, -1):
            try:
                ok = np.array_equal(self._decode_symbols(data[:k], symbols.shape), symbols)
            except Exception:  # a too-short stream may make the coder raise: keep the last good length
                ok = False
            if not ok:
                break
            best = data[:k]
        return best

    def _decode_symbols(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        rows = (len(self._offsets), int(np.prod(shape)) // len(self._offsets))
        padded = data + b"\0" * ((-len(data)) % 4 or (4 if not data else 0))
        return self.tables.decode(padded, rows).reshape(shape)

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
        """(N, C, *spatial) latents -> N compact payloads. ``bits`` must be None: the prior fixes the rate."""
        if bits is not None:
            raise ValueError(f"model {self.manifest.name!r} codes at the rate its prior fixes: bits does not apply")
        fixed_rate(self.manifest, quality, max_bytes)
        out = []
        rows = primary(latents)
        for lat, (width, height), mode, extra in zip(rows, sizes, modes, per_image(extras, len(rows)), strict=True):
            sym = self.symbols(lat)
            code = pb.CompactCode(data=self.code_latent(sym))
            self.geometry.write(code, sym.shape, width, height, mode, extra)
            out.append(payload.pack_compact(code, self.wire_id, self._key))
        return out

    def estimated_bits(self, latents: Latents, bits: int | None = None, *, quality: float | None = None) -> np.ndarray:
        """(N,) -sum log2 p of each latent's symbols under the prior's integer tables."""
        fixed_rate(self.manifest, quality)
        lat = primary(latents)
        sym = np.stack([self._rows(self.symbols(one)) for one in lat])  # (N, rows, P)
        return -np.take_along_axis(self._logp[None], sym, axis=2).sum(axis=(1, 2))

    def decode(self, code: payload.Code, *, max_pixels: int | None = None) -> np.ndarray:
        """A CompactCode -> (1, C, *spatial) float32 latent; fills in width, height, mode and latent_shape."""
        code = payload.check_compact(code, self.wire_id, self._key, self.manifest.name, self.manifest.version)
        self.geometry.fill(code)
        shape = self.geometry.check(code, max_pixels)
        try:
            symbols = self._decode_symbols(code.data, shape)
        except Exception as exc:  # the coder raises on data that cannot be a valid stream
            raise CorruptPayload(f"coded latent cannot be decoded: {exc}") from exc
        return self.dequantize(symbols)[None]
