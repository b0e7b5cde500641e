"""NumPy .npz datasets: ``x`` (N, H, W, C) or (N, H, W) uint8 and ``y`` labels, one file per split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import DatasetError, ImageDataset, md5_of


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One split -> (N, C, H, W) uint8 images and int64 labels (zeros when the file has no ``y``)."""
    with np.load(path, allow_pickle=False) as data:
        if "x" not in data:
            raise DatasetError(f"{path}: no array 'x' (expected x of shape (N, H, W, C) uint8 and y)")
        x = data["x"]
        y = data["y"] if "y" in data else np.zeros(len(x), dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim not in (3, 4):
        raise DatasetError(f"{path}: x must be uint8 (N, H, W[, C]), got {x.dtype} {x.shape}")
    x = x[..., None] if x.ndim == 3 else x
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), np.asarray(y, dtype=np.int64)


def find_npz_pair(folder: Path) -> tuple[Path, Path] | None:
    """The train and test .npz in ``folder``: ``train.npz``/``test.npz`` or one ``train*``/``test*`` each."""
    if not folder.is_dir():
        return None
    train = sorted(folder.glob("train*.npz"))
    test = sorted(folder.glob("test*.npz"))
    if len(train) == 1 and len(test) == 1:
        return train[0], test[0]
    return None


def load_npz_pair(name: str, train: Path, test: Path) -> ImageDataset:
    """Both splits from their .npz files, with the md5s of the files read."""
    train_x, train_y = read_npz(train)
    test_x, test_y = read_npz(test)
    return ImageDataset(name, train_x, train_y, test_x, test_y, {p.name: md5_of(p) for p in (train, test)})


def load_npz_dataset(folder: Path) -> ImageDataset:
    """A generic npz dataset folder (exactly one train*.npz and one test*.npz)."""
    pair = find_npz_pair(folder)
    if pair is None:
        raise DatasetError(
            f"expected exactly one train*.npz and one test*.npz in {folder}, each holding x (N, H, W, C) "
            "uint8 and y; pass --data-dir to that folder"
        )
    return load_npz_pair("npz", *pair)
