"""Printing helpers: the Keras-style model summary and metric tables."""

from __future__ import annotations

import torch
from rich.console import Console
from rich.table import Table

from ..models import Autoencoder, param_count, summarize


def print_summary(console: Console, model: Autoencoder) -> None:
    c, h, w = model.image_shape
    side = max(32, model.pad_multiple)  # an any-size model's example: the smallest size it codes
    example = torch.zeros(1, c, h or side, w or side)
    table = Table(title=f"Model: {model.name} ({model.kind})", show_lines=False)
    table.add_column("Layer")
    table.add_column("Type")
    table.add_column("Output shape")
    table.add_column("Param #", justify="right")
    for name, kind, shape, params in summarize(model, example):
        table.add_row(name, kind, shape, f"{params:,}")
    console.print(table)
    console.print(f"Total params: {param_count(model):,}   input {tuple(example.shape)}  latent {model.latent_shape}")


def print_metrics(console: Console, title: str, metrics: dict[str, float]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        table.add_row(k, f"{v:.6g}")
    console.print(table)
