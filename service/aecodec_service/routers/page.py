"""GET / and /static/{name}: the web page that shows what the codec does, shipped inside the package.

The page is plain HTML, CSS and one script; it talks only to this service's API (its Content-Security-Policy
forbids anything else), so it works offline and behind a firewall. It needs no key to load: it holds no
secret, and the API key a user types is sent by the script with each API request.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..core.errors import ApiError, echo

router = APIRouter(include_in_schema=False)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@lru_cache(maxsize=1)
def assets() -> dict[str, tuple[bytes, str, str]]:
    """name -> (bytes, media type, ETag) of every file in the static folder, read once."""
    out = {}
    for entry in (resources.files("aecodec_service") / "static").iterdir():
        media = _TYPES.get("." + entry.name.rsplit(".", 1)[-1])
        if entry.is_file() and media:
            data = entry.read_bytes()
            out[entry.name] = (data, media, '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
    return out


def _serve(request: Request, name: str) -> Response:
    found = assets().get(name)
    if found is None:
        raise ApiError(404, f"no such page asset {echo(name)}; the page is at /", kind="not-found")
    data, media, etag = found
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if media.startswith("text/html"):
        headers["Content-Security-Policy"] = CSP
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(headers=headers | {"Content-Length": str(len(data))}, media_type=media)
    return Response(data, media_type=media, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
async def page(request: Request) -> Response:
    return _serve(request, "index.html")


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def asset(request: Request, name: str) -> Response:
    return _serve(request, name)
