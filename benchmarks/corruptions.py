"""Corruptions and the PSNR the denoising benchmarks score them with (uint8 in, uint8 out)."""

from __future__ import annotations

import numpy as np


def gaussian(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise, sigma on 0-255, clipped and rounded to 8 bits."""
    return np.clip(np.rint(img + rng.standard_normal(img.shape) * sigma), 0, 255).astype(np.uint8)


def erase(img: np.ndarray, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Black out `count` random `size` x `size` squares."""
    out = img.copy()
    h, w = img.shape[:2]
    for _ in range(count):
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        out[y : y + size, x : x + size] = 0
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB on 0-255; identical images score 100 dB rather than infinity."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * float(np.log10(255.0**2 / max(mse, 1e-10)))
