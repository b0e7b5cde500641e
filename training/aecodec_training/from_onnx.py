"""PyTorch models rebuilt from their exported graphs: a VAE (for the test NLL, which samples many times), and a
shipped hyperprior codec's transforms and z's prior fitted to its tables (to convert its hyper-synthesis to integers
without its checkpoint, or to start a run from it)."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import numpy as np
import onnx
import torch
from aecodec_wire.manifest import load
from onnx import numpy_helper

from .models.gained import GainedConfig, GainedHyperpriorCodec
from .models.hyperprior import HyperpriorCodec, HyperpriorConfig
from .models.prior import FactorizedPrior
from .nll import OnnxVAE
from .optim import minimise
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
        fit_prior_to_tables(model.z_prior, np.array(prior.offsets), np.array(prior.minima), np.array(prior.counts))
    return model.eval()


def fit_prior_to_tables(
    prior: FactorizedPrior, offsets: np.ndarray, minima: np.ndarray, counts: np.ndarray, steps: int = 500
) -> float:
    """Fit a prior's mixtures to frozen integer tables (``FactorizedPrior.integer_tables``'s output), so that a
    model rebuilt from its exported graphs, which hold no prior, starts from the prior its tables were made from:
    the bins' cross-entropy, the offsets held where the tables put them, in float64 (float32 sigmoids cannot
    resolve the tails). Returns the mean KL left, in bits per symbol."""
    fitted = copy.deepcopy(prior).double()
    fitted.start_at_tables(offsets, minima, counts)
    m = torch.from_numpy(np.asarray(offsets, dtype=np.float64))
    minimise(
        fitted.parameters(),
        lambda: fitted.table_bits(offsets, minima, counts) + 100 * ((fitted.offsets() - m) ** 2).sum(),
        steps,
    )
    seen = np.maximum(np.asarray(counts, dtype=np.float64) - 1, 0)
    target = seen / seen.sum(1, keepdims=True)
    entropy = -(target * np.log2(np.where(target > 0, target, 1))).sum(1).mean()
    with torch.no_grad():
        kl = float(fitted.table_bits(offsets, minima, counts)) - entropy
        prior.load_state_dict({k: v.float() for k, v in fitted.state_dict().items()})
    return kl
