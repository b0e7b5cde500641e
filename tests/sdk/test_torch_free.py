"""The wire package, its tests and the SDK run where torch cannot be imported (a serving or client install)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Installed before anything else runs: any `import torch` (or onnx, the training package) raises ImportError.
BLOCK_TORCH = """
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "aecodec_training"):
            raise ImportError(f"{name} is blocked: this must work without torch")
        return None

sys.meta_path.insert(0, NoTorch())
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + code], capture_output=True, text=True, timeout=240, cwd=REPO
    )


def test_the_blocker_blocks() -> None:
    result = _run("import torch")
    assert result.returncode != 0 and "blocked" in result.stderr


def test_wire_package_and_sdk_import_without_torch() -> None:
    result = _run("import aecodec_wire, aecodec_wire.v1.api_pb2, aecodec_sdk, aecodec_sdk.cli; print('ok')")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


def test_wire_tests_pass_without_torch() -> None:
    code = "import pytest; sys.exit(pytest.main(['tests/wire', '-q', '-rs', '-p', 'no:cacheprovider']))"
    result = _run(code)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "passed" in result.stdout
    assert "torch" not in result.stdout, "a wire test was skipped or failed for want of torch"
