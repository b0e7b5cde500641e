"""Response bodies and headers shared by the routes: one builder per shape, so the routes cannot drift apart.

``items_response`` answers /encode, /decode and /denoise: the one item as it is, a batch as a protobuf
batch message, or JSON documents (built only when asked for). ``image_list_response`` answers /sample and
/interpolate: a PNG grid, JSON or an ImageBatch.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

import numpy as np
from aecodec_wire.v1 import api_pb2
from fastapi.responses import JSONResponse, Response
from PIL import Image

from .bodies import IMAGE_BATCH, PAYLOAD_BATCH, PROTOBUF
from .runtime.imaging import Intake, encode_image, grid
from .runtime.pipeline import Encoded
from .runtime.sessions import ModelRuntime

IMAGE_LIST = ["image/png", "application/json", PROTOBUF]  # what /sample and /interpolate answer with
JSON = "application/json"


def model_headers(rt: ModelRuntime) -> dict[str, str]:
    return {"X-Aecodec-Model": rt.name, "X-Aecodec-Model-Version": rt.version}


def intake_headers(intakes: Sequence[Intake]) -> dict[str, str]:
    """What reading the images did: the EXIF orientation applied to each (1: none), in order, and the
    metadata that was not carried (when any)."""
    headers = {"X-Aecodec-Orientation-Applied": ", ".join(str(i.orientation) for i in intakes)}
    dropped = sorted({d for i in intakes for d in i.dropped})
    if dropped:
        headers["X-Aecodec-Metadata-Dropped"] = ", ".join(dropped)
    return headers


def quality_headers(encoded: Sequence[Encoded]) -> dict[str, str]:
    """A variable-rate model's: the quality each payload was coded at (a batch lists them in order)."""
    if not encoded or encoded[0].quality is None:
        return {}
    return {"X-Aecodec-Quality": ", ".join(f"{e.quality:g}" for e in encoded)}


def intake_doc(intake: Intake) -> dict:
    return {"orientation_applied": intake.orientation, "metadata_dropped": list(intake.dropped)}


def items_response(
    answer: str,
    batch: bool,
    blobs: list[bytes],
    docs: Callable[[], list[dict]],
    headers: dict[str, str],
    batch_media: str = IMAGE_BATCH,
) -> Response:
    """One item's bytes as ``answer``; a batch as ``batch_media`` (an ImageBatch, or a PayloadBatch); or, for
    JSON, ``docs()``: one object, or ``{"items": [...]}`` for a batch."""
    if answer == JSON:
        found = docs()
        return JSONResponse({"items": found} if batch else found[0], headers=headers)
    if not batch:
        return Response(blobs[0], media_type=answer, headers=headers)
    message = api_pb2.PayloadBatch(payloads=blobs) if batch_media == PAYLOAD_BATCH else api_pb2.ImageBatch(images=blobs)
    return Response(message.SerializeToString(), media_type=batch_media, headers=headers)


def image_list_response(
    pixels: list[np.ndarray], answer: str, headers: dict[str, str], meta: dict, columns: int
) -> Response:
    """Several images as one PNG grid, as a JSON list of base64 PNGs, or as an ImageBatch."""
    if answer == "image/png":
        return Response(encode_image(grid(pixels, columns)), media_type="image/png", headers=headers)
    pngs = [encode_image(Image.fromarray(p)) for p in pixels]
    if answer == PROTOBUF:
        return Response(api_pb2.ImageBatch(images=pngs).SerializeToString(), media_type=IMAGE_BATCH, headers=headers)
    return JSONResponse(meta | {"images": [base64.b64encode(p).decode() for p in pngs]}, headers=headers)
