"""Dataset parsers on tiny files written by the tests."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from aecodec_training.datasets import ChecksumError, DatasetError, load_dataset, md5_of, verify_md5
from aecodec_training.datasets.cifar import parse_python_batch
from aecodec_training.datasets.download import SOURCES, Source, fetch_file
from aecodec_training.datasets.idx import parse_idx
from PIL import Image

from .helpers import cifar_records, fake_digits, make_idx_folder


@pytest.mark.parametrize("gz", [True, False])
def test_idx_gz_and_plain(tmp_path: Path, gz: bool) -> None:
    folder = make_idx_folder(tmp_path / "m", gz=gz, n_train=20, n_test=10)
    data = load_dataset("mnist", folder)
    assert data.train_x.shape == (20, 1, 28, 28) and data.test_x.shape == (10, 1, 28, 28)
    assert data.train_x.dtype == np.uint8 and data.train_y.shape == (20,)
    np.testing.assert_array_equal(data.train_x[:, 0], fake_digits(20, 1))
    assert set(data.md5) == {p.name for p in folder.iterdir()}
    assert data.md5[next(iter(data.md5))] == md5_of(folder / next(iter(data.md5)))


def test_idx_bad_magic() -> None:
    with pytest.raises(ValueError, match="magic"):
        parse_idx(b"\x01\x02\x03\x04" + bytes(16))


def test_missing_files_error_names_them(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion-mnist", tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg and "zalandoresearch" in msg
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin"):
        load_dataset("cifar10", tmp_path)


def test_cifar_binary(cifar_bin_dir: Path) -> None:
    data = load_dataset("cifar10", cifar_bin_dir)
    assert data.train_x.shape == (40, 3, 32, 32) and data.test_x.shape == (8, 3, 32, 32)
    x, y = cifar_records(8, 0)
    np.testing.assert_array_equal(data.train_x[:8], x)
    np.testing.assert_array_equal(data.train_y[:8], y)
    assert "test_batch.bin" in data.md5


def test_cifar_python_batches(tmp_path: Path) -> None:
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        x, y = cifar_records(4, i)
        batch = {b"data": x.reshape(4, -1), b"labels": y.tolist(), b"batch_label": b"x"}
        (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=2))
    data = load_dataset("cifar10", tmp_path)
    assert data.train_x.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(data.test_x, cifar_records(4, 5)[0])


def test_cifar_python_refuses_code() -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        parse_python_batch(pickle.dumps({b"data": Evil(), b"labels": []}))
    buf = io.BytesIO()
    pickle.dump({b"data": bytes(3072), b"labels": [3]}, buf)
    x, y = parse_python_batch(buf.getvalue())
    assert x.shape == (1, 3, 32, 32) and y.tolist() == [3]


def test_npz(cifar_npz_dir: Path) -> None:
    data = load_dataset("cifar10", cifar_npz_dir)
    assert data.train_x.shape == (64, 3, 32, 32) and data.test_x.shape == (16, 3, 32, 32)
    np.testing.assert_array_equal(data.train_x, cifar_records(64, 0)[0])
    assert set(data.md5) == {"train_exact_subset.npz", "test_exact_subset.npz"}
    generic = load_dataset("npz", cifar_npz_dir)
    assert generic.name == "npz" and generic.shape == (3, 32, 32)


@pytest.mark.parametrize("fit", ["resize", "crop"])
def test_image_folder_any_size(tmp_path: Path, fit: str) -> None:
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(40, 30), (64, 64), (17, 50), (100, 20), (33, 33)]):
        arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / f"img{i}.{'png' if i % 2 else 'jpg'}")
    data = load_dataset("images", tmp_path, image_size=16, fit=fit)
    assert data.train_x.shape[1:] == (3, 16, 16)
    assert len(data.train_x) + len(data.test_x) == 5
    grey = load_dataset("images", tmp_path, image_size=8, channels=1)
    assert grey.shape == (1, 8, 8)


def test_md5_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"not the official file")
    with pytest.raises(ChecksumError, match="official"):
        verify_md5(path, SOURCES["mnist"].md5[path.name])
    verify_md5(path, md5_of(path))  # a matching md5 passes
    # an already-present file with the wrong md5 is refused before any network access
    source = Source("https://example.invalid", ("https://example.invalid/",), {path.name: "0" * 32})
    with pytest.raises(ChecksumError):
        fetch_file(source, path.name, tmp_path)


def test_tensors_on_device_scaled(mnist_dir: Path) -> None:
    import torch

    data = load_dataset("mnist", mnist_dir)
    train, test = data.tensors(torch.device("cpu"), -1.0, 1.0)
    assert train.dtype == torch.float32 and float(train.min()) == -1.0 and float(train.max()) <= 1.0
    assert test.shape == (128, 1, 28, 28)
