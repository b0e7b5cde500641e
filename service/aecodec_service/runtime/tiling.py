"""Running a fully convolutional graph over a large image tile by tile, in bounded memory and without seams.

Why tiles: onnxruntime's memory for a convolutional graph grows with the image (a 2048x2048 image took
2.7 GB in a codec's encoder and decoder), and its CPU arena keeps that peak. Run tile by tile, the peak
is set by the tile size, whatever the image size.

Why no seams: each tile is run with ``halo`` cells of real neighbouring content on every side (fewer
at the image's own border, where the whole-image run sees the same zero padding), and only its core
is kept. As long as the halo covers the graph's receptive field, every kept value is computed from
exactly the inputs the whole-image run uses, so the tiled result equals the untiled one within float
rounding (tests/service/test_tiling.py checks it for the shipped any-size models).

Tiles are aligned to whole cells: an encoder cell is ``pad_multiple`` pixels (every stride of the graph
divides it, so each tile's strided convolutions sample the same grid as the whole image's); a decoder
cell is one latent element. For codecs this means the whole latent is entropy-coded as one (the payload
does not depend on the tiling), and only the graphs run tile-wise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

TILE_PX = 512  # core tile size in image pixels: peak memory follows (TILE_PX + 2 * HALO_PX) ** 2
HALO_PX = 32  # context on each side; the shipped any-size models see at most ~30 pixels around a pixel


@dataclass(frozen=True)
class Span:
    """One tile along one axis, in cells: the kept core [core0, core1) and the run input [in0, in1)."""

    core0: int
    core1: int
    in0: int
    in1: int


def spans(cells: int, tile: int, halo: int) -> list[Span]:
    return [Span(c, min(cells, c + tile), max(0, c - halo), min(cells, c + tile + halo)) for c in range(0, cells, tile)]


def needs_tiles(x: np.ndarray, unit: int, tile: int, halo: int) -> bool:
    """Whether a (1, C, H, W) input is larger than one tile with its halo."""
    return x.ndim == 4 and max(x.shape[2], x.shape[3]) > (tile + 2 * halo) * unit


def tile_count(x: np.ndarray, unit: int, tile: int, halo: int) -> int:
    return len(spans(x.shape[2] // unit, tile, halo)) * len(spans(x.shape[3] // unit, tile, halo))


async def run_tiled(
    run: Callable[[np.ndarray], Awaitable[list[np.ndarray]]], x: np.ndarray, unit: int, tile: int, halo: int
) -> list[np.ndarray]:
    """Outputs of ``run`` over the whole (1, C, H, W) ``x``, computed tile by tile.

    ``unit`` is the input size of one cell (H and W are multiples of it); ``tile`` and ``halo`` count cells.
    Every output must be spatial with a whole number of output elements per cell (its scale)."""
    rows, cols = x.shape[2] // unit, x.shape[3] // unit
    if rows * unit != x.shape[2] or cols * unit != x.shape[3]:
        raise ValueError(f"input {x.shape[2:]} is not a whole number of {unit}-element cells")
    full: list[np.ndarray] = []
    scales: list[int] = []
    for r in spans(rows, tile, halo):
        for c in spans(cols, tile, halo):
            part = await run(x[:, :, r.in0 * unit : r.in1 * unit, c.in0 * unit : c.in1 * unit])
            if not full:
                for out in part:
                    scale = out.shape[2] // (r.in1 - r.in0)
                    if (
                        out.ndim != 4
                        or scale * (r.in1 - r.in0) != out.shape[2]
                        or scale * (c.in1 - c.in0) != out.shape[3]
                    ):
                        raise ValueError(f"output {out.shape} does not scale with the tile's {r.in1 - r.in0} cells")
                    scales.append(scale)
                    full.append(np.empty((1, out.shape[1], rows * scale, cols * scale), dtype=out.dtype))
            for out, dst, s in zip(part, full, scales, strict=True):
                dst[:, :, r.core0 * s : r.core1 * s, c.core0 * s : c.core1 * s] = out[
                    :, :, (r.core0 - r.in0) * s : (r.core1 - r.in0) * s, (c.core0 - c.in0) * s : (c.core1 - c.in0) * s
                ]
    return full
