"""The SDK installs alone: a fresh virtualenv gets it without torch, onnxruntime or FastAPI."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "onnxruntime", "fastapi", "uvicorn", "aecodec_service", "aecodec_training")


@pytest.mark.timeout(240)
def test_sdk_installs_into_a_clean_venv_without_the_server_stack(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO / "proto"),
         str(REPO / "clients" / "sdk")],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    probe = (
        "import importlib.util, aecodec_sdk, aecodec_sdk.cli; "
        "from aecodec_sdk import Client, AsyncClient, inspect; "
        f"print([m for m in {HEAVY!r} if importlib.util.find_spec(m)])"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"importable in the SDK-only venv: {result.stdout}"
    cli = env_dir / ("Scripts/aecodec.exe" if sys.platform == "win32" else "bin/aecodec")
    help_text = subprocess.run([str(cli), "--help"], capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "denoise-dir" in help_text.stdout
