"""The any-size denoiser: photographs, CIFAR-10 and MNIST crops, Gaussian noise of random strength, erased
squares, blind and told levels, grey and colour.

Each step draws one source (photographs 50 %, CIFAR-10 25 %, MNIST 25 %) at a patch size that keeps the pixels
per step constant, then corrupts every patch on its own: Gaussian noise with a random sigma (0-55 on 0-255 for
photographs and CIFAR, 0-135 for digits, which are judged up to sigma 0.5 on [0, 1]), clipped and rounded to
8 bits as a PNG would be; a quarter of the patches also get 1-2 erased (black) squares; a tenth stay clean, so
the model learns to leave clean pixels alone. Half the patches tell the model their sigma, the other half say
UNKNOWN (blind). Photo patches are turned grey a tenth of the time, because grey images reach the model as three
equal channels. The loss is each patch's error relative to its input's (``relative_loss``).

Validation: blind PSNR on centre crops of the held-out photographs (``datasets.photos.VALIDATION``) and on MNIST
test digits. Served figures: blind PSNR through the exported graphs on the held-out photographs at full size;
at those noise levels the service's noise gate runs the model, so they are what ``/denoise`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort
import torch
from aecodec_wire.manifest import DECODER_FILE, ENCODER_FILE, Manifest, NoiseGate
from aecodec_wire.quality import psnr, psnr_per_image
from torch import nn

from .. import distributed as D
from ..datasets.idx import load_idx_dataset
from ..datasets.npz import load_npz_dataset
from ..datasets.photos import load_photos, pyramid, random_crops
from ..models import Autoencoder
from ..models.denoiser import UNKNOWN
from .base import At, Settings, Task

if TYPE_CHECKING:
    from ..config import TrainConfig

SCALES = (1.0, 0.75, 0.5)
SOURCES = ("photos", "cifar", "mnist")
SOURCE_P = (0.5, 0.25, 0.25)
SIGMA_MAX = {"photos": 55.0, "cifar": 55.0, "mnist": 135.0}  # on 0-255
P_CLEAN, P_ERASE, P_KNOWN, P_GREY = 0.1, 0.25, 0.5, 0.1
# the input error a clean patch is measured against; at (3/255)^2 the blind mode learned to change nothing
REL_FLOOR = (15 / 255) ** 2
STEPS_PER_EPOCH = 200  # a nominal epoch: validation and a checkpoint after each
EVAL_SIDE = 256  # validation photographs are centre-cropped to this side (cheap enough every epoch)
EVAL_SIGMAS = (15.0, 25.0, 50.0)
EVAL_DIGITS = 100
SERVED_SIGMAS = (15.0, 25.0, 50.0)
SERVED_DIGIT_SIGMAS = (0.1, 0.3, 0.5)
SERVED_DIGITS = 300
# when the service runs the model (measured for the shipped weights by benchmarks/denoise_gate.py: re-run it
# whenever the weights change)
NOISE_GATE = NoiseGate(clean_below=4.25, estimate_below=12.0, inpaint_erased=True)


@dataclass(frozen=True)
class PhotoDenoisingSettings(Settings):
    patch: int = 64  # photo patch side; CIFAR and MNIST batches hold as many pixels
    cifar_dir: str = ""  # a CIFAR-10 npz folder
    mnist_dir: str = ""  # the MNIST IDX folder


def relative_loss(err: torch.Tensor, noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Each patch's output MSE relative to its input's (plus a floor for clean inputs), averaged.

    A plain MSE lets the noisiest patches (digits at sigma 135 have 30x the error of photographs at 25) set
    Adam's step sizes, and the photographs then barely learn; relative to the input's own error every patch
    counts alike, and a clean patch is asked to stay as it is."""
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


