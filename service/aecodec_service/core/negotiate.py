"""Content negotiation on the Accept header: pick the best offered type or answer 406."""

from __future__ import annotations

from .errors import ApiError


def _ranges(accept: str) -> list[tuple[str, float, int]]:
    out = []
    for pos, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        out.append((fields[0].lower(), q, pos))
    return out


def negotiate(accept: str | None, offered: list[str]) -> str:
    """The offered media type the client prefers most; the first offered one when Accept is absent or */*."""
    if not accept or accept.strip() in ("*/*", ""):
        return offered[0]
    best: tuple[float, int, int] | None = None
    choice = None
    for rank, media in enumerate(offered):
        kind = media.split("/")[0]
        for pattern, q, _pos in _ranges(accept):
            specificity = 2 if pattern == media else 1 if pattern == f"{kind}/*" else 0 if pattern == "*/*" else -1
            if specificity < 0 or q <= 0:
                continue
            key = (q, specificity, -rank)
            if best is None or key > best:
                best, choice = key, media
    if choice is None:
        raise ApiError(
            406, f"cannot answer with {accept!r}; this endpoint offers {', '.join(offered)}", kind="not-acceptable"
        )
    return choice
