"""The service's settings: one pydantic-settings class, read from ``AECODEC_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


def default_model_dir() -> Path:
    """``models`` under the working directory when present, else the repository's ``models`` folder."""
    local = Path("models")
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[3] / "models"


class Settings(BaseSettings):
    """Every knob of the service; each field is ``AECODEC_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="AECODEC_", env_file=None, extra="ignore")

    model_dir: Path = Field(default_factory=default_model_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    # onnxruntime: providers in order of preference; those not available here are skipped
    providers: CommaList = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    # the shipped models are tiny: one intra-op thread per run (no spinning pool competing with the event loop);
    # raise it (0 = one per core) for big convolutional models on many cores
    intra_op_threads: int = Field(default=1, ge=0)
    inter_op_threads: int = Field(default=1, ge=0)
    graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    inference_threads: int = Field(default=2, ge=1)  # worker threads running sessions (one graph each at a time)

    # micro-batching
    max_batch: int = Field(default=64, ge=1)  # rows per onnxruntime run
    max_wait_ms: float = Field(default=1.0, ge=0)  # extra wait to fill a batch, only while under load
    queue_size: int = Field(default=1024, ge=1)  # pending rows per model graph; beyond it: 503
    # a run predicted (from the graph's measured speed) to take at most this long, for a graph with nothing
    # queued or running, runs on the event loop: no thread hop, no queue; 0 = always through the batcher
    inline_run_us: float = Field(default=150.0, ge=0)
    request_timeout_s: float = Field(default=30.0, gt=0)

    # limits on requests
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=4096 * 4096, ge=1)
    max_sample_n: int = Field(default=64, ge=1)
    max_steps: int = Field(default=64, ge=2)
    max_batch_items: int = Field(default=256, ge=1)
    inline_bytes: int = Field(
        default=4096, ge=0
    )  # smaller image work runs on the event loop (cheaper than a thread hop)
    # serve POST /encode, /decode, /denoise without FastAPI's per-request routing and dependency machinery
    fast_path: bool = True
    pad_mode: Literal["edge", "reflect", "symmetric"] = "edge"

    # security: when non-empty, every endpoint but /healthz and /readyz needs "Authorization: Bearer KEY"
    api_keys: CommaList = []

    # defaults when ?model= is omitted (None: the first loaded model of the right kind)
    default_model: str = "mnist-ae"
    default_denoise_model: str | None = None
    default_vae_model: str | None = None

    @field_validator("providers", "api_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def cpu_count(self) -> int:
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