def dihedral(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random flip/rotation (of the 8 dihedral ones) for the whole batch."""
    k = int(torch.randint(0, 8, (1,), generator=gen))
    x = torch.rot90(x, k % 4, dims=(2, 3))
    return x.flip(3) if k >= 4 else x


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma (what Pillow's convert("L") uses), replicated to three channels."""
    y = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    return torch.round(y * 255).div_(255).expand(-1, 3, -1, -1).contiguous()


def centre_crop(img: np.ndarray, side: int = EVAL_SIDE, multiple: int = 2) -> np.ndarray:
    """The centre side x side (or less, in whole ``multiple``s) of an (H, W, C) image."""
    h, w = img.shape[:2]
    ch, cw = min(side, h // multiple * multiple), min(side, w // multiple * multiple)
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y : y + ch, x : x + cw]


def noisy_u8(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise (sigma on 0-255), clipped and rounded to 8 bits, as a PNG of it would hold."""
    return np.clip(np.rint(image + rng.standard_normal(image.shape) * sigma), 0, 255).astype(np.uint8)


class PhotoDenoisingTask(Task):
    """Train the any-size denoiser on three sources; see the module docstring."""

    name = "photo-denoising"
    settings_type = PhotoDenoisingSettings
    settings: PhotoDenoisingSettings

    def __init__(self, cfg: TrainConfig, settings: PhotoDenoisingSettings, ctx: D.DistContext, model: Autoencoder):
        super().__init__(cfg, settings, ctx, model)
        if not settings.cifar_dir or not settings.mnist_dir:
            raise ValueError(
                "the photo denoiser trains on photographs, CIFAR-10 and MNIST: pass --cifar-dir and --mnist-dir"
            )
        self.photos = load_photos([Path(f) for f in cfg.data_dir.split(",")])
        self.pyramid = pyramid(self.photos.train, SCALES, settings.patch)
        self.cifar = load_npz_dataset(Path(settings.cifar_dir)).train_x  # (N, 3, 32, 32)
        digits = load_idx_dataset("mnist", Path(settings.mnist_dir))
        self.mnist, self.mnist_test = digits.train_x, digits.test_x  # (N, 1, 28, 28)
        self.md5 = {**self.photos.md5, **digits.md5}
        self.pad_multiple = model.pad_multiple  # the graphs take sizes in whole multiples of it

    @property
    def steps_per_epoch(self) -> int:
        return STEPS_PER_EPOCH

    @property
    def dataset_info(self) -> tuple[str, dict[str, str]]:
        return "photos+cifar10+mnist", self.md5

    def draw(self, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        """One source's uint8 patches (N, 3, h, w), as many pixels as a batch of photo patches."""
        patch, batch = self.settings.patch, self.cfg.batch_size
        source = SOURCES[int(rng.choice(3, p=SOURCE_P))]
        if source == "photos":
            return source, random_crops(self.pyramid, batch, patch, rng)
        size = 32 if source == "cifar" else 28
        n = max(1, round(batch * patch**2 / size**2))
        pool = self.cifar if source == "cifar" else self.mnist
        x = pool[rng.integers(0, len(pool), n)]
        return source, np.repeat(x, 3, axis=1) if x.shape[1] == 1 else x

    def batch(self, epoch: int, step: int, model: Autoencoder) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(clean, noisy, level), drawn from (seed, rank, epoch, step)."""
        seeds = [self.cfg.seed, self.ctx.rank, epoch, step]
        rng = np.random.default_rng(seeds)
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence(seeds).generate_state(1)[0]))
        source, pixels = self.draw(rng)
        clean = dihedral(torch.from_numpy(pixels).float().div_(255), gen)
        grey = source == "mnist"
        if source == "photos" and float(torch.rand(1, generator=gen)) < P_GREY:
            clean, grey = to_grey(clean), True
        noisy, level = corrupt(clean, SIGMA_MAX[source], gen, grey=grey)
        if grey:  # grey noise: one noise field, replicated like the image
            noisy = noisy[:, :1].expand(-1, 3, -1, -1)
        cl = torch.channels_last
        return (
            clean.contiguous(memory_format=cl).to(self.device),
            noisy.contiguous(memory_format=cl).to(self.device),
            level.to(self.device),
        )

    def loss(self, net: nn.Module, model: Autoencoder, batch: Any, gen: torch.Generator, at: At) -> Any:
        clean, noisy, level = batch
        err = ((net(noisy, level).float() - clean) ** 2).flatten(1).mean(1)
        return relative_loss(err, noisy, clean)

    @torch.inference_mode()
    def validate(self, model: Autoencoder) -> dict[str, float]:
        """Blind PSNR (dB, mean per image) on the validation photos (centre crops) and MNIST test digits."""
        was_training = model.training
        model.eval()
        gen = torch.Generator().manual_seed(1234)
        out: dict[str, float] = {}
        clean = torch.stack([torch.from_numpy(centre_crop(p).transpose(2, 0, 1).copy()) for p in self.photos.val])
        clean = clean.float().div(255).to(self.device)
        u8 = clean.mul(255).round().byte().cpu().numpy()
        blind = torch.full((len(clean),), UNKNOWN, device=self.device)
        for s in EVAL_SIGMAS:
            noise = torch.randn(clean.shape, generator=gen).to(self.device) * s / 255
            noisy = (clean + noise).clamp(0, 1).mul(255).round().div(255)
            denoised = model(noisy, blind).clamp(0, 1).mul(255).round().byte().cpu().numpy()
            out[f"photo_s{s:g}_out"] = float(psnr_per_image(u8, denoised).mean())
        d = torch.from_numpy(self.mnist_test[:EVAL_DIGITS].copy()).float().div(255).to(self.device)
        blind = torch.full((len(d),), UNKNOWN, device=self.device)
        for s in (0.1, 0.3, 0.5):
            noisy = (d + torch.randn(d.shape, generator=gen).to(self.device) * s).clamp(0, 1).mul(255).round().div(255)
            out_img = model(noisy.expand(-1, 3, -1, -1), blind).mean(1, keepdim=True)
            got = out_img.clamp(0, 1).mul(255).round().byte().cpu().numpy()
            out[f"mnist_s{s:g}_out"] = float(psnr_per_image(self.mnist_test[:EVAL_DIGITS], got).mean())
        model.train(was_training)
        return out

    def examples(self, count: int, split: str = "test") -> torch.Tensor:
        images = self.photos.val if split == "test" else self.photos.train
        crops = [centre_crop(p, 128, self.pad_multiple) for p in images[:count]]
        return torch.from_numpy(np.stack([c.transpose(2, 0, 1) for c in crops])).float() / 255

    def served_figures(
        self, model: Autoencoder, folder: Path, manifest: Manifest, limit: int | None = None
    ) -> dict[str, float]:
        """Blind PSNR through the exported graphs, as the service runs them (edge-padded to pad_multiple)."""
        enc = ort.InferenceSession(str(folder / ENCODER_FILE), providers=["CPUExecutionProvider"])
        dec = ort.InferenceSession(str(folder / DECODER_FILE), providers=["CPUExecutionProvider"])

        def run(image: np.ndarray) -> np.ndarray:
            h, w = image.shape[:2]
            m = model.pad_multiple
            x = np.pad(image, ((0, -h % m), (0, -w % m), (0, 0)), mode="edge").transpose(2, 0, 1)[None]
            latent = enc.run(None, {"image": x.astype(np.float32) / 255})[0]
            y = dec.run(None, {"latent": latent})[0][0]
            return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)[:h, :w]

        rng = np.random.default_rng(0)
        out: dict[str, float] = {}
        for s in SERVED_SIGMAS:
            scores = [psnr(run(noisy_u8(p, s, rng)), p) for p in self.photos.val]
            out[f"val_photos_s{s:g}_psnr_db"] = round(float(np.mean(scores)), 3)
        digits = self.mnist_test[: limit or SERVED_DIGITS].transpose(0, 2, 3, 1)
        for s in SERVED_DIGIT_SIGMAS:
            scores = []
            for d in digits:
                noisy = noisy_u8(d, s * 255, rng)
                scores.append(psnr(run(np.repeat(noisy, 3, axis=2)).mean(axis=2, keepdims=True).round(), d))
            out[f"mnist_s{s:g}_psnr_db"] = round(float(np.mean(scores)), 3)
        return out

    def describe(self, model: Autoencoder) -> str:
        return (
            "Any-size denoiser for photographs and digits (grey images as three equal channels): predicts the "
            "noise and subtracts it, so clean pixels pass through. Blind by default; /denoise?sigma=S (0-255) "
            "tells it the noise level (written into the latent's last channel). Trained on Gaussian noise "
            "(sigma 0-55 on photographs and CIFAR-10, 0-135 on MNIST digits) and erased squares. metrics: blind "
            "PSNR on 8-bit pixels through the ONNX graphs (at these noise levels the service's noise gate runs the "
            f"model), mean over the validation photographs ({', '.join(self.photos.val_names)}) at full size "
            "and over the first MNIST test digits."
        )

    def manifest_fields(self) -> dict[str, Any]:
        return {"noise_gate": NOISE_GATE}
