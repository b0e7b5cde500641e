"""The learned prior's integer tables: bit-exact range-coder round trips and estimated vs real rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from aecodec_training.from_onnx import fit_prior_to_tables
from aecodec_training.models import FactorizedPrior
from aecodec_wire.errors import CorruptPayload
from aecodec_wire.payload import is_compact, unpack_compact
from aecodec_wire.prior_codec import PriorCodec

from .helpers import codec_manifest


@pytest.fixture(scope="module")
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    prior = FactorizedPrior(8)
    with torch.no_grad():
        prior.log_scales.add_(torch.rand_like(prior.log_scales) * 1.5 - 0.5)
        prior.means.mul_(torch.rand(8, 1) * 3)
    return prior.integer_tables()


def sample(tables: tuple[np.ndarray, np.ndarray, np.ndarray], shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Latent values drawn from the table distributions, as the encoder would output them (+ jitter < 1/2)."""
    offsets, minima, counts = tables
    rng = np.random.default_rng(seed)
    p = counts / counts.sum(1, keepdims=True)
    n = int(np.prod(shape[1:]))
    sym = np.stack([rng.choice(p.shape[1], size=n, p=row) for row in p]).reshape(shape)
    jitter = rng.uniform(-0.45, 0.45, size=shape)
    return (sym + minima.reshape(-1, 1, 1) + offsets.reshape(-1, 1, 1) + jitter).astype(np.float32)


def test_tables_are_positive_integers(tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    _, _, counts = tables
    assert counts.dtype == np.int64 and (counts >= 1).all()
    assert np.allclose(counts.sum(1), 1 << 16, rtol=0.01)


def test_round_trip_is_bit_exact(tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    codec = PriorCodec(codec_manifest(*tables))
    latents = sample(tables, (8, 4, 4), 1)[None].repeat(3, 0)
    latents[1] += 40.0  # far outside the tables: clamped to the end symbols, still decodable
    payloads = codec.encode(latents, [(28, 28)] * 3, ["L"] * 3)
    for lat, data in zip(latents, payloads, strict=True):
        assert is_compact(data)
        code = unpack_compact(data)
        back = codec.decode(code)
        assert np.array_equal(back[0], codec.dequantize(codec.symbols(lat)))
        assert (code.width, code.height) == (28, 28)
        assert codec.encode(lat[None], [(28, 28)], ["L"]) == [data]  # deterministic


def test_refuses_corruption_and_other_versions(tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    manifest = codec_manifest(*tables)
    codec = PriorCodec(manifest)
    data = codec.encode(sample(tables, (8, 4, 4), 2)[None], [(28, 28)], ["L"])[0]
    flipped = bytearray(data)
    flipped[-1] ^= 0x01
    with pytest.raises(CorruptPayload):
        codec.decode(unpack_compact(bytes(flipped)))
    other = PriorCodec(manifest.model_copy(update={"version": "fedcba9876543210"}))
    with pytest.raises(CorruptPayload, match="another version"):
        other.decode(unpack_compact(data))


def test_estimated_rate_matches_real_bytes(tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    counts = tables[2]
    codec = PriorCodec(codec_manifest(*tables, fixed=False))
    latents = sample(tables, (8, 32, 32), 3)
    sym = codec.symbols(latents).reshape(8, -1)
    p = counts / counts.sum(1, keepdims=True)
    est_bytes = -np.log2(np.take_along_axis(p, sym, 1)).sum() / 8
    code = unpack_compact(codec.encode(latents[None], [(256, 256)], ["L"])[0])
    assert not code.latent_shape  # implied by the size: not on the wire
    assert np.array_equal(codec.decode(code)[0], codec.dequantize(codec.symbols(latents)))
    real = len(code.data)
    assert abs(real - est_bytes) / est_bytes < 0.03, (real, est_bytes)


def test_refuses_the_older_nine_byte_header(tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """A payload with the former separate wire_id field (4) is refused by name, never decoded."""
    codec = PriorCodec(codec_manifest(*tables))
    data = codec.encode(sample(tables, (8, 4, 4), 4)[None], [(28, 28)], ["L"])[0]
    old = data[:5] + bytes([0x20, 7]) + data[5:]  # field 4, varint 7: how aecodec 0.1 named the model
    with pytest.raises(CorruptPayload, match="older aecodec"):
        unpack_compact(old)
    assert unpack_compact(data).data  # the current layout still parses


def test_a_prior_fitted_to_its_frozen_tables_gives_them_back(tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """A model read back from its graphs has no prior, only the manifest's tables: fitted to them, a fresh
    prior codes as the one they were made from (a few thousandths of a bit per symbol apart at most)."""
    offsets, minima, counts = tables
    fresh = FactorizedPrior(8)
    kl = fit_prior_to_tables(fresh, offsets, minima, counts)
    assert 0 <= kl < 1e-3
    again_offsets, again_minima, again_counts = fresh.integer_tables()
    assert np.abs(again_offsets - offsets).max() < 0.01
    p, q = counts / counts.sum(1, keepdims=True), again_counts / again_counts.sum(1, keepdims=True)
    shift = again_minima - minima  # the same symbols, where the tails' cut-off moved
    common = [(c, k) for c in range(8) for k in range(counts.shape[1]) if 0 <= k - shift[c] < q.shape[1]]
    big = [(c, k) for c, k in common if p[c, k] > 0.01]
    assert big and all(abs(q[c, k - shift[c]] - p[c, k]) < 0.003 for c, k in big)
