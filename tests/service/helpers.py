"""Small helpers shared by the service tests."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

# what a problem detail must never show: absolute paths, object reprs, tracebacks, onnxruntime's words
INTERNALS = re.compile(r"(/[\w.-]+){3,}|\bat 0x[0-9a-f]+|Traceback|onnxruntime|\.py\b|\.onnx\b|Error:", re.I)


def png(pixels: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode=mode).save(buf, format="PNG") if mode else Image.fromarray(pixels).save(
        buf, format="PNG"
    )
    return buf.getvalue()


def image_bytes(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def read(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
