"""Every error leaves the service as ``application/problem+json`` (RFC 9457): type, title, status, detail."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

log = logging.getLogger("aecodec.service")
PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """An error the client can act on; ``detail`` names what was wrong and what is expected."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.headers = headers or {}


def item_error(index: int, exc: ApiError) -> ApiError:
    """Re-raise an item's error for a whole batch, naming the item."""
    return ApiError(exc.status, f"item {index}: {exc.detail}", kind=exc.kind, headers=exc.headers)


def problem(status: int, detail: str, kind: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body = {
        "type": f"urn:aecodec:problem:{kind or _TITLES.get(status, 'error').lower().replace(' ', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = f"{loc[0]} parameter {'.'.join(loc[1:])!r}" if len(loc) > 1 else ".".join(loc) or "request"
        given = err.get("input")
        shown = f" (got {given!r})" if isinstance(given, (str, int, float)) else ""
        parts.append(f"{where}: {err.get('msg', 'invalid')}{shown}")
    return "; ".join(parts) or "the request is invalid"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into a problem document."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return problem(exc.status, exc.detail, exc.kind, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return problem(422, _validation_detail(exc), "invalid-parameter")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail: Any = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource {request.url.path!r}; see /docs for the API"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = f"method {request.method} is not allowed on {request.url.path}; allowed: {allowed}"
        return problem(exc.status_code, str(detail), headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> Response:  # nobody is listening: no 500, no traceback
        return problem(400, "the client disconnected before sending the whole body", "client-disconnected")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return problem(500, f"internal error ({type(exc).__name__}); this is a bug in the service, please report it")
