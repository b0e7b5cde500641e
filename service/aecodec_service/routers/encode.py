"""POST /encode: image(s) -> payload(s)."""

from __future__ import annotations

import base64

from aecodec_wire import inspect
from aecodec_wire.quantize import MAX_BITS, MIN_BITS
from aecodec_wire.uniform_codec import DEFAULT_BITS
from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import openapi
from ..bodies import PAYLOAD_BATCH, PROTOBUF
from ..choice import choose_and_read
from ..core.negotiate import negotiate
from ..deps import (
    MODEL_PARAM,
    RESIZE_PARAM,
    openapi_param,
    query_bool,
    query_float,
    query_int,
    query_opt_int,
    query_str,
    service,
)
from ..rate import MAX_BYTES, rate_for
from ..responses import intake_doc, intake_headers, items_response, model_headers, quality_headers
from ..runtime.pipeline import Encoded
from ..runtime.sessions import ModelRuntime

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
        openapi_param(
            "quality",
            {"type": "number", "minimum": 1},
            "variable-rate models: 1 (smallest) to K, their number of trained levels (the presets <model>-q1.."
            "<model>-qK); any value between, to a thousandth; default the middle preset",
        ),
        openapi_param(
            "max_bytes",
            {"type": "integer", "minimum": 1, "maximum": MAX_BYTES},
            "variable-rate models: the payload of the highest quality that is at most this many bytes (each "
            "image of a batch); 422 max-bytes-too-small when even quality 1 is larger",
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
    """Compress images into self-describing payloads (`application/x-protobuf`, or JSON with the latent).

    EXIF orientation is applied first (`X-Aecodec-Orientation-Applied`); an ICC profile and an alpha
    channel travel in the payload; other metadata is not carried (`X-Aecodec-Metadata-Dropped`)."""
    svc = service(request)
    model = query_str(request, "model")
    bits = query_int(request, "bits", DEFAULT_BITS, MIN_BITS, MAX_BITS)
    quality, max_bytes = query_float(request, "quality"), query_opt_int(request, "max_bytes", 1, MAX_BYTES)
    resize = query_bool(request, "resize")
    answer = negotiate(request.headers.get("accept"), [PROTOBUF, "application/json", "application/octet-stream"])
    rt, items = await choose_and_read(request, "encode", model)
    rate = rate_for(rt, quality, max_bytes)
    encoded = await svc.pipeline.encode(
        rt, items.blobs, bits=bits, resize=resize, batch=items.batch, quality=rate.quality, max_bytes=rate.max_bytes
    )
    observe = svc.metrics.payload_observer(rt.name)
    for e in encoded:
        observe(len(e.payload))
    headers = model_headers(rt) | intake_headers([e.intake for e in encoded]) | quality_headers(encoded)
    headers["X-Aecodec-Payload-Bytes"] = str(sum(len(e.payload) for e in encoded))
    blobs = [e.payload for e in encoded]
    return items_response(
        answer, items.batch, blobs, lambda: [_doc(rt, e, bits) for e in encoded], headers, PAYLOAD_BATCH
    )


def _doc(rt: ModelRuntime, e: Encoded, bits: int) -> dict:
    info = inspect(e.payload)
    return {
        "model": rt.name,
        "version": rt.version,
        "bits": bits if rt.codec.bit_depths else None,  # a codec model's rate is fixed by its training
        "payload": base64.b64encode(e.payload).decode(),
        "size": len(e.payload),
        "icc_profile_bytes": info.icc_profile_bytes,
        "alpha_bytes": info.alpha_bytes,
        "quality": e.quality,  # a variable-rate model's: the quality coded at (else null)
        **intake_doc(e.intake),
        "latent_shape": list(e.latent.shape),
        "latent": e.latent.tolist(),
    }
