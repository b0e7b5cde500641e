"""On-device, per-batch input corruptions and augmentations: no per-sample Python."""

from __future__ import annotations

import torch


def add_noise(x: torch.Tensor, sigma: float, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise per pixel (sigma on the input's own scale), clipped back into [lo, hi]."""
    noise = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    return (x + sigma * noise).clamp_(lo, hi)


def black_patches(x: torch.Tensor, count: int, size: int, fill: float, gen: torch.Generator) -> torch.Tensor:
    """Set ``count`` random size x size squares of every image to ``fill`` (black), all images at once."""
    n, _, h, w = x.shape
    size = min(size, h, w)
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    mask = torch.zeros(n, 1, h, w, dtype=torch.bool, device=x.device)
    for _ in range(count):
        top = torch.randint(0, h - size + 1, (n, 1, 1, 1), generator=gen, device=x.device)
        left = torch.randint(0, w - size + 1, (n, 1, 1, 1), generator=gen, device=x.device)
        mask |= (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return x.masked_fill(mask, fill)


def random_hflip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def random_shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Translate the whole batch by one random offset in [-pad, pad] per axis (reflect-padded crop)."""
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
    i, j = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=gen, device=x.device))
    return padded[:, :, i : i + x.shape[2], j : j + x.shape[3]]
