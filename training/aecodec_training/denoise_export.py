"""Export a trained denoiser run as a served model folder: two checked ONNX graphs and a sealed manifest.

    python -m aecodec_training.denoise_export RUN --out models/denoise-any --photos PHOTOS --mnist MNIST

- encoder.onnx: image (N, 3, H, W) in [0, 1], H and W even -> latent (N, 13, H/2, W/2): the pixel-unshuffled
  image, then a noise-level channel filled with UNKNOWN (-1, blind). The service writes sigma/255 into that
  last channel when a request names its noise level.
- decoder.onnx: latent -> image (N, 3, H, W) in [0, 1]: the input minus the predicted noise.

Both graphs pass onnx.checker and match PyTorch in onnxruntime on a real photograph; the manifest's metrics are
measured through the ONNX graphs on the validation photographs (blind) and on MNIST test digits, and the folder
is published by one rename (``publish.staging``).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, NoiseGate, TrainingInfo, seal
from aecodec_wire.quantize import measure_stats
from torch import nn

from .checkpoint import load_checkpoint
from .datasets.idx import load_idx_dataset
from .datasets.photos import load_photos
from .models.denoiser import SCALE, UNKNOWN, Denoiser, DenoiserConfig
from .publish import staging

OPSET = 17
TOLERANCE = 1e-4
AXES = {0: "batch", 2: "height", 3: "width"}
PHOTO_SIGMAS = (0.0, 15.0, 25.0, 50.0)
DIGIT_SIGMAS = (0.1, 0.3, 0.5)
# when the service runs the model (measured for the shipped weights by benchmarks/denoise_gate.py: re-run it
# whenever the weights change)
NOISE_GATE = NoiseGate(clean_below=4.75, estimate_below=12.0, inpaint_erased=True)


class _Encoder(nn.Module):
    def __init__(self, model: Denoiser) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model.analyse(image, torch.full_like(image[:, 0, 0, 0], UNKNOWN))


class _Decoder(nn.Module):
    def __init__(self, model: Denoiser) -> None:
        super().__init__()
        self.model = model

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model.synthesise(latent).clamp(0.0, 1.0)


def load_model(run: Path) -> tuple[Denoiser, dict]:
    state = load_checkpoint(run)
    if state is None:
        raise SystemExit(f"no checkpoint in {run}")
    model = Denoiser(DenoiserConfig(**state["config"]))
    model.load_state_dict(state["model"])
    return model.eval(), state


def export_graphs(model: Denoiser, folder: Path) -> None:
    example = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        latent = _Encoder(model)(example)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for wrap, x, name_in, name_out, fname in (
            (_Encoder, example, "image", "latent", "encoder.onnx"),
            (_Decoder, latent, "latent", "image", "decoder.onnx"),
        ):
            torch.onnx.export(
                wrap(model),
                (x,),
                str(folder / fname),
                input_names=[name_in],
                output_names=[name_out],
                dynamic_axes={name_in: AXES, name_out: AXES},
                opset_version=OPSET,
                dynamo=False,
            )


class OnnxDenoiser:
    """The served graphs without HTTP: uint8 (H, W, 3) in, uint8 out, edge-padded to even sizes like the service."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.enc = ort.InferenceSession(str(folder / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
        self.dec = ort.InferenceSession(str(folder / "decoder.onnx"), opts, providers=["CPUExecutionProvider"])

    def __call__(self, image: np.ndarray, sigma: float | None = None) -> np.ndarray:
        h, w = image.shape[:2]
        x = np.pad(image, ((0, h % SCALE), (0, w % SCALE), (0, 0)), mode="edge").transpose(2, 0, 1)[None]
        latent = self.enc.run(None, {"image": x.astype(np.float32) / 255})[0]
        if sigma is not None:
            latent[:, -1] = sigma / 255
        y = self.dec.run(None, {"latent": latent})[0][0]
        return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)[:h, :w]


def check_graphs(model: Denoiser, folder: Path, image: np.ndarray) -> float:
    """onnx.checker on both graphs, then onnxruntime vs PyTorch on a real photograph; the worst difference."""
    x = torch.from_numpy(image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2].transpose(2, 0, 1).copy())
    x = x[None].float() / 255
    sess = {
        f: ort.InferenceSession(str(folder / f), providers=["CPUExecutionProvider"])
        for f in ("encoder.onnx", "decoder.onnx")
    }
    for f in sess:
        onnx.checker.check_model(onnx.load(str(folder / f)), full_check=True)
    with torch.no_grad():
        latent = _Encoder(model)(x)
        want = _Decoder(model)(latent)
    got_latent = sess["encoder.onnx"].run(None, {"image": x.numpy()})[0]
    got = sess["decoder.onnx"].run(None, {"latent": latent.numpy()})[0]
    worst = max(float(np.abs(latent.numpy() - got_latent).max()), float(np.abs(want.numpy() - got).max()))
    if not worst <= TOLERANCE:
        raise RuntimeError(f"onnxruntime differs from PyTorch by {worst:.3g} (> {TOLERANCE}) on a real photograph")
    return worst


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * float(np.log10(255.0**2 / max(mse, 1e-10)))


