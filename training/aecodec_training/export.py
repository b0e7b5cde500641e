"""Export a trained run as a served model folder: two checked ONNX graphs and a sealed manifest.

One path for every model, the rate-distortion codecs included: ``export_graphs`` writes the graphs,
``check_graphs`` runs ``onnx.checker`` and onnxruntime-vs-PyTorch on real images, the figures in the manifest
are measured through the real serving path (``realpath.round_trip``), and everything is written into a
temporary folder beside the target and published by one rename (``publish.staging``) only after every
check passed, so a failed export never leaves a half-written model behind.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, TrainingInfo, load, seal
from aecodec_wire.quantize import measure_stats

from .checkpoint import load_checkpoint
from .config import Objective, TrainConfig
from .metrics import EVAL_BATCH, NEAR_ZERO, evaluate, to_uint8
from .models import Autoencoder, build_model
from .nll import NLL_DESCRIPTION, read_nll
from .onnx_io import check_graphs, export_graphs
from .publish import staging
from .realpath import PROVISIONAL_VERSION, round_trip
from .trainer import load_data

CHECK_IMAGES = 256  # real images the ONNX-vs-PyTorch check runs on
STATS_IMAGES = 5000  # training images whose latents give the manifest's latent statistics
CODEC_IMAGES = 2000  # test images a rate-distortion codec's real-path figures are measured on (default)
_LEGACY_OBJECTIVE = ("noise_sigma", "patches", "patch_size", "l1_weight", "flip")

__all__ = ["PROVISIONAL_VERSION", "export_model", "export_run", "load_run"]


def load_run(run_dir: Path) -> tuple[Autoencoder, dict[str, Any]]:
    """Rebuild the trained model from a run folder's checkpoint."""
    state = load_checkpoint(run_dir)
    if state is None:
        raise FileNotFoundError(f"no checkpoint.pt in {run_dir}: train first (aecodec-train train ... --out {run_dir})")
    config = dict(state["model_config"])
    legacy = {k: config.pop(k) for k in _LEGACY_OBJECTIVE if k in config}  # runs from before Objective
    if legacy and not state["train_config"].get("objective"):
        state["train_config"]["objective"] = Objective(**legacy).__dict__
    model = build_model(state["model_name"], **config)
    model.load_state_dict(state["model_state"])
    return model.eval(), state


@torch.inference_mode()
def latents_of(model: Autoencoder, x: torch.Tensor) -> np.ndarray:
    return torch.cat([model.encode(x[s : s + EVAL_BATCH]) for s in range(0, len(x), EVAL_BATCH)]).numpy()


def real_path_metrics(folder: Path, manifest: Manifest, test_x: torch.Tensor) -> dict[str, float]:
    """The served figures: a codec's payload bytes and PSNR; the others' at 8 and 4 bits per latent value."""
    pixels = to_uint8(test_x, manifest.input.range)
    if manifest.kind == "codec":
        rt = round_trip(folder, manifest, pixels)
        figures = {
            "psnr_db": float(rt.psnr_db.mean()),
            "bytes": float(rt.payload_bytes.mean()),
            "latent_bytes": float(rt.latent_bytes.mean()),
            "est_latent_bytes": float(rt.estimated_bits.mean() / 8),
        }
        if manifest.input.height is None:  # any size: the rate per pixel, as photo codecs are compared
            figures["bpp"] = figures["bytes"] * 8 / (pixels.shape[2] * pixels.shape[3])
        return figures
    out: dict[str, float] = {}
    for bits in (8, 4):
        rt = round_trip(folder, manifest, pixels, bits)
        out[f"codec_psnr_db_{bits}bit"] = float(rt.psnr_db.mean())
        out[f"codec_bytes_{bits}bit"] = float(rt.payload_bytes.mean())
    return out


def training_info(state: dict[str, Any]) -> TrainingInfo:
    """The exact command (chained after the commands of the runs it started from), epochs and seconds."""
    cfg = state["train_config"]
    before = state.get("lineage") or {"command": "", "epochs": 0, "seconds": 0.0}
    command = cfg["command"] or "(not recorded)"
    return TrainingInfo(
        command=f"{before['command']} && {command}" if before["command"] else command,
        epochs=before["epochs"] + state["epoch"],
        seconds=round(before["seconds"] + state["seconds"], 2),
        seed=cfg["seed"],
        torch_version=state.get("torch_version", torch.__version__),
    )


def build_manifest(
    model: Autoencoder,
    name: str,
    state: dict[str, Any],
    stats_latents: np.ndarray,
    metrics: dict[str, float],
    description: str,
    wire_id: int | None = None,
) -> Manifest:
    c, h, w = model.image_shape
    if model.kind == "codec" and wire_id is None:
        raise ValueError(f"{name}: a codec model needs a wire id (1..255, unique among served models): --wire-id")
    return Manifest(
        name=name,
        kind=model.kind,  # type: ignore[arg-type]
        architecture=model.architecture(),
        description=description,
        dataset=DatasetInfo(name=state["dataset"]["name"], md5=state["dataset"]["md5"]),
        input=InputSpec(channels=c, height=h, width=w, range=model.input_range, pad_multiple=model.pad_multiple),  # type: ignore[arg-type]
        output_range=model.output_range,
        latent_shape=model.latent_shape,
        latent_stats=measure_stats(stats_latents),
        training=training_info(state),
        metrics=metrics,
        wire_id=wire_id,
        **model.wire_fields(),
    )


