"""The shipped any-size denoiser through the real service: default /denoise model, odd sizes, greyscale, a
known noise level (``sigma``), large images in tiles without seams, and the seed's digit model still reachable.

``tests/fixtures/denoise_photo.png`` is a 160x120 centre crop of skimage-coffee, one of the photographs held
out from the denoiser's training.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aecodec_wire.quality import psnr

from .conftest import SHIPPED, Running, serve
from .helpers import denoise_whole, png, read

MODEL = "denoise-any"
PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "denoise_photo.png"
IMG = {"Content-Type": "image/png"}


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    if not (SHIPPED / MODEL / "manifest.json").is_file():
        pytest.skip(f"{MODEL} is not under models/")
    with serve(SHIPPED) as running:
        yield running


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(read(PHOTO.read_bytes()).convert("RGB"))


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(img + rng.standard_normal(img.shape) * sigma), 0, 255).astype(np.uint8)


def test_default_model_cleans_an_odd_sized_colour_photo(server: Running, photo: np.ndarray) -> None:
    clean = photo[:117, :159]  # odd height and width
    dirty = noisy(clean, 25)
    with server.client() as c:
        r = c.post("/denoise", content=png(dirty), headers=IMG)
    assert r.status_code == 200, r.text
    assert r.headers["X-Aecodec-Model"] == MODEL
    out = read(r.content)
    assert out.mode == "RGB" and out.size == (159, 117)
    before, after = psnr(dirty, clean), psnr(np.asarray(out), clean)
    assert after > before + 3, f"{after:.2f} dB vs noisy {before:.2f} dB"


def test_clean_photo_passes_nearly_unchanged(server: Running, photo: np.ndarray) -> None:
    with server.client() as c:
        r = c.post(f"/denoise?model={MODEL}", content=png(photo), headers=IMG)
    assert r.status_code == 200, r.text
    assert psnr(np.asarray(read(r.content)), photo) > 35


def test_greyscale_stays_greyscale_and_is_cleaned(server: Running, digits: tuple[np.ndarray, np.ndarray]) -> None:
    x = digits[0]
    sheet = np.concatenate([np.concatenate(list(x[r * 3 : r * 3 + 3]), axis=1) for r in range(3)], axis=0)
    clean = sheet[:83, :81]  # 83x81 grey, odd
    dirty = noisy(clean, 0.3 * 255)
    with server.client() as c:
        r = c.post(f"/denoise?model={MODEL}", content=png(dirty), headers=IMG)
    assert r.status_code == 200, r.text
    out = read(r.content)
    assert out.mode == "L" and out.size == (81, 83)
    before, after = psnr(dirty, clean), psnr(np.asarray(out), clean)
    assert after > before + 5, f"{after:.2f} dB vs noisy {before:.2f} dB"


def test_known_sigma_is_used_and_validated(server: Running, photo: np.ndarray) -> None:
    dirty = noisy(photo, 15, seed=1)
    with server.client() as c:
        told = c.post(f"/denoise?model={MODEL}&sigma=15", content=png(dirty), headers=IMG)
        assert told.status_code == 200, told.text
        assert psnr(np.asarray(read(told.content)), photo) > psnr(dirty, photo) + 2
        zero = c.post(f"/denoise?model={MODEL}&sigma=0", content=png(photo), headers=IMG)
        assert zero.status_code == 200 and psnr(np.asarray(read(zero.content)), photo) > 35
        for bad in ("-1", "255.5", "abc", "nan", "inf", ""):
            r = c.post(f"/denoise?model={MODEL}&sigma={bad}", content=png(dirty), headers=IMG)
            assert r.status_code == 422, (bad, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "sigma" in r.json()["detail"] and "0 to 255" in r.json()["detail"]
        r = c.post("/denoise?model=mnist-denoise&sigma=25", content=png(np.zeros((28, 28), np.uint8)), headers=IMG)
        assert r.status_code == 422 and "noise level" in r.json()["detail"]


def test_seed_digit_model_is_still_reachable(server: Running, digits: tuple[np.ndarray, np.ndarray]) -> None:
    digit = digits[0][0]
    with server.client() as c:
        r = c.post("/denoise?model=mnist-denoise", content=png(noisy(digit, 64)), headers=IMG)
    assert r.status_code == 200 and r.headers["X-Aecodec-Model"] == "mnist-denoise"
    assert read(r.content).size == (28, 28)


def test_large_image_runs_in_tiles_without_seams(photo: np.ndarray) -> None:
    if not (SHIPPED / MODEL / "manifest.json").is_file():
        pytest.skip(f"{MODEL} is not under models/")
    big = noisy(np.tile(photo, (5, 5, 1))[:596, :798], 25, seed=2)  # 798x596: several 192-pixel tiles
    with serve(SHIPPED) as small_tiles:
        small_tiles.app.state.service.pipeline.tile_px = 192
        with small_tiles.client() as c:
            r = c.post(f"/denoise?model={MODEL}", content=png(big), headers=IMG)
    assert r.status_code == 200, r.text
    tiled = np.asarray(read(r.content)).astype(int)
    diff = np.abs(tiled - denoise_whole(SHIPPED / MODEL, big))
    assert diff.max() <= 1, f"tiles differ from the whole-image run by up to {diff.max()} levels"
