"""The rate an /encode or /compare request asks for, checked against the chosen model before any coding.

A variable-rate model (``GET /models`` shows its ``variable_rate``) codes at ``quality`` (1..K, the integers
being its trained levels; default the middle one), at a preset's quality (``?model=<model>-q<k>``), or, with
``max_bytes``, at the highest quality whose payload fits (``cwebp -size``). Every other model has one rate
(or ``bits``), and refuses both parameters rather than ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .core.errors import ApiError
from .deps import invalid
from .runtime.sessions import ModelRuntime

MAX_BYTES = 1 << 30  # the largest max_bytes taken: far above any payload, small enough to stay one integer


@dataclass(frozen=True)
class Rate:
    quality: float | None = None  # None: the model's default (or its one rate)
    max_bytes: int | None = None


def rate_for(rt: ModelRuntime, quality: float | None, max_bytes: int | None) -> Rate:
    """The request's ``quality`` / ``max_bytes`` (already numbers, max_bytes within 1..MAX_BYTES) for ``rt``."""
    scale, preset = rt.codec.qualities, rt.preset
    if scale is None:
        if quality is not None or max_bytes is not None:
            raise ApiError(
                422,
                f"model {rt.name!r} codes at the one rate it was trained for: quality and max_bytes apply to "
                "variable-rate models (GET /models lists their variable_rate)",
                kind="fixed-rate",
            )
        return Rate()
    if quality is not None and max_bytes is not None:
        raise ApiError(422, "quality and max_bytes both choose the rate: pass one of them", kind="invalid-parameter")
    if preset is not None:
        if quality is not None or max_bytes is not None:
            raise ApiError(
                422,
                f"model {preset.name!r} is {rt.name!r} at quality {preset.quality}: for another quality or a "
                f"byte budget, pass ?model={rt.name}",
                kind="invalid-parameter",
            )
        return Rate(quality=float(preset.quality))
    if quality is not None and not 1 <= quality <= scale.levels:
        raise invalid("quality", f"Input should be between 1 and {scale.levels} for model {rt.name!r}", quality)
    return Rate(quality, max_bytes)
