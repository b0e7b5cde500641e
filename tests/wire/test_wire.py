"""The wire format: envelope, CRC, quantisation at every bit depth, range coding, tables, codegen drift."""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from aecodec_wire import CorruptPayload, ModelMismatch, UnsupportedFormat, inspect, pack, unpack
from aecodec_wire import manifest as mf
from aecodec_wire.entropy import ChannelTables
from aecodec_wire.quantize import dequantize, measure_stats, quantize, tables_for_bits
from aecodec_wire.uniform_codec import UniformCodec
from aecodec_wire.v1 import payload_pb2 as pb

PROTO = Path(__file__).resolve().parents[2] / "proto"
RNG = np.random.default_rng(0)


def make_manifest(channels: int = 8, version: str = "0123456789abcdef") -> mf.Manifest:
    latents = RNG.normal(size=(500, channels)).astype(np.float32)
    return mf.Manifest(
        name="unit",
        kind="autoencoder",
        architecture="none",
        dataset=mf.DatasetInfo(name="random"),
        input=mf.InputSpec(channels=1, height=28, width=28),
        latent_shape=[channels],
        latent_stats=measure_stats(latents),
        training=mf.TrainingInfo(command="-", epochs=0, seconds=0, seed=0),
        version=version,
    )


def code(**kw: object) -> pb.LatentCode:
    base = dict(
        format_version=1,
        model="m",
        model_version=b"\x01" * 8,
        latent_shape=[4],
        bits=8,
        quantizer=pb.QUANTIZER_UNIFORM_TABLE,
        width=28,
        height=28,
        mode=pb.IMAGE_MODE_L,
        data=b"\x00" * 8,
    )
    return pb.LatentCode(**(base | kw))  # type: ignore[arg-type]


def test_pack_unpack_and_inspect() -> None:
    data = pack(code())
    assert unpack(data) == code()
    info = inspect(data)
    assert (info.model, info.model_version, info.latent_shape, info.mode, info.size) == (
        "m",
        "01" * 8,
        (4,),
        "L",
        len(data),
    )
    assert info.header_bytes + info.latent_bytes == info.size


@pytest.mark.parametrize("cut", [1, 5, 10, 20])
def test_truncated_payload_is_refused(cut: int) -> None:
    data = pack(code())
    with pytest.raises(CorruptPayload):
        unpack(data[:-cut])


def test_every_corrupted_byte_is_refused() -> None:
    data = pack(code())
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        with pytest.raises((CorruptPayload, UnsupportedFormat)):
            unpack(bytes(bad))


def test_crc_is_zlib_crc32_of_the_code() -> None:
    envelope = pb.Payload.FromString(pack(code()))
    assert envelope.crc32 == zlib.crc32(envelope.code)


def test_future_format_refused() -> None:
    with pytest.raises(UnsupportedFormat, match="version 2"):
        unpack(pack(code(format_version=2)))


@pytest.mark.parametrize("bits", range(2, 9))
def test_codec_round_trip_every_bit_depth(bits: int) -> None:
    manifest = make_manifest()
    codec = UniformCodec(manifest)
    latents = RNG.normal(size=(5, 8)).astype(np.float32)
    payloads = codec.encode(latents, [(28, 28)] * 5, ["L"] * 5, bits)
    lo, hi = np.array(manifest.latent_stats.lo), np.array(manifest.latent_stats.hi)
    expected = dequantize(quantize(latents, lo, hi, bits), lo, hi, bits)
    for p, want in zip(payloads, expected, strict=False):
        got = codec.decode(unpack(p))[0]
        np.testing.assert_array_equal(got, want)
        step = (hi - lo) / (1 << bits)
        inside = (latents[0] > lo) & (latents[0] < hi)
        assert np.all(np.abs(codec.decode(unpack(payloads[0]))[0] - latents[0])[inside] <= step[inside] / 2 + 1e-5)


def test_other_version_refused_naming_both() -> None:
    old = UniformCodec(make_manifest(version="00000000000000aa"))
    new = UniformCodec(make_manifest(version="00000000000000bb"))
    payload = old.encode(np.zeros((1, 8), np.float32), [(28, 28)], ["L"])[0]
    with pytest.raises(ModelMismatch, match=r"00000000000000aa.*00000000000000bb"):
        new.decode(unpack(payload))


def test_entropy_coder_round_trip_spatial() -> None:
    counts = RNG.integers(1, 100, size=(3, 16))
    tables = ChannelTables(counts)
    symbols = RNG.integers(0, 16, size=(3, 5, 7))
    data = tables.encode(symbols)
    np.testing.assert_array_equal(tables.decode(data, symbols.shape), symbols)


def test_entropy_coder_compresses_skewed_symbols() -> None:
    counts = np.array([[1000] + [1] * 255])
    symbols = np.zeros((1, 4000), dtype=np.int32)
    # -log2(1000/1255) = 0.33 bits per symbol: about 164 bytes instead of 4000
    assert len(ChannelTables(counts).encode(symbols)) < 200


def test_tables_sum_adjacent_bins() -> None:
    counts = np.arange(1, 257).reshape(1, 256)
    for bits in range(2, 9):
        t = tables_for_bits(counts, bits)
        assert t.shape == (1, 1 << bits) and t.sum() == counts.sum()
        assert t[0, 0] == counts[0, : 1 << (8 - bits)].sum()
    with pytest.raises(ValueError):
        tables_for_bits(counts, 1)


def test_measure_stats_counts_are_positive_histograms() -> None:
    stats = measure_stats(RNG.normal(size=(100, 3, 4, 4)))
    counts = np.array(stats.counts)
    assert counts.shape == (3, 256) and counts.min() >= 1 and np.all(counts.sum(axis=1) == 100 * 16 + 256)


def test_generated_code_matches_the_schema(tmp_path: Path) -> None:
    """Fails when someone edits a .proto without `make proto` (or edits the generated code by hand)."""
    pytest.importorskip("grpc_tools")
    protos = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "aecodec_wire" / "v1").glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(PROTO),
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            *protos,
        ],
        check=True,
        cwd=PROTO,
    )
    for proto in protos:
        for suffix in ("_pb2.py", "_pb2.pyi"):
            rel = proto.removesuffix(".proto") + suffix
            assert (tmp_path / rel).read_text() == (PROTO / rel).read_text(), f"{rel} is stale: run `make proto`"
