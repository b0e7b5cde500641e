"""MNIST and Fashion-MNIST from the official IDX files, gzipped or not."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .base import DatasetError, ImageDataset, md5_of
from .download import SOURCES, fetch

IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
_DTYPES: dict[int, str | type] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes) -> np.ndarray:
    """Raw IDX bytes -> array: magic 0x0000TTDD (type, number of dims), big-endian dims, then the data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError("not an IDX file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    dtype = np.dtype(_DTYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - offset != expected:
        raise ValueError(f"IDX file holds {len(data) - offset} data bytes, header promises {expected}")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(tuple(dims))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file; gzip is detected from its magic bytes, not the name."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return parse_idx(raw)
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from exc


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_dataset(name: str, folder: Path, download: bool = False) -> ImageDataset:
    """Load an MNIST-layout dataset (``mnist`` or ``fashion-mnist``) from ``folder``."""
    if download:
        fetch(name, folder)
    found = {key: _find(folder, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[k] + "[.gz]" for k, p in found.items() if p is None]
    if missing:
        raise DatasetError(
            f"missing {name} file(s) in {folder}: {', '.join(missing)}. Expected the four official IDX files "
            f"({', '.join(s + '.gz' for s in IDX_FILES.values())}, gzipped or not) from {SOURCES[name].homepage}; "
            "pass --data-dir to the folder holding them, or add --download."
        )
    paths = {k: p for k, p in found.items() if p is not None}
    arrays = {k: read_idx(p) for k, p in paths.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DatasetError(f"{name} {split}: images {x.shape} and labels {y.shape} do not match")
    return ImageDataset(
        name=name,
        train_x=arrays["train_x"][:, None],
        train_y=arrays["train_y"].astype(np.int64),
        test_x=arrays["test_x"][:, None],
        test_y=arrays["test_y"].astype(np.int64),
        md5={p.name: md5_of(p) for p in paths.values()},
    )
