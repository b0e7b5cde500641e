"""Image bytes <-> model tensors. ``open_image`` is the only way an image file is read (upright, with its
profile and alpha); ``to_model_input`` turns it into the encoder's input; ``to_image_bytes`` is the only way out.

What a sender saw is what is encoded: EXIF orientation is applied, and the image's ICC profile and alpha
plane travel beside its pixels (``Extras``), to be put back on the way out. Other metadata (the rest of EXIF,
XMP, comments, text chunks) is not carried; ``Intake.dropped`` names what an image had of it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from aecodec_wire import image_extras
from aecodec_wire.image_extras import Extras
from aecodec_wire.manifest import InputSpec
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadImage
from .png import COLOR_TYPE, SIGNATURE, png_bytes

Image.MAX_IMAGE_PIXELS = None  # we check the declared size ourselves, before any pixel is decoded
MODES = ("L", "RGB", "RGBA", "LA")
FORMATS = {"image/png": "PNG", "image/webp": "WEBP", "image/jpeg": "JPEG"}
_PNG_ONLY = ("PNG",)
_ORIENTATION = 0x0112  # EXIF tag: how to turn the stored pixels to show them upright
_TURNS = (5, 6, 7, 8)  # orientations that swap width and height
_DROPPED_KEYS = (("exif", "exif"), ("xmp", "xmp"), ("XML:com.adobe.xmp", "xmp"), ("comment", "comment"))


@dataclass(frozen=True)
class Intake:
    """What reading an image did beyond its pixels, for the response to say."""

    orientation: int = 1  # the EXIF orientation applied (1: none)
    dropped: tuple[str, ...] = ()  # metadata the image had and the payload does not carry


AS_SENT = Intake()  # nothing turned, nothing dropped


@dataclass(frozen=True)
class Opened:
    """An image file decoded upright, and what travels beside its pixels."""

    image: Image.Image  # loaded, upright, in the file's own Pillow mode
    mode: str  # the payload mode that restores it: L, LA, RGB or RGBA
    extras: Extras  # ICC profile and alpha plane (None when wholly opaque)
    intake: Intake


@dataclass(frozen=True)
class Prepared:
    """One image as the encoder wants it, and what is needed to restore the original."""

    x: np.ndarray  # (1, C, H, W) float32, padded to the model's pad multiple
    width: int  # original (upright) size and mode, written into the payload
    height: int
    mode: str
    extras: Extras = image_extras.NONE
    intake: Intake = AS_SENT


_WIDE_GRAY = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # 16-bit grayscale PNG/TIFF (Pillow's "I": 32-bit ints)


def _payload_mode(img: Image.Image, alpha: bool) -> str:
    """The payload mode that restores this image best.

    Palette images are colour; bilevel, 16-bit and float images are grayscale; CMYK, YCbCr, LAB and HSV are
    RGB; an image with transparency (an alpha band, a palette's or a colour key's) gets an alpha band."""
    if img.mode in MODES and not (alpha and img.mode in ("L", "RGB")):
        return img.mode
    base = "RGB" if img.mode in ("P", "PA") or len(img.getbands()) > 2 else "L"
    return base + "A" if alpha else base


def _to_mode(img: Image.Image, target: str) -> Image.Image:
    """Convert to the model's L or RGB by what each mode means, not by Pillow's clipping defaults.

    16-bit grayscale spans 0..65535 (scaled to 0..255, not clipped at 255); a palette maps indices to
    colours (its transparency only affects alpha, which travels apart); everything else is Pillow's
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


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (2..8), or 1; read only where a format keeps EXIF, and a damaged EXIF is ignored."""
    if "exif" not in img.info and img.format != "TIFF":
        return 1
    try:
        value = img.getexif().get(_ORIENTATION, 1)
    except Exception:  # EXIF is metadata: a damaged block says nothing about the pixels
        return 1
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def _alpha(img: Image.Image) -> np.ndarray | None:
    """The image's alpha plane (its alpha band, a palette's or a colour key's transparency); None when opaque."""
    if img.mode in ("RGBA", "LA"):
        band = img.getchannel("A")
    elif "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info:
        band = img.convert("RGBA").getchannel("A")
    else:
        return None
    plane = np.asarray(band)
    return None if plane.min() == 255 else plane


def _profile(img: Image.Image, mode: str) -> tuple[bytes, bool]:
    """(the ICC profile to carry, whether one was dropped because it does not describe the payload's mode)."""
    icc = img.info.get("icc_profile") or b""
    if not icc:
        return b"", False
    if len(icc) > image_extras.MAX_ICC_BYTES:
        raise BadImage(
            f"the image's ICC profile is {len(icc)} bytes; at most {image_extras.MAX_ICC_BYTES} are carried: "
            "convert the image to sRGB or strip the profile",
            kind="icc-profile-too-large",
        )
    return (b"", True) if image_extras.icc_problem(icc, mode) else (icc, False)


