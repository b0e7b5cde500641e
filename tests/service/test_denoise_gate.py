"""The noise gate of the shipped any-size denoiser through the real service: a (nearly) clean image comes back
with its pixels unchanged, a noisy one is still cleaned (whole or in tiles alike, since the noise level is
estimated once on the whole image), and an erased patch on a digit is not made worse; the noise estimate
itself is checked against known noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aecodec_service.runtime.erasure import erased_rectangles
from aecodec_service.runtime.imaging import to_model_input
from aecodec_service.runtime.noise import KEEP, Plan, estimate_sigma, plans
from aecodec_wire import manifest as mf
from aecodec_wire.quality import psnr

from .conftest import SHIPPED, Running, serve
from .helpers import denoise_whole, png, read

MODEL = "denoise-any"
PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "denoise_photo.png"
IMG = {"Content-Type": "image/png"}


def shipped() -> mf.Manifest:
    if not (SHIPPED / MODEL / "manifest.json").is_file():
        pytest.skip(f"{MODEL} is not under models/")
    return mf.load(SHIPPED / MODEL, verify=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    shipped()
    folder = tmp_path_factory.mktemp("models")
    (folder / MODEL).symlink_to(SHIPPED / MODEL, target_is_directory=True)
    with serve(folder) as running:
        yield running


def synthetic(height: int = 240, width: int = 320) -> np.ndarray:
    """A photograph-like test card: smooth shading, a sharp-edged disc and fine texture, within 40-215 so
    that noise up to sigma 25 is rarely clipped."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 50 * np.sin(x / 23.0) * np.cos(y / 31.0)
    g = 90 + 0.3 * x + 20 * ((x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2)
    b = 110 + 0.25 * y + 12 * np.sin(x / 2.5) * np.sin(y / 3.5)
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 40, 215).astype(np.uint8)


def photo() -> np.ndarray:
    return np.asarray(read(PHOTO.read_bytes()).convert("RGB"))


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(img + rng.standard_normal(img.shape) * sigma), 0, 255).astype(np.uint8)


def levels(img: np.ndarray) -> np.ndarray:
    return img.transpose(2, 0, 1) if img.ndim == 3 else img


@pytest.mark.parametrize("sigma", [10.0, 25.0])
def test_noise_estimate_is_within_ten_percent(sigma: float) -> None:
    for seed in range(3):
        hat = estimate_sigma(levels(noisy(synthetic(), sigma, seed)))
        assert abs(hat - sigma) <= 0.1 * sigma, f"sigma_hat {hat:.2f} for true sigma {sigma}"
    assert estimate_sigma(levels(synthetic())) < 1.0  # the clean card itself reads as (nearly) noiseless


def test_noise_estimate_is_smooth_at_low_noise() -> None:
    """8-bit details are half-integers: without interpolating the median the estimate jumps in 0.74 steps."""
    hats = [estimate_sigma(levels(noisy(synthetic(), s, 1))) for s in np.arange(2.0, 6.01, 0.5)]
    steps = np.diff(hats)
    assert steps.min() > 0 and steps.max() < 0.74, hats


def test_old_manifest_without_a_gate_runs_every_image() -> None:
    gated = shipped()
    assert gated.noise_gate is not None
    old = gated.model_copy(update={"noise_gate": None})
    prepared = [to_model_input(png(synthetic()), old.input, max_pixels=1 << 22, resize=False)]
    assert plans(old, prepared, None) == [Plan(level=None)]
    assert plans(old, prepared, 1.0) == [Plan(level=1.0)]
    assert plans(gated, prepared, None) == [KEEP]
    assert plans(gated, prepared, gated.noise_gate.clean_below / 2) == [KEEP]
    assert plans(gated, prepared, 30.0) == [Plan(level=30.0)]


def test_only_isolated_black_rectangles_count_as_erased() -> None:
    img = synthetic()
    assert erased_rectangles(levels(img)) == []
    holed = img.copy()
    holed[10:26, 40:52] = 0  # 16x12
    holed[100:104, 200:204] = 0  # 4x4, the smallest
    holed[150:152, 10:30] = 0  # 2 rows: too thin
    assert erased_rectangles(levels(holed)) == [(10, 26, 40, 52), (100, 104, 200, 204)]
    holed[26, 52] = 0  # a black pixel touching a corner: no longer a patch on its own
    holed[50:60, 300:320] = 0  # on the border: still a patch
    assert erased_rectangles(levels(holed)) == [(50, 60, 300, 320), (100, 104, 200, 204)]
    black = img.copy()
    black[:, :100] = 0  # a black area as tall as the image: not a patch
    assert erased_rectangles(levels(black)) == []
    digit = np.zeros((28, 28), np.uint8)
    digit[8:20, 12:15] = 200
    digit[2:10, 2:10] = 0  # an erased square on a black background touches it
    assert erased_rectangles(digit) == []


