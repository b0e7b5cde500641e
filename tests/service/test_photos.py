"""Photographs as phones and web sites send them, over real HTTP with the shipped models and no ?model=:
EXIF orientation is applied, an ICC profile comes back byte for byte, alpha comes back exactly, through
/encode + /decode and through /denoise; other metadata is dropped and said so.

The files are made here with Pillow (tests/service/photos.py): JPEGs stored sideways with EXIF Orientation
6 and 8, PNGs and JPEGs tagged with a Display P3 or an sRGB profile, an RGBA PNG with a soft edge.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
import pytest
from aecodec_wire.quality import psnr
from PIL import Image

from .conftest import SHIPPED, Running
from .helpers import read
from .photos import display_p3, file_bytes, icc_of, photo, sideways_jpeg, soft_edged_rgba, srgb

PB = {"Content-Type": "application/x-protobuf"}
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture(autouse=True)
def _photo_models() -> None:
    for name in ("photo-codec-q2", "denoise-any"):
        if not (SHIPPED / name / "manifest.json").is_file():
            pytest.skip(f"{name} is not shipped")


def _round_trip(server: Running, data: bytes, accept: str = "image/png") -> tuple[dict[str, str], bytes]:
    """/encode with no model, then /decode: (the encode answer's headers, the decoded file)."""
    with server.client() as c:
        enc = c.post("/encode", content=data, headers=OCTETS)
        assert enc.status_code == 200, enc.text
        dec = c.post("/decode", content=enc.content, headers=PB | {"Accept": accept})
        assert dec.status_code == 200, dec.text
    return dict(enc.headers), dec.content


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_sideways_phone_jpeg_comes_back_upright(shipped_server: Running, orientation: int) -> None:
    upright = photo(768, 512)
    data = sideways_jpeg(upright, orientation)
    assert Image.open(io.BytesIO(data)).size == (512, 768)  # stored on its side
    headers, out = _round_trip(shipped_server, data)
    assert headers["x-aecodec-orientation-applied"] == str(orientation)
    assert headers["x-aecodec-metadata-dropped"] == "exif"  # the camera's Make, and the rest of EXIF
    img = read(out)
    assert img.size == (768, 512) and img.mode == "RGB"
    assert psnr(np.asarray(img), upright) > 25
    assert "exif" not in img.info


def _tagged(fmt: str, profile: bytes) -> bytes:
    img = Image.fromarray(photo(200, 136, 1))
    return file_bytes(img, fmt, icc_profile=profile, **({"quality": 95} if fmt == "JPEG" else {}))


PROFILES: dict[str, Callable[[], bytes]] = {"display-p3": display_p3, "srgb": srgb}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("profile", list(PROFILES))
def test_an_icc_profile_comes_back_byte_for_byte(shipped_server: Running, fmt: str, profile: str) -> None:
    icc = PROFILES[profile]()
    headers, out = _round_trip(shipped_server, _tagged(fmt, icc))
    assert icc_of(out) == icc
    assert "x-aecodec-metadata-dropped" not in headers
    assert read(out).size == (200, 136)


@pytest.mark.parametrize("accept", ["image/webp", "image/jpeg"])
def test_other_answer_formats_embed_the_profile_too(shipped_server: Running, accept: str) -> None:
    _, out = _round_trip(shipped_server, _tagged("PNG", display_p3()), accept)
    assert icc_of(out) == display_p3()


def test_transparency_comes_back_exactly(shipped_server: Running) -> None:
    rgba = soft_edged_rgba(160, 120)
    _, out = _round_trip(shipped_server, file_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    img = read(out)
    assert img.mode == "RGBA" and img.size == (160, 120)
    assert np.array_equal(np.asarray(img)[..., 3], rgba[..., 3])  # lossless: exactly


@pytest.mark.parametrize("kind", ["LA", "P-with-transparency", "L-with-colour-key"])
def test_every_kind_of_transparency_is_kept(shipped_server: Running, kind: str) -> None:
    grey = photo(96, 64, 2)[..., 0]
    if kind == "LA":
        alpha = np.where(np.arange(96) < 40, 0, 255).astype(np.uint8)[None].repeat(64, 0)
        img = Image.fromarray(np.dstack([grey, alpha]), "LA")
    elif kind == "P-with-transparency":
        img = Image.fromarray(photo(96, 64, 2)).quantize(16)
        img.info["transparency"] = 3
        alpha = np.where(np.asarray(img) == 3, 0, 255).astype(np.uint8)
    else:
        img = Image.fromarray(grey)
        img.info["transparency"] = int(grey[0, 0])
        alpha = np.where(grey == grey[0, 0], 0, 255).astype(np.uint8)
    data = file_bytes(img, "PNG", **({"transparency": img.info["transparency"]} if kind != "LA" else {}))
    _, out = _round_trip(shipped_server, data)
    back = read(out)
    assert back.mode in ("LA", "RGBA") and np.array_equal(np.asarray(back)[..., -1], alpha)


def test_an_opaque_rgba_image_costs_no_alpha_bytes(shipped_server: Running) -> None:
    rgba = soft_edged_rgba(64, 48)
    rgba[..., 3] = 255
    with shipped_server.client() as c:
        doc = c.post(
            "/encode",
            content=file_bytes(Image.fromarray(rgba, "RGBA"), "PNG"),
            headers=OCTETS | {"Accept": "application/json"},
        ).json()
        back = c.post("/decode", content=base64.b64decode(doc["payload"]), headers=PB).content
    assert doc["alpha_bytes"] == 0 and doc["icc_profile_bytes"] == 0 and doc["orientation_applied"] == 1
    assert read(back).mode == "RGBA" and np.asarray(read(back))[..., 3].min() == 255


def test_json_forms_say_what_was_carried(shipped_server: Running) -> None:
    rgba = soft_edged_rgba(120, 96)
    data = file_bytes(Image.fromarray(rgba, "RGBA"), "PNG", icc_profile=display_p3())
    with shipped_server.client() as c:
        enc = c.post("/encode", content=data, headers=OCTETS | {"Accept": "application/json"}).json()
        payload = base64.b64decode(enc["payload"])
        dec = c.post("/decode", content=payload, headers=PB | {"Accept": "application/json"}).json()
    assert 250 < enc["icc_profile_bytes"] < len(display_p3()) and 0 < enc["alpha_bytes"] < 3000
    assert enc["metadata_dropped"] == [] and enc["orientation_applied"] == 1
    assert dec["mode"] == "RGBA" and dec["alpha"] is True and dec["icc_profile_bytes"] == len(display_p3())
    img = read(base64.b64decode(dec["image"]))
    assert img.info["icc_profile"] == display_p3() and np.array_equal(np.asarray(img)[..., 3], rgba[..., 3])


def test_a_batch_reports_each_orientation(shipped_server: Running) -> None:
    upright = photo(96, 64, 4)
    files = [("files", sideways_jpeg(upright, 6)), ("files", file_bytes(Image.fromarray(upright), "PNG"))]
    with shipped_server.client() as c:
        r = c.post("/encode", files=files)
    assert r.status_code == 200 and r.headers["x-aecodec-orientation-applied"] == "6, 1"


def test_denoise_keeps_orientation_profile_and_alpha(shipped_server: Running) -> None:
    upright = photo(160, 96, 5)
    noisy = np.clip(upright + np.random.default_rng(0).normal(0, 20, upright.shape), 0, 255).astype(np.uint8)
    turned = sideways_jpeg(noisy, 8, icc_profile=display_p3())
    rgba = soft_edged_rgba(120, 80)
    rgba[..., :3] = np.clip(rgba[..., :3] + np.random.default_rng(1).normal(0, 20, (80, 120, 3)), 0, 255)
    cut_out = file_bytes(Image.fromarray(rgba, "RGBA"), "PNG", icc_profile=srgb())
    with shipped_server.client() as c:
        a = c.post("/denoise", content=turned, headers=OCTETS)
        b = c.post("/denoise", content=cut_out, headers=OCTETS)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert a.headers["x-aecodec-orientation-applied"] == "8" and b.headers["x-aecodec-orientation-applied"] == "1"
    img_a, img_b = read(a.content), read(b.content)
    assert img_a.size == (160, 96) and img_a.info["icc_profile"] == display_p3()
    assert psnr(np.asarray(img_a), upright) > psnr(noisy, upright)  # upright, and cleaner
    assert img_b.mode == "RGBA" and img_b.info["icc_profile"] == srgb()
    assert np.array_equal(np.asarray(img_b)[..., 3], rgba[..., 3])


def test_a_profile_for_other_colours_is_dropped_and_said(shipped_server: Running) -> None:
    cmyk_profile = display_p3()[:16] + b"CMYK" + display_p3()[20:]  # a CMYK image's profile: not for RGB pixels
    cmyk = Image.fromarray(photo(64, 48, 6)).convert("CMYK")
    headers, out = _round_trip(shipped_server, file_bytes(cmyk, "JPEG", icc_profile=cmyk_profile))
    assert headers["x-aecodec-metadata-dropped"] == "icc-profile"
    assert icc_of(out) is None and read(out).mode == "RGB"


def test_a_profile_over_the_limit_is_a_clear_422(shipped_server: Running) -> None:
    p3 = display_p3()
    size = 70_000
    big = size.to_bytes(4, "big") + p3[4:] + b"\0" * (size - len(p3))
    with shipped_server.client() as c:
        r = c.post("/encode", content=_tagged("PNG", big), headers=OCTETS)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["type"].endswith("icc-profile-too-large") and "65536" in doc["detail"] and "sRGB" in doc["detail"]
