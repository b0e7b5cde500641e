"""Image conversion both ways: every uploaded mode becomes what it means; the PNG writer is exact."""

from __future__ import annotations

import io

import numpy as np
import pytest
from aecodec_service.runtime.errors import BadImage
from aecodec_service.runtime.imaging import (
    Prepared,
    encode_image,
    open_image,
    png_bytes,
    to_image_bytes,
    to_model_input,
)
from aecodec_wire.image_extras import Extras
from aecodec_wire.manifest import InputSpec
from PIL import Image, ImageCms, ImageOps

from .conftest import SHIPPED, Running

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


def _png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


GRAY = InputSpec(channels=1, range=(0.0, 1.0))
COLOUR = InputSpec(channels=3, range=(0.0, 1.0))


def _pixels(prepared: Prepared) -> np.ndarray:
    """The model input back as uint8 (H, W, C)."""
    return np.rint(prepared.x[0].transpose(1, 2, 0) * 255).astype(np.uint8)


def test_16_bit_grayscale_is_scaled_not_clipped() -> None:
    wide = (np.arange(48 * 40).reshape(40, 48) * 34).astype(np.uint16)  # 0 .. 65246
    prepared = to_model_input(_png(Image.fromarray(wide)), GRAY, max_pixels=1 << 20, resize=False)
    assert prepared.mode == "L"
    expected = np.rint(wide / 257.0)
    np.testing.assert_allclose(_pixels(prepared)[..., 0], expected, atol=1)
    # in a colour model the three channels carry the same scaled gray
    rgb = _pixels(to_model_input(_png(Image.fromarray(wide)), COLOUR, max_pixels=1 << 20, resize=False))
    np.testing.assert_allclose(rgb[..., 1], expected, atol=1)


@pytest.mark.parametrize("transparency", [False, True])
def test_palette_images_stay_colour(transparency: bool) -> None:
    rgb = RNG.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    pal = Image.fromarray(rgb).quantize(colors=16)
    colours = np.asarray(pal.convert("RGB"))
    data = _png(pal, transparency=0) if transparency else _png(pal)
    assert Image.open(io.BytesIO(data)).mode == "P"
    prepared = to_model_input(data, COLOUR, max_pixels=1 << 20, resize=False)
    assert prepared.mode == ("RGBA" if transparency else "RGB")  # restored as colour, never as gray
    np.testing.assert_array_equal(_pixels(prepared), colours)


@pytest.mark.parametrize(
    ("mode", "make", "payload_mode"),
    [
        ("1", lambda a: Image.fromarray(a[..., 0] > 127).convert("1"), "L"),
        ("LA", lambda a: Image.fromarray(a[..., :2], "LA"), "LA"),
        ("RGBA", lambda a: Image.fromarray(np.dstack([a, a[..., :1]]), "RGBA"), "RGBA"),
        ("CMYK", lambda a: Image.fromarray(a).convert("CMYK"), "RGB"),
    ],
)
def test_each_mode_means_what_it_says(mode: str, make: object, payload_mode: str) -> None:
    a = RNG.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    img: Image.Image = make(a)  # type: ignore[operator]
    buf = io.BytesIO()
    img.save(buf, format="TIFF" if mode == "CMYK" else "PNG")
    prepared = to_model_input(buf.getvalue(), COLOUR, max_pixels=1 << 20, resize=False)
    assert prepared.mode == payload_mode
    expected = np.asarray(img.convert("RGB"))
    np.testing.assert_array_equal(_pixels(prepared), expected)


