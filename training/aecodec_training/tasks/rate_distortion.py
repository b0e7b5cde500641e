"""Learned rate-distortion codecs: loss = lambda * 255^2 * MSE + bits (per image, or per pixel for models with
``rate_per_pixel``, whose lambdas are then CompressAI's). A variable-rate model (one with ``sample_quality``)
draws a quality per image and weighs it by that quality's lambda. ``decoder_only`` fine-tunes the synthesis
alone on the hard-rounded latents it will receive, so payloads stay the same. Validation is hard-rounded with
the rate from the integer tables; the served figures go through the real payload bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from aecodec_wire.manifest import Manifest
from torch import nn

from ..models import Autoencoder
from ..realpath import round_trip
from .base import EVAL_BATCH, At, ImageTask, Settings, psnr_of, to_uint8
from .reconstruction import augment

PIXEL_SCALE = 255.0**2  # MSE on [0, 1] pixels times 255^2 is MSE on 8-bit pixels
SERVED_IMAGES = 2000  # test images the served figures are measured on (at most)


@dataclass(frozen=True)
class RateDistortionSettings(Settings):
    lam: float = 1.0  # loss = lam * 255^2 * MSE + bits (variable-rate models: their own lambdas)
    decoder_only: bool = False  # fine-tune the synthesis alone (start from a trained run with --init)
    flip: bool = False
    shift: int = 0


class RateDistortionTask(ImageTask):
    """Trade bits for distortion at ``lam``."""

    name = "rate-distortion"
    figure_decimals = 4
    settings_type = RateDistortionSettings
    settings: RateDistortionSettings

    def parameter_groups(self, model: Autoencoder, lr: float) -> list[dict[str, Any]]:
        if self.settings.decoder_only:
            decoder = set(getattr(model, model.decoder_part).parameters())
            for p in model.parameters():
                p.requires_grad_(p in decoder)
        return model.param_groups(lr)

    def rd_loss(self, net: nn.Module, model: Autoencoder, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.settings.decoder_only:  # rate fixed: the synthesis learns on the hard-rounded latents
            with torch.no_grad():
                y_hat = model.decoder_input(x)  # type: ignore[operator]
            return F.mse_loss(getattr(model, model.decoder_part)(y_hat).float(), x) * PIXEL_SCALE
        sample_quality = getattr(model, "sample_quality", None)
        if callable(sample_quality):  # variable rate: one quality per image, its lambda from the model
            q = sample_quality(len(x), gen, x.device)
            x_hat, bits = net(x, gen, q)
            lam = model.lam(q)  # type: ignore[operator]
        else:
            x_hat, bits = net(x, gen)
            lam = torch.full((len(x),), self.settings.lam, device=x.device)
        if getattr(model, "rate_per_pixel", False):  # lambda on CompressAI's scale: bits per pixel, any crop size
            bits = bits / (x.shape[-2] * x.shape[-1])
        mse = (x_hat.float() - x).pow(2).flatten(1).mean(1)
        return (lam * PIXEL_SCALE * mse + bits.float()).mean()

    def loss(self, net: nn.Module, model: Autoencoder, batch: Any, gen: torch.Generator, at: At) -> Any:
        return self.rd_loss(net, model, augment(batch, self.settings, gen), gen)

    @torch.inference_mode()
    def figures(self, model: Autoencoder, x: torch.Tensor) -> dict[str, float]:
        """Hard-rounded: PSNR, MSE, estimated bytes and the RD loss (per trained level for variable rate)."""
        was_training = model.training
        model.eval()
        try:
            if callable(getattr(model, "compress_estimate_at", None)):
                return self._variable_rate(model, x)
            mse, bits, recons = [], [], []
            for s in range(0, len(x), EVAL_BATCH):
                xb = x[s : s + EVAL_BATCH]
                recon, b = model.compress_estimate(xb)  # type: ignore[operator]
                mse.append((recon - xb).pow(2).flatten(1).mean(1))
                bits.append(b)
                recons.append(recon)
        finally:
            model.train(was_training)
        m, b = torch.cat(mse), torch.cat(bits)
        rate = b / (x.shape[-2] * x.shape[-1]) if getattr(model, "rate_per_pixel", False) else b
        return {
            "test_loss": float((self.settings.lam * PIXEL_SCALE * m + rate).mean()),
            "test_mse": float(m.mean()),
            "psnr_db": psnr_of(model, x, torch.cat(recons)),
            "est_bytes": float(b.mean() / 8),
        }

    def _variable_rate(self, model: Any, x: torch.Tensor) -> dict[str, float]:
        out: dict[str, float] = {}
        losses, mses = [], []
        pixels = x.shape[-2] * x.shape[-1]
        for level in range(model.levels):
            q = torch.full((len(x),), float(level), device=x.device)
            recon, b = model.compress_estimate_at(x, q)
            mse = (recon - x).pow(2).flatten(1).mean(1)
            out[f"q{level + 1}_psnr_db"] = psnr_of(model, x, recon)
            out[f"q{level + 1}_bpp"] = float(b.mean() / pixels)
            losses.append(float((model.lam(q) * PIXEL_SCALE * mse + b / pixels).mean()))
            mses.append(float(mse.mean()))
        n = model.levels
        out["psnr_db"] = sum(out[f"q{k + 1}_psnr_db"] for k in range(n)) / n
        out["est_bytes"] = sum(out[f"q{k + 1}_bpp"] for k in range(n)) / n * pixels / 8
        return {"test_loss": sum(losses) / n, "test_mse": sum(mses) / n, **out}

    def validate(self, model: Autoencoder) -> dict[str, float]:
        return self.figures(model, self.validation_images())

    def final(self, model: Autoencoder) -> dict[str, float]:
        return self.figures(model, self.test_x)

    def served_figures(
        self, model: Autoencoder, folder: Path, manifest: Manifest, limit: int | None = None
    ) -> dict[str, float]:
        """Payload bytes and PSNR through the real path, on the first ``SERVED_IMAGES`` test images; for a
        variable-rate model at each trained level (``q{k}_...``), the plain figures being their means."""
        pixels = to_uint8(self.test_x[: limit or SERVED_IMAGES].cpu(), manifest.input.range)
        if manifest.variable_rate is None:
            return _served(folder, manifest, pixels, None)
        levels = range(1, manifest.variable_rate.levels + 1)
        each = {k: _served(folder, manifest, pixels, float(k)) for k in levels}
        out = {key: sum(f[key] for f in each.values()) / len(each) for key in each[1]}
        for k, figures in each.items():
            out |= {f"q{k}_{key}": value for key, value in figures.items()}
        return out

    def describe(self, model: Autoencoder) -> str:
        lambdas = getattr(model.config, "lambdas", None)
        rate = f"lambdas {', '.join(f'{v:g}' for v in lambdas)}" if lambdas else f"lambda {self.settings.lam:g}"
        return (
            f"Rate-distortion codec ({rate}): {model.architecture()}; compact payloads "
            "(CompactCode). metrics: real-path test bytes/image (header included), PSNR on 8-bit pixels, "
            "latent bytes, and the latent bytes the integer tables estimate."
        )


def _served(folder: Path, manifest: Manifest, pixels: np.ndarray, quality: float | None) -> dict[str, float]:
    rt = round_trip(folder, manifest, pixels, quality=quality)
    figures = {
        "psnr_db": float(rt.psnr_db.mean()),
        "bytes": float(rt.payload_bytes.mean()),
        "latent_bytes": float(rt.latent_bytes.mean()),
        "est_latent_bytes": float(rt.estimated_bits.mean() / 8),
    }
    if manifest.input.height is None:  # any size: the rate per pixel, as photo codecs are compared
        figures["bpp"] = figures["bytes"] * 8 / (pixels.shape[2] * pixels.shape[3])
    return figures
