"""The multi-scale denoiser (``denoiser-unet``) and the DnCNN-style baseline (``denoiser-dncnn``): the identity
when fresh, any size through ``pad_multiple``, the noise-level channel, multiply-adds counted by hooks, and
each trained a few steps by ``aecodec-train train``, exported by ``aecodec-train export`` and served by the real
service with today's denoiser contract (/denoise blind and told sigma, grey, odd sizes, tiles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from aecodec_training.cli import app
from aecodec_training.models import LevelDenoiser
from aecodec_training.models.denoiser import UNKNOWN
from aecodec_training.registry import build_model
from aecodec_training.tasks.photo_denoising import NOISE_GATE
from aecodec_training.trainer import load_run
from aecodec_wire import manifest as mf
from PIL import Image
from typer.testing import CliRunner

from tests.service.conftest import serve
from tests.service.helpers import png, read

from .helpers import DENOISE_PHOTO, train_denoiser

TINY: dict[str, dict[str, Any]] = {  # small enough to train and serve in seconds
    "denoiser-unet": {"width": 8, "blocks": 1},
    "denoiser-dncnn": {"width": 8, "depth": 4},
}
SIZES = ((1, 3, 30, 46), (2, 3, 17, 33), (1, 3, 5, 7), (1, 3, 64, 48))


def built(name: str, **options: Any) -> LevelDenoiser:
    model = build_model(name, **options).eval()
    assert isinstance(model, LevelDenoiser)
    return model


def tiny(name: str, **options: Any) -> LevelDenoiser:
    return built(name, **{**TINY[name], **options})


def trained_looking(model: LevelDenoiser) -> LevelDenoiser:
    """Nonzero everywhere, so every layer (the zero-started ones too) reaches the output."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.1)
    return model


