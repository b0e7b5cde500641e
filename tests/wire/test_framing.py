"""The framing module tells payload kinds and batches apart by their bytes, and takes one canonical message only."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from aecodec_wire import CorruptPayload, payload
from aecodec_wire.latent_codec import LatentCodec
from aecodec_wire.prior_codec import PriorCodec
from aecodec_wire.uniform_codec import UniformCodec

from tests.codec.helpers import codec_manifest

from .test_wire import make_manifest

RNG = np.random.default_rng(5)


def named_payloads(n: int) -> list[bytes]:
    codec = UniformCodec(make_manifest())
    return codec.encode(RNG.normal(size=(n, 8)).astype(np.float32), [(28, 28)] * n, ["L"] * n, 6)


def compact_payloads(n: int) -> list[bytes]:
    counts = np.full((4, 8), 10, dtype=np.int64)
    codec = PriorCodec(codec_manifest(np.zeros(4), np.full(4, -4), counts))
    return codec.encode(RNG.normal(size=(n, 4, 4, 4)).astype(np.float32), [(28, 28)] * n, ["L"] * n)


def test_no_import_circle_in_the_wire_package() -> None:
    """The framing module stands alone: importing it loads no codec."""
    code = (
        "import sys, aecodec_wire.payload as p; "
        "assert not [m for m in sys.modules if m.endswith(('prior_codec', 'uniform_codec', 'latent_codec'))], "
        "sorted(m for m in sys.modules if m.startswith('aecodec_wire'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("make", [named_payloads, compact_payloads])
def test_split_tells_one_payload_from_a_batch(make: object) -> None:
    payloads = make(3)  # type: ignore[operator]
    assert payload.split(payloads[0]) == ([payloads[0]], False)
    for n in (1, 3):
        assert payload.split(payload.pack_batch(payloads[:n])) == (payloads[:n], True)


def test_a_batch_of_compact_payloads_is_a_batch() -> None:
    """The bug of issue 10: the batch's first byte is 0x0A like a named payload's, its items start with 0x1D."""
    batch = payload.pack_batch(compact_payloads(2))
    items, is_batch = payload.split(batch)
    assert is_batch and [payload.is_compact(p) for p in items] == [True, True]


@pytest.mark.parametrize("make", [named_payloads, compact_payloads])
def test_extra_bytes_or_a_second_payload_are_refused(make: object) -> None:
    one, two = make(2)  # type: ignore[operator]
    assert payload.unpack_any(one)
    for bad in (one + b"\x00\x00", one + b"\x20\x01", one + two, one + one):
        with pytest.raises(CorruptPayload):
            payload.unpack_any(bad)
        items, is_batch = payload.split(bad)
        assert (items, is_batch) == ([bad], False)  # decoding it then names what is wrong


def test_inspect_reads_both_kinds() -> None:
    named, compact = named_payloads(1)[0], compact_payloads(1)[0]
    assert payload.inspect(named).model == "unit" and payload.inspect(named).bits == 6
    info = payload.inspect(compact)
    assert info.wire_id == 7 and info.header_bytes == 7 and info.bits == 0


def test_both_codecs_implement_the_protocol_and_hold_their_own_tables() -> None:
    uniform = UniformCodec(make_manifest())
    prior = PriorCodec(codec_manifest(np.zeros(4), np.full(4, -4), np.full((4, 8), 10, dtype=np.int64)))
    for codec in (uniform, prior):
        assert isinstance(codec, LatentCodec)
    assert uniform.tables(5) is uniform.tables(5)  # built once per instance
    assert UniformCodec(make_manifest()).tables(5) is not uniform.tables(5)  # a reload builds (and frees) its own
    assert prior.bit_depths == () and uniform.bit_depths == (2, 3, 4, 5, 6, 7, 8)
    with pytest.raises(ValueError, match="bits does not apply"):
        prior.encode(RNG.normal(size=(1, 4, 4, 4)).astype(np.float32), [(28, 28)], ["L"], 8)


def test_estimated_bits_track_the_real_size() -> None:
    codec = UniformCodec(make_manifest(channels=64))
    latents = RNG.normal(size=(4, 64)).astype(np.float32)
    est = codec.estimated_bits(latents, 8)
    real = [len(payload.unpack(p).data) * 8 for p in codec.encode(latents, [(28, 28)] * 4, ["L"] * 4, 8)]
    assert est.shape == (4,) and np.all(np.abs(est - real) < 64), (est, real)
