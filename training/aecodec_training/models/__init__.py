"""The model family: a registry of plain nn.Modules that all expose encode(x) and decode(z)."""

from ..codec import model as _codec  # noqa: F401  (registers the rate-distortion codec)
from . import conv, conv_vae, mlp, pca, vae  # noqa: F401  (registers the models)
from .base import Autoencoder
from .registry import Recipe, build_model, describe, model_names, recipe, register_model
from .summary import param_count, summarize

__all__ = [
    "Autoencoder",
    "Recipe",
    "build_model",
    "describe",
    "model_names",
    "param_count",
    "recipe",
    "register_model",
    "summarize",
]
