"""Training of the photo codec levels: loss = lambda * 255^2 * MSE + bits per pixel, on random photo crops.

    python -m aecodec_training.codec.photo --data-dir PHOTOS --lam 0.0067 --minutes 90 --out RUN
    python -m aecodec_training.codec.photo --data-dir PHOTOS --lam 0.0018 --init RUN --minutes 30 --out RUN_Q1

Every run is resumable: the checkpoint in RUN (written atomically every few minutes) holds the weights, the
optimiser, the step, the elapsed time and the crop generator; running the same command again continues it,
and a larger ``--minutes`` extends it. ``--init`` starts a new level from a trained one (its weights only).
The lambdas follow CompressAI's MSE levels (0.0018 ... 0.0483 for about 0.1 ... 1 bit per pixel).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import load_checkpoint, save_checkpoint, write_json
from ..datasets.photos import load_photos, pyramid, random_crops
from .hyperprior import HyperpriorCodec, HyperpriorConfig

SCALES = (1.0, 0.75, 0.5)  # the training pyramid
EVAL_SIDE = 512  # validation photos are centre-cropped to at most this side (a multiple of 64)


def centre_crop(img: np.ndarray, side: int = EVAL_SIDE) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(side, h // 64 * 64), min(side, w // 64 * 64)
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y : y + ch, x : x + cw]


@torch.no_grad()
def evaluate(model: HyperpriorCodec, images: list[np.ndarray]) -> dict[str, float]:
    """Hard-rounded PSNR on 8-bit pixels and estimated bits per pixel, means over the validation photos."""
    model.eval()
    psnrs, bpps = [], []
    for img in images:
        x = torch.from_numpy(centre_crop(img).transpose(2, 0, 1).copy()).float()[None] / 255
        x_hat, bits = model.compress_estimate(x)
        mse = ((torch.round(x_hat * 255) - x * 255) ** 2).mean().clamp_min(1e-10)
        psnrs.append(float(10 * torch.log10(255.0**2 / mse)))
        bpps.append(float(bits[0]) / (x.shape[2] * x.shape[3]))
    model.train()
    return {"psnr_db": float(np.mean(psnrs)), "bpp": float(np.mean(bpps))}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, required=True, help="a folder of photographs (PNG/JPEG/WebP)")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, log, metrics")
    p.add_argument("--lam", type=float, required=True, help="rate-distortion trade-off (higher: more bits)")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget of the whole run")
    p.add_argument("--init", type=Path, help="start from this run's weights (a trained level)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--latent", type=int, default=96)
    p.add_argument("--side", type=int, default=64)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=float, default=4.0, help="minutes between checkpoints")
    return p.parse_args(argv)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    photos = load_photos(args.data_dir)
    images = pyramid(photos.train, SCALES, args.patch)
    config = HyperpriorConfig(hidden=args.hidden, latent=args.latent, side=args.side)
    state = load_checkpoint(args.out)
    init = load_checkpoint(args.init) if args.init and state is None else None
    if state is not None:
        config = HyperpriorConfig(**state["config"])
    elif init is not None:
        config = HyperpriorConfig(**init["config"])
    model = HyperpriorCodec(config).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    step, elapsed = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        step, elapsed = int(state["step"]), float(state["elapsed_s"])
    elif init is not None:
        model.load_state_dict(init["model"])
    command = "python -m aecodec_training.codec.photo " + shlex.join(sys.argv[1:])
    log = (args.out / "train.log").open("a")
    budget = args.minutes * 60
    t_start, last_save, window = time.monotonic() - elapsed, time.monotonic(), []

    def checkpoint() -> dict[str, float]:
        metrics = evaluate(model, photos.val)
        save_checkpoint(
            args.out,
            {
                "config": config.as_dict(),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "rng": rng.bit_generator.state,
                "step": step,
                "elapsed_s": time.monotonic() - t_start,
                "lam": args.lam,
                "command": command,
                "val": metrics,
                "val_names": photos.val_names,
                "data_md5": photos.md5,
            },
        )
        write_json(args.out / "metrics.json", {"step": step, "elapsed_s": time.monotonic() - t_start, **metrics})
        print(json.dumps({"step": step, "val": metrics}), file=log, flush=True)
        return metrics

    while time.monotonic() - t_start < budget:
        # the last fifth of the budget at a tenth of the learning rate: the usual late decay, by wall clock
        lr = args.lr * (0.1 if time.monotonic() - t_start > 0.8 * budget else 1.0)
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.from_numpy(random_crops(images, args.batch, args.patch, rng)).float().div_(255)
        x = x.contiguous(memory_format=torch.channels_last)
        x_hat, bits = model(x)
        mse = torch.mean((x_hat - x) ** 2)
        bpp = bits.mean() / (args.patch * args.patch)
        loss = args.lam * 255**2 * mse + bpp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        window.append((mse.item(), bpp.item()))
        if step % 50 == 0:
            m, b = np.mean(window, axis=0)
            psnr = 10 * np.log10(1 / max(m, 1e-10))
            t = time.monotonic() - t_start
            print(f"step {step} t {t / 60:.1f} min lr {lr:.1e} train psnr {psnr:.2f} bpp {b:.3f}", file=log, flush=True)
            window.clear()
        if time.monotonic() - last_save > args.save_every * 60:
            checkpoint()
            last_save = time.monotonic()
    return checkpoint()


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(train(args)))


if __name__ == "__main__":
    main()
