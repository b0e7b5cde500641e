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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from aecodec_wire.manifest import Manifest

from .erasure import erased_rectangles
from .imaging import Prepared

MAD_TO_SIGMA = 0.6744897501960817  # the median of |N(0, 1)|
Box = tuple[int, int, int, int]  # top, bottom, left, right (exclusive ends), in pixels


@dataclass(frozen=True)
class Plan:
    """What a denoiser does with one image: nothing (``run`` False: the input comes back as it is), or run the
    model told ``level`` (0-255; None: blind) and keep its output everywhere, or only inside ``patches``."""

    run: bool = True
    level: float | None = None
    patches: tuple[Box, ...] | None = None


KEEP = Plan(run=False)


def plans(manifest: Manifest, prepared: Sequence[Prepared], sigma: float | None) -> list[Plan]:
    """Per image, what a denoiser does, from the request's ``sigma`` (0-255) or the image's estimated level.

    Without a noise gate in the manifest, every image runs, told the request's ``sigma`` (blind without one).
    With one, an image whose level (the request's ``sigma``, else the estimate) is below the gate's
    ``clean_below`` is kept as it is, except for the erased patches in it when the gate inpaints them
    (``erasure.py``: only there does the model's output replace the input); above it, the model is told the
    estimate below the gate's ``estimate_below``, else runs blind (a told ``sigma`` is always passed on)."""
    gate = manifest.noise_gate
    if gate is None:
        return [Plan(level=sigma) for _ in prepared]
    lo, hi = manifest.input.range
    out = []
    for p in prepared:
        levels = (p.x[0, :, : p.height, : p.width] - lo) * (255.0 / (hi - lo))
        noise = sigma if sigma is not None else estimate_sigma(levels)
        if noise >= gate.clean_below:
            told = sigma is not None or (gate.estimate_below is not None and noise < gate.estimate_below)
            out.append(Plan(level=noise if told else None))
            continue
        patches = tuple(erased_rectangles(levels)) if gate.inpaint_erased else ()
        out.append(Plan(patches=patches) if patches else KEEP)
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
