"""What a payload carries beside the latent: the image's ICC profile and its alpha plane, both optional.

Either is written only when the image has it, so a payload without them is byte for byte what it was
before they existed (and an old payload reads as "no profile, opaque"). Both are zlib streams, and the
decoder checks each against its limit before any work proportional to it: the coded length against the
most zlib can make of the largest thing it may hold, then inflation stops at that size, so a small payload
cannot inflate into a large allocation. A profile holds at most ``MAX_ICC_BYTES`` and must declare its own
length and the colour space of the image's mode; an alpha plane holds exactly width x height bytes (the
width and height are already within the pixel limit: ``Geometry.check``).

A profile is deflated as PNG's iCCP chunk holds it (a 492-byte Display P3 profile takes 284). The alpha
plane is coded losslessly: a filter byte, then zlib (level 9) of the plane as is or of its "up"
differences (each byte minus the one above it, modulo 256), whichever is shorter: a hard-edged mask
compresses best as is, a soft edge (a gradient) as differences.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import CorruptPayload
from .payload import PB_TO_MODE, Code

MAX_ICC_BYTES = 1 << 16  # far above the ~0.5-3 KB of the RGB and grey profiles cameras and phones embed
ALPHA_MODES = ("RGBA", "LA")
ICC_SPACES = {"L": b"GRAY", "LA": b"GRAY", "RGB": b"RGB ", "RGBA": b"RGB "}  # an ICC header's bytes 16..20
_ICC_HEADER = 128
FILTER_NONE, FILTER_UP = 0, 1


@dataclass(frozen=True)
class Extras:
    """One image's profile and alpha plane, as the service hands them to a codec and gets them back."""

    icc_profile: bytes = b""  # empty: none (the image is taken as sRGB)
    alpha: np.ndarray | None = None  # (height, width) uint8; None: opaque


NONE = Extras()


def per_image(extras: Sequence[Extras] | None, n: int) -> Sequence[Extras]:
    """A codec's ``extras`` argument as one entry per image (None: no image has a profile or alpha)."""
    return [NONE] * n if extras is None else extras


def icc_problem(profile: bytes, mode: str) -> str | None:
    """Why ``profile`` cannot travel with an image of ``mode`` (L, LA, RGB, RGBA); None when it can."""
    if len(profile) > MAX_ICC_BYTES:
        return f"is {len(profile)} bytes; at most {MAX_ICC_BYTES} are carried"
    if len(profile) < _ICC_HEADER or int.from_bytes(profile[:4], "big") != len(profile):
        return "is not an ICC profile (its header does not declare its length)"
    space = profile[16:20]
    if space != ICC_SPACES[mode]:
        return f"describes {space.decode('latin-1').strip()!r} colour, not the {mode} image it is attached to"
    return None


def deflated_bound(n: int) -> int:
    """The longest zlib stream of ``n`` bytes: zlib's worst case (stored blocks), and then some."""
    return n + (n >> 10) + 64


def max_alpha_bytes(width: int, height: int) -> int:
    """The longest coded alpha plane of a width x height image (its filter byte included)."""
    return 1 + deflated_bound(width * height)


def _inflate(data: bytes, n: int, what: str) -> bytes:
    """A zlib stream that must inflate to at most ``n`` bytes; inflation stops there (no zip bomb)."""
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(data, n)
        extra = inflate.decompress(inflate.unconsumed_tail, 1)  # finishes the stream; any byte is one too many
    except zlib.error as exc:
        raise CorruptPayload(f"payload {what} cannot be decompressed ({exc})") from exc
    if extra or not inflate.eof or inflate.unused_data:
        raise CorruptPayload(f"payload {what} holds more than {n} bytes, or bytes after its zlib stream")
    return raw


def code_alpha(alpha: np.ndarray) -> bytes:
    """(H, W) uint8 -> filter byte + zlib stream, the shorter of the plane as is and its up differences."""
    up = alpha.copy()
    up[1:] -= alpha[:-1]  # uint8: modulo 256
    plain = bytes([FILTER_NONE]) + zlib.compress(alpha.tobytes(), 9)
    diff = bytes([FILTER_UP]) + zlib.compress(up.tobytes(), 9)
    return plain if len(plain) <= len(diff) else diff


def decode_alpha(data: bytes, width: int, height: int) -> np.ndarray:
    """The inverse of ``code_alpha``; refuses a stream that is not exactly width x height bytes."""
    if not data or data[0] not in (FILTER_NONE, FILTER_UP):
        raise CorruptPayload("payload alpha plane has an unknown filter; re-encode the image")
    raw = _inflate(data[1:], width * height, "alpha plane")
    if len(raw) != width * height:
        raise CorruptPayload(f"payload alpha plane does not hold exactly {width}x{height} values")
    plane = np.frombuffer(raw, dtype=np.uint8).reshape(height, width)
    return np.cumsum(plane, axis=0, dtype=np.uint8) if data[0] == FILTER_UP else plane


def decode_icc(data: bytes, mode: str) -> bytes:
    """A payload's deflated profile -> the profile, checked to fit an image of ``mode``."""
    profile = _inflate(data, MAX_ICC_BYTES, "ICC profile")
    why = icc_problem(profile, mode)
    if why is not None:
        raise CorruptPayload(f"payload ICC profile {why}")
    return profile


def write(code: Code, extras: Extras) -> None:
    """Set the optional fields (nothing for an image without a profile and alpha)."""
    if extras.icc_profile:
        code.icc_profile = zlib.compress(extras.icc_profile, 9)
    if extras.alpha is not None:
        code.alpha = code_alpha(extras.alpha)


def check(code: Code) -> None:
    """Refuse optional fields out of bounds before the latent is decoded: run after the width, height and
    mode are checked. A profile (at most 64 KiB) is inflated and checked here, an alpha plane only measured."""
    mode = PB_TO_MODE[code.mode]
    if code.icc_profile:
        if len(code.icc_profile) > deflated_bound(MAX_ICC_BYTES):
            raise CorruptPayload(f"payload ICC profile is {len(code.icc_profile)} bytes; at most {MAX_ICC_BYTES}")
        decode_icc(code.icc_profile, mode)
    if code.alpha:
        if mode not in ALPHA_MODES:
            raise CorruptPayload(f"payload has an alpha plane but its image mode is {mode}")
        limit = max_alpha_bytes(code.width, code.height)
        if len(code.alpha) > limit:
            raise CorruptPayload(
                f"payload alpha plane is {len(code.alpha)} bytes; a {code.width}x{code.height} image's takes at "
                f"most {limit}"
            )


def read(code: Code) -> Extras:
    """A checked, filled-in header's profile and alpha plane."""
    if not code.icc_profile and not code.alpha:
        return NONE
    profile = decode_icc(code.icc_profile, PB_TO_MODE[code.mode]) if code.icc_profile else b""
    alpha = decode_alpha(code.alpha, code.width, code.height) if code.alpha else None
    return Extras(profile, alpha)
