"""The OpenAPI document: fragments for the binary bodies FastAPI cannot infer, and what only the app knows.

``install`` serves /openapi.json and /docs, and completes the generated document with the
bearer scheme and its 401 (403 for admin) on every operation behind a key, and the limits
that come from the settings (``maximum`` of ``n`` and ``steps``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from .core.config import Settings
from .core.security import ADMIN_PREFIX, bearer_security

BINARY = {"type": "string", "format": "binary"}
# multipart bodies: parts named `files` and nothing else (another name is a 400)
_MULTIPART = {
    "type": "object",
    "properties": {"files": {"type": "array", "items": BINARY, "minItems": 1}},
    "required": ["files"],
    "additionalProperties": False,
}
TWO_FILES = _MULTIPART | {"properties": {"files": {"type": "array", "items": BINARY, "minItems": 2, "maxItems": 2}}}
PROBLEM = {
    "description": "Problem document (RFC 9457)",
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "properties": {k: {"type": "string"} for k in ("type", "title", "detail")}
                | {"status": {"type": "integer"}},
            }
        }
    },
}


def request_body(description: str, *media: str, multipart: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for m in media:
        content[m] = {"schema": multipart or _MULTIPART} if m == "multipart/form-data" else {"schema": BINARY}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def responses(
    description: str,
    *media: str,
    json_schema: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (401, 406, 413, 415, 422, 503),
) -> dict[int | str, dict[str, Any]]:
    content: dict[str, Any] = {m: {"schema": BINARY} for m in media}
    if json_schema is not None:
        content["application/json"] = {"schema": json_schema}
    out: dict[int | str, dict[str, Any]] = {200: {"description": description, "content": content}}
    for code in errors:
        out[code] = PROBLEM
    return out


def obj(**props: str) -> dict[str, Any]:
    """A JSON object schema from name=type pairs (type 'array' and 'object' allowed)."""
    return {"type": "object", "properties": {k: {"type": v} for k, v in props.items()}}


INTAKE = {"orientation_applied": "integer", "metadata_dropped": "array"}  # what reading an image did
ENCODE_JSON = obj(
    model="string",
    version="string",
    bits="integer",
    payload="string",
    size="integer",
    icc_profile_bytes="integer",
    alpha_bytes="integer",
    **INTAKE,
    latent_shape="array",
    latent="array",
)
ENCODE_JSON["properties"]["bits"] = {"type": ["integer", "null"]}  # null: a codec model's rate is fixed
ENCODE_JSON["properties"]["quality"] = {"type": ["number", "null"]}  # null: not a variable-rate model
DECODE_JSON = obj(
    model="string",
    version="string",
    width="integer",
    height="integer",
    mode="string",
    icc_profile_bytes="integer",
    alpha="boolean",
    image="string",
)
DENOISE_JSON = obj(model="string", version="string", **INTAKE, image="string")


def _complete(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    schema = bearer_security(schema)
    for path, ops in schema.get("paths", {}).items():
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            if op.get("security"):
                responses.setdefault("401", PROBLEM)
            if path.startswith(ADMIN_PREFIX):
                responses.setdefault("403", PROBLEM)
            for param in op.get("parameters", []):
                limit = _MAXIMUM.get((path, param.get("name")))
                if limit is not None:
                    param.setdefault("schema", {})["maximum"] = getattr(settings, limit)
    return schema


_MAXIMUM = {("/sample", "n"): "max_sample_n", ("/interpolate", "steps"): "max_steps"}


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the completed document at /openapi.json and Swagger UI at /docs."""
    generate = app.openapi

    def completed() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(generate(), settings)
        return app.openapi_schema

    app.openapi = completed  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="aecodec API")
