"""Classical codecs at a byte budget: the largest JPEG, WebP or AVIF file that fits in N bytes.

The settings are those of the rate-distortion benchmark (benchmarks/rate_distortion.py): JPEG with
optimised Huffman tables, WebP at method 6, AVIF at Pillow's defaults. File size grows with quality
for all three, so a binary search over quality finds the largest file within the budget in about
seven encodes; when even the lowest quality is larger, the smallest file is returned, marked nearest.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, features


@dataclass(frozen=True)
class Format:
    name: str  # the query word: jpeg, webp, avif
    pillow: str
    media_type: str
    lowest: int  # Pillow's quality range
    highest: int
    alpha: bool  # whether the format stores an alpha channel
    options: dict[str, Any] = field(default_factory=dict)


_ALL = (
    Format("jpeg", "JPEG", "image/jpeg", 1, 100, False, {"optimize": True}),
    Format("webp", "WEBP", "image/webp", 0, 100, True, {"method": 6}),
    Format("avif", "AVIF", "image/avif", 0, 100, True),
)
# the allow-list: what this Pillow build can write
FORMATS = {f.name: f for f in _ALL if f.name == "jpeg" or features.check(f.name)}


@dataclass(frozen=True)
class Fitted:
    format: Format
    quality: int
    data: bytes
    nearest: bool  # even the lowest quality is larger than the budget: this is the smallest file


def encode(img: Image.Image, fmt: Format, quality: int, icc_profile: bytes = b"") -> bytes:
    """``img`` as a ``fmt`` file at ``quality``, embedding ``icc_profile`` when given."""
    buf = io.BytesIO()
    icc = {"icc_profile": icc_profile} if icc_profile else {}
    img.save(buf, format=fmt.pillow, quality=quality, **fmt.options, **icc)
    return buf.getvalue()


def fit(img: Image.Image, fmt: Format, budget: int, icc_profile: bytes = b"") -> Fitted:
    """The highest quality whose file is at most ``budget`` bytes (else the lowest quality, nearest)."""
    tried: dict[int, bytes] = {}
    lo, hi, best = fmt.lowest, fmt.highest, None
    while lo <= hi:
        q = (lo + hi) // 2
        tried[q] = encode(img, fmt, q, icc_profile)
        if len(tried[q]) <= budget:
            best, lo = q, q + 1
        else:
            hi = q - 1
    if best is not None:
        return Fitted(fmt, best, tried[best], nearest=False)
    q = fmt.lowest
    return Fitted(fmt, q, tried[q] if q in tried else encode(img, fmt, q, icc_profile), nearest=True)
