"""Test log-likelihood of a VAE the standard way: importance sampling on dynamically binarized digits.

The estimate is log p(x) ~= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) with z_i ~ q(z|x) (Burda et al., IWAE);
it is a stochastic lower bound that tightens as k grows (k = 1000 for reported figures). Binarization draws
each pixel from Bernoulli(intensity) once, with a fixed seed, so every model is scored on the same digits.
The same log-weights give the IWAE training objective (``iwae_loss``), with a KL warm-up factor ``beta``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

NLL_SEED = 1234  # binarization of the test digits and the importance samples
NLL_FILE = "nll.json"  # written into a run folder by `aecodec-train evaluate`, read by export
_LOG_2PI = math.log(2 * math.pi)


class LatentModel(Protocol):
    """What the estimate needs: a Gaussian posterior and Bernoulli logits (a torch VAE or an ONNX adapter)."""

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class NLLResult:
    """Importance-sampled NLL and the ELBO (the mean of the same log-weights), nats per digit."""

    nll_nats: float
    elbo_nats: float  # negative number, like test_elbo_nats
    k: int
    images: int
    seed: int
    seconds: float

    def metrics(self) -> dict[str, float]:
        """Manifest metric names: binarized test digits, so they do not clash with the grey-pixel ELBO."""
        return {
            "test_nll_nats": round(self.nll_nats, 4),
            "test_binarized_elbo_nats": round(self.elbo_nats, 4),
            "test_nll_k": float(self.k),
            "test_nll_images": float(self.images),
            "test_nll_seed": float(self.seed),
        }

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def binarize(x: torch.Tensor, seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Intensities in [0, 1] -> {0, 1}: each pixel a Bernoulli draw with its intensity (dynamic binarization)."""
    if generator is None:
        generator = torch.Generator(x.device).manual_seed(NLL_SEED if seed is None else seed)
    return torch.bernoulli(x.clamp(0.0, 1.0), generator=generator)


