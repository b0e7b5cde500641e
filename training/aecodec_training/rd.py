"""Rate-distortion comparison with the general-purpose codecs: Pillow JPEG and WebP (and AVIF where asked),
each image saved as its own file and read back, and the learned levels through the real serving path.

A point is one setting over a set of images: mean bytes per image (whole files and payloads, headers
included), bits per pixel and mean PSNR (``aecodec_wire.quality``). ``at_bytes`` reads a curve at a given size (PSNR
interpolated over log bytes), ``bytes_for`` the other way round: "equal bytes" and "equal quality".
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from aecodec_wire.manifest import load
from aecodec_wire.quality import psnr_per_image, ssim_per_image
from PIL import Image

from .realpath import round_trip

SWEEPS: dict[str, list[int]] = {
    "jpeg": [1, 5, 10, 20, 30, 50, 75, 90, 95],
    "webp": [0, 5, 10, 20, 30, 50, 75, 90],
    "avif": [0, 10, 30, 50],
}
OPTIONS: dict[str, dict[str, Any]] = {"jpeg": {"optimize": True}, "webp": {"method": 6}, "avif": {}}


def point(x: np.ndarray, rec: np.ndarray, nbytes: np.ndarray, *, ssim: bool = False, **extra: Any) -> dict[str, Any]:
    """One rate-distortion point of uint8 images (N, C, H, W) and their reconstructions (and their mean SSIM)."""
    pixels = x.shape[2] * x.shape[3]
    figures = {
        "bytes": float(nbytes.mean()),
        "bpp": float(nbytes.mean() * 8 / pixels),
        "psnr": float(psnr_per_image(x, rec).mean()),
        "images": len(x),
    }
    return figures | ({"ssim": float(ssim_per_image(x, rec).mean())} if ssim else {}) | extra


def pillow(x: np.ndarray, fmt: str, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Save each image (N, C, H, W) uint8 as its own file and read it back: (reconstructions, bytes)."""
    recs, sizes = [], []
    mode = "L" if x.shape[1] == 1 else "RGB"
    for img in x:
        arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format=fmt, **kw)
        sizes.append(buf.tell())
        back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert(mode))
        recs.append(back[None] if back.ndim == 2 else back.transpose(2, 0, 1))
    return np.stack(recs), np.array(sizes, dtype=np.float64)


def sweep(x: np.ndarray, codec: str, qualities: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One point per quality setting of a Pillow codec (``jpeg``, ``webp``, ``avif``)."""
    out = []
    for q in qualities or SWEEPS[codec]:
        rec, sizes = pillow(x, codec.upper(), quality=q, **OPTIONS[codec])
        out.append(point(x, rec, sizes, quality=q))
    return out


def learned(x: np.ndarray, folder: Path, *, ssim: bool = False) -> dict[str, Any]:
    """One codec level (model folder) through the real path: ONNX -> latent codec -> payload -> decode; also the
    integer tables' estimate of the coded latent bytes."""
    manifest = load(folder)
    rt = round_trip(folder, manifest, x)
    return point(
        x,
        rt.decoded,
        rt.payload_bytes,
        ssim=ssim,
        latent_bytes=float(rt.latent_bytes.mean()),
        est_latent_bytes=float(rt.estimated_bits.mean() / 8),
        model=manifest.name,
        version=manifest.version,
    )


def _curve(points: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    pts = sorted(points, key=lambda p: p["bytes"])
    return np.log(np.array([p["bytes"] for p in pts])), np.array([p["psnr"] for p in pts])


def at_bytes(points: list[dict[str, Any]], nbytes: float) -> float | None:
    """PSNR of a codec's curve at ``nbytes`` per image; None outside the sizes its settings reach."""
    logb, psnr = _curve(points)
    if not logb[0] <= np.log(nbytes) <= logb[-1]:
        return None
    return float(np.interp(np.log(nbytes), logb, psnr))


def bytes_for(points: list[dict[str, Any]], psnr_db: float) -> float | None:
    """Bytes per image a codec's curve needs for ``psnr_db`` (PSNR rising with bytes); None out of reach."""
    logb, psnr = _curve(points)
    best = np.maximum.accumulate(psnr)  # a curve that dips is read by its best setting so far
    if not best[0] <= psnr_db <= best[-1]:
        return None
    return float(np.exp(np.interp(psnr_db, best, logb)))
