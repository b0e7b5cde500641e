"""Batch denoising throughput: ``aecodec denoise-dir`` over a folder of 100 photographs, images per second.

    python benchmarks/denoise_dir.py --photos ../shared/data/photos

Builds the folder in a temporary directory: 100 random crops (sides 256-1024 pixels, so mixed sizes and
aspect ratios) of the photo folder with Gaussian noise (sigma 5-50), a fifth saved grey, a fifth as JPEG,
the rest PNG. Starts the service (``python -m aecodec_service`` on loopback, the shipped models,
``--threads`` onnxruntime threads) and runs the real command line (``python -m aecodec_sdk denoise-dir``)
once per ``--concurrency`` value into a fresh output folder; wall time includes the command's start.
Writes ``results/denoise/denoise_dir.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from served import service

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def make_folder(photos: Path, out: Path, n: int, seed: int = 0) -> float:
    """n noisy crops of mixed size and mode under ``out``; returns their total megapixels."""
    rng = np.random.default_rng(seed)
    files = sorted(p for p in photos.iterdir() if p.suffix.lower() in SUFFIXES)
    pixels = 0
    for i in range(n):
        with Image.open(files[i % len(files)]) as im:
            img = np.asarray(im.convert("RGB"))
        h, w = img.shape[:2]
        ch, cw = (int(rng.integers(min(256, s), min(1024, s) + 1)) for s in (h, w))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = img[y : y + ch, x : x + cw].astype(np.float64)
        sigma = float(rng.uniform(5, 50))
        noisy = Image.fromarray(
            np.clip(np.rint(crop + rng.standard_normal(crop.shape) * sigma), 0, 255).astype(np.uint8)
        )
        sub = out / f"set-{i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 5 == 0:
            noisy.convert("L").save(sub / f"photo-{i:03d}.png")
        elif i % 5 == 1:
            noisy.save(sub / f"photo-{i:03d}.jpg", quality=92)
        else:
            noisy.save(sub / f"photo-{i:03d}.png", compress_level=1)
        pixels += ch * cw
    return pixels / 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, required=True)
    p.add_argument("--models", type=Path, default=ROOT / "models")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads of the service")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--out", type=Path, default=ROOT / "results" / "denoise")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        megapixels = make_folder(args.photos, src, args.n)
        with service(args.models, intra_op_threads=args.threads) as (client, _):
            url = str(client.base_url).rstrip("/")
            for conc in args.concurrency:
                dst = Path(tmp) / f"out-{conc}"
                cmd = [sys.executable, "-m", "aecodec_sdk", "--url", url, "denoise-dir", str(src), str(dst)]
                t = time.perf_counter()
                done = subprocess.run([*cmd, "--concurrency", str(conc), "--quiet"], capture_output=True, text=True)
                seconds = time.perf_counter() - t
                outputs = len(list(dst.rglob("*.png")))
                row = {
                    "concurrency": conc,
                    "exit_code": done.returncode,
                    "outputs": outputs,
                    "seconds": round(seconds, 2),
                    "images_per_s": round(outputs / seconds, 3),
                    "megapixels_per_s": round(megapixels * outputs / args.n / seconds, 3),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    result = {
        "command": "python benchmarks/denoise_dir.py " + " ".join(sys.argv[1:]),
        "images": args.n,
        "megapixels": round(megapixels, 2),
        "service_threads": args.threads,
        "cpus": os.cpu_count(),
        "runs": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "denoise_dir.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"`{result['command']}`: {args.n} photographs ({result['megapixels']} megapixels, mixed sizes and modes), "
        f"service with {args.threads} onnxruntime threads on {os.cpu_count()} CPUs.",
        "",
        "| concurrency | seconds | images/s | megapixels/s | exit code |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(
            "| "
            + " | ".join(str(r[k]) for k in ("concurrency", "seconds", "images_per_s", "megapixels_per_s", "exit_code"))
            + " |"
            for r in rows
        ),
    ]
    (args.out / "denoise_dir.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
