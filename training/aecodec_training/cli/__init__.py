"""The ``aecodec-train`` command line: train, evaluate, export, convert, codec, zoo, reproduce, sample."""

from __future__ import annotations

from . import codec as _codec  # noqa: F401  (registers codec and zoo)
from .app import app


def main() -> None:
    """Console entry point."""
    app()


__all__ = ["app", "main"]
