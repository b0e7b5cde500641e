"""Regenerate the small real-data fixtures the shipped-model tests use (run from the repo root).

    python tests/training/make_fixtures.py [SHARED_DATA_DIR]   # default ../shared/data

Writes tests/fixtures/mnist_test_48.npz (48 MNIST test digits, every 208th) and
tests/fixtures/cifar10_test_16.npz (the first 16 CIFAR-10 test images): x uint8, y, index.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from aecodec_training.datasets import load_dataset


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    out = Path(__file__).resolve().parents[1] / "fixtures"
    mnist = load_dataset("mnist", shared / "mnist")
    idx = np.arange(0, 10000, 10000 // 48)[:48]
    np.savez_compressed(out / "mnist_test_48.npz", x=mnist.test_x[idx, 0], y=mnist.test_y[idx], index=idx)
    cifar = load_dataset("cifar10", shared / "cifar-10")
    idx = np.arange(16)
    np.savez_compressed(
        out / "cifar10_test_16.npz", x=cifar.test_x[idx].transpose(0, 2, 3, 1), y=cifar.test_y[idx], index=idx
    )


if __name__ == "__main__":
    main()
