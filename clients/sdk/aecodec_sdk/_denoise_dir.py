"""The request behind ``aecodec denoise-dir``: one photograph of any size and mode through /denoise.

The folder mechanics (bounded concurrency, progress bar, atomic writes, resume by skipping finished
outputs, failures listed and turned into exit code 1) are ``_jobs.run_job``'s. Each file is sent byte for
byte and the service's PNG is written as it comes back: the service applies the camera's EXIF orientation,
and puts the input's ICC profile and alpha channel back on the cleaned image (docs/service.md), so a phone
photograph stays upright and keeps its colours and a cut-out keeps its transparency. A known noise level
(``sigma``, 0-255) is passed on; without it the model estimates it. A broken file gets the service's own
explanation in the failure list.
"""

from __future__ import annotations

from ._base import raw
from ._client import AsyncClient
from ._jobs import IMAGE_SUFFIXES, JobKind


def denoise_job(model: str | None, sigma: float | None = None) -> JobKind:
    """Each image -> a PNG of the same (upright) size and mode, profile and alpha included, under OUT_DIR."""

    async def work(client: AsyncClient, data: bytes) -> bytes:
        return await client._send(raw(client._denoise(data, model, sigma)))  # the service's PNG bytes, untouched

    return JobKind("denoise", IMAGE_SUFFIXES, ".png", work)
