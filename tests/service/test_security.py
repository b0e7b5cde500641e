"""Keys and admin: admin is off unless keyed or opened, blank key lists refuse to start, probes leak nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from aecodec_service.core.config import Settings
from aecodec_service.core.negotiate import MAX_RANGES, negotiate
from pydantic import ValidationError

from .conftest import REPO, Running, serve
from .helpers import INTERNALS, png

DIGIT = png(np.full((28, 28), 7, np.uint8))
IMG = {"Content-Type": "image/png"}


def test_admin_is_off_without_admin_keys(fake_server: Running) -> None:
    with fake_server.client() as c:
        r = c.post("/admin/reload")
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert "AECODEC_ADMIN_KEYS" in r.json()["detail"]


def test_admin_key_is_its_own(fake_models: Path) -> None:
    with serve(fake_models, admin_keys=["root-key"]) as s, s.client() as c:
        assert c.post("/encode", content=DIGIT, headers=IMG).status_code == 200  # no API keys: open
        assert c.post("/admin/reload").status_code == 401
        assert c.post("/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.post("/admin/reload", headers={"Authorization": "Bearer root-key"}).status_code == 200


def test_admin_open_is_explicit(fake_models: Path) -> None:
    with serve(fake_models, admin_open=True, api_keys=["k"]) as s, s.client() as c:
        assert c.post("/admin/reload").status_code == 401  # open admin still needs what everything needs
        assert c.post("/admin/reload", headers={"Authorization": "Bearer k"}).status_code == 200


@pytest.mark.parametrize("field", ["api_keys", "admin_keys"])
@pytest.mark.parametrize("blank", [" , ", " ", ",,"])
def test_blank_key_lists_are_errors(field: str, blank: str) -> None:
    with pytest.raises(ValidationError, match="only blanks and commas"):
        Settings(**{field: blank})
    assert getattr(Settings(**{field: ""}), field) == []
    assert getattr(Settings(**{field: " a , b ,"}), field) == ["a", "b"]


def test_admin_keys_and_admin_open_together_are_an_error() -> None:
    with pytest.raises(ValidationError, match="not both"):
        Settings(admin_keys=["k"], admin_open=True)


def test_the_server_refuses_to_start_on_a_blank_key_list(tmp_path: Path) -> None:
    env = os.environ | {"AECODEC_API_KEYS": " , ", "AECODEC_MODEL_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "aecodec_service"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "aecodec-serve: AECODEC_API_KEYS: Value error, the list holds only blanks and commas; "
        "leave it empty or unset to mean none"
    ]


def test_readyz_names_failed_folders_without_internals(fake_models: Path, tmp_path: Path) -> None:
    root = tmp_path / "models"
    (root / "broken").mkdir(parents=True)
    (root / "broken" / "manifest.json").write_text("{}")
    import shutil

    shutil.copytree(fake_models / "mnist-ae", root / "mnist-ae")
    with serve(root, wait_ready=False) as s, s.client() as c:
        for _ in range(100):
            r = c.get("/readyz")
            if "loading" not in r.text:
                break
        assert r.status_code == 503 and "broken" in r.json()["detail"]
        assert not INTERNALS.search(r.text), r.text
        assert str(tmp_path) not in r.text


def test_readyz_without_any_model_folder_shows_no_path(tmp_path: Path) -> None:
    with serve(tmp_path, wait_ready=False) as s, s.client() as c:
        for _ in range(100):
            r = c.get("/readyz")
            if "loading" not in r.text:
                break
    assert r.status_code == 503 and "AECODEC_MODEL_DIR" in r.json()["detail"]
    assert str(tmp_path) not in r.text


def test_negotiation_reads_a_bounded_accept_header() -> None:
    """Only the first MAX_RANGES media ranges count, and the 406 detail quotes at most ~200 characters."""
    filler = ", ".join(f"text/x-{i}" for i in range(MAX_RANGES))
    assert negotiate("image/png, " + filler, ["image/png"]) == "image/png"
    from aecodec_service.core.errors import ApiError

    with pytest.raises(ApiError) as refused:
        negotiate(filler + ", image/png", ["image/png"])
    assert refused.value.status == 406 and len(refused.value.detail) < 400


def test_a_long_accept_header_is_not_echoed(fake_server: Running) -> None:
    with fake_server.client() as c:
        r = c.post("/encode", content=DIGIT, headers=IMG | {"Accept": "text/html;" + "x" * 6000})
    assert r.status_code == 406 and len(r.json()["detail"]) < 400


def test_compose_publishes_no_open_admin() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = compose["services"]["aecodec"]["environment"]
    assert str(env.get("AECODEC_ADMIN_OPEN", "false")).lower() == "false"
    assert "AECODEC_ADMIN_KEYS" in env  # admin is keyed (off while the key is unset)
    assert float(env["AECODEC_RELOAD_POLL_S"]) > 0  # every replica reloads itself: a request reaches only one


def test_nginx_never_retries_a_post() -> None:
    conf = (REPO / "deploy" / "nginx.conf").read_text()
    retry = re.search(r"proxy_next_upstream\s+([^;]*);", conf)
    assert retry is not None and "non_idempotent" not in retry.group(1)
    assert "large_client_header_buffers" in conf and "client_header_timeout" in conf
