"""Phone and web photographs through the SDK and the command line (the real service, the shipped models):
an upright, profile-tagged, transparent image round-trips through Client.encode/decode, the batch calls,
AsyncClient and ``aecodec decode``, which writes the profile and the alpha channel."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from aecodec_sdk import AsyncClient, Client, inspect
from aecodec_wire.quality import psnr
from PIL import Image

from tests.service.photos import display_p3, photo, sideways_jpeg, soft_edged_rgba, srgb

from .test_cli import cli


@pytest.fixture
def client(service):
    service.require("photo-codec-q2")
    with Client(service.url, api_key=service.api_key, timeout=60) as c:
        yield c


def _cut_out(path) -> np.ndarray:
    rgba = soft_edged_rgba(150, 100)
    Image.fromarray(rgba, "RGBA").save(path, icc_profile=srgb())
    return rgba


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_sideways_tagged_phone_jpeg_round_trips_upright_with_its_profile(client, tmp_path, orientation) -> None:
    upright = photo(240, 160)
    path = tmp_path / "phone.jpg"
    path.write_bytes(sideways_jpeg(upright, orientation, icc_profile=display_p3()))
    payload = client.encode(path)
    assert inspect(payload).icc_profile_bytes > 0
    image = client.decode(payload)
    assert image.size == (240, 160) and image.info["icc_profile"] == display_p3()
    assert psnr(np.asarray(image), upright) > 25
    opened = Image.open(path)  # a PIL image straight from the file: still sideways, its EXIF says so
    assert opened.size == (160, 240)
    assert client.decode(client.encode(opened)).size == (240, 160)


def test_a_transparent_tagged_png_round_trips_exactly(client, tmp_path) -> None:
    rgba = _cut_out(tmp_path / "cut.png")
    image = client.decode(client.encode(tmp_path / "cut.png"))
    assert image.mode == "RGBA" and image.info["icc_profile"] == srgb()
    assert np.array_equal(np.asarray(image)[..., 3], rgba[..., 3])
    [a, b] = client.decode_batch(client.encode_batch([tmp_path / "cut.png", Image.open(tmp_path / "cut.png")]))
    for img in (a, b):
        assert img.info["icc_profile"] == srgb() and np.array_equal(np.asarray(img)[..., 3], rgba[..., 3])


def test_async_client_keeps_them_too(service, tmp_path) -> None:
    service.require("photo-codec-q2")
    rgba = _cut_out(tmp_path / "cut.png")

    async def go() -> Image.Image:
        async with AsyncClient(service.url, api_key=service.api_key, timeout=60) as c:
            return await c.decode(await c.encode(tmp_path / "cut.png"))

    image = asyncio.run(go())
    assert image.info["icc_profile"] == srgb() and np.array_equal(np.asarray(image)[..., 3], rgba[..., 3])


@pytest.mark.parametrize("suffix", [".png", ".webp", ".jpg"])
def test_the_decode_command_writes_profile_and_alpha(service, client, tmp_path, suffix) -> None:
    rgba = _cut_out(tmp_path / "cut.png")
    (tmp_path / "cut.aec").write_bytes(client.encode(tmp_path / "cut.png"))
    if suffix == ".jpg":  # JPEG has no alpha: an opaque cut-out
        Image.fromarray(rgba[..., :3]).save(tmp_path / "flat.png", icc_profile=srgb())
        (tmp_path / "cut.aec").write_bytes(client.encode(tmp_path / "flat.png"))
    code, out = cli(service, "decode", tmp_path / "cut.aec", tmp_path / f"back{suffix}")
    assert code == 0, out
    with Image.open(io.BytesIO((tmp_path / f"back{suffix}").read_bytes())) as img:
        assert img.info["icc_profile"] == srgb()
        if suffix != ".jpg":
            assert img.mode == "RGBA" and np.array_equal(np.asarray(img)[..., 3], rgba[..., 3])
