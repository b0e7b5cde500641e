"""``python -m aecodec_service`` / ``aecodec-serve``: run the service with uvicorn, configured by AECODEC_* settings."""

from __future__ import annotations

import logging

import uvicorn

from .core.config import get_settings


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "aecodec_service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        access_log=False,  # per-request logs would cost more than the request; /metrics counts them
    )


if __name__ == "__main__":
    main()
