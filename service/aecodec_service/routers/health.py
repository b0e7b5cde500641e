"""Liveness and readiness probes; never behind the API key."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..core.errors import problem
from ..deps import RegistryDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Models are still loading or one failed"}})
async def readyz(registry: RegistryDep) -> JSONResponse:
    """200 once every model folder has a version serving; 503 (with the reasons) until then."""
    if registry.ready:
        return JSONResponse({"status": "ready", "models": {n: m.version for n, m in sorted(registry.models.items())}})
    if not registry.loaded_once:
        return problem(503, "models are still loading; retry shortly", "not-ready", {"Retry-After": "1"})  # type: ignore[return-value]
    why = "; ".join(f"{k}: {v}" for k, v in registry.errors.items()) or "no model loaded"
    return problem(503, f"not every model is loaded: {why}", "not-ready", {"Retry-After": "5"})  # type: ignore[return-value]