def log_weights(model: LatentModel, x: torch.Tensor, eps: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """log p(x|z) + beta * (log p(z) - log q(z|x)) for z = mu + sigma * eps; x (N, ...) binary, eps (k, N, L)."""
    mu, logvar = model.posterior(x)
    return log_weights_from(model, x, mu, logvar, eps, beta)


def log_weights_from(
    model: LatentModel, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """``log_weights`` with the posterior already computed (the encoder runs once for all k samples)."""
    k, n, dim = eps.shape
    z = mu + eps * (0.5 * logvar).exp()  # (k, N, L)
    logits = model.decode_logits(z.reshape(k * n, dim)).reshape(k, n, -1)
    target = x.reshape(1, n, -1).to(logits.dtype).expand_as(logits)
    log_px = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
    log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)
    log_qz = -0.5 * (eps.pow(2) + _LOG_2PI + logvar).sum(-1)
    return log_px + beta * (log_pz - log_qz)


def iwae_loss(model: LatentModel, x: torch.Tensor, k: int, gen: torch.Generator, beta: float = 1.0) -> torch.Tensor:
    """Negative IWAE bound, mean over the batch (k = 1: the negative ELBO); ``beta`` < 1 during KL warm-up."""
    mu, logvar = model.posterior(x)
    eps = torch.randn((k, *mu.shape), generator=gen, device=x.device, dtype=mu.dtype)
    lw = log_weights_from(model, x, mu, logvar, eps, beta)
    return -(torch.logsumexp(lw, 0) - math.log(k)).mean()


@torch.inference_mode()
def importance_nll(
    model: LatentModel,
    x: torch.Tensor,
    k: int = 1000,
    seed: int = NLL_SEED,
    batch: int = 100,
    samples_per_pass: int = 100,
    log: Callable[[str], None] | None = None,
) -> NLLResult:
    """NLL of binarized digits ``x`` (N, C, H, W in {0, 1}) with ``k`` importance samples, in batches.

    Memory stays at ``batch * samples_per_pass`` decoded images; the log-weights are folded into a running
    logsumexp, so k can be large without holding k decodes per digit.
    """
    gen = torch.Generator(x.device).manual_seed(seed + 1)
    start = time.perf_counter()
    nll_sum = elbo_sum = 0.0
    for s in range(0, len(x), batch):
        xb = x[s : s + batch]
        mu, logvar = model.posterior(xb)
        lse = torch.full((len(xb),), -math.inf, dtype=torch.float64, device=x.device)
        mean_lw = torch.zeros(len(xb), dtype=torch.float64, device=x.device)
        for j in range(0, k, samples_per_pass):
            m = min(samples_per_pass, k - j)
            eps = torch.randn((m, *mu.shape), generator=gen, device=x.device, dtype=mu.dtype)
            lw = log_weights_from(model, xb, mu, logvar, eps).double()
            lse = torch.logaddexp(lse, torch.logsumexp(lw, 0))
            mean_lw += lw.sum(0) / k
        nll_sum += float(-(lse - math.log(k)).sum())
        elbo_sum += float(mean_lw.sum())
        if log is not None:
            done = s + len(xb)
            log(f"{done}/{len(x)} digits  NLL {nll_sum / done:.3f}  {time.perf_counter() - start:.0f}s")
    n = len(x)
    return NLLResult(nll_sum / n, elbo_sum / n, k, n, seed, time.perf_counter() - start)


def evaluate_nll(
    model: LatentModel,
    test_x: torch.Tensor,
    k: int = 1000,
    images: int | None = None,
    seed: int = NLL_SEED,
    log: Callable[[str], None] | None = None,
) -> NLLResult:
    """The reported figure: the first ``images`` test digits (all if None), binarized with ``seed``."""
    x = test_x[:images] if images else test_x
    return importance_nll(model, binarize(x, seed), k, seed, log=log)


class OnnxVAE:
    """A shipped model folder's encoder.onnx / decoder.onnx seen as a ``LatentModel`` through onnxruntime.

    The decoder graph outputs probabilities (a Sigmoid at its end); logits are recovered as log p - log(1 - p)
    in float64, with p clipped to float32's resolution next to 0 and 1.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.encoder = ort.InferenceSession(str(folder / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
        self.decoder = ort.InferenceSession(str(folder / "decoder.onnx"), opts, providers=["CPUExecutionProvider"])

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder.run(["latent", "logvar"], {"image": x.numpy().astype(np.float32)})
        return torch.from_numpy(mu), torch.from_numpy(logvar)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        (p,) = self.decoder.run(["image"], {"latent": z.numpy().astype(np.float32)})
        p64 = np.clip(p.astype(np.float64), 1e-30, 1.0 - 2.0**-24)
        return torch.from_numpy(np.log(p64) - np.log1p(-p64))


def report_nll(
    model: LatentModel,
    test_x: torch.Tensor,
    run_dir: Path | None = None,
    k: int = 1000,
    images: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """``evaluate_nll`` as manifest metrics; with ``run_dir`` also written (atomically) to its nll.json for export."""
    from .checkpoint import write_json

    if isinstance(model, torch.nn.Module):
        model.eval()
    result = evaluate_nll(model, test_x, k=k, images=images, log=log)
    if run_dir is not None:
        write_json(Path(run_dir) / NLL_FILE, result.as_dict())
    return result.metrics()


def read_nll(run_dir: Path) -> dict[str, float]:
    """The metrics of a run's nll.json (empty when `aecodec-train evaluate` has not written one)."""
    import json

    path = Path(run_dir) / NLL_FILE
    if not path.is_file():
        return {}
    return NLLResult(**json.loads(path.read_text())).metrics()


NLL_DESCRIPTION = (
    " test_nll_nats: importance-sampled negative log-likelihood per digit in nats (k = test_nll_k samples from the "
    "encoder's posterior) on the first test_nll_images MNIST test digits, dynamically binarized (each pixel a "
    "Bernoulli draw with its intensity, seed test_nll_seed); test_binarized_elbo_nats: the ELBO on the same digits."
)
