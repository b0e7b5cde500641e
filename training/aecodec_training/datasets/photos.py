"""The photo folder (natural photographs and textures of any size) with a fixed validation split.

Training draws random crops at random scales with flips, fresh ones every epoch (``PhotoDataset``); validation
uses the held-out photographs (``VALIDATION``), so every figure reported on "validation photos" is on images
the models never saw. ``aecodec-train train hyperprior-codec --dataset photos --data-dir PHOTOS`` trains on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .base import DatasetError, ImageDataset

# held out from every training run on the photo folders: from photos/ four photographs, one portrait, one
# close-up; from photos-more/ three camera photographs (a landscape, people, an insect), named here so that a
# run on both folders never trains on them
VALIDATION = (
    "kite.png",
    "ladybird.png",
    "skimage-astronaut.png",
    "skimage-coffee.png",
    "skimage-motorcycle-left.png",
    "summer-1am.png",
    "picosdeeuropa.png",
    "friends.png",
    "dragonfly.png",
)
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
SCALES = (1.0, 0.75, 0.5)  # the training pyramid
PATCH = 128  # training crop side (measured: batch 8 of 128 trains fastest per pixel on one CPU thread)
EPOCH_CROPS = 480  # fresh crops per epoch: 60 batches of 8, then validation and a checkpoint
VAL_SIDE = 384  # validation: the centre 384 x 384 of each held-out photograph (a multiple of 64)


@dataclass
class PhotoSet:
    """RGB uint8 (H, W, 3) arrays, split into training and validation, and the md5 of each file read."""

    train: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    val_names: list[str] = field(default_factory=list)
    md5: dict[str, str] = field(default_factory=dict)


def load_photos(folder: Path | list[Path], validation: tuple[str, ...] = VALIDATION) -> PhotoSet:
    """Every image under ``folder`` (or each of several folders, in order; sorted, so runs are
    reproducible), as RGB."""
    out = PhotoSet()
    folders = folder if isinstance(folder, list) else [folder]
    paths = [p for f in folders for p in sorted(f.rglob("*")) if p.suffix.lower() in SUFFIXES]
    for path in paths:
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
        raise DatasetError(f"no training images (PNG/JPEG/WebP) under {folder}")
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


def centre_crop(img: np.ndarray, side: int = VAL_SIDE) -> np.ndarray:
    """The centre side x side of an (H, W, 3) image (smaller sides: the largest multiple of 64 that fits)."""
    h, w = img.shape[:2]
    ch, cw = min(side, h // 64 * 64), min(side, w // 64 * 64)
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y : y + ch, x : x + cw]


class PhotoDataset(ImageDataset):
    """``train_x`` is one epoch of random crops; ``epoch_crops`` draws each epoch's (seeded by epoch, so a
    resumed run sees what it would have seen); ``test_x`` the centre crops of the held-out photographs."""

    def __init__(self, photos: PhotoSet, seed: int = 0, crop: int = PATCH) -> None:
        self.crop = crop
        self.pyramid = pyramid(photos.train, SCALES, crop)
        val = [centre_crop(img) for img in photos.val]
        if not val:
            raise DatasetError(f"none of the validation photographs ({', '.join(VALIDATION)}) is in the folder")
        if any(v.shape != val[0].shape for v in val):
            raise DatasetError(f"validation photographs must be at least {VAL_SIDE} pixels on a side")
        test_x = np.stack([v.transpose(2, 0, 1) for v in val])
        train_x = self.epoch_crops(seed, 0)
        zeros = np.zeros(len(train_x), np.int64), np.zeros(len(test_x), np.int64)
        super().__init__("photos", train_x, zeros[0], test_x, zeros[1], dict(photos.md5), fixed_size=False)
        self.val_names = list(photos.val_names)

    def epoch_crops(self, seed: int, epoch: int) -> np.ndarray:
        """uint8 (n, 3, crop, crop): random crops of the pyramid, half of them flipped; n is ``EPOCH_CROPS``
        at the default crop and four times as many at twice the side (fewer validations per step)."""
        rng = np.random.default_rng([seed, epoch])
        return random_crops(self.pyramid, EPOCH_CROPS * max(1, (self.crop // PATCH) ** 2), self.crop, rng)


def load_photo_dataset(folder: Path, seed: int = 0, crop: int = 0) -> PhotoDataset:
    """The photo folder as the trainer's dataset (``--dataset photos``); several folders separated by
    commas train together (``--data-dir photos,photos-more``); ``crop`` 0 is the default ``PATCH``."""
    folders = [Path(f) for f in str(folder).split(",")]
    for f in folders:
        if not f.is_dir():
            raise DatasetError(f"{f}: expected a folder of photographs (PNG/JPEG/WebP); pass --data-dir")
    return PhotoDataset(load_photos(folders), seed, crop or PATCH)
