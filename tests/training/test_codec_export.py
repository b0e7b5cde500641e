"""The codec through the one export path: checked graphs, prior tables and wire id in a sealed manifest,
figures measured through the real path, and the zoo's levels matching the shipped manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aecodec_training import onnx_io
from aecodec_training.config import TrainConfig
from aecodec_training.export import export_run
from aecodec_training.models.gained import LAMBDAS
from aecodec_training.realpath import round_trip
from aecodec_training.trainer import Trainer
from aecodec_training.zoo import LEVELS, commands
from aecodec_wire.manifest import load

from .helpers import REPO


@pytest.fixture(scope="module")
def codec_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .helpers import make_idx_folder

    root = tmp_path_factory.mktemp("codec")
    data = make_idx_folder(root / "mnist", n_train=128, n_test=32)
    cfg = TrainConfig(
        model="rd-codec",
        data_dir=str(data),
        out=str(root / "run"),
        epochs=1,
        batch_size=32,
        device="cpu",
        progress=False,
        options={"hidden": 8, "latent": 4, "positional": True},
        task={"lam": 3.0},
        command="aecodec-train train rd-codec --lam 3",
    )
    Trainer(cfg, log=lambda _m: None).fit()
    return root / "run"


def test_codec_export_is_a_served_codec_folder(codec_run: Path, tmp_path: Path) -> None:
    manifest = export_run(codec_run, tmp_path / "models" / "c1", "c1", wire_id=40)
    folder = tmp_path / "models" / "c1"
    assert load(folder) == manifest  # sealed: the content hash verifies
    assert manifest.kind == "codec" and manifest.wire_id == 40 and manifest.prior is not None
    assert manifest.latent_shape == [4, 4, 4] and manifest.input.pad_multiple == 1
    assert "lambda 3" in manifest.description and manifest.training.command.endswith("--lam 3")
    assert set(manifest.metrics) == {"psnr_db", "bytes", "latent_bytes", "est_latent_bytes"}
    pixels = (np.random.default_rng(0).random((8, 1, 28, 28)) * 255).astype(np.uint8)
    rt = round_trip(folder, manifest, pixels)  # the real path: compact payloads of 7 header bytes
    assert (rt.payload_bytes - rt.latent_bytes == 7).all()


def test_a_codec_needs_a_wire_id(codec_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wire id"):
        export_run(codec_run, tmp_path / "models" / "c", "c")
    assert list((tmp_path / "models").iterdir()) == []


def test_codec_graphs_are_checked_and_a_failure_leaves_nothing(
    codec_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = onnx_io.onnx.checker.check_model

    def spy(model: object, full_check: bool = False) -> None:
        calls.append(full_check)
        real(model, full_check=full_check)

    monkeypatch.setattr(onnx_io.onnx.checker, "check_model", spy)
    export_run(codec_run, tmp_path / "ok", "ok", wire_id=41)
    assert calls == [True, True]  # encoder and decoder through onnx.checker
    monkeypatch.setattr(onnx_io, "TOLERANCE", -1.0)  # onnxruntime can no longer agree with PyTorch
    with pytest.raises(onnx_io.ExportError, match="differs from PyTorch"):
        export_run(codec_run, tmp_path / "models" / "bad", "bad", wire_id=42)
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_zoo_levels_are_the_shipped_ones(name: str) -> None:
    folder = REPO / "models" / name
    level, manifest = LEVELS[name], load(folder)
    assert manifest.wire_id == level.wire_id
    lines = commands(level)
    assert all(line.startswith("aecodec-train ") for line in lines)
    assert lines[-1].startswith(f"aecodec-train export runs/{level.stages[-1].run} models/{name}")
    if manifest.variable_rate is not None:  # one model for every rate: its last stage trains it at all lambdas
        assert level.model in lines[-2] and manifest.variable_rate.lambdas == list(LAMBDAS)
        return
    if level.lam is None:  # not a codec: the recipe names the model the manifest says it is
        assert manifest.kind != "codec" and level.model in lines[0]
        return
    assert f"(lambda {level.lam:g})" in manifest.description
    arch = level.architecture
    if level.model == "rd-codec":  # the photo levels (hyperprior-codec) are any-size with the default architecture
        assert manifest.architecture == f"rd-conv-gdn-n{arch['hidden']}-m{arch['latent']}-factorized-logistic"
        assert (manifest.input.height is None) == (arch.get("size") == "any")
    else:
        assert manifest.architecture.startswith("hyperprior-") and manifest.input.height is None
    shipped_lams = [f"--lam {s.lam:g}" for s in level.stages]
    assert all(lam in manifest.training.command for lam in shipped_lams)  # same stages, same lambdas
    assert lines[-1].endswith(f"models/{name} --wire-id {level.wire_id}")


def test_the_zoo_is_exactly_the_shipped_models() -> None:
    """A recipe for every shipped model, and every model with a recipe shipped: the tests that need a shipped
    model skip where a folder lacks it (a serving install, AECODEC_SDK_TEST_MODEL_DIR), so the repository's own
    models/ losing one fails here."""
    shipped = {p.parent.name for p in (REPO / "models").glob("*/manifest.json")}
    assert shipped <= set(LEVELS), f"no recipe in zoo.py for {sorted(shipped - set(LEVELS))}"
    assert set(LEVELS) <= shipped, f"not in models/: {sorted(set(LEVELS) - shipped)}"
