"""The service's own PNG writer: every mode decodes (with Pillow) to exactly the pixels written."""

from __future__ import annotations

import io

import numpy as np
import pytest
from aecodec_service.runtime.imaging import encode_image, png_bytes, to_image_bytes
from PIL import Image

RNG = np.random.default_rng(3)


@pytest.mark.parametrize(
    ("shape", "mode"), [((28, 28), "L"), ((5, 9, 2), "LA"), ((7, 3, 3), "RGB"), ((1, 1, 4), "RGBA")]
)
def test_png_bytes_decodes_to_the_same_pixels(shape: tuple[int, ...], mode: str) -> None:
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    img = Image.open(io.BytesIO(png_bytes(pixels)))
    img.verify()  # checks every chunk's CRC
    img = Image.open(io.BytesIO(png_bytes(pixels)))
    assert img.format == "PNG" and img.mode == mode
    np.testing.assert_array_equal(np.asarray(img), pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_image(img)))), pixels)


def test_to_image_bytes_fast_and_pillow_paths_agree() -> None:
    y = RNG.uniform(-1, 1, (1, 28, 28)).astype(np.float32)
    fast = to_image_bytes(y, (-1.0, 1.0), width=28, height=28, mode="L", fixed_size=True)
    rgb = to_image_bytes(y, (-1.0, 1.0), width=28, height=28, mode="RGB", fixed_size=True)  # through Pillow
    a, b = np.asarray(Image.open(io.BytesIO(fast))), np.asarray(Image.open(io.BytesIO(rgb)))
    assert b.shape == (28, 28, 3)
    np.testing.assert_array_equal(b[..., 0], a)
