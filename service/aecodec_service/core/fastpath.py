"""Serving the hot routes (POST /encode, /decode, /denoise) without FastAPI's per-request machinery.

Their endpoint functions take only the ``Request`` and read their query parameters
themselves (``deps.query_*``), so nothing needs FastAPI's routing, dependency
resolution or exception middleware at request time; these steps cost more than
image decoding, inference and range coding of a 28x28 digit together. The routes
stay declared on the FastAPI app, which still documents them (/docs, /openapi.json)
and answers every other method on those paths (405). Errors become the same
problem documents as everywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi.routing import APIRoute, APIRouter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .errors import ApiError, problem

log = logging.getLogger("aecodec.service")
Endpoint = Callable[[Request], Awaitable[Response]]


def hot_routes(routers: list[APIRouter]) -> dict[str, tuple[APIRoute, Endpoint]]:
    """path -> (route, endpoint) for the POST routes of these routers (included without a prefix)."""
    found = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and "POST" in (route.methods or ()):
                found[route.path] = (route, route.endpoint)
    return found


async def serve(route: APIRoute, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = route
    request = Request(scope, receive)
    try:
        response = await endpoint(request)
    except ApiError as exc:
        response = problem(exc.status, exc.detail, exc.kind, exc.headers)
    except ClientDisconnect:  # nobody is listening: no 500, no traceback
        response = problem(400, "the client disconnected before sending the whole body", "client-disconnected")
    except Exception as exc:
        log.exception("unexpected error")
        response = problem(
            500, f"internal error ({type(exc).__name__}); this is a bug in the service, please report it"
        )
    try:
        await response(scope, receive, send)
    finally:
        await request.close()  # multipart uploads spooled to temporary files
