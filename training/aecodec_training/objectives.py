"""Training losses per model: MSE/BCE reconstruction, the sparse L1 term, the VAE ELBO, denoising inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .corruption import add_noise, black_patches, random_hflip
from .models import Autoencoder


def corrupt(model: Autoencoder, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The denoising input for clean ``x``: Gaussian noise and/or black patches per the model's config."""
    cfg = model.config
    lo, hi = model.input_range
    if getattr(cfg, "noise_sigma", 0.0) > 0:
        x = add_noise(x, cfg.noise_sigma, lo, hi, gen)
    if getattr(cfg, "patches", 0) > 0 and getattr(cfg, "patch_size", 0) > 0:
        x = black_patches(x, cfg.patches, cfg.patch_size, lo, gen)
    return x


def augment(model: Autoencoder, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Training-only augmentation (horizontal flips for models whose config asks for them)."""
    return random_hflip(x, gen) if getattr(model.config, "flip", False) else x


def vae_terms(
    recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image Bernoulli NLL (summed over pixels, nats) and KL(q(z|x) || N(0, I))."""
    nll = F.binary_cross_entropy(recon.flatten(1), x.flatten(1), reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return nll, kl


def batch_loss(
    net: nn.Module, model: Autoencoder, x: torch.Tensor, gen: torch.Generator, train: bool = True
) -> torch.Tensor:
    """Scalar loss of one batch. ``net`` is what runs forward (the model, or its DDP wrapper)."""
    if train:
        x = augment(model, x, gen)
    inputs = corrupt(model, x, gen) if model.kind == "denoising" else x
    if model.loss == "vae":
        latent_dim = int(model.latent_shape[0] or 0)
        eps = torch.randn(x.shape[0], latent_dim, generator=gen, device=x.device)
        recon, mu, logvar = net(inputs, eps)  # one posterior sample per image (reparameterised)
        nll, kl = vae_terms(recon, x, mu, logvar)
        return (nll + kl).mean()  # negative ELBO, nats per image
    recon, z = net(inputs)
    loss = F.binary_cross_entropy(recon, x) if model.loss == "bce" else F.mse_loss(recon, x)
    l1 = getattr(model.config, "l1_weight", 0.0)
    if l1 > 0:
        loss = loss + l1 * z.abs().mean()
    return loss
