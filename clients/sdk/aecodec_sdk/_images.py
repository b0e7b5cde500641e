"""Turning whatever the caller holds into request bytes, and answers back into images."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

# Everything the SDK accepts as "an image": a path, encoded file bytes, a PIL image or an array.
ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Image.Image, np.ndarray]
PayloadInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
)


def sniff_content_type(data: bytes) -> str:
    """A Content-Type from the file's magic bytes; the service decodes by content anyway."""
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def array_to_image(array: np.ndarray) -> Image.Image:
    """uint8 HxW or HxWxC (C in 1, 3, 4) -> PIL image; other dtypes are refused, not guessed."""
    if array.dtype != np.uint8:
        raise TypeError(f"image arrays must be uint8 (0-255), got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(array), mode="L")
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return Image.fromarray(np.ascontiguousarray(array), mode="RGB" if array.shape[2] == 3 else "RGBA")
    raise ValueError(f"image arrays must be HxW or HxWxC with C in (1, 3, 4), got shape {array.shape}")


_ORIENTATION = 0x0112  # EXIF tag


def image_to_png(image: Image.Image) -> bytes:
    """A PIL image as PNG, keeping what the service honours: its ICC profile (Pillow writes ``info``'s) and
    its EXIF orientation (an image opened from a phone JPEG is still sideways: the service turns it)."""
    exif = image.getexif()
    turned = {"exif": exif.tobytes()} if exif.get(_ORIENTATION, 1) != 1 else {}
    buf = io.BytesIO()
    image.save(buf, format="PNG", **turned)
    return buf.getvalue()


def save_image(image: Image.Image, path: str | os.PathLike[str]) -> None:
    """Save in the format of the file's suffix with the image's ICC profile (Pillow writes it to PNG by itself,
    to JPEG and WebP only when told)."""
    icc = image.info.get("icc_profile")
    image.save(path, **({"icc_profile": icc} if icc else {}))


def image_bytes(image: ImageInput) -> bytes:
    """Encoded image file bytes for any accepted input; files are sent as they are, unre-encoded."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, (str, os.PathLike)):
        return Path(image).read_bytes()
    if isinstance(image, Image.Image):
        return image_to_png(image)
    if isinstance(image, np.ndarray):
        return image_to_png(array_to_image(image))
    raise TypeError(f"expected a path, bytes, a PIL image or a numpy array, got {type(image).__name__}")


def payload_bytes(payload: PayloadInput) -> bytes:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, (str, os.PathLike)):
        return Path(payload).read_bytes()
    raise TypeError(f"expected payload bytes or a path to a payload file, got {type(payload).__name__}")


def open_image(data: bytes) -> Image.Image:
    """Bytes -> a fully loaded PIL image (so nothing refers back to the buffer)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def grid(images: list[Image.Image], columns: int | None = None) -> Image.Image:
    """Tile images (all of one size) into one sheet, row by row."""
    if not images:
        raise ValueError("no images to tile")
    columns = columns or max(1, int(np.ceil(np.sqrt(len(images)))))
    rows = -(-len(images) // columns)
    w, h = images[0].size
    sheet = Image.new(images[0].mode, (columns * w, rows * h))
    for i, im in enumerate(images):
        sheet.paste(im, ((i % columns) * w, (i // columns) * h))
    return sheet
