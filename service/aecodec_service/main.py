"""Builds the FastAPI app: settings, runtime, routers, error handlers, middleware."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from .core import errors
from .core.config import Settings, get_settings
from .core.fastpath import hot_routes
from .core.metrics import GuardMiddleware, Metrics
from .core.security import bearer_security
from .deps import Service
from .routers import admin, decode, denoise, encode, health, interpolate, models, sample
from .runtime.pipeline import Pipeline
from .runtime.registry import ModelRegistry

log = logging.getLogger("aecodec.service")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics()
    inference = ThreadPoolExecutor(settings.inference_threads, thread_name_prefix="ort")
    cpu = ThreadPoolExecutor(max(2, settings.cpu_count), thread_name_prefix="cpu")
    registry = ModelRegistry(settings, inference, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(registry.reload())  # /healthz answers while models load
        loop = asyncio.get_running_loop()
        with suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread / no SIGHUP here
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(registry.reload()))
        yield
        with suppress(ValueError, RuntimeError, NotImplementedError):
            loop.remove_signal_handler(signal.SIGHUP)
        loading.cancel()
        inference.shutdown(wait=False, cancel_futures=True)
        cpu.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="aecodec",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        openapi_url=None,
        description="Autoencoder image codec: compress images into small payloads and back, denoise, sample.",
    )
    app.state.settings, app.state.registry, app.state.metrics = settings, registry, metrics
    app.state.pipeline = Pipeline(settings, cpu, in_flight=lambda: metrics.in_flight)
    app.state.service = Service(settings, registry, app.state.pipeline, metrics)
    errors.install(app)
    app.include_router(health.router)
    for r in (
        encode.router,
        decode.router,
        denoise.router,
        sample.router,
        interpolate.router,
        models.router,
        admin.router,
    ):
        app.include_router(r)  # the API key is checked by GuardMiddleware, before routing

    build_schema = app.openapi

    def schema_with_security() -> dict[str, Any]:
        return bearer_security(build_schema())  # FastAPI caches the dict, so this runs once

    app.openapi = schema_with_security  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="aecodec API")

    app.add_middleware(
        GuardMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        api_keys=settings.api_keys,
        hot=hot_routes([encode.router, decode.router, denoise.router]) if settings.fast_path else None,
    )
    return app
