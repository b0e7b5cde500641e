"""Image bytes <-> model tensors. ``to_model_input`` is the only way in, ``to_image_bytes`` the only way out."""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from aecodec_wire.manifest import InputSpec
from PIL import Image, UnidentifiedImageError

from .errors import BadImage

Image.MAX_IMAGE_PIXELS = None  # we check the declared size ourselves, before any pixel is decoded
MODES = ("L", "RGB", "RGBA", "LA")
FORMATS = {"image/png": "PNG", "image/webp": "WEBP", "image/jpeg": "JPEG"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_ONLY = ("PNG",)


@dataclass(frozen=True)
class Prepared:
    """One image as the encoder wants it, and what is needed to restore the original."""

    x: np.ndarray  # (1, C, H, W) float32, padded to the model's pad multiple
    width: int  # original size and mode, written into the payload
    height: int
    mode: str


_WIDE_GRAY = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # 16-bit grayscale PNG/TIFF (Pillow's "I": 32-bit ints)


def _payload_mode(img: Image.Image) -> str:
    """The payload mode that restores this image best.

    Palette images are colour (RGB, or RGBA with transparency); bilevel, 16-bit and float images are
    grayscale (LA with transparency); CMYK, YCbCr, LAB and HSV are RGB."""
    if img.mode in MODES:
        return img.mode
    alpha = "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info
    if img.mode in ("P", "PA") or len(img.getbands()) > 2:
        return "RGBA" if alpha else "RGB"
    return "LA" if alpha else "L"


def _to_mode(img: Image.Image, target: str) -> Image.Image:
    """Convert to the model's L or RGB by what each mode means, not by Pillow's clipping defaults.

    16-bit grayscale spans 0..65535 (scaled to 0..255, not clipped at 255); a palette maps indices to
    colours (its transparency only affects alpha, which is dropped); everything else is Pillow's
    conversion (bilevel 0/1 -> 0/255, CMYK -> RGB, RGBA/LA drop alpha, RGB -> L by luma)."""
    if img.mode == target:
        return img
    if img.mode in _WIDE_GRAY:
        wide = np.asarray(img).astype(np.float64)
        gray = Image.fromarray(np.clip(np.rint(wide * (255.0 / 65535.0)), 0, 255).astype(np.uint8), "L")
        return gray if target == "L" else gray.convert(target)
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    return img.convert(target)


def to_model_input(data: bytes, spec: InputSpec, *, max_pixels: int, resize: bool, pad_mode: str = "edge") -> Prepared:
    """Decode an image file and turn it into the encoder's input: mode, size, padding, value range."""
    if not data:
        raise BadImage("empty image: expected an image file (PNG, JPEG, WebP, BMP, ...)", kind="not-an-image")
    try:
        # reads the header only; a PNG signature spares Pillow from asking every format plugin
        img: Image.Image = Image.open(io.BytesIO(data), formats=_PNG_ONLY if data[:8] == _PNG_SIGNATURE else None)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise BadImage(
            "not an image Pillow can read (unknown or damaged header); expected PNG, JPEG, WebP, BMP, ...",
            kind="not-an-image",
        ) from exc
    width, height = img.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise BadImage(
            f"image declares {width}x{height} = {width * height} pixels; at most {max_pixels} are accepted",
            kind="image-too-large",
        )
    if spec.fixed_size and (width, height) != (spec.width, spec.height) and not resize:
        raise BadImage(
            f"image is {width}x{height} but the model takes {spec.width}x{spec.height}; "
            "send that size or add resize=true",
            kind="wrong-size",
        )
    try:
        img.load()
        mode = _payload_mode(img)
        target = "L" if spec.channels == 1 else "RGB"
        img = _to_mode(img, target)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadImage(
            f"image data is truncated or corrupt ({_reason(exc)}); expected a complete image file", kind="corrupt-image"
        ) from exc
    if spec.fixed_size and (width, height) != (spec.width, spec.height):
        assert spec.width is not None and spec.height is not None
        img = img.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    pixels = np.frombuffer(img.tobytes(), dtype=np.uint8).reshape(img.height, img.width, -1).transpose(2, 0, 1)
    m = spec.pad_multiple
    pad_h, pad_w = -pixels.shape[1] % m, -pixels.shape[2] % m
    if pad_h or pad_w:
        mode_ = pad_mode if min(pixels.shape[1:]) > max(pad_h, pad_w) else "edge"  # reflect needs room
        pixels = np.pad(pixels, ((0, 0), (0, pad_h), (0, pad_w)), mode=mode_)  # type: ignore[call-overload]
    x = _scale_table(*spec.range)[pixels]  # (C, H, W) float32, contiguous
    return Prepared(x[None], width, height, mode)


def _reason(exc: BaseException) -> str:
    """The decoder's own words, without object reprs or paths, and short."""
    text = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>|(/[^\s/]+)+", "...", str(exc) or type(exc).__name__)
    return text[:200]


@lru_cache(maxsize=16)
def _scale_table(lo: float, hi: float) -> np.ndarray:
    """uint8 pixel p -> lo + (hi - lo) * p / 255 in float32, the same arithmetic as scaling the array."""
    return np.arange(256, dtype=np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)


def to_pixels(y: np.ndarray, output_range: tuple[float, float]) -> np.ndarray:
    """(C, H, W) decoder output -> (H, W) or (H, W, C) uint8."""
    lo, hi = output_range
    u8 = np.clip(np.rint((y - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
    return u8[0] if u8.shape[0] == 1 else u8.transpose(1, 2, 0)


def to_image_bytes(
    y: np.ndarray,
    output_range: tuple[float, float],
    *,
    width: int,
    height: int,
    mode: str,
    fixed_size: bool,
    fmt: str = "PNG",
) -> bytes:
    """Decoder output of one image -> an image file at the original size and mode."""
    pixels = to_pixels(y, output_range)
    if fmt == "PNG" and (pixels.shape[1], pixels.shape[0]) == (width, height) and mode == _PIXEL_MODE[pixels.ndim]:
        return png_bytes(pixels)  # the common case: nothing to resize, crop or convert
    img = Image.fromarray(pixels)
    if img.size != (width, height):
        # a fixed-size model was fed a resized image: size it back; an any-size model's padding is cropped
        img = img.resize((width, height), Image.Resampling.BILINEAR) if fixed_size else img.crop((0, 0, width, height))
    if mode != img.mode and mode in MODES:
        img = img.convert(mode)
    return encode_image(img, fmt)


_PIXEL_MODE = {2: "L", 3: "RGB"}
_PNG_COLOR_TYPE = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


def png_bytes(pixels: np.ndarray) -> bytes:
    """(H, W) or (H, W, C) uint8 -> PNG: 8-bit, no filter, zlib level 1.

    Pillow's encoder costs ~100 us for a 28x28 digit (adaptive filtering, plugin
    machinery); this costs ~10 us and decodes to the same pixels.
    """
    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    color_type = (0, 4, 2, 6)[channels - 1]
    rows = np.zeros((h, 1 + w * channels), dtype=np.uint8)  # each row starts with filter type 0
    rows[:, 1:] = pixels.reshape(h, w * channels)
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + _chunk(b"IEND", b"")
    )


def encode_image(img: Image.Image, fmt: str = "PNG") -> bytes:
    if fmt == "PNG" and img.mode in _PNG_COLOR_TYPE:
        return png_bytes(np.asarray(img))
    if fmt == "JPEG" and img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"compress_level": 1} if fmt == "PNG" else {"quality": 90}))
    return buf.getvalue()


def grid(pixels: list[np.ndarray], columns: int) -> Image.Image:
    """Tile equally sized uint8 images row by row."""
    h, w = pixels[0].shape[:2]
    rows = -(-len(pixels) // columns)
    shape = (rows * h, columns * w, *pixels[0].shape[2:])
    canvas = np.zeros(shape, dtype=np.uint8)
    for i, p in enumerate(pixels):
        r, c = divmod(i, columns)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = p
    return Image.fromarray(canvas)
