"""Train a VAE for the likelihood it is scored with: IWAE bound on dynamically binarized digits, KL warm-up.

Each epoch draws a fresh binarization of the training digits (Bernoulli with each pixel's intensity) from
(seed, epoch), so a run resumed mid-epoch sees exactly the batches it would have seen. The checkpoint has
the layout ``aecodec-train evaluate`` / ``export`` read, plus this loop's own position (``vae_train``).
"""

from __future__ import annotations

import math
import shlex
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import torch
import typer

from .checkpoint import load_checkpoint, save_checkpoint, write_json
from .config import TrainConfig
from .models import build_model
from .models.vae import GaussianVAE
from .nll import binarize, evaluate_nll, iwae_loss

LOG_FILE = "train.log"


@dataclass
class VAESchedule:
    """The objective and its schedule: IWAE samples, KL warm-up, cosine learning-rate decay."""

    k: int = 5  # importance samples per digit in the training bound (1: the plain ELBO)
    warmup_epochs: float = 10.0  # beta rises linearly 0 -> 1 over these epochs (KL warm-up)
    lr_min_ratio: float = 0.05  # cosine decay from lr to lr * this over the run
    checkpoint_minutes: float = 3.0
    eval_every: int = 5  # epochs between quick NLL estimates in the log (k=100 on eval_images digits)
    eval_images: int = 500
    deadline: str = ""  # ISO time (UTC) at which to checkpoint and stop, e.g. 2026-11-24T16:15


@dataclass
class Position:
    epoch: int = 0
    step: int = 0  # batches done in the current epoch
    seconds: float = 0.0


