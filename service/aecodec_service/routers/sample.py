"""POST /sample: images drawn from a VAE's prior, reproducible by seed."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import openapi
from ..bodies import PROTOBUF
from ..choice import resolve
from ..core.errors import ApiError
from ..core.negotiate import negotiate
from ..deps import ModelName, ServiceDep
from ..responses import IMAGE_LIST, image_list_response, model_headers

router = APIRouter(tags=["generative"])
SAMPLE_JSON = openapi.obj(model="string", version="string", seed="integer", images="array")


@router.post(
    "/sample",
    response_class=Response,
    responses=openapi.responses(
        "A PNG grid of the samples (or each PNG in JSON / an ImageBatch)",
        "image/png",
        PROTOBUF,
        json_schema=SAMPLE_JSON,
        errors=(401, 404, 406, 413, 422, 503),
    ),
)
async def sample(
    request: Request,
    svc: ServiceDep,
    model: ModelName = None,
    n: Annotated[int, Query(ge=1, description="number of samples (at most AECODEC_MAX_SAMPLE_N)")] = 16,
    seed: Annotated[int | None, Query(ge=0, lt=2**63, description="same seed, same images; omitted: random")] = None,
    temperature: Annotated[float, Query(gt=0, le=10, allow_inf_nan=False, description="prior std. dev.")] = 1.0,
) -> Response:
    """Decode `n` latents drawn from N(0, temperature²) with numpy's Generator seeded by `seed`."""
    answer = negotiate(request.headers.get("accept"), IMAGE_LIST)
    if n > svc.settings.max_sample_n:
        raise ApiError(
            422, f"n={n} is too many; at most {svc.settings.max_sample_n} samples per request", kind="n-too-large"
        )
    rt = resolve(request, "sample", model)
    svc.pipeline.admit(rt, n)
    seed = secrets.randbits(63) if seed is None else seed
    pixels = await svc.pipeline.sample(rt, n, seed, temperature)
    headers = model_headers(rt) | {"X-Aecodec-Seed": str(seed)}
    return image_list_response(
        pixels,
        answer,
        headers,
        {"model": rt.name, "version": rt.version, "seed": seed},
        columns=math.ceil(math.sqrt(n)),
    )
