"""Rate-distortion of the photo codec levels against JPEG, WebP and AVIF on the validation photographs.

    python benchmarks/photo_codec.py --data-dir ../shared/data/photos ../shared/data/photos-more \
        --models models/photo-codec-q{1,2,3,4} [models/photo-codec-vr]

A variable-rate model is measured at each of its presets (``<name>-q1..qK``), one curve per model. The learned
levels go through the real service: a uvicorn server on a loopback port over a temporary model
folder holding just these levels (or ``--url`` of a running one), ``POST /encode`` of the PNG, ``POST /decode``
of the payload; bits per pixel count the whole payload. JPEG (Pillow, optimize), WebP (method 6) and AVIF
(pillow-avif-plugin, speed 6) are swept over their quality settings on the same full-size photographs. PSNR
is RGB PSNR on 8-bit pixels (``aecodec_wire.quality``, the project's one PSNR); every figure is the mean over
the photographs. Also times encode + decode of a 768x512 crop through the service. Writes
results/photo_codec/{results.json,results.md,rd.png}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from aecodec_training.datasets.photos import load_photos
from aecodec_wire.manifest import load
from aecodec_wire.quality import psnr
from PIL import Image
from served import service

try:
    import pillow_avif  # noqa: F401  (registers AVIF with Pillow)

    HAVE_AVIF = True
except ImportError:
    HAVE_AVIF = False

JPEG_Q = (2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)
WEBP_Q = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
AVIF_Q = (5, 15, 25, 35, 45, 55, 65, 75)
OUT = Path("results/photo_codec")
CLASSICAL = ("JPEG (optimize)", "WebP (method 6)", "AVIF (speed 6)")
SAVE_OPTIONS: dict[str, dict[str, Any]] = {"JPEG": {"optimize": True}, "WEBP": {"method": 6}, "AVIF": {"speed": 6}}


def classical(images: list[np.ndarray], fmt: str, quality: int) -> tuple[float, float]:
    """Mean (bpp, PSNR) of one Pillow format at one quality over the images."""
    bpps, psnrs = [], []
    for img in images:
        buf = io.BytesIO()
        opts = SAVE_OPTIONS[fmt]
        Image.fromarray(img).save(buf, fmt, quality=quality, **opts)
        data = buf.getvalue()
        with Image.open(io.BytesIO(data)) as im:
            back = np.asarray(im.convert("RGB"))
        bpps.append(8 * len(data) / (img.shape[0] * img.shape[1]))
        psnrs.append(psnr(back, img))
    return float(np.mean(bpps)), float(np.mean(psnrs))


def png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def learned(client: httpx.Client, images: list[np.ndarray], model: str) -> tuple[float, float]:
    bpps, psnrs = [], []
    for img in images:
        r = client.post(f"/encode?model={model}", content=png(img), headers={"Content-Type": "image/png"})
        r.raise_for_status()
        d = client.post("/decode", content=r.content, headers={"Content-Type": "application/x-protobuf"})
        d.raise_for_status()
        with Image.open(io.BytesIO(d.content)) as im:
            back = np.asarray(im.convert("RGB"))
        bpps.append(8 * len(r.content) / (img.shape[0] * img.shape[1]))
        psnrs.append(psnr(back, img))
    return float(np.mean(bpps)), float(np.mean(psnrs))


def presets(folder: Path) -> list[str]:
    """The names to measure a model folder by: a variable-rate model's presets ``<name>-q1..qK``, else its name."""
    manifest = load(folder, verify=False)
    if manifest.variable_rate is None:
        return [folder.name]
    return [f"{folder.name}-q{k}" for k in range(1, manifest.variable_rate.levels + 1)]


def interp(curve: list[tuple[float, float]], bpp: float) -> float | None:
    """PSNR of a (bpp, PSNR) curve at ``bpp`` by linear interpolation; None outside its range."""
    pts = sorted(curve)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if not xs[0] <= bpp <= xs[-1]:
        return None
    return float(np.interp(bpp, xs, ys))


