"""The photo codec: a mean-scale hyperprior model (Ballé et al. 2018; Minnen et al. 2018 without context).

    x (B, 3, H, W) --g_a--> y (B, M, H/16, W/16) --h_a--> z (B, Z, H/64, W/64)
    z_hat = round(z - m_z) + m_z, coded with a factorised prior (per channel, integer tables)
    h_s(z_hat) -> (mu, sigma) per element of y; y_hat = round(y - mu) + mu, coded with a zero-mean
    Gaussian whose scale is snapped to a fixed table (``scale_table``), so the decoder only needs an index
    into fixed integer CDF tables, as CompressAI's ``GaussianConditional`` does.
    g_s(y_hat) -> x_hat

Registered as ``hyperprior-codec`` and trained, exported and published like every other model
(``aecodec-train train hyperprior-codec --dataset photos ...``; see docs/photo-codec.md). Training uses
additive uniform noise for the rates and straight-through rounding for the decoder inputs ("mixed
quantisation", Minnen & Singh 2020), so the synthesis transforms learn on the values they will get.
Upsampling is sub-pixel convolution (conv + pixel shuffle): on CPU it trains faster than a transposed conv of
the same receptive field and has no checkerboard artefacts. Weights are kept channels-last (faster on CPU)
and stored as float16 in the ONNX graphs (``half_weights``).
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from aecodec_wire.manifest import INTEGER_HYPER_FILE, GaussianTables, IntegerHyper, PriorTables
from torch import nn

from .base import Autoencoder, Graph, Part, axes
from .codec import GDN
from .integer_hyper import FloatLayer, integerise
from .prior import LIKELIHOOD_FLOOR, TABLE_PRECISION, FactorizedPrior

Z_PRIOR_LR_FACTOR = 10.0  # z's prior: a few hundred parameters whose fit sets the side information's cost

SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64  # CompressAI's defaults for GaussianConditional
TAIL_SIGMAS = 6.2  # a table covers +-6.2 sigma (two-sided tail mass ~5.6e-10), as CompressAI's tail mass 1e-9
MAX_HALF_WIDTH = 1024
LATENT_STRIDE = 16  # y is at 1/16 of the side; z at 1/64 (hence pad_multiple 64)


def scale_table() -> np.ndarray:
    """The fixed Gaussian scales the coder knows, log-spaced (64,) float64; identical everywhere."""
    return np.exp(np.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


def gaussian_tables() -> GaussianTables:
    """Integer tables of a zero-mean Gaussian (convolved with U(-1/2, 1/2)) at each scale of ``scale_table``:
    one bin per value in +-``TAIL_SIGMAS`` sigma, then the escape bin holding the two tails' mass."""
    scales = scale_table()
    minima, counts = [], []
    for s in scales:
        half = min(MAX_HALF_WIDTH, int(np.ceil(TAIL_SIGMAS * s)))
        v = torch.arange(-half, half + 1, dtype=torch.float64)
        probs = (torch.special.ndtr((v + 0.5) / float(s)) - torch.special.ndtr((v - 0.5) / float(s))).clamp_min(0.0)
        tails = 2 * float(torch.special.ndtr(torch.tensor(-(half + 0.5) / float(s), dtype=torch.float64)))
        row = np.maximum(1, np.round(np.append(probs.numpy(), tails) * (1 << TABLE_PRECISION))).astype(np.int64)
        minima.append(-half)
        counts.append(row.tolist())
    return GaussianTables(precision=TABLE_PRECISION, scales=scales.tolist(), minima=minima, counts=counts)


@dataclass(frozen=True)
class HyperpriorConfig:
    """Architecture only; saved in the checkpoint and the manifest. Defaults: the photo codec levels'."""

    channels: int = 3
    hidden: int = 64  # N: channels of the analysis/synthesis transforms
    latent: int = 96  # M: channels of y
    side: int = 64  # Z: channels of z
    mixtures: int = 3  # logistic components per channel of z's factorised prior
    upsample: str = "subpixel"  # or "transposed"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def up(cin: int, cout: int, kind: str) -> nn.Module:
    """x2 upsampling: (B, cin, h, w) -> (B, cout, 2h, 2w)."""
    if kind == "subpixel":
        return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, 1, 1), nn.PixelShuffle(2))
    return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1)


