"""Rate-distortion benchmark: the learned codec levels through the real path (ONNX encoder -> PriorCodec
compact payload bytes -> ONNX decoder) against Pillow JPEG (optimize=True), WebP (method 6), AVIF and
PCA with 8-bit codes.

Bytes are whole files/payloads (headers included); PSNR and SSIM are per-image means on 8-bit pixels.
Writes results/rate_distortion/<dataset>-<codec>.json (CompressAI results-file style), <dataset>.md,
results.md and <dataset>.png.  ``python benchmarks/rate_distortion.py --mnist-models models/mnist-codec-q* \
--cifar-models models/cifar-codec-q*``
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pillow_avif  # noqa: F401  (registers AVIF with Pillow)
from aecodec_training.datasets import load_dataset
from aecodec_training.rd import learned, pillow, point

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "rate_distortion"
SWEEPS = {"jpeg": [5, 10, 20, 30, 50, 75, 90], "webp": [0, 10, 20, 30, 50, 75], "avif": [0, 10, 30, 50]}
PCA_K = {"mnist": [8, 16, 32, 49], "cifar10": [32, 64, 128, 256]}


def load_images(dataset: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, C, H, W) train and test splits: MNIST IDX files, or the CIFAR-10 files (batches or npz pair)."""
    ds = load_dataset(dataset, data_dir)
    return np.ascontiguousarray(ds.train_x), np.ascontiguousarray(ds.test_x)


def classical(x: np.ndarray, avif_limit: int) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
        "jpeg": lambda q: (x, *pillow(x, "JPEG", quality=q, optimize=True)),
        "webp": lambda q: (x, *pillow(x, "WEBP", quality=q, method=6)),
        "avif": lambda q: (x[:avif_limit], *pillow(x[:avif_limit], "AVIF", quality=q)),
    }
    out: dict[str, list[dict[str, float]]] = {}
    for name, fn in runs.items():
        out[name] = []
        for q in SWEEPS[name]:
            ref, rec, sizes = fn(q)
            out[name].append(point(ref, rec, sizes, ssim=True, quality=q))
    rec, sizes = pillow(x, "PNG", optimize=True)
    out["png"] = [point(x, rec, sizes, ssim=True)]  # lossless: the PSNR cap (quality.MAX_PSNR_DB), SSIM 1
    return out


def pca(train: np.ndarray, x: np.ndarray, ks: list[int]) -> list[dict[str, float]]:
    """PCA fitted on the train split; each code component stored as one byte over its train [min, max]."""
    tr = train.reshape(len(train), -1).astype(np.float64)
    mean = tr.mean(0)
    _, _, vt = np.linalg.svd(tr[:20000] - mean, full_matrices=False)
    res = []
    for k in ks:
        basis = vt[:k]
        codes_tr = (tr - mean) @ basis.T
        lo, hi = codes_tr.min(0), codes_tr.max(0)
        codes = (x.reshape(len(x), -1) - mean) @ basis.T
        q = np.clip(np.rint((codes - lo) / (hi - lo) * 255), 0, 255)
        rec = np.clip(np.rint((q / 255 * (hi - lo) + lo) @ basis + mean), 0, 255).astype(np.uint8)
        res.append(point(x, rec.reshape(x.shape), np.full(len(x), float(k)), ssim=True, components=k))
    return res


def write(dataset: str, results: dict[str, list[dict]]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for codec, pts in results.items():
        keys = sorted({k for p in pts for k in p if not isinstance(p[k], str)})
        body = {
            "name": codec,
            "dataset": dataset,
            "description": __doc__.split("\n")[0],
            "results": {k: [p.get(k) for p in pts] for k in keys},
            "points": pts,
        }
        (OUT / f"{dataset}-{codec}.json").write_text(json.dumps(body, indent=1) + "\n")


def markdown(all_results: dict[str, dict[str, list[dict]]]) -> str:
    lines = ["| dataset | codec | setting | bytes/image | bpp | PSNR dB | SSIM |", "|---|---|---|---:|---:|---:|---:|"]
    for ds, res in all_results.items():
        for codec, pts in res.items():
            for p in pts:
                setting = p.get("model") or (
                    f"q{p['quality']:g}"
                    if "quality" in p
                    else f"k={p['components']:g}"
                    if "components" in p
                    else "lossless"
                )
                lines.append(
                    f"| {ds} | {codec} | {setting} | {p['bytes']:.1f} | {p['bpp']:.3f} | "
                    f"{p['psnr']:.2f} | {p['ssim']:.4f} |"
                )
    return "\n".join(lines) + "\n"


def plot(dataset: str, res: dict[str, list[dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for codec, pts in res.items():
        if codec == "png":
            continue
        b = [p["bytes"] for p in pts]
        for ax, key in zip(axes, ("psnr", "ssim"), strict=True):
            ax.plot(
                b,
                [p[key] for p in pts],
                "o-" if codec == "learned" else ".--",
                label=codec + (" (raw codes, no header)" if codec.startswith("pca") else ""),
            )
    for ax, key in zip(axes, ("PSNR (dB)", "SSIM"), strict=True):
        ax.set_xlabel("bytes per image (header included)")
        ax.set_ylabel(key)
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"rate-distortion, {dataset} test set")
    fig.tight_layout()
    fig.savefig(OUT / f"{dataset}.png", dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mnist-models", nargs="*", type=Path, default=[])
    p.add_argument("--cifar-models", nargs="*", type=Path, default=[])
    p.add_argument("--mnist-dir", default="data/mnist", help="MNIST IDX files")
    p.add_argument("--cifar-dir", default="data/cifar-10", help="CIFAR-10 files")
    p.add_argument("--limit", type=int, default=None, help="first N test images (default: all)")
    p.add_argument("--classical-limit", type=int, default=None, help="JPEG/WebP/PNG on the first N only")
    p.add_argument("--avif-limit", type=int, default=2000, help="AVIF is slow: first N images only")
    p.add_argument("--datasets", nargs="*", default=["mnist", "cifar10"])
    p.add_argument(
        "--reuse-baselines",
        action="store_true",
        help="read JPEG/WebP/AVIF/PNG/PCA from the results JSON of an earlier run instead of measuring them again",
    )
    a = p.parse_args()
    for ds in a.datasets:
        train, test = load_images(ds, Path(a.mnist_dir if ds == "mnist" else a.cifar_dir))
        x = test[: a.limit]
        folders = a.mnist_models if ds == "mnist" else a.cifar_models
        res: dict[str, list[dict]] = {"learned": [learned(x, f, ssim=True) for f in folders]}
        res["learned"].sort(key=lambda r: r["bytes"])
        if a.reuse_baselines:  # they do not depend on the learned models
            for codec in ("jpeg", "webp", "avif", "png", "pca-8bit"):
                earlier = OUT / f"{ds}-{codec}.json"
                if not earlier.is_file():
                    p.error(f"--reuse-baselines needs {earlier} from an earlier run without it")
                res[codec] = json.loads(earlier.read_text())["points"]
        else:
            res |= classical(x[: a.classical_limit], a.avif_limit)
            res["pca-8bit"] = pca(train, x, PCA_K[ds])
        write(ds, res)
        plot(ds, res)
        print(markdown({ds: res}), flush=True)
        (OUT / f"{ds}.md").write_text(markdown({ds: res}))
    parts = [(OUT / f"{ds}.md").read_text() for ds in ("mnist", "cifar10") if (OUT / f"{ds}.md").exists()]
    (OUT / "results.md").write_text("\n".join(parts))  # both datasets, whichever run produced each


if __name__ == "__main__":
    main()