def timing(client: httpx.Client, img: np.ndarray, model: str, repeats: int = 5) -> float:
    """Best-of-n seconds for encode + decode of one image over HTTP."""
    body = png(img)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        r = client.post(f"/encode?model={model}", content=body, headers={"Content-Type": "image/png"})
        client.post("/decode", content=r.content, headers={"Content-Type": "application/x-protobuf"})
        best = min(best, time.perf_counter() - t)
    return best


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for name, pts in results["curves"].items():
        pts = sorted(pts)
        style = ".--" if name in CLASSICAL else "o-"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=name)
    ax.set_xlim(0, 1.2)
    ax.set_xlabel("bits per pixel (whole file / payload)")
    ax.set_ylabel("RGB PSNR (dB)")
    ax.set_title(f"Validation photographs ({results['images']} images, full size)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, nargs="+", required=True, help="photo folders (the validation split)")
    p.add_argument("--models", type=Path, nargs="+", required=True, help="model folders (variable rate: every preset)")
    p.add_argument("--url", help="a running service (default: start one over --models)")
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()
    photos = load_photos(list(a.data_dir))
    names = {m.name: presets(m) for m in a.models}
    images = photos.val
    crop = next(img for img in images if img.shape[0] >= 512 and img.shape[1] >= 768)[:512, :768]

    def measure(client: httpx.Client) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
        levels = {n: learned(client, images, n) for group in names.values() for n in group}
        return levels, {n: timing(client, crop, n) for n in levels}

    if a.url is not None:
        with httpx.Client(base_url=a.url, timeout=120) as client:
            levels, seconds = measure(client)
    else:  # a service over a folder holding copies of just these model folders
        with tempfile.TemporaryDirectory(prefix="aecodec-photo-bench-") as tmp:
            for m in a.models:
                shutil.copytree(m, Path(tmp) / m.name)
            threads = os.environ.get("AECODEC_INTRA_OP_THREADS", "2")
            with service(Path(tmp), intra_op_threads=threads) as (client, _):
                levels, seconds = measure(client)
    curves: dict[str, list[tuple[float, float]]] = {}
    for folder, group in names.items():  # one curve per variable-rate model, one for the fixed levels
        key = folder if len(group) > 1 else "aecodec fixed levels"
        curves.setdefault(key, []).extend(levels[n] for n in group)
    learned_curves = set(curves)
    curves["JPEG (optimize)"] = [classical(images, "JPEG", q) for q in JPEG_Q]
    curves["WebP (method 6)"] = [classical(images, "WEBP", q) for q in WEBP_Q]
    if HAVE_AVIF:
        curves["AVIF (speed 6)"] = [classical(images, "AVIF", q) for q in AVIF_Q]
    rows = []
    for name, (bpp, db) in levels.items():
        row = {"model": name, "bpp": bpp, "psnr_db": db, "encode_decode_768x512_s": seconds[name]}
        for other in curves:
            if other not in learned_curves:
                row[other] = interp(curves[other], bpp)
        rows.append(row)
    results = {"images": len(images), "names": photos.val_names, "levels": rows, "curves": curves}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    others = [o for o in curves if o not in learned_curves]
    lines = [
        f"Validation photographs ({len(images)}: {', '.join(photos.val_names)}), full size; mean bpp and RGB PSNR.",
        "Other codecs' PSNR is their curve interpolated at the level's bpp (— outside their range).",
        "",
        "| level | bpp | PSNR dB | " + " | ".join(f"{o} dB" for o in others) + " | encode+decode 768x512 |",
        "|---|---:|---:|" + "---:|" * len(others) + "---:|",
    ]
    for r in rows:
        cells = " | ".join("—" if r[o] is None else f"{r[o]:.2f}" for o in others)
        s = r["encode_decode_768x512_s"]
        lines.append(f"| {r['model']} | {r['bpp']:.3f} | {r['psnr_db']:.2f} | {cells} | {s:.2f} s |")
    (a.out / "results.md").write_text("\n".join(lines) + "\n")
    plot(results, a.out / "rd.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
