"""The exported models in models/: they load, verify, and reconstruct real digits at their stated PSNR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aecodec_training.onnx_io import run_graph, session
from aecodec_training.tasks import to_uint8
from aecodec_wire import unpack
from aecodec_wire.manifest import Manifest, load
from aecodec_wire.quality import mean_psnr
from aecodec_wire.uniform_codec import UniformCodec

from .helpers import FIXTURES, REPO, SHARED_DATA

MODELS = REPO / "models"
SHIPPED = ["mnist-ae", "mnist-denoise", "mnist-sparse", "mnist-vae", "cifar-conv"]
MNIST_MODELS = [m for m in SHIPPED if m.startswith("mnist")]


def _folder(name: str) -> Path:
    folder = MODELS / name
    if not (folder / "manifest.json").is_file():
        pytest.skip(f"{folder} not exported yet")
    return folder


def reconstruct(folder: Path, manifest: Manifest, pixels: np.ndarray, bits: int | None) -> np.ndarray:
    """uint8 (N, C, H, W) -> uint8 reconstructions, through ONNX and (if ``bits``) the real LatentCodec."""
    lo, hi = manifest.input.range
    x = (lo + (hi - lo) * pixels.astype(np.float32) / 255.0).astype(np.float32)
    latents = run_graph(session(folder / "encoder.onnx"), x)[0]
    if bits is not None:
        codec = UniformCodec(manifest)
        mode = "L" if manifest.input.channels == 1 else "RGB"
        payloads = codec.encode(latents, [(x.shape[3], x.shape[2])] * len(x), [mode] * len(x), bits)
        latents = np.concatenate([codec.decode(unpack(p)) for p in payloads])
    return to_uint8(run_graph(session(folder / "decoder.onnx"), latents)[0], manifest.output_range)


def fixture_images(name: str) -> np.ndarray:
    if name.startswith("mnist"):
        return np.load(FIXTURES / "mnist_test_48.npz")["x"][:, None]
    return np.load(FIXTURES / "cifar10_test_16.npz")["x"].transpose(0, 3, 1, 2)


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_and_verifies(name: str) -> None:
    folder = _folder(name)
    manifest = load(folder)  # raises if the content hash does not match
    assert manifest.name == name
    assert manifest.training.command.startswith("aecodec-train train")
    for key in ("test_mse", "psnr_db", "codec_psnr_db_8bit", "codec_psnr_db_4bit", "codec_bytes_8bit"):
        assert key in manifest.metrics
    extra = {"sparse": "near_zero_share", "vae": "test_elbo_nats", "denoising": "denoised_psnr_db"}.get(manifest.kind)
    assert extra is None or extra in manifest.metrics


def test_total_size_under_60_mb() -> None:
    """Every shipped model together stays small enough to clone with the repository."""
    total = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file()) if MODELS.is_dir() else 0
    assert total < 60 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_fixture_images_at_stated_psnr(name: str) -> None:
    """A few dozen real test images: codec PSNR within sampling noise of the full-test-set figure."""
    folder = _folder(name)
    manifest = load(folder)
    pixels = fixture_images(name)
    got = mean_psnr(pixels, reconstruct(folder, manifest, pixels, bits=8))
    assert got == pytest.approx(manifest.metrics["codec_psnr_db_8bit"], abs=2.0)
    float_psnr = mean_psnr(pixels, reconstruct(folder, manifest, pixels, bits=None))
    assert got <= float_psnr + 0.2  # quantising cannot help much


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="real MNIST not available")
@pytest.mark.parametrize("name", MNIST_MODELS)
def test_full_mnist_test_set_float_psnr(name: str) -> None:
    from aecodec_training.datasets import load_dataset

    folder = _folder(name)
    manifest = load(folder)
    pixels = load_dataset("mnist", SHARED_DATA / "mnist").test_x
    assert mean_psnr(pixels, reconstruct(folder, manifest, pixels, None)) == pytest.approx(
        manifest.metrics["psnr_db"], abs=0.02
    )


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="real MNIST not available")
@pytest.mark.parametrize("name", MNIST_MODELS)
def test_full_mnist_test_set_codec_psnr(name: str) -> None:
    from aecodec_training.datasets import load_dataset

    folder = _folder(name)
    manifest = load(folder)
    pixels = load_dataset("mnist", SHARED_DATA / "mnist").test_x
    got = mean_psnr(pixels, reconstruct(folder, manifest, pixels, bits=8))
    assert got == pytest.approx(manifest.metrics["codec_psnr_db_8bit"], abs=0.02)
