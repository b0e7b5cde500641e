"""Errors raised while reading payloads.

PayloadError (ValueError)        the bytes are not a usable payload
├── CorruptPayload               not a payload, truncated, or checksum mismatch
├── UnsupportedFormat            written by a newer, unknown format version
└── ModelMismatch                made by another model or another version of it
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
