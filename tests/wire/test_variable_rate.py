"""The variable-rate hyperprior codec without ONNX: a synthetic manifest and a numpy hyper decoder.

The quality scale and its wire grid, gains computed alike on both sides, the gained coding step for step,
the quality a payload carries (and refuses), the max_bytes search's promise, and a manifest without the
field staying what it was (so no shipped model's version moves)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from aecodec_wire import inspect, unpack_any
from aecodec_wire.errors import BudgetTooSmall, CorruptPayload
from aecodec_wire.hyperprior import HyperpriorCodec
from aecodec_wire.manifest import (
    MANIFEST_FILE,
    DatasetInfo,
    GaussianTables,
    InputSpec,
    Manifest,
    PriorTables,
    TrainingInfo,
    VariableRate,
    seal,
)
from aecodec_wire.payload import pack_compact
from aecodec_wire.quantize import measure_stats
from aecodec_wire.variable_rate import MILLI, QualityScale, best_within
from pydantic import ValidationError

M, Z = 6, 4  # channels of y and z
LEVELS = 3
SCALES = [0.11, 0.5, 2.0, 8.0]


def _gaussian() -> GaussianTables:
    """Integer tables of a unit-bin Gaussian at a few scales, the last symbol the escape (as gaussian_tables)."""
    minima, counts = [], []
    for s in SCALES:
        half = math.ceil(6.2 * s)
        cdf = [0.5 * (1 + math.erf((v + 0.5) / (s * math.sqrt(2)))) for v in range(-half - 1, half + 1)]
        probs = [b - a for a, b in itertools.pairwise(cdf)] + [2 * cdf[0]]
        minima.append(-half)
        counts.append([max(1, round(p * (1 << 16))) for p in probs])
    return GaussianTables(precision=16, scales=SCALES, minima=minima, counts=counts)


def _rate(levels: int = LEVELS) -> VariableRate:
    rng = np.random.default_rng(3)
    base = np.linspace(-1.2, 1.2, levels)[:, None]  # gains grow with the level
    y = (base + rng.normal(0, 0.1, (levels, M))).astype(np.float32)
    z = (base + rng.normal(0, 0.1, (levels, Z))).astype(np.float32)
    return VariableRate(
        levels=levels,
        lambdas=[0.001 * 4**k for k in range(levels)],
        log_gain_y=y.tolist(),
        log_gain_z=z.tolist(),
    )


def _manifest(rate: VariableRate | None = None, **changes: object) -> Manifest:
    fields: dict = dict(
        name="vr-synthetic",
        kind="codec",
        architecture="test",
        dataset=DatasetInfo(name="synthetic"),
        input=InputSpec(channels=3, pad_multiple=64),
        latent_shape=[M, None, None],
        latent_stats=measure_stats(np.random.default_rng(0).normal(size=(16, M, 2, 2))),
        training=TrainingInfo(command="test", epochs=0, seconds=0.0, seed=0),
        prior=PriorTables(
            precision=16,
            offsets=[0.0] * Z,
            minima=[-8] * Z,
            counts=[[1 + 64 // (1 + abs(v)) for v in range(-8, 9)]] * Z,
        ),
        wire_id=40,
        gaussian=_gaussian(),
        side_channels=Z,
        latent_stride=16,
        variable_rate=rate,
        version="0123456789abcdef",
    )
    return Manifest(**(fields | changes))


def _hyper(z_hat: np.ndarray) -> np.ndarray:
    """(1, Z, a, b) -> (1, 2M, 4a, 4b): means from z's first channel, scales from its magnitude."""
    up = np.repeat(np.repeat(z_hat[0], 4, axis=1), 4, axis=2)
    mean = np.repeat(up[:1] * 0.5, M, axis=0)
    scale = np.repeat(2.5 + 0.5 * np.abs(up[1:2]), M, axis=0)
    return np.concatenate([mean, scale])[None].astype(np.float32)


def _latents(seed: int = 0, side: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 3, (1, M, 4 * side, 4 * side)).astype(np.float32)
    z = rng.normal(0, 2, (1, Z, side, side)).astype(np.float32)
    return {"latent": y, "side": z}


def _encode(codec: HyperpriorCodec, **rate: object) -> bytes:
    latents = _latents()
    width = 16 * latents["latent"].shape[-1]
    return codec.encode(latents, [(width, width)], ["RGB"], **rate)[0]  # type: ignore[arg-type]


def test_the_quality_scale_is_thousandths_from_1_to_k() -> None:
    scale = QualityScale(_rate())
    assert (scale.lowest, scale.highest, scale.default) == (1000, 3000, 2000)
    assert scale.to_wire(1) == 1000 and scale.to_wire(2.0004) == 2000 and scale.to_wire(2.0005) == 2001
    assert scale.to_wire(3.0004) == 3000
    for bad in (0.9994, 3.0006, 0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="quality"):
            scale.to_wire(bad)
    assert QualityScale(_rate(8)).default == 4000  # the middle preset of eight


def test_gains_are_the_levels_at_integers_and_log_linear_between() -> None:
    rate = _rate()
    scale = QualityScale(rate)
    rows_y = np.asarray(rate.log_gain_y, np.float32)
    for k in range(1, LEVELS + 1):
        g_y, g_z = scale.gains(k * MILLI)
        assert g_y.dtype == np.float32 and g_y.shape == (M,) and g_z.shape == (Z,)
        assert np.array_equal(g_y, np.exp(rows_y[k - 1].astype(np.float64)).astype(np.float32))
    g_y, _ = scale.gains(1500)
    assert np.allclose(np.log(g_y), (rows_y[0] + rows_y[1]) / 2, atol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(scale.gains(2345), QualityScale(rate).gains(2345), strict=True))


