"""Training speed on this CPU, through the one trainer's own step (``Trainer.train_step``): steps per second
per setting for the photo codec, the denoiser and the VAE, and whether bfloat16 keeps the photo codec's
rate-distortion figures.

    python benchmarks/train_speed.py --photos ../shared/data/photos --cifar ../shared/data/cifar-10 \
        --mnist ../shared/data/mnist [--steps 8] [--accuracy-steps 150] [--init RUN] [--only TEXT] \
        [--json results/benchmarks/train_speed.json]

Speed: each row builds the run a command would (real data, the model's task, its optimiser), times ``--steps``
optimiser steps after two warm-up steps (a compiled row compiles in the first) and reports the median seconds
per step and image pixels per second.
"before" rows are the settings the shipped models were trained with (float32, one thread), "after" the
defaults the recipes now name. Accuracy: from the same weights, the same batches are trained in float32 and
in bfloat16 autocast for ``--accuracy-steps`` steps each; the validation figures (hard-rounded, float32) after
each are compared (``--init RUN``: from a trained run's weights and optimiser state, where the difference
shows).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from aecodec_training.config import TrainConfig
from aecodec_training.registry import recipe
from aecodec_training.tasks import At
from aecodec_training.trainer import Trainer, load_init, step_generator

ROOT = Path(__file__).resolve().parent.parent


def trainer(model: str, data: dict[str, Any], out: Path, **kw: Any) -> Trainer:
    """A fresh run of ``model`` (nothing resumed), as ``aecodec-train train`` would build it."""
    r = recipe(model)
    kw = {"batch_size": r.batch_size, "lr": r.lr, "epochs": r.epochs, **kw}
    cfg = TrainConfig(model=model, out=str(out), device="cpu", resume=False, progress=False, **data, **kw)
    return Trainer(cfg, log=lambda _m: None)


def seconds_per_step(t: Trainer, steps: int) -> float:
    times = []
    for i in range(steps + 2):
        batch = t.task.batch(0, i, t.model)
        gen = step_generator(t.ctx.device, 0, 0, 0, i)
        start = time.perf_counter()
        t.train_step(batch, gen, At(0.0, 0.0))
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def pixels_of(batch: Any) -> int:
    x = batch[0] if isinstance(batch, tuple) else batch
    return int(x.shape[0] * x.shape[-2] * x.shape[-1])


SPEED_ROWS: list[tuple[str, str, str, dict[str, Any]]] = [  # family, label, model, settings
    ("photo codec", "before: N=64/M=96, fp32, 1 thread, 8x128", "hyperprior-codec", {"threads": 1}),
    ("photo codec", "N=64/M=96, bf16, 2 threads, 8x128", "hyperprior-codec", {"threads": 2, "precision": "bf16"}),
    ("photo codec", "N=128/M=192, fp32, 1 thread, 8x128", "gained-hyperprior-codec", {"threads": 1, "batch_size": 8}),
    (
        "photo codec",
        "N=128/M=192, fp32, 2 threads, 8x128",
        "gained-hyperprior-codec",
        {"threads": 2, "batch_size": 8},
    ),
    (
        "photo codec",
        "N=128/M=192, bf16, 1 thread, 8x128",
        "gained-hyperprior-codec",
        {"threads": 1, "batch_size": 8, "precision": "bf16"},
    ),
    (
        "photo codec",
        "N=128/M=192, bf16, 2 threads, 8x128",
        "gained-hyperprior-codec",
        {"threads": 2, "batch_size": 8, "precision": "bf16"},
    ),
    (
        "photo codec",
        "N=128/M=192, bf16, 2 threads, 2 x 256",
        "gained-hyperprior-codec",
        {"threads": 2, "batch_size": 2, "crop": 256, "precision": "bf16"},
    ),
    (
        "photo codec",
        "N=128/M=192, bf16, 2 threads, 4 x 256",
        "gained-hyperprior-codec",
        {"threads": 2, "batch_size": 4, "crop": 256, "precision": "bf16"},
    ),
    (
        "photo codec",
        "after: N=128/M=192, bf16, 2 threads, 4 x 256, compiled",
        "gained-hyperprior-codec",
        {"threads": 2, "batch_size": 4, "crop": 256, "precision": "bf16", "compile": True},
    ),
    ("denoiser", "before: width 32 depth 8, fp32, 1 thread, 16 x 64", "denoiser", {"threads": 1}),
    ("denoiser", "width 32 depth 8, fp32, 2 threads, 16 x 64", "denoiser", {"threads": 2}),
    ("denoiser", "after: width 32 depth 8, bf16, 2 threads, 16 x 64", "denoiser", {"threads": 2, "precision": "bf16"}),
    ("denoiser", "after: U-Net (denoise-any's), bf16, 2 threads", "denoiser-unet", {"threads": 2, "precision": "bf16"}),
    (
        "denoiser",
        "U-Net (denoise-any's), bf16, 2 threads, compiled",
        "denoiser-unet",
        {"threads": 2, "precision": "bf16", "compile": True},
    ),
    ("VAE", "before: mlp-vae IWAE k=5, fp32, 1 thread, b100", "mlp-vae", {"threads": 1, "batch_size": 100}),
    ("VAE", "mlp-vae IWAE k=5, fp32, 2 threads, b100", "mlp-vae", {"threads": 2, "batch_size": 100}),
    (
        "VAE",
        "mlp-vae IWAE k=5, bf16, 2 threads, 100",
        "mlp-vae",
        {"threads": 2, "batch_size": 100, "precision": "bf16"},
    ),
]

VAE_OPTIONS = {"hidden": 512, "latent_dim": 50, "layers": 2, "act": "elu"}
VAE_TASK = {"k": 5, "binarize": True}


def data_for(model: str, args: argparse.Namespace) -> dict[str, Any]:
    if model.startswith("denoiser"):
        return {
            "dataset": "photos",
            "data_dir": str(args.photos),
            "task": {"cifar_dir": str(args.cifar), "mnist_dir": str(args.mnist)},
        }
    if model == "mlp-vae":
        return {"dataset": "mnist", "data_dir": str(args.mnist), "task": VAE_TASK, "options": VAE_OPTIONS}
    return {"dataset": "photos", "data_dir": str(args.photos)}


def speed(args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    rows = []
    for family, label, model, settings in SPEED_ROWS:
        if args.only and args.only not in label:
            continue
        t = trainer(model, data_for(model, args), out / model, **settings)
        s = seconds_per_step(t, args.steps)
        pixels = pixels_of(t.task.batch(0, 0, t.model))
        row = {"family": family, "setting": label, "s_per_step": round(s, 4), "kpixels_per_s": round(pixels / s / 1e3)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def accuracy(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The same batches from the same weights in float32 and in bfloat16: validation figures after each."""
    result: dict[str, Any] = {"steps": args.accuracy_steps}
    start_weights = None
    for precision in ("fp32", "bf16"):
        t = trainer(
            "gained-hyperprior-codec",
            data_for("gained-hyperprior-codec", args),
            out / f"acc-{precision}",
            threads=2,
            crop=256,
            batch_size=4,
            lr=2e-4,
            precision=precision,
            seed=0,
        )
        init = load_init(str(args.init)) if args.init else None
        if start_weights is None:
            start_weights = init["model_state"] if init else {k: v.clone() for k, v in t.model.state_dict().items()}
        t.model.load_state_dict(start_weights)
        if init is not None and init.get("optimizer"):  # the run's Adam moments: no fresh-optimiser transient
            t.optimizer.load_state_dict(init["optimizer"])
        begin = time.perf_counter()
        for i in range(args.accuracy_steps):
            t.train_step(t.task.batch(i // 480, i % 480, t.model), step_generator(t.ctx.device, 0, 0, 0, i), At(0, 0))
        seconds = time.perf_counter() - begin
        figures = t.task.validate(t.model)
        result[precision] = {"seconds": round(seconds, 1), **{k: round(v, 4) for k, v in figures.items()}}
        print(precision, json.dumps(result[precision]), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=ROOT / "data" / "photos")
    ap.add_argument("--cifar", type=Path, default=ROOT / "data" / "cifar-10")
    ap.add_argument("--mnist", type=Path, default=ROOT / "data" / "mnist")
    ap.add_argument("--only", help="time only the settings whose label contains this text")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per setting (after two warm-up steps)")
    ap.add_argument("--accuracy-steps", type=int, default=150, help="0: skip the bf16 accuracy comparison")
    ap.add_argument("--init", type=Path, help="accuracy: start from this gained-hyperprior-codec run's weights")
    ap.add_argument("--out", type=Path, default=Path("runs") / "bench-train-speed", help="scratch run folders")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    results: dict[str, Any] = {"speed": speed(args, args.out)}
    if args.accuracy_steps:
        results["bf16_accuracy"] = accuracy(args, args.out)
    print("\n| model | setting | s/step | kpixels/s |\n|---|---|---:|---:|")
    for r in results["speed"]:
        print(f"| {r['family']} | {r['setting']} | {r['s_per_step']:.3f} | {r['kpixels_per_s']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
