"""Encoder and decoder as separate ONNX graphs, and the checks that they compute what PyTorch does."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import cast

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from .models import Autoencoder
from .models.vae import VAE

OPSET = 17
TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """An exported graph failed its check; nothing is left behind."""


class _Encoder(nn.Module):
    def __init__(self, model: Autoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.model.kind == "vae":
            return cast(VAE, self.model).posterior(image)
        return self.model.encode(image)


class _Decoder(nn.Module):
    def __init__(self, model: Autoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model.decode(latent)


def _axes(ndim: int, spatial: bool) -> dict[int, str]:
    return {0: "batch", **({ndim - 2: "height", ndim - 1: "width"} if spatial else {})}


def export_graphs(model: Autoencoder, example: torch.Tensor, folder: Path) -> None:
    """Write encoder.onnx and decoder.onnx (legacy TorchScript exporter: dynamic_axes, no export tracing quirks)."""
    model = model.eval().cpu()
    spatial = model.image_shape[1] is None
    with torch.no_grad():
        latent = model.encode(example)
    enc_out = ["latent", "logvar"] if model.kind == "vae" else ["latent"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Encoder(model),
            (example,),
            str(folder / "encoder.onnx"),
            input_names=["image"],
            output_names=enc_out,
            dynamic_axes={"image": _axes(4, spatial), **{k: _axes(latent.ndim, spatial) for k in enc_out}},
            opset_version=OPSET,
            dynamo=False,
        )
        torch.onnx.export(
            _Decoder(model),
            (latent,),
            str(folder / "decoder.onnx"),
            input_names=["latent"],
            output_names=["image"],
            dynamic_axes={"latent": _axes(latent.ndim, spatial), "image": _axes(4, spatial)},
            opset_version=OPSET,
            dynamo=False,
        )


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_graph(sess: ort.InferenceSession, x: np.ndarray, batch: int = 1000) -> list[np.ndarray]:
    """All outputs of a one-input graph, in batches."""
    name = sess.get_inputs()[0].name
    parts = [sess.run(None, {name: x[s : s + batch].astype(np.float32)}) for s in range(0, len(x), batch)]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


def check_graphs(model: Autoencoder, folder: Path, real: torch.Tensor) -> float:
    """onnx.checker on both graphs, then onnxruntime vs PyTorch on ``real`` images; returns the max difference."""
    for fname in ("encoder.onnx", "decoder.onnx"):
        try:
            onnx.checker.check_model(onnx.load(str(folder / fname)), full_check=True)
        except Exception as exc:
            raise ExportError(f"{fname} fails onnx.checker: {exc}") from exc
    inputs = [real]
    if model.image_shape[1] is None:  # fully convolutional: also check another (padded) size
        inputs.append(real[..., : real.shape[-2] // 2, :].contiguous())
    worst = 0.0
    enc, dec = session(folder / "encoder.onnx"), session(folder / "decoder.onnx")
    model = model.eval().cpu()
    for x in inputs:
        with torch.no_grad():
            z = model.encode(x)
            expected = [z, *([cast(VAE, model).posterior(x)[1]] if model.kind == "vae" else [])]
            image = model.decode(z)
        got = run_graph(enc, x.numpy())
        got_image = run_graph(dec, z.numpy())[0]
        for want, have in [*zip(expected, got, strict=True), (image, got_image)]:
            if want.shape != have.shape:
                raise ExportError(f"onnxruntime output shape {have.shape} != PyTorch {tuple(want.shape)}")
            worst = max(worst, float(np.abs(want.numpy() - have).max()))
    if not worst <= TOLERANCE:
        raise ExportError(f"onnxruntime differs from PyTorch by {worst:.3g} (> {TOLERANCE}) on real inputs")
    return worst
