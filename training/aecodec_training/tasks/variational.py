"""Variational autoencoders: the negative ELBO or the IWAE bound (Burda et al.), optionally on dynamically
binarized digits with a KL warm-up, the way a VAE is scored (test NLL on binarized MNIST, ``nll.py``).

``k`` = 1 is the plain ELBO; ``k`` > 1 the importance-weighted bound with k posterior samples per image.
``binarize`` draws every training pixel from Bernoulli(intensity) afresh at each step. ``warmup_epochs`` ramps
the KL weight from 0 to 1. Validation: the ELBO on the grey test digits every epoch, and with ``binarize`` the
importance-sampled NLL (k = 100, 500 digits) every ``nll_every`` epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from aecodec_wire.manifest import Manifest
from torch import nn

from ..models import Autoencoder
from ..nll import NLL_DESCRIPTION, binarize, evaluate_nll, iwae_loss, read_nll
from .base import EVAL_BATCH, At, psnr_of
from .reconstruction import ReconstructionSettings, ReconstructionTask, augment

QUICK_NLL_IMAGES = 500


@dataclass(frozen=True)
class VariationalSettings(ReconstructionSettings):
    k: int = 1  # importance samples per image in the training bound (1: the ELBO)
    binarize: bool = False  # train on dynamically binarized digits (the NLL benchmark's data)
    warmup_epochs: float = 0.0  # KL weight 0 -> 1 over these epochs
    nll_every: int = 5  # epochs between quick NLL estimates (binarized runs only)


class VariationalTask(ReconstructionTask):
    """Maximise a lower bound on log p(x); the reconstruction figures and served figures as for autoencoders."""

    name = "variational"
    settings_type = VariationalSettings
    settings: VariationalSettings

    def loss(self, net: nn.Module, model: Autoencoder, batch: Any, gen: torch.Generator, at: At) -> Any:
        s = self.settings
        x = augment(batch, s, gen)
        x = binarize(x, generator=gen) if s.binarize else x
        beta = min(1.0, at.epoch / s.warmup_epochs) if s.warmup_epochs > 0 else 1.0
        return iwae_loss(model, x, s.k, gen, beta)  # type: ignore[arg-type]

    @torch.inference_mode()
    def elbo(self, model: Autoencoder, x: torch.Tensor) -> float:
        """Mean ELBO per image (nats) on grey intensities, one posterior sample, fixed noise."""
        gen = torch.Generator(x.device).manual_seed(1234)
        total = 0.0
        for s in range(0, len(x), EVAL_BATCH):
            total += -float(iwae_loss(model, x[s : s + EVAL_BATCH], 1, gen)) * len(x[s : s + EVAL_BATCH])  # type: ignore[arg-type]
        return total / len(x)

    def validate(self, model: Autoencoder) -> dict[str, float]:
        was_training = model.training
        model.eval()
        x = self.validation_images()
        out = {"test_loss": -self.elbo(model, x)}
        self._validations = getattr(self, "_validations", 0) + 1
        if self.settings.binarize and self._validations % self.settings.nll_every == 0:
            r = evaluate_nll(model, self.test_x, k=100, images=QUICK_NLL_IMAGES)  # type: ignore[arg-type]
            out.update(nll_k100=r.nll_nats, binarized_elbo=r.elbo_nats)
        model.train(was_training)
        return out

    def final(self, model: Autoencoder) -> dict[str, float]:
        was_training = model.training
        model.eval()
        elbo = self.elbo(model, self.test_x)
        with torch.inference_mode():
            recon = torch.cat(
                [model.reconstruct(self.test_x[s : s + EVAL_BATCH]) for s in range(0, len(self.test_x), EVAL_BATCH)]
            )
        model.train(was_training)
        return {
            "test_loss": -elbo,
            "test_mse": float((recon - self.test_x).pow(2).mean()),
            "psnr_db": psnr_of(model, self.test_x, recon),
            "test_neg_elbo_nats": -elbo,
            "test_elbo_nats": elbo,
        }

    def model_figures(self, model: Autoencoder) -> dict[str, float]:
        return self.final(model)

    def served_figures(
        self, model: Autoencoder, folder: Path, manifest: Manifest, limit: int | None = None
    ) -> dict[str, float]:
        """The payload round trips, and the test NLL that ``aecodec-train evaluate`` wrote into the run."""
        return {**super().served_figures(model, folder, manifest, limit), **read_nll(Path(self.cfg.out))}

    def describe(self, model: Autoencoder) -> str:
        return (
            super().describe(model)
            + " test_elbo_nats: ELBO per image in nats (Bernoulli likelihood summed over the 784 pixels on [0, 1] "
            "intensities, one posterior sample); test_neg_elbo_nats is its negative, the training loss."
            + NLL_DESCRIPTION
        )
