"""Reading the service's answers: typed errors from problem documents, and bodies into SDK values."""

from __future__ import annotations

import base64
import email.utils
import time
from typing import Any

import aecodec_wire.v1.api_pb2 as api_pb2
import httpx
from PIL import Image

from . import exceptions as exc
from ._images import open_image
from .schema import ModelInfo

PROTOBUF = "application/x-protobuf"


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def raise_for_status(response: httpx.Response) -> None:
    """Turn an error answer (problem+json or not) into the matching typed exception."""
    if response.is_success:
        return
    status = response.status_code
    problem: dict[str, Any] = {}
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
            problem = body if isinstance(body, dict) else {"detail": body}
        except ValueError:
            problem = {}
    detail = problem.get("detail", "" if problem else response.text[:500])
    if not isinstance(detail, str):
        detail = str(detail)
    title = str(problem.get("title") or response.reason_phrase or "Error")
    kwargs: dict[str, Any] = {"type": str(problem.get("type", "about:blank")), "problem": problem}
    cls = exc.error_class(status)
    if issubclass(cls, exc.ServiceUnavailable):
        kwargs["retry_after"] = parse_retry_after(response.headers.get("retry-after"))
    raise cls(status, title, detail, **kwargs)


def transport_error(error: httpx.TransportError) -> exc.TransportError:
    if isinstance(error, httpx.TimeoutException):
        return exc.TimeoutException(str(error) or "timed out")
    if isinstance(error, httpx.NetworkError):
        return exc.ConnectError(str(error) or "connection failed")
    return exc.TransportError(str(error) or type(error).__name__)


# -- answer parsers -------------------------------------------------------------------------------


def content(response: httpx.Response) -> bytes:
    return response.content


def image(response: httpx.Response) -> Image.Image:
    return open_image(response.content)


def json_body(response: httpx.Response) -> Any:
    return response.json()


def images(response: httpx.Response) -> list[Image.Image]:
    """An ImageBatch, a JSON list of base64 PNGs, or a single image: whatever the service chose."""
    ctype = response.headers.get("content-type", "")
    if PROTOBUF in ctype:
        batch = api_pb2.ImageBatch()
        batch.ParseFromString(response.content)
        return [open_image(b) for b in batch.images]
    if "json" in ctype:
        body = response.json()
        items = (body.get("images") or body.get("items") or []) if isinstance(body, dict) else body
        return [open_image(base64.b64decode(i["image"] if isinstance(i, dict) else i)) for i in items]
    return [open_image(response.content)]


def payloads(response: httpx.Response) -> list[bytes]:
    batch = api_pb2.PayloadBatch()
    batch.ParseFromString(response.content)
    return list(batch.payloads)


def models(response: httpx.Response) -> list[ModelInfo]:
    body = response.json()
    entries = body.get("models", []) if isinstance(body, dict) else body
    return [ModelInfo.from_dict(e) for e in entries]


def model(response: httpx.Response) -> ModelInfo:
    return ModelInfo.from_dict(response.json())


def ready(response: httpx.Response) -> bool:
    return response.status_code == 200
