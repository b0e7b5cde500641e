"""Retries: 503 + Retry-After honoured and capped, connection errors backed off, then typed errors.

A real service cannot be made to answer 503 on cue, so these use a tiny real HTTP server
(see ``Scripted`` in conftest) that answers from a script.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import socket
import time

import pytest
from aecodec_sdk import AsyncClient, Client, ConnectError, ServiceUnavailable, TimeoutException

PROBLEM_503 = json.dumps(
    {"type": "urn:aecodec:problem:overloaded", "title": "Service Unavailable", "status": 503, "detail": "queue full"}
).encode()
BUSY = (503, {"Content-Type": "application/problem+json", "Retry-After": "1"}, PROBLEM_503)
OK = (200, {}, b'{"status": "ok"}')


def test_503_retry_after_is_honoured(scripted) -> None:
    scripted.script = [BUSY, OK]
    with Client(scripted.url, retries=3, backoff=0.01) as client:
        assert client.health() == {"status": "ok"}
    assert len(scripted.arrivals) == 2
    assert scripted.gaps()[0] >= 0.95  # waited the server's 1 s, not the 10 ms backoff


def test_retry_after_is_capped_and_exhaustion_raises_the_problem(scripted) -> None:
    long_wait = (503, {"Content-Type": "application/problem+json", "Retry-After": "3600"}, PROBLEM_503)
    scripted.script = [long_wait] * 3
    start = time.monotonic()
    with Client(scripted.url, retries=2, max_backoff=0.05) as client, pytest.raises(ServiceUnavailable) as info:
        client.health()
    assert time.monotonic() - start < 2
    assert len(scripted.arrivals) == 3  # the first try and two retries
    assert info.value.status == 503
    assert info.value.detail == "queue full"
    assert info.value.retry_after == 3600


def test_ready_is_not_retried(scripted) -> None:
    scripted.script = [BUSY]
    with Client(scripted.url, retries=3) as client:
        assert client.ready() is False
    assert len(scripted.arrivals) == 1


def test_connection_refused_backs_off_then_raises_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    start = time.monotonic()
    with Client(f"http://127.0.0.1:{port}", retries=3, backoff=0.1) as client, pytest.raises(ConnectError):
        client.health()
    # backoff 0.1, 0.2, 0.4 with jitter in [0.5, 1] -> at least 0.35 s in all
    assert time.monotonic() - start >= 0.34
    assert issubclass(ConnectError, ConnectionError)


def test_timeout_maps_to_timeout_exception() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts the connection but never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with Client(url, timeout=0.3, retries=0) as client, pytest.raises(TimeoutException) as info:
            client.health()
    assert isinstance(info.value, builtins.TimeoutError)  # `except TimeoutError` catches it too


def test_async_client_retries_the_same_way(scripted) -> None:
    scripted.script = [BUSY, OK]

    async def go() -> object:
        async with AsyncClient(scripted.url, retries=1, backoff=0.01) as client:
            return await client.health()

    assert asyncio.run(go()) == {"status": "ok"}
    assert scripted.gaps()[0] >= 0.95
