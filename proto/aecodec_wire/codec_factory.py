"""Which ``LatentCodec`` a model uses, decided from its manifest alone."""

from __future__ import annotations

from collections.abc import Mapping

from .hyperprior import HyperpriorCodec
from .integer_hyper import IntegerHyperSynthesis
from .latent_codec import LatentCodec, SideModel
from .manifest import Manifest
from .prior_codec import PriorCodec
from .uniform_codec import UniformCodec


def codec_for(
    manifest: Manifest,
    side_models: Mapping[str, SideModel] | None = None,
    integer_hyper: IntegerHyperSynthesis | None = None,
) -> LatentCodec:
    """The codec of one model version.

    ``side_models`` are callables the codec needs beside its tables, by name (a scale hyperprior's
    ``hyper_decoder``: z_hat -> scales); the service builds them from the model folder's extra graphs. A
    hyperprior whose manifest declares an integer hyper-synthesis needs that network instead
    (``IntegerHyperSynthesis.from_folder``). A learned-prior codec model needs neither; every other kind uses
    the uniform quantiser.
    """
    if manifest.gaussian is not None:
        return HyperpriorCodec(manifest, (side_models or {}).get("hyper_decoder"), integer_hyper)
    if manifest.kind == "codec":
        return PriorCodec(manifest)
    return UniformCodec(manifest)
