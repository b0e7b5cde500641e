"""Starting the real server (``python -m aecodec_service``) with the default providers (CUDA, then CPU).

On a machine where CUDA cannot run, onnxruntime used to print two red lines per graph on every
start and reload (44 with the shipped models); now the service says once why CUDA is skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from aecodec_service.core import providers

from .conftest import SHIPPED

LATER = "mnist-vae"  # copied in after the start, so that the reload builds new sessions


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, ok: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ok(httpx.get(url, timeout=2)):  # type: ignore[operator]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer as expected in {seconds} s")


def test_one_line_about_cuda_on_start_and_reload(tmp_path: Path) -> None:
    if not (SHIPPED / LATER / "manifest.json").is_file():
        pytest.skip(f"{LATER} is not shipped")
    root = tmp_path / "models"
    for folder in SHIPPED.glob("*/manifest.json"):  # every shipped model but LATER (14 MB in all)
        if folder.parent.name != LATER:
            shutil.copytree(folder.parent, root / folder.parent.name)
    port = _port()
    env = os.environ | {"AECODEC_MODEL_DIR": str(root), "AECODEC_PORT": str(port), "AECODEC_LOG_LEVEL": "info"}
    env.pop("AECODEC_PROVIDERS", None)  # the default: CUDA first
    log = tmp_path / "stderr.txt"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "aecodec_service"], env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url + "/readyz", lambda r: "still loading" not in r.text)  # every folder tried
        shutil.copytree(SHIPPED / LATER, root / LATER)  # a reload that builds new sessions
        proc.send_signal(signal.SIGHUP)
        _wait(url + "/models/" + LATER, lambda r: r.status_code == 200)
    finally:
        proc.terminate()
        proc.wait(10)
    lines = [line for line in log.read_text(errors="replace").splitlines() if "cuda" in line.lower()]
    assert len(lines) <= 1, "\n".join(lines)
    if providers.unusable("CUDAExecutionProvider") is not None:
        assert len(lines) == 1 and "models run on CPUExecutionProvider" in lines[0], lines
