"""A VAE's PyTorch model rebuilt from its exported graphs (for the test NLL, which samples many times)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import onnx
import torch
from aecodec_wire.manifest import load
from onnx import numpy_helper

from .nll import OnnxVAE
from .registry import build_model


def torch_from_onnx(folder: Path) -> torch.nn.Module | None:
    """Rebuild the PyTorch VAE of an exported folder from its ONNX weights (faster than onnxruntime per sample).

    Returns None when the manifest's architecture is not a registered model whose parameters are all in the
    graphs, or when the rebuilt decoder does not reproduce decoder.onnx; callers then use ``OnnxVAE``.
    """
    name, _, config = load(folder, verify=False).architecture.partition(": ")
    try:
        model = build_model(name, **ast.literal_eval(config))
        weights = {}
        for graph in ("encoder.onnx", "decoder.onnx"):
            for init in onnx.load(str(folder / graph)).graph.initializer:
                weights[init.name.removeprefix("model.")] = torch.from_numpy(numpy_helper.to_array(init).copy())
        model.load_state_dict({k: weights[k] for k in model.state_dict()})
    except (KeyError, ValueError, SyntaxError, TypeError, RuntimeError):
        return None
    model.eval()
    z = torch.randn(64, int(model.latent_shape[0] or 0), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = model.decode(z).numpy()
    onnx_model = OnnxVAE(folder)
    (got,) = onnx_model.decoder.run(["image"], {"latent": z.numpy()})
    return model if float(np.abs(want - got).max()) < 1e-4 else None
