"""Fixtures of the web page tests: the real service on loopback with the shipped models, with and without keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service.conftest import SHIPPED, Running, serve

API_KEY = "page-test-key"


def _need_models() -> None:
    if not any(SHIPPED.glob("*/manifest.json")):
        pytest.skip("no shipped models under models/ yet")


@pytest.fixture(scope="session")
def web_server() -> Iterator[Running]:
    _need_models()
    with serve(SHIPPED) as running:
        yield running


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[Running]:
    _need_models()
    with serve(SHIPPED, api_keys=[API_KEY]) as running:
        yield running
