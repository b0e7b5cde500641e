"""The service's settings: one pydantic-settings class, read from ``AECODEC_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
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
    # two threads per run (0 = one per core): a lone photograph's graphs use both cores of a 2-core box, and
    # loaded, photographs and digits alike served as many requests as with one (benchmarks/intra_op_threads.py)
    intra_op_threads: int = Field(default=2, ge=0)
    inter_op_threads: int = Field(default=1, ge=0)
    graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    inference_threads: int = Field(default=2, ge=1)  # worker threads running sessions (one graph each at a time)

    # micro-batching
    max_batch: int = Field(default=64, ge=1)  # rows per onnxruntime run
    max_wait_ms: float = Field(default=1.0, ge=0)  # extra wait to fill a batch, only while under load
    queue_size: int = Field(default=1024, ge=1)  # pending rows per model graph; beyond it: 503
    # a run predicted (from the graph's measured speed) to take at most this long, for a graph with nothing
    # queued or running, runs on the event loop: no thread hop, no queue; 0 = always through the batcher
    inline_run_us: float = Field(default=0.0, ge=0)
    request_timeout_s: float = Field(default=30.0, gt=0)

    # limits on requests
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=4096 * 4096, ge=1)
    max_sample_n: int = Field(default=64, ge=1)
    max_steps: int = Field(default=64, ge=2)
    max_batch_items: int = Field(default=256, ge=1)
    max_compare_pixels: int = Field(default=2048 * 2048, ge=1)  # POST /compare encodes the image ~20 times
    inline_bytes: int = Field(
        default=4096, ge=0
    )  # smaller image work runs on the event loop (cheaper than a thread hop)
    # serve POST /encode, /decode, /denoise without FastAPI's per-request routing and dependency machinery
    fast_path: bool = True
    pad_mode: Literal["edge", "reflect", "symmetric"] = "edge"

    # connections (uvicorn): header size, header/body/idle deadlines; see core/server.py
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)  # request line + headers; beyond it: 431
    header_timeout_s: float = Field(default=10.0, gt=0)  # from the first byte to the end of the headers: else 408
    body_timeout_s: float = Field(default=60.0, gt=0)  # from the end of the headers to the end of the body: else 408
    keep_alive_s: int = Field(default=5, ge=1)  # an idle keep-alive connection is closed after this

    # security: when non-empty, every endpoint but /healthz and /readyz needs "Authorization: Bearer KEY"
    api_keys: CommaList = []
    # /admin/*: needs one of these keys; with none, admin is off (403) unless admin_open (local development)
    admin_keys: CommaList = []
    admin_open: bool = False
    # > 0: every replica checks the model folder this often and reloads when a file changed (0: SIGHUP or
    # POST /admin/reload only)
    reload_poll_s: float = Field(default=0.0, ge=0)

    # defaults when ?model= is omitted (None: the first loaded model of the right kind)
    default_model: str = "mnist-ae"  # /encode of a 28x28 grey image
    # /encode of any other image (if served; else the first any-size codec)
    default_photo_model: str | None = "photo-codec-vr-q5"
    default_denoise_model: str | None = "denoise-any"  # the any-size denoiser (mnist-denoise: digits only)
    default_vae_model: str | None = None

    @field_validator("providers", "api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """'a, b' -> ['a', 'b']; a list that is not blank but names nothing (' , ') is an error, not 'no keys'."""
        parts = value.split(",") if isinstance(value, str) else value
        if not isinstance(parts, list):
            return value
        kept = [p.strip() for p in parts if isinstance(p, str) and p.strip()]
        if not kept and (value != "" and value != []):
            raise ValueError("the list holds only blanks and commas; leave it empty or unset to mean none")
        return kept

    @model_validator(mode="after")
    def _admin_is_keyed_or_open(self) -> Settings:
        if self.admin_keys and self.admin_open:
            raise ValueError("set AECODEC_ADMIN_KEYS or AECODEC_ADMIN_OPEN=true, not both")
        return self

    @property
    def cpu_count(self) -> int:
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
