"""A model's ONNX graphs, and the checks that they compute what PyTorch does.

Every model says which graphs it is served as (``Autoencoder.graphs``): by default ``encoder.onnx`` (image
-> latent, plus ``logvar`` for a VAE) and ``decoder.onnx`` (latent -> image); a model with more parts (a
scale hyperprior's ``hyper_decoder.onnx``) lists one ``Graph`` more. ``export_graphs`` writes them all,
``check_graphs`` runs ``onnx.checker`` on each and compares onnxruntime with PyTorch on real inputs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper
from torch import nn

if TYPE_CHECKING:
    from .models import Autoencoder

OPSET = 17
TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """An exported graph failed its check; nothing is left behind."""


def export_graphs(model: Autoencoder, example: torch.Tensor, folder: Path) -> None:
    """Write every graph of the model (legacy TorchScript exporter: dynamic_axes, no export tracing quirks).

    A model with ``half_weights`` has its weights rounded to float16 first (in place, so every check and
    figure after this is of the weights as stored) and each graph stores them as float16 (``store_half``)."""
    model = model.eval().cpu()
    half = bool(getattr(model, "half_weights", False))
    if half:
        round_weights_to_half(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in model.graphs(example):
            torch.onnx.export(
                g.module,
                tuple(g.inputs.values()),
                str(folder / g.file),
                input_names=list(g.inputs),
                output_names=g.outputs,
                dynamic_axes=g.dynamic,
                opset_version=OPSET,
                dynamo=False,
            )
            if half:
                store_half(folder / g.file)


def round_weights_to_half(model: nn.Module) -> None:
    """Round every parameter to the nearest float16 value, so the graphs can store them at half the size."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def store_half(path: Path) -> None:
    """Store each large float32 initializer that float16 represents exactly as float16 behind a Cast node.

    The numbers the graph computes with do not change (onnxruntime folds the Casts at load time); the file is
    half the size, which keeps the photo codec levels within the shipped-model budget."""
    graph_model = onnx.load(str(path))
    casts = []
    for init in graph_model.graph.initializer:
        w = numpy_helper.to_array(init)
        if init.data_type != onnx.TensorProto.FLOAT or w.size < 256:
            continue
        half = w.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), w):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}.f16"))
        casts.append(helper.make_node("Cast", [f"{name}.f16"], [name], to=onnx.TensorProto.FLOAT))
    for node in reversed(casts):
        graph_model.graph.node.insert(0, node)
    onnx.save(graph_model, str(path))


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_graph(sess: ort.InferenceSession, x: np.ndarray, batch: int = 1000) -> list[np.ndarray]:
    """All outputs of a one-input graph, in batches."""
    name = sess.get_inputs()[0].name
    parts = [sess.run(None, {name: x[s : s + batch].astype(np.float32)}) for s in range(0, len(x), batch)]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


def check_graphs(model: Autoencoder, folder: Path, real: torch.Tensor) -> float:
    """onnx.checker on every graph, then onnxruntime vs PyTorch on ``real`` images; the largest difference."""
    model = model.eval().cpu()
    inputs = [real]
    if model.image_shape[1] is None:  # fully convolutional: also check another (padded) size
        inputs.append(real[..., : real.shape[-2] // 2, :].contiguous())
    graphs = model.graphs(real)
    for g in graphs:
        try:
            onnx.checker.check_model(onnx.load(str(folder / g.file)), full_check=True)
        except Exception as exc:
            raise ExportError(f"{g.file} fails onnx.checker: {exc}") from exc
    sessions = {g.file: session(folder / g.file) for g in graphs}
    worst = 0.0
    for x in inputs:
        for g in model.graphs(x):
            want = g.run_torch()
            have = sessions[g.file].run(None, {k: v.numpy() for k, v in g.inputs.items()})
            for w, h in zip(want, have, strict=True):
                if tuple(w.shape) != h.shape:
                    raise ExportError(f"{g.file}: onnxruntime output shape {h.shape} != PyTorch {tuple(w.shape)}")
                worst = max(worst, float(np.abs(w.numpy() - h).max()))
    tolerance = float(getattr(model, "parity_tolerance", TOLERANCE))  # deep models state their own
    if not worst <= tolerance:
        raise ExportError(f"onnxruntime differs from PyTorch by {worst:.3g} (> {tolerance}) on real inputs")
    return worst
