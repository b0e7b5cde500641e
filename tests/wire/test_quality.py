"""The one PSNR (aecodec_wire.quality): 8-bit pixels per image, capped at 100 dB (an exact copy is finite)."""

from __future__ import annotations

import numpy as np
import pytest
from aecodec_wire.quality import MAX_PSNR_DB, mean_psnr, psnr, psnr_per_image, ssim, ssim_per_image


def test_exact_copy_is_the_cap_and_means_stay_finite() -> None:
    x = np.random.default_rng(0).integers(0, 256, (3, 1, 28, 28), dtype=np.uint8)
    assert MAX_PSNR_DB == 100.0
    assert psnr_per_image(x, x).tolist() == [100.0, 100.0, 100.0]
    y = x.copy()
    y[1] ^= 8  # one image changed everywhere
    assert np.isfinite(mean_psnr(x, y)) and mean_psnr(x, y) < 100


def test_known_values_and_the_cap_on_near_copies() -> None:
    a = np.zeros((1, 1, 28, 28), np.uint8)
    b = a.copy()
    b[0, 0, 0, 0] = 16  # MSE 256 / 784
    assert psnr_per_image(a, b)[0] == pytest.approx(10 * np.log10(255**2 * 784 / 256))
    big = np.zeros((1, 1, 1024, 1024), np.uint8)
    near = big.copy()
    near[0, 0, 0, 0] = 1  # 108 dB uncapped: never above an exact copy
    assert psnr_per_image(big, near)[0] == MAX_PSNR_DB


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="different shapes"):
        psnr_per_image(np.zeros((2, 1, 4, 4)), np.zeros((2, 1, 4, 5)))


def test_ssim_of_a_copy_is_one_and_noise_lowers_it() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    assert ssim(img, img) == pytest.approx(1.0)
    noisy = np.clip(img.astype(int) + rng.integers(-40, 41, img.shape), 0, 255).astype(np.uint8)
    assert 0 < ssim(img, noisy) < 0.99
    batch = np.stack([img, noisy]).transpose(0, 3, 1, 2)
    assert ssim_per_image(batch, batch).tolist() == pytest.approx([1.0, 1.0])
    assert psnr(img, noisy) == pytest.approx(psnr_per_image(img[None], noisy[None])[0])
