"""Writers of tiny datasets in every supported on-disk format (the tests never need the real sets), and the
tiny photo-denoiser run the denoiser tests train through the command line."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"
FIXTURES = REPO / "tests" / "fixtures"
DENOISE_PHOTO = FIXTURES / "denoise_photo.png"  # a 160x120 crop of a photograph the denoisers never train on


def fake_digits(n: int, seed: int, size: int = 28, channels: int = 0) -> np.ndarray:
    """Structured uint8 images (bright random rectangles on black), so an autoencoder has something to learn."""
    rng = np.random.default_rng(seed)
    shape = (n, size, size) if channels == 0 else (n, size, size, channels)
    x = np.zeros(shape, dtype=np.uint8)
    for i in range(n):
        top, left = rng.integers(2, size // 2, 2)
        h, w = rng.integers(4, size // 2, 2)
        x[i, top : top + h, left : left + w] = rng.integers(128, 256)
    return x


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def make_idx_folder(folder: Path, gz: bool = True, n_train: int = 512, n_test: int = 128) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    rng = np.random.default_rng(0)
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", fake_digits(n_train, 1), gz)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n_train), gz)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", fake_digits(n_test, 2), gz)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n_test), gz)
    return folder


def cifar_records(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, 32, 32) uint8 images and labels."""
    x = fake_digits(n, seed, size=32, channels=3).transpose(0, 3, 1, 2).copy()
    return x, np.random.default_rng(seed).integers(0, 10, n)


def train_denoiser(model: str, photos: Path, cifar: Path, mnist: Path, out: Path, *flags: str) -> str:
    """``aecodec-train train MODEL`` on tiny photo, CIFAR and MNIST folders (32-pixel patches, batch 4, a
    checkpoint every 0.6 s); ``flags`` give the architecture and budget. Its output."""
    from aecodec_training.cli import app

    args = ["train", model, "--data-dir", str(photos), "--cifar-dir", str(cifar), "--mnist-dir", str(mnist)]
    args += ["--out", str(out), "--patch", "32", "--batch-size", "4", "--no-progress", "--checkpoint-minutes", "0.01"]
    result = CliRunner().invoke(app, [*args, *flags])
    assert result.exit_code == 0, result.output
    return result.output
