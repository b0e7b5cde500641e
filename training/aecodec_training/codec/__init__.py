"""Rate-distortion codec models: conv analysis/synthesis, a learned factorised prior, training and export.

Kept apart from ``aecodec_training.models`` because these models train on distortion + lambda * rate and
export integer prior tables for the range coder (``aecodec_wire.prior_codec``) instead of uniform-quantiser stats.
"""

from .model import CodecConfig, RDCodec
from .prior import FactorizedPrior

__all__ = ["CodecConfig", "FactorizedPrior", "RDCodec"]
