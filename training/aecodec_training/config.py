"""The settings of one training run, saved in its checkpoint so that resume and export know them.

Architecture lives in each model's config (``models/``); what a family trains on and how it scores lives in
its task's settings (``tasks/``, here as ``task``); everything about how the run trains (budget, schedule,
precision, safeguards) lives here. ``None`` fields take the model's recipe (``registry.resolve``).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEDULES = ("step", "cosine")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    """One run."""

    model: str
    dataset: str = "mnist"
    data_dir: str = "data/mnist"  # several photo folders: comma-separated
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
    crop: int = 0  # photos dataset: training crop side (0: the dataset's default)
    options: dict[str, Any] = field(default_factory=dict)  # architecture overrides (latent_dim, hidden, ...)
    task: dict[str, Any] = field(default_factory=dict)  # the task's settings beyond the recipe's
    minutes: float = 0.0  # wall-clock budget of the training steps (0: none); a spent budget ends the run
    clip: float | None = None  # gradient-norm clip (0: none); with a clip, a non-finite step is skipped
    decay_at: float | None = None  # step schedule: share of the run (budget, else epochs) after which lr x0.2
    schedule: str | None = None  # step | cosine (down to 5 % of lr over the run)
    warmup_steps: int = 0  # lr rises linearly from lr/N to lr over this run's first N steps (a fresh Adam)
    precision: str = "fp32"  # fp32 | bf16 (autocast of the forward pass; losses and rates stay float32)
    compile: bool = False  # torch.compile the training forward (inductor: needs a C++ compiler; ~30 s to start)
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none); figures and export use it
    checkpoint_minutes: float = 5.0  # also checkpoint within an epoch this often (long epochs, long runs)
    init: str = ""  # run folder whose trained weights (and architecture) this run starts from
    eval_limit: int = 0  # per-epoch validation on the first N test images (0: all)
    command: str = ""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be a number of steps (0: none), not {self.warmup_steps}")

    @property
    def run_dir(self) -> Path:
        return Path(self.out)


def command_line(argv: list[str] | None = None) -> str:
    """The command as run, with the interpreter-specific argv[0] reduced to what a user types."""
    argv = list(sys.argv if argv is None else argv)
    head = Path(argv[0]).name if argv else "aecodec-train"
    if head in ("__main__.py", "-m"):
        head = "python -m aecodec_training.cli"
    return " ".join([head, *(shlex.quote(a) for a in argv[1:])])
