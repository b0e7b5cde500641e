"""Fixtures for the SDK tests: the real service on a loopback port, and MNIST digits to send it.

The service is started once per session as ``python -m aecodec_service`` (what ``make serve`` and the
Docker image run) with the repository's shipped models and an API key, so every test also proves
the Bearer header goes out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
# the shipped models; AECODEC_SDK_TEST_MODEL_DIR points the tests at another model folder
MODELS = Path(os.environ.get("AECODEC_SDK_TEST_MODEL_DIR") or REPO / "models")
API_KEY = "sdk-test-key"
FIXTURE_NPZ = REPO / "tests" / "fixtures" / "mnist_test_48.npz"
NOISE_SIGMA = 0.25  # on [0, 1]: what mnist-denoise trains against (0.5 on its [-1, 1] scale)


@dataclass(frozen=True)
class Service:
    url: str
    api_key: str
    models: frozenset[str]

    def require(self, *names: str) -> None:
        """Skip the test when a model it needs is not shipped in models/."""
        missing = [n for n in names if n not in self.models]
        if missing:
            pytest.skip(f"model(s) {', '.join(missing)} not in models/")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The real service (uvicorn, onnxruntime, shipped models), ready, on 127.0.0.1."""
    shipped = {p.parent.name for p in MODELS.glob("*/manifest.json")}
    if not shipped:
        pytest.skip("no models shipped in models/ yet")
    try:
        import aecodec_service  # noqa: F401
    except ImportError:
        pytest.skip("the service is not installed in this environment")
    port = _free_port()
    env = {
        **os.environ,
        "AECODEC_MODEL_DIR": str(MODELS),
        "AECODEC_HOST": "127.0.0.1",
        "AECODEC_PORT": str(port),
        "AECODEC_API_KEYS": API_KEY,
        "AECODEC_LOG_LEVEL": "warning",
    }
    env.pop("AECODEC_URL", None)
    log = tmp_path_factory.mktemp("service") / "service.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "aecodec_service"], env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the service exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the service was not ready in 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        served = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {API_KEY}"}).json()
        yield Service(url, API_KEY, frozenset(m["name"] for m in served))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """(48, 28, 28) uint8 clean MNIST test digits, shipped in tests/fixtures."""
    return np.load(FIXTURE_NPZ)["x"]


def add_noise(clean: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = clean / 255.0 + rng.normal(0.0, NOISE_SIGMA, clean.shape)
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8)


class Scripted:
    """A tiny real HTTP server answering from a script of (status, headers, body); records arrival times."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.arrivals: list[float] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.arrivals.append(time.monotonic())
                status, headers, body = outer.script.pop(0) if outer.script else (200, {}, b"{}")
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()