def export_model(
    model: Autoencoder,
    state: dict[str, Any],
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    out: Path,
    name: str,
    description: str = "",
    codec_limit: int | None = None,
    wire_id: int | None = None,
) -> Manifest:
    """Write ``out`` (replacing it atomically) with encoder.onnx, decoder.onnx and a sealed manifest.json."""
    model = model.eval().cpu()
    objective = TrainConfig(**state["train_config"]).loss_terms
    if model.kind == "codec":
        codec_limit = codec_limit or CODEC_IMAGES
    with staging(Path(out)) as tmp:
        export_graphs(model, test_x[:16], tmp)
        check_graphs(model, tmp, train_x[:CHECK_IMAGES])
        metrics: dict[str, float] = {}
        if model.kind != "codec":  # a codec's figures are all real-path ones
            metrics = evaluate(model, test_x, objective, full=True)
            loss = metrics.pop("test_loss")
            if model.kind == "vae":
                metrics["test_loss"] = loss
            elif model.loss == "bce":
                metrics["test_bce"] = loss  # mean per-pixel binary cross-entropy, the report's CIFAR figure
        stats = latents_of(model, train_x[:STATS_IMAGES] if model.kind == "codec" else train_x)
        draft = build_manifest(
            model, name, state, stats, metrics, description or default_description(model, objective), wire_id
        )
        metrics.update(real_path_metrics(tmp, draft, test_x[:codec_limit] if codec_limit else test_x))
        metrics.update(state.get("extra_metrics", {}))
        rounding = 4 if model.kind == "codec" else 6
        sealed = seal(tmp, draft.model_copy(update={"metrics": {k: round(v, rounding) for k, v in metrics.items()}}))
        load(tmp)  # the folder must verify exactly as the service will verify it
    return sealed


def export_run(
    run_dir: Path,
    out: Path,
    name: str,
    description: str = "",
    data_dir: str | None = None,
    codec_limit: int | None = None,
    wire_id: int | None = None,
) -> Manifest:
    """Export the model in ``run_dir``; the data is reloaded (from ``data_dir`` if given) for stats and metrics."""
    model, state = load_run(run_dir)
    cfg = TrainConfig(**state["train_config"])
    if data_dir is not None:
        cfg = replace(cfg, data_dir=data_dir)
    cfg = replace(cfg, download=False)
    data = load_data(cfg)
    train_x, test_x = data.tensors(torch.device("cpu"), *model.input_range)
    state["extra_metrics"] = read_nll(run_dir)  # a VAE's test NLL, as `aecodec-train evaluate` measured it
    return export_model(model, state, train_x, test_x, out, name, description, codec_limit, wire_id)


def default_description(model: Autoencoder, objective: Objective) -> str:
    """What the metrics mean, in the manifest itself."""
    if model.kind == "codec":
        return (
            f"Rate-distortion codec (lambda {objective.lam:g}): {model.architecture()}; compact payloads "
            "(CompactCode). metrics: real-path test bytes/image (header included), PSNR on 8-bit pixels, "
            "latent bytes, and the latent bytes the integer tables estimate."
        )
    lo, hi = model.input_range
    text = (
        f"{model.name} ({model.kind}). Test-set metrics: test_mse is on the model's input scale [{lo:g}, {hi:g}]; "
        "psnr_db is the mean per-image PSNR on 8-bit pixels with the float latent; codec_psnr_db_Nbit and "
        "codec_bytes_Nbit after the real quantise + range-code round trip through the ONNX graphs."
    )
    if model.kind == "denoising":
        text += (
            f" test_mse/psnr_db reconstruct clean inputs; noisy_psnr_db (corrupted input vs clean) and "
            f"denoised_psnr_db (output vs clean) use Gaussian sigma {objective.noise_sigma:g} on the [-1, 1] scale "
            f"plus {objective.patches} black {objective.patch_size}x{objective.patch_size} patch(es) per image."
        )
    if model.loss == "bce":
        text += " test_bce: mean per-pixel binary cross-entropy on [0, 1] (the training loss)."
    if model.kind == "sparse":
        text += (
            f" near_zero_share: share of latent values with |z| < {NEAR_ZERO:g} (L1 weight {objective.l1_weight:g})."
        )
    if model.kind == "vae":
        text += (
            " test_elbo_nats: ELBO per image in nats (Bernoulli likelihood summed over the 784 pixels on [0, 1] "
            "intensities, one posterior sample); test_neg_elbo_nats is its negative, the training loss."
        )
        text += NLL_DESCRIPTION
    return text
