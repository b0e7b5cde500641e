"""The ``aecodec-train`` command line: train, evaluate, export, codec, zoo, reproduce, sample, train-vae."""

from __future__ import annotations

from . import codec as _codec  # noqa: F401  (registers codec and zoo)
from . import vae as _vae  # noqa: F401  (registers train-vae)
from .app import app


def main() -> None:
    """Console entry point."""
    app()


__all__ = ["app", "main"]
