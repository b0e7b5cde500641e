"""The HTTP protocol end to end over tiny fake models: single, batch, JSON, modes, sizes, generative endpoints."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
from aecodec_wire import payload as wire
from aecodec_wire.v1 import api_pb2

from .conftest import Running, serve
from .helpers import png, read

RNG = np.random.default_rng(0)
DIGITS = [png(RNG.integers(0, 255, (28, 28), dtype=np.uint8)) for _ in range(3)]
IMG = {"Content-Type": "image/png"}
PB = {"Content-Type": "application/x-protobuf"}


def test_single_round_trip_headers_and_json(fake_server: Running) -> None:
    with fake_server.client() as c:
        r = c.post("/encode", content=DIGITS[0], headers=IMG)
        assert r.headers["content-type"] == "application/x-protobuf"
        assert r.headers["x-aecodec-model"] == "mnist-ae" and int(r.headers["x-aecodec-payload-bytes"]) == len(
            r.content
        )
        info = wire.inspect(r.content)
        # a native-size, native-mode digit: the header leaves out what the model fixes (0 / "native")
        assert (info.model, info.bits, info.width, info.height, info.mode) == ("mnist-ae", 8, 0, 0, "native")
        assert info.latent_shape == ()
        assert info.model_version == r.headers["x-aecodec-model-version"]
        img = c.post("/decode", content=r.content, headers=PB)
        assert img.headers["content-type"] == "image/png" and read(img.content).size == (28, 28)
        assert read(img.content).mode == "L"
        doc = c.post("/encode?bits=4", content=DIGITS[0], headers=IMG | {"Accept": "application/json"}).json()
        assert doc["bits"] == 4 and doc["latent_shape"] == [16] and len(doc["latent"]) == 16
        assert len(base64.b64decode(doc["payload"])) == doc["size"]
        out = c.post("/decode", content=base64.b64decode(doc["payload"]), headers=PB | {"Accept": "application/json"})
        assert {k: out.json()[k] for k in ("model", "width", "height", "mode")} == {
            "model": "mnist-ae",
            "width": 28,
            "height": 28,
            "mode": "L",
        }
        for accept, fmt in (("image/webp", "WEBP"), ("image/jpeg", "JPEG")):
            r2 = c.post("/decode", content=r.content, headers=PB | {"Accept": accept})
            assert r2.headers["content-type"] == accept and read(r2.content).format == fmt


def test_every_bit_depth_round_trips(fake_server: Running) -> None:
    with fake_server.client() as c:
        sizes = []
        for bits in range(2, 9):
            p = c.post(f"/encode?bits={bits}", content=DIGITS[1], headers=IMG).content
            assert wire.inspect(p).bits == bits
            assert c.post("/decode", content=p, headers=PB).status_code == 200
            sizes.append(len(p))
        assert sizes[0] < sizes[-1]


def test_batches_multipart_and_protobuf(fake_server: Running) -> None:
    with fake_server.client() as c:
        r = c.post("/encode", files=[("files", d) for d in DIGITS])
        assert r.headers["content-type"].startswith("application/x-protobuf")
        payloads = api_pb2.PayloadBatch.FromString(r.content).payloads
        singles = [c.post("/encode", content=d, headers=IMG).content for d in DIGITS]
        assert list(payloads) == singles  # same order, same bytes as one by one
        body = api_pb2.ImageBatch(images=DIGITS).SerializeToString()
        assert (
            list(api_pb2.PayloadBatch.FromString(c.post("/encode", content=body, headers=PB).content).payloads)
            == singles
        )
        batch = api_pb2.PayloadBatch(payloads=payloads).SerializeToString()
        images = api_pb2.ImageBatch.FromString(c.post("/decode", content=batch, headers=PB).content).images
        assert [read(i).size for i in images] == [(28, 28)] * 3
        one_by_one = [c.post("/decode", content=p, headers=PB).content for p in payloads]
        assert list(images) == one_by_one
        docs = c.post("/decode", files=[("files", p) for p in payloads], headers={"Accept": "application/json"}).json()
        assert len(docs["items"]) == 3
        jdocs = c.post("/encode", files=[("files", d) for d in DIGITS], headers={"Accept": "application/json"}).json()
        assert [base64.b64decode(d["payload"]) for d in jdocs["items"]] == singles
        den = c.post("/denoise?model=fake-denoise", content=body, headers=PB)
        assert len(api_pb2.ImageBatch.FromString(den.content).images) == 3


def test_any_size_rgb_model_restores_size_and_mode(fake_server: Running) -> None:
    with fake_server.client() as c:
        for shape, mode in (((37, 50, 3), "RGB"), ((21, 19, 4), "RGBA"), ((9, 13), "L")):
            pixels = RNG.integers(0, 255, shape, dtype=np.uint8)
            p = c.post("/encode?model=fake-conv", content=png(pixels), headers=IMG).content
            info = wire.inspect(p)
            assert info.latent_shape == (4, -(-shape[0] // 4), -(-shape[1] // 4))
            img = read(c.post("/decode", content=p, headers=PB).content)
            assert img.size == (shape[1], shape[0]) and img.mode == mode


def test_resize_restores_original_size(fake_server: Running) -> None:
    with fake_server.client() as c:
        big = png(RNG.integers(0, 255, (56, 42), dtype=np.uint8))
        p = c.post("/encode?resize=true", content=big, headers=IMG).content
        assert (wire.inspect(p).width, wire.inspect(p).height) == (42, 56)
        assert read(c.post("/decode", content=p, headers=PB).content).size == (42, 56)


def test_sample_is_reproducible_and_interpolate(fake_server: Running) -> None:
    with fake_server.client() as c:
        a = c.post("/sample?n=16&seed=42", headers={"Accept": "application/json"}).json()
        b = c.post("/sample?n=16&seed=42", headers={"Accept": "application/json"}).json()
        assert a["images"] == b["images"] and a["seed"] == 42 and len(a["images"]) == 16
        grid = c.post("/sample?n=5")
        assert read(grid.content).size == (3 * 28, 2 * 28) and int(grid.headers["x-aecodec-seed"]) >= 0
        strip = c.post("/interpolate?steps=5", files=[("files", DIGITS[0]), ("files", DIGITS[1])])
        assert read(strip.content).size == (5 * 28, 28)
        items = c.post(
            "/interpolate?steps=3",
            files=[("files", DIGITS[0]), ("files", DIGITS[1])],
            headers={"Accept": "application/json"},
        ).json()["images"]
        assert len(items) == 3


def test_a_request_holds_at_most_max_pixels_in_all(fake_models: Path) -> None:
    """Each image within AECODEC_MAX_PIXELS is not enough: a batch of them would hold n times the limit."""
    square = png(RNG.integers(0, 255, (40, 40, 3), dtype=np.uint8), "RGB")  # 1600 pixels on an any-size model
    with serve(fake_models, max_pixels=4000) as s, s.client() as c:
        two = c.post("/encode?model=fake-conv", files=[("files", square)] * 2)
        assert two.status_code == 200, two.text
        three = c.post("/encode?model=fake-conv", files=[("files", square)] * 3)
        assert three.status_code == 413 and "retry-after" not in three.headers, three.text
        assert "4800 pixels" in three.json()["detail"] and "item 2" in three.json()["detail"]
        payloads = list(api_pb2.PayloadBatch.FromString(two.content).payloads)
        assert c.post("/decode", content=wire.pack_batch(payloads), headers=PB).status_code == 200
        r = c.post("/decode", content=wire.pack_batch(payloads + payloads[:1]), headers=PB)
        assert r.status_code == 413 and "4800 pixels" in r.json()["detail"], r.text
        # a fixed-size model holds its native size, whatever size the payload restores
        big_digit = png(RNG.integers(0, 255, (60, 60), dtype=np.uint8))  # restored at 60x60 = 3600 pixels
        digit = c.post("/encode?resize=true", content=big_digit, headers=IMG).content
        back = c.post("/decode", content=wire.pack_batch([digit, digit]), headers=PB)
        assert back.status_code == 200, back.text
