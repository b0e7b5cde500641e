"""The ``aecodec`` command: one file or a whole folder tree through the service.

Every command but ``inspect`` talks to the service at ``--url`` ($AECODEC_URL), with ``--api-key``
($AECODEC_API_KEY) when the service has keys. Exit codes: 0 done, 1 a request or file failed,
2 bad usage.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from . import _denoise_dir, _jobs
from ._base import DEFAULT_URL
from ._client import AsyncClient, Client
from ._images import grid, image_to_png, save_image
from .exceptions import AecodecError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Client for the aecodec image codec service.")
out = Console()
err = Console(stderr=True)

Model = Annotated[str | None, typer.Option("--model", "-m", help="Model name (default: the service's).")]
Bits = Annotated[int | None, typer.Option("--bits", "-b", help="Quantisation bits (default: the model's).")]
Quality = Annotated[
    float | None,
    typer.Option("--quality", min=1, help="Variable-rate models: quality 1..K (default: the middle preset)."),
]
MaxBytes = Annotated[
    int | None,
    typer.Option("--max-bytes", min=1, help="Variable-rate models: the best payload of at most this many bytes."),
]
InPath = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]
InDir = Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder read recursively.")]
OutDir = Annotated[Path, typer.Argument(file_okay=False, help="Folder mirroring IN_DIR's structure.")]
Concurrency = Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Requests in flight at once.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(envvar="AECODEC_URL", help="Service base URL.")] = DEFAULT_URL,
    api_key: Annotated[
        str | None, typer.Option(envvar="AECODEC_API_KEY", help="Bearer key.", show_default=False)
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 60.0,
    retries: Annotated[int, typer.Option(help="Retries on connection errors and 503.")] = 3,
) -> None:
    ctx.obj = {"base_url": url, "api_key": api_key or None, "timeout": timeout, "retries": retries}


def _client(ctx: typer.Context) -> Client:
    return Client(**ctx.obj)


def _fail(error: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {error}", highlight=False)
    return typer.Exit(1)


def _write(path: Path, data: bytes) -> None:
    _jobs.atomic_write(path, data)
    err.print(f"wrote {path} ({len(data)} bytes)", highlight=False)


@app.command()
def encode(
    ctx: typer.Context,
    src: InPath,
    dst: Path,
    model: Model = None,
    bits: Bits = None,
    quality: Quality = None,
    max_bytes: MaxBytes = None,
) -> None:
    """Compress one image into a payload file."""
    try:
        with _client(ctx) as client:
            _write(dst, client.encode(src, model=model, bits=bits, quality=quality, max_bytes=max_bytes))
    except (AecodecError, OSError) as error:
        raise _fail(error) from error


@app.command()
def decode(ctx: typer.Context, src: InPath, dst: Path) -> None:
    """Decode one payload file into an image (format from DST's suffix)."""
    try:
        with _client(ctx) as client:
            image = client.decode(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        save_image(image, dst)
        err.print(f"wrote {dst} ({image.width}x{image.height} {image.mode})", highlight=False)
    except (AecodecError, OSError, ValueError) as error:
        raise _fail(error) from error


@app.command()
def inspect(payload: InPath, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Read a payload's header offline: model, version, latent shape, bits, sizes."""
    from aecodec_wire import PayloadError
    from aecodec_wire import inspect as read_header

    try:
        info = read_header(payload.read_bytes())
    except PayloadError as error:
        raise _fail(error) from error
    fields: dict[str, Any] = {**asdict(info), "header_bytes": info.header_bytes}
    if as_json:
        out.print_json(json.dumps(fields))
        return
    table = Table(show_header=False, box=None)
    for key, value in fields.items():
        if key in ("width", "height") and value == 0:
            value = "native (the model's input size)"
        table.add_row(key, "x".join(map(str, value)) if isinstance(value, tuple) else str(value))
    out.print(table)


@app.command()
def sample(
    ctx: typer.Context,
    dst: Annotated[Path, typer.Argument(help="A .png/.webp/.jpg grid, or a folder for one file per image.")],
    n: Annotated[int, typer.Option("-n", min=1, help="How many images.")] = 16,
    seed: Annotated[int | None, typer.Option("--seed", "-s")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", "-t")] = None,
    model: Model = None,
) -> None:
    """Draw new images from a VAE."""
    try:
        with _client(ctx) as client:
            images = client.sample(n, model=model, seed=seed, temperature=temperature)
        if dst.suffix.lower() in _jobs.IMAGE_SUFFIXES:
            dst.parent.mkdir(parents=True, exist_ok=True)
            grid(images).save(dst)
            err.print(f"wrote {dst} ({len(images)} images)", highlight=False)
            return
        for i, image in enumerate(images):
            _jobs.atomic_write(dst / f"sample-{i:03d}.png", image_to_png(image))
        err.print(f"wrote {len(images)} images to {dst}/", highlight=False)
    except (AecodecError, OSError) as error:
        raise _fail(error) from error


@app.command()
def models(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the models the service has loaded."""
    try:
        with _client(ctx) as client:
            entries = client.models()
    except AecodecError as error:
        raise _fail(error) from error
    if as_json:
        out.print_json(json.dumps([asdict(m) for m in entries]))
        return
    table = Table("name", "kind", "dataset", "input", "latent", "version", "endpoints")
    for m in entries:
        shape = f"{m.input.channels}x{m.input.height or 'H'}x{m.input.width or 'W'}"
        latent = "x".join("*" if d is None else str(d) for d in m.latent_shape)
        table.add_row(m.name, m.kind, m.dataset, shape, latent, m.version[:8], ",".join(m.endpoints))
    out.print(table)


def _run_dir(ctx: typer.Context, kind: _jobs.JobKind, src: Path, dst: Path, concurrency: int, quiet: bool) -> None:
    async def go() -> _jobs.Summary:
        async with AsyncClient(max_connections=concurrency, **ctx.obj) as client:
            return await _jobs.run_job(kind, src, dst, client, concurrency=concurrency, show_progress=not quiet)

    summary = asyncio.run(go())
    out.print(
        f"{kind.name}: {summary.total} files, {summary.done} done, {summary.skipped} skipped "
        f"(already done), {len(summary.failed)} failed",
        highlight=False,
    )
    if summary.failed:
        table = Table("failed file", "why", title="Failures", title_justify="left")
        for path, why in summary.failed:
            table.add_row(str(path), why)
        out.print(table)
        raise typer.Exit(1)


@app.command("denoise-dir")
def denoise_dir(
    ctx: typer.Context,
    src: InDir,
    dst: OutDir,
    model: Model = None,
    sigma: Annotated[
        float | None, typer.Option("--sigma", min=0, max=255, help="Known noise level on 0-255 (default: blind).")
    ] = None,
    concurrency: Concurrency = 8,
    quiet: Quiet = False,
) -> None:
    """Denoise every image under SRC into PNGs under DST (same size and mode); rerun to resume."""
    _run_dir(ctx, _denoise_dir.denoise_job(model, sigma), src, dst, concurrency, quiet)


@app.command("encode-dir")
def encode_dir(
    ctx: typer.Context,
    src: InDir,
    dst: OutDir,
    model: Model = None,
    bits: Bits = None,
    quality: Quality = None,
    max_bytes: MaxBytes = None,
    concurrency: Concurrency = 8,
    quiet: Quiet = False,
) -> None:
    """Encode every image under SRC into .aec payloads under DST; rerun to resume."""
    _run_dir(ctx, _jobs.encode_job(model, bits, quality, max_bytes), src, dst, concurrency, quiet)


@app.command("decode-dir")
def decode_dir(ctx: typer.Context, src: InDir, dst: OutDir, concurrency: Concurrency = 8, quiet: Quiet = False) -> None:
    """Decode every .aec payload under SRC into PNGs under DST; rerun to resume."""
    _run_dir(ctx, _jobs.decode_job(), src, dst, concurrency, quiet)


if __name__ == "__main__":  # pragma: no cover
    app()
