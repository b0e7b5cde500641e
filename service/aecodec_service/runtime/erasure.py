"""Erased patches: small black rectangles cut into an otherwise clean image.

Why a detector and not the model's own judgement: the denoiser inpaints erased squares well, but it also
"inpaints" natural black areas (measured: on a clean photograph with a black background it changes pixels
by up to 92 levels), so keeping its large changes would alter clean images. An erased patch has a shape a
natural black area rarely has: an axis-aligned rectangle of exactly black pixels (0 in every channel) with
no other black pixel touching it, not even diagonally. Only such rectangles are handed to the model; the
rest of a clean image stays bit-identical. A patch that touches other black pixels (as on a digit's black
background) is left alone, which is never worse than the input.
"""

from __future__ import annotations

import numpy as np

MIN_SIDE = 4  # smaller black rectangles are too common in photographs (dark pixels) to be taken for erasures
MAX_SIDE = 64  # larger ones are letterboxes, borders or black backgrounds, not patches


def erased_rectangles(
    levels: np.ndarray, min_side: int = MIN_SIDE, max_side: int = MAX_SIDE
) -> list[tuple[int, int, int, int]]:
    """(C, H, W) or (H, W) pixel levels -> the isolated black rectangles (top, bottom, left, right; exclusive
    ends) whose sides are within [min_side, max_side], top to bottom, then left to right."""
    black = levels == 0 if levels.ndim == 2 else np.all(levels == 0, axis=0)
    if not black.any():
        return []
    height, width = black.shape
    edges = np.diff(np.pad(black, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)  # each row's runs of black, in row-major order
    _, ends = np.nonzero(edges == -1)
    order = np.lexsort((rows, ends, starts))  # runs with the same columns, by row
    rows, starts, ends = rows[order], starts[order], ends[order]
    # a chain is a stack of identical runs on consecutive rows
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (starts[1:] != starts[:-1]) | (ends[1:] != ends[:-1]) | (rows[1:] != rows[:-1] + 1)
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(rows)) - 1
    top, bottom, left, right = rows[first], rows[last] + 1, starts[first], ends[first]
    sized = (bottom - top >= min_side) & (bottom - top <= max_side) & (right - left >= min_side)
    sized &= right - left <= max_side
    top, bottom, left, right = top[sized], bottom[sized], left[sized], right[sized]
    # black pixels in the rows just above and below, over the run's columns and one more on each side (left and
    # right of each run are not black, by the run's definition); counted from running sums, all at once
    sums = np.zeros((height + 2, width + 1), dtype=np.int32)
    np.cumsum(np.pad(black, ((1, 1), (0, 0))), axis=1, out=sums[:, 1:])
    lo, hi = np.maximum(left - 1, 0), np.minimum(right + 1, width)
    above = sums[top, hi] - sums[top, lo]  # padded row index top is image row top - 1
    below = sums[bottom + 1, hi] - sums[bottom + 1, lo]
    alone = (above == 0) & (below == 0)
    boxes = zip(top[alone].tolist(), bottom[alone].tolist(), left[alone].tolist(), right[alone].tolist(), strict=True)
    return sorted(boxes)
