"""Property-based API fuzzing: schemathesis generates requests from the served /openapi.json and runs
every check (status codes, content types, response schemas, auth, negative and positive data, methods).

The server is the real one (uvicorn with the service's protocol, the shipped models), with API and
admin keys set so that the authentication checks mean something. A small budget runs by default,
a larger one under the slow marker; both must find nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import SHIPPED, Running, serve

pytest.importorskip("schemathesis")
KEY = "fuzz-key"
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[Running]:
    if not any(SHIPPED.glob("*/manifest.json")):
        pytest.skip("no shipped models under models/")
    with serve(SHIPPED, api_keys=[KEY], admin_keys=[KEY]) as running:
        yield running


def fuzz(url: str, report: Path, max_examples: int, seed: int = 1) -> tuple[int, str, int]:
    """Run schemathesis against url; (exit code, its output, number of test cases it ran)."""
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color", "run"),
        f"{url}/openapi.json",
        *("--checks", "all", "--max-examples", str(max_examples), "--seed", str(seed)),
        *("--header", f"Authorization: Bearer {KEY}", "--generation-database", "none", "--workers", "1"),
        *("--report", "json", "--report-json-path", str(report)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=report.parent)
    cases = _cases(report)
    return done.returncode, done.stdout + done.stderr, cases


def _cases(report: Path) -> int:
    if not report.is_file():
        return 0
    return int(json.loads(report.read_text())["test_cases"]["generated"])


def test_fuzz_small_budget(keyed_server: Running, tmp_path: Path) -> None:
    code, output, cases = fuzz(keyed_server.url, tmp_path / "report.json", max_examples=5)
    print(f"schemathesis, --max-examples 5: {cases} test cases, exit code {code}")
    assert code == 0, output[-6000:]
    assert cases > 200, output[-3000:]  # every operation was exercised, not skipped
    assert keyed_server.client().get("/healthz").status_code == 200


@pytest.mark.slow
def test_fuzz_large_budget(keyed_server: Running, tmp_path: Path) -> None:
    code, output, cases = fuzz(keyed_server.url, tmp_path / "report.json", max_examples=200, seed=7)
    print(f"schemathesis, --max-examples 200: {cases} test cases, exit code {code}")
    assert code == 0, output[-6000:]
    assert cases > 2000, output[-3000:]
