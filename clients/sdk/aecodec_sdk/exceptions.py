"""Exceptions raised by the aecodec SDK.

One base class to catch everything, then one branch per place a call can fail:

    AecodecError                         anything the SDK raises
    ├── TransportError                   the request never got a proper answer
    │   ├── ConnectError                 no connection (also a builtin ConnectionError)
    │   └── TimeoutException             connect/read/write/pool timeout (also a builtin TimeoutError)
    └── APIError(status, title, detail)  the service answered with an HTTP error (problem+json)
        ├── BadRequest                   400  malformed request or query
        ├── Unauthorized                 401  API key missing or wrong
        ├── Forbidden                    403
        ├── NotFound                     404  unknown model or route
        ├── Conflict                     409  payload made by another version of the model
        ├── PayloadTooLarge              413  body over the service's limit
        ├── UnsupportedMediaType         415  body type not understood
        ├── UnprocessableEntity          422  not an image, wrong size, corrupt payload...
        ├── TooManyRequests              429
        └── ServerError                  5xx
            └── ServiceUnavailable       503  not ready or overloaded; carries retry_after

Payload errors raised offline by :func:`aecodec_sdk.inspect` come from the wire package
(``aecodec_wire.PayloadError``, a ``ValueError``) and are re-exported as-is.
"""

from __future__ import annotations

import builtins
from typing import Any


class AecodecError(Exception):
    """Base of every error the SDK raises, so callers can catch one thing."""


class TransportError(AecodecError):
    """The request failed below HTTP: nothing the service said, so retrying may help."""


class ConnectError(TransportError, builtins.ConnectionError):
    """The service could not be reached (refused, DNS, TLS...)."""


class TimeoutException(TransportError, builtins.TimeoutError):
    """The service did not answer within the client's timeout.

    Named like httpx's, so it does not shadow the builtin ``TimeoutError`` (which still catches it).
    """


class APIError(AecodecError):
    """The service answered with an error status; ``detail`` is its own explanation."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type: str = "about:blank",
        problem: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.problem: dict[str, Any] = problem or {}
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")


class BadRequest(APIError):
    pass


class Unauthorized(APIError):
    pass


class Forbidden(APIError):
    pass


class NotFound(APIError):
    pass


class Conflict(APIError):
    pass


class PayloadTooLarge(APIError):
    pass


class UnsupportedMediaType(APIError):
    pass


class UnprocessableEntity(APIError):
    pass


class TooManyRequests(APIError):
    pass


class ServerError(APIError):
    pass


class ServiceUnavailable(ServerError):
    """503: the service is loading or its queue is full; ``retry_after`` is its hint in seconds."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: UnprocessableEntity,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def error_class(status: int) -> type[APIError]:
    """The most specific exception class for an HTTP error status."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return ServerError if status >= 500 else APIError
