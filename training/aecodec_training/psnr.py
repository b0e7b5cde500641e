"""The one PSNR of the project: 8-bit pixels, per image, with a fixed answer for an exact copy.

numpy only (no torch), so benchmarks and tests of torch-free parts import it too. An exact copy has MSE 0
and an infinite PSNR, and one such image would make a mean over images infinite, so PSNR is capped at
``MAX_PSNR_DB`` = 100 dB: an exact copy gives exactly 100 dB, and so does a near copy of a large image
(one pixel off by one in 1024 x 1024 would be 108 dB). Lossy codecs on 8-bit pixels stay far below the cap.
Every figure in the manifests, benchmarks and tests goes through ``psnr_per_image``.
"""

from __future__ import annotations

import numpy as np

MAX_PSNR_DB = 100.0  # the cap, and the PSNR of an exact copy (MSE 0): means over images stay finite
PEAK = 255.0


def psnr_per_image(original: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """(N,) PSNR in dB of two (N, ...) arrays of 8-bit pixel values (uint8, or floats on 0..255)."""
    a = np.asarray(original, dtype=np.float64).reshape(len(original), -1)
    b = np.asarray(decoded, dtype=np.float64).reshape(len(decoded), -1)
    if a.shape != b.shape:
        raise ValueError(f"PSNR of images of different shapes: {a.shape} vs {b.shape}")
    mse = ((a - b) ** 2).mean(1)
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(PEAK**2 / mse)
    return np.minimum(db, MAX_PSNR_DB)


def mean_psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """Mean over images of ``psnr_per_image`` (the figure the manifests and benchmarks report)."""
    return float(psnr_per_image(original, decoded).mean())
