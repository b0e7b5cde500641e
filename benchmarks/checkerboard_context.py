"""What a checkerboard context (He et al. 2021) would save on top of the shipped variable-rate codec's hyperprior,
with its transforms frozen: the cheapest measure of whether the context model is worth building into the wire.

    python benchmarks/checkerboard_context.py --model models/photo-codec-vr --data-dir ../shared/data/photos \
        --data-dir ../shared/data/photos-more --minutes 30 --json results/benchmarks/checkerboard_context.json

The latent y splits into anchors ((i + j) even), coded as today with the hyperprior's means and scales, and
the other half, whose means and scales a context model predicts from the decoded anchors around them (a 5x5
convolution over the ungained anchors, zero elsewhere) and the hyperprior's own (three 1x1 layers; the last
starts at zero, so training starts from today's figures). Only the context model trains, on the frozen
model's latents of 256x256 training crops at the ten trained qualities, on the latent's hard-rounded rate
(straight-through for the means: the transforms are fixed, so the noise proxy has nothing to stand in for).
Reported at each quality on the centre 384x384 of the held-out photographs: the latent's estimated bits per
pixel without and with the context (the side information is the same in both), and PSNR (moving a mean moves
the reconstruction). A context model trained jointly with the transforms saves more; this is its floor.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from aecodec_training.datasets.photos import PhotoDataset, load_photos
from aecodec_training.from_onnx import hyperprior_from_onnx
from aecodec_training.models.gained import GainedHyperpriorCodec
from aecodec_training.models.hyperprior import SCALE_MIN
from aecodec_training.optim import gradient_step
from aecodec_wire.manifest import load
from aecodec_wire.quality import psnr_per_image
from torch import nn

CROP = 256


class CheckerboardContext(nn.Module):
    """Means and scales of the non-anchor half of y from the anchors around it and the hyperprior's own."""

    def __init__(self, m: int) -> None:
        super().__init__()
        self.context = nn.Conv2d(m, 2 * m, 5, 1, 2)
        self.parameters_net = nn.Sequential(
            nn.Conv2d(4 * m, 3 * m, 1),
            nn.LeakyReLU(),
            nn.Conv2d(3 * m, 3 * m, 1),
            nn.LeakyReLU(),
            nn.Conv2d(3 * m, 2 * m, 1),
        )
        last = self.parameters_net[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(
        self, anchors: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.cat([self.context(anchors), mu, sigma.log()], dim=1)
        d_mu, d_log_sigma = self.parameters_net(features).chunk(2, dim=1)
        return mu + d_mu, (sigma * d_log_sigma.exp()).clamp_min(SCALE_MIN)


def anchor_mask(h: int, w: int) -> torch.Tensor:
    i, j = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return ((i + j) % 2 == 0).float()[None, None]


class Frozen:
    """The shipped model's latents and hyperprior parameters at one quality, as the wire codec computes them."""

    def __init__(self, model: GainedHyperpriorCodec, offsets: torch.Tensor) -> None:
        self.model, self.offsets = model, offsets

    def latents(self, pixels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        ys, zs = [], []
        with torch.no_grad():
            for i in range(0, len(pixels), 8):
                y, z = self.model.analyse(torch.from_numpy(pixels[i : i + 8]).float() / 255)
                ys.append(y.float())
                zs.append(z.float())
        return torch.cat(ys), torch.cat(zs)

    def at(self, y: torch.Tensor, z: torch.Tensor, level: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(y * g_y, the ungained means and scales, g_y) at qualities ``level`` (B,)."""
        with torch.no_grad():
            g_y, g_z = self.model.gains(level)
            z_q = z * g_z
            z_hat = torch.round(z_q - self.offsets) + self.offsets
            mu, sigma = self.model.hyper_decode(z_hat / g_z)
        return y * g_y, mu.float(), sigma.float(), g_y


def bits(
    context: CheckerboardContext, frozen: Frozen, y: torch.Tensor, z: torch.Tensor, level: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(bits of y per image without the context, with it, the gained y_hat without it, with it)."""
    y_q, mu, sigma, g_y = frozen.at(y, z, level)
    anchors = anchor_mask(*y.shape[-2:])
    mu_q, sigma_q = mu * g_y, (sigma * g_y).clamp_min(SCALE_MIN)
    y_hat = torch.round(y_q - mu_q) + mu_q
    mu2, sigma2 = context(y_hat * anchors / g_y, mu, sigma)
    mu2_q, sigma2_q = mu2 * g_y, (sigma2 * g_y).clamp_min(SCALE_MIN)
    v = y_q - mu2_q
    y_hat2 = mu2_q + v + (torch.round(v) - v).detach()  # straight-through for the means
    gaussian = frozen.model.gaussian
    base = -torch.log2(gaussian(y_hat, mu_q, sigma_q))
    context_bits = -torch.log2(gaussian(y_hat2, mu2_q, sigma2_q))
    before = base.flatten(1).sum(1)
    after = (base * anchors + context_bits * (1 - anchors)).flatten(1).sum(1)
    return before, after, y_hat / g_y, (y_hat * anchors + y_hat2 * (1 - anchors)) / g_y


def evaluate(
    context: CheckerboardContext, frozen: Frozen, y: torch.Tensor, z: torch.Tensor, pixels: np.ndarray
) -> list[dict[str, float]]:
    rows = []
    n, _, h, w = pixels.shape
    with torch.no_grad():
        for level in range(frozen.model.levels):
            before, after, y_hat, y_hat2 = bits(context, frozen, y, z, torch.full((n,), float(level)))
            psnr = []
            for latent in (y_hat, y_hat2):
                image = (frozen.model.decode(latent) * 255).round().to(torch.uint8).numpy()
                psnr.append(float(psnr_per_image(pixels, image).mean()))
            rows.append(
                {
                    "quality": level + 1,
                    "y_bpp": float(before.sum()) / (n * h * w),
                    "y_bpp_context": float(after.sum()) / (n * h * w),
                    "psnr_db": psnr[0],
                    "psnr_db_context": psnr[1],
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/photo-codec-vr"))
    ap.add_argument("--data-dir", type=Path, action="append", required=True)
    ap.add_argument("--minutes", type=float, default=30.0, help="training time of the context model")
    ap.add_argument("--crops", type=int, default=1200, help="256x256 training crops")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = hyperprior_from_onnx(args.model, variable_rate=True)
    assert isinstance(model, GainedHyperpriorCodec)
    model.requires_grad_(False)
    prior = load(args.model, verify=False).prior
    assert prior is not None
    offsets = torch.tensor(prior.offsets, dtype=torch.float32).reshape(1, -1, 1, 1)
    frozen = Frozen(model, offsets)
    data = PhotoDataset(load_photos(list(args.data_dir)), crop=CROP)
    crops = np.concatenate([data.epoch_crops(0, e) for e in range(-(-args.crops // 1920))])[: args.crops]
    y, z = frozen.latents(crops)
    val_y, val_z = frozen.latents(data.test_x)
    context = CheckerboardContext(model.config.latent)
    optimiser = torch.optim.Adam(context.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(0)
    start, steps = time.monotonic(), 0
    while time.monotonic() - start < args.minutes * 60:
        pick = torch.randint(0, len(y), (16,), generator=generator)
        level = torch.rand(16, generator=generator) * (model.levels - 1)
        _, after, _, _ = bits(context, frozen, y[pick], z[pick], level)
        loss = after.mean() / CROP**2
        optimiser.zero_grad()
        gradient_step(loss, optimiser)
        steps += 1
    rows = evaluate(context, frozen, val_y, val_z, data.test_x)
    print("| quality | y bpp | with context | saved | PSNR dB | with context |\n|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        saved = 100 * (1 - r["y_bpp_context"] / r["y_bpp"])
        print(
            f"| {r['quality']} | {r['y_bpp']:.4f} | {r['y_bpp_context']:.4f} | {saved:.1f} % | "
            f"{r['psnr_db']:.2f} | {r['psnr_db_context']:.2f} |"
        )
    mean = float(np.mean([1 - r["y_bpp_context"] / r["y_bpp"] for r in rows]))
    print(f"{steps} steps of 16 crops in {args.minutes:g} minutes; mean saving {100 * mean:.2f} % of y's bits")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {"model": str(args.model), "minutes": args.minutes, "steps": steps, "crops": len(y), "rows": rows}
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