def edge_pad(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """What the service does to an image before the encoder."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % multiple, 0, -h % multiple), mode="replicate")


@pytest.mark.parametrize("name", TINY)
def test_fresh_model_is_the_identity_at_any_size(name: str) -> None:
    """Zero last layer (and zero-started residual branches): before training, any input passes through exactly."""
    for model in (tiny(name), built(name)):
        for shape in SIZES:
            x = torch.rand(shape)
            with torch.no_grad():
                assert torch.equal(model(x), x)
                assert torch.equal(model(x, torch.full((shape[0],), 25 / 255)), x)


@pytest.mark.parametrize(
    ("name", "options", "multiple"),
    [("denoiser-unet", {}, 16), ("denoiser-unet", {"levels": 3}, 8), ("denoiser-dncnn", {}, 1)],
)
def test_any_size_goes_through_pad_multiple(name: str, options: dict[str, Any], multiple: int) -> None:
    """Every size comes back at its size: the model runs on the edge-padded image the service would send (a
    multiple of ``pad_multiple``, the network's whole stride) and the padding is cropped off."""
    model = trained_looking(tiny(name, **options))
    assert model.pad_multiple == multiple
    for n, c, h, w in SIZES:
        x = torch.rand(n, c, h, w)
        padded = edge_pad(x, multiple)
        with torch.no_grad():
            y = model(x)
            latent = model.encode(padded)
            assert y.shape == x.shape
            assert latent.shape == (n, 3 * multiple**2 + 1, -(-h // multiple), -(-w // multiple))
            torch.testing.assert_close(y, model.synthesise(latent)[..., :h, :w])
    assert model.latent_shape == [3 * multiple**2 + 1, None, None]


@pytest.mark.parametrize("name", TINY)
def test_noise_level_channel_changes_the_answer(name: str) -> None:
    model = trained_looking(tiny(name))
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        latent = model.analyse(x, torch.tensor([25 / 255, UNKNOWN]))
        assert torch.equal(latent[0, -1], torch.full(latent.shape[-2:], 25 / 255))
        assert torch.equal(latent[1, -1], torch.full(latent.shape[-2:], UNKNOWN))
        assert torch.equal(model.encode(x)[:, -1], torch.full_like(latent[:, -1], UNKNOWN))  # blind unless told
        blind, told = model(x), model(x, torch.full((2,), 25 / 255))
        other = model(x, torch.full((2,), 50 / 255))
    assert not torch.allclose(blind, told) and not torch.allclose(told, other)
    torch.testing.assert_close(model.synthesise(latent)[0], told[0])


def test_multiply_adds_are_counted_by_hooks() -> None:
    """The hooks agree with the hand counts: FFDNet (9 x (13 w + (d - 2) w^2 + 12 w) per half-resolution
    position), DnCNN (9 x (4 w + (d - 2) w^2 + 3 w) per pixel), and a U-Net's strided and transposed convs;
    the default U-Net is sized at 100-200 k per pixel (the 1 s budget, benchmarks/denoiser_size.py)."""
    assert built("denoiser").macs_per_pixel() == 9 * (13 * 32 + 6 * 32 * 32 + 32 * 12) / 4
    assert built("denoiser-dncnn").macs_per_pixel() == 9 * (4 * 64 + 15 * 64 * 64 + 64 * 3)
    unet = tiny("denoiser-unet", levels=3, max_mult=2)  # widths 8/16/16, one block a side
    convs = 9 * 13 * 8 / 4 + 9 * 8 * 12 / 4  # head and tail at 1/2
    convs += 2 * 2 * 9 * 8 * 8 / 4 + 2 * 2 * 9 * 16 * 16 / 16 + 2 * 9 * 16 * 16 / 64  # blocks at 1/2, 1/4, 1/8
    strided = 2 * (4 * 8 * 16 / 16 + 4 * 16 * 16 / 64)  # 2x2 down and up between the levels
    assert unet.macs_per_pixel() == pytest.approx(convs + strided)
    assert 100_000 <= built("denoiser-unet").macs_per_pixel() <= 200_000


def test_unet_sees_far_beyond_the_plain_stack() -> None:
    """The point of the levels: one pixel changes outputs over 100 pixels away (the FFDNet stack: 17)."""

    def reach(model: LevelDenoiser) -> int:
        x = torch.rand(1, 3, 256, 256)
        y = x.clone()
        y[..., 128, 128] += 0.5
        with torch.no_grad():
            moved = (model(x) - model(y)).abs().amax(dim=(0, 1)) > 0
        rows, cols = torch.nonzero(moved, as_tuple=True)
        return int(max((rows - 128).abs().max(), (cols - 128).abs().max()))

    assert reach(trained_looking(built("denoiser-unet"))) > 100
    assert reach(trained_looking(built("denoiser"))) <= 17


def whole_image(folder: Path, image: np.ndarray, multiple: int, level: float | None = None) -> np.ndarray:
    """The exported graphs on the whole (edge-padded) image in onnxruntime, as uint8: what /denoise should give."""
    h, w = image.shape[:2]
    x = np.pad(image, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="edge")
    latent = ort.InferenceSession(str(folder / "encoder.onnx")).run(
        None, {"image": x.transpose(2, 0, 1)[None] / np.float32(255)}
    )[0]
    if level is not None:
        latent[:, -1] = level
    y = ort.InferenceSession(str(folder / "decoder.onnx")).run(None, {"latent": latent})[0][0]
    return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)[:h, :w]


def noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(image + rng.standard_normal(image.shape) * sigma), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", TINY)
def test_trained_exported_and_served_like_the_denoiser(
    name: str, photos_dir: Path, cifar_npz_dir: Path, mnist_dir: Path, tmp_path: Path
) -> None:
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY[name].items()]
    run = tmp_path / "run"
    train_denoiser(name, photos_dir, cifar_npz_dir, mnist_dir, run, "--minutes", "0.02", "--ema", "0.9", *flags)
    folder = tmp_path / "models" / "tiny"
    result = CliRunner().invoke(app, ["export", str(run), str(folder), "--limit", "8"])
    assert result.exit_code == 0, result.output

    # the manifest states today's denoiser contract, at the model's own stride
    model, _ = load_run(run)
    assert isinstance(model, LevelDenoiser)
    p = model.pad_multiple
    manifest = mf.load(folder, verify=True)
    assert manifest.kind == "denoising" and manifest.noise_gate == NOISE_GATE
    assert manifest.input.pad_multiple == p and manifest.latent_shape == [3 * p * p + 1, None, None]
    assert {"val_photos_s25_psnr_db", "mnist_s0.3_psnr_db"} <= set(manifest.metrics)

    # onnxruntime runs the graphs like PyTorch, blind and told a level
    photo = np.asarray(Image.open(DENOISE_PHOTO).convert("RGB"))
    x = edge_pad(torch.from_numpy(photo[:45, :71].transpose(2, 0, 1).copy())[None].float() / 255, p)
    enc = ort.InferenceSession(str(folder / "encoder.onnx"))
    dec = ort.InferenceSession(str(folder / "decoder.onnx"))
    latent = enc.run(None, {"image": x.numpy()})[0]
    assert latent.shape == (1, 3 * p * p + 1, x.shape[2] // p, x.shape[3] // p) and np.all(latent[:, -1] == UNKNOWN)
    with torch.no_grad():
        for level in (UNKNOWN, 25 / 255):
            latent[:, -1] = level
            want = model(x, torch.tensor([level])).clamp(0, 1).numpy()
            np.testing.assert_allclose(dec.run(None, {"latent": latent})[0], want, atol=1e-4)

    # the real service serves the folder as it serves denoise-any
    dirty = noisy(photo[:117, :159], 25)  # odd size; the noise gate runs the model at this level
    grey = noisy(np.asarray(Image.open(DENOISE_PHOTO).convert("L"))[:61, :83], 25, seed=1)
    big = noisy(np.tile(photo, (2, 2, 1))[:203, :250], 25, seed=2)
    headers = {"Content-Type": "image/png"}
    with serve(folder.parent) as running, running.client() as c:
        blind = c.post("/denoise?model=tiny", content=png(dirty), headers=headers)
        told = c.post("/denoise?model=tiny&sigma=25", content=png(dirty), headers=headers)
        grey_out = c.post("/denoise?model=tiny", content=png(grey), headers=headers)
        assert blind.status_code == told.status_code == grey_out.status_code == 200, blind.text
        running.app.state.service.pipeline.tile_px = 2 * max(p, 16)  # a few cells a tile: many tiles
        tiled = c.post("/denoise?model=tiny", content=png(big), headers=headers)
        assert tiled.status_code == 200, tiled.text
    assert blind.headers["X-Aecodec-Model"] == "tiny"
    for r, want in ((blind, whole_image(folder, dirty, p)), (told, whole_image(folder, dirty, p, 25 / 255))):
        out = np.asarray(read(r.content))
        assert out.shape == dirty.shape
        assert np.abs(out.astype(int) - want).max() <= 1  # the service's answer is the graphs' answer
    grey_img = read(grey_out.content)
    assert grey_img.mode == "L" and grey_img.size == (83, 61)
    diff = np.abs(np.asarray(read(tiled.content)).astype(int) - whole_image(folder, big, p))
    assert diff.max() <= 1, f"tiles differ from the whole-image run by up to {diff.max()} levels"
