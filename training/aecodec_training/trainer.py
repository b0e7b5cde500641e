"""The training loop: whole datasets on the device, one permutation per epoch, slices as batches.

Every model trains here, the rate-distortion codecs included: a wall-clock budget (``minutes``), gradient
clipping that skips non-finite steps, one learning-rate drop late in the run, starting from another run's
weights (``init``) and training the decoder alone are settings of the run (``TrainConfig``), not of a model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from . import distributed as D
from .checkpoint import METRICS, load_checkpoint, save_checkpoint, write_json
from .codec.photo import upgrade_photo_checkpoint
from .config import TrainConfig
from .datasets import ImageDataset, load_dataset, to_float
from .metrics import evaluate
from .models import Autoencoder, build_model, recipe
from .objectives import batch_loss

EpochHook = Callable[[int, dict[str, float]], None]
DECAY_FACTOR = 0.2  # the one learning-rate drop at ``decay_at``


def load_data(cfg: TrainConfig) -> ImageDataset:
    size = str(cfg.options.get("size") or "auto")
    return load_dataset(
        cfg.dataset, Path(cfg.data_dir), cfg.download, cfg.image_size, cfg.channels, cfg.fit, cfg.seed, size
    )


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


def make_model(cfg: TrainConfig, data: ImageDataset | None = None) -> tuple[Autoencoder, dict[str, Any] | None]:
    """Build the model with seeded initial weights (or ``cfg.init``'s trained ones); returns it and, for an
    init, that run's checkpoint. Image-shaped configs follow the dataset."""
    torch.manual_seed(cfg.seed)
    options = dict(cfg.options)
    if recipe(cfg.model).image_from_data and data is not None:
        options = image_options(options, data.shape)
    init = None
    if cfg.init:  # its architecture wins over the options
        init = load_checkpoint(Path(cfg.init))
        if init is None:
            raise FileNotFoundError(f"--init {cfg.init}: no checkpoint.pt there (train that level first)")
        init = upgrade_photo_checkpoint(init)  # a run of the earlier photo-codec loop reads as one of these
        if init["model_name"] != cfg.model:
            raise ValueError(f"--init {cfg.init} holds a {init['model_name']} run, not {cfg.model}")
        options = init["model_config"]
    model = build_model(cfg.model, **options)
    if init is not None:
        model.load_state_dict(init["model_state"])
    if data is not None:
        c, h, w = model.image_shape
        if c != data.shape[0] or (h is not None and (h, w) != data.shape[1:]):
            raise ValueError(
                f"model {cfg.model} takes {model.image_shape} images, dataset {cfg.dataset} has {data.shape}"
            )
    return model, init


def make_optimizer(model: Autoencoder, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam over the model's parameter groups (the decoder's alone for decoder-only training); the fused
    kernel (one op for all tensors) is the fastest on CPU and CUDA alike."""
    if cfg.loss_terms.decoder_only:
        decoder = set(getattr(model, model.decoder_part).parameters())
        for p in model.parameters():
            p.requires_grad_(p in decoder)
    groups = [g for g in model.param_groups(cfg.lr) if g["params"]]
    if not groups:
        return torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    return torch.optim.Adam(groups, lr=cfg.lr, fused=True)


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
        model, init = make_model(cfg, self.data)
        self.model = model.to(self.ctx.device)
        self.lineage = lineage(init)
        self.train_x, self.test_x = self.data.tensors(self.ctx.device, *self.model.input_range)
        self.optimizer = make_optimizer(self.model, cfg)
        self.net: torch.nn.Module = self.model
        if self.ctx.enabled and any(p.requires_grad for p in self.model.parameters()):
            self.net = DistributedDataParallel(self.model)
        self.epoch = 0
        self.seconds = 0.0
        self.decayed = False
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
        self.decayed = state.get("decayed", False)
        self.lineage = state.get("lineage", self.lineage)
        self.log(f"resuming {self.cfg.run_dir} after epoch {self.epoch}, {self.seconds:.0f}s")

    def state(self) -> dict[str, Any]:
        return {
            "model_name": self.cfg.model,
            "model_config": self.model.config_dict(),
            "model_state": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "seconds": self.seconds,
            "decayed": self.decayed,
            "history": self.history,
            "train_config": asdict(self.cfg),
            "dataset": {"name": self.data.name, "md5": self.data.md5},
            "lineage": self.lineage,
            "torch_version": torch.__version__,
        }

    @property
    def budget_spent(self) -> bool:
        return self.cfg.minutes > 0 and self.seconds >= self.cfg.minutes * 60

    def _progress(self, seconds: float) -> float:
        """How far the run is, 0..1: of the wall-clock budget when it has one, else of the epochs."""
        if self.cfg.minutes > 0:
            return seconds / (self.cfg.minutes * 60)
        return self.epoch / max(self.cfg.epochs, 1)

    def _maybe_decay(self, seconds: float) -> None:
        decay_at = self.cfg.decay_at or 0.0
        if decay_at > 0 and not self.decayed and self._progress(seconds) >= decay_at:
            self.decayed = True
            for group in self.optimizer.param_groups:
                group["lr"] *= DECAY_FACTOR
            self.log(f"learning rate x{DECAY_FACTOR:g} from here ({decay_at:.0%} of the run)")

    def _step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.cfg.clip or 0.0
        if clip > 0:
            # GDN's divisive normalisation can blow up on a bad step (seen on CIFAR at lr 2e-3): clip, and
            # skip a step whose loss or gradient is not finite instead of writing NaN into the weights
            norm = torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], clip)
            if not (torch.isfinite(loss) and torch.isfinite(norm)):
                return
        self.optimizer.step()

    def _epoch(self, progress: Any) -> float:
        """One pass over this rank's shard (cut short when the budget runs out); the mean training loss."""
        cfg, dev = self.cfg, self.ctx.device
        perm = torch.randperm(
            len(self.train_x), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + self.epoch)
        )
        train_x = self.train_x
        draw = getattr(self.data, "epoch_crops", None)  # datasets that cut fresh random crops every epoch (photos)
        if callable(draw):
            train_x = to_float(draw(cfg.seed, self.epoch), dev, *self.model.input_range)
        shuffled = train_x[D.shard(perm, self.ctx).to(dev)]  # one gather per epoch; batches are views
        gen = torch.Generator(dev).manual_seed(cfg.seed * 7919 + self.epoch)  # noise/flips: same after resume
        loss_sum = torch.zeros((), device=dev)
        seen = 0
        self.model.train()
        start = time.perf_counter()
        for begin in range(0, len(shuffled), cfg.batch_size):
            xb = shuffled[begin : begin + cfg.batch_size]
            loss = batch_loss(self.net, self.model, xb, gen, cfg.loss_terms)
            self._step(loss)
            loss_sum += loss.detach() * len(xb)
            seen += len(xb)
            if progress is not None:
                progress(len(xb), loss_sum, seen)
            if cfg.minutes > 0 or cfg.decay_at:
                elapsed = self.seconds + time.perf_counter() - start
                self._maybe_decay(elapsed)
                if cfg.minutes > 0 and elapsed >= cfg.minutes * 60:
                    break
        return D.mean_across(loss_sum / max(seen, 1), self.ctx).item()

    def _validate(self, train_loss: float) -> dict[str, float]:
        limit = self.cfg.eval_limit or len(self.test_x)
        val = evaluate(self.model, self.test_x[:limit], self.cfg.loss_terms)
        row = {"epoch": self.epoch, "train_loss": train_loss, **val, "seconds": self.seconds}
        extras = "".join(f"  {k} {val[k]:.2f}" for k in ("psnr_db", "est_bytes") if k in val)
        budget = f"/{self.cfg.minutes * 60:.0f}s" if self.cfg.minutes > 0 else "s"
        self.log(
            f"epoch {self.epoch}/{self.cfg.epochs}  train_loss {train_loss:.4f}  test_loss {val['test_loss']:.4f}  "
            f"test_mse {val['test_mse']:.4f}{extras}  {self.seconds:.1f}{budget}"
        )
        return row

    def fit(self, on_epoch: EpochHook | None = None) -> dict[str, float]:
        """Train to ``cfg.epochs`` or the budget (resuming if a checkpoint exists); the final test metrics."""
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
            while self.epoch < cfg.epochs and not self.budget_spent:
                bar.start_epoch(self.epoch + 1, cfg.epochs)
                start = time.perf_counter()
                train_loss = self._epoch(bar.step if bar.enabled else None)
                self.seconds += time.perf_counter() - start
                self.epoch += 1
                row = self._validate(train_loss)
                self.history.append(row)
                if self.ctx.main:
                    save_checkpoint(cfg.run_dir, self.state())
                    write_json(cfg.run_dir / METRICS, {"history": self.history})
                if on_epoch is not None:
                    on_epoch(self.epoch, row)
        final = evaluate(self.model, self.test_x, cfg.loss_terms, full=True)
        if self.ctx.main:
            save_checkpoint(cfg.run_dir, self.state())
            write_json(cfg.run_dir / METRICS, {"final": final, "seconds": self.seconds, "history": self.history})
        return final
