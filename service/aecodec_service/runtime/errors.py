"""What can go wrong in the runtime, said without HTTP.

The runtime (pipeline, batcher, imaging, body reading) raises these; the HTTP layer
maps every ``DomainError`` to a problem document in one place, from the class's
``status`` and ``title`` and the instance's ``kind``, ``detail`` and ``retry_after_s``.
The in-process pipeline (benchmarks) sees plain exceptions it can catch by meaning.

DomainError                       status  title
├── BadRequestInput               422     Unprocessable Content   the client sent something unusable
│   ├── MalformedBody             400     Bad Request             a multipart or batch body that does not parse
│   ├── UnsupportedMediaType      415     Unsupported Media Type
│   ├── BadImage                  422                             not an image, corrupt, too large, wrong size
│   ├── BadPayload                422                             not a payload, corrupt, header out of bounds
│   │   └── UnknownPayloadModel   422                             made by a model that is not served here
│   └── UnsupportedByModel        422                             the model cannot do what was asked
├── ModelNotFound                 404     Not Found               a model named by the request is not served
├── ModelVersionMismatch          409     Conflict                payload made by another version of the model
├── TooLarge                      413     Content Too Large       more than the service can ever take at once
├── Overloaded                    503     Service Unavailable     busy now; retry after ``retry_after_s``
└── ModelTimeout                  504     Gateway Timeout         the model did not answer in time

``detail`` says what was wrong and what is expected, never internals (object
reprs, file paths, tracebacks). ``kind`` is a short slug naming the case (the
problem type's last part). In a batch, ``item_index`` names the offending item and
the detail starts with ``item N:``.
"""

from __future__ import annotations

import copy
from typing import ClassVar


class DomainError(Exception):
    """An error the client can act on."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    default_kind: ClassVar[str] = "error"

    def __init__(
        self,
        detail: str,
        *,
        kind: str | None = None,
        item_index: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind or self.default_kind
        self.item_index = item_index
        self.retry_after_s = retry_after_s

    def for_item(self, index: int) -> DomainError:
        """The same error, naming item ``index`` of a batch (the detail starts with ``item N:``)."""
        named = copy.copy(self)
        named.item_index = index
        named.detail = f"item {index}: {self.detail}"
        named.args = (named.detail,)
        return named

    def __str__(self) -> str:
        return self.detail


class BadRequestInput(DomainError):
    """The request's content is unusable; sending it again will not help."""

    status = 422
    title = "Unprocessable Content"
    default_kind = "bad-input"


class MalformedBody(BadRequestInput):
    """A multipart body or a batch message that does not parse."""

    status = 400
    title = "Bad Request"
    default_kind = "bad-batch"


class UnsupportedMediaType(BadRequestInput):
    status = 415
    title = "Unsupported Media Type"
    default_kind = "unsupported-media-type"


class BadImage(BadRequestInput):
    """Not an image, a corrupt one, or one whose size the model or the limits refuse."""

    default_kind = "not-an-image"


class BadPayload(BadRequestInput):
    """Not a payload, a corrupt one, or one whose header is out of bounds for its model."""

    default_kind = "corrupt-payload"


class UnknownPayloadModel(BadPayload):
    """The payload names a model (or codec wire id) that is not served here."""

    default_kind = "unknown-model"


class UnsupportedByModel(BadRequestInput):
    default_kind = "unsupported-by-model"


class ModelNotFound(DomainError):
    """A model named by the request (query or path) is not served."""

    status = 404
    title = "Not Found"
    default_kind = "unknown-model"


class ModelVersionMismatch(DomainError):
    """The payload was made by another version of a served model."""

    status = 409
    title = "Conflict"
    default_kind = "model-version-mismatch"


class TooLarge(DomainError):
    """More than the service can ever take in one request: retrying the same request never helps."""

    status = 413
    title = "Content Too Large"
    default_kind = "too-large"


class Overloaded(DomainError):
    """Busy right now; the same request may succeed after ``retry_after_s``."""

    status = 503
    title = "Service Unavailable"
    default_kind = "queue-full"

    def __init__(self, detail: str, *, retry_after_s: float = 1.0, kind: str | None = None) -> None:
        super().__init__(detail, kind=kind, retry_after_s=retry_after_s)


class ModelTimeout(DomainError):
    """The model did not answer within the request timeout."""

    status = 504
    title = "Gateway Timeout"
    default_kind = "gateway-timeout"

    def __init__(self, detail: str, *, retry_after_s: float = 1.0, kind: str | None = None) -> None:
        super().__init__(detail, kind=kind, retry_after_s=retry_after_s)


__all__ = [
    "BadImage",
    "BadPayload",
    "BadRequestInput",
    "DomainError",
    "MalformedBody",
    "ModelNotFound",
    "ModelTimeout",
    "ModelVersionMismatch",
    "Overloaded",
    "TooLarge",
    "UnknownPayloadModel",
    "UnsupportedByModel",
    "UnsupportedMediaType",
]
