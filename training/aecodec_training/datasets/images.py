"""A folder of the user's own PNG/JPEG images of any size, brought to one size for training."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from .base import DatasetError, ImageDataset

EXTENSIONS = {".png", ".jpg", ".jpeg"}


def _fit(img: Image.Image, size: int, mode: str, rng: np.random.Generator) -> Image.Image:
    """Resize to size x size, or (``crop``) scale the short side to ``size`` and take a random square."""
    if mode == "resize":
        return img.resize((size, size), Image.Resampling.BICUBIC)
    if mode != "crop":
        raise ValueError(f"image fit mode must be 'resize' or 'crop', got {mode!r}")
    w, h = img.size
    scale = size / min(w, h)
    if scale > 1 or min(w, h) > 2 * size:  # upscale tiny images, shrink huge ones, keep detail otherwise
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
        w, h = img.size
    left = int(rng.integers(0, w - size + 1))
    top = int(rng.integers(0, h - size + 1))
    return img.crop((left, top, left + size, top + size))


def load_image_folder(
    folder: Path, size: int = 32, channels: int = 3, mode: str = "resize", test_fraction: float = 0.1, seed: int = 0
) -> ImageDataset:
    """Every PNG/JPEG under ``folder`` (recursively) as size x size images, split train/test deterministically."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise DatasetError(f"no .png/.jpg/.jpeg images under {folder}; pass --data-dir to a folder of images")
    rng = np.random.default_rng(seed)
    pil_mode = "L" if channels == 1 else "RGB"
    arrays = []
    digest = hashlib.md5()
    for path in files:
        digest.update(path.read_bytes())
        with Image.open(path) as img:
            arrays.append(np.asarray(_fit(img.convert(pil_mode), size, mode, rng), dtype=np.uint8))
    x = np.stack(arrays)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    order = rng.permutation(len(x))
    n_test = min(len(x) - 1, max(1, round(len(x) * test_fraction))) if len(x) > 1 else 0
    test, train = order[:n_test], order[n_test:]
    y = np.zeros(len(x), dtype=np.int64)
    md5 = {f"{len(files)} images under {folder.name}": digest.hexdigest()}
    return ImageDataset(
        "images", x[train], y[train], x[test] if n_test else x[train], y[test] if n_test else y[train], md5
    )
