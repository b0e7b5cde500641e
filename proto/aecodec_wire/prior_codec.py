"""Latent <-> compact payload for rate-distortion codec models (manifest kind "codec").

Same method names as ``LatentCodec`` so the service can pick the class by manifest kind. The latent is
quantised around the prior's per-channel offsets and range-coded with the manifest's integer prior
tables (``Manifest.prior``), and wrapped in a ``CompactCode`` (see v1/payload.proto): one 32-bit word holding
the model's 8-bit id and a 24-bit CRC that also covers the model's name and version, instead of the
~25 + len(name) byte header. Seven bytes of header in all: at ~20 bytes of coded latent every byte counts.
"""

from __future__ import annotations

import zlib

import numpy as np
from google.protobuf.message import DecodeError

from . import payload
from .entropy import ChannelTables
from .errors import CorruptPayload
from .manifest import Manifest
from .v1 import payload_pb2 as pb

_COMPACT_FIRST_BYTE = 0x1D  # tag of CompactCode.check (field 3, fixed32), written first
MAX_SYMBOLS = 1 << 24
CRC_BITS = 24  # the low bits of `check`; the high 8 bits are the model's wire_id
_CRC_MASK = (1 << CRC_BITS) - 1


def wire_id_of(code: pb.CompactCode) -> int:
    """The model id a compact payload names (the high byte of its check word)."""
    return code.check >> CRC_BITS


def is_compact(data: bytes) -> bool:
    """True for a CompactCode, False for a Payload (which starts with field 1 or 2)."""
    return bool(data) and data[0] == _COMPACT_FIRST_BYTE


def unpack_compact(data: bytes) -> pb.CompactCode:
    """Wire bytes -> CompactCode; the CRC is checked by ``PriorCodec.decode`` (it needs the model)."""
    code = pb.CompactCode()
    try:
        code.ParseFromString(data)
    except DecodeError as exc:
        raise CorruptPayload(f"not an aecodec compact payload ({exc}): expected the bytes returned by /encode") from exc
    if not is_compact(data) or not wire_id_of(code):
        raise CorruptPayload("not an aecodec compact payload: no model id; expected the bytes returned by /encode")
    code.DiscardUnknownFields()
    if code.SerializeToString(deterministic=True) != data:  # e.g. the 9-byte header of aecodec 0.1 (field 4)
        raise CorruptPayload(
            "not a compact payload of this format (fields out of order, unknown or repeated, perhaps made by an "
            "older aecodec): expected the bytes returned by /encode; re-encode the image"
        )
    return code


class PriorCodec:
    """Encodes and decodes the latents of one codec model version with its learned prior's integer tables."""

    def __init__(self, manifest: Manifest) -> None:
        if manifest.prior is None or manifest.wire_id is None:
            raise ValueError(f"model {manifest.name!r} has no prior tables or wire_id: not a codec model")
        self.manifest = manifest
        prior = manifest.prior
        self._offsets = np.asarray(prior.offsets, dtype=np.float64)
        self._minima = np.asarray(prior.minima, dtype=np.int64)
        self.tables = ChannelTables(np.asarray(prior.counts, dtype=np.int64))
        self._key = manifest.name.encode() + b"\0" + bytes.fromhex(manifest.version or "0" * 16)
        spec = manifest.input
        self._native_size = (spec.width or 0, spec.height or 0) if spec.fixed_size else None
        self._native_mode = "L" if spec.channels == 1 else "RGB"
        fixed = all(d is not None for d in manifest.latent_shape)
        self._native_latent = tuple(int(d) for d in manifest.latent_shape if d is not None) if fixed else None

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
        """Range-code symbols, then drop every trailing byte the decoder can do without (it pads with zeros)."""
        data = self.tables.encode(self._rows(symbols))
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
        self, latents: np.ndarray, sizes: list[tuple[int, int]], modes: list[str], bits: int | None = None
    ) -> list[bytes]:
        """(N, C, *spatial) latents -> N compact payloads; ``bits`` is accepted for LatentCodec parity, unused."""
        out = []
        for lat, (width, height), mode in zip(latents, sizes, modes, strict=True):
            sym = self.symbols(lat)
            code = pb.CompactCode(data=self.code_latent(sym))
            if sym.shape != self._implied_latent(width, height):
                code.latent_shape.extend(sym.shape)
            if (width, height) != self._native_size:
                code.width, code.height = width, height
            if mode != self._native_mode:
                code.mode = payload.MODE_TO_PB[mode]
            code.check = (self.manifest.wire_id or 0) << CRC_BITS | self._crc(code)
            out.append(code.SerializeToString(deterministic=True))
        return out

    def _implied_latent(self, width: int, height: int) -> tuple[int, ...] | None:
        """The latent shape the header need not carry: the native one, or the one the padded size implies."""
        if self._native_latent is not None:
            return self._native_latent
        m = self.manifest.input.pad_multiple
        return self.manifest.latent_shape_for(-(-height // m) * m, -(-width // m) * m)

    def _crc(self, code: pb.CompactCode) -> int:
        """Low 24 bits of the CRC-32 of the model's name and version and the message without its check."""
        body = pb.CompactCode()
        body.CopyFrom(code)
        body.ClearField("check")
        return zlib.crc32(self._key + body.SerializeToString(deterministic=True)) & _CRC_MASK

    def decode(self, code: pb.CompactCode) -> np.ndarray:
        """A CompactCode -> (1, C, *spatial) float32 latent; fills in width, height, mode and latent_shape."""
        name = self.manifest.name
        if wire_id_of(code) != self.manifest.wire_id:
            raise CorruptPayload(f"payload model id {wire_id_of(code)} is not model {name!r} ({self.manifest.wire_id})")
        if self._crc(code) != code.check & _CRC_MASK:
            raise CorruptPayload(
                f"payload checksum mismatch: the payload is truncated or corrupted, or was made by another "
                f"version of model {name!r} than the one served ({self.manifest.version}); re-encode the image"
            )
        if not code.width and not code.height and self._native_size is not None:
            code.width, code.height = self._native_size
        if not code.latent_shape and code.width and code.height:
            code.latent_shape.extend(self._implied_latent(code.width, code.height) or ())
        if code.mode == pb.IMAGE_MODE_UNSPECIFIED:
            code.mode = payload.MODE_TO_PB[self._native_mode]
        shape = tuple(code.latent_shape)
        rows = len(self._offsets)
        fits = shape[0] == rows or (shape == self._native_latent and int(np.prod(shape)) == rows)
        if len(shape) != 3 or not fits or not code.width or not code.height:
            raise CorruptPayload(f"payload latent shape {list(shape)} does not fit model {name!r}")
        if int(np.prod(shape)) > MAX_SYMBOLS:
            raise CorruptPayload(f"payload latent shape {list(shape)} is too large")
        try:
            symbols = self._decode_symbols(code.data, shape)
        except Exception as exc:  # the coder raises on data that cannot be a valid stream
            raise CorruptPayload(f"coded latent cannot be decoded: {exc}") from exc
        return self.dequantize(symbols)[None]
