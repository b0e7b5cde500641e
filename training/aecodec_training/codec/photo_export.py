"""Export a trained photo codec run as a model folder: three ONNX graphs, the integer tables, a sealed manifest.

    python -m aecodec_training.codec.photo_export RUN --name photo-codec-q2 --wire-id 22 --data-dir PHOTOS

- encoder.onnx: image (N, 3, H, W) in [0, 1], H and W multiples of 64 -> latent y (N, M, H/16, W/16) and
  side z (N, Z, H/64, W/64)
- hyper_decoder.onnx: side z_hat -> params (N, 2M, H/16, W/16): the means, then the scales of y
- decoder.onnx: latent y_hat -> image (N, 3, H, W) clamped to [0, 1]

Each graph passes onnx.checker and matches PyTorch within ``TOLERANCE`` in onnxruntime; the manifest's metrics
are measured through the real path (ONNX -> ``HyperpriorCodec`` -> payload bytes -> back -> ONNX) on the
validation photographs at full size, and the folder is published by one rename.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from aecodec_wire.hyperprior import HyperpriorCodec as WireCodec
from aecodec_wire.manifest import (
    DatasetInfo,
    GaussianTables,
    InputSpec,
    Manifest,
    PriorTables,
    TrainingInfo,
    load,
    seal,
)
from aecodec_wire.payload import unpack_compact
from aecodec_wire.quantize import measure_stats
from torch import nn

from ..checkpoint import load_checkpoint
from ..datasets.photos import load_photos
from .hyperprior import HyperpriorCodec, HyperpriorConfig, scale_table
from .prior import TABLE_PRECISION

OPSET = 17
TOLERANCE = 1e-3  # on [0, 1] images and on latents of magnitude ~10: float32 reassociation across 16 convs
TAIL_SIGMAS = 6.2  # a table covers +-6.2 sigma (two-sided tail mass ~5.6e-10), as CompressAI's tail mass 1e-9
MAX_HALF_WIDTH = 1024


class _Encoder(nn.Module):
    def __init__(self, model: HyperpriorCodec) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.model.g_a(image)
        return y, self.model.h_a(y)


class _HyperDecoder(nn.Module):
    def __init__(self, model: HyperpriorCodec) -> None:
        super().__init__()
        self.model = model

    def forward(self, side: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.model.hyper_decode(side), dim=1)


class _Decoder(nn.Module):
    def __init__(self, model: HyperpriorCodec) -> None:
        super().__init__()
        self.model = model

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model.g_s(latent).clamp(0.0, 1.0)


GRAPHS = {
    "encoder.onnx": (_Encoder, ["image"], ["latent", "side"]),
    "hyper_decoder.onnx": (_HyperDecoder, ["side"], ["params"]),
    "decoder.onnx": (_Decoder, ["latent"], ["image"]),
}
AXES = {0: "batch", 2: "height", 3: "width"}


def gaussian_tables() -> GaussianTables:
    """Integer tables of a zero-mean Gaussian (convolved with U(-1/2, 1/2)) at each scale of ``scale_table``."""
    scales = scale_table()
    minima, counts = [], []
    for s in scales:
        half = min(MAX_HALF_WIDTH, int(np.ceil(TAIL_SIGMAS * s)))
        v = torch.arange(-half, half + 1, dtype=torch.float64)
        upper = torch.special.ndtr((v + 0.5) / float(s))
        lower = torch.special.ndtr((v - 0.5) / float(s))
        upper[-1], lower[0] = 1.0, 0.0  # tails folded into the end bins
        probs = (upper - lower).clamp_min(0.0).numpy()
        minima.append(-half)
        counts.append(np.maximum(1, np.round(probs * (1 << TABLE_PRECISION))).astype(np.int64).tolist())
    return GaussianTables(precision=TABLE_PRECISION, scales=scales.tolist(), minima=minima, counts=counts)


def export_graphs(model: HyperpriorCodec, folder: Path) -> None:
    example = torch.rand(1, 3, 128, 192)
    with torch.no_grad():
        y, z = _Encoder(model)(example)
    inputs = {"encoder.onnx": example, "hyper_decoder.onnx": torch.round(z), "decoder.onnx": y}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fname, (wrap, ins, outs) in GRAPHS.items():
            torch.onnx.export(
                wrap(model),
                (inputs[fname],),
                str(folder / fname),
                input_names=ins,
                output_names=outs,
                dynamic_axes={k: AXES for k in ins + outs},
                opset_version=OPSET,
                dynamo=False,
            )


def check_graphs(model: HyperpriorCodec, folder: Path, image: np.ndarray) -> float:
    """onnx.checker on each graph, then onnxruntime vs PyTorch on a real photograph; the worst difference."""
    x = torch.from_numpy(image.transpose(2, 0, 1)[None].astype(np.float32) / 255)
    x = x[..., : x.shape[2] // 64 * 64, : x.shape[3] // 64 * 64]
    worst = 0.0
    with torch.no_grad():
        y, z = _Encoder(model)(x)
        feeds = {"encoder.onnx": x, "hyper_decoder.onnx": torch.round(z), "decoder.onnx": torch.round(y)}
        for fname, (wrap, ins, _) in GRAPHS.items():
            onnx.checker.check_model(onnx.load(str(folder / fname)), full_check=True)
            want = wrap(model)(feeds[fname])
            want = want if isinstance(want, tuple) else (want,)
            sess = ort.InferenceSession(str(folder / fname), providers=["CPUExecutionProvider"])
            got = sess.run(None, {ins[0]: feeds[fname].numpy()})
            for w, g in zip(want, got, strict=True):
                worst = max(worst, float(np.abs(w.numpy() - g).max()))
    if not worst <= TOLERANCE:
        raise RuntimeError(f"onnxruntime differs from PyTorch by {worst:.3g} (> {TOLERANCE}) on a real photograph")
    return worst


class OnnxCodec:
    """The served path without HTTP: ONNX sessions around the wire codec, edge padding to 64 like the service."""

    def __init__(self, folder: Path) -> None:
        self.manifest = load(folder)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sessions = {
            f: ort.InferenceSession(str(folder / f), opts, providers=["CPUExecutionProvider"]) for f in GRAPHS
        }
        self.codec = WireCodec(self.manifest, self.hyper)

    def hyper(self, z_hat: np.ndarray) -> np.ndarray:
        return self.sessions["hyper_decoder.onnx"].run(None, {"side": z_hat.astype(np.float32)})[0]

    def encode(self, image: np.ndarray) -> bytes:
        """RGB uint8 (H, W, 3) -> payload bytes."""
        h, w = image.shape[:2]
        x = np.pad(image, ((0, -h % 64), (0, -w % 64), (0, 0)), mode="edge").transpose(2, 0, 1)[None]
        y, z = self.sessions["encoder.onnx"].run(None, {"image": x.astype(np.float32) / 255})
        return self.codec.encode({"latent": y, "side": z}, [(w, h)], ["RGB"])[0]

    def decode(self, data: bytes) -> np.ndarray:
        """Payload bytes -> RGB uint8 (H, W, 3)."""
        code = unpack_compact(data)
        y_hat = self.codec.decode(code)
        x = self.sessions["decoder.onnx"].run(None, {"latent": y_hat})[0][0]
        x = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)
        return x[: code.height, : code.width]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def measure(folder: Path, images: list[np.ndarray]) -> dict[str, float]:
    """Real-path mean bits per pixel (whole payload) and mean PSNR on 8-bit RGB over full-size photographs."""
    codec = OnnxCodec(folder)
    bpps, psnrs = [], []
    for img in images:
        data = codec.encode(img)
        bpps.append(8 * len(data) / (img.shape[0] * img.shape[1]))
        psnrs.append(psnr(codec.decode(data), img))
    return {"bpp": float(np.mean(bpps)), "psnr_db": float(np.mean(psnrs)), "images": float(len(images))}


def export(run: Path, out: Path, name: str, wire_id: int, data_dir: Path) -> Manifest:
    state = load_checkpoint(run)
    if state is None:
        raise SystemExit(f"no checkpoint in {run}")
    config = HyperpriorConfig(**state["config"])
    model = HyperpriorCodec(config)
    model.load_state_dict(state["model"])
    model.eval()
    photos = load_photos(data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        export_graphs(model, tmp)
        check_graphs(model, tmp, photos.val[0])
        with torch.no_grad():
            crops = [
                torch.from_numpy(img[:256, :256].transpose(2, 0, 1).copy()).float()[None] / 255 for img in photos.train
            ]
            lat = torch.cat([model.g_a(c) for c in crops if c.shape[2:] == (256, 256)]).numpy()
        offsets, minima, counts = model.z_prior.integer_tables()
        draft = Manifest(
            name=name,
            kind="codec",
            architecture=f"hyperprior-mean-scale-gdn-n{config.hidden}-m{config.latent}-z{config.side}-{config.upsample}",
            description=(
                f"Photo codec (lambda {state['lam']:g}): conv/GDN analysis and sub-pixel synthesis, latent at 1/16 "
                "of the side, mean-scale hyperprior (side latent at 1/64) with fixed Gaussian tables; compact "
                "payloads. metrics: real-path bits per pixel (whole payload) and RGB PSNR on 8-bit pixels, mean "
                "over the full-size validation photographs."
            ),
            dataset=DatasetInfo(name="photos", md5=photos.md5),
            input=InputSpec(channels=3, height=None, width=None, range=(0.0, 1.0), pad_multiple=64),
            latent_shape=[config.latent, None, None],
            latent_stride=16,
            latent_stats=measure_stats(lat),
            training=TrainingInfo(
                command=state["command"],
                epochs=int(state["step"]),
                seconds=round(float(state["elapsed_s"]), 1),
                seed=0,
                torch_version=torch.__version__,
            ),
            prior=PriorTables(
                precision=TABLE_PRECISION, offsets=offsets.tolist(), minima=minima.tolist(), counts=counts.tolist()
            ),
            gaussian=gaussian_tables(),
            side_channels=config.side,
            wire_id=wire_id,
        )
        seal(tmp, draft)
        metrics = measure(tmp, photos.val)
        sealed = seal(tmp, draft.model_copy(update={"metrics": {k: round(v, 4) for k, v in metrics.items()}}))
        if out.exists():  # swap: the old folder moves aside first, so a reader sees one or the other
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old."))
            out.rename(old / "m")
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
        return sealed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--wire-id", type=int, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None, help="model folder (default: RUN/model)")
    a = p.parse_args()
    m = export(a.run, a.out or a.run / "model", a.name, a.wire_id, a.data_dir)
    print(m.name, m.version, m.metrics)
