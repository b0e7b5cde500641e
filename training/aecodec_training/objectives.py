"""Training losses per model: MSE/BCE reconstruction, the sparse L1 term, the VAE ELBO, denoising inputs and
the rate-distortion codecs' lambda * distortion + rate. What each term weighs comes from the run's
``Objective`` (``config.py``), never from the architecture config."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import Objective
from .corruption import add_noise, black_patches, random_hflip, random_shift
from .models import Autoencoder

PIXEL_SCALE = 255.0**2  # rate-distortion: MSE on [0, 1] pixels times 255^2 is MSE on 8-bit pixels


def corrupt(
    objective: Objective, x: torch.Tensor, value_range: tuple[float, float], gen: torch.Generator
) -> torch.Tensor:
    """The denoising input for clean ``x``: Gaussian noise and/or black patches per the objective."""
    lo, hi = value_range
    if objective.noise_sigma > 0:
        x = add_noise(x, objective.noise_sigma, lo, hi, gen)
    if objective.patches > 0 and objective.patch_size > 0:
        x = black_patches(x, objective.patches, objective.patch_size, lo, gen)
    return x


def augment(objective: Objective, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Training-only augmentation: horizontal flips and a random shift, when the objective asks for them."""
    if objective.flip:
        x = random_hflip(x, gen)
    if objective.shift > 0:
        x = random_shift(x, objective.shift, gen)
    return x


def vae_terms(
    recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image Bernoulli NLL (summed over pixels, nats) and KL(q(z|x) || N(0, I))."""
    nll = F.binary_cross_entropy(recon.flatten(1), x.flatten(1), reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return nll, kl


def rd_loss(
    net: nn.Module, model: Autoencoder, x: torch.Tensor, gen: torch.Generator, objective: Objective
) -> torch.Tensor:
    """lambda * 255^2 * MSE + estimated bits, per image, averaged; decoder-only: the distortion alone."""
    if objective.decoder_only:  # rate fixed: the synthesis learns on the hard-rounded latents it will receive
        with torch.no_grad():
            y_hat = model.decoder_input(x)  # type: ignore[operator]
        return F.mse_loss(getattr(model, model.decoder_part)(y_hat), x) * PIXEL_SCALE
    x_hat, bits = net(x, gen)
    if getattr(model, "rate_per_pixel", False):  # lambda on CompressAI's scale: bits per pixel, any crop size
        bits = bits / (x.shape[-2] * x.shape[-1])
    mse = (x_hat - x).pow(2).flatten(1).mean(1)
    return (objective.lam * PIXEL_SCALE * mse + bits).mean()


def batch_loss(
    net: nn.Module,
    model: Autoencoder,
    x: torch.Tensor,
    gen: torch.Generator,
    objective: Objective,
    train: bool = True,
) -> torch.Tensor:
    """Scalar loss of one batch. ``net`` is what runs forward (the model, or its DDP wrapper)."""
    if train:
        x = augment(objective, x, gen)
    if model.loss == "rd":
        return rd_loss(net, model, x, gen, objective)
    inputs = corrupt(objective, x, model.input_range, gen) if model.kind == "denoising" else x
    if model.loss == "vae":
        latent_dim = int(model.latent_shape[0] or 0)
        eps = torch.randn(x.shape[0], latent_dim, generator=gen, device=x.device)
        recon, mu, logvar = net(inputs, eps)  # one posterior sample per image (reparameterised)
        nll, kl = vae_terms(recon, x, mu, logvar)
        return (nll + kl).mean()  # negative ELBO, nats per image
    recon, z = net(inputs)
    loss = F.binary_cross_entropy(recon, x) if model.loss == "bce" else F.mse_loss(recon, x)
    if objective.l1_weight > 0:
        loss = loss + objective.l1_weight * z.abs().mean()
    return loss
