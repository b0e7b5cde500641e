"""The server's memory (RSS of its process, from /proc) under the inputs of issue 11 #1 and #2.

A 58-byte crafted payload used to make the server decode a 4160x4160 image (140 MB -> 977 MB, kept);
a 13 KB 2048x2048 PNG through an any-size codec took RSS from 131 MB to 3.6 GB, kept forever. Now the
crafted payload is refused before any work, and a large image runs in bounded memory that is given
back afterwards.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from .conftest import SHIPPED

MODEL = "cifar-codec-q1"
PEAK_LIMIT_MB = 1500  # high-water mark of the whole process while it encodes and decodes 2048x2048
SETTLED_LIMIT_MB = 200  # RSS above the ready baseline once the large requests are over

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads RSS from /proc")


def _mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _large_png() -> bytes:
    """A 2048x2048 photo-like PNG: smooth gradients and a little noise (a few hundred KB)."""
    y, x = np.mgrid[0:2048, 0:2048].astype(np.float32) / 2048
    rng = np.random.default_rng(0)
    rgb = np.stack([x, y, (x + y) / 2], axis=-1) * 255 + rng.normal(0, 4, (2048, 2048, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.slow
def test_rss_stays_bounded_and_comes_back(tmp_path: Path) -> None:
    if not (SHIPPED / MODEL / "manifest.json").is_file() or not (SHIPPED / "cifar-conv" / "manifest.json").is_file():
        pytest.skip("needs the shipped cifar-codec-q1 and cifar-conv")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "AECODEC_MODEL_DIR": str(SHIPPED),
        "AECODEC_PORT": str(port),
        "AECODEC_LOG_LEVEL": "warning",
        "AECODEC_PROVIDERS": "CPUExecutionProvider",
        "AECODEC_REQUEST_TIMEOUT_S": "300",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "aecodec_service"], env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=300) as c:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if c.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            c.post(f"/encode?model={MODEL}", content=_small_png(), headers={"Content-Type": "image/png"})
            baseline = _mb(proc.pid, "VmRSS")

            version = bytes.fromhex(c.get("/models/cifar-conv").json()["version"])
            from aecodec_wire import payload as wire
            from aecodec_wire.v1 import payload_pb2 as pb

            crafted = wire.pack(
                pb.LatentCode(
                    format_version=1,
                    model="cifar-conv",
                    model_version=version,
                    quantizer=1,
                    bits=8,
                    latent_shape=[4, 1040, 1040],
                    width=4160,
                    height=4160,
                    data=b"\0" * 8,
                )
            )
            r = c.post("/decode", content=crafted, headers={"Content-Type": "application/x-protobuf"})
            assert r.status_code == 422, r.text
            after_crafted = _mb(proc.pid, "VmRSS")

            big = _large_png()
            r = c.post(f"/encode?model={MODEL}", content=big, headers={"Content-Type": "image/png"})
            assert r.status_code == 200, r.text
            r = c.post("/decode", content=r.content, headers={"Content-Type": "application/x-protobuf"})
            assert r.status_code == 200, r.text
            peak = _mb(proc.pid, "VmHWM")
            time.sleep(1.0)
            settled = _mb(proc.pid, "VmRSS")
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"RSS: ready {baseline:.0f} MB, after the crafted payload {after_crafted:.0f} MB, "
        f"peak during 2048x2048 {peak:.0f} MB, after it {settled:.0f} MB"
    )
    assert after_crafted - baseline < 50
    assert peak < PEAK_LIMIT_MB
    assert settled - baseline < SETTLED_LIMIT_MB


def _small_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (120, 60, 30)).save(buf, format="PNG")
    return buf.getvalue()
