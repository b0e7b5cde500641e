"""The photo codec's export and wire codec: an exported (untrained, small) hyperprior model round-trips
through real ONNX graphs and real payload bytes, its size matches the tables' estimate, and damage is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from aecodec_training.checkpoint import save_checkpoint
from aecodec_training.codec.hyperprior import HyperpriorCodec, HyperpriorConfig
from aecodec_training.codec.photo_export import OnnxCodec, export, gaussian_tables
from aecodec_wire.errors import CorruptPayload
from aecodec_wire.payload import unpack_compact
from PIL import Image

CONFIG = HyperpriorConfig(hidden=16, latent=24, side=8)


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth colour picture with some texture (what the transforms are made for)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)], -1) * 100 + 128
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hp")
    photos = root / "photos"
    photos.mkdir()
    for i, (h, w) in enumerate([(200, 300), (256, 256), (130, 190)]):
        Image.fromarray(_photo(h, w, i)).save(photos / f"p{i}.png")
    Image.fromarray(_photo(150, 170, 9)).save(photos / "kite.png")  # a name of the validation split
    torch.manual_seed(0)
    model = HyperpriorCodec(CONFIG)
    run = root / "run"
    save_checkpoint(
        run,
        {"config": CONFIG.as_dict(), "model": model.state_dict(), "step": 0, "elapsed_s": 0.0, "lam": 0.01}
        | {"command": "test"},
    )
    folder = root / "models" / "photo-test"
    export(run, folder, "photo-test", 29, photos)
    return folder


def test_round_trip_any_size_is_deterministic_and_sized_by_its_tables(exported: Path) -> None:
    codec = OnnxCodec(exported)
    img = _photo(77, 131, 5)  # not a multiple of 64: padded, then cropped back
    data = codec.encode(img)
    assert data == codec.encode(img)
    out = codec.decode(data)
    assert out.shape == img.shape
    code = unpack_compact(data)
    assert (code.width, code.height) == (131, 77) and not code.latent_shape  # implied by the size
    h, w = 128 // 16, 192 // 16
    padded = np.pad(img, ((0, 128 - 77), (0, 192 - 131), (0, 0)), mode="edge").transpose(2, 0, 1)[None]
    y, z = codec.sessions["encoder.onnx"].run(None, {"image": (padded / 255).astype(np.float32)})
    assert y.shape == (1, CONFIG.latent, h, w) and z.shape == (1, CONFIG.side, h // 4, w // 4)
    est = codec.codec.estimated_bits({"latent": y, "side": z})[0] / 8
    assert est <= len(code.data) <= est * 1.02 + 8  # the range coder's overhead is a few bytes


def test_decoding_needs_the_exact_bytes(exported: Path) -> None:
    codec = OnnxCodec(exported)
    data = bytearray(codec.encode(_photo(64, 64, 3)))
    data[len(data) // 2] ^= 0x10
    with pytest.raises(CorruptPayload, match="checksum"):
        codec.decode(bytes(data))


def test_gaussian_tables_cover_their_scale() -> None:
    tables = gaussian_tables()
    assert tables.scales[0] == pytest.approx(0.11) and tables.scales[-1] == pytest.approx(256)
    for s, lo, counts in zip(tables.scales, tables.minima, tables.counts, strict=True):
        assert lo == -(len(counts) // 2) and -lo >= min(6 * s, 1024)
        assert abs(sum(counts) - (1 << tables.precision)) < len(counts)  # normalised up to rounding
