"""POST /interpolate: images along the line between two images' latent means (VAE)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import openapi
from ..bodies import PROTOBUF, read_images
from ..choice import resolve
from ..core.errors import ApiError
from ..core.negotiate import negotiate
from ..deps import ModelName, ServiceDep
from ..responses import IMAGE_LIST, image_list_response, model_headers

router = APIRouter(tags=["generative"])
_BODY = openapi.request_body(
    "Exactly two images: multipart parts named `files` (or an ImageBatch of two)",
    "multipart/form-data",
    PROTOBUF,
    multipart=openapi.TWO_FILES,
)
INTERP_JSON = openapi.obj(model="string", version="string", steps="integer", images="array")


@router.post(
    "/interpolate",
    response_class=Response,
    openapi_extra=_BODY,
    responses=openapi.responses(
        "A PNG strip (or each PNG in JSON / an ImageBatch)",
        "image/png",
        PROTOBUF,
        json_schema=INTERP_JSON,
        errors=(400, 401, 404, 406, 413, 415, 422, 503),
    ),
)
async def interpolate(
    request: Request,
    svc: ServiceDep,
    model: ModelName = None,
    steps: Annotated[int, Query(ge=2, description="images along the path, both ends included")] = 8,
    resize: Annotated[bool, Query(description="resize to a fixed-size model's input instead of refusing")] = False,
) -> Response:
    """Decode `steps` evenly spaced points from the first image's latent mean to the second's."""
    answer = negotiate(request.headers.get("accept"), IMAGE_LIST)
    if steps > svc.settings.max_steps:
        raise ApiError(422, f"steps={steps} is too many; at most {svc.settings.max_steps}", kind="steps-too-large")
    rt = resolve(request, "interpolate", model)
    svc.pipeline.admit(rt, steps + 2)  # refused now, before the two images are read
    items = await read_images(request, svc.settings.max_batch_items)
    if len(items.blobs) != 2:
        raise ApiError(
            422,
            f"interpolation needs exactly two images (multipart parts named 'files'), got {len(items.blobs)}",
            kind="need-two-images",
        )
    pixels = await svc.pipeline.interpolate(rt, items.blobs[0], items.blobs[1], steps, resize)
    headers = model_headers(rt)
    return image_list_response(
        pixels, answer, headers, {"model": rt.name, "version": rt.version, "steps": steps}, columns=steps
    )
