"""How long POST /compare takes (what the web page waits for), on the page's bundled samples.

Starts the service as a subprocess on a free loopback port (CPU provider), sends each sample
``--repeat`` times one after the other, and prints a markdown table: the median wall time of the
request, the learned codec's encode and decode trips as the service timed them, and what each
classical format reached at the payload's bytes.

    python benchmarks/compare_latency.py [--models models] [--repeat 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from pathlib import Path

from served import service

REPO = Path(__file__).resolve().parents[1]
STATIC = REPO / "service" / "aecodec_service" / "static"
CASES = [
    ("digit.png", "mnist-codec-q1", "jpeg,webp"),
    ("cifar.png", "cifar-codec-q1", "jpeg,webp"),
    ("photo.jpg", "cifar-codec-q1", "jpeg,webp"),
    ("photo.jpg", "cifar-codec-q1", "jpeg,webp,avif"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, default=REPO / "models")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    with service(args.models) as (c, _pid):
        print("| sample | model | formats | /compare ms | encode / decode ms | payload | at the same bytes |")
        print("| --- | --- | --- | ---: | ---: | ---: | --- |")
        for name, model, formats in CASES:
            body = (STATIC / name).read_bytes()
            walls, docs = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                r = c.post(f"/compare?model={model}&formats={formats}", content=body)
                walls.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
                docs.append(r.json())
            ours = docs[-1]["learned"]
            enc = statistics.median(d["learned"]["encode_ms"] for d in docs)
            dec = statistics.median(d["learned"]["decode_ms"] for d in docs)
            others = ", ".join(
                f"{k['format']} q{k['quality']} {k['bytes']} B {k['psnr']:.2f} dB"
                + (" (nearest)" if k["nearest"] else "")
                for k in docs[-1]["classical"]
            )
            print(
                f"| {name} | {model} | {formats} | {statistics.median(walls):.0f} | {enc:.1f} / {dec:.1f} | "
                f"{ours['bytes']} ({ours['psnr']:.2f} dB) | {others} |"
            )


if __name__ == "__main__":
    main()
