"""POST /denoise: noisy image(s) -> cleaned image(s) through a denoising autoencoder."""

from __future__ import annotations

import base64

from aecodec_wire.v1 import api_pb2
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import openapi
from ..bodies import IMAGE_BATCH, PROTOBUF, read_images
from ..core.negotiate import negotiate
from ..deps import MODEL_PARAM, RESIZE_PARAM, query_bool, query_str, resolve_model, service
from ..runtime.imaging import FORMATS

router = APIRouter(tags=["models"])
_BODY = openapi.request_body(
    "One image file, or a batch: multipart parts named `files`, or an ImageBatch message",
    "image/*",
    "application/octet-stream",
    "multipart/form-data",
    PROTOBUF,
) | {"parameters": [MODEL_PARAM, RESIZE_PARAM]}
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
    svc.pipeline.admit(rt)  # a full model is refused now, before the body is read
    items = await read_images(request, svc.settings.max_batch_items)
    answer = negotiate(request.headers.get("accept"), BATCH if items.batch else SINGLE)
    images = await svc.pipeline.denoise(
        rt, items.blobs, resize=resize, fmt=FORMATS.get(answer, "PNG"), batch=items.batch
    )
    headers = {"X-Aecodec-Model": rt.name, "X-Aecodec-Model-Version": rt.version}
    if answer == "application/json":
        docs = [{"model": rt.name, "version": rt.version, "image": base64.b64encode(i).decode()} for i in images]
        return JSONResponse({"items": docs} if items.batch else docs[0], headers=headers)
    if items.batch:
        return Response(api_pb2.ImageBatch(images=images).SerializeToString(), media_type=IMAGE_BATCH, headers=headers)
    return Response(images[0], media_type=answer, headers=headers)
