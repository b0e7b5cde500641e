"""RD training: loss = lambda * 255^2 * MSE + bits per image, on MNIST or the CIFAR-10 exact subset.

Run as ``python -m aecodec_training.codec.train --dataset mnist --lam 0.05 --out runs/mnist-codec-q1``.
A wall-clock budget (``--minutes``) bounds every level so all of them train on 1-2 shared CPU cores.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..datasets import load_dataset
from .model import CodecConfig, RDCodec

CHECKPOINT = "codec.pt"


def load_images(dataset: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """uint8 (N, C, H, W) train and test splits and the md5 of the files read."""
    # CIFAR: the exact-subset .npz pair (x (N, 32, 32, 3) uint8), read as NCHW
    ds = load_dataset("mnist" if dataset == "mnist" else "npz", data_dir)
    return np.ascontiguousarray(ds.train_x), np.ascontiguousarray(ds.test_x), ds.md5


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and random 32x32 crops of a 4-pixel reflect-padded batch (B, C, 32, 32)."""
    flip = torch.rand(len(x), generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    i, j = (int(v) for v in torch.randint(0, 9, (2,), generator=gen))
    return padded[:, :, i : i + x.shape[2], j : j + x.shape[3]]


@torch.no_grad()
def evaluate(model: RDCodec, x: torch.Tensor) -> dict[str, float]:
    """Hard-rounded PSNR (8-bit pixels, mean over images) and the prior's estimated bits per image."""
    model.eval()
    psnrs, bits = [], []
    for s in range(0, len(x), 500):
        xb = x[s : s + 500]
        y_hat = model.quantize(model.encode(xb))
        out = torch.round(model.decode(y_hat) * 255)
        mse = ((out - torch.round(xb * 255)) ** 2).flatten(1).mean(1).clamp_min(1e-10)
        psnrs.append(10 * torch.log10(255.0**2 / mse))
        bits.append(-torch.log2(model.prior.likelihood(model.prior_view(y_hat))).flatten(1).sum(1))
    model.train()
    return {"psnr_db": float(torch.cat(psnrs).mean()), "est_bytes": float(torch.cat(bits).mean() / 8)}


def train(args: argparse.Namespace) -> Path:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    train_u8, test_u8, md5 = load_images(args.dataset, Path(args.data_dir))
    train_x, test_x = torch.tensor(train_u8).float() / 255, torch.tensor(test_u8).float() / 255
    c, h = train_x.shape[1:3]
    native = h if args.dataset == "mnist" else None
    config = CodecConfig(
        channels=c,
        height=native,
        width=native,
        hidden=args.hidden,
        latent=args.latent,
        positional=args.positional and native is not None,
    )
    if args.init:  # start from a trained level: its architecture wins over the flags
        init = torch.load(Path(args.init) / CHECKPOINT, weights_only=False)
        config = CodecConfig(**init["config"])
    model = RDCodec(config)
    if args.init:
        model.load_state_dict(init["state"])
    if args.decoder_only:
        # the encoder and prior stay frozen, so the payloads (and the rate) do not change; the synthesis
        # transform learns on the hard-rounded latents it will really receive
        for p in [*model.g_a.parameters(), *model.prior.parameters()]:
            p.requires_grad_(False)
        opt = torch.optim.Adam(model.g_s.parameters(), lr=args.lr)
    else:
        prior_params = list(model.prior.parameters())
        ids = {id(p) for p in prior_params}
        opt = torch.optim.Adam(
            [
                {"params": [p for p in model.parameters() if id(p) not in ids]},
                {"params": prior_params, "lr": 3 * args.lr},
            ],
            lr=args.lr,
        )
    budget, start, step = args.minutes * 60, time.time(), 0
    steps_per_epoch = math.ceil(len(train_x) / args.batch)
    epoch, decayed = 0, False
    while time.time() - start < budget and epoch < args.epochs:
        perm = torch.randperm(len(train_x), generator=gen)
        for b in range(steps_per_epoch):
            xb = train_x[perm[b * args.batch : (b + 1) * args.batch]]
            if args.dataset != "mnist":
                xb = augment(xb, gen)
            if args.decoder_only:
                with torch.no_grad():
                    y_hat = model.quantize(model.encode(xb))
                loss = ((model.g_s(y_hat) - xb) ** 2).mean() * 255.0**2  # distortion only: the rate is fixed
            else:
                x_hat, bits = model(xb)
                mse = ((x_hat - xb) ** 2).flatten(1).mean(1)
                loss = (args.lam * 255.0**2 * mse + bits).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # GDN's divisive normalisation can blow up on a bad step (seen on CIFAR at lr 2e-3): clip, skip non-finite
            if torch.isfinite(loss) and torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip).isfinite():
                opt.step()
            step += 1
            if time.time() - start > budget:
                break
        epoch += 1
        if not decayed and time.time() - start > 0.75 * budget:  # one step down for the last quarter
            decayed = True
            for group in opt.param_groups:
                group["lr"] *= 0.2
        ev = evaluate(model, test_x[: args.eval_images])
        print(
            f"epoch {epoch} step {step} {time.time() - start:.0f}s loss {loss.item():.1f} "
            f"psnr {ev['psnr_db']:.2f} est_bytes {ev['est_bytes']:.1f}",
            flush=True,
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "config": config.as_dict(),
            "state": model.state_dict(),
            "lam": args.lam,
            "dataset": args.dataset,
            "md5": md5,
            "epochs": epoch + (init["epochs"] if args.init else 0),
            "steps": step + (init["steps"] if args.init else 0),
            "seconds": round(time.time() - start, 1) + (init["seconds"] if args.init else 0.0),
            "seed": args.seed,
            "command": (init["command"] + " && " if args.init else "")
            + "python -m aecodec_training.codec.train "
            + shlex.join(sys.argv[1:]),
            "torch": torch.__version__,
        },
        out / CHECKPOINT,
    )
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--lam", type=float, required=True, help="weight of 255^2 * MSE against bits per image")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--positional", action="store_true", help="one prior per latent element (fixed-size only)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock training budget")
    p.add_argument("--clip", type=float, default=5.0, help="gradient-norm clip")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-images", type=int, default=1000)
    p.add_argument("--out", required=True)
    p.add_argument("--init", help="run folder of a trained level to start from (its architecture is kept)")
    p.add_argument("--decoder-only", action="store_true", help="fine-tune the synthesis transform alone")
    return p


if __name__ == "__main__":
    train(parser().parse_args())
