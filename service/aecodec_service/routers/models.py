"""GET /models and /models/{name}: what is served, by which execution provider, and how well it does.

A variable-rate model is listed with its ``variable_rate`` (its quality scale), and each of its presets
(``<model>-q<k>``) as an entry of its own, with ``preset_of`` and ``quality``."""

from __future__ import annotations

from typing import Any

from aecodec_wire.variable_rate import quality_of
from fastapi import APIRouter, Request

from .. import openapi
from ..core.errors import echo
from ..deps import RegistryDep
from ..runtime.errors import ModelNotFound
from ..runtime.sessions import ModelRuntime

router = APIRouter(tags=["models"])


def describe(rt: ModelRuntime) -> dict[str, Any]:
    m = rt.manifest
    doc: dict[str, Any] = {
        "name": rt.preset.name if rt.preset else m.name,
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
    scale = rt.codec.qualities
    if rt.preset is not None:
        doc |= {"preset_of": m.name, "quality": rt.preset.quality}
    elif scale is not None and m.variable_rate is not None:
        doc["variable_rate"] = {
            "quality_min": 1,
            "quality_max": scale.levels,
            "default_quality": quality_of(scale.default),
            "lambdas": m.variable_rate.lambdas,
        }
    return doc


@router.get("/models")
async def list_models(registry: RegistryDep) -> list[dict[str, Any]]:
    """Every served model and preset, sorted by name."""
    table = registry.models | registry.presets
    return [describe(table[n]) for n in sorted(table)]


@router.get("/models/{name}", responses={404: openapi.PROBLEM | {"description": "No such model"}})
async def get_model(name: str, registry: RegistryDep, request: Request) -> dict[str, Any]:
    rt = registry.find(name)
    if rt is None:
        raise ModelNotFound(f"no model named {echo(name)}; served models: {', '.join(sorted(registry.models))}")
    request.state.model = name
    return describe(rt)
