"""``python -m aecodec_service`` / ``aecodec-serve``: run the service with uvicorn, configured by AECODEC_* settings."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from .core.config import get_settings
from .core.server import uvicorn_options


def main() -> None:
    try:
        settings = get_settings()
    except ValidationError as exc:  # one line per wrong variable, not a traceback
        for err in exc.errors():
            name = "AECODEC_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else "settings"
            print(f"aecodec-serve: {name}: {err['msg']}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # a malformed multipart body is the client's error, answered 400: not a warning line per request
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    uvicorn.run("aecodec_service.main:create_app", factory=True, workers=settings.workers, **uvicorn_options(settings))


if __name__ == "__main__":
    main()
