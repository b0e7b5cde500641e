"""The training loop: whole datasets on the device, one permutation per epoch, slices as batches."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from . import distributed as D
from .checkpoint import METRICS, load_checkpoint, save_checkpoint, write_json
from .config import TrainConfig
from .datasets import ImageDataset, load_dataset
from .metrics import evaluate
from .models import Autoencoder, build_model
from .objectives import batch_loss

EpochHook = Callable[[int, dict[str, float]], None]


def load_data(cfg: TrainConfig) -> ImageDataset:
    return load_dataset(cfg.dataset, Path(cfg.data_dir), cfg.download, cfg.image_size, cfg.channels, cfg.fit, cfg.seed)


def make_model(cfg: TrainConfig, data: ImageDataset | None = None) -> Autoencoder:
    """Build the model with seeded initial weights; image-shaped configs follow the dataset."""
    torch.manual_seed(cfg.seed)
    options = dict(cfg.options)
    model = build_model(cfg.model, **options)
    if data is not None:
        c, h, w = model.image_shape
        if c != data.shape[0] or (h is not None and (h, w) != data.shape[1:]):
            raise ValueError(
                f"model {cfg.model} takes {model.image_shape} images, dataset {cfg.dataset} has {data.shape}"
            )
    return model


def make_optimizer(model: Autoencoder, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam; the fused kernel (one op for all tensors) is the fastest on CPU and CUDA alike."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=lr)
    return torch.optim.Adam(params, lr=lr, fused=True)


class Trainer:
    """Runs ``cfg``; call ``fit()``. Only rank 0 writes to ``cfg.run_dir``."""

    def __init__(self, cfg: TrainConfig, ctx: D.DistContext | None = None, log: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.ctx = ctx or D.DistContext(device=D.pick_device(cfg.device))
        self.log = log if self.ctx.main else (lambda _msg: None)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if self.ctx.device.type == "cpu":
            torch.set_flush_denormal(True)  # tiny Adam/gradient values otherwise hit slow denormal maths
        self.data = load_data(cfg)
        self.model = make_model(cfg, self.data).to(self.ctx.device)
        self.train_x, self.test_x = self.data.tensors(self.ctx.device, *self.model.input_range)
        self.optimizer = make_optimizer(self.model, cfg.lr, self.ctx.device)
        self.net: torch.nn.Module = self.model
        if self.ctx.enabled and any(p.requires_grad for p in self.model.parameters()):
            self.net = DistributedDataParallel(self.model)
        self.epoch = 0
        self.seconds = 0.0
        self.history: list[dict[str, float]] = []
        if cfg.resume:
            self._resume()

    def _resume(self) -> None:
        state = load_checkpoint(self.cfg.run_dir, self.ctx.device)
        if state is None:
            return
        if state["train_config"]["model"] != self.cfg.model:
            raise ValueError(f"{self.cfg.run_dir} holds a {state['train_config']['model']} run, not {self.cfg.model}")
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.seconds, self.history = state["epoch"], state["seconds"], state["history"]
        self.log(f"resuming {self.cfg.run_dir} after epoch {self.epoch}")

    def state(self) -> dict[str, Any]:
        cfg = asdict(self.cfg)
        return {
            "model_name": self.cfg.model,
            "model_config": self.model.config_dict(),
            "model_state": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "seconds": self.seconds,
            "history": self.history,
            "train_config": cfg,
            "dataset": {"name": self.data.name, "md5": self.data.md5},
            "torch_version": torch.__version__,
        }

    def _epoch(self, progress: Any) -> float:
        """One pass over this rank's shard; returns the mean training loss (across ranks)."""
        cfg, dev = self.cfg, self.ctx.device
        perm = torch.randperm(
            len(self.train_x), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + self.epoch)
        )
        shuffled = self.train_x[D.shard(perm, self.ctx).to(dev)]  # one gather per epoch; batches are views
        gen = torch.Generator(dev).manual_seed(cfg.seed * 7919 + self.epoch)  # noise/flips: same after resume
        loss_sum = torch.zeros((), device=dev)
        self.model.train()
        for start in range(0, len(shuffled), cfg.batch_size):
            xb = shuffled[start : start + cfg.batch_size]
            loss = batch_loss(self.net, self.model, xb, gen)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.detach() * len(xb)
            if progress is not None:
                progress(len(xb), loss_sum, start + len(xb))
        return D.mean_across(loss_sum / len(shuffled), self.ctx).item()

    def fit(self, on_epoch: EpochHook | None = None) -> dict[str, float]:
        """Train to ``cfg.epochs`` (resuming if a checkpoint exists); returns the final test metrics."""
        cfg = self.cfg
        closed_form = getattr(self.model, "fit", None)
        if callable(closed_form) and self.epoch == 0:
            start = time.perf_counter()
            closed_form(self.train_x)  # closed-form models (PCA)
            self.seconds += time.perf_counter() - start
        from .progress import EpochProgress  # rich is only needed when training interactively

        with EpochProgress(
            enabled=cfg.progress and self.ctx.main, total=len(D.shard(torch.empty(len(self.train_x)), self.ctx))
        ) as bar:
            while self.epoch < cfg.epochs:
                bar.start_epoch(self.epoch + 1, cfg.epochs)
                start = time.perf_counter()
                train_loss = self._epoch(bar.step if bar.enabled else None)
                self.seconds += time.perf_counter() - start
                self.epoch += 1
                val = evaluate(self.model, self.test_x)
                row = {"epoch": self.epoch, "train_loss": train_loss, **val, "seconds": self.seconds}
                self.history.append(row)
                self.log(
                    f"epoch {self.epoch}/{cfg.epochs}  train_loss {train_loss:.4f}  test_loss {val['test_loss']:.4f}  "
                    f"test_mse {val['test_mse']:.4f}  {self.seconds:.1f}s"
                )
                if self.ctx.main:
                    save_checkpoint(cfg.run_dir, self.state())
                    write_json(cfg.run_dir / METRICS, {"history": self.history})
                if on_epoch is not None:
                    on_epoch(self.epoch, row)
        final = evaluate(self.model, self.test_x, full=True)
        if self.ctx.main:
            save_checkpoint(cfg.run_dir, self.state())
            write_json(cfg.run_dir / METRICS, {"final": final, "seconds": self.seconds, "history": self.history})
        return final
