"""Dependencies as ``Annotated`` aliases, so routes declare what they need in their signature.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker
thread, which costs a thread hop per dependency per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from .core.config import Settings
from .core.errors import ApiError, echo
from .core.metrics import Metrics
from .runtime.pipeline import Pipeline
from .runtime.registry import ModelRegistry


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


async def _pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


async def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics


@dataclass(frozen=True)
class Service:
    """Everything a route needs, resolved as ONE dependency (each dependency costs per request)."""

    settings: Settings
    registry: ModelRegistry
    pipeline: Pipeline
    metrics: Metrics


async def _service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(_service)]
SettingsDep = Annotated[Settings, Depends(_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(_registry)]
PipelineDep = Annotated[Pipeline, Depends(_pipeline)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
ModelName = Annotated[str | None, Query(description="model name (GET /models); omitted: the endpoint's default model")]


# Hot routes (/encode, /decode, /denoise) read their few query parameters here instead of through
# FastAPI's parameter resolution, which costs more per request than the rest of the framework;
# they declare the parameters for OpenAPI with ``openapi_param``.
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def invalid(name: str, msg: str, given: object) -> ApiError:
    return ApiError(422, f"query parameter {name!r}: {msg} (got {echo(given)})", kind="invalid-parameter")


def query_opt_int(request: Request, name: str, lo: int, hi: int) -> int | None:
    raw = request.query_params.get(name) if request.scope["query_string"] else None
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, "Input should be a valid integer", raw) from None
    if not lo <= value <= hi:
        raise invalid(name, f"Input should be between {lo} and {hi}", raw)
    return value


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    value = query_opt_int(request, name, lo, hi)
    return default if value is None else value


def query_float(request: Request, name: str) -> float | None:
    """A finite number, or None when absent; its range is the caller's to check."""
    raw = request.query_params.get(name) if request.scope["query_string"] else None
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise invalid(name, "Input should be a valid number", raw) from None
    if not math.isfinite(value):
        raise invalid(name, "Input should be a finite number", raw)
    return value


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name) if request.scope["query_string"] else None
    if raw is None:
        return default
    low = raw.lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    raise invalid(name, "Input should be a valid boolean (true/false)", raw)


def query_str(request: Request, name: str) -> str | None:
    return request.query_params.get(name) if request.scope["query_string"] else None


def service(request: Request) -> Service:
    return request.app.state.service


def openapi_param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


MODEL_PARAM = openapi_param(
    "model", {"type": "string"}, "model name (GET /models); omitted: the endpoint's default model"
)
RESIZE_PARAM = openapi_param(
    "resize", {"type": "boolean", "default": False}, "resize to a fixed-size model's input instead of refusing"
)
