"""Overload: how fast the service says 503, and how much work goes to requests it refused.

Starts the service (``python -m aecodec_service``, shipped models, CPU) with a small admission
capacity, then keeps more batch requests in flight than it admits: every request is a multipart
batch of ``--batch`` 32x32 images to /encode of ``--model``. Prints, per status, the count and the
latency percentiles seen by the client, and from /metrics the rows the encoder computed against
the rows of the requests that got 200 (the rest went to requests that were refused or timed out).

Beside the load, a prober in its own process sends the same request every 20 ms, one at a time, over
one keep-alive connection (raw sockets, next to no client work) and times each answer: that is the time
a request arriving at a full model waits for its 503, without the load generator's own queueing.

    python benchmarks/overload.py [--model cifar-conv] [--batch 16] [--concurrency 64] [--seconds 10]
                                  [--queue-size 64]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from served import service

REPO = Path(__file__).resolve().parents[1]


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


def multipart(files: list[bytes]) -> tuple[bytes, str]:
    """A multipart body of parts named ``files``, and its Content-Type."""
    boundary = "aecodec-overload"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="x.png"\r\n'.encode()
        + b"Content-Type: image/png\r\n\r\n"
        + f
        + b"\r\n"
        for f in files
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def drive(url: str, model: str, files: list[bytes], concurrency: int, seconds: float) -> dict[int, list[float]]:
    latencies: dict[int, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
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
                except httpx.TransportError as exc:
                    status = 0
                    errors[f"{type(exc).__name__}: {exc}"] += 1
                latencies[status].append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    for what, count in errors.items():
        print(f"transport error x{count}: {what}")
    return latencies


def probe(url: str, model: str, files: list[bytes], seconds: float, every_s: float = 0.02) -> None:
    """Prober process: one request at a time; prints one line per answer: status and milliseconds."""
    host, port = url.removeprefix("http://").split(":")
    body, ctype = multipart(files)
    head = (
        f"POST /encode?model={model} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    stop = time.perf_counter() + seconds
    with socket.create_connection((host, int(port))) as sock:
        reader = sock.makefile("rb")
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            sock.sendall(head + body)
            status = int(reader.readline().split()[1])
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            print(status, f"{(time.perf_counter() - t0) * 1e3:.3f}", flush=True)
            time.sleep(every_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--model", default="cifar-conv")
    ap.add_argument("--batch", type=int, default=16, help="images per request")
    ap.add_argument("--concurrency", type=int, default=64, help="requests kept in flight")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--queue-size", type=int, default=64, help="AECODEC_QUEUE_SIZE: rows admitted per model")
    ap.add_argument("--probe", help=argparse.SUPPRESS)  # internal: run the prober against this URL
    a = ap.parse_args()
    if a.probe:
        probe(a.probe, a.model, images(a.batch), a.seconds)
        return

    with service(a.models, queue_size=a.queue_size) as (client, _):
        url = str(client.base_url).rstrip("/")
        files = images(a.batch)
        asyncio.run(drive(url, a.model, files, 2, 1.0))  # warm-up
        rows_before = encoder_rows(httpx.get(url + "/metrics").text, a.model)
        probe_args = ["--probe", url, "--model", a.model, "--batch", str(a.batch), "--seconds", str(a.seconds - 1)]
        prober = subprocess.Popen(
            [sys.executable, __file__, *probe_args],
            stdout=subprocess.PIPE,
            text=True,
        )
        latencies = asyncio.run(drive(url, a.model, files, a.concurrency, a.seconds))
        probed: dict[int, list[float]] = defaultdict(list)
        for line in prober.communicate(timeout=60)[0].splitlines():
            status, ms = line.split()
            probed[int(status)].append(float(ms))
        metrics = httpx.get(url + "/metrics").text
        rows_after = encoder_rows(metrics, a.model)

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
    print("\nthe prober (the same request, one at a time, during the same load):\n")
    print("| status | requests | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
    for status in sorted(probed):
        ms = np.array(probed[status])
        print(f"| {status} | {len(ms)} | {np.percentile(ms, 50):.1f} | {np.percentile(ms, 99):.1f} | {ms.max():.1f} |")
    computed = rows_after - rows_before
    answered = (len(latencies.get(200, [])) + len(probed.get(200, []))) * a.batch
    wasted = max(0.0, computed - answered)
    print("\nclient: as the load generator saw it; server: from the service's own histogram (bucket bounds)")
    print(
        f"encoder rows computed: {computed:.0f}; rows of requests answered 200: {answered}; "
        f"computed for refused or timed-out requests: {wasted:.0f} ({wasted / max(computed, 1):.0%})"
    )


if __name__ == "__main__":
    main()
