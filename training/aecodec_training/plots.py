"""The report's figures: loss curves per epoch and originals-vs-reconstructions grids (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

from .tasks import to_uint8


def loss_curves(histories: dict[str, list[dict[str, float]]], path: Path, key: str = "train_loss") -> None:
    """One line per model of ``key`` (and dashed test loss) against epoch, log scale."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, rows) in enumerate(histories.items()):
        if not rows:  # closed-form models (PCA) have no epochs to plot
            continue
        epochs = [r["epoch"] for r in rows]
        color = f"C{i}"
        ax.plot(epochs, [r[key] for r in rows], color=color, label=f"{name} train")
        ax.plot(epochs, [r["test_loss"] for r in rows], color=color, linestyle="--", label=f"{name} test")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("MSE loss ([-1, 1] scale)")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def image_grid(rows: list[torch.Tensor], labels: list[str], value_range: tuple[float, float], path: Path) -> None:
    """Rows of images (N, C, H, W) in ``value_range``, one labelled row each; long rows wrap to 16 columns."""
    cols = min(16, max(len(r) for r in rows))
    lines = [
        (label if s == 0 else "", r[s : s + cols])
        for label, r in zip(labels, rows, strict=True)
        for s in range(0, len(r), cols)
    ]
    fig, axes = plt.subplots(len(lines), cols, figsize=(cols * 0.8, len(lines) * 0.9), squeeze=False)
    for (label, images), ax_row in zip(lines, axes, strict=True):
        pixels = to_uint8(images, value_range)
        for j, ax in enumerate(ax_row):
            ax.axis("off")
            if j < len(pixels):
                img = pixels[j].transpose(1, 2, 0)
                ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
        ax_row[0].set_title(label, fontsize=7, loc="left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