def down(cin: int, cout: int) -> nn.Conv2d:
    """x2 downsampling: (B, cin, h, w) -> (B, cout, h/2, w/2)."""
    return nn.Conv2d(cin, cout, 5, 2, 2)


class GaussianConditional(nn.Module):
    """Bin probabilities of y under N(mu, sigma) convolved with U(-1/2, 1/2); no parameters of its own."""

    def forward(self, y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        v = (y - mu).abs()  # symmetric: use the lower tail for precision
        s = sigma.clamp_min(SCALE_MIN)
        upper = torch.special.ndtr((0.5 - v) / s)
        lower = torch.special.ndtr((-0.5 - v) / s)
        return (upper - lower).clamp_min(LIKELIHOOD_FLOOR)


class HyperpriorCodec(Autoencoder):
    """Analysis, synthesis and hyper transforms, z's factorised prior and y's Gaussian conditional."""

    kind = "codec"
    pad_multiple = 64  # y at 1/16 and z at 1/64 of the side
    input_range = (0.0, 1.0)
    output_range = (0.0, 1.0)
    decoder_part = "g_s"
    latent_stride = LATENT_STRIDE
    rate_per_pixel = True  # loss = lam * 255^2 * MSE + bits per pixel: CompressAI's lambdas, any crop size
    half_weights = True  # the ONNX graphs store weights as float16 (half the size; export rounds them first)
    parity_tolerance = 1e-3  # onnxruntime vs PyTorch: float32 reassociation across 16 convs on latents ~10

    def __init__(self, config: HyperpriorConfig) -> None:
        super().__init__(config)
        c, n, m, k, u = config.channels, config.hidden, config.latent, config.side, config.upsample
        self.g_a = nn.Sequential(
            down(c, n), GDN(n), down(n, n), GDN(n), down(n, n), GDN(n), down(n, m)
        )  # (B, c, H, W) -> (B, m, H/16, W/16)
        self.g_s = nn.Sequential(
            up(m, n, u),
            GDN(n, inverse=True),
            up(n, n, u),
            GDN(n, inverse=True),
            up(n, n, u),
            GDN(n, inverse=True),
            up(n, c, u),
        )  # (B, m, h, w) -> (B, c, 16h, 16w)
        self.h_a = nn.Sequential(
            nn.Conv2d(m, n, 3, 1, 1), nn.LeakyReLU(inplace=True), down(n, n), nn.LeakyReLU(inplace=True), down(n, k)
        )  # (B, m, h, w) -> (B, k, h/4, w/4)
        self.h_s = nn.Sequential(
            up(k, n, u),
            nn.LeakyReLU(inplace=True),
            up(n, n * 3 // 2, u),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(n * 3 // 2, 2 * m, 3, 1, 1),
        )  # (B, k, h/4, w/4) -> (B, 2m, h, w): means and scales of y
        self.z_prior = FactorizedPrior(k, config.mixtures)
        self.gaussian = GaussianConditional()
        for p in self.parameters():  # channels-last convolutions, measured 0.275 s/step against 0.299
            if p.ndim == 4:
                p.data = p.data.contiguous(memory_format=torch.channels_last)

    @property
    def image_shape(self) -> tuple[int, int | None, int | None]:
        return (self.config.channels, None, None)

    @property
    def latent_shape(self) -> list[int | None]:
        return [self.config.latent, None, None]

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """z's prior learns at ``Z_PRIOR_LR_FACTOR`` times the transforms' rate: at the same rate, a prior that
        starts fresh (a model grown from exported graphs, which do not hold it) stayed near its initial spread
        for 11,000 steps and cost the variable-rate model 1.7 bits per side symbol where 0.4 would do."""
        return self.groups_with_faster(self.z_prior, lr, Z_PRIOR_LR_FACTOR)

    def architecture(self) -> str:
        cfg = self.config
        return f"hyperprior-mean-scale-gdn-n{cfg.hidden}-m{cfg.latent}-z{cfg.side}-{cfg.upsample}"

    def z_quantize(self, z: torch.Tensor) -> torch.Tensor:
        """round(z - m) + m with the factorised prior's per-channel offsets (no gradient through m)."""
        m = self.z_prior.offsets().detach().reshape(1, -1, 1, 1)
        return torch.round(z - m) + m

    def hyper_decode(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_hat -> (mu, sigma) of y, sigma >= SCALE_MIN. Float32 even under bfloat16 autocast: the means set where
        y is rounded, and 8 bits of mantissa would move them by up to a quarter at |mu| ~ 40 (measured: a much
        worse rate-distortion loss after the same steps); the hyper decoder is a small share of the step."""
        with torch.autocast(z_hat.device.type, enabled=False):
            mu, raw = self.h_s(z_hat.float()).chunk(2, dim=1)
        return mu, F.softplus(raw).clamp_min(SCALE_MIN)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image (B, 3, H, W) in [0, 1], H and W multiples of 64 -> unquantised latent y (B, M, H/16, W/16)."""
        return self.g_a(x)

    def decode(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Quantised latent (B, M, h, w) -> image (B, 3, 16h, 16w) clamped to [0, 1]."""
        return self.g_s(y_hat).clamp(0.0, 1.0)

    def analyse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder graph: image -> (latent y, side latent z)."""
        y = self.g_a(x)
        return y, self.h_a(y)

    def params(self, z_hat: torch.Tensor) -> torch.Tensor:
        """The hyper-decoder graph: side z_hat -> (B, 2M, h, w), the means then the scales of y."""
        return torch.cat(self.hyper_decode(z_hat), dim=1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass -> (reconstruction (B, C, H, W), bits per image (B,)); noise drawn from ``generator``."""
        x = x.contiguous(memory_format=torch.channels_last)
        y, z = self.analyse(x)
        noise = torch.rand(z.shape, generator=generator, device=z.device, dtype=z.dtype) - 0.5
        z_bits = -torch.log2(self.z_prior.likelihood(z + noise)).flatten(1).sum(1)
        z_ste = z + (self.z_quantize(z) - z).detach()
        mu, sigma = self.hyper_decode(z_ste)
        noise = torch.rand(y.shape, generator=generator, device=y.device, dtype=y.dtype) - 0.5
        y_bits = -torch.log2(self.gaussian(y + noise, mu, sigma)).flatten(1).sum(1)
        y_ste = y + (torch.round(y - mu) + mu - y).detach()
        return self.g_s(y_ste), y_bits + z_bits

    def decoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """The hard-rounded latent y_hat the decoder graph receives for images ``x``."""
        y, z = self.analyse(x)
        mu, _ = self.hyper_decode(self.z_quantize(z))
        return torch.round(y - mu) + mu

    @torch.no_grad()
    def compress_estimate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard-rounded pass -> (reconstruction clamped to [0, 1], estimated bits per image from the models)."""
        y, z = self.analyse(x)
        z_hat = self.z_quantize(z)
        mu, sigma = self.hyper_decode(z_hat)
        y_hat = torch.round(y - mu) + mu
        bits = -torch.log2(self.z_prior.likelihood(z_hat)).flatten(1).sum(1)
        bits = bits - torch.log2(self.gaussian(y_hat, mu, sigma)).flatten(1).sum(1)
        return self.decode(y_hat), bits

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.decoder_input(x))

    def graphs(self, x: torch.Tensor) -> list[Graph]:
        """encoder.onnx image -> (latent, side), hyper_decoder.onnx side -> params, decoder.onnx latent ->
        image; the example inputs of the last two are the hard-rounded values the service feeds them."""
        with torch.no_grad():
            y, z = self.analyse(x)
            z_hat = self.z_quantize(z)
            mu, _ = self.hyper_decode(z_hat)
            y_hat = torch.round(y - mu) + mu
        a = axes(4, True)
        return [
            Graph(
                "encoder.onnx",
                Part(self, self.analyse),
                {"image": x},
                ["latent", "side"],
                dict.fromkeys(("image", "latent", "side"), a),
            ),
            Graph(
                "hyper_decoder.onnx",
                Part(self, self.params),
                {"side": z_hat},
                ["params"],
                dict.fromkeys(("side", "params"), a),
            ),
            Graph(
                "decoder.onnx",
                Part(self, self.decode),
                {"latent": y_hat},
                ["image"],
                dict.fromkeys(("latent", "image"), a),
            ),
        ]

    def prior_tables(self) -> PriorTables:
        """z's factorised prior as the integer tables the wire codec reads."""
        offsets, minima, counts = self.z_prior.integer_tables()
        return PriorTables(
            precision=TABLE_PRECISION, offsets=offsets.tolist(), minima=minima.tolist(), counts=counts.tolist()
        )

    def wire_fields(self) -> dict[str, Any]:
        return {
            "prior": self.prior_tables(),
            "gaussian": gaussian_tables(),
            "side_channels": self.config.side,
            "latent_stride": LATENT_STRIDE,
        }

    # --- the integer hyper-synthesis (aecodec_wire.integer_hyper): tables that agree on every machine ----
    def hyper_layers(self) -> list[FloatLayer] | None:
        """h_s as plain layers (conv, LeakyReLU, pixel shuffle) for the integer conversion; None when it has
        anything else (transposed convolutions)."""
        layers: list[FloatLayer] = []
        for m in self.h_s.modules():
            if isinstance(m, nn.Conv2d) and m.stride == (1, 1) and m.dilation == (1, 1) and m.groups == 1:
                if m.bias is None or m.padding != (m.kernel_size[0] // 2,) * 2 or m.kernel_size[0] != m.kernel_size[1]:
                    return None
                weight, bias = m.weight.detach().double().cpu().numpy(), m.bias.detach().double().cpu().numpy()
                layers.append(FloatLayer(weight, bias, None, 1))
            elif isinstance(m, nn.PixelShuffle) and layers:
                layers[-1] = replace(layers[-1], upsample=m.upscale_factor)
            elif isinstance(m, nn.LeakyReLU) and layers:
                layers[-1] = replace(layers[-1], slope=float(m.negative_slope))
            elif not isinstance(m, nn.Sequential):
                return None
        return layers

    def hyper_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The z_hat the hyper decoder sees for images ``x``: what the integer network is calibrated on."""
        with torch.no_grad():
            return self.z_quantize(self.analyse(x)[1].float())

    def rate_log_gains(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A variable-rate model's (log g_y (K, M), log g_z (K, Z)); None for one rate."""
        return None

    def integer_hyper(self, x: torch.Tensor) -> tuple[IntegerHyper, dict[str, np.ndarray]] | None:
        """h_s as an integer network calibrated on images ``x``: (the manifest's field, the file's arrays)."""
        layers = self.hyper_layers()
        if layers is None:
            return None
        log_y, log_z = self.rate_log_gains() or (None, None)
        return integerise(layers, self.hyper_inputs(x), self.prior_tables(), scale_table().tolist(), log_y, log_z)

    def wire_files(self, x: torch.Tensor) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The integer hyper-synthesis: ``integer_hyper`` and ``hyper_synthesis.npz``."""
        found = self.integer_hyper(x)
        if found is None:
            return {}, {}
        spec, arrays = found
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        return {"integer_hyper": spec}, {INTEGER_HYPER_FILE: buf.getvalue()}
