"""``aecodec-train codec`` (compress your own kind of images in one command) and ``aecodec-train zoo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import command_line
from .app import app, console

Opt = typer.Option


@app.command()
def codec(
    data_dir: Annotated[Path, Opt(help="a folder of PNG/JPEG/WebP images (recursive), an .npz, or IDX files")],
    name: Annotated[str, Opt(help="model name prefix: the levels are NAME-q1 (lowest rate) .. NAME-qK")],
    publish: Annotated[Path, Opt(help="model folder a service serves (AECODEC_MODEL_DIR); levels land here")],
    levels: Annotated[int, Opt(help="quality levels to train")] = 3,
    minutes: Annotated[float, Opt(help="wall-clock training budget for all levels together")] = 20.0,
    size: Annotated[
        str, Opt(help="auto (fixed when all images share one size, else any) | any | HxW (resize to it)")
    ] = "auto",
    run_dir: Annotated[
        Path | None, Opt(help="checkpoints, exported levels and the report (default runs/codec-NAME); resumable")
    ] = None,
    threads: Annotated[int, Opt(help="torch CPU threads (0: torch's default)")] = 0,
    seed: Annotated[int, Opt(help="seed for the split, weights and shuffling")] = 0,
    device: Annotated[str, Opt(help="auto (CUDA when present) | cpu | cuda | cuda:N")] = "auto",
    progress: Annotated[bool, Opt(help="show a progress bar")] = True,
) -> None:
    """Train, check, measure (against JPEG and WebP at equal bytes) and publish codec levels for your images.

    Reload a running service afterwards (POST /admin/reload, or kill -HUP) to serve them.
    """
    from ..custom_codec import train_codec

    train_codec(
        data_dir,
        name,
        publish,
        run_dir or Path("runs") / f"codec-{name}",
        levels=levels,
        minutes=minutes,
        size=size,
        threads=threads,
        seed=seed,
        device=device,
        progress=progress,
        command=command_line(),
        log=lambda line: console.print(line, soft_wrap=True, highlight=False, markup=False),
    )


@app.command()
def zoo() -> None:
    """Every shipped model's recipe: the commands that reproduce it (codecs: lambda and wire id too)."""
    from ..zoo import LEVELS, commands

    for level in LEVELS.values():
        shipped = "" if level.shipped else "  (not shipped yet)"
        codec = f"  wire id {level.wire_id}  lambda {level.lam:g}" if level.lam is not None else ""
        console.print(f"[bold]{level.name}[/bold]  {level.model}{codec}  {level.dataset}{shipped}")
        for line in commands(level):
            console.print(f"  {line}", soft_wrap=True, highlight=False)