def test_coding_is_the_model_s_gained_step_for_step() -> None:
    """y_hat = (round(y g_y - mu g_y) + mu g_y) / g_y with mu from z_hat = z_hat_q / g_z, as compress_estimate_at."""
    rate = _rate()
    codec = HyperpriorCodec(_manifest(rate), _hyper)
    latents = _latents()
    y, z = latents["latent"][0], latents["side"][0]
    sizes = []
    for quality in (1, 1.5, 2, 2.75, 3):
        data = _encode(codec, quality=quality)
        assert inspect(data).quality == quality
        got = codec.decode(unpack_any(data))[0]
        g_y, g_z = QualityScale(rate).gains(round(quality * MILLI))
        z_q = np.clip(np.rint(z * g_z[:, None, None]), -8, 8)  # offsets 0; z's tables end at +-8
        mean = _hyper((z_q / g_z[:, None, None])[None])[0, :M] * g_y[:, None, None]
        y_q = y * g_y[:, None, None]
        want = (np.rint(y_q.astype(np.float64) - mean).astype(np.float32) + mean) / g_y[:, None, None]
        assert np.array_equal(got, want.astype(np.float32)), quality
        sizes.append(len(data))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert _encode(codec) == _encode(codec, quality=2)  # the default: the middle preset
    estimated = codec.estimated_bits(latents, quality=3)[0] / 8
    assert estimated == pytest.approx(len(unpack_any(_encode(codec, quality=3)).data), abs=8)


def test_a_payload_s_quality_is_checked_against_its_model() -> None:
    vr = HyperpriorCodec(_manifest(_rate()), _hyper)
    fixed = HyperpriorCodec(_manifest(None), _hyper)
    data = _encode(vr, quality=2.5)
    code = unpack_any(data)
    code.quality = 2600  # the CRC covers the quality: a changed one is refused
    with pytest.raises(CorruptPayload, match="checksum"):
        vr.decode(code)
    for bad in (0, 999, 3001, 70000):  # a forged payload with a valid CRC, off the model's scale
        forged = unpack_any(data)
        forged.quality = bad
        forged.check = 0
        with pytest.raises(CorruptPayload, match="quality"):
            vr.decode(unpack_any(pack_compact(forged, vr.wire_id, vr._key)))
    plain = unpack_any(_encode(fixed))
    assert plain.quality == 0 and inspect(_encode(fixed)).quality is None  # absent: no bytes at all
    plain.quality, plain.check = 2000, 0
    with pytest.raises(CorruptPayload, match="fixed rate"):
        fixed.decode(unpack_any(pack_compact(plain, fixed.wire_id, fixed._key)))
    with pytest.raises(ValueError, match="not a variable-rate model"):
        _encode(fixed, quality=2)
    with pytest.raises(ValueError, match="one of them"):
        _encode(vr, quality=2, max_bytes=100)


def test_max_bytes_returns_the_highest_quality_that_fits() -> None:
    codec = HyperpriorCodec(_manifest(_rate()), _hyper)
    sizes = {q: len(_encode(codec, quality=q)) for q in (1, 2, 3)}
    for budget in (sizes[1], sizes[1] + 3, (sizes[1] + sizes[3]) // 2, sizes[3] - 1):
        data = _encode(codec, max_bytes=budget)
        quality = inspect(data).quality
        assert quality is not None and len(data) <= budget
        assert len(_encode(codec, quality=quality + 0.001)) > budget  # the next step up would not fit
    assert inspect(_encode(codec, max_bytes=sizes[3])).quality == 3  # the top fits: the top
    with pytest.raises(BudgetTooSmall) as caught:
        _encode(codec, max_bytes=sizes[1] - 1)
    assert caught.value.smallest == sizes[1] and str(sizes[1]) in str(caught.value)


def test_the_search_keeps_its_promise_on_sizes_that_jitter() -> None:
    """Sizes that do not grow with every thousandth (as real payloads do at that step) still give an answer
    that fits whose next step does not, in at most 2 + 13 tries over eight levels."""
    rng = np.random.default_rng(5)
    jitter = rng.integers(-40, 40, 8001)

    def size(milli: int) -> int:
        return int(200 * 2 ** ((milli - 1000) / 1000)) + int(jitter[milli])

    for budget in (300, 1234, 5000, 20000, 25000):
        tries: list[int] = []

        def encode_at(milli: int, tries: list[int] = tries) -> bytes:
            tries.append(milli)
            return b"x" * size(milli)

        found = len(best_within(encode_at, 1000, 8000, budget))
        best = max(m for m in tries if size(m) <= budget) if found < size(8000) else 8000
        assert found == size(best) <= budget and (best == 8000 or size(best + 1) > budget)
        assert len(tries) <= 15


def test_variable_rate_is_checked_and_absent_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="one row per level"):
        VariableRate(levels=3, lambdas=[1.0, 2.0], log_gain_y=[[0.0]] * 3, log_gain_z=[[0.0]] * 3)
    with pytest.raises(ValidationError, match="finite"):
        VariableRate(levels=2, lambdas=[1.0, 2.0], log_gain_y=[[0.0], [99.0]], log_gain_z=[[0.0]] * 2)
    with pytest.raises(ValidationError, match="values per level"):
        _manifest(_rate(), side_channels=Z + 1)
    with pytest.raises(ValidationError, match="hyperprior"):
        _manifest(_rate(), gaussian=None)
    for name in ("encoder.onnx", "decoder.onnx", "hyper_decoder.onnx"):
        (tmp_path / name).write_bytes(name.encode())
    sealed = seal(tmp_path, _manifest(None))
    assert "variable_rate" not in (tmp_path / MANIFEST_FILE).read_text()  # nor in the hash: versions stay
    assert seal(tmp_path, _manifest(_rate())).version != sealed.version
