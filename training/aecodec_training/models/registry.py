"""Model registry: ``@register_model("name", Recipe(...))`` on a factory, plus each model's default recipe.

Every model the product trains is here by name, the rate-distortion codecs included (``codec/model.py``);
``aecodec-train train NAME`` builds it, and its quality levels are rows of ``zoo.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Objective
from .base import Autoencoder


@dataclass(frozen=True)
class Recipe:
    """Default training settings for a model (the report's, where it has them); a run's flags override them."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    dataset: str = "mnist"
    objective: Objective = field(default_factory=Objective)
    clip: float = 0.0
    decay_at: float = 0.0
    image_from_data: bool = False  # channels and (``size`` option: auto | any | HxW) image size follow the data


@dataclass(frozen=True)
class Entry:
    factory: Callable[..., Autoencoder]
    recipe: Recipe
    summary: str


_REGISTRY: dict[str, Entry] = {}


def register_model(
    name: str, recipe: Recipe | None = None
) -> Callable[[Callable[..., Autoencoder]], Callable[..., Autoencoder]]:
    """Register a factory ``f(**options) -> Autoencoder`` under ``name``."""

    def wrap(factory: Callable[..., Autoencoder]) -> Callable[..., Autoencoder]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        doc = (factory.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Entry(factory, recipe or Recipe(), doc[0] if doc else "")
        return factory

    return wrap


def model_names() -> list[str]:
    return sorted(_REGISTRY)


def recipe(name: str) -> Recipe:
    return _entry(name).recipe


def describe(name: str) -> str:
    return _entry(name).summary


def build_model(name: str, **options: Any) -> Autoencoder:
    """Instantiate model ``name``; options (None values dropped) override its config fields."""
    model = _entry(name).factory(**{k: v for k, v in options.items() if v is not None})
    model.name = name
    return model


def _entry(name: str) -> Entry:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    return _REGISTRY[name]
