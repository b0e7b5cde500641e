"""The importance-sampled NLL: exact where the integral is computable, deterministic, and the same through ONNX."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from aecodec_training.nll import OnnxVAE, binarize, evaluate_nll, importance_nll, iwae_loss
from aecodec_training.onnx_io import export_graphs
from aecodec_training.registry import build_model

from .helpers import FIXTURES


def digits() -> torch.Tensor:
    """The 48 real MNIST test digits shipped as a fixture, as (N, 1, 28, 28) intensities in [0, 1]."""
    return torch.from_numpy(np.load(FIXTURES / "mnist_test_48.npz")["x"]).float().div(255).unsqueeze(1)


def exact_log_px(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """log p(x) of a one-dimensional-latent VAE by quadrature over z (trapezoid on [-12, 12], 24001 points)."""
    z = torch.linspace(-12, 12, 24001).unsqueeze(1)
    with torch.inference_mode():
        logits = model.decode_logits(z).flatten(1).double()  # (Z, D)
    log_prior = -0.5 * (z.double().squeeze(1) ** 2 + math.log(2 * math.pi))
    out = []
    for xi in x.flatten(1).double():
        log_px_z = -F.binary_cross_entropy_with_logits(logits, xi.expand_as(logits), reduction="none").sum(1)
        out.append(torch.logsumexp(log_px_z + log_prior, 0) + math.log(z[1, 0] - z[0, 0]))
    return torch.stack(out)


def test_binarize_is_a_seeded_bernoulli_draw_per_pixel() -> None:
    x = digits()
    a, b, c = binarize(x, seed=7), binarize(x, seed=7), binarize(x, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(a[x == 0] == 0) and torch.all(a[x == 1] == 1)  # black stays black, full white stays white
    assert a.mean().item() == pytest.approx(x.mean().item(), abs=0.01)  # each pixel is on with its intensity


def test_importance_sampling_converges_to_the_exact_likelihood() -> None:
    """With a 1-d latent p(x) is an integral we can do; k = 2000 samples land within a few hundredths of a nat."""
    torch.manual_seed(0)
    model = build_model("mlp-vae", hidden=16, latent_dim=1, image=(1, 4, 4)).eval()
    x = binarize(torch.nn.functional.adaptive_avg_pool2d(digits()[:12], 4), seed=1)
    exact = -exact_log_px(model, x).mean().item()
    r = importance_nll(model, x, k=2000, batch=6, samples_per_pass=300)
    assert r.nll_nats == pytest.approx(exact, abs=0.05)
    assert -r.elbo_nats > exact + 0.01  # the ELBO is a strictly looser bound here
    rough = importance_nll(model, x, k=1)
    assert rough.nll_nats > r.nll_nats  # one sample is the ELBO: a worse bound than 2000 samples


def test_iwae_bound_tightens_with_k() -> None:
    torch.manual_seed(0)
    model = build_model("mlp-vae", hidden=32, latent_dim=4).eval()
    x = binarize(digits())
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        losses = [float(np.mean([iwae_loss(model, x, k, gen).item() for _ in range(20)])) for k in (1, 5, 50)]
    assert losses[0] > losses[1] > losses[2]


def test_same_figure_through_onnx_and_pytorch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("conv-vae", latent_dim=8, channels=4, hidden=32).eval()
    export_graphs(model, digits()[:4], tmp_path)
    x = digits()[:16]
    a = evaluate_nll(model, x, k=50)
    b = evaluate_nll(OnnxVAE(tmp_path), x, k=50)
    assert a.images == b.images == 16 and a.k == 50
    assert b.nll_nats == pytest.approx(a.nll_nats, abs=1e-3)
    assert b.elbo_nats == pytest.approx(a.elbo_nats, abs=1e-3)
    assert evaluate_nll(model, x, k=50).nll_nats == a.nll_nats  # fixed seed: the same figure every time
