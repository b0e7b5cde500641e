"""Export a trained RD codec run as a model folder of kind "codec": ONNX graphs + sealed manifest with the
integer prior tables, measured through the real path (ONNX encoder -> PriorCodec -> ONNX decoder).

``python -m aecodec_training.codec.export runs/mnist-codec-q1 --name mnist-codec-q1 --wire-id 1``
"""

from __future__ import annotations

import argparse
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, PriorTables, TrainingInfo, load, seal
from aecodec_wire.prior_codec import PriorCodec, unpack_compact
from aecodec_wire.quantize import measure_stats
from torch import nn

from .model import CodecConfig, RDCodec
from .prior import TABLE_PRECISION
from .train import CHECKPOINT, load_images

OPSET = 17


class _Graph(nn.Module):
    """One half of the codec as its own graph (the model is a submodule so its weights export as initialisers)."""

    def __init__(self, model: RDCodec, part: str) -> None:
        super().__init__()
        self.model, self.part = model, part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x) if self.part == "encode" else self.model.decode(x)


def load_codec(run: Path) -> tuple[RDCodec, dict]:
    state = torch.load(run / CHECKPOINT, weights_only=False)
    model = RDCodec(CodecConfig(**state["config"]))
    model.load_state_dict(state["state"])
    return model.eval(), state


def export_onnx(model: RDCodec, example: torch.Tensor, folder: Path) -> None:
    """encoder.onnx: image (N, C, H, W) -> latent; decoder.onnx: latent -> image, dynamic batch (and size)."""
    spatial = model.config.height is None
    img_axes = {0: "batch", **({2: "height", 3: "width"} if spatial else {})}
    lat_axes = {0: "batch", **({2: "lh", 3: "lw"} if spatial else {})}
    with torch.no_grad():
        latent = model.encode(example)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Graph(model, "encode"),
            (example,),
            str(folder / "encoder.onnx"),
            input_names=["image"],
            output_names=["latent"],
            dynamic_axes={"image": img_axes, "latent": lat_axes},
            opset_version=OPSET,
            dynamo=False,
        )
        torch.onnx.export(
            _Graph(model, "decode"),
            (latent,),
            str(folder / "decoder.onnx"),
            input_names=["latent"],
            output_names=["image"],
            dynamic_axes={"latent": lat_axes, "image": img_axes},
            opset_version=OPSET,
            dynamo=False,
        )


def measure(folder: Path, manifest: Manifest, x: np.ndarray) -> dict[str, float]:
    """Real-path bytes/image and PSNR, plus the prior's estimated bits from the integer tables."""
    enc = ort.InferenceSession(str(folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    xf = x.astype(np.float32) / 255
    latents = enc.run(None, {"image": xf})[0]
    codec = PriorCodec(manifest)
    mode = "L" if x.shape[1] == 1 else "RGB"
    payloads = codec.encode(latents, [(x.shape[3], x.shape[2])] * len(x), [mode] * len(x))
    decoded = np.concatenate([codec.decode(unpack_compact(p)) for p in payloads])
    out = np.clip(np.rint(dec.run(None, {"latent": decoded})[0] * 255), 0, 255)
    mse = ((out - x.astype(np.float64)) ** 2).reshape(len(x), -1).mean(1)
    probs = np.asarray(manifest.prior.counts, np.float64)  # type: ignore[union-attr]
    probs /= probs.sum(1, keepdims=True)
    est = [-np.log2(np.take_along_axis(probs, codec.symbols(lat).reshape(len(probs), -1), 1)).sum() for lat in latents]
    return {
        "psnr_db": float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10)))),
        "bytes": float(np.mean([len(p) for p in payloads])),
        "latent_bytes": float(np.mean([len(unpack_compact(p).data) for p in payloads])),
        "est_latent_bytes": float(np.mean(est) / 8),
    }


def measure_and_seal(folder: Path, manifest: Manifest, x: np.ndarray) -> Manifest:
    """Write the real-path metrics on x into the manifest and seal it (the version covers them)."""
    metrics = measure(folder, manifest, x)
    return seal(folder, manifest.model_copy(update={"metrics": {k: round(v, 4) for k, v in metrics.items()}}))


def export(run: Path, out: Path, name: str, wire_id: int, data_dir: str, limit: int = 2000) -> Manifest:
    model, state = load_codec(run)
    cfg = model.config
    train_u8, test_u8, md5 = load_images(state["dataset"], Path(data_dir))
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    export_onnx(model, torch.tensor(test_u8[:4]).float() / 255, tmp)
    with torch.no_grad():
        lat = torch.cat(
            [model.encode(torch.tensor(train_u8[s : s + 500]).float() / 255) for s in range(0, 5000, 500)]
        ).numpy()
    offsets, minima, counts = model.prior.integer_tables()
    size = cfg.height
    draft = Manifest(
        name=name,
        kind="codec",
        architecture=f"rd-conv-gdn-n{cfg.hidden}-m{cfg.latent}-factorized-logistic",
        description=(
            f"Rate-distortion codec (lambda {state['lam']:g}): conv/GDN analysis and synthesis, "
            "factorised logistic-mixture prior; compact payloads (CompactCode). metrics: real-path test "
            "bytes/image (header included), PSNR on 8-bit pixels, estimated latent bytes from the tables."
        ),
        dataset=DatasetInfo(name="mnist" if state["dataset"] == "mnist" else "cifar10-exact-subset", md5=md5),
        input=InputSpec(
            channels=cfg.channels,  # type: ignore[arg-type]
            height=size,
            width=size,
            range=(0.0, 1.0),  # type: ignore[arg-type]
            pad_multiple=1 if size else 8,
        ),
        latent_shape=[cfg.latent, *(lat.shape[2:] if size else (None, None))],
        latent_stats=measure_stats(lat),
        training=TrainingInfo(
            command=state["command"],
            epochs=state["epochs"],
            seconds=state["seconds"],
            seed=state["seed"],
            torch_version=state["torch"],
        ),
        prior=PriorTables(
            precision=TABLE_PRECISION, offsets=offsets.tolist(), minima=minima.tolist(), counts=counts.tolist()
        ),
        wire_id=wire_id,
    )
    sealed = measure_and_seal(tmp, draft, test_u8[:limit])
    load(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return sealed


def remeasure(folder: Path, data_dir: str, limit: int = 2000) -> Manifest:
    """Measure an exported model folder again (after a change of the payload layout) and reseal its manifest."""
    manifest = load(folder)
    dataset = "mnist" if manifest.dataset.name == "mnist" else "cifar10"
    _, test_u8, _ = load_images(dataset, Path(data_dir))
    return measure_and_seal(folder, manifest, test_u8[:limit])


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", type=Path, help="training run folder (with --remeasure: an exported model folder)")
    p.add_argument("--name")
    p.add_argument("--wire-id", type=int)
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--out", type=Path, default=None, help="model folder (default: <run>/model)")
    p.add_argument("--remeasure", action="store_true", help="re-measure the metrics of an exported model folder")
    a = p.parse_args()
    if a.remeasure:
        m = remeasure(a.run, a.data_dir)
    elif a.name is None or a.wire_id is None:
        p.error("--name and --wire-id are required to export a run")
    else:
        m = export(a.run, a.out or a.run / "model", a.name, a.wire_id, a.data_dir)
    print(m.name, m.version, m.metrics)
