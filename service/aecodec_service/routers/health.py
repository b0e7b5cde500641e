"""Liveness and readiness probes; never behind the API key, so they tell nothing about the machine.

/readyz names the model folders that failed and says where the reason is (the server log, or
``POST /admin/reload``), never a path or an onnxruntime message.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .. import openapi
from ..core.errors import problem
from ..deps import ServiceDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: openapi.PROBLEM | {"description": "Models are still loading or one failed"}})
async def readyz(svc: ServiceDep) -> Response:
    """200 once every model folder has a version serving; 503 (naming the folders that failed) until then."""
    registry = svc.registry
    if registry.ready:
        return JSONResponse({"status": "ready", "models": {n: m.version for n, m in sorted(registry.models.items())}})
    if not registry.loaded_once:
        return problem(503, "models are still loading; retry shortly", "not-ready", {"Retry-After": "1"})
    failed = sorted(name for name in registry.errors if name != str(svc.settings.model_dir))
    if failed:
        why = f"model folder(s) not loaded: {', '.join(failed)}; the server log (or POST /admin/reload) says why"
    else:
        why = "no model folder (with a manifest.json) was found in the model directory (AECODEC_MODEL_DIR)"
    return problem(503, why, "not-ready", {"Retry-After": "5"})
