"""Uniform per-channel quantisation of latents and the integer tables it is coded with.

The quantiser is mid-rise over [lo, hi] with 2^bits bins. The bins at b bits
are exactly the 8-bit bins merged 2^(8-b) at a time, so one 256-bin histogram
per channel (measured at export) yields the frequency table for every ``bits``.
Latents have shape (N, C, *spatial); statistics index the channel axis.
"""

from __future__ import annotations

import numpy as np

from .manifest import LatentStats

MIN_BITS = 2
MAX_BITS = 8
_PERCENTILE = 0.05  # clip this share of outliers at each end when measuring lo/hi


def check_bits(bits: int) -> None:
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be between {MIN_BITS} and {MAX_BITS}, got {bits}")


def _per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (C,) vector so it broadcasts over (N, C, *spatial)."""
    return np.asarray(values, dtype=np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def quantize(latent: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: int) -> np.ndarray:
    """(N, C, *spatial) floats -> int32 symbols in [0, 2^bits)."""
    check_bits(bits)
    lo_b, hi_b = _per_channel(lo, latent.ndim), _per_channel(hi, latent.ndim)
    scaled = (latent.astype(np.float64) - lo_b) / (hi_b - lo_b) * (1 << bits)
    return np.clip(np.floor(scaled), 0, (1 << bits) - 1).astype(np.int32)


def dequantize(symbols: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: int) -> np.ndarray:
    """Symbols -> float32 latent at the centres of their bins."""
    check_bits(bits)
    lo_b, hi_b = _per_channel(lo, symbols.ndim), _per_channel(hi, symbols.ndim)
    return (lo_b + (symbols.astype(np.float64) + 0.5) / (1 << bits) * (hi_b - lo_b)).astype(np.float32)


def measure_stats(latent: np.ndarray) -> LatentStats:
    """Per-channel range, moments and 8-bit histogram of training latents (N, C, *spatial)."""
    channels = latent.shape[1]
    per_channel = np.moveaxis(latent, 1, 0).reshape(channels, -1).astype(np.float64)
    lo = np.percentile(per_channel, _PERCENTILE, axis=1)
    hi = np.percentile(per_channel, 100 - _PERCENTILE, axis=1)
    # a constant channel (e.g. a dead ReLU unit) still needs a non-empty range
    width = np.maximum(hi - lo, 1e-6)
    hi = lo + width
    symbols = quantize(latent, lo, hi, MAX_BITS)
    flat = np.moveaxis(symbols, 1, 0).reshape(channels, -1)
    counts = np.stack([np.bincount(row, minlength=256) for row in flat]) + 1
    return LatentStats(
        lo=lo.tolist(),
        hi=hi.tolist(),
        mean=per_channel.mean(axis=1).tolist(),
        std=per_channel.std(axis=1).tolist(),
        counts=counts.astype(int).tolist(),
    )


def tables_for_bits(counts: np.ndarray, bits: int) -> np.ndarray:
    """(C, 256) 8-bit counts -> (C, 2^bits) integer frequency tables for ``bits``."""
    check_bits(bits)
    counts = np.asarray(counts, dtype=np.int64)
    return counts.reshape(counts.shape[0], 1 << bits, 1 << (MAX_BITS - bits)).sum(axis=2)
