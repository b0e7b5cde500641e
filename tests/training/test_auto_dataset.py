"""A user's own images in every form ``aecodec-train codec`` takes, and the atomic folder publication."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aecodec_training.datasets import DatasetError, load_auto
from aecodec_training.publish import publish_copy, replace_dir, staging
from PIL import Image

from .helpers import fake_digits, make_idx_folder


def _save(folder: Path, images: list[np.ndarray], fmt: str = "png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:03d}.{fmt}")
    return folder


def test_one_size_folder_is_fixed_size_and_holds_out_images(tmp_path: Path) -> None:
    folder = _save(tmp_path / "same", list(fake_digits(30, 0, size=20)), "webp")
    ds = load_auto(folder, "auto", 0)
    assert ds.fixed_size and ds.shape == (1, 20, 20)
    assert len(ds.train_x) + len(ds.test_x) == 30 and len(ds.test_x) == 3
    again = load_auto(folder, "auto", 1)  # another seed holds out other images
    assert not np.array_equal(ds.test_x, again.test_x)


def test_mixed_sizes_give_patches_for_an_any_size_model(tmp_path: Path) -> None:
    colours = [np.array([200, 40 * (i % 5), 90], np.uint8) for i in range(20)]
    images = [
        np.broadcast_to(c, (h, w, 3)).copy() for c, (h, w) in zip(colours, [(40, 56), (48, 33)] * 10, strict=True)
    ]
    ds = load_auto(_save(tmp_path / "mixed", images, "jpg"), "auto", 0)
    assert not ds.fixed_size and ds.shape == (3, 32, 32)  # the smallest side, down to a multiple of 8
    resized = load_auto(tmp_path / "mixed", "24x16", 0)
    assert resized.fixed_size and resized.shape == (3, 24, 16)


def test_npz_and_idx(tmp_path: Path) -> None:
    np.savez(tmp_path / "mine.npz", x=fake_digits(20, 0, size=12))
    ds = load_auto(tmp_path / "mine.npz", "auto", 0)
    assert ds.shape == (1, 12, 12) and len(ds.test_x) == 2
    idx = load_auto(make_idx_folder(tmp_path / "idx", n_train=16, n_test=8), "auto", 0)
    assert len(idx.train_x) == 16 and len(idx.test_x) == 8  # the split that comes with the data


def test_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="found 0 image"):
        load_auto(tmp_path / "empty", "auto", 0)
    with pytest.raises(DatasetError, match="expected auto, any or HxW"):
        load_auto(tmp_path / "empty", "huge", 0)


def test_replace_dir_swaps_whole_folders(tmp_path: Path) -> None:
    target, new = tmp_path / "m", tmp_path / ".m.tmp"
    for folder, text in ((target, "old"), (new, "new")):
        folder.mkdir()
        (folder / "manifest.json").write_text(text)
    replace_dir(new, target)
    assert (target / "manifest.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_staging_publishes_on_success_and_cleans_up_on_failure(tmp_path: Path) -> None:
    with staging(tmp_path / "m") as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), staging(tmp_path / "m") as tmp:
        (tmp / "a").write_text("2")
        raise RuntimeError("export failed")
    assert (tmp_path / "m" / "a").read_text() == "1"  # the old version stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left
    publish_copy(tmp_path / "m", tmp_path / "served" / "m")
    assert (tmp_path / "served" / "m" / "a").read_text() == "1"
