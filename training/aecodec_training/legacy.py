"""Checkpoints of earlier layouts, read as the one trainer's: runs made before the code around them changed
stay usable, for ``--init`` (their weights) and for resuming (``aecodec-train convert OLD NEW``).

Layouts read:
- the one trainer's before tasks (``train_config.objective``: one bag of denoising, sparse, codec and
  augmentation settings; ``decayed``): the objective's settings that the model's task has become ``task``;
- the stand-alone photo-codec loop (``config``, ``model``, ``optimizer``, ``step``, ``elapsed_s``, ``lam``):
  its steps become epochs of 60 batches;
- the stand-alone denoiser loop (``config`` with ``width``/``depth``, ``model``, ``step``, ``elapsed_s``):
  its steps become epochs of the denoising task's 200;
- the stand-alone VAE loop (the trainer's layout plus ``vae_train``: the step within the epoch).
The old file is only read; nothing here writes.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch

from .config import TrainConfig
from .registry import recipe

DECAY_FACTOR = 0.2  # the step schedule's drop, as the trainer applies it
PHOTO_STEPS_PER_EPOCH = 60  # the earlier photo loop's 480 crops per epoch in batches of 8
DENOISE_STEPS_PER_EPOCH = 200  # tasks.photo_denoising.STEPS_PER_EPOCH
_OBJECTIVE_FIELDS = ("noise_sigma", "patches", "patch_size", "l1_weight", "flip", "shift", "lam", "decoder_only")


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` in the current layout (a current checkpoint passes unchanged)."""
    if "model_name" not in state and "config" in state:
        state = _standalone(state)
    state = dict(state)
    if "vae_train" in state:
        state["step"] = int(state.pop("vae_train").get("step", 0))
    cfg = dict(state["train_config"])
    if "objective" in cfg:
        objective = cfg.pop("objective") or {}
        legacy_config = {k: state["model_config"].pop(k) for k in _OBJECTIVE_FIELDS if k in state["model_config"]}
        cfg["task"] = _task_settings(state["model_name"], {**legacy_config, **objective})
        decayed = bool(state.pop("decayed", False))
        optimizer = state.get("optimizer")
        if optimizer is not None:
            for group in optimizer["param_groups"]:
                group.setdefault("base_lr", group["lr"] / (DECAY_FACTOR if decayed else 1.0))
    known = {f.name for f in fields(TrainConfig)}
    state["train_config"] = {k: v for k, v in cfg.items() if k in known}  # settings since removed are dropped
    return state


def _task_settings(model: str, objective: dict[str, Any]) -> dict[str, Any]:
    """The objective's values that the model's task has and that differ from the task's recipe defaults."""
    r = recipe(model)
    defaults = {f.name: f.default for f in fields(r.task.settings_type)} | r.settings
    return {k: v for k, v in objective.items() if k in defaults and v != defaults[k]}


def _standalone(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of the stand-alone photo-codec or denoiser loop as a trainer checkpoint."""
    denoiser = "width" in state["config"]
    name = "denoiser" if denoiser else "hyperprior-codec"
    per_epoch = DENOISE_STEPS_PER_EPOCH if denoiser else PHOTO_STEPS_PER_EPOCH
    step, seconds = int(state.get("step", 0)), float(state.get("elapsed_s", 0.0))
    optimizer = state.get("optimizer")
    if optimizer is not None:
        for group in optimizer["param_groups"]:
            group.update(fused=True, foreach=None)  # the trainer's Adam is the fused one
            group.setdefault("base_lr", group["lr"])
    task = {} if denoiser else {"lam": float(state.get("lam", 0.0067))}
    val = state.get("val") or {}
    return {
        "model_name": name,
        "model_config": dict(state["config"]),
        "model_state": state["model"],
        "optimizer": optimizer,
        "epoch": step // per_epoch,
        "step": step % per_epoch,
        "seconds": seconds,
        "history": [{"epoch": step // per_epoch, "seconds": seconds, **val}] if val else [],
        "train_config": {
            "model": name,
            "dataset": "photos",
            "epochs": 1_000_000,
            "batch_size": 16 if denoiser else 8,
            "lr": 5e-4 if denoiser else 3e-4,
            "task": task,
            "clip": 1.0,
            "schedule": "cosine" if denoiser else "step",
            "decay_at": 0.0 if denoiser else 0.8,
            "command": str(state.get("command", "")),
        },
        "dataset": {"name": "photos+cifar10+mnist" if denoiser else "photos", "md5": dict(state.get("data_md5", {}))},
        "lineage": {"command": "", "epochs": 0, "seconds": 0.0},
        "torch_version": torch.__version__,
    }
