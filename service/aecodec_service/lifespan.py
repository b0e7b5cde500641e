"""What the app holds for its lifetime: thread pools, the model registry, the pipeline; and its start and stop.

At start the models load in the background (/healthz answers meanwhile, /readyz says when they
are in). A reload is asked for by SIGHUP, by ``POST /admin/reload``, or, with
``AECODEC_RELOAD_POLL_S`` > 0, by each replica itself when a file under the model folder changed:
behind a load balancer a request reaches one replica, a signal or a poll reaches them all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI

from .core.config import Settings
from .core.metrics import Metrics
from .deps import Service
from .runtime.pipeline import Pipeline
from .runtime.registry import ModelRegistry

log = logging.getLogger("aecodec.service")


def build_service(settings: Settings) -> tuple[Service, Callable[[], None]]:
    """The service's parts, and the function that shuts its thread pools down."""
    metrics = Metrics()
    inference = ThreadPoolExecutor(settings.inference_threads, thread_name_prefix="ort")
    cpu = ThreadPoolExecutor(max(2, settings.cpu_count), thread_name_prefix="cpu")
    registry = ModelRegistry(settings, inference, metrics)
    pipeline = Pipeline(settings, cpu, in_flight=lambda: metrics.in_flight)

    def shutdown() -> None:
        inference.shutdown(wait=False, cancel_futures=True)
        cpu.shutdown(wait=False, cancel_futures=True)

    return Service(settings, registry, pipeline, metrics), shutdown


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and mtime of every file one level under each model folder: cheap to take, changes on a copy."""
    seen = []
    with suppress(OSError):
        for folder in os.scandir(root):
            if folder.is_dir():
                with suppress(OSError):
                    for entry in os.scandir(folder.path):
                        st = entry.stat()
                        seen.append((f"{folder.name}/{entry.name}", st.st_size, st.st_mtime_ns))
    return tuple(sorted(seen))


async def _poll(registry: ModelRegistry, root: Path, every_s: float) -> None:
    """Reload when the folder changed and then stayed the same for one interval (not halfway through a copy)."""
    loop = asyncio.get_running_loop()
    loaded = seen = await loop.run_in_executor(None, fingerprint, root)
    while True:
        await asyncio.sleep(every_s)
        now = await loop.run_in_executor(None, fingerprint, root)
        if now != loaded and now == seen:
            loaded = now
            report = await registry.reload()
            log.info("model folder changed: loaded %s, removed %s", report.loaded or "none", report.removed or "none")
        seen = now


def lifespan(service: Service, shutdown: Callable[[], None]) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        registry = service.registry
        # the models load in the background: /healthz answers meanwhile
        tasks: list[asyncio.Task[object]] = [asyncio.create_task(registry.reload())]
        if service.settings.reload_poll_s > 0:
            tasks.append(
                asyncio.create_task(_poll(registry, service.settings.model_dir, service.settings.reload_poll_s))
            )
        loop = asyncio.get_running_loop()
        with suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread / no SIGHUP here
            loop.add_signal_handler(signal.SIGHUP, lambda: tasks.append(loop.create_task(registry.reload())))
        yield
        with suppress(ValueError, RuntimeError, NotImplementedError):
            loop.remove_signal_handler(signal.SIGHUP)
        for task in tasks:
            task.cancel()
        shutdown()

    return run
