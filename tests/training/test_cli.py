"""The command line end to end on tiny data: train, evaluate, export, sample, and python -m."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aecodec_training.cli import app
from aecodec_training.config import command_line
from aecodec_training.reproduce import format_table
from aecodec_wire.manifest import load
from typer.testing import CliRunner


def test_train_evaluate_export(mnist_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "train",
            "mlp-vae",
            "--data-dir",
            str(mnist_dir),
            "--out",
            str(run),
            "--epochs",
            "1",
            "--latent-dim",
            "4",
            "--device",
            "cpu",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Total params" in res.output and "test_elbo_nats" in res.output
    res = runner.invoke(app, ["evaluate", str(run)])
    assert res.exit_code == 0 and "psnr_db" in res.output, res.output
    res = runner.invoke(app, ["export", str(run), str(tmp_path / "models" / "tiny-vae")])
    assert res.exit_code == 0, res.output
    assert load(tmp_path / "models" / "tiny-vae").kind == "vae"
    res = runner.invoke(app, ["sample", str(run), str(tmp_path / "s.png"), "--count", "8"])
    assert res.exit_code == 0 and (tmp_path / "s.png").stat().st_size > 0, res.output


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["train", "mlp-reference", "--data-dir", str(tmp_path), "--no-progress"])
    assert res.exit_code != 0
    assert "train-images-idx3-ubyte" in str(res.exception)


def test_python_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aecodec_training.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "reproduce" in proc.stdout


def test_command_line_is_portable() -> None:
    assert command_line(["/some/venv/bin/aecodec-train", "train", "x y"]) == "aecodec-train train 'x y'"
    assert command_line(["/a/b/aecodec_training/cli/__main__.py", "train"]) == "python -m aecodec_training.cli train"


def test_reproduce_table_format() -> None:
    row = {
        "model": "mlp-reference",
        "params": 327761,
        "final_train_loss": 0.0161,
        "test_mse": 0.0159,
        "psnr_db": 24.1,
        "seconds": 40.0,
        "report_final_loss": 0.0163,
        "report_seconds": 397.0,
    }
    table = format_table([row], "aecodec-train reproduce")
    assert "| mlp-reference | 327,761 | 0.0161 | 0.0163 |" in table and "aecodec-train reproduce" in table
