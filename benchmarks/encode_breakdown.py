"""Where a single-image /encode spends its CPU time, without HTTP.

Times, in one process on one core: the steps of /encode alone (PNG -> model input,
onnxruntime encoder run, quantise + range-code + header), the same steps one after
another, and whole requests driven straight into the ASGI apps (the service's app
against the bare FastAPI echo app that benchmarks/serve_load.py uses). The gap
between "alone" and "in sequence" is what the steps cost each other in caches.

    python benchmarks/encode_breakdown.py [--models models] [--model mnist-ae] [-n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def per_call_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(n, 200)):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


async def per_request_us(app: Callable[..., Awaitable[None]], path: str, query: bytes, body: bytes, n: int) -> float:
    """Drive an ASGI app with n POST requests carrying body; microseconds per request."""
    headers = [(b"host", b"bench"), (b"content-type", b"image/png"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    status: list[int] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))  # type: ignore[call-overload]

    for _ in range(200):
        await app(dict(scope, state={}), receive, send)
    if status[-1] != 200:
        raise RuntimeError(f"{path} answered {status[-1]}")
    t0 = time.perf_counter()
    for _ in range(n):
        await app(dict(scope, state={}), receive, send)
    return (time.perf_counter() - t0) / n * 1e6


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", default=str(REPO / "models"))
    p.add_argument("--model", default="mnist-ae")
    p.add_argument("-n", type=int, default=5000)
    a = p.parse_args()
    os.environ["AECODEC_MODEL_DIR"] = a.models
    os.environ.setdefault("AECODEC_PROVIDERS", "CPUExecutionProvider")
    from aecodec_service.main import create_app
    from aecodec_service.runtime.imaging import to_model_input
    from serve_load import echo_app

    digit = np.load(REPO / "tests" / "fixtures" / "mnist_test_48.npz")["x"][0]
    buf = io.BytesIO()
    Image.fromarray(digit).save(buf, format="PNG")
    png = buf.getvalue()

    app = create_app()
    async with app.router.lifespan_context(app):
        while a.model not in app.state.registry.models:
            await asyncio.sleep(0.1)
        rt = app.state.registry.models[a.model]
        spec, graph = rt.manifest.input, rt.batchers["encoder"]
        x = to_model_input(png, spec, max_pixels=1 << 24, resize=False).x
        latent = graph._run(x)[0]

        def prepare() -> np.ndarray:
            return to_model_input(png, spec, max_pixels=1 << 24, resize=False).x

        def code(lat: np.ndarray) -> list[bytes]:
            return rt.codec.encode(lat, [(digit.shape[1], digit.shape[0])], ["L"], 8 if rt.codec.bit_depths else None)

        def in_sequence() -> list[bytes]:
            return code(graph._run(prepare())[0])

        rows = [
            ("PNG -> model input, alone", per_call_us(prepare, a.n)),
            ("onnxruntime encoder run, alone", per_call_us(lambda: graph._run(x), a.n)),
            ("quantise + range-code + header, alone", per_call_us(lambda: code(latent), a.n)),
        ]
        rows.append(("sum of the three", sum(r[1] for r in rows)))
        rows.append(("the three in sequence", per_call_us(in_sequence, a.n)))
        echo_us = await per_request_us(echo_app(), "/echo", b"", png, a.n)
        rows.append(("bare echo app, whole request (ASGI, no HTTP)", echo_us))
        encode_us = await per_request_us(app, "/encode", f"model={a.model}".encode(), png, a.n)
        rows.append(("service app /encode, whole request (ASGI, no HTTP)", encode_us))
    print(f"model {a.model}, a {len(png)}-byte PNG digit, {a.n} calls each\n")
    print("| step | µs |\n|---|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
