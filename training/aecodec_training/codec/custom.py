"""Compress your own kind of images in one command (``aecodec-train codec``): train K quality levels of the
rate-distortion codec on a folder of images within a wall-clock budget, export each through the one checked
export path, measure every level against JPEG and WebP at equal bytes on held-out images through the real
serving path, write the report beside the models and publish the levels atomically into a model folder.

The plan: the middle level trains from scratch on half the budget; the others start from its weights
(``--init``) and share the other half. Lambdas are spread geometrically over LAMBDAS (per 28 x 28 = 784
pixels, scaled by the image area, since the loss is lambda * 255^2 * MSE + bits per image). Everything lives
in the run folder (checkpoints, exported levels, report), so running the same command again resumes.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from aecodec_wire.manifest import MANIFEST_FILE, Manifest, load

from .. import rd
from ..checkpoint import load_checkpoint, write_bytes, write_json, write_text
from ..config import Objective, TrainConfig
from ..export import export_model, load_run
from ..publish import publish_copy
from ..trainer import Trainer, load_data
from ..zoo import free_wire_ids

LAMBDAS = (0.5, 50.0)  # lowest and highest level, per 784 pixels
POSITIONAL_MAX_ROWS = 1024  # a positional prior beyond this many latent elements makes the manifest too big
VAL_IMAGES = 1000  # held-out images each level and JPEG/WebP are measured on
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")


@dataclass
class LevelPlan:
    """One quality level: its model name, lambda, share of the budget and the level it starts from."""

    name: str
    lam: float
    minutes: float
    init: str = ""  # name of the level whose weights it starts from
    run: Path = field(default_factory=Path)


def plan(name: str, levels: int, minutes: float, pixels: int, run_dir: Path) -> list[LevelPlan]:
    """Levels q1 (lowest rate) .. qK; the middle one first, from scratch, the others from it."""
    if levels < 1:
        raise ValueError("--levels must be at least 1")
    lo, hi = LAMBDAS
    scale = pixels / 784
    lams = [lo * scale] if levels == 1 else list(np.geomspace(lo, hi, levels) * scale)
    anchor = (levels - 1) // 2
    share = 1.0 if levels == 1 else 0.5
    out = []
    for i, lam in enumerate(lams):
        level = f"{name}-q{i + 1}"
        own = minutes * (share if i == anchor else (1 - share) / (levels - 1))
        out.append(LevelPlan(level, float(f"{lam:.3g}"), own, "" if i == anchor else f"{name}-q{anchor + 1}"))
    order = [anchor, *(i for i in range(levels) if i != anchor)]
    for p in out:
        p.run = run_dir / "runs" / p.name
    return [out[i] for i in order]


def architecture(shape: tuple[int, int, int], size: str) -> dict[str, Any]:
    """Fixed size: the MNIST codec's (positional prior when the latent is small); any size: the CIFAR one's."""
    _, h, w = shape
    fixed = size != "any"
    if fixed:
        rows = 16 * -(-h // 8) * -(-w // 8)
        return {"hidden": 32, "latent": 16, "positional": rows <= POSITIONAL_MAX_ROWS, "size": size}
    return {"hidden": 48, "latent": 24, "size": "any"}


def taken_wire_ids(model_dir: Path, replacing: set[str]) -> tuple[set[int], dict[str, int]]:
    """Wire ids served from ``model_dir``, and those of the folders this run replaces (kept for them)."""
    taken, mine = set(), {}
    for manifest_path in sorted(model_dir.glob(f"*/{MANIFEST_FILE}")) if model_dir.is_dir() else []:
        try:
            m = load(manifest_path.parent, verify=False)
        except ValueError:
            continue
        if m.wire_id is None:
            continue
        if manifest_path.parent.name in replacing:
            mine[manifest_path.parent.name] = m.wire_id
        else:
            taken.add(m.wire_id)
    return taken, mine


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


def train_codec(
    data_dir: Path,
    name: str,
    publish: Path,
    run_dir: Path,
    levels: int = 3,
    minutes: float = 20.0,
    size: str = "auto",
    threads: int = 0,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    command: str = "",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Everything ``aecodec-train codec`` does; returns the report (also written beside the models)."""
    if not NAME.fullmatch(name):
        raise ValueError(f"--name {name!r}: lower-case letters, digits, '.', '_' or '-' (a model name prefix)")
    start = time.monotonic()
    base = TrainConfig(model="rd-codec", dataset="auto", data_dir=str(data_dir), options={"size": size}, seed=seed)
    data = load_data(base)
    fixed = size != "any" and data.fixed_size
    arch = architecture(data.shape, size if fixed else "any")
    c, h, w = data.shape
    log(
        f"{data.name}: {len(data.train_x)} training and {len(data.test_x)} held-out images of {c}x{h}x{w}; "
        f"{'fixed-size' if fixed else 'any-size'} codec {arch}"
    )
    plans = plan(name, levels, minutes, h * w, run_dir)
    for p in plans:
        objective = Objective(lam=p.lam, flip=not fixed, shift=0 if fixed else 4)
        cfg = TrainConfig(
            model="rd-codec",
            dataset="auto",
            data_dir=str(data_dir),
            out=str(p.run),
            epochs=100_000,
            batch_size=32 if fixed else 16,
            lr=(1e-3 if p.init else 2e-3) if fixed else 1e-3,
            seed=seed,
            device=device,
            threads=threads,
            progress=progress,
            options=dict(arch),
            objective=objective,
            minutes=p.minutes,
            init=str(run_dir / "runs" / p.init) if p.init else "",
            eval_limit=500,
            command=command,
        )
        log(f"{p.name}: lambda {p.lam:.3g}, {p.minutes:.1f} min" + (f", from {p.init}" if p.init else ""))
        trainer = Trainer(cfg, log=log)
        if trainer.budget_spent:
            log(f"{p.name}: already trained ({trainer.seconds:.0f}s)")
        trainer.fit()
    ordered = sorted(plans, key=lambda p: p.lam)
    taken, mine = taken_wire_ids(publish, {p.name for p in ordered})
    fresh = iter(free_wire_ids(taken | set(mine.values()), len(ordered)))
    wire_ids = {p.name: mine.get(p.name) or next(fresh) for p in ordered}
    folders = []
    for p in ordered:
        model, state = load_run(p.run)
        # every level comes from this one command: record it once, not chained after the level it started from
        state["lineage"] = {**state.get("lineage", {"epochs": 0, "seconds": 0.0}), "command": ""}
        train_x, val_x = data.tensors(torch.device("cpu"), *model.input_range)
        folder = run_dir / "models" / p.name
        manifest = export_model(model, state, train_x, val_x, folder, p.name, wire_id=wire_ids[p.name])
        log(f"{p.name}: exported, {_brief(manifest)}")
        folders.append(folder)
    val = data.test_x[:VAL_IMAGES]
    results = compare(val, folders)
    for p, point in zip(ordered, results["learned"], strict=True):
        point |= {"wire_id": wire_ids[p.name], "lam": p.lam, "train_seconds": _seconds(p.run)}
    report = {
        "name": name,
        "command": command,
        "data": {"path": str(data_dir), "name": data.name, "md5": data.md5},
        "image_shape": [c, h, w],
        "size": "fixed" if fixed else "any",
        "train_images": len(data.train_x),
        "val_images": len(val),
        "budget_minutes": minutes,
        "results": results,
    }
    report["wall_seconds"] = round(time.monotonic() - start, 1)
    for folder in folders:
        publish_copy(folder, publish / folder.name)
    report["wall_seconds"] = round(time.monotonic() - start, 1)
    write_report(report, run_dir, name)
    write_report(report, publish, name)
    log(markdown(report))
    log(f"published {', '.join(f.name for f in folders)} into {publish}; reload a running service to serve them")
    return report


def _seconds(run: Path) -> float:
    state = load_checkpoint(run)
    return round(float(state["seconds"]), 1) if state else 0.0


def _brief(m: Manifest) -> str:
    return f"wire id {m.wire_id}, {m.metrics.get('bytes', 0):.1f} B, {m.metrics.get('psnr_db', 0):.2f} dB"
