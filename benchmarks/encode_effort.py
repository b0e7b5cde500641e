"""What encode-time effort buys: the latent optimised for the image it codes (Yang et al. 2020, "Improving
inference for neural image compression"), per second of encoding.

    python benchmarks/encode_effort.py --model models/photo-codec-q2 --data-dir ../shared/data/photos \
        --data-dir ../shared/data/photos-more --steps 100 --json results/benchmarks/encode_effort.json

The payload format does not change: the encoder still sends round(y - mu) under the same hyperprior, only y is
no longer g_a(x) but the y that lowers this image's rate-distortion loss. Here y is optimised by Adam through
the codec's transforms read back from the shipped graphs (``from_onnx``), z (and so mu and sigma) fixed: the
decoder sees the straight-through rounded latent, the rate is the Gaussian conditional's under additive
uniform noise (the training loss). At each checkpoint the hard-rounded figures are measured as the payload
would carry them: PSNR of the decoded image, and bits per pixel: the real payload's at the start, plus the
change of the latent's estimated bits (the side information is unchanged). Images: the centre 384x384 of
each held-out validation photograph. Time: CPU seconds of the optimisation per image, on ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from aecodec_training.datasets.photos import centre_crop, load_photos
from aecodec_training.from_onnx import hyperprior_from_onnx
from aecodec_training.models.hyperprior import HyperpriorCodec
from aecodec_training.optim import gradient_step
from aecodec_training.realpath import round_trip
from aecodec_training.warm_start import trained_lambda
from aecodec_wire.manifest import load
from aecodec_wire.quality import psnr_per_image

PIXEL_SCALE = 255.0**2


def hard(
    model: HyperpriorCodec, y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor
) -> tuple[np.ndarray, torch.Tensor]:
    """(decoded uint8 images, the latent's estimated bits per image) for latent ``y``, hard-rounded."""
    with torch.no_grad():
        y_hat = torch.round(y - mu) + mu
        bits = -torch.log2(model.gaussian(y_hat, mu, sigma)).flatten(1).sum(1)
        image = model.decode(y_hat)
    return (image * 255).round().clamp(0, 255).to(torch.uint8).numpy(), bits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/photo-codec-q2"))
    ap.add_argument("--data-dir", type=Path, action="append", required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    manifest = load(args.model, verify=False)
    lam = trained_lambda(manifest.description)
    if lam is None:
        raise SystemExit(f"{args.model}: the manifest does not say its lambda")
    model = hyperprior_from_onnx(args.model)
    for p in model.parameters():
        p.requires_grad_(False)
    photos = load_photos(list(args.data_dir))
    pixels = np.stack([centre_crop(v) for v in photos.val]).transpose(0, 3, 1, 2).copy()
    n, _, h, w = pixels.shape
    x = torch.from_numpy(pixels).float() / 255
    start = round_trip(args.model, manifest, pixels)
    with torch.no_grad():
        y0, z = model.analyse(x)
        mu, sigma = model.hyper_decode(model.z_quantize(z))
    y = y0.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=args.lr)
    checkpoints = sorted({0, *(s for s in (5, 10, 25, 50, 100, 200, 400) if s <= args.steps), args.steps})
    _, bits0 = hard(model, y0, mu, sigma)
    rows, seconds = [], 0.0
    for step in range(args.steps + 1):
        if step in checkpoints:
            decoded, bits = hard(model, y.detach(), mu, sigma)
            bpp = start.payload_bytes * 8 / (h * w) + (bits - bits0).numpy() / (h * w)
            row = {
                "steps": step,
                "seconds_per_image": round(seconds / n, 2),
                "psnr_db": round(float(psnr_per_image(pixels, decoded).mean()), 3),
                "bpp": round(float(bpp.mean()), 4),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        if step == args.steps:
            break
        begin = time.process_time()
        y_ste = y + (torch.round(y - mu) + mu - y).detach()
        noisy = y + torch.rand_like(y) - 0.5
        bits = -torch.log2(model.gaussian(noisy, mu, sigma)).flatten(1).sum(1)
        mse = (model.g_s(y_ste) - x).pow(2).flatten(1).mean(1)
        loss = (lam * PIXEL_SCALE * mse + bits / (h * w)).sum()
        opt.zero_grad()
        gradient_step(loss, opt)
        seconds += time.process_time() - begin
    result = {"model": str(args.model), "lambda": lam, "images": n, "side": h, "lr": args.lr, "rows": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
