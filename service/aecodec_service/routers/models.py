"""GET /models and /models/{name}: what is served, by which execution provider, and how well it does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .. import openapi
from ..core.errors import echo
from ..deps import RegistryDep
from ..runtime.errors import ModelNotFound
from ..runtime.sessions import ModelRuntime

router = APIRouter(tags=["models"])


def describe(rt: ModelRuntime) -> dict[str, Any]:
    m = rt.manifest
    return {
        "name": m.name,
        "kind": m.kind,
        "dataset": m.dataset.name,
        "architecture": m.architecture,
        "description": m.description,
        "input": {
            "channels": m.input.channels,
            "height": m.input.height,
            "width": m.input.width,
            "range": list(m.input.range),
            "pad_multiple": m.input.pad_multiple,
        },
        "latent_shape": m.latent_shape,
        "version": m.version,
        "endpoints": rt.endpoints,
        "provider": rt.provider,
        "metrics": m.metrics,
        "wire_id": m.wire_id,  # codec models: the id their compact payloads carry (aecodec inspect shows it)
    }


@router.get("/models")
async def list_models(registry: RegistryDep) -> list[dict[str, Any]]:
    """Every served model, sorted by name."""
    return [describe(registry.models[n]) for n in sorted(registry.models)]


@router.get("/models/{name}", responses={404: openapi.PROBLEM | {"description": "No such model"}})
async def get_model(name: str, registry: RegistryDep, request: Request) -> dict[str, Any]:
    rt = registry.get(name)
    if rt is None:
        raise ModelNotFound(f"no model named {echo(name)}; served models: {', '.join(sorted(registry.models))}")
    request.state.model = name
    return describe(rt)