def test_palette_png_comes_back_in_colour_over_http(shipped_server: Running) -> None:
    if not (SHIPPED / "cifar-conv" / "manifest.json").is_file():
        pytest.skip("cifar-conv is not shipped")
    yy, xx = np.mgrid[0:32, 0:32]
    rgb = np.stack([xx * 8, yy * 8, np.full_like(xx, 200)], -1).astype(np.uint8)
    pal = Image.fromarray(rgb).quantize(colors=64)
    with shipped_server.client() as c:
        payload = c.post("/encode?model=cifar-conv", content=_png(pal), headers={"Content-Type": "image/png"})
        back = Image.open(io.BytesIO(c.post("/decode", content=payload.content).content))
    assert back.mode == "RGB"
    out = np.asarray(back).astype(int)
    assert np.abs(out[..., 2] - out[..., 0]).mean() > 40  # blue stays blue: not collapsed to gray


@pytest.mark.parametrize("data", [b"GIF89a" + b"\0" * 30, b"not an image at all", None])
def test_image_errors_say_what_is_wrong_without_internals(data: bytes | None) -> None:
    if data is None:  # a PNG cut in its pixel data
        data = _png(Image.fromarray(RNG.integers(0, 256, (64, 64), dtype=np.uint8)))[:200]
    with pytest.raises(BadImage) as exc:
        to_model_input(data, GRAY, max_pixels=1 << 20, resize=False)
    detail = exc.value.detail
    assert "expected" in detail and "0x" not in detail and "object at" not in detail and "/" not in detail, detail


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_before_encoding(orientation: int) -> None:
    """The model sees what a viewer shows: Pillow's exif_transpose of the stored pixels, for each of the 8."""
    stored = Image.fromarray(RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _png(stored, exif=exif.tobytes())
    opened = open_image(data, max_pixels=1 << 20)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert opened.intake.orientation == orientation and opened.image.size == upright.size
    np.testing.assert_array_equal(np.asarray(opened.image), np.asarray(upright))
    prepared = to_model_input(data, COLOUR, max_pixels=1 << 20, resize=False)
    assert (prepared.width, prepared.height) == upright.size
    np.testing.assert_array_equal(_pixels(prepared), np.asarray(upright))


def test_a_fixed_size_model_checks_the_upright_size() -> None:
    spec = InputSpec(channels=1, height=20, width=30, range=(0.0, 1.0))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = Image.fromarray(RNG.integers(0, 256, (30, 20), dtype=np.uint8))  # 20x30 stored, 30x20 upright
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", exif=exif.tobytes())
    assert to_model_input(buf.getvalue(), spec, max_pixels=1 << 20, resize=False).width == 30
    with pytest.raises(BadImage, match="image is 20x30"):
        to_model_input(_png(stored), spec, max_pixels=1 << 20, resize=False)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
def test_a_damaged_exif_block_is_ignored_not_fatal() -> None:
    data = _png(Image.fromarray(RNG.integers(0, 256, (8, 8), dtype=np.uint8)), exif=b"Exif\0\0II*\0garbage")
    assert open_image(data, max_pixels=1 << 20).intake.orientation == 1


def test_to_image_bytes_puts_back_alpha_and_profile_on_every_path() -> None:
    y = RNG.uniform(0, 1, (3, 16, 24)).astype(np.float32)
    alpha = RNG.integers(0, 256, (16, 24), dtype=np.uint8)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    extras = Extras(icc, alpha)
    for fmt, mode in [("PNG", "RGBA"), ("WEBP", "RGBA"), ("JPEG", "RGB")]:
        data = to_image_bytes(y, (0.0, 1.0), width=24, height=16, mode="RGBA", fixed_size=False, fmt=fmt, extras=extras)
        img = Image.open(io.BytesIO(data))
        assert img.mode == mode and img.info["icc_profile"] == icc, fmt
        if fmt != "JPEG":  # JPEG has no alpha
            np.testing.assert_array_equal(np.asarray(img)[..., 3], alpha)
    grey = to_image_bytes(
        y[:1], (0.0, 1.0), width=20, height=16, mode="LA", fixed_size=False, extras=Extras(b"", alpha[:, :20])
    )
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(grey)))[..., 1], alpha[:, :20])
