"""A Keras-style model summary: each leaf layer, its output shape and parameter count."""

from __future__ import annotations

import torch
from torch import nn

from .base import Autoencoder


def summarize(model: Autoencoder, example: torch.Tensor) -> list[tuple[str, str, str, int]]:
    """Rows of (name, layer type, output shape, params) from one forward pass on ``example``."""
    rows: list[tuple[str, str, str, int]] = []
    hooks = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None or module is model:
            continue

        def hook(mod: nn.Module, _inp: object, out: object, name: str = name) -> None:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else "-"
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            rows.append((name, type(mod).__name__, str(shape), params))

        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
    return rows


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
