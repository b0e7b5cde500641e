"""POST /compare over real HTTP on the shipped models: the same numbers as /encode + /decode, classical files
at the payload's bytes, errors as problem documents; and the page's assets served without a key."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from aecodec_service.runtime import classical
from aecodec_wire.quality import psnr, ssim
from PIL import Image

from tests.service.conftest import DIGITS, SHIPPED, Running, serve
from tests.service.helpers import png, read
from tests.service.photos import display_p3, photo, sideways_jpeg, soft_edged_rgba

CIFAR = np.load(DIGITS.parent / "cifar10_test_16.npz")["x"]
DIGIT = np.load(DIGITS)["x"][3]
IMG = {"Content-Type": "image/png"}


def _problem(r, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["type"] == f"urn:aecodec:problem:{kind}"
    return doc["detail"]


@pytest.mark.parametrize(
    ("model", "pixels"), [("mnist-codec-q1", DIGIT), ("mnist-ae", DIGIT), ("cifar-codec-q1", CIFAR[5])]
)
def test_the_learned_side_is_exactly_encode_then_decode(web_server: Running, model: str, pixels: np.ndarray) -> None:
    body = png(pixels)
    with web_server.client() as c:
        doc = c.post(f"/compare?model={model}&formats=jpeg,webp", content=body, headers=IMG).json()
        payload = c.post(f"/encode?model={model}", content=body, headers=IMG).content
        decoded = c.post("/decode", content=payload, headers={"Content-Type": "application/x-protobuf"}).content
    ours = doc["learned"]
    assert base64.b64decode(ours["payload"]) == payload
    assert base64.b64decode(ours["image"]) == decoded
    assert ours["model"] == model and ours["bytes"] == len(payload)
    h, w = pixels.shape[:2]
    assert (doc["width"], doc["height"], doc["mode"]) == (w, h, "L" if pixels.ndim == 2 else "RGB")
    assert ours["bpp"] == pytest.approx(8 * len(payload) / (w * h))
    restored = np.asarray(read(decoded))
    assert ours["psnr"] == pytest.approx(psnr(pixels, restored), abs=1e-9)
    assert ours["ssim"] == pytest.approx(ssim(pixels, restored), abs=1e-12)
    assert 15 < ours["psnr"] < 60 and 0.3 < ours["ssim"] < 1
    assert ours["encode_ms"] > 0 and ours["decode_ms"] > 0
    assert doc["png_bytes"] > 0


def test_classical_files_fit_the_payload_at_the_highest_quality(web_server: Running) -> None:
    """A 384x256 crop of a CIFAR mosaic: payload large enough for JPEG and WebP to fit under it."""
    mosaic = np.concatenate([np.concatenate(list(CIFAR[i * 4 : i * 4 + 4]), 1) for i in range(4)], 0)  # 128x128
    body = png(np.kron(mosaic, np.ones((2, 3, 1), np.uint8)))  # 256x384
    with web_server.client() as c:
        doc = c.post("/compare?model=cifar-codec-q1&formats=webp,jpeg", content=body, headers=IMG).json()
    budget = doc["learned"]["bytes"]
    ref = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    assert [k["format"] for k in doc["classical"]] == ["webp", "jpeg"]
    for k in doc["classical"]:
        data = base64.b64decode(k["image"])
        fmt = classical.FORMATS[k["format"]]
        assert not k["nearest"] and len(data) == k["bytes"] <= budget
        assert len(classical.encode(Image.fromarray(ref), fmt, k["quality"] + 1)) > budget  # the highest that fits
        assert k["media_type"] == fmt.media_type and read(data).format == fmt.pillow
        assert k["psnr"] == pytest.approx(psnr(ref, np.asarray(read(data).convert("RGB"))), abs=1e-9)


def test_a_budget_below_the_smallest_file_gives_the_smallest_marked_nearest(web_server: Running) -> None:
    with web_server.client() as c:
        doc = c.post("/compare?model=mnist-codec-q1&formats=jpeg", content=png(DIGIT), headers=IMG).json()
    (jpeg,) = doc["classical"]
    assert doc["learned"]["bytes"] < 60  # a digit in ~30 bytes: no JPEG header fits
    assert jpeg["nearest"] and jpeg["quality"] == 1 and jpeg["bytes"] > doc["learned"]["bytes"]
    assert jpeg["bytes"] == len(classical.encode(Image.fromarray(DIGIT), classical.FORMATS["jpeg"], 1))


def test_bad_requests_are_problem_documents(web_server: Running) -> None:
    with web_server.client() as c:
        detail = _problem(c.post("/compare?formats=jpeg,gif", content=png(DIGIT), headers=IMG), 422, "unknown-format")
        assert "'jpeg,gif'" in detail and "jpeg, webp" in detail
        _problem(c.post("/compare?formats=jpeg,jpeg", content=png(DIGIT), headers=IMG), 422, "unknown-format")
        detail = _problem(c.post("/compare?model=nope", content=png(DIGIT), headers=IMG), 404, "unknown-model")
        assert "mnist-codec-q1" in detail
        detail = _problem(
            c.post("/compare?model=mnist-codec-q1", content=png(CIFAR[0]), headers=IMG), 422, "wrong-size"
        )
        assert "28x28" in detail
        _problem(c.post("/compare", content=b"not an image", headers=IMG), 422, "not-an-image")
        text = {"Content-Type": "text/plain"}
        _problem(c.post("/compare", content=b"x", headers=text), 415, "unsupported-media-type")
        files = [("files", ("a.png", png(DIGIT), "image/png"))] * 2
        _problem(c.post("/compare?model=mnist-ae", files=files), 422, "one-image-only")
        _problem(c.post("/compare?model=mnist-ae&bits=1", content=png(DIGIT), headers=IMG), 422, "invalid-parameter")
        assert c.get("/healthz").status_code == 200


def test_the_compare_pixel_limit_is_checked_from_the_header() -> None:
    big = png(np.zeros((300, 400, 3), np.uint8))
    with serve(SHIPPED, max_compare_pixels=100_000) as s, s.client() as c:
        detail = _problem(c.post("/compare?model=cifar-codec-q1", content=big, headers=IMG), 422, "image-too-large")
        assert "400x300" in detail and "100000" in detail
        assert c.post("/encode?model=cifar-codec-q1", content=big, headers=IMG).status_code == 200


def test_openapi_documents_compare(web_server: Running) -> None:
    with web_server.client() as c:
        schema = c.get("/openapi.json").json()
    op = schema["paths"]["/compare"]["post"]
    assert {p["name"] for p in op["parameters"]} == {"model", "formats", "bits", "resize", "quality", "max_bytes"}
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Comparison"}
    props = schema["components"]["schemas"]["Comparison"]["properties"]
    assert {"learned", "classical", "png_bytes"} <= set(props)
    assert {"401", "404", "413", "415", "422"} <= set(op["responses"])
    assert "image/*" in op["requestBody"]["content"]
    assert "/" not in schema["paths"] and not any(p.startswith("/static") for p in schema["paths"])


def test_quality_measures() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    assert psnr(a, a) == 100.0 and ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(float) - b) ** 2)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse))
    assert ssim(a, 255 - a) < 0 < ssim(a, b) < 1
    noisy = np.clip(a.astype(int) + rng.normal(0, 25, a.shape), 0, 255).astype(np.uint8)
    # scikit-image 0.26: structural_similarity(a, noisy, gaussian_weights=True, sigma=1.5,
    # use_sample_covariance=False, data_range=255, channel_axis=-1)
    assert ssim(a, noisy) == pytest.approx(0.9485209470677113, abs=1e-12)
    with pytest.raises(ValueError, match="different shapes"):
        psnr(a, a[:10])


def test_the_page_loads_without_a_key_and_the_api_still_needs_one() -> None:
    with serve(SHIPPED, api_keys=["k"]) as s, s.client() as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        for asset in ("app.js", "app.css", "digit.png"):
            assert c.get(f"/static/{asset}").status_code == 200
        head = c.head("/")
        assert (
            head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == len(page.content)
        )
        etag = c.get("/static/app.js").headers["etag"]
        assert c.get("/static/app.js", headers={"If-None-Match": etag}).status_code == 304
        for outside in ("/static/..%2F..%2Fmain.py", "/static/__init__.py", "/static/nope.js"):
            assert c.get(outside).status_code == 404
        _problem(c.post("/compare", content=png(DIGIT), headers=IMG), 401, "unauthorized")
        ok = c.post("/compare?model=mnist-ae", content=png(DIGIT), headers=IMG | {"Authorization": "Bearer k"})
        assert ok.status_code == 200


def test_compare_chooses_the_model_encode_would(web_server: Running) -> None:
    picture = png(np.kron(CIFAR[2], np.ones((2, 2, 1), np.uint8)))  # 64x64 colour: not a digit
    with web_server.client() as c:
        doc = c.post("/compare?formats=jpeg", content=picture, headers=IMG).json()
        chosen = c.post("/encode", content=picture, headers=IMG).headers["x-aecodec-model"]
        digit = c.post("/compare?formats=jpeg", content=png(DIGIT), headers=IMG).json()
    assert doc["learned"]["model"] == chosen and chosen != "mnist-ae"
    assert digit["learned"]["model"] == "mnist-ae"


def test_a_sideways_tagged_photo_is_compared_upright_with_its_profile(web_server: Running) -> None:
    upright = photo(128, 96)
    body = sideways_jpeg(upright, 6, icc_profile=display_p3())
    with web_server.client() as c:
        doc = c.post("/compare?formats=jpeg,webp", content=body, headers={"Content-Type": "image/jpeg"}).json()
    assert (doc["width"], doc["height"], doc["orientation_applied"]) == (128, 96, 6)
    assert 0 < doc["icc_profile_bytes"] < len(display_p3()) and doc["alpha"] is False
    assert read(base64.b64decode(doc["learned"]["image"])).info["icc_profile"] == display_p3()
    for k in doc["classical"]:  # every file shows the same colours: the same profile
        assert read(base64.b64decode(k["image"])).info["icc_profile"] == display_p3(), k["format"]
    assert doc["learned"]["psnr"] > 25


def test_transparency_is_carried_by_the_payload_and_by_webp_not_jpeg(web_server: Running) -> None:
    rgba = soft_edged_rgba(120, 80)
    with web_server.client() as c:
        doc = c.post("/compare?formats=jpeg,webp", content=png(rgba), headers=IMG).json()
    assert doc["alpha"] is True and doc["mode"] == "RGB"
    learned = read(base64.b64decode(doc["learned"]["image"]))
    assert learned.mode == "RGBA" and np.array_equal(np.asarray(learned)[..., 3], rgba[..., 3])
    jpeg, webp = doc["classical"]
    assert jpeg["alpha"] is False and read(base64.b64decode(jpeg["image"])).mode == "RGB"
    assert webp["alpha"] is True and read(base64.b64decode(webp["image"])).mode == "RGBA"
