"""Response bodies shared by several routes: a list of images as a PNG grid, JSON or an ImageBatch."""

from __future__ import annotations

import base64

import numpy as np
from aecodec_wire.v1 import api_pb2
from fastapi.responses import JSONResponse, Response
from PIL import Image

from .bodies import IMAGE_BATCH, PROTOBUF
from .runtime.imaging import encode_image, grid

IMAGE_LIST = ["image/png", "application/json", PROTOBUF]  # what /sample and /interpolate answer with


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
