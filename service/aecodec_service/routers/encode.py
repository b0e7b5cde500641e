"""POST /encode: image(s) -> payload(s)."""

from __future__ import annotations

import base64

from aecodec_wire.quantize import MAX_BITS, MIN_BITS
from aecodec_wire.uniform_codec import DEFAULT_BITS
from aecodec_wire.v1 import api_pb2
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import openapi
from ..bodies import PAYLOAD_BATCH, PROTOBUF, read_images
from ..core.negotiate import negotiate
from ..deps import (
    MODEL_PARAM,
    RESIZE_PARAM,
    default_encode_model,
    default_photo_model,
    openapi_param,
    query_bool,
    query_int,
    query_str,
    resolve_model,
    service,
)

router = APIRouter(tags=["codec"])
_BODY = openapi.request_body(
    "One image file (any format Pillow reads), or a batch: multipart parts named `files`, or an ImageBatch message",
    "image/*",
    "application/octet-stream",
    "multipart/form-data",
    PROTOBUF,
) | {
    "parameters": [
        MODEL_PARAM,
        openapi_param(
            "bits",
            {"type": "integer", "minimum": MIN_BITS, "maximum": MAX_BITS, "default": DEFAULT_BITS},
            "bits per latent value before entropy coding",
        ),
        RESIZE_PARAM,
    ]
}


@router.post(
    "/encode",
    response_class=Response,
    openapi_extra=_BODY,
    responses=openapi.responses(
        "The payload (a PayloadBatch for a batch request)",
        PROTOBUF,
        json_schema=openapi.ENCODE_JSON,
        errors=(400, 401, 404, 406, 413, 415, 422, 503),
    ),
)
async def encode(request: Request) -> Response:
    """Compress images into self-describing payloads (`application/x-protobuf`, or JSON with the latent)."""
    svc = service(request)
    model = query_str(request, "model")
    bits = query_int(request, "bits", DEFAULT_BITS, MIN_BITS, MAX_BITS)
    resize = query_bool(request, "resize")
    answer = negotiate(request.headers.get("accept"), [PROTOBUF, "application/json", "application/octet-stream"])
    if model is None:  # the default depends on the image, so every model it could pick must have room now
        for name in {svc.settings.default_model, default_photo_model(svc.registry, svc.settings)}:
            candidate = svc.registry.get(name) if name else None
            if candidate is not None:
                svc.pipeline.admit(candidate)
        items = await read_images(request, svc.settings.max_batch_items)
        chosen = default_encode_model(svc.registry, svc.settings, items.blobs[0])
        rt = resolve_model(request, svc.registry, chosen, "encode")
        svc.pipeline.admit(rt)
    else:
        rt = resolve_model(request, svc.registry, model, "encode")
        svc.pipeline.admit(rt)  # a full model is refused now, before the body is read
        items = await read_images(request, svc.settings.max_batch_items)
    encoded = await svc.pipeline.encode(rt, items.blobs, bits=bits, resize=resize, batch=items.batch)
    observe = svc.metrics.payload_observer(rt.name)
    for e in encoded:
        observe(len(e.payload))
    headers = {
        "X-Aecodec-Model": rt.name,
        "X-Aecodec-Model-Version": rt.version,
        "X-Aecodec-Payload-Bytes": str(sum(len(e.payload) for e in encoded)),
    }
    if answer == "application/json":
        docs = [
            {
                "model": rt.name,
                "version": rt.version,
                "bits": bits if rt.codec.bit_depths else None,  # a codec model's rate is fixed by its training
                "payload": base64.b64encode(e.payload).decode(),
                "size": len(e.payload),
                "latent_shape": list(e.latent.shape),
                "latent": e.latent.tolist(),
            }
            for e in encoded
        ]
        return JSONResponse({"items": docs} if items.batch else docs[0], headers=headers)
    if items.batch:
        body = api_pb2.PayloadBatch(payloads=[e.payload for e in encoded]).SerializeToString()
        return Response(body, media_type=PAYLOAD_BATCH, headers=headers)
    return Response(encoded[0].payload, media_type=answer, headers=headers)
