"""POST /compare: one image through a learned model, beside JPEG/WebP/AVIF files of the same number of bytes.

The learned side takes the same trip as ``/encode`` then ``/decode`` (the one pipeline), so its payload,
decoded PNG and figures are exactly what those two give. Every codec is measured against the same
reference: the uploaded image, upright, in the model's colour mode (L or RGB) at its own size. An image's
ICC profile is embedded in every file, as the payload carries it; its alpha channel is carried by the
payload, WebP and AVIF, not by JPEG; PSNR and SSIM measure the colour channels. A variable-rate model takes
``quality`` or ``max_bytes`` as /encode does: with ``max_bytes`` every codec is held to one budget, the
learned payload being the best that fits it and each classical file the best that fits the payload.
"""

from __future__ import annotations

import base64
import io
import time
from typing import Annotated

import numpy as np
from aecodec_wire import inspect, quality
from aecodec_wire.quantize import MAX_BITS, MIN_BITS
from aecodec_wire.uniform_codec import DEFAULT_BITS
from fastapi import APIRouter, Query, Request
from PIL import Image
from pydantic import BaseModel, Field

from .. import openapi
from ..choice import choose_and_read
from ..core.errors import ApiError, echo
from ..deps import ModelName, ServiceDep
from ..rate import MAX_BYTES, rate_for
from ..runtime import classical
from ..runtime.errors import BadImage
from ..runtime.imaging import pixels

router = APIRouter(tags=["codec"])
_BODY = openapi.request_body("One image file (any format Pillow reads)", "image/*", "application/octet-stream")
_ERRORS = (401, 404, 413, 415, 422, 503)


class Measured(BaseModel):
    bytes: int = Field(description="size of the compressed file or payload")
    bpp: float = Field(description="bits per pixel: 8 * bytes / (width * height)")
    psnr: float = Field(description="dB on 8-bit pixels against the reference; capped at 100 (an exact copy)")
    ssim: float = Field(description="mean SSIM (11x11 Gaussian window, sigma 1.5), mean over channels")
    image: str = Field(description="base64 of the reconstruction as a file the browser shows")


class Learned(Measured):
    model: str
    version: str
    payload: str = Field(description="base64 of the payload, exactly what POST /encode returns")
    quality: float | None = Field(default=None, description="variable-rate models: the quality coded at")
    encode_ms: float = Field(description="time of the encode trip (image decoding, encoder, entropy coding)")
    decode_ms: float = Field(description="time of the decode trip (entropy decoding, decoder, PNG)")


class Classical(Measured):
    format: str = Field(description="jpeg, webp or avif")
    media_type: str
    quality: int = Field(description="Pillow's quality setting that produced the file")
    nearest: bool = Field(description="true when even the lowest quality is larger than the payload")
    alpha: bool = Field(description="true when the file holds the image's alpha channel (JPEG cannot)")


class Comparison(BaseModel):
    width: int
    height: int
    mode: str = Field(description="colour mode of the reference: L or RGB (the model's)")
    png_bytes: int = Field(description="size of the image as a PNG (Pillow, optimize=True; alpha and profile kept)")
    orientation_applied: int = Field(description="the EXIF orientation applied to the upload (1: none)")
    alpha: bool = Field(description="the image has transparency, carried losslessly by the payload")
    icc_profile_bytes: int = Field(description="bytes of the payload holding the image's ICC profile (0: none)")
    learned: Learned
    classical: list[Classical] = Field(description="one per requested format, in the requested order")


def _formats(raw: str) -> list[classical.Format]:
    words = [w.strip().lower() for w in raw.split(",") if w.strip()]
    unknown = [w for w in words if w not in classical.FORMATS]
    if unknown or len(set(words)) != len(words):
        raise ApiError(
            422,
            f"query parameter 'formats': {echo(raw)} is not a comma-separated list of distinct formats from: "
            f"{', '.join(classical.FORMATS)}",
            kind="unknown-format",
        )
    return [classical.FORMATS[w] for w in words]


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """The size an image's header declares (None when Pillow cannot read it: the pipeline says why)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None


def _measure(ref: np.ndarray, data: bytes, mode: str) -> dict:
    got, _ = pixels(data, mode, max_pixels=ref.size)
    return {
        "bytes": len(data),
        "bpp": 8 * len(data) / (ref.shape[0] * ref.shape[1]),
        "psnr": quality.psnr(ref, got),
        "ssim": quality.ssim(ref, got),
    }


def _classical(
    ref: np.ndarray, mode: str, alpha: np.ndarray | None, icc: bytes, formats: list[classical.Format], budget: int
) -> tuple[int, list]:
    """The reference as a PNG (its size), and each format's file at the budget, with alpha where it fits."""
    img = Image.fromarray(ref, mode)
    with_alpha = img
    if alpha is not None:
        with_alpha = img.convert(mode + "A")
        with_alpha.putalpha(Image.fromarray(alpha, "L"))
    png = io.BytesIO()
    with_alpha.save(png, format="PNG", optimize=True, **({"icc_profile": icc} if icc else {}))
    out = []
    for fmt in formats:
        keeps = fmt.alpha and alpha is not None
        fitted = classical.fit(with_alpha if keeps else img, fmt, budget, icc)
        out.append(
            Classical(
                format=fmt.name,
                media_type=fmt.media_type,
                quality=fitted.quality,
                nearest=fitted.nearest,
                alpha=keeps,
                image=base64.b64encode(fitted.data).decode(),
                **_measure(ref, fitted.data, mode),
            )
        )
    return len(png.getvalue()), out


