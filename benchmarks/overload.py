"""Overload: how fast the service says 503, and how much work goes to requests it refused.

Starts the service (``python -m aecodec_service``, shipped models, CPU) with a small admission
capacity, then keeps more batch requests in flight than it admits: every request is a multipart
batch of ``--batch`` 32x32 images to /encode of ``--model``. Prints, per status, the count and the
latency percentiles seen by the client, and from /metrics the rows the encoder computed against
the rows of the requests that got 200 (the rest went to requests that were refused or timed out).

    python benchmarks/overload.py [--model cifar-conv] [--batch 16] [--concurrency 64] [--seconds 10]
                                  [--queue-size 64]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def images(n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def server_percentiles(metrics: str, status: int, qs: tuple[float, ...] = (0.5, 0.99)) -> list[str]:
    """Upper bucket bounds holding the given quantiles of /encode's server-side latency for one status."""
    labels = rf'endpoint="/encode",le="([^"]+)",model="[^"]*",status="{status}"'
    pattern = rf"aecodec_request_seconds_bucket{{{labels}}} ([0-9.e+]+)"
    buckets = sorted((float(le), float(n)) for le, n in re.findall(pattern, metrics))
    if not buckets or buckets[-1][1] == 0:
        return ["-"] * len(qs)
    total = buckets[-1][1]
    return [next(f"<= {le * 1e3:g}" for le, n in buckets if n >= q * total) for q in qs]


def encoder_rows(metrics: str, model: str) -> float:
    """Rows the model's encoder has run so far (the sum of the batch-size histogram)."""
    pattern = rf'aecodec_batch_size_sum{{graph="encoder",model="{re.escape(model)}"}} ([0-9.e+]+)'
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


async def drive(url: str, model: str, files: list[bytes], concurrency: int, seconds: float) -> dict[int, list[float]]:
    latencies: dict[int, list[float]] = defaultdict(list)
    boundary = "aecodec-overload"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="x.png"\r\n'.encode()
            + b"Content-Type: image/png\r\n\r\n"
            + f
            + b"\r\n"
            for f in files
        )
        + f"--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}  # built once: the client stays light
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    r = await client.post(f"/encode?model={model}", content=body, headers=headers)
                    status = r.status_code
                except httpx.TransportError:
                    status = 0
                latencies[status].append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--model", default="cifar-conv")
    ap.add_argument("--batch", type=int, default=16, help="images per request")
    ap.add_argument("--concurrency", type=int, default=64, help="requests kept in flight")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--queue-size", type=int, default=64, help="AECODEC_QUEUE_SIZE: rows admitted per model")
    a = ap.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "AECODEC_MODEL_DIR": str(a.models),
        "AECODEC_PORT": str(port),
        "AECODEC_LOG_LEVEL": "warning",
        "AECODEC_PROVIDERS": "CPUExecutionProvider",
        "AECODEC_QUEUE_SIZE": str(a.queue_size),
    }
    proc = subprocess.Popen([sys.executable, "-m", "aecodec_service"], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the service did not become ready")
            time.sleep(0.2)
        files = images(a.batch)
        asyncio.run(drive(url, a.model, files, 2, 1.0))  # warm-up
        rows_before = encoder_rows(httpx.get(url + "/metrics").text, a.model)
        latencies = asyncio.run(drive(url, a.model, files, a.concurrency, a.seconds))
        metrics = httpx.get(url + "/metrics").text
        rows_after = encoder_rows(metrics, a.model)
    finally:
        proc.terminate()
        proc.wait(10)

    print(
        f"/encode?model={a.model}, {a.batch} images of 32x32 per request, {a.concurrency} in flight, "
        f"{a.seconds:g} s, AECODEC_QUEUE_SIZE={a.queue_size}\n"
    )
    print("| status | requests | client p50 ms | client p99 ms | server p50 ms | server p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for status in sorted(latencies):
        ms = np.array(latencies[status]) * 1e3
        server = server_percentiles(metrics, status)
        print(
            f"| {status or 'transport error'} | {len(ms)} | {np.percentile(ms, 50):.1f} | "
            f"{np.percentile(ms, 99):.1f} | {server[0]} | {server[1]} |"
        )
    computed = rows_after - rows_before
    answered = len(latencies.get(200, [])) * a.batch
    wasted = max(0.0, computed - answered)
    print("\nclient: as the load generator saw it; server: from the service's own histogram (bucket bounds)")
    print(
        f"encoder rows computed: {computed:.0f}; rows of requests answered 200: {answered}; "
        f"computed for refused or timed-out requests: {wasted:.0f} ({wasted / max(computed, 1):.0%})"
    )


if __name__ == "__main__":
    main()
