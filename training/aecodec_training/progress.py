"""A rich progress bar with the running loss and throughput, cheap enough to update every step."""

from __future__ import annotations

import time
from types import TracebackType

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

_REFRESH_STEPS = 50  # read the on-device loss only this often


class EpochProgress:
    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._progress: Progress | None = None
        self._task = TaskID(0)
        self._steps = 0
        self._t0 = 0.0

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("loss {task.fields[loss]:.4f}  {task.fields[rate]:,.0f} img/s"),
                transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, ev, tb)

    def start_epoch(self, epoch: int, epochs: int) -> None:
        if self._progress is None:
            return
        if self._steps:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(f"epoch {epoch}/{epochs}", total=self.total, loss=float("nan"), rate=0.0)
        self._steps = 0
        self._t0 = time.perf_counter()

    def step(self, n: int, loss_sum: torch.Tensor, seen: int) -> None:
        if self._progress is None:
            return
        self._steps += 1
        if self._steps % _REFRESH_STEPS == 0 or seen >= self.total:
            rate = seen / max(time.perf_counter() - self._t0, 1e-9)
            self._progress.update(self._task, completed=seen, loss=loss_sum.item() / seen, rate=rate)
