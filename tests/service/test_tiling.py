"""Large images on any-size models run tile by tile: the same result as one whole-image run, without seams."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
from aecodec_service.core.config import Settings
from aecodec_service.runtime import graphs
from aecodec_service.runtime.encoder_split import cut_encoder
from aecodec_service.runtime.graphs import tile_geometry
from aecodec_service.runtime.pipeline import Pipeline
from aecodec_service.runtime.sessions import load_model
from aecodec_service.runtime.tiling import measure_reach, needs_tiles, run_tiled, spans
from aecodec_wire import payload as wire
from aecodec_wire.v1 import payload_pb2 as pb
from onnx import TensorProto, helper

from .conftest import SHIPPED, Running
from .helpers import png, read

IMG = {"Content-Type": "image/png"}
PB = {"Content-Type": "application/x-protobuf"}


def test_spans_cover_every_cell_once_with_halo_inside_the_image() -> None:
    for cells, tile, halo in [(1, 4, 2), (9, 4, 2), (64, 16, 4), (17, 16, 0)]:
        got = spans(cells, tile, halo)
        assert [c for s in got for c in range(s.core0, s.core1)] == list(range(cells))
        assert all(0 <= s.in0 <= s.core0 and s.core1 <= s.in1 <= cells for s in got)
        assert all(s.core0 - s.in0 == min(halo, s.core0) for s in got)


def test_tiles_follow_the_area_not_the_longer_side() -> None:
    """Memory follows the area: an image runs whole while it has no more elements than one tile with its halos.
    denoiser-unet's decoder (16-pixel cells, 32-cell tiles, its measured reach of 7 cells: 736 x 736 pixels)
    runs a 768x512 photograph whole, though its long side is over the tile; so does a long thin strip."""
    unet = (16, 32, 7)
    plain = (1, 512, 32)  # one pixel a cell, the least halo: 576 x 576

    def image(h: int, w: int) -> np.ndarray:
        return np.empty((1, 3, h, w), np.float32)

    assert not needs_tiles(image(512, 768), *unet)
    assert needs_tiles(image(512, 768), *plain)  # 393,216 pixels > 576^2
    assert not needs_tiles(image(64, 4096), *plain)
    assert not needs_tiles(image(576, 576), *plain) and needs_tiles(image(577, 576), *plain)
    assert needs_tiles(image(3000, 4000), *unet)


def test_run_tiled_equals_a_whole_run_of_a_local_operation() -> None:
    """A 3x3 box filter with stride 2 (receptive field 3 at input scale): tiles with a halo of one cell agree."""
    x = np.random.default_rng(0).normal(size=(1, 2, 40, 24)).astype(np.float32)

    def box(a: np.ndarray) -> np.ndarray:  # zero padding at the borders, stride 2, like a strided conv
        p = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
        s = sum(p[:, :, i : i + a.shape[2], j : j + a.shape[3]] for i in range(3) for j in range(3))
        return s[:, :, ::2, ::2]

    async def run(t: np.ndarray) -> list[np.ndarray]:
        return [box(t)]

    tiled = asyncio.run(run_tiled(run, x, 4, 2, 1))[0]
    np.testing.assert_allclose(tiled, box(x), rtol=1e-6, atol=1e-5)


def test_measured_reach_is_the_receptive_field() -> None:
    def box(a: np.ndarray, k: int) -> list[np.ndarray]:
        p = np.pad(a, ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)))
        return [sum(p[:, :, i : i + a.shape[2], j : j + a.shape[3]] for i in range(k) for j in range(k))]

    assert measure_reach(lambda a: box(a, 1), 2, 1, 1.0) == 0
    assert measure_reach(lambda a: box(a, 5), 2, 1, 1.0) == 2  # one element per cell: +-2 cells
    assert measure_reach(lambda a: box(a, 5), 2, 4, 1.0) == 1  # 4 elements per cell: 2 elements reach 1 cell
    assert measure_reach(lambda a: box(box(a, 9)[0], 9), 1, 1, 1.0) == 8  # beyond the first probe: a larger one
    assert measure_reach(lambda a: box(box(a, 9)[0], 9), 1, 1, 1.0, max_elements=12) == 5  # no larger: capped


@pytest.mark.parametrize("name", ["cifar-conv", "cifar-codec-q1", "photo-codec-q1", "photo-codec-vr"])
def test_tiled_graphs_equal_whole_image_graphs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hyperprior codec's encoder runs large images in its two parts, the analysis in tiles with its own shorter
    halo and the hyper-analysis over the whole latent: the same latent and side latent as the whole graph."""
    folder = SHIPPED / name
    monkeypatch.setattr(graphs, "CORE_HALOS", 0)  # cores of a few cells, whatever the halo: the most seams
    settings = Settings(model_dir=SHIPPED, providers=["CPUExecutionProvider"], intra_op_threads=1)
    with ThreadPoolExecutor(1) as pool:
        rt = load_model(folder, settings, pool)
        whole, tiled = Pipeline(settings, pool), Pipeline(settings, pool)
        whole.tile_px = 1 << 20
        # small tiles, and no halo but the one measured from the graphs at load (136x104: 5x4 tiles at pad 8)
        tiled.tile_px, tiled.halo_px = 32, 0
        pad = rt.manifest.input.pad_multiple
        height, width = max(104, 8 * pad), max(136, 10 * pad)
        rng = np.random.default_rng(1)
        yy, xx = np.mgrid[0:height, 0:width] / 40.0
        smooth = np.stack([np.sin(xx + yy), np.cos(2 * xx), np.sin(3 * yy)])
        x = np.clip(0.5 + 0.3 * smooth + rng.normal(0, 0.05, smooth.shape), 0, 1).astype(np.float32)[None]
        enc = tile_geometry(rt, "encoder", tiled.tile_px, tiled.halo_px)
        assert enc is not None and needs_tiles(x, *enc)  # not a vacuous comparison
        if name.startswith("photo-codec"):
            analysis = tile_geometry(rt, "analysis", tiled.tile_px, tiled.halo_px)
            assert rt.split is not None and analysis is not None and analysis[2] < enc[2]

        async def both(graph: str, inp: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
            return (await whole.run_graph(rt, graph, [inp]))[0], (await tiled.run_graph(rt, graph, [inp]))[0]

        outs_whole, outs_tiled = asyncio.run(both("encoder", x))
        for a, b in zip(outs_whole, outs_tiled, strict=True):  # the latent, and a hyperprior's side latent
            assert b.shape == a.shape
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())
        lat = outs_whole[0]
        dec = tile_geometry(rt, "decoder", tiled.tile_px, tiled.halo_px)
        assert dec is not None and needs_tiles(lat, *dec)
        img_whole, img_tiled = asyncio.run(both("decoder", lat))
        np.testing.assert_allclose(img_tiled[0], img_whole[0], rtol=1e-4, atol=1e-4)
        rt.close()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status here")


