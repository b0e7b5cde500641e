"""The settings of one training run, saved in its checkpoint so export and resume know them.

Architecture lives in each model's own config (``models/*.py``, ``codec/model.py``); everything about how a
run trains (the loss terms, augmentation, the budget, the optimiser's safeguards) lives here.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Objective:
    """What a batch's loss is made of, and how training batches are augmented."""

    noise_sigma: float = 0.0  # denoising: Gaussian noise on the input scale
    patches: int = 0  # denoising: black square patches per image
    patch_size: int = 0
    l1_weight: float = 0.0  # sparse: weight of mean |z| in the loss
    flip: bool = False  # random horizontal flips of half of each batch
    shift: int = 0  # random translation of each batch by up to this many pixels (reflect-padded crop)
    lam: float = 0.0  # rate-distortion codecs: loss = lam * 255^2 * MSE + bits per image
    decoder_only: bool = False  # train the synthesis (decoder) alone on the hard-rounded latents; payloads stay

    def updated(self, **changes: Any) -> Objective:
        """A copy with the given (not None) fields changed."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown objective settings {sorted(unknown)}; known: {sorted(known)}")
        return Objective(**{**self.__dict__, **{k: v for k, v in changes.items() if v is not None}})


@dataclass
class TrainConfig:
    """One run. ``None`` fields take the model's recipe (``models.registry.Recipe``) when the config is made."""

    model: str
    dataset: str = "mnist"
    data_dir: str = "data/mnist"
    out: str = "runs/run"
    epochs: int = 20
    batch_size: int = 64  # per process under torchrun
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # 0: leave torch's default
    download: bool = False
    resume: bool = True
    progress: bool = True
    image_size: int = 32  # images dataset only
    channels: int = 3
    fit: str = "resize"
    options: dict[str, Any] = field(default_factory=dict)  # architecture overrides (latent_dim, hidden, ...)
    objective: Objective | None = None  # None: the recipe's
    minutes: float = 0.0  # wall-clock budget of the training steps (0: none); a spent budget ends the run
    clip: float | None = None  # gradient-norm clip (0: none); with a clip, a non-finite step is skipped
    decay_at: float | None = None  # share of the run (of the budget, else of the epochs) after which lr x0.2
    init: str = ""  # run folder whose trained weights (and architecture) this run starts from
    eval_limit: int = 0  # per-epoch validation on the first N test images (0: all)
    command: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.objective, dict):  # read back from a checkpoint
            self.objective = Objective(**self.objective)
        if self.objective is None or self.clip is None or self.decay_at is None:
            from .models import recipe  # late: the registry imports this module

            r = recipe(self.model)
            self.objective = self.objective or r.objective
            self.clip = r.clip if self.clip is None else self.clip
            self.decay_at = r.decay_at if self.decay_at is None else self.decay_at

    @property
    def run_dir(self) -> Path:
        return Path(self.out)

    @property
    def loss_terms(self) -> Objective:
        """The objective, resolved (never None after construction)."""
        assert self.objective is not None
        return self.objective


def command_line(argv: list[str] | None = None) -> str:
    """The command as run, with the interpreter-specific argv[0] reduced to what a user types."""
    argv = list(sys.argv if argv is None else argv)
    head = Path(argv[0]).name if argv else "aecodec-train"
    if head in ("__main__.py", "-m"):
        head = "python -m aecodec_training.cli"
    return " ".join([head, *(shlex.quote(a) for a in argv[1:])])
