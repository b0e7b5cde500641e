"""Fixtures that start the real service (uvicorn, uvloop, httptools) on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from aecodec_service.core.config import Settings
from aecodec_service.core.server import protocol_for, uvicorn_options
from aecodec_service.main import create_app
from fastapi import FastAPI

from . import fakes

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models"
DIGITS = REPO / "tests" / "fixtures" / "mnist_test_48.npz"


class Running:
    """A started service: its base URL and the app object (for white-box checks)."""

    def __init__(self, url: str, app: FastAPI) -> None:
        self.url = url
        self.app = app

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@contextmanager
def serve(model_dir: Path, wait_ready: bool = True, **overrides: Any) -> Iterator[Running]:
    settings = Settings(model_dir=model_dir, providers=["CPUExecutionProvider"], intra_op_threads=1, **overrides)
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = uvicorn_options(settings, protocol_for(settings)) | {"log_level": "warning", "lifespan": "on"}
    config = uvicorn.Config(app, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url + "/readyz", timeout=2)
            if r.status_code == 200 or (not wait_ready and server.started):
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    else:
        server.should_exit = True
        raise RuntimeError(f"service on {url} did not become ready")
    try:
        yield Running(url, app)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def fake_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fakes.build_all(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def fake_server(fake_models: Path) -> Iterator[Running]:
    with serve(fake_models, max_sample_n=32, max_batch_items=8, max_body_bytes=1_000_000) as running:
        yield running


@pytest.fixture(scope="session")
def shipped_server() -> Iterator[Running]:
    if not any(SHIPPED.glob("*/manifest.json")):
        pytest.skip("no shipped models under models/ yet")
    with serve(SHIPPED) as running:
        yield running


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = np.load(DIGITS)
    return data["x"], data["y"]
