"""Rate-distortion codec models: conv analysis/synthesis and a learned factorised prior.

Registered in the one model registry (``rd-codec``, and the photo codec ``hyperprior-codec``: a mean-scale
hyperprior, ``hyperprior.py``) and trained, exported and published like every other
model; their own folder because they train on distortion + lambda * rate and export integer prior tables for
the range coder (``aecodec_wire.prior_codec``) instead of uniform-quantiser stats. ``custom.py`` is the
one-command "compress your own kind of images" (``aecodec-train codec``), ``report.py`` its comparison with
JPEG and WebP.
"""

from .hyperprior import HyperpriorCodec, HyperpriorConfig
from .model import CodecConfig, RDCodec
from .prior import FactorizedPrior

__all__ = ["CodecConfig", "FactorizedPrior", "HyperpriorCodec", "HyperpriorConfig", "RDCodec"]
