"""The header leaves out what the model fixes (latent shape, native size, native mode) and decode restores it."""

from __future__ import annotations

import numpy as np
from aecodec_wire import inspect, unpack
from aecodec_wire import manifest as mf
from aecodec_wire.entropy import ChannelTables
from aecodec_wire.quantize import dequantize, measure_stats, quantize, tables_for_bits
from aecodec_wire.uniform_codec import UniformCodec
from aecodec_wire.v1 import payload_pb2 as pb

RNG = np.random.default_rng(1)


def manifest(spec: mf.InputSpec, latent_shape: list[int | None], stats_shape: tuple[int, ...]) -> mf.Manifest:
    return mf.Manifest(
        name="unit",
        kind="autoencoder",
        architecture="none",
        dataset=mf.DatasetInfo(name="random"),
        input=spec,
        latent_shape=latent_shape,
        latent_stats=measure_stats(RNG.normal(size=stats_shape).astype(np.float32)),
        training=mf.TrainingInfo(command="-", epochs=0, seconds=0, seed=0),
        version="0123456789abcdef",
    )


MLP = manifest(mf.InputSpec(channels=1, height=28, width=28), [16], (200, 16))
CONV = manifest(mf.InputSpec(channels=3, pad_multiple=4), [4, None, None], (50, 4, 3, 3))


def test_native_digit_omits_shape_size_and_mode() -> None:
    codec = UniformCodec(MLP)
    payload = codec.encode(RNG.normal(size=(1, 16)).astype(np.float32), [(28, 28)], ["L"])[0]
    raw = unpack(payload)
    assert not raw.latent_shape and raw.width == 0 and raw.height == 0 and raw.mode == pb.IMAGE_MODE_UNSPECIFIED
    info = inspect(payload)
    assert (info.width, info.height, info.mode, info.latent_shape) == (0, 0, "native", ())
    latent = codec.decode(raw)
    assert latent.shape == (1, 16)
    # decode filled the defaults in, so the pipeline reads the real size and mode afterwards
    assert (raw.width, raw.height, raw.mode, tuple(raw.latent_shape)) == (28, 28, pb.IMAGE_MODE_L, (16,))


def test_non_native_size_or_mode_is_kept() -> None:
    codec = UniformCodec(MLP)
    latents = RNG.normal(size=(2, 16)).astype(np.float32)
    resized, rgb = codec.encode(latents, [(42, 56), (28, 28)], ["L", "RGB"])
    assert (inspect(resized).width, inspect(resized).height, inspect(resized).mode) == (42, 56, "native")
    assert (inspect(rgb).width, inspect(rgb).height, inspect(rgb).mode) == (0, 0, "RGB")
    assert len(resized) > len(codec.encode(latents[:1], [(28, 28)], ["L"])[0])


def test_conv_model_keeps_size_and_latent_shape() -> None:
    codec = UniformCodec(CONV)
    latent = RNG.normal(size=(1, 4, 6, 10)).astype(np.float32)  # a 40x24 image padded to multiples of 4
    payload = codec.encode(latent, [(40, 24)], ["RGB"])[0]
    info = inspect(payload)
    assert (info.width, info.height, info.mode, info.latent_shape) == (40, 24, "native", (4, 6, 10))
    raw = unpack(payload)
    assert codec.decode(raw).shape == (1, 4, 6, 10)
    assert (raw.width, raw.height, raw.mode) == (40, 24, pb.IMAGE_MODE_RGB)
    gray = codec.encode(latent, [(40, 24)], ["L"])[0]
    assert inspect(gray).mode == "L"


def test_one_call_and_per_channel_coding_give_identical_bytes() -> None:
    for bits in (2, 4, 8):
        counts = RNG.integers(1, 1000, size=(49, 256)) ** RNG.integers(1, 3)
        tables = ChannelTables(tables_for_bits(counts, bits))
        for _ in range(20):
            symbols = RNG.integers(0, 1 << bits, size=(49,))
            data = tables.encode(symbols)
            assert data == tables.encode_per_channel(symbols)
            np.testing.assert_array_equal(tables.decode(data, (49,)), symbols)


def test_codec_quantises_like_the_public_quantize() -> None:
    codec = UniformCodec(MLP)
    lo, hi = np.array(MLP.latent_stats.lo), np.array(MLP.latent_stats.hi)
    latents = (RNG.normal(size=(300, 16)) * 2).astype(np.float32)
    latents[0, :3] = [lo[0], hi[1], np.nextafter(np.float32(lo[2]), np.float32(1))]  # bin edges
    for bits in range(2, 9):
        np.testing.assert_array_equal(codec._quantize_flat(latents, bits), quantize(latents, lo, hi, bits))
        payloads = codec.encode(latents[:5], [(28, 28)] * 5, ["L"] * 5, bits)
        decoded = np.concatenate([codec.decode(unpack(p)) for p in payloads])
        np.testing.assert_array_equal(decoded, dequantize(quantize(latents[:5], lo, hi, bits), lo, hi, bits))
