"""The variational task: the IWAE bound on binarized digits with a KL warm-up learns the likelihood, through
the one trainer."""

from __future__ import annotations

from pathlib import Path

from aecodec_training.checkpoint import load_checkpoint
from aecodec_training.config import TrainConfig
from aecodec_training.trainer import Trainer


def _config(data_dir: Path, out: Path, epochs: int = 2) -> TrainConfig:
    return TrainConfig(
        model="mlp-vae",
        dataset="mnist",
        data_dir=str(data_dir),
        out=str(out),
        epochs=epochs,
        batch_size=64,
        lr=2e-3,
        device="cpu",
        progress=False,
        schedule="cosine",
        options={"latent_dim": 8, "hidden": 64, "layers": 2, "act": "elu"},
        task={"k": 3, "binarize": True, "warmup_epochs": 1.0, "nll_every": 1},
    )


def test_learns_the_likelihood(mnist_dir: Path, tmp_path: Path) -> None:
    Trainer(_config(mnist_dir, tmp_path / "run", epochs=6), log=lambda _m: None).fit()
    history = load_checkpoint(tmp_path / "run")["history"]  # type: ignore[index]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5, 6]
    last = history[-1]
    assert last["nll_k100"] < history[0]["nll_k100"] - 20  # nats per 784-pixel image
    assert last["nll_k100"] <= -last["binarized_elbo"]  # importance sampling is never looser than the ELBO
    assert (tmp_path / "run" / "train.log").read_text().count("epoch ") >= 6
