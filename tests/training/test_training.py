"""The trainer: it learns, it is deterministic, and resuming equals not stopping."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from aecodec_training.checkpoint import load_checkpoint
from aecodec_training.config import TrainConfig
from aecodec_training.trainer import Trainer


def config(mnist_dir: Path, out: Path, model: str = "mlp-reference", epochs: int = 2, **kw: object) -> TrainConfig:
    return TrainConfig(
        model=model, data_dir=str(mnist_dir), out=str(out), epochs=epochs, device="cpu", progress=False, **kw
    )  # type: ignore[arg-type]


def test_loss_goes_down(mnist_dir: Path, tmp_path: Path) -> None:
    trainer = Trainer(config(mnist_dir, tmp_path / "run", epochs=3), log=lambda _m: None)
    trainer.fit()
    losses = [h["train_loss"] for h in trainer.history]
    assert losses[-1] < 0.7 * losses[0]
    assert trainer.history[-1]["test_loss"] < trainer.history[0]["test_loss"]
    assert (tmp_path / "run" / "metrics.json").is_file()


@pytest.mark.parametrize(
    ("model", "options"),
    [("mlp-denoise", {}), ("mlp-sparse", {}), ("mlp-vae", {"latent_dim": 4}), ("pca", {"components": 8})],
)
def test_each_objective_trains(mnist_dir: Path, tmp_path: Path, model: str, options: dict[str, object]) -> None:
    epochs = 0 if model == "pca" else 1
    trainer = Trainer(
        config(mnist_dir, tmp_path / "run", model=model, epochs=epochs, options=options), log=lambda _m: None
    )
    final = trainer.fit()
    assert final["test_mse"] == final["test_mse"]  # finite, not NaN
    if model == "mlp-sparse":
        assert 0.0 <= final["near_zero_share"] <= 1.0
    if model == "mlp-vae":
        assert final["test_elbo_nats"] < 0
    if model == "mlp-denoise":
        assert final["noisy_psnr_db"] > 0


def _weights(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.model.parameters()]


def test_deterministic_for_a_seed(mnist_dir: Path, tmp_path: Path) -> None:
    runs = [Trainer(config(mnist_dir, tmp_path / f"r{i}", model="mlp-denoise"), log=lambda _m: None) for i in range(2)]
    for t in runs:
        t.fit()
    for a, b in zip(_weights(runs[0]), _weights(runs[1]), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other = Trainer(config(mnist_dir, tmp_path / "r2", model="mlp-denoise", seed=1), log=lambda _m: None)
    other.fit()
    assert not torch.equal(_weights(other)[0], _weights(runs[0])[0])


def test_resume_equals_uninterrupted(mnist_dir: Path, tmp_path: Path) -> None:
    straight = Trainer(config(mnist_dir, tmp_path / "straight", model="mlp-denoise", epochs=3), log=lambda _m: None)
    straight.fit()

    class Interrupt(Exception):
        pass

    def stop(epoch: int, _row: dict[str, float]) -> None:
        if epoch == 1:
            raise Interrupt

    first = Trainer(config(mnist_dir, tmp_path / "resumed", model="mlp-denoise", epochs=3), log=lambda _m: None)
    with pytest.raises(Interrupt):
        first.fit(on_epoch=stop)
    assert load_checkpoint(tmp_path / "resumed")["epoch"] == 1  # type: ignore[index]
    second = Trainer(config(mnist_dir, tmp_path / "resumed", model="mlp-denoise", epochs=3), log=lambda _m: None)
    assert second.epoch == 1
    second.fit()
    for a, b in zip(_weights(straight), _weights(second), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in second.history]
