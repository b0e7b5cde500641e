"""Wire framing: the one module that knows the bytes of each payload kind and of a PayloadBatch.

Two kinds of payload travel on the wire (see v1/payload.proto), and a batch of either:

- ``Payload``: a serialized ``LatentCode`` and its CRC-32. Field 1 is written first: byte ``0x0A``.
- ``CompactCode`` (codec models): travels on its own; field 3 (``check``, fixed32) is written first:
  byte ``0x1D``. Its check word holds the model's wire id (high 8 bits) and a 24-bit CRC that also
  covers the model's name and version, so only the model can finish checking it.
- ``PayloadBatch`` (v1/api.proto): repeated bytes field 1, so it also starts with ``0x0A``; it is told
  apart from a ``Payload`` by parsing (``split``).

Every message is accepted only in its one canonical form (deterministic serialisation, no unknown,
repeated or trailing fields): a payload followed by extra bytes, or two payloads concatenated, are refused.
Nothing here knows a model; ``latent_codec.Geometry`` fills in what a model fixes.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from .errors import CorruptPayload, UnsupportedFormat
from .v1 import api_pb2
from .v1 import payload_pb2 as pb
from .variable_rate import quality_of

FORMAT_VERSION = 1
Code = pb.LatentCode | pb.CompactCode

MODE_TO_PB = {
    "L": pb.IMAGE_MODE_L,
    "RGB": pb.IMAGE_MODE_RGB,
    "RGBA": pb.IMAGE_MODE_RGBA,
    "LA": pb.IMAGE_MODE_LA,
}
PB_TO_MODE = {v: k for k, v in MODE_TO_PB.items()}

_PAYLOAD_FIRST_BYTE = 0x0A  # Payload.code: field 1, length-delimited
_COMPACT_FIRST_BYTE = 0x1D  # CompactCode.check: field 3, fixed32
CRC_BITS = 24  # the low bits of CompactCode.check; the high 8 bits are the model's wire_id
_CRC_MASK = (1 << CRC_BITS) - 1
_EXPECTED = "expected the bytes returned by /encode"


def _canonical(msg: Message, data: bytes) -> bool:
    """True when ``data`` is exactly what deterministic serialisation of its parse gives (nothing extra)."""
    msg.DiscardUnknownFields()
    return msg.SerializeToString(deterministic=True) == data


def _parse(msg: Message, data: bytes, what: str) -> None:
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise CorruptPayload(f"not an aecodec {what} ({exc}); {_EXPECTED}") from exc


# --- Payload (LatentCode inside a CRC envelope) ---------------------------------------------------------------


def pack(code: pb.LatentCode) -> bytes:
    """LatentCode -> wire bytes (the code and its CRC-32)."""
    body = code.SerializeToString(deterministic=True)
    return pb.Payload(code=body, crc32=zlib.crc32(body)).SerializeToString(deterministic=True)


def unpack(data: bytes) -> pb.LatentCode:
    """Wire bytes -> LatentCode, refusing anything truncated, corrupted, padded or of an unknown format."""
    if not data:
        raise CorruptPayload(f"empty payload: {_EXPECTED}")
    envelope = pb.Payload()
    _parse(envelope, data, "payload")
    if not envelope.code:
        raise CorruptPayload(f"not an aecodec payload: no latent code inside; {_EXPECTED}")
    if zlib.crc32(envelope.code) != envelope.crc32:
        raise CorruptPayload("payload checksum mismatch: the payload is truncated or corrupted")
    if not _canonical(envelope, data):
        raise CorruptPayload(
            f"payload has bytes beyond its one message (extra fields, trailing bytes or a second payload); {_EXPECTED}"
        )
    code = pb.LatentCode()
    _parse(code, envelope.code, "payload header")
    if not _canonical(code, envelope.code):
        raise CorruptPayload(f"payload header is not in canonical form; {_EXPECTED}")
    if code.format_version != FORMAT_VERSION:
        raise UnsupportedFormat(
            f"payload format version {code.format_version} is not supported; this build reads version {FORMAT_VERSION}"
        )
    if not code.model or not code.data:
        raise CorruptPayload("payload header is incomplete: model name and coded latent are required")
    return code


# --- CompactCode (codec models) -------------------------------------------------------------------------------


def is_compact(data: bytes) -> bool:
    """True for a CompactCode, False for a Payload or a PayloadBatch (which start with field 1)."""
    return bool(data) and data[0] == _COMPACT_FIRST_BYTE


def wire_id_of(code: pb.CompactCode) -> int:
    """The model id a compact payload names (the high byte of its check word)."""
    return code.check >> CRC_BITS


def compact_crc(code: pb.CompactCode, key: bytes) -> int:
    """Low 24 bits of the CRC-32 of ``key`` (model name, 0x00, 8 version bytes) and the message without check."""
    body = pb.CompactCode()
    body.CopyFrom(code)
    body.ClearField("check")
    return zlib.crc32(key + body.SerializeToString(deterministic=True)) & _CRC_MASK


def pack_compact(code: pb.CompactCode, wire_id: int, key: bytes) -> bytes:
    """CompactCode (check unset) -> wire bytes, with the model's id and the CRC in its check word."""
    code.check = wire_id << CRC_BITS | compact_crc(code, key)
    return code.SerializeToString(deterministic=True)


