"""The one training loop. Every model trains here; what differs between families is its task (``tasks/``).

The trainer owns the step (forward under the run's precision, then ``optim.gradient_step``: backward, gradient
clipping that skips non-finite steps, Adam), the learning-rate schedule, the wall-clock budget, checkpoints and
resume, DDP under torchrun and the device. Batches are addressed by (epoch, step) and every step's noise comes from
a generator seeded by (seed, rank, epoch, step), so a run stopped anywhere (a checkpoint is written at every epoch's
end and every ``checkpoint_minutes`` within one) resumes exactly where it was: weights, optimiser, schedule, data
order. ``minutes`` is a budget of training seconds; a larger one extends a finished run. SIGTERM or Ctrl-C ends a
single-process run at the next step's end with a checkpoint there; a step during which the process was suspended
(SIGSTOP / SIGCONT, Ctrl-Z) does not count its pause against the budget.
"""

from __future__ import annotations

import math
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from . import distributed as D
from .checkpoint import METRICS, load_checkpoint, save_checkpoint, write_json
from .config import TrainConfig
from .legacy import upgrade
from .models import Autoencoder
from .optim import gradient_step
from .registry import build_model, make_task, recipe, resolve
from .tasks import At, Task
from .warm_start import lineage, load_init, start_from

EpochHook = Callable[[int, dict[str, float]], None]
DECAY_FACTOR = 0.2  # the step schedule's one drop, at ``decay_at``
COSINE_FLOOR = 0.05  # the cosine schedule ends at this share of the learning rate
LOG_FILE = "train.log"
STAND_IN_SHAPE = (1, 32, 32)


def image_options(options: dict[str, Any], shape: tuple[int, int, int]) -> dict[str, Any]:
    """Channels and size of a model whose image follows the data; ``size``: auto (the data's) | any | HxW."""
    c, h, w = shape
    out = dict(options)
    size = str(out.pop("size", None) or "auto")
    out.setdefault("channels", c)
    if size == "auto":
        out.setdefault("height", h)
        out.setdefault("width", w)
    elif size != "any":
        match = re.fullmatch(r"(\d+)x(\d+)", size)
        if match is None or (int(match[1]), int(match[2])) != (h, w):
            raise ValueError(f"size {size!r}: expected auto, any or HxW equal to the data's {h}x{w}")
        out["height"], out["width"] = h, w
    return out


def step_generator(device: torch.device, *seeds: int) -> torch.Generator:
    """A generator for one step's noise, seeded by the step's coordinates (same after a resume)."""
    return torch.Generator(device).manual_seed(int(np.random.SeedSequence(list(seeds)).generate_state(1)[0]))


