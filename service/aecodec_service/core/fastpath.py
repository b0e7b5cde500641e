"""Serving the hot routes (POST /encode, /decode, /denoise) without FastAPI's per-request machinery.

Their endpoint functions take only the ``Request`` and read their query parameters
themselves (``deps.query_*``), so nothing needs FastAPI's routing, dependency
resolution or exception middleware at request time; these steps cost more than
image decoding, inference and range coding of a 28x28 digit together. The routes
stay declared on the FastAPI app, which still documents them (/docs, /openapi.json)
and answers every other method on those paths (405). Errors become problem documents
through the same mapping as everywhere else (``errors.to_problem``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import to_problem

Endpoint = Callable[[Request], Awaitable[Response]]


def hot_routes(routers: list[APIRouter]) -> dict[str, tuple[APIRoute, Endpoint]]:
    """path -> (route, endpoint) for the POST routes of these routers (included without a prefix)."""
    found = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and "POST" in (route.methods or ()):
                found[route.path] = (route, route.endpoint)
    return found


class FastPathMiddleware:
    """Innermost middleware: a POST to a hot path goes straight to its endpoint; anything else to the app."""

    def __init__(self, app: ASGIApp, hot: dict[str, tuple[APIRoute, Endpoint]]) -> None:
        self.app = app
        self.hot = hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if hot is None:
            await self.app(scope, receive, send)
            return
        route, endpoint = hot
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = to_problem(exc)
        try:
            await response(scope, receive, send)
        finally:
            await request.close()  # multipart uploads spooled to temporary files
