"""``aecodec denoise-dir`` over a folder of photographs of mixed sizes and modes, with the service's default
denoiser (the real service on loopback, the shipped models): sizes, grey, transparency, colour profiles and
camera orientation come back as they went in, the noise goes down, broken files are listed with exit code 1,
and a rerun resumes. The folder mechanics shared with the other jobs are tested in test_cli.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aecodec_wire.quality import psnr
from PIL import Image

from tests.service.photos import display_p3, srgb

from .test_cli import cli

PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "denoise_photo.png"


def noisy(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(img + rng.standard_normal(img.shape) * sigma), 0, 255).astype(np.uint8)


@pytest.fixture
def photo_tree(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Noisy photographs (RGB, grey, RGBA, JPEG turned by EXIF, odd sizes) and three broken files."""
    clean = np.asarray(Image.open(PHOTO).convert("RGB"))
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    truth: dict[str, np.ndarray] = {}
    rgb = clean[:99, :131]
    Image.fromarray(noisy(rgb, 25, 0)).save(src / "rgb.png")
    truth["rgb.png"] = rgb
    grey = np.asarray(Image.fromarray(clean).convert("L"))[:77, :153]
    Image.fromarray(noisy(grey, 25, 1)).save(src / "sub" / "grey.png")
    truth["sub/grey.png"] = grey
    rgba = np.dstack([noisy(clean[:64, :90], 25, 2), np.tile(np.linspace(0, 255, 90, dtype=np.uint8), (64, 1))])
    Image.fromarray(rgba, "RGBA").save(src / "sub" / "alpha.png", icc_profile=srgb())
    truth["sub/alpha.png"] = rgba
    turned = Image.fromarray(noisy(clean[:60, :100], 10, 3))  # stored sideways, EXIF says "rotate 90 CW"
    exif = Image.Exif()
    exif[0x0112] = 6
    turned.transpose(Image.Transpose.ROTATE_90).save(
        src / "camera.jpg", quality=95, exif=exif, icc_profile=display_p3()
    )
    truth["camera.png"] = clean[:60, :100]
    png = (src / "rgb.png").read_bytes()
    (src / "truncated.png").write_bytes(png[: len(png) // 3])
    (src / "sub" / "text.jpg").write_text("not an image\n")
    (src / "empty.webp").write_bytes(b"")
    return src, truth


def test_mixed_photographs_keep_size_and_mode_and_get_cleaner(service, photo_tree, tmp_path) -> None:
    service.require("denoise-any")
    src, truth = photo_tree
    dst = tmp_path / "out"
    code, out = cli(service, "denoise-dir", src, dst, "--concurrency", 3)
    assert code == 1, out
    assert "7 files, 4 done, 0 skipped" in out and "3 failed" in out
    for broken in ("truncated.png", "text.jpg", "empty.webp"):
        assert broken in out
    assert {p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()} == set(truth)

    with Image.open(dst / "rgb.png") as im:
        assert im.mode == "RGB" and im.size == (131, 99)
        assert (
            psnr(np.asarray(im), truth["rgb.png"]) > psnr(np.asarray(Image.open(src / "rgb.png")), truth["rgb.png"]) + 3
        )
    with Image.open(dst / "sub/grey.png") as im:
        assert im.mode == "L" and im.size == (153, 77)
        before = psnr(np.asarray(Image.open(src / "sub/grey.png")), truth["sub/grey.png"])
        assert psnr(np.asarray(im), truth["sub/grey.png"]) > before + 3
    with Image.open(dst / "sub/alpha.png") as im:
        assert im.mode == "RGBA" and im.size == (90, 64)
        assert np.array_equal(np.asarray(im)[..., 3], truth["sub/alpha.png"][..., 3])  # transparency kept
        assert im.info["icc_profile"] == srgb()
    with Image.open(dst / "camera.png") as im:
        assert im.size == (100, 60)  # upright, as a viewer shows the JPEG
        assert im.info["icc_profile"] == display_p3()  # the phone's Display P3 colours stay Display P3
        assert psnr(np.asarray(im.convert("RGB")), truth["camera.png"]) > 25

    mtimes = {p: p.stat().st_mtime_ns for p in dst.rglob("*.png")}
    code, out = cli(service, "denoise-dir", src, dst, "--quiet")
    assert code == 1 and "7 files, 0 done, 4 skipped" in out
    assert mtimes == {p: p.stat().st_mtime_ns for p in dst.rglob("*.png")}


def test_sigma_is_passed_on_and_checked(service, photo_tree, tmp_path) -> None:
    service.require("denoise-any")
    src, truth = photo_tree
    only = tmp_path / "one"
    only.mkdir()
    (only / "rgb.png").write_bytes((src / "rgb.png").read_bytes())
    code, out = cli(service, "denoise-dir", only, tmp_path / "o1", "--sigma", 25, "-q")
    assert code == 0, out
    with Image.open(tmp_path / "o1" / "rgb.png") as im:
        assert psnr(np.asarray(im), truth["rgb.png"]) > 25
    code, out = cli(service, "denoise-dir", only, tmp_path / "o2", "--sigma", 300, "-q")
    assert code == 2 and not (tmp_path / "o2").exists()
    code, out = cli(service, "denoise-dir", only, tmp_path / "o3", "--model", "mnist-denoise", "--sigma", 25, "-q")
    assert code == 1 and "noise level" in out
