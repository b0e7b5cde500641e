"""The two clients: the same methods over one pooled httpx connection, blocking or awaitable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from PIL import Image

from ._base import BaseClient, Call
from ._images import ImageInput, PayloadInput
from ._responses import transport_error
from .schema import ModelInfo

T = TypeVar("T")


class Client(BaseClient):
    """Blocking client. Use it as a context manager so its connections are closed::

    with Client("http://localhost:8000", api_key="...") as client:
        payload = client.encode("digit.png", model="mnist-ae")
        image = client.decode(payload)
    """

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            model=model,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            headers=headers,
            max_connections=max_connections,
        )
        self._http = httpx.Client(transport=transport, **self._http_kwargs())

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, **call.request_kwargs())
            except httpx.TransportError as error:
                delay = self._retry_after_error(call, error, attempt)
                if delay is None:
                    raise transport_error(error) from error
            else:
                delay = self._retry_after_response(call, response, attempt)
                if delay is None:
                    return self._finish(call, response)
            time.sleep(delay)
            attempt += 1

    def encode(
        self,
        image: ImageInput,
        model: str | None = None,
        bits: int | None = None,
        *,
        quality: float | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """Image -> payload bytes (the compressed latent code).

        A variable-rate model codes at ``quality`` (1..K), or at the highest quality whose payload is at most
        ``max_bytes`` (:class:`~aecodec_sdk.UnprocessableEntity` when even the lowest is larger);
        ``inspect(payload).quality`` reads the quality back."""
        return self._send(self._encode(image, model, bits, quality, max_bytes))

    def decode(self, payload: PayloadInput) -> Image.Image:
        """Payload bytes -> image; the payload names its own model."""
        return self._send(self._decode(payload))

    def denoise(self, image: ImageInput, model: str | None = None, sigma: float | None = None) -> Image.Image:
        """A cleaned image; ``sigma`` (0-255) tells an any-size denoiser the noise level, else it estimates it."""
        return self._send(self._denoise(image, model, sigma))

    def sample(
        self, n: int, model: str | None = None, seed: int | None = None, temperature: float | None = None
    ) -> list[Image.Image]:
        """``n`` new images from a VAE's prior; the same seed gives the same images."""
        return self._send(self._sample(n, model, seed, temperature))

    def interpolate(self, a: ImageInput, b: ImageInput, steps: int, model: str | None = None) -> list[Image.Image]:
        """``steps`` images walking the latent space from ``a`` to ``b``."""
        return self._send(self._interpolate(a, b, steps, model))

    def encode_batch(
        self,
        images: Iterable[ImageInput],
        model: str | None = None,
        bits: int | None = None,
        *,
        quality: float | None = None,
        max_bytes: int | None = None,
    ) -> list[bytes]:
        """Many images in one request; payloads come back in order. One bad image fails the batch
        (``max_bytes`` holds for each image)."""
        return self._send(self._encode_batch(images, model, bits, quality, max_bytes))

    def decode_batch(self, payloads: Iterable[PayloadInput]) -> list[Image.Image]:
        return self._send(self._decode_batch(payloads))

    def denoise_batch(
        self, images: Iterable[ImageInput], model: str | None = None, sigma: float | None = None
    ) -> list[Image.Image]:
        return self._send(self._denoise_batch(images, model, sigma))

    def models(self) -> list[ModelInfo]:
        return self._send(self._models())

    def model(self, name: str) -> ModelInfo:
        return self._send(self._model(name))

    def health(self) -> Any:
        """The /healthz document; raises if the process does not answer."""
        return self._send(self._health())

    def ready(self) -> bool:
        """Whether the models are loaded (/readyz is 200); False while it is 503. Never retried."""
        return self._send(self._ready())


class AsyncClient(BaseClient):
    """The same methods as :class:`Client`, awaitable; share one across tasks for connection reuse::

    async with AsyncClient(max_connections=8) as client:
        images = await asyncio.gather(*(client.denoise(p) for p in paths))
    """

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            model=model,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            headers=headers,
            max_connections=max_connections,
        )
        self._http = httpx.AsyncClient(transport=transport, **self._http_kwargs())

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **call.request_kwargs())
            except httpx.TransportError as error:
                delay = self._retry_after_error(call, error, attempt)
                if delay is None:
                    raise transport_error(error) from error
            else:
                delay = self._retry_after_response(call, response, attempt)
                if delay is None:
                    return self._finish(call, response)
            await asyncio.sleep(delay)
            attempt += 1

    async def encode(
        self,
        image: ImageInput,
        model: str | None = None,
        bits: int | None = None,
        *,
        quality: float | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        return await self._send(self._encode(image, model, bits, quality, max_bytes))

    async def decode(self, payload: PayloadInput) -> Image.Image:
        return await self._send(self._decode(payload))

    async def denoise(self, image: ImageInput, model: str | None = None, sigma: float | None = None) -> Image.Image:
        return await self._send(self._denoise(image, model, sigma))

    async def sample(
        self, n: int, model: str | None = None, seed: int | None = None, temperature: float | None = None
    ) -> list[Image.Image]:
        return await self._send(self._sample(n, model, seed, temperature))

    async def interpolate(
        self, a: ImageInput, b: ImageInput, steps: int, model: str | None = None
    ) -> list[Image.Image]:
        return await self._send(self._interpolate(a, b, steps, model))

    async def encode_batch(
        self,
        images: Iterable[ImageInput],
        model: str | None = None,
        bits: int | None = None,
        *,
        quality: float | None = None,
        max_bytes: int | None = None,
    ) -> list[bytes]:
        return await self._send(self._encode_batch(images, model, bits, quality, max_bytes))

    async def decode_batch(self, payloads: Iterable[PayloadInput]) -> list[Image.Image]:
        return await self._send(self._decode_batch(payloads))

    async def denoise_batch(
        self, images: Iterable[ImageInput], model: str | None = None, sigma: float | None = None
    ) -> list[Image.Image]:
        return await self._send(self._denoise_batch(images, model, sigma))

    async def models(self) -> list[ModelInfo]:
        return await self._send(self._models())

    async def model(self, name: str) -> ModelInfo:
        return await self._send(self._model(name))

    async def health(self) -> Any:
        return await self._send(self._health())

    async def ready(self) -> bool:
        return await self._send(self._ready())
