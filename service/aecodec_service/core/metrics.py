"""Prometheus metrics, in a registry of the app's own so that several apps (tests) never collide."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
        self.in_flight = 0  # requests being served now (kept by MetricsMiddleware, read by the pipeline)
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


class MetricsMiddleware:
    """Pure ASGI, outermost: counts every request by route, model and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, tracking_send)
        finally:
            self.metrics.in_flight -= 1
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            model = scope.get("state", {}).get("model", "")
            self.metrics.record_request(endpoint, model, str(status), time.perf_counter() - start)
