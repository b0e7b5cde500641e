"""torchrun with two CPU processes on gloo, through the same CLI and trainer as a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aecodec_training.checkpoint import load_checkpoint


def test_torchrun_two_processes_gloo(mnist_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "aecodec_training.cli",
        "train",
        "mlp-reference",
        "--data-dir",
        str(mnist_dir),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 process(es)" in proc.stdout
    assert proc.stdout.count("epoch 2/2") == 1  # only rank 0 logs
    state = load_checkpoint(out)
    assert state is not None and state["epoch"] == 2
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert len(history) == 2 and history[1]["train_loss"] < history[0]["train_loss"]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "metrics.json", "train.log"]  # rank 0 alone
