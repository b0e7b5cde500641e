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


def test_codec_level_through_train_evaluate_export(mnist_dir: Path, tmp_path: Path) -> None:
    """A codec level is trained, evaluated and exported by the same commands as every other model."""
    runner = CliRunner()
    run = tmp_path / "run"
    train = ["train", "rd-codec", "--data-dir", str(mnist_dir), "--out", str(run), "--epochs", "1"]
    train += ["--lam", "2", "--hidden", "8", "--latent", "4", "--positional", "--device", "cpu", "--no-progress"]
    res = runner.invoke(app, train)
    assert res.exit_code == 0, res.output
    assert "est_bytes" in res.output and "psnr_db" in res.output
    res = runner.invoke(app, ["evaluate", str(run)])
    assert res.exit_code == 0 and "est_bytes" in res.output, res.output
    res = runner.invoke(app, ["export", str(run), str(tmp_path / "models" / "level"), "--wire-id", "50"])
    assert res.exit_code == 0, res.output
    manifest = load(tmp_path / "models" / "level")
    assert manifest.kind == "codec" and manifest.wire_id == 50 and "(lambda 2)" in manifest.description
    assert manifest.input.height == 28  # the image size followed the data (size auto)


def test_help_lists_every_command() -> None:
    res = CliRunner().invoke(app, ["--help"])
    for command in ("train", "evaluate", "export", "codec", "zoo", "reproduce"):
        assert f" {command} " in res.output, command
    res = CliRunner().invoke(app, ["zoo"])
    assert "mnist-codec-q1" in res.output and "--wire-id 1" in res.output


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
