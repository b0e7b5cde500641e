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

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from aecodec_wire.manifest import MANIFEST_FILE, Manifest, load

from . import distributed as D
from .checkpoint import load_checkpoint
from .codec_report import compare, markdown, write_report
from .config import TrainConfig
from .export import export_model
from .publish import publish_copy
from .registry import make_task
from .tasks import load_data
from .trainer import Trainer, load_run, run_config
from .zoo import free_wire_ids

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
        settings = {"lam": p.lam, "flip": not fixed, "shift": 0 if fixed else 4}
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
            task=settings,
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
        task = make_task(run_config(state, eval_limit=0), D.DistContext(device=torch.device("cpu")), model)
        folder = run_dir / "models" / p.name
        manifest = export_model(model, task, state, folder, p.name, wire_id=wire_ids[p.name])
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
