"""The variable-rate photo codec: one mean-scale hyperprior whose rate is chosen per image by gain vectors.

Cui et al. 2021 ("Asymmetric gained deep image compression with continuous rate adaptation"): a quality
``q`` in [0, K-1] picks per-channel gains for the latent y and the side latent z, interpolated geometrically
between the K trained levels, so one set of transforms serves every rate:

    y = g_a(x)                      z = h_a(y)
    y_q = y * g_y(q)                z_q = z * g_z(q)           quantised and coded, as in the hyperprior
    (mu, sigma) = h_s(z_hat_q / g_z(q)) * g_y(q)               a Gaussian scaled by g is the Gaussian of y * g
    x_hat = g_s(y_hat_q / g_y(q))

Training draws one quality per image, uniformly over [0, K-1], and weighs its distortion by lambda(q),
interpolated geometrically between ``LAMBDAS`` (CompressAI's MSE lambdas, extended down for 0.1 bpp and up
for 1 bpp).
The gains start at sqrt(lambda) (the quantiser step of a high-rate optimum scales as lambda^-1/2).

The transforms run in bfloat16 under autocast where the trainer asks for it; the quantisation, the rates and
the gains are computed in float32 (bfloat16 keeps 8 bits of mantissa: rounding a latent near 40 would be off by
a quarter).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from aecodec_wire.manifest import VariableRate
from torch import nn

from .base import Graph
from .hyperprior import SCALE_MIN, HyperpriorCodec, HyperpriorConfig
from .widen import widen

LAMBDAS = (0.0005, 0.0009, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.16)


@dataclass(frozen=True)
class GainedConfig(HyperpriorConfig):
    """The hyperprior's architecture plus the trained levels' lambdas (one gain vector each)."""

    hidden: int = 128
    latent: int = 192
    side: int = 128
    lambdas: tuple[float, ...] = LAMBDAS


def _gains_at(log_lams: torch.Tensor, log_gains: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """Log-gains (K, C) trained at ``log_lams`` (K,), read at other log lambdas ``at`` (L,): piecewise linear
    in log lambda inside, and beyond the ends a slope of 1/2 (the quantiser step of a high-rate optimum goes
    as lambda^-1/2) -> (L, C)."""
    out = []
    for v in at.tolist():
        if v <= log_lams[0]:
            out.append(log_gains[0] + 0.5 * (v - log_lams[0]))
        elif v >= log_lams[-1]:
            out.append(log_gains[-1] + 0.5 * (v - log_lams[-1]))
        else:
            k = int(torch.searchsorted(log_lams, torch.tensor(v)).item())
            t = (v - log_lams[k - 1]) / (log_lams[k] - log_lams[k - 1])
            out.append(log_gains[k - 1] * (1 - t) + log_gains[k] * t)
    return torch.stack(out)


def interpolate(table: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` (K, C) at fractional indices ``q`` (B,), linearly between neighbours -> (B, C)."""
    k = table.shape[0]
    q = q.clamp(0, k - 1)
    lo = q.floor().clamp(max=k - 2).long()
    t = (q - lo).unsqueeze(1)
    return table[lo] * (1 - t) + table[lo + 1] * t


class Hard(NamedTuple):
    """A hard-rounded pass at some qualities, in the gained domain (what the coder codes) and its gains."""

    z_hat_q: torch.Tensor  # round(z * g_z - m) + m
    y_hat_q: torch.Tensor  # round(y * g_y - mu) + mu
    mu: torch.Tensor  # means and scales of y * g_y
    sigma: torch.Tensor
    g_y: torch.Tensor  # (B, M, 1, 1)
    g_z: torch.Tensor  # (B, Z, 1, 1)


