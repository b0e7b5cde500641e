"""Test-set metrics in PyTorch: loss, MSE on the model's scale, 8-bit PSNR, sparsity, ELBO, codec bytes."""

from __future__ import annotations

import numpy as np
import torch

from .config import Objective
from .models import Autoencoder
from .objectives import PIXEL_SCALE, batch_loss, corrupt
from .psnr import mean_psnr

NEAR_ZERO = 1e-2  # |z| below this counts as "off" for the sparse AE's near-zero share
EVAL_SEED = 1234  # fixed noise for evaluation, so metrics compare across runs
EVAL_BATCH = 1000

__all__ = ["EVAL_BATCH", "EVAL_SEED", "NEAR_ZERO", "denoise_metrics", "evaluate", "mean_psnr", "to_uint8"]


def to_uint8(images: np.ndarray | torch.Tensor, value_range: tuple[float, float]) -> np.ndarray:
    """Images in ``value_range`` -> uint8 pixels, rounded and clipped the way a PNG would store them."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    lo, hi = value_range
    return np.clip(np.rint((arr.astype(np.float64) - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


@torch.inference_mode()
def evaluate(model: Autoencoder, x: torch.Tensor, objective: Objective, full: bool = False) -> dict[str, float]:
    """Metrics of ``model`` on images ``x`` (already in its input range). ``full`` adds the slower extras."""
    if model.loss == "rd":
        return codec_metrics(model, x, objective)
    was_training = model.training
    model.eval()
    gen = torch.Generator(x.device).manual_seed(EVAL_SEED)
    loss_sum = torch.zeros((), device=x.device)
    mse_sum = torch.zeros((), device=x.device)
    near_zero = torch.zeros((), device=x.device)
    latent_count = 0
    recons = []
    for start in range(0, len(x), EVAL_BATCH):
        xb = x[start : start + EVAL_BATCH]
        loss_sum += batch_loss(model, model, xb, gen, objective, train=False) * len(xb)
        z = model.encode(xb)
        recon = model.decode(z)
        mse_sum += (recon - xb).pow(2).mean((1, 2, 3)).sum()
        near_zero += (z.abs() < NEAR_ZERO).sum()
        latent_count += z.numel()
        if full:
            recons.append(recon)
    model.train(was_training)
    out = {"test_loss": (loss_sum / len(x)).item(), "test_mse": (mse_sum / len(x)).item()}
    if model.kind == "sparse":
        out["near_zero_share"] = near_zero.item() / latent_count
    if model.kind == "vae":
        out["test_neg_elbo_nats"] = out["test_loss"]
        out["test_elbo_nats"] = -out["test_loss"]
    if full:
        rng = model.input_range
        out["psnr_db"] = mean_psnr(to_uint8(x, rng), to_uint8(torch.cat(recons), model.output_range))
        if model.kind == "denoising":
            out.update(denoise_metrics(model, x, objective))
    return out


@torch.inference_mode()
def codec_metrics(model: Autoencoder, x: torch.Tensor, objective: Objective) -> dict[str, float]:
    """A rate-distortion codec with hard-rounded latents: PSNR, MSE, estimated bytes and the RD loss."""
    was_training = model.training
    model.eval()
    mse, bits, psnr = [], [], []
    for start in range(0, len(x), EVAL_BATCH):
        xb = x[start : start + EVAL_BATCH]
        recon, b = model.compress_estimate(xb)  # type: ignore[operator]
        mse.append((recon - xb).pow(2).flatten(1).mean(1))
        bits.append(b)
        psnr.append(mean_psnr(to_uint8(xb, model.input_range), to_uint8(recon, model.output_range)) * len(xb))
    model.train(was_training)
    m, b = torch.cat(mse), torch.cat(bits)
    rate = b / (x.shape[-2] * x.shape[-1]) if getattr(model, "rate_per_pixel", False) else b  # as rd_loss
    return {
        "test_loss": float((objective.lam * PIXEL_SCALE * m + rate).mean()),
        "test_mse": float(m.mean()),
        "psnr_db": float(sum(psnr) / len(x)),
        "est_bytes": float(b.mean() / 8),
    }


@torch.inference_mode()
def denoise_metrics(model: Autoencoder, x: torch.Tensor, objective: Objective) -> dict[str, float]:
    """PSNR of the corrupted input and of the model's output against the clean image."""
    gen = torch.Generator(x.device).manual_seed(EVAL_SEED)
    rng = model.input_range
    noisy = torch.cat([corrupt(objective, x[s : s + EVAL_BATCH], rng, gen) for s in range(0, len(x), EVAL_BATCH)])
    denoised = torch.cat([model(noisy[s : s + EVAL_BATCH])[0] for s in range(0, len(x), EVAL_BATCH)])
    clean = to_uint8(x, model.input_range)
    return {
        "noisy_psnr_db": mean_psnr(clean, to_uint8(noisy, model.input_range)),
        "denoised_psnr_db": mean_psnr(clean, to_uint8(denoised, model.output_range)),
    }
