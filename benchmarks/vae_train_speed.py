"""Training throughput (digits per second) of VAE configurations under the IWAE objective, one CPU thread.

python benchmarks/vae_train_speed.py --threads 1 --steps 20
"""

from __future__ import annotations

import argparse
import time

import torch
from aecodec_training.models import build_model
from aecodec_training.nll import iwae_loss

CONFIGS: list[tuple[str, dict[str, int | str], int, int]] = [  # model, options, k, batch
    ("mlp-vae", {"hidden": 512, "latent_dim": 32}, 5, 100),
    ("mlp-vae", {"hidden": 512, "latent_dim": 32, "layers": 2, "act": "elu"}, 5, 100),
    ("mlp-vae", {"hidden": 512, "latent_dim": 32, "layers": 2, "act": "elu"}, 5, 200),
    ("mlp-vae", {"hidden": 512, "latent_dim": 32, "layers": 2, "act": "elu"}, 10, 100),
    ("mlp-vae", {"hidden": 512, "latent_dim": 32, "layers": 2, "act": "tanh"}, 5, 100),
    ("mlp-vae", {"hidden": 1024, "latent_dim": 64, "layers": 2, "act": "elu"}, 5, 100),
    ("conv-vae", {"channels": 16, "hidden": 256, "latent_dim": 32}, 1, 100),
    ("conv-vae", {"channels": 16, "hidden": 256, "latent_dim": 32}, 5, 100),
    ("conv-vae", {"channels": 32, "hidden": 256, "latent_dim": 32}, 1, 100),
    ("conv-vae", {"channels": 32, "hidden": 256, "latent_dim": 32}, 5, 100),
    ("conv-vae", {"channels": 32, "hidden": 256, "latent_dim": 32}, 5, 250),
]


def measure(name: str, options: dict[str, int | str], k: int, batch: int, steps: int, channels_last: bool) -> float:
    torch.manual_seed(0)
    model = build_model(name, **options)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.full((batch, 1, 28, 28), 0.2), generator=gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        loss = iwae_loss(model, x, k, gen)  # type: ignore[arg-type]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print("| model | options | k | batch | channels_last | digits/s | s/epoch (60k) |")
    print("|---|---|---|---|---|---|---|")
    for name, options, k, batch in CONFIGS:
        for cl in (False, True) if name == "conv-vae" and k == 5 and batch == 100 else (False,):
            rate = measure(name, options, k, batch, args.steps, cl)
            print(f"| {name} | {options} | {k} | {batch} | {cl} | {rate:.0f} | {60000 / rate:.0f} |", flush=True)


if __name__ == "__main__":
    main()
