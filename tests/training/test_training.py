"""The trainer: it learns, it is deterministic, and resuming equals not stopping."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from aecodec_training.checkpoint import load_checkpoint
from aecodec_training.config import TrainConfig
from aecodec_training.tasks import DenoisingTask, SparseTask
from aecodec_training.tasks.reconstruction import DenoisingSettings, SparseSettings
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
    untrained = trainer.task.final(trainer.model)["psnr_db"]
    final = trainer.fit()
    assert math.isfinite(final["test_mse"]) and math.isfinite(final["psnr_db"])
    assert final["psnr_db"] > untrained + 1.0  # it learned to reconstruct
    if model == "mlp-vae":
        assert math.isfinite(final["test_elbo_nats"]) and final["test_elbo_nats"] < 0
    if model == "mlp-denoise":  # the recipe's corruption (sigma 0.5 + an 8x8 patch) is what it trains on
        assert 8 < final["noisy_psnr_db"] < 20


def _loss(trainer: Trainer) -> float:
    gen = torch.Generator().manual_seed(0)
    x = trainer.task.train_x[:64]  # type: ignore[attr-defined]
    with torch.no_grad():
        return float(trainer.task.batch_loss(trainer.model, trainer.model, x, gen))  # type: ignore[attr-defined]


def test_denoiser_trains_on_corrupted_inputs(mnist_dir: Path, tmp_path: Path) -> None:
    trainer = Trainer(config(mnist_dir, tmp_path / "run", model="mlp-denoise", epochs=1), log=lambda _m: None)
    trainer.fit()
    task = trainer.task
    assert isinstance(task, DenoisingTask)
    assert task.settings == DenoisingSettings(noise_sigma=0.5, patches=1, patch_size=8)  # the recipe's
    x = task.train_x[:64]
    noisy = task.corrupt(x, trainer.model.input_range, torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = float(torch.nn.functional.mse_loss(trainer.model(noisy)[0], x))
        from_clean = float(torch.nn.functional.mse_loss(trainer.model(x)[0], x))
    assert _loss(trainer) == pytest.approx(expected, rel=1e-6)  # reconstruct x from corrupt(x)
    assert abs(expected - from_clean) > 1e-3


def test_corruption_adds_noise_and_a_black_patch(mnist_dir: Path, tmp_path: Path) -> None:
    x = torch.ones(4, 1, 28, 28) * 0.5
    task = Trainer(config(mnist_dir, tmp_path / "run", model="mlp-denoise", epochs=0), log=lambda _m: None).task
    assert isinstance(task, DenoisingTask)
    task.settings = DenoisingSettings(noise_sigma=0.0, patches=1, patch_size=8)
    out = task.corrupt(x, (-1.0, 1.0), torch.Generator().manual_seed(0))
    assert ((out == -1.0).flatten(1).sum(1) == 64).all()  # exactly one 8x8 black square per image
    task.settings = DenoisingSettings(noise_sigma=0.5, patches=0)
    noisy = task.corrupt(x, (-1.0, 1.0), torch.Generator().manual_seed(0))
    assert 0.4 < float((noisy - x).std()) < 0.55 and float(noisy.min()) >= -1.0 and float(noisy.max()) <= 1.0


def test_l1_term_is_in_the_sparse_loss_and_makes_codes_sparse(mnist_dir: Path, tmp_path: Path) -> None:
    trainers = {}
    for weight in (0.0, 0.05):
        cfg = config(mnist_dir, tmp_path / f"l1-{weight}", model="mlp-sparse", epochs=2, task={"l1_weight": weight})
        trainers[weight] = Trainer(cfg, log=lambda _m: None)
        trainers[weight].fit()
    sparse = trainers[0.05]
    task = sparse.task
    assert isinstance(task, SparseTask)
    with torch.no_grad():
        z = sparse.model.encode(task.train_x[:64])
    with_l1 = _loss(sparse)
    task.settings = SparseSettings(l1_weight=0.0)
    assert with_l1 == pytest.approx(_loss(sparse) + 0.05 * float(z.abs().mean()), rel=1e-5)
    share = {w: t.task.final(t.model)["near_zero_share"] for w, t in trainers.items()}
    assert share[0.05] > share[0.0] + 0.1, share


def test_a_setting_the_task_does_not_have_is_refused(mnist_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--lam does not apply to a reconstruction task"):
        Trainer(config(mnist_dir, tmp_path / "run", task={"lam": 3.0}), log=lambda _m: None)


def test_resume_within_an_epoch_equals_uninterrupted(mnist_dir: Path, tmp_path: Path) -> None:
    """A run stopped by its budget in the middle of an epoch continues on the very next batch."""
    straight = Trainer(config(mnist_dir, tmp_path / "straight", model="mlp-denoise", epochs=1), log=lambda _m: None)
    straight.fit()
    first = Trainer(
        config(mnist_dir, tmp_path / "resumed", model="mlp-denoise", epochs=1, minutes=1e-5), log=lambda _m: None
    )
    first.fit()
    state = load_checkpoint(tmp_path / "resumed")
    assert state is not None and state["epoch"] == 0 and 0 < state["step"] < first.task.steps_per_epoch
    second = Trainer(config(mnist_dir, tmp_path / "resumed", model="mlp-denoise", epochs=1), log=lambda _m: None)
    second.fit()
    for a, b in zip(_weights(straight), _weights(second), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (tmp_path / "resumed" / "train.log").read_text().count("resuming") == 1


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


def test_a_moving_average_of_the_weights_is_kept_validated_exported_and_resumed(
    mnist_dir: Path, tmp_path: Path
) -> None:
    from aecodec_training.trainer import load_run

    straight = Trainer(config(mnist_dir, tmp_path / "straight", epochs=2, ema=0.9), log=lambda _m: None)
    straight.fit()
    assert straight.ema is not None
    state = load_checkpoint(tmp_path / "straight")
    assert state is not None and state["ema_steps"] == 2 * straight.task.steps_per_epoch  # one update a step
    averaged, model = state["ema_state"], state["model_state"]
    assert any(not torch.equal(averaged[k], model[k]) for k in model)  # an average, not the last weights
    exported, _ = load_run(tmp_path / "straight")
    for k, v in exported.state_dict().items():
        assert torch.equal(v, averaged[k]), k  # export takes the average
    assert straight.history[-1]["test_loss"] == pytest.approx(straight.task.validate(straight.evaluated)["test_loss"])

    class Interrupt(Exception):
        pass

    def stop(epoch: int, _row: dict[str, float]) -> None:
        raise Interrupt

    first = Trainer(config(mnist_dir, tmp_path / "resumed", epochs=2, ema=0.9), log=lambda _m: None)
    with pytest.raises(Interrupt):
        first.fit(on_epoch=stop)
    second = Trainer(config(mnist_dir, tmp_path / "resumed", epochs=2, ema=0.9), log=lambda _m: None)
    second.fit()
    resumed = load_checkpoint(tmp_path / "resumed")
    assert resumed is not None
    for k, v in averaged.items():
        torch.testing.assert_close(resumed["ema_state"][k], v, rtol=0, atol=0)


def test_a_warmup_keeps_a_fine_tuned_model_where_it_was(mnist_dir: Path, tmp_path: Path) -> None:
    """A fresh Adam moves every weight by about lr on its first steps, whatever its gradient: from trained weights
    (``--init``) that knocks the model back; a learning rate rising over ``warmup_steps`` does not, and a resumed
    run goes on along the same rise."""
    trained = Trainer(config(mnist_dir, tmp_path / "trained", epochs=2), log=lambda _m: None)
    before = trained.fit()["test_loss"]
    steps = trained.task.steps_per_epoch
    after, warmup = {}, 100 * steps
    for rise in (0, warmup):
        tune = config(mnist_dir, tmp_path / f"tune{rise}", epochs=1, lr=3e-2, init=str(tmp_path / "trained"))
        tuner = Trainer(replace(tune, warmup_steps=rise), log=lambda _m: None)
        after[rise] = tuner.fit()["test_loss"]
    assert after[warmup] < before * 1.05 < after[0], (before, after)
    assert tuner.optimizer.param_groups[0]["lr"] == pytest.approx(3e-2 * steps / warmup)  # its last step's
    resumed = Trainer(
        replace(tune, epochs=2, warmup_steps=warmup, out=str(tmp_path / f"tune{warmup}")), log=lambda _m: None
    )
    resumed.fit()
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(3e-2 * 2 * steps / warmup)
    with pytest.raises(ValueError, match="warmup_steps must be a number of steps"):
        replace(tune, warmup_steps=-1)


def test_a_run_resumed_with_another_lr_trains_at_that_lr_from_its_moments(mnist_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    Trainer(config(mnist_dir, out, epochs=1, lr=1e-3), log=lambda _m: None).fit()
    saved = load_checkpoint(out)
    lines: list[str] = []
    resumed = Trainer(config(mnist_dir, out, epochs=2, lr=2e-4), log=lines.append)
    assert [g["base_lr"] for g in resumed.optimizer.param_groups] == [2e-4]
    assert resumed.optimizer.state_dict()["state"][0]["exp_avg"].equal(saved["optimizer"]["state"][0]["exp_avg"])  # type: ignore[index]
    assert any("learning rate 0.001 -> 0.0002" in line for line in lines)
    resumed.fit()
    assert load_checkpoint(out)["optimizer"]["param_groups"][0]["base_lr"] == 2e-4  # type: ignore[index]
