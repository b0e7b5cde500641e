"""Runs of the earlier stand-alone photo-codec loop, read by the one trainer.

Those runs' checkpoints hold ``config``, ``model`` (a ``HyperpriorCodec`` state dict), ``optimizer``, ``rng``,
``step``, ``elapsed_s``, ``lam``, ``command``, ``val``, ``val_names`` and ``data_md5``. ``--init OLD_RUN``
takes such a run directly (its weights); to continue one with its optimiser, steps and seconds, convert it
into a new run folder and resume that with the one trainer:

    python -m aecodec_training.codec.photo OLD_RUN NEW_RUN --data-dir PHOTOS
    aecodec-train train hyperprior-codec --dataset photos --data-dir PHOTOS --out NEW_RUN --lam 0.0067 \\
        --minutes 600 --threads 1

The old run is only read. Its steps become epochs of ``STEPS_PER_EPOCH`` batches.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import Objective, TrainConfig
from .hyperprior import BATCH, STEPS_PER_EPOCH


def upgrade_photo_checkpoint(
    state: dict[str, Any], data_dir: str = "", out: str = "", minutes: float = 0.0
) -> dict[str, Any]:
    """A checkpoint of the earlier stand-alone photo loop, as the one trainer's checkpoint (same weights,
    optimiser state, seconds; its steps as epochs of ``STEPS_PER_EPOCH`` batches). Other checkpoints pass."""
    if "model_name" in state or "config" not in state:
        return state
    lam = float(state.get("lam", 0.0067))
    step, seconds = int(state.get("step", 0)), float(state.get("elapsed_s", 0.0))
    optimizer = state.get("optimizer")
    if optimizer is not None:
        for group in optimizer["param_groups"]:
            group.update(fused=True, foreach=None)  # the trainer's Adam is the fused one
    cfg = TrainConfig(
        model="hyperprior-codec",
        dataset="photos",
        data_dir=data_dir,
        out=out,
        epochs=1_000_000,
        batch_size=BATCH,
        lr=3e-4,
        objective=Objective(lam=lam),
        minutes=minutes,
        clip=1.0,
        decay_at=0.8,
        threads=1,
        command=str(state.get("command", "")),
    )
    val = state.get("val") or {}
    return {
        "model_name": "hyperprior-codec",
        "model_config": dict(state["config"]),
        "model_state": state["model"],
        "optimizer": optimizer,
        "epoch": step // STEPS_PER_EPOCH,
        "seconds": seconds,
        "decayed": False,
        "history": [{"epoch": step // STEPS_PER_EPOCH, "seconds": seconds, **val}] if val else [],
        "train_config": asdict(cfg),
        "dataset": {"name": "photos", "md5": dict(state.get("data_md5", {}))},
        "lineage": {"command": "", "epochs": 0, "seconds": 0.0},
        "torch_version": torch.__version__,
    }


def main(argv: list[str] | None = None) -> None:
    """Convert a run of the earlier photo loop into a run folder the one trainer resumes."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("old", type=Path, help="run folder of the earlier loop (read only)")
    p.add_argument("new", type=Path, help="new run folder (checkpoint.pt written there)")
    p.add_argument("--data-dir", default="", help="the photo folder the run trains on")
    p.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget recorded for the run")
    a = p.parse_args(argv)
    state = load_checkpoint(a.old)
    if state is None:
        raise SystemExit(f"no checkpoint.pt in {a.old}")
    if a.new.resolve() == a.old.resolve():
        raise SystemExit("write the converted run into a new folder")
    new = upgrade_photo_checkpoint(state, a.data_dir, str(a.new), a.minutes)
    # the manifest's command chain: the earlier loop's command, this conversion, then the resuming command
    done = f"{new['train_config']['command']} && python -m aecodec_training.codec.photo {a.old} {a.new}"
    new["lineage"] = {"command": done, "epochs": 0, "seconds": 0.0}  # epoch and seconds already count them
    save_checkpoint(a.new, new)
    print(f"{a.new}: epoch {new['epoch']}, {new['seconds']:.0f} s")


if __name__ == "__main__":
    main()
