"""The SDK's public surface, without a service: exports, exception tree, input coercion, layering."""

from __future__ import annotations

import builtins
import http.server
import inspect as pyinspect
import io
import subprocess
import sys
import threading
import time
import types

import aecodec_sdk
import numpy as np
import pytest
from aecodec_sdk import exceptions
from aecodec_sdk._images import array_to_image, image_bytes, sniff_content_type
from aecodec_sdk._responses import parse_retry_after
from aecodec_sdk.schema import ModelInfo
from PIL import Image


def test_all_is_complete_and_resolvable() -> None:
    public = {
        name
        for name, value in vars(aecodec_sdk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(aecodec_sdk.__all__), f"missing from __all__: {public - set(aecodec_sdk.__all__)}"
    for name in aecodec_sdk.__all__:
        assert hasattr(aecodec_sdk, name), name


def test_every_exception_is_exported_and_drawn_in_the_docstring() -> None:
    classes = [c for c in vars(exceptions).values() if isinstance(c, type) and issubclass(c, exceptions.AecodecError)]
    assert len(classes) > 10
    for cls in classes:
        assert cls.__name__ in aecodec_sdk.__all__, cls.__name__
        assert cls.__name__ in (exceptions.__doc__ or ""), f"{cls.__name__} is not drawn in the hierarchy"
    assert issubclass(aecodec_sdk.NotFound, aecodec_sdk.APIError)
    assert issubclass(aecodec_sdk.ServiceUnavailable, aecodec_sdk.ServerError)
    assert issubclass(aecodec_sdk.TimeoutException, aecodec_sdk.TransportError)
    assert exceptions.error_class(404) is aecodec_sdk.NotFound
    assert exceptions.error_class(502) is aecodec_sdk.ServerError
    assert exceptions.error_class(418) is aecodec_sdk.APIError


def test_no_export_shadows_a_builtin() -> None:
    # `from aecodec_sdk import *` must not replace TimeoutError, ConnectionError, ...
    assert not set(aecodec_sdk.__all__) & set(dir(builtins))
    assert issubclass(aecodec_sdk.TimeoutException, builtins.TimeoutError)  # `except TimeoutError` still works


def test_sync_and_async_constructors_take_the_same_arguments() -> None:
    sync = pyinspect.signature(aecodec_sdk.Client.__init__).parameters
    async_ = pyinspect.signature(aecodec_sdk.AsyncClient.__init__).parameters
    assert list(sync) == list(async_)
    for name in sync:
        a, b = sync[name], async_[name]
        assert (a.kind, a.default) == (b.kind, b.default), name
        if name != "transport":  # httpx's sync and async transports are different types
            assert a.annotation == b.annotation, name
    assert "max_connections" in sync and not any(p.kind is p.VAR_KEYWORD for p in sync.values())


def _most_requests_in_flight(max_connections: int, requests: int = 6) -> int:
    """Send ``requests`` concurrent calls through one blocking client; how many did the server hold at once?"""
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.3)
            with lock:
                state["now"] -= 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with aecodec_sdk.Client(url, max_connections=max_connections) as client:
            workers = [threading.Thread(target=client.health) for _ in range(requests)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
    finally:
        server.shutdown()
        server.server_close()
    return state["most"]


def test_max_connections_bounds_the_blocking_clients_pool() -> None:
    assert _most_requests_in_flight(max_connections=2) == 2
    assert _most_requests_in_flight(max_connections=6) > 2


def test_sync_and_async_clients_have_the_same_methods() -> None:
    def methods(cls: type) -> dict[str, list[str]]:
        return {
            name: list(pyinspect.signature(fn).parameters)
            for name, fn in vars(cls).items()
            if callable(fn) and not name.startswith("_") and name not in ("close", "aclose")
        }

    sync, async_ = methods(aecodec_sdk.Client), methods(aecodec_sdk.AsyncClient)
    assert sync == async_
    wanted = {"encode", "decode", "denoise", "sample", "interpolate", "models", "model", "health", "ready"}
    assert wanted | {"encode_batch", "decode_batch", "denoise_batch"} <= set(sync)
    for name in sync:
        assert pyinspect.iscoroutinefunction(getattr(aecodec_sdk.AsyncClient, name)), name


def test_image_inputs_are_coerced(tmp_path) -> None:
    gray = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    png = image_bytes(gray)
    assert sniff_content_type(png) == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), gray)
    assert Image.open(io.BytesIO(image_bytes(np.zeros((4, 5, 3), np.uint8)))).mode == "RGB"
    assert Image.open(io.BytesIO(image_bytes(np.zeros((4, 5, 1), np.uint8)))).mode == "L"
    assert image_bytes(Image.fromarray(gray)) == png
    path = tmp_path / "d.png"
    path.write_bytes(png)
    assert image_bytes(path) == png and image_bytes(str(path)) == png and image_bytes(bytearray(png)) == png
    with pytest.raises(TypeError):
        array_to_image(gray.astype(np.float32))
    with pytest.raises(ValueError):
        array_to_image(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(TypeError):
        image_bytes(42)  # type: ignore[arg-type]


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


def test_model_info_is_lenient() -> None:
    info = ModelInfo.from_dict(
        {"name": "m", "input": {"channels": 1, "height": 28, "width": 28}, "latent_shape": [8], "new_field": 1}
    )
    assert info.input.mode == "L" and info.latent_shape == (8,) and info.extra == {"new_field": 1}
    conv = ModelInfo.from_dict({"name": "c", "input": {"channels": 3, "height": None}, "latent_shape": [4, None, None]})
    assert not conv.input.fixed_size and conv.latent_shape == (4, None, None)


def test_the_sdk_imports_neither_service_nor_training_nor_heavy_runtimes() -> None:
    code = (
        "import sys, aecodec_sdk, aecodec_sdk.cli; "
        "bad = [m for m in ('aecodec_service', 'aecodec_training', 'torch', 'onnxruntime', 'fastapi') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
