"""Export a trained run as a served model folder: two checked ONNX graphs and a sealed manifest.

Everything is written into a temporary sibling folder and renamed into place only after every
check passed, so a failed export never leaves a half-written model behind.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from aecodec_wire import unpack
from aecodec_wire.latent_codec import LatentCodec
from aecodec_wire.manifest import DatasetInfo, InputSpec, Manifest, TrainingInfo, load, seal
from aecodec_wire.quantize import measure_stats

from .checkpoint import load_checkpoint
from .config import TrainConfig
from .metrics import EVAL_BATCH, NEAR_ZERO, evaluate, mean_psnr, to_uint8
from .models import Autoencoder, build_model
from .onnx_io import check_graphs, export_graphs, run_graph, session
from .trainer import load_data

CHECK_IMAGES = 256  # real images the ONNX-vs-PyTorch check runs on
PROVISIONAL_VERSION = "0" * 16


def load_run(run_dir: Path) -> tuple[Autoencoder, dict[str, Any]]:
    """Rebuild the trained model from a run folder's checkpoint."""
    state = load_checkpoint(run_dir)
    if state is None:
        raise FileNotFoundError(f"no checkpoint.pt in {run_dir}: train first (aecodec-train train ... --out {run_dir})")
    model = build_model(state["model_name"], **state["model_config"])
    model.load_state_dict(state["model_state"])
    return model.eval(), state


@torch.inference_mode()
def latents_of(model: Autoencoder, x: torch.Tensor) -> np.ndarray:
    return torch.cat([model.encode(x[s : s + EVAL_BATCH]) for s in range(0, len(x), EVAL_BATCH)]).numpy()


def codec_metrics(folder: Path, manifest: Manifest, test_x: torch.Tensor, limit: int | None = None) -> dict[str, float]:
    """PSNR (8-bit pixels) after the real quantise + range-code path at 8 and 4 bits, through the ONNX graphs."""
    x = test_x[:limit].numpy() if limit else test_x.numpy()
    original = to_uint8(x, manifest.input.range)
    latents = run_graph(session(folder / "encoder.onnx"), x)[0]
    dec = session(folder / "decoder.onnx")
    codec = LatentCodec(manifest.model_copy(update={"version": manifest.version or PROVISIONAL_VERSION}))
    mode = "L" if manifest.input.channels == 1 else "RGB"
    out: dict[str, float] = {}
    for bits in (8, 4):
        payloads = codec.encode(latents, [(x.shape[3], x.shape[2])] * len(x), [mode] * len(x), bits)
        decoded = np.concatenate([codec.decode(unpack(p)) for p in payloads])
        images = run_graph(dec, decoded)[0]
        out[f"codec_psnr_db_{bits}bit"] = mean_psnr(original, to_uint8(images, manifest.output_range))
        out[f"codec_bytes_{bits}bit"] = float(np.mean([len(p) for p in payloads]))
    return out


def build_manifest(
    model: Autoencoder,
    name: str,
    state: dict[str, Any],
    stats_latents: np.ndarray,
    metrics: dict[str, float],
    description: str,
) -> Manifest:
    c, h, w = model.image_shape
    cfg = state["train_config"]
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
        training=TrainingInfo(
            command=cfg["command"] or "(not recorded)",
            epochs=state["epoch"],
            seconds=round(state["seconds"], 2),
            seed=cfg["seed"],
            torch_version=state.get("torch_version", torch.__version__),
        ),
        metrics=metrics,
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
) -> Manifest:
    """Write ``out`` (replacing it) with encoder.onnx, decoder.onnx and a sealed manifest.json."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; the service must be able to read it
    try:
        export_graphs(model, test_x[:16], tmp)
        check_graphs(model, tmp, train_x[:CHECK_IMAGES])
        metrics = evaluate(model, test_x, full=True)
        loss = metrics.pop("test_loss")
        if model.kind == "vae":
            metrics["test_loss"] = loss
        elif model.loss == "bce":
            metrics["test_bce"] = loss  # mean per-pixel binary cross-entropy, the report's CIFAR figure
        draft = build_manifest(model, name, state, latents_of(model, train_x), metrics, description)
        metrics.update(codec_metrics(tmp, draft, test_x, codec_limit))
        sealed = seal(tmp, draft.model_copy(update={"metrics": {k: round(v, 6) for k, v in metrics.items()}}))
        load(tmp)  # the folder must verify exactly as the service will verify it
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
        return sealed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_run(
    run_dir: Path,
    out: Path,
    name: str,
    description: str = "",
    data_dir: str | None = None,
    codec_limit: int | None = None,
) -> Manifest:
    """Export the model in ``run_dir``; the data is reloaded (from ``data_dir`` if given) for stats and metrics."""
    model, state = load_run(run_dir)
    cfg = TrainConfig(**state["train_config"])
    if data_dir is not None:
        cfg = replace(cfg, data_dir=data_dir)
    cfg = replace(cfg, download=False)
    data = load_data(cfg)
    train_x, test_x = data.tensors(torch.device("cpu"), *model.input_range)
    return export_model(
        model, state, train_x, test_x, out, name, description or default_description(model), codec_limit
    )


def default_description(model: Autoencoder) -> str:
    """What the metrics mean, in the manifest itself."""
    lo, hi = model.input_range
    cfg = model.config
    text = (
        f"{model.name} ({model.kind}). Test-set metrics: test_mse is on the model's input scale [{lo:g}, {hi:g}]; "
        "psnr_db is the mean per-image PSNR on 8-bit pixels with the float latent; codec_psnr_db_Nbit and "
        "codec_bytes_Nbit after the real LatentCodec quantise + range-code round trip through the ONNX graphs."
    )
    if model.kind == "denoising":
        text += (
            f" test_mse/psnr_db reconstruct clean inputs; noisy_psnr_db (corrupted input vs clean) and "
            f"denoised_psnr_db (output vs clean) use Gaussian sigma {cfg.noise_sigma:g} on the [-1, 1] scale plus "
            f"{cfg.patches} black {cfg.patch_size}x{cfg.patch_size} patch(es) per image."
        )
    if model.loss == "bce":
        text += " test_bce: mean per-pixel binary cross-entropy on [0, 1] (the training loss)."
    if model.kind == "sparse":
        text += f" near_zero_share: share of latent values with |z| < {NEAR_ZERO:g} (L1 weight {cfg.l1_weight:g})."
    if model.kind == "vae":
        text += (
            " test_elbo_nats: ELBO per image in nats (Bernoulli likelihood summed over the 784 pixels on [0, 1] "
            "intensities, one posterior sample); test_neg_elbo_nats is its negative, the training loss."
        )
    return text
