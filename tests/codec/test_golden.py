"""Decoding is deterministic and bit-exact: fixed digits give the recorded payload bytes and decoded pixels."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from aecodec_wire.manifest import load
from aecodec_wire.prior_codec import PriorCodec, unpack_compact

from .golden import GOLDEN, MODEL, run


@pytest.mark.skipif(not (MODEL / "manifest.json").exists(), reason="codec fixture model not exported yet")
def test_golden_payloads_and_pixels() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert run() == golden


@pytest.mark.skipif(not (MODEL / "manifest.json").exists(), reason="codec fixture model not exported yet")
def test_golden_payloads_decode_without_the_encoder() -> None:
    golden = json.loads(GOLDEN.read_text())
    codec = PriorCodec(load(MODEL))
    dec = ort.InferenceSession(str(MODEL / "decoder.onnx"), providers=["CPUExecutionProvider"])
    for hex_payload in golden["payloads"]:
        data = bytes.fromhex(hex_payload)
        code = unpack_compact(data)
        y = dec.run(None, {"latent": codec.decode(code)})[0]
        assert y.shape == (1, 1, 28, 28) and (code.width, code.height) == (28, 28)
        assert len(data) <= 64 and np.isfinite(y).all()
