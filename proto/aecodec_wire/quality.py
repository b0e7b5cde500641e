"""How close a decoded image is to its original: PSNR and SSIM on 8-bit pixels, numpy only.

The one definition of both for the whole project: the service (``/compare``), training (validation and the
manifests' figures) and the benchmarks import it from here, so a figure means the same wherever it appears.

PSNR is per image, peak 255, capped at ``MAX_PSNR_DB`` = 100 dB, which is also what an exact copy gets (MSE
0): means over images stay finite and JSON numbers stay numbers (one pixel off by one in 1024 x 1024 would
be 108 dB uncapped; lossy codecs stay far below the cap). SSIM is Wang et al. (2004) as scikit-image computes
it with ``gaussian_weights=True``: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, the
population covariance, averaged over the window positions inside the image and then over channels. Images
smaller than the window use the largest odd window that fits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_PSNR_DB", "PEAK", "mean_psnr", "psnr", "psnr_per_image", "ssim", "ssim_per_image"]

MAX_PSNR_DB = 100.0
PEAK = 255.0
_C1 = (0.01 * PEAK) ** 2
_C2 = (0.03 * PEAK) ** 2
_STRIP = 256  # output rows per strip: SSIM of a large image in bounded memory


def psnr_per_image(original: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """(N,) PSNR in dB of two (N, ...) arrays of 8-bit pixel values (uint8, or floats on 0..255)."""
    _same_shape(original, decoded)
    a = np.asarray(original, dtype=np.float64).reshape(len(original), -1)
    b = np.asarray(decoded, dtype=np.float64).reshape(len(decoded), -1)
    mse = ((a - b) ** 2).mean(1)
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(PEAK**2 / mse)
    return np.minimum(db, MAX_PSNR_DB)


def mean_psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """Mean over images of ``psnr_per_image`` (the figure manifests and benchmarks report)."""
    return float(psnr_per_image(original, decoded).mean())


def psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB of one image (any shape) against another of the same shape."""
    return float(psnr_per_image(np.asarray(original)[None], np.asarray(decoded)[None])[0])


def _gaussian(size: int, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    w = np.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


def _valid_filter(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (H, W) by the 1-D window w along both axes."""
    n = len(w)
    rows = sum(w[k] * x[k : x.shape[0] - n + 1 + k] for k in range(n))
    return sum(w[k] * rows[:, k : rows.shape[1] - n + 1 + k] for k in range(n))


def _ssim_sum(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """Sum of the SSIM map of one (H, W) channel pair."""
    mu_a, mu_b = _valid_filter(a, w), _valid_filter(b, w)
    var_a = _valid_filter(a * a, w) - mu_a * mu_a
    var_b = _valid_filter(b * b, w) - mu_b * mu_b
    cov = _valid_filter(a * b, w) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2)
    den = (mu_a * mu_a + mu_b * mu_b + _C1) * (var_a + var_b + _C2)
    return float((num / den).sum())


def ssim(original: np.ndarray, decoded: np.ndarray) -> float:
    """Mean SSIM of two equally shaped 8-bit images, (H, W) or (H, W, C): the mean over channels."""
    _same_shape(original, decoded)
    a = original if original.ndim == 3 else original[..., None]
    b = decoded if decoded.ndim == 3 else decoded[..., None]
    h, wd = a.shape[:2]
    size = min(11, h, wd)
    size -= 1 - size % 2  # odd
    w = _gaussian(size)
    out_h, out_w = h - size + 1, wd - size + 1
    total = 0.0
    for c in range(a.shape[2]):
        for top in range(0, out_h, _STRIP):
            rows = slice(top, min(out_h, top + _STRIP) + size - 1)
            total += _ssim_sum(a[rows, :, c].astype(np.float64), b[rows, :, c].astype(np.float64), w)
    return total / (out_h * out_w * a.shape[2])


def ssim_per_image(original: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """(N,) SSIM of two (N, C, H, W) batches of 8-bit images (channels averaged)."""
    _same_shape(original, decoded)
    return np.array([ssim(a.transpose(1, 2, 0), b.transpose(1, 2, 0)) for a, b in zip(original, decoded, strict=True)])


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"images of different shapes: {np.shape(a)} vs {np.shape(b)}")
