"""Reading request bodies: one image or payload, a multipart batch, or a protobuf batch message."""

from __future__ import annotations

from dataclasses import dataclass

from aecodec_wire import payload as wire
from aecodec_wire.errors import PayloadError
from aecodec_wire.v1 import api_pb2
from fastapi import Request
from google.protobuf.message import DecodeError
from starlette.datastructures import UploadFile

from .core.errors import ApiError
from .runtime.errors import BadRequestInput, DomainError, MalformedBody, TooLarge, UnsupportedMediaType

PROTOBUF = "application/x-protobuf"
IMAGE_BATCH = f"{PROTOBUF}; messageType=aecodec.wire.v1.ImageBatch"
PAYLOAD_BATCH = f"{PROTOBUF}; messageType=aecodec.wire.v1.PayloadBatch"


@dataclass(frozen=True)
class Items:
    blobs: list[bytes]
    batch: bool  # the request was a batch: answer with a batch, name item indices in errors


def _media(request: Request) -> tuple[str, str]:
    raw = request.headers.get("content-type", "")
    return raw.split(";")[0].strip().lower(), raw.lower()


async def _multipart(request: Request, max_items: int) -> list[bytes]:
    try:
        form = await request.form(max_files=max_items + 1, max_fields=max_items + 1)
    except (DomainError, ApiError):  # e.g. the body limit, counted as a chunked body arrives: 413, not 400
        raise
    except Exception as exc:  # the multipart parser's errors are the client's
        if "Too many" in str(getattr(exc, "detail", exc)):  # Starlette's words for max_files / max_fields
            raise TooLarge(
                f"the multipart body holds more than {max_items} parts; at most {max_items} per request",
                kind="batch-too-long",
            ) from exc
        raise MalformedBody(
            f"unreadable multipart body ({exc}); send parts named 'files'", kind="bad-multipart"
        ) from exc
    others = sorted({name for name, _ in form.multi_items() if name != "files"})
    if others:
        named = ", ".join(repr(n[:40]) for n in others[:5])
        raise MalformedBody(f"multipart part(s) named {named}; send each item as a part named 'files'", kind="bad-part")
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    return [await f.read() for f in files]


def _check_count(blobs: list[bytes], max_items: int, what: str) -> list[bytes]:
    if not blobs:
        raise BadRequestInput(
            f"the batch holds no {what}; send at least one (multipart parts named 'files')", kind="empty-batch"
        )
    if len(blobs) > max_items:
        raise TooLarge(f"the batch holds {len(blobs)} {what}; at most {max_items} per request", kind="batch-too-long")
    return blobs


async def read_images(request: Request, max_items: int) -> Items:
    """Image file(s) from the body: image/* or octet-stream, multipart ``files``, or an ImageBatch."""
    media, _ = _media(request)
    if media == "multipart/form-data":
        return Items(_check_count(await _multipart(request, max_items), max_items, "images"), True)
    body = await request.body()
    if media == PROTOBUF:
        batch = api_pb2.ImageBatch()
        try:
            batch.ParseFromString(body)
        except DecodeError as exc:
            raise MalformedBody(f"body is not an ImageBatch message ({exc})", kind="bad-batch") from exc
        return Items(_check_count(list(batch.images), max_items, "images"), True)
    if media and not (media.startswith("image/") or media == "application/octet-stream"):
        raise UnsupportedMediaType(
            f"Content-Type {media[:100]!r} is not accepted; send image/*, application/octet-stream, "
            f"multipart/form-data or {IMAGE_BATCH}",
        )
    if not body:
        raise BadRequestInput("empty body: expected an image file (PNG, JPEG, WebP, BMP, ...)", kind="empty-body")
    return Items([body], False)


async def read_payloads(request: Request, max_items: int) -> Items:
    """Payload(s) from the body: one payload, multipart ``files``, or a PayloadBatch.

    Plain ``application/x-protobuf`` may be either: the wire framing tells them apart by their bytes.
    """
    media, raw = _media(request)
    if media == "multipart/form-data":
        return Items(_check_count(await _multipart(request, max_items), max_items, "payloads"), True)
    if media and media not in (PROTOBUF, "application/octet-stream"):
        raise UnsupportedMediaType(
            f"Content-Type {media[:100]!r} is not accepted; send application/x-protobuf (a payload or "
            "a PayloadBatch), application/octet-stream or multipart/form-data"
        )
    body = await request.body()
    if not body:
        raise BadRequestInput("empty body: expected the payload bytes returned by /encode", kind="empty-body")
    if media == PROTOBUF and "payloadbatch" in raw:
        try:
            return Items(_check_count(wire.unpack_batch(body), max_items, "payloads"), True)
        except PayloadError as exc:
            raise MalformedBody(str(exc), kind="bad-batch") from exc  # names the PayloadBatch message
    if media == PROTOBUF and "messagetype" not in raw:
        payloads, batch = wire.split(body)
        return Items(_check_count(payloads, max_items, "payloads") if batch else payloads, batch)
    return Items([body], False)
