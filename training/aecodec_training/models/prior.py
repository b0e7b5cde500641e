"""A factorised (per-channel, i.i.d. over positions) prior: a mixture of K logistics per latent channel.

Why a logistic mixture: its CDF is closed-form (sigmoid), so the probability of an integer bin is an exact
difference of two CDFs, both in training (rate term) and when freezing integer tables for the range coder.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

LIKELIHOOD_FLOOR = 1e-9  # keeps log2 finite for values far in the tails
TABLE_PRECISION = 16  # integer tables sum to about 2**16 per channel
TAIL_MASS = 1e-7  # probability left outside [min_c, max_c] before the tails are folded into the end bins
MAX_SYMBOLS = 256  # cap on the alphabet: symbols beyond are clamped at encode time


class FactorizedPrior(nn.Module):
    """p(y_c) = sum_k w_ck Logistic(mu_ck, s_ck), convolved with U(-1/2, 1/2) to give bin probabilities."""

    def __init__(self, channels: int, mixtures: int = 3) -> None:
        super().__init__()
        spread = torch.linspace(-1.0, 1.0, mixtures).repeat(channels, 1)  # (C, K)
        self.means = nn.Parameter(spread.clone())
        self.log_scales = nn.Parameter(torch.zeros(channels, mixtures))
        self.logits = nn.Parameter(torch.zeros(channels, mixtures))

    @property
    def channels(self) -> int:
        return int(self.means.shape[0])

    def cdf(self, v: torch.Tensor) -> torch.Tensor:
        """Mixture CDF at v (N, C, *spatial) -> same shape."""
        flat = v.reshape(v.shape[0], self.channels, -1, 1)  # (N, C, P, 1)
        mu = self.means[None, :, None, :]  # (1, C, 1, K)
        inv_s = torch.exp(-self.log_scales)[None, :, None, :]
        w = torch.softmax(self.logits, dim=-1)[None, :, None, :]
        out = (w * torch.sigmoid((flat - mu) * inv_s)).sum(-1)  # (N, C, P)
        return out.reshape(v.shape)

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """P(bin of width 1 centred at y) for each value; y (N, C, *spatial)."""
        p = self.cdf(y + 0.5) - self.cdf(y - 0.5)
        return p.clamp_min(LIKELIHOOD_FLOOR)

    def offsets(self) -> torch.Tensor:
        """Per-channel quantisation offset (the mixture mean): y_hat = round(y - m) + m. (C,)"""
        w = torch.softmax(self.logits, dim=-1)
        return (w * self.means).sum(-1)

    @torch.no_grad()
    def integer_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Freeze the prior: (offsets (C,) float64, minima (C,) int, counts (C, K) positive int64).

        Channel c codes symbols s = round(y - m_c) - min_c in [0, K); each count is the bin's probability
        times 2**TABLE_PRECISION (tails folded into the first and last bins), at least 1.
        """
        prior = copy.deepcopy(self).double()  # float64 throughout: float32 sigmoids cannot resolve the tails
        m = prior.offsets()
        grid = torch.arange(-512, 513, dtype=torch.float64)  # candidate integer symbols
        cdf = prior.cdf((grid[None, :] + m[:, None])[None] - 0.5)[0]  # (C, G): P(y < s + m - 1/2)
        lows, highs = [], []
        for c in range(self.channels):
            inside = ((cdf[c] > TAIL_MASS / 2) & (cdf[c] < 1 - TAIL_MASS / 2)).nonzero()
            lo = int(grid[inside.min()]) - 1 if len(inside) else 0
            hi = int(grid[inside.max()]) if len(inside) else 0
            lows.append(lo)
            highs.append(hi)
        width = min(MAX_SYMBOLS, max(h - lo + 1 for lo, h in zip(lows, highs, strict=True)))
        # a channel wider than the cap keeps its central symbols; narrower ones get a few near-zero bins above
        minima = np.array(
            [lo if h - lo + 1 <= width else (lo + h) // 2 - width // 2 for lo, h in zip(lows, highs, strict=True)],
            dtype=np.int64,
        )
        sym = torch.from_numpy(minima)[:, None].double() + torch.arange(width, dtype=torch.float64)[None]  # (C, K)
        edges = sym + m[:, None]
        upper = prior.cdf(edges[None] + 0.5)[0]
        lower = prior.cdf(edges[None] - 0.5)[0]
        upper[:, -1] = 1.0  # fold the tails into the end bins
        lower[:, 0] = 0.0
        probs = (upper - lower).clamp_min(0.0).numpy()
        counts = np.maximum(1, np.round(probs * (1 << TABLE_PRECISION))).astype(np.int64)
        return m.numpy(), minima, counts

    def table_bits(self, offsets: np.ndarray, minima: np.ndarray, counts: np.ndarray) -> torch.Tensor:
        """Bits per symbol of frozen integer tables' distribution (``integer_tables``'s output, the counts'
        floor of one count per bin taken off) under this prior's bins, tails folded as the tables fold
        them: differentiable, so a prior can be fitted to tables (``from_onnx.fit_prior_to_tables``)."""
        target = self._table_distribution(counts)
        edges = self._table_edges(offsets, minima, counts.shape[1])
        upper, lower = self.cdf(edges[None] + 0.5)[0], self.cdf(edges[None] - 0.5)[0]
        upper = torch.cat([upper[:, :-1], torch.ones_like(upper[:, -1:])], 1)
        lower = torch.cat([torch.zeros_like(lower[:, :1]), lower[:, 1:]], 1)
        return -(target * (upper - lower).clamp_min(LIKELIHOOD_FLOOR).log2()).sum(1).mean()

    @torch.no_grad()
    def start_at_tables(self, offsets: np.ndarray, minima: np.ndarray, counts: np.ndarray) -> None:
        """Spread each channel's mixture around its table's mean and standard deviation: where a fit starts."""
        target = self._table_distribution(counts)
        edges = self._table_edges(offsets, minima, counts.shape[1])
        mean = (target * edges).sum(1)
        spread = ((target * (edges - mean[:, None]) ** 2).sum(1) + 1 / 12).sqrt()
        self.means.copy_(mean[:, None] + spread[:, None] * torch.linspace(-0.5, 0.5, self.means.shape[1]))
        self.log_scales.copy_((0.55 * spread).log()[:, None].expand_as(self.log_scales))

    def _table_distribution(self, counts: np.ndarray) -> torch.Tensor:
        seen = torch.from_numpy(np.maximum(np.asarray(counts, dtype=np.float64) - 1, 0))
        return (seen / seen.sum(1, keepdim=True)).to(self.means.dtype)

    def _table_edges(self, offsets: np.ndarray, minima: np.ndarray, width: int) -> torch.Tensor:
        """The values the tables' symbols stand for (symbol + offset, as ``integer_tables`` makes them)."""
        sym = torch.from_numpy(np.asarray(minima, dtype=np.float64))[:, None] + torch.arange(width)
        return (sym + torch.from_numpy(np.asarray(offsets, dtype=np.float64))[:, None]).to(self.means.dtype)
