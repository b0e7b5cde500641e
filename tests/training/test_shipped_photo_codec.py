"""The shipped photo codec levels (models/photo-codec-q*): they verify, order by rate and quality, code a real
photograph through the served path, and give their manifest's figures on the held-out validation photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aecodec_training.realpath import round_trip
from aecodec_training.zoo import LEVELS
from aecodec_wire.manifest import Manifest, load
from PIL import Image

from .helpers import FIXTURES, REPO, SHARED_DATA

MODELS = REPO / "models"
LEVEL_NAMES = [name for name, level in LEVELS.items() if level.model == "hyperprior-codec" and level.shipped]
FOLDERS = [MODELS / name for name in LEVEL_NAMES if (MODELS / name / "manifest.json").is_file()]
needs_levels = pytest.mark.skipif(not FOLDERS, reason="no photo codec level shipped")


def test_every_shipped_level_is_in_models() -> None:
    assert [f.name for f in FOLDERS] == LEVEL_NAMES


@needs_levels
def test_levels_verify_and_rise_in_rate_and_quality() -> None:
    manifests = [load(f) for f in FOLDERS]  # raises if a content hash does not match
    assert [m.wire_id for m in manifests] == [LEVELS[m.name].wire_id for m in manifests]
    bpp = [m.metrics["bpp"] for m in manifests]
    psnr = [m.metrics["psnr_db"] for m in manifests]
    assert bpp == sorted(bpp) and psnr == sorted(psnr)
    assert bpp[0] < 0.2  # the lowest level is a low-rate one


def _fixture_photograph(manifest: Manifest) -> np.ndarray:
    """The fixture photograph (a real one, 160x120) as a (1, 3, H, W) batch, edge-padded as the service pads."""
    image = np.asarray(Image.open(FIXTURES / "denoise_photo.png").convert("RGB")).transpose(2, 0, 1)[None]
    m = manifest.input.pad_multiple
    return np.pad(image, [(0, 0), (0, 0), (0, -image.shape[2] % m), (0, -image.shape[3] % m)], mode="edge")


@needs_levels
@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_a_real_photograph_round_trips_at_the_level_quality(folder: Path) -> None:
    """The fixture photograph through encoder, payload bytes and decoder."""
    manifest = load(folder)
    pixels = _fixture_photograph(manifest)
    rt = round_trip(folder, manifest, pixels)
    assert rt.decoded.shape == pixels.shape
    bpp = rt.payload_bytes[0] * 8 / (pixels.shape[2] * pixels.shape[3])
    assert 0.02 < bpp < 3 and rt.psnr_db[0] > manifest.metrics["psnr_db"] - 8


@needs_levels
@pytest.mark.skipif(not (SHARED_DATA / "photos").is_dir(), reason="the photo folder is not available")
@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_manifest_figures_on_the_validation_photos(folder: Path) -> None:
    from aecodec_training.datasets.photos import load_photo_dataset

    manifest = load(folder)
    crops = load_photo_dataset(SHARED_DATA / "photos").test_x
    rt = round_trip(folder, manifest, crops)
    assert float(rt.psnr_db.mean()) == pytest.approx(manifest.metrics["psnr_db"], abs=0.02)
    assert float(rt.payload_bytes.mean()) == pytest.approx(manifest.metrics["bytes"], rel=0.002)


VARIABLE_RATE = MODELS / "photo-codec-vr"
needs_vr = pytest.mark.skipif(not (VARIABLE_RATE / "manifest.json").is_file(), reason="photo-codec-vr not shipped")


@needs_vr
def test_variable_rate_presets_rise_in_rate_and_quality_on_a_real_photograph() -> None:
    """The shipped variable-rate model codes the fixture photograph through encoder, payload bytes and decoder at
    its lowest, a middle and its highest preset: more bytes for more PSNR, from under 0.5 bpp to above it."""
    manifest = load(VARIABLE_RATE)  # raises if a content hash does not match
    assert manifest.variable_rate is not None and manifest.variable_rate.levels >= 6
    pixels = _fixture_photograph(manifest)
    trips = [round_trip(VARIABLE_RATE, manifest, pixels, quality=q) for q in (1, 4, 8)]
    sizes = [int(rt.payload_bytes[0]) for rt in trips]
    quality = [float(rt.psnr_db[0]) for rt in trips]
    assert sizes == sorted(sizes) and quality == sorted(quality), (sizes, quality)
    bpp = [8 * size / (pixels.shape[2] * pixels.shape[3]) for size in sizes]
    assert bpp[0] < 0.5 < bpp[-1] and quality[-1] - quality[0] > 3


@needs_vr
@pytest.mark.skipif(not (SHARED_DATA / "photos-more").is_dir(), reason="the photo folders are not available")
def test_variable_rate_manifest_figures_on_the_validation_photos() -> None:
    from aecodec_training.datasets.photos import load_photo_dataset

    manifest = load(VARIABLE_RATE)
    folders = f"{SHARED_DATA / 'photos'},{SHARED_DATA / 'photos-more'}"  # as the model was trained and measured
    crops = load_photo_dataset(Path(folders)).test_x
    for q in (1, 8):
        rt = round_trip(VARIABLE_RATE, manifest, crops, quality=q)
        assert float(rt.psnr_db.mean()) == pytest.approx(manifest.metrics[f"q{q}_psnr_db"], abs=0.02)
        assert float(rt.payload_bytes.mean()) == pytest.approx(manifest.metrics[f"q{q}_bytes"], rel=0.002)
