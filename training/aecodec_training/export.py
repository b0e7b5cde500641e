"""Export a trained run as a served model folder: checked ONNX graphs and a sealed manifest. One path for every
model.

The model says which graphs it has (``Autoencoder.graphs``, plain data); ``onnx_io.export_graphs`` writes them
and ``onnx_io.check_graphs`` runs ``onnx.checker`` and onnxruntime-vs-PyTorch on real images; data files the
wire codec reads beside them (``Autoencoder.wire_files``: a hyperprior's integer hyper-synthesis, calibrated
on the same images) are written with their manifest fields; the manifest's
quality figures are measured by the run's task through the exported graphs and payload bytes, the way the
service runs them (``Task.served_figures``); the sealed folder is loaded back exactly as the service verifies
it. Everything is written into a temporary folder beside the target and published by one rename
(``publish.staging``) only after every check passed, so a failed export never leaves a half-written model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, TrainingInfo, load, seal
from aecodec_wire.quantize import measure_stats

from . import distributed as D
from .models import Autoencoder
from .onnx_io import check_graphs, export_graphs
from .publish import staging
from .realpath import PROVISIONAL_VERSION
from .registry import make_task
from .tasks import Task
from .trainer import load_run, run_config

CHECK_IMAGES = 256  # real images the ONNX-vs-PyTorch check runs on (and an integer hyper-synthesis is fitted to)
EXAMPLE_IMAGES = 16  # images the graphs are traced with
STATS_IMAGES = 5000  # training images whose latents give the manifest's latent statistics
# at most this many pixels go through a graph at once: 256 photo crops of 256x256 as one batch took 19 GB in
# onnxruntime (N=128 transforms); 2^22 is 256 crops of 128x128 or 64 of 256x256
BATCH_PIXELS = 1 << 22

__all__ = ["PROVISIONAL_VERSION", "export_model", "export_run"]


def images_within(x: torch.Tensor, pixels: int = BATCH_PIXELS) -> int:
    """How many of the images ``x`` (N, C, H, W) hold at most ``pixels`` pixels (at least one)."""
    return max(1, pixels // (x.shape[-2] * x.shape[-1]))


@torch.inference_mode()
def latents_of(model: Autoencoder, x: torch.Tensor) -> np.ndarray:
    batch = min(1000, images_within(x))
    return torch.cat([model.encode(x[s : s + batch]) for s in range(0, len(x), batch)]).numpy()


def training_info(state: dict[str, Any]) -> TrainingInfo:
    """The exact command (chained after the commands of the runs it started from), epochs and seconds."""
    cfg = state["train_config"]
    before = state.get("lineage") or {"command": "", "epochs": 0, "seconds": 0.0}
    command = cfg.get("command") or "(not recorded)"
    return TrainingInfo(
        command=f"{before['command']} && {command}" if before["command"] else command,
        epochs=before["epochs"] + state["epoch"],
        seconds=round(before["seconds"] + state["seconds"], 2),
        seed=cfg.get("seed", 0),
        torch_version=state.get("torch_version", torch.__version__),
    )


def draft_manifest(
    model: Autoencoder,
    task: Task,
    name: str,
    state: dict[str, Any],
    description: str,
    wire_id: int | None,
    files_fields: dict[str, Any] | None = None,
) -> Manifest:
    """The manifest before its figures are measured (they are measured through the graphs it describes)."""
    if model.kind == "codec" and wire_id is None:
        raise ValueError(f"{name}: a codec model needs a wire id (1..255, unique among served models): --wire-id")
    c, h, w = model.image_shape
    stats = latents_of(model, task.examples(STATS_IMAGES, "train"))
    return Manifest(
        name=name,
        kind=model.kind,  # type: ignore[arg-type]
        architecture=model.architecture(),
        description=description or task.describe(model),
        dataset=DatasetInfo(name=state["dataset"]["name"], md5=state["dataset"]["md5"]),
        input=InputSpec(channels=c, height=h, width=w, range=model.input_range, pad_multiple=model.pad_multiple),  # type: ignore[arg-type]
        output_range=model.output_range,
        latent_shape=model.latent_shape,
        latent_stats=measure_stats(stats),
        training=training_info(state),
        metrics={},
        wire_id=wire_id,
        **model.wire_fields(),
        **(files_fields or {}),
        **task.manifest_fields(),
    )


def export_model(
    model: Autoencoder,
    task: Task,
    state: dict[str, Any],
    out: Path,
    name: str,
    description: str = "",
    limit: int | None = None,
    wire_id: int | None = None,
) -> Manifest:
    """Write ``out`` (replacing it atomically) with the model's graphs and a sealed manifest.json."""
    model = model.eval().cpu()
    with staging(Path(out)) as tmp:
        export_graphs(model, task.examples(EXAMPLE_IMAGES), tmp)
        real = task.examples(CHECK_IMAGES, "train")
        real = real[: images_within(real)]
        check_graphs(model, tmp, real)
        fields, files = model.wire_files(real)  # e.g. a hyperprior's integer hyper-synthesis, calibrated on them
        for file_name, data in files.items():
            (tmp / file_name).write_bytes(data)
        draft = draft_manifest(model, task, name, state, description, wire_id, fields)
        figures = {**task.model_figures(model), **task.served_figures(model, tmp, draft, limit)}
        rounded = {k: round(v, task.figure_decimals) for k, v in figures.items()}
        sealed = seal(tmp, draft.model_copy(update={"metrics": rounded}))
        load(tmp)  # the folder must verify exactly as the service will verify it
    return sealed


def export_run(
    run_dir: Path,
    out: Path,
    name: str,
    description: str = "",
    data_dir: str | None = None,
    limit: int | None = None,
    wire_id: int | None = None,
) -> Manifest:
    """Export the model in ``run_dir``; its task reloads the data (from ``data_dir`` if given)."""
    model, state = load_run(run_dir)
    cfg = run_config(state, download=False, out=str(run_dir), **({"data_dir": data_dir} if data_dir else {}))
    task = make_task(cfg, D.DistContext(device=torch.device("cpu")), model)
    return export_model(model, task, state, out, name, description, limit, wire_id)
