"""Large images on the any-size models: seconds per megapixel and resident memory before, during and after.

Each model runs in a fresh child process (so one model's memory does not blur the next one's):
load the model as the service does, encode and decode one small image (warm-up; the RSS after it is the
baseline), then a large photo-like image (smooth gradients and texture, PNG) through the service's own
pipeline (``Pipeline.encode`` / ``Pipeline.decode``: image decode, tiles, onnxruntime, range coding), and
report the time per megapixel, the peak RSS (VmHWM) and the RSS after the request.

    python benchmarks/large_image.py [--models models] [--size 2048] [--model cifar-codec-q1 --model cifar-conv]

``--whole-encoder`` runs a hyperprior codec's encoder as one graph in tiles, as before it was cut in two
(``runtime/encoder_split.py``), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aecodec_service  # noqa: F401  (first: its OpenBLAS thread setting must precede numpy's loading of it)
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def photo(size: int, seed: int = 0) -> bytes:
    """A photo-like RGB image: smooth colour fields plus fine texture, so the codec has real work."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([np.sin(6 * xx + 2 * yy), np.cos(5 * yy - 3 * xx), np.sin(4 * (xx + yy))], -1)
    img = np.clip(127 + 90 * base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def child(model_dir: Path, name: str, size: int, whole_encoder: bool) -> dict[str, float | str]:
    from aecodec_service.core.config import Settings
    from aecodec_service.runtime.pipeline import Pipeline
    from aecodec_service.runtime.registry import ModelRegistry

    settings = Settings(model_dir=model_dir, providers=["CPUExecutionProvider"], max_pixels=1 << 26)
    cpu = ThreadPoolExecutor(1)
    registry = ModelRegistry(settings, ThreadPoolExecutor(settings.inference_threads))
    pipeline = Pipeline(settings, cpu)

    async def run() -> dict[str, float | str]:
        await registry.reload()
        rt = registry.get(name)
        assert rt is not None, f"model {name} not served from {model_dir}"
        if whole_encoder:
            rt.split = None
        small = photo(64, 1)
        for _ in range(3):  # warm-up at a small size: the baseline
            enc = await pipeline.encode(rt, [small], bits=None, resize=False, batch=False)
            await pipeline.decode(registry, [enc[0].payload], fmt="PNG", batch=False)
        base = rss_mb()

        async def large() -> tuple[float, float, int]:  # its arrays are gone when it returns, as after a request
            big = photo(size)
            t0 = time.perf_counter()
            enc = await pipeline.encode(rt, [big], bits=None, resize=False, batch=False)
            t1 = time.perf_counter()
            dec = await pipeline.decode(registry, [enc[0].payload], fmt="PNG", batch=False)
            t2 = time.perf_counter()
            assert (dec[0].width, dec[0].height) == (size, size)
            return t1 - t0, t2 - t1, len(enc[0].payload)

        enc_s, dec_s, nbytes = await large()
        after = rss_mb()
        mp = size * size / 1e6
        return {
            "model": name,
            "megapixels": round(mp, 2),
            "encode_s_per_mp": round(enc_s / mp, 3),
            "decode_s_per_mp": round(dec_s / mp, 3),
            "payload_bytes": nbytes,
            "rss_baseline_mb": round(base, 1),
            "rss_peak_mb": round(rss_mb("VmHWM"), 1),
            "rss_after_mb": round(after, 1),
        }

    return asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--model", action="append", help="any-size model(s); default: cifar-conv and cifar-codec-q1")
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--whole-encoder", action="store_true", help="a hyperprior codec's encoder as one graph")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.models, args.child, args.size, args.whole_encoder)))
        return
    for name in args.model or ["cifar-conv", "cifar-codec-q1"]:
        cmd = [sys.executable, __file__, "--models", str(args.models), "--size", str(args.size), "--child", name]
        cmd += ["--whole-encoder"] if args.whole_encoder else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