def test_memory_returns_near_its_baseline_after_a_2048_pixel_image(shipped_server: Running) -> None:
    """Issue 11 #1, #2: a crafted payload costs nothing; a 2048x2048 image (3.6 GB, kept, before) is given back."""
    if not (SHIPPED / "cifar-conv" / "manifest.json").is_file():
        pytest.skip("cifar-conv is not shipped")
    yy, xx = np.mgrid[0:2048, 0:2048]
    rgb = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    big = png(rgb, "RGB")
    with shipped_server.client() as c:
        for _ in range(3):  # warm-up with small images: the baseline
            small = c.post("/encode?model=cifar-conv", content=png(rgb[:40, :40], "RGB"), headers=IMG).content
            c.post("/decode", content=small, headers=PB)
        baseline = _rss_mb()
        # the crafted 58-byte payload that made the server decode a 4160x4160 image: refused before any work
        version = bytes.fromhex(c.get("/models/cifar-conv").json()["version"])
        crafted = wire.pack(
            pb.LatentCode(
                format_version=1,
                model="cifar-conv",
                model_version=version,
                quantizer=pb.QUANTIZER_UNIFORM_TABLE,
                bits=8,
                latent_shape=[4, 1040, 1040],
                width=4160,
                height=4160,
                data=b"\0" * 8,
            )
        )
        assert c.post("/decode", content=crafted, headers=PB).status_code == 422
        assert _rss_mb() - baseline < 50
        payload = c.post("/encode?model=cifar-conv", content=big, headers=IMG)
        assert payload.status_code == 200, payload.text
        back = c.post("/decode", content=payload.content, headers=PB)
        assert back.status_code == 200 and read(back.content).size == (2048, 2048)
        del payload, back
        after = _rss_mb()
        # before tiles: +734 MB that stayed; now about +100 MB (arena and allocator caches)
        assert after - baseline < 300, (baseline, after)
        assert c.get("/healthz").status_code == 200


def test_an_encoder_whose_side_output_needs_the_image_is_not_cut(tmp_path: Path) -> None:
    """The cut is only where the side latent is a function of the latent alone; otherwise the encoder runs whole."""

    def graph(side_inputs: list[str]) -> Path:
        io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 1, 4, 4]) for n in ("image", "latent", "side")]
        nodes = [
            helper.make_node("Relu", ["image"], ["latent"]),
            helper.make_node("Add" if len(side_inputs) == 2 else "Neg", side_inputs, ["side"]),
        ]
        path = tmp_path / f"encoder-{len(side_inputs)}.onnx"
        onnx.save(helper.make_model(helper.make_graph(nodes, "encoder", io[:1], io[1:])), path)
        return path

    assert cut_encoder(graph(["latent", "image"]), "latent", "side") is None
    parts = cut_encoder(graph(["latent"]), "latent", "side")
    assert parts is not None
    analysis, hyper = (onnx.load_from_string(p) for p in parts)
    assert [o.name for o in analysis.graph.output] == ["latent"]
    assert [i.name for i in hyper.graph.input] == ["latent"] and [o.name for o in hyper.graph.output] == ["side"]
