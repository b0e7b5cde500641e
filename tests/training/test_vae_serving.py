"""A VAE trained with the IWAE bound through the one trainer, exported and served over HTTP: /sample, /interpolate."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from aecodec_training.cli import app
from aecodec_training.config import TrainConfig
from aecodec_training.export import export_run
from aecodec_training.trainer import Trainer, load_run
from aecodec_wire.manifest import load
from PIL import Image
from typer.testing import CliRunner

from tests.service.conftest import Running, serve

from .helpers import FIXTURES, make_idx_folder

LATENT = 6


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, torch.nn.Module]]:
    root = tmp_path_factory.mktemp("vae-serving")
    cfg = TrainConfig(
        model="mlp-vae",
        data_dir=str(make_idx_folder(root / "mnist")),
        out=str(root / "run"),
        epochs=2,
        batch_size=64,
        lr=2e-3,
        device="cpu",
        progress=False,
        schedule="cosine",
        options={"latent_dim": LATENT, "hidden": 64, "layers": 2, "act": "elu"},
        task={"k": 3, "binarize": True, "warmup_epochs": 1.0, "nll_every": 100},
        command="aecodec-train train mlp-vae test",
    )
    Trainer(cfg, log=lambda _m: None).fit()
    result = CliRunner().invoke(app, ["evaluate", str(root / "run"), "--nll-k", "50"])
    assert result.exit_code == 0, result.output
    assert "test_nll_nats" in result.output
    export_run(root / "run", root / "models" / "tiny-vae", "tiny-vae")
    model, _ = load_run(root / "run")
    with serve(root / "models") as running:
        yield running, model, root


def test_listed_as_a_vae(served: tuple[Running, torch.nn.Module, Path]) -> None:
    running, _, _ = served
    with running.client() as c:
        info = c.get("/models/tiny-vae").json()
    assert info["kind"] == "vae" and {"sample", "interpolate"} <= set(info["endpoints"])
    assert info["latent_shape"] == [LATENT]


def test_sample_is_the_decoded_prior_draw_and_repeats_for_a_seed(served: tuple[Running, torch.nn.Module, Path]) -> None:
    running, model, _ = served
    with running.client() as c:
        a = c.post("/sample?model=tiny-vae&n=6&seed=42", headers={"Accept": "application/json"}).json()
        b = c.post("/sample?model=tiny-vae&n=6&seed=42", headers={"Accept": "application/json"}).json()
        other = c.post("/sample?model=tiny-vae&n=6&seed=43", headers={"Accept": "application/json"}).json()
    assert a["images"] == b["images"] and other["images"] != a["images"]
    got = np.stack([_pixels(base64.b64decode(s)) for s in a["images"]])
    z = np.random.default_rng(42).standard_normal((6, LATENT)).astype(np.float32)  # the service's N(0, I) draw
    with torch.inference_mode():
        want = np.rint(model.decode(torch.from_numpy(z)).numpy()[:, 0] * 255)  # Bernoulli means as grey levels
    assert got.shape == (6, 28, 28)
    assert np.abs(got.astype(np.float64) - want).max() <= 1


def test_interpolate_runs_from_one_digit_to_the_other(served: tuple[Running, torch.nn.Module, Path]) -> None:
    running, model, _ = served
    x = np.load(FIXTURES / "mnist_test_48.npz")["x"][:2]
    with running.client() as c:
        r = c.post("/interpolate?model=tiny-vae&steps=5", files=[("files", _png(x[0])), ("files", _png(x[1]))])
    assert r.status_code == 200, r.text
    strip = _pixels(r.content)
    assert strip.shape == (28, 5 * 28)
    tiles = [strip[:, 28 * i : 28 * (i + 1)].astype(np.float64) for i in range(5)]
    with torch.inference_mode():
        ends = model.decode(model.encode(torch.from_numpy(x).float().div(255)[:, None])).numpy()[:, 0] * 255
    assert np.abs(tiles[0] - ends[0]).max() <= 1 and np.abs(tiles[-1] - ends[1]).max() <= 1
    assert np.abs(tiles[2] - tiles[0]).mean() > 0 and np.abs(tiles[2] - tiles[4]).mean() > 0  # a path, not a copy


def test_manifest_records_the_evaluated_nll(served: tuple[Running, torch.nn.Module, Path]) -> None:
    """`aecodec-train evaluate` measured the NLL into the run's nll.json; export sealed it into the manifest."""
    running, _, root = served
    recorded = json.loads((root / "run" / "nll.json").read_text())
    metrics = load(root / "models" / "tiny-vae").metrics
    assert metrics["test_nll_nats"] == pytest.approx(recorded["nll_nats"], abs=1e-4)
    assert metrics["test_nll_k"] == 50 and metrics["test_nll_images"] == 128  # all the fixture's test digits
    assert 0 < metrics["test_nll_nats"] <= -metrics["test_binarized_elbo_nats"]
    with running.client() as c:
        assert c.get("/models/tiny-vae").json()["version"] == load(root / "models" / "tiny-vae").version
