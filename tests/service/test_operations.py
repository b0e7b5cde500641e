"""Operations: readiness, metrics, OpenAPI, API keys, back-pressure, reload without restart."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from aecodec_wire import manifest as mf

from .conftest import Running, serve
from .helpers import png

DIGIT = png(np.full((28, 28), 128, np.uint8))
IMG = {"Content-Type": "image/png"}


def test_health_ready_models(fake_server: Running) -> None:
    with fake_server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
        assert set(ready["models"]) == {"mnist-ae", "fake-denoise", "fake-vae", "fake-conv"}
        models = {m["name"]: m for m in c.get("/models").json()}
        assert models["fake-vae"]["endpoints"] == ["encode", "decode", "sample", "interpolate"]
        assert models["fake-conv"]["input"] == {
            "channels": 3,
            "height": None,
            "width": None,
            "range": [0.0, 1.0],
            "pad_multiple": 4,
        }
        assert all(m["provider"] == "CPUExecutionProvider" for m in models.values())
        assert c.get("/models/mnist-ae").json()["version"] == models["mnist-ae"]["version"]


def test_metrics_has_histograms(fake_server: Running) -> None:
    with fake_server.client() as c:
        c.post("/encode", content=DIGIT, headers=IMG)
        text = c.get("/metrics").text
    for name in (
        "aecodec_requests_total",
        "aecodec_request_seconds_bucket",
        "aecodec_payload_bytes_bucket",
        "aecodec_batch_size_bucket",
        "aecodec_queue_depth",
    ):
        assert name in text
    assert 'endpoint="/encode",model="mnist-ae",status="200"' in text


def test_openapi_describes_binary_bodies(fake_server: Running) -> None:
    with fake_server.client() as c:
        spec = c.get("/openapi.json").json()
        assert c.get("/docs").status_code == 200
    paths = spec["paths"]
    enc = paths["/encode"]["post"]
    assert {"image/*", "application/x-protobuf", "multipart/form-data"} <= set(enc["requestBody"]["content"])
    assert enc["requestBody"]["content"]["image/*"]["schema"]["format"] == "binary"
    assert "application/x-protobuf" in enc["responses"]["200"]["content"]
    assert "image/png" in paths["/decode"]["post"]["responses"]["200"]["content"]
    assert "application/x-protobuf" in paths["/decode"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in paths["/interpolate"]["post"]["requestBody"]["content"]
    for p in ("/denoise", "/sample", "/models", "/models/{name}", "/healthz", "/readyz", "/metrics", "/admin/reload"):
        assert p in paths
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == spec["components"]["securitySchemes"][
        "HTTPBearer"
    ] | {"type": "http", "scheme": "bearer"}
    assert paths["/encode"]["post"]["security"] == [{"HTTPBearer": []}]
    assert paths["/healthz"]["get"]["security"] == [] and paths["/readyz"]["get"]["security"] == []
    assert {p["name"] for p in enc["parameters"]} == {"model", "bits", "quality", "max_bytes", "resize"}


def test_openapi_declares_what_the_server_answers(fake_server: Running) -> None:
    """Issue 11 #10: 401 where a key is needed, 400 for bad multipart, the limits of n, steps and files."""
    with fake_server.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    for path, method in [("/models", "get"), ("/models/{name}", "get"), ("/metrics", "get"), ("/admin/reload", "post")]:
        assert "401" in paths[path][method]["responses"], path
    assert "403" in paths["/admin/reload"]["post"]["responses"]
    for path in ("/encode", "/decode", "/denoise", "/interpolate"):
        assert "400" in paths[path]["post"]["responses"], path
    n = next(p for p in paths["/sample"]["post"]["parameters"] if p["name"] == "n")
    steps = next(p for p in paths["/interpolate"]["post"]["parameters"] if p["name"] == "steps")
    assert n["schema"]["maximum"] == 32 and steps["schema"]["maximum"] == 64  # fake_server's max_sample_n, default
    files = paths["/interpolate"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert files["properties"]["files"]["minItems"] == files["properties"]["files"]["maxItems"] == 2
    assert files["additionalProperties"] is False
    with fake_server.client() as c:
        r = c.post("/sample?n=33")
    assert r.status_code == 422  # one past the declared maximum


def test_api_keys(fake_models: Path) -> None:
    with serve(fake_models, api_keys=["k1", "k2"], admin_keys=["adm"]) as s, s.client() as c:
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        for path in ("/models", "/metrics", "/openapi.json"):
            r = c.get(path)
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        r = c.post("/encode", content=DIGIT, headers=IMG | {"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and "wrong API key" in r.json()["detail"]
        assert c.post("/encode", content=DIGIT, headers=IMG | {"Authorization": "Basic azE6"}).status_code == 401
        assert c.post("/admin/reload").status_code == 401
        ok = {"Authorization": "Bearer k2"}
        assert c.post("/encode", content=DIGIT, headers=IMG | ok).status_code == 200
        r = c.post("/admin/reload", headers=ok)  # an API key is not an admin key
        assert r.status_code == 401 and "wrong admin key" in r.json()["detail"]
        assert c.post("/admin/reload", headers={"Authorization": "Bearer adm"}).status_code == 200


def test_queue_full_answers_503_with_retry_after(fake_models: Path) -> None:
    with serve(fake_models, queue_size=2, max_batch=1, max_wait_ms=0) as s:
        graph = s.app.state.registry.get("mnist-ae").encoder
        real = graph.run

        def slow(x: np.ndarray) -> list[np.ndarray]:
            time.sleep(0.2)
            return real(x)

        graph.run = slow  # the batcher holds graph.run itself; patch the batcher's view too
        s.app.state.registry.get("mnist-ae").batchers["encoder"]._run = slow
        statuses: list[httpx.Response] = []

        def hit() -> None:
            statuses.append(httpx.post(s.url + "/encode", content=DIGIT, headers=IMG, timeout=30))

        threads = [threading.Thread(target=hit) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in statuses)
        assert 200 in codes and 503 in codes, codes
        full = next(r for r in statuses if r.status_code == 503)
        assert full.headers["retry-after"] == "1" and "queue is full" in full.json()["detail"]
        assert httpx.get(s.url + "/healthz").status_code == 200


def test_reload_swaps_and_reports_broken_model(fake_models: Path, tmp_path: Path) -> None:
    root = tmp_path / "models"
    shutil.copytree(fake_models, root)
    with serve(root, admin_open=True) as s, s.client() as c:
        before = c.get("/models/mnist-ae").json()["version"]
        payload = c.post("/encode", content=DIGIT, headers=IMG).content
        # a broken model file: the old version keeps serving, the answer says why
        (root / "mnist-ae" / mf.DECODER_FILE).write_bytes(b"not onnx")
        report = c.post("/admin/reload").json()
        assert "mnist-ae" in report["errors"] and "still serving version " + before in report["errors"]["mnist-ae"]
        assert c.post("/decode", content=payload, headers={"Content-Type": "application/x-protobuf"}).status_code == 200
        assert c.get("/readyz").status_code == 200
        # a new version is swapped in; payloads of the old version are refused naming both versions
        shutil.rmtree(root / "mnist-ae")
        from . import fakes

        after = fakes.build(root, "mnist-ae", "autoencoder", seed=7).version
        report = c.post("/admin/reload").json()
        assert report["errors"] == {} and f"mnist-ae@{after}" in report["loaded"]
        assert c.get("/models/mnist-ae").json()["version"] == after
        r = c.post("/decode", content=payload, headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 409 and before in r.json()["detail"] and after in r.json()["detail"]


def test_not_ready_without_models(tmp_path: Path) -> None:
    with serve(tmp_path, wait_ready=False) as s, s.client() as c:
        time.sleep(0.2)
        r = c.get("/readyz")
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert c.post("/encode", content=DIGIT, headers=IMG).status_code == 503


@pytest.mark.parametrize("usable", [["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]])
def test_provider_order_is_cuda_first(monkeypatch: pytest.MonkeyPatch, usable: list[str]) -> None:
    from aecodec_service.core import providers
    from aecodec_service.runtime.sessions import choose_providers

    monkeypatch.setattr(providers, "unusable", lambda p: None if p in usable else "its library does not load")
    chosen = choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert chosen == usable
    assert choose_providers(["CUDAExecutionProvider"])[-1] == "CPUExecutionProvider"


def test_unloadable_provider_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider whose library does not load (onnxruntime-gpu without CUDA) is not asked for."""
    import ctypes

    import onnxruntime as ort
    from aecodec_service.core import providers

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ctypes, "CDLL", _no_cublas)
    monkeypatch.setattr(providers.Path, "glob", lambda self, pattern: iter([self / "libonnxruntime_providers_cuda.so"]))
    providers.unusable.cache_clear()
    try:
        why = providers.unusable("CUDAExecutionProvider")
        assert why is not None and "libcublasLt.so.13" in why
        assert providers.usable(["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    finally:
        providers.unusable.cache_clear()


def _no_cublas(path: str) -> None:
    raise OSError("libcublasLt.so.13: cannot open shared object file: No such file or directory")


def test_sighup_reloads_the_cli_server(fake_models: Path, tmp_path: Path) -> None:
    """``python -m aecodec_service`` (the console script's code path) reloads its models on SIGHUP."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from . import fakes

    root = tmp_path / "models"
    shutil.copytree(fake_models / "mnist-ae", root / "mnist-ae")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {
        "AECODEC_MODEL_DIR": str(root),
        "AECODEC_PORT": str(port),
        "AECODEC_LOG_LEVEL": "warning",
        "AECODEC_PROVIDERS": "CPUExecutionProvider",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "aecodec_service"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def version() -> str | None:
            try:
                return httpx.get(url + "/models/mnist-ae", timeout=2).json()["version"]
            except (httpx.TransportError, KeyError, ValueError):
                return None

        deadline = time.monotonic() + 30
        while (before := version()) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert before is not None, "server did not start"
        shutil.rmtree(root / "mnist-ae")
        after = fakes.build(root, "mnist-ae", "autoencoder", seed=11).version
        proc.send_signal(signal.SIGHUP)
        while version() != after and time.monotonic() < deadline:
            time.sleep(0.1)
        assert version() == after
    finally:
        proc.terminate()
        proc.wait(10)


def test_each_replica_polls_its_model_folder(fake_models: Path, tmp_path: Path) -> None:
    """AECODEC_RELOAD_POLL_S: a changed folder is reloaded without a signal or a request."""
    from . import fakes

    root = tmp_path / "models"
    shutil.copytree(fake_models / "mnist-ae", root / "mnist-ae")
    with serve(root, reload_poll_s=0.2) as s, s.client() as c:
        before = c.get("/models/mnist-ae").json()["version"]
        shutil.rmtree(root / "mnist-ae")
        after = fakes.build(root, "mnist-ae", "autoencoder", seed=13).version
        deadline = time.monotonic() + 20
        while c.get("/models/mnist-ae").json().get("version") != after and time.monotonic() < deadline:
            time.sleep(0.1)
        assert before != after and c.get("/models/mnist-ae").json()["version"] == after
