"""Pins the bitstream and the decoded pixels of the shipped models (CPU provider); see regenerate.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from aecodec_wire.entropy import ChannelTables
from aecodec_wire.hyperprior import HyperpriorCodec

from .regenerate import GOLDEN, REPO, compute


def _expected() -> dict[str, dict[str, str]]:
    if not any((REPO / "models").glob("*/manifest.json")):
        pytest.skip("no shipped models under models/")
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN.name} is missing: run `python tests/golden/regenerate.py` and commit it")
    return json.loads(GOLDEN.read_text())


def test_payload_and_pixels_match_golden_files() -> None:
    expected = _expected()
    actual = compute()
    stale = sorted(k for k in expected if k in actual and expected[k]["model_version"] != actual[k]["model_version"])
    assert not stale, f"models changed since the golden files were written ({stale}); run tests/golden/regenerate.py"
    assert sorted(actual) == sorted(expected), "a model or input was added or removed: run tests/golden/regenerate.py"
    assert actual == expected


def test_golden_comparison_notices_one_changed_symbol(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pins are sharp: one latent symbol off by one changes payload and pixel hashes."""
    expected = _expected()
    real = ChannelTables._rows

    def off_by_one(self: ChannelTables, symbols: np.ndarray) -> np.ndarray:
        rows = real(self, symbols).copy()
        rows[0, 0] ^= 1  # the lowest bit of the first symbol coded (stays inside the power-of-two alphabet)
        return rows

    monkeypatch.setattr(ChannelTables, "_rows", off_by_one)
    real_y = HyperpriorCodec._y_symbols

    def y_off_by_one(self: HyperpriorCodec, *args: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        symbols, excess = real_y(self, *args)
        symbols = symbols.copy()
        symbols[0] = 1 if symbols[0] == 0 else symbols[0] - 1  # stays inside every table (two symbols or more)
        return symbols, excess

    monkeypatch.setattr(HyperpriorCodec, "_y_symbols", y_off_by_one)
    actual = compute()
    for key, pins in expected.items():
        assert actual[key]["payload_md5"] != pins["payload_md5"], key
    assert any(actual[k]["pixels_md5"] != pins["pixels_md5"] for k, pins in expected.items())
