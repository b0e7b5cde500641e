"""Plain PyTorch loop vs the aecodec-train trainer: 20 epochs of mlp-reference on the real MNIST.

    python benchmarks/train_speed.py --data-dir ../shared/data/mnist [--epochs 20] [--threads 2]

The plain loop is the textbook one: TensorDataset + DataLoader(shuffle=True, batch_size=64), default Adam,
``loss.item()`` every step. Both use the same data, model, seed and batch size; both print training seconds
(epochs only: no data loading, no validation) and the final test MSE on the [-1, 1] scale.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from aecodec_training.config import TrainConfig
from aecodec_training.datasets import load_dataset
from aecodec_training.models import build_model
from aecodec_training.trainer import Trainer
from torch.utils.data import DataLoader, TensorDataset


def plain_loop(data_dir: Path, epochs: int, seed: int) -> tuple[float, float]:
    """The baseline every tutorial writes; returns (training seconds, test MSE)."""
    data = load_dataset("mnist", data_dir)
    train_x, test_x = data.tensors(torch.device("cpu"), -1.0, 1.0)
    torch.manual_seed(seed)
    model = build_model("mlp-reference")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(train_x), batch_size=64, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        total = 0.0
        for (xb,) in loader:
            opt.zero_grad()
            loss = F.mse_loss(model(xb)[0], xb)
            loss.backward()
            opt.step()
            total += loss.item()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        mse = F.mse_loss(model(test_x)[0], test_x).item()
    return seconds, mse


def cli_trainer(data_dir: Path, epochs: int, seed: int, threads: int) -> tuple[float, float, float]:
    """The trainer ``aecodec-train train mlp-reference`` runs: (training seconds, wall seconds, test MSE).

    Training seconds count the epochs like the plain loop's; wall seconds add the per-epoch validation on the
    10,000 test images and the per-epoch checkpoint the plain loop does not do.
    """
    out = Path("runs") / "bench-cli"
    cfg = TrainConfig(
        model="mlp-reference",
        data_dir=str(data_dir),
        out=str(out),
        epochs=epochs,
        seed=seed,
        device="cpu",
        threads=threads,
        resume=False,
        progress=False,
        command="benchmarks/train_speed.py",
    )
    trainer = Trainer(cfg, log=lambda _m: None)
    start = time.perf_counter()
    final = trainer.fit()
    return trainer.seconds, time.perf_counter() - start, final["test_mse"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("data/mnist"), help="MNIST IDX files")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads for both (0: torch's default)")
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {"threads": torch.get_num_threads(), "epochs": args.epochs}
    if not args.skip_plain:
        seconds, mse = plain_loop(args.data_dir, args.epochs, args.seed)
        results["plain"] = {"seconds": round(seconds, 1), "test_mse": round(mse, 5)}
        print(f"plain loop : {seconds:7.1f} s   test MSE {mse:.5f}")
    seconds, wall, mse = cli_trainer(args.data_dir, args.epochs, args.seed, args.threads)
    results["cli"] = {"seconds": round(seconds, 1), "wall_seconds": round(wall, 1), "test_mse": round(mse, 5)}
    print(
        f"CLI trainer: {seconds:7.1f} s   test MSE {mse:.5f}   ({wall:.1f} s with per-epoch validation and "
        f"checkpoints, {torch.get_num_threads()} threads)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
