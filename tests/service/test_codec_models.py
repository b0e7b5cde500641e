"""The rate-distortion codec models (kind "codec") through real HTTP: compact payloads, quality, refusal."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from aecodec_wire import payload as wire
from aecodec_wire.quality import psnr
from aecodec_wire.v1 import api_pb2
from aecodec_wire.v1 import payload_pb2 as pb

from .conftest import SHIPPED, Running
from .helpers import png, read

IMG = {"Content-Type": "image/png"}
PB = {"Content-Type": "application/x-protobuf"}


def need(*names: str) -> None:
    missing = [n for n in names if not (SHIPPED / n / "manifest.json").is_file()]
    if missing:
        pytest.skip(f"codec models not shipped: {missing}")


def test_mnist_codec_payload_is_compact_and_decodes_at_the_stated_psnr(
    shipped_server: Running, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    need("mnist-codec-q1")
    x, _ = digits
    with shipped_server.client() as c:
        entry = c.get("/models/mnist-codec-q1").json()
        assert entry["kind"] == "codec" and entry["endpoints"] == ["encode", "decode"]
        payloads = [c.post("/encode?model=mnist-codec-q1", content=png(d), headers=IMG).content for d in x]
        images = [read(c.post("/decode", content=p, headers=PB).content) for p in payloads]
    assert all(img.size == (28, 28) and img.mode == "L" for img in images)
    scores = [psnr(a, np.asarray(b)) for a, b in zip(x, images, strict=True)]
    assert abs(np.mean(scores) - entry["metrics"]["psnr_db"]) < 1.5, np.mean(scores)
    sizes = [len(p) for p in payloads]
    # the header is 7 bytes; the whole payload is about the manifest's mean (~30 B), not the ~80 B of mnist-ae
    assert abs(np.mean(sizes) - entry["metrics"]["bytes"]) < 6, np.mean(sizes)
    info = wire.inspect(payloads[0])  # offline: a compact payload names its model by wire id
    assert info.wire_id == entry["wire_id"] == 1
    assert info.size == sizes[0] and info.header_bytes == 7


def test_cifar_codec_takes_any_size_and_keeps_it(shipped_server: Running) -> None:
    need("cifar-codec-q1")
    rng = np.random.default_rng(3)
    # a smooth colour picture of a size that is no multiple of 8
    yy, xx = np.mgrid[0:37, 0:50]
    img = np.stack([(xx * 5) % 256, (yy * 6) % 256, ((xx + yy) * 3) % 256], -1).astype(np.uint8)
    img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    with shipped_server.client() as c:
        payload = c.post("/encode?model=cifar-codec-q1", content=png(img, "RGB"), headers=IMG).content
        back = read(c.post("/decode", content=payload, headers=PB).content)
    assert back.size == (50, 37) and back.mode == "RGB"
    assert len(payload) < len(png(img, "RGB")) / 4
    assert psnr(img, np.asarray(back)) > 20


@pytest.mark.parametrize("damage", ["flip", "truncate", "wire_id"])
def test_damaged_compact_payload_is_refused(
    shipped_server: Running, digits: tuple[np.ndarray, np.ndarray], damage: str
) -> None:
    need("mnist-codec-q2")
    with shipped_server.client() as c:
        payload = bytearray(c.post("/encode?model=mnist-codec-q2", content=png(digits[0][0]), headers=IMG).content)
        if damage == "flip":
            payload[-1] ^= 0x40
        elif damage == "truncate":
            del payload[-3:]
        else:  # a model id nobody serves
            code = pb.CompactCode.FromString(bytes(payload))
            code.check = (99 << 24) | (code.check & 0xFFFFFF)
            payload = bytearray(code.SerializeToString(deterministic=True))
        r = c.post("/decode", content=bytes(payload), headers=PB)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert c.get("/healthz").status_code == 200


def test_compact_payload_batch_without_message_type_decodes_as_a_batch(
    shipped_server: Running, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    """Plain application/x-protobuf may carry one payload or a PayloadBatch: a batch of compact ones is a batch."""
    need("mnist-codec-q1", "mnist-codec-q3")
    x, _ = digits
    with shipped_server.client() as c:
        payloads = [
            c.post(f"/encode?model={m}", content=png(x[i]), headers=IMG).content
            for i, m in enumerate(["mnist-codec-q1", "mnist-codec-q3", "mnist-codec-q1"])
        ]
        r = c.post("/decode", content=wire.pack_batch(payloads), headers=PB)
        assert r.status_code == 200, r.text
        images = [read(b) for b in api_pb2.ImageBatch.FromString(r.content).images]
    assert len(images) == 3 and all(img.size == (28, 28) for img in images)
    assert all(psnr(a, np.asarray(b)) > 20 for a, b in zip(x[:3], images, strict=True))


@pytest.mark.parametrize("extra", ["two bytes", "second payload"])
def test_payload_with_bytes_beyond_its_message_is_refused(
    shipped_server: Running, digits: tuple[np.ndarray, np.ndarray], extra: str
) -> None:
    for model in ("mnist-ae", "mnist-codec-q1"):
        need(model)
        with shipped_server.client() as c:
            one = c.post(f"/encode?model={model}", content=png(digits[0][0]), headers=IMG).content
            two = c.post(f"/encode?model={model}", content=png(digits[0][1]), headers=IMG).content
            r = c.post("/decode", content=one + (b"\x20\x01" if extra == "two bytes" else two), headers=PB)
            assert r.status_code == 422, (model, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


def _named(c: httpx.Client, model: str, **fields: object) -> bytes:
    """A LatentCode for a served model with its real name and version and the given header fields."""
    version = bytes.fromhex(c.get(f"/models/{model}").json()["version"])
    base: dict[str, object] = dict(
        format_version=1, model=model, model_version=version, quantizer=pb.QUANTIZER_UNIFORM_TABLE, bits=8
    )
    return wire.pack(pb.LatentCode(**(base | {"data": b"\x00" * 8} | fields)))  # type: ignore[arg-type]


def _compact(c: httpx.Client, model: str, **fields: object) -> bytes:
    """A CompactCode for a served codec model that passes its CRC, with the given header fields."""
    entry = c.get(f"/models/{model}").json()
    key = model.encode() + b"\0" + bytes.fromhex(entry["version"])
    return wire.pack_compact(pb.CompactCode(**({"data": b"\x00" * 4} | fields)), entry["wire_id"], key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "kind", "fields", "words"),
    [
        # issue 11 #1: 58 bytes that made the server decode a 4160x4160 image
        ("cifar-conv", "named", {"latent_shape": [4, 1040, 1040], "width": 4160, "height": 4160}, "pixels"),
        # a small latent with a huge declared size: 64 megapixels of output
        ("cifar-conv", "named", {"latent_shape": [4, 1, 1], "width": 8000, "height": 8000}, "pixels"),
        # an any-size model takes the latent shape its width and height imply
        ("cifar-conv", "named", {"latent_shape": [4, 100, 100], "width": 32, "height": 32}, "latent shape"),
        # issue 11 #3: zero-sized latent (was a 500)
        ("cifar-conv", "named", {"latent_shape": [4, 0, 0], "width": 32, "height": 32}, "latent shape"),
        ("cifar-conv", "named", {"latent_shape": [4, 0, 0]}, "width and height"),
        # a fixed-size model takes exactly its latent shape
        ("mnist-ae", "named", {"latent_shape": [7, 7]}, "latent shape"),
        ("mnist-ae", "named", {"latent_shape": [4096]}, "latent shape"),
        ("mnist-ae", "named", {"width": 5000, "height": 5000}, "pixels"),
        ("mnist-ae", "named", {"mode": 9}, "mode"),
        # issue 11 #3: only shape[0] was compared with the prior's 256 rows (was a 500)
        ("mnist-codec-q1", "compact", {"latent_shape": [256, 1, 1]}, "latent shape"),
        ("mnist-codec-q1", "compact", {"latent_shape": [16, 4, 4], "width": 9000, "height": 9000}, "pixels"),
        ("cifar-codec-q1", "compact", {"latent_shape": [24, 500, 500], "width": 32, "height": 32}, "latent shape"),
        ("cifar-codec-q1", "compact", {"latent_shape": [24, 0, 0], "width": 32, "height": 32}, "latent shape"),
        ("cifar-codec-q1", "compact", {}, "width and height"),
    ],
)
def test_header_out_of_bounds_is_refused_before_any_work(
    shipped_server: Running, model: str, kind: str, fields: dict[str, object], words: str
) -> None:
    need(model)
    with shipped_server.client() as c:
        data = (_named if kind == "named" else _compact)(c, model, **fields)
        assert len(data) < 80
        r = c.post("/decode", content=data, headers=PB)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"], r.json()["detail"]
        assert c.get("/healthz").status_code == 200


def test_a_codec_model_reports_no_bit_depth_in_json(
    shipped_server: Running, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    need("mnist-codec-q1")
    x, _ = digits
    with shipped_server.client() as c:
        doc = c.post("/encode?model=mnist-codec-q1", content=png(x[0]), headers=IMG | {"Accept": "application/json"})
    assert doc.status_code == 200 and doc.json()["bits"] is None  # its rate is fixed by its training
