"""CIFAR-10 from the official binary batches, the official python batches, or .npz arrays."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .base import DatasetError, ImageDataset, md5_of
from .download import SOURCES, fetch
from .npz import find_npz_pair, load_npz_pair

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
_ROW = 1 + 3 * 32 * 32  # binary record: label byte + 3072 pixel bytes (R, G, B planes)


def parse_binary_batch(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Official binary batch bytes -> (N, 3, 32, 32) uint8 images and int64 labels."""
    if len(data) % _ROW:
        raise ValueError(f"{len(data)} bytes is not a whole number of {_ROW}-byte CIFAR-10 records")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, _ROW)
    return rows[:, 1:].reshape(-1, 3, 32, 32).copy(), rows[:, 0].astype(np.int64)


# The official python batches pickle their pixels as a numpy uint8 array; these names rebuild one
# (protocol-2 pickles carry its bytes through _codecs.encode) and cannot run code. Anything else is refused.
_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _SafeUnpickler(pickle.Unpickler):
    """Restricted unpickler: plain dicts/lists/bytes, plus numpy arrays rebuilt by the whitelist above."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def parse_python_batch(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Official python batch (pickled {b'data': (N, 3072) uint8, b'labels': [...]}) -> images and labels."""
    obj = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    if not isinstance(obj, dict):
        raise ValueError("CIFAR python batch is not a dict")
    raw = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if raw is None or labels is None:
        raise ValueError("CIFAR python batch lacks 'data' or 'labels'")
    if isinstance(raw, np.ndarray):
        if raw.dtype != np.uint8:
            raise ValueError(f"CIFAR python batch data has dtype {raw.dtype}, expected uint8")
        pixels = raw
    elif isinstance(raw, bytes | bytearray):
        pixels = np.frombuffer(bytes(raw), dtype=np.uint8)
    else:
        pixels = np.asarray(raw, dtype=np.uint8)
    return pixels.reshape(-1, 3, 32, 32).copy(), np.asarray(labels, dtype=np.int64)


def _read_batches(folder: Path, suffix: str, parse: Any) -> ImageDataset | None:
    names = [b + suffix for b in [*TRAIN_BATCHES, TEST_BATCH]]
    if not all((folder / n).is_file() for n in names):
        return None
    try:
        parts = [parse((folder / n).read_bytes()) for n in names]
    except (ValueError, pickle.UnpicklingError) as exc:
        raise DatasetError(f"CIFAR-10 batches in {folder}: {exc}") from exc
    train_x = np.concatenate([p[0] for p in parts[:-1]])
    train_y = np.concatenate([p[1] for p in parts[:-1]])
    md5 = {n: md5_of(folder / n) for n in names}
    return ImageDataset("cifar10", train_x, train_y, parts[-1][0], parts[-1][1], md5)


def load_cifar10(folder: Path, download: bool = False) -> ImageDataset:
    """CIFAR-10 from ``folder`` (or its official sub-folders): binary batches, python batches or an npz pair."""
    if download:
        fetch("cifar10", folder)
    for sub in (folder, folder / "cifar-10-batches-bin", folder / "cifar-10-batches-py"):
        for suffix, parse in ((".bin", parse_binary_batch), ("", parse_python_batch)):
            found = _read_batches(sub, suffix, parse)
            if found is not None:
                return found
    pair = find_npz_pair(folder)
    if pair is not None:
        return load_npz_pair("cifar10", *pair)
    raise DatasetError(
        f"no CIFAR-10 files in {folder}. Expected the official binary batches (data_batch_1.bin .. "
        "data_batch_5.bin, test_batch.bin), the official python batches (data_batch_1 .. data_batch_5, "
        "test_batch), or a train*.npz + test*.npz pair of x (N,H,W,C) uint8 and y, from "
        f"{SOURCES['cifar10'].homepage}; pass --data-dir to the folder holding them, or add --download."
    )
