"""Typed views of the service's JSON answers (``GET /models``, ``/healthz``).

Parsing is lenient on purpose: unknown keys are kept in ``extra`` and missing ones get
defaults, so an older SDK keeps working against a newer service.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class InputSpec:
    """The image a model takes: channels x height x width; None for a size that any image may have."""

    channels: int
    height: int | None
    width: int | None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> InputSpec:
        data = data or {}
        return cls(int(data.get("channels") or 0), _opt_int(data.get("height")), _opt_int(data.get("width")))

    @property
    def fixed_size(self) -> bool:
        return self.height is not None and self.width is not None

    @property
    def mode(self) -> str:
        """The PIL mode matching the channel count."""
        return {1: "L", 3: "RGB", 4: "RGBA", 2: "LA"}.get(self.channels, "RGB")


@dataclass(frozen=True)
class ModelInfo:
    """One entry of ``GET /models``."""

    name: str
    kind: str = ""
    dataset: str = ""
    input: InputSpec = field(default_factory=lambda: InputSpec(0, None, None))
    latent_shape: tuple[int | None, ...] = ()  # None: a spatial axis that follows the image size
    version: str = ""
    endpoints: tuple[str, ...] = ()
    provider: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        known = {f.name for f in fields(cls)}
        return cls(
            name=str(data["name"]),
            kind=str(data.get("kind") or ""),
            dataset=str(data.get("dataset") or ""),
            input=InputSpec.from_dict(data.get("input")),
            latent_shape=tuple(_opt_int(d) for d in data.get("latent_shape") or ()),
            version=str(data.get("version") or ""),
            endpoints=tuple(str(e) for e in data.get("endpoints") or ()),
            provider=str(data.get("provider") or ""),
            metrics=dict(data.get("metrics") or {}),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def supports(self, endpoint: str) -> bool:
        """Whether the model serves ``endpoint`` (with or without the leading slash)."""
        want = endpoint.strip("/")
        return any(e.strip("/") == want for e in self.endpoints)
