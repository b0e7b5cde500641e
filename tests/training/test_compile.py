"""``--compile``: the training step through torch.compile (inductor) is the eager step, faster on this CPU
(benchmarks/train_speed.py); its checkpoints are the eager model's, so a run can switch either way."""

from __future__ import annotations

from pathlib import Path

import torch
from aecodec_training.tasks import At
from aecodec_training.trainer import Trainer, step_generator

from tests.codec.helpers import tiny_gained_config

LAMBDAS = [0.002, 0.02]


def _one_step(root: Path, compiled: bool) -> tuple[float, dict[str, torch.Tensor]]:
    cfg = tiny_gained_config(root, LAMBDAS, out=str(root / f"run-{compiled}"), compile=compiled, seed=3)
    t = Trainer(cfg, log=lambda _m: None)
    batch = t.task.batch(0, 0, t.model)
    loss = t.train_step(batch, step_generator(t.ctx.device, 0, 0, 0, 0), At(0.0, 0.0))
    return float(loss), t.state()["model_state"]


def test_a_compiled_step_is_the_eager_step_and_checkpoints_the_same_weights(tmp_path: Path) -> None:
    eager_loss, eager = _one_step(tmp_path, compiled=False)
    compiled_loss, compiled = _one_step(tmp_path, compiled=True)
    assert abs(compiled_loss - eager_loss) <= 1e-4 * abs(eager_loss)
    assert list(compiled) == list(eager)  # no wrapper prefix: the checkpoint loads into an eager run
    for name, value in eager.items():
        torch.testing.assert_close(compiled[name], value, rtol=1e-4, atol=1e-5, msg=name)
