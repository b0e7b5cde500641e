"""OpenAPI fragments for the binary bodies FastAPI cannot infer from signatures."""

from __future__ import annotations

from typing import Any

BINARY = {"type": "string", "format": "binary"}
_MULTIPART = {"type": "object", "properties": {"files": {"type": "array", "items": BINARY}}, "required": ["files"]}
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


def request_body(description: str, *media: str) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for m in media:
        content[m] = {"schema": _MULTIPART} if m == "multipart/form-data" else {"schema": BINARY}
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


ENCODE_JSON = obj(
    model="string",
    version="string",
    bits="integer",
    payload="string",
    size="integer",
    latent_shape="array",
    latent="array",
)
DECODE_JSON = obj(model="string", version="string", width="integer", height="integer", mode="string", image="string")