@pytest.mark.parametrize("name", ["synthetic", "photo", "grey"])
def test_clean_image_comes_back_bit_identical(server: Running, name: str) -> None:
    img = {"synthetic": synthetic, "photo": photo, "grey": lambda: photo().mean(axis=2).astype(np.uint8)}[name]()
    img = img[:117, :159]  # odd sizes: the model's padding must not leak into the answer
    with server.client() as c:
        blind = c.post("/denoise", content=png(img), headers=IMG)
        told = c.post("/denoise?sigma=1", content=png(img), headers=IMG)
    for r in (blind, told):
        assert r.status_code == 200, r.text
        out = read(r.content)
        assert out.mode == ("L" if img.ndim == 2 else "RGB")
        assert np.array_equal(np.asarray(out), img), (
            f"changed by up to {np.abs(np.asarray(out) - img.astype(int)).max()}"
        )


def test_noisy_image_is_still_cleaned(server: Running) -> None:
    clean = photo()[:117, :159]
    dirty = noisy(clean, 25, seed=3)
    with server.client() as c:
        r = c.post("/denoise", content=png(dirty), headers=IMG)
    assert r.status_code == 200, r.text
    before, after = psnr(dirty, clean), psnr(np.asarray(read(r.content)), clean)
    assert after > before + 4, f"{after:.2f} dB vs noisy {before:.2f} dB"


def test_erased_patches_on_a_clean_photo_are_filled_in_and_nothing_else_changes(server: Running) -> None:
    clean = photo()
    erased = clean.copy()
    boxes = [(20, 36, 30, 46), (70, 82, 100, 116)]
    for top, bottom, left, right in boxes:
        erased[top:bottom, left:right] = 0
    with server.client() as c:
        r = c.post("/denoise", content=png(erased), headers=IMG)
    assert r.status_code == 200, r.text
    out = np.asarray(read(r.content))
    inside = np.zeros(clean.shape[:2], bool)
    for top, bottom, left, right in boxes:
        inside[top:bottom, left:right] = True
    assert np.array_equal(out[~inside], erased[~inside])  # bit-identical outside the patches
    before, after = psnr(erased, clean), psnr(out, clean)
    assert after > before + 6, f"{after:.2f} dB vs erased {before:.2f} dB"


def test_erased_patch_on_a_digit_is_not_made_worse(server: Running, digits: tuple[np.ndarray, np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    with server.client() as c:
        for digit in digits[0][:8]:
            erased = digit.copy()
            y, x = rng.integers(0, 21, size=2)
            erased[y : y + 8, x : x + 8] = 0
            r = c.post("/denoise", content=png(erased), headers=IMG)
            assert r.status_code == 200, r.text
            out = np.asarray(read(r.content))
            assert psnr(out, digit) >= psnr(erased, digit), f"{psnr(out, digit):.2f} vs {psnr(erased, digit):.2f} dB"


@pytest.mark.parametrize("sigma", [8.0, 25.0])
def test_tiles_are_gated_like_the_whole_image(sigma: float) -> None:
    """One estimate on the whole image decides for every tile: the tiled answer is the whole-image run with
    that level (told below the gate's ``estimate_below``, blind above)."""
    gate = shipped().noise_gate
    assert gate is not None
    big = noisy(np.tile(synthetic(120, 160), (5, 5, 1))[:596, :798], sigma, seed=2)  # several 192-pixel tiles
    hat = estimate_sigma(levels(big))
    assert hat >= gate.clean_below
    told = gate.estimate_below is not None and hat < gate.estimate_below
    with serve(SHIPPED) as small_tiles:
        small_tiles.app.state.service.pipeline.tile_px = 192
        with small_tiles.client() as c:
            r = c.post(f"/denoise?model={MODEL}", content=png(big), headers=IMG)
    assert r.status_code == 200, r.text
    tiled = np.asarray(read(r.content)).astype(int)
    diff = np.abs(tiled - denoise_whole(SHIPPED / MODEL, big, hat if told else None))
    assert diff.max() <= 1, f"tiles differ from the whole-image run by up to {diff.max()} levels"
    assert psnr(tiled.astype(np.uint8), big) < 99  # the model ran
