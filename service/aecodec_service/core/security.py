"""API keys: when any are configured, requests need ``Authorization: Bearer KEY``.

The check runs in the pure-ASGI ``GuardMiddleware`` (core/metrics.py), not as a FastAPI
dependency; ``bearer_security`` only declares the scheme in the OpenAPI document.
"""

from __future__ import annotations

import hmac
from typing import Any

from .errors import ApiError

OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # never need a key (probes)
SCHEME = "HTTPBearer"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="aecodec"'}


def check_key(authorization: bytes | None, keys: list[bytes]) -> ApiError | None:
    """None when the header carries one of the keys, else the 401 to answer."""
    if not authorization:
        return ApiError(
            401, "missing API key: send 'Authorization: Bearer KEY'", kind="unauthorized", headers=_CHALLENGE
        )
    scheme, _, given = authorization.partition(b" ")
    if scheme.lower() != b"bearer" or not given.strip():
        return ApiError(
            401,
            "malformed Authorization header: send 'Authorization: Bearer KEY'",
            kind="unauthorized",
            headers=_CHALLENGE,
        )
    given = given.strip()
    # compare with every key so the time taken does not tell which one nearly matched
    if not sum(hmac.compare_digest(given, k) for k in keys):
        return ApiError(
            401,
            "wrong API key: send one of the configured keys as 'Authorization: Bearer KEY'",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="aecodec", error="invalid_token"'},
        )
    return None


def bearer_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the bearer scheme on every operation but the open probes, so /docs offers 'Authorize'."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "One of the keys in AECODEC_API_KEYS (only enforced when keys are set)",
    }
    for path, ops in schema.get("paths", {}).items():
        for op in ops.values():
            if isinstance(op, dict):
                op["security"] = [] if path in OPEN_PATHS else [{SCHEME: []}]
    return schema
