"""POST /denoise: noisy image(s) -> cleaned image(s) through a denoising autoencoder."""

from __future__ import annotations

import base64

from aecodec_wire.v1 import api_pb2
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import openapi
from ..bodies import IMAGE_BATCH, PROTOBUF, read_images
from ..core.errors import ApiError, echo
from ..core.negotiate import negotiate
from ..deps import MODEL_PARAM, RESIZE_PARAM, openapi_param, query_bool, query_str, resolve_model, service
from ..runtime.imaging import FORMATS
from ..runtime.sessions import ModelRuntime

router = APIRouter(tags=["models"])
SIGMA_PARAM = openapi_param(
    "sigma",
    {"type": "number", "minimum": 0, "maximum": 255},
    "the noise level if known (standard deviation on 0-255 pixels); omitted: estimated from the image. "
    "Any-size denoisers only. A denoiser with a noise gate in its manifest returns an image whose level is below "
    "the gate's threshold (denoise-any: 4.75) unchanged, without running the model",
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
        json_schema=openapi.DECODE_JSON,
        errors=(400, 401, 404, 406, 413, 415, 422, 503),
    ),
)
async def denoise(request: Request) -> Response:
    """Clean images with a denoising model (encoder then decoder, unquantised)."""
    svc = service(request)
    model, resize = query_str(request, "model"), query_bool(request, "resize")
    rt = resolve_model(request, svc.registry, model, "denoise")
    sigma = _sigma(request, rt)
    svc.pipeline.admit(rt)  # a full model is refused now, before the body is read
    items = await read_images(request, svc.settings.max_batch_items)
    answer = negotiate(request.headers.get("accept"), BATCH if items.batch else SINGLE)
    images = await svc.pipeline.denoise(
        rt, items.blobs, resize=resize, fmt=FORMATS.get(answer, "PNG"), batch=items.batch, sigma=sigma
    )
    headers = {"X-Aecodec-Model": rt.name, "X-Aecodec-Model-Version": rt.version}
    if answer == "application/json":
        docs = [{"model": rt.name, "version": rt.version, "image": base64.b64encode(i).decode()} for i in images]
        return JSONResponse({"items": docs} if items.batch else docs[0], headers=headers)
    if items.batch:
        return Response(api_pb2.ImageBatch(images=images).SerializeToString(), media_type=IMAGE_BATCH, headers=headers)
    return Response(images[0], media_type=answer, headers=headers)


def _sigma(request: Request, rt: ModelRuntime) -> float | None:
    """The ``sigma`` query parameter: a number in [0, 255], for a model that takes a noise level."""
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
    if rt.manifest.input.fixed_size:
        raise ApiError(
            422,
            f"model {rt.name!r} does not take a noise level; leave out sigma, or use an any-size denoiser "
            "(GET /models)",
            kind="unsupported-by-model",
        )
    return value
