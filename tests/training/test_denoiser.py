"""The any-size denoiser: residual and any size by construction, its noise-level channel, a resumable
wall-clock run through the one trainer (``aecodec-train train denoiser``), and the one export path: two ONNX
graphs that onnxruntime runs like PyTorch, a sealed manifest with the service's noise gate."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from aecodec_training.cli import app
from aecodec_training.models.denoiser import UNKNOWN, Denoiser, DenoiserConfig
from aecodec_training.tasks.photo_denoising import NOISE_GATE, corrupt
from aecodec_wire import manifest as mf
from PIL import Image
from typer.testing import CliRunner

from .helpers import DENOISE_PHOTO as PHOTO
from .helpers import train_denoiser


def test_fresh_model_is_the_identity_at_any_even_size() -> None:
    """The last layer starts at zero: before any training, a clean (or any) input passes through exactly."""
    model = Denoiser(DenoiserConfig(width=16, depth=4)).eval()
    for shape in ((1, 3, 30, 46), (2, 3, 64, 64), (1, 3, 2, 2)):
        x = torch.rand(shape)
        with torch.no_grad():
            y = model(x, torch.full((shape[0],), UNKNOWN))
        assert torch.equal(y, x)


def test_noise_level_reaches_the_network_and_output_keeps_the_size() -> None:
    torch.manual_seed(0)
    model = Denoiser(DenoiserConfig(width=16, depth=4)).eval()
    for p in model.parameters():  # a trained-looking model: nonzero everywhere
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(1, 3, 34, 50)
    with torch.no_grad():
        latent = model.analyse(x, torch.tensor([25 / 255]))
        assert latent.shape == (1, 13, 17, 25)
        assert torch.allclose(latent[:, -1], torch.full((1, 17, 25), 25 / 255))
        blind, told = model(x, torch.tensor([UNKNOWN])), model(x, torch.tensor([25 / 255]))
    assert blind.shape == x.shape
    assert not torch.allclose(blind, told)  # the level changes the answer
    assert torch.allclose(model.synthesise(latent), told)


def test_corrupt_gives_8bit_noisy_patches_with_levels() -> None:
    gen = torch.Generator().manual_seed(0)
    clean = torch.full((256, 3, 32, 32), 128 / 255)  # an 8-bit value, as every training pixel is
    noisy, level = corrupt(clean, 50.0, gen)
    assert torch.equal(noisy, torch.round(noisy * 255) / 255)
    known = level >= 0
    assert 0.3 < known.float().mean() < 0.7 and (level[~known] == UNKNOWN).all()
    assert level[known].max() <= 50 / 255
    erased = (noisy == 0).all(dim=1).flatten(1).sum(1) >= 16  # a 4x4 black square or more
    assert 0.2 < erased.float().mean() < 0.5
    untouched = (noisy == clean).flatten(1).all(1)
    assert untouched.any()  # some patches stay clean: the model must learn to leave those alone


def train(photos: Path, cifar: Path, mnist: Path, out: Path, *extra: str) -> str:
    return train_denoiser("denoiser", photos, cifar, mnist, out, "--width", "8", "--depth", "3", *extra)


def test_training_is_resumable_and_exports_checked_graphs(
    photos_dir: Path, cifar_npz_dir: Path, mnist_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    train(photos_dir, cifar_npz_dir, mnist_dir, run, "--minutes", "0.03")
    first = torch.load(run / "checkpoint.pt", weights_only=False)
    assert first["model_name"] == "denoiser" and first["dataset"]["name"] == "photos+cifar10+mnist"
    assert first["epoch"] * 200 + first["step"] > 0
    out = train(photos_dir, cifar_npz_dir, mnist_dir, run, "--minutes", "0.06")  # a larger budget extends it
    assert "resuming" in out
    second = torch.load(run / "checkpoint.pt", weights_only=False)
    assert second["epoch"] * 200 + second["step"] > first["epoch"] * 200 + first["step"]
    assert second["seconds"] > first["seconds"]
    assert "train_loss" in (run / "train.log").read_text()

    folder = tmp_path / "models" / "denoise-test"
    result = CliRunner().invoke(app, ["export", str(run), str(folder), "--limit", "8"])
    assert result.exit_code == 0, result.output
    loaded = mf.load(folder, verify=True)
    assert loaded.input.height is None and loaded.input.width is None
    assert loaded.kind == "denoising" and loaded.latent_shape == [13, None, None]
    assert loaded.noise_gate == NOISE_GATE  # a re-export keeps the service's clean-image gate
    assert {"val_photos_s25_psnr_db", "mnist_s0.3_psnr_db"} <= set(loaded.metrics)
    assert loaded.training.epochs >= 1 and loaded.training.seconds > 0
    enc = ort.InferenceSession(str(folder / "encoder.onnx"))
    dec = ort.InferenceSession(str(folder / "decoder.onnx"))
    assert [i.name for i in enc.get_inputs()] == ["image"]
    img = np.asarray(Image.open(PHOTO).convert("RGB"))[:40, :66].transpose(2, 0, 1)[None].astype(np.float32) / 255
    latent = enc.run(None, {"image": img})[0]
    assert latent.shape == (1, 13, 20, 33) and np.all(latent[:, -1] == UNKNOWN)  # blind unless the service says
    assert dec.run(None, {"latent": latent})[0].shape == img.shape
    shutil.rmtree(folder)
