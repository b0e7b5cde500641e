"""Every registered model: shapes, parameter counts, the encode/decode contract."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import torch
from aecodec_training.models import Autoencoder, param_count, summarize
from aecodec_training.registry import REGISTRY, build_model, model_names, recipe
from aecodec_wire.manifest import ModelKind

# the manifest kind each registered model exports as: the service picks its endpoints and latent codec by it
KINDS = {
    "mlp-reference": "autoencoder",
    "mlp-relu-out": "autoencoder",
    "mlp-deep": "autoencoder",
    "mlp-narrow": "autoencoder",
    "pca": "autoencoder",
    "conv-cifar": "autoencoder",
    "mlp-denoise": "denoising",
    "mlp-sparse": "sparse",
    "mlp-vae": "vae",
    "conv-vae": "vae",
    "rd-codec": "codec",
    "hyperprior-codec": "codec",
    "gained-hyperprior-codec": "codec",
    "denoiser": "denoising",
    "denoiser-unet": "denoising",
    "denoiser-dncnn": "denoising",
}

PARAMS = {
    "mlp-reference": 784 * 196 + 196 + 196 * 49 + 49 + 49 * 196 + 196 + 196 * 784 + 784,
    "mlp-relu-out": 327_761,
    "conv-cifar": 1_495,
}


@pytest.mark.parametrize("name", model_names())
def test_shapes(name: str) -> None:
    model = build_model(name).eval()
    c, h, w = model.image_shape
    k = max(1, model.pad_multiple // 8)  # any size: a size the model codes without padding
    x = torch.rand(3, c, h or 32 * k, w or 24 * k)
    lo, hi = model.input_range
    x = lo + (hi - lo) * x
    with torch.no_grad():
        z = model.encode(x)
    # an any-size model's latent follows the image at 1/latent_stride (else 1/pad_multiple) of each side
    stride = getattr(model, "latent_stride", model.pad_multiple)
    sizes = (0, (h or 32 * k) // stride, (w or 24 * k) // stride)[: len(model.latent_shape)]
    expected = [d if d is not None else s for d, s in zip(model.latent_shape, sizes, strict=True)]
    assert list(z.shape) == [3, *expected]
    with torch.no_grad():
        out = model.decode(z)
    assert out.shape == x.shape
    if name != "pca":  # PCA's decode is linear (unbounded); the others end in an output nonlinearity
        olo, ohi = model.output_range
        assert float(out.min()) >= min(olo, 0.0) - 1e-6 and float(out.max()) <= ohi + 1e-6
    assert model.kind == KINDS[name]


def test_every_registered_model_has_a_known_manifest_kind() -> None:
    assert set(model_names()) <= set(KINDS), "add the new model's manifest kind to KINDS"
    assert set(KINDS.values()) <= set(typing.get_args(ModelKind))


@pytest.mark.parametrize(("name", "count"), PARAMS.items())
def test_param_counts(name: str, count: int) -> None:
    assert param_count(build_model(name)) == count


def test_conv_cifar_is_exactly_the_reports() -> None:
    model = build_model("conv-cifar")
    assert param_count(model) == 1495
    rows = summarize(model, torch.zeros(1, 3, 32, 32))
    assert [r[2] for r in rows if r[1] == "MaxPool2d"] == ["(1, 16, 16, 16)", "(1, 4, 8, 8)"]


def test_registry() -> None:
    with pytest.raises(KeyError, match="unknown model"):
        build_model("nope")
    assert build_model("mlp-vae", latent_dim=8).latent_shape == [8]
    assert {"denoiser", "mlp-vae", "gained-hyperprior-codec"} <= set(model_names())  # every family trains here
    for name, entry in REGISTRY.items():
        assert isinstance(entry.factory(), Autoencoder), name
        assert recipe(name).task.name in entry.recipe.task.name


def test_models_import_no_training_export_or_onnx_code() -> None:
    """The networks are plain modules: nothing under models/ reaches tasks, the trainer, export or ONNX."""
    import ast

    import aecodec_training.models as models

    for path in Path(models.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert not module.startswith(".."), f"{path.name} imports {module}"
                assert not (node.module or "").startswith(("onnx", "aecodec_training")), f"{path.name}: {module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("onnx") for a in node.names), path.name


def test_pca_matches_svd_optimum() -> None:
    torch.manual_seed(0)
    x = torch.randn(200, 1, 28, 28) * torch.linspace(0.1, 2, 784).view(1, 1, 28, 28)
    model = build_model("pca", components=10)
    model.fit(x)  # type: ignore[operator]
    err = (model.decode(model.encode(x)) - x).pow(2).sum()
    s = torch.linalg.svdvals((x.flatten(1) - x.flatten(1).mean(0)).double())
    assert torch.isclose(err.double(), s[10:].pow(2).sum(), rtol=1e-3)


def test_vae_reparameterisation_and_sampling() -> None:
    model = build_model("mlp-vae", latent_dim=4)
    x = torch.rand(5, 1, 28, 28)
    recon, mu, _ = model(x, torch.zeros(5, 4))
    torch.testing.assert_close(recon, model.decode(mu))
    assert model.sample(7).shape == (7, 1, 28, 28)  # type: ignore[operator]
