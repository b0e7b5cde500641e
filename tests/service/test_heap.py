"""After a (re)load, what the service holds is out of the cyclic collector's reach (a full collection of it
stalled every request on the event loop), and what a reload drops is still freed."""

from __future__ import annotations

import asyncio
import gc
import shutil
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aecodec_service.core.config import Settings
from aecodec_service.runtime.registry import ModelRegistry

from .fakes import build


def test_loaded_models_are_frozen_and_a_dropped_model_is_freed(tmp_path: Path) -> None:
    build(tmp_path, "kept", "autoencoder")
    build(tmp_path, "dropped", "conv", seed=3)
    with ThreadPoolExecutor(1) as pool:
        registry = ModelRegistry(Settings(model_dir=tmp_path, providers=["CPUExecutionProvider"]), pool)
        try:
            asyncio.run(registry.reload())
            assert set(registry.models) == {"kept", "dropped"}
            assert gc.get_freeze_count() > 1000  # the app's long-lived objects: skipped by every collection
            dropped = weakref.ref(registry.models["dropped"])
            shutil.rmtree(tmp_path / "dropped")
            asyncio.run(registry.reload())
            assert set(registry.models) == {"kept"}
            assert dropped() is None  # unfrozen before the reload's collection: nothing the service dropped leaks
        finally:
            gc.unfreeze()