def _log(run_dir: Path, line: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    with open(run_dir / LOG_FILE, "a") as f:
        f.write(f"{stamp} {line}\n")
    print(f"{stamp} {line}", flush=True)


def _state(
    cfg: TrainConfig,
    sched: VAESchedule,
    model: GaussianVAE,
    opt: torch.optim.Optimizer,
    pos: Position,
    gen: Any,
    data: Any,
    history: list,
) -> dict[str, Any]:
    return {
        "model_name": cfg.model,
        "model_config": model.config_dict(),
        "model_state": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": pos.epoch,
        "seconds": pos.seconds,
        "history": history,
        "train_config": asdict(cfg),
        "dataset": {"name": data.name, "md5": data.md5},
        "torch_version": torch.__version__,
        "vae_train": {"schedule": asdict(sched), "step": pos.step, "generator": gen.get_state()},
    }


def train_vae(cfg: TrainConfig, sched: VAESchedule, max_steps: int | None = None) -> dict[str, float]:
    """Run (or resume) ``cfg`` in ``cfg.out``; returns the last epoch's log row (empty if stopped early).

    ``max_steps`` stops this call after that many optimiser steps (checkpointed), like a deadline would.
    """
    from .trainer import load_data

    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.set_flush_denormal(True)
    data = load_data(cfg)
    train_x, test_x = data.tensors(torch.device("cpu"), 0.0, 1.0)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, **cfg.options)
    if not isinstance(model, GaussianVAE):
        raise ValueError(f"{cfg.model} is not a VAE")
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + 1)
    pos, history = Position(), []
    state = load_checkpoint(run_dir) if cfg.resume else None
    if state is not None:
        model.load_state_dict(state["model_state"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["vae_train"]["generator"])
        pos = Position(state["epoch"], state["vae_train"]["step"], state["seconds"])
        history = state["history"]
        _log(run_dir, f"resuming at epoch {pos.epoch} step {pos.step} ({pos.seconds:.0f}s trained)")
    else:
        _log(run_dir, f"start {cfg.command}")
    deadline = (
        datetime.fromisoformat(sched.deadline).replace(tzinfo=timezone.utc).timestamp() if sched.deadline else math.inf
    )
    steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    last_save = time.time()
    steps_done = 0

    def save() -> None:
        save_checkpoint(run_dir, _state(cfg, sched, model, opt, pos, gen, data, history))

    model.train()
    while pos.epoch < cfg.epochs:
        perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + pos.epoch))
        xb_all = binarize(train_x[perm], seed=cfg.seed * 1_000_003 + pos.epoch)
        loss_sum, count, t0, stop = 0.0, 0, time.perf_counter(), False
        for step in range(pos.step, steps_per_epoch):
            global_step = pos.epoch * steps_per_epoch + step
            progress = global_step / max(total_steps, 1)
            lr = cfg.lr * (sched.lr_min_ratio + (1 - sched.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
            for g in opt.param_groups:
                g["lr"] = lr
            beta = min(1.0, global_step / max(sched.warmup_epochs * steps_per_epoch, 1))
            xb = xb_all[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            loss = iwae_loss(model, xb, sched.k, gen, beta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(xb)
            count += len(xb)
            pos.step = step + 1
            steps_done += 1
            stop = time.time() > deadline or (max_steps is not None and steps_done >= max_steps)
            last_step = pos.step == steps_per_epoch  # the epoch's own checkpoint follows at once
            if not last_step and (stop or time.time() - last_save > sched.checkpoint_minutes * 60):
                pos.seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                save()
                last_save = time.time()
                _log(
                    run_dir,
                    f"epoch {pos.epoch + 1} step {pos.step}/{steps_per_epoch} loss {loss_sum / count:.3f} "
                    f"beta {beta:.3f} lr {lr:.2e} checkpoint",
                )
                if stop:
                    _log(run_dir, "stopping at the deadline: checkpoint written (resume with the same command)")
                    return {}
        pos.seconds += time.perf_counter() - t0
        pos.epoch, pos.step = pos.epoch + 1, 0
        row: dict[str, float] = {
            "epoch": pos.epoch,
            "train_loss": loss_sum / max(count, 1),
            "beta": beta,
            "lr": lr,
            "seconds": pos.seconds,
        }
        if sched.eval_every and (pos.epoch % sched.eval_every == 0 or pos.epoch == cfg.epochs):
            model.eval()
            r = evaluate_nll(model, test_x, k=100, images=sched.eval_images)
            model.train()
            row.update({"nll_k100": r.nll_nats, "elbo": r.elbo_nats})
        history.append(row)
        save()
        last_save = time.time()
        write_json(run_dir / "history.json", {"history": history})
        _log(
            run_dir,
            "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
        )
        if stop:
            _log(run_dir, "stopping at the deadline: checkpoint written (resume with the same command)")
            return row
    return history[-1] if history else {}


def _own_args(argv: list[str]) -> list[str]:
    """The arguments after ``train-vae`` (CLI) or after the script (``python -m aecodec_training.vae_train``)."""
    return argv[argv.index("train-vae") + 1 :] if "train-vae" in argv else argv[1:]


def train_vae_command(
    model: Annotated[str, typer.Argument(help="a registered VAE: mlp-vae | conv-vae")] = "mlp-vae",
    data_dir: Annotated[Path, typer.Option(help="folder with the MNIST IDX files")] = Path("data/mnist"),
    out: Annotated[Path, typer.Option(help="run folder (checkpoint.pt, train.log, history.json)")] = Path("runs/vae"),
    epochs: Annotated[int, typer.Option()] = 150,
    batch_size: Annotated[int, typer.Option()] = 100,
    lr: Annotated[float, typer.Option(help="Adam learning rate at the start of the cosine decay")] = 1e-3,
    k: Annotated[int, typer.Option(help="importance samples in the training bound (1: ELBO)")] = 5,
    warmup_epochs: Annotated[float, typer.Option(help="KL warm-up: beta 0 -> 1 over these epochs")] = 10.0,
    latent_dim: Annotated[int, typer.Option()] = 50,
    hidden: Annotated[int, typer.Option()] = 512,
    layers: Annotated[int, typer.Option(help="mlp-vae: hidden layers per side")] = 2,
    act: Annotated[str, typer.Option(help="mlp-vae: relu | elu | tanh")] = "elu",
    channels: Annotated[int, typer.Option(help="conv-vae: first conv width")] = 32,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int, typer.Option(help="torch CPU threads (0: torch's default)")] = 1,
    deadline: Annotated[str, typer.Option(help="UTC time to checkpoint and stop, e.g. 2026-11-24T16:15")] = "",
    checkpoint_minutes: Annotated[float, typer.Option()] = 3.0,
    resume: Annotated[bool, typer.Option("--resume/--fresh", help="continue from the run folder's checkpoint")] = True,
) -> None:
    """Train a VAE on dynamically binarized MNIST with the IWAE bound and KL warm-up (resumable, wall-clock bound)."""
    import sys

    options: dict[str, Any] = {"latent_dim": latent_dim, "hidden": hidden}
    options.update({"layers": layers, "act": act} if model == "mlp-vae" else {"channels": channels})
    cfg = TrainConfig(
        model=model,
        dataset="mnist",
        data_dir=str(data_dir),
        out=str(out),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device="cpu",
        threads=threads,
        resume=resume,
        progress=False,
        options=options,
        command=" ".join(["aecodec-train train-vae", *(shlex.quote(a) for a in _own_args(sys.argv))]),
    )
    sched = VAESchedule(k=k, warmup_epochs=warmup_epochs, checkpoint_minutes=checkpoint_minutes, deadline=deadline)
    train_vae(cfg, sched)


if __name__ == "__main__":
    typer.run(train_vae_command)
