"""Dataset loaders: each returns an ImageDataset of whole uint8 splits, loaded once."""

from __future__ import annotations

from pathlib import Path

from .auto import load_auto
from .base import DatasetError, ImageDataset, md5_of, to_float
from .cifar import load_cifar10
from .download import ChecksumError, verify_md5
from .idx import load_idx_dataset
from .images import load_image_folder
from .npz import load_npz_dataset
from .photos import load_photo_dataset

DATASETS = ("mnist", "fashion-mnist", "cifar10", "npz", "images", "auto", "photos")

__all__ = [
    "DATASETS",
    "ChecksumError",
    "DatasetError",
    "ImageDataset",
    "load_auto",
    "load_dataset",
    "md5_of",
    "to_float",
    "verify_md5",
]


def load_dataset(
    name: str,
    data_dir: Path,
    download: bool = False,
    image_size: int = 32,
    channels: int = 3,
    fit: str = "resize",
    seed: int = 0,
    size: str = "auto",
    crop: int = 0,
) -> ImageDataset:
    """Load dataset ``name`` from ``data_dir``; ``download`` fetches official files first (md5-checked).

    ``auto``: whatever ``data_dir`` holds (a folder of images, an .npz, IDX files), ``size`` auto | any | HxW."""
    if name in ("mnist", "fashion-mnist"):
        return load_idx_dataset(name, data_dir, download)
    if name == "cifar10":
        return load_cifar10(data_dir, download)
    if download:
        raise DatasetError(f"--download is only for mnist, fashion-mnist and cifar10, not {name}")
    if name == "npz":
        return load_npz_dataset(data_dir)
    if name == "auto":
        return load_auto(data_dir, size, seed)
    if name == "photos":
        return load_photo_dataset(data_dir, seed, crop)
    if name == "images":
        return load_image_folder(data_dir, size=image_size, channels=channels, mode=fit, seed=seed)
    raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
