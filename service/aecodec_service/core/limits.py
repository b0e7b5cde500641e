"""The request-body limit (413), checked before a route reads the body.

With a Content-Length the check is one comparison and the server never hands over more
than it declared; a chunked body is counted as it arrives. Header size and the header and
body deadlines are the connection's business (core/server.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, problem


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.too_large = f"request body exceeds the limit of {max_body_bytes} bytes; send fewer or smaller images"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                break
        if length is not None and length.isdigit():
            if int(length) > self.limit:  # answered before reading; closing spares reading what was declared
                await problem(413, self.too_large, "body-too-large", {"Connection": "close"})(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, self.too_large, kind="body-too-large", headers={"Connection": "close"})
            return message

        await self.app(scope, counted_receive, send)
