"""Client and AsyncClient against the real service: round trips, batches, typed models and errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from aecodec_sdk import (
    AsyncClient,
    Client,
    InputSpec,
    ModelInfo,
    NotFound,
    PayloadInfo,
    Unauthorized,
    UnprocessableEntity,
    inspect,
)
from aecodec_wire.quality import psnr
from PIL import Image

from .conftest import MODELS


def manifest(name: str) -> dict[str, Any]:
    return json.loads((MODELS / name / "manifest.json").read_text())


# The fixture's 48 test digits vs the manifest's whole-test-set mean through the same quantise +
# range-code path: measured 0.35 dB apart for mnist-ae (24.21 vs 24.55) and 0.07 dB for mnist-codec-q1.
# A lost bit depth (8 -> 4 bits: -1.05 dB for mnist-ae), a wrong scale or a broken decode falls outside.
PSNR_TOLERANCE_DB = 0.5


@pytest.fixture
def client(service):
    with Client(service.url, api_key=service.api_key, timeout=30) as c:
        yield c


def test_encode_decode_round_trip_at_the_models_psnr(service, client, digits, tmp_path) -> None:
    service.require("mnist-ae")
    path = tmp_path / "digit.png"
    Image.fromarray(digits[0]).save(path)
    payload = client.encode(path, model="mnist-ae")
    # the payload's header, read offline by the wire package: a native 28x28 L digit leaves out its
    # size, mode and latent shape (the model fixes them), so only name, version and bit depth are sent
    info = inspect(payload)
    spec = manifest("mnist-ae")
    assert info == PayloadInfo(
        model="mnist-ae",
        model_version=spec["version"],
        latent_shape=(),
        bits=8,
        width=0,
        height=0,
        mode="native",
        size=len(payload),
        latent_bytes=info.latent_bytes,
        wire_id=None,
    )
    assert info.header_bytes == 35
    image = client.decode(payload)
    assert (image.size, image.mode) == ((28, 28), "L")
    # the same image as an array, as bytes and as a PIL image gives the same payload
    assert client.encode(digits[0], model="mnist-ae") == payload
    assert client.encode(path.read_bytes(), model="mnist-ae") == payload
    assert client.encode(Image.fromarray(digits[0]), model="mnist-ae") == payload
    # the model's real quality over the fixture digits
    payloads = client.encode_batch(list(digits), model="mnist-ae")
    decoded = client.decode_batch(payloads)
    mean = float(np.mean([psnr(np.asarray(d), x) for d, x in zip(decoded, digits, strict=True)]))
    assert abs(mean - spec["metrics"]["codec_psnr_db_8bit"]) < PSNR_TOLERANCE_DB, mean
    assert abs(np.mean([len(p) for p in payloads]) - spec["metrics"]["codec_bytes_8bit"]) < 1.0


def test_codec_model_payload_has_the_compact_header(service, client, digits) -> None:
    service.require("mnist-codec-q1")
    spec = manifest("mnist-codec-q1")
    payload = client.encode(digits[0], model="mnist-codec-q1")
    info = inspect(payload)
    # compact: the model is named by its one-byte wire id; its version is checked through the CRC only,
    # and the bit depth is the codec's own (not sent)
    assert info == PayloadInfo(
        model=f"codec model #{spec['wire_id']}",
        model_version="",
        latent_shape=(),
        bits=0,
        width=0,
        height=0,
        mode="native",
        size=len(payload),
        latent_bytes=info.latent_bytes,
        wire_id=spec["wire_id"],
    )
    assert info.header_bytes == 7 and info.size == len(payload)
    payloads = client.encode_batch(list(digits), model="mnist-codec-q1")
    decoded = client.decode_batch(payloads)
    mean = float(np.mean([psnr(np.asarray(d), x) for d, x in zip(decoded, digits, strict=True)]))
    assert abs(mean - spec["metrics"]["psnr_db"]) < PSNR_TOLERANCE_DB, mean


def test_batches_keep_order(service, client, digits) -> None:
    service.require("mnist-ae")
    batch = list(digits[:6])
    payloads = client.encode_batch(batch, model="mnist-ae", bits=6)
    assert len(payloads) == 6 and all(inspect(p).bits == 6 for p in payloads)
    assert payloads[3] == client.encode(batch[3], model="mnist-ae", bits=6)
    images = client.decode_batch(payloads)
    assert [np.asarray(i).tolist() for i in images] == [np.asarray(client.decode(p)).tolist() for p in payloads]


def test_denoise_and_denoise_batch(service, client, digits) -> None:
    service.require("mnist-denoise")
    from .conftest import add_noise

    noisy = add_noise(digits[:4], seed=1)
    one = client.denoise(noisy[0], model="mnist-denoise")
    many = client.denoise_batch(list(noisy), model="mnist-denoise")
    assert len(many) == 4 and np.array_equal(np.asarray(one), np.asarray(many[0]))


def test_models_are_typed(service, client) -> None:
    models = client.models()
    assert models and all(isinstance(m, ModelInfo) for m in models)
    assert {m.name for m in models} == service.models
    first = client.model(models[0].name)
    assert first == models[0]
    assert isinstance(first.input, InputSpec) and first.input.channels in (1, 3) and first.version
    assert any(m.input.fixed_size and m.input.height == 28 for m in models)
    assert client.ready() is True
    assert client.health()["status"] == "ok"


def test_typed_errors_carry_the_servers_detail(service, client, digits) -> None:
    with pytest.raises(NotFound) as info:
        client.model("no-such-model")
    assert info.value.status == 404 and "no-such-model" in info.value.detail
    assert "mnist" in info.value.detail  # the server lists what it does serve
    with pytest.raises(NotFound):
        client.encode(digits[0], model="no-such-model")
    with pytest.raises(UnprocessableEntity) as bad:
        client.decode(b"definitely not a payload")
    assert bad.value.detail and bad.value.problem.get("status") == 422
    with Client(service.url, api_key="wrong") as wrong, pytest.raises(Unauthorized) as auth:
        wrong.models()
    assert "API key" in auth.value.detail


def test_sample_and_interpolate(service, client, digits) -> None:
    service.require("mnist-vae")
    a = client.sample(4, model="mnist-vae", seed=7)
    b = client.sample(4, model="mnist-vae", seed=7)
    assert len(a) == 4 and all(i.size == (28, 28) for i in a)
    assert [np.asarray(i).tolist() for i in a] == [np.asarray(i).tolist() for i in b]
    path = client.interpolate(digits[0], digits[1], steps=5, model="mnist-vae")
    assert len(path) == 5


def test_async_client_under_gather(service, digits) -> None:
    service.require("mnist-ae")

    async def go() -> tuple[list[bytes], list[Image.Image]]:
        async with AsyncClient(service.url, api_key=service.api_key, max_connections=8) as client:
            payloads = await asyncio.gather(*(client.encode(d, model="mnist-ae") for d in digits[:16]))
            images = await asyncio.gather(*(client.decode(p) for p in payloads))
            assert await client.ready()
            return list(payloads), list(images)

    payloads, images = asyncio.run(go())
    # the same answers as the blocking client, which takes the same connection limit
    with Client(service.url, api_key=service.api_key, max_connections=4) as sync:
        assert payloads == sync.encode_batch(digits[:16], model="mnist-ae")
        expected = sync.decode_batch(payloads)
    assert [np.asarray(i).tolist() for i in images] == [np.asarray(i).tolist() for i in expected]


def test_denoise_passes_a_known_noise_level(service, client, digits) -> None:
    service.require("denoise-any", "mnist-denoise")
    photo = np.asarray(Image.open(MODELS.parent / "tests" / "fixtures" / "denoise_photo.png").convert("RGB"))
    rng = np.random.default_rng(0)
    noisy = np.clip(np.rint(photo + rng.normal(0, 25, photo.shape)), 0, 255).astype(np.uint8)
    low, high = (np.asarray(client.denoise(noisy, model="denoise-any", sigma=s)) for s in (5, 50))
    assert low.shape == high.shape == photo.shape
    assert not np.array_equal(low, high)  # the level reached the model
    batch = client.denoise_batch([noisy, noisy[:64, :80]], model="denoise-any", sigma=50)
    assert np.array_equal(np.asarray(batch[0]), high) and batch[1].size == (80, 64)
    with pytest.raises(UnprocessableEntity) as info:
        client.denoise(digits[0], model="mnist-denoise", sigma=25)  # a fixed-size model takes no noise level
    assert "sigma" in info.value.detail
