"""Golden files: md5 of the payload bytes and of the decoded pixels for fixed inputs and the shipped models.

The test (test_golden.py) recomputes these with onnxruntime's CPU provider and
compares. When a model is deliberately re-exported, rewrite them on purpose:

    python tests/golden/regenerate.py        # from the repository root
"""

from __future__ import annotations

import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from aecodec_service.core.config import Settings
from aecodec_service.runtime.imaging import to_model_input, to_pixels
from aecodec_service.runtime.sessions import load_model
from aecodec_wire import unpack_any
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden.json")
DIGITS = REPO / "tests" / "fixtures" / "mnist_test_48.npz"


def inputs() -> dict[str, bytes]:
    """Fixed input images by name: four MNIST test digits and a synthetic 33x27 RGB gradient."""
    out = {}
    for i, digit in enumerate(np.load(DIGITS)["x"][:4]):
        out[f"digit{i}"] = _png(Image.fromarray(digit))
    y, x = np.mgrid[0:27, 0:33]
    rgb = np.stack([x * 7, y * 9, (x + y) * 4], axis=-1).astype(np.uint8)
    out["gradient33x27"] = _png(Image.fromarray(rgb))
    return out


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def compute(model_dir: Path = REPO / "models") -> dict[str, dict[str, str]]:
    """{"model/input/bits": {"payload_md5", "pixels_md5", "payload_bytes"}} for every shipped model."""
    settings = Settings(model_dir=model_dir, providers=["CPUExecutionProvider"], intra_op_threads=1)
    result: dict[str, dict[str, str]] = {}
    with ThreadPoolExecutor(1) as pool:
        for folder in sorted(p for p in model_dir.iterdir() if (p / "manifest.json").is_file()):
            rt = load_model(folder, settings, pool)
            for name, data in inputs().items():
                if (rt.manifest.input.channels == 3) != name.startswith("gradient"):
                    continue
                prepared = to_model_input(data, rt.manifest.input, max_pixels=1 << 24, resize=False)
                outs = rt.encoder.run(prepared.x)
                names = rt.codec.latent_names  # a hyperprior codes two encoder outputs
                latent = outs[0] if len(names) == 1 else dict(zip(names, outs, strict=True))
                for bits in (8, 4) if rt.manifest.kind != "codec" else (8,):  # a codec's prior fixes its bits
                    depth = bits if rt.codec.bit_depths else None
                    payload = rt.codec.encode(latent, [(prepared.width, prepared.height)], [prepared.mode], depth)[0]
                    image = rt.decoder.run(rt.codec.decode(unpack_any(payload)))[0][0]
                    pixels = to_pixels(image, rt.manifest.output_range)
                    result[f"{rt.name}/{name}/{bits}"] = {
                        "payload_md5": hashlib.md5(payload).hexdigest(),
                        "pixels_md5": hashlib.md5(pixels.tobytes()).hexdigest(),
                        "payload_bytes": str(len(payload)),
                        "model_version": rt.version,
                    }
    return result


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
