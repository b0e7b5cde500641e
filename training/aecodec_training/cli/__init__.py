"""The ``aecodec-train`` command line: train, evaluate, export, reproduce."""

from __future__ import annotations

from .app import app


def main() -> None:
    """Console entry point."""
    app()


__all__ = ["app", "main"]
