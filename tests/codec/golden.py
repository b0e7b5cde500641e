"""Golden payloads of a shipped codec level: the real path on 4 fixed MNIST test digits.

``python -m tests.codec.golden`` rewrites tests/codec/golden.json after a deliberate model or format change.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
from aecodec_wire.manifest import load
from aecodec_wire.prior_codec import PriorCodec, unpack_compact

HERE = Path(__file__).resolve().parent
MODEL = HERE / "fixtures" / "mnist-codec-q1"  # a copy of runs/mnist-codec-q1/model
GOLDEN = HERE / "golden.json"
DIGITS = HERE.parent / "fixtures" / "mnist_test_48.npz"


def run() -> dict[str, object]:
    """Encode the first 4 digits through ONNX + PriorCodec, decode back: payload hex and pixel md5."""
    manifest = load(MODEL)
    codec = PriorCodec(manifest)
    x = np.load(DIGITS)["x"][:4, None]  # (4, 1, 28, 28) uint8
    enc = ort.InferenceSession(str(MODEL / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(MODEL / "decoder.onnx"), providers=["CPUExecutionProvider"])
    latents = enc.run(None, {"image": x.astype(np.float32) / 255})[0]
    payloads = codec.encode(latents, [(28, 28)] * 4, ["L"] * 4)
    y_hat = np.concatenate([codec.decode(unpack_compact(p)) for p in payloads])
    pixels = np.clip(np.rint(dec.run(None, {"latent": y_hat})[0] * 255), 0, 255).astype(np.uint8)
    return {
        "model": manifest.name,
        "version": manifest.version,
        "payloads": [p.hex() for p in payloads],
        "decoded_md5": hashlib.md5(pixels.tobytes()).hexdigest(),
    }


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(run(), indent=1) + "\n")
    print(GOLDEN.read_text())