def noisy_u8(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise (sigma on 0-255), clipped and rounded to 8 bits, as a PNG of it would hold."""
    return np.clip(np.rint(image + rng.standard_normal(image.shape) * sigma), 0, 255).astype(np.uint8)


def measure(folder: Path, photos: list[np.ndarray], digits: np.ndarray) -> dict[str, float]:
    """Blind PSNR through the ONNX graphs: validation photographs (full size) and MNIST test digits."""
    net = OnnxDenoiser(folder)
    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for s in PHOTO_SIGMAS:
        scores = [psnr(net(noisy_u8(p, s, rng)), p) for p in photos]
        out[f"val_photos_s{s:g}_psnr_db"] = round(float(np.mean(scores)), 3)
    for s in DIGIT_SIGMAS:
        scores = []
        for d in digits:
            noisy = noisy_u8(d, s * 255, rng)
            scores.append(psnr(net(np.repeat(noisy, 3, axis=2)).mean(axis=2, keepdims=True).round(), d))
        out[f"mnist_s{s:g}_psnr_db"] = round(float(np.mean(scores)), 3)
    return out


def export(run: Path, out: Path, name: str, photos_dir: Path, mnist_dir: Path, digits: int = 300) -> Manifest:
    model, state = load_model(run)
    photos = load_photos(photos_dir)
    mnist = load_idx_dataset("mnist", mnist_dir)
    test_digits = mnist.test_x[:digits].transpose(0, 2, 3, 1)  # (N, 28, 28, 1)
    config = model.config
    with staging(out) as tmp:
        export_graphs(model, tmp)
        worst = check_graphs(model, tmp, photos.val[0])
        with torch.no_grad():
            crops = [
                torch.from_numpy(p[:128, :128].transpose(2, 0, 1).copy()).float()[None] / 255 for p in photos.train
            ]
            lat = torch.cat([_Encoder(model)(c) for c in crops if c.shape[2:] == (128, 128)]).numpy()
        metrics = measure(tmp, photos.val, test_digits)
        metrics["onnx_max_abs_diff"] = worst
        draft = Manifest(
            name=name,
            kind="denoising",
            architecture=f"ffdnet-style residual CNN, pixel-unshuffle 2, width {config.width}, depth {config.depth}",
            description=(
                "Any-size denoiser for photographs and digits (grey images as three equal channels): predicts the "
                "noise and subtracts it, so clean pixels pass through. Blind by default; /denoise?sigma=S (0-255) "
                "tells it the noise level (written into the latent's last channel). Trained on Gaussian noise "
                "(sigma 0-55 on photographs and CIFAR-10, 0-135 on MNIST digits) and erased squares. metrics: blind "
                "PSNR on 8-bit pixels through the ONNX graphs, mean over the six validation photographs "
                f"({', '.join(photos.val_names)}) at full size and over the first {digits} MNIST test digits."
            ),
            dataset=DatasetInfo(name="photos+cifar10+mnist", md5={**photos.md5, **mnist.md5}),
            input=InputSpec(channels=3, height=None, width=None, range=(0.0, 1.0), pad_multiple=SCALE),
            output_range=(0.0, 1.0),
            latent_shape=[lat.shape[1], None, None],
            latent_stats=measure_stats(lat),
            training=TrainingInfo(
                command=state["command"],
                epochs=int(state["step"]),
                seconds=round(float(state["elapsed_s"]), 1),
                seed=0,
                torch_version=torch.__version__,
            ),
            metrics=metrics,
            noise_gate=NOISE_GATE,
        )
        sealed = seal(tmp, draft)
    return sealed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="the training run folder (checkpoint.pt)")
    p.add_argument("--out", type=Path, required=True, help="the model folder to (re)place")
    p.add_argument("--name", default="denoise-any")
    p.add_argument("--photos", type=Path, required=True)
    p.add_argument("--mnist", type=Path, required=True)
    p.add_argument("--digits", type=int, default=300, help="MNIST test digits measured for the manifest")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    m = export(args.run, args.out, args.name, args.photos, args.mnist, args.digits)
    print(m.model_dump_json(include={"name", "version", "metrics"}, indent=1))


if __name__ == "__main__":
    main()
