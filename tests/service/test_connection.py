"""Connection limits over raw sockets: header size (431, 414 for the request line), header and body deadlines
(408), bad HTTP (400), a chunked body over the limit (413).

Each answer is a problem document and the connection is closed, so a client that never finishes
its request cannot hold a connection (or the server's memory) forever.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from .conftest import Running, serve
from .helpers import png

DIGIT = png(np.full((28, 28), 99, np.uint8))


@pytest.fixture(scope="module")
def strict_server(fake_models: Path) -> Iterator[Running]:
    with serve(fake_models, max_header_bytes=8192, header_timeout_s=0.5, body_timeout_s=0.5) as running:
        yield running


def _connect(server: Running) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the test fails on a 10 s wait)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/problem+json", raw[:300]
    doc = json.loads(body)
    assert doc["status"] == status
    return status, headers, doc


def _alive(server: Running) -> None:
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


def test_oversized_headers_get_431_before_they_are_buffered(strict_server: Running) -> None:
    with _connect(strict_server) as sock:
        sock.sendall(b"POST /encode HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 20_000)
        status, headers, doc = _problem(_read_all(sock))  # answered without waiting for the headers' end
    assert status == 431 and "8192 bytes" in doc["detail"] and headers["connection"] == "close"
    _alive(strict_server)


def test_a_megabyte_header_through_a_client_gets_431(strict_server: Running) -> None:
    r = httpx.get(strict_server.url + "/healthz", headers={"X-Big": "b" * 1_000_000}, timeout=10)
    assert r.status_code == 431 and r.headers["content-type"] == "application/problem+json"
    _alive(strict_server)


def test_headers_within_the_limit_pass_with_a_body_in_the_same_packet(strict_server: Running) -> None:
    """The limit counts the head only: a body arriving with it (one send) does not count."""
    body = b"\0" * 60_000
    head = (
        b"POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    with _connect(strict_server) as sock:
        sock.sendall(head + body)
        status, _, doc = _problem(_read_all(sock))
    assert status == 422, doc  # the image is refused, not the headers


def test_headers_that_never_end_get_408(strict_server: Running) -> None:
    with _connect(strict_server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        start = time.monotonic()
        status, _, doc = _problem(_read_all(sock))
    assert status == 408 and "headers" in doc["detail"] and time.monotonic() - start < 8
    _alive(strict_server)


def test_a_silent_connection_is_closed(strict_server: Running) -> None:
    with _connect(strict_server) as sock:
        raw = _read_all(sock)  # connect and send nothing
    assert raw == b"" or _problem(raw)[0] == 408


def test_a_body_that_never_ends_gets_408(strict_server: Running) -> None:
    with _connect(strict_server) as sock:
        sock.sendall(
            b"POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n" + DIGIT[:100]
        )
        status, _, doc = _problem(_read_all(sock))
    assert status == 408 and "body" in doc["detail"]
    _alive(strict_server)


def test_a_trickled_body_gets_408_at_the_deadline(strict_server: Running) -> None:
    """Bytes arriving now and then do not reset the deadline: it runs from the end of the headers."""
    with _connect(strict_server) as sock:
        sock.sendall(b"POST /decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n")
        sock.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
        sock.settimeout(0.15)
        answer = b""
        for _ in range(60):  # up to ~9 s of one byte per 0.15 s
            try:
                sock.sendall(b"1\r\nx\r\n")
                answer += sock.recv(65536)
                if answer:
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        sock.settimeout(10)
        with contextlib.suppress(OSError):  # reset by the server's close
            answer += _read_all(sock)
    status, _, _ = _problem(answer)
    assert status == 408


def test_invalid_http_gets_a_problem_document(strict_server: Running) -> None:
    with _connect(strict_server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n")
        status, _, doc = _problem(_read_all(sock))
    assert status == 400 and "HTTP/1.1" in doc["detail"]
    _alive(strict_server)


def test_keep_alive_still_serves_several_requests(strict_server: Running) -> None:
    with httpx.Client(base_url=strict_server.url) as c:
        for _ in range(3):
            assert c.post("/encode", content=DIGIT, headers={"Content-Type": "image/png"}).status_code == 200
            time.sleep(0.1)


def test_pipelined_requests_are_not_taken_for_one_long_head(strict_server: Running) -> None:
    """Two requests in one packet: the second's head straddles the first 8192 bytes but is small itself."""
    body = b"\0" * 8000
    first = (
        b"POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    second = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 300 + b"\r\nConnection: close\r\n\r\n"
    assert len(first) + len(body) < 8192 < len(first) + len(body) + len(second)
    with _connect(strict_server) as sock:
        sock.sendall(first + body + second)
        raw = _read_all(sock)
    assert raw.startswith(b"HTTP/1.1 422") and b"HTTP/1.1 200" in raw and b"431" not in raw.split(b"\r\n")[0]


def test_a_declared_oversized_body_is_refused_and_the_connection_closed(fake_server: Running) -> None:
    """413 from Content-Length alone, before the body; the connection closes rather than read what was declared."""
    with _connect(fake_server) as sock:
        sock.sendall(
            b"POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 500000000\r\n\r\n"
        )
        status, headers, doc = _problem(_read_all(sock))  # returns: the server closed the connection
    assert status == 413 and headers["connection"] == "close" and "limit" in doc["detail"]


def test_mangled_requests_all_get_a_problem_document(strict_server: Running) -> None:
    """Random byte flips, cuts and insertions in a valid request's head: every error answer is problem+json."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    valid = b"POST /encode?bits=6 HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5\r\n\r\nhello"
    rng = random.Random(11)

    def mangled() -> bytes:
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[i] = rng.randrange(256)
            elif choice < 0.7:
                data.insert(i, rng.choice(b"\r\n :;\x00\x7f\xff%"))
            else:
                del data[i]
        return bytes(data) + b"\r\n\r\n"

    def answer(data: bytes) -> bytes:
        with _connect(strict_server) as sock:
            sock.sendall(data)
            sock.settimeout(5)  # beyond the server's 0.5 s deadlines: a timeout here is a hang
            try:
                return sock.recv(65536)
            except TimeoutError:
                return b"HANG"
            except ConnectionResetError:
                return b""

    cases = [mangled() for _ in range(120)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(answer, cases))
    for data, raw in zip(cases, answers, strict=True):
        assert raw != b"HANG", data
        if not raw:
            continue  # closed without an answer
        status = int(raw.split(b" ", 2)[1])
        assert status < 500, (data, raw[:300])
        if status >= 400:
            assert b"content-type: application/problem+json" in raw.lower(), (data, raw[:300])
    _alive(strict_server)


def test_a_request_line_over_the_limit_gets_414(strict_server: Running) -> None:
    with _connect(strict_server) as sock:
        sock.sendall(b"GET /models?q=" + b"a" * 60_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, doc = _problem(_read_all(sock))
    assert status == 414 and "request line exceeds 8192 bytes" in doc["detail"] and headers["connection"] == "close"
    r = httpx.get(strict_server.url + "/healthz?q=" + "a" * 60_000, timeout=10)
    assert r.status_code == 414 and r.headers["content-type"] == "application/problem+json"
    long_header = httpx.get(strict_server.url + "/healthz?q=" + "a" * 4000, headers={"X-F": "f" * 6000}, timeout=10)
    assert long_header.status_code == 431  # a short-enough line with headers over the limit: still 431
    _alive(strict_server)


def test_a_4mb_accept_header_gets_431_not_a_reset(strict_server: Running) -> None:
    """The client is still sending when the server refuses: the server reads and drops the rest of what it
    sends (lingering close), so the answer is not thrown away by a reset."""
    for _ in range(3):
        with _connect(strict_server) as sock:
            sock.sendall(
                b"POST /encode HTTP/1.1\r\nHost: x\r\nAccept: " + b"a" * 4_000_000 + b"\r\nContent-Length: 1\r\n\r\nx"
            )
            status, headers, doc = _problem(_read_all(sock))
        assert status == 431 and "8192 bytes" in doc["detail"] and headers["connection"] == "close"
    _alive(strict_server)


def test_a_chunked_multipart_body_over_the_limit_gets_413(fake_server: Running) -> None:
    """No Content-Length: the body is counted as it arrives (the limit is 1 MB here), inside a multipart part."""

    def body() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
        yield b"Content-Type: image/png\r\n\r\n"
        for _ in range(30):
            yield b"a" * 100_000
        yield b"\r\n--x--\r\n"

    r = httpx.post(
        fake_server.url + "/encode",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        timeout=10,
    )
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json", r.text
    assert "exceeds the limit of 1000000 bytes" in r.json()["detail"] and r.headers["connection"] == "close"
