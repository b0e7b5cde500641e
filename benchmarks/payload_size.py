"""Payload size of MNIST digits vs PNG and raw pixels, with the header / coded-latent split.

Runs the service's own path in-process (image decode, ONNX encoder, LatentCodec) on
the 48 fixture digits and, when ``../shared/data/mnist`` exists beside the repository,
on the whole MNIST test set (10 000 digits). Prints markdown tables.

    python benchmarks/payload_size.py [--models models] [--model mnist-ae] [--bits 8,4] [--mnist DIR]
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "tests" / "fixtures" / "mnist_test_48.npz"
MNIST = REPO.parent / "shared" / "data" / "mnist"


def read_idx_images(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    if int.from_bytes(raw[:4], "big") != 0x803:
        raise ValueError(f"{path} is not an IDX image file")
    n, h, w = (int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h, w)


def png(pixels: np.ndarray) -> bytes:
    """A PNG as a client would send it (Pillow's default settings)."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def measure(rt: object, images: np.ndarray, bits_list: list[int]) -> dict[str, float]:
    from aecodec_service.runtime.imaging import to_model_input
    from aecodec_wire import inspect

    pngs = [png(x) for x in images]
    spec = rt.manifest.input  # type: ignore[attr-defined]
    xs = np.concatenate([to_model_input(p, spec, max_pixels=1 << 24, resize=False).x for p in pngs])
    run = rt.encoder.run  # type: ignore[attr-defined]
    latents = np.concatenate([run(xs[i : i + 1000])[0] for i in range(0, len(xs), 1000)])
    out = {"n": len(images), "png": float(np.mean([len(p) for p in pngs])), "raw": float(images[0].size)}
    for bits in bits_list:
        n = len(latents)
        depth = bits if rt.codec.bit_depths else None  # type: ignore[attr-defined]  # a learned prior fixes its rate
        payloads = rt.codec.encode(latents, [(28, 28)] * n, ["L"] * n, depth)  # type: ignore[attr-defined]
        infos = [inspect(p) for p in payloads]
        out[f"{bits}:total"] = float(np.mean([i.size for i in infos]))
        out[f"{bits}:header"] = float(np.mean([i.header_bytes for i in infos]))
        out[f"{bits}:latent"] = float(np.mean([i.latent_bytes for i in infos]))
        out[f"{bits}:max"] = float(max(i.size for i in infos))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--model", default="mnist-ae")
    ap.add_argument("--bits", default="8,4")
    ap.add_argument("--mnist", type=Path, default=MNIST)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "service"))
    from aecodec_service.core.config import Settings
    from aecodec_service.runtime.sessions import load_model

    bits_list = [int(b) for b in args.bits.split(",")]
    sets = {"48 fixture digits": np.load(DIGITS)["x"]}
    test_file = args.mnist / "t10k-images-idx3-ubyte.gz"
    if test_file.exists():
        sets["MNIST test set"] = read_idx_images(test_file)
    settings = Settings(model_dir=args.models, providers=["CPUExecutionProvider"])
    with ThreadPoolExecutor(1) as pool:
        rt = load_model(args.models / args.model, settings, pool)
        rows = {name: measure(rt, images, bits_list) for name, images in sets.items()}
    print(f"model {args.model} version {rt.version}; mean bytes per digit (28x28 grayscale)\n")
    cols = " | ".join(f"{b}-bit payload (header + latent) | {b}-bit max" for b in bits_list)
    print(f"| images | n | {cols} | PNG | raw | PNG / {bits_list[0]}-bit payload |")
    print("|---|---:|" + "---:|---:|" * len(bits_list) + "---:|---:|---:|")
    for name, r in rows.items():
        cells = " | ".join(
            f"{r[f'{b}:total']:.1f} ({r[f'{b}:header']:.1f} + {r[f'{b}:latent']:.1f}) | {r[f'{b}:max']:.0f}"
            for b in bits_list
        )
        ratio = r["png"] / r[f"{bits_list[0]}:total"]
        print(f"| {name} | {r['n']:.0f} | {cells} | {r['png']:.1f} | {r['raw']:.0f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
