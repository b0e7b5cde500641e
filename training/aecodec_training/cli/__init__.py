"""The ``aecodec-train`` command line: train, evaluate, export, reproduce."""

from __future__ import annotations

from . import vae as _vae  # noqa: F401  (registers train-vae)
from .app import app


def main() -> None:
    """Console entry point."""
    app()


__all__ = ["app", "main"]
