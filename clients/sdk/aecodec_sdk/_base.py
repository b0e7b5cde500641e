"""What :class:`Client` and :class:`AsyncClient` share: building requests and the retry policy.

Each public method is split in two: the base builds a :class:`Call` (the request plus how to read
its answer), and the sync or async client only sends it. So the two clients cannot drift apart.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar, cast

import aecodec_wire.v1.api_pb2 as api_pb2
import httpx
from PIL import Image

from . import _responses as R
from ._images import ImageInput, PayloadInput, image_bytes, payload_bytes, sniff_content_type
from ._responses import PROTOBUF, parse_retry_after
from ._version import __version__
from .schema import ModelInfo

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
# the messageType parameter spares the service guessing between one payload and a batch
IMAGE_BATCH = f"{PROTOBUF}; messageType=aecodec.wire.v1.ImageBatch"
PAYLOAD_BATCH = f"{PROTOBUF}; messageType=aecodec.wire.v1.PayloadBatch"
# 502/504 are what nginx answers while a replica behind it restarts: as transient as a 503.
RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


@dataclass
class Call(Generic[T]):
    """One request, ready to send as often as retries need, and the parser for its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry: bool = True
    accept_statuses: frozenset[int] = frozenset()  # error statuses that are an answer, not an error

    def request_kwargs(self) -> dict[str, Any]:
        params = {k: _query_value(v) for k, v in self.params.items() if v is not None}
        return {"params": params, "content": self.content, "files": self.files, "headers": self.headers}


