"""Content negotiation on the Accept header: pick the best offered type or answer 406.

The header is parsed once per request (not once per offered type), and only its first
``MAX_RANGES`` media ranges are read: real clients send a handful, so a header of
thousands of ranges costs no more than one of 32.
"""

from __future__ import annotations

from .errors import ApiError, echo

MAX_RANGES = 32


def _ranges(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(",", MAX_RANGES)[:MAX_RANGES]:
        media, _, params = part.partition(";")
        media = media.strip().lower()
        if not media:
            continue
        q = 1.0
        for f in params.split(";"):
            name, _, value = f.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((media, q))
    return out


def negotiate(accept: str | None, offered: list[str]) -> str:
    """The offered media type the client prefers most; the first offered one when Accept is absent or */*."""
    if not accept or accept.strip() in ("*/*", ""):
        return offered[0]
    ranges = _ranges(accept)
    best: tuple[float, int, int] | None = None
    choice = None
    for rank, media in enumerate(offered):
        family = media.split("/")[0] + "/*"
        for pattern, q in ranges:
            specificity = 2 if pattern == media else 1 if pattern == family else 0 if pattern == "*/*" else -1
            if specificity < 0 or q <= 0:
                continue
            key = (q, specificity, -rank)
            if best is None or key > best:
                best, choice = key, media
    if choice is None:
        raise ApiError(
            406, f"cannot answer with {echo(accept)}; this endpoint offers {', '.join(offered)}", kind="not-acceptable"
        )
    return choice
