"""The command line end to end on tiny data: train, evaluate, export, sample, and python -m."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from aecodec_training.checkpoint import load_checkpoint
from aecodec_training.cli import app
from aecodec_training.config import command_line
from aecodec_training.reproduce import format_table
from aecodec_wire.manifest import load
from typer.testing import CliRunner

from tests.training.helpers import make_idx_folder

PAUSE = 4.0  # seconds the test keeps the training process suspended


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


def test_sigterm_checkpoints_at_the_step_and_a_pause_is_not_training_time(tmp_path: Path) -> None:
    """A real ``aecodec-train train`` process: suspended for PAUSE seconds (SIGSTOP, SIGCONT), it does not count
    the pause against its budget; SIGTERM ends it at the step's end with a checkpoint there, exit status 0; the
    same command resumes from that step."""
    data = make_idx_folder(tmp_path / "mnist", n_train=512, n_test=64)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "aecodec_training.cli", "train", "mlp-reference", "--data-dir", str(data)]
    cmd += ["--out", str(run), "--epochs", "100000", "--threads", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, latest = run / "train.log", None
        deadline = time.monotonic() + 120
        while latest is None and time.monotonic() < deadline and proc.poll() is None:
            lines = log.read_text().splitlines() if log.exists() else []
            latest = next((line for line in reversed(lines) if " epoch " in line), None)
            time.sleep(0.02)
        assert latest is not None, "the run never finished an epoch"
        seen = time.monotonic()
        counted_then = float(re.search(r"(\d+\.\d)s$", latest)[1])  # type: ignore[index]
        proc.send_signal(signal.SIGSTOP)
        time.sleep(PAUSE)
        proc.send_signal(signal.SIGCONT)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "stopped at epoch" in log.read_text() and "run the same command to resume" in out
    state = load_checkpoint(run)
    assert state is not None and state["step"] > 0  # mid-epoch: where the signal found it
    counted = state["seconds"] - counted_then
    assert counted < (stopped - seen) - PAUSE + 0.5, f"{counted:.2f}s counted over {stopped - seen:.2f}s"
    resumed = subprocess.run(
        [*cmd[:-5], "--epochs", str(state["epoch"] + 1), "--threads", "1", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming {run} at epoch {state['epoch']} step {state['step']}," in log.read_text()
