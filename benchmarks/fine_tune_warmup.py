"""What the first steps of a fine-tune do to a trained photo codec, with and without a learning-rate warm-up.

    python benchmarks/fine_tune_warmup.py --init models/photo-codec-vr \
        --data-dir ../shared/data/photos,../shared/data/photos-more --out /tmp/warmup \
        --json results/benchmarks/fine_tune_warmup.json

A run started with ``--init`` has a fresh Adam, whose first updates are about the learning rate in size for
every weight, whatever its gradient. Both arms start from the weights of ``--init`` and take the same first
steps through ``aecodec-train train`` (the same seed, so the same batches), one at the full learning rate from
the first step and one rising to it over ``--warmup-steps``; the figures are the task's final ones on the
held-out photographs' 384x384 centres, hard-rounded, at every level, of the weights as they are (no average).
A shipped folder's z prior is not in its graphs and starts untrained, so its bits per pixel are high at the
start and in both arms alike: the PSNR is what compares.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aecodec_training.checkpoint import load_checkpoint
from aecodec_training.config import TrainConfig
from aecodec_training.distributed import setup
from aecodec_training.registry import build_model, make_task
from aecodec_training.trainer import load_run, run_config
from aecodec_training.warm_start import load_init, start_from


def train_command(args: argparse.Namespace, warmup: int, out: Path) -> list[str]:
    train = Path(sys.executable).parent / "aecodec-train"
    return [
        str(train), "train", "gained-hyperprior-codec", "--data-dir", args.data_dir, "--out", str(out),
        "--init", str(args.init), "--crop", "256", "--batch-size", "4", "--lr", str(args.lr), "--decay-at", "0",
        "--warmup-steps", str(warmup), "--precision", "bf16", "--threads", str(args.threads),
        "--minutes", str(args.minutes), "--eval-limit", "1", "--no-progress",
    ]  # fmt: skip


def start_figures(args: argparse.Namespace, like: Path) -> dict[str, float]:
    """The task's final figures of the weights ``--init`` names, measured as the arms' are."""
    init = load_init(str(args.init))
    model = build_model(init["model_name"], **init["model_config"])
    start_from(model, init["model_name"], init)
    state = load_checkpoint(like)
    assert state is not None
    cfg: TrainConfig = run_config(state, data_dir=args.data_dir, eval_limit=0)
    return make_task(cfg, setup("cpu"), model.eval()).final(model)


def run_figures(run: Path, data_dir: str) -> dict[str, float]:
    """The task's final figures of a run's weights, and the steps it took."""
    model, state = load_run(run)
    task = make_task(run_config(state, data_dir=data_dir, eval_limit=0), setup("cpu"), model)
    return {**task.final(model), "steps": state["epoch"] * task.steps_per_epoch + state["step"]}


def levels(f: dict[str, float]) -> list[tuple[float, float]]:
    """(bpp, PSNR dB) per level."""
    out, k = [], 1
    while f"q{k}_bpp" in f:
        out.append((f[f"q{k}_bpp"], f[f"q{k}_psnr_db"]))
        k += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", type=Path, required=True, help="a run or shipped photo-codec-vr folder")
    ap.add_argument("--data-dir", required=True, help="photo folders, comma-separated, as aecodec-train takes them")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup-steps", type=int, default=500)
    ap.add_argument("--minutes", type=float, default=0.25, help="training minutes per arm (about 25 steps)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True, help="scratch folder for the two runs (made afresh)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    arms = {"no warm-up": 0, f"warm-up {args.warmup_steps}": args.warmup_steps}
    runs = {name: args.out / f"warmup{steps}" for name, steps in arms.items()}
    for name, steps in arms.items():
        if (runs[name] / "checkpoint.pt").exists():
            sys.exit(f"{runs[name]} holds a run already: give an empty --out")
        runs[name].mkdir(parents=True)
        with (runs[name] / "stdout.log").open("w") as log:
            subprocess.run(train_command(args, steps, runs[name]), stdout=log, stderr=subprocess.STDOUT, check=True)

    first = next(iter(runs.values()))
    results: dict[str, Any] = {"init": str(args.init), "lr": args.lr, "minutes": args.minutes}
    results["start"] = {**start_figures(args, first), "steps": 0}
    for name, run in runs.items():
        results[name] = run_figures(run, args.data_dir)
    print("PSNR dB per level (q1 .. qK) on the held-out photographs' centres:")
    for name in ["start", *arms]:
        f = results[name]
        print(f"  {name:14} {f['steps']:4} steps  " + " ".join(f"{p:6.2f}" for _, p in levels(f)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
