"""Operations behind the API key: reload the model folder, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import MetricsDep, RegistryDep

router = APIRouter(tags=["operations"])


@router.post("/admin/reload")
async def reload(registry: RegistryDep) -> dict[str, Any]:
    """Rebuild changed models and swap them in; a broken folder keeps its old version serving (see `errors`)."""
    report = await registry.reload()
    return report.as_dict() | {"models": {n: m.version for n, m in sorted(registry.models.items())}}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(m: MetricsDep) -> Response:
    """Prometheus exposition: requests, latency, payload sizes, batch sizes, queue depth."""
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
