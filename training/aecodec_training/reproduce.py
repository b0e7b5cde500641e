"""Re-run the reference report's MNIST comparison (reference, relu-out, deep, narrow) through the CLI trainer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .checkpoint import write_json
from .config import TrainConfig
from .models import param_count
from .plots import image_grid, loss_curves
from .trainer import Trainer

# model -> (report's final training loss, report's training seconds)
REPORT = {
    "mlp-reference": (0.0163, 397.0),
    "mlp-relu-out": (0.8864, 438.0),
    "mlp-deep": (0.0275, 666.0),
    "mlp-narrow": (0.0252, 375.0),
}
BASELINES = ["pca"]  # not in the report: the optimal linear AE with the same 49-number code, for comparison
GRID_IMAGES = 10


def run_reproduce(
    data_dir: Path,
    out: Path,
    epochs: int = 20,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    command: str = "",
    log: Callable[[str], None] = print,
    runs: Path | None = None,
    fresh: bool = False,
    threads: int = 0,
) -> str:
    """Train the four models, write table.md/table.json, loss_curves.png and reconstructions.png; return the table."""
    runs = runs or Path("runs") / "reproduce"
    rows, histories, recons = [], {}, []
    test_x = None
    for name in [*REPORT, *BASELINES]:
        report_loss, report_seconds = REPORT.get(name, (None, None))
        cfg = TrainConfig(
            model=name,
            dataset="mnist",
            data_dir=str(data_dir),
            out=str(runs / name),
            epochs=epochs if name in REPORT else 0,
            batch_size=64,
            lr=1e-3,
            seed=seed,
            device=device,
            resume=not fresh,
            threads=threads,
            progress=progress,
            command=command,
        )
        log(f"[reproduce] {name}: {epochs} epochs")
        trainer = Trainer(cfg, log=log)
        final = trainer.fit()
        histories[name] = trainer.history
        test_x = trainer.task.test_x  # type: ignore[attr-defined]
        with torch.inference_mode():
            recons.append(trainer.model.eval()(test_x[:GRID_IMAGES])[0].cpu())
        rows.append(
            {
                "model": name,
                "params": param_count(trainer.model),
                "epochs": trainer.epoch,
                "final_train_loss": (
                    trainer.history[-1]["train_loss"]
                    if trainer.history
                    else trainer.task.figures(trainer.model, trainer.task.train_x)["test_mse"]  # type: ignore[attr-defined]
                ),
                "test_mse": final["test_mse"],
                "psnr_db": final["psnr_db"],
                "seconds": round(trainer.seconds, 1),
                "report_final_loss": report_loss,
                "report_seconds": report_seconds,
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    table = format_table(rows, command)
    (out / "table.md").write_text(table)
    write_json(out / "table.json", {"command": command, "rows": rows})
    loss_curves(histories, out / "loss_curves.png")
    assert test_x is not None
    image_grid(
        [test_x[:GRID_IMAGES].cpu(), *recons],
        ["original", *REPORT, *BASELINES],
        (-1.0, 1.0),
        out / "reconstructions.png",
    )
    return table


def _num(value: object, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def format_table(rows: list[dict[str, Any]], command: str = "") -> str:
    """Markdown table: measured here beside the report's numbers."""
    lines = [
        "| model | params | final train loss | report's final loss | test MSE ([-1,1]) | PSNR (dB, 8-bit) "
        "| train seconds | report's seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['final_train_loss']:.4f} | {_num(r['report_final_loss'], '.4f')} "
            f"| {r['test_mse']:.4f} | {r['psnr_db']:.2f} | {r['seconds']:.1f} | {_num(r['report_seconds'], '.0f')} |"
        )
    if command:
        lines += ["", f"Command: `{command}`"]
    return "\n".join(lines) + "\n"
