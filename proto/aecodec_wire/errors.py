"""Errors raised while reading payloads, and the one a size budget can raise while writing one.

PayloadError (ValueError)        the bytes are not a usable payload
├── CorruptPayload               not a payload, truncated, or checksum mismatch
├── UnsupportedFormat            written by a newer, unknown format version
└── ModelMismatch                made by another model or another version of it
BudgetTooSmall (ValueError)      even the lowest quality of a variable-rate model gives a larger payload
"""

from __future__ import annotations


class PayloadError(ValueError):
    """The bytes cannot be decoded; the message says why and what is expected."""


class CorruptPayload(PayloadError):
    pass


class UnsupportedFormat(PayloadError):
    pass


class ModelMismatch(PayloadError):
    def __init__(self, message: str, *, model: str, payload_version: str, served_version: str | None) -> None:
        super().__init__(message)
        self.model = model
        self.payload_version = payload_version
        self.served_version = served_version


class BudgetTooSmall(ValueError):
    """No payload of the image fits ``max_bytes``: ``smallest`` is the size at the model's lowest quality."""

    def __init__(self, smallest: int, max_bytes: int) -> None:
        super().__init__(
            f"the smallest payload of this image is {smallest} bytes (the model's lowest quality); "
            f"max_bytes is {max_bytes}"
        )
        self.smallest = smallest
        self.max_bytes = max_bytes