def compact_crc_ok(code: pb.CompactCode, key: bytes) -> bool:
    return compact_crc(code, key) == code.check & _CRC_MASK


def check_compact(code: Code, wire_id: int, key: bytes, name: str, version: str) -> pb.CompactCode:
    """``code`` as a compact payload of this codec model version (its id and CRC), else CorruptPayload.

    ``key`` is what the CRC covers beside the message (``name`` NUL ``version`` bytes, as ``pack_compact``)."""
    if not isinstance(code, pb.CompactCode):
        raise CorruptPayload(f"model {name!r} is a codec model: its payloads are compact ones")
    if wire_id_of(code) != wire_id:
        raise CorruptPayload(f"payload model id {wire_id_of(code)} is not model {name!r} ({wire_id})")
    if not compact_crc_ok(code, key):
        raise CorruptPayload(
            f"payload checksum mismatch: the payload is truncated or corrupted, or was made by another "
            f"version of model {name!r} than the one served ({version}); re-encode the image"
        )
    return code


def unpack_compact(data: bytes) -> pb.CompactCode:
    """Wire bytes -> CompactCode; the CRC is checked by the codec (it needs the model's name and version)."""
    code = pb.CompactCode()
    _parse(code, data, "compact payload")
    if not is_compact(data) or not wire_id_of(code):
        raise CorruptPayload(f"not an aecodec compact payload: no model id; {_EXPECTED}")
    if not _canonical(code, data):  # e.g. the 9-byte header of aecodec 0.1 (field 4), or trailing bytes
        raise CorruptPayload(
            "not a compact payload of this format (fields out of order, unknown or repeated, trailing bytes, or "
            f"perhaps made by an older aecodec): {_EXPECTED}; re-encode the image"
        )
    return code


# --- either kind, and batches ---------------------------------------------------------------------------------


def unpack_any(data: bytes) -> Code:
    """Wire bytes of either payload kind -> its message."""
    return unpack_compact(data) if is_compact(data) else unpack(data)


def pack_batch(payloads: Sequence[bytes]) -> bytes:
    return api_pb2.PayloadBatch(payloads=list(payloads)).SerializeToString(deterministic=True)


def unpack_batch(data: bytes) -> list[bytes]:
    """A PayloadBatch's bytes -> its payloads (each still to be unpacked)."""
    batch = api_pb2.PayloadBatch()
    _parse(batch, data, "PayloadBatch message")
    if not _canonical(batch, data):
        raise CorruptPayload(f"not a PayloadBatch message: unknown fields or trailing bytes; {_EXPECTED}")
    return list(batch.payloads)


def _is_payload(data: bytes) -> bool:
    """A whole payload of either kind by its framing (CRC of a compact payload is left to its codec)."""
    try:
        unpack_any(data)
    except CorruptPayload:
        return False
    except UnsupportedFormat:
        return True
    return True


def split(data: bytes) -> tuple[list[bytes], bool]:
    """A body that is one payload or a PayloadBatch -> (payloads, is_batch), told apart by their bytes.

    A body that is a valid payload of either kind is one payload; else a body that parses as a
    PayloadBatch whose every entry starts like a payload is a batch; anything else is returned as one
    (corrupt) payload, so that decoding it names what is wrong.
    """
    if is_compact(data) or _is_payload(data):
        return [data], False
    try:
        items = unpack_batch(data)
    except CorruptPayload:
        return [data], False
    if items and all(p and p[0] in (_PAYLOAD_FIRST_BYTE, _COMPACT_FIRST_BYTE) for p in items):
        return items, True
    return [data], False


# --- reading a header without a model -------------------------------------------------------------------------


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
    icc_profile_bytes: int = 0  # the image's ICC profile, carried byte for byte (0: none, i.e. sRGB)
    alpha_bytes: int = 0  # the losslessly coded alpha plane (0: none, opaque)
    quality: float | None = None  # a variable-rate model's payload: the quality it was coded at (1.0 .. K)

    @property
    def header_bytes(self) -> int:
        return self.size - self.latent_bytes - self.icc_profile_bytes - self.alpha_bytes


def inspect(data: bytes) -> PayloadInfo:
    """Read a payload's header without any model (a compact payload's version is only in its CRC)."""
    code = unpack_any(data)
    common = dict(
        latent_shape=tuple(code.latent_shape),
        width=code.width,
        height=code.height,
        mode=PB_TO_MODE.get(code.mode, "native"),
        size=len(data),
        latent_bytes=len(code.data),
        icc_profile_bytes=len(code.icc_profile),
        alpha_bytes=len(code.alpha),
    )
    if isinstance(code, pb.CompactCode):
        wire_id = wire_id_of(code)
        quality = quality_of(code.quality) if code.quality else None
        return PayloadInfo(
            model=f"codec model #{wire_id}",
            model_version="",
            bits=0,
            wire_id=wire_id,
            quality=quality,
            **common,  # type: ignore[arg-type]
        )
    return PayloadInfo(model=code.model, model_version=code.model_version.hex(), bits=code.bits, **common)  # type: ignore[arg-type]
