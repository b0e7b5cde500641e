"""onnxruntime's intra-op threads per run, measured on photographs: latency alone and throughput under load.

For each ``--threads`` value, starts the service (CPU provider) over ``--models`` with
``AECODEC_INTRA_OP_THREADS`` set to it, and sends one 768x512 photograph (the page's bundled one) to
``/encode?model=...`` and its payload back to ``/decode``, from each of ``--concurrency`` clients at once,
``--repeat`` round trips each (after one to warm up). Prints a markdown table: round trips a second and the
median and worst round trip. The small models' side of the same choice is ``benchmarks/serve_load.py``.

    python benchmarks/intra_op_threads.py --models models --model photo-codec-vr-q4 [--threads 1,2] \
        [--concurrency 1,4] [--repeat 4]
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
from pathlib import Path

import httpx
from PIL import Image
from served import service

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "service" / "aecodec_service" / "static" / "photo.jpg"


def round_trips(base_url: str, model: str, body: bytes, n: int, walls: list[float]) -> None:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for _ in range(n):
            t = time.perf_counter()
            payload = client.post("/encode", params={"model": model}, content=body)
            payload.raise_for_status()
            client.post("/decode", content=payload.content).raise_for_status()
            walls.append(time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, required=True, help="a folder of model folders")
    p.add_argument("--model", required=True, help="the model (or preset) to encode with")
    p.add_argument("--threads", default="1,2", help="intra-op thread counts to compare")
    p.add_argument("--concurrency", default="1,4", help="clients at once")
    p.add_argument("--repeat", type=int, default=4, help="round trips per client")
    args = p.parse_args()
    buf = io.BytesIO()
    Image.open(PHOTO).convert("RGB").resize((768, 512), Image.Resampling.LANCZOS).save(buf, format="PNG")
    body = buf.getvalue()
    print(f"{args.model}, 768x512, encode + decode round trips\n")
    print("| intra-op threads | clients | round trips/s | median s | worst s |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for threads in (int(v) for v in args.threads.split(",")):
        with service(args.models, intra_op_threads=threads) as (client, _pid):
            round_trips(str(client.base_url), args.model, body, 1, [])
            for clients in (int(v) for v in args.concurrency.split(",")):
                walls: list[float] = []
                work = (str(client.base_url), args.model, body, args.repeat, walls)
                workers = [threading.Thread(target=round_trips, args=work) for _ in range(clients)]
                t0 = time.perf_counter()
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
                wall = time.perf_counter() - t0
                print(
                    f"| {threads} | {clients} | {len(walls) / wall:.2f} | {statistics.median(walls):.3f} | "
                    f"{max(walls):.3f} |"
                )


if __name__ == "__main__":
    main()