def _query_value(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def raw(call: Call[Any]) -> Call[bytes]:
    """The same request, answered with the body as sent (e.g. PNG bytes to store untouched)."""
    return cast("Call[bytes]", replace(call, parse=R.content))


class BaseClient:
    """Settings and request builders; subclasses add the transport (sync or async)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 10.0,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 10,
    ) -> None:
        """``base_url`` and ``api_key`` default to $AECODEC_URL and $AECODEC_API_KEY, like the CLI.

        ``max_connections`` bounds the pooled connections (and keep-alive ones) to the service.
        """
        self.base_url = (base_url or os.environ.get("AECODEC_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("AECODEC_API_KEY") or None
        self.default_model = model
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_connections = max_connections
        self.headers = {"User-Agent": f"aecodec-sdk/{__version__}", **(headers or {})}
        if self.api_key:
            self.headers["Authorization"] = f"Bearer {self.api_key}"

    def _http_kwargs(self) -> dict[str, Any]:
        n = self.max_connections
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        return {"base_url": self.base_url, "headers": self.headers, "timeout": self.timeout, "limits": limits}

    # -- retry policy -----------------------------------------------------------------------------

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter; a server's Retry-After wins but is capped too."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)

    def _retry_after_error(self, call: Call[Any], error: httpx.TransportError, attempt: int) -> float | None:
        if not call.retry or attempt >= self.retries or not isinstance(error, RETRY_EXCEPTIONS):
            return None
        return self._delay(attempt)

    def _retry_after_response(self, call: Call[Any], response: httpx.Response, attempt: int) -> float | None:
        status = response.status_code
        if not call.retry or attempt >= self.retries or status not in RETRY_STATUSES:
            return None
        return self._delay(attempt, parse_retry_after(response.headers.get("retry-after")))

    @staticmethod
    def _finish(call: Call[T], response: httpx.Response) -> T:
        if response.status_code not in call.accept_statuses:
            R.raise_for_status(response)
        return call.parse(response)

    # -- request builders (one per public method) -------------------------------------------------

    def _model_param(self, model: str | None) -> str | None:
        return model or self.default_model

    def _rate_params(
        self, model: str | None, bits: int | None, quality: float | None, max_bytes: int | None
    ) -> dict[str, Any]:
        """/encode's query: the model, and what chooses its rate (bits; a variable-rate model's quality or
        max_bytes); the service refuses what does not apply to the model."""
        return {"model": self._model_param(model), "bits": bits, "quality": quality, "max_bytes": max_bytes}

    def _encode(
        self, image: ImageInput, model: str | None, bits: int | None, quality: float | None, max_bytes: int | None
    ) -> Call[bytes]:
        data = image_bytes(image)
        params = self._rate_params(model, bits, quality, max_bytes)
        headers = {"Content-Type": sniff_content_type(data), "Accept": PROTOBUF}
        return Call("POST", "/encode", R.content, params, data, headers=headers)

    def _decode(self, payload: PayloadInput) -> Call[Image.Image]:
        headers = {"Content-Type": PROTOBUF, "Accept": "image/png"}
        return Call("POST", "/decode", R.image, content=payload_bytes(payload), headers=headers)

    def _denoise(self, image: ImageInput, model: str | None, sigma: float | None) -> Call[Image.Image]:
        data = image_bytes(image)
        headers = {"Content-Type": sniff_content_type(data), "Accept": "image/png"}
        params = {"model": self._model_param(model), "sigma": sigma}
        return Call("POST", "/denoise", R.image, params, data, headers=headers)

    def _sample(
        self, n: int, model: str | None, seed: int | None, temperature: float | None
    ) -> Call[list[Image.Image]]:
        params = {"model": self._model_param(model), "n": n, "seed": seed, "temperature": temperature}
        return Call("POST", "/sample", R.images, params, headers={"Accept": PROTOBUF})

    def _interpolate(self, a: ImageInput, b: ImageInput, steps: int, model: str | None) -> Call[list[Image.Image]]:
        parts = [image_bytes(a), image_bytes(b)]
        files = [("files", (f"{i}", d, sniff_content_type(d))) for i, d in enumerate(parts)]
        params = {"model": self._model_param(model), "steps": steps}
        return Call("POST", "/interpolate", R.images, params, files=files, headers={"Accept": PROTOBUF})

    def _encode_batch(
        self,
        images: Iterable[ImageInput],
        model: str | None,
        bits: int | None,
        quality: float | None,
        max_bytes: int | None,
    ) -> Call[list[bytes]]:
        body = api_pb2.ImageBatch(images=[image_bytes(i) for i in images]).SerializeToString()
        params = self._rate_params(model, bits, quality, max_bytes)
        headers = {"Content-Type": IMAGE_BATCH, "Accept": PROTOBUF}
        return Call("POST", "/encode", R.payloads, params, body, headers=headers)

    def _decode_batch(self, payloads: Iterable[PayloadInput]) -> Call[list[Image.Image]]:
        body = api_pb2.PayloadBatch(payloads=[payload_bytes(p) for p in payloads]).SerializeToString()
        headers = {"Content-Type": PAYLOAD_BATCH, "Accept": PROTOBUF}
        return Call("POST", "/decode", R.images, content=body, headers=headers)

    def _denoise_batch(
        self, images: Iterable[ImageInput], model: str | None, sigma: float | None
    ) -> Call[list[Image.Image]]:
        body = api_pb2.ImageBatch(images=[image_bytes(i) for i in images]).SerializeToString()
        headers = {"Content-Type": IMAGE_BATCH, "Accept": PROTOBUF}
        params = {"model": self._model_param(model), "sigma": sigma}
        return Call("POST", "/denoise", R.images, params, body, headers=headers)

    def _models(self) -> Call[list[ModelInfo]]:
        return Call("GET", "/models", R.models)

    def _model(self, name: str) -> Call[ModelInfo]:
        return Call("GET", f"/models/{name}", R.model)

    def _health(self) -> Call[Any]:
        return Call("GET", "/healthz", R.json_body)

    def _ready(self) -> Call[bool]:
        # "not ready" is an answer here, not an error to retry or raise
        return Call("GET", "/readyz", R.ready, retry=False, accept_statuses=frozenset({503}))
