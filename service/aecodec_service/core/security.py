"""API keys: when any are configured, requests need ``Authorization: Bearer KEY``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="One of the keys in AECODEC_API_KEYS (only when keys are set)")


async def require_key(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return
    challenge = {"WWW-Authenticate": 'Bearer realm="aecodec"'}
    if creds is None:
        raise ApiError(401, "missing API key: send 'Authorization: Bearer KEY'", kind="unauthorized", headers=challenge)
    given = creds.credentials.encode()
    if not any(hmac.compare_digest(given, k.encode()) for k in keys):
        raise ApiError(
            401,
            "wrong API key: send one of the configured keys as 'Authorization: Bearer KEY'",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="aecodec", error="invalid_token"'},
        )
