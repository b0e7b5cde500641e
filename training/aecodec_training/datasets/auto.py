"""A user's own images, whatever form they come in: a folder of PNG/JPEG/WebP files (recursive), one
``.npz`` (``x`` uint8 (N, H, W[, C])), a train*/test* ``.npz`` pair, or MNIST-layout IDX files.

The split that comes with the data (IDX t10k, the test .npz) is the validation split; otherwise a fixed
share of the images (by seed) is held out. ``size`` says what the model will take: ``auto`` keeps one fixed
size when every image has it (a fixed-size model, positional prior and all) and crops square patches
otherwise (an any-size model); ``any`` always crops patches; ``HxW`` resizes every image to that size.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from .base import DatasetError, ImageDataset, md5_of
from .idx import IDX_FILES, load_idx_dataset
from .npz import find_npz_pair, load_npz_pair, read_npz

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp"}
VAL_FRACTION = 0.1
MAX_VAL = 2000  # images held out at most: enough for a stable mean PSNR, few enough to measure quickly
PATCH = 64  # side of the square patches an any-size model trains on (at most; smaller images give smaller)
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L"}


def parse_size(size: str) -> tuple[int, int] | None:
    """``HxW`` -> (H, W); ``auto`` / ``any`` -> None."""
    if size in ("auto", "any"):
        return None
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if match is None or min(int(match[1]), int(match[2])) < 8:
        raise DatasetError(f"size {size!r}: expected auto, any or HxW (e.g. 28x28, sides of 8 pixels or more)")
    return int(match[1]), int(match[2])


def _split(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = min(MAX_VAL, max(1, round(len(x) * VAL_FRACTION))) if len(x) > 1 else 0
    if n_val == 0:
        raise DatasetError("need at least 2 images: one to train on, one to hold out for validation")
    return x[order[n_val:]], x[order[:n_val]]


def _dataset(
    name: str, train: np.ndarray, val: np.ndarray, md5: dict[str, str], fixed_size: bool = True
) -> ImageDataset:
    zeros = np.zeros(len(train), np.int64), np.zeros(len(val), np.int64)
    return ImageDataset(name, train, zeros[0], val, zeros[1], md5, fixed_size)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())


def _greyish(rgb: np.ndarray) -> bool:
    """(3, H, W): channels equal but for the chroma rounding of a lossy format."""
    a = rgb.astype(np.int16)
    return bool(np.abs(a[0] - a[1]).max() <= 2 and np.abs(a[0] - a[2]).max() <= 2)


def _patches(img: np.ndarray, side: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` random side x side crops of one (C, H, W) image."""
    _, h, w = img.shape
    out = []
    for _ in range(count):
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        out.append(img[:, top : top + side, left : left + side])
    return out


def _folder(folder: Path, size: str, seed: int) -> ImageDataset:
    files = _image_files(folder)
    if len(files) < 2:
        raise DatasetError(
            f"{folder}: found {len(files)} image(s) (.png, .jpg, .jpeg, .webp, searched recursively); "
            "need at least 2 (a folder of images, an .npz or IDX files)"
        )
    sizes, grey = set(), True
    for path in files:  # headers only: the size and mode decide how to load the pixels
        with Image.open(path) as img:
            sizes.add((img.height, img.width))
            grey = grey and img.mode in GREY_MODES
    mode, target = ("L" if grey else "RGB"), parse_size(size)
    digest = hashlib.md5()
    arrays = []
    for path in files:
        digest.update(path.read_bytes())
        with Image.open(path) as img:
            img = img.convert(mode)
            if target is not None and (img.height, img.width) != target:
                img = img.resize((target[1], target[0]), Image.Resampling.BICUBIC)
            a = np.asarray(img, dtype=np.uint8)
        arrays.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    if not grey and all(_greyish(a) for a in arrays):
        arrays = [a[:1] for a in arrays]  # grey pictures stored as RGB (lossy WebP always is): one channel
    md5 = {f"{len(files)} images under {folder.name}": digest.hexdigest()}
    name = f"images:{folder.name}"
    if target is not None or (size == "auto" and len(sizes) == 1):
        train_x, val_x = _split(np.stack(arrays), seed)
        return _dataset(name, train_x, val_x, md5)
    # any size: square patches, the training images cut into several, each held-out image into one
    side = min(PATCH, min(min(h, w) for h, w in sizes) // 8 * 8)
    if side < 8:
        raise DatasetError(f"{folder}: the smallest image is under 8 pixels on a side; any-size models need 8+")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(arrays))
    n_val = min(MAX_VAL, max(1, round(len(arrays) * VAL_FRACTION)))
    val: list[np.ndarray] = [p for i in order[:n_val] for p in _patches(arrays[i], side, 1, rng)]
    train: list[np.ndarray] = [
        p for i in order[n_val:] for p in _patches(arrays[i], side, max(1, min(16, arrays[i][0].size // side**2)), rng)
    ]
    return _dataset(name, np.stack(train), np.stack(val), md5, fixed_size=False)


def _npz(path: Path, seed: int) -> ImageDataset:
    x, _ = read_npz(path)
    train, val = _split(x, seed)
    return _dataset(f"npz:{path.stem}", train, val, {path.name: md5_of(path)})


def _resized(ds: ImageDataset, size: str) -> ImageDataset:
    target = parse_size(size)
    if target is None or ds.shape[1:] == target:
        return ds

    def resize(x: np.ndarray) -> np.ndarray:
        mode = "L" if x.shape[1] == 1 else "RGB"
        out = []
        for img in x:
            pil = Image.fromarray(img[0] if mode == "L" else img.transpose(1, 2, 0), mode)
            a = np.asarray(pil.resize((target[1], target[0]), Image.Resampling.BICUBIC))
            out.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        return np.stack(out)

    return ImageDataset(ds.name, resize(ds.train_x), ds.train_y, resize(ds.test_x), ds.test_y, ds.md5)


@lru_cache(maxsize=2)  # the levels of one `aecodec-train codec` run and their exports read the same data
def load_auto(path: Path, size: str = "auto", seed: int = 0) -> ImageDataset:
    """Images from ``path`` in whichever supported form it holds; see the module docstring."""
    path = Path(path)
    parse_size(size)  # a bad size is refused before any image is read
    if path.is_file() and path.suffix == ".npz":
        return _resized(_npz(path, seed), size)
    if not path.is_dir():
        raise DatasetError(f"{path}: expected a folder of images, an .npz file or a folder of IDX files")
    if any((path / (stem + ext)).is_file() for stem in IDX_FILES.values() for ext in ("", ".gz")):
        return _resized(load_idx_dataset("mnist", path), size)
    if find_npz_pair(path) is not None:
        return _resized(load_npz_pair("npz", *find_npz_pair(path)), size)  # type: ignore[misc]
    return _folder(path, size, seed)
