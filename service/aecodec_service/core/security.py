"""API keys and admin keys, checked by a pure-ASGI middleware before any routing.

- ``AECODEC_API_KEYS`` set: every path but the probes needs ``Authorization: Bearer KEY`` (401).
- ``/admin/*`` needs one of ``AECODEC_ADMIN_KEYS``; with none set it is off (403) unless
  ``AECODEC_ADMIN_OPEN=true`` opens it (then it needs what every other path needs).

A middleware instead of a FastAPI dependency per route: dependencies are resolved per request
and cost more than the whole check, which is one header lookup. ``bearer_security`` declares
the scheme in the OpenAPI document so that /docs offers "Authorize".
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ApiError, problem

OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # never need a key (probes)
PAGE_PREFIX = "/static/"  # the web page at / and its assets hold no secret: no key (routers/page.py)
ADMIN_PREFIX = "/admin/"
SCHEME = "HTTPBearer"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="aecodec"'}


def check_key(authorization: bytes | None, keys: list[bytes], what: str = "API key") -> ApiError | None:
    """None when the header carries one of the keys, else the 401 to answer."""
    if not authorization:
        return ApiError(
            401, f"missing {what}: send 'Authorization: Bearer KEY'", kind="unauthorized", headers=_CHALLENGE
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
            f"wrong {what}: send one of the configured keys as 'Authorization: Bearer KEY'",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="aecodec", error="invalid_token"'},
        )
    return None


ADMIN_OFF = ApiError(
    403,
    "admin endpoints are off: start the service with AECODEC_ADMIN_KEYS=KEY (then send 'Authorization: Bearer KEY'), "
    "or AECODEC_ADMIN_OPEN=true on a trusted network",
    kind="admin-off",
)


class AuthMiddleware:
    """401 without a configured key, 403 on /admin/* while admin is off; everything else passes untouched."""

    def __init__(self, app: ASGIApp, api_keys: list[str], admin_keys: list[str], admin_open: bool) -> None:
        self.app = app
        self.keys = [k.encode() for k in api_keys]
        self.admin_keys = [k.encode() for k in admin_keys]
        self.admin_open = admin_open

    def refusal(self, scope: Scope) -> ApiError | None:
        path: str = scope["path"]
        if path in OPEN_PATHS or path == "/" or path.startswith(PAGE_PREFIX):
            return None
        if path.startswith(ADMIN_PREFIX) and not self.admin_open:
            if not self.admin_keys:
                return ADMIN_OFF
            return check_key(_authorization(scope), self.admin_keys, "admin key")
        if self.keys:
            return check_key(_authorization(scope), self.keys)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope)
            if refused is not None:
                await problem(refused.status, refused.detail, refused.kind, refused.headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value
    return None


def bearer_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the bearer scheme on every operation but the open probes, so /docs offers 'Authorize'."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "One of AECODEC_API_KEYS (only enforced when keys are set); /admin/* takes AECODEC_ADMIN_KEYS",
    }
    for path, ops in schema.get("paths", {}).items():
        for op in ops.values():
            if isinstance(op, dict):
                op["security"] = [] if path in OPEN_PATHS else [{SCHEME: []}]
    return schema
