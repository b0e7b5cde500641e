"""Running one model graph for a request's items: inline, through the micro-batcher, or tile by tile."""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from collections.abc import Awaitable
from typing import TypeVar

import numpy as np

from .batcher import MicroBatcher, all_or_none
from .sessions import Graph, ModelRuntime
from .tiling import CORE_HALOS, run_tiled, tile_count

T = TypeVar("T")
Outputs = list[list[np.ndarray]]  # per item: the graph's outputs, each (1, ...)


async def within(aw: Awaitable[T], seconds: float) -> T:
    """``wait_for`` without its extra task where ``asyncio.timeout`` exists (Python 3.11+)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await aw
    return await asyncio.wait_for(aw, seconds)  # pragma: no cover - Python 3.10


async def run_rows(batcher: MicroBatcher, xs: list[np.ndarray], timeout: float, alone: bool) -> Outputs:
    """Per-item (1, ...) inputs through the batcher; same-shaped items go as one block."""
    # a lone single-image request runs its tiny graph on the event loop: no queue, no task, no thread hop;
    # with company, the batcher wins: onnxruntime runs beside the event loop (GIL released) and rows batch up
    if len(xs) == 1 and alone:
        outs = batcher.try_inline(xs[0])
        if outs is not None:
            return [outs]
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, x in enumerate(xs):
        groups[x.shape[1:]].append(i)

    async def one(idx: list[int]) -> list[np.ndarray]:
        block = xs[idx[0]] if len(idx) == 1 else np.concatenate([xs[i] for i in idx])
        return await within(batcher.submit(block), timeout)

    if len(groups) == 1:
        results = [await one(next(iter(groups.values())))]
    else:  # if one group fails, the others leave the queue: nobody computes rows of a failed request
        results = await all_or_none(one(idx) for idx in groups.values())
    out: Outputs = [[] for _ in xs]
    for idx, outs in zip(groups.values(), results, strict=False):
        for row, i in enumerate(idx):
            out[i] = [o[row : row + 1] for o in outs]
    return out


def tile_geometry(rt: ModelRuntime, graph: str, tile_px: int, halo_px: int) -> tuple[int, int, int] | None:
    """(unit, tile, halo) for tiling this graph of an any-size model; None for a fixed-size model.

    An encoder cell (of the whole encoder, or of its analysis part: ``SplitEncoder``) is ``pad_multiple`` pixels;
    a decoder cell is one latent element. The halo is at least ``halo_px`` and at least the graph's measured reach
    (``ModelRuntime.reach``), so tiles have no seams; the core is at least ``CORE_HALOS`` halos wide, so a graph
    that sees far does not spend most of its time on halos (photo-codec-vr's encoder: 3 cells of 64 pixels each
    side of a 9-cell core ran 2.8x its core's area)."""
    manifest = rt.manifest
    if manifest.input.fixed_size:
        return None
    pad = manifest.input.pad_multiple
    unit, px = (pad, pad) if graph in ("encoder", "analysis") else (1, manifest.latent_stride or pad)
    halo = max(-(-halo_px // px), rt.reach.get(graph, 0))
    return unit, max(1, -(-tile_px // px), CORE_HALOS * halo), halo


async def run_in_tiles(
    graph: Graph, batcher: MicroBatcher, xs: list[np.ndarray], geometry: tuple[int, int, int], timeout: float
) -> Outputs:
    """Each (1, C, H, W) input tile by tile, one tile in the graph at a time; the arena shrinks after the last."""
    left = sum(tile_count(x, *geometry) for x in xs)

    async def run_tile(t: np.ndarray) -> list[np.ndarray]:
        nonlocal left
        left -= 1
        if not left:  # the last one gives the arena's growth back afterwards
            graph.shrink_after_next_run()
        return await within(batcher.submit(np.ascontiguousarray(t)), timeout)

    return [await run_tiled(run_tile, x, *geometry) for x in xs]
