"""What the training crop's size does to the variable-rate photo codec: the same run continued for the same
training minutes on 256x256 crops (batch 4) and on 128x128 crops (batch 16), the same pixels per step.

    python benchmarks/crop_size.py --init RUN --data-dir ../shared/data/photos,../shared/data/photos-more \
        --minutes 30 --out /tmp/crop-size --json results/benchmarks/crop_size.json

Both arms start from the weights of ``--init`` (a run folder of ``gained-hyperprior-codec``: its z prior is
trained, which a shipped folder's is not) with a fresh Adam, train side by side through ``aecodec-train train``
(one thread each, so they share the machine alike; the budget counts training seconds only) and are then
measured the same way as the start: the task's final figures on the held-out photographs' 384x384 centres,
hard-rounded, at every level. On 128x128 crops the hyper-latent z is 2x2 positions per crop (z is at 1/64 of
the side), on 256x256 crops 4x4: whether the side information learns from so little context is the question.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from aecodec_training.distributed import setup
from aecodec_training.registry import make_task
from aecodec_training.trainer import load_run, run_config

ARMS = {"crop 256, batch 4": (256, 4), "crop 128, batch 16": (128, 16)}


def train_command(args: argparse.Namespace, crop: int, batch: int, out: Path) -> list[str]:
    train = Path(sys.executable).parent / "aecodec-train"
    return [
        str(train), "train", "gained-hyperprior-codec", "--data-dir", args.data_dir, "--out", str(out),
        "--init", str(args.init), "--crop", str(crop), "--batch-size", str(batch), "--lr", str(args.lr),
        "--decay-at", "0", "--precision", "bf16", "--threads", "1", "--minutes", str(args.minutes),
        "--ema", str(args.ema), "--eval-limit", "1", "--checkpoint-minutes", "5", "--no-progress",
    ]  # fmt: skip


def figures(run: Path, data_dir: str) -> dict[str, float]:
    """The task's final figures (every level, all held-out photographs) of a run's weights."""
    model, state = load_run(run)
    cfg = run_config(state, data_dir=data_dir, eval_limit=0)
    return make_task(cfg, setup("cpu"), model).final(model)


def levels(f: dict[str, float]) -> list[tuple[float, float]]:
    """(bpp, PSNR dB) per level."""
    k = 1
    out = []
    while f"q{k}_bpp" in f:
        out.append((f[f"q{k}_bpp"], f[f"q{k}_psnr_db"]))
        k += 1
    return out


def gain_at_equal_rate(start: list[tuple[float, float]], end: list[tuple[float, float]]) -> float:
    """Mean dB of ``end``'s curve (over log bpp) above ``start``'s levels, where the curves overlap."""
    bpp, psnr = np.log([b for b, _ in end]), np.array([p for _, p in end])
    order = np.argsort(bpp)
    inside = [(np.log(b), p) for b, p in start if bpp.min() <= np.log(b) <= bpp.max()]
    return float(np.mean([np.interp(b, bpp[order], psnr[order]) - p for b, p in inside]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", type=Path, required=True, help="run folder to start both arms from")
    ap.add_argument("--data-dir", required=True, help="photo folders, comma-separated, as aecodec-train takes them")
    ap.add_argument("--minutes", type=float, default=30.0, help="training minutes per arm")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--ema", type=float, default=0.99, help="the figures are of the averaged weights")
    ap.add_argument("--out", type=Path, required=True, help="scratch folder for the two runs (rerun resumes)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    runs = {name: args.out / f"crop{crop}-batch{batch}" for name, (crop, batch) in ARMS.items()}
    logs = {name: (args.out / f"{run.name}.log").open("a") for name, run in runs.items()}
    procs = [
        subprocess.Popen(train_command(args, crop, batch, runs[name]), stdout=logs[name], stderr=subprocess.STDOUT)
        for name, (crop, batch) in ARMS.items()
    ]
    if any(p.wait() for p in procs):
        sys.exit(f"a training arm failed: see the logs in {args.out}")

    results: dict[str, Any] = {"init": str(args.init), "minutes": args.minutes, "lr": args.lr, "ema": args.ema}
    start = figures(args.init, args.data_dir)
    results["start"] = start
    for name, run in runs.items():
        end = figures(run, args.data_dir)
        history = json.loads((run / "metrics.json").read_text())["history"]
        gain = gain_at_equal_rate(levels(start), levels(end))
        results[name] = {**end, "gain_db_at_equal_bpp": gain, "epochs": len(history), "run": str(run)}
    print(f"{'':20} {'test_loss':>9} {'mean dB':>8} {'mean bpp':>8}  dB over the start at equal bpp")
    for name in ["start", *ARMS]:
        f = results[name]
        mean_bpp = np.mean([b for b, _ in levels(f)])
        shown = f"{f['gain_db_at_equal_bpp']:+.3f}" if name != "start" else ""
        print(f"{name:20} {f['test_loss']:9.4f} {f['psnr_db']:8.3f} {mean_bpp:8.4f}  {shown}")
    print("per level (bpp, dB):")
    for name in ["start", *ARMS]:
        print(f"  {name:20} " + "  ".join(f"{b:.3f} {p:.2f}" for b, p in levels(results[name])))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
