"""aecodec's wire format: payload messages, quantisation, entropy coding and the model manifest.

Imported by the training tools, the service and the SDK alike; imports none of them.
``payload`` frames the bytes; ``latent_codec`` says what a codec offers; ``uniform_codec`` and
``prior_codec`` implement it; ``codec_factory.codec_for`` picks one from a manifest.
"""

from .errors import CorruptPayload, ModelMismatch, PayloadError, UnsupportedFormat
from .payload import PayloadInfo, inspect, pack, split, unpack, unpack_any

__all__ = [
    "CorruptPayload",
    "ModelMismatch",
    "PayloadError",
    "PayloadInfo",
    "UnsupportedFormat",
    "inspect",
    "pack",
    "split",
    "unpack",
    "unpack_any",
]
