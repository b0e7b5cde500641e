"""Python client for the aecodec image codec service.

    from aecodec_sdk import Client

    with Client("http://localhost:8000") as client:
        payload = client.encode("digit.png", model="mnist-ae")
        print(inspect(payload))          # offline: model, version, latent shape, bits, size
        image = client.decode(payload)   # PIL.Image.Image

:class:`AsyncClient` has the same methods, awaitable. Errors are in :mod:`aecodec_sdk.exceptions`.
"""

from aecodec_wire import CorruptPayload, PayloadError, PayloadInfo, UnsupportedFormat, inspect

from ._client import AsyncClient, Client
from ._version import __version__
from .exceptions import (
    AecodecError,
    APIError,
    BadRequest,
    Conflict,
    ConnectError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    TimeoutException,
    TooManyRequests,
    TransportError,
    Unauthorized,
    UnprocessableEntity,
    UnsupportedMediaType,
)
from .schema import InputSpec, ModelInfo

__all__ = [
    "APIError",
    "AecodecError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "ConnectError",
    "CorruptPayload",
    "Forbidden",
    "InputSpec",
    "ModelInfo",
    "NotFound",
    "PayloadError",
    "PayloadInfo",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "TimeoutException",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedFormat",
    "UnsupportedMediaType",
    "__version__",
    "inspect",
]
