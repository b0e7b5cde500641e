"""train-vae: the IWAE objective on binarized digits learns, and a run stopped mid-epoch resumes exactly."""

from __future__ import annotations

from pathlib import Path

import torch
from aecodec_training.checkpoint import load_checkpoint
from aecodec_training.config import TrainConfig
from aecodec_training.vae_train import VAESchedule, train_vae


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
        options={"latent_dim": 8, "hidden": 64, "layers": 2, "act": "elu"},
        command="aecodec-train train-vae test",
    )


SCHEDULE = VAESchedule(k=3, warmup_epochs=1, eval_every=1, eval_images=64)


def test_learns_the_likelihood(mnist_dir: Path, tmp_path: Path) -> None:
    last = train_vae(_config(mnist_dir, tmp_path / "run", epochs=6), SCHEDULE)
    history = load_checkpoint(tmp_path / "run")["history"]  # type: ignore[index]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5, 6]
    assert history[-1]["beta"] == 1.0  # the KL warm-up is over
    assert last["nll_k100"] < history[0]["nll_k100"] - 20  # nats per 784-pixel image
    assert last["nll_k100"] <= -last["elbo"]  # importance sampling never gives a looser bound than the ELBO
    assert (tmp_path / "run" / "train.log").read_text().count("\n") >= 7


def test_resumes_mid_epoch_exactly(mnist_dir: Path, tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    train_vae(_config(mnist_dir, straight), SCHEDULE)
    stopped = tmp_path / "stopped"
    assert train_vae(_config(mnist_dir, stopped), SCHEDULE, max_steps=11) == {}  # 8 steps per epoch: mid-epoch 2
    state = load_checkpoint(stopped)
    assert state is not None and (state["epoch"], state["vae_train"]["step"]) == (1, 3)
    train_vae(_config(mnist_dir, stopped), SCHEDULE)
    a, b = load_checkpoint(straight), load_checkpoint(stopped)
    assert a is not None and b is not None and b["epoch"] == 2
    for name, tensor in a["model_state"].items():
        assert torch.equal(tensor, b["model_state"][name]), name