class GainedHyperpriorCodec(HyperpriorCodec):
    """A ``HyperpriorCodec`` with K gain vectors on y and on z: every rate from one set of transforms."""

    log_lambdas: torch.Tensor

    def __init__(self, config: GainedConfig) -> None:
        super().__init__(config)
        log_lam = torch.tensor([math.log(v) for v in config.lambdas])
        start = 0.5 * (log_lam - log_lam.mean())  # gains ~ sqrt(lambda), geometric mean 1
        self.log_gain_y = nn.Parameter(start[:, None].repeat(1, config.latent))
        self.log_gain_z = nn.Parameter(start[:, None].repeat(1, config.side))
        self.register_buffer("log_lambdas", log_lam, persistent=False)

    def grow_from(self, trained: HyperpriorCodec, lam: float | None) -> None:
        """Start from a trained codec. A fixed-rate hyperprior (``lam``: its lambda) is widened into these
        transforms: the level at ``lam`` (gains 1) decodes exactly as ``trained`` does, and every other level
        starts from its quantiser step scaled by sqrt(lam / lambda). A variable-rate one of the same width
        with other levels keeps every weight; each level takes the gains ``trained`` has at its lambda (read
        on its levels' curve over log lambda, extended past its ends at the high-rate slope of 1/2)."""
        if isinstance(trained, GainedHyperpriorCodec):
            self._take_levels(trained)
            return
        if type(trained) is not HyperpriorCodec:
            raise ValueError(f"grows from a fixed-rate HyperpriorCodec, not a {type(trained).__name__}")
        if lam is None:
            raise ValueError("--init: the fixed-rate run does not say the lambda it was trained at")
        widen(trained, self)
        with torch.no_grad():
            start = 0.5 * (self.log_lambdas - math.log(lam))
            self.log_gain_y.copy_(start[:, None].expand_as(self.log_gain_y))
            self.log_gain_z.copy_(start[:, None].expand_as(self.log_gain_z))

    def _take_levels(self, trained: GainedHyperpriorCodec) -> None:
        mine, theirs = asdict(self.config), asdict(trained.config)
        if {k: v for k, v in mine.items() if k != "lambdas"} != {k: v for k, v in theirs.items() if k != "lambdas"}:
            raise ValueError(f"grows new levels on the same transforms only: {theirs} -> {mine}")
        weights = {k: v for k, v in trained.state_dict().items() if not k.startswith("log_gain_")}
        missing, unexpected = self.load_state_dict(weights, strict=False)
        assert sorted(missing) == ["log_gain_y", "log_gain_z"] and not unexpected, (missing, unexpected)
        with torch.no_grad():
            for name in ("log_gain_y", "log_gain_z"):
                getattr(self, name).copy_(_gains_at(trained.log_lambdas, getattr(trained, name), self.log_lambdas))

    @property
    def levels(self) -> int:
        return len(self.config.lambdas)

    def architecture(self) -> str:
        return super().architecture() + f"-gained{self.levels}"

    def lam(self, q: torch.Tensor) -> torch.Tensor:
        """lambda at qualities q (B,), geometric between the trained levels."""
        return interpolate(self.log_lambdas[:, None], q)[:, 0].exp()

    def gains(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(g_y (B, M, 1, 1), g_z (B, Z, 1, 1)) at qualities q (B,), float32."""
        g_y = interpolate(self.log_gain_y.float(), q).exp()
        g_z = interpolate(self.log_gain_z.float(), q).exp()
        return g_y[:, :, None, None], g_z[:, :, None, None]

    def sample_quality(self, n: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """Training: one quality per image, uniform over [0, K-1]."""
        return torch.rand(n, generator=generator, device=device) * (self.levels - 1)

    def _params(self, z_hat: torch.Tensor, g_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, sigma = self.hyper_decode(z_hat)
        return mu.float() * g_y, (sigma.float() * g_y).clamp_min(SCALE_MIN)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None, q: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass at qualities ``q`` (B,) -> (reconstruction, bits per image (B,))."""
        if q is None:
            q = torch.full((x.shape[0],), (self.levels - 1) / 2, device=x.device)
        x = x.contiguous(memory_format=torch.channels_last)
        y, z = self.analyse(x)
        y, z = y.float(), z.float()
        g_y, g_z = self.gains(q)
        z_q = z * g_z
        noise = torch.rand(z.shape, generator=generator, device=z.device) - 0.5
        z_bits = -torch.log2(self.z_prior.likelihood(z_q + noise)).flatten(1).sum(1)
        z_hat = (z_q + (self.z_quantize(z_q) - z_q).detach()) / g_z
        mu, sigma = self._params(z_hat, g_y)
        y_q = y * g_y
        noise = torch.rand(y.shape, generator=generator, device=y.device) - 0.5
        y_bits = -torch.log2(self.gaussian(y_q + noise, mu, sigma)).flatten(1).sum(1)
        y_hat = (y_q + (torch.round(y_q - mu) + mu - y_q).detach()) / g_y
        return self.g_s(y_hat), y_bits + z_bits

    def hard(self, x: torch.Tensor, q: torch.Tensor) -> Hard:
        """The hard-rounded latents at qualities q (B,), as the wire codec computes them."""
        y, z = self.analyse(x)
        g_y, g_z = self.gains(q)
        z_hat_q = self.z_quantize(z.float() * g_z)
        mu, sigma = self._params(z_hat_q / g_z, g_y)
        y_hat_q = torch.round(y.float() * g_y - mu) + mu
        return Hard(z_hat_q, y_hat_q, mu, sigma, g_y, g_z)

    @torch.no_grad()
    def compress_estimate_at(self, x: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard-rounded pass at qualities q -> (reconstruction in [0, 1], estimated bits per image)."""
        h = self.hard(x, q)
        bits = -torch.log2(self.z_prior.likelihood(h.z_hat_q)).flatten(1).sum(1)
        bits = bits - torch.log2(self.gaussian(h.y_hat_q, h.mu, h.sigma)).flatten(1).sum(1)
        return self.decode(h.y_hat_q / h.g_y), bits

    def compress_estimate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = torch.full((x.shape[0],), (self.levels - 1) / 2, device=x.device)
        return self.compress_estimate_at(x, q)

    def graphs(self, x: torch.Tensor) -> list[Graph]:
        """The hyperprior's three graphs, ungained (the gains are the manifest's data); the hyper decoder and
        the decoder are traced and checked on what the service feeds them at the middle quality."""
        graphs = super().graphs(x)
        with torch.no_grad():
            h = self.hard(x, torch.full((len(x),), (self.levels - 1) / 2))
        served = {"hyper_decoder.onnx": {"side": h.z_hat_q / h.g_z}, "decoder.onnx": {"latent": h.y_hat_q / h.g_y}}
        for g in graphs:
            g.inputs = served.get(g.file, g.inputs)
        return graphs

    def hyper_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The z_hat / g_z the hyper decoder sees at each trained level, for the integer conversion."""
        with torch.no_grad():
            z = self.analyse(x)[1].float()
            out = []
            for level in range(self.levels):
                _, g_z = self.gains(torch.full((len(x),), float(level), device=x.device))
                out.append(self.z_quantize(z * g_z) / g_z)
        return torch.cat(out)

    def rate_log_gains(self) -> tuple[np.ndarray, np.ndarray] | None:
        return self.log_gain_y.detach().float().cpu().numpy(), self.log_gain_z.detach().float().cpu().numpy()

    def wire_fields(self) -> dict[str, Any]:
        """The hyperprior's tables, plus the gains (as stored: export rounds every weight to float16 first)."""
        rate = VariableRate(
            levels=self.levels,
            lambdas=list(self.config.lambdas),
            log_gain_y=self.log_gain_y.detach().float().cpu().tolist(),
            log_gain_z=self.log_gain_z.detach().float().cpu().tolist(),
        )
        return super().wire_fields() | {"variable_rate": rate}
