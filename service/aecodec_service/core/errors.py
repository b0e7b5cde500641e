"""Every error leaves the service as ``application/problem+json`` (RFC 9457): type, title, status, detail.

This module is the one place that maps exceptions to problem documents: the HTTP layer's own
``ApiError``, the runtime's domain errors, the wire package's payload errors and the framework's
exceptions. ``to_problem`` serves the fast path (core/fastpath.py) and ``install`` the routers.
"""

from __future__ import annotations

import json
import logging
import math

from aecodec_wire import errors as wire_errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from ..runtime.errors import DomainError

log = logging.getLogger("aecodec.service")
PROBLEM_JSON = "application/problem+json"
MAX_ECHO = 200  # characters of client input an error detail may quote
MAX_DETAIL = 1000  # a detail longer than this is cut (a backstop: echoed input is cut at MAX_ECHO)

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def slug(status: int) -> str:
    return TITLES.get(status, "error").lower().replace(" ", "-")


def echo(value: object, limit: int = MAX_ECHO) -> str:
    """``repr`` of client input for an error detail, cut to ``limit`` characters."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(shown)} characters)"


class ApiError(Exception):
    """An error of the HTTP layer the client can act on; ``detail`` names what was wrong and what is expected."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or slug(status)
        self.headers = headers or {}


def problem(status: int, detail: str, kind: str | None = None, headers: dict[str, str] | None = None) -> Response:
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL] + "..."
    body = {
        "type": f"urn:aecodec:problem:{kind or slug(status)}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_bytes(status: int, detail: str, kind: str | None = None, close: bool = True) -> bytes:
    """A whole HTTP/1.1 response, for the protocol layer that answers before any app runs (core/server.py)."""
    response = problem(status, detail, kind, {"Connection": "close"} if close else None)
    head = [f"HTTP/1.1 {status} {TITLES.get(status, 'Error')}".encode()]
    head += [k + b": " + v for k, v in response.raw_headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + bytes(response.body)


def _wire_problem(exc: wire_errors.PayloadError) -> Response:
    if isinstance(exc, wire_errors.ModelMismatch):
        return problem(409, str(exc), "model-version-mismatch")
    if isinstance(exc, wire_errors.UnsupportedFormat):
        return problem(422, str(exc), "unsupported-format")
    return problem(422, str(exc), "corrupt-payload")


def to_problem(exc: BaseException) -> Response:
    """The problem document for any exception a request raised (logged when it is the service's fault)."""
    if isinstance(exc, DomainError):
        retry = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))} if exc.retry_after_s is not None else None
        return problem(exc.status, exc.detail, exc.kind, retry)
    if isinstance(exc, ApiError):
        return problem(exc.status, exc.detail, exc.kind, exc.headers)
    if isinstance(exc, wire_errors.PayloadError):
        return _wire_problem(exc)
    if isinstance(exc, ClientDisconnect):  # nobody is listening: no 500, no traceback
        return problem(400, "the client disconnected before sending the whole body", "client-disconnected")
    if isinstance(exc, RequestValidationError):
        return problem(422, _validation_detail(exc), "invalid-parameter")
    if isinstance(exc, StarletteHTTPException):
        return problem(exc.status_code, str(exc.detail), headers=dict(exc.headers) if exc.headers else None)
    log.error("unexpected error", exc_info=exc)
    return problem(500, f"internal error ({type(exc).__name__}); this is a bug in the service, please report it")


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = f"{loc[0]} parameter {'.'.join(loc[1:])!r}" if len(loc) > 1 else ".".join(loc) or "request"
        given = err.get("input")
        shown = f" (got {echo(given)})" if isinstance(given, (str, int, float)) else ""
        parts.append(f"{where}: {err.get('msg', 'invalid')}{shown}")
    return "; ".join(parts) or "the request is invalid"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception raised behind the router into a problem document."""

    async def _mapped(_: Request, exc: Exception) -> Response:
        return to_problem(exc)

    for kind in (DomainError, ApiError, wire_errors.PayloadError, ClientDisconnect, RequestValidationError, Exception):
        app.add_exception_handler(kind, _mapped)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and exc.detail == "Not Found":
            detail = f"no such resource {echo(request.url.path)}; see /docs for the API"
            return problem(404, detail)
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = f"method {echo(request.method)} is not allowed on {echo(request.url.path)}; allowed: {allowed}"
            return problem(405, detail, headers=dict(exc.headers) if exc.headers else None)
        return to_problem(exc)
