"""POST /denoise: noisy image(s) -> cleaned image(s) through a denoising autoencoder."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import openapi
from ..bodies import PROTOBUF
from ..choice import choose_and_read
from ..core.errors import ApiError, echo
from ..core.negotiate import negotiate
from ..deps import MODEL_PARAM, RESIZE_PARAM, openapi_param, query_bool, query_str, service
from ..responses import intake_doc, intake_headers, items_response, model_headers
from ..runtime.imaging import FORMATS
from ..runtime.sessions import ModelRuntime

router = APIRouter(tags=["models"])
SIGMA_PARAM = openapi_param(
    "sigma",
    {"type": "number", "minimum": 0, "maximum": 255},
    "the noise level if known (standard deviation on 0-255 pixels); omitted: estimated from the image. "
    "Any-size denoisers only. A denoiser with a noise gate in its manifest returns an image whose level is below "
    "the gate's threshold (its `noise_gate.clean_below`) unchanged, without running the model",
)
_BODY = openapi.request_body(
    "One image file, or a batch: multipart parts named `files`, or an ImageBatch message",
    "image/*",
    "application/octet-stream",
    "multipart/form-data",
    PROTOBUF,
) | {"parameters": [MODEL_PARAM, RESIZE_PARAM, SIGMA_PARAM]}
SINGLE = ["image/png", "image/webp", "image/jpeg", "application/json"]
BATCH = [PROTOBUF, "application/json"]


@router.post(
    "/denoise",
    response_class=Response,
    openapi_extra=_BODY,
    responses=openapi.responses(
        "The cleaned image (an ImageBatch for a batch request)",
        *SINGLE[:3],
        PROTOBUF,
        json_schema=openapi.DENOISE_JSON,
        errors=(400, 401, 404, 406, 413, 415, 422, 503),
    ),
)
async def denoise(request: Request) -> Response:
    """Clean images with a denoising model (encoder then decoder, unquantised); upright, with the input's ICC
    profile and alpha channel."""
    svc = service(request)
    model, resize, sigma = query_str(request, "model"), query_bool(request, "resize"), _sigma(request)
    rt, items = await choose_and_read(request, "denoise", model)
    _takes_sigma(rt, sigma)
    answer = negotiate(request.headers.get("accept"), BATCH if items.batch else SINGLE)
    fmt = FORMATS.get(answer, "PNG")
    images = await svc.pipeline.denoise(rt, items.blobs, resize=resize, fmt=fmt, batch=items.batch, sigma=sigma)
    headers = model_headers(rt) | intake_headers([i.intake for i in images])

    def docs() -> list[dict]:
        return [
            {
                "model": rt.name,
                "version": rt.version,
                **intake_doc(i.intake),
                "image": base64.b64encode(i.image).decode(),
            }
            for i in images
        ]

    return items_response(answer, items.batch, [i.image for i in images], docs, headers)


def _sigma(request: Request) -> float | None:
    """The ``sigma`` query parameter: a number in [0, 255]."""
    raw = query_str(request, "sigma")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 255.0:  # NaN fails too
        raise ApiError(
            422,
            f"query parameter 'sigma': Input should be a number from 0 to 255, the noise level on 8-bit pixels "
            f"(got {echo(raw)})",
            kind="invalid-parameter",
        )
    return value


def _takes_sigma(rt: ModelRuntime, sigma: float | None) -> None:
    """Only an any-size denoiser takes a noise level."""
    if sigma is not None and rt.manifest.input.fixed_size:
        raise ApiError(
            422,
            f"model {rt.name!r} does not take a noise level; leave out sigma, or use an any-size denoiser "
            "(GET /models)",
            kind="unsupported-by-model",
        )
