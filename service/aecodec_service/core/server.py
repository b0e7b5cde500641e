"""The HTTP/1.1 server: uvicorn with httptools, plus the limits uvicorn's httptools protocol lacks.

uvicorn's httptools protocol has no limit on header size and no deadline for a request's
headers or body: a client can send megabytes of headers, or open a connection and trickle
bytes forever. ``HttpProtocol`` adds, per connection:

- ``max_header_bytes``: the request line and headers beyond it get 431 (414 when the request line alone
  is over it) and the connection closes, before the parser has buffered them;
- ``header_timeout_s``: from connecting (or the first byte of the next request) to the end of the
  headers, else 408 and close;
- ``body_timeout_s``: from the end of the headers to the end of the body, else 408 and close (a
  response already under way is cut instead);
- uvicorn's own "400 Invalid HTTP request" becomes a problem document.

Every answer it writes itself is ``application/problem+json`` with ``Connection: close``. After a
refusal the connection closes gracefully ("lingering close", as nginx and Apache do): the answer is
sent, the write side shut, and what the client is still sending is read and thrown away for up to
``LINGER_S`` seconds or ``LINGER_BYTES`` bytes. Closing at once with unread bytes in the socket makes
the kernel send a reset, which throws away the answer before the client reads it (a client still
sending a 4 MB header saw only "connection reset").
Idle keep-alive connections close after ``keep_alive_s`` (uvicorn's ``timeout_keep_alive``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .config import Settings, get_settings
from .errors import problem_bytes

LINGER_S = 2.0
LINGER_BYTES = 64 << 20
_LINE_SLACK = 32  # a request line needs this much beyond its URL (method, version, spaces, CRLF)


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.max_header_bytes, settings.header_timeout_s, settings.body_timeout_s)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header-size, header-time and body-time limits (see the module doc)."""

    limits: ConnectionLimits | None = None  # None: from the AECODEC_* environment (``python -m aecodec_service``)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = self.limits or ConnectionLimits.of(get_settings())
        self._head_left = self._limits.max_header_bytes  # bytes the current request's head may still take
        self._in_head = True
        self._completed = False  # a request ended during the last slice fed (pipelining)
        self._timer: asyncio.TimerHandle | None = None
        self._drain_left: int | None = None  # lingering after a refusal: bytes still to read and drop

    # -- deadlines --------------------------------------------------------------------------------
    def _arm(self, seconds: float, status: int, detail: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, status, detail)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, status: int, detail: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if (self._in_head and not answering) or (cycle is not None and not cycle.response_started):
            self.transport.write(problem_bytes(status, detail, "request-timeout"))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's next receive() gets http.disconnect, its send() is dropped
            cycle.message_event.set()
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head()

    def _arm_head(self) -> None:
        seconds = self._limits.header_timeout_s
        self._arm(seconds, 408, f"the request headers did not arrive within {seconds:g} s")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- header size ------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._drain_left is not None:
            self._drain(len(data))
            return
        while self._in_head and len(data) > self._head_left:
            cut, self._completed = self._head_left, False
            super().data_received(data[:cut])  # may end the head (what follows is body) or a whole pipelined request
            if self.transport.is_closing() or self._drain_left is not None:
                return
            if self._in_head and not self._completed:
                self._refuse_head()
                return
            data = data[cut:]
        if self._in_head:
            self._head_left -= len(data)
        super().data_received(data)

    def _refuse_head(self) -> None:
        limit = self._limits.max_header_bytes
        if not getattr(self, "headers", None) and len(getattr(self, "url", b"")) + _LINE_SLACK >= limit:
            # no header has ended and the URL fills the limit: the request line alone is too long
            answer = problem_bytes(414, f"the request line exceeds {limit} bytes; send a shorter URL (query string)")
        else:
            answer = problem_bytes(431, f"the request line and headers exceed {limit} bytes; send smaller headers")
        self._refuse(answer)

    def send_400_response(self, msg: str) -> None:
        detail = "the request is not valid HTTP/1.1 (request line, headers or chunked framing); " + msg
        self._refuse(problem_bytes(400, detail, "invalid-http"))

    # -- lingering close ----------------------------------------------------------------------------
    def _refuse(self, answer: bytes) -> None:
        """Send ``answer``, shut the write side, and drop what the client still sends before closing."""
        self._disarm()
        self.transport.write(answer)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._drain_left = LINGER_BYTES
        self._timer = self.loop.call_later(LINGER_S, self.transport.close)

    def _drain(self, n: int) -> None:
        assert self._drain_left is not None
        self._drain_left -= n
        if self._drain_left < 0:
            self.transport.close()

    def _unsupported_upgrade_warning(self) -> None:
        """No WebSocket routes (``ws="none"``): an upgrade request is served as plain HTTP, without a warning."""

    # -- parser callbacks: where a request's head and body begin and end --------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._timer is None:
            self._arm_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()
        seconds = self._limits.body_timeout_s
        self._arm(seconds, 408, f"the request body did not arrive within {seconds:g} s; send it faster or smaller")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()
        self._in_head = True  # what comes next on this connection is the next request's head
        self._head_left = self._limits.max_header_bytes
        self._completed = True


def protocol_for(settings: Settings) -> type[HttpProtocol]:
    """The protocol class with this app's limits (tests run servers with settings not in the environment)."""
    return type("HttpProtocol", (HttpProtocol,), {"limits": ConnectionLimits.of(settings)})


def uvicorn_options(settings: Settings, protocol: type[HttpProtocol] = HttpProtocol) -> dict[str, Any]:
    """The one set of uvicorn options, for ``uvicorn.run`` (``python -m aecodec_service``) and the tests' servers.

    The default protocol reads its limits from the environment, as worker processes must; a test
    server whose settings are not in the environment passes ``protocol_for(settings)``.
    """
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": protocol,
        "ws": "none",  # no WebSocket routes: an upgrade request is answered as plain HTTP
        "timeout_keep_alive": settings.keep_alive_s,
        "log_level": settings.log_level,
        "access_log": False,  # per-request logs would cost more than the request; /metrics counts them
    }
