"""Pins the bitstream and the decoded pixels of the shipped models (CPU provider); see regenerate.py."""

from __future__ import annotations

import json

import pytest

from .regenerate import GOLDEN, REPO, compute


def test_payload_and_pixels_match_golden_files() -> None:
    if not any((REPO / "models").glob("*/manifest.json")):
        pytest.skip("no shipped models under models/")
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN.name} is missing: run `python tests/golden/regenerate.py` and commit it")
    expected = json.loads(GOLDEN.read_text())
    actual = compute()
    stale = sorted(k for k in expected if k in actual and expected[k]["model_version"] != actual[k]["model_version"])
    assert not stale, f"models changed since the golden files were written ({stale}); run tests/golden/regenerate.py"
    assert actual == expected
