"""Folder jobs behind ``aecodec denoise-dir / encode-dir / decode-dir``.

A job maps every matching file under IN_DIR to a file at the same relative place under OUT_DIR.
Outputs are written atomically (temp file in the same folder, fsync, rename), so an output that
exists is complete: a rerun skips it, and a killed run leaves no half-written file behind.
One file failing is recorded and the others go on; the caller turns failures into an exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ._base import raw
from ._client import AsyncClient

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
PAYLOAD_SUFFIX = ".aec"

# umask read once at import (reading it means setting it), so outputs get the usual permissions
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either absent or complete, never partial."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # persist the rename; not possible on Windows
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


Work = Callable[[AsyncClient, bytes], Awaitable[bytes]]


@dataclass(frozen=True)
class JobKind:
    """Which inputs a job takes, what it names its outputs, and the request per file."""

    name: str
    suffixes: frozenset[str]
    out_suffix: str
    work: Work


@dataclass
class Summary:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def encode_job(
    model: str | None, bits: int | None, quality: float | None = None, max_bytes: int | None = None
) -> JobKind:
    async def work(client: AsyncClient, data: bytes) -> bytes:
        return await client.encode(data, model=model, bits=bits, quality=quality, max_bytes=max_bytes)

    return JobKind("encode", IMAGE_SUFFIXES, PAYLOAD_SUFFIX, work)


def decode_job() -> JobKind:
    async def work(client: AsyncClient, data: bytes) -> bytes:
        return await client._send(raw(client._decode(data)))

    return JobKind("decode", frozenset({PAYLOAD_SUFFIX}), ".png", work)


def plan(kind: JobKind, in_dir: Path, out_dir: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs, mirrored, sorted; hidden files and anything under OUT_DIR are left out."""
    in_dir, out_dir = in_dir.resolve(), out_dir.resolve()
    pairs = []
    for src in sorted(in_dir.rglob("*")):
        rel = src.relative_to(in_dir)
        if src.suffix.lower() not in kind.suffixes or any(p.startswith(".") for p in rel.parts):
            continue
        if src.is_relative_to(out_dir) or not src.is_file():
            continue
        pairs.append((src, out_dir / rel.with_suffix(kind.out_suffix)))
    return pairs


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__


async def run_job(
    kind: JobKind,
    in_dir: Path,
    out_dir: Path,
    client: AsyncClient,
    *,
    concurrency: int = 8,
    show_progress: bool = True,
) -> Summary:
    """Process every pending file with at most ``concurrency`` requests in flight."""
    pairs = plan(kind, in_dir, out_dir)
    summary = Summary(total=len(pairs))
    todo = [(src, dst) for src, dst in pairs if not dst.exists()]
    summary.skipped = len(pairs) - len(todo)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task(f"{kind.name} {in_dir}", total=len(todo))
        pending = iter(todo)  # shared by the workers: each takes the next file when it is free

        async def worker() -> None:
            for src, dst in pending:
                try:
                    data = await asyncio.to_thread(src.read_bytes)
                    result = await kind.work(client, data)
                    await asyncio.to_thread(atomic_write, dst, result)
                    summary.done += 1
                except Exception as error:  # one file's failure must not stop the others
                    summary.failed.append((src.relative_to(in_dir.resolve()), _describe(error)))
                progress.advance(task)

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    summary.failed.sort()
    return summary
