"""Every gradient step of the package and its benchmarks: the trainer's (backward, clipping that skips a non-finite
step, the optimiser's step) and ``minimise``, the small full-batch fits outside a training run (a prior to frozen
tables)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch


def gradient_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, *, clip: float = 0.0, params: Sequence[torch.Tensor] = ()
) -> bool:
    """Backward through ``loss`` and step. With ``clip`` > 0 the gradient of ``params`` is clipped to that norm
    and the step skipped (False) when the loss or the gradient is not finite: GDN's divisive normalisation can
    blow up on a bad step (seen on CIFAR at lr 2e-3), and skipping it keeps NaN out of the weights."""
    loss.backward()
    if clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            return False
    optimizer.step()
    return True


def minimise(params: Iterable[torch.nn.Parameter], objective: Callable[[], torch.Tensor], steps: int) -> None:
    """Minimise a smooth full-batch ``objective`` of ``params``: Adam finds the shape in ``steps`` steps, L-BFGS
    (at most ``steps`` iterations, strong-Wolfe line search) settles it."""
    params = list(params)
    rough = torch.optim.Adam(params, lr=0.02)
    settle = torch.optim.LBFGS(params, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        rough.zero_grad()
        value = objective()
        value.backward()
        return value

    for _ in range(steps):
        closure()
        rough.step()
    settle.step(closure)
