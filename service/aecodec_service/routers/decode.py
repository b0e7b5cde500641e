"""POST /decode: payload(s) -> image(s) at the original size and mode."""

from __future__ import annotations

import base64

from aecodec_wire.v1 import api_pb2
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import openapi
from ..bodies import IMAGE_BATCH, PROTOBUF, read_payloads
from ..core.negotiate import negotiate
from ..deps import service
from ..runtime.imaging import FORMATS

router = APIRouter(tags=["codec"])
_BODY = openapi.request_body(
    "One payload from /encode, or a batch: a PayloadBatch message (`application/x-protobuf; "
    "messageType=aecodec.wire.v1.PayloadBatch`) or multipart parts named `files`",
    PROTOBUF,
    "application/octet-stream",
    "multipart/form-data",
)
SINGLE = ["image/png", "image/webp", "image/jpeg", "application/json"]
BATCH = [PROTOBUF, "application/json"]


@router.post(
    "/decode",
    response_class=Response,
    openapi_extra=_BODY,
    responses=openapi.responses(
        "The image (an ImageBatch of PNGs for a batch request)",
        *SINGLE[:3],
        PROTOBUF,
        json_schema=openapi.DECODE_JSON,
        errors=(400, 401, 406, 409, 413, 415, 422, 503),
    ),
)
async def decode(request: Request) -> Response:
    """Restore images from payloads; the payload names its model, so no `model` parameter is needed."""
    svc = service(request)
    accept = request.headers.get("accept")
    items = await read_payloads(request, svc.settings.max_batch_items)
    answer = negotiate(accept, BATCH if items.batch else SINGLE)
    fmt = FORMATS.get(answer, "PNG")
    decoded = await svc.pipeline.decode(svc.registry, items.blobs, fmt=fmt, batch=items.batch)
    first = decoded[0].model
    request.state.model = first.name
    headers = {"X-Aecodec-Model": first.name, "X-Aecodec-Model-Version": first.version}
    if answer == "application/json":
        docs = [
            {
                "model": d.model.name,
                "version": d.model.version,
                "width": d.width,
                "height": d.height,
                "mode": d.mode,
                "image": base64.b64encode(d.image).decode(),
            }
            for d in decoded
        ]
        return JSONResponse({"items": docs} if items.batch else docs[0], headers=headers)
    if items.batch:
        return Response(
            api_pb2.ImageBatch(images=[d.image for d in decoded]).SerializeToString(),
            media_type=IMAGE_BATCH,
            headers=headers,
        )
    return Response(decoded[0].image, media_type=answer, headers=headers)
