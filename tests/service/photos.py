"""Real image files as phones and web sites send them, made with Pillow: EXIF orientation, ICC profiles, alpha.

``display_p3()`` builds a Display P3 ICC profile (v4, matrix + parametric curves, as Apple's 536-byte one):
Pillow can only create sRGB, Lab and XYZ profiles, and a test of "the colours stay right" needs one that
is not sRGB.
"""

from __future__ import annotations

import io
import struct
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms

ORIENTATION = 0x0112  # EXIF tag
# what a viewer does with each orientation to show the stored pixels upright
UPRIGHT = {6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _mluc(text: str) -> bytes:
    s = text.encode("utf-16-be")
    return b"mluc\0\0\0\0" + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(s), 28) + s


def display_p3() -> bytes:
    """A Display P3 profile: P3 primaries, D65 white (adapted to D50), the sRGB tone curve."""
    curve = (
        b"para\0\0\0\0"
        + struct.pack(">HH", 3, 0)
        + b"".join(_s15(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    )
    chad = b"sf32\0\0\0\0" + b"".join(
        _s15(v) for v in (1.047882, 0.022919, -0.050201, 0.029587, 0.990479, -0.017059, -0.009232, 0.015076, 0.751678)
    )
    tags = [
        (b"desc", _mluc("Display P3")),
        (b"cprt", _mluc("CC0")),
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _xyz(0.515121, 0.241196, -0.001053)),
        (b"gXYZ", _xyz(0.291977, 0.692245, 0.041885)),
        (b"bXYZ", _xyz(0.157104, 0.066574, 0.784073)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"chad", chad),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data, placed = b"", b"", {}
    for sig, body in tags:
        if body not in placed:  # the three curves share one copy, as in Apple's profile
            placed[body] = offset + len(data)
            data += body + b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", placed[body], len(body))
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + bytes([4, 0x30, 0, 0])  # version 4.3
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)  # perceptual
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


@lru_cache(maxsize=1)
def srgb() -> bytes:
    """Pillow's (littleCMS's) sRGB profile, 588 bytes; made once (its header holds the time it was made)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth colour picture with some texture (codecs keep it recognisable), (height, width, 3) uint8."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    base = np.stack(
        [
            128 + 100 * np.sin(x / 37 + 1),
            128 + 100 * np.cos(y / 29),
            128 + 90 * np.sin((x + y) / 53),
        ],
        axis=-1,
    )
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


def file_bytes(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def sideways_jpeg(upright: np.ndarray, orientation: int, **options: object) -> bytes:
    """A JPEG storing ``upright`` turned, with the EXIF Orientation that tells a viewer to turn it back."""
    stored = Image.fromarray(upright).transpose(
        Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270
    )
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"  # Make: metadata that is dropped
    return file_bytes(stored, "JPEG", quality=95, exif=exif.tobytes(), **options)


def soft_edged_rgba(width: int, height: int) -> np.ndarray:
    """A cut-out: opaque disc, a 12-pixel soft edge, transparent outside, over a colour picture (H, W, 4)."""
    y, x = np.mgrid[0:height, 0:width]
    r = np.hypot(x - width / 2, y - height / 2)
    edge = min(width, height) / 3
    alpha = np.clip((edge - r) / 12 * 255, 0, 255).astype(np.uint8)
    return np.dstack([photo(width, height, 3), alpha])


def icc_of(data: bytes) -> bytes | None:
    with Image.open(io.BytesIO(data)) as img:
        return img.info.get("icc_profile")
