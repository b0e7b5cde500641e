"""Fixtures: tiny datasets the tests write themselves, in every supported on-disk format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from aecodec_training.datasets.photos import VALIDATION
from PIL import Image

from .helpers import DENOISE_PHOTO, cifar_records, make_idx_folder


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """Tiny models on a 2-core machine shared with other work: a second torch thread only adds contention
    (the same 1-epoch codec run took 15 s with torch's default threads and 5 s with one)."""
    torch.set_num_threads(1)


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    """A tiny MNIST in the official gzipped IDX layout: 512 train, 128 test images."""
    return make_idx_folder(tmp_path / "mnist")


@pytest.fixture
def cifar_bin_dir(tmp_path: Path) -> Path:
    """Tiny CIFAR-10 in the official binary layout (label byte + 3072 pixel bytes per record)."""
    folder = tmp_path / "cifar-bin"
    folder.mkdir()
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        x, y = cifar_records(8, i)
        rows = np.concatenate([y.astype(np.uint8)[:, None], x.reshape(8, -1)], axis=1)
        (folder / f"{name}.bin").write_bytes(rows.tobytes())
    return folder


@pytest.fixture
def cifar_npz_dir(tmp_path: Path) -> Path:
    """Tiny CIFAR-10 as the shared folder stores it: x (N, 32, 32, 3) uint8 and y in train/test npz files."""
    folder = tmp_path / "cifar-npz"
    folder.mkdir()
    for split, n, seed in (("train_exact_subset", 64, 0), ("test_exact_subset", 16, 1)):
        x, y = cifar_records(n, seed)
        np.savez_compressed(folder / f"{split}.npz", x=x.transpose(0, 2, 3, 1), y=y)
    return folder


@pytest.fixture
def photos_dir(tmp_path: Path) -> Path:
    """Two real photographs: one named like a validation file, one for training."""
    folder = tmp_path / "photos"
    folder.mkdir()
    img = Image.open(DENOISE_PHOTO).convert("RGB")
    img.save(folder / VALIDATION[0])
    img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((200, 150)).save(folder / "train.png")
    return folder
