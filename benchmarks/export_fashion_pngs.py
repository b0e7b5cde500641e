"""Write Fashion-MNIST (the Debian package ``dataset-fashion-mnist``'s IDX files) as a folder of PNGs, the
worked example of ``aecodec-train codec`` ("compress your own kind of images", docs/training.md).

    apt-get install -y dataset-fashion-mnist      # IDX files: dpkg -L dataset-fashion-mnist
    python benchmarks/export_fashion_pngs.py --idx-dir /usr/share/datasets/fashion-mnist --out runs/fashion/pngs

Writes OUT/train/NNNNN.png and OUT/test/NNNNN.png (28 x 28 greyscale), 70,000 files in all by default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aecodec_training.datasets import load_dataset
from PIL import Image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--idx-dir", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int, default=None, help="first N images of each split (default: all)")
    a = p.parse_args()
    data = load_dataset("fashion-mnist", a.idx_dir)
    for split, x in (("train", data.train_x), ("test", data.test_x)):
        folder = a.out / split
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(x[: a.limit]):
            Image.fromarray(img[0]).save(folder / f"{i:05d}.png")
        print(f"{split}: {min(len(x), a.limit or len(x))} PNGs in {folder}")


if __name__ == "__main__":
    main()
