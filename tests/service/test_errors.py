"""Bad input of every kind gets its documented 4xx as problem+json, and the service keeps answering."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from aecodec_wire import payload as wire
from PIL import Image

from .conftest import Running
from .helpers import INTERNALS, image_bytes, png

DIGIT = png(np.tile(np.arange(28, dtype=np.uint8) * 9, (28, 1)))


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG header declaring width x height pixels, with no pixel data worth the name."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 64)
    idat_chunk = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat_chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def repacked(payload: bytes, **changes: Any) -> bytes:
    code = wire.unpack(payload)
    for k, v in changes.items():
        setattr(code, k, v)
    return wire.pack(code)


def flipped(payload: bytes) -> bytes:
    data = bytearray(payload)
    data[len(data) // 2] ^= 0x5A
    return bytes(data)


IMG = {"Content-Type": "image/png"}
PB = {"Content-Type": "application/x-protobuf"}
Req = Callable[[bytes], tuple[str, str, dict[str, Any]]]

# (id, status, request builder taking a valid payload)
CASES: list[tuple[str, int, Req]] = [
    ("not-an-image", 422, lambda p: ("POST", "/encode", {"content": b"hello, world", "headers": IMG})),
    ("truncated-png", 422, lambda p: ("POST", "/encode", {"content": DIGIT[: len(DIGIT) // 2], "headers": IMG})),
    ("wrong-size", 422, lambda p: ("POST", "/encode", {"content": png(np.zeros((30, 30), np.uint8)), "headers": IMG})),
    ("huge-declared-size", 422, lambda p: ("POST", "/encode", {"content": huge_png(), "headers": IMG})),
    ("empty-body", 422, lambda p: ("POST", "/encode", {"content": b"", "headers": IMG})),
    (
        "unsupported-content-type",
        415,
        lambda p: ("POST", "/encode", {"content": DIGIT, "headers": {"Content-Type": "text/plain"}}),
    ),
    ("garbage-image-batch", 400, lambda p: ("POST", "/encode", {"content": b"\xff\xff\xff", "headers": PB})),
    ("corrupted-payload", 422, lambda p: ("POST", "/decode", {"content": flipped(p), "headers": PB})),
    ("truncated-payload", 422, lambda p: ("POST", "/decode", {"content": p[:-7], "headers": PB})),
    ("empty-payload", 422, lambda p: ("POST", "/decode", {"content": b"", "headers": PB})),
    (
        "payload-unknown-model",
        422,
        lambda p: ("POST", "/decode", {"content": repacked(p, model="nope"), "headers": PB}),
    ),
    (
        "payload-other-version",
        409,
        lambda p: ("POST", "/decode", {"content": repacked(p, model_version=b"\x00" * 8), "headers": PB}),
    ),
    (
        "payload-future-format",
        422,
        lambda p: ("POST", "/decode", {"content": repacked(p, format_version=9), "headers": PB}),
    ),
    ("decode-image-content-type", 415, lambda p: ("POST", "/decode", {"content": p, "headers": IMG})),
    ("bits-1", 422, lambda p: ("POST", "/encode?bits=1", {"content": DIGIT, "headers": IMG})),
    ("bits-9", 422, lambda p: ("POST", "/encode?bits=9", {"content": DIGIT, "headers": IMG})),
    ("bits-x", 422, lambda p: ("POST", "/encode?bits=x", {"content": DIGIT, "headers": IMG})),
    ("resize-invalid", 422, lambda p: ("POST", "/encode?resize=maybe", {"content": DIGIT, "headers": IMG})),
    ("unknown-model", 404, lambda p: ("POST", "/encode?model=nope", {"content": DIGIT, "headers": IMG})),
    ("unknown-model-info", 404, lambda p: ("GET", "/models/nope", {})),
    ("unknown-path", 404, lambda p: ("GET", "/nowhere", {})),
    ("wrong-method", 405, lambda p: ("GET", "/encode", {})),
    ("body-too-large", 413, lambda p: ("POST", "/encode", {"content": b"\0" * 1_000_001, "headers": IMG})),
    ("multipart-wrong-part-name", 400, lambda p: ("POST", "/encode", {"files": {"note": (None, b"no files")}})),
    ("batch-too-long", 413, lambda p: ("POST", "/encode", {"files": [("files", DIGIT)] * 9})),
    ("batch-bad-item", 422, lambda p: ("POST", "/encode", {"files": [("files", DIGIT), ("files", b"nope")]})),
    (
        "unsupported-accept",
        406,
        lambda p: ("POST", "/encode", {"content": DIGIT, "headers": IMG | {"Accept": "text/html"}}),
    ),
    (
        "decode-unsupported-accept",
        406,
        lambda p: ("POST", "/decode", {"content": p, "headers": PB | {"Accept": "text/plain"}}),
    ),
    ("sample-n-too-large", 422, lambda p: ("POST", "/sample?n=33", {})),
    ("sample-n-zero", 422, lambda p: ("POST", "/sample?n=0", {})),
    ("sample-negative-seed", 422, lambda p: ("POST", "/sample?seed=-1", {})),
    ("sample-temperature-zero", 422, lambda p: ("POST", "/sample?temperature=0", {})),
    ("sample-temperature-nan", 422, lambda p: ("POST", "/sample?temperature=nan", {})),
    ("sample-non-vae", 422, lambda p: ("POST", "/sample?model=mnist-ae", {})),
    ("denoise-non-denoising", 422, lambda p: ("POST", "/denoise?model=mnist-ae", {"content": DIGIT, "headers": IMG})),
    ("interpolate-one-image", 422, lambda p: ("POST", "/interpolate", {"files": [("files", DIGIT)]})),
    ("interpolate-steps-1", 422, lambda p: ("POST", "/interpolate?steps=1", {"files": [("files", DIGIT)] * 2})),
    (
        "cmyk-jpeg-wrong-size",
        422,
        lambda p: (
            "POST",
            "/encode",
            {
                "content": image_bytes(Image.new("CMYK", (40, 30), (0, 50, 100, 0)), "JPEG"),
                "headers": {"Content-Type": "image/jpeg"},
            },
        ),
    ),
]


@pytest.fixture(scope="module")
def payload(fake_server: Running) -> bytes:
    with fake_server.client() as c:
        r = c.post("/encode", content=DIGIT, headers=IMG)
        assert r.status_code == 200, r.text
        return r.content


@pytest.mark.parametrize(("status", "build"), [(s, b) for _, s, b in CASES], ids=[c[0] for c in CASES])
def test_bad_input(fake_server: Running, payload: bytes, status: int, build: Req) -> None:
    method, path, kwargs = build(payload)
    with fake_server.client() as c:
        r = c.request(method, path, **kwargs)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        doc = r.json()
        assert set(doc) == {"type", "title", "status", "detail"} and doc["status"] == status
        assert len(doc["detail"]) > 15 and not INTERNALS.search(doc["detail"]), doc["detail"]
        assert c.get("/healthz").status_code == 200


def test_details_name_the_problem(fake_server: Running, payload: bytes) -> None:
    with fake_server.client() as c:
        other = c.post("/decode", content=repacked(payload, model_version=b"\x01" * 8), headers=PB).json()["detail"]
        served = next(m["version"] for m in c.get("/models").json() if m["name"] == "mnist-ae")
        assert "0101010101010101" in other and served in other
        assert "28x28" in c.post("/encode", content=png(np.zeros((30, 30), np.uint8)), headers=IMG).json()["detail"]
        assert "item 1" in c.post("/encode", files=[("files", DIGIT), ("files", b"nope")]).json()["detail"]


def test_cmyk_jpeg_is_accepted(fake_server: Running) -> None:
    jpeg = image_bytes(Image.new("CMYK", (28, 28), (0, 50, 100, 0)), "JPEG")
    with fake_server.client() as c:
        r = c.post("/encode", content=jpeg, headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 200, r.text
        assert wire.inspect(r.content).mode == "RGB"


def test_chunked_body_over_the_limit_is_refused(fake_server: Running) -> None:
    """No Content-Length to check up front: the middleware counts the chunks as they arrive."""

    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b"\0" * 100_000

    with fake_server.client() as c:
        r = c.post("/encode", content=chunks(), headers=IMG)
    assert r.status_code == 413 and "exceeds the limit" in r.json()["detail"]


def test_one_mapping_for_domain_wire_and_framework_errors() -> None:
    """core/errors.to_problem: the runtime's class decides status and title, its retry hint the Retry-After."""
    import json as _json

    from aecodec_service.core.errors import to_problem
    from aecodec_service.runtime import errors as domain
    from aecodec_wire import errors as wire_errors

    def doc(exc: BaseException) -> tuple[int, dict, dict[str, str]]:
        r = to_problem(exc)
        assert r.media_type == "application/problem+json"
        return r.status_code, _json.loads(bytes(r.body)), dict(r.headers)

    status, body, headers = doc(domain.Overloaded("queue full; retry shortly", retry_after_s=2.5).for_item(3))
    assert status == 503 and headers["retry-after"] == "3" and body["detail"].startswith("item 3: ")
    assert body["type"] == "urn:aecodec:problem:queue-full" and body["title"] == "Service Unavailable"
    assert doc(domain.ModelTimeout("the model did not answer in 30 s"))[0] == 504
    assert doc(domain.TooLarge("2000 rows"))[0] == 413 and "retry-after" not in doc(domain.TooLarge("x"))[2]
    assert doc(domain.MalformedBody("no boundary"))[0] == 400
    mismatch = wire_errors.ModelMismatch("other version", model="m", payload_version="a", served_version="b")
    assert doc(mismatch)[0] == 409 and doc(wire_errors.CorruptPayload("truncated"))[0] == 422
    status, body, _ = doc(RuntimeError("secret /srv/path"))
    assert status == 500 and "secret" not in body["detail"] and "RuntimeError" in body["detail"]
