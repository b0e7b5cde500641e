"""Small helpers shared by the service tests."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
from aecodec_wire.manifest import load
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


def denoise_whole(folder: Path, img: np.ndarray, level: float | None = None) -> np.ndarray:
    """A denoiser folder's graphs on a whole (H, W, 3) uint8 image at once, straight through onnxruntime (no
    tiles, no gate), edge-padded to its ``pad_multiple`` and cropped back as the service does; ``level`` on
    0-255 is written into the latent's level channel (None: blind). The reference for tiled runs."""
    sess = {g: ort.InferenceSession(str(folder / f"{g}.onnx")) for g in ("encoder", "decoder")}
    m = load(folder, verify=False).input.pad_multiple
    h, w = img.shape[:2]
    x = np.pad(img, ((0, -h % m), (0, -w % m), (0, 0)), mode="edge").transpose(2, 0, 1)[None]
    latent = sess["encoder"].run(None, {"image": x.astype(np.float32) / 255})[0]
    if level is not None:
        latent[:, -1] = level / 255
    y = sess["decoder"].run(None, {"latent": latent})[0][0]
    return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)[:h, :w]
