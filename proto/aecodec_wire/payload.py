"""Packing and unpacking of payloads: the LatentCode header + coded latent inside a CRC envelope."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from .errors import CorruptPayload, UnsupportedFormat
from .v1 import payload_pb2 as pb

FORMAT_VERSION = 1

MODE_TO_PB = {
    "L": pb.IMAGE_MODE_L,
    "RGB": pb.IMAGE_MODE_RGB,
    "RGBA": pb.IMAGE_MODE_RGBA,
    "LA": pb.IMAGE_MODE_LA,
}
PB_TO_MODE = {v: k for k, v in MODE_TO_PB.items()}


def pack(code: pb.LatentCode) -> bytes:
    """LatentCode -> wire bytes (the code and its CRC-32)."""
    body = code.SerializeToString(deterministic=True)
    return pb.Payload(code=body, crc32=zlib.crc32(body)).SerializeToString(deterministic=True)


def unpack(data: bytes) -> pb.LatentCode:
    """Wire bytes -> LatentCode, refusing anything truncated, corrupted or of an unknown format."""
    if not data:
        raise CorruptPayload("empty payload: expected the bytes returned by /encode")
    envelope = pb.Payload()
    try:
        envelope.ParseFromString(data)
    except DecodeError as exc:
        raise CorruptPayload(f"not an aecodec payload ({exc}): expected the bytes returned by /encode") from exc
    if not envelope.code:
        raise CorruptPayload("not an aecodec payload: no latent code inside; expected the bytes returned by /encode")
    if zlib.crc32(envelope.code) != envelope.crc32:
        raise CorruptPayload("payload checksum mismatch: the payload is truncated or corrupted")
    code = pb.LatentCode()
    try:
        code.ParseFromString(envelope.code)
    except DecodeError as exc:  # pragma: no cover - the CRC matched, so only a foreign writer gets here
        raise CorruptPayload(f"payload header unreadable: {exc}") from exc
    if code.format_version != FORMAT_VERSION:
        raise UnsupportedFormat(
            f"payload format version {code.format_version} is not supported; this build reads version {FORMAT_VERSION}"
        )
    if not code.model or not code.data:
        raise CorruptPayload("payload header is incomplete: model name and coded latent are required")
    return code


@dataclass(frozen=True)
class PayloadInfo:
    """What a payload says about itself, readable without any model."""

    model: str
    model_version: str
    latent_shape: tuple[int, ...]  # empty when the model fixes it
    bits: int
    width: int  # 0 when the image had the model's native size
    height: int
    mode: str  # "native" when the image had the model's native mode
    size: int  # bytes on the wire
    latent_bytes: int  # of which the entropy-coded latent
    wire_id: int | None = None  # set for a codec model's compact payload, which names its model by this id

    @property
    def header_bytes(self) -> int:
        return self.size - self.latent_bytes


def inspect(data: bytes) -> PayloadInfo:
    """Read a payload's header without any model (a compact payload's version is only in its CRC)."""
    from .prior_codec import is_compact, unpack_compact, wire_id_of  # prior_codec builds on this module

    if is_compact(data):
        compact = unpack_compact(data)
        return PayloadInfo(
            model=f"codec model #{wire_id_of(compact)}",
            model_version="",
            latent_shape=tuple(compact.latent_shape),
            bits=0,
            width=compact.width,
            height=compact.height,
            mode=PB_TO_MODE.get(compact.mode, "native"),
            size=len(data),
            latent_bytes=len(compact.data),
            wire_id=wire_id_of(compact),
        )
    code = unpack(data)
    return PayloadInfo(
        model=code.model,
        model_version=code.model_version.hex(),
        latent_shape=tuple(code.latent_shape),
        bits=code.bits,
        width=code.width,
        height=code.height,
        mode=PB_TO_MODE.get(code.mode, "native"),
        size=len(data),
        latent_bytes=len(code.data),
    )
