"""The in-memory dataset every loader returns: whole splits as uint8 arrays, loaded once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch


class DatasetError(FileNotFoundError):
    """A dataset file is missing or malformed; the message says what was expected and from where."""


@dataclass
class ImageDataset:
    """Train/test images as uint8 (N, C, H, W) plus labels; ``md5`` maps file name -> md5 of what was read."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    md5: dict[str, str] = field(default_factory=dict)
    fixed_size: bool = True  # False: square patches cut from images of several sizes (for any-size models)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    def tensors(self, device: torch.device, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Both image splits as float tensors on ``device`` in [lo, hi]: converted once, sliced per batch later."""
        return to_float(self.train_x, device, lo, hi), to_float(self.test_x, device, lo, hi)


def to_float(images: np.ndarray, device: torch.device, lo: float, hi: float) -> torch.Tensor:
    """uint8 images -> float32 on ``device`` scaled to [lo, hi]; the uint8 copy travels, the floats are made there."""
    t = torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device)
    return t.float().mul_((hi - lo) / 255.0).add_(lo)


def md5_of(path: Path, chunk: int = 1 << 20) -> str:
    """md5 hex digest of a file, read in chunks."""
    h = hashlib.md5()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def require(folder: Path, names: list[str], source: str) -> list[Path]:
    """Paths of ``names`` in ``folder``; a clear error listing what is missing and where it comes from."""
    paths = [folder / n for n in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(
            f"missing dataset file(s) in {folder}: {', '.join(missing)}. Expected: {', '.join(names)}. "
            f"They come from {source}; pass --data-dir to the folder holding them, or add --download."
        )
    return paths
