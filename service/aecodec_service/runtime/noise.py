"""How noisy an image is, measured classically, so a denoiser can leave clean images alone.

Donoho's robust estimator: the finest diagonal Haar detail HH = (a - b - c + d) / 2 of each 2x2 block is
almost pure noise in a natural image (smooth content cancels in it), and for i.i.d. Gaussian noise of
standard deviation sigma it is Gaussian with the same sigma; its median absolute value over the image,
divided by 0.6745 (the median of |N(0, 1)|), ignores the few large coefficients that edges and texture
give. On 8-bit pixels HH takes half-integer values, so the plain median moves in steps of 0.74 levels of
sigma; the median is read from the histogram with linear interpolation inside its bin instead, which makes
the estimate a smooth function of the noise (it matters near the threshold the service compares it with).

The estimate is made once per image, on the whole image (never per tile), so a large image is gated the
same way whether the model then runs on it whole or in tiles.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Literal

import numpy as np
from aecodec_wire.manifest import Manifest

from .imaging import Prepared

MAD_TO_SIGMA = 0.6744897501960817  # the median of |N(0, 1)|


class _Clean(enum.Enum):
    CLEAN = "clean"


CLEAN = _Clean.CLEAN  # leave the image as it is: do not run the model
Level = float | None | Literal[_Clean.CLEAN]  # the noise level to tell the model (None: blind), or CLEAN


def noise_levels(manifest: Manifest, prepared: Sequence[Prepared], sigma: float | None) -> list[Level]:
    """Per image, what a denoiser is told: ``sigma`` (0-255, the request's) or None (blind), or CLEAN.

    Without a noise gate in the manifest, every image runs with the request's ``sigma``. With one, an image
    whose noise level (the request's ``sigma``, else the estimate) is below the gate's ``clean_below`` is
    CLEAN; above it, the model is told the estimate below the gate's ``estimate_below``, else runs blind."""
    gate = manifest.noise_gate
    if gate is None:
        return [sigma] * len(prepared)
    if sigma is not None:
        return [CLEAN if sigma < gate.clean_below else sigma] * len(prepared)
    lo, hi = manifest.input.range
    out: list[Level] = []
    for p in prepared:
        hat = estimate_sigma((p.x[0, :, : p.height, : p.width] - lo) * (255.0 / (hi - lo)))
        told = gate.estimate_below is not None and hat < gate.estimate_below
        out.append(CLEAN if hat < gate.clean_below else hat if told else None)
    return out


def estimate_sigma(levels: np.ndarray) -> float:
    """The noise level of an image on the 0-255 scale: ``levels`` is (H, W) or (C, H, W) on 0-255 (8-bit
    pixel values; floats are rounded). Per channel, then the mean over channels; below 2x2 pixels, 0."""
    x = np.asarray(levels)
    planes = [x] if x.ndim == 2 else list(x)
    return float(np.mean([_channel_sigma(p) for p in planes])) if planes else 0.0


def _channel_sigma(plane: np.ndarray) -> float:
    h, w = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    if h == 0 or w == 0:
        return 0.0
    p = np.rint(plane[:h, :w]).astype(np.int32)
    # twice HH, an integer: a - b - c + d over the 2x2 blocks
    twice = np.abs(p[0::2, 0::2] - p[0::2, 1::2] - p[1::2, 0::2] + p[1::2, 1::2])
    counts = np.bincount(twice.ravel())
    return _interpolated_median(counts) / 2 / MAD_TO_SIGMA


def _interpolated_median(counts: np.ndarray) -> float:
    """The median of |v| for integer v rounded from a continuous variable, read from the histogram of |v|
    (counts[k] values equal to k): bin 0 holds |v| in [0, 0.5), bin k >= 1 holds [k - 0.5, k + 0.5)."""
    half = counts.sum() / 2
    below = np.cumsum(counts) - counts  # values in the bins before k
    k = int(np.searchsorted(np.cumsum(counts), half, side="right"))
    k = min(k, len(counts) - 1)
    lo, width = (0.0, 0.5) if k == 0 else (k - 0.5, 1.0)
    return lo + width * float(half - below[k]) / max(int(counts[k]), 1)
