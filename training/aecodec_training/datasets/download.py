"""Opt-in download of the official dataset files, refused unless the official md5 matches."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .base import md5_of


class ChecksumError(RuntimeError):
    """A downloaded (or local) file does not have the official md5; it is never used."""


@dataclass(frozen=True)
class Source:
    homepage: str
    mirrors: tuple[str, ...]
    md5: dict[str, str]  # official file name -> official md5


SOURCES: dict[str, Source] = {
    "mnist": Source(
        homepage="http://yann.lecun.com/exdb/mnist/",
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": Source(
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12e480ee83cd310",
        },
    ),
    "cifar10": Source(
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        md5={"cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530"},
    ),
}


def verify_md5(path: Path, expected: str) -> None:
    """Raise ChecksumError unless ``path`` has md5 ``expected``."""
    actual = md5_of(path)
    if actual != expected:
        raise ChecksumError(f"{path.name}: md5 {actual} is not the official {expected}; refusing to use it")


def _download(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as resp, dest.open("wb") as out:
        shutil.copyfileobj(resp, out)


def fetch_file(source: Source, name: str, folder: Path) -> Path:
    """Download ``name`` from the first mirror that works into ``folder`` after checking its md5."""
    target = folder / name
    if target.is_file():
        verify_md5(target, source.md5[name])
        return target
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in source.mirrors:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _download(mirror + name, tmp)
            verify_md5(tmp, source.md5[name])
            tmp.replace(target)
            return target
        except (OSError, ChecksumError) as exc:
            errors.append(f"{mirror}{name}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    raise ChecksumError("could not download a verified copy:\n  " + "\n  ".join(errors))


def fetch(dataset: str, folder: Path) -> None:
    """Download (and for CIFAR-10 unpack) every official file of ``dataset`` into ``folder``."""
    source = SOURCES[dataset]
    for name in source.md5:
        path = fetch_file(source, name, folder)
        if name.endswith(".tar.gz"):
            with tarfile.open(path) as tar:
                tar.extractall(folder, filter="data")
