"""The report of ``aecodec-train codec``: every level beside JPEG and WebP on the held-out images (equal bytes
and equal PSNR), as JSON (every point), a markdown table and a plot, each written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from . import rd
from .checkpoint import write_bytes, write_json, write_text


def compare(x: np.ndarray, folders: list[Path]) -> dict[str, Any]:
    """Every level and the JPEG/WebP sweeps on the held-out images, each level read at equal bytes."""
    baselines = {codec: rd.sweep(x, codec) for codec in ("jpeg", "webp")}
    levels = []
    for folder in folders:
        p = rd.learned(x, folder)
        for codec, pts in baselines.items():
            p[f"{codec}_psnr_at_bytes"] = rd.at_bytes(pts, p["bytes"])
            p[f"{codec}_bytes_at_psnr"] = rd.bytes_for(pts, p["psnr"])
            smallest = min(pts, key=lambda q: q["bytes"])
            p[f"{codec}_smallest_bytes"], p[f"{codec}_smallest_psnr"] = smallest["bytes"], smallest["psnr"]
        levels.append(p)
    return {"learned": levels, **baselines}


def _fmt(v: float | None, spec: str, missing: str) -> str:
    return missing if v is None else format(v, spec)


def markdown(report: dict[str, Any]) -> str:
    """The table a README shows: each level beside JPEG and WebP at the same bytes."""
    lines = [
        f"Held-out images: {report['val_images']} of {report['image_shape']}; bytes per image are whole payloads "
        "and files (headers included); PSNR is the mean per-image PSNR on 8-bit pixels.",
        "",
        "| level | wire id | bytes | bpp | PSNR dB | JPEG dB at equal bytes | WebP dB at equal bytes "
        "| JPEG bytes for equal PSNR | WebP bytes for equal PSNR |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in report["results"]["learned"]:
        cells = []
        for codec in ("jpeg", "webp"):
            below = f"n/a (its smallest: {p[f'{codec}_smallest_bytes']:.0f} B)"
            cells.append(_fmt(p[f"{codec}_psnr_at_bytes"], ".2f", below))
        for codec in ("jpeg", "webp"):
            floor = p[f"{codec}_smallest_psnr"]
            missing = f"n/a (its smallest file: {floor:.1f} dB)" if p["psnr"] < floor else "out of reach"
            cells.append(_fmt(p[f"{codec}_bytes_at_psnr"], ".0f", missing))
        lines.append(
            f"| {p['model']} | {p['wire_id']} | {p['bytes']:.1f} | {p['bpp']:.3f} | {p['psnr']:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "JPEG (Pillow, optimize) and WebP (method 6) sweeps on the same images:", ""]
    lines += ["| codec | quality | bytes | PSNR dB |", "|---|---:|---:|---:|"]
    for codec in ("jpeg", "webp"):
        lines += [
            f"| {codec} | {q['quality']} | {q['bytes']:.1f} | {q['psnr']:.2f} |" for q in report["results"][codec]
        ]
    lines += ["", f"Command: `{report['command']}`", f"Wall time: {report['wall_seconds'] / 60:.1f} min"]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for codec, style in (("learned", "o-"), ("jpeg", ".--"), ("webp", ".--")):
        pts = sorted(report["results"][codec], key=lambda p: p["bytes"])
        label = f"{report['name']} (learned)" if codec == "learned" else {"jpeg": "JPEG", "webp": "WebP"}[codec]
        ax.plot([p["bytes"] for p in pts], [p["psnr"] for p in pts], style, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image (headers included)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{report['name']}: {report['val_images']} held-out images")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def write_report(report: dict[str, Any], folder: Path, stem: str) -> list[Path]:
    """``stem``-rd.json, .md and .png in ``folder``, each written atomically."""
    paths = [folder / f"{stem}-rd.json", folder / f"{stem}-rd.md", folder / f"{stem}-rd.png"]
    write_json(paths[0], report)
    write_text(paths[1], markdown(report))
    plot(report, paths[2])
    return paths
