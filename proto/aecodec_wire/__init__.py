"""aecodec's wire format: payload messages, quantisation, entropy coding and the model manifest.

Imported by the training tools, the service and the SDK alike; imports none of them.
"""

from .errors import CorruptPayload, ModelMismatch, PayloadError, UnsupportedFormat
from .payload import PayloadInfo, inspect, pack, unpack

__all__ = [
    "CorruptPayload",
    "ModelMismatch",
    "PayloadError",
    "PayloadInfo",
    "UnsupportedFormat",
    "inspect",
    "pack",
    "unpack",
]