def regrouped(saved: dict[str, Any], optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> dict[str, Any]:
    """Adam's saved state for ``optimizer``'s parameter groups. A run saved under one group, before its model
    gave some parameters a learning rate of their own (z's prior), keeps every parameter's moments: the saved
    group listed the trainable parameters in the model's order, which the new groups only partition."""
    groups = optimizer.param_groups
    if [len(g["params"]) for g in saved["param_groups"]] == [len(g["params"]) for g in groups]:
        return saved
    if len(saved["param_groups"]) != 1:
        raise ValueError("the run's optimizer has other parameter groups than this model's: resume it with --init")
    current = [p for g in groups for p in g["params"]]
    if len(saved["param_groups"][0]["params"]) != len(current):
        raise ValueError("the run's optimizer holds another number of parameters than this model: use --init")
    old_index = {id(p): i for i, p in enumerate(p for p in model.parameters() if p.requires_grad)}
    state = {
        new: saved["state"][old_index[id(p)]] for new, p in enumerate(current) if old_index[id(p)] in saved["state"]
    }
    base = saved["param_groups"][0]
    new_groups, start = [], 0
    for g in groups:
        indices = list(range(start, start + len(g["params"])))
        start += len(indices)
        scale = g["base_lr"] / groups[0]["base_lr"]  # today's ratio between the groups, on the run's rates
        new_groups.append({**base, "params": indices, "lr": base["lr"] * scale, "base_lr": base["base_lr"] * scale})
    return {"state": state, "param_groups": new_groups}


class Trainer:
    """Runs ``cfg``; call ``fit()``. Only rank 0 writes to ``cfg.run_dir``."""

    def __init__(self, cfg: TrainConfig, ctx: D.DistContext | None = None, log: Callable[[str], None] = print) -> None:
        self.cfg = cfg = resolve(cfg)
        self.ctx = ctx or D.DistContext(device=D.pick_device(cfg.device))
        self._print = log if self.ctx.main else (lambda _msg: None)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if self.ctx.device.type == "cpu":
            torch.set_flush_denormal(True)  # tiny Adam/gradient values otherwise hit slow denormal maths
        init = load_init(cfg.init) if cfg.init else None
        same = init is not None and init["model_name"] == cfg.model
        # the same model: the init's architecture, but for the fields of it this run sets (a variable-rate codec's
        # --lambdas: grown into); another model (grown from it): this run's
        if init is not None and same:
            saved = init["model_config"]
            options = {**saved, **{k: v for k, v in cfg.options.items() if k in saved}}
        else:
            options = dict(cfg.options)
        follows_data = recipe(cfg.model).image_from_data and not same
        # the task needs the model's input range before the data (and so, for some models, the image) is known:
        # a stand-in of the model at a nominal image shape tells it
        nominal = image_options({k: v for k, v in options.items() if k != "size"}, STAND_IN_SHAPE)
        stand_in = build_model(cfg.model, **(nominal if follows_data else options))
        self.task: Task = make_task(cfg, self.ctx, stand_in)
        if follows_data and self.task.image_shape is not None:
            options = image_options(options, self.task.image_shape)
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, **options)
        if init is not None:
            start_from(model, cfg.model, init)
        self._check_shape(model)
        self.model: Autoencoder = model.to(self.ctx.device)
        self.lineage = lineage(init)
        groups = [g for g in self.task.parameter_groups(self.model, cfg.lr) if g["params"]]
        if not groups:  # closed-form models (PCA) have nothing to step
            groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": cfg.lr}]
        for g in groups:
            g["base_lr"] = g["lr"]
        self.optimizer = torch.optim.Adam(groups, lr=cfg.lr, fused=True)  # fused: fastest on CPU and CUDA
        self.trained = [p for p in self.model.parameters() if p.requires_grad]  # what clipping clips
        # the average of the weights along the run (small-batch steps are noisy): validated and exported
        self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema)) if cfg.ema > 0 else None
        self.net: torch.nn.Module = self.model
        if self.ctx.enabled and any(p.requires_grad for p in self.model.parameters()):
            self.net = DistributedDataParallel(self.model)
        if cfg.compile:  # the training step only: validation and export run self.model, eager, at any size
            torch._dynamo.config.suppress_errors = True  # a graph inductor fails on runs eager (logged), not a crash
            self.net = cast(torch.nn.Module, torch.compile(self.net, dynamic=False))
        self.epoch = 0  # epochs finished
        self.step = 0  # steps finished in the current epoch
        self.seconds = 0.0  # training seconds so far (validation excluded)
        # the current epoch's summed step losses, kept on the device (read once an epoch, and by the progress bar)
        self.loss_sum = torch.zeros((), device=self.ctx.device)
        self.history: list[dict[str, float]] = []
        self.stopped = False  # SIGTERM or Ctrl-C asked the run to end (checkpointed at the step's end)
        self._stop_asked = False
        self._continued = False  # the process was resumed after a suspension during the current step
        if cfg.resume:
            self._resume()

    # -- setup -------------------------------------------------------------------------------------------------
    def _check_shape(self, model: Autoencoder) -> None:
        shape = self.task.image_shape
        if shape is None:
            return
        c, h, w = model.image_shape
        if c != shape[0] or (h is not None and (h, w) != shape[1:]):
            raise ValueError(f"model {self.cfg.model} takes {model.image_shape} images, dataset has {shape}")

    def _resume(self) -> None:
        state = load_checkpoint(self.cfg.run_dir, self.ctx.device)
        if state is None:
            return
        state = upgrade(state)
        if state["model_name"] != self.cfg.model:
            raise ValueError(f"{self.cfg.run_dir} holds a {state['model_name']} run, not {self.cfg.model}")
        self.model.load_state_dict(state["model_state"])
        if state.get("optimizer") is not None:
            commanded = [g["base_lr"] for g in self.optimizer.param_groups]
            self.optimizer.load_state_dict(regrouped(state["optimizer"], self.optimizer, self.model))
            saved = [g["base_lr"] for g in self.optimizer.param_groups]
            if saved != commanded:  # Adam's moments carry on; the learning rate is the command's (--lr)
                for g, lr in zip(self.optimizer.param_groups, commanded, strict=True):
                    g["base_lr"] = lr
                self.log(f"learning rate {saved[0]:g} -> {commanded[0]:g} (--lr), Adam's moments kept")
        self.epoch, self.step = state["epoch"], state.get("step", 0)
        self.seconds = state["seconds"]
        self.loss_sum = torch.tensor(float(state.get("loss_sum", 0.0)), device=self.ctx.device)
        self.history = state["history"]
        self.lineage = state.get("lineage", self.lineage)
        if self.ema is not None:  # a run that had none starts its average from the weights it has now
            self.ema.module.load_state_dict(state.get("ema_state") or state["model_state"])
            self.ema.n_averaged.fill_(int(state.get("ema_steps", 1)))
        self.log(f"resuming {self.cfg.run_dir} at epoch {self.epoch} step {self.step}, {self.seconds:.0f}s trained")

    def state(self) -> dict[str, Any]:
        name, md5 = self.task.dataset_info
        return {
            "model_name": self.cfg.model,
            "model_config": self.model.config_dict(),
            "model_state": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "seconds": self.seconds,
            "loss_sum": float(self.loss_sum),
            **(
                {"ema_state": self.ema.module.state_dict(), "ema_steps": int(self.ema.n_averaged)}
                if self.ema is not None
                else {}
            ),
            "history": self.history,
            "train_config": asdict(self.cfg),
            "dataset": {"name": name, "md5": md5},
            "lineage": self.lineage,
            "torch_version": torch.__version__,
        }

    def log(self, line: str) -> None:
        """To the caller's log and, on rank 0, to the run folder's train.log (a long run's progress record)."""
        self._print(line)
        if self.ctx.main:
            self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            with open(self.cfg.run_dir / LOG_FILE, "a") as f:
                f.write(f"{stamp} {line}\n")

    @property
    def evaluated(self) -> Autoencoder:
        """The weights figures are measured on and export takes: the moving average when the run keeps one."""
        return self.ema.module if self.ema is not None else self.model  # type: ignore[return-value]

    # -- schedule ----------------------------------------------------------------------------------------------
    @property
    def budget_spent(self) -> bool:
        return self.cfg.minutes > 0 and self.seconds >= self.cfg.minutes * 60

    def progress(self) -> float:
        """How far the run is, 0..1: of the wall-clock budget when it has one, else of the epochs."""
        if self.cfg.minutes > 0:
            return min(1.0, self.seconds / (self.cfg.minutes * 60))
        steps = self.task.steps_per_epoch
        return min(1.0, (self.epoch + self.step / max(steps, 1)) / max(self.cfg.epochs, 1))

    def lr_factor(self, progress: float) -> float:
        warmup = self.cfg.warmup_steps
        done = self.epoch * self.task.steps_per_epoch + self.step  # this run's steps so far
        rise = min(1.0, (done + 1) / warmup) if warmup > 0 else 1.0
        if self.cfg.schedule == "cosine":
            return rise * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))
        decay_at = self.cfg.decay_at or 0.0
        return rise * (DECAY_FACTOR if decay_at > 0 and progress >= decay_at else 1.0)

    # -- the step ----------------------------------------------------------------------------------------------
    def train_step(self, batch: Any, gen: torch.Generator, at: At) -> torch.Tensor:
        """One optimiser step on ``batch``; the loss (detached)."""
        factor = self.lr_factor(at.progress)
        for group in self.optimizer.param_groups:
            group["lr"] = group.get("base_lr", group["lr"]) * factor
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.ctx.device.type, torch.bfloat16, enabled=self.cfg.precision == "bf16"):
            loss = self.task.loss(self.net, self.model, batch, gen, at)
        loss = loss.float()
        if not gradient_step(loss, self.optimizer, clip=self.cfg.clip or 0.0, params=self.trained):
            return loss.detach()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss.detach()

    def _save(self) -> None:
        if self.ctx.main:
            save_checkpoint(self.cfg.run_dir, self.state())

    def _epoch(self, bar: Any) -> bool:
        """Train the rest of the current epoch; False when the budget ran out first (checkpointed)."""
        cfg, task, dev = self.cfg, self.task, self.ctx.device
        steps = task.steps_per_epoch
        self.model.train()
        last_save = time.monotonic()
        while self.step < steps:
            start = time.perf_counter()
            batch = task.batch(self.epoch, self.step, self.model)
            gen = step_generator(dev, cfg.seed, self.ctx.rank, self.epoch, self.step)
            at = At(epoch=self.epoch + self.step / steps, progress=self.progress())
            self.loss_sum += self.train_step(batch, gen, at)
            self.step += 1
            if not self._continued:  # a suspended step's time is the pause, not training
                self.seconds += time.perf_counter() - start
            self._continued = False
            if self._stop_asked:
                self._save()
                self.stopped = True
                return False
            if bar is not None:
                bar.step(1, self.loss_sum, self.step)
            if self.budget_spent and self.step < steps:
                self._save()
                return False
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60 and self.step < steps:
                self._save()
                last_save = time.monotonic()
        return True

    def _finish_epoch(self, on_epoch: EpochHook | None) -> None:
        train_loss = D.mean_across(self.loss_sum / max(self.step, 1), self.ctx).item()
        self.epoch, self.step = self.epoch + 1, 0
        self.loss_sum = torch.zeros((), device=self.ctx.device)
        figures = self.task.validate(self.evaluated)
        row = {"epoch": self.epoch, "train_loss": train_loss, **figures, "seconds": self.seconds}
        self.history.append(row)
        budget = f"/{self.cfg.minutes * 60:.0f}s" if self.cfg.minutes > 0 else "s"
        shown = "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds"))
        lr = self.optimizer.param_groups[0]["lr"]
        self.log(f"epoch {self.epoch}/{self.cfg.epochs}  {shown}  lr {lr:.2e}  {self.seconds:.1f}{budget}")
        if self.ctx.main:
            save_checkpoint(self.cfg.run_dir, self.state())
            write_json(self.cfg.run_dir / METRICS, {"history": self.history})
        if on_epoch is not None:
            on_epoch(self.epoch, row)

    def _signals(self) -> dict[int, Any]:
        """Handle SIGTERM/SIGINT (end at the step's end) and SIGCONT (a suspended step), where this process may:
        the main thread of a single-process run (under DDP every rank must stop at the same step)."""
        if threading.current_thread() is not threading.main_thread() or self.ctx.enabled:
            return {}

        def stop(_sig: int, _frame: Any) -> None:
            self._stop_asked = True

        def continued(_sig: int, _frame: Any) -> None:
            self._continued = True

        wanted = {signal.SIGTERM: stop, signal.SIGINT: stop, signal.SIGCONT: continued}
        return {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}

    def fit(self, on_epoch: EpochHook | None = None) -> dict[str, float]:
        """Train to ``cfg.epochs`` or the budget (resuming if a checkpoint exists); the final figures, or none
        when a signal stopped the run (``stopped``)."""
        previous = self._signals()
        try:
            return self._fit(on_epoch)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _fit(self, on_epoch: EpochHook | None) -> dict[str, float]:
        cfg = self.cfg
        if self.epoch == 0 and self.step == 0 and not self.history:
            start = time.perf_counter()
            self.task.begin(self.model)  # closed-form models (PCA) fit here
            self.seconds += time.perf_counter() - start
        from .progress import EpochProgress  # rich is only needed when training interactively

        with EpochProgress(enabled=cfg.progress and self.ctx.main, total=self.task.steps_per_epoch) as bar:
            while self.epoch < cfg.epochs and not self.budget_spent:
                bar.start_epoch(self.epoch + 1, cfg.epochs)
                if not self._epoch(bar if bar.enabled else None):
                    break
                self._finish_epoch(on_epoch)
        if self.stopped:
            self.log(f"stopped at epoch {self.epoch} step {self.step}, {self.seconds:.0f}s trained: checkpointed")
            return {}
        final = self.task.final(self.evaluated)
        if self.ctx.main:
            save_checkpoint(cfg.run_dir, self.state())
            write_json(cfg.run_dir / METRICS, {"final": final, "seconds": self.seconds, "history": self.history})
        return final


def load_run(run_dir: Path) -> tuple[Autoencoder, dict[str, Any]]:
    """Rebuild the trained model from a run folder's checkpoint (older layouts converted)."""
    state = load_checkpoint(Path(run_dir))
    if state is None:
        raise FileNotFoundError(f"no checkpoint.pt in {run_dir}: train first (aecodec-train train ... --out {run_dir})")
    state = upgrade(state)
    model = build_model(state["model_name"], **state["model_config"])
    model.load_state_dict(state.get("ema_state") or state["model_state"])  # the averaged weights, when kept
    return model.eval(), state


def run_config(state: dict[str, Any], **changes: Any) -> TrainConfig:
    """The ``TrainConfig`` a checkpoint was trained with, with ``changes`` (e.g. another data folder)."""
    return replace(TrainConfig(**state["train_config"]), **changes)
