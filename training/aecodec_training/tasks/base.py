"""What the trainer asks of a model family: its batches, its loss, its validation figures, its manifest text.

The trainer (``trainer.py``) owns the step, the schedule, the budget, checkpoints, DDP, the device and the
precision; a ``Task`` owns everything that differs between families. Batches are addressed by (epoch, step)
and drawn from seeds, so a run stopped anywhere resumes on exactly the batches it would have seen.
``ImageTask`` is the common case: a dataset held in memory, one seeded permutation per epoch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from aecodec_wire.manifest import Manifest
from aecodec_wire.quality import mean_psnr
from torch import nn

from .. import distributed as D
from ..datasets import ImageDataset, load_dataset, to_float
from ..models import Autoencoder

if TYPE_CHECKING:
    from ..config import TrainConfig

EVAL_SEED = 1234  # fixed noise for evaluation, so figures compare across runs
EVAL_BATCH = 1000


@dataclass(frozen=True)
class At:
    """Where a training step is: epochs done (fractional) and the share of the run done (of the wall-clock
    budget when the run has one, else of its epochs)."""

    epoch: float
    progress: float


@dataclass(frozen=True)
class Settings:
    """A task's own settings (a frozen dataclass per task); ``--flag`` values of the CLI land here."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_settings(cls: type[Settings], values: dict[str, Any], task: str) -> Settings:
    """``cls`` from ``values``, refusing settings the task does not have (so a mistyped flag is not ignored)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise ValueError(f"{flags} does not apply to a {task} task (its settings: {', '.join(sorted(known))})")
    return cls(**values)


def to_uint8(images: np.ndarray | torch.Tensor, value_range: tuple[float, float]) -> np.ndarray:
    """Images in ``value_range`` -> uint8 pixels, rounded and clipped the way a PNG would store them."""
    arr = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    lo, hi = value_range
    return np.clip(np.rint((arr.astype(np.float64) - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def psnr_of(model: Autoencoder, x: torch.Tensor, recon: torch.Tensor) -> float:
    """Mean 8-bit PSNR of reconstructions of ``x`` (both on the model's scales)."""
    return mean_psnr(to_uint8(x, model.input_range), to_uint8(recon, model.output_range))


class Task(ABC):
    """One family's training. ``name`` is how the registry and error messages call it."""

    name: ClassVar[str]
    figure_decimals: ClassVar[int] = 6  # the manifest's figures are rounded to this many decimals
    settings_type: ClassVar[type[Settings]] = Settings

    def __init__(self, cfg: TrainConfig, settings: Settings, ctx: D.DistContext, model: Autoencoder) -> None:
        self.cfg = cfg
        self.settings = settings
        self.ctx = ctx
        self.device = ctx.device

    # data -------------------------------------------------------------------------------------------------
    @property
    @abstractmethod
    def steps_per_epoch(self) -> int: ...

    @abstractmethod
    def batch(self, epoch: int, step: int, model: Autoencoder) -> Any:
        """The training batch at (epoch, step), the same on every call."""

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) of the data, for models whose image follows it; None: no fixed shape."""
        return None

    @property
    def dataset_info(self) -> tuple[str, dict[str, str]]:
        """(name, md5 of every file read) for the checkpoint and the manifest."""
        return self.cfg.dataset, {}

    # training ---------------------------------------------------------------------------------------------
    @abstractmethod
    def loss(self, net: nn.Module, model: Autoencoder, batch: Any, gen: torch.Generator, at: At) -> Any:
        """Scalar loss of a batch; ``net`` runs forward (the model or its DDP wrapper)."""

    def parameter_groups(self, model: Autoencoder, lr: float) -> list[dict[str, Any]]:
        """The optimiser's parameter groups (a task may freeze some parameters)."""
        return model.param_groups(lr)

    def begin(self, model: Autoencoder) -> None:  # noqa: B027  (optional hook)
        """Once, before the first epoch of a fresh run (closed-form models fit here)."""

    # figures ----------------------------------------------------------------------------------------------
    @abstractmethod
    def validate(self, model: Autoencoder) -> dict[str, float]:
        """Figures logged after every epoch (cheap); ``test_loss`` among them where the task has one."""

    def final(self, model: Autoencoder) -> dict[str, float]:
        """Figures at the end of a run (may be slower)."""
        return self.validate(model)

    # export -----------------------------------------------------------------------------------------------
    @abstractmethod
    def examples(self, count: int, split: str = "test") -> torch.Tensor:
        """Real images in the model's input range for the export's checks (``split``: train | test)."""

    @abstractmethod
    def served_figures(
        self, model: Autoencoder, folder: Path, manifest: Manifest, limit: int | None = None
    ) -> dict[str, float]:
        """The manifest's quality figures, measured through the exported graphs the way the service runs them."""

    def model_figures(self, model: Autoencoder) -> dict[str, float]:
        """Figures of the PyTorch model itself that the manifest carries beside the served ones (its
        description says which is which); none by default."""
        return {}

    @abstractmethod
    def describe(self, model: Autoencoder) -> str:
        """The manifest's description: what the model is and what each figure means."""

    def manifest_fields(self) -> dict[str, Any]:
        """Extra manifest fields the task decides (a denoiser's noise gate)."""
        return {}


class ImageTask(Task):
    """A dataset held in memory as float tensors; each epoch one seeded permutation, sliced into batches
    (photo datasets draw fresh crops each epoch). Under torchrun each process takes its shard."""

    def __init__(self, cfg: TrainConfig, settings: Settings, ctx: D.DistContext, model: Autoencoder) -> None:
        super().__init__(cfg, settings, ctx, model)
        self.data = load_data(cfg)
        self.input_range = model.input_range
        self.train_x, self.test_x = self.data.tensors(self.device, *self.input_range)
        self._epoch_cache: tuple[int, torch.Tensor] | None = None

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return self.data.shape

    @property
    def dataset_info(self) -> tuple[str, dict[str, str]]:
        return self.data.name, dict(self.data.md5)

    @property
    def shard_size(self) -> int:
        return len(D.shard(torch.empty(len(self.train_x)), self.ctx))

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.shard_size // self.cfg.batch_size)

    def epoch_images(self, epoch: int) -> torch.Tensor:
        """This process's shuffled training images of ``epoch`` (one gather per epoch; batches are views)."""
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            cfg = self.cfg
            perm = torch.randperm(
                len(self.train_x), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            )
            train_x = self.train_x
            draw = getattr(self.data, "epoch_crops", None)  # photos: fresh random crops every epoch
            if callable(draw):
                train_x = to_float(draw(cfg.seed, epoch), self.device, *self.input_range)
            self._epoch_cache = (epoch, train_x[D.shard(perm, self.ctx).to(self.device)])
        return self._epoch_cache[1]

    def batch(self, epoch: int, step: int, model: Autoencoder) -> torch.Tensor:
        b = self.cfg.batch_size
        return self.epoch_images(epoch)[step * b : (step + 1) * b]

    def examples(self, count: int, split: str = "test") -> torch.Tensor:
        return (self.train_x if split == "train" else self.test_x)[:count].cpu()

    def validation_images(self) -> torch.Tensor:
        limit = self.cfg.eval_limit or len(self.test_x)
        return self.test_x[:limit]


def load_data(cfg: TrainConfig) -> ImageDataset:
    """The run's dataset, as its settings name it."""
    size = str(cfg.options.get("size") or "auto")
    return load_dataset(
        cfg.dataset, Path(cfg.data_dir), cfg.download, cfg.image_size, cfg.channels, cfg.fit, cfg.seed, size, cfg.crop
    )
