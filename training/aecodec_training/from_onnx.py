"""PyTorch models rebuilt from their exported graphs: a VAE (for the test NLL, which samples many times), and a
shipped hyperprior codec's transforms (to convert its hyper-synthesis to integers without its checkpoint)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import onnx
import torch
from aecodec_wire.manifest import load
from onnx import numpy_helper

from .models.gained import GainedConfig, GainedHyperpriorCodec
from .models.hyperprior import HyperpriorCodec, HyperpriorConfig
from .nll import OnnxVAE
from .registry import build_model

_HYPERPRIOR = re.compile(r"^hyperprior-mean-scale-gdn-n(\d+)-m(\d+)-z(\d+)-(subpixel|transposed)(-gained\d+)?$")


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


def hyperprior_from_onnx(folder: Path, variable_rate: bool = False) -> HyperpriorCodec:
    """A hyperprior codec folder's transforms (g_a, h_a, g_s, h_s) as a ``HyperpriorCodec``, weights as stored
    (float16 graphs read back as float32). z's prior is not in the graphs: it is fitted to the manifest's tables
    (``prior``), which it then gives back to within a ten-thousandth of a bit per symbol. A variable-rate folder
    is read only when ``variable_rate`` asks for one: a ``GainedHyperpriorCodec`` with the manifest's gains."""
    manifest = load(folder, verify=False)
    found = _HYPERPRIOR.match(manifest.architecture)
    rate = manifest.variable_rate
    if found is None or (found[5] is not None or rate is not None) != variable_rate:
        wanted = "a variable-rate" if variable_rate else "a fixed-rate"
        raise ValueError(f"{folder}: architecture {manifest.architecture!r} is not {wanted} hyperprior codec")
    n, m, z, upsample = int(found[1]), int(found[2]), int(found[3]), found[4]
    weights = {}
    if rate is None:
        model: HyperpriorCodec = HyperpriorCodec(HyperpriorConfig(hidden=n, latent=m, side=z, upsample=upsample))
    else:
        model = GainedHyperpriorCodec(
            GainedConfig(hidden=n, latent=m, side=z, upsample=upsample, lambdas=tuple(rate.lambdas))
        )
        weights = {"log_gain_y": torch.tensor(rate.log_gain_y), "log_gain_z": torch.tensor(rate.log_gain_z)}
    for graph in ("encoder.onnx", "decoder.onnx", "hyper_decoder.onnx"):
        for init in onnx.load(str(folder / graph)).graph.initializer:
            name = init.name.removeprefix("model.").removesuffix(".f16")
            weights[name] = torch.from_numpy(numpy_helper.to_array(init).astype(np.float32))
    state = model.state_dict()
    transforms = [k for k in state if not k.startswith("z_prior.")]
    missing = [k for k in transforms if k not in weights]
    if missing:
        raise ValueError(f"{folder}: the graphs lack {missing[:3]}")
    model.load_state_dict({**state, **{k: weights[k] for k in transforms}})
    prior = manifest.prior
    if prior is not None:
        model.z_prior.fit_tables(np.array(prior.offsets), np.array(prior.minima), np.array(prior.counts))
    return model.eval()
