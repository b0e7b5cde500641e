"""The photo folder (natural photographs and textures of any size) with a fixed validation split.

Training draws random crops at random scales with flips; validation uses whole held-out photographs, so
every figure reported on "validation photos" is on images the models never saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

# held out from every training run on the photo folder: four photographs, one portrait, one close-up
VALIDATION = (
    "kite.png",
    "ladybird.png",
    "skimage-astronaut.png",
    "skimage-coffee.png",
    "skimage-motorcycle-left.png",
    "summer-1am.png",
)
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


@dataclass
class PhotoSet:
    """RGB uint8 (H, W, 3) arrays, split into training and validation, and the md5 of each file read."""

    train: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    val_names: list[str] = field(default_factory=list)
    md5: dict[str, str] = field(default_factory=dict)


def load_photos(folder: Path, validation: tuple[str, ...] = VALIDATION) -> PhotoSet:
    """Every image under ``folder`` (sorted, so runs are reproducible), as RGB."""
    out = PhotoSet()
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES):
        data = path.read_bytes()
        out.md5[path.name] = hashlib.md5(data).hexdigest()
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        if path.name in validation:
            out.val.append(rgb)
            out.val_names.append(path.name)
        else:
            out.train.append(rgb)
    if not out.train:
        raise ValueError(f"no training images (PNG/JPEG/WebP) under {folder}")
    return out


def pyramid(images: list[np.ndarray], scales: tuple[float, ...], min_side: int) -> list[np.ndarray]:
    """Each image at each scale (Lanczos), keeping those whose shorter side is at least ``min_side``.

    Downscaled copies add the statistics of smaller, sharper pictures, which is what a user's thumbnail is.
    """
    out = []
    for img in images:
        h, w = img.shape[:2]
        for s in scales:
            size = (round(w * s), round(h * s))
            if min(size) < min_side:
                continue
            out.append(img if s == 1 else np.asarray(Image.fromarray(img).resize(size, Image.Resampling.LANCZOS)))
    return out


def random_crops(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """n random size x size crops (with random flips) -> uint8 (n, 3, size, size)."""
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    picks = rng.integers(0, len(images), n)
    for k, i in enumerate(picks):
        img = images[i]
        h, w = img.shape[:2]
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        crop = img[y : y + size, x : x + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out[k] = crop.transpose(2, 0, 1)
    return out
