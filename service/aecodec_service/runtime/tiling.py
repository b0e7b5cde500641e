"""Running a fully convolutional graph over a large image tile by tile, in bounded memory and without seams.

Why tiles: onnxruntime's memory for a convolutional graph grows with the image (a 2048x2048 image took
2.7 GB in a codec's encoder and decoder), and its CPU arena keeps that peak. Run tile by tile, the peak
is set by the tile size, whatever the image size.

Why no seams: each tile is run with ``halo`` cells of real neighbouring content on every side (fewer
at the image's own border, where the whole-image run sees the same zero padding), and only its core
is kept. As long as the halo covers the graph's receptive field, every kept value is computed from
exactly the inputs the whole-image run uses, so the tiled result equals the untiled one within float
rounding (tests/service/test_tiling.py checks it for the shipped any-size models). The receptive
field is measured once per model version at load (``measure_reach``: how far a change in one input
cell moves the outputs), so a deeper model gets a wider halo without anyone writing it down.

Tiles are aligned to whole cells: an encoder cell is ``pad_multiple`` pixels (every stride of the graph
divides it, so each tile's strided convolutions sample the same grid as the whole image's); a decoder
cell is one latent element. For codecs this means the whole latent is entropy-coded as one (the payload
does not depend on the tiling), and only the graphs run tile-wise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

TILE_PX = 576  # least core tile side in image pixels: a 768x512 photograph (fewer pixels than 640x640) runs whole
CORE_HALOS = 4  # and a core at least this many halos wide: halos add at most (1 + 2/4)**2 = 2.25x a core's area
HALO_PX = 32  # least context on each side; a model whose graphs see farther gets its measured reach
PROBE_CELLS = 9  # first side of the probe input (in cells) that measures a graph's reach; odd: a centre cell


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
    """Whether a (1, C, H, W) input has more elements than one tile with its halos. Memory follows the area, so
    an image whose long side is over the tile but whose area is not runs whole (as tiles it would overlap by
    their halos and cost more time for no memory saved)."""
    side = (tile + 2 * halo) * unit
    return x.ndim == 4 and x.shape[2] * x.shape[3] > side * side


def measure_reach(
    run: Callable[[np.ndarray], list[np.ndarray]], channels: int, unit: int, scale: float, max_elements: int = 1024
) -> int:
    """How many cells away a change in one input cell still changes an output: the halo a graph needs.

    Runs the graph on a random square input of ``PROBE_CELLS`` cells (``unit`` elements per cell, values
    of size ``scale``: pixels or latent values) and again with its centre cell changed, and measures how
    far the outputs moved. When the change reaches the probe's edge, the probe grows (up to
    ``max_elements`` per side); a graph that reaches even that edge gets the largest probe's half-width
    plus one, the widest halo this can vouch for."""
    cells = PROBE_CELLS
    while True:
        reach, c = _probe(run, channels, unit, scale, cells), cells // 2
        if reach < c:
            return reach
        if (2 * cells + 1) * unit > max_elements:
            return c + 1
        cells = 2 * cells + 1


def _probe(run: Callable[[np.ndarray], list[np.ndarray]], channels: int, unit: int, scale: float, cells: int) -> int:
    rng = np.random.default_rng(0)
    n = cells * unit
    x = (rng.standard_normal((1, channels, n, n)) * scale).astype(np.float32)
    y = x.copy()
    c = cells // 2
    y[:, :, c * unit : (c + 1) * unit, c * unit : (c + 1) * unit] += np.float32(3 * scale)
    reach = 0
    for a, b in zip(run(x), run(y), strict=True):
        if a.ndim != 4:
            continue
        per_cell = a.shape[2] / cells
        moved = np.abs(b - a).max(axis=(0, 1)) > 1e-5 * max(1.0, float(np.abs(a).max()))
        rows, cols = np.nonzero(moved)
        if not len(rows):
            continue
        lo, hi = c * per_cell, (c + 1) * per_cell  # the changed cell's span in output elements
        far = max(lo - rows.min(), rows.max() + 1 - hi, lo - cols.min(), cols.max() + 1 - hi, 0)
        reach = max(reach, int(np.ceil(far / per_cell)))
    return reach


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
