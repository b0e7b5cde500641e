"""Builds the FastAPI app: settings, the service's parts, routers, error handlers, middleware."""

from __future__ import annotations

from fastapi import FastAPI

from . import openapi, routers
from .core import errors
from .core.config import Settings, get_settings
from .core.fastpath import FastPathMiddleware, hot_routes
from .core.limits import BodyLimitMiddleware
from .core.metrics import MetricsMiddleware
from .core.security import AuthMiddleware
from .lifespan import build_service, lifespan
from .routers import compare, page


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    service, shutdown = build_service(settings)
    app = FastAPI(
        title="aecodec",
        version="0.1.0",
        description="Autoencoder image codec: compress images into small payloads and back, denoise, sample.",
        lifespan=lifespan(service, shutdown),
        docs_url=None,  # served by openapi.install, behind the API key like the rest
        openapi_url=None,
    )
    app.state.service = service
    app.state.settings, app.state.registry = settings, service.registry
    app.state.pipeline, app.state.metrics = service.pipeline, service.metrics
    errors.install(app)
    for router in [*routers.ALL, compare.router, page.router]:
        app.include_router(router)
    openapi.install(app, settings)

    # pure-ASGI middleware, innermost first: each request meets metrics, then keys, then the body limit
    if settings.fast_path:
        app.add_middleware(FastPathMiddleware, hot=hot_routes(routers.HOT))
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        AuthMiddleware, api_keys=settings.api_keys, admin_keys=settings.admin_keys, admin_open=settings.admin_open
    )
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app
