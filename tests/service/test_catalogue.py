"""Issue 11's bad inputs over real HTTP on the shipped models: each gets its documented status as a
problem document whose detail shows no internals, and the server keeps answering.

The inputs the service already handled are catalogued in test_errors.py (tiny fake models); the
connection-level ones (408 deadlines, invalid HTTP) in test_connection.py; /readyz in test_security.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aecodec_wire import payload as wire
from aecodec_wire.v1 import payload_pb2 as pb

from .conftest import SHIPPED, Running, serve
from .helpers import INTERNALS, png
from .photos import display_p3

IMG = {"Content-Type": "image/png"}
PB = {"Content-Type": "application/x-protobuf"}
PB_BATCH = {"Content-Type": "application/x-protobuf; messageType=aecodec.wire.v1.PayloadBatch"}
DIGIT = png(np.tile(np.arange(28, dtype=np.uint8) * 9, (28, 1)))


def named(c: httpx.Client, model: str, **fields: Any) -> bytes:
    """A LatentCode for a served model, with its real name and version and the given header fields."""
    version = bytes.fromhex(c.get(f"/models/{model}").json()["version"])
    base = {"format_version": 1, "model": model, "model_version": version, "quantizer": 1, "bits": 8}
    return wire.pack(pb.LatentCode(**(base | {"data": b"\x00" * 8} | fields)))


def compact(c: httpx.Client, model: str, **fields: Any) -> bytes:
    """A CompactCode for a served codec model that passes its CRC, with the given header fields."""
    entry = c.get(f"/models/{model}").json()
    key = model.encode() + b"\0" + bytes.fromhex(entry["version"])
    return wire.pack_compact(pb.CompactCode(**({"data": b"\x00" * 4} | fields)), entry["wire_id"], key)


def encoded(c: httpx.Client) -> bytes:
    return c.post("/encode?model=mnist-ae", content=DIGIT, headers=IMG).content


HUGE = {"latent_shape": [4, 1040, 1040], "width": 4160, "height": 4160}  # 58 bytes -> a 4160x4160 decode
Build = Callable[[httpx.Client], tuple[str, str, dict[str, Any]]]


def post(path: str, content: Callable[[httpx.Client], bytes], headers: dict[str, str]) -> Build:
    return lambda c: ("POST", path, {"content": content(c), "headers": headers})


def parts(path: str, files: list[tuple[str, bytes]]) -> Build:
    return lambda c: ("POST", path, {"files": files})


def conv(**fields: Any) -> Callable[[httpx.Client], bytes]:
    return lambda c: named(c, "cifar-conv", **fields)


LONG_ACCEPT = IMG | {"Accept": ",".join(["text/x-y"] * 1500)}  # 13 KB: under the header limit, negotiated
NO_BOUNDARY = {"Content-Type": "multipart/form-data"}
# a 28x28 LA image whose alpha plane inflates to 64 MiB; an RGB payload carrying a CMYK image's profile
BOMB = {"mode": pb.IMAGE_MODE_LA, "alpha": b"\x00" + zlib.compress(b"\0" * (64 << 20), 9)}
CMYK = {"mode": pb.IMAGE_MODE_RGB, "icc_profile": zlib.compress(display_p3()[:16] + b"CMYK" + display_p3()[20:])}
CONV, CODEC, AE, VAE = ("cifar-conv",), ("mnist-codec-q1",), ("mnist-ae",), ("mnist-vae",)

# (issue 11 item, id, status, models it needs, request builder)
CASES: list[tuple[str, str, int, tuple[str, ...], Build]] = [
    ("1", "latent-4160x4160", 422, CONV, post("/decode", conv(**HUGE), PB)),
    (
        "1",
        "8000x8000-from-4x1x1",
        422,
        CONV,
        post("/decode", conv(latent_shape=[4, 1, 1], width=8000, height=8000), PB),
    ),
    (
        "1",
        "batch-of-256-crafted",
        422,
        CONV,
        post("/decode", lambda c: wire.pack_batch([conv(**HUGE)(c)] * 256), PB_BATCH),
    ),
    (
        "3",
        "codec-latent-256x1x1",
        422,
        CODEC,
        post("/decode", lambda c: compact(c, "mnist-codec-q1", latent_shape=[256, 1, 1]), PB),
    ),
    ("3", "conv-latent-4x0x0", 422, CONV, post("/decode", conv(latent_shape=[4, 0, 0], width=32, height=32), PB)),
    ("4", "header-1mb", 431, (), lambda c: ("GET", "/models", {"headers": {"X-Filler": "f" * 1_000_000}})),
    ("4", "accept-long", 406, AE, post("/encode", lambda c: DIGIT, LONG_ACCEPT)),
    ("23", "request-line-60kb", 414, (), lambda c: ("GET", "/models?q=" + "a" * 60_000, {})),
    ("23", "accept-4mb", 431, AE, post("/encode", lambda c: DIGIT, IMG | {"Accept": "a" * 4_000_000})),
    ("23", "alpha-plane-zip-bomb", 422, CODEC, post("/decode", lambda c: compact(c, "mnist-codec-q1", **BOMB), PB)),
    ("23", "icc-profile-of-cmyk", 422, CODEC, post("/decode", lambda c: compact(c, "mnist-codec-q1", **CMYK), PB)),
    ("4", "content-type-long", 415, AE, post("/encode", lambda c: DIGIT, {"Content-Type": "text/" + "x" * 8000})),
    (
        "4",
        "payload-model-name-long",
        422,
        AE,
        post("/decode", lambda c: wire.pack(pb.LatentCode(format_version=1, model="m" * 50_000, data=b"x")), PB),
    ),
    ("7", "admin-without-key", 403, (), lambda c: ("POST", "/admin/reload", {})),
    ("8", "payload-and-two-bytes", 422, AE, post("/decode", lambda c: encoded(c) + b"\x20\x01", PB)),
    ("8", "two-payloads-concatenated", 422, AE, post("/decode", lambda c: encoded(c) * 2, PB)),
    ("9", "image-truncated", 422, AE, post("/encode", lambda c: DIGIT[:40], IMG)),
    ("9", "image-not-an-image", 422, AE, post("/encode", lambda c: b"GIF89a" + b"\0" * 30, IMG)),
    ("10", "multipart-300-parts", 413, AE, parts("/encode", [("files", DIGIT)] * 300)),
    ("10", "multipart-part-not-files", 400, AE, parts("/encode", [("images", DIGIT)])),
    ("10", "decode-multipart-garbage", 400, (), post("/decode", lambda c: b"--x\r\nno part here", NO_BOUNDARY)),
    ("10", "interpolate-steps-373", 422, VAE, parts("/interpolate?steps=373", [("files", DIGIT)] * 2)),
    ("10", "sample-n-373", 422, VAE, lambda c: ("POST", "/sample?n=373", {})),
]


# cases whose fix is not in yet: they must fail until it is (strict), then their entry goes
PENDING: dict[str, pytest.MarkDecorator] = {}


@pytest.mark.parametrize(
    ("status", "needs", "build"),
    [pytest.param(s, n, b, id=f"{item}:{name}", marks=PENDING.get(name, ())) for item, name, s, n, b in CASES],
)
def test_bad_input_over_http(shipped_server: Running, status: int, needs: tuple[str, ...], build: Build) -> None:
    missing = [m for m in needs if not (SHIPPED / m / "manifest.json").is_file()]
    if missing:
        pytest.skip(f"not shipped: {missing}")
    with shipped_server.client() as c:
        method, path, kwargs = build(c)
        r = c.request(method, path, **kwargs)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert set(doc) == {"type", "title", "status", "detail"} and doc["status"] == status
    assert 15 < len(doc["detail"]) < 600 and not INTERNALS.search(doc["detail"]), doc["detail"]
    assert httpx.get(shipped_server.url + "/healthz", timeout=5).status_code == 200


def test_multipart_part_name_is_named_in_the_detail(shipped_server: Running) -> None:
    with shipped_server.client() as c:
        r = c.post("/encode", files=[("image", DIGIT)])
    assert r.status_code == 400 and "'image'" in r.json()["detail"] and "'files'" in r.json()["detail"]


@pytest.fixture(scope="module")
def small_queue(fake_models: Path) -> Iterator[Running]:
    with serve(fake_models, queue_size=4, max_batch_items=8) as running:
        yield running


def test_a_batch_larger_than_the_queue_is_413_not_503(small_queue: Running) -> None:
    """Issue 11 #5: retrying can never help such a batch, so it must not say 'retry later'."""
    with small_queue.client() as c:
        r = c.post("/encode", files=[("files", DIGIT)] * 6)
    assert r.status_code == 413 and "retry-after" not in r.headers, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_a_full_model_refuses_before_the_body_arrives(small_queue: Running) -> None:
    """Issue 11 #5: admission is decided on arrival, so the 503 comes while the body is still unsent."""
    import socket

    admission = small_queue.app.state.registry.get("mnist-ae").admission
    admission.rows = admission.capacity  # as if four rows were being computed
    try:
        host, port = small_queue.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
            )
            head = sock.recv(65536).decode("latin-1")  # no byte of the body was sent
    finally:
        admission.rows = 0
    assert head.startswith("HTTP/1.1 503") and "retry-after: 1" in head.lower(), head
    assert "application/problem+json" in head
