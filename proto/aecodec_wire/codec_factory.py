"""Which ``LatentCodec`` a model uses, decided from its manifest alone."""

from __future__ import annotations

from collections.abc import Mapping

from .hyperprior import HyperpriorCodec
from .latent_codec import LatentCodec, SideModel
from .manifest import Manifest
from .prior_codec import PriorCodec
from .uniform_codec import UniformCodec


def codec_for(manifest: Manifest, side_models: Mapping[str, SideModel] | None = None) -> LatentCodec:
    """The codec of one model version.

    ``side_models`` are callables the codec needs beside its tables, by name (a scale hyperprior's
    ``hyper_decoder``: z_hat -> scales); the service builds them from the model folder's extra graphs.
    A learned-prior codec model needs none; every other kind uses the uniform quantiser.
    """
    if manifest.gaussian is not None:
        if side_models is None or "hyper_decoder" not in side_models:
            raise ValueError(f"model {manifest.name!r} is a hyperprior codec: it needs its hyper_decoder graph")
        return HyperpriorCodec(manifest, side_models["hyper_decoder"])
    if manifest.kind == "codec":
        return PriorCodec(manifest)
    return UniformCodec(manifest)