@router.post(
    "/compare",
    response_model=Comparison,
    openapi_extra=_BODY,
    responses={code: openapi.PROBLEM for code in _ERRORS},
)
async def compare(
    request: Request,
    svc: ServiceDep,
    model: ModelName = None,
    formats: Annotated[str, Query(description="comma-separated classical formats: jpeg, webp, avif")] = "jpeg,webp",
    bits: Annotated[
        int, Query(ge=MIN_BITS, le=MAX_BITS, description="bits per latent value (models with a choice)")
    ] = DEFAULT_BITS,
    resize: Annotated[bool, Query(description="resize to a fixed-size model's input instead of refusing")] = False,
    quality: Annotated[
        float | None, Query(ge=1, description="variable-rate models: the quality, 1 to K (as /encode)")
    ] = None,
    max_bytes: Annotated[
        int | None,
        Query(ge=1, le=MAX_BYTES, description="variable-rate models: the best payload of at most this many bytes"),
    ] = None,
) -> Comparison:
    """Compress an image with a model and with classical codecs at the same number of bytes, and measure each.

    Each classical file is the largest that fits in the payload's bytes (binary search over quality);
    when even the lowest quality is larger, the smallest is returned with `nearest: true`."""
    fmts = _formats(formats)
    rt, items = await choose_and_read(request, "encode", model)  # the model /encode would use
    if "decode" not in rt.endpoints:
        raise ApiError(422, f"model {rt.name!r} cannot decode its payloads to compare", kind="unsupported-by-model")
    if items.batch:
        raise ApiError(422, "/compare takes one image as the request body, not a batch", kind="one-image-only")
    data = items.blobs[0]
    size, limit = _declared_size(data), svc.settings.max_compare_pixels
    if size is not None and size[0] * size[1] > limit:
        raise BadImage(
            f"image declares {size[0]}x{size[1]} = {size[0] * size[1]} pixels; /compare takes at most {limit} "
            "(AECODEC_MAX_COMPARE_PIXELS); /encode takes larger ones",
            kind="image-too-large",
        )

    rate = rate_for(rt, quality, max_bytes)
    t0 = time.perf_counter()
    encoded = await svc.pipeline.encode(
        rt, [data], bits=bits, resize=resize, batch=False, quality=rate.quality, max_bytes=rate.max_bytes
    )
    t1 = time.perf_counter()
    payload = encoded[0].payload
    decoded = (await svc.pipeline.decode(svc.registry, [payload], fmt="PNG", batch=False))[0]
    t2 = time.perf_counter()

    mode = "L" if rt.manifest.input.channels == 1 else "RGB"
    icc = decoded.extras.icc_profile  # what the payload carries (none when it does not describe the image)

    def measure_all() -> tuple[np.ndarray, dict, int, list[Classical]]:
        ref, opened = pixels(data, mode, max_pixels=limit)
        png_bytes, others = _classical(ref, mode, opened.extras.alpha, icc, fmts, len(payload))
        ours = _measure(ref, decoded.image, mode)  # the decoded PNG's pixels; its size is the payload's
        ours["bytes"], ours["bpp"] = len(payload), 8 * len(payload) / (ref.shape[0] * ref.shape[1])
        return ref, ours, png_bytes, others

    work = (size[0] * size[1] if size else len(data)) * (1 + len(fmts))  # small images: no thread hop
    ref, ours, png_bytes, others = await svc.pipeline.offload(work, measure_all)
    return Comparison(
        width=ref.shape[1],
        height=ref.shape[0],
        mode=mode,
        png_bytes=png_bytes,
        orientation_applied=encoded[0].intake.orientation,
        alpha=decoded.extras.alpha is not None,
        icc_profile_bytes=inspect(payload).icc_profile_bytes,
        learned=Learned(
            model=rt.name,
            version=rt.version,
            payload=base64.b64encode(payload).decode(),
            image=base64.b64encode(decoded.image).decode(),
            quality=encoded[0].quality,
            encode_ms=(t1 - t0) * 1000,
            decode_ms=(t2 - t1) * 1000,
            **ours,
        ),
        classical=others,
    )