def open_image(data: bytes, *, max_pixels: int, size: tuple[int, int] | None = None) -> Opened:
    """Decode an image file upright (EXIF orientation applied), with its ICC profile and alpha plane.

    The declared size is checked against ``max_pixels`` (and against ``size``, a fixed-size model's, when
    given) from the header, before any pixel is decoded."""
    if not data:
        raise BadImage("empty image: expected an image file (PNG, JPEG, WebP, BMP, ...)", kind="not-an-image")
    try:
        # reads the header only; a PNG signature spares Pillow from asking every format plugin
        img: Image.Image = Image.open(io.BytesIO(data), formats=_PNG_ONLY if data[:8] == SIGNATURE else None)
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
    _check_size(img.size, _orientation(img), size)  # JPEG and WebP keep EXIF in the header
    try:
        img.load()
        orientation = _orientation(img)  # a PNG may keep its eXIf chunk after the pixels
        _check_size(img.size, orientation, size)
        if orientation != 1:
            img = ImageOps.exif_transpose(img)
        alpha = _alpha(img)
        mode = _payload_mode(img, alpha is not None)
        icc, icc_dropped = _profile(img, mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadImage(
            f"image data is truncated or corrupt ({_reason(exc)}); expected a complete image file", kind="corrupt-image"
        ) from exc
    dropped = {name for key, name in _DROPPED_KEYS if img.info.get(key)}
    if icc_dropped:
        dropped.add("icc-profile")
    extras = Extras(icc, alpha) if icc or alpha is not None else image_extras.NONE
    return Opened(img, mode, extras, Intake(orientation, tuple(sorted(dropped))))


def _check_size(stored: tuple[int, int], orientation: int, size: tuple[int, int] | None) -> None:
    width, height = stored[::-1] if orientation in _TURNS else stored
    if size is not None and (width, height) != size:
        raise BadImage(
            f"image is {width}x{height} but the model takes {size[0]}x{size[1]}; send that size or add resize=true",
            kind="wrong-size",
        )


def pixels(data: bytes, mode: str, *, max_pixels: int) -> tuple[np.ndarray, Opened]:
    """An image file's upright pixels in ``mode`` (L or RGB: what quality is measured on), and the rest."""
    opened = open_image(data, max_pixels=max_pixels)
    return np.asarray(_to_mode(opened.image, mode)), opened


def to_model_input(data: bytes, spec: InputSpec, *, max_pixels: int, resize: bool, pad_mode: str = "edge") -> Prepared:
    """Decode an image file and turn it into the encoder's input: mode, size, padding, value range."""
    native = (spec.width, spec.height) if spec.width and spec.height else None
    opened = open_image(data, max_pixels=max_pixels, size=None if resize else native)
    img = opened.image
    width, height = img.size
    try:
        img = _to_mode(img, "L" if spec.channels == 1 else "RGB")
    except (OSError, ValueError) as exc:
        raise BadImage(f"image cannot be converted ({_reason(exc)})", kind="corrupt-image") from exc
    if native is not None and (width, height) != native:
        img = img.resize(native, Image.Resampling.BILINEAR)
    pixels = np.frombuffer(img.tobytes(), dtype=np.uint8).reshape(img.height, img.width, -1).transpose(2, 0, 1)
    m = spec.pad_multiple
    pad_h, pad_w = -pixels.shape[1] % m, -pixels.shape[2] % m
    if pad_h or pad_w:
        mode_ = pad_mode if min(pixels.shape[1:]) > max(pad_h, pad_w) else "edge"  # reflect needs room
        pixels = np.pad(pixels, ((0, 0), (0, pad_h), (0, pad_w)), mode=mode_)  # type: ignore[call-overload]
    x = _scale_table(*spec.range)[pixels]  # (C, H, W) float32, contiguous
    return Prepared(x[None], width, height, opened.mode, opened.extras, opened.intake)


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
    extras: Extras = image_extras.NONE,
) -> bytes:
    """Decoder output of one image -> an image file at the original size and mode, with its profile and alpha."""
    pixels = to_pixels(y, output_range)
    colour = mode.removesuffix("A") if mode in MODES else _PIXEL_MODE[pixels.ndim]
    if (pixels.shape[1], pixels.shape[0]) != (width, height) or colour != _PIXEL_MODE[pixels.ndim]:
        img = Image.fromarray(pixels)
        if img.size != (width, height):
            # a fixed-size model was fed a resized image: size it back; an any-size model's padding is cropped
            if fixed_size:
                img = img.resize((width, height), Image.Resampling.BILINEAR)
            else:
                img = img.crop((0, 0, width, height))
        pixels = np.asarray(img.convert(colour))
    if mode != colour:  # the alpha band: the payload's plane, or opaque (an old payload, an opaque image)
        alpha = extras.alpha if extras.alpha is not None else np.full((height, width), 255, np.uint8)
        pixels = np.dstack([pixels, alpha])
    if fmt == "PNG":
        return png_bytes(pixels, extras.icc_profile)  # the common case: no Pillow
    return encode_image(Image.fromarray(pixels), fmt, extras.icc_profile)


_PIXEL_MODE = {2: "L", 3: "RGB"}
_SAVE = {"PNG": {"compress_level": 1}, "JPEG": {"quality": 90}, "WEBP": {"quality": 90}}
# what each format stores of L, LA, RGB, RGBA: JPEG has no alpha, WebP no grey
_STORED = {"JPEG": {"LA": "L", "RGBA": "RGB"}, "WEBP": {"L": "RGB", "LA": "RGBA"}}


def encode_image(img: Image.Image, fmt: str = "PNG", icc_profile: bytes = b"") -> bytes:
    """An image file; ``icc_profile`` is embedded where it describes the stored colours (JPEG keeps no alpha)."""
    if fmt == "PNG" and img.mode in COLOR_TYPE:
        return png_bytes(np.asarray(img), icc_profile)
    stored = _STORED.get(fmt, {}).get(img.mode, img.mode if img.mode in MODES else "RGB")
    if stored != img.mode:
        img = img.convert(stored)
    options: dict[str, object] = dict(_SAVE.get(fmt, {}))
    if icc_profile and image_extras.icc_problem(icc_profile, stored) is None:
        options["icc_profile"] = icc_profile
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
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
