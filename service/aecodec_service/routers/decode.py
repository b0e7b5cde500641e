"""POST /decode: payload(s) -> image(s) at the original size and mode."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import openapi
from ..bodies import PROTOBUF, read_payloads
from ..core.negotiate import negotiate
from ..deps import service
from ..responses import items_response, model_headers
from ..runtime.imaging import FORMATS
from ..runtime.pipeline import Decoded

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
    """Restore images from payloads; the payload names its model, so no `model` parameter is needed.

    The image comes back at its original size and mode, with the ICC profile and alpha channel its payload
    carries (a JPEG answer has no alpha)."""
    svc = service(request)
    items = await read_payloads(request, svc.settings.max_batch_items)
    answer = negotiate(request.headers.get("accept"), BATCH if items.batch else SINGLE)
    decoded = await svc.pipeline.decode(svc.registry, items.blobs, fmt=FORMATS.get(answer, "PNG"), batch=items.batch)
    request.state.model = decoded[0].model.name
    blobs = [d.image for d in decoded]
    return items_response(
        answer, items.batch, blobs, lambda: [_doc(d) for d in decoded], model_headers(decoded[0].model)
    )


def _doc(d: Decoded) -> dict:
    return {
        "model": d.model.name,
        "version": d.model.version,
        "width": d.width,
        "height": d.height,
        "mode": d.mode,
        "icc_profile_bytes": len(d.extras.icc_profile),
        "alpha": d.extras.alpha is not None,
        "image": base64.b64encode(d.image).decode(),
    }
