"""Training of the any-size denoiser on photographs, CIFAR-10 and MNIST crops, on CPU, by wall clock.

    python -m aecodec_training.denoise_train --photos PHOTOS --cifar CIFAR --mnist MNIST --minutes 90 --out RUN
    python -m aecodec_training.denoise_train ... --out RUN --resume       # continue (or extend --minutes)
    python -m aecodec_training.denoise_train --measure                     # steps/s per configuration

Each step draws one source (photos 50 %, CIFAR-10 25 %, MNIST 25 %) at a patch size that keeps the pixels per
step constant, then corrupts every patch on its own: Gaussian noise with a random sigma (0-55 on 0-255 for
photographs and CIFAR, 0-135 for digits, which are judged up to sigma 0.5 on [0, 1]), clipped and rounded to
8 bits as a PNG would be; a quarter of the patches also get 1-2 erased (black) squares; a tenth stay clean, so
the model learns to leave clean pixels alone. Half the patches tell the model their sigma, the other half say
UNKNOWN (blind). Photo patches are turned grey a tenth of the time (grey noise, replicated), because grey
images reach the model as three equal channels.

The validation photographs are ``datasets.photos.VALIDATION`` (six fixed files, never trained on). The run
folder holds ``checkpoint.pt`` (weights, optimiser, step, elapsed time, generator state; written atomically
every ``--save-every`` minutes), ``train.log`` and ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import load_checkpoint, save_checkpoint, write_json
from .datasets.idx import load_idx_dataset
from .datasets.npz import load_npz_dataset
from .datasets.photos import load_photos, pyramid, random_crops
from .models.denoiser import UNKNOWN, Denoiser, DenoiserConfig

SCALES = (1.0, 0.75, 0.5)
SOURCES = ("photos", "cifar", "mnist")
SOURCE_P = (0.5, 0.25, 0.25)
SIGMA_MAX = {"photos": 55.0, "cifar": 55.0, "mnist": 135.0}  # on 0-255
P_CLEAN, P_ERASE, P_KNOWN, P_GREY = 0.1, 0.25, 0.5, 0.1
# the input error a clean patch is measured against; at (3/255)^2 the blind mode learned to change nothing
REL_FLOOR = (15 / 255) ** 2
EVAL_SIDE = 256  # validation photographs are centre-cropped to this side (cheap enough every checkpoint)
EVAL_SIGMAS = (15.0, 25.0, 50.0)
EVAL_DIGITS = 100


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of [0, 1] tensors on 8-bit pixels."""
    mse = ((torch.round(a.clamp(0, 1) * 255) - torch.round(b * 255)) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(255.0**2 / mse)


def relative_loss(err: torch.Tensor, noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Each patch's output MSE relative to its input's (plus a floor for clean inputs), averaged.

    A plain MSE lets the noisiest patches (digits at sigma 135 have 30x the error of photographs at 25)
    set Adam's step sizes, and the photographs then barely learn; relative to the input's own error every
    patch counts alike, and a clean patch is asked to stay as it is."""
    ref = ((noisy - clean) ** 2).flatten(1).mean(1)
    return (err / (ref + REL_FLOOR)).mean()


def corrupt(
    clean: torch.Tensor, sigma_max: float, gen: torch.Generator, grey: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy 8-bit patches and the noise level each is told (sigma/255 or UNKNOWN); see the module docstring."""
    n, c, h, w = clean.shape
    sigma = torch.rand(n, generator=gen) * sigma_max / 255
    sigma[torch.rand(n, generator=gen) < P_CLEAN] = 0.0
    noise = torch.randn((n, 1 if grey else c, h, w), generator=gen) * sigma.view(-1, 1, 1, 1)
    noisy = (clean + noise).clamp_(0, 1).mul_(255).round_().div_(255)
    erase = torch.rand(n, generator=gen) < P_ERASE
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    mask = torch.zeros(n, h, w, dtype=torch.bool)
    for k in range(2):
        size = torch.randint(4, 17, (n, 1, 1), generator=gen)
        top = (torch.rand(n, 1, 1, generator=gen) * (h - size + 1)).long()
        left = (torch.rand(n, 1, 1, generator=gen) * (w - size + 1)).long()
        square = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
        use = erase & ((torch.rand(n, generator=gen) < 0.5) if k else torch.ones(n, dtype=torch.bool))
        mask |= square & use.view(-1, 1, 1)
    noisy = noisy.masked_fill(mask.unsqueeze(1), 0.0)
    known = torch.rand(n, generator=gen) < P_KNOWN
    level = torch.where(known, sigma, torch.full_like(sigma, UNKNOWN))
    return noisy, level


class Sources:
    """The three training sources as uint8 arrays, and a batch drawer that keeps pixels per step constant."""

    def __init__(self, photos: Path, cifar: Path, mnist: Path, patch: int) -> None:
        self.photoset = load_photos(photos)
        self.pyramid = pyramid(self.photoset.train, SCALES, patch)
        self.cifar = load_npz_dataset(cifar).train_x  # (N, 3, 32, 32)
        digits = load_idx_dataset("mnist", mnist)
        self.mnist = digits.train_x  # (N, 1, 28, 28)
        self.mnist_test = digits.test_x
        self.md5 = {**self.photoset.md5, **digits.md5}
        self.patch = patch

    def draw(self, batch: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        source = SOURCES[int(rng.choice(3, p=SOURCE_P))]
        if source == "photos":
            return source, random_crops(self.pyramid, batch, self.patch, rng)
        size = 32 if source == "cifar" else 28
        n = max(1, round(batch * self.patch**2 / size**2))
        pool = self.cifar if source == "cifar" else self.mnist
        x = pool[rng.integers(0, len(pool), n)]
        return source, np.repeat(x, 3, axis=1) if x.shape[1] == 1 else x


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random flip/rotation (of the 8 dihedral ones) for the whole batch."""
    k = int(torch.randint(0, 8, (1,), generator=gen))
    x = torch.rot90(x, k % 4, dims=(2, 3))
    return x.flip(3) if k >= 4 else x


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma (what Pillow's convert("L") uses), replicated to three channels."""
    y = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    return torch.round(y * 255).div_(255).expand(-1, 3, -1, -1).contiguous()


def make_batch(
    sources: Sources, batch: int, rng: np.random.Generator, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    source, pixels = sources.draw(batch, rng)
    clean = augment(torch.from_numpy(pixels).float().div_(255), gen)
    grey = source == "mnist"
    if source == "photos" and float(torch.rand(1, generator=gen)) < P_GREY:
        clean, grey = to_grey(clean), True
    noisy, level = corrupt(clean, SIGMA_MAX[source], gen, grey=grey)
    if grey:  # grey noise: one noise field, replicated like the image
        noisy = noisy[:, :1].expand(-1, 3, -1, -1)
    return (
        clean.contiguous(memory_format=torch.channels_last),
        noisy.contiguous(memory_format=torch.channels_last),
        level,
    )


def centre_crop(img: np.ndarray, side: int = EVAL_SIDE) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(side, h // 2 * 2), min(side, w // 2 * 2)
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y : y + ch, x : x + cw]


@torch.no_grad()
def evaluate(model: Denoiser, photos: list[np.ndarray], digits: np.ndarray) -> dict[str, float]:
    """Blind PSNR (dB, mean per image) on the validation photos (centre crops) and MNIST test digits."""
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    out: dict[str, float] = {}
    clean = torch.stack([torch.from_numpy(centre_crop(p).transpose(2, 0, 1).copy()) for p in photos]).float() / 255
    blind = torch.full((len(photos),), UNKNOWN)
    for s in (0.0, *EVAL_SIGMAS):
        noisy = (clean + torch.randn(clean.shape, generator=gen) * s / 255).clamp(0, 1).mul(255).round().div(255)
        out[f"photo_s{s:g}_noisy"] = float(psnr(noisy, clean).mean()) if s else float("inf")
        out[f"photo_s{s:g}_out"] = float(psnr(model(noisy, blind), clean).mean())
    d = torch.from_numpy(np.repeat(digits[:EVAL_DIGITS], 3, axis=1)).float() / 255
    blind = torch.full((len(d),), UNKNOWN)
    for s in (0.1, 0.3, 0.5):
        noisy = (d[:, :1] + torch.randn(d[:, :1].shape, generator=gen) * s).clamp(0, 1).mul(255).round().div(255)
        noisy = noisy.expand(-1, 3, -1, -1)
        out[f"mnist_s{s:g}_noisy"] = float(psnr(noisy[:, :1], d[:, :1]).mean())
        out[f"mnist_s{s:g}_out"] = float(psnr(model(noisy, blind).mean(1, keepdim=True), d[:, :1]).mean())
    model.train()
    return out


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, help="the photo folder (PNG/JPEG/WebP)")
    p.add_argument("--cifar", type=Path, help="a CIFAR-10 npz folder (train*.npz, test*.npz)")
    p.add_argument("--mnist", type=Path, help="the MNIST IDX folder")
    p.add_argument("--out", type=Path, help="run folder: checkpoint, log, metrics")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--measure", action="store_true", help="time training steps per configuration and exit")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget of the whole run")
    p.add_argument("--width", type=int, default=DenoiserConfig.width)
    p.add_argument("--depth", type=int, default=DenoiserConfig.depth)
    p.add_argument("--patch", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=float, default=4.0, help="minutes between checkpoints")
    return p.parse_args(argv)


def measure(threads: int) -> list[dict[str, Any]]:
    """Seconds per training step and patch-pixels/s for a few model sizes, patches and memory formats."""
    torch.set_num_threads(threads)
    rows = []
    for width, depth, patch, batch, cl in (
        (32, 8, 64, 16, True),
        (48, 10, 64, 16, True),
        (48, 10, 64, 16, False),
        (48, 10, 96, 8, True),
        (64, 10, 64, 16, True),
        (64, 12, 64, 16, True),
    ):
        model = Denoiser(DenoiserConfig(width, depth))
        fmt = torch.channels_last if cl else torch.contiguous_format
        model = model.to(memory_format=fmt)  # type: ignore[call-overload]  # missing from torch's stubs
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        x = torch.rand(batch, 3, patch, patch).contiguous(memory_format=fmt)
        level = torch.full((batch,), UNKNOWN)
        times = []
        for _ in range(6):
            t = time.perf_counter()
            loss = torch.mean((model(x, level) - x) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
        s = float(np.median(times[1:]))
        row: dict[str, Any] = {"width": width, "depth": depth, "patch": patch, "batch": batch, "channels_last": cl}
        row |= {"s_per_step": round(s, 3), "kpix_per_s": round(batch * patch * patch / s / 1e3, 1)}
        row["macs_per_pixel"] = model.macs_per_pixel()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    state = load_checkpoint(args.out)
    if state is not None and not args.resume:
        raise SystemExit(f"{args.out} already holds a run; pass --resume to continue it")
    sources = Sources(args.photos, args.cifar, args.mnist, args.patch)
    config = DenoiserConfig(**state["config"]) if state else DenoiserConfig(args.width, args.depth)
    model = Denoiser(config).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    step, elapsed = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        gen.set_state(state["gen"])
        step, elapsed = int(state["step"]), float(state["elapsed_s"])
    command = "python -m aecodec_training.denoise_train " + shlex.join(sys.argv[1:])
    log = (args.out / "train.log").open("a")
    print(f"start step {step} elapsed {elapsed / 60:.1f} min config {config.as_dict()}", file=log, flush=True)
    budget = args.minutes * 60
    t_start, last_save, window = time.monotonic() - elapsed, time.monotonic(), []

    def checkpoint() -> dict[str, Any]:
        metrics = evaluate(model, sources.photoset.val, sources.mnist_test)
        t = time.monotonic() - t_start
        save_checkpoint(
            args.out,
            {
                "config": config.as_dict(),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "rng": rng.bit_generator.state,
                "gen": gen.get_state(),
                "step": step,
                "elapsed_s": t,
                "command": command,
                "val": metrics,
                "val_names": sources.photoset.val_names,
                "data_md5": sources.md5,
            },
        )
        summary = {"step": step, "elapsed_s": round(t, 1), "val": {k: round(v, 3) for k, v in metrics.items()}}
        write_json(args.out / "metrics.json", summary)
        print(json.dumps(summary), file=log, flush=True)
        return summary

    while time.monotonic() - t_start < budget:
        frac = (time.monotonic() - t_start) / budget
        lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))  # cosine decay by wall clock
        for g in opt.param_groups:
            g["lr"] = lr
        clean, noisy, level = make_batch(sources, args.batch, rng, gen)
        err = ((model(noisy, level) - clean) ** 2).flatten(1).mean(1)
        loss = relative_loss(err, noisy, clean)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        window.append((err.mean().item(), loss.item()))
        if step % 50 == 0:
            t = time.monotonic() - t_start
            mse, rel = np.mean(window, axis=0)
            rmse = math.sqrt(mse) * 255
            print(
                f"step {step} t {t / 60:.1f} min lr {lr:.1e} train rmse {rmse:.2f}/255 relative {rel:.3f}",
                file=log,
                flush=True,
            )
            window.clear()
        if time.monotonic() - last_save > args.save_every * 60:
            checkpoint()
            last_save = time.monotonic()
    return checkpoint()


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.measure:
        measure(args.threads)
        return
    missing = [n for n in ("photos", "cifar", "mnist", "out") if getattr(args, n) is None]
    if missing:
        raise SystemExit(f"missing {', '.join('--' + m for m in missing)}")
    args.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(train(args)))


if __name__ == "__main__":
    main()
