"""``aecodec-train train-vae``: the likelihood-trained VAE (IWAE bound on binarized digits), see docs/vae.md."""

from __future__ import annotations

from ..vae_train import train_vae_command
from .app import app

app.command("train-vae")(train_vae_command)
