"""Export: ONNX == PyTorch, a manifest that validates and verifies, and nothing left behind on failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from aecodec_training import onnx_io
from aecodec_training.config import TrainConfig
from aecodec_training.export import export_run
from aecodec_training.trainer import Trainer
from aecodec_wire.manifest import load


def _train(data_dir: Path, out: Path, model: str, dataset: str = "mnist", **options: object) -> Path:
    cfg = TrainConfig(
        model=model,
        dataset=dataset,
        data_dir=str(data_dir),
        out=str(out),
        epochs=1,
        device="cpu",
        progress=False,
        options=dict(options),
        command="aecodec-train train test",
    )
    Trainer(cfg, log=lambda _m: None).fit()
    return out


@pytest.mark.parametrize(
    ("model", "options"), [("mlp-reference", {}), ("mlp-vae", {"latent_dim": 4}), ("mlp-sparse", {})]
)
def test_mlp_round_trip(mnist_dir: Path, tmp_path: Path, model: str, options: dict[str, object]) -> None:
    run = _train(mnist_dir, tmp_path / "run", model, **options)
    manifest = export_run(run, tmp_path / "models" / "m1", "m1")
    folder = tmp_path / "models" / "m1"
    assert sorted(p.name for p in folder.iterdir()) == ["decoder.onnx", "encoder.onnx", "manifest.json"]
    assert load(folder) == manifest  # the content hash verifies
    assert manifest.input.height == 28 and manifest.input.channels == 1
    assert manifest.training.command == "aecodec-train train test" and manifest.training.epochs == 1
    assert set(manifest.dataset.md5) == {p.name for p in mnist_dir.iterdir()}
    for key in ("test_mse", "psnr_db", "codec_psnr_db_8bit", "codec_psnr_db_4bit", "codec_bytes_8bit"):
        assert key in manifest.metrics
    assert manifest.metrics["codec_psnr_db_8bit"] >= manifest.metrics["codec_psnr_db_4bit"] - 0.1
    enc = ort.InferenceSession(str(folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    outputs = [o.name for o in enc.get_outputs()]
    assert outputs == (["latent", "logvar"] if model == "mlp-vae" else ["latent"])
    assert [i.name for i in enc.get_inputs()] == ["image"]
    z = enc.run(None, {"image": np.zeros((5, 1, 28, 28), np.float32)})[0]  # dynamic batch
    assert z.shape == (5, *manifest.latent_shape)
    assert not list(tmp_path.joinpath("models").glob(".*"))  # no temp folder left


def test_conv_dynamic_size(cifar_npz_dir: Path, tmp_path: Path) -> None:
    run = _train(cifar_npz_dir, tmp_path / "run", "conv-cifar", dataset="cifar10")
    manifest = export_run(run, tmp_path / "cifar", "cifar")
    assert manifest.input.height is None and manifest.input.pad_multiple == 4
    assert manifest.latent_shape == [4, None, None]
    enc = ort.InferenceSession(str(tmp_path / "cifar" / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(tmp_path / "cifar" / "decoder.onnx"), providers=["CPUExecutionProvider"])
    z = enc.run(None, {"image": np.random.rand(2, 3, 48, 20).astype(np.float32)})[0]
    assert z.shape == (2, 4, 12, 5)
    assert dec.run(None, {"latent": z})[0].shape == (2, 3, 48, 20)


def test_failed_check_leaves_nothing(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _train(mnist_dir, tmp_path / "run", "mlp-reference")
    monkeypatch.setattr(onnx_io, "TOLERANCE", -1.0)  # no graph can pass now
    with pytest.raises(onnx_io.ExportError, match="differs from PyTorch"):
        export_run(run, tmp_path / "models" / "bad", "bad")
    assert list((tmp_path / "models").iterdir()) == []


def test_failed_reexport_keeps_the_old_model(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _train(mnist_dir, tmp_path / "run", "mlp-reference")
    good = export_run(run, tmp_path / "models" / "m", "m")

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr("aecodec_training.export.export_graphs", broken)
    with pytest.raises(RuntimeError):
        export_run(run, tmp_path / "models" / "m", "m")
    assert load(tmp_path / "models" / "m") == good
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["m"]


def test_onnx_matches_torch_on_real_batch(mnist_dir: Path, tmp_path: Path) -> None:
    from aecodec_training.trainer import load_run

    run = _train(mnist_dir, tmp_path / "run", "mlp-reference")
    export_run(run, tmp_path / "m", "m")
    model, _ = load_run(run)
    x = torch.rand(7, 1, 28, 28) * 2 - 1
    got = onnx_io.run_graph(onnx_io.session(tmp_path / "m" / "encoder.onnx"), x.numpy())[0]
    np.testing.assert_allclose(got, model.encode(x).detach().numpy(), atol=1e-4)
