"""Corruptions the denoising benchmarks score (uint8 in, uint8 out); scored with ``aecodec_wire.quality``."""

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
