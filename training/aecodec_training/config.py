"""The settings of one training run, saved in its checkpoint so export and resume know them."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
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
    options: dict[str, Any] = field(default_factory=dict)  # model config overrides (noise_sigma, l1_weight, ...)
    command: str = ""

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
