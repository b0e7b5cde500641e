"""Dependencies as ``Annotated`` aliases, so routes declare what they need in their signature.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker
thread, which costs a thread hop per dependency per request.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from PIL import Image

from .core.config import Settings
from .core.errors import ApiError, echo
from .core.metrics import Metrics
from .runtime.errors import ModelNotFound, Overloaded, UnsupportedByModel
from .runtime.pipeline import Pipeline
from .runtime.registry import ModelRegistry
from .runtime.sessions import ModelRuntime


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


_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def default_photo_model(registry: ModelRegistry, settings: Settings) -> str | None:
    """/encode's model for an image that is not a digit: ``default_photo_model`` if served, else the first
    served any-size codec (by name), else ``default_model``."""
    if settings.default_photo_model and registry.get(settings.default_photo_model) is not None:
        return settings.default_photo_model
    for name in sorted(registry.models):
        m = registry.models[name].manifest
        if m.kind == "codec" and not m.input.fixed_size:
            return name
    return settings.default_model


def default_encode_model(registry: ModelRegistry, settings: Settings, image: bytes) -> str | None:
    """/encode's model when ``?model=`` is omitted, from the (first) image's header alone: a 28x28 grey
    image (a digit) goes to ``default_model``, anything else to ``default_photo_model``."""
    try:
        with Image.open(io.BytesIO(image)) as img:  # reads the header only
            digit = img.size == (28, 28) and img.mode in _GREY_MODES
    except Exception:  # not an image: the chosen model's image decoding says what is wrong
        digit = False
    return settings.default_model if digit else default_photo_model(registry, settings)


def resolve_model(request: Request, registry: ModelRegistry, name: str | None, endpoint: str) -> ModelRuntime:
    """The model a request names (or the endpoint's default), checked to support the endpoint."""
    settings: Settings = request.app.state.settings
    if not registry.models:
        raise Overloaded("no model is loaded yet; retry shortly (see /readyz)", kind="not-ready", retry_after_s=2)
    if name is None:
        default = {
            "denoise": settings.default_denoise_model,
            "sample": settings.default_vae_model,
            "interpolate": settings.default_vae_model,
        }.get(endpoint, settings.default_model)
        rt = registry.get(default) if default else registry.first_of_kind(endpoint)
        if rt is None:
            raise ModelNotFound(f"no default model for /{endpoint} is loaded; pass ?model= (see GET /models)")
    else:
        found = registry.get(name)
        if found is None:
            raise ModelNotFound(f"no model named {echo(name)}; served models: {', '.join(sorted(registry.models))}")
        rt = found
    if endpoint not in rt.endpoints:
        able = [n for n, m in sorted(registry.models.items()) if endpoint in m.endpoints]
        raise UnsupportedByModel(
            f"model {rt.name!r} is a {rt.manifest.kind} model and does not support /{endpoint}; "
            f"models that do: {', '.join(able) or 'none loaded'}"
        )
    request.state.model = rt.name
    return rt


# Hot routes (/encode, /decode, /denoise) read their few query parameters here instead of through
# FastAPI's parameter resolution, which costs more per request than the rest of the framework;
# they declare the parameters for OpenAPI with ``openapi_param``.
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _invalid(name: str, msg: str, given: str) -> ApiError:
    return ApiError(422, f"query parameter {name!r}: {msg} (got {echo(given)})", kind="invalid-parameter")


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name) if request.scope["query_string"] else None
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, "Input should be a valid integer", raw) from None
    if not lo <= value <= hi:
        raise _invalid(name, f"Input should be between {lo} and {hi}", raw)
    return value


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name) if request.scope["query_string"] else None
    if raw is None:
        return default
    low = raw.lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    raise _invalid(name, "Input should be a valid boolean (true/false)", raw)


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
