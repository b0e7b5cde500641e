"""Prometheus metrics, in a registry of the app's own so that several apps (tests) never collide."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import fastpath
from .errors import ApiError, problem
from .security import OPEN_PATHS, check_key


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["endpoint", "model", "status"]
        self.requests = Counter("aecodec_requests_total", "HTTP requests", labels, registry=self.registry)
        self.latency = Histogram(
            "aecodec_request_seconds",
            "HTTP request latency",
            labels,
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.payload_bytes = Histogram(
            "aecodec_payload_bytes",
            "Size of payloads produced by /encode",
            ["model"],
            registry=self.registry,
            buckets=(32, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 262144),
        )
        self.batch_size = Histogram(
            "aecodec_batch_size",
            "Rows per onnxruntime run",
            ["model", "graph"],
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.queue_depth = Gauge(
            "aecodec_queue_depth", "Rows waiting for a batch", ["model", "graph"], registry=self.registry
        )
        self.in_flight = 0  # requests being served now (kept by GuardMiddleware, read by the pipeline)
        in_flight = Gauge("aecodec_requests_in_flight", "HTTP requests being served", registry=self.registry)
        in_flight.set_function(lambda: self.in_flight)
        # labelled children, looked up once per label set: ``labels()`` costs microseconds per call
        self._request_children: dict[tuple[str, str, str], tuple[Callable[[], None], Callable[[float], None]]] = {}
        self._payload_children: dict[str, Callable[[float], None]] = {}

    def record_request(self, endpoint: str, model: str, status: str, seconds: float) -> None:
        key = (endpoint, model, status)
        children = self._request_children.get(key)
        if children is None:
            children = self.requests.labels(*key).inc, self.latency.labels(*key).observe
            self._request_children[key] = children
        children[0]()
        children[1](seconds)

    def payload_observer(self, model: str) -> Callable[[float], None]:
        observe = self._payload_children.get(model)
        if observe is None:
            observe = self._payload_children[model] = self.payload_bytes.labels(model).observe
        return observe


class GuardMiddleware:
    """Pure ASGI: checks the API key (401), refuses bodies over the limit (413), records every request.

    One middleware instead of a dependency per route: FastAPI resolves dependencies per request,
    which cost more than the whole check; this costs one header lookup.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        api_keys: list[str],
        hot: dict[str, tuple[fastpath.APIRoute, fastpath.Endpoint]] | None = None,
    ) -> None:
        self.app = app
        self.hot = hot or {}  # POST routes served by core/fastpath.py instead of FastAPI's router
        self.metrics = metrics
        self.limit = max_body_bytes
        self.keys = [k.encode() for k in api_keys]
        self.too_large = f"request body exceeds the limit of {max_body_bytes} bytes; send fewer or smaller images"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        too_large = self.too_large
        headers = dict(scope["headers"])
        if self.keys and scope["path"] not in OPEN_PATHS:
            refused = check_key(headers.get(b"authorization"), self.keys)
            if refused is not None:
                await problem(refused.status, refused.detail, refused.kind, refused.headers)(scope, receive, send)
                self._record(scope, 401, start)
                return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await problem(413, too_large, "body-too-large")(scope, receive, send)
            self._record(scope, 413, start)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, too_large, kind="body-too-large")
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        # with a Content-Length the server never hands over more than it (checked above): no need to count
        checked_receive = receive if length is not None and length.isdigit() else limited_receive
        self.metrics.in_flight += 1
        hot = self.hot.get(scope["path"]) if scope["method"] == "POST" else None
        try:
            if hot is not None:
                await fastpath.serve(*hot, scope, checked_receive, tracking_send)
            else:
                await self.app(scope, checked_receive, tracking_send)
        finally:
            self.metrics.in_flight -= 1
            self._record(scope, status[0], start)

    def _record(self, scope: Scope, status: int, start: float) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "unmatched"
        model = scope.get("state", {}).get("model", "")
        self.metrics.record_request(endpoint, model, str(status), time.perf_counter() - start)
