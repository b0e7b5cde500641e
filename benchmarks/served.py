"""The real service as a child process on a free loopback port, for the benchmarks that measure through HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def service(models: Path, **settings: object) -> Iterator[tuple[httpx.Client, int]]:
    """(a client on its base URL, the server's pid) while ``aecodec-serve`` serves ``models``; ``settings`` are
    more ``AECODEC_*`` variables (``intra_op_threads=2`` -> ``AECODEC_INTRA_OP_THREADS=2``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = os.environ | {
        "AECODEC_MODEL_DIR": str(models),
        "AECODEC_PORT": str(port),
        "AECODEC_PROVIDERS": "CPUExecutionProvider",
        "AECODEC_LOG_LEVEL": "warning",
        **{f"AECODEC_{k.upper()}": str(v) for k, v in settings.items()},
    }
    proc = subprocess.Popen([sys.executable, "-m", "aecodec_service"], env=env, stdout=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if client.get("/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the service did not come up")
                time.sleep(0.2)
            yield client, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)
