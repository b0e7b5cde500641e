"""What a run can start from (``--init``): a run folder's checkpoint, or a shipped model folder whose graphs are
read back into PyTorch; and how the new model takes those weights: as they are when it is the same model, else
grown into it by the new model's ``grow_from`` (a wider variable-rate codec from a fixed-rate one, or a
variable-rate codec with more levels from one with fewer)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aecodec_wire.manifest import MANIFEST_FILE, load

from .checkpoint import load_checkpoint
from .from_onnx import hyperprior_from_onnx
from .legacy import upgrade
from .models import Autoencoder
from .registry import build_model

LAMBDA = re.compile(r"\(lambda ([0-9.eE+-]+)\)")


def load_init(path: str) -> dict[str, Any]:
    """The state ``--init`` names: a run folder's checkpoint (older layouts converted) or a shipped codec folder."""
    folder = Path(path)
    state = load_checkpoint(folder)
    if state is not None:
        return upgrade(state)
    if (folder / MANIFEST_FILE).exists():
        return _shipped(folder)
    raise FileNotFoundError(f"--init {path}: neither a run (checkpoint.pt) nor a model folder ({MANIFEST_FILE})")


def _shipped(folder: Path) -> dict[str, Any]:
    """A shipped hyperprior codec, fixed-rate or variable-rate, as a checkpoint-like state (z's prior, not in
    the graphs, fitted to the manifest's tables)."""
    manifest = load(folder, verify=False)
    variable = manifest.variable_rate is not None
    try:
        model = hyperprior_from_onnx(folder, variable_rate=variable)
    except ValueError as exc:
        raise ValueError(
            f"--init {folder}: a model folder can start a run only when it holds a hyperprior codec "
            f"(this one is {manifest.architecture.partition(':')[0]!r}); give the run folder it was trained in"
        ) from exc
    training = manifest.training
    return {
        "model_name": "gained-hyperprior-codec" if variable else "hyperprior-codec",
        "model_config": model.config_dict(),
        "model_state": model.state_dict(),
        "train_config": {"command": training.command, "task": {"lam": trained_lambda(manifest.description)}},
        "epoch": training.epochs,
        "seconds": training.seconds,
    }


def trained_lambda(description: str) -> float | None:
    """The lambda a fixed-rate codec's manifest says it was trained at (its task writes "(lambda X)")."""
    found = LAMBDA.search(description)
    return float(found[1]) if found else None


def start_from(model: Autoencoder, name: str, init: dict[str, Any]) -> None:
    """Give ``model`` (registered as ``name``) the weights of ``init`` (its averaged ones, when the run kept an
    average, as export does): loaded, or grown where they differ."""
    weights = init.get("ema_state") or init["model_state"]
    saved = init.get("model_config")
    if init["model_name"] == name and (saved is None or _plain(saved) == _plain(model.config_dict())):
        model.load_state_dict(weights)
        return
    grow = getattr(model, "grow_from", None)
    if grow is None:
        raise ValueError(
            f"--init holds a {init['model_name']} run with {saved}, not {name} with "
            f"{model.config_dict()} (and {name} cannot grow from one)"
        )
    trained = build_model(init["model_name"], **(saved or {}))
    trained.load_state_dict(weights)
    lam = init["train_config"].get("task", {}).get("lam")
    grow(trained, None if lam is None else float(lam))


def _plain(config: dict[str, Any]) -> Any:
    """A config as JSON would hold it (tuples as lists), so a saved one compares equal to a built one."""
    return json.loads(json.dumps(config))


def lineage(init: dict[str, Any] | None) -> dict[str, Any]:
    """The runs this one continues (``--init``): their chained commands, epochs and seconds."""
    if init is None:
        return {"command": "", "epochs": 0, "seconds": 0.0}
    before = init.get("lineage") or {"command": "", "epochs": 0, "seconds": 0.0}
    command = init["train_config"].get("command") or "(not recorded)"
    return {
        "command": f"{before['command']} && {command}" if before["command"] else command,
        "epochs": before["epochs"] + init["epoch"],
        "seconds": before["seconds"] + init["seconds"],
    }
