"""Tiny ONNX models built with onnx.helper (no torch), sealed like real exports, for fast service tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from aecodec_wire import manifest as mf
from aecodec_wire.quantize import measure_stats
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _init(name: str, array: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32) if array.dtype != np.int64 else array, name)


def _mlp(folder: Path, latent: int, vae: bool, out_act: str, rng: np.random.Generator) -> None:
    """Linear encoder (PCA-like random basis) and its transpose as decoder, on 1x28x28."""
    basis = np.linalg.qr(rng.standard_normal((784, latent)))[0].astype(np.float32)  # orthonormal columns
    enc_nodes = [
        helper.make_node("Reshape", ["image", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["latent"]),
    ]
    inits = [_init("flat_shape", np.array([-1, 784], dtype=np.int64)), _init("W", basis)]
    outputs = [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["N", latent])]
    if vae:
        enc_nodes.append(helper.make_node("Mul", ["latent", "half"], ["scaled"]))
        enc_nodes.append(helper.make_node("Sub", ["scaled", "two"], ["logvar"]))
        inits += [_init("half", np.array(0.0, np.float32)), _init("two", np.array(2.0, np.float32))]
        outputs.append(helper.make_tensor_value_info("logvar", TensorProto.FLOAT, ["N", latent]))
    _save(
        helper.make_graph(
            enc_nodes,
            "encoder",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])],
            outputs,
            inits,
        ),
        folder / mf.ENCODER_FILE,
    )
    dec_nodes = [
        helper.make_node("MatMul", ["latent", "Wt"], ["flat"]),
        helper.make_node(out_act, ["flat"], ["act"])
        if out_act != "Identity"
        else helper.make_node("Identity", ["flat"], ["act"]),
        helper.make_node("Reshape", ["act", "img_shape"], ["image"]),
    ]
    _save(
        helper.make_graph(
            dec_nodes,
            "decoder",
            [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["N", latent])],
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])],
            [_init("Wt", basis.T.copy()), _init("img_shape", np.array([-1, 1, 28, 28], dtype=np.int64))],
        ),
        folder / mf.DECODER_FILE,
    )


def _conv(folder: Path, rng: np.random.Generator) -> None:
    """Any-size RGB model: 4x4 average pooling + 1x1 conv to 4 channels; transposed conv back."""
    w = rng.standard_normal((4, 3, 1, 1)).astype(np.float32)
    enc = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["pooled", "w"], ["latent"]),
    ]
    _save(
        helper.make_graph(
            enc,
            "encoder",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
            [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["N", 4, "h", "w"])],
            [_init("w", w)],
        ),
        folder / mf.ENCODER_FILE,
    )
    pinv = np.linalg.pinv(w[:, :, 0, 0]).astype(np.float32)  # (3, 4)
    wt = np.repeat(np.repeat(pinv.T[:, :, None, None], 4, axis=2), 4, axis=3)  # (4, 3, 4, 4)
    dec = [
        helper.make_node("ConvTranspose", ["latent", "wt"], ["raw"], strides=[4, 4]),
        helper.make_node("Clip", ["raw", "lo", "hi"], ["image"]),
    ]
    _save(
        helper.make_graph(
            dec,
            "decoder",
            [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["N", 4, "h", "w"])],
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
            [_init("wt", wt), _init("lo", np.array(0.0, np.float32)), _init("hi", np.array(1.0, np.float32))],
        ),
        folder / mf.DECODER_FILE,
    )


def build(root: Path, name: str, kind: str, *, seed: int = 0) -> mf.Manifest:
    """Write a sealed model folder root/name of the given kind ('autoencoder', 'denoising', 'vae', 'conv')."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    conv = kind == "conv"
    if conv:
        _conv(folder, rng)
        spec = mf.InputSpec(channels=3, range=(0.0, 1.0), pad_multiple=4)
        latent_shape: list[int | None] = [4, None, None]
        sample = rng.uniform(0, 1, (16, 3, 32, 32)).astype(np.float32)
    else:
        lo = 0.0 if kind == "vae" else -1.0
        _mlp(folder, 16, kind == "vae", "Identity", rng)
        spec = mf.InputSpec(channels=1, height=28, width=28, range=(lo, 1.0))
        latent_shape = [16]
        sample = rng.uniform(lo, 1, (64, 1, 28, 28)).astype(np.float32)
    sess = ort.InferenceSession(str(folder / mf.ENCODER_FILE), providers=["CPUExecutionProvider"])
    latents = sess.run(["latent"], {"image": sample})[0]
    manifest = mf.Manifest(
        name=name,
        kind="autoencoder" if conv else kind,
        architecture="fake-linear",
        description="test model",
        dataset=mf.DatasetInfo(name="random"),
        input=spec,
        output_range=(spec.range[0], 1.0),
        latent_shape=latent_shape,
        latent_stats=measure_stats(latents),
        training=mf.TrainingInfo(command="tests/service/fakes.py", epochs=0, seconds=0.0, seed=seed),
        metrics={"codec_psnr_db_8bit": 10.0},
    )
    return mf.seal(folder, manifest)


def build_all(root: Path) -> Path:
    build(root, "mnist-ae", "autoencoder")
    build(root, "fake-denoise", "denoising", seed=1)
    build(root, "fake-vae", "vae", seed=2)
    build(root, "fake-conv", "conv", seed=3)
    return root
