"""Reconstruction, and its two seed variants: sparse codes (an L1 term) and denoising (corrupted inputs).

Loss: MSE on the model's scale, or binary cross-entropy on [0, 1] (the report's CIFAR model). Training batches
may be flipped and shifted; the sparse task adds ``l1_weight * mean |z|``; the denoising task reconstructs each
image from a copy with Gaussian noise and black patches. Served figures: the 8- and 4-bit uniform-quantiser
payload round trip through the exported graphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from aecodec_wire.manifest import Manifest
from torch import nn

from .. import distributed as D
from ..corruption import add_noise, black_patches, random_hflip, random_shift
from ..models import Autoencoder
from ..realpath import round_trip
from .base import EVAL_BATCH, EVAL_SEED, At, ImageTask, Settings, psnr_of, to_uint8

if TYPE_CHECKING:
    from ..config import TrainConfig

NEAR_ZERO = 1e-2  # |z| below this counts as "off" for the sparse AE's near-zero share


@dataclass(frozen=True)
class ReconstructionSettings(Settings):
    loss: str = "mse"  # mse | bce
    flip: bool = False  # random horizontal flips of half of each batch
    shift: int = 0  # random translation of each batch by up to this many pixels (reflect-padded crop)


def augment(x: torch.Tensor, settings: Any, gen: torch.Generator) -> torch.Tensor:
    """Training-only augmentation: horizontal flips and a random shift, when the settings ask for them."""
    if settings.flip:
        x = random_hflip(x, gen)
    if settings.shift > 0:
        x = random_shift(x, settings.shift, gen)
    return x


class ReconstructionTask(ImageTask):
    """Encode, decode, compare with the input."""

    name = "reconstruction"
    settings_type = ReconstructionSettings
    settings: ReconstructionSettings

    def __init__(self, cfg: TrainConfig, settings: ReconstructionSettings, ctx: D.DistContext, model: Autoencoder):
        if settings.loss not in ("mse", "bce"):
            raise ValueError(f"loss must be mse or bce, not {settings.loss!r}")
        super().__init__(cfg, settings, ctx, model)

    def inputs(self, x: torch.Tensor, model: Autoencoder, gen: torch.Generator) -> torch.Tensor:
        """What the model sees for clean ``x`` (the denoising task corrupts it)."""
        return x

    def penalty(self, z: torch.Tensor) -> torch.Tensor | float:
        return 0.0

    def batch_loss(self, net: nn.Module, model: Autoencoder, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        recon, z = net(self.inputs(x, model, gen))
        recon = recon.float()
        loss = F.binary_cross_entropy(recon, x) if self.settings.loss == "bce" else F.mse_loss(recon, x)
        return loss + self.penalty(z)

    def loss(self, net: nn.Module, model: Autoencoder, batch: Any, gen: torch.Generator, at: At) -> Any:
        return self.batch_loss(net, model, augment(batch, self.settings, gen), gen)

    def begin(self, model: Autoencoder) -> None:
        closed_form = getattr(model, "fit", None)
        if callable(closed_form):
            closed_form(self.train_x)  # PCA

    @torch.inference_mode()
    def figures(self, model: Autoencoder, x: torch.Tensor, full: bool = False) -> dict[str, float]:
        was_training = model.training
        model.eval()
        gen = torch.Generator(x.device).manual_seed(EVAL_SEED)
        loss_sum = mse_sum = 0.0
        near_zero, count, recons = 0, 0, []
        for s in range(0, len(x), EVAL_BATCH):
            xb = x[s : s + EVAL_BATCH]
            loss_sum += float(self.batch_loss(model, model, xb, gen)) * len(xb)
            z = model.encode(xb)
            recon = model.decode(z)
            mse_sum += float((recon - xb).pow(2).mean((1, 2, 3)).sum())
            near_zero += int((z.abs() < NEAR_ZERO).sum())
            count += z.numel()
            recons.append(recon)
        model.train(was_training)
        out = {"test_loss": loss_sum / len(x), "test_mse": mse_sum / len(x)}
        if full:
            out["psnr_db"] = psnr_of(model, x, torch.cat(recons))
            out.update(self.extra_figures(model, x, near_zero / max(count, 1)))
        return out

    def extra_figures(self, model: Autoencoder, x: torch.Tensor, near_zero_share: float) -> dict[str, float]:
        """Figures a variant adds to the final ones."""
        return {}

    def validate(self, model: Autoencoder) -> dict[str, float]:
        return self.figures(model, self.validation_images())

    def final(self, model: Autoencoder) -> dict[str, float]:
        out = self.figures(model, self.test_x, full=True)
        if self.settings.loss == "bce":
            out["test_bce"] = out["test_loss"]  # mean per-pixel binary cross-entropy, the report's CIFAR figure
        return out

    def model_figures(self, model: Autoencoder) -> dict[str, float]:
        figures = self.final(model)
        figures.pop("test_loss")  # the training loss; bce models carry it as test_bce
        return figures

    def served_figures(
        self, model: Autoencoder, folder: Path, manifest: Manifest, limit: int | None = None
    ) -> dict[str, float]:
        pixels = to_uint8(self.test_x[:limit].cpu() if limit else self.test_x.cpu(), manifest.input.range)
        out: dict[str, float] = {}
        for bits in (8, 4):
            rt = round_trip(folder, manifest, pixels, bits)
            out[f"codec_psnr_db_{bits}bit"] = float(rt.psnr_db.mean())
            out[f"codec_bytes_{bits}bit"] = float(rt.payload_bytes.mean())
        return out

    def describe(self, model: Autoencoder) -> str:
        lo, hi = model.input_range
        text = (
            f"{model.name} ({model.kind}). Test-set metrics: test_mse is on the model's input scale [{lo:g}, {hi:g}]; "
            "psnr_db is the mean per-image PSNR on 8-bit pixels with the float latent; codec_psnr_db_Nbit and "
            "codec_bytes_Nbit after the real quantise + range-code round trip through the ONNX graphs."
        )
        if self.settings.loss == "bce":
            text += " test_bce: mean per-pixel binary cross-entropy on [0, 1] (the training loss)."
        return text


@dataclass(frozen=True)
class SparseSettings(ReconstructionSettings):
    l1_weight: float = 1e-3  # weight of mean |z| in the loss


class SparseTask(ReconstructionTask):
    """Reconstruction plus an L1 penalty on the code, so most latent values are (near) zero."""

    name = "sparse"
    settings_type = SparseSettings
    settings: SparseSettings

    def penalty(self, z: torch.Tensor) -> torch.Tensor | float:
        return self.settings.l1_weight * z.float().abs().mean() if self.settings.l1_weight > 0 else 0.0

    def extra_figures(self, model: Autoencoder, x: torch.Tensor, near_zero_share: float) -> dict[str, float]:
        return {"near_zero_share": near_zero_share}

    def describe(self, model: Autoencoder) -> str:
        return super().describe(model) + (
            f" near_zero_share: share of latent values with |z| < {NEAR_ZERO:g}"
            f" (L1 weight {self.settings.l1_weight:g})."
        )


@dataclass(frozen=True)
class DenoisingSettings(ReconstructionSettings):
    noise_sigma: float = 0.5  # Gaussian noise on the input scale
    patches: int = 1  # black square patches per image
    patch_size: int = 8


class DenoisingTask(ReconstructionTask):
    """Reconstruct each clean image from a corrupted copy (Gaussian noise and black patches)."""

    name = "denoising"
    settings_type = DenoisingSettings
    settings: DenoisingSettings

    def corrupt(self, x: torch.Tensor, value_range: tuple[float, float], gen: torch.Generator) -> torch.Tensor:
        lo, hi = value_range
        s = self.settings
        if s.noise_sigma > 0:
            x = add_noise(x, s.noise_sigma, lo, hi, gen)
        if s.patches > 0 and s.patch_size > 0:
            x = black_patches(x, s.patches, s.patch_size, lo, gen)
        return x

    def inputs(self, x: torch.Tensor, model: Autoencoder, gen: torch.Generator) -> torch.Tensor:
        return self.corrupt(x, model.input_range, gen)

    def extra_figures(self, model: Autoencoder, x: torch.Tensor, near_zero_share: float) -> dict[str, float]:
        """PSNR of the corrupted input and of the model's output against the clean image."""
        gen = torch.Generator(x.device).manual_seed(EVAL_SEED)
        rng = model.input_range
        noisy = torch.cat([self.corrupt(x[s : s + EVAL_BATCH], rng, gen) for s in range(0, len(x), EVAL_BATCH)])
        denoised = torch.cat([model(noisy[s : s + EVAL_BATCH])[0] for s in range(0, len(x), EVAL_BATCH)])
        return {"noisy_psnr_db": psnr_of(model, x, noisy), "denoised_psnr_db": psnr_of(model, x, denoised)}

    def describe(self, model: Autoencoder) -> str:
        s = self.settings
        return super().describe(model) + (
            f" test_mse/psnr_db reconstruct clean inputs; noisy_psnr_db (corrupted input vs clean) and "
            f"denoised_psnr_db (output vs clean) use Gaussian sigma {s.noise_sigma:g} on the [-1, 1] scale "
            f"plus {s.patches} black {s.patch_size}x{s.patch_size} patch(es) per image."
        )
