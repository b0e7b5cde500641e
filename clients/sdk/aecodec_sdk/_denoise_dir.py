"""The request behind ``aecodec denoise-dir``: one photograph of any size and mode through /denoise.

The folder mechanics (bounded concurrency, progress bar, atomic writes, resume by skipping finished
outputs, failures listed and turned into exit code 1) are ``_jobs.run_job``'s. What a folder of real
photographs needs on top, done here on the client so the service stays a pure image-in, image-out call:

- transparency survives: the model sees the colour (or grey) bands, and the input's alpha band is put back
  on the cleaned image (the service answers without alpha);
- camera orientation survives: a JPEG whose EXIF says "rotate" is sent upright, because the PNG written
  for it carries no EXIF and would otherwise show turned;
- a known noise level (``sigma``, 0-255) is passed on; without it the service's model estimates it.

Anything else is sent byte for byte, so the service decodes it once and a broken file gets the service's
own explanation in the failure list.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageOps, UnidentifiedImageError

from ._base import raw
from ._client import AsyncClient
from ._jobs import IMAGE_SUFFIXES, JobKind

_ORIENTATION = 0x0112  # EXIF tag


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)


def prepare(data: bytes) -> tuple[bytes, Image.Image | None]:
    """The bytes to send and the alpha band to put back afterwards (None: send ``data`` as it is)."""
    try:
        img = Image.open(io.BytesIO(data))
        turned = img.getexif().get(_ORIENTATION, 1) not in (1, None)
        if not turned and not _has_alpha(img):
            return data, None
        alpha = img.convert("RGBA").getchannel("A") if _has_alpha(img) else None
        upright = ImageOps.exif_transpose(img)
        alpha = ImageOps.exif_transpose(alpha.copy()) if alpha is not None and turned else alpha
        grey = img.mode in ("L", "LA", "La", "1", "I", "I;16")
        buf = io.BytesIO()
        upright.convert("L" if grey else "RGB").save(buf, format="PNG", compress_level=1)
        return buf.getvalue(), alpha
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return data, None  # the service says what is wrong with it


def put_alpha(image: bytes, alpha: Image.Image) -> bytes:
    """The cleaned image with the original alpha band (RGB -> RGBA, L -> LA), as PNG."""
    with Image.open(io.BytesIO(image)) as img:
        out = img.convert("LA" if img.mode == "L" else "RGBA")
    out.putalpha(alpha)
    buf = io.BytesIO()
    out.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def denoise_job(model: str | None, sigma: float | None = None) -> JobKind:
    """Each image -> a PNG of the same size and mode (alpha included) under OUT_DIR."""

    async def work(client: AsyncClient, data: bytes) -> bytes:
        body, alpha = await asyncio.to_thread(prepare, data)
        call = client._denoise(body, model, sigma)
        # keep the service's PNG bytes as they are: no decode and re-encode on this side unless alpha returns
        result = await client._send(raw(call))
        return result if alpha is None else await asyncio.to_thread(put_alpha, result, alpha)

    return JobKind("denoise", IMAGE_SUFFIXES, ".png", work)
