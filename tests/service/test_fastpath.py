"""The hot routes answer the same through the lean path (core/fastpath.py) as through FastAPI's router."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .conftest import Running, serve
from .helpers import png
from .photos import sideways_jpeg

DIGIT = png(np.random.default_rng(5).integers(0, 255, (28, 28), dtype=np.uint8))
TURNED = sideways_jpeg(np.random.default_rng(6).integers(0, 255, (28, 28, 3), dtype=np.uint8), 6)
IMG = {"Content-Type": "image/png"}
PB = {"Content-Type": "application/x-protobuf"}


def _answers(c: object) -> list[tuple[int, str, str | None, bytes]]:
    payload = c.post("/encode?bits=6", content=DIGIT, headers=IMG).content  # type: ignore[attr-defined]
    requests = [
        ("/encode?bits=6", DIGIT, IMG),
        ("/decode", payload, PB),
        ("/denoise?model=fake-denoise", DIGIT, IMG),
        ("/encode", TURNED, IMG),
        ("/denoise?model=fake-denoise", TURNED, IMG),
        ("/encode?bits=9", DIGIT, IMG),
        ("/encode?resize=maybe", DIGIT, IMG),
        ("/decode", payload[:-3], PB),
        ("/encode?model=nope", DIGIT, IMG),
    ]
    out = []
    for path, body, headers in requests:
        r = c.post(path, content=body, headers=headers)  # type: ignore[attr-defined]
        out.append(
            (r.status_code, r.headers["content-type"], r.headers.get("x-aecodec-orientation-applied"), r.content)
        )
    return out


def test_lean_path_and_router_give_the_same_answers(fake_server: Running, fake_models: Path) -> None:
    with fake_server.client() as c:
        fast = _answers(c)
        assert c.get("/encode").status_code == 405  # other methods still go through FastAPI
        metrics = c.get("/metrics").text
        assert 'aecodec_requests_total{endpoint="/encode",model="mnist-ae",status="200"}' in metrics
        assert "aecodec_requests_in_flight 1.0" in metrics  # this very request
    with serve(fake_models, fast_path=False) as slow_server, slow_server.client() as c:
        slow = _answers(c)
    assert [a[2] for a in fast[3:5]] == ["6", "6"]  # a sideways JPEG is encoded and denoised upright on both
    assert [a[:2] for a in fast] == [a[:2] for a in slow]
    assert fast == slow
